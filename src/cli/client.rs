//! `mp client`: sends stdin lines as messages to a `Listener` (CPython's or
//! `mp listen`) and prints the replies.

use std::io::BufRead;

use anyhow::{Context, Result};
use clap::Args;
use mp::connection::client;

use super::wire::{
    address, authkey, each_line, line_to_message, message_to_line, print_line, spawn_deep,
    strip_newline, Common,
};

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

/// `mp client`.
pub fn client_main(args: ClientArgs) -> Result<i32> {
    let key = authkey(&args.common.authkey_file)?;
    let addr = address(&args.common.address)?;
    // mp::Error::Io shows its cause in its own message, so `{e}` (not the
    // error chain, which would repeat the cause) says it once.
    let mut conn = client(&addr, key.as_deref()).map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
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
