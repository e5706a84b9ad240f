//! The forkserver start method (CPython's `forkserver` + `popen_forkserver`).
//!
//! The server is this program run again (so it starts single-threaded and
//! clean) and turned into a server by `freeze_support()`. It waits on a
//! control socket; each request carries a fresh socket (the child's channel).
//! The server forks, sends the child's pid and pidfd on that socket, and once
//! it has reaped the child, its exit code. The server exits when the process
//! that started it exits (it watches that process's pidfd), and its children
//! die with it (`PR_SET_PDEATHSIG`), unless they were asked to survive.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::spawn::self_command;
use super::{exit_code, pidfd_open, recv_spec, send_spec, socketpair, ChildSpec, Launched, Report};
use crate::connection::{wait, Codec, Connection, Waitable};
use crate::context::StartMethod;
use crate::error::{Error, Result};

/// The marker argument given to the server process.
pub(crate) const FORKSERVER_ARG: &str = "--multiprocessing-forkserver";
/// How long the server may take to start before `mp` gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Server {
    pid: i32,
    pidfd: OwnedFd,
    ctl: Connection,
    /// Its `Booted` has been read. A server forked by [`prefork`] sets
    /// itself up while its starter goes on; the first launch reads it.
    booted: bool,
}

impl Server {
    fn alive(&self) -> bool {
        match wait(&[&self.pidfd as &dyn Waitable], Some(Duration::ZERO)) {
            Ok(r) if r.is_empty() => true,
            _ => {
                // Reap the dead server so it does not linger as a zombie.
                let _ = nix::sys::wait::waitpid(
                    nix::unistd::Pid::from_raw(self.pid),
                    Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                );
                false
            }
        }
    }
}

static SERVER: Mutex<Option<Server>> = Mutex::new(None);

/// Held across a fork so the child finds the server state consistent.
pub(crate) fn lock_for_fork() -> MutexGuard<'static, Option<Server>> {
    SERVER.lock().unwrap_or_else(|e| e.into_inner())
}

/// In a forked child: the parent's server is not ours; close our copies.
pub(crate) fn forget_in_child(mut guard: MutexGuard<'static, Option<Server>>) {
    if let Some(s) = guard.take() {
        // Not ours to reap; dropping only closes the descriptors.
        drop(s);
    }
}

/// Stops this process's forkserver, if it started one, and reaps it: called
/// at exit so the server does not linger, even as a zombie.
pub(crate) fn shutdown() {
    let Some(server) = lock_for_fork().take() else {
        return;
    };
    let Server {
        pid, pidfd, ctl, ..
    } = server;
    drop(ctl); // EOF on the control socket: the server exits
    if wait(&[&pidfd as &dyn Waitable], Some(Duration::from_secs(2))).map_or(true, |r| r.is_empty())
    {
        let _ = super::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

/// The pid of the running forkserver, if one was started (for tests and diagnostics).
pub fn server_pid() -> Option<i32> {
    lock_for_fork()
        .as_ref()
        .filter(|s| s.alive())
        .map(|s| s.pid)
}

fn start_server() -> Result<Server> {
    let (mine, theirs) = socketpair()?;
    let child = self_command(FORKSERVER_ARG, &theirs)
        .spawn()
        .map_err(|e| Error::io("spawn the forkserver (/proc/self/exe)", e))?;
    drop(theirs);
    let pid = child.id() as i32;
    drop(child);
    let pidfd = pidfd_open(pid)?;
    let ctl = Connection::from_fd(mine, true, true, true);
    await_boot(pid, pidfd, ctl)
}

/// Waits for a new server's `Booted` on its control connection.
fn await_boot(pid: i32, pidfd: OwnedFd, ctl: Connection) -> Result<Server> {
    let fail = |reason: String| {
        let _ = super::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        Error::Start {
            name: "forkserver".into(),
            method: StartMethod::Forkserver,
            reason,
        }
    };
    if !ctl.poll(Some(START_TIMEOUT))? {
        return Err(fail(format!(
            "the forkserver (pid {pid}) did not answer within {}s; does main() call \
             mp::freeze_support() first?",
            START_TIMEOUT.as_secs()
        )));
    }
    match ctl.recv::<Report>() {
        Ok(Report::Booted) => Ok(Server {
            pid,
            pidfd,
            ctl,
            booted: true,
        }),
        Ok(other) => Err(fail(format!("unexpected first message {other:?}"))),
        Err(e) => Err(fail(format!(
            "the forkserver (pid {pid}) exited before it started serving ({e}); does main() \
             call mp::freeze_support() first?"
        ))),
    }
}

/// The number of threads of this process (`Threads:` in
/// `/proc/self/status`), if it can be read.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// Starts this process's forkserver now, as a `fork` of this process, instead
/// of on the first forkserver start as a fresh run of the program.
///
/// The fresh run (an `execve` of `/proc/self/exe`, then the program's start-up
/// up to [`freeze_support`](crate::freeze_support)) is what makes the server
/// single-threaded and clean when it is started from a process that already
/// has threads. A process that has none yet can give the server that state by
/// forking, which costs a fraction of the exec (measured on the benchmark VM:
/// `mp map true` with one record went from 9.5 to 7.4 ms, `bench/ab.sh`).
/// Call it at the top of `main`, before anything starts a thread.
///
/// The forked server is made to look as the exec'd one would: its stdin is
/// `/dev/null`, every descriptor that exec would have closed (close-on-exec)
/// is pointed at `/dev/null` (the number stays taken: a live object of the
/// caller may own it, and nothing in the server ever runs its drop), no
/// signal is blocked, and every signal handler but the Rust runtime's
/// stack-overflow ones (SIGSEGV, SIGBUS) is back to its default (an ignored
/// signal stays ignored, as across exec). Buffered stdout and stderr are
/// flushed first, so no child writes them again.
///
/// Returns `Ok(true)` when it started the server; `Ok(false)`, starting
/// nothing, when a server already runs, the process has more than one thread
/// (or its thread count cannot be read), or another program was set with
/// `set_spawn_executable` (the server must be that program then). The
/// forkserver is then started as before when first needed.
pub fn prefork() -> Result<bool> {
    let mut guard = lock_for_fork();
    if guard.as_ref().is_some_and(Server::alive) || super::spawn::executable_set() {
        return Ok(false);
    }
    if thread_count() != Some(1) {
        return Ok(false);
    }
    crate::child::check_bootstrap()?;
    let (mine, theirs) = socketpair()?;
    let parent = std::process::id() as i32;
    // What this process has buffered would otherwise be written again by
    // every child the server forks (each flushes its stdout on the way out).
    {
        use std::io::Write;
        let _ = std::io::stdout().lock().flush();
        let _ = std::io::stderr().lock().flush();
    }
    // SAFETY: this process has a single thread (checked above, and the
    // caller holds no lock another thread could hold), so the child is a
    // complete copy that may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // Dropping in the child closes only the child's copies.
            drop(mine);
            drop(guard);
            like_exec(theirs.as_raw_fd());
            serve(theirs, Some(parent))
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(theirs);
            let pid = child.as_raw();
            let pidfd = match pidfd_open(pid) {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(child, None);
                    return Err(e);
                }
            };
            // Its `Booted` is read by the first launch: the server's set-up
            // overlaps with ours.
            *guard = Some(Server {
                pid,
                pidfd,
                ctl: Connection::from_fd(mine, true, true, true),
                booted: false,
            });
            Ok(true)
        }
        Err(e) => Err(Error::io("fork the forkserver", e.into())),
    }
}

/// In the forked server (see [`prefork`]): the state an exec would have
/// left. `keep` is the control socket.
fn like_exec(keep: RawFd) {
    // SAFETY: open(2) with a NUL-terminated path; the result is checked.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if null >= 0 {
        // SAFETY: dup2 onto stdin (as the exec'd server's `Stdio::null()`).
        unsafe { libc::dup2(null, 0) };
        let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        for fd in fds {
            // SAFETY: fcntl(F_GETFD) only inspects the descriptor (the
            // directory's own, closed by now, gives EBADF).
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if fd > 2 && fd != keep && fd != null && flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                // SAFETY: as in `connection::release_inherited`: the number
                // now refers to /dev/null and stays taken.
                unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) };
            }
        }
        // SAFETY: `null` is ours and nothing else holds it.
        unsafe { libc::close(null) };
    }
    // Nothing blocked, as the exec'd server's `Command` leaves it.
    // SAFETY: an empty set, initialised by sigemptyset, as the new mask.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    for sig in 1..=libc::SIGRTMAX() {
        // The Rust runtime's stack-overflow handlers stay: an exec'd server
        // has them too (its runtime installs them at start).
        if sig == libc::SIGSEGV || sig == libc::SIGBUS {
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid out-parameter.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: sigaction with a null new action only reads the disposition.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
            continue;
        }
        if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            // SAFETY: restoring the default disposition has no preconditions.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

pub(super) fn launch(spec: ChildSpec, fds: Vec<OwnedFd>) -> Result<Launched> {
    let (parent_end, child_end) = socketpair()?;
    {
        let mut guard = lock_for_fork();
        let mut attempt = 0;
        loop {
            if !guard.as_ref().is_some_and(Server::alive) {
                *guard = Some(start_server()?);
            }
            if let Some(s) = guard.take_if(|s| !s.booted) {
                // A forked server that died before it said so is replaced
                // by a fresh one, as a dead server is above.
                *guard = Some(match await_boot(s.pid, s.pidfd, s.ctl) {
                    Ok(server) => server,
                    Err(_) => start_server()?,
                });
            }
            let server = guard.as_ref().expect("server was just started");
            // The request says at once whether the child dies with its parent,
            // so there is no window before it has read its spec.
            let request: &[u8] = if spec.watch_parent { b"F" } else { b"S" };
            match server.ctl.send_frame(request, &[child_end.as_fd()]) {
                Ok(()) => break,
                Err(_) if attempt == 0 => {
                    // The server died between the check and the send: start another.
                    attempt += 1;
                    *guard = None;
                }
                Err(e) => return Err(e),
            }
        }
    }
    drop(child_end);
    let channel = Connection::from_fd(parent_end, true, true, true);
    if !channel.poll(Some(START_TIMEOUT))? {
        return Err(Error::Protocol(
            "the forkserver did not answer a fork request".into(),
        ));
    }
    let (bytes, mut got) = channel.recv_frame_with_fds()?;
    let pid = match Codec::Postcard.decode::<Report>(&bytes)? {
        Report::Started { pid } => pid,
        other => {
            return Err(Error::Protocol(format!(
                "the forkserver answered {other:?}"
            )))
        }
    };
    let pidfd = got
        .pop()
        .ok_or_else(|| Error::Protocol("the forkserver sent no pidfd".into()))?;
    send_spec(&channel, &spec, &fds)?;
    Ok(Launched {
        pid,
        pidfd,
        channel,
        direct: false,
    })
}

/// The server's main loop (in the process started by [`start_server`]). Never returns.
pub(crate) fn serve(ctl_fd: OwnedFd, expected_parent: Option<i32>) -> ! {
    let exit = |code| -> ! {
        // SAFETY: _exit is always safe to call.
        unsafe { libc::_exit(code) }
    };
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    // A ppid other than the one our parent wrote down means it died and we
    // were reparented before we could watch it.
    if expected_parent.is_some_and(|p| p != ppid) {
        exit(0);
    }
    let Ok(parent) = pidfd_open(ppid) else {
        exit(1)
    };
    // SAFETY: as above; checked again now that the pidfd is open.
    if unsafe { libc::getppid() } != ppid {
        exit(0);
    }
    // Ctrl-C goes to the whole process group; the parent decides what to do.
    // SAFETY: setting a signal to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if mask.thread_block().is_err() {
        exit(1);
    }
    let Ok(sfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        exit(1)
    };
    // Computed once here, inherited by every child forked below.
    let _ = crate::build_id::BuildId::current();
    let ctl = Connection::from_fd(ctl_fd, true, true, true);
    if ctl.send(&Report::Booted).is_err() {
        exit(1);
    }
    let mut kids: HashMap<i32, Connection> = HashMap::new();
    loop {
        let ready = match wait(&[&ctl, &parent, &sfd.as_fd()], None) {
            Ok(r) => r,
            Err(_) => exit(1),
        };
        if ready.contains(&1) {
            // Our parent is gone. Children that watch us die with us (PDEATHSIG).
            exit(0);
        }
        if ready.contains(&2) {
            while let Ok(Some(_)) = sfd.read_signal() {}
            reap(&mut kids);
        }
        if ready.contains(&0) {
            match ctl.recv_frame_with_fds() {
                Ok((request, mut fds)) if fds.len() == 1 => {
                    let channel = fds.pop().expect("one fd");
                    let close: Vec<RawFd> = vec![parent.as_raw_fd(), sfd.as_raw_fd()];
                    fork_child(channel, &close, &mut kids, request != b"S");
                }
                Ok(_) => {}        // a malformed request: ignore it, keep serving
                Err(_) => exit(0), // the control socket closed: our owner is gone
            }
        }
    }
}

fn reap(kids: &mut HashMap<i32, Connection>) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                let (Some(pid), Some(code)) = (status.pid(), exit_code(status)) else {
                    continue;
                };
                if let Some(channel) = kids.remove(&pid.as_raw()) {
                    let _ = channel.send(&Report::Exited { code });
                }
            }
        }
    }
}

fn fork_child(
    channel: OwnedFd,
    close: &[RawFd],
    kids: &mut HashMap<i32, Connection>,
    watch_parent: bool,
) {
    let server = std::process::id() as i32;
    // SAFETY: the server is single-threaded, so the child is a complete copy.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // The control socket, the other children's channels and the
            // server's own descriptors (`close`), released without freeing
            // numbers the server's objects own.
            crate::connection::release_inherited(crate::connection::lock_open_fds(), close);
            if watch_parent {
                // SAFETY: prctl(PR_SET_PDEATHSIG) has no preconditions.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            }
            let mut mask = SigSet::empty();
            mask.add(Signal::SIGCHLD);
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&mask), None);
            // SAFETY: restoring the default disposition has no preconditions.
            unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
            let channel = Connection::from_fd(channel, true, true, true);
            let (spec, mut fds) = match recv_spec(&channel) {
                Ok(x) => x,
                Err(e @ Error::BuildMismatch { .. }) => {
                    crate::child::refuse_spec(&channel, "forkserver child", e)
                }
                // SAFETY: _exit is always safe to call.
                Err(_) => unsafe { libc::_exit(1) }, // the requester went away
            };
            // SAFETY: as above.
            if unsafe { libc::getppid() } != server && spec.watch_parent {
                // SAFETY: _exit is always safe to call.
                unsafe { libc::_exit(1) }
            }
            let parent = if fds.is_empty() {
                None
            } else {
                Some(fds.remove(0))
            };
            crate::child::run_child(spec, fds, parent, channel, StartMethod::Forkserver)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let channel = Connection::from_fd(channel, true, true, true);
            let pid = child.as_raw();
            match pidfd_open(pid) {
                Ok(pidfd) => {
                    let bytes = Codec::Postcard
                        .encode(&Report::Started { pid })
                        .unwrap_or_default();
                    let _ = channel.send_frame(&bytes, &[pidfd.as_fd()]);
                }
                Err(_) => {
                    let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                }
            }
            kids.insert(pid, channel);
        }
        Err(_) => {
            // Could not fork: dropping the channel tells the requester (EOF).
        }
    }
}
