//! Congestion control behind a small trait (RFC 5681 vocabulary).
//!
//! The connection owns loss detection and the recovery procedure (RFC 6582
//! NewReno fast recovery, or RFC 6675 SACK-based recovery); a controller owns
//! only `cwnd` and `ssthresh` and how they react to ACKs and congestion
//! signals. So a new controller (CUBIC, RFC 9438) plugs in without touching
//! the state machine.
//!
//! Read before changing: RFC 5681 §3, RFC 6582 §3.2, RFC 9438 §4.

pub mod cubic;
pub mod newreno;

use crate::time::{Duration, Instant};

/// Which controller a connection runs. NewReno is the default (RFC 5681/6582).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// NewReno: RFC 5681 slow start and congestion avoidance, RFC 6582 recovery.
    #[default]
    NewReno,
    /// CUBIC (RFC 9438), Linux's default.
    Cubic,
}

/// What a controller sees of one ACK that advanced SND.UNA outside recovery.
#[derive(Clone, Copy, Debug)]
pub struct AckSample {
    /// Bytes newly acknowledged by this ACK.
    pub bytes_acked: u32,
    /// Bytes in flight before this ACK was processed (RFC 5681 FlightSize).
    pub flight_size: u32,
    /// An RTT sample taken from this ACK, if Karn's rule allowed one.
    pub rtt: Option<Duration>,
    /// The connection's smoothed RTT after this ACK, if any sample exists yet.
    pub srtt: Option<Duration>,
    /// Linux's growth rules ([`crate::TcpConfig::linux_slow_start`]), or
    /// `None` for RFC 5681's.
    pub linux: Option<LinuxGrowth>,
}

/// What Linux's cwnd growth reads of one ACK (tcp_cong_avoid's `acked`
/// and tcp_is_cwnd_limited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxGrowth {
    /// Segments newly delivered.
    pub segments_acked: u32,
    /// The sender was limited by cwnd (RFC 7661's "cwnd-limited"): if
    /// not, cwnd does not grow.
    pub cwnd_limited: bool,
}

/// Linux's tcp_slow_start: cwnd grows by the segments acknowledged, up to
/// ssthresh (RFC 5681 eq. 2 without RFC 3465's per-ACK limit). Returns
/// the new cwnd and the octets of the ACK left for congestion avoidance.
pub fn linux_slow_start(cwnd: u32, ssthresh: u32, smss: u32, segments: u32) -> (u32, u32) {
    let grown = cwnd
        .saturating_add(segments.saturating_mul(smss))
        .min(ssthresh.max(cwnd));
    let used = (grown - cwnd) / smss.max(1);
    (grown, segments.saturating_sub(used).saturating_mul(smss))
}

/// Linux's growth rule ahead of a controller's own (tcp_reno_cong_avoid
/// and bictcp_cong_avoid with tcp_slow_start), when `sample` carries it:
/// no growth unless the sender was cwnd-limited; in slow start, `cwnd`
/// grows by every segment acknowledged, up to `ssthresh`. `None`: the ACK
/// is used up. `Some(bytes)`: what is left for the controller's own rule.
/// Without Linux's rule, all of `sample.bytes_acked`.
pub(crate) fn linux_growth(
    cwnd: &mut u32,
    ssthresh: u32,
    smss: u32,
    sample: &AckSample,
) -> Option<u32> {
    let Some(g) = sample.linux else {
        return Some(sample.bytes_acked);
    };
    if !g.cwnd_limited {
        return None;
    }
    if *cwnd >= ssthresh {
        return Some(sample.bytes_acked);
    }
    let (grown, left) = linux_slow_start(*cwnd, ssthresh, smss, g.segments_acked);
    *cwnd = grown;
    (left > 0).then_some(left)
}

/// A congestion controller: the state RFC 5681 calls `cwnd` and `ssthresh`.
pub trait CongestionControl: core::fmt::Debug {
    /// A short name for traces and counters ("newreno", "cubic").
    fn name(&self) -> &'static str;
    /// The congestion window in bytes.
    fn window(&self) -> u32;
    /// The slow start threshold in bytes.
    fn ssthresh(&self) -> u32;
    /// An ACK advanced SND.UNA outside loss recovery: grow the window
    /// (slow start or congestion avoidance).
    fn on_ack(&mut self, now: Instant, sample: AckSample);
    /// Loss detected by duplicate ACKs or SACK (entering fast recovery):
    /// set `ssthresh` (RFC 5681 eq. 4 for NewReno; beta_cubic for CUBIC) and
    /// set `cwnd` to the value recovery starts from.
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32);
    /// Fast recovery ended (the recovery point was cumulatively acknowledged):
    /// RFC 6582 §3.2 step 3 "full acknowledgment" deflates cwnd to
    /// `min(ssthresh, FlightSize + SMSS)` or `ssthresh`.
    fn on_recovery_exit(&mut self, now: Instant, flight_size: u32);
    /// The retransmission timer expired: RFC 5681 §3.1 eq. 4 for ssthresh and
    /// cwnd = loss window (1 SMSS).
    fn on_rto(&mut self, now: Instant, flight_size: u32);
    /// The last reduction proved spurious (D-SACKs or timestamps showed the
    /// retransmissions unneeded, RFC 3708): restore the window to at least
    /// `prior_cwnd` and ssthresh to at least `prior_ssthresh` (Linux's
    /// tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd, which CUBIC uses).
    fn undo_reduction(&mut self, now: Instant, prior_cwnd: u32, prior_ssthresh: u32);
    /// The connection has been idle for longer than an RTO (RFC 5681 §4.1):
    /// restart from the restart window.
    fn on_idle_restart(&mut self, now: Instant);
    /// The sender's MSS changed (for example when the handshake completes).
    fn set_mss(&mut self, smss: u32);
}

/// RFC 5681 §3.1 eq. 3 (as updated by RFC 3390): the initial window.
/// Linux uses 10 segments (RFC 6928); we follow Linux.
pub fn initial_window(smss: u32) -> u32 {
    10 * smss
}
