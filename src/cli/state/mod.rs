//! Shared state from the shell: `mp queue`, `mp dict`, `mp list`,
//! `mp value`, `mp lock`, `mp semaphore`, `mp event`, `mp barrier`, each a
//! client of a manager server (`mp serve-manager`) through the library's
//! [`mp::managers`]. A NAME is a named object on the server
//! ([`SyncManager::named`]): made on first use with the verb's type, and
//! the same object for Python's `register('NAME')` and Rust's
//! `manager.get("NAME")`.
//!
//! What this module shares: the options every verb takes, reaching the
//! manager, turning values into lines and back, and the exit codes.
//!
//! | code | meaning (all verbs but `mp lock` / `mp semaphore`) |
//! |---|---|
//! | 0 | done |
//! | 1 | nothing there: an empty queue (`--nowait`, `--timeout`), a missing key or index, an unset value, a wait that timed out, a broken barrier |
//! | 2 | usage: a bad option or argument, an unreadable key file, a NAME that holds another type |
//! | 3 | the manager cannot be reached, refused the key, or the connection broke |
//! | 4 | the manager refused the operation (its error is printed) |
//!
//! `mp lock` and `mp semaphore` exit with the command's status; their own
//! codes are in [`hold`].

mod collections;
mod hold;
mod sync;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::{Args, Parser, Subcommand};
use mp::connection::Address;
use mp::managers::{SyncManager, TypedProxy};
use mp::pickle::Value;

use collections::{dict, list, queue, value, DictArgs, ListArgs, QueueArgs, ValueArgs};
use hold::{lock, semaphore, LockArgs, SemaphoreArgs};
use sync::{barrier, event, BarrierArgs, EventArgs};

use super::map::parse_duration;
use super::wire::{authkey, Usage};

/// The subcommands of this module (`mp queue` ...).
pub const VERBS: [&str; 8] = [
    "queue",
    "dict",
    "list",
    "value",
    "lock",
    "semaphore",
    "event",
    "barrier",
];

/// The shared-state verbs: flattened into `mp`'s subcommands, and parsed
/// on their own by [`Cli`] when one of them is asked for.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// A queue on a manager, from the shell: put, get, size, task-done,
    /// join (see mp queue --help).
    Queue(QueueArgs),
    /// A dict on a manager: set, get, del, keys, items, len, incr.
    Dict(DictArgs),
    /// A list on a manager: append, get, len, items.
    List(ListArgs),
    /// A value on a manager: get, set.
    Value(ValueArgs),
    /// Run a command while holding a lock on a manager (see mp lock --help).
    Lock(LockArgs),
    /// Run a command while holding one of N permits on a manager.
    Semaphore(SemaphoreArgs),
    /// An event on a manager: set, clear, wait, is-set.
    Event(EventArgs),
    /// A barrier on a manager: wait for N parties, reset.
    Barrier(BarrierArgs),
}

/// `mp` with only the shared-state verbs: what `mp queue ...` and the
/// others are parsed with (the same definitions as in `mp --help`).
#[derive(Debug, Parser)]
#[command(name = "mp", version)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
    #[command(flatten)]
    pub verbosity: super::logging::Verbosity,
}

/// Runs a verb; its exit code.
pub fn run(verb: Verb) -> i32 {
    match verb {
        Verb::Queue(args) => finish("mp queue", None, queue(args)),
        Verb::Dict(args) => finish("mp dict", None, dict(args)),
        Verb::List(args) => finish("mp list", None, list(args)),
        Verb::Value(args) => finish("mp value", None, value(args)),
        Verb::Event(args) => finish("mp event", None, event(args)),
        Verb::Barrier(args) => finish("mp barrier", None, barrier(args)),
        Verb::Lock(args) => lock(args),
        Verb::Semaphore(args) => semaphore(args),
    }
}

/// Exit code: nothing there (empty, missing, timed out).
pub const NOTHING: i32 = 1;
/// Exit code: a usage error.
pub const USAGE: i32 = 2;
/// Exit code: the manager cannot be reached or the connection broke.
pub const UNREACHABLE: i32 = 3;
/// Exit code: the manager refused the operation.
pub const REFUSED: i32 = 4;

/// How long a verb tries to connect by default.
const CONNECT_TIMEOUT: &str = "5s";

/// Where the manager is and how to open it: every verb takes these.
#[derive(Debug, Args)]
pub struct ManagerOpts {
    /// The manager's address: HOST:PORT, or a Unix socket path (with a
    /// '/'; '@name' for the abstract namespace).
    #[arg(short, long, value_name = "ADDR", env = "MP_ADDRESS", global = true)]
    address: Option<String>,
    /// Read the authentication key from FILE (else $MP_AUTHKEY, never from
    /// the command line).
    #[arg(long, value_name = "FILE", env = "MP_AUTHKEY_FILE", global = true)]
    authkey_file: Option<PathBuf>,
    /// Give up connecting to the manager after DURATION (1.5, 500ms, 2s):
    /// a host that does not answer is an error (exit 3), not a hang.
    #[arg(long, value_name = "DURATION", default_value = CONNECT_TIMEOUT,
          value_parser = parse_duration, global = true)]
    connect_timeout: Duration,
    /// Values are JSON: VALUE arguments are parsed as JSON and stored as
    /// the Python objects they map to (dict, list, int, float, str, bool,
    /// None), and values are printed as JSON, one per line.
    #[arg(long, global = true)]
    json: bool,
}

impl ManagerOpts {
    /// The manager, not yet connected: the first call connects (one
    /// connection for the whole verb).
    fn manager(&self) -> Result<SyncManager> {
        let Some(address) = &self.address else {
            return Err(Usage(
                "no manager address: give --address ADDR or set MP_ADDRESS \
                 (where mp serve-manager listens)"
                    .into(),
            )
            .into());
        };
        let address: Address = address
            .parse()
            .map_err(|e: mp::Error| Usage(format!("--address {e}")))?;
        let key = authkey(&self.authkey_file)?;
        Ok(SyncManager::new(&address, key.as_deref())
            .with_connect_timeout(Some(self.connect_timeout)))
    }

    /// The object called `name`, of the verb's type (`typeid`, made with
    /// `args` if it is new).
    fn named<P: TypedProxy>(&self, name: &str, typeid: &str, args: Vec<Value>) -> Result<P> {
        let m = self.manager()?;
        m.named(name, typeid, args)
            .map_err(|e| Failure::at_lookup(e, &self.address_text()).into())
    }

    fn address_text(&self) -> String {
        self.address.clone().unwrap_or_default()
    }

    /// A VALUE argument as the value to store.
    fn parse(&self, arg: &OsStr) -> Result<Value> {
        parse_value(arg, self.json)
    }

    /// Prints `v` as one line.
    fn print(&self, v: &Value) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(&format_value(v, self.json))?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
}

/// A VALUE argument: a `str` (bytes that are not UTF-8 stay bytes), or
/// with `json` the value of its JSON text.
pub(crate) fn parse_value(arg: &OsStr, json: bool) -> Result<Value> {
    if json {
        let j: serde_json::Value = serde_json::from_slice(arg.as_bytes()).map_err(|e| {
            Usage(format!(
                "--json: {:?} is not JSON ({e}); a JSON string needs its quotes: '\"text\"'",
                arg.to_string_lossy()
            ))
        })?;
        return Ok(mp::pickle::from_json(&j));
    }
    Ok(match arg.to_str() {
        Some(s) => Value::str(s),
        None => Value::Bytes(arg.as_bytes().to_vec()),
    })
}

/// A value as the bytes of its line: a `str` or `bytes` as it is (without
/// `json`), anything else (and everything with `json`) as compact JSON.
pub(crate) fn format_value(v: &Value, json: bool) -> Vec<u8> {
    if !json {
        match v {
            Value::Str(s) => return s.to_string_lossy().into_owned().into_bytes(),
            Value::Bytes(b) | Value::ByteArray(b) => return b.clone(),
            _ => {}
        }
    }
    serde_json::to_vec(&mp::pickle::to_json(v)).unwrap_or_default()
}

/// A KEY argument: always a `str` (bytes if it is not UTF-8).
fn key_value(arg: &OsStr) -> Value {
    match arg.to_str() {
        Some(s) => Value::str(s),
        None => Value::Bytes(arg.as_bytes().to_vec()),
    }
}

/// Why a verb failed, with its exit code.
#[derive(Debug)]
pub struct Failure {
    code: i32,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The last line of a server traceback: the exception and its message.
fn last_line(traceback: &str) -> &str {
    traceback
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(traceback)
        .trim()
}

impl Failure {
    /// A library error, classified: connection trouble (3), a refusal
    /// by the server (4).
    fn of(e: mp::Error, address: &str) -> Failure {
        use mp::Error as E;
        match e {
            E::Io { .. }
            | E::Eof
            | E::Closed
            | E::Authentication(_)
            | E::TooLong { .. }
            | E::BadLength(_)
            | E::Decode(_) => Failure {
                code: UNREACHABLE,
                message: format!("the manager at {address}: {e}"),
            },
            E::Remote(text) => Failure {
                code: REFUSED,
                message: format!("the manager refused: {}", last_line(&text)),
            },
            e => Failure {
                code: REFUSED,
                message: format!("the manager refused: {e}"),
            },
        }
    }

    /// An error naming the object: a NAME of another type (or a bad
    /// name) is a usage error.
    fn at_lookup(e: mp::Error, address: &str) -> Failure {
        match &e {
            mp::Error::Remote(text) => {
                let line = last_line(text);
                if line.starts_with("TypeError:") || line.starts_with("ValueError:") {
                    let message = line.split_once(": ").map_or(line, |(_, m)| m).to_string();
                    return Failure {
                        code: USAGE,
                        message,
                    };
                }
                if line.contains("'mp_named' unrecognized") || line == "KeyError: None" {
                    return Failure {
                        code: USAGE,
                        message: format!(
                            "the manager at {address} is not mp serve-manager (named \
                             objects are an mp extension): {line}"
                        ),
                    };
                }
                Failure::of(e, address)
            }
            _ => Failure::of(e, address),
        }
    }
}

/// Runs a verb and returns its exit code: errors are printed as
/// `mp <verb>: <message>`; a closed stdout is a quiet success.
pub fn finish(what: &str, address: Option<&str>, r: Result<i32>) -> i32 {
    let e = match r {
        Ok(code) => return code,
        Err(e) => e,
    };
    let broken_pipe = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return 0;
    }
    let e = match e.downcast::<mp::Error>() {
        Ok(m) => anyhow::Error::new(Failure::of(m, address.unwrap_or("?"))),
        Err(e) => e,
    };
    let code = if let Some(f) = e.downcast_ref::<Failure>() {
        f.code
    } else if e.downcast_ref::<Usage>().is_some() {
        USAGE
    } else {
        REFUSED
    };
    eprintln!("{what}: {e:#}");
    code
}

/// `mp::Result<T>` as this module's `Result`, classified against `opts`'s
/// address.
trait Classify<T> {
    fn at(self, opts: &ManagerOpts) -> Result<T>;
}

impl<T> Classify<T> for mp::Result<T> {
    fn at(self, opts: &ManagerOpts) -> Result<T> {
        self.map_err(|e| Failure::of(e, &opts.address_text()).into())
    }
}

/// The arguments after `--` as the program and its arguments.
fn command_of(args: Vec<OsString>) -> Result<(OsString, Vec<OsString>)> {
    let mut it = args.into_iter();
    let program = it
        .next()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| anyhow!(Usage("no COMMAND given (after --)".into())))?;
    Ok((program, it.collect()))
}
