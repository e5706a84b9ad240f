//! CPython wire compatibility, proved against real CPython: the captured
//! handshakes of every client/server version pairing (byte-exact), and live
//! sessions with `python3` (3.11) and, where installed, 3.12 and 3.13 in both
//! roles, with and without a key, and with a wrong key.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mp::connection::{auth, client, Address, Listener};
use mp::Error;

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
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "hello from mp\n1048576 True\n",
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
