//! One packet's life across its trace rows: the host send it started from,
//! and whether the row is a link-made copy or carries corrupted bytes. The
//! JSON lines use it to give every row of a packet the retransmission flag
//! of its send; the pcapng writer to mark, on the sender's record, what
//! became of the packet later.
//!
//! How rows are tied to their packet: the rows that follow a send in the
//! same engine step (enqueue, a drop before or on the wire, corruption,
//! duplicates) belong to it; a later row (held, delivered, dropped on
//! arrival) is matched by its link and the packet's content digest, first
//! in first out; a router's forward continues the life of the delivery it
//! forwards. Two packets with identical bytes in flight on one link at once
//! are told apart by order only.

use crate::analysis::SegmentEvent;
use crate::run::Outcome;
use sim::{EventKind, LinkId, NodeId};
use std::collections::{BTreeMap, VecDeque};

/// What a row of a packet knows about the packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Life {
    /// The trace index of the host's send the packet started from (`None`
    /// for rows that are no packet, or whose send was by a node that is no
    /// host and forwarded nothing, such as a spoofing attacker).
    pub origin: Option<usize>,
    /// The send was a retransmission (see [`crate::analysis::segments`]).
    pub retransmission: bool,
    /// The row is about a copy the link made (duplication).
    pub copy: bool,
    /// The packet's bytes were corrupted on the way.
    pub corrupted: bool,
}

/// Every trace row's [`Life`], by trace index.
pub struct PacketLives {
    lives: Vec<Life>,
}

impl PacketLives {
    /// Walks the trace once; `segs` are its decoded segments.
    pub fn of(outcome: &Outcome, segs: &[SegmentEvent]) -> PacketLives {
        let trace = outcome.world.trace().events();
        let mut lives = vec![Life::default(); trace.len()];
        let sent_flag: BTreeMap<usize, bool> = segs
            .iter()
            .filter(|s| s.kind == EventKind::Send)
            .map(|s| (s.trace_index, s.retransmission))
            .collect();
        // Packets in flight on each link, by content digest, oldest first.
        let mut in_flight: BTreeMap<(LinkId, u64), VecDeque<Life>> = BTreeMap::new();
        // What each node last had delivered: a router forwards those bytes.
        let mut last_delivered: BTreeMap<NodeId, (u64, Life)> = BTreeMap::new();
        // The packet whose send is being processed, and the in-flight entry
        // its enqueue made (a corruption after the enqueue re-keys it, a
        // loss removes it).
        let mut group: Option<Group> = None;
        for (i, e) in trace.iter().enumerate() {
            if e.kind == EventKind::Send {
                let life = if outcome.is_host(e.node) {
                    Life {
                        origin: Some(i),
                        retransmission: sent_flag.get(&i).copied().unwrap_or(false),
                        copy: false,
                        corrupted: false,
                    }
                } else {
                    last_delivered
                        .get(&e.node)
                        .filter(|(digest, _)| *digest == e.digest)
                        .map(|(_, life)| *life)
                        .unwrap_or_default()
                };
                lives[i] = life;
                group = Some((e.node, life, None));
                continue;
            }
            let in_group = group.as_ref().is_some_and(|(node, _, _)| {
                *node == e.node
                    && matches!(
                        e.kind,
                        EventKind::Enqueue
                            | EventKind::Drop(_)
                            | EventKind::Corrupt(_)
                            | EventKind::EcnMark
                            | EventKind::Duplicate
                    )
                    && e.link
                        .and_then(|l| outcome.world.link_ends(l))
                        .is_none_or(|(from, _)| from == e.node)
            });
            if in_group {
                let (_, life, enqueued) = group.as_mut().expect("in_group implies a group");
                match (&e.kind, e.link) {
                    (EventKind::Enqueue, Some(link)) => {
                        lives[i] = *life;
                        push(&mut in_flight, (link, e.digest), *life);
                        *enqueued = Some((link, e.digest));
                    }
                    (EventKind::Duplicate, Some(link)) => {
                        lives[i] = Life {
                            copy: true,
                            ..*life
                        };
                        push(&mut in_flight, (link, e.digest), lives[i]);
                    }
                    (EventKind::Corrupt(_), Some(link)) => {
                        life.corrupted = true;
                        lives[i] = *life;
                        // Corruption after the enqueue changes the bytes
                        // (and the digest) the far end will see.
                        if let Some(key) = enqueued.take() {
                            pop_back(&mut in_flight, key);
                            push(&mut in_flight, (link, e.digest), *life);
                            *enqueued = Some((link, e.digest));
                        }
                    }
                    (EventKind::EcnMark, Some(link)) => {
                        lives[i] = *life;
                        // The mark changes the bytes (and the digest) the
                        // far end will see, as corruption does.
                        if let Some(key) = enqueued.take() {
                            pop_back(&mut in_flight, key);
                            push(&mut in_flight, (link, e.digest), *life);
                            *enqueued = Some((link, e.digest));
                        }
                    }
                    (EventKind::Drop(_), _) => {
                        lives[i] = *life;
                        // Lost on the wire after entering the queue, or
                        // refused before: either way it never arrives.
                        if let Some(key) = enqueued.take() {
                            pop_back(&mut in_flight, key);
                        }
                        group = None;
                    }
                    _ => lives[i] = *life,
                }
                continue;
            }
            group = None;
            let Some(link) = e.link else { continue };
            let key = (link, e.digest);
            match e.kind {
                EventKind::Held => {
                    lives[i] = in_flight
                        .get(&key)
                        .and_then(|q| q.front().copied())
                        .unwrap_or_default();
                }
                EventKind::Deliver | EventKind::Drop(_) => {
                    let life = pop_front(&mut in_flight, key);
                    lives[i] = life;
                    if e.kind == EventKind::Deliver {
                        last_delivered.insert(e.node, (e.digest, life));
                    }
                }
                _ => {}
            }
        }
        PacketLives { lives }
    }

    /// The life the row at trace index `i` belongs to.
    pub fn get(&self, i: usize) -> Life {
        self.lives.get(i).copied().unwrap_or_default()
    }

    /// Whether the packet of row `i` is a retransmission as its host sent it.
    pub fn retransmission(&self, i: usize) -> bool {
        self.get(i).retransmission
    }
}

/// The send being processed: its node, its life, and the in-flight entry
/// its enqueue made.
type Group = (NodeId, Life, Option<(LinkId, u64)>);

fn push(in_flight: &mut BTreeMap<(LinkId, u64), VecDeque<Life>>, key: (LinkId, u64), life: Life) {
    in_flight.entry(key).or_default().push_back(life);
}

fn pop_front(in_flight: &mut BTreeMap<(LinkId, u64), VecDeque<Life>>, key: (LinkId, u64)) -> Life {
    let Some(queue) = in_flight.get_mut(&key) else {
        return Life::default();
    };
    let life = queue.pop_front().unwrap_or_default();
    if queue.is_empty() {
        in_flight.remove(&key);
    }
    life
}

fn pop_back(in_flight: &mut BTreeMap<(LinkId, u64), VecDeque<Life>>, key: (LinkId, u64)) {
    if let Some(queue) = in_flight.get_mut(&key) {
        queue.pop_back();
        if queue.is_empty() {
            in_flight.remove(&key);
        }
    }
}
