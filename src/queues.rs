//! Queues between processes (CPython's `multiprocessing.queues`): [`Queue`],
//! [`SimpleQueue`], [`JoinableQueue`].
//!
//! Items are any serde type (postcard-encoded). A queue is a byte ring in
//! shared memory (see [`crate::shared_memory`]) with a producers' lock and a
//! consumers' lock, both of the dead-holder-detecting kind that
//! [`crate::synchronize::Lock`] uses, and futex sleeps for "not empty" and
//! "not full". Hand a queue to a child as (part of) its
//! [`crate::Process`] argument, under any start method; clones within a
//! process share the same queue.
//!
//! ```no_run
//! use mp::queues::Queue;
//!
//! fn worker((tasks, done): (Queue<Option<u64>>, Queue<(u64, u64)>)) {
//!     while let Some(n) = tasks.get().unwrap() {
//!         done.put(&(n, n * n)).unwrap();
//!     }
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let tasks = Queue::new(0).unwrap();
//!     let done = Queue::new(0).unwrap();
//!     let ps: Vec<_> = (0..4)
//!         .map(|_| mp::Process::new(worker, (tasks.clone(), done.clone())))
//!         .collect();
//!     for p in &ps {
//!         p.start().unwrap();
//!     }
//!     for n in 0..20 {
//!         tasks.put(&Some(n)).unwrap();
//!     }
//!     for _ in &ps {
//!         tasks.put(&None).unwrap(); // one stop sign per worker
//!     }
//!     for _ in 0..20 {
//!         let (n, square) = done.get().unwrap();
//!         println!("{n}² = {square}");
//!     }
//!     for p in &ps {
//!         p.join(None).unwrap();
//!     }
//! }
//! ```
//!
//! # Differences from CPython, and caveats
//! - **No feeder thread.** CPython's `put` hands the item to a background
//!   thread that writes it to a pipe; an item can be lost if the process
//!   exits before that thread is done, and a process that put items cannot
//!   be joined until they are read. Here `put` writes the item into shared
//!   memory before it returns: a process may exit right after `put` and the
//!   item stays in the queue (for as long as any process holds the queue).
//!   There is no `join_thread` / `cancel_join_thread`: there is no thread.
//! - The flip side: the shared buffer (1 MiB unless
//!   [`Queue::with_buffer`] says otherwise) is finite. When it is full,
//!   `put` waits for a consumer, like a write to a full pipe, within its
//!   `block` / `timeout`; `put_nowait` gives [`Error::Full`]. An item larger
//!   than the buffer is streamed through it in pieces while a consumer reads
//!   it (a `put` with a timeout that runs out in the middle withdraws the
//!   item: consumers drop the pieces they have). A `get` that has begun
//!   taking such an item waits for its last piece even past its timeout,
//!   for as long as the writer lives.
//! - **A consumer killed in the middle of `get` loses nothing another
//!   consumer can take**: a piece leaves the buffer only after it has been
//!   copied out, so an item (or piece) being copied when the consumer died
//!   is still there for the next one. A large item whose first pieces the
//!   dead consumer had already taken is lost; the next consumer skips its
//!   remaining pieces. A producer killed while writing an item: the item
//!   never appears (consumers drop its pieces). Either lock is taken over
//!   from a dead holder after at most 100 ms, as with
//!   [`crate::synchronize::Lock`].
//! - `qsize` counts the items whose first piece is in the buffer; it is
//!   exact when nobody is putting or getting at that moment.
//! - `close` concerns this handle only (and its clones in this process):
//!   later `put` and `get` through it give [`Error::QueueClosed`].
//! - A `JoinableQueue` whose consumer dies between `get` and `task_done`
//!   never reaches zero unfinished tasks (CPython's neither): `join` waits.
//! - An item that does not decode as the queue's `T` (a producer built with
//!   another type) is taken off the queue and reported as
//!   [`Error::Decode`]; the next `get` goes on with the next item.
//! - Items cannot carry file descriptors (a [`crate::Connection`], a
//!   [`crate::reduction::Fd`], a `Lock`): those travel as [`crate::Process`]
//!   arguments only.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::connection::Codec;
use crate::deadline::{self, left};
use crate::error::{Error, Result};
use crate::shared_memory::Region;
use crate::synchronize::{
    acquire_owned, my_pid, process_gone, release_owned, sleep_on, wake_sleepers, OWNER_CHECK,
};

/// The buffer size of [`Queue::new`] and [`SimpleQueue::new`].
pub const DEFAULT_BUFFER: usize = 1 << 20;

// Header layout (bytes). Producer-side and consumer-side words sit on
// separate cache lines.
const PROD_LOCK: usize = 0;
const CONS_LOCK: usize = 64;
/// (head position, items published) as one u64: a piece is published by
/// one store.
const PROD: usize = 128;
const DATA_SEQ: usize = 136;
const DATA_SLEEPERS: usize = 140;
/// The number of the last item a producer withdrew half-written.
const WITHDRAWN: usize = 144;
/// (tail position, items taken) as one u64.
const CONS: usize = 192;
const SPACE_SEQ: usize = 200;
const SPACE_SLEEPERS: usize = 204;
const UNFINISHED: usize = 240;
const JOIN_SLEEPERS: usize = 244;
const HEADER: usize = 256;

/// A piece's header: length (u32), then writer pid << 2 | flags (u32).
const PIECE_HEADER: usize = 8;
const FIRST: u32 = 1;
const LAST: u32 = 2;

fn pack(pos: u32, count: u32) -> u64 {
    u64::from(pos) | (u64::from(count) << 32)
}

fn unpack(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

fn round8(n: usize) -> usize {
    (n + 7) & !7
}

/// The shared ring every queue kind is built on.
#[derive(Clone, Serialize)]
struct Ring {
    region: Region,
    capacity: u32,
    /// 0: unbounded.
    maxsize: u32,
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (region, capacity, maxsize): (Region, u32, u32) = Deserialize::deserialize(d)?;
        if !capacity.is_power_of_two() || region.len() != HEADER + capacity as usize {
            return Err(serde::de::Error::custom(
                "queue: buffer size does not match",
            ));
        }
        Ok(Ring {
            region,
            capacity,
            maxsize,
        })
    }
}

/// Holds one of the ring's locks; releases on drop.
struct Held<'a>(&'a AtomicU32);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        release_owned(self.0);
    }
}

impl Ring {
    fn new(maxsize: usize, buffer: usize) -> Result<Ring> {
        let capacity = buffer.clamp(4096, 1 << 30).next_power_of_two();
        let maxsize = u32::try_from(maxsize)
            .ok()
            .filter(|&m| m < i32::MAX as u32)
            .ok_or_else(|| {
                Error::io(
                    "Queue::new",
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("maxsize {maxsize} is too large (at most {})", i32::MAX - 1),
                    ),
                )
            })?;
        Ok(Ring {
            region: Region::new(HEADER + capacity)?,
            capacity: capacity as u32,
            maxsize,
        })
    }

    fn w(&self, offset: usize) -> &AtomicU32 {
        self.region.word(offset)
    }

    fn prod(&self) -> &AtomicU64 {
        self.region.word64(PROD)
    }

    fn cons(&self) -> &AtomicU64 {
        self.region.word64(CONS)
    }

    /// The largest payload of one piece: a quarter of the buffer, so that a
    /// large item streams while producer and consumer overlap.
    fn max_piece(&self) -> usize {
        self.capacity as usize / 4 - PIECE_HEADER
    }

    fn lock(
        &self,
        offset: usize,
        block: bool,
        deadline: Option<Instant>,
    ) -> Result<Option<Held<'_>>> {
        let w = self.w(offset);
        match acquire_owned(w, my_pid(), block, left(deadline), process_gone) {
            // The ring's state is whole after any store, so a dead
            // holder's lock is simply taken over.
            Ok(true) | Err(Error::OwnerDied { .. }) => Ok(Some(Held(w))),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Copies `src` into the ring at position `pos` (wrapping).
    fn write_at(&self, pos: u32, src: &[u8]) {
        let cap = self.capacity as usize;
        let at = pos as usize & (cap - 1);
        let first = src.len().min(cap - at);
        let base = self.region.as_ptr();
        // SAFETY: both pieces lie inside the ring (after the header); the
        // bytes past `head` belong to the producer holding the producers'
        // lock until it publishes them.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), base.add(HEADER + at), first);
            std::ptr::copy_nonoverlapping(
                src.as_ptr().add(first),
                base.add(HEADER),
                src.len() - first,
            );
        }
    }

    /// Appends `n` bytes of the ring at position `pos` (wrapping) to `out`.
    fn read_at(&self, pos: u32, n: usize, out: &mut Vec<u8>) {
        let cap = self.capacity as usize;
        let at = pos as usize & (cap - 1);
        let first = n.min(cap - at);
        let base = self.region.as_ptr();
        out.reserve(n);
        // SAFETY: both pieces lie inside the ring; the bytes between tail
        // and head were published (Acquire on PROD) and are not written
        // again until the consumer holding the consumers' lock moves the
        // tail past them.
        unsafe {
            let (a, b) = (
                std::slice::from_raw_parts(base.add(HEADER + at), first),
                std::slice::from_raw_parts(base.add(HEADER), n - first),
            );
            out.extend_from_slice(a);
            out.extend_from_slice(b);
        }
    }

    /// The u32 at `pos`, a piece header's half (pieces start 8-aligned,
    /// so a header never wraps).
    fn read_u32(&self, pos: u32) -> u32 {
        let at = pos as usize & (self.capacity as usize - 1);
        debug_assert!(at % 4 == 0);
        // SAFETY: 4-aligned and inside the ring; published bytes (see read_at).
        u32::from_le(unsafe { std::ptr::read(self.region.as_ptr().add(HEADER + at).cast::<u32>()) })
    }

    /// Waits on `seq` (which held `seen`) until `deadline`; false if it passed.
    fn sleep(&self, seq: usize, sleepers: usize, seen: u32, deadline: Option<Instant>) -> bool {
        match left(deadline) {
            Some(d) if d.is_zero() => false,
            t => {
                sleep_on(self.w(seq), self.w(sleepers), seen, t);
                true
            }
        }
    }

    /// Items whose first piece is in the ring.
    fn qsize(&self) -> u32 {
        let (_, taken) = unpack(self.cons().load(Ordering::SeqCst));
        let (_, published) = unpack(self.prod().load(Ordering::SeqCst));
        let n = published.wrapping_sub(taken);
        if n > i32::MAX as u32 {
            0
        } else {
            n
        }
    }

    /// Puts one encoded item. [`Error::Full`] when it could not be placed
    /// (whole) by `deadline` or at once when `!block`.
    fn put_bytes(&self, msg: &[u8], block: bool, deadline: Option<Instant>) -> Result<()> {
        let Some(_held) = self.lock(PROD_LOCK, block, deadline)? else {
            return Err(Error::Full);
        };
        let cap = self.capacity;
        if self.maxsize > 0 {
            loop {
                let seen = self.w(SPACE_SEQ).load(Ordering::SeqCst);
                let (_, published) = unpack(self.prod().load(Ordering::Relaxed));
                let (_, taken) = unpack(self.cons().load(Ordering::SeqCst));
                if published.wrapping_sub(taken) < self.maxsize {
                    break;
                }
                if !block || !self.sleep(SPACE_SEQ, SPACE_SLEEPERS, seen, deadline) {
                    return Err(Error::Full);
                }
            }
        }
        let tag_pid = my_pid() << 2;
        let max = self.max_piece();
        let mut rest = msg;
        let mut first = true;
        let mut number = 0;
        loop {
            let n = rest.len().min(max);
            let last = n == rest.len();
            let need = (PIECE_HEADER + round8(n)) as u32;
            let (head, published) = loop {
                let seen = self.w(SPACE_SEQ).load(Ordering::SeqCst);
                let (head, published) = unpack(self.prod().load(Ordering::Relaxed));
                let (tail, _) = unpack(self.cons().load(Ordering::SeqCst));
                if cap - head.wrapping_sub(tail) >= need {
                    break (head, published);
                }
                if !block || !self.sleep(SPACE_SEQ, SPACE_SLEEPERS, seen, deadline) {
                    if !first {
                        // Consumers drop the pieces of a withdrawn item.
                        self.w(WITHDRAWN).store(number, Ordering::SeqCst);
                        self.published();
                    }
                    return Err(Error::Full);
                }
            };
            let flags = if first { FIRST } else { 0 } | if last { LAST } else { 0 };
            let mut header = [0u8; PIECE_HEADER];
            header[..4].copy_from_slice(&(n as u32).to_le_bytes());
            header[4..].copy_from_slice(&(tag_pid | flags).to_le_bytes());
            self.write_at(head, &header);
            self.write_at(head.wrapping_add(PIECE_HEADER as u32), &rest[..n]);
            let published = if first {
                number = published.wrapping_add(1);
                number
            } else {
                published
            };
            self.prod()
                .store(pack(head.wrapping_add(need), published), Ordering::SeqCst);
            self.published();
            rest = &rest[n..];
            first = false;
            if last {
                return Ok(());
            }
        }
    }

    /// Tells consumers that something was published.
    fn published(&self) {
        self.w(DATA_SEQ).fetch_add(1, Ordering::SeqCst);
        wake_sleepers(self.w(DATA_SEQ), self.w(DATA_SLEEPERS), u32::MAX);
    }

    /// Takes one encoded item into `out`. False when there was none by
    /// `deadline` (or at once when `!block`).
    fn get_bytes(&self, block: bool, deadline: Option<Instant>, out: &mut Vec<u8>) -> Result<bool> {
        let Some(_held) = self.lock(CONS_LOCK, block, deadline)? else {
            return Ok(false);
        };
        let cap = self.capacity;
        let max = self.max_piece();
        // The item being assembled: (its number, its writer's pid).
        let mut assembling: Option<(u32, u32)> = None;
        out.clear();
        loop {
            let seen = self.w(DATA_SEQ).load(Ordering::SeqCst);
            let (head, _) = unpack(self.prod().load(Ordering::SeqCst));
            let (tail, taken) = unpack(self.cons().load(Ordering::Relaxed));
            let used = head.wrapping_sub(tail);
            if used != 0 {
                if used > cap || (used as usize) < PIECE_HEADER {
                    return Err(Error::Corrupt(format!(
                        "queue holds {used} bytes in a {cap}-byte buffer"
                    )));
                }
                let len = self.read_u32(tail) as usize;
                let tag = self.read_u32(tail.wrapping_add(4));
                let need = (PIECE_HEADER + round8(len)) as u32;
                if len > max || need > used {
                    return Err(Error::Corrupt(format!(
                        "queue piece of {len} bytes with {used} bytes buffered"
                    )));
                }
                let mut now_taken = taken;
                if tag & FIRST != 0 {
                    // A new item: whatever was being assembled was withdrawn
                    // or its writer died.
                    out.clear();
                    now_taken = taken.wrapping_add(1);
                    assembling = Some((now_taken, tag >> 2));
                }
                if assembling.is_some() {
                    self.read_at(tail.wrapping_add(PIECE_HEADER as u32), len, out);
                }
                // Only now does the piece leave the ring.
                self.cons()
                    .store(pack(tail.wrapping_add(need), now_taken), Ordering::SeqCst);
                self.w(SPACE_SEQ).fetch_add(1, Ordering::SeqCst);
                wake_sleepers(self.w(SPACE_SEQ), self.w(SPACE_SLEEPERS), u32::MAX);
                if assembling.is_some() && tag & LAST != 0 {
                    return Ok(true);
                }
                // A piece without its first (the consumer that took the
                // first died) is dropped.
                continue;
            }
            if let Some((number, writer)) = assembling {
                // The rest of an item is on its way, unless its writer
                // withdrew it or died.
                if self.w(WITHDRAWN).load(Ordering::SeqCst) == number {
                    assembling = None;
                    out.clear();
                    continue;
                }
                let slice = deadline::after(Some(OWNER_CHECK));
                let t0 = Instant::now();
                self.sleep(DATA_SEQ, DATA_SLEEPERS, seen, slice);
                if t0.elapsed() >= OWNER_CHECK && process_gone(writer) {
                    assembling = None;
                    out.clear();
                }
                continue;
            }
            if !block || !self.sleep(DATA_SEQ, DATA_SLEEPERS, seen, deadline) {
                return Ok(false);
            }
        }
    }
}

thread_local! {
    /// Encoding and decoding scratch, reused across calls.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn deadline_of(block: bool, timeout: Option<Duration>) -> Option<Instant> {
    if block {
        deadline::after(timeout)
    } else {
        None
    }
}

fn put_item<T: Serialize>(
    ring: &Ring,
    item: &T,
    block: bool,
    timeout: Option<Duration>,
) -> Result<()> {
    let deadline = deadline_of(block, timeout);
    SCRATCH.with(|s| {
        let mut buf = std::mem::take(&mut *s.borrow_mut());
        buf.clear();
        let buf = Codec::Postcard.encode_into(item, buf)?;
        let r = ring.put_bytes(&buf, block, deadline);
        *s.borrow_mut() = buf;
        r
    })
}

fn get_item<T: DeserializeOwned>(ring: &Ring, block: bool, timeout: Option<Duration>) -> Result<T> {
    let deadline = deadline_of(block, timeout);
    SCRATCH.with(|s| {
        let mut buf = std::mem::take(&mut *s.borrow_mut());
        let r = match ring.get_bytes(block, deadline, &mut buf) {
            Ok(true) => Codec::Postcard.decode(&buf),
            Ok(false) => Err(Error::Empty),
            Err(e) => Err(e),
        };
        if buf.capacity() > DEFAULT_BUFFER {
            buf = Vec::new(); // do not keep a huge item's buffer around
        }
        *s.borrow_mut() = buf;
        r
    })
}

fn closed_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

// ---- Queue ----

/// Python's `multiprocessing.Queue`: many producers and many consumers
/// across processes, optionally bounded to `maxsize` items. See the
/// [module caveats](self).
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Queue<T> {
    ring: Ring,
    #[serde(skip, default = "closed_flag")]
    closed: Arc<AtomicBool>,
    #[serde(skip)]
    _item: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ring: self.ring.clone(),
            closed: self.closed.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> Queue<T> {
    /// Python's `Queue(maxsize)`: at most `maxsize` items (0: no limit).
    pub fn new(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_buffer(maxsize, DEFAULT_BUFFER)
    }

    /// A queue whose shared buffer holds `buffer` bytes (rounded up to a
    /// power of two, 4 KiB to 1 GiB). Larger items still work, streamed.
    pub fn with_buffer(maxsize: usize, buffer: usize) -> Result<Queue<T>> {
        Ok(Queue {
            ring: Ring::new(maxsize, buffer)?,
            closed: closed_flag(),
            _item: PhantomData,
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            Err(Error::QueueClosed)
        } else {
            Ok(())
        }
    }

    /// The approximate number of items in the queue (Python's `qsize()`).
    pub fn qsize(&self) -> usize {
        self.ring.qsize() as usize
    }

    /// Whether the queue is empty (approximate, as in Python).
    pub fn empty(&self) -> bool {
        self.ring.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items (approximate, as in Python).
    pub fn full(&self) -> bool {
        self.ring.maxsize > 0 && self.ring.qsize() >= self.ring.maxsize
    }

    /// The `maxsize` it was made with (0: no limit).
    pub fn maxsize(&self) -> usize {
        self.ring.maxsize as usize
    }

    /// Python's `close()`: this handle (and its clones in this process)
    /// will not be used to put or get any more.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

impl<T: Serialize> Queue<T> {
    /// Puts `item`, waiting as long as it takes for room.
    pub fn put(&self, item: &T) -> Result<()> {
        self.put_with(item, true, None)
    }

    /// Python's `put(item, block, timeout)`: [`Error::Full`] if there was no
    /// room within `timeout` (or at once when `!block`).
    pub fn put_with(&self, item: &T, block: bool, timeout: Option<Duration>) -> Result<()> {
        self.check_open()?;
        put_item(&self.ring, item, block, timeout)
    }

    /// Puts `item`, waiting at most `timeout` for room.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<()> {
        self.put_with(item, true, Some(timeout))
    }

    /// Python's `put_nowait(item)`: [`Error::Full`] if there is no room now.
    pub fn put_nowait(&self, item: &T) -> Result<()> {
        self.put_with(item, false, None)
    }
}

impl<T: DeserializeOwned> Queue<T> {
    /// Takes the next item, waiting as long as it takes.
    pub fn get(&self) -> Result<T> {
        self.get_with(true, None)
    }

    /// Python's `get(block, timeout)`: [`Error::Empty`] if no item came
    /// within `timeout` (or at once when `!block`).
    pub fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T> {
        self.check_open()?;
        get_item(&self.ring, block, timeout)
    }

    /// Takes the next item, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_with(true, Some(timeout))
    }

    /// Python's `get_nowait()`: [`Error::Empty`] if there is no item now.
    pub fn get_nowait(&self) -> Result<T> {
        self.get_with(false, None)
    }
}

// ---- SimpleQueue ----

/// Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty`, `close`.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SimpleQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> SimpleQueue<T> {
    /// A new, unbounded queue.
    pub fn new() -> Result<SimpleQueue<T>> {
        Ok(SimpleQueue {
            inner: Queue::new(0)?,
        })
    }

    /// Whether it is empty (approximate).
    pub fn empty(&self) -> bool {
        self.inner.empty()
    }

    /// Python's `close()` (this handle only).
    pub fn close(&self) {
        self.inner.close()
    }
}

impl<T: Serialize> SimpleQueue<T> {
    /// Puts `item` (waits for room in the shared buffer if it is full).
    pub fn put(&self, item: &T) -> Result<()> {
        self.inner.put(item)
    }
}

impl<T: DeserializeOwned> SimpleQueue<T> {
    /// Takes the next item, waiting as long as it takes.
    pub fn get(&self) -> Result<T> {
        self.inner.get()
    }
}

// ---- JoinableQueue ----

/// Python's `multiprocessing.JoinableQueue`: a [`Queue`] that counts
/// unfinished tasks; consumers call [`task_done`](Self::task_done) per
/// item, and [`join`](Self::join) waits until every item put is done.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct JoinableQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> JoinableQueue<T> {
    /// Python's `JoinableQueue(maxsize)` (0: no limit).
    pub fn new(maxsize: usize) -> Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            inner: Queue::new(maxsize)?,
        })
    }

    /// [`Queue::with_buffer`], joinable.
    pub fn with_buffer(maxsize: usize, buffer: usize) -> Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            inner: Queue::with_buffer(maxsize, buffer)?,
        })
    }

    /// [`Queue::qsize`].
    pub fn qsize(&self) -> usize {
        self.inner.qsize()
    }

    /// [`Queue::empty`].
    pub fn empty(&self) -> bool {
        self.inner.empty()
    }

    /// [`Queue::full`].
    pub fn full(&self) -> bool {
        self.inner.full()
    }

    /// [`Queue::close`].
    pub fn close(&self) {
        self.inner.close()
    }

    fn unfinished(&self) -> &AtomicU32 {
        self.inner.ring.w(UNFINISHED)
    }

    /// Marks one item taken with `get` as done. [`Error::TaskDoneTooMany`]
    /// if more were marked done than were put.
    pub fn task_done(&self) -> Result<()> {
        let u = self.unfinished();
        let prev = u
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map_err(|_| Error::TaskDoneTooMany)?;
        if prev == 1 {
            wake_sleepers(u, self.inner.ring.w(JOIN_SLEEPERS), u32::MAX);
        }
        Ok(())
    }

    /// Waits until every item put has been marked done.
    pub fn join(&self) {
        self.join_timeout(None);
    }

    /// Waits at most `timeout` until every item put has been marked done;
    /// true if they were.
    pub fn join_timeout(&self, timeout: Option<Duration>) -> bool {
        let deadline = deadline::after(timeout);
        loop {
            let n = self.unfinished().load(Ordering::SeqCst);
            if n == 0 {
                return true;
            }
            if !self
                .inner
                .ring
                .sleep(UNFINISHED, JOIN_SLEEPERS, n, deadline)
            {
                return false;
            }
        }
    }
}

impl<T: Serialize> JoinableQueue<T> {
    /// [`Queue::put`], counting one more unfinished task.
    pub fn put(&self, item: &T) -> Result<()> {
        self.put_with(item, true, None)
    }

    /// [`Queue::put_with`], counting one more unfinished task.
    pub fn put_with(&self, item: &T, block: bool, timeout: Option<Duration>) -> Result<()> {
        self.inner.check_open()?;
        // Counted first, so that a fast consumer's task_done cannot go below zero.
        self.unfinished().fetch_add(1, Ordering::SeqCst);
        let r = put_item(&self.inner.ring, item, block, timeout);
        if r.is_err() {
            let _ = self.task_done();
        }
        r
    }

    /// [`Queue::put_timeout`], counting one more unfinished task.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<()> {
        self.put_with(item, true, Some(timeout))
    }

    /// [`Queue::put_nowait`], counting one more unfinished task.
    pub fn put_nowait(&self, item: &T) -> Result<()> {
        self.put_with(item, false, None)
    }
}

impl<T: DeserializeOwned> JoinableQueue<T> {
    /// [`Queue::get`]; call [`task_done`](Self::task_done) when the item is dealt with.
    pub fn get(&self) -> Result<T> {
        self.inner.get()
    }

    /// [`Queue::get_with`].
    pub fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T> {
        self.inner.get_with(block, timeout)
    }

    /// [`Queue::get_timeout`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.inner.get_timeout(timeout)
    }

    /// [`Queue::get_nowait`].
    pub fn get_nowait(&self) -> Result<T> {
        self.inner.get_nowait()
    }
}
