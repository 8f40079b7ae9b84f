//! Random workloads: a generated scenario family for sweeps.
//!
//! [`generate`] turns generator [`Params`] (a small serde struct, so a
//! capsule can store them) and a seed into a [`Workload`]: 2 to 4 hosts on a
//! random topology from [`sim::topology`] (point-to-point, star or
//! dumbbell), each with its own TCP settings, impaired links, and
//! [`Session`]s between hosts whose applications make random but legal
//! socket calls at random times: bulk both ways, many short connections one
//! after another, simultaneous open, shutdown at any moment (during the
//! handshake too), close, abort, reading paused and resumed, keepalive and
//! `TCP_NODELAY` switched on mid-connection, and after a simultaneous open
//! a late listen on, or a half-open reconnect from, the client's port.
//! [`Workload::setup`] builds the world; [`scenario`] wraps both as the
//! catalogue entry `random` (`tcpsim run random --seed N`).
//!
//! All randomness comes from the seed: the workload is drawn from the
//! engine's labelled stream `generate` ([`sim::rng::stream`]), and nothing
//! the applications do at run time draws at all (they follow the drawn
//! plan), so a [`Workload`] is complete data: it can be printed, stored,
//! edited (a shrinker removes sessions or steps) and built again.
//!
//! What every run is checked for, beyond the four oracles of
//! [`crate::oracle`]:
//!
//! - *content*: each direction of each connection carries bytes keyed by
//!   its 4-tuple (the [`crate::host::pattern`] rotated by a key of the
//!   writer's address and port and the reader's), and the reader checks
//!   every byte at its offset: a byte delivered twice, shifted, or from
//!   another connection is a `delivery` violation at the offset it appeared;
//! - *eof-complete*: a reader that read the peer's FIN read everything the
//!   peer wrote (a FIN comes after all data: nothing may be missing);
//! - *workload*: every connection the applications opened was ended by
//!   its application (its last step, a close or an abort, ran) and every
//!   session opened all its connections, so no connection can be left open
//!   by the workload itself.
//!
//! Termination: the generator never leaves a connection idle-established.
//! Every connection's plan ends with a close or an abort (and an orderly
//! one closes earlier, once its data is written and the peer's FIN read),
//! loss and partitions stop at [`Workload::faults_stop_ms`], and the
//! horizon lies [`SETTLE_MS`] after the last planned call, longer than any
//! retransmission back-off, FIN-WAIT-2 timeout or TIME-WAIT. So the
//! termination oracle applies to every run in full: a connection still
//! open at the horizon is a stack bug (or a generator bug), never an
//! expected leftover. Duplication, reordering, jitter and single-bit
//! corruption stay on to the end (the engine cannot change them at run
//! time); they act as extra delay or loss and never keep a connection open.
//!
//! What the generator deliberately does not do: crash hosts (a crashed
//! host's peer can only end by timing out, which needs keepalive or data)
//! or forge segments (the fuzzer in [`crate::fuzz`] does).

mod peer;

pub use peer::RandomPeer;

use crate::catalogue::Scenario;
use crate::oracle::Violation;
use crate::run::{Outcome, Setup};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sim::topology::{self, DumbbellBuilder, Endpoint as Place, Spoke, StarBuilder};
use sim::{
    Addr, Corruption, Duration, Jitter, LinkChange, LinkConfig, LinkId, Reorder, SimError, SimRng,
    Time, World, WorldConfig,
};
use stack::TcpConfig;
use stack::cc::CongestionAlgorithm;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

/// The name of the generated family in the catalogue and on the command line.
pub const NAME: &str = "random";

/// How long after the last planned call the run goes on: longer than the
/// worst retransmission back-off (RTO max 120 s), a FIN-WAIT-2 timeout
/// (60 s) and TIME-WAIT (60 s) together, so every connection has ended.
pub const SETTLE_MS: u64 = 600_000;

/// The most hosts a workload may have (the issue asks for 2 to 4; the
/// topology builders allow more, but the addresses below are planned for
/// a handful).
pub const HOSTS_MAX: u8 = 8;

/// The event budget of one generated run: far above what the largest
/// workload the parameters allow needs, so exceeding it is a runaway.
pub const EVENT_BUDGET: u64 = 20_000_000;

/// What the generator may draw. Every field has a default
/// ([`Params::default`]), so a TOML or JSON capsule names only what it
/// changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Fewest hosts (at least 2).
    pub hosts_min: u8,
    /// Most hosts (at most [`HOSTS_MAX`]).
    pub hosts_max: u8,
    /// Most sessions (client-server pairs of applications) per workload.
    pub sessions_max: u32,
    /// Most connections one session opens one after another (short connections).
    pub connections_max: u32,
    /// Most bytes one side writes at the start of a connection (bulk).
    pub bulk_bytes_max: u64,
    /// Most bytes one timed send writes.
    pub send_bytes_max: u32,
    /// Most timed calls per side of a connection, before its final close or abort.
    pub steps_max: u32,
    /// Sessions start within this many milliseconds of time zero.
    pub active_ms: u64,
    /// Impaired links (loss, duplication, reordering, jitter, corruption,
    /// partitions) while the applications run.
    pub impairments: bool,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            hosts_min: 2,
            hosts_max: 4,
            sessions_max: 6,
            connections_max: 12,
            bulk_bytes_max: 200_000,
            send_bytes_max: 20_000,
            steps_max: 6,
            active_ms: 3_000,
            impairments: true,
        }
    }
}

impl Params {
    /// Checks the parameters can generate a workload; `Err` names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.hosts_min < 2 {
            return Err(format!(
                "hosts_min = {}: a workload needs at least 2 hosts",
                self.hosts_min
            ));
        }
        if self.hosts_max < self.hosts_min || self.hosts_max > HOSTS_MAX {
            return Err(format!(
                "hosts_max = {}: expected {} to {HOSTS_MAX}",
                self.hosts_max, self.hosts_min
            ));
        }
        let limits: [(&str, u64, u64); 5] = [
            ("sessions_max", u64::from(self.sessions_max), 64),
            ("connections_max", u64::from(self.connections_max), 1_000),
            ("bulk_bytes_max", self.bulk_bytes_max, 64 << 20),
            ("send_bytes_max", u64::from(self.send_bytes_max), 16 << 20),
            ("steps_max", u64::from(self.steps_max), 256),
        ];
        for (name, value, max) in limits {
            if value == 0 || value > max {
                return Err(format!("{name} = {value}: expected 1 to {max}"));
            }
        }
        if self.active_ms > 3_600_000 {
            return Err(format!(
                "active_ms = {}: expected at most an hour (3600000)",
                self.active_ms
            ));
        }
        Ok(())
    }
}

/// How the hosts are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// Two hosts on one duplex link.
    PointToPoint,
    /// Every host on its own spoke to one hub router.
    Star,
    /// The first `left` hosts on the left router, the rest on the right,
    /// the bottleneck between the routers.
    Dumbbell {
        /// How many hosts are on the left router.
        left: usize,
    },
}

/// One direction of a link, as drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkPlan {
    /// Serialization rate in bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay in microseconds.
    pub delay_us: u64,
    /// Drop-tail queue limit in packets.
    pub queue_packets_max: u32,
    /// Independent loss until [`Workload::faults_stop_ms`].
    pub loss: f64,
    /// Duplication probability per packet.
    pub duplicate: f64,
    /// Probability and extra delay (microseconds) of reordering.
    pub reorder: Option<(f64, u64)>,
    /// Uniform jitter up to this many microseconds.
    pub jitter_us: Option<u64>,
    /// Probability of flipping one bit of a packet. Drawn only for a
    /// direction a host sends on, so no packet is corrupted twice.
    pub corrupt: f64,
    /// A partition: down from `start` for `length` milliseconds.
    pub partition: Option<(u64, u64)>,
}

/// One host's TCP settings, as drawn (the fields of [`TcpConfig`] that vary).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpPlan {
    /// The MSS announced (`TcpConfig::mss`).
    pub mss: u16,
    /// Receive buffer in bytes.
    pub recv_buffer: usize,
    /// Send buffer in bytes.
    pub send_buffer: usize,
    /// Window scale shift offered (`None`: no window scale option).
    pub window_scale: Option<u8>,
    /// RFC 7323 timestamps offered.
    pub timestamps: bool,
    /// SACK offered (RFC 2018).
    pub sack: bool,
    /// Nagle's algorithm on.
    pub nagle: bool,
    /// Delayed ACK timeout in milliseconds (`None`: ACK every segment at once).
    pub delayed_ack_ms: Option<u64>,
    /// CUBIC instead of NewReno.
    pub cubic: bool,
    /// A pinned ISN (near the 2^32 wrap), or RFC 6528's.
    pub isn: Option<u32>,
}

impl TcpPlan {
    /// The stack configuration this plan describes.
    pub fn config(&self) -> TcpConfig {
        TcpConfig {
            mss: self.mss,
            recv_buffer: self.recv_buffer,
            send_buffer: self.send_buffer,
            window_scale: self.window_scale,
            timestamps: self.timestamps,
            sack: self.sack,
            nagle: self.nagle,
            delayed_ack: self.delayed_ack_ms.map(stack::Duration::from_millis),
            congestion: if self.cubic {
                CongestionAlgorithm::Cubic
            } else {
                CongestionAlgorithm::NewReno
            },
            isn: self.isn,
            ..TcpConfig::default()
        }
    }
}

/// A socket call an application makes at a planned time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Queue this many more bytes (written as send space allows).
    Send {
        /// Bytes to add to what is queued.
        bytes: u32,
    },
    /// SHUT_WR.
    Shutdown,
    /// CLOSE (a RST if unread data waits, as Linux does).
    Close,
    /// ABORT.
    Abort,
    /// Stop reading (the receive window fills and closes).
    PauseReading,
    /// Resume reading.
    ResumeReading,
    /// SO_KEEPALIVE with short timers: idle `idle_ms`, 1 s apart, 3 probes.
    Keepalive {
        /// Idle time before the first probe, in milliseconds.
        idle_ms: u64,
    },
    /// TCP_NODELAY on.
    NoDelay,
}

/// A call at `at_ms` after the connection's start (the connect call, or
/// the accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Milliseconds after the connection's start.
    pub at_ms: u64,
    /// The call to make.
    pub call: Call,
}

/// What one side does on each connection of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Bytes written from the start, as fast as send space allows.
    pub bulk_bytes: u64,
    /// SHUT_WR once everything queued so far is written and no timed send is left.
    pub fin_when_written: bool,
    /// CLOSE once the peer's FIN was read and everything is written.
    pub close_on_eof: bool,
    /// Timed calls in time order; the last is always a close or an abort.
    pub steps: Vec<Step>,
}

impl Role {
    /// The planned final call: the generator ends every role with a close
    /// or an abort, so a plan without one is malformed.
    pub fn ends(&self) -> bool {
        matches!(
            self.steps.last(),
            Some(Step {
                call: Call::Close | Call::Abort,
                ..
            })
        )
    }
}

/// A pair of applications: `client` connects to `server`, `connections`
/// times (at most `concurrency` open at once, the next `gap_ms` after one
/// ends), or both open at once towards each other (`simultaneous`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The client host's index in [`Workload::hosts`].
    pub client: usize,
    /// The server host's index in [`Workload::hosts`].
    pub server: usize,
    /// When the first connection opens, in milliseconds.
    pub start_ms: u64,
    /// Simultaneous open (RFC 9293 §3.5 Figure 7): both sides connect
    /// from a fixed port to the other's at `start_ms`; one connection.
    pub simultaneous: bool,
    /// When the server listens (after `start_ms`: the first SYNs are refused).
    pub listen_at_ms: u64,
    /// Connections the client makes in all (at most `concurrency` open at once).
    pub connections: u32,
    /// The most open at once.
    pub concurrency: u32,
    /// Milliseconds between one connection ending and the next opening.
    pub gap_ms: u64,
    /// What the client does on each connection.
    pub client_role: Role,
    /// What the server does on each connection it accepts.
    pub server_role: Role,
    /// Simultaneous open only: this many milliseconds after the client's
    /// connection ended (its final call, or TCP ending it), the client
    /// listens on its fixed port. A late SYN,ACK from the peer then meets
    /// a listener, which answers it with a reset (RFC 9293 §3.10.7.2); a
    /// late SYN is accepted and aborted at once (not part of the plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relisten_ms: Option<u64>,
    /// Simultaneous open only (and not with `relisten_ms`): this many
    /// milliseconds after the client's connection ended, it connects once
    /// more from its fixed port to the peer's, where nobody listens: the
    /// half-open case of RFC 9293 §3.5.1 when the peer never learnt of the
    /// end (its FIN or data may still arrive in SYN-SENT, a challenge ACK
    /// answers the SYN). That connection is refused, reset or times out;
    /// should it ever be established it is aborted at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_ms: Option<u64>,
}

impl Session {
    /// The server's port for session `index` (its listener, or its fixed
    /// port in a simultaneous open).
    pub fn server_port(index: usize) -> u16 {
        5000 + index as u16
    }
    /// The client's fixed port in a simultaneous open.
    pub fn client_port(index: usize) -> u16 {
        6000 + index as u16
    }
}

/// Everything a generated run does, drawn from [`Params`] and a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// How the hosts are connected.
    pub shape: Shape,
    /// Each host's TCP settings, by host index.
    pub hosts: Vec<TcpPlan>,
    /// Per host: its access link or spoke, host to router (or a to b on a
    /// point-to-point link) and back.
    pub links: Vec<(LinkPlan, LinkPlan)>,
    /// A dumbbell's bottleneck, left to right and back.
    pub bottleneck: Option<(LinkPlan, LinkPlan)>,
    /// The application pairs; session `i` listens on [`Session::server_port`]`(i)`.
    pub sessions: Vec<Session>,
    /// Loss and partitions end here.
    pub faults_stop_ms: u64,
    /// The run ends here, in milliseconds: the last planned call plus time to settle.
    pub horizon_ms: u64,
}

/// Host `index`'s name and address.
pub fn host_name(index: usize) -> String {
    format!("h{index}")
}

/// Host `index`'s address: 10.0.0.(index + 1).
pub fn host_addr(index: usize) -> Addr {
    Addr::new(10, 0, 0, index as u8 + 1)
}

fn below(rng: &mut SimRng, n: u64) -> u64 {
    if n == 0 { 0 } else { sim::rng::below(rng, n) }
}

/// A uniform integer in `[low, high]`.
fn between(rng: &mut SimRng, low: u64, high: u64) -> u64 {
    low + below(rng, high.saturating_sub(low) + 1)
}

fn chance(rng: &mut SimRng, p: f64) -> bool {
    sim::rng::chance(rng, p)
}

fn pick<T: Copy>(rng: &mut SimRng, items: &[T]) -> T {
    items[below(rng, items.len() as u64) as usize]
}

fn draw_link(rng: &mut SimRng, params: &Params, faults_stop_ms: u64) -> LinkPlan {
    let mut link = LinkPlan {
        rate_bps: pick(rng, &[1_000_000, 10_000_000, 100_000_000, 1_000_000_000]),
        delay_us: pick(rng, &[50, 500, 2_000, 10_000, 40_000]),
        queue_packets_max: pick(rng, &[1000, 100, 20]),
        loss: 0.0,
        duplicate: 0.0,
        reorder: None,
        jitter_us: None,
        corrupt: 0.0,
        partition: None,
    };
    if !params.impairments {
        return link;
    }
    if chance(rng, 0.5) {
        link.loss = pick(rng, &[0.005, 0.02, 0.05, 0.1]);
    }
    if chance(rng, 0.2) {
        link.duplicate = pick(rng, &[0.01, 0.05]);
    }
    if chance(rng, 0.2) {
        link.reorder = Some((pick(rng, &[0.02, 0.1]), between(rng, 1_000, 20_000)));
    }
    if chance(rng, 0.2) {
        link.jitter_us = Some(between(rng, 100, 5_000));
    }
    if chance(rng, 0.1) {
        link.corrupt = pick(rng, &[0.01, 0.03]);
    }
    if chance(rng, 0.15) {
        let start = below(rng, faults_stop_ms.max(1));
        let length = between(rng, 200, 3_000).min(faults_stop_ms.saturating_sub(start));
        if length > 0 {
            link.partition = Some((start, length));
        }
    }
    link
}

fn draw_tcp(rng: &mut SimRng) -> TcpPlan {
    TcpPlan {
        mss: pick(rng, &[1460, 1460, 536, 1200, 88]),
        recv_buffer: pick(rng, &[6 << 20, 256 << 10, 16 << 10, 4 << 10]),
        send_buffer: pick(rng, &[4 << 20, 256 << 10, 16 << 10, 4 << 10]),
        window_scale: pick(rng, &[Some(7), Some(7), None, Some(0), Some(14)]),
        timestamps: chance(rng, 0.7),
        sack: chance(rng, 0.7),
        nagle: chance(rng, 0.7),
        delayed_ack_ms: pick(rng, &[Some(40), Some(40), None, Some(200)]),
        cubic: chance(rng, 0.3),
        isn: chance(rng, 0.1).then(|| u32::MAX - below(rng, 200_000) as u32),
    }
}

/// A random role: `orderly` ones write, FIN and close after the peer's
/// FIN (a timed close later as a safety); chaotic ones call whatever at
/// random times in the first seconds, the handshake included.
fn draw_role(rng: &mut SimRng, params: &Params, orderly: bool) -> Role {
    let mut steps = Vec::new();
    let bulk_bytes = if chance(rng, 0.5) {
        between(rng, 1, params.bulk_bytes_max)
    } else {
        0
    };
    let count = below(rng, u64::from(params.steps_max) + 1);
    let span_ms = if orderly { 5_000 } else { 3_000 };
    for _ in 0..count {
        // One step in ten comes in the first 2 ms: during the handshake.
        let at_ms = if chance(rng, 0.1) {
            below(rng, 3)
        } else {
            below(rng, span_ms)
        };
        let call = match below(rng, if orderly { 6 } else { 9 }) {
            0..=1 => Call::Send {
                bytes: between(rng, 1, u64::from(params.send_bytes_max)) as u32,
            },
            2 => Call::PauseReading,
            3 => Call::Keepalive {
                idle_ms: between(rng, 500, 10_000),
            },
            4 => Call::NoDelay,
            5 => Call::ResumeReading,
            6 => Call::Shutdown,
            7 => Call::Close,
            _ => Call::Abort,
        };
        steps.push(Step { at_ms, call });
    }
    // A paused reader resumes before the end most of the time.
    if steps.iter().any(|s| s.call == Call::PauseReading) && chance(rng, 0.8) {
        steps.push(Step {
            at_ms: between(rng, 100, span_ms),
            call: Call::ResumeReading,
        });
    }
    steps.sort_by_key(|s| s.at_ms);
    let last = steps.last().map_or(0, |s| s.at_ms);
    let end = if orderly {
        // The safety close: long after an orderly exchange has ended.
        between(rng, last.max(20_000), last.max(20_000) + 40_000)
    } else if chance(rng, 0.05) {
        // Closed or aborted during the handshake.
        below(rng, 3)
    } else {
        between(rng, last, last + 3_000)
    };
    let call = if chance(rng, if orderly { 0.1 } else { 0.3 }) {
        Call::Abort
    } else {
        Call::Close
    };
    steps.push(Step { at_ms: end, call });
    steps.sort_by_key(|s| s.at_ms);
    // The final call stays last (a stable sort keeps it after equal times).
    if let Some(i) = steps
        .iter()
        .rposition(|s| matches!(s.call, Call::Close | Call::Abort))
        && i != steps.len() - 1
    {
        let final_step = steps.remove(i);
        let at_ms = steps.last().map_or(final_step.at_ms, |s| s.at_ms);
        steps.push(Step {
            at_ms: at_ms.max(final_step.at_ms),
            ..final_step
        });
    }
    Role {
        bulk_bytes,
        fin_when_written: orderly || chance(rng, 0.3),
        close_on_eof: orderly || chance(rng, 0.3),
        steps,
    }
}

/// Draws a workload. The same parameters and seed give the same workload.
pub fn generate(params: &Params, seed: u64) -> Workload {
    let mut rng = sim::rng::stream(seed, NAME);
    let host_count = between(
        &mut rng,
        u64::from(params.hosts_min),
        u64::from(params.hosts_max),
    ) as usize;
    let shape = match (host_count, below(&mut rng, 3)) {
        (2, 0) => Shape::PointToPoint,
        (_, 1) => Shape::Dumbbell {
            left: between(&mut rng, 1, host_count as u64 - 1) as usize,
        },
        _ => Shape::Star,
    };
    let faults_stop_ms = params.active_ms + 5_000;
    let hosts = (0..host_count).map(|_| draw_tcp(&mut rng)).collect();
    // Corruption only where a host sends (each pair's first plan: a
    // host's uplink, or in point-to-point its direction of the one link),
    // so a packet is corrupted at most once end to end. Two single-bit
    // flips on two hops can cancel in RFC 1071's sum and deliver wrong
    // bytes no TCP can detect (seed 789 under heavy faults did: one flip
    // on h1's uplink, one on h3's downlink, in the same 16-bit column).
    // The draws stay as they were, so every other choice is unchanged.
    let not_first_hop = |mut plan: LinkPlan| {
        plan.corrupt = 0.0;
        plan
    };
    let links = (0..host_count)
        .map(|_| {
            (
                draw_link(&mut rng, params, faults_stop_ms),
                not_first_hop(draw_link(&mut rng, params, faults_stop_ms)),
            )
        })
        .collect();
    let bottleneck = matches!(shape, Shape::Dumbbell { .. }).then(|| {
        (
            not_first_hop(draw_link(&mut rng, params, faults_stop_ms)),
            not_first_hop(draw_link(&mut rng, params, faults_stop_ms)),
        )
    });
    let session_count = between(&mut rng, 1, u64::from(params.sessions_max)) as usize;
    let mut sessions = Vec::with_capacity(session_count);
    for _ in 0..session_count {
        let client = below(&mut rng, host_count as u64) as usize;
        let server = (client + 1 + below(&mut rng, host_count as u64 - 1) as usize) % host_count;
        let start_ms = below(&mut rng, params.active_ms + 1);
        let simultaneous = chance(&mut rng, 0.12);
        let short = !simultaneous && chance(&mut rng, 0.35);
        let connections = if short {
            between(&mut rng, 2, u64::from(params.connections_max).max(2)) as u32
        } else {
            1
        };
        let concurrency = between(&mut rng, 1, u64::from(connections).min(4)) as u32;
        let orderly = chance(&mut rng, 0.6);
        let client_role = draw_role(&mut rng, params, orderly);
        let server_orderly = orderly || chance(&mut rng, 0.5);
        let server_role = draw_role(&mut rng, params, server_orderly);
        let listen_at_ms = if chance(&mut rng, 0.08) {
            start_ms + between(&mut rng, 1, 2_000)
        } else {
            0
        };
        sessions.push(Session {
            client,
            server,
            start_ms,
            simultaneous,
            listen_at_ms,
            connections,
            concurrency,
            gap_ms: pick(&mut rng, &[0, 1, 50, 500]),
            client_role,
            server_role,
            relisten_ms: None,
            reconnect_ms: None,
        });
    }
    // Drawn from a stream of their own, so every other choice is as before.
    let mut late = sim::rng::stream(seed, "generate-relisten");
    for s in sessions.iter_mut().filter(|s| s.simultaneous) {
        let after = pick(&mut late, &[0, 1, 20, 200, 1_000]);
        match below(&mut late, 3) {
            0 => s.relisten_ms = Some(after),
            1 => s.reconnect_ms = Some(after),
            _ => {}
        }
    }
    let mut workload = Workload {
        shape,
        hosts,
        links,
        bottleneck,
        sessions,
        faults_stop_ms,
        horizon_ms: 0,
    };
    workload.horizon_ms = workload.last_call_ms() + SETTLE_MS;
    workload
}

impl Workload {
    /// An upper bound on the time of the last planned call: every session's
    /// connections, one after another, each as long as its longest role,
    /// plus the SYN retries a connection may need (127 s on Linux's
    /// defaults) and the gaps.
    pub fn last_call_ms(&self) -> u64 {
        let syn_retries_ms = 130_000;
        self.sessions
            .iter()
            .map(|s| {
                let role_ms = [&s.client_role, &s.server_role]
                    .iter()
                    .map(|r| r.steps.last().map_or(0, |st| st.at_ms))
                    .max()
                    .unwrap_or(0);
                let rounds = u64::from(s.connections.div_ceil(s.concurrency.max(1)));
                s.start_ms.max(s.listen_at_ms)
                    + rounds * (role_ms + syn_retries_ms + s.gap_ms + 2 * syn_retries_ms)
            })
            .max()
            .unwrap_or(0)
            .max(self.faults_stop_ms)
    }

    /// Whether the plan is one the applications can run: host indices in
    /// range, a session between two different hosts, every role ending
    /// with a close or an abort, steps in time order.
    pub fn check(&self) -> Result<(), String> {
        let n = self.hosts.len();
        if n < 2 || self.links.len() != n {
            return Err(format!("{n} hosts and {} links", self.links.len()));
        }
        match self.shape {
            Shape::PointToPoint if n != 2 => {
                return Err("a point-to-point link joins exactly 2 hosts".into());
            }
            Shape::Dumbbell { left } if left == 0 || left >= n || self.bottleneck.is_none() => {
                return Err(format!("a dumbbell of {n} hosts with {left} on the left"));
            }
            _ => {}
        }
        for (i, s) in self.sessions.iter().enumerate() {
            if s.client >= n || s.server >= n || s.client == s.server {
                return Err(format!(
                    "session {i}: client {} and server {} of {n} hosts",
                    s.client, s.server
                ));
            }
            if s.connections == 0 || s.concurrency == 0 {
                return Err(format!("session {i}: no connections"));
            }
            for (side, r) in [("client", &s.client_role), ("server", &s.server_role)] {
                if !r.ends() {
                    return Err(format!("session {i}: the {side} never closes"));
                }
                if r.steps.windows(2).any(|w| w[0].at_ms > w[1].at_ms) {
                    return Err(format!("session {i}: the {side}'s steps are out of order"));
                }
            }
        }
        Ok(())
    }

    /// Builds the world for `seed` (the seed keys the ISN secrets and the
    /// links' random streams; the workload decides everything else).
    pub fn setup(&self, seed: u64) -> Result<Setup, SimError> {
        if let Err(reason) = self.check() {
            return Err(SimError::InvalidFault {
                rule: "generated workload".into(),
                reason,
            });
        }
        let plan = Arc::new(self.clone());
        let mut world = World::new(WorldConfig {
            event_budget: EVENT_BUDGET,
            ..WorldConfig::new(seed)
        });
        let places: Vec<Place> = (0..self.hosts.len())
            .map(|i| {
                let name = host_name(i);
                let host = crate::host::Host::new(
                    &name,
                    host_addr(i),
                    secret(seed, &name),
                    self.hosts[i].config(),
                )
                .app(RandomPeer::new(plan.clone(), i));
                Place::new(name, host_addr(i), host)
            })
            .collect();
        let cfg = |l: &LinkPlan| link_config(l);
        let (nodes, directions): (Vec<sim::NodeId>, Vec<(LinkId, LinkId)>) = match self.shape {
            Shape::PointToPoint => {
                let mut it = places.into_iter();
                let (a, b) = (it.next(), it.next());
                let (Some(a), Some(b)) = (a, b) else {
                    unreachable!("check() found two hosts");
                };
                let p = topology::point_to_point(
                    &mut world,
                    a,
                    b,
                    cfg(&self.links[0].0),
                    cfg(&self.links[1].0),
                )?;
                // One link: host 0's plan is a to b, host 1's is b to a.
                (vec![p.a, p.b], vec![(p.a_to_b, p.b_to_a)])
            }
            Shape::Star => {
                let mut b = StarBuilder::new(LinkConfig::default());
                for (place, (up, down)) in places.into_iter().zip(&self.links) {
                    b = b.leaf_with(
                        place,
                        Spoke {
                            up: cfg(up),
                            down: cfg(down),
                        },
                    );
                }
                let star = b.build(&mut world)?;
                (star.leaves, star.spokes)
            }
            Shape::Dumbbell { left } => {
                let (lr, rl) = self
                    .bottleneck
                    .as_ref()
                    .expect("check() found a bottleneck");
                let mut b = DumbbellBuilder::new(LinkConfig::default(), cfg(lr), cfg(rl));
                for (i, (place, (up, down))) in places.into_iter().zip(&self.links).enumerate() {
                    let spoke = Spoke {
                        up: cfg(up),
                        down: cfg(down),
                    };
                    b = if i < left {
                        b.sender_with(place, spoke)
                    } else {
                        b.receiver_with(place, spoke)
                    };
                }
                let d = b.build(&mut world)?;
                let nodes = d.senders.iter().chain(&d.receivers).copied().collect();
                let mut access = d.sender_access.clone();
                access.extend(&d.receiver_access);
                access.push(d.bottleneck);
                (nodes, access)
            }
        };
        // Loss stops with the faults (partitions already end before then).
        let stop = Time::from_millis(self.faults_stop_ms);
        let mut plans: Vec<&LinkPlan> = Vec::new();
        match self.shape {
            Shape::PointToPoint => plans.extend([&self.links[0].0, &self.links[1].0]),
            _ => {
                for (up, down) in &self.links {
                    plans.extend([up, down]);
                }
                if let Some((lr, rl)) = &self.bottleneck {
                    plans.extend([lr, rl]);
                }
            }
        }
        let ids: Vec<LinkId> = directions.iter().flat_map(|&(a, b)| [a, b]).collect();
        for (id, plan) in ids.into_iter().zip(plans) {
            if plan.loss > 0.0 {
                world.change_link_at(stop, id, LinkChange::SetLoss { loss: 0.0 })?;
            }
        }
        Ok(Setup {
            world,
            hosts: nodes.into_iter().map(Into::into).collect(),
            horizon: Time::from_millis(self.horizon_ms),
            open_at_end: false,
        })
    }
}

fn secret(seed: u64, name: &str) -> [u8; 16] {
    let mut rng = sim::rng::stream(seed, &format!("isn-secret:{name}"));
    let mut key = [0u8; 16];
    rng.fill_bytes(&mut key);
    key
}

fn link_config(plan: &LinkPlan) -> LinkConfig {
    let mut c = LinkConfig::new(plan.rate_bps, Duration::from_micros(plan.delay_us))
        .with_queue_packets(plan.queue_packets_max)
        .with_loss(plan.loss)
        .with_duplicate(plan.duplicate);
    if let Some((probability, extra_us)) = plan.reorder {
        c = c.with_reorder(Reorder {
            probability,
            extra_delay: Duration::from_micros(extra_us),
        });
    }
    if let Some(max_us) = plan.jitter_us {
        c = c.with_jitter(Jitter::Uniform {
            min: Duration::ZERO,
            max: Duration::from_micros(max_us),
        });
    }
    if plan.corrupt > 0.0 {
        // One bit per packet: the Internet checksum catches every
        // single-bit error, so corruption acts as loss. More bits could
        // cancel out (RFC 1071), which no TCP can detect.
        c = c.with_corruption(Corruption {
            probability: plan.corrupt,
            bits: 1,
        });
    }
    if let Some((start, length)) = plan.partition {
        c = c.with_down(Time::from_millis(start), Time::from_millis(start + length));
    }
    c
}

/// The generated family as a scenario: each seed draws its own workload
/// from `params`, and the run is checked by the four oracles plus this
/// module's (content, eof-complete, workload).
pub fn scenario(params: Params) -> Scenario {
    let params = Arc::new(params);
    let build = {
        let params = params.clone();
        move |seed: u64| {
            if let Err(reason) = params.check() {
                return Err(SimError::InvalidFault {
                    rule: "generator parameters".into(),
                    reason,
                });
            }
            generate(&params, seed).setup(seed)
        }
    };
    Scenario::new(NAME, build)
        .summary("generated workload: 2-4 hosts, random topology and socket calls (a sweep family)")
        .doc(
            "Random but legal socket calls at random times over random links: bulk both ways, \
             short connections, simultaneous open (RFC 9293 §3.5), shutdown, close and abort at \
             any moment, paused readers, keepalive. Checked by every oracle plus content, \
             eof-complete and workload.",
        )
        .oracle(check_eof_complete)
        .oracle(check_workload)
}

/// The name under which capsules store a generated workload itself
/// (`[scenario.generated] family = "random"`, the [`Workload`] as its
/// `params`), so a capsule replays without the generator and a shrinker
/// can cut the workload down.
pub const FAMILY: &str = NAME;

impl Workload {
    /// The workload as a TOML table, for a capsule's `params`.
    pub fn to_table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("a workload is plain data")
    }

    /// A workload from a capsule's `params` table; `Err` says what is wrong
    /// with it (a missing or mistyped field, or a plan [`Workload::check`]
    /// rejects).
    pub fn from_table(table: &toml::Table) -> Result<Workload, String> {
        let workload: Workload = table
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("not a random workload: {}", e.message()))?;
        workload.check()?;
        Ok(workload)
    }

    /// This exact workload as a scenario named `random`, checked by the same
    /// oracles as the catalogue entry: at seed `s` it runs as `tcpsim run
    /// random --seed s` does when `s` drew this workload.
    pub fn scenario(self) -> Scenario {
        let workload = Arc::new(self);
        Scenario::new(NAME, move |seed: u64| workload.setup(seed))
            .summary("a generated workload, as stored in a capsule")
            .oracle(check_eof_complete)
            .oracle(check_workload)
    }

    /// Workloads one edit simpler than this one, simplest first: a session
    /// removed, one connection instead of many, a bulk transfer removed or
    /// halved, a timed call removed (never a role's final close or abort),
    /// a link's partition removed. A shrinker tries them in order.
    pub fn simpler(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        let mut push = |w: Workload| {
            if w.check().is_ok() {
                out.push(w);
            }
        };
        if self.sessions.len() > 1 {
            for i in 0..self.sessions.len() {
                let mut w = self.clone();
                w.sessions.remove(i);
                push(w);
            }
        }
        for i in 0..self.sessions.len() {
            let s = &self.sessions[i];
            if s.connections > 1 {
                let mut w = self.clone();
                w.sessions[i].connections = 1;
                w.sessions[i].concurrency = 1;
                push(w);
                let mut w = self.clone();
                w.sessions[i].connections = s.connections / 2;
                w.sessions[i].concurrency = s.concurrency.min(s.connections / 2).max(1);
                push(w);
            }
            for client in [true, false] {
                fn role(w: &mut Workload, i: usize, client: bool) -> &mut Role {
                    let s = &mut w.sessions[i];
                    if client {
                        &mut s.client_role
                    } else {
                        &mut s.server_role
                    }
                }
                let (bulk, steps) = {
                    let s = &self.sessions[i];
                    let r = if client {
                        &s.client_role
                    } else {
                        &s.server_role
                    };
                    (r.bulk_bytes, r.steps.len())
                };
                if bulk > 0 {
                    let mut w = self.clone();
                    role(&mut w, i, client).bulk_bytes = 0;
                    push(w);
                    if bulk > 2_000 {
                        let mut w = self.clone();
                        role(&mut w, i, client).bulk_bytes = bulk / 2;
                        push(w);
                    }
                }
                for j in 0..steps.saturating_sub(1) {
                    let mut w = self.clone();
                    role(&mut w, i, client).steps.remove(j);
                    push(w);
                }
            }
        }
        for i in 0..self.links.len() {
            for up in [true, false] {
                let mut w = self.clone();
                let link = if up {
                    &mut w.links[i].0
                } else {
                    &mut w.links[i].1
                };
                if link.partition.take().is_some() {
                    push(w);
                }
            }
        }
        out
    }
}

/// `eof-complete`: whoever read the peer's FIN read all the peer wrote.
/// A 4-tuple used by more than one connection is skipped (which writer a
/// reader's bytes came from is then the delivery oracle's question).
pub fn check_eof_complete(outcome: &Outcome) -> Vec<Violation> {
    let mut by_tuple: BTreeMap<(SocketAddrV4, SocketAddrV4), Vec<(usize, usize)>> = BTreeMap::new();
    for h in 0..outcome.host_count() {
        for (i, s) in outcome.streams(h).iter().enumerate() {
            if let (Some(l), Some(r)) = (s.local, s.remote) {
                by_tuple.entry((l, r)).or_default().push((h, i));
            }
        }
    }
    let mut out = Vec::new();
    for (&(local, remote), readers) in &by_tuple {
        let [(h, i)] = readers.as_slice() else {
            continue;
        };
        let reader = &outcome.streams(*h)[*i];
        if !reader.eof {
            continue;
        }
        let Some([(wh, wi)]) = by_tuple.get(&(remote, local)).map(|v| v.as_slice()) else {
            continue;
        };
        let writer = &outcome.streams(*wh)[*wi];
        if reader.read.len != writer.written.len {
            out.push(Violation {
                oracle: "eof-complete",
                detail: format!(
                    "{} read the FIN from {remote} after {} bytes, but {} wrote {}",
                    outcome.host(*h).name,
                    reader.read.len,
                    outcome.host(*wh).name,
                    writer.written.len
                ),
            });
        }
    }
    out
}

/// `workload`: the applications did all they planned. Every connection
/// was ended by its application or by TCP, and every session opened all
/// its connections. A failure here is a generator bug or a connection TCP
/// never reported as ended.
pub fn check_workload(outcome: &Outcome) -> Vec<Violation> {
    let mut out = Vec::new();
    for h in 0..outcome.host_count() {
        let host = outcome.host(h);
        let Some(peer) = host.application::<RandomPeer>() else {
            continue;
        };
        for problem in peer.unfinished() {
            out.push(Violation {
                oracle: "workload",
                detail: format!("{}: {problem}", host.name),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_workload_and_others_differ() {
        // The workload is the seed's alone: drawn twice it is equal, and a
        // handful of seeds give different ones (or the family would be one case).
        let p = Params::default();
        assert_eq!(generate(&p, 5), generate(&p, 5));
        let distinct: std::collections::BTreeSet<String> =
            (0..20).map(|s| format!("{:?}", generate(&p, s))).collect();
        assert_eq!(distinct.len(), 20);
    }

    #[test]
    fn every_drawn_workload_is_well_formed() {
        // check() is what setup() refuses to build; the generator itself
        // must never draw such a plan, whatever the seed.
        let p = Params::default();
        for seed in 0..2_000 {
            let w = generate(&p, seed);
            assert_eq!(w.check(), Ok(()), "seed {seed}: {w:?}");
            assert!((2..=4).contains(&w.hosts.len()));
        }
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        // A capsule with parameters the generator cannot honour must say
        // which field, not draw something else.
        let p = Params {
            hosts_min: 1,
            ..Params::default()
        };
        assert!(p.check().unwrap_err().contains("hosts_min"));
        let p = Params {
            sessions_max: 0,
            ..Params::default()
        };
        assert!(p.check().unwrap_err().contains("sessions_max"));
        assert!(scenario(p).run(1).is_err());
    }

    #[test]
    fn parameters_round_trip_through_json_with_defaults_for_missing_fields() {
        // A capsule stores the parameters; one that names only a field or
        // two gets the defaults for the rest, and unknown fields are errors.
        let p: Params = serde_json::from_str(r#"{"hosts_max": 3}"#).unwrap();
        assert_eq!(
            p,
            Params {
                hosts_max: 3,
                ..Params::default()
            }
        );
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Params>(&text).unwrap(), p);
        assert!(serde_json::from_str::<Params>(r#"{"hosts": 3}"#).is_err());
    }
}
