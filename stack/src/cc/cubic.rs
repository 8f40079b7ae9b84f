//! CUBIC (RFC 9438), the controller half: cwnd and ssthresh. Loss detection
//! and the recovery procedure stay in the connection (see `cc`'s docs).
//!
//! Arithmetic is `f64` with only IEEE-754 basic operations (+, -, *, /),
//! which are exactly rounded and so identical on every platform; the cube
//! root is Newton's method with a fixed iteration count rather than the
//! platform's `cbrt`, so traces stay bit-identical across machines.
//!
//! Read before changing: RFC 9438 §4 (and §4.2 W_cubic, §4.3 Reno-friendly
//! region, §4.6 multiplicative decrease, §4.7 fast convergence, §4.8 timeout).

use super::{AckSample, CongestionControl, initial_window};
use crate::time::{Duration, Instant};

/// RFC 9438 §5: C = 0.4.
const C: f64 = 0.4;
/// RFC 9438 §4.6: beta_cubic = 0.7.
const BETA: f64 = 0.7;
/// RFC 9438 §4.3: alpha_cubic = 3 (1 - beta) / (1 + beta).
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// Cube root by Newton's method: deterministic on every IEEE-754 platform.
pub fn cube_root(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut y = if x > 1.0 { x / 3.0 } else { 1.0 };
    for _ in 0..100 {
        let next = (2.0 * y + x / (y * y)) / 3.0;
        if next == y {
            break;
        }
        y = next;
    }
    y
}

/// The CUBIC controller (RFC 9438): owns cwnd and ssthresh, in bytes,
/// starting from the initial window and an "arbitrarily high" ssthresh.
#[derive(Debug, Clone)]
pub struct Cubic {
    smss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// W_max in segments: the window before the last reduction (§4.6).
    w_max: f64,
    /// W_last_max for fast convergence (§4.7).
    w_last_max: f64,
    /// Start of the current congestion-avoidance epoch (§4.2: t = now - epoch).
    epoch_start: Option<Instant>,
    /// K in seconds (§4.2 eq. 2).
    k: f64,
    /// W_est in segments, the Reno-friendly estimate (§4.3).
    w_est: f64,
    /// cwnd in fractional segments during avoidance.
    cwnd_segments: f64,
}

impl Cubic {
    /// A controller for a connection whose sender MSS is `smss` bytes: cwnd
    /// starts at the initial window (10·SMSS), ssthresh at `u32::MAX`.
    pub fn new(smss: u32) -> Cubic {
        let cwnd = initial_window(smss);
        Cubic {
            smss,
            cwnd,
            ssthresh: u32::MAX,
            w_max: 0.0,
            w_last_max: 0.0,
            epoch_start: None,
            k: 0.0,
            w_est: 0.0,
            cwnd_segments: f64::from(cwnd) / f64::from(smss),
        }
    }

    /// W_cubic(t) in segments (§4.2 eq. 1).
    pub fn w_cubic(&self, t_seconds: f64) -> f64 {
        let d = t_seconds - self.k;
        C * d * d * d + self.w_max
    }

    /// K in seconds.
    pub fn k(&self) -> f64 {
        self.k
    }

    fn segments(&self) -> f64 {
        f64::from(self.cwnd) / f64::from(self.smss)
    }

    fn set_cwnd_segments(&mut self, w: f64) {
        self.cwnd_segments = w.max(1.0);
        let bytes = self.cwnd_segments * f64::from(self.smss);
        self.cwnd = if bytes >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            bytes as u32
        };
    }

    /// §4.6 and §4.7: the reduction on a congestion event (shared with RTO).
    fn reduce(&mut self) {
        let cwnd = self.segments();
        // §4.7 fast convergence: if the window did not get back to the last
        // W_max, release bandwidth for new flows.
        if cwnd < self.w_last_max {
            self.w_last_max = cwnd;
            self.w_max = cwnd * (1.0 + BETA) / 2.0;
        } else {
            self.w_last_max = cwnd;
            self.w_max = cwnd;
        }
        // §4.6: ssthresh = cwnd * beta (at least 2 segments, RFC 5681).
        let ssthresh = (cwnd * BETA).max(2.0);
        self.ssthresh = (ssthresh * f64::from(self.smss)) as u32;
        self.epoch_start = None;
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }
    fn window(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, mut sample: AckSample) {
        // Linux's rule first, when the connection runs it (bictcp_cong_avoid).
        let linux_slow_start =
            self.cwnd < self.ssthresh && sample.linux.is_some_and(|g| g.cwnd_limited);
        let left = super::linux_growth(&mut self.cwnd, self.ssthresh, self.smss, &sample);
        if linux_slow_start {
            self.cwnd_segments = self.segments();
        }
        let Some(left) = left else {
            return;
        };
        sample.bytes_acked = left;
        if self.cwnd < self.ssthresh {
            // Slow start as RFC 5681 (§4.10 of RFC 9438 allows HyStart; we do not use it).
            self.cwnd = self.cwnd.saturating_add(sample.bytes_acked.min(self.smss));
            self.cwnd_segments = self.segments();
            return;
        }
        let epoch = match self.epoch_start {
            Some(e) => e,
            None => {
                // §4.2: a new epoch starts with the first ACK in avoidance;
                // if cwnd is already above W_max, K = 0 and W_max = cwnd.
                self.epoch_start = Some(now);
                let cwnd = self.segments();
                if cwnd >= self.w_max {
                    self.k = 0.0;
                    self.w_max = cwnd;
                } else {
                    self.k = cube_root((self.w_max - cwnd) / C);
                }
                self.w_est = cwnd;
                self.cwnd_segments = cwnd;
                now
            }
        };
        let t = now.saturating_since(epoch).as_nanos() as f64 / 1e9;
        let rtt = sample.srtt.unwrap_or(Duration::from_millis(100)).as_nanos() as f64 / 1e9;
        let acked_segments = f64::from(sample.bytes_acked) / f64::from(self.smss);
        let cwnd = self.cwnd_segments;
        // §4.3: W_est grows by alpha_cubic per cwnd of ACKed segments.
        self.w_est += ALPHA * acked_segments / cwnd;
        // §4.4-4.5: the target is W_cubic one RTT ahead, clamped to [cwnd, 1.5 cwnd].
        let target = self.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
        let next = if self.w_cubic(t) < self.w_est {
            // Reno-friendly region: follow the Reno estimate.
            self.w_est
        } else {
            // Concave or convex region: approach the target over one RTT.
            cwnd + (target - cwnd) / cwnd * acked_segments
        };
        self.set_cwnd_segments(next.max(cwnd));
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight_size: u32) {
        self.reduce();
        self.cwnd = self.ssthresh.max(2 * self.smss);
        self.cwnd_segments = self.segments();
    }

    fn on_recovery_exit(&mut self, _now: Instant, _flight_size: u32) {
        // §4.6: after recovery cwnd continues from ssthresh (= beta * W_max).
        self.cwnd = self.ssthresh.max(2 * self.smss);
        self.cwnd_segments = self.segments();
    }

    fn on_rto(&mut self, _now: Instant, _flight_size: u32) {
        // §4.8: reduce as for a congestion event, then cwnd = 1 SMSS (RFC 5681)
        // and slow start up to the new ssthresh; the next epoch starts afresh.
        self.reduce();
        self.cwnd = self.smss;
        self.cwnd_segments = 1.0;
    }

    fn undo_reduction(&mut self, _now: Instant, prior_cwnd: u32, prior_ssthresh: u32) {
        // Linux's CUBIC undoes as Reno does (tcp_reno_undo_cwnd); its
        // W_max and epoch stay as the reduction left them.
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
        self.cwnd_segments = self.segments();
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        self.cwnd = self.cwnd.min(initial_window(self.smss));
        self.cwnd_segments = self.segments();
        self.epoch_start = None;
    }

    fn set_mss(&mut self, smss: u32) {
        let was_initial = self.cwnd == initial_window(self.smss);
        self.smss = smss.max(1);
        if was_initial {
            self.cwnd = initial_window(self.smss);
        }
        self.cwnd_segments = self.segments();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(bytes: u32, srtt_ms: u64) -> AckSample {
        AckSample {
            bytes_acked: bytes,
            flight_size: 0,
            rtt: None,
            srtt: Some(Duration::from_millis(srtt_ms)),
            linux: None,
        }
    }

    #[test]
    fn cube_root_is_exact_enough() {
        // K depends on it: check perfect cubes and a non-cube against the definition.
        assert_eq!(cube_root(27.0), 3.0);
        assert_eq!(
            cube_root(1e-9 * 1e-9 * 1e-9).to_bits(),
            cube_root(1e-27).to_bits()
        );
        let r = cube_root(75.0);
        assert!((r * r * r - 75.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn a_loss_multiplies_by_beta_and_k_matches_the_rfc_formula() {
        // At 100 segments a loss gives ssthresh = cwnd = 70 segments, and the
        // first ACK of the epoch sets K = cbrt((W_max - cwnd) / C) =
        // cbrt(30 / 0.4) = cbrt(75) ~ 4.217 s (RFC 9438 eq. 2 with cwnd = beta W_max).
        let mut c = Cubic::new(1000);
        c.ssthresh = 1;
        c.set_cwnd_segments(100.0);
        c.on_congestion_event(Instant::ZERO, 100_000);
        assert_eq!(c.window(), 70_000);
        assert_eq!(c.ssthresh(), 70_000);
        c.on_ack(Instant::ZERO, ack(1000, 100));
        assert!((c.k() - 4.2172).abs() < 1e-3, "K = {}", c.k());
        assert!(
            (c.w_cubic(c.k()) - 100.0).abs() < 1e-9,
            "W_cubic(K) = W_max"
        );
    }

    #[test]
    fn the_window_climbs_back_to_w_max_around_k() {
        // Feeding a full window of ACKs every 100 ms, cwnd is concave below
        // W_max before K and reaches about W_max near K: the cubic shape.
        let mut c = Cubic::new(1000);
        c.ssthresh = 1;
        c.set_cwnd_segments(100.0);
        c.on_congestion_event(Instant::ZERO, 100_000);
        let mut t = Instant::ZERO;
        let mut at_2s = 0;
        for step in 1..=45 {
            t += Duration::from_millis(100);
            let acks = c.window() / 1000;
            for _ in 0..acks {
                c.on_ack(t, ack(1000, 100));
            }
            if step == 20 {
                at_2s = c.window();
            }
        }
        assert!(
            at_2s > 85_000 && at_2s < 100_000,
            "concave approach: {at_2s}"
        );
        let at_4_5s = c.window();
        assert!(
            (97_000..=110_000).contains(&at_4_5s),
            "near W_max around K: {at_4_5s}"
        );
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_losses_come_early() {
        // Second loss below the previous W_max: W_max = cwnd (1 + beta) / 2 (§4.7).
        let mut c = Cubic::new(1000);
        c.ssthresh = 1;
        c.set_cwnd_segments(100.0);
        c.on_congestion_event(Instant::ZERO, 0);
        c.set_cwnd_segments(80.0);
        c.on_congestion_event(Instant::ZERO, 0);
        assert!((c.w_max - 80.0 * 0.85).abs() < 1e-9, "W_max = {}", c.w_max);
    }

    #[test]
    fn timeout_collapses_to_one_segment_and_slow_starts() {
        // §4.8: after an RTO cwnd = 1 SMSS; ACKs below ssthresh grow it by one SMSS each.
        let mut c = Cubic::new(1000);
        c.set_cwnd_segments(50.0);
        c.on_rto(Instant::ZERO, 0);
        assert_eq!(c.window(), 1000);
        assert_eq!(c.ssthresh(), 35_000);
        c.on_ack(Instant::ZERO, ack(1000, 100));
        assert_eq!(c.window(), 2000);
    }
}
