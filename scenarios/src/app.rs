//! Applications: what a host runs beside its TCP endpoint.
//!
//! An [`Application`] is reactive, as an ns-3 `Application` or a program on
//! sockets: the host calls it when it starts, when a connection it opened
//! is established or one is accepted, when data arrives (the bytes, already
//! read), when send space frees after a short write, when the peer closes
//! (EOF), when a connection ends, and when a timer it set fires. It answers
//! with socket calls through its [`AppCtx`]. Connections are numbered
//! ([`Conn`]) 0, 1, 2... in the order they are opened or accepted on the
//! host, and keep their number after they end.
//!
//! The timed schedule of [`Action`]s ([`Schedule`]) is one application; the
//! ready ones users would otherwise write every time are in
//! [`crate::apps`].
//!
//! What this module does not do: it has no blocking calls and no threads;
//! an application never waits, it returns and is called again.

use crate::host::{Host, Record, pattern_mismatch, pattern_slice, to_instant};
use sim::{Ctx, SimRng, Time};
use stack::{Endpoint, EndpointConfig, Keepalive, SocketError, SocketId, State};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddrV4;

/// A connection's number on its host: 0, 1, 2... in the order opened or accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Conn(pub usize);

impl fmt::Display for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}", self.0)
    }
}

/// A listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener(pub SocketId);

/// What a host runs. Every method has an empty default, so an application
/// implements only what it reacts to.
pub trait Application: Any {
    /// The host starts (at time zero unless `Host::start_at` says otherwise).
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        let _ = cx;
    }
    /// A connection this application opened is established.
    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let _ = (cx, conn);
    }
    /// A listener of this application accepted `conn` (already established).
    fn accepted(&mut self, cx: &mut AppCtx<'_, '_>, listener: Listener, conn: Conn) {
        let _ = (cx, listener, conn);
    }
    /// `data` was read from `conn` (the host reads for the application
    /// unless [`AppCtx::pause_reading`] stopped it).
    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let _ = (cx, conn, data);
    }
    /// Send space freed on `conn` after a short `send` (or
    /// [`AppCtx::want_writable`]).
    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let _ = (cx, conn);
    }
    /// The peer's FIN was read: no more data will come on `conn`.
    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let _ = (cx, conn);
    }
    /// `conn` reached CLOSED; `error` is why, if it did not end cleanly
    /// (refused, reset, timed out).
    fn closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, error: Option<SocketError>) {
        let _ = (cx, conn, error);
    }
    /// A timer set with [`AppCtx::set_timer`] fired.
    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, token: u64) {
        let _ = (cx, token);
    }
    /// The host's step is over (every call above made, the segments it
    /// produced sent), just before the host asks the engine for its next
    /// wake. An application with a clock of its own (a tokio runtime)
    /// decides here when it next needs a [`Application::timer`]. Timers set
    /// here count; socket calls made here are only served at the next step.
    fn step_end(&mut self, cx: &mut AppCtx<'_, '_>) {
        let _ = cx;
    }
}

/// A timer an application set, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerHandle {
    at: Time,
    order: u64,
}

/// An application's view of its host during a call: the time, the host's
/// random stream, and the socket calls.
pub struct AppCtx<'h, 'c> {
    host: &'h mut Host,
    ctx: &'h mut Ctx<'c>,
}

impl<'h, 'c> AppCtx<'h, 'c> {
    pub(crate) fn new(host: &'h mut Host, ctx: &'h mut Ctx<'c>) -> AppCtx<'h, 'c> {
        AppCtx { host, ctx }
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.ctx.now()
    }

    /// When the engine's next queued event is due (any node's): nothing can
    /// reach this host before it. See [`sim::Ctx::next_event_time`].
    pub fn next_event_time(&self) -> Option<Time> {
        self.ctx.next_event_time()
    }

    /// When the endpoint's next TCP timer is due (retransmission, delayed
    /// ACK, persist, keepalive, TIME-WAIT), if any.
    pub fn tcp_timeout(&mut self) -> Option<Time> {
        self.host
            .endpoint
            .poll_timeout()
            .map(|i| Time::from_nanos(i.as_nanos()))
    }

    /// The earliest application timer still set, if any.
    pub fn next_timer(&self) -> Option<Time> {
        self.host.timers.first_key_value().map(|((t, _), _)| *t)
    }

    /// The host's own random stream (derived from the seed and the node).
    pub fn rng(&mut self) -> &mut SimRng {
        self.ctx.rng()
    }

    /// The host's name.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    /// What the host recorded about `conn` so far.
    pub fn stream(&self, conn: Conn) -> Option<&crate::host::Stream> {
        self.host.streams.get(conn.0)
    }

    /// How many connections the host has opened or accepted.
    pub fn conn_count(&self) -> usize {
        self.host.streams.len()
    }

    /// The TCP state of `conn` (None once it is gone).
    pub fn state(&self, conn: Conn) -> Option<State> {
        self.id(conn)
            .ok()
            .and_then(|id| self.host.endpoint.state(id))
    }

    /// Bytes `send` would accept on `conn` now.
    pub fn send_capacity(&self, conn: Conn) -> usize {
        self.id(conn)
            .map_or(0, |id| self.host.endpoint.send_capacity(id))
    }

    /// Read-only access to the endpoint (counters, queues).
    pub fn endpoint(&self) -> &Endpoint {
        &self.host.endpoint
    }

    /// The endpoint id of a live connection. A connection this host never
    /// opened is `InvalidSocket` (EBADF), as a never-opened descriptor is.
    fn id(&self, conn: Conn) -> Result<SocketId, SocketError> {
        self.host
            .streams
            .get(conn.0)
            .and_then(|s| s.id)
            .ok_or(SocketError::InvalidSocket)
    }

    fn instant(&self) -> stack::Instant {
        to_instant(self.ctx.now())
    }

    /// Records a failed call in the host's log (the ladder prints it).
    pub fn call_failed(&mut self, what: impl Into<String>, error: SocketError) {
        let record = Record::CallFailed {
            action: what.into().into_boxed_str(),
            error,
        };
        self.host.record(self.ctx, record);
    }

    /// Writes a note into the engine trace (the ladder prints `;; text`).
    pub fn note(&mut self, text: impl Into<String>) {
        self.ctx.note(text);
    }

    // ----- listeners -----

    /// LISTEN on `port` with an accept queue of `backlog`.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<Listener, SocketError> {
        let id = self.host.endpoint.listen(port, backlog)?;
        self.host.listeners.push((id, port));
        Ok(Listener(id))
    }

    /// LISTEN with address reuse (SO_REUSEADDR): allowed while old
    /// connections on the port linger in TIME-WAIT.
    pub fn listen_reuse(&mut self, port: u16, backlog: usize) -> Result<Listener, SocketError> {
        let id = self.host.endpoint.listen_reuse(port, backlog)?;
        self.host.listeners.push((id, port));
        Ok(Listener(id))
    }

    /// Closes a listener (its unaccepted connections are reset, as Linux does).
    pub fn close_listener(&mut self, listener: Listener) -> Result<(), SocketError> {
        let now = self.instant();
        self.host.listeners.retain(|&(id, _)| id != listener.0);
        self.host.endpoint.close(now, listener.0)
    }

    // ----- connections -----

    /// Active open to `remote` from an ephemeral port.
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<Conn, SocketError> {
        let now = self.instant();
        let id = self.host.endpoint.connect(now, remote)?;
        Ok(self.host.register(id))
    }

    /// Active open to `remote` from `local_port`.
    pub fn connect_from(
        &mut self,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<Conn, SocketError> {
        let now = self.instant();
        let id = self.host.endpoint.connect_from(now, local_port, remote)?;
        Ok(self.host.register(id))
    }

    /// Active open with TCP Fast Open (RFC 7413 §4.1; Linux's
    /// `sendto(MSG_FASTOPEN)`) from an ephemeral port: the SYN carries a
    /// cached cookie and the start of `data`, or asks for a cookie. Returns
    /// the connection and how many bytes of `data` the SYN took; the rest
    /// is the application's to `send` once connected. Needs the client
    /// side on ([`AppCtx::set_fast_open`]), else `NotSupported`.
    pub fn connect_fast_open(
        &mut self,
        remote: SocketAddrV4,
        data: &[u8],
    ) -> Result<(Conn, usize), SocketError> {
        let now = self.instant();
        let (id, taken) = self
            .host
            .endpoint
            .connect_fast_open(now, None, remote, data)?;
        let conn = self.host.register(id);
        self.host.streams[conn.0].written.update(&data[..taken]);
        Ok((conn, taken))
    }

    /// Sets the host's TCP Fast Open settings (Linux's `tcp_fastopen`
    /// bits and key; off by default). A reboot ([`AppCtx::crash`]) keeps
    /// the host's boot configuration, which has it off.
    pub fn set_fast_open(&mut self, config: stack::FastOpenConfig) {
        self.host.endpoint.set_fast_open_config(config);
    }

    /// Queues bytes on `conn`; returns how many the send buffer took. A
    /// short count means the buffer is full: `writable` follows when space
    /// frees.
    pub fn send(&mut self, conn: Conn, data: &[u8]) -> Result<usize, SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        let sent = self.host.endpoint.send(now, id, data)?;
        self.host.streams[conn.0].written.update(&data[..sent]);
        self.host.pending.dirty.insert(conn);
        if sent < data.len() {
            self.host.pending.ready.remove(&conn);
            self.host.pending.blocked.insert(conn);
        }
        Ok(sent)
    }

    /// Asks for a `writable` call on `conn`: at the end of this step if it
    /// has send space now, else when space frees.
    pub fn want_writable(&mut self, conn: Conn) {
        let Ok(id) = self.id(conn) else { return };
        if self.host.endpoint.send_capacity(id) > 0 {
            self.host.pending.blocked.remove(&conn);
            self.host.pending.ready.insert(conn);
        } else {
            self.host.pending.blocked.insert(conn);
        }
    }

    /// Reads from `conn` into `buf` directly (`Ok(0)` after the peer's FIN).
    /// Bytes read here are recorded as read, as those the host reads.
    pub fn recv(&mut self, conn: Conn, buf: &mut [u8]) -> Result<usize, SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        let n = self.host.endpoint.recv(now, id, buf)?;
        let stream = &mut self.host.streams[conn.0];
        stream.read.update(&buf[..n]);
        if n == 0 && !buf.is_empty() {
            stream.eof = true;
        }
        Ok(n)
    }

    /// Stops the host reading `conn` for the application (the receive
    /// window fills, as with a program that stops calling read).
    pub fn pause_reading(&mut self, conn: Conn) {
        self.host.paused.insert(conn);
    }

    /// Resumes reading `conn`; what waits is read at the end of this step.
    pub fn resume_reading(&mut self, conn: Conn) {
        if self.host.paused.remove(&conn) && self.id(conn).is_ok() {
            self.host.pending.read.insert(conn);
        }
    }

    /// SHUT_WR: a FIN after the queued data.
    pub fn shutdown(&mut self, conn: Conn) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        self.host.pending.dirty.insert(conn);
        self.host.endpoint.shutdown(now, id)
    }

    /// CLOSE: a FIN after the queued data; unread data makes it a RST.
    pub fn close(&mut self, conn: Conn) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        self.host.pending.dirty.insert(conn);
        self.host.endpoint.close(now, id)
    }

    /// ABORT: a RST if synchronized, and the connection is gone.
    pub fn abort(&mut self, conn: Conn) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        self.host.endpoint.abort(now, id)
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&mut self, conn: Conn, nodelay: bool) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        self.host.endpoint.set_nodelay(id, nodelay)
    }

    /// SO_KEEPALIVE with the given timing (None turns it off).
    pub fn set_keepalive(
        &mut self,
        conn: Conn,
        keepalive: Option<Keepalive>,
    ) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        let now = self.instant();
        self.host.endpoint.set_keepalive(now, id, keepalive)
    }

    /// TCP_CONGESTION, before the connection carries data.
    pub fn set_congestion_control(
        &mut self,
        conn: Conn,
        algorithm: stack::cc::CongestionAlgorithm,
    ) -> Result<(), SocketError> {
        let id = self.id(conn)?;
        self.host.endpoint.set_congestion_control(id, algorithm)
    }

    /// An application that knows what `conn` should carry (the pattern)
    /// reports the first wrong byte; the delivery oracle fails the run.
    pub fn report_mismatch(&mut self, conn: Conn, offset: u64) {
        if let Some(s) = self.host.streams.get_mut(conn.0) {
            s.first_mismatch.get_or_insert(offset);
        }
    }

    // ----- timers -----

    /// Calls `timer(token)` at `at` (now, if `at` has passed). Timers at
    /// equal times fire in the order set.
    pub fn set_timer(&mut self, at: Time, token: u64) -> TimerHandle {
        let at = at.max(self.ctx.now());
        let order = self.host.timer_count;
        self.host.timer_count += 1;
        self.host.timers.insert((at, order), token);
        TimerHandle { at, order }
    }

    /// Cancels a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerHandle) -> bool {
        self.host.timers.remove(&(timer.at, timer.order)).is_some()
    }

    // ----- the host itself -----

    /// Power loss and reboot: all TCP state is gone (no calls report the
    /// lost connections); the host and its application stay.
    pub fn crash(&mut self) {
        let host = &mut *self.host;
        host.boot_count += 1;
        let mut config = EndpointConfig::new(host.secret);
        config.secret[0] ^= host.boot_count as u8;
        config.tcp = host.tcp.clone();
        config.syn_cookies = host.syn_cookies;
        host.endpoint = Endpoint::new(host.addr, config);
        host.listeners.clear();
        for (_, conn) in std::mem::take(&mut host.by_id) {
            host.streams[conn.0].id = None;
        }
        host.pending = Default::default();
        host.paused.clear();
        host.record(self.ctx, Record::Crash);
        let text = format!("{} crashed and rebooted: all TCP state lost", host.name);
        self.ctx.note(text);
    }
}

/// One step of a timed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Passive open on `port` with an accept queue of `backlog` connections.
    Listen {
        /// The local port to listen on.
        port: u16,
        /// Connections that may wait to be accepted.
        backlog: usize,
    },
    /// Listen with address reuse (SO_REUSEADDR): allowed while old
    /// connections on the port linger in TIME-WAIT.
    ListenReuse {
        /// The local port to listen on.
        port: u16,
        /// Connections that may wait to be accepted.
        backlog: usize,
    },
    /// Active open; connections are numbered 0, 1, 2... in the order they
    /// are opened or accepted.
    Connect {
        /// The peer to connect to.
        remote: SocketAddrV4,
        /// A fixed local port (`None`: an ephemeral one).
        local_port: Option<u16>,
    },
    /// Queue `bytes` of pattern data on connection `conn`.
    Send {
        /// The connection's number.
        conn: usize,
        /// How many bytes of the pattern to queue.
        bytes: u64,
    },
    /// SHUT_WR on connection `conn`: send a FIN once queued data is out.
    Shutdown {
        /// The connection's number.
        conn: usize,
    },
    /// CLOSE on connection `conn` (RFC 9293 §3.10.4); a RST if unread data waits, as Linux does.
    Close {
        /// The connection's number.
        conn: usize,
    },
    /// ABORT on connection `conn` (RFC 9293 §3.10.5): a RST, all state dropped.
    Abort {
        /// The connection's number.
        conn: usize,
    },
    /// Stop or resume reading (a paused reader lets the window fill).
    Reading(bool),
    /// Close every listener.
    CloseListeners,
    /// Power loss and reboot: all TCP state is gone; the host stays up.
    Crash,
}

/// Pattern bytes a schedule still has to queue on one connection.
#[derive(Default)]
struct Outgoing {
    requested: u64,
    queued: u64,
    /// A shutdown or close waiting for the queued data to be written
    /// (the application's blocking write returns first, as with real sockets).
    close_after_send: Option<Action>,
}

/// The timed schedule: each [`Action`] runs at its time. Data sent is the
/// [`crate::host::pattern`], and what is read is checked against it. An
/// action on a connection that does not exist yet (a server's first
/// connection before its SYN arrived) waits until it is accepted.
#[derive(Default)]
pub struct Schedule {
    actions: Vec<(Time, Action)>,
    next: usize,
    deferred: BTreeMap<usize, Vec<Action>>,
    outgoing: BTreeMap<Conn, Outgoing>,
    listeners: Vec<Listener>,
    paused: bool,
    /// Close each connection as soon as its peer's FIN has been read.
    pub close_on_eof: bool,
}

impl Schedule {
    /// Adds `action` at `at`; equal times keep the order added.
    pub fn add(&mut self, at: Time, action: Action) {
        let i = self.actions.partition_point(|(t, _)| *t <= at);
        self.actions.insert(i, (at, action));
    }

    /// The time of the first action.
    pub fn first_time(&self) -> Option<Time> {
        self.actions.first().map(|(t, _)| *t)
    }

    fn arm(&mut self, cx: &mut AppCtx<'_, '_>) {
        if let Some((at, _)) = self.actions.get(self.next) {
            cx.set_timer(*at, 0);
        }
    }

    fn run(&mut self, cx: &mut AppCtx<'_, '_>, action: Action) {
        if let Action::Send { conn, .. }
        | Action::Shutdown { conn }
        | Action::Close { conn }
        | Action::Abort { conn } = action
            && conn >= cx.conn_count()
        {
            self.deferred.entry(conn).or_default().push(action);
            return;
        }
        let result: Result<(), SocketError> = match &action {
            Action::Listen { port, backlog } => {
                cx.listen(*port, *backlog).map(|l| self.listeners.push(l))
            }
            Action::ListenReuse { port, backlog } => cx
                .listen_reuse(*port, *backlog)
                .map(|l| self.listeners.push(l)),
            Action::Connect { remote, local_port } => {
                let r = match local_port {
                    Some(p) => cx.connect_from(*p, *remote),
                    None => cx.connect(*remote),
                };
                r.map(|conn| self.opened(cx, conn))
            }
            Action::Send { conn, bytes } => {
                let conn = Conn(*conn);
                self.outgoing.entry(conn).or_default().requested += bytes;
                cx.want_writable(conn);
                Ok(())
            }
            Action::Shutdown { conn } | Action::Close { conn }
                if self
                    .outgoing
                    .get(&Conn(*conn))
                    .is_some_and(|o| o.queued < o.requested) =>
            {
                if let Some(o) = self.outgoing.get_mut(&Conn(*conn)) {
                    o.close_after_send = Some(action.clone());
                }
                Ok(())
            }
            Action::Shutdown { conn } => cx.shutdown(Conn(*conn)),
            Action::Close { conn } => cx.close(Conn(*conn)),
            Action::Abort { conn } => cx.abort(Conn(*conn)),
            Action::Reading(on) => {
                self.paused = !on;
                for conn in (0..cx.conn_count()).map(Conn) {
                    if *on {
                        cx.resume_reading(conn);
                    } else {
                        cx.pause_reading(conn);
                    }
                }
                Ok(())
            }
            Action::CloseListeners => {
                for l in std::mem::take(&mut self.listeners) {
                    let _ = cx.close_listener(l);
                }
                Ok(())
            }
            Action::Crash => {
                self.listeners.clear();
                cx.crash();
                Ok(())
            }
        };
        if let Err(error) = result {
            cx.call_failed(format!("{action:?}"), error);
        }
    }

    fn opened(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if self.paused {
            cx.pause_reading(conn);
        }
    }
}

impl Schedule {
    /// Actions naming a connection the schedule can never have: it accepts
    /// nothing (no listen anywhere) and has opened fewer connections by
    /// then. Each is a failed call from the start, not a silent wait.
    fn never_opened(&self) -> Vec<usize> {
        let listens = self
            .actions
            .iter()
            .any(|(_, a)| matches!(a, Action::Listen { .. } | Action::ListenReuse { .. }));
        if listens {
            return Vec::new();
        }
        let mut connects = 0;
        let mut never = Vec::new();
        for (i, (_, action)) in self.actions.iter().enumerate() {
            match action {
                Action::Connect { .. } => connects += 1,
                Action::Send { conn, .. }
                | Action::Shutdown { conn }
                | Action::Close { conn }
                | Action::Abort { conn }
                    if *conn >= connects =>
                {
                    never.push(i)
                }
                _ => {}
            }
        }
        never
    }
}

impl Application for Schedule {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        for i in self.never_opened().into_iter().rev() {
            let (_, action) = self.actions.remove(i);
            cx.call_failed(
                format!("{action:?} (this schedule never opens that connection)"),
                SocketError::InvalidSocket,
            );
        }
        self.arm(cx);
    }

    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, _token: u64) {
        let now = cx.now();
        while let Some((at, action)) = self.actions.get(self.next).cloned() {
            if at > now {
                break;
            }
            self.next += 1;
            self.run(cx, action);
        }
        self.arm(cx);
    }

    fn accepted(&mut self, cx: &mut AppCtx<'_, '_>, _listener: Listener, conn: Conn) {
        self.opened(cx, conn);
        for action in self.deferred.remove(&conn.0).unwrap_or_default() {
            self.run(cx, action);
        }
    }

    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(o) = self.outgoing.get_mut(&conn) else {
            return;
        };
        if o.queued < o.requested {
            let n = (o.requested - o.queued)
                .min(cx.send_capacity(conn) as u64)
                .min(crate::host::PATTERN_PERIOD as u64);
            if n > 0
                && let Ok(sent) = cx.send(conn, pattern_slice(o.queued, n as usize))
            {
                o.queued += sent as u64;
            }
        }
        if o.queued < o.requested {
            cx.want_writable(conn);
            return;
        }
        match o.close_after_send.take() {
            Some(Action::Shutdown { .. }) => {
                let _ = cx.shutdown(conn);
            }
            Some(Action::Close { .. }) => {
                let _ = cx.close(conn);
            }
            _ => {}
        }
    }

    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let offset = cx.stream(conn).map_or(0, |s| s.read.len) - data.len() as u64;
        if cx.stream(conn).is_some_and(|s| s.first_mismatch.is_none())
            && let Some(at) = pattern_mismatch(offset, data)
        {
            cx.report_mismatch(conn, at);
        }
    }

    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if self.close_on_eof {
            let _ = cx.close(conn);
        }
    }
}
