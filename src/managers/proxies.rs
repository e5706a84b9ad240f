//! Typed proxies for the `SyncManager` typeids: CPython's `DictProxy`,
//! `ListProxy`, `ValueProxy`, `NamespaceProxy`, `AcquirerProxy`... with
//! Rust types over serde. Method names are Python's; Python's `d[k]` is
//! [`DictProxy::get_item`], `d[k] = v` is [`DictProxy::set`], and so on.
//!
//! Values cross the wire as pickles of the natural Python types (see
//! [`crate::pickle::to_value`]), so a Python client of the same manager
//! sees native `dict`s, `str`s and `int`s.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::client::{args_of, timeout_value, value_of, BaseProxy, SyncManager, TypedProxy};
use crate::pickle::Value;
use crate::{Error, Result};

macro_rules! typed_proxy {
    ($(#[$doc:meta])* $name:ident $(<$($t:ident),+>)?) => {
        $(#[$doc])*
        pub struct $name $(<$($t),+>)? {
            base: BaseProxy,
            $(_types: PhantomData<fn() -> ($($t,)+)>,)?
        }

        impl $(<$($t),+>)? TypedProxy for $name $(<$($t),+>)? {
            fn from_base(base: BaseProxy) -> Self {
                $name { base, $(_types: PhantomData::<fn() -> ($($t,)+)>,)? }
            }
            fn base(&self) -> &BaseProxy {
                &self.base
            }
        }

        impl $(<$($t),+>)? fmt::Debug for $name $(<$($t),+>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.base, f)
            }
        }

        impl $(<$($t),+>)? Serialize for $name $(<$($t),+>)? {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                self.base.serialize(s)
            }
        }

        impl<'de, $($($t),+)?> Deserialize<'de> for $name $(<$($t),+>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                BaseProxy::deserialize(d).map(<Self as TypedProxy>::from_base)
            }
        }

        impl $(<$($t),+>)? $name $(<$($t),+>)? {
            /// The untyped proxy (its token, `repr`, raw method calls).
            pub fn base(&self) -> &BaseProxy {
                &self.base
            }
            /// A second proxy for the same object (one more reference).
            pub fn try_clone(&self) -> Result<Self> {
                self.base.try_clone().map(<Self as TypedProxy>::from_base)
            }
        }
    };
}

typed_proxy!(
    /// A `dict` on the manager (`manager.dict()`): keys `K`, values `V`.
    /// Keys compare as Python's do (`1 == 1.0 == True`).
    DictProxy<K, V>
);
typed_proxy!(
    /// A `list` on the manager (`manager.list()`). Indexes are Python's:
    /// negative counts from the end.
    ListProxy<T>
);
typed_proxy!(
    /// A `queue.Queue` on the manager (`manager.Queue()`), or a
    /// `JoinableQueue` (`task_done`/`join` work on both, as in CPython).
    QueueProxy<T>
);
typed_proxy!(
    /// A `Value` holder on the manager (`manager.Value(typecode, value)`).
    ValueProxy<T>
);
typed_proxy!(
    /// An `array.array` on the manager (`manager.Array(typecode, items)`).
    ArrayProxy<T>
);
typed_proxy!(
    /// An iterator on the manager (`iter(dict)`): one round trip per item.
    IteratorProxy<T>
);
typed_proxy!(
    /// A `Namespace` on the manager: attributes by name, any type each.
    NamespaceProxy
);
typed_proxy!(
    /// A `Lock`, `RLock`, `Semaphore` or `BoundedSemaphore` on the manager
    /// (CPython's `AcquirerProxy`). An `RLock` belongs to this thread's
    /// connection. mp's server releases whatever a closed connection held;
    /// CPython's keeps it held.
    LockProxy
);
typed_proxy!(
    /// A `Condition` on the manager.
    ConditionProxy
);
typed_proxy!(
    /// An `Event` on the manager.
    EventProxy
);
typed_proxy!(
    /// A `Barrier` on the manager.
    BarrierProxy
);

fn no_args() -> Vec<Value> {
    vec![]
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `d.get(key)`: the value, or `None` when the key is missing.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        // `d.get(k)` answers None for a missing key and for a stored None;
        // ask for the item itself to tell them apart.
        match self.get_item(key) {
            Ok(v) => Ok(Some(v)),
            Err(Error::KeyError(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// `d[key]`: [`Error::KeyError`] when missing.
    pub fn get_item(&self, key: &K) -> Result<V> {
        self.base.call("__getitem__", &(key,))
    }
    /// `d[key] = value`.
    pub fn set(&self, key: &K, value: &V) -> Result<()> {
        self.base.call("__setitem__", &(key, value))
    }
    /// `del d[key]`: [`Error::KeyError`] when missing.
    pub fn del(&self, key: &K) -> Result<()> {
        self.base.call("__delitem__", &(key,))
    }
    /// `key in d`.
    pub fn contains(&self, key: &K) -> Result<bool> {
        self.base.call("__contains__", &(key,))
    }
    /// `len(d)`.
    pub fn len(&self) -> Result<usize> {
        self.base.call("__len__", &())
    }
    /// `len(d) == 0`.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }
    /// `list(d.keys())`, in insertion order.
    pub fn keys(&self) -> Result<Vec<K>> {
        self.base.call("keys", &())
    }
    /// `list(d.values())`.
    pub fn values(&self) -> Result<Vec<V>> {
        self.base.call("values", &())
    }
    /// `list(d.items())`.
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.base.call("items", &())
    }
    /// `d.pop(key)`: [`Error::KeyError`] when missing.
    pub fn pop(&self, key: &K) -> Result<V> {
        self.base.call("pop", &(key,))
    }
    /// `d.popitem()`, the last inserted pair: [`Error::KeyError`] when empty.
    pub fn popitem(&self) -> Result<(K, V)> {
        self.base.call("popitem", &())
    }
    /// `d.setdefault(key, default)`: the value now stored under `key`.
    pub fn setdefault(&self, key: &K, default: &V) -> Result<V> {
        self.base.call("setdefault", &(key, default))
    }
    /// `d.update(pairs)`.
    pub fn update(&self, pairs: &[(K, V)]) -> Result<()> {
        self.base.call("update", &(pairs,))
    }
    /// `d.clear()`.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }
    /// `d.copy()`: the pairs, in insertion order.
    pub fn copy(&self) -> Result<Vec<(K, V)>> {
        self.items()
    }
    /// `iter(d)`: an iterator over the keys, kept on the manager.
    pub fn iter(&self) -> Result<IteratorProxy<K>> {
        self.base
            .call_proxy("__iter__", no_args(), vec![])
            .map(IteratorProxy::from_base)
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `l.append(item)`.
    pub fn append(&self, item: &T) -> Result<()> {
        self.base.call("append", &(item,))
    }
    /// `l.extend(items)` (also what `l += items` sends).
    pub fn extend(&self, items: &[T]) -> Result<()> {
        self.base.call("extend", &(items,))
    }
    /// `l[index]`: `IndexError` ([`Error::Python`]) when out of range.
    pub fn get(&self, index: isize) -> Result<T> {
        self.base.call("__getitem__", &(index as i64,))
    }
    /// `l[index] = item`.
    pub fn set(&self, index: isize, item: &T) -> Result<()> {
        self.base.call("__setitem__", &(index as i64, item))
    }
    /// `del l[index]`.
    pub fn del(&self, index: isize) -> Result<()> {
        self.base.call("__delitem__", &(index as i64,))
    }
    /// `l.insert(index, item)`.
    pub fn insert(&self, index: isize, item: &T) -> Result<()> {
        self.base.call("insert", &(index as i64, item))
    }
    /// `l.pop()` (`None`) or `l.pop(index)`.
    pub fn pop(&self, index: Option<isize>) -> Result<T> {
        match index {
            None => self.base.call("pop", &()),
            Some(i) => self.base.call("pop", &(i as i64,)),
        }
    }
    /// `l.remove(item)`, by Python equality: `ValueError` when absent.
    pub fn remove(&self, item: &T) -> Result<()> {
        self.base.call("remove", &(item,))
    }
    /// `l.index(item)`: `ValueError` when absent.
    pub fn index(&self, item: &T) -> Result<usize> {
        self.base.call("index", &(item,))
    }
    /// `l.count(item)`.
    pub fn count(&self, item: &T) -> Result<usize> {
        self.base.call("count", &(item,))
    }
    /// `item in l`.
    pub fn contains(&self, item: &T) -> Result<bool> {
        self.base.call("__contains__", &(item,))
    }
    /// `len(l)`.
    pub fn len(&self) -> Result<usize> {
        self.base.call("__len__", &())
    }
    /// `len(l) == 0`.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }
    /// `l.reverse()`.
    pub fn reverse(&self) -> Result<()> {
        self.base.call("reverse", &())
    }
    /// `l.sort(reverse=...)`, Python's order (`TypeError` on mixed types).
    pub fn sort(&self, reverse: bool) -> Result<()> {
        self.base.call_method(
            "sort",
            no_args(),
            vec![(Value::str("reverse"), Value::Bool(reverse))],
        )
    }
    /// The whole list (Python's `l[:]`).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.base.get_value()
    }
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// `q.put(item)`: waits while a bounded queue is full.
    pub fn put(&self, item: &T) -> Result<()> {
        self.base.call("put", &(item,))
    }
    /// `q.put(item, True, timeout)`: [`Error::Full`] if still full after `timeout`.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<()> {
        self.base.call_method(
            "put",
            vec![
                value_of(item)?,
                Value::Bool(true),
                timeout_value(Some(timeout)),
            ],
            vec![],
        )
    }
    /// `q.put_nowait(item)`: [`Error::Full`] at once when full.
    pub fn put_nowait(&self, item: &T) -> Result<()> {
        self.base.call("put_nowait", &(item,))
    }
    /// `q.get()`: waits for an item.
    pub fn get(&self) -> Result<T> {
        self.base.call("get", &())
    }
    /// `q.get(True, timeout)`: [`Error::Empty`] if nothing came within `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.base.call_method(
            "get",
            vec![Value::Bool(true), timeout_value(Some(timeout))],
            vec![],
        )
    }
    /// `q.get_nowait()`: [`Error::Empty`] at once when empty.
    pub fn get_nowait(&self) -> Result<T> {
        self.base.call("get_nowait", &())
    }
    /// `q.qsize()`.
    pub fn qsize(&self) -> Result<usize> {
        self.base.call("qsize", &())
    }
    /// `q.empty()`.
    pub fn empty(&self) -> Result<bool> {
        self.base.call("empty", &())
    }
    /// `q.full()`.
    pub fn full(&self) -> Result<bool> {
        self.base.call("full", &())
    }
    /// `q.task_done()`: `ValueError` when called more times than items were put.
    pub fn task_done(&self) -> Result<()> {
        self.base.call("task_done", &())
    }
    /// `q.join()`: waits until every item put has been marked done.
    pub fn join(&self) -> Result<()> {
        self.base.call("join", &())
    }
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value`.
    pub fn get(&self) -> Result<T> {
        self.base.call("get", &())
    }
    /// `v.value = value`.
    pub fn set(&self, value: &T) -> Result<()> {
        self.base.call("set", &(value,))
    }
}

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// `len(a)`.
    pub fn len(&self) -> Result<usize> {
        self.base.call("__len__", &())
    }
    /// `len(a) == 0`.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }
    /// `a[index]`.
    pub fn get(&self, index: isize) -> Result<T> {
        self.base.call("__getitem__", &(index as i64,))
    }
    /// `a[index] = item` (`TypeError`/`OverflowError` when the typecode
    /// cannot hold it).
    pub fn set(&self, index: isize, item: &T) -> Result<()> {
        self.base.call("__setitem__", &(index as i64, item))
    }
    /// The whole array, one `a[i]` per item (CPython pickles an `array`
    /// in its machine format, which this client does not decode).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let n = self.len()?;
        (0..n).map(|i| self.get(i as isize)).collect()
    }
}

impl<T: DeserializeOwned> Iterator for IteratorProxy<T> {
    type Item = Result<T>;
    /// `next(it)`: `None` at `StopIteration`.
    fn next(&mut self) -> Option<Result<T>> {
        match self.base.call("__next__", &()) {
            Err(Error::Python { exception, .. }) if exception == "StopIteration" => None,
            other => Some(other),
        }
    }
}

impl NamespaceProxy {
    /// `ns.name`: `AttributeError` ([`Error::Python`]) when unset.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.base.call("__getattribute__", &(name,))
    }
    /// `ns.name = value`.
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        self.base.call_method(
            "__setattr__",
            vec![Value::str(name), value_of(value)?],
            vec![],
        )
    }
    /// `del ns.name`.
    pub fn del(&self, name: &str) -> Result<()> {
        self.base.call("__delattr__", &(name,))
    }
}

/// Holds a [`LockProxy`] or [`ConditionProxy`] until dropped (Python's
/// `with lock:`).
#[must_use = "the lock is released when the guard is dropped"]
pub struct ProxyGuard<'a> {
    base: &'a BaseProxy,
}

impl fmt::Debug for ProxyGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyGuard({:?})", self.base)
    }
}

impl Drop for ProxyGuard<'_> {
    fn drop(&mut self) {
        // An error here means the connection is gone, and mp's server
        // releases what a closed connection held.
        let _: Result<()> = self.base.call("release", &());
    }
}

fn acquire(base: &BaseProxy, timeout: Option<Duration>) -> Result<bool> {
    match timeout {
        None => base.call("acquire", &()),
        Some(t) => base.call_method(
            "acquire",
            vec![Value::Bool(true), timeout_value(Some(t))],
            vec![],
        ),
    }
}

impl LockProxy {
    /// `lock.acquire()`: waits for it.
    pub fn acquire(&self) -> Result<()> {
        acquire(&self.base, None).map(drop)
    }
    /// `lock.acquire(True, timeout)`: whether it was acquired in time.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        acquire(&self.base, Some(timeout))
    }
    /// `lock.acquire(False)`: whether it was free.
    pub fn try_acquire(&self) -> Result<bool> {
        self.base.call("acquire", &(false,))
    }
    /// `lock.release()`.
    pub fn release(&self) -> Result<()> {
        self.base.call("release", &())
    }
    /// Acquires and returns a guard that releases on drop (`with lock:`).
    pub fn lock(&self) -> Result<ProxyGuard<'_>> {
        self.acquire()?;
        Ok(ProxyGuard { base: &self.base })
    }
}

impl ConditionProxy {
    /// `cond.acquire()`.
    pub fn acquire(&self) -> Result<()> {
        acquire(&self.base, None).map(drop)
    }
    /// `cond.release()`.
    pub fn release(&self) -> Result<()> {
        self.base.call("release", &())
    }
    /// Acquires and returns a guard that releases on drop (`with cond:`).
    pub fn lock(&self) -> Result<ProxyGuard<'_>> {
        self.acquire()?;
        Ok(ProxyGuard { base: &self.base })
    }
    /// `cond.wait(timeout)` (the lock must be held): false on timeout.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.base
            .call_method("wait", vec![timeout_value(timeout)], vec![])
    }
    /// `cond.wait_for(predicate, timeout)`, looping here as CPython's proxy
    /// does: the predicate's last value.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> Result<bool>,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if predicate()? {
                return Ok(true);
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return predicate(),
                },
            };
            self.wait(left)?;
        }
    }
    /// `cond.notify(n)`.
    pub fn notify(&self, n: usize) -> Result<()> {
        self.base.call("notify", &(n,))
    }
    /// `cond.notify_all()`.
    pub fn notify_all(&self) -> Result<()> {
        self.base.call("notify_all", &())
    }
}

impl EventProxy {
    /// `event.is_set()`.
    pub fn is_set(&self) -> Result<bool> {
        self.base.call("is_set", &())
    }
    /// `event.set()`.
    pub fn set(&self) -> Result<()> {
        self.base.call("set", &())
    }
    /// `event.clear()`.
    pub fn clear(&self) -> Result<()> {
        self.base.call("clear", &())
    }
    /// `event.wait(timeout)`: whether the event is set.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.base
            .call_method("wait", vec![timeout_value(timeout)], vec![])
    }
}

impl BarrierProxy {
    /// `barrier.wait(timeout)`: this party's index (0..parties).
    /// [`Error::BrokenBarrier`] when the barrier breaks or times out.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<usize> {
        self.base
            .call_method("wait", vec![timeout_value(timeout)], vec![])
    }
    /// `barrier.abort()`.
    pub fn abort(&self) -> Result<()> {
        self.base.call("abort", &())
    }
    /// `barrier.reset()`.
    pub fn reset(&self) -> Result<()> {
        self.base.call("reset", &())
    }
    /// `barrier.parties`.
    pub fn parties(&self) -> Result<usize> {
        self.base.call("__getattribute__", &("parties",))
    }
    /// `barrier.n_waiting`.
    pub fn n_waiting(&self) -> Result<usize> {
        self.base.call("__getattribute__", &("n_waiting",))
    }
    /// `barrier.broken`.
    pub fn broken(&self) -> Result<bool> {
        self.base.call("__getattribute__", &("broken",))
    }
}

/// The typeids of CPython's `SyncManager`, one method each (Python's
/// `manager.dict()`, `manager.Queue()`...).
impl SyncManager {
    /// `manager.dict()`: an empty dict.
    pub fn dict<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(
        &self,
    ) -> Result<DictProxy<K, V>> {
        self.typed("dict", vec![])
    }
    /// `manager.dict(pairs)`.
    pub fn dict_from<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(
        &self,
        pairs: &[(K, V)],
    ) -> Result<DictProxy<K, V>> {
        self.typed("dict", args_of(&(pairs,))?)
    }
    /// `manager.list()`: an empty list.
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>> {
        self.typed("list", vec![])
    }
    /// `manager.list(items)`.
    pub fn list_from<T: Serialize + DeserializeOwned>(&self, items: &[T]) -> Result<ListProxy<T>> {
        self.typed("list", args_of(&(items,))?)
    }
    /// `manager.Queue()`: unbounded.
    pub fn queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>> {
        self.typed("Queue", vec![])
    }
    /// `manager.Queue(maxsize)`.
    pub fn queue_with_maxsize<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>> {
        self.typed("Queue", args_of(&(maxsize,))?)
    }
    /// `manager.JoinableQueue()`.
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>> {
        self.typed("JoinableQueue", vec![])
    }
    /// `manager.Value(typecode, value)` (the typecode is only a label, as in CPython).
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        typecode: &str,
        value: &T,
    ) -> Result<ValueProxy<T>> {
        self.typed("Value", args_of(&(typecode, value))?)
    }
    /// `manager.Array(typecode, items)`.
    pub fn array<T: Serialize + DeserializeOwned>(
        &self,
        typecode: char,
        items: &[T],
    ) -> Result<ArrayProxy<T>> {
        self.typed("Array", args_of(&(typecode, items))?)
    }
    /// `manager.Namespace()`.
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.typed("Namespace", vec![])
    }
    /// `manager.Lock()`.
    pub fn lock(&self) -> Result<LockProxy> {
        self.typed("Lock", vec![])
    }
    /// `manager.RLock()`.
    pub fn rlock(&self) -> Result<LockProxy> {
        self.typed("RLock", vec![])
    }
    /// `manager.Semaphore(value)`.
    pub fn semaphore(&self, value: usize) -> Result<LockProxy> {
        self.typed("Semaphore", args_of(&(value,))?)
    }
    /// `manager.BoundedSemaphore(value)`.
    pub fn bounded_semaphore(&self, value: usize) -> Result<LockProxy> {
        self.typed("BoundedSemaphore", args_of(&(value,))?)
    }
    /// `manager.Condition()`.
    pub fn condition(&self) -> Result<ConditionProxy> {
        self.typed("Condition", vec![])
    }
    /// `manager.Event()`.
    pub fn event(&self) -> Result<EventProxy> {
        self.typed("Event", vec![])
    }
    /// `manager.Barrier(parties)`.
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy> {
        self.typed("Barrier", args_of(&(parties,))?)
    }
}
