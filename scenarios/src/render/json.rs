//! JSON lines: one object per line, for tools (`jq`, pandas, a test of
//! one's own). The format is described by the JSON Schema in
//! `docs/trace.schema.json`, whose version is [`SCHEMA_VERSION`]; every
//! line validates against it (`tests/tests/json_schema.rs` checks every
//! catalogue scenario).
//!
//! The stream is: one `header` line (schema name and version, seed, hosts),
//! one line per trace event in trace order (`index` is the event's position
//! in the trace), and one `end` line (event count, simulated time, trace
//! hash, verdict). Nothing else is written to standard output.
//!
//! For TCP segments each row carries both numberings and both windows:
//!
//! - `seq`/`ack` are the numbers on the wire; `seq_rel`/`ack_rel` are
//!   relative to the ISN of their direction (the SYN is 0, as Wireshark's
//!   relative numbers), `null` while that ISN is unknown (`ack_rel` is also
//!   `null` without the ACK flag);
//! - `win_raw` is the 16-bit header field; `win` is the window in bytes,
//!   `win_raw << wscale`, where `wscale` is the shift the sender announced in
//!   its SYN when both SYNs carried the option (RFC 7323 §2.2), 0 otherwise
//!   and always 0 on a SYN (whose window is never scaled);
//! - `retransmission` says whether the packet, as its host sent it,
//!   repeated sequence space the host had sent before. It is the same on
//!   every row of one packet's life: its send, its enqueue, a drop, a
//!   duplicate, a router's forward and its delivery (rows are tied to their
//!   packet by the link and the packet's content digest, first in first
//!   out; two packets with identical bytes in flight on one link at once
//!   are told apart by order only).

use super::drop_text;
use super::packets::PacketLives;
use crate::analysis::{Isns, SegmentEvent, segments};
use crate::run::Outcome;
use serde_json::{Value, json};
use sim::{DropReason, EventKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// The schema name every `header` line carries.
pub const SCHEMA_NAME: &str = "tcpsim-trace";

/// The version of the JSON lines format (`docs/trace.schema.json`). A
/// change that removes or renames a field, or changes a field's meaning,
/// increments it; a new optional field does not.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole rendering: header, one line per trace event, end.
pub fn json_lines(outcome: &Outcome) -> String {
    let mut out = String::new();
    writeln!(out, "{}", header(outcome)).ok();
    let trace = outcome.world.trace().events();
    let segs = segments(outcome.world.trace());
    let lives = PacketLives::of(outcome, &segs);
    let mut segs = segs.into_iter().peekable();
    let mut isns = Isns::default();
    let mut scales = WindowScales::default();
    for (i, e) in trace.iter().enumerate() {
        let mut row = Row::default();
        row.insert("index", json!(i));
        row.insert("time_ns", json!(e.time.as_nanos()));
        row.insert("event", json!(event_name(&e.kind)));
        row.insert("node", json!(outcome.node_name(e.node)));
        if let Some(link) = e.link {
            let name = outcome.world.link_name(link).unwrap_or("?");
            row.insert("link", json!(name));
        }
        match &e.kind {
            EventKind::Drop(reason) => {
                row.insert("reason", json!(drop_text(*reason, e.link, &outcome.world)));
                row.insert("reason_kind", json!(reason_kind(*reason)));
            }
            EventKind::Corrupt(bits) => {
                row.insert("bits", json!(bits));
            }
            EventKind::Note(text) => {
                row.insert("text", json!(text));
            }
            EventKind::LinkChange(change) => {
                row.insert("change", json!(change.to_string()));
            }
            _ => {}
        }
        if !matches!(e.kind, EventKind::Note(_) | EventKind::LinkChange(_)) {
            row.insert("bytes", json!(e.len));
        }
        if let Some(seg) = segs.next_if(|s| s.trace_index == i) {
            isns.learn(&seg);
            scales.learn(&seg);
            segment_fields(&mut row, &seg, &isns, &scales, lives.retransmission(i));
        }
        writeln!(out, "{row}").ok();
    }
    writeln!(out, "{}", end(outcome)).ok();
    out
}

/// A JSON object whose keys keep the order they were inserted in, so every
/// line reads `index`, `time_ns`, `event`, `node` first.
#[derive(Default)]
struct Row(Vec<(&'static str, Value)>);

impl Row {
    fn insert(&mut self, key: &'static str, value: Value) {
        self.0.push((key, value));
    }

    fn into_value(self) -> Value {
        Value::Object(
            self.0
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (n, (key, value)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{value}", Value::from(*key))?;
        }
        f.write_str("}")
    }
}

fn header(outcome: &Outcome) -> Row {
    let hosts: Vec<Value> = (0..outcome.host_count())
        .map(|i| {
            let node = outcome.host_node(i);
            let addr = outcome
                .world
                .node_addr(node)
                .map(|a| std::net::Ipv4Addr::from(a).to_string())
                .unwrap_or_default();
            json!({"name": outcome.host(i).name, "addr": addr})
        })
        .collect();
    let mut row = Row::default();
    row.insert("event", json!("header"));
    row.insert("schema", json!(SCHEMA_NAME));
    row.insert("schema_version", json!(SCHEMA_VERSION));
    row.insert("seed", json!(outcome.seed));
    row.insert("hosts", Value::Array(hosts));
    row
}

fn end(outcome: &Outcome) -> Row {
    let mut row = Row::default();
    row.insert("event", json!("end"));
    row.insert("events", json!(outcome.stats.processed_count));
    row.insert("trace_events", json!(outcome.world.trace().len()));
    row.insert("time_ns", json!(outcome.stats.now.as_nanos()));
    row.insert(
        "trace_hash",
        json!(format!("{:016x}", outcome.stats.trace_hash)),
    );
    row.insert("passed", json!(outcome.passed()));
    row.insert("verdict", json!(outcome.verdict()));
    row
}

fn event_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Send => "send",
        EventKind::Enqueue => "enqueue",
        EventKind::Drop(_) => "drop",
        EventKind::Duplicate => "duplicate",
        EventKind::Corrupt(_) => "corrupt",
        EventKind::Deliver => "deliver",
        EventKind::Note(_) => "note",
        EventKind::LinkChange(_) => "link",
        EventKind::Held => "held",
        EventKind::EcnMark => "ecn_mark",
    }
}

/// A drop's cause as one word, for tools that group drops.
fn reason_kind(reason: DropReason) -> &'static str {
    match reason {
        DropReason::Loss => "loss",
        DropReason::QueueFull => "queue_full",
        DropReason::LinkDown => "link_down",
        DropReason::FaultRule(_) => "fault_rule",
        DropReason::NoRoute => "no_route",
    }
}

fn segment_fields(
    row: &mut Row,
    seg: &SegmentEvent,
    isns: &Isns,
    scales: &WindowScales,
    retransmission: bool,
) {
    let rel = |value: stack::SeqNum, isn: Option<stack::SeqNum>| -> Value {
        isn.map_or(Value::Null, |isn| json!(value.0.wrapping_sub(isn.0)))
    };
    let own_isn = isns.of(seg.src, seg.dst);
    let peer_isn = isns.of(seg.dst, seg.src);
    let shift = scales.shift(seg);
    row.insert("src", json!(seg.src.to_string()));
    row.insert("dst", json!(seg.dst.to_string()));
    row.insert("flags", json!(seg.flags.to_string()));
    row.insert("seq", json!(seg.seq.0));
    row.insert("seq_rel", rel(seg.seq, own_isn));
    row.insert("ack", json!(seg.ack.0));
    let ack_rel = if seg.flags.ack() {
        rel(seg.ack, peer_isn)
    } else {
        Value::Null
    };
    row.insert("ack_rel", ack_rel);
    row.insert("win", json!(u64::from(seg.window) << shift));
    row.insert("win_raw", json!(seg.window));
    row.insert("wscale", json!(shift));
    row.insert("len", json!(seg.payload_len));
    row.insert("retransmission", json!(retransmission));
    let o = &seg.options;
    let mut options = Row::default();
    if let Some(mss) = o.mss {
        options.insert("mss", json!(mss));
    }
    if let Some(ws) = o.window_scale {
        options.insert("wscale", json!(ws));
    }
    if o.sack_permitted {
        options.insert("sack_permitted", json!(true));
    }
    if let Some((tsval, tsecr)) = o.timestamps {
        options.insert("tsval", json!(tsval));
        options.insert("tsecr", json!(tsecr));
    }
    if !o.sack().is_empty() {
        let blocks: Vec<Value> = o
            .sack()
            .iter()
            .map(|b| {
                json!({
                    "left": b.left.0,
                    "right": b.right.0,
                    "left_rel": rel(b.left, peer_isn),
                    "right_rel": rel(b.right, peer_isn),
                })
            })
            .collect();
        options.insert("sack", Value::Array(blocks));
    }
    row.insert("options", options.into_value());
}

/// The window-scale shift each direction announced in its SYN (RFC 7323
/// §2.2); it applies to a direction's segments only when both SYNs of the
/// connection carried the option, and never to a SYN.
#[derive(Default)]
struct WindowScales {
    announced: BTreeMap<(SocketAddrV4, SocketAddrV4), Option<u8>>,
}

impl WindowScales {
    fn learn(&mut self, seg: &SegmentEvent) {
        if seg.flags.syn() && seg.kind == EventKind::Send {
            self.announced
                .insert((seg.src, seg.dst), seg.options.window_scale);
        }
    }

    fn shift(&self, seg: &SegmentEvent) -> u8 {
        if seg.flags.syn() {
            return 0;
        }
        let own = self.announced.get(&(seg.src, seg.dst)).copied().flatten();
        let peer = self.announced.get(&(seg.dst, seg.src)).copied().flatten();
        match (own, peer) {
            // RFC 7323 §2.3: a shift above 14 is used as 14.
            (Some(shift), Some(_)) => shift.min(14),
            _ => 0,
        }
    }
}
