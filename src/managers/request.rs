//! One manager request, decoded and checked before anything acts on it:
//! the pickled 4-tuple `(ident, methodname, args, kwds)` of wire spec §3.1.
//!
//! [`decode_request`] is pure (no sockets, no server state), so it can be
//! fuzzed on its own (`fuzz/fuzz_targets/manager_request.rs`). What it
//! refuses, CPython's server refuses too, with the same exception class:
//! the server sends the [`RequestError`]'s text as a `#TRACEBACK`.

use std::borrow::Cow;

use crate::pickle::{
    loads_flat_request, loads_outer_tuple, loads_with, FlatArgs, Limits, PickleError, Value,
};

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
        kwd(&self.kwds, name)
    }

    /// The keyword arguments as a [`Value::Dict`].
    pub fn kwds_value(&self) -> Value {
        kwds_value(&self.kwds)
    }
}

fn kwd<'k>(kwds: &'k [(String, Value)], name: &str) -> Option<&'k Value> {
    kwds.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn kwds_value(kwds: &[(String, Value)]) -> Value {
    Value::Dict(
        kwds.iter()
            .map(|(k, v)| (Value::str(k.clone()), v.clone()))
            .collect(),
    )
}

/// A request's object id, as [`RequestRef`] has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ident<'a> {
    /// `None`: a server-level function.
    None,
    /// A str (the only ids a server hands out).
    Str(Cow<'a, str>),
    /// Anything else (no object has such an id).
    Other(Value),
}

impl Ident<'_> {
    /// The id as a [`Value`].
    pub fn to_value(&self) -> Value {
        match self {
            Ident::None => Value::None,
            Ident::Str(s) => Value::str(s.as_ref()),
            Ident::Other(v) => v.clone(),
        }
    }
}

/// [`Request`] with its id and method name borrowed from the message when
/// they can be (what the server decodes: no allocation for either, nor
/// for the request tuple).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRef<'a> {
    /// The object's id for a method call; [`Ident::None`] for a
    /// server-level function.
    pub ident: Ident<'a>,
    /// The method or server-level function.
    pub method: Cow<'a, str>,
    /// The positional arguments.
    pub args: Vec<Value>,
    /// The keyword arguments, in the order they came.
    pub kwds: Vec<(String, Value)>,
}

impl RequestRef<'_> {
    /// The keyword argument `name`, if given.
    pub fn kwd(&self, name: &str) -> Option<&Value> {
        kwd(&self.kwds, name)
    }

    /// The keyword arguments as a [`Value::Dict`].
    pub fn kwds_value(&self) -> Value {
        kwds_value(&self.kwds)
    }

    /// As a [`Request`] that owns everything.
    pub fn into_owned(self) -> Request {
        Request {
            ident: match self.ident {
                Ident::None => Value::None,
                Ident::Str(s) => Value::str(s.into_owned()),
                Ident::Other(v) => v,
            },
            method: self.method.into_owned(),
            args: self.args,
            kwds: self.kwds,
        }
    }
}

/// A request in its commonest form (see [`decode_request_flat`]): its
/// id and method name borrowed, its arguments in a [`FlatArgs`] of the
/// caller's, no keyword arguments.
pub(crate) struct FlatRequest<'a> {
    /// The object's id; `None` for a server-level function.
    pub(crate) ident: Option<&'a str>,
    /// The method or server-level function.
    pub(crate) method: &'a str,
}

impl<'a> FlatRequest<'a> {
    /// As the [`RequestRef`] [`decode_request_ref`] gives for the same
    /// bytes, with the arguments moved out of `args`.
    pub(crate) fn into_ref(self, args: &mut FlatArgs) -> RequestRef<'a> {
        RequestRef {
            ident: self
                .ident
                .map_or(Ident::None, |s| Ident::Str(Cow::Borrowed(s))),
            method: Cow::Borrowed(self.method),
            args: args.take_vec(),
            kwds: Vec::new(),
        }
    }
}

/// The request in `bytes` when it has the commonest form (a method call
/// with up to three plain arguments and no keyword arguments, what a
/// dict's get and set and a queue's put and get send), read in one
/// straight pass into `args` (kept by the caller from one request to the
/// next: no allocation but the arguments' own strs and bytes); `None` for
/// any other request, which [`decode_request_ref`] then reads. It gives
/// what [`decode_request_ref`] would. The arguments are leaves (None,
/// bools, ints, floats, strs, bytes): no proxy is among them.
pub(crate) fn decode_request_flat<'a>(
    bytes: &'a [u8],
    args: &mut FlatArgs,
) -> Option<FlatRequest<'a>> {
    decode_request_flat_with(bytes, &limits(), args)
}

fn decode_request_flat_with<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    args: &mut FlatArgs,
) -> Option<FlatRequest<'a>> {
    let (ident, method) = loads_flat_request(bytes, limits, args)?;
    Some(FlatRequest { ident, method })
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
    decode_request_ref(bytes).map(RequestRef::into_owned)
}

/// [`decode_request`], borrowing the id and method name from `bytes`.
pub fn decode_request_ref(bytes: &[u8]) -> Result<RequestRef<'_>, RequestError> {
    decode_request_with(bytes, &limits())
}

fn decode_request_with<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<RequestRef<'a>, RequestError> {
    // The common shape, read in one pass: `(None or str, str, args, kwds)`.
    let fast = loads_outer_tuple::<_, 2>(bytes, limits, true, 2, |lead| {
        let ident = if lead.none() {
            Ident::None
        } else {
            Ident::Str(Cow::Borrowed(lead.str()?))
        };
        Some((ident, lead.str()?))
    });
    if let Some(((ident, method), [args, kwds])) = fast {
        return checked(ident, Cow::Borrowed(method), args, kwds);
    }
    decode_request_full(bytes, limits)
}

/// Any request, through the full decoder's [`loads_with`].
fn decode_request_full<'a>(bytes: &[u8], limits: &Limits) -> Result<RequestRef<'a>, RequestError> {
    let v = loads_with(bytes, limits)?;
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
    let ident = match ident {
        Value::None => Ident::None,
        Value::Str(s) => match s.into_string() {
            Ok(s) => Ident::Str(Cow::Owned(s)),
            Err(s) => Ident::Other(Value::Str(s)),
        },
        other => Ident::Other(other),
    };
    checked(ident, Cow::Owned(method), args, kwds)
}

/// The request, once its `args` and `kwds` are checked.
fn checked<'a>(
    ident: Ident<'a>,
    method: Cow<'a, str>,
    args: Value,
    kwds: Value,
) -> Result<RequestRef<'a>, RequestError> {
    let shape = |m: String| Err(RequestError::Shape(m));
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
    Ok(RequestRef {
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
        let put_bytes = unhex(
            "8004952600000000000000288c0c376637636439626131373130948c03707574948c066974656d2d319485947d9474942e",
        );
        let put = decode_request(&put_bytes).unwrap();
        assert_eq!(put.ident, Value::str("7f7cd9ba1710"));
        assert_eq!(put.args, vec![Value::str("item-1")]);
        assert!(put.kwds.is_empty());
        // CPython's put is read by the flat reader, to the same request.
        let mut args = FlatArgs::new();
        let flat = decode_request_flat(&put_bytes, &mut args).expect("a flat request");
        assert_eq!(flat.into_ref(&mut args).into_owned(), put);
    }

    /// Requests as CPython's pickler writes them at protocol 2 (BINUNICODE,
    /// BINPUT, no FRAME), by hand: `(ident, method, (arg,), {})`.
    fn protocol2(ident: &str, method: &str, arg: &[u8]) -> Vec<u8> {
        let mut b = vec![0x80, 2, b'('];
        for s in [ident, method] {
            b.push(b'X');
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
            b.extend_from_slice(&[b'q', 0]);
        }
        b.extend_from_slice(arg);
        b.extend_from_slice(&[0x85, b'q', 2, b'}', b'q', 3, b't', b'q', 4, b'.']);
        b
    }

    /// Wherever the one-pass request decoder (or the flat one) answers,
    /// the full decoder gives the same request: on requests made from every captured
    /// pickle, in the forms CPython and mp write, cut short and with each
    /// byte changed, under the default and under tight limits.
    #[test]
    #[cfg_attr(miri, ignore = "reads files; hundreds of thousands of decodes")]
    fn the_one_pass_decoder_agrees_with_the_full_one() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire-vectors/pickles");
        let mut values: Vec<Value> = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            for v in json["values"].as_array().into_iter().flatten() {
                // Those a Value cannot hold (cycles) are left out.
                if let Some(Ok(v)) = v["p4"].as_str().map(|h| crate::pickle::loads(&unhex(h))) {
                    values.push(v);
                }
            }
        }
        assert!(values.len() > 30, "vectors found: {}", values.len());
        let idents = [
            Value::None,
            Value::str("7f7cd9ba1710"),
            Value::Int(3),
            Value::str("\u{e9}t\u{e9}"),
        ];
        let mut requests: Vec<Vec<u8>> = vec![
            unhex("8004951a00000000000000284e8c06637265617465948c0551756575659485947d9474942e"),
            unhex("8004952600000000000000288c0c376637636439626131373130948c03707574948c066974656d2d319485947d9474942e"),
            protocol2("7f00", "__setitem__", b"K\x01"),
            protocol2("7f00", "get", b"N"),
        ];
        // The flat form's edges: no arguments, three of every leaf kind,
        // four (one too many for it).
        let leaves = [
            Value::None,
            Value::Bool(true),
            Value::Int(-1),
            Value::Int(70_000),
            Value::int_from_le_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 0x40]),
            Value::Float(2.5),
            Value::str(""),
            Value::str("x"),
            Value::str("key-\u{e9}"),
            Value::Bytes(b"by".to_vec()),
        ];
        for n in 0..=4 {
            for i in 0..leaves.len() {
                let args = (0..n).map(|j| leaves[(i + j) % leaves.len()].clone());
                requests.push(crate::pickle::dumps(&Value::Tuple(vec![
                    idents[i % 2].clone(),
                    Value::str("put"),
                    Value::Tuple(args.collect()),
                    Value::Dict(vec![]),
                ])));
            }
        }
        for (i, v) in values.iter().enumerate() {
            let ident = idents[i % idents.len()].clone();
            let kwds = if i % 3 == 0 {
                Value::Dict(vec![(Value::str("block"), Value::Bool(false))])
            } else {
                Value::Dict(vec![])
            };
            let args = match v {
                Value::Tuple(_) if i % 2 == 0 => v.clone(),
                _ => Value::Tuple(vec![Value::str("k"), v.clone()]),
            };
            requests.push(crate::pickle::dumps(&Value::Tuple(vec![
                ident,
                Value::str("__setitem__"),
                args,
                kwds,
            ])));
        }
        let tight = Limits {
            max_depth: 3,
            max_values: 8,
            max_stack: 5,
            max_marks: 2,
            max_memo: 6,
            ..limits()
        };
        let (mut fast, mut checked, mut flat_answered) = (0, 0, 0);
        let mut check = |data: &[u8]| {
            for l in [&limits(), &tight] {
                checked += 1;
                let full = decode_request_full(data, l).map(RequestRef::into_owned);
                let got = decode_request_with(data, l).map(RequestRef::into_owned);
                // Compared as text: a NaN is not equal to itself.
                assert_eq!(format!("{got:?}"), format!("{full:?}"), "on {data:02x?}");
                let mut args = FlatArgs::new();
                if let Some(flat) = decode_request_flat_with(data, l, &mut args) {
                    flat_answered += 1;
                    let flat = Ok::<_, RequestError>(flat.into_ref(&mut args).into_owned());
                    assert_eq!(format!("{flat:?}"), format!("{full:?}"), "on {data:02x?}");
                }
                let one_pass = loads_outer_tuple::<_, 2>(data, l, true, 2, |lead| {
                    let none = lead.none();
                    Some((none, if none { "" } else { lead.str()? }, lead.str()?))
                });
                if let Some((_, [_, _])) = one_pass {
                    fast += 1;
                    assert!(
                        !matches!(full, Err(RequestError::Pickle(_))),
                        "the full decoder refuses {data:02x?}"
                    );
                }
            }
        };
        for r in &requests {
            check(r);
            for cut in 0..r.len() {
                check(&r[..cut]);
            }
            for i in 0..r.len().min(48) {
                for b in [0u8, 1, 0x28, 0x2e, 0x71, 0x74, 0x86, 0x94, 0xff] {
                    let mut m = r.clone();
                    m[i] = b;
                    check(&m);
                }
            }
            // Bytes after STOP, which a reading ignores.
            let mut m = r.clone();
            m.extend_from_slice(b"junk");
            check(&m);
        }
        // The common forms really take the one-pass path, and the flat
        // one.
        assert!(fast * 20 > checked, "{fast} of {checked}");
        assert!(flat_answered * 40 > checked, "{flat_answered} of {checked}");
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
