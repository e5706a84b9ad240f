//! `array.array` as a manager holds it (SyncManager's `Array` typeid):
//! items stored as the machine bytes CPython's array holds (little-endian,
//! Linux sizes: `l`/`L` are 8 bytes, `u` is a 4-byte `wchar_t`), each
//! assignment checked with the `TypeError` / `OverflowError` and message
//! CPython's `arraymodule.c` gives for that typecode, and the pickle
//! multiprocessing sends for one: `array.array(typecode, bytes)`.

use super::pyobj::{float_repr, iter_items, py_repr, py_type_name, str_from_code_point, PyError};
use crate::pickle::Value;

/// The typecodes served: CPython 3.13's (`w`, a 4-byte code point, is new
/// in 3.13; `u` is `wchar_t`, also 4 bytes on Linux).
const TYPECODES: &str = "bBuwhHiIlLqQfd";

fn itemsize(code: char) -> usize {
    match code {
        'b' | 'B' => 1,
        'h' | 'H' => 2,
        'i' | 'I' | 'f' | 'u' | 'w' => 4,
        _ => 8,
    }
}

fn type_error(message: impl Into<String>) -> PyError {
    PyError::new("TypeError", message)
}

fn overflow(message: &str) -> PyError {
    PyError::new("OverflowError", message)
}

/// An `array.array`: its typecode and its items' bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedArray {
    code: char,
    data: Vec<u8>,
}

/// An integer as the C conversions see it: in `i128`, or beyond it with a sign.
enum Int {
    Fits(i128),
    Big { negative: bool },
}

fn as_int(v: &Value) -> Option<Int> {
    match v {
        Value::Bool(b) => Some(Int::Fits(i128::from(*b))),
        Value::Int(_) | Value::BigInt(_) => Some(match v.as_i128() {
            Some(x) => Int::Fits(x),
            None => Int::Big {
                negative: matches!(v, Value::BigInt(b) if b.last().is_some_and(|x| x & 0x80 != 0)),
            },
        }),
        _ => None,
    }
}

/// `PyLong_AsLong`: in a C long, or the OverflowError.
fn c_long(x: &Int) -> Result<i128, PyError> {
    match x {
        Int::Fits(x) if i64::try_from(*x).is_ok() => Ok(*x),
        _ => Err(overflow("Python int too large to convert to C long")),
    }
}

/// `PyLong_AsUnsignedLong`, with the messages of the `I` and `L` setters.
fn c_unsigned_long(x: &Int) -> Result<i128, PyError> {
    match x {
        Int::Fits(x) if *x < 0 => Err(overflow("can't convert negative value to unsigned int")),
        Int::Big { negative: true } => {
            Err(overflow("can't convert negative value to unsigned int"))
        }
        Int::Fits(x) if u64::try_from(*x).is_ok() => Ok(*x),
        _ => Err(overflow(
            "Python int too large to convert to C unsigned long",
        )),
    }
}

/// `PyArg_Parse` range checks: `what` is e.g. "signed short integer".
fn in_range(x: i128, lo: i128, hi: i128, what: &str) -> Result<i128, PyError> {
    if x < lo {
        Err(overflow(&format!("{what} is less than minimum")))
    } else if x > hi {
        Err(overflow(&format!("{what} is greater than maximum")))
    } else {
        Ok(x)
    }
}

/// An integer item for typecode `code`, checked as CPython's setter does.
fn int_item(code: char, v: &Value) -> Result<i128, PyError> {
    let Some(x) = as_int(v) else {
        return Err(type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            py_type_name(v)
        )));
    };
    let short = (i128::from(i16::MIN), i128::from(i16::MAX));
    let int = (i128::from(i32::MIN), i128::from(i32::MAX));
    match code {
        'b' => {
            let x = in_range(c_long(&x)?, short.0, short.1, "signed short integer")?;
            in_range(x, -128, 127, "signed char")
        }
        'B' => in_range(c_long(&x)?, 0, 255, "unsigned byte integer"),
        'h' => in_range(c_long(&x)?, short.0, short.1, "signed short integer"),
        'H' => {
            let x = in_range(c_long(&x)?, int.0, int.1, "signed integer")?;
            in_range(x, 0, 65535, "unsigned short")
        }
        'i' => in_range(c_long(&x)?, int.0, int.1, "signed integer"),
        'I' => {
            let x = c_unsigned_long(&x)?;
            in_range(x, 0, i128::from(u32::MAX), "unsigned int")
        }
        'l' => c_long(&x),
        'L' => c_unsigned_long(&x),
        'q' => match x {
            Int::Fits(x) if i64::try_from(x).is_ok() => Ok(x),
            _ => Err(overflow("int too big to convert")),
        },
        _ => match x {
            Int::Fits(x) if x < 0 => Err(overflow("can't convert negative int to unsigned")),
            Int::Big { negative: true } => Err(overflow("can't convert negative int to unsigned")),
            Int::Fits(x) if u64::try_from(x).is_ok() => Ok(x),
            _ => Err(overflow("int too big to convert")),
        },
    }
}

/// A float item (`f`, `d`): ints convert, anything else is a TypeError.
fn float_item(v: &Value) -> Result<f64, PyError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Int(i) => Ok(*i as f64),
        Value::BigInt(_) => {
            let f: f64 = v
                .int_to_decimal()
                .and_then(|d| d.parse().ok())
                .unwrap_or(f64::INFINITY);
            if f.is_finite() {
                Ok(f)
            } else {
                Err(overflow("int too large to convert to float"))
            }
        }
        _ => Err(type_error(format!(
            "must be real number, not {}",
            py_type_name(v)
        ))),
    }
}

/// A character item (`u`, `w`): a `str` of exactly one code point.
fn char_item(v: &Value) -> Result<u32, PyError> {
    if let Value::Str(s) = v {
        let mut cps = s.code_points();
        if let (Some(c), None) = (cps.next(), cps.next()) {
            return Ok(c);
        }
    }
    Err(type_error("array item must be unicode character"))
}

fn check_code_point(cp: u32) -> Result<(), PyError> {
    if cp > 0x10ffff {
        return Err(PyError::new(
            "ValueError",
            format!("character U+{cp:x} is not in range [U+0000; U+10ffff]"),
        ));
    }
    Ok(())
}

/// `v` as the bytes of one item of typecode `code`.
fn encode(code: char, v: &Value, out: &mut [u8]) -> Result<(), PyError> {
    match code {
        'f' => out.copy_from_slice(&(float_item(v)? as f32).to_le_bytes()),
        'd' => out.copy_from_slice(&float_item(v)?.to_le_bytes()),
        'u' | 'w' => out.copy_from_slice(&char_item(v)?.to_le_bytes()),
        _ => {
            let x = int_item(code, v)?;
            // In range for the item's size: its low bytes are the item.
            out.copy_from_slice(&x.to_le_bytes()[..out.len()]);
        }
    }
    Ok(())
}

fn decode(code: char, b: &[u8]) -> Value {
    let mut wide = [0u8; 8];
    wide[..b.len()].copy_from_slice(b);
    let unsigned = u64::from_le_bytes(wide);
    // Sign-extend from the item's width.
    let shift = 64 - 8 * b.len() as u32;
    let signed = ((unsigned << shift) as i64) >> shift;
    match code {
        'b' | 'h' | 'i' | 'l' | 'q' => Value::Int(signed),
        'B' | 'H' | 'I' | 'L' | 'Q' => Value::from_u128(u128::from(unsigned)),
        'f' => Value::Float(f64::from(f32::from_bits(unsigned as u32))),
        'd' => Value::Float(f64::from_bits(unsigned)),
        _ => str_from_code_point(unsigned as u32).unwrap_or_else(|| Value::str("\u{fffd}")),
    }
}

impl TypedArray {
    /// `array.array(typecode, initializer)`: a str for `u`/`w`, bytes (the
    /// machine bytes), another array, or any iterable that arrived by value.
    pub fn new(typecode: &Value, init: Option<&Value>) -> Result<TypedArray, PyError> {
        let code = match typecode {
            Value::Str(s) if s.len() == 1 => s
                .as_str()
                .and_then(|t| t.chars().next())
                .unwrap_or('\u{fffd}'),
            other => {
                return Err(type_error(format!(
                    "array() argument 1 must be a unicode character, not {}",
                    py_type_name(other)
                )))
            }
        };
        if !TYPECODES.contains(code) {
            return Err(PyError::new(
                "ValueError",
                "bad typecode (must be b, B, u, w, h, H, i, I, l, L, q, Q, f or d)",
            ));
        }
        let mut a = TypedArray {
            code,
            data: Vec::new(),
        };
        let wide = matches!(code, 'u' | 'w');
        match init {
            None => {}
            Some(Value::Str(s)) if wide => {
                for cp in s.code_points() {
                    a.data.extend_from_slice(&cp.to_le_bytes());
                }
            }
            Some(Value::Str(_)) => {
                return Err(type_error(format!(
                    "cannot use a str to initialize an array with typecode '{code}'"
                )))
            }
            Some(Value::Bytes(b) | Value::ByteArray(b)) => a.extend_from_bytes(b)?,
            Some(v) => {
                if let Some(other) = TypedArray::from_value(v) {
                    let other = other?;
                    if matches!(other.code, 'u' | 'w') && !wide {
                        return Err(type_error(format!(
                            "cannot use a unicode array to initialize an array with typecode '{code}'"
                        )));
                    }
                }
                a.extend(&iter_items(v)?)?;
            }
        }
        Ok(a)
    }

    /// An array that travelled: `array.array(typecode, bytes)` as
    /// multiprocessing pickles one. `None` if `v` is not one.
    pub fn from_value(v: &Value) -> Option<Result<TypedArray, PyError>> {
        let Value::Reduce { callable, args, .. } = v else {
            return None;
        };
        if !callable.is_global("array", "array") {
            return None;
        }
        let (code, init) = match args.as_seq()? {
            [code] => (code, None),
            [code, init] => (code, Some(init)),
            _ => return None,
        };
        Some(TypedArray::new(code, init))
    }

    /// `frombytes`: the machine bytes of whole items.
    fn extend_from_bytes(&mut self, b: &[u8]) -> Result<(), PyError> {
        let size = itemsize(self.code);
        if b.len() % size != 0 {
            return Err(PyError::new(
                "ValueError",
                "bytes length not a multiple of item size",
            ));
        }
        if matches!(self.code, 'u' | 'w') {
            for c in b.chunks_exact(4) {
                check_code_point(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))?;
            }
        }
        self.data.extend_from_slice(b);
        Ok(())
    }

    /// Appends each item, converted; nothing is appended if one fails.
    fn extend(&mut self, items: &[Value]) -> Result<(), PyError> {
        let size = itemsize(self.code);
        let mut bytes = vec![0u8; items.len() * size];
        for (v, out) in items.iter().zip(bytes.chunks_exact_mut(size)) {
            encode(self.code, v, out)?;
        }
        self.data.extend_from_slice(&bytes);
        Ok(())
    }

    /// The typecode.
    pub fn typecode(&self) -> char {
        self.code
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.data.len() / itemsize(self.code)
    }

    /// Whether it has no items.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Item `i` (`i < len()`).
    pub fn get(&self, i: usize) -> Value {
        let size = itemsize(self.code);
        decode(self.code, &self.data[i * size..(i + 1) * size])
    }

    /// `a[i] = v` (`i < len()`), checked as CPython checks it.
    pub fn set(&mut self, i: usize, v: &Value) -> Result<(), PyError> {
        let size = itemsize(self.code);
        let mut item = [0u8; 8];
        encode(self.code, v, &mut item[..size])?;
        self.data[i * size..(i + 1) * size].copy_from_slice(&item[..size]);
        Ok(())
    }

    /// Every item, in order.
    pub fn items(&self) -> Vec<Value> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// The items at `positions` (each `< len()`), as a new array.
    pub fn select(&self, positions: &[usize]) -> TypedArray {
        let size = itemsize(self.code);
        let mut data = Vec::with_capacity(positions.len() * size);
        for &i in positions {
            data.extend_from_slice(&self.data[i * size..(i + 1) * size]);
        }
        TypedArray {
            code: self.code,
            data,
        }
    }

    /// `a[start:start + count] = other` (a simple slice: any length).
    pub fn splice(&mut self, start: usize, count: usize, other: &TypedArray) {
        let size = itemsize(self.code);
        self.data
            .splice(start * size..(start + count) * size, other.data.clone());
    }

    /// `a[extended slice] = other`: item `positions[k]` becomes `other[k]`
    /// (the lengths are equal, `other` has this typecode).
    pub fn assign(&mut self, positions: &[usize], other: &TypedArray) {
        let size = itemsize(self.code);
        for (k, &i) in positions.iter().enumerate() {
            self.data[i * size..(i + 1) * size]
                .copy_from_slice(&other.data[k * size..(k + 1) * size]);
        }
    }

    /// As multiprocessing pickles it: `array.array(typecode, bytes)`.
    pub fn to_value(&self) -> Value {
        Value::Reduce {
            callable: Box::new(Value::global("array", "array")),
            args: Box::new(Value::Tuple(vec![
                Value::str(self.code.to_string()),
                Value::Bytes(self.data.clone()),
            ])),
            state: None,
        }
    }

    /// `repr(a)`: `array('i', [1, 2])`, `array('u', 'ab')`, `array('d')`.
    pub fn repr(&self) -> String {
        if self.is_empty() {
            return format!("array('{}')", self.code);
        }
        let items = self.items();
        let body = match self.code {
            'u' | 'w' => {
                let mut bytes = Vec::new();
                for v in &items {
                    if let Value::Str(s) = v {
                        bytes.extend_from_slice(s.as_bytes());
                    }
                }
                crate::pickle::PyStr::from_surrogatepass(bytes)
                    .map(|s| py_repr(&Value::Str(s)))
                    .unwrap_or_default()
            }
            'f' | 'd' => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        Value::Float(f) => float_repr(*f),
                        v => py_repr(v),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            }
            _ => py_repr(&Value::List(items)),
        };
        format!("array('{}', {body})", self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(code: &str, items: Vec<Value>) -> Result<TypedArray, PyError> {
        TypedArray::new(&Value::str(code), Some(&Value::List(items)))
    }

    fn err(r: Result<TypedArray, PyError>) -> String {
        let e = r.unwrap_err();
        format!("{} {}", e.name, e.message)
    }

    #[test]
    fn pickles_as_cpython_does() {
        // vectors/pickles: array_obj, array.array('i', [1, 2, 3]).
        let a = new("i", vec![Value::Int(1), Value::Int(2), Value::Int(3)]).unwrap();
        let hex: String = crate::pickle::dumps(&a.to_value())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "8004952a000000000000008c056172726179948c0561727261799493948c016994430c01000000020000000300000094869452942e"
        );
        assert_eq!(a.repr(), "array('i', [1, 2, 3])");
        let back = TypedArray::from_value(&a.to_value()).unwrap().unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn items_are_checked_per_typecode() {
        assert_eq!(
            err(new("i", vec![Value::Float(1.5)])),
            "TypeError 'float' object cannot be interpreted as an integer"
        );
        assert_eq!(
            err(new("b", vec![Value::Int(1 << 15)])),
            "OverflowError signed short integer is greater than maximum"
        );
        assert_eq!(
            err(new("b", vec![Value::Int(-129)])),
            "OverflowError signed char is less than minimum"
        );
        assert_eq!(
            err(new("H", vec![Value::Int(1 << 31)])),
            "OverflowError signed integer is greater than maximum"
        );
        assert_eq!(
            err(new("I", vec![Value::Int(-1)])),
            "OverflowError can't convert negative value to unsigned int"
        );
        assert_eq!(
            err(new("Q", vec![Value::from_i128(1 << 64)])),
            "OverflowError int too big to convert"
        );
        assert_eq!(
            err(new("d", vec![Value::str("x")])),
            "TypeError must be real number, not str"
        );
        assert_eq!(
            err(TypedArray::new(&Value::str("i"), Some(&Value::str("ab")))),
            "TypeError cannot use a str to initialize an array with typecode 'i'"
        );
        assert_eq!(
            err(TypedArray::new(&Value::str("x"), None)),
            "ValueError bad typecode (must be b, B, u, w, h, H, i, I, l, L, q, Q, f or d)"
        );
        let q = new("Q", vec![Value::from_u128(u128::from(u64::MAX))]).unwrap();
        assert_eq!(q.get(0), Value::from_u128(u128::from(u64::MAX)));
        let f = new("f", vec![Value::Float(0.1)]).unwrap();
        assert_eq!(f.repr(), "array('f', [0.10000000149011612])");
        let u = TypedArray::new(&Value::str("u"), Some(&Value::str("héllo"))).unwrap();
        assert_eq!(u.repr(), "array('u', 'héllo')");
        assert_eq!(u.len(), 5);
        assert_eq!(
            TypedArray::new(&Value::str("d"), None).unwrap().repr(),
            "array('d')"
        );
    }
}
