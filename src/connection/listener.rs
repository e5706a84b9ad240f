//! CPython's `multiprocessing.connection.Listener` and `Client`: framed
//! connections over TCP (`host:port`) or Unix sockets (a path), with the
//! optional HMAC handshake of [`super::auth`].
//!
//! ```no_run
//! use mp::connection::{client, Address, Listener};
//!
//! let address: Address = "127.0.0.1:6000".parse().unwrap();
//! let mut listener = Listener::bind(&address, Some(b"secret key")).unwrap();
//! let conn = listener.accept().unwrap(); // handshake done, or an error
//! println!("connection from {:?}", listener.last_accepted());
//! // send/recv speak pickle, as a Python peer's send/recv do:
//! let (x, label): (f64, String) = conn.recv().unwrap(); // Python: c.send((2.5, 'x'))
//! conn.send(&vec![x * 2.0]).unwrap(); // Python's c.recv() gives [5.0]
//! let raw = conn.recv_bytes(Some(1 << 20)).unwrap(); // send_bytes: raw bytes
//! conn.send_bytes(&raw).unwrap();
//! # let _ = client;
//! ```
//!
//! A Python peer connects with
//! `multiprocessing.connection.Client(('127.0.0.1', 6000), authkey=b'secret key')`.
//!
//! # Caveats
//! - Who authenticates is decided by each side alone, as in CPython: a
//!   listener with a key and a client without one (or the reverse) hang or
//!   fail at the first message. Give both the same key, or neither.
//! - `accept` runs the handshake before it returns, limited to
//!   [`HANDSHAKE_TIMEOUT`]: a peer that connects and says nothing cannot
//!   hold the listener for longer.
//! - Connections refuse messages over [`DEFAULT_MAX_MESSAGE`] (64 MiB;
//!   CPython has no limit): [`Connection::set_max_message`] changes it.
//! - A Unix socket's file is removed when its `Listener` is dropped (as
//!   CPython does on `close`), or earlier by [`SocketFile::remove`] (for a
//!   process that exits from a signal handler's thread, where nothing is
//!   dropped). A path starting with `@` is in Linux's abstract namespace
//!   (no file).
//! - Binding a path where a socket file is left from a listener that is
//!   gone (a connect is refused) removes that stale file and binds; a
//!   socket somebody listens on, or a file that is not a socket, gives
//!   [`Error::AddressInUse`] and is left alone. (Telling a live socket
//!   from a stale one takes a connect: the live listener sees one
//!   connection that closes at once.)

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::auth::{answer_challenge, deliver_challenge};
use super::Connection;
use crate::error::{Error, Result};

/// The largest message a [`Listener`] or [`client`] connection accepts
/// until [`Connection::set_max_message`] changes it (CPython has no limit;
/// a peer announcing more is refused before anything is allocated).
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// The most time `accept` and `client` give the peer to finish the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a [`Listener`] listens or a [`client`] connects: Python's
/// `('host', port)` or a socket path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `host:port` (a name, an IPv4 address, or `[IPv6]`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port (0 when binding: any free port).
        port: u16,
    },
    /// A Unix socket path; one starting with `@` is in the abstract namespace.
    Unix(PathBuf),
}

impl FromStr for Address {
    type Err = Error;

    /// `HOST:PORT` (`[::1]:PORT` for IPv6) is TCP; a string containing `/`
    /// or starting with `@` is a Unix socket.
    fn from_str(s: &str) -> Result<Address> {
        if s.contains('/') || s.starts_with('@') {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        let bad = || {
            Error::BadAddress(format!(
                "{s:?}: expected HOST:PORT (e.g. 127.0.0.1:6000) or a Unix socket path containing '/'"
            ))
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Address::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Address {
    /// Whether it can only be reached from this machine (a Unix socket, or
    /// TCP on a loopback address or `localhost`).
    pub fn is_local(&self) -> bool {
        match self {
            Address::Unix(_) => true,
            Address::Tcp { host, port } => {
                host == "localhost"
                    || (host.as_str(), *port)
                        .to_socket_addrs()
                        .map(|mut a| a.all(|a| a.ip().is_loopback()))
                        .unwrap_or(false)
            }
        }
    }

    fn unix_addr(path: &std::path::Path) -> Result<UnixAddr> {
        let text = path.to_string_lossy();
        match text.strip_prefix('@') {
            Some(name) => UnixAddr::from_abstract_name(name.as_bytes()),
            None => UnixAddr::from_pathname(path),
        }
        .map_err(|e| Error::BadAddress(format!("{}: {e}", path.display())))
    }
}

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, Option<SocketFile>),
}

/// The file of the Unix socket a [`Listener`] bound. The listener removes
/// it when dropped; a clone of this handle can remove it sooner, from
/// another thread: a signal-handling thread that exits the process, where
/// the listener is never dropped.
#[derive(Debug, Clone)]
pub struct SocketFile(Arc<SocketFileInner>);

#[derive(Debug)]
struct SocketFileInner {
    path: PathBuf,
    /// Device and inode of the file bind created: a file that another
    /// listener has since put at the same path is not ours to remove.
    id: (u64, u64),
    removed: AtomicBool,
}

impl SocketFile {
    fn new(path: &Path) -> Result<SocketFile> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io("stat", e))?;
        Ok(SocketFile(Arc::new(SocketFileInner {
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            removed: AtomicBool::new(false),
        })))
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Removes the file, once, if it is still the one the listener bound.
    /// The listener keeps accepting connections already queued, but no new
    /// client can find it.
    pub fn remove(&self) {
        if self.0.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        let ours =
            std::fs::symlink_metadata(&self.0.path).is_ok_and(|m| (m.dev(), m.ino()) == self.0.id);
        if ours {
            let _ = std::fs::remove_file(&self.0.path);
        }
    }
}

/// Binds a Unix socket at `path` (a file, not the abstract namespace). A
/// socket file nobody listens on any more (a connect is refused) is stale:
/// it is removed and the bind tried again. Anything else already at the
/// path is [`Error::AddressInUse`], and stays.
fn bind_unix_file(path: &Path, addr: &UnixAddr) -> Result<UnixListener> {
    let in_use = |reason: &str| Error::AddressInUse {
        address: path.display().to_string(),
        reason: reason.to_string(),
    };
    match UnixListener::bind_addr(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
        r => return r.map_err(|e| Error::io("bind", e)),
    }
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return Err(in_use(
            "the path exists and is not a socket; it was left alone",
        ));
    }
    match UnixStream::connect_addr(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            // Left by a listener that is gone.
            std::fs::remove_file(path).map_err(|e| Error::io("remove a stale socket file", e))?;
            UnixListener::bind_addr(addr).map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => in_use("another listener took it just now"),
                _ => Error::io("bind", e),
            })
        }
        Ok(_) => Err(in_use("another process is listening on it")),
        Err(e) => Err(in_use(&format!(
            "a socket is there and a connect gave: {e}"
        ))),
    }
}

/// Python's `multiprocessing.connection.Listener`.
pub struct Listener {
    socket: Socket,
    address: Address,
    authkey: Option<Vec<u8>>,
    last_accepted: Option<Address>,
}

impl Listener {
    /// Listens on `address` (TCP port 0: any free port, see
    /// [`address`](Self::address)). With an `authkey`, every accepted
    /// connection must pass the handshake.
    pub fn bind(address: &Address, authkey: Option<&[u8]>) -> Result<Listener> {
        let (socket, bound) = match address {
            Address::Tcp { host, port } => {
                let l =
                    TcpListener::bind((host.as_str(), *port)).map_err(|e| Error::io("bind", e))?;
                let local = l.local_addr().map_err(|e| Error::io("getsockname", e))?;
                (
                    Socket::Tcp(l),
                    Address::Tcp {
                        host: host.clone(),
                        port: local.port(),
                    },
                )
            }
            Address::Unix(path) => {
                let addr = Address::unix_addr(path)?;
                if addr.as_pathname().is_some() {
                    let l = bind_unix_file(path, &addr)?;
                    let file = SocketFile::new(path)?;
                    (Socket::Unix(l, Some(file)), address.clone())
                } else {
                    let l = UnixListener::bind_addr(&addr).map_err(|e| Error::io("bind", e))?;
                    (Socket::Unix(l, None), address.clone())
                }
            }
        };
        Ok(Listener {
            socket,
            address: bound,
            authkey: authkey.map(<[u8]>::to_vec),
            last_accepted: None,
        })
    }

    /// The address it listens on (with the real port when bound to port 0).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The file of its Unix socket (None for TCP and the abstract
    /// namespace): clone it to remove the file from a thread that ends the
    /// process without dropping the listener.
    pub fn socket_file(&self) -> Option<&SocketFile> {
        match &self.socket {
            Socket::Unix(_, f) => f.as_ref(),
            Socket::Tcp(_) => None,
        }
    }

    /// The peer of the last accepted connection (Python's `last_accepted`;
    /// for a Unix socket, the peer's path if it bound one).
    pub fn last_accepted(&self) -> Option<&Address> {
        self.last_accepted.as_ref()
    }

    /// Waits for a connection and, with an authkey, runs the handshake
    /// (this side challenges first). A failed handshake is
    /// [`Error::Authentication`]; the listener can go on accepting.
    pub fn accept(&mut self) -> Result<Connection> {
        let conn = self.accept_unauthenticated()?;
        if let Some(key) = &self.authkey {
            authenticate_peer(&conn, key)?;
        }
        Ok(conn)
    }

    /// The key this listener authenticates with, if any.
    pub fn authkey(&self) -> Option<&[u8]> {
        self.authkey.as_deref()
    }

    /// Waits for a connection and returns it before any handshake: the
    /// caller runs [`authenticate_peer`] (with [`Listener::authkey`]) on
    /// its own thread, so a peer that connects and says nothing holds up
    /// only its own connection, not the next `accept`. (Not in CPython.)
    pub fn accept_unauthenticated(&mut self) -> Result<Connection> {
        let (fd, peer): (OwnedFd, Address) = match &self.socket {
            Socket::Tcp(l) => {
                let (s, a) = l.accept().map_err(|e| Error::io("accept", e))?;
                let _ = s.set_nodelay(true);
                (
                    s.into(),
                    Address::Tcp {
                        host: a.ip().to_string(),
                        port: a.port(),
                    },
                )
            }
            Socket::Unix(l, _) => {
                let (s, a) = l.accept().map_err(|e| Error::io("accept", e))?;
                let peer = a
                    .as_pathname()
                    .map(|p| Address::Unix(p.to_path_buf()))
                    .unwrap_or_else(|| Address::Unix(PathBuf::new()));
                (s.into(), peer)
            }
        };
        log::debug!("listener: accepted a connection from {peer:?}");
        self.last_accepted = Some(peer);
        let mut conn = Connection::from_fd(fd, true, true, true);
        conn.set_codec(super::Codec::Pickle);
        conn.set_max_message(Some(DEFAULT_MAX_MESSAGE));
        Ok(conn)
    }
}

/// The listening side's handshake on an accepted connection (this side
/// challenges first, then answers), within [`HANDSHAKE_TIMEOUT`]: what
/// [`Listener::accept`] runs when it has a key.
pub fn authenticate_peer(conn: &Connection, key: &[u8]) -> Result<()> {
    with_timeout(conn, HANDSHAKE_TIMEOUT, || {
        deliver_challenge(conn, key)?;
        answer_challenge(conn, key)
    })
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(file) = self.socket_file() {
            file.remove();
        }
    }
}

/// Python's `multiprocessing.connection.Client(address, authkey=...)`:
/// connects, and with an authkey runs the handshake (this side answers
/// first).
pub fn client(address: &Address, authkey: Option<&[u8]>) -> Result<Connection> {
    client_within(address, authkey, None)
}

/// [`client`], giving up on a TCP connect after `connect_timeout` (each
/// address the host name resolves to gets that long), and on the
/// handshake after as long (at most [`HANDSHAKE_TIMEOUT`]): a host that
/// does not answer, or a server that accepts but does not run (stopped,
/// hung), is an error in seconds rather than after the system's SYN
/// retries (minutes).
pub fn client_within(
    address: &Address,
    authkey: Option<&[u8]>,
    connect_timeout: Option<Duration>,
) -> Result<Connection> {
    let fd: OwnedFd = match address {
        Address::Tcp { host, port } => {
            let s = match connect_timeout {
                None => TcpStream::connect((host.as_str(), *port)),
                Some(t) => connect_within((host.as_str(), *port), t),
            }
            .map_err(|e| Error::io("connect", e))?;
            let _ = s.set_nodelay(true);
            s.into()
        }
        Address::Unix(path) => UnixStream::connect_addr(&Address::unix_addr(path)?)
            .map_err(|e| Error::io("connect", e))?
            .into(),
    };
    log::debug!(
        "client: connected to {address:?}{}",
        if authkey.is_some() {
            "; handshake next"
        } else {
            ""
        }
    );
    let mut conn = Connection::from_fd(fd, true, true, true);
    conn.set_codec(super::Codec::Pickle);
    conn.set_max_message(Some(DEFAULT_MAX_MESSAGE));
    if let Some(key) = authkey {
        let limit = connect_timeout.map_or(HANDSHAKE_TIMEOUT, |t| t.min(HANDSHAKE_TIMEOUT));
        with_timeout(&conn, limit, || {
            answer_challenge(&conn, key)?;
            deliver_challenge(&conn, key)
        })?;
    }
    Ok(conn)
}

/// `TcpStream::connect` with a time limit per resolved address.
fn connect_within(addr: (&str, u16), timeout: Duration) -> std::io::Result<TcpStream> {
    let timeout = timeout.max(Duration::from_millis(1));
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the host name resolves to no address",
        )
    }))
}

/// Runs `f` (a handshake) with [`HANDSHAKE_TIMEOUT`] on the socket's reads.
fn with_timeout(conn: &Connection, limit: Duration, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let fd = conn.fileno()?;
    set_read_timeout(fd, Some(limit.max(Duration::from_millis(1))));
    let r = f().map_err(|e| match e {
        Error::Io { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Error::Authentication(format!(
                "the peer did not finish the handshake within {limit:?}"
            ))
        }
        e => e,
    });
    set_read_timeout(fd, None);
    r
}

fn set_read_timeout(fd: i32, t: Option<Duration>) {
    let tv = t.map_or(
        libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        |t| libc::timeval {
            tv_sec: t.as_secs() as libc::time_t,
            tv_usec: t.subsec_micros() as libc::suseconds_t,
        },
    );
    // SAFETY: a valid socket descriptor and a live timeval of the right size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

/// The raw descriptor of a listener, for [`super::wait`]-style polling.
impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> i32 {
        match &self.socket {
            Socket::Tcp(l) => l.as_raw_fd(),
            Socket::Unix(l, _) => l.as_raw_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            "127.0.0.1:6000".parse::<Address>().unwrap(),
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 6000
            }
        );
        assert_eq!(
            "[::1]:7".parse::<Address>().unwrap(),
            Address::Tcp {
                host: "::1".into(),
                port: 7
            }
        );
        assert_eq!(
            "/tmp/x.sock".parse::<Address>().unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
        for bad in ["6000", "host:", ":80", "host:99999", "host:port"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        assert!("127.0.0.1:1".parse::<Address>().unwrap().is_local());
        assert!("localhost:1".parse::<Address>().unwrap().is_local());
        assert!(!"0.0.0.0:1".parse::<Address>().unwrap().is_local());
        assert_eq!("[::1]:7".parse::<Address>().unwrap().to_string(), "[::1]:7");
    }

    #[test]
    fn listener_and_client_with_and_without_a_key() {
        for key in [None, Some(&b"k"[..])] {
            let mut l = Listener::bind(&"127.0.0.1:0".parse().unwrap(), key).unwrap();
            let addr = l.address().clone();
            let t = std::thread::spawn(move || {
                let c = client(&addr, key).unwrap();
                c.send_bytes(b"ping").unwrap();
                c.recv_bytes(None).unwrap()
            });
            let c = l.accept().unwrap();
            assert_eq!(c.recv_bytes(None).unwrap(), b"ping");
            c.send_bytes(b"pong").unwrap();
            assert_eq!(t.join().unwrap(), b"pong");
            assert!(l.last_accepted().is_some());
        }
    }

    #[test]
    fn messages_over_the_cap_are_refused() {
        let mut l = Listener::bind(&"127.0.0.1:0".parse().unwrap(), None).unwrap();
        let addr = l.address().clone();
        let t = std::thread::spawn(move || {
            let c = client(&addr, None).unwrap();
            assert_eq!(c.max_message(), Some(DEFAULT_MAX_MESSAGE));
            c.send_bytes(&[1u8; 2000]).unwrap();
            c.send_bytes(&[2u8; 2000]).unwrap();
        });
        let mut c = l.accept().unwrap();
        c.set_max_message(Some(1000));
        assert!(matches!(
            c.recv_bytes(None),
            Err(Error::TooLong {
                len: 2000,
                max: 1000
            })
        ));
        t.join().unwrap();
    }

    #[test]
    fn wrong_key_fails_both_sides_and_the_listener_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let addr = Address::Unix(dir.path().join("s"));
        let mut l = Listener::bind(&addr, Some(b"right")).unwrap();
        let a = addr.clone();
        let t = std::thread::spawn(move || {
            let bad = client(&a, Some(b"wrong"));
            let good = client(&a, Some(b"right")).map(|c| c.send_bytes(b"hi"));
            (bad.is_err(), good.is_ok())
        });
        assert!(matches!(l.accept(), Err(Error::Authentication(_))));
        let c = l.accept().unwrap();
        assert_eq!(c.recv_bytes(None).unwrap(), b"hi");
        assert_eq!(t.join().unwrap(), (true, true));
        drop(l);
        assert!(!dir.path().join("s").exists(), "socket file removed");
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_a_live_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let addr = Address::Unix(path.clone());
        // A listener that went away without removing its file.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "std leaves the file");
        let l = Listener::bind(&addr, None).expect("a stale file does not block the bind");
        // Somebody listens now: refused, naming the path, file kept.
        match Listener::bind(&addr, None) {
            Err(Error::AddressInUse { address, .. }) => {
                assert_eq!(address, path.display().to_string())
            }
            other => panic!("expected AddressInUse, got {:?}", other.err()),
        }
        assert!(path.exists(), "the live listener's file stays");
        let t = std::thread::spawn({
            let addr = addr.clone();
            move || {
                client(&addr, None)
                    .unwrap()
                    .send_bytes(b"still here")
                    .unwrap()
            }
        });
        let mut l = l;
        // The refused bind's probe connected and left at once.
        assert!(matches!(
            l.accept().unwrap().recv_bytes(None),
            Err(Error::Eof)
        ));
        assert_eq!(l.accept().unwrap().recv_bytes(None).unwrap(), b"still here");
        t.join().unwrap();
        drop(l);
        assert!(!path.exists(), "removed on drop");
    }

    #[test]
    fn a_path_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"data").unwrap();
        assert!(matches!(
            Listener::bind(&Address::Unix(path.clone()), None),
            Err(Error::AddressInUse { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
    }

    #[test]
    fn the_socket_file_goes_once_and_only_if_it_is_still_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let l = Listener::bind(&Address::Unix(path.clone()), None).unwrap();
        let file = l.socket_file().unwrap().clone();
        assert_eq!(file.path(), path);
        file.remove();
        assert!(!path.exists(), "removed by the handle");
        // Another listener's file at the same path is not ours to remove.
        let other = UnixListener::bind(&path).unwrap();
        drop(l);
        assert!(path.exists(), "the newer file stays");
        drop(other);
        let tcp = Listener::bind(&"127.0.0.1:0".parse().unwrap(), None).unwrap();
        assert!(tcp.socket_file().is_none());
    }
}
