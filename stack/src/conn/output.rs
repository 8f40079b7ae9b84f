//! What to send next: SYN/SYN-ACK, data (window, congestion window, Nagle,
//! sender SWS avoidance), FIN, ACKs, probes and RSTs.

use super::{Connection, Timer};
use crate::seq::SeqNum;
use crate::time::Instant;
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
            || self.retransmit_head
            || (self.state.is_synchronized() || self.state == State::SynReceived)
                && self.has_sendable()
    }

    fn has_sendable(&self) -> bool {
        let sent = self.snd_nxt.since(self.snd_una) as usize;
        self.send_buffer.len() > sent.min(self.send_buffer.len())
            || (self.fin_queued && self.fin_seq.is_none_or(|fin| self.snd_nxt.diff(fin) <= 0))
    }

    /// The receive window to advertise, scaled, never shrinking the right
    /// edge already offered (RFC 9293 §3.8.6.2.2 and RFC 7323 §2.4), with
    /// receiver SWS avoidance.
    fn window_to_advertise(&mut self, syn: bool) -> u16 {
        let space = self.recv_space();
        if syn {
            // SYN windows are not scaled; Linux rounds the initial window
            // down to a multiple of the MSS (64240 for MSS 1460).
            let w = crate::syncookie::syn_window(space, self.config.mss);
            self.syn_window = w;
            self.rcv_adv = self.rcv_nxt + w;
            return w as u16;
        }
        let current = self.rcv_wnd();
        let threshold = (self.config.recv_buffer as u32 / 2).min(u32::from(self.config.mss));
        let mut wnd = if space >= current + threshold || space == 0 || space < current {
            space.max(current)
        } else {
            current
        };
        let shift = u32::from(self.rcv_wscale);
        wnd = wnd.min(65535u32 << shift);
        let field = (wnd >> shift) as u16;
        let edge = self.rcv_nxt + (u32::from(field) << shift);
        if edge.diff(self.rcv_adv) > 0 {
            self.rcv_adv = edge;
        }
        field
    }

    fn ack_options(&self, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.timestamps {
            o.timestamps = Some((self.ts_now(now), self.ts_recent));
        }
        if self.sack_permitted && !self.reassembly.is_empty() {
            // RFC 2018 §4: report the out-of-order blocks; we list them in
            // sequence order (the block containing the most recent segment
            // first is the RFC's SHOULD; listing all held blocks keeps the
            // sender's scoreboard complete).
            let mut n = 0;
            let base_offset = self.rcv_offset;
            for (start, end) in self.reassembly.ranges() {
                if n == crate::wire::MAX_SACK_BLOCKS {
                    break;
                }
                o.sack_blocks[n] = SackBlock {
                    left: self.rcv_nxt + (start - base_offset) as u32,
                    right: self.rcv_nxt + (end - base_offset) as u32,
                };
                n += 1;
            }
            o.sack_count = n as u8;
        }
        o
    }

    fn mark_sent(&mut self, seg: &Outgoing, payload_len: usize, now: Instant) {
        if seg.flags.ack() {
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
            // RFC 9293 §3.10.5 / Linux: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.
            let seg = Outgoing {
                seq: self.snd_max,
                ack: self.rcv_nxt,
                flags: Flags::RST | Flags::ACK,
                window: 0,
                options: TcpOptions::default(),
            };
            self.counters.segments_sent += 1;
            return Some(seg);
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => return self.poll_syn(now, false),
            State::SynReceived if self.syn_pending => return self.poll_syn(now, true),
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
            if self.snd_wnd > self.snd_nxt.since(self.snd_una)
                && let Some(seg) = self.poll_data(now, payload, true)
            {
                return Some(seg);
            }
            // Zero-window and keepalive probes: SEQ = SND.UNA - 1, no data
            // (Linux's tcp_xmit_probe_skb), which the peer must ACK.
            let window = self.window_to_advertise(false);
            let seg = Outgoing {
                seq: self.snd_una - 1,
                ack: self.rcv_nxt,
                flags: Flags::ACK,
                window,
                options: self.ack_options(now),
            };
            self.mark_sent(&seg, 0, now);
            return Some(seg);
        }
        if self.ack_now {
            let window = self.window_to_advertise(false);
            let seg = Outgoing {
                seq: self.snd_nxt,
                ack: self.rcv_nxt,
                flags: Flags::ACK,
                window,
                options: self.ack_options(now),
            };
            self.mark_sent(&seg, 0, now);
            return Some(seg);
        }
        self.ack_now = false;
        None
    }

    fn poll_syn(&mut self, now: Instant, syn_ack: bool) -> Option<Outgoing> {
        if !self.syn_pending {
            return None;
        }
        self.syn_pending = false;
        let window = self.window_to_advertise(true);
        let seg = Outgoing {
            seq: self.iss,
            ack: if syn_ack { self.rcv_nxt } else { SeqNum(0) },
            flags: if syn_ack {
                Flags::SYN | Flags::ACK
            } else {
                Flags::SYN
            },
            window,
            options: self.syn_options(now, syn_ack),
        };
        if self.snd_max == self.iss {
            self.snd_nxt = self.iss + 1;
            self.snd_max = self.snd_nxt;
        } else {
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

    /// The usable congestion window: cwnd plus fast-recovery inflation.
    fn cwnd(&self) -> u32 {
        self.cc.window().saturating_add(self.recovery_inflation)
    }

    /// The next data (or FIN) segment. `force` is the persist timer's
    /// override of Nagle and sender SWS avoidance.
    fn poll_data(&mut self, now: Instant, payload: &mut Vec<u8>, force: bool) -> Option<Outgoing> {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::LastAck
                | State::Closing
        ) {
            return None;
        }
        let buffered = self.send_buffer.len() as u32;
        let mut retransmission = false;
        let mut seq = self.snd_nxt;
        let mut offset = self.snd_nxt.since(self.snd_una);
        if self.retransmit_head {
            // Fast retransmit / partial ACK: resend the segment at SND.UNA
            // whatever the congestion window says (RFC 5681 §3.2 step 2).
            self.retransmit_head = false;
            seq = self.snd_una;
            offset = 0;
            retransmission = true;
        }
        let unsent = buffered.saturating_sub(offset);
        let in_flight = self.snd_nxt.since(self.snd_una);
        let window_limit = self.snd_wnd.min(self.cwnd());
        let usable = if retransmission {
            self.smss.min(self.snd_wnd.max(1))
        } else {
            window_limit.saturating_sub(in_flight)
        };
        let mut len = unsent.min(self.smss).min(usable);
        let fin_after_data = self.fin_queued && offset + len == buffered;
        // The FIN goes out with the last data, and again whenever the data
        // before it is resent (after an RTO rewound SND.NXT, or a retransmit).
        let fin_due = fin_after_data
            && match self.fin_seq {
                None => true,
                Some(fin) => fin == seq + len && (retransmission || self.snd_nxt.diff(fin) <= 0),
            };

        if !retransmission && !force && len < self.smss && len < unsent {
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
            && in_flight > 0
            && small_unacked
            && !fin_due
        {
            // Nagle (RFC 896, RFC 9293 §3.7.4) in Minshall's form, as Linux:
            // hold a small segment while an earlier small one is unacknowledged.
            len = 0;
        }
        if len == 0 && !fin_due {
            // Data waiting, nothing in flight, and the window (zero, or too
            // small to be worth it) stops us: the persist timer will probe
            // or override (RFC 9293 §3.8.6.1, §3.8.6.2.1).
            if unsent > 0 && in_flight == 0 && self.timer(Timer::Persist).is_none() {
                self.arm_persist(now);
            }
            return None;
        }
        self.send_buffer
            .copy_to(offset as usize, len as usize, payload);
        let mut flags = Flags::ACK;
        // PSH on a segment that ends where a write ended (Linux marks the
        // end of each write, and a retransmission keeps the mark).
        let end = self.snd_consumed + u64::from(offset) + u64::from(len);
        if len > 0 && self.push_marks.binary_search(&end).is_ok() {
            flags |= Flags::PSH;
        }
        if fin_due {
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
        let end = seq + len + u32::from(fin_due);
        if fin_due {
            self.fin_seq = Some(seq + len);
        }
        let is_retransmission = retransmission || end.diff(self.snd_max) <= 0;
        if is_retransmission {
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
        if self.timer(Timer::Retransmit).is_none() {
            self.restart_rto(now);
        }
        self.mark_sent(&seg, len as usize, now);
        Some(seg)
    }
}
