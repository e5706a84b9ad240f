//! Managers (Python's `multiprocessing.managers`): a manager server that
//! CPython clients cannot tell from CPython's own, and Rust proxies.
//!
//! Built so far: [`pyobj`], Python's rules for the values a manager holds
//! (equality, hashing, `repr`, an insertion-ordered dict and a set with
//! O(1) operations); [`server`], the server behind `mp serve-manager`;
//! [`request`], the decoding of one manager request.

mod array;
mod objects;
mod proxyref;
pub mod pyobj;
pub mod request;
pub mod server;
