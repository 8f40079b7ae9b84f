//! Same seed, same trace; different seed, different trace; and each
//! component's randomness independent of every other component.

mod common;

use common::{A, B, Sender, Sink};
use sim::{
    Addr, Duration, EventKind, LinkConfig, NodeId, Time, TraceMode, World, WorldConfig,
    first_divergence,
};

fn lossy_run(seed: u64, mode: TraceMode) -> World {
    let mut config = WorldConfig::new(seed);
    config.trace = mode;
    let mut world = World::new(config);
    let a = world.add_node("a", A, Sender::new(B, 200)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let mut link = LinkConfig::new(10_000_000, Duration::from_millis(2)).with_loss(0.1);
    link.duplicate = 0.02;
    world.connect("ab", a, b, link.clone(), link).unwrap();
    for i in 0..50 {
        world.wake_node_at(a, Time::from_millis(i), 4).unwrap();
    }
    world.run_until_idle().unwrap();
    world
}

#[test]
fn same_seed_gives_the_same_trace_hash() {
    // Two independent runs must agree on every event; equal hashes and no
    // divergence over the kept events show nothing outside the seed leaks in.
    let first = lossy_run(42, TraceMode::default());
    let second = lossy_run(42, TraceMode::default());
    assert_eq!(first.trace().hash(), second.trace().hash());
    assert_eq!(
        first_divergence(first.trace().events(), second.trace().events()),
        None
    );
    assert!(
        first.trace().len() > 200,
        "the run must actually do something"
    );
}

#[test]
fn hash_is_the_same_with_or_without_kept_events() {
    // Sweeps run hash-only; their hashes must match a full run's so a
    // failing seed from a sweep reproduces with a full trace.
    let full = lossy_run(9, TraceMode::default());
    let hash_only = lossy_run(9, TraceMode::HashOnly);
    assert_eq!(full.trace().hash(), hash_only.trace().hash());
    assert!(hash_only.trace().events().is_empty());
}

#[test]
fn different_seeds_give_different_hashes_under_loss() {
    // With 10% loss over 200 packets, two seeds producing the same drop
    // pattern is astronomically unlikely, so equal hashes would mean the
    // seed is ignored.
    let hashes: Vec<u64> = (1..=5)
        .map(|s| lossy_run(s, TraceMode::HashOnly).trace().hash())
        .collect();
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            assert_ne!(
                hashes[i],
                hashes[j],
                "seeds {} and {} collide",
                i + 1,
                j + 1
            );
        }
    }
}

fn loss_pattern(world: &World, sink: NodeId) -> Vec<u32> {
    world
        .node::<Sink>(sink)
        .unwrap()
        .arrivals
        .iter()
        .map(|a| a.1)
        .collect()
}

#[test]
fn adding_a_link_does_not_change_another_links_draws() {
    // Streams are keyed by (seed, label), not creation order: the a->b loss
    // pattern must be identical whether or not another lossy link, created
    // first, draws from its own stream during the run.
    let build = |with_extra: bool| {
        let mut world = World::new(WorldConfig::new(7));
        if with_extra {
            let c = world
                .add_node(
                    "c",
                    Addr::new(10, 0, 0, 3),
                    Sender::new(Addr::new(10, 0, 0, 4), 100),
                )
                .unwrap();
            let d = world
                .add_node("d", Addr::new(10, 0, 0, 4), Sink::default())
                .unwrap();
            let lossy = LinkConfig::default().with_loss(0.3);
            world.connect("cd", c, d, lossy.clone(), lossy).unwrap();
            world.wake_node_at(c, Time::ZERO, 500).unwrap();
        }
        let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
        let b = world.add_node("b", B, Sink::default()).unwrap();
        let lossy = LinkConfig::default().with_loss(0.2);
        world.connect("ab", a, b, lossy.clone(), lossy).unwrap();
        world.wake_node_at(a, Time::ZERO, 500).unwrap();
        world.run_until_idle().unwrap();
        loss_pattern(&world, b)
    };
    let alone = build(false);
    let beside_another = build(true);
    assert!(
        alone.len() < 500 && alone.len() > 300,
        "loss must actually happen"
    );
    assert_eq!(alone, beside_another);
}

#[test]
fn first_divergence_points_at_the_first_differing_event() {
    // Seeds 1 and 2 differ in their first random draw; the report must name
    // an index where the events really differ, with everything before equal.
    let left = lossy_run(1, TraceMode::default());
    let right = lossy_run(2, TraceMode::default());
    let d = first_divergence(left.trace().events(), right.trace().events()).expect("runs differ");
    let (l, r) = (left.trace().events(), right.trace().events());
    assert_eq!(l[..d.index], r[..d.index]);
    assert_ne!(l.get(d.index), r.get(d.index));
    let report = d.to_string();
    assert!(report.contains(&format!("event #{}", d.index)), "{report}");
    assert!(
        report.contains("left:") && report.contains("right:"),
        "{report}"
    );
}

#[test]
fn first_divergence_reports_a_trace_that_ends_early() {
    // A prefix of a trace differs from the whole trace exactly where it ends.
    let run = lossy_run(3, TraceMode::default());
    let events = run.trace().events();
    let d = first_divergence(&events[..10], events).unwrap();
    assert_eq!(d.index, 10);
    assert!(d.left.is_none());
    assert_eq!(d.right.as_ref(), Some(&events[10]));
    assert!(d.to_string().contains("(trace ended)"));
}

#[test]
fn every_packet_is_accounted_for_in_the_trace() {
    // Each send ends in exactly one drop or one delivery (plus deliveries of
    // duplicates): counting kinds proves no packet vanishes untraced.
    let run = lossy_run(5, TraceMode::default());
    let count =
        |f: fn(&EventKind) -> bool| run.trace().events().iter().filter(|e| f(&e.kind)).count();
    let sends = count(|k| matches!(k, EventKind::Send));
    let drops = count(|k| matches!(k, EventKind::Drop(_)));
    let dups = count(|k| matches!(k, EventKind::Duplicate));
    let delivered = count(|k| matches!(k, EventKind::Deliver));
    assert_eq!(sends, 200);
    assert_eq!(sends + dups, drops + delivered);
}
