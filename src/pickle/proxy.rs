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
    let class = Value::global(MODULE, class);
    let token = Value::Object {
        class: Box::new(Value::global(MODULE, "Token")),
        args: Box::new(Value::Tuple(vec![])),
        kwargs: None,
        state: Some(Box::new(Value::Tuple(vec![typeid, address, id]))),
    };
    let kwds = match exposed {
        Value::None => vec![],
        Value::List(names) | Value::Tuple(names) => {
            vec![(Value::str("exposed"), Value::Tuple(names))]
        }
        _ => return Err(bad("exposed must be a list of names")),
    };
    Ok(Value::Reduce {
        callable: Box::new(Value::global(MODULE, "RebuildProxy")),
        args: Box::new(Value::Tuple(vec![
            class,
            token,
            Value::str("pickle"),
            Value::Dict(kwds),
        ])),
        state: None,
    })
}

/// A `RebuildProxy` reduction (as CPython or mp's server sends it) → the
/// proxy's field tuple. Anything else is an error naming what it was.
pub(super) fn proxy_fields(v: Value) -> Result<Value, PickleError> {
    let Value::Reduce { callable, args, .. } = v else {
        return Err(bad(&format!("found a Python {}", v.kind())));
    };
    if !callable.is_global(MODULE, "RebuildProxy") {
        return Err(bad(
            "the reduction is not multiprocessing.managers.RebuildProxy",
        ));
    }
    let Value::Tuple(args) = *args else {
        return Err(bad("RebuildProxy's arguments are not a tuple"));
    };
    let [class, token, _serializer, kwds] =
        <[Value; 4]>::try_from(args).map_err(|_| bad("RebuildProxy takes 4 arguments"))?;
    let Value::Global { name: class, .. } = class else {
        return Err(bad("the proxy class is not a global"));
    };
    let Value::Object {
        class: token_class,
        state: Some(state),
        ..
    } = token
    else {
        return Err(bad("no Token"));
    };
    if !token_class.is_global(MODULE, "Token") {
        return Err(bad("the token is not a multiprocessing.managers.Token"));
    }
    let Value::Tuple(state) = *state else {
        return Err(bad("the Token's state is not a tuple"));
    };
    let [typeid, address, id] =
        <[Value; 3]>::try_from(state).map_err(|_| bad("a Token has 3 fields"))?;
    let (place, port) = match address {
        Value::Tuple(hp) if hp.len() == 2 && matches!(hp[1], Value::Int(_)) => {
            let mut hp = hp.into_iter();
            let host = hp.next().unwrap_or(Value::None);
            (host, hp.next().unwrap_or(Value::None))
        }
        path @ Value::Str(_) => (path, Value::None),
        _ => {
            return Err(bad(
                "the Token's address is neither (host, port) nor a path",
            ))
        }
    };
    let exposed = match kwds.get("exposed") {
        Some(Value::Tuple(names) | Value::List(names)) => Value::List(names.clone()),
        _ => Value::None,
    };
    Ok(Value::Tuple(vec![
        Value::Str(class.into()),
        typeid,
        place,
        port,
        id,
        exposed,
        Value::None,
    ]))
}
