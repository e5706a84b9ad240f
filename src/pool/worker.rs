//! The code a pool worker process runs.

use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::context;

/// A worker's start-up argument.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    pub conn: Connection,
    pub slot: usize,
    /// (trampoline, function, encoded argument) of the initializer.
    pub initializer: Option<(isize, isize, Vec<u8>)>,
    /// Exit after this many chunks.
    pub maxtasks: Option<usize>,
    /// Report each result as soon as it is ready (needed for per-task time limits).
    pub per_item: bool,
}

/// Pool → worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Run items `skip..` of a chunk (a postcard `Vec<A>`).
    Chunk {
        id: u64,
        tramp: isize,
        func: isize,
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
}

thread_local! {
    static SLOT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The slot (0-based) of the pool worker this code runs in, if any. A
/// replacement worker takes over the slot of the one it replaces.
pub fn worker_slot() -> Option<usize> {
    SLOT.with(|s| s.get())
}

pub(crate) fn worker_main(args: WorkerArgs) {
    worker_loop(args);
    // A persistent command (mp map --persistent) ends with its worker.
    crate::command::on_worker_exit();
}

fn worker_loop(args: WorkerArgs) {
    SLOT.with(|s| s.set(Some(args.slot)));
    let conn = args.conn;
    if let Some((tramp, func, data)) = args.initializer {
        // SAFETY: the offsets come from `encode_target` in the pool's process,
        // which runs this same executable.
        let (t, f) = unsafe { context::decode_target(tramp, func) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t(f, &data)));
        let failure = match r {
            Ok(Ok(())) => None,
            Ok(Err(text)) => Some(text),
            Err(payload) => Some(crate::popen::panic_text(&*payload)),
        };
        if let Some(text) = failure {
            let _ = conn.send(&FromWorker::InitFailed(text));
            return;
        }
    }
    let mut done = 0usize;
    while args.maxtasks.is_none_or(|m| done < m) {
        let msg: ToWorker = match conn.recv() {
            Ok(m) => m,
            Err(_) => return, // the pool closed our connection: stop
        };
        let ToWorker::Chunk {
            id,
            tramp,
            func,
            skip,
            data,
        } = msg;
        // SAFETY: the offsets come from `encode_call` in the pool's process.
        let (t, f) = unsafe { context::decode_call(tramp, func) };
        let started = std::time::Instant::now();
        let mut send_failed = false;
        let (outcome, results, packed) = if args.per_item {
            let mut emit = |r| {
                if conn.send(&FromWorker::Item { id, result: r }).is_err() {
                    send_failed = true;
                }
            };
            let outcome = t(f, &data, skip, &mut context::ChunkSink::Each(&mut emit));
            (outcome, Vec::new(), None)
        } else {
            let mut sink = context::ChunkSink::Batch {
                packed: None,
                items: Vec::new(),
            };
            let outcome = t(f, &data, skip, &mut sink);
            match sink {
                context::ChunkSink::Batch { packed, items } => (outcome, items, packed),
                context::ChunkSink::Each(_) => unreachable!("built as Batch above"),
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
        if conn.send(&reply).is_err() {
            return;
        }
        done += 1;
    }
}
