//! The shared objects a manager server holds, and their methods with
//! CPython's semantics where a client can see them: results, exceptions
//! (class and message), and which calls block. The protocol around them
//! (connections, reference counts, proxies) is in `server.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::array::TypedArray;
use super::pyobj::{
    iter_items, py_eq, py_repr, py_type_name, PyDict, PyError, PySet, Unhashable,
    MAX_EXPANDED_ITEMS,
};
use super::server::Kind;
use crate::pickle::Value;

/// An object's state.
pub(super) enum State {
    Dict(PyDict),
    List(Vec<Value>),
    Set(PySet),
    Namespace(PyDict),
    Value {
        typecode: Value,
        value: Value,
    },
    Array(TypedArray),
    Queue {
        items: VecDeque<Value>,
        maxsize: usize,
        unfinished: usize,
    },
    /// An iterator over a snapshot (what `dict.__iter__` returns).
    Iterator(std::vec::IntoIter<Value>),
    /// Lock, RLock, Semaphore, BoundedSemaphore: `value` permits left
    /// (a lock: 1 or 0), `held` the permits each connection took.
    Permits {
        value: usize,
        bound: Option<usize>,
        held: HashMap<u64, usize>,
        /// RLock: the owning connection and its recursion count.
        owner: Option<(u64, usize)>,
    },
    Event(bool),
    Condition {
        /// The RLock: owning connection and recursion count.
        owner: Option<(u64, usize)>,
        /// Tickets of the waiters, oldest first, and those notified.
        waiting: VecDeque<u64>,
        notified: HashSet<u64>,
        next_ticket: u64,
    },
    Barrier {
        parties: usize,
        /// Threads waiting in the current round.
        count: usize,
        /// Bumped each time a round is released.
        generation: u64,
        /// Bumped by `reset`: that round's waiters get BrokenBarrierError.
        resets: u64,
        broken: bool,
    },
}

impl State {
    /// The values the state holds (where proxies can be), for counting
    /// the references it keeps.
    pub(super) fn values(&self) -> Vec<&Value> {
        match self {
            State::Dict(d) => d.iter().flat_map(|(k, v)| [k, v]).collect(),
            State::Namespace(d) => d.iter().flat_map(|(k, v)| [k, v]).collect(),
            State::List(l) => l.iter().collect(),
            State::Set(s) => s.iter().collect(),
            State::Value { typecode, value } => vec![typecode, value],
            State::Queue { items, .. } => items.iter().collect(),
            State::Iterator(it) => it.as_slice().iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The own proxies an object's state holds, by id: kept equal to what is
/// in the state (see `Server::settle`).
#[derive(Default)]
pub(super) struct Held {
    pub(super) refs: HashMap<String, usize>,
    /// The object was released: its references are gone with it.
    pub(super) dead: bool,
}

/// A shared object: its state and the condition its blocking calls wait on.
pub(super) struct Object {
    pub(super) typeid: String,
    pub(super) kind: Kind,
    pub(super) state: Mutex<State>,
    /// Signalled after a change that a blocked call may wait for: use
    /// [`Object::notify_all`], which skips the system call when no one waits.
    pub(super) changed: Condvar,
    /// Threads waiting on `changed` (changed under `state`'s lock).
    pub(super) waiters: AtomicUsize,
    /// The connection whose request created it (for the per-connection cap).
    pub(super) creator: u64,
    /// A `--register`ed name's object: it outlives its last reference.
    pub(super) named: bool,
    pub(super) held: Mutex<Held>,
}

impl Object {
    pub(super) fn new(typeid: &str, kind: Kind, state: State, creator: u64, named: bool) -> Object {
        Object {
            typeid: typeid.to_string(),
            kind,
            state: Mutex::new(state),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            creator,
            named,
            held: Mutex::new(Held::default()),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the calls blocked on this object, if there are any (call it
    /// after the change, with the state's lock released). A waiter counts
    /// itself under the lock before it sleeps, so one not yet counted has
    /// not yet looked at the state either, and will see the change.
    pub(super) fn notify_all(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.changed.notify_all();
        }
    }

    pub(super) fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a request produced, as the reply kinds of §3.2.
pub(super) enum Reply {
    Return(Value),
    /// An exception instance (`module`, `name`, args).
    Error(&'static str, &'static str, Vec<Value>),
    Traceback(String),
    /// The reply could not be pickled (CPython's `#UNSERIALIZABLE`): the
    /// traceback of the attempt.
    Unserializable(String),
    /// A new object of this typeid and kind, by its ident.
    Proxy(String, Kind, Value),
}

impl Reply {
    /// The values the reply carries to the client (where proxies can be).
    pub(super) fn values(&self) -> Vec<&Value> {
        match self {
            Reply::Return(v) => vec![v],
            Reply::Error(_, _, args) => args.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// A request's argument, moved out (`None` left in its place).
fn take(v: &mut Value) -> Value {
    std::mem::replace(v, Value::None)
}

/// A `#TRACEBACK` reply: Python's client raises `RemoteError` with this text.
pub(super) fn traceback(error: impl std::fmt::Display) -> Reply {
    Reply::Traceback(format!("Traceback (most recent call last):\n{error}\n"))
}

/// The traceback of a method the object does not have (or does not
/// expose): CPython's server then looks for a fallback (`#GETVALUE`,
/// `__str__`, `__repr__`) and fails on that too, so the traceback ends with
/// a `KeyError` naming the method.
pub(super) fn attribute_traceback(error: &str, method: &str) -> Reply {
    Reply::Traceback(format!(
        "Traceback (most recent call last):\nAttributeError: {error}\n\n\
         During handling of the above exception, another exception occurred:\n\n\
         Traceback (most recent call last):\nKeyError: {}\n",
        py_repr(&Value::str(method))
    ))
}

/// `str(exc)` as Python writes it for an exception with these args.
fn exception_str(name: &str, args: &[Value]) -> String {
    match args {
        [] => String::new(),
        // KeyError shows its one argument as a repr.
        [a] if name == "KeyError" => py_repr(a),
        [Value::Str(s)] => s.to_string_lossy().into_owned(),
        [a] => py_repr(a),
        more => py_repr(&Value::Tuple(more.to_vec())),
    }
}

/// The last line of the traceback of an exception: `KeyError: 'k'`,
/// `queue.Full`, `ValueError: bad value`.
pub(super) fn exception_line(module: &str, name: &str, args: &[Value]) -> String {
    let qualname = if module == "builtins" {
        name.to_string()
    } else {
        format!("{module}.{name}")
    };
    match exception_str(name, args) {
        s if s.is_empty() => qualname,
        s => format!("{qualname}: {s}"),
    }
}

pub(super) fn exc(name: &'static str, args: Vec<Value>) -> Reply {
    Reply::Error("builtins", name, args)
}

fn type_error(message: impl Into<String>) -> Reply {
    exc("TypeError", vec![Value::str(message.into())])
}

pub(super) fn py_error(e: PyError) -> Reply {
    if e.message.is_empty() {
        return exc(e.name, vec![]);
    }
    exc(e.name, vec![Value::str(e.message)])
}

fn unhashable(e: Unhashable) -> Reply {
    py_error(e.into())
}

/// `NotImplemented`: what a binary operator returns for an operand type it
/// does not handle (the client then tries the reflected one).
fn not_implemented() -> Reply {
    Reply::Return(Value::global("builtins", "NotImplemented"))
}

/// What `iter(x)` returns, by value: CPython pickles a list, dict or set
/// iterator as `builtins.iter(list)`, which the client rebuilds locally.
fn iterator_value(items: Vec<Value>) -> Value {
    Value::Reduce {
        callable: Box::new(Value::global("builtins", "iter")),
        args: Box::new(Value::Tuple(vec![Value::List(items)])),
        state: None,
    }
}

/// A keyword argument by name, or the positional at `i`.
pub(super) fn arg<'a>(
    args: &'a [Value],
    kwds: &'a Value,
    i: usize,
    name: &str,
) -> Option<&'a Value> {
    args.get(i).or_else(|| kwds.get(name))
}

/// The arity error CPython gives for a method taking `n` arguments.
fn arity(method: &str, want: &str, got: usize) -> Reply {
    type_error(format!("{method}() takes {want} ({got} given)"))
}

/// The keys of a dict's keyword arguments, for constructors that take none.
fn no_kwds(name: &str, kwds: &Value) -> Result<(), Reply> {
    match kwds {
        Value::Dict(pairs) if !pairs.is_empty() => {
            Err(type_error(format!("{name}() takes no keyword arguments")))
        }
        _ => Ok(()),
    }
}

/// A state for a new object of `kind`: the typeid's constructor called
/// with these arguments (`create(typeid, *args, **kwds)`).
pub(super) fn initial_state(kind: Kind, args: &[Value], kwds: &Value) -> Result<State, Reply> {
    Ok(match kind {
        Kind::Dict => {
            let mut d = match args {
                [] => PyDict::new(),
                [one] => dict_from(one)?,
                more => {
                    return Err(type_error(format!(
                        "dict expected at most 1 argument, got {}",
                        more.len()
                    )))
                }
            };
            if let Value::Dict(pairs) = kwds {
                for (k, v) in pairs {
                    d.insert(k.clone(), v.clone()).map_err(unhashable)?;
                }
            }
            State::Dict(d)
        }
        Kind::List => {
            no_kwds("list", kwds)?;
            State::List(match args {
                [] => Vec::new(),
                [one] => iter_items(one).map_err(py_error)?,
                more => {
                    return Err(type_error(format!(
                        "list expected at most 1 argument, got {}",
                        more.len()
                    )))
                }
            })
        }
        Kind::Set => {
            no_kwds("set", kwds)?;
            State::Set(match args {
                [] => PySet::new(),
                [one] => {
                    PySet::from_items(iter_items(one).map_err(py_error)?).map_err(unhashable)?
                }
                more => {
                    return Err(type_error(format!(
                        "set expected at most 1 argument, got {}",
                        more.len()
                    )))
                }
            })
        }
        Kind::Namespace => {
            if !args.is_empty() {
                return Err(type_error(format!(
                    "Namespace.__init__() takes 1 positional argument but {} were given",
                    args.len() + 1
                )));
            }
            let mut d = PyDict::new();
            if let Value::Dict(pairs) = kwds {
                for (k, v) in pairs {
                    let _ = d.insert(k.clone(), v.clone());
                }
            }
            State::Namespace(d)
        }
        Kind::Value => match (arg(args, kwds, 0, "typecode"), arg(args, kwds, 1, "value")) {
            (Some(t), Some(v)) => State::Value {
                typecode: t.clone(),
                value: v.clone(),
            },
            _ => {
                return Err(type_error(
                    "Value.__init__() missing required arguments: 'typecode' and 'value'",
                ))
            }
        },
        Kind::Array => match (
            arg(args, kwds, 0, "typecode"),
            arg(args, kwds, 1, "sequence"),
        ) {
            (Some(t), Some(s)) => State::Array(TypedArray::new(t, Some(s)).map_err(py_error)?),
            (_, None) => {
                return Err(type_error(
                    "Array() missing 1 required positional argument: 'sequence'",
                ))
            }
            (None, Some(_)) => {
                return Err(type_error(
                    "Array() missing 1 required positional argument: 'typecode'",
                ))
            }
        },
        Kind::Queue => State::Queue {
            items: VecDeque::new(),
            maxsize: match arg(args, kwds, 0, "maxsize") {
                None => 0,
                Some(v) => match v.as_i128().or(match v {
                    Value::Bool(b) => Some(i128::from(*b)),
                    _ => None,
                }) {
                    Some(m) => usize::try_from(m.max(0)).unwrap_or(usize::MAX),
                    None => {
                        return Err(type_error(format!(
                            "'<' not supported between instances of '{}' and 'int'",
                            py_type_name(v)
                        )))
                    }
                },
            },
            unfinished: 0,
        },
        Kind::Iterator => State::Iterator(Vec::new().into_iter()),
        Kind::Lock | Kind::RLock => {
            if !args.is_empty() || matches!(kwds, Value::Dict(p) if !p.is_empty()) {
                return Err(type_error(format!(
                    "{}() takes no arguments",
                    if kind == Kind::Lock {
                        "allocate_lock"
                    } else {
                        "RLock"
                    }
                )));
            }
            State::Permits {
                value: 1,
                bound: None,
                held: HashMap::new(),
                owner: None,
            }
        }
        Kind::Semaphore | Kind::BoundedSemaphore => {
            let v = match arg(args, kwds, 0, "value") {
                None => 1,
                Some(Value::Bool(b)) => i128::from(*b),
                Some(v) => match v.as_i128() {
                    Some(n) => n,
                    None => {
                        return Err(type_error(format!(
                            "'<' not supported between instances of '{}' and 'int'",
                            py_type_name(v)
                        )))
                    }
                },
            };
            if v < 0 {
                return Err(exc(
                    "ValueError",
                    vec![Value::str("semaphore initial value must be >= 0")],
                ));
            }
            let v = usize::try_from(v).unwrap_or(usize::MAX);
            State::Permits {
                value: v,
                bound: (kind == Kind::BoundedSemaphore).then_some(v),
                held: HashMap::new(),
                owner: None,
            }
        }
        Kind::Event => {
            if !args.is_empty() {
                return Err(type_error("Event.__init__() takes 1 positional argument"));
            }
            State::Event(false)
        }
        Kind::Condition => {
            if !matches!(arg(args, kwds, 0, "lock"), None | Some(Value::None)) {
                return Err(exc(
                    "NotImplementedError",
                    vec![Value::str(
                        "mp serve-manager's Condition has its own RLock: \
                         a lock argument (a proxy) is not supported",
                    )],
                ));
            }
            State::Condition {
                owner: None,
                waiting: VecDeque::new(),
                notified: HashSet::new(),
                next_ticket: 0,
            }
        }
        Kind::Barrier => {
            if !matches!(arg(args, kwds, 1, "action"), None | Some(Value::None)) {
                return Err(exc(
                    "NotImplementedError",
                    vec![Value::str(
                        "mp serve-manager runs no Python code: a Barrier action is not supported",
                    )],
                ));
            }
            let parties = arg(args, kwds, 0, "parties")
                .and_then(Value::as_i128)
                .unwrap_or(0);
            if parties < 1 {
                return Err(exc("ValueError", vec![Value::str("parties must be > 0")]));
            }
            State::Barrier {
                parties: usize::try_from(parties).unwrap_or(usize::MAX),
                count: 0,
                generation: 0,
                resets: 0,
                broken: false,
            }
        }
    })
}

/// `dict(v)` for one positional argument: a dict, or an iterable of pairs.
fn dict_from(v: &Value) -> Result<PyDict, Reply> {
    let mut d = PyDict::new();
    dict_update(&mut d, v)?;
    Ok(d)
}

/// `d.update(v)`: a dict's pairs, or each item of an iterable as a pair,
/// with CPython's errors for items that are not pairs.
fn dict_update(d: &mut PyDict, v: &Value) -> Result<(), Reply> {
    if let Value::Dict(pairs) = v {
        for (k, val) in pairs {
            d.insert(k.clone(), val.clone()).map_err(unhashable)?;
        }
        return Ok(());
    }
    for (i, item) in iter_items(v).map_err(py_error)?.iter().enumerate() {
        let pair = match item {
            Value::Str(_) | Value::Bytes(_) | Value::ByteArray(_) => iter_items(item).ok(),
            other => other.as_seq().map(<[Value]>::to_vec),
        };
        match pair.as_deref() {
            Some([k, val]) => {
                d.insert(k.clone(), val.clone()).map_err(unhashable)?;
            }
            Some(other) => {
                return Err(exc(
                    "ValueError",
                    vec![Value::str(format!(
                        "dictionary update sequence element #{i} has length {}; 2 is required",
                        other.len()
                    ))],
                ))
            }
            None => {
                return Err(type_error(format!(
                    "cannot convert dictionary update sequence element #{i} to a sequence"
                )))
            }
        }
    }
    Ok(())
}

/// `repr()` of the object, as CPython's server answers `__repr__` (and
/// `__str__`: the same for every type here). Addresses are stand-ins: each
/// object's own, stable while it lives.
pub(super) fn object_repr(obj: &Object) -> String {
    let at = format!("0x{:x}", obj as *const Object as usize);
    let st = obj.lock();
    match (&*st, obj.kind) {
        (State::Permits { value, .. }, Kind::Lock) => format!(
            "<{} _thread.lock object at {at}>",
            if *value == 0 { "locked" } else { "unlocked" }
        ),
        (State::Permits { owner, .. }, Kind::RLock) => rlock_repr(*owner, &at),
        (State::Permits { value, .. }, Kind::Semaphore) => {
            format!("<threading.Semaphore at {at}: value={value}>")
        }
        (State::Permits { value, bound, .. }, _) => format!(
            "<threading.BoundedSemaphore at {at}: value={value}/{}>",
            bound.unwrap_or(0)
        ),
        (State::Event(flag), _) => format!(
            "<threading.Event at {at}: {}>",
            if *flag { "set" } else { "unset" }
        ),
        (State::Condition { owner, waiting, .. }, _) => {
            // The RLock's own address: any other stable one will do.
            let lock_at = format!("0x{:x}", obj as *const Object as usize + 0x40);
            format!(
                "<Condition({}, {})>",
                rlock_repr(*owner, &lock_at),
                waiting.len()
            )
        }
        (State::Barrier { broken: true, .. }, _) => format!("<threading.Barrier at {at}: broken>"),
        (State::Barrier { parties, count, .. }, _) => {
            format!("<threading.Barrier at {at}: waiters={count}/{parties}>")
        }
        (State::Queue { .. }, _) => format!("<queue.Queue object at {at}>"),
        (State::Iterator(_), _) => format!("<dict_keyiterator object at {at}>"),
        (State::Array(a), _) => a.repr(),
        (st, _) => py_repr(&value_of(st).unwrap_or(Value::None)),
    }
}

fn rlock_repr(owner: Option<(u64, usize)>, at: &str) -> String {
    let (o, n) = owner.unwrap_or((0, 0));
    format!(
        "<{} _thread.RLock object owner={o} count={n} at {at}>",
        if n == 0 { "unlocked" } else { "locked" }
    )
}

/// The object's value, as `#GETVALUE` sends it; `None` for the objects
/// CPython cannot pickle (those holding a `_thread` lock).
pub(super) fn value_of(st: &State) -> Option<Value> {
    Some(match st {
        State::Dict(d) => d.to_value(),
        State::List(l) => Value::List(l.clone()),
        State::Set(s) => s.to_value(),
        State::Namespace(d) => Value::Object {
            class: Box::new(Value::global("multiprocessing.managers", "Namespace")),
            args: Box::new(Value::Tuple(vec![])),
            kwargs: None,
            state: Some(Box::new(d.to_value())),
        },
        State::Value { typecode, value } => Value::Object {
            class: Box::new(Value::global("multiprocessing.managers", "Value")),
            args: Box::new(Value::Tuple(vec![])),
            kwargs: None,
            state: Some(Box::new(Value::Dict(vec![
                (Value::str("_typecode"), typecode.clone()),
                (Value::str("_value"), value.clone()),
            ]))),
        },
        State::Array(a) => a.to_value(),
        State::Iterator(it) => iterator_value(it.as_slice().to_vec()),
        _ => return None,
    })
}

/// What pickling the object fails with in CPython: the lock type inside it.
pub(super) fn unpicklable_lock(kind: Kind) -> &'static str {
    match kind {
        Kind::RLock | Kind::Condition => "_thread.RLock",
        _ => "_thread.lock",
    }
}

/// An integer argument (bools count), as `operator.index` takes it.
fn int_arg(v: &Value) -> Option<i128> {
    match v {
        Value::Bool(b) => Some(i128::from(*b)),
        v => v.as_i128(),
    }
}

/// Python's index into a sequence of `len`: negative from the end; `None`
/// out of range.
fn index(i: i128, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i128 } else { i };
    (0..len as i128).contains(&i).then_some(i as usize)
}

/// A pickled `slice(start, stop, step)`: its `(start, stop, step)`; an
/// error for parts that are not ints or None.
fn slice_parts(v: &Value) -> Option<Result<[Option<i128>; 3], Reply>> {
    let Value::Reduce { callable, args, .. } = v else {
        return None;
    };
    if !callable.is_global("builtins", "slice") {
        return None;
    }
    let a = args.as_seq()?;
    let part = |i: usize| -> Result<Option<i128>, Reply> {
        match a.get(i) {
            None | Some(Value::None) => Ok(None),
            Some(x) => int_arg(x).map(Some).ok_or_else(|| {
                type_error("slice indices must be integers or None or have an __index__ method")
            }),
        }
    };
    let parts = match a.len() {
        1 => part(0).map(|stop| [None, stop, None]),
        _ => (|| Ok([part(0)?, part(1)?, part(2)?]))(),
    };
    Some(parts)
}

/// A slice applied to a sequence of `len`: the positions it selects
/// (`slice.indices` then `range`), and its step.
struct Slice {
    positions: Vec<usize>,
    step: i128,
    /// Where an empty simple slice inserts.
    start: usize,
}

/// `None` if `v` is not a slice; an error for a zero step or bad parts.
fn slice_of(v: &Value, len: usize) -> Option<Result<Slice, Reply>> {
    let [start, stop, step] = match slice_parts(v)? {
        Ok(p) => p,
        Err(r) => return Some(Err(r)),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Some(Err(exc(
            "ValueError",
            vec![Value::str("slice step cannot be zero")],
        )));
    }
    let len = len as i128;
    let clamp = |x: Option<i128>, lo: i128, hi: i128, default: i128| match x {
        None => default,
        Some(x) if x < 0 => (x + len).max(lo),
        Some(x) => x.min(hi),
    };
    let (start, stop) = if step > 0 {
        (clamp(start, 0, len, 0), clamp(stop, 0, len, len))
    } else {
        (
            clamp(start, -1, len - 1, len - 1),
            clamp(stop, -1, len - 1, -1),
        )
    };
    let mut positions = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        positions.push(i as usize);
        // A step beyond the length (even i128::MAX) ends the slice.
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Some(Ok(Slice {
        positions,
        step,
        start: start.clamp(0, len) as usize,
    }))
}

/// A method of a dict, list, set, Namespace, Value, Array or iterator
/// (the kinds whose methods never block), on its locked state. The
/// arguments are the request's: a value stored may be moved out of them.
pub(super) fn object_call(st: &mut State, method: &str, args: &mut [Value], kwds: &Value) -> Reply {
    match st {
        State::Dict(d) => dict_call(d, method, args, kwds),
        State::List(l) => list_call(l, method, args, kwds),
        State::Set(s) => set_call(s, method, args),
        State::Array(a) => array_call(a, method, args),
        State::Namespace(d) => {
            let name = args.first().cloned().unwrap_or(Value::None);
            let no_attribute = |name: &Value| {
                exc(
                    "AttributeError",
                    vec![Value::str(format!(
                        "'Namespace' object has no attribute {}",
                        py_repr(name)
                    ))],
                )
            };
            match method {
                "__getattribute__" => match d.get(&name) {
                    Ok(Some(v)) => Reply::Return(v.clone()),
                    _ => no_attribute(&name),
                },
                "__setattr__" => match args.get(1) {
                    Some(v) => {
                        let _ = d.insert(name, v.clone());
                        Reply::Return(Value::None)
                    }
                    None => arity("__setattr__", "exactly 2 arguments", args.len()),
                },
                "__delattr__" => match d.remove(&name) {
                    Ok(Some(_)) => Reply::Return(Value::None),
                    _ => no_attribute(&name),
                },
                _ => exc("AttributeError", vec![Value::str(method)]),
            }
        }
        State::Value { value, .. } => match method {
            "get" => Reply::Return(value.clone()),
            "set" => match args {
                [v] => {
                    *value = v.clone();
                    Reply::Return(Value::None)
                }
                _ => arity("set", "exactly one argument", args.len()),
            },
            _ => exc("AttributeError", vec![Value::str(method)]),
        },
        State::Iterator(it) => match method {
            "__next__" => match it.next() {
                Some(v) => Reply::Return(v),
                None => exc("StopIteration", vec![]),
            },
            // A dict's key iterator has no send/throw/close: CPython's
            // server fails to look the method up.
            _ => attribute_traceback(
                &format!("'dict_keyiterator' object has no attribute '{method}'"),
                method,
            ),
        },
        State::Queue { .. }
        | State::Permits { .. }
        | State::Event(_)
        | State::Condition { .. }
        | State::Barrier { .. } => traceback(format!(
            "AttributeError: {method}: served by the blocking calls"
        )),
    }
}

fn dict_call(d: &mut PyDict, method: &str, args: &mut [Value], kwds: &Value) -> Reply {
    if let ("__setitem__", [k, v]) = (method, &mut *args) {
        // The key and value move from the request into the dict.
        let (k, v) = (take(k), take(v));
        return match d.insert(k, v) {
            Ok(_) => Reply::Return(Value::None),
            Err(e) => unhashable(e),
        };
    }
    let args = &*args;
    let n = args.len();
    let a0 = args.first();
    let key = || a0.cloned().unwrap_or(Value::None);
    match method {
        // CPython's messages for a wrong number of arguments (each from the
        // C function that checks it), in the same match as the calls.
        "__getitem__" | "__contains__" if n != 1 => type_error(format!(
            "dict.{method}() takes exactly one argument ({n} given)"
        )),
        // PyArg_UnpackTuple with an empty name: the message starts with a
        // space (two arguments were served above).
        "__setitem__" => type_error(format!(" expected 2 arguments, got {n}")),
        "__delitem__" if n != 1 => type_error(format!("expected 1 argument, got {n}")),
        "get" if n == 0 => type_error("get expected at least 1 argument, got 0"),
        "get" if n > 2 => type_error(format!("get expected at most 2 arguments, got {n}")),
        "__getitem__" => match d.get(a0.unwrap_or(&Value::None)) {
            Ok(Some(v)) => Reply::Return(v.clone()),
            Ok(None) => exc("KeyError", vec![key()]),
            Err(e) => unhashable(e),
        },
        "__delitem__" => match d.remove(&key()) {
            Ok(Some(_)) => Reply::Return(Value::None),
            Ok(None) => exc("KeyError", vec![key()]),
            Err(e) => unhashable(e),
        },
        "__contains__" => match d.get(&key()) {
            Ok(v) => Reply::Return(Value::Bool(v.is_some())),
            Err(e) => unhashable(e),
        },
        "__len__" => Reply::Return(Value::Int(d.len() as i64)),
        "get" => match d.get(&key()) {
            Ok(Some(v)) => Reply::Return(v.clone()),
            Ok(None) => Reply::Return(args.get(1).cloned().unwrap_or(Value::None)),
            Err(e) => unhashable(e),
        },
        // Views pickle as lists (multiprocessing's reducer for dict views).
        "keys" => Reply::Return(Value::List(d.iter().map(|(k, _)| k.clone()).collect())),
        "values" => Reply::Return(Value::List(d.iter().map(|(_, v)| v.clone()).collect())),
        "items" => Reply::Return(Value::List(
            d.iter()
                .map(|(k, v)| Value::Tuple(vec![k.clone(), v.clone()]))
                .collect(),
        )),
        "copy" => Reply::Return(d.to_value()),
        "clear" => {
            d.clear();
            Reply::Return(Value::None)
        }
        "pop" => match d.remove(&key()) {
            Ok(Some((_, v))) => Reply::Return(v),
            Ok(None) => match args.get(1) {
                Some(default) => Reply::Return(default.clone()),
                None => exc("KeyError", vec![key()]),
            },
            Err(e) => unhashable(e),
        },
        "popitem" => match d.pop_last() {
            Some((k, v)) => Reply::Return(Value::Tuple(vec![k, v])),
            None => exc(
                "KeyError",
                vec![Value::str("popitem(): dictionary is empty")],
            ),
        },
        "setdefault" => match d.get(&key()) {
            Ok(Some(v)) => Reply::Return(v.clone()),
            Ok(None) => {
                let v = args.get(1).cloned().unwrap_or(Value::None);
                let _ = d.insert(key(), v.clone());
                Reply::Return(v)
            }
            Err(e) => unhashable(e),
        },
        "update" => {
            if args.len() > 1 {
                return type_error(format!(
                    "update expected at most 1 argument, got {}",
                    args.len()
                ));
            }
            if let Some(v) = a0 {
                if let Err(r) = dict_update(d, v) {
                    return r;
                }
            }
            if let Value::Dict(kw) = kwds {
                for (k, v) in kw {
                    let _ = d.insert(k.clone(), v.clone());
                }
            }
            Reply::Return(Value::None)
        }
        // 3.14's DictProxy calls these too.
        "fromkeys" => match a0.map(iter_items) {
            Some(Ok(keys)) => {
                let v = args.get(1).cloned().unwrap_or(Value::None);
                let mut out = PyDict::new();
                for k in keys {
                    if let Err(e) = out.insert(k, v.clone()) {
                        return unhashable(e);
                    }
                }
                Reply::Return(out.to_value())
            }
            Some(Err(e)) => py_error(e),
            None => type_error("fromkeys expected at least 1 argument, got 0"),
        },
        "__or__" | "__ror__" => match a0 {
            Some(Value::Dict(other)) => {
                let mut out = if method == "__or__" {
                    d.clone()
                } else {
                    match PyDict::from_pairs(other.clone()) {
                        Ok(o) => o,
                        Err(e) => return unhashable(e),
                    }
                };
                let right: Vec<(Value, Value)> = if method == "__or__" {
                    other.clone()
                } else {
                    d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                };
                for (k, v) in right {
                    if let Err(e) = out.insert(k, v) {
                        return unhashable(e);
                    }
                }
                Reply::Return(out.to_value())
            }
            _ => not_implemented(),
        },
        "__ior__" => match a0 {
            Some(v) => match dict_update(d, v) {
                Ok(()) => Reply::Return(d.to_value()),
                Err(r) => r,
            },
            None => arity("__ior__", "exactly one argument", 0),
        },
        "__reversed__" => {
            let mut keys: Vec<Value> = d.iter().map(|(k, _)| k.clone()).collect();
            keys.reverse();
            Reply::Return(iterator_value(keys))
        }
        "incr" => dict_incr(d, args),
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// `incr(key, n=1)`, an mp extension for counters: `d[key] = d.get(key, 0)
/// + n` in one step (no other client's call comes between the read and
/// the write), returning the new value. Numbers add as Python's do (an
/// int past `i128` is an `OverflowError` here); anything else is the
/// `TypeError` Python's `+` raises.
fn dict_incr(d: &mut PyDict, args: &[Value]) -> Reply {
    let (key, n) = match args {
        [k] => (k, &Value::Int(1)),
        [k, n] => (k, n),
        _ => return arity("incr", "1 or 2 arguments", args.len()),
    };
    let old = match d.get(key) {
        Ok(v) => v.cloned().unwrap_or(Value::Int(0)),
        Err(e) => return unhashable(e),
    };
    let new = match (num_of(&old), num_of(n)) {
        (Some((Some(a), _)), Some((Some(b), _))) => match a.checked_add(b) {
            Some(sum) => Value::from_i128(sum),
            None => {
                return exc(
                    "OverflowError",
                    vec![Value::str("mp serve-manager: incr past 128-bit integers")],
                )
            }
        },
        (Some((_, a)), Some((_, b)))
            if matches!(old, Value::Float(_)) || matches!(n, Value::Float(_)) =>
        {
            Value::Float(a + b)
        }
        (Some(_), Some(_)) => {
            return exc(
                "OverflowError",
                vec![Value::str("mp serve-manager: incr past 128-bit integers")],
            )
        }
        _ => {
            return type_error(format!(
                "unsupported operand type(s) for +: '{}' and '{}'",
                py_type_name(&old),
                py_type_name(n)
            ))
        }
    };
    match d.insert(key.clone(), new.clone()) {
        Ok(_) => Reply::Return(new),
        Err(e) => unhashable(e),
    }
}

fn list_call(l: &mut Vec<Value>, method: &str, args: &[Value], kwds: &Value) -> Reply {
    let a0 = args.first();
    let index_error = |what: &str| {
        exc(
            "IndexError",
            vec![Value::str(format!("list {what} out of range"))],
        )
    };
    if matches!(method, "__getitem__" | "__setitem__" | "__delitem__") {
        if let Some(sl) = a0.and_then(|v| slice_of(v, l.len())) {
            let sl = match sl {
                Ok(sl) => sl,
                Err(r) => return r,
            };
            return list_slice(l, method, &sl, args.get(1));
        }
        let i = match a0.map(|v| (v, int_arg(v))) {
            Some((_, Some(i))) => i,
            Some((v, None)) => {
                return type_error(format!(
                    "list indices must be integers or slices, not {}",
                    py_type_name(v)
                ))
            }
            None => return arity(method, "exactly one argument", 0),
        };
        let at = index(i, l.len());
        return match (method, at) {
            ("__getitem__", Some(i)) => Reply::Return(l[i].clone()),
            ("__getitem__", None) => index_error("index"),
            ("__setitem__", Some(i)) => match args.get(1) {
                Some(v) => {
                    l[i] = v.clone();
                    Reply::Return(Value::None)
                }
                None => arity(method, "exactly 2 arguments", 1),
            },
            ("__delitem__", Some(i)) => {
                l.remove(i);
                Reply::Return(Value::None)
            }
            _ => index_error("assignment index"),
        };
    }
    let not_int = |v: &Value| {
        type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            py_type_name(v)
        ))
    };
    match method {
        "__len__" => Reply::Return(Value::Int(l.len() as i64)),
        "__contains__" => Reply::Return(Value::Bool(
            a0.is_some_and(|x| l.iter().any(|v| py_eq(v, x))),
        )),
        "append" => match args {
            [v] => {
                l.push(v.clone());
                Reply::Return(Value::None)
            }
            _ => arity("list.append", "exactly one argument", args.len()),
        },
        "extend" => match a0.map(iter_items) {
            Some(Ok(items)) => {
                l.extend(items);
                Reply::Return(Value::None)
            }
            Some(Err(e)) => py_error(e),
            None => arity("list.extend", "exactly one argument", 0),
        },
        "insert" => match args {
            [at, v] => {
                let Some(at) = int_arg(at) else {
                    return not_int(at);
                };
                let len = l.len() as i128;
                let at = if at < 0 {
                    (at + len).max(0)
                } else {
                    at.min(len)
                } as usize;
                l.insert(at, v.clone());
                Reply::Return(Value::None)
            }
            _ => type_error(format!("insert expected 2 arguments, got {}", args.len())),
        },
        "pop" => {
            let at = match a0 {
                None => -1,
                Some(v) => match int_arg(v) {
                    Some(i) => i,
                    None => return not_int(v),
                },
            };
            if l.is_empty() {
                return exc("IndexError", vec![Value::str("pop from empty list")]);
            }
            match index(at, l.len()) {
                Some(i) => Reply::Return(l.remove(i)),
                None => exc("IndexError", vec![Value::str("pop index out of range")]),
            }
        }
        "count" => Reply::Return(Value::Int(
            a0.map_or(0, |x| l.iter().filter(|v| py_eq(v, x)).count()) as i64,
        )),
        "index" => {
            let Some(x) = a0 else {
                return type_error("index expected at least 1 argument, got 0");
            };
            let bound = |i: usize, default: usize| match args.get(i).map(|v| (v, int_arg(v))) {
                None => Ok(default),
                Some((_, Some(n))) => {
                    let len = l.len() as i128;
                    Ok((if n < 0 { (n + len).max(0) } else { n.min(len) }) as usize)
                }
                Some((v, None)) => Err(type_error(format!(
                    "slice indices must be integers or have an __index__ method, not {}",
                    py_type_name(v)
                ))),
            };
            let (start, stop) = match (bound(1, 0), bound(2, l.len())) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            let found = (start..stop.max(start)).find(|&i| py_eq(&l[i], x));
            match found {
                Some(i) => Reply::Return(Value::Int(i as i64)),
                None => exc(
                    "ValueError",
                    vec![Value::str(format!("{} is not in list", py_repr(x)))],
                ),
            }
        }
        "remove" => match a0.and_then(|x| l.iter().position(|v| py_eq(v, x))) {
            Some(i) => {
                l.remove(i);
                Reply::Return(Value::None)
            }
            None => exc(
                "ValueError",
                vec![Value::str("list.remove(x): x not in list")],
            ),
        },
        "reverse" => {
            l.reverse();
            Reply::Return(Value::None)
        }
        "clear" => {
            l.clear();
            Reply::Return(Value::None)
        }
        "copy" => Reply::Return(Value::List(l.clone())),
        "__add__" => match a0 {
            Some(Value::List(other)) => {
                Reply::Return(Value::List(l.iter().chain(other).cloned().collect()))
            }
            Some(other) => type_error(format!(
                "can only concatenate list (not \"{}\") to list",
                py_type_name(other)
            )),
            None => arity("__add__", "exactly one argument", 0),
        },
        "__mul__" | "__rmul__" | "__imul__" => {
            // Called directly, the dunder converts with `operator.index`.
            let Some(n) = a0.and_then(int_arg) else {
                return not_int(a0.unwrap_or(&Value::None));
            };
            let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
            if l.len().saturating_mul(n) > MAX_EXPANDED_ITEMS {
                return exc("MemoryError", vec![]);
            }
            let repeated: Vec<Value> = l.iter().cloned().cycle().take(l.len() * n).collect();
            if method == "__imul__" {
                *l = repeated;
                Reply::Return(Value::List(l.clone()))
            } else {
                Reply::Return(Value::List(repeated))
            }
        }
        // CPython pickles a list_reverseiterator as reversed(list) with
        // its position as state; the client rebuilds it locally.
        "__reversed__" => Reply::Return(Value::Reduce {
            callable: Box::new(Value::global("builtins", "reversed")),
            args: Box::new(Value::Tuple(vec![Value::List(l.clone())])),
            state: Some(Box::new(Value::from_i128(l.len() as i128 - 1))),
        }),
        "sort" => {
            if !args.is_empty() {
                return type_error("sort() takes no positional arguments");
            }
            if kwds.get("key").is_some_and(|k| *k != Value::None) {
                return type_error("mp's manager server cannot call a key function");
            }
            let reverse = match kwds.get("reverse") {
                None => false,
                Some(v) => match int_arg(v) {
                    Some(n) => n != 0,
                    None => return not_int(v),
                },
            };
            match sort_values(l, reverse) {
                Ok(()) => Reply::Return(Value::None),
                Err((a, b)) => type_error(format!(
                    "'<' not supported between instances of '{a}' and '{b}'"
                )),
            }
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// `l[slice]`, `l[slice] = v`, `del l[slice]`.
fn list_slice(l: &mut Vec<Value>, method: &str, sl: &Slice, value: Option<&Value>) -> Reply {
    match method {
        "__getitem__" => Reply::Return(Value::List(
            sl.positions.iter().map(|&i| l[i].clone()).collect(),
        )),
        "__delitem__" => {
            let mut drop: Vec<usize> = sl.positions.clone();
            drop.sort_unstable();
            for i in drop.into_iter().rev() {
                l.remove(i);
            }
            Reply::Return(Value::None)
        }
        _ => {
            let new = match value.map(iter_items) {
                Some(Ok(items)) => items,
                _ if sl.step == 1 => return type_error("can only assign an iterable"),
                _ => return type_error("must assign iterable to extended slice"),
            };
            if sl.step == 1 {
                let start = sl.positions.first().copied().unwrap_or(sl.start);
                l.splice(start..start + sl.positions.len(), new);
                Reply::Return(Value::None)
            } else if new.len() == sl.positions.len() {
                for (&i, v) in sl.positions.iter().zip(new) {
                    l[i] = v;
                }
                Reply::Return(Value::None)
            } else {
                exc(
                    "ValueError",
                    vec![Value::str(format!(
                        "attempt to assign sequence of size {} to extended slice of size {}",
                        new.len(),
                        sl.positions.len()
                    ))],
                )
            }
        }
    }
}

/// A number as `<` compares it.
fn num_of(v: &Value) -> Option<(Option<i128>, f64)> {
    match v {
        Value::Bool(b) => Some((Some(i128::from(*b)), f64::from(u8::from(*b)))),
        Value::Int(i) => Some((Some(i128::from(*i)), *i as f64)),
        Value::BigInt(_) => Some((
            v.as_i128(),
            v.int_to_decimal()
                .and_then(|d| d.parse().ok())
                .unwrap_or(f64::NAN),
        )),
        Value::Float(f) => Some((None, *f)),
        _ => None,
    }
}

/// `a < b` as Python computes it for these values, or the two type names
/// of the `TypeError` when Python has no ordering between them.
fn py_lt(a: &Value, b: &Value) -> Result<bool, (String, String)> {
    if let (Some((ia, fa)), Some((ib, fb))) = (num_of(a), num_of(b)) {
        return Ok(match (ia, ib) {
            (Some(x), Some(y)) => x < y,
            _ => fa < fb,
        });
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.as_bytes() < y.as_bytes()),
        (Value::Bytes(x) | Value::ByteArray(x), Value::Bytes(y) | Value::ByteArray(y)) => Ok(x < y),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            match x.iter().zip(y).find(|(p, q)| !py_eq(p, q)) {
                Some((p, q)) => py_lt(p, q),
                None => Ok(x.len() < y.len()),
            }
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            Ok(x.len() < y.len() && x.iter().all(|e| y.iter().any(|f| py_eq(e, f))))
        }
        _ => Err((py_type_name(a), py_type_name(b))),
    }
}

/// `list.sort()`: CPython 3.11's algorithm for short lists (a run, then
/// binary insertion), so a mixed-type list fails on the same comparison
/// with the same message; longer lists use Rust's stable sort. On failure
/// the list is left as it was.
fn sort_values(l: &mut Vec<Value>, reverse: bool) -> Result<(), (String, String)> {
    let original = l.clone();
    if reverse {
        l.reverse();
    }
    let r = if l.len() < 64 {
        short_sort(l)
    } else {
        let mut failed = None;
        l.sort_by(|a, b| {
            if failed.is_some() {
                return std::cmp::Ordering::Equal;
            }
            match (py_lt(a, b), py_lt(b, a)) {
                (Ok(true), _) => std::cmp::Ordering::Less,
                (Ok(false), Ok(true)) => std::cmp::Ordering::Greater,
                (Ok(false), Ok(false)) => std::cmp::Ordering::Equal,
                (Err(e), _) | (_, Err(e)) => {
                    failed = Some(e);
                    std::cmp::Ordering::Equal
                }
            }
        });
        failed.map_or(Ok(()), Err)
    };
    if r.is_err() {
        *l = original;
        return r;
    }
    if reverse {
        l.reverse();
    }
    Ok(())
}

/// CPython's `count_run` then `binarysort` over the whole list (what its
/// timsort does below 64 items).
fn short_sort(l: &mut [Value]) -> Result<(), (String, String)> {
    let n = l.len();
    if n < 2 {
        return Ok(());
    }
    let mut run = 2;
    if py_lt(&l[1], &l[0])? {
        while run < n && py_lt(&l[run], &l[run - 1])? {
            run += 1;
        }
        l[..run].reverse();
    } else {
        while run < n && !py_lt(&l[run], &l[run - 1])? {
            run += 1;
        }
    }
    for start in run..n {
        let (mut lo, mut hi) = (0, start);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if py_lt(&l[start], &l[mid])? {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        l[lo..=start].rotate_right(1);
    }
    Ok(())
}

/// The members of `v` as a set, when it is a set or frozenset (what the
/// set operators accept); `None` for any other type.
fn set_operand(v: Option<&Value>) -> Option<Result<(PySet, bool), Reply>> {
    match v? {
        Value::Set(items) => Some(
            PySet::from_items(items.clone())
                .map(|s| (s, false))
                .map_err(unhashable),
        ),
        Value::FrozenSet(items) => Some(
            PySet::from_items(items.clone())
                .map(|s| (s, true))
                .map_err(unhashable),
        ),
        _ => None,
    }
}

fn set_items(v: &Value) -> Result<PySet, Reply> {
    PySet::from_items(iter_items(v).map_err(py_error)?).map_err(unhashable)
}

fn set_as(s: &PySet, frozen: bool) -> Value {
    match s.to_value() {
        Value::Set(items) if frozen => Value::FrozenSet(items),
        v => v,
    }
}

fn intersect(a: &PySet, b: &PySet) -> PySet {
    let mut out = PySet::new();
    for x in a.iter() {
        if b.contains(x).unwrap_or(false) {
            let _ = out.insert(x.clone());
        }
    }
    out
}

fn minus(a: &PySet, b: &PySet) -> PySet {
    let mut out = PySet::new();
    for x in a.iter() {
        if !b.contains(x).unwrap_or(false) {
            let _ = out.insert(x.clone());
        }
    }
    out
}

fn union(a: &PySet, b: &PySet) -> PySet {
    let mut out = a.clone();
    for x in b.iter() {
        let _ = out.insert(x.clone());
    }
    out
}

fn symmetric(a: &PySet, b: &PySet) -> PySet {
    union(&minus(a, b), &minus(b, a))
}

fn subset(a: &PySet, b: &PySet) -> bool {
    a.iter().all(|x| b.contains(x).unwrap_or(false))
}

/// 3.14's `set` typeid: its methods and operators, with Python's results
/// (`NotImplemented` for an operator's foreign operand) and errors.
fn set_call(s: &mut PySet, method: &str, args: &[Value]) -> Reply {
    let a0 = args.first();
    let one = |name: &str| -> Result<&Value, Reply> {
        match args {
            [v] => Ok(v),
            _ => Err(type_error(format!(
                "set.{name}() takes exactly one argument ({} given)",
                args.len()
            ))),
        }
    };
    let others = || -> Result<Vec<PySet>, Reply> { args.iter().map(set_items).collect() };
    match method {
        "__len__" => Reply::Return(Value::Int(s.len() as i64)),
        "__contains__" => match a0.map(|v| s.contains(v)) {
            Some(Ok(b)) => Reply::Return(Value::Bool(b)),
            Some(Err(e)) => unhashable(e),
            None => arity("__contains__", "exactly one argument", 0),
        },
        "__iter__" => Reply::Return(iterator_value(s.iter().cloned().collect())),
        "__class_getitem__" => match one("__class_getitem__") {
            Ok(v) => Reply::Return(Value::Reduce {
                callable: Box::new(Value::global("types", "GenericAlias")),
                args: Box::new(Value::Tuple(vec![
                    Value::global("builtins", "set"),
                    v.clone(),
                ])),
                state: None,
            }),
            Err(r) => r,
        },
        "add" => match one("add").map(|v| s.insert(v.clone())) {
            Ok(Ok(_)) => Reply::Return(Value::None),
            Ok(Err(e)) => unhashable(e),
            Err(r) => r,
        },
        "discard" | "remove" => match one(method).map(|v| (v, s.remove(v))) {
            Ok((_, Ok(true))) => Reply::Return(Value::None),
            Ok((_, Ok(false))) if method == "discard" => Reply::Return(Value::None),
            Ok((v, Ok(false))) => exc("KeyError", vec![v.clone()]),
            Ok((_, Err(e))) => unhashable(e),
            Err(r) => r,
        },
        "pop" => match s.pop() {
            Some(v) => Reply::Return(v),
            None => exc("KeyError", vec![Value::str("pop from an empty set")]),
        },
        "clear" => {
            s.clear();
            Reply::Return(Value::None)
        }
        "copy" => Reply::Return(s.to_value()),
        "union"
        | "intersection"
        | "difference"
        | "update"
        | "intersection_update"
        | "difference_update" => {
            let others = match others() {
                Ok(o) => o,
                Err(r) => return r,
            };
            let mut out = s.clone();
            for o in &others {
                out = match method {
                    "union" | "update" => union(&out, o),
                    "intersection" | "intersection_update" => intersect(&out, o),
                    _ => minus(&out, o),
                };
            }
            if method.ends_with("_update") || method == "update" {
                *s = out;
                Reply::Return(Value::None)
            } else {
                Reply::Return(out.to_value())
            }
        }
        "symmetric_difference"
        | "symmetric_difference_update"
        | "isdisjoint"
        | "issubset"
        | "issuperset" => {
            let other = match one(method).and_then(set_items) {
                Ok(o) => o,
                Err(r) => return r,
            };
            match method {
                "symmetric_difference" => Reply::Return(symmetric(s, &other).to_value()),
                "symmetric_difference_update" => {
                    *s = symmetric(s, &other);
                    Reply::Return(Value::None)
                }
                "isdisjoint" => Reply::Return(Value::Bool(intersect(s, &other).is_empty())),
                "issubset" => Reply::Return(Value::Bool(subset(s, &other))),
                _ => Reply::Return(Value::Bool(subset(&other, s))),
            }
        }
        "__and__" | "__or__" | "__sub__" | "__xor__" | "__rand__" | "__ror__" | "__rsub__"
        | "__rxor__" | "__iand__" | "__ior__" | "__isub__" | "__ixor__" | "__le__" | "__lt__"
        | "__ge__" | "__gt__" => {
            let (other, frozen) = match set_operand(a0) {
                Some(Ok(o)) => o,
                Some(Err(r)) => return r,
                None => return not_implemented(),
            };
            let op = method.trim_start_matches("__").trim_end_matches("__");
            let result = match op {
                "and" | "rand" | "iand" => intersect(s, &other),
                "or" | "ror" | "ior" => union(s, &other),
                "sub" | "isub" => minus(s, &other),
                "rsub" => minus(&other, s),
                "xor" | "rxor" | "ixor" => symmetric(s, &other),
                "le" => return Reply::Return(Value::Bool(subset(s, &other))),
                "lt" => {
                    return Reply::Return(Value::Bool(s.len() < other.len() && subset(s, &other)))
                }
                "ge" => return Reply::Return(Value::Bool(subset(&other, s))),
                _ => return Reply::Return(Value::Bool(s.len() > other.len() && subset(&other, s))),
            };
            match op {
                // In place: the set itself is the result.
                "iand" | "ior" | "isub" | "ixor" => {
                    *s = result;
                    Reply::Return(s.to_value())
                }
                // Reflected: the result has the left operand's type.
                "rand" | "ror" | "rsub" | "rxor" => Reply::Return(set_as(&result, frozen)),
                _ => Reply::Return(result.to_value()),
            }
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// `array.array`'s exposed methods: `__len__`, `__getitem__`,
/// `__setitem__` (ints and slices).
fn array_call(a: &mut TypedArray, method: &str, args: &[Value]) -> Reply {
    let a0 = args.first();
    match method {
        "__len__" => Reply::Return(Value::Int(a.len() as i64)),
        "__getitem__" | "__setitem__" => {
            if let Some(sl) = a0.and_then(|v| slice_of(v, a.len())) {
                let sl = match sl {
                    Ok(sl) => sl,
                    Err(r) => return r,
                };
                if method == "__getitem__" {
                    return Reply::Return(a.select(&sl.positions).to_value());
                }
                let value = args.get(1).unwrap_or(&Value::None);
                let other = match TypedArray::from_value(value) {
                    Some(Ok(o)) => o,
                    Some(Err(e)) => return py_error(e),
                    None => {
                        return type_error(format!(
                            "can only assign array (not \"{}\") to array slice",
                            py_type_name(value)
                        ))
                    }
                };
                if other.typecode() != a.typecode() {
                    return type_error("bad argument type for built-in operation");
                }
                if sl.step == 1 {
                    let start = sl.positions.first().copied().unwrap_or(sl.start);
                    a.splice(start, sl.positions.len(), &other);
                } else if other.len() == sl.positions.len() {
                    a.assign(&sl.positions, &other);
                } else {
                    return exc(
                        "ValueError",
                        vec![Value::str(format!(
                            "attempt to assign array of size {} to extended slice of size {}",
                            other.len(),
                            sl.positions.len()
                        ))],
                    );
                }
                return Reply::Return(Value::None);
            }
            let Some(i) = a0.and_then(int_arg) else {
                return type_error("array indices must be integers");
            };
            match (index(i, a.len()), method) {
                (Some(i), "__getitem__") => Reply::Return(a.get(i)),
                (None, "__getitem__") => {
                    exc("IndexError", vec![Value::str("array index out of range")])
                }
                (Some(i), _) => match args.get(1) {
                    Some(v) => match a.set(i, v) {
                        Ok(()) => Reply::Return(Value::None),
                        Err(e) => py_error(e),
                    },
                    None => arity("__setitem__", "exactly 2 arguments", 1),
                },
                (None, _) => exc(
                    "IndexError",
                    vec![Value::str("array assignment index out of range")],
                ),
            }
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// How long a blocking call may wait, from its `(block, timeout)` arguments
/// at positions `i` and `i + 1` (`acquire(blocking, timeout)`,
/// `Queue.get(block, timeout)`, `put(item, block, timeout)`): `None` for
/// ever, zero for a non-blocking call. `block` counts as Python's truth does.
pub(super) fn block_wait(args: &[Value], kwds: &Value, i: usize, block: &str) -> Option<Duration> {
    if blocking(args, kwds, i, block) {
        timeout_arg(arg(args, kwds, i + 1, "timeout"))
    } else {
        Some(Duration::ZERO)
    }
}

/// The truth of a `block` argument at `i` (absent: true).
fn blocking(args: &[Value], kwds: &Value, i: usize, block: &str) -> bool {
    match arg(args, kwds, i, block) {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(n)) => *n != 0,
        Some(Value::Float(f)) => *f != 0.0,
        Some(Value::None) => false,
        Some(_) => true,
    }
}

/// `queue.Queue`'s refusal of a blocking call with a negative timeout
/// (`block` at `i`, `timeout` after it), if that is what was asked.
fn negative_timeout(args: &[Value], kwds: &Value, i: usize) -> Option<Reply> {
    let negative = match arg(args, kwds, i + 1, "timeout") {
        Some(Value::Float(f)) => *f < 0.0,
        Some(v) => v.as_i128().is_some_and(|n| n < 0),
        None => false,
    };
    (negative && blocking(args, kwds, i, "block")).then(|| {
        exc(
            "ValueError",
            vec![Value::str("'timeout' must be a non-negative number")],
        )
    })
}

/// A `timeout` argument: `None` (or absent) waits for ever; a negative one
/// is 0 (as `threading` treats it for acquire's non-blocking check).
pub(super) fn timeout_arg(v: Option<&Value>) -> Option<Duration> {
    match v {
        None | Some(Value::None) => None,
        Some(Value::Float(f)) => {
            Some(Duration::try_from_secs_f64(f.max(0.0)).unwrap_or(Duration::MAX))
        }
        Some(v) => Some(Duration::from_secs(
            v.as_i128()
                .map_or(0, |n| u64::try_from(n.max(0)).unwrap_or(u64::MAX)),
        )),
    }
}

thread_local! {
    /// The socket of the client this thread serves method calls for, so
    /// that a blocking call can tell when its client is gone.
    static PEER: std::cell::Cell<Option<std::os::fd::RawFd>> = const { std::cell::Cell::new(None) };
}

/// Tells the blocking calls of this thread which client they serve (its
/// socket, valid until `None` is set again).
pub(super) fn set_peer(fd: Option<std::os::fd::RawFd>) {
    PEER.with(|p| p.set(fd));
}

/// Whether the client this thread serves has closed its connection (or
/// it was reset): it will never read a reply. A request it sent before
/// closing is not a sign of life (the connection still ends after it).
fn peer_gone() -> bool {
    use nix::errno::Errno;
    use nix::sys::socket::{recv, MsgFlags};
    let Some(fd) = PEER.with(std::cell::Cell::get) else {
        return false;
    };
    let mut byte = [0u8; 1];
    match recv(fd, &mut byte, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
        Ok(0) => true,
        Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => false,
        Err(_) => true,
    }
}

/// How often a blocked call wakes to see whether its client is still
/// there (it also looks at every wake-up before taking anything).
const GONE_CHECK: Duration = Duration::from_secs(1);

/// Waits on `obj.changed` until `ready` gives a reply or the deadline
/// passes (then `on_timeout`). Blocks this connection's thread only.
///
/// Beyond CPython: a call whose client has gone (Ctrl-C on `mp queue
/// get`, a killed process) stops waiting, without taking anything: on
/// every wake-up after the first look, and at least every [`GONE_CHECK`],
/// it checks the connection before `ready` may take an item or a permit
/// (CPython's server would hand the next item to the dead client, and it
/// would be lost).
pub(super) fn wait_on(
    obj: &Object,
    timeout: Option<Duration>,
    ready: impl FnMut(&mut State) -> Option<Reply>,
    on_timeout: impl FnOnce() -> Reply,
) -> Reply {
    wait_or_leave(obj, timeout, ready, on_timeout, || {
        traceback("ConnectionResetError: the client closed its connection")
    })
}

/// [`wait_on`], with `on_gone` run (without the state's lock) when the
/// client has gone: what the call must undo.
pub(super) fn wait_or_leave(
    obj: &Object,
    timeout: Option<Duration>,
    mut ready: impl FnMut(&mut State) -> Option<Reply>,
    on_timeout: impl FnOnce() -> Reply,
    on_gone: impl FnOnce() -> Reply,
) -> Reply {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut st = obj.lock();
    let mut waited = false;
    loop {
        if waited && peer_gone() {
            drop(st);
            return on_gone();
        }
        if let Some(r) = ready(&mut st) {
            drop(st);
            obj.notify_all();
            return r;
        }
        let left = match (timeout, deadline) {
            (None, _) | (Some(_), None) => GONE_CHECK,
            (Some(_), Some(d)) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // `on_timeout` may take the lock itself.
                    drop(st);
                    return on_timeout();
                }
                left.min(GONE_CHECK)
            }
        };
        obj.waiters.fetch_add(1, Ordering::SeqCst);
        st = obj
            .changed
            .wait_timeout(st, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        obj.waiters.fetch_sub(1, Ordering::SeqCst);
        waited = true;
    }
}

/// Lock, RLock, Semaphore, BoundedSemaphore and Event methods.
pub(super) fn sync_call(
    obj: &Object,
    method: &str,
    args: &[Value],
    kwds: &Value,
    conn: u64,
) -> Reply {
    let rlock = obj.kind == Kind::RLock;
    match method {
        "acquire" => {
            let timeout = block_wait(args, kwds, 0, "blocking");
            wait_on(
                obj,
                timeout,
                |st| {
                    let State::Permits {
                        value, held, owner, ..
                    } = st
                    else {
                        return Some(exc("TypeError", vec![Value::str("not a lock")]));
                    };
                    if rlock {
                        if let Some((o, n)) = owner {
                            if *o == conn {
                                *n += 1;
                                return Some(Reply::Return(Value::Bool(true)));
                            }
                        }
                    }
                    if *value == 0 {
                        return None;
                    }
                    *value -= 1;
                    *held.entry(conn).or_insert(0) += 1;
                    if rlock {
                        *owner = Some((conn, 1));
                    }
                    Some(Reply::Return(Value::Bool(true)))
                },
                || Reply::Return(Value::Bool(false)),
            )
        }
        "release" => {
            let mut st = obj.lock();
            let State::Permits {
                value,
                bound,
                held,
                owner,
            } = &mut *st
            else {
                return exc("TypeError", vec![Value::str("not a lock")]);
            };
            let reply = if rlock {
                match owner {
                    Some((o, n)) if *o == conn => {
                        *n -= 1;
                        if *n == 0 {
                            *owner = None;
                            *value = value.saturating_add(1);
                            held.remove(&conn);
                        }
                        Reply::Return(Value::None)
                    }
                    _ => exc(
                        "RuntimeError",
                        vec![Value::str("cannot release un-acquired lock")],
                    ),
                }
            } else if obj.kind == Kind::Lock && *value > 0 {
                exc("RuntimeError", vec![Value::str("release unlocked lock")])
            } else if bound.is_some_and(|b| *value >= b) {
                exc(
                    "ValueError",
                    vec![Value::str("Semaphore released too many times")],
                )
            } else {
                *value = value.saturating_add(1);
                // Any connection may release; take the permit back from the
                // one that holds it (this one, else any).
                let from = if held.contains_key(&conn) {
                    Some(conn)
                } else {
                    held.keys().next().copied()
                };
                if let Some(c) = from {
                    if let Some(n) = held.get_mut(&c) {
                        *n -= 1;
                        if *n == 0 {
                            held.remove(&c);
                        }
                    }
                }
                Reply::Return(Value::None)
            };
            drop(st);
            obj.notify_all();
            reply
        }
        // 3.14's AcquirerProxy asks: a lock or RLock held by anyone, a
        // semaphore with no permit left.
        "locked" => match &*obj.lock() {
            State::Permits { value, owner, .. } => Reply::Return(Value::Bool(if rlock {
                owner.is_some()
            } else {
                *value == 0
            })),
            _ => exc("TypeError", vec![Value::str("not a lock")]),
        },
        "is_set" => match &*obj.lock() {
            State::Event(f) => Reply::Return(Value::Bool(*f)),
            _ => exc("TypeError", vec![Value::str("not an event")]),
        },
        "set" | "clear" => {
            if let State::Event(f) = &mut *obj.lock() {
                *f = method == "set";
            }
            obj.notify_all();
            Reply::Return(Value::None)
        }
        "wait" => {
            let timeout = timeout_arg(arg(args, kwds, 0, "timeout"));
            wait_on(
                obj,
                timeout,
                |st| match st {
                    State::Event(true) => Some(Reply::Return(Value::Bool(true))),
                    _ => None,
                },
                || Reply::Return(Value::Bool(false)),
            )
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// Condition methods: its RLock belongs to the calling connection.
pub(super) fn condition_call(
    obj: &Object,
    method: &str,
    args: &[Value],
    kwds: &Value,
    conn: u64,
) -> Reply {
    let owns =
        |st: &State| matches!(st, State::Condition { owner: Some((o, _)), .. } if *o == conn);
    match method {
        "locked" => Reply::Return(Value::Bool(matches!(
            &*obj.lock(),
            State::Condition { owner: Some(_), .. }
        ))),
        "acquire" => {
            let timeout = block_wait(args, kwds, 0, "blocking");
            wait_on(
                obj,
                timeout,
                |st| {
                    let State::Condition { owner, .. } = st else {
                        return Some(exc("TypeError", vec![Value::str("not a condition")]));
                    };
                    match owner {
                        Some((o, n)) if *o == conn => {
                            *n += 1;
                            Some(Reply::Return(Value::Bool(true)))
                        }
                        Some(_) => None,
                        None => {
                            *owner = Some((conn, 1));
                            Some(Reply::Return(Value::Bool(true)))
                        }
                    }
                },
                || Reply::Return(Value::Bool(false)),
            )
        }
        "release" => {
            let mut st = obj.lock();
            let State::Condition { owner, .. } = &mut *st else {
                return exc("TypeError", vec![Value::str("not a condition")]);
            };
            let r = match owner {
                Some((o, n)) if *o == conn => {
                    *n -= 1;
                    if *n == 0 {
                        *owner = None;
                    }
                    Reply::Return(Value::None)
                }
                _ => exc(
                    "RuntimeError",
                    vec![Value::str("cannot release un-acquired lock")],
                ),
            };
            drop(st);
            obj.notify_all();
            r
        }
        "notify" | "notify_all" => {
            let mut st = obj.lock();
            if !owns(&st) {
                return exc(
                    "RuntimeError",
                    vec![Value::str("cannot notify on un-acquired lock")],
                );
            }
            let n = if method == "notify_all" {
                usize::MAX
            } else {
                arg(args, kwds, 0, "n")
                    .and_then(Value::as_i128)
                    .map_or(1, |n| usize::try_from(n.max(0)).unwrap_or(usize::MAX))
            };
            if let State::Condition {
                waiting, notified, ..
            } = &mut *st
            {
                for _ in 0..n {
                    let Some(t) = waiting.pop_front() else { break };
                    notified.insert(t);
                }
            }
            drop(st);
            obj.notify_all();
            Reply::Return(Value::None)
        }
        "wait" => {
            let timeout = timeout_arg(arg(args, kwds, 0, "timeout"));
            let (ticket, saved) = {
                let mut st = obj.lock();
                let State::Condition {
                    owner,
                    waiting,
                    next_ticket,
                    ..
                } = &mut *st
                else {
                    return exc("TypeError", vec![Value::str("not a condition")]);
                };
                let saved = match owner {
                    Some((o, n)) if *o == conn => *n,
                    _ => {
                        return exc(
                            "RuntimeError",
                            vec![Value::str("cannot wait on un-acquired lock")],
                        )
                    }
                };
                *owner = None;
                *next_ticket += 1;
                waiting.push_back(*next_ticket);
                (*next_ticket, saved)
            };
            obj.notify_all();
            // Wait to be notified (or time out), then take the lock back.
            let got = wait_on(
                obj,
                timeout,
                |st| match st {
                    State::Condition { notified, .. } => notified
                        .remove(&ticket)
                        .then_some(Reply::Return(Value::Bool(true))),
                    _ => None,
                },
                || Reply::Return(Value::Bool(false)),
            );
            if let State::Condition { waiting, .. } = &mut *obj.lock() {
                waiting.retain(|t| *t != ticket);
            }
            let _ = wait_on(
                obj,
                None,
                |st| match st {
                    State::Condition { owner, .. } if owner.is_none() => {
                        *owner = Some((conn, saved));
                        Some(Reply::Return(Value::None))
                    }
                    _ => None,
                },
                || Reply::Return(Value::None),
            );
            got
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

fn broken_barrier() -> Reply {
    Reply::Error("threading", "BrokenBarrierError", vec![])
}

/// Barrier methods, and its `parties`, `n_waiting` and `broken` attributes.
pub(super) fn barrier_call(obj: &Object, method: &str, args: &[Value], kwds: &Value) -> Reply {
    match method {
        "__getattribute__" => {
            let st = obj.lock();
            let State::Barrier {
                parties,
                count,
                broken,
                ..
            } = &*st
            else {
                return exc("TypeError", vec![Value::str("not a barrier")]);
            };
            match args.first().and_then(Value::as_str) {
                Some("parties") => Reply::Return(Value::Int(*parties as i64)),
                Some("n_waiting") => Reply::Return(Value::Int(*count as i64)),
                Some("broken") => Reply::Return(Value::Bool(*broken)),
                other => exc(
                    "AttributeError",
                    vec![Value::str(format!(
                        "'Barrier' object has no attribute {}",
                        py_repr(&Value::str(other.unwrap_or("")))
                    ))],
                ),
            }
        }
        "wait" => {
            let timeout = timeout_arg(arg(args, kwds, 0, "timeout"));
            let (index, generation, resets) = {
                let mut st = obj.lock();
                let State::Barrier {
                    parties,
                    count,
                    generation,
                    resets,
                    broken,
                } = &mut *st
                else {
                    return exc("TypeError", vec![Value::str("not a barrier")]);
                };
                if *broken {
                    return broken_barrier();
                }
                let index = *count;
                *count += 1;
                if *count == *parties {
                    // The last one releases the round.
                    *count = 0;
                    *generation += 1;
                    drop(st);
                    obj.notify_all();
                    return Reply::Return(Value::Int(index as i64));
                }
                (index, *generation, *resets)
            };
            wait_or_leave(
                obj,
                timeout,
                |st| match st {
                    State::Barrier { broken: true, .. } => Some(broken_barrier()),
                    State::Barrier { resets: r, .. } if *r != resets => Some(broken_barrier()),
                    State::Barrier { generation: g, .. } if *g != generation => {
                        Some(Reply::Return(Value::Int(index as i64)))
                    }
                    _ => None,
                },
                || {
                    // A timeout breaks the barrier for everyone.
                    if let State::Barrier { broken, count, .. } = &mut *obj.lock() {
                        *broken = true;
                        *count = 0;
                    }
                    obj.notify_all();
                    broken_barrier()
                },
                || {
                    // A waiter whose client is gone leaves the round it
                    // joined (the others still wait for `parties`).
                    if let State::Barrier {
                        count,
                        generation: g,
                        resets: r,
                        broken: false,
                        ..
                    } = &mut *obj.lock()
                    {
                        if *g == generation && *r == resets {
                            *count = count.saturating_sub(1);
                        }
                    }
                    broken_barrier()
                },
            )
        }
        "abort" | "reset" => {
            if let State::Barrier {
                broken,
                count,
                resets,
                ..
            } = &mut *obj.lock()
            {
                if method == "abort" {
                    *broken = true;
                } else {
                    // This round's waiters get BrokenBarrierError; the
                    // barrier is usable again at once.
                    *resets += 1;
                    *count = 0;
                    *broken = false;
                }
            }
            obj.notify_all();
            Reply::Return(Value::None)
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// Queue methods: `get` and `put` may block this connection's thread only.
///
/// `settle` runs under the queue's lock right after an item goes in or
/// out, with the reply: the item's proxy references move with it.
pub(super) fn queue_call(
    obj: &Object,
    method: &str,
    args: &mut [Value],
    kwds: &Value,
    settle: &dyn Fn(&State, &Reply),
) -> Reply {
    match method {
        "qsize" | "empty" | "full" => {
            let st = obj.lock();
            let State::Queue { items, maxsize, .. } = &*st else {
                return exc("TypeError", vec![Value::str("not a queue")]);
            };
            Reply::Return(match method {
                "qsize" => Value::Int(items.len() as i64),
                "empty" => Value::Bool(items.is_empty()),
                _ => Value::Bool(*maxsize > 0 && items.len() >= *maxsize),
            })
        }
        "put" | "put_nowait" => {
            // As queue.Queue: refused only by a bounded queue (the lock is
            // taken for that only when the timeout is negative).
            if method == "put" {
                if let Some(refused) = negative_timeout(args, kwds, 1) {
                    if matches!(&*obj.lock(), State::Queue { maxsize, .. } if *maxsize > 0) {
                        return refused;
                    }
                }
            }
            // The item moves from the request into the queue.
            let mut item = Some(args.first_mut().map(take).unwrap_or(Value::None));
            let wait = if method == "put" {
                block_wait(args, kwds, 1, "block")
            } else {
                Some(Duration::ZERO)
            };
            wait_on(
                obj,
                wait,
                |st| match st {
                    State::Queue {
                        items,
                        maxsize,
                        unfinished,
                    } if *maxsize == 0 || items.len() < *maxsize => {
                        items.push_back(item.take().unwrap_or(Value::None));
                        *unfinished += 1;
                        let r = Reply::Return(Value::None);
                        settle(st, &r);
                        Some(r)
                    }
                    _ => None,
                },
                || Reply::Error("queue", "Full", vec![]),
            )
        }
        "get" | "get_nowait" => {
            if method == "get" {
                if let Some(refused) = negative_timeout(args, kwds, 0) {
                    return refused;
                }
            }
            let wait = if method == "get" {
                block_wait(args, kwds, 0, "block")
            } else {
                Some(Duration::ZERO)
            };
            wait_on(
                obj,
                wait,
                |st| {
                    let r = match st {
                        State::Queue { items, .. } => items.pop_front().map(Reply::Return),
                        _ => None,
                    }?;
                    settle(st, &r);
                    Some(r)
                },
                || Reply::Error("_queue", "Empty", vec![]),
            )
        }
        "task_done" => {
            let mut st = obj.lock();
            let State::Queue { unfinished, .. } = &mut *st else {
                return exc("TypeError", vec![Value::str("not a queue")]);
            };
            if *unfinished == 0 {
                return exc(
                    "ValueError",
                    vec![Value::str("task_done() called too many times")],
                );
            }
            *unfinished -= 1;
            drop(st);
            obj.notify_all();
            Reply::Return(Value::None)
        }
        "join" => wait_on(
            obj,
            None,
            |st| match st {
                State::Queue { unfinished: 0, .. } => Some(Reply::Return(Value::None)),
                _ => None,
            },
            || Reply::Return(Value::None),
        ),
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}
