//! [`Value`] ⇄ JSON, for printing received objects and building pickles from the command line.

use serde_json::{json, Map, Number, Value as Json};

use super::value::Value;

/// A JSON rendering of a value, for people and scripts; lossy where JSON has no equivalent.
///
/// | Python | JSON |
/// |---|---|
/// | `None`, `bool` | `null`, `true`/`false` |
/// | `int` | a number if it fits in `i64`/`u64`, else its decimal text as a string |
/// | `float` | a number; `nan`, `inf`, `-inf` become the strings `"nan"`, `"inf"`, `"-inf"` |
/// | `str` | a string (lone surrogates become U+FFFD) |
/// | `bytes` / `bytearray` | `{"$bytes": "<hex>"}` / `{"$bytearray": "<hex>"}` (lowercase hex) |
/// | `tuple`, `list`, `set`, `frozenset` | an array |
/// | `dict` whose keys are all `str` | an object, keys in the dict's order |
/// | any other `dict` | an array of `[key, value]` arrays, in order |
/// | class / function | `{"$global": "module.name"}` |
/// | `callable(*args)` (REDUCE) | `{"$reduce": <callable>, "args": <args>}` plus `"state"` after a BUILD |
/// | `cls.__new__(cls, ...)` | `{"$object": <class>, "args": <args>}` plus `"kwargs"`, `"state"` when present |
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::BigInt(_) => match v.as_u128().and_then(|u| u64::try_from(u).ok()) {
            Some(u) => Json::from(u),
            None => Json::String(v.int_to_decimal().unwrap_or_default()),
        },
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None if f.is_nan() => Json::from("nan"),
            None if *f > 0.0 => Json::from("inf"),
            None => Json::from("-inf"),
        },
        Value::Str(s) => Json::String(s.to_string_lossy().into_owned()),
        Value::Bytes(b) => json!({ "$bytes": hex(b) }),
        Value::ByteArray(b) => json!({ "$bytearray": hex(b) }),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) | Value::FrozenSet(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        Value::Dict(pairs) => {
            if pairs.iter().all(|(k, _)| matches!(k, Value::Str(_))) {
                let mut m = Map::new();
                for (k, val) in pairs {
                    if let Value::Str(s) = k {
                        m.insert(s.to_string_lossy().into_owned(), to_json(val));
                    }
                }
                Json::Object(m)
            } else {
                Json::Array(
                    pairs
                        .iter()
                        .map(|(k, val)| Json::Array(vec![to_json(k), to_json(val)]))
                        .collect(),
                )
            }
        }
        Value::Global { module, name } => json!({ "$global": format!("{module}.{name}") }),
        Value::Reduce {
            callable,
            args,
            state,
        } => {
            let mut m = Map::new();
            m.insert("$reduce".into(), to_json(callable));
            m.insert("args".into(), to_json(args));
            if let Some(s) = state {
                m.insert("state".into(), to_json(s));
            }
            Json::Object(m)
        }
        Value::Object {
            class,
            args,
            kwargs,
            state,
        } => {
            let mut m = Map::new();
            m.insert("$object".into(), to_json(class));
            m.insert("args".into(), to_json(args));
            if let Some(k) = kwargs {
                m.insert("kwargs".into(), to_json(k));
            }
            if let Some(s) = state {
                m.insert("state".into(), to_json(s));
            }
            Json::Object(m)
        }
    }
}

/// A value from JSON: `null` → `None`, booleans, integers → `int` (beyond `i64` a
/// [`Value::BigInt`]), other numbers → `float`, strings → `str`, arrays → `list`,
/// objects → `dict` with `str` keys.
///
/// The one exception: an object whose only key is `"$bytes"` with a hex string
/// value becomes `bytes`, so that [`to_json`]'s rendering of bytes reads back.
pub fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::from_u128(u.into())
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::str(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(m) => {
            if m.len() == 1 {
                if let Some(Json::String(h)) = m.get("$bytes") {
                    if let Some(b) = unhex(h) {
                        return Value::Bytes(b);
                    }
                }
            }
            Value::Dict(
                m.iter()
                    .map(|(k, v)| (Value::str(k.as_str()), from_json(v)))
                    .collect(),
            )
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hex text to bytes (`None` unless it is pairs of hex digits).
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let v = Value::List(vec![
            Value::None,
            Value::Float(f64::NAN),
            Value::from_u128(u128::MAX),
            Value::Bytes(vec![0, 255]),
            Value::Dict(vec![(Value::Int(1), Value::Bool(true))]),
            Value::new_exception("builtins", "KeyError", vec![Value::str("k")]),
        ]);
        assert_eq!(
            to_json(&v),
            json!([null, "nan", "340282366920938463463374607431768211455", {"$bytes": "00ff"},
                   [[1, true]], {"$reduce": {"$global": "builtins.KeyError"}, "args": ["k"]}])
        );
        let j = json!({"a": [1, 2.5, "x", {"$bytes": "00ff"}], "b": 18446744073709551615u64});
        assert_eq!(
            from_json(&j),
            Value::Dict(vec![
                (
                    Value::str("a"),
                    Value::List(vec![
                        Value::Int(1),
                        Value::Float(2.5),
                        Value::str("x"),
                        Value::Bytes(vec![0, 255])
                    ])
                ),
                (Value::str("b"), Value::from_u128(u64::MAX.into())),
            ])
        );
    }
}
