//! The application every host of a generated workload runs: it plays its
//! part of each [`Session`] (client, server, or one side of a
//! simultaneous open), following the drawn plan. It draws nothing at run
//! time, so what it does is the plan's and the network's alone.
//!
//! Timers carry a token of a kind and an index: a session's start, a
//! server's listen, a connection's next step, a session's next connection,
//! a simultaneous-open client's late listen on its fixed port.

use super::{Call, Role, Session, Workload};
use crate::app::{AppCtx, Application, Conn, Listener};
use crate::host::{PATTERN_PERIOD, pattern_mismatch, pattern_slice};
use sim::{Duration, Time};
use stack::{Keepalive, SocketError, State};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

const KIND_SHIFT: u32 = 56;
const START: u64 = 1;
const LISTEN: u64 = 2;
const STEP: u64 = 3;
const REOPEN: u64 = 4;
const RELISTEN: u64 = 5;
const RECONNECT: u64 = 6;

fn token(kind: u64, index: usize) -> u64 {
    (kind << KIND_SHIFT) | index as u64
}

/// The content key of the direction `writer -> reader`: where in the
/// pattern its stream starts. Both sides compute it from the 4-tuple, so a
/// byte from another connection, or shifted, is not the expected one.
pub fn content_key(writer: SocketAddrV4, reader: SocketAddrV4) -> u64 {
    let mut x = ((u64::from(u32::from(*writer.ip())) << 16) | u64::from(writer.port()))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ ((u64::from(u32::from(*reader.ip())) << 16) | u64::from(reader.port()));
    x = (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (x ^ (x >> 29)) % PATTERN_PERIOD as u64
}

/// Which side of its session a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// One live connection's progress through its role.
#[derive(Debug)]
struct Live {
    session: usize,
    side: Side,
    started: Time,
    next_step: usize,
    /// Bytes planned but not yet taken by the endpoint.
    pending: u64,
    written: u64,
    write_key: u64,
    read_key: u64,
    /// The application made its final call (close or abort) or shut down.
    finished: bool,
    fin_sent: bool,
    close_when_written: bool,
}

/// A host's part of a generated [`Workload`]. After the run,
/// [`RandomPeer::unfinished`] lists anything the plan did not get done.
pub struct RandomPeer {
    plan: Arc<Workload>,
    host: usize,
    live: BTreeMap<Conn, Live>,
    /// Per session this host is the client of: connections opened so far.
    opened: BTreeMap<usize, u32>,
    /// Connections outside the plan (a late reconnect): aborted if they
    /// are ever established.
    late: std::collections::BTreeSet<Conn>,
    /// Connections whose application ended them (final call or TCP's end).
    pub ended: u64,
    /// Calls that failed (legal calls at a moment TCP refuses them: a send
    /// after shutdown, a connect to a port nobody listens on yet).
    pub failed_calls: u64,
}

impl RandomPeer {
    /// Host `host`'s part of `plan`.
    pub fn new(plan: Arc<Workload>, host: usize) -> RandomPeer {
        RandomPeer {
            plan,
            host,
            live: BTreeMap::new(),
            opened: BTreeMap::new(),
            late: Default::default(),
            ended: 0,
            failed_calls: 0,
        }
    }

    /// What the plan left undone: connections whose final call never ran
    /// and that TCP never ended, sessions that did not open all theirs.
    pub fn unfinished(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| !l.finished)
            .map(|(conn, l)| {
                format!(
                    "{conn} (session {}, {:?}) never made its final call",
                    l.session, l.side
                )
            })
            .collect();
        for (i, s) in self.plan.sessions.iter().enumerate() {
            let opened = self.opened.get(&i).copied().unwrap_or(0);
            let wanted = if s.simultaneous { 1 } else { s.connections };
            let mine = s.client == self.host || (s.simultaneous && s.server == self.host);
            if mine && opened < wanted {
                out.push(format!(
                    "session {i} opened {opened} of its {wanted} connections"
                ));
            }
        }
        out
    }

    fn role(&self, live: &Live) -> &Role {
        let s = &self.plan.sessions[live.session];
        match live.side {
            Side::Client => &s.client_role,
            Side::Server => &s.server_role,
        }
    }

    fn session(&self, index: usize) -> &Session {
        &self.plan.sessions[index]
    }

    fn failed(&mut self, cx: &mut AppCtx<'_, '_>, what: String, error: SocketError) {
        self.failed_calls += 1;
        cx.call_failed(what, error);
    }

    /// Opens one connection of session `index` (client side, or either side
    /// of a simultaneous open).
    fn open(&mut self, cx: &mut AppCtx<'_, '_>, index: usize) {
        let s = self.session(index);
        let simultaneous = s.simultaneous;
        let (side, peer) = if s.client == self.host {
            (Side::Client, s.server)
        } else {
            (Side::Server, s.client)
        };
        *self.opened.entry(index).or_default() += 1;
        let result = if simultaneous {
            let (mine, theirs) = match side {
                Side::Client => (Session::client_port(index), Session::server_port(index)),
                Side::Server => (Session::server_port(index), Session::client_port(index)),
            };
            let remote = SocketAddrV4::new(super::host_addr(peer).into(), theirs);
            cx.connect_from(mine, remote)
        } else {
            let remote =
                SocketAddrV4::new(super::host_addr(peer).into(), Session::server_port(index));
            cx.connect(remote)
        };
        match result {
            Ok(conn) => self.begin(cx, conn, index, side),
            Err(e) => {
                self.failed(cx, format!("session {index}: connect"), e);
                self.reopen_later(cx, index);
            }
        }
    }

    /// A connection starts its role: bulk bytes planned, steps armed.
    fn begin(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, session: usize, side: Side) {
        let (Some(local), Some(remote)) = (
            cx.stream(conn).and_then(|s| s.local),
            cx.stream(conn).and_then(|s| s.remote),
        ) else {
            return;
        };
        let mut live = Live {
            session,
            side,
            started: cx.now(),
            next_step: 0,
            pending: 0,
            written: 0,
            write_key: content_key(local, remote),
            read_key: content_key(remote, local),
            finished: false,
            fin_sent: false,
            close_when_written: false,
        };
        live.pending = self.role(&live).bulk_bytes;
        self.live.insert(conn, live);
        self.arm(cx, conn);
        self.push(cx, conn);
    }

    fn arm(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(live) = self.live.get(&conn) else {
            return;
        };
        if let Some(step) = self.role(live).steps.get(live.next_step) {
            let at = live.started + Duration::from_millis(step.at_ms);
            cx.set_timer(at, token(STEP, conn.0));
        }
    }

    /// Writes what is pending as send space allows; then the FIN or the
    /// close the role wants once everything is written.
    fn push(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(live) = self.live.get(&conn) else {
            return;
        };
        if live.finished || matches!(cx.state(conn), Some(State::SynSent | State::SynReceived)) {
            return;
        }
        let role = self.role(live);
        let sends_left = role.steps[live.next_step.min(role.steps.len())..]
            .iter()
            .any(|s| matches!(s.call, Call::Send { .. }));
        let fin_when_written = role.fin_when_written;
        let Some(live) = self.live.get_mut(&conn) else {
            return;
        };
        while live.pending > 0 && !live.fin_sent {
            let room = cx.send_capacity(conn) as u64;
            let n = live.pending.min(room).min(PATTERN_PERIOD as u64) as usize;
            if n == 0 {
                cx.want_writable(conn);
                return;
            }
            match cx.send(conn, pattern_slice(live.written + live.write_key, n)) {
                Ok(0) => return,
                Ok(sent) => {
                    live.pending -= sent as u64;
                    live.written += sent as u64;
                }
                Err(_) => {
                    // The connection cannot take data any more (reset,
                    // shut down): what was planned is dropped.
                    live.pending = 0;
                }
            }
        }
        if live.pending > 0 {
            return;
        }
        if live.close_when_written {
            self.finish(cx, conn, Call::Close);
        } else if fin_when_written && !sends_left && !live.fin_sent {
            live.fin_sent = true;
            let _ = cx.shutdown(conn);
        }
    }

    /// The final call: close or abort; the connection is the
    /// application's no more.
    fn finish(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, call: Call) {
        let Some(live) = self.live.get_mut(&conn) else {
            return;
        };
        if live.finished {
            return;
        }
        live.finished = true;
        let session = live.session;
        let result = if call == Call::Abort {
            cx.abort(conn)
        } else {
            cx.close(conn)
        };
        if let Err(e) = result {
            self.failed(cx, format!("{conn}: {call:?}"), e);
        }
        self.ended += 1;
        self.reopen_later(cx, session);
    }

    /// A connection of a repeated session ended: the next opens after the
    /// gap (or a simultaneous-open client listens on its port later).
    fn reopen_later(&mut self, cx: &mut AppCtx<'_, '_>, session: usize) {
        let s = self.session(session);
        if s.simultaneous
            && s.client == self.host
            && let Some(after) = s.relisten_ms
        {
            let at = cx.now() + Duration::from_millis(after);
            cx.set_timer(at, token(RELISTEN, session));
        }
        if s.simultaneous
            && s.client == self.host
            && let Some(after) = s.reconnect_ms
        {
            let at = cx.now() + Duration::from_millis(after);
            cx.set_timer(at, token(RECONNECT, session));
        }
        if s.simultaneous || s.client != self.host {
            return;
        }
        let opened = self.opened.get(&session).copied().unwrap_or(0);
        if opened < s.connections {
            let at = cx.now() + Duration::from_millis(s.gap_ms);
            cx.set_timer(at, token(REOPEN, session));
        }
    }

    fn run_step(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, call: Call) {
        match call {
            Call::Send { bytes } => {
                if let Some(live) = self.live.get_mut(&conn) {
                    live.pending += u64::from(bytes);
                }
            }
            Call::Shutdown => {
                if let Some(live) = self.live.get_mut(&conn) {
                    live.fin_sent = true;
                    live.pending = 0;
                }
                if let Err(e) = cx.shutdown(conn) {
                    self.failed(cx, format!("{conn}: shutdown"), e);
                }
            }
            Call::Close | Call::Abort => self.finish(cx, conn, call),
            Call::PauseReading => cx.pause_reading(conn),
            Call::ResumeReading => cx.resume_reading(conn),
            Call::Keepalive { idle_ms } => {
                let keepalive = Keepalive {
                    idle: stack::Duration::from_millis(idle_ms),
                    interval: stack::Duration::from_secs(1),
                    probes: 3,
                };
                if let Err(e) = cx.set_keepalive(conn, Some(keepalive)) {
                    self.failed(cx, format!("{conn}: keepalive"), e);
                }
            }
            Call::NoDelay => {
                if let Err(e) = cx.set_nodelay(conn, true) {
                    self.failed(cx, format!("{conn}: nodelay"), e);
                }
            }
        }
        self.push(cx, conn);
    }

    /// Runs every step of `conn` that is due, then arms the next.
    fn steps_due(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        loop {
            let Some(live) = self.live.get(&conn) else {
                return;
            };
            if live.finished {
                return;
            }
            let Some(&step) = self.role(live).steps.get(live.next_step) else {
                return;
            };
            if live.started + Duration::from_millis(step.at_ms) > cx.now() {
                break;
            }
            if let Some(live) = self.live.get_mut(&conn) {
                live.next_step += 1;
            }
            self.run_step(cx, conn, step.call);
        }
        self.arm(cx, conn);
    }
}

impl Application for RandomPeer {
    fn start(&mut self, cx: &mut AppCtx<'_, '_>) {
        let plan = self.plan.clone();
        for (i, s) in plan.sessions.iter().enumerate() {
            let opens = s.client == self.host || (s.simultaneous && s.server == self.host);
            if opens {
                cx.set_timer(Time::from_millis(s.start_ms), token(START, i));
            }
            if s.server == self.host && !s.simultaneous {
                cx.set_timer(Time::from_millis(s.listen_at_ms), token(LISTEN, i));
            }
        }
    }

    fn timer(&mut self, cx: &mut AppCtx<'_, '_>, token: u64) {
        let index = (token & ((1 << KIND_SHIFT) - 1)) as usize;
        match token >> KIND_SHIFT {
            START => {
                let s = self.session(index);
                let first = if s.simultaneous { 1 } else { s.concurrency };
                for _ in 0..first {
                    self.open(cx, index);
                }
            }
            LISTEN => {
                if let Err(e) = cx.listen(Session::server_port(index), 16) {
                    self.failed(cx, format!("session {index}: listen"), e);
                }
            }
            RELISTEN => {
                // EADDRINUSE while the old connection lingers (TIME-WAIT):
                // a legal call TCP refuses, counted like any other.
                if let Err(e) = cx.listen(Session::client_port(index), 4) {
                    self.failed(cx, format!("session {index}: late listen"), e);
                }
            }
            RECONNECT => {
                let s = self.session(index);
                let remote = SocketAddrV4::new(
                    super::host_addr(s.server).into(),
                    Session::server_port(index),
                );
                match cx.connect_from(Session::client_port(index), remote) {
                    Ok(conn) => {
                        self.late.insert(conn);
                    }
                    Err(e) => self.failed(cx, format!("session {index}: late reconnect"), e),
                }
            }
            STEP => self.steps_due(cx, Conn(index)),
            REOPEN => {
                let s = self.session(index);
                let open_now = self
                    .live
                    .values()
                    .filter(|l| l.session == index && !l.finished)
                    .count() as u32;
                if self.opened.get(&index).copied().unwrap_or(0) < s.connections
                    && open_now < s.concurrency
                {
                    self.open(cx, index);
                }
            }
            _ => {}
        }
    }

    fn connected(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        if self.late.remove(&conn) {
            self.ended += 1;
            if let Err(e) = cx.abort(conn) {
                self.failed(cx, format!("{conn}: abort a late connection"), e);
            }
            return;
        }
        self.push(cx, conn);
    }

    fn accepted(&mut self, cx: &mut AppCtx<'_, '_>, _listener: Listener, conn: Conn) {
        let Some(port) = cx.stream(conn).and_then(|s| s.local).map(|l| l.port()) else {
            return;
        };
        let index = usize::from(port.wrapping_sub(Session::server_port(0)));
        if index < self.plan.sessions.len() && self.session(index).server == self.host {
            self.begin(cx, conn, index, Side::Server);
            return;
        }
        // A late SYN on a simultaneous-open client's late listener: not
        // part of the plan, so it ends at once.
        let late = usize::from(port.wrapping_sub(Session::client_port(0)));
        if late < self.plan.sessions.len() && self.session(late).client == self.host {
            self.ended += 1;
            if let Err(e) = cx.abort(conn) {
                self.failed(cx, format!("{conn}: abort a late connection"), e);
            }
        }
    }

    fn received(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, data: &[u8]) {
        let Some(live) = self.live.get(&conn) else {
            return;
        };
        let read = cx.stream(conn).map_or(0, |s| s.read.len);
        let offset = read - data.len() as u64;
        if cx.stream(conn).is_some_and(|s| s.first_mismatch.is_none())
            && let Some(at) = pattern_mismatch(offset + live.read_key, data)
        {
            cx.report_mismatch(conn, at - live.read_key);
        }
    }

    fn writable(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        self.push(cx, conn);
    }

    fn peer_closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn) {
        let Some(live) = self.live.get_mut(&conn) else {
            return;
        };
        if live.finished {
            return;
        }
        let close_on_eof = {
            let s = &self.plan.sessions[live.session];
            match live.side {
                Side::Client => s.client_role.close_on_eof,
                Side::Server => s.server_role.close_on_eof,
            }
        };
        if !close_on_eof {
            return;
        }
        if live.pending == 0 || live.fin_sent {
            self.finish(cx, conn, Call::Close);
        } else {
            live.close_when_written = true;
        }
    }

    fn closed(&mut self, cx: &mut AppCtx<'_, '_>, conn: Conn, _error: Option<SocketError>) {
        self.late.remove(&conn);
        if let Some(live) = self.live.remove(&conn)
            && !live.finished
        {
            // TCP ended it first (a reset, a timeout): the application is done too.
            self.ended += 1;
            self.reopen_later(cx, live.session);
        }
    }
}
