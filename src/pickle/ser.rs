//! Rust → [`Value`] through serde: the natural Python type for each Rust type.

use serde::ser::{self, Serialize};

use super::value::Value;
use super::PickleError;

/// Convert a Rust value to a [`Value`]:
///
/// | Rust (serde data model) | Python |
/// |---|---|
/// | `bool` | `bool` |
/// | integers | `int` (`u64`/`u128`/`i128` beyond `i64` become [`Value::BigInt`]) |
/// | `f32`, `f64` | `float` |
/// | `char`, `&str`, `String` | `str` |
/// | bytes (`serde_bytes`) | `bytes` |
/// | `None`, `()`, unit structs | `None` |
/// | `Some(x)`, newtype structs | `x` |
/// | sequences (`Vec`, sets...) | `list` |
/// | tuples, tuple structs | `tuple` |
/// | maps | `dict`, in iteration order |
/// | structs | `dict` with `str` keys, in field order |
/// | unit enum variant | `str` of the variant name |
/// | newtype / tuple / struct variant | `{variant: payload}` (payload as above) |
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, PickleError> {
    value.serialize(ValueSerializer)
}

struct ValueSerializer;

/// Collects a sequence; `variant` wraps it as `{variant: ...}`.
pub(crate) struct SeqBuilder {
    items: Vec<Value>,
    tuple: bool,
    variant: Option<&'static str>,
}

pub(crate) struct MapBuilder {
    pairs: Vec<(Value, Value)>,
    pending_key: Option<Value>,
    variant: Option<&'static str>,
}

fn wrap(variant: Option<&'static str>, v: Value) -> Value {
    match variant {
        Some(name) => Value::Dict(vec![(Value::str(name), v)]),
        None => v,
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = PickleError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, PickleError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, PickleError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, PickleError> {
        Ok(Value::from_i128(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, PickleError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, PickleError> {
        Ok(Value::from_u128(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, PickleError> {
        Ok(Value::from_u128(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, PickleError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, PickleError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, PickleError> {
        Ok(Value::str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, PickleError> {
        Ok(Value::str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, PickleError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, PickleError> {
        Ok(Value::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, PickleError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, PickleError> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, PickleError> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, PickleError> {
        Ok(Value::str(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, PickleError> {
        let v = value.serialize(self)?;
        if name == super::PROXY_NEWTYPE {
            return super::proxy::rebuild_proxy(v);
        }
        Ok(v)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, PickleError> {
        Ok(wrap(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, PickleError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            tuple: false,
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, PickleError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: None,
        })
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, PickleError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, PickleError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: Some(variant),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, PickleError> {
        Ok(MapBuilder {
            pairs: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            pending_key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder, PickleError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapBuilder, PickleError> {
        Ok(MapBuilder {
            pairs: Vec::with_capacity(len.min(4096)),
            pending_key: None,
            variant: Some(variant),
        })
    }
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn finish(self) -> Value {
        let v = if self.tuple {
            Value::Tuple(self.items)
        } else {
            Value::List(self.items)
        };
        wrap(self.variant, v)
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, PickleError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, PickleError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, PickleError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, PickleError> {
        Ok(self.finish())
    }
}

impl MapBuilder {
    fn finish(self) -> Result<Value, PickleError> {
        if self.pending_key.is_some() {
            return Err(PickleError::Serde(
                "a map key was serialized without its value".into(),
            ));
        }
        Ok(wrap(self.variant, Value::Dict(self.pairs)))
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), PickleError> {
        self.pending_key = Some(to_value(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PickleError> {
        let key = self.pending_key.take().ok_or_else(|| {
            PickleError::Serde("a map value was serialized without its key".into())
        })?;
        self.pairs.push((key, to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, PickleError> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PickleError> {
        self.pairs.push((Value::str(key), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, PickleError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Value;
    type Error = PickleError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PickleError> {
        self.pairs.push((Value::str(key), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, PickleError> {
        self.finish()
    }
}

/// A [`Value`] serializes as the Rust value it stands for (used to mix
/// hand-built values, like exceptions, into serde structures).
impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{Error, SerializeMap, SerializeSeq, SerializeTuple};
        match self {
            Value::None => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(_) => match (self.as_i128(), self.as_u128()) {
                (_, Some(u)) => s.serialize_u128(u),
                (Some(i), _) => s.serialize_i128(i),
                _ => Err(S::Error::custom("int too large for 128 bits")),
            },
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(p) => match p.as_str() {
                Some(t) => s.serialize_str(t),
                None => Err(S::Error::custom("str holds a lone surrogate")),
            },
            Value::Bytes(b) | Value::ByteArray(b) => s.serialize_bytes(b),
            Value::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for i in items {
                    t.serialize_element(i)?;
                }
                t.end()
            }
            Value::List(items) | Value::Set(items) | Value::FrozenSet(items) => {
                let mut t = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    t.serialize_element(i)?;
                }
                t.end()
            }
            Value::Dict(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Value::Global { .. } | Value::Reduce { .. } | Value::Object { .. } => Err(
                S::Error::custom(format!("a Python {} has no serde equivalent", self.kind())),
            ),
        }
    }
}
