//! Whether the sender is limited by its congestion window (Linux's
//! tcp_cwnd_validate and tcp_is_cwnd_limited, the RFC 7661 idea that cwnd
//! should only grow while the sender uses it), and the ACK samples the
//! congestion controller sees.
//!
//! Linux grows cwnd on an ACK only when the connection was cwnd-limited:
//! in the last window of data the flight reached cwnd, or (in slow start)
//! cwnd is below twice the most packets that were out. An application
//! that writes less than cwnd allows does not inflate it. RFC 5681 §3.1
//! grows cwnd on every ACK; the RFC-strict profile keeps that.

use super::Connection;
use crate::cc::{AckSample, LinuxGrowth};
use crate::seq::SeqNum;
use crate::time::Duration;

/// Linux's max_packets_out / max_packets_seq / is_cwnd_limited.
#[derive(Debug)]
pub(crate) struct CwndUse {
    /// The most segments out during the current window of data.
    max_packets_out: u32,
    /// SND.NXT when that window began; it ends when SND.UNA passes it.
    max_packets_seq: SeqNum,
    /// The flight reached cwnd during that window.
    is_cwnd_limited: bool,
}

impl CwndUse {
    pub(crate) fn new(iss: SeqNum) -> CwndUse {
        CwndUse {
            max_packets_out: 0,
            max_packets_seq: iss,
            is_cwnd_limited: false,
        }
    }
}

impl Connection {
    /// Linux's tcp_cwnd_validate after output: `in_flight` octets are out
    /// now and `limited` says whether cwnd stopped (or filled with) this burst.
    pub(crate) fn cwnd_validate(&mut self, in_flight: u32, limited: bool) {
        let smss = self.smss.max(1);
        let packets_out = self.snd_max.since(self.snd_una).div_ceil(smss);
        let cwnd_segs = self.cc.window() / smss;
        let limited = limited || in_flight.div_ceil(smss) >= cwnd_segs;
        let u = &mut self.cwnd_use;
        if self.snd_una.diff(u.max_packets_seq) >= 0 || packets_out > u.max_packets_out || limited {
            u.max_packets_out = packets_out;
            u.max_packets_seq = self.snd_max;
            u.is_cwnd_limited = limited;
        }
    }

    /// Linux's tcp_is_cwnd_limited.
    fn is_cwnd_limited(&self) -> bool {
        let u = &self.cwnd_use;
        if u.is_cwnd_limited {
            return true;
        }
        let smss = self.smss.max(1);
        let cwnd_segs = self.cc.window() / smss;
        // Slow start: let cwnd grow to twice what was out.
        self.cc.window() < self.cc.ssthresh() && cwnd_segs < 2 * u.max_packets_out
    }

    /// What the congestion controller hears of an ACK that moved SND.UNA
    /// from `previous_una`, acknowledging `bytes_acked` octets, with
    /// `flight_size` octets in flight before it. Call it before the
    /// scoreboard forgets what the ACK covers.
    pub(crate) fn ack_sample(
        &self,
        previous_una: SeqNum,
        bytes_acked: u32,
        flight_size: u32,
        rtt: Option<Duration>,
    ) -> AckSample {
        let linux = self.config.linux_slow_start.then(|| {
            // Segments newly delivered: Linux counts packets, and those
            // SACKed before were delivered then (tcp_clean_rtx_queue).
            // Without SACK, each duplicate ACK stood for one (Linux's
            // tcp_add_reno_sack).
            let sacked = if self.sack_permitted {
                self.scoreboard.sacked_between(previous_una, self.snd_una)
            } else {
                self.rec.dup_acks.saturating_mul(self.smss)
            };
            LinuxGrowth {
                segments_acked: bytes_acked
                    .saturating_sub(sacked)
                    .div_ceil(self.smss.max(1)),
                cwnd_limited: self.is_cwnd_limited(),
            }
        });
        AckSample {
            bytes_acked,
            flight_size,
            rtt,
            srtt: self.rtt.srtt(),
            linux,
        }
    }
}
