//! Jobs: what the caller waits on. Results arrive per chunk from the
//! supervisor thread and are decoded in the caller's thread.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::TaskError;
use crate::connection::codec;
use crate::deadline;
use crate::error::{Error, Misuse, Result};

pub(crate) type ItemResult = std::result::Result<Vec<u8>, TaskError>;

/// A finished chunk's results.
#[derive(Clone)]
pub(crate) enum ChunkResults {
    /// Each item's encoded result or error.
    Items(Vec<ItemResult>),
    /// Every item succeeded: one encoded `Vec<R>`.
    Packed(Vec<u8>),
}

impl ChunkResults {
    pub(crate) fn all_ok(&self) -> bool {
        match self {
            ChunkResults::Items(v) => v.iter().all(|r| r.is_ok()),
            ChunkResults::Packed(_) => true,
        }
    }

    /// Decodes every item: `Ok` with the plain values when the chunk
    /// succeeded whole (no `Result` per item), else one `Result` per item.
    pub(crate) fn values<R: DeserializeOwned>(self) -> std::result::Result<Vec<R>, Vec<Result<R>>> {
        match self {
            ChunkResults::Items(v) => Err(v.into_iter().map(decode_item).collect()),
            ChunkResults::Packed(bytes) => {
                codec::decode_payload::<Vec<R>>(&bytes).map_err(|e| vec![Err(e)])
            }
        }
    }

    /// Decodes every item, one `Result` each.
    pub(crate) fn decode<R: DeserializeOwned>(self) -> Vec<Result<R>> {
        self.values()
            .map_or_else(|each| each, |values| values.into_iter().map(Ok).collect())
    }
}
type Completion = Box<dyn FnOnce(&mut JobState) + Send>;

pub(crate) struct Job {
    state: Mutex<JobState>,
    cv: Condvar,
}

pub(crate) struct JobState {
    pub chunks: HashMap<usize, ChunkResults>,
    /// Finished chunks, in completion order (for imap_unordered).
    pub finished: std::collections::VecDeque<usize>,
    pub done_chunks: usize,
    pub total_chunks: Option<usize>,
    on_complete: Option<Completion>,
    /// Threads blocked in `wait_until` (no wake-up syscall when there are none).
    waiters: usize,
    /// The one chunk a lone waiter waits for (None: any change wakes it).
    wanted: Option<usize>,
}

impl Job {
    pub(crate) fn new() -> Arc<Job> {
        Arc::new(Job {
            state: Mutex::new(JobState {
                chunks: HashMap::new(),
                finished: Default::default(),
                done_chunks: 0,
                total_chunks: None,
                on_complete: None,
                waiters: 0,
                wanted: None,
            }),
            cv: Condvar::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the supervisor when a chunk is finished (successfully or not).
    pub(crate) fn complete(&self, index: usize, results: ChunkResults) {
        self.complete_many(std::iter::once((index, results)));
    }

    /// Records several finished chunks under one lock, with one wake-up.
    pub(crate) fn complete_many(&self, done: impl IntoIterator<Item = (usize, ChunkResults)>) {
        let mut st = self.lock();
        let mut wanted_came = false;
        for (index, results) in done {
            st.chunks.insert(index, results);
            st.finished.push_back(index);
            st.done_chunks += 1;
            wanted_came |= st.wanted.is_none_or(|w| w == index);
        }
        let complete = st.total_chunks == Some(st.done_chunks);
        let callback = if complete {
            st.on_complete.take()
        } else {
            None
        };
        if let Some(cb) = callback {
            cb(&mut st);
        }
        if complete || wanted_came {
            self.wake(st);
        }
    }

    fn wake(&self, st: MutexGuard<'_, JobState>) {
        let waiting = st.waiters > 0;
        drop(st);
        if waiting {
            self.cv.notify_all();
        }
    }

    pub(crate) fn set_total(&self, total: usize) {
        let mut st = self.lock();
        st.total_chunks = Some(total);
        if st.done_chunks == total {
            if let Some(cb) = st.on_complete.take() {
                cb(&mut st);
            }
        }
        self.wake(st);
    }

    pub(crate) fn on_complete(&self, cb: Completion) {
        let mut st = self.lock();
        if st.total_chunks.is_some() && st.total_chunks == Some(st.done_chunks) {
            cb(&mut st);
        } else {
            st.on_complete = Some(cb);
        }
    }

    /// Waits until `ready(state)` holds or the deadline passes. `wanted`: the
    /// chunk whose arrival can make it hold (None: any chunk's).
    pub(crate) fn wait_until<'a>(
        &'a self,
        deadline: Option<Instant>,
        wanted: Option<usize>,
        ready: impl Fn(&JobState) -> bool,
    ) -> (MutexGuard<'a, JobState>, bool) {
        let mut st = self.lock();
        loop {
            if ready(&st) {
                return (st, true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return (st, false);
            }
            // Two waiters may want different chunks: then wake on any.
            st.wanted = if st.waiters == 0 { wanted } else { None };
            st.waiters += 1;
            st = match left {
                None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(left) => {
                    self.cv
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            st.waiters -= 1;
            if st.waiters == 0 {
                st.wanted = None;
            }
        }
    }
}

pub(crate) fn complete_state(st: &JobState) -> bool {
    st.total_chunks == Some(st.done_chunks)
}

/// Decodes one item's result.
pub(crate) fn decode_item<R: DeserializeOwned>(r: ItemResult) -> Result<R> {
    match r {
        Ok(bytes) => codec::decode_payload(&bytes),
        Err(e) => Err(Error::Task(e)),
    }
}

/// Takes all chunks of a complete job, in order, and decodes them.
pub(crate) fn collect_all<R: DeserializeOwned>(st: &mut JobState) -> Result<Vec<R>> {
    let total = st.total_chunks.unwrap_or(0);
    let mut out = Vec::new();
    let mut first_error = None;
    for i in 0..total {
        let Some(chunk) = st.chunks.remove(&i) else {
            continue;
        };
        match chunk.values::<R>() {
            // Straight into the output: no per-item Result.
            Ok(mut values) if out.is_empty() => std::mem::swap(&mut out, &mut values),
            Ok(mut values) => out.append(&mut values),
            Err(each) => {
                for r in each {
                    match r {
                        Ok(v) => out.push(v),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
    }
    match first_error {
        // Python's map raises the first task's exception.
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Python's `AsyncResult`: the result of `apply_async` / `map_async`.
pub struct AsyncResult<T> {
    job: Arc<Job>,
    decode: fn(&mut JobState) -> Result<T>,
    taken: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> AsyncResult<T> {
    pub(crate) fn new(job: Arc<Job>, decode: fn(&mut JobState) -> Result<T>) -> Self {
        AsyncResult {
            job,
            decode,
            taken: false,
            _t: PhantomData,
        }
    }

    /// Whether the result is ready.
    pub fn ready(&self) -> bool {
        complete_state(&self.job.lock())
    }

    /// Waits until the result is ready, at most `timeout`; true if it is.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        self.job
            .wait_until(deadline::after(timeout), None, complete_state)
            .1
    }

    /// Whether the call completed without error; an error if it is not ready yet
    /// (Python raises `ValueError`).
    pub fn successful(&self) -> Result<bool> {
        let st = self.job.lock();
        if !complete_state(&st) {
            return Err(Error::Misuse(Misuse::ResultNotReady));
        }
        Ok(st.chunks.values().all(ChunkResults::all_ok))
    }

    /// Waits for the result (at most `timeout`) and returns it. A task that
    /// failed gives [`Error::Task`]; a timeout gives [`Error::Timeout`]. The
    /// value can be taken once.
    pub fn get(&mut self, timeout: Option<Duration>) -> Result<T> {
        let (mut st, ok) = self
            .job
            .wait_until(deadline::after(timeout), None, complete_state);
        if !ok {
            return Err(Error::Timeout(timeout.unwrap_or_default()));
        }
        if self.taken {
            return Err(Error::Misuse(Misuse::ResultTaken));
        }
        self.taken = true;
        (self.decode)(&mut st)
    }
}
