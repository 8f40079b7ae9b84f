//! Fault profiles: what a sweep does to every link of a scenario, as data.
//!
//! A profile is a TOML file (documented in `docs/fault-profiles.md`) or one
//! of the built-in names [`Profile::builtin`] knows: `none`, `light`,
//! `heavy`, `swarm`. Each fault kind gives its intensities as ranges; for
//! every seed, every link direction draws its own values from the ranges
//! (one duplex draw for both directions unless `asymmetric`), so one
//! profile covers a family of networks. A `swarm` profile also draws, per
//! seed, which kinds are present at all, so different seeds stress
//! different combinations.
//!
//! All randomness comes from the seed through the engine's labelled
//! streams ([`sim::rng::stream`]): the plan from `sweep-faults:<link>`, the
//! per-packet decisions from `sweep-faults-run:<direction>`, the swarm
//! choice from `sweep-faults:swarm`, a crash from `sweep-faults:crash`.
//! Nothing reads the OS or the wall clock, so a seed and a profile replay
//! the same network.
//!
//! How a plan is applied ([`FaultPlan::apply`]): each direction gets
//! named fault rules ([`sim::FaultRule`]) after the scenario's own (which
//! keep precedence): one rule per partition (drop everything in its
//! window), then one per random kind, all active only from time zero to the
//! profile's `active_secs`. Past that the network is the scenario's own
//! again, and the run's horizon is extended to at least `active_secs +
//! settle_secs` so every connection has time to end (the termination
//! oracle). A rule fires on at most one kind per packet: a packet is lost,
//! or corrupted, or duplicated, or delayed, in that order of precedence.
//! Corruption applies only to links a host sends on (the first hop), so a
//! packet is corrupted at most once end to end.

use crate::app::AppCtx;
use crate::host::Host;
use crate::run::Setup;
use serde::{Deserialize, Serialize};
use sim::rng::{self, SimRng};
use sim::{Duration, FaultAction, FaultRule, LinkId, NodeId, SimError, Time, World};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// A closed range `[lo, hi]` a value is drawn from, uniformly; a single
/// number in a file is the range `[x, x]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// The smallest value.
    pub lo: f64,
    /// The largest value (at least `lo`).
    pub hi: f64,
}

impl Span {
    /// The range `[lo, hi]`.
    pub const fn new(lo: f64, hi: f64) -> Span {
        Span { lo, hi }
    }
    /// The single value `x`.
    pub const fn exactly(x: f64) -> Span {
        Span { lo: x, hi: x }
    }
    fn draw(self, rng: &mut SimRng) -> f64 {
        if self.hi <= self.lo {
            self.lo
        } else {
            self.lo + (self.hi - self.lo) * rng::unit(rng)
        }
    }
    fn check(self, what: &str, min: f64, max: f64) -> Result<(), String> {
        for v in [self.lo, self.hi] {
            if !v.is_finite() || v < min || v > max {
                return Err(format!("{what} = {v} is outside [{min}, {max}]"));
            }
        }
        if self.lo > self.hi {
            return Err(format!(
                "{what} = [{}, {}]: the low end is above the high end",
                self.lo, self.hi
            ));
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.lo, self.hi].serialize(s)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(f64),
            Two([f64; 2]),
        }
        match Raw::deserialize(d) {
            Ok(Raw::One(x)) => Ok(Span::exactly(x)),
            Ok(Raw::Two([lo, hi])) => Ok(Span::new(lo, hi)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a number or a range [low, high]",
            )),
        }
    }
}

/// Independent random loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loss {
    /// Probability a packet is lost.
    pub probability: Span,
}

/// Gilbert-Elliott bursts: a two-state chain stepped per packet; in the
/// bad state packets are lost with `loss`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bursts {
    /// Probability per packet of entering the bad state.
    pub enter: Span,
    /// Probability per packet of leaving it (mean burst: 1 / leave packets).
    pub leave: Span,
    /// Loss probability in the bad state.
    pub loss: Span,
}

/// Duplication: the original goes through, a copy follows `delay_ms` later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duplicate {
    /// Probability a packet is duplicated.
    pub probability: Span,
    /// How much later the copy arrives, in milliseconds.
    pub delay_ms: Span,
}

/// Reordering: a fraction of packets is held back `delay_ms`, so later
/// ones overtake it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reorder {
    /// Probability a packet is held back.
    pub probability: Span,
    /// How long it is held back, in milliseconds.
    pub delay_ms: Span,
}

/// Jitter: every packet not otherwise touched waits a uniform extra delay
/// up to `max_ms` (in eight steps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jitter {
    /// The largest extra delay, in milliseconds.
    pub max_ms: Span,
}

/// Bit corruption: with `probability`, flip `bits` random bits. One bit
/// is always caught by the Internet checksum (RFC 1071); two or more can
/// cancel out in the ones'-complement sum and deliver wrong bytes, which
/// the delivery oracle then reports (a limit of TCP, not a stack bug).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corrupt {
    /// Probability a packet is corrupted.
    pub probability: Span,
    /// Bits flipped in a corrupted packet (default 1).
    #[serde(default = "one_bit")]
    pub bits: u32,
}

fn one_bit() -> u32 {
    1
}

/// Partitions: `count` windows of `duration_ms`, placed at random in the
/// active period; with `asymmetric`, half of them cut one direction only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// How many partitions.
    pub count: Span,
    /// How long each lasts, in milliseconds.
    pub duration_ms: Span,
}

/// Host crashes: with `probability` per seed, one host (drawn from the
/// scenario's plain hosts) loses all TCP state once, at a random time in
/// the active period, and reboots at once (`AppCtx::crash`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// Probability per seed that one host crashes.
    pub probability: f64,
}

/// A fault profile. See the module documentation and
/// `docs/fault-profiles.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in reports and in fault-rule names (`heavy: loss`).
    pub name: String,
    /// Each seed keeps each kind below with probability 1/2 (at least one).
    #[serde(default)]
    pub swarm: bool,
    /// Each direction of a link draws its own intensities.
    #[serde(default)]
    pub asymmetric: bool,
    /// Faults apply from time zero until this many simulated seconds.
    #[serde(default = "default_active")]
    pub active_secs: f64,
    /// The run lasts at least `active_secs + settle_secs`, so connections
    /// can end once the faults stop.
    #[serde(default = "default_settle")]
    pub settle_secs: f64,
    /// Independent loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// Gilbert-Elliott burst loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bursts: Option<Bursts>,
    /// Duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Duplicate>,
    /// Reordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<Reorder>,
    /// Jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// Bit corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<Corrupt>,
    /// Link partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Host crashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<Crash>,
}

fn default_active() -> f64 {
    30.0
}

fn default_settle() -> f64 {
    600.0
}

/// The built-in profile names, for messages.
pub const BUILTIN: [&str; 4] = ["none", "light", "heavy", "swarm"];

/// A profile that cannot be used: unknown name, unreadable or bad file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

impl Profile {
    /// No faults: the scenario's own network.
    pub fn none() -> Profile {
        Profile {
            name: "none".into(),
            swarm: false,
            asymmetric: false,
            active_secs: default_active(),
            settle_secs: default_settle(),
            loss: None,
            bursts: None,
            duplicate: None,
            reorder: None,
            jitter: None,
            corrupt: None,
            partition: None,
            crash: None,
        }
    }

    /// A little of everything that does not cut the path: 0.5-3% loss,
    /// rare duplication and reordering, a few ms of jitter.
    pub fn light() -> Profile {
        Profile {
            name: "light".into(),
            loss: Some(Loss {
                probability: Span::new(0.005, 0.03),
            }),
            duplicate: Some(Duplicate {
                probability: Span::new(0.0, 0.01),
                delay_ms: Span::new(0.0, 5.0),
            }),
            reorder: Some(Reorder {
                probability: Span::new(0.0, 0.02),
                delay_ms: Span::new(1.0, 10.0),
            }),
            jitter: Some(Jitter {
                max_ms: Span::new(0.0, 3.0),
            }),
            ..Profile::none()
        }
    }

    /// Hostile: 10-30% loss plus Gilbert-Elliott bursts, duplication,
    /// reordering, jitter, single-bit corruption and partitions of
    /// seconds, each direction drawn on its own.
    pub fn heavy() -> Profile {
        Profile {
            name: "heavy".into(),
            asymmetric: true,
            active_secs: 60.0,
            loss: Some(Loss {
                probability: Span::new(0.10, 0.30),
            }),
            bursts: Some(Bursts {
                enter: Span::new(0.01, 0.05),
                leave: Span::new(0.2, 0.5),
                loss: Span::new(0.5, 1.0),
            }),
            duplicate: Some(Duplicate {
                probability: Span::new(0.01, 0.05),
                delay_ms: Span::new(0.0, 50.0),
            }),
            reorder: Some(Reorder {
                probability: Span::new(0.02, 0.10),
                delay_ms: Span::new(5.0, 50.0),
            }),
            jitter: Some(Jitter {
                max_ms: Span::new(1.0, 20.0),
            }),
            corrupt: Some(Corrupt {
                probability: Span::new(0.005, 0.02),
                bits: 1,
            }),
            partition: Some(Partition {
                count: Span::new(1.0, 3.0),
                duration_ms: Span::new(1_000.0, 5_000.0),
            }),
            ..Profile::none()
        }
    }

    /// `heavy`'s ranges, but each seed keeps only its own subset of the
    /// kinds, and one host crashes in a third of the seeds.
    pub fn swarm() -> Profile {
        Profile {
            name: "swarm".into(),
            swarm: true,
            crash: Some(Crash {
                probability: 1.0 / 3.0,
            }),
            ..Profile::heavy()
        }
    }

    /// The built-in profile called `name`.
    pub fn builtin(name: &str) -> Option<Profile> {
        match name {
            "none" => Some(Profile::none()),
            "light" => Some(Profile::light()),
            "heavy" => Some(Profile::heavy()),
            "swarm" => Some(Profile::swarm()),
            _ => None,
        }
    }

    /// `--faults` as given: a built-in name, or a profile file (a path
    /// ending in `.toml`, or any file that exists).
    pub fn resolve(spec: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::builtin(spec) {
            return Ok(p);
        }
        let path = std::path::Path::new(spec);
        if spec.ends_with(".toml") || path.is_file() {
            return Profile::load(path);
        }
        Err(ProfileError(format!(
            "unknown fault profile {spec:?}: expected {} or a profile file FILE.toml",
            BUILTIN.join(", ")
        )))
    }

    /// Reads and checks a profile file.
    pub fn load(path: &std::path::Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProfileError(format!("cannot read {}: {e}", path.display())))?;
        Profile::parse(&text).map_err(|e| ProfileError(format!("{}: {e}", path.display())))
    }

    /// Parses and checks a profile from TOML text.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let profile: Profile = toml::from_str(text).map_err(|e| {
            // toml's message spans lines (a snippet of the file): keep the gist.
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })?;
        profile.validate()?;
        Ok(profile)
    }

    /// Every value in range: probabilities in [0, 1], delays and counts
    /// bounded, ranges low to high.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.chars().any(|c| c.is_control()) {
            return Err("name must be a non-empty line of text".into());
        }
        if !(self.active_secs.is_finite() && self.active_secs > 0.0 && self.active_secs <= 3600.0) {
            return Err(format!(
                "active_secs = {} is outside (0, 3600]",
                self.active_secs
            ));
        }
        if !(self.settle_secs.is_finite() && (0.0..=86_400.0).contains(&self.settle_secs)) {
            return Err(format!(
                "settle_secs = {} is outside [0, 86400]",
                self.settle_secs
            ));
        }
        if let Some(l) = &self.loss {
            l.probability.check("loss.probability", 0.0, 1.0)?;
        }
        if let Some(b) = &self.bursts {
            b.enter.check("bursts.enter", 0.0, 1.0)?;
            b.leave.check("bursts.leave", 0.0, 1.0)?;
            b.loss.check("bursts.loss", 0.0, 1.0)?;
            if b.leave.lo <= 0.0 {
                return Err("bursts.leave must be above 0 (a burst that never ends)".into());
            }
        }
        if let Some(d) = &self.duplicate {
            d.probability.check("duplicate.probability", 0.0, 1.0)?;
            d.delay_ms.check("duplicate.delay_ms", 0.0, 60_000.0)?;
        }
        if let Some(r) = &self.reorder {
            r.probability.check("reorder.probability", 0.0, 1.0)?;
            r.delay_ms.check("reorder.delay_ms", 0.0, 60_000.0)?;
        }
        if let Some(j) = &self.jitter {
            j.max_ms.check("jitter.max_ms", 0.0, 60_000.0)?;
        }
        if let Some(c) = &self.corrupt {
            c.probability.check("corrupt.probability", 0.0, 1.0)?;
            if c.bits == 0 || c.bits > sim::link::CORRUPTION_BITS_MAX {
                return Err(format!(
                    "corrupt.bits = {} is outside [1, {}]",
                    c.bits,
                    sim::link::CORRUPTION_BITS_MAX
                ));
            }
        }
        if let Some(p) = &self.partition {
            p.count.check("partition.count", 0.0, 100.0)?;
            p.duration_ms
                .check("partition.duration_ms", 0.0, self.active_secs * 1000.0)?;
        }
        if let Some(c) = &self.crash
            && !(0.0..=1.0).contains(&c.probability)
        {
            return Err(format!(
                "crash.probability = {} is outside [0, 1]",
                c.probability
            ));
        }
        Ok(())
    }

    /// Whether the profile can change anything at all.
    pub fn is_none(&self) -> bool {
        self.loss.is_none()
            && self.bursts.is_none()
            && self.duplicate.is_none()
            && self.reorder.is_none()
            && self.jitter.is_none()
            && self.corrupt.is_none()
            && self.partition.is_none()
            && self.crash.as_ref().is_none_or(|c| c.probability <= 0.0)
    }

    /// The end of the active period.
    pub fn active_until(&self) -> Time {
        Time::from_nanos(secs_to_nanos(self.active_secs))
    }

    /// The kinds this seed uses: all of the profile's, or for a swarm
    /// profile a subset drawn from the seed (never empty when the profile
    /// has any kind).
    pub fn kinds_for(&self, seed: u64) -> Kinds {
        let all = Kinds {
            loss: self.loss.is_some(),
            bursts: self.bursts.is_some(),
            duplicate: self.duplicate.is_some(),
            reorder: self.reorder.is_some(),
            jitter: self.jitter.is_some(),
            corrupt: self.corrupt.is_some(),
            partition: self.partition.is_some(),
            crash: self.crash.as_ref().is_some_and(|c| c.probability > 0.0),
        };
        if !self.swarm {
            return all;
        }
        let mut rng = rng::stream(seed, "sweep-faults:swarm");
        let mut flags = all.as_array();
        let present: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).collect();
        if present.is_empty() {
            return all;
        }
        for &i in &present {
            flags[i] = rng::chance(&mut rng, 0.5);
        }
        if !flags.iter().any(|&f| f) {
            let pick = present[rng::below(&mut rng, present.len() as u64) as usize];
            flags[pick] = true;
        }
        Kinds::from_array(flags)
    }

    /// Draws this seed's faults for the links and hosts of `setup`.
    pub fn plan(&self, seed: u64, setup: &Setup) -> FaultPlan {
        let mut kinds = self.kinds_for(seed);
        let mut directions = Vec::new();
        let active = self.active_until();
        let mut id = 0u32;
        while let Some(name) = setup.world.link_name(LinkId(id)) {
            let duplex = duplex_name(&setup.world, name);
            let pair = setup.world.link_by_name(&duplex);
            // The draw for a direction: its own stream if asymmetric, else
            // the duplex link's (both directions then draw the same values).
            let label = if self.asymmetric {
                format!("sweep-faults:{name}")
            } else {
                format!("sweep-faults:{duplex}")
            };
            let mut draw = rng::stream(seed, &label);
            let mut d = DirectionPlan {
                link: LinkId(id),
                name: name.to_string(),
                loss: 0.0,
                bursts: None,
                duplicate: None,
                reorder: None,
                jitter: None,
                corrupt: None,
                partitions: Vec::new(),
            };
            if kinds.loss
                && let Some(l) = &self.loss
            {
                d.loss = l.probability.draw(&mut draw);
            }
            if kinds.bursts
                && let Some(b) = &self.bursts
            {
                d.bursts = Some((
                    b.enter.draw(&mut draw),
                    b.leave.draw(&mut draw),
                    b.loss.draw(&mut draw),
                ));
            }
            if kinds.duplicate
                && let Some(x) = &self.duplicate
            {
                d.duplicate = Some((
                    x.probability.draw(&mut draw),
                    ms(x.delay_ms.draw(&mut draw)),
                ));
            }
            if kinds.reorder
                && let Some(x) = &self.reorder
            {
                d.reorder = Some((
                    x.probability.draw(&mut draw),
                    ms(x.delay_ms.draw(&mut draw)),
                ));
            }
            if kinds.jitter
                && let Some(j) = &self.jitter
            {
                d.jitter = Some(ms(j.max_ms.draw(&mut draw)));
            }
            // Corruption only where a host sends: a packet crosses exactly
            // one such link, so it is corrupted at most once end to end. Two
            // single-bit flips on two hops can cancel in the 16-bit
            // checksum (RFC 1071) and deliver wrong bytes, a limit of TCP
            // that the delivery oracle would report as a failure (seed 97
            // of `many-connections` under swarm did, through the hub).
            let from_host = name
                .get(duplex.len() + 1..)
                .and_then(|rest| rest.split_once("->"))
                .and_then(|(from, _)| setup.world.node_by_name(from))
                .is_some_and(|n| setup.hosts.iter().any(|h| h.node == n));
            if kinds.corrupt
                && from_host
                && let Some(c) = &self.corrupt
            {
                d.corrupt = Some((c.probability.draw(&mut draw), c.bits));
            }
            if kinds.partition
                && let Some(p) = &self.partition
            {
                // Partitions are drawn per duplex link, so a cut both ways
                // is one window; asymmetric profiles cut one way half the time.
                let mut cut = rng::stream(seed, &format!("sweep-faults-partition:{duplex}"));
                let count = p.count.draw(&mut cut).round() as u64;
                let a_to_b = pair.is_none_or(|(a, _)| a == LinkId(id));
                for _ in 0..count {
                    let len = ms(p.duration_ms.draw(&mut cut)).as_nanos();
                    let room = active.as_nanos().saturating_sub(len).max(1);
                    let start = rng::below(&mut cut, room);
                    let which = if self.asymmetric {
                        rng::below(&mut cut, 4)
                    } else {
                        0
                    };
                    // 0, 1: both ways; 2: a -> b only; 3: b -> a only.
                    let here = match which {
                        2 => a_to_b,
                        3 => !a_to_b,
                        _ => true,
                    };
                    if here {
                        d.partitions
                            .push((Time::from_nanos(start), Time::from_nanos(start + len)));
                    }
                }
            }
            directions.push(d);
            id += 1;
        }
        let mut crash = None;
        if kinds.crash
            && let Some(c) = &self.crash
        {
            let mut rng = rng::stream(seed, "sweep-faults:crash");
            let hosts: Vec<NodeId> = setup
                .hosts
                .iter()
                .map(|h| h.node)
                .filter(|&n| setup.world.node::<Host>(n).is_some())
                .collect();
            if rng::chance(&mut rng, c.probability) && !hosts.is_empty() {
                let host = hosts[rng::below(&mut rng, hosts.len() as u64) as usize];
                // Somewhere in the active period, after the first 100 ms.
                let lo = Time::from_millis(100).as_nanos();
                let span = active.as_nanos().saturating_sub(lo).max(1);
                let at = Time::from_nanos(lo + rng::below(&mut rng, span));
                let name = setup.world.node_name(host).unwrap_or("?").to_string();
                crash = Some(PlannedCrash {
                    node: host,
                    host: name,
                    at,
                });
            }
        }
        kinds.crash = crash.is_some();
        FaultPlan {
            profile: self.name.clone(),
            active,
            settle: Duration::from_nanos(secs_to_nanos(self.settle_secs)),
            kinds,
            directions,
            crash,
        }
    }
}

fn secs_to_nanos(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

fn ms(x: f64) -> Duration {
    Duration::from_nanos((x * 1e6).round() as u64)
}

/// The duplex link a direction belongs to: its name up to the `:` before
/// `from->to` (see `World::connect`).
fn duplex_name(world: &World, direction: &str) -> String {
    let mut at = direction.len();
    while let Some(i) = direction[..at].rfind(':') {
        if world.link_by_name(&direction[..i]).is_some() {
            return direction[..i].to_string();
        }
        at = i;
    }
    direction.to_string()
}

/// Which fault kinds a seed uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds {
    /// Independent loss is on.
    pub loss: bool,
    /// Burst loss is on.
    pub bursts: bool,
    /// Duplication is on.
    pub duplicate: bool,
    /// Reordering is on.
    pub reorder: bool,
    /// Jitter is on.
    pub jitter: bool,
    /// Corruption is on.
    pub corrupt: bool,
    /// Partitions are on.
    pub partition: bool,
    /// A host crash is on.
    pub crash: bool,
}

impl Kinds {
    /// The kinds' names, in the order of [`Kinds`]' fields.
    pub const NAMES: [&'static str; 8] = [
        "loss",
        "bursts",
        "duplicate",
        "reorder",
        "jitter",
        "corrupt",
        "partition",
        "crash",
    ];
    fn as_array(self) -> [bool; 8] {
        [
            self.loss,
            self.bursts,
            self.duplicate,
            self.reorder,
            self.jitter,
            self.corrupt,
            self.partition,
            self.crash,
        ]
    }
    fn from_array(a: [bool; 8]) -> Kinds {
        Kinds {
            loss: a[0],
            bursts: a[1],
            duplicate: a[2],
            reorder: a[3],
            jitter: a[4],
            corrupt: a[5],
            partition: a[6],
            crash: a[7],
        }
    }
    /// The names of the kinds present, comma-separated (`none` if none).
    pub fn describe(self) -> String {
        let names: Vec<&str> = self
            .as_array()
            .iter()
            .zip(Kinds::NAMES)
            .filter(|(on, _)| **on)
            .map(|(_, n)| n)
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }
}

/// One direction's drawn faults.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionPlan {
    /// The direction.
    pub link: LinkId,
    /// The direction's label (`NAME:FROM->TO`).
    pub name: String,
    /// Independent loss probability.
    pub loss: f64,
    /// (enter, leave, loss in the bad state).
    pub bursts: Option<(f64, f64, f64)>,
    /// (probability, delay of the copy).
    pub duplicate: Option<(f64, Duration)>,
    /// (probability, extra delay).
    pub reorder: Option<(f64, Duration)>,
    /// Uniform jitter up to this.
    pub jitter: Option<Duration>,
    /// (probability, bits flipped).
    pub corrupt: Option<(f64, u32)>,
    /// `[start, end)` windows during which the direction is down.
    pub partitions: Vec<(Time, Time)>,
}

impl DirectionPlan {
    fn random(&self) -> bool {
        self.loss > 0.0
            || self.bursts.is_some()
            || self.duplicate.is_some()
            || self.reorder.is_some()
            || self.jitter.is_some()
            || self.corrupt.is_some()
    }
}

/// A host crash a plan makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCrash {
    /// The host's engine node.
    pub node: NodeId,
    /// The host's name.
    pub host: String,
    /// When it crashes (and reboots at once).
    pub at: Time,
}

/// One seed's faults for one scenario's world, drawn by [`Profile::plan`].
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// The profile's name.
    pub profile: String,
    /// Faults apply until this time.
    pub active: Time,
    /// How long the run goes on after the faults stop.
    pub settle: Duration,
    /// The kinds this seed uses.
    pub kinds: Kinds,
    /// Each link direction's drawn faults.
    pub directions: Vec<DirectionPlan>,
    /// The host crash, if the seed has one.
    pub crash: Option<PlannedCrash>,
}

/// What the per-packet decider chose for the packet being offered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pass,
    Loss,
    Burst,
    Corrupt,
    Duplicate,
    Reorder,
    Jitter(u8),
}

/// Eight jitter steps: a packet waits (k + 1/2) / 8 of the maximum.
const JITTER_STEPS: u8 = 8;

struct Decider {
    rng: SimRng,
    plan: DirectionPlan,
    bad: bool,
    decision: Decision,
}

impl Decider {
    fn decide(&mut self) -> Decision {
        let rng = &mut self.rng;
        let p = &self.plan;
        let mut d = Decision::Pass;
        if let Some((enter, leave, loss_bad)) = p.bursts {
            self.bad = if self.bad {
                !rng::chance(rng, leave)
            } else {
                rng::chance(rng, enter)
            };
            if self.bad && rng::chance(rng, loss_bad) {
                d = Decision::Burst;
            }
        }
        if d == Decision::Pass && rng::chance(rng, p.loss) {
            d = Decision::Loss;
        }
        if d == Decision::Pass
            && let Some((prob, _)) = p.corrupt
            && rng::chance(rng, prob)
        {
            d = Decision::Corrupt;
        }
        if d == Decision::Pass
            && let Some((prob, _)) = p.duplicate
            && rng::chance(rng, prob)
        {
            d = Decision::Duplicate;
        }
        if d == Decision::Pass
            && let Some((prob, _)) = p.reorder
            && rng::chance(rng, prob)
        {
            d = Decision::Reorder;
        }
        if d == Decision::Pass && p.jitter.is_some() {
            d = Decision::Jitter(rng::below(rng, u64::from(JITTER_STEPS)) as u8);
        }
        self.decision = d;
        d
    }
}

impl FaultPlan {
    /// Whether the plan changes anything.
    pub fn is_empty(&self) -> bool {
        self.crash.is_none()
            && self
                .directions
                .iter()
                .all(|d| !d.random() && d.partitions.is_empty())
    }

    /// Adds the plan's fault rules to the world and extends the horizon so
    /// connections can end after the faults stop. The crash, if any, is
    /// made by the driver ([`FaultPlan::drive`]).
    pub fn apply(&self, seed: u64, setup: &mut Setup) -> Result<(), SimError> {
        if self.is_empty() {
            return Ok(());
        }
        let end = self.active + self.settle;
        setup.horizon = setup.horizon.max(end);
        let world = &mut setup.world;
        let tag = &self.profile;
        for d in &self.directions {
            for &(from, until) in &d.partitions {
                let rule = FaultRule::named(
                    format!("{tag}: partition {from}-{until}"),
                    |_| true,
                    FaultAction::Drop,
                )
                .active_from(from)
                .active_until(until);
                world.add_fault(d.link, rule)?;
            }
            if !d.random() {
                continue;
            }
            let decider = Rc::new(RefCell::new(Decider {
                rng: rng::stream(seed, &format!("sweep-faults-run:{}", d.name)),
                plan: d.clone(),
                bad: false,
                decision: Decision::Pass,
            }));
            let window = |rule: FaultRule| rule.active_until(self.active);
            // The first rule draws the packet's fate; the others read it.
            let first = decider.clone();
            world.add_fault(
                d.link,
                window(FaultRule::named(
                    format!("{tag}: loss"),
                    move |_| first.borrow_mut().decide() == Decision::Loss,
                    FaultAction::Drop,
                )),
            )?;
            let mut add = |name: String, want: Decision, action: FaultAction| {
                let shared = decider.clone();
                world.add_fault(
                    d.link,
                    window(FaultRule::named(
                        name,
                        move |_| shared.borrow().decision == want,
                        action,
                    )),
                )
            };
            if d.bursts.is_some() {
                add(
                    format!("{tag}: burst loss"),
                    Decision::Burst,
                    FaultAction::Drop,
                )?;
            }
            if let Some((_, bits)) = d.corrupt {
                add(
                    format!("{tag}: corrupt"),
                    Decision::Corrupt,
                    FaultAction::Corrupt { bits },
                )?;
            }
            if let Some((_, delay)) = d.duplicate {
                add(
                    format!("{tag}: duplicate"),
                    Decision::Duplicate,
                    FaultAction::Duplicate(delay),
                )?;
            }
            if let Some((_, delay)) = d.reorder {
                add(
                    format!("{tag}: reorder"),
                    Decision::Reorder,
                    FaultAction::Delay(delay),
                )?;
            }
            if let Some(max) = d.jitter {
                for k in 0..JITTER_STEPS {
                    let wait =
                        max.as_nanos() * (2 * u64::from(k) + 1) / (2 * u64::from(JITTER_STEPS));
                    add(
                        format!("{tag}: jitter"),
                        Decision::Jitter(k),
                        FaultAction::Delay(Duration::from_nanos(wait)),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Runs `world` to `horizon`, crashing the planned host on the way.
    pub fn drive(&self, world: &mut World, horizon: Time) -> Result<sim::RunStats, SimError> {
        if let Some(c) = &self.crash
            && c.at < horizon
        {
            world.run_until(c.at)?;
            world.with_node::<Host, _>(c.node, |host, ctx| AppCtx::new(host, ctx).crash());
        }
        world.run_until(horizon)
    }

    /// One line: the kinds used and the crash, for failure reports.
    pub fn describe(&self) -> String {
        let mut s = format!("{}: {}", self.profile, self.kinds.describe());
        if let Some(c) = &self.crash {
            s.push_str(&format!(" ({} crashes at {})", c.host, c.at));
        }
        s
    }
}
