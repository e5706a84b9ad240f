//! The value model: what a pickle decodes to, and what [`dumps`](super::dumps) encodes.
//!
//! A tree, not a graph: shared references in a pickle become copies and cycles
//! are refused (see [`loads`](super::loads)). Everything that would run code in
//! Python (a class, a function call, an object built from its class) is an
//! inert node that only *names* the Python callable.

use std::borrow::Cow;
use std::fmt;

/// A Python object, as far as a non-executing unpickler can know it.
///
/// Dicts keep their insertion order and accept any key (tuples, floats,
/// globals...): they are an ordered vector of pairs, not a map. Sets are
/// vectors too, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in an `i64`.
    Int(i64),
    /// An `int` that does not fit in an `i64`: two's-complement, little-endian,
    /// minimal (the bytes of the LONG1/LONG4 opcodes). Build one with
    /// [`Value::int_from_le_bytes`], which normalises to [`Value::Int`] when it fits.
    BigInt(Vec<u8>),
    /// A `float`.
    Float(f64),
    /// A `str`, lossless even for lone surrogates.
    Str(PyStr),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A `list`.
    List(Vec<Value>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A `set`, in wire order.
    Set(Vec<Value>),
    /// A `frozenset`, in wire order.
    FrozenSet(Vec<Value>),
    /// A reference to a module attribute (a class or a function), never imported.
    Global {
        /// The module, e.g. `builtins`.
        module: String,
        /// The (qualified) name inside the module, e.g. `KeyError`.
        name: String,
    },
    /// `callable(*args)` (REDUCE), with the state BUILD attached, if any. Nothing was called.
    Reduce {
        /// What Python would call, usually a [`Value::Global`].
        callable: Box<Value>,
        /// The arguments, usually a [`Value::Tuple`].
        args: Box<Value>,
        /// The BUILD state (`__setstate__` argument or instance dict).
        state: Option<Box<Value>>,
    },
    /// `cls.__new__(cls, *args, **kwargs)` (NEWOBJ / NEWOBJ_EX), with the BUILD state.
    Object {
        /// The class, usually a [`Value::Global`].
        class: Box<Value>,
        /// The positional arguments, usually a [`Value::Tuple`].
        args: Box<Value>,
        /// The keyword arguments: `Some` only for NEWOBJ_EX.
        kwargs: Option<Box<Value>>,
        /// The BUILD state.
        state: Option<Box<Value>>,
    },
}

impl Value {
    /// A `str` value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(PyStr::from(s.into()))
    }

    /// A [`Value::Global`].
    pub fn global(module: impl Into<String>, name: impl Into<String>) -> Value {
        Value::Global {
            module: module.into(),
            name: name.into(),
        }
    }

    /// An exception instance as CPython pickles it: `module.name(*args)`.
    pub fn new_exception(module: &str, name: &str, args: Vec<Value>) -> Value {
        Value::Reduce {
            callable: Box::new(Value::global(module, name)),
            args: Box::new(Value::Tuple(args)),
            state: None,
        }
    }

    /// An `int` from two's-complement little-endian bytes (any length; empty is 0):
    /// [`Value::Int`] when it fits in an `i64`, else a minimal [`Value::BigInt`].
    pub fn int_from_le_bytes(bytes: &[u8]) -> Value {
        let min = minimal_twos(bytes);
        if min.len() <= 8 {
            let fill = if min.last().is_some_and(|b| b & 0x80 != 0) {
                0xff
            } else {
                0
            };
            let mut buf = [fill; 8];
            buf[..min.len()].copy_from_slice(min);
            Value::Int(i64::from_le_bytes(buf))
        } else {
            Value::BigInt(min.to_vec())
        }
    }

    /// An `int` from an `i128` ([`Value::Int`] when it fits in an `i64`).
    pub fn from_i128(v: i128) -> Value {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::int_from_le_bytes(&v.to_le_bytes()),
        }
    }

    /// An `int` from a `u128` ([`Value::Int`] when it fits in an `i64`).
    pub fn from_u128(v: u128) -> Value {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => {
                let mut b = v.to_le_bytes().to_vec();
                b.push(0); // sign byte: the value is positive
                Value::int_from_le_bytes(&b)
            }
        }
    }

    /// The integer as an `i128`, for [`Value::Int`] and [`Value::BigInt`] that fit.
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(i128::from(*i)),
            Value::BigInt(b) => {
                let min = minimal_twos(b);
                if min.len() > 16 {
                    return None;
                }
                let fill = if min.last().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut buf = [fill; 16];
                buf[..min.len()].copy_from_slice(min);
                Some(i128::from_le_bytes(buf))
            }
            _ => None,
        }
    }

    /// The integer as a `u128`, for non-negative [`Value::Int`] and [`Value::BigInt`] that fit.
    pub fn as_u128(&self) -> Option<u128> {
        match self {
            Value::Int(i) => u128::try_from(*i).ok(),
            Value::BigInt(b) => {
                let min = minimal_twos(b);
                if min.last().is_some_and(|b| b & 0x80 != 0) {
                    return None; // negative
                }
                // A positive 128-bit value may need a 17th (sign) byte.
                let digits = if min.len() == 17 && min[16] == 0 {
                    &min[..16]
                } else {
                    min
                };
                if digits.len() > 16 {
                    return None;
                }
                let mut buf = [0u8; 16];
                buf[..digits.len()].copy_from_slice(digits);
                Some(u128::from_le_bytes(buf))
            }
            _ => None,
        }
    }

    /// The value of an `int` in decimal, whatever its size.
    pub fn int_to_decimal(&self) -> Option<String> {
        match self {
            Value::Int(i) => Some(i.to_string()),
            Value::BigInt(b) => Some(twos_to_decimal(b)),
            _ => None,
        }
    }

    /// The text of a [`Value::Str`] when it is valid UTF-8 (no lone surrogates).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => s.as_str(),
            _ => None,
        }
    }

    /// The items of a tuple, list, set or frozenset.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) | Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    /// The value for a `str` key of a [`Value::Dict`] (the first such key).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// `(real, imag)` of a `complex`, which pickles as `builtins.complex(real, imag)`.
    pub fn as_complex(&self) -> Option<(f64, f64)> {
        let Value::Reduce {
            callable,
            args,
            state: None,
        } = self
        else {
            return None;
        };
        if !callable.is_global("builtins", "complex") {
            return None;
        }
        let num = |v: &Value| match v {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        };
        match args.as_seq()? {
            [] => Some((0.0, 0.0)),
            [re] => Some((num(re)?, 0.0)),
            [re, im] => Some((num(re)?, num(im)?)),
            _ => None,
        }
    }

    /// Whether this is the [`Value::Global`] `module.name`.
    pub fn is_global(&self, module: &str, name: &str) -> bool {
        matches!(self, Value::Global { module: m, name: n } if m == module && n == name)
    }

    /// `(module, name, args)` if this value looks like an exception instance:
    /// a [`Value::Reduce`] of a [`Value::Global`] whose name ends in `Error`,
    /// `Exception` or `Warning`, or is one of the non-error exceptions
    /// multiprocessing sends (`_queue.Empty`, `queue.Empty`, `queue.Full`,
    /// `queue.ShutDown`, `builtins.StopIteration`, `builtins.KeyboardInterrupt`,
    /// `builtins.SystemExit`, `builtins.GeneratorExit`). A BUILD state
    /// (3.12+ `AttributeError`, `add_note`) is allowed and ignored here.
    ///
    /// This is an interpretation of names, not a check of the class hierarchy:
    /// nothing is imported.
    pub fn exception(&self) -> Option<(&str, &str, &[Value])> {
        let Value::Reduce { callable, args, .. } = self else {
            return None;
        };
        let Value::Global { module, name } = &**callable else {
            return None;
        };
        let args = match &**args {
            Value::Tuple(a) => a.as_slice(),
            _ => return None,
        };
        let last = name.rsplit('.').next().unwrap_or(name);
        let by_suffix = ["Error", "Exception", "Warning"]
            .iter()
            .any(|s| last.ends_with(s));
        let known = matches!(
            (module.as_str(), name.as_str()),
            ("_queue", "Empty")
                | ("queue", "Empty" | "Full" | "ShutDown")
                | (
                    "builtins",
                    "StopIteration" | "StopAsyncIteration" | "KeyboardInterrupt"
                )
                | ("builtins", "SystemExit" | "GeneratorExit" | "BaseException")
        );
        (by_suffix || known).then_some((module.as_str(), name.as_str(), args))
    }

    /// Calls `f` with each value directly inside this one, in order: the
    /// items of a sequence or set, each key then its value, a reduction's
    /// callable, arguments and state, an object's class, arguments, keyword
    /// arguments and state.
    pub fn for_each_child<'a>(&'a self, f: &mut dyn FnMut(&'a Value)) {
        match self {
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => items.iter().for_each(f),
            Value::Dict(pairs) => {
                for (k, v) in pairs {
                    f(k);
                    f(v);
                }
            }
            Value::Reduce {
                callable,
                args,
                state,
            } => {
                f(callable);
                f(args);
                state.iter().for_each(|s| f(s));
            }
            Value::Object {
                class,
                args,
                kwargs,
                state,
            } => {
                f(class);
                f(args);
                kwargs.iter().chain(state).for_each(|s| f(s));
            }
            _ => {}
        }
    }

    /// [`for_each_child`](Self::for_each_child), for changing them.
    pub fn for_each_child_mut(&mut self, f: &mut dyn FnMut(&mut Value)) {
        match self {
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => items.iter_mut().for_each(f),
            Value::Dict(pairs) => {
                for (k, v) in pairs {
                    f(k);
                    f(v);
                }
            }
            Value::Reduce {
                callable,
                args,
                state,
            } => {
                f(callable);
                f(args);
                state.iter_mut().for_each(|s| f(s));
            }
            Value::Object {
                class,
                args,
                kwargs,
                state,
            } => {
                f(class);
                f(args);
                kwargs.iter_mut().chain(state).for_each(|s| f(s));
            }
            _ => {}
        }
    }

    /// A short name of the kind of value, for error messages (`"int"`, `"list"`, `"global"`...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Global { .. } => "global",
            Value::Reduce { .. } => "reduce (object built by a call)",
            Value::Object { .. } => "object (built by cls.__new__)",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// Strip redundant sign-extension bytes from a two's-complement little-endian number.
pub(crate) fn minimal_twos(bytes: &[u8]) -> &[u8] {
    let mut n = bytes.len();
    while n > 1 {
        let (top, next) = (bytes[n - 1], bytes[n - 2]);
        if (top == 0 && next & 0x80 == 0) || (top == 0xff && next & 0x80 != 0) {
            n -= 1;
        } else {
            break;
        }
    }
    if n == 1 && bytes[0] == 0 {
        n = 0; // CPython encodes 0 as zero bytes in LONG1
    }
    &bytes[..n]
}

/// Decimal text of a two's-complement little-endian number of any size.
fn twos_to_decimal(bytes: &[u8]) -> String {
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    // Magnitude, little-endian.
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        // Two's-complement negation: invert and add one.
        let mut carry = true;
        for b in &mut mag {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    // Repeated division by 10^9 on big-endian u32 limbs.
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .rev()
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    let mut parts = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in &mut limbs {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        parts.push(rem as u32);
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    match parts.split_last() {
        None => out.push('0'),
        Some((first, rest)) => {
            out.push_str(&first.to_string());
            for p in rest.iter().rev() {
                out.push_str(&format!("{p:09}"));
            }
        }
    }
    out
}

/// A Python `str`: UTF-8 text that may also hold lone surrogates (U+D800–U+DFFF).
///
/// Stored exactly as pickle puts it on the wire: UTF-8 with CPython's
/// `surrogatepass` error handler, where each surrogate code point is the
/// three bytes `ED A0..BF 80..BF` (a surrogate *pair* stays two separate
/// three-byte sequences, as in Python's string). Round trips are lossless;
/// [`PyStr::as_str`] gives the `&str` when there is no surrogate.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PyStr {
    bytes: Vec<u8>,
    surrogates: bool,
}

impl PyStr {
    /// Validate `surrogatepass` UTF-8. On failure, returns the offset of the first bad byte.
    pub fn from_surrogatepass(bytes: Vec<u8>) -> Result<PyStr, usize> {
        if bytes.is_ascii() {
            // The common case, told cheaper than by `from_utf8`.
            return Ok(PyStr {
                bytes,
                surrogates: false,
            });
        }
        let mut pos = 0;
        let mut surrogates = false;
        while pos < bytes.len() {
            match std::str::from_utf8(&bytes[pos..]) {
                Ok(_) => break,
                Err(e) => {
                    let bad = pos + e.valid_up_to();
                    if is_surrogate_at(&bytes, bad) {
                        surrogates = true;
                        pos = bad + 3;
                    } else {
                        return Err(bad);
                    }
                }
            }
        }
        Ok(PyStr { bytes, surrogates })
    }

    /// The text, when it has no lone surrogate.
    pub fn as_str(&self) -> Option<&str> {
        if self.surrogates {
            None
        } else {
            // SAFETY: every constructor (`from_surrogatepass`, `From<String>`,
            // `From<&str>`, `Default`) leaves `bytes` valid UTF-8 when
            // `surrogates` is false, and nothing mutates them afterwards.
            Some(unsafe { std::str::from_utf8_unchecked(&self.bytes) })
        }
    }

    /// The text as a `String` (no copy), when it has no lone surrogate.
    pub fn into_string(self) -> Result<String, PyStr> {
        if self.surrogates {
            return Err(self);
        }
        // SAFETY: as in `as_str`.
        Ok(unsafe { String::from_utf8_unchecked(self.bytes) })
    }

    /// The text with every surrogate replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// Whether the string holds at least one lone surrogate.
    pub fn has_surrogates(&self) -> bool {
        self.surrogates
    }

    /// The `surrogatepass` UTF-8 bytes (what pickle writes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The code points, surrogates included.
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let b = &self.bytes;
            if pos >= b.len() {
                return None;
            }
            let lead = b[pos];
            let (len, init) = match lead {
                0x00..=0x7f => (1, u32::from(lead)),
                0xc0..=0xdf => (2, u32::from(lead & 0x1f)),
                0xe0..=0xef => (3, u32::from(lead & 0x0f)),
                _ => (4, u32::from(lead & 0x07)),
            };
            let cp = b[pos + 1..pos + len]
                .iter()
                .fold(init, |acc, c| (acc << 6) | u32::from(c & 0x3f));
            pos += len;
            Some(cp)
        })
    }

    /// Length in code points, as Python's `len()`.
    pub fn len(&self) -> usize {
        self.code_points().count()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn is_surrogate_at(b: &[u8], i: usize) -> bool {
    i + 2 < b.len()
        && b[i] == 0xed
        && (0xa0..=0xbf).contains(&b[i + 1])
        && (0x80..=0xbf).contains(&b[i + 2])
}

impl From<String> for PyStr {
    fn from(s: String) -> PyStr {
        PyStr {
            bytes: s.into_bytes(),
            surrogates: false,
        }
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> PyStr {
        PyStr::from(s.to_owned())
    }
}

impl PartialEq<str> for PyStr {
    fn eq(&self, other: &str) -> bool {
        self.bytes == other.as_bytes()
    }
}

impl PartialEq<&str> for PyStr {
    fn eq(&self, other: &&str) -> bool {
        self.bytes == other.as_bytes()
    }
}

impl fmt::Debug for PyStr {
    /// Like a Rust string literal, with surrogates written `\u{d800}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => {
                f.write_str("\"")?;
                for cp in self.code_points() {
                    match char::from_u32(cp) {
                        Some(c) => write!(f, "{}", c.escape_debug())?,
                        None => write!(f, "\\u{{{cp:x}}}")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for PyStr {
    /// The text, surrogates replaced by U+FFFD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_normalise() {
        assert_eq!(Value::int_from_le_bytes(&[]), Value::Int(0));
        assert_eq!(Value::int_from_le_bytes(&[0xff, 0xff]), Value::Int(-1));
        assert_eq!(
            Value::from_u128(1 << 63),
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0])
        );
        assert_eq!(
            Value::from_i128(-(1 << 64)),
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 0xff])
        );
        assert_eq!(Value::from_u128(u128::MAX).as_u128(), Some(u128::MAX));
        assert_eq!(Value::from_i128(i128::MIN).as_i128(), Some(i128::MIN));
        assert_eq!(
            Value::from_u128(u128::MAX).int_to_decimal().unwrap(),
            u128::MAX.to_string()
        );
        assert_eq!(
            Value::from_i128(i128::MIN).int_to_decimal().unwrap(),
            i128::MIN.to_string()
        );
        assert_eq!(
            Value::from_i128(-(1 << 64)).int_to_decimal().unwrap(),
            "-18446744073709551616"
        );
    }

    #[test]
    fn surrogates() {
        let s = PyStr::from_surrogatepass(vec![b'a', 0xed, 0xa0, 0x80]).unwrap();
        assert!(s.has_surrogates());
        assert_eq!(s.as_str(), None);
        assert_eq!(s.code_points().collect::<Vec<_>>(), vec![0x61, 0xd800]);
        assert_eq!(format!("{s:?}"), "\"a\\u{d800}\"");
        assert_eq!(PyStr::from_surrogatepass(vec![b'a', 0xff]), Err(1));
        assert_eq!(PyStr::from_surrogatepass(vec![0xed, 0xa0]), Err(0));
        assert_eq!(PyStr::from("héllo").len(), 5);
    }
}
