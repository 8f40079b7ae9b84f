//! A `tcp_info`-like snapshot of one connection (Linux `getsockopt(fd,
//! IPPROTO_TCP, TCP_INFO)`, `ss -ti`): state, congestion window, slow-start
//! threshold, RTT estimator, RTO and backoff, windows, MSS and
//! retransmission counters, read from the connection's own variables.
//!
//! Field names follow Linux's `struct tcp_info` (`tcpi_` dropped) where
//! they mean the same thing; where our unit differs from Linux's the doc
//! says so (windows and `snd_cwnd`/`snd_ssthresh` are in bytes here, Linux
//! counts segments for the latter two; times are [`Duration`]s, Linux
//! gives microseconds). Taking a snapshot reads only: it changes nothing in
//! the connection, so a run that takes them behaves exactly like one that
//! does not.
//!
//! Read before changing: RFC 9293 §3.3.1 (the sequence variables), RFC
//! 6298 (SRTT, RTTVAR, RTO), RFC 5681 (cwnd, ssthresh, FlightSize), RFC
//! 6675 (pipe).

use crate::conn::Connection;
use crate::seq::SeqNum;
use crate::time::Duration;
use crate::types::State;

/// Linux's `tcpi_ca_state`: where the sender's congestion-avoidance state
/// machine is. Derived from the connection's loss-recovery variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaState {
    /// Nothing unusual: no duplicate ACKs, no recovery (`TCP_CA_Open`).
    Open,
    /// Duplicate ACKs or SACK blocks have arrived, below the threshold that
    /// starts recovery (`TCP_CA_Disorder`).
    Disorder,
    /// The window is being reduced for an ECN echo, with no loss
    /// (`TCP_CA_CWR`, RFC 3168 §6.1.2).
    Cwr,
    /// Fast recovery: RFC 6582 NewReno, or RFC 6675 SACK-based recovery
    /// (`TCP_CA_Recovery`).
    Recovery,
    /// The retransmission timer expired and the data outstanding then is
    /// not all acknowledged yet (`TCP_CA_Loss`): without SACK, until an ACK
    /// of new data; with SACK, until SND.UNA reaches SND.MAX as of the RTO
    /// (RFC 6675 §5.1).
    Loss,
}

impl CaState {
    /// The spelling `ss -ti` and Linux's headers use, lower case: `open`,
    /// `disorder`, `cwr`, `recovery`, `loss`.
    pub fn name(self) -> &'static str {
        match self {
            CaState::Open => "open",
            CaState::Disorder => "disorder",
            CaState::Cwr => "cwr",
            CaState::Recovery => "recovery",
            CaState::Loss => "loss",
        }
    }
}

impl core::fmt::Display for CaState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One connection's TCP internals at one instant. Compare two snapshots
/// with `==` to see whether anything changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// The RFC 9293 §3.3.2 state (`tcpi_state`).
    pub state: State,
    /// The congestion-avoidance state (`tcpi_ca_state`).
    pub ca_state: CaState,
    /// The congestion controller's name, `"newreno"` or `"cubic"` (Linux's
    /// `TCP_CONGESTION` socket option).
    pub congestion_control: &'static str,

    // ----- retransmission timer (RFC 6298) -----
    /// Retransmission timeouts in a row with no new data acknowledged
    /// (`tcpi_retransmits`, Linux's `icsk_retransmits`); the connection
    /// gives up when this reaches the retry limit.
    pub retransmits: u32,
    /// How many times the current RTO has been doubled (`tcpi_backoff`,
    /// RFC 6298 §5.5); a valid RTT sample resets it to 0.
    pub backoff: u32,
    /// Zero-window probes sent since the peer last answered
    /// (`tcpi_probes`).
    pub probes: u32,
    /// The retransmission timeout now, backoff included, clamped to the
    /// configured maximum (`tcpi_rto`, RFC 6298 §2 and §5.5).
    pub rto: Duration,
    /// The delayed-ACK timeout estimate (`tcpi_ato`, Linux's `icsk_ack.ato`);
    /// zero until data has arrived.
    pub ato: Duration,
    /// Smoothed round-trip time (`tcpi_rtt`, RFC 6298 SRTT); `None` until the
    /// first RTT sample.
    pub srtt: Option<Duration>,
    /// Round-trip time variation (`tcpi_rttvar`, RFC 6298 RTTVAR); zero until
    /// the first sample.
    pub rttvar: Duration,

    // ----- segment sizes -----
    /// The MSS we send with, in bytes: the peer's MSS less the option bytes
    /// every segment carries (`tcpi_snd_mss`, RFC 9293 §3.7.1 SMSS).
    pub snd_mss: u32,
    /// The peer's segment size as seen on arrival, in bytes
    /// (`tcpi_rcv_mss`); zero until data has arrived.
    pub rcv_mss: u32,

    // ----- congestion control (RFC 5681) -----
    /// The congestion window, in bytes (`tcpi_snd_cwnd`, which Linux counts
    /// in segments: divide by `snd_mss`). During NewReno fast recovery this
    /// is the controller's window without the RFC 6582 inflation.
    pub snd_cwnd: u32,
    /// The slow-start threshold, in bytes (`tcpi_snd_ssthresh`, in segments
    /// on Linux); `u32::MAX` until the first congestion signal (RFC 5681
    /// §3.1 "arbitrarily high", Linux's `TCP_INFINITE_SSTHRESH`).
    pub snd_ssthresh: u32,
    /// RFC 5681 FlightSize, in bytes: data sent and not yet cumulatively
    /// acknowledged (SND.MAX − SND.UNA, SYN and FIN excluded). Linux's
    /// `tcpi_unacked` counts the same in segments.
    pub bytes_in_flight: u32,
    /// Bytes above SND.UNA the peer has selectively acknowledged (RFC 2018;
    /// `tcpi_sacked` counts segments).
    pub sacked_bytes: u32,
    /// Linux's `tcpi_unacked` (`packets_out`): segments sent and not
    /// cumulatively acknowledged, counted as Linux counts skbs of full-sized
    /// segments: ceil(FlightSize / SMSS), plus one for a SYN or a FIN
    /// outstanding on its own. (We keep bytes, not segment boundaries: a run
    /// of short segments counts as the full-sized segments it adds up to.)
    pub unacked: u32,
    /// Linux's `tcpi_sacked`: SACKed segments above SND.UNA, each SACKed
    /// range counted as ceil(length / SMSS) segments.
    pub sacked: u32,
    /// Linux's `tcpi_lost`: segments the sender takes to be lost, each hole
    /// counted as ceil(length / SMSS). With SACK, the holes RFC 6675
    /// IsLost() marks (the rule our recovery acts on; Linux's RACK may mark
    /// others); after a retransmission timeout, every unSACKed segment
    /// outstanding (as Linux's tcp_enter_loss); 0 when nothing is
    /// outstanding or SACKed. `None` in NewReno recovery without SACK, where
    /// the stack keeps no per-segment loss marks.
    pub lost: Option<u32>,
    /// RFC 6675 `pipe`, in bytes, while SACK-based recovery runs: the
    /// sender's estimate of what is still in the network, compared with
    /// `snd_cwnd`. `None` outside SACK-based recovery.
    pub pipe: Option<u32>,

    // ----- windows (RFC 9293 §3.8.6, RFC 7323) -----
    /// The send window the peer offered, in bytes, scaled (`tcpi_snd_wnd`,
    /// SND.WND).
    pub snd_wnd: u32,
    /// The receive window we last advertised, in bytes, scaled, counted
    /// from RCV.NXT (`tcpi_rcv_wnd`, RCV.WND).
    pub rcv_wnd: u32,
    /// Free space in our receive buffer, in bytes: the window we could offer
    /// now (`tcpi_rcv_space` is Linux's auto-tuning estimate instead).
    pub rcv_space: u32,
    /// Linux's `rcv_ssthresh` (`tcpi_rcv_ssthresh`), in bytes: the most
    /// window we offer for now, grown as data arrives.
    pub rcv_ssthresh: u32,
    /// The MSS we announced, less the timestamp option on an actively
    /// opened connection that negotiated timestamps, as Linux's
    /// `tcpi_advmss` (tcp_rcv_synsent_state_process trims it there, the
    /// passive side does not).
    pub advmss: u32,
    /// Bytes the application wrote that have never been sent
    /// (`tcpi_notsent_bytes`: write_seq − SND.MAX here; Linux's SND.NXT
    /// never moves back, so it is our SND.MAX).
    pub notsent_bytes: u32,
    /// Linux's `tcpi_reordering`: how many duplicate ACKs, or SACKed
    /// segments above a hole, signal a loss. Our DupThresh (RFC 6675 §2,
    /// RFC 5681 §3.2) is fixed at 3 (Linux's tcp_reordering default) and
    /// is never raised on detected reordering.
    pub reordering: u32,
    /// Linux's `tcpi_reord_seen`: reordering events RACK detected (a
    /// segment sent once delivered below the highest SACKed one); 0
    /// without RACK.
    pub reord_seen: u32,
    /// Linux's `tcpi_dsack_dups`: duplicate segments the peer reported
    /// in D-SACK blocks (counted by RACK connections).
    pub dsack_dups: u64,
    /// Linux's `tcpi_retrans`: segments retransmitted and still
    /// outstanding. `None` without RACK, whose per-segment record it needs.
    pub retrans: Option<u32>,
    /// Linux's `tcpi_min_rtt`: the smallest RTT sample so far (kept for
    /// RACK's reordering window); `None` before a sample.
    pub min_rtt: Option<Duration>,
    /// When data last arrived (Linux's `icsk_ack.lrcvtime`, reported as
    /// `tcpi_last_data_recv`: now minus this, in ms); the connection's
    /// creation before any data. `None` when delayed ACKs are off, where
    /// the stack does not keep it.
    pub last_data_recv: Option<crate::time::Instant>,
    /// Shift count applied to the peer's windows (`tcpi_snd_wscale`; 0
    /// without window scaling).
    pub snd_wscale: u8,
    /// Shift count applied to our windows (`tcpi_rcv_wscale`).
    pub rcv_wscale: u8,
    /// Options negotiated on the handshake (`tcpi_options`: TCPI_OPT_SACK,
    /// TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE).
    pub sack_permitted: bool,
    /// RFC 7323 timestamps are in use.
    pub timestamps: bool,
    /// RFC 7323 window scaling is in use.
    pub window_scaling: bool,
    /// The SYN's data was accepted by a Fast Open server (RFC 7413; Linux's
    /// TCPI_OPT_SYN_DATA in `tcpi_options`).
    pub syn_data_acked: bool,
    /// ECN was negotiated (RFC 3168; TCPI_OPT_ECN).
    pub ecn: bool,
    /// An ECT or CE segment has arrived (TCPI_OPT_ECN_SEEN).
    pub ecn_seen: bool,

    // ----- sequence variables (RFC 9293 §3.3.1), absolute -----
    /// Initial send sequence number (ISS).
    pub iss: SeqNum,
    /// Oldest unacknowledged sequence number (SND.UNA).
    pub snd_una: SeqNum,
    /// Next sequence number to send (SND.NXT); behind `snd_max` after an
    /// RTO rewound it.
    pub snd_nxt: SeqNum,
    /// Highest sequence number sent so far, plus one (SND.MAX).
    pub snd_max: SeqNum,
    /// Initial receive sequence number (IRS); 0 before the peer's SYN.
    pub irs: SeqNum,
    /// Next sequence number expected (RCV.NXT).
    pub rcv_nxt: SeqNum,

    // ----- counters -----
    /// Data and FIN segments retransmitted, all causes (`tcpi_total_retrans`).
    pub total_retrans: u64,
    /// Payload bytes retransmitted (`tcpi_bytes_retrans`).
    pub bytes_retrans: u64,
    /// Retransmission timer expiries (Linux's `TCPTimeouts`, per connection).
    pub timeouts: u64,
    /// Fast retransmits on duplicate ACKs or SACK information.
    pub fast_retransmits: u64,
    /// Duplicate ACKs received (RFC 5681; with SACK, RFC 6675 §2's).
    pub duplicate_acks: u64,
    /// Segments sent, retransmissions and pure ACKs included (`tcpi_segs_out`).
    pub segs_out: u64,
    /// Segments received (`tcpi_segs_in`).
    pub segs_in: u64,
    /// Payload bytes sent, retransmissions included (`tcpi_bytes_sent`).
    pub bytes_sent: u64,
    /// Payload bytes the peer has acknowledged (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
    /// Payload bytes received in order, those the reassembly queue released
    /// included: how far RCV.NXT has moved (`tcpi_bytes_received`).
    pub bytes_received: u64,
}

impl TcpInfo {
    /// `snd_ssthresh` unless it is still "arbitrarily high" (`u32::MAX`,
    /// before any congestion signal).
    pub fn ssthresh_set(&self) -> Option<u32> {
        (self.snd_ssthresh != u32::MAX).then_some(self.snd_ssthresh)
    }
}

impl Connection {
    /// The snapshot; reads only.
    pub(crate) fn info(&self) -> TcpInfo {
        let in_loss =
            self.rec.rto_point.is_some() || (self.retries > 0 && self.state.is_synchronized());
        let ca_state = if self.rec.in_recovery() {
            CaState::Recovery
        } else if in_loss {
            CaState::Loss
        } else if self.ecn.in_cwr() {
            CaState::Cwr
        } else if self.rec.dup_acks > 0 || !self.scoreboard.is_empty() {
            CaState::Disorder
        } else {
            CaState::Open
        };
        let sack_recovery = self.sack_permitted && self.rec.in_recovery();
        // A SYN or FIN not yet acknowledged, with no data in flight beside
        // it, is a segment of its own (Linux counts its skb).
        let syn_out = matches!(self.state, State::SynSent | State::SynReceived)
            && self.snd_max.diff(self.snd_una) > 0;
        let fin_out = self
            .fin_seq
            .is_some_and(|f| f.diff(self.snd_una) >= 0 && self.snd_max.diff(f) > 0)
            && self.flight_size() == 0;
        let syn_or_fin_alone = u32::from(syn_out) + u32::from(fin_out);
        let rack = self.rack_enabled();
        let lost = if self.flight_size() == 0 {
            Some(0)
        } else if rack {
            Some(
                self.rack
                    .sent
                    .iter()
                    .filter(|s| s.lost && !s.sacked)
                    .count() as u32,
            )
        } else if ca_state == CaState::Loss {
            Some(self.scoreboard.hole_segments(
                self.snd_una,
                self.snd_una + self.flight_size(),
                self.smss,
            ))
        } else if self.sack_permitted {
            Some(match self.scoreboard.lost_below(self.smss) {
                Some(edge) => self.scoreboard.hole_segments(self.snd_una, edge, self.smss),
                None => 0,
            })
        } else if self.rec.in_recovery() {
            None
        } else {
            Some(0)
        };
        TcpInfo {
            state: self.state,
            ca_state,
            congestion_control: self.cc.name(),
            retransmits: self.retries,
            backoff: self.rtt.backoff_count(),
            probes: self.probes_unanswered,
            rto: self.rtt.rto(),
            ato: self.ato,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            snd_mss: self.smss,
            rcv_mss: self.rcv_mss,
            snd_cwnd: if sack_recovery {
                self.recovery_cwnd()
            } else {
                self.cc.window()
            },
            snd_ssthresh: self.cc.ssthresh(),
            bytes_in_flight: self.flight_size(),
            sacked_bytes: self.scoreboard.sacked_between(self.snd_una, self.snd_max),
            unacked: self.flight_size().div_ceil(self.smss.max(1)) + syn_or_fin_alone,
            sacked: self.scoreboard.sacked_segments(self.smss),
            lost,
            pipe: sack_recovery.then_some(self.rec.pipe),
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            rcv_space: self.recv_space(),
            rcv_ssthresh: self.rcv_ssthresh,
            advmss: u32::from(self.config.mss)
                - if self.timestamps && !self.passive {
                    12
                } else {
                    0
                },
            notsent_bytes: (self.snd_written - self.snd_consumed)
                .saturating_sub(u64::from(self.flight_size()))
                .min(u64::from(u32::MAX)) as u32,
            reordering: if rack {
                self.rack.reordering
            } else {
                crate::conn::sack::DUP_THRESH
            },
            reord_seen: self.rack.reord_seen,
            dsack_dups: self.counters.dsack_dups,
            retrans: rack.then(|| self.rack.sent.iter().filter(|s| s.rtx_out).count() as u32),
            min_rtt: self.rack.min_rtt,
            last_data_recv: self.config.delayed_ack.map(|_| self.lrcvtime),
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            sack_permitted: self.sack_permitted,
            timestamps: self.timestamps,
            window_scaling: self.window_scaling,
            syn_data_acked: self.syn_data_acked,
            ecn: self.ecn.ok,
            ecn_seen: self.ecn.seen,
            iss: self.iss,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_max: self.snd_max,
            irs: self.irs,
            rcv_nxt: self.rcv_nxt,
            total_retrans: self.counters.retransmitted_segments,
            bytes_retrans: self.counters.retransmitted_bytes,
            timeouts: self.counters.timeouts,
            fast_retransmits: self.counters.fast_retransmits,
            duplicate_acks: self.counters.duplicate_acks,
            segs_out: self.counters.segments_sent,
            segs_in: self.counters.segments_received,
            bytes_sent: self.counters.bytes_sent,
            bytes_acked: self.snd_consumed,
            bytes_received: self.rcv_offset,
        }
    }
}
