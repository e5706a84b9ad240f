//! Manager round trips per second from Rust clients: the Rust-client
//! contender of `bench/managers.sh`, the same workload as `bench/managers.py`.
//!
//! usage: `bench_managers HOST:PORT CLIENTS SECONDS [dict|queue]` (key in
//! `MP_AUTHKEY`).
//! Each of CLIENTS threads (one connection each, as each Python client
//! process has) does, for SECONDS per operation, dict set+get pairs, then
//! queue put+get pairs, on its own objects. Prints `name round_trips_per_second`
//! per operation, summed over the clients. A negative SECONDS, `-N`, does
//! exactly N round trips per operation instead (for instruction counts
//! under `valgrind --tool=callgrind`, which do not depend on the load).
//! A fourth argument, `dict` or `queue`, runs that operation only (so
//! instruction counts can be told apart).
use std::time::{Duration, Instant};

use mp::managers::{DictProxy, QueueProxy, SyncManager};

fn client(m: &SyncManager, seconds: f64, ops: &[usize]) -> [f64; 2] {
    let d: DictProxy<String, i64> = m.dict().unwrap();
    let q: QueueProxy<i64> = m.queue().unwrap();
    let k = "k".to_string();
    d.set(&k, &0).unwrap();
    let mut out = [0.0; 2];
    for (op, rate) in out.iter_mut().enumerate() {
        if !ops.contains(&op) {
            continue;
        }
        let mut n: i64 = 0;
        let end = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
        // A negative SECONDS is a count: exactly that many round trips.
        let count = if seconds < 0.0 {
            -seconds as i64
        } else {
            i64::MAX
        };
        while if seconds < 0.0 {
            n < count
        } else {
            Instant::now() < end
        } {
            for _ in 0..50 {
                if op == 0 {
                    d.set(&k, &n).unwrap();
                    d.get_item(&k).unwrap();
                } else {
                    q.put(&n).unwrap();
                    q.get().unwrap();
                }
                n += 2;
            }
        }
        *rate = if seconds < 0.0 {
            n as f64
        } else {
            n as f64 / seconds
        };
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!(
            "usage: bench_managers HOST:PORT CLIENTS SECONDS [dict|queue] (key in MP_AUTHKEY)"
        );
        std::process::exit(2)
    };
    let (address, clients, seconds, ops): (_, _, _, &[usize]) = match args.as_slice() {
        [a, c, s] => (a, c, s, &[0, 1]),
        [a, c, s, o] if o == "dict" => (a, c, s, &[0]),
        [a, c, s, o] if o == "queue" => (a, c, s, &[1]),
        _ => usage(),
    };
    let key = std::env::var("MP_AUTHKEY").unwrap_or_default();
    let m = SyncManager::connect(&address.parse().unwrap(), Some(key.as_bytes())).unwrap();
    let clients: usize = clients.parse().unwrap();
    let seconds: f64 = seconds.parse().unwrap();
    let rates: Vec<[f64; 2]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| s.spawn(|| client(&m, seconds, ops)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, name) in ["dict_set_get", "queue_put_get"].iter().enumerate() {
        if !ops.contains(&i) {
            continue;
        }
        let total: f64 = rates.iter().map(|r| r[i]).sum();
        println!("{name} {}", total.round());
    }
}
