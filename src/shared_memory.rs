//! Memory shared between processes (CPython's
//! `multiprocessing.shared_memory`): [`SharedMemory`], named segments any
//! process can attach to, and the resource tracker that removes the ones a
//! program created and did not unlink.
//!
//! ```no_run
//! use mp::shared_memory::SharedMemory;
//!
//! let shm = SharedMemory::create(1024).unwrap();
//! shm.write_at(0, b"hello").unwrap();
//! // Another process (a Python one too, for a name it was given):
//! let other = SharedMemory::attach(shm.name()).unwrap();
//! let mut buf = [0u8; 5];
//! other.read_at(0, &mut buf).unwrap();
//! assert_eq!(&buf, b"hello");
//! drop(other); // close()
//! shm.unlink().unwrap(); // the creator removes the name
//! ```
//!
//! The synchronization primitives ([`crate::synchronize`]), shared values
//! ([`crate::sharedctypes`]) and queues ([`crate::queues`]) do not use named
//! segments: each lives in an anonymous `memfd` mapped `MAP_SHARED`, handed
//! to a child (as part of a [`crate::Process`] argument) by passing the
//! descriptor. Nothing of theirs can leak into `/dev/shm`: the memory goes
//! with its last mapping and descriptor, SIGKILL or not. (CPython's named
//! semaphores need its tracker; `mp`'s have no names.) Each memfd is sealed
//! at its size (`F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`) before anyone
//! else can see it, and a process that receives one maps it only if it
//! carries those seals and holds the length the message claims: no holder
//! can `ftruncate` it under the others' mappings.
//!
//! # The resource tracker
//! A named segment outlives every process that maps it until someone
//! unlinks it. The first [`SharedMemory::create`] in a process starts a
//! small tracker process that holds the read end of a pipe; each segment the
//! program creates is registered with it, and [`SharedMemory::unlink`]
//! unregisters it. When the last write end closes — the program exited,
//! normally or killed with SIGKILL, and so did the children it forked — the
//! tracker unlinks whatever is still registered, says so on stderr, and
//! exits. It ignores SIGINT, SIGTERM and SIGHUP and runs in its own
//! session, so Ctrl-C or a process-group kill ends the program first and
//! the tracker cleans up after it. A forked child shares its parent's
//! tracker (as in CPython); a spawned child or one from the forkserver
//! starts its own. Only the creator registers a segment: attaching never
//! does (CPython before 3.13 registered attachers too, so a segment could
//! vanish when a reader exited). Call [`SharedMemory::unlink`] exactly once,
//! from the creator or any other process, when the segment is no longer
//! needed.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::reduction::{Fd, FdRef};

/// A shared mapping of an anonymous memfd. Cheap to clone (an `Arc`).
///
/// The memfd is sealed against shrinking and growing as soon as its size is
/// set ([`Region::new`]), and a region received from another process is
/// mapped only if its descriptor carries that seal and holds at least the
/// length the message claims ([`Region::received`]): no holder of the
/// descriptor can `ftruncate` it under another process's mapping, which
/// would make every access past the new end a SIGBUS.
#[derive(Clone)]
pub(crate) struct Region(Arc<Mapping>);

struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain shared memory that other processes change
// at any time anyway; this type hands out only raw pointers and atomics
// into it, and every access through them says why it is sound.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

/// The seals every region's memfd gets once its size is set: its size is
/// fixed for good, and the seals themselves cannot be lifted.
const SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// An error about a descriptor that cannot be mapped safely.
fn unmappable(what: String) -> Error {
    Error::io(
        "shared memory",
        std::io::Error::new(std::io::ErrorKind::InvalidData, what),
    )
}

/// The size of the file behind `fd`.
fn file_size(fd: &OwnedFd) -> Result<u64> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| Error::io("fstat", e.into()))?;
    Ok(st.st_size.max(0) as u64)
}

impl Region {
    /// A new zeroed region of `len` bytes (rounded up to a page by the
    /// kernel), its memfd sealed at that size.
    pub(crate) fn new(len: usize) -> Result<Region> {
        let len = len.max(1);
        let name = c"mp-shared";
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // SAFETY: a valid C string; flags are plain bits.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if raw < 0 {
            return Err(Error::io("memfd_create", std::io::Error::last_os_error()));
        }
        // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = libc::off_t::try_from(len)
            .map_err(|_| unmappable(format!("a region of {len} bytes is too large")))?;
        nix::unistd::ftruncate(&fd, size).map_err(|e| Error::io("ftruncate", e.into()))?;
        // SAFETY: fcntl on a descriptor we own, with an integer argument.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
            return Err(Error::io(
                "fcntl(F_ADD_SEALS)",
                std::io::Error::last_os_error(),
            ));
        }
        Region::map(fd, len)
    }

    /// A region whose descriptor came from another process, with the
    /// length its message claims: mapped only if the memfd is sealed
    /// against shrinking and really holds `len` bytes.
    pub(crate) fn received(fd: OwnedFd, len: usize) -> Result<Region> {
        // SAFETY: fcntl on a descriptor we own, with no argument.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(unmappable(
                "the descriptor is not a memfd sealed against shrinking; \
                 any holder could truncate it under the mapping"
                    .into(),
            ));
        }
        Region::checked(fd, len)
    }

    /// Maps `len` bytes of `fd` after checking (fstat) that it holds them.
    fn checked(fd: OwnedFd, len: usize) -> Result<Region> {
        let size = file_size(&fd)?;
        if size < len as u64 {
            return Err(unmappable(format!(
                "the descriptor holds {size} bytes, fewer than the {len} claimed; \
                 not mapping past its end"
            )));
        }
        Region::map(fd, len)
    }

    /// Maps `len` bytes of `fd`, which the caller knows holds them.
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

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (FdRef(self.0.fd.as_fd()), self.0.len as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (fd, len): (Fd, u64) = Deserialize::deserialize(d)?;
        let len = usize::try_from(len).map_err(de::Error::custom)?;
        Region::received(fd.into_inner(), len).map_err(de::Error::custom)
    }
}

// ---- SharedMemory ----

/// Python's `multiprocessing.shared_memory.SharedMemory`: a named block of
/// memory any process can attach to by name (a POSIX shared memory object,
/// `/dev/shm/NAME`). See the [module docs](self) for the tracker that
/// removes a segment its creator never unlinked.
///
/// Sent to a child (as part of a [`crate::Process`] argument), it travels
/// as its name and the child attaches to it, as in CPython.
///
/// # Caveats
/// A named segment cannot be sealed (only a memfd can, and CPython creates
/// its segments with `shm_open` too), so its size is fixed only by
/// agreement. [`SharedMemory::attach`] maps the size the segment has when
/// it attaches (`fstat`), never more; but a program that later shrinks it
/// (`ftruncate`, or `truncate -s` on `/dev/shm/NAME`) makes every access
/// past the new end a SIGBUS, in every process that maps it. `mp`'s own
/// shared values, locks and queues live in sealed memfds instead (see the
/// [module docs](self)).
pub struct SharedMemory {
    name: String,
    size: usize,
    region: Region,
}

/// Names `create` picks: `mp_` and 16 random hex digits (CPython's are
/// `psm_` and 8).
const NAME_PREFIX: &str = "mp_";

fn bad_input(what: String) -> Error {
    Error::io(
        "SharedMemory",
        std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
    )
}

fn check_name(name: &str) -> Result<std::ffi::CString> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.len() > 250 || bare.contains('/') || bare.contains('\0') {
        return Err(bad_input(format!(
            "bad shared memory name {name:?}: 1 to 250 characters, no '/' (but a leading one) or NUL"
        )));
    }
    Ok(std::ffi::CString::new(format!("/{bare}")).expect("checked for NUL"))
}

fn shm_open(path: &std::ffi::CStr, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: a valid C string; the result is checked.
    let fd = unsafe { libc::shm_open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn random_name() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b)
        .map_err(|e| Error::io("getrandom", std::io::Error::other(e.to_string())))?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{NAME_PREFIX}{hex}"))
}

impl SharedMemory {
    /// A new segment of `size` bytes (zeroed) with a fresh random name,
    /// registered with the resource tracker.
    pub fn create(size: usize) -> Result<SharedMemory> {
        loop {
            match SharedMemory::create_named(&random_name()?, size) {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue
                }
                r => return r,
            }
        }
    }

    /// A new segment called `name` (an error if one exists), registered
    /// with the resource tracker.
    pub fn create_named(name: &str, size: usize) -> Result<SharedMemory> {
        if size == 0 {
            return Err(bad_input(
                "size must be a positive number different from zero".into(),
            ));
        }
        let path = check_name(name)?;
        let fd = shm_open(&path, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR)
            .map_err(|e| Error::io("shm_open (create)", e))?;
        let ready = libc::off_t::try_from(size)
            .map_err(|_| bad_input(format!("size {size} is too large")))
            .and_then(|off| {
                nix::unistd::ftruncate(&fd, off).map_err(|e| Error::io("ftruncate", e.into()))
            })
            .and_then(|()| Region::checked(fd, size));
        match ready {
            Ok(region) => {
                let bare = path.to_str().expect("built from a str")[1..].to_string();
                tracker::register(&bare);
                Ok(SharedMemory {
                    name: bare,
                    size,
                    region,
                })
            }
            Err(e) => {
                // SAFETY: a valid C string.
                unsafe { libc::shm_unlink(path.as_ptr()) };
                Err(e)
            }
        }
    }

    /// Attaches to the existing segment `name` (its whole size).
    pub fn attach(name: &str) -> Result<SharedMemory> {
        let path = check_name(name)?;
        let fd = shm_open(&path, libc::O_RDWR).map_err(|e| Error::io("shm_open (attach)", e))?;
        // Mapped at the size the file has now, no more (mapping past the
        // end would make every access there a SIGBUS).
        let size = usize::try_from(file_size(&fd)?)
            .map_err(|_| bad_input(format!("shared memory {name:?} is too large to map")))?;
        if size == 0 {
            return Err(bad_input(format!("shared memory {name:?} has size 0")));
        }
        Ok(SharedMemory {
            name: path.to_str().expect("built from a str")[1..].to_string(),
            size,
            region: Region::map(fd, size)?,
        })
    }

    /// Python's `SharedMemory(name, create, size)`: `create` makes a new
    /// segment (`name: None` picks a fresh one), else attaches to `name`
    /// (`size` is then ignored, as in CPython).
    pub fn new(name: Option<&str>, create: bool, size: usize) -> Result<SharedMemory> {
        match (name, create) {
            (None, true) => SharedMemory::create(size),
            (Some(n), true) => SharedMemory::create_named(n, size),
            (Some(n), false) => SharedMemory::attach(n),
            (None, false) => Err(bad_input("'name' can only be None if create=True".into())),
        }
    }

    /// Its name, without the leading `/` (what CPython's `name` gives).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The start of the mapping. Other processes write it concurrently:
    /// synchronize (a [`crate::synchronize::Lock`]) before reading what
    /// they wrote.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// The whole segment as a slice (CPython's `buf`).
    ///
    /// # Safety
    /// No process may write the bytes while the slice is in use.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `size` bytes long and lives as long as
        // `self`; the caller vouches that nobody writes it meanwhile.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.size) }
    }

    /// The whole segment as a mutable slice.
    ///
    /// # Safety
    /// No other reference to the bytes (in this process or another) may be
    /// used while the slice is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, with exclusive use vouched by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.size) }
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(bad_input(format!(
                "range {offset}..{} is outside shared memory {:?} of {} bytes",
                offset as u128 + len as u128,
                self.name,
                self.size
            )));
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    ///
    /// Other processes may write the segment meanwhile: the copy is made of
    /// relaxed atomic byte loads, so a racing write is no data race (no
    /// undefined behaviour), and `buf` gets, byte by byte, the old or the
    /// new value. Agreeing on who writes when (a [`Lock`](crate::synchronize::Lock),
    /// a message) is the caller's business, as in Python.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        // SAFETY: in range of the mapping, which lives as long as `self`;
        // this process touches the segment's bytes only through
        // `read_at`/`write_at` (atomic byte accesses) unless a caller of the
        // unsafe `as_slice`/`as_mut_slice` vouched that nobody writes.
        unsafe {
            crate::sharedctypes::copy::load_into::<u8>(
                self.as_ptr().add(offset),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        Ok(())
    }

    /// Copies `data` into the segment at `offset`, with relaxed atomic byte
    /// stores (see [`read_at`](Self::read_at)).
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_range(offset, data.len())?;
        // SAFETY: as in `read_at`.
        unsafe {
            crate::sharedctypes::copy::store_from::<u8>(
                data.as_ptr(),
                self.as_ptr().add(offset),
                data.len(),
            )
        };
        Ok(())
    }

    /// Python's `close()`: unmaps it in this process (dropping does the
    /// same). The segment lives on until unlinked.
    pub fn close(self) {}

    /// Python's `unlink()`: removes the name (processes that have it
    /// mapped keep their mapping), and tells the tracker. Call it once, in
    /// one process.
    pub fn unlink(&self) -> Result<()> {
        let path = check_name(&self.name)?;
        // SAFETY: a valid C string.
        let r = unsafe { libc::shm_unlink(path.as_ptr()) };
        tracker::unregister(&self.name);
        if r != 0 {
            return Err(Error::io("shm_unlink", std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedMemory({:?}, size={})", self.name, self.size)
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.name.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        SharedMemory::attach(&name).map_err(de::Error::custom)
    }
}

/// The resource tracker: a child process holding the read end of a pipe.
mod tracker {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Mutex;

    /// The write end, once started (inherited by forked children).
    static WRITER: Mutex<Option<OwnedFd>> = Mutex::new(None);

    pub(super) fn register(name: &str) {
        send(b'R', name);
    }

    pub(super) fn unregister(name: &str) {
        send(b'U', name);
    }

    fn send(op: u8, name: &str) {
        let mut w = WRITER.lock().unwrap_or_else(|e| e.into_inner());
        if w.is_none() {
            match start() {
                Ok(fd) => *w = Some(fd),
                Err(e) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "mp: could not start the shared memory tracker ({e}); \
                         segments left behind will not be removed"
                    );
                    return;
                }
            }
        }
        let fd = w.as_ref().expect("just set");
        // One write of at most ~260 bytes: atomic on a pipe.
        let line = format!("{} {name}\n", op as char);
        let _ = nix::unistd::write(fd, line.as_bytes());
    }

    fn start() -> std::io::Result<OwnedFd> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // SAFETY: the child only calls async-signal-safe functions and
        // glibc's malloc (which is fork-safe) before it exits with _exit.
        match unsafe { libc::fork() } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                drop(w);
                serve(r.as_raw_fd())
            }
            _ => Ok(w),
        }
    }

    /// The tracker's life (in the forked child): read registrations until
    /// end of file, unlink what is left, exit.
    fn serve(fd: i32) -> ! {
        // SAFETY: plain system calls on descriptors this process owns.
        unsafe {
            libc::setsid();
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
                libc::signal(sig, libc::SIG_IGN);
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 0);
                libc::dup2(null, 1);
            }
            libc::dup2(fd, 3);
            libc::close_range(4, u32::MAX, 0);
        }
        // SAFETY: fd 3 was just made a copy of the read end.
        let input = unsafe { OwnedFd::from_raw_fd(3) };
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(input.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
            while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                let line = &line[..line.len() - 1];
                match line.split_first() {
                    Some((b'R', rest)) if rest.first() == Some(&b' ') => {
                        names.push(rest[1..].to_vec())
                    }
                    Some((b'U', rest)) if rest.first() == Some(&b' ') => {
                        if let Some(j) = names.iter().position(|n| n[..] == rest[1..]) {
                            names.swap_remove(j);
                        }
                    }
                    _ => {} // not ours: ignored
                }
            }
        }
        for name in &names {
            let mut path = b"/".to_vec();
            path.extend_from_slice(name);
            path.push(0);
            // SAFETY: a NUL-terminated path.
            let gone = unsafe { libc::shm_unlink(path.as_ptr().cast()) } == 0;
            if gone {
                let mut msg = b"mp resource tracker: removed shared memory segment ".to_vec();
                msg.extend_from_slice(name);
                msg.extend_from_slice(b" that its program did not unlink\n");
                // SAFETY: writes a buffer to stderr.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            }
        }
        // SAFETY: ends the tracker without running the parent's exit handlers.
        unsafe { libc::_exit(0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduction::{collect_fds, with_fds};

    /// Encodes `value` as for a child and decodes it as a `D`, the
    /// descriptors going through the tables as they do between processes.
    fn send_as<D: serde::de::DeserializeOwned>(value: &impl Serialize) -> Result<D> {
        let (bytes, fds) = collect_fds(|| postcard::to_allocvec(value));
        let bytes = bytes.map_err(|e| Error::Encode(crate::CodecError::from_err(e)))?;
        with_fds(fds, || postcard::from_bytes(&bytes))
            .map_err(|e| Error::Decode(crate::CodecError::from_err(e)))
    }

    fn ftruncate_errno(fd: &OwnedFd, len: libc::off_t) -> Option<nix::errno::Errno> {
        nix::unistd::ftruncate(fd, len).err()
    }

    #[test]
    fn own_region_cannot_be_resized() {
        let r = Region::new(4096).unwrap();
        let fd = &r.0.fd;
        assert_eq!(ftruncate_errno(fd, 0), Some(nix::errno::Errno::EPERM));
        assert_eq!(ftruncate_errno(fd, 1 << 20), Some(nix::errno::Errno::EPERM));
        // SAFETY: fcntl on a descriptor the region owns, with an integer argument.
        let unseal = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_WRITE) };
        assert_eq!(unseal, -1, "F_SEAL_SEAL keeps the seals as they are");
        r.word(4092).store(7, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.word(4092).load(std::sync::atomic::Ordering::Relaxed), 7);
    }

    #[test]
    fn received_region_cannot_be_resized() {
        let mine = Region::new(100).unwrap();
        mine.word(0).store(42, std::sync::atomic::Ordering::Relaxed);
        let got: Region = send_as(&mine).unwrap();
        assert_eq!(got.len(), 100);
        assert_eq!(got.word(0).load(std::sync::atomic::Ordering::Relaxed), 42);
        assert_eq!(
            ftruncate_errno(&got.0.fd, 0),
            Some(nix::errno::Errno::EPERM)
        );
    }

    #[test]
    fn claimed_length_beyond_the_descriptor_is_refused() {
        let mine = Region::new(4096).unwrap();
        let claim = (FdRef(mine.0.fd.as_fd()), 1u64 << 20);
        assert!(send_as::<Region>(&claim).is_err(), "a length past the end");
        // (postcard drops a custom error's text; here is what it says.)
        let fd = mine.0.fd.try_clone().unwrap();
        let msg = Region::received(fd, 4097)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            msg.contains("holds 4096 bytes, fewer than the 4097"),
            "{msg}"
        );
        // The claimed length it really holds is fine.
        let claim = (FdRef(mine.0.fd.as_fd()), 4096u64);
        assert_eq!(send_as::<Region>(&claim).unwrap().len(), 4096);
    }

    #[test]
    fn unsealed_descriptor_is_refused() {
        // SAFETY: a valid C string; the result is checked.
        let raw = unsafe { libc::memfd_create(c"mp-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(raw >= 0);
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        nix::unistd::ftruncate(&fd, 4096).unwrap();
        let msg = Region::received(fd, 4096)
            .err()
            .expect("refused")
            .to_string();
        assert!(msg.contains("not a memfd sealed"), "{msg}");
    }
}
