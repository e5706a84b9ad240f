//! # mp — Python's `multiprocessing`, in Rust
//!
//! `mp` follows CPython's `multiprocessing` concept for concept, with names in
//! Rust style, so a Python programmer finds every part where they expect it:
//!
//! | Python | `mp` |
//! |---|---|
//! | `multiprocessing.Process(target=f, args=(x,))` | [`Process::new(f, x)`](Process::new) |
//! | `p.start()`, `p.join(timeout)`, `p.is_alive()` | [`Process::start`], [`Process::join`], [`Process::is_alive`] |
//! | `p.terminate()`, `p.kill()`, `p.close()` | [`Process::terminate`], [`Process::kill`], [`Process::close`] |
//! | `p.pid`, `p.name`, `p.daemon`, `p.exitcode`, `p.sentinel` | [`Process::pid`], [`Process::name`], [`Process::daemon`], [`Process::exitcode`], [`Process::sentinel`] |
//! | `current_process()`, `parent_process()`, `active_children()` | [`current_process`], [`parent_process`], [`active_children`] |
//! | `cpu_count()` | [`cpu_count`] (and [`process_cpu_count`]) |
//! | `set_start_method`, `get_start_method`, `get_context` | [`set_start_method`], [`get_start_method`], [`get_context`] |
//! | `freeze_support()` | [`freeze_support`] (or wrap `main` in [`main`]) |
//! | `Pipe(duplex=True)` | [`pipe(true)`](pipe) |
//! | `Connection.send/recv/send_bytes/recv_bytes/recv_bytes_into/poll/close` | [`Connection`] methods of the same names |
//! | `multiprocessing.connection.wait` | [`wait`] |
//! | `multiprocessing.reduction.DupFd` | [`reduction::Fd`] |
//! | `Pool`, `map`, `imap`, `apply_async`... | [`Pool`] |
//! | `Lock`, `RLock`, `Semaphore`, `Condition`, `Event`, `Barrier` | [`synchronize`] |
//! | `Value`, `Array`, `RawValue`, `RawArray` | [`sharedctypes`] |
//! | `Queue`, `SimpleQueue`, `JoinableQueue` | [`queues`] |
//! | `shared_memory.SharedMemory` | [`shared_memory::SharedMemory`] |
//! | `connection.Listener`, `connection.Client` | [`connection::Listener`], [`connection::client`] |
//! | `pickle.loads` / `dumps` (the wire subset, never executing anything) | [`pickle`] |
//! | `subprocess.Popen(..., process_group=0)` plus killing the group | [`process_group::ProcessGroup`] (new group, death signal, TERM/grace/KILL teardown) |
//!
//! ```no_run
//! fn f(conn: mp::Connection) {
//!     conn.send(&(42, None::<i32>, "hello".to_string())).unwrap();
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let (parent_conn, child_conn) = mp::pipe(true).unwrap();
//!     let p = mp::Process::new(f, child_conn);
//!     p.start().unwrap();
//!     let got: (i32, Option<i32>, String) = parent_conn.recv().unwrap();
//!     println!("{got:?}");
//!     p.join(None).unwrap();
//! }
//! ```
//!
//! Start methods and the `freeze_support()` bootstrap are explained in
//! [`context`]; the caveats of processes (reaping, orphans, fork and threads)
//! in [`process`].
#![deny(missing_docs)]

mod build_id;
mod child;
pub mod connection;
pub mod context;
mod deadline;
pub mod error;
pub mod managers;
pub mod pickle;
pub mod pool;
mod popen;
pub mod process;
pub mod process_group;
pub mod queues;
pub mod reduction;
pub mod shared_memory;
pub mod sharedctypes;
pub mod synchronize;
mod target;

pub use connection::{pipe, wait, Connection, Waitable};
pub use context::{
    cpu_count, freeze_support, get_all_start_methods, get_context, get_start_method, main,
    process_cpu_count, set_start_method, Context, StartMethod,
};
pub use error::{CodecError, Error, Misuse, Result};
pub use pool::{AsyncResult, Pool, PoolBuilder, TaskError};
pub use popen::forkserver::prefork as prefork_forkserver;
pub use process::{
    active_children, current_process, parent_process, CurrentProcess, ParentProcess, Process,
};

/// Internals exposed for `mp`'s own tests and diagnostics; not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::deadline::{after, deadline, left};
    pub use crate::popen::forkserver::server_pid;
    pub use crate::popen::spawn::set_executable as set_spawn_executable;
    pub use crate::process_group::pidfd_open;
}
