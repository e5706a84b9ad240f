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
    Encode(CodecError),
    /// A received message could not be decoded as the requested type.
    #[error("could not decode the message: {0}")]
    Decode(CodecError),
    /// A method was called in a state where it makes no sense (Python's
    /// `ValueError`, `AssertionError` or `RuntimeError` there): which.
    #[error("{0}")]
    Misuse(Misuse),
    /// An index past the end (Python's `IndexError`).
    #[error("index {index} out of range for a length of {len}")]
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The length.
        len: usize,
    },
    /// A number of values that does not fit what takes them (Python's
    /// `ValueError` on `a[:] = values`).
    #[error("{got} values for a length of {expected}")]
    LengthMismatch {
        /// The length that takes them.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// An argument out of its domain (Python's `ValueError`): what is wrong.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A peer process broke the protocol between `mp`'s own processes
    /// (a forkserver, a manager server being started): what it did.
    #[error("protocol error: {0}")]
    Protocol(String),
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

/// A method called in a state where it makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misuse {
    /// `start()` on a process already started.
    AlreadyStarted,
    /// A method that needs a started process, before `start()`.
    NotStarted,
    /// A method of a `Process` after its `close()`.
    ProcessClosed,
    /// `close()` while the process runs.
    StillRunning,
    /// A setting (`daemon`) changed after `start()`.
    ConfigAfterStart,
    /// `join()` from a process that is not the parent.
    NotAChild,
    /// A daemonic process tried to start a child.
    DaemonChild,
    /// The pool was closed: it takes no more tasks.
    PoolClosed,
    /// `Pool::join()` before `close()` or `terminate()`.
    PoolRunning,
    /// `successful()` on a result that is not ready.
    ResultNotReady,
    /// A result taken a second time.
    ResultTaken,
    /// An `RLock` released by a thread that does not hold it.
    NotOwner,
}

impl std::fmt::Display for Misuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Misuse::AlreadyStarted => "cannot start a process twice",
            Misuse::NotStarted => "process has not been started",
            Misuse::ProcessClosed => "process object is closed",
            Misuse::StillRunning => {
                "cannot close a process while it is still running; join() or terminate() it first"
            }
            Misuse::ConfigAfterStart => "cannot set daemon flag of a started process",
            Misuse::NotAChild => "can only join a child process",
            Misuse::DaemonChild => "daemonic processes are not allowed to have children",
            Misuse::PoolClosed => "the pool is closed",
            Misuse::PoolRunning => "join() needs close() or terminate() first",
            Misuse::ResultNotReady => "the result is not ready",
            Misuse::ResultTaken => "the result was already taken",
            Misuse::NotOwner => "cannot release an RLock this thread does not hold",
        })
    }
}

/// Why an object could not be encoded or a message decoded: the text, and
/// the codec's own error where there is one ([`get_ref`](Self::get_ref):
/// a [`crate::pickle::PickleError`], a postcard error...). As with
/// `io::Error`, the text already says what the codec's error says, so
/// `source()` skips it and goes on to its own source.
#[derive(Debug)]
pub struct CodecError {
    message: String,
    inner: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CodecError {
    /// The codec's error `e`, with its own text.
    pub(crate) fn from_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> CodecError {
        CodecError {
            message: e.to_string(),
            inner: Some(Box::new(e)),
        }
    }

    /// The codec's error `e`, told as `message`.
    pub(crate) fn explained<E: std::error::Error + Send + Sync + 'static>(
        message: String,
        e: E,
    ) -> CodecError {
        CodecError {
            message,
            inner: Some(Box::new(e)),
        }
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The codec's own error, if there was one (downcast it with
    /// `downcast_ref`).
    pub fn get_ref(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.inner.as_deref()
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.as_ref().and_then(|e| e.source())
    }
}

impl From<String> for CodecError {
    fn from(message: String) -> CodecError {
        CodecError {
            message,
            inner: None,
        }
    }
}

impl From<&str> for CodecError {
    fn from(message: &str) -> CodecError {
        message.to_string().into()
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, source: io::Error) -> Self {
        Error::Io { op, source }
    }

    /// [`Error::Decode`] with a message of `mp`'s own.
    pub(crate) fn decode(message: impl Into<CodecError>) -> Self {
        Error::Decode(message.into())
    }

    /// [`Error::Encode`] with a message of `mp`'s own.
    pub(crate) fn encode(message: impl Into<CodecError>) -> Self {
        Error::Encode(message.into())
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
