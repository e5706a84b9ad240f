//! Proxies that travel as values: a Python proxy pickles as
//! `multiprocessing.managers.RebuildProxy(func, Token(typeid, address, id),
//! serializer, kwds)` (wire spec §3.6, §3.8), e.g. when a client appends one
//! managed list to another. This module recognises that shape in an inert
//! [`Value`] tree, finds every one nested in a value, and rebuilds the form
//! CPython's server sends back.
//!
//! Nothing here decides whether a token names one of the server's own
//! objects: that needs the server's address and object table (see
//! `server.rs`). Everything here is pure.

use crate::pickle::Value;

pub(crate) use crate::pickle::proxy::{proxy_ref, ProxyRef};

/// Calls `f` with every proxy inside `v` (containers, dict keys and
/// values, the arguments and state of inert objects), outermost first. A
/// proxy's own parts are not searched.
pub fn for_each_proxy<'a>(v: &'a Value, f: &mut dyn FnMut(ProxyRef<'a>)) {
    match proxy_ref(v) {
        Some(p) => f(p),
        None => v.for_each_child(&mut |c| for_each_proxy(c, f)),
    }
}

/// Rewrites, in place, every proxy inside `v` for which `keep(id)` holds
/// into the form CPython's server sends back when it returns a proxy it
/// stored: `kwds` is `{'exposed': ...}` for an AutoProxy (taken from what
/// came, else `exposed(id)`) and `{}` otherwise — what the client sent for
/// its own process (`authkey`, `incref`, `manager_owned`) is not kept.
pub fn normalize_proxies(
    v: &mut Value,
    keep: &dyn Fn(&str) -> bool,
    exposed: &dyn Fn(&str) -> Option<Value>,
) {
    if let Some(p) = proxy_ref(v) {
        if !keep(p.id) {
            return;
        }
        let auto = matches!(p.func, Value::Global { name, .. } if name == "AutoProxy");
        let kwds = if auto {
            let names = p.kwds.get("exposed").cloned().or_else(|| exposed(p.id));
            match names {
                Some(n) => Value::Dict(vec![(Value::str("exposed"), n)]),
                None => Value::Dict(vec![]),
            }
        } else {
            Value::Dict(vec![])
        };
        if let Value::Reduce { args, state, .. } = v {
            if let Value::Tuple(a) = &mut **args {
                if let Some(slot) = a.get_mut(3) {
                    *slot = kwds;
                }
            }
            *state = None;
        }
        return;
    }
    v.for_each_child_mut(&mut |c| normalize_proxies(c, keep, exposed));
}

#[cfg(test)]
pub(crate) fn rebuild_proxy(func: &str, typeid: &str, address: Value, id: &str) -> Value {
    crate::pickle::proxy::rebuild(func, Value::str(typeid), address, Value::str(id), vec![])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::pickle::unhex(s).expect("hex")
    }

    /// The DictProxy pickle captured from CPython 3.11
    /// (vectors/pickles/proxy-pickles-py3.11.json).
    const DICT_PROXY: &str = "80049586000000000000008c186d756c746970726f63657373696e672e6d616e6167657273948c0c52656275696c6450726f78799493942868008c094469637450726f787994939468008c05546f6b656e9493942981948c0464696374948c093132372e302e302e31944dfb8286948c0c376661376564363833633430948794628c067069636b6c65947d94749452942e";

    #[test]
    fn recognises_cpythons_proxy_pickle() {
        let v = crate::pickle::loads(&unhex(DICT_PROXY)).unwrap();
        let p = proxy_ref(&v).expect("a proxy");
        assert_eq!(p.typeid, "dict");
        assert_eq!(p.id, "7fa7ed683c40");
        assert_eq!(p.tcp_address(), Some(("127.0.0.1", 33531)));
        assert_eq!(p.class_name(), "DictProxy");
        // Nested, it is found; its own parts are not searched.
        let outer = Value::List(vec![Value::Int(1), Value::Dict(vec![(Value::str("k"), v)])]);
        let mut ids = Vec::new();
        for_each_proxy(&outer, &mut |p| ids.push(p.id.to_string()));
        assert_eq!(ids, ["7fa7ed683c40"]);
    }

    #[test]
    fn normalizing_keeps_only_what_cpython_sends_back() {
        let mut v = rebuild_proxy("AutoProxy", "Queue", Value::str("/tmp/s"), "7f01");
        if let Value::Reduce { args, .. } = &mut v {
            if let Value::Tuple(a) = &mut **args {
                a[3] = Value::Dict(vec![
                    (Value::str("authkey"), Value::Bytes(b"k".to_vec())),
                    (Value::str("incref"), Value::Bool(false)),
                ]);
            }
        }
        let mut list = Value::List(vec![v]);
        normalize_proxies(&mut list, &|id| id == "7f01", &|_| {
            Some(Value::Tuple(vec![Value::str("get")]))
        });
        let p = proxy_ref(&list.as_seq().unwrap()[0]).unwrap();
        assert_eq!(
            *p.kwds,
            Value::Dict(vec![(
                Value::str("exposed"),
                Value::Tuple(vec![Value::str("get")])
            )])
        );
        assert_eq!(p.class_name(), "AutoProxy[Queue]");
    }
}
