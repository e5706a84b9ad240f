//! Targets: functions that cross process boundaries (a `Process` target,
//! a pool's initializer), as offsets inside this executable with a
//! fingerprint of their type; see [`crate::context`]'s "Targets" for the
//! user's side, and [`crate::build_id`] for the check that both ends run
//! the same build. The pool's chunk trampolines build on this
//! (`pool::chunk`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
pub(crate) const KIND_CHUNK: u8 = 2;
pub(crate) const KIND_STAR_CHUNK: u8 = 3;

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
pub(crate) fn fingerprint<F: ?Sized>(kind: u8) -> u64 {
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
pub(crate) fn check_fingerprint<F: ?Sized>(kind: u8, sent: u64) -> std::result::Result<(), String> {
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
pub(crate) fn encode(t: usize, f: usize, fingerprint: u64) -> EncodedFn {
    let base = anchor() as isize;
    EncodedFn {
        tramp: (t as isize).wrapping_sub(base),
        func: (f as isize).wrapping_sub(base),
        fingerprint,
    }
}

/// The addresses in this process of an encoded trampoline and function.
pub(crate) fn decode(e: EncodedFn) -> (usize, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::chunk::{decode_call, encode_call, encode_star_call, ChunkSink};

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
}
