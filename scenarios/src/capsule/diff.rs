//! `tcpsim diff`: where two runs part, shown readably.
//!
//! The engine's [`sim::first_divergence`] finds the first event that
//! differs (time, kind, node, link, addresses, captured bytes). Around it,
//! each event is one line: its index, virtual time, node, what happened,
//! the link direction, and for a TCP segment its RFC 9293 notation
//! (`<SEQ=1><ACK=1><CTL=ACK><DATA=1000>`, relative numbers as in the
//! ladder). The events shared before the divergence are printed once; from
//! it on, each run's own events are printed side after side.

use crate::analysis::{Isns, SegmentEvent, segments};
use crate::render::{Numbering, segment_notation};
use crate::run::Outcome;
use sim::{EventKind, TraceEvent, first_divergence};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One run's events, decoded once for rendering.
struct View<'a> {
    outcome: &'a Outcome,
    segments: BTreeMap<usize, SegmentEvent>,
    isns: Isns,
}

impl<'a> View<'a> {
    fn new(outcome: &'a Outcome) -> View<'a> {
        let mut isns = Isns::default();
        let mut by_index = BTreeMap::new();
        for seg in segments(outcome.world.trace()) {
            isns.learn(&seg);
            by_index.insert(seg.trace_index, seg);
        }
        View {
            outcome,
            segments: by_index,
            isns,
        }
    }

    fn line(&self, index: usize, e: &TraceEvent) -> String {
        let node = self.outcome.node_name(e.node);
        let what = match &e.kind {
            EventKind::Send => "send".to_string(),
            EventKind::Enqueue => "enqueue".to_string(),
            EventKind::Drop(reason) => format!("DROP ({reason})"),
            EventKind::Duplicate => "DUPLICATE".to_string(),
            EventKind::Corrupt(bits) => format!("CORRUPT bits {bits:?}"),
            EventKind::Deliver => "deliver".to_string(),
            EventKind::Held => "held".to_string(),
            EventKind::EcnMark => "ECN-MARK CE".to_string(),
            EventKind::Note(text) => return format!("#{index} {} {node}: note: {text}", e.time),
            EventKind::LinkChange(change) => {
                return format!("#{index} {} {node}: link {change}", e.time);
            }
        };
        let link = e
            .link
            .and_then(|l| self.outcome.world.link_name(l))
            .map(|n| format!(" on {n}"))
            .unwrap_or_default();
        let body = match self.segments.get(&index) {
            Some(seg) => format!(
                "{}:{} > {}:{} {}",
                seg.src.ip(),
                seg.src.port(),
                seg.dst.ip(),
                seg.dst.port(),
                segment_notation(seg, &self.isns, Numbering::Relative)
            ),
            None => format!("{} > {} len {}", e.src, e.dst, e.len),
        };
        format!("#{index} {} {node}: {what}{link} {body}", e.time)
    }
}

/// The first divergence of two runs with `context` events around it, or
/// a line saying the traces are identical. `labels` name the runs.
pub fn render(left: &Outcome, right: &Outcome, labels: (&str, &str), context: usize) -> String {
    let (a, b) = (left.world.trace().events(), right.world.trace().events());
    let mut out = String::new();
    let hashes = format!(
        "{}: trace hash {:016x}, {} events\n{}: trace hash {:016x}, {} events\n",
        labels.0,
        left.stats.trace_hash,
        a.len(),
        labels.1,
        right.stats.trace_hash,
        b.len()
    );
    out.push_str(&hashes);
    let Some(d) = first_divergence(a, b) else {
        out.push_str("the traces are identical\n");
        return out;
    };
    let (va, vb) = (View::new(left), View::new(right));
    let at = d
        .left
        .as_ref()
        .or(d.right.as_ref())
        .map_or("the end".to_string(), |e| e.time.to_string());
    writeln!(out, "first divergence at event #{} ({at}):", d.index).ok();
    let start = d.index.saturating_sub(context);
    if start < d.index {
        writeln!(out, "  both:").ok();
        for (i, e) in a.iter().enumerate().take(d.index).skip(start) {
            writeln!(out, "    {}", va.line(i, e)).ok();
        }
    }
    for (label, view, events) in [(labels.0, &va, a), (labels.1, &vb, b)] {
        writeln!(out, "  {label}:").ok();
        let end = (d.index + context + 1).min(events.len());
        if d.index >= events.len() {
            writeln!(out, "    (trace ended)").ok();
        }
        for (i, e) in events.iter().enumerate().take(end).skip(d.index) {
            let mark = if i == d.index { "> " } else { "  " };
            writeln!(out, "  {mark}{}", view.line(i, e)).ok();
        }
    }
    out
}
