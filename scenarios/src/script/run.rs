//! Running a parsed script against one [`Endpoint`] in virtual time.
//!
//! The runner keeps the stack's clock, a queue of the segments the stack
//! has sent and no `>` line has claimed yet, a file-descriptor table that
//! gives the stack's socket API BSD shape (fds from 3, O_NONBLOCK, SO_ERROR,
//! blocking calls), and the two ISNs that script numbers are relative to.

use super::parse::{
    ACK, CallSpec, Direction, Event, EventKind, Expr, FIN, Micros, OptionSpec, OptionsSpec, PSH,
    PacketSpec, RST, SYN, Script, TimeExpr, URG, When,
};
use super::{Options, ScriptError};
use stack::cc::CongestionAlgorithm;
use stack::wire::{self, Flags, IpPair, SackBlock, TcpOptions, TcpPacket, TcpRepr};
use stack::{
    Endpoint, EndpointConfig, Event as StackEvent, Instant, Keepalive, SeqNum, SocketError,
    SocketId, State, TcpConfig,
};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The stack under test.
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
/// The host the script plays.
pub const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The port `bind` gives the stack's sockets, and the port the script's
/// side listens on when the stack connects.
pub const DEFAULT_PORT: u16 = 8080;
/// The script's port when it connects to the stack.
pub const REMOTE_PORT: u16 = 40_000;

/// What a passing script did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub events: usize,
    pub segments_in: usize,
    pub segments_out: usize,
    /// Virtual time of the last event.
    pub end: Micros,
    pub warnings: Vec<String>,
}

/// Runs `script`; `seed` keys the stack's ISNs (script numbers are
/// relative, so a passing script passes at every seed).
pub fn run(script: &Script, seed: u64) -> Result<Report, ScriptError> {
    run_with(script, seed, Options::default())
}

/// [`run`] with [`Options`].
pub fn run_with(script: &Script, seed: u64, options: Options) -> Result<Report, ScriptError> {
    let mut r = Runner::new(script, seed, options);
    for (i, ev) in script.events.iter().enumerate() {
        r.index = i;
        r.event(ev)?;
    }
    r.finish()?;
    Ok(Report {
        events: script.events.len(),
        segments_in: r.segments_in,
        segments_out: r.segments_out,
        end: instant_to_micros(r.last_time),
        warnings: script.warnings.clone(),
    })
}

/// Upper bound on timer firings at one instant, against a stack bug that
/// would otherwise spin forever without time passing.
const SAME_INSTANT_BUDGET: u64 = 100_000;

/// Upper bound on timer firings in one wait: a timer that keeps firing
/// (a persist or keepalive timer over a wait of years, with nothing the
/// script could object to) would otherwise run for minutes.
const TIMER_BUDGET: u64 = 1_000_000;

/// The end of the virtual clock, 10^9 s (about 31.7 years): the stack's
/// clock counts u64 nanoseconds, and this leaves its timers room. A script
/// may write later times; the runner fails when it would have to reach
/// one (after the stack has had its say up to here).
const CLOCK_END_US: Micros = 1_000_000_000 * 1_000_000;
const CLOCK_END: Instant = Instant(CLOCK_END_US * 1_000);

/// What [`Runner::advance`] does with the segments the stack sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Collect {
    /// Stop at the first one (a `>` line is waiting for it).
    First,
    /// Queue them, and stop at the first one that no `>` line can claim
    /// any more (sent more than the tolerance before the target): it
    /// fails the script at its time, so running on would only pile up
    /// more of them.
    UntilUnexpected,
    /// Drop them: they come after the last line, which packetdrill
    /// ignores.
    Discard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FdKind {
    /// `socket()` done; not yet listening or connecting.
    Fresh,
    Listener(SocketId),
    Conn(SocketId),
}

#[derive(Clone, Debug)]
struct Fd {
    kind: FdKind,
    port: Option<u16>,
    reuse: bool,
    nodelay: bool,
    keepalive: bool,
    keepalive_timing: Keepalive,
    congestion: CongestionAlgorithm,
    nonblock: bool,
    linger_zero: bool,
    /// A pending error (SO_ERROR), reported once.
    error: Option<&'static str>,
    /// The connection reached ESTABLISHED at some point.
    connected: bool,
    /// A connect call has returned 0 (Linux's SS_CONNECTED): a further
    /// connect reports EISCONN.
    connect_reported: bool,
    /// The stack released the connection (reset, timed out, closed).
    gone: bool,
    shut_rd: bool,
    /// shutdown(SHUT_WR) or SHUT_RDWR was called.
    shut_wr: bool,
    /// The peer's FIN arrived (Linux's RCV_SHUTDOWN).
    peer_fin: bool,
}

impl Fd {
    fn new() -> Fd {
        Fd {
            kind: FdKind::Fresh,
            port: None,
            reuse: false,
            nodelay: false,
            keepalive: false,
            keepalive_timing: Keepalive::default(),
            congestion: CongestionAlgorithm::NewReno,
            nonblock: false,
            linger_zero: false,
            error: None,
            connected: false,
            connect_reported: false,
            gone: false,
            shut_rd: false,
            shut_wr: false,
            peer_fin: false,
        }
    }
}

/// A system call that blocked and has not returned yet.
struct Pending {
    line: usize,
    call: CallSpec,
    /// When it must return: [lo, hi] in stack time.
    lo: Instant,
    hi: Instant,
    end: Instant,
    /// Bytes still to write (a blocking `write`).
    remaining: usize,
}

struct Runner<'s> {
    script: &'s Script,
    options: Options,
    ep: Endpoint,
    now: Instant,
    tolerance: u64,
    index: usize,
    /// When the previous event happened (the base of `+` times).
    last_time: Instant,
    /// Segments the stack sent that no `>` line has claimed: (time, bytes).
    outq: VecDeque<(Instant, Vec<u8>)>,
    scratch: Vec<u8>,
    fds: BTreeMap<i32, Fd>,
    by_socket: BTreeMap<SocketId, i32>,
    next_fd: i32,
    local_isn: Option<u32>,
    remote_isn: Option<u32>,
    /// The script called connect(): the remote ISN comes from a SYN-ACK.
    active_open: bool,
    /// The connection inbound segments address: (stack's port, script's port).
    tuple: (u16, u16),
    /// stack TSval - script TSval, once a `>` line has stated one.
    ts_offset: Option<u32>,
    pending: Option<Pending>,
    segments_in: usize,
    segments_out: usize,
    /// Bytes a blocked `write` still has to queue.
    write_left: usize,
    /// When a blocked `poll` times out (None: no poll, or no timeout).
    poll_deadline: Option<Instant>,
}

/// Script time to stack time. Times past [`CLOCK_END`] map to
/// [`PAST_CLOCK_END`] (never onto `Instant(u64::MAX)`, which stands for
/// "no limit").
fn micros_to_instant(us: Micros) -> Instant {
    Instant(us.min(CLOCK_END_US + 1) * 1_000)
}

/// Where every time past the end of the clock lands.
const PAST_CLOCK_END: Instant = Instant((CLOCK_END_US + 1) * 1_000);

/// `t + ns`, or [`PAST_CLOCK_END`] if that is past the end of the clock.
fn later(t: Instant, ns: u64) -> Instant {
    Instant(t.0.saturating_add(ns).min(PAST_CLOCK_END.0))
}

fn instant_to_micros(t: Instant) -> Micros {
    t.0 / 1_000
}

fn fmt_time(t: Instant) -> String {
    let us = instant_to_micros(t);
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

type CallResult = Result<i64, &'static str>;

/// A segment the stack sent (or a run of them merged), as the runner
/// compares and prints it: absolute numbers, TCP fields only.
#[derive(Clone, Debug)]
struct Seen {
    flags: u8,
    seq: u32,
    ack: u32,
    window: u16,
    len: u32,
    options: TcpOptions,
    /// The option bytes as written, for messages.
    raw_options: Vec<u8>,
}

fn seen(bytes: &[u8]) -> Option<Seen> {
    let (_, seg) = wire::parse_datagram(bytes).ok()?;
    let ip = wire::Ipv4Packet::new_checked(bytes).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload_slice()).ok()?;
    Some(Seen {
        flags: seg.flags.0 & (FIN | SYN | RST | PSH | ACK | URG),
        seq: seg.seq.0,
        ack: seg.ack.0,
        window: seg.window,
        len: seg.payload.len() as u32,
        options: seg.options,
        raw_options: tcp.options().to_vec(),
    })
}

impl<'s> Runner<'s> {
    fn new(script: &'s Script, seed: u64, options: Options) -> Runner<'s> {
        let mut secret = [0u8; 16];
        secret[..8].copy_from_slice(&seed.to_le_bytes());
        secret[8..].copy_from_slice(b"pktdrill");
        let mut config = EndpointConfig::new(secret);
        config.tcp = TcpConfig {
            // The TS clock counts virtual milliseconds from the start.
            ts_offset: Some(0),
            ..TcpConfig::default()
        };
        Runner {
            script,
            options,
            ep: Endpoint::new(LOCAL_IP, config),
            now: Instant(0),
            tolerance: script.tolerance,
            index: 0,
            last_time: Instant(0),
            outq: VecDeque::new(),
            scratch: Vec::with_capacity(2048),
            fds: BTreeMap::new(),
            by_socket: BTreeMap::new(),
            next_fd: 3,
            local_isn: None,
            remote_isn: None,
            active_open: false,
            tuple: (DEFAULT_PORT, REMOTE_PORT),
            ts_offset: None,
            pending: None,
            segments_in: 0,
            segments_out: 0,
            write_left: 0,
            poll_deadline: None,
        }
    }

    fn line(&self) -> usize {
        self.script.events[self.index].line
    }

    fn fail(&self, line: usize, msg: impl Into<String>) -> ScriptError {
        ScriptError::line(&self.script.name, line, msg)
    }

    /// A time as written, in stack time: relative times count from when
    /// the previous event happened.
    fn resolve(&self, t: TimeExpr) -> Instant {
        match t {
            TimeExpr::Absolute(us) => micros_to_instant(us),
            TimeExpr::Relative(us) => later(self.last_time, micros_to_instant(us).0),
        }
    }

    /// The acceptable window of an event's time, in stack time, and the
    /// time it is written for (the start of a range).
    fn window(&self, when: When) -> (Instant, Instant, Option<Instant>) {
        let tol = self.tolerance_ns();
        match when {
            When::At(t) => {
                let at = self.resolve(t);
                (Instant(at.0.saturating_sub(tol)), later(at, tol), Some(at))
            }
            When::Range(a, b) => {
                let (a, b) = (self.resolve(a), self.resolve(b));
                (Instant(a.0.saturating_sub(tol)), later(b, tol), Some(a))
            }
            When::Any => (self.now, Instant(u64::MAX), None),
        }
    }

    fn event(&mut self, ev: &Event) -> Result<(), ScriptError> {
        let (lo, hi, nominal) = self.window(ev.when);
        // The clock cannot go back: an inbound segment or a call written
        // for a time already past (beyond the tolerance) is a timing error,
        // as packetdrill's check_event_time reports it. (An outbound line
        // finds its segment late, or none.)
        if !matches!(&ev.kind, EventKind::Packet(p) if p.direction == Direction::Outbound)
            && let Some(at) = nominal
            && hi < self.now
        {
            let what = match ev.kind {
                EventKind::Packet(_) => "inbound packet",
                EventKind::Call(_) => "system call start",
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "timing error: expected {what} at {}, but the script is already at {}",
                    fmt_time(at),
                    fmt_time(self.now)
                ),
            ));
        }
        if let When::Range(a, b) = ev.when
            && self.resolve(b) < self.resolve(a)
        {
            return Err(self.fail(ev.line, "time range ends before it starts"));
        }
        match &ev.kind {
            EventKind::Packet(p) if p.direction == Direction::Outbound => {
                self.expect_outbound(ev, p, lo, hi, nominal)?;
            }
            EventKind::Packet(p) => {
                let at = nominal.unwrap_or(self.now).max(self.now);
                self.advance(at, Collect::UntilUnexpected)?;
                self.check_unexpected(ev.line, at)?;
                self.inject(ev.line, p)?;
                self.last_time = at;
            }
            EventKind::Call(c) => {
                let at = nominal.unwrap_or(self.now).max(self.now);
                self.advance(at, Collect::UntilUnexpected)?;
                self.check_unexpected(ev.line, at)?;
                if let Some(p) = &self.pending {
                    return Err(self.fail(
                        ev.line,
                        format!(
                            "{} called while {} (line {}) is still blocked; packetdrill runs one blocking call at a time",
                            c.name, p.call.name, p.line
                        ),
                    ));
                }
                let start = at;
                // As packetdrill: when the start is relative, the END of
                // `START...END` is relative to the same base (the previous
                // event), so `+0.1...0.3` ends 0.3 s after the previous
                // event. `...+D` (our extension) means D after the start.
                let base = self.last_time;
                let start_relative = matches!(ev.when, When::At(TimeExpr::Relative(_)));
                let end = ev.end.map(|e| match e {
                    TimeExpr::Absolute(us) if start_relative => {
                        later(base, micros_to_instant(us).0)
                    }
                    TimeExpr::Absolute(us) => micros_to_instant(us),
                    TimeExpr::Relative(us) => later(start, micros_to_instant(us).0),
                });
                if let Some(end) = end
                    && end < start
                {
                    return Err(self.fail(ev.line, "a blocking call cannot end before it starts"));
                }
                self.call(ev.line, c, start, end)?;
                self.last_time = start;
            }
        }
        Ok(())
    }

    // ----- time -----

    /// Runs the stack's timers up to `to`, collecting what it sends as
    /// `collect` says; returns early when that says to stop.
    fn advance(&mut self, to: Instant, collect: Collect) -> Result<(), ScriptError> {
        // `Instant(u64::MAX)` is "no limit" (a `*` line): run while the
        // stack has timers, but never move the clock there.
        let unbounded = to == Instant(u64::MAX);
        let limit = to.min(CLOCK_END);
        let from = self.now;
        let mut fired = 0u64;
        let mut same_instant = 0u64;
        loop {
            self.flush()?;
            match collect {
                Collect::First if !self.outq.is_empty() => return Ok(()),
                Collect::UntilUnexpected if self.doomed(to) => return Ok(()),
                Collect::Discard => {
                    self.outq.clear();
                    if self.pending.is_none() {
                        return Ok(());
                    }
                }
                _ => {}
            }
            let next = match (self.ep.poll_timeout(), self.poll_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(t) = next.filter(|&t| t <= limit) else {
                break;
            };
            let t = t.max(self.now);
            self.check_deadline(t)?;
            same_instant = if t == self.now { same_instant + 1 } else { 0 };
            fired += 1;
            if same_instant >= SAME_INSTANT_BUDGET {
                return Err(self.fail(
                    self.line(),
                    format!(
                        "the stack's timers fired {SAME_INSTANT_BUDGET} times at {} without time passing",
                        fmt_time(t)
                    ),
                ));
            }
            if fired > TIMER_BUDGET {
                return Err(self.fail(
                    self.line(),
                    format!(
                        "the stack's timers fired {TIMER_BUDGET} times between {} and {} and keep firing; tcpsim gives up on this wait",
                        fmt_time(from),
                        fmt_time(t)
                    ),
                ));
            }
            self.now = t;
            if self.poll_deadline.is_some_and(|d| d <= t) && self.pending.is_none() {
                self.poll_deadline = None;
            }
            self.ep.handle_timeout(t);
        }
        if unbounded {
            return Ok(());
        }
        if to > CLOCK_END {
            // A call that had to return before then is the first failure.
            self.check_deadline(CLOCK_END)?;
            return Err(self.fail(
                self.line(),
                format!(
                    "this wait goes past the end of tcpsim's virtual clock at {} (about 31.7 years)",
                    fmt_time(CLOCK_END)
                ),
            ));
        }
        if to > self.now {
            self.check_deadline(to)?;
            self.now = to;
        }
        Ok(())
    }

    /// The tolerance in stack time.
    fn tolerance_ns(&self) -> u64 {
        self.tolerance.saturating_mul(1_000)
    }

    /// The oldest queued segment can no longer be claimed by an event at
    /// `at`: it went out more than the tolerance before.
    fn doomed(&self, at: Instant) -> bool {
        self.outq
            .front()
            .is_some_and(|(t, _)| t.0.saturating_add(self.tolerance_ns()) < at.0)
    }

    /// Collects transmitted segments and application events, and completes
    /// a blocked call if it can return now.
    fn flush(&mut self) -> Result<(), ScriptError> {
        self.flush_transmit();
        while let Some(e) = self.ep.poll_event() {
            match e {
                StackEvent::Connected(id) => {
                    if let Some(fd) = self.fd_of(id) {
                        fd.connected = true;
                    }
                }
                StackEvent::Error(id, err) => {
                    if let Some(fd) = self.fd_of(id) {
                        fd.error = Some(err.errno_name());
                        fd.gone = true;
                    }
                }
                StackEvent::Closed(id) => {
                    if let Some(fd) = self.fd_of(id) {
                        fd.gone = true;
                    }
                }
                StackEvent::PeerClosed(id) => {
                    if let Some(fd) = self.fd_of(id) {
                        fd.peer_fin = true;
                    }
                }
                _ => {}
            }
        }
        self.try_complete()
    }

    fn fd_of(&mut self, id: SocketId) -> Option<&mut Fd> {
        let fd = *self.by_socket.get(&id)?;
        self.fds.get_mut(&fd)
    }

    /// The stack's SYN or SYN-ACK fixes the ISN its numbers are relative to.
    fn learn_from_outbound(&mut self, bytes: &[u8]) {
        if let Ok((_, seg)) = wire::parse_datagram(bytes)
            && seg.flags.syn()
        {
            self.local_isn = Some(seg.seq.0);
            self.tuple = (seg.src_port, seg.dst_port);
        }
    }

    fn check_deadline(&self, t: Instant) -> Result<(), ScriptError> {
        if let Some(p) = &self.pending
            && t > p.hi
        {
            return Err(self.fail(
                p.line,
                format!(
                    "{}: expected to return at {}, still blocked at {}",
                    p.call.name,
                    fmt_time(p.end),
                    fmt_time(t)
                ),
            ));
        }
        Ok(())
    }

    fn check_unexpected(&self, line: usize, at: Instant) -> Result<(), ScriptError> {
        if self.doomed(at)
            && let Some((t, bytes)) = self.outq.front()
        {
            return Err(self.fail(
                line,
                format!(
                    "unexpected {} at {} (no > line expects it before this line)",
                    self.render_bytes(bytes),
                    fmt_time(*t)
                ),
            ));
        }
        Ok(())
    }

    /// At the end: a segment still queued is one no `>` line expected.
    fn check_none_left(&self, line: usize) -> Result<(), ScriptError> {
        match self.outq.front() {
            None => Ok(()),
            Some((t, bytes)) => Err(self.fail(
                line,
                format!(
                    "unexpected {} at {} (no > line expects it)",
                    self.render_bytes(bytes),
                    fmt_time(*t)
                ),
            )),
        }
    }

    fn finish(&mut self) -> Result<(), ScriptError> {
        self.flush()?;
        let strict = self.options.strict_end;
        // As packetdrill: what the stack sends after the last line is not
        // the script's business (unless --strict-end).
        if !strict {
            self.outq.clear();
        }
        // A call still blocked runs on to its deadline: its return is part
        // of the script.
        if let Some(hi) = self.pending.as_ref().map(|p| p.hi) {
            if strict {
                self.advance(hi, Collect::First)?;
                let line = self.pending.as_ref().map_or(1, |p| p.line);
                self.check_none_left(line)?;
            } else {
                self.advance(hi, Collect::Discard)?;
            }
        }
        self.check_none_left(self.script.events.last().map_or(1, |e| e.line))?;
        if let Some(p) = &self.pending {
            return Err(self.fail(
                p.line,
                format!(
                    "{}: expected to return at {}, still blocked when the script ended",
                    p.call.name,
                    fmt_time(p.end)
                ),
            ));
        }
        Ok(())
    }

    // ----- packets -----

    fn expect_outbound(
        &mut self,
        ev: &Event,
        spec: &PacketSpec,
        lo: Instant,
        hi: Instant,
        nominal: Option<Instant>,
    ) -> Result<(), ScriptError> {
        if self.outq.is_empty() {
            self.advance(hi, Collect::First)?;
        }
        let expected_at = match nominal {
            Some(at) => fmt_time(at),
            None => "*".to_string(),
        };
        let Some((t, bytes)) = self.outq.pop_front() else {
            let by = if hi == Instant(u64::MAX) {
                "the stack has nothing left to send".to_string()
            } else {
                format!("no segment by {}", fmt_time(hi))
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got nothing ({by})",
                    self.render_spec(spec)
                ),
            ));
        };
        let Some(mut got) = seen(&bytes) else {
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got a malformed datagram",
                    self.render_spec(spec)
                ),
            ));
        };
        // As packetdrill does for remote hosts: a line that expects more
        // payload than one segment carries matches the run of consecutive
        // segments that adds up to it, the way a TSO/GSO burst from Linux
        // appears as one large packet on packetdrill's tun device.
        let mut last_at = t;
        if spec.flags & (SYN | RST) == 0 && got.len > 0 && spec.len > got.len {
            while got.len < spec.len {
                if self.outq.is_empty() {
                    self.advance(hi, Collect::First)?;
                }
                let Some(next) = self.outq.front().and_then(|(at, b)| Some((*at, seen(b)?))) else {
                    break;
                };
                let (at, next) = next;
                let same = |f: u8| f & !(PSH | FIN);
                if at > hi
                    || next.len == 0
                    || next.seq != got.seq.wrapping_add(got.len)
                    || next.ack != got.ack
                    || same(next.flags) != same(got.flags)
                    || got.flags & FIN != 0
                {
                    break;
                }
                self.outq.pop_front();
                last_at = at;
                got.len += next.len;
                got.flags |= next.flags & (PSH | FIN);
                got.window = next.window;
            }
        }
        let mismatch = self.compare(spec, &got);
        if mismatch.is_some() || t < lo || t > hi {
            let why = match mismatch {
                Some(m) => m,
                None => "wrong time".to_string(),
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got {} at {} ({why})",
                    self.render_spec(spec),
                    self.render_actual(&got, Some(spec)),
                    fmt_time(t)
                ),
            ));
        }
        self.learn_ts_offset(spec, &got);
        // As packetdrill's adjust_relative_event_times: the next relative
        // time counts from when this segment actually left (anywhere in a
        // range, within the tolerance, or at any time for `*`); for a run
        // of segments, when the last of them left.
        self.last_time = last_at;
        Ok(())
    }

    /// Absolute value of a remote-side number written in the script.
    fn remote_abs(&self, v: u32, syn: bool) -> u32 {
        if syn {
            v
        } else {
            self.remote_isn.unwrap_or(0).wrapping_add(v)
        }
    }

    /// Absolute value of a stack-side number written in the script.
    fn local_abs(&self, v: u32) -> u32 {
        self.local_isn.unwrap_or(0).wrapping_add(v)
    }

    /// `None` when `bytes` is what `spec` describes; else what differs.
    fn compare(&self, spec: &PacketSpec, seg: &Seen) -> Option<String> {
        if seg.flags != spec.flags {
            return Some("flags differ".into());
        }
        // A SYN from the stack defines its ISN: its own seq is then 0.
        let seq_ok = if spec.flags & SYN != 0 {
            spec.start == 0
        } else {
            seg.seq == self.local_abs(spec.start)
        };
        if !seq_ok {
            return Some("sequence number differs".into());
        }
        if seg.len != spec.len {
            return Some("payload length differs".into());
        }
        // Without the ACK flag the field is compared as it is, absolute
        // (packetdrill maps it only when the flag is set).
        if let Some(a) = spec.ack
            && seg.ack
                != if spec.flags & ACK != 0 {
                    self.remote_abs(a, spec.flags & SYN != 0)
                } else {
                    a
                }
        {
            return Some("ack differs".into());
        }
        if let Some(w) = spec.win
            && seg.window != w
        {
            return Some("window differs".into());
        }
        match &spec.options {
            OptionsSpec::Wildcard => None,
            OptionsSpec::None => {
                if seg.options == TcpOptions::default() {
                    None
                } else {
                    Some("the segment carries options the line does not list".into())
                }
            }
            OptionsSpec::List(list) => self.compare_options(list, &seg.options),
        }
    }

    fn compare_options(&self, list: &[OptionSpec], got: &TcpOptions) -> Option<String> {
        // SACK blocks in a `>` line are the peer's numbers; the TS ecr
        // echoes the script's own TSval as written.
        let want = options_from(list, |v| self.remote_abs(v, false), |ecr| ecr);
        if want.mss != got.mss {
            return Some("MSS option differs".into());
        }
        if want.window_scale != got.window_scale {
            return Some("window scale option differs".into());
        }
        if want.sack_permitted != got.sack_permitted {
            return Some("SACK-permitted option differs".into());
        }
        match (want.timestamps, got.timestamps) {
            (None, None) => {}
            (Some((_, ecr)), Some((_, got_ecr))) => {
                if ecr != got_ecr {
                    return Some("TS ecr differs".into());
                }
            }
            _ => return Some("timestamps option differs".into()),
        }
        if want.sack() != got.sack() {
            return Some("SACK blocks differ".into());
        }
        None
    }

    fn learn_ts_offset(&mut self, spec: &PacketSpec, seg: &Seen) {
        if self.ts_offset.is_some() {
            return;
        }
        let OptionsSpec::List(list) = &spec.options else {
            return;
        };
        let Some(script_val) = list.iter().find_map(|o| match o {
            OptionSpec::Timestamps { val, .. } => Some(*val),
            _ => None,
        }) else {
            return;
        };
        if let Some((val, _)) = seg.options.timestamps {
            self.ts_offset = Some(val.wrapping_sub(script_val));
        }
    }

    fn inject(&mut self, line: usize, spec: &PacketSpec) -> Result<(), ScriptError> {
        let syn = spec.flags & SYN != 0;
        // As packetdrill: the remote ISN is the script's first SYN for a
        // listening socket, or the SYN-ACK answering a connect(); a later
        // SYN on the same 4-tuple does not move it, so numbers stay
        // comparable with Linux. A bare SYN crossing our connect's SYN (a
        // simultaneous open) sets nothing (packetdrill learns the ISN only
        // from the SYN-ACK, run_packet.c do_inbound_script_packet), so
        // until a SYN-ACK comes the remote numbers are as written.
        let ack_flag = spec.flags & ACK != 0;
        if syn && self.remote_isn.is_none() && ack_flag == self.active_open {
            self.remote_isn = Some(spec.start);
        }
        let seq = self.remote_abs(spec.start, syn);
        // As packetdrill: `ack N` without the ACK flag fills the field as
        // written (absolute) and leaves the flag clear.
        let ack = match spec.ack {
            None => 0,
            Some(a) if spec.flags & ACK != 0 => self.local_abs(a),
            Some(a) => a,
        };
        let mut options = TcpOptions::default();
        match &spec.options {
            OptionsSpec::None => {}
            OptionsSpec::Wildcard => {
                return Err(self.fail(
                    line,
                    "`<...>` on an inbound segment: write the options it carries",
                ));
            }
            OptionsSpec::List(list) => {
                // SACK blocks in a `<` line are the stack's numbers; a
                // non-zero TS ecr echoes a script TSval, mapped onto the
                // stack's clock.
                let offset = self.ts_offset.unwrap_or(0);
                options = options_from(
                    list,
                    |v| self.local_abs(v),
                    |ecr| {
                        if ecr == 0 {
                            0
                        } else {
                            ecr.wrapping_add(offset)
                        }
                    },
                );
                if options.len() > 40 {
                    return Err(self.fail(line, "the options do not fit in 40 bytes"));
                }
            }
        }
        let payload = vec![b'x'; spec.len as usize];
        let repr = TcpRepr {
            src_port: self.tuple.1,
            dst_port: self.tuple.0,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: Flags(spec.flags),
            window: spec.win.unwrap_or(65_535),
            urgent: 0,
            options,
            payload: &payload,
        };
        wire::emit_datagram(
            IpPair {
                src: REMOTE_IP,
                dst: LOCAL_IP,
            },
            &repr,
            &mut self.scratch,
        );
        if spec.flags & ACK == 0 && ack != 0 {
            // The stack's emitter zeroes the field of a segment without
            // ACK, as a sender should; the script's peer need not.
            set_ack_field(&mut self.scratch, ack);
        }
        let bytes = std::mem::take(&mut self.scratch);
        let result = self.ep.handle_packet(self.now, &bytes);
        self.scratch = bytes;
        if let Err(e) = result {
            return Err(self.fail(line, format!("the stack rejected the datagram: {e}")));
        }
        self.segments_in += 1;
        self.flush()
    }

    // ----- rendering -----

    fn render_spec(&self, spec: &PacketSpec) -> String {
        let mut s = String::from(match spec.direction {
            Direction::Inbound => "< ",
            Direction::Outbound => "> ",
        });
        s.push_str(&flag_letters(spec.flags));
        let _ = write!(s, " {}:{}({})", spec.start, spec.end, spec.len);
        if let Some(a) = spec.ack {
            let _ = write!(s, " ack {a}");
        }
        if let Some(w) = spec.win {
            let _ = write!(s, " win {w}");
        }
        match &spec.options {
            OptionsSpec::None => {}
            OptionsSpec::Wildcard => s.push_str(" <...>"),
            OptionsSpec::List(list) => {
                let parts: Vec<String> = list.iter().map(option_text).collect();
                let _ = write!(s, " <{}>", parts.join(","));
            }
        }
        s
    }

    fn render_bytes(&self, bytes: &[u8]) -> String {
        match seen(bytes) {
            Some(seg) => self.render_actual(&seg, None),
            None => "> (a malformed datagram)".into(),
        }
    }

    /// A segment the stack sent, in script notation and numbering; with
    /// `like`, the same fields the expectation wrote.
    fn render_actual(&self, seg: &Seen, like: Option<&PacketSpec>) -> String {
        let syn = seg.flags & SYN != 0;
        let start = if syn {
            0
        } else {
            seg.seq.wrapping_sub(self.local_isn.unwrap_or(0))
        };
        let mut s = format!(
            "> {} {}:{}({})",
            flag_letters(seg.flags),
            start,
            start.wrapping_add(seg.len),
            seg.len
        );
        if seg.flags & ACK == 0 && like.is_some_and(|l| l.ack.is_some()) {
            // The line states the field of a segment without ACK: show it
            // as it is.
            let _ = write!(s, " ack {}", seg.ack);
        } else if seg.flags & ACK != 0 {
            let a = if syn {
                seg.ack
            } else {
                seg.ack.wrapping_sub(self.remote_isn.unwrap_or(0))
            };
            let _ = write!(s, " ack {a}");
        }
        if like.is_none_or(|l| l.win.is_some()) {
            let _ = write!(s, " win {}", seg.window);
        }
        let show_opts = match like.map(|l| &l.options) {
            Some(OptionsSpec::Wildcard) => false,
            _ => !seg.raw_options.is_empty(),
        };
        if show_opts {
            let _ = write!(s, " <{}>", self.raw_options(&seg.raw_options));
        }
        s
    }

    /// Options in the order and layout the stack wrote them.
    fn raw_options(&self, mut b: &[u8]) -> String {
        let mut parts = Vec::new();
        while let Some(&kind) = b.first() {
            match kind {
                0 => {
                    parts.push("eol".to_string());
                    break;
                }
                1 => {
                    parts.push("nop".to_string());
                    b = &b[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = b.get(1) else { break };
            let len = usize::from(len);
            if len < 2 || len > b.len() {
                break;
            }
            let body = &b[2..len];
            let be32 =
                |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
            parts.push(match (kind, body.len()) {
                (2, 2) => format!("mss {}", u16::from_be_bytes([body[0], body[1]])),
                (3, 1) => format!("wscale {}", body[0]),
                (4, 0) => "sackOK".to_string(),
                (8, 8) => {
                    let val = be32(0).wrapping_sub(self.ts_offset.unwrap_or(0));
                    format!("TS val {val} ecr {}", be32(4))
                }
                (5, n) if n % 8 == 0 => {
                    let base = self.remote_isn.unwrap_or(0);
                    let blocks: Vec<String> = (0..n / 8)
                        .map(|i| {
                            format!(
                                "{}:{}",
                                be32(i * 8).wrapping_sub(base),
                                be32(i * 8 + 4).wrapping_sub(base)
                            )
                        })
                        .collect();
                    format!("sack {}", blocks.join(" "))
                }
                _ => format!("kind {kind} len {len}"),
            });
            b = &b[len..];
        }
        parts.join(",")
    }

    // ----- system calls -----

    fn call(
        &mut self,
        line: usize,
        c: &CallSpec,
        start: Instant,
        end: Option<Instant>,
    ) -> Result<(), ScriptError> {
        let name = c.name.as_str();
        let result = match name {
            "socket" => self.sys_socket(line, c)?,
            "setsockopt" => self.sys_setsockopt(line, c)?,
            "getsockopt" => self.sys_getsockopt(line, c)?,
            "fcntl" => self.sys_fcntl(line, c)?,
            "bind" => self.sys_bind(line, c)?,
            "listen" => self.sys_listen(line, c)?,
            "close" => self.sys_close(line, c)?,
            "shutdown" => self.sys_shutdown(line, c)?,
            "accept" | "connect" | "read" | "recv" | "write" | "send" | "poll" => {
                match self.try_blocking(line, c, None)? {
                    Some(r) => r,
                    None => {
                        // It blocks: it must return at END (or at once, if
                        // the line gave a single time).
                        let end = end.unwrap_or(start);
                        let tol = self.tolerance_ns();
                        let remaining = self.write_left;
                        self.pending = Some(Pending {
                            line,
                            call: c.clone(),
                            lo: Instant(end.0.saturating_sub(tol)),
                            hi: later(end, tol),
                            end,
                            remaining,
                        });
                        return self.try_complete();
                    }
                }
            }
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "unsupported system call {other:?} (supported: socket, setsockopt, getsockopt, fcntl, bind, listen, accept, connect, write, send, read, recv, poll, shutdown, close)"
                    ),
                ));
            }
        };
        // As packetdrill, which checks only when the call returned: one
        // given `START...END` may return at once if END is now (within the
        // tolerance), as `0.1...0.1` says.
        if let Some(end) = end
            && self.now.0.saturating_add(self.tolerance_ns()) < end.0
        {
            return Err(self.fail(
                line,
                format!(
                    "{name}: expected to block until {}, returned at once at {}",
                    fmt_time(end),
                    fmt_time(self.now)
                ),
            ));
        }
        self.check_result(line, c, result)?;
        self.flush()
    }

    /// Completes the blocked call if it can return now.
    fn try_complete(&mut self) -> Result<(), ScriptError> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        match self.try_blocking(p.line, &p.call, Some(p.remaining))? {
            None => {
                let mut p = p;
                p.remaining = self.write_left;
                self.pending = Some(p);
                Ok(())
            }
            Some(result) => {
                if self.now < p.lo || self.now > p.hi {
                    return Err(self.fail(
                        p.line,
                        format!(
                            "{}: expected to return at {}, returned at {}",
                            p.call.name,
                            fmt_time(p.end),
                            fmt_time(self.now)
                        ),
                    ));
                }
                self.check_result(p.line, &p.call, result)?;
                // Its return may have queued output (a read opening the window).
                self.flush_transmit();
                Ok(())
            }
        }
    }

    fn check_result(&self, line: usize, c: &CallSpec, got: CallResult) -> Result<(), ScriptError> {
        let want_text = match &c.errno {
            Some(e) => format!("-1 {e}"),
            None => expr_text(&c.ret),
        };
        let got_text = match got {
            Ok(v) => v.to_string(),
            Err(e) => format!("-1 {e}"),
        };
        let ok = match (&c.errno, got) {
            (Some(want), Err(e)) => want == e,
            (Some(_), Ok(_)) => false,
            (None, Err(_)) => false,
            (None, Ok(v)) => match &c.ret {
                Expr::Ellipsis => true,
                e => match eval(e) {
                    Some(want) => want == v,
                    None => {
                        return Err(self.fail(
                            line,
                            format!(
                                "{}: cannot evaluate the expected result {want_text}",
                                c.name
                            ),
                        ));
                    }
                },
            },
        };
        if ok {
            Ok(())
        } else {
            Err(self.fail(
                line,
                format!(
                    "{}: expected = {want_text}, got = {got_text} at {}",
                    c.name,
                    fmt_time(self.now)
                ),
            ))
        }
    }

    fn arg<'c>(&self, line: usize, c: &'c CallSpec, i: usize) -> Result<&'c Expr, ScriptError> {
        c.args
            .get(i)
            .ok_or_else(|| self.fail(line, format!("{}: missing argument {}", c.name, i + 1)))
    }

    fn int_arg(&self, line: usize, c: &CallSpec, i: usize) -> Result<i64, ScriptError> {
        let e = self.arg(line, c, i)?;
        eval(e).ok_or_else(|| {
            self.fail(
                line,
                format!(
                    "{}: argument {} ({}) is not a number",
                    c.name,
                    i + 1,
                    expr_text(e)
                ),
            )
        })
    }

    fn length_arg(&self, line: usize, c: &CallSpec) -> Result<usize, ScriptError> {
        let n = self.int_arg(line, c, 2)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= 64 * 1024 * 1024)
            .ok_or_else(|| {
                self.fail(
                    line,
                    format!("{}: length {n} is out of range (0..=64 MiB)", c.name),
                )
            })
    }

    fn fd_arg(&self, line: usize, c: &CallSpec) -> Result<i32, ScriptError> {
        let v = self.int_arg(line, c, 0)?;
        i32::try_from(v)
            .map_err(|_| self.fail(line, format!("{}: bad file descriptor {v}", c.name)))
    }

    fn sys_socket(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let want = [
            (0, &["AF_INET", "PF_INET"][..]),
            (1, &["SOCK_STREAM"][..]),
            (2, &["IPPROTO_TCP", "0"][..]),
        ];
        for (i, names) in want {
            match self.arg(line, c, i)? {
                Expr::Ellipsis => {}
                Expr::Int(0) if i == 2 => {}
                Expr::Name(n) if names.contains(&n.as_str()) => {}
                other => {
                    return Err(self.fail(
                        line,
                        format!(
                            "socket: argument {} is {}; tcpsim runs IPv4 TCP sockets ({})",
                            i + 1,
                            expr_text(other),
                            names.join(" or ")
                        ),
                    ));
                }
            }
        }
        let fd = self.next_fd;
        self.next_fd += 1;
        self.fds.insert(fd, Fd::new());
        Ok(Ok(i64::from(fd)))
    }

    fn sys_setsockopt(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let level = expr_text(self.arg(line, c, 1)?);
        let opt = expr_text(self.arg(line, c, 2)?);
        let value = self.arg(line, c, 3)?.clone();
        if !self.fds.contains_key(&fd) {
            return Ok(Err("EBADF"));
        }
        let int_value = |e: &Expr| -> Option<i64> {
            match e {
                Expr::List(v) if v.len() == 1 => eval(&v[0]),
                other => eval(other),
            }
        };
        let file = self.script.name.clone();
        let bad = |what: &str| ScriptError::line(&file, line, format!("setsockopt {opt}: {what}"));
        let now = self.now;
        let level_ok = match opt.as_str() {
            "SO_REUSEADDR" | "SO_KEEPALIVE" | "SO_LINGER" | "SO_RCVBUF" | "SO_SNDBUF" => {
                level == "SOL_SOCKET"
            }
            "TCP_NODELAY" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" | "TCP_CONGESTION" => {
                level == "IPPROTO_TCP" || level == "SOL_TCP"
            }
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "setsockopt: unsupported option {other} (supported: SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_CONGESTION)"
                    ),
                ));
            }
        };
        if !level_ok {
            return Ok(Err("ENOPROTOOPT"));
        }
        match opt.as_str() {
            "SO_REUSEADDR" | "SO_KEEPALIVE" | "TCP_NODELAY" => {
                let v = int_value(&value).ok_or_else(|| bad("the value must be [0] or [1]"))? != 0;
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                match opt.as_str() {
                    "SO_REUSEADDR" => f.reuse = v,
                    "SO_KEEPALIVE" => f.keepalive = v,
                    _ => f.nodelay = v,
                }
            }
            "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" => {
                let v = int_value(&value)
                    .filter(|&v| (1..=32_767).contains(&v))
                    .ok_or_else(|| bad("the value must be [1..32767]"))?;
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                match opt.as_str() {
                    "TCP_KEEPIDLE" => {
                        f.keepalive_timing.idle = stack::Duration::from_secs(v as u64)
                    }
                    "TCP_KEEPINTVL" => {
                        f.keepalive_timing.interval = stack::Duration::from_secs(v as u64)
                    }
                    _ => f.keepalive_timing.probes = v as u32,
                }
            }
            "SO_LINGER" => {
                let Expr::Struct(fields) = &value else {
                    return Err(bad("the value must be {onoff=N, linger=N}"));
                };
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .and_then(|(_, e)| eval(e))
                };
                let (Some(onoff), Some(secs)) = (get("onoff"), get("linger")) else {
                    return Err(bad("the value must be {onoff=N, linger=N}"));
                };
                if onoff != 0 && secs != 0 {
                    return Err(bad("only linger 0 (close sends RST) is supported"));
                }
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.linger_zero = onoff != 0;
            }
            "SO_RCVBUF" | "SO_SNDBUF" => {
                let v = int_value(&value)
                    .filter(|&v| (1..=1 << 30).contains(&v))
                    .ok_or_else(|| bad("the value must be [bytes] between 1 and 2^30"))?;
                // As Linux: the kernel doubles the value (with a floor of
                // SOCK_MIN_RCVBUF 2304 / SOCK_MIN_SNDBUF 4608) and keeps
                // half of it for bookkeeping, so the window a receive
                // buffer offers is max(v, 1152). Endpoint-wide: applies to
                // connections created after this call.
                let v = v as usize;
                let cfg = self.ep.tcp_config_mut();
                if opt == "SO_RCVBUF" {
                    cfg.recv_buffer = (2 * v).max(2304) / 2;
                } else {
                    cfg.send_buffer = (2 * v).max(4608) / 2;
                }
            }
            "TCP_CONGESTION" => {
                let alg = match &value {
                    Expr::Str(s) if s == "reno" || s == "newreno" => CongestionAlgorithm::NewReno,
                    Expr::Str(s) if s == "cubic" => CongestionAlgorithm::Cubic,
                    _ => return Ok(Err("ENOENT")),
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.congestion = alg;
            }
            _ => unreachable!("checked above"),
        }
        // Options on a live connection apply now.
        if let Some(f) = self.fds.get(&fd).cloned()
            && let FdKind::Conn(id) = f.kind
        {
            self.apply_options(now, id, &f);
        }
        Ok(Ok(0))
    }

    fn apply_options(&mut self, now: Instant, id: SocketId, f: &Fd) {
        let _ = self.ep.set_nodelay(id, f.nodelay);
        let ka = f.keepalive.then_some(f.keepalive_timing);
        let _ = self.ep.set_keepalive(now, id, ka);
        if self.ep.congestion_control(id)
            != Some(match f.congestion {
                CongestionAlgorithm::NewReno => "newreno",
                CongestionAlgorithm::Cubic => "cubic",
            })
        {
            let _ = self.ep.set_congestion_control(id, f.congestion);
        }
    }

    fn sys_getsockopt(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let opt = expr_text(self.arg(line, c, 2)?);
        if opt != "SO_ERROR" {
            return Err(self.fail(
                line,
                format!("getsockopt: unsupported option {opt} (supported: SO_ERROR)"),
            ));
        }
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        let got = f.error.take();
        let want = match self.arg(line, c, 3)? {
            Expr::List(v) if v.len() == 1 => v[0].clone(),
            Expr::Ellipsis => Expr::Ellipsis,
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "getsockopt SO_ERROR: expected a value like [0] or [ECONNREFUSED], found {}",
                        expr_text(other)
                    ),
                ));
            }
        };
        let ok = match (&want, got) {
            (Expr::Ellipsis, _) => true,
            (Expr::Int(0), None) => true,
            (Expr::Name(n), Some(e)) => n == e,
            _ => false,
        };
        if !ok {
            return Err(self.fail(
                line,
                format!(
                    "getsockopt: expected SO_ERROR [{}], got [{}]",
                    expr_text(&want),
                    got.unwrap_or("0")
                ),
            ));
        }
        Ok(Ok(0))
    }

    fn sys_fcntl(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let cmd = expr_text(self.arg(line, c, 1)?);
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        match cmd.as_str() {
            "F_GETFL" => Ok(Ok(O_RDWR | if f.nonblock { O_NONBLOCK } else { 0 })),
            "F_SETFL" => {
                let e = c
                    .args
                    .get(2)
                    .ok_or_else(|| self.fail(line, "fcntl F_SETFL: missing flags"))?;
                let flags = eval(e).ok_or_else(|| {
                    self.fail(
                        line,
                        format!("fcntl F_SETFL: cannot evaluate {}", expr_text(e)),
                    )
                })?;
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.nonblock = flags & O_NONBLOCK != 0;
                }
                Ok(Ok(0))
            }
            other => Err(self.fail(
                line,
                format!("fcntl: unsupported command {other} (supported: F_GETFL, F_SETFL)"),
            )),
        }
    }

    fn port_in_use(&self, port: u16, reuse: bool) -> bool {
        self.ep.sockets().iter().any(|s| {
            s.local.port() == port
                && (s.state == State::Listen || !reuse)
                && !(reuse && s.state == State::TimeWait)
        })
    }

    fn sys_bind(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let Some(f) = self.fds.get(&fd) else {
            return Ok(Err("EBADF"));
        };
        if f.kind != FdKind::Fresh || f.port.is_some() {
            return Ok(Err("EINVAL"));
        }
        if self.port_in_use(DEFAULT_PORT, f.reuse) {
            return Ok(Err("EADDRINUSE"));
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            f.port = Some(DEFAULT_PORT);
        }
        Ok(Ok(0))
    }

    fn sys_listen(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let backlog = self.int_arg(line, c, 1)?.clamp(1, 65_535) as usize;
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        match f.kind {
            FdKind::Listener(_) => return Ok(Ok(0)),
            FdKind::Conn(_) => return Ok(Err("EINVAL")),
            FdKind::Fresh => {}
        }
        let port = f.port.unwrap_or(DEFAULT_PORT);
        let r = if f.reuse {
            self.ep.listen_reuse(port, backlog)
        } else {
            self.ep.listen(port, backlog)
        };
        match r {
            Ok(id) => {
                let f = self.fds.get_mut(&fd).expect("checked above");
                f.kind = FdKind::Listener(id);
                f.port = Some(port);
                self.by_socket.insert(id, fd);
                self.tuple = (port, REMOTE_PORT);
                Ok(Ok(0))
            }
            Err(e) => Ok(Err(e.errno_name())),
        }
    }

    fn sys_close(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let Some(f) = self.fds.remove(&fd) else {
            return Ok(Err("EBADF"));
        };
        match f.kind {
            FdKind::Fresh => {}
            FdKind::Listener(id) | FdKind::Conn(id) => {
                self.by_socket.remove(&id);
                if !f.gone && self.ep.state(id).is_some() {
                    let r = if f.linger_zero && matches!(f.kind, FdKind::Conn(_)) {
                        self.ep.abort(self.now, id)
                    } else {
                        self.ep.close(self.now, id)
                    };
                    if let Err(e) = r {
                        return Ok(Err(e.errno_name()));
                    }
                }
            }
        }
        Ok(Ok(0))
    }

    fn sys_shutdown(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let how = expr_text(self.arg(line, c, 1)?);
        let (rd, wr) = match how.as_str() {
            "SHUT_RD" | "0" => (true, false),
            "SHUT_WR" | "1" => (false, true),
            "SHUT_RDWR" | "2" => (true, true),
            other => {
                return Err(self.fail(
                    line,
                    format!("shutdown: unknown mode {other} (SHUT_RD, SHUT_WR or SHUT_RDWR)"),
                ));
            }
        };
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let FdKind::Conn(id) = f.kind else {
            return Ok(Err("ENOTCONN"));
        };
        if f.gone || self.ep.state(id).is_none() {
            return Ok(Err("ENOTCONN"));
        }
        if wr {
            match self.ep.shutdown(self.now, id) {
                Ok(()) | Err(SocketError::BrokenPipe) => {}
                Err(e) => return Ok(Err(e.errno_name())),
            }
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            f.shut_rd |= rd;
            f.shut_wr |= wr;
        }
        Ok(Ok(0))
    }

    /// accept, connect, read/recv, write/send: `Some(result)` when the
    /// call returns now, `None` when it blocks. `resume` is set when a
    /// blocked call is retried (with the bytes a write still has to queue).
    fn try_blocking(
        &mut self,
        line: usize,
        c: &CallSpec,
        resume: Option<usize>,
    ) -> Result<Option<CallResult>, ScriptError> {
        if c.name == "poll" {
            return self.sys_poll(line, c, resume.is_some());
        }
        let fd = self.fd_arg(line, c)?;
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Some(Err("EBADF")));
        };
        let now = self.now;
        self.write_left = 0;
        match c.name.as_str() {
            "accept" => {
                let FdKind::Listener(lid) = f.kind else {
                    return Ok(Some(Err("EINVAL")));
                };
                match self.ep.accept(lid) {
                    Ok(id) => {
                        let newfd = self.next_fd;
                        self.next_fd += 1;
                        let mut child = Fd::new();
                        child.kind = FdKind::Conn(id);
                        child.connected = true;
                        child.nodelay = f.nodelay;
                        child.keepalive = f.keepalive;
                        child.keepalive_timing = f.keepalive_timing;
                        child.congestion = f.congestion;
                        child.linger_zero = f.linger_zero;
                        child.gone = self.ep.state(id).is_none();
                        self.apply_options(now, id, &child);
                        if let Some((local, remote)) = self.ep.addresses(id) {
                            self.tuple = (local.port(), remote.port());
                        }
                        self.fds.insert(newfd, child);
                        self.by_socket.insert(id, newfd);
                        Ok(Some(Ok(i64::from(newfd))))
                    }
                    Err(SocketError::WouldBlock) if f.nonblock => Ok(Some(Err("EAGAIN"))),
                    Err(SocketError::WouldBlock) => Ok(None),
                    Err(e) => Ok(Some(Err(e.errno_name()))),
                }
            }
            "connect" => match f.kind {
                FdKind::Listener(_) => Ok(Some(Err("EINVAL"))),
                FdKind::Fresh => {
                    if resume.is_some() {
                        return Ok(Some(Err("EBADF")));
                    }
                    let remote = SocketAddrV4::new(REMOTE_IP, DEFAULT_PORT);
                    // A new active connection: its peer's ISN comes from
                    // the SYN-ACK the script will send.
                    self.remote_isn = None;
                    self.active_open = true;
                    let r = match f.port {
                        Some(p) => self.ep.connect_from(now, p, remote),
                        None => self.ep.connect(now, remote),
                    };
                    let id = match r {
                        Ok(id) => id,
                        Err(e) => return Ok(Some(Err(e.errno_name()))),
                    };
                    let fdm = self.fds.get_mut(&fd).expect("looked up above");
                    fdm.kind = FdKind::Conn(id);
                    let snapshot = fdm.clone();
                    self.by_socket.insert(id, fd);
                    self.apply_options(now, id, &snapshot);
                    if let Some((local, remote)) = self.ep.addresses(id) {
                        self.tuple = (local.port(), remote.port());
                    }
                    self.flush()?;
                    if f.nonblock {
                        return Ok(Some(Err("EINPROGRESS")));
                    }
                    self.connect_status(fd)
                }
                FdKind::Conn(_) if resume.is_some() => self.connect_status(fd),
                FdKind::Conn(id) => {
                    // connect again (__inet_stream_connect): EALREADY while
                    // the handshake runs; once it is done, the first call
                    // returns 0 and later ones EISCONN; after a failure the
                    // pending error (else ECONNABORTED).
                    if f.connect_reported {
                        return Ok(Some(Err("EISCONN")));
                    }
                    match self.ep.state(id) {
                        Some(State::SynSent | State::SynReceived) => Ok(Some(Err("EALREADY"))),
                        Some(_) if f.connected && !f.gone => self.connect_status(fd),
                        _ => Ok(Some(Err(self
                            .fds
                            .get_mut(&fd)
                            .and_then(|f| f.error.take())
                            .unwrap_or("ECONNABORTED")))),
                    }
                }
            },
            "read" | "recv" => {
                let n = self.length_arg(line, c)?;
                let FdKind::Conn(id) = f.kind else {
                    return Ok(Some(Err("ENOTCONN")));
                };
                let gone = f.gone || self.ep.state(id).is_none();
                if gone {
                    // Linux: a pending error is reported once, then EOF;
                    // but once the peer's FIN was in, tcp_recvmsg reports
                    // EOF first (SOCK_DONE before sk_err) and the error is
                    // left for SO_ERROR (a RST in CLOSING or LAST-ACK).
                    if f.peer_fin {
                        return Ok(Some(Ok(0)));
                    }
                    return Ok(Some(
                        match self.fds.get_mut(&fd).and_then(|f| f.error.take()) {
                            Some(e) => Err(e),
                            None => Ok(0),
                        },
                    ));
                }
                let mut buf = vec![0u8; n];
                match self.ep.recv(now, id, &mut buf) {
                    Ok(k) => Ok(Some(Ok(k as i64))),
                    Err(SocketError::WouldBlock) if f.shut_rd => Ok(Some(Ok(0))),
                    Err(SocketError::WouldBlock) if f.nonblock => Ok(Some(Err("EAGAIN"))),
                    Err(SocketError::WouldBlock) => Ok(None),
                    Err(e) => {
                        if let Some(f) = self.fds.get_mut(&fd) {
                            f.error = None;
                        }
                        Ok(Some(Err(e.errno_name())))
                    }
                }
            }
            "write" | "send" => {
                let total = self.length_arg(line, c)?;
                let mut left = resume.unwrap_or(total);
                let FdKind::Conn(id) = f.kind else {
                    return Ok(Some(Err(if f.kind == FdKind::Fresh {
                        "EPIPE"
                    } else {
                        "ENOTCONN"
                    })));
                };
                if f.gone || self.ep.state(id).is_none() {
                    return Ok(Some(
                        match self.fds.get_mut(&fd).and_then(|f| f.error.take()) {
                            Some(e) => Err(e),
                            None => Err("EPIPE"),
                        },
                    ));
                }
                // Linux: writing before the handshake completes blocks (or EAGAIN).
                if matches!(self.ep.state(id), Some(State::SynSent | State::SynReceived)) {
                    return Ok(if f.nonblock {
                        Some(Err("EAGAIN"))
                    } else {
                        None
                    });
                }
                let data = vec![b'y'; left.min(1 << 20)];
                while left > 0 {
                    match self.ep.send(now, id, &data[..left.min(data.len())]) {
                        Ok(0) | Err(SocketError::WouldBlock) => break,
                        Ok(k) => left -= k,
                        Err(e) => return Ok(Some(Err(e.errno_name()))),
                    }
                }
                self.flush_transmit();
                if left == 0 {
                    Ok(Some(Ok(total as i64)))
                } else if f.nonblock {
                    if left == total {
                        Ok(Some(Err("EAGAIN")))
                    } else {
                        Ok(Some(Ok((total - left) as i64)))
                    }
                } else {
                    self.write_left = left;
                    Ok(None)
                }
            }
            _ => unreachable!("only blocking calls come here"),
        }
    }

    /// poll(2) over the script's fds: `[{fd=N, events=..., revents=...}]`,
    /// nfds, timeout in ms (0: return at once; -1: no limit). Each fd's
    /// revents must be what the script expects; the result counts the fds
    /// with any. With nothing ready and a timeout, the call blocks.
    fn sys_poll(
        &mut self,
        line: usize,
        c: &CallSpec,
        resumed: bool,
    ) -> Result<Option<CallResult>, ScriptError> {
        let Expr::List(items) = self.arg(line, c, 0)? else {
            return Err(self.fail(
                line,
                "poll: the first argument must be a list like [{fd=4, events=POLLIN, revents=POLLIN}]",
            ));
        };
        let timeout = self.int_arg(line, c, 2)?;
        let mut wanted = Vec::new();
        for item in items {
            let Expr::Struct(fields) = item else {
                return Err(self.fail(
                    line,
                    "poll: each entry must be {fd=..., events=..., revents=...}",
                ));
            };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, e)| e);
            let fd = get("fd").and_then(eval).and_then(|v| i32::try_from(v).ok());
            let events = get("events").and_then(eval);
            let (Some(fd), Some(events)) = (fd, events) else {
                return Err(self.fail(line, "poll: each entry needs fd=N and events=FLAGS"));
            };
            let revents = match get("revents") {
                None | Some(Expr::Ellipsis) => None,
                Some(e) => Some(eval(e).ok_or_else(|| {
                    self.fail(
                        line,
                        format!("poll: cannot evaluate revents {}", expr_text(e)),
                    )
                })?),
            };
            wanted.push((fd, events, revents));
        }
        let got: Vec<i64> = wanted
            .iter()
            .map(|&(fd, events, _)| self.poll_mask(fd) & (events | POLLERR | POLLHUP | POLLNVAL))
            .collect();
        let ready = got.iter().filter(|&&r| r != 0).count() as i64;
        let timed_out = self.poll_deadline.is_some_and(|d| self.now >= d);
        if ready == 0 && timeout != 0 && !timed_out {
            if !resumed {
                self.poll_deadline = u64::try_from(timeout)
                    .ok()
                    .map(|ms| self.now + stack::Duration(ms.saturating_mul(1_000_000)));
            }
            return Ok(None);
        }
        self.poll_deadline = None;
        for (&(fd, _, want), &have) in wanted.iter().zip(&got) {
            if let Some(want) = want
                && want != have
            {
                return Err(self.fail(
                    line,
                    format!(
                        "poll: expected revents {} for fd {fd}, got {} at {}",
                        poll_text(want),
                        poll_text(have),
                        fmt_time(self.now)
                    ),
                ));
            }
        }
        Ok(Some(Ok(ready)))
    }

    /// What Linux's tcp_poll would report for an fd.
    fn poll_mask(&self, fd: i32) -> i64 {
        let Some(f) = self.fds.get(&fd) else {
            return POLLNVAL;
        };
        match f.kind {
            // An unconnected socket: TCP_CLOSE.
            FdKind::Fresh => POLLOUT | POLLWRNORM | POLLHUP,
            FdKind::Listener(id) => {
                let waiting = self
                    .ep
                    .sockets()
                    .iter()
                    .any(|s| s.id == id && s.recv_queue > 0);
                if waiting { POLLIN | POLLRDNORM } else { 0 }
            }
            FdKind::Conn(id) => {
                let state = if f.gone { None } else { self.ep.state(id) };
                let closed = matches!(state, None | Some(State::Closed));
                let rcv_shut = f.peer_fin || f.shut_rd || closed;
                let snd_shut = f.shut_wr || closed;
                let mut mask = 0;
                if closed || (rcv_shut && snd_shut) {
                    mask |= POLLHUP;
                }
                if rcv_shut {
                    mask |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                if !matches!(state, Some(State::SynSent | State::SynReceived)) {
                    if self.ep.recv_queue_len(id) > 0 {
                        mask |= POLLIN | POLLRDNORM;
                    }
                    if snd_shut || self.ep.send_capacity(id) > 0 {
                        mask |= POLLOUT | POLLWRNORM;
                    }
                }
                if f.error.is_some() {
                    mask |= POLLERR;
                }
                mask
            }
        }
    }

    fn flush_transmit(&mut self) {
        let mut buf = Vec::new();
        while self.ep.poll_transmit(self.now, &mut buf) {
            self.learn_from_outbound(&buf);
            self.segments_out += 1;
            self.outq.push_back((self.now, std::mem::take(&mut buf)));
        }
    }

    fn connect_status(&mut self, fd: i32) -> Result<Option<CallResult>, ScriptError> {
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Some(Err("EBADF")));
        };
        if f.connected {
            f.connect_reported = true;
            return Ok(Some(Ok(0)));
        }
        if let Some(e) = f.error.take() {
            return Ok(Some(Err(e)));
        }
        Ok(None)
    }
}

/// Writes `ack` into the acknowledgment field of an IPv4 datagram carrying
/// TCP and updates the TCP checksum incrementally (RFC 1624 eqn. 3:
/// HC' = ~(~HC + ~m + m') over each 16-bit word changed).
fn set_ack_field(datagram: &mut [u8], ack: u32) {
    let t = usize::from(datagram[0] & 0x0f) * 4;
    let word = |d: &[u8], i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let mut sum = u32::from(!word(datagram, t + 16));
    for i in [t + 8, t + 10] {
        sum += u32::from(!word(datagram, i));
    }
    datagram[t + 8..t + 12].copy_from_slice(&ack.to_be_bytes());
    for i in [t + 8, t + 10] {
        sum += u32::from(word(datagram, i));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    datagram[t + 16..t + 18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// The options a script line lists, by meaning: NOP and EOL are layout
/// only. `seq` maps SACK edges and `ecr` the TS echo to absolute values.
fn options_from(
    list: &[OptionSpec],
    seq: impl Fn(u32) -> u32,
    ecr: impl Fn(u32) -> u32,
) -> TcpOptions {
    let mut o = TcpOptions::default();
    for item in list {
        match item {
            OptionSpec::Nop | OptionSpec::Eol => {}
            OptionSpec::Mss(v) => o.mss = Some(*v),
            OptionSpec::WindowScale(v) => o.window_scale = Some(*v),
            OptionSpec::SackPermitted => o.sack_permitted = true,
            OptionSpec::Timestamps { val, ecr: e } => o.timestamps = Some((*val, ecr(*e))),
            OptionSpec::Sack(blocks) => {
                for (i, (l, r)) in blocks.iter().enumerate() {
                    o.sack_blocks[i] = SackBlock {
                        left: SeqNum(seq(*l)),
                        right: SeqNum(seq(*r)),
                    };
                }
                o.sack_count = blocks.len() as u8;
            }
        }
    }
    o
}

const POLLIN: i64 = 0x1;
const POLLOUT: i64 = 0x4;
const POLLERR: i64 = 0x8;
const POLLHUP: i64 = 0x10;
const POLLNVAL: i64 = 0x20;
const POLLRDNORM: i64 = 0x40;
const POLLWRNORM: i64 = 0x100;
const POLLRDHUP: i64 = 0x2000;

/// Poll flags by name, as a script would write them.
fn poll_text(mask: i64) -> String {
    let names = [
        (POLLIN, "POLLIN"),
        (POLLOUT, "POLLOUT"),
        (POLLERR, "POLLERR"),
        (POLLHUP, "POLLHUP"),
        (POLLNVAL, "POLLNVAL"),
        (POLLRDNORM, "POLLRDNORM"),
        (POLLWRNORM, "POLLWRNORM"),
        (POLLRDHUP, "POLLRDHUP"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|&(_, n)| n)
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

const O_RDWR: i64 = 0x2;
const O_NONBLOCK: i64 = 0x800;

/// Linux's values for the symbolic constants scripts use.
fn constant(name: &str) -> Option<i64> {
    Some(match name {
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => O_RDWR,
        "O_NONBLOCK" => O_NONBLOCK,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "SOL_SOCKET" => 1,
        "IPPROTO_TCP" | "SOL_TCP" => 6,
        "AF_INET" | "PF_INET" => 2,
        "SOCK_STREAM" => 1,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "MSG_NOSIGNAL" => 0x4000,
        "MSG_DONTWAIT" => 0x40,
        "POLLIN" => POLLIN,
        "POLLPRI" => 0x2,
        "POLLOUT" => POLLOUT,
        "POLLERR" => POLLERR,
        "POLLHUP" => POLLHUP,
        "POLLNVAL" => POLLNVAL,
        "POLLRDNORM" => POLLRDNORM,
        "POLLRDBAND" => 0x80,
        "POLLWRNORM" => POLLWRNORM,
        "POLLWRBAND" => 0x200,
        "POLLRDHUP" => POLLRDHUP,
        _ => return None,
    })
}

fn eval(e: &Expr) -> Option<i64> {
    match e {
        Expr::Int(v) => Some(*v),
        Expr::Name(n) => constant(n),
        Expr::Or(parts) => parts.iter().try_fold(0i64, |acc, p| Some(acc | eval(p)?)),
        Expr::List(v) if v.len() == 1 => eval(&v[0]),
        _ => None,
    }
}

fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Ellipsis => "...".into(),
        Expr::Int(v) => v.to_string(),
        Expr::Name(n) => n.clone(),
        Expr::Or(parts) => parts.iter().map(expr_text).collect::<Vec<_>>().join("|"),
        Expr::List(v) => format!(
            "[{}]",
            v.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
        Expr::Struct(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}={}", expr_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Str(s) => format!("{s:?}"),
    }
}

/// Flags in packetdrill's letters and order: `S.`, `FP.`, `R.`.
fn flag_letters(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (FIN, 'F'),
        (SYN, 'S'),
        (RST, 'R'),
        (PSH, 'P'),
        (URG, 'U'),
        (ACK, '.'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn option_text(o: &OptionSpec) -> String {
    match o {
        OptionSpec::Nop => "nop".into(),
        OptionSpec::Eol => "eol".into(),
        OptionSpec::Mss(v) => format!("mss {v}"),
        OptionSpec::WindowScale(v) => format!("wscale {v}"),
        OptionSpec::SackPermitted => "sackOK".into(),
        OptionSpec::Timestamps { val, ecr } => format!("TS val {val} ecr {ecr}"),
        OptionSpec::Sack(blocks) => format!(
            "sack {}",
            blocks
                .iter()
                .map(|(l, r)| format!("{l}:{r}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse;

    /// The datagram the runner builds for the `<` line of `text`, with the
    /// stack's ISN taken to be 1000.
    fn injected(text: &str) -> (u32, Flags) {
        let script = parse("t.pkt", text).unwrap_or_else(|e| panic!("{e}"));
        let mut r = Runner::new(&script, 1, Options::default());
        r.local_isn = Some(1000);
        let EventKind::Packet(p) = &script.events[0].kind else {
            panic!("not a packet line")
        };
        r.inject(1, p).unwrap_or_else(|e| panic!("{e}"));
        let (_, seg) = wire::parse_datagram(&r.scratch).expect("a well-formed datagram");
        (seg.ack.0, seg.flags)
    }

    #[test]
    fn ack_without_the_ack_flag_goes_into_the_field_as_written() {
        // Why: as packetdrill, `ack N` on a `<` line without `.` fills the
        // field with N itself (packetdrill maps it onto the stack's ISN
        // only when the flag is set) and leaves the flag clear.
        let (ack, flags) = injected("0 < R 5:5(0) ack 12345 win 0\n");
        assert_eq!(ack, 12345);
        assert!(!flags.ack() && flags.rst());
        // With `.`, the same N counts from the stack's ISN.
        let (ack, flags) = injected("0 < R. 5:5(0) ack 12345 win 0\n");
        assert_eq!(ack, 13345);
        assert!(flags.ack());
        // All ones, where the checksum update must fold its carries.
        let (ack, _) = injected("0 < S 0:0(0) ack 4294967295 win 65535\n");
        assert_eq!(ack, u32::MAX);
    }
}
