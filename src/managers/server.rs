//! A manager server that speaks CPython's manager protocol
//! (`multiprocessing.managers`, wire spec §3): a Python
//! `SyncManager(address, authkey).connect()` (or a `BaseManager` with
//! `register('get_queue')`) works against it unchanged.
//!
//! One thread per connection, as CPython's server: every connection
//! authenticates, then sends one server-level request (`dummy`, `create`,
//! `incref`, `decref`, `get_methods`, `debug_info`, `number_of_objects`,
//! `shutdown`) or `accept_connection` and then method calls until EOF.
//!
//! Typeids served so far: `dict`, `list`, `Namespace`, `Value`, `Queue`,
//! `JoinableQueue` and `Iterator` (dict iteration), and registered names
//! bound to one shared object of such a type.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::pyobj::{py_eq, py_repr, py_str, PyDict};
use crate::connection::{authenticate_peer, Address, Connection, Listener};
use crate::error::Result;
use crate::pickle::Value;

/// The kinds of object the server can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Python's `dict`.
    Dict,
    /// Python's `list`.
    List,
    /// `multiprocessing.managers.Namespace`.
    Namespace,
    /// `multiprocessing.managers.Value` (typecode, value).
    Value,
    /// `queue.Queue` (also what `JoinableQueue` is on the server).
    Queue,
    /// An iterator over a snapshot (what `dict.__iter__` returns).
    Iterator,
    /// `threading.Lock`.
    Lock,
    /// `threading.RLock`, owned by the connection (client thread) that took it.
    RLock,
    /// `threading.Semaphore`.
    Semaphore,
    /// `threading.BoundedSemaphore`.
    BoundedSemaphore,
    /// `threading.Event`.
    Event,
    /// `threading.Condition` (its own RLock, owned by a connection).
    Condition,
    /// `threading.Barrier`.
    Barrier,
}

impl Kind {
    /// The kind a SyncManager typeid names.
    pub fn of_typeid(typeid: &str) -> Option<Kind> {
        Some(match typeid {
            "dict" => Kind::Dict,
            "list" => Kind::List,
            "Namespace" => Kind::Namespace,
            "Value" => Kind::Value,
            "Queue" | "JoinableQueue" => Kind::Queue,
            "Lock" => Kind::Lock,
            "RLock" => Kind::RLock,
            "Semaphore" => Kind::Semaphore,
            "BoundedSemaphore" => Kind::BoundedSemaphore,
            "Event" => Kind::Event,
            "Condition" => Kind::Condition,
            "Barrier" => Kind::Barrier,
            _ => return None,
        })
    }

    /// The exposed methods CPython 3.11–3.13 lists for it (§3.10).
    fn exposed(self) -> &'static [&'static str] {
        match self {
            Kind::Dict => &[
                "__contains__",
                "__delitem__",
                "__getitem__",
                "__iter__",
                "__len__",
                "__setitem__",
                "clear",
                "copy",
                "get",
                "items",
                "keys",
                "pop",
                "popitem",
                "setdefault",
                "update",
                "values",
                "__iter__",
            ],
            Kind::List => &[
                "__add__",
                "__contains__",
                "__delitem__",
                "__getitem__",
                "__len__",
                "__mul__",
                "__reversed__",
                "__rmul__",
                "__setitem__",
                "append",
                "count",
                "extend",
                "index",
                "insert",
                "pop",
                "remove",
                "reverse",
                "sort",
                "__imul__",
            ],
            Kind::Namespace => &["__getattribute__", "__setattr__", "__delattr__"],
            Kind::Value => &["get", "set"],
            Kind::Queue => &[
                "empty",
                "full",
                "get",
                "get_nowait",
                "join",
                "put",
                "put_nowait",
                "qsize",
                "task_done",
            ],
            Kind::Iterator => &["__next__", "send", "throw", "close"],
            Kind::Lock | Kind::RLock | Kind::Semaphore | Kind::BoundedSemaphore => {
                &["acquire", "release"]
            }
            Kind::Event => &["is_set", "set", "clear", "wait"],
            Kind::Condition => &["acquire", "release", "wait", "notify", "notify_all"],
            Kind::Barrier => &["__getattribute__", "wait", "abort", "reset"],
        }
    }
}

/// An object's state.
enum State {
    Dict(PyDict),
    List(Vec<Value>),
    Namespace(PyDict),
    Value {
        typecode: Value,
        value: Value,
    },
    Queue {
        items: VecDeque<Value>,
        maxsize: usize,
        unfinished: usize,
    },
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
        notified: std::collections::HashSet<u64>,
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

/// A shared object: its state and the condition its blocking calls wait on.
struct Object {
    typeid: String,
    kind: Kind,
    state: Mutex<State>,
    changed: Condvar,
}

impl Object {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Entry {
    obj: Arc<Object>,
    refcount: usize,
}

/// What a request produced, as the reply kinds of §3.2.
enum Reply {
    Return(Value),
    /// An exception instance (`module`, `name`, args).
    Error(&'static str, &'static str, Vec<Value>),
    Traceback(String),
    Proxy(String, Kind, Value),
}

/// The manager server.
pub struct Server {
    objects: Mutex<HashMap<String, Entry>>,
    /// Registered names: typeid -> the kind and its constructor arguments
    /// (one shared object per name).
    registered: HashMap<String, (Kind, Vec<Value>)>,
    /// A registered name's one object (ident, object): it outlives its
    /// last reference, as the object CPython's registered callable returns.
    shared_by_name: Mutex<HashMap<String, (String, Arc<Object>)>>,
    next_id: AtomicU64,
    address: Address,
    stopping: AtomicBool,
}

/// A `#TRACEBACK` reply: Python's client raises `RemoteError` with this text.
fn traceback(error: String) -> Reply {
    Reply::Traceback(format!("Traceback (most recent call last):\n{error}\n"))
}

/// The traceback of an unknown typeid or object id.
fn key_error_traceback(key: &str) -> Reply {
    traceback(format!("KeyError: {}", py_repr(&Value::str(key))))
}

fn exc(name: &'static str, args: Vec<Value>) -> Reply {
    Reply::Error("builtins", name, args)
}

fn tuple_args(v: &Value) -> &[Value] {
    v.as_seq().unwrap_or(&[])
}

/// Stack of a connection's thread. Serving a request recurses over its
/// values (pickling the reply, `repr`, equality, hashing, dropping) as deep
/// as the unpickler lets a value nest ([`Limits::max_depth`], 1,000). At that
/// depth the deepest path measured 352 KiB of stack in a release build and
/// 1.7 MiB in a debug build (tests/managers.rs sends such values through
/// every recursive path), and an overflow aborts the whole server: hence
/// ~3× and ~5× that. Only touched pages count in RSS (~12 KiB for an idle
/// connection), so this reserves address space, not memory; being explicit,
/// it is also out of reach of `RUST_MIN_STACK`.
///
/// [`Limits::max_depth`]: crate::pickle::Limits::max_depth
const CONN_STACK: usize = if cfg!(debug_assertions) {
    8 << 20
} else {
    1 << 20
};

impl Server {
    /// A server that will tell clients it lives at `address`, with the
    /// registered names (`--register get_queue=queue`).
    pub fn new(address: Address, registered: HashMap<String, (Kind, Vec<Value>)>) -> Arc<Server> {
        Arc::new(Server {
            objects: Mutex::new(HashMap::new()),
            registered,
            shared_by_name: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0x7f00_0000_0000),
            address,
            stopping: AtomicBool::new(false),
        })
    }

    fn objects(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves connections until a client calls `shutdown`.
    pub fn serve_forever(self: &Arc<Server>, mut listener: Listener) -> Result<()> {
        let key: Option<Arc<[u8]>> = listener.authkey().map(Arc::from);
        while !self.stopping.load(Ordering::SeqCst) {
            let Ok(conn) = listener.accept_unauthenticated() else {
                continue;
            };
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let server = self.clone();
            let key = key.clone();
            // The handshake runs on the connection's own thread: a peer
            // that connects and says nothing holds up nobody else.
            let _ = std::thread::Builder::new()
                .name("mp-manager-conn".into())
                .stack_size(CONN_STACK)
                .spawn(move || {
                    if let Some(key) = key {
                        if authenticate_peer(&conn, &key).is_err() {
                            return;
                        }
                    }
                    server.handle(conn);
                });
        }
        Ok(())
    }

    fn send(conn: &Connection, kind: &str, result: Value) -> bool {
        conn.send_value(&Value::Tuple(vec![Value::str(kind), result]))
            .is_ok()
    }

    fn send_reply(&self, conn: &Connection, reply: Reply) -> bool {
        match reply {
            Reply::Return(v) => Self::send(conn, "#RETURN", v),
            Reply::Error(module, name, args) => {
                Self::send(conn, "#ERROR", Value::new_exception(module, name, args))
            }
            Reply::Traceback(text) => Self::send(conn, "#TRACEBACK", Value::str(text)),
            Reply::Proxy(typeid, kind, ident) => {
                let exposed = Value::Tuple(kind.exposed().iter().map(|m| Value::str(*m)).collect());
                Self::send(
                    conn,
                    "#PROXY",
                    Value::Tuple(vec![exposed, self.token(&typeid, ident)]),
                )
            }
        }
    }

    /// `multiprocessing.managers.Token(typeid, address, id)` as CPython pickles it.
    fn token(&self, typeid: &str, ident: Value) -> Value {
        let address = match &self.address {
            Address::Tcp { host, port } => {
                Value::Tuple(vec![Value::str(host.clone()), Value::Int(i64::from(*port))])
            }
            Address::Unix(p) => Value::str(p.to_string_lossy().into_owned()),
        };
        Value::Object {
            class: Box::new(Value::global("multiprocessing.managers", "Token")),
            args: Box::new(Value::Tuple(vec![])),
            kwargs: None,
            state: Some(Box::new(Value::Tuple(vec![
                Value::str(typeid),
                address,
                ident,
            ]))),
        }
    }

    fn handle(self: Arc<Server>, conn: Connection) {
        let Ok(request) = conn.recv_value() else {
            return;
        };
        let Some([_, name, args, _kwds]) = request
            .as_seq()
            .and_then(|s| <&[Value; 4]>::try_from(s).ok())
        else {
            let _ = Self::send(&conn, "#TRACEBACK", Value::str("malformed request"));
            return;
        };
        let name = name.as_str().unwrap_or("").to_string();
        let args = tuple_args(args);
        let reply = match name.as_str() {
            "dummy" => Reply::Return(Value::None),
            "create" => self.create(args),
            "incref" => self.incref(args),
            "decref" => self.decref(args),
            "get_methods" => self.get_methods(args),
            "debug_info" => Reply::Return(Value::str(self.debug_info())),
            "number_of_objects" => Reply::Return(Value::Int(self.objects().len() as i64)),
            "shutdown" => {
                self.stopping.store(true, Ordering::SeqCst);
                // CPython answers twice (§3.3).
                let _ = Self::send(&conn, "#RETURN", Value::None);
                let _ = Self::send(&conn, "#RETURN", Value::None);
                // Wake the accept loop so it sees `stopping`.
                let _ = crate::connection::client(&self.address, None);
                return;
            }
            "accept_connection" => {
                if !Self::send(&conn, "#RETURN", Value::None) {
                    return;
                }
                self.serve_methods(&conn);
                return;
            }
            other => traceback(format!("AssertionError: {other:?} unrecognized")),
        };
        let _ = self.send_reply(&conn, reply);
    }

    fn new_ident(&self) -> String {
        format!("{:x}", self.next_id.fetch_add(0x20, Ordering::Relaxed))
    }

    fn register(&self, typeid: &str, kind: Kind, state: State) -> String {
        let ident = self.new_ident();
        let obj = Arc::new(Object {
            typeid: typeid.to_string(),
            kind,
            state: Mutex::new(state),
            changed: Condvar::new(),
        });
        self.objects()
            .insert(ident.clone(), Entry { obj, refcount: 1 });
        ident
    }

    fn create(&self, args: &[Value]) -> Reply {
        let Some(typeid) = args.first().and_then(Value::as_str) else {
            return Reply::Traceback("create: no typeid".into());
        };
        let ctor = &args[1..];
        if let Some((kind, ctor_args)) = self.registered.get(typeid) {
            let kind = *kind;
            // A registered name: one shared object, created on first use.
            let mut names = self
                .shared_by_name
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((ident, obj)) = names.get(typeid) {
                let mut objs = self.objects();
                objs.entry(ident.clone())
                    .and_modify(|e| e.refcount += 1)
                    .or_insert_with(|| Entry {
                        obj: obj.clone(),
                        refcount: 1,
                    });
                return self.created(ident.clone(), kind);
            }
            let state = match initial_state(kind, ctor_args) {
                Ok(s) => s,
                Err(r) => return r,
            };
            let ident = self.register(typeid, kind, state);
            let obj = self.objects()[&ident].obj.clone();
            names.insert(typeid.to_string(), (ident.clone(), obj));
            return self.created(ident, kind);
        }
        if matches!(typeid, "Pool" | "AsyncResult" | "Array") {
            return traceback(format!(
                "NotImplementedError: mp serve-manager does \
                 not serve {typeid:?}{}",
                if typeid == "Array" {
                    " yet"
                } else {
                    ": it would run Python code in the server, which mp never does"
                }
            ));
        }
        let Some(kind) = Kind::of_typeid(typeid) else {
            return key_error_traceback(typeid);
        };
        match initial_state(kind, ctor) {
            Ok(state) => {
                let ident = self.register(typeid, kind, state);
                self.created(ident, kind)
            }
            Err(r) => r,
        }
    }

    fn created(&self, ident: String, kind: Kind) -> Reply {
        let exposed = Value::Tuple(kind.exposed().iter().map(|m| Value::str(*m)).collect());
        Reply::Return(Value::Tuple(vec![Value::str(ident), exposed]))
    }

    fn incref(&self, args: &[Value]) -> Reply {
        let Some(ident) = args.first().and_then(Value::as_str) else {
            return Reply::Traceback("incref: no id".into());
        };
        match self.objects().get_mut(ident) {
            Some(e) => {
                e.refcount += 1;
                Reply::Return(Value::None)
            }
            None => key_error_traceback(ident),
        }
    }

    fn decref(&self, args: &[Value]) -> Reply {
        let Some(ident) = args.first().and_then(Value::as_str) else {
            return Reply::Traceback("decref: no id".into());
        };
        let mut objs = self.objects();
        let Some(e) = objs.get_mut(ident) else {
            return key_error_traceback(ident);
        };
        e.refcount -= 1;
        if e.refcount == 0 {
            // A registered name's object stays in `shared_by_name`.
            objs.remove(ident);
        }
        Reply::Return(Value::None)
    }

    fn get_methods(&self, args: &[Value]) -> Reply {
        // The Token's state is (typeid, address, id).
        let ident = match args.first() {
            Some(Value::Object { state: Some(s), .. }) => s
                .as_seq()
                .and_then(|t| t.get(2))
                .and_then(Value::as_str)
                .map(String::from),
            _ => None,
        };
        let objs = self.objects();
        match ident.and_then(|i| objs.get(&i).map(|e| e.obj.kind)) {
            Some(kind) => Reply::Return(Value::Tuple(
                kind.exposed().iter().map(|m| Value::str(*m)).collect(),
            )),
            None => Reply::Traceback("get_methods: unknown token".into()),
        }
    }

    fn debug_info(&self) -> String {
        let objs = self.objects();
        let mut idents: Vec<&String> = objs.keys().collect();
        idents.sort();
        idents
            .into_iter()
            .map(|i| {
                let e = &objs[i];
                let text: String = py_str(&snapshot(&e.obj)).chars().take(75).collect();
                format!("  {i}:       refcount={}\n    {text}", e.refcount)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn serve_methods(&self, conn: &Connection) {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.serve_methods_as(conn, conn_id);
        // Beyond CPython: what this connection (a client thread) held is
        // released, so a client that died does not block the others.
        self.release_held_by(conn_id);
    }

    fn release_held_by(&self, conn_id: u64) {
        let objs: Vec<Arc<Object>> = self.objects().values().map(|e| e.obj.clone()).collect();
        let named: Vec<Arc<Object>> = self
            .shared_by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|(_, o)| o.clone())
            .collect();
        for obj in objs.iter().chain(&named) {
            let mut st = obj.lock();
            match &mut *st {
                State::Permits {
                    value, held, owner, ..
                } => {
                    if let Some(n) = held.remove(&conn_id) {
                        *value += n;
                        if owner.is_some_and(|(o, _)| o == conn_id) {
                            *owner = None;
                        }
                        drop(st);
                        obj.changed.notify_all();
                    }
                }
                State::Condition { owner, .. } if owner.is_some_and(|(o, _)| o == conn_id) => {
                    *owner = None;
                    drop(st);
                    obj.changed.notify_all();
                }
                _ => {}
            }
        }
    }

    fn serve_methods_as(&self, conn: &Connection, conn_id: u64) {
        while let Ok(request) = conn.recv_value() {
            let Some([ident, method, args, kwds]) = request
                .as_seq()
                .and_then(|s| <&[Value; 4]>::try_from(s).ok())
            else {
                let _ = Self::send(conn, "#TRACEBACK", Value::str("malformed request"));
                continue;
            };
            let ident = ident.as_str().unwrap_or("");
            let method = method.as_str().unwrap_or("");
            let obj = self.objects().get(ident).map(|e| e.obj.clone());
            let reply = match obj {
                None => key_error_traceback(ident),
                Some(obj) => self.call(&obj, method, tuple_args(args), kwds, conn_id),
            };
            if !self.send_reply(conn, reply) {
                return;
            }
        }
    }

    fn call(
        &self,
        obj: &Arc<Object>,
        method: &str,
        args: &[Value],
        kwds: &Value,
        conn_id: u64,
    ) -> Reply {
        if !obj.kind.exposed().contains(&method) {
            return match method {
                "#GETVALUE" => Reply::Return(snapshot(obj)),
                "__str__" | "__repr__" if sync_repr(obj).is_some() => {
                    Reply::Return(Value::str(sync_repr(obj).unwrap_or_default()))
                }
                "__str__" => Reply::Return(Value::str(py_str(&snapshot(obj)))),
                "__repr__" => Reply::Return(Value::str(py_repr(&snapshot(obj)))),
                _ => traceback(format!(
                    "AttributeError: method {method:?} of {:?} object is not in exposed={:?}",
                    obj.typeid,
                    obj.kind.exposed()
                )),
            };
        }
        if obj.kind == Kind::Dict && method == "__iter__" {
            let keys = match &*obj.lock() {
                State::Dict(d) => d.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            let ident = self.register(
                "Iterator",
                Kind::Iterator,
                State::Iterator(keys.into_iter()),
            );
            return Reply::Proxy("Iterator".into(), Kind::Iterator, Value::str(ident));
        }
        if obj.kind == Kind::Queue {
            return queue_call(obj, method, args, kwds);
        }
        if matches!(
            obj.kind,
            Kind::Lock | Kind::RLock | Kind::Semaphore | Kind::BoundedSemaphore | Kind::Event
        ) {
            return sync_call(obj, method, args, kwds, conn_id);
        }
        if obj.kind == Kind::Condition {
            return condition_call(obj, method, args, kwds, conn_id);
        }
        if obj.kind == Kind::Barrier {
            return barrier_call(obj, method, args, kwds);
        }
        let mut st = obj.lock();
        let r = object_call(&mut st, method, args, kwds);
        drop(st);
        obj.changed.notify_all();
        r
    }
}

/// A keyword argument by name, or the positional at `i`.
fn arg<'a>(args: &'a [Value], kwds: &'a Value, i: usize, name: &str) -> Option<&'a Value> {
    args.get(i).or_else(|| kwds.get(name))
}

fn initial_state(kind: Kind, args: &[Value]) -> std::result::Result<State, Reply> {
    Ok(match kind {
        Kind::Dict => match args.first() {
            None => State::Dict(PyDict::new()),
            Some(Value::Dict(pairs)) => State::Dict(
                PyDict::from_pairs(pairs.clone())
                    .map_err(|e| exc("TypeError", vec![Value::str(e.to_string())]))?,
            ),
            Some(other) => State::Dict(pairs_from(other)?),
        },
        Kind::List => State::List(match args.first() {
            None => Vec::new(),
            Some(v) => iterable_items(v)?,
        }),
        Kind::Namespace => State::Namespace(PyDict::new()),
        Kind::Value => State::Value {
            typecode: args.first().cloned().unwrap_or(Value::None),
            value: args.get(1).cloned().unwrap_or(Value::None),
        },
        Kind::Queue => State::Queue {
            items: VecDeque::new(),
            maxsize: args
                .first()
                .and_then(Value::as_i128)
                .map_or(0, |m| m.max(0) as usize),
            unfinished: 0,
        },
        Kind::Iterator => State::Iterator(Vec::new().into_iter()),
        Kind::Lock | Kind::RLock => State::Permits {
            value: 1,
            bound: None,
            held: HashMap::new(),
            owner: None,
        },
        Kind::Semaphore | Kind::BoundedSemaphore => {
            let v = args.first().and_then(Value::as_i128).unwrap_or(1);
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
        Kind::Event => State::Event(false),
        Kind::Condition => State::Condition {
            owner: None,
            waiting: VecDeque::new(),
            notified: Default::default(),
            next_ticket: 0,
        },
        Kind::Barrier => {
            let parties = args.first().and_then(Value::as_i128).unwrap_or(0);
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

/// The items of an iterable that arrived by value: a list, tuple, set,
/// frozenset, dict (its keys) or `range`; a `TypeError` for anything else.
fn iterable_items(v: &Value) -> std::result::Result<Vec<Value>, Reply> {
    match v {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => Ok(x.clone()),
        Value::Dict(pairs) => Ok(pairs.iter().map(|(k, _)| k.clone()).collect()),
        Value::Reduce { callable, args, .. } if callable.is_global("builtins", "range") => {
            let a: Vec<i128> = args
                .as_seq()
                .unwrap_or(&[])
                .iter()
                .filter_map(Value::as_i128)
                .collect();
            let (start, stop, step) = match a.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] if *step != 0 => (*start, *stop, *step),
                _ => {
                    return Err(exc(
                        "ValueError",
                        vec![Value::str("range() arg 3 must not be zero")],
                    ))
                }
            };
            let n = if step > 0 {
                (stop - start + step - 1) / step
            } else {
                (start - stop - step - 1) / -step
            };
            if n > 1 << 26 {
                return Err(exc("MemoryError", vec![]));
            }
            Ok((0..n.max(0))
                .map(|i| Value::from_i128(start + i * step))
                .collect())
        }
        other => Err(exc(
            "TypeError",
            vec![Value::str(format!(
                "'{}' object is not iterable",
                other.kind()
            ))],
        )),
    }
}

/// A dict from a sequence of pairs (`dict([(k, v), ...])`).
fn pairs_from(v: &Value) -> std::result::Result<PyDict, Reply> {
    let mut d = PyDict::new();
    for p in v.as_seq().unwrap_or(&[]) {
        match p.as_seq() {
            Some([k, val]) => {
                d.insert(k.clone(), val.clone())
                    .map_err(|e| exc("TypeError", vec![Value::str(e.to_string())]))?;
            }
            _ => {
                return Err(exc(
                    "TypeError",
                    vec![Value::str(
                        "cannot convert dictionary update sequence element to a sequence",
                    )],
                ))
            }
        }
    }
    Ok(d)
}

/// `repr()` of a lock, semaphore or event, in CPython's forms (the address
/// is a stand-in: each object's own, stable while it lives).
fn sync_repr(obj: &Object) -> Option<String> {
    let at = format!("0x{:x}", obj as *const Object as usize);
    let st = obj.lock();
    Some(match (&*st, obj.kind) {
        (State::Permits { value, .. }, Kind::Lock) => format!(
            "<{} _thread.lock object at {at}>",
            if *value == 0 { "locked" } else { "unlocked" }
        ),
        (State::Permits { owner, .. }, Kind::RLock) => {
            let (o, n) = owner.unwrap_or((0, 0));
            format!(
                "<{} _thread.RLock object owner={o} count={n} at {at}>",
                if n == 0 { "unlocked" } else { "locked" }
            )
        }
        (State::Permits { value, .. }, Kind::Semaphore) => {
            format!("<threading.Semaphore at {at}: value={value}>")
        }
        (State::Permits { value, bound, .. }, Kind::BoundedSemaphore) => format!(
            "<threading.BoundedSemaphore at {at}: value={value}/{}>",
            bound.unwrap_or(0)
        ),
        (State::Event(flag), _) => format!(
            "<threading.Event at {at}: {}>",
            if *flag { "set" } else { "unset" }
        ),
        _ => return None,
    })
}

/// The object's value, as `#GETVALUE` sends it.
fn snapshot(obj: &Object) -> Value {
    match &*obj.lock() {
        State::Dict(d) => d.to_value(),
        State::List(l) => Value::List(l.clone()),
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
        State::Queue { items, .. } => Value::List(items.iter().cloned().collect()),
        State::Iterator(it) => Value::List(it.as_slice().to_vec()),
        State::Permits { value, .. } => Value::Int(*value as i64),
        State::Event(flag) => Value::Bool(*flag),
        State::Condition { owner, .. } => Value::Bool(owner.is_some()),
        State::Barrier { count, .. } => Value::Int(*count as i64),
    }
}

fn unhashable(e: super::pyobj::Unhashable) -> Reply {
    exc("TypeError", vec![Value::str(e.to_string())])
}

/// Python's index into a sequence of `len`: negative from the end.
fn index(i: &Value, len: usize) -> Option<usize> {
    let i = i.as_i128()?;
    let i = if i < 0 { i + len as i128 } else { i };
    (0..len as i128).contains(&i).then_some(i as usize)
}

/// A pickled `slice(start, stop, step)`: its `(start, stop, step)`.
fn slice_parts(v: &Value) -> Option<[Option<i128>; 3]> {
    let Value::Reduce { callable, args, .. } = v else {
        return None;
    };
    if !callable.is_global("builtins", "slice") {
        return None;
    }
    let a = args.as_seq()?;
    let part = |i: usize| a.get(i).and_then(Value::as_i128);
    Some(match a.len() {
        1 => [None, part(0), None],
        _ => [part(0), part(1), part(2)],
    })
}

/// Python's `slice.indices(len)` then `range(...)`: the positions a slice
/// selects; `None` if `v` is not a slice, an error for a zero step.
fn slice_positions(v: &Value, len: usize) -> Option<std::result::Result<Vec<usize>, Reply>> {
    let [start, stop, step] = slice_parts(v)?;
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
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    Some(Ok(out))
}

/// Where an empty slice starts (for insertion by slice assignment).
fn slice_start(v: &Value, len: usize) -> usize {
    match slice_parts(v) {
        Some([Some(s), _, _]) => {
            let len = len as i128;
            (if s < 0 { (s + len).max(0) } else { s.min(len) }) as usize
        }
        _ => 0,
    }
}

fn object_call(st: &mut State, method: &str, args: &[Value], kwds: &Value) -> Reply {
    let a0 = args.first();
    match st {
        State::Dict(d) => match method {
            "__getitem__" => match d.get(a0.unwrap_or(&Value::None)) {
                Ok(Some(v)) => Reply::Return(v.clone()),
                Ok(None) => exc("KeyError", vec![a0.cloned().unwrap_or(Value::None)]),
                Err(e) => unhashable(e),
            },
            "__setitem__" => match (args.first(), args.get(1)) {
                (Some(k), Some(v)) => match d.insert(k.clone(), v.clone()) {
                    Ok(_) => Reply::Return(Value::None),
                    Err(e) => unhashable(e),
                },
                _ => exc("TypeError", vec![Value::str("expected 2 arguments")]),
            },
            "__delitem__" => match d.remove(a0.unwrap_or(&Value::None)) {
                Ok(Some(_)) => Reply::Return(Value::None),
                Ok(None) => exc("KeyError", vec![a0.cloned().unwrap_or(Value::None)]),
                Err(e) => unhashable(e),
            },
            "__contains__" => match d.get(a0.unwrap_or(&Value::None)) {
                Ok(v) => Reply::Return(Value::Bool(v.is_some())),
                Err(e) => unhashable(e),
            },
            "__len__" => Reply::Return(Value::Int(d.len() as i64)),
            "get" => match d.get(a0.unwrap_or(&Value::None)) {
                Ok(Some(v)) => Reply::Return(v.clone()),
                Ok(None) => Reply::Return(args.get(1).cloned().unwrap_or(Value::None)),
                Err(e) => unhashable(e),
            },
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
            "pop" => match d.remove(a0.unwrap_or(&Value::None)) {
                Ok(Some((_, v))) => Reply::Return(v),
                Ok(None) => match args.get(1) {
                    Some(default) => Reply::Return(default.clone()),
                    None => exc("KeyError", vec![a0.cloned().unwrap_or(Value::None)]),
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
            "setdefault" => {
                let key = a0.cloned().unwrap_or(Value::None);
                match d.get(&key) {
                    Ok(Some(v)) => Reply::Return(v.clone()),
                    Ok(None) => {
                        let v = args.get(1).cloned().unwrap_or(Value::None);
                        let _ = d.insert(key, v.clone());
                        Reply::Return(v)
                    }
                    Err(e) => unhashable(e),
                }
            }
            "update" => {
                let mut pairs: Vec<(Value, Value)> = match a0 {
                    None => Vec::new(),
                    Some(Value::Dict(p)) => p.clone(),
                    Some(other) => match pairs_from(other) {
                        Ok(d2) => d2.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        Err(r) => return r,
                    },
                };
                if let Value::Dict(kw) = kwds {
                    pairs.extend(kw.iter().cloned());
                }
                for (k, v) in pairs {
                    if let Err(e) = d.insert(k, v) {
                        return unhashable(e);
                    }
                }
                Reply::Return(Value::None)
            }
            _ => exc("AttributeError", vec![Value::str(method)]),
        },
        State::List(l) => list_call(l, method, args, kwds),
        State::Namespace(d) => {
            let name = a0.cloned().unwrap_or(Value::None);
            match method {
                "__getattribute__" => match d.get(&name) {
                    Ok(Some(v)) => Reply::Return(v.clone()),
                    _ => exc(
                        "AttributeError",
                        vec![Value::str(format!(
                            "'Namespace' object has no attribute {}",
                            py_repr(&name)
                        ))],
                    ),
                },
                "__setattr__" => {
                    let _ = d.insert(name, args.get(1).cloned().unwrap_or(Value::None));
                    Reply::Return(Value::None)
                }
                "__delattr__" => match d.remove(&name) {
                    Ok(Some(_)) => Reply::Return(Value::None),
                    _ => exc("AttributeError", vec![name]),
                },
                _ => exc("AttributeError", vec![Value::str(method)]),
            }
        }
        State::Value { value, .. } => match method {
            "get" => Reply::Return(value.clone()),
            "set" => {
                *value = a0.cloned().unwrap_or(Value::None);
                Reply::Return(Value::None)
            }
            _ => exc("AttributeError", vec![Value::str(method)]),
        },
        State::Iterator(it) => match method {
            "__next__" => match it.next() {
                Some(v) => Reply::Return(v),
                None => exc("StopIteration", vec![]),
            },
            "close" => {
                *it = Vec::new().into_iter();
                Reply::Return(Value::None)
            }
            _ => exc("StopIteration", vec![]),
        },
        State::Queue { .. }
        | State::Permits { .. }
        | State::Event(_)
        | State::Condition { .. }
        | State::Barrier { .. } => {
            unreachable!("served by queue_call and sync_call")
        }
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
    if let Some(sl) = a0.and_then(|v| slice_positions(v, l.len())) {
        let sl = match sl {
            Ok(sl) => sl,
            Err(r) => return r,
        };
        return match method {
            "__getitem__" => Reply::Return(Value::List(sl.iter().map(|&i| l[i].clone()).collect())),
            "__delitem__" => {
                let mut drop: Vec<usize> = sl;
                drop.sort_unstable();
                for i in drop.into_iter().rev() {
                    l.remove(i);
                }
                Reply::Return(Value::None)
            }
            "__setitem__" => {
                let new = args.get(1).and_then(Value::as_seq).unwrap_or(&[]).to_vec();
                let contiguous = sl.windows(2).all(|w| w[1] == w[0] + 1);
                if contiguous {
                    let start = match (sl.first(), a0) {
                        (Some(&s), _) => s,
                        // An empty slice inserts at its start.
                        (None, Some(v)) => slice_start(v, l.len()),
                        (None, None) => 0,
                    };
                    l.splice(start..start + sl.len(), new);
                    Reply::Return(Value::None)
                } else if new.len() == sl.len() {
                    for (i, v) in sl.into_iter().zip(new) {
                        l[i] = v;
                    }
                    Reply::Return(Value::None)
                } else {
                    exc(
                        "ValueError",
                        vec![Value::str(format!(
                            "attempt to assign sequence of size {} to extended slice of size {}",
                            new.len(),
                            sl.len()
                        ))],
                    )
                }
            }
            _ => exc(
                "TypeError",
                vec![Value::str("slice indices are not allowed here")],
            ),
        };
    }
    match method {
        "__len__" => Reply::Return(Value::Int(l.len() as i64)),
        "__getitem__" => match a0.and_then(|i| index(i, l.len())) {
            Some(i) => Reply::Return(l[i].clone()),
            None => index_error("index"),
        },
        "__setitem__" => match a0.and_then(|i| index(i, l.len())) {
            Some(i) => {
                l[i] = args.get(1).cloned().unwrap_or(Value::None);
                Reply::Return(Value::None)
            }
            None => index_error("assignment index"),
        },
        "__delitem__" => match a0.and_then(|i| index(i, l.len())) {
            Some(i) => {
                l.remove(i);
                Reply::Return(Value::None)
            }
            None => index_error("assignment index"),
        },
        "__contains__" => Reply::Return(Value::Bool(
            a0.is_some_and(|x| l.iter().any(|v| py_eq(v, x))),
        )),
        "append" => {
            l.push(a0.cloned().unwrap_or(Value::None));
            Reply::Return(Value::None)
        }
        "extend" => match iterable_items(a0.unwrap_or(&Value::None)) {
            Ok(items) => {
                l.extend(items);
                Reply::Return(Value::None)
            }
            Err(r) => r,
        },
        "insert" => {
            let len = l.len() as i128;
            let at = a0.and_then(Value::as_i128).unwrap_or(0);
            let at = if at < 0 {
                (at + len).max(0)
            } else {
                at.min(len)
            } as usize;
            l.insert(at, args.get(1).cloned().unwrap_or(Value::None));
            Reply::Return(Value::None)
        }
        "pop" => {
            if l.is_empty() {
                return exc("IndexError", vec![Value::str("pop from empty list")]);
            }
            let at = match a0 {
                None => Some(l.len() - 1),
                Some(i) => index(i, l.len()),
            };
            match at {
                Some(i) => Reply::Return(l.remove(i)),
                None => exc("IndexError", vec![Value::str("pop index out of range")]),
            }
        }
        "count" => Reply::Return(Value::Int(
            a0.map_or(0, |x| l.iter().filter(|v| py_eq(v, x)).count()) as i64,
        )),
        "index" => match a0.and_then(|x| l.iter().position(|v| py_eq(v, x))) {
            Some(i) => Reply::Return(Value::Int(i as i64)),
            None => exc(
                "ValueError",
                vec![Value::str(format!(
                    "{} is not in list",
                    py_repr(a0.unwrap_or(&Value::None))
                ))],
            ),
        },
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
        "__add__" => match a0 {
            Some(Value::List(other)) => {
                Reply::Return(Value::List(l.iter().chain(other).cloned().collect()))
            }
            Some(other) => exc(
                "TypeError",
                vec![Value::str(format!(
                    "can only concatenate list (not \"{}\") to list",
                    other.kind()
                ))],
            ),
            None => exc("TypeError", vec![Value::str("expected 1 argument")]),
        },
        "__mul__" | "__rmul__" | "__imul__" => {
            let Some(n) = a0.and_then(Value::as_i128) else {
                return exc(
                    "TypeError",
                    vec![Value::str("can't multiply sequence by non-int")],
                );
            };
            let n = usize::try_from(n.max(0)).unwrap_or(0);
            if l.len().saturating_mul(n) > 1 << 26 {
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
        "__reversed__" => exc(
            "TypeError",
            vec![Value::str("cannot pickle 'list_reverseiterator' object")],
        ),
        "sort" => {
            if kwds.get("key").is_some_and(|k| *k != Value::None) {
                return exc(
                    "TypeError",
                    vec![Value::str("mp's manager server cannot call a key function")],
                );
            }
            let reverse = matches!(kwds.get("reverse"), Some(Value::Bool(true)));
            sort_list(l, reverse)
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// `list.sort()` for the orderings Python has among wire values: numbers
/// with numbers, str with str, bytes with bytes; anything else is the
/// `TypeError` CPython raises for mixed types.
fn sort_list(l: &mut [Value], reverse: bool) -> Reply {
    use std::cmp::Ordering as O;
    fn key(v: &Value) -> Option<(u8, f64, &[u8])> {
        Some(match v {
            Value::Bool(b) => (0, f64::from(u8::from(*b)), &[]),
            Value::Int(i) => (0, *i as f64, &[]),
            Value::Float(f) => (0, *f, &[]),
            Value::Str(s) => (1, 0.0, s.as_bytes()),
            Value::Bytes(b) => (2, 0.0, b),
            _ => return None,
        })
    }
    let mut failed: Option<(String, String)> = None;
    l.sort_by(|a, b| match (key(a), key(b)) {
        (Some((ka, fa, ba)), Some((kb, fb, bb))) if ka == kb => {
            let o = if ka == 0 {
                // Exact for ints beyond f64 precision too.
                match (a.as_i128(), b.as_i128()) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => fa.partial_cmp(&fb).unwrap_or(O::Equal),
                }
            } else {
                ba.cmp(bb)
            };
            if reverse {
                o.reverse()
            } else {
                o
            }
        }
        _ => {
            failed.get_or_insert((a.kind().to_string(), b.kind().to_string()));
            O::Equal
        }
    });
    match failed {
        Some((a, b)) => exc(
            "TypeError",
            vec![Value::str(format!(
                "'<' not supported between instances of '{a}' and '{b}'"
            ))],
        ),
        None => Reply::Return(Value::None),
    }
}

/// A `timeout` argument: `None` (or absent) waits for ever; a negative one
/// is 0 (as `threading` treats it for acquire's non-blocking check).
fn timeout_arg(v: Option<&Value>) -> Option<Duration> {
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

/// Waits on `obj.changed` until `ready` gives a reply or the deadline
/// passes (then `on_timeout`). Blocks this connection's thread only.
fn wait_on(
    obj: &Object,
    timeout: Option<Duration>,
    mut ready: impl FnMut(&mut State) -> Option<Reply>,
    on_timeout: impl FnOnce() -> Reply,
) -> Reply {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut st = obj.lock();
    loop {
        if let Some(r) = ready(&mut st) {
            drop(st);
            obj.changed.notify_all();
            return r;
        }
        st = match (timeout, deadline) {
            (None, _) | (Some(_), None) => obj.changed.wait(st).unwrap_or_else(|e| e.into_inner()),
            (Some(_), Some(d)) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // `on_timeout` may take the lock itself.
                    drop(st);
                    return on_timeout();
                }
                obj.changed
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

/// Lock, RLock, Semaphore, BoundedSemaphore and Event methods.
fn sync_call(obj: &Object, method: &str, args: &[Value], kwds: &Value, conn: u64) -> Reply {
    let rlock = obj.kind == Kind::RLock;
    match method {
        "acquire" => {
            let blocking = match arg(args, kwds, 0, "blocking") {
                Some(Value::Bool(b)) => *b,
                Some(Value::Int(n)) => *n != 0,
                _ => true,
            };
            let timeout = if blocking {
                timeout_arg(arg(args, kwds, 1, "timeout"))
            } else {
                Some(Duration::ZERO)
            };
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
                            *value += 1;
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
                *value += 1;
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
            obj.changed.notify_all();
            reply
        }
        "is_set" => match &*obj.lock() {
            State::Event(f) => Reply::Return(Value::Bool(*f)),
            _ => exc("TypeError", vec![Value::str("not an event")]),
        },
        "set" | "clear" => {
            if let State::Event(f) = &mut *obj.lock() {
                *f = method == "set";
            }
            obj.changed.notify_all();
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
fn condition_call(obj: &Object, method: &str, args: &[Value], kwds: &Value, conn: u64) -> Reply {
    let owns =
        |st: &State| matches!(st, State::Condition { owner: Some((o, _)), .. } if *o == conn);
    match method {
        "acquire" => {
            let blocking = !matches!(
                arg(args, kwds, 0, "blocking"),
                Some(Value::Bool(false)) | Some(Value::Int(0))
            );
            let timeout = if blocking {
                timeout_arg(arg(args, kwds, 1, "timeout"))
            } else {
                Some(Duration::ZERO)
            };
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
            obj.changed.notify_all();
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
            obj.changed.notify_all();
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
            obj.changed.notify_all();
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
fn barrier_call(obj: &Object, method: &str, args: &[Value], kwds: &Value) -> Reply {
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
                    obj.changed.notify_all();
                    return Reply::Return(Value::Int(index as i64));
                }
                (index, *generation, *resets)
            };
            wait_on(
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
                    obj.changed.notify_all();
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
            obj.changed.notify_all();
            Reply::Return(Value::None)
        }
        _ => exc("AttributeError", vec![Value::str(method)]),
    }
}

/// Queue methods: `get` and `put` may block this connection's thread only.
fn queue_call(obj: &Object, method: &str, args: &[Value], kwds: &Value) -> Reply {
    let flag = |i: usize, name: &str, default: bool| match arg(args, kwds, i, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(n)) => *n != 0,
        Some(Value::None) => false,
        Some(_) => true,
        None => default,
    };
    let timeout = |i: usize| timeout_arg(arg(args, kwds, i, "timeout"));
    match method {
        "qsize" | "empty" | "full" => {
            let st = obj.lock();
            let State::Queue { items, maxsize, .. } = &*st else {
                unreachable!()
            };
            Reply::Return(match method {
                "qsize" => Value::Int(items.len() as i64),
                "empty" => Value::Bool(items.is_empty()),
                _ => Value::Bool(*maxsize > 0 && items.len() >= *maxsize),
            })
        }
        "put" | "put_nowait" => {
            let mut item = Some(args.first().cloned().unwrap_or(Value::None));
            let block = method == "put" && flag(1, "block", true);
            let wait = if block {
                timeout(2)
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
                        Some(Reply::Return(Value::None))
                    }
                    _ => None,
                },
                || Reply::Error("queue", "Full", vec![]),
            )
        }
        "get" | "get_nowait" => {
            let block = method == "get" && flag(0, "block", true);
            let wait = if block {
                timeout(1)
            } else {
                Some(Duration::ZERO)
            };
            wait_on(
                obj,
                wait,
                |st| match st {
                    State::Queue { items, .. } => items.pop_front().map(Reply::Return),
                    _ => None,
                },
                || Reply::Error("_queue", "Empty", vec![]),
            )
        }
        "task_done" => {
            let mut st = obj.lock();
            let State::Queue { unfinished, .. } = &mut *st else {
                unreachable!()
            };
            if *unfinished == 0 {
                return exc(
                    "ValueError",
                    vec![Value::str("task_done() called too many times")],
                );
            }
            *unfinished -= 1;
            drop(st);
            obj.changed.notify_all();
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
