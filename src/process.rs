//! Processes (CPython's `multiprocessing.process`).
//!
//! ```no_run
//! fn f(name: String) {
//!     println!("hello {name}");
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let p = mp::Process::new(f, "bob".to_string());
//!     p.start().unwrap();
//!     p.join(None).unwrap();
//!     assert_eq!(p.exitcode(), Some(0));
//! }
//! ```
//!
//! # Caveats
//! - **Dropping a `Process` does not stop the child**, as in Python: the
//!   handle is shared with [`active_children`]. When this process exits
//!   normally (returning from `main` or `std::process::exit`), `mp` terminates
//!   its daemon children and then waits for the others, exactly as CPython does.
//! - **No orphans.** A child is killed (SIGKILL) when its parent process dies,
//!   however it dies, unless it was started with
//!   [`with_survive_parent(true)`](Process::with_survive_parent). This holds per
//!   generation: grandchildren follow their own parent.
//! - **Reaping.** `mp` reaps its own children (in [`Process::join`],
//!   [`Process::is_alive`] and [`active_children`]). Do not set `SIGCHLD` to
//!   `SIG_IGN` or call `waitpid(-1)` yourself: the exit status would be lost and
//!   [`Process::join`] reports [`crate::Error::StatusLost`].
//! - **Standard input.** Under fork the child's stdin is `/dev/null` (as in
//!   CPython); under spawn and forkserver it is `/dev/null` from the start.
//!   stdout and stderr are shared with the parent.
//! - **fork and threads.** Under [`StartMethod::Fork`] only the calling thread
//!   exists in the child; a lock another thread held at that moment stays
//!   locked for ever. `mp` holds its own locks and Rust's stdout/stderr locks
//!   across the fork, so `println!` is safe in the child; other locks are your
//!   business. Prefer the default forkserver in threaded programs.
//! - A `Process` uses Linux pidfds (kernel 5.3 or newer): its
//!   [`sentinel`](Process::sentinel) is the pidfd, readable once the child has exited.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connection::{wait, Connection, Waitable};
use crate::context::{self, StartMethod};
use crate::error::{Error, Misuse, Result};
use crate::popen::{self, Launched, Report};

/// A child process running a function (`fn(A)`) with one argument.
///
/// The handle is cheap to clone; clones refer to the same child. See the
/// [module docs](self) for the caveats.
#[derive(Clone)]
pub struct Process {
    inner: Arc<Inner>,
}

struct Inner {
    config: Mutex<Config>,
    started: OnceLock<Started>,
    run: Mutex<Run>,
}

struct Config {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    method: Option<StartMethod>,
    survive_parent: bool,
    target: Option<PendingTarget>,
}

type Encoder = Box<dyn FnOnce() -> Result<(Vec<u8>, Vec<OwnedFd>)> + Send>;

struct PendingTarget {
    target: crate::target::EncodedFn,
    encode: Encoder,
}

struct Started {
    pid: i32,
    pidfd: OwnedFd,
    method: StartMethod,
    /// A child of this process (fork, spawn) rather than of the forkserver.
    direct: bool,
}

#[derive(Default)]
struct Run {
    exitcode: Option<i32>,
    channel: Option<Connection>,
    failure: Option<String>,
    booted: bool,
    closed: bool,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfg = lock(&self.inner.config);
        f.debug_struct("Process")
            .field("name", &cfg.name)
            .field("pid", &self.pid())
            .field("daemon", &cfg.daemon)
            .field("exitcode", &lock(&self.inner.run).exitcode)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Process {
    /// A process that will run `target(args)` once [`start`](Self::start)ed.
    ///
    /// `target` must be a plain function (or a closure that captures nothing);
    /// `args` is encoded with serde when the process starts (use a tuple for
    /// several arguments). A [`Connection`] or [`crate::reduction::Fd`] inside
    /// `args` is duplicated into the child.
    pub fn new<A>(target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let encoded = crate::target::encode_target(target);
        let encode: Encoder = Box::new(move || {
            let (bytes, fds) =
                crate::reduction::collect_fds(|| crate::connection::Codec::Postcard.encode(&args));
            Ok((bytes?, fds))
        });
        let (name, identity) = {
            let mut st = state();
            st.counter += 1;
            let mut identity = st.identity.clone();
            identity.push(st.counter);
            let name = format!(
                "Process-{}",
                identity
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(":")
            );
            (name, identity)
        };
        Process {
            inner: Arc::new(Inner {
                config: Mutex::new(Config {
                    name,
                    identity,
                    daemon: state().daemon,
                    method: None,
                    survive_parent: false,
                    target: Some(PendingTarget {
                        target: encoded,
                        encode,
                    }),
                }),
                started: OnceLock::new(),
                run: Mutex::new(Run::default()),
            }),
        }
    }

    /// Sets the name (default `Process-N`, or `Process-N:M` in a child).
    pub fn with_name(self, name: impl Into<String>) -> Self {
        lock(&self.inner.config).name = name.into();
        self
    }

    /// Makes this a daemon process: terminated when its parent exits, and not
    /// allowed to start children of its own. Default: the parent's own flag.
    pub fn with_daemon(self, daemon: bool) -> Self {
        lock(&self.inner.config).daemon = daemon;
        self
    }

    /// Chooses the start method for this process (default: [`context::get_start_method`]).
    pub fn with_start_method(self, method: StartMethod) -> Self {
        lock(&self.inner.config).method = Some(method);
        self
    }

    /// With `true`, the child keeps running if this process dies (by default
    /// it is killed with SIGKILL). Normal exit still joins or terminates it.
    pub fn with_survive_parent(self, survive: bool) -> Self {
        lock(&self.inner.config).survive_parent = survive;
        self
    }

    /// The process name.
    pub fn name(&self) -> String {
        lock(&self.inner.config).name.clone()
    }

    /// Renames the process (visible to the child only if done before `start`).
    pub fn set_name(&self, name: impl Into<String>) {
        lock(&self.inner.config).name = name.into();
    }

    /// The daemon flag.
    pub fn daemon(&self) -> bool {
        lock(&self.inner.config).daemon
    }

    /// Sets the daemon flag; only before [`start`](Self::start).
    pub fn set_daemon(&self, daemon: bool) -> Result<()> {
        if self.inner.started.get().is_some() {
            return Err(Error::Misuse(Misuse::ConfigAfterStart));
        }
        lock(&self.inner.config).daemon = daemon;
        Ok(())
    }

    /// The pid, once started.
    pub fn pid(&self) -> Option<i32> {
        self.inner.started.get().map(|s| s.pid)
    }

    /// Python's `ident`: the same as [`pid`](Self::pid).
    pub fn ident(&self) -> Option<i32> {
        self.pid()
    }

    /// The start method used (once started).
    pub fn start_method(&self) -> Option<StartMethod> {
        self.inner.started.get().map(|s| s.method)
    }

    /// The exit code once the child has finished and been joined: its exit
    /// status, or minus the signal number if a signal killed it (`-15` after
    /// [`terminate`](Self::terminate), `-9` after [`kill`](Self::kill)). A
    /// target that panics gives `1` (see [`failure`](Self::failure)).
    pub fn exitcode(&self) -> Option<i32> {
        lock(&self.inner.run).exitcode
    }

    /// Why the child failed, when it did so in a way `mp` saw: the panic
    /// message and location of a target that panicked, or a start-up problem.
    /// Available after [`join`](Self::join) returns.
    pub fn failure(&self) -> Option<String> {
        lock(&self.inner.run).failure.clone()
    }

    /// A descriptor (the child's pidfd) that becomes readable when the child
    /// exits; usable with `poll`/`epoll` or [`wait`].
    pub fn sentinel(&self) -> Result<RawFd> {
        self.started().map(|s| s.pidfd.as_raw_fd())
    }

    fn started(&self) -> Result<&Started> {
        if lock(&self.inner.run).closed {
            return Err(Error::Misuse(Misuse::ProcessClosed));
        }
        self.inner
            .started
            .get()
            .ok_or_else(|| Error::Misuse(Misuse::NotStarted))
    }

    /// Starts the child. A process can be started once.
    pub fn start(&self) -> Result<()> {
        crate::child::check_bootstrap()?;
        let (name, identity, daemon, method, watch_parent, target) = {
            let mut cfg = lock(&self.inner.config);
            let target = cfg
                .target
                .take()
                .ok_or_else(|| Error::Misuse(Misuse::AlreadyStarted))?;
            (
                cfg.name.clone(),
                cfg.identity.clone(),
                cfg.daemon,
                cfg.method
                    .or_else(|| context::get_start_method(false))
                    .unwrap_or(context::DEFAULT_START_METHOD),
                !cfg.survive_parent,
                target,
            )
        };
        let (parent_name, parent_daemon) = {
            let st = state();
            (st.name.clone(), st.daemon)
        };
        if parent_daemon {
            return Err(Error::Misuse(Misuse::DaemonChild));
        }
        let start_err = |reason: String| Error::Start {
            name: name.clone(),
            method,
            reason,
        };
        let (args, fds) = (target.encode)().map_err(|e| start_err(e.to_string()))?;
        let spec = popen::ChildSpec {
            name: name.clone(),
            identity,
            daemon,
            watch_parent,
            parent_pid: std::process::id() as i32,
            parent_name,
            target: target.target,
            args,
        };
        let launched: Launched = popen::launch(method, spec, fds).map_err(|e| match e {
            Error::Start { .. } | Error::BootstrapMissing(_) => e,
            other => start_err(other.to_string()),
        })?;
        let direct = launched.direct;
        let _ = self.inner.started.set(Started {
            pid: launched.pid,
            pidfd: launched.pidfd,
            method,
            direct,
        });
        {
            let mut run = lock(&self.inner.run);
            run.channel = Some(launched.channel);
            run.booted = method == StartMethod::Fork;
        }
        let mut st = state();
        st.children.push(self.clone());
        if !st.atexit_registered {
            st.atexit_registered = true;
            // SAFETY: `exit_hook` is an `extern "C" fn()` that never unwinds.
            unsafe { libc::atexit(exit_hook) };
        }
        Ok(())
    }

    /// Waits for the child to finish, at most `timeout` (`None`: no limit).
    /// Returns the exit code, or `None` if the timeout passed first.
    pub fn join(&self, timeout: Option<Duration>) -> Result<Option<i32>> {
        let started = self.started()?;
        if started.pid == std::process::id() as i32 {
            return Err(Error::Misuse(Misuse::NotAChild));
        }
        if let Some(code) = self.exitcode() {
            return Ok(Some(code));
        }
        if wait(&[&started.pidfd as &dyn Waitable], timeout)?.is_empty() {
            return Ok(None);
        }
        self.reap(true)
    }

    /// Whether the child is running (started and not yet exited). Reaps it if it has exited.
    pub fn is_alive(&self) -> bool {
        let Ok(started) = self.started() else {
            return false;
        };
        if self.exitcode().is_some() {
            return false;
        }
        match wait(&[&started.pidfd as &dyn Waitable], Some(Duration::ZERO)) {
            Ok(r) if r.is_empty() => true,
            _ => {
                let _ = self.reap(true);
                false
            }
        }
    }

    /// Sends SIGTERM (Python's `terminate()`); the exit code becomes `-15`.
    pub fn terminate(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Sends SIGKILL (Python's `kill()`); the exit code becomes `-9`.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends `sig` to the child. Signalling goes through the pidfd, so it can
    /// never hit another process that reused the pid. A child that has
    /// already exited is not an error.
    pub fn signal(&self, sig: i32) -> Result<()> {
        let started = self.started()?;
        if self.exitcode().is_some() {
            return Ok(());
        }
        match popen::pidfd_send_signal(started.pidfd.as_fd(), sig) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::io("pidfd_send_signal", e)),
        }
    }

    /// Releases the handle's resources. The child must have finished; after
    /// this, every method but the getters returns an error.
    pub fn close(&self) -> Result<()> {
        if self.inner.started.get().is_some() && self.exitcode().is_none() && self.is_alive() {
            return Err(Error::Misuse(Misuse::StillRunning));
        }
        let mut run = lock(&self.inner.run);
        run.channel = None;
        run.closed = true;
        Ok(())
    }

    /// Collects the exit status of a child whose pidfd is readable (or, with
    /// `block`, waits for it).
    fn reap(&self, block: bool) -> Result<Option<i32>> {
        let started = self.started()?;
        let mut run = lock(&self.inner.run);
        if let Some(code) = run.exitcode {
            return Ok(Some(code));
        }
        let code = if started.direct {
            let flags = if block {
                None
            } else {
                Some(nix::sys::wait::WaitPidFlag::WNOHANG)
            };
            loop {
                match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(started.pid), flags) {
                    Ok(nix::sys::wait::WaitStatus::StillAlive) => return Ok(None),
                    Ok(status) => match popen::exit_code(status) {
                        Some(code) => break code,
                        None => continue,
                    },
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        return Err(Error::StatusLost {
                            pid: started.pid,
                            reason: format!(
                            "waitpid: {e} (was SIGCHLD ignored, or the child reaped elsewhere?)"
                        ),
                        })
                    }
                }
            }
        } else {
            // Forkserver child: the server reaps it and sends its status on our channel.
            let channel = run.channel.as_ref().ok_or_else(|| Error::StatusLost {
                pid: started.pid,
                reason: "no channel to the forkserver".into(),
            })?;
            let mut code = None;
            let mut failure = None;
            let mut booted = run.booted;
            while code.is_none() {
                if !block && !channel.poll(Some(Duration::ZERO))? {
                    return Ok(None);
                }
                match channel.recv::<Report>() {
                    Ok(Report::Exited { code: c }) => code = Some(c),
                    Ok(Report::Failed(msg)) => failure = Some(msg),
                    Ok(Report::Booted) => booted = true,
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::StatusLost {
                            pid: started.pid,
                            reason: format!("the forkserver went away ({e})"),
                        })
                    }
                }
            }
            run.booted = booted;
            if failure.is_some() {
                run.failure = failure;
            }
            code.unwrap_or(-1)
        };
        // Whatever the child reported before it exited is already buffered.
        if let Some(channel) = run.channel.take() {
            while let Ok(true) = channel.poll(Some(Duration::ZERO)) {
                match channel.recv::<Report>() {
                    Ok(Report::Failed(msg)) => run.failure = Some(msg),
                    Ok(Report::Booted) => run.booted = true,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        if !run.booted && run.failure.is_none() {
            run.failure = Some(format!(
                "the child (pid {}) exited before running its target: it never reached \
                 mp's bootstrap; does main() call mp::freeze_support() first?",
                started.pid
            ));
        }
        run.exitcode = Some(code);
        drop(run);
        let me = Arc::as_ptr(&self.inner);
        state().children.retain(|p| Arc::as_ptr(&p.inner) != me);
        Ok(Some(code))
    }
}

impl Waitable for Process {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.started.get().map(|s| s.pidfd.as_fd())
    }
}

// ---- this process ----

pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) counter: u32,
    pub(crate) children: Vec<Process>,
    pub(crate) parent: Option<ParentProcess>,
    pub(crate) atexit_registered: bool,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(|| {
    Mutex::new(State {
        name: "MainProcess".into(),
        identity: Vec::new(),
        daemon: false,
        counter: 0,
        children: Vec::new(),
        parent: None,
        atexit_registered: false,
    })
});

pub(crate) fn state() -> MutexGuard<'static, State> {
    lock(&STATE)
}

/// Makes this (new) process's state that of the child described by `spec`.
/// Under fork the caller holds the guard across the fork.
pub(crate) fn become_child(st: &mut State, spec: &popen::ChildSpec, parent_pidfd: Option<OwnedFd>) {
    st.name = spec.name.clone();
    st.identity = spec.identity.clone();
    st.daemon = spec.daemon;
    st.counter = 0;
    EXITING.store(false, std::sync::atomic::Ordering::SeqCst);
    // Under fork these are the parent's children, not ours. Dropping the
    // handles takes no lock, and closes our copies of their descriptors.
    st.children.clear();
    st.parent = parent_pidfd.map(|fd| ParentProcess {
        pid: spec.parent_pid,
        name: spec.parent_name.clone(),
        pidfd: Arc::new(fd),
    });
}

extern "C" fn exit_hook() {
    // Never unwind out of an extern "C" function.
    let _ = std::panic::catch_unwind(exit_cleanup);
}

static EXITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True once this process has begun exiting: pools stop replacing workers.
pub(crate) fn exiting() -> bool {
    EXITING.load(std::sync::atomic::Ordering::SeqCst)
}

/// CPython's `_exit_function`: terminate daemon children, then join every child.
pub(crate) fn exit_cleanup() {
    EXITING.store(true, std::sync::atomic::Ordering::SeqCst);
    let children: Vec<Process> = state().children.clone();
    for p in &children {
        if p.daemon() && p.is_alive() {
            let _ = p.terminate();
        }
    }
    for p in &children {
        let _ = p.join(None);
    }
    crate::popen::forkserver::shutdown();
}

/// What [`current_process`] returns: this process's identity.
#[derive(Debug, Clone)]
pub struct CurrentProcess {
    /// `"MainProcess"`, or the name the parent gave.
    pub name: String,
    /// This process's pid.
    pub pid: i32,
    /// Whether this process is a daemon.
    pub daemon: bool,
    /// The position in the process tree (empty in the main process; `[1, 2]` for `Process-1:2`).
    pub identity: Vec<u32>,
}

/// Python's `current_process()`.
pub fn current_process() -> CurrentProcess {
    let st = state();
    CurrentProcess {
        name: st.name.clone(),
        pid: std::process::id() as i32,
        daemon: st.daemon,
        identity: st.identity.clone(),
    }
}

/// Python's `parent_process()`: the process that started this one, or `None` in the main process.
pub fn parent_process() -> Option<ParentProcess> {
    state().parent.clone()
}

/// Python's `active_children()`: the children still running. Finished ones are reaped.
pub fn active_children() -> Vec<Process> {
    let children: Vec<Process> = state().children.clone();
    children.into_iter().filter(|p| p.is_alive()).collect()
}

/// This process's parent, as seen from a child (see [`parent_process`]).
#[derive(Debug, Clone)]
pub struct ParentProcess {
    pid: i32,
    name: String,
    pidfd: Arc<OwnedFd>,
}

impl ParentProcess {
    /// The parent's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// The parent's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whether the parent is still running.
    pub fn is_alive(&self) -> bool {
        matches!(wait(&[self as &dyn Waitable], Some(Duration::ZERO)), Ok(r) if r.is_empty())
    }
    /// Waits until the parent exits, at most `timeout`; true if it has.
    pub fn join(&self, timeout: Option<Duration>) -> Result<bool> {
        Ok(!wait(&[self as &dyn Waitable], timeout)?.is_empty())
    }
    /// A descriptor (the parent's pidfd) readable once the parent has exited.
    pub fn sentinel(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}

impl Waitable for ParentProcess {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.pidfd.as_fd())
    }
}
