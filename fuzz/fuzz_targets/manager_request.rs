//! Arbitrary bytes as a manager request: `decode_request` returns a request
//! or an error, never panics; and the server answers whatever decodes (a
//! server-level function, or a method call aimed at a fresh object of the
//! kind the first byte picks), with a reply that decodes, never a panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use mp::connection::Address;
use mp::managers::request::decode_request;
use mp::managers::server::{Server, ServerLimits};
use mp::pickle::{dumps, loads, Value};

/// The objects a method call can be aimed at (the kinds whose methods
/// never block): `create` arguments for each.
fn constructor(pick: u8) -> Vec<Value> {
    let ints = || Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
    match pick % 6 {
        0 => vec![Value::str("dict"), Value::Dict(vec![(Value::Int(1), ints())])],
        1 => vec![Value::str("list"), ints()],
        2 => vec![Value::str("set"), ints()],
        3 => vec![Value::str("Namespace")],
        4 => vec![Value::str("Value"), Value::str("i"), Value::Int(1)],
        _ => vec![Value::str("Array"), Value::str("i"), ints()],
    }
}

/// A fresh server per input: what one input does cannot slow the next.
fn server() -> std::sync::Arc<Server> {
    let limits = ServerLimits {
        max_objects: 10_000,
        max_objects_per_connection: 1_000,
        max_message: 1 << 20,
    };
    let address = Address::Tcp {
        host: "127.0.0.1".into(),
        port: 1,
    };
    Server::with_limits(address, HashMap::new(), limits)
}

fn request(ident: Value, method: &str, args: Vec<Value>) -> Vec<u8> {
    dumps(&Value::Tuple(vec![
        ident,
        Value::str(method),
        Value::Tuple(args),
        Value::Dict(vec![]),
    ]))
}

fn answer(server: &Server, bytes: &[u8]) -> Value {
    let reply = server.answer_detached(bytes);
    loads(&reply).expect("the server's replies decode")
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_request(data) else {
        return;
    };
    let server = server();
    if req.ident == Value::None {
        answer(&server, data);
        return;
    }
    // Aim the method call at a new object of the kind the first byte picks.
    let args = constructor(data.first().copied().unwrap_or(0));
    let created = answer(&server, &request(Value::None, "create", args));
    let Some(ident) = created
        .as_seq()
        .and_then(|r| r.get(1))
        .and_then(Value::as_seq)
        .and_then(|r| r.first())
        .cloned()
    else {
        return;
    };
    let kwds = req.kwds_value();
    let aimed = dumps(&Value::Tuple(vec![
        ident.clone(),
        Value::str(req.method),
        Value::Tuple(req.args),
        kwds,
    ]));
    answer(&server, &aimed);
});
