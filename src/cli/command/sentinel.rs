//! The sentinel: what ends the running commands when the process that runs
//! them (`mp map`, `mp worker`) is killed outright.
//!
//! Per-record commands are started by pool workers with `posix_spawn`,
//! which has no death signal, and each leads its own process group. When
//! `mp map` is SIGKILLed (or the OOM killer takes it), its workers die with
//! it (they watch it), and the commands they were running are re-parented
//! to init with nobody left to end them; the subreaper (see `reaper`) is
//! gone too. A `kill -9 %1` from a shell does the same to the whole job.
//!
//! So the process that owns the pool forks one small process per run, the
//! *sentinel*, before the pool starts. It lives in a process group of its
//! own (a signal to the job's group does not reach it), ignores the
//! terminal's signals, holds no descriptor, and waits on its owner's pidfd
//! (where there are no pidfds, it looks at its parent ten times a second).
//! When the owner dies it SIGKILLs every process group recorded in the
//! *table*, pauses, and does so again for what was recorded meanwhile,
//! until several passes in a row find nothing new; then it exits.
//!
//! # The table
//!
//! A `MAP_SHARED` mapping of a memfd, created with the sentinel: the pool
//! workers get the memfd with their initializer's argument
//! ([`WorkerSetup`](super::WorkerSetup): under every start method, the
//! descriptor travels as `mp::reduction::Fd`) and map it too. It holds one
//! entry per worker slot: a worker stores the pgid of the command it runs
//! right after `posix_spawn` returns and clears it after reaping the
//! command. That is a store to shared memory, no system call: the
//! per-record hot path costs nothing more. A second part holds the groups
//! the subreaper is ending (commands whose worker died, and what a finished
//! command left behind that ignored SIGTERM), so those too are ended when
//! the owner dies while it ends them; the subreaper also clears a dead
//! worker's entry once the group it names is gone.
//!
//! # The end of a run
//!
//! On the way out ([`super::end_orphans`]) the owner kills and reaps the
//! sentinel, unless a group is still recorded (a command that could not be
//! ended): then the sentinel stays armed and ends it when the owner has
//! exited.
//!
//! # Caveats (the residual windows)
//! - A command started but not yet recorded: between `posix_spawn`
//!   returning and the store (a few instructions plus the `pidfd_open`
//!   call), a worker killed at that moment leaves its command unrecorded.
//!   The command runs from its `exec` on, so on a loaded machine, where
//!   the worker may wait a while for a CPU after `posix_spawn` returns,
//!   the command may be well under way (the tests saw one write a file)
//!   before it is recorded. The workers die when the owner dies, so this
//!   needs the owner to die in that window.
//! - Leftovers of a finished command that ignore SIGTERM are recorded once
//!   the subreaper sees them (it looks every 100 ms); before that, they
//!   are not.
//! - A group id is a pid: entries are cleared when the leader is reaped, so
//!   the sentinel signals a number that no longer names a group only when
//!   the pid space wrapped around in the instant between the reaping and
//!   the clearing, as for `mp::process_group`'s watchdog.
//! - A SIGKILL to the sentinel itself disarms it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Worker slots the table has room for: the most workers `mp map -j` and
/// `mp worker -j` allow.
pub const SLOTS: usize = 65_536;
/// Groups being ended by the subreaper that the table has room for.
const HELD: usize = 1024;
/// Entry 0: one past the highest worker slot in use (the sentinel looks
/// only at those).
const USED: usize = 0;
const FIRST_SLOT: usize = 1;
const FIRST_HELD: usize = FIRST_SLOT + SLOTS;
const LEN: usize = FIRST_HELD + HELD;
const BYTES: usize = LEN * std::mem::size_of::<AtomicI32>();

/// How long the sentinel pauses between passes over the table.
const PASS_EVERY: Duration = Duration::from_millis(20);
/// Passes in a row that must find nothing new before the sentinel exits
/// (100 ms: a worker that ran on for a moment after its owner died has
/// time to record what it started).
const QUIET_PASSES: u32 = 5;

/// The sentinel's process name (`comm`, for `ps` and the tests), and its
/// table's memfd's.
const NAME: &std::ffi::CStr = c"mp-sentinel";

/// The table, mapped in this process (null: no table here).
static TABLE: AtomicPtr<AtomicI32> = AtomicPtr::new(ptr::null_mut());
/// The sentinel's pid, while it runs (0: none).
static SENTINEL: AtomicI32 = AtomicI32::new(0);
/// The table's memfd, in the owner (for the workers' initializer).
static MEMFD: Mutex<Option<OwnedFd>> = Mutex::new(None);

fn entry(i: usize) -> Option<&'static AtomicI32> {
    let p = TABLE.load(Ordering::Acquire);
    if p.is_null() || i >= LEN {
        return None;
    }
    // SAFETY: `p` maps LEN entries for the life of the process (never
    // unmapped), and i < LEN.
    Some(unsafe { &*p.add(i) })
}

/// Maps the table (MAP_SHARED) from `fd`; the mapping stays for the life
/// of the process.
fn map(fd: BorrowedFd<'_>) -> io::Result<*mut AtomicI32> {
    // SAFETY: a new shared mapping of BYTES from a descriptor at least
    // that long; nothing else is touched.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// The sentinel's pid, while it runs.
pub(super) fn pid() -> Option<i32> {
    Some(SENTINEL.load(Ordering::SeqCst)).filter(|&p| p > 0)
}

/// Creates the table and forks the sentinel (see the module docs). Once
/// per process; later calls do nothing.
pub(super) fn start(spill: Option<&std::path::Path>) -> io::Result<()> {
    let mut memfd_slot = MEMFD.lock().unwrap_or_else(|e| e.into_inner());
    if memfd_slot.is_some() {
        return Ok(());
    }
    // Made before the fork: the child does not allocate.
    let spill = spill
        .map(|p| std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())))
        .transpose()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let spill_ptr = spill.as_ref().map_or(ptr::null(), |c| c.as_ptr());
    // SAFETY: a C string name and flags; a new descriptor or -1.
    let raw = unsafe { libc::memfd_create(NAME.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ftruncate on our own descriptor.
    if unsafe { libc::ftruncate(memfd.as_raw_fd(), BYTES as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let table = map(std::os::fd::AsFd::as_fd(&memfd))?;
    TABLE.store(table, Ordering::Release);
    // What the sentinel has killed, entry by entry: its own copy after the
    // fork (zeroed pages, untouched here).
    let mut killed = vec![0i32; LEN];
    let killed_ptr = killed.as_mut_ptr();
    let owner = std::process::id() as libc::pid_t;
    // SAFETY: the child runs only `sentinel`, which makes async-signal-safe
    // system calls, touches only the table and its own copy of `killed`,
    // and never returns to Rust code of the parent's.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        // SAFETY: we are the freshly forked child; `table` maps LEN entries
        // and `killed_ptr` points to LEN of our own.
        0 => unsafe { sentinel(owner, table, killed_ptr, spill_ptr) },
        child => {
            drop(killed);
            drop(spill);
            // Also set in the child: whichever runs first, the group is
            // its own before anyone relies on it.
            // SAFETY: setpgid on our own child, not yet exec'd.
            unsafe { libc::setpgid(child, child) };
            SENTINEL.store(child, Ordering::SeqCst);
            *memfd_slot = Some(memfd);
            log::debug!("sentinel {child} watches this process");
            Ok(())
        }
    }
}

/// A duplicate of the table's memfd for the pool workers (None: no
/// sentinel in this process).
pub(super) fn table_fd() -> Option<OwnedFd> {
    let slot = MEMFD.lock().unwrap_or_else(|e| e.into_inner());
    slot.as_ref().and_then(|fd| fd.try_clone().ok())
}

/// In a pool worker: maps the table from `fd` and claims this worker's
/// slot, so [`record`] stores there.
pub(super) fn attach(fd: OwnedFd, slot: usize) -> io::Result<()> {
    if slot >= SLOTS {
        return Err(io::Error::other(format!(
            "worker slot {slot} is beyond the sentinel's {SLOTS}"
        )));
    }
    if TABLE.load(Ordering::Acquire).is_null() {
        TABLE.store(map(std::os::fd::AsFd::as_fd(&fd))?, Ordering::Release);
    }
    // The descriptor is not needed once mapped.
    drop(fd);
    if let Some(used) = entry(USED) {
        used.fetch_max(slot as i32 + 1, Ordering::SeqCst);
    }
    Ok(())
}

/// Records `pgid` as the group running in worker slot `slot` (0: none).
/// One store to shared memory; nothing when there is no table.
pub(super) fn record(slot: Option<usize>, pgid: i32) {
    if let Some(e) = slot
        .filter(|&s| s < SLOTS)
        .and_then(|s| entry(FIRST_SLOT + s))
    {
        e.store(pgid, Ordering::SeqCst);
    }
}

/// The subreaper's record: `groups` are the orphaned groups it is ending
/// now (at most [`HELD`] are kept), and `gone` those it saw end, which
/// no worker slot may name any longer (a slot of a worker that died
/// mid-command keeps its group until then).
pub(super) fn record_held(groups: &[i32], gone: &[i32]) {
    if TABLE.load(Ordering::Acquire).is_null() {
        return;
    }
    for i in 0..HELD {
        if let Some(e) = entry(FIRST_HELD + i) {
            e.store(groups.get(i).copied().unwrap_or(0), Ordering::SeqCst);
        }
    }
    if gone.is_empty() {
        return;
    }
    let used = entry(USED).map_or(0, |u| u.load(Ordering::SeqCst).clamp(0, SLOTS as i32));
    for s in 0..used as usize {
        if let Some(e) = entry(FIRST_SLOT + s) {
            let g = e.load(Ordering::SeqCst);
            if g != 0 && gone.contains(&g) {
                // Only if it still names that group: a new worker in the
                // slot may have stored its own meanwhile.
                let _ = e.compare_exchange(g, 0, Ordering::SeqCst, Ordering::SeqCst);
            }
        }
    }
}

/// Whether any group is recorded in the table.
fn anything_recorded() -> bool {
    let used = entry(USED).map_or(0, |u| u.load(Ordering::SeqCst).clamp(0, SLOTS as i32));
    (0..used as usize)
        .map(|s| FIRST_SLOT + s)
        .chain(FIRST_HELD..LEN)
        .any(|i| entry(i).is_some_and(|e| e.load(Ordering::SeqCst) > 1))
}

/// At the end of a run: kills and reaps the sentinel, unless a group is
/// still recorded (then it stays, and ends that group once this process
/// has exited).
pub(super) fn stop() {
    let Some(pid) = pid() else {
        return;
    };
    if anything_recorded() {
        log::info!("sentinel {pid} stays: a command's process group is still recorded");
        return;
    }
    // SAFETY: kill has no memory preconditions; `pid` is our unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    loop {
        // SAFETY: waitpid for one child of ours, no status wanted.
        let r = unsafe { libc::waitpid(pid, ptr::null_mut(), 0) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    // Only now: until it is reaped, the subreaper must keep taking it for
    // what it is, not an orphan.
    SENTINEL.store(0, Ordering::SeqCst);
}

/// The sentinel's whole life (see the module docs): its own process group
/// and name, the terminal's signals ignored, every descriptor closed; wait
/// until `owner` exits; then SIGKILL every group recorded in `table`,
/// pass after pass, until [`QUIET_PASSES`] passes in a row find nothing
/// new; exit.
///
/// # Safety
/// Only in a child just forked from `owner`, with `table` mapping LEN
/// entries and `killed` pointing to LEN integers of its own. It makes
/// only async-signal-safe system calls.
unsafe fn sentinel(
    owner: libc::pid_t,
    table: *const AtomicI32,
    killed: *mut i32,
    spill: *const libc::c_char,
) -> ! {
    // SAFETY: plain system calls with valid arguments and buffers; `table`
    // and `killed` as the caller guarantees, indices below LEN.
    unsafe {
        // The terminal's signals ignored first, then out of the job's
        // group; nothing of the owner's stays open here (a pipe end would
        // keep its reader from seeing end of file).
        mp::process_group::become_guardian(None);
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_NAME, NAME.as_ptr(), 0, 0, 0);
        mp::process_group::wait_for_parent_exit(owner);
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: PASS_EVERY.as_nanos() as libc::c_long,
        };
        let mut quiet = 0;
        while quiet < QUIET_PASSES {
            let used = (*table.add(USED))
                .load(Ordering::SeqCst)
                .clamp(0, SLOTS as i32) as usize;
            let mut new = false;
            for i in (FIRST_SLOT..FIRST_SLOT + used).chain(FIRST_HELD..LEN) {
                let g = (*table.add(i)).load(Ordering::SeqCst);
                // Group 1 would make kill(-1) signal everything we may.
                if g > 1 && g != *killed.add(i) {
                    libc::kill(-g, libc::SIGKILL);
                    *killed.add(i) = g;
                    new = true;
                }
            }
            quiet = if new { 0 } else { quiet + 1 };
            libc::nanosleep(&pause, ptr::null_mut());
        }
        if !spill.is_null() {
            // Twice more if a file came in meanwhile (a worker that was
            // still writing when its commands were killed).
            for _ in 0..3 {
                if remove_flat_dir(spill) {
                    break;
                }
                libc::nanosleep(&pause, ptr::null_mut());
            }
        }
        libc::_exit(0)
    }
}

/// Removes directory `path` and the files in it (the run's spill
/// directory holds no subdirectories), with raw system calls only: the
/// sentinel is a forked child that must not allocate.
///
/// # Safety
/// `path` is a NUL-terminated string.
/// Returns whether the directory is gone.
unsafe fn remove_flat_dir(path: *const libc::c_char) -> bool {
    // SAFETY: system calls on a valid path, our own descriptor and a
    // buffer of ours; the kernel fills the buffer with whole records, each
    // read within the length it reported.
    unsafe {
        let dir = libc::open(path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC);
        if dir < 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let mut at = 0usize;
            while at < n as usize {
                // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
                let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let name = buf.as_ptr().add(at + 19).cast::<libc::c_char>();
                let dot = *name == b'.' as libc::c_char
                    && (*name.add(1) == 0
                        || (*name.add(1) == b'.' as libc::c_char && *name.add(2) == 0));
                if !dot {
                    libc::unlinkat(dir, name, 0);
                }
                if reclen == 0 {
                    break;
                }
                at += reclen;
            }
        }
        libc::close(dir);
        libc::rmdir(path) == 0
    }
}
