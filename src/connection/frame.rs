//! CPython's frame header (wire spec §1.2).
//!
//! A length that fits in a signed 32-bit integer is sent as 4 big-endian
//! bytes; a longer one as `FF FF FF FF` followed by the length as an unsigned
//! 64-bit big-endian integer. CPython silently reads any other negative
//! length as an empty message; `mp` refuses it as a protocol error.

use crate::error::{Error, Result};

/// The longest header: the `-1` marker plus an 8-byte length.
pub const HEADER_MAX: usize = 12;

/// Writes the header for a payload of `len` bytes into `out`; returns its size (4 or 12).
pub fn encode_header(len: u64, out: &mut [u8; HEADER_MAX]) -> usize {
    if len <= i32::MAX as u64 {
        out[..4].copy_from_slice(&(len as i32).to_be_bytes());
        4
    } else {
        out[..4].copy_from_slice(&(-1i32).to_be_bytes());
        out[4..12].copy_from_slice(&len.to_be_bytes());
        12
    }
}

/// Parses a header from the start of `buf`: `Ok(None)` if more bytes are
/// needed, else the payload length and the header size.
pub fn decode_header(buf: &[u8]) -> Result<Option<(u64, usize)>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let first = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    match first {
        n if n >= 0 => Ok(Some((n as u64, 4))),
        -1 => {
            if buf.len() < 12 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[4..12]);
            let len = u64::from_be_bytes(b);
            if len > i64::MAX as u64 {
                return Err(Error::BadLength(len as i64));
            }
            Ok(Some((len, 12)))
        }
        n => Err(Error::BadLength(n as i64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lengths_use_four_bytes() {
        let mut h = [0u8; HEADER_MAX];
        assert_eq!(encode_header(0, &mut h), 4);
        assert_eq!(&h[..4], &[0, 0, 0, 0]);
        assert_eq!(encode_header(5, &mut h), 4);
        assert_eq!(&h[..4], &[0, 0, 0, 5]);
        assert_eq!(encode_header(0x7fff_ffff, &mut h), 4);
        assert_eq!(&h[..4], &[0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(decode_header(&h[..4]).unwrap(), Some((0x7fff_ffff, 4)));
    }

    #[test]
    fn large_lengths_use_twelve_bytes() {
        let mut h = [0u8; HEADER_MAX];
        assert_eq!(encode_header(0x8000_0000, &mut h), 12);
        assert_eq!(h, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]);
        assert_eq!(decode_header(&h).unwrap(), Some((0x8000_0000, 12)));
        assert_eq!(decode_header(&h[..8]).unwrap(), None);
    }

    #[test]
    fn other_negative_lengths_are_refused() {
        assert!(matches!(
            decode_header(&[0xff, 0xff, 0xff, 0xfe]),
            Err(Error::BadLength(-2))
        ));
        assert!(matches!(
            decode_header(&[0x80, 0, 0, 0]),
            Err(Error::BadLength(_))
        ));
    }

    #[test]
    fn short_input_needs_more() {
        assert_eq!(decode_header(&[0, 0]).unwrap(), None);
    }
}
