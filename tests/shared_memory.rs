//! Named shared memory: create, attach (from a child under each start
//! method, and from CPython), bounds, errors, unlink; the tracker removes a
//! segment whose creator was killed with SIGKILL, or exited without
//! unlinking it. The memfds behind locks, values and queues are sealed: a
//! child that receives them cannot resize them.

use std::path::Path;
use std::time::{Duration, Instant};

use mp::queues::Queue;
use mp::shared_memory::SharedMemory;
use mp::sharedctypes::Value;
use mp::{Process, StartMethod};

mod harness;
use harness::{check, Global, PerMethod, TestResult};

fn main() {
    mp::freeze_support();
    let per_method: &[(&str, PerMethod)] = &[
        ("child_attaches_and_writes", child_writes),
        ("received_memfds_cannot_be_resized", received_memfds_sealed),
    ];
    let global: &[(&str, Global)] = &[
        ("create_attach_read_write_unlink", basics),
        ("bad_input_is_an_error", bad_input),
        ("killed_creator_segment_is_removed", killed_creator),
        ("exited_creator_segment_is_removed", exited_creator),
        ("cpython_reads_and_writes_our_segment", cpython_interop),
        ("we_attach_to_cpythons_segment_at_its_size", cpython_segment),
    ];
    harness::run(per_method, "shm", global);
}

const WAIT: Duration = Duration::from_secs(60);

fn shm_path(name: &str) -> String {
    format!("/dev/shm/{name}")
}

fn wait_gone(name: &str) -> TestResult {
    let t = Instant::now();
    while Path::new(&shm_path(name)).exists() {
        check(
            t.elapsed() < Duration::from_secs(20),
            format!("{name} still in /dev/shm"),
        )?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

// ---- children ----

fn write_hello(shm: SharedMemory) {
    shm.write_at(0, b"hello from the child").unwrap();
}

/// Creates a segment, reports its name, then waits to be killed (or, with
/// `exit`, returns without unlinking).
fn create_and_wait((names, exit): (Queue<String>, bool)) {
    let shm = SharedMemory::create(4096).unwrap();
    shm.write_at(0, b"leak").unwrap();
    names.put(&shm.name().to_string()).unwrap();
    if exit {
        std::mem::forget(shm);
        return;
    }
    std::thread::sleep(Duration::from_secs(3600));
}

/// Tries to shrink every `mp` memfd this process holds (through
/// `/proc/self/fd`) and reports, per descriptor, the error it got.
fn truncate_memfds(
    (_held, _value, report): (mp::synchronize::Lock, Value<u64>, Queue<Vec<String>>),
) {
    let mut outcomes = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.to_string_lossy().starts_with("/memfd:mp-shared") {
            continue;
        }
        let f = std::fs::OpenOptions::new().write(true).open(entry.path());
        outcomes.push(match f.and_then(|f| f.set_len(0)) {
            Ok(()) => "truncated".to_string(),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => "EPERM".to_string(),
            Err(e) => e.to_string(),
        });
    }
    report.put(&outcomes).unwrap();
}

// ---- tests ----

fn child_writes(m: StartMethod) -> TestResult {
    let shm = SharedMemory::create(64)?;
    let p = Process::new(write_hello, SharedMemory::attach(shm.name())?).with_start_method(m);
    p.start()?;
    check(p.join(Some(WAIT))? == Some(0), "child exit")?;
    let mut buf = [0u8; 20];
    shm.read_at(0, &mut buf)?;
    check(&buf == b"hello from the child", "child's bytes visible")?;
    shm.unlink()?;
    check(!Path::new(&shm_path(shm.name())).exists(), "unlinked")?;
    Ok(())
}

fn received_memfds_sealed(m: StartMethod) -> TestResult {
    let lock = mp::synchronize::Lock::new()?;
    let value = Value::new(7u64)?;
    let report: Queue<Vec<String>> = Queue::new(0)?;
    let p = Process::new(
        truncate_memfds,
        (lock.clone(), value.clone(), report.clone()),
    )
    .with_start_method(m);
    p.start()?;
    let outcomes = report.get_timeout(WAIT)?;
    check(p.join(Some(WAIT))? == Some(0), "child exit")?;
    // The lock's, the value's (and its lock's) and the queue's.
    check(outcomes.len() >= 4, format!("memfds seen: {outcomes:?}"))?;
    check(
        outcomes.iter().all(|o| o == "EPERM"),
        format!("ftruncate outcomes: {outcomes:?}"),
    )?;
    // Still whole here (a shrunk memfd would make these a SIGBUS).
    value.update(|v| *v += 1);
    check(value.get() == 8, "the value is intact")?;
    drop(lock.lock()?);
    Ok(())
}

fn basics() -> TestResult {
    let a = SharedMemory::create(10_000)?;
    check(
        a.name().starts_with("mp_") && a.name().len() == 3 + 16,
        format!("name {}", a.name()),
    )?;
    check(a.size() == 10_000, "size")?;
    check(Path::new(&shm_path(a.name())).exists(), "in /dev/shm")?;
    a.write_at(9_990, b"0123456789")?;
    let b = SharedMemory::attach(a.name())?;
    check(b.size() >= 10_000, format!("attached size {}", b.size()))?;
    let mut buf = [0u8; 10];
    b.read_at(9_990, &mut buf)?;
    check(&buf == b"0123456789", "same bytes")?;
    // SAFETY: nobody else writes the segment during this test.
    check(unsafe { b.as_slice() }[0] == 0, "zeroed")?;
    let named = SharedMemory::new(Some(&format!("{}_x", a.name())), true, 100)?;
    check(named.name() == format!("{}_x", a.name()), "named")?;
    named.unlink()?;
    b.close();
    a.unlink()?;
    check(
        SharedMemory::attach(a.name()).is_err(),
        "attach after unlink",
    )?;
    // Still mapped here after unlink.
    a.write_at(0, b"x")?;
    Ok(())
}

fn bad_input() -> TestResult {
    check(SharedMemory::create(0).is_err(), "size 0")?;
    check(
        SharedMemory::attach("mp_does_not_exist_here").is_err(),
        "missing",
    )?;
    check(SharedMemory::attach("a/b").is_err(), "slash in name")?;
    check(SharedMemory::attach("").is_err(), "empty name")?;
    check(
        SharedMemory::new(None, false, 0).is_err(),
        "no name, no create",
    )?;
    let a = SharedMemory::create(16)?;
    let again = SharedMemory::create_named(a.name(), 16);
    check(
        again
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("exists")),
        format!("create over an existing name: {again:?}"),
    )?;
    check(a.write_at(10, b"0123456789").is_err(), "write past the end")?;
    check(
        a.read_at(usize::MAX, &mut [0u8; 2]).is_err(),
        "offset overflow",
    )?;
    a.unlink()?;
    check(a.unlink().is_err(), "second unlink")?;
    Ok(())
}

fn creator_segment_removed(exit: bool) -> TestResult {
    // Spawn and the forkserver: the child starts its own tracker (a forked
    // child would share this test process's, cleaned when it exits).
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let names: Queue<String> = Queue::new(0)?;
        let p = Process::new(create_and_wait, (names.clone(), exit)).with_start_method(m);
        p.start()?;
        let name = names.get_timeout(WAIT)?;
        if !exit {
            // (An exiting creator's segment may be gone already.)
            check(Path::new(&shm_path(&name)).exists(), "created")?;
            p.kill()?;
        }
        p.join(Some(WAIT))?;
        wait_gone(&name)?;
    }
    Ok(())
}

fn killed_creator() -> TestResult {
    creator_segment_removed(false)
}

fn exited_creator() -> TestResult {
    creator_segment_removed(true)
}

fn cpython_interop() -> TestResult {
    let shm = SharedMemory::create(32)?;
    shm.write_at(0, b"from rust")?;
    // Python 3.11's tracker registers attached segments too; unregister so
    // that it leaves ours alone when it exits.
    let script = r#"
import sys
from multiprocessing import shared_memory, resource_tracker
m = shared_memory.SharedMemory(sys.argv[1])
resource_tracker.unregister(m._name, "shared_memory")
sys.stdout.write(bytes(m.buf[:9]).decode())
m.buf[9:20] = b" and python"
m.close()
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, shm.name()])
        .output()?;
    check(
        out.status.success(),
        format!("python: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    check(out.stdout == b"from rust", "python read our bytes")?;
    let mut buf = [0u8; 20];
    shm.read_at(0, &mut buf)?;
    check(&buf == b"from rust and python", "we read python's bytes")?;
    shm.unlink()?;
    Ok(())
}

/// A segment CPython created (and keeps open) is attached at the size
/// `fstat` gives; one a program truncated to nothing is refused.
fn cpython_segment() -> TestResult {
    let script = r#"
import sys
from multiprocessing import shared_memory
m = shared_memory.SharedMemory(create=True, size=5000)
m.buf[4990:5000] = b"0123456789"
print(m.name, flush=True)
sys.stdin.read()
m.close()
m.unlink()
"#;
    let mut py = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut name = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(py.stdout.take().expect("piped")),
        &mut name,
    )?;
    let name = name.trim().to_string();
    let result = (|| -> TestResult {
        let shm = SharedMemory::attach(&name)?;
        check(shm.size() == 5000, format!("attached size {}", shm.size()))?;
        let mut buf = [0u8; 10];
        shm.read_at(4990, &mut buf)?;
        check(&buf == b"0123456789", "python's bytes at the end")?;
        // A program shrinks it (`shm` must not be touched after this): a
        // new attach sees the new size and refuses it.
        std::fs::OpenOptions::new()
            .write(true)
            .open(shm_path(&name))?
            .set_len(0)?;
        let again = SharedMemory::attach(&name);
        check(
            again
                .as_ref()
                .is_err_and(|e| e.to_string().contains("size 0")),
            format!("attach to a truncated segment: {again:?}"),
        )
    })();
    drop(py.stdin.take());
    check(py.wait()?.success(), "python exited cleanly")?;
    result?;
    Ok(())
}
