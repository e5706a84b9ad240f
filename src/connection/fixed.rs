//! The pool's payload format: fixed-width, little-endian, not self-describing.
//!
//! Task arguments and results travel between a parent and workers that are the
//! same executable, so both ends agree on every type and the bytes need no
//! field names, type tags or varints: a `u64` is its 8 little-endian bytes and
//! a `Vec<u64>` is a length followed by those. That makes encoding a
//! `Vec<u64>` little more than a copy (postcard's varints made it about ten
//! times slower), and owning the few hundred lines keeps `bincode`, which is no
//! longer maintained, out of the dependency tree.
//!
//! | serde shape | bytes |
//! |---|---|
//! | bool | 1 byte, 0 or 1 |
//! | integers (8 to 128 bits) | little-endian, fixed width |
//! | f32, f64 | the IEEE bits, little-endian |
//! | char | its scalar value as a u32 |
//! | str, bytes | u64 length, then the bytes |
//! | Option | tag byte (0 None, 1 Some), then the value |
//! | unit, unit struct | nothing |
//! | newtype struct | the inner value |
//! | seq, map | u64 count, then the items (keys and values alternating) |
//! | tuple, tuple struct, struct | the fields in order, no count |
//! | enum | u32 variant index, then the variant's fields |
//!
//! Decoding checks every length against the bytes that are left before it
//! slices or allocates anything, so a truncated or corrupt payload is an error
//! that says what was expected, never a panic or a huge allocation; bytes left
//! over after the value are an error too.
//!
//! # Caveats
//! The format cannot say what it holds, so `deserialize_any` (untagged and
//! internally tagged enums, `#[serde(flatten)]`, `serde_json::Value`) and
//! `deserialize_ignored_any` are errors. A count of elements that take no bytes
//! (a `Vec<()>`) is believed as it is, and a recursive type is decoded as deep
//! as its bytes say: both ends are trusted to be the same program.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// What went wrong while encoding or decoding, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// Encodes `value`.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut ser = Serializer { out: Vec::new() };
    value.serialize(&mut ser)?;
    Ok(ser.out)
}

/// Decodes one `T` that takes all of `bytes`.
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let mut de = Deserializer { input: bytes };
    let value = T::deserialize(&mut de)?;
    if de.input.is_empty() {
        Ok(value)
    } else {
        Err(Error(format!(
            "{} trailing bytes after a complete value",
            de.input.len()
        )))
    }
}

// ---------------------------------------------------------------- encoding

/// Appends the encoding of what it is given to `out`.
struct Serializer {
    out: Vec<u8>,
}

impl Serializer {
    #[inline]
    fn put_len(&mut self, len: usize) {
        self.out.extend_from_slice(&(len as u64).to_le_bytes());
    }
}

/// A seq or map being written: counts its items, so an unknown length can be
/// filled in at the end and a wrong promised one is caught.
struct Counted<'a> {
    ser: &'a mut Serializer,
    /// Where the u64 count sits in `out`.
    len_at: usize,
    /// The count promised up front, if there was one.
    promised: Option<u64>,
    count: u64,
}

/// Largest reservation made from a guess (the first item's size times the
/// count); beyond it the Vec grows as usual.
const RESERVE_MAX: usize = 16 << 20;

impl<'a> Counted<'a> {
    fn new(ser: &'a mut Serializer, len: Option<usize>) -> Self {
        let len_at = ser.out.len();
        ser.put_len(len.unwrap_or(0));
        Counted {
            ser,
            len_at,
            promised: len.map(|n| n as u64),
            count: 0,
        }
    }

    #[inline]
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if self.count == 0 {
            // Reserve for the rest once the first item shows its size: exact
            // for fixed-width items, a fair guess for others.
            let start = self.ser.out.len();
            value.serialize(&mut *self.ser)?;
            if let Some(n) = self.promised {
                let each = self.ser.out.len() - start;
                let rest = each.saturating_mul(n.saturating_sub(1) as usize);
                self.ser.out.reserve(rest.min(RESERVE_MAX));
            }
        } else {
            value.serialize(&mut *self.ser)?;
        }
        self.count += 1;
        Ok(())
    }

    fn end(self, what: &str) -> Result<()> {
        match self.promised {
            None => {
                let at = self.len_at..self.len_at + 8;
                self.ser.out[at].copy_from_slice(&self.count.to_le_bytes());
                Ok(())
            }
            Some(n) if n == self.count => Ok(()),
            Some(n) => Err(Error(format!(
                "a {what} promised {n} items and gave {}",
                self.count
            ))),
        }
    }
}

macro_rules! put_le {
    ($($method:ident: $t:ty),* $(,)?) => {$(
        #[inline]
        fn $method(self, v: $t) -> Result<()> {
            self.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Counted<'a>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Counted<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    put_le! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128,
        serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
        serialize_f32: f32, serialize_f64: f64,
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.out.push(v);
        Ok(())
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(v as u8);
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_u32(v as u32)
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.serialize_bytes(v.as_bytes())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.out.reserve(8 + v.len());
        self.put_len(v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        self.out.push(0);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        self.out.push(1);
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<()> {
        self.serialize_u32(index)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        self.out.extend_from_slice(&index.to_le_bytes());
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Counted<'a>> {
        Ok(Counted::new(self, len))
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_struct(self, _: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.out.extend_from_slice(&index.to_le_bytes());
        Ok(self)
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Counted<'a>> {
        Ok(Counted::new(self, len))
    }

    #[inline]
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.out.extend_from_slice(&index.to_le_bytes());
        Ok(self)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for Counted<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.item(value)
    }

    fn end(self) -> Result<()> {
        Counted::end(self, "sequence")
    }
}

impl ser::SerializeMap for Counted<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.item(key)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        Counted::end(self, "map")
    }
}

/// Tuples, structs and the variants that hold fields: the fields in order.
macro_rules! fields_in_order {
    ($($tr:ident :: $method:ident ($($name:ident)?)),* $(,)?) => {$(
        impl ser::$tr for &mut Serializer {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($name: &'static str,)?
                value: &T,
            ) -> Result<()> {
                value.serialize(&mut **self)
            }

            #[inline]
            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}

fields_in_order! {
    SerializeTuple::serialize_element(),
    SerializeTupleStruct::serialize_field(),
    SerializeTupleVariant::serialize_field(),
    SerializeStruct::serialize_field(_key),
    SerializeStructVariant::serialize_field(_key),
}

// ---------------------------------------------------------------- decoding

/// Reads values from the front of `input`.
struct Deserializer<'de> {
    input: &'de [u8],
}

impl<'de> Deserializer<'de> {
    #[inline]
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        match self.input.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.input = rest;
                Ok(*head)
            }
            None => Err(self.short(what, N as u64)),
        }
    }

    #[cold]
    fn short(&self, what: &str, needed: u64) -> Error {
        Error(format!(
            "unexpected end of input: {what} needs {needed} bytes, {} left",
            self.input.len()
        ))
    }

    #[inline]
    fn byte(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A u64 count or length, as a usize.
    #[inline]
    fn len(&mut self, what: &'static str) -> Result<usize> {
        let n = u64::from_le_bytes(self.array(what)?);
        usize::try_from(n).map_err(|_| Error(format!("{what} {n} is too large")))
    }

    /// A length-prefixed run of bytes, borrowed from the input.
    #[inline]
    fn bytes(&mut self, what: &'static str) -> Result<&'de [u8]> {
        let len = self.len(what)?;
        if len > self.input.len() {
            return Err(self.short(what, len as u64));
        }
        let (head, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(head)
    }

    #[inline]
    fn str(&mut self) -> Result<&'de str> {
        let bytes = self.bytes("a string")?;
        std::str::from_utf8(bytes).map_err(|e| Error(format!("a string is not valid UTF-8: {e}")))
    }
}

fn not_self_describing(method: &str) -> Error {
    Error(format!(
        "the pool's payload format does not say what it holds, so the type must \
         (serde's `{method}`, used by untagged enums, `#[serde(flatten)]` and \
         `serde_json::Value`, is not supported)"
    ))
}

macro_rules! get_le {
    ($($method:ident: $t:ty => $visit:ident, $what:literal),* $(,)?) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            visitor.$visit(<$t>::from_le_bytes(self.array($what)?))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(not_self_describing("deserialize_any"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(not_self_describing("deserialize_ignored_any"))
    }

    get_le! {
        deserialize_i8: i8 => visit_i8, "an i8",
        deserialize_i16: i16 => visit_i16, "an i16",
        deserialize_i32: i32 => visit_i32, "an i32",
        deserialize_i64: i64 => visit_i64, "an i64",
        deserialize_i128: i128 => visit_i128, "an i128",
        deserialize_u8: u8 => visit_u8, "a u8",
        deserialize_u16: u16 => visit_u16, "a u16",
        deserialize_u32: u32 => visit_u32, "a u32",
        deserialize_u64: u64 => visit_u64, "a u64",
        deserialize_u128: u128 => visit_u128, "a u128",
        deserialize_f32: f32 => visit_f32, "an f32",
        deserialize_f64: f64 => visit_f64, "an f64",
    }

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.byte("a bool")? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            b => Err(Error(format!("invalid bool byte {b} (expected 0 or 1)"))),
        }
    }

    #[inline]
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let n = u32::from_le_bytes(self.array("a char")?);
        match char::from_u32(n) {
            Some(c) => visitor.visit_char(c),
            None => Err(Error(format!(
                "invalid char {n:#x} (not a Unicode scalar value)"
            ))),
        }
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    #[inline]
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.bytes("a byte string")?)
    }

    #[inline]
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.bytes("a byte string")?)
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.byte("an Option tag")? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            b => Err(Error(format!("invalid Option tag {b} (expected 0 or 1)"))),
        }
    }

    #[inline]
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    #[inline]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let left = self.len("a sequence length")?;
        visitor.visit_seq(Items { de: self, left })
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Items {
            de: self,
            left: len,
        })
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    #[inline]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let left = self.len("a map length")?;
        visitor.visit_map(Items { de: self, left })
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        // Enum variants are read by index in `variant_seed`; field names are
        // never written.
        Err(Error(
            "the pool's payload format has no identifiers (field names are not encoded)".into(),
        ))
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The items of a seq, map or tuple: `left` more to read.
struct Items<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Never more than the bytes left: a corrupt count must not make a
        // visitor that trusts the hint allocate for items that are not there.
        Some(self.left.min(self.de.input.len()))
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left.min(self.de.input.len()))
    }
}

impl<'de> de::EnumAccess<'de> for &mut Deserializer<'de> {
    type Error = Error;
    type Variant = Self;

    #[inline]
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let index = u32::from_le_bytes(self.array("an enum variant index")?);
        let variant = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(index))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Deserializer<'de> {
    type Error = Error;

    #[inline]
    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, fields.len(), visitor)
    }
}

/// The fuzz target's body (`fuzz/fuzz_targets/fixed.rs`): `data` read as
/// each of several payload shapes a pool sends; none may panic or allocate
/// beyond the input, and whatever decodes encodes back to the same bytes
/// (the format has one encoding per value).
pub(crate) fn fuzz(data: &[u8]) {
    #[derive(serde::Serialize, serde::Deserialize)]
    enum Shape {
        Unit,
        One(i16),
        Pair(String, Option<u32>),
        Fields { a: Vec<bool>, b: char },
    }
    fn check<T: Serialize + de::DeserializeOwned>(data: &[u8]) {
        if let Ok(v) = from_slice::<T>(data) {
            let again = to_vec(&v).expect("a decoded value encodes");
            assert_eq!(again, data, "re-encoding {}", std::any::type_name::<T>());
        }
    }
    check::<u64>(data);
    check::<Vec<u64>>(data);
    check::<String>(data);
    check::<(u8, Option<String>, Vec<(i32, f64)>)>(data);
    check::<Vec<Shape>>(data);
    check::<serde_bytes::ByteBuf>(data);
    check::<Vec<Vec<u8>>>(data);
    check::<std::collections::BTreeMap<String, (char, bool)>>(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{de::DeserializeOwned, Deserialize, Serialize};
    use std::collections::{BTreeMap, HashMap};
    use std::fmt::Debug;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) -> Vec<u8> {
        let bytes = to_vec(&value).unwrap();
        let back: T = from_slice(&bytes).unwrap();
        assert_eq!(back, value, "bytes {bytes:?}");
        bytes
    }

    #[test]
    fn integers_are_fixed_width_little_endian() {
        assert_eq!(round_trip(0x0102_0304u32), [4, 3, 2, 1]);
        assert_eq!(round_trip(-2i16), [0xfe, 0xff]);
        assert_eq!(round_trip(7u8), [7]);
        assert_eq!(round_trip(1u64), [1, 0, 0, 0, 0, 0, 0, 0]);
        for v in [u8::MIN, u8::MAX] {
            round_trip(v);
        }
        for v in [i8::MIN, -1, 0, i8::MAX] {
            round_trip(v);
        }
        for v in [u16::MIN, u16::MAX] {
            round_trip(v);
        }
        for v in [i16::MIN, i16::MAX] {
            round_trip(v);
        }
        for v in [u32::MIN, u32::MAX] {
            round_trip(v);
        }
        for v in [i32::MIN, i32::MAX] {
            round_trip(v);
        }
        for v in [u64::MIN, u64::MAX] {
            round_trip(v);
        }
        for v in [i64::MIN, i64::MAX] {
            round_trip(v);
        }
        for v in [u128::MIN, u128::MAX, 1 << 100] {
            assert_eq!(round_trip(v).len(), 16);
        }
        for v in [i128::MIN, -1, i128::MAX] {
            assert_eq!(round_trip(v).len(), 16);
        }
        round_trip(usize::MAX);
        round_trip(isize::MIN);
    }

    #[test]
    fn floats_keep_their_bits() {
        for v in [
            0.0f64,
            -0.0,
            1.5,
            f64::MIN,
            f64::MAX,
            f64::INFINITY,
            f64::EPSILON,
        ] {
            assert_eq!(round_trip(v), v.to_bits().to_le_bytes());
        }
        round_trip(f32::MIN_POSITIVE);
        for bits in [0x7ff8_0000_0000_0001u64, 0xfff0_0000_0000_0abc] {
            let nan = f64::from_bits(bits);
            let back: f64 = from_slice(&to_vec(&nan).unwrap()).unwrap();
            assert_eq!(back.to_bits(), bits);
        }
        let nan = f32::from_bits(0x7fc0_1234);
        let back: f32 = from_slice(&to_vec(&nan).unwrap()).unwrap();
        assert_eq!(back.to_bits(), 0x7fc0_1234);
    }

    #[test]
    fn bools_chars_and_strings() {
        assert_eq!(round_trip(true), [1]);
        assert_eq!(round_trip(false), [0]);
        for c in ['a', 'é', '€', '😀', '\0', char::MAX] {
            assert_eq!(round_trip(c), (c as u32).to_le_bytes());
        }
        let s = "añ€😀".to_string();
        let bytes = round_trip(s.clone());
        assert_eq!(&bytes[..8], (s.len() as u64).to_le_bytes());
        assert_eq!(&bytes[8..], s.as_bytes());
        round_trip(String::new());
        let borrowed: &str = from_slice(&bytes).unwrap();
        assert_eq!(borrowed, s);
    }

    #[test]
    fn bytes_via_serde_bytes() {
        let buf = serde_bytes::ByteBuf::from(vec![0u8, 255, 7]);
        assert_eq!(round_trip(buf), [3, 0, 0, 0, 0, 0, 0, 0, 0, 255, 7]);
        let bytes = to_vec(serde_bytes::Bytes::new(b"xyz")).unwrap();
        let back: &serde_bytes::Bytes = from_slice(&bytes).unwrap();
        assert_eq!(&back[..], b"xyz");
        round_trip(serde_bytes::ByteBuf::new());
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    struct Unit;
    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    struct Newtype(u16);
    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    struct Pair(u8, String);
    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    struct Record {
        id: u32,
        name: String,
        tags: Vec<String>,
        parent: Option<Box<Record>>,
        unit: Unit,
    }
    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
    enum Shape {
        Empty,
        Circle(f64),
        Rect(u32, u32),
        Named { name: String, sides: u8 },
    }

    #[test]
    fn option_unit_and_structs() {
        assert_eq!(round_trip(None::<u32>), [0]);
        assert_eq!(round_trip(Some(5u8)), [1, 5]);
        assert_eq!(round_trip(Some(Some(()))), [1, 1]);
        assert_eq!(round_trip(Some(None::<()>)), [1, 0]);
        assert_eq!(round_trip(()), [] as [u8; 0]);
        assert_eq!(round_trip(Unit), [] as [u8; 0]);
        assert_eq!(round_trip(Newtype(0x0102)), [2, 1]);
        assert_eq!(
            round_trip(Pair(9, "x".into())),
            [9, 1, 0, 0, 0, 0, 0, 0, 0, b'x']
        );
        let leaf = Record {
            id: 1,
            name: "leaf".into(),
            tags: vec!["a".into(), "ß".into()],
            parent: None,
            unit: Unit,
        };
        round_trip(Record {
            id: 2,
            name: "root".into(),
            tags: vec![],
            parent: Some(Box::new(leaf)),
            unit: Unit,
        });
        round_trip((1u8, -2i64, 'c', "d".to_string(), (true, ())));
    }

    #[test]
    fn enums_are_an_index_and_their_fields() {
        assert_eq!(round_trip(Shape::Empty), [0, 0, 0, 0]);
        let circle = round_trip(Shape::Circle(2.5));
        assert_eq!(&circle[..4], [1, 0, 0, 0]);
        assert_eq!(circle.len(), 12);
        assert_eq!(
            round_trip(Shape::Rect(3, 4)),
            [2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]
        );
        round_trip(Shape::Named {
            name: "hex".into(),
            sides: 6,
        });
        round_trip(vec![Ok::<u8, String>(1), Err("bad".to_string())]);
        let err = from_slice::<Shape>(&[9, 0, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("variant"), "{err}");
    }

    #[test]
    fn nested_collections() {
        assert_eq!(round_trip(vec![1u64, 2]).len(), 8 + 16);
        round_trip(Vec::<u64>::new());
        round_trip(vec![
            vec![(1u64, "one".to_string())],
            vec![],
            vec![(2, "two".into())],
        ]);
        round_trip(vec![(); 1000]);
        let mut h: HashMap<String, Vec<Option<i32>>> = HashMap::new();
        h.insert("a".into(), vec![Some(1), None]);
        h.insert("€".into(), vec![]);
        round_trip(h);
        let b: BTreeMap<u8, BTreeMap<char, Shape>> = (0..5u8)
            .map(|i| {
                (
                    i,
                    [('x', Shape::Rect(i.into(), 1)), ('y', Shape::Empty)].into(),
                )
            })
            .collect();
        let bytes = round_trip(b);
        assert_eq!(&bytes[..8], 5u64.to_le_bytes());
        round_trip([1u16, 2, 3]);
        round_trip(std::collections::VecDeque::from(vec![Shape::Circle(1.0)]));
    }

    /// A sequence whose length its serializer does not know up front.
    struct Unsized<I>(I);
    impl<I: Iterator<Item = u32> + Clone> Serialize for Unsized<I> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_seq(self.0.clone().filter(|x| x % 3 == 0))
        }
    }

    #[test]
    fn unknown_length_is_filled_in() {
        let bytes = to_vec(&(7u8, Unsized(0..10u32), 8u8)).unwrap();
        let back: (u8, Vec<u32>, u8) = from_slice(&bytes).unwrap();
        assert_eq!(back, (7, vec![0, 3, 6, 9], 8));
        let bytes = to_vec(&Unsized(1..3u32)).unwrap();
        assert_eq!(bytes, 0u64.to_le_bytes());
    }

    /// Claims a length and gives another.
    struct Liar;
    impl Serialize for Liar {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(Some(3))?;
            seq.serialize_element(&1u8)?;
            seq.end()
        }
    }

    #[test]
    fn a_wrong_promised_length_is_an_error() {
        let err = to_vec(&Liar).unwrap_err();
        assert_eq!(err.to_string(), "a sequence promised 3 items and gave 1");
    }

    #[test]
    fn custom_errors_keep_their_text() {
        struct Refuses;
        impl Serialize for Refuses {
            fn serialize<S: serde::Serializer>(
                &self,
                _: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("cannot send a closed connection"))
            }
        }
        let err = to_vec(&vec![Refuses]).unwrap_err();
        assert_eq!(err.to_string(), "cannot send a closed connection");
    }

    fn every_prefix_fails<T: DeserializeOwned + Debug>(bytes: &[u8]) {
        for end in 0..bytes.len() {
            let r = from_slice::<T>(&bytes[..end]);
            assert!(r.is_err(), "prefix of {end} bytes decoded as {r:?}");
        }
        from_slice::<T>(bytes).unwrap();
    }

    #[test]
    fn truncated_input_is_an_error() {
        every_prefix_fails::<Vec<(u64, String)>>(
            &to_vec(&vec![(1u64, "añ".to_string()), (2, "b".into())]).unwrap(),
        );
        let rec = Record {
            id: 1,
            name: "r".into(),
            tags: vec!["t".into()],
            parent: None,
            unit: Unit,
        };
        every_prefix_fails::<Record>(&to_vec(&rec).unwrap());
        every_prefix_fails::<Vec<Shape>>(
            &to_vec(&vec![
                Shape::Named {
                    name: "n".into(),
                    sides: 1,
                },
                Shape::Rect(1, 2),
            ])
            .unwrap(),
        );
        every_prefix_fails::<BTreeMap<u8, Option<u128>>>(
            &to_vec(&BTreeMap::from([(1u8, Some(5u128)), (2, None)])).unwrap(),
        );
        let err = from_slice::<u64>(&[1, 2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected end of input: a u64 needs 8 bytes, 3 left"
        );
    }

    #[test]
    fn huge_lengths_do_not_allocate() {
        let huge = u64::MAX.to_le_bytes();
        let err = from_slice::<String>(&huge).unwrap_err();
        assert!(err.to_string().contains("a string needs"), "{err}");
        assert!(from_slice::<serde_bytes::ByteBuf>(&huge).is_err());
        assert!(from_slice::<Vec<u64>>(&huge).is_err());
        assert!(from_slice::<Vec<String>>(&huge).is_err());
        assert!(from_slice::<HashMap<u64, u64>>(&huge).is_err());
        let mut almost = (1u64 << 40).to_le_bytes().to_vec();
        almost.extend_from_slice(&[0; 16]);
        assert!(from_slice::<Vec<Vec<u8>>>(&almost).is_err());
    }

    #[test]
    fn invalid_values_are_errors() {
        let err = from_slice::<bool>(&[2]).unwrap_err();
        assert_eq!(err.to_string(), "invalid bool byte 2 (expected 0 or 1)");
        assert!(from_slice::<char>(&0xd800u32.to_le_bytes()).is_err());
        assert!(from_slice::<char>(&0x11_0000u32.to_le_bytes()).is_err());
        let mut bad = 2u64.to_le_bytes().to_vec();
        bad.extend_from_slice(&[0xc3, 0x28]);
        let err = from_slice::<String>(&bad).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
        assert!(from_slice::<Option<u8>>(&[2, 0]).is_err());
        let err = from_slice::<u8>(&[1, 2]).unwrap_err();
        assert_eq!(err.to_string(), "1 trailing bytes after a complete value");
        let err = from_slice::<serde_json::Value>(&[0]).unwrap_err();
        assert!(err.to_string().contains("deserialize_any"), "{err}");
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64*: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        // Miri interprets every step: fewer rounds there.
        let rounds = if cfg!(miri) { 300 } else { 20_000 };
        for _ in 0..rounds {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Small lengths and tags are likelier to get past the first check.
            if len > 8 && next() % 2 == 0 {
                bytes[1..8].fill(0);
                bytes[0] %= 8;
            }
            let _ = from_slice::<Vec<(u64, String)>>(&bytes);
            let _ = from_slice::<Vec<Shape>>(&bytes);
            let _ = from_slice::<Record>(&bytes);
            let _ = from_slice::<HashMap<String, Option<char>>>(&bytes);
            let _ = from_slice::<(bool, i128, f32, serde_bytes::ByteBuf)>(&bytes);
            // The fuzz target's body: decoded values re-encode byte for byte.
            super::fuzz(&bytes);
        }
    }
}
