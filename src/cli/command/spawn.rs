//! Starting a per-record command, with what a worker can prepare once
//! instead of per task.
//!
//! `std::process::Command` copies the whole environment into a map to add a
//! variable, opens `/dev/null` and searches `PATH` for every spawn. A worker
//! runs thousands of commands, so it keeps the environment as ready C
//! strings (only `MP_SEQ`/`PARALLEL_SEQ`/`MP_SLOT` change per task), one
//! `/dev/null` descriptor, where in `PATH` each program was found (searched
//! again if it has gone) and its spawn attributes, and starts each command
//! with glibc's `posix_spawn`.
//!
//! # Why `posix_spawn`, not our own `clone`
//!
//! This module used to `clone(CLONE_VM|CLONE_VFORK)` onto a reused 64 KiB
//! heap stack with no guard page and run Rust code in the child until
//! `execve`, resetting the signals whose handlers it had listed when the
//! worker started. A child sharing our memory is glibc's business: it maps
//! a fresh stack with a guard page per spawn, blocks every signal around the
//! clone, and in the child sets every signal with a handler back to its
//! default at each spawn (so a handler installed after the worker started
//! can never run on our memory). Side by side in `bench/map.sh` (two runs,
//! medians of 9; README, bench/RESULTS.md), 2000 × `true` with 2 in flight
//! took 1.08× and 1.10× the `posix_spawnp` floor with `posix_spawn`, 1.07×
//! and 1.07× with the clone on a guard-paged stack: within the target
//! (≤ 1.10×), with no margin left. glibc's work costs 45-60 µs per spawn
//! on the benchmark VM (`bench/spawn_ab.c`).
//!
//! What the clone did that `posix_spawn` does not, and what replaces it:
//! - the pidfd came from `CLONE_PIDFD`; now `pidfd_open` right after the
//!   spawn (race-free: the child is ours and unreaped; glibc 2.39's
//!   `pidfd_spawn` would save the call);
//! - the child's errno was read from shared memory; `posix_spawn` returns
//!   it, and reaps a child that could not exec.
//!
//! Kept as before: the command leads its own process group
//! (`POSIX_SPAWN_SETPGROUP`, pgid = pid), stdin/stdout/stderr are dup'd onto
//! 0-2 from close-on-exec descriptors above 2 (nothing else is inherited:
//! every descriptor here is close-on-exec), no signal is blocked
//! (`POSIX_SPAWN_SETSIGMASK`), SIGPIPE (ignored by Rust) and every handled
//! signal are at their defaults (`POSIX_SPAWN_SETSIGDEF`, glibc), the
//! `PATH` cache with its retry when a program moved.
//!
//! The started command is handed over as a
//! [`ProcessGroup`](mp::process_group::ProcessGroup) (`adopt`: no
//! system call), which signals, reaps and tears it down as every other
//! command mp starts. It is the one place without the group's death
//! signal: `posix_spawn` has no attribute for `PR_SET_PDEATHSIG`, and
//! setting it would take a `fork` and code of ours in the child, what this
//! module stopped doing. A command whose worker dies is ended, with its
//! whole group, by the subreaper instead (see `reaper`), and one whose `mp`
//! is killed outright by the sentinel (see `sentinel`), to which the worker
//! tells the group right after the spawn (a store to shared memory).

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::ptr;

use super::CommandTask;
use mp::process_group::ProcessGroup;

/// The variables set per task; the inherited values of these are dropped.
const PER_TASK: [&str; 4] = ["MP_SEQ", "PARALLEL_SEQ", "MP_SLOT", "PARALLEL_JOBSLOT"];

/// A started command: its process group (with a pidfd, readable once the
/// command has exited) and our ends of its pipes.
pub(super) struct Spawned {
    pub group: ProcessGroup,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What a worker keeps between spawns.
struct Launcher {
    /// The inherited environment, without [`PER_TASK`] names.
    env: Vec<CString>,
    devnull: OwnedFd,
    /// What every command gets from `posix_spawn`.
    attr: Box<Attr>,
    /// Program name -> the path `PATH` gave for it.
    found: HashMap<Vec<u8>, CString>,
    /// Test hook: `MP_TEST_RECORD_DELAY_MS`, a pause between starting a
    /// command and recording its process group, so a test can signal the
    /// worker in that window.
    record_delay: Option<std::time::Duration>,
    /// Test hook: `MP_TEST_RECORDED_LOG`, a file to which each command's
    /// pid is appended once its group is recorded (for the sentinel too),
    /// so a test can kill mp knowing the record was made.
    recorded_log: Option<std::path::PathBuf>,
}

thread_local! {
    static LAUNCHER: std::cell::RefCell<Option<Launcher>> = const { std::cell::RefCell::new(None) };
}

impl Launcher {
    fn new() -> io::Result<Launcher> {
        let env = std::env::vars_os()
            .filter(|(k, _)| !PER_TASK.iter().any(|p| OsStr::new(p) == k))
            .filter_map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        let devnull = std::fs::File::open("/dev/null")?;
        Ok(Launcher {
            env,
            devnull: above_stdio(devnull.into())?,
            attr: Attr::new()?,
            found: HashMap::new(),
            record_delay: std::env::var("MP_TEST_RECORD_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_millis),
            recorded_log: std::env::var_os("MP_TEST_RECORDED_LOG").map(Into::into),
        })
    }

    /// Where `PATH` finds `name`, as `execvp` would (first executable match).
    fn resolve(&mut self, name: &[u8]) -> Option<CString> {
        if let Some(p) = self.found.get(name) {
            return Some(p.clone());
        }
        let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
        for dir in std::env::split_paths(&path) {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".").to_path_buf()
            } else {
                dir
            };
            let candidate = dir.join(OsStr::from_bytes(name));
            let Ok(c) = CString::new(candidate.into_os_string().into_vec()) else {
                continue;
            };
            // SAFETY: `c` is a valid C string.
            let ok = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
                && std::fs::metadata(OsStr::from_bytes(c.as_bytes())).is_ok_and(|m| m.is_file());
            if ok {
                self.found.insert(name.to_vec(), c.clone());
                return Some(c);
            }
        }
        None
    }
}

/// Moves a descriptor to 3 or above (close-on-exec), so a `dup2` onto 0–2 in
/// the child never meets the same number (which would keep close-on-exec).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: duplicating a descriptor we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn cstring(s: impl AsRef<[u8]>) -> io::Result<CString> {
    let s = s.as_ref();
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{:?} contains a NUL byte",
                super::describe_command(OsStr::from_bytes(s))
            ),
        )
    })
}

/// Turns a `posix_spawn*` return value (an error number, 0 for success)
/// into a result.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// The spawn attributes every command gets, made once per worker: its own
/// process group (its pgid is its pid), no blocked signals, and SIGPIPE,
/// which the Rust runtime ignores, and every signal not ignored back to its
/// default ([`default_signals`]). glibc also sets every other signal that
/// has a handler here back to its default by itself (its child runs on our
/// memory until it execs, so a handler of ours must never run there), at
/// each spawn: a handler installed later is covered too.
struct Attr(libc::posix_spawnattr_t);

impl Attr {
    /// Boxed: the attribute object is opaque, so it is never moved once
    /// initialised.
    fn new() -> io::Result<Box<Attr>> {
        // SAFETY: a zeroed attribute object is only storage until
        // posix_spawnattr_init; a zeroed sigset_t is emptied before use.
        unsafe {
            let mut a = Box::new(Attr(std::mem::zeroed()));
            check(libc::posix_spawnattr_init(&mut a.0))?;
            // From here on, dropping `a` destroys the initialised object.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            let default = default_signals();
            check(libc::posix_spawnattr_setsigmask(&mut a.0, &none))?;
            check(libc::posix_spawnattr_setsigdefault(&mut a.0, &default))?;
            check(libc::posix_spawnattr_setpgroup(&mut a.0, 0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(
                &mut a.0,
                flags as libc::c_short,
            ))?;
            Ok(a)
        }
    }
}

/// The signals `posix_spawn` sets to their default in the command: SIGPIPE
/// and every signal this worker does not ignore now. glibc's child resets
/// each of these with one `sigaction` and, for any other signal, reads the
/// disposition first and resets a handler it finds (an ignored signal stays
/// ignored, as across exec; the worker's own handlers, SIGHUP's among
/// them, are reset, so under `nohup` the commands get SIGHUP at its
/// default, as before this set was made). Naming them all saves that read:
/// 62 system calls per spawn instead of 121 (strace). A handler installed after this set was made is
/// still reset (by the read-and-reset path), and this worker ignores no
/// signal of its own after start-up.
fn default_signals() -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is storage that sigemptyset initialises.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for sig in 1..=libc::SIGRTMAX() {
        // glibc's own signals (32 and 33) sit below SIGRTMIN(); SIGKILL and
        // SIGSTOP cannot be changed.
        if (32..libc::SIGRTMIN()).contains(&sig) || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid out-parameter.
        let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: sigaction with a null new action only reads the disposition.
        let read = unsafe { libc::sigaction(sig, std::ptr::null(), &mut now) } == 0;
        if sig == libc::SIGPIPE || (read && now.sa_sigaction != libc::SIG_IGN) {
            // SAFETY: `set` is initialised and `sig` a valid signal number.
            unsafe { libc::sigaddset(&mut set, sig) };
        }
    }
    set
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawnattr_init in `new`.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// One spawn's file actions: the descriptors that become the command's
/// stdin, stdout and stderr.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(stdio: [libc::c_int; 3]) -> io::Result<Box<FileActions>> {
        // SAFETY: as for `Attr::new`: storage until initialised.
        unsafe {
            let mut f = Box::new(FileActions(std::mem::zeroed()));
            check(libc::posix_spawn_file_actions_init(&mut f.0))?;
            for (target, fd) in stdio.into_iter().enumerate() {
                // `fd` is above 2 (see `above_stdio`), so never `target`
                // itself, and close-on-exec: only the copy on 0-2 survives exec.
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut f.0,
                    fd,
                    target as libc::c_int,
                ))?;
            }
            Ok(f)
        }
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawn_file_actions_init in `new`.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// Starts `path` with glibc's `posix_spawn`: its own process group, `stdio`
/// on 0-2, no blocked signals, handled signals and SIGPIPE at their
/// defaults. Returns when the command has exec'd (or with the reason it
/// could not: glibc reports the child's errno and reaps it).
fn spawn_exec(
    l: &Launcher,
    path: &CString,
    argp: &[*mut libc::c_char],
    envp: &[*mut libc::c_char],
    stdio: [libc::c_int; 3],
) -> io::Result<ProcessGroup> {
    let actions = FileActions::new(stdio)?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: `path` is a C string; `argp` and `envp` are null-terminated
    // arrays of C strings that outlive the call (posix_spawn returns after
    // the child has exec'd or failed); the attributes and file actions are
    // initialised.
    check(unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &actions.0,
            &l.attr.0,
            argp.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    // Ours and unreaped: the pid cannot have been reused.
    match mp::process_group::pidfd_open(pid) {
        Ok(pidfd) => Ok(ProcessGroup::adopt(pid as u32, Some(pidfd))),
        Err(e) => {
            // Without a pidfd it cannot be watched: dropping the group
            // kills and reaps it.
            drop(ProcessGroup::adopt(pid as u32, None));
            Err(e)
        }
    }
}

/// Sets up this worker's launcher ahead of its first command (a failure
/// here is reported by that command's start instead).
pub(super) fn prepare() {
    LAUNCHER.with(|cell| {
        let mut guard = cell.borrow_mut();
        if guard.is_none() {
            *guard = Launcher::new().ok();
        }
    });
}

/// The test hook's pause (see `Launcher::record_delay`), if set.
pub(super) fn test_record_delay() -> Option<std::time::Duration> {
    LAUNCHER.with(|cell| cell.borrow().as_ref().and_then(|l| l.record_delay))
}

/// The test hook's log file (see `Launcher::recorded_log`), if set.
pub(super) fn test_recorded_log() -> Option<std::path::PathBuf> {
    LAUNCHER.with(|cell| cell.borrow().as_ref().and_then(|l| l.recorded_log.clone()))
}

/// Starts the task's `argv` (or `sh -c argv[0]`) in a new process group,
/// stdin from a pipe (when the task has input) or /dev/null, stdout and
/// stderr into pipes, with `MP_SEQ` and `PARALLEL_SEQ` set to its record
/// number and `MP_SLOT` and `PARALLEL_JOBSLOT` to `slot`.
pub(super) fn spawn(task: &CommandTask, slot: Option<usize>) -> io::Result<Spawned> {
    LAUNCHER.with(|cell| {
        let mut guard = cell.borrow_mut();
        if guard.is_none() {
            *guard = Some(Launcher::new()?);
        }
        spawn_with(guard.as_mut().expect("set above"), task, slot)
    })
}

fn spawn_with(l: &mut Launcher, task: &CommandTask, slot: Option<usize>) -> io::Result<Spawned> {
    let seq = task.seq;
    let args: Vec<CString> = if task.shell {
        vec![
            cstring("/bin/sh")?,
            cstring("-c")?,
            cstring(task.argv[0].as_bytes())?,
        ]
    } else {
        task.argv
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<io::Result<_>>()?
    };
    let name = args[0].as_bytes();
    let mut extra = vec![
        cstring(format!("MP_SEQ={seq}"))?,
        cstring(format!("PARALLEL_SEQ={seq}"))?,
    ];
    if let Some(s) = slot {
        extra.push(cstring(format!("MP_SLOT={}", s + 1))?);
        extra.push(cstring(format!("PARALLEL_JOBSLOT={}", s + 1))?);
    }
    let mut envp: Vec<*mut libc::c_char> = l
        .env
        .iter()
        .chain(extra.iter())
        .map(|c| c.as_ptr() as *mut libc::c_char)
        .collect();
    envp.push(ptr::null_mut());
    let mut argp: Vec<*mut libc::c_char> = args
        .iter()
        .map(|c| c.as_ptr() as *mut libc::c_char)
        .collect();
    argp.push(ptr::null_mut());

    let (in_r, in_w) = if task.stdin.is_some() {
        let (r, w) = pipe()?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdio = [
        in_r.as_ref()
            .map_or(l.devnull.as_raw_fd(), |f| f.as_raw_fd()),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
    ];
    let not_found = || io::Error::from_raw_os_error(libc::ENOENT);
    let group = if name.contains(&b'/') {
        // A name with a slash is a path.
        spawn_exec(l, &args[0], &argp, &envp, stdio)?
    } else {
        // Otherwise search PATH, once per worker (again if the program moved).
        let path = l.resolve(name).ok_or_else(not_found)?;
        match spawn_exec(l, &path, &argp, &envp, stdio) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EACCES | libc::ENOTDIR)
                ) =>
            {
                l.found.remove(name);
                let path = l.resolve(name).ok_or_else(not_found)?;
                spawn_exec(l, &path, &argp, &envp, stdio)?
            }
            r => r?,
        }
    };
    drop((in_r, out_w, err_w));
    Ok(Spawned {
        group,
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}
