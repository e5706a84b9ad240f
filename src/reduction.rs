//! Passing file descriptors to child processes inside serde arguments.
//!
//! CPython pickles a `Connection` given as a `Process` argument by duplicating
//! its file descriptor into the child (`multiprocessing.reduction.DupFd`). `mp`
//! does the same: while [`crate::Process::start`] encodes the arguments, every
//! [`Fd`] (and every [`crate::Connection`], which holds one) is duplicated into a
//! side table and only its index is written into the bytes. The table travels
//! with the arguments (inherited under fork, `SCM_RIGHTS` under spawn and
//! forkserver) and the child's decoder takes each descriptor back by index.
//!
//! Outside `Process::start`, encoding an [`Fd`] is an error: a descriptor
//! number means nothing to another process unless the descriptor is sent.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static OUTGOING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    static INCOMING: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// A file descriptor that can be handed to a child process as (part of) a
/// `Process` argument. The child receives its own duplicate.
#[derive(Debug)]
pub struct Fd(pub OwnedFd);

impl Fd {
    /// Wraps an owned descriptor.
    pub fn new(fd: OwnedFd) -> Self {
        Fd(fd)
    }
    /// Gives the descriptor back.
    pub fn into_inner(self) -> OwnedFd {
        self.0
    }
}

impl AsFd for Fd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Registers a duplicate of `fd` in the current outgoing table and returns its index.
pub(crate) fn export_fd(fd: BorrowedFd<'_>) -> Result<u32, String> {
    OUTGOING.with(|cell| {
        let mut slot = cell.borrow_mut();
        let table = slot.as_mut().ok_or_else(|| {
            "a file descriptor (Fd or Connection) can only be sent as an argument of \
             Process::start"
                .to_string()
        })?;
        let dup = fd
            .try_clone_to_owned()
            .map_err(|e| format!("could not duplicate fd {}: {e}", fd.as_raw_fd()))?;
        table.push(dup);
        Ok((table.len() - 1) as u32)
    })
}

/// Takes descriptor `index` out of the current incoming table.
pub(crate) fn import_fd(index: u32) -> Result<OwnedFd, String> {
    INCOMING.with(|cell| {
        let mut slot = cell.borrow_mut();
        let table = slot.as_mut().ok_or_else(|| {
            "a file descriptor can only be received by a child process".to_string()
        })?;
        table
            .get_mut(index as usize)
            .and_then(Option::take)
            .ok_or_else(|| format!("file descriptor #{index} was not sent or was taken twice"))
    })
}

/// Whether this thread is encoding for another process of this program
/// (a `Process` or pool argument): values that must not leave the program,
/// such as a manager proxy's authkey, may go along.
pub(crate) fn encoding_for_child() -> bool {
    OUTGOING.with(|c| c.borrow().is_some())
}

/// Whether this thread is decoding what [`encoding_for_child`] encoded.
pub(crate) fn decoding_from_parent() -> bool {
    INCOMING.with(|c| c.borrow().is_some())
}

/// Runs `f` (which encodes something) with an outgoing table, and returns the
/// descriptors it registered.
pub(crate) fn collect_fds<R>(f: impl FnOnce() -> R) -> (R, Vec<OwnedFd>) {
    let previous = OUTGOING.with(|c| c.replace(Some(Vec::new())));
    let r = f();
    let fds = OUTGOING.with(|c| c.replace(previous)).unwrap_or_default();
    (r, fds)
}

/// Runs `f` (which decodes something) with `fds` as the incoming table.
/// Descriptors `f` does not take are closed.
pub(crate) fn with_fds<R>(fds: Vec<OwnedFd>, f: impl FnOnce() -> R) -> R {
    let table = fds.into_iter().map(Some).collect();
    let previous = INCOMING.with(|c| c.replace(Some(table)));
    let r = f();
    INCOMING.with(|c| c.replace(previous));
    r
}

impl Serialize for Fd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FdRef(self.0.as_fd()).serialize(s)
    }
}

/// A borrowed descriptor that serializes as an [`Fd`] does (a duplicate
/// goes into the outgoing table), for types that keep their descriptor.
pub(crate) struct FdRef<'a>(pub BorrowedFd<'a>);

impl Serialize for FdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = export_fd(self.0)
            .map_err(|e| ser::Error::custom(crate::connection::codec::custom_error(e)))?;
        s.serialize_newtype_struct("mp::Fd", &index)
    }
}

impl<'de> Deserialize<'de> for Fd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "mp::Fd")]
        struct Index(u32);
        let Index(i) = Index::deserialize(d)?;
        import_fd(i)
            .map(Fd)
            .map_err(|e| de::Error::custom(crate::connection::codec::custom_error(e)))
    }
}

/// Descriptors that an already-encoded value refers to by index (what
/// [`collect_fds`] gave for it), carried next to its bytes: encoding the
/// table sends a duplicate of each, in order, so the value's indices stay
/// right when it is decoded under [`with_fds`] with the received table.
#[derive(Default)]
pub(crate) struct FdTable(pub Vec<OwnedFd>);

impl Serialize for FdTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for fd in &self.0 {
            seq.serialize_element(&FdRef(fd.as_fd()))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for FdTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fds: Vec<Fd> = Deserialize::deserialize(d)?;
        Ok(FdTable(fds.into_iter().map(Fd::into_inner).collect()))
    }
}

/// Builds an `OwnedFd` from a raw number received from the kernel.
///
/// # Safety
/// `raw` must be an open descriptor that nothing else owns.
pub(crate) unsafe fn owned(raw: RawFd) -> OwnedFd {
    // SAFETY: the caller guarantees `raw` is open and unowned.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_round_trips_through_tables() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let (bytes, fds) = collect_fds(|| postcard::to_allocvec(&(7u8, Fd(r))).unwrap());
        assert_eq!(fds.len(), 1);
        let (n, fd): (u8, Fd) = with_fds(fds, || postcard::from_bytes(&bytes).unwrap());
        assert_eq!(n, 7);
        assert!(fd.as_raw_fd() >= 0);
    }

    #[test]
    fn fd_outside_start_is_an_error() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let err = postcard::to_allocvec(&Fd(r)).unwrap_err().to_string();
        assert!(!err.is_empty());
    }
}
