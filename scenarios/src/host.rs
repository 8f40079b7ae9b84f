//! A host on the engine: one `stack::Endpoint` plus an [`Application`]
//! that reacts to what the endpoint reports, recording what happened so
//! oracles and renderers can read it afterwards.
//!
//! What a step costs: a step is one packet arrival or one wake-up. The host
//! hands the endpoint the packet or the timeout, then drains the endpoint's
//! events (each names one connection), then serves the connections with
//! work: those with new data or EOF to read and those waiting for send
//! space whose state the step touched. Nothing visits every connection
//! ever opened; per step the work is proportional to the events, the
//! segments and the connections they name (lookups are `BTreeMap`s, so
//! `O(log n)` each, and iteration order is the connection number's).
//!
//! Writability: the stack does not emit `Event::Writable`, so the host
//! derives it. A connection whose application wants to write (a short
//! `send`, or [`AppCtx::want_writable`]) waits in `blocked` while it has no
//! send space; send space only frees when an ACK for that connection
//! arrives, so only the connection of the packet a step handled is looked
//! at again. One with space already waits in `ready` and is served at the
//! next step.
//!
//! Delivery records: every byte the application writes (accepted by the
//! endpoint) and reads goes into the connection's [`Stream`] as a running
//! [`Flow`] digest plus length, so the delivery oracle checks arbitrary
//! application bytes without a copy.

use crate::app::{AppCtx, Application, Conn, Listener, Schedule};
use crate::digest::Flow;
use sim::{Addr, Ctx, Node, Packet, Time, TimerId};
use stack::wire;
use stack::{Endpoint, EndpointConfig, Event, Instant, SocketError, SocketId, State, TcpConfig};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

pub use crate::app::Action;

/// The pattern repeats every `PATTERN_PERIOD` bytes: a prime, so no
/// segment size or buffer size lines up with it, and a byte delivered at the
/// wrong offset is caught unless it is off by an exact multiple of it.
pub const PATTERN_PERIOD: usize = 65_521;

fn pattern_table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        // Two periods back to back so any window of one period is contiguous.
        (0..2 * PATTERN_PERIOD as u64)
            .map(|i| {
                let j = i % PATTERN_PERIOD as u64;
                let x = j.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                (x >> 56) as u8 ^ (j as u8)
            })
            .collect()
    })
}

/// The byte at stream offset `i` of every connection's data.
pub fn pattern(i: u64) -> u8 {
    pattern_table()[(i % PATTERN_PERIOD as u64) as usize]
}

/// `len` (at most one period) pattern bytes starting at stream offset `offset`.
pub fn pattern_slice(offset: u64, len: usize) -> &'static [u8] {
    let start = (offset % PATTERN_PERIOD as u64) as usize;
    &pattern_table()[start..start + len.min(PATTERN_PERIOD)]
}

/// The offset of the first byte of `data` (read at stream offset `offset`)
/// that is not the pattern, if any.
pub fn pattern_mismatch(offset: u64, data: &[u8]) -> Option<u64> {
    let mut checked = 0;
    while checked < data.len() {
        let len = (data.len() - checked).min(PATTERN_PERIOD);
        let at = offset + checked as u64;
        let got = &data[checked..checked + len];
        let want = pattern_slice(at, len);
        if got != want {
            let i = got.iter().zip(want).position(|(a, b)| a != b);
            return Some(at + i.unwrap_or(0) as u64);
        }
        checked += len;
    }
    None
}

/// What a host saw, in order, with the trace index it happened at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A connection changed RFC 9293 state.
    State {
        /// The endpoint's socket id.
        conn: SocketId,
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
    /// A connection ended with an error (refused, reset, timed out...).
    Error {
        /// The endpoint's socket id.
        conn: SocketId,
        /// The error.
        error: SocketError,
    },
    /// A connection was accepted from a listener.
    Accepted {
        /// The new connection's socket id.
        conn: SocketId,
    },
    /// The host crashed and rebooted: every connection and listener is gone.
    Crash,
    /// A call the application made failed.
    CallFailed {
        /// The call, as the ladder prints it (boxed: most records are
        /// state changes, and this keeps every record 16 bytes).
        action: Box<str>,
        /// Why the endpoint refused it.
        error: SocketError,
    },
}

/// A wake-up scheduled for a host from outside ([`sim::World::wake_node_at`])
/// with this bit in its token calls the application's
/// [`Application::timer`] with the rest of the token: how a driver that
/// steps the world itself (tcpsim-tokio's `Sim`) hands a host's
/// application a turn at a time it chose. The host's own wakes use token 0.
pub const APP_WAKE: u64 = 1 << 63;

/// A record with its time and position in the engine trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// Virtual time of the record.
    pub time: Time,
    /// How many trace events there were when it was recorded.
    pub trace_index: u64,
    /// What happened.
    pub record: Record,
}

/// One connection as this host saw it, kept after the connection is gone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    /// The endpoint's id while the connection exists (None after a crash).
    pub id: Option<SocketId>,
    /// The local address and port, once known.
    pub local: Option<SocketAddrV4>,
    /// The peer's address and port, once known.
    pub remote: Option<SocketAddrV4>,
    /// Bytes the endpoint accepted from the application, as a digest.
    pub written: Flow,
    /// Bytes the application read, as a digest.
    pub read: Flow,
    /// An application that knows what it should read (the pattern) reports
    /// the offset of the first byte that was wrong.
    pub first_mismatch: Option<u64>,
    /// The peer's FIN was read.
    pub eof: bool,
    /// The error the connection ended with, if any.
    pub error: Option<SocketError>,
    /// The connection reached CLOSED (its id is released).
    pub closed: bool,
    /// The connection's counters as last seen (they outlive the connection here).
    pub counters: stack::Counters,
}

/// The state a segment's endpoint was in when it left or after it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentState {
    /// Index of the `Send` or `Deliver` event in the engine trace.
    pub trace_index: u64,
    /// The matching connection's state then; `LISTEN` for a listener's
    /// port, `CLOSED` when nothing matched (`None` only for a datagram too
    /// short to carry ports).
    pub state: Option<State>,
}

/// Anything that carries a [`Host`]: `Outcome` reads oracles, ladders and
/// tables through it, so a custom node wrapping a host keeps them. A node
/// type registers itself in a [`crate::run::Setup`] with
/// [`crate::run::HostNode::of`].
pub trait HasHost: Node {
    /// The host inside the node.
    fn host(&self) -> &Host;
    /// The host, to change before a run (turning on
    /// [`Host::record_metrics`] for [`crate::run::RunOptions::metrics`]).
    /// A node that does not give it out runs with its host as built.
    fn host_mut(&mut self) -> Option<&mut Host> {
        None
    }
}

impl HasHost for Host {
    fn host(&self) -> &Host {
        self
    }
    fn host_mut(&mut self) -> Option<&mut Host> {
        Some(self)
    }
}

/// A set of connections in number order, as a sorted vector: a step
/// touches a handful, so a binary search and a short move beat a B-tree,
/// and the vector's memory is reused from step to step (a bulk sender goes
/// in and out of `blocked` on every ACK without allocating).
#[derive(Default, Debug, Clone)]
pub(crate) struct ConnSet(Vec<Conn>);

impl ConnSet {
    pub(crate) fn insert(&mut self, conn: Conn) -> bool {
        match self.0.binary_search(&conn) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, conn);
                true
            }
        }
    }
    pub(crate) fn remove(&mut self, conn: &Conn) -> bool {
        match self.0.binary_search(conn) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }
    pub(crate) fn contains(&self, conn: &Conn) -> bool {
        self.0.binary_search(conn).is_ok()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
    /// Moves the members, in order, into `into` (cleared first); the set
    /// is left empty with `into`'s old memory.
    pub(crate) fn move_into(&mut self, into: &mut Vec<Conn>) {
        into.clear();
        std::mem::swap(&mut self.0, into);
    }
}

/// Work the host owes the application at the end of a step, per connection.
#[derive(Default)]
pub(crate) struct Pending {
    /// Connections with data or EOF to read.
    pub(crate) read: ConnSet,
    /// Connections that want to write and have space: served next step.
    pub(crate) ready: ConnSet,
    /// Connections that want to write and have no space.
    pub(crate) blocked: ConnSet,
    /// Connections whose counters may have changed.
    pub(crate) dirty: ConnSet,
    /// Spare vectors the step's sets are moved into while served.
    scratch: [Vec<Conn>; 3],
}

/// A bound on the event-draining rounds of one step: application calls made
/// while serving the step (a close, an abort) report events too, and each
/// round answers them. More rounds than this is an application that loops.
const STEP_ROUNDS_MAX: usize = 64;

/// A TCP host on the engine: a [`stack::Endpoint`] driven by the engine's
/// packets and timers, beside an [`Application`] that makes socket calls.
/// It records what it saw (state changes, errors, every connection's
/// bytes as digests) for oracles and renderers.
pub struct Host {
    /// The host's unique name (the engine node's name).
    pub name: String,
    pub(crate) addr: Ipv4Addr,
    pub(crate) secret: [u8; 16],
    pub(crate) tcp: TcpConfig,
    /// The host's TCP.
    pub endpoint: Endpoint,
    app: Option<Box<dyn Application>>,
    /// When the application's `start` runs (None: never, an empty schedule).
    start: Option<Time>,
    started: bool,
    /// Every connection opened or accepted, by [`Conn`] number.
    pub streams: Vec<Stream>,
    /// Live connections by endpoint id (looked up, never iterated in an
    /// order that matters).
    pub(crate) by_id: hashbrown::HashMap<SocketId, Conn>,
    pub(crate) listeners: Vec<(SocketId, u16)>,
    pub(crate) paused: ConnSet,
    pub(crate) pending: Pending,
    /// Application timers by (deadline, order set): token.
    pub(crate) timers: BTreeMap<(Time, u64), u64>,
    pub(crate) timer_count: u64,
    /// SYN cookies when a listener's SYN queue is full (on by default).
    pub(crate) syn_cookies: bool,
    /// State changes, errors, accepts and crashes, in order.
    pub log: Vec<Logged>,
    /// Sender state per Send event (by trace index), for the ladder.
    pub departures: Vec<SegmentState>,
    /// Receiver state per Deliver event (by trace index), for the ladder.
    pub arrivals: Vec<SegmentState>,
    /// Datagrams the endpoint refused as malformed (bad checksum, truncated,
    /// not TCP...).
    pub malformed_count: u64,
    /// Datagrams this host sent and received.
    pub traffic: Traffic,
    /// The TCP internals time series, when recording is on (see [`crate::metrics`]).
    metrics: Option<Box<crate::metrics::Recorder>>,
    wake: Option<(Time, TimerId)>,
    out: Vec<u8>,
    read_buf: Vec<u8>,
    pub(crate) boot_count: u32,
}

pub(crate) fn to_instant(t: Time) -> Instant {
    Instant::from_nanos(t.as_nanos())
}

/// The (local port, remote address) of an IPv4/TCP datagram without
/// checking it (the endpoint checks; this only finds the connection).
fn peek_tuple(datagram: &[u8], outgoing: bool) -> Option<(u16, SocketAddrV4)> {
    let (pair, src_port, dst_port) = stack::wire::peek_tuple(datagram)?;
    Some(if outgoing {
        (src_port, SocketAddrV4::new(pair.dst, dst_port))
    } else {
        (dst_port, SocketAddrV4::new(pair.src, src_port))
    })
}

/// Datagrams a host sent and received, and how many of them carried data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams sent that carried TCP payload.
    pub data_sent: u64,
    /// Datagrams received.
    pub received: u64,
    /// Datagrams received that carried TCP payload.
    pub data_received: u64,
    /// When the last datagram with data arrived.
    pub last_data_received: Time,
}

/// Whether an IPv4/TCP datagram carries payload (see
/// [`stack::wire::peek_carries_data`]).
fn carries_data(datagram: &[u8]) -> bool {
    stack::wire::peek_carries_data(datagram)
}

impl Host {
    /// A host at `addr` whose ISN secret derives from `secret`, running an
    /// empty [`Schedule`] until [`Host::at`] or [`Host::app`] gives it work.
    pub fn new(name: &str, addr: Addr, secret: [u8; 16], tcp: TcpConfig) -> Host {
        let ip = Ipv4Addr::from(addr);
        let mut config = EndpointConfig::new(secret);
        config.tcp = tcp.clone();
        Host {
            name: name.to_string(),
            addr: ip,
            secret,
            tcp,
            endpoint: Endpoint::new(ip, config),
            app: Some(Box::new(Schedule::default())),
            start: None,
            started: false,
            streams: Vec::new(),
            by_id: hashbrown::HashMap::new(),
            listeners: Vec::new(),
            paused: ConnSet::default(),
            pending: Pending::default(),
            timers: BTreeMap::new(),
            timer_count: 0,
            syn_cookies: true,
            log: Vec::new(),
            departures: Vec::new(),
            arrivals: Vec::new(),
            malformed_count: 0,
            traffic: Traffic::default(),
            metrics: None,
            wake: None,
            out: Vec::with_capacity(2048),
            read_buf: vec![0; 65536],
            boot_count: 0,
        }
    }

    /// Runs `app` on this host, started at time zero (see [`Host::start_at`]).
    /// It replaces the timed schedule.
    pub fn app(mut self, app: impl Application) -> Host {
        self.app = Some(Box::new(app));
        self.start = Some(Time::ZERO);
        self
    }

    /// Starts the application at `at` instead of time zero.
    pub fn start_at(mut self, at: Time) -> Host {
        self.start = Some(at);
        self
    }

    /// Adds a step of the timed schedule at `at`. Steps at equal times run
    /// in the order added. The host starts at the earliest step.
    ///
    /// # Panics
    ///
    /// On a host given an application with [`Host::app`]: a schedule and
    /// an application would both own the same connections. Build the
    /// schedule's steps into the application instead (its `timer` calls).
    pub fn at(mut self, at: Time, action: Action) -> Host {
        let schedule = self
            .schedule_mut()
            .expect("Host::at: this host runs an application, not a schedule");
        schedule.add(at, action);
        let first = schedule.first_time();
        self.start = first;
        self
    }

    /// Closes each connection as soon as the peer's FIN has been read (a
    /// server that answers EOF with its own FIN at once). Schedule only.
    ///
    /// # Panics
    ///
    /// On a host given an application with [`Host::app`] (an application
    /// decides for itself what to do on EOF, in `peer_closed`).
    pub fn close_on_eof(mut self) -> Host {
        self.schedule_mut()
            .expect("Host::close_on_eof: this host runs an application, not a schedule")
            .close_on_eof = true;
        self
    }

    fn schedule_mut(&mut self) -> Option<&mut Schedule> {
        let app: &mut dyn std::any::Any = self.app.as_deref_mut()?;
        app.downcast_mut::<Schedule>()
    }

    /// The application, if it is a `T` (to read what it recorded).
    pub fn application<T: Application>(&self) -> Option<&T> {
        let app: &dyn std::any::Any = self.app.as_deref()?;
        app.downcast_ref::<T>()
    }

    /// Turns SYN cookies off (or on) for this host's endpoint.
    pub fn syn_cookies(mut self, on: bool) -> Host {
        self.syn_cookies = on;
        let mut config = self.endpoint.config().clone();
        config.syn_cookies = on;
        self.endpoint = Endpoint::new(self.addr, config);
        self
    }

    /// Records a time series of every connection's [`stack::TcpInfo`]
    /// (see [`crate::metrics`]); off unless asked, and free when off.
    pub fn record_metrics(mut self) -> Host {
        self.set_record_metrics(true);
        self
    }

    /// Turns the [`crate::metrics`] recording on or off (off drops what was recorded).
    pub fn set_record_metrics(&mut self, on: bool) {
        self.metrics = on.then(Box::default);
    }

    /// What the metrics recording holds, if it is on.
    pub fn metrics(&self) -> Option<&crate::metrics::Recorder> {
        self.metrics.as_deref()
    }

    /// The first time the host needs to be woken (drivers schedule this once).
    pub fn first_wake(&self) -> Option<Time> {
        self.start
    }

    /// The host's address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub(crate) fn record(&mut self, ctx: &Ctx<'_>, record: Record) {
        self.log.push(Logged {
            time: ctx.now(),
            trace_index: ctx.trace_len(),
            record,
        });
    }

    /// A new connection (opened or accepted) gets the next number.
    pub(crate) fn register(&mut self, id: SocketId) -> Conn {
        let (local, remote) = self.endpoint.addresses(id).unzip();
        let conn = Conn(self.streams.len());
        self.streams.push(Stream {
            id: Some(id),
            local,
            remote,
            ..Stream::default()
        });
        self.by_id.insert(id, conn);
        self.pending.dirty.insert(conn);
        conn
    }

    /// Calls the application with a context over this host.
    fn call(
        &mut self,
        ctx: &mut Ctx<'_>,
        f: impl FnOnce(&mut dyn Application, &mut AppCtx<'_, '_>),
    ) {
        let Some(mut app) = self.app.take() else {
            return;
        };
        f(app.as_mut(), &mut AppCtx::new(self, ctx));
        self.app = Some(app);
    }

    /// Application timers due now, in the order set (those set while firing
    /// run at the next wake, so a timer loop cannot spin inside one step).
    fn fire_timers(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        let bound = self.timer_count;
        while let Some((&(at, order), &token)) = self.timers.first_key_value() {
            if at > now || order >= bound {
                break;
            }
            self.timers.remove(&(at, order));
            self.call(ctx, |app, cx| app.timer(cx, token));
        }
    }

    /// Endpoint events, in order, to records and application calls.
    /// Returns whether there were any.
    fn drain_events(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut any = false;
        while let Some(event) = self.endpoint.poll_event() {
            any = true;
            match event {
                Event::StateChanged { id, from, to } => {
                    self.record(ctx, Record::State { conn: id, from, to })
                }
                Event::Error(id, error) => {
                    self.record(ctx, Record::Error { conn: id, error });
                    if let Some(&conn) = self.by_id.get(&id) {
                        self.streams[conn.0].error = Some(error);
                    }
                }
                Event::Incoming(listener) => {
                    while let Ok(id) = self.endpoint.accept(listener) {
                        let conn = self.register(id);
                        self.record(ctx, Record::Accepted { conn: id });
                        // Data or a FIN may have come before the accept.
                        self.pending.read.insert(conn);
                        self.call(ctx, |app, cx| app.accepted(cx, Listener(listener), conn));
                    }
                }
                Event::Connected(id) => {
                    if let Some(&conn) = self.by_id.get(&id) {
                        self.pending.dirty.insert(conn);
                        // connect(2) returns once the handshake's ACK is
                        // out (Linux sends it at once on the SYN,ACK,
                        // tcp_rcv_synsent_state_process): data the
                        // application writes now follows it, never rides it.
                        self.transmit(ctx);
                        self.call(ctx, |app, cx| app.connected(cx, conn));
                    }
                }
                Event::Readable(id) | Event::PeerClosed(id) => {
                    if let Some(&conn) = self.by_id.get(&id) {
                        self.pending.read.insert(conn);
                    }
                }
                Event::Writable(id) => {
                    if let Some(&conn) = self.by_id.get(&id) {
                        self.pending.blocked.remove(&conn);
                        self.pending.ready.insert(conn);
                    }
                }
                Event::Closed(id) => {
                    if let Some(conn) = self.by_id.remove(&id) {
                        let stream = &mut self.streams[conn.0];
                        stream.closed = true;
                        let error = stream.error;
                        self.pending.blocked.remove(&conn);
                        self.pending.ready.remove(&conn);
                        self.pending.read.remove(&conn);
                        self.pending.dirty.remove(&conn);
                        self.paused.remove(&conn);
                        if let Some(metrics) = self.metrics.as_deref_mut() {
                            metrics.closed(ctx.now(), conn);
                        }
                        self.call(ctx, |app, cx| app.closed(cx, conn, error));
                    }
                }
            }
        }
        any
    }

    /// Reads everything `conn` has for the application.
    fn serve_read(&mut self, ctx: &mut Ctx<'_>, conn: Conn) {
        if self.paused.contains(&conn) {
            return;
        }
        let Some(id) = self.streams.get(conn.0).and_then(|s| s.id) else {
            return;
        };
        let now = to_instant(ctx.now());
        let mut buf = std::mem::take(&mut self.read_buf);
        loop {
            match self.endpoint.recv(now, id, &mut buf) {
                Ok(0) => {
                    let stream = &mut self.streams[conn.0];
                    if !stream.eof {
                        stream.eof = true;
                        self.call(ctx, |app, cx| app.peer_closed(cx, conn));
                    }
                    break;
                }
                Ok(n) => {
                    self.streams[conn.0].read.update(&buf[..n]);
                    self.call(ctx, |app, cx| app.received(cx, conn, &buf[..n]));
                    if self.paused.contains(&conn) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        self.read_buf = buf;
        self.pending.dirty.insert(conn);
    }

    /// Serves the connections with work: each in number order, writes first
    /// (send space), then reads.
    fn serve(&mut self, ctx: &mut Ctx<'_>, writes: bool) {
        let mut ready_list = std::mem::take(&mut self.pending.scratch[0]);
        if writes {
            self.pending.ready.move_into(&mut ready_list);
        } else {
            ready_list.clear();
        }
        let mut read_list = std::mem::take(&mut self.pending.scratch[1]);
        self.pending.read.move_into(&mut read_list);
        let mut ready = ready_list.iter().copied().peekable();
        let mut reads = read_list.iter().copied().peekable();
        loop {
            let next = match (ready.peek(), reads.peek()) {
                (Some(&w), Some(&r)) => w.min(r),
                (Some(&w), None) => w,
                (None, Some(&r)) => r,
                (None, None) => break,
            };
            if ready.next_if_eq(&next).is_some() {
                let id = self.streams.get(next.0).and_then(|s| s.id);
                if id.is_some_and(|id| self.endpoint.send_capacity(id) > 0) {
                    self.pending.dirty.insert(next);
                    self.call(ctx, |app, cx| app.writable(cx, next));
                } else if id.is_some() {
                    self.pending.blocked.insert(next);
                }
            }
            if reads.next_if_eq(&next).is_some() {
                self.serve_read(ctx, next);
            }
        }
        ready_list.clear();
        self.pending.scratch[0] = ready_list;
        read_list.clear();
        self.pending.scratch[1] = read_list;
    }

    /// Output: every datagram the endpoint has, recording the sender's state.
    fn transmit(&mut self, ctx: &mut Ctx<'_>) {
        let now = to_instant(ctx.now());
        let keep_states = ctx.trace_kept();
        while self.endpoint.poll_transmit(now, &mut self.out) {
            if keep_states {
                let state = self.state_for(&self.out, true, false);
                self.departures.push(SegmentState {
                    trace_index: ctx.trace_len(),
                    state,
                });
            }
            if let Some(conn) = self.conn_of(&self.out, true) {
                self.pending.dirty.insert(conn);
            }
            self.traffic.sent += 1;
            self.traffic.data_sent += u64::from(carries_data(&self.out));
            let dst = Addr(u32::from_be_bytes([
                self.out[16],
                self.out[17],
                self.out[18],
                self.out[19],
            ]));
            let mut packet = ctx.alloc_packet(ctx.addr(), dst);
            packet.bytes.extend_from_slice(&self.out);
            ctx.send(packet);
        }
    }

    /// Events, application work, output, next wake.
    fn pump(&mut self, ctx: &mut Ctx<'_>) {
        self.drain_events(ctx);
        self.serve(ctx, true);
        // Calls made while serving (a close, an abort) report events; answer
        // them in this step. They cannot make data readable (only arriving
        // segments do), so later rounds only drain and read.
        let mut rounds = 0;
        while self.drain_events(ctx) || !self.pending.read.is_empty() {
            rounds += 1;
            assert!(
                rounds <= STEP_ROUNDS_MAX,
                "{}: the application kept the host busy for {STEP_ROUNDS_MAX} rounds in one step at {}",
                self.name,
                ctx.now()
            );
            self.serve(ctx, false);
        }
        self.transmit(ctx);
        let mut dirty = std::mem::take(&mut self.pending.scratch[2]);
        self.pending.dirty.move_into(&mut dirty);
        for &conn in &dirty {
            let stream = &mut self.streams[conn.0];
            let Some(id) = stream.id else { continue };
            if let Some(c) = self.endpoint.connection_counters(id) {
                stream.counters = c;
            }
            if let Some(metrics) = self.metrics.as_deref_mut()
                && let (Some(info), Some(addresses)) =
                    (self.endpoint.info(id), self.endpoint.addresses(id))
            {
                metrics.sample(ctx.now(), conn, addresses, info);
            }
        }
        dirty.clear();
        self.pending.scratch[2] = dirty;
        if self.started {
            self.call(ctx, |app, cx| app.step_end(cx));
        }
        // Next wake: the earlier of the next application timer and the next TCP timer.
        let next_app = self.timers.first_key_value().map(|((t, _), _)| *t);
        let next_timer = self
            .endpoint
            .poll_timeout()
            .map(|i| Time::from_nanos(i.as_nanos()));
        let target = match (next_app, next_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(target) = target {
            let target = target.max(ctx.now());
            match self.wake {
                Some((at, _)) if at <= target && at >= ctx.now() => {}
                Some((_, id)) => {
                    ctx.cancel(id);
                    self.wake = Some((target, ctx.wake_at(target, 0)));
                }
                None => self.wake = Some((target, ctx.wake_at(target, 0))),
            }
        }
    }

    /// The live connection a datagram belongs to on this host.
    fn conn_of(&self, datagram: &[u8], outgoing: bool) -> Option<Conn> {
        let (port, remote) = peek_tuple(datagram, outgoing)?;
        let id = self.endpoint.lookup(port, remote)?;
        self.by_id.get(&id).copied()
    }

    /// The local port and remote address a datagram concerns on this host.
    fn tuple_of(datagram: &[u8], outgoing: bool) -> Option<(u16, SocketAddrV4)> {
        let (pair, seg) = wire::parse_datagram(datagram).ok()?;
        Some(if outgoing {
            (seg.src_port, SocketAddrV4::new(pair.dst, seg.dst_port))
        } else {
            (seg.dst_port, SocketAddrV4::new(pair.src, seg.src_port))
        })
    }

    /// The state to print beside a segment. `had_connection`: a connection
    /// owned the segment's 4-tuple before it arrived, so if none does now,
    /// the segment ended it (CLOSED) rather than reaching a listener.
    fn state_for(&self, datagram: &[u8], outgoing: bool, had_connection: bool) -> Option<State> {
        let (local_port, remote) = Self::tuple_of(datagram, outgoing)?;
        match self.endpoint.lookup(local_port, remote) {
            Some(id) => self.endpoint.state(id),
            None if had_connection => Some(State::Closed),
            None => {
                let listening = self.listeners.iter().any(|&(id, port)| {
                    port == local_port && self.endpoint.state(id) == Some(State::Listen)
                });
                if listening {
                    Some(State::Listen)
                } else {
                    Some(State::Closed)
                }
            }
        }
    }
}

impl Node for Host {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        let deliver_index = ctx.trace_len().saturating_sub(1);
        let now = to_instant(ctx.now());
        let conn = self.conn_of(&packet.bytes, false);
        let had_connection = ctx.trace_kept()
            && Self::tuple_of(&packet.bytes, false)
                .is_some_and(|(port, remote)| self.endpoint.lookup(port, remote).is_some());
        self.traffic.received += 1;
        if carries_data(&packet.bytes) {
            self.traffic.data_received += 1;
            self.traffic.last_data_received = ctx.now();
        }
        if self.endpoint.handle_packet(now, &packet.bytes).is_err() {
            self.malformed_count += 1;
        }
        if let Some(conn) = conn {
            self.pending.dirty.insert(conn);
            // An ACK may have freed send space: the only way it frees.
            if self.pending.blocked.remove(&conn) {
                self.pending.ready.insert(conn);
            }
        }
        if ctx.trace_kept() {
            let state = self.state_for(&packet.bytes, false, had_connection);
            self.arrivals.push(SegmentState {
                trace_index: deliver_index,
                state,
            });
        }
        ctx.recycle(packet);
        self.pump(ctx);
    }

    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        if self.wake.is_some_and(|(at, _)| at <= ctx.now()) {
            self.wake = None;
        }
        if !self.started && self.start.is_some_and(|t| t <= ctx.now()) {
            self.started = true;
            self.call(ctx, |app, cx| app.start(cx));
        }
        self.fire_timers(ctx);
        if token & APP_WAKE != 0 && self.started {
            self.call(ctx, |app, cx| app.timer(cx, token & !APP_WAKE));
        }
        self.endpoint.handle_timeout(to_instant(ctx.now()));
        self.pump(ctx);
    }
}
