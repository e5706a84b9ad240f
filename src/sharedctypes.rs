//! Shared values and arrays (CPython's `multiprocessing.sharedctypes`):
//! [`Value`] and [`Array`] with an attached [`Lock`], [`RawValue`] and
//! [`RawArray`] without one.
//!
//! The data lives in shared memory (see [`crate::shared_memory`]); hand a
//! `Value` or `Array` to a child as (part of) its [`crate::Process`]
//! argument and both processes see the same memory, under every start method.
//!
//! ```no_run
//! use mp::sharedctypes::{Array, Value};
//!
//! fn f((n, a): (Value<f64>, Array<i32>)) {
//!     n.set(3.1415927);
//!     a.update(|s| s.iter_mut().for_each(|x| *x = -*x));
//! }
//!
//! fn main() {
//!     mp::freeze_support();
//!     let num = Value::new(0.0f64).unwrap();
//!     let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>()).unwrap();
//!     let p = mp::Process::new(f, (num.clone(), arr.clone()));
//!     p.start().unwrap();
//!     p.join(None).unwrap();
//!     println!("{} {:?}", num.get(), arr.to_vec());
//! }
//! ```
//!
//! # Locked and raw
//! As in CPython, [`Value`] and [`Array`] carry a [`Lock`] that every
//! access takes; [`RawValue`] and [`RawArray`] have none. All four are safe
//! to use from any thread or process at once, because safe code only ever
//! copies values in and out of the shared memory (`get`, `set`, `to_vec`,
//! and `update`, which runs on a copy under the lock): no reference into
//! memory that another process may be writing is handed out. The one way
//! to get such a reference, [`RawArray::update`] / [`RawValue::update`]
//! (in place, no copy, no lock), is `unsafe`; its caller promises that
//! nobody else touches the elements meanwhile.
//!
//! # Caveats
//! - Only plain data can be shared: types implementing [`Shareable`]
//!   (numbers, `bool`, `char`, arrays of them; implement it for your own
//!   `#[repr(C)]` structs of such fields, without padding). A pointer,
//!   `String` or `Vec` would point into one process's memory only.
//! - `get`/`set` of a `Value` take the lock for each call; a
//!   read-modify-write (`value += 1`) needs [`Value::update`] (Python's
//!   `with v.get_lock(): v.value += 1`).
//! - The lock is a [`Lock`], not recursive (CPython's default is an
//!   `RLock`): while you hold [`Value::get_lock`] yourself, reach the
//!   value through [`Value::get_obj`], not through the `Value`, whose
//!   methods would wait for the lock you hold.
//! - Without a lock, a read racing with a write can get a mix of the old
//!   and the new value (never an invalid `bool` or `char`), and
//!   `raw.set(raw.get() + 1)` from two processes can lose an increment:
//!   protect read-modify-writes with a lock, as in Python.
//! - A process that dies holding a `Value`'s or `Array`'s lock does not
//!   block the others: the next access takes the lock over (see
//!   [`crate::synchronize`]). What the dead process was writing may be
//!   half written.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::shared_memory::Region;
use crate::synchronize::{Lock, LockGuard};

/// Plain data that means the same in every process, copied in and out of
/// shared memory as integers.
///
/// # Safety
/// Implement it only for `Copy` types that are plain data:
/// - no pointers, references or handles (they mean nothing in another
///   process);
/// - no padding bytes (values are copied as integers, and padding is
///   uninitialized): order a `#[repr(C)]` struct's fields so none is
///   needed, or add explicit filler fields;
/// - valid for every mix of the values its writers store: a read racing
///   with an unlocked write ([`RawValue::set`]) can get some bytes from
///   the old value and some from the new, in units of its alignment (at
///   most 8 bytes, so a `bool` or `char` field always comes whole).
pub unsafe trait Shareable: Copy + Send + Sync + 'static {}

macro_rules! shareable {
    ($($t:ty),*) => { $(
        // SAFETY: a plain number (or bool/char): no padding, the same in
        // every process, and valid for any bits (a bool or char is never
        // torn: see `copy`).
        unsafe impl Shareable for $t {}
    )* };
}
shareable!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char);
// SAFETY: an array of plain data without padding is plain data without
// padding.
unsafe impl<T: Shareable, const N: usize> Shareable for [T; N] {}

/// Copies between shared memory and private memory, by value.
///
/// Other threads and processes may write the shared side at any moment
/// (nothing stops an unlocked [`RawArray`], and any thread may release a
/// [`Lock`] it does not hold, as in CPython). A `memcpy` or a reference
/// racing with such a write is a data race, undefined behaviour in Rust;
/// relaxed atomic loads and stores are not, and compile to the same moves.
/// Every access to a `T` uses units of one width, `min(align_of::<T>(), 8)`
/// bytes, so accesses never mix sizes, and a field no wider than that (a
/// `bool`, a `char`) is never split between two units: a racing write can
/// mix units of two values, never make an invalid `bool` or `char`.
pub(crate) mod copy {
    use std::mem::{align_of, size_of};
    use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

    use super::Shareable;

    /// An integer moved with one atomic instruction.
    trait Unit: Copy {
        /// # Safety
        /// `p` is aligned, valid, and accessed only atomically with this width.
        unsafe fn load(p: *mut Self) -> Self;
        /// # Safety
        /// As for `load`.
        unsafe fn store(p: *mut Self, v: Self);
    }

    macro_rules! unit {
        ($($int:ty => $atomic:ty),*) => { $(
            impl Unit for $int {
                #[inline]
                unsafe fn load(p: *mut Self) -> Self {
                    // SAFETY: the caller's contract is `from_ptr`'s.
                    unsafe { <$atomic>::from_ptr(p) }.load(Relaxed)
                }
                #[inline]
                unsafe fn store(p: *mut Self, v: Self) {
                    // SAFETY: as in `load`.
                    unsafe { <$atomic>::from_ptr(p) }.store(v, Relaxed)
                }
            }
        )* };
    }
    unit!(u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64);

    /// Copies `n` values of `T` out of shared memory (or into it, with
    /// `into_shared`) as units of `U`, of which `T` is a whole number.
    ///
    /// # Safety
    /// As for [`load_into`] and [`store_from`].
    #[inline]
    unsafe fn units<T, U: Unit>(src: *const T, dst: *mut T, n: usize, into_shared: bool) {
        let count = n * (size_of::<T>() / size_of::<U>());
        let (src, dst) = (src.cast::<U>().cast_mut(), dst.cast::<U>());
        for k in 0..count {
            // SAFETY: `T`'s alignment is at least `U`'s and its size a
            // multiple of it, so unit `k` is aligned and inside both ranges;
            // the shared side is only accessed atomically with this width,
            // the private side (initialized, as `T` has no padding) is ours.
            unsafe {
                if into_shared {
                    U::store(dst.add(k), src.add(k).read());
                } else {
                    dst.add(k).write(U::load(src.add(k)));
                }
            }
        }
    }

    /// Dispatches on `T`'s unit width.
    ///
    /// # Safety
    /// As for [`load_into`] and [`store_from`].
    #[inline]
    unsafe fn by_width<T: Shareable>(src: *const T, dst: *mut T, n: usize, into_shared: bool) {
        // SAFETY: forwarded; the width divides `T`'s size and alignment.
        unsafe {
            match align_of::<T>() {
                1 => units::<T, u8>(src, dst, n, into_shared),
                2 => units::<T, u16>(src, dst, n, into_shared),
                4 => units::<T, u32>(src, dst, n, into_shared),
                _ => units::<T, u64>(src, dst, n, into_shared),
            }
        }
    }

    /// Copies `n` values from shared memory at `src` to private memory at
    /// `dst`.
    ///
    /// # Safety
    /// `src` is aligned and valid for `n` values of `T` in a shared
    /// mapping, whose bytes every thread of this process accesses only
    /// through this module while anyone else might write them; `dst` is
    /// aligned and valid for writing `n` values.
    #[inline]
    pub(crate) unsafe fn load_into<T: Shareable>(src: *const T, dst: *mut T, n: usize) {
        // SAFETY: the caller's contract.
        unsafe { by_width(src, dst, n, false) }
    }

    /// Copies `n` values from private memory at `src` to shared memory at
    /// `dst`.
    ///
    /// # Safety
    /// As for [`load_into`], with the roles of `src` and `dst` swapped.
    #[inline]
    pub(crate) unsafe fn store_from<T: Shareable>(src: *const T, dst: *mut T, n: usize) {
        // SAFETY: the caller's contract.
        unsafe { by_width(src, dst, n, true) }
    }
}

/// A shared region holding a copy of `init`.
fn region_for<T: Shareable>(init: &[T]) -> Result<Region> {
    if align_of::<T>() > 4096 {
        return Err(Error::InvalidArgument("alignment above a page".into()));
    }
    let region = Region::new(size_of_val(init))?;
    // SAFETY: the region holds at least `init.len()` values of `T`,
    // page-aligned (enough for T); nobody else can see it yet.
    unsafe { copy::store_from(init.as_ptr(), region.as_ptr().cast::<T>(), init.len()) };
    Ok(region)
}

/// Python's `multiprocessing.RawArray(typecode, ...)`: `len` values of `T`
/// in shared memory, without a lock. Reads and writes copy values
/// ([`get`](Self::get), [`set`](Self::set), [`to_vec`](Self::to_vec)); a
/// read racing with a write may see a mix of the two values (see
/// [`Shareable`]), never undefined behaviour. In-place access
/// ([`update`](Self::update)) is `unsafe`: nothing here keeps others out
/// while it runs.
#[derive(Clone)]
pub struct RawArray<T> {
    region: Region,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Shareable> RawArray<T> {
    /// A shared copy of `init` (Python's `RawArray(typecode, initializer)`).
    pub fn from_slice(init: &[T]) -> Result<RawArray<T>> {
        Ok(RawArray {
            region: region_for(init)?,
            len: init.len(),
            _t: PhantomData,
        })
    }

    /// `len` copies of `value` (Python's `RawArray(typecode, size)`, with
    /// a value of your choice instead of zero).
    pub fn new(value: T, len: usize) -> Result<RawArray<T>> {
        RawArray::from_slice(&vec![value; len])
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn ptr(&self) -> *mut T {
        self.region.as_ptr().cast::<T>()
    }

    fn check(&self, i: usize) -> Result<()> {
        if i < self.len {
            Ok(())
        } else {
            Err(Error::IndexOutOfRange {
                index: i,
                len: self.len,
            })
        }
    }

    /// A copy of element `i`.
    pub fn get(&self, i: usize) -> Result<T> {
        self.check(i)?;
        let mut v = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: `i` is in range of the region's values; `v` has room for
        // one; shared memory is only accessed through `copy` here.
        unsafe { copy::load_into(self.ptr().add(i), v.as_mut_ptr(), 1) };
        // SAFETY: every byte was copied from a value some writer stored
        // (see `Shareable`).
        Ok(unsafe { v.assume_init() })
    }

    /// Sets element `i` to `v`.
    pub fn set(&self, i: usize, v: T) -> Result<()> {
        self.check(i)?;
        // SAFETY: as in `get`.
        unsafe { copy::store_from(&v, self.ptr().add(i), 1) };
        Ok(())
    }

    /// A copy of every element.
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        // SAFETY: `out` has room for `len` values; the region holds them.
        unsafe {
            copy::load_into(self.ptr(), out.as_mut_ptr(), self.len);
            out.set_len(self.len);
        }
        out
    }

    /// Copies `values` over the elements (Python's `arr[:] = values`); an
    /// error unless the lengths match.
    pub fn copy_from_slice(&self, values: &[T]) -> Result<()> {
        if values.len() != self.len {
            return Err(Error::LengthMismatch {
                expected: self.len,
                got: values.len(),
            });
        }
        // SAFETY: as in `to_vec`.
        unsafe { copy::store_from(values.as_ptr(), self.ptr(), self.len) };
        Ok(())
    }

    /// Runs `f` on the elements in place, without copying and without a
    /// lock.
    ///
    /// ```
    /// let a = mp::sharedctypes::RawArray::from_slice(&[1u32, 2, 3]).unwrap();
    /// // SAFETY: no other thread or process has this array.
    /// unsafe { a.update(|s| s.iter_mut().for_each(|x| *x *= 10)) };
    /// assert_eq!(a.to_vec(), [10, 20, 30]);
    /// ```
    ///
    /// Safe code cannot call it, because other handles could alias it:
    ///
    /// ```compile_fail,E0133
    /// let a = mp::sharedctypes::RawArray::from_slice(&[1u32, 2, 3]).unwrap();
    /// a.update(|s| s[0] = 10);
    /// ```
    ///
    /// # Safety
    /// While `f` runs, no other thread or process may read or write the
    /// elements, through any handle (`get`, `set`, another `update`...):
    /// `f` holds a `&mut` to them. Hold a [`Lock`] that every user of the
    /// array takes, or call it before sharing the array.
    pub unsafe fn update<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        // SAFETY: `len` initialized values, aligned; exclusive access is
        // the caller's promise.
        f(unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) })
    }
}

impl<T: Shareable> Serialize for RawArray<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (&self.region, self.len as u64).serialize(s)
    }
}

impl<'de, T: Shareable> Deserialize<'de> for RawArray<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (region, len): (Region, u64) = Deserialize::deserialize(d)?;
        let fits = usize::try_from(len).ok().filter(|&n| {
            n.checked_mul(size_of::<T>())
                .is_some_and(|b| b <= region.len())
        });
        let Some(len) = fits else {
            return Err(de::Error::custom(format!(
                "shared array: {len} values of {} bytes do not fit in a region of {} bytes",
                size_of::<T>(),
                region.len()
            )));
        };
        Ok(RawArray {
            region,
            len,
            _t: PhantomData,
        })
    }
}

/// Python's `multiprocessing.Array(typecode, ...)` (with its default
/// `lock=True`): a [`RawArray`] and a [`Lock`] that every access takes.
///
/// [`update`](Self::update) is Python's `with arr.get_lock(): ...` for a
/// whole-array change: `f` runs on a copy taken under the lock, which is
/// written back before the lock is released. A copy, not a reference into
/// shared memory, because any thread or process may release a `Lock` (as
/// in CPython), so holding it cannot prove that nobody else writes. For
/// in-place access to a large array, use the unsafe [`RawArray::update`]
/// on [`get_obj`](Self::get_obj) under [`get_lock`](Self::get_lock).
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "T: Shareable")]
pub struct Array<T> {
    raw: RawArray<T>,
    lock: Lock,
}

impl<T: Shareable> Array<T> {
    /// A shared copy of `init`, with a lock.
    pub fn from_slice(init: &[T]) -> Result<Array<T>> {
        Ok(Array {
            raw: RawArray::from_slice(init)?,
            lock: Lock::new()?,
        })
    }

    /// `len` copies of `value`, with a lock.
    pub fn new(value: T, len: usize) -> Result<Array<T>> {
        Array::from_slice(&vec![value; len])
    }

    /// The lock every access takes (Python's `get_lock()`). It is not
    /// recursive: while you hold it, use [`get_obj`](Self::get_obj) for
    /// the values, not this array's own methods (which would wait for it).
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// The unlocked array underneath (Python's `get_obj()`).
    pub fn get_obj(&self) -> &RawArray<T> {
        &self.raw
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Element `i`, read under the lock.
    pub fn get(&self, i: usize) -> Result<T> {
        let _g = self.guard();
        self.raw.get(i)
    }

    /// Sets element `i` under the lock.
    pub fn set(&self, i: usize, v: T) -> Result<()> {
        let _g = self.guard();
        self.raw.set(i, v)
    }

    /// A copy of every element, taken under the lock.
    pub fn to_vec(&self) -> Vec<T> {
        let _g = self.guard();
        self.raw.to_vec()
    }

    /// Copies `values` over the elements under the lock (Python's
    /// `arr[:] = values`); an error unless the lengths match.
    pub fn copy_from_slice(&self, values: &[T]) -> Result<()> {
        let _g = self.guard();
        self.raw.copy_from_slice(values)
    }

    /// Runs `f` on the elements with the lock held: Python's
    /// `with arr.get_lock(): ...`. `f` gets a copy, written back (unless
    /// `f` panics) before the lock is released; see the type's docs.
    pub fn update<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        let _g = self.guard();
        let mut values = self.raw.to_vec();
        let r = f(&mut values);
        self.raw
            .copy_from_slice(&values)
            .expect("the copy has the array's length");
        r
    }

    /// The lock, taken over from a dead holder if need be (see the caveats).
    fn guard(&self) -> LockGuard<'_> {
        self.lock.lock_recover().0
    }
}

/// Python's `multiprocessing.RawValue(typecode, value)`: one `T` in shared
/// memory, without a lock; see [`RawArray`].
#[derive(Clone)]
pub struct RawValue<T> {
    array: RawArray<T>,
}

impl<T: Shareable> RawValue<T> {
    /// A shared value, without a lock.
    pub fn new(v: T) -> Result<RawValue<T>> {
        Ok(RawValue {
            array: RawArray::from_slice(&[v])?,
        })
    }

    /// A copy of the value (Python's `v.value`).
    pub fn get(&self) -> T {
        self.array.get(0).expect("a value has one element")
    }

    /// Sets the value (Python's `v.value = x`).
    pub fn set(&self, v: T) {
        self.array.set(0, v).expect("a value has one element");
    }

    /// Runs `f` on the value in place, without a lock.
    ///
    /// ```compile_fail,E0133
    /// let v = mp::sharedctypes::RawValue::new(1u64).unwrap();
    /// v.update(|x| *x += 1); // needs `unsafe`
    /// ```
    ///
    /// # Safety
    /// As for [`RawArray::update`]: nobody else may read or write the value
    /// while `f` runs.
    pub unsafe fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: forwarded to the caller.
        unsafe { self.array.update(|s| f(&mut s[0])) }
    }
}

impl<T: Shareable> Serialize for RawValue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.array.serialize(s)
    }
}

impl<'de, T: Shareable> Deserialize<'de> for RawValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let array = RawArray::<T>::deserialize(d)?;
        if array.len != 1 {
            return Err(de::Error::custom(format!(
                "shared value: {} elements instead of one",
                array.len
            )));
        }
        Ok(RawValue { array })
    }
}

/// Python's `multiprocessing.Value(typecode, value)` (with its default
/// `lock=True`): a [`RawValue`] and a [`Lock`] that every access takes.
/// [`update`](Self::update) is the read-modify-write under the lock.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "T: Shareable")]
pub struct Value<T> {
    raw: RawValue<T>,
    lock: Lock,
}

impl<T: Shareable> Value<T> {
    /// A shared value with a lock.
    pub fn new(v: T) -> Result<Value<T>> {
        Ok(Value {
            raw: RawValue::new(v)?,
            lock: Lock::new()?,
        })
    }

    /// The value, read under the lock (Python's `v.value`).
    pub fn get(&self) -> T {
        let _g = self.guard();
        self.raw.get()
    }

    /// Sets the value under the lock (Python's `v.value = x`).
    pub fn set(&self, v: T) {
        let _g = self.guard();
        self.raw.set(v)
    }

    /// Read-modify-write under the lock: `v.update(|x| *x += 1)` is
    /// Python's `with v.get_lock(): v.value += 1`. `f` gets a copy,
    /// written back (unless `f` panics) before the lock is released.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _g = self.guard();
        let mut v = self.raw.get();
        let r = f(&mut v);
        self.raw.set(v);
        r
    }

    /// The lock every access takes (Python's `get_lock()`). It is not
    /// recursive: while you hold it, use [`get_obj`](Self::get_obj), not
    /// this value's own methods (which would wait for it).
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// The unlocked value underneath (Python's `get_obj()`).
    pub fn get_obj(&self) -> &RawValue<T> {
        &self.raw
    }

    fn guard(&self) -> LockGuard<'_> {
        self.lock.lock_recover().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduction::{collect_fds, with_fds};

    /// Encodes `value` as for a child and decodes it as a `D`.
    fn send_as<D: serde::de::DeserializeOwned>(value: &impl Serialize) -> bool {
        let (bytes, fds) = collect_fds(|| postcard::to_allocvec(value).unwrap());
        with_fds(fds, || postcard::from_bytes::<D>(&bytes)).is_ok()
    }

    #[test]
    fn copies_in_and_out() {
        let a = RawArray::from_slice(&[1u16, 2, 3]).unwrap();
        a.set(1, 20).unwrap();
        assert_eq!(a.get(1).unwrap(), 20);
        assert!(a.get(3).is_err() && a.set(3, 0).is_err());
        a.copy_from_slice(&[7, 8, 9]).unwrap();
        assert!(a.copy_from_slice(&[1]).is_err());
        assert_eq!(a.to_vec(), [7, 8, 9]);
        // Every unit width, and a type larger than its alignment.
        let odd = RawArray::new([1u8, 2, 3], 5).unwrap();
        odd.set(4, [9, 9, 9]).unwrap();
        assert_eq!(odd.to_vec()[3..], [[1, 2, 3], [9, 9, 9]]);
        let wide = RawValue::new(u128::MAX - 5).unwrap();
        assert_eq!(wide.get(), u128::MAX - 5);
        let c = Value::new('é').unwrap();
        c.update(|x| *x = 'ß');
        assert_eq!(c.get(), 'ß');
        assert!(RawArray::<u64>::from_slice(&[])
            .unwrap()
            .to_vec()
            .is_empty());
    }

    #[test]
    fn locked_update_runs_on_a_copy_written_back() {
        let a = Array::from_slice(&[1i32, 2, 3]).unwrap();
        assert_eq!(a.update(|s| s.iter().sum::<i32>()), 6);
        a.update(|s| s.iter_mut().for_each(|x| *x = -*x));
        assert_eq!(a.to_vec(), [-1, -2, -3]);
        // A panic writes nothing back and releases the lock.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a.update(|s| {
                s[0] = 100;
                panic!("midway")
            })
        }));
        assert!(r.is_err());
        assert_eq!(a.to_vec(), [-1, -2, -3]);
        assert!(a.get_lock().acquire(false, None).unwrap(), "released");
        // Under the lock, the raw array underneath.
        let raw = a.get_obj();
        raw.set(0, raw.get(0).unwrap() * 10).unwrap();
        a.get_lock().release().unwrap();
        assert_eq!(a.get(0).unwrap(), -10);
    }

    #[test]
    fn racing_raw_writes_never_tear_a_value() {
        let (n, c) = (RawValue::new(0u64).unwrap(), RawValue::new('a').unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (n, c, stop) = (n.clone(), c.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut flip = false;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n.set(if flip { u64::MAX } else { 0 });
                    c.set(if flip { '\u{10FFFF}' } else { 'a' });
                    flip = !flip;
                }
            })
        };
        let mut seen_max = 0;
        for _ in 0..200_000 {
            let x = n.get();
            assert!(x == 0 || x == u64::MAX, "torn u64 {x:#x}");
            seen_max += (x == u64::MAX) as u32;
            let ch = c.get();
            assert!(
                ch == 'a' || ch == '\u{10FFFF}',
                "torn char {:#x}",
                ch as u32
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seen_max > 0, "the writer never ran");
    }

    #[test]
    fn a_length_past_the_region_is_refused() {
        let a = RawArray::new(0u64, 4).unwrap();
        assert!(send_as::<RawArray<u64>>(&a));
        // Four u64s do not make eight, nor four u128s.
        assert!(!send_as::<RawArray<u64>>(&(&a.region, 8u64)));
        assert!(!send_as::<RawArray<u128>>(&a));
        assert!(!send_as::<RawArray<u64>>(&(&a.region, u64::MAX)));
        // A value is one element.
        assert!(!send_as::<RawValue<u64>>(&a));
        assert!(send_as::<RawValue<u64>>(&RawValue::new(1u64).unwrap()));
        assert!(send_as::<Value<u64>>(&Value::new(1u64).unwrap()));
    }
}
