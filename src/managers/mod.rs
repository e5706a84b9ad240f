//! Managers (Python's `multiprocessing.managers`): a manager server that
//! CPython clients cannot tell from CPython's own, and Rust proxies.
//!
//! Built so far: [`pyobj`], Python's rules for the values a manager holds
//! (equality, hashing, `repr`, an insertion-ordered dict and a set with
//! O(1) operations); [`server`], the server behind `mp serve-manager`;
//! [`request`], the decoding of one manager request; [`SyncManager`] and
//! the typed proxies, the client side (for mp's server and CPython's).

mod array;
mod client;
mod objects;
mod proxies;
mod proxyref;
pub mod pyobj;
pub mod request;
pub mod server;

pub use client::{BaseProxy, Proxy, SyncManager, Token, TypedProxy};
pub use proxies::{
    ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, IteratorProxy, ListProxy,
    LockProxy, NamespaceProxy, ProxyGuard, QueueProxy, ValueProxy,
};
