//! The Rust manager client (`mp::managers::SyncManager` and its proxies)
//! against CPython's own manager server and against mp's, and proxies
//! travelling to child processes under every start method.
//!
//! Own `main` (see tests/harness): `SyncManager::start` and the child
//! processes re-run this binary under spawn and forkserver.

use std::fmt::Debug;
use std::process::Command;
use std::time::{Duration, Instant};

use mp::connection::Address;
use mp::managers::{DictProxy, ListProxy, LockProxy, Proxy, QueueProxy, SyncManager, TypedProxy};
use mp::{Error, Process, StartMethod};

mod harness;
use harness::{check, TestResult};
mod servers;
use servers::Served;

const KEY: &str = "mp-manager-client-test-key";

fn main() {
    mp::freeze_support();
    let per_method: &[(&str, harness::PerMethod)] = &[
        ("proxies_travel_to_a_child", proxies_travel_to_a_child),
        (
            "lock_of_a_killed_child_is_released",
            lock_of_a_killed_child_is_released,
        ),
    ];
    let global: &[(&str, harness::Global)] = &[
        (
            "same_results_on_cpython_and_mp",
            same_results_on_cpython_and_mp,
        ),
        ("reference_counts_balance", reference_counts_balance),
        ("nested_proxies", nested_proxies),
        (
            "registered_names_shared_with_python",
            registered_names_shared_with_python,
        ),
        (
            "proxy_to_a_child_of_cpython_server",
            proxy_to_a_child_of_cpython_server,
        ),
        ("start_and_shutdown", start_and_shutdown),
        ("wrong_key_and_no_server", wrong_key_and_no_server),
        ("many_threads_exact_counts", many_threads_exact_counts),
    ];
    harness::run(per_method, "client", global);
}

fn serve_cpython() -> Served {
    servers::serve_cpython(KEY)
}

fn serve_mp(extra: &[&str]) -> Served {
    servers::serve_mp(extra, KEY)
}

fn address(s: &Served) -> Address {
    s.address.parse().unwrap()
}

fn connect(s: &Served) -> SyncManager {
    SyncManager::connect(&address(s), Some(KEY.as_bytes())).unwrap()
}

/// A result as a line of the transcript: the value, or the kind of error
/// (Python's exception name), never text that differs between servers.
fn r<T: Debug>(what: &str, x: mp::Result<T>) -> String {
    match x {
        Ok(v) => format!("{what}: {v:?}"),
        Err(Error::KeyError(k)) => format!("{what}: KeyError({k})"),
        Err(Error::Python { exception, .. }) => format!("{what}: {exception}"),
        Err(Error::Empty) => format!("{what}: Empty"),
        Err(Error::Full) => format!("{what}: Full"),
        Err(Error::BrokenBarrier) => format!("{what}: BrokenBarrier"),
        Err(Error::Remote(_)) => format!("{what}: RemoteError"),
        Err(e) => format!("{what}: unexpected error {e}"),
    }
}

/// Every typed proxy and method, as a transcript.
fn scenario(m: &SyncManager) -> Vec<String> {
    let mut t = Vec::new();
    let short = Duration::from_millis(50);

    let d: DictProxy<String, i64> = m.dict().unwrap();
    let k = |s: &str| s.to_string();
    t.push(r("dict set", d.set(&k("a"), &1)));
    t.push(r("dict set", d.set(&k("b"), &2)));
    t.push(r("dict get", d.get(&k("a"))));
    t.push(r("dict get missing", d.get(&k("zz"))));
    t.push(r("dict getitem missing", d.get_item(&k("zz"))));
    t.push(r("dict contains", d.contains(&k("b"))));
    t.push(r("dict len", d.len()));
    t.push(r("dict keys", d.keys()));
    t.push(r("dict values", d.values()));
    t.push(r("dict items", d.items()));
    t.push(r("dict setdefault", d.setdefault(&k("c"), &3)));
    t.push(r("dict setdefault existing", d.setdefault(&k("a"), &9)));
    t.push(r("dict update", d.update(&[(k("d"), 4), (k("a"), 10)])));
    t.push(r(
        "dict iter",
        d.iter()
            .and_then(|it| it.collect::<mp::Result<Vec<String>>>()),
    ));
    t.push(r("dict pop", d.pop(&k("b"))));
    t.push(r("dict pop missing", d.pop(&k("b"))));
    t.push(r("dict popitem", d.popitem()));
    t.push(r("dict del missing", d.del(&k("zz"))));
    t.push(r("dict del", d.del(&k("a"))));
    t.push(r("dict copy", d.copy()));
    t.push(r("dict repr", d.base().repr()));
    t.push(r("dict clear", d.clear()));
    t.push(r("dict popitem empty", d.popitem()));
    t.push(r("dict is_empty", d.is_empty()));
    t.push(r(
        "dict unknown method",
        d.base().call_method::<()>("no_such_method", vec![], vec![]),
    ));
    let d2 = m
        .dict_from(&[(7i64, "seven".to_string()), (8, "eight".into())])
        .unwrap();
    t.push(r("dict_from items", d2.items()));

    let l: ListProxy<i64> = m.list_from(&[3, 1, 2]).unwrap();
    t.push(r("list append", l.append(&5)));
    t.push(r("list extend", l.extend(&[1, 9])));
    t.push(r("list get -1", l.get(-1)));
    t.push(r("list get 99", l.get(99)));
    t.push(r("list set", l.set(0, &30)));
    t.push(r("list insert", l.insert(1, &7)));
    t.push(r("list pop", l.pop(None)));
    t.push(r("list pop 0", l.pop(Some(0))));
    t.push(r("list remove missing", l.remove(&100)));
    t.push(r("list remove", l.remove(&1)));
    t.push(r("list index", l.index(&2)));
    t.push(r("list index missing", l.index(&100)));
    t.push(r("list count", l.count(&1)));
    t.push(r("list contains", l.contains(&5)));
    t.push(r("list len", l.len()));
    t.push(r("list reverse", l.reverse()));
    t.push(r("list to_vec", l.to_vec()));
    t.push(r("list sort reverse", l.sort(true)));
    t.push(r("list to_vec", l.to_vec()));
    t.push(r("list del", l.del(0)));
    t.push(r("list repr", l.base().repr()));
    use mp::pickle::Value;
    let mixed = ListProxy::<i64>::from_base(
        m.create(
            "list",
            vec![Value::List(vec![Value::Int(1), Value::str("x")])],
            vec![],
        )
        .unwrap(),
    );
    t.push(r("list sort mixed", mixed.sort(false)));

    let q: QueueProxy<String> = m.queue().unwrap();
    t.push(r("queue put", q.put(&k("one"))));
    t.push(r("queue put_nowait", q.put_nowait(&k("two"))));
    t.push(r("queue qsize", q.qsize()));
    t.push(r("queue empty", q.empty()));
    t.push(r("queue full", q.full()));
    t.push(r("queue get", q.get()));
    t.push(r("queue get_timeout", q.get_timeout(short)));
    t.push(r("queue get_nowait empty", q.get_nowait()));
    t.push(r("queue get_timeout empty", q.get_timeout(short)));
    let bounded: QueueProxy<i64> = m.queue_with_maxsize(1).unwrap();
    t.push(r("bounded put_nowait", bounded.put_nowait(&1)));
    t.push(r("bounded put_nowait full", bounded.put_nowait(&2)));
    t.push(r(
        "bounded put_timeout full",
        bounded.put_timeout(&2, short),
    ));
    t.push(r("bounded full", bounded.full()));
    let jq: QueueProxy<i64> = m.joinable_queue().unwrap();
    t.push(r("joinable put", jq.put(&1)));
    t.push(r("joinable get", jq.get()));
    t.push(r("joinable task_done", jq.task_done()));
    t.push(r("joinable join", jq.join()));
    t.push(r("joinable task_done extra", jq.task_done()));

    let v = m.value("i", &5i64).unwrap();
    t.push(r("value get", v.get()));
    t.push(r("value set", v.set(&6)));
    t.push(r("value get", v.get()));
    let fv = m.value("d", &1.5f64).unwrap();
    t.push(r("float value repr", fv.base().repr()));

    let a = m.array('i', &[1i64, 2, 3]).unwrap();
    t.push(r("array len", a.len()));
    t.push(r("array get", a.get(-1)));
    t.push(r("array set", a.set(0, &10)));
    t.push(r("array to_vec", a.to_vec()));
    t.push(r("array get 9", a.get(9)));
    t.push(r("array repr", a.base().repr()));

    let ns = m.namespace().unwrap();
    t.push(r("ns set", ns.set("x", &1i64)));
    t.push(r("ns set", ns.set("name", "mp")));
    t.push(r("ns get", ns.get::<i64>("x")));
    t.push(r("ns get", ns.get::<String>("name")));
    t.push(r("ns get missing", ns.get::<i64>("nope")));
    t.push(r("ns del", ns.del("x")));
    t.push(r("ns del missing", ns.del("x")));
    t.push(r("ns repr", ns.base().repr()));

    let lock = m.lock().unwrap();
    t.push(r("lock acquire", lock.acquire()));
    t.push(r("lock try_acquire held", lock.try_acquire()));
    t.push(r("lock acquire_timeout held", lock.acquire_timeout(short)));
    t.push(r("lock release", lock.release()));
    t.push(r("lock release unlocked", lock.release()));
    t.push(r("lock guard", lock.lock().map(drop)));
    t.push(r("lock free after guard", lock.try_acquire()));
    t.push(r("lock release", lock.release()));
    let rlock = m.rlock().unwrap();
    t.push(r("rlock acquire", rlock.acquire()));
    t.push(r("rlock acquire again", rlock.try_acquire()));
    t.push(r("rlock release", rlock.release()));
    t.push(r("rlock release", rlock.release()));
    t.push(r("rlock release unowned", rlock.release()));
    let sem = m.semaphore(2).unwrap();
    t.push(r("sem try", sem.try_acquire()));
    t.push(r("sem try", sem.try_acquire()));
    t.push(r("sem try exhausted", sem.try_acquire()));
    t.push(r("sem release", sem.release()));
    let bsem = m.bounded_semaphore(1).unwrap();
    t.push(r("bsem release over", bsem.release()));

    let cond = m.condition().unwrap();
    t.push(r("cond acquire", cond.acquire()));
    t.push(r("cond wait timeout", cond.wait(Some(short))));
    t.push(r("cond notify", cond.notify(1)));
    t.push(r("cond notify_all", cond.notify_all()));
    t.push(r(
        "cond wait_for true",
        cond.wait_for(|| Ok(true), Some(short)),
    ));
    t.push(r("cond release", cond.release()));
    t.push(r("cond wait unowned", cond.wait(Some(short))));

    let ev = m.event().unwrap();
    t.push(r("event is_set", ev.is_set()));
    t.push(r("event wait", ev.wait(Some(short))));
    t.push(r("event set", ev.set()));
    t.push(r("event wait set", ev.wait(Some(short))));
    t.push(r("event clear", ev.clear()));
    t.push(r("event is_set", ev.is_set()));

    let b = m.barrier(1).unwrap();
    t.push(r("barrier parties", b.parties()));
    t.push(r("barrier wait", b.wait(Some(short))));
    t.push(r("barrier n_waiting", b.n_waiting()));
    t.push(r("barrier broken", b.broken()));
    t.push(r("barrier abort", b.abort()));
    t.push(r("barrier broken", b.broken()));
    t.push(r("barrier wait broken", b.wait(Some(short))));
    t.push(r("barrier reset", b.reset()));
    t.push(r("barrier broken", b.broken()));
    t
}

fn same_results_on_cpython_and_mp() -> TestResult {
    let cpython = serve_cpython();
    let theirs = scenario(&connect(&cpython));
    let served = serve_mp(&[]);
    let ours = scenario(&connect(&served));
    let started = SyncManager::start().unwrap();
    let in_child = scenario(&started);
    // The transcript means something: spot-check values CPython gives.
    for line in [
        "dict get: Some(1)",
        "dict getitem missing: KeyError('zz')",
        "dict iter: [\"a\", \"b\", \"c\", \"d\"]",
        "dict repr: \"{'c': 3}\"",
        "float value repr: \"Value('d', 1.5)\"",
        "array repr: \"array('i', [10, 2, 3])\"",
        "ns repr: \"Namespace(name='mp')\"",
        "list get 99: IndexError",
        "list sort mixed: TypeError",
        "queue get_nowait empty: Empty",
        "bounded put_timeout full: Full",
        "joinable task_done extra: ValueError",
        "lock try_acquire held: false",
        "lock release unlocked: RuntimeError",
        "ns get missing: AttributeError",
        "barrier wait broken: BrokenBarrier",
        "dict unknown method: RemoteError",
    ] {
        check(
            theirs.iter().any(|l| l == line),
            format!(
                "CPython's transcript lacks {line:?}:\n{}",
                theirs.join("\n")
            ),
        )?;
    }
    for (name, got) in [
        ("mp serve-manager", &ours),
        ("SyncManager::start", &in_child),
    ] {
        for (a, b) in theirs.iter().zip(got.iter()) {
            check(a == b, format!("{name}: CPython says {a:?}, mp says {b:?}"))?;
        }
        check(theirs.len() == got.len(), "transcripts differ in length")?;
    }
    // CPython's server runs a Pool in its own process; mp's cannot run
    // Python code and says so.
    let refused = connect(&served).create("Pool", vec![], vec![]).unwrap_err();
    check(
        matches!(&refused, Error::Remote(text) if text.contains("Pool")),
        format!("mp refuses a Pool: {refused}"),
    )?;
    Ok(())
}

fn reference_counts_balance() -> TestResult {
    for served in [serve_cpython(), serve_mp(&[])] {
        let m = connect(&served);
        let before = m.number_of_objects().unwrap();
        {
            let d: DictProxy<i64, i64> = m.dict().unwrap();
            let l: ListProxy<i64> = m.list().unwrap();
            let d2 = d.try_clone().unwrap();
            d2.set(&1, &2).unwrap();
            let it = d.iter().unwrap();
            check(
                m.number_of_objects().unwrap() == before + 3,
                format!("3 objects more: {}", m.debug_info().unwrap()),
            )?;
            drop((l, it));
            check(
                m.number_of_objects().unwrap() == before + 1,
                "list and iterator released",
            )?;
            drop(d);
            check(
                d2.get(&1).unwrap() == Some(2),
                "the clone keeps the dict alive",
            )?;
        }
        check(
            m.number_of_objects().unwrap() == before,
            format!("all released: {}", m.debug_info().unwrap()),
        )?;
    }
    Ok(())
}

fn nested_proxies() -> TestResult {
    // The docs' example: a list inside a list is a reference, not a copy.
    for served in [serve_cpython(), serve_mp(&[])] {
        let m = connect(&served);
        let a: ListProxy<ListProxy<String>> = m.list().unwrap();
        let b: ListProxy<String> = m.list().unwrap();
        a.append(&b).unwrap();
        b.append(&"hello".to_string()).unwrap();
        let inner = a.get(0).unwrap();
        check(
            inner.to_vec().unwrap() == ["hello"],
            "a[0] is b, seen through a",
        )?;
        inner.append(&"world".to_string()).unwrap();
        check(
            b.to_vec().unwrap() == ["hello", "world"],
            "writes through a[0] reach b",
        )?;
        drop(b);
        check(
            inner.to_vec().unwrap().len() == 2,
            "a keeps b alive after b's proxy is gone",
        )?;
        let repr = a.base().repr().unwrap();
        check(
            repr.starts_with("[<ListProxy object, typeid 'list' at 0x"),
            format!("repr of a list holding a proxy: {repr}"),
        )?;
    }
    Ok(())
}

fn registered_names_shared_with_python() -> TestResult {
    let served = serve_mp(&["--register", "jobs=queue", "--register", "conf=dict"]);
    let m = connect(&served);
    let jobs: QueueProxy<(String, i64)> = m.get("jobs").unwrap();
    jobs.put(&("task".to_string(), 7)).unwrap();
    let conf: Proxy = m.get("conf").unwrap();
    conf.call::<_, ()>("__setitem__", &("retries", 3)).unwrap();
    conf.call::<_, ()>("__setitem__", &("ratio", 0.5)).unwrap();
    let script = r#"
import os, sys
from multiprocessing.managers import BaseManager
class M(BaseManager): pass
M.register('jobs'); M.register('conf')
host, port = sys.argv[1].rsplit(':', 1)
m = M((host, int(port)), authkey=os.environb[b'MP_AUTHKEY']); m.connect()
print(repr(m.jobs().get()), sorted(m.conf().items()))
m.jobs().put(['from', 'python', 1.25])
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&served.address)
        .env("MP_AUTHKEY", KEY)
        .output()
        .unwrap();
    check(
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    check(
        text.trim() == "('task', 7) [('ratio', 0.5), ('retries', 3)]",
        format!("Python saw {text:?}"),
    )?;
    let back: QueueProxy<(String, String, f64)> = m.get("jobs").unwrap();
    check(
        back.get_timeout(Duration::from_secs(10)).unwrap()
            == ("from".to_string(), "python".to_string(), 1.25),
        "Rust reads what Python put",
    )?;
    Ok(())
}

/// The child's side of [`proxies_travel_to_a_child`].
fn child_uses_proxies(
    (q, d, results): (
        QueueProxy<String>,
        DictProxy<String, i64>,
        QueueProxy<String>,
    ),
) {
    let item = q.get_timeout(Duration::from_secs(20)).unwrap();
    d.set(&item, &(item.len() as i64)).unwrap();
    results.put(&format!("child got {item}")).unwrap();
}

/// Hands a queue, a dict and a results queue of `m` to a child started
/// with `method`, sends it `item`, and checks what the child did through
/// them. Every proxy it made is dropped when it returns.
fn child_round_trip(m: &SyncManager, method: StartMethod, item: &str) -> TestResult {
    let q: QueueProxy<String> = m.queue().unwrap();
    let d: DictProxy<String, i64> = m.dict().unwrap();
    let results: QueueProxy<String> = m.queue().unwrap();
    let p = Process::new(
        child_uses_proxies,
        (
            q.try_clone().unwrap(),
            d.try_clone().unwrap(),
            results.try_clone().unwrap(),
        ),
    )
    .with_start_method(method);
    p.start().unwrap();
    q.put(&item.to_string()).unwrap();
    let said = results.get_timeout(Duration::from_secs(20)).unwrap();
    check(
        p.join(Some(Duration::from_secs(20))).unwrap() == Some(0),
        "child ok",
    )?;
    check(
        said == format!("child got {item}"),
        format!("{method}: child said {said:?}"),
    )?;
    check(
        d.get(&item.to_string()).unwrap() == Some(item.len() as i64),
        "child's write",
    )?;
    Ok(())
}

fn proxies_travel_to_a_child(method: StartMethod) -> TestResult {
    let m = SyncManager::start().unwrap();
    let before = m.number_of_objects().unwrap();
    child_round_trip(&m, method, "hello")?;
    // Every reference is back: the clones handed to the child (released
    // by the child's proxies and the parent's drop of the Process args) and
    // the parent's own proxies, so the three objects are gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = m.number_of_objects().unwrap();
        if n == before {
            break;
        }
        check(
            Instant::now() < deadline,
            format!(
                "{n} objects, expected {before}: {}",
                m.debug_info().unwrap()
            ),
        )?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn child_holds_lock((lock, ready): (LockProxy, QueueProxy<i64>)) {
    lock.acquire().unwrap();
    ready.put(&std::process::id().into()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn lock_of_a_killed_child_is_released(method: StartMethod) -> TestResult {
    let m = SyncManager::start().unwrap();
    let lock = m.lock().unwrap();
    let ready: QueueProxy<i64> = m.queue().unwrap();
    let p = Process::new(
        child_holds_lock,
        (lock.try_clone().unwrap(), ready.try_clone().unwrap()),
    )
    .with_start_method(method);
    p.start().unwrap();
    ready.get_timeout(Duration::from_secs(20)).unwrap();
    check(!lock.try_acquire().unwrap(), "the child holds the lock")?;
    p.kill().unwrap();
    p.join(Some(Duration::from_secs(20))).unwrap();
    check(
        lock.acquire_timeout(Duration::from_secs(20)).unwrap(),
        "mp's server released the dead child's lock",
    )?;
    lock.release().unwrap();
    Ok(())
}

fn proxy_to_a_child_of_cpython_server() -> TestResult {
    let cpython = serve_cpython();
    let m = connect(&cpython);
    for method in mp::get_all_start_methods() {
        child_round_trip(&m, method, "hi")?;
    }
    Ok(())
}

fn start_and_shutdown() -> TestResult {
    let mut m = SyncManager::start().unwrap();
    let address = m.address().clone();
    let l: ListProxy<i64> = m.list().unwrap();
    l.append(&1).unwrap();
    m.shutdown().unwrap();
    let err = SyncManager::connect(&address, Some(b"whatever")).unwrap_err();
    check(
        matches!(err, Error::Io { .. }),
        format!("the server is gone: {err}"),
    )?;
    check(l.append(&2).is_err(), "a proxy of a stopped manager fails")?;
    // Dropping the proxy afterwards is quiet.
    drop(l);
    let bad = SyncManager::start_at(&"256.0.0.1:1".parse().unwrap(), b"k").unwrap_err();
    check(
        matches!(&bad, mp::Error::BadAddress(a) if a.starts_with("256.0.0.1:1: ")),
        format!("a bad address is named: {bad}"),
    )?;
    Ok(())
}

fn wrong_key_and_no_server() -> TestResult {
    let served = serve_mp(&[]);
    let err = SyncManager::connect(&address(&served), Some(b"wrong")).unwrap_err();
    check(
        matches!(err, Error::Authentication(_)),
        format!("wrong key: {err}"),
    )?;
    let m = connect(&served);
    check(m.list::<i64>().is_ok(), "the server still serves")?;
    Ok(())
}

fn many_threads_exact_counts() -> TestResult {
    // 200 threads, each its own connection (one per thread, as CPython's
    // proxies do), 100 operations each: a locked read-modify-write counter,
    // a queue and a list. Every count must be exact.
    const THREADS: usize = 200;
    const ROUNDS: usize = 25;
    let served = serve_mp(&[]);
    let m = connect(&served);
    let counter: DictProxy<String, i64> = m.dict().unwrap();
    counter.set(&"n".into(), &0).unwrap();
    let lock = m.lock().unwrap();
    let q: QueueProxy<i64> = m.queue().unwrap();
    let l: ListProxy<i64> = m.list().unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (counter, lock, q, l) = (&counter, &lock, &q, &l);
            s.spawn(move || {
                for i in 0..ROUNDS {
                    let guard = lock.lock().unwrap();
                    let n = counter.get(&"n".into()).unwrap().unwrap();
                    counter.set(&"n".into(), &(n + 1)).unwrap();
                    drop(guard);
                    q.put(&((t * ROUNDS + i) as i64)).unwrap();
                    l.append(&1).unwrap();
                }
            });
        }
    });
    let total = (THREADS * ROUNDS) as i64;
    check(
        counter.get(&"n".into()).unwrap() == Some(total),
        "every locked increment counted",
    )?;
    check(q.qsize().unwrap() == THREADS * ROUNDS, "every put arrived")?;
    let mut seen: Vec<i64> = (0..THREADS * ROUNDS).map(|_| q.get().unwrap()).collect();
    seen.sort_unstable();
    check(seen == (0..total).collect::<Vec<_>>(), "each item once")?;
    check(l.len().unwrap() == THREADS * ROUNDS, "every append")?;
    Ok(())
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<DictProxy<String, i64>>();
    is::<LockProxy>();
    is::<Proxy>();
    let _ = <Proxy as TypedProxy>::from_base;
}
