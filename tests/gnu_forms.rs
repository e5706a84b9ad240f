//! GNU parallel's input forms in `mp map`: `:::`, `::::`, `:::+`, several
//! `-a`, `{1}` `{2}`, `-n`/`-X`/`-m`, `--tag`, `-k`: each compared byte for
//! byte with GNU parallel's own output on the same input (skipped, with a
//! notice, where `parallel` is not installed: `.ci/run` installs it).
//! Also `PARALLEL_JOBSLOT`, `--bar`, the terminal hint, the progress total
//! (through `script`, a pty), `-v`/`MP_LOG` and `mp completions`.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{map, mp, show, text};

/// GNU parallel, if installed (and really GNU's).
fn gnu() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("parallel")
            .arg("--version")
            .output()
            .is_ok_and(|o| text(&o.stdout).starts_with("GNU parallel"))
    });
    if !found {
        eprintln!(
            "NOTICE: GNU parallel is not installed: comparison skipped (.ci/run installs it)"
        );
    }
    found.then_some("parallel")
}

/// Runs `tool ARGS` in `dir` with stdin from `input`.
fn run_in(dir: &Path, tool: &str, args: &[&str], input: &str) -> Output {
    let mut cmd = if tool == "mp" {
        let mut c = mp();
        c.arg("map");
        c
    } else {
        // -k: GNU's order is completion order by default; mp's is input order.
        let mut c = Command::new(tool);
        c.args(["--will-cite", "-k"]);
        c
    };
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.as_bytes().to_vec();
    let w = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().unwrap();
    let _ = w.join();
    out
}

/// A directory with two small files of records.
fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f1"), "p\nq\n").unwrap();
    std::fs::write(dir.path().join("f2"), "1\n2\n3\n").unwrap();
    dir
}

/// `mp map ARGS` and `parallel -k ARGS` print the same bytes and succeed.
fn same_as_gnu(args: &[&str], input: &str, want: &str) {
    let dir = fixtures();
    let ours = run_in(dir.path(), "mp", args, input);
    assert!(ours.status.success(), "mp map {args:?}: {}", show(&ours));
    assert_eq!(text(&ours.stdout), want, "mp map {args:?}");
    if let Some(p) = gnu() {
        let theirs = run_in(dir.path(), p, args, input);
        assert!(
            theirs.status.success(),
            "parallel {args:?}: {}",
            show(&theirs)
        );
        assert_eq!(
            text(&ours.stdout),
            text(&theirs.stdout),
            "mp map and GNU parallel differ on {args:?}"
        );
    }
}

#[test]
fn list_sources_give_the_cartesian_product() {
    same_as_gnu(
        &["-j2", "echo", ":::", "a", "b", ":::", "1", "2"],
        "",
        "a 1\na 2\nb 1\nb 2\n",
    );
    same_as_gnu(
        &[
            "-j2", "echo", "{2}-{1}", ":::", "a", "b", ":::", "1", "2", "3",
        ],
        "",
        "1-a\n2-a\n3-a\n1-b\n2-b\n3-b\n",
    );
    // Three sources: the last varies fastest.
    same_as_gnu(
        &[
            "echo",
            "{3}{2}{1}",
            ":::",
            "a",
            "b",
            ":::",
            "x",
            ":::",
            "1",
            "2",
        ],
        "",
        "1xa\n2xa\n1xb\n2xb\n",
    );
}

#[test]
fn linked_sources_pair_up_and_stop_at_the_shortest() {
    same_as_gnu(
        &["echo", ":::", "a", "b", "c", ":::+", "1", "2"],
        "",
        "a 1\nb 2\n",
    );
    same_as_gnu(&["echo", "::::", "f1", "::::+", "f2"], "", "p 1\nq 2\n");
}

#[test]
fn files_and_stdin_as_sources() {
    same_as_gnu(
        &["-a", "f1", "-a", "f2", "echo"],
        "",
        "p 1\np 2\np 3\nq 1\nq 2\nq 3\n",
    );
    same_as_gnu(
        &["-a", "f1", "echo", ":::", "Z", "Y"],
        "",
        "p Z\np Y\nq Z\nq Y\n",
    );
    same_as_gnu(&["echo", "::::", "-", ":::", "9"], "s\nt\n", "s 9\nt 9\n");
    same_as_gnu(
        &["echo", "::::", "f1", "f2"],
        "",
        "p 1\np 2\np 3\nq 1\nq 2\nq 3\n",
    );
    // A :::: file that is missing is a usage error naming it.
    let out = map(&["echo", "::::", "/nonexistent/records"], "");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("/nonexistent/records"),
        "{}",
        show(&out)
    );
}

#[test]
fn batching_with_n_x_and_m() {
    same_as_gnu(
        &[
            "-j1",
            "-n",
            "2",
            "echo",
            "pre{}post",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        "",
        "prea bpost\nprec dpost\npreepost\n",
    );
    same_as_gnu(
        &["-j1", "-n2", "echo", "{2}", "{1}", ":::", "a", "b", "c"],
        "",
        "b a\nc\n",
    );
    // -m and -X spread the records over the workers at the end of the input.
    same_as_gnu(
        &[
            "-j2",
            "-m",
            "echo",
            "pre{}post",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        "",
        "prea b cpost\npred epost\n",
    );
    same_as_gnu(
        &[
            "-j2",
            "-X",
            "echo",
            "pre{}post",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        "",
        "preapost prebpost precpost\npredpost preepost\n",
    );
    same_as_gnu(
        &["-j3", "-X", "echo"],
        "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
        "1 2 3 4\n5 6 7 8\n9 10\n",
    );
    same_as_gnu(
        &["-j1", "-X", "echo pre{}post | tr a A", ":::", "a", "b"],
        "",
        "preApost prebpost\n",
    );
    same_as_gnu(
        &[
            "-j1", "-n", "2", "echo", "{#}:{.}", ":::", "a.x", "b.y", "c.z",
        ],
        "",
        "1:a b\n2:c\n",
    );
    // Without a placeholder the records go last, as separate arguments.
    let out = map(&["-n", "3", "printf", "[%s]"], "a\nb c\nd\ne\n");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out.stdout), "[a][b c][d][e]");
}

#[test]
fn tag_prefixes_each_line_with_the_record() {
    same_as_gnu(
        &["--tag", "echo", "x", ":::", "a", "b", ":::", "1", "2"],
        "",
        "a 1\tx a 1\na 2\tx a 2\nb 1\tx b 1\nb 2\tx b 2\n",
    );
    same_as_gnu(
        &["-j1", "--tag", "-n2", "echo", ":::", "a", "b", "c"],
        "",
        "a b\ta b\nc\tc\n",
    );
    same_as_gnu(&["--tag", "seq"], "2\n", "2\t1\n2\t2\n");
}

#[test]
fn keep_order_is_accepted_and_is_the_default() {
    same_as_gnu(&["-k", "echo"], "1\n2\n3\n", "1\n2\n3\n");
    same_as_gnu(&["--keep-order", "echo"], "1\n2\n3\n", "1\n2\n3\n");
}

#[test]
fn jobslot_and_seq_reach_the_task() {
    let out = map(
        &[
            "-j1",
            "sh",
            "-c",
            "echo $PARALLEL_JOBSLOT $MP_SLOT $PARALLEL_SEQ {}",
        ],
        "a\nb\n",
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out.stdout), "1 1 1 a\n1 1 2 b\n");
    if let Some(p) = gnu() {
        let dir = fixtures();
        let theirs = run_in(
            dir.path(),
            p,
            &[
                "-j1",
                "sh",
                "-c",
                "'echo $PARALLEL_JOBSLOT $PARALLEL_SEQ {}'",
            ],
            "a\nb\n",
        );
        assert_eq!(text(&theirs.stdout), "1 1 a\n1 2 b\n");
    }
}

#[test]
fn bar_and_eta_are_progress() {
    for flag in ["--bar", "--eta", "--progress"] {
        let out = map(&[flag, "-a", "/dev/null", "true"], "");
        assert!(out.status.success(), "{flag}: {}", show(&out));
        // stderr is a pipe here: the plain progress line.
        assert!(
            text(&out.stderr).contains("0 done"),
            "{flag}: {}",
            show(&out)
        );
    }
}

/// Runs `line` with `sh` under `script`, on a pseudo-terminal; the
/// terminal's output, or None (with a notice) when `script` is missing.
fn on_a_terminal(line: &str, dir: &Path) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(script) = script else {
        eprintln!("NOTICE: script(1) is not installed: terminal test skipped");
        return None;
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_mp")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(script)
        .args(["-qec", line, "/dev/null"])
        .current_dir(dir)
        .env("PATH", path)
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}: {}", show(&out));
    Some(text(&out.stdout))
}

#[test]
fn progress_on_a_terminal_shows_the_total_for_an_arg_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("recs"), "1\n2\n3\n4\n5\n").unwrap();
    let Some(screen) = on_a_terminal("mp map --progress -j2 -a recs true", dir.path()) else {
        return;
    };
    assert!(screen.contains("5/5 done"), "{screen:?}");
    assert!(screen.contains("/s"), "{screen:?}");
    // Lists know their total too.
    let Some(screen) = on_a_terminal("mp map --bar true ::: a b c", dir.path()) else {
        return;
    };
    assert!(screen.contains("3/3 done"), "{screen:?}");
    // --persistent counts records.
    let Some(screen) = on_a_terminal("mp map --progress --persistent -a recs cat", dir.path())
    else {
        return;
    };
    assert!(screen.contains("5/5 done"), "{screen:?}");
}

#[test]
fn a_terminal_on_stdin_gets_a_hint() {
    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("NOTICE: script(1) is not installed: terminal test skipped");
        return;
    };
    // One record typed on the terminal, then Ctrl-D.
    let mut child = Command::new(script)
        .args([
            "-qec",
            &format!("{} map echo", env!("CARGO_BIN_EXE_mp")),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"typed\n\x04").unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = text(&out.stdout).replace('\r', "");
    assert!(
        screen.contains("mp map: reading records from the terminal"),
        "{}",
        show(&out)
    );
    // The typed line is echoed by the terminal, then printed by the task.
    assert_eq!(screen.matches("typed\n").count(), 2, "{screen:?}");
    // From a pipe: no hint.
    let out = map(&["echo"], "piped\n");
    assert_eq!(text(&out.stderr), "", "{}", show(&out));
}

#[test]
fn verbose_logs_what_mp_decided() {
    let out = mp()
        .args(["map", "-v", "-j1", "true", ":::", "a"])
        .env_remove("MP_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("INFO mp::pool::supervisor: pool: started worker 1"),
        "{err}"
    );
    assert!(err.contains("map: 1 workers (from -j"), "{err}");
    // Off by default.
    let out = mp()
        .args(["map", "-j1", "true", ":::", "a"])
        .env_remove("MP_LOG")
        .output()
        .unwrap();
    assert_eq!(text(&out.stderr), "", "{}", show(&out));
    // MP_LOG picks what to show, on any subcommand.
    let out = mp()
        .args([
            "map",
            "-j1",
            "--timeout",
            "100ms",
            "--grace",
            "100ms",
            "sleep",
            ":::",
            "5",
        ])
        .env("MP_LOG", "mp::cli::command=info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(err.contains("timed out: SIGTERM to process group"), "{err}");
    assert!(!err.contains("pool: started worker"), "{err}");
    let out = mp().args(["info", "-vv"]).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, needle) in [
        ("bash", "_mp()"),
        ("zsh", "#compdef mp"),
        ("fish", "complete -c mp"),
        ("elvish", "edit:completion:arg-completer[mp]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = mp().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", show(&out));
        let s = text(&out.stdout);
        assert!(s.contains(needle), "{shell}: {s}");
        assert!(s.contains("arg-file"), "{shell}: map's options are there");
        // The committed file is the same (the drift test checks them all).
        let committed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(match shell {
                    "bash" => "mp.bash",
                    "zsh" => "_mp",
                    "fish" => "mp.fish",
                    "elvish" => "mp.elv",
                    _ => "_mp.ps1",
                }),
        )
        .unwrap();
        assert_eq!(s, committed, "{shell}");
    }
    let out = mp().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn short_help_is_short_and_long_help_teaches() {
    let short = text(&mp().args(["map", "-h"]).output().unwrap().stdout);
    let long = text(&mp().args(["map", "--help"]).output().unwrap().stdout);
    assert!(short.lines().count() < 80, "{short}");
    assert!(short.contains("mp map --help"), "{short}");
    for needle in [
        "PLACEHOLDERS",
        "a/b/c.tar.gz",
        "WORKED EXAMPLES",
        "DIFFERENCES FROM GNU PARALLEL",
        ":::+",
        "-print0 | mp map -0",
        "--colsep ,",
        "--persistent python3",
        "--resume",
        "jq -r",
    ] {
        assert!(long.contains(needle), "{needle}: {long}");
    }
}

/// The worked examples of `mp map --help` run as written (all but the one
/// that needs the network and a Ctrl-C).
#[test]
fn worked_examples_in_the_long_help_work() {
    let long = text(&mp().args(["map", "--help"]).output().unwrap().stdout);
    let block: Vec<&str> = long
        .lines()
        .skip_while(|l| l.trim() != "WORKED EXAMPLES")
        .take_while(|l| l.trim() != "Examples:")
        .filter_map(|l| l.strip_prefix("       "))
        .collect();
    let script: Vec<&str> = block
        .iter()
        .copied()
        .skip_while(|l| *l != "# upper.py")
        .skip(1)
        .take_while(|l| !l.starts_with("seq "))
        .collect();
    assert!(script.len() >= 2, "{long}");
    let commands: Vec<&str> = block
        .iter()
        .copied()
        .filter(|l| {
            ["find ", "mp map ", "seq ", "ls "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter(|l| !l.contains("curl"))
        .collect();
    assert_eq!(commands.len(), 5, "{commands:?}");
    let bin = Path::new(env!("CARGO_BIN_EXE_mp")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let has_jq = Command::new("jq").arg("--version").output().is_ok();
    for line in commands {
        if line.contains("jq") && !has_jq {
            eprintln!("NOTICE: jq is not installed: {line:?} skipped");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.log"), "one\n").unwrap();
        std::fs::write(d.join("x.tmp"), "").unwrap();
        std::fs::write(d.join("prices.csv"), "apple,3\npear,4\n").unwrap();
        std::fs::write(d.join("upper.py"), script.join("\n") + "\n").unwrap();
        std::fs::write(d.join("bad.gz"), "not gzip\n").unwrap();
        let out = Command::new("sh")
            .args(["-c", line])
            .current_dir(d)
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        if line.contains("'*.log'") {
            assert!(out.status.success(), "{line}: {}", show(&out));
            assert!(d.join("a.log.gz").exists(), "{line}");
        } else if line.contains("'*.tmp'") {
            assert!(out.status.success(), "{line}: {}", show(&out));
            assert!(!d.join("x.tmp").exists(), "{line}");
        } else if line.contains("prices.csv") {
            assert_eq!(
                stdout,
                "apple costs 3\npear costs 4\n",
                "{line}: {}",
                show(&out)
            );
        } else if line.contains("upper.py") {
            assert_eq!(stdout.lines().count(), 1000, "{line}: {}", show(&out));
        } else if line.contains("jq") {
            assert_eq!(stdout, "bad.gz\n", "{line}: {}", show(&out));
        } else {
            panic!("no check for the example {line:?}: add one");
        }
    }
}

/// `--line-buffer`: a line reaches stdout while its task still runs (the
/// task then waits on a FIFO the test opens only after reading the line).
#[test]
fn line_buffer_prints_a_line_while_its_task_runs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("go");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let script = format!("echo start $1; read go < '{}'; echo end $1", fifo.display());
    let mut child = common::spawn_map_in(
        &["--line-buffer", "--tag", "sh", "-c", &script, "sh", "{}"],
        b"r1\n",
        &[],
    );
    let lines = common::line_reader(child.stdout.take().unwrap(), 10);
    let first = lines.recv_timeout(std::time::Duration::from_secs(20));
    // Let the task go on (and end) whatever happened.
    std::fs::write(&fifo, "go\n").unwrap();
    let first = first.expect("no line while the task ran: output held until the task ended");
    assert_eq!(text(&first), "r1\tstart r1\n");
    let second = lines
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the task's second line");
    assert_eq!(text(&second), "r1\tend r1\n");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Long lines (past the 4 KiB a pipe writes atomically), each written in
/// many pieces by two tasks at once: every line comes out whole, with its
/// tag, and the joblog counts the bytes.
#[test]
fn line_buffer_never_mixes_lines_of_two_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // Each task writes 100 lines of 20,000 of its letter, 100 bytes a write.
    let script = "import os, sys\n\
                  c = sys.argv[1].encode()\n\
                  for i in range(100):\n\
                  \x20   for _ in range(200):\n\
                  \x20       os.write(1, c * 100)\n\
                  \x20   os.write(1, b'\\n')\n";
    let out = map(
        &[
            "-j2",
            "--line-buffer",
            "--tag",
            "--joblog",
            log.to_str().unwrap(),
            "python3",
            "-c",
            script,
            "{}",
        ],
        "a\nb\n",
    );
    assert!(out.status.success(), "{}", show(&out));
    let mut count = std::collections::HashMap::new();
    for line in text(&out.stdout).lines() {
        let (tag, body) = line.split_once('\t').expect("a tagged line");
        assert!(
            tag == "a" || tag == "b",
            "bad tag {:?}",
            &tag[..tag.len().min(40)]
        );
        assert_eq!(body.len(), 20_000, "a line of {tag} was cut or mixed");
        assert!(body.bytes().all(|b| b == tag.as_bytes()[0]), "mixed line");
        *count.entry(tag.to_string()).or_insert(0) += 1;
    }
    assert_eq!(count.get("a"), Some(&100));
    assert_eq!(count.get("b"), Some(&100));
    let log = std::fs::read_to_string(&log).unwrap();
    let receive: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(5).unwrap())
        .collect();
    assert_eq!(receive, ["2000100", "2000100"], "{log}");
}

/// `--line-buffer ... | head -1`: mp stops quietly (141), the endless
/// command with it.
#[test]
fn line_buffer_stops_quietly_when_the_reader_goes() {
    let mark = common::marker();
    let script = format!("yes line; : {mark}");
    let mut child = common::spawn_map_in(
        &["--line-buffer", "sh", "-c", &script, "sh", "{}"],
        b"r\n",
        &[],
    );
    let lines = common::line_reader(child.stdout.take().unwrap(), 1);
    let first = lines
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a first line");
    assert_eq!(text(&first), "line\n");
    // The reader has gone: line_reader closed the pipe after one line.
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("mp map still runs with its reader gone");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(141), "{status:?}");
    common::gone_within(&mark, std::time::Duration::from_secs(10)).unwrap();
    let mut err = Vec::new();
    std::io::Read::read_to_end(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "{}", text(&err));
}

/// What --line-buffer cannot go with is refused, naming both.
#[test]
fn line_buffer_refuses_keep_order_and_json() {
    for (other, named) in [
        ("-k", "--keep-order"),
        ("--json", "--json"),
        ("--persistent", "--persistent"),
    ] {
        let out = map(&["--line-buffer", other, "cat"], "a\n");
        assert_eq!(out.status.code(), Some(2), "{other}: {}", show(&out));
        let err = text(&out.stderr);
        assert!(
            err.contains("--line-buffer") && err.contains(named),
            "{other}: {err}"
        );
    }
}
