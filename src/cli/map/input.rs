//! Reading records: bytes split at a delimiter, never decoded.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

/// The escapes `-d` and `--colsep` both understand: `\t`, `\n`, `\r`, `\0`
/// and `\\`; any other byte (or backslash) stands for itself.
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            let e = match s[i + 1] {
                b't' => Some(b'\t'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b'0' => Some(b'\0'),
                b'\\' => Some(b'\\'),
                _ => None,
            };
            if let Some(b) = e {
                out.push(b);
                i += 2;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// How long [`Records::ready`] waits for more input (milliseconds).
const READY_WAIT_MS: libc::c_int = 10;

/// How reading the input ended, shared with the thread that reads it.
#[derive(Clone, Default)]
pub struct InputStatus(Arc<Mutex<Option<String>>>);

impl InputStatus {
    fn fail(&self, e: &std::io::Error) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(|| e.to_string());
    }

    /// The read error, if reading failed.
    pub fn error(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Splits input into records, lazily.
pub struct Records {
    pub reader: BufReader<Box<dyn Read + Send>>,
    /// The descriptor under `reader`, to tell whether a read would wait.
    pub fd: Option<RawFd>,
    pub delim: u8,
    pub status: InputStatus,
}

impl Records {
    /// Reads `input` (buffered) whose descriptor is `fd`.
    pub fn new(input: Box<dyn Read + Send>, fd: Option<RawFd>, delim: u8) -> Records {
        // A regular file never makes a read wait: no need to ask.
        let fd = fd.filter(|&fd| {
            // SAFETY: fstat fills a zeroed stat for a descriptor we read from.
            let (r, st) = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                (libc::fstat(fd, &mut st), st)
            };
            r != 0 || (st.st_mode & libc::S_IFMT) != libc::S_IFREG
        });
        Records {
            reader: BufReader::with_capacity(1 << 16, input),
            fd,
            delim,
            status: InputStatus::default(),
        }
    }

    /// Whether more input is there: buffered, or readable within
    /// [`READY_WAIT_MS`] (or at its end). A block of records is sent off
    /// rather than held for input that has not come (`tail -f`); the short
    /// wait keeps blocks whole when a fast producer is just behind us.
    pub fn ready(&self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let Some(fd) = self.fd else {
            return true;
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, READY_WAIT_MS) };
        n != 0
    }

    /// The next record without its delimiter (nor a \r before a \n).
    pub fn next_bytes(&mut self) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            match self.reader.read_until(self.delim, &mut buf) {
                Ok(0) if buf.is_empty() => return None,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(&e);
                    return None;
                }
            }
        }
        if buf.last() == Some(&self.delim) {
            buf.pop();
        }
        if self.delim == b'\n' && buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Some(buf)
    }

    /// Records a read error (reading ends).
    pub fn fail(&self, e: &std::io::Error) {
        self.status.fail(e);
    }
}

impl Iterator for Records {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        self.next_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(br"\t"), b"\t");
        assert_eq!(unescape(br"a\nb\0\\\r"), b"a\nb\0\\\r");
        assert_eq!(unescape(br"\x"), br"\x");
        assert_eq!(unescape(br"\"), br"\");
        assert_eq!(unescape(b"\xff,"), b"\xff,");
    }

    #[test]
    fn records_are_bytes() {
        let mut r = Records::new(
            Box::new(std::io::Cursor::new(b"caf\xe9\r\n\xff\nlast".to_vec())),
            None,
            b'\n',
        );
        assert!(r.ready());
        assert_eq!(r.next().unwrap(), b"caf\xe9");
        assert_eq!(r.next().unwrap(), b"\xff");
        assert_eq!(r.next().unwrap(), b"last");
        assert!(r.next().is_none());
        assert!(r.status.error().is_none());
    }
}
