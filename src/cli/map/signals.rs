//! How a run of `mp map` ends early, in one place.
//!
//! | what happens                  | what mp does                                  | exit  |
//! |-------------------------------|-----------------------------------------------|-------|
//! | SIGINT, SIGTERM, SIGHUP       | stop the pool: every running task's process   | 128+n |
//! |                               | group gets TERM, --grace, KILL; write out     |       |
//! |                               | what had finished; say it was interrupted     |       |
//! | stdout closed (EPIPE)         | the same, quietly                             | 141   |
//! | any other write or read error | the same, with the error                      | 1     |
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

/// How long the signal thread waits for the main thread to write out what
/// had finished, once the tasks are stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// The exit status for a closed stdout: what a shell reports for a program
/// killed by SIGPIPE.
pub const BROKEN_PIPE_EXIT: i32 = 128 + libc::SIGPIPE;

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
/// Call [`mp::command::end_orphans`] too on the way out.
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
    mp::command::end_orphans();
    std::process::exit(code)
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map_or_else(|_| format!("signal {sig}"), |s| s.to_string())
}

/// Starts the thread that stops the run on SIGINT, SIGTERM or SIGHUP: it
/// stops the pool (every running task's process group is ended), lets the
/// main thread write out what had finished, and exits 128+signal.
pub fn install(pool: &Arc<mp::Pool>) -> Result<()> {
    let pool = pool.clone();
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("mp-map-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                STOP_SIGNAL.store(sig, Ordering::SeqCst);
                STOPPING.store(true, Ordering::SeqCst);
                // Workers end their tasks' process groups (TERM, grace, KILL), then exit.
                pool.terminate();
                let deadline = Instant::now() + DRAIN_LIMIT;
                while !DRAINED.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                eprintln!("mp map: interrupted by {}", signal_name(sig));
                exit(128 + sig);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
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
