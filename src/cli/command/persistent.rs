//! Persistent worker commands: `mp map --persistent`.
//!
//! A pool worker starts the command once and keeps it for many records. Each
//! pool task is a [`Block`] of records; [`run_block`] writes them to the
//! command's stdin and reads one reply per record from its stdout, writing
//! and reading at the same time, so a command that buffers its output cannot
//! deadlock the worker.
//!
//! The protocol ([`Frame`]):
//! - `Lines`: a record is one line in, its reply one line out.
//! - `Json`: a record goes in as one line holding a JSON object
//!   `{"seq": N, "record": "text"}`; its reply is one JSON value, followed by
//!   a newline (it may span lines; a string reply may hold newlines).
//!
//! Failures are per record:
//! - The command exits, crashes or closes stdout: the first record without a
//!   reply is the one that failed; the records after it are given to a fresh
//!   command. Nothing is lost, nothing is answered twice.
//! - No reply within the time limit, counted from the previous reply (or
//!   from when the command started or got the block): the record fails as
//!   timed out, the command's process group is ended (SIGTERM, grace,
//!   SIGKILL) and a fresh command takes the rest.
//! - With retries, a failed record is given to the fresh command again.
//!
//! The command is a [`ProcessGroup`]: its own process group, with the
//! group's death signal, so it never outlives its worker (what it started
//! in the background is ended by `mp map`'s subreaper).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};

use mp::process_group::ProcessGroup;

use super::{as_task, base_command, epoch_now, forget_group, record_group, STOP, STOP_SIGNAL};

/// How records and replies are framed on the command's stdin and stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// One line per record, one line per reply.
    Lines,
    /// One JSON object line per record, one JSON value per reply.
    Json,
}

/// The command every worker keeps running.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersistentCommand {
    /// The program and its arguments, or one shell command line when `shell`
    /// is set; `{%}` in them becomes the worker slot (1, 2, ...). Bytes,
    /// exactly as given.
    pub argv: Vec<std::ffi::OsString>,
    /// Run `argv[0]` with `sh -c`.
    pub shell: bool,
    /// The protocol.
    pub frame: Frame,
    /// Time limit for each reply.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the command is stopped, and the
    /// time a recycled command has to exit after its stdin is closed.
    pub grace: Duration,
    /// Give a failed record to a fresh command up to this many more times.
    pub retries: u32,
    /// Replace the command after it has been given this many records.
    pub max_records: Option<u64>,
}

/// A pool task: consecutive records for one worker's command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Block {
    /// The command (shared by all blocks).
    pub command: Arc<PersistentCommand>,
    /// The record number of the first record.
    pub first_seq: u64,
    /// The framed records, each ending with a newline.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// A single record that cannot be framed: it fails with this reason and
    /// is not sent (`data` is empty).
    pub reject: Option<String>,
    /// Send `data` back in the outcome.
    pub echo: bool,
    /// Record each record's start and duration.
    pub timing: bool,
}

/// Why a record has no reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordFailure {
    /// Its index in the block.
    pub index: u32,
    /// How many times it was given to a command.
    pub attempts: u32,
    /// The command's exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the command, if one did.
    pub signal: Option<i32>,
    /// No reply in time.
    pub timed_out: bool,
    /// A sentence for the user.
    pub reason: String,
}

impl RecordFailure {
    fn new(index: usize, attempts: u32, reason: String) -> RecordFailure {
        RecordFailure {
            index: index as u32,
            attempts,
            exit_code: None,
            signal: None,
            timed_out: false,
            reason,
        }
    }
}

/// How a command's service of a block broke off.
enum End {
    /// It exited or closed its stdout.
    Gone,
    /// No reply in time.
    TimedOut,
    /// A reply was not JSON.
    BadJson(String),
}

/// What [`run_block`] returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockOutcome {
    /// The record number of the first record.
    pub first_seq: u64,
    /// Records in the block.
    pub nrecords: u32,
    /// One line per record that got a reply, in order (with `Frame::Json`,
    /// each value re-encoded on one line).
    #[serde(with = "serde_bytes")]
    pub replies: Vec<u8>,
    /// The records without a reply, by index.
    pub failures: Vec<RecordFailure>,
    /// The block's `data`, when asked for.
    #[serde(with = "serde_bytes")]
    pub echo: Option<Vec<u8>>,
    /// When the block started, seconds since the Unix epoch.
    pub start: f64,
    /// How long the block took.
    pub duration: Duration,
    /// Per record, when asked for: (start, seconds after `start`; run time in seconds).
    pub times: Vec<(f32, f32)>,
    /// The pool worker's pid.
    pub worker_pid: u32,
    /// (first record index, command pid): which command served which records.
    pub pids: Vec<(u32, u32)>,
}

impl BlockOutcome {
    /// A block of `nrecords` records none of which got a reply, each
    /// failing with `reason` after `attempts` tries: a record that cannot be
    /// framed, or (`mp map --listen`) a block whose workers were lost.
    pub fn all_failed(
        first_seq: u64,
        nrecords: u32,
        attempts: u32,
        reason: &str,
        timing: bool,
    ) -> BlockOutcome {
        let n = nrecords as usize;
        BlockOutcome {
            first_seq,
            nrecords,
            replies: Vec::new(),
            failures: (0..n)
                .map(|i| RecordFailure::new(i, attempts, reason.to_string()))
                .collect(),
            echo: None,
            start: epoch_now(),
            duration: Duration::ZERO,
            times: if timing {
                vec![(0.0, 0.0); n]
            } else {
                Vec::new()
            },
            worker_pid: 0,
            pids: Vec::new(),
        }
    }

    /// Whether this could be the outcome of `data` (framed records, each
    /// ending with a newline): as many records, each either answered by
    /// one line of `replies` or failed once, in order.
    pub fn fits(&self, data: &[u8]) -> bool {
        let n = self.nrecords as usize;
        let mut last = None;
        n == count_newlines(data)
            && count_newlines(&self.replies) + self.failures.len() == n
            && self.replies.last().is_none_or(|&c| c == b'\n')
            && self.failures.iter().all(|f| {
                let ok = (f.index as usize) < n && last.is_none_or(|l| f.index > l);
                last = Some(f.index);
                ok
            })
    }
}

/// The command this worker keeps.
struct Running {
    group: ProcessGroup,
    pid: i32,
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    /// Records fully written to it, over its life.
    fed: u64,
    /// Json frame: bytes read and not yet parsed into replies.
    pending: Vec<u8>,
    grace: Duration,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        // Larger pipes: fewer wake-ups for fast commands (best effort).
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

fn start(cmd: &PersistentCommand) -> Result<Running, String> {
    let slot = mp::pool::worker_slot().map_or(1, |s| s + 1).to_string();
    let argv: Vec<std::ffi::OsString> = cmd
        .argv
        .iter()
        .map(|a| replace_bytes(a, b"{%}", slot.as_bytes()))
        .collect();
    let Some(mut c) = base_command(&argv, cmd.shell) else {
        return Err("empty command".into());
    };
    let first = super::describe_command(&argv[0]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("MP_PERSISTENT", "1")
        .env(
            "MP_FRAME",
            match cmd.frame {
                Frame::Lines => "lines",
                Frame::Json => "json",
            },
        )
        .env("PYTHONUNBUFFERED", "1");
    c.env("MP_SLOT", &slot).env("PARALLEL_JOBSLOT", &slot);
    let mut group = ProcessGroup::spawn(&mut c).map_err(|e| format!("cannot run {first}: {e}"))?;
    let pid = group.id() as i32;
    record_group(pid);
    let stdin: OwnedFd = group.take_stdin().expect("piped").into();
    let stdout: OwnedFd = group.take_stdout().expect("piped").into();
    set_nonblocking(&stdin);
    set_nonblocking(&stdout);
    Ok(Running {
        pid,
        stdin: Some(stdin),
        stdout,
        group,
        fed: 0,
        pending: Vec::new(),
        grace: cmd.grace,
    })
}

/// `s` with every `from` replaced by `to`, on bytes.
fn replace_bytes(s: &std::ffi::OsStr, from: &[u8], to: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut start = 0;
    for i in memchr::memmem::find_iter(b, from) {
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(to);
        start = i + from.len();
    }
    out.extend_from_slice(&b[start..]);
    std::ffi::OsString::from_vec(out)
}

/// Called when a pool worker leaves its loop: the command gets end of file
/// on its stdin and `grace` to exit, then its group is ended.
pub(crate) fn on_worker_exit() {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(r) = running {
        let grace = r.grace;
        stop(r, grace, true);
    }
}

/// Ends the command: gently (close stdin, wait `grace`) or not (its
/// group's teardown: SIGTERM, `grace`, SIGKILL). Whatever is left of its
/// group is killed. Returns (exit code, signal).
fn stop(mut r: Running, grace: Duration, gentle: bool) -> (Option<i32>, Option<i32>) {
    let mut status = None;
    if gentle {
        r.stdin = None;
        status = r.group.wait_timeout(grace).ok().flatten();
    }
    match status {
        // It exited: what it left in its group goes at once.
        Some(_) => {
            let _ = r.group.signal(libc::SIGKILL);
        }
        None => {
            log::info!(
                "persistent command: TERM, then KILL after the grace period, to process group {}",
                r.group.id()
            );
            status = r.group.terminate(grace).ok();
        }
    }
    forget_group();
    match status {
        Some(s) => (s.code(), s.signal()),
        None => (None, None),
    }
}

fn describe(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "an unknown status".into(),
    }
}

/// Reads what is available into `buf` (appending, one read); Ok(false) at
/// end of file.
fn read_some(fd: &OwnedFd, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.reserve(1 << 18);
    let spare = buf.spare_capacity_mut();
    loop {
        // SAFETY: reading into the vector's spare capacity, at most its length.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                spare.len(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock => Ok(true),
                std::io::ErrorKind::Interrupted => continue,
                _ => Err(e),
            };
        }
        if n == 0 {
            return Ok(false);
        }
        // SAFETY: the kernel initialised n bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n as usize) };
        return Ok(true);
    }
}

/// Runs one block of records through this worker's command (a pool task).
pub fn run_block(block: Block) -> BlockOutcome {
    as_task(|| run_block_inner(block))
}

fn run_block_inner(block: Block) -> BlockOutcome {
    let started = Instant::now();
    let start_epoch = epoch_now();
    let cmd = block.command.clone();
    let data = &block.data;
    let mut out = BlockOutcome {
        first_seq: block.first_seq,
        nrecords: 0,
        replies: Vec::new(),
        failures: Vec::new(),
        echo: None,
        start: start_epoch,
        duration: Duration::ZERO,
        times: Vec::new(),
        worker_pid: std::process::id(),
        pids: Vec::new(),
    };
    if let Some(reason) = &block.reject {
        return BlockOutcome {
            worker_pid: out.worker_pid,
            ..BlockOutcome::all_failed(block.first_seq, 1, 0, reason, block.timing)
        };
    }
    let n = count_newlines(data);
    out.nrecords = n as u32;
    // Replies are often about as long as records.
    out.replies.reserve(data.len() + 64);
    // Where record i starts (a scan: used on restarts and recycling only).
    let rec_start = |i: usize| {
        if i == 0 {
            0
        } else {
            memchr::memchr_iter(b'\n', data)
                .nth(i - 1)
                .map_or(data.len(), |p| p + 1)
        }
    };
    // (limit in records, the same in bytes) of the last computation.
    let mut limit_cache = (usize::MAX, 0usize);
    // Where record `sent` starts.
    let mut sent_pos = 0usize;
    let mut attempts: HashMap<usize, u32> = HashMap::new();
    let mut next_reply = 0usize; // the first record without an outcome
    let mut sent = 0usize; // records fully written to the current command
    let mut write_pos = 0usize;
    let mut tried_write = false; // a write to the current command failed (it is gone)
    let mut last_progress = Instant::now();
    // Lines frame: where the reply being read starts in out.replies.
    let mut line_start = 0usize;
    // Lines frame: out.replies is scanned for newlines up to here.
    let mut scanned = 0usize;
    let mut guard = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let mut fresh = true;
    // Per record, for `count` records answered at `now`: from the previous
    // reply (or the command's start) to the reply.
    let record_time = |out: &mut BlockOutcome, since: Instant, now: Instant, count: usize| {
        if block.timing {
            let s = since.saturating_duration_since(started).as_secs_f32();
            let d = now.saturating_duration_since(since).as_secs_f32();
            out.times.extend(std::iter::repeat_n((s, d), count));
        }
    };

    while next_reply < n {
        if guard.is_none() {
            match start(&cmd) {
                Ok(r) => {
                    out.pids.push((next_reply as u32, r.pid as u32));
                    *guard = Some(r);
                }
                Err(reason) => {
                    // Nothing can run: every remaining record fails.
                    record_time(&mut out, last_progress, Instant::now(), n - next_reply);
                    for i in next_reply..n {
                        let tries = attempts.get(&i).copied().unwrap_or(0) + 1;
                        out.failures
                            .push(RecordFailure::new(i, tries, reason.clone()));
                    }
                    break;
                }
            }
            sent = next_reply;
            write_pos = rec_start(next_reply);
            sent_pos = write_pos;
            tried_write = false;
            line_start = out.replies.len();
            scanned = line_start;
            last_progress = Instant::now();
        } else if fresh {
            let pid = guard.as_ref().map_or(0, |r| r.pid);
            out.pids.push((0, pid as u32));
        }
        fresh = false;
        let r = guard.as_mut().expect("a running command");
        // How far this command may be fed.
        let limit_rec = match cmd.max_records {
            Some(m) => n.min(sent + m.saturating_sub(r.fed) as usize),
            None => n,
        };
        if limit_rec == next_reply && sent == next_reply && write_pos == sent_pos {
            // It has had its records and answered them all: replace it.
            let old = guard.take().expect("running");
            stop(old, cmd.grace, true);
            continue;
        }
        let limit_bytes = if limit_rec == n {
            data.len()
        } else if limit_cache.0 == limit_rec {
            limit_cache.1
        } else {
            let b = rec_start(limit_rec);
            limit_cache = (limit_rec, b);
            b
        };
        let want_write = write_pos < limit_bytes && r.stdin.is_some();
        let deadline = mp::internals::deadline(last_progress, cmd.timeout);
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::NONE)
            }
            None => PollTimeout::NONE,
        };
        // Told to stop (Ctrl-C, terminate): end the command and leave. Looked
        // at before waiting too: a signal that came while no command was
        // recorded interrupted no wait (`record_group` sent its SIGTERM).
        let leave = |guard: &mut Option<Running>| -> ! {
            if let Some(old) = guard.take() {
                stop(old, cmd.grace, false);
            }
            let sig = STOP_SIGNAL.load(Ordering::SeqCst);
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(128 + sig) }
        };
        if STOP.load(Ordering::SeqCst) {
            leave(&mut guard);
        }
        let r = guard.as_mut().expect("a running command");
        let (w_ready, r_ready, p_ready, intr) = {
            let mut fds = vec![PollFd::new(r.stdout.as_fd(), PollFlags::POLLIN)];
            let pidfd = r.group.pidfd();
            if let Some(p) = pidfd {
                fds.push(PollFd::new(p, PollFlags::POLLIN));
            }
            if want_write {
                if let Some(i) = &r.stdin {
                    fds.push(PollFd::new(i.as_fd(), PollFlags::POLLOUT));
                }
            }
            let res = nix::poll::poll(&mut fds, timeout);
            let ev = |f: &PollFd| f.revents().is_some_and(|e| !e.is_empty());
            let r_ready = ev(&fds[0]);
            let p_ready = pidfd.is_some() && ev(&fds[1]);
            let w_ready = want_write && fds.last().is_some_and(ev);
            (
                w_ready,
                r_ready,
                p_ready,
                matches!(res, Err(nix::errno::Errno::EINTR)),
            )
        };
        if STOP.load(Ordering::SeqCst) {
            leave(&mut guard);
        }
        let r = guard.as_mut().expect("a running command");
        if intr {
            continue;
        }
        let mut gone = false;
        if w_ready {
            let stdin = r.stdin.as_ref().expect("checked above");
            match nix::unistd::write(stdin, &data[write_pos..limit_bytes]) {
                Ok(k) => {
                    let written = &data[write_pos..write_pos + k];
                    let records = count_newlines(written);
                    if records > 0 {
                        let last = memchr::memrchr(b'\n', written).expect("a newline");
                        sent_pos = write_pos + last + 1;
                        sent += records;
                        r.fed += records as u64;
                    }
                    write_pos += k;
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => {
                    // EPIPE: it is gone or closed its stdin.
                    r.stdin = None;
                    tried_write = true;
                }
            }
        }
        let mut json_error = None;
        if r_ready || p_ready {
            // Read; once the command has exited, drain what it left.
            let exited = p_ready && matches!(r.group.try_wait(), Ok(Some(_)));
            loop {
                let (res, got) = match cmd.frame {
                    Frame::Lines => {
                        let before = out.replies.len();
                        let res = read_some(&r.stdout, &mut out.replies);
                        let now = Instant::now();
                        let mut answered = 0;
                        // Fast path: every new line answers a record in flight.
                        let new_lines = count_newlines(&out.replies[scanned..]);
                        if new_lines > 0 && new_lines <= sent - next_reply {
                            let last =
                                memchr::memrchr(b'\n', &out.replies[scanned..]).expect("a newline");
                            record_time(&mut out, last_progress, now, new_lines);
                            next_reply += new_lines;
                            answered = new_lines;
                            line_start = scanned + last + 1;
                            scanned = line_start;
                        }
                        while let Some(j) = memchr::memchr(b'\n', &out.replies[scanned..]) {
                            let end = scanned + j + 1;
                            if next_reply < sent {
                                record_time(&mut out, last_progress, now, 1);
                                next_reply += 1;
                                answered += 1;
                                line_start = end;
                                scanned = end;
                            } else {
                                // A line nobody asked for: drop it, say so.
                                let line =
                                    String::from_utf8_lossy(&out.replies[line_start..end - 1])
                                        .into_owned();
                                eprintln!(
                                    "mp: worker command (pid {}) wrote a line with no record pending; discarded: {line:?}",
                                    r.pid
                                );
                                out.replies.drain(line_start..end);
                                scanned = line_start;
                            }
                        }
                        scanned = out.replies.len();
                        if answered > 0 {
                            last_progress = now;
                        }
                        (res, out.replies.len() > before)
                    }
                    Frame::Json => {
                        let before = r.pending.len();
                        let res = read_some(&r.stdout, &mut r.pending);
                        let got = r.pending.len() > before;
                        let (k, error) =
                            parse_json_replies(&mut r.pending, &mut out.replies, sent - next_reply);
                        if k > 0 {
                            let now = Instant::now();
                            record_time(&mut out, last_progress, now, k);
                            next_reply += k;
                            last_progress = now;
                        }
                        json_error = error;
                        (res, got)
                    }
                };
                if !matches!(res, Ok(true)) {
                    gone = true;
                    break;
                }
                if json_error.is_some() || !(exited && got) {
                    break;
                }
            }
            gone |= exited;
        }
        let timed_out = !gone
            && next_reply < n
            && deadline.is_some_and(|d| Instant::now() >= d)
            && (next_reply < sent || write_pos > sent_pos || want_write);
        let end = match json_error {
            // The stream cannot be trusted any more: start afresh.
            Some(e) => End::BadJson(e),
            None if gone => End::Gone,
            None if timed_out => End::TimedOut,
            None => continue,
        };
        // A partial reply of a command that is gone is no reply.
        if cmd.frame == Frame::Lines {
            out.replies.truncate(line_start);
            scanned = line_start;
        }
        let old = guard.take().expect("running");
        let (code, signal) = stop(old, cmd.grace, false);
        // The record being answered is blamed, if it was (partly) sent.
        let blamed = matches!(end, End::BadJson(_))
            || (next_reply < n && (next_reply < sent || write_pos > sent_pos || tried_write));
        if !blamed {
            continue;
        }
        let i = next_reply;
        let a = attempts.entry(i).or_insert(0);
        *a += 1;
        if *a <= cmd.retries {
            continue; // a fresh command gets it again
        }
        record_time(&mut out, last_progress, Instant::now(), 1);
        let failure = match end {
            End::BadJson(e) => {
                RecordFailure::new(i, *a, format!("its reply is not valid JSON: {e}"))
            }
            End::TimedOut => RecordFailure {
                signal: Some(libc::SIGTERM),
                timed_out: true,
                ..RecordFailure::new(
                    i,
                    *a,
                    format!(
                        "no reply within {:.3}s; the command was stopped",
                        cmd.timeout.unwrap_or_default().as_secs_f64()
                    ),
                )
            },
            End::Gone => RecordFailure {
                exit_code: code,
                signal,
                ..RecordFailure::new(
                    i,
                    *a,
                    format!(
                        "the command exited ({}) before replying",
                        describe(code, signal)
                    ),
                )
            },
        };
        out.failures.push(failure);
        next_reply += 1;
    }
    if block.echo {
        out.echo = Some(block.data.clone());
    }
    out.duration = started.elapsed();
    out
}

/// How many newlines `bytes` holds. Counting into a `u8` per block of 255
/// bytes lets the compiler compare and add 16 bytes at a time; a `usize`
/// count widens every byte to 64 bits first (4 bytes per step).
pub fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|block| {
            block
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n'))) as usize
        })
        .sum()
}

/// Moves complete JSON replies (at most `max`) from `pending` to `replies`,
/// one compact line each. Only whole lines are parsed, so a number cut by a
/// read is never mistaken for a complete one. Returns how many were moved,
/// and the error that stopped parsing, if any.
fn parse_json_replies(
    pending: &mut Vec<u8>,
    replies: &mut Vec<u8>,
    max: usize,
) -> (usize, Option<String>) {
    let Some(last_nl) = memchr::memrchr(b'\n', pending) else {
        return (0, None);
    };
    let region = &pending[..=last_nl];
    let mut stream =
        serde_json::Deserializer::from_slice(region).into_iter::<serde::de::IgnoredAny>();
    let mut consumed = 0usize;
    let mut moved = 0usize;
    let mut error = None;
    while moved < max {
        match stream.next() {
            None => {
                consumed = region.len();
                break;
            }
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                let raw = region[consumed..end].trim_ascii();
                if memchr::memchr(b'\n', raw).is_none() {
                    replies.extend_from_slice(raw);
                } else {
                    match serde_json::from_slice::<serde_json::Value>(raw) {
                        Ok(v) => {
                            let _ = serde_json::to_writer(&mut *replies, &v);
                        }
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                replies.push(b'\n');
                consumed = end;
                moved += 1;
            }
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(e)) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    // Whitespace after the last value is consumed too.
    let rest = &pending[consumed..];
    let skip = rest.len() - rest.trim_ascii_start().len();
    pending.drain(..consumed + skip);
    (moved, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replies_are_split_and_compacted() {
        let mut pending = b"\"a\\nb\"\n{\"x\":\n  1}\n12".to_vec();
        let mut replies = Vec::new();
        assert_eq!(
            parse_json_replies(&mut pending, &mut replies, 10),
            (2, None)
        );
        assert_eq!(replies, b"\"a\\nb\"\n{\"x\":1}\n");
        // "12" is not followed by a newline yet: it may be the start of 123.
        assert_eq!(pending, b"12");
        pending.extend_from_slice(b"3\n");
        assert_eq!(
            parse_json_replies(&mut pending, &mut replies, 10),
            (1, None)
        );
        assert!(replies.ends_with(b"123\n"));
        assert!(pending.is_empty());
    }

    #[test]
    fn json_replies_stop_at_max_and_report_garbage() {
        let mut pending = b"1\n2\n".to_vec();
        let mut replies = Vec::new();
        assert_eq!(parse_json_replies(&mut pending, &mut replies, 1), (1, None));
        assert_eq!(pending, b"2\n");
        // A good value before the garbage still counts.
        let mut bad = b"7\n{oops}\n".to_vec();
        let (k, err) = parse_json_replies(&mut bad, &mut replies, 5);
        assert_eq!(k, 1);
        assert!(err.is_some());
    }
}

#[cfg(test)]
mod newline_tests {
    use super::count_newlines;

    #[test]
    fn counts_newlines_across_blocks() {
        assert_eq!(count_newlines(b""), 0);
        assert_eq!(count_newlines(b"a\nb\n"), 2);
        // Whole 255-byte blocks of newlines (the u8 per block must not wrap).
        assert_eq!(count_newlines(&[b'\n'; 1000]), 1000);
        let mixed: Vec<u8> = (0..10_000u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'x' })
            .collect();
        assert_eq!(count_newlines(&mixed), 10_000usize.div_ceil(7));
    }
}
