//! Shared state across processes: every primitive of `mp::synchronize` and
//! `mp::sharedctypes` (locked and raw), under each start method, with
//! timeouts, and a lock holder killed with SIGKILL.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mp::sharedctypes::{Array, RawArray, RawValue, Value};
use mp::synchronize::{Barrier, Condition, Event, Lock, RLock, Semaphore};
use mp::{Error, Process, StartMethod};

mod harness;
use harness::{check, Global, PerMethod, TestResult};

fn main() {
    mp::freeze_support();
    let per_method: &[(&str, PerMethod)] = &[
        ("locked_counter_adds_up", locked_counter),
        ("event_and_semaphore_across_processes", event_and_semaphore),
        ("condition_wakes_a_waiting_process", condition_across),
        ("condition_ping_pong_loses_no_notify", condition_ping_pong),
        ("barrier_releases_all_parties", barrier_across),
        ("array_is_shared", array_shared),
        ("raw_array_and_value_from_processes", raw_from_processes),
        (
            "pool_initializer_takes_shared_state",
            pool_initializer_shared,
        ),
    ];
    let global: &[(&str, Global)] = &[
        ("lock_holder_killed_does_not_freeze_others", holder_killed),
        ("lock_semantics_and_timeouts", lock_semantics),
        ("rlock_is_recursive_and_owned", rlock_semantics),
        ("bounded_semaphore_refuses_over_release", bounded),
        (
            "barrier_timeout_breaks_it_and_reset_mends_it",
            barrier_breaks,
        ),
        ("huge_timeouts_mean_no_deadline", huge_timeouts),
    ];
    harness::run(per_method, "sync", global);
}

fn run_all<A: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + 'static>(
    m: StartMethod,
    f: fn(A),
    args: Vec<A>,
) -> TestResult {
    let ps: Vec<Process> = args
        .into_iter()
        .map(|a| Process::new(f, a).with_start_method(m))
        .collect();
    for p in &ps {
        p.start()?;
    }
    for p in &ps {
        let code = p.join(Some(Duration::from_secs(60)))?;
        check(code == Some(0), format!("child exit code {code:?}"))?;
    }
    Ok(())
}

// ---- children ----

/// What a pool worker's initializer received, for its tasks.
static POOL_STATE: std::sync::OnceLock<(Value<u64>, Lock, mp::queues::Queue<i32>)> =
    std::sync::OnceLock::new();

fn pool_init((v, l, q): (Value<u64>, Lock, mp::queues::Queue<i32>)) {
    v.update(|x| *x += 1000);
    q.put(&(std::process::id() as i32)).unwrap();
    let _ = POOL_STATE.set((v, l, q));
}

fn pool_count(x: u64) -> u64 {
    let (v, l, _) = POOL_STATE.get().expect("the initializer ran");
    let _held = l.lock().unwrap();
    v.update(|c| *c += 1);
    x
}

fn add_many((v, n): (Value<u64>, u64)) {
    for _ in 0..n {
        v.update(|x| *x += 1);
    }
}

fn wait_then_signal((go, done, sem): (Event, Event, Semaphore)) {
    assert!(go.wait(Some(Duration::from_secs(30))), "go never came");
    assert!(sem.acquire(true, Some(Duration::from_secs(30))).unwrap());
    done.set();
}

fn wait_for_value((c, v): (Condition, Value<u32>)) {
    let _g = c.lock().unwrap();
    let ok = c
        .wait_for(|| v.get() == 7, Some(Duration::from_secs(30)))
        .unwrap();
    assert!(ok, "the condition never held");
    v.set(8);
    c.notify_all();
}

fn barrier_party((b, seen): (Barrier, Array<u32>)) {
    let i = b.wait(Some(Duration::from_secs(30))).unwrap();
    seen.update(|s| s[i as usize] += 1);
}

fn negate(a: Array<i32>) {
    a.update(|s| s.iter_mut().for_each(|x| *x = -*x));
    a.set(0, 100).unwrap();
}

/// Party `k` of a raw array: fills its own stripe with `k + 1` (checking
/// each write reads back), then bumps the shared count under `lock`.
fn fill_stripe((a, count, lock, k): (RawArray<u32>, RawValue<u64>, Lock, u32)) {
    let stripe = a.len() / 4;
    for i in k as usize * stripe..(k as usize + 1) * stripe {
        a.set(i, k + 1).unwrap();
        assert_eq!(a.get(i).unwrap(), k + 1);
    }
    let _held = lock.lock().unwrap();
    count.set(count.get() + 1);
}

fn hold_forever((l, held): (Lock, Event)) {
    let _g = l.lock().unwrap();
    held.set();
    std::thread::sleep(Duration::from_secs(600));
}

fn hold_rlock_forever((l, held): (RLock, Event)) {
    let _g = l.lock().unwrap();
    held.set();
    std::thread::sleep(Duration::from_secs(600));
}

// ---- per start method ----

fn locked_counter(m: StartMethod) -> TestResult {
    let v = Value::new(0u64)?;
    run_all(m, add_many, vec![(v.clone(), 5000); 4])?;
    check(v.get() == 20_000, format!("counter {}", v.get()))
}

fn event_and_semaphore(m: StartMethod) -> TestResult {
    let (go, done, sem) = (Event::new()?, Event::new()?, Semaphore::new(0)?);
    let p = Process::new(wait_then_signal, (go.clone(), done.clone(), sem.clone()))
        .with_start_method(m);
    p.start()?;
    check(
        !done.wait(Some(Duration::from_millis(50))),
        "done before go",
    )?;
    go.set();
    check(
        !done.wait(Some(Duration::from_millis(50))),
        "done before release",
    )?;
    sem.release()?;
    check(done.wait(Some(Duration::from_secs(30))), "done never came")?;
    check(
        p.join(Some(Duration::from_secs(30)))? == Some(0),
        "child ok",
    )
}

fn condition_across(m: StartMethod) -> TestResult {
    let c = Condition::new(None)?;
    let v = Value::new(0u32)?;
    let p = Process::new(wait_for_value, (c.clone(), v.clone())).with_start_method(m);
    p.start()?;
    std::thread::sleep(Duration::from_millis(50));
    {
        let _g = c.lock()?;
        v.set(7);
        c.notify(1);
    }
    let _g = c.lock()?;
    let ok = c.wait_for(|| v.get() == 8, Some(Duration::from_secs(30)))?;
    check(ok, "the child's answer never came")?;
    drop(_g);
    check(
        p.join(Some(Duration::from_secs(30)))? == Some(0),
        "child ok",
    )
}

/// The child's side of `condition_ping_pong`: answers each odd turn.
fn pong((c, turn, n): (Condition, RawValue<u64>, u64)) {
    let _g = c.lock().unwrap();
    for i in 0..n {
        while turn.get() != 2 * i + 1 {
            assert!(c.wait(Some(Duration::from_secs(30))).unwrap(), "ping lost");
        }
        turn.set(2 * i + 2);
        c.notify(1);
    }
}

/// Two processes taking turns under one condition (the benchmark's loop):
/// a notify often comes while the other side is between releasing the lock
/// and sleeping, which it must see. Each lost notify would cost a 100 ms
/// slice; the bound allows 200 of them on a loaded machine.
fn condition_ping_pong(m: StartMethod) -> TestResult {
    let c = Condition::new(None)?;
    let turn = RawValue::new(0u64)?;
    let n = 2000;
    let p = Process::new(pong, (c.clone(), turn.clone(), n)).with_start_method(m);
    p.start()?;
    let t = Instant::now();
    {
        let _g = c.lock()?;
        for i in 0..n {
            turn.set(2 * i + 1);
            c.notify(1);
            while turn.get() != 2 * i + 2 {
                check(c.wait(Some(Duration::from_secs(30)))?, "pong lost")?;
            }
        }
    }
    check(
        t.elapsed() < Duration::from_secs(20),
        format!("{n} round trips took {:?}", t.elapsed()),
    )?;
    check(
        p.join(Some(Duration::from_secs(30)))? == Some(0),
        "child ok",
    )
}

fn barrier_across(m: StartMethod) -> TestResult {
    let b = Barrier::new(3, None)?;
    let seen = Array::new(0u32, 3)?;
    run_all(m, barrier_party, vec![(b.clone(), seen.clone()); 3])?;
    check(
        seen.to_vec() == vec![1, 1, 1],
        format!("indices {:?}", seen.to_vec()),
    )
}

fn array_shared(m: StartMethod) -> TestResult {
    let a = Array::from_slice(&(0..10).collect::<Vec<i32>>())?;
    run_all(m, negate, vec![a.clone()])?;
    let mut want: Vec<i32> = (0..10).map(|x| -x).collect();
    want[0] = 100;
    check(a.to_vec() == want, format!("{:?}", a.to_vec()))
}

fn raw_from_processes(m: StartMethod) -> TestResult {
    const STRIPE: usize = 50_000;
    let a = RawArray::new(0u32, 4 * STRIPE)?;
    let count = RawValue::new(0u64)?;
    let lock = Lock::new()?;
    let ps: Vec<Process> = (0..4)
        .map(|k| {
            Process::new(fill_stripe, (a.clone(), count.clone(), lock.clone(), k))
                .with_start_method(m)
        })
        .collect();
    for p in &ps {
        p.start()?;
    }
    // Read while they write: every element is 0 or its party's number.
    let mut torn = None;
    while ps.iter().any(|p| p.is_alive()) && torn.is_none() {
        torn = (0..4 * STRIPE).find(|&i| {
            let x = a.get(i).unwrap();
            x != 0 && x != (i / STRIPE) as u32 + 1
        });
    }
    for p in &ps {
        let code = p.join(Some(Duration::from_secs(60)))?;
        check(code == Some(0), format!("child exit code {code:?}"))?;
    }
    check(
        torn.is_none(),
        format!("element {torn:?} had a foreign value"),
    )?;
    let want: Vec<u32> = (0..4 * STRIPE).map(|i| (i / STRIPE) as u32 + 1).collect();
    check(a.to_vec() == want, "every stripe filled")?;
    check(count.get() == 4, format!("count {}", count.get()))
}

// ---- global ----

fn holder_killed() -> TestResult {
    let l = Lock::new()?;
    let held = Event::new()?;
    let p = Process::new(hold_forever, (l.clone(), held.clone()));
    p.start()?;
    check(
        held.wait(Some(Duration::from_secs(30))),
        "child never held it",
    )?;
    check(!l.acquire(false, None)?, "held by the child")?;
    check(l.owner_pid() == p.pid(), "owner recorded")?;
    p.kill()?;
    let t = Instant::now();
    match l.acquire(true, Some(Duration::from_secs(10))) {
        Err(Error::OwnerDied { pid }) => check(Some(pid) == p.pid(), format!("pid {pid}"))?,
        other => return Err(format!("expected OwnerDied, got {other:?}").into()),
    }
    check(t.elapsed() < Duration::from_secs(5), "noticed quickly")?;
    // Ours now: release, and it works as before.
    l.release()?;
    check(l.acquire(false, None)?, "free again")?;
    l.release()?;
    p.join(None)?;
    // Value's lock is taken over the same way.
    let v = Value::new(1u32)?;
    let held = Event::new()?;
    let p = Process::new(hold_forever, (v.get_lock().clone(), held.clone()));
    p.start()?;
    check(
        held.wait(Some(Duration::from_secs(30))),
        "child never held it",
    )?;
    p.kill()?;
    v.update(|x| *x += 1);
    check(v.get() == 2, "value usable after its holder died")?;
    p.join(None)?;
    Ok(())
}

fn lock_semantics() -> TestResult {
    let l = Lock::new()?;
    check(l.acquire(true, None)?, "acquired")?;
    check(!l.acquire(false, None)?, "not twice")?;
    let t = Instant::now();
    check(
        !l.acquire(true, Some(Duration::from_millis(100)))?,
        "timed out",
    )?;
    check(t.elapsed() >= Duration::from_millis(90), "waited")?;
    // Any thread may release a Lock (as in CPython).
    let l2 = l.clone();
    std::thread::spawn(move || l2.release()).join().unwrap()?;
    check(
        matches!(l.release(), Err(Error::OverReleased(_))),
        "over-release",
    )?;
    // Contended from threads: a counter under the lock adds up.
    let v = RawValue::new(0u64)?;
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (l, v) = (l.clone(), v.clone());
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let _g = l.lock().unwrap();
                    v.set(v.get() + 1);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    check(v.get() == 80_000, format!("counter {}", v.get()))
}

fn rlock_semantics() -> TestResult {
    let r = RLock::new()?;
    check(r.acquire(true, None)?, "once")?;
    check(r.acquire(true, None)?, "twice")?;
    let r2 = r.clone();
    let other = std::thread::spawn(move || {
        let got = r2.acquire(true, Some(Duration::from_millis(50))).unwrap();
        let rel = r2.release().is_err();
        (got, rel)
    })
    .join()
    .unwrap();
    check(other == (false, true), format!("another thread: {other:?}"))?;
    r.release()?;
    r.release()?;
    check(r.release().is_err(), "released more than acquired")?;
    let r2 = r.clone();
    let got = std::thread::spawn(move || {
        let ok = r2.acquire(false, None).unwrap();
        r2.release().unwrap();
        ok
    })
    .join()
    .unwrap();
    check(got, "free for another thread")
}

fn bounded() -> TestResult {
    let s = Semaphore::bounded(2)?;
    check(s.acquire(false, None)? && s.acquire(false, None)?, "two")?;
    check(!s.acquire(false, None)?, "not three")?;
    check(
        !s.acquire(true, Some(Duration::from_millis(30)))?,
        "times out",
    )?;
    s.release()?;
    s.release()?;
    check(
        matches!(s.release(), Err(Error::OverReleased(_))),
        "bound enforced",
    )?;
    check(s.get_value() == 2, "value 2")
}

fn barrier_breaks() -> TestResult {
    let b = Barrier::new(2, None)?;
    check(
        matches!(
            b.wait(Some(Duration::from_millis(50))),
            Err(Error::BrokenBarrier)
        ),
        "a lone party times out and breaks it",
    )?;
    check(b.broken(), "broken")?;
    check(
        matches!(b.wait(None), Err(Error::BrokenBarrier)),
        "stays broken",
    )?;
    b.reset();
    check(!b.broken() && b.n_waiting() == 0, "mended")?;
    let b2 = b.clone();
    let h = std::thread::spawn(move || b2.wait(None).unwrap());
    let mine = b.wait(None)?;
    let theirs = h.join().unwrap();
    let both: HashSet<u32> = [mine, theirs].into();
    check(both == HashSet::from([0, 1]), format!("indices {both:?}"))?;
    check(b.parties() == 2, "parties")
}

fn pool_initializer_shared(m: StartMethod) -> TestResult {
    let v = Value::new(0u64)?;
    let l = Lock::new()?;
    let q = mp::queues::Queue::new(0)?;
    let p = mp::Pool::builder()
        .processes(2)
        .start_method(m)
        .initializer(pool_init, (v.clone(), l.clone(), q.clone()))?
        .build()?;
    let got = p.map(pool_count, 0..100u64, Some(1))?;
    check(got == (0..100).collect::<Vec<_>>(), "results")?;
    let workers = p.worker_pids().len() as u64;
    drop(p);
    let total = v.get();
    check(
        total % 1000 == 100 && total / 1000 >= workers,
        format!("counter {total} with {workers} workers"),
    )?;
    let mut pids = Vec::new();
    while let Ok(pid) = q.get_nowait() {
        pids.push(pid);
    }
    check(
        pids.len() as u64 == total / 1000,
        format!("one queue item per initializer: {pids:?}"),
    )?;
    Ok(())
}

/// Every blocking call given `Some(Duration::MAX)` (a deadline too far to
/// represent: none) in a state where it returns at once, or soon: it
/// returns the right value instead of panicking on `Instant + Duration`.
/// Where the free path returns before any deadline is computed (a free
/// lock), a second state goes through the wait: a dead holder, a waiter
/// that another party releases.
fn huge_timeouts() -> TestResult {
    const MAX: Option<Duration> = Some(Duration::MAX);
    let mut failed = Vec::new();
    let mut case = |name: &str, r: Result<bool, String>| match r {
        Ok(true) => {}
        Ok(false) => failed.push(format!("{name}: wrong result")),
        Err(e) => failed.push(format!("{name}: {e}")),
    };
    let s = |e: Error| e.to_string();

    let l = Lock::new()?;
    case("Lock::acquire (free)", l.acquire(true, MAX).map_err(s));
    l.release()?;
    let held = Event::new()?;
    let p = Process::new(hold_forever, (l.clone(), held.clone()));
    p.start()?;
    check(
        held.wait(Some(Duration::from_secs(30))),
        "child never held the lock",
    )?;
    p.kill()?;
    case(
        "Lock::acquire (holder died)",
        Ok(matches!(l.acquire(true, MAX), Err(Error::OwnerDied { .. }))),
    );
    l.release()?;
    p.join(None)?;

    let r = RLock::new()?;
    case("RLock::acquire (free)", r.acquire(true, MAX).map_err(s));
    case("RLock::acquire (again)", r.acquire(true, MAX).map_err(s));
    r.release()?;
    r.release()?;
    let held = Event::new()?;
    let p = Process::new(hold_rlock_forever, (r.clone(), held.clone()));
    p.start()?;
    check(
        held.wait(Some(Duration::from_secs(30))),
        "child never held the rlock",
    )?;
    p.kill()?;
    case(
        "RLock::acquire (holder died)",
        Ok(matches!(r.acquire(true, MAX), Err(Error::OwnerDied { .. }))),
    );
    r.release()?;
    p.join(None)?;

    let sem = Semaphore::new(1)?;
    case("Semaphore::acquire", sem.acquire(true, MAX).map_err(s));
    let bounded = Semaphore::bounded(1)?;
    case(
        "BoundedSemaphore::acquire",
        bounded.acquire(true, MAX).map_err(s),
    );

    let e = Event::new()?;
    e.set();
    case("Event::wait", Ok(e.wait(MAX)));

    let c = Condition::new(None)?;
    c.acquire(true, None)?;
    case("Condition::wait_for", c.wait_for(|| true, MAX).map_err(s));
    // wait: another thread notifies once it holds the lock, which it can
    // only take after wait released it.
    let c2 = c.clone();
    let notifier = std::thread::spawn(move || -> Result<(), Error> {
        c2.acquire(true, None)?;
        c2.notify_all();
        c2.release()
    });
    case("Condition::wait", c.wait(MAX).map_err(s));
    c.release()?;
    notifier
        .join()
        .map_err(|_| "the notifier panicked")?
        .map_err(s)?;

    // Barrier: the first party waits (its deadline is computed before it
    // counts itself as waiting); the second arrives once it is counted.
    let b = Barrier::new(2, None)?;
    let b2 = b.clone();
    let first = std::thread::spawn(move || b2.wait(MAX));
    let t = Instant::now();
    while b.n_waiting() < 1 {
        check(
            t.elapsed() < Duration::from_secs(30),
            "the first party never waited",
        )?;
        std::thread::yield_now();
    }
    let mine = b.wait(MAX).map_err(s);
    let theirs = first
        .join()
        .map_err(|_| "the first party panicked")?
        .map_err(s);
    case(
        "Barrier::wait (both parties)",
        Ok(matches!((mine, theirs), (Ok(a), Ok(b)) if a + b == 1)),
    );
    let one = Barrier::new(1, MAX)?;
    case(
        "Barrier::wait (default timeout)",
        Ok(one.wait(None).map_err(s) == Ok(0)),
    );

    check(failed.is_empty(), failed.join("\n"))
}
