//! Starting a per-record command: `posix_spawn` with what a worker can prepare
//! once instead of per task.
//!
//! `std::process::Command` copies the whole environment into a map to add a
//! variable, opens `/dev/null` and searches `PATH` for every spawn. A worker
//! runs thousands of commands, so it keeps the environment as ready C strings
//! (only `MP_SEQ`/`PARALLEL_SEQ` change per task), one `/dev/null` descriptor,
//! and where in `PATH` each program was found (searched again if it moved).

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::ptr;

/// The variables set per task; the inherited values of these are dropped.
const PER_TASK: [&str; 3] = ["MP_SEQ", "PARALLEL_SEQ", "MP_SLOT"];

/// A started command: its pid (it leads its own process group) and our ends
/// of its pipes.
pub(super) struct Spawned {
    pub pid: i32,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What a worker keeps between spawns.
struct Launcher {
    /// The inherited environment, without [`PER_TASK`] names.
    env: Vec<CString>,
    devnull: OwnedFd,
    /// Program name -> the path `PATH` gave for it.
    found: HashMap<Vec<u8>, CString>,
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
            found: HashMap::new(),
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

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} contains a NUL byte", s),
        )
    })
}

/// Starts `argv` (or `sh -c argv[0]`) in a new process group, stdin from a
/// pipe or /dev/null, stdout and stderr into pipes, with `MP_SEQ` and
/// `PARALLEL_SEQ` set to `seq` and `MP_SLOT` to `slot`.
pub(super) fn spawn(
    argv: &[String],
    shell: bool,
    seq: u64,
    slot: Option<usize>,
    stdin_piped: bool,
) -> io::Result<Spawned> {
    LAUNCHER.with(|cell| {
        let mut guard = cell.borrow_mut();
        if guard.is_none() {
            *guard = Some(Launcher::new()?);
        }
        let launcher = guard.as_mut().expect("set above");
        spawn_with(launcher, argv, shell, seq, slot, stdin_piped)
    })
}

fn spawn_with(
    l: &mut Launcher,
    argv: &[String],
    shell: bool,
    seq: u64,
    slot: Option<usize>,
    stdin_piped: bool,
) -> io::Result<Spawned> {
    let args: Vec<CString> = if shell {
        vec![cstring("/bin/sh")?, cstring("-c")?, cstring(&argv[0])?]
    } else {
        argv.iter().map(|a| cstring(a)).collect::<io::Result<_>>()?
    };
    let name = args[0].as_bytes();
    // A name with a slash is a path; otherwise search PATH (once per worker).
    let program = if name.contains(&b'/') {
        Some(args[0].clone())
    } else {
        l.resolve(name)
    };
    let mut extra = vec![
        cstring(&format!("MP_SEQ={seq}"))?,
        cstring(&format!("PARALLEL_SEQ={seq}"))?,
    ];
    if let Some(s) = slot {
        extra.push(cstring(&format!("MP_SLOT={}", s + 1))?);
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

    let (in_r, in_w) = if stdin_piped {
        let (r, w) = pipe()?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdin_fd = in_r
        .as_ref()
        .map_or(l.devnull.as_raw_fd(), |f| f.as_raw_fd());

    let run = |program: Option<&CString>| -> io::Result<i32> {
        // SAFETY: every pointer handed to posix_spawn points into `args`,
        // `envp`'s strings or `program`, all alive until it returns; the
        // file actions and attributes are initialised before use and
        // destroyed after.
        unsafe {
            let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
            let mut at: libc::posix_spawnattr_t = std::mem::zeroed();
            check(libc::posix_spawn_file_actions_init(&mut fa))?;
            check(libc::posix_spawnattr_init(&mut at))?;
            let result = (|| {
                for (fd, target) in [
                    (stdin_fd, 0),
                    (out_w.as_raw_fd(), 1),
                    (err_w.as_raw_fd(), 2),
                ] {
                    check(libc::posix_spawn_file_actions_adddup2(&mut fa, fd, target))?;
                }
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                check(libc::posix_spawnattr_setsigmask(&mut at, &empty))?;
                // Rust ignores SIGPIPE; commands expect the default. (Signals
                // this worker handles are reset by exec.)
                let mut default: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut default);
                libc::sigaddset(&mut default, libc::SIGPIPE);
                check(libc::posix_spawnattr_setsigdefault(&mut at, &default))?;
                check(libc::posix_spawnattr_setpgroup(&mut at, 0))?;
                let flags = libc::POSIX_SPAWN_SETPGROUP
                    | libc::POSIX_SPAWN_SETSIGMASK
                    | libc::POSIX_SPAWN_SETSIGDEF;
                check(libc::posix_spawnattr_setflags(
                    &mut at,
                    flags as libc::c_short,
                ))?;
                let mut pid: libc::pid_t = 0;
                let rc = match program {
                    Some(p) => libc::posix_spawn(
                        &mut pid,
                        p.as_ptr(),
                        &fa,
                        &at,
                        argp.as_ptr(),
                        envp.as_ptr(),
                    ),
                    None => libc::posix_spawnp(
                        &mut pid,
                        args[0].as_ptr(),
                        &fa,
                        &at,
                        argp.as_ptr(),
                        envp.as_ptr(),
                    ),
                };
                check(rc).map(|_| pid)
            })();
            libc::posix_spawn_file_actions_destroy(&mut fa);
            libc::posix_spawnattr_destroy(&mut at);
            result
        }
    };
    let moved = |e: &io::Error| {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOENT | libc::EACCES | libc::ENOTDIR)
        )
    };
    let pid = match run(program.as_ref()) {
        Err(e) if moved(&e) && program.is_some() && !name.contains(&b'/') => {
            // Gone from where PATH had it: search again.
            l.found.remove(name);
            let again = l.resolve(name);
            run(again.as_ref())?
        }
        r => r?,
    };
    drop((in_r, out_w, err_w));
    Ok(Spawned {
        pid,
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
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
