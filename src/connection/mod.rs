//! Connections: message-oriented, framed byte streams between processes.
//!
//! This is CPython's `multiprocessing.connection`. [`pipe`] (Python's `Pipe`)
//! returns two [`Connection`]s; each message is a frame with CPython's length
//! prefix (a 4-byte big-endian signed length, or `-1` followed by an 8-byte
//! length for messages of 2 GiB and more), so the bytes on the wire are the ones
//! a Python peer writes and reads.
//!
//! ```
//! let (a, b) = mp::pipe(true).unwrap();
//! a.send(&(1, "two".to_string())).unwrap();
//! let got: (i32, String) = b.recv().unwrap();
//! assert_eq!(got, (1, "two".to_string()));
//! b.send_bytes(b"raw").unwrap();
//! assert_eq!(a.recv_bytes(None).unwrap(), b"raw");
//! ```
//!
//! [`wait`] waits on several connections and process sentinels at once.
//!
//! # Caveats
//! A `Connection` is `Send` but not `Sync`: like CPython's, it is used by one
//! thread at a time. Messages are read into a small internal buffer, so use
//! [`Connection::poll`] or [`wait`] (which see that buffer) rather than polling
//! the raw descriptor yourself.

pub mod auth;
pub mod codec;
mod fixed;
mod frame;
mod listener;
mod wait;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

pub use codec::Codec;
pub use frame::{decode_header, encode_header, HEADER_MAX};
pub use listener::{
    authenticate_peer, client, client_within, Address, Listener, SocketFile, DEFAULT_MAX_MESSAGE,
    HANDSHAKE_TIMEOUT,
};
pub use wait::{wait, Waitable};

use crate::error::{Error, Result};
use crate::reduction;

/// Size of the read buffer; larger messages are read straight into their own allocation.
const BUF_SIZE: usize = 64 * 1024;
/// The read buffer starts this small and doubles, up to [`BUF_SIZE`], each
/// time a read fills all the room it was given (the peer sends faster than
/// we read). A connection that only ever sees small messages, such as an
/// idle manager client's, so holds 4 KiB instead of 64: with one thread per
/// connection, 64 KiB read buffers were three quarters of a manager server's
/// memory (bench/managers_idle.sh).
const BUF_MIN: usize = 4 * 1024;
/// Largest allocation made up front for a message; bigger messages grow as bytes arrive,
/// so a bogus length header cannot make `mp` allocate memory the peer never sends.
const PREALLOC_MAX: usize = 64 * 1024 * 1024;
/// How many descriptors one read accepts (internal channels send at most a few).
const MAX_FDS: usize = 32;

/// Descriptors of every open `Connection` in this process. A forked child
/// closes them all (its arguments hold their own duplicates), so it keeps only
/// the connections it was given, as under spawn and forkserver; otherwise a
/// child would hold the parent's end of its own pipe and never see EOF.
static OPEN: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

fn open_fds() -> MutexGuard<'static, Vec<RawFd>> {
    OPEN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held across a fork, so the child sees a consistent list.
pub(crate) fn lock_open_fds() -> MutexGuard<'static, Vec<RawFd>> {
    open_fds()
}

/// For `fuzz/fuzz_targets/fixed.rs`: `data` decoded as pool payloads of
/// several shapes (the pool's fixed-width format); panics only on a bug.
#[doc(hidden)]
pub fn fuzz_fixed_payload(data: &[u8]) {
    fixed::fuzz(data)
}

/// In a new forked child: every descriptor of a `Connection` inherited from
/// the parent (the list, locked across the fork), and each of `also`, is
/// made to refer to `/dev/null` instead of the parent's socket or pipe, so
/// the child holds no end of another process's channel (it would keep the
/// reader from ever seeing end of file).
///
/// The descriptors are replaced, not closed: each number stays open and
/// owned by the object that holds it (a `Connection` in a frame the child
/// never returns to, or in a static it may still drop). Closing them here
/// would free numbers that live `OwnedFd`s still own: the next `open` could
/// reuse one, and the stale owner's drop would then close that new
/// descriptor behind its owner's back. `dup3` swaps what a number refers to
/// atomically, and a stale owner's drop later closes only its placeholder
/// (the list is left as it is, so a dropped `Connection` still unregisters).
///
/// Only `open`, `dup3` and `close` run here, all async-signal-safe.
pub(crate) fn release_inherited(open: MutexGuard<'static, Vec<RawFd>>, also: &[RawFd]) {
    // SAFETY: open(2) with a NUL-terminated path; the result is checked.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if null < 0 {
        // No descriptor to spare (EMFILE): the inherited ones stay as they
        // are, which costs an end of file, never a descriptor of someone else.
        return;
    }
    for &fd in open.iter().chain(also) {
        if fd != null {
            // SAFETY: `fd` is open and owned by a live object (see above);
            // dup3 makes it refer to /dev/null without freeing the number.
            unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) };
        }
    }
    // SAFETY: `null` is ours (opened above) and no list holds it.
    unsafe { libc::close(null) };
    drop(open);
}

fn unregister(fd: RawFd) {
    let mut open = open_fds();
    if let Some(i) = open.iter().rposition(|&f| f == fd) {
        open.swap_remove(i);
    }
}

/// One end of a connection. Created by [`pipe`], sent to children as a
/// `Process` argument, or (later) by `Listener`/`Client`.
pub struct Connection {
    fd: Option<OwnedFd>,
    readable: bool,
    writable: bool,
    is_socket: bool,
    codec: Codec,
    rbuf: RefCell<ReadBuf>,
    fds_in: RefCell<VecDeque<OwnedFd>>,
    /// Reused to build outgoing frames (header and payload in one write).
    wbuf: RefCell<Vec<u8>>,
    /// Set after a refused oversized frame: the stream is out of step, so the
    /// connection acts as closed (CPython closes it).
    broken: Cell<bool>,
    /// The largest message `recv`/`recv_bytes` accept (None: any).
    max_message: Option<usize>,
    /// Whether reads go through `recvmsg` to collect passed descriptors:
    /// unknown until the first read of a socket, then true only for Unix
    /// sockets (a TCP socket cannot carry descriptors; a plain `recv` is
    /// cheaper per message).
    passes_fds: Cell<Option<bool>>,
}

/// Bytes read ahead: `data[start..end]` are unread. `data` stays initialised
/// at its full length, so a read needs no zeroing first.
#[derive(Default)]
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The room a read is given, from [`BUF_MIN`] (0 before the first read)
    /// up to [`BUF_SIZE`].
    chunk: usize,
}

impl ReadBuf {
    fn available(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.fd.as_ref().map(|f| f.as_raw_fd()))
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .finish()
    }
}

/// Appends `obj` to `out` as one frame: the header, then the payload in
/// `codec`, encoded in place (no copy of the payload).
pub(crate) fn encode_frame<T: Serialize + ?Sized>(
    codec: Codec,
    obj: &T,
    mut out: Vec<u8>,
) -> Result<Vec<u8>> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut out = codec.encode_into(obj, out)?;
    let mut header = [0u8; HEADER_MAX];
    let hlen = encode_header((out.len() - start - 4) as u64, &mut header);
    // Four bytes were left; a length past 2 GiB needs twelve.
    out.splice(start..start + 4, header[..hlen].iter().copied());
    Ok(out)
}

/// Python's `Pipe(duplex)`: two connected [`Connection`]s.
///
/// With `duplex` both ends can send and receive (a Unix socket pair). Without,
/// the first end only receives and the second only sends (an OS pipe), as in
/// CPython: `let (reader, writer) = mp::pipe(false)?`.
pub fn pipe(duplex: bool) -> Result<(Connection, Connection)> {
    if duplex {
        let (a, b) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::Stream,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::io("socketpair", e.into()))?;
        Ok((
            Connection::from_fd(a, true, true, true),
            Connection::from_fd(b, true, true, true),
        ))
    } else {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::io("pipe", e.into()))?;
        Ok((
            Connection::from_fd(r, true, false, false),
            Connection::from_fd(w, false, true, false),
        ))
    }
}

impl Connection {
    /// Wraps a connected socket (or pipe end) as a `Connection`.
    ///
    /// `is_socket` enables receiving descriptors with `SCM_RIGHTS`.
    pub fn from_fd(fd: OwnedFd, readable: bool, writable: bool, is_socket: bool) -> Self {
        open_fds().push(fd.as_raw_fd());
        Connection {
            fd: Some(fd),
            readable,
            writable,
            is_socket,
            codec: Codec::default(),
            rbuf: RefCell::new(ReadBuf::default()),
            fds_in: RefCell::new(VecDeque::new()),
            wbuf: RefCell::new(Vec::new()),
            broken: Cell::new(false),
            max_message: None,
            passes_fds: Cell::new(None),
        }
    }

    /// The codec used by [`send`](Self::send) and [`recv`](Self::recv).
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Changes the codec used by [`send`](Self::send) and [`recv`](Self::recv).
    pub fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }

    /// Receives one pickled message as a [`crate::pickle::Value`], whatever
    /// Python object it is (nothing in it is imported or run), whichever
    /// codec the connection uses for [`recv`](Self::recv).
    pub fn recv_value(&self) -> Result<crate::pickle::Value> {
        self.with_message(crate::pickle::loads)?
            .map_err(|e| Error::Decode(crate::CodecError::from_err(e)))
    }

    /// Sends a [`crate::pickle::Value`] pickled (protocol 4): a Python
    /// peer's `recv()` gets the object.
    pub fn send_value(&self, value: &crate::pickle::Value) -> Result<()> {
        self.send_encoded(|frame| crate::pickle::dumps_into(value, frame))
    }

    /// Sends the message `encode` appends to the buffer it is given.
    pub(crate) fn send_encoded(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        self.send_encoded_if(|frame| {
            encode(frame);
            true
        })
        .map(drop)
    }

    /// [`send_encoded`](Self::send_encoded) when `encode` says so: it
    /// appends the message and answers `true`, or answers `false` and
    /// nothing is sent (whatever it appended is dropped). Whether it sent.
    pub(crate) fn send_encoded_if(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> Result<bool> {
        self.check_writable()?;
        // Pickled straight into the reused frame buffer, after room for the header.
        let mut frame = std::mem::take(&mut *self.wbuf.borrow_mut());
        frame.clear();
        frame.extend_from_slice(&[0; 4]);
        let r = if !encode(&mut frame) {
            Ok(false)
        } else {
            match i32::try_from(frame.len() - 4) {
                Ok(len) => {
                    frame[..4].copy_from_slice(&len.to_be_bytes());
                    self.write_all(&frame)
                }
                Err(_) => self.send_frame(&frame[4..], &[]),
            }
            .map(|()| true)
        };
        if frame.capacity() <= BUF_SIZE {
            *self.wbuf.borrow_mut() = frame;
        }
        r
    }

    /// A second `Connection` on a duplicate of the same descriptor, for
    /// another thread: one reads while the other writes. Read on the
    /// original: the duplicate starts with an empty read buffer, and
    /// messages this one has already read ahead stay with it.
    pub fn duplicate(&self) -> Result<Connection> {
        let fd = self
            .fd()?
            .try_clone_to_owned()
            .map_err(|e| Error::io("dup", e))?;
        let mut c = Connection::from_fd(fd, self.readable, self.writable, self.is_socket);
        c.codec = self.codec;
        c.max_message = self.max_message;
        Ok(c)
    }

    /// Tells the peer that no more messages will come (it gets
    /// [`Error::Eof`] after the ones sent), while this end can still
    /// receive. For sockets (a listener's or client's connection, a duplex
    /// pipe); on a one-way pipe it closes this end.
    pub fn shutdown_write(&mut self) -> Result<()> {
        if self.is_socket {
            let fd = self.fd()?.as_raw_fd();
            nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Write)
                .map_err(|e| Error::io("shutdown", e.into()))
        } else {
            self.close();
            Ok(())
        }
    }

    /// Whether this end can receive.
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.fd.is_none() || self.broken.get()
    }

    /// The descriptor number (Python's `fileno()`).
    pub fn fileno(&self) -> Result<RawFd> {
        Ok(self.fd()?.as_raw_fd())
    }

    /// The descriptor, borrowed (for `poll`, `dup`...); [`Error::Closed`]
    /// once closed. (`Connection` is not `AsFd`: that cannot fail, and a
    /// closed connection has no descriptor.)
    pub fn borrow_fd(&self) -> Result<BorrowedFd<'_>> {
        self.fd()
    }

    /// Closes this end. The peer's next receive fails with [`Error::Eof`].
    pub fn close(&mut self) {
        if let Some(fd) = self.fd.take() {
            unregister(fd.as_raw_fd());
        }
    }

    fn fd(&self) -> Result<BorrowedFd<'_>> {
        if self.broken.get() {
            return Err(Error::Closed);
        }
        self.fd
            .as_ref()
            .map(|f| f.as_fd())
            .ok_or_else(|| Error::Closed)
    }

    fn check_readable(&self) -> Result<()> {
        self.fd()?;
        if !self.readable {
            return Err(Error::WrongDirection("write-only"));
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.fd()?;
        if !self.writable {
            return Err(Error::WrongDirection("read-only"));
        }
        Ok(())
    }

    /// Sends `obj` as one message, encoded with this connection's codec.
    pub fn send<T: Serialize + ?Sized>(&self, obj: &T) -> Result<()> {
        self.check_writable()?;
        // Framed in a reused buffer, so a small message costs one write and
        // no allocation.
        let mut buf = std::mem::take(&mut *self.wbuf.borrow_mut());
        buf.clear();
        let buf = encode_frame(self.codec, obj, buf)?;
        let r = self.write_all(&buf);
        if buf.capacity() <= 1 << 20 {
            *self.wbuf.borrow_mut() = buf;
        }
        r
    }

    /// Receives one message and decodes it as a `T`.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        self.check_readable()?;
        // Fast path: a whole frame is already buffered; decode it in place.
        if let Some((hlen, len)) = self.buffered_frame() {
            let mut rb = self.rbuf.borrow_mut();
            let r = self.codec.decode(&rb.available()[hlen..hlen + len]);
            rb.consume(hlen + len);
            return r;
        }
        let bytes = self.recv_frame(self.max_message)?;
        self.codec.decode(&bytes)
    }

    /// Writes all of `data` (already framed) to the descriptor.
    fn write_all(&self, mut data: &[u8]) -> Result<()> {
        let fd = self.fd()?;
        while !data.is_empty() {
            let r = if self.is_socket {
                socket::send(fd.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL)
            } else {
                nix::unistd::write(fd, data)
            };
            match r {
                Ok(n) => data = &data[n..],
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::io("send", e.into())),
            }
        }
        Ok(())
    }

    /// Sends `buf` as one message.
    pub fn send_bytes(&self, buf: &[u8]) -> Result<()> {
        self.check_writable()?;
        if buf.len() <= 16 * 1024 {
            // Small: header and payload in one write, as CPython does.
            let mut frame = std::mem::take(&mut *self.wbuf.borrow_mut());
            frame.clear();
            frame.extend_from_slice(&(buf.len() as i32).to_be_bytes());
            frame.extend_from_slice(buf);
            let r = self.write_all(&frame);
            *self.wbuf.borrow_mut() = frame;
            return r;
        }
        self.send_frame(buf, &[])
    }

    /// Writes frames already built with [`encode_frame`]: several messages
    /// in one write.
    pub(crate) fn send_framed(&self, frames: &[u8]) -> Result<()> {
        self.check_writable()?;
        self.write_all(frames)
    }

    /// Receives one message. With `maxlength`, a longer message is refused with
    /// [`Error::TooLong`] and the connection is closed (its remaining bytes
    /// cannot be skipped safely), as in CPython.
    pub fn recv_bytes(&self, maxlength: Option<usize>) -> Result<Vec<u8>> {
        self.check_readable()?;
        self.recv_frame(self.limit(maxlength))
    }

    /// The smaller of `maxlength` and the connection's own limit.
    fn limit(&self, maxlength: Option<usize>) -> Option<usize> {
        match (maxlength, self.max_message) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Receives one message (within the connection's size limit, as
    /// [`recv_bytes`](Self::recv_bytes)) and hands it to `f`: straight from
    /// the read buffer when it arrived whole (no copy, no allocation),
    /// else from a message read as `recv_bytes` does.
    pub(crate) fn with_message<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        self.check_readable()?;
        let limit = self.limit(None);
        if !self.has_buffered() && !self.fill()? {
            return Err(Error::Eof);
        }
        if let Some((hlen, len)) = self.buffered_frame() {
            if limit.is_none_or(|max| len <= max) {
                let r = {
                    let rb = self.rbuf.borrow();
                    f(&rb.available()[hlen..hlen + len])
                };
                self.rbuf.borrow_mut().consume(hlen + len);
                return Ok(r);
            }
        }
        let msg = self.recv_frame(limit)?;
        Ok(f(&msg))
    }

    /// Sets the largest message [`recv`](Self::recv), [`recv_value`](Self::recv_value)
    /// and [`recv_bytes`](Self::recv_bytes) accept (`None`: any size, the
    /// default for pipes; [`Listener`] and [`client`] connections start at
    /// [`DEFAULT_MAX_MESSAGE`]). A longer message is [`Error::TooLong`] and
    /// closes the connection, as `recv_bytes(maxlength)` does.
    pub fn set_max_message(&mut self, max: Option<usize>) {
        self.max_message = max;
    }

    /// The limit [`set_max_message`](Self::set_max_message) set.
    pub fn max_message(&self) -> Option<usize> {
        self.max_message
    }

    /// Receives one message into `buf` and returns its length. A message longer
    /// than `buf` gives [`Error::BufferTooShort`] carrying the whole message.
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.check_readable()?;
        let msg = self.recv_frame(None)?;
        if msg.len() > buf.len() {
            return Err(Error::BufferTooShort {
                cap: buf.len(),
                message: msg,
            });
        }
        buf[..msg.len()].copy_from_slice(&msg);
        Ok(msg.len())
    }

    /// Whether there is something to receive (a message, or end of file).
    /// `None` waits for ever; `Some(Duration::ZERO)` does not wait.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        self.check_readable()?;
        Ok(!wait(&[self as &dyn Waitable], timeout)?.is_empty())
    }

    // ---- internals ----

    /// Writes one frame; the descriptors in `fds` go with its first byte.
    pub(crate) fn send_frame(&self, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        let fd = self.fd()?;
        let mut header = [0u8; HEADER_MAX];
        let hlen = encode_header(payload.len() as u64, &mut header);
        let total = hlen + payload.len();
        let mut sent = 0usize;
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        while sent < total {
            let (h, p) = if sent < hlen {
                (&header[sent..hlen], payload)
            } else {
                (&header[..0], &payload[sent - hlen..])
            };
            let iov = [IoSlice::new(h), IoSlice::new(p)];
            let r = if sent == 0 && !raw.is_empty() {
                let cmsg = [ControlMessage::ScmRights(&raw)];
                socket::sendmsg::<()>(fd.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
            } else if self.is_socket {
                socket::sendmsg::<()>(fd.as_raw_fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None)
            } else {
                nix::sys::uio::writev(fd, &iov)
            };
            match r {
                Ok(n) => sent += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::io("send", e.into())),
            }
        }
        Ok(())
    }

    /// Reads more bytes into the buffer. Returns false at end of file.
    fn fill(&self) -> Result<bool> {
        let mut rb = self.rbuf.borrow_mut();
        let chunk = rb.chunk.max(BUF_MIN);
        if rb.data.len() - rb.end < chunk / 4 || rb.data.len() < chunk {
            // Move unread bytes to the front before growing.
            if rb.start > 0 {
                let (start, end) = (rb.start, rb.end);
                rb.data.copy_within(start..end, 0);
                rb.end -= start;
                rb.start = 0;
            }
            let grown = if rb.data.len() - rb.end < chunk / 4 {
                rb.data.len() + chunk
            } else {
                chunk
            };
            if grown > rb.data.len() {
                rb.data.resize(grown, 0);
            }
        }
        let end = rb.end;
        let room = rb.data.len() - end;
        let n = self.read_some(&mut rb.data[end..])?;
        rb.end += n;
        rb.chunk = if n == room {
            (chunk * 2).min(BUF_SIZE)
        } else {
            chunk
        };
        Ok(n > 0)
    }

    /// One read (or recvmsg, which also collects passed descriptors).
    fn read_some(&self, buf: &mut [u8]) -> Result<usize> {
        let fd = self.fd()?;
        loop {
            let r = if self.is_socket && self.passes_fds(fd) {
                let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
                let mut iov = [IoSliceMut::new(buf)];
                match socket::recvmsg::<()>(
                    fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Ok(msg) => {
                        if let Ok(cmsgs) = msg.cmsgs() {
                            for c in cmsgs {
                                if let ControlMessageOwned::ScmRights(fds) = c {
                                    let mut q = self.fds_in.borrow_mut();
                                    for raw in fds {
                                        // SAFETY: the kernel just installed `raw` in our table for us.
                                        q.push_back(unsafe { reduction::owned(raw) });
                                    }
                                }
                            }
                        }
                        Ok(msg.bytes)
                    }
                    Err(e) => Err(e),
                }
            } else {
                nix::unistd::read(fd.as_raw_fd(), buf)
            };
            match r {
                Ok(n) => return Ok(n),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::io("recv", e.into())),
            }
        }
    }

    /// Whether the socket `fd` can carry descriptors (a Unix socket).
    fn passes_fds(&self, fd: BorrowedFd<'_>) -> bool {
        if let Some(known) = self.passes_fds.get() {
            return known;
        }
        use socket::SockaddrLike as _;
        let unix = !matches!(
            socket::getsockname::<socket::SockaddrStorage>(fd.as_raw_fd())
                .ok()
                .and_then(|a| a.family()),
            Some(socket::AddressFamily::Inet | socket::AddressFamily::Inet6)
        );
        self.passes_fds.set(Some(unix));
        unix
    }

    /// Makes sure at least `n` unread bytes are buffered.
    fn fill_to(&self, n: usize) -> Result<()> {
        loop {
            let have = self.rbuf.borrow().available().len();
            if have >= n {
                return Ok(());
            }
            if !self.fill()? {
                return Err(Error::Eof);
            }
        }
    }

    pub(crate) fn recv_frame(&self, maxlength: Option<usize>) -> Result<Vec<u8>> {
        self.fill_to(4)?;
        let mut header = [0u8; HEADER_MAX];
        let first = {
            let rb = self.rbuf.borrow();
            header[..4].copy_from_slice(&rb.available()[..4]);
            i32::from_be_bytes([header[0], header[1], header[2], header[3]])
        };
        let hlen = if first == -1 { 12 } else { 4 };
        if hlen == 12 {
            self.fill_to(12)?;
            header[4..12].copy_from_slice(&self.rbuf.borrow().available()[4..12]);
        }
        let len = match decode_header(&header[..hlen]) {
            Ok(Some((len, _))) => len,
            Ok(None) => unreachable!("the header bytes were buffered"),
            Err(e) => return Err(e),
        };
        if let Some(max) = maxlength {
            if len > max as u64 {
                // CPython closes the connection: the stream cannot be resynchronised.
                self.broken.set(true);
                return Err(Error::TooLong { len, max });
            }
        }
        let len = usize::try_from(len).map_err(|_| Error::BadLength(len as i64))?;
        self.rbuf.borrow_mut().consume(hlen);
        // Take what is buffered, then read the rest straight into the message.
        // The message grows by doubling (each byte zeroed once), so a bogus
        // length costs only as much memory as the peer really sends.
        let mut msg = vec![0u8; len.min(PREALLOC_MAX)];
        let mut filled = {
            let mut rb = self.rbuf.borrow_mut();
            let take = rb.available().len().min(len);
            msg[..take].copy_from_slice(&rb.available()[..take]);
            rb.consume(take);
            take
        };
        while filled < len {
            if len - filled < BUF_SIZE / 2 {
                // Small remainder: read through the buffer (may pick up the next frames too).
                self.fill_to(len - filled)?;
                msg.resize(len, 0);
                let mut rb = self.rbuf.borrow_mut();
                let take = len - filled;
                msg[filled..len].copy_from_slice(&rb.available()[..take]);
                rb.consume(take);
                filled = len;
                break;
            }
            if filled == msg.len() {
                let grown = (msg.len() * 2).clamp(BUF_SIZE, len);
                msg.resize(grown, 0);
            }
            match self.read_some(&mut msg[filled..]) {
                Ok(0) => return Err(Error::Eof),
                Ok(n) => filled += n,
                Err(e) => return Err(e),
            }
        }
        debug_assert_eq!(filled, len);
        Ok(msg)
    }

    /// Receives one frame and the descriptors that came with it.
    pub(crate) fn recv_frame_with_fds(&self) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
        let msg = self.recv_frame(None)?;
        let fds = self.fds_in.borrow_mut().drain(..).collect();
        Ok((msg, fds))
    }

    /// Whether a whole frame is already buffered (a `recv` needs no syscall).
    pub(crate) fn frame_buffered(&self) -> bool {
        self.buffered_frame().is_some()
    }

    /// (header length, payload length) of a frame that is wholly buffered.
    fn buffered_frame(&self) -> Option<(usize, usize)> {
        let rb = self.rbuf.borrow();
        let a = rb.available();
        match decode_header(a) {
            Ok(Some((len, hlen))) if (a.len() - hlen) as u64 >= len => Some((hlen, len as usize)),
            _ => None,
        }
    }

    /// Whether unread bytes are already buffered.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.rbuf.borrow().available().is_empty()
    }

    /// Takes the descriptor out.
    #[cfg(test)]
    pub(crate) fn into_fd(mut self) -> Option<OwnedFd> {
        let fd = self.fd.take()?;
        unregister(fd.as_raw_fd());
        Some(fd)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

impl Waitable for Connection {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }
    fn ready_now(&self) -> bool {
        self.has_buffered()
    }
}

/// A `Connection` given as a `Process` argument is duplicated into the child
/// (CPython reduces it the same way). Encoding one anywhere else is an error.
impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let fd = self.fd.as_ref().ok_or_else(|| {
            S::Error::custom(codec::custom_error(
                "cannot send a closed connection".into(),
            ))
        })?;
        if self.has_buffered() {
            return Err(S::Error::custom(codec::custom_error(
                "cannot send a connection that holds unread data".into(),
            )));
        }
        let index = reduction::export_fd(fd.as_fd())
            .map_err(|e| S::Error::custom(codec::custom_error(e)))?;
        s.serialize_newtype_struct(
            "mp::Connection",
            &(index, self.readable, self.writable, self.is_socket),
        )
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(rename = "mp::Connection")]
        struct Wire((u32, bool, bool, bool));
        let Wire((index, readable, writable, is_socket)) = Wire::deserialize(d)?;
        let fd =
            reduction::import_fd(index).map_err(|e| D::Error::custom(codec::custom_error(e)))?;
        Ok(Connection::from_fd(fd, readable, writable, is_socket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplex_round_trip() {
        let (a, b) = pipe(true).unwrap();
        a.send(&vec![1u32, 2, 3]).unwrap();
        b.send(&"back".to_string()).unwrap();
        assert_eq!(b.recv::<Vec<u32>>().unwrap(), vec![1, 2, 3]);
        assert_eq!(a.recv::<String>().unwrap(), "back");
    }

    #[test]
    fn one_way_pipe_has_directions() {
        let (r, w) = pipe(false).unwrap();
        assert!(matches!(r.send_bytes(b"x"), Err(Error::WrongDirection(_))));
        assert!(matches!(w.recv_bytes(None), Err(Error::WrongDirection(_))));
        w.send_bytes(b"hello").unwrap();
        assert_eq!(r.recv_bytes(None).unwrap(), b"hello");
    }

    /// Small messages one at a time leave the read buffer at its first
    /// 4 KiB; a backlog of queued messages grows it to 64 KiB, every message
    /// intact (also across the growth steps).
    #[test]
    fn read_buffer_starts_small_and_grows_under_a_backlog() {
        let (a, b) = pipe(true).unwrap();
        for i in 0..100u32 {
            a.send_bytes(&i.to_be_bytes()).unwrap();
            assert_eq!(b.recv_bytes(None).unwrap(), i.to_be_bytes());
        }
        assert_eq!(b.rbuf.borrow().data.len(), BUF_MIN);
        // 600 messages of 100 bytes (62 KiB with their headers) queued at
        // once, in one write (600 small writes would fill the socket's
        // buffer with per-write overhead first).
        let msgs: Vec<Vec<u8>> = (0..600u32).map(|i| vec![i as u8; 100]).collect();
        let mut frames = Vec::new();
        for m in &msgs {
            frames.extend_from_slice(&(m.len() as u32).to_be_bytes());
            frames.extend_from_slice(m);
        }
        let mut written = 0;
        while written < frames.len() {
            written += nix::unistd::write(a.fd().unwrap(), &frames[written..]).unwrap();
        }
        for m in &msgs {
            assert_eq!(&b.recv_bytes(None).unwrap(), m);
        }
        assert!(b.rbuf.borrow().data.len() >= BUF_SIZE);
        // A message larger than the buffer but read through it.
        let mid = vec![9u8; BUF_SIZE / 2 - 1];
        a.send_bytes(&mid).unwrap();
        assert_eq!(b.recv_bytes(None).unwrap(), mid);
    }

    #[test]
    fn empty_message() {
        let (a, b) = pipe(true).unwrap();
        a.send_bytes(b"").unwrap();
        a.send_bytes(b"after").unwrap();
        assert_eq!(b.recv_bytes(None).unwrap(), b"");
        assert_eq!(b.recv_bytes(None).unwrap(), b"after");
    }

    #[test]
    fn eof_is_distinct() {
        let (a, mut b) = pipe(true).unwrap();
        b.close();
        assert!(matches!(a.recv_bytes(None), Err(Error::Eof)));
        assert!(matches!(b.recv_bytes(None), Err(Error::Closed)));
    }

    #[test]
    fn eof_in_the_middle_of_a_frame() {
        let (a, b) = pipe(true).unwrap();
        let fd = b.into_fd().unwrap();
        nix::unistd::write(&fd, &[0, 0, 0, 10, b'a', b'b']).unwrap();
        drop(fd);
        assert!(matches!(a.recv_bytes(None), Err(Error::Eof)));
    }

    #[test]
    fn maxlength_refuses_and_closes() {
        let (a, b) = pipe(true).unwrap();
        a.send_bytes(&[7u8; 100]).unwrap();
        match b.recv_bytes(Some(10)) {
            Err(Error::TooLong { len: 100, max: 10 }) => {}
            other => panic!("expected TooLong, got {other:?}"),
        }
        assert!(b.closed());
        assert!(matches!(b.recv_bytes(None), Err(Error::Closed)));
    }

    #[test]
    fn buffer_too_short_keeps_the_message() {
        let (a, b) = pipe(true).unwrap();
        a.send_bytes(b"0123456789").unwrap();
        let mut small = [0u8; 4];
        match b.recv_bytes_into(&mut small) {
            Err(Error::BufferTooShort { message, cap: 4 }) => assert_eq!(message, b"0123456789"),
            other => panic!("{other:?}"),
        }
        a.send_bytes(b"abc").unwrap();
        let mut big = [0u8; 8];
        assert_eq!(b.recv_bytes_into(&mut big).unwrap(), 3);
        assert_eq!(&big[..3], b"abc");
    }

    #[test]
    fn negative_length_is_a_protocol_error() {
        let (a, b) = pipe(true).unwrap();
        let fd = b.into_fd().unwrap();
        nix::unistd::write(&fd, &(-5i32).to_be_bytes()).unwrap();
        assert!(matches!(a.recv_bytes(None), Err(Error::BadLength(-5))));
    }

    #[test]
    fn poll_sees_buffered_frames() {
        let (a, b) = pipe(true).unwrap();
        assert!(!b.poll(Some(Duration::ZERO)).unwrap());
        a.send_bytes(b"one").unwrap();
        a.send_bytes(b"two").unwrap();
        assert!(b.poll(Some(Duration::from_secs(5))).unwrap());
        assert_eq!(b.recv_bytes(None).unwrap(), b"one");
        // "two" was read into the buffer with "one": poll must still say ready.
        assert!(b.poll(Some(Duration::ZERO)).unwrap());
        assert_eq!(b.recv_bytes(None).unwrap(), b"two");
        assert!(!b.poll(Some(Duration::from_millis(10))).unwrap());
    }

    /// A timeout too large to represent is no deadline: poll and wait
    /// return what is ready instead of panicking on `Instant + Duration`.
    #[test]
    fn poll_and_wait_with_a_huge_timeout() {
        let (a, b) = pipe(true).unwrap();
        let (c, d) = pipe(true).unwrap();
        a.send_bytes(b"one").unwrap();
        assert!(b.poll(Some(Duration::MAX)).unwrap(), "Connection::poll");
        c.send_bytes(b"two").unwrap();
        assert_eq!(
            crate::wait(&[&b, &d], Some(Duration::MAX)).unwrap(),
            vec![0, 1],
            "connection::wait"
        );
        assert_eq!(b.recv_bytes(None).unwrap(), b"one");
        assert_eq!(
            crate::wait(&[&b, &d], Some(Duration::MAX)).unwrap(),
            vec![1],
            "connection::wait after one was read"
        );
    }

    #[test]
    fn many_messages_in_both_sizes_from_a_thread() {
        let (a, b) = pipe(true).unwrap();
        let t = std::thread::spawn(move || {
            for i in 0..2000u32 {
                let len = if i % 100 == 0 {
                    300_000
                } else {
                    (i % 50) as usize
                };
                a.send_bytes(&vec![(i % 251) as u8; len]).unwrap();
            }
        });
        for i in 0..2000u32 {
            let len = if i % 100 == 0 {
                300_000
            } else {
                (i % 50) as usize
            };
            let m = b.recv_bytes(None).unwrap();
            assert_eq!(m.len(), len, "message {i}");
            assert!(m.iter().all(|&x| x == (i % 251) as u8));
        }
        t.join().unwrap();
    }

    /// A message over 2 GiB uses the 12-byte header and arrives whole.
    #[test]
    fn frame_over_two_gib() {
        let (a, b) = pipe(true).unwrap();
        let len = (1usize << 31) + 3;
        let t = std::thread::spawn(move || {
            let mut msg = vec![0u8; len];
            msg[len - 1] = 9;
            a.send_bytes(&msg).unwrap();
            a.send_bytes(b"next").unwrap();
        });
        let got = b.recv_bytes(None).unwrap();
        assert_eq!(got.len(), len);
        assert_eq!(got[len - 1], 9);
        drop(got);
        assert_eq!(b.recv_bytes(None).unwrap(), b"next");
        t.join().unwrap();
    }

    #[test]
    fn decode_error_names_the_problem() {
        let (a, b) = pipe(true).unwrap();
        a.send_bytes(&[0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(b.recv::<String>(), Err(Error::Decode(_))));
    }

    #[test]
    fn sending_a_connection_outside_start_is_refused() {
        let (a, b) = pipe(true).unwrap();
        let (c, _d) = pipe(true).unwrap();
        match a.send(&c) {
            Err(Error::Encode(text)) => {
                assert!(text.message().contains("Process::start"), "{text}")
            }
            other => panic!("{other:?}"),
        }
        drop(b);
    }
}
