//! Running one external command as a pool task: the engine of `mp map`,
//! part of the command line (the library does not install signal handlers
//! behind its users' backs; it offers [`mp::process_group`] instead).
//!
//! # Running one record
//!
//! [`run_task`] is a plain `fn(CommandTask) -> CommandOutcome`, so it runs in
//! [`mp::Pool`] workers like any task: the command is a child of a pool
//! worker, and `maxtasksperchild` really recycles the process that starts it.
//! A pool that runs it registers [`prepare_worker`] as its initializer and
//! [`finish_worker`] as its finalizer; the process that owns the pool calls
//! [`reap_orphans`] first and [`end_orphans`] on the way out. Persistent
//! workers run [`Block`]s with [`run_block`] the same way.
//!
//! Nothing a task started outlives `mp`: a command whose worker dies is
//! ended by the subreaper (`reaper`), and the running commands of an `mp`
//! that is itself killed outright (SIGKILL, the OOM killer) by the
//! sentinel (`sentinel`), a small process forked by [`reap_orphans`] that
//! the workers tell, through shared memory, which process groups they run.
//!
//! - The command gets its own process group, so a time limit or Ctrl-C ends
//!   the whole tree it started: SIGTERM to the group, a grace period, SIGKILL.
//! - stdout and stderr are captured whole; past [`SPILL_BYTES`] they go to an
//!   unlinked-on-read temporary file instead of memory.
//! - If the worker is told to stop (SIGINT, SIGTERM, SIGHUP) while a command
//!   runs, it ends the command's group the same way before exiting.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

mod persistent;
mod reaper;
mod sentinel;
mod spawn;
pub use persistent::{count_newlines, run_block, Block, BlockOutcome, Frame, PersistentCommand};
pub use reaper::{end_orphans, reap_orphans};
pub use sentinel::SLOTS;

/// Captured output beyond this many bytes is written to a temporary file.
pub const SPILL_BYTES: usize = 1 << 20;

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandTask {
    /// The program and its arguments, or a single shell command line when
    /// `shell` is set: bytes, exactly as given (a file name need not be UTF-8).
    pub argv: Vec<OsString>,
    /// Run `argv[0]` with `sh -c`.
    pub shell: bool,
    /// The record number (1-based), exported as `MP_SEQ`.
    pub seq: u64,
    /// Time limit for the whole command.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the command is stopped.
    pub grace: Duration,
    /// Data to write to the command's stdin (None: /dev/null).
    pub stdin: Option<Vec<u8>>,
    /// `--line-buffer`: instead of capturing the output whole, write each
    /// complete line of it to this worker's own stdout or stderr as it
    /// comes, starting with these bytes (`--tag`'s record and TAB, or
    /// nothing). See [`LineSink`].
    #[serde(default)]
    pub line_buffer: Option<Vec<u8>>,
}

/// Captured output: in memory, or spilled to a file the receiver reads and removes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Captured {
    /// Small output.
    Inline(Vec<u8>),
    /// Large output, in this file.
    Spilled(PathBuf),
}

impl Captured {
    /// Copies the output to `out` (removing a spill file) and returns its size.
    pub fn write_to(self, out: &mut dyn Write) -> std::io::Result<u64> {
        match self {
            Captured::Inline(v) => {
                out.write_all(&v)?;
                Ok(v.len() as u64)
            }
            Captured::Spilled(path) => {
                let mut f = std::fs::File::open(&path)?;
                let _ = std::fs::remove_file(&path);
                std::io::copy(&mut f, out)
            }
        }
    }

    /// The output as bytes (reading and removing a spill file).
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.write_to(&mut v)?;
        Ok(v)
    }

    /// Removes a spill file without reading it.
    pub fn discard(self) {
        if let Captured::Spilled(p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// Exit code, if it exited.
    pub exit_code: Option<i32>,
    /// Signal number, if a signal ended it.
    pub signal: Option<i32>,
    /// It ran past its time limit and was stopped.
    pub timed_out: bool,
    /// It could not be started (the reason), e.g. command not found.
    pub spawn_error: Option<String>,
    /// Captured stdout.
    pub stdout: Captured,
    /// Captured stderr.
    pub stderr: Captured,
    /// Start time, seconds since the Unix epoch.
    pub start: f64,
    /// Run time.
    pub duration: Duration,
    /// The pool worker that ran it.
    pub worker_pid: u32,
    /// The command's pid.
    pub pid: Option<u32>,
    /// `--line-buffer`: stdout bytes already written by the worker (not in
    /// `stdout`).
    #[serde(default)]
    pub streamed: u64,
    /// `--line-buffer`: writing a line failed because the reader of the
    /// output went away (EPIPE); the rest was dropped.
    #[serde(default)]
    pub output_closed: bool,
}

impl CommandOutcome {
    /// Exited with status 0 in time.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && self.spawn_error.is_none()
    }
}

/// The process group of the command this worker is running (0: none).
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);
/// Set while a task runs in this worker: the task's own code ends its
/// command and the worker when told to stop. Unset (idle), the handler does.
static IN_TASK: AtomicBool = AtomicBool::new(false);
/// Set by the signal handler: stop the command and exit.
static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static HANDLERS: std::sync::Once = std::sync::Once::new();

/// The stop-signal handler.
///
/// While a task runs it never exits the process: the command may have been
/// started and its group not yet recorded (the window between `spawn` and
/// [`record_group`]), and exiting then would orphan it. It ends the group
/// recorded, if any, and leaves the rest to the task, which looks at
/// [`STOP`] after recording a group, in its wait loop, and when it returns
/// (see [`as_task`]). The stores and loads are all SeqCst, so of "handler:
/// set STOP, then read the group" and "task: record the group, then read
/// STOP", at least one side sees the other's write: a command is always
/// ended by one of them (or both: a second SIGTERM is harmless).
extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
    let group = CURRENT_GROUP.load(Ordering::SeqCst);
    if IN_TASK.load(Ordering::SeqCst) {
        if group > 0 {
            // The task's loop notices STOP (its poll returns EINTR, or the
            // command's exit wakes it), waits out the grace period and exits.
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(-group, libc::SIGTERM) };
        }
        return;
    }
    // Idle: nothing else to clean up.
    end_group_and_exit(group, sig)
}

/// Ends `group` (0: none), the persistent command an idle worker keeps,
/// giving it half a second to go on SIGTERM before SIGKILL
/// ([`mp::process_group::terminate_all`]), then exits with 128 + `sig`.
/// Async-signal-safe.
fn end_group_and_exit(group: i32, sig: libc::c_int) -> ! {
    if group > 0 {
        mp::process_group::terminate_all(&[group], Duration::from_millis(500));
        forget_group();
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Records `pid` as the group of the command this worker runs, right after
/// starting it (its pgid is its pid). A stop signal that came before the
/// record (the handler found no group to end) ends the group here.
fn record_group(pid: i32) {
    CURRENT_GROUP.store(pid, Ordering::SeqCst);
    sentinel::record(mp::pool::worker_slot(), pid);
    if let Some(log) = spawn::test_recorded_log() {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| writeln!(f, "{pid}"));
    }
    if STOP.load(Ordering::SeqCst) {
        // SAFETY: signalling the group the command leads.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
    }
}

/// Forgets the group of the command this worker ran, once its leader is
/// reaped (or the group ended). Async-signal-safe.
fn forget_group() {
    CURRENT_GROUP.store(0, Ordering::SeqCst);
    sentinel::record(mp::pool::worker_slot(), 0);
}

fn install_handlers() {
    HANDLERS.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction with a valid handler and no SA_RESTART,
            // so a blocking poll returns EINTR and the runner notices STOP.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_stop_signal as *const () as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
}

/// Runs `f` as this worker's task: meanwhile a stop signal is left to the
/// task's own code, which ends its command's group before exiting. A stop
/// signal the task returned without acting on (it came before a command
/// started, or after it ended) ends the worker here.
fn as_task<R>(f: impl FnOnce() -> R) -> R {
    install_handlers();
    IN_TASK.store(true, Ordering::SeqCst);
    let r = f();
    IN_TASK.store(false, Ordering::SeqCst);
    // SeqCst, as in the handler: either it saw IN_TASK unset (and exits
    // itself) or we see STOP.
    if STOP.load(Ordering::SeqCst) {
        let group = CURRENT_GROUP.load(Ordering::SeqCst);
        end_group_and_exit(group, STOP_SIGNAL.load(Ordering::SeqCst));
    }
    r
}

/// Seconds since the Unix epoch.
fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `argv` as a command: the program and its arguments, or in shell mode
/// `sh -c argv[0]`. None for an empty argv.
fn base_command(argv: &[OsString], shell: bool) -> Option<Command> {
    let first = argv.first()?;
    Some(if shell {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(first);
        c
    } else {
        let mut c = Command::new(first);
        c.args(&argv[1..]);
        c
    })
}

/// What [`prepare_worker`] gives each pool worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerSetup {
    /// Where output past [`SPILL_BYTES`] is written (default: the temp
    /// dir). A caller that removes this directory on every exit path
    /// leaves nothing behind even when a worker is killed mid-task.
    pub spill_dir: Option<PathBuf>,
    /// The sentinel's table (see `sentinel`), where the worker records the
    /// process group of the command it runs.
    sentinel: Option<mp::reduction::Fd>,
}

impl WorkerSetup {
    /// The setup for this process's workers: `spill_dir`, and the table of
    /// the sentinel [`reap_orphans`] started, if it did.
    pub fn new(spill_dir: Option<PathBuf>) -> WorkerSetup {
        WorkerSetup {
            spill_dir,
            sentinel: sentinel::table_fd().map(mp::reduction::Fd::new),
        }
    }
}

/// A pool initializer for workers that will run commands: installs the
/// stop-signal handlers and prepares what starting a command needs (the
/// environment, `/dev/null`, the signals to reset), while the pool is still
/// reading its first records, not when the first task has arrived; and
/// maps the sentinel's table, so the commands this worker runs are ended
/// should the process that owns the pool be killed.
pub fn prepare_worker(setup: WorkerSetup) {
    install_handlers();
    spawn::prepare();
    *SPILL_DIR.lock().unwrap_or_else(|e| e.into_inner()) = setup.spill_dir;
    if let (Some(fd), Some(slot)) = (setup.sentinel, mp::pool::worker_slot()) {
        if let Err(e) = sentinel::attach(fd.into_inner(), slot) {
            log::warn!("worker slot {slot}: cannot map the sentinel's table: {e}");
        }
    }
}

/// A pool finalizer for workers that run commands
/// ([`mp::pool::PoolBuilder::finalizer`]): the worker's persistent
/// command, if any, gets end of file on its stdin and its grace time to
/// exit, then its group is ended.
pub fn finish_worker(_: ()) {
    persistent::on_worker_exit();
}

/// Where this worker writes spill files (None: the temp dir).
static SPILL_DIR: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// At most 200 bytes of a command for a message, marked where it was cut:
/// a 10 MB command line does not make a 10 MB error.
pub fn describe_command(s: &OsStr) -> String {
    const MAX: usize = 200;
    let b = s.as_bytes();
    if b.len() <= MAX {
        return String::from_utf8_lossy(b).into_owned();
    }
    format!(
        "{}... ({} bytes)",
        String::from_utf8_lossy(&b[..MAX]),
        b.len()
    )
}

/// Runs one command (a pool task function).
pub fn run_task(task: CommandTask) -> CommandOutcome {
    as_task(|| run_task_inner(task))
}

fn run_task_inner(task: CommandTask) -> CommandOutcome {
    let started = Instant::now();
    let start = epoch_now();
    let worker_pid = std::process::id();
    let fail = |reason: String| CommandOutcome {
        exit_code: None,
        signal: None,
        timed_out: false,
        spawn_error: Some(reason),
        stdout: Captured::Inline(Vec::new()),
        stderr: Captured::Inline(Vec::new()),
        start,
        duration: started.elapsed(),
        worker_pid,
        pid: None,
        streamed: 0,
        output_closed: false,
    };
    let Some(first) = task.argv.first() else {
        return fail("empty command".into());
    };
    let child = match spawn::spawn(&task, mp::pool::worker_slot()) {
        Ok(c) => c,
        Err(e) => return fail(format!("{}: {e}", describe_command(first))),
    };
    let mut group = child.group;
    let pid = group.id() as i32;
    if let Some(delay) = spawn::test_record_delay() {
        std::thread::sleep(delay);
    }
    record_group(pid);
    if let (Some(input), Some(data)) = (child.stdin, task.stdin) {
        // A small helper thread, so a command that does not read cannot block us.
        std::thread::spawn(move || {
            let _ = std::fs::File::from(input).write_all(&data);
        });
    }
    let pidfd = group.pidfd().expect("spawn returns a pidfd");
    let (mut out, mut err) = match &task.line_buffer {
        Some(prefix) => (
            Output::Lines(LineSink::new(libc::STDOUT_FILENO, prefix)),
            Output::Lines(LineSink::new(libc::STDERR_FILENO, prefix)),
        ),
        None => (
            Output::Whole(Sink::default()),
            Output::Whole(Sink::default()),
        ),
    };
    let mut pipes: Vec<(OwnedFd, bool)> = vec![(child.stdout, true), (child.stderr, false)];
    let deadline = mp::internals::deadline(started, task.timeout);
    let mut timed_out = false;
    let mut stopping_since: Option<Instant> = None;
    let mut exited = false;
    loop {
        if pipes.is_empty() && exited {
            break;
        }
        let now = Instant::now();
        // --line-buffer: with nobody left to read its output, the
        // command is stopped as on a signal (mp map then exits quietly).
        let unread = out.closed() || err.closed();
        if stopping_since.is_none()
            && (STOP.load(Ordering::SeqCst) || unread || deadline.is_some_and(|d| now >= d))
        {
            timed_out = !STOP.load(Ordering::SeqCst) && !unread;
            log::info!(
                "task {}: {}: SIGTERM to process group {pid}",
                task.seq,
                if timed_out {
                    "timed out"
                } else if unread {
                    "its output is no longer read"
                } else {
                    "stopping"
                }
            );
            // Teardown, step by step in this loop so that the pipes are
            // read meanwhile: TERM, the grace period, KILL.
            let _ = group.signal(libc::SIGTERM);
            stopping_since = Some(now);
        }
        if let Some(since) = stopping_since {
            if now.duration_since(since) >= task.grace {
                log::info!(
                    "task {}: still there after the grace period: SIGKILL to process group {pid}",
                    task.seq
                );
                let _ = group.signal(libc::SIGKILL);
                if exited {
                    // Grandchildren may hold the pipes open: stop waiting for them.
                    break;
                }
            }
        }
        let mut wait_for = deadline.map(|d| d.saturating_duration_since(now));
        if let Some(since) = stopping_since {
            let left = mp::internals::deadline(since, Some(task.grace))
                .map_or(Duration::MAX, |d| d.saturating_duration_since(now));
            wait_for = Some(wait_for.map_or(left, |w| w.min(left)));
        }
        if pipes.is_empty() {
            wait_for = Some(wait_for.map_or(Duration::from_millis(50), |w| {
                w.min(Duration::from_millis(50))
            }));
        }
        let mut objs: Vec<&dyn mp::connection::Waitable> = pipes
            .iter()
            .map(|(fd, _)| fd as &dyn mp::connection::Waitable)
            .collect();
        if !exited {
            objs.push(&pidfd);
        }
        let ready = mp::connection::wait(&objs, wait_for).unwrap_or_default();
        let mut closed = Vec::new();
        for &i in &ready {
            if i >= pipes.len() {
                exited = true;
                continue;
            }
            let (fd, is_out) = &pipes[i];
            let read = READ_BUF.with_borrow_mut(|buf| {
                let r = nix::unistd::read(fd.as_fd().as_raw_fd(), buf);
                if let Ok(n) = r {
                    let sink = if *is_out { &mut out } else { &mut err };
                    sink.push(&buf[..n]);
                }
                r
            });
            match read {
                Ok(0) => closed.push(i),
                Ok(_) | Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(_) => closed.push(i),
            }
        }
        for i in closed.into_iter().rev() {
            pipes.remove(i);
        }
        if exited {
            // The task is over when its command exits (as in GNU parallel):
            // what it wrote is in the pipes now; a background process it
            // left holding them does not keep the task running.
            for (fd, is_out) in &pipes {
                drain_available(fd, if *is_out { &mut out } else { &mut err });
            }
            break;
        }
    }
    let status = group.wait();
    forget_group();
    // Whatever is left of the group goes too: after a stop, at once; after
    // a normal exit, background processes the command left get SIGTERM
    // (ESRCH, harmless, when there are none). A process that ignores it is
    // the subreaper's to end (see `reap_orphans`).
    let leftover = if stopping_since.is_some() || timed_out {
        libc::SIGKILL
    } else {
        libc::SIGTERM
    };
    let _ = group.signal(leftover);
    let (exit_code, signal) = match status {
        Ok(s) => (s.code(), s.signal()),
        Err(_) => (None, None),
    };
    let output_closed = out.closed() || err.closed();
    let streamed = out.streamed();
    let outcome = CommandOutcome {
        exit_code,
        signal,
        timed_out,
        spawn_error: None,
        stdout: out.finish(),
        stderr: err.finish(),
        start,
        duration: started.elapsed(),
        worker_pid,
        pid: Some(pid as u32),
        streamed,
        output_closed,
    };
    if STOP.load(Ordering::SeqCst) {
        // We were told to stop: the command is gone; so are we.
        outcome.stdout.discard();
        outcome.stderr.discard();
        let sig = STOP_SIGNAL.load(Ordering::SeqCst);
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(128 + sig) };
    }
    outcome
}

/// Reads what is in the pipe now (FIONREAD), without waiting for more.
fn drain_available(fd: &OwnedFd, sink: &mut Output) {
    let mut left: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut left) } != 0 {
        return;
    }
    let mut left = usize::try_from(left).unwrap_or(0);
    READ_BUF.with_borrow_mut(|buf| {
        while left > 0 {
            let want = left.min(buf.len());
            match nix::unistd::read(fd.as_fd().as_raw_fd(), &mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    sink.push(&buf[..n]);
                    left -= n;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    });
}

thread_local! {
    /// The worker's buffer for reading a command's output (zeroed once, not
    /// per read: a 64 KiB stack array cost a memset on every read).
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 65536]);
}

/// Where a command's stdout or stderr goes.
enum Output {
    /// Captured whole, returned with the outcome.
    Whole(Sink),
    /// `--line-buffer`: written line by line as it comes.
    Lines(LineSink),
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        match self {
            Output::Whole(s) => s.push(data),
            Output::Lines(l) => l.push(data),
        }
    }

    /// The reader of the line-buffered output went away.
    fn closed(&self) -> bool {
        matches!(self, Output::Lines(l) if l.closed)
    }

    /// Bytes of the command's own output written line by line.
    fn streamed(&self) -> u64 {
        match self {
            Output::Whole(_) => 0,
            Output::Lines(l) => l.streamed,
        }
    }

    /// What is left for the receiver of the outcome: the captured output,
    /// or nothing once the last line (even without its newline) is out.
    fn finish(self) -> Captured {
        match self {
            Output::Whole(s) => s.finish(),
            Output::Lines(mut l) => {
                l.flush_partial();
                Captured::Inline(Vec::new())
            }
        }
    }
}

/// `--line-buffer`: a command's output, written to one of this worker's
/// own descriptors (stdout or stderr, which are `mp map`'s) a complete
/// line at a time, as soon as the line is there, each line starting with
/// `prefix`. The pool's workers share the descriptor; each write holds an
/// exclusive `flock` on a lock file every worker opens itself (see
/// [`line_lock`]), so lines of different tasks never mix, however long
/// they are and whatever the descriptor is (a pipe is atomic only up to
/// 4 KiB, a socket not at all). A line longer than [`SPILL_BYTES`] is
/// written in pieces rather than held in memory.
struct LineSink {
    fd: libc::c_int,
    prefix: Vec<u8>,
    /// The start of a line whose newline has not come yet.
    partial: Vec<u8>,
    /// What is written next (reused).
    buf: Vec<u8>,
    /// Bytes of the command's output written so far.
    streamed: u64,
    /// A write failed: the rest is dropped.
    closed: bool,
    /// The last write ended within a line (one longer than
    /// [`SPILL_BYTES`]): the next one continues it, without a prefix.
    mid_line: bool,
}

impl LineSink {
    fn new(fd: libc::c_int, prefix: &[u8]) -> LineSink {
        LineSink {
            fd,
            prefix: prefix.to_vec(),
            partial: Vec::new(),
            buf: Vec::new(),
            streamed: 0,
            closed: false,
            mid_line: false,
        }
    }

    fn push(&mut self, data: &[u8]) {
        match data.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                let (lines, rest) = data.split_at(end + 1);
                let partial = std::mem::take(&mut self.partial);
                self.write_lines(&[&partial, lines]);
                self.partial = partial;
                self.partial.clear();
                self.partial.extend_from_slice(rest);
            }
            None => self.partial.extend_from_slice(data),
        }
        if self.partial.len() > SPILL_BYTES {
            self.flush_partial();
        }
    }

    /// Writes the unfinished line as it is (at the end of the task, or
    /// when it grows past [`SPILL_BYTES`]).
    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.write_lines(&[&partial]);
            self.partial = partial;
            self.partial.clear();
        }
    }

    /// Writes `parts` (together: whole lines, or one unfinished line) with
    /// the prefix before each line, under the workers' lock.
    fn write_lines(&mut self, parts: &[&[u8]]) {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        self.streamed += n as u64;
        if self.closed || n == 0 {
            return;
        }
        self.buf.clear();
        if self.prefix.is_empty() {
            for p in parts {
                self.buf.extend_from_slice(p);
            }
        } else {
            let mut at_start = !self.mid_line;
            for p in parts {
                for piece in p.split_inclusive(|&b| b == b'\n') {
                    if at_start {
                        self.buf.extend_from_slice(&self.prefix);
                    }
                    self.buf.extend_from_slice(piece);
                    at_start = piece.ends_with(b"\n");
                }
            }
        }
        self.mid_line = !self.buf.ends_with(b"\n");
        let lock = line_lock();
        if let Some(f) = lock {
            // SAFETY: flock on a descriptor we own.
            while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
            }
        }
        // SAFETY: our stdout or stderr, borrowed for the write and not
        // closed (ManuallyDrop).
        let out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(self.fd) });
        if (&*out).write_all(&self.buf).is_err() {
            self.closed = true;
        }
        if let Some(f) = lock {
            // SAFETY: as above.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

/// The lock file `--line-buffer` writes hold (see [`LineSink`]): opened by
/// each worker itself, so each has its own open file description and the
/// workers' `flock`s exclude each other. In the spill directory the
/// process that owns the pool removes on exit; None (no lock: writes may
/// then mix only past the descriptor's own atomicity) without one.
fn line_lock() -> Option<&'static std::fs::File> {
    static LOCK: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| {
        let dir = SPILL_DIR
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("line-buffer.lock"))
            .ok()
    })
    .as_ref()
}

/// Collects output in memory up to [`SPILL_BYTES`], then in a temporary file.
#[derive(Default)]
struct Sink {
    mem: Vec<u8>,
    file: Option<(std::fs::File, PathBuf)>,
}

impl Sink {
    fn push(&mut self, data: &[u8]) {
        if self.file.is_none() && self.mem.len() + data.len() > SPILL_BYTES {
            let dir = SPILL_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let made = match &dir {
                Some(d) => tempfile::Builder::new().prefix("mp-out-").tempfile_in(d),
                None => tempfile::Builder::new().prefix("mp-out-").tempfile(),
            };
            if let Ok(f) = made {
                if let Ok((mut file, path)) = f.keep() {
                    if file.write_all(&self.mem).is_ok() {
                        self.mem = Vec::new();
                        self.file = Some((file, path));
                    }
                }
            }
        }
        match &mut self.file {
            Some((f, _)) => {
                let _ = f.write_all(data);
            }
            None => self.mem.extend_from_slice(data),
        }
    }

    fn finish(self) -> Captured {
        match self.file {
            Some((_, path)) => Captured::Spilled(path),
            None => Captured::Inline(self.mem),
        }
    }
}
