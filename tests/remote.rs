//! Issue 18: `mp map --listen` with remote `mp worker`s: order, exit
//! statuses, the joblog's Host column, -j 0, faults (a worker killed
//! mid-task, the coordinator killed, Ctrl-C, a wrong key, a hostile peer),
//! a Python worker, several hosts on one machine in network namespaces,
//! and `--persistent` runs served in blocks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{
    gone_within, marker, mp, show, signal, text, wait_for_file_lines, wait_until, Reaper, Run,
};

/// `mp worker --connect ADDR ARGS`, its output drained.
fn worker(addr: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    Run::new(
        mp().arg("worker")
            .arg("--connect")
            .arg(addr)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("MP_AUTHKEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// `mp map ARGS` with `input`, in its own process group.
fn coordinator(args: &[&str], input: &[u8]) -> Run {
    Run::new(
        mp().arg("map")
            .args(args)
            .env_remove("MP_AUTHKEY")
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map(|mut c| {
                let mut stdin = c.stdin.take().unwrap();
                let input = input.to_vec();
                std::thread::spawn(move || {
                    let _ = stdin.write_all(&input);
                });
                c
            })
            .unwrap(),
    )
}

use std::os::unix::process::CommandExt;

fn sock(dir: &Path) -> String {
    dir.join("coord.sock").display().to_string()
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn remote_workers_and_local_slots_keep_order_statuses_and_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let log = dir.path().join("joblog");
    // The workers' TMPDIR: empty again once they have exited.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmp_env = [("TMPDIR", tmp.to_str().unwrap())];
    // Workers first: they wait for the coordinator.
    let w1 = worker(&addr, &["-j", "2", "--host", "w1"], &tmp_env);
    let w2 = worker(&addr, &["-j", "1", "--host", "w2"], &tmp_env);
    let input: String = (1..=40).map(|i| format!("{i}\n")).collect();
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "1",
            "--joblog",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "sleep 0.0$(( {} % 4 )); echo out {} slot=$MP_SLOT; [ {} -ne 7 ] && [ {} -ne 30 ]",
        ],
        input.as_bytes(),
    );
    let co = co.finish(LIMIT);
    assert_eq!(co.code(), Some(1), "{}", co.show());
    let want: String = (1..=40)
        .map(|i| format!("out {i} slot="))
        .collect::<Vec<_>>()
        .join("");
    let got: String = text(&co.stdout)
        .lines()
        .map(|l| l.split("slot=").next().unwrap().to_string() + "slot=")
        .collect();
    assert_eq!(got, want, "{}", co.show());
    assert!(
        text(&co.stderr).contains("mp: 2 of 40 tasks failed"),
        "{}",
        co.show()
    );
    let (f1, f2) = (w1.finish(LIMIT), w2.finish(LIMIT));
    assert_eq!(f1.code(), Some(0), "{}", f1.show());
    assert_eq!(f2.code(), Some(0), "{}", f2.show());
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "the workers left in TMPDIR: {left:?}");
    let joblog = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = joblog
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), 40, "{joblog}");
    let hosts: std::collections::HashSet<&str> = lines.iter().map(|l| l[1]).collect();
    assert!(hosts.contains("w1") && hosts.contains("w2"), "{joblog}");
    let seven = lines.iter().find(|l| l[0] == "7").unwrap();
    assert_eq!(seven[6], "1", "{joblog}");
    assert!(seven[8].contains("echo out 7"), "{joblog}");
}

#[test]
fn gnu_sources_batches_and_tags_run_remotely() {
    // Several values per record (::: sources, -n batches) cross to the
    // worker as a list, and --tag prefixes with the whole record.
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let w = worker(&addr, &["-j", "2"], &[]);
    let co = coordinator(
        &[
            "--listen", &addr, "-j", "0", "--tag", "--", "echo", "{1}-{2}", ":::", "a", "b", ":::",
            "1", "2",
        ],
        b"",
    );
    let co = co.finish(LIMIT);
    assert_eq!(co.code(), Some(0), "{}", co.show());
    assert_eq!(
        text(&co.stdout),
        "a 1\ta-1\na 2\ta-2\nb 1\tb-1\nb 2\tb-2\n",
        "{}",
        co.show()
    );
    assert_eq!(w.finish(LIMIT).code(), Some(0));
    let w = worker(&addr, &["-j", "2"], &[]);
    let co = coordinator(
        &["--listen", &addr, "-j", "0", "-n", "3", "--", "echo"],
        b"1\n2\n3\n4\n5\n",
    );
    let co = co.finish(LIMIT);
    assert_eq!(co.code(), Some(0), "{}", co.show());
    assert_eq!(text(&co.stdout), "1 2 3\n4 5\n", "{}", co.show());
    assert_eq!(w.finish(LIMIT).code(), Some(0));
}

#[test]
fn zero_local_slots_unordered_json_and_timeouts_run_remotely() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let w = worker(&addr, &["-j", "2", "--host", "only"], &[]);
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "0",
            "--json",
            "--unordered",
            "--timeout",
            "300ms",
            "--retries",
            "1",
            "--",
            "sh",
            "-c",
            "[ {} = slow ] && sleep 5; echo got {}",
        ],
        b"a\nslow\nb\n",
    );
    let co = co.finish(LIMIT);
    assert_eq!(co.code(), Some(1), "{}", co.show());
    let rows: Vec<serde_json::Value> = text(&co.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{}", co.show());
    for r in &rows {
        let input = r["input"].as_str().unwrap();
        if input == "slow" {
            assert_eq!(r["timed_out"], true, "{r}");
        } else {
            assert_eq!(r["stdout"], format!("got {input}\n"), "{r}");
            assert_eq!(r["exit_code"], 0, "{r}");
        }
    }
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(0), "{}", f.show());
}

#[test]
fn zero_local_slots_needs_listen() {
    let out = common::map(&["-j", "0", "--", "true"], "1\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("-j 0"), "{out:?}");
}

#[test]
fn keyless_listening_beyond_loopback_is_refused() {
    let out = common::map(&["--listen", "0.0.0.0:0", "--", "true"], "1\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("without an authkey"), "{out:?}");
}

/// A worker SIGKILLed mid-task: its records run on the other worker, each
/// record's output appears exactly once, and the run succeeds.
#[test]
fn killed_worker_records_run_elsewhere_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!(
        "echo $TAG {{}} >> {}; [ $TAG = doomed ] && exec sleep {m}; echo out {{}}",
        started.display()
    );
    let co = coordinator(
        &["--listen", &addr, "-j", "0", "--", "sh", "-c", &cmd],
        b"1\n2\n3\n4\n5\n6\n",
    );
    let mut doomed = worker(
        &addr,
        &["-j", "2", "--host", "doomed"],
        &[("TAG", "doomed")],
    );
    let lines = wait_for_file_lines(&started, 2, LIMIT).expect("the doomed worker started");
    assert!(lines.iter().all(|l| l.starts_with("doomed")), "{lines:?}");
    doomed.child.kill().unwrap();
    let _ = doomed.child.wait();
    let good = worker(&addr, &["-j", "2", "--host", "good"], &[("TAG", "good")]);
    let co = co.finish(LIMIT);
    assert_eq!(co.code(), Some(0), "{}", co.show());
    assert_eq!(
        text(&co.stdout),
        "out 1\nout 2\nout 3\nout 4\nout 5\nout 6\n",
        "{}",
        co.show()
    );
    assert!(
        text(&co.stderr).contains("run again elsewhere"),
        "{}",
        co.show()
    );
    let g = good.finish(LIMIT);
    assert_eq!(g.code(), Some(0), "{}", g.show());
}

/// The coordinator dies: the worker ends its tasks' process groups and exits.
#[test]
fn coordinator_death_ends_the_workers_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!("echo {{}} >> {}; sleep {m}", started.display());
    let co = coordinator(
        &["--listen", &addr, "-j", "0", "--", "sh", "-c", &cmd],
        b"1\n2\n",
    );
    let w = worker(&addr, &["-j", "2"], &[]);
    wait_for_file_lines(&started, 2, LIMIT).expect("tasks started");
    signal(co.pid() as i32, libc::SIGKILL);
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(1), "{}", f.show());
    assert!(
        text(&f.stderr).contains("lost the coordinator"),
        "{}",
        f.show()
    );
    gone_within(&m, Duration::from_secs(10)).expect("the tasks were ended");
    let _ = co.finish(LIMIT);
}

/// Ctrl-C on the coordinator: 130, and the remote tasks end too.
#[test]
fn ctrl_c_on_the_coordinator_ends_remote_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!("echo {{}} >> {}; sleep {m}", started.display());
    let input: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let co = coordinator(
        &["--listen", &addr, "-j", "1", "--", "sh", "-c", &cmd],
        input.as_bytes(),
    );
    let w = worker(&addr, &["-j", "2"], &[]);
    wait_for_file_lines(&started, 3, LIMIT).expect("tasks started");
    signal(co.pid() as i32, libc::SIGINT);
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(130), "{}", c.show());
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(1), "{}", f.show());
    gone_within(&m, Duration::from_secs(10)).expect("every task was ended");
}

/// A worker with the wrong key is refused and says so; the run goes on
/// with a worker that has the right one; a peer sending junk and an
/// oversize frame changes nothing.
#[test]
fn wrong_key_and_hostile_peers_are_refused_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good_key = dir.path().join("key");
    let bad_key = dir.path().join("bad");
    std::fs::write(&good_key, "right key\n").unwrap();
    std::fs::write(&bad_key, "wrong key\n").unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let started = dir.path().join("started");
    let cmd = format!("echo {{}} >> {}; echo out {{}}", started.display());
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "--authkey-file",
            good_key.to_str().unwrap(),
            "-j",
            "0",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        b"1\n2\n3\n",
    );
    let bad = worker(&addr, &["--authkey-file", bad_key.to_str().unwrap()], &[]);
    let b = bad.finish(LIMIT);
    assert_eq!(b.code(), Some(1), "{}", b.show());
    assert!(
        text(&b.stderr).contains("refused this worker's key"),
        "{}",
        b.show()
    );
    // Junk, and a frame that claims 2 GiB.
    for junk in [&b"\x00\x00\x00\x05hello"[..], &b"\x7f\xff\xff\xffxxxx"[..]] {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(junk);
        }
    }
    let good = worker(&addr, &["--authkey-file", good_key.to_str().unwrap()], &[]);
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    assert_eq!(text(&c.stdout), "out 1\nout 2\nout 3\n");
    assert_eq!(good.finish(LIMIT).code(), Some(0));
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A Python process takes records too: the README's worker, with
/// `BaseManager.register`.
#[test]
fn a_python_worker_takes_records() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let script = dir.path().join("worker.py");
    std::fs::write(&script, PYTHON_WORKER).unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "py key").unwrap();
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "--authkey-file",
            key.to_str().unwrap(),
            "-j",
            "0",
            "--",
            "unused",
        ],
        b"abc\nxy\n",
    );
    let py = Run::new(
        Command::new("python3")
            .arg(&script)
            .arg(&addr)
            .env("MP_AUTHKEY", "py key")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    assert_eq!(text(&c.stdout), "ABC\nXY\n", "{}", c.show());
    let p = py.finish(LIMIT);
    assert_eq!(p.code(), Some(0), "{}", p.show());
}

/// A `--persistent` run hands out blocks, which the README's Python worker
/// cannot read: its hello is refused with the reason (it exits 1, leasing
/// nothing), and an `mp worker` that comes next runs every record.
#[test]
fn a_persistent_run_refuses_a_python_worker_at_hello() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let script = dir.path().join("worker.py");
    std::fs::write(&script, PYTHON_WORKER).unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "py key").unwrap();
    let keyed = ["--authkey-file", key.to_str().unwrap()];
    let co = coordinator(
        &[
            "--listen",
            &addr,
            keyed[0],
            keyed[1],
            "-j",
            "0",
            "--persistent",
            "--",
            "cat",
        ],
        b"abc\nxy\n",
    );
    assert!(
        wait_until(LIMIT, || Path::new(&addr).exists()),
        "the coordinator did not listen"
    );
    let py = Command::new("python3")
        .arg(&script)
        .arg(&addr)
        .env("MP_AUTHKEY", "py key")
        .output()
        .unwrap();
    assert_eq!(py.status.code(), Some(1), "{}", show(&py));
    assert!(
        text(&py.stderr).contains("which only `mp worker` takes"),
        "{}",
        show(&py)
    );
    let w = worker(&addr, &keyed, &[]);
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    assert_eq!(text(&c.stdout), "abc\nxy\n", "{}", c.show());
    assert_eq!(w.finish(LIMIT).code(), Some(0));
}

// ---- --persistent through remote workers ----

/// `seq 100000 | mp map --listen --persistent -j 0 -- cat` through two
/// remote workers: the output is the input, byte for byte, in order.
#[test]
fn persistent_cat_through_two_remote_workers_is_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let w1 = worker(&addr, &["-j", "1", "--host", "w1"], &[]);
    let w2 = worker(&addr, &["-j", "1", "--host", "w2"], &[]);
    let input: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    let co = coordinator(
        &["--listen", &addr, "-j", "0", "--persistent", "--", "cat"],
        input.as_bytes(),
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", text(&c.stderr));
    assert!(
        c.stdout == input.as_bytes(),
        "the output differs from the input"
    );
    for w in [w1, w2] {
        let f = w.finish(LIMIT);
        assert_eq!(f.code(), Some(0), "{}", f.show());
    }
}

/// A Python persistent command with {%}, --frame json, --timeout per
/// reply, --maxtasksperchild and --joblog, on a remote worker: replies in
/// order, the slot is the worker's, a record without a reply in time fails
/// alone, no command answers more than 3 records, the joblog names the
/// worker.
#[test]
fn persistent_python_command_with_slot_timeout_and_joblog_runs_remotely() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let log = dir.path().join("log");
    let script = dir.path().join("answer.py");
    std::fs::write(
        &script,
        "import json, os, sys, time\n\
         for line in sys.stdin:\n\
         \x20   msg = json.loads(line)\n\
         \x20   if msg['record'] == 'slow':\n\
         \x20       time.sleep(30)\n\
         \x20   print(json.dumps(f\"{sys.argv[1]}:{msg['seq']}:{msg['record']}:{os.getpid()}\"))\n",
    )
    .unwrap();
    let w = worker(&addr, &["-j", "2", "--host", "pyw"], &[]);
    let records = ["a", "b", "c", "d", "slow", "f", "g", "h", "i", "j"];
    let input: String = records.iter().map(|r| format!("{r}\n")).collect();
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "0",
            "--persistent",
            "--frame",
            "json",
            "--timeout",
            "3s",
            "--maxtasksperchild",
            "3",
            "--joblog",
            log.to_str().unwrap(),
            "--",
            "python3",
            script.to_str().unwrap(),
            "{%}",
        ],
        input.as_bytes(),
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(1), "{}", c.show());
    assert!(
        text(&c.stderr).contains("mp: record 5: no reply within"),
        "{}",
        c.show()
    );
    let mut answered = Vec::new();
    let mut per_pid = std::collections::HashMap::new();
    for line in text(&c.stdout).lines() {
        let f: Vec<&str> = line.split(':').collect();
        assert_eq!(f.len(), 4, "{line}");
        assert!(f[0] == "1" || f[0] == "2", "slot {line}");
        answered.push((f[1].parse::<usize>().unwrap(), f[2].to_string()));
        *per_pid.entry(f[3].to_string()).or_insert(0) += 1;
    }
    let want: Vec<(usize, String)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != "slow")
        .map(|(i, r)| (i + 1, r.to_string()))
        .collect();
    assert_eq!(answered, want, "{}", c.show());
    assert!(per_pid.values().all(|&n| n <= 3), "{per_pid:?}");
    let joblog = std::fs::read_to_string(&log).unwrap();
    let rows: Vec<Vec<&str>> = joblog
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 10, "{joblog}");
    assert!(rows.iter().all(|r| r[1] == "pyw"), "{joblog}");
    let slow = rows.iter().find(|r| r[0] == "5").unwrap();
    assert_eq!(slow[6], "-1", "{joblog}");
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(0), "{}", f.show());
}

/// A remote worker SIGKILLed while its commands are in the middle of their
/// blocks: the blocks run again on another worker, each record exactly
/// once there, and the output is complete, in order, once; the killed
/// worker's commands are gone.
#[test]
fn persistent_blocks_of_a_killed_worker_run_again_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!(
        "while read -r l; do echo \"$TAG $l\" >> {}; [ $TAG = doomed ] && exec sleep {m}; echo \"out $l\"; done",
        started.display()
    );
    let input: String = (1..=600).map(|i| format!("{i}\n")).collect();
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "0",
            "--persistent",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        input.as_bytes(),
    );
    let mut doomed = worker(
        &addr,
        &["-j", "2", "--host", "doomed"],
        &[("TAG", "doomed")],
    );
    let lines = wait_for_file_lines(&started, 2, LIMIT).expect("the doomed worker started");
    assert!(lines.iter().all(|l| l.starts_with("doomed")), "{lines:?}");
    doomed.child.kill().unwrap();
    let _ = doomed.child.wait();
    let good = worker(&addr, &["-j", "2", "--host", "good"], &[("TAG", "good")]);
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    let want: String = (1..=600).map(|i| format!("out {i}\n")).collect();
    assert!(text(&c.stdout) == want, "{}", c.show());
    assert!(
        text(&c.stderr).contains("run again elsewhere"),
        "{}",
        c.show()
    );
    let mut ran: Vec<u32> = std::fs::read_to_string(&started)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("good "))
        .map(|n| n.parse().unwrap())
        .collect();
    ran.sort_unstable();
    assert_eq!(ran, (1..=600).collect::<Vec<u32>>());
    let g = good.finish(LIMIT);
    assert_eq!(g.code(), Some(0), "{}", g.show());
    gone_within(&m, Duration::from_secs(10)).expect("the killed worker's commands were ended");
}

/// --persistent with local slots (-j 1) and a remote worker together, in
/// fixed blocks (--chunksize): both take blocks, the output is in order,
/// and the joblog's Host column tells which ran where.
#[test]
fn persistent_local_and_remote_slots_together() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let log = dir.path().join("log");
    let remote_went = dir.path().join("remote-went");
    // The local slot waits until the remote worker has answered a record,
    // so both surely take part.
    let cmd = format!(
        "while read -r l; do if [ \"$TAG\" = remote ]; then : > {r}; else while [ ! -e {r} ]; do sleep 0.01; done; fi; echo \"${{TAG:-local}} $l\"; done",
        r = remote_went.display()
    );
    let w = worker(&addr, &["-j", "1", "--host", "w"], &[("TAG", "remote")]);
    let input: String = (1..=40).map(|i| format!("{i}\n")).collect();
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "1",
            "--persistent",
            "--chunksize",
            "5",
            "--joblog",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        input.as_bytes(),
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    let out = text(&c.stdout);
    let numbers: Vec<u32> = out
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=40).collect::<Vec<u32>>(), "{out}");
    assert!(out.contains("local ") && out.contains("remote "), "{out}");
    let joblog = std::fs::read_to_string(&log).unwrap();
    let hosts: std::collections::HashSet<&str> = joblog
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(
        hosts,
        [":", "w"]
            .into_iter()
            .collect::<std::collections::HashSet<&str>>(),
        "{joblog}"
    );
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(0), "{}", f.show());
}

/// --persistent --joblog --resume through a remote worker: the second run
/// feeds the command only the records the first did not finish.
#[test]
fn persistent_resume_runs_only_what_is_left_remotely() {
    let outputs = resume_twice(&["--persistent"], |ran| {
        format!("while read -r l; do echo \"$l\" >> {ran}; echo \"got $l\"; done")
    });
    assert_eq!(outputs, ["got a\ngot b\n", "got c\ngot d\n"]);
}

/// Runs `mp map --listen ... --joblog LOG --resume EXTRA -- sh -c CMD`
/// through a remote worker twice, on `a b` and then on `a b c d`; `cmd`
/// makes the command from the file each record is appended to when it
/// runs. Checks that both runs succeed and every record ran exactly once,
/// and returns the two runs' outputs.
fn resume_twice(extra: &[&str], cmd: impl Fn(&str) -> String) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let log = dir.path().join("log");
    let ran = dir.path().join("ran");
    let cmd = cmd(&ran.display().to_string());
    let run = |input: &[u8]| {
        let w = worker(&addr, &["-j", "2"], &[]);
        let mut args = vec!["--listen", &addr, "-j", "0"];
        args.extend_from_slice(extra);
        args.extend([
            "--joblog",
            log.to_str().unwrap(),
            "--resume",
            "--",
            "sh",
            "-c",
            &cmd,
        ]);
        let co = coordinator(&args, input);
        let c = co.finish(LIMIT);
        assert_eq!(c.code(), Some(0), "{}", c.show());
        assert_eq!(w.finish(LIMIT).code(), Some(0));
        text(&c.stdout)
    };
    let outputs = vec![run(b"a\nb\n"), run(b"a\nb\nc\nd\n")];
    let mut ran: Vec<String> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    ran.sort();
    assert_eq!(ran, ["a", "b", "c", "d"]);
    outputs
}

/// The README's Python worker (kept in step with it by `readme_python_worker_is_the_tested_one`).
const PYTHON_WORKER: &str = include_str!("python/remote_worker.py");

#[test]
fn readme_python_worker_is_the_tested_one() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let body: String = PYTHON_WORKER
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        readme.contains(body.trim()),
        "README's Python worker differs from tests/python/remote_worker.py"
    );
}

// ---- several hosts on one machine: network namespaces ----

/// Network namespaces `NAME-c` (the coordinator, 10.77.N.1 on a bridge)
/// and `NAME-w1`, `NAME-w2` (workers, .2 and .3), each joined to the
/// bridge by a veth pair. Removed on drop.
struct Hosts {
    name: String,
    n: u32,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Hosts {
    fn new(tag: u32) -> Option<Hosts> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("SKIPPED: network namespace test needs root");
            return None;
        }
        if !ip(&["-V"]) {
            println!("SKIPPED: network namespace test needs iproute2's ip");
            return None;
        }
        let n = (std::process::id() % 60) * 4 + tag;
        let name = format!("mpt{n}");
        let h = Hosts {
            name: name.clone(),
            n,
        };
        let c = format!("{name}-c");
        // Left over from a run that was killed: start afresh.
        for h in ["c", "w1", "w2"] {
            ip(&["netns", "del", &format!("{name}-{h}")]);
        }
        if !ip(&["netns", "add", &c]) {
            println!("SKIPPED: cannot create network namespaces here");
            return None;
        }
        let subnet = format!("10.77.{n}");
        let ok = ip(&["-n", &c, "link", "set", "lo", "up"])
            && ip(&["-n", &c, "link", "add", "br0", "type", "bridge"])
            && ip(&[
                "-n",
                &c,
                "addr",
                "add",
                &format!("{subnet}.1/24"),
                "dev",
                "br0",
            ])
            && ip(&["-n", &c, "link", "set", "br0", "up"]);
        assert!(ok, "could not set up namespace {c}");
        for (i, w) in ["w1", "w2"].iter().enumerate() {
            let ns = format!("{name}-{w}");
            let (a, b) = (format!("{name}c{i}"), format!("{name}{w}"));
            let ok = ip(&["netns", "add", &ns])
                && ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])
                && ip(&["link", "set", &a, "netns", &c])
                && ip(&["link", "set", &b, "netns", &ns])
                && ip(&["-n", &c, "link", "set", &a, "master", "br0"])
                && ip(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{subnet}.{}/24", i + 2),
                    "dev",
                    &b,
                ])
                && ip(&["-n", &c, "link", "set", &a, "up"])
                && ip(&["-n", &ns, "link", "set", &b, "up"])
                && ip(&["-n", &ns, "link", "set", "lo", "up"]);
            assert!(ok, "could not set up namespace {ns}");
        }
        Some(h)
    }

    /// `ip netns exec NS mp ARGS`.
    fn mp_in(&self, host: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}-{host}", self.name)])
            .arg(env!("CARGO_BIN_EXE_mp"))
            .args(args)
            .env_remove("MP_AUTHKEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// The coordinator's address, as the workers reach it.
    fn coordinator_ip(&self) -> String {
        format!("10.77.{}.1", self.n)
    }

    /// Cuts (or restores) worker `w`'s link.
    fn link(&self, w: &str, up: bool) {
        let ns = format!("{}-{w}", self.name);
        let dev = format!("{}{w}", self.name);
        assert!(ip(&[
            "-n",
            &ns,
            "link",
            "set",
            &dev,
            if up { "up" } else { "down" }
        ]));
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for h in ["c", "w1", "w2"] {
            ip(&["netns", "del", &format!("{}-{h}", self.name)]);
        }
    }
}

/// Starts `mp map ARGS` in the coordinator's namespace with `input`.
fn coordinator_in(hosts: &Hosts, args: &[&str], input: String, env: &[(&str, &str)]) -> Run {
    let mut all = vec!["map"];
    all.extend_from_slice(args);
    let mut co = hosts.mp_in("c", &all);
    co.process_group(0)
        .stdin(Stdio::piped())
        .envs(env.iter().copied());
    let mut child = co.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    Run::new(child)
}

#[test]
fn two_worker_hosts_in_network_namespaces() {
    let Some(hosts) = Hosts::new(0) else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "netns key").unwrap();
    let key = key.to_str().unwrap();
    let mut co = hosts.mp_in(
        "c",
        &[
            "map",
            "--listen",
            "0.0.0.0:7000",
            "--authkey-file",
            key,
            "-j",
            "0",
            "--joblog",
            dir.path().join("log").to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "sleep 0.02; echo {} from $(cat /proc/sys/kernel/hostname)",
        ],
    );
    co.process_group(0).stdin(Stdio::piped());
    let mut child = co.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let input: String = (1..=30).map(|i| format!("{i}\n")).collect();
        let _ = stdin.write_all(input.as_bytes());
    });
    let co = Run::new(child);
    let workers: Vec<Run> = ["w1", "w2"]
        .iter()
        .map(|w| {
            let addr = format!("{}:7000", hosts.coordinator_ip());
            Run::new(
                hosts
                    .mp_in(
                        w,
                        &[
                            "worker",
                            "--connect",
                            &addr,
                            "--authkey-file",
                            key,
                            "-j",
                            "2",
                            "--host",
                            w,
                        ],
                    )
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    let lines: Vec<String> = text(&c.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 30, "{}", c.show());
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("{} from", i + 1)), "{l}");
    }
    for w in workers {
        let f = w.finish(LIMIT);
        assert_eq!(f.code(), Some(0), "{}", f.show());
    }
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("\tw1\t") && log.contains("\tw2\t"), "{log}");
}

/// `--ssh w1,2/w2` with an ssh program that enters the namespace instead
/// of a real sshd (`PROG HOST COMMAND`, as ssh is called).
#[test]
fn ssh_starts_the_workers() {
    let Some(hosts) = Hosts::new(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "ssh key").unwrap();
    let fake_ssh = dir.path().join("fake-ssh");
    std::fs::write(
        &fake_ssh,
        format!(
            "#!/bin/sh\nhost=$1; shift\nexec ip netns exec {}-$host sh -c \"$*\"\n",
            hosts.name
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_ssh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_mp"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let advertise = format!("{}:7001", hosts.coordinator_ip());
    let log = dir.path().join("log");
    let input: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let co = coordinator_in(
        &hosts,
        &[
            "--listen",
            "0.0.0.0:7001",
            "--authkey-file",
            key.to_str().unwrap(),
            "-j",
            "0",
            "--ssh",
            "w1,2/w2",
            "--ssh-program",
            fake_ssh.to_str().unwrap(),
            "--advertise",
            &advertise,
            "--joblog",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "sleep 0.05; echo {}",
        ],
        input.clone(),
        &[("PATH", &path)],
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    assert_eq!(text(&c.stdout), input, "{}", c.show());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("\tw1\t") && log.contains("\tw2\t"), "{log}");
}

/// A worker's link cut (`ip link set down`): it goes silent, its lease
/// runs out, its records run on the other worker, each output once; the
/// cut-off worker gives the coordinator up and ends its tasks.
#[test]
fn a_cut_link_moves_the_records_after_the_lease() {
    let Some(hosts) = Hosts::new(2) else { return };
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let key = dir.path().join("key");
    std::fs::write(&key, "cut key").unwrap();
    let key = key.to_str().unwrap();
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!(
        "echo $TAG {{}} >> {}; [ $TAG = w1 ] && exec sleep {m}; echo out {{}}",
        started.display()
    );
    let co = coordinator_in(
        &hosts,
        &[
            "--listen",
            "0.0.0.0:7002",
            "--authkey-file",
            key,
            "-j",
            "0",
            "--lease",
            "2s",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        "1\n2\n3\n4\n".into(),
        &[],
    );
    let addr = format!("{}:7002", hosts.coordinator_ip());
    let w1 = Run::new(
        hosts
            .mp_in(
                "w1",
                &[
                    "worker",
                    "--connect",
                    &addr,
                    "--authkey-file",
                    key,
                    "-j",
                    "2",
                    "--host",
                    "w1",
                ],
            )
            .env("TAG", "w1")
            .spawn()
            .unwrap(),
    );
    wait_for_file_lines(&started, 2, LIMIT).expect("w1 started two records");
    hosts.link("w1", false);
    let w2 = Run::new(
        hosts
            .mp_in(
                "w2",
                &[
                    "worker",
                    "--connect",
                    &addr,
                    "--authkey-file",
                    key,
                    "-j",
                    "2",
                    "--host",
                    "w2",
                ],
            )
            .env("TAG", "w2")
            .spawn()
            .unwrap(),
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(0), "{}", c.show());
    assert_eq!(
        text(&c.stdout),
        "out 1\nout 2\nout 3\nout 4\n",
        "{}",
        c.show()
    );
    assert!(text(&c.stderr).contains("silent"), "{}", c.show());
    let f1 = w1.finish(LIMIT);
    assert_eq!(f1.code(), Some(1), "{}", f1.show());
    assert!(
        text(&f1.stderr).contains("has not answered"),
        "{}",
        f1.show()
    );
    gone_within(&m, Duration::from_secs(10)).expect("w1 ended its tasks");
    assert_eq!(w2.finish(LIMIT).code(), Some(0));
}

/// --halt now on the first failure stops the remote tasks (the worker
/// ends them and exits 1) and the run exits 1.
#[test]
fn halt_now_stops_remote_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let addr = sock(dir.path());
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    // Record 1 fails once the other two have started.
    let cmd = format!(
        "echo {{}} >> {s}; [ {{}} = 1 ] && {{ while [ $(wc -l < {s}) -lt 3 ]; do sleep 0.05; done; exit 3; }}; sleep {m}",
        s = started.display()
    );
    let w = worker(&addr, &["-j", "3"], &[]);
    let co = coordinator(
        &[
            "--listen",
            &addr,
            "-j",
            "0",
            "--halt",
            "now,fail=1",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        b"1\n2\n3\n4\n5\n",
    );
    let c = co.finish(LIMIT);
    assert_eq!(c.code(), Some(1), "{}", c.show());
    assert!(text(&c.stderr).contains("--halt now"), "{}", c.show());
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(1), "{}", f.show());
    assert!(text(&f.stderr).contains("stopped the run"), "{}", f.show());
    gone_within(&m, Duration::from_secs(10)).expect("the remote tasks were ended");
}

/// --joblog + --resume: a second run through a remote worker runs only
/// what the first did not finish.
#[test]
fn resume_runs_only_what_is_left_remotely() {
    let outputs = resume_twice(&[], |ran| format!("echo {{}} >> {ran}; echo {{}}"));
    assert_eq!(outputs, ["a\nb\n", "c\nd\n"]);
}

/// A worker waiting for its coordinator stops on SIGTERM: 143, and says so.
#[test]
fn a_waiting_worker_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&sock(dir.path()), &[], &[]);
    assert!(common::wait_signal_ready(w.pid(), libc::SIGTERM, LIMIT));
    signal(w.pid() as i32, libc::SIGTERM);
    let f = w.finish(LIMIT);
    assert_eq!(f.code(), Some(143), "{}", f.show());
    assert!(
        text(&f.stderr).contains("mp worker: interrupted by SIGTERM"),
        "{}",
        f.show()
    );
}
