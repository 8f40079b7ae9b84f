//! Oracles checked on every run of every scenario. Each is a plain function
//! over recorded data, so a test can feed it a broken record and watch it fail.
//!
//! 1. delivery: every byte read is the right byte at the right offset
//!    (exactly once, in order, uncorrupted) and nobody reads more than the
//!    peer sent, checked from the digests the host keeps of what each side
//!    wrote and read, whatever the application's bytes;
//! 2. transitions: every state change is an arc of RFC 9293's diagram and
//!    starts where the previous one ended;
//! 3. termination: once the run is over, every connection is gone or in
//!    TIME-WAIT;
//! 4. segments: nobody ACKs data the peer never sent, and nobody sends data
//!    beyond the peer's advertised window (one byte of probe allowed);
//! 5. checksum: every TCP segment a host sends carries the Internet
//!    checksum over the pseudo-header and the segment (RFC 9293 §3.1,
//!    RFC 1071), computed here word by word, independently of the stack's
//!    own wire code (which both ends share, so a defect there would
//!    otherwise go unseen: both ends agree on the same wrong sum).

use crate::analysis::SegmentEvent;
use crate::digest::Flow;
use crate::host::{Logged, Record, Stream};
use hashbrown::HashMap;
use sim::EventKind;
use stack::{SeqNum, SocketInfo, State};
use std::fmt;
use std::net::SocketAddrV4;

/// One oracle failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The oracle's name (`delivery`, `termination`...).
    pub oracle: &'static str,
    /// What went wrong, in one line.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.oracle, self.detail)
    }
}

fn violation(oracle: &'static str, detail: String) -> Violation {
    Violation { oracle, detail }
}

/// Oracle 1. `hosts` is every host's streams. What each side read must be
/// explained by what its peer wrote on the same 4-tuple: never more bytes,
/// and the same digest at every checkpoint and at the end (see
/// [`crate::digest::Flow::explains`]). A 4-tuple used more than once
/// (TIME-WAIT reuse) is explained by any of its writers. An application
/// that knows its bytes (the pattern) may also have reported the first
/// wrong byte.
pub fn check_delivery(hosts: &[(&str, &[Stream])]) -> Vec<Violation> {
    let mut out = Vec::new();
    // Maps used for lookups only (never iterated), so hash order cannot
    // reach the report: violations come out in host and stream order.
    let mut written_by_tuple: HashMap<(SocketAddrV4, SocketAddrV4), Vec<&Flow>> =
        HashMap::with_capacity(hosts.iter().map(|(_, s)| s.len()).sum());
    for (_, streams) in hosts {
        for s in streams.iter() {
            if let (Some(l), Some(r)) = (s.local, s.remote) {
                written_by_tuple.entry((l, r)).or_default().push(&s.written);
            }
        }
    }
    // The k-th reader on a 4-tuple is most likely the k-th writer's peer
    // (a tuple is reused only after its last connection ended): try that
    // writer first, so the check stays linear in the number of streams.
    let mut readers_seen: HashMap<(SocketAddrV4, SocketAddrV4), usize> =
        HashMap::with_capacity(written_by_tuple.len());
    for (name, streams) in hosts {
        for s in streams.iter() {
            if let Some(offset) = s.first_mismatch {
                let on = match (s.local, s.remote) {
                    (Some(l), Some(r)) => format!(" on {l} <- {r}"),
                    _ => String::new(),
                };
                out.push(violation(
                    "delivery",
                    format!(
                        "{name}{on}: byte at stream offset {offset} is not the byte the peer sent there"
                    ),
                ));
            }
            let (Some(l), Some(r)) = (s.local, s.remote) else {
                continue;
            };
            let k = readers_seen.entry((l, r)).or_default();
            let index = *k;
            *k += 1;
            if s.read.len == 0 {
                continue;
            }
            let writers = written_by_tuple
                .get(&(r, l))
                .map_or(&[][..], |w| w.as_slice());
            if writers
                .get(index)
                .is_some_and(|w| w.explains(&s.read).is_ok())
            {
                continue;
            }
            let verdicts: Vec<Result<(), u64>> =
                writers.iter().map(|w| w.explains(&s.read)).collect();
            if verdicts.iter().any(|v| v.is_ok()) {
                continue;
            }
            let sent = writers.iter().map(|w| w.len).max().unwrap_or(0);
            if s.read.len > sent {
                out.push(violation(
                    "delivery",
                    format!(
                        "{name}: read {} bytes from {r} but only {sent} were sent",
                        s.read.len
                    ),
                ));
            } else {
                let from = verdicts.iter().filter_map(|v| v.err()).min().unwrap_or(0);
                out.push(violation(
                    "delivery",
                    format!(
                        "{name}: the {} bytes read from {r} differ from what it wrote, from stream offset {from} on",
                        s.read.len
                    ),
                ));
            }
        }
    }
    out
}

/// Oracle 2.
pub fn check_transitions(hosts: &[(&str, &[Logged])]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (name, log) in hosts {
        // Looked up by connection, never iterated.
        let mut last: HashMap<u32, State> = HashMap::new();
        for entry in log.iter() {
            match entry.record {
                Record::State { conn, from, to } => {
                    if !from.can_transition_to(to) {
                        out.push(violation(
                            "transitions",
                            format!(
                                "{name} {conn} at {}: {from} -> {to} is not in RFC 9293's diagram",
                                entry.time
                            ),
                        ));
                    }
                    if let Some(&prev) = last.get(&conn.0)
                        && prev != from
                    {
                        out.push(violation(
                            "transitions",
                            format!(
                                "{name} {conn} at {}: left {from} but was in {prev}",
                                entry.time
                            ),
                        ));
                    }
                    last.insert(conn.0, to);
                }
                Record::Crash => last.clear(),
                _ => {}
            }
        }
    }
    out
}

/// Oracle 3: the sockets each host still has at the end of the run.
pub fn check_termination(hosts: &[(&str, &[SocketInfo])]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (name, sockets) in hosts {
        for s in sockets.iter() {
            if !matches!(s.state, State::Listen | State::TimeWait | State::Closed) {
                out.push(violation(
                    "termination",
                    format!(
                        "{name}: {} -> {} still {} when the run ended",
                        s.local, s.remote, s.state
                    ),
                ));
            }
        }
    }
    out
}

#[derive(Default, Clone, Copy)]
struct Direction {
    /// Highest sequence number sent (end of data, SYN and FIN).
    highest_end: Option<SeqNum>,
    /// This side's SYN carried a window-scale option, and its shift.
    wscale: Option<u8>,
    /// Highest ACK this side sent and the window with it (raw field).
    acked: Option<(SeqNum, u16)>,
    /// This side has sent only a SYN (no ACK) so far: a peer's SYN now is
    /// a simultaneous open (RFC 9293 Figure 7), not a new attempt.
    opening: bool,
    /// The sequence number of the last SYN this side sent (its ISN): a SYN
    /// with the same number is a retransmission, not a new attempt.
    syn_seq: Option<SeqNum>,
    /// Earlier incarnations on this tuple, `(ISN, highest end)`, newest
    /// first, once this side started new ones: the peer may still
    /// acknowledge them, and they may still send (a listener's SYN-cookie
    /// connection on a tuple whose embryonic connection timed out).
    prior: [Option<(SeqNum, SeqNum)>; PRIOR_INCARNATIONS],
}

/// How many earlier incarnations of a direction the segment oracle keeps.
const PRIOR_INCARNATIONS: usize = 3;

/// A sequence number this far past an incarnation's ISN is taken to be in
/// it (no run sends a gigabyte on one connection).
const INCARNATION_SPAN: i32 = 1 << 30;

fn within(seq: SeqNum, isn: SeqNum) -> bool {
    (1..INCARNATION_SPAN).contains(&seq.diff(isn))
}

impl Direction {
    /// Whether `ack` acknowledges something this side has sent, from its
    /// ISN to its highest sequence number: in the current incarnation, or
    /// in an earlier one. A host that crashed and reconnected on the same
    /// 4-tuple gets, from the half-open peer, a challenge ACK for the old
    /// connection's data (RFC 9293 §3.10.7.4, RFC 5961 §4), to which it
    /// answers with a reset (§3.10.7.3).
    fn covers(&self, ack: SeqNum) -> bool {
        let current = self.highest_end.is_none_or(|end| ack.diff(end) <= 0)
            && self.syn_seq.is_none_or(|isn| ack.diff(isn) > 0);
        let previous = self
            .prior
            .iter()
            .flatten()
            .any(|&(isn, end)| ack.diff(isn) > 0 && ack.diff(end) <= 0);
        current || previous
    }

    /// Records that this side sent up to `end`: in the current incarnation,
    /// or in an earlier one whose sequence space `end` lies in.
    fn sent_up_to(&mut self, end: SeqNum) {
        let in_current = self.syn_seq.is_none_or(|isn| within(end, isn));
        if !in_current
            && let Some((_, old_end)) = self
                .prior
                .iter_mut()
                .flatten()
                .find(|(isn, _)| within(end, *isn))
        {
            if end.diff(*old_end) > 0 {
                *old_end = end;
            }
            return;
        }
        if self.highest_end.is_none_or(|h| end.diff(h) > 0) {
            self.highest_end = Some(end);
        }
    }
}

/// Oracle 4, over the Send events of the trace.
pub fn check_segments(segments: &[SegmentEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    // Looked up by direction, never iterated.
    let mut dirs: HashMap<(SocketAddrV4, SocketAddrV4), Direction> = HashMap::new();
    for seg in segments.iter().filter(|s| s.kind == EventKind::Send) {
        let key = (seg.src, seg.dst);
        let reverse = (seg.dst, seg.src);
        // A SYN or SYN,ACK with a new ISN starts a new incarnation of this
        // direction; the old ones are kept as `prior`, which the peer may
        // still acknowledge. A retransmitted SYN (same ISN) changes
        // nothing, even after the peer answered a crossed SYN with its
        // SYN,ACK.
        let new_isn = seg.flags.syn()
            && !seg.flags.rst()
            && dirs.get(&key).is_none_or(|d| d.syn_seq != Some(seg.seq));
        if new_isn {
            let mut prior = [None; PRIOR_INCARNATIONS];
            if let Some(old) = dirs.remove(&key) {
                prior = old.prior;
                if let (Some(isn), Some(end)) = (old.syn_seq, old.highest_end) {
                    prior.rotate_right(1);
                    prior[0] = Some((isn, end));
                }
            }
            dirs.insert(
                key,
                Direction {
                    prior,
                    ..Direction::default()
                },
            );
            // A new connection attempt also forgets what the peer said on
            // this tuple, unless the peer's own SYN is all it has sent: then
            // the two SYNs cross (simultaneous open, RFC 9293 Figure 7) and
            // the peer's window scale stands.
            if !seg.flags.ack() && !dirs.get(&reverse).is_some_and(|d| d.opening) {
                dirs.remove(&reverse);
            }
        }
        let peer = dirs.get(&reverse).copied().unwrap_or_default();
        if seg.flags.ack()
            && !seg.flags.rst()
            && let Some(peer_end) = peer.highest_end
            && !peer.covers(seg.ack)
        {
            out.push(violation(
                "segments",
                format!(
                    "{} -> {} at {}: ACK {} covers data the peer never sent (it sent up to {})",
                    seg.src, seg.dst, seg.time, seg.ack, peer_end
                ),
            ));
        }
        let me = dirs.entry(key).or_default();
        if seg.flags.syn() {
            me.wscale = seg.options.window_scale;
            me.syn_seq = Some(seg.seq);
        }
        me.opening = seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst();
        if seg.payload_len > 0
            && let Some((peer_ack, peer_window)) = peer.acked
        {
            let shift = match (me.wscale, peer.wscale) {
                (Some(_), Some(theirs)) => theirs.min(14),
                _ => 0,
            };
            let right_edge = peer_ack + (u32::from(peer_window) << shift);
            let end = seg.seq + seg.payload_len;
            // One byte past the window is a legitimate probe (RFC 9293 §3.8.6.1).
            if end.diff(right_edge) > 1 {
                out.push(violation(
                    "segments",
                    format!(
                        "{} -> {} at {}: data up to {} beyond the peer's window edge {}",
                        seg.src, seg.dst, seg.time, end, right_edge
                    ),
                ));
            }
        }
        if !seg.flags.rst() {
            let end = seg.seq + seg.seq_len();
            me.sent_up_to(end);
            if seg.flags.ack()
                && me.acked.is_none_or(|(a, _)| seg.ack.diff(a) >= 0)
                && !seg.flags.syn()
            {
                me.acked = Some((seg.ack, seg.window));
            }
        }
    }
    out
}

/// RFC 1071's sum, one 16-bit big-endian word at a time, every carry folded.
fn ones_complement_sum(mut sum: u32, bytes: &[u8]) -> u32 {
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Whether an IPv4 datagram carrying TCP has a correct TCP checksum;
/// `None` if the bytes are not a whole IPv4/TCP datagram.
pub fn tcp_checksum_ok(datagram: &[u8]) -> Option<bool> {
    let ihl = usize::from(*datagram.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
    if datagram[0] >> 4 != 4 || *datagram.get(9)? != 6 || ihl < 20 || total > datagram.len() {
        return None;
    }
    let segment = datagram.get(ihl..total)?;
    if segment.len() < 20 {
        return None;
    }
    let mut pseudo = [0u8; 12];
    pseudo[..8].copy_from_slice(&datagram[12..20]);
    pseudo[9] = 6;
    pseudo[10..].copy_from_slice(&(segment.len() as u16).to_be_bytes());
    let sum = ones_complement_sum(ones_complement_sum(0, &pseudo), segment);
    Some(sum == 0xffff)
}

/// Oracle 5, over the packets hosts sent: `(time, sender, datagram)`.
/// A datagram that is not whole IPv4/TCP (a truncated capture) is skipped.
pub fn check_checksums<'a>(
    sent: impl IntoIterator<Item = (sim::Time, &'a str, &'a [u8])>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (time, host, bytes) in sent {
        if tcp_checksum_ok(bytes) == Some(false) {
            let addr = |at: usize| {
                std::net::Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
            };
            out.push(violation(
                "checksum",
                format!(
                    "{host} at {time}: segment {} -> {} carries a wrong TCP checksum (RFC 1071 over the pseudo-header)",
                    addr(12),
                    addr(16)
                ),
            ));
            if out.len() >= 10 {
                break;
            }
        }
    }
    out
}
