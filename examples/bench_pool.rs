//! The Pool benchmark, mp's side: bench/map.sh runs it next to CPython's
//! bench/pool.py, which does the same work and prints the same lines.
//!
//! `cargo run --release --example bench_pool` prints `name value unit` lines:
//! `s` (seconds, lower is better) or `items_per_s` (higher is better). The
//! pool is created and warmed with a tiny map first; its start-up is not timed.
//! Each timing is the median of `REPS` runs in the same pool (bench/pool.py
//! does the same).
//! `-- NAME` runs only the benchmark NAME (for profiling one of them).

use std::hint::black_box;
use std::time::Instant;

fn noop(_: ()) {}

fn pow3(x: u64) -> u64 {
    x * x * x
}

const REPS: usize = 5;

/// The median of `REPS` timings of `f`, in seconds.
fn median_secs(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[REPS / 2]
}

fn main() {
    mp::freeze_support();
    let only = std::env::args().nth(1);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let pool = mp::Pool::new(Some(2)).unwrap();
    pool.map(pow3, 0..100u64, None).unwrap(); // warm-up: workers started and running

    // Pool(2).map(pow3, range(100000)), default chunksize (as CPython's).
    if run("map_pow3_100k") {
        let dt = median_secs(|| {
            let v = pool.map(pow3, 0..100_000u64, None).unwrap();
            assert_eq!(v.len(), 100_000);
            assert_eq!(v[99_999], 99_999u64.pow(3));
            black_box(v);
        });
        println!("map_pow3_100k {dt:.4} s");
    }

    // Pool(2).map(noop, [None] * 1000000).
    if run("map_noop_1M") {
        let dt = median_secs(|| {
            let v = pool.map(noop, vec![(); 1_000_000], None).unwrap();
            assert_eq!(v.len(), 1_000_000);
        });
        println!("map_noop_1M {dt:.4} s");
    }

    // imap(pow3, range(N), chunksize=N // 8): eight large chunks.
    if run("imap_pow3_chunk_n8") {
        let n = 100_000u64;
        let dt = median_secs(|| {
            let s: u64 = pool
                .imap(pow3, 0..n, (n / 8) as usize)
                .map(|r| r.unwrap() % 7)
                .sum();
            black_box(s);
        });
        println!("imap_pow3_chunk_n8 {dt:.4} s");
    }

    // imap throughput with small chunks: every item (or every 100) a round trip.
    for (cs, n) in [(1usize, 50_000u64), (100, 1_000_000)] {
        if !run(&format!("imap_chunksize_{cs}")) {
            continue;
        }
        let dt = median_secs(|| {
            let count = pool.imap(pow3, 0..n, cs).filter(|r| r.is_ok()).count();
            assert_eq!(count as u64, n);
        });
        println!("imap_chunksize_{cs} {:.0} items_per_s", n as f64 / dt);
    }
}
