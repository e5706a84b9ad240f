//! The spawn start method (CPython's `popen_spawn_posix`): run this program
//! again; its `freeze_support()` reads the spec from an inherited socket.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::{clear_cloexec, pidfd_open, send_spec, socketpair, ChildSpec, Launched};
use crate::connection::Connection;
use crate::error::{Error, Result};

/// The marker argument a spawned child is given (as CPython's `--multiprocessing-fork`):
/// a program that forgot `freeze_support()` is then likely to stop on an unknown option.
pub(crate) const SPAWN_ARG: &str = "--multiprocessing-fork";

/// What spawn and the forkserver run instead of `/proc/self/exe`, if set
/// (see [`set_executable`]).
static EXECUTABLE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes spawn and the forkserver run `path` instead of this program
/// (`None`: this program again). Only for `mp`'s own tests of the build
/// identity check: a child that is another build refuses its target.
pub fn set_executable(path: Option<PathBuf>) {
    *EXECUTABLE.lock().unwrap_or_else(|e| e.into_inner()) = path;
}

/// Builds the command that re-runs this program as `PROGRAM MARKER FD PID`:
/// `fd` is inherited, `PID` is ours (the new process checks it was not
/// orphaned already). They travel in argv, as in CPython, not in the
/// environment: the new process would have to remove variables from its
/// environment so that its own children do not inherit them, and changing
/// the environment is unsound once any thread may read it.
/// Whether a program other than `/proc/self/exe` was set with
/// [`set_executable`].
pub(crate) fn executable_set() -> bool {
    EXECUTABLE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

pub(crate) fn self_command(marker: &str, fd: &OwnedFd) -> Command {
    let raw = fd.as_raw_fd();
    let exe = EXECUTABLE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut cmd = Command::new(exe.unwrap_or_else(|| "/proc/self/exe".into()));
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    cmd.arg(marker)
        .arg(raw.to_string())
        .arg(std::process::id().to_string())
        .stdin(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only calls
    // fcntl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            clear_cloexec(raw);
            Ok(())
        });
    }
    cmd
}

pub(super) fn launch(spec: ChildSpec, fds: Vec<OwnedFd>) -> Result<Launched> {
    let (parent_end, child_end) = socketpair()?;
    let child = self_command(SPAWN_ARG, &child_end)
        .spawn()
        .map_err(|e| Error::io("spawn /proc/self/exe", e))?;
    drop(child_end);
    let pid = child.id() as i32;
    // `child` is dropped without waiting: `Process` reaps it.
    drop(child);
    // Ours and unreaped: the pid cannot have been reused.
    let pidfd = pidfd_open(pid)?;
    let channel = Connection::from_fd(parent_end, true, true, true);
    // If the child died at once (no bootstrap), the send may fail with EPIPE:
    // that is reported when it is joined, not here.
    let _ = send_spec(&channel, &spec, &fds);
    Ok(Launched {
        pid,
        pidfd,
        channel,
        direct: true,
    })
}
