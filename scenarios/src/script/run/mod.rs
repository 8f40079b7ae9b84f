//! Running a parsed script against one [`Endpoint`] in virtual time.
//!
//! The runner keeps the stack's clock, a queue of the segments the stack
//! has sent and no `>` line has claimed yet, a file-descriptor table that
//! gives the stack's socket API BSD shape (fds from 3, O_NONBLOCK, SO_ERROR,
//! blocking calls), and the two ISNs that script numbers are relative to.
//!
//! This file is the runner loop: the events in order, the clock and the
//! stack's timers, collecting what the stack sends, and the end of the
//! script. Beside it:
//!
//! - `numbering`: the segments: relative numbers, matching `>` lines,
//!   building `<` lines, and printing both in packetdrill's notation.
//! - `sockets`: the file-descriptor table and the system calls that
//!   return at once, with Linux's constants.
//! - `blocking`: the calls that may block (accept, connect, read,
//!   write, poll) and what poll reports.
//! - `errqueue`: the error queue (MSG_ERRQUEUE), zero-copy completions
//!   and TX timestamps, fed by the stack's send progress.
//! - `icmp`: injecting `< icmp ...` lines.

mod blocking;
mod code;
mod epoll;
mod errqueue;
mod fastopen;
mod icmp;
mod msg;
mod numbering;
mod sockets;

use crate::script::parse::{CallSpec, Direction, Event, EventKind, Micros, Script, TimeExpr, When};
use crate::script::shell::{self, Effect};
use crate::script::sysctl::Host;
use crate::script::{Options, Profile, ScriptError};
use code::UnderTest;
use sockets::Fd;
use stack::{Endpoint, EndpointConfig, Event as StackEvent, Instant, SocketId, TcpConfig};
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::path::PathBuf;

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
    /// Script events run.
    pub events: usize,
    /// Segments the script injected into the stack.
    pub segments_in: usize,
    /// Segments the stack sent (each one checked against the script).
    pub segments_out: usize,
    /// Virtual time of the last event.
    pub end: Micros,
    /// Option lines that were ignored, then what the run warned about
    /// (shell commands not modelled), in order.
    pub warnings: Vec<String>,
    /// What `print` in `%{ }%` blocks wrote, one line each, prefixed with
    /// the file and the block's line.
    pub printed: Vec<String>,
}

/// Runs `script`; `seed` keys the stack's ISNs (script numbers are
/// relative, so a passing script passes at every seed).
pub fn run(script: &Script, seed: u64) -> Result<Report, ScriptError> {
    run_with(script, seed, Options::default())
}

/// [`run`] with [`Options`].
pub fn run_with(script: &Script, seed: u64, options: Options) -> Result<Report, ScriptError> {
    run_logged(script, seed, options).0
}

/// [`run_with`], also giving the warnings (the script's, then the run's)
/// whether or not the script passed: a failing script's warnings often
/// say why (a setting tcpsim does not model).
pub fn run_logged(
    script: &Script,
    seed: u64,
    options: Options,
) -> (Result<Report, ScriptError>, Vec<String>) {
    let mut r = Runner::new(script, seed, options);
    let result = (|| {
        for (i, ev) in script.events.iter().enumerate() {
            r.index = i;
            r.event(ev).map_err(|e| r.with_python_note(e))?;
        }
        r.finish().map_err(|e| r.with_python_note(e))?;
        // As packetdrill, whose Python runs after the last event: a
        // block's failure is the script's verdict only if nothing else
        // failed.
        match r.python_failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })();
    let warnings: Vec<String> = script.warnings.iter().chain(&r.warnings).cloned().collect();
    let result = result.map(|()| Report {
        events: script.events.len(),
        segments_in: r.segments_in,
        segments_out: r.segments_out,
        end: instant_to_micros(r.last_time),
        warnings: warnings.clone(),
        printed: std::mem::take(&mut r.printed),
    });
    (result, warnings)
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
    /// The tolerance in microseconds, and the share (parts per million) of
    /// the time since the previous event an event may be off by when that
    /// is more (packetdrill's --tolerance_percent).
    tolerance: u64,
    tolerance_ppm: u64,
    index: usize,
    /// When the previous event happened (the base of `+` times).
    last_time: Instant,
    /// Segments the stack sent that no `>` line has claimed: (time, bytes).
    outq: VecDeque<(Instant, Vec<u8>)>,
    scratch: Vec<u8>,
    fds: BTreeMap<i32, Fd>,
    by_socket: BTreeMap<SocketId, i32>,
    local_isn: Option<u32>,
    remote_isn: Option<u32>,
    /// The script called connect(): the remote ISN comes from a SYN-ACK.
    active_open: bool,
    /// The connection inbound segments address: (stack's port, script's port).
    tuple: (u16, u16),
    /// The 4-tuples (stack's port, script's port) of connections whose fd
    /// the script closed, or that another connection replaced as the one
    /// under test: what they send is an old socket's residue.
    closed_tuples: Vec<(u16, u16)>,
    /// Every 4-tuple a SYN or SYN-ACK of ours opened: once another is
    /// under test, what they send is residue too.
    seen_tuples: Vec<(u16, u16)>,
    /// A socket() call made a new socket the one under test (as
    /// packetdrill's syscall_socket does) and it has no connection yet:
    /// every earlier connection's segments are residue.
    test_fresh: bool,
    /// stack TSval - script TSval, once a `>` line has stated one.
    ts_offset: Option<u32>,
    pending: Option<Pending>,
    segments_in: usize,
    segments_out: usize,
    /// Bytes a blocked `write` still has to queue.
    write_left: usize,
    /// When a blocked `poll` times out (None: no poll, or no timeout).
    poll_deadline: Option<Instant>,
    /// The endpoint's MSS before a listener's TCP_MAXSEG capped it (put
    /// back when that listener closes).
    base_mss: Option<u16>,
    /// epoll instances by fd, with the fds each watches (in ADD order).
    epolls: BTreeMap<i32, Vec<epoll::Interest>>,
    /// What the run found worth saying without failing (shell commands
    /// not modelled), in order.
    warnings: Vec<String>,
    /// The sysctls the script's shell commands set.
    host: Host,
    /// The script's directory, where the relative paths of its shell
    /// commands start (packetdrill runs a script from there).
    dir: PathBuf,
    /// The `%{ }%` blocks' Python globals, kept from block to block.
    python: crate::script::python::Interpreter,
    /// packetdrill's socket under test: the one blocks read TCP_INFO from.
    under_test: UnderTest,
    /// The first block that failed, reported at the end (see `code`).
    python_failure: Option<ScriptError>,
    /// What the blocks printed.
    printed: Vec<String>,
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

impl<'s> Runner<'s> {
    fn new(script: &'s Script, seed: u64, options: Options) -> Runner<'s> {
        let mut secret = [0u8; 16];
        secret[..8].copy_from_slice(&seed.to_le_bytes());
        secret[8..].copy_from_slice(b"pktdrill");
        let mut config = EndpointConfig::new(secret);
        config.tcp = TcpConfig {
            // The TS clock counts virtual milliseconds from the start.
            ts_offset: Some(0),
            ..match options.profile {
                Profile::Rfc => TcpConfig::default(),
                Profile::Linux => TcpConfig::linux(),
            }
        };
        Runner {
            script,
            options,
            ep: Endpoint::new(script.local_ip, config),
            now: Instant(0),
            tolerance: match (options.exact, script.tolerance) {
                (_, Some(t)) => t,
                (true, None) => 0,
                (false, None) => crate::script::parse::DEFAULT_TOLERANCE_USECS,
            },
            tolerance_ppm: if options.exact {
                0
            } else {
                script
                    .tolerance_ppm
                    .unwrap_or(crate::script::parse::DEFAULT_TOLERANCE_PPM)
            },
            index: 0,
            last_time: Instant(0),
            outq: VecDeque::new(),
            scratch: Vec::with_capacity(2048),
            fds: BTreeMap::new(),
            by_socket: BTreeMap::new(),
            local_isn: None,
            remote_isn: None,
            active_open: false,
            tuple: (DEFAULT_PORT, REMOTE_PORT),
            closed_tuples: Vec::new(),
            seen_tuples: Vec::new(),
            test_fresh: false,
            ts_offset: None,
            pending: None,
            segments_in: 0,
            segments_out: 0,
            write_left: 0,
            poll_deadline: None,
            base_mss: None,
            epolls: BTreeMap::new(),
            warnings: Vec::new(),
            host: Host::new(),
            dir: std::path::Path::new(&script.name)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            python: crate::script::python::Interpreter::new(),
            under_test: UnderTest::None,
            python_failure: None,
            printed: Vec::new(),
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
        match when {
            When::At(t) => {
                let at = self.resolve(t);
                let tol = self.tolerance_at(at);
                (Instant(at.0.saturating_sub(tol)), later(at, tol), Some(at))
            }
            When::Range(a, b) => {
                let (a, b) = (self.resolve(a), self.resolve(b));
                let tol = self.tolerance_at(a);
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
        // (Shell commands and code blocks run when their turn comes, as
        // packetdrill's run_command_event: their time is not checked.)
        if !matches!(&ev.kind, EventKind::Packet(p) if p.direction == Direction::Outbound)
            && !matches!(&ev.kind, EventKind::Shell { .. } | EventKind::Python { .. })
            && let Some(at) = nominal
            && hi < self.now
        {
            let what = match ev.kind {
                EventKind::Packet(_) => "inbound packet",
                EventKind::Call(_) => "system call start",
                EventKind::Shell { .. } => "shell command",
                EventKind::Python { .. } => "code block",
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
                if p.icmp.is_some() {
                    return Err(self.fail(
                        ev.line,
                        "not supported: an outbound icmp line (tcpsim's stack sends no ICMP)",
                    ));
                }
                self.expect_outbound(ev, p, lo, hi, nominal)?;
            }
            EventKind::Packet(p) => {
                let at = nominal.unwrap_or(self.now).max(self.now);
                self.advance(at, Collect::UntilUnexpected)?;
                self.check_unexpected(ev.line, at)?;
                self.note_inbound(p);
                self.inject(ev.line, p)?;
                self.last_time = at;
            }
            EventKind::Call(c) => {
                let at = nominal.unwrap_or(self.now).max(self.now);
                if c.name == "socket" {
                    // packetdrill: "any later packets in the test script
                    // will now be mapped here"; what older sockets sent and
                    // no line claimed is no longer matched to anything.
                    self.test_fresh = true;
                    // The new socket's peer numbers start afresh: its first
                    // SYN (or SYN-ACK) fixes them (packetdrill keeps the
                    // remote ISN per socket).
                    self.remote_isn = None;
                    let queued = std::mem::take(&mut self.outq);
                    self.outq = queued
                        .into_iter()
                        .filter(|(_, b)| !self.superseded(b))
                        .collect();
                }
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
            EventKind::Shell { command } => {
                let at = nominal.unwrap_or(self.now);
                self.advance(at.max(self.now), Collect::UntilUnexpected)?;
                self.check_unexpected(ev.line, at.max(self.now))?;
                self.run_shell_event(ev.line, command)?;
                self.last_time = at;
            }
            EventKind::Python { code, line } => {
                let at = nominal.unwrap_or(self.now);
                self.advance(at.max(self.now), Collect::UntilUnexpected)?;
                self.check_unexpected(ev.line, at.max(self.now))?;
                self.run_python_event(*line, code)?;
                self.last_time = at;
            }
        }
        Ok(())
    }

    /// A backtick block: packetdrill runs it with `/bin/sh`; tcpsim reads
    /// it as configuration (see [`crate::script::shell`]): sysctls set
    /// the settings of connections created from now on, `ip link ... mtu`
    /// the MSS, and anything else is a warning naming the command.
    fn run_shell_event(&mut self, line: usize, command: &str) -> Result<(), ScriptError> {
        let effects = shell::interpret(command, &self.script.name, line, &self.dir)?;
        let mut cookies = self.ep.config().syn_cookies;
        for effect in effects {
            match effect {
                Effect::Sysctl {
                    name,
                    value,
                    origin,
                    saves,
                } => {
                    let tcp = self.ep.tcp_config_mut();
                    self.host.set(
                        &name,
                        &value,
                        &origin,
                        saves,
                        tcp,
                        &mut cookies,
                        &mut self.warnings,
                    )?;
                }
                Effect::Restore { origin } => {
                    let tcp = self.ep.tcp_config_mut();
                    self.host
                        .restore(&origin, tcp, &mut cookies, &mut self.warnings)?;
                }
                Effect::Mtu { mtu, .. } => {
                    // IPv4 and TCP headers of 20 bytes each: Linux's
                    // advmss for the route (RFC 9293 §3.7.1, RFC 6691).
                    let mss = mtu
                        .saturating_sub(40)
                        .clamp(u32::from(stack::TCP_MIN_MSS), 65535);
                    self.ep.tcp_config_mut().mss = mss as u16;
                }
                Effect::Warning(w) => self.warnings.push(w),
                Effect::FlushTcpMetrics => self.ep.flush_fast_open_cache(),
            }
        }
        self.ep.set_syn_cookies(cookies);
        self.ep.set_fast_open_config(self.host.fast_open());
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
            self.snapshot_infos();
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

    /// The tolerance for an event written for `at`: as packetdrill's
    /// verify_time, the larger of the tolerance and the tolerance
    /// percentage of the time from the previous event to `at`.
    fn tolerance_at(&self, at: Instant) -> u64 {
        let delta = at.0.saturating_sub(self.last_time.0);
        let share = (u128::from(delta) * u128::from(self.tolerance_ppm) / 1_000_000) as u64;
        self.tolerance_ns().max(share)
    }

    /// The oldest queued segment can no longer be claimed by an event at
    /// `at`: it went out more than the tolerance before.
    fn doomed(&self, at: Instant) -> bool {
        let tol = self.tolerance_at(at);
        self.outq
            .front()
            .is_some_and(|(t, b)| t.0.saturating_add(tol) < at.0 && !self.residual(b))
    }

    /// A segment from a connection whose fd the script closed. As
    /// packetdrill in local mode, such a socket's leftovers (a FIN after
    /// close that no line mentions) are not held against the script: they
    /// wait unjudged, and go once another connection starts (see
    /// `learn_from_outbound`), since they do not match the new test socket.
    fn residual(&self, bytes: &[u8]) -> bool {
        tuple_of(bytes).is_some_and(|t| {
            self.closed_tuples.contains(&t)
                || ((t != self.tuple || self.test_fresh) && self.seen_tuples.contains(&t))
        })
    }

    /// Whether a segment belongs to no socket packetdrill would match it
    /// to any more: an earlier connection's, once another is under test.
    fn superseded(&self, bytes: &[u8]) -> bool {
        self.residual(bytes) && (tuple_of(bytes) != Some(self.tuple) || self.test_fresh)
    }

    /// Collects transmitted segments and application events, and completes
    /// a blocked call if it can return now.
    fn flush(&mut self) -> Result<(), ScriptError> {
        self.flush_transmit();
        while let Some(e) = self.ep.poll_event() {
            self.epoll_wakeup_for(&e);
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
        self.errq_update();
        self.try_complete()
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

    fn flush_transmit(&mut self) {
        let mut buf = Vec::new();
        while self.ep.poll_transmit(self.now, &mut buf) {
            self.learn_from_outbound(&buf);
            self.segments_out += 1;
            // A closed socket's segment once another connection is under
            // test: packetdrill does not see it (it matches no test socket).
            if self.superseded(&buf) {
                buf.clear();
                continue;
            }
            self.outq.push_back((self.now, std::mem::take(&mut buf)));
        }
    }
}

/// The (source port, destination port) of an IPv4 datagram carrying TCP.
fn tuple_of(bytes: &[u8]) -> Option<(u16, u16)> {
    let ihl = usize::from(bytes.first()? & 0xf) * 4;
    let p = bytes.get(ihl..ihl + 4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse;
    use stack::wire::{self, Flags};

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
