//! The one seam where objects become bytes.
//!
//! Rust-to-Rust connections use postcard, a compact serde format. The CPython
//! wire-compatibility work adds a pickle codec here; nothing else in the crate
//! knows which encoding a connection speaks. The pool's task and result
//! payloads, which never leave this executable, use a fixed-width format of
//! our own (`fixed`) through `encode_payload` and `decode_payload`.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{CodecError, Error, Result};

/// How a [`super::Connection`] turns objects into message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Codec {
    /// postcard: compact, fast, Rust-to-Rust only.
    #[default]
    Postcard,
    /// pickle protocol 4, what CPython's `Connection.send`/`recv` speak
    /// (see [`crate::pickle`]): the codec of [`super::Listener`] and
    /// [`super::client`] connections. Rust values map to natural Python
    /// ones (structs ↔ dicts, `Vec` ↔ lists, tuples, `Option` ↔ `None`);
    /// [`super::Connection::recv_value`] takes whatever comes.
    Pickle,
}

impl Codec {
    /// Encodes `value` as one message.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>> {
        match self {
            Codec::Postcard => postcard::to_allocvec(value).map_err(|e| Error::Encode(explain(e))),
            Codec::Pickle => {
                crate::pickle::to_vec(value).map_err(|e| Error::Encode(CodecError::from_err(e)))
            }
        }
    }

    /// Appends the encoding of `value` to `out` (no allocation once `out` has grown).
    pub fn encode_into<T: Serialize + ?Sized>(self, value: &T, out: Vec<u8>) -> Result<Vec<u8>> {
        match self {
            Codec::Postcard => {
                postcard::to_extend(value, out).map_err(|e| Error::Encode(explain(e)))
            }
            Codec::Pickle => {
                let mut out = out;
                out.extend(
                    crate::pickle::to_vec(value)
                        .map_err(|e| Error::Encode(CodecError::from_err(e)))?,
                );
                Ok(out)
            }
        }
    }

    /// Decodes one message as a `T`.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T> {
        match self {
            Codec::Postcard => postcard::from_bytes(bytes).map_err(|e| Error::Decode(explain(e))),
            Codec::Pickle => {
                crate::pickle::from_slice(bytes).map_err(|e| Error::Decode(CodecError::from_err(e)))
            }
        }
    }
}

/// Encodes the pool's own task and result payloads in [`super::fixed`], our
/// fixed-width little-endian serde format. Both ends are this same executable,
/// so speed matters more than size: postcard's varints made a `Vec<u64>` about
/// ten times slower to encode, and bincode, which encodes the same way, is no
/// longer maintained.
pub(crate) fn encode_payload<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    super::fixed::to_vec(value).map_err(|e| Error::Encode(explain_fixed(e)))
}

/// Decodes what [`encode_payload`] made; the value must take all of `bytes`.
pub(crate) fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    super::fixed::from_slice(bytes).map_err(|e| Error::Decode(explain_fixed(e)))
}

fn explain_fixed(e: super::fixed::Error) -> CodecError {
    match LAST_CUSTOM.with(|c| c.take()) {
        Some(text) => CodecError::explained(text, e),
        None => CodecError::from_err(e),
    }
}

/// postcard drops the text of custom serde errors; `mp`'s own custom errors
/// (fd passing) leave their text in a thread-local so the user sees it. The
/// payload format keeps the text itself; taking it here as well clears the
/// thread-local, so it never leaks into a later, unrelated error.
fn explain(e: postcard::Error) -> CodecError {
    match LAST_CUSTOM.with(|c| c.take()) {
        Some(text) => CodecError::explained(text, e),
        None => CodecError::from_err(e),
    }
}

thread_local! {
    static LAST_CUSTOM: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Records the text of a custom serde error before returning it.
pub(crate) fn custom_error(text: String) -> String {
    LAST_CUSTOM.with(|c| *c.borrow_mut() = Some(text.clone()));
    text
}
