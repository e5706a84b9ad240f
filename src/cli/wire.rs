//! What `mp listen` and `mp client` share: the options, the key, and
//! messages turned into lines and back. The library does the work
//! ([`mp::connection::Listener`], [`mp::connection::client`], [`mp::pickle`]);
//! this is the glue.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::connection::Address;
use mp::{Connection, Error};

pub(super) const AUTHKEY_ENV: &str = "MP_AUTHKEY";

/// What `mp listen` and `mp client` share.
#[derive(Debug, Args)]
pub struct Common {
    /// The address: HOST:PORT (TCP; for mp listen port 0 picks a free one,
    /// printed on stderr) or a Unix socket path (containing '/'; '@name' is
    /// in the abstract namespace).
    #[arg(short, long, value_name = "ADDR")]
    pub(super) address: String,
    /// Read the authentication key from FILE (else $MP_AUTHKEY).
    #[arg(long, value_name = "FILE", env = "MP_AUTHKEY_FILE")]
    pub(super) authkey_file: Option<PathBuf>,
    /// Messages are pickles: print each received one as a line of JSON, and
    /// send each line (JSON) pickled.
    #[arg(long)]
    pub(super) json: bool,
    /// The largest message accepted, in bytes (K, M, G suffixes); a larger
    /// one ends its connection.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub(super) max_message: usize,
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

pub(super) fn authkey(file: &Option<PathBuf>) -> Result<Option<Vec<u8>>> {
    if let Some(path) = file {
        let read = if path.as_os_str() == "-" {
            // `-`: the key on stdin (how `mp map --ssh` hands it over).
            let mut k = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut k).map(|_| k)
        } else {
            std::fs::read(path)
        };
        let mut key = read.map_err(|e| {
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

pub(super) fn address(s: &str) -> Result<Address> {
    s.parse()
        .map_err(|e: Error| Usage(format!("--address {e}")).into())
}

/// One received message as the line to print (without the newline).
///
/// With `json`, a pickle (what Python's `send` sends: protocol 2 or later,
/// so its first byte is 0x80) becomes JSON; anything else (what
/// `send_bytes` sends) is printed as it is.
pub(super) fn message_to_line(msg: &[u8], json: bool) -> Result<Vec<u8>> {
    if !json || msg.first() != Some(&0x80) {
        return Ok(msg.to_vec());
    }
    let value = mp::pickle::loads(msg).context("a message that looks like a pickle is not one")?;
    Ok(serde_json::to_vec(&mp::pickle::to_json(&value))?)
}

/// One line to send as a message.
pub(super) fn line_to_message(line: &[u8], json: bool) -> Result<Vec<u8>> {
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
pub(super) fn each_line(
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
pub(super) fn spawn_deep<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .context("cannot start a thread")
}

static STDOUT: Mutex<()> = Mutex::new(());

/// Prints one line whole (lines of concurrent connections never mix).
pub(super) fn print_line(line: &[u8]) -> Result<()> {
    let _g = STDOUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    out.write_all(line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

pub(super) fn strip_newline(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    line
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
