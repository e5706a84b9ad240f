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
//! Typeids served: every SyncManager typeid but `Pool` and `AsyncResult`
//! (they would run Python code in the server), with 3.14's additions
//! (`set`, list `clear`/`copy`, dict `|`, `fromkeys`, `reversed`, and
//! `locked` on the locks), and registered names bound to one shared object
//! of such a type. The objects and their methods are in `objects.rs`. The
//! server's owner can also serve an object of its own under a name
//! ([`Server::host`], a [`Hosted`] implementation): `mp map --listen`'s
//! task board is one.
//!
//! # Proxies inside shared objects
//!
//! A proxy a client sends as a value (`a.append(b)` where `b` is a proxy)
//! arrives as `RebuildProxy(func, Token, serializer, kwds)`. When its token
//! names one of this server's objects, the container keeps a reference to
//! that object (it lives while referenced: CPython's server keeps such
//! objects for ever), and returning it to a client sends the same pickle
//! back, which the client rebuilds into a proxy (and increfs). Until the
//! client's next request on that connection, the server keeps a reference
//! for the reply, so the object cannot go between the reply and the
//! client's incref. Tokens of other servers stay inert data.
//!
//! References are counted per object: `refcount` (the clients', what
//! `incref`/`decref` change and `number_of_objects` counts) and `internal`
//! (containers holding it, replies in flight, requests using it). An object
//! goes when both are 0, and what it held is released with it. A cycle of
//! containers holding each other is never released (CPython releases no
//! contained object at all).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::objects::{
    attribute_traceback, barrier_call, condition_call, exception_line, initial_state, object_call,
    object_repr, queue_call, set_peer, sync_call, traceback, unpicklable_lock, value_of, Object,
    Reply, State,
};
use super::proxyref::{for_each_proxy, normalize_proxies, ProxyRef};
use super::pyobj::py_repr;
use super::request::{decode_request_flat, decode_request_ref, FlatRequest, Ident, RequestRef};
use crate::connection::{
    authenticate_peer, Address, Connection, Listener, Waitable, DEFAULT_MAX_MESSAGE,
};
use crate::error::{Error, Result};
use crate::pickle::{FlatArgs, Value};

/// The kinds of object the server can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Python's `dict`.
    Dict,
    /// Python's `list`.
    List,
    /// Python's `set` (the `set` typeid of Python 3.14).
    Set,
    /// `multiprocessing.managers.Namespace`.
    Namespace,
    /// `multiprocessing.managers.Value` (typecode, value).
    Value,
    /// `array.array` (the `Array` typeid).
    Array,
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
            "set" => Kind::Set,
            "Namespace" => Kind::Namespace,
            "Value" => Kind::Value,
            "Array" => Kind::Array,
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

    /// The exposed methods CPython 3.11–3.13 lists for it (§3.10; `set`:
    /// 3.14's), as `create` and `get_methods` send them.
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
            Kind::Set => &[
                "__and__",
                "__class_getitem__",
                "__contains__",
                "__iand__",
                "__ior__",
                "__isub__",
                "__iter__",
                "__ixor__",
                "__len__",
                "__or__",
                "__rand__",
                "__ror__",
                "__rsub__",
                "__rxor__",
                "__sub__",
                "__xor__",
                "__ge__",
                "__gt__",
                "__le__",
                "__lt__",
                "add",
                "clear",
                "copy",
                "difference",
                "difference_update",
                "discard",
                "intersection",
                "intersection_update",
                "isdisjoint",
                "issubset",
                "issuperset",
                "pop",
                "remove",
                "symmetric_difference",
                "symmetric_difference_update",
                "union",
                "update",
            ],
            Kind::Namespace => &["__getattribute__", "__setattr__", "__delattr__"],
            Kind::Value => &["get", "set"],
            Kind::Array => &["__len__", "__getitem__", "__setitem__"],
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

    /// What Python 3.14's typed proxies add to [`exposed`](Self::exposed):
    /// they call it whatever list the server sent, so every client gets it.
    fn added_in_314(self) -> &'static [&'static str] {
        match self {
            Kind::List => &["clear", "copy"],
            Kind::Dict => &["__ior__", "__or__", "__reversed__", "__ror__", "fromkeys"],
            Kind::Lock
            | Kind::RLock
            | Kind::Semaphore
            | Kind::BoundedSemaphore
            | Kind::Condition => &["locked"],
            _ => &[],
        }
    }

    /// Methods mp adds (not in any exposed list, so Python's proxies do
    /// not offer them; `proxy._callmethod('incr', ('k', 1))` reaches them).
    fn mp_extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Dict => &["incr"],
            _ => &[],
        }
    }

    /// Whether a client may call `method` on it.
    fn accepts(self, method: &str) -> bool {
        // The commonest calls first, without a scan.
        match (self, method) {
            (Kind::Dict | Kind::List, "__getitem__" | "__setitem__") => return true,
            (Kind::Queue, "get" | "put") => return true,
            _ => {}
        }
        self.exposed().contains(&method)
            || self.added_in_314().contains(&method)
            || self.mp_extensions().contains(&method)
    }

    /// `repr(type(obj))` in CPython's server, for its error messages.
    fn python_class(self) -> &'static str {
        match self {
            Kind::Dict => "<class 'dict'>",
            Kind::List => "<class 'list'>",
            Kind::Set => "<class 'set'>",
            Kind::Namespace => "<class 'multiprocessing.managers.Namespace'>",
            Kind::Value => "<class 'multiprocessing.managers.Value'>",
            Kind::Array => "<class 'array.array'>",
            Kind::Queue => "<class 'queue.Queue'>",
            Kind::Iterator => "<class 'dict_keyiterator'>",
            Kind::Lock => "<class '_thread.lock'>",
            Kind::RLock => "<class '_thread.RLock'>",
            Kind::Semaphore => "<class 'threading.Semaphore'>",
            Kind::BoundedSemaphore => "<class 'threading.BoundedSemaphore'>",
            Kind::Event => "<class 'threading.Event'>",
            Kind::Condition => "<class 'threading.Condition'>",
            Kind::Barrier => "<class 'threading.Barrier'>",
        }
    }

    /// The SyncManager typeid that makes an object of this kind (for
    /// messages: `'jobs' is a Queue, not a dict`).
    pub fn typeid(self) -> &'static str {
        match self {
            Kind::Dict => "dict",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Namespace => "Namespace",
            Kind::Value => "Value",
            Kind::Array => "Array",
            Kind::Queue => "Queue",
            Kind::Iterator => "Iterator",
            Kind::Lock => "Lock",
            Kind::RLock => "RLock",
            Kind::Semaphore => "Semaphore",
            Kind::BoundedSemaphore => "BoundedSemaphore",
            Kind::Event => "Event",
            Kind::Condition => "Condition",
            Kind::Barrier => "Barrier",
        }
    }

    /// Whether an object of this kind serves a client that asked for
    /// `wanted` by name ([`Server`]'s `mp_named`): the same kind, or a lock
    /// for a lock and a semaphore for a semaphore.
    fn serves(self, wanted: Kind) -> bool {
        let family = |k: Kind| match k {
            Kind::RLock => Kind::Lock,
            Kind::BoundedSemaphore => Kind::Semaphore,
            k => k,
        };
        family(self) == family(wanted)
    }

    fn exposed_value(self) -> Value {
        Value::Tuple(self.exposed().iter().map(|m| Value::str(*m)).collect())
    }
}

/// What a server refuses beyond a size, so that one client cannot take
/// all its memory. CPython's server has none of these limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most objects alive at once (created and not yet released).
    pub max_objects: usize,
    /// Most objects alive at once that one connection's requests created
    /// (a Python client opens a connection per `create`, so this bounds
    /// what one client thread's method calls create: dict iterators).
    pub max_objects_per_connection: usize,
    /// Largest request accepted, in bytes (the frame length).
    pub max_message: usize,
}

impl Default for ServerLimits {
    /// 1,000,000 objects, 100,000 per connection, 64 MiB requests.
    fn default() -> ServerLimits {
        ServerLimits {
            max_objects: 1_000_000,
            max_objects_per_connection: 100_000,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// The object table, by id: ids come from requests (any string a client
/// sends is looked up), so a seeded hash, foldhash's rather than SipHash
/// (a third of the cost per lookup).
type Objects = HashMap<String, Entry, foldhash::quality::RandomState>;

struct Entry {
    obj: Arc<Object>,
    /// The clients' references (`incref`/`decref`).
    refcount: usize,
    /// The server's own: containers holding it, replies in flight,
    /// requests that name it.
    internal: usize,
}

/// An object the server's owner implements itself and serves under a
/// name ([`Server::host`]): a client reaches it as a registered name
/// (Python's `BaseManager.register(NAME)`, then `m.NAME()`), and its
/// methods are called on the connection's own thread. `mp map --listen`
/// serves its task board this way.
pub trait Hosted: Send + Sync {
    /// The method names clients may call (what `create` and
    /// `get_methods` send).
    fn exposed(&self) -> &'static [&'static str];
    /// Calls `method` for the client on connection `conn`: the value to
    /// return, or the last line of the traceback the client gets
    /// (`ValueError: ...`).
    fn call(&self, method: &str, args: Vec<Value>, conn: u64)
        -> std::result::Result<Value, String>;
    /// Connection `conn` ended (the client closed it or died).
    fn disconnected(&self, _conn: u64) {}
}

/// A hosted object: (name, ident, object).
type HostedEntry = (String, String, Arc<dyn Hosted>);

/// The manager server.
pub struct Server {
    objects: Mutex<Objects>,
    /// Registered names: typeid -> the kind and its constructor arguments
    /// (one shared object per name).
    registered: HashMap<String, (Kind, Vec<Value>)>,
    /// A named object (a registered name's, or one `mp_named` created):
    /// name -> (ident, object). It lives as long as the server, as the
    /// object CPython's registered callable returns: its entry in
    /// `objects` keeps one internal reference for ever.
    shared_by_name: Mutex<HashMap<String, (String, Arc<Object>)>>,
    next_id: AtomicU64,
    next_conn: AtomicU64,
    address: Address,
    stopping: AtomicBool,
    limits: ServerLimits,
    /// Objects alive per creating connection (for the per-connection cap).
    per_conn: Mutex<HashMap<u64, usize>>,
    /// Hosted objects: name -> (ident, object); they live as long as the
    /// server.
    hosted: Mutex<Vec<HostedEntry>>,
    /// Whether `hosted` has any (so a method call on a server with none
    /// does not take its lock).
    has_hosted: AtomicBool,
}

/// The traceback of an unknown typeid or object id.
fn key_error_traceback(key: &str) -> Reply {
    traceback(format!("KeyError: {}", py_repr(&Value::str(key))))
}

/// A connection being served: its id (owner of the locks it takes) and
/// the references kept for its last reply.
struct Session {
    id: u64,
    holds: Vec<String>,
}

/// One method call's proxy references: the objects its arguments name
/// (pinned while it runs), the references its reply carries out, and the
/// ones the object no longer holds (released after the call).
struct CallRefs {
    pinned: HashSet<String>,
    holds: RefCell<Vec<String>>,
    drops: RefCell<Vec<String>>,
}

impl CallRefs {
    fn new(pinned: HashSet<String>) -> CallRefs {
        CallRefs {
            pinned,
            holds: RefCell::new(Vec::new()),
            drops: RefCell::new(Vec::new()),
        }
    }
}

/// How many times each id in `candidates` is named by a proxy in `values`.
fn count_refs<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    candidates: &HashSet<String>,
) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for v in values {
        for_each_proxy(v, &mut |p| {
            if candidates.contains(p.id) {
                *out.entry(p.id.to_string()).or_insert(0) += 1;
            }
        });
    }
    out
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_unspecified(host: &str) -> bool {
    host.is_empty()
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
}

/// Whether the named object `obj` serves a client that asked for `kind`
/// (made as `typeid(*args)`): the kind (see [`Kind::serves`]), and for a
/// barrier its parties, for a bounded semaphore its permits.
fn named_serves(
    name: &str,
    obj: &Object,
    kind: Kind,
    typeid: &str,
    args: &[Value],
) -> std::result::Result<(), Reply> {
    let name = py_repr(&Value::str(name));
    if !obj.kind.serves(kind) {
        return Err(traceback(format!(
            "TypeError: {name} is a {}, not a {typeid}",
            obj.kind.typeid()
        )));
    }
    let wanted = args.first().and_then(Value::as_i128);
    let (have, what) = match &*obj.lock() {
        State::Barrier { parties, .. } => (Some(*parties), "parties"),
        State::Permits {
            bound: Some(bound), ..
        } if kind == Kind::BoundedSemaphore => (Some(*bound), "permits"),
        _ => (None, ""),
    };
    match (have, wanted) {
        (Some(have), Some(wanted)) if i128::try_from(have).ok() != Some(wanted) => {
            Err(traceback(format!(
                "ValueError: {name} is a {} of {have} {what}, not {wanted}",
                obj.kind.typeid()
            )))
        }
        _ => Ok(()),
    }
}

/// A start for object ids that differs between servers, so a token of
/// another mp server is not taken for one of this server's (ids keep
/// CPython's `7f…` look).
fn random_id_base() -> u64 {
    let mut b = [0u8; 4];
    let r = getrandom::getrandom(&mut b).map_or(0, |_| u64::from(u32::from_le_bytes(b)));
    0x7f00_0000_0000 + ((r & 0x00ff_ffff) << 12)
}

/// The creator recorded for a registered name's object (not counted
/// against any connection).
const NAMED: u64 = u64::MAX;

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
    /// registered names (`--register get_queue=queue`) and the default
    /// [`ServerLimits`].
    pub fn new(address: Address, registered: HashMap<String, (Kind, Vec<Value>)>) -> Arc<Server> {
        Server::with_limits(address, registered, ServerLimits::default())
    }

    /// [`Server::new`] with these limits.
    pub fn with_limits(
        address: Address,
        registered: HashMap<String, (Kind, Vec<Value>)>,
        limits: ServerLimits,
    ) -> Arc<Server> {
        Arc::new(Server {
            objects: Mutex::new(Objects::default()),
            registered,
            shared_by_name: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(random_id_base()),
            next_conn: AtomicU64::new(1),
            address,
            stopping: AtomicBool::new(false),
            limits,
            per_conn: Mutex::new(HashMap::new()),
            hosted: Mutex::new(Vec::new()),
            has_hosted: AtomicBool::new(false),
        })
    }

    /// Serves `obj` under `name` (a typeid for clients, as a `--register`ed
    /// name is), before [`Server::serve_forever`].
    pub fn host(&self, name: &str, obj: Arc<dyn Hosted>) {
        let ident = self.new_ident();
        let mut hosted = self.hosted.lock().unwrap_or_else(|e| e.into_inner());
        // Set before the entry shows: whoever finds it also sees the flag.
        self.has_hosted.store(true, Ordering::SeqCst);
        hosted.push((name.to_string(), ident, obj));
    }

    /// The hosted object called `name` (by_name) or with id `ident`.
    fn hosted_find(&self, key: &str, by_name: bool) -> Option<(String, Arc<dyn Hosted>)> {
        let hosted = self.hosted.lock().unwrap_or_else(|e| e.into_inner());
        hosted
            .iter()
            .find(|(n, i, _)| if by_name { n == key } else { i == key })
            .map(|(_, i, o)| (i.clone(), o.clone()))
    }

    fn hosted_exposed(obj: &dyn Hosted) -> Value {
        Value::Tuple(obj.exposed().iter().map(|m| Value::str(*m)).collect())
    }

    fn objects(&self) -> MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn per_conn(&self) -> MutexGuard<'_, HashMap<u64, usize>> {
        self.per_conn.lock().unwrap_or_else(|e| e.into_inner())
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
        if let Reply::Return(v) = &reply {
            // The common reply, pickled without building its tuple (and
            // without the encoder for None, a bool or a small int).
            return conn
                .send_encoded(|b| crate::pickle::encode::dumps_pair_into("#RETURN", v, b))
                .is_ok();
        }
        conn.send_value(&self.reply_value(reply)).is_ok()
    }

    /// The `(kind, result)` tuple a reply is sent as.
    fn reply_value(&self, reply: Reply) -> Value {
        let (kind, result) = match reply {
            Reply::Return(v) => ("#RETURN", v),
            Reply::Error(module, name, args) => {
                ("#ERROR", Value::new_exception(module, name, args))
            }
            Reply::Traceback(text) => ("#TRACEBACK", Value::str(text)),
            Reply::Unserializable(text) => ("#UNSERIALIZABLE", Value::str(text)),
            Reply::Proxy(typeid, kind, ident) => (
                "#PROXY",
                Value::Tuple(vec![kind.exposed_value(), self.token(&typeid, ident)]),
            ),
        };
        Value::Tuple(vec![Value::str(kind), result])
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

    fn handle(self: Arc<Server>, mut conn: Connection) {
        conn.set_max_message(Some(self.limits.max_message));
        let mut session = Session {
            id: self.next_conn.fetch_add(1, Ordering::Relaxed),
            holds: Vec::new(),
        };
        let bytes = match conn.recv_bytes(None) {
            Ok(b) => b,
            Err(Error::TooLong { len, max }) => return refuse_oversize(&conn, len, max),
            Err(_) => return,
        };
        let req = match decode_request_ref(&bytes) {
            Ok(r) => r,
            Err(e) => {
                let _ = self.send_reply(&conn, traceback(e));
                return;
            }
        };
        match &*req.method {
            "shutdown" => {
                self.stopping.store(true, Ordering::SeqCst);
                // CPython answers twice (§3.3).
                let _ = Self::send(&conn, "#RETURN", Value::None);
                let _ = Self::send(&conn, "#RETURN", Value::None);
                // Wake the accept loop so it sees `stopping`.
                let _ = crate::connection::client(&self.address, None);
            }
            "accept_connection" => {
                if Self::send(&conn, "#RETURN", Value::None) {
                    self.serve_methods(&conn, &mut session);
                }
            }
            _ => {
                let reply = self.server_function(req, &session);
                let _ = self.send_reply(&conn, reply);
            }
        }
    }

    /// A server-level function but `shutdown` and `accept_connection`
    /// (which act on the connection itself).
    fn server_function(&self, req: RequestRef<'_>, session: &Session) -> Reply {
        let reply = match &*req.method {
            "dummy" => Reply::Return(Value::None),
            "create" => self.create(req, session),
            "mp_named" => self.mp_named(&req.args),
            "incref" => self.incref(&req.args),
            "decref" => self.decref(&req.args),
            "get_methods" => self.get_methods(&req.args),
            "debug_info" => Reply::Return(Value::str(self.debug_info())),
            "number_of_objects" => Reply::Return(Value::Int(
                self.objects().values().filter(|e| e.refcount > 0).count() as i64,
            )),
            other => traceback(format!(
                "AssertionError: {} unrecognized",
                py_repr(&Value::str(other))
            )),
        };
        // Server-level functions answer #RETURN or #TRACEBACK only (§3.2):
        // their exceptions are formatted, not pickled.
        match reply {
            Reply::Error(module, name, args) => traceback(exception_line(module, name, &args)),
            r => r,
        }
    }

    /// Answers one request without a connection, as the fuzz target
    /// (`fuzz/fuzz_targets/manager_request.rs`) and the tests drive the
    /// server: the pickled reply to `request`, a server-level function (but
    /// `shutdown` and `accept_connection`) or a method call. Calls that can
    /// block (on a Queue, lock, Event, Condition or Barrier) are refused,
    /// and so is anything that would wait for a next request: references
    /// kept for the reply are released before this returns.
    #[doc(hidden)]
    pub fn answer_detached(&self, request: &[u8]) -> Vec<u8> {
        let mut session = Session {
            id: self.next_conn.fetch_add(1, Ordering::Relaxed),
            holds: Vec::new(),
        };
        let reply = match decode_request_ref(request) {
            Err(e) => traceback(e),
            Ok(req) => match &*req.method {
                "shutdown" | "accept_connection" => {
                    traceback("RuntimeError: not served without a connection")
                }
                "dummy" | "create" | "incref" | "decref" | "get_methods" | "debug_info"
                | "number_of_objects" => self.server_function(req, &session),
                _ => {
                    let kind = match &req.ident {
                        Ident::Str(i) => self.objects().get(i.as_ref()).map(|e| e.obj.kind),
                        _ => None,
                    };
                    match kind {
                        Some(
                            Kind::Queue
                            | Kind::Lock
                            | Kind::RLock
                            | Kind::Semaphore
                            | Kind::BoundedSemaphore
                            | Kind::Event
                            | Kind::Condition
                            | Kind::Barrier,
                        ) => traceback("RuntimeError: may block: not served without a connection"),
                        _ => self.method_call(req, &mut session),
                    }
                }
            },
        };
        self.release(std::mem::take(&mut session.holds));
        crate::pickle::dumps(&self.reply_value(reply))
    }

    fn new_ident(&self) -> String {
        format!("{:x}", self.next_id.fetch_add(0x20, Ordering::Relaxed))
    }

    /// A new object with refcount 1, within the limits; `creator` is the
    /// connection whose request made it. A named one ([`NAMED`]) starts
    /// with no client reference and a permanent internal one.
    fn register(
        &self,
        typeid: &str,
        kind: Kind,
        state: State,
        creator: u64,
    ) -> std::result::Result<(String, Arc<Object>), Reply> {
        let ident = self.new_ident();
        let obj = Arc::new(Object::new(typeid, kind, state, creator, creator == NAMED));
        let mut objs = self.objects();
        let max = self.limits.max_objects;
        if objs.len() >= max {
            return Err(traceback(format!(
                "MemoryError: mp serve-manager holds {} objects, its limit \
                 (--max-objects {max}): release some (a proxy's last reference going \
                 releases its object) or start the server with a higher --max-objects",
                objs.len()
            )));
        }
        if creator != NAMED {
            let max = self.limits.max_objects_per_connection;
            let mut per = self.per_conn();
            let n = per.entry(creator).or_insert(0);
            if *n >= max {
                return Err(traceback(format!(
                    "MemoryError: this connection created {n} objects that are still alive, \
                     mp serve-manager's limit per connection (--max-objects-per-connection \
                     {max}): release some first"
                )));
            }
            *n += 1;
        }
        let named = creator == NAMED;
        objs.insert(
            ident.clone(),
            Entry {
                obj: obj.clone(),
                refcount: usize::from(!named),
                internal: usize::from(named),
            },
        );
        Ok((ident, obj))
    }

    fn create(&self, req: RequestRef<'_>, session: &Session) -> Reply {
        let mut kwds = req.kwds_value();
        let mut args = req.args;
        if args.is_empty() {
            return traceback(
                "TypeError: Server.create() missing 1 required positional argument: 'typeid'",
            );
        }
        let typeid_value = args.remove(0);
        let Some(typeid) = typeid_value.as_str() else {
            return traceback(format!("KeyError: {}", py_repr(&typeid_value)));
        };
        if let Some((ident, obj)) = self.hosted_find(typeid, true) {
            return Reply::Return(Value::Tuple(vec![
                Value::str(ident),
                Self::hosted_exposed(&*obj),
            ]));
        }
        if self.is_name(typeid) {
            // A named object: the one object, one more reference to it.
            return match self.named_object(typeid, None) {
                Ok((ident, obj)) => {
                    if let Some(e) = self.objects().get_mut(&ident) {
                        e.refcount += 1;
                    }
                    self.created(ident, obj.kind)
                }
                Err(r) => r,
            };
        }
        if matches!(typeid, "Pool" | "AsyncResult") {
            return traceback(format!(
                "NotImplementedError: mp serve-manager does not serve {typeid:?}: it would \
                 run Python code in the server, which mp never does"
            ));
        }
        let Some(kind) = Kind::of_typeid(typeid) else {
            return key_error_traceback(typeid);
        };
        let refs = match self.call_refs(&mut args, &mut kwds) {
            Ok(refs) => refs,
            Err(r) => return r,
        };
        let reply = match initial_state(kind, &args, &kwds)
            .and_then(|state| self.register(typeid, kind, state, session.id))
        {
            Ok((ident, obj)) => {
                // The new object keeps what it was made with.
                let st = obj.lock();
                self.settle(&obj, &st, &refs, &Vec::new);
                drop(st);
                self.created(ident, kind)
            }
            Err(r) => r,
        };
        self.finish(refs);
        reply
    }

    fn created(&self, ident: String, kind: Kind) -> Reply {
        Reply::Return(Value::Tuple(vec![Value::str(ident), kind.exposed_value()]))
    }

    fn names(&self) -> MutexGuard<'_, HashMap<String, (String, Arc<Object>)>> {
        self.shared_by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `typeid` is a name (`--register`ed, or made by `mp_named`).
    fn is_name(&self, typeid: &str) -> bool {
        self.registered.contains_key(typeid) || self.names().contains_key(typeid)
    }

    /// The object called `name`: made on first use, from its `--register`
    /// declaration or else from `want` (a kind, its typeid and constructor
    /// arguments), which an existing object must also serve.
    fn named_object(
        &self,
        name: &str,
        want: Option<(Kind, &str, &[Value])>,
    ) -> std::result::Result<(String, Arc<Object>), Reply> {
        let mut names = self.names();
        let (ident, obj) = match names.get(name) {
            Some((ident, obj)) => (ident.clone(), obj.clone()),
            None => {
                let (kind, args) = match (self.registered.get(name), want) {
                    (Some((kind, args)), _) => (*kind, args.as_slice()),
                    (None, Some((kind, typeid, args))) => {
                        if name.is_empty()
                            || name.starts_with('_')
                            || Kind::of_typeid(name).is_some()
                            || matches!(name, "Pool" | "AsyncResult" | "Iterator")
                        {
                            return Err(traceback(format!(
                                "ValueError: {} cannot name a shared object: a name must \
                                 not be empty, start with _ or be a SyncManager typeid \
                                 ({typeid} is one)",
                                py_repr(&Value::str(name))
                            )));
                        }
                        (kind, args)
                    }
                    (None, None) => return Err(key_error_traceback(name)),
                };
                let state = initial_state(kind, args, &Value::Dict(vec![]))?;
                let (ident, obj) = self.register(name, kind, state, NAMED)?;
                names.insert(name.to_string(), (ident.clone(), obj.clone()));
                (ident, obj)
            }
        };
        drop(names);
        if let Some((kind, typeid, args)) = want {
            named_serves(name, &obj, kind, typeid, args)?;
        }
        Ok((ident, obj))
    }

    /// `mp_named(name, typeid, *args)`, an mp extension: the id and
    /// exposed methods of the object called `name`, made on first use as
    /// `create(typeid, *args)` would make it, under that name (Python's
    /// `register(name)` then reaches it). No reference is taken: a named
    /// object lives as long as the server.
    fn mp_named(&self, args: &[Value]) -> Reply {
        let (Some(name), Some(typeid)) = (
            args.first().and_then(Value::as_str),
            args.get(1).and_then(Value::as_str),
        ) else {
            return traceback(
                "TypeError: mp_named() takes a name and a typeid (str), then the \
                 typeid's arguments",
            );
        };
        let Some(kind) = Kind::of_typeid(typeid) else {
            return key_error_traceback(typeid);
        };
        match self.named_object(name, Some((kind, typeid, &args[2..]))) {
            Ok((ident, obj)) => self.created(ident, obj.kind),
            Err(r) => r,
        }
    }

    fn incref(&self, args: &[Value]) -> Reply {
        let Some(ident) = args.first().and_then(Value::as_str) else {
            return traceback(
                "TypeError: incref() missing 1 required positional argument: 'ident'",
            );
        };
        if self.hosted_find(ident, false).is_some() {
            return Reply::Return(Value::None);
        }
        match self.objects().get_mut(ident) {
            // Also revives an object only containers held (CPython's
            // `id_to_local_proxy_obj`): a client rebuilt a proxy to it.
            Some(e) => {
                e.refcount += 1;
                Reply::Return(Value::None)
            }
            None => key_error_traceback(ident),
        }
    }

    fn decref(&self, args: &[Value]) -> Reply {
        let Some(ident) = args.first().and_then(Value::as_str) else {
            return traceback(
                "TypeError: decref() missing 1 required positional argument: 'ident'",
            );
        };
        if self.hosted_find(ident, false).is_some() {
            return Reply::Return(Value::None);
        }
        let gone = {
            let mut objs = self.objects();
            let Some(e) = objs.get_mut(ident) else {
                return key_error_traceback(ident);
            };
            if e.refcount == 0 {
                // Held only by containers: CPython skips the decref too.
                return Reply::Return(Value::None);
            }
            e.refcount -= 1;
            if e.refcount + e.internal > 0 {
                return Reply::Return(Value::None);
            }
            self.remove_entry(&mut objs, ident)
        };
        if let Some(obj) = gone {
            self.release(self.drop_object(&obj));
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
        if let Some((_, obj)) = ident.as_deref().and_then(|i| self.hosted_find(i, false)) {
            return Reply::Return(Self::hosted_exposed(&*obj));
        }
        let objs = self.objects();
        match ident.and_then(|i| objs.get(&i).map(|e| e.obj.kind)) {
            Some(kind) => Reply::Return(kind.exposed_value()),
            None => traceback("KeyError: get_methods: unknown token"),
        }
    }

    fn debug_info(&self) -> String {
        let mut live: Vec<(String, usize, Arc<Object>)> = self
            .objects()
            .iter()
            .filter(|(_, e)| e.refcount > 0)
            .map(|(i, e)| (i.clone(), e.refcount, e.obj.clone()))
            .collect();
        live.sort_by(|a, b| a.0.cmp(&b.0));
        // Rendered without the table's lock (each object takes its own).
        live.into_iter()
            .map(|(i, n, obj)| {
                let text: String = object_repr(&obj).chars().take(75).collect();
                format!("  {i}:       refcount={n}\n    {text}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn serve_methods(&self, conn: &Connection, session: &mut Session) {
        // Blocking calls watch this client (see `objects::wait_on`).
        set_peer(
            conn.wait_fd()
                .map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd)),
        );
        // A flat request's arguments, kept from one to the next.
        let mut args = FlatArgs::new();
        loop {
            // Decoded and served straight from the read buffer: the id and
            // method name stay borrowed from it.
            let reply = conn.with_message(|bytes| {
                // The client has rebuilt (and incref'ed) what the last reply
                // carried before it could send this.
                self.release(std::mem::take(&mut session.holds));
                if let Some(req) = decode_request_flat(bytes, &mut args) {
                    let reply = self.flat_call(req, &mut args, session);
                    args.clear();
                    return reply;
                }
                match decode_request_ref(bytes) {
                    Ok(req) => self.method_call(req, session),
                    Err(e) => traceback(e),
                }
            });
            let reply = match reply {
                Ok(r) => r,
                Err(Error::TooLong { len, max }) => {
                    refuse_oversize(conn, len, max);
                    break;
                }
                Err(_) => break,
            };
            if !self.send_reply(conn, reply) {
                break;
            }
        }
        set_peer(None);
        self.release(std::mem::take(&mut session.holds));
        // Beyond CPython: what this connection (a client thread) held is
        // released, so a client that died does not block the others.
        self.release_held_by(session.id);
        let hosted: Vec<Arc<dyn Hosted>> = self
            .hosted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, _, o)| o.clone())
            .collect();
        for obj in hosted {
            obj.disconnected(session.id);
        }
    }

    fn release_held_by(&self, conn_id: u64) {
        // Named objects are in the table for ever.
        let objs: Vec<Arc<Object>> = self.objects().values().map(|e| e.obj.clone()).collect();
        for obj in &objs {
            let mut st = obj.lock();
            match &mut *st {
                State::Permits {
                    value, held, owner, ..
                } => {
                    if let Some(n) = held.remove(&conn_id) {
                        *value = value.saturating_add(n);
                        if owner.is_some_and(|(o, _)| o == conn_id) {
                            *owner = None;
                        }
                        drop(st);
                        obj.notify_all();
                    }
                }
                State::Condition { owner, .. } if owner.is_some_and(|(o, _)| o == conn_id) => {
                    *owner = None;
                    drop(st);
                    obj.notify_all();
                }
                _ => {}
            }
        }
    }

    fn method_call(&self, req: RequestRef<'_>, session: &mut Session) -> Reply {
        if req.ident == Ident::None && req.method != "shutdown" {
            // An mp extension: a server function on a method connection
            // (CPython's server looks up the id None and fails), so a
            // client needs no connection of its own for it.
            return self.server_function(req, session);
        }
        let mut kwds = req.kwds_value();
        let RequestRef {
            ident,
            method,
            mut args,
            ..
        } = req;
        let ident = match &ident {
            Ident::Str(s) => s.as_ref(),
            other => return traceback(format!("KeyError: {}", py_repr(&other.to_value()))),
        };
        self.object_call(ident, &method, &mut args, &mut kwds, true, session)
    }

    /// [`Server::method_call`] for a request in the flat form: its
    /// arguments are leaves, so there is no proxy to look for in them.
    fn flat_call(&self, req: FlatRequest<'_>, args: &mut FlatArgs, session: &mut Session) -> Reply {
        let Some(ident) = req.ident else {
            return self.method_call(req.into_ref(args), session);
        };
        let (args, kwds) = args.parts();
        self.object_call(ident, req.method, args, kwds, false, session)
    }

    /// Calls `method` of the object `ident` (a hosted one or one of the
    /// table's); `proxies`: whether `args` and `kwds` may hold proxies
    /// (pinned for the call, see [`Server::call_refs`]).
    fn object_call(
        &self,
        ident: &str,
        method: &str,
        args: &mut [Value],
        kwds: &mut Value,
        proxies: bool,
        session: &mut Session,
    ) -> Reply {
        if self.has_hosted.load(Ordering::SeqCst) {
            if let Some(reply) = self.hosted_call(ident, method, args, session) {
                return reply;
            }
        }
        let Some(obj) = self.objects().get(ident).map(|e| e.obj.clone()) else {
            return key_error_traceback(ident);
        };
        let refs = if proxies {
            match self.call_refs(args, kwds) {
                Ok(refs) => refs,
                Err(r) => return r,
            }
        } else {
            CallRefs::new(HashSet::new())
        };
        let reply = self.call(&obj, method, args, kwds, &refs, session.id);
        session.holds.append(&mut refs.holds.borrow_mut());
        self.finish(refs);
        reply
    }

    /// A call of a hosted object's method, if `ident` is one.
    fn hosted_call(
        &self,
        ident: &str,
        method: &str,
        args: &mut [Value],
        session: &Session,
    ) -> Option<Reply> {
        let (_, hosted) = self.hosted_find(ident, false)?;
        if !hosted.exposed().contains(&method) {
            return Some(attribute_traceback(
                &format!(
                    "method {} is not in exposed={}",
                    py_repr(&Value::str(method)),
                    py_repr(&Self::hosted_exposed(&*hosted))
                ),
                method,
            ));
        }
        let args = args
            .iter_mut()
            .map(|a| std::mem::replace(a, Value::None))
            .collect();
        Some(match hosted.call(method, args, session.id) {
            Ok(v) => Reply::Return(v),
            Err(line) => traceback(line),
        })
    }

    /// After a request: drops what the object let go, and the pins.
    fn finish(&self, refs: CallRefs) {
        if refs.pinned.is_empty() && refs.drops.borrow().is_empty() {
            return;
        }
        self.release(refs.drops.into_inner());
        self.release(refs.pinned.into_iter().collect());
    }

    fn call(
        &self,
        obj: &Arc<Object>,
        method: &str,
        args: &mut [Value],
        kwds: &Value,
        refs: &CallRefs,
        conn_id: u64,
    ) -> Reply {
        let settle = |st: &State, reply: &Reply| {
            let out = self.settle(obj, st, refs, &|| reply.values());
            refs.holds.borrow_mut().extend(out);
        };
        if !obj.kind.accepts(method) {
            return match method {
                "#GETVALUE" => {
                    let st = obj.lock();
                    match value_of(&st) {
                        Some(v) => {
                            let r = Reply::Return(v);
                            settle(&st, &r);
                            r
                        }
                        None => Reply::Unserializable(format!(
                            "Traceback (most recent call last):\n  \
                             File \"mp serve-manager\", in serve_client\n\
                             TypeError: cannot pickle '{}' object\n",
                            unpicklable_lock(obj.kind)
                        )),
                    }
                }
                "__str__" | "__repr__" => Reply::Return(Value::str(object_repr(obj))),
                _ => attribute_traceback(
                    &format!(
                        "method {} of {} object is not in exposed={}",
                        py_repr(&Value::str(method)),
                        obj.kind.python_class(),
                        py_repr(&obj.kind.exposed_value())
                    ),
                    method,
                ),
            };
        }
        match obj.kind {
            Kind::Dict if method == "__iter__" => self.dict_iter(obj, refs, conn_id),
            Kind::Queue => queue_call(obj, method, args, kwds, &settle),
            Kind::Lock | Kind::RLock | Kind::Semaphore | Kind::BoundedSemaphore | Kind::Event => {
                sync_call(obj, method, args, kwds, conn_id)
            }
            Kind::Condition => condition_call(obj, method, args, kwds, conn_id),
            Kind::Barrier => barrier_call(obj, method, args, kwds),
            _ => {
                let mut st = obj.lock();
                let r = object_call(&mut st, method, args, kwds);
                settle(&st, &r);
                drop(st);
                obj.notify_all();
                r
            }
        }
    }

    /// `iter(dict)`: a new Iterator object over a snapshot of the keys
    /// (CPython's `method_to_typeid` makes it a proxy, `#PROXY`).
    fn dict_iter(&self, obj: &Arc<Object>, refs: &CallRefs, conn_id: u64) -> Reply {
        let st = obj.lock();
        let keys = match &*st {
            State::Dict(d) => d.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        // Keys that are proxies: the iterator takes references to them
        // while the dict still holds them.
        let taken = self.settle(obj, &st, refs, &|| keys.iter().collect());
        drop(st);
        match self.register(
            "Iterator",
            Kind::Iterator,
            State::Iterator(keys.into_iter()),
            conn_id,
        ) {
            Ok((ident, it)) => {
                let mut held = it.held();
                for id in taken {
                    *held.refs.entry(id).or_insert(0) += 1;
                }
                Reply::Proxy("Iterator".into(), Kind::Iterator, Value::str(ident))
            }
            Err(r) => {
                refs.drops.borrow_mut().extend(taken);
                r
            }
        }
    }

    // ---- references to own objects held inside values ----

    /// Whether a proxy's token names this server: `(address matches, same
    /// port)`. The address matches when it is this server's (a loopback
    /// name for a loopback server, any host for one on 0.0.0.0).
    fn own_address(&self, p: &ProxyRef<'_>) -> (bool, bool) {
        match (&self.address, p.address) {
            (Address::Unix(path), Value::Str(s)) => (*s == *path.to_string_lossy(), false),
            (Address::Tcp { host, port }, _) => match p.tcp_address() {
                Some((h, pt)) if pt == i128::from(*port) => (
                    h == host || (is_loopback(h) && is_loopback(host)) || is_unspecified(host),
                    true,
                ),
                _ => (false, false),
            },
            _ => (false, false),
        }
    }

    /// Finds the proxies in a request's values that name this server's
    /// objects, takes a reference to each (so it lives while the request
    /// runs) and rewrites them as CPython's server would send them back.
    /// A token with this server's address naming an object it does not
    /// have is the `KeyError` CPython's server raises; proxies of other
    /// servers are left as they came.
    /// A request's references: the proxies in its `args` and `kwds`,
    /// pinned for the call (see [`Server::pin_proxies`]).
    fn call_refs(
        &self,
        args: &mut [Value],
        kwds: &mut Value,
    ) -> std::result::Result<CallRefs, Reply> {
        let mut any = false;
        for v in args.iter().chain(std::iter::once(&*kwds)) {
            for_each_proxy(v, &mut |_| any = true);
        }
        if !any {
            return Ok(CallRefs::new(HashSet::new()));
        }
        let mut values: Vec<&mut Value> = args.iter_mut().collect();
        values.push(kwds);
        self.pin_proxies(&mut values).map(CallRefs::new)
    }

    fn pin_proxies(
        &self,
        values: &mut [&mut Value],
    ) -> std::result::Result<HashSet<String>, Reply> {
        let mut found: Vec<(String, String, bool, bool)> = Vec::new();
        for v in values.iter() {
            for_each_proxy(v, &mut |p| {
                let (matches, same_port) = self.own_address(&p);
                found.push((p.id.to_string(), p.typeid.to_string(), matches, same_port));
            });
        }
        let mut pinned = HashSet::new();
        if found.is_empty() {
            return Ok(pinned);
        }
        let mut exposed: HashMap<String, Value> = HashMap::new();
        let missing = {
            let mut objs = self.objects();
            let mut missing = None;
            for (id, typeid, matches, same_port) in found {
                let Some(e) = objs.get_mut(&id) else {
                    if matches {
                        missing = Some(id);
                        break;
                    }
                    continue;
                };
                let own = matches || (same_port && e.obj.typeid == typeid);
                if own && pinned.insert(id.clone()) {
                    e.internal += 1;
                    exposed.insert(id, e.obj.kind.exposed_value());
                }
            }
            missing
        };
        if let Some(id) = missing {
            self.release(pinned.into_iter().collect());
            return Err(key_error_traceback(&id));
        }
        for v in values.iter_mut() {
            normalize_proxies(v, &|id| pinned.contains(id), &|id| exposed.get(id).cloned());
        }
        Ok(pinned)
    }

    /// Under `obj`'s lock, right after an operation on it: brings its
    /// record of the own proxies its state holds up to date (a reference
    /// taken for each new one; the ones gone are released after the call)
    /// and takes a reference for each own proxy `outgoing` carries out,
    /// returning their ids. Taken here, under the lock, so a proxy moving
    /// from the state into a reply is never without a reference.
    fn settle<'v>(
        &self,
        obj: &Object,
        st: &State,
        refs: &CallRefs,
        outgoing: &dyn Fn() -> Vec<&'v Value>,
    ) -> Vec<String> {
        let mut held = obj.held();
        if refs.pinned.is_empty() && held.refs.is_empty() {
            return Vec::new();
        }
        let candidates: HashSet<String> = held
            .refs
            .keys()
            .cloned()
            .chain(refs.pinned.iter().cloned())
            .collect();
        let now = if held.dead {
            HashMap::new()
        } else {
            count_refs(st.values(), &candidates)
        };
        let mut take = Vec::new();
        let mut drop = Vec::new();
        for (id, &n) in &now {
            let before = held.refs.get(id).copied().unwrap_or(0);
            take.extend((before..n).map(|_| id.clone()));
        }
        for (id, &before) in &held.refs {
            let n = now.get(id).copied().unwrap_or(0);
            drop.extend((n..before).map(|_| id.clone()));
        }
        held.refs = now;
        let out: Vec<String> = count_refs(outgoing(), &candidates)
            .into_iter()
            .flat_map(|(id, n)| std::iter::repeat_n(id, n))
            .collect();
        std::mem::drop(held);
        take.extend(out.iter().cloned());
        self.add_internal(&take);
        refs.drops.borrow_mut().extend(drop);
        out
    }

    fn add_internal(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let mut objs = self.objects();
        for id in ids {
            if let Some(e) = objs.get_mut(id) {
                e.internal += 1;
            }
        }
    }

    /// Drops one internal reference per id; an object left with none at
    /// all goes, and so does what it held (iteratively, however deep).
    fn release(&self, mut work: Vec<String>) {
        while let Some(id) = work.pop() {
            let gone = {
                let mut objs = self.objects();
                let Some(e) = objs.get_mut(&id) else {
                    continue;
                };
                e.internal = e.internal.saturating_sub(1);
                if e.refcount + e.internal > 0 {
                    continue;
                }
                self.remove_entry(&mut objs, &id)
            };
            if let Some(obj) = gone {
                work.extend(self.drop_object(&obj));
            }
        }
    }

    fn remove_entry(&self, objs: &mut Objects, id: &str) -> Option<Arc<Object>> {
        let e = objs.remove(id)?;
        if e.obj.creator != NAMED {
            let mut per = self.per_conn();
            if let Some(n) = per.get_mut(&e.obj.creator) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per.remove(&e.obj.creator);
                }
            }
        }
        Some(e.obj)
    }

    /// An object that went: the references its state held, to release (a
    /// registered name's object lives on with them).
    fn drop_object(&self, obj: &Object) -> Vec<String> {
        if obj.named {
            return Vec::new();
        }
        let mut held = obj.held();
        held.dead = true;
        std::mem::take(&mut held.refs)
            .into_iter()
            .flat_map(|(id, n)| std::iter::repeat_n(id, n))
            .collect()
    }
}

/// A request over the size cap: the client gets a `#TRACEBACK` that says
/// so (its `RemoteError`), then this connection ends (the rest of the
/// message cannot be skipped without reading it); no other connection is
/// affected. What the client still sends is read and dropped for a few
/// seconds first, so closing does not reset the connection before the
/// client has read the reply.
fn refuse_oversize(conn: &Connection, len: u64, max: usize) {
    use nix::errno::Errno;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::socket::{recv, send, shutdown, MsgFlags, Shutdown};
    use std::os::fd::AsRawFd;
    let Some(fd) = conn.wait_fd() else {
        return;
    };
    let raw = fd.as_raw_fd();
    let text = format!(
        "Traceback (most recent call last):\nValueError: mp serve-manager: a request of \
         {len} bytes is over the server's limit of {max} bytes (mp serve-manager \
         --max-message); this connection is closed\n"
    );
    let payload = crate::pickle::dumps(&Value::Tuple(vec![
        Value::str("#TRACEBACK"),
        Value::str(text),
    ]));
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    let mut sent = 0;
    while sent < frame.len() {
        match send(raw, &frame[sent..], MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
    let _ = shutdown(raw, Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            break;
        }
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match recv(raw, &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => break,
        }
    }
}
