//! The link model, one direction at a time.
//!
//! A packet handed to a link direction goes through these steps, in this
//! order, each drawing only from the direction's own RNG stream:
//!
//! 1. **up/down windows** and run-time partitions: sent while the link is
//!    down, it is dropped (`LinkDown`);
//! 2. **fault rules** attached to the direction (see [`crate::fault`]), in the
//!    order they were added, those whose time window holds now; the first
//!    rule that fires decides;
//! 3. **drop-tail queue**: packets waiting for or in serialization count
//!    against `queue_packets_max` / `queue_bytes_max`; over either, `QueueFull`;
//!    with `ecn_mark_threshold` K, a step AQM before it: with K or more
//!    packets queued, an ECN-capable IPv4 packet (ECT(0), ECT(1)) is marked
//!    CE instead of being dropped, and any other packet is dropped
//!    (`QueueFull`), as a router doing RFC 3168 §5 marking would;
//! 4. **serialization** at `rate_bps` after the packets ahead of it;
//! 5. **loss** on the wire: independent (`loss`), then Gilbert-Elliott bursts;
//!    a lost packet has used its transmission time;
//! 6. **corruption**: flip `bits` random bits, the packet is still delivered;
//! 7. **delay**: propagation + jitter + reordering extra delay;
//! 8. **duplication**: a copy is delivered right after the original.
//!
//! A packet still in flight when a down window starts is dropped on arrival.
//!
//! At run time a direction can also be changed ([`LinkChange`], applied by
//! [`crate::world::World::change_link`] and its schedule and callback
//! forms): a partition acts as a down window with no end until the repair; a
//! hold keeps every packet that reaches the far end, in arrival order, and
//! hands them over at the release; a new rate, delay or loss applies to the
//! packets offered from then on (packets already queued keep the departure
//! and arrival times they were given, as an ns-3 attribute change does).
//!
//! What this model deliberately does not do: MAC contention, AQM beyond
//! the one-threshold marking above (no RED averaging, no CoDel), L4S.

use crate::decisions::PacketFaults;
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
    /// Probability, per packet, of moving from the good to the bad state.
    pub good_to_bad: f64,
    /// Probability, per packet, of moving from the bad back to the good state.
    pub bad_to_good: f64,
    /// Loss probability of a packet sent in the good state.
    pub loss_good: f64,
    /// Loss probability of a packet sent in the bad state.
    pub loss_bad: f64,
}

/// A fraction of packets that get extra delay, so later packets overtake them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reorder {
    /// Probability that a packet is delayed, in `[0, 1]`.
    pub probability: f64,
    /// The delay such a packet gets on top of the link's own.
    pub extra_delay: Duration,
}

/// Per-packet extra delay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// Uniform in `[min, max]`.
    Uniform {
        /// The smallest extra delay (must not exceed `max`).
        min: Duration,
        /// The largest extra delay.
        max: Duration,
    },
    /// Exponential with `mean`, truncated at `max`.
    Exponential {
        /// The mean extra delay before truncation (must be above zero).
        mean: Duration,
        /// Draws above this are cut to it.
        max: Duration,
    },
}

/// The most bits one corruption may flip: every bit of the largest IPv4
/// datagram (65,535 bytes). More could only flip some bits twice, and an
/// unbounded count would let one packet stall the run.
pub const CORRUPTION_BITS_MAX: u32 = 65_535 * 8;

/// Random corruption: with `probability`, flip `bits` random bits
/// (1 to [`CORRUPTION_BITS_MAX`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corruption {
    /// Probability that a packet is corrupted, in `[0, 1]`.
    pub probability: f64,
    /// How many random bits one corruption flips, `1..=`[`CORRUPTION_BITS_MAX`].
    pub bits: u32,
}

/// One direction's settings. `LinkConfig::default()` is a 1 Gbit/s, 1 ms,
/// loss-free link with a 1,000-packet queue.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Serialization rate in bits per second (must be > 0).
    pub rate_bps: u64,
    /// One-way propagation delay, added after serialization.
    pub delay: Duration,
    /// Drop-tail limit in packets waiting for or in serialization (`None`: no
    /// limit). Default 1,000.
    pub queue_packets_max: Option<u32>,
    /// Drop-tail limit in bytes waiting for or in serialization (`None`: no
    /// limit, the default).
    pub queue_bytes_max: Option<u64>,
    /// Independent loss probability per packet, in `[0, 1]`.
    pub loss: f64,
    /// Bursty loss, drawn after the independent loss.
    pub gilbert_elliott: Option<GilbertElliott>,
    /// Probability that a delivered packet is also delivered a second time, in `[0, 1]`.
    pub duplicate: f64,
    /// Reordering: some packets get extra delay so later ones overtake them.
    pub reorder: Option<Reorder>,
    /// Per-packet extra delay on top of `delay`.
    pub jitter: Option<Jitter>,
    /// Random bit flips on delivered packets.
    pub corruption: Option<Corruption>,
    /// Partitions: `[start, end)` intervals during which the direction is down.
    pub down: Vec<(Time, Time)>,
    /// ECN marking (RFC 3168 §5) at a queue threshold: with this many
    /// packets or more queued, an arriving ECN-capable packet is marked CE
    /// and queued, any other is dropped. `None` (the default): drop-tail
    /// only. Compare with `queue_packets_max` set to the same number.
    pub ecn_mark_threshold: Option<u32>,
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
            ecn_mark_threshold: None,
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

/// A corruption's bit count must be in `1..=CORRUPTION_BITS_MAX`.
pub(crate) fn check_corruption_bits(name: &str, bits: u32) -> Result<(), LinkConfigError> {
    if bits == 0 {
        return Err(LinkConfigError(format!("{name} must be at least 1")));
    }
    if bits > CORRUPTION_BITS_MAX {
        return Err(LinkConfigError(format!(
            "{name} = {bits} exceeds {CORRUPTION_BITS_MAX}, every bit of the largest IPv4 datagram"
        )));
    }
    Ok(())
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
    /// Builder: mark ECN-capable packets CE once `threshold` packets are
    /// queued (see [`LinkConfig::ecn_mark_threshold`]).
    pub fn with_ecn_marking(mut self, threshold: u32) -> LinkConfig {
        self.ecn_mark_threshold = Some(threshold);
        self
    }
    /// Builder: independent loss probability `p` (see [`LinkConfig::loss`]).
    pub fn with_loss(mut self, p: f64) -> LinkConfig {
        self.loss = p;
        self
    }
    /// Builder: a drop-tail queue of at most `max` packets.
    pub fn with_queue_packets(mut self, max: u32) -> LinkConfig {
        self.queue_packets_max = Some(max);
        self
    }
    /// Builder: a drop-tail queue of at most `max` bytes.
    pub fn with_queue_bytes(mut self, max: u64) -> LinkConfig {
        self.queue_bytes_max = Some(max);
        self
    }

    /// Builder: duplicate each packet with probability `p`.
    pub fn with_duplicate(mut self, p: f64) -> LinkConfig {
        self.duplicate = p;
        self
    }
    /// Builder: reorder some packets (see [`Reorder`]).
    pub fn with_reorder(mut self, reorder: Reorder) -> LinkConfig {
        self.reorder = Some(reorder);
        self
    }
    /// Builder: add per-packet jitter (see [`Jitter`]).
    pub fn with_jitter(mut self, jitter: Jitter) -> LinkConfig {
        self.jitter = Some(jitter);
        self
    }
    /// Builder: corrupt some packets (see [`Corruption`]).
    pub fn with_corruption(mut self, corruption: Corruption) -> LinkConfig {
        self.corruption = Some(corruption);
        self
    }
    /// Builder: Gilbert-Elliott bursty loss (see [`GilbertElliott`]).
    pub fn with_gilbert_elliott(mut self, ge: GilbertElliott) -> LinkConfig {
        self.gilbert_elliott = Some(ge);
        self
    }
    /// Adds a partition: the direction is down during `[start, end)`.
    pub fn with_down(mut self, start: Time, end: Time) -> LinkConfig {
        self.down.push((start, end));
        self
    }

    /// Checks every value: rate above zero, probabilities in `[0, 1]`,
    /// corruption bits in range, jitter `min <= max` and an exponential mean
    /// above zero, non-empty down windows, no zero queue limit. The world calls
    /// it when a link is connected.
    ///
    /// # Errors
    ///
    /// The first value out of range, named.
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
            check_corruption_bits("corruption.bits", c.bits)?;
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
        if self.ecn_mark_threshold == Some(0) {
            return Err(LinkConfigError(
                "an ECN marking threshold of zero would drop every packet that is not ECN-capable, SYNs and ACKs included".into(),
            ));
        }
        Ok(())
    }

    /// Whether a configured down window holds `t` (run-time partitions are not
    /// part of the configuration and are not seen here).
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

/// A change to one link direction while the world runs.
///
/// Values are checked when the change is asked for (scheduled, applied, or
/// attached to a fault rule), so a bad value is a [`crate::SimError`] then,
/// never a surprise mid-run.
#[derive(Clone, Copy, Debug)]
pub enum LinkChange {
    /// The direction goes down until [`LinkChange::Repair`]: packets sent are
    /// dropped (`LinkDown`), and so are packets in flight when they arrive.
    Partition,
    /// Ends a [`LinkChange::Partition`]. Configured down windows still apply.
    Repair,
    /// Packets reaching the far end are kept, in arrival order, instead of
    /// delivered (turmoil's hold). Nothing is dropped while held, up to
    /// [`HELD_PACKETS_MAX`] packets (beyond it, `QueueFull`).
    Hold,
    /// Ends a [`LinkChange::Hold`]: the kept packets are delivered now, in
    /// the order they arrived, before anything that arrives later.
    Release,
    /// A new serialization rate (must be > 0) for packets offered from now on.
    SetRate {
        /// Bits per second.
        rate_bps: u64,
    },
    /// A new propagation delay for packets offered from now on.
    SetDelay {
        /// The new one-way propagation delay.
        delay: Duration,
    },
    /// A new independent loss probability (in `[0, 1]`) from now on.
    SetLoss {
        /// Independent loss probability per packet.
        loss: f64,
    },
}

/// Equality by value; loss compares by its bits, so a change equals itself
/// (the trace compares events, and a change is part of one).
impl PartialEq for LinkChange {
    fn eq(&self, other: &Self) -> bool {
        use LinkChange::*;
        match (self, other) {
            (SetRate { rate_bps: a }, SetRate { rate_bps: b }) => a == b,
            (SetDelay { delay: a }, SetDelay { delay: b }) => a == b,
            (SetLoss { loss: a }, SetLoss { loss: b }) => a.to_bits() == b.to_bits(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}
impl Eq for LinkChange {}

impl LinkChange {
    /// Rejects values the link model cannot take.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        match *self {
            LinkChange::SetRate { rate_bps: 0 } => {
                Err(LinkConfigError("rate_bps must be greater than zero".into()))
            }
            LinkChange::SetLoss { loss } => check_probability("loss", loss),
            _ => Ok(()),
        }
    }

    /// The trace's encoding: a tag and one value word.
    pub(crate) fn words(&self) -> (u64, u64) {
        match *self {
            LinkChange::Partition => (1, 0),
            LinkChange::Repair => (2, 0),
            LinkChange::Hold => (3, 0),
            LinkChange::Release => (4, 0),
            LinkChange::SetRate { rate_bps } => (5, rate_bps),
            LinkChange::SetDelay { delay } => (6, delay.as_nanos()),
            LinkChange::SetLoss { loss } => (7, loss.to_bits()),
        }
    }
}

impl std::fmt::Display for LinkChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkChange::Partition => f.write_str("partitioned"),
            LinkChange::Repair => f.write_str("repaired"),
            LinkChange::Hold => f.write_str("held"),
            LinkChange::Release => f.write_str("released"),
            LinkChange::SetRate { rate_bps } => write!(f, "rate set to {rate_bps} bit/s"),
            LinkChange::SetDelay { delay } => write!(f, "delay set to {delay}"),
            LinkChange::SetLoss { loss } => write!(f, "loss set to {loss}"),
        }
    }
}

/// Which directions a change applies to: one, or both of a duplex link
/// (`World::connect` returns the pair, so `(ab, ba).into()` reads naturally).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// One direction.
    One(LinkId),
    /// Both directions of a duplex link, the first then the second.
    Both(LinkId, LinkId),
}

impl LinkTarget {
    /// The directions, in order.
    pub fn directions(self) -> impl Iterator<Item = LinkId> {
        let (first, second) = match self {
            LinkTarget::One(l) => (l, None),
            LinkTarget::Both(a, b) => (a, Some(b)),
        };
        std::iter::once(first).chain(second)
    }
}

impl From<LinkId> for LinkTarget {
    fn from(link: LinkId) -> LinkTarget {
        LinkTarget::One(link)
    }
}
impl From<(LinkId, LinkId)> for LinkTarget {
    fn from((a, b): (LinkId, LinkId)) -> LinkTarget {
        LinkTarget::Both(a, b)
    }
}

/// The most packets one held direction keeps (TIGER_STYLE: a limit on
/// every queue); a sender that outruns it loses the excess as `QueueFull`.
pub const HELD_PACKETS_MAX: usize = 1 << 20;

/// Counters per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to the direction (including those then dropped).
    pub offered: u64,
    /// Packets handed to the far end node (a duplicate counts again).
    pub delivered: u64,
    /// Packets lost on the wire (independent or Gilbert-Elliott loss).
    pub dropped_loss: u64,
    /// Packets refused by the drop-tail queue (or past [`HELD_PACKETS_MAX`] while held).
    pub dropped_queue: u64,
    /// Packets dropped because the direction was down when sent or on arrival.
    pub dropped_down: u64,
    /// Packets dropped by a fault rule.
    pub dropped_fault: u64,
    /// Extra copies made (random duplication or a duplicating fault rule).
    pub duplicated: u64,
    /// Packets that had bits flipped.
    pub corrupted: u64,
    /// Packets kept by a hold (each is counted again when delivered).
    pub held: u64,
    /// Packets marked CE at the marking threshold (RFC 3168 §5).
    pub ecn_marked: u64,
}

/// The outcome of offering one packet to a direction (steps 1 and 3–8; fault
/// rules are applied by the world, which owns them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    QueueFull,
    Lost {
        departure: Time,
        /// Lost in the Gilbert-Elliott bad or good state, not independently.
        burst: bool,
    },
    Deliver {
        arrival: Time,
        duplicate: bool,
        corrupt_bits: u32,
        /// The jitter added (zero for none), for the decision record.
        jitter: Duration,
        /// The reordering extra delay was added.
        reordered: bool,
        /// Mark the packet CE (the queue was at the marking threshold).
        ce_mark: bool,
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
    /// Down by a [`LinkChange::Partition`] until its repair.
    pub(crate) partitioned: bool,
    /// Under a [`LinkChange::Hold`]: arrivals go to `held` instead of the node.
    pub(crate) holding: bool,
    pub(crate) held: VecDeque<(crate::packet::Packet, u64)>,
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
            partitioned: false,
            holding: false,
            held: VecDeque::new(),
        }
    }

    /// Down at `t`: partitioned now, or inside a configured down window.
    pub(crate) fn is_down_at(&self, t: Time) -> bool {
        self.partitioned || self.config.is_down_at(t)
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
    /// With `script` (a decision replay), nothing is drawn: the packet gets
    /// exactly the listed faults.
    /// `ect`: the packet is an ECN-capable IPv4 datagram.
    pub(crate) fn admit(
        &mut self,
        now: Time,
        len: usize,
        ect: bool,
        extra_delay: Duration,
        script: Option<&PacketFaults>,
    ) -> Admission {
        self.drain_departed(now);
        let size = len as u32;
        let at_mark = self
            .config
            .ecn_mark_threshold
            .is_some_and(|k| self.queue.len() as u64 >= u64::from(k));
        if at_mark && !ect {
            return Admission::QueueFull;
        }
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

        if let Some(script) = script {
            return self.admit_scripted(departure, extra_delay, script, at_mark);
        }
        if let Some(burst) = self.draw_loss() {
            return Admission::Lost { departure, burst };
        }
        let corrupt_bits = match self.config.corruption {
            Some(c) if rng::chance(&mut self.rng, c.probability) => c.bits,
            _ => 0,
        };
        let mut arrival = departure + self.config.delay + extra_delay;
        let jitter = self.draw_jitter();
        arrival += jitter;
        let mut reordered = false;
        if let Some(r) = self.config.reorder
            && rng::chance(&mut self.rng, r.probability)
        {
            arrival += r.extra_delay;
            reordered = true;
        }
        let duplicate = rng::chance(&mut self.rng, self.config.duplicate);
        Admission::Deliver {
            arrival,
            duplicate,
            corrupt_bits,
            jitter,
            reordered,
            ce_mark: at_mark,
        }
    }

    /// Steps 5–8 with the faults taken from a replayed decision list.
    fn admit_scripted(
        &mut self,
        departure: Time,
        extra_delay: Duration,
        script: &PacketFaults,
        ce_mark: bool,
    ) -> Admission {
        if script.loss || script.burst_loss {
            return Admission::Lost {
                departure,
                burst: !script.loss,
            };
        }
        let jitter = script.jitter.unwrap_or(Duration::ZERO);
        let mut arrival = departure + self.config.delay + extra_delay + jitter;
        // The extra delay is the configuration's now; a list that names a
        // reordering for a direction without one adds nothing.
        let reordered = script.reorder && self.config.reorder.is_some();
        if let (true, Some(r)) = (reordered, self.config.reorder) {
            arrival += r.extra_delay;
        }
        Admission::Deliver {
            arrival,
            duplicate: script.duplicate,
            corrupt_bits: script.corrupt.as_ref().map_or(0, |bits| bits.len() as u32),
            jitter,
            reordered,
            ce_mark,
        }
    }

    /// `None`, or `Some(burst)` if the packet is lost (independently, or by
    /// the Gilbert-Elliott chain).
    fn draw_loss(&mut self) -> Option<bool> {
        if rng::chance(&mut self.rng, self.config.loss) {
            return Some(false);
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
            return rng::chance(&mut self.rng, p).then_some(true);
        }
        None
    }

    fn draw_jitter(&mut self) -> Duration {
        match self.config.jitter {
            None => Duration::ZERO,
            Some(Jitter::Uniform { min, max }) => {
                let span = max.as_nanos() - min.as_nanos();
                // `span + 1` overflows only for the full u64 range, where
                // every draw is already uniform over it.
                let offset = match span.checked_add(1) {
                    _ if span == 0 => 0,
                    Some(n) => rng::below(&mut self.rng, n),
                    None => rand_core::RngCore::next_u64(&mut self.rng),
                };
                Duration::from_nanos(min.as_nanos() + offset)
            }
            Some(Jitter::Exponential { mean, max }) => {
                // Inverse transform: -mean * ln(1 - u), with the engine's own
                // `ln` (basic IEEE operations only: the platform's maths
                // library may round `f64::ln` differently, and the trace
                // must not depend on it); truncated to whole nanoseconds.
                let u = rng::unit(&mut self.rng);
                let ns = -(mean.as_nanos() as f64) * rng::ln(1.0 - u);
                Duration::from_nanos((ns as u64).min(max.as_nanos()))
            }
        }
    }

    /// Flips the listed bit positions of `bytes` (a replayed corruption);
    /// a position past the end of this packet wraps around it. `positions`
    /// becomes the positions flipped, for the trace.
    pub(crate) fn corrupt_at(bytes: &mut [u8], listed: &[u32], positions: &mut Vec<u32>) {
        positions.clear();
        if bytes.is_empty() {
            return;
        }
        let total_bits = bytes.len() as u64 * 8;
        for &listed in listed {
            let bit = (u64::from(listed) % total_bits) as u32;
            bytes[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            positions.push(bit);
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

/// Whether `bytes` is an IPv4 datagram whose ECN field says ECN-capable
/// (ECT(0), ECT(1) or already CE; RFC 3168 §5).
pub(crate) fn ipv4_ecn_capable(bytes: &[u8]) -> bool {
    bytes.len() >= 20 && bytes[0] >> 4 == 4 && bytes[1] & 3 != 0
}

/// Sets an IPv4 datagram's ECN field to CE and updates its header checksum
/// incrementally (RFC 1624 eqn. 3), as a marking router does. False if it
/// was CE already (nothing changes) or is not IPv4.
pub(crate) fn mark_ce(bytes: &mut [u8]) -> bool {
    if bytes.len() < 20 || bytes[0] >> 4 != 4 || bytes[1] & 3 == 3 {
        return false;
    }
    let old = u16::from_be_bytes([bytes[0], bytes[1]]);
    bytes[1] |= 3;
    let new = u16::from_be_bytes([bytes[0], bytes[1]]);
    let sum = u16::from_be_bytes([bytes[10], bytes[11]]);
    let mut acc = u32::from(!sum) + u32::from(!old) + u32::from(new);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    bytes[10..12].copy_from_slice(&(!(acc as u16)).to_be_bytes());
    true
}
