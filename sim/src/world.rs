//! The world: nodes, links, routes, the event queue and the run loop.
//!
//! The queue orders events by `(time, sequence)` where `sequence` counts
//! insertions, so events at equal times run in the order they were
//! scheduled and never depend on heap internals. Cancelled timers are skipped
//! lazily when popped. Per event the work is O(log n) (one heap operation)
//! plus O(1) routing; packets live in a slab and their buffers in a pool, so
//! the steady state allocates nothing.
//!
//! Set-up is linear too: node names, node addresses and link names are kept
//! in lookup-only indexes (never iterated), so adding the Nth node or link
//! costs O(1), and links can be found by name ([`World::link_by_name`]).
//!
//! Network control at run time ([`LinkChange`]: partition, repair, hold,
//! release, new rate, delay or loss) goes through the same queue: scheduled
//! with [`World::change_link_at`] or [`Ctx::change_link_at`], made at once
//! with [`World::change_link`] or [`Ctx::change_link`], or made by a fault
//! rule as it fires ([`FaultRule::then_change`]). Each change is a trace
//! event ([`EventKind::LinkChange`]), so it shows in renderings and the hash.

use crate::addr::{Addr, Prefix};
use crate::decisions::{Decision, DecisionError, DecisionMode, Fault, PacketFaults};
use crate::fault::{FaultAction, FaultRule};
use crate::hash::packet_digest;
use crate::link::{
    Admission, HELD_PACKETS_MAX, LinkChange, LinkConfig, LinkConfigError, LinkDirection, LinkId,
    LinkStats, LinkTarget,
};
use crate::log;
use crate::packet::{BufferPool, Packet};
use crate::rng::{self, SimRng};
use crate::time::{Duration, Time};
use crate::trace::{DropReason, EventKind, Trace, TraceMode};
use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::fmt;

/// Identifies a node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId(pub u32);

/// Identifies a scheduled wake-up, for cancellation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId(u64);

/// Anything that runs on the engine: a host with a protocol stack, a router,
/// a traffic generator. Nodes act only through the [`Ctx`] they are given.
pub trait Node: Any {
    /// A packet arrived over one of the node's links.
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet);
    /// A wake-up the node asked for fired; `token` is what it passed.
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64);
}

/// A router: forwards every packet by its static routing table.
#[derive(Debug, Default)]
pub struct Router;

impl Node for Router {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.send(packet);
    }
    fn on_wake(&mut self, _ctx: &mut Ctx<'_>, _token: u64) {}
}

/// Settings for a run.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    /// The master seed every RNG stream derives from.
    pub seed: u64,
    /// The most events a world may process before it fails loudly.
    pub event_budget: u64,
    /// Whether events are kept in memory as well as hashed (default: kept,
    /// 2,048 bytes of each packet).
    pub trace: TraceMode,
}

impl WorldConfig {
    /// A run with `seed`, a budget of 50 million events and the default trace mode.
    pub fn new(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            event_budget: 50_000_000,
            trace: TraceMode::default(),
        }
    }
}

/// Errors from building or running a world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The run processed more events than its budget allows.
    BudgetExceeded {
        /// The run's seed, to reproduce it.
        seed: u64,
        /// Events processed when the budget ran out.
        events: u64,
    },
    /// A link's configuration failed [`crate::link::LinkConfig::validate`].
    InvalidLink {
        /// The link's name.
        link: String,
        /// What is wrong with it.
        error: LinkConfigError,
    },
    /// A node name already in use.
    DuplicateName(String),
    /// A node id this world does not have.
    UnknownNode(u32),
    /// A link id this world does not have.
    UnknownLink(u32),
    /// Two nodes would share an address: routing could not tell them apart.
    DuplicateAddress {
        /// The address both would have.
        addr: Addr,
        /// The node being added.
        node: String,
        /// The node that already has the address.
        existing: String,
    },
    /// A link names an end that is no node of the world.
    LinkToUnknownNode {
        /// The link's name.
        link: String,
        /// The missing node id.
        node: u32,
    },
    /// A fault rule that could never work as written.
    InvalidFault {
        /// The rule's label.
        rule: String,
        /// Why it cannot work.
        reason: String,
    },
    /// A scenario that cannot be built or run as asked (a program
    /// scenario asked for its world before it runs); the message says why.
    Scenario(String),
    /// A link or route would leave the node's own set of links.
    NotAttached {
        /// The node's name.
        node: String,
        /// The link's name.
        link: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::BudgetExceeded { seed, events } => write!(
                f,
                "event budget exceeded after {events} events (seed {seed}); rerun with --seed {seed} to reproduce"
            ),
            SimError::InvalidLink { link, error } => write!(f, "link {link}: {error}"),
            SimError::DuplicateName(name) => write!(f, "the name {name:?} is already used"),
            SimError::UnknownNode(id) => write!(f, "no node with id {id}"),
            SimError::UnknownLink(id) => write!(f, "no link with id {id}"),
            SimError::DuplicateAddress {
                addr,
                node,
                existing,
            } => write!(
                f,
                "node {node:?} cannot have address {addr}: node {existing:?} already has it"
            ),
            SimError::LinkToUnknownNode { link, node } => {
                write!(
                    f,
                    "link {link:?} ends at node id {node}, which does not exist"
                )
            }
            SimError::InvalidFault { rule, reason } => write!(f, "fault rule {rule:?}: {reason}"),
            SimError::Scenario(why) => write!(f, "{why}"),
            SimError::NotAttached { node, link } => {
                write!(f, "link {link} does not start at node {node}")
            }
        }
    }
}
impl std::error::Error for SimError {}

/// A node's routing table: exact host routes, then prefixes (longest first),
/// then the default route.
#[derive(Debug, Default)]
struct Routes {
    exact: hashbrown::HashMap<Addr, LinkId, FixedState>,
    prefixes: Vec<(Prefix, LinkId)>,
    default: Option<LinkId>,
}

/// A fixed hasher for lookup-only tables: nothing iterates them, and a fixed
/// state keeps even their memory layout identical from run to run.
type FixedState = std::hash::BuildHasherDefault<FixedHasher>;

#[derive(Default)]
struct FixedHasher(u64);
impl std::hash::Hasher for FixedHasher {
    /// hashbrown picks the bucket from the low bits, and a multiply only
    /// carries upward: keys differing in their high bits only (addresses
    /// of one subnet differ in their low bits, names in their last bytes)
    /// would share buckets. The rotation brings the well-mixed high bits
    /// down, as rustc-hash 2 does (the stack's demux hasher does the same).
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(v)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Routes {
    fn lookup(&self, dst: Addr) -> Option<LinkId> {
        if let Some(&link) = self.exact.get(&dst) {
            return Some(link);
        }
        self.prefixes
            .iter()
            .find(|(p, _)| p.contains(dst))
            .map(|&(_, l)| l)
            .or(self.default)
    }
}

struct NodeMeta {
    name: String,
    addr: Addr,
    rng: SimRng,
    routes: Routes,
    links: Vec<LinkId>,
}

#[derive(Clone, Copy, Debug)]
enum Pending {
    Deliver {
        slot: u32,
        link: LinkId,
    },
    Wake {
        node: NodeId,
        token: u64,
    },
    /// A scheduled [`LinkChange`], kept in `Core::change_slab` so events stay small.
    Change {
        link: LinkId,
        slot: u32,
    },
    /// Hands the oldest held packet of a released direction to its node,
    /// then schedules itself again while more are held.
    Release {
        link: LinkId,
    },
}

#[derive(Clone, Copy, Debug)]
struct Scheduled {
    time: Time,
    sequence: u64,
    what: Pending,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.sequence == other.sequence
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: `BinaryHeap` is a max-heap and we pop the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.sequence).cmp(&(self.time, self.sequence))
    }
}

/// What was decided about a packet before the link model: the rule that
/// fired, the replayed faults (in replay only), the packet's ordinal.
struct Offer<'a> {
    fired: Option<(u32, FaultAction)>,
    script: Option<&'a PacketFaults>,
    ordinal: u64,
}

/// Below this many cancelled wake-ups the set is never pruned (see
/// [`Ctx::cancel`]).
const PRUNE_CANCELLED_AT: usize = 256;

/// Everything except the nodes themselves, so a node can be borrowed
/// mutably while it acts on the rest through its [`Ctx`].
struct Core {
    seed: u64,
    now: Time,
    sequence: u64,
    queue: BinaryHeap<Scheduled>,
    cancelled: BTreeSet<u64>,
    nodes: Vec<NodeMeta>,
    links: Vec<LinkDirection>,
    faults: Vec<Vec<FaultRule>>,
    slab: Vec<Option<(Packet, u64)>>,
    free_slots: Vec<u32>,
    pool: BufferPool,
    trace: Trace,
    processed_count: u64,
    event_budget: u64,
    corrupt_positions: Vec<u32>,
    /// Draw, record or replay impairment decisions (see [`crate::decisions`]).
    decisions: DecisionMode,
    /// Lookup-only indexes (never iterated, so their order reaches nothing).
    node_by_name: hashbrown::HashMap<String, NodeId, FixedState>,
    node_by_addr: hashbrown::HashMap<Addr, NodeId, FixedState>,
    link_by_name: hashbrown::HashMap<String, (LinkId, LinkId), FixedState>,
    change_slab: Vec<Option<LinkChange>>,
    change_free_slots: Vec<u32>,
}

impl Core {
    fn schedule(&mut self, time: Time, what: Pending) -> u64 {
        let sequence = self.sequence;
        self.sequence += 1;
        self.queue.push(Scheduled {
            time,
            sequence,
            what,
        });
        sequence
    }

    fn store(&mut self, packet: Packet, digest: u64) -> u32 {
        match self.free_slots.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some((packet, digest));
                slot
            }
            None => {
                self.slab.push(Some((packet, digest)));
                (self.slab.len() - 1) as u32
            }
        }
    }

    fn record(
        &mut self,
        kind: EventKind,
        node: NodeId,
        link: Option<LinkId>,
        p: &Packet,
        digest: u64,
    ) {
        self.trace
            .record(self.now, kind, node, link, p.src, p.dst, &p.bytes, digest);
    }

    fn drop_packet(
        &mut self,
        node: NodeId,
        link: Option<LinkId>,
        p: Packet,
        digest: u64,
        reason: DropReason,
    ) {
        self.record(EventKind::Drop(reason), node, link, &p, digest);
        tracing::debug!(link = link.map(|l| self.links[l.0 as usize].name.as_str()), %reason, bytes = p.bytes.len(), "drop");
        self.pool.give(p.bytes);
    }

    /// A node sends: route, apply the link direction's faults and model, schedule delivery.
    fn send(&mut self, node: NodeId, packet: Packet) {
        let digest = packet_digest(&packet.bytes);
        self.record(EventKind::Send, node, None, &packet, digest);
        let Some(link) = self.nodes[node.0 as usize].routes.lookup(packet.dst) else {
            self.drop_packet(node, None, packet, digest, DropReason::NoRoute);
            return;
        };
        let l = link.0 as usize;
        if self.links[l].is_down_at(self.now) {
            self.links[l].stats.offered += 1;
            self.links[l].stats.dropped_down += 1;
            self.drop_packet(node, Some(link), packet, digest, DropReason::LinkDown);
            return;
        }
        self.links[l].stats.offered += 1;
        let ordinal = self.links[l].stats.offered;
        let now = self.now;
        let mut fired = self.faults[l]
            .iter_mut()
            .enumerate()
            .find_map(|(i, rule)| rule.offer(now, &packet).map(|a| (i as u32, a)));
        // Replaying decisions: this packet gets the listed faults only, and
        // a rule fires only if the list holds its hit.
        let script = match &mut self.decisions {
            DecisionMode::Replay(per_link) => {
                Some(per_link[l].remove(&ordinal).unwrap_or(PacketFaults::NONE))
            }
            _ => None,
        };
        if let (Some(script), Some((index, _))) = (&script, fired)
            && script
                .rule
                .as_ref()
                .is_none_or(|(listed, _)| *listed != index)
        {
            self.faults[l][index as usize].fired_count -= 1;
            fired = None;
        }
        if let Some((index, action)) = fired {
            tracing::debug!(
                link = self.links[l].name.as_str(),
                rule = index,
                name = self.faults[l][index as usize].name(),
                ?action,
                "fault rule fired"
            );
        }
        let offer = Offer {
            fired,
            script: script.as_ref(),
            ordinal,
        };
        self.offer_to_link(node, link, packet, digest, offer);
        // The rule's network changes come after its packet entered the link.
        if let Some((index, _)) = fired
            && !self.faults[l][index as usize].changes.is_empty()
        {
            let changes = std::mem::take(&mut self.faults[l][index as usize].changes);
            for &(target, change) in &changes {
                for direction in target.directions() {
                    self.apply_change(direction, change);
                }
            }
            self.faults[l][index as usize].changes = changes;
        }
    }

    /// The fired rule's action (if any), then the link model (steps 3-8).
    fn offer_to_link(
        &mut self,
        node: NodeId,
        link: LinkId,
        mut packet: Packet,
        mut digest: u64,
        offer: Offer<'_>,
    ) {
        let Offer {
            fired,
            script,
            ordinal,
        } = offer;
        let l = link.0 as usize;
        let recording = matches!(self.decisions, DecisionMode::Record(_));
        let mut extra_delay = Duration::ZERO;
        let mut copy_after = None;
        // A packet a rule corrupted carries exactly the bits the rule asked
        // for: the link's random corruption does not flip more. (Two flips
        // can cancel in the Internet checksum, RFC 1071, so a scenario that
        // targets one corruption to be caught must get exactly one.)
        let mut rule_corrupted = false;
        if let Some((index, action)) = fired {
            if recording && !matches!(action, FaultAction::Corrupt { .. }) {
                self.note_decision(
                    l,
                    ordinal,
                    Fault::Rule {
                        index,
                        corrupt: Vec::new(),
                    },
                );
            }
            match action {
                FaultAction::Drop => {
                    self.links[l].stats.dropped_fault += 1;
                    self.drop_packet(
                        node,
                        Some(link),
                        packet,
                        digest,
                        DropReason::FaultRule(index),
                    );
                    return;
                }
                FaultAction::Delay(d) => extra_delay = d,
                FaultAction::Duplicate(d) => copy_after = Some(d),
                FaultAction::Corrupt { bits } => {
                    // A hit listed without its bits draws them (replay
                    // draws nothing else, so no other decision shifts).
                    let listed = script
                        .and_then(|s| s.rule.as_ref())
                        .map(|(_, b)| b.as_slice())
                        .filter(|b| !b.is_empty());
                    digest = self.corrupt(node, link, &mut packet, bits, listed);
                    rule_corrupted = true;
                    if recording {
                        let corrupt = self.corrupt_positions.clone();
                        self.note_decision(l, ordinal, Fault::Rule { index, corrupt });
                    }
                }
            }
        }

        let ect = crate::link::ipv4_ecn_capable(&packet.bytes);
        match self.links[l].admit(self.now, packet.len(), ect, extra_delay, script) {
            Admission::QueueFull => {
                self.links[l].stats.dropped_queue += 1;
                self.drop_packet(node, Some(link), packet, digest, DropReason::QueueFull);
            }
            Admission::Lost { burst, .. } => {
                if recording {
                    let fault = if burst { Fault::BurstLoss } else { Fault::Loss };
                    self.note_decision(l, ordinal, fault);
                }
                self.record(EventKind::Enqueue, node, Some(link), &packet, digest);
                self.links[l].stats.dropped_loss += 1;
                self.drop_packet(node, Some(link), packet, digest, DropReason::Loss);
            }
            Admission::Deliver {
                arrival,
                duplicate,
                corrupt_bits,
                jitter,
                reordered,
                ce_mark,
            } => {
                self.record(EventKind::Enqueue, node, Some(link), &packet, digest);
                if ce_mark && crate::link::mark_ce(&mut packet.bytes) {
                    self.links[l].stats.ecn_marked += 1;
                    digest = packet_digest(&packet.bytes);
                    self.record(EventKind::EcnMark, node, Some(link), &packet, digest);
                }
                if corrupt_bits > 0 && !rule_corrupted {
                    let listed = script.and_then(|s| s.corrupt.as_deref());
                    digest = self.corrupt(node, link, &mut packet, corrupt_bits, listed);
                    if recording {
                        let bits = self.corrupt_positions.clone();
                        self.note_decision(l, ordinal, Fault::Corrupt(bits));
                    }
                }
                if recording {
                    if jitter > Duration::ZERO {
                        self.note_decision(l, ordinal, Fault::Jitter(jitter));
                    }
                    if reordered {
                        self.note_decision(l, ordinal, Fault::Reorder);
                    }
                    if duplicate {
                        self.note_decision(l, ordinal, Fault::Duplicate);
                    }
                }
                let copies = [duplicate.then_some(Duration::ZERO), copy_after];
                let (src, dst) = (packet.src, packet.dst);
                let original = self.store(packet, digest);
                self.schedule(
                    arrival,
                    Pending::Deliver {
                        slot: original,
                        link,
                    },
                );
                // Copies are scheduled after the original, so at equal times
                // the original arrives first.
                for after in copies.into_iter().flatten() {
                    let mut bytes = self.pool.take();
                    if let Some((p, _)) = &self.slab[original as usize] {
                        bytes.extend_from_slice(&p.bytes);
                    }
                    let copy = Packet::new(src, dst, bytes);
                    self.links[l].stats.duplicated += 1;
                    self.record(EventKind::Duplicate, node, Some(link), &copy, digest);
                    let slot = self.store(copy, digest);
                    self.schedule(arrival + after, Pending::Deliver { slot, link });
                }
            }
        }
    }

    /// Checks a change before it is scheduled or made: every direction
    /// exists and the value is one the link model can take.
    /// Checks and applies a change now (for `World` and `Ctx` alike).
    fn change_link(&mut self, target: LinkTarget, change: LinkChange) -> Result<(), SimError> {
        self.check_change(target, change)?;
        for link in target.directions() {
            self.apply_change(link, change);
        }
        Ok(())
    }

    /// Checks a change and schedules it at `time`.
    fn change_link_at(
        &mut self,
        time: Time,
        target: LinkTarget,
        change: LinkChange,
    ) -> Result<(), SimError> {
        self.check_change(target, change)?;
        self.schedule_change(time, target, change);
        Ok(())
    }

    fn check_change(&self, target: LinkTarget, change: LinkChange) -> Result<(), SimError> {
        for link in target.directions() {
            let Some(direction) = self.links.get(link.0 as usize) else {
                return Err(SimError::UnknownLink(link.0));
            };
            change.validate().map_err(|error| SimError::InvalidLink {
                link: direction.name.clone(),
                error,
            })?;
        }
        Ok(())
    }

    /// Makes a checked change to one direction now, and records it.
    fn apply_change(&mut self, link: LinkId, change: LinkChange) {
        let l = link.0 as usize;
        debug_assert!(
            change.validate().is_ok(),
            "changes are checked when asked for"
        );
        let (from, to) = (self.links[l].from, self.links[l].to);
        let (src, dst) = (self.nodes[from as usize].addr, self.nodes[to as usize].addr);
        tracing::debug!(link = self.links[l].name.as_str(), %change, "link change");
        self.trace.record(
            self.now,
            EventKind::LinkChange(change),
            NodeId(from),
            Some(link),
            src,
            dst,
            &[],
            0,
        );
        let direction = &mut self.links[l];
        match change {
            LinkChange::Partition => direction.partitioned = true,
            LinkChange::Repair => direction.partitioned = false,
            LinkChange::Hold => direction.holding = true,
            LinkChange::Release => {
                direction.holding = false;
                // Delivered now, one event per packet, oldest first. Until
                // the queue is empty, arrivals join its back, so nothing
                // that arrives later (even at this instant) overtakes.
                if !direction.held.is_empty() {
                    self.schedule(self.now, Pending::Release { link });
                }
            }
            LinkChange::SetRate { rate_bps } => direction.config.rate_bps = rate_bps,
            LinkChange::SetDelay { delay } => direction.config.delay = delay,
            LinkChange::SetLoss { loss } => direction.config.loss = loss,
        }
    }

    /// Schedules a checked change for `time` (now, if `time` is in the past).
    fn schedule_change(&mut self, time: Time, target: LinkTarget, change: LinkChange) {
        let time = time.max(self.now);
        for link in target.directions() {
            let slot = match self.change_free_slots.pop() {
                Some(slot) => {
                    self.change_slab[slot as usize] = Some(change);
                    slot
                }
                None => {
                    self.change_slab.push(Some(change));
                    (self.change_slab.len() - 1) as u32
                }
            };
            self.schedule(time, Pending::Change { link, slot });
        }
    }

    /// Records a decision (in [`DecisionMode::Record`] only).
    fn note_decision(&mut self, link: usize, packet: u64, fault: Fault) {
        if let DecisionMode::Record(list) = &mut self.decisions {
            list.push((link as u32, packet, fault));
        }
    }

    /// Flips `bits` random bits, or the `listed` positions of a replay.
    fn corrupt(
        &mut self,
        node: NodeId,
        link: LinkId,
        packet: &mut Packet,
        bits: u32,
        listed: Option<&[u32]>,
    ) -> u64 {
        let mut positions = std::mem::take(&mut self.corrupt_positions);
        match listed {
            Some(listed) => LinkDirection::corrupt_at(&mut packet.bytes, listed, &mut positions),
            None => self.links[link.0 as usize].corrupt(&mut packet.bytes, bits, &mut positions),
        }
        self.links[link.0 as usize].stats.corrupted += 1;
        let digest = packet_digest(&packet.bytes);
        self.record(
            EventKind::Corrupt(positions.clone()),
            node,
            Some(link),
            packet,
            digest,
        );
        self.corrupt_positions = positions;
        digest
    }
}

/// The context a node acts through while handling an event.
pub struct Ctx<'a> {
    core: &'a mut Core,
    node: NodeId,
}

impl Ctx<'_> {
    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.core.now
    }
    /// The node handling the event.
    pub fn node(&self) -> NodeId {
        self.node
    }
    /// This node's own address.
    pub fn addr(&self) -> Addr {
        self.core.nodes[self.node.0 as usize].addr
    }
    /// The run's master seed.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }
    /// This node's own RNG stream.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.core.nodes[self.node.0 as usize].rng
    }
    /// An empty packet with a reusable buffer.
    pub fn alloc_packet(&mut self, src: Addr, dst: Addr) -> Packet {
        Packet::new(src, dst, self.core.pool.take())
    }
    /// Returns a packet's buffer to the pool.
    pub fn recycle(&mut self, packet: Packet) {
        self.core.pool.give(packet.bytes);
    }
    /// Sends a packet out of the link the node's routes choose for its destination.
    pub fn send(&mut self, packet: Packet) {
        self.core.send(self.node, packet);
    }
    /// Asks for `on_wake(token)` at `time` (now, if `time` is in the past).
    pub fn wake_at(&mut self, time: Time, token: u64) -> TimerId {
        let time = time.max(self.core.now);
        TimerId(self.core.schedule(
            time,
            Pending::Wake {
                node: self.node,
                token,
            },
        ))
    }
    /// Cancels a wake-up; cancelling one that already fired does nothing.
    pub fn cancel(&mut self, timer: TimerId) {
        let core = &mut *self.core;
        core.cancelled.insert(timer.0);
        // The set cannot tell a pending wake from one that already fired
        // without a search of the queue, so entries for fired timers would
        // stay for ever. Once the set outgrows the queue (then most of its
        // entries are such leftovers), keep only the sequences still queued:
        // one pass over the queue per `queue.len()` cancellations at least,
        // so the cost per call stays constant on average.
        if core.cancelled.len() > PRUNE_CANCELLED_AT && core.cancelled.len() > core.queue.len() {
            let queued: BTreeSet<u64> = core.queue.iter().map(|s| s.sequence).collect();
            core.cancelled.retain(|seq| queued.contains(seq));
        }
    }
    /// Adds a note to the trace.
    pub fn note(&mut self, text: impl Into<String>) {
        let addr = self.addr();
        self.core.trace.record(
            self.core.now,
            EventKind::Note(text.into()),
            self.node,
            None,
            addr,
            addr,
            &[],
            0,
        );
    }
    /// Whether trace events are kept (full mode): nodes can skip
    /// bookkeeping that only renderers read.
    pub fn trace_kept(&self) -> bool {
        matches!(self.core.trace.mode(), crate::trace::TraceMode::Full { .. })
    }
    /// The index the next trace event will have: lets a node keep its own
    /// structured log interleaved exactly with the engine's trace.
    pub fn trace_len(&self) -> u64 {
        self.core.trace.len()
    }
    /// Makes a change to a link now, from inside a callback ("the server
    /// got the request: partition the link"). See [`World::change_link`].
    pub fn change_link(
        &mut self,
        links: impl Into<LinkTarget>,
        change: LinkChange,
    ) -> Result<(), SimError> {
        self.core.change_link(links.into(), change)
    }
    /// Schedules a change to a link at `time` (now, if in the past).
    pub fn change_link_at(
        &mut self,
        time: Time,
        links: impl Into<LinkTarget>,
        change: LinkChange,
    ) -> Result<(), SimError> {
        self.core.change_link_at(time, links.into(), change)
    }
    /// The `(a -> b, b -> a)` directions of the duplex link named `name`.
    pub fn link_by_name(&self, name: &str) -> Option<(LinkId, LinkId)> {
        self.core.link_by_name.get(name).copied()
    }
    /// When the next queued event is due (any node's), if any. A cancelled
    /// wake-up still counts until it is popped, so this is never later than
    /// the next event that happens: nothing can reach any node before it,
    /// which is what a node that runs ahead on its own clock (a tokio
    /// runtime with paused time) needs to know how far it may go.
    pub fn next_event_time(&self) -> Option<Time> {
        self.core.queue.peek().map(|s| s.time)
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// Events processed so far.
    pub processed_count: u64,
    /// The virtual time of the last event processed.
    pub now: Time,
    /// The trace hash so far ([`crate::trace::Trace::hash`]): equal seeds give equal hashes.
    pub trace_hash: u64,
}

/// Nodes, links and the run loop.
pub struct World {
    core: Core,
    nodes: Vec<Box<dyn Node>>,
}

impl World {
    /// An empty world at time zero.
    pub fn new(config: WorldConfig) -> World {
        World {
            core: Core {
                seed: config.seed,
                now: Time::ZERO,
                sequence: 0,
                queue: BinaryHeap::new(),
                cancelled: BTreeSet::new(),
                nodes: Vec::new(),
                links: Vec::new(),
                faults: Vec::new(),
                slab: Vec::new(),
                free_slots: Vec::new(),
                pool: BufferPool::default(),
                trace: Trace::new(config.trace),
                processed_count: 0,
                event_budget: config.event_budget,
                corrupt_positions: Vec::new(),
                decisions: DecisionMode::Draw,
                node_by_name: Default::default(),
                node_by_addr: Default::default(),
                link_by_name: Default::default(),
                change_slab: Vec::new(),
                change_free_slots: Vec::new(),
            },
            nodes: Vec::new(),
        }
    }

    /// The run's master seed.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }
    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.core.now
    }
    /// The events recorded so far, and their hash.
    pub fn trace(&self) -> &Trace {
        &self.core.trace
    }
    /// Events processed so far.
    pub fn processed_count(&self) -> u64 {
        self.core.processed_count
    }

    /// Adds a node with a unique `name` (which keys its RNG stream) and a
    /// unique address (`DuplicateName`, `DuplicateAddress` otherwise).
    pub fn add_node(
        &mut self,
        name: &str,
        addr: Addr,
        node: impl Node,
    ) -> Result<NodeId, SimError> {
        self.add_boxed_node(name, addr, Box::new(node))
    }

    /// [`World::add_node`] for a node already boxed (as [`crate::topology::Endpoint`] holds it).
    pub fn add_boxed_node(
        &mut self,
        name: &str,
        addr: Addr,
        node: Box<dyn Node>,
    ) -> Result<NodeId, SimError> {
        if self.core.node_by_name.contains_key(name) {
            return Err(SimError::DuplicateName(name.to_string()));
        }
        if let Some(existing) = self.core.node_by_addr.get(&addr) {
            return Err(SimError::DuplicateAddress {
                addr,
                node: name.to_string(),
                existing: self.core.nodes[existing.0 as usize].name.clone(),
            });
        }
        let id = NodeId(self.core.nodes.len() as u32);
        self.core.node_by_name.insert(name.to_string(), id);
        self.core.node_by_addr.insert(addr, id);
        self.core.nodes.push(NodeMeta {
            name: name.to_string(),
            addr,
            rng: rng::stream(self.core.seed, &format!("node:{name}")),
            routes: Routes::default(),
            links: Vec::new(),
        });
        self.nodes.push(node);
        Ok(id)
    }

    fn check_node(&self, id: NodeId) -> Result<(), SimError> {
        if (id.0 as usize) < self.nodes.len() {
            Ok(())
        } else {
            Err(SimError::UnknownNode(id.0))
        }
    }

    fn check_link(&self, id: LinkId) -> Result<(), SimError> {
        if (id.0 as usize) < self.core.links.len() {
            Ok(())
        } else {
            Err(SimError::UnknownLink(id.0))
        }
    }

    /// Connects `a` and `b` with a duplex link named `name`; each direction
    /// has its own settings and RNG stream (`link:NAME:A->B`). Returns the
    /// `(a -> b, b -> a)` direction ids. A node's first link becomes its
    /// default route.
    pub fn connect(
        &mut self,
        name: &str,
        a: NodeId,
        b: NodeId,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) -> Result<(LinkId, LinkId), SimError> {
        for end in [a, b] {
            if self.check_node(end).is_err() {
                return Err(SimError::LinkToUnknownNode {
                    link: name.to_string(),
                    node: end.0,
                });
            }
        }
        if self.core.link_by_name.contains_key(name) {
            return Err(SimError::DuplicateName(name.to_string()));
        }
        // Both directions are checked before either is added, so a bad
        // configuration leaves the world as it was.
        for (from, to, config) in [(a, b, &a_to_b), (b, a, &b_to_a)] {
            config.validate().map_err(|error| SimError::InvalidLink {
                link: format!(
                    "{name}:{}->{}",
                    self.core.nodes[from.0 as usize].name, self.core.nodes[to.0 as usize].name
                ),
                error,
            })?;
        }
        let mut ids = [LinkId(0); 2];
        for (i, (from, to, config)) in [(a, b, a_to_b), (b, a, b_to_a)].into_iter().enumerate() {
            let label = format!(
                "{name}:{}->{}",
                self.core.nodes[from.0 as usize].name, self.core.nodes[to.0 as usize].name
            );
            let id = LinkId(self.core.links.len() as u32);
            let stream = rng::stream(self.core.seed, &format!("link:{label}"));
            self.core
                .links
                .push(LinkDirection::new(label, from.0, to.0, config, stream));
            self.core.faults.push(Vec::new());
            let meta = &mut self.core.nodes[from.0 as usize];
            meta.links.push(id);
            if meta.routes.default.is_none() {
                meta.routes.default = Some(id);
            }
            ids[i] = id;
        }
        self.core
            .link_by_name
            .insert(name.to_string(), (ids[0], ids[1]));
        Ok((ids[0], ids[1]))
    }

    /// From now on, record every impairment decision and fault-rule hit
    /// (see [`crate::decisions`]); the run draws exactly as it would
    /// without recording, so its trace hash does not change. Call before
    /// the run; [`World::recorded_decisions`] reads the list.
    pub fn record_decisions(&mut self) {
        self.core.decisions = DecisionMode::Record(Vec::new());
    }

    /// From now on, draw no impairment: every direction applies exactly the
    /// faults in `decisions`, and fault rules fire only on the hits listed
    /// (see [`crate::decisions`]). Call after the links and rules are added
    /// and before the run. A decision naming a direction or rule the world
    /// does not have is an error, and the world is left as it was.
    pub fn replay_decisions(&mut self, decisions: &[Decision]) -> Result<(), DecisionError> {
        let mut per_link: Vec<std::collections::BTreeMap<u64, PacketFaults>> =
            vec![Default::default(); self.core.links.len()];
        for d in decisions {
            let Some(l) = self.core.links.iter().position(|link| link.name == d.link) else {
                return Err(DecisionError::UnknownLink {
                    decision: d.to_string(),
                    links: self.core.links.iter().map(|l| l.name.clone()).collect(),
                });
            };
            if let Fault::Rule { index, .. } = d.fault
                && index as usize >= self.core.faults[l].len()
            {
                return Err(DecisionError::UnknownRule {
                    decision: d.to_string(),
                    rules: self.core.faults[l].len(),
                });
            }
            per_link[l].entry(d.packet).or_default().add(&d.fault);
        }
        self.core.decisions = DecisionMode::Replay(per_link);
        Ok(())
    }

    /// The decisions recorded so far, in the order they were made (empty
    /// unless [`World::record_decisions`] was called).
    pub fn recorded_decisions(&self) -> Vec<Decision> {
        match &self.core.decisions {
            DecisionMode::Record(list) => list
                .iter()
                .map(|(link, packet, fault)| Decision {
                    link: self.core.links[*link as usize].name.clone(),
                    packet: *packet,
                    fault: fault.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Routes packets for exactly `dst` from `node` out of `link`.
    pub fn add_host_route(
        &mut self,
        node: NodeId,
        dst: Addr,
        link: LinkId,
    ) -> Result<(), SimError> {
        self.check_attached(node, link)?;
        self.core.nodes[node.0 as usize]
            .routes
            .exact
            .insert(dst, link);
        Ok(())
    }

    /// Routes packets matching `prefix` from `node` out of `link`; longest prefix wins.
    pub fn add_prefix_route(
        &mut self,
        node: NodeId,
        prefix: Prefix,
        link: LinkId,
    ) -> Result<(), SimError> {
        self.check_attached(node, link)?;
        let prefixes = &mut self.core.nodes[node.0 as usize].routes.prefixes;
        prefixes.push((prefix, link));
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len));
        Ok(())
    }

    /// Sets the route for destinations no other route matches.
    pub fn set_default_route(&mut self, node: NodeId, link: LinkId) -> Result<(), SimError> {
        self.check_attached(node, link)?;
        self.core.nodes[node.0 as usize].routes.default = Some(link);
        Ok(())
    }

    fn check_attached(&self, node: NodeId, link: LinkId) -> Result<(), SimError> {
        self.check_node(node)?;
        self.check_link(link)?;
        if self.core.links[link.0 as usize].from != node.0 {
            return Err(SimError::NotAttached {
                node: self.core.nodes[node.0 as usize].name.clone(),
                link: self.core.links[link.0 as usize].name.clone(),
            });
        }
        Ok(())
    }

    /// Attaches a fault rule to a link direction (after its earlier rules).
    /// An empty time window or a network change that could not be made is
    /// an error now, not when the rule fires.
    pub fn add_fault(&mut self, link: LinkId, rule: FaultRule) -> Result<(), SimError> {
        self.check_link(link)?;
        let (from, until) = rule.active_window();
        if from >= until {
            return Err(SimError::InvalidFault {
                rule: rule.name().to_string(),
                reason: format!("active window [{from}, {until}) is empty"),
            });
        }
        if let FaultAction::Corrupt { bits } = rule.action() {
            crate::link::check_corruption_bits("Corrupt bits", bits).map_err(|error| {
                SimError::InvalidFault {
                    rule: rule.name().to_string(),
                    reason: error.0,
                }
            })?;
        }
        for &(target, change) in rule.changes() {
            self.core
                .check_change(target, change)
                .map_err(|error| SimError::InvalidFault {
                    rule: rule.name().to_string(),
                    reason: error.to_string(),
                })?;
        }
        self.core.faults[link.0 as usize].push(rule);
        Ok(())
    }

    /// Attaches a fault rule to both directions of a duplex link; each
    /// direction gets its own copy of the rule and counts its own matches.
    pub fn add_fault_both(
        &mut self,
        (a_to_b, b_to_a): (LinkId, LinkId),
        rule: impl Fn() -> FaultRule,
    ) -> Result<(), SimError> {
        self.add_fault(a_to_b, rule())?;
        self.add_fault(b_to_a, rule())
    }

    /// Makes a change to a link now. `links` is one direction (a `LinkId`)
    /// or both (the pair `connect` returned). A bad value (a zero rate, a
    /// loss outside `[0, 1]`) or a missing link is an error and changes nothing.
    pub fn change_link(
        &mut self,
        links: impl Into<LinkTarget>,
        change: LinkChange,
    ) -> Result<(), SimError> {
        self.core.change_link(links.into(), change)
    }

    /// Schedules a change to a link at `time` (now, if in the past). It
    /// runs in `(time, sequence)` order with every other event: after the
    /// events already scheduled for that instant.
    pub fn change_link_at(
        &mut self,
        time: Time,
        links: impl Into<LinkTarget>,
        change: LinkChange,
    ) -> Result<(), SimError> {
        self.core.change_link_at(time, links.into(), change)
    }

    /// The `(a -> b, b -> a)` directions of the duplex link named `name`
    /// (the name given to [`World::connect`]; builders name theirs, e.g.
    /// `spoke-LEAF`, `access-HOST`, `bottleneck`).
    pub fn link_by_name(&self, name: &str) -> Option<(LinkId, LinkId)> {
        self.core.link_by_name.get(name).copied()
    }

    /// The node named `name`.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.core.node_by_name.get(name).copied()
    }

    /// The node with address `addr`.
    pub fn node_by_addr(&self, addr: Addr) -> Option<NodeId> {
        self.core.node_by_addr.get(&addr).copied()
    }

    /// A link direction's current settings, run-time changes included.
    pub fn link_config(&self, link: LinkId) -> Option<&LinkConfig> {
        self.core.links.get(link.0 as usize).map(|l| &l.config)
    }

    /// Whether the direction is down now (partitioned or in a down window).
    pub fn link_is_down(&self, link: LinkId) -> Option<bool> {
        let now = self.core.now;
        self.core
            .links
            .get(link.0 as usize)
            .map(|l| l.is_down_at(now))
    }

    /// How many packets a hold on the direction keeps right now.
    pub fn link_held_count(&self, link: LinkId) -> Option<usize> {
        self.core.links.get(link.0 as usize).map(|l| l.held.len())
    }

    /// The fault rules of a link direction, to see how often each fired.
    pub fn faults(&self, link: LinkId) -> &[FaultRule] {
        self.core
            .faults
            .get(link.0 as usize)
            .map_or(&[], |f| f.as_slice())
    }

    /// A direction's counters (`None` for an unknown id).
    pub fn link_stats(&self, link: LinkId) -> Option<LinkStats> {
        self.core.links.get(link.0 as usize).map(|l| l.stats)
    }

    /// A direction's label, `"NAME:FROM->TO"` (`None` for an unknown id).
    pub fn link_name(&self, link: LinkId) -> Option<&str> {
        self.core
            .links
            .get(link.0 as usize)
            .map(|l| l.name.as_str())
    }

    /// The nodes at a direction's two ends: `(sending end, receiving end)`.
    pub fn link_ends(&self, link: LinkId) -> Option<(NodeId, NodeId)> {
        self.core
            .links
            .get(link.0 as usize)
            .map(|l| (NodeId(l.from), NodeId(l.to)))
    }

    /// How many link directions the world has (a duplex link is two);
    /// their ids are `LinkId(0)` up to this count.
    pub fn link_count(&self) -> usize {
        self.core.links.len()
    }

    /// The direction's far end and its queue length right now.
    pub fn link_queue_len(&mut self, link: LinkId) -> Option<usize> {
        let now = self.core.now;
        self.core
            .links
            .get_mut(link.0 as usize)
            .map(|l| l.queue_len(now))
    }

    /// The node's unique name (`None` for an unknown id).
    pub fn node_name(&self, id: NodeId) -> Option<&str> {
        self.core.nodes.get(id.0 as usize).map(|n| n.name.as_str())
    }
    /// The node's address (`None` for an unknown id).
    pub fn node_addr(&self, id: NodeId) -> Option<Addr> {
        self.core.nodes.get(id.0 as usize).map(|n| n.addr)
    }
    /// How many nodes the world has; their ids are `NodeId(0)` up to this count.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The concrete node behind `id`, if it is a `T`.
    pub fn node<T: Node>(&self, id: NodeId) -> Option<&T> {
        let node: &dyn Any = self.nodes.get(id.0 as usize)?.as_ref();
        node.downcast_ref::<T>()
    }
    /// The concrete node behind `id`, mutably, if it is a `T`.
    pub fn node_mut<T: Node>(&mut self, id: NodeId) -> Option<&mut T> {
        let node: &mut dyn Any = self.nodes.get_mut(id.0 as usize)?.as_mut();
        node.downcast_mut::<T>()
    }

    /// Lets a driver act as `id` between runs (send, schedule, note) with
    /// the node itself in hand.
    pub fn with_node<T: Node, R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut T, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let node: &mut dyn Any = self.nodes.get_mut(id.0 as usize)?.as_mut();
        let node = node.downcast_mut::<T>()?;
        let mut ctx = Ctx {
            core: &mut self.core,
            node: id,
        };
        Some(f(node, &mut ctx))
    }

    /// Schedules `on_wake(token)` for node `id` at `time`.
    pub fn wake_node_at(
        &mut self,
        id: NodeId,
        time: Time,
        token: u64,
    ) -> Result<TimerId, SimError> {
        self.check_node(id)?;
        let time = time.max(self.core.now);
        Ok(TimerId(
            self.core.schedule(time, Pending::Wake { node: id, token }),
        ))
    }

    /// When the next event is due, if any.
    pub fn next_event_time(&self) -> Option<Time> {
        self.core.queue.peek().map(|s| s.time)
    }

    /// Runs one event. `Ok(false)` when the queue is empty.
    pub fn step(&mut self) -> Result<bool, SimError> {
        let Some(next) = self.core.queue.pop() else {
            return Ok(false);
        };
        if self.core.processed_count >= self.core.event_budget {
            self.core.queue.push(next);
            return Err(SimError::BudgetExceeded {
                seed: self.core.seed,
                events: self.core.processed_count,
            });
        }
        debug_assert!(next.time >= self.core.now, "time went backwards");
        self.core.now = next.time;
        log::set_virtual_now(next.time);
        self.core.processed_count += 1;
        match next.what {
            Pending::Wake { node, token } => {
                if !self.core.cancelled.is_empty() && self.core.cancelled.remove(&next.sequence) {
                    return Ok(true);
                }
                log::set_node(&self.core.nodes[node.0 as usize].name);
                let mut ctx = Ctx {
                    core: &mut self.core,
                    node,
                };
                self.nodes[node.0 as usize].on_wake(&mut ctx, token);
            }
            Pending::Deliver { slot, link } => {
                let (packet, digest) = self.core.slab[slot as usize]
                    .take()
                    .expect("scheduled slot holds a packet");
                self.core.free_slots.push(slot);
                let l = link.0 as usize;
                let to = NodeId(self.core.links[l].to);
                log::set_node(&self.core.nodes[to.0 as usize].name);
                if self.core.links[l].is_down_at(self.core.now) {
                    self.core.links[l].stats.dropped_down += 1;
                    self.core
                        .drop_packet(to, Some(link), packet, digest, DropReason::LinkDown);
                    return Ok(true);
                }
                if self.core.links[l].holding || !self.core.links[l].held.is_empty() {
                    if self.core.links[l].held.len() >= HELD_PACKETS_MAX {
                        self.core.links[l].stats.dropped_queue += 1;
                        self.core.drop_packet(
                            to,
                            Some(link),
                            packet,
                            digest,
                            DropReason::QueueFull,
                        );
                        return Ok(true);
                    }
                    self.core.links[l].stats.held += 1;
                    self.core
                        .record(EventKind::Held, to, Some(link), &packet, digest);
                    self.core.links[l].held.push_back((packet, digest));
                    return Ok(true);
                }
                self.hand_over(link, packet, digest);
            }
            Pending::Release { link } => {
                let l = link.0 as usize;
                if self.core.links[l].holding {
                    return Ok(true); // held again: the next release resumes
                }
                let Some((packet, digest)) = self.core.links[l].held.pop_front() else {
                    return Ok(true);
                };
                if !self.core.links[l].held.is_empty() {
                    self.core.schedule(self.core.now, Pending::Release { link });
                }
                if self.core.links[l].is_down_at(self.core.now) {
                    let to = NodeId(self.core.links[l].to);
                    self.core.links[l].stats.dropped_down += 1;
                    self.core
                        .drop_packet(to, Some(link), packet, digest, DropReason::LinkDown);
                    return Ok(true);
                }
                self.hand_over(link, packet, digest);
            }
            Pending::Change { link, slot } => {
                let change = self.core.change_slab[slot as usize]
                    .take()
                    .expect("scheduled slot holds a change");
                self.core.change_free_slots.push(slot);
                self.core.apply_change(link, change);
            }
        }
        Ok(true)
    }

    /// Delivers a packet to the far end of `link`.
    fn hand_over(&mut self, link: LinkId, packet: Packet, digest: u64) {
        let to = NodeId(self.core.links[link.0 as usize].to);
        log::set_node(&self.core.nodes[to.0 as usize].name);
        self.core.links[link.0 as usize].stats.delivered += 1;
        self.core
            .record(EventKind::Deliver, to, Some(link), &packet, digest);
        let mut ctx = Ctx {
            core: &mut self.core,
            node: to,
        };
        self.nodes[to.0 as usize].on_packet(&mut ctx, packet);
    }

    /// Runs every event due at or before `deadline`, then sets the clock to `deadline`.
    pub fn run_until(&mut self, deadline: Time) -> Result<RunStats, SimError> {
        while self.next_event_time().is_some_and(|t| t <= deadline) {
            self.step()?;
        }
        if deadline > self.core.now && deadline != Time::MAX {
            self.core.now = deadline;
            log::set_virtual_now(deadline);
        }
        Ok(self.stats())
    }

    /// Runs until no event is left.
    pub fn run_until_idle(&mut self) -> Result<RunStats, SimError> {
        while self.step()? {}
        Ok(self.stats())
    }

    /// Events processed, the current time and the trace hash.
    pub fn stats(&self) -> RunStats {
        RunStats {
            processed_count: self.core.processed_count,
            now: self.core.now,
            trace_hash: self.core.trace.hash(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each wake re-arms itself 1 ms later and cancels the wake that just
    /// fired (a stale handle, as a node's lazily kept timer would be),
    /// and keeps one far-off wake pending that it cancels at the start.
    struct Rearm {
        last: Option<TimerId>,
        far: Option<TimerId>,
        fired: Vec<u64>,
    }

    impl Node for Rearm {
        fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
            ctx.recycle(packet);
        }
        fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
            self.fired.push(token);
            if token == 1 {
                return;
            }
            if self.far.is_none() {
                let far = ctx.wake_at(Time::from_secs(3600), 1);
                ctx.cancel(far);
                self.far = Some(far);
            }
            if let Some(stale) = self.last.take() {
                ctx.cancel(stale);
            }
            if self.fired.len() < 20_000 {
                let next = ctx.now() + Duration::from_millis(1);
                self.last = Some(ctx.wake_at(next, 0));
            }
        }
    }

    #[test]
    fn cancelling_fired_timers_does_not_grow_the_cancelled_set_for_ever() {
        // 20,000 cancellations of wakes that had already fired: the set of
        // cancelled sequences stays bounded (pruned to what is still
        // queued), while the one cancelled wake still pending, an hour
        // away, is never delivered.
        let mut world = World::new(WorldConfig::new(1));
        let node = world
            .add_node(
                "n",
                Addr::new(10, 0, 0, 1),
                Rearm {
                    last: None,
                    far: None,
                    fired: Vec::new(),
                },
            )
            .unwrap();
        world.wake_node_at(node, Time::ZERO, 0).unwrap();
        world.run_until_idle().unwrap();
        let fired = &world.node::<Rearm>(node).unwrap().fired;
        assert_eq!(fired.len(), 20_000);
        assert!(!fired.contains(&1), "the cancelled far wake fired");
        assert!(
            world.core.cancelled.len() <= PRUNE_CANCELLED_AT + 1,
            "{} cancelled sequences kept",
            world.core.cancelled.len()
        );
    }
}
