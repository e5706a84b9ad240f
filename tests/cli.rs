//! The `mp` binary and the ported documentation examples, run as a user would.

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::prelude::*;
use predicates::prelude::*;

mod servers;

/// `target/<profile>/examples/NAME`, built by `cargo test` / `cargo nextest` with the tests.
fn example(name: &str) -> Command {
    let mut dir: PathBuf = std::env::current_exe().unwrap();
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built; run the tests with cargo test or cargo nextest",
        path.display()
    );
    Command::new(path)
}

#[test]
fn info_prints_cpu_count_and_methods() {
    Command::cargo_bin("mp")
        .unwrap()
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::contains("cpu_count: "))
        .stdout(predicate::str::contains("default_start_method: forkserver"));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    Command::cargo_bin("mp")
        .unwrap()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("frobnicate"));
}

#[test]
fn help_and_version_succeed() {
    Command::cargo_bin("mp")
        .unwrap()
        .arg("--help")
        .assert()
        .success();
    Command::cargo_bin("mp")
        .unwrap()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn example_process_hello() {
    example("process_hello")
        .assert()
        .success()
        .stdout("hello bob\n");
}

#[test]
fn example_pipe() {
    example("pipe")
        .assert()
        .success()
        .stdout("(42, None, \"hello\")\n");
}

#[test]
fn example_process_info_under_each_method() {
    for method in ["fork", "spawn", "forkserver"] {
        let out = example("process_info").arg(method).output().unwrap();
        assert!(out.status.success(), "{method}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "main line", "{text}");
        let main_pid = lines
            .iter()
            .find_map(|l| l.strip_prefix("process id: "))
            .unwrap();
        assert!(
            text.contains(&format!("mp parent process: {main_pid} (MainProcess)")),
            "{method}: child names its parent\n{text}"
        );
        assert!(text.ends_with("hello bob\n"), "{text}");
    }
}

#[test]
fn example_forgot_freeze_support_explains_itself() {
    example("forgot_freeze_support")
        .arg("spawn")
        .assert()
        .success()
        .stderr(predicate::str::contains("child exit code: Some(1)"))
        .stderr(predicate::str::contains("freeze_support"));
    example("forgot_freeze_support")
        .arg("forkserver")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exited before it started serving"));
}

#[test]
fn example_lock_prints_each_line_whole() {
    let out = example("lock").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| l.rsplit(' ').next().unwrap().parse::<u32>().unwrap());
    let want: Vec<String> = (0..10).map(|i| format!("hello world {i}")).collect();
    assert_eq!(lines, want, "{text}");
}

#[test]
fn example_value_array() {
    example("value_array")
        .assert()
        .success()
        .stdout("3.1415927\n[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]\n");
}

#[test]
fn example_queue_workers_returns_every_result() {
    let out = example("queue_workers").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Unordered results:\n"), "{text}");
    for i in 0..20 {
        assert!(
            text.contains(&format!("mul({i}, 7) = {}\n", i * 7)),
            "{text}"
        );
    }
    for i in 0..10 {
        assert!(
            text.contains(&format!("plus({i}, 8) = {}\n", i + 8)),
            "{text}"
        );
    }
    assert_eq!(text.lines().count(), 31, "{text}");
}

#[test]
fn example_condition_hands_out_every_item_once() {
    let out = example("condition").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for i in 0..12 {
        let n = text
            .lines()
            .filter(|l| l.ends_with(&format!(" took item {i}")))
            .count();
        assert_eq!(n, 1, "item {i}\n{text}");
    }
    assert!(
        !text.contains("taken by: [0") && !text.contains(", 0"),
        "{text}"
    );
}

#[test]
fn example_manager_dict_list_prints_what_python_prints() {
    example("manager_dict_list")
        .assert()
        .success()
        .stdout("{1: '1', '2': 2, 0.25: None}\n[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]\n");
}

#[test]
fn example_manager_namespace() {
    example("manager_namespace")
        .assert()
        .success()
        .stdout("Namespace(x=10, y='hello')\n");
}

#[test]
fn example_nested_proxies() {
    let out = example("nested_proxies").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        servers::mask_addresses(&String::from_utf8_lossy(&out.stdout)),
        "[<ListProxy object, typeid 'list' at 0x?>] []\n['hello'] ['hello']\n"
    );
}

/// A server process (an example or a Python script) that prints its
/// address first; killed when dropped.
struct Server(std::process::Child, String);

impl Server {
    fn start(mut cmd: Command) -> Server {
        use std::io::BufRead;
        let mut child = cmd
            .env("MP_AUTHKEY", "abracadabra")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        Server(child, line.trim().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python_script(name: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(servers::python_dir().join(name));
    cmd
}

#[test]
fn example_remote_queue_with_rust_and_python_on_either_side() {
    // The docs' Python client, as written there, for the get side.
    let python_get = r#"
import os, sys
from multiprocessing.managers import BaseManager
class QueueManager(BaseManager): pass
QueueManager.register('get_queue')
host, port = sys.argv[1].rsplit(':', 1)
m = QueueManager(address=(host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()
queue = m.get_queue()
print(queue.get())
"#;
    let mut rust_server = Command::new(example("remote_queue").get_program());
    rust_server.args(["serve", "127.0.0.1:0"]);
    for server in [
        Server::start(rust_server),
        Server::start(python_script("queue_server.py")),
    ] {
        let address = &server.1;
        example("remote_queue")
            .args(["put", address, "hello"])
            .env("MP_AUTHKEY", "abracadabra")
            .assert()
            .success();
        Command::new("python3")
            .args(["-c", python_get, address])
            .env("MP_AUTHKEY", "abracadabra")
            .assert()
            .success()
            .stdout("hello\n");
        example("remote_queue")
            .args(["put", address, "again"])
            .env("MP_AUTHKEY", "abracadabra")
            .assert()
            .success();
        example("remote_queue")
            .args(["get", address])
            .env("MP_AUTHKEY", "abracadabra")
            .assert()
            .success()
            .stdout("again\n");
        example("remote_queue")
            .args(["get", address])
            .env("MP_AUTHKEY", "wrong key")
            .assert()
            .failure()
            .stderr(predicate::str::contains("authentication"));
    }
}

#[test]
fn example_manager_maths_against_the_docs_python_server() {
    let server = Server::start(python_script("maths_server.py"));
    example("manager_maths")
        .arg(&server.1)
        .env("MP_AUTHKEY", "abracadabra")
        .assert()
        .success()
        .stdout("7\n56\n");
}
