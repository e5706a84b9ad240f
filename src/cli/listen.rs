//! `mp listen`: accepts connections from CPython's `Client` (or `mp
//! client`) and prints their messages, or bridges each to a command.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::connection::{Listener, SocketFile};
use mp::process_group::{terminate_all, ProcessGroup};
use mp::{Connection, Error};

use super::wire::{
    address, authkey, each_line, line_to_message, print_line, spawn_deep, strip_newline, Common,
    Usage, AUTHKEY_ENV,
};

const LISTEN_AFTER: &str = "\
Each message received is printed as one line on stdout: its bytes as they
are (what Python's Connection.send_bytes sends), or, with --json, a pickled
object (what Connection.send sends; first byte 0x80) decoded into JSON.
With --exec, each connection is bridged to a command instead: every message
becomes a line on the command's stdin, and every line the command prints
goes back to the peer as a message (pickled from JSON with --json). A peer that waits for each reply needs a command that writes
each line out at once (sed -u, stdbuf -oL CMD, python3 -u ...): most
commands hold their output in a buffer while it goes to a pipe.

The key: --authkey-file FILE (the whole file; one trailing newline is
dropped), else the MP_AUTHKEY environment variable. Never on the command
line, where other users can read it. Without a key there is no handshake
(Python: authkey=None), and listening beyond this machine (any address but
loopback or a Unix socket) is refused.

A failed handshake, a broken frame or a message over --max-message ends
that connection with a line on stderr; a message that starts like a
pickle but is not one (with --json) is skipped with a note. The listener goes on serving the others.

Examples:
  MP_AUTHKEY=secret mp listen --address 127.0.0.1:6000 --json
  # Python: Client(('127.0.0.1', 6000), authkey=b'secret').send([2.25, None, 'junk'])
  mp listen --address /tmp/mp.sock --exec 'sed -u s/^/got:/'
  # then: echo hello | mp client --address /tmp/mp.sock   (prints got:hello)

Exit codes: 0 after --once served its connection; 1 when --once's
connection failed; 2 usage error (bad address, unreadable key file, refused
address, address in use). Without --once it serves until stopped (130 after
SIGINT, 143 after SIGTERM).";

/// Arguments of `mp listen`.
#[derive(Debug, Args)]
#[command(after_help = LISTEN_AFTER)]
pub struct ListenArgs {
    #[command(flatten)]
    common: Common,
    /// Bridge each connection to COMMAND (run with sh -c): messages to its
    /// stdin lines, its stdout lines back as messages.
    #[arg(long, value_name = "COMMAND")]
    exec: Option<String>,
    /// Serve one connection, then exit.
    #[arg(long)]
    once: bool,
}

/// The process groups of the running --exec commands.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The listener's Unix socket file, for the signal thread to remove: the
/// process exits from there, and the listener is never dropped.
static SOCKET_FILE: Mutex<Option<SocketFile>> = Mutex::new(None);

/// Between SIGTERM and SIGKILL when --exec commands are ended.
const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// On SIGINT, SIGTERM or SIGHUP: ends every --exec command's process group
/// (SIGTERM, up to [`GRACE`], SIGKILL: [`terminate_all`]), removes the socket file, and
/// exits 128 + the signal. Installed before the bind, so that no signal
/// finds the file made and nobody to remove it.
fn install_signal_thread() -> Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("mp-listen-signals".into())
        .spawn(move || {
            let Some(sig) = signals.forever().next() else {
                return;
            };
            let groups = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone();
            terminate_all(&groups, GRACE);
            if let Some(file) = SOCKET_FILE.lock().unwrap_or_else(|e| e.into_inner()).take() {
                file.remove();
            }
            std::process::exit(128 + sig);
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// `mp listen`.
pub fn listen(args: ListenArgs) -> Result<i32> {
    let key = authkey(&args.common.authkey_file)?;
    let addr = address(&args.common.address)?;
    if key.is_none() && !addr.is_local() {
        bail!(Usage(format!(
            "refusing to listen on {addr} without an authkey: anyone who can reach it could \
             send messages. Give --authkey-file or {AUTHKEY_ENV}, or listen on 127.0.0.1 or a \
             Unix socket"
        )));
    }
    install_signal_thread()?;
    let mut listener = Listener::bind(&addr, key.as_deref()).map_err(|e| match e {
        Error::AddressInUse { .. } => Usage(format!("cannot listen: {e}")),
        e => Usage(format!("cannot listen on {addr}: {e}")),
    })?;
    // On any other way out, dropping the listener removes the file.
    *SOCKET_FILE.lock().unwrap_or_else(|e| e.into_inner()) = listener.socket_file().cloned();
    eprintln!("mp listen: listening on {}", listener.address());
    let args = std::sync::Arc::new(args);
    let mut n = 0u64;
    loop {
        let mut conn = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                let peer = listener
                    .last_accepted()
                    .map_or_else(|| "?".to_string(), |a| a.to_string());
                eprintln!("mp listen: connection from {peer}: {e}");
                if matches!(e, Error::Io { .. }) {
                    // accept itself failed (out of descriptors...): breathe.
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                continue;
            }
        };
        conn.set_max_message(Some(args.common.max_message));
        n += 1;
        let id = n;
        let peer = listener
            .last_accepted()
            .map_or_else(String::new, |a| a.to_string());
        let a = args.clone();
        let serve = move || match serve_connection(conn, &a) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("mp listen: connection {id} from {peer}: {e:#}");
                false
            }
        };
        let worker = spawn_deep(serve)?;
        if args.once {
            return Ok(if worker.join().unwrap_or(false) { 0 } else { 1 });
        }
    }
}

fn serve_connection(conn: Connection, args: &ListenArgs) -> Result<()> {
    match &args.exec {
        None => each_line(&conn, args.common.json, "mp listen", |line| {
            print_line(line)?;
            Ok(true)
        }),
        Some(cmd) => bridge(conn, cmd, args.common.json),
    }
}

/// Runs `cmd` for one connection: messages in as lines, lines out as messages.
fn bridge(conn: Connection, cmd: &str, json: bool) -> Result<()> {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    // Its own process group, so that a signal to mp listen ends the
    // command's whole tree (see `install_signal_thread`); the shell gets
    // the death signal if mp listen dies without cleaning up (SIGKILL).
    // This thread waits for it, so the death signal's thread outlives it.
    let mut child =
        ProcessGroup::spawn(&mut command).with_context(|| format!("cannot run --exec {cmd:?}"))?;
    let group = child.id() as i32;
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(group);
    let mut stdin = child.take_stdin().expect("piped");
    let stdout = child.take_stdout().expect("piped");
    // Read on the original: it may hold messages that arrived with the
    // handshake's last frame. Write on the duplicate.
    let writer = conn.duplicate()?;
    let (reader, conn) = (conn, writer);
    let feeder = spawn_deep(move || {
        each_line(&reader, json, "mp listen", |line| {
            // Stop when the command stops reading; dropping stdin at the
            // end ends the command's input.
            Ok(stdin
                .write_all(line)
                .and_then(|()| stdin.write_all(b"\n"))
                .is_ok())
        })
    })?;
    let mut lines = std::io::BufReader::new(stdout);
    let mut line = Vec::new();
    let mut result = Ok(());
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let msg = match line_to_message(&strip_newline(std::mem::take(&mut line)), json) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("mp listen: --exec printed a line that was not sent: {e:#}");
                continue;
            }
        };
        if let Err(e) = conn.send_bytes(&msg) {
            result = Err(e.into());
            break;
        }
    }
    // The command has closed its stdout: wait for it, then end what it
    // left running in its group (as mp map does after a task).
    let _ = child.wait();
    let _ = child.terminate(GRACE);
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&g| g != group);
    // The command is done: end the connection both ways, which also ends
    // the feeder's wait for the peer's next message.
    if let Ok(fd) = conn.fileno() {
        let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
    }
    drop(conn);
    match feeder.join() {
        Ok(r) => result.and(r),
        Err(_) => result,
    }
}
