//! The docs' "Using a remote manager" example: one process serves a queue
//! under the name `get_queue`, others put and get through it, from any host.
//! Each side is also interchangeable with the docs' Python code (the Python
//! client `QueueManager.register('get_queue'); m.connect();
//! m.get_queue().get()` works against this server, and these clients work
//! against the docs' Python server).
//!
//! ```text
//! $ export MP_AUTHKEY=abracadabra          # the key: never on the command line
//! $ cargo run --example remote_queue -- serve 127.0.0.1:50000 &
//! 127.0.0.1:50000
//! $ cargo run --example remote_queue -- put 127.0.0.1:50000 hello
//! $ cargo run --example remote_queue -- get 127.0.0.1:50000
//! hello
//! ```
//!
//! `mp serve-manager --address 127.0.0.1:50000 --register get_queue=queue`
//! is the same server, from the shell.
use std::collections::HashMap;

use mp::connection::{Address, Listener};
use mp::managers::server::{Kind, Server};
use mp::managers::{QueueProxy, SyncManager};

fn usage() -> ! {
    eprintln!(
        "usage: remote_queue serve|get ADDRESS | remote_queue put ADDRESS TEXT (key in MP_AUTHKEY)"
    );
    std::process::exit(2)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("remote_queue: {e}");
        std::process::exit(1);
    }
}

fn run() -> mp::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Ok(key) = std::env::var("MP_AUTHKEY") else {
        eprintln!("remote_queue: set MP_AUTHKEY to the shared key");
        std::process::exit(2)
    };
    let (Some(mode), Some(address)) = (args.first(), args.get(1)) else {
        usage()
    };
    let address: Address = address.parse()?;
    match (mode.as_str(), args.get(2)) {
        ("serve", None) => {
            let listener = Listener::bind(&address, Some(key.as_bytes()))?;
            let bound = listener.address().clone();
            println!("{bound}");
            let registered = HashMap::from([("get_queue".to_string(), (Kind::Queue, vec![]))]);
            Server::new(bound, registered).serve_forever(listener)
        }
        ("put", Some(text)) => {
            let m = SyncManager::connect(&address, Some(key.as_bytes()))?;
            let queue: QueueProxy<String> = m.get("get_queue")?;
            queue.put(text)
        }
        ("get", None) => {
            let m = SyncManager::connect(&address, Some(key.as_bytes()))?;
            let queue: QueueProxy<String> = m.get("get_queue")?;
            println!("{}", queue.get()?);
            Ok(())
        }
        _ => usage(),
    }
}
