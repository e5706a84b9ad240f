//! The seed docs' Lock example: without the lock, output from the
//! processes could be all mixed up.
//!
//! `cargo run --example lock`
use mp::synchronize::Lock;
use mp::Process;

fn f((l, i): (Lock, u32)) {
    let _held = l.lock().unwrap(); // released when `_held` goes out of scope
    println!("hello world {i}");
}

fn main() {
    mp::freeze_support();
    let lock = Lock::new().unwrap();
    let ps: Vec<Process> = (0..10)
        .map(|num| Process::new(f, (lock.clone(), num)))
        .collect();
    for p in &ps {
        p.start().unwrap();
    }
    for p in &ps {
        p.join(None).unwrap();
    }
}
