//! Manager servers for the tests that talk to one: CPython's own
//! (`tests/python/manager_server.py`) and `mp serve-manager`, each printing
//! the address it listens on as its first line.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn python_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// A server process and the address it printed on its first line.
pub struct Served {
    pub child: Child,
    pub address: String,
    /// Ends by itself when its stdin closes (CPython's script).
    pub graceful: bool,
}

impl Drop for Served {
    fn drop(&mut self) {
        // CPython's server script shuts its manager process down when its
        // stdin closes; give it a moment, then kill whatever is left.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.graceful && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_string()
}

/// `mp serve-manager --address 127.0.0.1:0 EXTRA...` with `key` in MP_AUTHKEY.
pub fn serve_mp(extra: &[&str], key: &str) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mp"))
        .args(["serve-manager", "--address", "127.0.0.1:0"])
        .args(extra)
        .env("MP_AUTHKEY", key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let address = first_line(&mut child);
    assert!(address.starts_with("127.0.0.1:"), "mp printed {address:?}");
    Served {
        child,
        address,
        graceful: false,
    }
}

/// CPython's own SyncManager server on a free port, with `key`.
pub fn serve_cpython(key: &str) -> Served {
    let mut child = Command::new("python3")
        .arg(python_dir().join("manager_server.py"))
        .env("MP_AUTHKEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let address = first_line(&mut child);
    Served {
        child,
        address,
        graceful: true,
    }
}

/// `text` with each `0x...` object address replaced by `0x?` (they differ
/// per run and per server).
pub fn mask_addresses(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        out.push_str("0x?");
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out + rest
}
