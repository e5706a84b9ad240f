//! The command-line interface: parse, call the library, report.
//! The library never knows the CLI exists.

mod jobs;
mod map;

use clap::{Parser, Subcommand};

/// mp: Python's multiprocessing, as a library and a command-line tool.
#[derive(Debug, Parser)]
#[command(
    name = "mp",
    version,
    about,
    after_help = "Exit codes:\n  0    success\n  1    mp map: at least one task failed (the count is printed on stderr)\n  2    usage error (unknown subcommand or option, bad argument, unreadable input)\n  130  interrupted (SIGINT); 143 terminated (SIGTERM); 129 hung up (SIGHUP)"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command for every input record, in parallel (see mp map --help).
    Map(Box<map::MapArgs>),
    /// Print what mp knows about this machine: CPU counts and start methods.
    Info,
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn run() -> i32 {
    run_from(std::env::args_os())
}

/// Runs the CLI with `args` (testable in-process).
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Map(args) => match map::run(*args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("mp map: {e:#}");
                2
            }
        },
        Command::Info => {
            println!("cpu_count: {}", mp::cpu_count());
            println!("process_cpu_count: {}", mp::process_cpu_count());
            let methods: Vec<&str> = mp::get_all_start_methods()
                .iter()
                .map(|m| m.as_str())
                .collect();
            println!("start_methods: {}", methods.join(" "));
            println!(
                "default_start_method: {}",
                mp::context::DEFAULT_START_METHOD
            );
            0
        }
    }
}
