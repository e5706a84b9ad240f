//! One manager request, decoded and checked before anything acts on it:
//! the pickled 4-tuple `(ident, methodname, args, kwds)` of wire spec §3.1.
//!
//! [`decode_request`] is pure (no sockets, no server state), so it can be
//! fuzzed on its own (`fuzz/fuzz_targets/manager_request.rs`). What it
//! refuses, CPython's server refuses too, with the same exception class:
//! the server sends the [`RequestError`]'s text as a `#TRACEBACK`.

use crate::pickle::{loads_with, Limits, PickleError, Value};

/// A request, checked for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The object's id for a method call; `None` for a server-level
    /// function (whatever was sent: CPython's server ignores it there).
    pub ident: Value,
    /// The method or server-level function.
    pub method: String,
    /// The positional arguments.
    pub args: Vec<Value>,
    /// The keyword arguments, in the order they came.
    pub kwds: Vec<(String, Value)>,
}

impl Request {
    /// The keyword argument `name`, if given.
    pub fn kwd(&self, name: &str) -> Option<&Value> {
        self.kwds.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The keyword arguments as a [`Value::Dict`].
    pub fn kwds_value(&self) -> Value {
        Value::Dict(
            self.kwds
                .iter()
                .map(|(k, v)| (Value::str(k.clone()), v.clone()))
                .collect(),
        )
    }
}

/// Why a request was refused; its `Display` is the last line of the
/// traceback a Python client sees (`TypeError: ...`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The bytes are not a pickle mp reads.
    #[error("_pickle.UnpicklingError: {0}")]
    Pickle(#[from] PickleError),
    /// A pickle, but not `(ident, methodname, args, kwds)`.
    #[error("{0}")]
    Shape(String),
}

/// The limits a request is decoded under: CPython's defaults for the
/// structure, well below the message cap for the copies a pickle can ask
/// for with repeated memo references.
fn limits() -> Limits {
    Limits {
        max_copy_bytes: 16 << 20,
        ..Limits::default()
    }
}

/// Decodes and checks one request message.
pub fn decode_request(bytes: &[u8]) -> Result<Request, RequestError> {
    let v = loads_with(bytes, &limits())?;
    let shape = |m: String| Err(RequestError::Shape(m));
    let items = match v {
        Value::Tuple(items) | Value::List(items) => items,
        other => {
            return shape(format!(
                "TypeError: cannot unpack non-iterable {} object",
                super::pyobj::py_type_name(&other)
            ))
        }
    };
    let [ident, method, args, kwds] = match <[Value; 4]>::try_from(items) {
        Ok(parts) => parts,
        Err(items) if items.len() > 4 => {
            return shape("ValueError: too many values to unpack (expected 4)".into())
        }
        Err(items) => {
            return shape(format!(
                "ValueError: not enough values to unpack (expected 4, got {})",
                items.len()
            ))
        }
    };
    let method = match method {
        Value::Str(s) => match s.into_string() {
            Ok(m) => m,
            Err(_) => return shape("AttributeError: method name with a lone surrogate".into()),
        },
        other => {
            return shape(format!(
                "TypeError: attribute name must be string, not '{}'",
                super::pyobj::py_type_name(&other)
            ))
        }
    };
    let args = match args {
        Value::Tuple(a) | Value::List(a) => a,
        other => {
            return shape(format!(
                "TypeError: {method}() argument after * must be an iterable, not {}",
                super::pyobj::py_type_name(&other)
            ))
        }
    };
    let kwds = match kwds {
        Value::Dict(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                match k.as_str() {
                    Some(k) => out.push((k.to_string(), v)),
                    None => return shape("TypeError: keywords must be strings".into()),
                }
            }
            out
        }
        other => {
            return shape(format!(
                "TypeError: {method}() argument after ** must be a mapping, not {}",
                super::pyobj::py_type_name(&other)
            ))
        }
    };
    Ok(Request {
        ident,
        method,
        args,
        kwds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::pickle::unhex(s).expect("hex")
    }

    #[test]
    fn decodes_the_captured_requests() {
        // Wire spec §3.3/§3.4: (None, 'create', ('Queue',), {}) and a put.
        let create = decode_request(&unhex(
            "8004951a00000000000000284e8c06637265617465948c0551756575659485947d9474942e",
        ))
        .unwrap();
        assert_eq!(create.ident, Value::None);
        assert_eq!(create.method, "create");
        assert_eq!(create.args, vec![Value::str("Queue")]);
        let put = decode_request(&unhex(
            "8004952600000000000000288c0c376637636439626131373130948c03707574948c066974656d2d319485947d9474942e",
        ))
        .unwrap();
        assert_eq!(put.ident, Value::str("7f7cd9ba1710"));
        assert_eq!(put.args, vec![Value::str("item-1")]);
        assert!(put.kwds.is_empty());
    }

    #[test]
    fn refuses_what_cpython_refuses() {
        let req = |v: Value| {
            decode_request(&crate::pickle::dumps(&v))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            req(Value::Int(3)),
            "TypeError: cannot unpack non-iterable int object"
        );
        assert_eq!(
            req(Value::Tuple(vec![Value::None, Value::str("dummy")])),
            "ValueError: not enough values to unpack (expected 4, got 2)"
        );
        assert_eq!(
            req(Value::Tuple(vec![
                Value::None,
                Value::str("create"),
                Value::Tuple(vec![]),
                Value::Dict(vec![(Value::Int(1), Value::None)]),
            ])),
            "TypeError: keywords must be strings"
        );
        assert!(decode_request(b"\x80\x04garbage").is_err());
        assert!(decode_request(&[]).is_err());
    }
}
