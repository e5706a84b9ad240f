//! The pool's two threads.
//!
//! The *dispatcher* only writes: it hands queued chunks to workers with room
//! (a chunk running and up to `per_worker - 1` waiting in the socket). The
//! *supervisor* reads: results, worker deaths (pidfds) and time limits.
//! Splitting reads from writes means a worker blocked on sending results can
//! never deadlock with the pool blocked on sending it work.
//!
//! The one exception is [`hand_over`]: a write that cannot block (a small
//! chunk into a socket that holds little) is made at once by whichever
//! thread holds the lock, the supervisor included, so a task reaches an idle
//! worker without waking the dispatcher. Large chunks go through it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::job::ChunkResults;
use super::worker::{worker_main, FromWorker, WorkerArgs};
use super::{Chunk, Shared, Slot, State, TaskError};
use crate::connection::{encode_frame, wait, Codec, Connection, Waitable};
use crate::deadline::deadline;
use crate::error::Result;
use crate::process::Process;

pub(super) struct Worker {
    process: Process,
    reader: Connection,
    pid: i32,
}

/// The wire form of `ToWorker::Chunk`, borrowing the chunk's bytes.
#[derive(Serialize)]
enum ToWorkerRef<'a> {
    Chunk {
        id: u64,
        target: crate::target::EncodedFn,
        skip: usize,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
    },
}

fn start_worker(shared: &Shared, slot: usize) -> Result<Worker> {
    let (mine, theirs) = crate::connection::pipe(true)?;
    let opts = &shared.opts;
    let args = WorkerArgs {
        conn: theirs,
        slot,
        initializer: opts.initializer.clone(),
        finalizer: opts.finalizer.clone(),
        maxtasks: opts.maxtasks,
        per_item: opts.task_timeout.is_some(),
        give_back: opts.per_worker > 1 || opts.adaptive,
    };
    let mut p = Process::new(worker_main, args)
        .with_daemon(true)
        .with_name(format!("PoolWorker-{slot}"));
    if let Some(m) = opts.method {
        p = p.with_start_method(m);
    }
    p.start()?;
    let pid = p.pid().unwrap_or(-1);
    log::info!(
        "pool: started worker {} (pid {pid}, {})",
        slot + 1,
        opts.method.map_or("default start method", |m| m.as_str())
    );
    let writer = mine.duplicate()?;
    {
        let mut st = shared.lock();
        let s = &mut st.slots[slot];
        s.writer = Some(Arc::new(Mutex::new(writer)));
        s.sent = 0;
        s.hold = false;
        s.ready = false;
        s.pid = Some(pid);
        hand_over(shared, &mut st);
    }
    Ok(Worker {
        process: p,
        reader: mine,
        pid,
    })
}

/// Starts every worker, or only the first in a lazy pool (the others are
/// started by [`start_wanted`]).
pub(super) fn start_workers(shared: &Shared) -> Result<Vec<Option<Worker>>> {
    let n = shared.opts.processes;
    let now = if shared.opts.lazy { 1 } else { n };
    shared.lock().unstarted = n - now;
    (0..n)
        .map(|i| {
            if i < now {
                start_worker(shared, i).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect()
}

/// In a lazy pool: starts never-started workers while work is queued that
/// no started worker has room for.
fn start_wanted(shared: &Shared, workers: &mut [Option<Worker>], ever: &mut [bool]) {
    loop {
        let wanted = {
            let mut st = shared.lock();
            // As for restarts: none while the pool stops or the process exits.
            let closing = st.stopping || st.fatal.is_some() || crate::process::exiting();
            if !shared.wants_worker(&st) || closing {
                return;
            }
            st.unstarted -= 1;
            ever.iter().position(|e| !e)
        };
        let Some(i) = wanted else {
            return;
        };
        ever[i] = true;
        match start_worker(shared, i) {
            Ok(w) => workers[i] = Some(w),
            Err(e) => {
                fail_everything(
                    shared,
                    TaskError::Codec(format!("could not start a worker: {e}")),
                );
                return;
            }
        }
    }
}

/// Puts a handed-back chunk back in the queue where its order puts it:
/// before its job's later chunks, after its earlier ones (others handed
/// back before it may be there), at the front if its job has none queued.
fn requeue(queue: &mut std::collections::VecDeque<Chunk>, c: Chunk) {
    let same = |q: &Chunk| Arc::ptr_eq(&q.job, &c.job);
    let at = queue
        .iter()
        .position(|q| same(q) && q.index > c.index)
        .or_else(|| queue.iter().rposition(same).map(|i| i + 1))
        .unwrap_or(0);
    queue.insert(at, c);
}

pub(super) fn worker_pids(shared: &Shared) -> Vec<i32> {
    shared.lock().slots.iter().filter_map(|s| s.pid).collect()
}

/// What [`hand_over`] lets wait in a worker's socket: far below its buffer.
const DIRECT_MAX: usize = 32 * 1024;

/// Takes the queue's first chunk for slot `i`: records it as in flight there
/// and returns the slot's writer and `frames` with the chunk's message
/// framed at the end, to be sent in the order taken (the worker's results
/// come back in that order).
fn assign(st: &mut State, i: usize, frames: Vec<u8>) -> (Arc<Mutex<Connection>>, Vec<u8>) {
    let chunk = st.queue.pop_front().expect("the queue is not empty");
    let msg = ToWorkerRef::Chunk {
        id: chunk.index as u64,
        target: chunk.target,
        skip: chunk.prior.len(),
        data: &chunk.data,
    };
    let frames =
        encode_frame(Codec::Postcard, &msg, frames).expect("a chunk message always encodes");
    let slot = &mut st.slots[i];
    if slot.inflight.is_empty() {
        slot.running_since = Some(Instant::now());
    }
    slot.inflight.push_back(chunk);
    slot.sent += 1;
    let writer = slot.writer.clone().expect("assigned slots have a writer");
    (writer, frames)
}

/// Whether slot `s` may be given another chunk, holding `limit` at most.
pub(super) fn has_room(shared: &Shared, s: &Slot, limit: usize) -> bool {
    s.writer.is_some()
        && s.inflight.len() < if s.hold { 1 } else { limit }
        && shared.opts.maxtasks.is_none_or(|m| s.sent < m)
}

/// The slot with room (and `fits`) holding the fewest chunks.
fn least_loaded(shared: &Shared, st: &State, fits: impl Fn(&Slot) -> bool) -> Option<usize> {
    let limit = shared.limit(st);
    st.slots
        .iter()
        .enumerate()
        .filter(|(_, s)| has_room(shared, s, limit) && fits(s))
        .min_by_key(|(_, s)| s.inflight.len())
        .map(|(i, _)| i)
}

/// Hands queued chunks straight to workers, from whichever thread holds the
/// lock (a submitter, or the supervisor on a result), sparing the dispatcher's
/// wake-up. Only where the write cannot block, so holding the lock is safe:
/// the worker's socket holds at most the chunks it has not answered, and
/// those plus this one stay under [`DIRECT_MAX`], far below a socket's buffer.
/// A writer the dispatcher is using is left to it; whatever is left
/// queued, the dispatcher is woken for (if it can place it).
pub(super) fn hand_over(shared: &Shared, st: &mut State) {
    hand_over_direct(shared, st);
    shared.nudge(st);
}

fn hand_over_direct(shared: &Shared, st: &mut State) {
    let held = |s: &Slot| s.inflight.iter().map(|c| c.data.len()).sum::<usize>();
    while let Some(len) = st.queue.front().map(|c| c.data.len()) {
        let Some(i) = least_loaded(shared, st, |s| held(s) + len <= DIRECT_MAX) else {
            return;
        };
        let writer = st.slots[i]
            .writer
            .clone()
            .expect("slots with room have a writer");
        let conn = match writer.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        // This slot's fair share of the queue, in one write.
        let limit = shared.limit(st);
        let share = st.queue.len().div_ceil(st.slots.len());
        let mut bytes = held(&st.slots[i]);
        let mut frames = Vec::new();
        for _ in 0..share.max(1) {
            let Some(len) = st.queue.front().map(|c| c.data.len()) else {
                break;
            };
            if !has_room(shared, &st.slots[i], limit) || bytes + len > DIRECT_MAX {
                break;
            }
            bytes += len;
            frames = assign(st, i, frames).1;
        }
        // A failed send means the worker died; the supervisor sees its pidfd.
        let _ = conn.send_framed(&frames);
    }
}

/// The dispatcher thread: the hand-outs [`hand_over`] leaves (large chunks).
pub(super) fn dispatch(shared: Arc<Shared>) {
    loop {
        let mut st = shared.lock();
        let (writer, bytes) = loop {
            if st.stopping {
                return;
            }
            let pick = if st.queue.is_empty() {
                None
            } else {
                least_loaded(&shared, &st, |_| true)
            };
            if let Some(i) = pick {
                break assign(&mut st, i, Vec::new());
            }
            st.dispatcher_waiting = true;
            st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
            st.dispatcher_waiting = false;
        };
        // Taken before the state lock is let go, so chunks reach the worker
        // in the order they were assigned; nobody else waits for a writer.
        let conn = writer.lock().unwrap_or_else(|e| e.into_inner());
        drop(st);
        // Sent outside the state lock: a busy worker's socket may be full.
        let _ = conn.send_framed(&bytes);
    }
}

/// The supervisor thread.
pub(super) fn supervise(shared: Arc<Shared>, mut workers: Vec<Option<Worker>>, wake: OwnedFd) {
    let per_item = shared.opts.task_timeout.is_some();
    let mut ever: Vec<bool> = workers.iter().map(Option::is_some).collect();
    loop {
        start_wanted(&shared, &mut workers, &mut ever);
        let (stop, idle) = {
            let st = shared.lock();
            let idle = st.queue.is_empty() && st.slots.iter().all(|s| s.inflight.is_empty());
            (st.stopping, st.closed && idle)
        };
        if stop || idle {
            break;
        }
        let timeout = next_deadline(&shared).map(|d| d.saturating_duration_since(Instant::now()));
        // objs[1 + 2k] is a worker's reader and objs[2 + 2k] its process.
        let mut objs: Vec<&dyn Waitable> = vec![&wake];
        let mut owners = vec![usize::MAX];
        for (i, w) in workers.iter().enumerate() {
            if let Some(w) = w {
                objs.push(&w.reader);
                objs.push(&w.process);
                owners.extend([i, i]);
            }
        }
        let ready = match wait(&objs, timeout) {
            Ok(r) => r,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        drop(objs);
        let mut touched: Vec<usize> = ready
            .iter()
            .map(|&r| owners[r])
            .filter(|&i| i != usize::MAX)
            .collect();
        touched.dedup();
        if ready.contains(&0) {
            let mut buf = [0u8; 64];
            while matches!(nix::unistd::read(wake.as_raw_fd(), &mut buf), Ok(n) if n > 0) {}
        }
        for i in touched {
            let Some(w) = workers[i].as_ref() else {
                continue;
            };
            let is = |r: &usize, process: bool| owners[*r] == i && (*r % 2 == 0) == process;
            let exited = ready.iter().any(|r| is(r, true));
            let mut deliveries = Vec::new();
            let mut eof = false;
            let mut msgs = Vec::new();
            if ready.iter().any(|r| is(r, false)) {
                // One read, then the whole frames it brought, without more syscalls.
                loop {
                    match w.reader.recv::<FromWorker>() {
                        Ok(msg) => msgs.push(msg),
                        Err(_) => {
                            eof = true;
                            break;
                        }
                    }
                    if !w.reader.frame_buffered() {
                        break;
                    }
                }
            }
            let dead = eof || exited;
            if dead && !eof {
                // It may have written its last results after the drain above.
                while let Ok(true) = w.reader.poll(Some(Duration::ZERO)) {
                    match w.reader.recv::<FromWorker>() {
                        Ok(msg) => msgs.push(msg),
                        Err(_) => break,
                    }
                }
            }
            handle_messages(&shared, i, msgs, per_item, &mut deliveries);
            deliver(deliveries);
            if dead {
                let w = workers[i].take().expect("checked above");
                let code = w.process.join(Some(Duration::from_secs(5))).ok().flatten();
                if code.is_none() {
                    let _ = w.process.kill();
                    let _ = w.process.join(None);
                }
                let exitcode = w.process.exitcode();
                let ready = std::mem::take(&mut shared.lock().slots[i].ready);
                log::info!(
                    "pool: worker {} (pid {}) ended ({}){}",
                    i + 1,
                    w.pid,
                    match exitcode {
                        Some(c) if c < 0 => format!("killed by signal {}", -c),
                        Some(c) => format!("exit code {c}"),
                        None => "exit status unknown".into(),
                    },
                    match shared.opts.maxtasks {
                        Some(m) if exitcode == Some(0) => {
                            format!("; recycled after --maxtasksperchild {m}, or done")
                        }
                        _ => String::new(),
                    }
                );
                handle_death(&shared, i, w.pid, exitcode, per_item, ready);
                let restart = {
                    let mut st = shared.lock();
                    // Died before it was ready: the initializer or the
                    // program is broken, most likely; after a few in a
                    // row, give up rather than restart them for ever.
                    if !ready {
                        st.start_failures += 1;
                        if st.start_failures >= super::START_FAILURES && st.fatal.is_none() {
                            let err = TaskError::WorkersCannotStart {
                                count: st.start_failures,
                                pid: w.pid,
                                exitcode,
                            };
                            st.fatal = Some(err.clone());
                            drop(st);
                            fail_everything(&shared, err);
                            st = shared.lock();
                        }
                    }
                    // No replacements while this process exits: its exit
                    // handler is what ended the workers.
                    !st.stopping && st.fatal.is_none() && !crate::process::exiting()
                };
                if restart {
                    match start_worker(&shared, i) {
                        Ok(w) => workers[i] = Some(w),
                        Err(e) => fail_everything(
                            &shared,
                            TaskError::Codec(format!("could not start a worker: {e}")),
                        ),
                    }
                }
            }
        }
        // Time limits.
        if let Some(limit) = shared.opts.task_timeout {
            let now = Instant::now();
            let mut st = shared.lock();
            for (i, s) in st.slots.iter_mut().enumerate() {
                if let Some(since) = s.running_since {
                    if !s.timed_out && !s.inflight.is_empty() && now.duration_since(since) >= limit
                    {
                        s.timed_out = true;
                        log::info!(
                            "pool: worker {} passed the task time limit {limit:?}: killing it",
                            i + 1
                        );
                        if let Some(w) = workers[i].as_ref() {
                            let _ = w.process.kill();
                        }
                    }
                }
            }
        }
    }
    shutdown(&shared, workers);
}

fn next_deadline(shared: &Shared) -> Option<Instant> {
    let limit = shared.opts.task_timeout?;
    let st = shared.lock();
    st.slots
        .iter()
        .filter(|s| !s.timed_out && !s.inflight.is_empty())
        .filter_map(|s| s.running_since)
        .min()
        .and_then(|t| deadline(t, Some(limit)))
}

/// Handles the messages one read brought from slot `slot`'s worker, under
/// one lock; the worker's freed room is refilled once, after them all.
fn handle_messages(
    shared: &Shared,
    slot: usize,
    msgs: Vec<FromWorker>,
    per_item: bool,
    deliveries: &mut Vec<(Chunk, ChunkResults)>,
) {
    if msgs.is_empty() {
        return;
    }
    let mut st = shared.lock();
    let mut init_failed = None;
    for msg in msgs {
        match msg {
            FromWorker::Item { result, .. } => {
                let s = &mut st.slots[slot];
                s.partial.push(result.map_err(TaskError::Panicked));
                s.running_since = Some(Instant::now());
            }
            FromWorker::Done {
                results,
                packed,
                error,
                busy_ns,
                ..
            } => {
                st.observe(busy_ns);
                let s = &mut st.slots[slot];
                s.hold = false;
                let Some(mut chunk) = s.inflight.pop_front() else {
                    continue;
                };
                s.running_since = if s.inflight.is_empty() {
                    None
                } else {
                    Some(Instant::now())
                };
                if let (Some(bytes), true, None) = (packed, chunk.prior.is_empty(), &error) {
                    deliveries.push((chunk, ChunkResults::Packed(bytes)));
                    continue;
                }
                let mut all = std::mem::take(&mut chunk.prior);
                if per_item {
                    all.append(&mut s.partial);
                } else {
                    all.extend(results.into_iter().map(|r| r.map_err(TaskError::Panicked)));
                }
                if let Some(e) = error {
                    all.resize(chunk.nitems, Err(TaskError::Codec(e)));
                }
                deliveries.push((chunk, ChunkResults::Items(all)));
            }
            FromWorker::Ready => {
                st.slots[slot].ready = true;
                st.start_failures = 0;
            }
            FromWorker::InitFailed(text) => {
                init_failed = Some(TaskError::InitializerFailed(text));
            }
            FromWorker::GaveBack { n } => {
                // The chunks behind the running one, unrun: to the front of
                // the queue, for other workers; none for this one until its
                // long chunk is done.
                let s = &mut st.slots[slot];
                let end = (1 + n).min(s.inflight.len());
                let back: Vec<Chunk> = s.inflight.drain(1.min(end)..end).collect();
                s.sent = s.sent.saturating_sub(back.len());
                s.hold = true;
                for c in back {
                    requeue(&mut st.queue, c);
                }
            }
        }
    }
    match init_failed {
        None => {
            // The worker has room again: give it the next chunks now.
            hand_over(shared, &mut st);
        }
        Some(err) => {
            st.fatal = Some(err.clone());
            drop(st);
            fail_everything(shared, err);
        }
    }
}

/// Completes finished chunks, one lock and wake-up per job for each run of
/// chunks of the same job.
fn deliver(deliveries: Vec<(Chunk, ChunkResults)>) {
    let mut rest = deliveries.into_iter().peekable();
    while let Some((chunk, results)) = rest.next() {
        let job = chunk.job.clone();
        let mut group = vec![(chunk.index, results)];
        while let Some((c, _)) = rest.peek() {
            if !Arc::ptr_eq(&c.job, &job) {
                break;
            }
            let (c, r) = rest.next().expect("peeked");
            group.push((c.index, r));
        }
        job.complete_many(group);
    }
}

/// A worker died: its running chunk fails (or is retried), the chunks
/// queued for it go back to the queue. One that died before it was `ready`
/// ran nothing: all its chunks go back.
fn handle_death(
    shared: &Shared,
    slot: usize,
    pid: i32,
    exitcode: Option<i32>,
    per_item: bool,
    ready: bool,
) {
    let mut deliveries = Vec::new();
    {
        let mut st = shared.lock();
        let retries = shared.opts.retries;
        let s = &mut st.slots[slot];
        s.writer = None;
        s.pid = None;
        s.running_since = None;
        let timed_out = std::mem::take(&mut s.timed_out);
        let partial = std::mem::take(&mut s.partial);
        let mut inflight: Vec<Chunk> = s.inflight.drain(..).collect();
        let mut requeue: Vec<Chunk> = Vec::new();
        if !inflight.is_empty() && ready {
            let mut front = inflight.remove(0);
            let error = if timed_out {
                TaskError::TimedOut(shared.opts.task_timeout.unwrap_or_default())
            } else {
                TaskError::WorkerLost { pid, exitcode }
            };
            if per_item {
                front.prior.extend(partial);
            }
            if front.attempts < retries {
                front.attempts += 1;
                log::info!(
                    "pool: {error} (worker {}); retrying its task, attempt {} of {retries}",
                    slot + 1,
                    front.attempts
                );
                requeue.push(front);
            } else if per_item {
                // Only the running task fails; the rest of the chunk runs elsewhere.
                front.prior.push(Err(error));
                front.attempts = 0;
                if front.prior.len() < front.nitems {
                    requeue.push(front);
                } else {
                    let results = std::mem::take(&mut front.prior);
                    deliveries.push((front, ChunkResults::Items(results)));
                }
            } else {
                let results = front.fail_rest(error);
                deliveries.push((front, results));
            }
        }
        // Chunks waiting in the dead worker's socket never started.
        requeue.extend(inflight);
        if st.fatal.is_none() {
            for c in requeue.into_iter().rev() {
                st.queue.push_front(c);
            }
        } else {
            let err = st.fatal.clone().expect("checked");
            for mut c in requeue {
                let results = c.fail_rest(err.clone());
                deliveries.push((c, results));
            }
        }
        // Requeued chunks can go to the other workers.
        hand_over(shared, &mut st);
    }
    deliver(deliveries);
}

/// Fails every queued and running chunk with `err` (fatal pool errors, terminate).
fn fail_everything(shared: &Shared, err: TaskError) {
    let mut deliveries = Vec::new();
    {
        let mut st = shared.lock();
        if st.fatal.is_none() {
            st.fatal = Some(err.clone());
        }
        let mut chunks: Vec<Chunk> = st.queue.drain(..).collect();
        for s in st.slots.iter_mut() {
            chunks.extend(s.inflight.drain(..));
            s.partial.clear();
        }
        for mut c in chunks {
            let results = c.fail_rest(err.clone());
            deliveries.push((c, results));
        }
    }
    deliver(deliveries);
}

fn shutdown(shared: &Shared, workers: Vec<Option<Worker>>) {
    let terminating = {
        let mut st = shared.lock();
        let terminating = st.stopping;
        st.stopping = true;
        for s in st.slots.iter_mut() {
            // Closing the write halves tells idle workers to exit.
            s.writer = None;
        }
        terminating
    };
    shared.work.notify_all();
    for w in workers.iter().flatten() {
        // Our read half keeps the socket open, so say EOF explicitly.
        if let Ok(fd) = w.reader.fileno() {
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Write);
        }
        if terminating {
            let _ = w.process.terminate();
        }
    }
    for w in workers.iter().flatten() {
        if w.process
            .join(Some(Duration::from_secs(5)))
            .ok()
            .flatten()
            .is_none()
        {
            let _ = w.process.kill();
            let _ = w.process.join(None);
        }
    }
    fail_everything(shared, TaskError::Terminated);
}
