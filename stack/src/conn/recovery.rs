//! Loss recovery: one home for the sender's recovery state.
//!
//! [`Recovery`] holds what the sender knows about losses between two
//! cumulative ACKs: where recovery stands ([`Phase`]), the duplicate-ACK
//! count, the RFC 6675 variables (HighRxt, RescueRxt, `pipe`, the
//! RecoveryPoint an RTO leaves behind), and the pending fast retransmit.
//! The procedures live beside it:
//!
//! - RFC 6582 NewReno fast recovery, for a connection without SACK: the
//!   `Connection` methods at the end of this file ([`Phase::FastRecovery`]).
//! - RFC 6675 SACK-based recovery: `super::sack` ([`Phase::SackRecovery`]).
//! - RFC 8985 RACK-TLP, when `TcpConfig::rack` is on: `super::rack` marks
//!   losses by time and probes tail losses; its recovery is
//!   [`Phase::RackRecovery`].
//! - RFC 6937 PRR, when `TcpConfig::prr` is on: `super::prr` sets the
//!   window a SACK or RACK recovery sends within.
//! - RFC 2883 D-SACK at the sender and the undo of spurious reductions
//!   (RFC 3708, as Linux's tcp_try_undo_*): `super::undo`.
//!
//! Where to add a loss-recovery algorithm: a [`Phase`] variant for its
//! recovery state, its procedure in a module of its own beside `sack`,
//! and the calls from the ACK path (`input.rs` `on_bytes_acked`, and the
//! ACK that does not move SND.UNA) and the output path (`output.rs`
//! `poll_data`).
//!
//! Read before changing: RFC 5681 §3.2, RFC 6582 §3.2, RFC 6675 §4-5,
//! RFC 8985, RFC 6937 §3, RFC 2883, RFC 3708, RFC 6298 §5.

use super::{Connection, Outgoing};
use crate::cc::AckSample;
use crate::seq::SeqNum;
use crate::time::Instant;

/// Where loss recovery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No recovery (duplicate ACKs may be counting towards one).
    Open,
    /// RFC 6582 NewReno fast recovery (no SACK): `recover` is SND.MAX at
    /// entry; `inflation` is RFC 5681's window inflation by one SMSS per
    /// duplicate ACK, deflated by partial ACKs.
    FastRecovery { recover: SeqNum, inflation: u32 },
    /// RFC 6675 SACK-based recovery: `point` is RecoveryPoint + 1
    /// (= HighData + 1, SND.MAX at entry).
    SackRecovery { point: SeqNum },
    /// RFC 8985 RACK recovery (`rack.rs`): losses are the segments RACK
    /// marked lost by time (or, as Linux, at once through a zero reordering
    /// window once the duplicate threshold is met); they are resent first,
    /// then new data, within the window (PRR's when on). `point` is
    /// SND.MAX at entry.
    RackRecovery { point: SeqNum },
}

/// The sender's loss-recovery state.
#[derive(Clone, Debug)]
pub(crate) struct Recovery {
    pub(crate) phase: Phase,
    /// Duplicate ACKs since the last cumulative ACK (RFC 5681 §3.2; with
    /// SACK, RFC 6675's DupAcks).
    pub(crate) dup_acks: u32,
    /// Retransmit the segment at SND.UNA on the next output.
    pub(crate) retransmit_head: bool,
    /// RFC 6675 HighRxt + 1: the end of what recovery retransmitted. Kept
    /// after recovery ends, so a recovery that follows at once does not
    /// resend what is still outstanding from the last one.
    pub(crate) high_rxt: SeqNum,
    /// RFC 6675 RescueRxt + 1, once set in this recovery.
    pub(crate) rescue_rxt: Option<SeqNum>,
    /// RFC 6675 `pipe` during recovery (SetPipe, plus octets sent since).
    pub(crate) pipe: u32,
    /// RFC 6675 §5.1: SND.MAX at the last RTO; no new recovery until
    /// SND.UNA reaches it.
    pub(crate) rto_point: Option<SeqNum>,
}

impl Recovery {
    /// The state of a new connection whose first sequence number is `iss`.
    pub(crate) fn new(iss: SeqNum) -> Recovery {
        Recovery {
            phase: Phase::Open,
            dup_acks: 0,
            retransmit_head: false,
            high_rxt: iss,
            rescue_rxt: None,
            pipe: 0,
            rto_point: None,
        }
    }

    /// The sequence number whose cumulative acknowledgment ends the
    /// current recovery; `None` outside recovery.
    pub(crate) fn point(&self) -> Option<SeqNum> {
        match self.phase {
            Phase::Open => None,
            Phase::FastRecovery { recover, .. } => Some(recover),
            Phase::SackRecovery { point } | Phase::RackRecovery { point } => Some(point),
        }
    }

    /// Whether any recovery is running.
    pub(crate) fn in_recovery(&self) -> bool {
        self.phase != Phase::Open
    }

    /// RFC 5681 §3.2 step 3's window inflation (NewReno only).
    pub(crate) fn inflation(&self) -> u32 {
        match self.phase {
            Phase::FastRecovery { inflation, .. } => inflation,
            _ => 0,
        }
    }

    /// The retransmission timer expired (RFC 5681 §3.1, RFC 6582 §3.2
    /// step 4): whatever recovery ran is over.
    pub(crate) fn on_rto(&mut self) {
        self.phase = Phase::Open;
        self.dup_acks = 0;
    }
}

impl Connection {
    /// Output during SACK-based recovery: RACK's or RFC 6675's choice of
    /// what to send, each segment counted for PRR.
    pub(crate) fn poll_recovery(
        &mut self,
        now: Instant,
        payload: &mut Vec<u8>,
    ) -> Option<Outgoing> {
        let seg = match self.rec.phase {
            Phase::RackRecovery { .. } => self.poll_rack_recovery(now, payload),
            _ => self.poll_sack_recovery(now, payload),
        }?;
        self.prr_sent();
        Some(seg)
    }

    /// RFC 6582 §3.2 steps 3-4 for an ACK that moved SND.UNA to `ack`
    /// (`data_acked` octets of data) on a connection without SACK.
    /// Returns `false` outside fast recovery, where the caller grows the
    /// window as usual.
    pub(crate) fn newreno_on_cumulative_ack(
        &mut self,
        ack: SeqNum,
        data_acked: u32,
        now: Instant,
    ) -> bool {
        let Phase::FastRecovery { recover, inflation } = self.rec.phase else {
            return false;
        };
        if ack.diff(recover) >= 0 {
            // RFC 6582 §3.2 step 3: full acknowledgment, leave recovery.
            tracing::debug!(
                ack = ack.0,
                "leave fast recovery: full acknowledgment (RFC 6582)"
            );
            self.rec.phase = Phase::Open;
            self.rec.dup_acks = 0;
            let flight = self.flight_size();
            self.cc.on_recovery_exit(now, flight);
        } else {
            // Step 4, partial acknowledgment: retransmit the next
            // unacknowledged segment, deflate by the amount acked, add
            // back one SMSS.
            self.rec.retransmit_head = true;
            self.rec.phase = Phase::FastRecovery {
                recover,
                inflation: inflation.saturating_sub(data_acked) + self.smss,
            };
            self.restart_rto(now);
        }
        true
    }

    /// A cumulative ACK outside recovery on a connection without SACK.
    pub(crate) fn newreno_on_ack(&mut self, now: Instant, sample: AckSample) {
        self.rec.dup_acks = 0;
        if sample.bytes_acked > 0 {
            self.cc.on_ack(now, sample);
        }
    }

    /// RFC 5681 §3.2 / RFC 6582 §3.2 steps 1-2 on duplicate ACKs.
    pub(crate) fn on_duplicate_ack(&mut self, now: Instant) {
        self.rec.dup_acks += 1;
        self.counters.duplicate_acks += 1;
        if let Phase::FastRecovery { recover, inflation } = self.rec.phase {
            // Step 3 (RFC 5681): inflate by one SMSS per further duplicate.
            self.rec.phase = Phase::FastRecovery {
                recover,
                inflation: inflation + self.smss,
            };
            return;
        }
        if self.rec.dup_acks == 3 {
            // RFC 6582 §3.2 step 2: record `recover`, halve, retransmit.
            tracing::debug!(
                recover = self.snd_max.0,
                cwnd = self.cc.window(),
                "enter fast recovery: 3 duplicate ACKs (RFC 6582)"
            );
            let flight = self.flight_size();
            self.cc.on_congestion_event(now, flight);
            self.rec.phase = Phase::FastRecovery {
                recover: self.snd_max,
                inflation: 3 * self.smss,
            };
            self.rec.retransmit_head = true;
            self.counters.fast_retransmits += 1;
            self.rtt_timing = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovery_point_follows_the_phase() {
        // Each recovery ends at the point it recorded on entry; Open has
        // none, and an RTO returns any recovery to Open.
        let mut r = Recovery::new(SeqNum(100));
        assert_eq!(r.point(), None);
        r.phase = Phase::FastRecovery {
            recover: SeqNum(5000),
            inflation: 3000,
        };
        assert_eq!((r.point(), r.inflation()), (Some(SeqNum(5000)), 3000));
        r.phase = Phase::SackRecovery {
            point: SeqNum(7000),
        };
        assert_eq!((r.point(), r.inflation()), (Some(SeqNum(7000)), 0));
        r.dup_acks = 4;
        r.on_rto();
        assert!(!r.in_recovery());
        assert_eq!(r.dup_acks, 0);
    }
}
