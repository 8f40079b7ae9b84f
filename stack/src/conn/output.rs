//! What to send next: SYN/SYN-ACK, data (window, congestion window, Nagle,
//! sender SWS avoidance), FIN, ACKs, probes and RSTs.

use super::{Connection, Timer};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::types::State;
use crate::wire::{Flags, SackBlock, TcpOptions};

/// One segment's header fields; its payload is in the caller's buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: Flags,
    pub window: u16,
    pub options: TcpOptions,
}

impl Connection {
    /// Whether `poll_segment` might produce something now.
    pub(crate) fn wants_output(&self) -> bool {
        self.rst_pending
            || self.reply_rst.is_some()
            || self.syn_pending
            || self.ack_now
            || self.probe_pending
            || self.rec.retransmit_head
            || (self.sack_permitted && self.sack_retransmission_ready())
            || self.rack.tlp_due
            || (self.state.is_synchronized() || self.state == State::SynReceived)
                && self.has_sendable()
    }

    fn has_sendable(&self) -> bool {
        let sent = self.data_offset(self.snd_nxt) as usize;
        self.send_buffer.len() > sent.min(self.send_buffer.len())
            || (self.fin_queued && self.fin_seq.is_none_or(|fin| self.snd_nxt.diff(fin) <= 0))
    }

    /// Where `seq` falls in the send buffer: octets of data from SND.UNA,
    /// not counting our SYN while it is unacknowledged (the data starts
    /// at ISS + 1 whatever SND.UNA says).
    fn data_offset(&self, seq: SeqNum) -> u32 {
        let syn = self.syn_unacked() && !planted!(SynReceivedShutdownShift);
        seq.since(self.snd_una) - u32::from(syn)
    }

    /// The receive window to advertise, scaled, never shrinking the right
    /// edge already offered (RFC 9293 §3.8.6.2.2 and RFC 7323 §2.4), with
    /// receiver SWS avoidance.
    fn window_to_advertise(&mut self, syn: bool) -> u16 {
        let space = self.recv_space();
        if syn {
            // SYN windows are not scaled; Linux rounds the initial window
            // down to a multiple of the MSS (64240 for MSS 1460).
            let w = crate::syncookie::syn_window(self.syn_space(), self.config.mss);
            self.syn_window = w;
            self.rcv_ssthresh = w;
            self.rcv_adv = self.rcv_nxt + w;
            return w as u16;
        }
        // Linux offers no more than rcv_ssthresh, which starts at the SYN's
        // window and grows as full-sized segments arrive (tcp_grow_window),
        // so early ACKs read `win 502` at wscale 7 whatever the buffer.
        let space = space.min(self.rcv_ssthresh.max(self.syn_window));
        let current = self.rcv_wnd();
        let threshold = (self.config.recv_buffer as u32 / 2).min(u32::from(self.config.mss));
        let mut wnd = if space >= current + threshold || space == 0 || space < current {
            space.max(current)
        } else {
            current
        };
        let shift = u32::from(self.rcv_wscale);
        // Linux rounds the window up to the scale's granularity so that
        // scaling never announces less than it means (tcp_select_window).
        let unit = (1u32 << shift) - 1;
        wnd = wnd.saturating_add(unit) & !unit;
        wnd = wnd.min(65535u32 << shift);
        let field = (wnd >> shift) as u16;
        let edge = self.rcv_nxt + (u32::from(field) << shift);
        if edge.diff(self.rcv_adv) > 0 {
            self.rcv_adv = edge;
        }
        field
    }

    /// A segment with no data: ACK of RCV.NXT at `seq`, current window.
    fn pure_ack(&mut self, seq: SeqNum, now: Instant) -> Outgoing {
        let window = self.window_to_advertise(false);
        let seg = Outgoing {
            seq,
            ack: self.rcv_nxt,
            flags: Flags::ACK,
            window,
            options: self.ack_options(now),
        };
        self.mark_sent(&seg, 0, now);
        seg
    }

    fn ack_options(&self, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.timestamps {
            o.timestamps = Some((self.ts_now(now), self.ts_recent));
        }
        if self.sack_permitted && (self.dsack.is_some() || !self.reassembly.is_empty()) {
            // RFC 2018 §4: the first block holds the most recently received
            // out-of-order segment, then the blocks reported most recently,
            // then (as many distinct blocks as fit) the others in sequence
            // order. RFC 2018 §3: 40 bytes of options hold 4 blocks, or 3
            // beside the timestamp option (`encode_into` truncates the same way).
            let room = if self.timestamps {
                crate::wire::MAX_SACK_BLOCKS - 1
            } else {
                crate::wire::MAX_SACK_BLOCKS
            };
            let base = self.rcv_offset;
            let to_block = |(start, end): (u64, u64)| SackBlock {
                left: self.rcv_nxt + (start - base) as u32,
                right: self.rcv_nxt + (end - base) as u32,
            };
            let mut n = 0;
            // RFC 2883 §4: a D-SACK block goes first.
            if let Some((left, right)) = self.dsack {
                o.sack_blocks[0] = SackBlock { left, right };
                n = 1;
            }
            for &block in self.sack_report.blocks() {
                if n == room {
                    break;
                }
                if self.reassembly.block_containing(block.0) == Some(block) {
                    o.sack_blocks[n] = to_block(block);
                    n += 1;
                }
            }
            for block in self.reassembly.ranges() {
                if n == room {
                    break;
                }
                let candidate = to_block(block);
                if !o.sack_blocks[..n].contains(&candidate) {
                    o.sack_blocks[n] = candidate;
                    n += 1;
                }
            }
            o.sack_count = n as u8;
        }
        o
    }

    fn mark_sent(&mut self, seg: &Outgoing, payload_len: usize, now: Instant) {
        if seg.flags.ack() {
            self.dsack = None;
            self.last_ack_sent = seg.ack;
            self.ack_now = false;
            self.ack_forced = false;
            self.ack_pending_segments = 0;
            self.clear_timer(Timer::DelayedAck);
        }
        self.counters.segments_sent += 1;
        self.counters.bytes_sent += payload_len as u64;
        self.last_send_time = now;
    }

    /// Produces the next segment, copying its payload into `payload`.
    pub(crate) fn poll_segment(&mut self, now: Instant, payload: &mut Vec<u8>) -> Option<Outgoing> {
        payload.clear();
        if let Some(seq) = self.reply_rst.take() {
            return Some(Outgoing {
                seq,
                ack: SeqNum(0),
                flags: Flags::RST,
                window: 0,
                options: TcpOptions::default(),
            });
        }
        if self.rst_pending {
            self.rst_pending = false;
            // RFC 9293 §3.10.5 / Linux: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>,
            // with the timestamp option when the connection uses it (RFC
            // 7323 §3.2: "TSopt SHOULD be sent in an <RST> segment"; Linux's
            // tcp_send_active_reset does).
            let mut options = TcpOptions::default();
            if self.timestamps {
                options.timestamps = Some((self.ts_now(now), self.ts_recent));
            }
            let seg = Outgoing {
                seq: self.snd_max,
                ack: self.rcv_nxt,
                flags: Flags::RST | Flags::ACK,
                window: 0,
                options,
            };
            self.counters.segments_sent += 1;
            return Some(seg);
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => return self.poll_syn(now, false, payload),
            State::SynReceived if self.syn_pending => return self.poll_syn(now, true, payload),
            _ => {}
        }
        if let Some(seg) = self.poll_data(now, payload, false) {
            return Some(seg);
        }
        if self.probe_pending {
            self.probe_pending = false;
            // The persist timer overrides sender SWS avoidance: if the
            // window has room for any data, send what fits (RFC 9293
            // §3.8.6.2.1 "override timeout"; Linux's tcp_write_wakeup).
            if self.send_window() > self.snd_nxt.since(self.snd_una)
                && let Some(seg) = self.poll_data(now, payload, true)
            {
                return Some(seg);
            }
            // Zero-window and keepalive probes: SEQ = SND.UNA - 1, no data
            // (Linux's tcp_xmit_probe_skb), which the peer must ACK.
            return Some(self.pure_ack(self.snd_una - 1, now));
        }
        if self.ack_now {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with SND.NXT as the peer
            // knows it: the highest sequence sent (Linux's snd_nxt never
            // moves back). After an RTO rewound our SND.NXT for go-back-N,
            // the old value can lie below the peer's RCV.NXT; the peer would
            // find the ACK unacceptable (RFC 9293 §3.10.7.4), drop its ACK
            // field and answer with an ACK of its own -- and if its SND.NXT
            // was rewound too, the two ACK each other forever.
            return Some(self.pure_ack(self.snd_max, now));
        }
        self.ack_now = false;
        None
    }

    fn poll_syn(&mut self, now: Instant, syn_ack: bool, payload: &mut Vec<u8>) -> Option<Outgoing> {
        if !self.syn_pending {
            return None;
        }
        self.syn_pending = false;
        let window = self.window_to_advertise(true);
        // RFC 7413 §4.1: the first SYN of an active Fast Open carries the
        // cookie option and its data; a retransmitted one neither.
        let first = self.snd_max == self.iss;
        let mut options = self.syn_options(now, syn_ack);
        let mut data_len = 0;
        if !syn_ack && first {
            options.fast_open = self.fast_open_syn.take();
            data_len = self.syn_data_len.min(self.send_buffer.len() as u32);
            self.syn_data_len = data_len;
            self.send_buffer.copy_to(0, data_len as usize, payload);
            // Linux times the SYN (tcp_clean_rtx_queue takes the RTT from
            // the SYN's skb), so a Fast Open SYN-ACK that acknowledges only
            // part of the data still gives a sample. (Plain SYNs are timed
            // by timestamps only, as before.)
            if self.syn_fastopen || data_len > 0 {
                self.rtt_timing = Some((self.iss, now));
            }
        }
        let seg = Outgoing {
            seq: self.iss,
            ack: if syn_ack { self.rcv_nxt } else { SeqNum(0) },
            flags: if syn_ack {
                Flags::SYN | Flags::ACK
            } else {
                Flags::SYN
            },
            window,
            options,
        };
        if first {
            self.snd_nxt = self.iss + 1 + data_len;
            self.snd_max = self.snd_nxt;
            self.counters.bytes_sent += u64::from(data_len);
        } else {
            tracing::debug!(
                syn_ack,
                seq = self.iss.0,
                "retransmit SYN: retransmission timeout"
            );
            self.counters.retransmitted_segments += 1;
        }
        if self.timer(Timer::Retransmit).is_none() {
            self.restart_rto(now);
        }
        if syn_ack {
            self.last_ack_sent = self.rcv_nxt;
        }
        self.counters.segments_sent += 1;
        self.last_send_time = now;
        Some(seg)
    }

    /// The usable congestion window: cwnd plus fast-recovery inflation
    /// (PRR's window during a recovery it paces, RFC 6937).
    fn cwnd(&self) -> u32 {
        // RFC 3042 limited transmit (RFC 5681 §3.2: SHOULD): each of the
        // first two duplicate ACKs lets one new segment out beyond cwnd.
        // With SACK the in-flight estimate leaves the SACKed data out,
        // which does the same.
        let limited_transmit =
            if self.config.limited_transmit && !self.rec.in_recovery() && !self.sack_permitted {
                self.rec.dup_acks.min(2) * self.smss
            } else {
                0
            };
        self.recovery_cwnd()
            .saturating_add(self.rec.inflation())
            .saturating_add(limited_transmit)
    }

    /// The next data (or FIN) segment. `force` is the persist timer's
    /// override of Nagle and sender SWS avoidance.
    fn poll_data(&mut self, now: Instant, payload: &mut Vec<u8>, force: bool) -> Option<Outgoing> {
        // A Fast Open child may send data in SYN-RECEIVED once its SYN-ACK
        // is out (RFC 7413 §4.2.2; Linux lets it write at once).
        let fast_open_early =
            self.state == State::SynReceived && self.fast_open_child && !self.syn_pending;
        if !fast_open_early
            && !matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::LastAck
                    | State::Closing
            )
        {
            return None;
        }
        if self.rack.tlp_due
            && let Some(seg) = self.poll_loss_probe(now, payload)
        {
            return Some(seg);
        }
        if self.sack_permitted && self.rec.in_recovery() {
            return self.poll_recovery(now, payload);
        }
        // NewReno, or SACK outside recovery, where the in-flight estimate
        // leaves out SACKed data: RFC 6675 §5 step (3), limited transmit
        // governed by pipe.
        self.poll_send(now, payload, force, None)
    }

    /// Sends from SND.NXT (new data, or data an RTO rewound), or the
    /// segment at SND.UNA when `retransmit_head` asks. `pipe` replaces the
    /// in-flight estimate during RFC 6675 recovery.
    pub(super) fn poll_send(
        &mut self,
        now: Instant,
        payload: &mut Vec<u8>,
        force: bool,
        pipe: Option<u32>,
    ) -> Option<Outgoing> {
        let buffered = self.send_buffer.len() as u32;
        let mut retransmission = false;
        if self.sack_permitted
            && !self.rec.retransmit_head
            && self.snd_nxt.diff(self.snd_max) < 0
            && !self.scoreboard.is_empty()
        {
            // RFC 6675 §5.1: after an RTO, fill in the holes: skip what the
            // receiver reported holding.
            self.snd_nxt = self.scoreboard.first_unsacked_from(self.snd_nxt);
        }
        let mut seq = self.snd_nxt;
        let mut offset = self.data_offset(self.snd_nxt);
        if self.rec.retransmit_head {
            // Fast retransmit / partial ACK: resend the segment at SND.UNA
            // whatever the congestion window says (RFC 5681 §3.2 step 2).
            self.rec.retransmit_head = false;
            seq = self.snd_una;
            offset = 0;
            retransmission = true;
        }
        let unsent = buffered.saturating_sub(offset);
        let outstanding = self.snd_nxt.since(self.snd_una);
        // Octets in the network for the congestion window: everything
        // outstanding, less (with SACK) what the receiver holds, or the
        // recovery's `pipe`.
        let in_flight = match pipe {
            Some(p) => p,
            None if self.sack_permitted => {
                outstanding - self.scoreboard.sacked_between(self.snd_una, self.snd_nxt)
            }
            None => outstanding,
        };
        let usable = if retransmission {
            self.smss.min(self.send_window().max(1))
        } else {
            self.send_window()
                .saturating_sub(outstanding)
                .min(self.cwnd().saturating_sub(in_flight))
        };
        let mut len = unsent.min(self.smss).min(usable);
        // MSG_EOR: no segment spans a record boundary, first time or resent.
        let stream_at = self.snd_consumed + u64::from(offset);
        let record_len = self.clip_to_record(stream_at, len);
        let mut sack_clipped = record_len < len;
        len = record_len;
        // With SACK, resent data stops where the receiver's next block starts.
        if self.sack_permitted
            && !retransmission
            && self.snd_nxt.diff(self.snd_max) < 0
            && let Some(left) = self.scoreboard.next_sacked_after(seq)
            && left.since(seq) < len
        {
            len = left.since(seq);
            sack_clipped = true;
        }
        let fin_after_data = self.fin_queued && offset + len == buffered;
        // The FIN goes out with the last data, and again whenever the data
        // before it is resent (after an RTO rewound SND.NXT, or a retransmit).
        let fin_due = fin_after_data
            && match self.fin_seq {
                None => true,
                Some(fin) => fin == seq + len && (retransmission || self.snd_nxt.diff(fin) <= 0),
            };

        if !retransmission && !force && !sack_clipped && len < self.smss && len < unsent {
            // Limited by the window, not by data: sender SWS avoidance
            // (§3.8.6.2.1) unless the piece is at least half the largest window.
            if len < self.max_snd_wnd / 2 {
                len = 0;
            }
        }
        let small_unacked = self.snd_sml.diff(self.snd_una) > 0;
        if !retransmission
            && !force
            && len > 0
            && len < self.smss
            && len == unsent
            && self.config.nagle
            && !self.write_queue.push_once
            && outstanding > 0
            && small_unacked
            && !fin_due
        {
            // Nagle (RFC 896, RFC 9293 §3.7.4) in Minshall's form, as Linux:
            // hold a small segment while an earlier small one is unacknowledged.
            len = 0;
        }
        if !retransmission
            && !force
            && len > 0
            && len < self.smss
            && len == unsent
            && !fin_due
            && self.corked_at(stream_at + u64::from(len))
        {
            // MSG_MORE / TCP_CORK: the partial segment waits for more data
            // (Linux's TCP_NAGLE_CORK); the persist timer sends it if
            // nothing else does (tcp_check_probe_timer, the "200 ms").
            len = 0;
        }
        if len == 0 && !fin_due {
            self.write_queue.push_once = false;
            if unsent > 0
                && !retransmission
                && self.cwnd().saturating_sub(in_flight) < unsent.min(self.smss)
            {
                // Data waits for cwnd: the sender is cwnd-limited.
                self.cwnd_validate(in_flight, true);
            }
            // Data waiting, nothing in flight, and the window (zero, or too
            // small to be worth it) stops us: the persist timer will probe
            // or override (RFC 9293 §3.8.6.1, §3.8.6.2.1).
            if unsent > 0 && outstanding == 0 && self.timer(Timer::Persist).is_none() {
                self.arm_persist(now);
            }
            return None;
        }
        if !retransmission && len > 0 && seq.diff(self.snd_max) >= 0 {
            // Linux's TSO packets carry PSH (push.rs).
            self.note_new_data_packet(stream_at, usable, unsent, in_flight);
        }
        if force && len > 0 && self.config.linux_push {
            // What the persist timer sends carries PSH (tcp_write_wakeup).
            super::push::insert_mark(&mut self.push_marks, stream_at + u64::from(len));
        }
        let seg = self.emit_data(seq, offset, len, fin_due, retransmission, now, payload);
        if !retransmission && len > 0 {
            self.cwnd_validate(in_flight + len, false);
        }
        Some(seg)
    }

    /// Builds the segment carrying `len` bytes from `offset` past SND.UNA
    /// (sequence number `seq`), with the FIN if `fin`, and does the
    /// bookkeeping: SND.NXT/SND.MAX (not for a `retransmission` of an
    /// earlier segment), counters, RTT timing, the retransmission timer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_data(
        &mut self,
        seq: SeqNum,
        offset: u32,
        len: u32,
        fin: bool,
        retransmission: bool,
        now: Instant,
        payload: &mut Vec<u8>,
    ) -> Outgoing {
        self.send_buffer
            .copy_to(offset as usize, len as usize, payload);
        let mut flags = Flags::ACK;
        // PSH on a segment that ends where a write ended (Linux marks the
        // end of each write, and a retransmission keeps the mark).
        let end = self.snd_consumed + u64::from(offset) + u64::from(len);
        let new_data = !retransmission && (seq + len).diff(self.snd_max) > 0;
        if len > 0
            && (self.push_marks.binary_search(&end).is_ok()
                || (new_data && self.ends_tso_packet(end)))
        {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        let window = self.window_to_advertise(false);
        let seg = Outgoing {
            seq,
            ack: self.rcv_nxt,
            flags,
            window,
            options: self.ack_options(now),
        };
        // The invariant the segment oracle also checks: no data beyond the
        // highest right edge the peer offered, but for a one-octet probe
        // (RFC 9293 §3.8.6.1).
        debug_assert!(
            len <= 1 || (seq + len).diff(self.snd_max_edge) <= 0 || planted!(PastRightEdge),
            "data {seq:?}+{len} beyond the peer's highest right edge {:?}",
            self.snd_max_edge
        );
        let end = seq + len + u32::from(fin);
        if fin {
            self.fin_seq = Some(seq + len);
        }
        let is_retransmission = retransmission || end.diff(self.snd_max) <= 0;
        self.rack_on_sent(seq, end, now);
        // Linux (tcp_event_data_sent): new data within ato of the last data
        // received is a reply: the exchange is interactive (pingpong), so
        // the next ACK waits to ride on the next reply.
        if !is_retransmission
            && len > 0
            && self.ato > Duration::ZERO
            && now.saturating_since(self.lrcvtime) < self.ato
        {
            self.pingpong = true;
        }
        if is_retransmission {
            tracing::debug!(
                seq = seq.0,
                len,
                fin,
                reason = if self.rec.in_recovery() {
                    "loss recovery (fast retransmit, partial ACK or SACK hole)"
                } else {
                    "retransmission timeout (resending from SND.UNA)"
                },
                "retransmit"
            );
            self.counters.retransmitted_segments += 1;
            self.counters.retransmitted_bytes += u64::from(len);
        } else if self.rtt_timing.is_none() && !self.timestamps && len > 0 {
            self.rtt_timing = Some((seq, now));
        }
        if !retransmission {
            self.snd_nxt = end;
            if len < self.smss {
                self.snd_sml = end;
            }
        }
        if end.diff(self.snd_max) > 0 {
            self.snd_max = end;
        }
        // RFC 8985 §7.2: new data (re)arms the PTO (Linux's
        // tcp_schedule_loss_probe after tcp_write_xmit), except the probe.
        let probe = !is_retransmission && !self.rack.tlp_due && self.tlp_schedule(now, false);
        if !probe && self.timer(Timer::Retransmit).is_none() {
            self.restart_rto(now);
        }
        self.mark_sent(&seg, len as usize, now);
        seg
    }
}
