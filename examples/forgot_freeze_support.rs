//! What happens when `main` does not call `mp::freeze_support()` first.
//!
//! Spawn and forkserver run this program again; without the bootstrap the
//! copy runs `main` from the top instead of the target. `mp` notices: the
//! copy's own `Process::start` refuses with `Error::BootstrapMissing`, and
//! the parent learns why its child failed. Run:
//! `cargo run --example forgot_freeze_support [spawn|forkserver]`

use mp::{Process, StartMethod};

fn f(_: ()) {
    println!("the target ran (it should not have)");
}

fn main() {
    // Missing on purpose: mp::freeze_support();
    let method: StartMethod = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "spawn".into())
        .parse()
        .unwrap_or(StartMethod::Spawn);
    let p = Process::new(f, ()).with_start_method(method);
    if let Err(e) = p.start() {
        eprintln!("start failed: {e}");
        std::process::exit(1);
    }
    let code = p.join(None).expect("join");
    eprintln!("child exit code: {code:?}");
    eprintln!("child failure: {}", p.failure().unwrap_or_default());
}
