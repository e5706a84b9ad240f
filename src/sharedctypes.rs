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
//! # Caveats
//! - Only plain data can be shared: types implementing [`Shareable`]
//!   (numbers, `bool`, `char`, arrays of them; implement it for your own
//!   `#[repr(C)]` structs of such fields). A pointer, `String` or `Vec`
//!   would point into one process's memory only.
//! - `get`/`set` of a `Value` with a lock take the lock for each call; a
//!   read-modify-write (`value += 1`) needs [`Value::update`] (Python's
//!   `with v.get_lock(): v.value += 1`).
//! - A process that dies holding a `Value`'s or `Array`'s lock does not
//!   block the others: the next access takes the lock over (see
//!   [`crate::synchronize`]). What the dead process was writing may be
//!   half written.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::shared_memory::Region;
use crate::synchronize::Lock;

/// Plain data that means the same in every process: no pointers, no
/// references, no handles, valid for every bit pattern that its own writes
/// can produce.
///
/// # Safety
/// Implement it only for `Copy` types made of such fields (`#[repr(C)]`
/// structs of numbers, fixed arrays of them).
pub unsafe trait Shareable: Copy + Send + Sync + 'static {}

macro_rules! shareable {
    ($($t:ty),*) => { $(
        // SAFETY: a plain number (or bool/char), the same in every process.
        unsafe impl Shareable for $t {}
    )* };
}
shareable!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char);
// SAFETY: an array of plain data is plain data.
unsafe impl<T: Shareable, const N: usize> Shareable for [T; N] {}

/// `len` values of `T` in a new shared region, initialized from `init`.
fn region_for<T: Shareable>(init: &[T]) -> Result<Region> {
    let bytes = std::mem::size_of_val(init);
    if std::mem::align_of::<T>() > 4096 {
        return Err(Error::ProcessState("alignment above a page".into()));
    }
    let region = Region::new(bytes)?;
    // SAFETY: the region holds at least `bytes` bytes, page-aligned (enough
    // for T), and nobody else can see it yet.
    unsafe {
        std::ptr::copy_nonoverlapping(init.as_ptr(), region.as_ptr().cast::<T>(), init.len())
    };
    Ok(region)
}

/// Python's `multiprocessing.Array(typecode, ...)`: `len` values of `T` in
/// shared memory, with a lock (`lock: true`, the default of [`Array::new`])
/// or without ([`RawArray`]).
#[derive(Clone, Serialize, Deserialize)]
pub struct Array<T> {
    region: Region,
    len: usize,
    lock: Option<Lock>,
    _t: PhantomData<T>,
}

/// Python's `RawArray`: an [`Array`] without a lock.
pub type RawArray<T> = Array<T>;
/// Python's `RawValue`: a [`Value`] without a lock.
pub type RawValue<T> = Value<T>;

impl<T: Shareable> Array<T> {
    /// A shared copy of `init`, with a lock.
    pub fn from_slice(init: &[T]) -> Result<Array<T>> {
        Ok(Array {
            region: region_for(init)?,
            len: init.len(),
            lock: Some(Lock::new()?),
            _t: PhantomData,
        })
    }

    /// `len` copies of `value`, with a lock.
    pub fn new(value: T, len: usize) -> Result<Array<T>> {
        Array::from_slice(&vec![value; len])
    }

    /// Python's `RawArray`: a shared copy of `init`, without a lock.
    pub fn raw(init: &[T]) -> Result<RawArray<T>> {
        Ok(Array {
            region: region_for(init)?,
            len: init.len(),
            lock: None,
            _t: PhantomData,
        })
    }

    /// The lock (None for a raw array).
    pub fn get_lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
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
            Err(Error::ProcessState(format!(
                "index {i} out of range for an array of {}",
                self.len
            )))
        }
    }

    /// Element `i` (taking the lock, if any, for the read).
    pub fn get(&self, i: usize) -> Result<T> {
        self.check(i)?;
        let _g = self.guard();
        // SAFETY: in range; T is plain data; concurrent writers are the
        // user's affair (volatile so each read really reads shared memory).
        Ok(unsafe { self.ptr().add(i).read_volatile() })
    }

    /// Sets element `i` (under the lock, if any).
    pub fn set(&self, i: usize, v: T) -> Result<()> {
        self.check(i)?;
        let _g = self.guard();
        // SAFETY: as in `get`.
        unsafe { self.ptr().add(i).write_volatile(v) };
        Ok(())
    }

    /// A copy of every element (under the lock, if any).
    pub fn to_vec(&self) -> Vec<T> {
        let _g = self.guard();
        // SAFETY: the region holds `len` initialized values of plain data.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len).to_vec() }
    }

    /// Runs `f` on the elements with the lock held (if any): Python's
    /// `with arr.get_lock(): ...`.
    pub fn update<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        let _g = self.guard();
        // SAFETY: `len` initialized values; other processes' access is
        // excluded by the lock (for a raw array, by the caller).
        f(unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) })
    }

    /// The lock, taken over from a dead holder if need be (see the caveats).
    fn guard(&self) -> Option<crate::synchronize::LockGuard<'_>> {
        self.lock.as_ref().map(|l| l.lock_recover().0)
    }
}

/// Python's `multiprocessing.Value(typecode, value)`: one `T` in shared
/// memory, with a lock ([`Value::new`]) or without ([`Value::raw`]).
#[derive(Clone, Serialize, Deserialize)]
pub struct Value<T> {
    array: Array<T>,
}

impl<T: Shareable> Value<T> {
    /// A shared value with a lock.
    pub fn new(v: T) -> Result<Value<T>> {
        Ok(Value {
            array: Array::from_slice(&[v])?,
        })
    }

    /// Python's `RawValue`: without a lock.
    pub fn raw(v: T) -> Result<RawValue<T>> {
        Ok(Value {
            array: Array::raw(&[v])?,
        })
    }

    /// The value (Python's `v.value`).
    pub fn get(&self) -> T {
        self.array.update(|s| s[0])
    }

    /// Sets the value.
    pub fn set(&self, v: T) {
        self.array.update(|s| s[0] = v);
    }

    /// Read-modify-write under the lock: `v.update(|x| *x += 1)`.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.array.update(|s| f(&mut s[0]))
    }

    /// The lock (None for a raw value).
    pub fn get_lock(&self) -> Option<&Lock> {
        self.array.get_lock()
    }
}
