//! `-v` / `-vv` and `MP_LOG`: what mp decided and why, on stderr, through
//! the `log` facade the library logs through too (a Rust program using the
//! library sees the same records in its own logger).

use std::io::Write;

use clap::Args;

/// The logging options every subcommand takes.
#[derive(Debug, Args, Clone, Copy)]
pub struct Verbosity {
    /// Log what mp decides and why, on stderr: -v workers started and
    /// ended (recycled, killed), retries, time limits, process groups
    /// signalled; -vv also connections and handshakes. MP_LOG=FILTER
    /// (env_logger's syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Starts logging when `MP_LOG` is set or `verbose` > 0 (otherwise nothing
/// is logged). `-v` is passed on to workers as `MP_LOG`, so a worker
/// started by spawn or the forkserver logs as this process does.
pub fn init(verbose: u8) {
    let from_env = std::env::var("MP_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let filter = match (from_env, verbose) {
        (Some(f), _) => f,
        (None, 0) => return,
        (None, 1) => "info".to_string(),
        (None, 2) => "debug".to_string(),
        (None, _) => "trace".to_string(),
    };
    if std::env::var_os("MP_LOG").is_none() {
        // Called while this process is single-threaded (before any pool).
        std::env::set_var("MP_LOG", &filter);
    }
    let _ = env_logger::Builder::new()
        .parse_filters(&filter)
        .target(env_logger::Target::Stderr)
        .format(|buf, r| {
            writeln!(
                buf,
                "mp[{}]: {} {}: {}",
                std::process::id(),
                r.level(),
                r.target(),
                r.args()
            )
        })
        .try_init();
}
