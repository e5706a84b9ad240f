//! `mp serve-manager`: a manager server that CPython's `SyncManager` /
//! `BaseManager` clients connect to unchanged (the library's
//! `mp::managers::server`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use mp::connection::Listener;
use mp::managers::server::{Kind, Server};
use mp::pickle::Value;
use mp::Error;

use super::wire::{address, authkey, Usage, AUTHKEY_ENV};

const SERVE_AFTER: &str = "\
The first line on stdout is the address the server listens on (with port 0,
the port it picked), so a script can read it. A client's shutdown() or
SIGINT/SIGTERM stops the server (the Unix socket file is removed).

Serves so far the typeids dict, list, Namespace, Value, Queue,
JoinableQueue, Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and
Barrier (and dict iteration); other SyncManager typeids (Array, Pool) are
refused with a RemoteError naming them. Unlike CPython's server, a lock or semaphore held by a client whose
connection closes (the client died) is released.

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
    #[arg(long, value_name = "FILE")]
    authkey_file: Option<PathBuf>,
    /// Serve NAME as a typeid bound to one shared object of TYPE (queue,
    /// joinablequeue, dict, list, namespace, lock, rlock, semaphore[:N],
    /// boundedsemaphore[:N], event, condition, barrier:N): Python's
    /// `register('NAME')` then `m.NAME()` returns it.
    #[arg(long = "register", value_name = "NAME=TYPE")]
    register: Vec<String>,
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
             namespace, lock, rlock, semaphore[:N], boundedsemaphore[:N], event, condition, \
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
    let server = Server::new(bound, registered);
    server.serve_forever(listener)?;
    Ok(0)
}
