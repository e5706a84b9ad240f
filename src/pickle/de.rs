//! [`Value`] → Rust through serde, accepting the Python types a peer may reasonably send.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::value::Value;
use super::PickleError;

/// Convert a [`Value`] to a Rust value. The inverse of [`to_value`](super::to_value), and lenient
/// where Python is loose:
///
/// * a sequence is read from a `list`, `tuple`, `set` or `frozenset`;
/// * a byte buffer (`serde_bytes`, `Vec<u8>` via seq) from `bytes` or `bytearray`;
/// * an integer from any `int` in the target's range (`bool` too, as in Python);
/// * an `f64` from a `float` or an `int`;
/// * `Option<T>`: `None` is `None`, anything else is `Some`;
/// * an enum from `'Variant'` (unit) or `{'Variant': payload}`;
/// * a struct from a `dict` with `str` keys, or from a `tuple`/`list` in field order.
///
/// Classes, reductions and objects (exceptions, Tokens...) have no serde
/// counterpart: look at the [`Value`] itself for those. Errors name what was
/// expected and what was found.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, PickleError> {
    T::deserialize(value)
}

fn found(v: &Value) -> String {
    match v {
        Value::Global { module, name } => format!("the global {module}.{name}"),
        Value::Reduce { callable, .. }
        | Value::Object {
            class: callable, ..
        } => match &**callable {
            Value::Global { module, name } => format!("a {module}.{name} object"),
            _ => v.kind().to_string(),
        },
        _ => format!("a Python {}", v.kind()),
    }
}

fn mismatch(v: &Value, expected: &dyn de::Expected) -> PickleError {
    PickleError::Serde(format!("expected {expected}, found {}", found(v)))
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = PickleError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PickleError> {
        self.0.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map {
    pairs: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = PickleError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PickleError> {
        match self.pairs.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, PickleError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| PickleError::Serde("map value requested before its key".into()))?;
        seed.deserialize(v)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.pairs.len())
    }
}

struct Enum {
    variant: Value,
    payload: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = PickleError;
    type Variant = Variant;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant), PickleError> {
        let v = seed.deserialize(self.variant)?;
        Ok((v, Variant(self.payload)))
    }
}

struct Variant(Option<Value>);

impl<'de> de::VariantAccess<'de> for Variant {
    type Error = PickleError;
    fn unit_variant(self) -> Result<(), PickleError> {
        match self.0 {
            None | Some(Value::None) => Ok(()),
            Some(v) => Err(mismatch(&v, &"a unit variant (no payload)")),
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, PickleError> {
        match self.0 {
            Some(v) => seed.deserialize(v),
            None => Err(PickleError::Serde(
                "expected a newtype variant {'Variant': value}, found a bare str".into(),
            )),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        match self.0 {
            Some(v) => de::Deserializer::deserialize_tuple(v, len, visitor),
            None => Err(PickleError::Serde(
                "expected a tuple variant {'Variant': (...)}, found a bare str".into(),
            )),
        }
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        match self.0 {
            Some(v) => de::Deserializer::deserialize_struct(v, "", fields, visitor),
            None => Err(PickleError::Serde(
                "expected a struct variant {'Variant': {...}}, found a bare str".into(),
            )),
        }
    }
}

impl Value {
    fn visit_int<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Int(i) => visitor.visit_i64(i),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::BigInt(_) => match (self.as_u128(), self.as_i128()) {
                (Some(u), _) => match u64::try_from(u) {
                    Ok(u) => visitor.visit_u64(u),
                    Err(_) => visitor.visit_u128(u),
                },
                (_, Some(i)) => visitor.visit_i128(i),
                _ => Err(PickleError::Serde(format!(
                    "int {} does not fit in 128 bits",
                    self.int_to_decimal().unwrap_or_default()
                ))),
            },
            other => Err(mismatch(&other, &visitor)),
        }
    }
}

macro_rules! ints {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
            match self {
                Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => self.visit_int(visitor),
                other => Err(mismatch(&other, &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = PickleError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(_) | Value::BigInt(_) => self.visit_int(visitor),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => match s.as_str() {
                Some(t) => visitor.visit_string(t.to_owned()),
                None => Err(PickleError::Serde(format!(
                    "the str {s:?} holds a lone surrogate and cannot be a Rust string"
                ))),
            },
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_byte_buf(b),
            Value::Tuple(v) | Value::List(v) | Value::Set(v) | Value::FrozenSet(v) => {
                visitor.visit_seq(Seq(v.into_iter()))
            }
            Value::Dict(pairs) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            other @ (Value::Global { .. } | Value::Reduce { .. } | Value::Object { .. }) => {
                Err(mismatch(&other, &visitor))
            }
        }
    }

    ints!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
          deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Float(f) => visitor.visit_f64(f),
            Value::Int(i) => visitor.visit_f64(i as f64),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Str(_) => self.deserialize_any(visitor),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_byte_buf(b),
            Value::List(_) | Value::Tuple(_) => self.deserialize_any(visitor),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::None => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::None => visitor.visit_unit(),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        if name == super::PROXY_NEWTYPE {
            return visitor.visit_newtype_struct(super::proxy::proxy_fields(self)?);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Tuple(v) | Value::List(v) | Value::Set(v) | Value::FrozenSet(v) => {
                visitor.visit_seq(Seq(v.into_iter()))
            }
            // Vec<u8> from bytes.
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_seq(Seq(b
                .into_iter()
                .map(|x| Value::Int(x.into()))
                .collect::<Vec<_>>()
                .into_iter())),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        match &self {
            Value::Tuple(v) | Value::List(v) if v.len() != len => Err(PickleError::Serde(format!(
                "expected a tuple of {len} items, found a Python {} of {}",
                self.kind(),
                v.len()
            ))),
            _ => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        match self {
            Value::Dict(pairs) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        match self {
            Value::Dict(pairs) => visitor.visit_map(Map {
                pairs: pairs.into_iter(),
                value: None,
            }),
            Value::Tuple(v) | Value::List(v) => visitor.visit_seq(Seq(v.into_iter())),
            other => Err(mismatch(&other, &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PickleError> {
        match self {
            Value::Str(_) => visitor.visit_enum(Enum {
                variant: self,
                payload: None,
            }),
            Value::Dict(mut pairs) if pairs.len() == 1 => {
                let (variant, payload) = pairs.pop().expect("one pair");
                visitor.visit_enum(Enum {
                    variant,
                    payload: Some(payload),
                })
            }
            other => Err(PickleError::Serde(format!(
                "expected enum {name} as 'Variant' or {{'Variant': payload}}, found {}",
                found(&other)
            ))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PickleError> {
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, PickleError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}
