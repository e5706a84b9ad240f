//! The fork start method (CPython's `popen_fork`).

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use super::{pidfd_open, socketpair, ChildSpec, Launched};
use crate::child::run_child;
use crate::connection::Connection;
use crate::context::StartMethod;
use crate::error::{Error, Result};

pub(super) fn launch(spec: ChildSpec, fds: Vec<OwnedFd>) -> Result<Launched> {
    let (parent_end, child_end) = socketpair()?;
    let me = pidfd_open(std::process::id() as i32)?;
    // Settled before the fork: a child that starts children of its own needs
    // it, and must not find it half-computed by a thread that is not there.
    let _ = crate::build_id::BuildId::current();
    // Hold the locks a child could need across the fork, so none is left
    // locked by a thread that does not exist in the child; flush first so
    // buffered output is not written twice.
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = out.flush();
    let err = std::io::stderr().lock();
    let mut state = crate::process::state();
    let server = super::forkserver::lock_for_fork();
    let open = crate::connection::lock_open_fds();
    // SAFETY: fork is safe to call; in the child we only use state guarded by
    // the locks held above, then run the target (see the fork caveat in the
    // `process` docs for locks held by other threads).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // First, before anything is dropped or opened: the parent's
            // connections are released without freeing their numbers.
            crate::connection::release_inherited(open, &[]);
            drop(parent_end);
            super::forkserver::forget_in_child(server);
            crate::process::become_child(&mut state, &spec, None);
            drop(state);
            drop(err);
            drop(out);
            stdin_to_devnull();
            let channel = Connection::from_fd(child_end, true, true, true);
            run_child(spec, fds, Some(me), channel, StartMethod::Fork)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(open);
            drop(server);
            drop(state);
            drop(err);
            drop(out);
            drop(child_end);
            drop(me);
            // The child is ours and unreaped, so its pid cannot have been reused.
            let pidfd = pidfd_open(child.as_raw())?;
            Ok(Launched {
                pid: child.as_raw(),
                pidfd,
                channel: Connection::from_fd(parent_end, true, true, true),
                direct: true,
            })
        }
        Err(e) => Err(Error::io("fork", e.into())),
    }
}

/// CPython gives a forked child an empty stdin, so it cannot steal the parent's input.
fn stdin_to_devnull() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0, which this process owns.
        unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
}
