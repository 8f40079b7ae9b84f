//! `scenarios::plot`: the SVG pictures hold one mark per thing the trace
//! shows, so a reader can trust what they count on them.

use roxmltree::Document;
use scenarios::analysis::segments;
use scenarios::catalogue;
use scenarios::plot::{self, Kind, Mark};
use scenarios::run::{Outcome, RunOptions};
use sim::{DropReason, EventKind};

fn run(name: &str, seed: u64) -> Outcome {
    catalogue::find(name)
        .expect("in the catalogue")
        .run_with(seed, &RunOptions { metrics: true })
        .expect("runs")
}

/// `<polyline>`s drawn in `mark`'s colour (legend swatches are `<rect>`s).
fn polylines(doc: &Document<'_>, mark: Mark) -> usize {
    let color = mark.svg_color();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color.as_str()))
        .count()
}

fn texts(doc: &Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn the_time_sequence_graph_has_a_mark_for_every_segment_retransmission_sack_and_drop() {
    // Counted from the engine trace here, independently of the plot's own
    // gathering: every segment the client sent with sequence space is one
    // bar (blue first time, red when resent), every SACK block an arriving
    // ACK carried is one purple bar, and every segment of the connection a
    // link dropped or corrupted is one mark. If the plot skipped, merged or
    // invented a mark, a count would differ.
    let o = run("lossy-bulk", 1);
    let client = o.host_node(0);
    let segs = segments(o.world.trace());
    let sent = |retransmission: bool| {
        segs.iter()
            .filter(|s| {
                s.node == client
                    && s.kind == EventKind::Send
                    && s.seq_len() > 0
                    && s.retransmission == retransmission
            })
            .count()
    };
    let sack_blocks: usize = segs
        .iter()
        .filter(|s| s.node == client && s.kind == EventKind::Deliver)
        .map(|s| s.options.sack().len())
        .sum();
    let drops = |fault: bool| {
        segs.iter()
            .filter(|s| match s.kind {
                EventKind::Drop(DropReason::FaultRule(_)) => fault,
                EventKind::Drop(_) => !fault,
                _ => false,
            })
            .count()
    };
    let corrupted = o
        .world
        .trace()
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Corrupt(_)))
        .count();
    assert!(sent(true) > 0 && drops(false) > 0 && corrupted > 0 && sack_blocks > 0);

    let c = plot::conversation(&o, 0).expect("connection 0");
    let svg = plot::svg(&c, Kind::Sequence, "lossy-bulk").expect("draws");
    let doc = Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(polylines(&doc, Mark::Data), sent(false));
    assert_eq!(polylines(&doc, Mark::Retransmission), sent(true));
    assert_eq!(polylines(&doc, Mark::Sack), sack_blocks);
    assert_eq!(polylines(&doc, Mark::Drop), drops(false));
    assert_eq!(polylines(&doc, Mark::FaultDrop), drops(true));
    assert_eq!(polylines(&doc, Mark::Corruption), corrupted);
    assert_eq!(polylines(&doc, Mark::Ack), 1, "one ACK line");
    // The legend names each kind with its count, and the axes have units.
    let texts = texts(&doc);
    let has = |s: &str| texts.iter().any(|t| t.contains(s));
    assert!(
        has(&format!("retransmission ({})", sent(true))),
        "{texts:?}"
    );
    assert!(has("relative sequence number (bytes)") && has("time (s)"));
    assert!(has("cwnd, ssthresh (bytes)") && has("SRTT, RTO (ms, log scale)"));
}

#[test]
fn a_fault_rule_drop_has_its_own_mark() {
    // lost-final-ack drops the client's final ACK with a named fault rule:
    // the graph of the client's side (it sends no data, so the side that
    // opened) shows exactly one fault-rule mark and no other drop, and its
    // two bars are its SYN and its FIN.
    let o = run("lost-final-ack", 1);
    let c = plot::conversation(&o, 0).expect("connection 0");
    assert_eq!(c.sender_name, "client");
    let doc_text = plot::svg(&c, Kind::Sequence, "lost-final-ack").expect("draws");
    let doc = Document::parse(&doc_text).expect("well-formed SVG");
    assert_eq!(polylines(&doc, Mark::FaultDrop), 1);
    assert_eq!(polylines(&doc, Mark::Drop), 0);
    assert_eq!(polylines(&doc, Mark::Data), 2);
    assert!(
        texts(&doc)
            .iter()
            .any(|t| t == "dropped by a fault rule (1)")
    );
}

#[test]
fn every_kind_draws_a_labelled_svg() {
    // cwnd, rtt and throughput are single panels over the same time axis;
    // each parses and names its unit, and the rtt panel shows as many RTT
    // samples (circles) as the plot's own Karn count says.
    let o = run("lossy-bulk", 3);
    let c = plot::conversation(&o, 0).expect("connection 0");
    for (kind, unit) in [
        (Kind::Cwnd, "bytes"),
        (Kind::Rtt, "milliseconds (log scale)"),
        (Kind::Throughput, "Mbit/s"),
    ] {
        let svg = plot::svg(&c, kind, "t").expect("draws");
        let doc = Document::parse(&svg).expect("well-formed SVG");
        let texts = texts(&doc);
        assert!(
            texts.iter().any(|t| t.starts_with(unit)),
            "{kind:?}: {texts:?}"
        );
        assert!(texts.iter().any(|t| t == "time (s)"), "{kind:?}");
        if kind == Kind::Rtt {
            let circles = doc
                .descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count();
            assert_eq!(circles, c.rtt_samples.len());
            assert!(!c.rtt_samples.is_empty());
        }
    }
}

#[test]
fn connections_are_numbered_in_syn_order_and_a_missing_one_is_an_error() {
    // many-connections opens 1,000 connections: --conn picks any of them
    // in the order their SYNs left, and one past the last names the range.
    let o = catalogue::find("many-connections")
        .expect("in the catalogue")
        .run(1)
        .expect("runs");
    let keys = plot::connections(&o);
    assert_eq!(keys.len(), 1000);
    let last = plot::conversation(&o, 999).expect("the last");
    assert_eq!(last.key, keys[999]);
    let err = plot::conversation(&o, 1000).expect_err("no such connection");
    assert_eq!(
        err.to_string(),
        "no connection 1000: the run has 1000 connections (--conn 0 to 999)"
    );
}

#[test]
fn a_reused_four_tuple_with_a_new_isn_is_a_new_connection() {
    // time-wait-reuse opens the same 4-tuple twice (RFC 6191): the second
    // SYN, with a higher ISN, starts connection 1, which is numbered from
    // its own ISN.
    let o = run("time-wait-reuse", 1);
    let keys = plot::connections(&o);
    assert!(keys.len() >= 2, "{keys:?}");
    let same_tuple = keys
        .iter()
        .filter(|k| (k.opener, k.peer) == (keys[0].opener, keys[0].peer))
        .count();
    assert!(same_tuple >= 2, "{keys:?}");
    let second = plot::conversation(&o, 1).expect("connection 1");
    assert!(
        second.data.iter().all(|d| d.from < 1 << 20),
        "relative to its own ISN"
    );
}
