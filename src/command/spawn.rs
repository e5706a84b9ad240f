//! Starting a per-record command, with what a worker can prepare once
//! instead of per task.
//!
//! `std::process::Command` copies the whole environment into a map to add a
//! variable, opens `/dev/null` and searches `PATH` for every spawn, and
//! glibc's `posix_spawn` maps a fresh stack and visits all 64 signal
//! dispositions twice in the child. A worker runs thousands of commands, so
//! it keeps the environment as ready C strings (only `MP_SEQ`/`PARALLEL_SEQ`
//! change per task), one `/dev/null` descriptor, where in `PATH` each program
//! was found (searched again if it has gone), the list of signals it handles,
//! and a stack for the child, which runs from `clone(CLONE_VM|CLONE_VFORK)`
//! to `execve` making only raw system calls.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::ptr;

use super::CommandTask;

/// The variables set per task; the inherited values of these are dropped.
const PER_TASK: [&str; 3] = ["MP_SEQ", "PARALLEL_SEQ", "MP_SLOT"];

/// A started command: its pid (it leads its own process group) and our ends
/// of its pipes.
pub(super) struct Spawned {
    pub pid: i32,
    /// Readable once the command has exited.
    pub pidfd: OwnedFd,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What a worker keeps between spawns.
struct Launcher {
    /// The inherited environment, without [`PER_TASK`] names.
    env: Vec<CString>,
    devnull: OwnedFd,
    /// Signals to set back to SIG_DFL in the child.
    reset: Vec<libc::c_int>,
    /// The child's stack (it runs on it until exec, while we wait).
    stack: Vec<u8>,
    /// Program name -> the path `PATH` gave for it.
    found: HashMap<Vec<u8>, CString>,
    /// Test hook: `MP_TEST_RECORD_DELAY_MS`, a pause between starting a
    /// command and recording its process group, so a test can signal the
    /// worker in that window.
    record_delay: Option<std::time::Duration>,
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
            reset: handled_signals(),
            stack: vec![0; 64 * 1024],
            found: HashMap::new(),
            record_delay: std::env::var("MP_TEST_RECORD_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_millis),
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

/// What the child needs between `clone` and `execve`, prepared by the
/// parent: the child may only make raw system calls (it shares our memory).
#[repr(C)]
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    /// Descriptors (all above 2) for the child's 0, 1 and 2.
    stdio: [libc::c_int; 3],
    reset: *const libc::c_int,
    nreset: usize,
    /// Set by the child when it cannot exec.
    errno: libc::c_int,
}

/// The child side of [`clone_exec`]: own process group, stdio, default
/// dispositions for the signals the worker handles, no blocked signals, exec.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's ChildArgs, alive (the parent is suspended
    // until we exec or exit). Only async-signal-safe libc calls follow.
    unsafe {
        let a = &mut *(arg as *mut ChildArgs);
        let fail = |a: &mut ChildArgs| -> ! {
            a.errno = *libc::__errno_location();
            libc::_exit(127)
        };
        if libc::setpgid(0, 0) != 0 {
            fail(a);
        }
        for (target, &fd) in a.stdio.iter().enumerate() {
            if libc::dup2(fd, target as libc::c_int) < 0 {
                fail(a);
            }
        }
        for i in 0..a.nreset {
            libc::signal(*a.reset.add(i), libc::SIG_DFL);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
        libc::execve(a.path, a.argv as _, a.envp as _);
        fail(a)
    }
}

/// Signals whose disposition the child must reset: the ones with a handler
/// here (a handler address means nothing after exec, but the child runs
/// before it on our memory), and SIGPIPE, which Rust ignores.
fn handled_signals() -> Vec<libc::c_int> {
    let mut out = vec![libc::SIGPIPE];
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == libc::SIGPIPE {
            continue;
        }
        // SAFETY: reading a disposition into a zeroed struct.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut sa) == 0
                && sa.sa_sigaction != libc::SIG_DFL
                && sa.sa_sigaction != libc::SIG_IGN
            {
                out.push(sig);
            }
        }
    }
    out
}

/// Starts `path` like `posix_spawn` would, but without its per-call costs:
/// the stack is reused, only handled signals are reset (glibc visits all 64
/// twice), and the pidfd comes from `clone` itself.
fn clone_exec(
    l: &mut Launcher,
    path: &CString,
    argp: &[*mut libc::c_char],
    envp: &[*mut libc::c_char],
    stdio: [libc::c_int; 3],
) -> io::Result<(i32, OwnedFd)> {
    let mut args = ChildArgs {
        path: path.as_ptr(),
        argv: argp.as_ptr(),
        envp: envp.as_ptr(),
        stdio,
        reset: l.reset.as_ptr(),
        nreset: l.reset.len(),
        errno: 0,
    };
    let mut pidfd: libc::c_int = -1;
    // The stack grows down from its 16-byte aligned top.
    let top = {
        let end = l.stack.as_mut_ptr() as usize + l.stack.len();
        (end & !15) as *mut libc::c_void
    };
    // SAFETY: all signals are blocked around clone so no handler of ours
    // runs in the child on shared memory; the child only reads `args`
    // (alive here) and writes `args.errno`; CLONE_VFORK suspends us until
    // it has exec'd or exited, so `args` and the stack outlive its use.
    let pid = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
            &mut args as *mut ChildArgs as *mut libc::c_void,
            &mut pidfd as *mut libc::c_int,
        );
        let e = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
        if pid < 0 {
            return Err(e);
        }
        pid
    };
    // SAFETY: CLONE_PIDFD gave us this new descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    if args.errno != 0 {
        let _ = wait(pid);
        return Err(io::Error::from_raw_os_error(args.errno));
    }
    Ok((pid, pidfd))
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

/// Starts the task's `argv` (or `sh -c argv[0]`) in a new process group,
/// stdin from a pipe (when the task has input) or /dev/null, stdout and
/// stderr into pipes, with `MP_SEQ` and `PARALLEL_SEQ` set to its record
/// number and `MP_SLOT` to `slot`.
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
    let (pid, pidfd) = if name.contains(&b'/') {
        // A name with a slash is a path.
        clone_exec(l, &args[0], &argp, &envp, stdio)?
    } else {
        // Otherwise search PATH, once per worker (again if the program moved).
        let path = l.resolve(name).ok_or_else(not_found)?;
        match clone_exec(l, &path, &argp, &envp, stdio) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EACCES | libc::ENOTDIR)
                ) =>
            {
                l.found.remove(name);
                let path = l.resolve(name).ok_or_else(not_found)?;
                clone_exec(l, &path, &argp, &envp, stdio)?
            }
            r => r?,
        }
    };
    drop((in_r, out_w, err_w));
    Ok(Spawned {
        pid,
        pidfd,
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}

/// Waits for `pid` and returns its status.
pub(super) fn wait(pid: i32) -> io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}
