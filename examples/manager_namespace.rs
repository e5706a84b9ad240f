//! The docs' Namespace example: attributes shared through a manager.
//!
//! ```text
//! $ cargo run --example manager_namespace
//! Namespace(x=10, y='hello')
//! ```
//!
//! (Python's `Global._z = 12.3` sets an attribute of the proxy object
//! itself, which a Rust proxy does not have.)
use mp::managers::SyncManager;

fn main() -> mp::Result<()> {
    mp::freeze_support();
    let manager = SyncManager::start()?;
    let global = manager.namespace()?;
    global.set("x", &10)?;
    global.set("y", "hello")?;
    println!("{}", global.base().repr()?);
    Ok(())
}
