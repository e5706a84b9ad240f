//! Starting children: one launcher per start method (CPython's `popen_fork`,
//! `popen_spawn_posix` and `popen_forkserver`). Only launching: what a
//! child does once started (the bootstrap of a spawned copy, running its
//! target, reporting) is [`crate::child`]'s.
//!
//! Each child gets a private socket to its parent (the *channel*). Over it the
//! parent sends the [`ChildSpec`] (under spawn and forkserver) with the
//! descriptors the arguments carry, behind the parent's build identity: the
//! spec names the target by offsets in the executable, so the child checks
//! that identity before it reads the rest ([`crate::build_id`]). The child
//! answers [`Report::Booted`] and, if its target panics, [`Report::Failed`].
//! Under forkserver the server also writes [`Report::Started`] (with the
//! child's pidfd) and, after reaping it, [`Report::Exited`] on the same socket.

mod fork;
pub(crate) mod forkserver;
pub(crate) mod spawn;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::build_id::BuildId;
use crate::connection::Connection;
use crate::context::{self, StartMethod};
use crate::error::{Error, Result};

/// Everything a child needs to become the process the parent asked for.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ChildSpec {
    pub name: String,
    pub identity: Vec<u32>,
    pub daemon: bool,
    pub watch_parent: bool,
    pub parent_pid: i32,
    pub parent_name: String,
    pub target: crate::target::EncodedFn,
    pub args: Vec<u8>,
}

/// Messages on a child's channel, towards the parent.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Report {
    /// The child read its spec and is about to run its target.
    Booted,
    /// The target panicked (message and location) or could not run.
    Failed(String),
    /// (forkserver) The child was forked; its pidfd comes with this message.
    Started { pid: i32 },
    /// (forkserver) The child exited with this Python-style code.
    Exited { code: i32 },
}

/// A started child, as the parent sees it.
pub(crate) struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub channel: Connection,
    pub direct: bool,
}

/// Starts a child with `method`.
pub(crate) fn launch(method: StartMethod, spec: ChildSpec, fds: Vec<OwnedFd>) -> Result<Launched> {
    match method {
        StartMethod::Fork => fork::launch(spec, fds),
        StartMethod::Spawn => spawn::launch(spec, fds),
        StartMethod::Forkserver => forkserver::launch(spec, fds),
    }
}

pub(crate) fn set_cloexec(raw: RawFd) {
    // SAFETY: fcntl on a descriptor we own; F_SETFD only changes its flags.
    unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) };
}

pub(crate) fn clear_cloexec(raw: RawFd) {
    // SAFETY: as above.
    unsafe { libc::fcntl(raw, libc::F_SETFD, 0) };
}

/// Reads the spec and its descriptors from the channel. The parent's build
/// identity comes first and is checked before the spec is decoded: the spec
/// of another build may not even have the same layout.
pub(crate) fn recv_spec(channel: &Connection) -> Result<(ChildSpec, Vec<OwnedFd>)> {
    let (bytes, fds) = channel.recv_frame_with_fds()?;
    let spec = BuildId::check_prefix(&bytes)?;
    let spec = crate::connection::Codec::Postcard.decode(spec)?;
    Ok((spec, fds))
}

/// Sends the spec, behind this process's build identity, with the parent's
/// own pidfd first and then the argument descriptors.
pub(crate) fn send_spec(channel: &Connection, spec: &ChildSpec, fds: &[OwnedFd]) -> Result<()> {
    let me = pidfd_open(std::process::id() as i32)?;
    let bytes = BuildId::current().to_wire().to_vec();
    let bytes = crate::connection::Codec::Postcard.encode_into(spec, bytes)?;
    let mut all: Vec<BorrowedFd<'_>> = vec![me.as_fd()];
    all.extend(fds.iter().map(|f| f.as_fd()));
    channel.send_frame(&bytes, &all)
}

/// Python-style exit code of a wait status; `None` for stop/continue events.
pub(crate) fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(-(sig as i32)),
        _ => None,
    }
}

/// `pidfd_open(2)`.
pub(crate) fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: the syscall takes a pid and flags and returns a new descriptor or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::ENOSYS) {
            " (mp needs Linux 5.3 or newer)"
        } else {
            ""
        };
        return Err(Error::Start {
            name: format!("pid {pid}"),
            method: context::get_start_method(true).unwrap_or(context::DEFAULT_START_METHOD),
            reason: format!("pidfd_open: {e}{hint}"),
        });
    }
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `pidfd_send_signal(2)`.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> std::io::Result<()> {
    // SAFETY: the syscall takes a descriptor, a signal, a null siginfo and flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A connected pair of stream sockets, close-on-exec.
pub(crate) fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::io("socketpair", e.into()))
}
