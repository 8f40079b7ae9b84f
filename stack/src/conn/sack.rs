//! Selective acknowledgment: what the receiver reports (RFC 2018 §4) and
//! SACK-based loss recovery at the sender (RFC 6675).
//!
//! Receiver: [`SackReport`] remembers the blocks most recently reported,
//! the most recent first, so an ACK's first block is the one holding the
//! segment that triggered it.
//!
//! Sender: [`Scoreboard`] is what the peer has selectively acknowledged
//! above SND.UNA (RFC 6675 §3). The `Connection` methods below are RFC 6675
//! §4's routines (Update, IsLost, SetPipe, NextSeg) and §5's steps; the
//! input and output paths call them only when SACK was negotiated, so a
//! connection without SACK runs RFC 6582 NewReno untouched.
//!
//! Sequence ranges are half-open `[left, right)` throughout. The RFC's
//! HighACK, HighRxt and RecoveryPoint name the last octet of a range; here
//! `high_rxt` and `recovery` hold the octet after it (HighRxt + 1,
//! RecoveryPoint + 1 = HighData + 1 = SND.MAX), and HighACK + 1 is SND.UNA.
//!
//! Read before changing: RFC 2018 §3-4 and §8, RFC 6675 §2-5, RFC 5681 §3.2.

use super::recovery::Phase;
use super::{Connection, Outgoing};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{MAX_SACK_BLOCKS, SackBlock, TcpRepr};

/// RFC 6675 §2: DupThresh, the number of duplicate ACKs (or SACKed
/// segments) that signal a loss.
pub(crate) const DUP_THRESH: u32 = 3;

/// Most distinct SACKed ranges the scoreboard holds. A receiver with more
/// holes than this in one window is not realistic; a hostile one cannot make
/// the scoreboard grow beyond it. When full, the highest range gives way
/// (forgetting a SACK only makes the sender more conservative).
pub(crate) const SCOREBOARD_MAX_RANGES: usize = 256;

/// The receiver's memory of the SACK blocks it reported, most recent first,
/// as stream offsets (RFC 2018 §4).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SackReport {
    blocks: [(u64, u64); MAX_SACK_BLOCKS],
    len: usize,
}

impl SackReport {
    /// An out-of-order segment landed in `block` (the whole contiguous block
    /// around it, after merging): it goes first; blocks it absorbed go away.
    pub(crate) fn record(&mut self, block: (u64, u64)) {
        let mut kept = [(0, 0); MAX_SACK_BLOCKS];
        kept[0] = block;
        let mut n = 1;
        for &b in &self.blocks[..self.len] {
            if n == MAX_SACK_BLOCKS {
                break;
            }
            if b.1 < block.0 || b.0 > block.1 {
                kept[n] = b;
                n += 1;
            }
        }
        self.blocks = kept;
        self.len = n;
    }

    /// RCV.NXT moved to stream offset `rcv_offset`: delivered blocks are gone.
    pub(crate) fn delivered(&mut self, rcv_offset: u64) {
        let mut n = 0;
        for i in 0..self.len {
            if self.blocks[i].1 > rcv_offset {
                self.blocks[n] = self.blocks[i];
                n += 1;
            }
        }
        self.len = n;
    }

    pub(crate) fn blocks(&self) -> &[(u64, u64)] {
        &self.blocks[..self.len]
    }
}

/// The sender's scoreboard (RFC 6675 §3): SACKed ranges strictly above
/// SND.UNA and at most SND.MAX, sorted, disjoint and not touching. The
/// vector keeps its capacity, so steady-state updates allocate nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scoreboard {
    ranges: Vec<(SeqNum, SeqNum)>,
}

/// Whether a SACK block may be recorded.
fn block_is_valid(block: &SackBlock, una: SeqNum, max: SeqNum) -> bool {
    // RFC 2018 §4 / RFC 6675 §5: SACK information is about data above the
    // cumulative ACK that was actually sent: SND.UNA < left < right <=
    // SND.MAX. A block starting at SND.UNA contradicts the cumulative ACK
    // itself (Linux's tcp_is_sackblock_valid rejects it too); D-SACK blocks
    // (RFC 2883) lie below SND.UNA and are ignored here.
    let left = block.left.diff(una);
    let right = block.right.diff(una);
    let top = max.diff(una);
    left > 0 && left < right && right <= top
}

impl Scoreboard {
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        &self.ranges
    }

    /// RFC 6675 §4 Update(): records one ACK's SACK blocks. Blocks outside
    /// (SND.UNA, SND.MAX] are ignored; the part of a block beyond
    /// `data_end` (a FIN is not data a receiver can SACK) is trimmed.
    /// Returns (octets newly SACKed, blocks ignored).
    pub(crate) fn update(
        &mut self,
        blocks: &[SackBlock],
        una: SeqNum,
        max: SeqNum,
        data_end: SeqNum,
    ) -> (u32, u64) {
        let mut newly = 0u32;
        let mut ignored = 0u64;
        for block in blocks {
            if !block_is_valid(block, una, max) {
                ignored += 1;
                continue;
            }
            let right = block.right.min(data_end);
            if right.diff(block.left) <= 0 {
                ignored += 1;
                continue;
            }
            newly = newly.saturating_add(self.insert(block.left, right));
        }
        (newly, ignored)
    }

    /// Adds `[left, right)`, merging with what it overlaps or touches;
    /// returns how many of its octets were not SACKed before.
    fn insert(&mut self, left: SeqNum, right: SeqNum) -> u32 {
        if self.ranges.capacity() == 0 {
            self.ranges.reserve(16);
        }
        // First range reaching `left`, and the first one wholly beyond `right`.
        let i = self.ranges.partition_point(|r| r.1.diff(left) < 0);
        let j = i + self.ranges[i..].partition_point(|r| r.0.diff(right) <= 0);
        let mut newly = right.since(left);
        if i == j {
            if self.ranges.len() >= SCOREBOARD_MAX_RANGES {
                if i == self.ranges.len() {
                    return 0;
                }
                self.ranges.pop();
            }
            self.ranges.insert(i, (left, right));
            return newly;
        }
        let (mut lo, mut hi) = (left, right);
        for &(l, r) in &self.ranges[i..j] {
            let overlap = r.min(right).diff(l.max(left));
            if overlap > 0 {
                newly -= overlap as u32;
            }
            lo = lo.min(l);
            hi = hi.max(r);
        }
        self.ranges[i] = (lo, hi);
        self.ranges.drain(i + 1..j);
        newly
    }

    /// SND.UNA advanced: forget what it covers. Returns true if SND.UNA
    /// stopped at or inside a SACKed range: the receiver discarded data it
    /// had SACKed (reneging, RFC 2018 §8), so the whole scoreboard is
    /// dropped, as Linux does when it detects reneging.
    pub(crate) fn advance(&mut self, una: SeqNum) -> bool {
        let covered = self.ranges.partition_point(|r| r.1.diff(una) <= 0);
        self.ranges.drain(..covered);
        if self.ranges.first().is_some_and(|r| r.0.diff(una) <= 0) {
            self.ranges.clear();
            return true;
        }
        false
    }

    /// SACKed octets in `[from, to)`.
    pub(crate) fn sacked_between(&self, from: SeqNum, to: SeqNum) -> u32 {
        let mut sum = 0u32;
        for &(l, r) in &self.ranges {
            if l.diff(to) >= 0 {
                break;
            }
            let overlap = r.min(to).diff(l.max(from));
            if overlap > 0 {
                sum += overlap as u32;
            }
        }
        sum
    }

    /// The SACKed ranges, lowest first.
    pub(crate) fn ranges_iter(&self) -> impl Iterator<Item = (SeqNum, SeqNum)> + '_ {
        self.ranges.iter().copied()
    }

    /// The end of the highest SACKed range.
    pub(crate) fn highest(&self) -> Option<SeqNum> {
        self.ranges.last().map(|r| r.1)
    }

    /// The first octet at or after `seq` that is not SACKed.
    pub(crate) fn first_unsacked_from(&self, seq: SeqNum) -> SeqNum {
        match self.ranges.iter().find(|r| r.1.diff(seq) > 0) {
            Some(&(l, r)) if l.diff(seq) <= 0 => r,
            _ => seq,
        }
    }

    /// The start of the first SACKed range beginning after `seq`.
    pub(crate) fn next_sacked_after(&self, seq: SeqNum) -> Option<SeqNum> {
        self.ranges.iter().find(|r| r.0.diff(seq) > 0).map(|r| r.0)
    }

    /// RFC 6675 §4 IsLost(), as a boundary: every unSACKed octet below the
    /// returned sequence number is lost, none above it. An octet is lost
    /// when DupThresh discontiguous SACKed ranges lie above it, or more than
    /// (DupThresh - 1) * SMSS SACKed octets do. (We keep ranges, not segment
    /// boundaries, so a "discontiguous SACKed sequence" is a range; the byte
    /// rule covers full-sized segments SACKed side by side.) `None`: nothing
    /// is lost.
    pub(crate) fn lost_below(&self, smss: u32) -> Option<SeqNum> {
        let mut count = 0u32;
        let mut bytes = 0u32;
        for &(l, r) in self.ranges.iter().rev() {
            count += 1;
            bytes = bytes.saturating_add(r.since(l));
            if count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss {
                return Some(l);
            }
        }
        None
    }

    /// IsLost(seq) for an octet `seq` that is not SACKed.
    pub(crate) fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        self.lost_below(smss).is_some_and(|l| seq.diff(l) < 0)
    }

    /// SACKed data in segments, as Linux's `sacked_out` counts them: each
    /// range as ceil(length / SMSS). (Linux counts each SACKed skb as
    /// ceil(length / MSS) segments; we keep ranges, so several short
    /// segments SACKed side by side count as one.)
    pub(crate) fn sacked_segments(&self, smss: u32) -> u32 {
        let smss = smss.max(1);
        self.ranges
            .iter()
            .map(|&(l, r)| r.since(l).div_ceil(smss))
            .sum()
    }

    /// The unSACKed data of `[una, until)` in segments, each hole counted
    /// as ceil(length / SMSS).
    pub(crate) fn hole_segments(&self, una: SeqNum, until: SeqNum, smss: u32) -> u32 {
        let smss = smss.max(1);
        let mut count = 0u32;
        let mut from = una;
        for &(l, r) in &self.ranges {
            if l.diff(until) >= 0 {
                break;
            }
            if l.diff(from) > 0 {
                count += l.since(from).div_ceil(smss);
            }
            from = r;
        }
        if until.diff(from) > 0 {
            count += until.since(from).div_ceil(smss);
        }
        count
    }

    /// The highest unSACKed stretch of `[una, max)`, as `[start, end)`.
    pub(crate) fn highest_hole(&self, una: SeqNum, max: SeqNum) -> Option<(SeqNum, SeqNum)> {
        let n = self.ranges.len();
        let (start, end) = match self.ranges.last() {
            None => (una, max),
            Some(&(_, r)) if r.diff(max) < 0 => (r, max),
            Some(&(l, _)) => {
                let below = if n >= 2 { self.ranges[n - 2].1 } else { una };
                (below, l)
            }
        };
        (end.diff(start) > 0).then_some((start, end))
    }
}

/// One segment to (re)send out of the sequence space already sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rxt {
    pub seq: SeqNum,
    /// Data octets.
    pub len: u32,
    pub fin: bool,
}

impl Rxt {
    /// Sequence space it covers (the FIN counts one).
    pub(crate) fn octets(&self) -> u32 {
        self.len + u32::from(self.fin)
    }
    pub(crate) fn end(&self) -> SeqNum {
        self.seq + self.octets()
    }
}

impl Connection {
    /// Sequence number just after the last data octet queued (the FIN's,
    /// once one is sent).
    pub(crate) fn data_end(&self) -> SeqNum {
        let first_data = if self.snd_una == self.iss {
            self.iss + 1
        } else {
            self.snd_una
        };
        first_data + self.send_buffer.len() as u32
    }

    /// Up to one SMSS starting at `seq`, not past `hole_end`; the FIN rides
    /// along when the hole reaches it.
    pub(crate) fn segment_at(&self, seq: SeqNum, hole_end: SeqNum) -> Option<Rxt> {
        let data_end = self.data_end();
        let stop = hole_end.min(data_end);
        let len = if stop.diff(seq) > 0 {
            stop.since(seq).min(self.smss)
        } else {
            0
        };
        let fin = self
            .fin_seq
            .is_some_and(|f| f == seq + len && hole_end.diff(f) > 0);
        (len > 0 || fin).then_some(Rxt { seq, len, fin })
    }

    /// RFC 6675 §4 Update() for one ACK; returns the octets newly SACKed.
    pub(crate) fn sack_update(&mut self, seg: &TcpRepr<'_>) -> u32 {
        if seg.options.sack_count == 0 {
            return 0;
        }
        let data_end = self.fin_seq.unwrap_or(self.snd_max);
        let (newly, ignored) =
            self.scoreboard
                .update(seg.options.sack(), self.snd_una, self.snd_max, data_end);
        self.counters.sack_blocks_ignored += ignored;
        if newly > 0 {
            // RFC 6675 §2: an ACK that SACKs new octets is a duplicate
            // acknowledgment, whatever else it does.
            self.counters.duplicate_acks += 1;
        }
        newly
    }

    /// RFC 6675 §4 SetPipe(): octets believed in the network. Each unSACKed
    /// octet in [SND.UNA, SND.MAX) counts once if it is not lost (a) and once
    /// more if it was retransmitted in this recovery, at or below HighRxt (b).
    pub(crate) fn set_pipe(&self) -> u32 {
        let una = self.snd_una;
        let high = self.snd_max;
        let unsacked = |from: SeqNum, to: SeqNum| -> u32 {
            if to.diff(from) <= 0 {
                return 0;
            }
            to.since(from) - self.scoreboard.sacked_between(from, to)
        };
        let lost_below = self
            .scoreboard
            .lost_below(self.smss)
            .unwrap_or(una)
            .max(una);
        let rxt = self.rec.high_rxt.max(una).min(high);
        unsacked(lost_below, high) + unsacked(una, rxt)
    }

    /// NextSeg() rules (1) and (3) (RFC 6675 §4): the first unSACKed octet
    /// S above HighRxt (1.a) and below the highest SACKed octet (1.b);
    /// rule (1) also needs IsLost(S) (1.c), rule (3) does not.
    pub(crate) fn next_hole(&self, lost_only: bool) -> Option<Rxt> {
        let highest = self.scoreboard.highest()?;
        let from = self.rec.high_rxt.max(self.snd_una);
        let start = self.scoreboard.first_unsacked_from(from);
        if start.diff(highest) >= 0 || start.diff(self.snd_max) >= 0 {
            return None;
        }
        if lost_only && !self.scoreboard.is_lost(start, self.smss) {
            return None;
        }
        let hole_end = self
            .scoreboard
            .next_sacked_after(start)
            .unwrap_or(self.snd_max);
        self.segment_at(start, hole_end)
    }

    /// NextSeg() rule (4), the rescue retransmission (RFC 6675 §4): once per
    /// recovery, after HighACK has passed RescueRxt, one segment that ends
    /// with the highest outstanding unSACKed octet.
    ///
    /// The rule is a SHOULD; we take it only when that octet is above
    /// HighRxt, i.e. not yet retransmitted in this recovery. That is the
    /// case it exists for -- a lost tail with nothing SACKed above it, which
    /// rules (1) and (3) cannot reach (hence "HighRxt MUST NOT be updated":
    /// the octets between HighRxt and the rescue stay open to rule 3).
    /// When the highest hole was already resent, a rescue would only send
    /// it a second time (FreeBSD likewise rescues only a tail).
    pub(crate) fn rescue_segment(&self) -> Option<Rxt> {
        self.rec.point()?;
        if self
            .rec
            .rescue_rxt
            .is_some_and(|rescue| self.snd_una.diff(rescue) <= 0)
        {
            return None;
        }
        let (start, end) = self.scoreboard.highest_hole(self.snd_una, self.snd_max)?;
        if end.diff(self.rec.high_rxt) <= 0 {
            return None;
        }
        let data_stop = end.min(self.data_end());
        let from = if data_stop.diff(start) > self.smss as i32 {
            data_stop - self.smss
        } else {
            start
        };
        self.segment_at(from, end)
    }

    /// RFC 6675 §5 for an ACK that moved SND.UNA (called after the send
    /// buffer and RTT bookkeeping). `sample` feeds the congestion controller
    /// outside recovery.
    pub(crate) fn sack_on_cumulative_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        sample: crate::cc::AckSample,
    ) {
        // Update(): what SND.UNA now covers leaves the scoreboard; a
        // cumulative ACK that stops inside a SACKed range is reneging.
        if self.scoreboard.advance(self.snd_una) {
            self.counters.sack_reneging += 1;
        }
        let newly = self.sack_update(seg);
        // §5: "If the incoming ACK is a cumulative acknowledgment, the TCP
        // MUST reset DupAcks to zero."
        self.rec.dup_acks = 0;
        // §5.1: after an RTO no new recovery starts until HighACK reaches
        // the RecoveryPoint recorded then.
        if self
            .rec
            .rto_point
            .is_some_and(|point| self.snd_una.diff(point) >= 0)
        {
            self.rec.rto_point = None;
        }
        if let Some(point) = self.rec.point() {
            if self.snd_una.diff(point) >= 0 {
                // (A): the cumulative ACK covers RecoveryPoint: recovery ends.
                // The scoreboard above SND.UNA is kept ("SHOULD NOT be cleared").
                self.leave_sack_recovery(now);
            } else {
                // (B.1) done above; (B.2) SetPipe. RFC 6298 §5.3: new data
                // was acknowledged, restart the timer.
                self.rec.pipe = self.set_pipe();
                // RFC 6937: what this ACK delivered sets PRR's window.
                self.prr_on_ack(sample.bytes_acked.saturating_add(newly), true, now);
                self.restart_rto(now);
                return;
            }
        } else if sample.bytes_acked > 0 {
            self.cc.on_ack(now, sample);
        }
        if newly > 0 {
            self.sack_duplicate_ack(now);
        }
    }

    /// RFC 6675 §5 for an ACK that did not move SND.UNA.
    pub(crate) fn sack_on_ack_without_progress(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        if self.snd_una == self.snd_max {
            return;
        }
        let newly = self.sack_update(seg);
        if self.rec.in_recovery() {
            // (B.1) Update() done; (B.2) SetPipe.
            self.rec.pipe = self.set_pipe();
            self.prr_on_ack(newly, false, now);
            return;
        }
        if newly > 0 && self.config.prr {
            self.sack_duplicate_ack(now);
            if self.rec.in_recovery() {
                // RFC 6937 §3: the ACK that starts recovery counts too. Its
                // fast retransmission (step 4.3, already in SetPipe's
                // count) is the first segment PRR allows, as in Linux,
                // so PRR sees the pipe without it.
                let pipe = self.rec.pipe;
                let head = if self.rec.retransmit_head {
                    self.smss.min(pipe)
                } else {
                    0
                };
                self.rec.pipe = pipe - head;
                self.prr_on_ack(newly, false, now);
                self.rec.pipe = pipe;
            }
            return;
        }
        if newly > 0 {
            self.sack_duplicate_ack(now);
        }
    }

    /// RFC 6675 §5 steps (1)-(3) for a duplicate ACK outside recovery.
    fn sack_duplicate_ack(&mut self, now: Instant) {
        self.rec.dup_acks += 1;
        // §5.1: not while the RecoveryPoint of an RTO is outstanding.
        let may_recover = self.rec.rto_point.is_none();
        // (1) DupAcks >= DupThresh, or (2) IsLost(HighACK + 1): step (4).
        // Otherwise (3), limited transmit governed by pipe: the output path
        // sends new data while cwnd - pipe >= 1 SMSS (3.2-3.3), pipe being
        // the unSACKed octets in flight, none of them lost (else step (2)
        // would have started recovery). (3.1)'s HighRxt = HighACK only
        // serves that SetPipe; HighRxt itself is left to the next recovery.
        if may_recover
            && (self.rec.dup_acks >= DUP_THRESH || self.scoreboard.is_lost(self.snd_una, self.smss))
        {
            self.enter_sack_recovery(now);
        }
    }

    /// RFC 6675 §5 step (4): fast retransmit and enter loss recovery.
    fn enter_sack_recovery(&mut self, now: Instant) {
        // (4.2) ssthresh = cwnd = FlightSize / 2 through the controller
        // (RFC 5681 eq. 4; CUBIC's beta). RFC 5681 §3.2: segments sent by
        // limited transmit do not count in FlightSize; step (3) sends them
        // as SACKs free room, so they are what FlightSize holds beyond cwnd.
        let flight = self.flight_size().min(self.cc.window());
        let prior_cwnd = self.cc.window();
        self.cc.on_congestion_event(now, flight);
        self.prr_start(prior_cwnd);
        // (4.1) RecoveryPoint = HighData.
        tracing::debug!(
            recovery_point = self.snd_max.0,
            cwnd = self.cc.window(),
            "enter SACK loss recovery (RFC 6675)"
        );
        self.rec.phase = Phase::SackRecovery {
            point: self.snd_max,
        };
        // New data goes from HighData + 1 (NextSeg rule (2)).
        self.snd_nxt = self.snd_max;
        // (4.3) Retransmit the segment at HighACK + 1, and set HighRxt and
        // RescueRxt to its last octet.
        let hole_end = self
            .scoreboard
            .next_sacked_after(self.snd_una)
            .unwrap_or(self.snd_max);
        let first_end = self
            .segment_at(self.snd_una, hole_end)
            .map_or(self.snd_una, |r| r.end());
        self.rec.rescue_rxt = Some(first_end);
        if self.rec.high_rxt.diff(self.snd_una) > 0 {
            // The previous recovery already resent this segment (it was
            // new data then, lost after RecoveryPoint) and that copy is
            // still outstanding: it is not "presumed dropped" again, so it
            // is not resent twice; HighRxt keeps covering it.
        } else {
            self.rec.high_rxt = first_end;
            self.rec.retransmit_head = true;
            self.counters.fast_retransmits += 1;
        }
        // (4.4) SetPipe (which counts the retransmission through HighRxt).
        self.rec.pipe = self.set_pipe();
        self.rtt_timing = None;
        self.counters.sack_recoveries += 1;
        // (4.5) Step (C) runs as the output path polls for segments.
    }

    fn leave_sack_recovery(&mut self, now: Instant) {
        tracing::debug!(
            snd_una = self.snd_una.0,
            "leave SACK loss recovery (RFC 6675)"
        );
        self.rec.phase = Phase::Open;
        self.rec.dup_acks = 0;
        self.rec.retransmit_head = false;
        self.rec.rescue_rxt = None;
        self.rec.pipe = 0;
        self.prr_stop();
        // RFC 6675 sets cwnd = ssthresh on entry (4.2) and leaves it there:
        // sending during recovery was paced by pipe, so there is no inflated
        // window to deflate. The controller is told the flight that window
        // allows, which makes NewReno take RFC 6582 §3.2 step 3's second
        // option (cwnd = ssthresh) rather than cutting to FlightSize + SMSS.
        let flight = self.flight_size().max(self.cc.window());
        self.cc.on_recovery_exit(now, flight);
    }

    /// RFC 6675 §5.1, the retransmission timer expired. Recovery ends and
    /// RecoveryPoint = HighData holds off a new one until it is
    /// acknowledged. The scoreboard is kept: §5.1 allows retaining SACK
    /// information across an RTO when reneging can be detected (we detect
    /// it, see `Scoreboard::advance`), and Linux keeps it
    /// (tcp_timeout_mark_lost forgets SACKs only on reneging). The output
    /// path then resends from SND.UNA, skipping what the receiver holds —
    /// §5.1's "filling in" of the holes.
    pub(crate) fn sack_on_rto(&mut self) {
        self.rec.rto_point = Some(self.snd_max);
        self.rec.high_rxt = self.snd_una;
        self.rec.rescue_rxt = None;
        self.rec.pipe = 0;
        self.rec.retransmit_head = false;
    }

    /// Whether step (C) has a retransmission to send now (new data is
    /// `has_sendable`'s concern).
    pub(crate) fn sack_retransmission_ready(&self) -> bool {
        if matches!(self.rec.phase, Phase::RackRecovery { .. }) {
            return self.rack_retransmission_ready();
        }
        self.rec.in_recovery()
            && self.recovery_cwnd() >= self.rec.pipe.saturating_add(self.smss)
            && (self.next_hole(false).is_some() || self.rescue_segment().is_some())
    }

    /// Output during SACK recovery: step (4.3)'s retransmission, then step
    /// (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() chooses.
    pub(crate) fn poll_sack_recovery(
        &mut self,
        now: Instant,
        payload: &mut Vec<u8>,
    ) -> Option<Outgoing> {
        if self.rec.retransmit_head {
            // (4.3): sent whatever cwnd says; SetPipe already counted it.
            self.rec.retransmit_head = false;
            let hole_end = self
                .scoreboard
                .next_sacked_after(self.snd_una)
                .unwrap_or(self.snd_max);
            if let Some(r) = self.segment_at(self.snd_una, hole_end) {
                return Some(self.emit_retransmission(r, now, payload));
            }
        }
        // (C) cwnd - pipe >= 1 SMSS (PRR's window when on, RFC 6937).
        if self.recovery_cwnd() < self.rec.pipe.saturating_add(self.smss) {
            return None;
        }
        // (C.1) NextSeg rule (1): a lost hole above HighRxt.
        if let Some(r) = self.next_hole(true) {
            // (C.2) HighRxt; (C.4) pipe.
            self.rec.high_rxt = r.end();
            self.rec.pipe += r.octets();
            return Some(self.emit_retransmission(r, now, payload));
        }
        // Rule (2): new data, if the receiver's window allows (and Nagle and
        // sender SWS avoidance agree). (C.3) HighData moves in the send path.
        let pipe = self.rec.pipe;
        let before = self.snd_max;
        if let Some(seg) = self.poll_send(now, payload, false, Some(pipe)) {
            // (C.4)
            self.rec.pipe += self.snd_max.diff(before).max(0) as u32;
            return Some(seg);
        }
        // Rule (3): an unSACKed hole above HighRxt not yet deemed lost.
        if let Some(r) = self.next_hole(false) {
            self.rec.high_rxt = r.end();
            self.rec.pipe += r.octets();
            return Some(self.emit_retransmission(r, now, payload));
        }
        // Rule (4): the rescue retransmission; RescueRxt = RecoveryPoint,
        // HighRxt untouched.
        if let Some(r) = self.rescue_segment() {
            self.rec.rescue_rxt = self.rec.point();
            self.rec.pipe += r.octets();
            self.counters.rescue_retransmits += 1;
            return Some(self.emit_retransmission(r, now, payload));
        }
        None
    }

    fn emit_retransmission(&mut self, r: Rxt, now: Instant, payload: &mut Vec<u8>) -> Outgoing {
        // Karn's algorithm (RFC 6298 §3): a segment sent twice gives no RTT
        // sample, so stop timing it (new data sent during recovery may be
        // the one being timed).
        if self
            .rtt_timing
            .is_some_and(|(timed, _)| timed.diff(r.seq) >= 0 && timed.diff(r.end()) < 0)
        {
            self.rtt_timing = None;
        }
        let offset = r.seq.since(self.snd_una);
        self.emit_data(r.seq, offset, r.len, r.fin, true, now, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(left: u32, right: u32) -> SackBlock {
        SackBlock {
            left: SeqNum(left),
            right: SeqNum(right),
        }
    }

    fn ranges(sb: &Scoreboard) -> Vec<(u32, u32)> {
        sb.ranges().iter().map(|r| (r.0.0, r.1.0)).collect()
    }

    #[test]
    fn blocks_merge_and_count_only_new_octets() {
        // Overlapping and touching blocks become one range; the count of
        // newly SACKed octets excludes what was already there.
        let mut sb = Scoreboard::default();
        let (una, max) = (SeqNum(1000), SeqNum(9000));
        assert_eq!(sb.update(&[block(2000, 3000)], una, max, max), (1000, 0));
        assert_eq!(sb.update(&[block(5000, 6000)], una, max, max), (1000, 0));
        assert_eq!(sb.update(&[block(2500, 3500)], una, max, max), (500, 0));
        assert_eq!(sb.update(&[block(3500, 5000)], una, max, max), (1500, 0));
        assert_eq!(ranges(&sb), vec![(2000, 6000)]);
        assert_eq!(sb.update(&[block(2000, 6000)], una, max, max), (0, 0));
        assert_eq!(sb.sacked_between(una, max), 4000);
        assert_eq!(sb.sacked_between(SeqNum(2500), SeqNum(3000)), 500);
    }

    #[test]
    fn invalid_blocks_are_ignored_across_the_wrap() {
        // SND.UNA just below 2^32: a block above SND.MAX, one below SND.UNA,
        // one starting at SND.UNA and a reversed one are all ignored; a
        // valid block straddling the wrap is kept.
        let mut sb = Scoreboard::default();
        let una = SeqNum(u32::MAX - 999);
        let max = una + 5000;
        let bad = [
            block((max + 1).0, (max + 100).0),
            block((una - 500).0, (una - 100).0),
            block(una.0, (una + 100).0),
            block((una + 300).0, (una + 200).0),
        ];
        assert_eq!(sb.update(&bad, una, max, max), (0, 4));
        assert!(sb.is_empty());
        assert_eq!(
            sb.update(&[block((una + 900).0, (una + 1100).0)], una, max, max),
            (200, 0)
        );
        assert_eq!(sb.highest(), Some(una + 1100));
    }

    #[test]
    fn segment_counts_round_each_range_and_hole_up() {
        // Linux's sacked_out and lost_out count segments, a short one as a
        // whole: with SMSS 1000, a 1500-byte range is 2 segments, and the
        // holes 0..1000, 2500..4000 and 5000..5200 are 1 + 2 + 1, across
        // the wrap as anywhere.
        let mut sb = Scoreboard::default();
        let una = SeqNum(u32::MAX - 999);
        let max = una + 10_000;
        sb.update(
            &[
                block((una + 1000).0, (una + 2500).0),
                block((una + 4000).0, (una + 5000).0),
            ],
            una,
            max,
            max,
        );
        assert_eq!(sb.sacked_segments(1000), 3);
        assert_eq!(sb.hole_segments(una, una + 5200, 1000), 4);
        assert_eq!(sb.hole_segments(una, una + 4000, 1000), 3);
        assert_eq!(sb.hole_segments(una, una + 1000, 1000), 1);
        assert_eq!(
            Scoreboard::default().hole_segments(una, una + 2001, 1000),
            3
        );
    }

    #[test]
    fn loss_needs_three_ranges_or_more_than_two_segments_above() {
        // RFC 6675 §4 IsLost with SMSS 1000: two separate 1000-byte ranges
        // above a hole are not enough; a third range, or 2001 contiguous
        // SACKed bytes, is.
        let mut sb = Scoreboard::default();
        let (una, max) = (SeqNum(0), SeqNum(100_000));
        sb.update(&[block(2000, 3000), block(4000, 5000)], una, max, max);
        assert!(!sb.is_lost(SeqNum(1000), 1000));
        sb.update(&[block(6000, 7000)], una, max, max);
        assert!(sb.is_lost(SeqNum(1000), 1000));
        assert!(!sb.is_lost(SeqNum(3000), 1000));
        let mut contiguous = Scoreboard::default();
        contiguous.update(&[block(1000, 3001)], una, max, max);
        assert!(contiguous.is_lost(SeqNum(0), 1000));
    }

    #[test]
    fn advancing_una_forgets_covered_ranges_and_detects_reneging() {
        // SND.UNA passing ranges drops them; SND.UNA stopping inside one
        // means the receiver threw SACKed data away: forget everything.
        let mut sb = Scoreboard::default();
        let (una, max) = (SeqNum(0), SeqNum(10_000));
        sb.update(&[block(1000, 2000), block(3000, 4000)], una, max, max);
        assert!(!sb.advance(SeqNum(2500)));
        assert_eq!(ranges(&sb), vec![(3000, 4000)]);
        assert!(sb.advance(SeqNum(3000)));
        assert!(sb.is_empty());
    }

    #[test]
    fn a_full_scoreboard_keeps_the_lowest_ranges() {
        // Bounded memory: beyond the limit a higher range is dropped, never
        // one nearer SND.UNA (where retransmissions start).
        let mut sb = Scoreboard::default();
        let max = SeqNum(1_000_000);
        for i in 0..SCOREBOARD_MAX_RANGES as u32 + 10 {
            sb.update(&[block(10 + i * 10, 15 + i * 10)], SeqNum(0), max, max);
        }
        assert_eq!(sb.ranges().len(), SCOREBOARD_MAX_RANGES);
        assert_eq!(sb.update(&[block(1, 5)], SeqNum(0), max, max), (4, 0));
        assert_eq!(sb.ranges()[0], (SeqNum(1), SeqNum(5)));
        assert_eq!(sb.ranges().len(), SCOREBOARD_MAX_RANGES);
    }

    #[test]
    fn receiver_report_puts_the_latest_block_first() {
        // RFC 2018 §4: the block just touched goes first; a block merged
        // into it disappears; delivered blocks leave the report.
        let mut r = SackReport::default();
        r.record((10, 20));
        r.record((30, 40));
        r.record((50, 60));
        assert_eq!(r.blocks(), &[(50, 60), (30, 40), (10, 20)]);
        r.record((10, 25));
        assert_eq!(r.blocks(), &[(10, 25), (50, 60), (30, 40)]);
        r.record((10, 40));
        assert_eq!(r.blocks(), &[(10, 40), (50, 60)]);
        r.delivered(40);
        assert_eq!(r.blocks(), &[(50, 60)]);
    }
}
