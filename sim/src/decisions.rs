//! Recorded fault decisions: every random impairment a link direction
//! applied, and every fault-rule hit, as a list that can be replayed in
//! place of the RNG.
//!
//! A run normally draws its impairments from each direction's RNG stream
//! (the default: nothing is recorded and nothing changes). After
//! [`crate::World::record_decisions`] the draws are exactly the same (so
//! the trace hash is the same), and each one that did something is also
//! written down as a [`Decision`]. After [`crate::World::replay_decisions`] a direction
//! draws nothing: a packet is lost, corrupted, jittered, reordered or
//! duplicated only if the list says so, and a fault rule fires only on a
//! packet the list names for it ("only these faults happen"). Replaying the
//! full recorded list gives the recorded run again, event for event; leaving
//! a decision out removes that one fault and shifts no other draw, because
//! replay draws nothing, so delta debugging can remove decisions one by one.
//!
//! A decision is identified stably by the direction's label (the link name
//! and its ends, `"client-server:client->server"`), the packet's ordinal
//! among the packets offered to that direction (1-based, packets dropped
//! because the direction was down count too), and its kind. After a removed
//! fault the run may send other packets than before (no retransmission of a
//! packet that was not lost), so a later decision then applies to whatever
//! packet has its ordinal: that is what "the third packet on this link is
//! lost" means.
//!
//! Fault rules are deterministic (`(match, action)`), so replay uses the
//! list as a filter on them: a rule fires on a packet if it would have fired
//! *and* the list holds that hit. The rule still counts the packets it
//! matches, so its `nth` is unaffected by which hits are kept.
//!
//! # Text form
//!
//! Each decision reads `LINK #PACKET KIND`, where `KIND` is one of `loss`,
//! `burst-loss` (a Gilbert-Elliott loss), `duplicate`, `reorder`,
//! `jitter NANOS` (extra delay in nanoseconds), `corrupt BIT,BIT,...` (the
//! bit positions flipped, counted from the first bit of the datagram), or
//! `rule INDEX` / `rule INDEX corrupt BIT,...` (the direction's fault rule at
//! that position, in the order added, and the bits a `Corrupt` rule
//! flipped). [`Decision`] implements `Display` and `FromStr` for it:
//!
//! ```
//! use sim::decisions::Decision;
//! let d: Decision = "a-b:a->b #3 corrupt 17,200".parse().unwrap();
//! assert_eq!(d.packet, 3);
//! assert_eq!(d.to_string(), "a-b:a->b #3 corrupt 17,200");
//! assert!("a-b:a->b #0 loss".parse::<Decision>().is_err());
//! ```

use crate::time::Duration;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What one decision did to its packet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Independent random loss (`LinkConfig::loss`).
    Loss,
    /// Gilbert-Elliott loss (`LinkConfig::gilbert_elliott`).
    BurstLoss,
    /// Random corruption: the bit positions flipped.
    Corrupt(Vec<u32>),
    /// Extra delay drawn from the jitter distribution (never zero: a zero
    /// draw is no fault and is not recorded).
    Jitter(Duration),
    /// The reordering extra delay (`Reorder::extra_delay`) was added.
    Reorder,
    /// A copy was delivered right after the original.
    Duplicate,
    /// The direction's fault rule at `index` fired; `corrupt` holds the bit
    /// positions a `Corrupt` rule flipped (empty for other actions).
    Rule {
        /// The rule's position in the direction's fault rules (0-based, as
        /// `World::add_fault` added them).
        index: u32,
        /// Bit positions flipped, counted from the first byte of the packet.
        corrupt: Vec<u32>,
    },
}

impl Fault {
    /// The kind's name in the text form (`loss`, `burst-loss`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Loss => "loss",
            Fault::BurstLoss => "burst-loss",
            Fault::Corrupt(_) => "corrupt",
            Fault::Jitter(_) => "jitter",
            Fault::Reorder => "reorder",
            Fault::Duplicate => "duplicate",
            Fault::Rule { .. } => "rule",
        }
    }
}

/// One recorded decision: which direction, which packet, what happened.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decision {
    /// The direction's label, `"NAME:FROM->TO"` (as `World::link_name`).
    pub link: String,
    /// The packet's 1-based ordinal among those offered to the direction.
    pub packet: u64,
    /// What happened to the packet.
    pub fault: Fault,
}

fn write_bits(f: &mut fmt::Formatter<'_>, bits: &[u32]) -> fmt::Result {
    for (i, b) in bits.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{b}")?;
    }
    Ok(())
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{} {}", self.link, self.packet, self.fault.kind())?;
        match &self.fault {
            Fault::Corrupt(bits) => {
                f.write_str(" ")?;
                write_bits(f, bits)
            }
            Fault::Jitter(d) => write!(f, " {}", d.as_nanos()),
            Fault::Rule { index, corrupt } => {
                write!(f, " {index}")?;
                if !corrupt.is_empty() {
                    f.write_str(" corrupt ")?;
                    write_bits(f, corrupt)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// A decision's text that does not read as one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionParseError(pub String);

impl fmt::Display for DecisionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DecisionParseError {}

fn parse_bits(text: &str, whole: &str) -> Result<Vec<u32>, DecisionParseError> {
    let bits: Result<Vec<u32>, _> = text.split(',').map(str::parse::<u32>).collect();
    match bits {
        Ok(bits) if !bits.is_empty() => Ok(bits),
        _ => Err(DecisionParseError(format!(
            "decision {whole:?}: bit positions must be numbers separated by commas, got {text:?}"
        ))),
    }
}

impl FromStr for Decision {
    type Err = DecisionParseError;

    fn from_str(whole: &str) -> Result<Decision, DecisionParseError> {
        let bad = |why: &str| DecisionParseError(format!("decision {whole:?}: {why}"));
        let Some((link, rest)) = whole.rsplit_once(" #") else {
            return Err(bad("expected `LINK #PACKET KIND`"));
        };
        let link = link.trim();
        if link.is_empty() {
            return Err(bad("the link is missing"));
        }
        let mut words = rest.split_whitespace();
        let packet: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("the packet ordinal must be a number from 1"))?;
        let kind = words.next().ok_or_else(|| bad("the kind is missing"))?;
        let args: Vec<&str> = words.collect();
        let fault = match (kind, args.as_slice()) {
            ("loss", []) => Fault::Loss,
            ("burst-loss", []) => Fault::BurstLoss,
            ("duplicate", []) => Fault::Duplicate,
            ("reorder", []) => Fault::Reorder,
            ("jitter", [ns]) => {
                let ns: u64 = ns
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("jitter takes a delay in nanoseconds above zero"))?;
                Fault::Jitter(Duration::from_nanos(ns))
            }
            ("corrupt", [bits]) => Fault::Corrupt(parse_bits(bits, whole)?),
            ("rule", [index]) | ("rule", [index, "corrupt", _]) => {
                let index: u32 = index
                    .parse()
                    .map_err(|_| bad("rule takes the rule's index, a number"))?;
                let corrupt = match args.as_slice() {
                    [_, _, bits] => parse_bits(bits, whole)?,
                    _ => Vec::new(),
                };
                Fault::Rule { index, corrupt }
            }
            (
                "loss" | "burst-loss" | "duplicate" | "reorder" | "jitter" | "corrupt" | "rule",
                _,
            ) => return Err(bad(&format!("wrong arguments for {kind}"))),
            _ => {
                return Err(bad(&format!(
                    "unknown kind {kind:?} (loss, burst-loss, duplicate, reorder, jitter, corrupt, rule)"
                )));
            }
        };
        Ok(Decision {
            link: link.to_string(),
            packet,
            fault,
        })
    }
}

/// How a world makes its impairment decisions. Set with
/// [`crate::World::record_decisions`] or [`crate::World::replay_decisions`].
#[derive(Clone, Debug, Default)]
pub(crate) enum DecisionMode {
    /// Draw from the RNG, record nothing (the default).
    #[default]
    Draw,
    /// Draw from the RNG and record each decision, per direction index.
    Record(Vec<(u32, u64, Fault)>),
    /// Take decisions from the list only: per direction, per packet.
    Replay(Vec<BTreeMap<u64, PacketFaults>>),
}

/// Everything the list says about one packet on one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PacketFaults {
    pub(crate) loss: bool,
    pub(crate) burst_loss: bool,
    pub(crate) corrupt: Option<Vec<u32>>,
    pub(crate) jitter: Option<Duration>,
    pub(crate) reorder: bool,
    pub(crate) duplicate: bool,
    pub(crate) rule: Option<(u32, Vec<u32>)>,
}

impl PacketFaults {
    /// No fault at all: a packet the list does not name.
    pub(crate) const NONE: PacketFaults = PacketFaults {
        loss: false,
        burst_loss: false,
        corrupt: None,
        jitter: None,
        reorder: false,
        duplicate: false,
        rule: None,
    };

    pub(crate) fn add(&mut self, fault: &Fault) {
        match fault {
            Fault::Loss => self.loss = true,
            Fault::BurstLoss => self.burst_loss = true,
            Fault::Corrupt(bits) => self.corrupt = Some(bits.clone()),
            Fault::Jitter(d) => self.jitter = Some(*d),
            Fault::Reorder => self.reorder = true,
            Fault::Duplicate => self.duplicate = true,
            Fault::Rule { index, corrupt } => self.rule = Some((*index, corrupt.clone())),
        }
    }
}

/// A replay list that names something the world does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionError {
    /// No link direction has this label.
    UnknownLink {
        /// The decision as written in the replay list.
        decision: String,
        /// The labels of every direction the world does have.
        links: Vec<String>,
    },
    /// The direction has fewer fault rules than the index.
    UnknownRule {
        /// The decision as written in the replay list.
        decision: String,
        /// How many fault rules the direction has.
        rules: usize,
    },
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionError::UnknownLink { decision, links } => write!(
                f,
                "decision {decision:?} names a link direction this world does not have (it has {})",
                links.join(", ")
            ),
            DecisionError::UnknownRule { decision, rules } => write!(
                f,
                "decision {decision:?} names a fault rule this direction does not have (it has {rules})"
            ),
        }
    }
}
impl std::error::Error for DecisionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        // The text form is what capsules store: each kind must survive a
        // round trip exactly, or a replay would apply a different fault.
        let faults = [
            Fault::Loss,
            Fault::BurstLoss,
            Fault::Corrupt(vec![0, 7, 12_000]),
            Fault::Jitter(Duration::from_nanos(1_234_567)),
            Fault::Reorder,
            Fault::Duplicate,
            Fault::Rule {
                index: 2,
                corrupt: Vec::new(),
            },
            Fault::Rule {
                index: 0,
                corrupt: vec![9],
            },
        ];
        for fault in faults {
            let d = Decision {
                link: "lan:client->server".into(),
                packet: 42,
                fault,
            };
            let text = d.to_string();
            assert_eq!(text.parse::<Decision>(), Ok(d), "{text}");
        }
    }

    #[test]
    fn malformed_decisions_are_errors_that_quote_the_text() {
        // A hand-edited capsule with a typo must say which decision is wrong.
        for bad in [
            "",
            "lan:a->b",
            "lan:a->b #x loss",
            "lan:a->b #0 loss",
            " #3 loss",
            "lan:a->b #3",
            "lan:a->b #3 lost",
            "lan:a->b #3 loss 5",
            "lan:a->b #3 jitter",
            "lan:a->b #3 jitter 0",
            "lan:a->b #3 corrupt 1,,2",
            "lan:a->b #3 rule x",
            "lan:a->b #3 rule 1 corrupt",
        ] {
            let err = bad.parse::<Decision>().unwrap_err();
            assert!(err.0.contains("decision"), "{bad:?}: {err}");
        }
    }
}
