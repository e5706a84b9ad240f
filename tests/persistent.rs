//! `mp map --persistent` and the job-control options (`--retries`, `--halt`,
//! `--joblog`, `--resume`), driven through the real binary; non-UTF-8 records
//! and replies in `--json` and `--frame json`. (Signals, worker loss and
//! closed pipes in persistent mode are tested in map.rs, beside per-record mode.)

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    b64decode, json_bytes, json_rows, map, map_bytes, show, signal, spawn_map, text,
    wait_for_file_lines,
};

fn seq(a: u64, b: u64) -> String {
    (a..=b).map(|i| format!("{i}\n")).collect()
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

const PY_WORKER: &str = r#"
import sys
for line in sys.stdin:
    n = int(line)
    print(n * 2)
"#;

#[test]
fn python_worker_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let w = script(dir.path(), "w.py", PY_WORKER);
    // Small blocks so both workers take part and results interleave.
    let out = map(
        &[
            "--persistent",
            "-j2",
            "--chunksize",
            "7",
            "--",
            "python3",
            &w,
        ],
        &seq(1, 1000),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want: String = (1..=1000).map(|i| format!("{}\n", i * 2)).collect();
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn shell_worker_adaptive_blocks_and_unordered() {
    let cmd = "while read l; do echo \"<$l>\"; done";
    let out = map(&["--persistent", "-j2", "--", cmd], &seq(1, 5000));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want: String = (1..=5000).map(|i| format!("<{i}>\n")).collect();
    assert_eq!(text(&out.stdout), want);
    let out = map(
        &[
            "--persistent",
            "-j2",
            "--unordered",
            "--chunksize",
            "3",
            "--",
            cmd,
        ],
        &seq(1, 300),
    );
    assert_eq!(out.status.code(), Some(0));
    let mut got: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    got.sort();
    let mut want: Vec<String> = (1..=300).map(|i| format!("<{i}>")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn json_frame_carries_multi_line_replies_and_record_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let w = script(
        dir.path(),
        "j.py",
        r#"
import sys, json
for line in sys.stdin:
    m = json.loads(line)
    print(json.dumps("record %s\nseq %d" % (m["record"], m["seq"])))
"#,
    );
    let out = map(
        &[
            "--persistent",
            "-j2",
            "--chunksize",
            "2",
            "--frame",
            "json",
            "--",
            "python3",
            &w,
        ],
        "a\nb b\nc\"q\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "record a\nseq 1\nrecord b b\nseq 2\nrecord c\"q\nseq 3\n"
    );
    // --json: one object per record, the reply as a JSON value.
    let out = map(
        &[
            "--persistent",
            "--frame",
            "json",
            "--json",
            "--",
            "python3",
            &w,
        ],
        "x\n",
    );
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["seq"], 1);
    assert_eq!(v["input"], "x");
    assert_eq!(v["reply"], "record x\nseq 1");
    assert!(v["pid"].as_u64().is_some());
}

#[test]
fn invalid_json_reply_fails_that_record_only() {
    let dir = tempfile::tempdir().unwrap();
    let w = script(
        dir.path(),
        "bad.py",
        r#"
import sys, json
for line in sys.stdin:
    m = json.loads(line)
    print("{oops" if m["record"] == "2" else json.dumps(m["record"]))
"#,
    );
    let out = map(
        &[
            "--persistent",
            "-j1",
            "--frame",
            "json",
            "--",
            "python3",
            &w,
        ],
        &seq(1, 4),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "1\n3\n4\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("record 2: its reply is not valid JSON"),
        "{err}"
    );
}

#[test]
fn maxtasksperchild_restarts_the_command_every_n_records() {
    let out = map(
        &[
            "--persistent",
            "-j1",
            "--maxtasksperchild",
            "10",
            "--",
            "while read l; do echo $$; done",
        ],
        &seq(1, 35),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let pids: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(pids.len(), 35);
    for (i, chunk) in pids.chunks(10).enumerate() {
        assert!(chunk.iter().all(|p| *p == chunk[0]), "run {i}: {chunk:?}");
    }
    let mut distinct = pids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{pids:?}");
}

#[test]
fn a_record_that_hangs_times_out_and_the_rest_go_on() {
    let start = Instant::now();
    let out = map(
        &[
            "--persistent",
            "-j1",
            "--timeout",
            "500ms",
            "--grace",
            "200ms",
            "--",
            "while read l; do if [ $l = 3 ]; then sleep 60; fi; echo ok$l; done",
        ],
        &seq(1, 6),
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "ok1\nok2\nok4\nok5\nok6\n");
    let err = text(&out.stderr);
    assert!(err.contains("record 3: no reply within 0.500s"), "{err}");
}

#[test]
fn a_command_that_exits_mid_run_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Exits at record 500, every time.
    let w = script(
        dir.path(),
        "w.sh",
        "while read l; do [ \"$l\" = 500 ] && exit 7; echo \"r$l\"; done\n",
    );
    let out = map(
        &["--persistent", "-j2", "--chunksize", "64", "--", "sh", &w],
        &seq(1, 1000),
    );
    assert_eq!(out.status.code(), Some(1));
    let want: String = (1..=1000)
        .filter(|&i| i != 500)
        .map(|i| format!("r{i}\n"))
        .collect();
    assert_eq!(text(&out.stdout), want);
    let err = text(&out.stderr);
    assert!(
        err.contains("record 500: the command exited (exit code 7) before replying"),
        "{err}"
    );
    assert!(err.contains("1 of 1000 tasks failed"), "{err}");

    // Exits at record 500 the first time only: --retries 1 gets every reply.
    let flag = dir.path().join("crashed");
    let w = script(
        dir.path(),
        "once.sh",
        &format!(
            "while read l; do if [ \"$l\" = 500 ] && [ ! -e {f} ]; then touch {f}; exit 7; fi; echo \"r$l\"; done\n",
            f = flag.display()
        ),
    );
    let out = map(
        &[
            "--persistent",
            "-j2",
            "--chunksize",
            "64",
            "--retries",
            "1",
            "--",
            "sh",
            &w,
        ],
        &seq(1, 1000),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want: String = (1..=1000).map(|i| format!("r{i}\n")).collect();
    assert_eq!(text(&out.stdout), want);
    assert!(flag.exists());
}

#[test]
fn records_with_newlines_need_the_json_frame() {
    let out = map(&["--persistent", "-0", "--", "cat"], "a\0b\nc\0d\0");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "a\nd\n");
    assert!(text(&out.stderr).contains("record 2: the record contains a newline"));
}

#[test]
fn persistent_usage_errors() {
    let out = map(&["--persistent"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--persistent needs a COMMAND"));
    let out = map(&["--persistent", "--", "echo", "{}"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not {}"),
        "{}",
        text(&out.stderr)
    );
    let out = map(&["--frame", "json", "cat"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--frame json needs --persistent"));
    let out = map(&["--halt", "soon,fail=5%", "true"], "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("percentages are not supported"));
    let out = map(&["--resume", "true"], "x\n");
    assert_eq!(out.status.code(), Some(2));
}

/// Peak resident set of `pid` (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn memory_stays_flat_on_a_large_input() {
    // 400,000 records of 200 bytes: 80 MB through the workers.
    let mut child = spawn_map(&["--persistent", "-j2", "--", "cat"]);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let line = format!("{}\n", "x".repeat(199));
        let block = line.repeat(1000);
        for _ in 0..400 {
            stdin.write_all(block.as_bytes()).unwrap();
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let (mut bytes, mut lines) = (0u64, 0u64);
        loop {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes += n as u64;
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        (bytes, lines)
    });
    let (mut peak, mut samples) = (0, 0);
    while child.try_wait().unwrap().is_none() {
        if let Some(k) = peak_rss_kib(pid) {
            peak = peak.max(k);
            samples += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    let (bytes, lines) = reader.join().unwrap();
    assert_eq!(lines, 400_000);
    assert_eq!(bytes, 80_000_000);
    // VmHWM is the peak over the whole run, so one sample near the end
    // suffices; but there must be one.
    assert!(
        samples > 0 && peak > 0,
        "no RSS sample taken ({samples} samples)"
    );
    // Generous: the input is 80 MB; mp keeps a few blocks of 512 KiB.
    assert!(peak < 60 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn a_stuck_first_record_pauses_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let release = dir.path().join("release");
    // Record 1 is stuck until the test creates `release`.
    let cmd = format!(
        "while read l; do echo $l >> {seen}; if [ $l = 1 ]; then while [ ! -e {release} ]; do sleep 0.05; done; fi; echo $l; done",
        seen = seen.display(),
        release = release.display()
    );
    let mut child = spawn_map(&["--persistent", "-j2", "--chunksize", "1", "--", &cmd]);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(seq(1, 200).as_bytes());
    });
    // Record 1 is stuck and the other worker has been handed records.
    let busy = |lines: &[String]| lines.iter().any(|l| l == "1") && lines.len() >= 3;
    let t = Instant::now();
    let mut lines = Vec::new();
    while t.elapsed() < Duration::from_secs(10) && !busy(&lines) {
        std::thread::sleep(Duration::from_millis(20));
        lines = read_lines(&seen);
    }
    if !busy(&lines) {
        let _ = std::fs::write(&release, "");
        let _ = child.kill();
        panic!("record 1 and two others never started: {lines:?}");
    }
    // Without the pause the other worker runs through all 199 records in
    // well under a second; give it that second to show it does not.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(1) && lines.len() <= 12 {
        std::thread::sleep(Duration::from_millis(20));
        lines = read_lines(&seen);
    }
    std::fs::write(&release, "").unwrap();
    // Window: 2 x 2 + 2 blocks of one record may wait for record 1, plus what
    // the workers hold.
    assert!(
        lines.len() <= 12,
        "{} records started while record 1 was stuck: {lines:?}",
        lines.len()
    );
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stdout), seq(1, 200));
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

// ---- job control, both modes ----

#[test]
fn retries_rerun_a_failing_command() {
    let dir = tempfile::tempdir().unwrap();
    // Fails the first time for each record, succeeds the second.
    let cmd = format!(
        "if [ -e {d}/$0 ]; then echo ok$0; else touch {d}/$0; exit 1; fi",
        d = dir.path().display()
    );
    let out = map(
        &["-j2", "--retries", "1", "--", "sh", "-c", &cmd],
        &seq(1, 5),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok1\nok2\nok3\nok4\nok5\n");
    let dir2 = tempfile::tempdir().unwrap();
    let cmd = cmd.replace(
        &dir.path().display().to_string(),
        &dir2.path().display().to_string(),
    );
    let out = map(&["-j2", "--", "sh", "-c", &cmd], &seq(1, 3));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn halt_soon_starts_nothing_new_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    // Each task outlasts the time mp needs to see a result, so what runs
    // after the failure is only what was already handed over.
    let cmd = format!("echo $0 >> {}; sleep 0.2; [ $0 != 3 ]", ran.display());
    let out = map(
        &["-j1", "--halt", "soon", "--", "sh", "-c", &cmd],
        &seq(1, 20),
    );
    assert_eq!(out.status.code(), Some(1));
    let ran = std::fs::read_to_string(&ran).unwrap();
    // At most one task per worker was already handed over when 3 failed.
    assert!(ran == "1\n2\n3\n" || ran == "1\n2\n3\n4\n", "{ran:?}");
    let err = text(&out.stderr);
    assert!(err.contains("--halt soon,fail=1: reached"), "{err}");
}

#[test]
fn halt_now_kills_running_tasks() {
    let start = Instant::now();
    let out = map(
        // --unordered: a failure counts when it happens, not when its turn
        // in the output comes.
        &[
            "-j2",
            "--unordered",
            "--halt",
            "now,fail=1",
            "--",
            "sh",
            "-c",
            "if [ $0 = 2 ]; then exit 1; fi; sleep 30",
        ],
        &seq(1, 10),
    );
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("stopping the running ones"));
}

#[test]
fn halt_on_success_count() {
    let out = map(&["-j1", "--halt", "soon,success=2", "echo"], &seq(1, 10));
    assert_eq!(out.status.code(), Some(0));
    // The task handed to the worker as the second one finished may still run.
    let got = text(&out.stdout);
    assert!(got == "1\n2\n" || got == "1\n2\n3\n", "{got:?}");
}

fn joblog_lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
fn joblog_has_one_line_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let out = map(
        &[
            "-j2",
            "--joblog",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo $0; [ $0 != 2 ]",
        ],
        &seq(1, 3),
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = joblog_lines(&log);
    assert_eq!(
        lines[0].join("\t"),
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"
    );
    assert_eq!(lines.len(), 4);
    let mut rows = lines[1..].to_vec();
    rows.sort();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(row[0], (i + 1).to_string());
        assert!(row[2].parse::<f64>().unwrap() > 1.7e9);
        assert!(row[3].parse::<f64>().unwrap() >= 0.0);
        assert_eq!(row[5], "2"); // "N\n"
        assert_eq!(row[6], if i == 1 { "1" } else { "0" });
        assert_eq!(row[7], "0");
        assert!(row[8].starts_with("sh -c"), "{row:?}");
    }
    // Persistent mode: one line per record, the record as the command.
    let log2 = dir.path().join("log2");
    let out = map(
        &[
            "--persistent",
            "--joblog",
            log2.to_str().unwrap(),
            "--",
            "cat",
        ],
        "a\nb\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = joblog_lines(&log2);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1][0], "1");
    assert_eq!(lines[1][8], "a");
    assert_eq!(lines[2][8], "b");
    assert_eq!(lines[2][4], "2");
}

#[test]
fn resume_runs_only_what_the_joblog_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let logs = log.to_str().unwrap();
    let cmd = "echo $0; [ $0 != 4 ]";
    let out = map(
        &["-j2", "--joblog", logs, "--", "sh", "-c", cmd],
        &seq(1, 5),
    );
    assert_eq!(out.status.code(), Some(1));
    // Nothing left to do for --resume; --resume-failed reruns record 4.
    let out = map(
        &["-j2", "--joblog", logs, "--resume", "--", "sh", "-c", cmd],
        &seq(1, 5),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "");
    let out = map(
        &[
            "-j2",
            "--joblog",
            logs,
            "--resume-failed",
            "--",
            "sh",
            "-c",
            "echo again$0",
        ],
        &seq(1, 7),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "again4\nagain6\nagain7\n");
}

fn interrupted_then_resumed(persistent: bool) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let ran = dir.path().join("ran");
    let n = 24;
    let mut args: Vec<String> = vec!["-j2".into(), "--joblog".into(), log.display().to_string()];
    let per_record = format!("sleep 0.2; echo $0 >> {}; echo $0", ran.display());
    let persistent_cmd = format!(
        "while read l; do sleep 0.2; echo $l >> {}; echo $l; done",
        ran.display()
    );
    if persistent {
        args.extend([
            "--persistent".into(),
            "--chunksize".into(),
            "1".into(),
            "--".into(),
            persistent_cmd,
        ]);
    } else {
        args.extend(["--".into(), "sh".into(), "-c".into(), per_record]);
    }
    let run = |extra: &[&str]| {
        let mut a = args.clone();
        a.splice(0..0, extra.iter().map(|s| s.to_string()));
        let mut child = spawn_map(&a);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(seq(1, n).as_bytes()).unwrap();
        drop(stdin);
        child
    };
    let mut child = run(&[]);
    // Some records have finished, most have not.
    if let Err(seen) = wait_for_file_lines(&ran, 4, Duration::from_secs(10)) {
        let _ = child.kill();
        panic!("four records never finished: {seen:?}");
    }
    signal(child.id() as i32, libc::SIGINT);
    let first = child.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(130), "{}", text(&first.stderr));
    let done_first = text(&first.stdout).lines().count();
    assert!(done_first > 0 && done_first < n as usize, "{done_first}");
    let second = run(&["--resume"]).wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    // Every record's output exactly once over the two runs.
    let mut outs: Vec<u64> = text(&first.stdout)
        .lines()
        .chain(text(&second.stdout).lines())
        .map(|l| l.parse().unwrap())
        .collect();
    outs.sort();
    assert_eq!(outs, (1..=n).collect::<Vec<_>>());
    // Nothing that finished ran twice (a task cut short by Ctrl-C never wrote).
    let mut ran: Vec<u64> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    ran.sort();
    assert_eq!(ran, (1..=n).collect::<Vec<_>>());
}

#[test]
fn ctrl_c_then_resume_finishes_with_nothing_run_twice() {
    interrupted_then_resumed(false);
}

#[test]
fn ctrl_c_then_resume_in_persistent_mode() {
    interrupted_then_resumed(true);
}

// ---- bytes and JSON ----

#[test]
fn json_output_keeps_non_utf8_inputs_and_replies() {
    let out = map_bytes(&["--persistent", "--json", "--", "cat"], b"caf\xe9\nok\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2, "{}", show(&out));
    for field in ["input_b64", "reply_b64"] {
        assert!(rows[0].get(field).is_some(), "no {field}: {}", rows[0]);
        assert!(
            rows[1].get(field).is_none(),
            "valid UTF-8 has no {field}: {}",
            rows[1]
        );
    }
    assert_eq!(json_bytes(&rows[0], "input"), b"caf\xe9");
    assert_eq!(json_bytes(&rows[0], "reply"), b"caf\xe9");
    assert_eq!(rows[1]["input"], "ok");
    assert_eq!(rows[1]["reply"], "ok");
}

#[test]
fn json_frame_sends_record_b64_for_non_utf8_records() {
    let dir = tempfile::tempdir().unwrap();
    // Replies with what it received.
    let w = script(
        dir.path(),
        "echo.py",
        r#"
import sys, json
for line in sys.stdin:
    m = json.loads(line)
    print(json.dumps({"seq": m["seq"], "record": m["record"], "b64": m.get("record_b64")}), flush=True)
"#,
    );
    let out = map_bytes(
        &["--persistent", "--frame", "json", "--", "python3", &w],
        b"caf\xe9\nok\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2, "{}", show(&out));
    assert_eq!(rows[0]["seq"], 1);
    assert_eq!(rows[0]["record"], "caf\u{fffd}");
    let b64 = rows[0]["b64"]
        .as_str()
        .unwrap_or_else(|| panic!("no record_b64: {}", rows[0]));
    assert_eq!(
        b64decode(b64).as_deref(),
        Some(&b"caf\xe9"[..]),
        "record_b64 {b64:?}"
    );
    assert_eq!(rows[1]["record"], "ok");
    assert!(
        rows[1]["b64"].is_null(),
        "valid UTF-8 has no record_b64: {}",
        rows[1]
    );
}

#[test]
fn json_frame_replies_print_compact_and_strings_bare() {
    let dir = tempfile::tempdir().unwrap();
    let w = script(
        dir.path(),
        "spaced.py",
        r#"
import sys, json
for line in sys.stdin:
    m = json.loads(line)
    print('{"a": 1, "b": [1, 2]}' if m["record"] == "o" else json.dumps("s p"), flush=True)
"#,
    );
    let out = map(
        &["--persistent", "--frame", "json", "--", "python3", &w],
        "o\ns\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "{\"a\":1,\"b\":[1,2]}\ns p\n",
        "{}",
        show(&out)
    );
}

/// The README's persistent-worker examples, run as written: the two
/// `worker.py` files and the shell worker.
#[test]
fn readme_persistent_examples_work_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("### Persistent workers"))
        .take_while(|l| !l.starts_with("### Long runs"))
        .collect();
    // Code blocks in order: (language, body).
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in section {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.to_string(), String::new())),
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    let py = |frame: &str| {
        blocks
            .iter()
            .find(|(l, b)| l == "python" && b.starts_with(&format!("# worker.py, --frame {frame}")))
            .unwrap_or_else(|| panic!("no --frame {frame} worker.py in the README"))
            .1
            .clone()
    };
    let shell: Vec<&str> = blocks
        .iter()
        .filter(|(l, _)| l == "sh")
        .flat_map(|(_, b)| b.lines())
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(shell.len(), 2, "{shell:?}");
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mp")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |line: &str, worker: &str, input: &str| -> String {
        std::fs::write(dir.path().join("worker.py"), worker).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(dir.path())
            .env("PATH", &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{line}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    // `seq 100000 | mp map --persistent -j4 -- python3 worker.py`, as written.
    assert!(
        shell[0].starts_with("seq 100000 | mp map --persistent"),
        "{}",
        shell[0]
    );
    let out = run(shell[0], &py("lines"), "");
    assert_eq!(out.lines().count(), 100_000);
    assert_eq!(out.lines().nth(41), Some("42"));
    // The same command line with the json worker and --frame json.
    let json_line = shell[0]
        .replace("seq 100000 |", "seq 3 |")
        .replace("--persistent", "--persistent --frame json");
    let out = run(&json_line, &py("json"), "");
    assert_eq!(out, "record 1:\n1\nrecord 2:\n2\nrecord 3:\n3\n");
    // The shell worker, fed on stdin.
    let out = run(shell[1], "", "ab\nxyz\n");
    assert_eq!(out, "2 ab\n3 xyz\n");
}
