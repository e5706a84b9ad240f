//! The library's error type.
//!
//! One enum for the whole crate; each variant carries what a user needs to fix
//! the problem (the pid, the length, the start method...).

use std::io;

/// Errors returned by `mp`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{op}: {source}")]
    Io {
        /// What `mp` was doing.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The peer closed its end of the connection: no more messages will come.
    #[error("end of file: the other end of the connection was closed")]
    Eof,
    /// The connection was closed by this side.
    #[error("the connection is closed")]
    Closed,
    /// The connection cannot be used in this direction (a one-way `Pipe`).
    #[error("the connection is {0}")]
    WrongDirection(&'static str),
    /// A received message is longer than the `maxlength` the caller allowed.
    /// The connection is closed, as in CPython: the rest of the frame cannot be skipped safely.
    #[error("bad message length: {len} bytes exceeds maxlength {max}")]
    TooLong {
        /// The announced length.
        len: u64,
        /// The caller's limit.
        max: usize,
    },
    /// A frame header announced a length that is not valid.
    #[error("bad message length: frame header announces {0}")]
    BadLength(i64),
    /// `recv_bytes_into` was given a buffer smaller than the message.
    /// The whole message is in `message`, so nothing is lost.
    #[error("buffer too short: message is {} bytes, buffer holds {cap}", message.len())]
    BufferTooShort {
        /// The whole message that did not fit.
        message: Vec<u8>,
        /// The size of the buffer that was given.
        cap: usize,
    },
    /// An object could not be encoded for sending.
    #[error("could not encode the object: {0}")]
    Encode(String),
    /// A received message could not be decoded as the requested type.
    #[error("could not decode the message: {0}")]
    Decode(String),
    /// A `Process` method was called in a state where it makes no sense.
    #[error("{0}")]
    ProcessState(String),
    /// A child process could not be started.
    #[error("could not start process {name} with start method {method}: {reason}")]
    Start {
        /// The process name.
        name: String,
        /// The start method in use.
        method: crate::context::StartMethod,
        /// Why.
        reason: String,
    },
    /// The start method was already set (use `force`).
    #[error("context has already been set to {0}")]
    ContextAlreadySet(crate::context::StartMethod),
    /// A string is not one of `fork`, `spawn`, `forkserver`.
    #[error("unknown start method {0:?}: expected fork, spawn or forkserver")]
    UnknownStartMethod(String),
    /// This process was started by `mp` with spawn or forkserver, but `main`
    /// did not call [`crate::freeze_support`] (or [`crate::main`]) first.
    #[error(
        "this process was started by mp ({0}) but its main() did not call \
         mp::freeze_support() (or mp::main) first; add it as the first line of main()"
    )]
    BootstrapMissing(&'static str),
    /// A pool task failed: it panicked, its worker died, or it ran past its time limit.
    #[error("task failed: {0}")]
    Task(crate::pool::TaskError),
    /// A wait ran past its timeout.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The process that held a [`crate::synchronize::Lock`] (or `RLock`) died
    /// without releasing it. The lock now belongs to the caller, who should
    /// check what it protects and then release it.
    #[error(
        "the process {pid} that held the lock died; the lock is now yours: \
         check the data it protects, then release it"
    )]
    OwnerDied {
        /// The pid of the process that died holding the lock.
        pid: i32,
    },
    /// A `Barrier` was broken (aborted, reset, or a wait timed out) while or
    /// before waiting on it.
    #[error("the barrier is broken")]
    BrokenBarrier,
    /// A lock or bounded semaphore was released more often than acquired
    /// (Python's `ValueError`).
    #[error("{0} released too many times")]
    OverReleased(&'static str),
    /// A queue had no item to give in time (Python's `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// A queue had no room for the item in time (Python's `queue.Full`):
    /// it holds `maxsize` items, or its shared buffer is full.
    #[error("the queue is full")]
    Full,
    /// This handle of the queue was closed with `close()`.
    #[error("the queue is closed")]
    QueueClosed,
    /// `JoinableQueue::task_done` was called more often than items were put.
    #[error("task_done() called too many times")]
    TaskDoneTooMany,
    /// Shared state was found inconsistent (a bug, or memory written by
    /// something other than `mp`).
    #[error("corrupt shared state: {0}")]
    Corrupt(String),
    /// The connection handshake failed (Python's `AuthenticationError`):
    /// a wrong key on either side, or a peer that does not speak it.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// A listener or client address that cannot be used.
    #[error("bad address {0}")]
    BadAddress(String),
    /// A listener's address is taken (a Unix socket path: by a live
    /// listener, or by a file that is not a socket).
    #[error("address {address} is already in use: {reason}")]
    AddressInUse {
        /// The address.
        address: String,
        /// What is there.
        reason: String,
    },
    /// A manager's object raised `KeyError(key)` (a missing dict key):
    /// the key's Python `repr`.
    #[error("KeyError: {0}")]
    KeyError(String),
    /// A manager's object raised another Python exception (`IndexError`,
    /// `ValueError`, `TypeError`, `AttributeError`...), as CPython's proxy
    /// would re-raise it: its name (`module.Name`, without `builtins.`) and
    /// `str(exception)`.
    #[error("{exception}: {message}")]
    Python {
        /// `IndexError`, or `module.Name` outside `builtins`.
        exception: String,
        /// What Python's `str()` of the exception says.
        message: String,
    },
    /// The manager could not run the call (CPython's `RemoteError`: an
    /// unknown object or method, a refused type): the server's traceback text.
    #[error("the manager reported an error:\n{0}")]
    Remote(String),
    /// A child was handed a task function by a parent running another build
    /// of the program: the function's offset would mean nothing here, so
    /// the child refused to call it. Spawn and the forkserver re-run
    /// `/proc/self/exe`; it was not the parent's executable (a loader or
    /// emulator started the program, or the program was replaced).
    #[error(
        "task function from a different build of this program: parent build {parent}, \
         child build {child}; spawn and the forkserver re-run /proc/self/exe, which must \
         be the parent's own executable (was the program started through a loader or \
         emulator?)"
    )]
    BuildMismatch {
        /// The parent's build identity (ELF build-id, or a digest of its file).
        parent: String,
        /// This process's own.
        child: String,
    },
    /// The exit status of a child could not be learned.
    #[error("exit status of process {pid} is unknown: {reason}")]
    StatusLost {
        /// The child's pid.
        pid: i32,
        /// Why.
        reason: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, source: io::Error) -> Self {
        Error::Io { op, source }
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Io {
            op: "system call",
            source: io::Error::from(e),
        }
    }
}
