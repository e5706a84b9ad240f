//! Process pools (CPython's `multiprocessing.pool.Pool`), the engine under `mp map`.
//!
//! ```no_run
//! fn pow3(x: u64) -> u64 {
//!     x * x * x
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let pool = mp::Pool::new(Some(2)).unwrap();
//!     let cubes = pool.map(pow3, 0..10u64, None).unwrap();
//!     assert_eq!(cubes[3], 27);
//!     for r in pool.imap(pow3, 0..1_000_000u64, 1000) {
//!         let _ = r.unwrap();
//!     }
//! }
//! ```
//!
//! Tasks are plain functions `fn(A) -> R` whose argument and result serde can
//! encode; they cross processes the way [`crate::Process`] targets do, under
//! every start method.
//!
//! # Never hangs
//! A worker that dies (SIGKILL, segfault, `exit`) is noticed at once through
//! its pidfd. The tasks it held fail with [`TaskError::WorkerLost`] (or run
//! again, with [`PoolBuilder::retries`]), a new worker takes its slot, and the
//! pool goes on. CPython's pool waits for ever in that case.
//!
//! # Caveats
//! - Tasks travel in chunks. Without a time limit, a worker reports a chunk's
//!   results together, so when it dies every unreported task of that chunk
//!   fails (or is retried) as one. With [`PoolBuilder::task_timeout`] results
//!   come one by one: only the task that was running fails, the rest of its
//!   chunk is handed to the next worker.
//! - A time limit kills the worker (SIGKILL) and starts another; the task fails
//!   with [`TaskError::TimedOut`].
//! - `imap`/`imap_unordered` read their input lazily, in the calling thread,
//!   keeping at most a window of chunks in flight or waiting
//!   ([`PoolBuilder::window`]): memory stays flat on an endless input, and work
//!   proceeds while you consume results. While the calling thread waits for
//!   input, ready results wait too; [`Pool::imap_streaming`] reads the input
//!   in a feeder thread instead (as CPython's pool does).
//! - By default a worker is handed more chunks ahead when recent chunks ran
//!   in microseconds ([`PoolBuilder::prefetch`]); none before the first
//!   results, nor while chunks take 25 ms or more, so chunks start in order. Chunks queued behind one
//!   that runs for 10–20 ms are handed back to the pool for free workers, so
//!   they wait that long at most.
//! - Dropping a pool terminates its workers, as leaving CPython's `with Pool()` does.

pub(crate) mod chunk;
mod job;
mod supervisor;
mod worker;

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use job::AsyncResult;
use job::{collect_all, ChunkResults, Job, JobState};
pub use worker::worker_slot;

use crate::connection::{codec, Codec, Connection};
use crate::context::{self, StartMethod};
use crate::error::{Error, Misuse, Result};

/// The message of [`TaskError::WorkerLost`]: how the worker ended, in
/// words. `exitcode` is Python's `Process.exitcode`: negative for the
/// signal that killed it, `None` when its status could not be learned.
fn worker_lost(pid: i32, exitcode: Option<i32>) -> String {
    format!(
        "worker {pid} {} while running the task",
        how_it_ended(exitcode)
    )
}

/// "was killed by SIGKILL", "exited with status 3".
fn how_it_ended(exitcode: Option<i32>) -> String {
    match exitcode {
        Some(code) if code < 0 => {
            let signal = code.checked_neg().unwrap_or(i32::MAX);
            match nix::sys::signal::Signal::try_from(signal) {
                Ok(name) => format!("was killed by {name}"),
                Err(_) => format!("was killed by signal {signal}"),
            }
        }
        Some(code) => format!("exited with status {code}"),
        None => "died (its exit status is unknown)".to_string(),
    }
}

/// How many workers in a row may die before they are ready (their
/// initializer done) before the pool gives up: see
/// [`TaskError::WorkersCannotStart`].
pub const START_FAILURES: u32 = 3;

/// Why a task did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TaskError {
    /// The task function panicked (message and location).
    #[error("{0}")]
    Panicked(String),
    /// The worker running the task died: "worker 13826 was killed by
    /// SIGKILL while running the task", "worker 13826 exited with status 3
    /// while running the task".
    #[error("{}", worker_lost(*pid, *exitcode))]
    WorkerLost {
        /// The worker's pid.
        pid: i32,
        /// Its exit code (negative: killed by that signal).
        exitcode: Option<i32>,
    },
    /// The task ran past the pool's time limit; its worker was killed.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The pool's initializer failed in a worker, so no task can run.
    #[error("the pool's initializer failed: {0}")]
    InitializerFailed(String),
    /// [`START_FAILURES`] workers in a row died before they were ready
    /// (before or in the initializer: it exited or was killed, or the
    /// program could not start), so no task can run. CPython's pool
    /// restarts such workers for ever; this one fails every pending task
    /// instead.
    #[error(
        "{count} pool workers in a row died before they were ready (the last, worker {pid}, {}): \
         the initializer or the worker program cannot start",
        how_it_ended(*exitcode)
    )]
    WorkersCannotStart {
        /// How many died in a row.
        count: u32,
        /// The last one's pid.
        pid: i32,
        /// Its exit code (negative: killed by that signal).
        exitcode: Option<i32>,
    },
    /// The pool was terminated before the task finished.
    #[error("the pool was terminated")]
    Terminated,
    /// The task was still waiting for a worker when
    /// [`Pool::cancel_pending`] was called; it never ran.
    #[error("cancelled before it started")]
    Cancelled,
    /// Arguments or result could not be encoded or decoded.
    #[error("{0}")]
    Codec(String),
    /// The iterator giving the tasks' inputs panicked (in the pool's
    /// feeder thread): the tasks it had given are done, no more come.
    #[error("the input iterator panicked in the feeder thread")]
    InputPanicked,
    /// A task finished without a result (a bug in `mp`: a result is lost).
    #[error("the task produced no result")]
    NoResult,
}

/// Settings for a [`Pool`]; see [`Pool::builder`].
#[derive(Default)]
pub struct PoolBuilder {
    processes: Option<usize>,
    initializer: Option<WorkerHook>,
    finalizer: Option<WorkerHook>,
    maxtasksperchild: Option<usize>,
    start_method: Option<StartMethod>,
    task_timeout: Option<Duration>,
    retries: u32,
    window: Option<usize>,
    prefetch: Option<usize>,
    lazy: bool,
}

/// An initializer or finalizer and its encoded argument, with the descriptors the
/// argument carries (a `Lock`, `Queue`, `Connection`...), which every
/// worker receives a duplicate of.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct WorkerHook {
    pub target: crate::target::EncodedFn,
    pub args: Vec<u8>,
    pub fds: crate::reduction::FdTable,
}

impl WorkerHook {
    fn new<A>(f: fn(A), args: A) -> Result<WorkerHook>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let target = crate::target::encode_target(f);
        let (args, fds) = crate::reduction::collect_fds(|| Codec::Postcard.encode(&args));
        Ok(WorkerHook {
            target,
            args: args?,
            fds: crate::reduction::FdTable(fds),
        })
    }
}

impl PoolBuilder {
    /// Number of worker processes (default: [`crate::process_cpu_count`]).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n.max(1));
        self
    }
    /// A function each worker runs once when it starts (Python's
    /// `initializer`/`initargs`). `args` may hold what a `Process` argument
    /// may: synchronization primitives, shared values, queues, connections.
    pub fn initializer<A>(mut self, f: fn(A), args: A) -> Result<Self>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        self.initializer = Some(WorkerHook::new(f, args)?);
        Ok(self)
    }
    /// A function each worker runs when it leaves its task loop: after
    /// `maxtasksperchild` chunks, or when the pool closes and the worker
    /// finishes (not when it is killed: terminate, a time limit, SIGKILL).
    /// An `mp` extension (Python's `Pool` has only the initializer); `args`
    /// as for [`initializer`](Self::initializer). A panic in it is ignored.
    pub fn finalizer<A>(mut self, f: fn(A), args: A) -> Result<Self>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        self.finalizer = Some(WorkerHook::new(f, args)?);
        Ok(self)
    }
    /// A worker exits after this many chunks and a fresh one replaces it.
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.maxtasksperchild = Some(n.max(1));
        self
    }
    /// The start method for the workers (default: the global one).
    pub fn start_method(mut self, m: StartMethod) -> Self {
        self.start_method = Some(m);
        self
    }
    /// Per-task time limit: a task running longer fails with
    /// [`TaskError::TimedOut`] and its worker is replaced.
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }
    /// Run a task again, up to `n` more times, when its worker dies or it times out.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }
    /// `imap` keeps at most this many chunks submitted and not yet consumed
    /// (default: 8 per worker, and at least 8192 tasks' worth).
    pub fn window(mut self, chunks: usize) -> Self {
        self.window = Some(chunks.max(1));
        self
    }
    /// Chunks a busy worker may be given ahead of time (0 with a task time
    /// limit). Prefetch hides the hand-off latency of small tasks. A chunk
    /// that runs for 10–20 ms has the chunks queued behind it handed back
    /// to the pool for free workers; 0 never queues any.
    ///
    /// The default adapts: 1, or as many chunks as the recent ones suggest
    /// take about half a millisecond (at most 256), so chunks of a few
    /// microseconds stream without a round trip each. Setting it fixes it,
    /// with one exception either way: before the first results, and while
    /// chunks take 25 ms or more on average, nothing is given ahead, so a
    /// free worker always gets the next chunk and chunks start in order.
    pub fn prefetch(mut self, chunks: usize) -> Self {
        self.prefetch = Some(chunks);
        self
    }
    /// Starts one worker at once and the others only when queued work finds
    /// every started worker busy (not in CPython, which starts them all). A
    /// short input then costs one process start, not `processes` of them.
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }
    /// Starts the workers.
    pub fn build(self) -> Result<Pool> {
        Pool::start(self)
    }
}

/// A chunk of tasks waiting for, or held by, a worker.
pub(crate) struct Chunk {
    pub job: Arc<Job>,
    pub index: usize,
    pub target: crate::target::EncodedFn,
    pub data: Arc<Vec<u8>>,
    pub nitems: usize,
    /// Results already obtained by earlier attempts (the next item to run is `prior.len()`).
    pub prior: Vec<job::ItemResult>,
    pub attempts: u32,
}

impl Chunk {
    /// The chunk's results when its unfinished tasks all fail with `err`:
    /// what earlier attempts obtained, then `err` for each task left.
    pub(crate) fn fail_rest(&mut self, err: TaskError) -> ChunkResults {
        let mut results = std::mem::take(&mut self.prior);
        results.resize(self.nitems, Err(err));
        ChunkResults::Items(results)
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// The dispatcher waits here for work and free workers.
    pub work: Condvar,
    /// Writing a byte wakes the supervisor from its poll.
    pub wake: OwnedFd,
    pub opts: Opts,
}

pub(crate) struct Opts {
    pub processes: usize,
    pub initializer: Option<Arc<WorkerHook>>,
    pub finalizer: Option<Arc<WorkerHook>>,
    pub maxtasks: Option<usize>,
    pub method: Option<StartMethod>,
    pub task_timeout: Option<Duration>,
    pub retries: u32,
    /// `imap`'s window, if set ([`PoolBuilder::window`]).
    pub window: Option<usize>,
    /// Chunks a worker may hold at once (one running, the rest queued in its
    /// socket), or the least of it when `adaptive`.
    pub per_worker: usize,
    /// Prefetch follows the chunks' running time ([`PoolBuilder::prefetch`]).
    pub adaptive: bool,
    /// Workers start as work needs them ([`PoolBuilder::lazy`]).
    pub lazy: bool,
}

#[derive(Default)]
pub(crate) struct State {
    pub queue: VecDeque<Chunk>,
    pub slots: Vec<Slot>,
    /// close() was called: no new work.
    pub closed: bool,
    /// terminate() was called, or close() and everything finished.
    pub stopping: bool,
    /// Set when no task can ever run (the initializer fails).
    pub fatal: Option<TaskError>,
    /// Workers that died before they were ready, in a row.
    pub start_failures: u32,
    /// The dispatcher is blocked on `Shared::work`.
    pub dispatcher_waiting: bool,
    /// Slots whose worker has not been started yet (lazy pools).
    pub unstarted: usize,
    /// Recent chunks' running time (a moving average), for adaptive prefetch.
    pub chunk_ns: Option<u64>,
}

impl State {
    /// Records a finished chunk's running time.
    pub(crate) fn observe(&mut self, busy_ns: u64) {
        self.chunk_ns = Some(match self.chunk_ns {
            None => busy_ns,
            Some(avg) => avg - avg / 8 + busy_ns / 8,
        });
    }
}

/// Read-ahead (a chunk waiting in a busy worker's socket) only for chunks
/// that take less than this on average.
const PREFETCH_BELOW_NS: u64 = 25_000_000;

/// Adaptive prefetch: the work a worker may have queued ahead, and the most chunks.
const AHEAD_NS: u64 = 500_000;
const AHEAD_MAX: usize = 256;

#[derive(Default)]
pub(crate) struct Slot {
    /// The write half of the worker's connection (None while (re)starting).
    pub writer: Option<Arc<Mutex<Connection>>>,
    pub inflight: VecDeque<Chunk>,
    pub sent: usize,
    pub running_since: Option<std::time::Instant>,
    pub partial: Vec<job::ItemResult>,
    pub timed_out: bool,
    pub pid: Option<i32>,
    /// The worker handed back its queued chunks: give it no more until its
    /// running chunk is done.
    pub hold: bool,
    /// The worker said it is ready (its initializer is done).
    pub ready: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn wake_supervisor(&self) {
        let _ = nix::unistd::write(&self.wake, &[1]);
    }
    /// The most chunks a worker may hold now (see [`PoolBuilder::prefetch`]).
    /// Beyond the least prefetch, never more than a fair share of the
    /// outstanding work, so a burst of slow tasks after fast ones does not
    /// pile up on one worker while others (or workers yet to start) could
    /// take some.
    ///
    /// A chunk waits behind a running one only while chunks are known to be
    /// short (under [`PREFETCH_BELOW_NS`]): before the first results, and
    /// for long chunks, a worker gets its next chunk when it is free, so a
    /// free worker always gets the next chunk and chunks start in order.
    /// The round trip that read-ahead saves is then a negligible part of
    /// a chunk's time.
    pub(crate) fn limit(&self, st: &State) -> usize {
        let least = self.opts.per_worker;
        if st.chunk_ns.is_none_or(|ns| ns >= PREFETCH_BELOW_NS) {
            return 1;
        }
        let Some(ns) = st.chunk_ns.filter(|_| self.opts.adaptive) else {
            return least;
        };
        let ahead = 1 + (AHEAD_NS / ns.max(1)).min(AHEAD_MAX as u64) as usize;
        if ahead <= least {
            return least;
        }
        let outstanding = st.queue.len() + st.slots.iter().map(|s| s.inflight.len()).sum::<usize>();
        ahead.min(outstanding.div_ceil(st.slots.len()).max(least))
    }

    /// Whether a lazy pool should start another worker: work is waiting
    /// beyond what the started workers hold at the least prefetch.
    pub(crate) fn wants_worker(&self, st: &State) -> bool {
        let base = self.limit(st);
        st.unstarted > 0
            && !st.slots.iter().any(|s| supervisor::has_room(self, s, base))
            && (!st.queue.is_empty() || st.slots.iter().any(|s| s.inflight.len() > base))
    }

    /// Wakes the dispatcher if it waits and may now have something to do
    /// (a notify is a syscall even with nobody waiting).
    pub(crate) fn nudge(&self, st: &State) {
        let work = || {
            let limit = self.limit(st);
            !st.queue.is_empty()
                && st
                    .slots
                    .iter()
                    .any(|s| supervisor::has_room(self, s, limit))
        };
        if st.dispatcher_waiting && (st.stopping || work()) {
            self.work.notify_all();
        }
    }
}

/// Chunks gathered for one [`Pool::submit_many`]: small chunks then share
/// writes to the workers, while large ones start running as soon as the
/// next are encoded.
#[derive(Default)]
struct Batch {
    chunks: Vec<(usize, Vec<u8>, usize)>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, index: usize, data: Vec<u8>, nitems: usize) {
        self.bytes += data.len();
        self.chunks.push((index, data, nitems));
    }

    fn full(&self) -> bool {
        self.chunks.len() >= 64 || self.bytes >= 16 * 1024
    }

    /// Submits what was gathered (nothing is kept, even on error); returns
    /// how many chunks.
    fn submit(
        &mut self,
        shared: &Shared,
        job: &Arc<Job>,
        call: crate::target::EncodedFn,
    ) -> Result<usize> {
        let chunks = std::mem::take(&mut self.chunks);
        self.bytes = 0;
        let n = chunks.len();
        if n > 0 {
            submit_many(shared, job, call, chunks)?;
        }
        Ok(n)
    }
}

/// Queues chunks (index, encoded `Vec<A>`, item count) under one lock,
/// so they can reach a worker in one write.
fn submit_many(
    shared: &Shared,
    job: &Arc<Job>,
    call: crate::target::EncodedFn,
    chunks: Vec<(usize, Vec<u8>, usize)>,
) -> Result<()> {
    let mut st = shared.lock();
    if st.closed || st.stopping {
        return Err(Error::Misuse(Misuse::PoolClosed));
    }
    if let Some(err) = st.fatal.clone() {
        drop(st);
        job.complete_many(
            chunks
                .into_iter()
                .map(|(index, _, n)| (index, ChunkResults::Items(vec![Err(err.clone()); n]))),
        );
        return Ok(());
    }
    st.queue
        .extend(chunks.into_iter().map(|(index, data, nitems)| Chunk {
            job: job.clone(),
            index,
            target: call,
            data: Arc::new(data),
            nitems,
            prior: Vec::new(),
            attempts: 0,
        }));
    supervisor::hand_over(shared, &mut st);
    if shared.wants_worker(&st) {
        // Every started worker is busy: the supervisor starts another.
        drop(st);
        shared.wake_supervisor();
    }
    Ok(())
}

/// A pool of worker processes. See the [module docs](self).
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Python's `Pool(processes)`: `None` uses [`crate::process_cpu_count`] workers.
    pub fn new(processes: Option<usize>) -> Result<Pool> {
        let mut b = PoolBuilder::default();
        if let Some(n) = processes {
            b = b.processes(n);
        }
        b.build()
    }

    /// All the options: initializer, maxtasksperchild, start method, time limits, retries.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    fn start(b: PoolBuilder) -> Result<Pool> {
        crate::child::check_bootstrap()?;
        let processes = b.processes.unwrap_or_else(context::process_cpu_count);
        let (wake_r, wake_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| Error::io("pipe", e.into()))?;
        let per_worker = if b.task_timeout.is_some() {
            1
        } else {
            1 + b.prefetch.unwrap_or(1)
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                slots: (0..processes).map(|_| Slot::default()).collect(),
                ..State::default()
            }),
            work: Condvar::new(),
            wake: wake_w,
            opts: Opts {
                processes,
                initializer: b.initializer.map(Arc::new),
                finalizer: b.finalizer.map(Arc::new),
                maxtasks: b.maxtasksperchild,
                method: b.start_method,
                task_timeout: b.task_timeout,
                retries: b.retries,
                window: b.window,
                per_worker,
                adaptive: b.prefetch.is_none() && b.task_timeout.is_none(),
                lazy: b.lazy,
            },
        });
        let workers = supervisor::start_workers(&shared)?;
        let s1 = shared.clone();
        let sup = std::thread::Builder::new()
            .name("mp-pool-supervisor".into())
            .spawn(move || supervisor::supervise(s1, workers, wake_r))
            .map_err(|e| Error::io("spawn the pool supervisor thread", e))?;
        let s2 = shared.clone();
        let disp = std::thread::Builder::new()
            .name("mp-pool-dispatcher".into())
            .spawn(move || supervisor::dispatch(s2))
            .map_err(|e| Error::io("spawn the pool dispatcher thread", e))?;
        Ok(Pool {
            shared,
            threads: Mutex::new(vec![sup, disp]),
        })
    }

    /// Number of worker processes.
    pub fn processes(&self) -> usize {
        self.shared.opts.processes
    }

    /// Queues a chunk (items already encoded as a `Vec<A>`).
    fn submit(
        &self,
        job: &Arc<Job>,
        index: usize,
        call: crate::target::EncodedFn,
        data: Vec<u8>,
        nitems: usize,
    ) -> Result<()> {
        self.submit_many(job, call, vec![(index, data, nitems)])
    }

    /// Queues chunks (index, encoded `Vec<A>`, item count) under one lock,
    /// so they can reach a worker in one write.
    fn submit_many(
        &self,
        job: &Arc<Job>,
        call: crate::target::EncodedFn,
        chunks: Vec<(usize, Vec<u8>, usize)>,
    ) -> Result<()> {
        submit_many(&self.shared, job, call, chunks)
    }

    fn submit_all<A: Serialize>(
        &self,
        call: crate::target::EncodedFn,
        items: &[A],
        chunksize: usize,
    ) -> Result<Arc<Job>> {
        let job = Job::new();
        let mut batch = Batch::default();
        let mut n = 0;
        for (i, chunk) in items.chunks(chunksize.max(1)).enumerate() {
            batch.push(i, codec::encode_payload(chunk)?, chunk.len());
            n += 1;
            if batch.full() {
                batch.submit(&self.shared, &job, call)?;
            }
        }
        batch.submit(&self.shared, &job, call)?;
        job.set_total(n);
        Ok(job)
    }

    fn default_chunksize(&self, len: usize) -> usize {
        // CPython: divmod(len, processes * 4), rounded up.
        let d = self.shared.opts.processes * 4;
        (len / d + usize::from(len % d != 0)).max(1)
    }

    /// Python's `map(func, iterable, chunksize)`: runs `f` on every item and
    /// returns the results in order. The first failed task's error is returned.
    pub fn map<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.map_async(f, items, chunksize)?.get(None)
    }

    /// Python's `map_async`.
    pub fn map_async<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        let items: Vec<A> = items.into_iter().collect();
        let cs = chunksize.unwrap_or_else(|| self.default_chunksize(items.len()));
        let job = self.submit_all(crate::pool::chunk::encode_call(f), &items, cs)?;
        Ok(AsyncResult::new(job, collect_all::<R>))
    }

    /// Python's `starmap`: each item is a tuple of the function's arguments.
    pub fn starmap<A, B, R>(
        &self,
        f: fn(A, B) -> R,
        items: impl IntoIterator<Item = (A, B)>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned,
        B: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.starmap_async(f, items, chunksize)?.get(None)
    }

    /// Python's `starmap_async`.
    pub fn starmap_async<A, B, R>(
        &self,
        f: fn(A, B) -> R,
        items: impl IntoIterator<Item = (A, B)>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned,
        B: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        let items: Vec<(A, B)> = items.into_iter().collect();
        let cs = chunksize.unwrap_or_else(|| self.default_chunksize(items.len()));
        let job = self.submit_all(crate::pool::chunk::encode_star_call(f), &items, cs)?;
        Ok(AsyncResult::new(job, collect_all::<R>))
    }

    /// Python's `apply(func, args)`: runs one task and waits for it.
    pub fn apply<A, R>(&self, f: fn(A) -> R, args: A) -> Result<R>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.apply_async(f, args)?.get(None)
    }

    /// Python's `apply_async(func, args)`.
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, args: A) -> Result<AsyncResult<R>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        let job = self.submit_all(
            crate::pool::chunk::encode_call(f),
            std::slice::from_ref(&args),
            1,
        )?;
        Ok(AsyncResult::new(job, take_single::<R>))
    }

    /// `apply_async` with Python's `callback` and `error_callback`: one of them
    /// runs (in the pool's supervisor thread) when the task finishes.
    pub fn apply_async_with<A, R>(
        &self,
        f: fn(A) -> R,
        args: A,
        callback: impl FnOnce(R) + Send + 'static,
        error_callback: impl FnOnce(Error) + Send + 'static,
    ) -> Result<AsyncResult<R>>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        let job = Job::new();
        job.on_complete(Box::new(move |st: &mut JobState| {
            let r = st
                .chunks
                .get(&0)
                .cloned()
                .and_then(|c| c.decode::<R>().pop());
            match r {
                Some(Ok(v)) => callback(v),
                Some(Err(e)) => error_callback(e),
                None => error_callback(Error::Task(TaskError::NoResult)),
            }
        }));
        let data = codec::encode_payload(std::slice::from_ref(&args))?;
        self.submit(&job, 0, crate::pool::chunk::encode_call(f), data, 1)?;
        job.set_total(1);
        Ok(AsyncResult::new(job, take_single::<R>))
    }

    /// Python's `imap(func, iterable, chunksize)`: results in input order, as
    /// they become available; the input is read lazily (see the caveats).
    pub fn imap<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> IMapIterator<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
        I: IntoIterator<Item = A>,
    {
        IMapIterator::new(
            self,
            crate::pool::chunk::encode_call(f),
            items.into_iter(),
            chunksize,
            true,
        )
    }

    /// Python's `imap_unordered`: results in completion order.
    pub fn imap_unordered<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> IMapIterator<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
        I: IntoIterator<Item = A>,
    {
        IMapIterator::new(
            self,
            crate::pool::chunk::encode_call(f),
            items.into_iter(),
            chunksize,
            false,
        )
    }

    /// Like [`imap`](Self::imap), but the input is read by a feeder thread,
    /// as CPython's pool does: a slow or idle input (a pipe, `tail -f`)
    /// never holds back results that are ready, and the caller can wait
    /// with [`IMapIterator::next_timeout`] while no input comes. The input
    /// is still read only as far as the window allows. (CPython's `imap`
    /// reads its iterable this way; mp's [`imap`](Self::imap) reads it in
    /// the caller's thread, which needs no `Send` and no thread.)
    ///
    /// # Caveats
    /// Dropping the iterator (or [`IMapIterator::stop_input`]) stops the
    /// feeder before its next submission; a feeder blocked inside the input
    /// iterator (a read from a pipe that stays idle) stays there until that
    /// call returns, then ends. It holds the pool's shared state meanwhile,
    /// not the `Pool` itself.
    pub fn imap_streaming<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> IMapIterator<'_, A, R, std::iter::Empty<A>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        IMapIterator::streaming(
            self,
            crate::pool::chunk::encode_call(f),
            items.into_iter(),
            chunksize,
            true,
        )
    }

    /// [`imap_unordered`](Self::imap_unordered) with a feeder thread, as
    /// [`imap_streaming`](Self::imap_streaming).
    pub fn imap_unordered_streaming<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> IMapIterator<'_, A, R, std::iter::Empty<A>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned,
        I: IntoIterator<Item = A>,
        I::IntoIter: Send + 'static,
    {
        IMapIterator::streaming(
            self,
            crate::pool::chunk::encode_call(f),
            items.into_iter(),
            chunksize,
            false,
        )
    }

    /// Python's `close()`: no more tasks; workers exit once the queued ones are done.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake_supervisor();
    }

    /// Withdraws every queued chunk that no worker has been given yet; its
    /// tasks fail with [`TaskError::Cancelled`] and never run. Tasks that are
    /// running, or already handed to a worker (see [`PoolBuilder::prefetch`]),
    /// finish normally. Returns the number of tasks withdrawn. (Not in CPython;
    /// `mp map --halt soon` uses it to stop launching.)
    pub fn cancel_pending(&self) -> usize {
        let queued: Vec<Chunk> = self.shared.lock().queue.drain(..).collect();
        let mut n = 0;
        for mut chunk in queued {
            n += chunk.nitems - chunk.prior.len();
            let results = chunk.fail_rest(TaskError::Cancelled);
            chunk.job.complete(chunk.index, results);
        }
        n
    }

    /// Python's `terminate()`: stops the workers now; unfinished tasks fail
    /// with [`TaskError::Terminated`].
    pub fn terminate(&self) {
        {
            let mut st = self.shared.lock();
            st.closed = true;
            st.stopping = true;
        }
        self.shared.work.notify_all();
        self.shared.wake_supervisor();
        self.join_threads();
    }

    /// Python's `join()`: waits for the workers to exit; call [`close`](Self::close)
    /// or [`terminate`](Self::terminate) first.
    pub fn join(&self) -> Result<()> {
        if !self.shared.lock().closed {
            return Err(Error::Misuse(Misuse::PoolRunning));
        }
        self.join_threads();
        Ok(())
    }

    fn join_threads(&self) {
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    /// The pids of the current workers (for diagnostics and tests).
    pub fn worker_pids(&self) -> Vec<i32> {
        supervisor::worker_pids(&self.shared)
    }
}

/// The result of a single-task job (apply).
fn take_single<R: DeserializeOwned>(st: &mut JobState) -> Result<R> {
    match st.chunks.remove(&0).and_then(|c| c.decode::<R>().pop()) {
        Some(r) => r,
        None => Err(Error::Task(TaskError::NoResult)),
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`].
pub struct IMapIterator<'p, A, R, I> {
    pool: &'p Pool,
    call: crate::target::EncodedFn,
    input: Option<I>,
    chunksize: usize,
    ordered: bool,
    job: Arc<Job>,
    /// Chunks submitted and not yet consumed, at most.
    window: usize,
    submitted: usize,
    /// Chunks taken from the job (in `imap`, the next to take is this one).
    taken_count: usize,
    /// Chunks decoded for yielding (the window counts from here).
    consumed: usize,
    /// Finished chunks taken from the job, not decoded yet.
    taken: VecDeque<ChunkResults>,
    /// A chunk's values when all its tasks succeeded (yielded before `buffer`).
    ready: std::vec::IntoIter<R>,
    buffer: VecDeque<Result<R>>,
    error: Option<Error>,
    /// Set when a feeder thread reads the input (`imap_streaming`).
    feeder: Option<Arc<Feeder>>,
    _t: PhantomData<fn(A)>,
}

/// What the consumer of an [`IMapIterator`] and its feeder thread share.
struct Feeder {
    state: Mutex<FeedState>,
    cv: Condvar,
}

#[derive(Default)]
struct FeedState {
    submitted: usize,
    consumed: usize,
    /// The input ended or failed: `submitted` is final.
    done: bool,
    /// The consumer stopped reading (drained or dropped).
    stop: bool,
    /// Why feeding ended early.
    error: Option<Error>,
    /// The feeder waits for room in the window.
    waiting: bool,
    /// Close the pool once everything is submitted.
    close_pool: bool,
}

impl Feeder {
    fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The feeder thread of [`Pool::imap_streaming`]: reads the input and
/// submits chunks while the window has room, then says how many there were.
#[allow(clippy::too_many_arguments)]
fn feed<A: Serialize, I: Iterator<Item = A>>(
    shared: Arc<Shared>,
    job: Arc<Job>,
    feeder: Arc<Feeder>,
    call: crate::target::EncodedFn,
    mut input: I,
    chunksize: usize,
    window: usize,
) {
    // If the input iterator (or a Serialize impl) panics, the consumer must
    // still learn that feeding is over, or it would wait for ever.
    let guard = FeedGuard {
        feeder: feeder.clone(),
        job: job.clone(),
    };
    let mut batch = Batch::default();
    let mut submitted = 0;
    // Submits the batch unless the consumer has stopped; false: stop feeding.
    let submit = |batch: &mut Batch, submitted: &mut usize| -> bool {
        let mut st = feeder.lock();
        if st.stop {
            batch.chunks.clear();
            return false;
        }
        match batch.submit(&shared, &job, call) {
            Ok(n) => {
                *submitted += n;
                st.submitted = *submitted;
                true
            }
            Err(e) => {
                st.error.get_or_insert(e);
                false
            }
        }
    };
    'feeding: loop {
        let free = {
            let mut st = feeder.lock();
            loop {
                if st.stop {
                    break 'feeding;
                }
                let used = st.submitted - st.consumed;
                let free = window.saturating_sub(used);
                // Refill in batches of a quarter window, or at once when idle.
                if free > 0 && (used == 0 || free >= window.div_ceil(4)) {
                    break free;
                }
                st.waiting = true;
                st = feeder.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                st.waiting = false;
            }
        };
        for _ in 0..free {
            let chunk: Vec<A> = input.by_ref().take(chunksize).collect();
            if chunk.is_empty() {
                submit(&mut batch, &mut submitted);
                break 'feeding;
            }
            match codec::encode_payload(&chunk) {
                Ok(data) => batch.push(submitted + batch.chunks.len(), data, chunk.len()),
                Err(e) => {
                    // What was read before it still runs.
                    submit(&mut batch, &mut submitted);
                    feeder.lock().error.get_or_insert(e);
                    break 'feeding;
                }
            }
            // Submit before a read that may block.
            if (batch.full() || input.size_hint().0 == 0) && !submit(&mut batch, &mut submitted) {
                break 'feeding;
            }
        }
        if !submit(&mut batch, &mut submitted) {
            break;
        }
    }
    std::mem::forget(guard);
    let close = {
        let mut st = feeder.lock();
        st.done = true;
        st.close_pool
    };
    job.set_total(submitted);
    if close {
        shared.lock().closed = true;
        shared.wake_supervisor();
    }
}

/// Ends feeding when [`feed`] unwinds: what was submitted still yields its
/// results, then the iterator returns the error.
struct FeedGuard {
    feeder: Arc<Feeder>,
    job: Arc<Job>,
}

impl Drop for FeedGuard {
    fn drop(&mut self) {
        let total = {
            let mut st = self.feeder.lock();
            st.done = true;
            st.error
                .get_or_insert_with(|| Error::Task(TaskError::InputPanicked));
            st.submitted
        };
        self.job.set_total(total);
    }
}

impl<'p, A, R, I> IMapIterator<'p, A, R, I>
where
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
    I: Iterator<Item = A>,
{
    fn new(
        pool: &'p Pool,
        call: crate::target::EncodedFn,
        input: I,
        chunksize: usize,
        ordered: bool,
    ) -> Self {
        let chunksize = chunksize.max(1);
        let window = Self::window_for(pool, chunksize);
        let mut it = IMapIterator {
            pool,
            call,
            input: Some(input),
            chunksize,
            ordered,
            job: Job::new(),
            window,
            submitted: 0,
            taken_count: 0,
            consumed: 0,
            taken: VecDeque::new(),
            ready: Vec::new().into_iter(),
            buffer: VecDeque::new(),
            error: None,
            feeder: None,
            _t: PhantomData,
        };
        it.top_up(true);
        it
    }

    /// The window of chunks in flight for this pool and chunksize.
    fn window_for(pool: &Pool, chunksize: usize) -> usize {
        pool.shared
            .opts
            .window
            .unwrap_or_else(|| (8 * pool.processes()).max(8192usize.div_ceil(chunksize)))
    }

    /// Reads input and submits chunks until the window is full or the input
    /// ends. Unless `now`, only once a quarter of the window is free, so
    /// chunks go out in batches. A batch is submitted early whenever the
    /// input may make us wait (its size hint promises nothing more), so a
    /// slow stream's records are not held back.
    fn top_up(&mut self, now: bool) {
        if self.feeder.is_some() {
            // The feeder thread reads the input.
            return;
        }
        let free = self.window - (self.submitted - self.consumed);
        if free == 0 || (!now && free < self.window.div_ceil(4)) {
            return;
        }
        let Some(mut input) = self.input.take() else {
            return;
        };
        let mut batch = Batch::default();
        let mut ended = false;
        let mut failed = None;
        for _ in 0..free {
            let chunk: Vec<A> = input.by_ref().take(self.chunksize).collect();
            if chunk.is_empty() {
                ended = true;
                break;
            }
            match codec::encode_payload(&chunk) {
                Ok(data) => batch.push(self.submitted + batch.chunks.len(), data, chunk.len()),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            if batch.full() || input.size_hint().0 == 0 {
                match batch.submit(&self.pool.shared, &self.job, self.call) {
                    Ok(n) => self.submitted += n,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        // What was read before a chunk failed to encode still runs.
        match batch.submit(&self.pool.shared, &self.job, self.call) {
            Ok(n) => self.submitted += n,
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
        if failed.is_some() || ended {
            self.error = failed;
            self.job.set_total(self.submitted);
        } else {
            self.input = Some(input);
        }
    }

    /// Python's `next(timeout)`: the next result, waiting at most `timeout`.
    /// `Ok(None)` at the end; [`Error::Timeout`] if nothing came in time.
    pub fn next_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<R>> {
        loop {
            if let Some(v) = self.ready.next() {
                return Ok(Some(v));
            }
            if let Some(r) = self.buffer.pop_front() {
                return r.map(Some);
            }
            if let Some(chunk) = self.taken.pop_front() {
                self.consumed += 1;
                if let Some(f) = &self.feeder {
                    let mut st = f.lock();
                    st.consumed = self.consumed;
                    // Wake the feeder only when it will refill (see `feed`),
                    // not on every result.
                    let used = st.submitted - st.consumed;
                    let refill = used == 0 || self.window - used >= self.window.div_ceil(4);
                    if st.waiting && refill {
                        drop(st);
                        f.cv.notify_one();
                    }
                }
                match chunk.values::<R>() {
                    // No per-item Result for a chunk that succeeded whole.
                    Ok(values) => self.ready = values.into_iter(),
                    Err(each) => self.buffer.extend(each),
                }
                self.top_up(false);
                continue;
            }
            self.top_up(true);
            if let Some(f) = &self.feeder {
                // Read together: once done, `submitted` is final.
                let mut st = f.lock();
                self.submitted = st.submitted;
                if st.done || st.stop {
                    if self.error.is_none() {
                        self.error = st.error.take();
                    }
                    self.input = None;
                }
            }
            if self.input.is_none() && self.consumed == self.submitted {
                // An input that could not be submitted fails where it stood,
                // after the results of what came before it.
                return self.error.take().map_or(Ok(None), Err);
            }
            self.take_finished(timeout)?;
        }
    }

    /// Waits (at most `timeout`) until the next chunk is finished (in
    /// `imap`: the next in order), then takes it and every other one that
    /// can follow it, under one lock.
    fn take_finished(&mut self, timeout: Option<Duration>) -> Result<()> {
        let deadline = crate::deadline::after(timeout);
        let next = self.taken_count;
        let ordered = self.ordered;
        let wanted = ordered.then_some(next);
        // The end of a fed input (`set_total`) wakes us too.
        let (mut st, ok) = self.job.wait_until(deadline, wanted, |st| {
            let at_end = st.total_chunks.is_some_and(|t| next >= t);
            at_end
                || if ordered {
                    st.chunks.contains_key(&next)
                } else {
                    !st.finished.is_empty()
                }
        });
        if !ok {
            return Err(Error::Timeout(timeout.unwrap_or_default()));
        }
        if ordered {
            while let Some(c) = st.chunks.remove(&self.taken_count) {
                self.taken.push_back(c);
                self.taken_count += 1;
            }
            // `finished` is only read by drain_ready here: drop what was taken.
            if st.finished.len() > 2 * self.window {
                let JobState {
                    finished, chunks, ..
                } = &mut *st;
                finished.retain(|i| chunks.contains_key(i));
            }
        } else {
            while let Some(i) = st.finished.pop_front() {
                if let Some(c) = st.chunks.remove(&i) {
                    self.taken.push_back(c);
                    self.taken_count += 1;
                }
            }
        }
        Ok(())
    }
}

impl<A, R, I> IMapIterator<'_, A, R, I>
where
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    /// For shutting down early: stops reading input and returns, in completion
    /// order, every result that has arrived and was not yet yielded (in
    /// `imap`, results held back behind an unfinished earlier task). The
    /// iterator yields nothing afterwards; tasks still running are not
    /// waited for. (Not in CPython.)
    pub fn drain_ready(&mut self) -> Vec<Result<R>> {
        self.stop_input();
        let mut out: Vec<Result<R>> = self.ready.by_ref().map(Ok).collect();
        out.extend(self.buffer.drain(..));
        let mut chunks: Vec<ChunkResults> = self.taken.drain(..).collect();
        let mut st = self.job.lock();
        let finished: Vec<usize> = st.finished.drain(..).collect();
        for i in finished {
            if let Some(c) = st.chunks.remove(&i) {
                chunks.push(c);
            }
        }
        drop(st);
        for c in chunks {
            out.extend(c.decode::<R>());
        }
        // Nothing more to yield.
        self.taken_count = self.submitted;
        self.consumed = self.submitted;
        self.job.set_total(self.submitted);
        out
    }
}

impl<'p, A, R> IMapIterator<'p, A, R, std::iter::Empty<A>>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned,
{
    fn streaming<I: Iterator<Item = A> + Send + 'static>(
        pool: &'p Pool,
        call: crate::target::EncodedFn,
        input: I,
        chunksize: usize,
        ordered: bool,
    ) -> Self {
        let chunksize = chunksize.max(1);
        let window = Self::window_for(pool, chunksize);
        let feeder = Arc::new(Feeder {
            state: Mutex::new(FeedState::default()),
            cv: Condvar::new(),
        });
        let job = Job::new();
        let mut it = IMapIterator {
            pool,
            call,
            input: Some(std::iter::empty()),
            chunksize,
            ordered,
            job: job.clone(),
            window,
            submitted: 0,
            taken_count: 0,
            consumed: 0,
            taken: VecDeque::new(),
            ready: Vec::new().into_iter(),
            buffer: VecDeque::new(),
            error: None,
            feeder: Some(feeder.clone()),
            _t: PhantomData,
        };
        let shared = pool.shared.clone();
        let started = std::thread::Builder::new()
            .name("mp-pool-feeder".into())
            .spawn(move || feed(shared, job, feeder, call, input, chunksize, window));
        if let Err(e) = started {
            it.error = Some(Error::io("spawn the pool's feeder thread", e));
            if let Some(f) = &it.feeder {
                f.lock().done = true;
            }
        }
        // The feeder does the reading; `input` only marks "not ended yet".
        it
    }
}

impl<A, R, I> IMapIterator<'_, A, R, I> {
    /// Reads no more input and submits nothing more; what was submitted
    /// still runs and is yielded. When this returns, no submission of this
    /// iterator is under way, so a [`Pool::cancel_pending`] after it
    /// withdraws everything not yet handed to a worker. (Not in CPython.)
    pub fn stop_input(&mut self) {
        self.input = None;
        if let Some(f) = &self.feeder {
            // The feeder submits under this lock after checking `stop`.
            let mut st = f.lock();
            st.stop = true;
            self.submitted = st.submitted;
            drop(st);
            f.cv.notify_all();
        }
        self.job.set_total(self.submitted);
    }

    /// With [`Pool::imap_streaming`]: close the pool (as [`Pool::close`])
    /// as soon as the feeder has submitted the last chunk, so each worker
    /// exits once nothing is left for it, without waiting for the results
    /// to be read. Without a feeder it closes the pool now.
    pub fn close_pool_when_fed(&self) {
        let now = match &self.feeder {
            Some(f) => {
                let mut st = f.lock();
                st.close_pool = true;
                st.done
            }
            None => true,
        };
        if now {
            self.pool.close();
        }
    }
}

impl<A, R, I> Drop for IMapIterator<'_, A, R, I> {
    fn drop(&mut self) {
        if let Some(f) = &self.feeder {
            f.lock().stop = true;
            f.cv.notify_all();
        }
    }
}

impl<A, R, I> Iterator for IMapIterator<'_, A, R, I>
where
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
    I: Iterator<Item = A>,
{
    type Item = Result<R>;
    fn next(&mut self) -> Option<Result<R>> {
        self.next_timeout(None).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::TaskError;

    #[test]
    fn worker_lost_says_how_the_worker_ended() {
        let lost = |exitcode| {
            TaskError::WorkerLost {
                pid: 13826,
                exitcode,
            }
            .to_string()
        };
        assert_eq!(
            lost(Some(-9)),
            "worker 13826 was killed by SIGKILL while running the task"
        );
        assert_eq!(
            lost(Some(-15)),
            "worker 13826 was killed by SIGTERM while running the task"
        );
        assert_eq!(
            lost(Some(3)),
            "worker 13826 exited with status 3 while running the task"
        );
        assert_eq!(
            lost(Some(0)),
            "worker 13826 exited with status 0 while running the task"
        );
        assert_eq!(
            lost(None),
            "worker 13826 died (its exit status is unknown) while running the task"
        );
        // No such signal, and a code whose negation overflows: still words.
        assert_eq!(
            lost(Some(-200)),
            "worker 13826 was killed by signal 200 while running the task"
        );
        assert!(lost(Some(i32::MIN)).starts_with("worker 13826 was killed by signal "));
    }
}
