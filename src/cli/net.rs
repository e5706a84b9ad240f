//! `mp listen` and `mp client`: framed, authenticated messaging with
//! CPython's `multiprocessing.connection` peers (and each other) from the
//! shell. The library does the work ([`mp::connection::Listener`],
//! [`mp::connection::client`], [`mp::pickle`]); this is the glue.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::connection::{client, Address, Listener};
use mp::{Connection, Error};

const AUTHKEY_ENV: &str = "MP_AUTHKEY";

const LISTEN_AFTER: &str = "\
Each message received is printed as one line on stdout: its bytes as they
are (what Python's Connection.send_bytes sends), or, with --json, a pickled
object (what Connection.send sends; first byte 0x80) decoded into JSON. With --exec, each connection is bridged to a command
instead: every message becomes a line on the command's stdin, and every line
the command prints goes back to the peer as a message (pickled from JSON
with --json). A peer that waits for each reply needs a command that writes
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
  mp listen --address /tmp/mp.sock --exec 'tr a-z A-Z'
  # Python: Client(('127.0.0.1', 6000), authkey=b'secret').send([2.25, None, 'junk'])

Exit codes: 0 after --once served its connection; 1 when --once's
connection failed; 2 usage error (bad address, unreadable key file, refused
address, address in use). Without --once it serves until stopped (130 after
SIGINT, 143 after SIGTERM).";

const CLIENT_AFTER: &str = "\
Sends each line of stdin as one message (without its newline) and prints
each message received as a line. With --json, each line is JSON and is sent
pickled (Python's recv() gets the object: [2.25, null, \"junk\"] arrives as
[2.25, None, 'junk']), and received pickles are printed as JSON. When stdin
ends, mp tells the peer (it sees end of file) and prints replies until the
peer closes. --request sends all of stdin as one message and prints the one
reply.

The key: --authkey-file FILE, else MP_AUTHKEY (never on the command line).

Examples:
  echo hello | mp client --address /tmp/mp.sock
  echo '{\"op\": \"add\", \"args\": [1, 2]}' | MP_AUTHKEY=secret mp client -a 127.0.0.1:6000 --json --request

Exit codes: 0 success; 1 connection, handshake or protocol error; 2 usage
error.";

/// What `mp listen` and `mp client` share.
#[derive(Debug, Args)]
pub struct Common {
    /// The address: HOST:PORT (TCP; for mp listen port 0 picks a free one,
    /// printed on stderr) or a Unix socket path (containing '/'; '@name' is
    /// in the abstract namespace).
    #[arg(short, long, value_name = "ADDR")]
    address: String,
    /// Read the authentication key from FILE (else $MP_AUTHKEY).
    #[arg(long, value_name = "FILE")]
    authkey_file: Option<PathBuf>,
    /// Messages are pickles: print each received one as a line of JSON, and
    /// send each line (JSON) pickled.
    #[arg(long)]
    json: bool,
    /// The largest message accepted, in bytes (K, M, G suffixes); a larger
    /// one ends its connection.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    max_message: usize,
}

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

/// Arguments of `mp client`.
#[derive(Debug, Args)]
#[command(after_help = CLIENT_AFTER)]
pub struct ClientArgs {
    #[command(flatten)]
    common: Common,
    /// Send all of stdin as one message, print the one reply, exit.
    #[arg(long)]
    request: bool,
}

/// `64M`, `1G`, `4096`...
pub fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("bad size {s:?}: use a number with K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?}: use a number with K, M or G"))?;
    n.checked_mul(mult)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("bad size {s:?}"))
}

/// Usage problems (exit 2) as opposed to failures at run time (exit 1).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn authkey(file: &Option<PathBuf>) -> Result<Option<Vec<u8>>> {
    if let Some(path) = file {
        let mut key = std::fs::read(path).map_err(|e| {
            Usage(format!(
                "cannot read --authkey-file {}: {e}",
                path.display()
            ))
        })?;
        if key.last() == Some(&b'\n') {
            key.pop();
        }
        if key.is_empty() {
            bail!(Usage(format!("--authkey-file {} is empty", path.display())));
        }
        return Ok(Some(key));
    }
    Ok(std::env::var_os(AUTHKEY_ENV)
        .map(|v| std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec())
        .filter(|k| !k.is_empty()))
}

fn address(s: &str) -> Result<Address> {
    s.parse()
        .map_err(|e: Error| Usage(format!("--address {e}")).into())
}

/// One received message as the line to print (without the newline).
///
/// With `json`, a pickle (what Python's `send` sends: protocol 2 or later,
/// so its first byte is 0x80) becomes JSON; anything else (what
/// `send_bytes` sends) is printed as it is.
fn message_to_line(msg: &[u8], json: bool) -> Result<Vec<u8>> {
    if !json || msg.first() != Some(&0x80) {
        return Ok(msg.to_vec());
    }
    let value = mp::pickle::loads(msg).context("a message that looks like a pickle is not one")?;
    Ok(serde_json::to_vec(&mp::pickle::to_json(&value))?)
}

/// One line to send as a message.
fn line_to_message(line: &[u8], json: bool) -> Result<Vec<u8>> {
    if !json {
        return Ok(line.to_vec());
    }
    let j: serde_json::Value = serde_json::from_slice(line).with_context(|| {
        format!(
            "not JSON: {:?}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        )
    })?;
    Ok(mp::pickle::dumps(&mp::pickle::from_json(&j)))
}

/// Hands each message received on `conn`, as a line, to `f` until the peer
/// closes or `f` says stop (false). A message that does not convert (not a
/// pickle, with --json) is skipped with a note on stderr.
fn each_line(
    conn: &Connection,
    json: bool,
    what: &str,
    mut f: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    loop {
        let msg = match conn.recv_bytes(None) {
            Ok(m) => m,
            Err(Error::Eof) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match message_to_line(&msg, json) {
            Ok(line) => {
                if !f(&line)? {
                    return Ok(());
                }
            }
            Err(e) => eprintln!("{what}: skipped a message: {e:#}"),
        }
    }
}

/// Starts a thread with room for the deepest value the unpickler accepts
/// (`pickle::Limits::max_depth` levels; converting one to JSON recurses per
/// level). The stack is reserved, not used: untouched pages cost nothing.
fn spawn_deep<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .context("cannot start a thread")
}

static STDOUT: Mutex<()> = Mutex::new(());

/// Prints one line whole (lines of concurrent connections never mix).
fn print_line(line: &[u8]) -> Result<()> {
    let _g = STDOUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    out.write_all(line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn strip_newline(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    line
}

/// The process groups of the running --exec commands.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// On SIGINT, SIGTERM or SIGHUP: ends every --exec command's process group
/// (SIGTERM, up to half a second, SIGKILL) and exits 128 + the signal.
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
            for &g in &groups {
                // SAFETY: signals a process group this process started.
                unsafe { libc::kill(-g, libc::SIGTERM) };
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
            // SAFETY: kill with signal 0 only checks that the group exists.
            let alive = |g: i32| unsafe { libc::kill(-g, 0) } == 0;
            while groups.iter().any(|&g| alive(g)) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            for &g in &groups {
                // SAFETY: as above.
                unsafe { libc::kill(-g, libc::SIGKILL) };
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
    let mut listener = Listener::bind(&addr, key.as_deref())
        .map_err(|e| Usage(format!("cannot listen on {addr}: {e}")))?;
    if args.exec.is_some() {
        install_signal_thread()?;
    }
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
        .stdout(Stdio::piped())
        // Its own process group, so that a signal to mp listen ends the
        // command's whole tree (see `install_signal_thread`).
        .process_group(0);
    // SAFETY: the closure only makes one async-signal-safe system call.
    unsafe {
        command.pre_exec(|| {
            // If mp listen dies without cleaning up (SIGKILL), the shell goes too.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run --exec {cmd:?}"))?;
    let group = child.id() as i32;
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(group);
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
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
    let _ = child.wait();
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

/// `mp client`.
pub fn client_main(args: ClientArgs) -> Result<i32> {
    let key = authkey(&args.common.authkey_file)?;
    let addr = address(&args.common.address)?;
    let mut conn = client(&addr, key.as_deref()).with_context(|| format!("{addr}"))?;
    conn.set_max_message(Some(args.common.max_message));
    if args.request {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)?;
        conn.send_bytes(&line_to_message(&strip_newline(all), args.common.json)?)?;
        let reply = conn.recv_bytes(None).context("waiting for the reply")?;
        print_line(&message_to_line(&reply, args.common.json)?)?;
        return Ok(0);
    }
    // Read on the original (it may hold replies that came with the
    // handshake's last frame); write on the duplicate.
    let reader = conn;
    let mut conn = reader.duplicate()?;
    let json = args.common.json;
    let printer = spawn_deep(move || {
        each_line(&reader, json, "mp client", |line| {
            print_line(line)?;
            Ok(true)
        })
    })?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let msg = line_to_message(&strip_newline(std::mem::take(&mut line)), args.common.json)?;
        conn.send_bytes(&msg)?;
    }
    conn.shutdown_write()?;
    printer
        .join()
        .map_err(|_| anyhow::anyhow!("the reply printer panicked"))??;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        for bad in ["", "0", "12X", "M", "-1", "99999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
