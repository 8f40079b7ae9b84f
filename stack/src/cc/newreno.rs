//! NewReno (RFC 5681 §3.1 growth, RFC 6582 recovery): the controller half.
//! The connection runs fast recovery itself (window inflation and partial
//! ACKs, RFC 6582 §3.2); this type owns cwnd and ssthresh.

use super::{AckSample, CongestionControl, initial_window};
use crate::time::Instant;

/// The NewReno controller (RFC 5681 §3.1, RFC 6582): owns cwnd and
/// ssthresh, in bytes.
#[derive(Debug, Clone)]
pub struct NewReno {
    smss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance.
    acked_in_ca: u32,
}

impl NewReno {
    /// A controller for a connection whose sender MSS is `smss` bytes: cwnd
    /// starts at the initial window (10·SMSS), ssthresh at `u32::MAX`
    /// (RFC 5681 §3.1: "arbitrarily high").
    pub fn new(smss: u32) -> NewReno {
        NewReno {
            smss,
            cwnd: initial_window(smss),
            // RFC 5681 §3.1: ssthresh starts arbitrarily high.
            ssthresh: u32::MAX,
            acked_in_ca: 0,
        }
    }

    /// RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
    fn halve(&self, flight_size: u32) -> u32 {
        (flight_size / 2).max(2 * self.smss)
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }
    fn window(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn on_ack(&mut self, _now: Instant, mut sample: AckSample) {
        // Linux's rule first, when the connection runs it (tcp_reno_cong_avoid).
        let Some(left) = super::linux_growth(&mut self.cwnd, self.ssthresh, self.smss, &sample)
        else {
            return;
        };
        sample.bytes_acked = left;
        if self.cwnd < self.ssthresh {
            // RFC 5681 eq. 2 with RFC 3465's L = 1 SMSS: at most one SMSS
            // per ACK (Linux instead adds every segment acknowledged).
            self.cwnd = self.cwnd.saturating_add(sample.bytes_acked.min(self.smss));
        } else {
            // RFC 5681 eq. 3, counted in bytes: one SMSS per cwnd of ACKed data.
            self.acked_in_ca = self.acked_in_ca.saturating_add(sample.bytes_acked);
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
        }
    }
    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32) {
        self.ssthresh = self.halve(flight_size);
        // RFC 6582 §3.2 step 2: cwnd = ssthresh + 3*SMSS; the connection adds
        // the 3*SMSS inflation itself.
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }
    fn on_recovery_exit(&mut self, _now: Instant, flight_size: u32) {
        // RFC 6582 §3.2 step 3, option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight_size.max(self.smss) + self.smss);
    }
    fn on_rto(&mut self, _now: Instant, flight_size: u32) {
        // RFC 5681 §3.1: ssthresh per eq. 4, cwnd = LW = 1 SMSS.
        self.ssthresh = self.halve(flight_size);
        self.cwnd = self.smss;
        self.acked_in_ca = 0;
    }
    fn undo_reduction(&mut self, _now: Instant, prior_cwnd: u32, prior_ssthresh: u32) {
        // Linux's tcp_reno_undo_cwnd and tcp_undo_cwnd_reduction.
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        // RFC 5681 §4.1: RW = min(IW, cwnd).
        self.cwnd = self.cwnd.min(initial_window(self.smss));
    }
    fn set_mss(&mut self, smss: u32) {
        let was_initial = self.cwnd == initial_window(self.smss);
        self.smss = smss.max(1);
        if was_initial {
            self.cwnd = initial_window(self.smss);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn ack(bytes: u32) -> AckSample {
        AckSample {
            bytes_acked: bytes,
            flight_size: 0,
            rtt: None,
            srtt: None,
            linux: None,
        }
    }

    #[test]
    fn slow_start_then_loss_halves_then_avoidance_adds_one_mss_per_window() {
        // The RFC 5681 arithmetic end to end: 10 -> 11 segments in slow start,
        // a loss at 20 segments in flight sets ssthresh to 10, and a full
        // window of ACKs then grows cwnd by exactly one SMSS.
        let mut c = NewReno::new(1000);
        assert_eq!(c.window(), 10_000);
        c.on_ack(Instant::ZERO, ack(1000));
        assert_eq!(c.window(), 11_000);
        c.on_congestion_event(Instant::ZERO, 20_000);
        assert_eq!((c.ssthresh(), c.window()), (10_000, 10_000));
        for _ in 0..9 {
            c.on_ack(Instant::ZERO, ack(1000));
        }
        assert_eq!(c.window(), 10_000);
        c.on_ack(Instant::ZERO, ack(1000));
        assert_eq!(c.window(), 11_000);
    }

    #[test]
    fn rto_collapses_to_one_segment() {
        // RFC 5681 §3.1: after a timeout cwnd is the loss window, 1 SMSS.
        let mut c = NewReno::new(1448);
        c.on_rto(Instant::ZERO, 14_480);
        assert_eq!(c.window(), 1448);
        assert_eq!(c.ssthresh(), 7240);
    }
}
