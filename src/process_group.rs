//! Running an external command as the leader of its own process group, and
//! ending the whole group: the one place where `mp` starts and tears down
//! the commands it runs.
//!
//! # The policy
//!
//! - **A new group.** The command leads a new process group (its pgid is
//!   its pid), so a signal to the group reaches everything it started
//!   that did not leave the group on purpose (`setsid`, `setpgid`).
//! - **A death signal, to the whole group.** Started by
//!   [`ProcessGroup::spawn`], the group gets [`DEATH_SIGNAL`] (SIGKILL) when
//!   this process dies, even by SIGKILL: the leader from the kernel
//!   (`PR_SET_PDEATHSIG`), every member from the group's *watchdog*, a small
//!   forked process of ours that waits on this process's pidfd and signals
//!   the group when it exits. SIGKILL, not SIGTERM: the parent that would
//!   have followed a TERM with a KILL after the grace period is gone, so a
//!   command that ignores TERM would outlive it for ever.
//! - **Teardown.** [`ProcessGroup::terminate`]: SIGTERM to the group, up to
//!   the grace period for the leader to exit (it is reaped) and the rest of
//!   the group to go, then SIGKILL to the group (harmless when it is empty;
//!   it ends a member that ignored TERM), then the leader is reaped if it
//!   was not yet.
//! - **Drop.** A group dropped before its leader was reaped is killed
//!   (SIGKILL) and reaped: no orphan, no zombie.
//!
//! [`ProcessGroup::adopt`] takes a leader started by other means (`mp map`
//! starts per-record commands with glibc's `posix_spawn` and
//! `POSIX_SPAWN_SETPGROUP`, which has no death signal, and ends the groups
//! of a dead worker with its subreaper, and those of a dead `mp map` with
//! one *sentinel* process per run): it gets the same signals, waits and
//! teardown, and neither death signal nor watchdog.
//!
//! # Example
//!
//! ```
//! use std::process::Command;
//! use std::time::Duration;
//! use mp::process_group::ProcessGroup;
//!
//! // A shell that starts a background sleep and waits: two processes.
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "sleep 30 & wait"]);
//! let mut group = ProcessGroup::spawn(&mut cmd)?;
//! // TERM to both, up to 2 s for them to go, KILL to whatever is left.
//! let status = group.terminate(Duration::from_secs(2))?;
//! assert!(!status.success());
//! assert!(group.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Caveats
//! - `PR_SET_PDEATHSIG` fires when the *thread* that started the command
//!   exits, not only the process: start commands from a thread that
//!   outlives them (the main thread, or one that waits for its command).
//! - The watchdog is forked just before the command, which writes its pid
//!   to it before it execs, so there is no moment when the command runs
//!   and would not be ended with this process. Each [`ProcessGroup::spawn`]
//!   adds that hook to the `Command`: spawn a `Command` once. It is a
//!   child of this process in this process's group, it ignores the
//!   terminal's signals, holds no descriptor of ours, and is killed and
//!   reaped when the group is terminated or dropped. When this process
//!   dies it signals the group it was given; should that group have ended
//!   just before and its id been reused at once, the signal would reach a
//!   stranger: the kernel reuses pids only after going round the whole
//!   pid space, so this is not a practical concern.
//! - A group id is a pid: once the leader is reaped and every member has
//!   gone, the kernel may give the number to a new process. Signal a group
//!   only while you know a member is left ([`ProcessGroup::is_empty`]), or
//!   right after reaping its leader, as teardown does.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::time::Duration;

/// The signal a command started by [`ProcessGroup::spawn`] gets when the
/// thread that started it dies.
pub const DEATH_SIGNAL: i32 = libc::SIGKILL;

/// How often teardown looks whether a group is empty (there is no event
/// for that; the leader's exit wakes it at once where a pidfd exists).
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// A command leading its own process group: see the [module docs](self).
#[derive(Debug)]
pub struct ProcessGroup {
    /// The leader's pid, which is the group's id.
    pid: i32,
    /// Readable once the leader has exited (None where pidfd_open failed).
    pidfd: Option<OwnedFd>,
    /// The leader's status, once reaped.
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// The watchdog's pid, while it runs (see the module docs).
    watchdog: Option<i32>,
}

impl ProcessGroup {
    /// Starts `cmd` as the leader of a new process group, with
    /// [`DEATH_SIGNAL`] as its parent-death signal. Its stdio is as `cmd`
    /// says; piped ends are taken with [`take_stdin`](Self::take_stdin) and
    /// the like.
    ///
    /// The errors are `Command::spawn`'s (`NotFound` for a missing program).
    pub fn spawn(cmd: &mut Command) -> io::Result<ProcessGroup> {
        let parent = std::process::id() as libc::pid_t;
        // The watchdog comes first, and the command tells it its pid before
        // it execs: no moment when the command runs and nobody would end
        // its group if this process died.
        let (watchdog, tell) = start_watchdog()?;
        let tell_fd = tell.as_raw_fd();
        cmd.process_group(0);
        // SAFETY: between fork and exec the closure makes only
        // async-signal-safe system calls (prctl, getpid, write, getppid,
        // kill) and builds an io::Error from an errno, which does not
        // allocate. `tell_fd` is open in the child until its exec
        // (close-on-exec), and this closure runs before that.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, DEATH_SIGNAL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                let me: libc::pid_t = libc::getpid();
                libc::write(
                    tell_fd,
                    (&me as *const libc::pid_t).cast::<libc::c_void>(),
                    std::mem::size_of::<libc::pid_t>(),
                );
                // The parent died before the prctl: the signal will never
                // come, so take it now.
                if libc::getppid() != parent {
                    libc::kill(me, DEATH_SIGNAL);
                }
                Ok(())
            });
        }
        let spawned = cmd.spawn();
        // The watchdog has the pid now, or end of file (nothing started).
        drop(tell);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                stop_watchdog(watchdog);
                return Err(e);
            }
        };
        let pid = child.id() as i32;
        let mut group = ProcessGroup::adopt(pid as u32, pidfd_open(pid).ok());
        group.watchdog = Some(watchdog);
        group.stdin = child.stdin.take();
        group.stdout = child.stdout.take();
        group.stderr = child.stderr.take();
        // Dropping the `Child` neither waits nor kills: the group reaps.
        drop(child);
        Ok(group)
    }

    /// Takes over a child of this process, not reaped yet, that leads its
    /// own process group (started with `setpgid(0, 0)`, e.g. by
    /// `posix_spawn` with `POSIX_SPAWN_SETPGROUP`), with its pidfd if there
    /// is one. Nothing is started and no system call is made: it gets no
    /// death signal from here.
    pub fn adopt(pid: u32, pidfd: Option<OwnedFd>) -> ProcessGroup {
        ProcessGroup {
            pid: pid as i32,
            pidfd,
            status: None,
            stdin: None,
            stdout: None,
            stderr: None,
            watchdog: None,
        }
    }

    /// The leader's pid, which is also the process group's id.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// A descriptor that becomes readable when the leader exits (for
    /// `poll` or [`crate::wait`]); None where the kernel has no pidfds.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// The write end of the command's stdin, if `cmd` piped it.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The read end of the command's stdout, if `cmd` piped it.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The read end of the command's stderr, if `cmd` piped it.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// Sends `sig` to every process of the group (`killpg`). An empty
    /// group is an error (`ESRCH`).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        // SAFETY: kill has no memory preconditions; -pid is our group
        // (pid > 1: it is a child of ours).
        if unsafe { libc::kill(-self.pid, sig) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The leader's status if it has exited (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = reap(self.pid, false)?;
        }
        Ok(self.status)
    }

    /// Waits for the leader to exit and reaps it. Other members of the
    /// group may still run: see [`terminate`](Self::terminate).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let s = reap(self.pid, true)?.expect("a blocking waitpid returns a status");
        self.status = Some(s);
        Ok(s)
    }

    /// Waits up to `limit` for the leader to exit (reaping it); None if it
    /// still runs.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = crate::deadline::after(Some(limit));
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let left = crate::deadline::left(deadline).unwrap_or(Duration::MAX);
            if left.is_zero() {
                return Ok(None);
            }
            pause(self.pidfd.as_ref().map(|f| f.as_raw_fd()), left);
        }
    }

    /// Whether every process of the group is gone. A zombie is still a
    /// member: the leader until it is reaped, an orphaned member until
    /// init (or a subreaper) reaps it.
    pub fn is_empty(&self) -> bool {
        !group_alive(self.pid)
    }

    /// Ends the whole group: SIGTERM, up to `grace` for the leader to exit
    /// and the others to go, SIGKILL to what is left; returns the leader's
    /// status (reaping it). Safe to call again, or after the leader exited
    /// by itself (its leftovers get the same treatment).
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        let pidfd = self.pidfd.as_ref().map(|f| f.as_raw_fd());
        let mut status = self.status;
        let mut error = None;
        end_groups(
            1,
            |_| self.pid,
            |_, block| match status {
                Some(_) => true,
                None => match reap(self.pid, block) {
                    Ok(s) => {
                        status = s;
                        s.is_some()
                    }
                    Err(e) => {
                        error = Some(e);
                        true
                    }
                },
            },
            pidfd,
            grace,
        );
        self.status = status;
        self.stop_watchdog();
        match (status, error) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Err(e),
            (None, None) => Err(io::Error::other("the leader was not reaped")),
        }
    }
}

impl ProcessGroup {
    /// Kills and reaps the watchdog, if it runs.
    fn stop_watchdog(&mut self) {
        if let Some(w) = self.watchdog.take() {
            stop_watchdog(w);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.signal(libc::SIGKILL);
            let _ = reap(self.pid, true);
        }
        self.stop_watchdog();
    }
}

/// Kills and reaps watchdog `w`.
fn stop_watchdog(w: i32) {
    // SAFETY: kill has no memory preconditions; `w` is our unreaped child,
    // so the pid is still its.
    unsafe { libc::kill(w, libc::SIGKILL) };
    reap_raw(w, true);
}

/// Forks a watchdog (see the module docs): its pid, and the pipe on which
/// the group's leader tells it the group's id.
fn start_watchdog() -> io::Result<(i32, OwnedFd)> {
    let parent = std::process::id() as libc::pid_t;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    // SAFETY: the child runs only `watchdog`, which makes async-signal-safe
    // system calls and never returns to Rust code of the parent's.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        // SAFETY: we are the freshly forked child.
        0 => unsafe { watchdog(parent, r.as_raw_fd()) },
        pid => Ok((pid, w)),
    }
}

/// The watchdog's whole life: let go of every descriptor but `tell` (a
/// pipe end held here would keep its reader from seeing end of file),
/// ignore the terminal's signals, read the group's id from `tell` (end of
/// file: nothing was started), wait until `parent` exits, send the group
/// [`DEATH_SIGNAL`], exit.
///
/// # Safety
/// Only in a child just forked from `parent`: it makes only
/// async-signal-safe system calls.
unsafe fn watchdog(parent: libc::pid_t, tell: libc::c_int) -> ! {
    // SAFETY: plain system calls with valid arguments and buffers.
    unsafe {
        become_guardian(Some(tell));
        let mut pgid: libc::pid_t = 0;
        let mut got = 0usize;
        let want = std::mem::size_of::<libc::pid_t>();
        while got < want {
            let n = libc::read(
                tell,
                (&mut pgid as *mut libc::pid_t).cast::<u8>().add(got).cast(),
                want - got,
            );
            if n > 0 {
                got += n as usize;
            } else if n == 0 || *libc::__errno_location() != libc::EINTR {
                // Nothing was started.
                libc::_exit(0);
            }
        }
        libc::close(tell);
        wait_for_parent_exit(parent);
        if pgid > 1 {
            libc::kill(-pgid, DEATH_SIGNAL);
        }
        libc::_exit(0)
    }
}

/// For a process forked to watch its parent (a watchdog, `mp map`'s
/// sentinel): ignores the signals a terminal or a job's group gets
/// (INT, TERM, HUP, QUIT, the stop signals, PIPE, USR1/2) and closes
/// every descriptor but `keep`, so that it holds no pipe end of its
/// parent's. Async-signal-safe: only `signal`, `close_range` and `close`
/// calls, fit for a child forked from a threaded process.
pub fn become_guardian(keep: Option<libc::c_int>) {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGPIPE,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: ignoring a signal has no handler to be unsound.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let close_range = |from: u32, to: u32| {
        // SAFETY: closes descriptors of this process only.
        from > to || unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) } == 0
    };
    let closed = match keep.and_then(|k| u32::try_from(k).ok()) {
        Some(k) => (k == 0 || close_range(0, k - 1)) && close_range(k + 1, u32::MAX),
        None => close_range(0, u32::MAX),
    };
    if !closed {
        for fd in (0..1024).filter(|&fd| Some(fd) != keep) {
            // SAFETY: as above.
            unsafe { libc::close(fd) };
        }
    }
}

/// Returns once process `parent`, this process's parent, has exited (at
/// once if it already has: this process was re-parented). Waits on a
/// pidfd; where there are none, looks at the parent ten times a second.
/// Async-signal-safe (`pidfd_open`, `poll`, `getppid`, `nanosleep`), for
/// a child forked from a threaded process.
pub fn wait_for_parent_exit(parent: libc::pid_t) {
    // SAFETY: plain system calls with valid arguments and buffers.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, parent, 0) as libc::c_int;
        // Opened before looking: if the parent is already gone, we were
        // re-parented (or the pid names another process by now).
        if libc::getppid() != parent {
            return;
        }
        if pidfd >= 0 {
            let mut fd = libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            };
            while libc::poll(&mut fd, 1, -1) <= 0 {}
            libc::close(pidfd);
        } else {
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            while libc::getppid() == parent {
                libc::nanosleep(&ts, std::ptr::null_mut());
            }
        }
    }
}

/// Ends the process groups led by `leaders` as [`ProcessGroup::terminate`]
/// does, all at once (TERM to each, one grace period for all, KILL to
/// each), reaping each leader that is a child of this process. For a
/// caller that keeps group ids rather than [`ProcessGroup`]s, such as a
/// signal handler. Async-signal-safe: it allocates nothing and makes only
/// `kill`, `waitpid`, `nanosleep` and `clock_gettime` calls.
pub fn terminate_all(leaders: &[i32], grace: Duration) {
    end_groups(
        leaders.len(),
        |i| leaders[i],
        // Not ours (ECHILD) or reaped: the leader is gone as far as we can tell.
        |i, block| reap_raw(leaders[i], block) != 0,
        None,
        grace,
    )
}

/// The teardown, over `n` groups: `pgid(i)` names group i; `leader_gone(i,
/// block)` reaps its leader (waiting when `block`) and says whether it is
/// gone; `pidfd` (one group) wakes the wait when the leader exits.
/// Async-signal-safe as long as the closures are.
fn end_groups(
    n: usize,
    pgid: impl Fn(usize) -> i32,
    mut leader_gone: impl FnMut(usize, bool) -> bool,
    pidfd: Option<libc::c_int>,
    grace: Duration,
) {
    let valid = |g: i32| g > 1;
    for i in 0..n {
        if valid(pgid(i)) {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(-pgid(i), libc::SIGTERM) };
        }
    }
    let deadline = crate::deadline::after(Some(grace));
    loop {
        let mut left = false;
        let mut leader_runs = false;
        for i in 0..n {
            let g = pgid(i);
            if !valid(g) {
                continue;
            }
            if !leader_gone(i, false) {
                left = true;
                leader_runs = true;
            } else if group_alive(g) {
                left = true;
            }
        }
        let wait = crate::deadline::left(deadline).unwrap_or(Duration::MAX);
        if !left || wait.is_zero() {
            break;
        }
        // A reaped leader's pidfd stays readable: then it would not pause.
        pause(pidfd.filter(|_| leader_runs), wait);
    }
    for i in 0..n {
        let g = pgid(i);
        if valid(g) {
            // SAFETY: as above; harmless (ESRCH) on an empty group.
            unsafe { libc::kill(-g, libc::SIGKILL) };
            leader_gone(i, true);
        }
    }
}

/// Whether any process of group `pgid` exists (signal 0 checks only).
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing.
    pgid > 1 && unsafe { libc::kill(-pgid, 0) } == 0
}

/// Sleeps up to [`LOOK_EVERY`] (at most `left`), woken early when `pidfd`
/// becomes readable. Async-signal-safe (poll).
fn pause(pidfd: Option<libc::c_int>, left: Duration) {
    let ms = left.min(LOOK_EVERY).as_millis().max(1) as libc::c_int;
    let mut fd = libc::pollfd {
        fd: pidfd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack; a negative fd is ignored by poll.
    unsafe { libc::poll(&mut fd, 1, ms) };
}

/// `waitpid(pid)`: the pid when it was reaped now, 0 when it still runs
/// (only without `block`), -1 on error (ECHILD: not ours, or reaped).
/// Retries EINTR. Async-signal-safe.
fn reap_raw(pid: i32, block: bool) -> i32 {
    reap_status(pid, block).0
}

fn reap_status(pid: i32, block: bool) -> (i32, libc::c_int) {
    let flags = if block { 0 } else { libc::WNOHANG };
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes one int.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return (r, status);
    }
}

/// Reaps `pid` (waiting when `block`): its status, or None while it runs.
fn reap(pid: i32, block: bool) -> io::Result<Option<ExitStatus>> {
    match reap_status(pid, block) {
        (r, status) if r == pid => Ok(Some(ExitStatus::from_raw(status))),
        (0, _) => Ok(None),
        _ => Err(io::Error::last_os_error()),
    }
}

/// `pidfd_open(2)` for a child of ours (race-free while it is unreaped).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: the syscall takes a pid and flags and returns a new descriptor or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::Stdio;
    use std::time::Instant;

    /// A shell in a new group that prints the pid of a background process
    /// it started (in the same group), then runs `rest`.
    /// `ignore_term`: the shell (and so the background process) ignores
    /// SIGTERM from before it prints.
    fn with_background(ignore_term: bool, rest: &str) -> (ProcessGroup, i32) {
        let trap = if ignore_term { "trap '' TERM; " } else { "" };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "{trap}sleep 60 >/dev/null & echo $!; exec >&-; {rest}"
            ))
            .stdout(Stdio::piped());
        let mut g = ProcessGroup::spawn(&mut cmd).unwrap();
        let mut line = String::new();
        g.take_stdout().unwrap().read_to_string(&mut line).unwrap();
        (g, line.trim().parse().unwrap())
    }

    fn exists(pid: i32) -> bool {
        // A zombie of init's still counts for kill(0): read the state.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                .is_some_and(|st| st != "Z")
        })
    }

    /// Whether `pid` is gone (or a zombie) within 10 s.
    fn gone_within(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while exists(pid) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    #[test]
    fn terminate_ends_the_whole_group_and_reaps_the_leader() {
        let (mut g, bg) = with_background(true, "while :; do sleep 1; done");
        assert!(exists(bg));
        let t = Instant::now();
        let status = g.terminate(Duration::from_millis(300)).unwrap();
        // It ignored TERM: KILL after the grace period.
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(t.elapsed() >= Duration::from_millis(300));
        // KILL is delivered asynchronously: poll, with a deadline.
        assert!(gone_within(bg), "the background process outlived terminate");
        // Again: nothing to do, same status.
        assert_eq!(g.terminate(Duration::ZERO).unwrap(), status);
    }

    #[test]
    fn terminate_returns_as_soon_as_the_group_is_gone() {
        let (mut g, bg) = with_background(false, "wait");
        let t = Instant::now();
        let status = g.terminate(Duration::from_secs(30)).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "waited out the grace"
        );
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(gone_within(bg));
    }

    #[test]
    fn terminate_all_ends_groups_by_id() {
        let (a, bg_a) = with_background(false, "wait");
        let (b, bg_b) = with_background(false, "wait");
        let ids = [a.id() as i32, b.id() as i32];
        terminate_all(&ids, Duration::from_secs(30));
        assert!(gone_within(bg_a) && gone_within(bg_b));
        // terminate_all reaped the leaders: the groups must not wait again;
        // dropping them stops their watchdogs.
        let (mut a, mut b) = (a, b);
        a.status = Some(ExitStatus::from_raw(0));
        b.status = Some(ExitStatus::from_raw(0));
    }

    #[test]
    fn dropping_an_unreaped_group_kills_and_reaps_it() {
        let (g, bg) = with_background(false, "wait");
        let pid = g.id() as i32;
        drop(g);
        assert!(!exists(pid));
        assert!(gone_within(bg));
        // Reaped: no child left with that pid.
        assert_eq!(reap_raw(pid, false), -1);
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let e = ProcessGroup::spawn(&mut Command::new("/nonexistent/mp-test")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn wait_timeout_and_try_wait() {
        let mut g = ProcessGroup::spawn(
            Command::new("sh")
                .args(["-c", "read x"])
                .stdin(Stdio::piped()),
        )
        .unwrap();
        assert!(g.pidfd().is_some());
        assert_eq!(g.try_wait().unwrap(), None);
        assert_eq!(g.wait_timeout(Duration::from_millis(20)).unwrap(), None);
        drop(g.take_stdin());
        let s = g.wait_timeout(Duration::from_secs(30)).unwrap().unwrap();
        assert_eq!(s.code(), Some(1));
        assert_eq!(g.wait().unwrap(), s);
        // Reaped, and it started nothing: no member left.
        assert!(g.is_empty());
    }
}
