//! The docs' customized-manager example, client side: a Python manager
//! registers `Maths` (a class with `add` and `mul`), and Rust calls it
//! through a proxy, methods by name. (mp's own server cannot run Python
//! classes; registered names there are the built-in types.)
//!
//! The Python server (the docs' `MathsClass` and `MyManager`):
//! ```python
//! import os
//! from multiprocessing.managers import BaseManager
//! class MathsClass:
//!     def add(self, x, y): return x + y
//!     def mul(self, x, y): return x * y
//! class MyManager(BaseManager): pass
//! MyManager.register('Maths', MathsClass)
//! m = MyManager(('127.0.0.1', 50000), authkey=os.environb[b'MP_AUTHKEY'])
//! m.get_server().serve_forever()
//! ```
//! ```text
//! $ MP_AUTHKEY=abracadabra cargo run --example manager_maths -- 127.0.0.1:50000
//! 7
//! 56
//! ```
use mp::managers::{Proxy, SyncManager};

fn main() {
    if let Err(e) = run() {
        eprintln!("manager_maths: {e}");
        std::process::exit(1);
    }
}

fn run() -> mp::Result<()> {
    let Some(address) = std::env::args().nth(1) else {
        eprintln!("usage: manager_maths ADDRESS (key in MP_AUTHKEY)");
        std::process::exit(2)
    };
    let key = std::env::var("MP_AUTHKEY").unwrap_or_default();
    let manager = SyncManager::connect(&address.parse()?, Some(key.as_bytes()))?;
    let maths: Proxy = manager.get("Maths")?;
    println!("{}", maths.call::<_, i64>("add", &(4, 3))?);
    println!("{}", maths.call::<_, i64>("mul", &(7, 8))?);
    Ok(())
}
