//! A small, non-executing pickle codec: what `multiprocessing` puts on the wire.
//!
//! Python's `Connection.send(obj)` writes `ForkingPickler.dumps(obj)`, a
//! protocol-4 pickle (protocol 5 from 3.14). This module reads protocols 2–5
//! into a [`Value`] tree and writes protocol 4 the way CPython's C pickler
//! does, byte for byte (FRAME, MEMOIZE and every opcode boundary), so that
//! `mp` and Python processes can talk, and tests can compare bytes with the
//! captures in `tests/wire-vectors/pickles/`.
//!
//! ```
//! use mp::pickle::{dumps, loads, Value};
//!
//! // What Python's `pickle.dumps([2.25, None, 'junk'])` gives:
//! let wire = b"\x80\x04\x95\x16\x00\x00\x00\x00\x00\x00\x00]\x94(G@\x02\x00\x00\x00\x00\x00\x00N\x8c\x04junk\x94e.";
//! let v = loads(wire)?;
//! assert_eq!(v, Value::List(vec![Value::Float(2.25), Value::None, Value::str("junk")]));
//! assert_eq!(dumps(&v), wire);
//!
//! // With serde: Rust types map to the natural Python ones.
//! let bytes = mp::pickle::to_vec(&(1u8, "two", vec![3.5]))?; // (1, 'two', [3.5])
//! let back: (u8, String, Vec<f64>) = mp::pickle::from_slice(&bytes)?;
//! assert_eq!(back, (1, "two".to_string(), vec![3.5]));
//!
//! // An exception from a manager: nothing is imported or called.
//! let err = Value::new_exception("builtins", "KeyError", vec![Value::str("missing")]);
//! let v = loads(&dumps(&err))?;
//! assert_eq!(v.exception().map(|(m, n, _)| (m, n)), Some(("builtins", "KeyError")));
//! # Ok::<(), mp::pickle::PickleError>(())
//! ```
//!
//! # Safety model
//!
//! Unpickling in Python runs code: `GLOBAL`/`STACK_GLOBAL` import any
//! module attribute and `REDUCE` calls it. Here they only build inert nodes
//! ([`Value::Global`], [`Value::Reduce`], [`Value::Object`]); BUILD attaches
//! the state to the node. A few reductions whose meaning is pure data are
//! turned into the native value while decoding:
//!
//! | on the wire | decodes to |
//! |---|---|
//! | `builtins.set(seq)` / `builtins.frozenset(seq)` (protocol 2) | [`Value::Set`] / [`Value::FrozenSet`] |
//! | `builtins.bytearray(bytes)`, `bytearray()` (protocol 4) | [`Value::ByteArray`] |
//! | `builtins.bytes()` (protocol 2 `b''`) | [`Value::Bytes`] |
//! | `_codecs.encode(str, 'latin1')` (protocol-2 bytes) | [`Value::Bytes`] |
//! | `builtins.list(seq)` (dict views from a manager) | [`Value::List`] |
//! | `builtins.int(int)` | [`Value::Int`] / [`Value::BigInt`] |
//!
//! `complex` has no native variant: it stays a `Reduce`, see [`Value::as_complex`].
//! Protocol-2 pickles name globals the Python 2 way (`__builtin__`,
//! `exceptions`, `copy_reg`, `Queue`); like CPython's `fix_imports`, the
//! decoder maps these module names to their Python 3 names.
//!
//! # Shared references and cycles
//!
//! [`Value`] is a tree. A memo GET (an object that appears twice in the
//! pickle) becomes a copy; the copies are budgeted by
//! [`Limits::max_copy_bytes`] so a small pickle cannot expand into a huge
//! tree. A cycle (a container that contains itself, which CPython allows) is
//! refused with [`PickleError::Cycle`]: there is no placeholder value.
//!
//! # Limits
//!
//! Every length field is checked against the remaining input before anything
//! is allocated. [`Limits`] caps the rest; [`loads`] uses [`Limits::default()`]:
//!
//! | limit | default |
//! |---|---|
//! | [`max_stack`](Limits::max_stack) (items on the unpickler stack) | 1 048 576 |
//! | [`max_marks`](Limits::max_marks) (open MARKs) | 1 000 |
//! | [`max_memo`](Limits::max_memo) (memo entries) | 1 048 576 |
//! | [`max_depth`](Limits::max_depth) (nesting of the result) | 1 000 |
//! | [`max_values`](Limits::max_values) (objects built while decoding) | 16 777 216 |
//! | [`max_copy_bytes`](Limits::max_copy_bytes) (size of copies made for shared references) | 64 MiB |
//!
//! # Encoding
//!
//! [`dumps`] writes protocol 4 exactly as CPython 3.8–3.13's C pickler would
//! write the same Python object (checked against every captured vector and,
//! in the tests, against the live interpreter on frame-crossing values).
//! The one difference comes from the tree model: CPython writes a BINGET
//! when the *same object* appears twice, and a tree cannot tell "the same
//! object" from "an equal object". [`dumps`] writes a BINGET only where
//! CPython's objects are certainly shared:
//!
//! * a class ([`Value::Global`]) named a second time (one class object);
//! * the module name of a second global from the same module (module names
//!   are interned), except for the classes CPython gives a private module
//!   string (C-extension heap types: `array.array`, `_queue.Empty`);
//! * an empty or one-character `str` (code point < 256) or an empty or
//!   one-byte `bytes`: CPython keeps these as singletons.
//!
//! Other equal strings, tuples or containers are written again in full, which
//! Python reads back as equal, distinct objects; the bytes differ from
//! CPython's only when CPython's input shared them.
//!
//! # Caveats
//!
//! * Protocols 0 and 1 are read only as far as they share opcodes with
//!   protocol 2 (plus the text INT/LONG/FLOAT/GET/PUT); the Python 2 string
//!   opcodes (STRING, BINSTRING, SHORT_BINSTRING, UNICODE), INST/OBJ,
//!   PERSID/BINPERSID, EXT1/2/4 and the out-of-band buffers
//!   (NEXT_BUFFER/READONLY_BUFFER) are refused with an error naming the opcode.
//! * Objects that CPython fills through their own methods are refused with
//!   [`PickleError::Invalid`]: APPEND(S)/SETITEM(S)/ADDITEMS on anything but a
//!   list/dict/set (list and dict subclasses such as `OrderedDict`), and a
//!   second BUILD on the same object.
//! * As in CPython, bytes after STOP are ignored.
//! * [`loads`] does not recurse (hostile nesting costs heap, bounded by the
//!   limits, never thread stack). Everything that walks a [`Value`] does:
//!   [`dumps`], the serde bridge, `Debug`, `==` and `Drop`. At the default
//!   [`Limits::max_depth`] of 1000 this needs well under the 2 MiB of a spawned
//!   thread in release builds; unoptimised builds use ~1–2 KiB per level in
//!   [`dumps`] and [`to_json`], so a thread that handles a hostile peer's
//!   values in a debug build wants a larger stack (`mp listen` gives its
//!   connection threads 64 MiB of reserved stack) or a smaller `max_depth`.

mod de;
mod decode;
pub(crate) mod encode;
mod fast;
mod json;
pub(crate) mod proxy;
mod ser;
mod value;

pub use de::from_value;
pub use decode::{loads, loads_with};
pub use encode::{dumps, dumps_into};
pub(crate) use fast::{loads_flat_pair, loads_flat_request, loads_outer_tuple, FlatArgs};
#[cfg(test)]
pub(crate) use json::unhex;
pub use json::{from_json, to_json};
pub use ser::to_value;
pub use value::{PyStr, Value};

/// The serde newtype-struct name under which a manager proxy
/// ([`crate::managers::BaseProxy`]) travels: through [`to_value`] it becomes
/// CPython's `RebuildProxy(...)` reduction and [`from_value`] reads one back;
/// every other serde format sees a plain tuple.
pub(crate) const PROXY_NEWTYPE: &str = "mp::managers::Proxy";

/// Serialize a Rust value to a protocol-4 pickle (see [`to_value`] for the mapping).
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PickleError> {
    Ok(dumps(&to_value(value)?))
}

/// Deserialize a Rust value from a pickle (see [`from_value`] for what is accepted).
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PickleError> {
    from_value(loads(bytes)?)
}

/// Resource limits for [`loads_with`]. See the [module docs](self#limits) for the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most items on the unpickler stack at once.
    pub max_stack: usize,
    /// Most MARKs open at once.
    pub max_marks: usize,
    /// Most memo entries.
    pub max_memo: usize,
    /// Deepest nesting of containers and objects in the result.
    pub max_depth: usize,
    /// Most objects (of any kind) created while decoding.
    pub max_values: usize,
    /// Budget for copies made when the pickle refers to one object twice
    /// (roughly the bytes of the copied values).
    pub max_copy_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_stack: 1 << 20,
            max_marks: 1000,
            max_memo: 1 << 20,
            max_depth: 1000,
            max_values: 1 << 24,
            max_copy_bytes: 64 << 20,
        }
    }
}

/// Why a pickle could not be read, or a value could not be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The input ends inside an opcode or its argument.
    #[error(
        "pickle truncated at offset {offset}: {opcode} needs {needed} more bytes, {available} left"
    )]
    Truncated {
        /// Where the opcode (or its argument) starts.
        offset: usize,
        /// The opcode being read.
        opcode: &'static str,
        /// Bytes the opcode needs.
        needed: u64,
        /// Bytes left in the input.
        available: usize,
    },
    /// The input ended before a STOP opcode.
    #[error("pickle ended after {len} bytes without a STOP opcode")]
    MissingStop {
        /// Length of the input.
        len: usize,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown opcode 0x{byte:02x} at offset {offset}")]
    UnknownOpcode {
        /// Where it was.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A valid opcode that this unpickler refuses on purpose.
    #[error("unsupported opcode {opcode} at offset {offset}: {reason}")]
    Unsupported {
        /// Where it was.
        offset: usize,
        /// Its name, as in `pickletools`.
        opcode: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An opcode that does not make sense where it is (empty stack, bad argument...).
    #[error("invalid pickle at offset {offset} ({opcode}): {message}")]
    Invalid {
        /// Where it was.
        offset: usize,
        /// The opcode's name.
        opcode: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A [`Limits`] cap was reached.
    #[error("pickle exceeds the {limit} limit of {max}{}", at.map(|o| format!(" (at offset {o})")).unwrap_or_default())]
    Limit {
        /// Which [`Limits`] field.
        limit: &'static str,
        /// Its value.
        max: usize,
        /// The offset in the input, when known.
        at: Option<usize>,
    },
    /// The pickle contains a recursive structure (refused by the tree model).
    #[error("recursive structure: the {kind} created at offset {offset} contains itself; mp's pickle values are trees")]
    Cycle {
        /// Where the container was created.
        offset: usize,
        /// What kind of container.
        kind: &'static str,
    },
    /// A Rust value could not be converted to or from a [`Value`].
    #[error("{0}")]
    Serde(String),
}

impl serde::ser::Error for PickleError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        PickleError::Serde(msg.to_string())
    }
}

impl serde::de::Error for PickleError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        PickleError::Serde(msg.to_string())
    }
}

/// Opcode bytes (names as in CPython's `pickletools`).
pub(crate) mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const POP: u8 = b'0';
    pub const POP_MARK: u8 = b'1';
    pub const DUP: u8 = b'2';
    pub const FLOAT: u8 = b'F';
    pub const INT: u8 = b'I';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const LONG: u8 = b'L';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const PERSID: u8 = b'P';
    pub const BINPERSID: u8 = b'Q';
    pub const REDUCE: u8 = b'R';
    pub const STRING: u8 = b'S';
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const UNICODE: u8 = b'V';
    pub const BINUNICODE: u8 = b'X';
    pub const APPEND: u8 = b'a';
    pub const BUILD: u8 = b'b';
    pub const GLOBAL: u8 = b'c';
    pub const DICT: u8 = b'd';
    pub const EMPTY_DICT: u8 = b'}';
    pub const APPENDS: u8 = b'e';
    pub const GET: u8 = b'g';
    pub const BINGET: u8 = b'h';
    pub const INST: u8 = b'i';
    pub const LONG_BINGET: u8 = b'j';
    pub const LIST: u8 = b'l';
    pub const EMPTY_LIST: u8 = b']';
    pub const OBJ: u8 = b'o';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const SETITEM: u8 = b's';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const BINFLOAT: u8 = b'G';
    pub const PROTO: u8 = 0x80;
    pub const NEWOBJ: u8 = 0x81;
    pub const EXT1: u8 = 0x82;
    pub const EXT2: u8 = 0x83;
    pub const EXT4: u8 = 0x84;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const BINBYTES8: u8 = 0x8e;
    pub const EMPTY_SET: u8 = 0x8f;
    pub const ADDITEMS: u8 = 0x90;
    pub const FROZENSET: u8 = 0x91;
    pub const NEWOBJ_EX: u8 = 0x92;
    pub const STACK_GLOBAL: u8 = 0x93;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;
    pub const BYTEARRAY8: u8 = 0x96;
    pub const NEXT_BUFFER: u8 = 0x97;
    pub const READONLY_BUFFER: u8 = 0x98;
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINBYTES: u8 = b'C';
}
