//! The code a pool worker process runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connection::Connection;

/// A worker's start-up argument.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    pub conn: Connection,
    pub slot: usize,
    /// The initializer, its encoded argument and the descriptors it carries.
    pub initializer: Option<Arc<super::WorkerHook>>,
    /// The finalizer, run when the worker leaves its loop.
    pub finalizer: Option<Arc<super::WorkerHook>>,
    /// Exit after this many chunks.
    pub maxtasks: Option<usize>,
    /// Report each result as soon as it is ready (needed for per-task time limits).
    pub per_item: bool,
    /// The pool prefetches: hand back the chunks waiting behind one that
    /// runs longer than [`GIVE_BACK_AFTER`].
    pub give_back: bool,
}

/// How often the watcher looks: a chunk seen running on two looks in a row
/// (so for 10–20 ms) has the chunks queued behind it in the worker's socket
/// handed back to the pool for other workers.
pub(crate) const GIVE_BACK_AFTER: Duration = Duration::from_millis(10);

/// Pool → worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Run items `skip..` of a chunk (a `Vec<A>` encoded by `codec::encode_payload`).
    Chunk {
        id: u64,
        target: crate::target::EncodedFn,
        skip: usize,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
}

/// Worker → pool.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// One result (per-item mode).
    Item {
        id: u64,
        result: Result<Vec<u8>, String>,
    },
    /// A chunk is finished; `results` holds its results unless they were sent one by one.
    Done {
        id: u64,
        results: Vec<Result<Vec<u8>, String>>,
        /// Every task succeeded: their results as one encoded `Vec<R>`.
        #[serde(with = "serde_bytes")]
        packed: Option<Vec<u8>>,
        error: Option<String>,
        /// How long the chunk ran (the pool sizes prefetch by it).
        busy_ns: u64,
    },
    /// The initializer panicked; the worker exits.
    InitFailed(String),
    /// The initializer (if any) is done: the worker takes tasks.
    Ready,
    /// The next `n` chunks after the running one are handed back unrun
    /// (the running one takes long; other workers may be free).
    GaveBack { n: usize },
}

thread_local! {
    static SLOT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The slot (0-based) of the pool worker this code runs in, if any. A
/// replacement worker takes over the slot of the one it replaces.
pub fn worker_slot() -> Option<usize> {
    SLOT.with(|s| s.get())
}

pub(crate) fn worker_main(mut args: WorkerArgs) {
    let finalizer = args.finalizer.take();
    worker_loop(args);
    if let Some(hook) = finalizer {
        // A finalizer that fails has nothing to tell: the worker ends anyway.
        let _ = run_hook(hook);
    }
}

/// Runs an initializer or finalizer; its failure as text.
fn run_hook(hook: Arc<super::WorkerHook>) -> Option<String> {
    let super::WorkerHook {
        target,
        args: data,
        fds,
    } = match Arc::try_unwrap(hook) {
        Ok(hook) => hook,
        // Decoded for this worker, so not shared; if it ever were,
        // the worker works on duplicates.
        Err(shared) => super::WorkerHook {
            target: shared.target,
            args: shared.args.clone(),
            fds: crate::reduction::FdTable(
                shared
                    .fds
                    .0
                    .iter()
                    .filter_map(|fd| fd.try_clone().ok())
                    .collect(),
            ),
        },
    };
    // SAFETY: the offsets come from `encode_target` in the pool's process,
    // which started this worker: its build identity was checked then.
    let (t, f) = unsafe { crate::target::decode_target(target) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::reduction::with_fds(fds.0, || t(f, target.fingerprint, &data))
    }));
    match r {
        Ok(Ok(())) => None,
        Ok(Err(text)) => Some(text),
        Err(payload) => Some(crate::child::panic_text(&*payload)),
    }
}

/// Watches the running chunk from a second thread (see [`GIVE_BACK_AFTER`]):
/// `running` holds the number of the chunk running (0: none).
fn watch_for_long_chunks(conn: Arc<Mutex<Connection>>, running: Arc<AtomicU64>) {
    let mut seen = 0;
    loop {
        std::thread::sleep(GIVE_BACK_AFTER);
        let now = running.load(Ordering::Relaxed);
        if now == 0 || now != seen {
            seen = now;
            continue;
        }
        // The same chunk on two looks apart: it has run for a while. Take
        // what waits behind it, if the main thread is not reading.
        let Ok(c) = conn.try_lock() else {
            continue;
        };
        if running.load(Ordering::Relaxed) != seen {
            continue; // it finished meanwhile
        }
        let mut n = 0;
        while c.frame_buffered() || matches!(c.poll(Some(Duration::ZERO)), Ok(true)) {
            match c.recv::<ToWorker>() {
                Ok(_) => n += 1,
                Err(_) => break,
            }
        }
        if n > 0 && c.send(&FromWorker::GaveBack { n }).is_err() {
            return;
        }
    }
}

fn worker_loop(args: WorkerArgs) {
    SLOT.with(|s| s.set(Some(args.slot)));
    let shared_conn = Arc::new(Mutex::new(args.conn));
    let running = Arc::new(AtomicU64::new(0));
    if args.give_back {
        let (c, r) = (shared_conn.clone(), running.clone());
        let _ = std::thread::Builder::new()
            .name("mp-worker-watch".into())
            .spawn(move || watch_for_long_chunks(c, r));
    }
    let lock = || shared_conn.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(init) = args.initializer {
        if let Some(text) = run_hook(init) {
            let _ = lock().send(&FromWorker::InitFailed(text));
            return;
        }
    }
    if lock().send(&FromWorker::Ready).is_err() {
        return;
    }
    let mut done = 0usize;
    while args.maxtasks.is_none_or(|m| done < m) {
        // `running` changes only under the connection's lock, so the
        // watcher's hand-back always precedes the running chunk's `Done`.
        let msg: ToWorker = {
            let conn = lock();
            match conn.recv() {
                Ok(m) => {
                    running.store(done as u64 + 1, Ordering::Relaxed);
                    m
                }
                Err(_) => return, // the pool closed our connection: stop
            }
        };
        let ToWorker::Chunk {
            id,
            target,
            skip,
            data,
        } = msg;
        // SAFETY: the offsets come from `encode_call` in the pool's process,
        // which started this worker (its build identity was checked then) and
        // is the only writer of this connection. The trampoline checks the
        // fingerprint before it turns `f` into a function.
        let (t, f) = unsafe { crate::pool::chunk::decode_call(target) };
        let fp = target.fingerprint;
        let started = std::time::Instant::now();
        let mut send_failed = false;
        let (outcome, results, packed) = if args.per_item {
            let mut emit = |r| {
                if lock().send(&FromWorker::Item { id, result: r }).is_err() {
                    send_failed = true;
                }
            };
            let outcome = t(
                f,
                fp,
                &data,
                skip,
                &mut crate::pool::chunk::ChunkSink::Each(&mut emit),
            );
            (outcome, Vec::new(), None)
        } else {
            let mut sink = crate::pool::chunk::ChunkSink::Batch {
                packed: None,
                items: Vec::new(),
            };
            let outcome = t(f, fp, &data, skip, &mut sink);
            match sink {
                crate::pool::chunk::ChunkSink::Batch { packed, items } => (outcome, items, packed),
                crate::pool::chunk::ChunkSink::Each(_) => unreachable!("built as Batch above"),
            }
        };
        if send_failed {
            return;
        }
        let reply = FromWorker::Done {
            id,
            results,
            packed,
            error: outcome.err(),
            busy_ns: started.elapsed().as_nanos().min(u64::MAX as u128) as u64,
        };
        let conn = lock();
        running.store(0, Ordering::Relaxed);
        if conn.send(&reply).is_err() {
            return;
        }
        drop(conn);
        done += 1;
    }
}
