//! A one-pass decoder for the common case: plain data (None, bools, ints,
//! floats, str, bytes, tuples, lists, dicts) with no object referred to
//! twice (no memo GET, no DUP). It builds the [`Value`] tree straight from
//! the stack, without [`decode`](super::decode)'s node graph.
//!
//! It only ever answers for a pickle the full decoder would decode to the
//! same value: anything else (another opcode, a shared reference, a limit
//! reached, any malformed byte) gives `None`, and the caller runs the full
//! decoder, which has the exact error message. Manager requests and
//! replies, pool tasks and results are such pickles; the full decoder is
//! about three times slower on them.

use super::op;
use super::value::{PyStr, Value};
use super::Limits;

/// The value stack (each value with its height, 0 for a leaf, for
/// max_depth) and the marks, kept per thread between pickles: no
/// allocation for them per message.
#[derive(Default)]
struct Stacks {
    stack: Vec<Value>,
    /// The height of each value on `stack` (apart: the values move into
    /// their container with one copy).
    heights: Vec<usize>,
    marks: Vec<usize>,
}

thread_local! {
    static STACKS: std::cell::Cell<Option<Stacks>> = const { std::cell::Cell::new(None) };
}

/// Buffers this size or smaller are kept for the next pickle.
const KEEP: usize = 64;

/// The value of `data`, or `None` when the full decoder must decide.
pub(super) fn loads(data: &[u8], limits: &Limits) -> Option<Value> {
    with_stacks(|stacks| decode(data, limits, stacks, false))
}

/// Runs `f` with this thread's stacks, left empty for the next pickle.
fn with_stacks<R>(f: impl FnOnce(&mut Stacks) -> Option<R>) -> Option<R> {
    // Taken out of the thread's slot (a nested call, if any, makes its own).
    let mut stacks = STACKS.with(|s| s.take()).unwrap_or_default();
    let v = f(&mut stacks);
    stacks.stack.clear();
    stacks.heights.clear();
    stacks.marks.clear();
    if stacks.stack.capacity() <= KEEP
        && stacks.heights.capacity() <= KEEP
        && stacks.marks.capacity() <= KEEP
    {
        STACKS.with(|s| s.set(Some(stacks)));
    }
    v
}

/// A tuple pickled as the outermost object whose first items are strs:
/// `PROTO [FRAME] [MARK] str [memo] ... <N more items> TUPLEn [memo] STOP`,
/// what a manager request `(ident, method, args, kwds)` and reply
/// `('#RETURN', value)` are. `lead` reads the leading items (`strs` of
/// them, with [`Lead`]'s helpers), borrowed from `data`; the `N` others are
/// decoded as [`loads`] would. `None` when anything differs from that
/// shape or the fast path gives up: the caller runs the full decoder.
///
/// Whatever answers here is what the full decoder answers for the whole
/// tuple: the tail (`TUPLEn [memo] STOP`) is only taken as such when the
/// items before it decode as one run that ends exactly there, which is
/// how a sequential reading of `data` goes too; the limits are those of
/// the whole pickle, less what the leading items and the tuple take.
pub(crate) fn loads_outer_tuple<'a, P, const N: usize>(
    data: &'a [u8],
    limits: &Limits,
    mark: bool,
    strs: usize,
    lead: impl FnOnce(&mut Lead<'a>) -> Option<P>,
) -> Option<(P, [Value; N])> {
    let mut l = Lead::after_header(data)?;
    if mark && l.r.u8()? != op::MARK {
        return None;
    }
    let lead = lead(&mut l)?;
    let start = l.r.pos;
    let tuple = match (mark, strs + N) {
        (true, _) => op::TUPLE,
        (false, n @ 1..=3) => op::TUPLE1 + (n as u8 - 1),
        _ => return None,
    };
    // The tail, each form a pickler writes: the tuple memoized by
    // MEMOIZE (protocol 4+), BINPUT or LONG_BINPUT (2 and 3), or not.
    let body = data.len().checked_sub(1)?;
    if data[body] != op::STOP {
        return None;
    }
    for (memo_len, memo_op) in [
        (1, op::MEMOIZE),
        (2, op::BINPUT),
        (5, op::LONG_BINPUT),
        (0, 0),
    ] {
        let Some(end) = body.checked_sub(memo_len + 1) else {
            continue;
        };
        if end < start || data[end] != tuple || (memo_len > 0 && data[end + 1] != memo_op) {
            continue;
        }
        let memo = l.memo + usize::from(memo_len > 0);
        // The leading items (and the MARK) sit below the run on the
        // stack, and the tuple is one more value one level up.
        let run_limits = Limits {
            max_stack: limits.max_stack.checked_sub(strs)?,
            max_marks: limits.max_marks.checked_sub(usize::from(mark))?,
            max_memo: limits.max_memo.checked_sub(memo)?,
            max_depth: limits.max_depth.checked_sub(1)?,
            max_values: limits.max_values.checked_sub(strs + 1)?,
            max_copy_bytes: limits.max_copy_bytes,
        };
        if let Some(items) = loads_run::<N>(&data[start..end], &run_limits) {
            return Some((lead, items));
        }
    }
    None
}

/// Up to [`FlatArgs::MAX`] values held inline: a request's arguments
/// without a `Vec` of their own.
pub(crate) struct FlatArgs {
    items: [Value; FlatArgs::MAX],
    len: usize,
    /// The keyword arguments: always an empty dict.
    kwds: Value,
}

impl FlatArgs {
    /// The most arguments held.
    pub(crate) const MAX: usize = 3;

    /// None yet.
    pub(crate) fn new() -> FlatArgs {
        FlatArgs {
            items: [Value::None, Value::None, Value::None],
            len: 0,
            kwds: Value::Dict(Vec::new()),
        }
    }

    /// Drops the arguments, for the next request.
    pub(crate) fn clear(&mut self) {
        for v in &mut self.items[..self.len] {
            if !matches!(v, Value::None) {
                *v = Value::None;
            }
        }
        self.len = 0;
        if !matches!(&self.kwds, Value::Dict(d) if d.is_empty()) {
            self.kwds = Value::Dict(Vec::new());
        }
    }

    /// The arguments, to use or move out of, and the keyword arguments
    /// (an empty dict, kept from one request to the next rather than made
    /// and dropped for each).
    pub(crate) fn parts(&mut self) -> (&mut [Value], &mut Value) {
        (&mut self.items[..self.len], &mut self.kwds)
    }

    /// The arguments as a `Vec` (moved out: none are left).
    pub(crate) fn take_vec(&mut self) -> Vec<Value> {
        let n = std::mem::take(&mut self.len);
        self.items[..n]
            .iter_mut()
            .map(|v| std::mem::replace(v, Value::None))
            .collect()
    }
}

/// A manager request `(ident, method, args, kwds)` in its commonest form,
/// read straight through, without the value stacks: `ident` None or a
/// str, `method` a str (both valid UTF-8, borrowed from `data`), `args` a
/// tuple of at most [`FlatArgs::MAX`] leaves (None, bools, ints, floats,
/// strs, bytes: nothing that can be or hold a proxy), `kwds` an empty
/// dict; each item memoized or not, in any of the pickler's forms
/// (MEMOIZE, BINPUT, LONG_BINPUT), nothing after STOP. `None` for
/// anything else, or when `limits` are tighter than such a request needs:
/// the caller then decodes as usual. What answers here is what the full
/// decoder reads. The arguments go into `args` (cleared first), which a
/// caller keeps from one request to the next.
pub(crate) fn loads_flat_request<'a>(
    data: &'a [u8],
    limits: &Limits,
    args: &mut FlatArgs,
) -> Option<(Option<&'a str>, &'a str)> {
    args.clear();
    // The most such a request takes: a MARK, 5 values on the stack at
    // once, 8 values and memo entries, nesting 2 deep.
    if limits.max_marks < 1
        || limits.max_stack < 8
        || limits.max_values < 8
        || limits.max_memo < 8
        || limits.max_depth < 2
    {
        return None;
    }
    let mut l = Lead::after_header(data)?;
    if l.r.u8()? != op::MARK {
        return None;
    }
    let ident = if l.none() { None } else { Some(l.str()?) };
    let method = l.str()?;
    let mut code = l.r.u8()?;
    if code != op::EMPTY_TUPLE {
        while !(op::TUPLE1..=op::TUPLE3).contains(&code) {
            let slot = args.items.get_mut(args.len)?;
            // The slot is None (cleared): nothing to drop.
            match std::mem::replace(slot, l.r.scalar(code)?) {
                Value::None => {}
                other => drop(other),
            }
            args.len += 1;
            l.memoized();
            code = l.r.u8()?;
        }
        if usize::from(code - op::TUPLE1) + 1 != args.len {
            return None;
        }
    }
    l.memoized();
    if l.r.u8()? != op::EMPTY_DICT {
        return None;
    }
    closes_with(&mut l, op::TUPLE, data)?;
    Some((ident, method))
}

/// The end of a flat pickle: `[memo] last [memo] STOP`, STOP the last byte
/// of `data`.
#[inline(always)]
fn closes_with(l: &mut Lead<'_>, last: u8, data: &[u8]) -> Option<()> {
    l.memoized();
    if l.r.u8()? != last {
        return None;
    }
    l.memoized();
    (l.r.u8()? == op::STOP && l.r.pos == data.len()).then_some(())
}

/// A `(str, leaf)` pair as the outermost object, what a manager's
/// `('#RETURN', result)` reply is when the result is None, a bool, an int,
/// a float, a str or bytes: `PROTO [FRAME] str [memo] leaf [memo] TUPLE2
/// [memo] STOP`, read straight through with the str borrowed. `None` for
/// anything else, or when `limits` are tighter than such a pair needs:
/// then [`loads_outer_tuple`] or the full decoder decide. What answers
/// here is what the full decoder reads.
pub(crate) fn loads_flat_pair<'a>(data: &'a [u8], limits: &Limits) -> Option<(&'a str, Value)> {
    // The most it takes: 3 values and memo entries, 2 on the stack.
    if limits.max_stack < 4 || limits.max_values < 4 || limits.max_memo < 4 || limits.max_depth < 1
    {
        return None;
    }
    let mut l = Lead::after_header(data)?;
    let tag = l.str()?;
    let code = l.r.u8()?;
    let v = l.r.scalar(code)?;
    closes_with(&mut l, op::TUPLE2, data)?;
    Some((tag, v))
}

/// `bytes` as text, if valid UTF-8. ASCII (ids, method names, most keys)
/// is told by a plain check, a fraction of `from_utf8`'s cost on a short
/// str.
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// Reads the leading strs of [`loads_outer_tuple`].
pub(crate) struct Lead<'a> {
    r: Reader<'a>,
    memo: usize,
}

impl<'a> Lead<'a> {
    /// A reader past `PROTO [FRAME]` of `data`, if they are there.
    fn after_header(data: &'a [u8]) -> Option<Lead<'a>> {
        let mut l = Lead {
            r: Reader { data, pos: 0 },
            memo: 0,
        };
        if l.r.u8()? != op::PROTO || l.r.u8()? > 5 {
            return None;
        }
        if l.r.data.get(l.r.pos) == Some(&op::FRAME) {
            l.r.pos += 1;
            let n = l.r.u64()?;
            if n > (data.len() - l.r.pos) as u64 {
                return None;
            }
        }
        Some(l)
    }

    /// A str (SHORT_BINUNICODE or BINUNICODE) and its memo entry, if
    /// any: valid UTF-8 only (a lone surrogate gives `None`).
    #[inline]
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let n = match self.r.u8()? {
            op::SHORT_BINUNICODE => u64::from(self.r.u8()?),
            op::BINUNICODE => u64::from(self.r.u32()?),
            _ => return None,
        };
        let s = utf8(self.r.take(n)?)?;
        self.memoized();
        Some(s)
    }

    /// `None` (the NONE opcode) if that comes next.
    #[inline]
    pub(crate) fn none(&mut self) -> bool {
        let yes = self.r.data.get(self.r.pos) == Some(&op::NONE);
        if yes {
            self.r.pos += 1;
        }
        yes
    }

    /// Skips the memo opcode after an item, counting it.
    #[inline]
    fn memoized(&mut self) {
        let skip = match self.r.data.get(self.r.pos) {
            Some(&op::MEMOIZE) => 1,
            Some(&op::BINPUT) => 2,
            Some(&op::LONG_BINPUT) => 5,
            _ => return,
        };
        if self.r.pos + skip <= self.r.data.len() {
            self.r.pos += skip;
            self.memo += 1;
        }
    }
}

/// The `N` values that `data`, a run of opcodes inside a larger pickle
/// (no STOP), leaves on an empty stack with no MARK open.
fn loads_run<const N: usize>(data: &[u8], limits: &Limits) -> Option<[Value; N]> {
    with_stacks(|stacks| {
        decode(data, limits, stacks, true)?;
        if !stacks.marks.is_empty() || stacks.stack.len() != N {
            return None;
        }
        let mut out: [Value; N] = std::array::from_fn(|_| Value::None);
        for slot in out.iter_mut().rev() {
            *slot = stacks.stack.pop()?;
        }
        Some(out)
    })
}

/// Decodes `data` on `stacks`: the value at STOP, or for a `run` (no
/// STOP), `Some(Value::None)` at the end with the values left on the stack.
fn decode(data: &[u8], limits: &Limits, stacks: &mut Stacks, run: bool) -> Option<Value> {
    let mut r = Reader { data, pos: 0 };
    let Stacks {
        stack,
        heights,
        marks,
    } = stacks;
    let mut values = 0usize;
    let mut memo = 0usize;
    let base = |marks: &[usize]| marks.last().copied().unwrap_or(0);
    loop {
        if run && r.pos == data.len() {
            return Some(Value::None);
        }
        let code = r.u8()?;
        let leaf = match code {
            op::PROTO => {
                if r.u8()? > 5 {
                    return None;
                }
                continue;
            }
            op::FRAME => {
                let n = r.u64()?;
                if n > (data.len() - r.pos) as u64 {
                    return None;
                }
                continue;
            }
            op::STOP => {
                if run || stack.len() <= base(marks) {
                    return None;
                }
                return stack.pop();
            }
            op::MARK => {
                if marks.len() >= limits.max_marks {
                    return None;
                }
                marks.push(stack.len());
                continue;
            }
            op::MEMOIZE | op::BINPUT | op::LONG_BINPUT => {
                // Nothing is fetched back (a GET gives up), so a memo entry
                // needs no storing; only the full decoder's limits are kept.
                match code {
                    op::BINPUT => drop(r.u8()?),
                    op::LONG_BINPUT => drop(r.u32()?),
                    _ => {}
                }
                memo += 1;
                if memo > limits.max_memo || stack.len() <= base(marks) {
                    return None;
                }
                continue;
            }
            op::EMPTY_TUPLE => Value::Tuple(Vec::new()),
            op::EMPTY_LIST => Value::List(Vec::new()),
            op::EMPTY_DICT => Value::Dict(Vec::new()),
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 | op::TUPLE | op::LIST | op::DICT => {
                let from = match code {
                    op::TUPLE | op::LIST | op::DICT => marks.pop()?,
                    _ => {
                        let n = usize::from(code - op::TUPLE1 + 1);
                        if stack.len() < base(marks) + n {
                            return None;
                        }
                        stack.len() - n
                    }
                };
                let (items, height) = take(stack, heights, from, limits)?;
                let v = match code {
                    op::LIST => Value::List(items),
                    op::DICT => Value::Dict(pairs(items)?),
                    _ => Value::Tuple(items),
                };
                values += 1;
                if values > limits.max_values || stack.len() >= limits.max_stack {
                    return None;
                }
                stack.push(v);
                heights.push(height);
                continue;
            }
            op::APPEND | op::APPENDS | op::SETITEM | op::SETITEMS => {
                let from = match code {
                    op::APPENDS | op::SETITEMS => marks.pop()?,
                    op::APPEND => stack.len().checked_sub(1)?,
                    _ => stack.len().checked_sub(2)?,
                };
                // The target sits below the items, inside the current MARK frame.
                if from <= base(marks) || from > stack.len() {
                    return None;
                }
                let (items, height) = take(stack, heights, from, limits)?;
                let (target, target_height) = (stack.last_mut()?, heights.last_mut()?);
                match (code, target) {
                    (op::APPEND | op::APPENDS, Value::List(l)) => l.extend(items),
                    (op::SETITEM | op::SETITEMS, Value::Dict(d)) => d.extend(pairs(items)?),
                    _ => return None,
                }
                *target_height = (*target_height).max(height);
                continue;
            }
            _ => r.scalar(code)?,
        };
        values += 1;
        if values > limits.max_values || stack.len() >= limits.max_stack {
            return None;
        }
        stack.push(leaf);
        heights.push(0);
    }
}

/// The items from `from` up, and the height of a container holding them.
fn take(
    stack: &mut Vec<Value>,
    heights: &mut Vec<usize>,
    from: usize,
    limits: &Limits,
) -> Option<(Vec<Value>, usize)> {
    let height = 1 + heights[from..].iter().copied().max().unwrap_or(0);
    if height > limits.max_depth {
        return None;
    }
    heights.truncate(from);
    Some((stack.drain(from..).collect(), height))
}

fn pairs(items: Vec<Value>) -> Option<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        return None;
    }
    let mut flat = items.into_iter();
    let mut d = Vec::with_capacity(flat.len() / 2);
    while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
        d.push((k, v));
    }
    Some(d)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N as u64)?.try_into().ok()
    }

    #[inline]
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    #[inline]
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    #[inline]
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn str(&mut self, n: u64) -> Option<Value> {
        let raw = self.take(n)?;
        PyStr::from_surrogatepass(raw.to_vec()).ok().map(Value::Str)
    }

    /// The value of a leaf opcode `code` (None, a bool, an int, a float, a
    /// str or bytes) and its argument; `None` for any other opcode.
    fn scalar(&mut self, code: u8) -> Option<Value> {
        Some(match code {
            op::NONE => Value::None,
            op::NEWTRUE => Value::Bool(true),
            op::NEWFALSE => Value::Bool(false),
            op::BININT => Value::Int(i32::from_le_bytes(self.array()?).into()),
            op::BININT1 => Value::Int(self.u8()?.into()),
            op::BININT2 => Value::Int(u16::from_le_bytes(self.array()?).into()),
            op::LONG1 => {
                let n = self.u8()?;
                Value::int_from_le_bytes(self.take(n.into())?)
            }
            op::BINFLOAT => Value::Float(f64::from_be_bytes(self.array()?)),
            op::SHORT_BINUNICODE => {
                let n = self.u8()?;
                self.str(n.into())?
            }
            op::BINUNICODE => {
                let n = self.u32()?;
                self.str(n.into())?
            }
            op::BINUNICODE8 => {
                let n = self.u64()?;
                self.str(n)?
            }
            op::SHORT_BINBYTES => {
                let n = self.u8()?;
                Value::Bytes(self.take(n.into())?.to_vec())
            }
            op::BINBYTES => {
                let n = self.u32()?;
                Value::Bytes(self.take(n.into())?.to_vec())
            }
            op::BINBYTES8 => {
                let n = self.u64()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode::loads_full;
    use super::super::{dumps, Limits, Value};

    /// Every pickle CPython wrote in the captured vectors, and each of them
    /// cut short and with each byte changed: wherever the fast path answers,
    /// the full decoder gives the same value.
    #[test]
    #[cfg_attr(miri, ignore = "reads files; hundreds of thousands of decodes")]
    fn agrees_with_the_full_decoder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire-vectors/pickles");
        let mut pickles: Vec<Vec<u8>> = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            for v in json["values"].as_array().into_iter().flatten() {
                for key in ["p2", "p4", "p5", "forking_default"] {
                    if let Some(hex) = v[key].as_str() {
                        pickles.push(super::super::json::unhex(hex).unwrap());
                    }
                }
            }
        }
        pickles.push(dumps(&Value::Tuple(vec![
            Value::str("7f00"),
            Value::str("__setitem__"),
            Value::Tuple(vec![Value::str("k"), Value::Int(1)]),
            Value::Dict(vec![]),
        ])));
        assert!(pickles.len() > 100, "vectors found: {}", pickles.len());
        let limits = Limits::default();
        let tight = Limits {
            max_depth: 2,
            max_values: 5,
            max_stack: 3,
            max_marks: 1,
            max_memo: 2,
            ..Limits::default()
        };
        let (mut answered, mut checked) = (0, 0);
        let mut check = |data: &[u8]| {
            for l in [&limits, &tight] {
                checked += 1;
                if let Some(v) = super::loads(data, l) {
                    answered += 1;
                    let full = loads_full(data, l).expect("the full decoder accepts it too");
                    assert_eq!(format!("{v:?}"), format!("{full:?}"), "on {data:02x?}");
                }
            }
        };
        for p in &pickles {
            check(p);
            for cut in 0..p.len() {
                check(&p[..cut]);
            }
            for i in 0..p.len().min(64) {
                for b in [0u8, 1, 0x28, 0x2e, 0x7f, 0x80, 0xff] {
                    let mut m = p.clone();
                    m[i] = b;
                    check(&m);
                }
            }
        }
        // The common case really takes the fast path.
        assert!(answered * 20 > checked, "{answered} of {checked}");

        // A `(tag, value)` pair read with its tag borrowed (or as a flat
        // pair): wherever that answers, the full decoder reads the same
        // pair.
        let (mut answered, mut checked, mut flat) = (0, 0, 0);
        let mut check = |data: &[u8]| {
            for l in [&limits, &tight] {
                checked += 1;
                let pair = super::loads_outer_tuple::<_, 1>(data, l, false, 1, |lead| lead.str());
                if let Some((tag, v)) = super::loads_flat_pair(data, l) {
                    flat += 1;
                    let full = loads_full(data, l).expect("the full decoder accepts it too");
                    let want = Value::Tuple(vec![Value::str(tag), v]);
                    assert_eq!(format!("{want:?}"), format!("{full:?}"), "on {data:02x?}");
                }
                if let Some((tag, [v])) = pair {
                    answered += 1;
                    let full = loads_full(data, l).expect("the full decoder accepts it too");
                    let want = Value::Tuple(vec![Value::str(tag), v]);
                    assert_eq!(format!("{want:?}"), format!("{full:?}"), "on {data:02x?}");
                }
            }
        };
        // CPython's protocol-2 form, then mp's of every third value (the
        // values themselves are the checks above: here the pair's head
        // and tail are what varies).
        let mut protocol2 = vec![0x80, 2, b'X', 7, 0, 0, 0];
        protocol2.extend_from_slice(b"#RETURN");
        protocol2.extend_from_slice(&[b'q', 0]);
        protocol2.extend_from_slice(&[b'N', 0x86, b'q', 1, b'.']);
        let pairs = std::iter::once(protocol2).chain(pickles.iter().step_by(3).filter_map(|p| {
            let v = super::loads(p, &limits)?;
            Some(dumps(&Value::Tuple(vec![Value::str("#RETURN"), v])))
        }));
        for pair in pairs {
            check(&pair);
            for cut in 0..pair.len() {
                check(&pair[..cut]);
            }
            // Bytes changed in the header and tag, and in the tail (the
            // value's own bytes are the checks above).
            let tail = pair.len().saturating_sub(6);
            for i in (0..pair.len().min(24)).chain(tail.max(24)..pair.len()) {
                for b in [0u8, 1, 0x28, 0x2e, 0x71, 0x72, 0x86, 0x94, 0xff] {
                    let mut m = pair.clone();
                    m[i] = b;
                    check(&m);
                }
            }
        }
        assert!(answered * 20 > checked, "{answered} of {checked}");
        assert!(flat * 100 > checked, "{flat} of {checked}");
    }
}
