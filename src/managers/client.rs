//! The client side of the manager protocol: [`SyncManager`] and [`BaseProxy`],
//! speaking to `mp serve-manager` or to CPython's own manager server.
//!
//! The flows are CPython's (wire spec §3.6): each proxy owns one reference
//! on the server (`create` gives it, `decref` on drop returns it); method
//! calls go over one persistent `accept_connection` connection per thread and
//! per manager, opened on first use and reopened after a fork; server
//! functions (`create`, `incref`, `decref`, `shutdown`) use a short
//! connection each. A new method connection sends `accept_connection`
//! together with its first request. Beyond CPython, for mp's server:
//! [`SyncManager::named`] (`mp_named`, objects by name, made on first use)
//! goes over the method connection, so a client that names an object and
//! calls it uses one connection (what each `mp queue ...` does).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::connection::{client_within, Address, Connection};
use crate::managers::pyobj::{py_repr, py_str};
use crate::pickle::{self, Value};
use crate::process::Process;
use crate::{Error, Result};

/// Where a manager listens and the key that opens it, shared by every
/// proxy of that manager (a clone is a reference count: every call hands
/// one to the reply's decoder).
#[derive(Clone)]
pub(crate) struct Endpoint(Arc<Place>);

pub(crate) struct Place {
    pub(crate) address: Address,
    pub(crate) authkey: Option<Arc<[u8]>>,
    /// A limit on each TCP connect (none: the system's, minutes).
    pub(crate) connect_timeout: Option<Duration>,
}

impl std::ops::Deref for Endpoint {
    type Target = Place;
    fn deref(&self) -> &Place {
        &self.0
    }
}

impl Endpoint {
    fn new(address: Address, authkey: Option<Arc<[u8]>>) -> Endpoint {
        Endpoint(Arc::new(Place {
            address,
            authkey,
            connect_timeout: None,
        }))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key itself.
        f.debug_struct("Endpoint")
            .field("address", &self.address)
            .field("authkey", &self.authkey.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// CPython's `multiprocessing.managers.Token`: which object, of which
/// type, on which manager.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    /// The typeid it was created with (`dict`, `Queue`, a registered name...).
    pub typeid: String,
    /// The manager's address, as this client reaches it.
    pub address: Address,
    /// The server's id for the object (opaque; CPython uses hex of `id(obj)`).
    pub id: String,
}

/// Sends `(ident, method, args, kwds)`, a manager request, pickled from
/// references (no request tuple is built).
fn send_request(
    conn: &Connection,
    ident: Option<&str>,
    method: &str,
    args: &[Value],
    kwds: &[(Value, Value)],
) -> Result<()> {
    conn.send_encoded(|frame| {
        crate::pickle::encode::dumps_request_into(ident, method, args, kwds, frame)
    })
}

/// The next reply on `conn`: `Ok` with the result of a `#RETURN`, read
/// straight from the connection's buffer (no reply tuple, no tag string),
/// or `Err` with any other reply whole, for [`parse_reply`].
fn recv_reply(conn: &Connection) -> Result<std::result::Result<Value, Value>> {
    conn.with_message(|bytes| {
        let limits = pickle::Limits::default();
        if let Some(("#RETURN", v)) = pickle::loads_flat_pair(bytes, &limits) {
            return Ok(Ok(v));
        }
        match pickle::loads_outer_tuple::<_, 1>(bytes, &limits, false, 1, |l| l.str()) {
            Some(("#RETURN", [v])) => Ok(Ok(v)),
            Some((tag, [v])) => Ok(Err(Value::Tuple(vec![Value::str(tag), v]))),
            None => pickle::loads(bytes)
                .map(Err)
                .map_err(|e| Error::Decode(crate::CodecError::from_err(e))),
        }
    })?
}

/// What a method call answered.
enum Reply {
    Value(Value),
    /// `#PROXY`: the result is a new shared object (e.g. `iter(dict)`).
    Proxy {
        exposed: Vec<String>,
        typeid: String,
        id: String,
    },
}

/// The name CPython's client raises for an exception global, without `builtins.`.
fn exception_name(module: &str, name: &str) -> String {
    if module == "builtins" {
        name.to_string()
    } else {
        format!("{module}.{name}")
    }
}

/// An `#ERROR` payload (the exception instance) as an [`Error`].
fn python_error(exc: &Value) -> Error {
    // Any `module.Name(*args)` reduction: an exception class we do not
    // know by name is still reported by its name.
    let Value::Reduce { callable, args, .. } = exc else {
        return Error::Python {
            exception: "unknown".into(),
            message: py_repr(exc),
        };
    };
    let (Value::Global { module, name }, Value::Tuple(args)) = (&**callable, &**args) else {
        return Error::Python {
            exception: "unknown".into(),
            message: py_repr(exc),
        };
    };
    let (module, name) = (module.as_str(), name.as_str());
    match (module, name) {
        ("_queue" | "queue", "Empty") => Error::Empty,
        ("queue", "Full") => Error::Full,
        ("queue", "ShutDown") => Error::QueueClosed,
        ("threading", "BrokenBarrierError") => Error::BrokenBarrier,
        ("builtins", "KeyError") if args.len() == 1 => Error::KeyError(py_repr(&args[0])),
        _ => Error::Python {
            exception: exception_name(module, name),
            message: match args.as_slice() {
                [] => String::new(),
                [one] => py_str(one),
                many => py_repr(&Value::Tuple(many.to_vec())),
            },
        },
    }
}

/// An `exposed` tuple (of `create` or `#PROXY`) as method names.
fn method_names(exposed: &Value) -> Vec<String> {
    exposed
        .as_seq()
        .unwrap_or(&[])
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect()
}

fn parse_reply(reply: Value) -> Result<Reply> {
    let bad = |what: &str| Error::decode(format!("manager reply: {what}"));
    let Value::Tuple(pair) = reply else {
        return Err(bad("not a (kind, result) tuple"));
    };
    let [kind, result] = <[Value; 2]>::try_from(pair).map_err(|_| bad("not a pair"))?;
    match kind.as_str() {
        Some("#RETURN") => Ok(Reply::Value(result)),
        Some("#ERROR") => Err(python_error(&result)),
        Some("#TRACEBACK") => Err(Error::Remote(
            result
                .as_str()
                .map_or_else(|| py_repr(&result), str::to_string),
        )),
        Some("#UNSERIALIZABLE") => Err(Error::Remote(format!(
            "Unserializable message: {}",
            result
                .as_str()
                .map_or_else(|| py_repr(&result), str::to_string)
        ))),
        Some("#PROXY") => {
            let Value::Tuple(pair) = result else {
                return Err(bad("#PROXY without (exposed, token)"));
            };
            let [exposed, token] =
                <[Value; 2]>::try_from(pair).map_err(|_| bad("#PROXY without (exposed, token)"))?;
            let exposed = method_names(&exposed);
            let Value::Object {
                state: Some(state), ..
            } = token
            else {
                return Err(bad("#PROXY without a Token"));
            };
            match state.as_seq() {
                Some([typeid, _address, id]) => Ok(Reply::Proxy {
                    exposed,
                    typeid: typeid.as_str().unwrap_or_default().to_string(),
                    id: id
                        .as_str()
                        .ok_or_else(|| bad("a Token id is not a str"))?
                        .into(),
                }),
                _ => Err(bad("a Token has 3 fields")),
            }
        }
        _ => Err(bad(&format!(
            "unrecognized message type {}",
            py_repr(&kind)
        ))),
    }
}

impl Endpoint {
    fn connect(&self) -> Result<Connection> {
        client_within(&self.address, self.authkey.as_deref(), self.connect_timeout)
    }

    /// A server function on a short connection of its own (§3.1): its
    /// result, or [`Error::Remote`] with the server's traceback.
    fn server_call(
        &self,
        func: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<Value> {
        let conn = self.connect()?;
        send_request(&conn, None, func, &args, &kwds)?;
        match parse_reply(conn.recv_value()?)? {
            Reply::Value(v) => Ok(v),
            Reply::Proxy { .. } => Err(Error::decode(format!(
                "manager reply: {func} answered #PROXY"
            ))),
        }
    }

    fn incref(&self, id: &str) -> Result<()> {
        self.server_call("incref", vec![Value::str(id)], vec![])
            .map(drop)
    }

    fn decref(&self, id: &str) -> Result<()> {
        self.server_call("decref", vec![Value::str(id)], vec![])
            .map(drop)
    }

    /// `(id, method, args, kwds)` on this thread's persistent connection
    /// (no id: a server function there, an mp extension).
    fn method_call(
        &self,
        id: Option<&str>,
        method: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<Reply> {
        let raw = with_thread_connection(self, |conn, pending| {
            send_request(conn, id, method, &args, &kwds)?;
            if pending {
                accepted(conn)?;
            }
            recv_reply(conn)
        })?;
        match raw {
            Ok(v) => Ok(Reply::Value(v)),
            Err(reply) => parse_reply(reply),
        }
    }

    /// [`Endpoint::method_call`] with positional arguments only, given as
    /// a Rust value, pickled straight into the connection's buffer when
    /// they are leaves (see `dumps_flat_request_into`); `None` (nothing
    /// sent) when they are not.
    fn flat_call<A: Serialize + ?Sized>(
        &self,
        id: &str,
        method: &str,
        args: &A,
    ) -> Result<Option<Reply>> {
        let raw = with_thread_connection(self, |conn, pending| {
            let sent = conn.send_encoded_if(|frame| {
                crate::pickle::encode::dumps_flat_request_into(id, method, args, frame)
            })?;
            if pending {
                accepted(conn)?;
            }
            if !sent {
                return Ok(None);
            }
            recv_reply(conn).map(Some)
        })?;
        match raw {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(Reply::Value(v))),
            Some(Err(reply)) => parse_reply(reply).map(Some),
        }
    }
}

/// One persistent connection per (thread, manager), as CPython's
/// `BaseProxy._tls`, with the pid that opened it: a forked child opens its own.
struct ThreadConnection {
    pid: u32,
    conn: Connection,
    /// The manager that opened it: a call through the same one (the
    /// usual case) finds it by pointer, before comparing addresses.
    opener: Endpoint,
}

thread_local! {
    /// This thread's connections, one per manager address (a thread talks
    /// to few managers: a vector scan, no hashing per call).
    /// Boxed: a call takes its connection out and puts it back, which
    /// moves a pointer rather than the connection and its buffers.
    #[allow(clippy::vec_box)]
    static CONNECTIONS: RefCell<Vec<Box<(Address, ThreadConnection)>>> = const { RefCell::new(Vec::new()) };
    /// The manager whose reply is being decoded: a proxy inside the reply
    /// (a nested proxy) belongs to it.
    static DECODING_FOR: RefCell<Option<Endpoint>> = const { RefCell::new(None) };
}

fn thread_name() -> String {
    let process = crate::process::current_process().name;
    match std::thread::current().name() {
        Some("main") | None => process,
        Some(t) => format!("{process}|{t}"),
    }
}

/// The reply to `accept_connection`, sent on a new connection ahead of
/// the first request (one round trip for both).
fn accepted(conn: &Connection) -> Result<()> {
    match parse_reply(conn.recv_value()?) {
        Ok(Reply::Value(_)) => Ok(()),
        Ok(Reply::Proxy { .. }) => Err(Error::Protocol(
            "manager reply: accept_connection answered #PROXY".into(),
        )),
        Err(e) => Err(Error::Protocol(format!(
            "the manager refused accept_connection: {e}"
        ))),
    }
}

/// Runs `f` with this thread's connection to the manager, opened if
/// needed. On a new connection `accept_connection` is sent but its reply
/// not read: `f` gets `true` and must read it with [`accepted`] (after
/// sending its own request, so both travel together).
fn with_thread_connection<R>(
    ep: &Endpoint,
    f: impl FnOnce(&Connection, bool) -> Result<R>,
) -> Result<R> {
    let pid = crate::synchronize::my_pid();
    let cached = CONNECTIONS.with(|c| {
        let mut c = c.borrow_mut();
        let i = c
            .iter()
            .position(|e| Arc::ptr_eq(&e.1.opener.0, &ep.0) || e.0 == ep.address)?;
        Some(c.swap_remove(i))
    });
    let (entry, pending) = match cached {
        Some(entry) if entry.1.pid == pid => (entry, false),
        cached => {
            if let Some(inherited) = cached {
                // Inherited through fork: the socket is the parent's, and
                // the child may already have closed its descriptor (and the
                // number may be reused): never close it from here.
                let (_, tc) = *inherited;
                std::mem::forget(tc.conn);
            }
            // A connection of our own.
            let conn = ep.connect()?;
            send_request(
                &conn,
                None,
                "accept_connection",
                &[Value::str(thread_name())],
                &[],
            )?;
            (
                Box::new((
                    ep.address.clone(),
                    ThreadConnection {
                        pid,
                        conn,
                        opener: ep.clone(),
                    },
                )),
                true,
            )
        }
    };
    let result = f(&entry.1.conn, pending);
    // A connection that failed mid-call may be out of step: drop it; the
    // next call opens a fresh one.
    if !matches!(
        result,
        Err(Error::Io { .. }
            | Error::Eof
            | Error::Closed
            | Error::Decode(_)
            | Error::Protocol(_)
            | Error::TooLong { .. })
    ) {
        CONNECTIONS.with(|c| c.borrow_mut().push(entry));
    }
    result
}

/// Converts a reply value to `R`, letting proxies inside it attach to `ep`.
fn decode<R: DeserializeOwned>(ep: &Endpoint, v: Value) -> Result<R> {
    if let Value::None
    | Value::Bool(_)
    | Value::Int(_)
    | Value::BigInt(_)
    | Value::Float(_)
    | Value::Str(_)
    | Value::Bytes(_)
    | Value::ByteArray(_) = v
    {
        // Nothing in it can be a proxy (nor need normalising).
        return pickle::from_value(v).map_err(|e| Error::Decode(crate::CodecError::from_err(e)));
    }
    let previous = DECODING_FOR.with(|d| d.replace(Some(ep.clone())));
    let r = pickle::from_value(normalise(v));
    DECODING_FOR.with(|d| *d.borrow_mut() = previous);
    r.map_err(|e| Error::Decode(crate::CodecError::from_err(e)))
}

/// CPython sends dict views as `list(...)` reductions and iterators as
/// `iter(list)`: plain lists to a Rust caller.
fn normalise(v: Value) -> Value {
    match v {
        Value::Reduce {
            callable,
            args,
            state: None,
        } if callable.is_global("builtins", "list") || callable.is_global("builtins", "iter") => {
            match *args {
                Value::Tuple(mut a) if a.len() == 1 => match a.pop() {
                    Some(Value::List(items) | Value::Tuple(items)) => Value::List(items),
                    Some(other) => other,
                    None => Value::List(vec![]),
                },
                other => Value::Reduce {
                    callable,
                    args: Box::new(other),
                    state: None,
                },
            }
        }
        other => other,
    }
}

/// Rust arguments to the positional-argument list of a call: a tuple gives
/// its items, `()` none, anything else is the one argument.
pub(crate) fn args_of<A: Serialize + ?Sized>(args: &A) -> Result<Vec<Value>> {
    match pickle::to_value(args).map_err(|e| Error::Encode(crate::CodecError::from_err(e)))? {
        Value::Tuple(items) => Ok(items),
        Value::None => Ok(vec![]),
        one => Ok(vec![one]),
    }
}

pub(crate) fn value_of<T: Serialize + ?Sized>(v: &T) -> Result<Value> {
    pickle::to_value(v).map_err(|e| Error::Encode(crate::CodecError::from_err(e)))
}

/// A timeout as Python takes it: seconds as a float, `None` for no limit.
pub(crate) fn timeout_value(t: Option<Duration>) -> Value {
    t.map_or(Value::None, |d| Value::Float(d.as_secs_f64()))
}

/// The Python proxy class CPython's `SyncManager` uses for a typeid (what a
/// proxy is rebuilt as when it travels inside a pickle).
fn proxy_class(typeid: &str) -> &'static str {
    match typeid {
        "dict" => "DictProxy",
        "list" => "ListProxy",
        "set" => "SetProxy",
        "Value" => "ValueProxy",
        "Array" => "ArrayProxy",
        "Namespace" => "NamespaceProxy",
        "Event" => "EventProxy",
        "Lock" | "RLock" | "Semaphore" | "BoundedSemaphore" => "AcquirerProxy",
        "Condition" => "ConditionProxy",
        "Barrier" => "BarrierProxy",
        "Iterator" => "IteratorProxy",
        _ => "AutoProxy",
    }
}

/// A reference to an object held by a manager: CPython's `BaseProxy`.
///
/// It owns one reference on the server, returned when it is dropped (a
/// `decref` on a short connection). The typed proxies ([`DictProxy`](super::DictProxy),
/// [`QueueProxy`](super::QueueProxy)...) wrap one.
///
/// A proxy can travel:
/// * as an argument of [`Process::new`] or a pool task (fork, spawn or
///   forkserver): the child gets a working proxy (the authkey goes along, as
///   CPython sends it when spawning; the reference is handed over to the child);
/// * as an argument of another proxy's method (`list.append(&other)`): the
///   manager stores a reference to the object itself (a nested proxy), as
///   CPython does, and a proxy read back from it works here.
pub struct BaseProxy {
    token: Token,
    endpoint: Endpoint,
    /// The method names the server exposed (kept for `AutoProxy` pickles).
    exposed: Option<Vec<String>>,
    /// Whether this proxy owns a reference on the server (not one for a
    /// named object of mp's server, [`SyncManager::named`], which lives
    /// as long as the server).
    counted: bool,
}

impl fmt::Debug for BaseProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{} object, typeid {:?} at {} on {}>",
            proxy_class(&self.token.typeid),
            self.token.typeid,
            self.token.id,
            self.token.address
        )
    }
}

impl BaseProxy {
    /// Adopts a reference the server has already counted for us.
    fn adopt(
        endpoint: &Endpoint,
        typeid: String,
        id: String,
        exposed: Option<Vec<String>>,
    ) -> BaseProxy {
        BaseProxy {
            token: Token {
                typeid,
                address: endpoint.address.clone(),
                id,
            },
            endpoint: endpoint.clone(),
            exposed,
            counted: true,
        }
    }

    /// The object's token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Calls `method` on the object with positional `args` and keyword
    /// `kwds` (Python's `proxy._callmethod(method, args, kwds)`), and
    /// converts the result. A `#PROXY` result is refused here: use
    /// [`call_proxy`](Self::call_proxy).
    pub fn call_method<R: DeserializeOwned>(
        &self,
        method: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<R> {
        let reply = self
            .endpoint
            .method_call(Some(&self.token.id), method, args, kwds)?;
        self.value_reply(method, reply)
    }

    /// A method's reply as the value it returned.
    fn value_reply<R: DeserializeOwned>(&self, method: &str, reply: Reply) -> Result<R> {
        match reply {
            Reply::Value(v) => decode(&self.endpoint, v),
            Reply::Proxy { typeid, id, .. } => {
                // Do not leak the reference the server made for us.
                let _ = self.endpoint.decref(&id);
                Err(Error::decode(format!(
                    "{method} returned a shared {typeid} object (a proxy), not a value"
                )))
            }
        }
    }

    /// Calls `method` and returns its result as the pickled value it
    /// came as (dict views and iterators as lists), for a caller that
    /// handles any Python value (`mp dict get` prints it as JSON). A proxy
    /// inside stays data (a `RebuildProxy` reduction), not a working proxy.
    pub fn call_value(
        &self,
        method: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<Value> {
        match self
            .endpoint
            .method_call(Some(&self.token.id), method, args, kwds)?
        {
            Reply::Value(v) => Ok(normalise(v)),
            Reply::Proxy { typeid, id, .. } => {
                let _ = self.endpoint.decref(&id);
                Err(Error::decode(format!(
                    "{method} returned a shared {typeid} object (a proxy), not a value"
                )))
            }
        }
    }

    /// Calls a method whose result is a new shared object (`dict.__iter__`
    /// gives an `Iterator`): the proxy for it.
    pub fn call_proxy(
        &self,
        method: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<BaseProxy> {
        match self
            .endpoint
            .method_call(Some(&self.token.id), method, args, kwds)?
        {
            Reply::Proxy {
                exposed,
                typeid,
                id,
            } => Ok(BaseProxy::adopt(&self.endpoint, typeid, id, Some(exposed))),
            Reply::Value(v) => Err(Error::decode(format!(
                "{method} returned a value ({}), not a shared object",
                v.kind()
            ))),
        }
    }

    /// Shorthand: positional arguments from a Rust tuple (see [`Proxy::call`]).
    pub(crate) fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R> {
        // Leaves (a key, an item, a number) go straight into the frame.
        match self.endpoint.flat_call(&self.token.id, method, args)? {
            Some(reply) => self.value_reply(method, reply),
            None => self.call_method(method, args_of(args)?, vec![]),
        }
    }

    /// A copy of the object itself (Python's `proxy._getvalue()`).
    pub fn get_value<R: DeserializeOwned>(&self) -> Result<R> {
        self.call_method("#GETVALUE", vec![], vec![])
    }

    /// The object's `repr()`, computed by the manager (what `str(proxy)`
    /// prints in Python).
    pub fn repr(&self) -> Result<String> {
        self.call_method("__repr__", vec![], vec![])
    }

    /// A second proxy for the same object, with its own reference.
    pub fn try_clone(&self) -> Result<BaseProxy> {
        self.endpoint.incref(&self.token.id)?;
        Ok(BaseProxy {
            token: self.token.clone(),
            endpoint: self.endpoint.clone(),
            exposed: self.exposed.clone(),
            counted: true,
        })
    }

    /// A duplicate of the descriptor of this thread's connection to the
    /// manager (the one its method calls use; opened if there is none
    /// yet), close-on-exec. Poll it to learn that the manager closed the
    /// connection (readable at end of file): what a lock held through it
    /// is worth then depends on the server (mp's releases it).
    pub fn connection_fd(&self) -> Result<std::os::fd::OwnedFd> {
        with_thread_connection(&self.endpoint, |conn, pending| {
            if pending {
                accepted(conn)?;
            }
            conn.borrow_fd()?
                .try_clone_to_owned()
                .map_err(|e| Error::io("dup", e))
        })
    }
}

impl Drop for BaseProxy {
    fn drop(&mut self) {
        // Best effort, as CPython's finalizer: a manager that is gone has
        // nothing left to count.
        if self.counted {
            let _ = self.endpoint.decref(&self.token.id);
        }
    }
}

/// The fields a proxy travels as (see `pickle::proxy`).
#[derive(Serialize, Deserialize)]
struct ProxyFields(
    String,
    String,
    String,
    Option<u16>,
    String,
    Option<Vec<String>>,
    Option<serde_bytes::ByteBuf>,
);

impl Serialize for BaseProxy {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let (place, port) = match &self.token.address {
            Address::Tcp { host, port } => (host.clone(), Some(*port)),
            Address::Unix(p) => (p.to_string_lossy().into_owned(), None),
        };
        let to_child = crate::reduction::encoding_for_child();
        if to_child {
            // The child adopts this reference; it must exist even if we
            // drop ours before the child has started.
            self.endpoint
                .incref(&self.token.id)
                .map_err(|e| S::Error::custom(format!("could not hand the proxy over: {e}")))?;
        }
        let fields = ProxyFields(
            proxy_class(&self.token.typeid).to_string(),
            self.token.typeid.clone(),
            place,
            port,
            self.token.id.clone(),
            (proxy_class(&self.token.typeid) == "AutoProxy")
                .then(|| self.exposed.clone().unwrap_or_default()),
            // The key goes only to a child process of this program, as
            // CPython sends it only while spawning.
            to_child
                .then(|| {
                    self.endpoint
                        .authkey
                        .as_ref()
                        .map(|k| serde_bytes::ByteBuf::from(k.to_vec()))
                })
                .flatten(),
        );
        s.serialize_newtype_struct(crate::pickle::PROXY_NEWTYPE, &fields)
    }
}

impl<'de> Deserialize<'de> for BaseProxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BaseProxy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a manager proxy")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<BaseProxy, D::Error> {
                use serde::de::Error as _;
                let ProxyFields(_class, typeid, place, port, id, exposed, authkey) =
                    ProxyFields::deserialize(d)?;
                let from_parent = crate::reduction::decoding_from_parent();
                let endpoint = if from_parent {
                    Endpoint::new(
                        match port {
                            Some(port) => Address::Tcp { host: place, port },
                            None => Address::Unix(place.into()),
                        },
                        authkey.map(|k| Arc::from(k.into_vec())),
                    )
                } else {
                    // A nested proxy in a manager's reply: it lives on
                    // that manager, reached the way we reach it.
                    DECODING_FOR.with(|c| c.borrow().clone()).ok_or_else(|| {
                        D::Error::custom(
                            "a manager proxy can only be decoded from its manager's reply \
                             or as an argument of a child process",
                        )
                    })?
                };
                if !from_parent {
                    // The reply's reference is the server's; take our own.
                    endpoint.incref(&id).map_err(D::Error::custom)?;
                }
                Ok(BaseProxy::adopt(&endpoint, typeid, id, exposed))
            }
        }
        d.deserialize_newtype_struct(crate::pickle::PROXY_NEWTYPE, V)
    }
}

/// A typed view of a [`BaseProxy`]: every proxy type of this module.
pub trait TypedProxy: Sized {
    /// Wraps a proxy (the type is not checked here: a wrong one fails on
    /// its first call with the server's error).
    fn from_base(base: BaseProxy) -> Self;
    /// The untyped proxy inside.
    fn base(&self) -> &BaseProxy;
}

/// A proxy for any object, methods called by name: what Python's
/// `AutoProxy` gives for a registered typeid (`register('get_queue')`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Proxy(BaseProxy);

impl TypedProxy for Proxy {
    fn from_base(base: BaseProxy) -> Self {
        Proxy(base)
    }
    fn base(&self) -> &BaseProxy {
        &self.0
    }
}

impl Proxy {
    /// Calls `method` with positional arguments given as a Rust tuple
    /// (`()` for none, `(x,)` for one; a value that is not a tuple is
    /// the one argument) and converts the result.
    ///
    /// ```no_run
    /// # fn main() -> mp::Result<()> {
    /// let m = mp::managers::SyncManager::connect(&"127.0.0.1:50000".parse()?, Some(b"abracadabra"))?;
    /// let q: mp::managers::Proxy = m.get("get_queue")?;
    /// q.call::<_, ()>("put", &("hello",))?;
    /// let size: i64 = q.call("qsize", &())?;
    /// # let _ = size; Ok(()) }
    /// ```
    pub fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R> {
        self.0.call(method, args)
    }

    /// Calls `method` with keyword arguments too (`kwds` is a serde map or
    /// struct with `str` keys, e.g. a `HashMap<&str, f64>`).
    pub fn call_with<A: Serialize + ?Sized, K: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
        kwds: &K,
    ) -> Result<R> {
        let kwds = match value_of(kwds)? {
            Value::Dict(pairs) => pairs,
            Value::None => vec![],
            other => {
                return Err(Error::encode(format!(
                    "keyword arguments must be a map, not a {}",
                    other.kind()
                )))
            }
        };
        self.0.call_method(method, args_of(args)?, kwds)
    }

    /// The method names the manager exposes for this object.
    pub fn exposed(&self) -> &[String] {
        self.0.exposed.as_deref().unwrap_or(&[])
    }
}

impl std::ops::Deref for Proxy {
    type Target = BaseProxy;
    fn deref(&self) -> &BaseProxy {
        &self.0
    }
}

/// A manager: Python's `SyncManager`, connected to a running server (mp's
/// or CPython's), or started here in a child process as `Manager()` does.
///
/// ```no_run
/// # fn main() -> mp::Result<()> {
/// mp::freeze_support();
/// let manager = mp::managers::SyncManager::start()?;
/// let d = manager.dict::<String, i64>()?;
/// d.set(&"a".to_string(), &1)?;
/// assert_eq!(d.get(&"a".to_string())?, Some(1));
/// # Ok(()) }
/// ```
pub struct SyncManager {
    endpoint: Endpoint,
    /// The server process, when [`start`](Self::start) made it.
    server: Option<Process>,
}

impl fmt::Debug for SyncManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncManager")
            .field("address", &self.endpoint.address)
            .field("server_pid", &self.server.as_ref().and_then(Process::pid))
            .finish()
    }
}

/// The body of a manager server process started by [`SyncManager::start`]:
/// bind, report the bound address (or the error) on `ready`, serve.
fn serve_in_child((address, authkey, ready): (String, serde_bytes::ByteBuf, Connection)) {
    let started = address
        .parse::<Address>()
        .and_then(|a| crate::connection::Listener::bind(&a, Some(&authkey)));
    match started {
        Ok(listener) => {
            let bound = listener.address().clone();
            if ready
                .send(&Ok::<String, String>(bound.to_string()))
                .is_err()
            {
                return;
            }
            drop(ready);
            let server = super::server::Server::new(bound, HashMap::new());
            let _ = server.serve_forever(listener);
        }
        Err(e) => {
            let _ = ready.send(&Err::<String, String>(e.to_string()));
        }
    }
}

/// How long [`SyncManager::shutdown`] waits for a server it started to exit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl SyncManager {
    /// A manager at `address`, not connected yet (Python's
    /// `SyncManager(address, authkey)` before `connect()`): the first
    /// request connects. For a client that makes a few calls and leaves
    /// (`mp queue put`), this saves [`connect`](Self::connect)'s
    /// connection.
    pub fn new(address: &Address, authkey: Option<&[u8]>) -> SyncManager {
        SyncManager {
            endpoint: Endpoint::new(address.clone(), authkey.map(Arc::from)),
            server: None,
        }
    }

    /// Gives up on each TCP connect to the manager after `timeout` (by
    /// default the system's limit applies: minutes for a host that does
    /// not answer). Set it before making proxies: they keep the setting
    /// they were made with.
    pub fn with_connect_timeout(mut self, timeout: Option<Duration>) -> SyncManager {
        self.endpoint = Endpoint(Arc::new(Place {
            address: self.endpoint.address.clone(),
            authkey: self.endpoint.authkey.clone(),
            connect_timeout: timeout,
        }));
        self
    }

    /// Connects to a running manager (`mp serve-manager` or CPython's
    /// `BaseManager.get_server().serve_forever()`), checking it answers (the
    /// `dummy` call of Python's `connect()`).
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<SyncManager> {
        let endpoint = Endpoint::new(address.clone(), authkey.map(Arc::from));
        endpoint.server_call("dummy", vec![], vec![])?;
        Ok(SyncManager {
            endpoint,
            server: None,
        })
    }

    /// Starts a manager server in a child process (Python's `Manager()`),
    /// on a private abstract Unix socket with a random 32-byte key. It is
    /// shut down when this `SyncManager` is dropped, and dies with this
    /// process. Call [`crate::freeze_support`] first in `main`, as for any
    /// [`Process`].
    pub fn start() -> Result<SyncManager> {
        let random = |buf: &mut [u8]| {
            getrandom::getrandom(buf)
                .map_err(|e| Error::io("getrandom", std::io::Error::other(e.to_string())))
        };
        let mut key = [0u8; 32];
        random(&mut key)?;
        let mut name = [0u8; 8];
        random(&mut name)?;
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let address: Address = format!("@mp-manager-{}-{hex}", std::process::id()).parse()?;
        Self::start_at(&address, &key)
    }

    /// [`start`](Self::start) on a chosen address (`127.0.0.1:0` picks a
    /// port; [`address`](Self::address) tells which) and key.
    pub fn start_at(address: &Address, authkey: &[u8]) -> Result<SyncManager> {
        let (ours, theirs) = crate::pipe(true)?;
        let process = Process::new(
            serve_in_child,
            (
                address.to_string(),
                serde_bytes::ByteBuf::from(authkey.to_vec()),
                theirs,
            ),
        )
        .with_name("SyncManager-server");
        process.start()?;
        let reported: std::result::Result<String, String> = match ours.recv() {
            Ok(r) => r,
            Err(e) => {
                let _ = process.kill();
                let _ = process.join(Some(SHUTDOWN_GRACE));
                return Err(Error::Protocol(format!(
                    "the manager server process did not start: {e}"
                )));
            }
        };
        let bound = match reported {
            Ok(a) => a.parse::<Address>()?,
            Err(e) => {
                let _ = process.join(Some(SHUTDOWN_GRACE));
                return Err(Error::BadAddress(format!(
                    "{address}: the manager server could not listen there: {e}"
                )));
            }
        };
        Ok(SyncManager {
            endpoint: Endpoint::new(bound, Some(Arc::from(authkey))),
            server: Some(process),
        })
    }

    /// Where the manager listens.
    pub fn address(&self) -> &Address {
        &self.endpoint.address
    }

    /// Stops the server (Python's `manager.shutdown()`): every client of it
    /// loses its objects. For a server this `SyncManager` started, waits for
    /// its process to exit (killing it after 5 s).
    pub fn shutdown(&mut self) -> Result<()> {
        let asked = self.endpoint.server_call("shutdown", vec![], vec![]);
        if let Some(process) = self.server.take() {
            if process.join(Some(SHUTDOWN_GRACE))?.is_none() {
                process.kill()?;
                process.join(None)?;
            }
        }
        asked.map(drop)
    }

    /// How many objects the server holds references for (Python's
    /// `manager._number_of_objects()`).
    pub fn number_of_objects(&self) -> Result<usize> {
        let n = self
            .endpoint
            .server_call("number_of_objects", vec![], vec![])?;
        pickle::from_value(n).map_err(|e| Error::Decode(crate::CodecError::from_err(e)))
    }

    /// The server's description of its objects and their reference counts
    /// (Python's `manager._debug_info()`).
    pub fn debug_info(&self) -> Result<String> {
        let text = self.endpoint.server_call("debug_info", vec![], vec![])?;
        pickle::from_value(text).map_err(|e| Error::Decode(crate::CodecError::from_err(e)))
    }

    /// `create(typeid, *args, **kwds)`: a new object on the server and the
    /// proxy that owns its one reference.
    pub fn create(
        &self,
        typeid: &str,
        args: Vec<Value>,
        kwds: Vec<(Value, Value)>,
    ) -> Result<BaseProxy> {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(Value::str(typeid));
        all.extend(args);
        let reply = self.endpoint.server_call("create", all, kwds)?;
        let (id, exposed) = match reply.as_seq() {
            Some([Value::Str(id), exposed]) => {
                (id.to_string_lossy().into_owned(), method_names(exposed))
            }
            _ => {
                return Err(Error::decode(format!(
                    "manager reply: create answered {}, not (id, exposed)",
                    py_repr(&reply)
                )))
            }
        };
        Ok(BaseProxy::adopt(
            &self.endpoint,
            typeid.to_string(),
            id,
            Some(exposed),
        ))
    }

    /// An object of a registered typeid (`mp serve-manager --register
    /// jobs=queue`, or Python's `register('get_queue', callable=...)`), as
    /// any proxy type: [`Proxy`] to call methods by name, or a typed one
    /// (`m.get::<QueueProxy<String>>("jobs")`).
    pub fn get<P: TypedProxy>(&self, typeid: &str) -> Result<P> {
        self.create(typeid, vec![], vec![]).map(P::from_base)
    }

    /// The object called `name` on mp's server, made on first use as
    /// `typeid(*args)` would be (`named::<QueueProxy<String>>("jobs",
    /// "Queue", vec![])`) — an mp extension (`mp_named`), what `mp queue`,
    /// `mp lock` and the other shell verbs use. The name is a typeid for
    /// every client: Python's `register("jobs")` then `m.jobs()`, or
    /// [`get`](Self::get), reach the same object.
    ///
    /// An object already called `name` must be of the kind asked for (a
    /// `Lock` serves for a `Lock` or `RLock`, a semaphore for either
    /// semaphore, and a `Barrier` or `BoundedSemaphore` must have the
    /// count given): else the server's error names both types
    /// ([`Error::Remote`]: `TypeError: 'jobs' is a Queue, not a dict`).
    ///
    /// The call goes over this thread's method connection, so a client
    /// that names an object and calls it uses one connection. The proxy
    /// owns no reference: a named object lives as long as the server.
    /// CPython's server has no such function (its [`Error::Remote`] says
    /// `'mp_named' unrecognized`, or `KeyError: None`).
    ///
    /// ```no_run
    /// # fn main() -> mp::Result<()> {
    /// let m = mp::managers::SyncManager::new(&"127.0.0.1:50000".parse()?, Some(b"secret"));
    /// let jobs: mp::managers::QueueProxy<String> = m.named("jobs", "Queue", vec![])?;
    /// jobs.put(&"job-1".to_string())?;
    /// # Ok(()) }
    /// ```
    pub fn named<P: TypedProxy>(&self, name: &str, typeid: &str, args: Vec<Value>) -> Result<P> {
        let mut all = Vec::with_capacity(args.len() + 2);
        all.push(Value::str(name));
        all.push(Value::str(typeid));
        all.extend(args);
        let reply = match self.endpoint.method_call(None, "mp_named", all, vec![])? {
            Reply::Value(v) => v,
            Reply::Proxy { .. } => {
                return Err(Error::decode("manager reply: mp_named answered #PROXY"))
            }
        };
        let (id, exposed) = match reply.as_seq() {
            Some([Value::Str(id), exposed]) => {
                (id.to_string_lossy().into_owned(), method_names(exposed))
            }
            _ => {
                return Err(Error::decode(format!(
                    "manager reply: mp_named answered {}, not (id, exposed)",
                    py_repr(&reply)
                )))
            }
        };
        let mut base = BaseProxy::adopt(&self.endpoint, name.to_string(), id, Some(exposed));
        base.counted = false;
        Ok(P::from_base(base))
    }

    pub(crate) fn typed<P: TypedProxy>(&self, typeid: &str, args: Vec<Value>) -> Result<P> {
        self.create(typeid, args, vec![]).map(P::from_base)
    }
}

impl Drop for SyncManager {
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = self.shutdown();
        }
    }
}
