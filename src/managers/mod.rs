//! Managers (Python's `multiprocessing.managers`): a manager server that
//! CPython clients cannot tell from CPython's own, and Rust proxies.
//!
//! Built so far: [`pyobj`], Python's rules for the values a manager holds
//! (equality, hashing, `repr`, and an insertion-ordered dict with O(1)
//! operations). The server, the proxies and `mp serve-manager` build on it.

mod client;
mod proxies;
pub mod pyobj;
pub mod server;

pub use client::{BaseProxy, Proxy, SyncManager, Token, TypedProxy};
pub use proxies::{
    ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, IteratorProxy, ListProxy,
    LockProxy, NamespaceProxy, ProxyGuard, QueueProxy, ValueProxy,
};
