//! Runtime network control: partition and repair, hold and release, new
//! rate, delay and loss, made at a time, from a node's callback, or by a
//! fault rule as it fires; fault rules limited to time windows.
//!
//! Every test sends numbered packets from `a` to `b` (packet i carries i in
//! its first 4 bytes) and reads back which arrived, when, and why the others
//! were dropped.

mod common;

use common::{A, B, Sender, Sink};
use sim::{
    Ctx, DropReason, Duration, EventKind, FaultAction, FaultRule, LinkChange, LinkConfig, LinkId,
    Node, NodeId, Packet, SimError, Time, TraceMode, World, WorldConfig,
};

/// `a` and `b` on one default duplex link (1 Gbit/s, 1 ms) named `ab`.
fn pair(seed: u64) -> (World, NodeId, NodeId, (LinkId, LinkId)) {
    let mut world = World::new(WorldConfig::new(seed));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let link = world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    (world, a, b, link)
}

/// `a` sends one packet every 10 ms, starting at 0, `count` in all.
fn send_every_10_ms(world: &mut World, a: NodeId, count: u64) {
    for i in 0..count {
        world.wake_node_at(a, Time::from_millis(i * 10), 1).unwrap();
    }
}

/// The packet indices `b` received, in order.
fn received(world: &World, b: NodeId) -> Vec<u32> {
    world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.1)
        .collect()
}

/// The indices of the packets dropped for `reason`, in trace order.
fn dropped(world: &World, reason: DropReason) -> Vec<u32> {
    world
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Drop(reason))
        .map(|e| u32::from_be_bytes(e.bytes[..4].try_into().unwrap()))
        .collect()
}

/// Every link change in the trace: `(time, direction, change)`.
fn changes(world: &World) -> Vec<(Time, LinkId, LinkChange)> {
    world
        .trace()
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::LinkChange(c) => Some((e.time, e.link.unwrap(), c)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_partition_at_a_time_drops_what_is_sent_until_the_repair() {
    // Packets leave at 0, 10, 20, 30, 40 ms; the link is cut at 5 ms and
    // repaired at 25 ms. Exactly packets 1 and 2 were sent into the cut, so
    // they alone are dropped as "link down", and the trace shows the cut
    // and the repair on both directions at their times.
    let (mut world, a, b, ab) = pair(1);
    send_every_10_ms(&mut world, a, 5);
    world
        .change_link_at(Time::from_millis(5), ab, LinkChange::Partition)
        .unwrap();
    world
        .change_link_at(Time::from_millis(25), ab, LinkChange::Repair)
        .unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![0, 3, 4]);
    assert_eq!(dropped(&world, DropReason::LinkDown), vec![1, 2]);
    assert_eq!(
        changes(&world),
        vec![
            (Time::from_millis(5), ab.0, LinkChange::Partition),
            (Time::from_millis(5), ab.1, LinkChange::Partition),
            (Time::from_millis(25), ab.0, LinkChange::Repair),
            (Time::from_millis(25), ab.1, LinkChange::Repair),
        ]
    );
}

#[test]
fn a_packet_in_flight_when_the_partition_starts_is_lost_on_arrival() {
    // Packet 0 leaves at 0 and would arrive at ~1 ms; the cut at 0.5 ms
    // catches it on the wire, so it is dropped at its arrival time, at b.
    let (mut world, a, b, ab) = pair(1);
    send_every_10_ms(&mut world, a, 1);
    world
        .change_link_at(Time::from_micros(500), ab, LinkChange::Partition)
        .unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), Vec::<u32>::new());
    let drop = world
        .trace()
        .events()
        .iter()
        .find(|e| e.kind == EventKind::Drop(DropReason::LinkDown))
        .unwrap();
    assert_eq!(drop.node, b);
    assert!(drop.time > Time::from_millis(1));
}

#[test]
fn cutting_one_direction_leaves_the_other_flowing() {
    // Only b -> a is cut: a's packets still reach b, b's replies do not
    // reach a. (b's sender is a second `Sender` node on the same link.)
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world.add_node("b", B, Sender::new(A, 100)).unwrap();
    let (ab, ba) = world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    world.change_link(ba, LinkChange::Partition).unwrap();
    world.wake_node_at(a, Time::ZERO, 3).unwrap();
    world.wake_node_at(b, Time::ZERO, 3).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(world.link_stats(ab).unwrap().delivered, 3);
    assert_eq!(world.link_stats(ba).unwrap().delivered, 0);
    assert_eq!(world.link_stats(ba).unwrap().dropped_down, 3);
    assert_eq!(world.link_is_down(ab), Some(false));
    assert_eq!(world.link_is_down(ba), Some(true));
}

#[test]
fn held_packets_wait_and_arrive_in_order_at_the_release() {
    // The link is held from the start and released at 100 ms. Five packets
    // (0..40 ms) reach b's end while held: none is lost, none arrives before
    // 100 ms, and all five arrive at exactly 100 ms in the order sent. A
    // packet sent after the release arrives normally, after them.
    let (mut world, a, b, ab) = pair(1);
    world.change_link(ab, LinkChange::Hold).unwrap();
    send_every_10_ms(&mut world, a, 5);
    world
        .change_link_at(Time::from_millis(100), ab, LinkChange::Release)
        .unwrap();
    world.wake_node_at(a, Time::from_millis(100), 1).unwrap();
    world.run_until(Time::from_millis(99)).unwrap();
    assert_eq!(received(&world, b), Vec::<u32>::new());
    assert_eq!(world.link_held_count(ab.0), Some(5));
    world.run_until_idle().unwrap();
    let arrivals: Vec<(Time, u32)> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| (x.0, x.1))
        .collect();
    let release = Time::from_millis(100);
    assert_eq!(
        arrivals[..5],
        [
            (release, 0),
            (release, 1),
            (release, 2),
            (release, 3),
            (release, 4)
        ]
    );
    assert_eq!(arrivals[5].1, 5);
    assert!(arrivals[5].0 > release);
    assert_eq!(world.link_stats(ab.0).unwrap().held, 5);
    assert_eq!(world.link_held_count(ab.0), Some(0));
}

#[test]
fn a_packet_arriving_at_the_release_instant_waits_behind_the_held_ones() {
    // Packet 0 is held; packet 1 is sent so that it arrives at exactly the
    // release time. Its delivery was scheduled before the release, yet it
    // must not overtake packet 0, which reached b first.
    let (mut world, a, b, ab) = pair(1);
    world.change_link(ab, LinkChange::Hold).unwrap();
    world.wake_node_at(a, Time::ZERO, 1).unwrap();
    world.run_until(Time::from_millis(5)).unwrap();
    // Packet 1 sent at 5 ms arrives at 5 ms + 800 ns + 1 ms.
    world.wake_node_at(a, Time::from_millis(5), 1).unwrap();
    let arrival = Time::from_millis(6) + Duration::from_nanos(800);
    world
        .change_link_at(arrival, ab, LinkChange::Release)
        .unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![0, 1]);
}

#[test]
fn a_node_cuts_the_link_from_its_own_callback() {
    // b cuts the link (by name, through its context) when the third packet
    // arrives: packets 0..2 arrive, the seven sent later are dropped.
    struct CutAfterThree {
        seen_count: u32,
    }
    impl Node for CutAfterThree {
        fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
            ctx.recycle(packet);
            self.seen_count += 1;
            if self.seen_count == 3 {
                let link = ctx.link_by_name("ab").unwrap();
                ctx.change_link(link, LinkChange::Partition).unwrap();
                ctx.note("b: three is enough, cutting the link");
            }
        }
        fn on_wake(&mut self, _ctx: &mut Ctx<'_>, _token: u64) {}
    }
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world
        .add_node("b", B, CutAfterThree { seen_count: 0 })
        .unwrap();
    let (ab, _) = world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    send_every_10_ms(&mut world, a, 10);
    world.run_until_idle().unwrap();
    assert_eq!(world.node::<CutAfterThree>(b).unwrap().seen_count, 3);
    assert_eq!(world.link_stats(ab).unwrap().dropped_down, 7);
    assert_eq!(
        dropped(&world, DropReason::LinkDown),
        (3..10).collect::<Vec<_>>()
    );
}

#[test]
fn a_node_schedules_a_repair_from_its_callback() {
    // a cuts its own link at start-up and asks for the repair 25 ms later:
    // packets at 0, 10, 20 ms are lost, 30 and 40 ms get through.
    struct CutThenSend {
        inner: Sender,
    }
    impl Node for CutThenSend {
        fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
            ctx.recycle(packet);
        }
        fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
            if ctx.now() == Time::ZERO && self.inner.next_index == 0 {
                let link = ctx.link_by_name("ab").unwrap();
                ctx.change_link(link, LinkChange::Partition).unwrap();
                let repair = ctx.now() + Duration::from_millis(25);
                ctx.change_link_at(repair, link, LinkChange::Repair)
                    .unwrap();
            }
            self.inner.on_wake(ctx, token);
        }
    }
    let mut world = World::new(WorldConfig::new(1));
    let a = world
        .add_node(
            "a",
            A,
            CutThenSend {
                inner: Sender::new(B, 100),
            },
        )
        .unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    send_every_10_ms(&mut world, a, 5);
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![3, 4]);
    assert_eq!(dropped(&world, DropReason::LinkDown), vec![0, 1, 2]);
}

#[test]
fn a_fault_rule_that_fires_holds_the_link_from_its_packet_on() {
    // "When packet 2 passes, hold the link": packets 0 and 1 arrive on
    // time; packet 2 (the one the rule fired on) and every later one wait
    // until the release at 200 ms, then arrive in order. The rule itself
    // lets its packet through (PASS), so nothing is dropped.
    let (mut world, a, b, ab) = pair(1);
    let rule = FaultRule::named("hold from packet 2", |p| p.bytes[3] == 2, FaultAction::PASS)
        .then_change(ab.0, LinkChange::Hold);
    world.add_fault(ab.0, rule).unwrap();
    send_every_10_ms(&mut world, a, 5);
    world
        .change_link_at(Time::from_millis(200), ab.0, LinkChange::Release)
        .unwrap();
    world.run_until(Time::from_millis(150)).unwrap();
    assert_eq!(received(&world, b), vec![0, 1]);
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![0, 1, 2, 3, 4]);
    let late = &world.node::<Sink>(b).unwrap().arrivals[2..];
    assert!(late.iter().all(|x| x.0 == Time::from_millis(200)));
    assert_eq!(world.faults(ab.0)[0].fired_count(), 1);
}

#[test]
fn rate_delay_and_loss_change_for_the_packets_offered_afterwards() {
    // At 15 ms the delay goes from 1 ms to 30 ms; at 35 ms the loss goes to
    // 1 (every packet lost). Packets 0 and 1 (sent at 0, 10 ms) take 1 ms,
    // packets 2 and 3 (20, 30 ms) take 30 ms, packet 4 (40 ms) is lost on
    // the wire, and the settings read back as changed.
    let (mut world, a, b, ab) = pair(1);
    send_every_10_ms(&mut world, a, 5);
    let delay = Duration::from_millis(30);
    world
        .change_link_at(Time::from_millis(15), ab.0, LinkChange::SetDelay { delay })
        .unwrap();
    world
        .change_link_at(
            Time::from_millis(35),
            ab.0,
            LinkChange::SetLoss { loss: 1.0 },
        )
        .unwrap();
    world.run_until_idle().unwrap();
    let serialization = Duration::from_nanos(800); // 100 bytes at 1 Gbit/s
    let arrivals: Vec<(Time, u32)> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| (x.0, x.1))
        .collect();
    assert_eq!(
        arrivals,
        vec![
            (Time::from_millis(1) + serialization, 0),
            (Time::from_millis(11) + serialization, 1),
            (Time::from_millis(50) + serialization, 2),
            (Time::from_millis(60) + serialization, 3),
        ]
    );
    assert_eq!(dropped(&world, DropReason::Loss), vec![4]);
    let config = world.link_config(ab.0).unwrap();
    assert_eq!((config.delay, config.loss), (delay, 1.0));
}

#[test]
fn a_new_rate_changes_the_serialization_time_of_later_packets() {
    // At 8 Mbit/s a 1,000-byte packet takes 1 ms to serialize; at 80
    // Mbit/s, 0.1 ms. Packet 0 goes before the change, packet 1 after.
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 1000)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let slow = LinkConfig::new(8_000_000, Duration::from_millis(1));
    let (ab, _) = world.connect("ab", a, b, slow.clone(), slow).unwrap();
    world.wake_node_at(a, Time::ZERO, 1).unwrap();
    world
        .change_link_at(
            Time::from_millis(5),
            ab,
            LinkChange::SetRate {
                rate_bps: 80_000_000,
            },
        )
        .unwrap();
    world.wake_node_at(a, Time::from_millis(10), 1).unwrap();
    world.run_until_idle().unwrap();
    let times: Vec<Time> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(
        times,
        vec![
            Time::from_millis(2),
            Time::from_millis(11) + Duration::from_micros(100)
        ]
    );
}

#[test]
fn impossible_changes_are_errors_and_change_nothing() {
    // A zero rate, a loss outside [0, 1] (or not a number) and a link that
    // does not exist are each refused with an error naming the link, at
    // once or when scheduled, and the link keeps its settings.
    let (mut world, _a, _b, ab) = pair(1);
    let bad = [
        LinkChange::SetRate { rate_bps: 0 },
        LinkChange::SetLoss { loss: 1.5 },
        LinkChange::SetLoss { loss: -0.1 },
        LinkChange::SetLoss { loss: f64::NAN },
    ];
    for change in bad {
        let now = world.change_link(ab, change).unwrap_err();
        assert!(
            matches!(&now, SimError::InvalidLink { link, .. } if link == "ab:a->b"),
            "{now}"
        );
        let later = world
            .change_link_at(Time::from_millis(1), ab, change)
            .unwrap_err();
        assert_eq!(now, later);
    }
    let missing = world
        .change_link(LinkId(99), LinkChange::Partition)
        .unwrap_err();
    assert_eq!(missing, SimError::UnknownLink(99));
    assert_eq!(world.link_config(ab.0), Some(&LinkConfig::default()));
    assert!(changes(&world).is_empty());
    assert_eq!(world.next_event_time(), None);
}

#[test]
fn network_changes_are_deterministic_and_reach_the_trace_hash() {
    // The same run twice gives the same hash; the same run plus a change
    // that alters no packet's fate (setting the delay it already has) gives
    // a different hash, because the change itself is a trace event; and
    // the hash-only mode agrees with the kept trace.
    let run = |with_change: bool, mode: TraceMode| {
        let mut config = WorldConfig::new(9);
        config.trace = mode;
        let mut world = World::new(config);
        let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
        let b = world.add_node("b", B, Sink::default()).unwrap();
        let lossy = LinkConfig::default().with_loss(0.3);
        let ab = world.connect("ab", a, b, lossy.clone(), lossy).unwrap();
        send_every_10_ms(&mut world, a, 20);
        world
            .change_link_at(Time::from_millis(50), ab, LinkChange::Partition)
            .unwrap();
        world
            .change_link_at(Time::from_millis(120), ab, LinkChange::Repair)
            .unwrap();
        if with_change {
            let delay = Duration::from_millis(1);
            world
                .change_link_at(Time::from_millis(150), ab, LinkChange::SetDelay { delay })
                .unwrap();
        }
        world.run_until_idle().unwrap().trace_hash
    };
    let full = TraceMode::default();
    assert_eq!(run(false, full), run(false, full));
    assert_ne!(run(false, full), run(true, full));
    assert_eq!(run(true, full), run(true, TraceMode::HashOnly));
}

#[test]
fn a_rule_active_in_a_window_fires_only_on_packets_sent_inside_it() {
    // "Drop everything sent in [15 ms, 35 ms)": packets 2 and 3 (20, 30 ms)
    // are dropped by the rule; packet 1 (10 ms, before) and packet 4 (40
    // ms, after) get through.
    let (mut world, a, b, ab) = pair(1);
    let rule = FaultRule::named("blackout", |_| true, FaultAction::Drop)
        .active_from(Time::from_millis(15))
        .active_until(Time::from_millis(35));
    world.add_fault(ab.0, rule).unwrap();
    send_every_10_ms(&mut world, a, 5);
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![0, 1, 4]);
    assert_eq!(dropped(&world, DropReason::FaultRule(0)), vec![2, 3]);
}

#[test]
fn the_nth_match_counts_only_packets_inside_the_window() {
    // "Drop the 2nd packet sent after 25 ms": the packets after 25 ms are 3
    // and 4, so packet 4 is dropped, not packet 1.
    let (mut world, a, b, ab) = pair(1);
    let rule = FaultRule::new("second after 25 ms", |_| true, FaultAction::Drop)
        .active_from(Time::from_millis(25))
        .nth(2);
    world.add_fault(ab.0, rule).unwrap();
    send_every_10_ms(&mut world, a, 5);
    world.run_until_idle().unwrap();
    assert_eq!(received(&world, b), vec![0, 1, 2, 3]);
}

#[test]
fn fault_rules_that_could_never_work_are_refused_when_added() {
    // An empty window and a rule whose change has an impossible value are
    // errors at add_fault, naming the rule, not surprises when it fires.
    let (mut world, _a, _b, ab) = pair(1);
    let empty = FaultRule::named("never", |_| true, FaultAction::Drop)
        .active_from(Time::from_millis(10))
        .active_until(Time::from_millis(10));
    let err = world.add_fault(ab.0, empty).unwrap_err();
    assert!(
        matches!(&err, SimError::InvalidFault { rule, .. } if rule == "never"),
        "{err}"
    );
    let zero_rate = FaultRule::named("stall", |_| true, FaultAction::PASS)
        .then_change(ab, LinkChange::SetRate { rate_bps: 0 });
    let err = world.add_fault(ab.0, zero_rate).unwrap_err();
    assert!(
        err.to_string().contains("stall") && err.to_string().contains("rate_bps"),
        "{err}"
    );
    let elsewhere = FaultRule::named("cut another", |_| true, FaultAction::PASS)
        .then_change(LinkId(42), LinkChange::Partition);
    assert!(world.add_fault(ab.0, elsewhere).is_err());
    assert!(world.faults(ab.0).is_empty());
}

#[test]
fn a_rule_keeps_its_name_for_renderers_only_when_built_named() {
    // `named` rules are shown by name; `new` rules keep their label for
    // debugging and are shown by position, as before.
    let named = FaultRule::named("drop the final ACK", |_| true, FaultAction::Drop);
    let labelled = FaultRule::new("drop the final ACK", |_| true, FaultAction::Drop);
    assert_eq!(named.shown_name(), Some("drop the final ACK"));
    assert_eq!(labelled.shown_name(), None);
    assert_eq!(labelled.name(), "drop the final ACK");
}
