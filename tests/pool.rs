//! The library Pool: every method, task errors, worker death, time limits,
//! recycling, and lazy imap, with real worker processes.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mp::{Error, Pool, StartMethod, TaskError};

mod harness;
use harness::{check, Global, PerMethod, TestResult};

fn main() {
    mp::freeze_support();
    let per_method: &[(&str, PerMethod)] = &[
        ("map_in_order", map_in_order),
        ("worker_death_fails_task_and_pool_goes_on", worker_death),
        ("initializer_runs_in_each_worker", initializer_runs),
        ("finalizer_runs_as_each_worker_leaves", finalizer_runs),
        (
            "workers_that_die_before_they_are_ready_fail_the_pool",
            workers_cannot_start,
        ),
    ];
    let global: &[(&str, Global)] = &[
        ("imap_ordered_chunksizes", imap_ordered_chunksizes),
        ("imap_unordered_all_items", imap_unordered_all_items),
        ("starmap", starmap),
        ("apply_and_apply_async", apply_and_apply_async),
        ("callbacks", callbacks),
        ("panic_in_task", panic_in_task),
        ("retries_rerun_lost_tasks", retries_rerun_lost_tasks),
        ("time_limit_kills_only_the_slow_task", time_limit),
        ("maxtasksperchild_recycles_workers", maxtasksperchild),
        ("failing_initializer_does_not_hang", failing_initializer),
        ("imap_reads_input_lazily", imap_lazy),
        ("imap_next_timeout", imap_next_timeout),
        ("huge_timeouts_mean_no_deadline", huge_timeouts),
        ("terminate_fails_pending_and_returns", terminate_pending),
        ("close_then_join", close_then_join),
        ("lazy_pool_starts_workers_as_work_needs_them", lazy_workers),
        (
            "fast_tasks_stream_and_a_death_deep_in_the_queue_costs_one",
            deep_queue_death,
        ),
        (
            "slow_tasks_after_fast_ones_are_shared_by_the_workers",
            slow_after_fast,
        ),
        (
            "imap_submits_each_record_of_a_blocking_input_at_once",
            imap_blocking_input,
        ),
        (
            "chunks_queued_behind_a_long_one_go_to_a_free_worker",
            handed_back,
        ),
        (
            "imap_runs_what_came_before_an_argument_that_cannot_be_sent",
            imap_encode_error,
        ),
        (
            "imap_streaming_yields_while_the_input_is_idle",
            imap_streaming_idle_input,
        ),
        (
            "imap_streaming_ends_with_an_error_when_the_input_panics",
            imap_streaming_input_panics,
        ),
        (
            "imap_streaming_stop_input_then_cancel_runs_nothing_more",
            imap_streaming_stop_input,
        ),
    ];
    harness::run(per_method, "pool", global);
}

fn pool(processes: usize) -> Pool {
    Pool::builder().processes(processes).build().unwrap()
}

// ---- task functions ----

fn pow3(x: u64) -> u64 {
    x * x * x
}

fn add((a, b): (u64, u64)) -> u64 {
    a + b
}

fn mul(a: u64, b: u64) -> u64 {
    a * b
}

fn my_pid(_: u64) -> u32 {
    std::process::id()
}

fn panics_on_seven(x: u64) -> u64 {
    if x == 7 {
        panic!("seven is not allowed");
    }
    x
}

fn die_on_seven(x: u64) -> u64 {
    if x == 7 {
        // SAFETY: killing our own worker is the point of the test.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    x
}

/// Kills its worker the first time (marker file absent), succeeds the second time.
fn die_once(marker: String) -> String {
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"x").unwrap();
        // SAFETY: as above.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    "second time lucky".to_string()
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

static INIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn init(v: u64) {
    INIT.store(v, std::sync::atomic::Ordering::SeqCst);
}

fn read_init(_: ()) -> u64 {
    INIT.load(std::sync::atomic::Ordering::SeqCst)
}

fn init_panics(_: ()) {
    panic!("initializer fell over");
}

fn init_exits(_: ()) {
    std::process::exit(3);
}

fn identity(x: u64) -> u64 {
    x
}

// ---- tests ----

fn map_in_order(m: StartMethod) -> TestResult {
    let p = Pool::builder().processes(2).start_method(m).build()?;
    let got = p.map(pow3, 0..1000u64, None)?;
    check(
        got == (0..1000u64).map(pow3).collect::<Vec<_>>(),
        "map results in order",
    )?;
    let got = p.map(pow3, 0..100u64, Some(1))?;
    check(got.len() == 100 && got[99] == 970299, "chunksize 1")?;
    check(
        p.map(pow3, Vec::<u64>::new(), None)?.is_empty(),
        "empty input",
    )
}

fn worker_death(m: StartMethod) -> TestResult {
    let p = Pool::builder().processes(2).start_method(m).build()?;
    let before: HashSet<i32> = p.worker_pids().into_iter().collect();
    let r = p.map(die_on_seven, 0..20u64, Some(1));
    match r {
        Err(Error::Task(TaskError::WorkerLost {
            exitcode: Some(-9), ..
        })) => {}
        other => return Err(format!("expected WorkerLost, got {other:?}").into()),
    }
    // Per item: only task 7 fails, the others succeed.
    let items: Vec<_> = p.imap(die_on_seven, 0..20u64, 1).collect();
    check(items.len() == 20, "20 results")?;
    for (i, r) in items.iter().enumerate() {
        check(r.is_ok() == (i != 7), format!("item {i}: {r:?}"))?;
    }
    // The pool goes on, with a replacement worker.
    check(p.map(pow3, 0..10u64, None)?[2] == 8, "pool still works")?;
    let after: HashSet<i32> = p.worker_pids().into_iter().collect();
    check(
        after.len() == 2 && after != before,
        format!("workers replaced: {before:?} -> {after:?}"),
    )
}

fn initializer_runs(m: StartMethod) -> TestResult {
    let p = Pool::builder()
        .processes(2)
        .start_method(m)
        .initializer(init, 41)?
        .build()?;
    let got = p.map(read_init, vec![(); 10], Some(1))?;
    check(got.iter().all(|&v| v == 41), format!("{got:?}"))
}

/// An initializer that exits (no panic to report): CPython restarts such
/// workers for ever. After `START_FAILURES` in a row the pool fails every
/// pending task with a clear error, promptly; no task was blamed for a
/// worker that never took one.
fn workers_cannot_start(m: StartMethod) -> TestResult {
    let p = Pool::builder()
        .processes(2)
        .start_method(m)
        .initializer(init_exits, ())?
        .build()?;
    let t = Instant::now();
    match p.map(pow3, 0..10u64, Some(1)) {
        Err(Error::Task(
            e @ TaskError::WorkersCannotStart {
                count, exitcode, ..
            },
        )) => {
            check(count == mp::pool::START_FAILURES, format!("{e}"))?;
            check(exitcode == Some(3), format!("{e}"))?;
            let msg = e.to_string();
            check(
                msg.contains("died before they were ready") && msg.contains("exited with status 3"),
                msg,
            )?;
        }
        other => return Err(format!("expected WorkersCannotStart, got {other:?}").into()),
    }
    check(t.elapsed() < Duration::from_secs(30), "no hang")?;
    // The pool stays failed: later work fails at once, no hang.
    check(
        p.map(pow3, 0..3u64, None).is_err(),
        "a failed pool fails later work",
    )
}

/// A finalizer: sends this worker's pid on the queue.
fn say_goodbye(q: mp::queues::Queue<u32>) {
    q.put(&std::process::id()).unwrap();
}

fn finalizer_runs(m: StartMethod) -> TestResult {
    let q: mp::queues::Queue<u32> = mp::queues::Queue::new(0)?;
    // Each worker leaves after one chunk: 6 chunks, at least 6 goodbyes,
    // each from a different worker; the workers still idle at close say
    // theirs when the pool closes.
    let p = Pool::builder()
        .processes(2)
        .start_method(m)
        .maxtasksperchild(1)
        .finalizer(say_goodbye, q.clone())?
        .build()?;
    let got = p.map(pow3, (0..6u64).collect::<Vec<_>>(), Some(1))?;
    check(got == [0, 1, 8, 27, 64, 125], format!("{got:?}"))?;
    p.close();
    p.join()?;
    let mut pids = Vec::new();
    // The pool has joined its workers: every goodbye is already sent.
    while let Ok(pid) = q.get_timeout(std::time::Duration::from_secs(1)) {
        pids.push(pid);
    }
    let distinct: std::collections::HashSet<u32> = pids.iter().copied().collect();
    check(
        pids.len() >= 6 && distinct.len() == pids.len(),
        format!("one goodbye per worker, at least 6: {pids:?}"),
    )
}

fn imap_ordered_chunksizes() -> TestResult {
    let p = pool(2);
    for cs in [1, 7, 100] {
        let got: Vec<u64> = p.imap(pow3, 0..500u64, cs).collect::<Result<_, _>>()?;
        check(
            got == (0..500u64).map(pow3).collect::<Vec<_>>(),
            format!("chunksize {cs}"),
        )?;
    }
    Ok(())
}

fn imap_unordered_all_items() -> TestResult {
    let p = pool(2);
    let mut got: Vec<u64> = p
        .imap_unordered(identity, 0..1000u64, 3)
        .collect::<Result<_, _>>()?;
    got.sort_unstable();
    check(
        got == (0..1000u64).collect::<Vec<_>>(),
        "every item exactly once",
    )
}

fn starmap() -> TestResult {
    let p = pool(2);
    let got = p.starmap(mul, (0..50u64).map(|i| (i, 2)), None)?;
    check(
        got == (0..50u64).map(|i| i * 2).collect::<Vec<_>>(),
        "starmap",
    )?;
    let got = p.map(add, vec![(1, 2), (3, 4)], None)?;
    check(got == vec![3, 7], "tuple argument")
}

fn apply_and_apply_async() -> TestResult {
    let p = pool(2);
    check(p.apply(pow3, 3)? == 27, "apply")?;
    let mut r = p.apply_async(sleep_ms, 100)?;
    check(!r.ready(), "not ready at once")?;
    check(
        r.successful().is_err(),
        "successful() before ready is an error",
    )?;
    check(r.wait(Some(Duration::from_secs(10))), "wait")?;
    check(r.ready() && r.successful()?, "ready and successful")?;
    check(r.get(None)? == 100, "get")?;
    let mut slow = p.apply_async(sleep_ms, 2000)?;
    match slow.get(Some(Duration::from_millis(50))) {
        Err(Error::Timeout(_)) => {}
        other => return Err(format!("expected Timeout, got {other:?}").into()),
    }
    let mut m = p.map_async(pow3, 0..10u64, None)?;
    check(m.get(None)?[9] == 729, "map_async")
}

fn callbacks() -> TestResult {
    let p = pool(2);
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    p.apply_async_with(pow3, 4, move |v| tx.send(Ok(v)).unwrap(), |e| panic!("{e}"))?;
    p.apply_async_with(
        panics_on_seven,
        7,
        |v| panic!("{v}"),
        move |e| tx2.send(Err(e.to_string())).unwrap(),
    )?;
    let mut got: Vec<Result<u64, String>> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap())
        .collect();
    got.sort_by_key(|r| r.is_err());
    check(got[0] == Ok(64), format!("{got:?}"))?;
    check(
        got[1]
            .as_ref()
            .is_err_and(|e| e.contains("seven is not allowed")),
        format!("{got:?}"),
    )
}

fn panic_in_task() -> TestResult {
    let p = pool(2);
    match p.map(panics_on_seven, 0..10u64, Some(3)) {
        Err(Error::Task(TaskError::Panicked(msg))) => {
            check(msg.contains("seven is not allowed"), msg)?
        }
        other => return Err(format!("expected Panicked, got {other:?}").into()),
    }
    // A panic does not cost the worker: same pids afterwards.
    let pids = p.worker_pids();
    let r: Vec<_> = p.imap(panics_on_seven, 0..10u64, 1).collect();
    check(
        r.iter().filter(|r| r.is_err()).count() == 1,
        "exactly one failure",
    )?;
    check(p.worker_pids() == pids, "workers survive panics")
}

fn retries_rerun_lost_tasks() -> TestResult {
    let dir = tempfile::tempdir()?;
    let marker = dir.path().join("marker").to_string_lossy().into_owned();
    let p = Pool::builder().processes(2).retries(1).build()?;
    check(
        p.apply(die_once, marker)? == "second time lucky",
        "retried after worker loss",
    )
}

fn time_limit() -> TestResult {
    let p = Pool::builder()
        .processes(2)
        .task_timeout(Duration::from_millis(300))
        .build()?;
    let t = Instant::now();
    let got: Vec<_> = p.imap(sleep_ms, vec![10, 10_000, 10, 10], 4).collect();
    check(
        t.elapsed() < Duration::from_secs(8),
        format!("took {:?}", t.elapsed()),
    )?;
    check(got.len() == 4, "four results")?;
    check(
        matches!(got[1], Err(Error::Task(TaskError::TimedOut(_)))),
        format!("{:?}", got[1]),
    )?;
    check(
        got[0].is_ok() && got[2].is_ok() && got[3].is_ok(),
        format!("{got:?}"),
    )?;
    check(
        p.map(pow3, 0..4u64, None)? == vec![0, 1, 8, 27],
        "pool still works",
    )
}

fn maxtasksperchild() -> TestResult {
    let p = Pool::builder().processes(2).maxtasksperchild(2).build()?;
    let pids = p.map(my_pid, 0..20u64, Some(1))?;
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    check(
        distinct.len() >= 10,
        format!("{} distinct worker pids for 20 tasks", distinct.len()),
    )
}

fn failing_initializer() -> TestResult {
    let p = Pool::builder()
        .processes(2)
        .initializer(init_panics, ())?
        .build()?;
    let t = Instant::now();
    match p.map(pow3, 0..10u64, None) {
        Err(Error::Task(TaskError::InitializerFailed(msg))) => {
            check(msg.contains("initializer fell over"), msg)?
        }
        other => return Err(format!("expected InitializerFailed, got {other:?}").into()),
    }
    check(t.elapsed() < Duration::from_secs(10), "no hang")
}

fn imap_lazy() -> TestResult {
    let p = Pool::builder().processes(2).window(4).build()?;
    let pulled = Rc::new(Cell::new(0u64));
    let counter = pulled.clone();
    let endless = (0u64..).inspect(move |_| counter.set(counter.get() + 1));
    let mut it = p.imap(identity, endless, 10);
    for i in 0..1000u64 {
        check(it.next().transpose()? == Some(i), "in order")?;
    }
    // At most the window (4 chunks of 10) beyond what was consumed.
    check(
        pulled.get() <= 1000 + 4 * 10 + 10,
        format!("pulled {} items for 1000 results", pulled.get()),
    )
}

fn imap_next_timeout() -> TestResult {
    let p = pool(1);
    let mut it = p.imap(sleep_ms, vec![1000u64], 1);
    match it.next_timeout(Some(Duration::from_millis(20))) {
        Err(Error::Timeout(_)) => {}
        other => return Err(format!("expected Timeout, got {other:?}").into()),
    }
    check(it.next_timeout(None)? == Some(1000), "then the value")?;
    check(it.next_timeout(None)?.is_none(), "then the end")
}

/// AsyncResult's wait and get, IMapIterator's next_timeout and the pool's
/// task_timeout given `Duration::MAX` (a deadline too far to represent:
/// none): the right values, no panic on `Instant + Duration` (a panic in
/// the pool's supervisor would leave the results unfinished: the waits
/// here are bounded).
fn huge_timeouts() -> TestResult {
    const MAX: Option<Duration> = Some(Duration::MAX);
    let bounded = Some(Duration::from_secs(60));
    let mut failed = Vec::new();
    let p = pool(1);
    let mut r = p.apply_async(pow3, 2u64)?;
    check(r.wait(bounded), "the task never finished")?;
    if !r.wait(MAX) {
        failed.push("AsyncResult::wait: false".to_string());
    }
    match r.get(MAX) {
        Ok(8) => {}
        other => failed.push(format!("AsyncResult::get: {other:?}")),
    }
    let mut it = p.imap(pow3, vec![3u64], 1);
    match it.next_timeout(MAX) {
        Ok(Some(27)) => {}
        other => failed.push(format!("IMapIterator::next_timeout: {other:?}")),
    }
    match it.next_timeout(MAX) {
        Ok(None) => {}
        other => failed.push(format!("IMapIterator::next_timeout at the end: {other:?}")),
    }
    let p = Pool::builder()
        .processes(1)
        .task_timeout(Duration::MAX)
        .build()?;
    match p.map_async(pow3, vec![4u64, 5], Some(1))?.get(bounded) {
        Ok(v) if v == vec![64, 125] => {}
        other => failed.push(format!("PoolBuilder::task_timeout(MAX): {other:?}")),
    }
    check(failed.is_empty(), failed.join("\n"))
}

fn terminate_pending() -> TestResult {
    let p = pool(2);
    let mut r = p.map_async(sleep_ms, vec![5000u64; 6], Some(1))?;
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    p.terminate();
    check(
        t.elapsed() < Duration::from_secs(8),
        format!("terminate took {:?}", t.elapsed()),
    )?;
    match r.get(Some(Duration::from_secs(5))) {
        Err(Error::Task(TaskError::Terminated)) => {}
        other => return Err(format!("expected Terminated, got {other:?}").into()),
    }
    check(
        p.map(pow3, 0..2u64, None).is_err(),
        "a terminated pool refuses work",
    )
}

fn close_then_join() -> TestResult {
    let p = pool(2);
    check(p.join().is_err(), "join before close")?;
    let mut r = p.map_async(sleep_ms, vec![50u64; 4], Some(1))?;
    p.close();
    check(p.apply(pow3, 2).is_err(), "closed pool refuses work")?;
    p.join()?;
    check(
        r.get(None)? == vec![50; 4],
        "queued work finished before join returned",
    )
}

/// A lazy pool starts one worker; queued work that finds it busy starts the
/// others, and all of them run tasks.
fn lazy_workers() -> TestResult {
    let p = Pool::builder()
        .processes(3)
        .lazy(true)
        .build()
        .map_err(|e| e.to_string())?;
    check(
        p.worker_pids().len() == 1,
        format!("started {:?}", p.worker_pids()),
    )?;
    // One quick task keeps it at one worker.
    let one = p.map(my_pid, [0u64], Some(1)).map_err(|e| e.to_string())?;
    check(
        p.worker_pids().len() == 1,
        "one task started another worker",
    )?;
    // Slow tasks queue up behind the busy worker: the others start and share them.
    let pids: HashSet<u32> = p
        .map(sleep_then_pid, vec![100u64; 6], Some(1))
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    check(
        p.worker_pids().len() == 3,
        format!("workers {:?}", p.worker_pids()),
    )?;
    check(pids.len() == 3, format!("tasks ran in {pids:?}"))?;
    check(pids.contains(&one[0]), "the first worker took part")?;
    p.close();
    p.join().map_err(|e| e.to_string())?;
    Ok(())
}

/// Tiny tasks set a deep prefetch (hundreds of chunks per worker); the
/// worker that dies at item 7000 takes only that task with it: the chunks
/// queued behind it in its socket run elsewhere, once each.
fn deep_queue_death() -> TestResult {
    let p = pool(2);
    let n = 20_000u64;
    let kill = 7000;
    let die_at = |x: u64| if x == kill { 7 } else { x + 100 };
    let items: Vec<_> = p
        .imap(die_on_seven, (0..n).map(die_at), 1)
        .collect::<Vec<_>>();
    check(
        items.len() == n as usize,
        format!("{} results", items.len()),
    )?;
    for (i, r) in items.iter().enumerate() {
        match r {
            Ok(v) => check(*v == die_at(i as u64), format!("item {i}: {v}"))?,
            Err(Error::Task(TaskError::WorkerLost { .. })) => {
                check(i as u64 == kill, format!("item {i} lost"))?
            }
            Err(e) => return Err(format!("item {i}: {e}").into()),
        }
    }
    check(items[kill as usize].is_err(), "the killing task failed")?;
    // Unordered too: every value once.
    let mut seen: Vec<u64> = p
        .imap_unordered(identity, 0..n, 1)
        .collect::<Result<_, _>>()?;
    seen.sort_unstable();
    check(seen == (0..n).collect::<Vec<_>>(), "each item exactly once")
}

/// After many microsecond tasks, a burst of slow ones is not all handed to
/// one worker ahead of time: both workers run some.
fn slow_after_fast() -> TestResult {
    let p = pool(2);
    for r in p.imap(identity, 0..20_000u64, 1) {
        r?;
    }
    let pids: HashSet<u32> = p
        .map(sleep_then_pid, vec![150u64; 6], Some(1))?
        .into_iter()
        .collect();
    check(pids.len() == 2, format!("slow tasks ran in {pids:?}"))
}

/// Prefetched chunks behind a long one are handed back: the long task ends
/// last even though a short one was queued behind it.
fn handed_back() -> TestResult {
    let p = pool(2);
    let order: Vec<u64> = p
        .imap_unordered(sleep_ms, vec![1000u64, 10, 10, 10, 10], 1)
        .collect::<Result<_, _>>()?;
    check(
        order.last() == Some(&1000),
        format!("completion order {order:?}"),
    )
}

/// A number that refuses to be encoded when it is 5.
#[derive(serde::Deserialize)]
struct NotFive(u64);

impl serde::Serialize for NotFive {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 5 {
            return Err(serde::ser::Error::custom("five cannot be sent"));
        }
        s.serialize_newtype_struct("NotFive", &self.0)
    }
}

fn unwrap_not_five(x: NotFive) -> u64 {
    x.0
}

/// An argument that cannot be encoded ends imap with that error, after the
/// results of every item read before it (batched submission loses none).
fn imap_encode_error() -> TestResult {
    let p = pool(2);
    let got: Vec<_> = p.imap(unwrap_not_five, (0..10).map(NotFive), 1).collect();
    let oks: Vec<u64> = got
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    check(oks == vec![0, 1, 2, 3, 4], format!("results {oks:?}"))?;
    check(
        got.len() == 6
            && got[5]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("five")),
        format!("{got:?}"),
    )
}

fn touch(path: String) -> String {
    std::fs::write(&path, b"x").unwrap();
    path
}

/// An input that blocks (a channel, lines from a pipe: size hint 0) is not
/// batched: each record reaches a worker before the next is read.
fn imap_blocking_input() -> TestResult {
    let dir = tempfile::tempdir()?;
    let p = pool(2);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let paths: Vec<String> = (0..5)
        .map(|i| dir.path().join(format!("m{i}")).display().to_string())
        .collect();
    let feed = paths.clone();
    let producer = std::thread::spawn(move || -> Result<(), String> {
        for path in feed {
            tx.send(path.clone()).map_err(|e| e.to_string())?;
            // The next record only once this one has run.
            let t = Instant::now();
            while std::fs::metadata(&path).is_err() {
                if t.elapsed() > Duration::from_secs(20) {
                    return Err(format!("{path} never ran: held back for a batch"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    });
    let out: Vec<String> = p.imap(touch, rx.iter(), 1).collect::<Result<_, _>>()?;
    producer.join().map_err(|_| "producer panicked")??;
    check(out == paths, format!("{out:?}"))
}

fn sleep_then_pid(ms: u64) -> u32 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    std::process::id()
}

/// `imap_streaming` reads the input on a feeder thread: a result comes out
/// while the input has nothing more to give, in order, and the end of the
/// input ends the iterator.
fn imap_streaming_idle_input() -> TestResult {
    let p = pool(2);
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let mut it = p.imap_streaming(pow3, rx, 1);
    for i in 1..=3u64 {
        tx.send(i)?;
        // The input stays open and idle: the result must still come.
        let got = it.next_timeout(Some(Duration::from_secs(20)))?;
        check(got == Some(i * i * i), format!("result {i}: {got:?}"))?;
    }
    match it.next_timeout(Some(Duration::from_millis(50))) {
        Err(Error::Timeout(_)) => {}
        other => return Err(format!("idle input: expected Timeout, got {other:?}").into()),
    }
    drop(tx);
    check(
        it.next_timeout(Some(Duration::from_secs(20)))?.is_none(),
        "then the end",
    )?;
    let mut un = p.imap_unordered_streaming(pow3, 1..=50u64, 7);
    let mut all: Vec<u64> = un.by_ref().collect::<Result<_, _>>()?;
    all.sort_unstable();
    check(
        all == (1..=50u64).map(|i| i * i * i).collect::<Vec<_>>(),
        "unordered: every result once",
    )
}

/// A panic inside the input iterator (on the feeder thread) does not leave
/// the consumer waiting for ever: what was submitted yields, then an error.
fn imap_streaming_input_panics() -> TestResult {
    let p = pool(1);
    let input = (0..10u64).inspect(|&i| {
        if i == 5 {
            panic!("input broke at 5 (expected by this test)");
        }
    });
    let mut it = p.imap_streaming(pow3, input, 1);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let end = loop {
        check(Instant::now() < deadline, "the iterator never ended")?;
        match it.next_timeout(Some(Duration::from_secs(30))) {
            Ok(Some(v)) => got.push(v),
            Ok(None) => break "end",
            Err(Error::Task(mp::pool::TaskError::InputPanicked)) => break "error",
            Err(e) => return Err(format!("unexpected {e:?}").into()),
        }
    };
    check(end == "error", "the panic is reported")?;
    // Items read before the panic but not yet submitted may be lost; none
    // is wrong, and those submitted are in order.
    check(
        got.iter().enumerate().all(|(i, &v)| v == (i as u64).pow(3)) && got.len() <= 5,
        format!("results before the panic: {got:?}"),
    )
}

/// `stop_input` ends feeding; `cancel_pending` then withdraws what waits, and
/// the iterator ends after the results already on their way.
fn imap_streaming_stop_input() -> TestResult {
    let p = pool(1);
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let mut it = p.imap_streaming(sleep_ms, rx, 1);
    tx.send(300)?;
    for _ in 0..5 {
        tx.send(1)?;
    }
    // The first result: the input has been read past it.
    check(
        it.next_timeout(Some(Duration::from_secs(20)))? == Some(300),
        "first",
    )?;
    it.stop_input();
    p.cancel_pending();
    // Anything sent now is never read.
    let _ = tx.send(2);
    let mut rest = 0;
    loop {
        match it.next_timeout(Some(Duration::from_secs(20))) {
            Ok(Some(_)) => rest += 1,
            Ok(None) => break,
            Err(Error::Task(TaskError::Cancelled)) => {}
            Err(e) => return Err(format!("unexpected {e:?}").into()),
        }
        check(rest <= 5, "more results than records sent")?;
    }
    Ok(())
}
