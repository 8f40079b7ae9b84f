//! How writes become segments the way Linux cuts them: where PSH goes
//! (tcp_push, forced_push, TSO packets), MSG_EOR record boundaries, and
//! MSG_MORE / TCP_CORK holding a partial segment.
//!
//! RFC 9293 §3.9.1 (SEND) leaves the PUSH flag to the implementation:
//! "the PUSH flag [...] indicates that the data [...] should be
//! transmitted promptly"; a sender "MAY implement PUSH" and sets it on the
//! last segment of a SEND when the user asks. The RFC-strict profile does
//! just that: the segment that ends where a write ended carries PSH.
//!
//! Linux ([`TcpConfig::linux_push`](crate::TcpConfig)) sets PSH in three
//! more places, all of which packetdrill scripts see on the wire:
//!
//! - `forced_push` (net/ipv4/tcp.c): while a write fills its send-queue
//!   buffers (skbs of `size_goal` bytes), each full one is marked PSH when
//!   more than half the largest window the peer ever offered has been
//!   written since the last mark (`write_seq > pushed_seq + max_window/2`);
//! - `tcp_push` at the end of each write (unless MSG_MORE), which is the
//!   RFC's rule above;
//! - each TSO packet of two segments or more that tcp_write_xmit sends
//!   carries PSH on its last segment (measured on Linux 6.18 with
//!   packetdrill: every multi-segment packet of a bulk write has PSH, a
//!   one-segment packet has it only if the buffer it ends had the mark).
//!   A packet is at most `min(cwnd/2, cwnd - in_flight)` segments
//!   (tcp_cwnd_test) and at most the TSO autosize goal: about one
//!   millisecond at the pacing rate, at least two segments
//!   (tcp_tso_autosize with tcp_min_tso_segs = 2). That PSH belongs to
//!   the packet, not the data: a retransmission of one of its segments
//!   alone goes without it (Linux 6.18: `. 1001:2001` resent from a
//!   `P. 1:2001` packet), while the marks above stay with the data.
//!
//! MSG_EOR ends a record: Linux's `eor` skb bit keeps later data out of
//! that skb, so no segment (first transmission or retransmission) spans
//! the boundary (tcp_skb_can_collapse_to, tcp_grow_skb,
//! tcp_can_collapse). MSG_MORE and TCP_CORK hold a partial segment until
//! more data fills it, the cork is removed, or the write queue empties
//! otherwise (Linux's TCP_NAGLE_CORK in tcp_nagle_check).

use super::Connection;
use crate::seq::SeqNum;
use std::collections::VecDeque;

/// Linux's sk_gso_max_size less its header room (65536 - 1 - MAX_TCP_HEADER):
/// the largest TSO packet.
const GSO_MAX_BYTES: u32 = 65536 - 1 - 320;

/// The send queue's write-side bookkeeping: Linux's pushed_seq, the tail
/// buffer a write fills, the TSO packet being sent, record and cork state.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Stream offset where the buffer a write appends to begins (Linux's
    /// write-queue tail skb); a write that finds no unsent data starts a
    /// new one.
    tail_start: u64,
    /// Linux's pushed_seq, as a stream offset: the last PSH mark a write set.
    pushed: u64,
    /// Stream offset where the TSO packet being sent ends.
    packet_end: Option<u64>,
    /// That packet has two segments or more: its last one carries PSH.
    packet_psh: bool,
    /// Stream offsets where a MSG_EOR write ended, not yet acknowledged.
    pub(crate) eor_marks: VecDeque<u64>,
    /// TCP_CORK is set.
    pub(crate) corked: bool,
    /// The last write had MSG_MORE: like the cork, until the next write
    /// without it or the next segment that arrives.
    pub(crate) more: bool,
    /// Send what waits once, cork or not (Linux's TCP_NAGLE_PUSH after
    /// TCP_NODELAY is set or TCP_CORK cleared).
    pub(crate) push_once: bool,
    /// TCP_NOTSENT_LOWAT (or the tcp_notsent_lowat sysctl): a write takes
    /// no new buffer while this many bytes or more wait unsent; `None`: no limit.
    pub(crate) notsent_lowat: Option<u32>,
}

/// What one write asks of the send queue beyond its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendFlags {
    /// MSG_EOR: the write ends a record; later data never shares a segment with it.
    pub eor: bool,
    /// MSG_MORE: more data follows; no PSH and no partial segment yet.
    pub more: bool,
}

/// Inserts `mark` into a sorted list of stream offsets, once.
pub(crate) fn insert_mark(marks: &mut VecDeque<u64>, mark: u64) {
    if let Err(at) = marks.binary_search(&mark) {
        marks.insert(at, mark);
    }
}

impl Connection {
    /// Stream offset of sequence number `seq` (bytes since ISS + 1).
    fn stream_offset(&self, seq: SeqNum) -> u64 {
        let syn = u32::from(self.syn_unacked());
        self.snd_consumed + u64::from(seq.since(self.snd_una).saturating_sub(syn))
    }

    /// The TSO autosize goal in segments (Linux's tcp_tso_autosize): the
    /// bytes the pacing rate sends in about a millisecond (rate >> 10),
    /// at least tcp_min_tso_segs (2), at most one GSO packet. The pacing rate is
    /// tcp_update_pacing_rate's: cwnd·MSS/SRTT times 2 in slow start
    /// below half ssthresh (tcp_pacing_ss_ratio 200%), else 1.2
    /// (tcp_pacing_ca_ratio 120%).
    pub(crate) fn tso_segs(&self) -> u32 {
        let smss = self.smss.max(1);
        let max = (GSO_MAX_BYTES / smss).max(1);
        let Some(srtt) = self.rtt.srtt() else {
            return max.max(self.config.min_tso_segs);
        };
        let srtt_us = (srtt.as_nanos() / 1000).max(1);
        let cwnd = u64::from(self.cc.window());
        let ratio: u64 = if self.cc.window() < self.cc.ssthresh() / 2 {
            200
        } else {
            120
        };
        let rate = cwnd * ratio * 1_000_000 / 100 / srtt_us;
        let segs = ((rate >> 10) / u64::from(smss)).min(u64::from(u32::MAX)) as u32;
        let floor = self.config.min_tso_segs.max(1);
        segs.max(floor).min(max.max(floor))
    }

    /// Linux's size_goal: the bytes one send-queue buffer holds, a GSO
    /// packet bounded by half the largest window the peer offered
    /// (tcp_xmit_size_goal, tcp_bound_to_half_wnd), at least one segment.
    fn size_goal(&self) -> u64 {
        let smss = self.smss.max(1);
        let half_window_segs = (self.max_snd_wnd / 2) / smss;
        let segs = (GSO_MAX_BYTES / smss).min(half_window_segs).max(1);
        u64::from(segs) * u64::from(smss)
    }

    /// Stream offset of the first octet never sent.
    fn unsent_offset(&self) -> u64 {
        if self.snd_max == self.iss {
            return self.snd_consumed;
        }
        self.stream_offset(self.snd_max).min(self.snd_written)
    }

    /// Bookkeeping for a write that queued `[start, end)` (stream offsets):
    /// its PSH marks (forced_push while it filled buffers, tcp_push at its
    /// end unless MSG_MORE) and its record boundary.
    pub(crate) fn note_write(&mut self, start: u64, end: u64, flags: SendFlags) {
        // A push asked for by a socket option applied to what waited then.
        self.write_queue.push_once = false;
        if !self.config.linux_push {
            if !flags.more {
                insert_mark(&mut self.push_marks, end);
            }
        } else {
            // The buffer this write appends to: the unsent tail, unless it
            // ends a record, or a new one where the data starts.
            let unsent = self.unsent_offset();
            let tail_closed = self.write_queue.eor_marks.back() == Some(&start);
            let mut buf_start = if unsent < start && !tail_closed {
                self.write_queue.tail_start.max(unsent)
            } else {
                start
            };
            let goal = self.size_goal();
            let threshold = u64::from(self.max_snd_wnd / 2);
            let smss = u64::from(self.smss.max(1));
            let allowed = u64::from(self.send_window().min(self.cwnd_for_packets()));
            let limit = self.snd_consumed + allowed;
            let packet = u64::from(self.tso_segs()) * smss;
            let mut sent = unsent;
            // tcp_sendmsg_locked: each buffer filled while data is left
            // is pushed (forced_push: marked, and all that fits goes;
            // otherwise one packet if it heads the queue), and what stays
            // unsent of it is the tail the write goes on filling.
            while buf_start + goal < end {
                let full = buf_start + goal;
                if full > self.write_queue.pushed + threshold {
                    insert_mark(&mut self.push_marks, full);
                    self.write_queue.pushed = full;
                    sent = sent.max(full.min(limit));
                } else if sent >= buf_start {
                    sent = sent.max(full.min(limit).min(sent + packet));
                }
                buf_start = if sent > buf_start && sent < full {
                    sent
                } else {
                    full
                };
            }
            self.write_queue.tail_start = buf_start;
            // tcp_push: the write's end, unless MSG_MORE (forced_push
            // overrides it there too).
            if !flags.more || end > self.write_queue.pushed + threshold {
                insert_mark(&mut self.push_marks, end);
                self.write_queue.pushed = end;
            }
        }
        self.write_queue.more = flags.more;
        if flags.eor {
            insert_mark(&mut self.write_queue.eor_marks, end);
        }
    }

    /// How many of `len` bytes a write takes under TCP_NOTSENT_LOWAT, as
    /// Linux's tcp_sendmsg_locked: it fills the tail buffer, and takes a
    /// new one only while fewer than the limit's bytes are unsent
    /// (tcp_stream_memory_free); each full buffer is pushed as it fills
    /// (tcp_push_one: one packet; forced_push: all that cwnd and the
    /// window allow), so what the write already sent counts as sent.
    pub(crate) fn lowat_accepts(&self, len: usize) -> usize {
        let Some(lowat) = self.write_queue.notsent_lowat else {
            return len;
        };
        if !self.config.linux_push {
            let unsent = self.snd_written - self.unsent_offset();
            return if unsent < u64::from(lowat) { len } else { 0 };
        }
        let start = self.snd_written;
        let end = start + len as u64;
        let goal = self.size_goal();
        let smss = u64::from(self.smss.max(1));
        let allowed = u64::from(self.send_window().min(self.cwnd_for_packets()));
        let limit = self.snd_consumed + allowed;
        let packet = u64::from(self.tso_segs()) * smss;
        let threshold = u64::from(self.max_snd_wnd / 2);
        let mut sent = self.unsent_offset();
        let mut pushed = self.write_queue.pushed;
        let tail_closed = self.write_queue.eor_marks.back() == Some(&start);
        let mut buf_start = if sent < start && !tail_closed {
            self.write_queue.tail_start.max(sent)
        } else {
            start
        };
        let mut pos = start;
        while pos < end {
            if pos >= buf_start + goal || (pos == start && buf_start == start) {
                // A new buffer: only below the limit.
                if pos - sent.min(pos) >= u64::from(lowat) {
                    break;
                }
                buf_start = pos;
            }
            let full = buf_start + goal;
            pos = full.min(end);
            if pos == full && pos < end {
                if full > pushed + threshold {
                    pushed = full;
                    sent = sent.max(full.min(limit));
                } else if sent >= buf_start {
                    sent = sent.max(full.min(limit).min(sent + packet));
                }
                if sent > buf_start && sent < full {
                    // The unsent rest is the tail the write goes on filling.
                    buf_start = sent;
                }
            }
        }
        (pos - start) as usize
    }

    /// Drops the marks at or below the acknowledged stream offset.
    pub(crate) fn release_marks(&mut self) {
        let acked = self.snd_consumed;
        while self.push_marks.front().is_some_and(|&m| m <= acked) {
            self.push_marks.pop_front();
        }
        while self
            .write_queue
            .eor_marks
            .front()
            .is_some_and(|&m| m <= acked)
        {
            self.write_queue.eor_marks.pop_front();
        }
    }

    /// How many of `len` octets from stream offset `offset` one segment
    /// may carry without crossing a record boundary (MSG_EOR).
    pub(crate) fn clip_to_record(&self, offset: u64, len: u32) -> u32 {
        let marks = &self.write_queue.eor_marks;
        let i = marks.partition_point(|&m| m <= offset);
        match marks.get(i) {
            Some(&m) if m < offset + u64::from(len) => (m - offset) as u32,
            _ => len,
        }
    }

    /// Whether a partial segment ending at stream offset `end` waits for
    /// more data (MSG_MORE or TCP_CORK, Linux's TCP_NAGLE_CORK). Only the
    /// queue's last buffer waits (tcp_write_xmit pushes the others), a
    /// record's end included: the next write sends it.
    pub(crate) fn corked_at(&self, end: u64) -> bool {
        !self.write_queue.push_once
            && (self.write_queue.corked || self.write_queue.more)
            && end == self.snd_written
    }

    /// TCP_CORK on or off (Linux's __tcp_sock_set_cork: uncorking pushes
    /// what waits, ignoring Nagle if TCP_NODELAY is set).
    pub(crate) fn set_cork(&mut self, on: bool) {
        self.write_queue.corked = on;
        if !on && !self.config.nagle {
            self.write_queue.push_once = true;
        }
    }

    /// Linux's TSO packets (tcp_write_xmit): new data sent from stream
    /// offset `offset`, with `room` octets the windows allow and `unsent`
    /// octets queued, starts a packet unless one is being sent; a packet
    /// of two segments or more gets a PSH mark at its end.
    pub(crate) fn note_new_data_packet(
        &mut self,
        offset: u64,
        room: u32,
        unsent: u32,
        in_flight: u32,
    ) {
        if !self.config.linux_push {
            return;
        }
        if self.write_queue.packet_end.is_some_and(|end| offset < end) {
            return;
        }
        let smss = self.smss.max(1);
        let cwnd_segs = self.cwnd_for_packets() / smss;
        let in_flight_segs = in_flight.div_ceil(smss);
        // tcp_cwnd_test: at most half the window per packet, so that at
        // least two packets are in flight.
        let quota = (cwnd_segs / 2)
            .max(1)
            .min(cwnd_segs.saturating_sub(in_flight_segs))
            .max(1);
        let segs = quota.min(self.tso_segs());
        let mut len = (segs * smss).min(room).min(unsent);
        len = self.clip_to_record(offset, len);
        self.write_queue.packet_end = Some(offset + u64::from(len));
        self.write_queue.packet_psh = len > smss;
    }

    /// Whether new data ending at stream offset `end` ends a TSO packet of
    /// two segments or more (its PSH is the packet's, not the data's: a
    /// retransmission does not repeat it unless it is such a packet too).
    pub(crate) fn ends_tso_packet(&self, end: u64) -> bool {
        self.write_queue.packet_psh && self.write_queue.packet_end == Some(end)
    }

    /// The congestion window the packet sizing reads (with fast-recovery inflation).
    fn cwnd_for_packets(&self) -> u32 {
        self.recovery_cwnd().saturating_add(self.rec.inflation())
    }
}
