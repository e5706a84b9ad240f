//! The Foundation benchmark, mp's side (bench/foundation.sh runs it next to
//! CPython's bench/foundation.py). Prints `name value unit` lines.
//!
//! `cargo run --release --example bench_foundation -- start METHOD N`: median
//! start+join latency of a no-op process. `... pipe N`: 256-byte objects per
//! second from a child to its parent, with `send`/`recv` and with `send_bytes`.

use std::time::Instant;

use mp::{Connection, Process, StartMethod};

fn noop(_: ()) {}

fn send_objects((conn, n): (Connection, u64)) {
    let s = "x".repeat(256);
    for _ in 0..n {
        conn.send(&s).unwrap();
    }
}

fn send_raw((conn, n): (Connection, u64)) {
    let b = vec![b'x'; 256];
    for _ in 0..n {
        conn.send_bytes(&b).unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    mp::freeze_support();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("start") => {
            let method: StartMethod = args[2].parse().unwrap();
            let n: usize = args[3].parse().unwrap();
            // Warm-up: starts the forkserver, faults in the code.
            let p = Process::new(noop, ()).with_start_method(method);
            p.start().unwrap();
            p.join(None).unwrap();
            let times: Vec<f64> = (0..n)
                .map(|_| {
                    let t = Instant::now();
                    let p = Process::new(noop, ()).with_start_method(method);
                    p.start().unwrap();
                    p.join(None).unwrap();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            println!("start_{method} {:.3} ms", median(times));
        }
        Some("pipe") => {
            let n: u64 = args[2].parse().unwrap();
            let (a, b) = mp::pipe(true).unwrap();
            let p = Process::new(send_objects, (b, n));
            let t = Instant::now();
            p.start().unwrap();
            for _ in 0..n {
                let _: String = a.recv().unwrap();
            }
            let secs = t.elapsed().as_secs_f64();
            p.join(None).unwrap();
            println!("pipe_objects {:.0} per_s", n as f64 / secs);
            let (a, b) = mp::pipe(true).unwrap();
            let p = Process::new(send_raw, (b, n));
            let t = Instant::now();
            p.start().unwrap();
            for _ in 0..n {
                let _ = a.recv_bytes(None).unwrap();
            }
            let secs = t.elapsed().as_secs_f64();
            p.join(None).unwrap();
            println!("pipe_bytes {:.0} per_s", n as f64 / secs);
        }
        _ => {
            eprintln!("usage: bench_foundation start METHOD N | pipe N");
            std::process::exit(2);
        }
    }
}
