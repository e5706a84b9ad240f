//! `mp map`, driven through the real binary: order, recycling, timeouts,
//! worker loss, signals, volume, torn output, placeholders, JSON, exit codes;
//! and issue 14: records as bytes, signals at every moment (both modes), no
//! orphans, closed output pipes, odd option values, GNU parallel's meanings,
//! cleanup of spill files.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    contains, gone_within, json_bytes, json_rows, line_reader, map, map_bytes, marker, mp,
    parent_pid, show, signal, spawn_map, text, wait_for_file_lines, wait_signal_ready, Reaper, Run,
    REPLACEMENT,
};

#[test]
fn output_in_input_order_despite_completion_order() {
    // Record 1 finishes last; ordered output still starts with it.
    let out = map(
        &["-j", "3", "--", "sh", "-c", "sleep $(( {} == 1 )); echo {}"],
        "1\n2\n3\n4\n5\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "1\n2\n3\n4\n5\n");
}

#[test]
fn unordered_gives_completion_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let cmd = format!(
        "sleep $(( {{}} == 1 )); echo {{}}; echo {{}} >> {}",
        log.display()
    );
    let out = map(
        &["-j", "3", "--unordered", "--", "sh", "-c", &cmd],
        "1\n2\n3\n4\n5\n",
    );
    assert!(out.status.success(), "{out:?}");
    // Record 1 took a second: in completion order it is last, as in the token log.
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.last().map(String::as_str), Some("1"), "{lines:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().last(), Some("1"));
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(sorted, ["1", "2", "3", "4", "5"]);
}

/// Each busy worker holds its next record ready; a record held behind a long
/// one is handed back and run by the free worker, so the long one ends last.
#[test]
fn no_record_waits_behind_a_long_one() {
    let out = map(
        &[
            "-j",
            "2",
            "--unordered",
            "--",
            "sh",
            "-c",
            "sleep $0; echo {#}",
            "{}",
        ],
        "2\n0.05\n0.05\n0.05\n0.05\n0.05\n",
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("1"), "{lines:?}");
}

#[test]
fn chunksize_and_maxtasksperchild_recycle_workers() {
    let input: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let out = map(
        &[
            "-j",
            "2",
            "--maxtasksperchild",
            "2",
            "--",
            "sh",
            "-c",
            "echo $PPID",
        ],
        &input,
    );
    assert!(out.status.success(), "{out:?}");
    let pids: HashSet<String> = text(&out.stdout).lines().map(String::from).collect();
    assert!(
        pids.len() >= 10,
        "{} distinct workers for 20 tasks, 2 each: {pids:?}",
        pids.len()
    );
    let out = map(
        &[
            "-j",
            "2",
            "--chunksize",
            "5",
            "--maxtasksperchild",
            "1",
            "--",
            "sh",
            "-c",
            "echo $PPID",
        ],
        &input,
    );
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 20);
    let pids: HashSet<&String> = lines.iter().collect();
    assert_eq!(
        pids.len(),
        4,
        "chunks of 5, one chunk per worker: {lines:?}"
    );
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!("sleep {m} & sleep {m}; wait");
    let t = Instant::now();
    let out = map(
        &[
            "--timeout",
            "300ms",
            "--grace",
            "500ms",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
        "x\n",
    );
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
    if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
        panic!("processes left behind: {left}");
    }
}

#[test]
fn worker_killed_mid_run_is_reported_and_the_run_finishes() {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // Record 1 runs until its worker is killed; the others take a second.
    let cmd = format!(
        "echo {{}} $PPID >> {}; if [ {{}} = 1 ]; then sleep {m}; else sleep 1; fi; echo done {{}}",
        pids.display()
    );
    let mut child = spawn_map(&["-j", "2", "--", "sh", "-c", &cmd]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1\n2\n3\n4\n")
        .unwrap();
    let worker = wait_until_some(Duration::from_secs(10), || {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("1 ")?.trim().parse::<i32>().ok())
    });
    let Some(worker) = worker else {
        let _ = child.kill();
        panic!(
            "record 1 never started: {:?}",
            std::fs::read_to_string(&pids)
        );
    };
    signal(worker, libc::SIGKILL);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("lost: worker")
            && err.contains("was killed by SIGKILL while running the task"),
        "{}",
        show(&out)
    );
    let done = text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("done"))
        .count();
    assert_eq!(done, 3, "the other three tasks finished: {}", show(&out));
    // The lost task's command went with its worker.
    if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
        panic!("the lost task's command is still running: {left}");
    }
}

/// Polls `f` every 20 ms until it gives a value or `limit` passes.
fn wait_until_some<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let mut got = None;
    common::wait_until(limit, || {
        got = f();
        got.is_some()
    });
    got
}

fn signal_test(sig: i32, expect: i32) {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let cmd = format!(
        "echo x >> {}; sleep {m} & sleep {m}; wait",
        started.display()
    );
    let mut child = mp()
        .args(["map", "-j", "2", "--grace", "500ms", "--", "sh", "-c", &cmd])
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"1\n2\n3\n").unwrap();
    if let Err(seen) = wait_for_file_lines(&started, 2, Duration::from_secs(20)) {
        let _ = child.kill();
        panic!("two tasks never started: {seen:?}");
    }
    signal(child.id() as i32, sig);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(expect), "{status:?}");
    if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
        panic!("tasks survived signal {sig}: {left}");
    }
    // mp's forkserver and workers stay in mp's process group: none may be left.
    // (Zombies do not count: this sandbox's init may not reap orphans.)
    let group_left = || -> Vec<String> {
        let group = Command::new("ps")
            .args(["-o", "pid=,stat=,args=", "-g", &child.id().to_string()])
            .output()
            .unwrap();
        text(&group.stdout)
            .lines()
            .filter(|l| !l.split_whitespace().nth(1).unwrap_or("Z").starts_with('Z'))
            .map(String::from)
            .collect()
    };
    common::wait_until(Duration::from_secs(5), || group_left().is_empty());
    let running = group_left();
    assert!(
        running.is_empty(),
        "mp processes left in its group after signal {sig}: {running:?}"
    );
}

#[test]
fn sigint_ends_every_task_and_exits_130() {
    signal_test(libc::SIGINT, 130);
}

#[test]
fn sigterm_ends_every_task_and_exits_143() {
    signal_test(libc::SIGTERM, 143);
}

#[test]
fn many_records_none_lost_or_duplicated() {
    // No COMMAND: each record is a shell line; chunks keep it quick.
    let n = 20_000;
    let input: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let out = map(&["-j", "2", "--chunksize", "50", "echo"], &input);
    assert!(out.status.success(), "{:?}", text(&out.stderr));
    let got: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(got, (1..=n).collect::<Vec<u64>>());
}

#[test]
fn no_torn_lines() {
    // 8 tasks each write one 160-character line in 20 pieces.
    let cmd = "for i in $(seq 20); do printf '%s' {}{}{}{}{}{}{}{}; sleep 0.001; done; echo";
    let input: String = (0..8).map(|i| format!("{i}\n")).collect();
    let out = map(&["-j", "8", "--", "sh", "-c", cmd], &input);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 8);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.len(), 160, "{l}");
        assert!(
            l.chars().all(|c| c == char::from(b'0' + i as u8)),
            "torn line: {l}"
        );
    }
}

#[test]
fn null_separated_input_and_placeholders() {
    let out = map(
        &["-0", "-j", "2", "--", "echo", "{}|{.}|{/}|{//}|{/.}|{#}"],
        "a/b.txt\0c d/e.tar.gz\0",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "a/b.txt|a/b|b.txt|a|b|1\nc d/e.tar.gz|c d/e.tar|e.tar.gz|c d|e.tar|2\n"
    );
    let out = map(
        &["-j", "2", "--", "sh", "-c", "echo {%} $MP_SLOT $MP_SEQ {#}"],
        "x\ny\nz\n",
    );
    for line in text(&out.stdout).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], f[1], "slot placeholder = MP_SLOT: {line}");
        assert_eq!(f[2], f[3], "seq placeholder = MP_SEQ: {line}");
        assert!(["1", "2"].contains(&f[0]), "{line}");
    }
    let out = map(&["--colsep", ",", "echo", "{2}-{1}"], "a,b\nc,d\n");
    assert_eq!(text(&out.stdout), "b-a\nd-c\n");
}

#[test]
fn json_lines_parse() {
    let out = map(
        &[
            "--json",
            "--",
            "sh",
            "-c",
            "echo out {}; echo err >&2; exit {}",
        ],
        "0\n3\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["seq"], 1);
    assert_eq!(rows[0]["input"], "0");
    assert_eq!(rows[0]["exit_code"], 0);
    assert_eq!(rows[0]["stdout"], "out 0\n");
    assert_eq!(rows[0]["stderr"], "err\n");
    assert_eq!(rows[1]["exit_code"], 3);
    for key in ["signal", "timed_out", "start", "duration", "worker_pid"] {
        assert!(rows[1].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn exit_codes_and_messages() {
    assert_eq!(map(&["true"], "1\n2\n").status.code(), Some(0));
    let out = map(&["--", "sh", "-c", "exit $(( {} % 2 ))"], "1\n2\n3\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("2 of 3 tasks failed"),
        "{}",
        text(&out.stderr)
    );
    // Unknown brace expressions such as {..} stay literal (GNU parallel):
    // see unknown_brace_expressions_stay_literal.
    let out = map(&["--timeout", "soon", "true"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad duration"));
    let out = mp()
        .args(["map", "-a", "/nonexistent/records", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/records"));
    let out = map(&["no-such-command-here"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot run no-such-command-here"));
}

#[test]
fn dry_run_prints_commands() {
    let out = map(
        &["--dry-run", "--", "cp", "{}", "{.}.bak"],
        "a.txt\nb c.txt\n",
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "cp a.txt a.bak\ncp 'b c.txt' 'b c.bak'\n"
    );
}

#[test]
fn large_output_spills_and_arrives_whole() {
    // 3 MiB per task: past the in-memory threshold.
    let out = map(
        &[
            "-j",
            "2",
            "--",
            "sh",
            "-c",
            "head -c 3145728 /dev/zero | tr '\\0' {}",
        ],
        "a\nb\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 2 * 3 * 1024 * 1024);
    assert!(out.stdout[..3 * 1024 * 1024].iter().all(|&b| b == b'a'));
    assert!(out.stdout[3 * 1024 * 1024..].iter().all(|&b| b == b'b'));
}

#[test]
fn options_attached_and_command_options_pass_through() {
    // -j2 is mp's option; -n after the command name belongs to the command.
    let out = map(&["-j2", "echo", "-n", "x"], "1\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "x 1");
    let out = map(&["-x", "echo"], "1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'-x'"));
}

#[test]
fn progress_on_request_and_off_by_default_off_a_terminal() {
    let out = map(&["--progress", "true"], "1\n2\n3\n");
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("mp: 3 done, 0 failed"),
        "{}",
        text(&out.stderr)
    );
    let out = map(&["true"], "1\n2\n3\n");
    assert_eq!(
        text(&out.stderr),
        "",
        "no progress when stderr is not a terminal"
    );
}

#[test]
fn two_hundred_thousand_records_none_lost_or_duplicated() {
    // At scale through persistent workers (many chunks in flight, put back
    // in order); per-record commands at scale: many_records_none_lost_or_duplicated.
    let n = 200_000u64;
    let input: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let out = map(
        &["-j", "2", "--chunksize", "200", "--persistent", "cat"],
        &input,
    );
    assert!(out.status.success(), "{:?}", text(&out.stderr));
    let mut expected = 1u64;
    for line in text(&out.stdout).lines() {
        assert_eq!(
            line.parse::<u64>().unwrap(),
            expected,
            "lost, duplicated or reordered"
        );
        expected += 1;
    }
    assert_eq!(expected, n + 1, "all {n} records came back");
}

#[test]
fn every_start_method_runs_and_exits_cleanly() {
    for m in ["fork", "spawn", "forkserver"] {
        let out = map(&["--start-method", m, "-j", "2", "echo"], "1\n2\n3\n");
        assert!(out.status.success(), "{m}: {out:?}");
        assert_eq!(text(&out.stdout), "1\n2\n3\n", "{m}");
        assert_eq!(text(&out.stderr), "", "{m}: nothing on stderr");
    }
    let out = map(&["--start-method", "vfork", "true"], "1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown start method"));
}

#[test]
fn commands_get_default_signals_the_environment_and_a_fresh_path_lookup() {
    // PATH is searched once per worker; a program that has gone is searched
    // for again. dir_a/prog deletes itself, so task 2 must find dir_b/prog.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (d, name) in [(&a, "A"), (&b, "B")] {
        std::fs::create_dir(d).unwrap();
        let prog = d.join("prog");
        let body = if name == "A" {
            "#!/bin/sh\nrm \"$0\"\necho A $1\n"
        } else {
            "#!/bin/sh\necho B $1\n"
        };
        std::fs::write(&prog, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}:/usr/bin:/bin", a.display(), b.display());
    let out = common::mp()
        .args(["map", "-j1", "prog"])
        .env("PATH", &path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"1\n2\n3\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "A 1\nB 2\nB 3\n");

    // No blocked signals, SIGPIPE not ignored, MP_SEQ / MP_SLOT set, and a
    // program that is not there is named in the error.
    let out = map(
        &[
            "-j1",
            "sh",
            "-c",
            "grep -E '^Sig(Blk|Ign)' /proc/self/status; echo seq=$MP_SEQ slot=$MP_SLOT",
        ],
        "x\n",
    );
    let stdout = text(&out.stdout);
    let field = |name: &str| {
        let line = stdout.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(field("SigBlk:"), 0, "{stdout}");
    assert_eq!(field("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{stdout}");
    assert!(stdout.contains("seq=1 slot=1"), "{stdout}");
    let out = map(&["no-such-program-here"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-program-here: No such file or directory"),
        "{}",
        text(&out.stderr)
    );
}

// ---- records are bytes ----

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

#[test]
fn non_utf8_records_pass_through_exactly() {
    let out = map_bytes(&["-0", "printf", "%s\\n"], b"caf\xe9.txt\0");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, b"caf\xe9.txt\n", "{}", show(&out));
}

#[test]
fn placeholders_on_non_utf8_records() {
    let out = map_bytes(
        &[
            "-0", "--", "printf", "%s\\n", "{}", "{.}", "{/}", "{//}", "{/.}",
        ],
        b"d\xff/x\xfe.tar.gz\0",
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        out.stdout,
        b"d\xff/x\xfe.tar.gz\nd\xff/x\xfe.tar\nx\xfe.tar.gz\nd\xff\nx\xfe.tar\n",
        "{{}} {{.}} {{/}} {{//}} {{/.}}: {}",
        show(&out)
    );
}

#[test]
fn non_utf8_command_argument_is_passed_exactly() {
    let out = map_bytes(&[os(b"printf"), os(b"\xff%s\n")], b"a\n");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, b"\xffa\n", "{}", show(&out));
}

#[test]
fn non_utf8_columns() {
    let out = map_bytes(
        &["--colsep", ",", "--", "printf", "[%s]", "{2}", "{1}"],
        b"\xe9,b\n",
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, b"[b][\xe9]", "{}", show(&out));
}

#[test]
fn dry_run_prints_the_exact_bytes() {
    let out = map_bytes(&["--dry-run", "echo"], b"caf\xe9\n");
    assert!(out.status.success(), "{}", show(&out));
    assert!(contains(&out.stdout, b"caf\xe9"), "{}", show(&out));
    assert!(!contains(&out.stdout, REPLACEMENT), "{}", show(&out));
}

#[test]
fn a_file_with_a_non_utf8_name_is_found_and_processed() {
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"caf\xe9 \xff.txt");
    std::fs::write(dir.path().join(name), "hello\n").unwrap();
    let found = Command::new("find")
        .arg(dir.path())
        .args(["-type", "f", "-print0"])
        .output()
        .unwrap();
    assert!(contains(&found.stdout, b"caf\xe9 \xff.txt\0"), "{found:?}");
    let out = map_bytes(&["-0", "gzip"], &found.stdout);
    assert!(out.status.success(), "{}", show(&out));
    let gz = dir.path().join(OsStr::from_bytes(b"caf\xe9 \xff.txt.gz"));
    let listing: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(gz.exists(), "no {gz:?} in {listing:?}; {}", show(&out));
    assert!(!dir.path().join(name).exists(), "gzip left {name:?}");
}

#[test]
fn joblog_and_resume_keep_non_utf8_records_exact() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let (ran, ran2) = (dir.path().join("ran"), dir.path().join("ran2"));
    let input = b"ok\xe9\nbad\xff\nok2\n";
    // Fails for the record starting with "bad".
    let cmd = format!(
        "printf '%s\\n' \"$1\" >> {}; case \"$1\" in bad*) exit 1;; esac",
        ran.display()
    );
    let logs = log.to_str().unwrap();
    let out = map_bytes(
        &["-j1", "--joblog", logs, "--", "sh", "-c", &cmd, "sh"],
        input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(std::fs::read(&ran).unwrap(), input, "what the commands got");
    let joblog = std::fs::read(&log).unwrap();
    assert!(!contains(&joblog, REPLACEMENT), "{}", text(&joblog));
    let row = joblog
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"2\t"))
        .unwrap_or_else(|| panic!("no row for record 2: {}", text(&joblog)));
    let command = row.split(|&b| b == b'\t').nth(8).unwrap_or_default();
    assert!(
        contains(command, b"bad\xff"),
        "the joblog's command column: {:?}",
        text(command)
    );
    // --resume-failed runs the failed record again, exactly, and nothing else.
    let cmd2 = format!("printf '%s\\n' \"$1\" >> {}", ran2.display());
    let out = map_bytes(
        &[
            "-j1",
            "--joblog",
            logs,
            "--resume-failed",
            "--",
            "sh",
            "-c",
            &cmd2,
            "sh",
        ],
        input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rerun = std::fs::read(&ran2).unwrap_or_default();
    assert_eq!(rerun, b"bad\xff\n", "rerun: {:?}", text(&rerun));
}

#[test]
fn json_output_keeps_non_utf8_bytes_in_b64_fields() {
    let out = map_bytes(
        &[
            "--json",
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$1\"; printf '%s' \"$1\" >&2",
            "sh",
        ],
        b"caf\xe9\nok\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2, "{}", show(&out));
    let first = &rows[0];
    for field in ["input", "stdout", "stderr"] {
        assert!(
            first.get(format!("{field}_b64")).is_some(),
            "no {field}_b64: {first}"
        );
    }
    assert_eq!(json_bytes(first, "input"), b"caf\xe9");
    assert_eq!(json_bytes(first, "stdout"), b"caf\xe9\n");
    assert_eq!(json_bytes(first, "stderr"), b"caf\xe9");
    let second = &rows[1];
    for field in ["input_b64", "stdout_b64", "stderr_b64"] {
        assert!(
            second.get(field).is_none(),
            "valid UTF-8 has no {field}: {second}"
        );
    }
    assert_eq!(second["input"], "ok");
    assert_eq!(second["stdout"], "ok\n");
    assert_eq!(second["stderr"], "ok");
}

// ---- signals at every moment ----

const SIGNALS: [(i32, i32); 3] = [
    (libc::SIGINT, 130),
    (libc::SIGTERM, 143),
    (libc::SIGHUP, 129),
];

/// Starts `mp map ARGS` in its own process group with stdin left open to
/// the test (so the input is idle, not ended).
fn spawn_open(args: &[String]) -> (std::process::ChildStdin, std::process::Child) {
    let mut child = mp()
        .arg("map")
        .args(args)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (stdin, child)
}

/// Sends `sig` to mp while its input is idle (`busy` false) or while a task
/// or record runs (`busy` true); mp must exit 128+n within a second (3 s
/// here), say so, and leave no process behind.
fn interrupt(sig: i32, expect: i32, persistent: bool, busy: bool) {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("started");
    let t = token.display();
    let mut args: Vec<String> = Vec::new();
    if persistent {
        // One record is a whole block: it starts while the input stays open.
        args.extend(["--persistent".into(), "--chunksize".into(), "1".into()]);
    }
    args.extend(["--".into(), "sh".into(), "-c".into()]);
    args.push(match (persistent, busy) {
        (false, false) => "echo \"$1\"".into(),
        (false, true) => format!("echo started >> {t}; sleep {m}"),
        (true, false) => "cat".into(),
        (true, true) => {
            format!("while read l; do echo started >> {t}; sleep {m}; echo $l; done")
        }
    });
    // $0 of the shell: puts the marker in the command line of mp, its
    // workers and the shell.
    args.push(m.clone());
    let what = format!("signal {sig}, persistent {persistent}, busy {busy}");
    let (mut stdin, child) = spawn_open(&args);
    let run = Run::new(child);
    if busy {
        stdin.write_all(b"1\n").unwrap();
        if let Err(seen) = wait_for_file_lines(&token, 1, Duration::from_secs(10)) {
            let f = run.finish(Duration::ZERO);
            panic!("{what}: the task never started ({seen:?}): {}", f.show());
        }
    }
    assert!(
        wait_signal_ready(run.pid(), sig, Duration::from_secs(10)),
        "{what}: mp never caught signal {sig}"
    );
    let t = Instant::now();
    signal(run.pid() as i32, sig);
    let f = run.finish(Duration::from_secs(10));
    let took = t.elapsed();
    drop(stdin);
    assert_eq!(f.code(), Some(expect), "{what}: {}", f.show());
    assert!(
        took < Duration::from_secs(3),
        "{what}: exit took {took:?}: {}",
        f.show()
    );
    assert!(
        text(&f.stderr).contains("interrupted"),
        "{what}: {}",
        f.show()
    );
    if let Err(left) = gone_within(&m, Duration::from_secs(5)) {
        panic!("{what}: processes left behind: {left}");
    }
}

#[test]
fn a_signal_with_idle_input_ends_mp_at_once() {
    for (sig, expect) in SIGNALS {
        interrupt(sig, expect, false, false);
    }
}

#[test]
fn a_signal_while_a_task_runs_ends_it_and_mp() {
    for (sig, expect) in SIGNALS {
        interrupt(sig, expect, false, true);
    }
}

#[test]
fn a_signal_with_idle_input_ends_persistent_mp_at_once() {
    for (sig, expect) in SIGNALS {
        interrupt(sig, expect, true, false);
    }
}

#[test]
fn a_signal_while_a_record_is_processed_ends_persistent_mp() {
    for (sig, expect) in SIGNALS {
        interrupt(sig, expect, true, true);
    }
}

#[test]
fn results_are_written_before_the_input_ends() {
    let (mut stdin, mut child) = spawn_open(&["echo".into()]);
    let lines = line_reader(child.stdout.take().unwrap(), usize::MAX);
    let run = Run::new(child);
    stdin.write_all(b"a\n").unwrap();
    let got = lines.recv_timeout(Duration::from_secs(10));
    drop(stdin);
    let f = run.finish(Duration::from_secs(10));
    assert_eq!(
        got.as_deref().ok(),
        Some(&b"a\n"[..]),
        "the result of record 1 while the input stays open: {}",
        f.show()
    );
    assert_eq!(f.code(), Some(0), "{}", f.show());
}

// ---- no orphans when a worker dies ----

/// SIGKILLs the worker running a task (or a persistent command that ignores
/// SIGTERM): the task is reported lost, its command does not outlive it.
fn worker_killed(persistent: bool) {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let p = pids.display();
    let args: Vec<String> = if persistent {
        vec![
            "--persistent".into(),
            "-j1".into(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            format!("trap '' TERM; while read l; do echo $$ >> {p}; sleep {m}; echo $l; done"),
        ]
    } else {
        vec![
            "-j1".into(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            format!("echo $$ >> {p}; sleep {m}"),
        ]
    };
    let run = Run::map(&args, b"1\n");
    let seen = match wait_for_file_lines(&pids, 1, Duration::from_secs(10)) {
        Ok(seen) => seen,
        Err(seen) => {
            let f = run.finish(Duration::ZERO);
            panic!("the task never started ({seen:?}): {}", f.show());
        }
    };
    let sh: i32 = seen[0].trim().parse().unwrap();
    let worker =
        parent_pid(sh).unwrap_or_else(|| panic!("no /proc entry for the task's shell {sh}"));
    assert_ne!(
        worker,
        run.pid() as i32,
        "the task's parent is mp itself, not a worker"
    );
    signal(worker, libc::SIGKILL);
    let f = run.finish(Duration::from_secs(10));
    assert_eq!(f.code(), Some(1), "{}", f.show());
    let err = text(&f.stderr);
    assert!(
        err.contains("lost") && err.contains("killed by SIGKILL"),
        "{}",
        f.show()
    );
    if let Err(left) = gone_within(&m, Duration::from_secs(5)) {
        panic!("the lost task's processes outlived their worker: {left}");
    }
}

#[test]
fn a_killed_worker_takes_its_task_with_it() {
    worker_killed(false);
}

#[test]
fn a_killed_persistent_worker_takes_its_command_with_it() {
    worker_killed(true);
}

/// A persistent command that does not reply in time is torn down with its
/// whole process group (TERM, --grace, KILL): the background process it
/// started goes with it.
#[test]
fn a_persistent_command_that_times_out_goes_with_its_whole_group() {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd =
        format!("while read l; do if [ $l = 1 ]; then sleep {m} & sleep {m}; fi; echo ok$l; done");
    let out = map(
        &[
            "--persistent",
            "-j1",
            "--timeout",
            "300ms",
            "--grace",
            "300ms",
            "--",
            &cmd,
        ],
        "1\n2\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(text(&out.stdout), "ok2\n", "{}", show(&out));
    if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
        panic!("the timed-out command's group outlived its teardown: {left}");
    }
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// A stop signal that reaches a worker after it started a command and
/// before it recorded the command's process group (a window the test hook
/// `MP_TEST_RECORD_DELAY_MS` holds open for two seconds) still ends the
/// command before the worker exits: the worker never leaves an orphan
/// behind. The command ignores SIGTERM, so only the worker's SIGKILL after
/// --grace ends it; mp's own sweep of orphans (SIGTERM, then SIGKILL after
/// --grace) would come too late for the check.
#[test]
fn a_stop_signal_before_the_group_is_recorded_still_ends_the_command() {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let cmd = format!("trap '' TERM; echo $$ >> {}; sleep {m}", pids.display());
    let args = ["-j1", "--grace", "2s", "--", "sh", "-c", &cmd];
    let delay = OsStr::new("2000");
    let run = Run::new(common::spawn_map_in(
        &args,
        b"1\n",
        &[("MP_TEST_RECORD_DELAY_MS", delay)],
    ));
    let seen = match wait_for_file_lines(&pids, 1, Duration::from_secs(10)) {
        Ok(seen) => seen,
        Err(seen) => {
            let f = run.finish(Duration::ZERO);
            panic!("the task never started ({seen:?}): {}", f.show());
        }
    };
    let sh: i32 = seen[0].trim().parse().unwrap();
    let worker =
        parent_pid(sh).unwrap_or_else(|| panic!("no /proc entry for the task's shell {sh}"));
    assert_ne!(worker, run.pid() as i32, "the task's parent is a worker");
    // The worker is still in the hook's pause: the group is not recorded.
    signal(worker, libc::SIGTERM);
    let worker_gone = common::wait_until(Duration::from_secs(20), || !running(worker));
    let command_left = running(sh);
    let f = run.finish(Duration::from_secs(10));
    assert!(worker_gone, "the worker did not exit: {}", f.show());
    assert!(
        !command_left,
        "the worker exited and left its command (pid {sh}) running: {}",
        f.show()
    );
    if let Err(left) = gone_within(&m, Duration::from_secs(5)) {
        panic!("the command's processes outlived their worker: {left}");
    }
}

// ---- a closed output pipe ----

/// `seq 100000 | mp map ... | head -3`: mp ends as if killed by SIGPIPE
/// (status 141), quietly, and leaves nothing behind.
fn closed_output_pipe(persistent: bool) {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let mut args: Vec<String> = Vec::new();
    if persistent {
        args.extend(["--persistent".into(), "--".into(), "sh".into(), "-c".into()]);
        args.push("while read l; do echo \"$l\"; done".into());
    } else {
        args.extend(["--".into(), "sh".into(), "-c".into(), "echo \"$1\"".into()]);
    }
    args.push(m.clone());
    let input: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    let mut child = common::spawn_map_in(&args, input.as_bytes(), &[]);
    // Reads three lines, then closes the pipe.
    let lines = line_reader(child.stdout.take().unwrap(), 3);
    let run = Run::new(child);
    let got: Vec<Vec<u8>> = (0..3)
        .map_while(|_| lines.recv_timeout(Duration::from_secs(10)).ok())
        .collect();
    let f = run.finish(Duration::from_secs(10));
    assert_eq!(
        got,
        [&b"1\n"[..], b"2\n", b"3\n"],
        "first lines: {}",
        f.show()
    );
    let sigpipe = f
        .status
        .is_some_and(|s| s.code() == Some(141) || s.signal() == Some(libc::SIGPIPE));
    assert!(sigpipe, "status 141 (or killed by SIGPIPE): {}", f.show());
    assert_eq!(text(&f.stderr), "", "{}", f.show());
    if let Err(left) = gone_within(&m, Duration::from_secs(5)) {
        panic!("processes left behind: {left}");
    }
}

#[test]
fn a_closed_output_pipe_ends_mp_quietly_with_141() {
    closed_output_pipe(false);
}

#[test]
fn a_closed_output_pipe_ends_persistent_mp_quietly_with_141() {
    closed_output_pipe(true);
}

#[test]
fn a_write_error_is_reported_with_exit_1() {
    let mut child = mp()
        .args(["map", "echo"])
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"x\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        !err.trim().is_empty() && !err.contains("panicked"),
        "{}",
        show(&out)
    );
}

// ---- no panic on any argument ----

#[test]
fn a_huge_timeout_means_no_deadline() {
    for huge in ["100000000000000000000", "18446744073709551616"] {
        let out = map(&["--timeout", huge, "echo"], "x\n");
        assert_eq!(
            out.status.code(),
            Some(0),
            "--timeout {huge}: {}",
            show(&out)
        );
        assert_eq!(text(&out.stdout), "x\n", "--timeout {huge}: {}", show(&out));
    }
}

#[test]
fn zero_timeout_and_zero_maxtasksperchild_are_usage_errors() {
    let out = map(&["--timeout", "0", "echo"], "x\n");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("--timeout"), "{}", show(&out));
    let out = map(&["--maxtasksperchild", "0", "echo"], "x\n");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(!text(&out.stderr).contains("panicked"), "{}", show(&out));
}

#[test]
fn bad_timeouts_are_usage_errors() {
    for bad in [
        &["--timeout", "abc"][..],
        &["--timeout", "-1"],
        &["--timeout=-1"],
        &["--timeout", "nan"],
        &["--timeout", "inf"],
    ] {
        let args: Vec<&str> = bad.iter().copied().chain(["echo"]).collect();
        let out = map(&args, "x\n");
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", show(&out));
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{bad:?}: {}",
            show(&out)
        );
    }
}

#[test]
fn odd_option_values_never_panic() {
    let numbers = [
        "0",
        "-1",
        "+0",
        "",
        "abc",
        "1.5",
        "0%",
        "-0",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "1000000%",
    ];
    let durations = [
        "0",
        "0ms",
        "",
        ".",
        "1.5.5",
        "1e309",
        "99999999999999999999h",
        "18446744073709551616ms",
        "0.0000000001",
        "1y",
        "-0",
        "NaN",
        "ms",
    ];
    let halts = [
        "",
        ",",
        "now,",
        "soon,fail=",
        "now,fail=0",
        "now,fail=-1",
        "soon,success=0",
        "now,done=99999999999999999999",
        "fail=1",
        "soon,fail=1,extra",
        "later",
    ];
    let delimiters = ["", "\\", "ab", "\\x", "\\0", "\\n", "é", "\\\\"];
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for v in numbers {
        for opt in ["-j", "--chunksize", "--retries"] {
            cases.push(vec![opt, v]);
        }
    }
    for v in durations {
        cases.push(vec!["--timeout", v]);
        cases.push(vec!["--grace", v]);
    }
    for v in halts {
        cases.push(vec!["--halt", v]);
    }
    for v in delimiters {
        cases.push(vec!["-d", v]);
        cases.push(vec!["--colsep", v]);
    }
    // Every case runs, so one failure lists them all.
    let mut bad = Vec::new();
    for case in cases {
        let mut args: Vec<&str> = case.clone();
        args.extend(["--", "echo", "{}", "{1}"]);
        let f = Run::map(&args, b"a,b\nc\n").finish(Duration::from_secs(20));
        if text(&f.stderr).contains("panicked") || !matches!(f.code(), Some(0..=2)) {
            bad.push(format!("{case:?}: {}", f.show()));
        }
    }
    assert!(
        bad.is_empty(),
        "{} cases panicked or exited other than 0, 1 or 2:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

// ---- GNU parallel's meanings ----

#[test]
fn backslash_t_means_tab_for_colsep_and_delimiter() {
    let out = map(&["--colsep", "\\t", "echo", "{2}"], "a\tb\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "b\n", "{}", show(&out));
    let out = map(&["-d", "\\t", "echo"], "a\tb\t");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "a\nb\n", "{}", show(&out));
    let out = map(&["--colsep", "", "echo"], "a\n");
    assert_eq!(out.status.code(), Some(2), "empty --colsep: {}", show(&out));
}

#[test]
fn colsep_without_placeholders_passes_the_columns_as_arguments() {
    let out = map(&["--colsep", ",", "printf", "[%s]"], "a,b\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "[a][b]", "{}", show(&out));
    // Not trimmed.
    let out = map(&["--colsep", ",", "printf", "[%s]"], " a , b \n");
    assert_eq!(text(&out.stdout), "[ a ][ b ]", "{}", show(&out));
}

#[test]
fn unknown_brace_expressions_stay_literal() {
    let out = map(&["--", "sh", "-c", "echo ${#0}"], "abc\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "3\n", "{}", show(&out));
    let out = map(&["echo", "{0}", "{..}", "{x}", "{}"], "r\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), "{0} {..} {x} r\n", "{}", show(&out));
}

#[test]
fn path_placeholders_at_the_edges() {
    let dirs = map(&["--", "printf", "%s\\n", "{//}"], "/\na//b\nfile\n");
    assert_eq!(text(&dirs.stdout), "/\na\n.\n", "{{//}}: {}", show(&dirs));
    let noext = map(&["--", "printf", "%s\\n", "{.}"], ".hidden\n");
    assert_eq!(text(&noext.stdout), ".hidden\n", "{{.}}: {}", show(&noext));
    let base = map(&["--", "printf", "%s\\n", "{/}"], "dir/\n");
    assert_eq!(text(&base.stdout), "dir\n", "{{/}}: {}", show(&base));
}

/// The distinct worker slots `--dry-run -j J` gives 200 records.
fn slots(j: &str) -> Result<HashSet<u64>, String> {
    let input: String = (1..=200).map(|i| format!("{i}\n")).collect();
    let out = map(&["--dry-run", "-j", j, "echo", "{%}"], &input);
    if out.status.code() != Some(0) {
        return Err(show(&out));
    }
    text(&out.stdout)
        .lines()
        .map(|l| {
            l.rsplit(' ')
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|_| show(&out))
        })
        .collect()
}

#[test]
fn processes_relative_to_the_cpus() {
    let nproc: u64 = text(&Command::new("nproc").output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap();
    for (j, want) in [
        ("3", 3),
        ("+1", nproc + 1),
        ("-1", (nproc - 1).max(1)),
        ("50%", (nproc * 50 / 100).max(1)),
        ("200%", 2 * nproc),
    ] {
        let got = slots(j).unwrap_or_else(|e| panic!("-j {j}: {e}"));
        let want: HashSet<u64> = (1..=want).collect();
        assert_eq!(got, want, "-j {j} with {nproc} CPUs");
    }
    for zero in [&["-j", "0"][..], &["-j0"]] {
        let args: Vec<&str> = zero.iter().copied().chain(["echo"]).collect();
        let out = map(&args, "x\n");
        assert_eq!(out.status.code(), Some(2), "{zero:?}: {}", show(&out));
        assert!(
            !text(&out.stderr).contains("-- -"),
            "{zero:?}: {}",
            show(&out)
        );
    }
}

#[test]
fn a_task_is_finished_when_its_command_exits() {
    for extra in [&[][..], &["--timeout", "1"]] {
        let m = marker();
        let _reaper = Reaper(m.clone());
        // The background sleep keeps the task's stdout open; it is the
        // command's exit that ends the task.
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.push(format!("sleep {m} & echo hi"));
        let t = Instant::now();
        let f = Run::map(&args, b"x\n").finish(Duration::from_millis(2500));
        assert!(
            f.status.is_some(),
            "{extra:?}: still running after {:?}: {}",
            t.elapsed(),
            f.show()
        );
        assert_eq!(f.code(), Some(0), "{extra:?}: {}", f.show());
        assert!(text(&f.stdout).starts_with("hi"), "{extra:?}: {}", f.show());
        assert!(
            !text(&f.stderr).contains("timed out"),
            "{extra:?}: {}",
            f.show()
        );
        if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
            panic!("{extra:?}: the background sleep was left running: {left}");
        }
    }
}

/// Whether some thread of `pid` is blocked writing to a pipe.
fn blocked_in_pipe_write(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.contains("pipe")))
}

/// A signal ends mp even while its main thread is stuck writing to a stdout
/// nobody reads; a second signal ends it at once.
#[test]
fn a_signal_ends_mp_while_stdout_is_blocked() {
    for (sig, expect) in SIGNALS {
        let mut child = mp()
            .args(["map", "--", "sh", "-c", "head -c 1000000 /dev/zero"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"a\n").unwrap();
        let pid = child.id();
        // Nobody reads stdout: the pipe fills and mp's write blocks.
        let blocked = common::wait_until(Duration::from_secs(10), || blocked_in_pipe_write(pid));
        assert!(blocked, "mp never blocked writing its output");
        assert!(wait_signal_ready(pid, sig, Duration::from_secs(5)));
        let t = Instant::now();
        signal(pid as i32, sig);
        let done = common::wait_until(Duration::from_secs(3), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !done {
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        assert!(
            done,
            "signal {sig}: mp still running {:?} later",
            t.elapsed()
        );
        assert_eq!(status.code(), Some(expect), "signal {sig}");
    }
}

/// A helper the command double-forks (re-parented to mp's subreaper while
/// the command still runs) must not get the running task killed; it is
/// ended once the command is over.
#[test]
fn a_double_forked_helper_does_not_end_its_running_task() {
    let m = marker();
    let _reaper = Reaper(m.clone());
    let cmd = format!("(sleep {m} &); sleep 1; echo done");
    for extra in [&[][..], &["--persistent", "--chunksize", "1"]] {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if extra.is_empty() {
            args.extend(["sh".into(), "-c".into(), cmd.clone()]);
        } else {
            let per = format!("while read l; do {cmd}; done");
            args.extend(["sh".into(), "-c".into(), per]);
        }
        let f = Run::map(&args, b"x\n").finish(Duration::from_secs(10));
        assert_eq!(f.code(), Some(0), "{extra:?}: {}", f.show());
        assert_eq!(text(&f.stdout), "done\n", "{extra:?}: {}", f.show());
        if let Err(left) = gone_within(&format!("sleep {m}"), Duration::from_secs(5)) {
            panic!("{extra:?}: the helper outlived the run: {left}");
        }
    }
}

#[test]
fn records_start_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("start");
    let cmd = format!("echo {{#}} >> {}; sleep 0.5; echo {{#}}", log.display());
    let input: String = (1..=12).map(|i| format!("{i}\n")).collect();
    let out = map(&["-j2", "--", "sh", "-c", &cmd], &input);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let want: String = (1..=12).map(|i| format!("{i}\n")).collect();
    assert_eq!(text(&out.stdout), want, "{}", show(&out));
    let started: Vec<u64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut sorted = started.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (1..=12).collect::<Vec<_>>(),
        "start log {started:?}"
    );
    // Two workers may start adjacent records in either order, no more.
    for (p, &m) in started.iter().enumerate() {
        for earlier in 1..m.saturating_sub(1) {
            assert!(
                started[..p].contains(&earlier),
                "task {m} started before task {earlier}: {started:?}"
            );
        }
    }
}

// ---- cleanup and messages ----

/// The entries of `tmp` whose names start with "mp-".
fn spill_left(tmp: &std::path::Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().starts_with(b"mp-"))
        .collect()
}

/// Starts `mp map ARGS` with TMPDIR=`tmp`, in its own process group.
fn spawn_in_tmp(args: &[String], tmp: &std::path::Path, input: &[u8]) -> std::process::Child {
    common::spawn_map_in(args, input, &[("TMPDIR", tmp.as_os_str())])
}

// Each task prints 2 MB, past what is kept in memory: its output goes to a
// spill file in TMPDIR. Whatever way mp ends, none is left there.

const BIG: &str = "head -c 2000000 /dev/zero";

/// `-- sh -c SCRIPT MARKER`: the marker is $0, the record $1.
fn sh_with_marker(script: String, m: &str) -> Vec<String> {
    vec!["--".into(), "sh".into(), "-c".into(), script, m.into()]
}

/// mp ended, nothing with the marker is left, and no spill file either.
fn no_spill_left(case: &str, m: &str, tmp: &std::path::Path, f: &common::Finished) {
    assert!(f.status.is_some(), "{case}: mp did not end: {}", f.show());
    if let Err(left) = gone_within(m, Duration::from_secs(5)) {
        panic!("{case}: processes left behind: {left}");
    }
    let left = spill_left(tmp);
    assert!(
        left.is_empty(),
        "{case}: left in TMPDIR: {left:?}; {}",
        f.show()
    );
}

#[test]
fn spill_files_are_removed_at_the_normal_end() {
    let (m, tmp) = (marker(), tempfile::tempdir().unwrap());
    let _reaper = Reaper(m.clone());
    let mut args: Vec<String> = vec!["-j2".into()];
    args.extend(sh_with_marker(BIG.into(), &m));
    let f = Run::new(spawn_in_tmp(&args, tmp.path(), b"1\n2\n3\n")).finish(Duration::from_secs(30));
    assert_eq!(f.code(), Some(0), "{}", f.show());
    assert_eq!(f.stdout.len(), 6_000_000);
    no_spill_left("normal end", &m, tmp.path(), &f);
}

#[test]
fn spill_files_are_removed_after_halt_now() {
    // Record 3 fails once all three have printed; 1 and 2 are still
    // running with their output in spill files.
    let dir = tempfile::tempdir().unwrap();
    let tk = dir.path().join("printed");
    let tk = tk.display();
    let (m, tmp) = (marker(), tempfile::tempdir().unwrap());
    let _reaper = Reaper(m.clone());
    let script = format!(
        "{BIG}; echo $1 >> {tk}; if [ $1 = 3 ]; then while [ $(wc -l < {tk}) -lt 3 ]; do sleep 0.05; done; exit 1; fi; sleep {m}"
    );
    let mut args: Vec<String> = vec![
        "-j3".into(),
        "--unordered".into(),
        "--halt".into(),
        "now,fail=1".into(),
    ];
    args.extend(sh_with_marker(script, &m));
    let f = Run::new(spawn_in_tmp(&args, tmp.path(), b"1\n2\n3\n")).finish(Duration::from_secs(30));
    assert_eq!(f.code(), Some(1), "{}", f.show());
    no_spill_left("--halt now", &m, tmp.path(), &f);
}

#[test]
fn spill_files_are_removed_after_sigint() {
    // Two tasks run with their output spilled.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("printed");
    let (m, tmp) = (marker(), tempfile::tempdir().unwrap());
    let _reaper = Reaper(m.clone());
    let mut args: Vec<String> = vec!["-j2".into()];
    let script = format!("{BIG}; echo $1 >> {}; sleep {m}", token.display());
    args.extend(sh_with_marker(script, &m));
    let run = Run::new(spawn_in_tmp(&args, tmp.path(), b"1\n2\n"));
    if let Err(seen) = wait_for_file_lines(&token, 2, Duration::from_secs(10)) {
        let f = run.finish(Duration::ZERO);
        panic!("two tasks never printed ({seen:?}): {}", f.show());
    }
    assert!(
        wait_signal_ready(run.pid(), libc::SIGINT, Duration::from_secs(10)),
        "mp never caught SIGINT"
    );
    signal(run.pid() as i32, libc::SIGINT);
    let f = run.finish(Duration::from_secs(10));
    no_spill_left("SIGINT", &m, tmp.path(), &f);
}

#[test]
fn spill_files_are_removed_after_a_closed_output_pipe() {
    let (m, tmp) = (marker(), tempfile::tempdir().unwrap());
    let _reaper = Reaper(m.clone());
    let mut args: Vec<String> = vec!["-j2".into()];
    args.extend(sh_with_marker(BIG.into(), &m));
    let input: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let mut child = spawn_in_tmp(&args, tmp.path(), input.as_bytes());
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let spill_dir = tmp.path().to_path_buf();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 100_000];
        let read = std::io::Read::read_exact(&mut stdout, &mut buf).is_ok();
        // While mp is blocked writing task 1, later tasks finish into spill
        // files: close the pipe once two are there (today they are named
        // files in TMPDIR; if they ever are not, this only costs 5 s).
        common::wait_until(Duration::from_secs(5), || spill_left(&spill_dir).len() >= 2);
        let _ = tx.send(read);
        // The pipe closes here.
    });
    let run = Run::new(child);
    let read = rx.recv_timeout(Duration::from_secs(20)) == Ok(true);
    let f = run.finish(Duration::from_secs(20));
    assert!(read, "no output to read: {}", f.show());
    no_spill_left("closed pipe", &m, tmp.path(), &f);
}

#[test]
fn a_huge_failing_record_gives_a_short_message() {
    // No COMMAND: the record is a 10 MB shell command line.
    let mut input = b"exit 3 # ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10_000_000));
    input.push(b'\n');
    let out = map_bytes(&[] as &[&str], &input);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!out.stderr.is_empty(), "{}", show(&out));
    assert!(
        out.stderr.len() < 4096,
        "{} bytes on stderr: {}",
        out.stderr.len(),
        show(&out)
    );
}

// ---- examples in --help and the README work as written ----

/// A fresh directory with what the examples read: logs, a TSV, CSVs, a
/// list of files, text files, a gzip file, a command file and a job script.
fn example_fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, body: &str| std::fs::write(d.join(name), body).unwrap();
    write("a.log", "one\n");
    write("b.log", "two\n");
    write("data.tsv", "x\ty\tz\n");
    write("c.csv", "2\n1\n");
    write("files.txt", "f1.txt\n");
    write("f1.txt", "f1\n");
    write("x.txt", "x\n");
    write("commands.txt", "echo from-a-command-line\n");
    write("job.sh", "#!/bin/sh\necho job $1\n");
    std::fs::set_permissions(
        d.join("job.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let gz = Command::new("gzip").arg("-k").arg(d.join("x.txt")).status();
    assert!(gz.unwrap().success());
    std::fs::rename(d.join("x.txt.gz"), d.join("y.gz")).unwrap();
    dir
}

/// Runs one example line with `sh` in a fresh fixture directory, with this
/// build's `mp` first on PATH; returns the directory and the output.
fn run_example(line: &str) -> (tempfile::TempDir, std::process::Output) {
    let dir = example_fixtures();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mp"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir.path())
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "example {line:?} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (dir, out)
}

/// What each example must have done, by a word it contains.
fn check_example(line: &str, dir: &std::path::Path, out: &std::process::Output) {
    let stdout = text(&out.stdout);
    let exists = |name: &str| assert!(dir.join(name).exists(), "{line:?}: no {name}");
    if line.contains("'*.log'") {
        exists("a.log.gz");
        exists("b.log.gz");
    } else if line.contains("sh -c 'echo $(( {} * {} ))'") {
        assert_eq!(stdout.lines().count(), 100, "{line:?}");
        assert_eq!(stdout.lines().nth(9), Some("100"), "{line:?}");
    } else if line.contains("data.tsv") {
        assert_eq!(stdout, "z x\n", "{line:?}");
    } else if line.contains("*.csv") {
        assert_eq!(
            std::fs::read_to_string(dir.join("c.sorted")).unwrap(),
            "1\n2\n"
        );
    } else if line.contains("--joblog") {
        exists("f1.txt.gz");
        exists("jobs.log");
    } else if line.contains("*.txt") {
        exists("x.txt.gz");
        exists("f1.txt.gz");
    } else if line.contains("gunzip") {
        assert_eq!(std::fs::read_to_string(dir.join("y")).unwrap(), "x\n");
    } else if line.contains("commands.txt") {
        assert_eq!(stdout, "from-a-command-line\n", "{line:?}");
    } else if line.contains("--json") {
        let n = stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["stdout"].as_str().is_some_and(|s| s.starts_with("job ")))
            .count();
        assert_eq!(n, 10, "{line:?}: {stdout}");
    } else {
        panic!("no check for the example {line:?}: add one");
    }
}

#[test]
fn help_examples_work_as_written() {
    let (help, examples) = common::help_examples("map");
    assert_eq!(examples.len(), 5, "{help}");
    for line in &examples {
        let (dir, out) = run_example(line);
        check_example(line, dir.path(), &out);
    }
}

#[test]
fn readme_map_examples_work_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let examples: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## The command line")
        .skip_while(|l| *l != "```sh")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert_eq!(examples.len(), 4, "{examples:?}");
    for line in examples {
        let (dir, out) = run_example(line);
        check_example(line, dir.path(), &out);
    }
}

/// `mp map` forks its forkserver while it has one thread instead of
/// exec'ing a fresh copy of itself (2 ms of every run's start-up): the
/// server a task's worker came from has mp's own argv, not the exec'd
/// server's marker. The command prints its worker's parent's argv.
#[test]
fn forkserver_is_forked_not_execed() {
    let script =
        r#"server=$(awk '{print $4}' /proc/$PPID/stat); tr '\0' ' ' < /proc/$server/cmdline"#;
    let out = map(&["--", "sh", "-c", script], "x\n");
    assert!(out.status.success(), "{}", show(&out));
    let argv = text(&out.stdout);
    assert!(
        !argv.contains("--multiprocessing-forkserver") && argv.contains(" map -- sh -c "),
        "the forkserver's argv: {argv:?}"
    );
}
