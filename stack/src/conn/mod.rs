//! One connection's TCB and its event processing (RFC 9293 §3.10).
//!
//! Split by concern: this file holds the TCB, the user calls (§3.10.1–6)
//! and the timeouts (§3.10.8); [`input`] is SEGMENT ARRIVES (§3.10.7) in
//! the RFC's order of checks; [`output`] decides what to send next;
//! [`recovery`] is the loss-recovery state (its phase, duplicate ACKs)
//! and RFC 6582 NewReno fast recovery; [`sack`] is SACK reporting (RFC
//! 2018) and SACK-based loss recovery (RFC 6675), used instead of NewReno
//! when both ends permit SACK.
//!
//! Read before changing: RFC 9293 §3.10, RFC 5961, RFC 6298, RFC 5681,
//! RFC 6582, RFC 6675, RFC 2018, RFC 7323, RFC 1337, RFC 2525 §2.17.

mod cwnd_limit;
mod ecn;
mod input;
mod output;
mod prr;
pub(crate) mod push;
pub(crate) mod rack;
pub(crate) mod recovery;
pub(crate) mod sack;
mod undo;

use output::Outgoing;
use recovery::Recovery;
use sack::{SackReport, Scoreboard};

use crate::buffer::{Reassembly, SendBuffer};
use crate::cc::newreno::NewReno;
use crate::cc::{CongestionAlgorithm, CongestionControl};
use crate::config::TcpConfig;
use crate::rtt::RttEstimator;
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::types::{Counters, Event, SocketError, SocketId, State};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// The connection's timers, as data: one deadline per kind; the next
/// deadline is the minimum, computed in [`Connection::deadline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission (SYN, SYN-ACK, data, FIN): RFC 6298.
    Retransmit = 0,
    DelayedAck = 1,
    /// Zero-window probing (RFC 9293 §3.8.6.1).
    Persist = 2,
    Keepalive = 3,
    /// 2·MSL in TIME-WAIT.
    TimeWait = 4,
    /// Orphaned FIN-WAIT-2 (Linux tcp_fin_timeout).
    FinWait2 = 5,
}

/// One deadline per kind: as many as the enum has (its last variant + 1).
const TIMER_COUNT: usize = Timer::FinWait2 as usize + 1;
/// Every kind, in discriminant order (checked at compile time below).
const TIMERS: [Timer; TIMER_COUNT] = [
    Timer::Retransmit,
    Timer::DelayedAck,
    Timer::Persist,
    Timer::Keepalive,
    Timer::TimeWait,
    Timer::FinWait2,
];
// `TIMERS[i]` is the kind whose deadline `timers[i]` holds: a variant
// added out of order, or left out of TIMERS, fails to compile.
const _: () = {
    let mut i = 0;
    while i < TIMER_COUNT {
        assert!(TIMERS[i] as usize == i, "TIMERS must list Timer in order");
        i += 1;
    }
};

/// What the endpoint must do after the connection handled something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    Keep,
    /// SYN-RECEIVED completed: hand the connection to its listener's accept queue.
    Established,
    /// Remove the connection (CLOSED, or a passive half-open returned to LISTEN).
    Delete,
    /// Remove a passive half-open connection and answer the segment that
    /// ended it with the RST of §3.10.7.1, as Linux's tcp_check_req does
    /// (embryonic_reset) for a SYN in SYN-RECEIVED.
    DeleteAndReset,
}

/// Where events go, tagged with this connection's id.
pub(crate) struct Env<'a> {
    pub id: SocketId,
    pub events: &'a mut VecDeque<Event>,
}

/// RFC 7323 §5.5: TS.Recent older than 24 days is invalid for PAWS.
/// Linux's TCP_TIMEOUT_MIN (2 jiffies at HZ=1000): the quick SYN resend
/// after answering an unacceptable SYN-ACK with a RST in SYN-SENT.
pub(crate) const SYN_SENT_QUICK_RETRY: Duration = Duration::from_millis(2);

const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) state: State,
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: SocketAddrV4,
    /// Set when the connection came from a passive OPEN (SYN at a listener).
    pub(crate) passive: bool,
    /// A TCP Fast Open child (RFC 7413 §4.2.2): the SYN's cookie was valid
    /// (or none was needed), its data is in the receive buffer, and the
    /// connection sits in its listener's accept queue from the SYN on. It
    /// may send data in SYN-RECEIVED, and it is a full socket: a RST or a
    /// timeout there is an error the application sees.
    pub(crate) fast_open_child: bool,
    /// The Fast Open option the SYN-ACK carries: a cookie for a client
    /// that asked for one or presented an invalid one (RFC 7413 §4.1.2).
    pub(crate) fast_open_reply: Option<crate::wire::FastOpenCookie>,
    /// The SYN's data was accepted (Linux's syn_data_acked, reported as
    /// TCPI_OPT_SYN_DATA).
    pub(crate) syn_data_acked: bool,
    /// ECN (RFC 3168): negotiation, echo and the sender's reduction.
    pub(crate) ecn: ecn::EcnState,
    /// Active Fast Open (RFC 7413 §4.1): the option our first SYN carries
    /// (a cookie or a cookie request), taken when that SYN goes out, so a
    /// retransmitted SYN has none (Linux's `fo->cookie.len = -1`).
    pub(crate) fast_open_syn: Option<crate::wire::FastOpenCookie>,
    /// Our first SYN carried the Fast Open option (Linux's syn_fastopen),
    /// in the experimental form (syn_fastopen_exp).
    pub(crate) syn_fastopen: bool,
    pub(crate) syn_fastopen_exp: bool,
    /// Bytes of data our first SYN carries (from the send buffer's start;
    /// 0: none). A retransmitted SYN carries none; the data is resent
    /// after the SYN-ACK if it did not acknowledge it.
    pub(crate) syn_data_len: u32,
    /// A change to the endpoint's Fast Open cache, for it to take.
    pub(crate) fast_open_update: Option<crate::fast_open::CacheUpdate>,
    /// The connection failed but its socket lives on, out of the
    /// demultiplexing tables, until the application closes it: unread
    /// data stays readable, or it waits in a listener's accept queue
    /// (Linux's tcp_reset purges only the write queue, and a reset child
    /// stays in the accept queue).
    pub(crate) detached: bool,
    /// The application waits to write until the handshake completes
    /// (Linux's sk_write_pending): the SYN-ACK's ACK waits for its data.
    pub(crate) write_pending: bool,
    pub(crate) config: TcpConfig,
    /// What ICMP errors taught it (path MTU, soft error).
    pub(crate) icmp: crate::icmp::PathState,

    // Send sequence variables (RFC 9293 §3.3.1).
    pub(crate) iss: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    /// Highest sequence sent so far (SND.NXT before an RTO rewound it).
    pub(crate) snd_max: SeqNum,
    pub(crate) snd_wnd: u32,
    pub(crate) snd_wl1: SeqNum,
    pub(crate) snd_wl2: SeqNum,
    /// RFC 5961 §5: the largest window the peer has advertised.
    pub(crate) max_snd_wnd: u32,
    /// The highest right edge (SEG.ACK + window) the peer has offered: no
    /// data is ever sent beyond it (asserted in output).
    pub(crate) snd_max_edge: SeqNum,
    pub(crate) snd_wscale: u8,
    /// The segment being processed is a simultaneous open's SYN,ACK taken
    /// as a bare ACK: its window is unscaled (RFC 7323 §2.2).
    pub(crate) window_unscaled: bool,

    // Receive sequence variables.
    pub(crate) irs: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    /// Stream offset of RCV.NXT (bytes since IRS + 1), for the reassembly queue.
    pub(crate) rcv_offset: u64,
    /// Right edge of the window we last advertised (never moves left, §3.8.6.2.2).
    pub(crate) rcv_adv: SeqNum,
    pub(crate) rcv_wscale: u8,
    /// The (unscaled) window our SYN or SYN-ACK offered.
    pub(crate) syn_window: u32,
    /// Linux's rcv_ssthresh: the most window we offer for now.
    pub(crate) rcv_ssthresh: u32,
    /// The ACK number of the last segment we sent (RFC 7323 Last.ACK.sent).
    pub(crate) last_ack_sent: SeqNum,
    /// Bytes ever queued by `send`, and ever acknowledged (stream offsets).
    pub(crate) snd_written: u64,
    pub(crate) snd_consumed: u64,
    /// Stream offsets where a write ended and not yet acknowledged: the
    /// segment that ends at one carries PSH.
    pub(crate) push_marks: VecDeque<u64>,
    /// Linux's write-side send-queue state: pushed_seq, the tail buffer,
    /// the TSO packet being sent, MSG_EOR records, MSG_MORE / TCP_CORK.
    pub(crate) write_queue: push::WriteQueue,
    /// Linux's record of whether cwnd limited the sender (cwnd_limit.rs).
    pub(crate) cwnd_use: cwnd_limit::CwndUse,
    /// This segment must be ACKed at once (a hole filled, data trimmed).
    pub(crate) ack_forced: bool,
    /// When the last ACK in reply to an unacceptable segment went out.
    pub(crate) last_oow_ack: Option<Instant>,

    // Options negotiated on the handshake.
    pub(crate) window_scaling: bool,
    pub(crate) timestamps: bool,
    pub(crate) sack_permitted: bool,
    pub(crate) ts_offset: u32,
    pub(crate) ts_recent: u32,
    pub(crate) ts_recent_stamp: Instant,
    /// Effective send MSS (peer's MSS, less option overhead).
    pub(crate) smss: u32,
    pub(crate) peer_mss: u16,

    // Buffers.
    pub(crate) send_buffer: SendBuffer,
    pub(crate) recv_buffer: VecDeque<u8>,
    pub(crate) reassembly: Reassembly,
    /// Stream offset of a FIN that arrived ahead of missing data.
    pub(crate) pending_fin: Option<u64>,

    // Closing.
    /// The application asked for a FIN (shutdown or close).
    pub(crate) fin_queued: bool,
    /// Sequence number our FIN occupies, once sent.
    pub(crate) fin_seq: Option<SeqNum>,
    pub(crate) fin_received: bool,
    /// close() was called: the application will not read again.
    pub(crate) orphaned: bool,
    pub(crate) error: Option<SocketError>,

    // Retransmission and congestion control.
    pub(crate) rtt: RttEstimator,
    pub(crate) cc: Box<dyn CongestionControl>,
    pub(crate) retries: u32,
    /// Round-trip timing of one segment without timestamps (Karn).
    pub(crate) rtt_timing: Option<(SeqNum, Instant)>,
    /// Loss recovery: its phase, duplicate ACKs, the RFC 6675 variables
    /// (`recovery.rs`).
    pub(crate) rec: Recovery,
    /// RACK-TLP (RFC 8985), used when `config.rack` and SACK are on (`rack.rs`).
    pub(crate) rack: rack::Rack,
    /// RFC 6937 PRR, when `config.prr` is on (`prr.rs`).
    pub(crate) prr: prr::Prr,
    /// The undo of a spurious window reduction (`undo.rs`).
    pub(crate) undo: undo::Undo,

    // SACK (RFC 2018, RFC 6675), used when `sack_permitted`.
    /// What the peer has SACKed above SND.UNA.
    pub(crate) scoreboard: Scoreboard,
    /// Receiver side: the SACK blocks reported most recently, latest first.
    pub(crate) sack_report: SackReport,
    /// A duplicate the peer sent, to report once as the first SACK block of
    /// our next ACK (RFC 2883 D-SACK; Linux tcp_dsack_set).
    pub(crate) dsack: Option<(SeqNum, SeqNum)>,
    pub(crate) last_send_time: Instant,
    /// End of the last small segment sent (Minshall's Nagle variant, as Linux's snd_sml).
    pub(crate) snd_sml: SeqNum,

    // Acknowledgment state.
    pub(crate) ack_now: bool,
    /// Bytes received since our last ACK (ACK at least every second full segment).
    pub(crate) ack_pending_segments: u32,
    pub(crate) quick_acks_left: u32,
    /// Linux's icsk_ack.rcv_mss: the peer's segment size as seen on
    /// arrival (0 until the first data), for the quick-ACK count.
    pub(crate) rcv_mss: u32,
    /// Linux's delayed-ACK engine (tcp_event_data_recv): `ato` estimates
    /// the peer's gap between data segments (zero until data arrives),
    /// `lrcvtime` is when data last arrived, and `pingpong` marks an
    /// interactive exchange, where ACKs wait to ride on the reply.
    pub(crate) ato: Duration,
    pub(crate) lrcvtime: Instant,
    pub(crate) pingpong: bool,
    /// SYN or SYN-ACK waiting to be (re)sent.
    pub(crate) syn_pending: bool,
    pub(crate) probe_pending: bool,
    pub(crate) keepalive_probes_sent: u32,
    pub(crate) persist_backoff: u32,
    /// Zero-window probes sent since the peer's last acceptable ACK
    /// (Linux's icsk_probes_out).
    pub(crate) probes_unanswered: u32,
    pub(crate) challenge_window_start: Instant,
    pub(crate) challenge_count: u32,
    /// A RST to send with `<SEQ=SND.NXT><ACK=RCV.NXT>` (abort, unread close).
    pub(crate) rst_pending: bool,
    /// A bare `<SEQ=x><CTL=RST>` reply (unacceptable ACK in SYN-SENT / SYN-RECEIVED).
    pub(crate) reply_rst: Option<SeqNum>,
    pub(crate) writable_blocked: bool,

    pub(crate) timers: [Option<Instant>; TIMER_COUNT],
    pub(crate) counters: Counters,
}

impl Connection {
    pub(crate) fn new(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        mut config: TcpConfig,
        now: Instant,
    ) -> Connection {
        // An MSS too small to carry the timestamp option and data (0 is a
        // valid u16) would underflow every size derived from it.
        config.mss = config.mss.max(crate::config::TCP_MIN_MSS);
        let smss = u32::from(config.mss);
        let cc: Box<dyn CongestionControl> = match config.congestion {
            CongestionAlgorithm::NewReno => Box::new(NewReno::new(smss)),
            CongestionAlgorithm::Cubic => Box::new(crate::cc::cubic::Cubic::new(smss)),
        };
        Connection {
            state: State::Closed,
            local,
            remote,
            passive: false,
            fast_open_child: false,
            fast_open_reply: None,
            syn_data_acked: false,
            ecn: ecn::EcnState::default(),
            fast_open_syn: None,
            syn_fastopen: false,
            syn_fastopen_exp: false,
            syn_data_len: 0,
            fast_open_update: None,
            write_pending: false,
            detached: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_max_edge: iss,
            snd_wscale: 0,
            window_unscaled: false,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_offset: 0,
            rcv_adv: SeqNum(0),
            rcv_wscale: 0,
            syn_window: 0,
            rcv_ssthresh: 0,
            last_ack_sent: SeqNum(0),
            snd_written: 0,
            snd_consumed: 0,
            push_marks: VecDeque::new(),
            write_queue: push::WriteQueue::default(),
            cwnd_use: cwnd_limit::CwndUse::new(iss),
            ack_forced: false,
            last_oow_ack: None,
            window_scaling: false,
            timestamps: false,
            sack_permitted: false,
            ts_offset,
            ts_recent: 0,
            ts_recent_stamp: now,
            smss,
            peer_mss: 536,
            send_buffer: SendBuffer::new(config.send_buffer),
            recv_buffer: VecDeque::new(),
            reassembly: Reassembly::default(),
            pending_fin: None,
            fin_queued: false,
            fin_seq: None,
            fin_received: false,
            orphaned: false,
            error: None,
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            cc,
            retries: 0,
            rtt_timing: None,
            rec: Recovery::new(iss),
            rack: rack::Rack::new(),
            prr: prr::Prr::default(),
            undo: undo::Undo::default(),
            scoreboard: Scoreboard::default(),
            sack_report: SackReport::default(),
            dsack: None,
            last_send_time: now,
            snd_sml: iss,
            ack_now: false,
            ack_pending_segments: 0,
            // Linux starts quick-ACK mode with the first data, sized by the
            // window (tcp_incr_quickack), not at connection set-up.
            quick_acks_left: 0,
            rcv_mss: 0,
            ato: Duration::ZERO,
            lrcvtime: now,
            pingpong: false,
            syn_pending: false,
            probe_pending: false,
            keepalive_probes_sent: 0,
            persist_backoff: 0,
            probes_unanswered: 0,
            challenge_window_start: now,
            challenge_count: 0,
            rst_pending: false,
            reply_rst: None,
            writable_blocked: false,
            timers: [None; TIMER_COUNT],
            counters: Counters::default(),
            icmp: crate::icmp::PathState::default(),
            config,
        }
    }

    pub(crate) fn set_state(&mut self, to: State, env: &mut Env<'_>) {
        let from = self.state;
        if from == to {
            return;
        }
        debug_assert!(
            from.can_transition_to(to),
            "illegal transition {from} -> {to}"
        );
        self.state = to;
        tracing::debug!(conn = ?env.id, "state {from} -> {to}");
        env.events.push_back(Event::StateChanged {
            id: env.id,
            from,
            to,
        });
    }

    /// Linux's tcp_finish_connect and tcp_create_openreq_child set
    /// `lrcvtime` when the connection is established, so
    /// `tcpi_last_data_recv` counts from then until data arrives. Before
    /// data nothing else reads it (the delayed-ACK engine starts from the
    /// first data), so this changes no behaviour.
    pub(crate) fn note_established_rcv_time(&mut self, now: Instant) {
        if self.ato == Duration::ZERO {
            self.lrcvtime = now;
        }
    }

    // ----- timers -----

    pub(crate) fn set_timer(&mut self, timer: Timer, at: Instant) {
        self.timers[timer as usize] = Some(at);
        if timer == Timer::Retransmit {
            // The slot is an RTO unless RACK says otherwise after this.
            self.rack.timer = rack::XmitTimer::Rto;
        }
    }
    pub(crate) fn clear_timer(&mut self, timer: Timer) {
        self.timers[timer as usize] = None;
        if timer == Timer::Retransmit {
            self.rack.timer = rack::XmitTimer::Rto;
        }
    }
    pub(crate) fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer as usize]
    }

    /// The next instant anything is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// RFC 6298 §5.1: (re)start the retransmission timer.
    pub(crate) fn restart_rto(&mut self, now: Instant) {
        self.set_timer(Timer::Retransmit, now + self.rtt.rto());
    }

    /// The RFC 7323 timestamp clock: milliseconds plus a per-connection offset
    /// (§5.4), as Linux's 1 kHz TS clock.
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// The right edge of the send window as the peer offered it: the
    /// window counts from the ACK that carried it (SND.WL2), not from
    /// SND.UNA, which may have moved on with an ACK whose window was
    /// refused (RFC 9293 §3.10.7.4's SND.WL1/SND.WL2 test).
    pub(crate) fn snd_wnd_edge(&self) -> SeqNum {
        self.snd_wl2 + self.snd_wnd
    }

    /// Octets of send window from SND.UNA to the offered right edge
    /// (zero if the edge is behind SND.UNA).
    pub(crate) fn send_window(&self) -> u32 {
        if planted!(PastRightEdge) {
            return self.snd_wnd;
        }
        self.snd_wnd_edge().diff(self.snd_una).max(0) as u32
    }

    /// Our SYN is sent (or due) and not yet acknowledged. SND.UNA - ISS
    /// counts the SYN, the data acknowledged and the FIN, so SND.UNA = ISS
    /// with no data acknowledged means the SYN's ACK has not come, however
    /// many times the sequence space has wrapped since.
    pub(crate) fn syn_unacked(&self) -> bool {
        self.snd_una == self.iss && self.snd_consumed == 0
    }

    /// Bytes sent and not yet acknowledged (SYN and FIN excluded).
    pub(crate) fn flight_size(&self) -> u32 {
        self.snd_max
            .since(self.snd_una)
            .min(self.send_buffer.len() as u32)
    }

    /// Free receive space: the window we can offer (RFC 9293 §3.8.6.2.2).
    pub(crate) fn recv_space(&self) -> u32 {
        (self
            .config
            .recv_buffer
            .saturating_sub(self.recv_buffer.len()))
        .min(u32::MAX as usize) as u32
    }

    /// The space a SYN's window is offered from: the free receive space,
    /// at most half the initial receive buffer (Linux's tcp_full_space at
    /// the handshake, tcp_openreq_init_rwin and tcp_connect_init).
    pub(crate) fn syn_space(&self) -> u32 {
        self.recv_space()
            .min((self.config.recv_buffer_initial / 2).min(u32::MAX as usize) as u32)
    }

    /// RCV.WND as we last announced it.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv.diff(self.rcv_nxt) > 0 {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        }
    }

    // ----- user calls (RFC 9293 §3.10.2-§3.10.6) -----

    /// SEND (§3.10.2): queue data; segmentation happens in output.
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, SocketError> {
        self.send_with(data, push::SendFlags::default())
    }

    /// SEND with MSG_EOR / MSG_MORE ([`push::SendFlags`]).
    pub(crate) fn send_with(
        &mut self,
        data: &[u8],
        flags: push::SendFlags,
    ) -> Result<usize, SocketError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(SocketError::NotConnected),
            _ => return Err(SocketError::BrokenPipe),
        }
        if self.fin_queued {
            return Err(SocketError::BrokenPipe);
        }
        let n = self
            .send_buffer
            .push(&data[..self.lowat_accepts(data.len())]);
        if n > 0 {
            // Linux marks PSH at the end of each write (tcp_push), and a
            // segment keeps its PSH when retransmitted; push.rs has the rest.
            let start = self.snd_written;
            self.snd_written += n as u64;
            // A write cut short by a full buffer ends no record, and Linux
            // pushes what it queued before waiting (tcp_push without MSG_MORE).
            let flags = if n < data.len() {
                push::SendFlags::default()
            } else {
                flags
            };
            self.note_write(start, self.snd_written, flags);
        }
        if n == 0 && !data.is_empty() {
            self.writable_blocked = true;
            return Err(SocketError::WouldBlock);
        }
        Ok(n)
    }

    /// RECEIVE (§3.10.3): `Ok(0)` is end of stream.
    pub(crate) fn recv(&mut self, buf: &mut [u8], now: Instant) -> Result<usize, SocketError> {
        if self.recv_buffer.is_empty() {
            if let Some(e) = self.error {
                return Err(e);
            }
            if self.fin_received {
                return Ok(0);
            }
            return match self.state {
                State::Closed | State::Listen => Err(SocketError::NotConnected),
                _ => Err(SocketError::WouldBlock),
            };
        }
        let before = self.recv_space();
        let n = buf.len().min(self.recv_buffer.len());
        // Two memcpys from the ring's halves, then drop the bytes read.
        let (front, back) = self.recv_buffer.as_slices();
        let k = n.min(front.len());
        buf[..k].copy_from_slice(&front[..k]);
        buf[k..n].copy_from_slice(&back[..n - k]);
        self.recv_buffer.drain(..n);
        // RFC 9293 §3.8.6.2.2 receiver SWS avoidance: announce the opened
        // window only once it has grown by min(buffer/2, MSS).
        let opened = self.recv_space() - before;
        let threshold = (self.config.recv_buffer as u32 / 2).min(u32::from(self.config.mss));
        // No update once the peer's FIN is in: no more data can come (Linux's
        // tcp_cleanup_rbuf skips it after RCV_SHUTDOWN).
        if self.state.is_synchronized()
            && !self.fin_received
            && self.rcv_wnd() < threshold
            && opened > 0
        {
            let potential = self.recv_space().saturating_sub(self.rcv_wnd());
            if potential >= threshold {
                self.ack_now = true;
            }
        }
        let _ = now;
        Ok(n)
    }

    /// CLOSE for the write side (§3.10.4 as SHUT_WR): queue a FIN after the data.
    pub(crate) fn shutdown(&mut self, env: &mut Env<'_>) -> Result<(), SocketError> {
        match self.state {
            State::Established => {
                self.fin_queued = true;
                self.set_state(State::FinWait1, env);
                Ok(())
            }
            State::SynReceived if planted!(SynReceivedShutdownShift) => {
                self.fin_queued = true;
                self.set_state(State::FinWait1, env);
                Ok(())
            }
            State::SynReceived => {
                // §3.10.4 CLOSE in SYN-RECEIVED: "If no SENDs have been
                // issued and there is no pending data to send, then form a
                // FIN segment and send it, and enter FIN-WAIT-1 state;
                // otherwise, queue for processing after entering
                // ESTABLISHED state." Linux queues in both cases: its FIN
                // waits until our SYN is acknowledged (packetdrill on Linux
                // 6.18: after a simultaneous open, shutdown(SHUT_WR) sends
                // nothing; the RTO resends the SYN,ACK alone; the FIN
                // follows the peer's ACK; scripts/simultaneous-open-shutdown).
                // So the close waits here and the SYN-RECEIVED ACK step
                // enters FIN-WAIT-1; the FIN never overtakes the SYN.
                self.fin_queued = true;
                Ok(())
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(State::LastAck, env);
                Ok(())
            }
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Ok(()),
            State::SynSent => {
                // §3.10.4: CLOSE in SYN-SENT deletes the TCB (the endpoint
                // removes it, timers and all, on seeing CLOSED).
                self.set_state(State::Closed, env);
                env.events.push_back(Event::Closed(env.id));
                Ok(())
            }
            State::Closed | State::Listen => Err(SocketError::NotConnected),
        }
    }

    /// CLOSE (§3.10.4). With unread data, abort with RST (RFC 2525 §2.17,
    /// RFC 9293 §3.10.4 / RFC 1122 4.2.2.13), as Linux does.
    pub(crate) fn close(&mut self, now: Instant, env: &mut Env<'_>) -> Disposition {
        self.orphaned = true;
        if !self.recv_buffer.is_empty() && self.state.is_synchronized()
            || (!self.recv_buffer.is_empty() && self.state == State::SynReceived)
        {
            return self.abort(env);
        }
        match self.state {
            State::Closed | State::Listen | State::SynSent => {
                self.set_state(State::Closed, env);
                Disposition::Delete
            }
            _ => {
                let _ = self.shutdown(env);
                if self.state == State::FinWait2 {
                    self.set_timer(Timer::FinWait2, now + self.config.fin_wait_2_timeout);
                }
                if self.state == State::Closed {
                    Disposition::Delete
                } else {
                    Disposition::Keep
                }
            }
        }
    }

    /// ABORT (§3.10.5): in a synchronized state (or SYN-RECEIVED) send
    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>` (Linux's `R.`), then CLOSED.
    pub(crate) fn abort(&mut self, env: &mut Env<'_>) -> Disposition {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.rst_pending = true;
        }
        self.recv_buffer.clear();
        // Linux (tcp_abort): the socket's error becomes ECONNABORTED, so a
        // read or write after a local abort fails instead of reading as
        // end of stream; an error already there (a reset) is kept.
        self.error.get_or_insert(SocketError::ConnectionAborted);
        self.set_state(State::Closed, env);
        env.events.push_back(Event::Closed(env.id));
        // Keep the TCB until the RST is out; the endpoint deletes it after output.
        if self.rst_pending {
            Disposition::Keep
        } else {
            Disposition::Delete
        }
    }

    /// The connection is over with an error.
    pub(crate) fn fail(&mut self, error: SocketError, env: &mut Env<'_>) -> Disposition {
        // Linux's tcp_write_err: a timeout reports the last ICMP soft
        // error, if any (RFC 1122 §4.2.3.9).
        let error = match (error, self.icmp.soft_error) {
            (SocketError::TimedOut, Some(soft)) => soft,
            _ => error,
        };
        self.error = Some(error);
        env.events.push_back(Event::Error(env.id, error));
        self.set_state(State::Closed, env);
        env.events.push_back(Event::Closed(env.id));
        Disposition::Delete
    }

    /// Ends the connection without error (LAST-ACK acknowledged, TIME-WAIT expired).
    pub(crate) fn finish(&mut self, env: &mut Env<'_>) -> Disposition {
        self.set_state(State::Closed, env);
        env.events.push_back(Event::Closed(env.id));
        Disposition::Delete
    }

    pub(crate) fn enter_time_wait(&mut self, now: Instant, env: &mut Env<'_>) {
        self.set_state(State::TimeWait, env);
        for t in [
            Timer::Retransmit,
            Timer::Persist,
            Timer::Keepalive,
            Timer::FinWait2,
            Timer::DelayedAck,
        ] {
            self.clear_timer(t);
        }
        self.set_timer(Timer::TimeWait, now + self.config.msl.saturating_mul(2));
    }

    // ----- timeouts (RFC 9293 §3.10.8) -----

    pub(crate) fn on_timeout(&mut self, now: Instant, env: &mut Env<'_>) -> Disposition {
        for timer in TIMERS {
            let Some(at) = self.timer(timer) else {
                continue;
            };
            if at > now {
                continue;
            }
            // What the retransmission slot held (RTO, or RACK's timers).
            let slot = self.rack.timer;
            self.clear_timer(timer);
            let d = match timer {
                Timer::Retransmit => self.on_retransmit_timeout(now, env, slot),
                Timer::DelayedAck => {
                    // Linux (tcp_delack_timer_handler): a delayed ACK that
                    // no reply carried ends pingpong mode and resets ato;
                    // outside it, ato doubles (up to the RTO).
                    let ato_min = self.config.delayed_ack.unwrap_or(Duration::ZERO);
                    if self.pingpong {
                        self.pingpong = false;
                        self.ato = ato_min;
                    } else {
                        self.ato = self.ato.saturating_mul(2).min(self.rtt.rto());
                    }
                    self.ack_now = true;
                    Disposition::Keep
                }
                Timer::Persist => {
                    // RFC 9293 §3.8.6.1 lets probing go on while the peer
                    // answers; a peer that answers nothing is dead. Linux
                    // (tcp_probe_timer) gives up after tcp_retries2
                    // unanswered probes with ETIMEDOUT, sending no RST.
                    if self.probes_unanswered >= self.config.data_retries {
                        return self.fail(SocketError::TimedOut, env);
                    }
                    self.probes_unanswered += 1;
                    // RFC 9293 §3.8.6.1: probe the zero window; Linux sends
                    // an ACK with SEQ = SND.UNA - 1 and no data.
                    self.probe_pending = true;
                    self.counters.zero_window_probes += 1;
                    self.persist_backoff = self.persist_backoff.saturating_add(1);
                    tracing::debug!(conn = ?env.id, backoff = self.persist_backoff, "zero-window probe (persist timer)");
                    self.arm_persist(now);
                    Disposition::Keep
                }
                Timer::Keepalive => self.on_keepalive_timeout(now, env),
                // §3.10.8: TIME-WAIT timeout deletes the TCB.
                Timer::TimeWait => self.finish(env),
                Timer::FinWait2 => self.finish(env),
            };
            if d != Disposition::Keep {
                return d;
            }
        }
        Disposition::Keep
    }

    fn on_retransmit_timeout(
        &mut self,
        now: Instant,
        env: &mut Env<'_>,
        slot: rack::XmitTimer,
    ) -> Disposition {
        if slot != rack::XmitTimer::Rto {
            // The slot held RACK's reorder timer or the PTO (RFC 8985).
            self.rack_on_timer(now, slot);
            return Disposition::Keep;
        }
        self.counters.timeouts += 1;
        let limit = match self.state {
            State::SynSent => self.config.syn_retries,
            // Linux's tcp_fastopen_synack_timer: one more try for a Fast
            // Open child, whose application may hold it already.
            State::SynReceived if self.fast_open_child => self.config.synack_retries + 1,
            State::SynReceived => self.config.synack_retries,
            _ => self.config.data_retries,
        };
        if self.retries >= limit {
            if self.state == State::SynReceived && self.passive && !self.fast_open_child {
                // A half-open passive connection that never completed just goes away.
                self.set_state(State::Closed, env);
                return Disposition::Delete;
            }
            return self.fail(SocketError::TimedOut, env);
        }
        self.retries += 1;
        // RFC 6298 §5.5-5.6: back off and restart the timer.
        self.rtt.back_off();
        tracing::debug!(conn = ?env.id, state = %self.state, retries = self.retries, rto = ?self.rtt.rto(), "retransmission timeout: RTO backed off, leaving any recovery");
        self.rtt_timing = None;
        match self.state {
            State::SynSent | State::SynReceived => {
                if self.state == State::SynSent {
                    self.fast_open_syn_timeout();
                }
                self.syn_pending = true;
            }
            _ => {
                // RFC 5681 §3.1 loss window, RFC 6582 §3.2 step 4: leave recovery.
                let flight = self.flight_size();
                self.cc.on_rto(now, flight);
                self.ecn_on_rto();
                self.rec.on_rto();
                if self.sack_permitted {
                    self.sack_on_rto();
                    self.rack_on_rto();
                }
                self.prr_stop();
                self.undo_clear();
                // Retransmit from SND.UNA (go-back-N, as Linux after RTO; with
                // SACK skipping what the receiver holds); the FIN, if sent,
                // is resent once the data before it is.
                self.snd_nxt = self.snd_una;
            }
        }
        self.restart_rto(now);
        Disposition::Keep
    }

    fn on_keepalive_timeout(&mut self, now: Instant, env: &mut Env<'_>) -> Disposition {
        let Some(ka) = self.config.keepalive else {
            return Disposition::Keep;
        };
        if !self.keepalive_applies() || self.snd_una != self.snd_max {
            self.set_timer(Timer::Keepalive, now + ka.idle);
            return Disposition::Keep;
        }
        if self.keepalive_probes_sent >= ka.probes {
            // Linux sends a RST when keepalive gives up, then reports ETIMEDOUT.
            self.rst_pending = true;
            self.error = Some(SocketError::TimedOut);
            env.events
                .push_back(Event::Error(env.id, SocketError::TimedOut));
            self.set_state(State::Closed, env);
            env.events.push_back(Event::Closed(env.id));
            return Disposition::Keep;
        }
        self.keepalive_probes_sent += 1;
        self.counters.keepalive_probes += 1;
        self.probe_pending = true;
        self.set_timer(Timer::Keepalive, now + ka.interval);
        Disposition::Keep
    }

    /// Whether keepalive runs in this state. Linux's keepalive timer
    /// (tcp_keepalive_timer) runs in every state of a full socket but
    /// CLOSE and SYN-SENT, so a half-closed socket in FIN-WAIT-2 whose
    /// peer vanished is found too; probes wait while anything is
    /// outstanding (the retransmission timer covers that). An orphaned
    /// FIN-WAIT-2 has its own timeout instead (tcp_fin_timeout), and
    /// TIME-WAIT is a mini-socket with none.
    fn keepalive_applies(&self) -> bool {
        if planted!(KeepaliveIgnoresFinWait2) {
            return matches!(self.state, State::Established | State::CloseWait);
        }
        match self.state {
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => true,
            State::FinWait2 => !self.orphaned,
            State::Closed
            | State::Listen
            | State::SynSent
            | State::SynReceived
            | State::TimeWait => false,
        }
    }

    /// Keepalive restarts from any segment received (RFC 9293 §3.8.4: idle time).
    pub(crate) fn touch_keepalive(&mut self, now: Instant) {
        if let Some(ka) = self.config.keepalive
            && self.keepalive_applies()
        {
            self.keepalive_probes_sent = 0;
            self.set_timer(Timer::Keepalive, now + ka.idle);
        }
    }

    pub(crate) fn arm_persist(&mut self, now: Instant) {
        let base = self.rtt.rto().max(self.config.rto_min);
        let backoff = base.saturating_mul(1u64 << self.persist_backoff.min(16));
        self.set_timer(Timer::Persist, now + backoff.min(self.config.rto_max));
    }

    /// Whether the connection is closed with no RST left to send (the one
    /// abort queued, or a reply to the segment that ended it).
    pub(crate) fn is_dead(&self) -> bool {
        self.state == State::Closed && !self.rst_pending && self.reply_rst.is_none()
    }

    pub(crate) fn paws_recent_valid(&self, now: Instant) -> bool {
        now.saturating_since(self.ts_recent_stamp) < PAWS_IDLE_LIMIT
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn a_half_open_entry_is_bounded() {
        // What a SYN costs the listener before the handshake completes
        // (RFC 4987 §3.1): one boxed TCB whose buffers are still empty
        // (they allocate only when data arrives), plus the congestion
        // controller's box and the endpoint's table entries. The figure is
        // stated in `Endpoint`'s docs; this keeps it honest.
        let tcb = std::mem::size_of::<Connection>();
        println!("Connection: {tcb} bytes");
        assert!(tcb <= 1664, "a TCB is {tcb} bytes");
    }
}
