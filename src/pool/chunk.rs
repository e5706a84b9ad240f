//! A pool chunk as the worker runs it: the trampolines that decode a
//! chunk's arguments, call the task function on each (skipping those
//! already done) and hand the results to a [`ChunkSink`]. The function
//! crosses as a [`crate::target::EncodedFn`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::target::{
    check_fingerprint, decode, encode, fingerprint, EncodedFn, KIND_CHUNK, KIND_STAR_CHUNK,
};

/// Where a chunk's results go: handed over one by one (per-task time limits
/// need that), or gathered: one encoded `Vec<R>` when every task succeeded,
/// else each result on its own.
pub(crate) enum ChunkSink<'a> {
    Each(&'a mut dyn FnMut(std::result::Result<Vec<u8>, String>)),
    Batch {
        packed: Option<Vec<u8>>,
        items: Vec<std::result::Result<Vec<u8>, String>>,
    },
}

/// Runs a chunk of pool tasks: checks the fingerprint, decodes the
/// arguments, skips `skip` items, calls the function on the others (catching
/// panics), and fills the sink.
pub(crate) type ChunkTrampoline =
    fn(usize, u64, &[u8], usize, &mut ChunkSink<'_>) -> std::result::Result<usize, String>;

fn encode_result<R: Serialize>(value: &R) -> std::result::Result<Vec<u8>, String> {
    crate::connection::codec::encode_payload(value)
        .map_err(|e| format!("could not encode the result: {e}"))
}

/// Calls `call` on each item, catching panics, and fills `sink`.
fn run_items<I, R: Serialize>(
    items: impl Iterator<Item = I>,
    call: impl Fn(I) -> R,
    sink: &mut ChunkSink<'_>,
) {
    let guarded = |item: I| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(item)))
            .map_err(|payload| crate::child::panic_text(&*payload))
    };
    match sink {
        ChunkSink::Each(emit) => {
            for item in items {
                emit(guarded(item).and_then(|v| encode_result(&v)));
            }
        }
        ChunkSink::Batch { packed, items: out } => {
            // Straight into a Vec<R> while every call succeeds (the usual
            // case: one encoded Vec for the chunk); item by item after a failure.
            let mut items = items;
            let mut values: Vec<R> = Vec::with_capacity(items.size_hint().0);
            let mut failed = None;
            for item in items.by_ref() {
                match guarded(item) {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => match encode_result(&values) {
                    Ok(bytes) => *packed = Some(bytes),
                    Err(e) => out.extend(values.iter().map(|_| Err(e.clone()))),
                },
                Some(e) => {
                    out.extend(values.iter().map(encode_result));
                    out.push(Err(e));
                    out.extend(items.map(|item| guarded(item).and_then(|v| encode_result(&v))));
                }
            }
        }
    }
}

fn chunk_trampoline<A: DeserializeOwned, R: Serialize>(
    func: usize,
    fingerprint: u64,
    chunk: &[u8],
    skip: usize,
    sink: &mut ChunkSink<'_>,
) -> std::result::Result<usize, String> {
    check_fingerprint::<fn(A) -> R>(KIND_CHUNK, fingerprint)?;
    let items: Vec<A> = crate::connection::codec::decode_payload(chunk)
        .map_err(|e| format!("could not decode the tasks' arguments: {e}"))?;
    // SAFETY: `func` is the address of a `fn(A) -> R` of this same executable:
    // the parent computed it with `encode_call::<A, R>` from a value of that
    // type (the fingerprint says so), and this worker checked at start that it
    // runs the parent's build.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let n = items.len();
    run_items(items.into_iter().skip(skip), f, sink);
    Ok(n)
}

fn star_chunk_trampoline<A: DeserializeOwned, B: DeserializeOwned, R: Serialize>(
    func: usize,
    fingerprint: u64,
    chunk: &[u8],
    skip: usize,
    sink: &mut ChunkSink<'_>,
) -> std::result::Result<usize, String> {
    check_fingerprint::<fn(A, B) -> R>(KIND_STAR_CHUNK, fingerprint)?;
    let items: Vec<(A, B)> = crate::connection::codec::decode_payload(chunk)
        .map_err(|e| format!("could not decode the tasks' arguments: {e}"))?;
    // SAFETY: `func` is the address of a `fn(A, B) -> R` of this same
    // executable, encoded by `encode_star_call::<A, B, R>` (as in `chunk_trampoline`).
    let f: fn(A, B) -> R = unsafe { std::mem::transmute::<usize, fn(A, B) -> R>(func) };
    let n = items.len();
    run_items(items.into_iter().skip(skip), |(a, b)| f(a, b), sink);
    Ok(n)
}

/// Encodes a two-argument pool task with its chunk trampoline.
pub(crate) fn encode_star_call<A: DeserializeOwned, B: DeserializeOwned, R: Serialize>(
    f: fn(A, B) -> R,
) -> EncodedFn {
    let t: ChunkTrampoline = star_chunk_trampoline::<A, B, R>;
    encode(
        t as usize,
        f as usize,
        fingerprint::<fn(A, B) -> R>(KIND_STAR_CHUNK),
    )
}

/// Encodes a pool task with the chunk trampoline for `(A, R)`.
pub(crate) fn encode_call<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R) -> EncodedFn {
    let t: ChunkTrampoline = chunk_trampoline::<A, R>;
    encode(
        t as usize,
        f as usize,
        fingerprint::<fn(A) -> R>(KIND_CHUNK),
    )
}

/// The inverse of [`encode_call`] and [`encode_star_call`]. Call the
/// trampoline with `(func, e.fingerprint, ...)`.
///
/// # Safety
/// `e` must come from `encode_call` or `encode_star_call` in a process
/// running this same build.
pub(crate) unsafe fn decode_call(e: EncodedFn) -> (ChunkTrampoline, usize) {
    let (t, func) = decode(e);
    // SAFETY: guaranteed by the caller, as in `decode_target`.
    let t: ChunkTrampoline = unsafe { std::mem::transmute::<usize, ChunkTrampoline>(t) };
    (t, func)
}
