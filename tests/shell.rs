//! Shared state from the shell: `mp queue`, `mp dict`, `mp list`,
//! `mp value`, `mp lock`, `mp semaphore`, `mp event`, `mp barrier` against
//! `mp serve-manager`, as scripts use them, and the same objects from
//! Python and Rust.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mp::managers::{BarrierProxy, DictProxy, LockProxy, QueueProxy, SyncManager};

mod common;
mod servers;

use common::{show, text, wait_until};
use servers::{python_dir, serve_mp, Served};

const KEY: &str = "shell-secret";

fn serve() -> Served {
    serve_mp(&[], KEY)
}

/// `mp ARGS...` against `server`, the key in the environment.
fn mp(server: &Served, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mp"));
    c.args(args)
        .env("MP_ADDRESS", &server.address)
        .env("MP_AUTHKEY", KEY)
        .env_remove("MP_AUTHKEY_FILE");
    c
}

fn run(server: &Served, args: &[&str]) -> Output {
    mp(server, args).stdin(Stdio::null()).output().unwrap()
}

/// Runs and checks the exit code; the stdout.
fn expect(server: &Served, args: &[&str], code: i32) -> String {
    let out = run(server, args);
    assert_eq!(out.status.code(), Some(code), "mp {args:?}\n{}", show(&out));
    text(&out.stdout)
}

fn ok(server: &Served, args: &[&str]) -> String {
    expect(server, args, 0)
}

/// A Rust client of the same server.
fn manager(server: &Served) -> SyncManager {
    SyncManager::connect(&server.address.parse().unwrap(), Some(KEY.as_bytes())).unwrap()
}

/// The server's connection threads blocked in a wait (a `Queue.get`,
/// `acquire`, `Event.wait`, `Barrier.wait`): futex waits, where idle
/// connections wait in a socket read.
fn blocked_calls(server: &Served) -> usize {
    let dir = format!("/proc/{}/task", server.child.id());
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|t| t.ok())
                .filter(|t| {
                    let p = t.path();
                    let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
                    let wchan = std::fs::read_to_string(p.join("wchan")).unwrap_or_default();
                    comm.trim() == "mp-manager-conn" && wchan.contains("futex")
                })
                .count()
        })
        .unwrap_or(0)
}

fn wait_blocked(server: &Served, n: usize) {
    assert!(
        wait_until(Duration::from_secs(20), || blocked_calls(server) == n),
        "expected {n} blocked calls on the server, see {}",
        blocked_calls(server)
    );
}

fn finish(mut child: Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("mp did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Died of SIGINT (what the shell shows as 130), or exited 130.
fn interrupted(s: std::process::ExitStatus) -> bool {
    s.signal() == Some(libc::SIGINT) || s.code() == Some(130)
}

#[test]
fn queue_verbs() {
    let s = serve();
    ok(&s, &["queue", "put", "jobs", "a", "b c", "d"]);
    assert_eq!(ok(&s, &["queue", "size", "jobs"]), "3\n");
    assert_eq!(ok(&s, &["queue", "get", "jobs"]), "a\n");
    assert_eq!(ok(&s, &["queue", "get", "--nowait", "jobs"]), "b c\n");
    assert_eq!(ok(&s, &["queue", "get", "jobs", "--timeout", "1"]), "d\n");
    assert_eq!(expect(&s, &["queue", "get", "--nowait", "jobs"], 1), "");
    // --json values are Python objects; strings print as they are.
    ok(
        &s,
        &[
            "queue",
            "put",
            "--json",
            "jobs",
            r#"{"n": [1, 2.5, null, true]}"#,
            "7",
        ],
    );
    assert_eq!(
        ok(&s, &["queue", "get", "--json", "jobs"]),
        "{\"n\":[1,2.5,null,true]}\n"
    );
    assert_eq!(ok(&s, &["queue", "get", "jobs"]), "7\n");
    let out = run(&s, &["queue", "put", "--json", "jobs", "not json"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    // task-done and join: join returns once every item was done.
    ok(&s, &["queue", "put", "work", "1", "2"]);
    let joiner = mp(&s, &["queue", "join", "work"]).spawn().unwrap();
    wait_blocked(&s, 1);
    for _ in 0..2 {
        ok(&s, &["queue", "get", "work"]);
        ok(&s, &["queue", "task-done", "work"]);
    }
    assert!(finish(joiner, Duration::from_secs(10)).success());
    let out = run(&s, &["queue", "task-done", "work"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(text(&out.stderr).contains("task_done() called too many times"));
}

#[test]
fn dict_verbs() {
    let s = serve();
    ok(&s, &["dict", "set", "cfg", "mode", "fast"]);
    ok(
        &s,
        &["dict", "set", "--json", "cfg", "limits", r#"{"cpu": 4}"#],
    );
    assert_eq!(ok(&s, &["dict", "get", "cfg", "mode"]), "fast\n");
    assert_eq!(ok(&s, &["dict", "get", "cfg", "limits"]), "{\"cpu\":4}\n");
    assert_eq!(expect(&s, &["dict", "get", "cfg", "nope"], 1), "");
    assert_eq!(ok(&s, &["dict", "keys", "cfg"]), "mode\nlimits\n");
    assert_eq!(ok(&s, &["dict", "len", "cfg"]), "2\n");
    assert_eq!(
        ok(&s, &["dict", "items", "cfg"]),
        "mode\tfast\nlimits\t{\"cpu\":4}\n"
    );
    assert_eq!(
        ok(&s, &["dict", "items", "--json", "cfg"]),
        "{\"mode\":\"fast\",\"limits\":{\"cpu\":4}}\n"
    );
    ok(&s, &["dict", "del", "cfg", "mode"]);
    expect(&s, &["dict", "del", "cfg", "mode"], 1);
    // incr: a number from nothing, any step, atomic on the server.
    assert_eq!(ok(&s, &["dict", "incr", "counts", "a"]), "1\n");
    assert_eq!(ok(&s, &["dict", "incr", "counts", "a", "41"]), "42\n");
    assert_eq!(ok(&s, &["dict", "incr", "counts", "a", "-2"]), "40\n");
    assert_eq!(ok(&s, &["dict", "incr", "counts", "b", "0.5"]), "0.5\n");
    ok(&s, &["dict", "set", "counts", "s", "text"]);
    let out = run(&s, &["dict", "incr", "counts", "s"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(text(&out.stderr).contains("unsupported operand type(s) for +: 'str' and 'int'"));
    let out = run(&s, &["dict", "incr", "counts", "a", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn list_value_verbs() {
    let s = serve();
    ok(&s, &["list", "append", "res", "one", "two"]);
    ok(&s, &["list", "append", "--json", "res", "3"]);
    assert_eq!(ok(&s, &["list", "len", "res"]), "3\n");
    assert_eq!(ok(&s, &["list", "get", "res", "0"]), "one\n");
    assert_eq!(ok(&s, &["list", "get", "res", "-1"]), "3\n");
    expect(&s, &["list", "get", "res", "3"], 1);
    assert_eq!(ok(&s, &["list", "items", "res"]), "one\ntwo\n3\n");
    assert_eq!(
        ok(&s, &["list", "items", "--json", "res"]),
        "[\"one\",\"two\",3]\n"
    );

    assert_eq!(expect(&s, &["value", "get", "phase"], 1), "");
    ok(&s, &["value", "set", "phase", "loading"]);
    assert_eq!(ok(&s, &["value", "get", "phase"]), "loading\n");
    ok(&s, &["value", "set", "--json", "phase", "0.75"]);
    assert_eq!(ok(&s, &["value", "get", "--json", "phase"]), "0.75\n");
}

#[test]
fn event_and_barrier_verbs() {
    let s = serve();
    expect(&s, &["event", "is-set", "ready"], 1);
    let t = Instant::now();
    expect(&s, &["event", "wait", "ready", "--timeout", "0.3"], 1);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let waiter = mp(&s, &["event", "wait", "ready"]).spawn().unwrap();
    wait_blocked(&s, 1);
    ok(&s, &["event", "set", "ready"]);
    assert!(finish(waiter, Duration::from_secs(10)).success());
    ok(&s, &["event", "is-set", "ready"]);
    ok(&s, &["event", "clear", "ready"]);
    expect(&s, &["event", "is-set", "ready"], 1);

    // Three parties: the first two wait for the third.
    let a = mp(&s, &["barrier", "wait", "b", "--parties", "3"])
        .spawn()
        .unwrap();
    let b = mp(&s, &["barrier", "wait", "b", "-n", "3"])
        .spawn()
        .unwrap();
    wait_blocked(&s, 2);
    ok(&s, &["barrier", "wait", "b", "--parties", "3"]);
    assert!(finish(a, Duration::from_secs(10)).success());
    assert!(finish(b, Duration::from_secs(10)).success());
    // Another count for the same barrier is a usage error naming both.
    let out = run(&s, &["barrier", "wait", "b", "--parties", "4"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("3 parties, not 4"),
        "{}",
        show(&out)
    );
    // A timeout breaks it (exit 1) until a reset.
    expect(
        &s,
        &["barrier", "wait", "b", "-n", "3", "--timeout", "0.2"],
        1,
    );
    expect(
        &s,
        &["barrier", "wait", "b", "-n", "3", "--timeout", "5"],
        1,
    );
    ok(&s, &["barrier", "reset", "b"]);
    let m = manager(&s);
    let bp: BarrierProxy = m.get("b").unwrap();
    assert!(!bp.broken().unwrap());
}

#[test]
fn a_name_of_another_type_is_a_usage_error_naming_both_types() {
    let s = serve();
    ok(&s, &["queue", "put", "jobs", "x"]);
    let out = run(&s, &["dict", "get", "jobs", "k"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(err.contains("'jobs' is a Queue, not a dict"), "{err}");
    let out = run(&s, &["lock", "jobs", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    assert!(text(&out.stderr).contains("'jobs' is a Queue, not a Lock"));
    // A SyncManager typeid cannot be a name.
    let out = run(&s, &["dict", "set", "dict", "k", "v"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    // Names declared with --register have their declared type.
    let s = serve_mp(&["--register", "slots=boundedsemaphore:2"], KEY);
    ok(&s, &["semaphore", "slots", "-n", "2", "--", "true"]);
    let out = run(&s, &["semaphore", "slots", "-n", "3", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("2 permits, not 3"),
        "{}",
        show(&out)
    );
}

#[test]
fn lock_and_semaphore_run_the_command_and_pass_its_status() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&s, &["lock", "L", "--", "sh", "-c", "echo inside; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_eq!(text(&out.stdout), "inside\n");
    expect(&s, &["lock", "L", "--", "/nonexistent/command"], 127);
    expect(&s, &["lock", "L", "--", dir.path().to_str().unwrap()], 126);
    // Held elsewhere (a Rust client): --timeout gives up with 124.
    let m = manager(&s);
    let l: LockProxy = m.named("L", "Lock", vec![]).unwrap();
    l.acquire().unwrap();
    let t = Instant::now();
    let out = run(&s, &["lock", "L", "--timeout", "0.5", "--", "touch", "ran"]);
    assert_eq!(out.status.code(), Some(124), "{}", show(&out));
    assert!(t.elapsed() >= Duration::from_millis(500));
    l.release().unwrap();
    // A semaphore of 2: two holders at once, a third waits.
    let gate = dir.path().join("gate");
    let holder = |i: usize| {
        let script = format!(
            "touch {d}/in{i}; while [ ! -e {g} ]; do sleep 0.01; done",
            d = dir.path().display(),
            g = gate.display()
        );
        mp(
            &s,
            &["semaphore", "S", "-n", "2", "--", "sh", "-c", &script],
        )
        .spawn()
        .unwrap()
    };
    let (a, b) = (holder(1), holder(2));
    assert!(wait_until(Duration::from_secs(20), || dir
        .path()
        .join("in1")
        .exists()
        && dir.path().join("in2").exists()));
    expect(
        &s,
        &[
            "semaphore",
            "S",
            "-n",
            "2",
            "--timeout",
            "0.3",
            "--",
            "true",
        ],
        124,
    );
    std::fs::write(&gate, "").unwrap();
    assert!(finish(a, Duration::from_secs(10)).success());
    assert!(finish(b, Duration::from_secs(10)).success());
    ok(
        &s,
        &["semaphore", "S", "-n", "2", "--timeout", "5", "--", "true"],
    );
}

#[test]
fn signals_reach_the_commands_process_group() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let (ready, got) = (dir.path().join("ready"), dir.path().join("got"));
    // The shell's child (sleep) is in the same group: TERM ends it too.
    let script = format!(
        "trap 'echo TERM > {got}; exit 7' TERM; touch {ready}; sleep 40 & wait",
        got = got.display(),
        ready = ready.display()
    );
    let child = mp(&s, &["lock", "L", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(wait_until(Duration::from_secs(20), || ready.exists()));
    assert!(common::wait_signal_ready(
        pid,
        libc::SIGTERM,
        Duration::from_secs(10)
    ));
    common::signal(pid as i32, libc::SIGTERM);
    let status = finish(child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(7), "{status:?}");
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "TERM\n");
    // The lock was released.
    expect(&s, &["lock", "L", "--timeout", "5", "--", "true"], 0);
}

/// `LOOPS` shell loops, each running `mp lock counter -- sh -c 'read,
/// increment, write'` `n` times: the count is exact (8 × 500: about 6 ms
/// of CPU per call with the debug build, some 15 s on 2 cores).
fn counter_loops(s: &Served, file: &Path, n: usize, extra: Option<&dyn Fn()>) {
    std::fs::write(file, "0\n").unwrap();
    let body = format!(
        "i=0; while [ $i -lt {n} ]; do \
           \"$MP\" lock counter -- sh -c 'c=$(cat \"$1\"); echo $((c + 1)) > \"$1\"' sh {f} || exit 1; \
           i=$((i + 1)); done",
        f = file.display()
    );
    let loops: Vec<Child> = (0..LOOPS)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &body])
                .env("MP", env!("CARGO_BIN_EXE_mp"))
                .env("MP_ADDRESS", &s.address)
                .env("MP_AUTHKEY", KEY)
                .spawn()
                .unwrap()
        })
        .collect();
    if let Some(f) = extra {
        f();
    }
    for l in loops {
        let status = finish(l, Duration::from_secs(600));
        assert!(status.success(), "a loop failed: {status:?}");
    }
}

const LOOPS: usize = 8;

const PER_LOOP: usize = 500;

#[test]
fn a_counter_under_mp_lock_is_exact() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count");
    let n = PER_LOOP;
    counter_loops(&s, &file, n, None);
    let count: usize = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(count, LOOPS * n);
}

#[test]
fn a_holder_killed_mid_command_lets_the_others_go_on() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count");
    let started = dir.path().join("started");
    let marker = common::marker();
    let _reaper = common::Reaper(marker.clone());
    let n = PER_LOOP;
    let victim = std::cell::RefCell::new(None);
    let kill_a_holder = || {
        // A holder whose command never ends by itself, killed (SIGKILL)
        // while it holds the lock and the loops wait for it.
        // A background process in the command's group too: the whole
        // group goes with mp.
        let script = format!(
            "sleep {marker} </dev/null >/dev/null 2>&1 & touch {}; exec sleep {marker}",
            started.display()
        );
        let child = mp(&s, &["lock", "counter", "--", "sh", "-c", &script])
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(60), || started.exists()),
            "the victim never got the lock"
        );
        common::signal(child.id() as i32, libc::SIGKILL);
        *victim.borrow_mut() = Some(child);
    };
    counter_loops(&s, &file, n, Some(&kill_a_holder));
    let mut victim = victim.into_inner().expect("the victim ran");
    assert_eq!(victim.wait().unwrap().signal(), Some(libc::SIGKILL));
    let count: usize = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(count, LOOPS * n);
    // Its command went with it (parent-death signal).
    common::gone_within(&format!("sleep {marker}"), Duration::from_secs(10)).unwrap();
    expect(&s, &["lock", "counter", "--timeout", "5", "--", "true"], 0);
}

#[test]
fn queue_get_with_a_timeout_on_an_empty_queue_exits_1_after_about_that() {
    let s = serve();
    ok(&s, &["queue", "size", "empty"]);
    let t = Instant::now();
    let out = run(&s, &["queue", "get", "empty", "--timeout", "1"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        show(&out)
    );
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn ctrl_c_while_waiting_exits_130_and_leaves_nothing_behind() {
    let s = serve();
    let m = manager(&s);
    let objects = m.number_of_objects().unwrap();
    // A get waiting on an empty queue.
    let getter = mp(&s, &["queue", "get", "jobs"]).spawn().unwrap();
    wait_blocked(&s, 1);
    common::signal(getter.id() as i32, libc::SIGINT);
    assert!(interrupted(finish(getter, Duration::from_secs(10))));
    // The next item is not handed to the dead getter.
    let jobs: QueueProxy<String> = m.get("jobs").unwrap();
    jobs.put(&"after".to_string()).unwrap();
    assert_eq!(jobs.get_timeout(Duration::from_secs(5)).unwrap(), "after");
    wait_blocked(&s, 0);

    // An mp lock waiting for a lock a Rust client holds.
    let l: LockProxy = m.named("L", "Lock", vec![]).unwrap();
    l.acquire().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let waiter = mp(&s, &["lock", "L", "--", "touch", ran.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_blocked(&s, 1);
    common::signal(waiter.id() as i32, libc::SIGINT);
    assert!(interrupted(finish(waiter, Duration::from_secs(10))));
    l.release().unwrap();
    // Nobody holds it now: a non-blocking acquire gets it.
    assert!(l.try_acquire().unwrap());
    l.release().unwrap();
    assert!(!ran.exists());

    // A barrier waiter leaves its round.
    let waiter = mp(&s, &["barrier", "wait", "b", "--parties", "2"])
        .spawn()
        .unwrap();
    wait_blocked(&s, 1);
    common::signal(waiter.id() as i32, libc::SIGINT);
    assert!(interrupted(finish(waiter, Duration::from_secs(10))));
    let b: BarrierProxy = m.get("b").unwrap();
    assert!(wait_until(Duration::from_secs(10), || b
        .n_waiting()
        .unwrap()
        == 0));
    drop((jobs, b));
    wait_blocked(&s, 0);
    assert_eq!(m.number_of_objects().unwrap(), objects);
}

#[test]
fn a_server_that_is_gone_is_exit_3_at_once() {
    let mut s = serve();
    ok(&s, &["queue", "put", "jobs", "x"]);
    // A server that accepts but does not run (stopped): --connect-timeout
    // covers the handshake too.
    common::signal(s.child.id() as i32, libc::SIGSTOP);
    let t = Instant::now();
    let out = run(&s, &["queue", "size", "jobs", "--connect-timeout", "0.5"]);
    let took = t.elapsed();
    common::signal(s.child.id() as i32, libc::SIGCONT);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(text(&out.stderr).contains("handshake"), "{}", show(&out));
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(ok(&s, &["queue", "size", "jobs"]), "1\n");
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    for (args, code) in [
        (&["queue", "get", "jobs"][..], 3),
        (&["dict", "get", "d", "k"][..], 3),
        (&["lock", "L", "--", "true"][..], 125),
    ] {
        let t = Instant::now();
        let out = run(&s, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}\n{}", show(&out));
        assert!(text(&out.stderr).contains("connect"), "{}", show(&out));
        assert!(t.elapsed() < Duration::from_secs(3));
    }
    // No address at all: a usage error that says how to give one.
    let out = Command::new(env!("CARGO_BIN_EXE_mp"))
        .args(["queue", "size", "jobs"])
        .env_remove("MP_ADDRESS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("MP_ADDRESS"));
}

#[test]
fn the_same_objects_from_shell_python_and_rust() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping");
        return;
    }
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, format!("{KEY}\n")).unwrap();
    // The shell makes the names (key from MP_AUTHKEY_FILE this time).
    let out = mp(&s, &["queue", "put", "jobs", "from-shell"])
        .env_remove("MP_AUTHKEY")
        .env("MP_AUTHKEY_FILE", &keyfile)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    ok(&s, &["lock", "counter_lock", "--", "true"]);
    ok(&s, &["dict", "incr", "counts", "total"]);
    ok(&s, &["dict", "incr", "counts", "shell"]);
    // Python: BaseManager.register('jobs'), as the docs' example.
    let out = Command::new("python3")
        .arg(python_dir().join("shell_jobs.py"))
        .arg(&s.address)
        .env("MP_AUTHKEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "python got 'from-shell'\n\
         python counts [('python', 1), ('shell', 1), ('total', 2)]\n"
    );
    // Rust: the same names as typeids.
    let m = manager(&s);
    let jobs: QueueProxy<String> = m.get("jobs").unwrap();
    assert_eq!(jobs.get().unwrap(), "from-python");
    let counts: DictProxy<String, i64> = m.get("counts").unwrap();
    counts.set(&"rust".to_string(), &1).unwrap();
    let lock: LockProxy = m.get("counter_lock").unwrap();
    assert!(lock.try_acquire().unwrap());
    lock.release().unwrap();
    // And back in the shell.
    assert_eq!(
        ok(&s, &["queue", "get", "--json", "jobs"]),
        "{\"n\":1,\"ok\":true,\"tags\":[\"a\",\"b\"]}\n"
    );
    assert_eq!(
        ok(&s, &["dict", "items", "counts"]),
        "total\t2\nshell\t1\npython\t1\nrust\t1\n"
    );
}

#[test]
fn every_verb_has_help_with_examples() {
    for verb in [
        "queue",
        "dict",
        "list",
        "value",
        "lock",
        "semaphore",
        "event",
        "barrier",
    ] {
        let (help, examples) = common::help_examples(verb);
        assert!(
            !examples.is_empty(),
            "mp {verb} --help has no examples:\n{help}"
        );
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("MP_ADDRESS"), "{help}");
    }
}

/// `target/<profile>/examples/NAME` (built with the tests).
fn example(name: &str) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

/// The README's worked example (examples/shell/ and
/// examples/shell_consumer.rs, quoted there): a producer fills the queue,
/// a shell, a Python and a Rust consumer empty it, adding line counts to a
/// file under one lock. The total is exact and every file is done once.
#[test]
fn the_readme_worked_example_runs_as_quoted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shell = root.join("examples/shell");
    for f in ["producer.sh", "consumer.sh", "consumer.py"] {
        let body = std::fs::read_to_string(shell.join(f)).unwrap();
        assert!(
            readme.contains(&body),
            "README.md does not quote examples/shell/{f} as it is"
        );
    }
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("NOTICE: python3 not runnable; skipping the run");
        return;
    }
    let s = serve_mp(
        &["--register", "done=dict", "--register", "tally=lock"],
        KEY,
    );
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, format!("{KEY}\n")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mp")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let cmd = |program: &str| {
        let mut c = Command::new(program);
        c.current_dir(dir.path())
            .env("PATH", &path)
            .env("MP_ADDRESS", &s.address)
            .env("MP_AUTHKEY_FILE", &keyfile)
            .env_remove("MP_AUTHKEY");
        c
    };
    let files = 40;
    let mut names = String::new();
    for i in 0..files {
        let f = dir.path().join(format!("data{i}.txt"));
        std::fs::write(&f, "line\n".repeat(i + 1)).unwrap();
        names.push_str(&format!("{}\n", f.display()));
    }
    let mut producer = cmd("sh")
        .arg(shell.join("producer.sh"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut producer.stdin.take().unwrap(), names.as_bytes()).unwrap();
    assert!(producer.wait().unwrap().success());
    let consumers = [
        cmd("sh").arg(shell.join("consumer.sh")).spawn().unwrap(),
        cmd("python3")
            .arg(shell.join("consumer.py"))
            .spawn()
            .unwrap(),
        cmd(example("shell_consumer").to_str().unwrap())
            .spawn()
            .unwrap(),
    ];
    for c in consumers {
        assert!(finish(c, Duration::from_secs(120)).success());
    }
    let total: usize = std::fs::read_to_string(dir.path().join("total"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(total, files * (files + 1) / 2);
    let m = manager(&s);
    let done: DictProxy<String, i64> = m.get("done").unwrap();
    let counted: i64 = done.values().unwrap().iter().sum();
    assert_eq!(counted, files as i64, "{:?}", done.items().unwrap());
    let jobs: QueueProxy<String> = m.get("jobs").unwrap();
    assert_eq!(jobs.qsize().unwrap(), 0);
}

#[test]
fn a_lock_whose_manager_goes_stops_its_command() {
    let mut s = serve();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let marker = common::marker();
    let _reaper = common::Reaper(marker.clone());
    // Two processes in the command's group, one in the background: the
    // teardown ends both.
    let script = format!(
        "sleep {marker} & touch {}; sleep {marker}; wait",
        ready.display()
    );
    let child = mp(&s, &["lock", "L", "--", "sh", "-c", &script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || ready.exists()));
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("the lock is no longer held"),
        "{}",
        show(&out)
    );
    common::gone_within(&format!("sleep {marker}"), Duration::from_secs(5)).unwrap();
}
