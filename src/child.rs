//! The life of a child process, once a launcher in [`crate::popen`] has
//! started it: the bootstrap that turns a spawned copy of the program into
//! the child (or the forkserver) it was started as, then [`run_child`]:
//! become the process the parent described, say so, watch the parent, run
//! the target, report a panic, exit.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use crate::connection::Connection;
use crate::context::StartMethod;
use crate::error::{Error, Result};
use crate::popen::{forkserver, recv_spec, set_cloexec, spawn, ChildSpec, Report};

/// What a copy of this program started by spawn or the forkserver finds in
/// its argv (see `spawn::self_command`): `PROGRAM MARKER FD PID`.
struct StartArgs {
    /// `Some("spawn")` or `Some("forkserver")` after the marker; None for a
    /// process started otherwise.
    method: Option<&'static str>,
    /// The inherited descriptor and the parent's pid, when well formed.
    fd_and_parent: Option<(RawFd, i32)>,
}

fn start_args() -> StartArgs {
    let mut args = std::env::args_os().skip(1);
    let method = match args.next() {
        Some(a) if a == spawn::SPAWN_ARG => Some("spawn"),
        Some(a) if a == forkserver::FORKSERVER_ARG => Some("forkserver"),
        _ => None,
    };
    let mut number = || args.next()?.to_str()?.parse::<i32>().ok();
    let fd_and_parent = match (method, number(), number()) {
        (Some(_), Some(fd), Some(parent)) => Some((fd, parent)),
        _ => None,
    };
    StartArgs {
        method,
        fd_and_parent,
    }
}

/// Set by [`bootstrap`] when this process became a child or the
/// forkserver (its argv still holds the marker: argv cannot be changed).
static BOOTSTRAPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Refuses to start children from a process whose bootstrap was skipped.
pub(crate) fn check_bootstrap() -> Result<()> {
    if BOOTSTRAPPED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    match start_args().method {
        Some(method) => Err(Error::BootstrapMissing(method)),
        None => Ok(()),
    }
}

/// `freeze_support()`: become the child or the forkserver if asked to.
pub(crate) fn bootstrap() {
    let start = start_args();
    let Some(method) = start.method else {
        return;
    };
    BOOTSTRAPPED.store(true, std::sync::atomic::Ordering::Relaxed);
    let Some((raw, parent)) = start.fd_and_parent else {
        eprintln!("mp: malformed {method} start-up arguments (expected: {method} marker, descriptor, parent pid)");
        // SAFETY: _exit is always safe to call.
        unsafe { libc::_exit(1) }
    };
    let Some(fd) = inherited_fd(method, raw) else {
        // SAFETY: _exit is always safe to call.
        unsafe { libc::_exit(1) }
    };
    if method == "forkserver" {
        forkserver::serve(fd, Some(parent));
    }
    let channel = Connection::from_fd(fd, true, true, true);
    let (spec, mut fds) = match recv_spec(&channel) {
        Ok(x) => x,
        Err(e) => refuse_spec(&channel, "spawned child", e),
    };
    let parent_pidfd = if fds.is_empty() {
        None
    } else {
        Some(fds.remove(0))
    };
    run_child(spec, fds, parent_pidfd, channel, StartMethod::Spawn);
}

/// Takes ownership of the descriptor the parent named in argv.
fn inherited_fd(method: &str, raw: RawFd) -> Option<OwnedFd> {
    if raw <= 2 {
        eprintln!("mp: {method} start-up descriptor {raw} is a standard stream");
        return None;
    }
    // SAFETY: fcntl(F_GETFD) only inspects the descriptor.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        eprintln!("mp: {method} start-up descriptor {raw} is not open");
        return None;
    }
    // SAFETY: the parent left this descriptor open for us (it names it in
    // argv) and nothing else in this fresh process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_cloexec(fd.as_raw_fd());
    Some(fd)
}

/// A child that cannot use the spec it was sent (unreadable, or from another
/// build) says why on stderr and to its parent (which shows it as the
/// process's [`failure`](crate::Process::failure)), and exits with 1.
pub(crate) fn refuse_spec(channel: &Connection, who: &str, e: Error) -> ! {
    let text = match e {
        Error::BuildMismatch { .. } => e.to_string(),
        e => format!("could not read its start-up message: {e}"),
    };
    eprintln!("mp: {who} (pid {}): {text}", std::process::id());
    let _ = channel.send(&Report::Failed(text));
    // SAFETY: _exit is always safe to call.
    unsafe { libc::_exit(1) }
}

static PANIC_TEXT: Mutex<Option<String>> = Mutex::new(None);

/// The text of the last panic in this process (message and location, as
/// recorded by the child's panic hook), or the payload's message.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = PANIC_TEXT.lock().unwrap_or_else(|e| e.into_inner()).take() {
        return text;
    }
    payload
        .downcast_ref::<&str>()
        .map(|s| format!("panicked: {s}"))
        .or_else(|| {
            payload
                .downcast_ref::<String>()
                .map(|s| format!("panicked: {s}"))
        })
        .unwrap_or_else(|| "panicked".into())
}

/// The life of a child after it knows what to run. Never returns.
pub(crate) fn run_child(
    spec: ChildSpec,
    fds: Vec<OwnedFd>,
    parent_pidfd: Option<OwnedFd>,
    channel: Connection,
    method: StartMethod,
) -> ! {
    let watch = match (&parent_pidfd, spec.watch_parent) {
        (Some(fd), true) if method != StartMethod::Forkserver => fd.try_clone().ok(),
        _ => None,
    };
    crate::process::become_child(&mut crate::process::state(), &spec, parent_pidfd);
    let _ = channel.send(&Report::Booted);
    if let Some(fd) = watch {
        watch_parent(fd);
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".into());
        let text = match info.location() {
            Some(l) => format!(
                "panicked at {}:{}:{}: {msg}",
                l.file(),
                l.line(),
                l.column()
            ),
            None => format!("panicked: {msg}"),
        };
        *PANIC_TEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        previous(info);
    }));
    // SAFETY: the offsets came from our parent, which runs this same build:
    // under fork it is the same image; under spawn and forkserver `recv_spec`
    // checked the parent's build identity.
    let (tramp, func) = unsafe { crate::target::decode_target(spec.target) };
    let args = spec.args;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        crate::reduction::with_fds(fds, || tramp(func, spec.target.fingerprint, &args))
    }));
    let code = match result {
        Ok(Ok(())) => 0,
        Ok(Err(text)) => {
            eprintln!("mp: process {}: {text}", spec.name);
            let _ = channel.send(&Report::Failed(text));
            1
        }
        Err(payload) => {
            let _ = channel.send(&Report::Failed(panic_text(&*payload)));
            1
        }
    };
    crate::process::exit_cleanup();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process without running the parent's atexit
    // handlers, which a forked child inherited and must not run.
    unsafe { libc::_exit(code) }
}

/// Kills this process when the parent process (whole process, not thread) exits.
fn watch_parent(parent: OwnedFd) {
    let spawned = std::thread::Builder::new()
        .name("mp-parent-watch".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            // Signals are for the process's main thread: a child's SIGCHLD
            // must not wake this one.
            // SAFETY: changing this thread's own mask with a filled set.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            }
            let _ = crate::connection::wait(&[&parent], None);
            // SAFETY: raising a signal on ourselves has no preconditions.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        });
    if spawned.is_err() {
        eprintln!("mp: could not start the parent watcher; this process will outlive its parent");
    }
}
