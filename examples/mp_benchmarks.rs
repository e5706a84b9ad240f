//! The seed documentation's benchmark suite (mp_benchmarks.py), in Rust:
//! queue speed and pipe speed (256-byte strings from a child process),
//! lock speed, condition speed (two processes), and element access of a
//! shared Array with and without its lock. `bench/sync.sh` runs it
//! next to CPython's version (bench/sync.py) and prints both columns.
//! Each line: `name value per_s`.

use std::time::{Duration, Instant};

use mp::queues::Queue;
use mp::sharedctypes::{Array, RawArray};
use mp::synchronize::{Condition, Event, Lock};
use mp::{Connection, Process};

/// Runs `f(n)` with growing n until it takes 0.2 s; returns operations per second.
fn rate(mut f: impl FnMut(u64)) -> f64 {
    let mut n = 1000u64;
    loop {
        let t = Instant::now();
        f(n);
        let dt = t.elapsed();
        if dt > Duration::from_millis(200) {
            return n as f64 / dt.as_secs_f64();
        }
        n *= 2;
    }
}

fn pong((c, turn, ready, n): (Condition, RawArray<u64>, Event, u64)) {
    ready.set();
    let _g = c.lock().unwrap();
    for i in 0..n {
        while turn.get(0).unwrap() != 2 * i + 1 {
            c.wait(None).unwrap();
        }
        turn.set(0, 2 * i + 2).unwrap();
        c.notify(1);
    }
}

/// The seed's queue_func: announce, then put `n` 256-byte strings and "STOP".
fn queue_func((q, ready, n): (Queue<String>, Event, u64)) {
    let a = "0".repeat(256);
    ready.set();
    for _ in 0..n {
        q.put(&a).unwrap();
    }
    q.put(&"STOP".to_string()).unwrap();
}

/// The seed's pipe_func: the same through one end of a pipe.
fn pipe_func((c, ready, n): (Connection, Event, u64)) {
    let a = "0".repeat(256);
    ready.set();
    for _ in 0..n {
        c.send(&a).unwrap();
    }
    c.send(&"STOP".to_string()).unwrap();
}

/// Runs `f(n)` (which times itself) with growing n until it reports 0.2 s.
fn timed_rate(mut f: impl FnMut(u64) -> Duration) -> f64 {
    let mut n = 1000u64;
    loop {
        let dt = f(n);
        if dt > Duration::from_millis(200) {
            return n as f64 / dt.as_secs_f64();
        }
        n *= 2;
    }
}

/// The parent's side of `n` condition round trips: odd turns are ours,
/// even ones `pong`'s.
fn ping(c: &Condition, turn: &RawArray<u64>, n: u64) {
    let _g = c.lock().unwrap();
    for i in 0..n {
        turn.set(0, 2 * i + 1).unwrap();
        c.notify(1);
        while turn.get(0).unwrap() != 2 * i + 2 {
            c.wait(None).unwrap();
        }
    }
}

/// `n` condition round trips with a child (see `pong`), timed from the
/// child's "ready" (like the C floor, which starts its clock after the fork).
fn condition_round_trips(n: u64) -> Duration {
    let c = Condition::new(None).unwrap();
    // The turn counter is guarded by the condition's own lock.
    let turn = RawArray::from_slice(&[0u64]).unwrap();
    let ready = Event::new().unwrap();
    let p = Process::new(pong, (c.clone(), turn.clone(), ready.clone(), n));
    p.start().unwrap();
    ready.wait(None);
    let t = Instant::now();
    ping(&c, &turn, n);
    let dt = t.elapsed();
    p.join(None).unwrap();
    dt
}

/// The same ping-pong between two threads of this process (no child: for
/// valgrind, which lacks pidfd_open and so cannot start one).
fn condition_round_trips_threads(n: u64) -> Duration {
    let c = Condition::new(None).unwrap();
    let turn = RawArray::from_slice(&[0u64]).unwrap();
    let t = Instant::now();
    let other = {
        let (c, turn) = (c.clone(), turn.clone());
        std::thread::spawn(move || pong((c, turn, Event::new().unwrap(), n)))
    };
    ping(&c, &turn, n);
    other.join().unwrap();
    t.elapsed()
}

fn main() {
    mp::freeze_support();
    // `mp_benchmarks condition N`: only N condition round trips, once (for
    // strace -c and perf stat, which need a fixed count); `condition-threads
    // N`: the same between two threads (for callgrind).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str);
    if matches!(mode, Some("condition" | "condition-threads")) {
        let n = match args.get(1).map(|a| a.parse::<u64>()) {
            None => 20_000,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                eprintln!(
                    "usage: mp_benchmarks [condition|condition-threads [N]] (N: a positive count)"
                );
                std::process::exit(2);
            }
        };
        let dt = if mode == Some("condition") {
            condition_round_trips(n)
        } else {
            condition_round_trips_threads(n)
        };
        println!(
            "condition_round_trips {:.0} per_s ({n} in {dt:?})",
            n as f64 / dt.as_secs_f64()
        );
        return;
    }
    let r = timed_rate(|n| {
        let q: Queue<String> = Queue::new(0).unwrap();
        let ready = Event::new().unwrap();
        let p = Process::new(queue_func, (q.clone(), ready.clone(), n));
        p.start().unwrap();
        ready.wait(None);
        let t = Instant::now();
        while q.get().unwrap() != "STOP" {}
        let dt = t.elapsed();
        p.join(None).unwrap();
        dt
    });
    println!("queue_objects {r:.0} per_s");

    let r = timed_rate(|n| {
        let (reader, writer) = mp::pipe(false).unwrap();
        let ready = Event::new().unwrap();
        let p = Process::new(pipe_func, (writer, ready.clone(), n));
        p.start().unwrap();
        ready.wait(None);
        let t = Instant::now();
        while reader.recv::<String>().unwrap() != "STOP" {}
        let dt = t.elapsed();
        p.join(None).unwrap();
        dt
    });
    println!("pipe_objects {r:.0} per_s");

    let l = Lock::new().unwrap();
    let r = rate(|n| {
        for _ in 0..n {
            l.acquire(true, None).unwrap();
            l.release().unwrap();
        }
    });
    println!("lock_acquire_release {r:.0} per_s");

    // The same loop over a locked and a raw array.
    fn array_gets(get: impl Fn(usize) -> u64) -> f64 {
        rate(|n| {
            let mut s = 0u64;
            for i in 0..n as usize {
                s = s.wrapping_add(get(i % 100));
            }
            std::hint::black_box(s);
        })
    }
    let locked = Array::new(0u64, 100).unwrap();
    let r = array_gets(|i| locked.get(i).unwrap());
    println!("array_lock_true_get {r:.0} per_s");
    let raw = RawArray::new(0u64, 100).unwrap();
    let r = array_gets(|i| raw.get(i).unwrap());
    println!("array_raw_get {r:.0} per_s");

    // Condition ping-pong: a round trip is one notify and one wake each way.
    let r = timed_rate(condition_round_trips);
    println!("condition_round_trips {r:.0} per_s");
}
