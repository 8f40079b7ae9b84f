//! `TcpListener` and `TcpStream` with tokio's shape, over the host's
//! simulated TCP endpoint.
//!
//! A socket is a handle on state the host keeps (`HostState`): the
//! program's calls record what they want (bytes to send, a connect, a
//! shutdown) and wait on wakers; the host hands those to the endpoint
//! after every pass of the runtime, and wakes the wakers from the engine's
//! events (connected, data, send space, EOF, closed). Only sockets of the
//! host whose software is running can be used: the host is found through
//! the runtime that polls the task.

use scenarios::app::Conn;
use stack::SocketError;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes a connection's reader may hold unread before the host stops
/// reading the endpoint for it (the peer's window then closes: TCP's own
/// back-pressure). Linux's default `tcp_rmem` is 128 KiB.
pub(crate) const READ_BUFFER_MAX: usize = 128 * 1024;

/// tokio's `TcpListener::bind` backlog (and Linux's `somaxconn`).
const BACKLOG: usize = 1024;

thread_local! {
    /// The host whose runtime is being polled on this thread.
    static CURRENT: RefCell<Option<Rc<RefCell<HostState>>>> = const { RefCell::new(None) };
}

/// Makes `host` the current host while `f` runs (the driver wraps every
/// pass of a host's runtime in this).
pub(crate) fn with_current<R>(host: &Rc<RefCell<HostState>>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(Some(host.clone())));
    let r = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    r
}

fn current() -> io::Result<Rc<RefCell<HostState>>> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        io::Error::other(
            "tcpsim-tokio sockets work only inside a simulated host's software (Sim::host or Sim::client)",
        )
    })
}

/// The `std::io::Error` a Linux program sees for a stack error.
pub(crate) fn io_error(e: SocketError) -> io::Error {
    use io::ErrorKind as K;
    let kind = match e {
        SocketError::WouldBlock => K::WouldBlock,
        SocketError::ConnectionRefused => K::ConnectionRefused,
        SocketError::ConnectionReset => K::ConnectionReset,
        SocketError::TimedOut => K::TimedOut,
        SocketError::ConnectionAborted => K::ConnectionAborted,
        SocketError::NotConnected => K::NotConnected,
        SocketError::BrokenPipe => K::BrokenPipe,
        SocketError::AddressInUse => K::AddrInUse,
        SocketError::AddressNotAvailable => K::AddrNotAvailable,
        SocketError::AlreadyConnected => K::AlreadyExists,
        SocketError::InvalidSocket => K::InvalidInput,
        SocketError::NetworkUnreachable | SocketError::NoNetwork => K::NetworkUnreachable,
        SocketError::HostUnreachable | SocketError::HostDown => K::HostUnreachable,
        SocketError::NotSupported => K::Unsupported,
        SocketError::ProtocolUnavailable | SocketError::ProtocolError => K::Other,
    };
    io::Error::new(kind, format!("{} (simulated)", e.errno_name()))
}

/// What a program asked for that needs the endpoint.
pub(crate) enum Command {
    Bind {
        port: u16,
        slot: Rc<RefCell<Slot<u64>>>,
    },
    Connect {
        remote: SocketAddrV4,
        slot: Rc<RefCell<Slot<Conn>>>,
    },
    /// The last handle on a connection was dropped.
    Close(Conn),
    Shutdown(Conn),
    Nodelay(Conn, bool),
    CloseListener(u64),
}

/// A reply the host fills in, and the waker of the future waiting for it.
pub(crate) struct Slot<T> {
    pub(crate) result: Option<io::Result<T>>,
    pub(crate) waker: Option<Waker>,
    /// For a connect: the connection the endpoint opened.
    pub(crate) conn: Option<Conn>,
    /// The future was dropped or took its result.
    pub(crate) done: bool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            result: None,
            waker: None,
            conn: None,
            done: false,
        }
    }
}

impl<T> Slot<T> {
    pub(crate) fn complete(&mut self, result: io::Result<T>) {
        self.result = Some(result);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// One connection as the program sees it.
pub(crate) struct Sock {
    pub(crate) local: SocketAddrV4,
    pub(crate) peer: SocketAddrV4,
    /// Connecting: the connect future to complete.
    pub(crate) connect: Option<Rc<RefCell<Slot<Conn>>>>,
    pub(crate) inbuf: VecDeque<u8>,
    pub(crate) eof: bool,
    /// An error not yet reported to a read or a write.
    pub(crate) error: Option<SocketError>,
    /// Reported once already: later writes are EPIPE, later reads EOF.
    pub(crate) error_reported: bool,
    pub(crate) closed: bool,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    /// Send space as last asked of the endpoint (never more than it has:
    /// space only grows between asks, as ACKs arrive).
    pub(crate) send_cap: usize,
    /// Bytes written by the program, handed to the endpoint after the pass.
    pub(crate) out: Vec<u8>,
    pub(crate) want_write: bool,
    pub(crate) shut: bool,
    pub(crate) paused: bool,
    pub(crate) nodelay: bool,
    /// Handles alive (a stream, or its two owned halves).
    pub(crate) handles: u8,
}

impl Sock {
    pub(crate) fn new(local: SocketAddrV4, peer: SocketAddrV4) -> Sock {
        Sock {
            local,
            peer,
            connect: None,
            inbuf: VecDeque::new(),
            eof: false,
            error: None,
            error_reported: false,
            closed: false,
            read_waker: None,
            write_waker: None,
            send_cap: 0,
            out: Vec::new(),
            want_write: false,
            shut: false,
            paused: false,
            nodelay: false,
            handles: 0,
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for w in [self.read_waker.take(), self.write_waker.take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }
}

/// A listener as the program sees it.
#[derive(Default)]
pub(crate) struct Lis {
    pub(crate) id: Option<scenarios::app::Listener>,
    pub(crate) queue: VecDeque<Conn>,
    pub(crate) waker: Option<Waker>,
}

/// Everything a host's sockets share with the host.
pub(crate) struct HostState {
    pub(crate) name: String,
    pub(crate) addr: Ipv4Addr,
    /// Every host of the simulation by name.
    pub(crate) names: Rc<BTreeMap<String, Ipv4Addr>>,
    pub(crate) socks: BTreeMap<Conn, Sock>,
    pub(crate) listeners: BTreeMap<u64, Lis>,
    pub(crate) next_listener: u64,
    pub(crate) commands: VecDeque<Command>,
    /// Connections with bytes to hand over, a writer waiting, or a reader
    /// that made room.
    pub(crate) dirty: BTreeSet<Conn>,
    /// Engine time of tokio's clock zero, and tokio's instant then.
    pub(crate) origin: sim::Time,
    pub(crate) start: Option<tokio::time::Instant>,
}

impl HostState {
    pub(crate) fn new(
        name: String,
        addr: Ipv4Addr,
        names: Rc<BTreeMap<String, Ipv4Addr>>,
    ) -> HostState {
        HostState {
            name,
            addr,
            names,
            socks: BTreeMap::new(),
            listeners: BTreeMap::new(),
            next_listener: 0,
            commands: VecDeque::new(),
            dirty: BTreeSet::new(),
            origin: sim::Time::ZERO,
            start: None,
        }
    }

    /// Forgets every socket (a crash), failing whatever still waits.
    pub(crate) fn reset(&mut self) {
        self.socks.clear();
        self.listeners.clear();
        self.commands.clear();
        self.dirty.clear();
    }

    fn resolve(&self, host: &str) -> io::Result<Ipv4Addr> {
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(ip);
        }
        if host == "localhost" {
            return Ok(self.addr);
        }
        self.names.get(host).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "failed to look up address information: no host named {host:?} in this simulation"
                ),
            )
        })
    }
}

/// The address of the simulated host named `name`, as a DNS lookup would
/// give it (an IPv4 literal parses to itself). Only inside a host's software.
pub fn lookup(name: &str) -> io::Result<Ipv4Addr> {
    current()?.borrow().resolve(name)
}

/// The name of the host whose software calls this.
pub fn hostname() -> io::Result<String> {
    Ok(current()?.borrow().name.clone())
}

/// Virtual time since the simulation started (tokio's `Instant` counts from
/// the host's boot instead).
pub fn sim_elapsed() -> io::Result<std::time::Duration> {
    let host = current()?;
    let h = host.borrow();
    let start = h
        .start
        .ok_or_else(|| io::Error::other("the host's runtime is not running"))?;
    Ok(std::time::Duration::from_nanos(h.origin.as_nanos())
        + tokio::time::Instant::now().duration_since(start))
}

/// Addresses a simulated socket can bind or connect to: `"server:8080"`,
/// `("server", 8080)`, `"10.0.0.2:80"`, a `SocketAddr` or `SocketAddrV4`.
/// Host names are the simulation's ([`lookup`]).
pub trait ToSocketAddr {
    /// The address, resolved on `host`'s name table.
    #[doc(hidden)]
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4>;
}

/// A borrowed host, for [`ToSocketAddr`] (opaque).
pub struct HostStateRef<'a>(&'a HostState);

fn split_host_port(s: &str) -> io::Result<(&str, u16)> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid socket address {s:?}: expected HOST:PORT"),
        )
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse::<u16>().map_err(|_| invalid())?;
    Ok((host, port))
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(a) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{a}: the simulated network is IPv4 only"),
        )),
    }
}

impl ToSocketAddr for str {
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        let (name, port) = split_host_port(self)?;
        Ok(SocketAddrV4::new(host.0.resolve(name)?, port))
    }
}
impl ToSocketAddr for String {
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        self.as_str().resolve_on(host)
    }
}
impl ToSocketAddr for (&str, u16) {
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        Ok(SocketAddrV4::new(host.0.resolve(self.0)?, self.1))
    }
}
impl ToSocketAddr for (String, u16) {
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        (self.0.as_str(), self.1).resolve_on(host)
    }
}
impl ToSocketAddr for (Ipv4Addr, u16) {
    fn resolve_on(&self, _: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        Ok(SocketAddrV4::new(self.0, self.1))
    }
}
impl ToSocketAddr for (std::net::IpAddr, u16) {
    fn resolve_on(&self, _: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        v4(SocketAddr::new(self.0, self.1))
    }
}
impl ToSocketAddr for SocketAddrV4 {
    fn resolve_on(&self, _: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        Ok(*self)
    }
}
impl ToSocketAddr for SocketAddr {
    fn resolve_on(&self, _: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        v4(*self)
    }
}
impl<T: ToSocketAddr + ?Sized> ToSocketAddr for &T {
    fn resolve_on(&self, host: &HostStateRef<'_>) -> io::Result<SocketAddrV4> {
        (**self).resolve_on(host)
    }
}

fn resolve(host: &Rc<RefCell<HostState>>, addr: &impl ToSocketAddr) -> io::Result<SocketAddrV4> {
    let h = host.borrow();
    addr.resolve_on(&HostStateRef(&h))
}

/// Waits for a [`Slot`] to be completed by the host.
struct SlotFuture<T> {
    slot: Rc<RefCell<Slot<T>>>,
}

impl<T> Future for SlotFuture<T> {
    type Output = io::Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(r) => {
                slot.done = true;
                Poll::Ready(r)
            }
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SlotFuture<T> {
    fn drop(&mut self) {
        self.slot.borrow_mut().done = true;
    }
}

/// A listening socket on the simulated host, as `tokio::net::TcpListener`.
pub struct TcpListener {
    host: Rc<RefCell<HostState>>,
    id: u64,
    local: SocketAddrV4,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .finish()
    }
}

impl TcpListener {
    /// Listens on `addr`: `0.0.0.0:PORT` or the host's own address.
    /// `AddrInUse` if the port is taken, `AddrNotAvailable` for another
    /// host's address.
    pub async fn bind(addr: impl ToSocketAddr) -> io::Result<TcpListener> {
        let host = current()?;
        let addr = resolve(&host, &addr)?;
        let own = host.borrow().addr;
        if !addr.ip().is_unspecified() && *addr.ip() != own {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("cannot bind {addr}: not an address of this host ({own})"),
            ));
        }
        if addr.port() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "binding port 0 (an ephemeral listening port) is not simulated: name the port",
            ));
        }
        let slot = Rc::new(RefCell::new(Slot::default()));
        host.borrow_mut().commands.push_back(Command::Bind {
            port: addr.port(),
            slot: slot.clone(),
        });
        let id = SlotFuture { slot }.await?;
        Ok(TcpListener {
            host,
            id,
            local: SocketAddrV4::new(own, addr.port()),
        })
    }

    /// The next connection, already established, and its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut h = self.host.borrow_mut();
        let Some(lis) = h.listeners.get_mut(&self.id) else {
            return Poll::Ready(Err(io_error(SocketError::InvalidSocket)));
        };
        match lis.queue.pop_front() {
            Some(conn) => {
                let sock = h
                    .socks
                    .get_mut(&conn)
                    .expect("accepted connections have a socket");
                sock.handles = 1;
                let peer = sock.peer;
                Poll::Ready(Ok((
                    TcpStream {
                        host: self.host.clone(),
                        conn,
                    },
                    SocketAddr::V4(peer),
                )))
            }
            None => {
                lis.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(self.local))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        if let Ok(mut h) = self.host.try_borrow_mut() {
            h.commands.push_back(Command::CloseListener(self.id));
        }
    }
}

/// A connection on the simulated host, as `tokio::net::TcpStream`.
/// Dropping it closes the connection (a RST if unread data is left, as
/// Linux does).
pub struct TcpStream {
    host: Rc<RefCell<HostState>>,
    conn: Conn,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = self.host.borrow();
        let mut d = f.debug_struct("TcpStream");
        if let Some(s) = h.socks.get(&self.conn) {
            d.field("local", &s.local).field("peer", &s.peer);
        }
        d.finish()
    }
}

/// Closes a connection's socket when its last handle goes.
fn release(host: &Rc<RefCell<HostState>>, conn: Conn) {
    let Ok(mut h) = host.try_borrow_mut() else {
        return;
    };
    let Some(s) = h.socks.get_mut(&conn) else {
        return;
    };
    s.handles = s.handles.saturating_sub(1);
    if s.handles == 0 {
        h.commands.push_back(Command::Close(conn));
    }
}

impl TcpStream {
    /// Opens a connection to `addr` (`"server:8080"`, `("server", 8080)`,
    /// an address). `ConnectionRefused` if nothing listens there,
    /// `TimedOut` if the SYNs go unanswered, `NotFound` for an unknown host.
    pub async fn connect(addr: impl ToSocketAddr) -> io::Result<TcpStream> {
        let host = current()?;
        let remote = resolve(&host, &addr)?;
        let slot = Rc::new(RefCell::new(Slot::default()));
        host.borrow_mut().commands.push_back(Command::Connect {
            remote,
            slot: slot.clone(),
        });
        let conn = ConnectFuture {
            slot,
            host: host.clone(),
        }
        .await?;
        Ok(TcpStream { host, conn })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Sock) -> R) -> io::Result<R> {
        with_sock(&self.host, self.conn, f)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.with(|s| SocketAddr::V4(s.local))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.with(|s| SocketAddr::V4(s.peer))
    }

    /// TCP_NODELAY: send small segments at once instead of waiting for
    /// outstanding data to be acknowledged (Nagle, RFC 9293 §3.7.4).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.with(|s| s.nodelay = nodelay)?;
        self.host
            .borrow_mut()
            .commands
            .push_back(Command::Nodelay(self.conn, nodelay));
        Ok(())
    }

    /// Whether TCP_NODELAY is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with(|s| s.nodelay)
    }

    /// Borrowed read and write halves (as `tokio::net::TcpStream::split`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned halves that can move to different tasks. Dropping the write
    /// half shuts the write direction down (a FIN), as tokio's does.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        // Two halves, less this stream's own handle when it drops below.
        let _ = self.with(|s| s.handles += 2);
        let host = self.host.clone();
        let conn = self.conn;
        (
            OwnedReadHalf {
                host: host.clone(),
                conn,
            },
            OwnedWriteHalf { host, conn },
        )
    }
}

fn with_sock<R>(
    host: &Rc<RefCell<HostState>>,
    conn: Conn,
    f: impl FnOnce(&mut Sock) -> R,
) -> io::Result<R> {
    let mut h = host.borrow_mut();
    h.socks
        .get_mut(&conn)
        .map(f)
        .ok_or_else(|| io_error(SocketError::ConnectionReset))
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        release(&self.host, self.conn);
    }
}

/// Waits for a connect; a dropped (timed-out) connect closes its half-open
/// connection.
struct ConnectFuture {
    slot: Rc<RefCell<Slot<Conn>>>,
    host: Rc<RefCell<HostState>>,
}

impl Future for ConnectFuture {
    type Output = io::Result<Conn>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Conn>> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(r) => {
                slot.done = true;
                if let Ok(conn) = r
                    && let Ok(mut h) = self.host.try_borrow_mut()
                    && let Some(s) = h.socks.get_mut(&conn)
                {
                    s.handles = 1;
                }
                Poll::Ready(r)
            }
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for ConnectFuture {
    fn drop(&mut self) {
        let mut slot = self.slot.borrow_mut();
        if slot.done {
            return;
        }
        slot.done = true;
        if let Some(conn) = slot.conn
            && let Ok(mut h) = self.host.try_borrow_mut()
        {
            h.commands.push_back(Command::Close(conn));
        }
    }
}

fn poll_read_sock(
    host: &Rc<RefCell<HostState>>,
    conn: Conn,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let mut h = host.borrow_mut();
    let Some(s) = h.socks.get_mut(&conn) else {
        return Poll::Ready(Err(io_error(SocketError::ConnectionReset)));
    };
    if !s.inbuf.is_empty() {
        let n = buf.remaining().min(s.inbuf.len());
        let (a, b) = s.inbuf.as_slices();
        let from_a = n.min(a.len());
        buf.put_slice(&a[..from_a]);
        buf.put_slice(&b[..n - from_a]);
        s.inbuf.drain(..n);
        if s.paused {
            h.dirty.insert(conn);
        }
        return Poll::Ready(Ok(()));
    }
    if let Some(e) = s.error
        && !s.error_reported
    {
        s.error_reported = true;
        return Poll::Ready(Err(io_error(e)));
    }
    if s.eof || s.closed || buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    s.read_waker = Some(cx.waker().clone());
    Poll::Pending
}

fn poll_write_sock(
    host: &Rc<RefCell<HostState>>,
    conn: Conn,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<io::Result<usize>> {
    let mut h = host.borrow_mut();
    let Some(s) = h.socks.get_mut(&conn) else {
        return Poll::Ready(Err(io_error(SocketError::BrokenPipe)));
    };
    if let Some(e) = s.error {
        // Linux reports the reset once (ECONNRESET), then EPIPE.
        let e = if s.error_reported {
            SocketError::BrokenPipe
        } else {
            e
        };
        s.error_reported = true;
        return Poll::Ready(Err(io_error(e)));
    }
    if s.shut || s.closed {
        return Poll::Ready(Err(io_error(SocketError::BrokenPipe)));
    }
    if data.is_empty() {
        return Poll::Ready(Ok(0));
    }
    if s.send_cap > 0 {
        let n = data.len().min(s.send_cap);
        s.out.extend_from_slice(&data[..n]);
        s.send_cap -= n;
        h.dirty.insert(conn);
        return Poll::Ready(Ok(n));
    }
    s.write_waker = Some(cx.waker().clone());
    s.want_write = true;
    h.dirty.insert(conn);
    Poll::Pending
}

fn poll_shutdown_sock(host: &Rc<RefCell<HostState>>, conn: Conn) -> Poll<io::Result<()>> {
    let mut h = host.borrow_mut();
    let Some(s) = h.socks.get_mut(&conn) else {
        return Poll::Ready(Err(io_error(SocketError::NotConnected)));
    };
    if !s.shut && !s.closed {
        s.shut = true;
        h.commands.push_back(Command::Shutdown(conn));
    }
    Poll::Ready(Ok(()))
}

macro_rules! async_io {
    ($t:ty, read) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let (host, conn) = self.parts();
                poll_read_sock(host, conn, cx, buf)
            }
        }
    };
    ($t:ty, write) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                let (host, conn) = self.parts();
                poll_write_sock(host, conn, cx, data)
            }
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Written bytes are in the send buffer as soon as the
                // write returns, as with a kernel socket.
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let (host, conn) = self.parts();
                poll_shutdown_sock(host, conn)
            }
        }
    };
}

impl TcpStream {
    fn parts(&self) -> (&Rc<RefCell<HostState>>, Conn) {
        (&self.host, self.conn)
    }
}
async_io!(TcpStream, read);
async_io!(TcpStream, write);

/// The read half of [`TcpStream::split`].
pub struct ReadHalf<'a>(&'a TcpStream);
/// The write half of [`TcpStream::split`] (`poll_shutdown` sends the FIN).
pub struct WriteHalf<'a>(&'a TcpStream);
impl ReadHalf<'_> {
    fn parts(&self) -> (&Rc<RefCell<HostState>>, Conn) {
        self.0.parts()
    }
}
impl WriteHalf<'_> {
    fn parts(&self) -> (&Rc<RefCell<HostState>>, Conn) {
        self.0.parts()
    }
}
async_io!(ReadHalf<'_>, read);
async_io!(WriteHalf<'_>, write);

/// The owned read half of [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    host: Rc<RefCell<HostState>>,
    conn: Conn,
}
/// The owned write half of [`TcpStream::into_split`]; dropping it sends
/// the FIN (as tokio's does).
pub struct OwnedWriteHalf {
    host: Rc<RefCell<HostState>>,
    conn: Conn,
}
impl OwnedReadHalf {
    fn parts(&self) -> (&Rc<RefCell<HostState>>, Conn) {
        (&self.host, self.conn)
    }
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        with_sock(&self.host, self.conn, |s| SocketAddr::V4(s.peer))
    }
}
impl OwnedWriteHalf {
    fn parts(&self) -> (&Rc<RefCell<HostState>>, Conn) {
        (&self.host, self.conn)
    }
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        with_sock(&self.host, self.conn, |s| SocketAddr::V4(s.peer))
    }
}
async_io!(OwnedReadHalf, read);
async_io!(OwnedWriteHalf, write);

impl Drop for OwnedReadHalf {
    fn drop(&mut self) {
        release(&self.host, self.conn);
    }
}
impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        let _ = poll_shutdown_sock(&self.host, self.conn);
        release(&self.host, self.conn);
    }
}

/// Sizes the host uses when it serves sockets.
pub(crate) fn backlog() -> usize {
    BACKLOG
}
