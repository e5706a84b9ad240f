//! The docs' nested-proxy example: a list stored inside another list is a
//! reference to it, not a copy.
//!
//! ```text
//! $ cargo run --example nested_proxies
//! [<ListProxy object, typeid 'list' at 0x7f00000000a0>] []
//! ['hello'] ['hello']
//! ```
use mp::managers::{ListProxy, SyncManager};

fn main() -> mp::Result<()> {
    mp::freeze_support();
    let manager = SyncManager::start()?;
    let a: ListProxy<ListProxy<String>> = manager.list()?;
    let b: ListProxy<String> = manager.list()?;
    a.append(&b)?; // the referent of a now contains the referent of b
    println!("{} {}", a.base().repr()?, b.base().repr()?);
    b.append(&"hello".to_string())?;
    println!("{} {}", a.get(0)?.base().repr()?, b.base().repr()?);
    Ok(())
}
