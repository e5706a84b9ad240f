//! Start methods, contexts and the bootstrap (CPython's `multiprocessing.context`).
//!
//! A child process is started with one of three methods, as in Python:
//!
//! | method | how | cost here | needs the bootstrap |
//! |---|---|---|---|
//! | [`StartMethod::Forkserver`] (default) | a small server process, started once by re-running this program, forks each child | lowest | yes |
//! | [`StartMethod::Spawn`] | re-runs this program (`/proc/self/exe`) for each child | highest | yes |
//! | [`StartMethod::Fork`] | `fork()` of the calling process | low | no |
//!
//! Forkserver is the default (Python 3.14 made the same choice on Linux): its
//! children are forked from a small single-threaded process, so they never
//! inherit a lock that some thread of your program held at the moment of the
//! fork, and starting one is cheaper than a fresh exec.
//!
//! # The bootstrap, and its trap
//!
//! Spawn and forkserver start a new copy of your program. That copy must turn
//! into the child *before* your own code runs, so the first line of `main` must
//! be [`freeze_support()`], or `main` must be wrapped in [`main`]:
//!
//! ```no_run
//! fn greet(name: String) {
//!     println!("hello {name}");
//! }
//!
//! fn main() {
//!     mp::freeze_support(); // a spawned child stops here and runs its target
//!     let p = mp::Process::new(greet, "bob".to_string());
//!     p.start().unwrap();
//!     p.join(None).unwrap();
//! }
//! ```
//!
//! The trap is Python's `if __name__ == "__main__"` trap: whatever runs
//! *before* `freeze_support()` (static initialisers, code above the call) runs
//! again in every spawned child. Put nothing above it. If the call is missing
//! altogether, the child runs your whole `main` again; `mp` notices (the child's
//! [`crate::Process::start`] refuses with [`Error::BootstrapMissing`], and the
//! parent's [`crate::Process::failure`] names the missing call), but your
//! program's own side effects may already have happened twice.
//!
//! # Targets
//!
//! A child runs a plain function `fn(A)` with an argument `A` that serde can
//! encode. The function crosses processes as its offset inside this
//! executable, which is the same in every process running it (fork, spawn and
//! forkserver all run the same binary), so no registration is needed.
//! Closures that capture variables are refused by the compiler: like
//! CPython's picklable targets, everything the child needs goes in `A`.
//!
//! Two checks stand before an offset becomes a function pointer. A spawned
//! or forkserver child first compares its parent's build identity with its
//! own (the ELF build-id of the executable); if `/proc/self/exe` turned out
//! to be another program, the child refuses with [`Error::BuildMismatch`]
//! (the parent's [`crate::Process::failure`] shows it) instead of calling
//! whatever sits at that offset. Then every call checks a fingerprint of the
//! function's type sent beside the offsets.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::Process;

/// How child processes are started. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// `fork()` the calling process. Fast, inherits all memory; unsafe to mix
    /// with threads that hold locks (see [`crate::Process`] caveats).
    Fork,
    /// Run this program again from the start; the child begins clean.
    Spawn,
    /// Ask a single-threaded server process to fork the child (the default).
    Forkserver,
}

impl StartMethod {
    /// Python's name: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StartMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(Error::UnknownStartMethod(other.to_string())),
        }
    }
}

static START_METHOD: Mutex<Option<StartMethod>> = Mutex::new(None);

/// The default start method on this platform.
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::Forkserver;

/// Python's `set_start_method(method, force=False)`: sets the global start
/// method. Setting it a second time is an error unless `force` is true.
pub fn set_start_method(method: StartMethod, force: bool) -> Result<()> {
    let mut m = START_METHOD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = *m {
        if !force && old != method {
            return Err(Error::ContextAlreadySet(old));
        }
    }
    *m = Some(method);
    Ok(())
}

/// Python's `get_start_method(allow_none)`: the global start method. When none
/// was set, `allow_none` returns `None`; otherwise the default is fixed and returned.
pub fn get_start_method(allow_none: bool) -> Option<StartMethod> {
    let mut m = START_METHOD.lock().unwrap_or_else(|e| e.into_inner());
    if m.is_none() && !allow_none {
        *m = Some(DEFAULT_START_METHOD);
    }
    *m
}

/// Python's `get_all_start_methods()`, default first.
pub fn get_all_start_methods() -> Vec<StartMethod> {
    vec![
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ]
}

/// Python's `get_context(method)`: an object with the same API as the
/// crate's top level, bound to one start method.
///
/// ```no_run
/// let ctx = mp::get_context(Some(mp::StartMethod::Spawn));
/// fn work(n: u32) { println!("{n}"); }
/// let p = ctx.process(work, 7);
/// p.start().unwrap();
/// p.join(None).unwrap();
/// ```
pub fn get_context(method: Option<StartMethod>) -> Context {
    Context { method }
}

/// A start-method context; see [`get_context`].
#[derive(Debug, Clone, Copy)]
pub struct Context {
    method: Option<StartMethod>,
}

impl Context {
    /// The start method processes of this context use (`None`: the global one at start time).
    pub fn start_method(&self) -> Option<StartMethod> {
        self.method
    }

    /// A new, not yet started [`Process`] using this context's start method.
    pub fn process<A>(&self, target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let p = Process::new(target, args);
        match self.method {
            Some(m) => p.with_start_method(m),
            None => p,
        }
    }
}

/// Python's `cpu_count()`: the number of CPUs in the system.
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Python 3.13's `process_cpu_count()`: the CPUs this process may run on
/// (its affinity mask and cgroup quota), the right default for a pool size.
pub fn process_cpu_count() -> usize {
    std::thread::available_parallelism().map_or_else(|_| cpu_count(), |n| n.get())
}

/// Turns this process into an `mp` child if it was started as one (spawn, or
/// the forkserver), and never returns in that case; otherwise does nothing.
///
/// Call it first thing in `main`. See [the bootstrap](self#the-bootstrap-and-its-trap).
pub fn freeze_support() {
    crate::popen::bootstrap();
}

/// Runs `f` after the bootstrap: `fn main() { mp::main(|| { ... }) }` is the
/// same as calling [`freeze_support`] on the first line of `main`.
pub fn main<R>(f: impl FnOnce() -> R) -> R {
    freeze_support();
    f()
}

// ---- targets: functions that cross process boundaries ----

/// A task function as it crosses processes: the offsets (from [`anchor`]) of
/// its trampoline and of the function, and the [fingerprint] of the
/// function's type and of the trampoline's kind.
///
/// The offsets are only meaningful in the same build of the program: the
/// child checks the parent's build identity once, before it reads its spec
/// ([`crate::build_id`]); pool workers get their chunks from that same parent.
/// The trampoline checks the fingerprint on every call, before it turns
/// `func` into a function pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EncodedFn {
    pub tramp: isize,
    pub func: isize,
    pub fingerprint: u64,
}

/// Runs a target: checks the fingerprint, decodes the argument bytes and
/// calls the function.
pub(crate) type Trampoline = fn(usize, u64, &[u8]) -> std::result::Result<(), String>;

/// The kinds of trampoline, part of the fingerprint: an `fn(A)` target and
/// an `fn(A) -> ()` pool task have the same type name but different trampolines.
const KIND_TARGET: u8 = 1;
const KIND_CHUNK: u8 = 2;
const KIND_STAR_CHUNK: u8 = 3;

/// The fingerprint of a function of type `F` run by a trampoline of `kind`:
/// a hash of the kind and of `F`'s type name, eight bytes at a time. It is
/// computed once per encoded function and once per call of a trampoline
/// (a process target, a pool chunk), so it must be cheap: no allocation;
/// measured on a busy 2-core machine, 12 ns for `fn(u64) -> u64` and under
/// 200 ns for a 180-byte type name, where FNV-1a, a byte at a time, took 50 ns
/// and over 1 µs.
///
/// Type names are not guaranteed unique (two versions of one crate may print
/// the same path), so this is a check against mix-ups, not a proof; the
/// build identity is what makes offsets meaningful.
fn fingerprint<F: ?Sized>(kind: u8) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, word: u64| (h.rotate_left(26) ^ word).wrapping_mul(K);
    let name = std::any::type_name::<F>().as_bytes();
    let mut h = mix(u64::from(kind), name.len() as u64);
    let mut words = name.chunks_exact(8);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = mix(h, u64::from_le_bytes(last));
    h ^ (h >> 29)
}

/// Refuses a function whose sender did not encode it for this trampoline:
/// `sent` must be the fingerprint of `F` under `kind`.
#[inline]
fn check_fingerprint<F: ?Sized>(kind: u8, sent: u64) -> std::result::Result<(), String> {
    let expected = fingerprint::<F>(kind);
    if sent == expected {
        return Ok(());
    }
    Err(fingerprint_mismatch(
        std::any::type_name::<F>(),
        sent,
        expected,
    ))
}

#[cold]
fn fingerprint_mismatch(type_name: &str, sent: u64, expected: u64) -> String {
    format!(
        "refused to call the task function: the sender's type fingerprint {sent:016x} is not \
         that of a `{type_name}` ({expected:016x}); the encoded function was altered or comes \
         from a different build of this program"
    )
}

/// A fixed point in the executable; targets are sent as offsets from it.
#[inline(never)]
fn anchor() -> usize {
    anchor as fn() -> usize as usize
}

/// The offsets of trampoline `t` and function `f` from [`anchor`], with the fingerprint.
fn encode(t: usize, f: usize, fingerprint: u64) -> EncodedFn {
    let base = anchor() as isize;
    EncodedFn {
        tramp: (t as isize).wrapping_sub(base),
        func: (f as isize).wrapping_sub(base),
        fingerprint,
    }
}

/// The addresses in this process of an encoded trampoline and function.
fn decode(e: EncodedFn) -> (usize, usize) {
    let base = anchor() as isize;
    (
        base.wrapping_add(e.tramp) as usize,
        base.wrapping_add(e.func) as usize,
    )
}

fn trampoline<A: DeserializeOwned>(
    func: usize,
    fingerprint: u64,
    args: &[u8],
) -> std::result::Result<(), String> {
    check_fingerprint::<fn(A)>(KIND_TARGET, fingerprint)?;
    let a: A = crate::connection::Codec::Postcard
        .decode(args)
        .map_err(|e| format!("could not decode the target's arguments: {e}"))?;
    // SAFETY: `func` is the address of a `fn(A)` of this same executable: the
    // parent computed its offset with `encode_target::<A>` from a value of type
    // `fn(A)` (the fingerprint just checked says so), and the child checked
    // that it runs the parent's build.
    let f: fn(A) = unsafe { std::mem::transmute::<usize, fn(A)>(func) };
    f(a);
    Ok(())
}

/// Encodes `f` with the trampoline for `A`.
pub(crate) fn encode_target<A: DeserializeOwned>(f: fn(A)) -> EncodedFn {
    let t: Trampoline = trampoline::<A>;
    encode(t as usize, f as usize, fingerprint::<fn(A)>(KIND_TARGET))
}

/// The inverse of [`encode_target`], in this process's address space. Call
/// the trampoline with `(func, e.fingerprint, args)`.
///
/// # Safety
/// `e` must come from `encode_target` in a process running this same build
/// (see [`crate::build_id`]).
pub(crate) unsafe fn decode_target(e: EncodedFn) -> (Trampoline, usize) {
    let (t, func) = decode(e);
    // SAFETY: guaranteed by the caller: `t` is the address of a `Trampoline`
    // of this executable, relocated by the same amount as `anchor`.
    let t: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(t) };
    (t, func)
}

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
            .map_err(|payload| crate::popen::panic_text(&*payload))
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicU64, Ordering};

    fn double(n: u32) {
        assert_eq!(n, 21);
    }

    /// What the tamper tests' functions saw: they must never run.
    static CALLED: AtomicU64 = AtomicU64::new(0);

    fn record(n: u64) {
        CALLED.store(n, Ordering::SeqCst);
    }

    fn record_u32(n: u32) {
        CALLED.store(u64::from(n), Ordering::SeqCst);
    }

    fn cube(n: u64) -> u64 {
        CALLED.store(n, Ordering::SeqCst);
        n * n * n
    }

    fn add(a: u64, b: u64) -> u64 {
        CALLED.store(a, Ordering::SeqCst);
        a + b
    }

    #[test]
    fn targets_round_trip_in_process() {
        let e = encode_target(double);
        // SAFETY: just made by encode_target in this process.
        let (tramp, func) = unsafe { decode_target(e) };
        let args = postcard::to_allocvec(&21u32).unwrap();
        tramp(func, e.fingerprint, &args).unwrap();
        assert!(tramp(func, e.fingerprint, &[])
            .unwrap_err()
            .contains("decode"));
    }

    fn pow3(n: u64) -> u64 {
        n * n * n
    }

    #[test]
    fn calls_round_trip_in_process() {
        let e = encode_call(pow3);
        // SAFETY: just made by encode_call in this process.
        let (tramp, func) = unsafe { decode_call(e) };
        let data = crate::connection::codec::encode_payload(&vec![2u64, 3]).unwrap();
        let mut sink = ChunkSink::Batch {
            packed: None,
            items: Vec::new(),
        };
        assert_eq!(tramp(func, e.fingerprint, &data, 0, &mut sink), Ok(2));
        let ChunkSink::Batch {
            packed: Some(bytes),
            ..
        } = sink
        else {
            panic!("every task succeeded, so the results come packed");
        };
        let got: Vec<u64> = crate::connection::codec::decode_payload(&bytes).unwrap();
        assert_eq!(got, [8, 27]);
    }

    /// A fingerprint that does not match refuses before anything is decoded or called.
    #[test]
    fn tampered_fingerprints_are_refused() {
        CALLED.store(0, Ordering::SeqCst);
        let args = postcard::to_allocvec(&7u64).unwrap();

        let e = encode_target(record);
        // SAFETY: made by encode_target in this process; only the fingerprint is altered.
        let (tramp, func) = unsafe { decode_target(e) };
        let err = tramp(func, e.fingerprint ^ 1, &args).unwrap_err();
        assert!(err.contains("refused to call the task function"), "{err}");
        assert!(err.contains("`fn(u64)`"), "{err}");

        // An `fn(u64)` sent with the trampoline of an `fn(u32)`.
        let other = encode_target(record_u32);
        let mixed = EncodedFn {
            tramp: other.tramp,
            ..e
        };
        // SAFETY: both halves come from encode_target in this process; the
        // trampoline's fingerprint check is what the test is about.
        let (tramp, func) = unsafe { decode_target(mixed) };
        let err = tramp(func, mixed.fingerprint, &args).unwrap_err();
        assert!(err.contains("`fn(u32)`"), "{err}");

        let data = crate::connection::codec::encode_payload(&vec![7u64]).unwrap();
        let mut sink = ChunkSink::Batch {
            packed: None,
            items: Vec::new(),
        };
        for e in [encode_call(cube), encode_star_call(add)] {
            // SAFETY: made by encode_call / encode_star_call in this process.
            let (tramp, func) = unsafe { decode_call(e) };
            let err = tramp(func, e.fingerprint.wrapping_add(1), &data, 0, &mut sink).unwrap_err();
            assert!(err.contains("refused to call the task function"), "{err}");
        }
        // A chunk function sent where a two-argument one's trampoline runs.
        let star = encode_star_call(add);
        let mixed = EncodedFn {
            tramp: star.tramp,
            ..encode_call(cube)
        };
        // SAFETY: as above.
        let (tramp, func) = unsafe { decode_call(mixed) };
        let err = tramp(func, mixed.fingerprint, &data, 0, &mut sink).unwrap_err();
        assert!(err.contains("`fn(u64, u64) -> u64`"), "{err}");

        assert_eq!(CALLED.load(Ordering::SeqCst), 0, "a refused function ran");
        assert!(matches!(sink, ChunkSink::Batch { packed: None, ref items } if items.is_empty()));
    }

    #[test]
    fn fingerprints_tell_kinds_and_types_apart() {
        fn unit(_: u64) {}
        let prints = [
            encode_target(record).fingerprint,
            encode_target(record_u32).fingerprint,
            encode_call(unit).fingerprint,
            encode_call(cube).fingerprint,
            encode_star_call(add).fingerprint,
        ];
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The same type, encoded twice, gives the same fingerprint.
        assert_eq!(encode_call(cube).fingerprint, prints[3]);
    }

    #[test]
    fn start_method_names() {
        for m in get_all_start_methods() {
            assert_eq!(m.as_str().parse::<StartMethod>().unwrap(), m);
        }
        assert!(matches!(
            "fish".parse::<StartMethod>(),
            Err(Error::UnknownStartMethod(_))
        ));
    }
}
