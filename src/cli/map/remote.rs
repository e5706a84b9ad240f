//! `mp map --listen`: tasks served to remote `mp worker`s (and to the
//! coordinator's own local slots) through the manager server.
//!
//! The coordinator hosts one object on its manager server, the *task
//! board*, under the registered name `mp_tasks` (see
//! [`mp::managers::server::Hosted`]). Its two methods are the whole
//! protocol:
//!
//! - `hello(host, slots[, takes_blocks])` → `(worker_id, config)`: the
//!   run's settings (the COMMAND template, --timeout, --grace, --retries,
//!   the lease); a `--persistent` run refuses a worker that does not say
//!   it takes blocks;
//! - `exchange(worker_id, results, want, wait)` → `(tasks, control)`:
//!   hands in finished results and leases up to `want` new records
//!   `(seq, record)`, waiting up to `wait` seconds when there is none;
//!   `control` is `run`, `end` (the run is over), `abort` (end your tasks
//!   now) or `expired` (this worker was given up for lost).
//!
//! One round trip carries a batch each way, so the coordinator spends a
//! few microseconds per task. A record is *leased* to one worker until its
//! result comes back; a worker whose connection closes, or that has not
//! called for a lease period, loses its leases: those records go to the
//! front of the queue and run elsewhere. A result for a record that is not
//! leased to its sender (a worker given up for lost that comes back) is
//! dropped, so each record's output appears exactly once.
//!
//! The coordinator's local slots (`-j N`) run the same engine as `mp
//! worker` ([`run_engine`]: the library's pool running `map_task`, as
//! local `mp map` does), talking to the board directly.
//!
//! `--persistent` runs use the same board, with a *block* of records (see
//! `blocks.rs`) where a record stands: a task is `(first_seq, framed
//! records)`, the settings carry the persistent command, each slot of an
//! engine keeps that command and runs blocks with [`run_block`] (as local
//! `mp map --persistent` does), and a result is `(first_seq, outcome)`, the
//! [`BlockOutcome`] in postcard bytes. A block lost with its worker runs
//! again whole elsewhere; the board holds a bounded number of blocks (two
//! per slot that has said hello, plus two; at most [`MAX_BLOCKS`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cli::command::{
    count_newlines, run_block, Block, BlockOutcome, Captured, CommandOutcome, PersistentCommand,
};
use anyhow::{bail, Context, Result};
use mp::managers::server::{Hosted, Server, ServerLimits};
use mp::pickle::Value;

use super::super::jobs::{DoneSet, Joblog};
use super::super::wire::{Usage, AUTHKEY_ENV};
use super::blocks::BlockReader;
use super::output::{self, Out, Tally};
use super::template::Template;
use super::{map_task, signals, MapArgs, MapOutcome, MapTask};
use serde::{Deserialize, Serialize};

/// The name the task board is served under.
pub const BOARD_NAME: &str = "mp_tasks";

/// A record that came back without a result this many times (its workers
/// were lost each time) fails instead of running again.
const MAX_LOST: u32 = 3;

/// A worker calls at least this often, even with nothing to say.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// Longest a worker's `exchange` waits for work before it answers empty
/// (the worker's heartbeat).
const MAX_WAIT: Duration = Duration::from_secs(1);

/// The most blocks of a `--persistent` run the board holds (queued,
/// leased, or finished and waiting for their turn in the output).
pub const MAX_BLOCKS: usize = 256;

/// What an engine runs: one record's command, or (`--persistent`) a block
/// of records through the slot's persistent command.
#[derive(Debug, Serialize, Deserialize)]
pub enum EngineTask {
    /// One record (or batch of values) for one command.
    Record(MapTask),
    /// `--persistent`: a block of records.
    Block(Block),
}

/// A finished [`EngineTask`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Outcome {
    /// A command's result.
    Record(MapOutcome),
    /// A block's replies and failures.
    Block(BlockOutcome),
}

impl Outcome {
    fn seq(&self) -> u64 {
        match self {
            Outcome::Record(o) => o.seq,
            Outcome::Block(b) => b.first_seq,
        }
    }

    fn duration(&self) -> Duration {
        match self {
            Outcome::Record(o) => o.outcome.duration,
            Outcome::Block(b) => b.duration,
        }
    }
}

/// The engine's pool task.
fn engine_task(t: EngineTask) -> Outcome {
    match t {
        EngineTask::Record(t) => Outcome::Record(map_task(t)),
        EngineTask::Block(b) => Outcome::Block(run_block(b)),
    }
}

/// What an `exchange` tells the worker to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Run the tasks; call again.
    Run,
    /// The run is over: exit.
    End,
    /// Stop every task now and exit (Ctrl-C or `--halt now` on the
    /// coordinator).
    Abort,
    /// This worker was given up for lost; its results were dropped.
    Expired,
}

impl Control {
    fn as_str(self) -> &'static str {
        match self {
            Control::Run => "run",
            Control::End => "end",
            Control::Abort => "abort",
            Control::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<Control> {
        Some(match s {
            "run" => Control::Run,
            "end" => Control::End,
            "abort" => Control::Abort,
            "expired" => Control::Expired,
            _ => return None,
        })
    }
}

struct Task {
    record: Record,
    /// The worker holding its lease.
    leased_to: Option<u64>,
    /// Times its worker was lost while it held the lease.
    lost: u32,
}

struct Worker {
    host: Arc<str>,
    /// The slots it said it has.
    slots: usize,
    /// The connection it called from (None: the coordinator's own slots).
    conn: Option<u64>,
    last_seen: Instant,
    leased: HashSet<u64>,
}

/// A finished record, for the coordinator's main thread.
pub struct Finished {
    pub seq: u64,
    pub host: Arc<str>,
    pub record: Record,
    pub result: std::result::Result<Outcome, String>,
}

#[derive(Default)]
struct State {
    /// Records waiting for a lease (records given back go first).
    queue: VecDeque<u64>,
    /// Every record added and not yet finished.
    tasks: HashMap<u64, Task>,
    /// Records added and not yet written out (bounded by the window).
    unwritten: usize,
    finished: VecDeque<Finished>,
    /// Records added, and records withdrawn, since the main thread last
    /// looked (for ordered output).
    added: Vec<u64>,
    withdrawn: Vec<u64>,
    workers: HashMap<u64, Worker>,
    /// The slots of the workers that said hello and are not lost.
    slots: usize,
    next_worker: u64,
    input_done: bool,
    /// No more records are added (input ended early: --halt, a signal).
    no_more: bool,
    abort: bool,
    /// Threads waiting on each condition variable.
    waiting: [usize; 3],
}

/// Who waits on the board: workers (for records), the main thread (for
/// results), the input thread (for room in the window).
const W: usize = 0;
const M: usize = 1;
const F: usize = 2;

/// What the main thread takes from the board.
struct Taken {
    finished: Vec<Finished>,
    added: Vec<u64>,
    withdrawn: Vec<u64>,
    all_done: bool,
}

/// The task board (see the module docs).
pub struct Board {
    state: Mutex<State>,
    /// Woken for: workers waiting for records, the main thread waiting for
    /// results, the input thread waiting for room (see [`W`], [`M`], [`F`]).
    changed: [Condvar; 3],
    config: Value,
    /// Records (blocks) added and not yet written out: at most this many,
    /// plus `per_slot` for each slot of the workers that said hello.
    window: usize,
    per_slot: usize,
    /// A `--persistent` run: tasks are blocks (see the module docs).
    blocks: bool,
    lease: Duration,
}

impl Board {
    fn new(config: Value, window: usize, lease: Duration) -> Board {
        Board {
            state: Mutex::new(State::default()),
            changed: [Condvar::new(), Condvar::new(), Condvar::new()],
            config,
            window,
            per_slot: 0,
            blocks: false,
            lease,
        }
    }

    /// A board for `--persistent` blocks: two per slot (one running, one
    /// ready) and two more, up to [`MAX_BLOCKS`], as local runs hold.
    fn for_blocks(self) -> Board {
        Board {
            window: 2,
            per_slot: 2,
            blocks: true,
            ..self
        }
    }

    fn window(&self, st: &State) -> usize {
        if self.blocks {
            (self.window + self.per_slot * st.slots).min(MAX_BLOCKS)
        } else {
            self.window
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on condition `who` for up to `t`.
    fn wait<'a>(
        &self,
        who: usize,
        mut st: MutexGuard<'a, State>,
        t: Duration,
    ) -> MutexGuard<'a, State> {
        st.waiting[who] += 1;
        let mut st = self.changed[who]
            .wait_timeout(st, t)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        st.waiting[who] -= 1;
        st
    }

    /// Wakes whoever waits on the conditions `who` (no system call when
    /// nobody does).
    fn wake(&self, st: &State, who: &[usize]) {
        for &w in who {
            if st.waiting[w] > 0 {
                self.changed[w].notify_all();
            }
        }
    }

    /// Adds a record, waiting while the window is full; false when no
    /// more records are wanted.
    fn add(&self, seq: u64, record: Record) -> bool {
        self.push(seq, record, None)
    }

    /// Adds a record that has its result already (a block the coordinator
    /// fails itself), in its place in the output.
    fn add_done(&self, seq: u64, result: Outcome) -> bool {
        self.push(seq, Vec::new(), Some(result))
    }

    fn push(&self, seq: u64, record: Record, done: Option<Outcome>) -> bool {
        let mut st = self.lock();
        while st.unwritten >= self.window(&st) && !st.no_more && !st.abort {
            st = self.wait(F, st, Duration::from_millis(200));
        }
        if st.no_more || st.abort {
            return false;
        }
        match done {
            None => {
                st.tasks.insert(
                    seq,
                    Task {
                        record,
                        leased_to: None,
                        lost: 0,
                    },
                );
                st.queue.push_back(seq);
                self.wake(&st, &[W]);
            }
            Some(result) => {
                st.finished.push_back(Finished {
                    seq,
                    host: Arc::from(":"),
                    record,
                    result: Ok(result),
                });
                self.wake(&st, &[M]);
            }
        }
        st.added.push(seq);
        st.unwritten += 1;
        true
    }

    fn input_done(&self) {
        let mut st = self.lock();
        st.input_done = true;
        self.wake(&st, &[W, M]);
    }

    /// --halt soon: no new record starts; the ones not leased are
    /// withdrawn (their count is returned).
    fn stop_input(&self) -> usize {
        let mut st = self.lock();
        st.no_more = true;
        st.input_done = true;
        let queued: Vec<u64> = st.queue.drain(..).collect();
        for seq in &queued {
            st.tasks.remove(seq);
        }
        st.withdrawn.extend(queued.iter().copied());
        st.unwritten -= queued.len();
        self.wake(&st, &[W, M, F]);
        queued.len()
    }

    /// Ctrl-C or --halt now: every worker ends its tasks.
    fn abort(&self) {
        let mut st = self.lock();
        st.abort = true;
        st.no_more = true;
        self.wake(&st, &[W, M, F]);
    }

    /// The records written out.
    fn written(&self, n: usize) {
        let mut st = self.lock();
        st.unwritten -= n;
        self.wake(&st, &[F]);
    }

    /// Every record added has finished and the input is over.
    fn all_done(st: &State) -> bool {
        st.input_done && st.tasks.is_empty()
    }

    fn hello(&self, host: &str, slots: u64, conn: Option<u64>) -> u64 {
        let mut st = self.lock();
        st.next_worker += 1;
        let id = st.next_worker;
        let n = usize::try_from(slots)
            .unwrap_or(usize::MAX)
            .min(super::args::MAX_WORKERS);
        st.workers.insert(
            id,
            Worker {
                host: Arc::from(host),
                slots: n,
                conn,
                last_seen: Instant::now(),
                leased: HashSet::new(),
            },
        );
        st.slots += n;
        // More slots: a larger window for blocks.
        self.wake(&st, &[F]);
        drop(st);
        if conn.is_some() {
            eprintln!("mp map: worker {id} joined from {host} with {slots} slots");
        }
        id
    }

    fn exchange(
        &self,
        id: u64,
        results: Vec<(u64, std::result::Result<Outcome, String>)>,
        want: usize,
        free: usize,
        wait: Duration,
    ) -> (Vec<(u64, Record)>, Control) {
        let mut st = self.lock();
        let Some(worker) = st.workers.get_mut(&id) else {
            return (Vec::new(), Control::Expired);
        };
        worker.last_seen = Instant::now();
        let host = worker.host.clone();
        let mut any = false;
        for (seq, result) in results {
            let ours = st.tasks.get(&seq).is_some_and(|t| t.leased_to == Some(id));
            if !ours {
                // Late: the record was given to another worker meanwhile.
                continue;
            }
            let record = st.tasks.remove(&seq).map(|t| t.record).unwrap_or_default();
            if let Some(w) = st.workers.get_mut(&id) {
                w.leased.remove(&seq);
            }
            let result = match result {
                Ok(Outcome::Block(b)) if !b.fits(record.first().map_or(&[][..], |d| d)) => Err(
                    format!("the result from {host} does not match the block it was given"),
                ),
                r => r,
            };
            st.finished.push_back(Finished {
                seq,
                host: host.clone(),
                record,
                result,
            });
            any = true;
        }
        if any {
            let all_done = Self::all_done(&st);
            self.wake(&st, if all_done { &[W, M] } else { &[M] });
        }
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        let mut tasks = Vec::new();
        loop {
            if st.abort {
                return (Vec::new(), Control::Abort);
            }
            if !st.workers.contains_key(&id) {
                return (Vec::new(), Control::Expired);
            }
            // Beyond its idle slots, a worker takes at most its share of
            // what is queued: a few records at the end of a run are not
            // held behind another's running ones while a worker idles.
            let share = st.queue.len() / st.workers.len().max(1);
            let grant = want.min(free.max(share));
            while tasks.len() < grant {
                let Some(seq) = st.queue.pop_front() else {
                    break;
                };
                if let Some(t) = st.tasks.get_mut(&seq) {
                    t.leased_to = Some(id);
                    tasks.push((seq, t.record.clone()));
                }
            }
            if !tasks.is_empty() || Self::all_done(&st) || want == 0 {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self.wait(W, st, deadline - now);
        }
        if let Some(w) = st.workers.get_mut(&id) {
            w.leased.extend(tasks.iter().map(|(s, _)| *s));
            w.last_seen = Instant::now();
        }
        let control = if Self::all_done(&st) {
            Control::End
        } else {
            Control::Run
        };
        (tasks, control)
    }

    /// Gives up worker `id`: its records go back to the front of the queue
    /// (or fail, lost too often).
    fn lose(&self, id: u64, why: &str) {
        let mut st = self.lock();
        let Some(w) = st.workers.remove(&id) else {
            return;
        };
        st.slots -= w.slots;
        let mut seqs: Vec<u64> = w.leased.into_iter().collect();
        if seqs.is_empty() && (w.conn.is_none() || Self::all_done(&st)) {
            // Nothing to run again: a worker leaving at the end of the run.
            return;
        }
        seqs.sort_unstable();
        let mut rerun = 0;
        for &seq in seqs.iter().rev() {
            let Some(t) = st.tasks.get_mut(&seq) else {
                continue;
            };
            if t.leased_to != Some(id) {
                continue;
            }
            t.leased_to = None;
            t.lost += 1;
            if t.lost >= MAX_LOST {
                let record = st.tasks.remove(&seq).map(|t| t.record).unwrap_or_default();
                st.finished.push_back(Finished {
                    seq,
                    host: w.host.clone(),
                    record,
                    result: Err(format!(
                        "lost: the workers running it were lost {MAX_LOST} times (last: {} {why})",
                        w.host
                    )),
                });
            } else {
                st.queue.push_front(seq);
                rerun += 1;
            }
        }
        self.wake(&st, &[W, M]);
        drop(st);
        eprintln!(
            "mp map: worker {id} ({}) {why}; {rerun} of its {} run again elsewhere",
            w.host,
            if self.blocks {
                "blocks of records"
            } else {
                "records"
            }
        );
    }

    /// Gives up the workers silent for longer than the lease.
    fn expire(&self) {
        let now = Instant::now();
        let silent: Vec<u64> = self
            .lock()
            .workers
            .iter()
            .filter(|(_, w)| w.conn.is_some() && now.duration_since(w.last_seen) > self.lease)
            .map(|(id, _)| *id)
            .collect();
        for id in silent {
            self.lose(
                id,
                &format!(
                    "was silent for {:.1}s (its lease)",
                    self.lease.as_secs_f64()
                ),
            );
        }
    }

    /// Waits up to `timeout` for finished records and takes them, with the
    /// records added and withdrawn meanwhile.
    fn take_finished(&self, timeout: Duration) -> Taken {
        let mut st = self.lock();
        if st.finished.is_empty() && !Self::all_done(&st) {
            st = self.wait(M, st, timeout);
        }
        Taken {
            finished: st.finished.drain(..).collect(),
            added: std::mem::take(&mut st.added),
            withdrawn: std::mem::take(&mut st.withdrawn),
            all_done: Self::all_done(&st),
        }
    }

    fn remote_workers(&self) -> usize {
        self.lock()
            .workers
            .values()
            .filter(|w| w.conn.is_some())
            .count()
    }
}

fn bad(what: &str) -> String {
    format!("TypeError: {what}")
}

impl Hosted for Board {
    fn exposed(&self) -> &'static [&'static str] {
        &["hello", "exchange"]
    }

    fn call(
        &self,
        method: &str,
        args: Vec<Value>,
        conn: u64,
    ) -> std::result::Result<Value, String> {
        match method {
            "hello" => {
                let host = args
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("hello(host: str, slots: int)"))?;
                let slots = args
                    .get(1)
                    .and_then(Value::as_i128)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| bad("hello(host: str, slots: int)"))?;
                // The third argument, True, says the worker takes blocks
                // (`mp worker` does); a worker without it (the README's
                // Python one) is refused by a block run at once, instead of
                // being leased blocks it cannot read.
                let host: String = host.chars().take(200).collect();
                let takes_blocks = matches!(args.get(2), Some(Value::Bool(true)));
                if self.blocks && !takes_blocks {
                    return Err(format!(
                        "ValueError: this mp map --listen run is --persistent: it hands out \
                         blocks of records to persistent commands, which only `mp worker` \
                         takes (hello(host, slots, True)); host {host} said hello without it"
                    ));
                }
                let id = self.hello(&host, slots, Some(conn));
                Ok(Value::Tuple(vec![
                    Value::Int(id as i64),
                    self.config.clone(),
                ]))
            }
            "exchange" => {
                let usage = || {
                    bad("exchange(worker_id: int, results: list, want: int, wait: float[, free: int])")
                };
                let mut args = args.into_iter();
                let id = args
                    .next()
                    .and_then(|v| v.as_i128())
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(usage)?;
                let results = match args.next() {
                    Some(Value::List(l) | Value::Tuple(l)) => l,
                    _ => return Err(usage()),
                };
                let want = args
                    .next()
                    .and_then(|v| v.as_i128())
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(usage)?
                    .min(100_000);
                let wait = match args.next() {
                    Some(Value::Float(f)) if f >= 0.0 && f.is_finite() => {
                        Duration::from_secs_f64(f.min(60.0))
                    }
                    Some(v) => match v.as_i128() {
                        Some(n) if n >= 0 => Duration::from_secs(n.min(60) as u64),
                        _ => return Err(usage()),
                    },
                    None => Duration::ZERO,
                };
                let decode = if self.blocks {
                    decode_block
                } else {
                    decode_result
                };
                let results = results
                    .into_iter()
                    .map(decode)
                    .collect::<std::result::Result<Vec<_>, String>>()?;
                {
                    let mut st = self.lock();
                    if let Some(w) = st.workers.get_mut(&id) {
                        if w.conn.is_some() {
                            w.conn = Some(conn);
                        }
                    }
                }
                let free = args
                    .next()
                    .and_then(|v| v.as_i128())
                    .and_then(|n| usize::try_from(n).ok())
                    .map_or(want, |f| f.min(want));
                let (tasks, control) = self.exchange(id, results, want, free, wait);
                let tasks = tasks
                    .into_iter()
                    .map(|(seq, rec)| Value::Tuple(vec![Value::Int(seq as i64), record_value(rec)]))
                    .collect();
                Ok(Value::Tuple(vec![
                    Value::List(tasks),
                    Value::str(control.as_str()),
                ]))
            }
            _ => Err(format!("AttributeError: {method}")),
        }
    }

    fn disconnected(&self, conn: u64) {
        let gone: Vec<u64> = self
            .lock()
            .workers
            .iter()
            .filter(|(_, w)| w.conn == Some(conn))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.lose(id, "closed its connection");
        }
    }
}

// ---- results on the wire ----

/// A record on the wire: bytes when it is one value (what a Python worker
/// runs), else a list of bytes (several sources, or -n/-X/-m).
fn record_value(mut rec: Record) -> Value {
    if rec.len() == 1 {
        Value::Bytes(rec.pop().unwrap_or_default())
    } else {
        Value::List(rec.into_iter().map(Value::Bytes).collect())
    }
}

fn record_of(v: Value) -> Option<Record> {
    match v {
        Value::List(items) | Value::Tuple(items) => items.into_iter().map(bytes_of).collect(),
        v => bytes_of(v).map(|b| vec![b]),
    }
}

fn bytes_of(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::Bytes(b) | Value::ByteArray(b) => Some(b),
        Value::Str(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn opt_int(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_i128)
        .and_then(|n| i32::try_from(n).ok())
}

fn float_of(v: Option<&Value>) -> Option<f64> {
    match v {
        Some(Value::Float(f)) => Some(*f),
        Some(v) => v.as_i128().map(|n| n as f64),
        None => None,
    }
}

/// A result as a worker sends it: `(seq, exit_code, stdout, stderr,
/// signal, timed_out, error, start, duration, worker_pid, pid, command)`,
/// of which everything after `exit_code` may be left out (a Python worker
/// sends `(seq, exit_code, stdout)`).
fn decode_result(
    v: Value,
) -> std::result::Result<(u64, std::result::Result<Outcome, String>), String> {
    let shape = || {
        bad("a result is (seq, exit_code, stdout, stderr, signal, timed_out, error, start, duration, worker_pid, pid, command), all after exit_code optional")
    };
    let items = match v {
        Value::Tuple(i) | Value::List(i) => i,
        _ => return Err(shape()),
    };
    let seq = items
        .first()
        .and_then(Value::as_i128)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(shape)?;
    if items.len() < 2 {
        return Err(shape());
    }
    let mut it = items.into_iter();
    it.next();
    let exit_code = it.next();
    let stdout = it.next().and_then(bytes_of).unwrap_or_default();
    let stderr = it.next().and_then(bytes_of).unwrap_or_default();
    let rest: Vec<Value> = it.collect();
    let signal = opt_int(rest.first());
    let timed_out = matches!(rest.get(1), Some(Value::Bool(true)));
    let spawn_error = match rest.get(2) {
        Some(Value::Str(s)) => Some(s.to_string_lossy().into_owned()),
        _ => None,
    };
    let start = float_of(rest.get(3)).unwrap_or_else(now_epoch);
    let duration = float_of(rest.get(4))
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map_or(Duration::ZERO, |d| {
            Duration::try_from_secs_f64(d).unwrap_or(Duration::MAX)
        });
    let worker_pid = opt_int(rest.get(5)).map_or(0, |p| p as u32);
    let pid = opt_int(rest.get(6)).map(|p| p as u32);
    let command = rest.into_iter().nth(7).and_then(bytes_of);
    let outcome = CommandOutcome {
        exit_code: opt_int(exit_code.as_ref()),
        signal,
        timed_out,
        spawn_error,
        stdout: Captured::Inline(stdout),
        stderr: Captured::Inline(stderr),
        start,
        duration,
        worker_pid,
        pid,
        streamed: 0,
        output_closed: false,
    };
    Ok((
        seq,
        Ok(Outcome::Record(MapOutcome {
            seq,
            input: None,
            command,
            outcome,
        })),
    ))
}

/// A block's result as a worker sends it: `(first_seq, outcome)`, the
/// [`BlockOutcome`] in postcard bytes (worker and coordinator run the same
/// mp version).
fn decode_block(
    v: Value,
) -> std::result::Result<(u64, std::result::Result<Outcome, String>), String> {
    let shape = || bad("a block's result is (first_seq, outcome: bytes)");
    let (Value::Tuple(items) | Value::List(items)) = v else {
        return Err(shape());
    };
    let [seq, Value::Bytes(b)] = items.as_slice() else {
        return Err(shape());
    };
    let seq = seq
        .as_i128()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(shape)?;
    let outcome: BlockOutcome = postcard::from_bytes(b)
        .map_err(|e| bad(&format!("the result of block {seq} does not decode: {e}")))?;
    if outcome.first_seq != seq {
        return Err(shape());
    }
    Ok((seq, Ok(Outcome::Block(outcome))))
}

fn encode_result(o: Outcome) -> Value {
    let o = match o {
        Outcome::Record(o) => o,
        Outcome::Block(b) => {
            return Value::Tuple(vec![
                Value::Int(b.first_seq as i64),
                Value::Bytes(postcard::to_allocvec(&b).unwrap_or_default()),
            ])
        }
    };
    let opt = |v: Option<i32>| v.map_or(Value::None, |n| Value::Int(i64::from(n)));
    let r = o.outcome;
    let stdout = r.stdout.into_bytes().unwrap_or_default();
    let stderr = r.stderr.into_bytes().unwrap_or_default();
    Value::Tuple(vec![
        Value::Int(o.seq as i64),
        opt(r.exit_code),
        Value::Bytes(stdout),
        Value::Bytes(stderr),
        opt(r.signal),
        Value::Bool(r.timed_out),
        r.spawn_error.map_or(Value::None, Value::str),
        Value::Float(r.start),
        Value::Float(r.duration.as_secs_f64()),
        Value::Int(i64::from(r.worker_pid)),
        r.pid.map_or(Value::None, |p| Value::Int(i64::from(p))),
        o.command.map_or(Value::None, Value::Bytes),
    ])
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

// ---- the run's settings, sent to each worker ----

/// What a worker needs to run the records of a run.
pub struct RunConfig {
    pub template: Arc<Template>,
    pub timeout: Option<Duration>,
    pub grace: Duration,
    pub retries: u32,
    pub want_command: bool,
    /// --halt: hold no record ready beyond the free slots.
    pub halting: bool,
    pub lease: Duration,
    /// --persistent: the command each slot keeps; tasks are blocks.
    pub persistent: Option<Arc<PersistentCommand>>,
    /// --persistent: record each record's start and run time (for
    /// --joblog and --json).
    pub timing: bool,
}

impl RunConfig {
    fn to_value(&self) -> Value {
        let template = serde_json::to_vec(&*self.template).unwrap_or_default();
        let mut command: Vec<Value> = Vec::new();
        for a in &self.template.args {
            let spelled: Vec<u8> = a.iter().flat_map(|p| p.spelling()).collect();
            command.push(Value::Bytes(spelled));
        }
        let kv = |k: &str, v: Value| (Value::str(k), v);
        Value::Dict(vec![
            kv("version", Value::str(env!("CARGO_PKG_VERSION"))),
            kv("template", Value::Bytes(template)),
            kv("command", Value::List(command)),
            kv("shell", Value::Bool(self.template.shell)),
            kv(
                "timeout",
                self.timeout
                    .map_or(Value::None, |t| Value::Float(t.as_secs_f64())),
            ),
            kv("grace", Value::Float(self.grace.as_secs_f64())),
            kv("retries", Value::Int(i64::from(self.retries))),
            kv("want_command", Value::Bool(self.want_command)),
            kv("halting", Value::Bool(self.halting)),
            kv("lease", Value::Float(self.lease.as_secs_f64())),
            kv(
                "persistent",
                self.persistent.as_ref().map_or(Value::None, |c| {
                    Value::Bytes(serde_json::to_vec(&**c).unwrap_or_default())
                }),
            ),
            kv("timing", Value::Bool(self.timing)),
        ])
    }

    pub fn from_value(v: &Value) -> Result<RunConfig> {
        let Value::Dict(pairs) = v else {
            bail!("the coordinator sent no settings");
        };
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .map(|(_, v)| v)
        };
        let version = get("version").and_then(Value::as_str).unwrap_or("?");
        if version != env!("CARGO_PKG_VERSION") {
            bail!(
                "the coordinator runs mp {version}, this worker mp {}: use the same version",
                env!("CARGO_PKG_VERSION")
            );
        }
        let template = match get("template") {
            Some(Value::Bytes(b)) => serde_json::from_slice::<Template>(b)
                .context("the coordinator's COMMAND does not decode")?,
            _ => bail!("the coordinator sent no COMMAND"),
        };
        let secs = |v: Option<&Value>| {
            float_of(v)
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| Duration::try_from_secs_f64(f).unwrap_or(Duration::MAX))
        };
        Ok(RunConfig {
            template: Arc::new(template),
            timeout: secs(get("timeout")),
            grace: secs(get("grace")).unwrap_or(Duration::from_secs(2)),
            retries: get("retries")
                .and_then(Value::as_i128)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            want_command: matches!(get("want_command"), Some(Value::Bool(true))),
            halting: matches!(get("halting"), Some(Value::Bool(true))),
            lease: secs(get("lease")).unwrap_or(Duration::from_secs(10)),
            persistent: match get("persistent") {
                Some(Value::Bytes(b)) => Some(Arc::new(
                    serde_json::from_slice::<PersistentCommand>(b)
                        .context("the coordinator's persistent COMMAND does not decode")?,
                )),
                _ => None,
            },
            timing: matches!(get("timing"), Some(Value::Bool(true))),
        })
    }
}

// ---- the engine: a pool running the records a link hands it ----

/// Records leased `(seq, record)`, and what to do next.
/// A record: its values (one per source, or several with -n/-X/-m).
pub type Record = Vec<Vec<u8>>;

pub type Leased = (Vec<(u64, Record)>, Control);

/// Where an engine gets records and sends results.
pub trait Link {
    /// Hands in results, asks for up to `want` records (waiting up to
    /// `wait` when there is none).
    fn exchange(
        &mut self,
        results: Vec<Outcome>,
        want: usize,
        free: usize,
        wait: Duration,
    ) -> Result<Leased>;
}

/// The coordinator's own slots: the board, without a connection.
struct LocalLink {
    board: Arc<Board>,
    id: u64,
}

impl Link for LocalLink {
    fn exchange(
        &mut self,
        results: Vec<Outcome>,
        want: usize,
        free: usize,
        wait: Duration,
    ) -> Result<Leased> {
        let results = results.into_iter().map(|o| (o.seq(), Ok(o))).collect();
        Ok(self.board.exchange(self.id, results, want, free, wait))
    }
}

/// A remote worker's link: the board's proxy.
pub struct RemoteLink {
    pub proxy: mp::managers::Proxy,
    pub id: u64,
}

impl Link for RemoteLink {
    fn exchange(
        &mut self,
        results: Vec<Outcome>,
        want: usize,
        free: usize,
        wait: Duration,
    ) -> Result<Leased> {
        let results: Vec<Value> = results.into_iter().map(encode_result).collect();
        let reply = self.proxy.call_value(
            "exchange",
            vec![
                Value::Int(self.id as i64),
                Value::List(results),
                Value::Int(want as i64),
                Value::Float(wait.as_secs_f64()),
                Value::Int(free as i64),
            ],
            vec![],
        )?;
        let (tasks, control) = match reply {
            Value::Tuple(mut t) | Value::List(mut t) if t.len() == 2 => {
                let c = t.pop().unwrap_or(Value::None);
                (t.pop().unwrap_or(Value::None), c)
            }
            _ => bail!("the coordinator's reply is not (tasks, control)"),
        };
        let control = control
            .as_str()
            .and_then(Control::parse)
            .context("the coordinator's reply has no control word")?;
        let tasks = match tasks {
            Value::List(l) | Value::Tuple(l) => l,
            _ => bail!("the coordinator's tasks are not a list"),
        };
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            let (Value::Tuple(mut p) | Value::List(mut p)) = t else {
                bail!("a task is not (seq, record)");
            };
            let rec = p
                .pop()
                .and_then(record_of)
                .context("a task without a record")?;
            let seq = p
                .pop()
                .and_then(|s| s.as_i128())
                .and_then(|n| u64::try_from(n).ok())
                .context("a task without a number")?;
            out.push((seq, rec));
        }
        Ok((out, control))
    }
}

/// How an engine ended.
#[derive(Debug, PartialEq, Eq)]
pub enum EngineEnd {
    /// The run is over.
    End,
    /// The coordinator stopped the run.
    Abort,
    /// The coordinator gave this worker up for lost.
    Expired,
}

/// Settings of an engine's pool.
pub struct EngineOptions {
    pub slots: usize,
    pub start_method: mp::StartMethod,
    pub spill: std::path::PathBuf,
    /// Called with the pool once it is built (the signal thread stops it).
    pub on_pool: fn(&Arc<mp::Pool>),
}

/// Runs records from `link` on a pool of `slots` workers, with
/// `map_task` (exactly what local `mp map` runs; with `--persistent`,
/// blocks with `run_block`, as local `mp map --persistent`), until the run
/// ends.
/// On any error (the link broke) the pool is stopped first: every running
/// task's process group is ended.
pub fn run_engine(link: &mut dyn Link, cfg: &RunConfig, o: &EngineOptions) -> Result<EngineEnd> {
    let slots = o.slots.max(1);
    let pool = Arc::new(
        mp::Pool::builder()
            .processes(slots)
            .start_method(o.start_method)
            .lazy(true)
            .finalizer(crate::cli::command::finish_worker, ())
            .context("cannot set up the worker pool")?
            .window(slots * 4 + 4)
            .prefetch(usize::from(!cfg.halting))
            .initializer(
                crate::cli::command::prepare_worker,
                crate::cli::command::WorkerSetup::new(Some(o.spill.clone())),
            )
            .context("cannot set up the worker pool")?
            .build()
            .context("cannot start the worker pool")?,
    );
    (o.on_pool)(&pool);
    let r = engine_loop(link, cfg, &pool, slots);
    match &r {
        Ok(EngineEnd::End) => {
            pool.close();
        }
        _ => pool.terminate(),
    }
    let _ = pool.join();
    r
}

fn engine_loop(
    link: &mut dyn Link,
    cfg: &RunConfig,
    pool: &mp::Pool,
    slots: usize,
) -> Result<EngineEnd> {
    let (tx, rx) = std::sync::mpsc::channel::<EngineTask>();
    let mut results = pool.imap_unordered_streaming(engine_task, rx, 1);
    // Records held: running, or ready behind a running one. Short tasks
    // (under 20 ms on average) are taken in larger batches: the round
    // trips then cost more than holding a few records back. Blocks (each
    // sized to about 20 ms of work): one running and one ready per slot,
    // each result sent back at once.
    let blocks = cfg.persistent.is_some();
    let base_cap = slots * 4 + 4;
    let mut avg_ms = f64::INFINITY;
    let mut in_flight = 0usize;
    let mut done: Vec<Outcome> = Vec::new();
    let mut ending = false;
    // Results go back in batches: when the records held run low (time
    // to take more), when a batch is ready, or for the heartbeat.
    let mut last_call: Option<Instant> = None;
    loop {
        let take = |r: mp::Result<Option<Outcome>>,
                    in_flight: &mut usize,
                    done: &mut Vec<Outcome>|
         -> Result<bool> {
            match r {
                Ok(Some(o)) => {
                    *in_flight -= 1;
                    done.push(o);
                    Ok(true)
                }
                Ok(None) | Err(mp::Error::Timeout(_)) => Ok(false),
                Err(e) => bail!(
                    "a worker process was lost ({}); giving the records back",
                    output::task_error(e)
                ),
            }
        };
        let before = done.len();
        while take(
            results.next_timeout(Some(Duration::ZERO)),
            &mut in_flight,
            &mut done,
        )? {}
        for o in &done[before..] {
            let ms = o.duration().as_secs_f64() * 1000.0;
            avg_ms = if avg_ms.is_finite() {
                avg_ms * 0.9 + ms * 0.1
            } else {
                ms
            };
        }
        let cap = if cfg.halting {
            slots
        } else if blocks {
            2 * slots
        } else if avg_ms < 20.0 {
            base_cap.max(64)
        } else {
            base_cap
        };
        let low = if cfg.halting { 0 } else { cap / 2 };
        let batch = if blocks { 1 } else { low.max(1) };
        let since = last_call.map_or(HEARTBEAT, |t| t.elapsed());
        let call = (!ending && in_flight <= low)
            || done.len() >= batch
            || since >= HEARTBEAT
            || (ending && in_flight == 0);
        if !call {
            // Wait for a result, at most until the heartbeat is due.
            let _ = take(
                results.next_timeout(Some(HEARTBEAT - since)),
                &mut in_flight,
                &mut done,
            )?;
            continue;
        }
        let want = if ending {
            0
        } else {
            cap.saturating_sub(in_flight)
        };
        let wait = if in_flight == 0 {
            MAX_WAIT
        } else if !done.is_empty() || in_flight > low {
            Duration::ZERO
        } else {
            Duration::from_millis(20)
        };
        let free = slots.saturating_sub(in_flight).min(want);
        let (tasks, control) = link.exchange(std::mem::take(&mut done), want, free, wait)?;
        last_call = Some(Instant::now());
        for (seq, record) in tasks {
            in_flight += 1;
            let task = match &cfg.persistent {
                Some(command) => EngineTask::Block(Block {
                    command: command.clone(),
                    first_seq: seq,
                    data: record.concat(),
                    reject: None,
                    echo: false,
                    timing: cfg.timing,
                }),
                None => EngineTask::Record(MapTask {
                    template: cfg.template.clone(),
                    args: record.into_iter().map(serde_bytes::ByteBuf::from).collect(),
                    seq,
                    timeout: cfg.timeout,
                    grace: cfg.grace,
                    echo_input: false,
                    retries: cfg.retries,
                    want_command: cfg.want_command,
                    line_buffer: false,
                }),
            };
            if tx.send(task).is_err() {
                bail!("the worker pool stopped");
            }
        }
        match control {
            Control::Run => {}
            Control::End => {
                ending = true;
                if in_flight == 0 {
                    drop(tx);
                    return Ok(EngineEnd::End);
                }
            }
            Control::Abort => return Ok(EngineEnd::Abort),
            Control::Expired => return Ok(EngineEnd::Expired),
        }
    }
}

// ---- the coordinator ----

fn set_signal_pool(pool: &Arc<mp::Pool>) {
    signals::set_pool(pool);
}

/// What a `--listen` run serves.
pub(super) enum Feed {
    /// Records, one command each; the record numbers --resume skips.
    Records {
        records: Box<dyn Iterator<Item = Record> + Send>,
        done_before: DoneSet,
    },
    /// `--persistent`: blocks of records (the reader skips what --resume
    /// does); `adaptive`: their size follows the results (no --chunksize).
    Blocks { reader: BlockReader, adaptive: bool },
}

/// The records a `--listen` run serves: what the sources give, how
/// reading them ended, and their number when known ahead (for --progress).
pub(super) struct ListenInput {
    pub feed: Feed,
    pub status: super::input::InputStatus,
    pub total: Option<u64>,
}

/// `mp map --listen ADDR`.
pub(super) fn run_listen(
    args: &MapArgs,
    listen: &str,
    input: ListenInput,
    local_slots: usize,
    joblog: Option<Joblog>,
    template: Arc<Template>,
) -> Result<i32> {
    let ListenInput {
        feed,
        status,
        total,
    } = input;
    // --persistent: the frame, the block size to adapt, per-record times.
    let (persistent, frame, size, timing) = match &feed {
        Feed::Records { .. } => (None, None, None, false),
        Feed::Blocks { reader, adaptive } => (
            Some(reader.command.clone()),
            Some(reader.frame),
            adaptive.then(|| reader.size.clone()),
            reader.timing,
        ),
    };
    let key = super::super::wire::authkey(&args.authkey_file)?;
    let addr: mp::connection::Address = listen
        .parse()
        .map_err(|e: mp::Error| Usage(format!("--listen {e}")))?;
    if key.is_none() && !addr.is_local() {
        bail!(Usage(format!(
            "refusing to listen on {addr} without an authkey: anyone who can reach it could \
             run commands on every worker. Give --authkey-file or {AUTHKEY_ENV}, or listen on \
             127.0.0.1 or a Unix socket"
        )));
    }
    let listener = mp::connection::Listener::bind(&addr, key.as_deref())
        .map_err(|e| Usage(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.address().clone();
    signals::install()?;
    let spill = signals::spill_dir()?;
    crate::cli::command::reap_orphans(args.grace, Some(&spill))
        .context("cannot watch for orphaned processes")?;
    let halting = args.halt.is_some_and(|h| h.0.is_some());
    let lease = args.lease;
    let cfg = RunConfig {
        template,
        timeout: args.timeout,
        grace: args.grace,
        retries: args.retries,
        want_command: args.joblog.is_some(),
        halting,
        lease,
        persistent,
        timing,
    };
    let window = 4096usize.max(local_slots * 4 + 4);
    let board = Board::new(cfg.to_value(), window, lease);
    let board = Arc::new(if frame.is_some() {
        board.for_blocks()
    } else {
        board
    });
    let server = Server::with_limits(
        bound.clone(),
        HashMap::new(),
        ServerLimits {
            max_message: 1 << 30,
            ..ServerLimits::default()
        },
    );
    server.host(BOARD_NAME, board.clone());
    std::thread::Builder::new()
        .name("mp-map-serve".into())
        .spawn(move || {
            let _ = server.serve_forever(listener);
        })?;
    eprintln!("mp map: listening on {bound}");
    let ssh = SshWorkers::start(args, &bound, key.as_deref())?;
    {
        let board = board.clone();
        std::thread::Builder::new()
            .name("mp-map-leases".into())
            .spawn(move || loop {
                std::thread::sleep((lease / 4).clamp(Duration::from_millis(50), MAX_WAIT));
                board.expire();
            })?;
    }
    {
        let board = board.clone();
        std::thread::Builder::new()
            .name("mp-map-input".into())
            .spawn(move || {
                match feed {
                    Feed::Records {
                        records,
                        done_before,
                    } => {
                        for (i, record) in records.enumerate() {
                            let seq = i as u64 + 1;
                            if done_before.contains(seq) {
                                continue;
                            }
                            if !board.add(seq, record) {
                                break;
                            }
                        }
                    }
                    Feed::Blocks { reader, .. } => {
                        for block in reader {
                            let seq = block.first_seq;
                            let added = match &block.reject {
                                // A record that cannot be framed fails here.
                                Some(reason) => board.add_done(
                                    seq,
                                    Outcome::Block(BlockOutcome::all_failed(
                                        seq,
                                        1,
                                        0,
                                        reason,
                                        block.timing,
                                    )),
                                ),
                                None => board.add(seq, vec![block.data]),
                            };
                            if !added {
                                break;
                            }
                        }
                    }
                }
                board.input_done();
            })?;
    }
    let local = if local_slots > 0 {
        let board2 = board.clone();
        let id = board.hello(":", local_slots as u64, None);
        let opts = EngineOptions {
            slots: local_slots,
            start_method: args.start_method,
            spill,
            on_pool: set_signal_pool,
        };
        Some(
            std::thread::Builder::new()
                .name("mp-map-local".into())
                .spawn(move || {
                    let mut link = LocalLink {
                        board: board2.clone(),
                        id,
                    };
                    let r = run_engine(&mut link, &cfg, &opts);
                    if let Err(e) = &r {
                        eprintln!("mp map: the local workers stopped: {e:#}");
                    }
                    board2.lose(id, "stopped");
                    r
                })?,
        )
    } else {
        None
    };

    let mut tally = Tally::new(args, joblog, total);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let ordered = !args.unordered;
    // Ordered output: the records in the order added; finished ones wait
    // in `held` for their turn.
    let mut order: VecDeque<u64> = VecDeque::new();
    let mut withdrawn: HashSet<u64> = HashSet::new();
    let mut held: HashMap<u64, Finished> = HashMap::new();
    let (json, tag) = (args.json, args.tag);
    let write = |f: Finished, tally: &mut Tally| -> Result<()> {
        let Finished {
            seq,
            host,
            record,
            result,
        } = f;
        let echo = json || tally.joblog.is_some();
        let out = Out {
            stdout: &stdout,
            stderr: &stderr,
            json,
            tag,
            joblog: &mut tally.joblog,
            host: &host,
        };
        let Some(frame) = frame else {
            let result = match result {
                Ok(Outcome::Record(mut o)) => {
                    if json || tag {
                        o.input = Some(record.join(&b' '));
                    }
                    Ok(o)
                }
                Ok(Outcome::Block(_)) => Err("a block's result in a run of records".into()),
                Err(e) => Err(e),
            };
            let ok = tally
                .progress
                .suspend(|| output::report_remote(result, seq, out))?;
            tally.count(ok);
            let (d, fl) = (tally.done, tally.failed);
            tally.progress.update(d, fl, 1);
            return Ok(());
        };
        // A block: its records, and their replies or failures.
        let data = record.concat();
        let mut b = match result {
            Ok(Outcome::Block(b)) => b,
            Ok(Outcome::Record(_)) => BlockOutcome::all_failed(
                seq,
                count_newlines(&data) as u32,
                1,
                "a record's result in a run of blocks",
                timing,
            ),
            Err(e) => BlockOutcome::all_failed(seq, count_newlines(&data) as u32, 1, &e, timing),
        };
        if let Some(size) = &size {
            super::blocks::adapt(size, &b);
        }
        if echo {
            b.echo = Some(data);
        }
        let (n, f) = (u64::from(b.nrecords), b.failures.len() as u64);
        tally
            .progress
            .suspend(|| output::report_block(b, frame, out))?;
        tally.done += n;
        tally.failed += f;
        let (d, fl) = (tally.done, tally.failed);
        tally.progress.update(d, fl, n);
        Ok(())
    };
    let mut aborted = false;
    loop {
        if signals::stopping() && !aborted {
            board.abort();
            aborted = true;
        }
        let taken = board.take_finished(Duration::from_millis(100));
        let all_done = taken.all_done;
        order.extend(taken.added);
        withdrawn.extend(taken.withdrawn);
        let mut n = 0;
        let mut stop_now = false;
        for f in taken.finished {
            if ordered {
                held.insert(f.seq, f);
            } else {
                n += 1;
                write(f, &mut tally)?;
                if let Some(h) = tally.halt_now() {
                    stop_now |= halt(&board, h, &tally);
                }
            }
        }
        while let Some(&first) = order.front() {
            if withdrawn.remove(&first) {
                order.pop_front();
                continue;
            }
            if !ordered {
                order.pop_front();
                continue;
            }
            let Some(f) = held.remove(&first) else { break };
            order.pop_front();
            n += 1;
            write(f, &mut tally)?;
            if let Some(h) = tally.halt_now() {
                stop_now |= halt(&board, h, &tally);
            }
        }
        board.written(n);
        if stop_now || (aborted && signals::stopping()) {
            aborted = true;
            if signals::stopping() {
                // Let the workers hear it first.
                let deadline = Instant::now() + Duration::from_millis(500);
                while board.remote_workers() > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            // What had finished is written out (out of order).
            let rest = board.take_finished(Duration::ZERO).finished;
            let mut left: Vec<Finished> = held.drain().map(|(_, f)| f).chain(rest).collect();
            left.sort_by_key(|f| f.seq);
            for f in left {
                write(f, &mut tally)?;
            }
            break;
        }
        if all_done && held.is_empty() {
            let rest = board.take_finished(Duration::ZERO);
            if rest.finished.is_empty() {
                break;
            }
            order.extend(rest.added);
            for f in rest.finished {
                held.insert(f.seq, f);
            }
            // Written by the loop above on the next turn.
        }
    }
    let Tally {
        done,
        failed,
        progress,
        ..
    } = tally;
    progress.finish(done, failed);
    use std::io::Write;
    std::io::stdout().flush()?;
    if signals::stopping() {
        signals::drained();
    }
    if aborted {
        board.abort();
    }
    // Let waiting workers hear that the run is over.
    let deadline = Instant::now() + Duration::from_secs(2);
    while board.remote_workers() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(h) = local {
        let _ = h.join();
    }
    ssh.finish();
    let code = if failed > 0 {
        eprintln!("mp: {failed} of {done} tasks failed");
        1
    } else {
        0
    };
    match status.error() {
        Some(e) => {
            eprintln!("mp map: error reading input: {e}");
            Ok(code.max(1))
        }
        None => Ok(code),
    }
}

/// The `mp worker`s `--ssh` started.
struct SshWorkers(Vec<(String, std::process::Child)>);

impl SshWorkers {
    /// Starts `PROG HOST 'mp worker --connect ADDR ...'` for each host of
    /// --ssh and --sshloginfile, the key written to its stdin.
    fn start(
        args: &MapArgs,
        bound: &mp::connection::Address,
        key: Option<&[u8]>,
    ) -> Result<SshWorkers> {
        let mut hosts = args.ssh.clone();
        if let Some(f) = &args.sshloginfile {
            let text = std::fs::read_to_string(f)
                .map_err(|e| Usage(format!("cannot read --sshloginfile {}: {e}", f.display())))?;
            hosts.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        let mut out = SshWorkers(Vec::new());
        if hosts.is_empty() {
            return Ok(out);
        }
        let connect = match &args.advertise {
            Some(a) => a.clone(),
            None => match bound {
                mp::connection::Address::Tcp { host, port }
                    if host.is_empty() || host == "0.0.0.0" || host == "::" =>
                {
                    format!("{}:{port}", this_host())
                }
                a => a.to_string(),
            },
        };
        for spec in hosts {
            let (slots, host) = match spec.split_once('/') {
                Some((n, h)) => match n.parse::<usize>() {
                    Ok(n) if n > 0 => (Some(n), h.to_string()),
                    _ => bail!(Usage(format!(
                        "--ssh {spec:?}: expected HOST or N/HOST (N slots, at least 1)"
                    ))),
                },
                None => (None, spec.clone()),
            };
            if host.is_empty() || host.starts_with('-') {
                bail!(Usage(format!("--ssh {spec:?}: not a host name")));
            }
            let q = |s: &str| {
                String::from_utf8_lossy(&super::template::shell_quote(s.as_bytes())).into_owned()
            };
            let mut remote = format!("mp worker --connect {} --host {}", q(&connect), q(&host));
            if let Some(n) = slots {
                remote.push_str(&format!(" -j {n}"));
            }
            if key.is_some() {
                remote.push_str(" --authkey-file -");
            }
            let mut child = std::process::Command::new(&args.ssh_program)
                .arg(&host)
                .arg(&remote)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .map_err(|e| Usage(format!("cannot run {} for --ssh: {e}", args.ssh_program)))?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                let _ = stdin.write_all(key.unwrap_or_default());
            }
            out.0.push((host, child));
        }
        Ok(out)
    }

    /// Waits a little for the ssh sessions to end with their workers, then
    /// ends the ones left.
    fn finish(self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for (host, mut child) in self.0 {
            loop {
                match child.try_wait() {
                    Ok(Some(s)) => {
                        if !s.success() && !signals::stopping() {
                            eprintln!("mp map: the worker on {host} (over ssh) ended with {s}");
                        }
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// This machine's name.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// --halt reached: says so; true when running tasks are to stop now.
fn halt(board: &Board, h: super::super::jobs::Halt, tally: &Tally) -> bool {
    let withdrawn = board.stop_input();
    tally.progress.suspend(|| {
        eprintln!(
            "mp: --halt {}: reached after {} tasks ({} failed); {}",
            h.describe(),
            tally.done,
            tally.failed,
            if h.now {
                "stopping the running ones".to_string()
            } else {
                format!(
                    "starting nothing new ({withdrawn} not started); waiting for the running ones"
                )
            }
        )
    });
    if h.now {
        board.abort();
    }
    h.now
}

// ---- mp worker ----

/// The long help of `mp worker`.
const WORKER_AFTER: &str = "\
Connects to a coordinator (`mp map --listen ADDR ... -- COMMAND`), takes its
records in batches and runs COMMAND for each with N local slots, exactly as
local `mp map` runs them (placeholders expanded here, {%} and MP_SLOT being
the slot on this worker; --timeout, --retries and --grace as the coordinator
says), and sends back each record's exit status, output and times. The
coordinator writes the output, in order, and the joblog (this worker's
--host in the Host column).

The worker only dials out; it retries the connection until the coordinator
is up (--connect-timeout), and exits when the run ends (--keep-going: waits
for the next run). If the coordinator goes away or stops the run (Ctrl-C,
--halt now), or stops answering for its lease time, every running task's
process group is ended (TERM, --grace, KILL) before the worker exits; its
records run again on other workers. Anyone holding the key can run any
command on this worker: see \"Remote workers\" in the README.

A --persistent run: each slot starts the coordinator's COMMAND once and
feeds it blocks of records on its stdin, exactly as local
`mp map --persistent` does; a block cut short by this worker's death runs
again elsewhere.

Examples:
  # coordinator (a key file readable only by you):
  seq 1000 | mp map --listen 0.0.0.0:7000 --authkey-file key -j 0 -- gzip -k {}.log
  # each worker host:
  mp worker --connect coordinator:7000 --authkey-file key -j 8
  # Slurm: one worker per node
  srun --ntasks-per-node=1 mp worker --connect $(hostname):7000 --authkey-file key

Exit codes: 0 the run ended; 1 the coordinator could not be reached within
--connect-timeout, went away, stopped the run, or refused the key; 2 usage
error (bad address, unreadable key file); 130/143 after SIGINT/SIGTERM.";

/// Arguments of `mp worker`.
#[derive(Debug, clap::Args)]
#[command(after_help = WORKER_AFTER)]
pub struct WorkerArgs {
    /// The coordinator's address (HOST:PORT or a Unix socket path).
    #[arg(long, value_name = "ADDR")]
    connect: String,
    /// Read the authentication key from FILE (else $MP_AUTHKEY).
    #[arg(long, value_name = "FILE", env = "MP_AUTHKEY_FILE")]
    authkey_file: Option<std::path::PathBuf>,
    /// Local slots: N, +N, -N or N% of the CPUs [default: the CPUs].
    #[arg(short = 'j', long = "processes", value_name = "N", allow_hyphen_values = true, value_parser = super::args::parse_jobs)]
    processes: Option<super::args::Jobs>,
    /// The name this worker gives in the coordinator's joblog [default:
    /// the host name].
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Keep trying to reach the coordinator for this long.
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_duration, default_value = "60s")]
    connect_timeout: Duration,
    /// After a run ends (or the coordinator goes away), wait for the next one.
    #[arg(long)]
    keep_going: bool,
    /// How the local slots' processes are started (as mp map's).
    #[arg(long, value_name = "METHOD", default_value = "forkserver", value_parser = super::args::parse_start_method)]
    start_method: mp::StartMethod,
}

/// Connects, retrying until `deadline` (None: for ever); a refused key is
/// final.
fn connect(
    addr: &mp::connection::Address,
    key: Option<&[u8]>,
    deadline: Option<Instant>,
) -> Result<mp::managers::SyncManager> {
    let mut said = false;
    loop {
        match mp::managers::SyncManager::connect(addr, key) {
            Ok(m) => return Ok(m),
            Err(e @ mp::Error::Authentication(_)) => {
                bail!("the coordinator at {addr} refused this worker's key: {e}")
            }
            Err(e) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    bail!("cannot reach the coordinator at {addr}: {e}");
                }
                if !said {
                    eprintln!("mp worker: waiting for the coordinator at {addr} ({e})");
                    said = true;
                }
                if signals::stopping() {
                    // The signal thread exits with 128 + the signal.
                    signals::drained();
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// `mp worker`.
pub fn run_worker_engine(args: WorkerArgs) -> Result<i32> {
    let r = worker_engine(args);
    // As `mp map` does on its way out: the spill directory goes (a worker
    // killed outright leaves it to its sentinel).
    signals::clean_up();
    r
}

fn worker_engine(args: WorkerArgs) -> Result<i32> {
    // As `mp map`: fork the forkserver while this process has one thread.
    if args.start_method == mp::StartMethod::Forkserver {
        if let Err(e) = mp::prefork_forkserver() {
            log::debug!("worker: forkserver not started early: {e}");
        }
    }
    let key = super::super::wire::authkey(&args.authkey_file)?;
    let addr: mp::connection::Address = args
        .connect
        .parse()
        .map_err(|e: mp::Error| Usage(format!("--connect {e}")))?;
    let cpus = mp::process_cpu_count();
    let slots = args
        .processes
        .map_or(cpus, |j| j.resolve(cpus))
        .clamp(1, super::args::MAX_WORKERS);
    let host = match &args.host {
        Some(h) => h.clone(),
        None => this_host(),
    };
    signals::IN_WORKER.store(true, std::sync::atomic::Ordering::Relaxed);
    signals::install()?;
    let spill = signals::spill_dir()?;
    crate::cli::command::reap_orphans(Duration::from_secs(2), Some(&spill))
        .context("cannot watch for orphaned processes")?;
    let opts = EngineOptions {
        slots,
        start_method: args.start_method,
        spill,
        on_pool: set_signal_pool,
    };
    loop {
        let deadline = (!args.keep_going).then(|| Instant::now() + args.connect_timeout);
        let manager = match connect(&addr, key.as_deref(), deadline) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("mp worker: {e:#}");
                return Ok(1);
            }
        };
        let r = (|| -> Result<EngineEnd> {
            let proxy: mp::managers::Proxy = manager
                .get(BOARD_NAME)
                .with_context(|| format!("{addr} serves no mp map --listen run"))?;
            let hello = proxy.call_value(
                "hello",
                vec![
                    Value::str(host.clone()),
                    Value::Int(slots as i64),
                    Value::Bool(true),
                ],
                vec![],
            )?;
            let (id, cfg) = match hello {
                Value::Tuple(t) | Value::List(t) if t.len() == 2 => {
                    let id = t[0]
                        .as_i128()
                        .and_then(|n| u64::try_from(n).ok())
                        .context("the coordinator sent no worker id")?;
                    (id, RunConfig::from_value(&t[1])?)
                }
                _ => bail!("the coordinator's hello is not (id, settings)"),
            };
            // A coordinator that stops answering (its host cut off) is
            // given up after its lease: the call is cut, the tasks end.
            let fd = proxy.connection_fd()?;
            let busy = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let watch = Watchdog::start(fd, busy.clone(), cfg.lease + MAX_WAIT * 2);
            let mut link = WatchedLink {
                inner: RemoteLink { proxy, id },
                busy,
                start: Instant::now(),
            };
            let r = run_engine(&mut link, &cfg, &opts);
            watch.stop();
            r
        })();
        match r {
            Ok(EngineEnd::End) => {
                eprintln!("mp worker: the run is over");
                if !args.keep_going {
                    return Ok(0);
                }
            }
            Ok(EngineEnd::Abort) => {
                eprintln!("mp worker: the coordinator stopped the run; tasks ended");
                if !args.keep_going {
                    return Ok(1);
                }
            }
            Ok(EngineEnd::Expired) => {
                eprintln!(
                    "mp worker: the coordinator gave this worker up for lost (its records ran \
                     elsewhere); joining again"
                );
            }
            Err(e) => {
                if signals::stopping() {
                    signals::drained();
                }
                eprintln!("mp worker: lost the coordinator: {e:#}; tasks ended");
                if !args.keep_going {
                    return Ok(1);
                }
            }
        }
        drop(manager);
    }
}

/// A link whose calls the watchdog times.
struct WatchedLink {
    inner: RemoteLink,
    /// Milliseconds since `start` when the call in progress began (0: none).
    busy: Arc<std::sync::atomic::AtomicU64>,
    start: Instant,
}

impl Link for WatchedLink {
    fn exchange(
        &mut self,
        results: Vec<Outcome>,
        want: usize,
        free: usize,
        wait: Duration,
    ) -> Result<Leased> {
        use std::sync::atomic::Ordering;
        let now = self.start.elapsed().as_millis() as u64 + 1;
        self.busy.store(now, Ordering::SeqCst);
        let r = self.inner.exchange(results, want, free, wait);
        self.busy.store(0, Ordering::SeqCst);
        r
    }
}

/// Cuts the connection when a call has gone unanswered for `limit`.
struct Watchdog {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn start(
        fd: std::os::fd::OwnedFd,
        busy: Arc<std::sync::atomic::AtomicU64>,
        limit: Duration,
    ) -> Watchdog {
        use std::sync::atomic::Ordering;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let start = Instant::now();
        let _ = std::thread::Builder::new()
            .name("mp-worker-watchdog".into())
            .spawn(move || {
                while !stop2.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    let began = busy.load(Ordering::SeqCst);
                    if began == 0 {
                        continue;
                    }
                    let now = start.elapsed().as_millis() as u64 + 1;
                    if Duration::from_millis(now.saturating_sub(began)) > limit {
                        eprintln!(
                            "mp worker: the coordinator has not answered for {:.1}s: giving it up",
                            limit.as_secs_f64()
                        );
                        let _ = nix::sys::socket::shutdown(
                            std::os::fd::AsRawFd::as_raw_fd(&fd),
                            nix::sys::socket::Shutdown::Both,
                        );
                        return;
                    }
                }
            });
        Watchdog { stop }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Board {
        Board::new(Value::None, 100, Duration::from_millis(50))
    }

    fn result(seq: u64, out: &str) -> (u64, std::result::Result<Outcome, String>) {
        decode_result(Value::Tuple(vec![
            Value::Int(seq as i64),
            Value::Int(0),
            Value::Bytes(out.as_bytes().to_vec()),
        ]))
        .unwrap()
    }

    fn stdout_of(f: &Finished) -> Vec<u8> {
        match f.result.as_ref().unwrap() {
            Outcome::Record(o) => match &o.outcome.stdout {
                Captured::Inline(b) => b.clone(),
                Captured::Spilled(_) => unreachable!(),
            },
            Outcome::Block(_) => unreachable!(),
        }
    }

    /// A block's outcome as a worker sends it, through the wire and back.
    fn block_result(first_seq: u64, replies: &[u8]) -> (u64, std::result::Result<Outcome, String>) {
        let mut b = BlockOutcome::all_failed(first_seq, 0, 0, "", false);
        b.nrecords = count_newlines(replies) as u32;
        b.replies = replies.to_vec();
        decode_block(encode_result(Outcome::Block(b))).unwrap()
    }

    #[test]
    fn blocks_fill_a_window_of_two_per_slot_and_only_results_that_fit_count() {
        let b = board().for_blocks();
        // No worker yet: two blocks.
        assert!(b.add(1, vec![b"a\nb\n".to_vec()]));
        assert!(b.add(3, vec![b"c\n".to_vec()]));
        assert_eq!(b.window(&b.lock()), 2);
        // A worker with one slot: room for two more.
        let w = b.hello("w", 1, Some(1));
        assert_eq!(b.window(&b.lock()), 4);
        assert!(b.add(4, vec![b"d\n".to_vec()]));
        // However many slots a worker claims, the window is bounded.
        let greedy = b.hello("greedy", u64::MAX, Some(2));
        assert_eq!(b.window(&b.lock()), MAX_BLOCKS);
        b.lose(greedy, "left");
        assert_eq!(b.window(&b.lock()), 4);
        b.input_done();
        let (got, _) = b.exchange(w, vec![], 3, 1, Duration::ZERO);
        assert_eq!(got.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 3, 4]);
        // Block 1 answered whole; block 3 with one reply too many; block 4
        // with a wrong first record number is refused on the wire.
        let results = vec![block_result(1, b"A\nB\n"), block_result(3, b"C\nX\n")];
        let (_, c) = b.exchange(w, results, 0, 0, Duration::ZERO);
        assert_eq!(c, Control::Run);
        let mut bad = BlockOutcome::all_failed(5, 1, 0, "", false);
        bad.failures.clear();
        let wire = Value::Tuple(vec![
            Value::Int(4),
            Value::Bytes(postcard::to_allocvec(&bad).unwrap()),
        ]);
        assert!(decode_block(wire).is_err());
        assert!(decode_block(Value::Tuple(vec![
            Value::Int(4),
            Value::Bytes(b"junk".to_vec())
        ]))
        .is_err());
        let (_, c) = b.exchange(w, vec![block_result(4, b"D\n")], 0, 0, Duration::ZERO);
        assert_eq!(c, Control::End);
        let taken = b.take_finished(Duration::ZERO);
        assert_eq!(taken.finished.len(), 3);
        let by_seq = |s: u64| taken.finished.iter().find(|f| f.seq == s).unwrap();
        match by_seq(1).result.as_ref().unwrap() {
            Outcome::Block(o) => assert_eq!(o.replies, b"A\nB\n"),
            Outcome::Record(_) => unreachable!(),
        }
        assert!(by_seq(3)
            .result
            .as_ref()
            .unwrap_err()
            .contains("does not match"));
        assert!(by_seq(4).result.is_ok());
    }

    #[test]
    fn a_lost_workers_records_run_elsewhere_and_its_late_results_are_dropped() {
        let b = board();
        for seq in 1..=3 {
            assert!(b.add(seq, vec![format!("r{seq}").into_bytes()]));
        }
        b.input_done();
        let a = b.hello("a", 2, Some(10));
        let (got, c) = b.exchange(a, vec![], 2, 2, Duration::ZERO);
        assert_eq!(c, Control::Run);
        assert_eq!(got.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2]);
        // a goes silent past its lease: its records go back, first in line.
        std::thread::sleep(Duration::from_millis(80));
        b.expire();
        let w = b.hello("b", 3, Some(11));
        let (got, _) = b.exchange(w, vec![], 3, 3, Duration::ZERO);
        assert_eq!(got.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2, 3]);
        // a comes back with a late result: dropped, and a learns it expired.
        let (none, c) = b.exchange(a, vec![result(1, "late")], 2, 2, Duration::ZERO);
        assert!(none.is_empty());
        assert_eq!(c, Control::Expired);
        let (_, c) = b.exchange(
            w,
            vec![result(1, "one"), result(2, "two"), result(3, "three")],
            0,
            0,
            Duration::ZERO,
        );
        assert_eq!(c, Control::End);
        let taken = b.take_finished(Duration::ZERO);
        assert!(taken.all_done);
        let outs: Vec<Vec<u8>> = taken.finished.iter().map(stdout_of).collect();
        assert_eq!(outs, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
        assert_eq!(taken.finished[0].record, vec![b"r1".to_vec()]);
        assert_eq!(&*taken.finished[0].host, "b");
    }

    #[test]
    fn a_record_whose_workers_keep_dying_fails() {
        let b = board();
        assert!(b.add(1, vec![b"r".to_vec()]));
        b.input_done();
        for conn in 0..MAX_LOST as u64 {
            let id = b.hello("h", 1, Some(conn));
            let (got, _) = b.exchange(id, vec![], 1, 1, Duration::ZERO);
            assert_eq!(got.len(), 1);
            b.disconnected(conn);
        }
        let taken = b.take_finished(Duration::ZERO);
        assert_eq!(taken.finished.len(), 1);
        assert!(taken.finished[0]
            .result
            .as_ref()
            .unwrap_err()
            .contains("lost"));
        assert!(taken.all_done);
    }

    #[test]
    fn beyond_its_idle_slots_a_worker_takes_its_share() {
        let b = board();
        for seq in 1..=4 {
            assert!(b.add(seq, vec![]));
        }
        let x = b.hello("x", 1, Some(1));
        let _y = b.hello("y", 1, Some(2));
        // One idle slot, 8 wanted: the share of 4 queued among 2 is 2.
        let (got, _) = b.exchange(x, vec![], 8, 1, Duration::ZERO);
        assert_eq!(got.len(), 2);
    }
}
