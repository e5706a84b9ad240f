//! The unpickler: a stack machine that builds inert nodes, never runs anything.
//!
//! Decoding happens in two passes. The stack machine works on an arena of
//! nodes addressed by index, so the memo, DUP and containers still being
//! filled (EMPTY_LIST, MEMOIZE, then APPENDS) behave as in Python: a memo GET
//! pushes the *same* node. The second pass turns the node graph into a
//! [`Value`] tree: a node reached twice is copied (within
//! [`Limits::max_copy_bytes`]) and a node reached from inside itself is a cycle.

use std::collections::HashMap;

use super::op;
use super::value::{minimal_twos, PyStr, Value};
use super::{Limits, PickleError};

type Id = u32;

/// Decode a pickle (protocols 2–5, see the [module docs](super)) with the default [`Limits`].
pub fn loads(data: &[u8]) -> Result<Value, PickleError> {
    loads_with(data, &Limits::default())
}

/// Decode a pickle with explicit [`Limits`].
pub fn loads_with(data: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    if let Some(v) = super::fast::loads(data, limits) {
        return Ok(v);
    }
    loads_full(data, limits)
}

/// The full decoder alone (any pickle the fast path gives up on).
pub(super) fn loads_full(data: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    // The working vectors of the last decode on this thread, reused: a
    // small message (a manager request) then costs no allocation but its
    // own values.
    let mut scratch = SCRATCH.with(|s| s.take()).unwrap_or_default();
    let r = decode(data, limits, &mut scratch);
    scratch.clear();
    if scratch.small() {
        SCRATCH.with(|s| s.set(Some(scratch)));
    }
    r
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

/// The decoder's working vectors, kept between calls on a thread.
#[derive(Default)]
struct Scratch {
    nodes: Vec<Node>,
    origin: Vec<usize>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: Memo,
    state: Vec<State>,
    tasks: Vec<Task>,
    out: Vec<Value>,
}

impl Scratch {
    fn clear(&mut self) {
        self.nodes.clear();
        self.origin.clear();
        self.stack.clear();
        self.marks.clear();
        self.memo.clear();
        self.state.clear();
        self.tasks.clear();
        self.out.clear();
    }

    /// Whether it is worth keeping (a huge message's vectors are let go).
    fn small(&self) -> bool {
        const KEEP: usize = 1024;
        self.nodes.capacity() <= KEEP
            && self.stack.capacity() <= KEEP
            && self.tasks.capacity() <= KEEP
            && self.out.capacity() <= KEEP
            && self.memo.dense.capacity() <= KEEP
            && self.memo.sparse.capacity() <= KEEP
            && self.marks.capacity() <= KEEP
    }
}

fn decode(data: &[u8], limits: &Limits, scratch: &mut Scratch) -> Result<Value, PickleError> {
    let mut m = Machine {
        data,
        pos: 0,
        limits,
        nodes: std::mem::take(&mut scratch.nodes),
        origin: std::mem::take(&mut scratch.origin),
        shared: false,
        stack: std::mem::take(&mut scratch.stack),
        marks: std::mem::take(&mut scratch.marks),
        memo: std::mem::take(&mut scratch.memo),
        proto: 0,
    };
    let root = m.run();
    let Machine {
        nodes,
        origin,
        shared: any_shared,
        stack,
        marks,
        memo,
        ..
    } = m;
    (scratch.nodes, scratch.origin) = (nodes, origin);
    (scratch.stack, scratch.marks, scratch.memo) = (stack, marks, memo);
    let root = root?;
    let mut state = std::mem::take(&mut scratch.state);
    state.resize(scratch.nodes.len(), State::New);
    let mut b = Builder {
        nodes: &mut scratch.nodes,
        origin: &scratch.origin,
        any_shared,
        state,
        copying: 0,
        copy_budget: limits.max_copy_bytes,
        limits,
    };
    let r = b.build(
        root,
        std::mem::take(&mut scratch.tasks),
        std::mem::take(&mut scratch.out),
    );
    scratch.state = b.state;
    match r {
        Ok((v, tasks, out)) => {
            (scratch.tasks, scratch.out) = (tasks, out);
            Ok(v)
        }
        Err(e) => Err(e),
    }
}

/// The memo: indices as the pickler numbers them (0, 1, 2... in CPython's
/// pickles) in a vector; a sparse index from a hand-made pickle in a map,
/// so a huge index costs no more than a small one.
#[derive(Default)]
struct Memo {
    dense: Vec<Option<Id>>,
    sparse: HashMap<u32, Id>,
    count: usize,
}

impl Memo {
    fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.count = 0;
    }

    fn len(&self) -> usize {
        self.count
    }

    fn contains(&self, index: u32) -> bool {
        self.get(index).is_some()
    }

    fn get(&self, index: u32) -> Option<Id> {
        match self.dense.get(index as usize) {
            Some(slot) => *slot,
            None => self.sparse.get(&index).copied(),
        }
    }

    fn insert(&mut self, index: u32, id: Id) {
        let i = index as usize;
        if i >= self.dense.len() && i < 2 * self.count + 16 && !self.sparse.contains_key(&index) {
            self.dense.resize(i + 1, None);
        }
        let slot = match self.dense.get_mut(i) {
            Some(slot) => slot.replace(id),
            None => self.sparse.insert(index, id),
        };
        if slot.is_none() {
            self.count += 1;
        }
    }
}

/// A node of the object graph under construction.
enum Node {
    /// A value without children (None, numbers, str, bytes, globals).
    Leaf(Value),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    Reduce {
        callable: Id,
        args: Id,
        state: Option<Id>,
    },
    Object {
        class: Id,
        args: Id,
        kwargs: Option<Id>,
        state: Option<Id>,
    },
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Leaf(v) => v.kind(),
            Node::Tuple(_) => "tuple",
            Node::List(_) => "list",
            Node::Dict(_) => "dict",
            Node::Set(_) => "set",
            Node::FrozenSet(_) => "frozenset",
            Node::Reduce { .. } => "reduce (object built by a call)",
            Node::Object { .. } => "object (built by cls.__new__)",
        }
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    nodes: Vec<Node>,
    /// Offset of the opcode that created each node (for error messages).
    origin: Vec<usize>,
    stack: Vec<Id>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    memo: Memo,
    /// Whether a node was pushed more than once (DUP, memo gets): then the
    /// builder copies leaves; else it moves them into the tree.
    shared: bool,
    proto: u8,
}

fn name_of(code: u8) -> &'static str {
    use op::*;
    match code {
        MARK => "MARK",
        STOP => "STOP",
        POP => "POP",
        POP_MARK => "POP_MARK",
        DUP => "DUP",
        FLOAT => "FLOAT",
        INT => "INT",
        BININT => "BININT",
        BININT1 => "BININT1",
        LONG => "LONG",
        BININT2 => "BININT2",
        NONE => "NONE",
        PERSID => "PERSID",
        BINPERSID => "BINPERSID",
        REDUCE => "REDUCE",
        STRING => "STRING",
        BINSTRING => "BINSTRING",
        SHORT_BINSTRING => "SHORT_BINSTRING",
        UNICODE => "UNICODE",
        BINUNICODE => "BINUNICODE",
        APPEND => "APPEND",
        BUILD => "BUILD",
        GLOBAL => "GLOBAL",
        DICT => "DICT",
        EMPTY_DICT => "EMPTY_DICT",
        APPENDS => "APPENDS",
        GET => "GET",
        BINGET => "BINGET",
        INST => "INST",
        LONG_BINGET => "LONG_BINGET",
        LIST => "LIST",
        EMPTY_LIST => "EMPTY_LIST",
        OBJ => "OBJ",
        PUT => "PUT",
        BINPUT => "BINPUT",
        LONG_BINPUT => "LONG_BINPUT",
        SETITEM => "SETITEM",
        TUPLE => "TUPLE",
        EMPTY_TUPLE => "EMPTY_TUPLE",
        SETITEMS => "SETITEMS",
        BINFLOAT => "BINFLOAT",
        PROTO => "PROTO",
        NEWOBJ => "NEWOBJ",
        EXT1 => "EXT1",
        EXT2 => "EXT2",
        EXT4 => "EXT4",
        TUPLE1 => "TUPLE1",
        TUPLE2 => "TUPLE2",
        TUPLE3 => "TUPLE3",
        NEWTRUE => "NEWTRUE",
        NEWFALSE => "NEWFALSE",
        LONG1 => "LONG1",
        LONG4 => "LONG4",
        SHORT_BINUNICODE => "SHORT_BINUNICODE",
        BINUNICODE8 => "BINUNICODE8",
        BINBYTES8 => "BINBYTES8",
        EMPTY_SET => "EMPTY_SET",
        ADDITEMS => "ADDITEMS",
        FROZENSET => "FROZENSET",
        NEWOBJ_EX => "NEWOBJ_EX",
        STACK_GLOBAL => "STACK_GLOBAL",
        MEMOIZE => "MEMOIZE",
        FRAME => "FRAME",
        BYTEARRAY8 => "BYTEARRAY8",
        NEXT_BUFFER => "NEXT_BUFFER",
        READONLY_BUFFER => "READONLY_BUFFER",
        BINBYTES => "BINBYTES",
        SHORT_BINBYTES => "SHORT_BINBYTES",
        _ => "?",
    }
}

/// Opcodes refused on purpose, with the reason given to the user.
fn refused(code: u8) -> Option<&'static str> {
    use op::*;
    Some(match code {
        PERSID | BINPERSID => {
            "persistent IDs need a persistent_load hook (CPython fails without one too)"
        }
        EXT1 | EXT2 | EXT4 => "the copyreg extension registry is not supported",
        INST | OBJ => "protocol 0/1 instances are not supported (use protocol 2 or higher)",
        NEXT_BUFFER | READONLY_BUFFER => {
            "out-of-band buffers are not supported (no buffer callback)"
        }
        STRING | BINSTRING | SHORT_BINSTRING => {
            "Python 2 str opcodes are not supported (their decoding needs an explicit encoding)"
        }
        UNICODE => "protocol-0 text strings are not supported (use protocol 2 or higher)",
        _ => return None,
    })
}

impl<'a> Machine<'a> {
    fn invalid(&self, at: usize, code: u8, message: impl Into<String>) -> PickleError {
        PickleError::Invalid {
            offset: at,
            opcode: name_of(code),
            message: message.into(),
        }
    }

    fn limit(&self, limit: &'static str, max: usize, at: usize) -> PickleError {
        PickleError::Limit {
            limit,
            max,
            at: Some(at),
        }
    }

    /// Take `n` bytes of argument, checking `n` against the remaining input first.
    fn take(&mut self, n: u64, at: usize, code: u8) -> Result<&'a [u8], PickleError> {
        let available = self.data.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= available => {
                let s = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(PickleError::Truncated {
                offset: at,
                opcode: name_of(code),
                needed: n,
                available,
            }),
        }
    }

    fn take_array<const N: usize>(&mut self, at: usize, code: u8) -> Result<[u8; N], PickleError> {
        let s = self.take(N as u64, at, code)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn take_u8(&mut self, at: usize, code: u8) -> Result<u8, PickleError> {
        Ok(self.take_array::<1>(at, code)?[0])
    }

    fn take_u32(&mut self, at: usize, code: u8) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take_array(at, code)?))
    }

    fn take_u64(&mut self, at: usize, code: u8) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.take_array(at, code)?))
    }

    /// A text argument up to (not including) the next newline.
    fn take_line(&mut self, at: usize, code: u8) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(PickleError::Truncated {
                offset: at,
                opcode: name_of(code),
                needed: rest.len() as u64 + 1,
                available: rest.len(),
            }),
        }
    }

    fn new_node(&mut self, node: Node, at: usize) -> Result<Id, PickleError> {
        if self.nodes.len() >= self.limits.max_values {
            return Err(self.limit("max_values", self.limits.max_values, at));
        }
        // max_values is far below u32::MAX in any sane configuration; guard anyway.
        let id = Id::try_from(self.nodes.len())
            .map_err(|_| self.limit("max_values", u32::MAX as usize, at))?;
        self.nodes.push(node);
        self.origin.push(at);
        Ok(id)
    }

    fn push(&mut self, id: Id, at: usize) -> Result<(), PickleError> {
        if self.stack.len() >= self.limits.max_stack {
            return Err(self.limit("max_stack", self.limits.max_stack, at));
        }
        self.stack.push(id);
        Ok(())
    }

    fn push_node(&mut self, node: Node, at: usize) -> Result<(), PickleError> {
        let id = self.new_node(node, at)?;
        self.push(id, at)
    }

    fn push_leaf(&mut self, v: Value, at: usize) -> Result<(), PickleError> {
        self.push_node(Node::Leaf(v), at)
    }

    /// The bottom of the current MARK frame: items below it cannot be popped.
    fn base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: usize, code: u8) -> Result<Id, PickleError> {
        if self.stack.len() <= self.base() {
            let what = if self.marks.is_empty() {
                "the stack is empty"
            } else {
                "a MARK is on top of the stack"
            };
            return Err(self.invalid(at, code, what));
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn top(&self, at: usize, code: u8) -> Result<Id, PickleError> {
        if self.stack.len() <= self.base() {
            return Err(self.invalid(at, code, "nothing on the stack to operate on"));
        }
        Ok(*self.stack.last().expect("checked above"))
    }

    /// Pop everything down to the last MARK, and the MARK.
    fn pop_mark(&mut self, at: usize, code: u8) -> Result<Vec<Id>, PickleError> {
        let Some(mark) = self.marks.pop() else {
            return Err(self.invalid(at, code, "no MARK on the stack"));
        };
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, index: u32, id: Id, at: usize) -> Result<(), PickleError> {
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains(index) {
            return Err(self.limit("max_memo", self.limits.max_memo, at));
        }
        self.memo.insert(index, id);
        Ok(())
    }

    fn memo_get(&mut self, index: u64, at: usize, code: u8) -> Result<(), PickleError> {
        let id = u32::try_from(index).ok().and_then(|i| self.memo.get(i));
        match id {
            Some(id) => {
                self.shared = true;
                self.push(id, at)
            }
            None => Err(self.invalid(at, code, format!("memo entry {index} was never stored"))),
        }
    }

    fn leaf_str(&self, id: Id) -> Option<&PyStr> {
        match &self.nodes[id as usize] {
            Node::Leaf(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn read_str(&mut self, n: u64, at: usize, code: u8) -> Result<(), PickleError> {
        let raw = self.take(n, at, code)?;
        let s = PyStr::from_surrogatepass(raw.to_vec()).map_err(|bad| {
            self.invalid(
                at,
                code,
                format!("string is not UTF-8 (bad byte at string offset {bad})"),
            )
        })?;
        self.push_leaf(Value::Str(s), at)
    }

    fn run(&mut self) -> Result<Id, PickleError> {
        use op::*;
        loop {
            let at = self.pos;
            let Some(&code) = self.data.get(at) else {
                return Err(PickleError::MissingStop {
                    len: self.data.len(),
                });
            };
            self.pos += 1;
            if let Some(reason) = refused(code) {
                return Err(PickleError::Unsupported {
                    offset: at,
                    opcode: name_of(code),
                    reason,
                });
            }
            match code {
                PROTO => {
                    let v = self.take_u8(at, code)?;
                    if v > 5 {
                        return Err(self.invalid(
                            at,
                            code,
                            format!("unsupported pickle protocol {v}"),
                        ));
                    }
                    self.proto = v;
                }
                FRAME => {
                    // A length hint: the frame must fit in what is left.
                    let n = self.take_u64(at, code)?;
                    let left = (self.data.len() - self.pos) as u64;
                    if n > left {
                        return Err(PickleError::Truncated {
                            offset: at,
                            opcode: "FRAME",
                            needed: n,
                            available: left as usize,
                        });
                    }
                }
                STOP => {
                    let top = self.pop(at, code)?;
                    return Ok(top);
                }
                MARK => {
                    if self.marks.len() >= self.limits.max_marks {
                        return Err(self.limit("max_marks", self.limits.max_marks, at));
                    }
                    self.marks.push(self.stack.len());
                }
                POP => {
                    // As CPython: pop an item, or the MARK when nothing is above it.
                    if self.stack.len() > self.base() {
                        self.stack.pop();
                    } else if self.marks.pop().is_none() {
                        return Err(self.invalid(at, code, "the stack is empty"));
                    }
                }
                POP_MARK => {
                    self.pop_mark(at, code)?;
                }
                DUP => {
                    let top = self.top(at, code)?;
                    self.shared = true;
                    self.push(top, at)?;
                }
                NONE => self.push_leaf(Value::None, at)?,
                NEWTRUE => self.push_leaf(Value::Bool(true), at)?,
                NEWFALSE => self.push_leaf(Value::Bool(false), at)?,
                BININT => {
                    let v = i32::from_le_bytes(self.take_array(at, code)?);
                    self.push_leaf(Value::Int(v.into()), at)?;
                }
                BININT1 => {
                    let v = self.take_u8(at, code)?;
                    self.push_leaf(Value::Int(v.into()), at)?;
                }
                BININT2 => {
                    let v = u16::from_le_bytes(self.take_array(at, code)?);
                    self.push_leaf(Value::Int(v.into()), at)?;
                }
                LONG1 => {
                    let n = self.take_u8(at, code)?;
                    let b = self.take(n.into(), at, code)?;
                    self.push_leaf(Value::int_from_le_bytes(b), at)?;
                }
                LONG4 => {
                    let n = i32::from_le_bytes(self.take_array(at, code)?);
                    let n =
                        u64::try_from(n).map_err(|_| self.invalid(at, code, "negative length"))?;
                    let b = self.take(n, at, code)?;
                    self.push_leaf(Value::int_from_le_bytes(b), at)?;
                }
                INT => {
                    let line = self.take_line(at, code)?;
                    let v = match line {
                        b"00" => Value::Bool(false),
                        b"01" => Value::Bool(true),
                        _ => parse_decimal(line)
                            .ok_or_else(|| self.invalid(at, code, "not a decimal integer"))?,
                    };
                    self.push_leaf(v, at)?;
                }
                LONG => {
                    let line = self.take_line(at, code)?;
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let v = parse_decimal(digits)
                        .ok_or_else(|| self.invalid(at, code, "not a decimal integer"))?;
                    self.push_leaf(v, at)?;
                }
                BINFLOAT => {
                    let v = f64::from_be_bytes(self.take_array(at, code)?);
                    self.push_leaf(Value::Float(v), at)?;
                }
                FLOAT => {
                    let line = self.take_line(at, code)?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.invalid(at, code, "not a float"))?;
                    self.push_leaf(Value::Float(v), at)?;
                }
                SHORT_BINUNICODE => {
                    let n = self.take_u8(at, code)?;
                    self.read_str(n.into(), at, code)?;
                }
                BINUNICODE => {
                    let n = self.take_u32(at, code)?;
                    self.read_str(n.into(), at, code)?;
                }
                BINUNICODE8 => {
                    let n = self.take_u64(at, code)?;
                    self.read_str(n, at, code)?;
                }
                SHORT_BINBYTES => {
                    let n = self.take_u8(at, code)?;
                    let b = self.take(n.into(), at, code)?;
                    self.push_leaf(Value::Bytes(b.to_vec()), at)?;
                }
                BINBYTES => {
                    let n = self.take_u32(at, code)?;
                    let b = self.take(n.into(), at, code)?;
                    self.push_leaf(Value::Bytes(b.to_vec()), at)?;
                }
                BINBYTES8 => {
                    let n = self.take_u64(at, code)?;
                    let b = self.take(n, at, code)?;
                    self.push_leaf(Value::Bytes(b.to_vec()), at)?;
                }
                BYTEARRAY8 => {
                    let n = self.take_u64(at, code)?;
                    let b = self.take(n, at, code)?;
                    self.push_leaf(Value::ByteArray(b.to_vec()), at)?;
                }
                EMPTY_TUPLE => self.push_node(Node::Tuple(Vec::new()), at)?,
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = usize::from(code - TUPLE1 + 1);
                    if self.stack.len() < self.base() + n {
                        return Err(self.invalid(
                            at,
                            code,
                            format!("needs {n} items on the stack"),
                        ));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push_node(Node::Tuple(items), at)?;
                }
                TUPLE => {
                    let items = self.pop_mark(at, code)?;
                    self.push_node(Node::Tuple(items), at)?;
                }
                EMPTY_LIST => self.push_node(Node::List(Vec::new()), at)?,
                LIST => {
                    let items = self.pop_mark(at, code)?;
                    self.push_node(Node::List(items), at)?;
                }
                APPEND => {
                    let item = self.pop(at, code)?;
                    let target = self.top(at, code)?;
                    self.extend_list(target, vec![item], at, code)?;
                }
                APPENDS => {
                    let items = self.pop_mark(at, code)?;
                    let target = self.top(at, code)?;
                    self.extend_list(target, items, at, code)?;
                }
                EMPTY_DICT => self.push_node(Node::Dict(Vec::new()), at)?,
                DICT => {
                    let items = self.pop_mark(at, code)?;
                    let pairs = self.pairs(items, at, code)?;
                    self.push_node(Node::Dict(pairs), at)?;
                }
                SETITEM => {
                    let v = self.pop(at, code)?;
                    let k = self.pop(at, code)?;
                    let target = self.top(at, code)?;
                    self.extend_dict(target, vec![(k, v)], at, code)?;
                }
                SETITEMS => {
                    let items = self.pop_mark(at, code)?;
                    let pairs = self.pairs(items, at, code)?;
                    let target = self.top(at, code)?;
                    self.extend_dict(target, pairs, at, code)?;
                }
                EMPTY_SET => self.push_node(Node::Set(Vec::new()), at)?,
                ADDITEMS => {
                    let items = self.pop_mark(at, code)?;
                    let target = self.top(at, code)?;
                    match &mut self.nodes[target as usize] {
                        Node::Set(s) => s.extend(items),
                        other => {
                            let kind = other.kind();
                            return Err(self.invalid(
                                at,
                                code,
                                format!("ADDITEMS on a {kind}, not a set"),
                            ));
                        }
                    }
                }
                FROZENSET => {
                    let items = self.pop_mark(at, code)?;
                    self.push_node(Node::FrozenSet(items), at)?;
                }
                MEMOIZE => {
                    let top = self.top(at, code)?;
                    let index = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(index, top, at)?;
                }
                PUT => {
                    let line = self.take_line(at, code)?;
                    let index = parse_index(line)
                        .ok_or_else(|| self.invalid(at, code, "bad memo index"))?;
                    let top = self.top(at, code)?;
                    self.memo_put(index, top, at)?;
                }
                BINPUT => {
                    let index = self.take_u8(at, code)?;
                    let top = self.top(at, code)?;
                    self.memo_put(index.into(), top, at)?;
                }
                LONG_BINPUT => {
                    let index = self.take_u32(at, code)?;
                    let top = self.top(at, code)?;
                    self.memo_put(index, top, at)?;
                }
                GET => {
                    let line = self.take_line(at, code)?;
                    let index = parse_index(line)
                        .ok_or_else(|| self.invalid(at, code, "bad memo index"))?;
                    self.memo_get(index.into(), at, code)?;
                }
                BINGET => {
                    let index = self.take_u8(at, code)?;
                    self.memo_get(index.into(), at, code)?;
                }
                LONG_BINGET => {
                    let index = self.take_u32(at, code)?;
                    self.memo_get(index.into(), at, code)?;
                }
                GLOBAL => {
                    let module = self.take_line(at, code)?;
                    let name = self.take_line(at, code)?;
                    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned);
                    let (Ok(module), Ok(name)) = (text(module), text(name)) else {
                        return Err(self.invalid(at, code, "module or name is not UTF-8"));
                    };
                    let (module, name) = if self.proto < 3 {
                        fix_import(module, name)
                    } else {
                        (module, name)
                    };
                    self.push_leaf(Value::Global { module, name }, at)?;
                }
                STACK_GLOBAL => {
                    let name = self.pop(at, code)?;
                    let module = self.pop(at, code)?;
                    let (Some(module), Some(name)) = (self.leaf_str(module), self.leaf_str(name))
                    else {
                        return Err(self.invalid(at, code, "module and name must be str"));
                    };
                    let (Some(module), Some(name)) = (module.as_str(), name.as_str()) else {
                        return Err(self.invalid(
                            at,
                            code,
                            "module or name holds a lone surrogate",
                        ));
                    };
                    let g = Value::Global {
                        module: module.to_owned(),
                        name: name.to_owned(),
                    };
                    self.push_leaf(g, at)?;
                }
                REDUCE => {
                    let args = self.pop(at, code)?;
                    let callable = self.pop(at, code)?;
                    let node = self.reduce_native(callable, args).unwrap_or(Node::Reduce {
                        callable,
                        args,
                        state: None,
                    });
                    self.push_node(node, at)?;
                }
                NEWOBJ => {
                    let args = self.pop(at, code)?;
                    let class = self.pop(at, code)?;
                    self.push_node(
                        Node::Object {
                            class,
                            args,
                            kwargs: None,
                            state: None,
                        },
                        at,
                    )?;
                }
                NEWOBJ_EX => {
                    let kwargs = self.pop(at, code)?;
                    let args = self.pop(at, code)?;
                    let class = self.pop(at, code)?;
                    self.push_node(
                        Node::Object {
                            class,
                            args,
                            kwargs: Some(kwargs),
                            state: None,
                        },
                        at,
                    )?;
                }
                BUILD => {
                    let new_state = self.pop(at, code)?;
                    let target = self.top(at, code)?;
                    match &mut self.nodes[target as usize] {
                        Node::Reduce { state, .. } | Node::Object { state, .. }
                            if state.is_none() =>
                        {
                            *state = Some(new_state);
                        }
                        Node::Reduce { .. } | Node::Object { .. } => {
                            return Err(self.invalid(
                                at,
                                code,
                                "a second BUILD on the same object is not supported",
                            ));
                        }
                        other => {
                            let kind = other.kind();
                            return Err(self.invalid(
                                at,
                                code,
                                format!("BUILD on a {kind}, not an object"),
                            ));
                        }
                    }
                }
                _ => {
                    return Err(PickleError::UnknownOpcode {
                        offset: at,
                        byte: code,
                    });
                }
            }
        }
    }

    fn extend_list(
        &mut self,
        target: Id,
        items: Vec<Id>,
        at: usize,
        code: u8,
    ) -> Result<(), PickleError> {
        match &mut self.nodes[target as usize] {
            Node::List(l) => {
                l.extend(items);
                Ok(())
            }
            other => {
                let kind = other.kind();
                Err(self.invalid(
                    at,
                    code,
                    format!(
                        "appending to a {kind}, not a list (list subclasses are not supported)"
                    ),
                ))
            }
        }
    }

    fn extend_dict(
        &mut self,
        target: Id,
        pairs: Vec<(Id, Id)>,
        at: usize,
        code: u8,
    ) -> Result<(), PickleError> {
        match &mut self.nodes[target as usize] {
            Node::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            other => {
                let kind = other.kind();
                Err(self.invalid(
                    at,
                    code,
                    format!(
                        "setting items on a {kind}, not a dict (dict subclasses are not supported)"
                    ),
                ))
            }
        }
    }

    fn pairs(&self, items: Vec<Id>, at: usize, code: u8) -> Result<Vec<(Id, Id)>, PickleError> {
        if items.len() % 2 != 0 {
            return Err(self.invalid(at, code, "odd number of items for key/value pairs"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    /// The native value for a reduction whose meaning is pure data (see the module docs).
    fn reduce_native(&self, callable: Id, args: Id) -> Option<Node> {
        let Node::Leaf(Value::Global { module, name }) = &self.nodes[callable as usize] else {
            return None;
        };
        let Node::Tuple(args) = &self.nodes[args as usize] else {
            return None;
        };
        let arg = |i: usize| &self.nodes[args[i] as usize];
        let seq_items = |n: &Node| match n {
            Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => Some(v.clone()),
            _ => None,
        };
        match (module.as_str(), name.as_str(), args.len()) {
            ("builtins", "set", 0) => Some(Node::Set(Vec::new())),
            ("builtins", "set", 1) => seq_items(arg(0)).map(Node::Set),
            ("builtins", "frozenset", 0) => Some(Node::FrozenSet(Vec::new())),
            ("builtins", "frozenset", 1) => seq_items(arg(0)).map(Node::FrozenSet),
            ("builtins", "list", 0) => Some(Node::List(Vec::new())),
            ("builtins", "list", 1) => seq_items(arg(0)).map(Node::List),
            ("builtins", "bytearray", 0) => Some(Node::Leaf(Value::ByteArray(Vec::new()))),
            ("builtins", "bytearray", 1) => match arg(0) {
                Node::Leaf(Value::Bytes(b) | Value::ByteArray(b)) => {
                    Some(Node::Leaf(Value::ByteArray(b.clone())))
                }
                _ => None,
            },
            ("builtins", "bytes", 0) => Some(Node::Leaf(Value::Bytes(Vec::new()))),
            ("builtins", "bytes", 1) => match arg(0) {
                Node::Leaf(Value::Bytes(b)) => Some(Node::Leaf(Value::Bytes(b.clone()))),
                _ => None,
            },
            ("builtins", "int", 1) => match arg(0) {
                Node::Leaf(v @ (Value::Int(_) | Value::BigInt(_))) => Some(Node::Leaf(v.clone())),
                _ => None,
            },
            ("_codecs", "encode", 2) => {
                let (Node::Leaf(Value::Str(s)), Node::Leaf(Value::Str(enc))) = (arg(0), arg(1))
                else {
                    return None;
                };
                if !matches!(
                    enc.as_str()?,
                    "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1"
                ) {
                    return None;
                }
                let bytes: Option<Vec<u8>> =
                    s.code_points().map(|c| u8::try_from(c).ok()).collect();
                bytes.map(|b| Node::Leaf(Value::Bytes(b)))
            }
            _ => None,
        }
    }
}

/// Python 2 module names in protocol-2 GLOBALs, mapped as CPython's `fix_imports` does
/// (the subset `multiprocessing` can meet).
fn fix_import(module: String, name: String) -> (String, String) {
    let m = match module.as_str() {
        "__builtin__" | "exceptions" => "builtins",
        "copy_reg" => "copyreg",
        "Queue" => "queue",
        _ => return (module, name),
    };
    let n = match (module.as_str(), name.as_str()) {
        ("__builtin__", "unicode") => "str",
        ("__builtin__", "xrange") => "range",
        ("__builtin__", "long") => "int",
        ("exceptions", "StandardError") => "Exception",
        _ => return (m.to_owned(), name),
    };
    (m.to_owned(), n.to_owned())
}

fn parse_index(line: &[u8]) -> Option<u32> {
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

/// A decimal integer of any size (text INT/LONG), at most 10 000 digits.
fn parse_decimal(line: &[u8]) -> Option<Value> {
    let s = std::str::from_utf8(line).ok()?.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Int(i));
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || digits.len() > 10_000 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Magnitude, little-endian bytes: multiply by 10 and add each digit.
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for b in &mut mag {
            let v = u32::from(*b) * 10 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        if carry > 0 {
            mag.push(carry as u8);
        }
    }
    mag.push(0); // sign byte
    if negative {
        let mut carry = true;
        for b in &mut mag {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    Some(Value::int_from_le_bytes(minimal_twos(&mag)))
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    New,
    InProgress,
    Done,
}

/// Second pass: the node graph to a [`Value`] tree, without recursion (an
/// explicit work stack), so hostile nesting costs heap, not thread stack.
struct Builder<'a> {
    nodes: &'a mut [Node],
    origin: &'a [usize],
    /// Whether any node is pushed more than once (then leaves are copied).
    any_shared: bool,
    state: Vec<State>,
    /// > 0 while rebuilding a node that was already built once (a shared reference).
    copying: usize,
    copy_budget: usize,
    limits: &'a Limits,
}

enum Task {
    /// Build this node (at this depth), pushing its value on the output stack.
    Enter(Id, usize),
    /// Its children are on the output stack: assemble them. `copy` if this was a re-visit.
    Exit(Id, bool),
}

impl Builder<'_> {
    /// The tree under `root`; also gives back the (emptied) work vectors.
    fn build(
        &mut self,
        root: Id,
        mut tasks: Vec<Task>,
        mut out: Vec<Value>,
    ) -> Result<(Value, Vec<Task>, Vec<Value>), PickleError> {
        tasks.push(Task::Enter(root, 0));
        while let Some(task) = tasks.pop() {
            match task {
                Task::Enter(id, depth) => {
                    let i = id as usize;
                    if depth > self.limits.max_depth {
                        return Err(PickleError::Limit {
                            limit: "max_depth",
                            max: self.limits.max_depth,
                            at: Some(self.origin[i]),
                        });
                    }
                    let node = &self.nodes[i];
                    let copy = match self.state[i] {
                        State::InProgress => {
                            return Err(PickleError::Cycle {
                                offset: self.origin[i],
                                kind: node.kind(),
                            })
                        }
                        State::Done => true,
                        State::New => false,
                    };
                    if copy {
                        self.copying += 1;
                    }
                    if self.copying > 0 {
                        self.charge(i)?;
                    }
                    if let Node::Leaf(v) = &mut self.nodes[i] {
                        // Moved out when no node is built twice (a shared
                        // container rebuilds its leaves on each visit).
                        out.push(if self.any_shared {
                            v.clone()
                        } else {
                            std::mem::replace(v, Value::None)
                        });
                        self.state[i] = State::Done;
                        if copy {
                            self.copying -= 1;
                        }
                        continue;
                    }
                    self.state[i] = State::InProgress;
                    tasks.push(Task::Exit(id, copy));
                    let node = &self.nodes[i];
                    let d = depth + 1;
                    let start = tasks.len();
                    match node {
                        Node::Leaf(_) => unreachable!("handled above"),
                        Node::Tuple(items)
                        | Node::List(items)
                        | Node::Set(items)
                        | Node::FrozenSet(items) => {
                            tasks.extend(items.iter().map(|&c| Task::Enter(c, d)));
                        }
                        Node::Dict(pairs) => {
                            for &(k, v) in pairs {
                                tasks.push(Task::Enter(k, d));
                                tasks.push(Task::Enter(v, d));
                            }
                        }
                        Node::Reduce {
                            callable,
                            args,
                            state,
                        } => {
                            tasks.push(Task::Enter(*callable, d));
                            tasks.push(Task::Enter(*args, d));
                            tasks.extend(state.map(|s| Task::Enter(s, d)));
                        }
                        Node::Object {
                            class,
                            args,
                            kwargs,
                            state,
                        } => {
                            tasks.push(Task::Enter(*class, d));
                            tasks.push(Task::Enter(*args, d));
                            tasks.extend(kwargs.map(|s| Task::Enter(s, d)));
                            tasks.extend(state.map(|s| Task::Enter(s, d)));
                        }
                    }
                    // The stack pops last-in first: reverse so children are built in order.
                    tasks[start..].reverse();
                }
                Task::Exit(id, copy) => {
                    let i = id as usize;
                    let v = assemble(&self.nodes[i], &mut out);
                    out.push(v);
                    self.state[i] = State::Done;
                    if copy {
                        self.copying -= 1;
                    }
                }
            }
        }
        let v = out.pop().expect("the root's value");
        Ok((v, tasks, out))
    }

    /// Count a copied node against the budget.
    fn charge(&mut self, i: usize) -> Result<(), PickleError> {
        let payload = match &self.nodes[i] {
            Node::Leaf(Value::Str(s)) => s.as_bytes().len(),
            Node::Leaf(Value::Bytes(b) | Value::ByteArray(b) | Value::BigInt(b)) => b.len(),
            Node::Leaf(Value::Global { module, name }) => module.len() + name.len(),
            _ => 0,
        };
        let cost = std::mem::size_of::<Value>() + payload;
        if cost > self.copy_budget {
            return Err(PickleError::Limit {
                limit: "max_copy_bytes",
                max: self.limits.max_copy_bytes,
                at: Some(self.origin[i]),
            });
        }
        self.copy_budget -= cost;
        Ok(())
    }
}

/// Take a container's children (the last values on `out`) and build it.
fn assemble(node: &Node, out: &mut Vec<Value>) -> Value {
    let mut take = |n: usize| out.split_off(out.len() - n);
    match node {
        Node::Leaf(v) => v.clone(),
        Node::Tuple(items) => Value::Tuple(take(items.len())),
        Node::List(items) => Value::List(take(items.len())),
        Node::Set(items) => Value::Set(take(items.len())),
        Node::FrozenSet(items) => Value::FrozenSet(take(items.len())),
        Node::Dict(pairs) => {
            let mut flat = take(pairs.len() * 2).into_iter();
            let mut d = Vec::with_capacity(pairs.len());
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                d.push((k, v));
            }
            Value::Dict(d)
        }
        Node::Reduce { state, .. } => {
            let mut parts = take(2 + usize::from(state.is_some())).into_iter();
            let callable = Box::new(parts.next().expect("callable"));
            let args = Box::new(parts.next().expect("args"));
            Value::Reduce {
                callable,
                args,
                state: parts.next().map(Box::new),
            }
        }
        Node::Object { kwargs, state, .. } => {
            let n = 2 + usize::from(kwargs.is_some()) + usize::from(state.is_some());
            let mut parts = take(n).into_iter();
            let class = Box::new(parts.next().expect("class"));
            let args = Box::new(parts.next().expect("args"));
            let kwargs = kwargs.map(|_| Box::new(parts.next().expect("kwargs")));
            let state = state.map(|_| Box::new(parts.next().expect("state")));
            Value::Object {
                class,
                args,
                kwargs,
                state,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"12"), Some(Value::Int(12)));
        assert_eq!(
            parse_decimal(b"-18446744073709551616"),
            Some(Value::from_i128(-(1 << 64)))
        );
        assert_eq!(
            parse_decimal(b"340282366920938463463374607431768211455"),
            Some(Value::from_u128(u128::MAX))
        );
        assert_eq!(parse_decimal(b"x"), None);
    }

    #[test]
    fn text_opcodes() {
        assert_eq!(loads(b"I12\n.").unwrap(), Value::Int(12));
        assert_eq!(loads(b"I01\n.").unwrap(), Value::Bool(true));
        assert_eq!(loads(b"L5L\n.").unwrap(), Value::Int(5));
        assert_eq!(loads(b"F2.5\n.").unwrap(), Value::Float(2.5));
        assert_eq!(
            loads(b"(I1\np0\ng0\nl.").unwrap(),
            Value::List(vec![Value::Int(1), Value::Int(1)])
        );
    }
}
