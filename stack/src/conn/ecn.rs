//! Explicit Congestion Notification (RFC 3168 §6.1), as Linux's
//! `tcp_ecn_*` functions do it (net/ipv4/tcp_input.c, tcp_output.c).
//!
//! Read before changing: RFC 3168 §5 (the IP field), §6.1.1 (negotiation
//! in the handshake), §6.1.2 (the sender's response to ECE: once per
//! window, CWR on the next new data), §6.1.3 (the receiver's ECE until
//! CWR), §6.1.5 (no ECT on retransmissions and pure ACKs).
//!
//! The whole ECN state of a connection is [`EcnState`]. Three places use
//! it: the endpoint hands each arriving datagram's IP ECN field in
//! ([`EcnState::arrival`]) and asks [`Connection::ecn_on_transmit`] for the
//! ECN field and the ECE/CWR bits of each segment it emits; SEGMENT
//! ARRIVES calls [`Connection::ecn_on_syn`], [`Connection::ecn_on_syn_ack`],
//! [`Connection::ecn_on_receive`] and [`Connection::ecn_on_ack`].
//! Classic ECN only: Accurate ECN (RFC 9768's AccECN) is not implemented.

use super::Connection;
use crate::config::EcnMode;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{Ecn, Flags, TcpRepr};

/// A connection's ECN state (Linux's `tp->ecn_flags`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EcnState {
    /// ECN was negotiated (TCP_ECN_OK).
    pub(crate) ok: bool,
    /// The receiver saw CE and echoes ECE on every segment until a CWR
    /// arrives (TCP_ECN_DEMAND_CWR, RFC 3168 §6.1.3).
    pub(crate) demand_cwr: bool,
    /// The sender reduced its window and sets CWR on its next new data
    /// segment (TCP_ECN_QUEUE_CWR, RFC 3168 §6.1.2).
    pub(crate) queue_cwr: bool,
    /// An ECT or CE segment has arrived (TCP_ECN_SEEN).
    pub(crate) seen: bool,
    /// The sender's reduction in answer to ECE lasts until SND.UNA passes
    /// this point (Linux's CWR state and its `high_seq`).
    pub(crate) cwr_until: Option<SeqNum>,
    /// The IP ECN field of the datagram being processed, set by the
    /// endpoint before it hands the segment over.
    pub(crate) arrival: Ecn,
}

impl EcnState {
    /// Whether the sender is in a window reduction for ECE (Linux's
    /// TCP_CA_CWR).
    pub(crate) fn in_cwr(&self) -> bool {
        self.cwr_until.is_some()
    }
}

impl Connection {
    /// A SYN arrived at a listener (RFC 3168 §6.1.1): a SYN with ECE and CWR
    /// asks for ECN, and we agree if configured to, answering ECE in the
    /// SYN-ACK. As Linux's tcp_ecn_create_request, a SYN that is itself
    /// ECT is not taken as a request (a path that sets ECT on SYNs breaks
    /// the negotiation).
    pub(crate) fn ecn_on_syn(&mut self, seg: &TcpRepr<'_>) {
        self.ecn.ok = self.config.ecn.accepts()
            && seg.flags.ece()
            && seg.flags.cwr()
            && !self.ecn.arrival.is_ect();
    }

    /// The SYN-ACK arrived in SYN-SENT (RFC 3168 §6.1.1): ECN is on only if
    /// we asked and the SYN-ACK has ECE without CWR (Linux's
    /// tcp_ecn_rcv_synack).
    pub(crate) fn ecn_on_syn_ack(&mut self, seg: &TcpRepr<'_>) {
        self.ecn.ok = self.ecn.ok && seg.flags.ece() && !seg.flags.cwr();
    }

    /// An acceptable segment arrived in a synchronized state (RFC 3168
    /// §6.1.3, Linux's tcp_ecn_accept_cwr and tcp_ecn_check_ce): CWR ends
    /// the echo; a data segment marked CE starts it, and is ACKed at once
    /// (the sender's window may be small).
    pub(crate) fn ecn_on_receive(&mut self, seg: &TcpRepr<'_>) {
        if !self.ecn.ok {
            return;
        }
        if seg.flags.cwr() {
            self.ecn.demand_cwr = false;
            if !seg.payload.is_empty() {
                self.ack_now = true;
            }
        }
        if seg.payload.is_empty() {
            return;
        }
        match self.ecn.arrival {
            Ecn::NotEct => {
                // Linux: a Not-ECT segment after ECT ones is likely a
                // retransmission; ACK it quickly.
                if self.ecn.seen {
                    self.ecn_quick_ack();
                }
            }
            Ecn::Ce => {
                if !self.ecn.demand_cwr {
                    self.ecn_quick_ack();
                    self.ecn.demand_cwr = true;
                }
                self.ecn.seen = true;
            }
            Ecn::Ect0 | Ecn::Ect1 => self.ecn.seen = true,
        }
    }

    /// Linux's tcp_enter_quickack_mode(sk, 2): the next ACKs (up to two)
    /// go out at once, and the exchange stops counting as interactive.
    fn ecn_quick_ack(&mut self) {
        let quick = match self.rcv_wnd() / (2 * self.rcv_mss.max(1)) {
            0 => 2,
            q => q.min(2),
        };
        self.quick_acks_left = self.quick_acks_left.max(quick);
        self.pingpong = false;
    }

    /// The sender's half (RFC 3168 §6.1.2): an ACK with ECE (not a SYN-ACK)
    /// halves the congestion window, at most once per window of data
    /// (until SND.UNA passes what was sent at the reduction), and the next
    /// new data segment carries CWR. A reduction already under way for
    /// loss counts: no second one (RFC 3168 §6.1.2, "TCP SHOULD NOT react
    /// to congestion indications more than once every window").
    pub(crate) fn ecn_on_ack(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        if let Some(until) = self.ecn.cwr_until
            && self.snd_una.diff(until) > 0
        {
            // Linux holds CWR until something *above* high_seq is ACKed,
            // so that the CWR bit has reached the receiver.
            self.ecn.cwr_until = None;
        }
        if !self.ecn.ok || !seg.flags.ece() || seg.flags.syn() {
            return;
        }
        if self.ecn.in_cwr() || self.rec.in_recovery() {
            return;
        }
        let flight = self.flight_size();
        tracing::debug!(
            cwnd = self.cc.window(),
            high = self.snd_max.0,
            "ECE: reduce the congestion window (RFC 3168 §6.1.2)"
        );
        self.cc.on_congestion_event(now, flight);
        self.ecn.cwr_until = Some(self.snd_max);
        self.ecn.queue_cwr = true;
        self.counters.ecn_reductions += 1;
    }

    /// The retransmission timer fired: the ECE reduction, if any, is over
    /// (Linux leaves CWR for the Loss state).
    pub(crate) fn ecn_on_rto(&mut self) {
        self.ecn.cwr_until = None;
    }

    /// The ECN field and ECE/CWR bits of a segment about to be sent
    /// (Linux's tcp_ecn_send_syn, tcp_ecn_make_synack and tcp_ecn_send).
    /// `first`: the segment starts at or beyond the highest sequence sent
    /// so far (not a retransmission); `data`: it carries data. Only first
    /// data is ECT: retransmissions and pure ACKs are Not-ECT (RFC 3168
    /// §6.1.5, Linux's tcp_ecn_send).
    pub(crate) fn ecn_on_transmit(&mut self, flags: &mut Flags, first: bool, data: bool) -> Ecn {
        let new_data = first && data;
        if flags.syn() {
            if flags.ack() {
                // SYN-ACK: ECE if we agreed (every copy of it).
                if self.ecn.ok {
                    *flags |= Flags::ECE;
                }
            } else if self.config.ecn == EcnMode::On && first {
                // The first SYN asks with ECE and CWR. A retransmitted SYN
                // does not (Linux's tcp_ecn_clear_syn with the default
                // tcp_ecn_fallback=1: the path may drop ECN-setup SYNs).
                *flags |= Flags::ECE | Flags::CWR;
                self.ecn.ok = true;
            } else if self.config.ecn == EcnMode::On {
                self.ecn.ok = false;
            }
            return Ecn::NotEct;
        }
        if !self.ecn.ok {
            return Ecn::NotEct;
        }
        let mut ecn = Ecn::NotEct;
        if new_data {
            ecn = Ecn::Ect0;
            if self.ecn.queue_cwr {
                self.ecn.queue_cwr = false;
                *flags |= Flags::CWR;
            }
        }
        if self.ecn.demand_cwr {
            *flags |= Flags::ECE;
        }
        ecn
    }
}
