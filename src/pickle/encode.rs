//! The pickler: protocol 4, opcode for opcode what CPython's C pickler writes.
//!
//! The framing rules, as CPython 3.8–3.13 apply them (`Modules/_pickle.c`):
//!
//! * the PROTO header is outside any frame; a frame opens lazily at the
//!   first write after it, with 9 bytes reserved for `FRAME <u64 len>`;
//! * before each object is saved, a frame holding ≥ 64 KiB is closed;
//! * a bytes/str payload ≥ 64 KiB closes the current frame and is written,
//!   with its opcode, outside any frame;
//! * STOP goes in the last frame; a frame whose content is < 4 bytes loses
//!   its header (so `None` is just `80 04 4e 2e`).
//!
//! Batching: lists, dicts and sets are written 1000 items per
//! MARK…APPENDS/SETITEMS/ADDITEMS; a one-item list or dict uses
//! APPEND/SETITEM instead; a dict or set whose size is a multiple of 1000
//! gets one more, empty, MARK…SETITEMS/ADDITEMS (CPython's loop checks for
//! "more" after a full batch).

use std::collections::HashMap;

use super::op;
use super::value::{minimal_twos, Value};

const FRAME_SIZE_TARGET: usize = 64 * 1024;
const FRAME_SIZE_MIN: usize = 4;
const FRAME_HEADER_SIZE: usize = 9;
const BATCHSIZE: usize = 1000;

/// Encode a value as a protocol-4 pickle, framed and memoized like CPython's.
///
/// Readable by every Python ≥ 3.4. See the [module docs](super#encoding)
/// for the one difference from CPython (repeated objects).
pub fn dumps(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    dumps_into(v, &mut out);
    out
}

/// [`dumps`], appended to `out` (a reused buffer, or after a frame header).
pub fn dumps_into(v: &Value, out: &mut Vec<u8>) {
    encode_into(out, |e| e.save(v));
}

/// The bytes of `dumps_into(&Value::Tuple([Value::str(tag), v]))` without
/// building the tuple (a manager's `('#RETURN', result)` reply): written straight out, without the
/// encoder, when `v` is None, a bool or an int of 32 bits (what most calls
/// return) and the tag a str of 2 to 255 bytes.
pub(crate) fn dumps_pair_into(tag: &str, v: &Value, out: &mut Vec<u8>) {
    let mut item = [0u8; 5];
    let n = match *v {
        Value::None => {
            item[0] = op::NONE;
            1
        }
        Value::Bool(b) => {
            item[0] = if b { op::NEWTRUE } else { op::NEWFALSE };
            1
        }
        Value::Int(i @ 0..=0xff) => {
            item[..2].copy_from_slice(&[op::BININT1, i as u8]);
            2
        }
        Value::Int(i @ 0x100..=0xffff) => {
            item[0] = op::BININT2;
            item[1..3].copy_from_slice(&(i as u16).to_le_bytes());
            3
        }
        Value::Int(i) if i32::try_from(i).is_ok() => {
            item[0] = op::BININT;
            item[1..].copy_from_slice(&(i as i32).to_le_bytes());
            5
        }
        _ => 0,
    };
    let Some(len) = u8::try_from(tag.len()).ok().filter(|&l| n > 0 && l >= 2) else {
        return encode_into(out, |e| {
            e.boundary();
            e.save_str(tag.as_bytes());
            e.boundary();
            e.save(v);
            e.write(&[op::TUPLE2]);
            e.memoize();
        });
    };
    // SHORT_BINUNICODE len tag MEMOIZE, item, TUPLE2 MEMOIZE STOP.
    let content = 2 + tag.len() + 1 + n + 3;
    out.extend_from_slice(&[op::PROTO, 4, op::FRAME]);
    out.extend_from_slice(&(content as u64).to_le_bytes());
    out.extend_from_slice(&[op::SHORT_BINUNICODE, len]);
    out.extend_from_slice(tag.as_bytes());
    out.push(op::MEMOIZE);
    out.extend_from_slice(&item[..n]);
    out.extend_from_slice(&[op::TUPLE2, op::MEMOIZE, op::STOP]);
}

/// The bytes of `dumps_into(&Value::Tuple([ident or None, method,
/// Tuple(args), Dict(kwds)]))` without building the tuple: a manager
/// client's request, from references.
pub(crate) fn dumps_request_into(
    ident: Option<&str>,
    method: &str,
    args: &[Value],
    kwds: &[(Value, Value)],
    out: &mut Vec<u8>,
) {
    encode_into(out, |e| {
        e.boundary();
        e.write(&[op::MARK]);
        e.boundary();
        match ident {
            Some(ident) => e.save_str(ident.as_bytes()),
            None => e.write(&[op::NONE]),
        }
        e.boundary();
        e.save_str(method.as_bytes());
        e.boundary();
        e.save_tuple(args.iter());
        e.boundary();
        e.save_dict(kwds);
        e.write(&[op::TUPLE]);
        e.memoize();
    });
}

/// [`dumps_request_into`] for a method call with positional arguments
/// only, given as a Rust value (a tuple: its items; `()`: none; anything
/// else: the one argument, as `to_value` would make them): when each
/// argument is a leaf (None, a bool, an int, a float, a str or bytes)
/// and the whole fits in one frame, the bytes
/// [`dumps_request_into`] writes, written straight from the Rust value
/// (no [`Value`], no encoder). Anything else writes nothing and gives
/// `false`: encode through [`Value`]s then.
pub(crate) fn dumps_flat_request_into<A: serde::Serialize + ?Sized>(
    ident: &str,
    method: &str,
    args: &A,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    out.extend_from_slice(&[op::PROTO, 4, op::FRAME, 0, 0, 0, 0, 0, 0, 0, 0]);
    let content = out.len();
    out.push(op::MARK);
    let mut w = flat::Leaves::new(out);
    let written =
        w.str(ident).is_ok() && w.str(method).is_ok() && args.serialize(flat::Args(&mut w)).is_ok();
    let len = out.len() - content + 5;
    if !written || len >= FRAME_SIZE_TARGET {
        out.truncate(start);
        return false;
    }
    out.extend_from_slice(&[
        op::EMPTY_DICT,
        op::MEMOIZE,
        op::TUPLE,
        op::MEMOIZE,
        op::STOP,
    ]);
    out[content - 8..content].copy_from_slice(&(len as u64).to_le_bytes());
    true
}

/// The serializers of [`dumps_flat_request_into`].
mod flat {
    use serde::ser::{self, Impossible, Serialize};

    use super::{minimal_twos, op, sized_header, Singletons, Value};

    /// Not a flat request: encode it the general way.
    #[derive(Debug)]
    pub(super) struct NotFlat;

    impl std::fmt::Display for NotFlat {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("not a flat request")
        }
    }

    impl std::error::Error for NotFlat {}

    /// The `Serializer` methods for what no flat request holds (variants
    /// with fields, maps, structs), which both serializers refuse.
    macro_rules! refuse_named_compounds {
        () => {
            fn serialize_tuple_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeTupleVariant, NotFlat> {
                Err(NotFlat)
            }
            fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotFlat> {
                Err(NotFlat)
            }
            fn serialize_struct(
                self,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStruct, NotFlat> {
                Err(NotFlat)
            }
            fn serialize_struct_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self::SerializeStructVariant, NotFlat> {
                Err(NotFlat)
            }
        };
    }

    impl ser::Error for NotFlat {
        fn custom<T: std::fmt::Display>(_: T) -> NotFlat {
            NotFlat
        }
    }

    /// Writes leaves as the encoder's `save` does.
    pub(super) struct Leaves<'o> {
        pub(super) out: &'o mut Vec<u8>,
        /// Memo entries made so far.
        pub(super) memo: u32,
        /// The singleton strs and bytes written (their slot, memo index):
        /// a repeat is a BINGET, as the encoder writes it.
        pub(super) singletons: [(u16, u32); 4],
        pub(super) n_singletons: usize,
    }

    impl<'o> Leaves<'o> {
        pub(super) fn new(out: &'o mut Vec<u8>) -> Leaves<'o> {
            Leaves {
                out,
                memo: 0,
                singletons: [(0, 0); 4],
                n_singletons: 0,
            }
        }

        pub(super) fn memoize(&mut self) {
            self.out.push(op::MEMOIZE);
            self.memo += 1;
        }

        pub(super) fn str(&mut self, s: &str) -> Result<(), NotFlat> {
            self.payload(
                s.as_bytes(),
                Singletons::str_slot(s.as_bytes()),
                [op::SHORT_BINUNICODE, op::BINUNICODE, op::BINUNICODE8],
            )
        }

        fn payload(&mut self, b: &[u8], slot: Option<u16>, ops: [u8; 3]) -> Result<(), NotFlat> {
            if let Some(slot) = slot {
                let seen = &self.singletons[..self.n_singletons];
                if let Some(&(_, i)) = seen.iter().find(|(s, _)| *s == slot) {
                    // As the encoder's `get`: a long tuple of arguments can
                    // put the index past a byte.
                    match u8::try_from(i) {
                        Ok(i) => self.out.extend_from_slice(&[op::BINGET, i]),
                        Err(_) => {
                            self.out.push(op::LONG_BINGET);
                            self.out.extend_from_slice(&i.to_le_bytes());
                        }
                    }
                    return Ok(());
                }
                if self.n_singletons == self.singletons.len() {
                    return Err(NotFlat);
                }
                self.singletons[self.n_singletons] = (slot, self.memo);
                self.n_singletons += 1;
            }
            match u8::try_from(b.len()) {
                // The usual: opcode, length byte, payload, MEMOIZE, with one
                // reservation.
                Ok(n) => {
                    self.out.reserve(b.len() + 3);
                    self.out.extend_from_slice(&[ops[0], n]);
                    self.out.extend_from_slice(b);
                    self.out.push(op::MEMOIZE);
                    self.memo += 1;
                }
                Err(_) => {
                    let header = sized_header(b.len(), ops[0], ops[1], ops[2]);
                    self.out.extend_from_slice(header.as_slice());
                    self.out.extend_from_slice(b);
                    self.memoize();
                }
            }
            Ok(())
        }

        fn int(&mut self, v: Value) {
            let i = match v {
                Value::Int(i) => i,
                Value::BigInt(b) => match Value::int_from_le_bytes(minimal_twos(&b)) {
                    Value::Int(i) => i,
                    _ => return self.long(minimal_twos(&b)),
                },
                _ => unreachable!("an int"),
            };
            match i {
                0..=0xff => self.out.extend_from_slice(&[op::BININT1, i as u8]),
                0x100..=0xffff => {
                    self.out.push(op::BININT2);
                    self.out.extend_from_slice(&(i as u16).to_le_bytes());
                }
                _ => match i32::try_from(i) {
                    Ok(i) => {
                        self.out.push(op::BININT);
                        self.out.extend_from_slice(&i.to_le_bytes());
                    }
                    Err(_) => self.long(minimal_twos(&i.to_le_bytes())),
                },
            }
        }

        fn long(&mut self, min: &[u8]) {
            match u8::try_from(min.len()) {
                Ok(n) => self.out.extend_from_slice(&[op::LONG1, n]),
                Err(_) => {
                    self.out.push(op::LONG4);
                    self.out
                        .extend_from_slice(&(min.len() as i32).to_le_bytes());
                }
            }
            self.out.extend_from_slice(min);
        }
    }

    /// Serializes one argument, a leaf.
    pub(super) struct Leaf<'a, 'o>(pub(super) &'a mut Leaves<'o>);

    impl ser::Serializer for Leaf<'_, '_> {
        type Ok = ();
        type Error = NotFlat;
        type SerializeSeq = Impossible<(), NotFlat>;
        type SerializeTuple = Impossible<(), NotFlat>;
        type SerializeTupleStruct = Impossible<(), NotFlat>;
        type SerializeTupleVariant = Impossible<(), NotFlat>;
        type SerializeMap = Impossible<(), NotFlat>;
        type SerializeStruct = Impossible<(), NotFlat>;
        type SerializeStructVariant = Impossible<(), NotFlat>;

        fn serialize_bool(self, v: bool) -> Result<(), NotFlat> {
            self.0.out.push(if v { op::NEWTRUE } else { op::NEWFALSE });
            Ok(())
        }
        fn serialize_i8(self, v: i8) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_i16(self, v: i16) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_i32(self, v: i32) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_i64(self, v: i64) -> Result<(), NotFlat> {
            self.0.int(Value::Int(v));
            Ok(())
        }
        fn serialize_i128(self, v: i128) -> Result<(), NotFlat> {
            self.0.int(Value::from_i128(v));
            Ok(())
        }
        fn serialize_u8(self, v: u8) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_u16(self, v: u16) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_u32(self, v: u32) -> Result<(), NotFlat> {
            self.serialize_i64(v.into())
        }
        fn serialize_u64(self, v: u64) -> Result<(), NotFlat> {
            self.serialize_u128(v.into())
        }
        fn serialize_u128(self, v: u128) -> Result<(), NotFlat> {
            self.0.int(Value::from_u128(v));
            Ok(())
        }
        fn serialize_f32(self, v: f32) -> Result<(), NotFlat> {
            self.serialize_f64(v.into())
        }
        fn serialize_f64(self, v: f64) -> Result<(), NotFlat> {
            self.0.out.push(op::BINFLOAT);
            self.0.out.extend_from_slice(&v.to_be_bytes());
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<(), NotFlat> {
            self.0.str(v.encode_utf8(&mut [0; 4]))
        }
        fn serialize_str(self, v: &str) -> Result<(), NotFlat> {
            self.0.str(v)
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<(), NotFlat> {
            self.0.payload(
                v,
                Singletons::bytes_slot(v),
                [op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8],
            )
        }
        fn serialize_none(self) -> Result<(), NotFlat> {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NotFlat> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), NotFlat> {
            self.0.out.push(op::NONE);
            Ok(())
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<(), NotFlat> {
            self.serialize_unit()
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<(), NotFlat> {
            self.0.str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            name: &'static str,
            value: &T,
        ) -> Result<(), NotFlat> {
            if name == crate::pickle::PROXY_NEWTYPE {
                return Err(NotFlat);
            }
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<(), NotFlat> {
            Err(NotFlat)
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, NotFlat> {
            Err(NotFlat)
        }
        fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, NotFlat> {
            Err(NotFlat)
        }
        fn serialize_tuple_struct(
            self,
            _name: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleStruct, NotFlat> {
            Err(NotFlat)
        }
        refuse_named_compounds!();
    }

    /// Serializes the arguments: a tuple of leaves, `()` or one leaf.
    pub(super) struct Args<'a, 'o>(pub(super) &'a mut Leaves<'o>);

    /// The items of an argument tuple being written.
    pub(super) struct Items<'a, 'o> {
        leaves: &'a mut Leaves<'o>,
        len: usize,
        written: usize,
    }

    impl ser::SerializeTuple for Items<'_, '_> {
        type Ok = ();
        type Error = NotFlat;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotFlat> {
            self.written += 1;
            value.serialize(Leaf(self.leaves))
        }
        fn end(self) -> Result<(), NotFlat> {
            if self.written != self.len {
                return Err(NotFlat);
            }
            let l = self.leaves;
            match self.len {
                0 => l.out.push(op::EMPTY_TUPLE),
                n @ 1..=3 => {
                    l.out.push(op::TUPLE1 + (n as u8 - 1));
                    l.memoize();
                }
                _ => {
                    l.out.push(op::TUPLE);
                    l.memoize();
                }
            }
            Ok(())
        }
    }

    impl ser::SerializeTupleStruct for Items<'_, '_> {
        type Ok = ();
        type Error = NotFlat;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotFlat> {
            ser::SerializeTuple::serialize_element(self, value)
        }
        fn end(self) -> Result<(), NotFlat> {
            ser::SerializeTuple::end(self)
        }
    }

    impl<'a, 'o> Args<'a, 'o> {
        /// One argument, not a tuple: `(arg,)`.
        fn one(self, f: impl FnOnce(Leaf<'_, 'o>) -> Result<(), NotFlat>) -> Result<(), NotFlat> {
            f(Leaf(&mut *self.0))?;
            self.0.out.push(op::TUPLE1);
            self.0.memoize();
            Ok(())
        }

        fn items(self, len: usize) -> Items<'a, 'o> {
            if len > 3 {
                self.0.out.push(op::MARK);
            }
            Items {
                leaves: self.0,
                len,
                written: 0,
            }
        }
    }

    impl<'a, 'o> ser::Serializer for Args<'a, 'o> {
        type Ok = ();
        type Error = NotFlat;
        type SerializeSeq = Impossible<(), NotFlat>;
        type SerializeTuple = Items<'a, 'o>;
        type SerializeTupleStruct = Items<'a, 'o>;
        type SerializeTupleVariant = Impossible<(), NotFlat>;
        type SerializeMap = Impossible<(), NotFlat>;
        type SerializeStruct = Impossible<(), NotFlat>;
        type SerializeStructVariant = Impossible<(), NotFlat>;

        fn serialize_bool(self, v: bool) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_bool(v))
        }
        fn serialize_i8(self, v: i8) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_i8(v))
        }
        fn serialize_i16(self, v: i16) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_i16(v))
        }
        fn serialize_i32(self, v: i32) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_i32(v))
        }
        fn serialize_i64(self, v: i64) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_i64(v))
        }
        fn serialize_i128(self, v: i128) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_i128(v))
        }
        fn serialize_u8(self, v: u8) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_u8(v))
        }
        fn serialize_u16(self, v: u16) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_u16(v))
        }
        fn serialize_u32(self, v: u32) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_u32(v))
        }
        fn serialize_u64(self, v: u64) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_u64(v))
        }
        fn serialize_u128(self, v: u128) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_u128(v))
        }
        fn serialize_f32(self, v: f32) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_f32(v))
        }
        fn serialize_f64(self, v: f64) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_f64(v))
        }
        fn serialize_char(self, v: char) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_char(v))
        }
        fn serialize_str(self, v: &str) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_str(v))
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_bytes(v))
        }
        // None, `()` and unit structs are `to_value`'s None: no arguments.
        fn serialize_none(self) -> Result<(), NotFlat> {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NotFlat> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), NotFlat> {
            self.0.out.push(op::EMPTY_TUPLE);
            Ok(())
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<(), NotFlat> {
            self.serialize_unit()
        }
        fn serialize_unit_variant(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
        ) -> Result<(), NotFlat> {
            self.one(|l| l.serialize_unit_variant(name, index, variant))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            name: &'static str,
            value: &T,
        ) -> Result<(), NotFlat> {
            if name == crate::pickle::PROXY_NEWTYPE {
                return Err(NotFlat);
            }
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<(), NotFlat> {
            Err(NotFlat)
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, NotFlat> {
            Err(NotFlat)
        }
        fn serialize_tuple(self, len: usize) -> Result<Items<'a, 'o>, NotFlat> {
            Ok(self.items(len))
        }
        fn serialize_tuple_struct(
            self,
            _name: &'static str,
            len: usize,
        ) -> Result<Items<'a, 'o>, NotFlat> {
            Ok(self.items(len))
        }
        refuse_named_compounds!();
    }
}

fn encode_into<'v>(out: &mut Vec<u8>, save: impl FnOnce(&mut Encoder<'v>)) {
    out.extend_from_slice(&[op::PROTO, 4]);
    let mut e = Encoder {
        out: std::mem::take(out),
        frame_start: None,
        framing: true,
        memo_len: 0,
        globals: HashMap::new(),
        modules: HashMap::new(),
        singletons: Singletons::default(),
    };
    save(&mut e);
    e.write(&[op::STOP]);
    e.commit_frame();
    *out = e.out;
}

struct Encoder<'v> {
    out: Vec<u8>,
    /// Where the open frame's reserved header starts.
    frame_start: Option<usize>,
    framing: bool,
    memo_len: u32,
    /// Memo index of each class already written: the same class is one object in Python.
    globals: HashMap<(&'v str, &'v str), u32>,
    /// Memo index of each global's module name: interned in Python, so shared between globals.
    modules: HashMap<&'v str, u32>,
    /// Memo index of each str or bytes that CPython keeps as a singleton
    /// (empty, or one character / byte below 256): every repeat is the same object.
    singletons: Singletons,
}

impl<'v> Encoder<'v> {
    fn write(&mut self, bytes: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0; FRAME_HEADER_SIZE]);
        }
        self.out.extend_from_slice(bytes);
    }

    fn commit_frame(&mut self) {
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let len = self.out.len() - start - FRAME_HEADER_SIZE;
        if len >= FRAME_SIZE_MIN {
            self.out[start] = op::FRAME;
            self.out[start + 1..start + FRAME_HEADER_SIZE]
                .copy_from_slice(&(len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER_SIZE);
        }
    }

    /// Called before each object: close a frame that reached the target size.
    fn boundary(&mut self) {
        if let Some(start) = self.frame_start {
            if self.out.len() - start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET {
                self.commit_frame();
            }
        }
    }

    /// An opcode with a bytes/str payload: large payloads go outside any frame.
    fn write_payload(&mut self, header: &[u8], payload: &[u8]) {
        if payload.len() >= FRAME_SIZE_TARGET {
            self.commit_frame();
            self.out.extend_from_slice(header);
            self.out.extend_from_slice(payload);
        } else {
            self.write(header);
            self.write(payload);
        }
    }

    fn memoize(&mut self) -> u32 {
        self.write(&[op::MEMOIZE]);
        self.memo_len += 1;
        self.memo_len - 1
    }

    fn get(&mut self, index: u32) {
        match u8::try_from(index) {
            Ok(i) => self.write(&[op::BINGET, i]),
            Err(_) => self.write(Op::new(op::LONG_BINGET, &index.to_le_bytes()).as_slice()),
        }
    }

    fn save_tuple(&mut self, items: impl ExactSizeIterator<Item = &'v Value>) {
        match items.len() {
            0 => self.write(&[op::EMPTY_TUPLE]),
            n @ 1..=3 => {
                for item in items {
                    self.save(item);
                }
                self.write(&[op::TUPLE1 + (n as u8 - 1)]);
                self.memoize();
            }
            _ => {
                self.write(&[op::MARK]);
                for item in items {
                    self.save(item);
                }
                self.write(&[op::TUPLE]);
                self.memoize();
            }
        }
    }

    /// A str, as its UTF-8 bytes (surrogates as `PyStr` keeps them).
    fn save_str(&mut self, b: &[u8]) {
        // Empty, or one code point below 256 (1 or 2 UTF-8 bytes).
        let slot = Singletons::str_slot(b);
        if !self.repeat_singleton(slot) {
            let header = sized_header(
                b.len(),
                op::SHORT_BINUNICODE,
                op::BINUNICODE,
                op::BINUNICODE8,
            );
            self.write_payload(header.as_slice(), b);
            let i = self.memoize();
            if let Some(slot) = slot {
                self.singletons.insert(slot, i);
            }
        }
    }

    fn save_dict(&mut self, pairs: &'v [(Value, Value)]) {
        self.write(&[op::EMPTY_DICT]);
        self.memoize();
        if let [(k, v)] = pairs {
            self.save(k);
            self.save(v);
            self.write(&[op::SETITEM]);
        } else if !pairs.is_empty() {
            for batch in pairs.chunks(BATCHSIZE) {
                self.write(&[op::MARK]);
                for (k, v) in batch {
                    self.save(k);
                    self.save(v);
                }
                self.write(&[op::SETITEMS]);
            }
            if pairs.len() % BATCHSIZE == 0 {
                self.write(&[op::MARK, op::SETITEMS]);
            }
        }
    }

    fn save(&mut self, v: &'v Value) {
        self.boundary();
        match v {
            Value::None => self.write(&[op::NONE]),
            Value::Bool(true) => self.write(&[op::NEWTRUE]),
            Value::Bool(false) => self.write(&[op::NEWFALSE]),
            Value::Int(i) => self.save_int(*i),
            Value::BigInt(b) => {
                let min = minimal_twos(b);
                match Value::int_from_le_bytes(min) {
                    Value::Int(i) => self.save_int(i),
                    _ => self.save_long(min),
                }
            }
            Value::Float(f) => self.write(Op::new(op::BINFLOAT, &f.to_be_bytes()).as_slice()),
            Value::Str(s) => self.save_str(s.as_bytes()),
            Value::Bytes(b) => {
                let slot = Singletons::bytes_slot(b);
                if !self.repeat_singleton(slot) {
                    let header =
                        sized_header(b.len(), op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8);
                    self.write_payload(header.as_slice(), b);
                    let i = self.memoize();
                    if let Some(slot) = slot {
                        self.singletons.insert(slot, i);
                    }
                }
            }
            Value::ByteArray(b) => {
                // Protocol 4 has no bytearray opcode: `bytearray(bytes)`, or `bytearray()`.
                self.save_global("builtins", "bytearray");
                self.boundary(); // saving the args tuple (and its item)
                if b.is_empty() {
                    self.write(&[op::EMPTY_TUPLE]);
                } else {
                    let header =
                        sized_header(b.len(), op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8);
                    self.write_payload(header.as_slice(), b);
                    self.memoize();
                    self.write(&[op::TUPLE1]);
                    self.memoize();
                }
                self.write(&[op::REDUCE]);
                self.memoize();
            }
            Value::Tuple(items) => self.save_tuple(items.iter()),
            Value::List(items) => {
                self.write(&[op::EMPTY_LIST]);
                self.memoize();
                if let [item] = items.as_slice() {
                    self.save(item);
                    self.write(&[op::APPEND]);
                } else {
                    for batch in items.chunks(BATCHSIZE) {
                        self.write(&[op::MARK]);
                        for item in batch {
                            self.save(item);
                        }
                        self.write(&[op::APPENDS]);
                    }
                }
            }
            Value::Dict(pairs) => self.save_dict(pairs),
            Value::Set(items) => {
                self.write(&[op::EMPTY_SET]);
                self.memoize();
                if !items.is_empty() {
                    for batch in items.chunks(BATCHSIZE) {
                        self.write(&[op::MARK]);
                        for item in batch {
                            self.save(item);
                        }
                        self.write(&[op::ADDITEMS]);
                    }
                    if items.len() % BATCHSIZE == 0 {
                        self.write(&[op::MARK, op::ADDITEMS]);
                    }
                }
            }
            Value::FrozenSet(items) => {
                self.write(&[op::MARK]);
                for item in items {
                    self.save(item);
                }
                self.write(&[op::FROZENSET]);
                self.memoize();
            }
            Value::Global { module, name } => self.save_global(module, name),
            Value::Reduce {
                callable,
                args,
                state,
            } => {
                self.save(callable);
                self.save(args);
                self.write(&[op::REDUCE]);
                self.memoize();
                if let Some(state) = state {
                    self.save(state);
                    self.write(&[op::BUILD]);
                }
            }
            Value::Object {
                class,
                args,
                kwargs,
                state,
            } => {
                self.save(class);
                self.save(args);
                match kwargs {
                    Some(kwargs) => {
                        self.save(kwargs);
                        self.write(&[op::NEWOBJ_EX]);
                    }
                    None => self.write(&[op::NEWOBJ]),
                }
                self.memoize();
                if let Some(state) = state {
                    self.save(state);
                    self.write(&[op::BUILD]);
                }
            }
        }
    }

    /// Write a BINGET if this str/bytes is a CPython singleton already in the memo.
    fn repeat_singleton(&mut self, slot: Option<u16>) -> bool {
        let Some(slot) = slot else {
            return false;
        };
        match self.singletons.get(slot) {
            Some(i) => {
                self.get(i);
                true
            }
            None => false,
        }
    }

    fn save_int(&mut self, i: i64) {
        match i {
            0..=0xff => self.write(&[op::BININT1, i as u8]),
            0x100..=0xffff => {
                let b = (i as u16).to_le_bytes();
                self.write(&[op::BININT2, b[0], b[1]]);
            }
            _ => match i32::try_from(i) {
                Ok(i) => self.write(Op::new(op::BININT, &i.to_le_bytes()).as_slice()),
                Err(_) => self.save_long(minimal_twos(&i.to_le_bytes())),
            },
        }
    }

    fn save_long(&mut self, min: &[u8]) {
        let header = match u8::try_from(min.len()) {
            Ok(n) => Op::new(op::LONG1, &[n]),
            Err(_) => Op::new(op::LONG4, &(min.len() as i32).to_le_bytes()),
        };
        self.write(header.as_slice());
        self.write(min);
    }

    /// The class as CPython writes it: `module name STACK_GLOBAL`, memoized; repeats are BINGETs.
    /// (Called in place of `save`, so it starts with a frame boundary too.)
    fn save_global(&mut self, module: &'v str, name: &'v str) {
        self.boundary();
        if let Some(&i) = self.globals.get(&(module, name)) {
            self.get(i);
            return;
        }
        self.boundary();
        let shared = !private_module_name(module, name);
        match self.modules.get(module) {
            Some(&i) if shared => self.get(i),
            _ => {
                self.write_str(module);
                let i = self.memoize();
                if shared {
                    self.modules.insert(module, i);
                }
            }
        }
        self.boundary();
        self.write_str(name);
        self.memoize();
        self.write(&[op::STACK_GLOBAL]);
        let i = self.memoize();
        self.globals.insert((module, name), i);
    }

    fn write_str(&mut self, s: &str) {
        let header = sized_header(
            s.len(),
            op::SHORT_BINUNICODE,
            op::BINUNICODE,
            op::BINUNICODE8,
        );
        self.write_payload(header.as_slice(), s.as_bytes());
    }
}

/// Classes whose `__module__` is a string of their own, shared with nothing:
/// heap types of C extension modules get a fresh, non-interned string from
/// their dotted `tp_name` (seen in CPython 3.11–3.13: `array.array` next to
/// `array._array_reconstructor` repeats the module name in full). Every other
/// module name mp writes (`builtins`, pure-Python modules) is interned, so one
/// object for all the globals of a pickle.
fn private_module_name(module: &str, name: &str) -> bool {
    matches!(
        (module, name),
        ("array", "array") | ("_queue", "Empty" | "SimpleQueue")
    )
}

/// Memo indices of the singleton strs and bytes written so far: a short
/// list scanned in place (no allocation for a pickle with none, no hashing),
/// then a table of all 514 once a pickle has many.
#[derive(Default)]
struct Singletons {
    /// The first few, in place (no allocation for a pickle with a
    /// one-character key or two).
    few: [(u16, u32); 8],
    few_len: usize,
    all: Option<Box<[u32; 514]>>,
}

impl Singletons {
    /// The slot of a str CPython keeps as a singleton (the empty str, or
    /// one code point below 256: one UTF-8 byte, or two with 0xc2 or 0xc3
    /// first); `None` for any other str.
    fn str_slot(b: &[u8]) -> Option<u16> {
        match *b {
            [] => Some(0),
            [c] => Some(u16::from(c) + 1),
            [hi @ (0xc2 | 0xc3), lo] => {
                Some(((u16::from(hi & 0x1f) << 6) | u16::from(lo & 0x3f)) + 1)
            }
            _ => None,
        }
    }

    /// The slot of a bytes CPython keeps as a singleton (empty, or one byte).
    fn bytes_slot(b: &[u8]) -> Option<u16> {
        match *b {
            [] => Some(257),
            [c] => Some(258 + u16::from(c)),
            _ => None,
        }
    }

    fn get(&self, slot: u16) -> Option<u32> {
        match &self.all {
            Some(all) => Some(all[usize::from(slot)]).filter(|&i| i != u32::MAX),
            None => self.few[..self.few_len]
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|&(_, i)| i),
        }
    }

    fn insert(&mut self, slot: u16, index: u32) {
        if self.all.is_none() && self.few_len < self.few.len() {
            self.few[self.few_len] = (slot, index);
            self.few_len += 1;
            return;
        }
        let all = self.all.get_or_insert_with(|| {
            let mut all = Box::new([u32::MAX; 514]);
            for &(s, i) in &self.few[..self.few_len] {
                all[usize::from(s)] = i;
            }
            all
        });
        all[usize::from(slot)] = index;
    }
}

/// An opcode and its little-endian argument, built on the stack (no
/// allocation per opcode written).
struct Op {
    bytes: [u8; 9],
    len: usize,
}

impl Op {
    fn new(code: u8, arg: &[u8]) -> Op {
        let mut bytes = [0; 9];
        bytes[0] = code;
        bytes[1..=arg.len()].copy_from_slice(arg);
        Op {
            bytes,
            len: 1 + arg.len(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The opcode and length field for a payload of `len` bytes: u8, u32 or u64 length.
fn sized_header(len: usize, short: u8, mid: u8, long: u8) -> Op {
    if let Ok(n) = u8::try_from(len) {
        Op::new(short, &[n])
    } else if let Ok(n) = u32::try_from(len) {
        Op::new(mid, &n.to_le_bytes())
    } else {
        Op::new(long, &(len as u64).to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_from_references_is_the_tuple_pickled() {
        let args = vec![
            Value::str("k"),
            Value::Int(7),
            Value::str("k"),
            Value::str("é"),
            Value::Float(1.5),
            Value::Int(1 << 40),
        ];
        let kwds = [(Value::str("block"), Value::Bool(false))];
        for ident in [Some("7f00:1"), None] {
            for kwds in [&kwds[..], &[]] {
                let mut direct = vec![9];
                dumps_request_into(ident, "get", &args, kwds, &mut direct);
                let tuple = Value::Tuple(vec![
                    ident.map_or(Value::None, Value::str),
                    Value::str("get"),
                    Value::Tuple(args.clone()),
                    Value::Dict(kwds.to_vec()),
                ]);
                let mut built = vec![9];
                dumps_into(&tuple, &mut built);
                assert_eq!(direct, built);
            }
        }
    }

    /// The request `dumps_flat_request_into` writes for `args`, if it
    /// writes one, is byte for byte what the encoder writes for the same
    /// arguments made `Value`s (as the client's `args_of` makes them);
    /// whether it wrote one.
    fn flat_matches<A: serde::Serialize + ?Sized>(args: &A) -> bool {
        let items = match crate::pickle::to_value(args).unwrap() {
            Value::Tuple(items) => items,
            Value::None => vec![],
            one => vec![one],
        };
        let mut wrote = false;
        for (ident, method) in [("7f01", "__setitem__"), ("x", "é")] {
            let mut flat = vec![9];
            let ok = dumps_flat_request_into(ident, method, args, &mut flat);
            if !ok {
                assert_eq!(flat, [9], "nothing is left when it gives up");
                continue;
            }
            wrote = true;
            let mut built = vec![9];
            dumps_request_into(Some(ident), method, &items, &[], &mut built);
            assert_eq!(flat, built, "{items:?}");
        }
        wrote
    }

    #[test]
    fn a_flat_request_is_the_request_pickled() {
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(i32),
        }
        #[derive(serde::Serialize)]
        struct N(&'static str);
        #[derive(serde::Serialize)]
        struct U;
        let long = "z".repeat(300);
        let huge = "z".repeat(70_000);
        // Leaves, one at a time and in tuples.
        assert!(flat_matches(&()));
        assert!(flat_matches(&("k",)));
        assert!(flat_matches(&("k", 7i64)));
        assert!(flat_matches(&("k", "k", "é", "é")));
        assert!(flat_matches(&(b'k', 'k', 'é', "é", "")));
        assert!(flat_matches(&"key"));
        assert!(flat_matches(&5u8));
        assert!(flat_matches(&(long.as_str(), 1.5f64, 2.5f32, true, false)));
        assert!(flat_matches(&(None::<i32>, Some(3), U, N("n"), E::Unit)));
        assert!(flat_matches(&Some(("a", "b"))));
        assert!(flat_matches(&N("newtype")));
        for i in [
            0i128,
            255,
            256,
            65_535,
            65_536,
            -1,
            i128::from(i32::MIN),
            i128::from(i32::MAX) + 1,
            i128::from(i64::MIN),
            i128::from(i64::MAX),
            i128::MIN,
            i128::MAX,
        ] {
            assert!(flat_matches(&(i,)));
            if let Ok(i) = i64::try_from(i) {
                assert!(flat_matches(&(i, i)));
            }
        }
        for u in [0u128, u128::from(u64::MAX), u128::MAX] {
            assert!(flat_matches(&(u, u64::try_from(u).unwrap_or(1))));
        }
        let bytes = serde_bytes::Bytes::new(b"by");
        let one = serde_bytes::Bytes::new(b"b");
        let none = serde_bytes::Bytes::new(b"");
        assert!(flat_matches(&(bytes, one, one, none)));
        // Five distinct singletons: past what it keeps track of.
        assert!(!flat_matches(&("a", "b", "c", "d", "e")));
        // A singleton repeated after 300 other memo entries: its index
        // needs LONG_BINGET, as the encoder writes it.
        struct Many(Vec<String>);
        impl serde::Serialize for Many {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let mut t = s.serialize_tuple(self.0.len())?;
                for x in &self.0 {
                    t.serialize_element(x.as_str())?;
                }
                t.end()
            }
        }
        let mut many: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
        many.extend(["a".into(), "a".into()]);
        assert!(flat_matches(&Many(many)));
        // Not leaves, or not in one frame: the general encoder's.
        assert!(!flat_matches(&(vec![1, 2],)));
        assert!(!flat_matches(&vec![1, 2]));
        assert!(!flat_matches(&(("nested", 1),)));
        assert!(!flat_matches(&(E::New(1),)));
        assert!(!flat_matches(&(huge.as_str(),)));
        assert!(!flat_matches(&std::collections::BTreeMap::from([(1, 2)])));
    }

    #[test]
    fn many_singletons_repeat_from_the_memo() {
        // 20 one-character strs and 20 one-byte bytes (past the short
        // list, into the table), then the first of each again: each repeat
        // is a BINGET of the first's memo index (the list is index 0).
        let strs = (0..20u8).map(|c| Value::str(char::from(b'a' + c).to_string()));
        // Two ASCII characters are not a singleton ('ab' is not 'b').
        let v = Value::List(
            strs.clone()
                .chain([Value::str("ab"), Value::str("é"), Value::str("ab")])
                .collect(),
        );
        assert_eq!(crate::pickle::loads(&dumps(&v)).unwrap(), v);
        let bytes = (0..20u8).map(|b| Value::Bytes(vec![b]));
        for (items, first) in [
            (strs.collect::<Vec<_>>(), Value::str("a")),
            (bytes.collect(), Value::Bytes(vec![0])),
        ] {
            let mut items = items;
            items.push(first);
            let v = Value::List(items);
            let out = dumps(&v);
            assert_eq!(crate::pickle::loads(&out).unwrap(), v);
            assert_eq!(
                &out[out.len() - 4..],
                &[op::BINGET, 1, op::APPENDS, op::STOP]
            );
        }
    }

    #[test]
    fn a_pair_written_straight_out_is_the_tuple_pickled() {
        let mut values = vec![
            Value::None,
            Value::Bool(true),
            Value::Bool(false),
            Value::Float(0.5),
            Value::str("x"),
            Value::str("#RETURN"),
            Value::List(vec![Value::str("a"), Value::str("a")]),
        ];
        for i in [
            0,
            1,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            -1,
            -0x100,
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
        ] {
            values.push(Value::Int(i));
        }
        for tag in [
            "#RETURN",
            "#ERROR",
            "",
            "x",
            "é",
            &"t".repeat(255),
            &"t".repeat(256),
        ] {
            for v in &values {
                let mut out = vec![9];
                dumps_pair_into(tag, v, &mut out);
                let want = dumps(&Value::Tuple(vec![Value::str(tag), v.clone()]));
                assert_eq!(out[1..], want[..], "{tag:?} {v:?}");
            }
        }
    }

    #[test]
    fn tuple_of_references_encodes_as_the_tuple() {
        let items = [
            Value::str("#RETURN"),
            Value::List(vec![Value::str("a"), Value::str("a"), Value::Int(1 << 40)]),
        ];
        let mut out = vec![9];
        dumps_pair_into("#RETURN", &items[1], &mut out);
        assert_eq!(out[1..], dumps(&Value::Tuple(items.to_vec()))[..]);
        assert_eq!(out[0], 9, "appended");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn small_values_are_unframed() {
        assert_eq!(hex(&dumps(&Value::None)), "80044e2e");
        assert_eq!(hex(&dumps(&Value::Tuple(vec![]))), "8004292e");
    }

    #[test]
    fn int_boundaries() {
        assert_eq!(
            hex(&dumps(&Value::Int(-129))),
            "80049506000000000000004a7fffffff2e"
        );
        assert_eq!(
            hex(&dumps(&Value::Int(1 << 31))),
            "8004950800000000000000 8a050000008000 2e".replace(' ', "")
        );
    }

    #[test]
    fn large_bytes_unframed() {
        let b = dumps(&Value::Bytes(vec![0; 70000]));
        assert_eq!(hex(&b[..7]), "80044270110100");
        assert_eq!(hex(&b[b.len() - 2..]), "942e");
    }
}
