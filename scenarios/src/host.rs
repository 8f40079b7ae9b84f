//! A host on the engine: one `stack::Endpoint` plus an application driver
//! (a timed schedule of socket calls), recording what it did so oracles
//! and renderers can read it afterwards.
//!
//! Sent data follows [`pattern`], so the receiver can check every byte it
//! reads is the right byte at the right offset: exactly once, in order,
//! uncorrupted.

use sim::{Addr, Ctx, Node, Packet, Time, TimerId};
use stack::wire;
use stack::{Endpoint, EndpointConfig, Event, Instant, SocketError, SocketId, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

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

/// One step of the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Listen {
        port: u16,
        backlog: usize,
    },
    /// Listen with address reuse (SO_REUSEADDR): allowed while old
    /// connections on the port linger in TIME-WAIT.
    ListenReuse {
        port: u16,
        backlog: usize,
    },
    /// Active open; connections are numbered 0, 1, 2... in the order they
    /// are opened or accepted.
    Connect {
        remote: SocketAddrV4,
        local_port: Option<u16>,
    },
    /// Queue `bytes` of pattern data on connection `conn`.
    Send {
        conn: usize,
        bytes: u64,
    },
    Shutdown {
        conn: usize,
    },
    Close {
        conn: usize,
    },
    Abort {
        conn: usize,
    },
    /// Stop or resume reading (a paused reader lets the window fill).
    Reading(bool),
    /// Close every listener.
    CloseListeners,
    /// Power loss and reboot: all TCP state is gone; the host stays up.
    Crash,
}

/// What a host saw, in order, with the trace index it happened at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    State {
        conn: SocketId,
        from: State,
        to: State,
    },
    Error {
        conn: SocketId,
        error: SocketError,
    },
    Accepted {
        conn: SocketId,
    },
    Crash,
    /// A call the schedule made failed.
    CallFailed {
        action: String,
        error: SocketError,
    },
}

/// A record with its time and position in the engine trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    pub time: Time,
    pub trace_index: u64,
    pub record: Record,
}

/// Per-connection data accounting for the delivery oracle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    pub id: Option<SocketId>,
    pub local: Option<SocketAddrV4>,
    pub remote: Option<SocketAddrV4>,
    /// Bytes the application asked to send.
    pub requested: u64,
    /// Bytes the endpoint accepted into its send buffer.
    pub queued: u64,
    /// Bytes read by the application.
    pub received: u64,
    /// Offset of the first byte that did not match the pattern.
    pub first_mismatch: Option<u64>,
    pub eof: bool,
    /// The connection's counters as last seen (they outlive the connection here).
    pub counters: stack::Counters,
    /// A shutdown or close waiting for the queued data to be written
    /// (the application's blocking write returns first, as with real sockets).
    pub close_after_send: Option<Action>,
}

/// The state a segment's endpoint was in when it left or after it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentState {
    pub trace_index: u64,
    pub state: Option<State>,
}

pub struct Host {
    pub name: String,
    addr: Ipv4Addr,
    secret: [u8; 16],
    tcp: TcpConfig,
    pub endpoint: Endpoint,
    schedule: Vec<(Time, Action)>,
    next_action: usize,
    pub streams: Vec<Stream>,
    listeners: Vec<SocketId>,
    reading: bool,
    /// Actions waiting for their connection to be opened or accepted.
    deferred: Vec<(usize, Action)>,
    /// Close each connection as soon as its peer's FIN has been read.
    close_on_eof: bool,
    /// SYN cookies when a listener's SYN queue is full (on by default).
    syn_cookies: bool,
    pub log: Vec<Logged>,
    /// Sender state per Send event (by trace index), for the ladder.
    pub departures: Vec<SegmentState>,
    /// Receiver state per Deliver event (by trace index), for the ladder.
    pub arrivals: Vec<SegmentState>,
    pub malformed_count: u64,
    wake: Option<(Time, TimerId)>,
    out: Vec<u8>,
    read_buf: Vec<u8>,
    boot_count: u32,
}

fn to_instant(t: Time) -> Instant {
    Instant::from_nanos(t.as_nanos())
}

impl Host {
    /// A host at `addr` whose ISN secret derives from `secret`.
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
            schedule: Vec::new(),
            next_action: 0,
            streams: Vec::new(),
            listeners: Vec::new(),
            reading: true,
            deferred: Vec::new(),
            close_on_eof: false,
            syn_cookies: true,
            log: Vec::new(),
            departures: Vec::new(),
            arrivals: Vec::new(),
            malformed_count: 0,
            wake: None,
            out: Vec::with_capacity(2048),
            read_buf: vec![0; 65536],
            boot_count: 0,
        }
    }

    /// Adds a step at `at`. Steps at equal times run in the order added.
    pub fn at(mut self, at: Time, action: Action) -> Host {
        self.schedule.push((at, action));
        self.schedule.sort_by_key(|(t, _)| *t);
        self
    }

    /// Closes each connection as soon as the peer's FIN has been read (a
    /// server that answers EOF with its own FIN at once).
    pub fn close_on_eof(mut self) -> Host {
        self.close_on_eof = true;
        self
    }

    /// Turns SYN cookies off (or on) for this host's endpoint.
    pub fn syn_cookies(mut self, on: bool) -> Host {
        self.syn_cookies = on;
        let mut config = self.endpoint.config().clone();
        config.syn_cookies = on;
        self.endpoint = Endpoint::new(self.addr, config);
        self
    }

    /// The first time the host needs to be woken (drivers schedule this once).
    pub fn first_wake(&self) -> Option<Time> {
        self.schedule.first().map(|(t, _)| *t)
    }

    fn record(&mut self, ctx: &Ctx<'_>, record: Record) {
        self.log.push(Logged {
            time: ctx.now(),
            trace_index: ctx.trace_len(),
            record,
        });
    }

    fn run_actions(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        while let Some((at, action)) = self.schedule.get(self.next_action).cloned() {
            if at > now {
                break;
            }
            self.next_action += 1;
            self.run_action(ctx, action);
        }
    }

    fn run_action(&mut self, ctx: &mut Ctx<'_>, action: Action) {
        // An action on a connection that does not exist yet (a server's
        // first connection before its SYN arrived) waits for it.
        if let Action::Send { conn, .. }
        | Action::Shutdown { conn }
        | Action::Close { conn }
        | Action::Abort { conn } = action
            && conn >= self.streams.len()
        {
            self.deferred.push((conn, action));
            return;
        }
        let now = to_instant(ctx.now());
        let result: Result<(), SocketError> = match &action {
            Action::Listen { port, backlog } => self
                .endpoint
                .listen(*port, *backlog)
                .map(|id| self.listeners.push(id)),
            Action::ListenReuse { port, backlog } => self
                .endpoint
                .listen_reuse(*port, *backlog)
                .map(|id| self.listeners.push(id)),
            Action::Connect { remote, local_port } => {
                let r = match local_port {
                    Some(p) => self.endpoint.connect_from(now, *p, *remote),
                    None => self.endpoint.connect(now, *remote),
                };
                r.map(|id| {
                    let (local, remote) = self.endpoint.addresses(id).unzip();
                    self.streams.push(Stream {
                        id: Some(id),
                        local,
                        remote,
                        ..Stream::default()
                    });
                })
            }
            Action::Send { conn, bytes } => match self.streams.get_mut(*conn) {
                Some(s) => {
                    s.requested += bytes;
                    Ok(())
                }
                None => Err(SocketError::InvalidSocket),
            },
            Action::Shutdown { conn } | Action::Close { conn }
                if self
                    .streams
                    .get(*conn)
                    .is_some_and(|s| s.queued < s.requested) =>
            {
                self.streams[*conn].close_after_send = Some(action.clone());
                Ok(())
            }
            Action::Shutdown { conn } => self.with_conn(*conn, |ep, id| ep.shutdown(now, id)),
            Action::Close { conn } => self.with_conn(*conn, |ep, id| ep.close(now, id)),
            Action::Abort { conn } => self.with_conn(*conn, |ep, id| ep.abort(now, id)),
            Action::Reading(on) => {
                self.reading = *on;
                Ok(())
            }
            Action::CloseListeners => {
                for id in std::mem::take(&mut self.listeners) {
                    let _ = self.endpoint.close(now, id);
                }
                Ok(())
            }
            Action::Crash => {
                self.boot_count += 1;
                let mut config = EndpointConfig::new(self.secret);
                config.secret[0] ^= self.boot_count as u8;
                config.tcp = self.tcp.clone();
                config.syn_cookies = self.syn_cookies;
                self.endpoint = Endpoint::new(self.addr, config);
                self.listeners.clear();
                for s in &mut self.streams {
                    s.id = None;
                }
                self.record(ctx, Record::Crash);
                ctx.note(format!(
                    "{} crashed and rebooted: all TCP state lost",
                    self.name
                ));
                Ok(())
            }
        };
        if let Err(error) = result {
            self.record(
                ctx,
                Record::CallFailed {
                    action: format!("{action:?}"),
                    error,
                },
            );
        }
    }

    fn with_conn(
        &mut self,
        conn: usize,
        f: impl FnOnce(&mut Endpoint, SocketId) -> Result<(), SocketError>,
    ) -> Result<(), SocketError> {
        let id = self
            .streams
            .get(conn)
            .and_then(|s| s.id)
            .ok_or(SocketError::InvalidSocket)?;
        f(&mut self.endpoint, id)
    }

    /// Events, reads, sends, output, next wake.
    fn pump(&mut self, ctx: &mut Ctx<'_>) {
        let now = to_instant(ctx.now());
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::StateChanged { id, from, to } => {
                    self.record(ctx, Record::State { conn: id, from, to })
                }
                Event::Error(id, error) => self.record(ctx, Record::Error { conn: id, error }),
                Event::Incoming(listener) => {
                    while let Ok(id) = self.endpoint.accept(listener) {
                        let (local, remote) = self.endpoint.addresses(id).unzip();
                        self.streams.push(Stream {
                            id: Some(id),
                            local,
                            remote,
                            ..Stream::default()
                        });
                        self.record(ctx, Record::Accepted { conn: id });
                        let index = self.streams.len() - 1;
                        let ready: Vec<Action> = self
                            .deferred
                            .iter()
                            .filter(|(c, _)| *c == index)
                            .map(|(_, a)| a.clone())
                            .collect();
                        self.deferred.retain(|(c, _)| *c != index);
                        for action in ready {
                            self.run_action(ctx, action);
                        }
                    }
                }
                _ => {}
            }
        }
        for s in &mut self.streams {
            let Some(id) = s.id else { continue };
            if s.queued < s.requested {
                let capacity = self.endpoint.send_capacity(id) as u64;
                let n = (s.requested - s.queued)
                    .min(capacity)
                    .min(PATTERN_PERIOD as u64);
                if n > 0
                    && let Ok(sent) =
                        self.endpoint
                            .send(now, id, pattern_slice(s.queued, n as usize))
                {
                    s.queued += sent as u64;
                }
            }
            if s.queued == s.requested {
                match s.close_after_send.take() {
                    Some(Action::Shutdown { .. }) => {
                        let _ = self.endpoint.shutdown(now, id);
                    }
                    Some(Action::Close { .. }) => {
                        let _ = self.endpoint.close(now, id);
                    }
                    _ => {}
                }
            }
            if self.reading {
                loop {
                    match self.endpoint.recv(now, id, &mut self.read_buf) {
                        Ok(0) => {
                            if !s.eof && self.close_on_eof {
                                let _ = self.endpoint.close(now, id);
                            }
                            s.eof = true;
                            break;
                        }
                        Ok(n) => {
                            if s.first_mismatch.is_none() {
                                let mut checked = 0;
                                while checked < n {
                                    let len = (n - checked).min(PATTERN_PERIOD);
                                    let offset = s.received + checked as u64;
                                    let got = &self.read_buf[checked..checked + len];
                                    let want = pattern_slice(offset, len);
                                    if got != want {
                                        let at = got.iter().zip(want).position(|(a, b)| a != b);
                                        s.first_mismatch = Some(offset + at.unwrap_or(0) as u64);
                                        break;
                                    }
                                    checked += len;
                                }
                            }
                            s.received += n as u64;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        for s in &mut self.streams {
            if let Some(c) = s.id.and_then(|id| self.endpoint.connection_counters(id)) {
                s.counters = c;
            }
        }
        // Output: every datagram the endpoint has, recording the sender's state.
        let keep_states = ctx.trace_kept();
        while self.endpoint.poll_transmit(now, &mut self.out) {
            if keep_states {
                let state = self.state_for(&self.out, true, false);
                self.departures.push(SegmentState {
                    trace_index: ctx.trace_len(),
                    state,
                });
            }
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
        // Next wake: the earlier of the next action and the next TCP timer.
        let next_action = self.schedule.get(self.next_action).map(|(t, _)| *t);
        let next_timer = self
            .endpoint
            .poll_timeout()
            .map(|i| Time::from_nanos(i.as_nanos()));
        let target = match (next_action, next_timer) {
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
                let listening = self
                    .endpoint
                    .sockets()
                    .iter()
                    .any(|s| s.state == State::Listen && s.local.port() == local_port);
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
        let had_connection = ctx.trace_kept()
            && Self::tuple_of(&packet.bytes, false)
                .is_some_and(|(port, remote)| self.endpoint.lookup(port, remote).is_some());
        if self.endpoint.handle_packet(now, &packet.bytes).is_err() {
            self.malformed_count += 1;
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

    fn on_wake(&mut self, ctx: &mut Ctx<'_>, _token: u64) {
        if self.wake.is_some_and(|(at, _)| at <= ctx.now()) {
            self.wake = None;
        }
        self.run_actions(ctx);
        self.endpoint.handle_timeout(to_instant(ctx.now()));
        self.pump(ctx);
    }
}
