//! Issues 16/18: no orphans when `mp map` or `mp worker` is killed outright
//! (SIGKILL): the commands it was running, with what they started in their
//! process group, are ended by its sentinel; and a run that ends normally
//! leaves no sentinel behind.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

mod common;
use common::{marker, mp, signal, wait_for_file_lines, wait_until, Reaper, Run};

/// How long a test waits for the commands to start.
const LIMIT: Duration = Duration::from_secs(60);
/// How long the killed commands may take to be gone.
const GONE: Duration = Duration::from_secs(10);

/// The per-record command: a shell that ignores SIGTERM, starts a
/// background `sleep MARKER` in its process group, appends its own pid and
/// the background one's to `started`, and becomes `sleep MARKER` itself
/// (SIGTERM still ignored).
fn stubborn(started: &Path, m: &str) -> String {
    format!(
        "trap '' TERM; sleep {m} & echo $$ $! >> {}; exec sleep {m}",
        started.display()
    )
}

/// Waits until the workers have recorded `n` commands' groups (the test
/// hook `MP_TEST_RECORDED_LOG`): the window between a spawn and its record
/// is the sentinel's documented blind spot, and on a loaded machine a
/// command can write its pid before its worker has run again to record it.
fn recorded(log: &Path, n: usize) {
    wait_for_file_lines(log, n, LIMIT).expect("the workers recorded the commands");
}

/// The pids the commands wrote, once `n` commands have started.
fn started_pids(started: &Path, n: usize) -> Vec<i32> {
    let lines = wait_for_file_lines(started, n, LIMIT).expect("the commands started");
    let pids: Vec<i32> = lines
        .iter()
        .flat_map(|l| l.split_whitespace().map(|p| p.parse().unwrap()))
        .collect();
    assert_eq!(pids.len(), 2 * n, "{lines:?}");
    pids
}

/// Whether `pid` is one of this test's sleeps and still runs (a zombie has
/// an empty command line).
fn alive(pid: i32, m: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(m))
}

/// Asserts every one of `pids` runs (within [`LIMIT`]: a process in the
/// middle of its `exec` may show no command line for a moment).
fn assert_all_alive(pids: &[i32], m: &str) {
    let ok = wait_until(LIMIT, || pids.iter().all(|&p| alive(p, m)));
    assert!(ok, "not all of {pids:?} run");
}

/// Asserts every one of `pids` is gone within [`GONE`].
fn assert_all_gone(pids: &[i32], m: &str, what: &str) {
    let ok = wait_until(GONE, || pids.iter().all(|&p| !alive(p, m)));
    let left: Vec<_> = pids
        .iter()
        .copied()
        .filter(|&p| alive(p, m))
        .map(|p| (p, stat(p)))
        .collect();
    assert!(ok, "{what}: these commands outlived it: {left:?}");
}

/// `mp map -j 3` running three commands that ignore SIGTERM, each with a
/// background process in its group, is SIGKILLed by pid, or with its whole
/// process group (a shell's `kill -9 %1`): all six processes are gone.
fn kill_mp_map(whole_group: bool) {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let log = dir.path().join("recorded");
    // The run's spill directory goes in here: the sentinel removes it too.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let run = Run::new(common::spawn_map_in(
        &["-j", "3", "--", "sh", "-c", &stubborn(&started, &m)],
        b"1\n2\n3\n",
        &[
            ("MP_TEST_RECORDED_LOG", log.as_os_str()),
            ("TMPDIR", tmp.as_os_str()),
        ],
    ));
    let pids = started_pids(&started, 3);
    recorded(&log, 3);
    assert_all_alive(&pids, &m);
    let target = run.pid() as i32;
    signal(if whole_group { -target } else { target }, libc::SIGKILL);
    let f = run.finish(LIMIT);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&f.status.expect("mp map exited")),
        Some(libc::SIGKILL)
    );
    assert_all_gone(&pids, &m, "mp map was SIGKILLed");
    let spills = || -> Vec<String> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("mp-spill-"))
            .collect()
    };
    let left = common::wait_until(LIMIT, || spills().is_empty());
    assert!(
        left,
        "the spill directory outlived the killed run: {:?}",
        spills()
    );
}

#[test]
fn sigkill_of_mp_map_ends_its_running_commands() {
    kill_mp_map(false);
}

#[test]
fn sigkill_of_mp_maps_process_group_ends_its_running_commands() {
    kill_mp_map(true);
}

/// `mp worker -j 2` connected to an `mp map --listen -j 0` coordinator is
/// SIGKILLed while running two such commands: they are gone too (that
/// their records run again elsewhere is tests/remote.rs's business).
#[test]
fn sigkill_of_mp_worker_ends_its_running_commands() {
    let dir = tempfile::tempdir().unwrap();
    let addr = dir.path().join("coord.sock").display().to_string();
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let co = Run::new(
        mp().args(["map", "--listen", &addr, "-j", "0", "--", "sh", "-c"])
            .arg(stubborn(&started, &m))
            .args([":::", "1", "2"])
            .env_remove("MP_AUTHKEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let log = dir.path().join("recorded");
    let w = Run::new(
        mp().args(["worker", "--connect", &addr, "-j", "2"])
            .env("MP_TEST_RECORDED_LOG", &log)
            .env_remove("MP_AUTHKEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pids = started_pids(&started, 2);
    recorded(&log, 2);
    assert_all_alive(&pids, &m);
    signal(w.pid() as i32, libc::SIGKILL);
    let _ = w.finish(LIMIT);
    assert_all_gone(&pids, &m, "mp worker was SIGKILLed");
    signal(co.pid() as i32, libc::SIGTERM);
    let _ = co.finish(LIMIT);
}

/// The command name in /proc/PID/stat and the fields after it (state,
/// parent, process group, ...).
fn stat(pid: i32) -> Option<(String, Vec<String>)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    Some((
        s[open + 1..close].to_string(),
        s[close + 1..]
            .split_whitespace()
            .map(String::from)
            .collect(),
    ))
}

/// The sentinels whose parent is `parent`.
fn sentinels_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            stat(pid).is_some_and(|(comm, f)| comm == "mp-sentinel" && f[1] == parent.to_string())
        })
        .collect()
}

/// While `mp map` runs, one sentinel watches it: a child of it, leading a
/// process group of its own, holding no descriptor but its pidfd. When the run ends
/// normally, mp has killed and reaped it: no process, no zombie.
#[test]
fn a_normal_run_leaves_no_sentinel_behind() {
    let mut child = mp()
        .args(["map", "-j", "2", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"one\n").unwrap();
    let lines = common::line_reader(child.stdout.take().unwrap(), 10);
    // The first record's output: the pool (and so the sentinel) is up.
    assert_eq!(lines.recv_timeout(LIMIT).unwrap(), b"one\n");
    let found = sentinels_of(pid);
    assert_eq!(found.len(), 1, "one sentinel per run: {found:?}");
    let s = found[0];
    let (_, fields) = stat(s).unwrap();
    assert_eq!(fields[2], s.to_string(), "the sentinel leads its own group");
    // Nothing of mp's (a pipe held would keep its reader waiting): only the
    // pidfd it waits on.
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{s}/fd"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_link(e.path()).unwrap().display().to_string())
        .collect();
    assert!(
        fds.iter().all(|f| f == "anon_inode:[pidfd]"),
        "the sentinel holds descriptors of mp's: {fds:?}"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // Killed and reaped by mp before it exited: gone, not even a zombie.
    // (Left alone, it would still run now: it ends groups for a while after
    // its owner died.)
    assert!(
        stat(s).is_none(),
        "the sentinel {s} outlived mp map: {:?}",
        stat(s)
    );
}

/// `mp map --persistent` killed with its whole process group (its workers
/// and their commands' watchdogs go too): the worker's command, which
/// ignores SIGTERM, and the background process in its group are gone.
#[test]
fn sigkill_of_a_persistent_runs_process_group_ends_its_commands() {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let script = format!(
        "trap '' TERM; sleep {m} & echo $$ $! >> {}; cat",
        started.display()
    );
    let mut child = mp()
        .args(["map", "--persistent", "-j", "1", "--", "sh", "-c", &script])
        .env("MP_TEST_RECORDED_LOG", dir.path().join("recorded"))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"a\n").unwrap();
    let lines = common::line_reader(child.stdout.take().unwrap(), 10);
    // The record came back: the command runs (stdin stays open).
    assert_eq!(lines.recv_timeout(LIMIT).unwrap(), b"a\n");
    let pids = started_pids(&started, 1);
    recorded(&dir.path().join("recorded"), 1);
    // The command itself (the shell, or cat if it exec'd) has no marker:
    // it is known by pid and name.
    let cmd = pids[0];
    let (name, _) = stat(cmd).expect("the persistent command runs");
    signal(-(child.id() as i32), libc::SIGKILL);
    let _ = child.wait();
    assert_all_gone(&pids[1..], &m, "mp map --persistent's group was SIGKILLed");
    let ok = wait_until(GONE, || {
        stat(cmd).is_none_or(|(comm, f)| comm != name || f[0] == "Z")
    });
    assert!(
        ok,
        "the persistent command {cmd} outlived mp: {:?}",
        stat(cmd)
    );
    drop(stdin);
}

/// A finished command left a process in its group that ignores SIGTERM:
/// the subreaper is giving it its `--grace` when `mp map` is SIGKILLed.
/// The sentinel ends it too.
#[test]
fn sigkill_while_the_subreaper_ends_leftovers_ends_them_too() {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let m = marker();
    let _reaper = Reaper(m.clone());
    let script = format!("trap '' TERM; sleep {m} & echo $! >> {}", started.display());
    // The run's spill directory goes in here: the sentinel removes it once
    // it has ended the groups (before `_reaper`, whose pattern matches the
    // sentinel's argv too, can end the sentinel).
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = mp()
        .args([
            "map", "-v", "-j", "1", "--grace", "1h", "--", "sh", "-c", &script,
        ])
        .env("TMPDIR", &tmp)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"x\n").unwrap();
    let lines = wait_for_file_lines(&started, 1, LIMIT).expect("the command ran");
    let left: i32 = lines[0].trim().parse().unwrap();
    // The subreaper says it is ending the group once the sentinel's table
    // holds it (its log line comes after).
    let log = common::line_reader(child.stderr.take().unwrap(), 1000);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left_time = deadline.saturating_duration_since(std::time::Instant::now());
        let line = log
            .recv_timeout(left_time)
            .expect("the subreaper took it over");
        if String::from_utf8_lossy(&line).contains("orphaned process group") {
            break;
        }
    }
    assert_all_alive(&[left], &m);
    signal(child.id() as i32, libc::SIGKILL);
    let _ = child.wait();
    assert_all_gone(&[left], &m, "mp map was SIGKILLed");
    let empty = || std::fs::read_dir(&tmp).unwrap().next().is_none();
    assert!(
        common::wait_until(LIMIT, empty),
        "the spill directory outlived the killed run"
    );
    drop(stdin);
}
