//! `mp lock NAME -- COMMAND` and `mp semaphore NAME -n N -- COMMAND`: run
//! a command while holding a lock (or one of N permits) on the manager, as
//! `flock` and `etcdctl lock` do.
//!
//! The lock is held through mp's connection to the manager, so it goes
//! with that connection: when mp ends in any way, even SIGKILL, the server
//! releases it (an mp extension: CPython's server would keep it for ever).
//!
//! | what happens | what mp does | exit |
//! |---|---|---|
//! | the command ends | release, exit with its status (killed by signal N: mp ends itself with N, as `timeout` does, so the calling shell sees the signal) | its own |
//! | `--timeout` passes before the lock is free | nothing runs | 124 |
//! | the manager cannot be reached, NAME is another type, bad usage after parsing | nothing runs | 125 |
//! | the command cannot be run / is not found | nothing runs | 126 / 127 |
//! | SIGINT, SIGTERM, SIGHUP while waiting for the lock | default action: mp ends (130/143/129 in the shell); the server drops the wait | — |
//! | INT, TERM, HUP, QUIT, USR1, USR2 while the command runs | forwarded to the command's process group; mp waits for it | its own |
//! | the connection to the manager breaks while the command runs | the lock is gone: TERM to the command's group, KILL after a grace period | 125 |
//! | mp is killed (SIGKILL) | the server releases; the command gets SIGKILL (parent-death signal) | — |
//!
//! The command runs in its own process group (as `mp map`'s tasks), so a
//! forwarded signal reaches everything it started. It is not the
//! terminal's foreground group: a command that reads the terminal stops.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use mp::managers::LockProxy;
use mp::pickle::Value;
use mp::process_group::ProcessGroup;

use super::{command_of, finish, ManagerOpts};
use crate::cli::map::parse_duration;

/// Exit code: `--timeout` passed before the lock was free (as timeout(1)).
pub const TIMED_OUT: i32 = 124;
/// Exit code: mp failed before running the command (as timeout(1), env(1)).
pub const FAILED: i32 = 125;
/// Exit code: the command was found but cannot be run.
pub const CANNOT_RUN: i32 = 126;
/// Exit code: the command was not found.
pub const NOT_FOUND: i32 = 127;

/// What is forwarded to the command's process group while it runs.
const FORWARDED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Between TERM and KILL when the command must stop (the lock is gone).
const GRACE: Duration = Duration::from_secs(2);

const LOCK_AFTER: &str = "\
Runs COMMAND while holding the lock NAME on the manager (made on first
use), then releases it: one COMMAND at a time among every mp lock (and
Python or Rust client) using NAME, on any host that reaches the manager.
The lock is held through mp's connection: if mp dies, even by SIGKILL, the
manager releases it and COMMAND gets SIGKILL. Python reaches the same lock
with register('NAME'): m.NAME().acquire().

COMMAND runs in its own process group; INT, TERM, HUP, QUIT, USR1 and USR2
sent to mp are forwarded to that group, and mp waits for COMMAND. Ctrl-C
while waiting for the lock ends mp at once and the manager forgets the wait.

Examples:
  export MP_ADDRESS=127.0.0.1:50000 MP_AUTHKEY_FILE=~/.mp-key
  mp lock deploy -- ./deploy.sh v2
  mp lock counter -- sh -c 'n=$(cat count); echo $((n + 1)) > count'
  mp lock --timeout 10s db-migrate -- ./migrate || echo \"busy or failed: $?\"

Exit codes: COMMAND's status (killed by a signal: mp ends itself with the
same signal, so the shell sees 128+N); 124 --timeout passed before the lock
was free; 125 mp failed before running COMMAND (manager unreachable within
--connect-timeout, NAME is not a lock, bad key), or the connection to the
manager broke while COMMAND ran (COMMAND was stopped: TERM, then KILL after
2 s); 126 COMMAND cannot be run; 127 COMMAND not found; 2 usage error.";

/// Arguments of `mp lock`.
#[derive(Debug, Args)]
#[command(after_help = LOCK_AFTER)]
pub struct LockArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    /// The lock.
    name: String,
    /// Give up waiting for the lock after DURATION (1.5, 500ms, 2m): exit
    /// 124, COMMAND not run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

const SEMAPHORE_AFTER: &str = "\
Runs COMMAND while holding one of the N permits of the semaphore NAME on
the manager (made on first use with N; every client must give the same
N): at most N COMMANDs at a time among every client using NAME. As mp lock
otherwise: the permit goes back when mp ends in any way, signals are
forwarded to COMMAND's process group, and the exit codes are the same.
Python reaches it with register('NAME'): m.NAME().acquire().

Examples:
  # at most 3 downloads at once, from any number of scripts and hosts
  mp semaphore downloads -n 3 -- curl -sO \"$url\"
  mp semaphore gpu -n 2 --timeout 1h -- ./train.sh

Exit codes: COMMAND's status (killed by a signal: mp ends itself with the
same signal); 124 --timeout passed before a permit was free; 125 mp failed
before running COMMAND (manager unreachable, NAME is not a semaphore of N
permits, bad key) or the connection broke while COMMAND ran (COMMAND was
stopped); 126 COMMAND cannot be run; 127 COMMAND not found; 2 usage error.";

/// Arguments of `mp semaphore`.
#[derive(Debug, Args)]
#[command(after_help = SEMAPHORE_AFTER)]
pub struct SemaphoreArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    /// The semaphore.
    name: String,
    /// How many holders at once.
    #[arg(short = 'n', long = "permits", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    permits: u32,
    /// Give up waiting for a permit after DURATION: exit 124, COMMAND not
    /// run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// `mp lock`.
pub fn lock(args: LockArgs) -> i32 {
    let what = format!("mp lock {}", args.name);
    hold(
        &what,
        &args.opts,
        &args.name,
        ("Lock", vec![]),
        args.timeout,
        args.command,
    )
}

/// `mp semaphore`.
pub fn semaphore(args: SemaphoreArgs) -> i32 {
    let what = format!("mp semaphore {}", args.name);
    hold(
        &what,
        &args.opts,
        &args.name,
        ("BoundedSemaphore", vec![Value::Int(args.permits.into())]),
        args.timeout,
        args.command,
    )
}

/// Takes the lock (or a permit), runs the command, releases.
fn hold(
    what: &str,
    opts: &ManagerOpts,
    name: &str,
    (typeid, ctor): (&str, Vec<Value>),
    timeout: Option<Duration>,
    command: Vec<OsString>,
) -> i32 {
    // Before the command runs, mp's own failures are 125 (its usage
    // errors found by clap are 2, as for every subcommand).
    let before = |r: Result<i32>| match finish(what, opts.address.as_deref(), r) {
        0 => 0,
        _ => FAILED,
    };
    let (program, args) = match command_of(command) {
        Ok(c) => c,
        Err(e) => return before(Err(e)),
    };
    let lock: LockProxy = match opts.named(name, typeid, ctor) {
        Ok(l) => l,
        Err(e) => return before(Err(e)),
    };
    let acquired = match timeout {
        None => lock.acquire().map(|()| true),
        Some(t) => lock.acquire_timeout(t),
    };
    match acquired {
        Ok(true) => {}
        Ok(false) => {
            eprintln!(
                "{what}: timed out after {:?}: not free",
                timeout.unwrap_or_default()
            );
            return TIMED_OUT;
        }
        Err(e) => return before(Err(e.into())),
    }
    // Watch the connection the lock is held through.
    let watch = match lock.base().connection_fd() {
        Ok(fd) => fd,
        Err(e) => return before(Err(e.into())),
    };
    let status = match run(what, &program, &args, watch) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Err(e) = lock.release() {
        eprintln!("{what}: could not release (the manager releases it when mp exits): {e}");
    }
    exit_like(status)
}

/// Runs the command in its own process group, forwarding signals to it,
/// until it ends (its status), or until `watch` (the manager connection)
/// closes: then the command is stopped and the error is the exit code.
///
/// One thread does it all: the signal handlers (and SIGCHLD) write a byte
/// to a socket pair, and mp polls that and `watch`.
fn run(
    what: &str,
    program: &OsString,
    args: &[OsString],
    watch: OwnedFd,
) -> std::result::Result<ExitStatus, i32> {
    let failed = |e: std::io::Error| {
        eprintln!("{what}: cannot handle signals: {e}");
        FAILED
    };
    let (wake_r, wake_w) = UnixStream::pair().map_err(failed)?;
    wake_r.set_nonblocking(true).map_err(failed)?;
    wake_w.set_nonblocking(true).map_err(failed)?;
    // Registered before the command starts: a signal meanwhile waits here
    // and is forwarded once it runs; SIGCHLD wakes the loop when it ends.
    let mut flags = Vec::with_capacity(FORWARDED.len());
    for sig in FORWARDED.into_iter().chain([libc::SIGCHLD]) {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(sig, flag.clone()).map_err(failed)?;
        signal_hook::low_level::pipe::register(sig, wake_w.try_clone().map_err(failed)?)
            .map_err(failed)?;
        flags.push((sig, flag));
    }
    let mut cmd = Command::new(program);
    cmd.args(args);
    // Its own group, and if mp dies (even by SIGKILL) the lock goes: so
    // must the command (the group's death signal).
    let mut group = ProcessGroup::spawn(&mut cmd).map_err(|e| {
        eprintln!("{what}: cannot run {}: {e}", program.to_string_lossy());
        match e.kind() {
            std::io::ErrorKind::NotFound => NOT_FOUND,
            _ => CANNOT_RUN,
        }
    })?;
    let waited = |r: std::io::Result<ExitStatus>| {
        r.map_err(|e| {
            eprintln!("{what}: waiting for the command: {e}");
            FAILED
        })
    };
    loop {
        match group.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return waited(Err(e)),
        }
        let (woken, lost) = wait_either(&wake_r, &watch);
        if woken {
            let mut buf = [0u8; 64];
            while matches!((&wake_r).read(&mut buf), Ok(n) if n > 0) {}
            for (sig, flag) in &flags {
                if *sig != libc::SIGCHLD && flag.swap(false, Ordering::SeqCst) {
                    let _ = group.signal(*sig);
                }
            }
        }
        if lost {
            eprintln!(
                "{what}: the connection to the manager broke: the lock is no longer held; \
                 stopping the command"
            );
            // TERM, then KILL after GRACE if any of it is still there.
            waited(group.terminate(GRACE))?;
            return Err(FAILED);
        }
    }
}

/// Blocks until the signal socket has a byte (`.0`) or the manager closed
/// `watch`'s connection (`.1`: it sends nothing unasked, so anything to
/// read means the end).
fn wait_either(wake: &UnixStream, watch: &OwnedFd) -> (bool, bool) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [
            PollFd::new(wake.as_fd(), PollFlags::POLLIN),
            PollFd::new(watch.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(n) if n > 0 => {
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                return (ready(&fds[0]), ready(&fds[1]));
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            // Cannot poll: wake up to look at the command again.
            Err(_) => return (true, false),
        }
    }
}

/// Exits as the command did: its code, or (killed by a signal that does
/// not dump core) by the same signal, so that a calling shell sees it —
/// bash stops a loop only when its child died of SIGINT. Other signals
/// are 128+N.
fn exit_like(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    let sig = status.signal().unwrap_or(0);
    if matches!(
        sig,
        libc::SIGINT
            | libc::SIGTERM
            | libc::SIGHUP
            | libc::SIGKILL
            | libc::SIGPIPE
            | libc::SIGALRM
            | libc::SIGUSR1
            | libc::SIGUSR2
    ) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // Back to the default action (our handler forwards), then the
        // signal itself.
        let _ = signal_hook::low_level::emulate_default_handler(sig);
    }
    128 + sig
}
