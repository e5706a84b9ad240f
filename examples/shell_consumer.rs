//! The Rust consumer of the README's "Sharing state from the shell"
//! example: takes file names from the queue `jobs` (filled by a shell
//! script with `mp queue put jobs FILE`) until it gets `STOP`, counts each
//! file's lines, adds them to the file `total` under the lock `tally` (the
//! one `mp lock tally -- ...` takes), and counts its files in the dict
//! `done` (as `mp dict incr done rust` would).
//!
//! ```text
//! $ export MP_ADDRESS=127.0.0.1:50000 MP_AUTHKEY_FILE=~/.mp-key
//! $ cargo run --example shell_consumer -- total
//! ```
use std::io::BufRead;

use mp::managers::{LockProxy, Proxy, QueueProxy, SyncManager};

fn main() {
    if let Err(e) = run() {
        eprintln!("shell_consumer: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let total = std::env::args().nth(1).unwrap_or_else(|| "total".into());
    let address = std::env::var("MP_ADDRESS")?.parse()?;
    let key = match std::env::var_os("MP_AUTHKEY_FILE") {
        Some(path) => {
            let mut k = std::fs::read(path)?;
            if k.last() == Some(&b'\n') {
                k.pop();
            }
            k
        }
        None => std::env::var("MP_AUTHKEY")?.into_bytes(),
    };
    let m = SyncManager::connect(&address, Some(&key))?;
    // The names the shell uses, made here if this consumer comes first.
    let jobs: QueueProxy<String> = m.named("jobs", "Queue", vec![])?;
    let tally: LockProxy = m.named("tally", "Lock", vec![])?;
    let done: Proxy = m.named("done", "dict", vec![])?;
    loop {
        let file = jobs.get()?;
        if file == "STOP" {
            return Ok(());
        }
        let lines = std::io::BufReader::new(std::fs::File::open(&file)?)
            .lines()
            .count() as u64;
        {
            let _held = tally.lock()?;
            let before: u64 = std::fs::read_to_string(&total)?.trim().parse()?;
            std::fs::write(&total, format!("{}\n", before + lines))?;
        }
        done.call::<_, i64>("incr", &("rust", 1))?;
    }
}
