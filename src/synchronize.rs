//! Synchronization between processes (CPython's `multiprocessing.synchronize`):
//! [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`], [`Condition`],
//! [`Event`], [`Barrier`].
//!
//! Each lives in a small shared-memory region (see
//! [`crate::shared_memory`]) and is built on futexes: an uncontended acquire
//! and release are two atomic instructions, with no system call. Hand one to
//! a child as (part of) its [`crate::Process`] argument, under any start
//! method; clones within a process share the same primitive.
//!
//! ```no_run
//! fn f((lock, i): (mp::synchronize::Lock, u32)) {
//!     let _held = lock.lock().unwrap();
//!     println!("hello world {i}");
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let lock = mp::synchronize::Lock::new().unwrap();
//!     let ps: Vec<_> = (0..10).map(|i| mp::Process::new(f, (lock.clone(), i))).collect();
//!     for p in &ps {
//!         p.start().unwrap();
//!     }
//!     for p in &ps {
//!         p.join(None).unwrap();
//!     }
//! }
//! ```
//!
//! # Caveats
//! - **A holder that dies does not freeze the others** (CPython's do). A
//!   [`Lock`] or [`RLock`] records the pid of the process holding it. A
//!   waiter checks every 100 ms whether that process still exists; if not,
//!   it takes the lock and gets [`Error::OwnerDied`]: the lock is then held
//!   by the caller, who should check the data it protects (it may be half
//!   updated) and release it. A pid that the system has already reused for
//!   a new process in those 100 ms hides the death (pids are reused only
//!   after the whole pid range has been cycled through).
//! - Ownership is per process for `Lock` (like CPython's, any thread or
//!   process may release it) and per thread for `RLock`. A thread that dies
//!   holding a lock while its process lives on is not noticed.
//! - `Semaphore`, `Event`, `Condition` and `Barrier` have no owner; a
//!   process killed in the middle of `Condition::wait` holds no lock.
//! - Waits with a timeout use the monotonic clock.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::{self, left};
use crate::error::{Error, Misuse, Result};
use crate::shared_memory::Region;

// ---- futex and identity helpers ----

/// Waits while `word` holds `expected`, at most `timeout`. Returns false if
/// the time ran out (spurious and value-changed returns give true).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 (in shared memory, hence the
    // non-private futex op); `tsp` is null or points to a live timespec.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tsp,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    !(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT))
}

/// Wakes up to `n` waiters on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    // SAFETY: as in `futex_wait`; waking needs no memory but the word's address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n.min(i32::MAX as u32),
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Moves up to `n` waiters from `from` to `to` without waking them, if
/// `from` still holds `expected`; false if it did not (or the call failed).
fn futex_requeue(from: &AtomicU32, expected: u32, n: u32, to: &AtomicU32) -> bool {
    // SAFETY: both words are live, aligned u32s in shared memory; the
    // requeue count travels in the timeout argument's place, as the
    // futex(2) interface defines for FUTEX_CMP_REQUEUE.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            from.as_ptr(),
            libc::FUTEX_CMP_REQUEUE,
            0u32,
            n.min(i32::MAX as u32) as libc::c_long,
            to.as_ptr(),
            expected,
        )
    };
    r >= 0
}

/// Sleeps on `word` while it holds `expected` (at most `timeout`), counted
/// in `sleepers` so that [`wake_sleepers`] costs no system call when nobody
/// sleeps. False if the time ran out.
pub(crate) fn sleep_on(
    word: &AtomicU32,
    sleepers: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> bool {
    sleepers.fetch_add(1, Ordering::SeqCst);
    let in_time = futex_wait(word, expected, timeout);
    sleepers.fetch_sub(1, Ordering::SeqCst);
    in_time
}

/// Wakes up to `n` of those asleep on `word` in [`sleep_on`], if any. Call
/// it after changing `word`: a sleeper that counted itself after that sees
/// the change and does not sleep.
pub(crate) fn wake_sleepers(word: &AtomicU32, sleepers: &AtomicU32, n: u32) {
    if sleepers.load(Ordering::SeqCst) > 0 {
        futex_wake(word, n);
    }
}

static PID: AtomicU32 = AtomicU32::new(0);
/// Forks seen in this process's ancestry line (invalidates cached tids).
static FORKS: AtomicU32 = AtomicU32::new(0);

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// This process's pid, without a system call after the first (a fork
/// handler forgets it in the child).
pub(crate) fn my_pid() -> u32 {
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain function that only stores to an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
    });
    let p = std::process::id();
    PID.store(p, Ordering::Relaxed);
    p
}

thread_local! {
    /// (FORKS when cached, tid).
    static TID: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// This thread's kernel id, cached (a fork invalidates the cache).
fn my_tid() -> u32 {
    my_pid(); // registers the fork handler
    TID.with(|t| {
        let forks = FORKS.load(Ordering::Relaxed);
        let (when, tid) = t.get();
        if tid != 0 && when == forks {
            return tid;
        }
        let id = gettid();
        t.set((forks, id));
        id
    })
}

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Whether process `pid` has exited (and been reaped, or is a zombie whose
/// parent will never care: a zombie is treated as dead).
pub(crate) fn process_gone(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
        Err(nix::errno::Errno::ESRCH) => true,
        _ => {
            // A zombie still answers kill(0): look at its state.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
                .unwrap_or(false)
        }
    }
}

/// How often a blocked lock waiter checks that the holder is alive.
pub(crate) const OWNER_CHECK: Duration = Duration::from_millis(100);

const WAITERS: u32 = 1 << 31;

/// Acquires the owned word `w` (0 when free, else the owner's id with
/// [`WAITERS`]) for `me`; `gone(owner)` tells whether an owner died, in
/// which case the word is taken over and [`Error::OwnerDied`] returned.
pub(crate) fn acquire_owned(
    w: &AtomicU32,
    me: u32,
    block: bool,
    timeout: Option<Duration>,
    gone: impl Fn(u32) -> bool,
) -> Result<bool> {
    acquire_owned_as(w, me, me, block, timeout, gone, None)
}

/// [`acquire_owned`] that takes a free word at once as `first`: `me`, or
/// `me | WAITERS` for a condition waiter that may have others queued behind
/// it on the word's futex (see [`Condition::wait`]), so that its release
/// wakes the next. With `queued` (a [`Lock`]'s), counts itself there while
/// it sleeps on the word.
fn acquire_owned_as(
    w: &AtomicU32,
    me: u32,
    first: u32,
    block: bool,
    timeout: Option<Duration>,
    gone: impl Fn(u32) -> bool,
    queued: Option<&AtomicU32>,
) -> Result<bool> {
    if w.compare_exchange(0, first, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return Ok(true);
    }
    if !block {
        return Ok(false);
    }
    let deadline = deadline::after(timeout);
    loop {
        let cur = w.load(Ordering::Relaxed);
        if cur == 0 {
            // Others may be asleep: keep the flag so our release wakes one.
            if w.compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(true);
            }
            continue;
        }
        if cur & WAITERS == 0
            && w.compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            continue;
        }
        let slice = match left(deadline) {
            Some(d) if d.is_zero() => return Ok(false),
            Some(d) => d.min(OWNER_CHECK),
            None => OWNER_CHECK,
        };
        if let Some(q) = queued {
            q.fetch_add(1, Ordering::SeqCst);
        }
        let in_time = futex_wait(w, cur | WAITERS, Some(slice));
        if let Some(q) = queued {
            q.fetch_sub(1, Ordering::SeqCst);
        }
        if !in_time {
            let owner = cur & !WAITERS;
            let took_over = w.load(Ordering::Relaxed) == cur | WAITERS
                && gone(owner)
                && w.compare_exchange(
                    cur | WAITERS,
                    me | WAITERS,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok();
            if took_over {
                return Err(Error::OwnerDied { pid: owner as i32 });
            }
        }
    }
}

/// Frees an owned word; false if it was not held.
pub(crate) fn release_owned(w: &AtomicU32) -> bool {
    let prev = w.swap(0, Ordering::Release);
    if prev & WAITERS != 0 {
        futex_wake(w, 1);
    }
    prev != 0
}

/// The futex mutex with a recorded owner under `Lock` and `RLock`.
/// Word 0: 0 when free, else the owner's id, with [`WAITERS`] set when
/// someone may sleep on it.
#[derive(Clone, Serialize, Deserialize)]
struct OwnedWord {
    region: Region,
    offset: usize,
}

impl OwnedWord {
    fn word(&self) -> &AtomicU32 {
        self.region.word(self.offset)
    }

    fn acquire(
        &self,
        me: u32,
        block: bool,
        timeout: Option<Duration>,
        gone: impl Fn(u32) -> bool,
    ) -> Result<bool> {
        acquire_owned(self.word(), me, block, timeout, gone)
    }

    fn release(&self) -> bool {
        release_owned(self.word())
    }

    fn owner(&self) -> u32 {
        self.word().load(Ordering::Relaxed) & !WAITERS
    }
}

// ---- Lock ----

/// Python's `multiprocessing.Lock`: a non-recursive lock that any thread or
/// process may release. See the [module caveats](self) for a holder's death.
#[derive(Clone, Serialize, Deserialize)]
pub struct Lock {
    /// Word 0: the [`OwnedWord`]; word 1: see [`Lock::queued`].
    inner: OwnedWord,
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> Result<Lock> {
        Ok(Lock {
            inner: OwnedWord {
                region: Region::new(8)?,
                offset: 0,
            },
        })
    }

    /// Word 1: how many may sleep on word 0's futex (contenders, and
    /// condition waiters that a notify may move there), so that a condition
    /// waiter woken there knows whether it must flag the lock for others.
    fn queued(&self) -> &AtomicU32 {
        self.inner.region.word(4)
    }

    /// Python's `acquire(block=True, timeout=None)`: true if acquired. Gives
    /// [`Error::OwnerDied`] (with the lock acquired) if its holder died.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        let me = my_pid();
        let queued = Some(self.queued());
        acquire_owned_as(
            self.inner.word(),
            me,
            me,
            block,
            timeout,
            process_gone,
            queued,
        )
    }

    /// Python's `release()`: [`Error::OverReleased`] if it was not locked.
    pub fn release(&self) -> Result<()> {
        if self.inner.release() {
            Ok(())
        } else {
            Err(Error::OverReleased("lock"))
        }
    }

    /// Acquires (waiting as long as it takes) and returns a guard that
    /// releases on drop: Python's `with lock:`. A dead holder's lock is
    /// taken over and reported as [`Error::OwnerDied`] (the lock is then
    /// held, without a guard: release it yourself).
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        self.acquire(true, None)?;
        Ok(LockGuard { lock: self })
    }

    /// Acquires (waiting as long as it takes) even from a dead holder: the
    /// guard, and the dead holder's pid if the lock was taken over.
    pub fn lock_recover(&self) -> (LockGuard<'_>, Option<i32>) {
        let dead = match self.acquire(true, None) {
            Err(Error::OwnerDied { pid }) => Some(pid),
            _ => None,
        };
        (LockGuard { lock: self }, dead)
    }

    /// The pid of the process holding it (None when free).
    pub fn owner_pid(&self) -> Option<i32> {
        Some(self.inner.owner() as i32).filter(|&p| p != 0)
    }
}

/// Releases its [`Lock`] when dropped.
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

// ---- RLock ----

/// Python's `multiprocessing.RLock`: a lock its holding thread may acquire
/// again; it is free once released as many times. Only the holder may release.
#[derive(Clone, Serialize, Deserialize)]
pub struct RLock {
    /// Word 0: owner tid (+WAITERS); word 1: owner pid; word 2: depth.
    inner: OwnedWord,
}

impl RLock {
    /// A new, unlocked recursive lock.
    pub fn new() -> Result<RLock> {
        Ok(RLock {
            inner: OwnedWord {
                region: Region::new(12)?,
                offset: 0,
            },
        })
    }

    fn pid_word(&self) -> &AtomicU32 {
        self.inner.region.word(4)
    }

    fn depth(&self) -> &AtomicU32 {
        self.inner.region.word(8)
    }

    fn mine(&self) -> bool {
        self.inner.owner() == my_tid() && self.pid_word().load(Ordering::Relaxed) == my_pid()
    }

    /// Python's `acquire(block=True, timeout=None)`.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        if self.mine() {
            self.depth().fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        let pid_word = self.pid_word();
        let r = self.inner.acquire(my_tid(), block, timeout, |_| {
            process_gone(pid_word.load(Ordering::Relaxed))
        });
        if matches!(r, Ok(true) | Err(Error::OwnerDied { .. })) {
            let dead = pid_word.swap(my_pid(), Ordering::Relaxed);
            self.depth().store(1, Ordering::Relaxed);
            if r.is_err() {
                return Err(Error::OwnerDied { pid: dead as i32 });
            }
        }
        r
    }

    /// Python's `release()`: an error unless this thread holds it.
    pub fn release(&self) -> Result<()> {
        if !self.mine() {
            return Err(Error::Misuse(Misuse::NotOwner));
        }
        if self.depth().fetch_sub(1, Ordering::Relaxed) == 1 {
            self.pid_word().store(0, Ordering::Relaxed);
            self.inner.release();
        }
        Ok(())
    }

    /// Acquires and returns a guard that releases on drop.
    pub fn lock(&self) -> Result<RLockGuard<'_>> {
        self.acquire(true, None)?;
        Ok(RLockGuard { lock: self })
    }
}

/// Releases its [`RLock`] (once) when dropped.
pub struct RLockGuard<'a> {
    lock: &'a RLock,
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

// ---- Semaphore ----

/// Python's `multiprocessing.Semaphore` (and, with a bound,
/// `BoundedSemaphore`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Semaphore {
    /// Word 0: the value; word 1: sleepers.
    region: Region,
    bound: Option<u32>,
}

/// Python's `BoundedSemaphore`: releasing past the initial value is an error.
pub type BoundedSemaphore = Semaphore;

impl Semaphore {
    /// A semaphore with `value` (Python's `Semaphore(value)`).
    pub fn new(value: u32) -> Result<Semaphore> {
        let region = Region::new(8)?;
        region.word(0).store(value, Ordering::Relaxed);
        Ok(Semaphore {
            region,
            bound: None,
        })
    }

    /// Python's `BoundedSemaphore(value)`.
    pub fn bounded(value: u32) -> Result<BoundedSemaphore> {
        let mut s = Semaphore::new(value)?;
        s.bound = Some(value);
        Ok(s)
    }

    fn value_word(&self) -> &AtomicU32 {
        self.region.word(0)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.region.word(4)
    }

    /// Python's `acquire(block=True, timeout=None)`: true if acquired.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        let v = self.value_word();
        let deadline = deadline::after(timeout);
        loop {
            let cur = v.load(Ordering::SeqCst);
            if cur > 0 {
                if v.compare_exchange(cur, cur - 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(true);
                }
                continue;
            }
            let t = left(deadline);
            if !block || t.is_some_and(|t| t.is_zero()) {
                return Ok(false);
            }
            sleep_on(v, self.sleepers(), 0, t);
        }
    }

    /// Python's `release()`; a bounded semaphore refuses to go past its bound.
    pub fn release(&self) -> Result<()> {
        let v = self.value_word();
        match self.bound {
            None => {
                v.fetch_add(1, Ordering::SeqCst);
            }
            Some(max) => {
                let r = v.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                    (c < max).then_some(c + 1)
                });
                if r.is_err() {
                    return Err(Error::OverReleased("bounded semaphore"));
                }
            }
        }
        wake_sleepers(v, self.sleepers(), 1);
        Ok(())
    }

    /// The current value (Python's `get_value()`).
    pub fn get_value(&self) -> u32 {
        self.value_word().load(Ordering::SeqCst)
    }
}

// ---- Event ----

/// Python's `multiprocessing.Event`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    /// Word 0: the flag; word 1: sleepers.
    region: Region,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Result<Event> {
        Ok(Event {
            region: Region::new(8)?,
        })
    }

    fn flag(&self) -> &AtomicU32 {
        self.region.word(0)
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.flag().load(Ordering::SeqCst) != 0
    }

    /// Sets it and wakes every waiter.
    pub fn set(&self) {
        self.flag().store(1, Ordering::SeqCst);
        wake_sleepers(self.flag(), self.region.word(4), u32::MAX);
    }

    /// Clears it.
    pub fn clear(&self) {
        self.flag().store(0, Ordering::SeqCst);
    }

    /// Waits until it is set, at most `timeout`; returns whether it is set.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = deadline::after(timeout);
        loop {
            if self.is_set() {
                return true;
            }
            let t = left(deadline);
            if t.is_some_and(|t| t.is_zero()) {
                return false;
            }
            sleep_on(self.flag(), self.region.word(4), 0, t);
        }
    }
}

// ---- Condition ----

/// Python's `multiprocessing.Condition`, over a [`Lock`] (pass your own to
/// share it with other code).
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition {
    lock: Lock,
    /// Word 0: a sequence bumped by each notify; word 1: waiters asleep
    /// (in the futex wait of [`wait`](Self::wait), on `seq` or moved onto
    /// the lock's futex).
    region: Region,
}

impl Condition {
    /// A condition with its own lock (`lock: None`) or the given one.
    pub fn new(lock: Option<Lock>) -> Result<Condition> {
        Ok(Condition {
            lock: match lock {
                Some(l) => l,
                None => Lock::new()?,
            },
            region: Region::new(8)?,
        })
    }

    /// The underlying lock.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Acquires the underlying lock.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        self.lock.acquire(block, timeout)
    }

    /// Releases the underlying lock.
    pub fn release(&self) -> Result<()> {
        self.lock.release()
    }

    /// Acquires the lock and returns a guard that releases it.
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        self.lock.lock()
    }

    /// Python's `wait(timeout)`: releases the lock (which the caller holds),
    /// waits for a notify or the timeout, takes the lock again. False if the
    /// time ran out. Like CPython's, it may return early (spuriously): check
    /// your condition in a loop, or use [`wait_for`](Self::wait_for).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let seq = self.region.word(0);
        let asleep = self.region.word(4);
        let queued = self.lock.queued();
        // A notify after this load changes `seq`: the loop below sees it,
        // or the futex wait returns at once.
        let start = seq.load(Ordering::SeqCst);
        self.lock.release()?;
        let deadline = deadline::after(timeout);
        let mut in_time = true;
        while seq.load(Ordering::SeqCst) == start {
            // In slices: a notify may have moved us onto the lock's futex
            // (see `notify`), and if the lock's holder then dies nobody
            // would wake us there; after a slice we go and take the lock,
            // which notices a dead holder.
            let slice = match left(deadline) {
                Some(d) if d.is_zero() => {
                    in_time = false;
                    break;
                }
                Some(d) => d.min(OWNER_CHECK),
                None => OWNER_CHECK,
            };
            // Counted only around the sleep itself, so that a notify while
            // we are awake costs no system call: it bumps `seq` and then
            // reads the count, we count ourselves and then read `seq`
            // (both SeqCst), so one of us sees the other.
            // Counted on the lock too: a notify may move us onto its futex.
            asleep.fetch_add(1, Ordering::SeqCst);
            queued.fetch_add(1, Ordering::SeqCst);
            if seq.load(Ordering::SeqCst) == start {
                futex_wait(seq, start, Some(slice));
            }
            queued.fetch_sub(1, Ordering::SeqCst);
            asleep.fetch_sub(1, Ordering::SeqCst);
        }
        // We may have been woken from the lock's futex (moved there by a
        // notify), with others queued behind us there: waiters moved by the
        // same notify, or contenders that came after it, none of whom flags
        // the word again. All of them count themselves in `queued` while
        // asleep: if any does, keep the flag so that our release wakes the
        // next; if none does, take the lock plainly, so that our release
        // costs no system call.
        let me = my_pid();
        let first = if queued.load(Ordering::SeqCst) > 0 {
            me | WAITERS
        } else {
            me
        };
        let lw = self.lock.inner.word();
        acquire_owned_as(lw, me, first, true, None, process_gone, Some(queued))?;
        Ok(in_time)
    }

    /// Python's `wait_for(predicate, timeout)`: waits until `predicate()`
    /// holds (checked with the lock held); returns its last value.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let deadline = deadline::after(timeout);
        loop {
            if predicate() {
                return Ok(true);
            }
            match left(deadline) {
                Some(t) if t.is_zero() => return Ok(false),
                t => {
                    self.wait(t)?;
                }
            }
        }
    }

    /// Python's `notify(n)`: wakes up to `n` waiters (call with the lock held).
    ///
    /// The waiters are not woken now, only to block on the lock the caller
    /// holds: they are moved onto the lock's futex (FUTEX_CMP_REQUEUE), and
    /// the lock's releases wake them one at a time, each holding the lock.
    pub fn notify(&self, n: u32) {
        let seq = self.region.word(0);
        let now = seq.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
        // Nobody asleep: a waiter still awake sees the change of `seq`
        // (see `wait`), and this notify costs no system call.
        if self.region.word(4).load(Ordering::SeqCst) == 0 {
            return;
        }
        let lw = self.lock.inner.word();
        // Flag the lock (if held, as it should be) so its release wakes.
        let held = loop {
            let cur = lw.load(Ordering::Relaxed);
            if cur & !WAITERS == 0 {
                break false;
            }
            if cur & WAITERS != 0
                || lw
                    .compare_exchange(cur, cur | WAITERS, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                break true;
            }
        };
        if !held || !futex_requeue(seq, now, n, lw) {
            futex_wake(seq, n);
        }
    }

    /// Python's `notify_all()`.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

// ---- Barrier ----

/// Python's `multiprocessing.Barrier`: `parties` processes (or threads) wait
/// until all have arrived.
#[derive(Clone, Serialize, Deserialize)]
pub struct Barrier {
    /// Word 0: arrived; word 1: generation; word 2: broken; word 3: waiting.
    region: Region,
    parties: u32,
    timeout: Option<Duration>,
}

impl Barrier {
    /// Python's `Barrier(parties, timeout=None)` (no `action`: run it in the
    /// party whose `wait` returns 0).
    pub fn new(parties: u32, timeout: Option<Duration>) -> Result<Barrier> {
        if parties == 0 {
            return Err(Error::InvalidArgument(
                "a barrier needs at least 1 party".into(),
            ));
        }
        Ok(Barrier {
            region: Region::new(16)?,
            parties,
            timeout,
        })
    }

    fn w(&self, i: usize) -> &AtomicU32 {
        self.region.word(4 * i)
    }

    /// Python's `wait(timeout)`: returns an index in `0..parties`, a
    /// different one for each party (the last to arrive gets 0). A timeout
    /// breaks the barrier; a broken barrier gives [`Error::BrokenBarrier`].
    pub fn wait(&self, timeout: Option<Duration>) -> Result<u32> {
        let timeout = timeout.or(self.timeout);
        let (arrived, generation, broken, waiting) = (self.w(0), self.w(1), self.w(2), self.w(3));
        if broken.load(Ordering::SeqCst) != 0 {
            return Err(Error::BrokenBarrier);
        }
        let gen = generation.load(Ordering::SeqCst);
        let n = arrived.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.parties {
            arrived.store(0, Ordering::SeqCst);
            generation.fetch_add(1, Ordering::SeqCst);
            futex_wake(generation, u32::MAX);
            return Ok(0);
        }
        let index = self.parties - n;
        let deadline = deadline::after(timeout);
        waiting.fetch_add(1, Ordering::SeqCst);
        let r = loop {
            // abort() bumps the generation too (so no waiter sleeps through
            // it): look at the flag first.
            if broken.load(Ordering::SeqCst) != 0 {
                break Err(Error::BrokenBarrier);
            }
            if generation.load(Ordering::SeqCst) != gen {
                break Ok(index);
            }
            let t = left(deadline);
            if t.is_some_and(|t| t.is_zero()) {
                self.abort();
                break Err(Error::BrokenBarrier);
            }
            futex_wait(generation, gen, t);
        };
        waiting.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Python's `abort()`: breaks the barrier; waiters get [`Error::BrokenBarrier`].
    pub fn abort(&self) {
        self.w(2).store(1, Ordering::SeqCst);
        self.w(1).fetch_add(1, Ordering::SeqCst);
        futex_wake(self.w(1), u32::MAX);
    }

    /// Python's `reset()`: breaks it for those waiting now, then makes it
    /// whole and empty again.
    pub fn reset(&self) {
        self.abort();
        while self.w(3).load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.w(0).store(0, Ordering::SeqCst);
        self.w(2).store(0, Ordering::SeqCst);
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// How many wait now.
    pub fn n_waiting(&self) -> u32 {
        self.w(0).load(Ordering::SeqCst)
    }

    /// Whether it is broken.
    pub fn broken(&self) -> bool {
        self.w(2).load(Ordering::SeqCst) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    const PATIENCE: Duration = Duration::from_secs(30);

    /// Polls `cond` until it holds or [`PATIENCE`] runs out.
    fn poll(what: &str, mut cond: impl FnMut() -> bool) {
        let give_up = Instant::now() + PATIENCE;
        while !cond() {
            assert!(Instant::now() < give_up, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    /// Whether thread `tid` of this process is asleep (state S in /proc).
    fn asleep_in_kernel(tid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('S')))
            .unwrap_or(false)
    }

    /// Starts `k` threads that each take the condition's lock and wait once;
    /// on waking (holding the lock) each sends (waiters still asleep, lock
    /// word) and releases. Returns once all `k` sleep in the kernel.
    fn sleeping_waiters(c: &Condition, k: u32) -> mpsc::Receiver<(u32, u32)> {
        let (tx, rx) = mpsc::channel();
        let (tids_tx, tids_rx) = mpsc::channel();
        for _ in 0..k {
            let (c, tx, tids_tx) = (c.clone(), tx.clone(), tids_tx.clone());
            std::thread::spawn(move || {
                let g = c.lock().unwrap();
                tids_tx.send(gettid()).unwrap();
                assert!(c.wait(Some(PATIENCE)).unwrap(), "never notified");
                let asleep = c.region.word(4).load(Ordering::SeqCst);
                tx.send((asleep, c.lock.inner.word().load(Ordering::SeqCst)))
                    .unwrap();
                drop(g);
            });
        }
        let tids: Vec<u32> = (0..k).map(|_| tids_rx.recv().unwrap()).collect();
        poll("the waiters to sleep", || {
            c.region.word(4).load(Ordering::SeqCst) == k
                && tids.iter().all(|&t| asleep_in_kernel(t))
        });
        rx
    }

    #[test]
    fn a_waiter_notified_alone_takes_the_lock_unflagged() {
        // So that its release (the next wait, the guard's drop) makes no
        // system call: nobody else sleeps on the lock's futex.
        let c = Condition::new(None).unwrap();
        let rx = sleeping_waiters(&c, 1);
        let g = c.lock().unwrap();
        c.notify(1);
        assert_ne!(
            c.lock.inner.word().load(Ordering::SeqCst) & WAITERS,
            0,
            "notify flags the held lock for the waiter it moved onto it"
        );
        drop(g);
        let (asleep, word) = rx.recv_timeout(PATIENCE).unwrap();
        assert_eq!(asleep, 0);
        assert_eq!(word & WAITERS, 0, "lock word {word:#x}");
    }

    #[test]
    fn a_lock_contender_queued_behind_a_notified_waiter_is_woken() {
        // The waiter, moved onto the lock's futex by notify, is woken first
        // by the release; the contender that queued behind it sleeps on
        // without flagging the word again: the waiter must keep the flag,
        // or its release would leave the contender asleep for a whole slice.
        let c = Condition::new(None).unwrap();
        let rx = sleeping_waiters(&c, 1);
        let g = c.lock().unwrap();
        c.notify(1);
        let (tid_tx, tid_rx) = mpsc::channel();
        let contender = {
            let c = c.clone();
            std::thread::spawn(move || {
                tid_tx.send(gettid()).unwrap();
                drop(c.lock().unwrap());
            })
        };
        let tid = tid_rx.recv().unwrap();
        poll("the contender to sleep", || asleep_in_kernel(tid));
        drop(g);
        let (_, word) = rx.recv_timeout(PATIENCE).unwrap();
        assert_ne!(word & WAITERS, 0, "lock word {word:#x}");
        contender.join().unwrap();
    }

    #[test]
    fn waiters_moved_onto_the_lock_keep_it_flagged_for_the_next() {
        // notify_all moves every sleeper onto the lock's futex; each release
        // wakes one, which must flag the lock again while others sleep
        // there, or they would lie there until their time slice ends.
        let c = Condition::new(None).unwrap();
        let k = 3;
        let rx = sleeping_waiters(&c, k);
        let g = c.lock().unwrap();
        c.notify_all();
        drop(g);
        let mut flagged = 0;
        for _ in 0..k {
            let (asleep, word) = rx.recv_timeout(PATIENCE).unwrap();
            if asleep > 0 {
                assert_ne!(word & WAITERS, 0, "{asleep} asleep, lock word {word:#x}");
                flagged += 1;
            }
        }
        // The first k-1 to wake saw others still asleep (only the last
        // takes it plainly).
        assert_eq!(flagged, k - 1);
    }

    #[test]
    fn a_notify_while_the_waiter_is_awake_is_not_lost() {
        // Ping-pong between two threads: a notify often comes while the
        // other is between releasing the lock and sleeping (not counted
        // asleep, so no system call); it must see the change and return.
        let c = Condition::new(None).unwrap();
        let turn = Region::new(4).unwrap();
        let n = 2000;
        let t = Instant::now();
        let pong = {
            let (c, turn) = (c.clone(), turn.clone());
            std::thread::spawn(move || {
                let _g = c.lock().unwrap();
                for i in 0..n {
                    while turn.word(0).load(Ordering::SeqCst) != 2 * i + 1 {
                        assert!(c.wait(Some(PATIENCE)).unwrap(), "ping lost");
                    }
                    turn.word(0).store(2 * i + 2, Ordering::SeqCst);
                    c.notify(1);
                }
            })
        };
        {
            let _g = c.lock().unwrap();
            for i in 0..n {
                turn.word(0).store(2 * i + 1, Ordering::SeqCst);
                c.notify(1);
                while turn.word(0).load(Ordering::SeqCst) != 2 * i + 2 {
                    assert!(c.wait(Some(PATIENCE)).unwrap(), "pong lost");
                }
            }
        }
        pong.join().unwrap();
        // A lost notify costs a whole slice (100 ms) before the waiter
        // looks again; 2000 round trips take a few tens of ms without (the
        // bound is loose for a loaded machine: 200 lost notifies).
        assert!(t.elapsed() < 200 * OWNER_CHECK, "took {:?}", t.elapsed());
    }
}
