//! RACK-TLP (RFC 8985): loss detection by time, and the tail loss probe,
//! as Linux implements them (net/ipv4/tcp_recovery.c `tcp_rack_*`,
//! tcp_input.c, tcp_output.c `tcp_schedule_loss_probe` and
//! `tcp_send_loss_probe`). On when `TcpConfig::rack` is and both ends
//! permit SACK; it then replaces RFC 6675's loss marking (IsLost) and
//! its retransmission choice (NextSeg) with Linux's: the segments RACK
//! marked lost are resent first, then new data, within the window (PRR's
//! when `TcpConfig::prr` is on, see `prr.rs`).
//!
//! The sender keeps one record per segment sent ([`Sent`], Linux's skb in
//! the retransmission queue): its sequence range, when it was last sent,
//! whether it was ever retransmitted, whether that retransmission is still
//! outstanding, and whether it is SACKed or marked lost.
//!
//! - RFC 8985 §6.1-6.2: each delivered (ACKed or SACKed) segment updates
//!   RACK.xmit_ts / RACK.end_seq / RACK.rtt (`rack_advance`); a segment
//!   sent before RACK's segment and not delivered within RACK.rtt plus the
//!   reordering window is lost (`rack_detect_loss`); one that still has
//!   time arms the reorder timer.
//! - §6.2 step 4: the reordering window is min_RTT/4 times `reo_wnd_steps`
//!   (at most SRTT), or zero while no reordering was seen and recovery is
//!   running or the duplicate threshold is met; a D-SACK round widens it
//!   by one step for 16 recoveries (Linux's tcp_rack_update_reo_wnd).
//! - Linux's `tcpi_reordering` and `tcpi_reord_seen`: a segment delivered
//!   below the highest SACKed one, never retransmitted, is reordering
//!   (tcp_check_sack_reordering).
//! - §7: the probe timeout (PTO) is 2·SRTT, plus the minimum RTO with one
//!   segment in flight (the peer's delayed ACK) or 2 ms otherwise, at most
//!   the time left to the RTO; it sends new data if the window allows, or
//!   resends the last segment. §7.4: the episode ends when the ACK passes
//!   TLP's high-water mark; a D-SACK of the probe or a bare duplicate ACK
//!   show no loss; otherwise the tail loss it repaired reduces the window.
//!
//! The retransmission timer's slot carries the reorder timer and the PTO
//! too ([`XmitTimer`]), as Linux's icsk_pending does: arming one replaces
//! the others.
//!
//! Read before changing: RFC 8985 §3-§9, RFC 6675 §5, RFC 6298 §5, RFC
//! 2883, Linux net/ipv4/tcp_recovery.c.

use super::recovery::Phase;
use super::sack::Rxt;
use super::{Connection, Outgoing, Timer};
use crate::cc::AckSample;
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::types::State;
use crate::wire::TcpRepr;
use std::collections::VecDeque;

/// Linux's TCP_RACK_RECOVERY_THRESH: recoveries a widened reordering
/// window lasts.
const REO_WND_PERSIST: u32 = 16;
/// Linux's TCP_TIMEOUT_MIN (2 jiffies at HZ=1000), added to the reorder
/// timeout and to a multi-segment PTO.
const TIMEOUT_MIN: Duration = Duration::from_millis(2);
/// Linux's tcp_max_reordering (300).
const MAX_REORDERING: u32 = 300;
/// Linux's tcp_reordering default: the initial `tcpi_reordering`.
pub(crate) const INITIAL_REORDERING: u32 = 3;

/// What the retransmission timer's slot stands for when it fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum XmitTimer {
    /// RFC 6298 retransmission timeout.
    #[default]
    Rto,
    /// RFC 8985 §6.2 step 5: the reorder timer.
    Reorder,
    /// RFC 8985 §7.2: the probe timeout.
    LossProbe,
}

/// One segment sent: `[start, end)` of sequence space (a FIN counts one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent {
    pub start: SeqNum,
    pub end: SeqNum,
    /// When it was last (re)sent.
    pub xmit: Instant,
    /// Ever retransmitted (Linux TCPCB_EVER_RETRANS).
    pub ever_retrans: bool,
    /// Its last retransmission is outstanding (TCPCB_SACKED_RETRANS).
    pub rtx_out: bool,
    /// Marked lost (TCPCB_LOST).
    pub lost: bool,
    /// SACKed (TCPCB_SACKED_ACKED).
    pub sacked: bool,
}

impl Sent {
    fn len(&self) -> u32 {
        self.end.since(self.start)
    }
    /// Counted in the network (Linux's tcp_packets_in_flight: neither
    /// SACKed nor lost, unless resent since).
    fn in_flight(&self) -> bool {
        !self.sacked && (!self.lost || self.rtx_out)
    }
}

/// `(t1, s1)` was sent after `(t2, s2)` (Linux's tcp_skb_sent_after).
fn sent_after(t1: Instant, t2: Instant, s1: SeqNum, s2: SeqNum) -> bool {
    t1 > t2 || (t1 == t2 && s1.diff(s2) > 0)
}

/// RACK's state (RFC 8985 §5.2) and the TLP episode (§7).
#[derive(Clone, Debug, Default)]
pub(crate) struct Rack {
    /// The segments outstanding, in sequence order.
    pub(crate) sent: VecDeque<Sent>,
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment
    /// delivered so far.
    pub(crate) xmit_ts: Option<Instant>,
    pub(crate) end_seq: SeqNum,
    /// RACK.rtt: the RTT of that segment.
    pub(crate) rtt: Duration,
    /// The smallest RTT measured from a segment sent once.
    pub(crate) min_rtt: Option<Duration>,
    /// RACK's segment moved: look for losses.
    pub(crate) advanced: bool,
    /// Linux's reo_wnd_steps (starts at 1), reo_wnd_persist, dsack_seen.
    pub(crate) reo_wnd_steps: u32,
    pub(crate) reo_wnd_persist: u32,
    pub(crate) dsack_seen: bool,
    /// SND.MAX when the window last widened: D-SACKs before SND.UNA
    /// passes it belong to the same round (RFC 8985 §6.2 step 4).
    pub(crate) dsack_round: Option<SeqNum>,
    /// Linux's tcpi_reordering (segments) and tcpi_reord_seen.
    pub(crate) reordering: u32,
    pub(crate) reord_seen: u32,
    /// The highest SACKed sequence number (Linux's highest_sack end).
    pub(crate) fack: Option<SeqNum>,
    /// What the retransmission timer slot stands for.
    pub(crate) timer: XmitTimer,
    /// RFC 8985 §7.3 TLPRxtOut / TLPHighRxt: the probe's SND.NXT while an
    /// episode runs, and whether the probe was a retransmission.
    pub(crate) tlp_high_seq: Option<SeqNum>,
    pub(crate) tlp_retrans: bool,
    /// The PTO fired: the output path sends the probe.
    pub(crate) tlp_due: bool,
}

impl Rack {
    /// A connection's initial state.
    pub(crate) fn new() -> Rack {
        Rack {
            reo_wnd_steps: 1,
            reordering: INITIAL_REORDERING,
            ..Rack::default()
        }
    }

    /// Index of the first record ending after `seq`.
    fn first_ending_after(&self, seq: SeqNum) -> usize {
        self.sent.partition_point(|s| s.end.diff(seq) <= 0)
    }

    /// Where a SACK edge at `seq` may split the record holding it: Linux
    /// splits an skb only at whole segments from its start
    /// (tcp_match_skb_to_sack), so a SACK of part of a segment SACKs
    /// none of it. `up`: a left edge (round up), else a right edge.
    fn sack_split_point(&self, seq: SeqNum, smss: u32, up: bool) -> Option<SeqNum> {
        let i = self.first_ending_after(seq);
        let s = self.sent.get(i)?;
        if s.start.diff(seq) >= 0 {
            return None;
        }
        let into = seq.since(s.start);
        let smss = smss.max(1);
        let k = if up { into.div_ceil(smss) } else { into / smss };
        let at = s.start + k * smss;
        (at.diff(s.start) > 0 && at.diff(s.end) < 0).then_some(at)
    }

    /// Splits the record containing `seq` strictly inside it in two.
    fn split_at(&mut self, seq: SeqNum) {
        let i = self.first_ending_after(seq);
        if let Some(&s) = self.sent.get(i)
            && s.start.diff(seq) < 0
            && s.end.diff(seq) > 0
        {
            self.sent[i].end = seq;
            self.sent.insert(i + 1, Sent { start: seq, ..s });
        }
    }
}

/// What one ACK delivered, for the controller, PRR and undo.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Delivered {
    /// Octets newly ACKed or SACKed.
    pub bytes: u32,
    /// Newly SACKed octets.
    pub sacked: u32,
}

impl Connection {
    /// RACK-TLP runs on this connection.
    pub(crate) fn rack_enabled(&self) -> bool {
        self.config.rack && self.sack_permitted
    }

    /// A data (or FIN) segment `[seq, end)` is going out; `snd_max` is
    /// SND.MAX before it. Called from the send path for every segment.
    pub(crate) fn rack_on_sent(&mut self, seq: SeqNum, end: SeqNum, now: Instant) {
        if !self.rack_enabled() || end.diff(seq) <= 0 {
            return;
        }
        let snd_max = self.snd_max;
        if seq.diff(snd_max) < 0 {
            // A retransmission of [seq, min(end, SND.MAX)).
            let top = if end.diff(snd_max) > 0 { snd_max } else { end };
            self.rack.split_at(seq);
            self.rack.split_at(top);
            let mut i = self.rack.first_ending_after(seq);
            let mut resent = 0u32;
            while let Some(s) = self.rack.sent.get_mut(i) {
                if s.start.diff(top) >= 0 {
                    break;
                }
                s.xmit = now;
                s.ever_retrans = true;
                s.rtx_out = true;
                resent += 1;
                i += 1;
            }
            self.undo_note_retransmission(resent, now);
        }
        if end.diff(snd_max) > 0 {
            let start = if seq.diff(snd_max) > 0 { seq } else { snd_max };
            self.rack.sent.push_back(Sent {
                start,
                end,
                xmit: now,
                ever_retrans: false,
                rtx_out: false,
                lost: false,
                sacked: false,
            });
        }
    }

    /// An RTT sample of the connection's estimator (Linux's
    /// tcp_update_rtt_min takes every sample, the handshake's included).
    pub(crate) fn rack_note_rtt(&mut self, rtt: Duration) {
        if rtt > Duration::ZERO {
            self.rack.min_rtt = Some(self.rack.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
    }

    /// RFC 8985 §6.2 steps 1-2 (Linux's tcp_rack_advance) for a segment
    /// delivered now.
    fn rack_advance(&mut self, s: &Sent, now: Instant) {
        let rtt = now.saturating_since(s.xmit);
        if s.ever_retrans {
            // A retransmitted segment delivered sooner than min_RTT after
            // its retransmission: the original was delivered, and the
            // retransmission says nothing of the path (§6.2 step 2).
            if self.rack.min_rtt.is_none_or(|m| rtt < m) {
                return;
            }
        } else {
            self.rack.min_rtt = Some(self.rack.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        self.rack.advanced = true;
        self.rack.rtt = rtt;
        match self.rack.xmit_ts {
            Some(t) if !sent_after(s.xmit, t, s.end, self.rack.end_seq) => {}
            _ => {
                self.rack.xmit_ts = Some(s.xmit);
                self.rack.end_seq = s.end;
            }
        }
    }

    /// RFC 8985 §6.2 step 4 (Linux's tcp_rack_reo_wnd).
    fn rack_reo_wnd(&self) -> Duration {
        if self.rack.reord_seen == 0 {
            // No reordering seen: be aggressive in recovery, or once the
            // duplicate threshold is met.
            if self.rec.in_recovery() || self.rec.rto_point.is_some() {
                return Duration::ZERO;
            }
            if self.scoreboard.sacked_segments(self.smss) >= self.rack.reordering {
                return Duration::ZERO;
            }
        }
        let Some(min_rtt) = self.rack.min_rtt else {
            return Duration::ZERO;
        };
        let wnd = Duration::from_nanos(min_rtt.as_nanos() / 4)
            .saturating_mul(u64::from(self.rack.reo_wnd_steps));
        match self.rtt.srtt() {
            Some(srtt) => wnd.min(srtt),
            None => wnd,
        }
    }

    /// RFC 8985 §6.2 step 5 (Linux's tcp_rack_detect_loss): marks lost
    /// every segment sent before RACK's and not delivered within RACK.rtt
    /// plus the reordering window; returns the longest wait left among
    /// the others, and the octets newly marked.
    fn rack_detect_loss(&mut self, now: Instant) -> (Option<Duration>, u32) {
        let Some(rack_ts) = self.rack.xmit_ts else {
            return (None, 0);
        };
        let reo_wnd = self.rack_reo_wnd();
        let deadline_base = self.rack.rtt + reo_wnd;
        let mut wait: Option<Duration> = None;
        let mut marked = 0u32;
        let end_seq = self.rack.end_seq;
        for s in self.rack.sent.iter_mut() {
            if s.sacked || (s.lost && !s.rtx_out) {
                continue;
            }
            if !sent_after(rack_ts, s.xmit, end_seq, s.end) {
                // Segments sent once are in sending order: none after
                // this one was sent before RACK's (see the module docs).
                if !s.ever_retrans {
                    break;
                }
                continue;
            }
            let due = s.xmit + deadline_base;
            if due <= now {
                s.lost = true;
                s.rtx_out = false;
                marked = marked.saturating_add(s.len());
            } else {
                let left = due.saturating_since(now);
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        if marked > 0 {
            self.counters.rack_loss_detections += 1;
        }
        (wait, marked)
    }

    /// Linux's tcp_rack_mark_lost: look for losses if RACK advanced; arm
    /// the reorder timer for the segments that still have time. Returns
    /// whether the timer was armed.
    fn rack_mark_lost(&mut self, now: Instant) -> bool {
        if !self.rack.advanced {
            return false;
        }
        self.rack.advanced = false;
        let (wait, _) = self.rack_detect_loss(now);
        if let Some(w) = wait {
            let at = now + (w + TIMEOUT_MIN).min(self.rtt.rto());
            self.set_timer(Timer::Retransmit, at);
            self.rack.timer = XmitTimer::Reorder;
            return true;
        }
        false
    }

    /// Whether any segment is marked lost and not yet resent.
    fn rack_lost_pending(&self) -> bool {
        self.rack
            .sent
            .iter()
            .any(|s| s.lost && !s.rtx_out && !s.sacked)
    }

    /// Linux's tcp_packets_in_flight, in octets.
    pub(crate) fn rack_pipe(&self) -> u32 {
        self.rack
            .sent
            .iter()
            .filter(|s| s.in_flight())
            .fold(0u32, |sum, s| sum.saturating_add(s.len()))
    }

    /// Linux's tcp_check_sack_reordering: a segment delivered at
    /// `low_seq`, below the highest SACKed octet `fack`, was reordered.
    fn rack_note_reordering(&mut self, low_seq: SeqNum, fack: SeqNum) {
        if low_seq.diff(fack) >= 0 {
            return;
        }
        let metric = fack.since(low_seq);
        let mss = self.smss.max(1);
        if metric > self.rack.reordering.saturating_mul(mss) {
            self.rack.reordering = metric.div_ceil(mss).min(MAX_REORDERING);
        }
        self.rack.reord_seen = self.rack.reord_seen.saturating_add(1);
    }

    /// One ACK on a RACK connection (RFC 8985 §6 and §7.4, in the order
    /// of Linux's tcp_ack): delivery and reordering, D-SACK, the TLP
    /// episode, recovery entry and exit, the window, the timers.
    /// `previous_una` is SND.UNA before the ACK (SND.UNA has moved);
    /// `sample` is set when it moved.
    pub(crate) fn rack_on_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        previous_una: SeqNum,
        now: Instant,
        sample: Option<AckSample>,
    ) {
        let una_advanced = sample.is_some();
        let prior_fack = self.rack.fack.unwrap_or(previous_una);
        let dsack = self.dsack_check(seg, previous_una);
        let mut delivered = Delivered::default();
        let mut reord = self.snd_max;
        // Cumulatively acknowledged segments (tcp_clean_rtx_queue).
        while let Some(&s) = self.rack.sent.front() {
            if s.start.diff(self.snd_una) >= 0 {
                break;
            }
            if s.end.diff(self.snd_una) > 0 {
                // Partly acknowledged: trim it (tcp_trim_head).
                if !s.sacked {
                    delivered.bytes += self.snd_una.since(s.start);
                }
                self.rack.sent[0].start = self.snd_una;
                break;
            }
            self.rack.sent.pop_front();
            if !s.sacked {
                delivered.bytes += s.len();
                if !s.ever_retrans && s.start.diff(reord) < 0 {
                    reord = s.start;
                }
                self.rack_advance(&s, now);
            }
        }
        if self.scoreboard.advance(self.snd_una) {
            self.counters.sack_reneging += 1;
            for s in self.rack.sent.iter_mut() {
                s.sacked = false;
            }
        }
        // SACKed segments (tcp_sacktag_write_queue).
        let newly = self.sack_update(seg);
        if newly > 0 {
            delivered.sacked = self.rack_mark_sacked(prior_fack, &mut reord, now);
            delivered.bytes += delivered.sacked;
        }
        let fack = self.scoreboard.highest().unwrap_or(self.snd_una);
        if reord.diff(prior_fack) < 0 {
            self.rack_note_reordering(reord, prior_fack);
        }
        self.rack.fack = (fack.diff(self.snd_una) > 0).then_some(fack);
        self.rack_update_reo_wnd(dsack.is_some());
        if una_advanced {
            self.rec.dup_acks = 0;
        } else if newly > 0 {
            self.rec.dup_acks += 1;
        }
        if self
            .rec
            .rto_point
            .is_some_and(|point| self.snd_una.diff(point) >= 0)
        {
            self.rec.rto_point = None;
            self.undo_clear();
        }
        if self.rack.tlp_high_seq.is_some() {
            self.tlp_on_ack(seg, una_advanced, newly > 0, dsack, now);
        }
        // Recovery exit (tcp_fastretrans_alert step D).
        let mut exited = false;
        if let Phase::RackRecovery { point } = self.rec.phase
            && self.snd_una.diff(point) >= 0
        {
            self.rack_leave_recovery(seg, now);
            exited = true;
        }
        // Step E: undo on D-SACK, then loss detection and recovery entry.
        if dsack.is_some() {
            self.undo_try_dsack(now);
        }
        let timer_armed = if self.rec.rto_point.is_none() || self.rec.in_recovery() {
            self.rack_mark_lost(now)
        } else {
            // After an RTO, everything unSACKed is lost already and is
            // being resent; RACK still learns from the ACKs.
            self.rack.advanced = false;
            false
        };
        if !self.rec.in_recovery() && self.rec.rto_point.is_none() && self.rack_lost_pending() {
            self.rack_enter_recovery(now);
        }
        // The window: PRR in recovery, growth outside it.
        if self.rec.in_recovery() {
            self.rec.pipe = self.rack_pipe();
            self.prr_on_ack(delivered.bytes, una_advanced, now);
        } else if let Some(sample) = sample
            && sample.bytes_acked > 0
            && !exited
        {
            self.cc.on_ack(now, sample);
        }
        // Timers (tcp_set_xmit_timer unless the reorder timer was armed).
        if self.snd_una == self.snd_max {
            self.clear_timer(Timer::Retransmit);
            self.rack.timer = XmitTimer::Rto;
        } else if !timer_armed && (una_advanced || self.rack.timer != XmitTimer::Rto) {
            let from_head = self.rack.timer != XmitTimer::Rto;
            if !self.tlp_schedule(now, true) {
                self.rack_rearm_rto(now, from_head);
            }
        }
    }

    /// Marks the log's segments the scoreboard now covers as SACKed;
    /// returns the octets newly SACKed and lowers `reord` to the lowest
    /// one sent once below `prior_fack` (tcp_sacktag_one).
    fn rack_mark_sacked(&mut self, prior_fack: SeqNum, reord: &mut SeqNum, now: Instant) -> u32 {
        let mut sacked = 0u32;
        let mut delivered: Vec<Sent> = Vec::new();
        let ranges: Vec<(SeqNum, SeqNum)> = self.scoreboard.ranges_iter().collect();
        for (left, right) in ranges {
            if let Some(at) = self.rack.sack_split_point(left, self.smss, true) {
                self.rack.split_at(at);
            }
            if let Some(at) = self.rack.sack_split_point(right, self.smss, false) {
                self.rack.split_at(at);
            }
            let mut i = self.rack.first_ending_after(left);
            while let Some(s) = self.rack.sent.get_mut(i) {
                if s.start.diff(right) >= 0 {
                    break;
                }
                // Only a record the range covers whole is SACKed.
                if !s.sacked && s.start.diff(left) >= 0 && s.end.diff(right) <= 0 {
                    s.sacked = true;
                    s.lost = false;
                    s.rtx_out = false;
                    sacked = sacked.saturating_add(s.len());
                    if !s.ever_retrans && s.start.diff(prior_fack) < 0 && s.start.diff(*reord) < 0 {
                        *reord = s.start;
                    }
                    delivered.push(*s);
                }
                i += 1;
            }
        }
        for s in &delivered {
            self.rack_advance(s, now);
        }
        sacked
    }

    /// Linux's tcp_rack_update_reo_wnd with RFC 8985's D-SACK round.
    fn rack_update_reo_wnd(&mut self, dsack: bool) {
        if self
            .rack
            .dsack_round
            .is_some_and(|round| self.snd_una.diff(round) >= 0)
        {
            self.rack.dsack_round = None;
        }
        // RACK widens the window only for D-SACKs that reordering may
        // explain (tcp_dsack_seen: reordering seen, not a TLP's).
        if dsack && self.rack.reord_seen > 0 {
            self.rack.dsack_seen = true;
        }
        if self.rack.dsack_seen && self.rack.dsack_round.is_none() {
            self.rack.reo_wnd_steps = (self.rack.reo_wnd_steps + 1).min(0xFF);
            self.rack.dsack_seen = false;
            self.rack.dsack_round = Some(self.snd_max);
            self.rack.reo_wnd_persist = REO_WND_PERSIST;
        } else if self.rack.reo_wnd_persist == 0 {
            self.rack.reo_wnd_steps = 1;
        }
    }

    /// Linux's tcp_enter_recovery for RACK: the window reduction starts
    /// (PRR's bookkeeping, the undo marker), and the lost segments go out.
    fn rack_enter_recovery(&mut self, now: Instant) {
        let prior_cwnd = self.cc.window();
        self.undo_start(prior_cwnd);
        let flight = self.flight_size().min(self.cc.window());
        self.cc.on_congestion_event(now, flight);
        self.prr_start(prior_cwnd);
        tracing::debug!(
            recovery_point = self.snd_max.0,
            cwnd = self.cc.window(),
            "enter RACK loss recovery (RFC 8985)"
        );
        self.rec.phase = Phase::RackRecovery {
            point: self.snd_max,
        };
        self.snd_nxt = self.snd_max;
        self.counters.fast_retransmits += 1;
        self.counters.sack_recoveries += 1;
        self.rtt_timing = None;
        // A TLP episode ends where a recovery starts (tcp_init_cwnd_reduction).
        self.rack.tlp_high_seq = None;
    }

    /// Recovery ends: undo it if it proved spurious, else the window is
    /// ssthresh (tcp_try_undo_recovery, tcp_end_cwnd_reduction).
    fn rack_leave_recovery(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        tracing::debug!(
            snd_una = self.snd_una.0,
            "leave RACK loss recovery (RFC 8985)"
        );
        self.rec.phase = Phase::Open;
        self.rec.dup_acks = 0;
        self.rec.pipe = 0;
        if !self.undo_try_at_recovery_end(seg, now) {
            if self.rack.reo_wnd_persist > 0 {
                self.rack.reo_wnd_persist -= 1;
            }
            let flight = self.flight_size().max(self.cc.window());
            self.cc.on_recovery_exit(now, flight);
            self.undo_clear();
        }
    }

    /// The retransmission timer expired (tcp_timeout_mark_lost): every
    /// segment not SACKed is lost, retransmissions included.
    pub(crate) fn rack_on_rto(&mut self) {
        if !self.rack_enabled() {
            return;
        }
        for s in self.rack.sent.iter_mut() {
            if !s.sacked {
                s.lost = true;
                s.rtx_out = false;
            }
        }
        self.rack.tlp_high_seq = None;
        self.rack.tlp_due = false;
        self.rack.timer = XmitTimer::Rto;
    }

    /// Linux's tcp_rearm_rto: the RTO, counted from the first
    /// outstanding segment's transmission when a PTO or reorder timer
    /// held the slot.
    fn rack_rearm_rto(&mut self, now: Instant, from_head: bool) {
        let rto = self.rtt.rto();
        let at = match (from_head, self.rack.sent.front()) {
            (false, _) | (_, None) => now + rto,
            (true, Some(head)) => {
                let due = head.xmit + rto;
                if due > now {
                    due
                } else {
                    now + Duration::from_micros(1)
                }
            }
        };
        tracing::trace!(at = ?at, from_head, "RTO re-armed");
        self.set_timer(Timer::Retransmit, at);
        self.rack.timer = XmitTimer::Rto;
    }

    /// RFC 8985 §7.2 (Linux's tcp_schedule_loss_probe): arm the PTO for a
    /// connection with data in flight and no recovery running. `advancing`:
    /// an ACK just advanced, so the RTO it would set is a whole RTO away.
    pub(crate) fn tlp_schedule(&mut self, now: Instant, advancing: bool) -> bool {
        if !self.rack_enabled()
            || !self.config.tlp
            || self.snd_una == self.snd_max
            || self.rec.in_recovery()
            || self.rec.rto_point.is_some()
            || self.retries > 0
            || !matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::LastAck
                    | State::Closing
            )
        {
            return false;
        }
        let mut timeout = match self.rtt.srtt() {
            Some(srtt) => {
                // One segment in flight (Linux's packets_out counts a
                // large segment as the MSS-sized pieces it carries).
                let one = self.snd_max.since(self.snd_una) <= self.smss + 1;
                let extra = if one {
                    self.config.rto_min
                } else {
                    TIMEOUT_MIN
                };
                srtt.saturating_mul(2) + extra
            }
            None => Duration::from_secs(1),
        };
        // Linux's tcp_rto_delta_us: the RTO counts from the first
        // outstanding segment's transmission.
        let rto_left = match self.rack.sent.front() {
            Some(head) if !advancing => (head.xmit + self.rtt.rto()).saturating_since(now),
            _ => self.rtt.rto(),
        };
        if rto_left > Duration::ZERO {
            timeout = timeout.min(rto_left);
        }
        self.set_timer(Timer::Retransmit, now + timeout);
        self.rack.timer = XmitTimer::LossProbe;
        tracing::trace!(pto = ?timeout, "probe timeout armed (RFC 8985 §7.2)");
        true
    }

    /// The slot fired as a reorder timer or a PTO (an RTO is the caller's).
    pub(crate) fn rack_on_timer(&mut self, now: Instant, slot: XmitTimer) {
        tracing::trace!(?slot, "RACK timer fired");
        match slot {
            XmitTimer::Rto => {}
            XmitTimer::Reorder => {
                // Linux's tcp_rack_reo_timeout.
                let before = self.rack_pipe();
                let (wait, _) = self.rack_detect_loss(now);
                if self.rack_pipe() != before && !self.rec.in_recovery() {
                    self.rack_enter_recovery(now);
                    self.rec.pipe = self.rack_pipe();
                    self.prr_on_ack(self.smss, false, now);
                } else if self.rec.in_recovery() {
                    self.rec.pipe = self.rack_pipe();
                }
                // Linux re-arms the RTO only (segments still in their
                // window wait for the next ACK or the RTO).
                let _ = wait;
                self.rack_rearm_rto(now, true);
            }
            XmitTimer::LossProbe => {
                // Linux's tcp_send_loss_probe: at most one probe
                // outstanding; the output path sends it.
                self.rack_rearm_rto(now, true);
                if self.rack.tlp_high_seq.is_none() {
                    self.rack.tlp_due = true;
                }
            }
        }
    }

    /// RFC 8985 §7.3: the probe: new data if the window allows, else the
    /// last segment sent again. The RTO restarts from it.
    pub(crate) fn poll_loss_probe(
        &mut self,
        now: Instant,
        payload: &mut Vec<u8>,
    ) -> Option<Outgoing> {
        // `tlp_due` stays set while the probe is built, so sending it
        // does not re-arm the PTO.
        let seg = if let Some(seg) = self.poll_send(now, payload, true, Some(0)) {
            self.rack.tlp_retrans = false;
            Some(seg)
        } else if let Some(last) = self.rack.sent.back().copied() {
            let from = if last.len() > self.smss {
                last.end - self.smss
            } else {
                last.start
            };
            self.segment_at(from, self.snd_max).map(|r| {
                self.rack.tlp_retrans = true;
                let offset = r.seq.since(self.snd_una);
                self.emit_data(r.seq, offset, r.len, r.fin, true, now, payload)
            })
        } else {
            None
        };
        self.rack.tlp_due = false;
        let seg = seg?;
        self.rack.tlp_high_seq = Some(self.snd_max);
        self.counters.tlp_probes += 1;
        tracing::debug!(
            seq = seg.seq.0,
            high = self.snd_max.0,
            "tail loss probe (RFC 8985 §7.3)"
        );
        self.restart_rto(now);
        Some(seg)
    }

    /// RFC 8985 §7.4 (Linux's tcp_process_tlp_ack).
    fn tlp_on_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        una_advanced: bool,
        sacked: bool,
        dsack: Option<(SeqNum, SeqNum)>,
        now: Instant,
    ) {
        let Some(high) = self.rack.tlp_high_seq else {
            return;
        };
        if seg.ack.diff(high) < 0 {
            return;
        }
        let dsack_tlp =
            dsack.is_some_and(|(l, r)| r == high || (l.diff(high) < 0 && r.diff(high) <= 0));
        if !self.rack.tlp_retrans || dsack_tlp {
            // New data probed, or the probe and the original both arrived.
            self.rack.tlp_high_seq = None;
        } else if seg.ack.diff(high) > 0 {
            // The probe repaired a loss: reduce the window once.
            tracing::debug!("tail loss probe repaired a loss: window reduced");
            let flight = self.flight_size().min(self.cc.window());
            self.cc.on_congestion_event(now, flight);
            let flight = self.flight_size().max(self.cc.window());
            self.cc.on_recovery_exit(now, flight);
            self.counters.tlp_recoveries += 1;
            self.rack.tlp_high_seq = None;
        } else if !una_advanced && !sacked && seg.payload.is_empty() {
            // A pure duplicate ACK: both copies arrived.
            self.rack.tlp_high_seq = None;
        }
    }

    /// Output in RACK recovery (Linux's tcp_xmit_retransmit_queue, then
    /// new data): while the window has room, the first segment marked lost
    /// and not resent, else new data.
    pub(crate) fn poll_rack_recovery(
        &mut self,
        now: Instant,
        payload: &mut Vec<u8>,
    ) -> Option<Outgoing> {
        let cwnd = self.recovery_cwnd();
        if cwnd < self.rec.pipe.saturating_add(self.smss) {
            return None;
        }
        if let Some(s) = self
            .rack
            .sent
            .iter()
            .find(|s| s.lost && !s.rtx_out && !s.sacked)
            .copied()
        {
            let r = self.segment_at(s.start, s.end)?;
            return Some(self.rack_retransmit(r, now, payload));
        }
        let pipe = self.rec.pipe;
        let before = self.snd_max;
        let seg = self.poll_send(now, payload, false, Some(pipe))?;
        self.rec.pipe += self.snd_max.diff(before).max(0) as u32;
        Some(seg)
    }

    fn rack_retransmit(&mut self, r: Rxt, now: Instant, payload: &mut Vec<u8>) -> Outgoing {
        self.rec.pipe += r.octets();
        if self
            .rtt_timing
            .is_some_and(|(timed, _)| timed.diff(r.seq) >= 0 && timed.diff(r.end()) < 0)
        {
            self.rtt_timing = None;
        }
        let offset = r.seq.since(self.snd_una);
        self.emit_data(r.seq, offset, r.len, r.fin, true, now, payload)
    }

    /// Whether RACK recovery has a lost segment to resend now.
    pub(crate) fn rack_retransmission_ready(&self) -> bool {
        matches!(self.rec.phase, Phase::RackRecovery { .. })
            && self.recovery_cwnd() >= self.rec.pipe.saturating_add(self.smss)
            && self.rack_lost_pending()
    }
}
