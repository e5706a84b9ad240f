//! Memory shared between processes.
//!
//! The synchronization primitives ([`crate::synchronize`]) and shared values
//! ([`crate::sharedctypes`]) each live in a small region: an anonymous
//! `memfd` mapped `MAP_SHARED`. Handing one to a child as (part of) a
//! [`crate::Process`] argument passes the descriptor (see
//! [`crate::reduction`]) and the child maps the same pages. That works alike
//! under fork, spawn and forkserver, and nothing is left behind in
//! `/dev/shm` when a process dies: the memory goes with its last mapping and
//! descriptor. (Named segments, CPython's `SharedMemory`, are not here yet.)

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::reduction::Fd;

/// A shared mapping of an anonymous memfd. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub(crate) struct Region(Arc<Mapping>);

struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain shared memory; all access to it goes through
// atomics (or is the caller's responsibility under a lock).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Region {
    /// A new zeroed region of `len` bytes (rounded up to a page by the kernel).
    pub(crate) fn new(len: usize) -> Result<Region> {
        let name = c"mp-shared";
        // SAFETY: a valid C string; flags are plain bits.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Error::io("memfd_create", std::io::Error::last_os_error()));
        }
        // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        nix::unistd::ftruncate(&fd, len.max(1) as libc::off_t)
            .map_err(|e| Error::io("ftruncate", e.into()))?;
        Region::map(fd, len.max(1))
    }

    fn map(fd: OwnedFd, len: usize) -> Result<Region> {
        // SAFETY: mapping a descriptor we own, with no fixed address; the
        // result is checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::io("mmap", std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p.cast::<u8>()).expect("mmap does not return null on success");
        Ok(Region(Arc::new(Mapping { ptr, len, fd })))
    }

    /// The 32-bit word at byte `offset` (a multiple of 4, inside the region).
    pub(crate) fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= self.0.len,
            "word {offset} out of range"
        );
        // SAFETY: in range and aligned (the mapping is page-aligned); the
        // memory lives as long as `self`, and is only accessed atomically.
        unsafe { &*self.0.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The 64-bit word at byte `offset` (a multiple of 8, inside the region).
    pub(crate) fn word64(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset % 8 == 0 && offset + 8 <= self.0.len,
            "word64 {offset} out of range"
        );
        // SAFETY: as in `word`.
        unsafe { &*self.0.ptr.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    /// The region's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len
    }

    /// The region's start.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.0.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped; no reference into it
        // outlives the last `Region` clone.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Serializes a borrowed descriptor the way [`Fd`] does.
struct FdRef<'a>(BorrowedFd<'a>);

impl Serialize for FdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let index = crate::reduction::export_fd(self.0)
            .map_err(|e| ser::Error::custom(crate::connection::codec::custom_error(e)))?;
        s.serialize_newtype_struct("mp::Fd", &index)
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (FdRef(self.0.fd.as_fd()), self.0.len as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (fd, len): (Fd, u64) = Deserialize::deserialize(d)?;
        Region::map(fd.into_inner(), len as usize).map_err(de::Error::custom)
    }
}
