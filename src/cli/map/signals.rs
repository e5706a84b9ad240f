//! How a run of `mp map` ends early, in one place.
//!
//! | what happens                  | what mp does                                  | exit  |
//! |-------------------------------|-----------------------------------------------|-------|
//! | SIGINT, SIGTERM, SIGHUP       | stop the pool: every running task's process   | 128+n |
//! |                               | group gets TERM, --grace, KILL; write out     |       |
//! |                               | what had finished; say it was interrupted     |       |
//! | stdout closed (EPIPE)         | the same, quietly                             | 141   |
//! | any other write or read error | the same, with the error                      | 1     |
//! | a second signal meanwhile     | leave at once (workers still end their tasks) | 128+n |
//!
//! A signal is noticed at every moment: input is read by the pool's feeder
//! thread, so the main thread is never stuck in a read, and it waits for
//! results in short slices, checking [`stopping`] between them. The signal
//! thread does the stopping itself and ends the process even when the main
//! thread cannot finish (a blocked stdout).
//!
//! On every way out, the run's spill directory (task output past 1 MiB) is
//! removed with whatever is left in it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

static STOPPING: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The main thread has written out what had finished.
static DRAINED: AtomicBool = AtomicBool::new(false);
static SPILL_DIR: Mutex<Option<tempfile::TempDir>> = Mutex::new(None);
/// The pool to stop on a signal, once there is one.
static POOL: Mutex<Option<Arc<mp::Pool>>> = Mutex::new(None);

/// How long the signal thread waits for the main thread to write out what
/// had finished, once the tasks are stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// The exit status for a closed stdout: what a shell reports for a program
/// killed by SIGPIPE.
pub const BROKEN_PIPE_EXIT: i32 = 128 + libc::SIGPIPE;

/// Set in `mp worker`, which shares this signal handling: its messages
/// name it.
pub static IN_WORKER: AtomicBool = AtomicBool::new(false);

fn who() -> &'static str {
    if IN_WORKER.load(Ordering::Relaxed) {
        "mp worker"
    } else {
        "mp map"
    }
}

/// Whether a signal asked the run to stop.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// The run's spill directory: created here, removed on every exit path.
pub fn spill_dir() -> Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("mp-spill-")
        .tempdir()
        .context("cannot create a temporary directory for task output")?;
    let path = dir.path().to_path_buf();
    *SPILL_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir);
    Ok(path)
}

/// Removes the spill directory (and anything a killed worker left in it).
/// Call [`crate::cli::command::end_orphans`] too on the way out.
pub fn clean_up() {
    let dir = SPILL_DIR.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(dir) = dir {
        let path = dir.path().to_path_buf();
        if dir.close().is_err() {
            // A worker may have been writing a file into it just then.
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Cleans up and exits with `code`, flushing what was written.
pub fn exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    clean_up();
    crate::cli::command::end_orphans();
    std::process::exit(code)
}

/// Exits from the signal thread: no flush, since the main thread may hold
/// stdout's lock, blocked writing to a pipe nobody reads (what it had
/// written out is flushed already when it said it had drained).
fn exit_on_signal(code: i32) -> ! {
    clean_up();
    crate::cli::command::end_orphans();
    std::process::exit(code)
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map_or_else(|_| format!("signal {sig}"), |s| s.to_string())
}

/// Starts the thread that stops the run on SIGINT, SIGTERM or SIGHUP, before
/// anything exists that would need cleaning up: it stops the pool (once
/// [`set_pool`] gave it one: every running task's process group is ended),
/// lets the main thread write out what had finished, and exits 128+signal.
/// A second signal meanwhile exits at once (the workers still end their
/// tasks' groups on their own).
pub fn install() -> Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("mp-map-signals".into())
        .spawn(move || {
            let Some(sig) = signals.forever().next() else {
                return;
            };
            STOP_SIGNAL.store(sig, Ordering::SeqCst);
            STOPPING.store(true, Ordering::SeqCst);
            let pool = POOL.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let stopped = Arc::new(AtomicBool::new(pool.is_none()));
            if let Some(pool) = pool {
                let stopped = stopped.clone();
                // Workers end their tasks' process groups (TERM, grace, KILL), then exit.
                let _ = std::thread::Builder::new()
                    .name("mp-map-stop".into())
                    .spawn(move || {
                        pool.terminate();
                        stopped.store(true, Ordering::SeqCst);
                    });
            }
            let mut drain_deadline: Option<Instant> = None;
            loop {
                if let Some(again) = signals.pending().next() {
                    eprintln!(
                        "{}: interrupted by {} again: leaving now",
                        who(),
                        signal_name(again)
                    );
                    exit_on_signal(128 + sig);
                }
                if stopped.load(Ordering::SeqCst) {
                    let deadline =
                        *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
                    if DRAINED.load(Ordering::SeqCst) || Instant::now() >= deadline {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            eprintln!("{}: interrupted by {}", who(), signal_name(sig));
            exit_on_signal(128 + sig);
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// Gives the signal thread the pool to stop. A signal that came while the
/// pool was being built stops it now.
pub fn set_pool(pool: &Arc<mp::Pool>) {
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = Some(pool.clone());
    if stopping() {
        pool.terminate();
    }
}

/// Called by the main thread once it has written out what had finished
/// after a signal: the signal thread ends the process.
pub fn drained() -> ! {
    DRAINED.store(true, Ordering::SeqCst);
    loop {
        std::thread::park();
    }
}

/// Whether `e` is a write to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
