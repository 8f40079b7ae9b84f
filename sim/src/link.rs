//! The link model, one direction at a time.
//!
//! A packet handed to a link direction goes through these steps, in this
//! order, each drawing only from the direction's own RNG stream:
//!
//! 1. **up/down windows**: sent while the link is down, it is dropped (`LinkDown`);
//! 2. **fault rules** attached to the direction (see [`crate::fault`]), in the
//!    order they were added; the first rule that fires decides;
//! 3. **drop-tail queue**: packets waiting for or in serialization count
//!    against `queue_packets_max` / `queue_bytes_max`; over either, `QueueFull`;
//! 4. **serialization** at `rate_bps` after the packets ahead of it;
//! 5. **loss** on the wire: independent (`loss`), then Gilbert-Elliott bursts;
//!    a lost packet has used its transmission time;
//! 6. **corruption**: flip `bits` random bits, the packet is still delivered;
//! 7. **delay**: propagation + jitter + reordering extra delay;
//! 8. **duplication**: a copy is delivered right after the original.
//!
//! A packet still in flight when a down window starts is dropped on arrival.
//! What this model deliberately does not do: MAC contention, ECN marking, AQM.

use crate::rng::{self, SimRng};
use crate::time::{Duration, Time};
use std::collections::VecDeque;

/// Identifies one direction of a link.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LinkId(pub u32);

/// Gilbert-Elliott bursty loss: a two-state Markov chain stepped once per packet.
/// The mean burst (time in the bad state) is `1 / bad_to_good` packets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    pub good_to_bad: f64,
    pub bad_to_good: f64,
    pub loss_good: f64,
    pub loss_bad: f64,
}

/// A fraction of packets that get extra delay, so later packets overtake them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reorder {
    pub probability: f64,
    pub extra_delay: Duration,
}

/// Per-packet extra delay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// Uniform in `[min, max]`.
    Uniform { min: Duration, max: Duration },
    /// Exponential with `mean`, truncated at `max`.
    Exponential { mean: Duration, max: Duration },
}

/// Random corruption: with `probability`, flip `bits` random bits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corruption {
    pub probability: f64,
    pub bits: u32,
}

/// One direction's settings. `LinkConfig::default()` is a 1 Gbit/s, 1 ms,
/// loss-free link with a 1,000-packet queue.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Serialization rate in bits per second (must be > 0).
    pub rate_bps: u64,
    pub delay: Duration,
    pub queue_packets_max: Option<u32>,
    pub queue_bytes_max: Option<u64>,
    pub loss: f64,
    pub gilbert_elliott: Option<GilbertElliott>,
    pub duplicate: f64,
    pub reorder: Option<Reorder>,
    pub jitter: Option<Jitter>,
    pub corruption: Option<Corruption>,
    /// Partitions: `[start, end)` intervals during which the direction is down.
    pub down: Vec<(Time, Time)>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            rate_bps: 1_000_000_000,
            delay: Duration::from_millis(1),
            queue_packets_max: Some(1000),
            queue_bytes_max: None,
            loss: 0.0,
            gilbert_elliott: None,
            duplicate: 0.0,
            reorder: None,
            jitter: None,
            corruption: None,
            down: Vec::new(),
        }
    }
}

/// A configuration value out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfigError(pub String);

impl std::fmt::Display for LinkConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid link configuration: {}", self.0)
    }
}
impl std::error::Error for LinkConfigError {}

fn check_probability(name: &str, p: f64) -> Result<(), LinkConfigError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(LinkConfigError(format!(
            "{name} = {p} is not a probability in [0, 1]"
        )))
    }
}

impl LinkConfig {
    /// Builder: rate and one-way delay.
    pub fn new(rate_bps: u64, delay: Duration) -> LinkConfig {
        LinkConfig {
            rate_bps,
            delay,
            ..LinkConfig::default()
        }
    }
    pub fn with_loss(mut self, p: f64) -> LinkConfig {
        self.loss = p;
        self
    }
    pub fn with_queue_packets(mut self, max: u32) -> LinkConfig {
        self.queue_packets_max = Some(max);
        self
    }
    pub fn with_queue_bytes(mut self, max: u64) -> LinkConfig {
        self.queue_bytes_max = Some(max);
        self
    }

    pub fn with_duplicate(mut self, p: f64) -> LinkConfig {
        self.duplicate = p;
        self
    }
    pub fn with_reorder(mut self, reorder: Reorder) -> LinkConfig {
        self.reorder = Some(reorder);
        self
    }
    pub fn with_jitter(mut self, jitter: Jitter) -> LinkConfig {
        self.jitter = Some(jitter);
        self
    }
    pub fn with_corruption(mut self, corruption: Corruption) -> LinkConfig {
        self.corruption = Some(corruption);
        self
    }
    pub fn with_gilbert_elliott(mut self, ge: GilbertElliott) -> LinkConfig {
        self.gilbert_elliott = Some(ge);
        self
    }
    /// Adds a partition: the direction is down during `[start, end)`.
    pub fn with_down(mut self, start: Time, end: Time) -> LinkConfig {
        self.down.push((start, end));
        self
    }

    pub fn validate(&self) -> Result<(), LinkConfigError> {
        if self.rate_bps == 0 {
            return Err(LinkConfigError("rate_bps must be greater than zero".into()));
        }
        check_probability("loss", self.loss)?;
        check_probability("duplicate", self.duplicate)?;
        if let Some(ge) = self.gilbert_elliott {
            check_probability("gilbert_elliott.good_to_bad", ge.good_to_bad)?;
            check_probability("gilbert_elliott.bad_to_good", ge.bad_to_good)?;
            check_probability("gilbert_elliott.loss_good", ge.loss_good)?;
            check_probability("gilbert_elliott.loss_bad", ge.loss_bad)?;
        }
        if let Some(r) = self.reorder {
            check_probability("reorder.probability", r.probability)?;
        }
        if let Some(c) = self.corruption {
            check_probability("corruption.probability", c.probability)?;
            if c.bits == 0 {
                return Err(LinkConfigError("corruption.bits must be at least 1".into()));
            }
        }
        match self.jitter {
            Some(Jitter::Uniform { min, max }) if min > max => {
                return Err(LinkConfigError(format!(
                    "jitter min {min} exceeds max {max}"
                )));
            }
            Some(Jitter::Exponential { mean, .. }) if mean == Duration::ZERO => {
                return Err(LinkConfigError(
                    "exponential jitter needs a mean above zero".into(),
                ));
            }
            _ => {}
        }
        for &(start, end) in &self.down {
            if start >= end {
                return Err(LinkConfigError(format!(
                    "down window [{start}, {end}) is empty"
                )));
            }
        }
        if self.queue_packets_max == Some(0) || self.queue_bytes_max == Some(0) {
            return Err(LinkConfigError(
                "a queue limit of zero would drop every packet".into(),
            ));
        }
        Ok(())
    }

    pub fn is_down_at(&self, t: Time) -> bool {
        self.down.iter().any(|&(start, end)| start <= t && t < end)
    }

    /// Serialization time of `len` bytes, rounded up to the nanosecond.
    pub fn serialization(&self, len: usize) -> Duration {
        let bits = len as u128 * 8;
        let ns = (bits * 1_000_000_000).div_ceil(u128::from(self.rate_bps));
        Duration::from_nanos(ns.min(u128::from(u64::MAX)) as u64)
    }
}

/// Counters per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub offered: u64,
    pub delivered: u64,
    pub dropped_loss: u64,
    pub dropped_queue: u64,
    pub dropped_down: u64,
    pub dropped_fault: u64,
    pub duplicated: u64,
    pub corrupted: u64,
}

/// The outcome of offering one packet to a direction (steps 1 and 3–8; fault
/// rules are applied by the world, which owns them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    QueueFull,
    Lost {
        departure: Time,
    },
    Deliver {
        arrival: Time,
        duplicate: bool,
        corrupt_bits: u32,
    },
}

/// One direction's live state.
pub(crate) struct LinkDirection {
    pub(crate) name: String,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) config: LinkConfig,
    pub(crate) rng: SimRng,
    busy_until: Time,
    /// Departure times and sizes of packets waiting for or in serialization.
    queue: VecDeque<(Time, u32)>,
    queued_bytes: u64,
    gilbert_bad: bool,
    pub(crate) stats: LinkStats,
}

impl LinkDirection {
    pub(crate) fn new(name: String, from: u32, to: u32, config: LinkConfig, rng: SimRng) -> Self {
        LinkDirection {
            name,
            from,
            to,
            config,
            rng,
            busy_until: Time::ZERO,
            queue: VecDeque::new(),
            queued_bytes: 0,
            gilbert_bad: false,
            stats: LinkStats::default(),
        }
    }

    /// Packets currently queued (waiting or being serialized) at `now`.
    pub(crate) fn queue_len(&mut self, now: Time) -> usize {
        self.drain_departed(now);
        self.queue.len()
    }

    fn drain_departed(&mut self, now: Time) {
        while let Some(&(departure, size)) = self.queue.front() {
            if departure > now {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes -= u64::from(size);
        }
    }

    /// Steps 3–8 of the module doc for a packet of `len` bytes at `now`.
    pub(crate) fn admit(&mut self, now: Time, len: usize, extra_delay: Duration) -> Admission {
        self.drain_departed(now);
        let size = len as u32;
        let over_packets = self
            .config
            .queue_packets_max
            .is_some_and(|max| self.queue.len() as u64 >= u64::from(max));
        let over_bytes = self
            .config
            .queue_bytes_max
            .is_some_and(|max| self.queued_bytes + u64::from(size) > max);
        if over_packets || over_bytes {
            return Admission::QueueFull;
        }
        let start = if self.busy_until > now {
            self.busy_until
        } else {
            now
        };
        let departure = start + self.config.serialization(len);
        self.busy_until = departure;
        self.queue.push_back((departure, size));
        self.queued_bytes += u64::from(size);

        if self.draw_loss() {
            return Admission::Lost { departure };
        }
        let corrupt_bits = match self.config.corruption {
            Some(c) if rng::chance(&mut self.rng, c.probability) => c.bits,
            _ => 0,
        };
        let mut arrival = departure + self.config.delay + extra_delay;
        arrival += self.draw_jitter();
        if let Some(r) = self.config.reorder
            && rng::chance(&mut self.rng, r.probability)
        {
            arrival += r.extra_delay;
        }
        let duplicate = rng::chance(&mut self.rng, self.config.duplicate);
        Admission::Deliver {
            arrival,
            duplicate,
            corrupt_bits,
        }
    }

    fn draw_loss(&mut self) -> bool {
        if rng::chance(&mut self.rng, self.config.loss) {
            return true;
        }
        if let Some(ge) = self.config.gilbert_elliott {
            // Step the chain, then lose with the new state's probability.
            let flip = if self.gilbert_bad {
                ge.bad_to_good
            } else {
                ge.good_to_bad
            };
            if rng::chance(&mut self.rng, flip) {
                self.gilbert_bad = !self.gilbert_bad;
            }
            let p = if self.gilbert_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            return rng::chance(&mut self.rng, p);
        }
        false
    }

    fn draw_jitter(&mut self) -> Duration {
        match self.config.jitter {
            None => Duration::ZERO,
            Some(Jitter::Uniform { min, max }) => {
                let span = max.as_nanos() - min.as_nanos();
                let offset = if span == 0 {
                    0
                } else {
                    rng::below(&mut self.rng, span + 1)
                };
                Duration::from_nanos(min.as_nanos() + offset)
            }
            Some(Jitter::Exponential { mean, max }) => {
                // Inverse transform: -mean * ln(1 - u). `ln` of an f64 is
                // correctly rounded enough on every IEEE platform we run on;
                // the result is truncated to whole nanoseconds.
                let u = rng::unit(&mut self.rng);
                let ns = -(mean.as_nanos() as f64) * (1.0 - u).ln();
                Duration::from_nanos((ns as u64).min(max.as_nanos()))
            }
        }
    }

    /// Flips `bits` random bits of `bytes` (distinct positions are not
    /// required; flipping one bit twice restores it, as on a real wire).
    /// Returns the positions flipped, for the trace.
    pub(crate) fn corrupt(&mut self, bytes: &mut [u8], bits: u32, positions: &mut Vec<u32>) {
        positions.clear();
        if bytes.is_empty() {
            return;
        }
        let total_bits = bytes.len() as u64 * 8;
        for _ in 0..bits {
            let bit = rng::below(&mut self.rng, total_bits) as u32;
            bytes[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            positions.push(bit);
        }
    }
}
