//! The command-line interface: parse, call the library, report.
//! The library never knows the CLI exists.

mod client;
pub mod command;
mod docs;
mod jobs;
mod listen;
pub mod logging;
mod map;
mod serve_manager;
mod state;
mod wire;

use clap::{Parser, Subcommand};

/// mp: Python's multiprocessing, as a library and a command-line tool.
#[derive(Debug, Parser)]
#[command(
    name = "mp",
    version,
    about,
    after_help = "Exit codes:\n  0    success\n  1    mp map: at least one task failed (the count is printed on stderr), or\n       reading input or writing output failed;\n       mp listen --once / mp client: the connection, handshake or a message failed\n  2    usage error (unknown subcommand or option, bad argument, an --arg-file that\n       cannot be opened, bad or refused address, unreadable key file)\n  3/4  mp queue/dict/list/value/event/barrier: the manager cannot be reached / refused\n       (1: nothing there; see mp queue --help)\n  124-127  mp lock/semaphore (else the command's status): timed out / mp failed /\n       command cannot run / not found\n  141  mp map: stdout was closed by its reader (as in `| head`); nothing is printed\n  130  interrupted (SIGINT); 143 terminated (SIGTERM); 129 hung up (SIGHUP)"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    verbosity: logging::Verbosity,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command for every input record, in parallel (see mp map --help).
    Map(Box<map::MapArgs>),
    /// Print what mp knows about this machine: CPU counts and start methods.
    Info,
    /// Accept framed messages from CPython's Client (or mp client) and print
    /// them, or bridge them to a command (see mp listen --help).
    Listen(listen::ListenArgs),
    /// Send stdin lines as messages to a Listener (CPython's or mp listen)
    /// and print the replies (see mp client --help).
    Client(client::ClientArgs),
    /// Serve shared objects to CPython's SyncManager/BaseManager clients (see
    /// mp serve-manager --help).
    ServeManager(serve_manager::ServeArgs),
    /// Take records from a coordinator (`mp map --listen`) and run them
    /// here (see mp worker --help).
    Worker(Box<map::WorkerArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// The shared-state verbs (queue, dict, list, value, lock, semaphore,
    /// event, barrier).
    #[command(flatten)]
    State(state::Verb),
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
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // A shared-state verb is parsed with its own definitions only: building
    // the whole command tree (mp map's above all) was half the instructions
    // of an `mp dict get`.
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| state::VERBS.contains(&a))
    {
        return match state::Cli::try_parse_from(&args) {
            Ok(cli) => {
                logging::init(cli.verbosity.verbose);
                state::run(cli.verb)
            }
            Err(e) => {
                let code = if e.use_stderr() { 2 } else { 0 };
                let _ = e.print();
                code
            }
        };
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    logging::init(cli.verbosity.verbose);
    match cli.command {
        Command::Map(args) => match map::run(*args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("mp map: {e:#}");
                if e.downcast_ref::<wire::Usage>().is_some() {
                    2
                } else {
                    1
                }
            }
        },
        Command::Listen(args) => finish("mp listen", listen::listen(args)),
        Command::Worker(args) => {
            let r = map::run_worker_engine(*args);
            // Nothing a task started outlives the worker.
            crate::cli::command::end_orphans();
            finish("mp worker", r)
        }
        Command::Client(args) => finish("mp client", client::client_main(args)),
        Command::ServeManager(args) => finish("mp serve-manager", serve_manager::serve(args)),
        Command::State(verb) => state::run(verb),
        Command::Completions(args) => finish("mp completions", docs::completions(args)),
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

/// The exit code of a subcommand's result: its own, 2 for a usage problem,
/// 1 for any other error (0 when stdout was closed by its reader).
fn finish(what: &str, r: anyhow::Result<i32>) -> i32 {
    match r {
        Ok(code) => code,
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return 0;
            }
            eprintln!("{what}: {e:#}");
            if e.downcast_ref::<wire::Usage>().is_some() {
                2
            } else {
                1
            }
        }
    }
}
