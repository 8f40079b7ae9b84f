//! Ready applications: what users would otherwise write for every scenario.
//!
//! - [`BulkSender`] / [`BulkSink`]: one connection carrying `bytes` of the
//!   pattern; the sink checks every byte against it.
//! - [`EchoServer`]: writes back everything it reads, closes after the peer.
//! - [`RequestClient`] / [`RequestServer`]: request/response with sizes, a
//!   request count, a limit on connections open at once, and think time.
//! - [`ChurnClient`]: "keep N open; open the next when one ends", W4's
//!   workload of many short connections.
//!
//! Each keeps what it did in public fields, for expectations to read
//! through [`crate::host::Host::application`]. None of them scans every
//! connection: each call touches only the connection it names.

use crate::app::{AppCtx, Application, Conn};
use crate::host::{pattern_mismatch, pattern_slice};
use rand_core::RngCore;
use sim::{Duration, Time};
use stack::SocketError;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

/// How much written-back or response data an application queues per
/// connection before it stops reading (so a slow peer cannot make it buffer
/// without bound).
pub const BACKLOG_BYTES_MAX: usize = 1 << 20;

/// Opens one connection to `remote`, writes `bytes` of the pattern, then
/// closes (or half-closes with `shutdown_only`).
pub struct BulkSender {
    /// The server to connect to.
    pub remote: SocketAddrV4,
    /// Bytes of the pattern to write.
    pub bytes: u64,
    /// Half-close (SHUT_WR) after writing instead of CLOSE.
    pub shutdown_only: bool,
    /// Bytes the endpoint has taken so far.
    pub written: u64,
    conn: Option<Conn>,
}

impl BulkSender {
    /// A sender of `bytes` pattern bytes to `remote` that closes when done.
    pub fn new(remote: SocketAddrV4, bytes: u64) -> BulkSender {
        BulkSender {
            remote,
            bytes,
            shutdown_only: false,
            written: 0,
            conn: None,
        }
    }

    fn push(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        while self.written < self.bytes {
            let n = (self.bytes - self.written).min(crate::host::PATTERN_PERIOD as u64) as usize;
            match cx.send(conn, pattern_slice(self.written, n)) {
                Ok(0) | Err(_) => return,
                Ok(sent) => self.written += sent as u64,
            }
        }
        let done = if self.shutdown_only {
            cx.shutdown(conn)
        } else {
            cx.close(conn)
        };
        if let Err(e) = done {
            cx.call_failed(format!("bulk sender: end of {conn}"), e);
        }
    }
}

impl Application for BulkSender {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        match cx.connect(self.remote) {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => cx.call_failed(format!("bulk sender: connect {}", self.remote), e),
        }
    }
    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.push(cx, conn);
    }
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if self.written < self.bytes {
            self.push(cx, conn);
        }
    }
}

/// Listens on `port`, reads every connection to its end checking the
/// pattern, and closes each once the peer has closed.
pub struct BulkSink {
    /// The port it listens on.
    pub port: u16,
    /// The listener's accept queue length (default 1024).
    pub backlog: usize,
    /// Bytes read, over all connections.
    pub read: u64,
    /// Connections that ended with EOF.
    pub finished: u64,
}

impl BulkSink {
    /// A sink on `port` with a backlog of 1024.
    pub fn new(port: u16) -> BulkSink {
        BulkSink {
            port,
            backlog: 1024,
            read: 0,
            finished: 0,
        }
    }
}

impl Application for BulkSink {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        if let Err(e) = cx.listen(self.port, self.backlog) {
            cx.call_failed(format!("bulk sink: listen {}", self.port), e);
        }
    }
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        self.read += data.len() as u64;
        let offset = cx.stream(conn).map_or(0, |s| s.read.len) - data.len() as u64;
        if let Some(at) = pattern_mismatch(offset, data) {
            cx.report_mismatch(conn, at);
        }
    }
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.finished += 1;
        let _ = cx.close(conn);
    }
}

/// Bytes waiting to be written on one connection, and whether it closes
/// once they are out (the peer closed, or the application is done).
#[derive(Default)]
struct Backlog {
    bytes: VecDeque<u8>,
    close_when_empty: bool,
}

/// Writes out what waits on `conn`; stops reading while too much waits and
/// closes once all is out after the peer closed.
fn flush(cx: &mut AppCtx<'_, '_>, conn: Conn, backlog: &mut Backlog) {
    while !backlog.bytes.is_empty() {
        let (front, _) = backlog.bytes.as_slices();
        match cx.send(conn, front) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                backlog.bytes.drain(..n);
            }
        }
    }
    if backlog.bytes.len() >= BACKLOG_BYTES_MAX {
        cx.pause_reading(conn);
    } else {
        cx.resume_reading(conn);
    }
    if backlog.bytes.is_empty() && backlog.close_when_empty {
        let _ = cx.close(conn);
    }
}

/// Listens on `port` and writes back every byte it reads; closes a
/// connection once the peer has closed and the echo is out.
pub struct EchoServer {
    /// The port it listens on.
    pub port: u16,
    /// Bytes echoed (taken by the endpoint), over all connections.
    pub echoed: u64,
    backlogs: BTreeMap<Conn, Backlog>,
}

impl EchoServer {
    /// An echo server on `port`.
    pub fn new(port: u16) -> EchoServer {
        EchoServer {
            port,
            echoed: 0,
            backlogs: BTreeMap::new(),
        }
    }
}

impl Application for EchoServer {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        if let Err(e) = cx.listen(self.port, 1024) {
            cx.call_failed(format!("echo: listen {}", self.port), e);
        }
    }
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let b = self.backlogs.entry(conn).or_default();
        b.bytes.extend(data);
        let before = b.bytes.len();
        flush(cx, conn, b);
        self.echoed += (before - b.bytes.len()) as u64;
    }
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if let Some(b) = self.backlogs.get_mut(&conn) {
            let before = b.bytes.len();
            flush(cx, conn, b);
            self.echoed += (before - b.bytes.len()) as u64;
        }
    }
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let b = self.backlogs.entry(conn).or_default();
        b.close_when_empty = true;
        flush(cx, conn, b);
    }
    fn closed(&mut self, _cx: &mut AppCtx<'_, '_>, conn: Conn, _error: Option<SocketError>) {
        self.backlogs.remove(&conn);
    }
}

/// Answers each `request_size` bytes read with `response_size` bytes (the
/// response's bytes are the request number's, so a response delivered to
/// the wrong request is visible); closes after the peer.
pub struct RequestServer {
    /// The port it listens on.
    pub port: u16,
    /// Bytes in each request.
    pub request_size: u64,
    /// Bytes in each response.
    pub response_size: u64,
    /// Requests answered, over all connections.
    pub answered: u64,
    /// Close each connection (FIN after the last response) once it has
    /// answered this many requests; None: close after the peer does.
    pub close_after: Option<u64>,
    progress: BTreeMap<Conn, (u64, Backlog)>,
}

impl RequestServer {
    /// A server on `port` answering `request_size`-byte requests with
    /// `response_size` bytes, closing after the peer.
    ///
    /// # Panics
    ///
    /// If `request_size` is 0.
    pub fn new(port: u16, request_size: u64, response_size: u64) -> RequestServer {
        assert!(request_size > 0, "a request has at least one byte");
        RequestServer {
            port,
            request_size,
            response_size,
            answered: 0,
            close_after: None,
            progress: BTreeMap::new(),
        }
    }

    /// Closes each connection after answering `n` requests (its FIN rides
    /// on the last response), as a server that does the active close.
    pub fn close_after(mut self, n: u64) -> RequestServer {
        assert!(n > 0, "at least one request per connection");
        self.close_after = Some(n);
        self
    }
}

impl Application for RequestServer {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        if let Err(e) = cx.listen(self.port, 1024) {
            cx.call_failed(format!("request server: listen {}", self.port), e);
        }
    }
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let (seen, backlog) = self.progress.entry(conn).or_default();
        let before = *seen / self.request_size;
        *seen += data.len() as u64;
        for request in before..*seen / self.request_size {
            let byte = (request % 251) as u8;
            backlog
                .bytes
                .extend(std::iter::repeat_n(byte, self.response_size as usize));
            self.answered += 1;
        }
        if self
            .close_after
            .is_some_and(|n| *seen / self.request_size >= n)
        {
            backlog.close_when_empty = true;
        }
        flush(cx, conn, backlog);
    }
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if let Some((_, b)) = self.progress.get_mut(&conn) {
            flush(cx, conn, b);
        }
    }
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let (_, b) = self.progress.entry(conn).or_default();
        b.close_when_empty = true;
        flush(cx, conn, b);
    }
    fn closed(&mut self, _cx: &mut AppCtx<'_, '_>, conn: Conn, _error: Option<SocketError>) {
        self.progress.remove(&conn);
    }
}

/// One connection of a [`RequestClient`].
#[derive(Default)]
struct Caller {
    /// Request bytes still to write.
    request: VecDeque<u8>,
    /// Response bytes still expected for the request in flight.
    awaiting: u64,
    sent_at: Time,
    /// Requests started on this connection.
    made: u64,
}

/// Makes `count` requests of `request_size` random bytes (from the host's
/// stream) to `server`, each answered by `response_size` bytes, over at
/// most `concurrency` connections at once; each connection makes its
/// requests one after another, `think_time` apart, and closes when no
/// requests are left.
pub struct RequestClient {
    /// The server to connect to.
    pub server: SocketAddrV4,
    /// Bytes in each request.
    pub request_size: u64,
    /// Bytes in each response.
    pub response_size: u64,
    /// Requests to make in all.
    pub count: u64,
    /// The most connections open at once (default 1).
    pub concurrency: usize,
    /// Pause between a response and the next request on a connection (default zero).
    pub think_time: Duration,
    /// Requests written (or being written).
    pub issued: u64,
    /// Responses read in full.
    pub completed: u64,
    /// Request-to-response times, in completion order.
    pub latencies: Vec<Duration>,
    /// Connections that ended with an error.
    pub failed: Vec<(Conn, SocketError)>,
    /// At most this many requests per connection; then it closes and, when
    /// it has ended, the next connection opens (None: one connection per
    /// concurrency slot makes requests until none are left).
    pub per_connection: Option<u64>,
    /// Connections opened so far.
    pub connections_opened: u64,
    callers: BTreeMap<Conn, Caller>,
}

impl RequestClient {
    /// A client making `count` requests to `server`, one connection, no think time.
    pub fn new(
        server: SocketAddrV4,
        request_size: u64,
        response_size: u64,
        count: u64,
    ) -> RequestClient {
        RequestClient {
            server,
            request_size,
            response_size,
            count,
            concurrency: 1,
            think_time: Duration::ZERO,
            issued: 0,
            completed: 0,
            latencies: Vec::new(),
            failed: Vec::new(),
            per_connection: None,
            connections_opened: 0,
            callers: BTreeMap::new(),
        }
    }

    /// Closes each connection after `n` requests and opens the next one
    /// when it has ended (W4: one request per connection, `n` = 1).
    pub fn requests_per_connection(mut self, n: u64) -> RequestClient {
        assert!(n > 0, "at least one request per connection");
        self.per_connection = Some(n);
        self
    }

    /// Connections the whole run needs.
    fn connections_needed(&self) -> u64 {
        match self.per_connection {
            Some(n) => self.count.div_ceil(n),
            None => (self.concurrency as u64).min(self.count),
        }
    }

    /// Opens connections while the run needs more and a slot is free.
    fn open_more(&mut self, cx: &mut AppCtx<'_, '_>) {
        while self.connections_opened < self.connections_needed()
            && self.callers.len() < self.concurrency
        {
            self.connections_opened += 1;
            match cx.connect(self.server) {
                Ok(conn) => {
                    self.callers.insert(conn, Caller::default());
                }
                Err(e) => cx.call_failed(format!("request client: connect {}", self.server), e),
            }
        }
    }

    /// Builder: at most `limit` connections open at once.
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    pub fn concurrency(mut self, limit: usize) -> RequestClient {
        assert!(limit > 0, "at least one connection");
        self.concurrency = limit;
        self
    }

    /// Builder: wait `pause` after each response before the next request.
    pub fn think_time(mut self, pause: Duration) -> RequestClient {
        self.think_time = pause;
        self
    }

    /// Starts the next request on `conn`, or closes it if none are left.
    fn next_request(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let made = self.callers.get(&conn).map_or(0, |c| c.made);
        if self.issued >= self.count || self.per_connection.is_some_and(|n| made >= n) {
            let _ = cx.close(conn);
            return;
        }
        self.issued += 1;
        let mut bytes = vec![0; self.request_size as usize];
        cx.rng().fill_bytes(&mut bytes);
        let now = cx.now();
        let caller = self.callers.entry(conn).or_default();
        caller.made += 1;
        caller.request.extend(bytes);
        caller.awaiting = self.response_size;
        caller.sent_at = now;
        Self::write(cx, conn, caller);
    }

    fn write(cx: &mut AppCtx<'_, '_>, conn: Conn, caller: &mut Caller) {
        while !caller.request.is_empty() {
            let (front, _) = caller.request.as_slices();
            match cx.send(conn, front) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    caller.request.drain(..n);
                }
            }
        }
    }
}

impl Application for RequestClient {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        self.open_more(cx);
    }
    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.next_request(cx, conn);
    }
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if let Some(caller) = self.callers.get_mut(&conn) {
            Self::write(cx, conn, caller);
        }
    }
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let Some(caller) = self.callers.get_mut(&conn) else {
            return;
        };
        caller.awaiting = caller.awaiting.saturating_sub(data.len() as u64);
        if caller.awaiting > 0 {
            return;
        }
        self.completed += 1;
        self.latencies.push(cx.now() - caller.sent_at);
        if self.think_time == Duration::ZERO {
            self.next_request(cx, conn);
        } else {
            cx.set_timer(cx.now() + self.think_time, conn.0 as u64);
        }
    }
    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, token: u64) {
        self.next_request(cx, Conn(token as usize));
    }
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        // With a limit per connection, a connection ends for the client
        // when both sides have closed (its TIME-WAIT does not hold a slot).
        if self.per_connection.is_some() && self.callers.remove(&conn).is_some() {
            self.open_more(cx);
        }
    }
    fn closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, error: Option<SocketError>) {
        let ended = self.callers.remove(&conn).is_some();
        if let Some(e) = error {
            self.failed.push((conn, e));
        }
        if ended && self.per_connection.is_some() {
            self.open_more(cx);
        }
    }
}

/// W4: `total` short connections to `server`, at most `open_max` open at
/// once; each writes `bytes_each` pattern bytes and closes, and ends for
/// the client when the server's FIN is read (or it fails); then the next
/// one opens.
pub struct ChurnClient {
    /// The server to connect to.
    pub server: SocketAddrV4,
    /// Connections to make in all.
    pub total: u64,
    /// The most connections open at once.
    pub open_max: usize,
    /// Pattern bytes each connection writes before closing.
    pub bytes_each: u64,
    /// Connections opened so far.
    pub opened: u64,
    /// Connections that ended (EOF read or an error).
    pub ended: u64,
    /// The most open at once.
    pub open_peak: usize,
    /// Connections that ended with an error.
    pub failed: u64,
    open: BTreeMap<Conn, u64>,
}

impl ChurnClient {
    /// A client making `total` connections to `server`, at most `open_max`
    /// open at once, each writing `bytes_each` pattern bytes.
    ///
    /// # Panics
    ///
    /// If `open_max` is 0.
    pub fn new(server: SocketAddrV4, total: u64, open_max: usize, bytes_each: u64) -> ChurnClient {
        assert!(open_max > 0, "at least one connection open at once");
        ChurnClient {
            server,
            total,
            open_max,
            bytes_each,
            opened: 0,
            ended: 0,
            open_peak: 0,
            failed: 0,
            open: BTreeMap::new(),
        }
    }

    fn open_next(&mut self, cx: &mut AppCtx<'_, '_>) {
        while self.opened < self.total && self.open.len() < self.open_max {
            self.opened += 1;
            match cx.connect(self.server) {
                Ok(conn) => {
                    self.open.insert(conn, 0);
                    self.open_peak = self.open_peak.max(self.open.len());
                }
                Err(e) => {
                    cx.call_failed(format!("churn: connect {}", self.server), e);
                    self.ended += 1;
                    self.failed += 1;
                }
            }
        }
    }

    fn push(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(written) = self.open.get_mut(&conn) else {
            return;
        };
        while *written < self.bytes_each {
            let n = (self.bytes_each - *written).min(crate::host::PATTERN_PERIOD as u64) as usize;
            match cx.send(conn, pattern_slice(*written, n)) {
                Ok(0) | Err(_) => return,
                Ok(sent) => *written += sent as u64,
            }
        }
        let _ = cx.close(conn);
    }

    fn end(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, failed: bool) {
        if self.open.remove(&conn).is_some() {
            self.ended += 1;
            self.failed += u64::from(failed);
            self.open_next(cx);
        }
    }
}

impl Application for ChurnClient {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        self.open_next(cx);
    }
    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.push(cx, conn);
    }
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.push(cx, conn);
    }
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.end(cx, conn, false);
    }
    fn closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, error: Option<SocketError>) {
        self.end(cx, conn, error.is_some());
    }
}
