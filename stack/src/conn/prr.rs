//! Proportional Rate Reduction (RFC 6937 §3), as Linux's
//! tcp_cwnd_reduction runs it: during recovery the window is set on each
//! ACK to what is in flight plus what PRR lets out, so the flight shrinks
//! smoothly to ssthresh (the proportional part, while `pipe` is above
//! ssthresh) and then grows back to it no faster than slow start
//! (PRR-SSRB, the slow-start reduction bound, when `pipe` fell below).
//! Linux counts in segments; so do we (octets rounded up to segments),
//! so a window of whole segments behaves as Linux's.
//!
//! On when `TcpConfig::prr` is, for SACK recovery (RFC 6675, `sack.rs`)
//! and RACK recovery (`rack.rs`); without it recovery sends while
//! `pipe` is below cwnd = ssthresh (RFC 6675 §5 step C).
//!
//! Read before changing: RFC 6937 §3-§5, Linux net/ipv4/tcp_input.c
//! tcp_init_cwnd_reduction / tcp_cwnd_reduction / tcp_end_cwnd_reduction.

use super::Connection;
use crate::time::Instant;

/// PRR's state for one recovery (RFC 6937 §3.1), in segments.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prr {
    /// RecoverFS: the window when recovery started (Linux's prior_cwnd).
    pub(crate) prior_cwnd: u32,
    /// prr_delivered: segments the receiver got since recovery started.
    pub(crate) delivered: u32,
    /// prr_out: segments sent since recovery started.
    pub(crate) out: u32,
    /// The window PRR allows now, in octets (Linux sets snd_cwnd).
    pub(crate) cwnd: u32,
    /// PRR runs (this recovery started with it on).
    pub(crate) active: bool,
}

impl Connection {
    /// RFC 6937 §3.1 on entering recovery (Linux's
    /// tcp_init_cwnd_reduction): `prior_cwnd` is the window before the
    /// controller reduced it.
    pub(crate) fn prr_start(&mut self, prior_cwnd: u32) {
        if !self.config.prr {
            self.prr = Prr::default();
            return;
        }
        let smss = self.smss.max(1);
        self.prr = Prr {
            prior_cwnd: prior_cwnd.div_ceil(smss).max(1),
            delivered: 0,
            out: 0,
            cwnd: self.cc.window(),
            active: true,
        };
    }

    /// RFC 6937 §3.1 on each ACK in recovery (Linux's tcp_cwnd_reduction):
    /// `delivered` octets newly ACKed or SACKed; `una_advanced` when the
    /// cumulative ACK moved. `pipe` must be current.
    pub(crate) fn prr_on_ack(&mut self, delivered: u32, una_advanced: bool, _now: Instant) {
        if !self.prr.active || delivered == 0 {
            return;
        }
        let smss = self.smss.max(1);
        let newly = delivered.div_ceil(smss);
        let ssthresh = (self.cc.ssthresh() / smss).max(1);
        let in_flight = self.rec.pipe.div_ceil(smss);
        self.prr.delivered = self.prr.delivered.saturating_add(newly);
        let sndcnt: i64 = if in_flight > ssthresh {
            // Proportional part: sndcnt = CEIL(prr_delivered * ssthresh /
            // RecoverFS) - prr_out.
            let allowed = (u64::from(ssthresh) * u64::from(self.prr.delivered))
                .div_ceil(u64::from(self.prr.prior_cwnd));
            allowed as i64 - i64::from(self.prr.out)
        } else {
            // PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData)
            // + MSS (Linux adds the MSS when SND.UNA moved), at most
            // ssthresh - pipe.
            let delta = i64::from(ssthresh - in_flight);
            let limit = (i64::from(self.prr.delivered) - i64::from(self.prr.out))
                .max(i64::from(newly))
                + i64::from(una_advanced);
            limit.min(delta)
        };
        // Linux: the fast retransmit goes out whatever the count says.
        let sndcnt = sndcnt.max(i64::from(self.prr.out == 0)).max(0) as u32;
        self.prr.cwnd = in_flight.saturating_add(sndcnt).saturating_mul(smss);
    }

    /// A segment went out during recovery.
    pub(crate) fn prr_sent(&mut self) {
        if self.prr.active {
            self.prr.out = self.prr.out.saturating_add(1);
        }
    }

    /// The window recovery sends within: PRR's while it runs, else the
    /// controller's (cwnd = ssthresh after the reduction).
    pub(crate) fn recovery_cwnd(&self) -> u32 {
        if self.prr.active && self.rec.in_recovery() {
            self.prr.cwnd
        } else {
            self.cc.window()
        }
    }

    /// Recovery ended: PRR stops.
    pub(crate) fn prr_stop(&mut self) {
        self.prr.active = false;
    }
}
