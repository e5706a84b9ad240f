//! Python's rules for managed values (`mp::managers::pyobj`), checked
//! against the real CPython on PATH: `repr` byte for byte, and `==` with
//! hashes that agree with it, for values that travel in pickles.

use std::process::Command;

use mp::managers::pyobj::{py_eq, py_hash, py_repr};
use mp::pickle::{loads, Value};

/// Values CPython pickles, with its own repr of each, and pairs with
/// CPython's `a == b`, one hex pickle per line.
const SCRIPT: &str = r#"
import pickle, sys, datetime
values = [
    None, True, False, 0, -1, 2**63, -2**70, 10**30,
    0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 1e-5, 0.0001, 123.456, 1.5e300, -2.5e-7,
    float('inf'), float('-inf'), 2.0**60, 1/3,
    '', 'a', "it's", 'say "hi"', 'both \' and "', 'tab\tnl\nbs\\', '\x00\x7f\x80\xff',
    'é', 'ü日本', '\u200b', '\u2028', '\ud800', '\U0001f600', '\U000e0001', '\xa0',
    b'', b'abc', b"'", b'\x00\xff"\'', bytearray(b'x'),
    (), (1,), (1, 'a', None), [], [0, 1], [[1], (2,)],
    {}, {'a': 1}, {1: 'x', 'k': [1.5]}, {(1, 2): {'n': None}},
    set(), frozenset(), {1}, frozenset({'a'}),
    KeyError('missing'), ValueError(), IndexError('list index out of range'),
    StopIteration(), ValueError(1, 2),
]
for v in values:
    sys.stdout.write('v %s %s\n' % (pickle.dumps(v, 4).hex(), repr(v).encode('utf-8', 'surrogatepass').hex()))
pairs = [
    (1, 1.0), (1, True), (0, False), (1, 1.5), ('a', b'a'), (b'a', bytearray(b'a')),
    ((1, 'x'), (True, 'x')), ([1, 2], [1.0, 2]), ({'a': 1}, {'a': 1.0}),
    ({1, 2}, frozenset({2, 1})), (2**64, 2**64), (2**64, float(2**64)), (-0.0, 0),
    (None, 0), ((), []), ('é', 'é'), (0.1 + 0.2, 0.3), (datetime.date(2020, 1, 2), datetime.date(2020, 1, 2)),
]
for a, b in pairs:
    sys.stdout.write('p %s %s %d\n' % (pickle.dumps(a, 4).hex(), pickle.dumps(b, 4).hex(), a == b))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn repr_and_equality_match_cpython() {
    let out = match Command::new("python3").arg("-c").arg(SCRIPT).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("NOTICE: python3 not runnable ({e}); skipping the CPython check");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (mut reprs, mut pairs) = (0, 0);
    let mut wrong = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "v" => {
                reprs += 1;
                let v = loads(&unhex(f[1])).unwrap();
                let want = String::from_utf8_lossy(&unhex(f[2])).into_owned();
                // Lone surrogates have no UTF-8 form; CPython escapes them anyway.
                let got = py_repr(&v);
                if got != want {
                    wrong.push(format!("repr: got {got:?}, CPython {want:?}"));
                }
            }
            "p" => {
                pairs += 1;
                let a: Value = loads(&unhex(f[1])).unwrap();
                let b: Value = loads(&unhex(f[2])).unwrap();
                let want = f[3] == "1";
                if py_eq(&a, &b) != want {
                    wrong.push(format!("{a:?} == {b:?}: CPython says {want}"));
                }
                if want {
                    if let (Ok(ha), Ok(hb)) = (py_hash(&a), py_hash(&b)) {
                        if ha != hb {
                            wrong.push(format!("{a:?} and {b:?} are equal but hash apart"));
                        }
                    }
                }
            }
            _ => panic!("unexpected line {line}"),
        }
    }
    assert!(reprs >= 50 && pairs >= 15, "{reprs} reprs, {pairs} pairs");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- mp serve-manager against CPython clients ----

use std::io::Write;
use std::process::Stdio;

mod common;
mod servers;
use servers::{first_line, mask_addresses, python_dir, Served};

const KEY: &str = "mp-manager-test-key";

/// The CPython interpreters to try as clients: python3, and 3.12/3.13 from
/// pyenv where present.
fn pythons() -> Vec<String> {
    let mut out = vec!["python3".to_string()];
    if let Ok(root) = Command::new("pyenv").arg("root").output() {
        let root = String::from_utf8_lossy(&root.stdout).trim().to_string();
        if let Ok(dir) = std::fs::read_dir(format!("{root}/versions")) {
            let mut found: Vec<String> = dir
                .flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("3.12") || n.starts_with("3.13")
                })
                .map(|e| e.path().join("bin/python3").to_string_lossy().into_owned())
                .filter(|p| std::path::Path::new(p).exists())
                .collect();
            found.sort();
            out.extend(found);
        }
    }
    out
}

/// Runs `python3 -c script`; its stdout. Fails the test (with the
/// script's stderr) if the script fails.
fn python_ok(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve_mp(extra: &[&str]) -> Served {
    servers::serve_mp(extra, KEY)
}

fn serve_cpython() -> Served {
    servers::serve_cpython(KEY)
}

/// Runs a client script; its output with object addresses masked.
fn run_client(python: &str, script: &str, address: &str) -> String {
    let out = Command::new(python)
        .arg(python_dir().join(script))
        .arg(address)
        .env("MP_AUTHKEY", KEY)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{python} {script} against {address}:\n{text}"
    );
    mask_addresses(&text)
}

/// Runs `script` against CPython's own server (python3) and against mp's
/// with every client interpreter; the outputs must be the same. `marker`
/// must be in the reference output (the script ran to its end).
fn same_as_cpython(script: &str, marker: &str) {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let reference = {
        let server = serve_cpython();
        run_client("python3", script, &server.address)
    };
    assert!(reference.contains(marker), "{reference}");
    let server = serve_mp(&[]);
    for python in pythons() {
        let got = run_client(&python, script, &server.address);
        assert_eq!(got, reference, "{python} {script} against mp serve-manager");
    }
}

#[test]
fn cpython_clients_see_the_same_as_against_cpythons_server() {
    same_as_cpython("manager_client.py", "joined");
}

#[test]
fn locks_semaphores_and_events_behave_as_cpythons() {
    same_as_cpython("manager_sync.py", "RuntimeError");
}

#[test]
fn conditions_and_barriers_behave_as_cpythons() {
    same_as_cpython("manager_cond.py", "aborted");
}

/// The docs' "Using a remote manager" example, unchanged: mp serves the
/// queue, one Python client puts, another gets.
#[test]
fn the_docs_remote_queue_example() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let server = serve_mp(&["--register", "get_queue=queue"]);
    let (host, port) = server.address.rsplit_once(':').unwrap();
    let client = |body: &str| {
        let script = format!(
            "from multiprocessing.managers import BaseManager\n\
             class QueueManager(BaseManager): pass\n\
             QueueManager.register('get_queue')\n\
             m = QueueManager(address=('{host}', {port}), authkey=b'{KEY}')\n\
             m.connect()\n\
             queue = m.get_queue()\n{body}\n"
        );
        python_ok(&script)
    };
    client("queue.put('hello')");
    assert_eq!(client("print(queue.get(timeout=10))"), "hello\n");
    // A wrong key: the server refuses that client and serves the next.
    let bad = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "from multiprocessing.managers import BaseManager\n\
             m = BaseManager(address=('{host}', {port}), authkey=b'wrong')\n\
             m.connect()\n"
        ))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("AuthenticationError"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    client("queue.put('again')");
    assert_eq!(client("print(queue.get(timeout=10))"), "again\n");
    let _ = std::io::stdout().flush();
}

/// Beyond CPython: a lock held by a client that is SIGKILLed is released
/// when its connection closes, and the next client gets it (CPython's
/// server keeps it held for ever).
#[test]
fn a_lock_held_by_a_killed_client_is_released() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let server = serve_mp(&["--register", "mutex=lock"]);
    let (host, port) = server.address.rsplit_once(':').unwrap();
    let prelude = format!(
        "from multiprocessing.managers import BaseManager\n\
         import sys, time\n\
         BaseManager.register('mutex')\n\
         m = BaseManager(address=('{host}', {port}), authkey=b'{KEY}')\n\
         m.connect()\n\
         lock = m.mutex()\n"
    );
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "{prelude}print(lock.acquire(), flush=True)\ntime.sleep(120)\n"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        first_line(&mut holder),
        "True",
        "the first client took the lock"
    );
    // While it lives, the lock is held.
    let busy = python_ok(&format!("{prelude}print(lock.acquire(True, 0.2))\n"));
    assert_eq!(busy, "False\n");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let after = python_ok(&format!("{prelude}print(lock.acquire(True, 10))\n"));
    assert_eq!(after, "True\n");
}

/// Garbage after the handshake, a frame that promises a gigabyte, a silent
/// peer and a pickle that names `os.system`: each costs only its own
/// connection, nothing is executed, and the server goes on serving.
#[test]
fn hostile_peers_cost_only_their_own_connection() {
    use mp::connection::{client, Address};
    let server = serve_mp(&[]);
    let addr: Address = server.address.parse().unwrap();
    let key = KEY.as_bytes();
    // A peer that connects and says nothing.
    let _silent = std::net::TcpStream::connect(&server.address).unwrap();
    // Random bytes as a message.
    let c = client(&addr, Some(key)).unwrap();
    c.send_bytes(&[0x80, 0x04, 0xff, 0x00, 0x13, 0x37]).unwrap();
    let _ = c.recv_bytes(None);
    drop(c);
    // A frame header that promises 1 GiB, then nothing.
    let mut raw = std::net::TcpStream::connect(&server.address).unwrap();
    raw.write_all(&0x4000_0000u32.to_be_bytes()).unwrap();
    drop(raw);
    // A pickle naming os.system: stored and returned as inert data.
    let marker = std::env::temp_dir().join(format!("mp-pwned-{}", std::process::id()));
    let hostile = Value::Reduce {
        callable: Box::new(Value::global("os", "system")),
        args: Box::new(Value::Tuple(vec![Value::str(format!(
            "touch {}",
            marker.display()
        ))])),
        state: None,
    };
    let req = |ident: Value, name: &str, args: Vec<Value>| {
        Value::Tuple(vec![
            ident,
            Value::str(name),
            Value::Tuple(args),
            Value::Dict(vec![]),
        ])
    };
    let c = client(&addr, Some(key)).unwrap();
    c.send_value(&req(Value::None, "create", vec![Value::str("dict")]))
        .unwrap();
    let created = c.recv_value().unwrap();
    let ident = created.as_seq().unwrap()[1].as_seq().unwrap()[0].clone();
    let c = client(&addr, Some(key)).unwrap();
    c.send_value(&req(
        Value::None,
        "accept_connection",
        vec![Value::str("t")],
    ))
    .unwrap();
    c.recv_value().unwrap();
    c.send_value(&req(
        ident.clone(),
        "__setitem__",
        vec![Value::str("k"), hostile.clone()],
    ))
    .unwrap();
    c.recv_value().unwrap();
    c.send_value(&req(ident, "__getitem__", vec![Value::str("k")]))
        .unwrap();
    let back = c.recv_value().unwrap();
    assert_eq!(back.as_seq().unwrap()[1], hostile, "returned as it came");
    assert!(!marker.exists(), "something ran os.system");
    // An unknown server function and a method that is not exposed.
    let c2 = client(&addr, Some(key)).unwrap();
    c2.send_value(&req(Value::None, "__class__", vec![]))
        .unwrap();
    let r = c2.recv_value().unwrap();
    assert_eq!(r.as_seq().unwrap()[0], Value::str("#TRACEBACK"));
    // And everyone else is still served.
    if Command::new("python3").arg("-V").output().is_ok() {
        let (host, port) = server.address.rsplit_once(':').unwrap();
        let out = python_ok(&format!(
            "from multiprocessing.managers import SyncManager\n\
             m = SyncManager(('{host}', {port}), authkey=b'{KEY}'); m.connect()\n\
             d = m.dict(); d['a'] = 1; print(d['a'])\n"
        ));
        assert_eq!(out, "1\n");
    }
}

/// One persistent connection's worth of method calls, spoken raw.
struct Raw {
    conn: mp::connection::Connection,
}

impl Raw {
    fn request(ident: Value, name: &str, args: Vec<Value>) -> Value {
        Value::Tuple(vec![
            ident,
            Value::str(name),
            Value::Tuple(args),
            Value::Dict(vec![]),
        ])
    }

    /// `create(typeid)` on its own connection: the new object's id.
    fn create(addr: &mp::connection::Address, typeid: &str) -> Value {
        let c = mp::connection::client(addr, Some(KEY.as_bytes())).unwrap();
        c.send_value(&Self::request(
            Value::None,
            "create",
            vec![Value::str(typeid)],
        ))
        .unwrap();
        let r = c.recv_value().unwrap();
        r.as_seq().unwrap()[1].as_seq().unwrap()[0].clone()
    }

    fn connect(addr: &mp::connection::Address) -> Raw {
        let conn = mp::connection::client(addr, Some(KEY.as_bytes())).unwrap();
        conn.send_value(&Self::request(
            Value::None,
            "accept_connection",
            vec![Value::str("MainProcess")],
        ))
        .unwrap();
        conn.recv_value().unwrap();
        Raw { conn }
    }

    fn call(&self, ident: &Value, method: &str, args: Vec<Value>) -> Value {
        let (kind, result) = self.reply(ident, method, args);
        assert_eq!(kind, "#RETURN", "{method}: {result:?}");
        result
    }

    /// A method call's reply: its kind (`#RETURN`, `#TRACEBACK`...) and result.
    fn reply(&self, ident: &Value, method: &str, args: Vec<Value>) -> (String, Value) {
        self.conn
            .send_value(&Self::request(ident.clone(), method, args))
            .unwrap();
        split_reply(self.conn.recv_value().unwrap())
    }

    /// A server-level function on its own connection, as Python's client
    /// sends `incref`/`decref`: the reply's kind and result.
    fn server(addr: &mp::connection::Address, name: &str, args: Vec<Value>) -> (String, Value) {
        let c = mp::connection::client(addr, Some(KEY.as_bytes())).unwrap();
        c.send_value(&Self::request(Value::None, name, args))
            .unwrap();
        split_reply(c.recv_value().unwrap())
    }
}

fn split_reply(r: Value) -> (String, Value) {
    let r = r.as_seq().unwrap();
    (r[0].as_str().unwrap().to_string(), r[1].clone())
}

/// A proxy as a Python client pickles one into a request:
/// `RebuildProxy(ListProxy, Token(typeid, (host, port), id), 'pickle', {})`.
fn proxy_arg(typeid: &str, address: &str, id: &Value) -> Value {
    let (host, port) = address.rsplit_once(':').unwrap();
    let g = |name: &str| Value::global("multiprocessing.managers", name);
    Value::Reduce {
        callable: Box::new(g("RebuildProxy")),
        args: Box::new(Value::Tuple(vec![
            g("ListProxy"),
            Value::Object {
                class: Box::new(g("Token")),
                args: Box::new(Value::Tuple(vec![])),
                kwargs: None,
                state: Some(Box::new(Value::Tuple(vec![
                    Value::str(typeid),
                    Value::Tuple(vec![Value::str(host), Value::Int(port.parse().unwrap())]),
                    id.clone(),
                ]))),
            },
            Value::str("pickle"),
            Value::Dict(vec![]),
        ])),
        state: None,
    }
}

/// The id a proxy value names.
fn proxy_id(v: &Value) -> Value {
    let Value::Reduce { args, .. } = v else {
        panic!("not a proxy: {v:?}")
    };
    let Value::Object { state: Some(s), .. } = &args.as_seq().unwrap()[1] else {
        panic!("no token in {v:?}")
    };
    s.as_seq().unwrap()[2].clone()
}

/// 1,000 clients at once, each on its own connection, incrementing shared
/// counters under a shared lock: blocking `acquire` blocks only its own
/// connection, and every count is exact.
#[test]
fn a_thousand_concurrent_clients_keep_exact_counts() {
    const CLIENTS: usize = 1000;
    const OPS: usize = 10;
    let server = serve_mp(&["--register", "counts=dict", "--register", "mutex=lock"]);
    let addr: mp::connection::Address = server.address.parse().unwrap();
    let counts = Raw::create(&addr, "counts");
    let mutex = Raw::create(&addr, "mutex");
    let clients: Vec<Raw> = (0..CLIENTS).map(|_| Raw::connect(&addr)).collect();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let (counts, mutex) = (counts.clone(), mutex.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let key = Value::Int((i % 7) as i64);
                    for _ in 0..OPS {
                        assert_eq!(raw.call(&mutex, "acquire", vec![]), Value::Bool(true));
                        let n = raw.call(&counts, "get", vec![key.clone(), Value::Int(0)]);
                        let n = n.as_i128().unwrap() as i64;
                        raw.call(&counts, "__setitem__", vec![key.clone(), Value::Int(n + 1)]);
                        raw.call(&mutex, "release", vec![]);
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let check = Raw::connect(&addr);
    let mut total = 0;
    for k in 0..7 {
        let want = (0..CLIENTS).filter(|i| i % 7 == k).count() * OPS;
        let got = check.call(&counts, "__getitem__", vec![Value::Int(k as i64)]);
        assert_eq!(got, Value::Int(want as i64), "key {k}");
        total += want;
    }
    assert_eq!(total, CLIENTS * OPS);
}

/// Every example in `mp serve-manager --help` works as written: each
/// server line is started (on a free port instead of 50000) and the Python
/// lines under it run against it.
#[test]
fn help_examples_work_as_written() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let (help, lines) = common::help_examples("serve-manager");
    // (server line, python lines) pairs.
    let mut examples: Vec<(String, Vec<String>)> = Vec::new();
    for l in lines {
        match l.strip_prefix("#") {
            Some(py) if py.starts_with("   ") => {
                examples.last_mut().unwrap().1.push(py[3..].to_string())
            }
            Some(_) => {}
            None => examples.push((l.to_string(), Vec::new())),
        }
    }
    assert_eq!(examples.len(), 2, "{help}");
    for (server_line, python) in examples {
        assert!(!python.is_empty(), "{server_line}: no Python lines");
        let (env, rest) = server_line.split_once(' ').unwrap();
        let (key_var, key) = env.split_once('=').unwrap();
        assert_eq!(key_var, "MP_AUTHKEY", "{server_line}");
        let args: Vec<&str> = rest
            .split_whitespace()
            .skip(1) // "mp"
            .map(|a| {
                if a == "127.0.0.1:50000" {
                    "127.0.0.1:0"
                } else {
                    a
                }
            })
            .collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mp"))
            .args(&args)
            .env("MP_AUTHKEY", key)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let address = first_line(&mut child);
        let server = Served {
            child,
            address,
            graceful: false,
        };
        let port = server.address.rsplit_once(':').unwrap().1;
        let script = python.join("\n").replace("50000", port);
        let out = python_ok(&script);
        if script.contains("print(d.copy())") {
            assert_eq!(out, "{'a': 1}\n", "{server_line}");
        }
    }
}

#[test]
fn every_typeid_and_method_behaves_as_cpythons() {
    same_as_cpython("manager_types.py", "all typeids done");
}

#[test]
fn nested_proxies_behave_as_cpythons() {
    same_as_cpython("manager_nested.py", "nested done");
}

/// The docs' manager examples (a child process changing a dict and a list,
/// Namespace, a list proxy), by address.
#[test]
fn the_docs_manager_examples() {
    same_as_cpython("manager_docs.py", "docs done");
}

/// Python 3.14's additions, called as a 3.14 proxy calls them, answer what
/// the same operations give on local Python objects (computed by python3).
#[test]
fn python_314_additions_answer_as_python_does() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let want = run_client("python3", "manager_py314.py", "local");
    assert!(want.contains("py314 done"), "{want}");
    assert!(
        want.contains("NotImplemented") && want.contains("KeyError"),
        "{want}"
    );
    let server = serve_mp(&[]);
    for python in pythons() {
        let got = run_client(&python, "manager_py314.py", &server.address);
        assert_eq!(got, want, "{python} against mp serve-manager");
    }
}

/// A proxy stored in a container keeps its object alive after the client's
/// own reference goes; taken out again, it lives until the client's next
/// request on that connection (time to rebuild and incref it), then goes;
/// a container that goes releases what it held. Tokens naming another
/// server are stored as data; a token naming an object this server does not
/// have is CPython's KeyError.
#[test]
fn a_stored_proxy_keeps_its_object_alive_until_it_is_let_go() {
    let server = serve_mp(&[]);
    let addr: mp::connection::Address = server.address.parse().unwrap();
    let alive = |id: &Value| {
        let (kind, _) = Raw::server(&addr, "incref", vec![id.clone()]);
        if kind == "#RETURN" {
            assert_eq!(Raw::server(&addr, "decref", vec![id.clone()]).0, "#RETURN");
        }
        kind == "#RETURN"
    };
    let count = || Raw::server(&addr, "number_of_objects", vec![]).1;
    let a = Raw::create(&addr, "list");
    let b = Raw::create(&addr, "list");
    let conn = Raw::connect(&addr);
    conn.call(&a, "append", vec![proxy_arg("list", &server.address, &b)]);
    // The client's last reference to b goes; a still holds it.
    assert_eq!(Raw::server(&addr, "decref", vec![b.clone()]).0, "#RETURN");
    assert_eq!(count(), Value::Int(1), "only a has a client reference");
    assert!(alive(&b), "a keeps b alive");
    conn.call(&b, "append", vec![Value::str("hello")]);
    let repr = conn.call(&a, "__repr__", vec![]);
    assert!(
        repr.as_str()
            .unwrap()
            .starts_with("[<ListProxy object, typeid 'list' at 0x"),
        "{repr:?}"
    );
    // Out of the container, in a reply: alive until this connection's
    // next request.
    let popped = conn.call(&a, "pop", vec![]);
    assert_eq!(proxy_id(&popped), b);
    assert!(alive(&b), "the reply keeps b alive for the client's incref");
    assert_eq!(conn.call(&a, "__len__", vec![]), Value::Int(0));
    assert!(!alive(&b), "b went once nothing referred to it");
    // A container that goes releases what it held, however deep.
    let c = Raw::create(&addr, "list");
    let d = Raw::create(&addr, "dict");
    let nested = Value::List(vec![Value::Dict(vec![(
        Value::str("deep"),
        proxy_arg("list", &server.address, &c),
    )])]);
    conn.call(&d, "__setitem__", vec![Value::str("k"), nested]);
    assert_eq!(Raw::server(&addr, "decref", vec![c.clone()]).0, "#RETURN");
    assert!(alive(&c));
    assert_eq!(Raw::server(&addr, "decref", vec![d.clone()]).0, "#RETURN");
    assert!(!alive(&d) && !alive(&c), "d and what it held are gone");
    // Another server's token: kept and returned as it came.
    let foreign = proxy_arg("list", "10.9.8.7:1", &Value::str("7fdeadbeef"));
    conn.call(&a, "append", vec![foreign.clone()]);
    assert_eq!(conn.call(&a, "__getitem__", vec![Value::Int(0)]), foreign);
    // This server's address, an id it does not have.
    let ghost = proxy_arg("list", &server.address, &Value::str("7f0000000bad"));
    let (kind, text) = conn.reply(&a, "append", vec![ghost]);
    assert_eq!(kind, "#TRACEBACK");
    assert!(
        text.as_str().unwrap().contains("KeyError: '7f0000000bad'"),
        "{text:?}"
    );
    assert_eq!(conn.call(&a, "__len__", vec![]), Value::Int(1));
}

/// The object caps: going over is a clear RemoteError for the request that
/// would have gone over, the server goes on serving (that client and
/// others), and releasing objects makes room again.
#[test]
fn object_caps_are_clear_errors_and_the_server_goes_on() {
    let server = serve_mp(&["--max-objects", "8", "--max-objects-per-connection", "3"]);
    let addr: mp::connection::Address = server.address.parse().unwrap();
    let d = Raw::create(&addr, "dict");
    let conn = Raw::connect(&addr);
    conn.call(&d, "__setitem__", vec![Value::str("k"), Value::Int(1)]);
    // Iterators this connection creates count against it.
    let iterator = |raw: &Raw| {
        let (kind, result) = raw.reply(&d, "__iter__", vec![]);
        match kind.as_str() {
            "#PROXY" => Ok(proxy_token_id(&result)),
            _ => Err(result.as_str().unwrap().to_string()),
        }
    };
    let mine: Vec<Value> = (0..3).map(|_| iterator(&conn).unwrap()).collect();
    let refused = iterator(&conn).unwrap_err();
    assert!(
        refused.contains("--max-objects-per-connection 3") && refused.contains("MemoryError"),
        "{refused}"
    );
    // The same connection is still served; another connection has its own count.
    assert_eq!(conn.call(&d, "__len__", vec![]), Value::Int(1));
    let other = Raw::connect(&addr);
    let theirs = iterator(&other).unwrap();
    assert_eq!(other.call(&theirs, "__next__", vec![]), Value::str("k"));
    // Released, one makes room again.
    assert_eq!(
        Raw::server(&addr, "decref", vec![mine[0].clone()]).0,
        "#RETURN"
    );
    let again = iterator(&conn).unwrap();
    // Alive now: d, 3 of conn's iterators, 1 of other's. The total cap
    // (8) leaves room for 3 more.
    let mut made = Vec::new();
    let refused = loop {
        let c = mp::connection::client(&addr, Some(KEY.as_bytes())).unwrap();
        c.send_value(&Raw::request(
            Value::None,
            "create",
            vec![Value::str("list")],
        ))
        .unwrap();
        let (kind, result) = split_reply(c.recv_value().unwrap());
        if kind != "#RETURN" {
            assert_eq!(kind, "#TRACEBACK");
            break result.as_str().unwrap().to_string();
        }
        made.push(result.as_seq().unwrap()[0].clone());
        assert!(made.len() <= 3, "the cap let more than 8 objects live");
    };
    assert_eq!(made.len(), 3);
    assert!(refused.contains("--max-objects 8"), "{refused}");
    assert_eq!(other.call(&again, "__next__", vec![]), Value::str("k"));
    assert_eq!(
        Raw::server(&addr, "decref", vec![made[0].clone()]).0,
        "#RETURN"
    );
    Raw::create(&addr, "list");
}

/// The id in a `#PROXY` reply's token.
fn proxy_token_id(result: &Value) -> Value {
    let Value::Object { state: Some(s), .. } = &result.as_seq().unwrap()[1] else {
        panic!("no token in {result:?}")
    };
    s.as_seq().unwrap()[2].clone()
}

/// A request over --max-message: that client gets a RemoteError naming the
/// limit, and is served again on a new connection (another thread), as is
/// everyone else.
#[test]
fn an_oversize_request_is_refused_on_its_connection_only() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let server = serve_mp(&["--max-message", "4096"]);
    let (host, port) = server.address.rsplit_once(':').unwrap();
    let prelude = format!(
        "import threading\n\
         from multiprocessing.managers import SyncManager, RemoteError\n\
         m = SyncManager(('{host}', {port}), authkey=b'{KEY}'); m.connect()\n"
    );
    let out = python_ok(&format!(
        "{prelude}d = m.dict()\n\
         try:\n    d['k'] = 'x' * 10000\n    print('accepted')\n\
         except RemoteError as e:\n    print('refused', '--max-message' in str(e), '10' in str(e))\n\
         out = []\n\
         t = threading.Thread(target=lambda: out.append((d.get('k', 'absent'), d.__setitem__('k', 'small'), d['k'])))\n\
         t.start(); t.join(); print(out)\n"
    ));
    assert_eq!(out, "refused True True\n[('absent', None, 'small')]\n");
    let out = python_ok(&format!("{prelude}l = m.list([1]); print(l[0])\n"));
    assert_eq!(out, "1\n");
}

/// Random requests answered without a socket (`Server::answer_detached`,
/// what the fuzz target drives; fuzzing itself needs nightly): real method
/// names of every non-blocking kind with arguments that go where Python's
/// would not (slices with huge bounds, arrays of every typecode, proxies,
/// nested containers), and random bytes. The server never panics and every
/// reply decodes.
#[test]
fn random_requests_never_panic_the_server() {
    use mp::managers::server::{Server, ServerLimits};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let address: mp::connection::Address = "127.0.0.1:1".parse().unwrap();
    let limits = ServerLimits {
        max_objects: 5_000,
        max_objects_per_connection: 500,
        max_message: 1 << 20,
    };
    let server = Server::with_limits(address, std::collections::HashMap::new(), limits);
    let request = |ident: Value, method: &str, args: Vec<Value>| {
        mp::pickle::dumps(&Raw::request(ident, method, args))
    };
    let answer =
        |bytes: &[u8]| split_reply(mp::pickle::loads(&server.answer_detached(bytes)).unwrap());
    let kinds: Vec<Vec<Value>> = vec![
        vec![
            Value::str("dict"),
            Value::Dict(vec![(Value::Int(1), Value::str("a"))]),
        ],
        vec![
            Value::str("list"),
            Value::List((0..5).map(Value::Int).collect()),
        ],
        vec![
            Value::str("set"),
            Value::List((0..5).map(Value::Int).collect()),
        ],
        vec![Value::str("Namespace")],
        vec![Value::str("Value"), Value::str("i"), Value::Int(1)],
        vec![
            Value::str("Array"),
            Value::str("h"),
            Value::List((0..5).map(Value::Int).collect()),
        ],
    ];
    let methods = [
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__contains__",
        "__len__",
        "__iter__",
        "__reversed__",
        "__add__",
        "__mul__",
        "__rmul__",
        "__imul__",
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "index",
        "count",
        "sort",
        "reverse",
        "clear",
        "copy",
        "get",
        "items",
        "keys",
        "values",
        "update",
        "setdefault",
        "popitem",
        "fromkeys",
        "__or__",
        "__ror__",
        "__ior__",
        "add",
        "discard",
        "union",
        "intersection",
        "difference",
        "symmetric_difference",
        "symmetric_difference_update",
        "intersection_update",
        "difference_update",
        "issubset",
        "issuperset",
        "isdisjoint",
        "__and__",
        "__rand__",
        "__xor__",
        "__sub__",
        "__rsub__",
        "__iand__",
        "__isub__",
        "__ixor__",
        "__le__",
        "__lt__",
        "__ge__",
        "__gt__",
        "__class_getitem__",
        "__getattribute__",
        "__setattr__",
        "__delattr__",
        "set",
        "#GETVALUE",
        "__repr__",
        "__str__",
        "nonesuch",
    ];
    let big = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::from_i128),
        (-3i64..8).prop_map(Value::Int),
        prop_oneof![
            Just(i128::MAX),
            Just(i128::MIN),
            Just(i128::MAX / 2),
            Just(i128::MIN + 1)
        ]
        .prop_map(Value::from_i128),
    ];
    let opt = prop_oneof![Just(Value::None), big.clone()];
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        big.clone(),
        any::<f64>().prop_map(Value::Float),
        "[a-c]{0,3}".prop_map(Value::str),
        proptest::collection::vec(any::<u8>(), 0..9).prop_map(Value::Bytes),
        (opt.clone(), opt.clone(), opt).prop_map(|(a, b, c)| Value::Reduce {
            callable: Box::new(Value::global("builtins", "slice")),
            args: Box::new(Value::Tuple(vec![a, b, c])),
            state: None,
        }),
        (big.clone(), big).prop_map(|(a, b)| Value::Reduce {
            callable: Box::new(Value::global("builtins", "range")),
            args: Box::new(Value::Tuple(vec![a, b])),
            state: None,
        }),
        (
            "[bBuwhHiIlLqQfdx]",
            proptest::collection::vec(any::<u8>(), 0..17)
        )
            .prop_map(|(code, bytes)| Value::Reduce {
                callable: Box::new(Value::global("array", "array")),
                args: Box::new(Value::Tuple(vec![Value::str(code), Value::Bytes(bytes)])),
                state: None,
            }),
        "7f[0-9a-f]{0,3}".prop_map(|id| proxy_arg("list", "127.0.0.1:1", &Value::str(id))),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Dict),
        ]
    });
    let case = (
        0..kinds.len(),
        0..methods.len(),
        proptest::collection::vec(value, 0..4),
        proptest::collection::vec(any::<u8>(), 0..64),
    );
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case, |(kind, method, args, noise)| {
        let (k, created) = answer(&request(Value::None, "create", kinds[kind].clone()));
        prop_assert_eq!(k, "#RETURN");
        let ident = created.as_seq().unwrap()[0].clone();
        let (k, _) = answer(&request(ident.clone(), methods[method], args.clone()));
        prop_assert!(k.starts_with('#'));
        // The same call as a server-level function, and random bytes.
        answer(&request(Value::None, methods[method], args));
        answer(&noise);
        let (k, _) = answer(&request(Value::None, "decref", vec![ident]));
        prop_assert_eq!(k, "#RETURN");
        Ok(())
    });
    result.unwrap();
    // What the requests created and let go is gone (iterators that were
    // never decref'ed stay: a client still "holds" them).
    let (_, n) = answer(&request(Value::None, "number_of_objects", vec![]));
    assert!(n.as_i128().unwrap() <= 500, "{n:?} objects left");
}

/// Numbers at the edges: slices whose step overflows an i128, a range
/// spanning all of i128, a semaphore released past usize::MAX. Answers,
/// not panics.
#[test]
fn extreme_numbers_are_answered() {
    let server = serve_mp(&[]);
    let addr: mp::connection::Address = server.address.parse().unwrap();
    let l = Raw::create(&addr, "list");
    let conn = Raw::connect(&addr);
    let slice = |a: i128, b: i128, c: i128| Value::Reduce {
        callable: Box::new(Value::global("builtins", "slice")),
        args: Box::new(Value::Tuple(vec![
            Value::from_i128(a),
            Value::from_i128(b),
            Value::from_i128(c),
        ])),
        state: None,
    };
    conn.call(
        &l,
        "extend",
        vec![Value::List((0..5).map(Value::Int).collect())],
    );
    let got = conn.call(&l, "__getitem__", vec![slice(1, 5, i128::MAX)]);
    assert_eq!(got, Value::List(vec![Value::Int(1)]));
    let got = conn.call(&l, "__getitem__", vec![slice(3, -9, i128::MIN)]);
    assert_eq!(got, Value::List(vec![Value::Int(3)]));
    let range = Value::Reduce {
        callable: Box::new(Value::global("builtins", "range")),
        args: Box::new(Value::Tuple(vec![
            Value::from_i128(i128::MIN + 1),
            Value::from_i128(i128::MAX),
            Value::from_i128(1 << 126),
        ])),
        state: None,
    };
    conn.call(&l, "extend", vec![range]);
    assert_eq!(conn.call(&l, "__len__", vec![]), Value::Int(9));
    let c = mp::connection::client(&addr, Some(KEY.as_bytes())).unwrap();
    c.send_value(&Raw::request(
        Value::None,
        "create",
        vec![Value::str("Semaphore"), Value::from_i128(1 << 100)],
    ))
    .unwrap();
    let (_, created) = split_reply(c.recv_value().unwrap());
    let sem = created.as_seq().unwrap()[0].clone();
    conn.call(&sem, "release", vec![]);
    assert_eq!(
        conn.call(&sem, "acquire", vec![Value::Bool(false)]),
        Value::Bool(true)
    );
}

/// Hand-written pickles for the nesting tests: a value nested `n` deep
/// (innermost at depth `n - 1` below the outermost), and a request frame
/// carrying raw argument pickles.
mod deep {
    fn s(x: &str) -> Vec<u8> {
        let mut out = vec![0x8c, x.len() as u8];
        out.extend_from_slice(x.as_bytes());
        out
    }

    /// `[[[...]]]`: n EMPTY_LISTs, then n - 1 APPENDs.
    pub fn list(n: usize) -> Vec<u8> {
        let mut out = vec![b']'; n];
        out.extend(std::iter::repeat_n(b'a', n - 1));
        out
    }

    /// `((((),),),)`: EMPTY_TUPLE, then n - 1 TUPLE1s (hashable: a dict key).
    pub fn tuple(n: usize) -> Vec<u8> {
        let mut out = vec![b')'];
        out.extend(std::iter::repeat_n(0x85, n - 1));
        out
    }

    /// `{'a': {'a': ...{}}}`: n dicts, then n - 1 SETITEMs.
    pub fn dict(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n - 1 {
            out.push(b'}');
            out.extend(s("a"));
        }
        out.push(b'}');
        out.extend(std::iter::repeat_n(b's', n - 1));
        out
    }

    /// `(ident, method, (args...), {})` pickled; `args` are pickles of
    /// the arguments without PROTO/STOP.
    pub fn request(ident: &str, method: &str, args: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0x80, 4, b'('];
        out.extend(s(ident));
        out.extend(s(method));
        out.push(b'(');
        for a in args {
            out.extend_from_slice(a);
        }
        out.extend_from_slice(b"t}t.");
        out
    }

    pub fn str_arg(x: &str) -> Vec<u8> {
        s(x)
    }
}

/// The deepest value the unpickler accepts goes through every path that
/// recurses over a value in the server (pickling a reply, repr, hashing,
/// equality, copying, dropping), on the connection thread's own stack
/// (`CONN_STACK` in src/managers/server.rs), for lists, tuples and dicts;
/// one level deeper is refused without taking the server down, and the
/// server goes on serving.
#[test]
fn the_deepest_allowed_values_are_served_and_deeper_ones_refused() {
    // Values this deep are compared and dropped here too, on a thread with
    // room for them (a debug build's test thread might not have it).
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(deepest_allowed_values)
        .unwrap()
        .join()
        .unwrap();
}

fn deepest_allowed_values() {
    use mp::pickle::{loads, loads_with, Limits};
    let server = serve_mp(&[]);
    let addr: mp::connection::Address = server.address.parse().unwrap();
    // The request tuple is at depth 0 and its args tuple at 1, so a value
    // passed as an argument may nest max_depth - 1 levels.
    let max = Limits::default().max_depth - 1;
    let ident = |typeid| match Raw::create(&addr, typeid) {
        Value::Str(s) => s.to_string_lossy().into_owned(),
        other => panic!("{other:?}"),
    };
    let (d, l, ns, q) = (
        ident("dict"),
        ident("list"),
        ident("Namespace"),
        ident("Queue"),
    );
    let raw = Raw::connect(&addr);
    // A reply nests a little deeper than what was sent ((kind, [(k, v)])).
    let roomy = Limits {
        max_depth: 2 * Limits::default().max_depth,
        ..Limits::default()
    };
    let call = |ident: &str, method: &str, args: &[&[u8]]| -> Value {
        raw.conn
            .send_bytes(&deep::request(ident, method, args))
            .unwrap();
        let reply = raw.conn.recv_bytes(None).unwrap_or_else(|e| {
            panic!("{method} on a value nested {max} deep: no reply ({e}); did the server die?")
        });
        let reply = loads_with(&reply, &roomy).unwrap();
        let r = reply.as_seq().unwrap();
        assert_eq!(r[0], Value::str("#RETURN"), "{method}: {:?}", r[1]);
        r[1].clone()
    };
    let k = deep::str_arg("k");
    for (shape, v) in [
        ("list", deep::list(max)),
        ("tuple", deep::tuple(max)),
        ("dict", deep::dict(max)),
    ] {
        let mut whole = vec![0x80, 4];
        whole.extend_from_slice(&v);
        whole.push(b'.');
        let value = loads(&whole).unwrap_or_else(|e| panic!("{shape}: {e}"));
        call(&d, "__setitem__", &[&k, &v]);
        assert!(call(&d, "__getitem__", &[&k]) == value, "{shape}");
        for method in [
            "__repr__",
            "__str__",
            "items",
            "values",
            "copy",
            "#GETVALUE",
        ] {
            call(&d, method, &[]);
        }
        if shape == "tuple" {
            // Hashing: the deep tuple as a key.
            call(&d, "__setitem__", &[&v, &k]);
            assert_eq!(call(&d, "get", &[&v]), Value::str("k"));
            assert_eq!(call(&d, "__contains__", &[&v]), Value::Bool(true));
        }
        call(&l, "append", &[&v]);
        call(&l, "append", &[&v]);
        assert_eq!(call(&l, "count", &[&v]), Value::Int(2), "{shape}");
        assert_eq!(call(&l, "index", &[&v]), Value::Int(0), "{shape}");
        for method in ["__repr__", "#GETVALUE"] {
            call(&l, method, &[]);
        }
        call(&ns, "__setattr__", &[&deep::str_arg("a"), &v]);
        for method in ["__repr__", "#GETVALUE"] {
            call(&ns, method, &[]);
        }
        call(&q, "put", &[&v]);
        assert!(call(&q, "get", &[]) == value, "{shape}");
        // Dropping: every copy the server holds goes.
        call(&l, "pop", &[]);
        call(&l, "pop", &[]);
        call(&d, "clear", &[]);
        call(&ns, "__delattr__", &[&deep::str_arg("a")]);
    }
    // One level deeper: refused (CPython would answer a #TRACEBACK; mp
    // closes the connection), and only that connection is affected.
    let bad = Raw::connect(&addr);
    bad.conn
        .send_bytes(&deep::request(
            &d,
            "__setitem__",
            &[&k, &deep::list(max + 1)],
        ))
        .unwrap();
    if let Ok(reply) = bad.conn.recv_bytes(None) {
        let reply = loads(&reply).unwrap();
        assert_eq!(
            reply.as_seq().unwrap()[0],
            Value::str("#TRACEBACK"),
            "{reply:?}"
        );
    }
    let after = Raw::connect(&addr);
    let d = Value::str(d.as_str());
    after.call(&d, "__setitem__", vec![Value::str("x"), Value::Int(1)]);
    assert_eq!(
        after.call(&d, "__getitem__", vec![Value::str("x")]),
        Value::Int(1)
    );
}

/// Raises this process's soft RLIMIT_NOFILE to at least `want` (children
/// started afterwards inherit it). False if the hard limit is lower.
fn raise_nofile(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return false;
    }
    if lim.rlim_cur >= want {
        return true;
    }
    if lim.rlim_max < want {
        return false;
    }
    lim.rlim_cur = want;
    // SAFETY: setrlimit reads the struct; raising the soft limit up to the
    // hard one needs no privilege.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// A `name:   value kB` line of /proc/PID/status, as a number.
fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// 1,000 idle connections (each authenticated and past accept_connection,
/// as a proxy's) cost mp serve-manager at most 64 MiB of RSS in all, and a
/// new client is still served while they stay open. This runs the debug
/// build, ~60 MiB (52 KiB a connection, 44 of them touched thread stack);
/// a release build takes ~24 MiB. Before the connection read buffer
/// started small each held 64 KiB of it, 82 MiB in a release build
/// (bench/managers_idle.sh measures it next to CPython's server and Redis).
#[test]
fn a_thousand_idle_connections_fit_in_64_mib() {
    const IDLE: usize = 1000;
    const LIMIT_KIB: u64 = 64 * 1024;
    // Ours (1,000 clients) and the server's (it inherits the limit).
    if !raise_nofile(IDLE as u64 + 200) {
        eprintln!(
            "NOTICE: RLIMIT_NOFILE cannot reach {}; skipping",
            IDLE + 200
        );
        return;
    }
    let server = serve_mp(&[]);
    let pid = server.child.id();
    let addr: mp::connection::Address = server.address.parse().unwrap();
    let before = proc_status(pid, "VmRSS");
    // Raw::connect returns once the server answered accept_connection, so
    // every connection's thread exists and has served a request.
    let idle: Vec<Raw> = (0..IDLE).map(|_| Raw::connect(&addr)).collect();
    let (rss, hwm, threads) = (
        proc_status(pid, "VmRSS"),
        proc_status(pid, "VmHWM"),
        proc_status(pid, "Threads"),
    );
    assert!(
        threads > IDLE as u64,
        "{threads} threads for {IDLE} connections"
    );
    assert!(
        rss <= LIMIT_KIB,
        "mp serve-manager: VmRSS {rss} KiB (VmHWM {hwm}) with {IDLE} idle connections, \
         {before} KiB before; the bound is {LIMIT_KIB} KiB"
    );
    eprintln!(
        "VmRSS {before} KiB idle, {rss} KiB with {IDLE} idle connections ({} KiB each)",
        (rss - before) / IDLE as u64
    );
    // A newcomer is served while the others stay connected.
    let d = Raw::create(&addr, "dict");
    let fresh = Raw::connect(&addr);
    fresh.call(&d, "__setitem__", vec![Value::str("k"), Value::Int(7)]);
    assert_eq!(
        fresh.call(&d, "__getitem__", vec![Value::str("k")]),
        Value::Int(7)
    );
    drop(idle);
}
