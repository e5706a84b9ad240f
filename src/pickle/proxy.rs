//! How a manager proxy looks in a pickle: CPython's
//! `multiprocessing.managers.RebuildProxy(ProxyClass, Token, 'pickle', kwds)`
//! (wire spec §3.6, §3.8), and back.
//!
//! On the serde side a proxy is a newtype struct named
//! [`PROXY_NEWTYPE`](super::PROXY_NEWTYPE) around the fields
//! `(class, typeid, host_or_path, port, id, exposed, authkey)`: `port` is
//! `None` for a Unix socket path; `exposed` is given for `AutoProxy` only;
//! `authkey` travels only to a child process and never into a pickle.

use super::value::Value;
use super::PickleError;

const MODULE: &str = "multiprocessing.managers";

fn bad(what: &str) -> PickleError {
    PickleError::Serde(format!("not a manager proxy: {what}"))
}

/// The proxy's fields (a tuple, as serde made it) → the `RebuildProxy` reduction.
pub(super) fn rebuild_proxy(fields: Value) -> Result<Value, PickleError> {
    let Value::Tuple(f) = fields else {
        return Err(bad("expected the proxy's field tuple"));
    };
    let [class, typeid, place, port, id, exposed, _authkey] =
        <[Value; 7]>::try_from(f).map_err(|_| bad("expected 7 fields"))?;
    let (Some(class), Some(_), Some(_), Some(_)) =
        (class.as_str(), typeid.as_str(), place.as_str(), id.as_str())
    else {
        return Err(bad("class, typeid, address and id must be strings"));
    };
    let address = match port {
        Value::None => place,
        port @ Value::Int(_) => Value::Tuple(vec![place, port]),
        _ => return Err(bad("the port must be an int or None")),
    };
    let kwds = match exposed {
        Value::None => vec![],
        Value::List(names) | Value::Tuple(names) => {
            vec![(Value::str("exposed"), Value::Tuple(names))]
        }
        _ => return Err(bad("exposed must be a list of names")),
    };
    Ok(rebuild(class, typeid, address, id, kwds))
}

/// `RebuildProxy(<class>, Token(typeid, address, id), 'pickle', kwds)`, as
/// CPython pickles a proxy.
pub(crate) fn rebuild(
    class: &str,
    typeid: Value,
    address: Value,
    id: Value,
    kwds: Vec<(Value, Value)>,
) -> Value {
    let token = Value::Object {
        class: Box::new(Value::global(MODULE, "Token")),
        args: Box::new(Value::Tuple(vec![])),
        kwargs: None,
        state: Some(Box::new(Value::Tuple(vec![typeid, address, id]))),
    };
    Value::Reduce {
        callable: Box::new(Value::global(MODULE, "RebuildProxy")),
        args: Box::new(Value::Tuple(vec![
            Value::global(MODULE, class),
            token,
            Value::str("pickle"),
            Value::Dict(kwds),
        ])),
        state: None,
    }
}

/// A proxy found in a value: the parts of its `RebuildProxy` reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProxyRef<'a> {
    /// `func`: the proxy class (`ListProxy`, `DictProxy`...) or the
    /// `AutoProxy` function, as a [`Value::Global`] (or whatever was sent).
    pub func: &'a Value,
    /// The token's typeid (`'list'`, `'Queue'`...).
    pub typeid: &'a str,
    /// The token's address: `(host, port)` or a Unix socket path.
    pub address: &'a Value,
    /// The token's id: the object's ident on the server that made it.
    pub id: &'a str,
    /// The serializer name (`'pickle'`).
    pub serializer: &'a Value,
    /// The keyword arguments (`{'exposed': (...)}` for an AutoProxy).
    pub kwds: &'a Value,
}

impl ProxyRef<'_> {
    /// The proxy's class name as Python shows it in `repr()`:
    /// `ListProxy`, or `AutoProxy[Queue]` for an auto proxy.
    pub fn class_name(&self) -> String {
        match self.func {
            Value::Global { name, .. } if name == "AutoProxy" => {
                format!("AutoProxy[{}]", self.typeid)
            }
            Value::Global { name, .. } => name.rsplit('.').next().unwrap_or(name).to_string(),
            _ => "BaseProxy".to_string(),
        }
    }

    /// The token's `(host, port)`, when it is a TCP address.
    pub fn tcp_address(&self) -> Option<(&str, i128)> {
        match self.address.as_seq()? {
            [host, port] => Some((host.as_str()?, port.as_i128()?)),
            _ => None,
        }
    }
}

/// The proxy `v` is, if it is a `RebuildProxy(func, Token, serializer,
/// kwds)` reduction whose token has a `str` typeid and id.
pub(crate) fn proxy_ref(v: &Value) -> Option<ProxyRef<'_>> {
    let Value::Reduce { callable, args, .. } = v else {
        return None;
    };
    if !callable.is_global(MODULE, "RebuildProxy") {
        return None;
    }
    let [func, token, serializer, kwds] = args.as_seq()? else {
        return None;
    };
    let Value::Object {
        class,
        state: Some(state),
        ..
    } = token
    else {
        return None;
    };
    if !class.is_global(MODULE, "Token") {
        return None;
    }
    let [typeid, address, id] = state.as_seq()? else {
        return None;
    };
    Some(ProxyRef {
        func,
        typeid: typeid.as_str()?,
        address,
        id: id.as_str()?,
        serializer,
        kwds,
    })
}

/// A `RebuildProxy` reduction (as CPython or mp's server sends it) → the
/// proxy's field tuple. Anything else is an error naming what it was.
pub(super) fn proxy_fields(v: Value) -> Result<Value, PickleError> {
    let Some(p) = proxy_ref(&v) else {
        return Err(bad(&format!(
            "found a Python {} that is not multiprocessing.managers.RebuildProxy(class, Token, ...)",
            v.kind()
        )));
    };
    let (place, port) = match p.address {
        Value::Tuple(hp) if hp.len() == 2 && matches!(hp[1], Value::Int(_)) => {
            (hp[0].clone(), hp[1].clone())
        }
        path @ Value::Str(_) => (path.clone(), Value::None),
        _ => {
            return Err(bad(
                "the Token's address is neither (host, port) nor a path",
            ))
        }
    };
    let class = match p.func {
        Value::Global { name, .. } => name.clone(),
        _ => return Err(bad("the proxy class is not a global")),
    };
    let exposed = match p.kwds.get("exposed") {
        Some(Value::Tuple(names) | Value::List(names)) => Value::List(names.clone()),
        _ => Value::None,
    };
    Ok(Value::Tuple(vec![
        Value::str(class),
        Value::str(p.typeid),
        place,
        port,
        Value::str(p.id),
        exposed,
        Value::None,
    ]))
}
