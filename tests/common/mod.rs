//! Helpers shared by the test files that drive `mp map` through the binary.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::io::{BufRead, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Starts `mp map ARGS` in its own process group, with `env` added to its
/// environment and `input` written from a thread, then stdin closed.
pub fn spawn_map_in<S: AsRef<OsStr>>(args: &[S], input: &[u8], env: &[(&str, &OsStr)]) -> Child {
    let mut child = mp()
        .arg("map")
        .args(args)
        .envs(env.iter().copied())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    child
}

/// Runs `mp map ARGS` with `input` on stdin (written from a thread, so a
/// large input cannot deadlock against unread output).
pub fn map(args: &[&str], input: &str) -> Output {
    map_bytes(args, input.as_bytes())
}

/// [`map`] for arguments and input that need not be UTF-8.
pub fn map_bytes<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut child = spawn_map(args);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `mp SUBCOMMAND --help`, and the lines of its `Examples:` block (up to
/// the first blank line), trimmed.
pub fn help_examples(subcommand: &str) -> (String, Vec<String>) {
    let help = text(&mp().args([subcommand, "--help"]).output().unwrap().stdout);
    let examples = help
        .lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    (help, examples)
}

/// Status, stdout and stderr, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ({} bytes):\n{}\n--- stderr:\n{}",
        out.status,
        out.stdout.len(),
        clip(&out.stdout),
        clip(&out.stderr)
    )
}

/// At most 2000 characters of `b`, escaped so non-UTF-8 bytes show.
fn clip(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .take(2000)
        .flat_map(|&c| std::ascii::escape_default(c).map(char::from))
        .collect();
    if b.len() > 2000 {
        format!("{s}... ({} more bytes)", b.len() - 2000)
    } else {
        s
    }
}

/// A number unique to this test run, to find our own processes with pgrep.
/// Used as `sleep MARKER`, it sleeps 40-50 s: long enough that a process
/// found later was left behind, not merely slow.
pub fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("4{}.{:06}", std::process::id() % 10, nanos % 1_000_000)
}

/// The processes whose command line matches `pattern` (pgrep -fa).
pub fn survivors(pattern: &str) -> String {
    let out = Command::new("pgrep")
        .args(["-fa", pattern])
        .output()
        .unwrap();
    text(&out.stdout)
}

/// Polls until no process matches `pattern`; Err holds what was left.
/// Zombies have no command line, so they do not match: this sandbox's init
/// may not reap orphans.
pub fn gone_within(pattern: &str, limit: Duration) -> Result<(), String> {
    let t = Instant::now();
    loop {
        let left = survivors(pattern);
        if left.is_empty() {
            return Ok(());
        }
        if t.elapsed() > limit {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills (SIGKILL) whatever still matches the marker when dropped, so a
/// failing test leaves no 40-second sleeps behind. Only processes with this
/// run's unique marker in their command line are touched.
pub struct Reaper(pub String);

impl Drop for Reaper {
    fn drop(&mut self) {
        for line in survivors(&self.0).lines() {
            if let Some(Ok(pid)) = line.split_whitespace().next().map(str::parse::<i32>) {
                if pid != std::process::id() as i32 {
                    signal(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Sends `sig` to `pid` (one of our own children or their descendants).
pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pids are our own processes.
    unsafe { libc::kill(pid, sig) };
}

/// Polls `done` every 20 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if done() {
            return true;
        }
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines of `path`, once it has at least `n`; Err with what it has if
/// `limit` passes first.
pub fn wait_for_file_lines(
    path: &Path,
    n: usize,
    limit: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let read = || -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    };
    if wait_until(limit, || read().len() >= n) {
        Ok(read())
    } else {
        Err(read())
    }
}

/// Waits until `pid` has a handler for signal `sig` (SigCgt in
/// /proc/PID/status): after that, the signal reaches mp's handling instead
/// of killing it outright. (SigBlk is no sign: a thread blocks every signal
/// for a moment around fork.)
pub fn wait_signal_ready(pid: u32, sig: i32, limit: Duration) -> bool {
    let bit = 1u64 << (sig - 1);
    wait_until(limit, || {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return false;
        };
        s.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .is_some_and(|caught| caught & bit != 0)
    })
}

/// The parent pid of `pid` (field 4 of /proc/PID/stat).
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Reads `stdout` line by line on a thread, sending each line (with its
/// newline); after `max` lines (or at EOF) the pipe is closed.
pub fn line_reader(stdout: impl Read + Send + 'static, max: usize) -> Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        for _ in 0..max {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// A running child whose remaining stdout/stderr pipes are drained on
/// threads, so it can be waited for with a deadline.
pub struct Run {
    pub child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How a [`Run`] ended: `status` is None when it had to be killed.
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn show(&self) -> String {
        format!(
            "status: {}\n--- stdout ({} bytes):\n{}\n--- stderr:\n{}",
            match self.status {
                Some(s) => format!("{s:?}"),
                None => "still running at the deadline (killed)".into(),
            },
            self.stdout.len(),
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }
}

impl Run {
    /// Wraps `child`, draining whichever of its stdout/stderr are still there.
    pub fn new(mut child: Child) -> Run {
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        fn drain(
            mut r: impl Read + Send + 'static,
            buf: &Arc<Mutex<Vec<u8>>>,
        ) -> std::thread::JoinHandle<()> {
            let buf = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 1 << 16];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        }
        if let Some(s) = child.stdout.take() {
            readers.push(drain(s, &out));
        }
        if let Some(s) = child.stderr.take() {
            readers.push(drain(s, &err));
        }
        Run {
            child,
            out,
            err,
            readers,
        }
    }

    /// Starts `mp map ARGS` (in its own process group, so the signals the
    /// tests send reach mp only) with `input` written from a thread and
    /// stdin then closed.
    pub fn map<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Run {
        Run::new(spawn_map_in(args, input, &[]))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the child to exit (killing it if it does not),
    /// then up to 3 s more for its output pipes to close.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // A process left behind may hold the pipes open: do not wait for it.
        wait_until(Duration::from_secs(3), || {
            self.readers.iter().all(|r| r.is_finished())
        });
        let stdout = self.out.lock().unwrap().clone();
        let stderr = self.err.lock().unwrap().clone();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

/// Standard base64 (with padding) decoded; None if `s` is not that.
pub fn b64decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = s.as_bytes();
    if b.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, quad) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Whether `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes UTF-8 uses for U+FFFD, the replacement character: a sign that
/// bytes were decoded lossily on the way.
pub const REPLACEMENT: &[u8] = b"\xef\xbf\xbd";

/// The bytes behind `field` of a --json row: `field_b64` decoded when
/// present (then `field` must be the lossy text of those bytes), else
/// `field` itself.
pub fn json_bytes(row: &serde_json::Value, field: &str) -> Vec<u8> {
    let lossy = row[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {row}"));
    match row.get(format!("{field}_b64")) {
        Some(b64) => {
            let bytes = b64
                .as_str()
                .and_then(b64decode)
                .unwrap_or_else(|| panic!("{field}_b64 is not padded base64: {row}"));
            assert_eq!(lossy, text(&bytes), "{field} is the lossy text: {row}");
            bytes
        }
        None => lossy.as_bytes().to_vec(),
    }
}

/// One JSON value per line of `out`'s stdout (each line must parse).
pub fn json_rows(out: &Output) -> Vec<serde_json::Value> {
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(out)))
        })
        .collect()
}
