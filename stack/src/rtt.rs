//! Retransmission timeout per RFC 6298: SRTT/RTTVAR, Karn's algorithm (the
//! caller never samples a retransmitted segment without timestamps),
//! exponential backoff, and min/max clamps.

use crate::time::Duration;

/// Clock granularity G (RFC 6298 §2): 1 ms, as Linux's jiffies at HZ=1000.
const GRANULARITY: Duration = Duration::from_millis(1);

/// RFC 6298 retransmission timer state: SRTT, RTTVAR, the base RTO and the
/// backoff count.
#[derive(Clone, Copy, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    rto_min: Duration,
    rto_max: Duration,
    backoff_count: u32,
}

impl RttEstimator {
    /// RFC 6298 §2.1: until a measurement is made, RTO = the initial value (1 s).
    pub fn new(rto_initial: Duration, rto_min: Duration, rto_max: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: rto_initial,
            rto_min,
            rto_max,
            backoff_count: 0,
        }
    }

    /// The smoothed RTT; `None` until the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }
    /// The RTT variation (zero until the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The current timeout including backoff.
    pub fn rto(&self) -> Duration {
        let shifted = self.rto.saturating_mul(1u64 << self.backoff_count.min(20));
        shifted.min(self.rto_max)
    }

    /// Timer expirations since the last valid sample: the RTO is shifted left by this (capped at `rto_max`).
    pub fn backoff_count(&self) -> u32 {
        self.backoff_count
    }

    /// RFC 6298 §5.5: double the RTO when the timer expires.
    pub fn back_off(&mut self) {
        self.backoff_count = self.backoff_count.saturating_add(1);
    }

    /// A new sample: RFC 6298 §2.2 (first) and §2.3 (later), then §2.4's
    /// floor (configurable: Linux's 200 ms rather than the RFC's 1 s, on the
    /// variance term as Linux applies it) and the §2.5 ceiling. A valid sample also ends backoff (§5.7 spirit, as Linux).
    pub fn sample(&mut self, r: Duration) {
        let r_ns = r.as_nanos();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = Duration::from_nanos(r_ns / 2);
            }
            Some(srtt) => {
                // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT = 7/8 SRTT + 1/8 R'.
                let delta = srtt.as_nanos().abs_diff(r_ns);
                self.rttvar = Duration::from_nanos((3 * self.rttvar.as_nanos() + delta) / 4);
                self.srtt = Some(Duration::from_nanos((7 * srtt.as_nanos() + r_ns) / 8));
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        // RFC 6298 §2.3: RTO = SRTT + max(G, K*RTTVAR). §2.4's floor is a
        // SHOULD; we apply it as Linux does (tcp_rtt_estimator keeps its
        // variance term at least tcp_rto_min): RTO = SRTT + max(4·RTTVAR,
        // rto_min), so a 100 ms path gets 300 ms, not 200 ms.
        let var_term = Duration::from_nanos(4 * self.rttvar.as_nanos())
            .max(GRANULARITY)
            .max(self.rto_min);
        self.rto = (srtt + var_term).min(self.rto_max);
        self.backoff_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_sets_srtt_and_half_variance() {
        // RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 3R.
        let mut e = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        );
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        // RFC 6298 §5.5 doubling, §2.5 maximum.
        let mut e = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        );
        e.back_off();
        assert_eq!(e.rto(), Duration::from_secs(2));
        for _ in 0..10 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
    }

    #[test]
    fn small_rtts_are_floored_at_the_minimum() {
        // A 1 ms path must not get a 3 ms RTO: §2.4's floor applies, to the
        // variance term as in Linux, so RTO = SRTT + 200 ms.
        let mut e = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        );
        e.sample(Duration::from_millis(1));
        assert_eq!(e.rto(), Duration::from_millis(201));
    }

    #[test]
    fn a_steady_rtt_keeps_the_floor_above_srtt() {
        // Two equal 100 ms samples shrink RTTVAR to 37.5 ms; RFC 6298 alone
        // would give 250 ms, Linux's floor on the variance term 300 ms.
        let mut e = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        );
        e.sample(Duration::from_millis(100));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rttvar(), Duration::from_micros(37_500));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }
}
