//! Start methods, contexts and the bootstrap (CPython's `multiprocessing.context`).
//!
//! A child process is started with one of three methods, as in Python:
//!
//! | method | how | cost here | needs the bootstrap |
//! |---|---|---|---|
//! | [`StartMethod::Forkserver`] (default) | a small server process, started once by re-running this program, forks each child | lowest | yes |
//! | [`StartMethod::Spawn`] | re-runs this program (`/proc/self/exe`) for each child | highest | yes |
//! | [`StartMethod::Fork`] | `fork()` of the calling process | low | no |
//!
//! Forkserver is the default (Python 3.14 made the same choice on Linux): its
//! children are forked from a small single-threaded process, so they never
//! inherit a lock that some thread of your program held at the moment of the
//! fork, and starting one is cheaper than a fresh exec.
//!
//! # The bootstrap, and its trap
//!
//! Spawn and forkserver start a new copy of your program. That copy must turn
//! into the child *before* your own code runs, so the first line of `main` must
//! be [`freeze_support()`], or `main` must be wrapped in [`main`]:
//!
//! ```no_run
//! fn greet(name: String) {
//!     println!("hello {name}");
//! }
//!
//! fn main() {
//!     mp::freeze_support(); // a spawned child stops here and runs its target
//!     let p = mp::Process::new(greet, "bob".to_string());
//!     p.start().unwrap();
//!     p.join(None).unwrap();
//! }
//! ```
//!
//! The trap is Python's `if __name__ == "__main__"` trap: whatever runs
//! *before* `freeze_support()` (static initialisers, code above the call) runs
//! again in every spawned child. Put nothing above it. If the call is missing
//! altogether, the child runs your whole `main` again; `mp` notices (the child's
//! [`crate::Process::start`] refuses with [`Error::BootstrapMissing`], and the
//! parent's [`crate::Process::failure`] names the missing call), but your
//! program's own side effects may already have happened twice.
//!
//! # Targets
//!
//! A child runs a plain function `fn(A)` with an argument `A` that serde can
//! encode. The function crosses processes as its offset inside this
//! executable, which is the same in every process running it (fork, spawn and
//! forkserver all run the same binary), so no registration is needed.
//! Closures that capture variables are refused by the compiler: like
//! CPython's picklable targets, everything the child needs goes in `A`.
//!
//! Two checks stand before an offset becomes a function pointer. A spawned
//! or forkserver child first compares its parent's build identity with its
//! own (the ELF build-id of the executable); if `/proc/self/exe` turned out
//! to be another program, the child refuses with [`Error::BuildMismatch`]
//! (the parent's [`crate::Process::failure`] shows it) instead of calling
//! whatever sits at that offset. Then every call checks a fingerprint of the
//! function's type sent beside the offsets.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::process::Process;

/// How child processes are started. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// `fork()` the calling process. Fast, inherits all memory; unsafe to mix
    /// with threads that hold locks (see [`crate::Process`] caveats).
    Fork,
    /// Run this program again from the start; the child begins clean.
    Spawn,
    /// Ask a single-threaded server process to fork the child (the default).
    Forkserver,
}

impl StartMethod {
    /// Python's name: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StartMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(Error::UnknownStartMethod(other.to_string())),
        }
    }
}

static START_METHOD: Mutex<Option<StartMethod>> = Mutex::new(None);

/// The default start method on this platform.
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::Forkserver;

/// Python's `set_start_method(method, force=False)`: sets the global start
/// method. Setting it a second time is an error unless `force` is true.
pub fn set_start_method(method: StartMethod, force: bool) -> Result<()> {
    let mut m = START_METHOD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = *m {
        if !force && old != method {
            return Err(Error::ContextAlreadySet(old));
        }
    }
    *m = Some(method);
    Ok(())
}

/// Python's `get_start_method(allow_none)`: the global start method. When none
/// was set, `allow_none` returns `None`; otherwise the default is fixed and returned.
pub fn get_start_method(allow_none: bool) -> Option<StartMethod> {
    let mut m = START_METHOD.lock().unwrap_or_else(|e| e.into_inner());
    if m.is_none() && !allow_none {
        *m = Some(DEFAULT_START_METHOD);
    }
    *m
}

/// Python's `get_all_start_methods()`, default first.
pub fn get_all_start_methods() -> Vec<StartMethod> {
    vec![
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ]
}

/// Python's `get_context(method)`: an object with the same API as the
/// crate's top level, bound to one start method.
///
/// ```no_run
/// let ctx = mp::get_context(Some(mp::StartMethod::Spawn));
/// fn work(n: u32) { println!("{n}"); }
/// let p = ctx.process(work, 7);
/// p.start().unwrap();
/// p.join(None).unwrap();
/// ```
pub fn get_context(method: Option<StartMethod>) -> Context {
    Context { method }
}

/// A start-method context; see [`get_context`].
#[derive(Debug, Clone, Copy)]
pub struct Context {
    method: Option<StartMethod>,
}

impl Context {
    /// The start method processes of this context use (`None`: the global one at start time).
    pub fn start_method(&self) -> Option<StartMethod> {
        self.method
    }

    /// A new, not yet started [`Process`] using this context's start method.
    pub fn process<A>(&self, target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let p = Process::new(target, args);
        match self.method {
            Some(m) => p.with_start_method(m),
            None => p,
        }
    }
}

/// Python's `cpu_count()`: the number of CPUs in the system.
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Python 3.13's `process_cpu_count()`: the CPUs this process may run on
/// (its affinity mask and cgroup quota), the right default for a pool size.
pub fn process_cpu_count() -> usize {
    std::thread::available_parallelism().map_or_else(|_| cpu_count(), |n| n.get())
}

/// Turns this process into an `mp` child if it was started as one (spawn, or
/// the forkserver), and never returns in that case; otherwise does nothing.
///
/// Call it first thing in `main`. See [the bootstrap](self#the-bootstrap-and-its-trap).
pub fn freeze_support() {
    crate::child::bootstrap();
}

/// Runs `f` after the bootstrap: `fn main() { mp::main(|| { ... }) }` is the
/// same as calling [`freeze_support`] on the first line of `main`.
pub fn main<R>(f: impl FnOnce() -> R) -> R {
    freeze_support();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_method_names() {
        for m in get_all_start_methods() {
            assert_eq!(m.as_str().parse::<StartMethod>().unwrap(), m);
        }
        assert!(matches!(
            "fish".parse::<StartMethod>(),
            Err(Error::UnknownStartMethod(_))
        ));
    }
}
