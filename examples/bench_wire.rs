//! The wire benchmark, mp's side (bench/wire.sh runs it next to CPython's
//! bench/wire.py and the C floor bench/wire_floor.c). Prints `name value
//! unit` lines.
//!
//! `cargo run --release --example bench_wire -- tcp|unix ROUNDTRIPS BULK_MIB`:
//! a `Listener` here, a `client` in a child process; round trips of a
//! 64-byte `send_bytes` echoed back, then BULK_MIB messages of 1 MiB sent
//! to the child (which acknowledges the last).

use std::time::Instant;

use mp::connection::{client, Address, Listener};
use mp::Process;

fn echo_peer(addr: String) {
    let a: Address = addr.parse().unwrap();
    let c = client(&a, None).unwrap();
    // Round trips until an empty message, then take bulk until another.
    loop {
        let m = c.recv_bytes(None).unwrap();
        if m.is_empty() {
            break;
        }
        c.send_bytes(&m).unwrap();
    }
    let mut n = 0u64;
    loop {
        let m = c.recv_bytes(None).unwrap();
        if m.is_empty() {
            break;
        }
        n += m.len() as u64;
    }
    c.send_bytes(&n.to_le_bytes()).unwrap();
}

fn main() {
    mp::freeze_support();
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map(String::as_str).unwrap_or("tcp");
    let rounds: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(20000);
    let bulk: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(512);
    let dir = tempfile::tempdir().unwrap();
    let addr: Address = match kind {
        "unix" => Address::Unix(dir.path().join("wire.sock")),
        _ => "127.0.0.1:0".parse().unwrap(),
    };
    let mut l = Listener::bind(&addr, None).unwrap();
    let p = Process::new(echo_peer, l.address().to_string());
    p.start().unwrap();
    let c = l.accept().unwrap();
    let msg = [7u8; 64];
    for _ in 0..1000 {
        c.send_bytes(&msg).unwrap();
        c.recv_bytes(None).unwrap();
    }
    let t = Instant::now();
    for _ in 0..rounds {
        c.send_bytes(&msg).unwrap();
        c.recv_bytes(None).unwrap();
    }
    let dt = t.elapsed().as_secs_f64();
    println!("{kind}_roundtrips {:.0} per_s", rounds as f64 / dt);
    c.send_bytes(b"").unwrap();
    let big = vec![1u8; 1 << 20];
    let t = Instant::now();
    for _ in 0..bulk {
        c.send_bytes(&big).unwrap();
    }
    c.send_bytes(b"").unwrap();
    let got = c.recv_bytes(None).unwrap();
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(u64::from_le_bytes(got.try_into().unwrap()), bulk << 20);
    println!("{kind}_bulk {:.3} GB_per_s", (bulk << 20) as f64 / dt / 1e9);
    p.join(None).unwrap();
}
