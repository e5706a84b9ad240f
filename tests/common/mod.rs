//! Helpers shared by the test files that drive `mp map` through the binary.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Child, Command, Stdio};

pub fn mp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mp"))
}

/// Starts `mp map ARGS` with stdin, stdout and stderr piped.
pub fn spawn_map<S: AsRef<OsStr>>(args: &[S]) -> Child {
    mp().arg("map")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `mp map ARGS` with `input` on stdin (written from a thread, so a
/// large input cannot deadlock against unread output).
pub fn map(args: &[&str], input: &str) -> std::process::Output {
    let mut child = spawn_map(args);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
