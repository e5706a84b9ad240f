//! CPython wire compatibility, proved against real CPython: the captured
//! handshakes of every client/server version pairing (byte-exact), and live
//! sessions with `python3` (3.11) and, where installed, 3.12 and 3.13 in both
//! roles, with and without a key, and with a wrong key.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mp::connection::{auth, client, Address, Listener};
use mp::Error;

mod common;

const KEY: &[u8] = b"mp-wire-test-key";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors(dir: &str) -> Vec<(String, serde_json::Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/wire-vectors")
        .join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every challenge in every capture gets, from `mp`, exactly the response
/// the real answerer sent, and every captured response passes `mp`'s check.
#[test]
fn captured_handshakes_byte_exact() {
    let mut checked = 0;
    for (name, v) in vectors("conn") {
        let Some(key) = v["authkey_hex"].as_str().map(hex) else {
            continue; // a session without a key
        };
        let frames = v["frames"].as_array().unwrap();
        for (i, f) in frames.iter().enumerate() {
            if f["kind"] != "auth-challenge" {
                continue;
            }
            let challenge = hex(f["payload_hex"].as_str().unwrap());
            let msg = &challenge[b"#CHALLENGE#".len()..];
            // The answer is the next frame of the same connection, other way.
            let Some(resp) = frames[i + 1..].iter().find(|g| {
                g["conn"] == f["conn"] && g["dir"] != f["dir"] && g["kind"] == "auth-response"
            }) else {
                continue;
            };
            let response = hex(resp["payload_hex"].as_str().unwrap());
            let good = resp["hmac_verified_with_known_key"] == true;
            // The verdict that followed tells whether the key was right.
            let verdict = frames[i + 1..]
                .iter()
                .find(|g| g["conn"] == f["conn"] && g["dir"] == f["dir"] && g["kind"] != "pickle")
                .map(|g| g["kind"].as_str().unwrap().to_string());
            // A 3.11 answerer sends raw MD5 even to a modern challenge; mp
            // answers like 3.12+ (with the digest asked for). Both pass.
            let legacy_answer_to_modern =
                response.len() == 16 && msg.len() != 16 && msg.len() != 20;
            if good && !legacy_answer_to_modern {
                assert_eq!(
                    auth::response_for(&key, msg).unwrap(),
                    response,
                    "{name}: frame {i}: our answer differs from CPython's"
                );
            }
            assert_eq!(
                auth::verify(&key, msg, &response),
                verdict.as_deref() == Some("auth-welcome"),
                "{name}: frame {i}: our verdict differs ({verdict:?})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} handshakes found");
}

/// The CPython interpreters on this machine: python3 and, under pyenv, 3.12
/// and 3.13 (a notice for each one missing).
fn pythons() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if Command::new("python3")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        out.push(("python3".to_string(), PathBuf::from("python3")));
    } else {
        eprintln!("NOTICE: python3 not found; live CPython tests skipped");
    }
    let root = Command::new("pyenv")
        .arg("root")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    for minor in ["3.12", "3.13"] {
        let found = root.as_ref().and_then(|r| {
            std::fs::read_dir(PathBuf::from(r).join("versions"))
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(format!("python{minor}")))
                .find(|p| p.exists())
        });
        match found {
            Some(p) => out.push((minor.to_string(), p)),
            None => eprintln!("NOTICE: CPython {minor} not found under pyenv; skipped"),
        }
    }
    out
}

fn run_python(py: &PathBuf, script: &str, args: &[&str]) -> std::process::Child {
    Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

const PY_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
key = key.encode() if key != "-" else None
try:
    c = Client((host, port), authkey=key)
except Exception as e:
    print(type(e).__name__); sys.exit(0)
c.send_bytes(b"hello from python")
print(c.recv_bytes().decode())
big = c.recv_bytes()
print(len(big), big == bytes(range(256)) * 4096)
c.send_bytes(b"")
c.send([2.25, None, 'junk'])
print(repr(c.recv()))
c.send(bytes(3_000_000))
got = c.recv()
print(len(got), got == b"\x07" * 3_000_000)
c.close()
"#;

/// A CPython `Client` against an `mp` `Listener`: no key, the right key, a
/// wrong key (Python sees AuthenticationError; the listener goes on).
#[test]
fn cpython_client_to_mp_listener() {
    for (label, py) in pythons() {
        for key in [None, Some(KEY)] {
            let mut l = Listener::bind(&"127.0.0.1:0".parse().unwrap(), key).unwrap();
            let Address::Tcp { port, .. } = l.address().clone() else {
                unreachable!()
            };
            let port = port.to_string();
            let keyarg = if key.is_some() {
                "mp-wire-test-key"
            } else {
                "-"
            };
            if key.is_some() {
                // A wrong key first: refused, and the listener serves the next.
                let bad = run_python(&py, PY_CLIENT, &["127.0.0.1", &port, "wrong key"]);
                assert!(
                    matches!(l.accept(), Err(Error::Authentication(_))),
                    "{label}"
                );
                let out = bad.wait_with_output().unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).trim(),
                    "AuthenticationError",
                    "{label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let child = run_python(&py, PY_CLIENT, &["127.0.0.1", &port, keyarg]);
            let c = l.accept().unwrap();
            assert_eq!(c.recv_bytes(None).unwrap(), b"hello from python", "{label}");
            c.send_bytes(b"hello from mp").unwrap();
            let big: Vec<u8> = (0..=255u8).cycle().take(256 * 4096).collect();
            c.send_bytes(&big).unwrap();
            assert_eq!(c.recv_bytes(None).unwrap(), b"", "{label}: empty message");
            // send/recv speak pickle: a Python list arrives as a Rust tuple
            // (or as a pickle::Value), a Rust tuple arrives as a tuple.
            let (x, none, junk): (f64, Option<i32>, String) = c.recv().unwrap();
            assert_eq!((x, none, junk.as_str()), (2.25, None, "junk"), "{label}");
            c.send(&(
                1,
                "two",
                vec![3.5],
                None::<u8>,
                serde_bytes::Bytes::new(b"\x00\xff"),
            ))
            .unwrap();
            match c.recv_value().unwrap() {
                mp::pickle::Value::Bytes(b) => assert_eq!(b.len(), 3_000_000, "{label}"),
                other => panic!("{label}: {}", other.kind()),
            }
            c.send_value(&mp::pickle::Value::Bytes(vec![7; 3_000_000]))
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "hello from mp\n1048576 True\n(1, 'two', [3.5], None, b'\\x00\\xff')\n3000000 True\n",
                "{label} key={key:?}"
            );
        }
    }
}

const PY_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
key = sys.argv[1]
key = key.encode() if key != "-" else None
l = Listener(("127.0.0.1", 0), authkey=key)
print(l.address[1], flush=True)
for _ in range(int(sys.argv[2])):
    try:
        c = l.accept()
    except Exception as e:
        print("accept:", type(e).__name__, flush=True)
        continue
    m = c.recv_bytes()
    c.send_bytes(m.upper())
    c.close()
print("done", flush=True)
"#;

/// `mp`'s `client` against a CPython `Listener`, with and without a key, and
/// a wrong key (both sides see the failure).
#[test]
fn mp_client_to_cpython_listener() {
    for (label, py) in pythons() {
        for key in [None, Some(KEY)] {
            let keyarg = if key.is_some() {
                "mp-wire-test-key"
            } else {
                "-"
            };
            let tries = if key.is_some() { "2" } else { "1" };
            let mut child = run_python(&py, PY_LISTENER, &[keyarg, tries]);
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            let addr: Address = format!("127.0.0.1:{}", line.trim()).parse().unwrap();
            if key.is_some() {
                assert!(
                    matches!(client(&addr, Some(b"wrong")), Err(Error::Authentication(_))),
                    "{label}: wrong key refused"
                );
            }
            let c = client(&addr, key).unwrap();
            c.send_bytes(b"shout this").unwrap();
            assert_eq!(c.recv_bytes(None).unwrap(), b"SHOUT THIS", "{label}");
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
            let status = child.wait().unwrap();
            assert!(status.success(), "{label}");
            let want = if key.is_some() {
                "accept: AuthenticationError\ndone\n"
            } else {
                "done\n"
            };
            assert_eq!(rest, want, "{label}");
        }
    }
    let _ = std::io::stderr().flush();
}

// ---- mp listen / mp client, the binary ----

/// Starts `mp listen ARGS` (key in MP_AUTHKEY if given) and returns it with
/// the address it printed.
fn start_listen(args: &[&str], key: Option<&str>) -> (std::process::Child, String) {
    let mut cmd = common::mp();
    cmd.arg("listen")
        .args(args)
        .env_remove("MP_AUTHKEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = key {
        cmd.env("MP_AUTHKEY", k);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mp listen: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    // Keep draining stderr so the listener never blocks on it.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        eprint!("{rest}");
    });
    (child, addr)
}

fn py_port(addr: &str) -> String {
    addr.rsplit_once(':').unwrap().1.to_string()
}

fn python3() -> Option<PathBuf> {
    pythons().into_iter().next().map(|(_, p)| p)
}

const PY_SEND_OBJECTS: &str = r#"
import sys
from multiprocessing.connection import Client
key = sys.argv[2].encode() if sys.argv[2] != "-" else None
try:
    c = Client(("127.0.0.1", int(sys.argv[1])), authkey=key)
except Exception as e:
    print(type(e).__name__); sys.exit(0)
c.send([2.25, None, 'junk'])
c.send({'a': 1, 'b': (True, b'\x00\xff'), 'big': 2**70})
c.send_bytes(b'raw is not a pickle')
c.send(bytes(range(200)) * 1000)
c.send('last')
c.close()
print("sent")
"#;

/// CPython's Client (3.11, and 3.12/3.13 where installed) against `mp
/// listen --json`, with a key (a wrong key first: Python sees
/// AuthenticationError and mp goes on) and without one.
#[test]
fn cpython_client_to_mp_listen_json() {
    for (label, py) in pythons() {
        for key in [Some("k3y"), None] {
            let (child, addr) =
                start_listen(&["--address", "127.0.0.1:0", "--json", "--once"], key);
            let port = py_port(&addr);
            if key.is_some() {
                // --once still waits for a good connection.
                let bad = run_python(&py, PY_SEND_OBJECTS, &[&port, "wrong"])
                    .wait_with_output()
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&bad.stdout).trim(),
                    "AuthenticationError",
                    "{label}"
                );
            }
            let good = run_python(&py, PY_SEND_OBJECTS, &[&port, key.unwrap_or("-")])
                .wait_with_output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&good.stdout).trim(),
                "sent",
                "{label}: {}",
                String::from_utf8_lossy(&good.stderr)
            );
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{label}");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 5, "{label}: {text}");
            // send_bytes: printed as it is; send: JSON.
            assert_eq!(lines.remove(2), "raw is not a pickle", "{label}");
            let lines: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
                .collect();
            assert_eq!(lines[0], serde_json::json!([2.25, null, "junk"]), "{label}");
            assert_eq!(lines[1]["a"], 1, "{label}");
            assert_eq!(lines[1]["big"], "1180591620717411303424", "{label}");
            let big = lines[2]["$bytes"].as_str().unwrap_or_default();
            assert_eq!(big.len(), 2 * 200_000, "{label}: a large pickled bytes");
            assert_eq!(lines[3], serde_json::json!("last"), "{label}");
        }
    }
}

#[test]
fn mp_listen_exec_bridges_a_connection() {
    let Some(py) = python3() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("l.sock");
    let (child, _) = start_listen(
        &[
            "--address",
            sock.to_str().unwrap(),
            "--exec",
            // Replies one line at a time (a plain `tr` would hold its output
            // in a buffer until its input ends).
            "while read -r l; do printf '%s\\n' \"$l\" | tr a-z A-Z; done",
            "--once",
        ],
        None,
    );
    let script = r#"
import sys
from multiprocessing.connection import Client
c = Client(sys.argv[1])
for w in (b'hello', b'world'):
    c.send_bytes(w)
    print(c.recv_bytes().decode())
"#;
    let out = run_python(&py, script, &[sock.to_str().unwrap()])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HELLO\nWORLD\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
}

/// `mp client --json --request` against CPython's Listener (3.11, and
/// 3.12/3.13 where installed), with a key from a file, and without a key.
#[test]
fn mp_client_json_request_to_cpython_listener() {
    let script = r#"
import sys
from multiprocessing.connection import Listener
key = sys.argv[1].encode() if sys.argv[1] != "-" else None
l = Listener(("127.0.0.1", 0), authkey=key)
print(l.address[1], flush=True)
c = l.accept()
got = c.recv()
c.send(("got", got, type(got).__name__))
"#;
    for (label, py) in pythons() {
        for key in [Some("k3y"), None] {
            let mut child = run_python(&py, script, &[key.unwrap_or("-")]);
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = common::mp();
            cmd.args([
                "client",
                "--address",
                &format!("127.0.0.1:{}", line.trim()),
                "--json",
                "--request",
            ])
            .env_remove("MP_AUTHKEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            if let Some(k) = key {
                let keyfile = dir.path().join("key");
                std::fs::write(&keyfile, format!("{k}\n")).unwrap();
                cmd.arg("--authkey-file").arg(&keyfile);
            }
            let mut c = cmd.spawn().unwrap();
            c.stdin
                .take()
                .unwrap()
                .write_all(br#"{"op": "add", "args": [1, 2.5, null]}"#)
                .unwrap();
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                got,
                serde_json::json!(["got", {"op": "add", "args": [1, 2.5, null]}, "dict"]),
                "{label}"
            );
            assert!(child.wait().unwrap().success(), "{label}");
        }
    }
}

#[test]
fn mp_client_and_mp_listen_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("e.sock");
    let (listen, _) = start_listen(
        &[
            "--address",
            sock.to_str().unwrap(),
            "--exec",
            "sed s/^/echo:/",
            "--once",
        ],
        Some("pw"),
    );
    let mut c = common::mp()
        .args(["client", "--address", sock.to_str().unwrap()])
        .env("MP_AUTHKEY", "pw")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\n\nthree")
        .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "echo:one\necho:two\necho:\necho:three\n"
    );
    assert_eq!(listen.wait_with_output().unwrap().status.code(), Some(0));
}

#[test]
fn mp_listen_refuses_and_explains() {
    let out = common::mp()
        .args(["listen", "--address", "0.0.0.0:0"])
        .env_remove("MP_AUTHKEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without an authkey"));
    let out = common::mp()
        .args(["listen", "--address", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
    let out = common::mp()
        .args([
            "client",
            "--address",
            "127.0.0.1:1",
            "--authkey-file",
            "/nonexistent/key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/key"));
    let out = common::mp()
        .args(["client", "--address", "127.0.0.1:1"])
        .env_remove("MP_AUTHKEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing listens there");
}

/// Hostile peers: a huge length header with no body, random bytes, a
/// half-written frame, garbage instead of a handshake answer. Each ends its
/// own connection; the listener keeps serving.
#[test]
fn mp_listen_survives_hostile_input() {
    use std::net::TcpStream;
    for key in [None, Some("pw")] {
        let (listen, addr) = start_listen(&["--address", "127.0.0.1:0", "--json"], key);
        let send = |bytes: &[u8]| {
            let mut s = TcpStream::connect(&addr).unwrap();
            let _ = s.write_all(bytes);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut sink);
        };
        send(&[0x7f, 0xff, 0xff, 0xff]); // 2^31-1 announced, nothing sent
        send(&[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        let mut x = 0x2545F4914F6CDD1Du64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        send(&random);
        send(&[0, 0, 0, 10, b'p']); // a truncated frame
                                    // An os.system pickle: printed as an inert structure, never run.
        let evil = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x0btouch pwned\x85R.";
        if key.is_none() {
            let framed = |p: &[u8]| {
                let mut frame = (p.len() as u32).to_be_bytes().to_vec();
                frame.extend_from_slice(p);
                frame
            };
            send(&framed(evil));
            // Nesting as deep as the unpickler allows, and deeper: printed,
            // and refused, without exhausting a thread's stack.
            for n in [999, 5000] {
                let mut deep = vec![0x80, 4];
                deep.extend(std::iter::repeat_n(b']', n));
                deep.extend(std::iter::repeat_n(b'a', n - 1));
                deep.push(b'.');
                send(&framed(&deep));
            }
        }
        // A good client still gets through.
        let mut listen = listen;
        // Every line it prints, as it prints it: the good client's line is
        // the sign that it got through.
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = std::io::BufReader::new(listen.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(stdout) {
                if line.map(|l| tx.send(l)).is_err() {
                    break;
                }
            }
        });
        let a: Address = addr.parse().unwrap();
        let c = client(&a, key.map(str::as_bytes)).unwrap();
        c.send_bytes(b"\x80\x04\x8c\x02ok\x94.").unwrap();
        drop(c);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut seen = Vec::new();
        while !seen.iter().any(|l| l == "\"ok\"") {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) => seen.push(l),
                Err(e) => panic!("the good client's message never printed ({e}): {seen:?}"),
            }
        }
        let _ = listen.kill();
        let _ = listen.wait();
        assert!(!std::path::Path::new("pwned").exists(), "nothing executed");
    }
}

/// Every captured byte stream (each connection, each direction) read with
/// `mp`'s framing gives exactly the captured frames; writing those payloads
/// with `send_bytes` gives exactly the captured stream; every pickle frame
/// decodes.
#[test]
fn captured_streams_frame_and_decode() {
    let mut streams = 0;
    let mut pickles = 0;
    for (name, v) in vectors("conn") {
        let frames = v["frames"].as_array().unwrap();
        for c in v["connections"].as_array().unwrap() {
            for dir in ["c2s", "s2c"] {
                let Some(stream) = c[format!("{dir}_stream_hex")].as_str().map(hex) else {
                    continue; // a long stream is stored truncated
                };
                let want: Vec<&serde_json::Value> = frames
                    .iter()
                    .filter(|f| f["conn"] == c["conn"] && f["dir"] == dir)
                    .collect();
                // Read: the stream, through a socket, into frames.
                let (a, b) = mp::pipe(true).unwrap();
                let mut raw =
                    std::fs::File::from(a.borrow_fd().unwrap().try_clone_to_owned().unwrap());
                let s2 = stream.clone();
                let w = std::thread::spawn(move || raw.write_all(&s2));
                drop(a);
                let mut got = Vec::new();
                while let Ok(m) = b.recv_bytes(None) {
                    got.push(m);
                }
                w.join().unwrap().unwrap();
                assert_eq!(got.len(), want.len(), "{name} conn {} {dir}", c["conn"]);
                let mut rewritten = Vec::new();
                for (m, f) in got.iter().zip(&want) {
                    assert_eq!(m.len() as u64, f["payload_len"].as_u64().unwrap(), "{name}");
                    if let Some(p) = f["payload_hex"].as_str() {
                        assert_eq!(m, &hex(p), "{name} frame {}", f["seq"]);
                    }
                    let mut h = [0u8; mp::connection::HEADER_MAX];
                    let n = mp::connection::encode_header(m.len() as u64, &mut h);
                    assert_eq!(h[..n], hex(f["header_hex"].as_str().unwrap())[..], "{name}");
                    if f["kind"] == "pickle" {
                        mp::pickle::loads(m)
                            .unwrap_or_else(|e| panic!("{name} frame {}: {e}", f["seq"]));
                        pickles += 1;
                    }
                    // Write: send_bytes puts exactly the captured bytes on the wire.
                    let (x, y) = mp::pipe(true).unwrap();
                    let m2 = m.clone();
                    let t = std::thread::spawn(move || x.send_bytes(&m2));
                    let mut one = vec![0u8; n + m.len()];
                    let mut r =
                        std::fs::File::from(y.borrow_fd().unwrap().try_clone_to_owned().unwrap());
                    std::io::Read::read_exact(&mut r, &mut one).unwrap();
                    t.join().unwrap().unwrap();
                    rewritten.extend_from_slice(&one);
                }
                assert_eq!(
                    rewritten, stream,
                    "{name} conn {} {dir}: bytes differ",
                    c["conn"]
                );
                streams += 1;
            }
        }
    }
    assert!(
        streams >= 40 && pickles >= 40,
        "{streams} streams, {pickles} pickles"
    );
}

// ---- property tests: arbitrary bytes never panic ----

mod props {
    use proptest::prelude::*;
    use std::io::Write;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any bytes into the unpickler: a value or an error; a value
        /// re-encodes and decodes to itself.
        #[test]
        fn unpickling_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(v) = mp::pickle::loads(&data) {
                let again = mp::pickle::loads(&mp::pickle::dumps(&v)).unwrap();
                prop_assert_eq!(v, again);
            }
        }

        /// A valid pickle header followed by arbitrary opcodes.
        #[test]
        fn unpickling_arbitrary_opcodes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut data = vec![0x80, 4];
            data.extend(body);
            data.push(b'.');
            let _ = mp::pickle::loads(&data);
        }

        /// Any bytes as a frame stream: messages or an error, never a panic,
        /// never a message longer than the cap.
        #[test]
        fn framing_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let (a, b) = mp::pipe(true).unwrap();
            let mut raw = std::fs::File::from(a.borrow_fd().unwrap().try_clone_to_owned().unwrap());
            raw.write_all(&data).unwrap();
            drop(raw);
            drop(a);
            while let Ok(m) = b.recv_bytes(Some(1024)) {
                prop_assert!(m.len() <= 1024);
            }
        }
    }
}

/// SIGTERM (or SIGINT) to `mp listen --exec` ends the commands it runs,
/// their whole process groups, and exits 143 (130).
#[test]
fn mp_listen_signal_ends_exec_commands() {
    fn running(marker: &str) -> bool {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                let dir = e.path();
                let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
                let zombie = stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, r)| r.starts_with('Z'));
                !zombie && cmd == format!("sleep\0{marker}\0").as_bytes()
            })
    }
    for (sig, code, marker) in [
        (libc::SIGTERM, 143, "4242.25"),
        (libc::SIGINT, 130, "4242.75"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        // The command starts a grandchild too: the whole group must go.
        let cmd = format!("sleep {marker} & sleep {marker}; wait");
        let (mut listen, _) =
            start_listen(&["--address", sock.to_str().unwrap(), "--exec", &cmd], None);
        let _c = client(&Address::Unix(sock.clone()), None).unwrap();
        let t = std::time::Instant::now();
        while !running(marker) {
            assert!(t.elapsed().as_secs() < 20, "the command never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SAFETY: signals the child this test started.
        unsafe { libc::kill(listen.id() as i32, sig) };
        let status = listen.wait().unwrap();
        assert_eq!(status.code(), Some(code));
        let t = std::time::Instant::now();
        while running(marker) {
            assert!(t.elapsed().as_secs() < 5, "sleep {marker} survived");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// `mp listen --exec` killed outright (SIGKILL: no clean-up runs): its
/// command's whole process group gets the death signal and goes too.
#[test]
fn mp_listen_killed_takes_its_exec_command_with_it() {
    let m = common::marker();
    let _reaper = common::Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    // The leader and a background process of its group: both go (the
    // leader by its death signal, the rest by the group's watchdog).
    let cmd = format!("sleep {m} </dev/null >/dev/null & exec sleep {m}");
    let (mut listen, _) =
        start_listen(&["--address", sock.to_str().unwrap(), "--exec", &cmd], None);
    let _c = client(&Address::Unix(sock.clone()), None).unwrap();
    assert!(
        common::wait_until(std::time::Duration::from_secs(20), || !common::survivors(
            &format!("sleep {m}")
        )
        .is_empty()),
        "the command never started"
    );
    listen.kill().unwrap();
    listen.wait().unwrap();
    if let Err(left) =
        common::gone_within(&format!("sleep {m}"), std::time::Duration::from_secs(10))
    {
        panic!("the --exec command outlived mp listen: {left}");
    }
}

/// A command that exits while something it started in the background
/// still runs (in its group): that is ended too, when the connection ends.
#[test]
fn mp_listen_exec_leaves_nothing_behind() {
    let m = common::marker();
    let _reaper = common::Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    // The background sleep keeps neither stdin nor stdout of the bridge.
    let cmd = format!("sleep {m} </dev/null >/dev/null 2>&1 & read line; echo \"got:$line\"");
    let (mut listen, _) = start_listen(
        &[
            "--address",
            sock.to_str().unwrap(),
            "--exec",
            &cmd,
            "--once",
        ],
        None,
    );
    let c = client(&Address::Unix(sock.clone()), None).unwrap();
    c.send_bytes(b"hello").unwrap();
    assert_eq!(c.recv_bytes(None).unwrap(), b"got:hello");
    assert_eq!(listen.wait().unwrap().code(), Some(0));
    if let Err(left) =
        common::gone_within(&format!("sleep {m}"), std::time::Duration::from_secs(10))
    {
        panic!("the --exec command's background process outlived it: {left}");
    }
}

/// Python dicts are ordered: their JSON keeps the order, both ways.
#[test]
fn json_keeps_dict_order() {
    use mp::pickle::Value;
    let dict = Value::Dict(vec![
        (Value::str("b"), Value::Int(2)),
        (Value::str("a"), Value::Int(1)),
    ]);
    let text = serde_json::to_string(&mp::pickle::to_json(&dict)).unwrap();
    assert_eq!(text, r#"{"b":2,"a":1}"#);
    let back = mp::pickle::from_json(&serde_json::from_str(&text).unwrap());
    assert_eq!(back, dict);
}

/// examples/listener_client.rs against the Python documentation's own
/// Listener/Client example, both ways round.
#[test]
fn docs_listener_client_example_with_cpython() {
    let Some(py) = python3() else { return };
    let example = PathBuf::from(env!("CARGO_BIN_EXE_mp"))
        .parent()
        .unwrap()
        .join("examples/listener_client");
    // Our server, the docs' client.
    let mut server = Command::new(&example)
        .args(["server", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let port = line.trim().rsplit_once(':').unwrap().1.to_string();
    let docs_client = r#"
import sys
from array import array
from multiprocessing.connection import Client
address = ('localhost', int(sys.argv[1]))
with Client(address, authkey=b'secret password') as conn:
    print(conn.recv())                  # => [2.25, None, 'junk', float]
    print(conn.recv_bytes())            # => 'hello'
    arr = array('i', [0, 0, 0, 0, 0])
    print(conn.recv_bytes_into(arr))    # => 8
    print(arr)                          # => array('i', [42, 1729, 0, 0, 0])
"#;
    let out = run_python(&py, docs_client, &[&port])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[2.25, None, 'junk', <class 'float'>]\nb'hello'\n8\narray('i', [42, 1729, 0, 0, 0])\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = server.wait_with_output().unwrap();
    assert!(s.status.success());
    assert!(String::from_utf8_lossy(&s.stdout).starts_with("connection accepted from 127.0.0.1:"));

    // The docs' server, our client.
    let docs_server = r#"
from array import array
from multiprocessing.connection import Listener
with Listener(('127.0.0.1', 0), authkey=b'secret password') as listener:
    print(listener.address[1], flush=True)
    with listener.accept() as conn:
        conn.send([2.25, None, 'junk', float])
        conn.send_bytes(b'hello')
        conn.send_bytes(array('i', [42, 1729]))
"#;
    let mut child = run_python(&py, docs_server, &[]);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let out = Command::new(&example)
        .args(["client", &format!("127.0.0.1:{}", line.trim())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[2.25,null,\"junk\",{\"$global\":\"builtins.float\"}]\nhello\n8\n[42, 1729, 0, 0, 0]\n"
    );
    assert!(child.wait().unwrap().success());
}

// ---- mp listen's socket file ----

/// Waits (at most 20 s) until something accepts connections on the Unix
/// socket `path`: true if it did.
fn accepting(path: &std::path::Path) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(20) {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// SIGINT, SIGTERM or SIGHUP to `mp listen` on a Unix socket (with and
/// without --exec) removes the socket file, as the end of --once does, so
/// that the next start finds the address free.
#[test]
fn mp_listen_removes_its_socket_file_on_every_exit() {
    for exec in [None, Some("cat")] {
        for (sig, code) in [
            (libc::SIGINT, 130),
            (libc::SIGTERM, 143),
            (libc::SIGHUP, 129),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let sock = dir.path().join("s.sock");
            let mut args = vec!["--address", sock.to_str().unwrap()];
            args.extend(exec.iter().flat_map(|c| ["--exec", c]));
            let (mut listen, _) = start_listen(&args, None);
            assert!(
                accepting(&sock),
                "mp listen never accepted ({sig}, {exec:?})"
            );
            // SAFETY: signals the child this test started.
            unsafe { libc::kill(listen.id() as i32, sig) };
            assert_eq!(listen.wait().unwrap().code(), Some(code), "{sig} {exec:?}");
            assert!(
                !sock.exists(),
                "socket file left after signal {sig} ({exec:?})"
            );
        }
    }
    // The normal end: --once served its connection.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let (listen, _) = start_listen(&["--address", sock.to_str().unwrap(), "--once"], None);
    client(&Address::Unix(sock.clone()), None)
        .unwrap()
        .send_bytes(b"bye")
        .unwrap();
    let out = listen.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bye\n");
    assert!(!sock.exists(), "socket file left after --once");
}

/// A socket file left by a listener that is gone does not block a start;
/// one that somebody listens on does, with an error naming the path (and
/// the live listener's file stays); a path that is not a socket is refused
/// and left alone.
#[test]
fn mp_listen_replaces_a_stale_socket_file_and_refuses_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists(), "the stale file is there");
    let (mut first, _) = start_listen(&["--address", sock.to_str().unwrap()], None);
    assert!(
        accepting(&sock),
        "mp listen did not start over a stale file"
    );

    let second = common::mp()
        .args(["listen", "--address", sock.to_str().unwrap()])
        .env_remove("MP_AUTHKEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already in use") && err.contains(sock.to_str().unwrap()),
        "{err}"
    );
    assert!(
        sock.exists() && accepting(&sock),
        "the first listener lost its file"
    );
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert_eq!(first.wait().unwrap().code(), Some(143));
    assert!(!sock.exists());

    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let out = common::mp()
        .args(["listen", "--address", file.to_str().unwrap()])
        .env_remove("MP_AUTHKEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

/// A failed connect is reported once, naming the address (the cause used
/// to be printed twice: in the library error's message and again as its
/// source).
#[test]
fn mp_client_reports_a_connect_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody.sock");
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (address, cause) in [
        (
            missing.to_str().unwrap().to_string(),
            "No such file or directory",
        ),
        (format!("127.0.0.1:{port}"), "Connection refused"),
    ] {
        let out = common::mp()
            .args(["client", "--address", &address])
            .env_remove("MP_AUTHKEY")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.matches(cause).count(), 1, "{err}");
        assert_eq!(err.matches(address.as_str()).count(), 1, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

// ---- the examples in the help and the README, run as written ----

/// The non-empty lines of `text` after the one starting with `from`
/// (trimmed), up to the one starting with `to`.
fn block(text: &str, from: &str, to: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with(from))
        .skip(1)
        .take_while(|l| !l.starts_with(to))
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The one command line (a comment line, for the Python one) of `lines`
/// containing `part`.
fn line_with<'a>(lines: &'a [String], part: &str) -> &'a str {
    let python = part == "Client((";
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(part) && l.starts_with('#') == python)
        .collect();
    assert_eq!(found.len(), 1, "one example with {part:?} in {lines:#?}");
    found[0]
}

/// Runs `line` with sh, `mp` on the PATH, the example's socket path and
/// TCP port replaced by this test's own (the only change: two tests must
/// not share /tmp/mp.sock or port 6000).
fn sh(line: &str, sock: &str, my_sock: &str, port: u16) -> Command {
    let line = line
        .replace(sock, my_sock)
        .replace("127.0.0.1:6000", &format!("127.0.0.1:{port}"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mp"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(line)
        .env("PATH", path)
        .env_remove("MP_AUTHKEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd
}

/// Starts a listener example and waits for its "listening on" line.
fn start_example(
    mut cmd: Command,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.starts_with("mp listen: listening on "), "{line:?}");
    std::thread::spawn(move || std::io::Read::read_to_end(&mut err, &mut Vec::new()));
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

fn stop_example(mut child: std::process::Child) {
    // SAFETY: signals the process group this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
    let _ = child.wait();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the listen/client examples found in `lines` (which use the socket
/// path `sock`): the JSON listener with the Python client line, the --exec
/// listener with a Python client that waits for each reply (conn.poll(3),
/// as people write it) and with the `echo hello | mp client` line, and the
/// --request client against a Python Listener.
fn run_examples(label: &str, lines: &[String], sock: &str) {
    let Some(py) = python3() else { return };
    let dir = tempfile::tempdir().unwrap();
    let my_sock = dir.path().join("x.sock");
    let my_sock = my_sock.to_str().unwrap();

    // 1. The JSON listener, and the Python line that sends to it.
    let port = free_port();
    let (listen, mut out) = start_example(sh(
        line_with(lines, "mp listen --address 127.0.0.1:6000 --json"),
        sock,
        my_sock,
        port,
    ));
    let python_line = line_with(lines, "Client((");
    let call = &python_line[python_line.find("Client((").unwrap()..];
    let call = call.replace("6000", &port.to_string());
    let script = format!("from multiprocessing.connection import Client\n{call}\n");
    let sent = run_python(&py, &script, &[]).wait_with_output().unwrap();
    assert!(
        sent.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let mut got = String::new();
    std::io::BufRead::read_line(&mut out, &mut got).unwrap();
    assert_eq!(got, "[2.25,null,\"junk\"]\n", "{label}");
    stop_example(listen);

    // 2. The --exec listener: a Python client waiting for each reply, then
    // the mp client line.
    let (listen, _) = start_example(sh(line_with(lines, "--exec"), sock, my_sock, port));
    let script = r#"
import sys
from multiprocessing.connection import Client
c = Client(sys.argv[1])
for w in (b'hello', b'world'):
    c.send_bytes(w)
    if not c.poll(3):
        print('no reply within 3 s'); sys.exit(1)
    print(c.recv_bytes().decode())
"#;
    let out = run_python(&py, script, &[my_sock])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got:hello\ngot:world\n",
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client_line = line_with(lines, "echo hello | mp client");
    let out = sh(client_line, sock, my_sock, port).output().unwrap();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got:hello\n",
        "{label}"
    );
    stop_example(listen);

    // 3. The --request client against a Python Listener that adds.
    let server = r#"
import sys
from multiprocessing.connection import Listener
with Listener(('127.0.0.1', int(sys.argv[1])), authkey=b'secret') as l:
    print('ready', flush=True)
    with l.accept() as c:
        m = c.recv()
        c.send({'op': m['op'], 'result': sum(m['args'])})
"#;
    let port = free_port();
    let mut child = run_python(&py, server, &[&port.to_string()]);
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n", "{label}");
    let out = sh(line_with(lines, "--request"), sock, my_sock, port)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"op\":\"add\",\"result\":3}\n",
        "{label}"
    );
    assert!(child.wait().unwrap().success(), "{label}");
}

/// Every example of `mp listen --help` and `mp client --help`, run as
/// written (a Python client waiting for replies included: an --exec
/// command that buffers its output would never answer it).
#[test]
fn help_examples_work_as_written() {
    let help = |sub: &str| {
        let out = common::mp().args([sub, "--help"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listen = block(&help("listen"), "Examples:", "Exit codes");
    let client = block(&help("client"), "Examples:", "Exit codes");
    // Every example is one this test runs.
    assert_eq!(listen.len(), 4, "{listen:#?}");
    assert_eq!(client.len(), 2, "{client:#?}");
    let mut lines = listen;
    lines.extend(client);
    run_examples("--help", &lines, "/tmp/mp.sock");
}

/// The README's listen/client examples, run as written.
#[test]
fn readme_listen_client_examples_work_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### Messaging with Python").unwrap()..];
    let lines = block(section, "```sh", "```");
    let commands = lines.iter().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        commands, 4,
        "every command is one this test runs: {lines:#?}"
    );
    run_examples("README", &lines, "/tmp/upper.sock");
}
