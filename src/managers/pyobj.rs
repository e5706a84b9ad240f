//! Python's rules for the values a manager holds, where a client can see
//! them: equality and hashing (so dict keys behave as in CPython:
//! `1 == 1.0 == True`, `'a' != b'a'`, tuples by their items), `repr`
//! byte-identical to CPython's for the values that travel in pickles, and
//! [`PyDict`], an insertion-ordered dict with O(1) get, set and delete.
//!
//! Values are [`pickle::Value`](crate::pickle::Value)s. Objects the
//! unpickler keeps as inert data (a `Reduce` or `Object`, e.g. a pickled
//! `datetime`) compare and hash by their pickled structure: equal pickles
//! are equal keys. CPython would use the class's own `__eq__`, which for
//! value types such as `datetime` or `Decimal` gives the same answer.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use super::proxyref::proxy_ref;
use crate::pickle::Value;

/// A value that cannot be a dict key (Python's `TypeError: unhashable type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhashable(pub &'static str);

impl std::fmt::Display for Unhashable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unhashable type: '{}'", self.0)
    }
}

impl std::error::Error for Unhashable {}

/// A number as Python compares it: an integer (bools included) or a float.
enum Num {
    Int(i128),
    /// An int beyond i128, as its decimal digits (compares only to itself).
    Big(String),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    Some(match v {
        Value::Bool(b) => Num::Int(i128::from(*b)),
        Value::Int(i) => Num::Int(i128::from(*i)),
        Value::BigInt(_) => match v.as_i128() {
            Some(i) => Num::Int(i),
            None => Num::Big(v.int_to_decimal()?),
        },
        Value::Float(f) => Num::Float(*f),
        _ => return None,
    })
}

/// An integral float as an i128, when it is one and fits.
fn float_as_int(f: f64) -> Option<i128> {
    // 2^127: every integral f64 below it in magnitude fits exactly.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    (f.fract() == 0.0 && f.abs() < LIMIT).then_some(f as i128)
}

fn num_eq(a: &Num, b: &Num) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Big(x), Num::Big(y)) => x == y,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => float_as_int(*f) == Some(*i),
        _ => false,
    }
}

/// `a == b` as Python computes it for these values.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return num_eq(&x, &y);
    }
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        // bytes == bytearray with the same contents.
        (Value::Bytes(x) | Value::ByteArray(x), Value::Bytes(y) | Value::ByteArray(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => seq_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| py_eq(k, k2) && py_eq(v, v2)))
        }
        // set == frozenset with the same members.
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().all(|e| y.iter().any(|f| py_eq(e, f)))
        }
        (
            Value::Global { module, name },
            Value::Global {
                module: m2,
                name: n2,
            },
        ) => module == m2 && name == n2,
        // A proxy is a new object each time one arrives, and proxies
        // compare by identity: never equal to anything that travelled.
        (Value::Reduce { .. }, Value::Reduce { .. })
            if proxy_ref(a).is_some() || proxy_ref(b).is_some() =>
        {
            false
        }
        (Value::Reduce { .. }, Value::Reduce { .. })
        | (Value::Object { .. }, Value::Object { .. }) => struct_eq(a, b),
        _ => false,
    }
}

fn seq_eq(x: &[Value], y: &[Value]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
}

/// Structural equality for inert objects (their pickled form).
fn struct_eq(a: &Value, b: &Value) -> bool {
    let opt = |x: &Option<Box<Value>>, y: &Option<Box<Value>>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => py_eq(x, y),
        _ => false,
    };
    match (a, b) {
        (
            Value::Reduce {
                callable,
                args,
                state,
            },
            Value::Reduce {
                callable: c2,
                args: a2,
                state: s2,
            },
        ) => py_eq(callable, c2) && py_eq(args, a2) && opt(state, s2),
        (
            Value::Object {
                class,
                args,
                kwargs,
                state,
            },
            Value::Object {
                class: c2,
                args: a2,
                kwargs: k2,
                state: s2,
            },
        ) => py_eq(class, c2) && py_eq(args, a2) && opt(kwargs, k2) && opt(state, s2),
        _ => false,
    }
}

/// A hash consistent with [`py_eq`] (equal values hash alike); an error for
/// the types Python refuses as keys (`list`, `dict`, `set`, `bytearray`).
/// The numbers are not CPython's own hashes: nothing on the wire shows them.
///
/// Seeded at random once per process (foldhash's quality hasher): the
/// dicts index by this number as is, so a client cannot choose keys that
/// collide in them without knowing the seed.
pub fn py_hash(v: &Value) -> Result<u64, Unhashable> {
    static STATE: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    let mut h = STATE.get_or_init(Default::default).build_hasher();
    hash_into(v, &mut h)?;
    Ok(h.finish())
}

/// The hasher of [`PyDict`]'s index: its keys are [`py_hash`]es, already
/// seeded and mixed, so they are used as they are (hashing them again
/// doubled the cost of a lookup).
#[derive(Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; anything else is folded in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Index = HashMap<u64, Positions, std::hash::BuildHasherDefault<AsIs>>;

fn hash_into(v: &Value, h: &mut impl Hasher) -> Result<(), Unhashable> {
    if let Some(n) = num(v) {
        match n {
            Num::Int(i) => (0u8, i).hash(h),
            Num::Big(d) => (1u8, d).hash(h),
            Num::Float(f) => match float_as_int(f) {
                Some(i) => (0u8, i).hash(h),
                // -0.0 == 0.0 is covered above (integral); NaN hashes by bits.
                None => (2u8, f.to_bits()).hash(h),
            },
        }
        return Ok(());
    }
    match v {
        Value::None => 3u8.hash(h),
        Value::Str(s) => (4u8, s.as_bytes()).hash(h),
        Value::Bytes(b) => (5u8, b).hash(h),
        Value::Tuple(items) => {
            (6u8, items.len()).hash(h);
            for i in items {
                hash_into(i, h)?;
            }
        }
        Value::FrozenSet(items) => {
            // Order-free: a sum of the members' own hashes.
            let mut sum = 0u64;
            for i in items {
                sum = sum.wrapping_add(py_hash(i)?);
            }
            (7u8, items.len(), sum).hash(h);
        }
        Value::Global { module, name } => (8u8, module, name).hash(h),
        // A proxy hashes by identity in Python: by what it names here (it
        // is equal to nothing anyway).
        Value::Reduce { .. } if proxy_ref(v).is_some() => {
            if let Some(p) = proxy_ref(v) {
                (11u8, p.typeid, p.id).hash(h);
            }
        }
        Value::Reduce {
            callable,
            args,
            state,
        } => {
            9u8.hash(h);
            hash_into(callable, h)?;
            hash_into(args, h)?;
            if let Some(s) = state {
                hash_into(s, h)?;
            }
        }
        Value::Object {
            class,
            args,
            kwargs,
            state,
        } => {
            10u8.hash(h);
            hash_into(class, h)?;
            hash_into(args, h)?;
            for s in [kwargs, state].into_iter().flatten() {
                hash_into(s, h)?;
            }
        }
        Value::List(_) => return Err(Unhashable("list")),
        Value::Dict(_) => return Err(Unhashable("dict")),
        Value::Set(_) => return Err(Unhashable("set")),
        Value::ByteArray(_) => return Err(Unhashable("bytearray")),
        Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
            unreachable!("numbers are hashed above")
        }
    }
    Ok(())
}

/// `repr(f)` for a float, as CPython writes it: the shortest digits that
/// read back the same, in fixed notation for 1e-4 <= |f| < 1e16 (always with
/// a fraction: `1.0`), else `1e+16` / `1.5e-05`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-5".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let e_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{e_sign}{:02}", exp.abs())
    }
}

/// Whether CPython's `str.isprintable()` holds for this code point.
fn printable(cp: u32) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    if cp == 0x20 {
        return true;
    }
    let Some(c) = char::from_u32(cp) else {
        return false; // a lone surrogate (Cs)
    };
    !matches!(
        get_general_category(c),
        G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::SpaceSeparator
    )
}

/// `repr(s)` for a `str`, as CPython writes it.
fn str_repr(s: &crate::pickle::PyStr, out: &mut String) {
    let has_single = s.code_points().any(|c| c == u32::from(b'\''));
    let has_double = s.code_points().any(|c| c == u32::from(b'"'));
    let quote = if has_single && !has_double { '"' } else { '\'' };
    out.push(quote);
    for cp in s.code_points() {
        match cp {
            0x5c => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            c if c == quote as u32 => {
                out.push('\\');
                out.push(quote);
            }
            c if c < 0x20 || c == 0x7f => out.push_str(&format!("\\x{c:02x}")),
            c if c < 0x7f => out.push(char::from_u32(c).unwrap_or('?')),
            c if printable(c) => out.push(char::from_u32(c).unwrap_or('?')),
            c if c <= 0xff => out.push_str(&format!("\\x{c:02x}")),
            c if c <= 0xffff => out.push_str(&format!("\\u{c:04x}")),
            c => out.push_str(&format!("\\U{c:08x}")),
        }
    }
    out.push(quote);
}

/// `repr(b)` for `bytes`, as CPython writes it (`b'...'`).
fn bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote as u8 => {
                out.push('\\');
                out.push(quote);
            }
            c if !(0x20..0x7f).contains(&c) => out.push_str(&format!("\\x{c:02x}")),
            c => out.push(c as char),
        }
    }
    out.push(quote);
}

fn join_repr(items: &[Value], out: &mut String) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr_into(v, out);
    }
}

/// `repr(v)` as CPython writes it, for the values pickles carry. Objects
/// kept as inert data show as exceptions do (`KeyError('k')`) when they are
/// one, else as `<module.name object>`.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    repr_into(v, &mut out);
    out
}

/// `str(v)`: a `str` is itself, anything else its [`py_repr`].
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string_lossy().into_owned(),
        v => py_repr(v),
    }
}

fn repr_into(v: &Value, out: &mut String) {
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::BigInt(_) => out.push_str(&v.int_to_decimal().unwrap_or_default()),
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::Str(s) => str_repr(s, out),
        Value::Bytes(b) => bytes_repr(b, out),
        Value::ByteArray(b) => {
            out.push_str("bytearray(");
            bytes_repr(b, out);
            out.push(')');
        }
        Value::Tuple(items) => {
            out.push('(');
            join_repr(items, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::List(items) => {
            out.push('[');
            join_repr(items, out);
            out.push(']');
        }
        Value::Dict(pairs) => {
            out.push('{');
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(k, out);
                out.push_str(": ");
                repr_into(val, out);
            }
            out.push('}');
        }
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => {
            out.push('{');
            join_repr(items, out);
            out.push('}');
        }
        Value::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
        Value::FrozenSet(items) => {
            out.push_str("frozenset({");
            join_repr(items, out);
            out.push_str("})");
        }
        Value::Global { module, name } if module == "builtins" => {
            out.push_str(&format!("<class '{name}'>"));
        }
        Value::Global { module, name } => out.push_str(&format!("<class '{module}.{name}'>")),
        Value::Object {
            class,
            state: Some(state),
            ..
        } if class.is_global("multiprocessing.managers", "Value") => {
            // `Value(typecode, value)`, as managers.Value.__repr__ writes it.
            out.push_str("Value(");
            repr_into(state.get("_typecode").unwrap_or(&Value::None), out);
            out.push_str(", ");
            repr_into(state.get("_value").unwrap_or(&Value::None), out);
            out.push(')');
        }
        Value::Object {
            class,
            state: Some(state),
            ..
        } if class.is_global("multiprocessing.managers", "Namespace") => {
            // `Namespace(a=1, b=2)`: public names, sorted as text.
            let mut parts: Vec<String> = match &**state {
                Value::Dict(pairs) => pairs
                    .iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?;
                        (!name.starts_with('_')).then(|| format!("{name}={}", py_repr(v)))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            parts.sort();
            out.push_str(&format!("Namespace({})", parts.join(", ")));
        }
        Value::Reduce { .. } if proxy_ref(v).is_some() => {
            if let Some(p) = proxy_ref(v) {
                // BaseProxy.__repr__; the address is the proxy's in CPython's
                // server, here the id it names.
                let at = if !p.id.is_empty() && p.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    p.id.to_ascii_lowercase()
                } else {
                    "0".to_string()
                };
                out.push_str(&format!("<{} object, typeid ", p.class_name()));
                repr_into(&Value::str(p.typeid), out);
                out.push_str(&format!(" at 0x{at}>"));
            }
        }
        Value::Reduce { .. } | Value::Object { .. } => match v.exception() {
            Some((_, name, args)) => {
                out.push_str(name);
                out.push('(');
                join_repr(args, out);
                out.push(')');
            }
            None => {
                let class = match v {
                    Value::Reduce { callable, .. } => callable,
                    Value::Object { class, .. } => class,
                    _ => unreachable!("matched above"),
                };
                match &**class {
                    Value::Global { module, name } => {
                        out.push_str(&format!("<{module}.{name} object>"));
                    }
                    _ => out.push_str("<object>"),
                }
            }
        },
    }
}

/// An exception one of these rules raises: its builtin class name
/// (`TypeError`, `ValueError`...) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyError {
    /// The exception class, in `builtins`.
    pub name: &'static str,
    /// Its message (the one argument).
    pub message: String,
}

impl PyError {
    /// `name(message)`.
    pub fn new(name: &'static str, message: impl Into<String>) -> PyError {
        PyError {
            name,
            message: message.into(),
        }
    }
}

impl From<Unhashable> for PyError {
    fn from(e: Unhashable) -> PyError {
        PyError::new("TypeError", e.to_string())
    }
}

/// `type(v).__name__` for a value that travelled: `'int'`, `'NoneType'`,
/// the class of an inert object (`'complex'`, `'array'`, `'ListProxy'`),
/// `'type'` for a class.
pub fn py_type_name(v: &Value) -> String {
    match v {
        Value::None => "NoneType".to_string(),
        Value::Global { .. } => "type".to_string(),
        Value::Reduce { callable: c, .. } | Value::Object { class: c, .. } => {
            if let Some(p) = proxy_ref(v) {
                return p.class_name();
            }
            match &**c {
                Value::Global { name, .. } => name.rsplit('.').next().unwrap_or(name).to_string(),
                _ => "object".to_string(),
            }
        }
        // The built-in types: `Value::kind` names them as Python does.
        _ => v.kind().to_string(),
    }
}

/// A one-character `str` for a code point (lone surrogates included, as
/// Python's `str` allows).
pub fn str_from_code_point(cp: u32) -> Option<Value> {
    let bytes = match char::from_u32(cp) {
        Some(c) => c.to_string().into_bytes(),
        // A lone surrogate, in pickle's `surrogatepass` UTF-8.
        None if (0xd800..0xe000).contains(&cp) => vec![
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ],
        None => return None,
    };
    crate::pickle::PyStr::from_surrogatepass(bytes)
        .ok()
        .map(Value::Str)
}

/// The most items one request may make out of a few bytes: a `range`'s
/// numbers ([`iter_items`]), a list multiplied (`l * n`). Python builds
/// what is asked; a server that stores it for others would let a 60-byte
/// request take gigabytes, so beyond this it is a `MemoryError`. (A
/// request that carries its items is bounded by the request size cap.)
pub const MAX_EXPANDED_ITEMS: usize = 1 << 20;

/// What `list(v)` gives for a value that arrived by value: the items of a
/// list, tuple, set or frozenset, a dict's keys, a str's characters, the
/// ints of bytes, a `range`'s numbers, an `array`'s items; else the
/// `TypeError` Python raises (`'int' object is not iterable`).
pub fn iter_items(v: &Value) -> Result<Vec<Value>, PyError> {
    match v {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => Ok(x.clone()),
        Value::Dict(pairs) => Ok(pairs.iter().map(|(k, _)| k.clone()).collect()),
        Value::Str(s) => Ok(s.code_points().filter_map(str_from_code_point).collect()),
        Value::Bytes(b) | Value::ByteArray(b) => {
            Ok(b.iter().map(|&x| Value::Int(i64::from(x))).collect())
        }
        Value::Reduce { callable, args, .. } if callable.is_global("builtins", "range") => {
            let a: Vec<i128> = args
                .as_seq()
                .unwrap_or(&[])
                .iter()
                .filter_map(Value::as_i128)
                .collect();
            let (start, stop, step) = match a.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] if *step != 0 => (*start, *stop, *step),
                [_, _, _] => {
                    return Err(PyError::new("ValueError", "range() arg 3 must not be zero"))
                }
                _ => {
                    return Err(PyError::new(
                        "TypeError",
                        "range expected integer arguments",
                    ))
                }
            };
            // len(range) without overflow, whatever the bounds.
            let n: u128 = if (step > 0 && start < stop) || (step < 0 && start > stop) {
                (start.abs_diff(stop) - 1) / step.unsigned_abs() + 1
            } else {
                0
            };
            if n > MAX_EXPANDED_ITEMS as u128 {
                return Err(PyError::new("MemoryError", ""));
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut x = start;
            for i in 0..n {
                items.push(Value::from_i128(x));
                if i + 1 < n {
                    // In range: between start and stop.
                    x = x.saturating_add(step);
                }
            }
            Ok(items)
        }
        _ => match super::array::TypedArray::from_value(v) {
            Some(Ok(a)) => Ok(a.items()),
            Some(Err(e)) => Err(e),
            None => Err(PyError::new(
                "TypeError",
                format!("'{}' object is not iterable", py_type_name(v)),
            )),
        },
    }
}

/// A Python `dict`: insertion-ordered, keys compared and hashed by
/// [`py_eq`] / [`py_hash`], O(1) get, set and delete however large it grows.
#[derive(Debug, Clone, Default)]
pub struct PyDict {
    /// Entries in insertion order; a deleted one leaves `None` until compaction.
    entries: Vec<Option<(Value, Value)>>,
    /// Hash -> positions in `entries` of the keys with that hash.
    index: Index,
    len: usize,
}

/// The positions of the keys with one hash: nearly always one, kept
/// without an allocation of its own.
#[derive(Debug, Clone)]
enum Positions {
    One(usize),
    Many(Vec<usize>),
}

impl Positions {
    fn as_slice(&self) -> &[usize] {
        match self {
            Positions::One(i) => std::slice::from_ref(i),
            Positions::Many(v) => v,
        }
    }

    fn push(&mut self, i: usize) {
        match self {
            Positions::One(j) => *self = Positions::Many(vec![*j, i]),
            Positions::Many(v) => v.push(i),
        }
    }

    /// Removes `i`; whether none are left.
    fn remove(&mut self, i: usize) -> bool {
        match self {
            Positions::One(j) => *j == i,
            Positions::Many(v) => {
                v.retain(|&j| j != i);
                let empty = v.is_empty();
                if let [only] = v[..] {
                    *self = Positions::One(only);
                }
                empty
            }
        }
    }
}

impl PyDict {
    /// An empty dict.
    pub fn new() -> PyDict {
        PyDict::default()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn find(&self, hash: u64, key: &Value) -> Option<usize> {
        self.index
            .get(&hash)?
            .as_slice()
            .iter()
            .copied()
            .find(|&i| self.entries[i].as_ref().is_some_and(|(k, _)| py_eq(k, key)))
    }

    /// `d[key]`, if present.
    pub fn get(&self, key: &Value) -> Result<Option<&Value>, Unhashable> {
        let hash = py_hash(key)?;
        Ok(self
            .find(hash, key)
            .and_then(|i| self.entries[i].as_ref().map(|(_, v)| v)))
    }

    /// `d[key] = value`; returns the old value. A key already present keeps
    /// its place (and its original key object, as in Python).
    pub fn insert(&mut self, key: Value, value: Value) -> Result<Option<Value>, Unhashable> {
        let hash = py_hash(&key)?;
        if let Some(i) = self.find(hash, &key) {
            let slot = self.entries[i].as_mut().expect("found entries are live");
            return Ok(Some(std::mem::replace(&mut slot.1, value)));
        }
        self.index_add(hash, self.entries.len());
        self.entries.push(Some((key, value)));
        self.len += 1;
        Ok(None)
    }

    /// `del d[key]` / `d.pop(key)`: the removed (key, value), if present.
    pub fn remove(&mut self, key: &Value) -> Result<Option<(Value, Value)>, Unhashable> {
        let hash = py_hash(key)?;
        let Some(i) = self.find(hash, key) else {
            return Ok(None);
        };
        Ok(self.remove_at(hash, i))
    }

    fn index_add(&mut self, hash: u64, i: usize) {
        match self.index.get_mut(&hash) {
            Some(p) => p.push(i),
            None => {
                self.index.insert(hash, Positions::One(i));
            }
        }
    }

    /// Removes the entry at `i`, whose key hashes to `hash`.
    fn remove_at(&mut self, hash: u64, i: usize) -> Option<(Value, Value)> {
        if self.index.get_mut(&hash).is_some_and(|p| p.remove(i)) {
            self.index.remove(&hash);
        }
        let removed = self.entries[i].take();
        self.len -= 1;
        // Holes at the end go at once, so popping from the end stays O(1).
        while matches!(self.entries.last(), Some(None)) {
            self.entries.pop();
        }
        if self.entries.len() > 32 && self.len < self.entries.len() / 2 {
            self.compact();
        }
        removed
    }

    /// `d.popitem()`: the last inserted (key, value), by position (a key
    /// equal to nothing, such as a proxy, goes too).
    pub fn pop_last(&mut self) -> Option<(Value, Value)> {
        let i = self.entries.iter().rposition(Option::is_some)?;
        let hash = self.entries[i].as_ref().map(|(k, _)| py_hash(k))?.ok()?;
        self.remove_at(hash, i)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        *self = PyDict::default();
    }

    /// Rebuilds the entries without holes (amortised O(1) per delete).
    fn compact(&mut self) {
        let live: Vec<(Value, Value)> = self.entries.drain(..).flatten().collect();
        self.index.clear();
        for (i, (k, _)) in live.iter().enumerate() {
            if let Ok(h) = py_hash(k) {
                self.index_add(h, i);
            }
        }
        self.entries = live.into_iter().map(Some).collect();
    }

    /// The (key, value) pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.entries.iter().flatten().map(|(k, v)| (k, v))
    }

    /// As a [`Value::Dict`] (for pickling, `repr`, `copy()`).
    pub fn to_value(&self) -> Value {
        Value::Dict(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// From a [`Value::Dict`]'s pairs (later duplicates win, as in Python).
    pub fn from_pairs(pairs: Vec<(Value, Value)>) -> Result<PyDict, Unhashable> {
        let mut d = PyDict::new();
        for (k, v) in pairs {
            d.insert(k, v)?;
        }
        Ok(d)
    }
}

/// A Python `set`: members compared and hashed by [`py_eq`] /
/// [`py_hash`], O(1) add, remove and membership. Iteration is in insertion
/// order (CPython's is hash order, which nothing on the wire keeps: a set
/// is rebuilt by whoever unpickles it).
#[derive(Debug, Clone, Default)]
pub struct PySet(PyDict);

/// A `set` argument looked up in a set is its `frozenset` (as CPython does
/// for `in`, `remove` and `discard`).
fn member_form(v: &Value) -> std::borrow::Cow<'_, Value> {
    match v {
        Value::Set(items) => std::borrow::Cow::Owned(Value::FrozenSet(items.clone())),
        v => std::borrow::Cow::Borrowed(v),
    }
}

impl PySet {
    /// An empty set.
    pub fn new() -> PySet {
        PySet::default()
    }

    /// A set of these members (duplicates collapse).
    pub fn from_items(items: impl IntoIterator<Item = Value>) -> Result<PySet, Unhashable> {
        let mut s = PySet::new();
        for i in items {
            s.insert(i)?;
        }
        Ok(s)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `v in s`.
    pub fn contains(&self, v: &Value) -> Result<bool, Unhashable> {
        Ok(self.0.get(&member_form(v))?.is_some())
    }

    /// `s.add(v)`; whether it was new.
    pub fn insert(&mut self, v: Value) -> Result<bool, Unhashable> {
        if self.0.get(&v)?.is_some() {
            return Ok(false);
        }
        self.0.insert(v, Value::None)?;
        Ok(true)
    }

    /// `s.discard(v)`; whether it was there.
    pub fn remove(&mut self, v: &Value) -> Result<bool, Unhashable> {
        Ok(self.0.remove(&member_form(v))?.is_some())
    }

    /// `s.pop()`: some member (here the last added), if any.
    pub fn pop(&mut self) -> Option<Value> {
        self.0.pop_last().map(|(k, _)| k)
    }

    /// Removes every member.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The members, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(k, _)| k)
    }

    /// As a [`Value::Set`].
    pub fn to_value(&self) -> Value {
        Value::Set(self.iter().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_types() {
        let one = [Value::Int(1), Value::Float(1.0), Value::Bool(true)];
        for a in &one {
            for b in &one {
                assert!(py_eq(a, b));
                assert_eq!(py_hash(a).unwrap(), py_hash(b).unwrap());
            }
        }
        assert!(!py_eq(&Value::Int(1), &Value::Float(1.5)));
        assert!(py_eq(&Value::Float(0.0), &Value::Float(-0.0)));
        assert_eq!(
            py_hash(&Value::Float(0.0)).unwrap(),
            py_hash(&Value::Float(-0.0)).unwrap()
        );
        assert!(!py_eq(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
        assert!(!py_eq(&Value::str("a"), &Value::Bytes(b"a".to_vec())));
        assert!(py_eq(
            &Value::Bytes(b"a".to_vec()),
            &Value::ByteArray(b"a".to_vec())
        ));
        assert!(py_eq(
            &Value::Tuple(vec![Value::Int(1), Value::str("x")]),
            &Value::Tuple(vec![Value::Bool(true), Value::str("x")])
        ));
    }

    #[test]
    fn unhashable_types_say_so() {
        let e = py_hash(&Value::List(vec![])).unwrap_err();
        assert_eq!(e.to_string(), "unhashable type: 'list'");
        assert!(py_hash(&Value::Tuple(vec![Value::Dict(vec![])])).is_err());
        assert!(py_hash(&Value::FrozenSet(vec![Value::Int(1)])).is_ok());
    }

    #[test]
    fn float_reprs() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e300, "1.5e+300"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (2.0f64.powi(60), "1.152921504606847e+18"),
        ] {
            assert_eq!(float_repr(f), s, "{f:e}");
        }
    }

    #[test]
    fn reprs() {
        let d = Value::Dict(vec![(Value::str("a"), Value::Int(1))]);
        assert_eq!(py_repr(&d), "{'a': 1}");
        assert_eq!(
            py_repr(&Value::List(vec![Value::Int(0), Value::Int(1)])),
            "[0, 1]"
        );
        assert_eq!(py_repr(&Value::Tuple(vec![Value::None])), "(None,)");
        assert_eq!(py_repr(&Value::str("it's")), "\"it's\"");
        assert_eq!(
            py_repr(&Value::str("a\n\u{7f}é\u{200b}")),
            "'a\\n\\x7fé\\u200b'"
        );
        assert_eq!(
            py_repr(&Value::Bytes(b"a'\x00\xff".to_vec())),
            "b\"a'\\x00\\xff\""
        );
        assert_eq!(py_repr(&Value::Set(vec![])), "set()");
        assert_eq!(
            py_repr(&Value::new_exception(
                "builtins",
                "KeyError",
                vec![Value::str("k")]
            )),
            "KeyError('k')"
        );
    }

    #[test]
    fn dict_is_ordered_and_constant_time() {
        let mut d = PyDict::new();
        for i in 0..100_000 {
            d.insert(Value::Int(i), Value::Int(i * 2)).unwrap();
        }
        assert_eq!(d.len(), 100_000);
        assert_eq!(d.get(&Value::Float(7.0)).unwrap(), Some(&Value::Int(14)));
        // True is 1: it replaces the value, the key stays the int.
        d.insert(Value::Bool(true), Value::str("one")).unwrap();
        assert_eq!(
            d.iter().nth(1).unwrap(),
            (&Value::Int(1), &Value::str("one"))
        );
        for i in 0..99_990 {
            assert!(d.remove(&Value::Int(i)).unwrap().is_some());
        }
        assert_eq!(d.len(), 10);
        assert_eq!(d.iter().next().unwrap().0, &Value::Int(99_990));
        assert_eq!(d.pop_last().unwrap().0, Value::Int(99_999));
        assert!(d.insert(Value::List(vec![]), Value::None).is_err());
    }

    /// Keys equal to nothing (NaN, proxies: a new object each time they
    /// arrive) share a hash: each insert adds one, lookups miss, and
    /// `popitem` still takes them, last first.
    #[test]
    fn keys_equal_to_nothing() {
        let mut d = PyDict::new();
        let proxy = crate::managers::proxyref::rebuild_proxy(
            "ListProxy",
            "list",
            Value::str("/tmp/s"),
            "7f01",
        );
        for (i, k) in [
            Value::Float(f64::NAN),
            Value::Float(f64::NAN),
            proxy.clone(),
            proxy,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(d.insert(k.clone(), Value::Int(i as i64)).unwrap(), None);
            assert_eq!(d.get(&k).unwrap(), None);
        }
        d.insert(Value::Int(7), Value::None).unwrap();
        assert_eq!(d.len(), 5);
        assert_eq!(d.remove(&Value::Int(7)).unwrap().unwrap().0, Value::Int(7));
        for want in (0..4).rev() {
            assert_eq!(d.pop_last().unwrap().1, Value::Int(want));
        }
        assert!(d.is_empty() && d.pop_last().is_none());
        let mut s = PySet::from_items([Value::Int(1), Value::Float(1.0), Value::str("a")]).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.contains(&Value::Bool(true)).unwrap());
        assert!(s.remove(&Value::str("a")).unwrap());
        assert!(!s.remove(&Value::str("a")).unwrap());
        assert_eq!(s.pop(), Some(Value::Int(1)));
        assert!(s.is_empty());
    }
}
