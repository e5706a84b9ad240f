//! Process, start methods, Pipe and wait(), across real child processes.
//!
//! This test binary has its own `main` (libtest-mimic keeps the libtest
//! command line that cargo test and nextest expect) because spawn and the
//! forkserver re-run the binary, which must call `mp::freeze_support()` first.

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use mp::{Connection, Process, StartMethod};

mod harness;
use harness::{check, Global, PerMethod, TestResult};

fn main() {
    mp::freeze_support();
    if std::env::var_os("MP_TEST_PREFORK").is_some() {
        prefork_in_a_fresh_process();
        return;
    }
    let per_method: &[(&str, PerMethod)] = &[
        ("start_join_exitcode", start_join_exitcode),
        ("exit_with_code", exit_with_code),
        ("terminate_gives_minus_15", terminate_gives_minus_15),
        ("kill_gives_minus_9", kill_gives_minus_9),
        ("panic_is_reported", panic_is_reported),
        ("sigkill_from_outside", sigkill_from_outside),
        (
            "join_timeout_on_sleeping_child",
            join_timeout_on_sleeping_child,
        ),
        (
            "daemon_children_terminated_at_exit",
            daemon_children_terminated_at_exit,
        ),
        (
            "non_daemon_children_joined_at_exit",
            non_daemon_children_joined_at_exit,
        ),
        ("parent_death_kills_child", parent_death_kills_child),
        ("survive_parent_opt_out", survive_parent_opt_out),
        ("parent_sigterm_kills_child", parent_sigterm_kills_child),
        ("parent_sigint_kills_child", parent_sigint_kills_child),
        ("pipe_round_trip_with_child", pipe_round_trip_with_child),
        ("large_frames_through_child", large_frames_through_child),
        ("eof_when_child_exits", eof_when_child_exits),
        ("wait_over_16_children", wait_over_16_children),
        ("identity_and_parent", identity_and_parent),
        ("active_children_reaps", active_children_reaps),
        ("state_errors", state_errors),
        ("daemon_cannot_have_children", daemon_cannot_have_children),
    ];
    let global: &[(&str, Global)] = &[
        ("set_start_method", set_start_method_rules),
        ("maxlength_refusal_from_child", maxlength_refusal_from_child),
        ("join_with_a_huge_timeout", join_with_a_huge_timeout),
        ("errors_callers_can_match", errors_callers_can_match),
        (
            "forkserver_exits_with_its_owner",
            forkserver_exits_with_its_owner,
        ),
        (
            "prefork_forkserver_forks_once",
            prefork_forkserver_forks_once,
        ),
        (
            "another_build_refuses_the_target",
            another_build_refuses_the_target,
        ),
        (
            "fork_child_keeps_inherited_numbers",
            fork_child_keeps_inherited_numbers,
        ),
    ];
    harness::run(per_method, "global", global);
}

// ---- helpers ----

fn proc<A>(m: StartMethod, f: fn(A), a: A) -> Process
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    Process::new(f, a).with_start_method(m)
}

fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; the result is a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        None
    } else {
        // SAFETY: the kernel just gave us this descriptor.
        Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(r as i32) })
    }
}

/// True once process `pid` (not necessarily our child) has exited, within `limit`.
fn gone_within(pid: i32, limit: Duration) -> bool {
    match pidfd(pid) {
        None => true, // already gone
        Some(fd) => !mp::wait(&[&fd], Some(limit)).unwrap().is_empty(),
    }
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

// ---- child targets ----

fn noop(_: ()) {}

fn exit_code(code: i32) {
    std::process::exit(code);
}

fn sleeper(ms: u64) {
    sleep_ms(ms);
}

fn panics(msg: String) {
    panic!("{msg}");
}

fn echo(conn: Connection) {
    loop {
        match conn.recv_bytes(None) {
            Ok(m) => conn.send_bytes(&m).unwrap(),
            Err(_) => return,
        }
    }
}

/// What each descriptor number refers to here: "closed", "null" (/dev/null)
/// or "other".
fn report_inherited((numbers, conn): (Vec<i32>, Connection)) {
    let null = std::fs::metadata("/dev/null").map(|m| m.rdev()).ok();
    let seen: Vec<String> = numbers
        .iter()
        .map(|&fd| {
            // SAFETY: an all-zero stat is a valid value of the plain C struct.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: fstat writes into `st`; `fd` need not be open (EBADF).
            if unsafe { libc::fstat(fd, &mut st) } != 0 {
                "closed".to_string()
            } else if st.st_mode & libc::S_IFMT == libc::S_IFCHR && Some(st.st_rdev) == null {
                "null".to_string()
            } else {
                "other".to_string()
            }
        })
        .collect();
    conn.send(&seen).unwrap();
}

fn send_then_close(conn: Connection) {
    conn.send(&"last words".to_string()).unwrap();
}

fn report_identity(conn: Connection) {
    let me = mp::current_process();
    let parent = mp::parent_process().map(|p| (p.pid(), p.name().to_string(), p.is_alive()));
    conn.send(&(me.name, me.pid, me.identity, me.daemon, parent))
        .unwrap();
    // A grandchild names itself after us.
    let child = Process::new(noop, ());
    conn.send(&child.name()).unwrap();
}

/// Starts a daemon sleeper, reports its pid, and returns (so exit cleanup runs).
fn start_daemon_and_return((conn, m): (Connection, String)) {
    let m: StartMethod = m.parse().unwrap();
    let d = proc(m, sleeper, 60_000).with_daemon(true);
    d.start().unwrap();
    conn.send(&d.pid().unwrap()).unwrap();
}

/// Starts a non-daemon child that reports after a pause, and returns at once.
fn start_worker_and_return((conn, m): (Connection, String)) {
    let m: StartMethod = m.parse().unwrap();
    let c = proc(m, late_reporter, conn);
    c.start().unwrap();
}

fn late_reporter(conn: Connection) {
    sleep_ms(300);
    conn.send(&"child finished".to_string()).unwrap();
}

/// Starts a long sleeper, reports its pid, then dies by SIGKILL.
fn start_child_and_die((conn, m, survive): (Connection, String, bool)) {
    start_child_and_die_by((conn, m, survive, libc::SIGKILL));
}

/// Starts a long sleeper, reports its pid, then dies by `sig` (default action).
fn start_child_and_die_by((conn, m, survive, sig): (Connection, String, bool, i32)) {
    let m: StartMethod = m.parse().unwrap();
    let c = proc(m, sleeper, 60_000).with_survive_parent(survive);
    c.start().unwrap();
    conn.send(&c.pid().unwrap()).unwrap();
    // SAFETY: restoring the default action and killing ourselves is the point of this test.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
    }
    sleep_ms(60_000);
}

/// Starts a forkserver child, reports the server's pid, and returns.
/// What `prefork_in_a_fresh_process` reports: the first and second
/// `prefork_forkserver()` results, the server's pid, the parent pid a
/// forkserver child saw, and whether the server's argv holds the exec'd
/// server's marker.
type PreforkReport = (bool, bool, i32, i32, bool);

/// Printed without a newline before `prefork_forkserver()`.
const PREFORK_PENDING: &str = "[pending output]";

/// Run by `main` when `MP_TEST_PREFORK` is set (a fresh, single-threaded
/// run of this binary): forks the forkserver up front, starts a forkserver
/// child through it, and prints the report on stdout.
fn prefork_in_a_fresh_process() {
    // Buffered (no newline yet) when the server is forked: written once.
    print!("{PREFORK_PENDING}");
    let first = mp::prefork_forkserver().unwrap();
    let second = mp::prefork_forkserver().unwrap();
    let server = mp::internals::server_pid().unwrap_or(0);
    let (here, there) = mp::pipe(true).unwrap();
    let c = proc(StartMethod::Forkserver, send_parent_pid, there);
    c.start().unwrap();
    let parent: i32 = here.recv().unwrap();
    c.join(None).unwrap();
    let argv = std::fs::read(format!("/proc/{server}/cmdline")).unwrap_or_default();
    let marker = argv
        .split(|&b| b == 0)
        .any(|a| a == b"--multiprocessing-forkserver");
    let report: PreforkReport = (first, second, server, parent, marker);
    println!("{report:?}");
}

fn send_parent_pid(conn: Connection) {
    // SAFETY: getppid has no preconditions.
    conn.send(&unsafe { libc::getppid() }).unwrap();
}

fn report_forkserver(conn: Connection) {
    let c = proc(StartMethod::Forkserver, noop, ());
    c.start().unwrap();
    c.join(None).unwrap();
    conn.send(&mp::internals::server_pid().unwrap()).unwrap();
}

/// Runs in a forked child of its own, because the executable override is
/// process-wide: starts a spawn and a forkserver child that are the `mp`
/// binary (another build) and reports how each ended.
fn start_as_another_build(conn: Connection) {
    mp::internals::set_spawn_executable(Some(env!("CARGO_BIN_EXE_mp").into()));
    let reports: Vec<(String, Option<i32>, Option<String>)> =
        [StartMethod::Spawn, StartMethod::Forkserver]
            .into_iter()
            .map(|m| {
                let c = proc(m, panics, "the target ran".to_string());
                c.start().unwrap();
                let code = c.join(Some(Duration::from_secs(20))).unwrap();
                (m.to_string(), code, c.failure())
            })
            .collect();
    conn.send(&reports).unwrap();
}

fn daemon_tries_child(conn: Connection) {
    let r = Process::new(noop, ()).start();
    conn.send(&r.map_err(|e| e.to_string())).unwrap();
}

// ---- tests ----

fn start_join_exitcode(m: StartMethod) -> TestResult {
    let p = proc(m, noop, ());
    check(p.exitcode().is_none() && !p.is_alive(), "fresh process")?;
    p.start()?;
    check(p.pid().is_some(), "pid after start")?;
    check(p.join(None)? == Some(0), "join returns 0")?;
    check(p.exitcode() == Some(0), "exitcode 0")?;
    check(!p.is_alive(), "not alive after join")?;
    check(
        p.failure().is_none(),
        format!("no failure: {:?}", p.failure()),
    )?;
    check(p.start_method() == Some(m), "start method recorded")
}

/// `join(Some(Duration::MAX))` (a deadline too far to represent: none)
/// waits for the child like `join(None)` instead of panicking on
/// `Instant + Duration`, and returns its exit code.
/// Misuse, ranges and codec failures are variants a caller can match, and
/// a decode error keeps the codec's own error.
fn errors_callers_can_match() -> TestResult {
    use mp::{Error, Misuse};
    fn nothing(_: ()) {}
    let p = Process::new(nothing, ());
    check(
        matches!(p.join(None), Err(Error::Misuse(Misuse::NotStarted))),
        "join before start",
    )?;
    p.start()?;
    check(
        matches!(p.start(), Err(Error::Misuse(Misuse::AlreadyStarted))),
        "start twice",
    )?;
    check(
        matches!(
            p.set_daemon(true),
            Err(Error::Misuse(Misuse::ConfigAfterStart))
        ),
        "daemon after start",
    )?;
    p.join(None)?;
    let a = mp::sharedctypes::Array::from_slice(&[1u32, 2, 3])?;
    check(
        matches!(a.get(3), Err(Error::IndexOutOfRange { index: 3, len: 3 })),
        "index past the end",
    )?;
    check(
        matches!(
            a.copy_from_slice(&[1, 2]),
            Err(Error::LengthMismatch {
                expected: 3,
                got: 2
            })
        ),
        "two values for three",
    )?;
    let (x, mut y) = mp::pipe(true)?;
    x.send_bytes(b"not a pickle")?;
    y.set_codec(mp::connection::Codec::Pickle);
    match y.recv::<String>() {
        Err(Error::Decode(e)) => check(
            e.get_ref()
                .is_some_and(|inner| inner.downcast_ref::<mp::pickle::PickleError>().is_some()),
            "the pickle error is kept",
        )?,
        other => return Err(format!("expected a decode error, got {other:?}").into()),
    }
    y.close();
    check(
        matches!(y.borrow_fd(), Err(Error::Closed)),
        "no descriptor once closed",
    )?;
    Ok(())
}

fn join_with_a_huge_timeout() -> TestResult {
    let p = Process::new(noop, ());
    p.start()?;
    let code = p.join(Some(Duration::MAX))?;
    check(code == Some(0), format!("join(MAX) gave {code:?}"))?;
    check(
        p.join(Some(Duration::MAX))? == Some(0),
        "join(MAX) once more",
    )
}

fn exit_with_code(m: StartMethod) -> TestResult {
    let p = proc(m, exit_code, 7);
    p.start()?;
    check(
        p.join(None)? == Some(7),
        format!("exit code 7, got {:?}", p.exitcode()),
    )
}

fn terminate_gives_minus_15(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    p.start()?;
    check(p.is_alive(), "alive before terminate")?;
    p.terminate()?;
    check(
        p.join(Some(Duration::from_secs(10)))? == Some(-15),
        format!("{:?}", p.exitcode()),
    )?;
    // Signalling a finished process is not an error.
    p.terminate()?;
    Ok(())
}

fn kill_gives_minus_9(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    p.start()?;
    p.kill()?;
    check(
        p.join(Some(Duration::from_secs(10)))? == Some(-9),
        format!("{:?}", p.exitcode()),
    )
}

fn panic_is_reported(m: StartMethod) -> TestResult {
    let p = proc(m, panics, "the child fell over".to_string());
    p.start()?;
    check(
        p.join(None)? == Some(1),
        format!("exitcode 1, got {:?}", p.exitcode()),
    )?;
    let f = p.failure().unwrap_or_default();
    check(
        f.contains("the child fell over") && f.contains("process.rs"),
        format!("failure text: {f:?}"),
    )
}

fn sigkill_from_outside(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    p.start()?;
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(p.pid().unwrap(), libc::SIGKILL) };
    check(
        p.join(Some(Duration::from_secs(10)))? == Some(-9),
        format!("{:?}", p.exitcode()),
    )
}

fn join_timeout_on_sleeping_child(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    p.start()?;
    let t = Instant::now();
    check(
        p.join(Some(Duration::from_millis(200)))?.is_none(),
        "join timed out",
    )?;
    let waited = t.elapsed();
    check(
        waited >= Duration::from_millis(190),
        format!("waited only {waited:?}"),
    )?;
    check(p.is_alive() && p.exitcode().is_none(), "still running")?;
    p.terminate()?;
    check(
        p.join(Some(Duration::from_secs(10)))? == Some(-15),
        "terminated",
    )
}

fn daemon_children_terminated_at_exit(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, start_daemon_and_return, (there, m.to_string()));
    p.start()?;
    let daemon_pid: i32 = here.recv()?;
    check(
        p.join(Some(Duration::from_secs(20)))? == Some(0),
        format!("middle exit {:?}", p.exitcode()),
    )?;
    check(
        gone_within(daemon_pid, Duration::from_secs(10)),
        "daemon child still running",
    )
}

fn non_daemon_children_joined_at_exit(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, start_worker_and_return, (there, m.to_string()));
    p.start()?;
    check(
        p.join(Some(Duration::from_secs(20)))? == Some(0),
        "middle exits 0",
    )?;
    // The middle process could only exit after its child finished and reported.
    check(
        here.poll(Some(Duration::ZERO))?,
        "child's report arrived before the parent exited",
    )?;
    check(here.recv::<String>()? == "child finished", "report text")
}

fn parent_death_kills_child(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, start_child_and_die, (there, m.to_string(), false));
    p.start()?;
    let child: i32 = here.recv()?;
    check(
        p.join(Some(Duration::from_secs(20)))? == Some(-9),
        "middle killed",
    )?;
    check(
        gone_within(child, Duration::from_secs(10)),
        "orphan survived its parent's death",
    )
}

fn parent_dies_by(m: StartMethod, sig: i32) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(
        m,
        start_child_and_die_by,
        (there, m.to_string(), false, sig),
    );
    p.start()?;
    let child: i32 = here.recv()?;
    check(
        p.join(Some(Duration::from_secs(20)))? == Some(-sig),
        format!("middle died by {sig}"),
    )?;
    check(
        gone_within(child, Duration::from_secs(10)),
        format!("child survived its parent's signal {sig}"),
    )
}

fn parent_sigterm_kills_child(m: StartMethod) -> TestResult {
    parent_dies_by(m, libc::SIGTERM)
}

fn parent_sigint_kills_child(m: StartMethod) -> TestResult {
    parent_dies_by(m, libc::SIGINT)
}

/// `prefork_forkserver` in a single-threaded process forks the server
/// there and then (no exec: its argv is the program's own, without the
/// exec'd server's marker), later forkserver children come from it, and a
/// second call starts nothing. In this multi-threaded test process it
/// starts nothing either.
fn prefork_forkserver_forks_once() -> TestResult {
    check(
        !mp::prefork_forkserver()?,
        "prefork started a server from a process with threads",
    )?;
    let out = std::process::Command::new(std::env::current_exe()?)
        .env("MP_TEST_PREFORK", "1")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    check(
        out.status.success(),
        format!(
            "the fresh run failed: {:?}: {text} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    )?;
    check(
        text.matches(PREFORK_PENDING).count() == 1,
        format!("output pending at the fork was written more than once: {text:?}"),
    )?;
    let fields: Vec<&str> = text
        .trim()
        .trim_start_matches(PREFORK_PENDING)
        .trim_matches(|c| c == '(' || c == ')')
        .split(", ")
        .collect();
    let [first, second, server, parent, marker] = fields[..] else {
        return check(false, format!("a report of 5 fields, got {text:?}"));
    };
    let (first, second, marker) = (first == "true", second == "true", marker == "true");
    let (server, parent): (i32, i32) = (server.parse()?, parent.parse()?);
    check(
        first,
        "the first prefork_forkserver() did not start a server",
    )?;
    check(!second, "the second prefork_forkserver() started another")?;
    check(
        server > 0 && parent == server,
        format!("the forkserver child's parent is {parent}, the server {server}"),
    )?;
    check(!marker, "the server was exec'd (its argv has the marker)")
}

fn forkserver_exits_with_its_owner() -> TestResult {
    for m in [StartMethod::Spawn, StartMethod::Fork] {
        let (here, there) = mp::pipe(true)?;
        let p = proc(m, report_forkserver, there);
        p.start()?;
        let server: i32 = here.recv()?;
        check(
            p.join(Some(Duration::from_secs(20)))? == Some(0),
            "owner exits 0",
        )?;
        check(
            gone_within(server, Duration::from_secs(10)),
            format!("{m}: forkserver {server} outlived its owner"),
        )?;
    }
    Ok(())
}

/// A child that runs another build of the program (here the `mp` binary)
/// refuses its target, naming both builds, instead of calling whatever
/// sits at the target's offset in that other executable.
fn another_build_refuses_the_target() -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(StartMethod::Fork, start_as_another_build, there);
    p.start()?;
    let reports: Vec<(String, Option<i32>, Option<String>)> = here.recv()?;
    check(
        p.join(Some(Duration::from_secs(60)))? == Some(0),
        format!("the forked starter failed: {:?}", p.failure()),
    )?;
    check(reports.len() == 2, format!("{reports:?}"))?;
    for (m, code, failure) in reports {
        let f = failure.unwrap_or_default();
        check(
            code == Some(1),
            format!("{m}: exitcode {code:?}, failure {f:?}"),
        )?;
        check(
            f.contains("task function from a different build of this program: parent build ")
                && f.contains(", child build ")
                && !f.contains("the target ran"),
            format!("{m}: failure text: {f:?}"),
        )?;
    }
    Ok(())
}

fn survive_parent_opt_out(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, start_child_and_die, (there, m.to_string(), true));
    p.start()?;
    let child: i32 = here.recv()?;
    p.join(Some(Duration::from_secs(20)))?;
    let survived = !gone_within(child, Duration::from_millis(500));
    // SAFETY: cleaning up the orphan we asked for.
    unsafe { libc::kill(child, libc::SIGKILL) };
    check(
        survived,
        "child with survive_parent(true) died with its parent",
    )
}

fn pipe_round_trip_with_child(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, echo, there);
    p.start()?;
    for i in 0..1000u32 {
        here.send(&(i, format!("message {i}")))?;
        let back: (u32, String) = here.recv()?;
        check(back == (i, format!("message {i}")), "echo matches")?;
    }
    drop(here);
    check(
        p.join(Some(Duration::from_secs(10)))? == Some(0),
        "echo exits on EOF",
    )
}

fn large_frames_through_child(m: StartMethod) -> TestResult {
    // Two one-way pipes, so one thread can send while another receives: a
    // 64 MiB echo does not fit in the kernel's buffers.
    let (from_parent_r, from_parent_w) = mp::pipe(false)?;
    let (to_parent_r, to_parent_w) = mp::pipe(false)?;
    let p = proc(m, echo_between, (from_parent_r, to_parent_w));
    p.start()?;
    let sizes = [0usize, 1, 16_384, 16_385, 1 << 20, 64 << 20];
    let make = |size: usize| -> Vec<u8> { (0..size).map(|i| (i % 253) as u8).collect() };
    let sender = std::thread::spawn(move || {
        for size in sizes {
            from_parent_w.send_bytes(&make(size)).unwrap();
        }
    });
    for size in sizes {
        let back = to_parent_r.recv_bytes(None)?;
        check(
            back == make(size),
            format!("{size}-byte message came back intact"),
        )?;
    }
    sender.join().unwrap();
    check(
        p.join(Some(Duration::from_secs(20)))? == Some(0),
        "echo exits on EOF",
    )
}

fn echo_between((rx, tx): (Connection, Connection)) {
    while let Ok(m) = rx.recv_bytes(None) {
        tx.send_bytes(&m).unwrap();
    }
}

/// A forked child lets go of the parent's connections without freeing their
/// descriptor numbers: each stays open, now on /dev/null, so a stale owner
/// dropped in the child can never close a descriptor opened later under the
/// same number.
fn fork_child_keeps_inherited_numbers() -> TestResult {
    let (keep_a, keep_b) = mp::pipe(true)?;
    let numbers = vec![keep_a.fileno()?, keep_b.fileno()?];
    let (here, there) = mp::pipe(true)?;
    let p = proc(StartMethod::Fork, report_inherited, (numbers, there));
    p.start()?;
    let seen: Vec<String> = here.recv()?;
    p.join(Some(Duration::from_secs(10)))?;
    check(seen == ["null", "null"], format!("{seen:?}"))
}

fn eof_when_child_exits(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, send_then_close, there);
    p.start()?;
    check(here.recv::<String>()? == "last words", "message before EOF")?;
    p.join(Some(Duration::from_secs(10)))?;
    match here.recv_bytes(None) {
        Err(mp::Error::Eof) => Ok(()),
        other => Err(format!("expected Eof, got {other:?}").into()),
    }
}

fn wait_over_16_children(m: StartMethod) -> TestResult {
    let procs: Vec<Process> = (0..16u64).map(|i| proc(m, sleeper, 20 * (i % 4))).collect();
    for p in &procs {
        p.start()?;
    }
    let mut pending: Vec<usize> = (0..16).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending.is_empty() {
        check(Instant::now() < deadline, "children did not all finish")?;
        let objs: Vec<&dyn mp::Waitable> = pending
            .iter()
            .map(|&i| &procs[i] as &dyn mp::Waitable)
            .collect();
        let ready = mp::wait(&objs, Some(Duration::from_secs(10)))?;
        check(!ready.is_empty(), "wait timed out")?;
        let done: Vec<usize> = ready.iter().map(|&r| pending[r]).collect();
        for i in &done {
            check(
                procs[*i].join(Some(Duration::from_secs(5)))? == Some(0),
                "exit 0",
            )?;
        }
        pending.retain(|i| !done.contains(i));
    }
    Ok(())
}

fn identity_and_parent(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, report_identity, there).with_name("bob");
    p.start()?;
    type Report = (String, i32, Vec<u32>, bool, Option<(i32, String, bool)>);
    let (name, pid, identity, daemon, parent): Report = here.recv()?;
    let grandchild: String = here.recv()?;
    p.join(Some(Duration::from_secs(10)))?;
    check(name == "bob", format!("name {name}"))?;
    check(Some(pid) == p.pid(), "pid matches")?;
    check(!daemon, "not a daemon")?;
    check(identity.len() == 1, format!("identity {identity:?}"))?;
    check(
        parent == Some((std::process::id() as i32, "MainProcess".into(), true)),
        format!("parent {parent:?}"),
    )?;
    check(
        grandchild == format!("Process-{}:1", identity[0]),
        format!("grandchild name {grandchild}"),
    )?;
    check(
        mp::parent_process().is_none(),
        "the main process has no parent",
    )?;
    check(mp::current_process().name == "MainProcess", "main name")
}

fn active_children_reaps(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    let q = proc(m, noop, ());
    p.start()?;
    q.start()?;
    // q finishes on its own; active_children must drop it once it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kids = mp::active_children();
        let pids: Vec<i32> = kids.iter().filter_map(Process::pid).collect();
        if pids.contains(&p.pid().unwrap()) && !pids.contains(&q.pid().unwrap()) {
            break;
        }
        check(
            Instant::now() < deadline,
            format!("active children {pids:?}"),
        )?;
        sleep_ms(10);
    }
    check(q.exitcode() == Some(0), "q was reaped by active_children")?;
    p.kill()?;
    p.join(None)?;
    check(
        !mp::active_children().iter().any(|c| c.pid() == p.pid()),
        "p gone",
    )
}

fn state_errors(m: StartMethod) -> TestResult {
    let p = proc(m, sleeper, 60_000);
    check(p.join(None).is_err(), "join before start")?;
    check(p.sentinel().is_err(), "sentinel before start")?;
    p.start()?;
    check(p.start().is_err(), "second start")?;
    check(p.set_daemon(true).is_err(), "daemon after start")?;
    check(p.close().is_err(), "close while running")?;
    check(p.sentinel()? >= 0, "sentinel")?;
    p.kill()?;
    p.join(None)?;
    p.close()?;
    check(p.join(None).is_err(), "join after close")?;
    check(p.exitcode() == Some(-9), "exitcode survives close")
}

fn daemon_cannot_have_children(m: StartMethod) -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = proc(m, daemon_tries_child, there).with_daemon(true);
    p.start()?;
    let r: Result<(), String> = here.recv()?;
    p.join(None)?;
    check(
        r.as_ref().is_err_and(|e| e.contains("daemonic")),
        format!("{r:?}"),
    )
}

fn set_start_method_rules() -> TestResult {
    check(
        mp::get_start_method(true).is_none() || mp::get_start_method(true).is_some(),
        "",
    )?;
    mp::set_start_method(StartMethod::Spawn, true)?;
    check(
        mp::get_start_method(false) == Some(StartMethod::Spawn),
        "set",
    )?;
    check(
        mp::set_start_method(StartMethod::Fork, false).is_err(),
        "second set without force",
    )?;
    mp::set_start_method(StartMethod::Fork, true)?;
    let p = Process::new(noop, ());
    p.start()?;
    p.join(None)?;
    check(
        p.start_method() == Some(StartMethod::Fork),
        "global method used",
    )?;
    let ctx = mp::get_context(Some(StartMethod::Spawn));
    let q = ctx.process(noop, ());
    q.start()?;
    q.join(None)?;
    check(
        q.start_method() == Some(StartMethod::Spawn),
        "context method used",
    )
}

fn big_sender(conn: Connection) {
    let _ = conn.send_bytes(&vec![1u8; 1000]);
    let _ = conn.send_bytes(b"small");
}

fn maxlength_refusal_from_child() -> TestResult {
    let (here, there) = mp::pipe(true)?;
    let p = Process::new(big_sender, there);
    p.start()?;
    match here.recv_bytes(Some(100)) {
        Err(mp::Error::TooLong {
            len: 1000,
            max: 100,
        }) => {}
        other => return Err(format!("expected TooLong, got {other:?}").into()),
    }
    check(here.closed(), "connection closed after refusal")?;
    p.join(Some(Duration::from_secs(10)))?;
    Ok(())
}
