//! Reading TCP back out of the engine trace: each packet event decoded into
//! a segment, with the per-direction facts oracles and renderers need
//! (ISNs for relative numbering, retransmission flags).

use sim::{EventKind, Trace, TraceEvent};
use stack::SeqNum;
use stack::wire::{self, Flags, TcpOptions};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One decoded segment event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentEvent {
    /// Index of the packet event in the engine trace.
    pub trace_index: usize,
    /// When the event happened.
    pub time: sim::Time,
    /// What the engine did with the packet (`Send`, `Deliver`, `Drop`...).
    pub kind: EventKind,
    /// The node the event happened at (for a `Send`, the sender; for a
    /// `Deliver`, the receiver).
    pub node: sim::NodeId,
    /// The segment's source address and port.
    pub src: SocketAddrV4,
    /// The segment's destination address and port.
    pub dst: SocketAddrV4,
    /// The TCP control bits.
    pub flags: Flags,
    /// The sequence number, absolute.
    pub seq: SeqNum,
    /// The acknowledgment number, absolute (meaningful only with ACK).
    pub ack: SeqNum,
    /// The window field as sent, unscaled (RFC 7323 §2.3 scaling is not applied).
    pub window: u16,
    /// The TCP options, parsed.
    pub options: TcpOptions,
    /// Payload bytes.
    pub payload_len: u32,
    /// For Send events: the segment repeats sequence space already sent.
    pub retransmission: bool,
}

impl SegmentEvent {
    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// Decodes every packet event whose captured bytes parse as IPv4/TCP.
/// Corrupted packets may not parse; they are skipped here (the Corrupt
/// event itself stays in the trace).
pub fn segments(trace: &Trace) -> Vec<SegmentEvent> {
    let mut highest_sent: BTreeMap<(u32, SocketAddrV4, SocketAddrV4), SeqNum> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, e) in trace.events().iter().enumerate() {
        if matches!(e.kind, EventKind::Note(_)) {
            continue;
        }
        let Some(seg) = decode(i, e) else { continue };
        let mut seg = seg;
        if seg.kind == EventKind::Send && seg.seq_len() > 0 && !seg.flags.rst() {
            // Per sending node: a router forwarding a segment is not retransmitting it.
            let key = (seg.node.0, seg.src, seg.dst);
            let end = seg.seq + seg.seq_len();
            match highest_sent.get(&key) {
                Some(&high) if end.diff(high) <= 0 && !seg.flags.syn() => seg.retransmission = true,
                Some(&high) if seg.flags.syn() && seg.seq + 1 == high => seg.retransmission = true,
                _ => {}
            }
            let entry = highest_sent.entry(key).or_insert(end);
            if end.diff(*entry) > 0 || seg.flags.syn() && !seg.retransmission {
                *entry = end;
            }
        }
        out.push(seg);
    }
    out
}

fn decode(index: usize, e: &TraceEvent) -> Option<SegmentEvent> {
    if e.bytes.len() < e.len as usize {
        // Truncated capture: the checksum cannot be verified, decode the header only.
        return None;
    }
    let (pair, repr) = wire::parse_datagram(&e.bytes).ok()?;
    Some(SegmentEvent {
        trace_index: index,
        time: e.time,
        kind: e.kind.clone(),
        node: e.node,
        src: SocketAddrV4::new(pair.src, repr.src_port),
        dst: SocketAddrV4::new(pair.dst, repr.dst_port),
        flags: repr.flags,
        seq: repr.seq,
        ack: repr.ack,
        window: repr.window,
        options: repr.options,
        payload_len: repr.payload.len() as u32,
        retransmission: false,
    })
}

/// The ISN each direction used, from its first SYN (for relative numbers).
#[derive(Clone, Debug, Default)]
pub struct Isns {
    by_sender: BTreeMap<(SocketAddrV4, SocketAddrV4), SeqNum>,
}

impl Isns {
    /// Remembers the ISN of a SYN (or SYN-ACK) as its sender sent it; other
    /// segments are ignored.
    pub fn learn(&mut self, seg: &SegmentEvent) {
        if seg.flags.syn() && seg.kind == EventKind::Send {
            self.by_sender.insert((seg.src, seg.dst), seg.seq);
        }
    }
    /// The ISN `src` chose toward `dst`.
    pub fn of(&self, src: SocketAddrV4, dst: SocketAddrV4) -> Option<SeqNum> {
        self.by_sender.get(&(src, dst)).copied()
    }
}

/// `a.b.c.d:port` of a host address and port.
pub fn endpoint(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}
