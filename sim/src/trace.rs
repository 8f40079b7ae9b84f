//! The trace: every send, enqueue, drop (with its reason), duplicate,
//! corruption, delivery and node note, in order, with virtual time; a 64-bit
//! hash over a canonical encoding; and a first-divergence report.
//!
//! Canonical encoding, per event, as little-endian 64-bit words folded by
//! [`crate::hash::TraceHasher`]: kind tag; time in ns; node; link (or
//! `u64::MAX`); source and destination addresses; packet length; the packet
//! digest ([`crate::hash::packet_digest`]); then the kind's own fields (drop
//! reason tag and rule index, corruption bit positions, note text bytes, a
//! link change's tag and value). Link changes and held packets only appear
//! in runs that use them, so runs that do not keep their hashes.
//! The hash is the same whether events are kept ([`TraceMode::Full`]) or not
//! ([`TraceMode::HashOnly`]).

use crate::addr::Addr;
use crate::hash::TraceHasher;
use crate::link::{LinkChange, LinkId};
use crate::time::Time;
use crate::world::NodeId;
use std::fmt;

/// Whether events are kept in memory as well as hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Keep every event, with up to `capture_bytes` of each packet.
    Full {
        /// How many leading bytes of each packet are kept (the hash
        /// covers the whole packet through its digest either way).
        capture_bytes: usize,
    },
    /// Hash only: for benchmarks and sweeps.
    HashOnly,
}

impl Default for TraceMode {
    fn default() -> Self {
        TraceMode::Full {
            capture_bytes: 2048,
        }
    }
}

/// Why a packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Random loss on the wire (independent or Gilbert-Elliott).
    Loss,
    /// The drop-tail queue was full.
    QueueFull,
    /// The link direction was down (partition).
    LinkDown,
    /// A fault rule fired; the index is the rule's position on its link.
    FaultRule(u32),
    /// The sending node has no route to the destination.
    NoRoute,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Loss => f.write_str("loss"),
            DropReason::QueueFull => f.write_str("queue full"),
            DropReason::LinkDown => f.write_str("link down"),
            DropReason::FaultRule(i) => write!(f, "fault rule #{i}"),
            DropReason::NoRoute => f.write_str("no route"),
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A node handed a packet to the engine.
    Send,
    /// The packet entered a link direction's queue.
    Enqueue,
    /// The packet was dropped, and why.
    Drop(DropReason),
    /// A copy was made (random duplication or a fault rule).
    Duplicate,
    /// Bits were flipped; the positions are bit offsets from the first byte.
    Corrupt(Vec<u32>),
    /// The packet reached its link's far end node.
    Deliver,
    /// Free text from a node.
    Note(String),
    /// A link direction was changed at run time; `node` is the direction's
    /// sending end, `src`/`dst` the addresses of its two ends.
    LinkChange(LinkChange),
    /// The packet reached a held direction's far end and is kept until the
    /// release (a `Deliver` follows then).
    Held,
    /// A queue at its marking threshold set the packet's ECN field to CE
    /// (RFC 3168 §5); the event carries the marked bytes and digest.
    EcnMark,
}

impl EventKind {
    fn tag(&self) -> u64 {
        match self {
            EventKind::Send => 1,
            EventKind::Enqueue => 2,
            EventKind::Drop(_) => 3,
            EventKind::Duplicate => 4,
            EventKind::Corrupt(_) => 5,
            EventKind::Deliver => 6,
            EventKind::Note(_) => 7,
            EventKind::LinkChange(_) => 8,
            EventKind::Held => 9,
            EventKind::EcnMark => 10,
        }
    }
}

/// One trace event. For packet events, `bytes` holds the captured prefix of
/// the packet (empty in hash-only mode and for notes) and `len` its full length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it happened.
    pub time: Time,
    /// What happened.
    pub kind: EventKind,
    /// The node where it happened: the sender for `Send`, `Enqueue` and drops
    /// on the way out; the receiving end for `Deliver`, `Held` and drops on
    /// arrival; the direction's sending end for `LinkChange`.
    pub node: NodeId,
    /// The link direction involved, if any.
    pub link: Option<LinkId>,
    /// The packet's source address.
    pub src: Addr,
    /// The packet's destination address.
    pub dst: Addr,
    /// The packet's full length in bytes.
    pub len: u32,
    /// The packet's digest ([`crate::hash::packet_digest`]).
    pub digest: u64,
    /// The captured prefix of the packet (up to `TraceMode::Full`'s `capture_bytes`).
    pub bytes: Vec<u8>,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} node {}", self.time, self.node.0)?;
        if let Some(link) = self.link {
            write!(f, " link {}", link.0)?;
        }
        match &self.kind {
            EventKind::Note(text) => return write!(f, " note: {text}"),
            EventKind::LinkChange(change) => return write!(f, " link {change}"),
            EventKind::Held => f.write_str(" held")?,
            EventKind::EcnMark => f.write_str(" ecn-mark CE")?,
            EventKind::Send => f.write_str(" send")?,
            EventKind::Enqueue => f.write_str(" enqueue")?,
            EventKind::Drop(reason) => write!(f, " drop ({reason})")?,
            EventKind::Duplicate => f.write_str(" duplicate")?,
            EventKind::Corrupt(bits) => write!(f, " corrupt bits {bits:?}")?,
            EventKind::Deliver => f.write_str(" deliver")?,
        }
        write!(
            f,
            " {} -> {} len {} digest {:016x}",
            self.src, self.dst, self.len, self.digest
        )
    }
}

/// The recorded run.
#[derive(Clone, Debug)]
pub struct Trace {
    mode: TraceMode,
    hasher: TraceHasher,
    event_count: u64,
    events: Vec<TraceEvent>,
}

impl Trace {
    /// An empty trace that keeps events as `mode` says.
    pub fn new(mode: TraceMode) -> Trace {
        Trace {
            mode,
            hasher: TraceHasher::default(),
            event_count: 0,
            events: Vec::new(),
        }
    }

    /// Whether events are kept or only hashed.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    /// The hash of every event so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// Events recorded so far (hash-only mode counts them too).
    pub fn len(&self) -> u64 {
        self.event_count
    }

    /// Whether no event has been recorded.
    pub fn is_empty(&self) -> bool {
        self.event_count == 0
    }

    /// The kept events (empty in hash-only mode).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        time: Time,
        kind: EventKind,
        node: NodeId,
        link: Option<LinkId>,
        src: Addr,
        dst: Addr,
        bytes: &[u8],
        digest: u64,
    ) {
        let h = &mut self.hasher;
        h.word(kind.tag());
        h.word(time.as_nanos());
        h.word(u64::from(node.0));
        h.word(link.map_or(u64::MAX, |l| u64::from(l.0)));
        h.word(u64::from(src.0));
        h.word(u64::from(dst.0));
        h.word(bytes.len() as u64);
        h.word(digest);
        match &kind {
            EventKind::Drop(reason) => {
                let (tag, index) = match reason {
                    DropReason::Loss => (1, 0),
                    DropReason::QueueFull => (2, 0),
                    DropReason::LinkDown => (3, 0),
                    DropReason::FaultRule(i) => (4, u64::from(*i)),
                    DropReason::NoRoute => (5, 0),
                };
                h.word(tag);
                h.word(index);
            }
            EventKind::Corrupt(bits) => {
                h.word(bits.len() as u64);
                for &b in bits {
                    h.word(u64::from(b));
                }
            }
            EventKind::Note(text) => h.bytes(text.as_bytes()),
            EventKind::LinkChange(change) => {
                let (tag, value) = change.words();
                h.word(tag);
                h.word(value);
            }
            _ => {}
        }
        self.event_count += 1;
        if let TraceMode::Full { capture_bytes } = self.mode {
            self.events.push(TraceEvent {
                time,
                kind,
                node,
                link,
                src,
                dst,
                len: bytes.len() as u32,
                digest,
                bytes: bytes[..bytes.len().min(capture_bytes)].to_vec(),
            });
        }
    }
}

/// Where two traces first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing event.
    pub index: usize,
    /// The left trace's event there (None: the left trace ended).
    pub left: Option<TraceEvent>,
    /// The right trace's event there (None: the right trace ended).
    pub right: Option<TraceEvent>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "traces diverge at event #{}:", self.index)?;
        match &self.left {
            Some(e) => writeln!(f, "  left:  {e}")?,
            None => writeln!(f, "  left:  (trace ended)")?,
        }
        match &self.right {
            Some(e) => write!(f, "  right: {e}"),
            None => write!(f, "  right: (trace ended)"),
        }
    }
}

/// Compares two kept traces event by event (captured bytes included) and
/// reports the first difference; `None` when they are identical.
pub fn first_divergence(left: &[TraceEvent], right: &[TraceEvent]) -> Option<Divergence> {
    let common = left.len().min(right.len());
    let index = (0..common)
        .find(|&i| left[i] != right[i])
        .or(if left.len() != right.len() {
            Some(common)
        } else {
            None
        })?;
    Some(Divergence {
        index,
        left: left.get(index).cloned(),
        right: right.get(index).cloned(),
    })
}
