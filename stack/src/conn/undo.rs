//! D-SACK at the sender (RFC 2883 §4-5) and the undo of a window
//! reduction that proved spurious (RFC 3708's D-SACK detection, RFC 3522's
//! timestamp test), as Linux's tcp_check_dsack, tcp_try_undo_dsack and
//! tcp_try_undo_recovery do. Used by RACK recovery (`rack.rs`); the undo
//! itself is on when `TcpConfig::undo` is.
//!
//! - A D-SACK block is the first SACK block of an ACK when it lies below
//!   the ACK's cumulative point, or inside the second block (RFC 2883 §4).
//!   It counts in `tcpi_dsack_dups` (segments), unless it is dubious
//!   (larger than the peer's largest window, or more duplicates than we
//!   ever retransmitted).
//! - Recovery records the undo marker (SND.UNA at entry), the window and
//!   ssthresh before the reduction, and counts its retransmissions; each
//!   D-SACK above the marker takes its segments off that count. When it
//!   reaches zero every retransmission was a duplicate: the reduction is
//!   undone (RFC 3708 §3.2). At the end of recovery, an ACK echoing a
//!   timestamp older than the first retransmission shows the original
//!   arrived (RFC 3522 Eifel detection, Linux's tcp_packet_delayed).
//!
//! Read before changing: RFC 2883, RFC 3708, RFC 3522, RFC 4015.

use super::Connection;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::TcpRepr;

/// The undo state of one window reduction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Undo {
    /// Linux's undo_marker: SND.UNA when the reduction started.
    pub(crate) marker: Option<SeqNum>,
    /// Linux's undo_retrans: retransmissions not yet shown spurious
    /// (`None`: none made yet, Linux's -1).
    pub(crate) retrans: Option<u32>,
    /// TSval of the episode's first retransmission (Linux's retrans_stamp).
    pub(crate) retrans_stamp: Option<u32>,
    /// The window and ssthresh to restore.
    pub(crate) prior_cwnd: u32,
    pub(crate) prior_ssthresh: u32,
}

impl Connection {
    /// RFC 2883 §4 (Linux's tcp_check_dsack and tcp_dsack_seen): the
    /// D-SACK block of this ACK, if any, counted in `tcpi_dsack_dups`.
    pub(crate) fn dsack_check(
        &mut self,
        seg: &TcpRepr<'_>,
        previous_una: SeqNum,
    ) -> Option<(SeqNum, SeqNum)> {
        let blocks = seg.options.sack();
        let first = blocks.first()?;
        let inside_second = blocks.get(1).is_some_and(|second| {
            first.left.diff(second.left) >= 0 && first.right.diff(second.right) <= 0
        });
        let len = first.right.diff(first.left);
        if !(first.left.diff(seg.ack) < 0 || inside_second) || len <= 0 {
            return None;
        }
        let len = len as u32;
        if len > self.max_snd_wnd.max(self.smss) {
            // Dubious: more than the peer ever offered.
            return None;
        }
        let dup_segs = len.div_ceil(self.smss.max(1)).max(1);
        self.counters.dsack_dups = self.counters.dsack_dups.saturating_add(u64::from(dup_segs));
        if self.counters.dsack_dups > self.counters.retransmitted_segments {
            // Duplicates we never sent twice: the network duplicated them.
            return None;
        }
        // RFC 3708 §3.2: a duplicate of a retransmission of this episode.
        if let (Some(marker), Some(left)) = (self.undo.marker, self.undo.retrans)
            && left > 0
            && first.right.diff(marker) > 0
            && (first.right.diff(previous_una) <= 0 || inside_second)
        {
            self.undo.retrans = Some(left.saturating_sub(dup_segs));
        }
        Some((first.left, first.right))
    }

    /// A window reduction starts (Linux's tcp_init_undo, with
    /// tcp_current_ssthresh for the ssthresh to restore).
    pub(crate) fn undo_start(&mut self, prior_cwnd: u32) {
        let outstanding = self.rack.sent.iter().filter(|s| s.rtx_out).count() as u32;
        let cwnd = self.cc.window();
        self.undo = super::undo::Undo {
            marker: Some(self.snd_una),
            retrans: (outstanding > 0).then_some(outstanding),
            retrans_stamp: None,
            prior_cwnd,
            prior_ssthresh: self.cc.ssthresh().max(cwnd / 2 + cwnd / 4),
        };
    }

    /// The reduction is over (or undone): nothing left to undo.
    pub(crate) fn undo_clear(&mut self) {
        self.undo = Undo::default();
    }

    /// `segments` were retransmitted now (Linux's tcp_retransmit_skb).
    pub(crate) fn undo_note_retransmission(&mut self, segments: u32, now: Instant) {
        if self.undo.marker.is_none() || segments == 0 {
            return;
        }
        self.undo.retrans = Some(self.undo.retrans.unwrap_or(0).saturating_add(segments));
        if self.undo.retrans_stamp.is_none() {
            self.undo.retrans_stamp = Some(self.ts_now(now));
        }
    }

    /// Restores the window from before the reduction (Linux's
    /// tcp_undo_cwnd_reduction: cwnd = max(cwnd, prior), ssthresh too).
    fn undo_reduction(&mut self, now: Instant) {
        tracing::debug!(
            cwnd = self.undo.prior_cwnd,
            ssthresh = self.undo.prior_ssthresh,
            "undo: the window reduction was spurious (RFC 3708)"
        );
        self.cc
            .undo_reduction(now, self.undo.prior_cwnd, self.undo.prior_ssthresh);
        self.counters.undos += 1;
        self.undo_clear();
        // Force RACK to look at its losses again.
        self.rack.advanced = true;
    }

    /// Linux's tcp_try_undo_dsack: every retransmission of the episode
    /// was D-SACKed. Recovery ends (tcp_try_to_open).
    pub(crate) fn undo_try_dsack(&mut self, now: Instant) {
        if !self.config.undo || self.undo.marker.is_none() || self.undo.retrans != Some(0) {
            return;
        }
        self.rack.reo_wnd_persist = (self.rack.reo_wnd_persist + 1).min(16);
        self.undo_reduction(now);
        if self.rec.in_recovery() {
            self.rec.phase = super::recovery::Phase::Open;
            self.rec.pipe = 0;
        }
    }

    /// Linux's tcp_try_undo_recovery (tcp_may_undo): at the end of
    /// recovery, undo if no retransmission is left unexplained or the
    /// ACK echoes a timestamp from before the first retransmission.
    /// Returns whether it undid.
    pub(crate) fn undo_try_at_recovery_end(&mut self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        if !self.config.undo || self.undo.marker.is_none() {
            return false;
        }
        let delayed = match (self.undo.retrans_stamp, seg.options.timestamps) {
            (Some(stamp), Some((_, ecr))) if self.timestamps && ecr != 0 => {
                crate::seq::ts_diff(ecr, stamp) < 0
            }
            _ => false,
        };
        if self.undo.retrans == Some(0) || delayed {
            self.undo_reduction(now);
            return true;
        }
        false
    }
}
