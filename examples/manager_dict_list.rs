//! The docs' Manager example: a dict and a list held by a manager process,
//! changed by a child process, printed by the parent.
//!
//! ```text
//! $ cargo run --example manager_dict_list
//! {1: '1', '2': 2, 0.25: None}
//! [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
//! ```
//!
//! Python's dict takes keys and values of any type; in Rust an untagged
//! enum says which ones this program uses.
use mp::managers::{DictProxy, ListProxy, SyncManager};
use mp::Process;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
#[serde(untagged)]
enum Key {
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(untagged)]
enum Val {
    Int(i64),
    Str(String),
}

fn f((d, l): (DictProxy<Key, Option<Val>>, ListProxy<i64>)) {
    d.set(&Key::Int(1), &Some(Val::Str("1".into()))).unwrap();
    d.set(&Key::Str("2".into()), &Some(Val::Int(2))).unwrap();
    d.set(&Key::Float(0.25), &None).unwrap();
    l.reverse().unwrap();
}

fn main() -> mp::Result<()> {
    mp::freeze_support();
    let manager = SyncManager::start()?;
    let d: DictProxy<Key, Option<Val>> = manager.dict()?;
    let l = manager.list_from(&(0..10).collect::<Vec<i64>>())?;

    // Python hands the proxies themselves to the child; a Rust value moves,
    // so the child gets a second reference to the same objects.
    let p = Process::new(f, (d.try_clone()?, l.try_clone()?));
    p.start()?;
    p.join(None)?;

    // `print(d)` in Python: the manager's repr of the object.
    println!("{}", d.base().repr()?);
    println!("{}", l.base().repr()?);
    Ok(())
}
