//! The Pool benchmark, mp's side (bench/map.sh runs it next to CPython's
//! bench/pool.py). Prints `name seconds` or `name items_per_s` lines.

use std::time::Instant;

fn noop(_: ()) {}

fn pow3(x: u64) -> u64 {
    x * x * x
}

fn main() {
    mp::freeze_support();
    let pool = mp::Pool::new(Some(2)).unwrap();
    pool.map(pow3, 0..100u64, None).unwrap(); // warm-up
    let t = Instant::now();
    pool.map(pow3, 0..100_000u64, None).unwrap();
    println!("map_pow3_100k {:.4} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    pool.map(noop, vec![(); 1_000_000], None).unwrap();
    println!("map_noop_1M {:.4} s", t.elapsed().as_secs_f64());
    let n = 100_000u64;
    let t = Instant::now();
    let s: u64 = pool
        .imap(pow3, 0..n, (n / 8) as usize)
        .map(|r| r.unwrap() % 7)
        .sum();
    std::hint::black_box(s);
    println!("imap_pow3_chunk_n8 {:.4} s", t.elapsed().as_secs_f64());
    for (cs, n) in [(1usize, 50_000u64), (100, 200_000)] {
        let t = Instant::now();
        let count = pool.imap(pow3, 0..n, cs).filter(|r| r.is_ok()).count();
        assert_eq!(count as u64, n);
        println!(
            "imap_chunksize_{cs} {:.0} items_per_s",
            n as f64 / t.elapsed().as_secs_f64()
        );
    }
}
