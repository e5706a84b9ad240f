//! `mp serve-manager`: a manager server that CPython's `SyncManager` /
//! `BaseManager` clients connect to unchanged (the library's
//! `mp::managers::server`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use mp::connection::Listener;
use mp::managers::server::{Kind, Server, ServerLimits};
use mp::pickle::Value;
use mp::Error;

use super::wire::{address, authkey, Usage, AUTHKEY_ENV};

const SERVE_AFTER: &str = "\
The first line on stdout is the address the server listens on (with port 0,
the port it picked), so a script can read it. A client's shutdown() or
SIGINT/SIGTERM stops the server (the Unix socket file is removed).

Serves every SyncManager typeid (dict, list, Namespace, Value, Array, Queue,
JoinableQueue, Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition,
Barrier, dict iteration) and Python 3.14's additions (set, list clear/copy,
dict |/fromkeys/reversed, locked()), to clients of every Python version; Pool
and AsyncResult would run Python code in the server and are refused with a
RemoteError that says so. A proxy stored in a shared object (a list of
lists) keeps its object alive while it is stored.

The shell verbs (mp queue, mp dict, mp list, mp value, mp lock, mp semaphore,
mp event, mp barrier) name objects that are made on first use; each name is
then a typeid for Python's register('NAME') and Rust's manager.get(\"NAME\")
too, as a --register'ed name is.

Unlike CPython's server: a lock or semaphore held by a client whose
connection closes (the client died) is released; the number of objects and
the size of a request are limited (--max-objects,
--max-objects-per-connection, --max-message), and going over is a
RemoteError for that client only.

Examples:
  MP_AUTHKEY=secret mp serve-manager --address 127.0.0.1:50000
  # Python:
  #   from multiprocessing.managers import SyncManager
  #   m = SyncManager(('127.0.0.1', 50000), authkey=b'secret'); m.connect()
  #   d = m.dict(); d['a'] = 1; print(d.copy())
  MP_AUTHKEY=secret mp serve-manager --address 127.0.0.1:50000 --register get_queue=queue
  # Python (the docs' remote manager example, unchanged):
  #   from multiprocessing.managers import BaseManager
  #   class QueueManager(BaseManager): pass
  #   QueueManager.register('get_queue')
  #   m = QueueManager(address=('127.0.0.1', 50000), authkey=b'secret')
  #   m.connect(); m.get_queue().put('hello')

A Rust client (the mp library) of the second server:
  let key = std::env::var(\"MP_AUTHKEY\")?;
  let m = mp::managers::SyncManager::connect(&\"127.0.0.1:50000\".parse()?, Some(key.as_bytes()))?;
  let q: mp::managers::QueueProxy<String> = m.get(\"get_queue\")?;
  q.put(&\"hello\".to_string())?;
(examples/remote_queue.rs in the mp sources: a server and its clients.)

Exit codes: 0 after a client's shutdown(); 2 usage error (bad address,
unreadable key file, refused address, address in use); 130/143 after
SIGINT/SIGTERM.";

/// Arguments of `mp serve-manager`.
#[derive(Debug, Args)]
#[command(after_help = SERVE_AFTER)]
pub struct ServeArgs {
    /// HOST:PORT (port 0 picks a free one) or a Unix socket path.
    #[arg(short, long, value_name = "ADDR")]
    address: String,
    /// Read the authentication key from FILE (else $MP_AUTHKEY).
    #[arg(long, value_name = "FILE", env = "MP_AUTHKEY_FILE")]
    authkey_file: Option<PathBuf>,
    /// Serve NAME as a typeid bound to one shared object of TYPE (queue,
    /// joinablequeue, dict, list, set, namespace, lock, rlock, semaphore[:N],
    /// boundedsemaphore[:N], event, condition, barrier:N): Python's
    /// `register('NAME')` then `m.NAME()` returns it.
    #[arg(long = "register", value_name = "NAME=TYPE")]
    register: Vec<String>,
    /// Refuse to create an object while N are alive (created and not yet
    /// released by their last decref); the client gets a RemoteError that
    /// says so.
    #[arg(long, value_name = "N", default_value_t = ServerLimits::default().max_objects as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_objects: u64,
    /// Refuse to create an object for a connection whose requests created
    /// N that are still alive (a Python client opens a connection per
    /// create, so this bounds what one client thread's calls create, such
    /// as dict iterators).
    #[arg(long, value_name = "N",
          default_value_t = ServerLimits::default().max_objects_per_connection as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_objects_per_connection: u64,
    /// Refuse a request longer than BYTES: the client gets a RemoteError
    /// that says so and its connection is closed.
    #[arg(long, value_name = "BYTES", default_value_t = ServerLimits::default().max_message as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_message: u64,
}

fn parse_register(spec: &str) -> Result<(String, (Kind, Vec<Value>))> {
    let Some((name, ty)) = spec.split_once('=') else {
        bail!(Usage(format!("--register {spec:?}: expected NAME=TYPE")));
    };
    let (ty, n) = match ty.split_once(':') {
        Some((t, n)) => match n.parse::<i64>() {
            Ok(n) if n >= 0 => (t, Some(n)),
            _ => bail!(Usage(format!(
                "--register {spec:?}: {n:?} is not a count (semaphore:N)"
            ))),
        },
        None => (ty, None),
    };
    let kind = match ty.to_ascii_lowercase().as_str() {
        "queue" | "joinablequeue" => Kind::Queue,
        "dict" => Kind::Dict,
        "list" => Kind::List,
        "set" => Kind::Set,
        "namespace" => Kind::Namespace,
        "lock" => Kind::Lock,
        "rlock" => Kind::RLock,
        "semaphore" => Kind::Semaphore,
        "boundedsemaphore" => Kind::BoundedSemaphore,
        "event" => Kind::Event,
        "condition" => Kind::Condition,
        "barrier" => Kind::Barrier,
        other => bail!(Usage(format!(
            "--register {spec:?}: unknown type {other:?} (queue, joinablequeue, dict, list, \
             set, namespace, lock, rlock, semaphore[:N], boundedsemaphore[:N], event, condition, \
             barrier:N)"
        ))),
    };
    let takes_n = matches!(
        kind,
        Kind::Semaphore | Kind::BoundedSemaphore | Kind::Barrier
    );
    if n.is_some() && !takes_n {
        bail!(Usage(format!(
            "--register {spec:?}: only semaphores and barriers take :N"
        )));
    }
    if kind == Kind::Barrier && n.is_none_or(|n| n <= 0) {
        bail!(Usage(format!(
            "--register {spec:?}: a barrier needs its parties, barrier:N (N > 0)"
        )));
    }
    if name.is_empty() || name.starts_with('_') {
        bail!(Usage(format!(
            "--register {spec:?}: a name must not be empty or start with _"
        )));
    }
    let args = n.map(Value::Int).into_iter().collect();
    Ok((name.to_string(), (kind, args)))
}

/// `mp serve-manager`.
pub fn serve(args: ServeArgs) -> Result<i32> {
    let key = authkey(&args.authkey_file)?;
    let addr = address(&args.address)?;
    if key.is_none() && !addr.is_local() {
        bail!(Usage(format!(
            "refusing to serve on {addr} without an authkey: anyone who can reach it could \
             use the shared objects. Give --authkey-file or {AUTHKEY_ENV}, or serve on \
             127.0.0.1 or a Unix socket"
        )));
    }
    let registered: HashMap<String, (Kind, Vec<Value>)> = args
        .register
        .iter()
        .map(|s| parse_register(s))
        .collect::<Result<_>>()?;
    let listener = Listener::bind(&addr, key.as_deref()).map_err(|e| match e {
        Error::AddressInUse { .. } => Usage(format!("cannot serve: {e}")),
        e => Usage(format!("cannot serve on {addr}: {e}")),
    })?;
    let socket_file = listener.socket_file().cloned();
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    std::thread::Builder::new()
        .name("mp-serve-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                if let Some(f) = &socket_file {
                    f.remove();
                }
                std::process::exit(128 + sig);
            }
        })?;
    let bound = listener.address().clone();
    println!("{bound}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let limits = ServerLimits {
        max_objects: usize::try_from(args.max_objects).unwrap_or(usize::MAX),
        max_objects_per_connection: usize::try_from(args.max_objects_per_connection)
            .unwrap_or(usize::MAX),
        max_message: usize::try_from(args.max_message).unwrap_or(usize::MAX),
    };
    let server = Server::with_limits(bound, registered, limits);
    server.serve_forever(listener)?;
    Ok(0)
}
