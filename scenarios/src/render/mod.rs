//! Renderers: the RFC-style ladder, JSON lines ([`json`]), pcapng
//! ([`mod@pcap`]), and an `ss -nat` table.

pub mod json;
pub mod packets;
pub mod pcap;

pub use json::json_lines;

use crate::analysis::{Isns, SegmentEvent, segments};
use crate::host::Record;
use crate::run::Outcome;
use sim::{DropReason, EventKind};
use stack::State;
use std::fmt::Write as _;

/// Sequence numbers as Wireshark shows them (relative after the SYN) or raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Numbering {
    /// Relative to each direction's ISN after the SYN (the SYN itself shows
    /// the ISN), as Wireshark and packetdrill write them.
    #[default]
    Relative,
    /// The 32-bit numbers on the wire.
    Absolute,
}

/// `<SEQ=100><ACK=301><CTL=SYN,ACK>` in RFC 9293's figure notation, plus
/// `<DATA=n>` when the segment carries data.
pub fn segment_notation(seg: &SegmentEvent, isns: &Isns, numbering: Numbering) -> String {
    let relative = numbering == Numbering::Relative;
    let seq = match (relative && !seg.flags.syn(), isns.of(seg.src, seg.dst)) {
        (true, Some(isn)) => seg.seq.0.wrapping_sub(isn.0),
        _ => seg.seq.0,
    };
    let mut s = format!("<SEQ={seq}>");
    if seg.flags.ack() {
        let ack = match (relative, isns.of(seg.dst, seg.src)) {
            (true, Some(isn)) => seg.ack.0.wrapping_sub(isn.0),
            _ => seg.ack.0,
        };
        write!(s, "<ACK={ack}>").ok();
    }
    let mut ctl = Vec::new();
    for (on, name) in [
        (seg.flags.syn(), "SYN"),
        (seg.flags.fin(), "FIN"),
        (seg.flags.rst(), "RST"),
        (seg.flags.psh(), "PSH"),
        (seg.flags.ack(), "ACK"),
        // RFC 3168 §6.1's bits, shown only when set.
        (seg.flags.ece(), "ECE"),
        (seg.flags.cwr(), "CWR"),
    ] {
        if on {
            ctl.push(name);
        }
    }
    write!(s, "<CTL={}>", ctl.join(",")).ok();
    if seg.payload_len > 0 {
        write!(s, "<DATA={}>", seg.payload_len).ok();
    }
    s
}

fn state_name(state: Option<State>) -> &'static str {
    state.map_or("", |s| s.name())
}

/// The ladder: one line per segment event between the hosts, the left
/// host's state on the left, the right host's on the right, arrows in the
/// direction of travel. Sends show the sender's state as it sent; arrivals
/// the receiver's state after processing. Drops, duplicates and corruption
/// are marked. Engine notes (crash, etc.) appear as `;;` lines.
pub fn ladder(outcome: &Outcome, numbering: Numbering) -> String {
    let hosts = outcome.host_names();
    let left_node = outcome.host_node(0);
    let mut isns = Isns::default();
    let mut out = String::new();
    let names: Vec<&str> = hosts.iter().map(|s| s.as_str()).collect();
    writeln!(
        out,
        "{:>11}  {:<13}{:^53}{}",
        "time",
        names.first().copied().unwrap_or(""),
        "",
        names.get(1..).map(|n| n.join(", ")).unwrap_or_default()
    )
    .ok();
    let segs = segments(outcome.world.trace());
    let mut segs = segs.into_iter().peekable();
    // Host records that no segment line shows: connections reaching CLOSED
    // (timers, resets, aborts) and errors reported to the application.
    let mut host_lines: Vec<(u64, sim::Time, String)> = Vec::new();
    for h in 0..outcome.host_count() {
        let host = outcome.host(h);
        for l in &host.log {
            let text = match &l.record {
                Record::State {
                    conn,
                    from,
                    to: State::Closed,
                } => format!("{} {conn}: {from} -> CLOSED", host.name),
                Record::Error { conn, error } => {
                    format!("{} {conn}: error {}", host.name, error.errno_name())
                }
                Record::CallFailed { action, error } => {
                    format!("{}: {action} failed: {}", host.name, error.errno_name())
                }
                _ => continue,
            };
            host_lines.push((l.trace_index, l.time, text));
        }
    }
    host_lines.sort_by_key(|(index, time, _)| (*index, *time));
    let mut host_lines = host_lines.into_iter().peekable();
    for (i, e) in outcome.world.trace().events().iter().enumerate() {
        while let Some((_, time, text)) = host_lines.next_if(|(index, _, _)| *index <= i as u64) {
            writeln!(out, "{:>11}  ;; {text}", time.to_string()).ok();
        }
        if let EventKind::Note(text) = &e.kind {
            writeln!(out, "{:>11}  ;; {text}", e.time.to_string()).ok();
            continue;
        }
        if let (EventKind::LinkChange(change), Some(link)) = (&e.kind, e.link) {
            let name = outcome.world.link_name(link).unwrap_or("?");
            writeln!(out, "{:>11}  ;; link {name} {change}", e.time.to_string()).ok();
            continue;
        }
        let Some(seg) = segs.next_if(|s| s.trace_index == i) else {
            if let EventKind::Corrupt(_) = e.kind {
                writeln!(
                    out,
                    "{:>11}  ;; a segment was corrupted in flight (no longer parses)",
                    e.time.to_string()
                )
                .ok();
            }
            continue;
        };
        isns.learn(&seg);
        // Columns: the left host's state on the left, everyone else's on
        // the right; arrows point from sender to receiver. A segment from
        // or to an address that is no host (a spoofing attacker) names it.
        let sender = outcome.node_of_addr(*seg.src.ip());
        let to_left = outcome.node_of_addr(*seg.dst.ip()) == Some(left_node);
        let from_left = sender == Some(left_node);
        let stranger = if sender.is_none() {
            format!(" [from {}]", seg.src)
        } else if outcome.node_of_addr(*seg.dst.ip()).is_none() {
            format!(" [to {}]", seg.dst)
        } else {
            String::new()
        };
        let notation = segment_notation(&seg, &isns, numbering);
        let (state, host_name) = match seg.kind {
            EventKind::Send => (outcome.departure_state(seg.node, i), None),
            EventKind::Deliver => (
                outcome.arrival_state(seg.node, i),
                Some(outcome.node_name(seg.node)),
            ),
            _ => (None, None),
        };
        if !outcome.is_host(seg.node) && matches!(seg.kind, EventKind::Send | EventKind::Deliver) {
            continue; // routers forwarding: the host lines tell the story
        }
        let marker = match &seg.kind {
            EventKind::Send if seg.retransmission => " (retransmission)".to_string(),
            EventKind::Drop(reason) => {
                format!(" X dropped: {}", drop_text(*reason, e.link, &outcome.world))
            }
            EventKind::Held => " (held)".to_string(),
            EventKind::EcnMark => " (marked CE)".to_string(),
            EventKind::Duplicate => " (duplicate made)".to_string(),
            EventKind::Corrupt(bits) => format!(" (corrupted: {} bit(s))", bits.len()),
            _ => String::new(),
        };
        let arrow = if to_left { "<--" } else { "-->" };
        let time = e.time.to_string();
        match seg.kind {
            EventKind::Send
            | EventKind::Drop(_)
            | EventKind::Duplicate
            | EventKind::Corrupt(_)
            | EventKind::EcnMark
            | EventKind::Held => {
                let (l, r) = if from_left {
                    (state_name(state), "")
                } else {
                    ("", state_name(state))
                };
                let who = if outcome.host_count() > 2 && seg.kind == EventKind::Send {
                    format!(" [{}]", outcome.node_name(seg.node))
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{time:>11}  {l:<13}{arrow} {notation:<46} {arrow} {r}{marker}{who}{stranger}"
                )
                .ok();
            }
            EventKind::Deliver => {
                let (l, r) = if to_left {
                    (state_name(state), "")
                } else {
                    ("", state_name(state))
                };
                let who = if outcome.host_count() > 2 {
                    format!(" [{}]", host_name.unwrap_or_default())
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{time:>11}  {l:<13}{arrow} {notation:<46} {arrow} {r}{who}{stranger}"
                )
                .ok();
            }
            _ => {}
        }
    }
    for (_, time, text) in host_lines {
        writeln!(out, "{:>11}  ;; {text}", time.to_string()).ok();
    }
    out
}

/// Why a packet was dropped. A fault rule built with `FaultRule::named` is
/// called by its name; other rules keep their position (`fault rule #0`).
fn drop_text(reason: DropReason, link: Option<sim::LinkId>, world: &sim::World) -> String {
    if let (DropReason::FaultRule(index), Some(link)) = (reason, link)
        && let Some(name) = world
            .faults(link)
            .get(index as usize)
            .and_then(|rule| rule.shown_name())
    {
        return format!("fault rule {name:?}");
    }
    reason.to_string()
}

/// An `ss -nat`-style table of every host's sockets now, then the
/// per-state counts (`ss -nat | awk '{print $1}' | sort | uniq -c`).
pub fn ss_table(outcome: &Outcome) -> String {
    let mut out = String::new();
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for (name, sockets) in outcome.sockets_by_host() {
        writeln!(out, "# {name}").ok();
        writeln!(
            out,
            "{:<11} {:>7} {:>7} {:<22} {:<22}",
            "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
        )
        .ok();
        for s in &sockets {
            let peer = if s.state == State::Listen {
                "*:*".to_string()
            } else {
                s.remote.to_string()
            };
            writeln!(
                out,
                "{:<11} {:>7} {:>7} {:<22} {:<22}",
                s.state.ss_name(),
                s.recv_queue,
                s.send_queue,
                s.local.to_string(),
                peer
            )
            .ok();
            *counts.entry(s.state.ss_name()).or_default() += 1;
        }
    }
    writeln!(out, "# state counts").ok();
    for (state, n) in counts {
        writeln!(out, "{n:>7} {state}").ok();
    }
    out
}

/// Where a capture is taken: at every host's interfaces, or at one host's.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CaptureAt {
    /// One interface per host-side link of every host.
    #[default]
    AllHosts,
    /// Only the interfaces of the host with this name: the capture that
    /// host would take, each packet it sent or received once.
    Host(String),
}

/// The run as a pcapng capture (see [`mod@pcap`] for the format): one
/// interface per host-side link, named `HOST@LINK` (`client@client-server`),
/// holding what the host sent on that link (outbound, at the time it sent
/// it) and what reached it (inbound, at the time it arrived). A packet the
/// network dropped carries, on its sender's record, a comment saying where
/// and why (`dropped at client-server:client->server: fault rule "drop the
/// final ACK"`); a copy the link made and a packet whose bits were flipped
/// say so on their arrival. Every host's capture at once shows each
/// delivered packet twice (leaving and arriving): to analyse TCP, read one
/// host's capture ([`CaptureAt::Host`], or a display filter on
/// `frame.interface_name`).
pub fn pcap(outcome: &Outcome) -> std::io::Result<Vec<u8>> {
    pcapng(outcome, &CaptureAt::AllHosts)
}

/// [`mod@pcap`], at the capture points `at` selects. An unknown host name is an
/// `InvalidInput` error.
pub fn pcapng(outcome: &Outcome, at: &CaptureAt) -> std::io::Result<Vec<u8>> {
    use pcap::{Direction, PcapngWriter};
    use std::collections::BTreeMap;
    use std::io::{Error, ErrorKind};
    let world = &outcome.world;
    let hosts: Vec<sim::NodeId> = (0..outcome.host_count())
        .map(|i| outcome.host_node(i))
        .filter(|&n| match at {
            CaptureAt::AllHosts => true,
            CaptureAt::Host(name) => outcome.node_name(n) == *name,
        })
        .collect();
    if let (CaptureAt::Host(name), true) = (at, hosts.is_empty()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "no host named {name:?} to capture at (hosts: {})",
                outcome.host_names().join(", ")
            ),
        ));
    }
    let mut w = PcapngWriter::new(Vec::new())?;
    // (host, link direction touching it) -> interface id; both directions
    // of a duplex link share the host's one interface on it.
    let mut interface_of: BTreeMap<(sim::NodeId, sim::LinkId), u32> = BTreeMap::new();
    let mut first_interface: BTreeMap<sim::NodeId, u32> = BTreeMap::new();
    for &host in &hosts {
        let mut by_duplex: BTreeMap<String, u32> = BTreeMap::new();
        for l in 0..world.link_count() {
            let link = sim::LinkId(l as u32);
            let Some((from, to)) = world.link_ends(link) else {
                continue;
            };
            if from != host && to != host {
                continue;
            }
            let direction_name = world.link_name(link).unwrap_or("?");
            let duplex = direction_name.split(':').next().unwrap_or(direction_name);
            let id = match by_duplex.get(duplex) {
                Some(&id) => id,
                None => {
                    let host_name = outcome.node_name(host);
                    let peer = outcome.node_name(if from == host { to } else { from });
                    let addr = world
                        .node_addr(host)
                        .map(|a| std::net::Ipv4Addr::from(a).to_string())
                        .unwrap_or_default();
                    let id = w.add_interface(
                        &format!("{host_name}@{duplex}"),
                        &format!("host {host_name} ({addr}) on link {duplex}, toward {peer}"),
                    )?;
                    by_duplex.insert(duplex.to_string(), id);
                    id
                }
            };
            interface_of.insert((host, link), id);
            first_interface.entry(host).or_insert(id);
        }
    }
    let segs = segments(world.trace());
    let lives = packets::PacketLives::of(outcome, &segs);
    let events = world.trace().events();
    // What became of each host send: the drops of it and of its copies.
    let mut fates: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if let (EventKind::Drop(reason), Some(origin)) = (&e.kind, lives.get(i).origin) {
            let place = e.link.and_then(|l| world.link_name(l)).map_or_else(
                || format!("at {}", outcome.node_name(e.node)),
                |n| format!("at {n}"),
            );
            let what = if lives.get(i).copy {
                "a copy made by the link was dropped"
            } else {
                "dropped"
            };
            fates.entry(origin).or_default().push(format!(
                "{what} {place}: {}",
                drop_text(*reason, e.link, world)
            ));
        }
    }
    for (i, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::Send if hosts.contains(&e.node) => {
                // The link the send went out on: the next row of its step.
                let link = events
                    .get(i + 1)
                    .filter(|next| next.node == e.node)
                    .and_then(|next| next.link);
                let interface = link
                    .and_then(|l| interface_of.get(&(e.node, l)))
                    .or_else(|| first_interface.get(&e.node));
                let Some(&interface) = interface else {
                    continue;
                };
                let comment = fates.get(&i).map(|f| f.join("; ")).unwrap_or_default();
                w.write_packet(
                    interface,
                    e.time.as_nanos(),
                    &e.bytes,
                    e.len as usize,
                    Direction::Outbound,
                    &comment,
                )?;
            }
            EventKind::Deliver if hosts.contains(&e.node) => {
                let Some(&interface) = e.link.and_then(|l| interface_of.get(&(e.node, l))) else {
                    continue;
                };
                let life = lives.get(i);
                let mut notes = Vec::new();
                if life.copy {
                    notes.push("a copy made by the link (duplication)");
                }
                if life.corrupted {
                    notes.push("bits flipped in flight: the checksum no longer matches");
                }
                w.write_packet(
                    interface,
                    e.time.as_nanos(),
                    &e.bytes,
                    e.len as usize,
                    Direction::Inbound,
                    &notes.join("; "),
                )?;
            }
            _ => {}
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::drop_text;
    use sim::{Addr, DropReason, FaultAction, FaultRule, LinkConfig, Router, World, WorldConfig};

    #[test]
    fn a_drop_by_a_named_rule_reads_as_the_rule_name_and_others_keep_their_number() {
        // The ladder's drop marker comes from `drop_text`: rule #0 was built
        // with `FaultRule::named`, so it reads as its name; rule #1 with
        // `FaultRule::new`, so it keeps `#1` (the catalogue's snapshots,
        // whose rules are all built with `new`, stay byte-identical).
        let mut world = World::new(WorldConfig::new(1));
        let a = world.add_node("a", Addr::new(10, 0, 0, 1), Router).unwrap();
        let b = world.add_node("b", Addr::new(10, 0, 0, 2), Router).unwrap();
        let (ab, _) = world
            .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
            .unwrap();
        let named = FaultRule::named("drop the final ACK", |_| true, FaultAction::Drop);
        let labelled = FaultRule::new("label only", |_| true, FaultAction::Drop);
        world.add_fault(ab, named).unwrap();
        world.add_fault(ab, labelled).unwrap();
        assert_eq!(
            drop_text(DropReason::FaultRule(0), Some(ab), &world),
            "fault rule \"drop the final ACK\""
        );
        assert_eq!(
            drop_text(DropReason::FaultRule(1), Some(ab), &world),
            "fault rule #1"
        );
        assert_eq!(
            drop_text(DropReason::LinkDown, Some(ab), &world),
            "link down"
        );
    }
}
