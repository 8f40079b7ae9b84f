//! The event queue and run loop: FIFO at equal times, timer cancellation,
//! the event budget, targeted faults, and routing through topologies.

mod common;

use common::{A, B, Sender, Sink};
use sim::topology::{self, Endpoint};
use sim::{
    Addr, Ctx, DropReason, Duration, EventKind, FaultAction, FaultRule, LinkConfig, Node, Packet,
    SimError, Time, TimerId, World, WorldConfig,
};

/// Records the tokens it is woken with, in order.
#[derive(Default)]
struct Recorder {
    tokens: Vec<u64>,
    to_cancel: Option<TimerId>,
}

impl Node for Recorder {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        self.tokens.push(token);
        if token == 0 {
            // Schedule two wakes at the same instant, then cancel the second.
            ctx.wake_at(Time::from_millis(5), 1);
            self.to_cancel = Some(ctx.wake_at(Time::from_millis(5), 2));
            ctx.wake_at(Time::from_millis(5), 3);
            let id = self.to_cancel.unwrap();
            ctx.cancel(id);
        }
    }
}

#[test]
fn events_at_equal_times_run_in_the_order_scheduled() {
    // 100 wakes all at t = 1 ms, scheduled with tokens 0..100: a heap that
    // ordered only by time would shuffle them.
    let mut world = World::new(WorldConfig::new(1));
    let r = world.add_node("r", A, Recorder::default()).unwrap();
    for token in 100..200 {
        world.wake_node_at(r, Time::from_millis(1), token).unwrap();
    }
    world.run_until_idle().unwrap();
    assert_eq!(
        world.node::<Recorder>(r).unwrap().tokens,
        (100..200).collect::<Vec<_>>()
    );
}

#[test]
fn a_cancelled_timer_never_fires() {
    // Token 2 was cancelled after being scheduled between 1 and 3 at the
    // same instant: only 1 and 3 may follow 0.
    let mut world = World::new(WorldConfig::new(1));
    let r = world.add_node("r", A, Recorder::default()).unwrap();
    world.wake_node_at(r, Time::ZERO, 0).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(world.node::<Recorder>(r).unwrap().tokens, vec![0, 1, 3]);
}

/// Wakes itself forever.
struct Forever;
impl Node for Forever {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        let next = ctx.now() + Duration::from_millis(1);
        ctx.wake_at(next, token);
    }
}

#[test]
fn exceeding_the_event_budget_is_an_error_naming_seed_and_count() {
    // A node that reschedules itself forever would hang run_until_idle; the
    // budget turns that into an error a user can reproduce from.
    let mut config = WorldConfig::new(1234);
    config.event_budget = 1000;
    let mut world = World::new(config);
    let f = world.add_node("f", A, Forever).unwrap();
    world.wake_node_at(f, Time::ZERO, 0).unwrap();
    let err = world.run_until_idle().unwrap_err();
    assert_eq!(
        err,
        SimError::BudgetExceeded {
            seed: 1234,
            events: 1000
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("seed 1234") && message.contains("1000 events"),
        "{message}"
    );
}

#[test]
fn run_until_stops_at_the_deadline() {
    // Events after the deadline stay queued; the clock reads the deadline.
    let mut world = World::new(WorldConfig::new(1));
    let f = world.add_node("f", A, Forever).unwrap();
    world.wake_node_at(f, Time::ZERO, 0).unwrap();
    let stats = world.run_until(Time::from_millis(10)).unwrap();
    assert_eq!(stats.processed_count, 11);
    assert_eq!(world.now(), Time::from_millis(10));
    assert_eq!(world.next_event_time(), Some(Time::from_millis(11)));
}

fn faulted_pair(rule: FaultRule) -> (World, sim::NodeId) {
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let (ab, _) = world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    world.add_fault(ab, rule).unwrap();
    for i in 0..5 {
        world.wake_node_at(a, Time::from_millis(i * 10), 1).unwrap();
    }
    world.run_until_idle().unwrap();
    (world, b)
}

fn arrival_order(world: &World, b: sim::NodeId) -> Vec<(Time, u32)> {
    world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| (x.0, x.1))
        .collect()
}

#[test]
fn a_rule_for_the_nth_match_fires_exactly_once() {
    // "Drop the 3rd packet": packet 2 (0-based) is missing, every other one
    // arrives, and the trace names the rule.
    let (world, b) = faulted_pair(FaultRule::new("drop third", |_| true, FaultAction::Drop).nth(3));
    let order: Vec<u32> = arrival_order(&world, b).iter().map(|x| x.1).collect();
    assert_eq!(order, vec![0, 1, 3, 4]);
    assert!(
        world
            .trace()
            .events()
            .iter()
            .any(|e| e.kind == EventKind::Drop(DropReason::FaultRule(0)))
    );
    assert_eq!(world.faults(sim::LinkId(0))[0].fired_count(), 1);
}

#[test]
fn a_duplicate_rule_delivers_a_late_copy() {
    // The delayed old duplicate: packet 0 is delivered on time and again
    // 100 ms later, after every other packet.
    let rule = FaultRule::new(
        "old dup",
        |p| p.bytes[3] == 0,
        FaultAction::Duplicate(Duration::from_millis(100)),
    );
    let (world, b) = faulted_pair(rule);
    let order: Vec<u32> = arrival_order(&world, b).iter().map(|x| x.1).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4, 0]);
    let late = arrival_order(&world, b)[5].0;
    assert_eq!(
        late,
        arrival_order(&world, b)[0].0 + Duration::from_millis(100)
    );
}

#[test]
fn a_delay_rule_holds_back_only_its_packet() {
    // Delaying packet 1 by 25 ms puts it after packets 2 and 3 (sent 10 and
    // 20 ms later) but before packet 4.
    let rule = FaultRule::new(
        "delay one",
        |p| p.bytes[3] == 1,
        FaultAction::Delay(Duration::from_millis(25)),
    );
    let (world, b) = faulted_pair(rule);
    let order: Vec<u32> = arrival_order(&world, b).iter().map(|x| x.1).collect();
    assert_eq!(order, vec![0, 2, 3, 1, 4]);
}

#[test]
fn a_corrupt_rule_changes_the_packet_it_matches() {
    // Packet 4's payload differs from what was sent; the others are intact.
    let rule = FaultRule::new(
        "corrupt last",
        |p| p.bytes[3] == 4,
        FaultAction::Corrupt { bits: 3 },
    );
    let (world, b) = faulted_pair(rule);
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    assert_eq!(arrivals.len(), 5);
    for (i, a) in arrivals.iter().enumerate().take(4) {
        assert_eq!(a.1, i as u32);
        assert!(a.2[4..].iter().all(|&x| x == 0xab));
    }
    let last = &arrivals[4].2;
    let pristine = {
        let mut v = 4u32.to_be_bytes().to_vec();
        v.resize(100, 0xab);
        v
    };
    assert_ne!(last, &pristine);
}

#[test]
fn a_corrupt_rule_flips_exactly_its_bits_on_a_link_that_also_corrupts() {
    // The link corrupts every packet (one bit each) and a rule corrupts
    // packet 2 (one bit). Packet 2 must carry the rule's one flip and no
    // second one from the link: two flips can cancel in the Internet
    // checksum, so "one corrupted segment" must mean exactly one flip.
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let noisy = LinkConfig::default().with_corruption(sim::Corruption {
        probability: 1.0,
        bits: 1,
    });
    let (ab, _) = world
        .connect("ab", a, b, noisy, LinkConfig::default())
        .unwrap();
    let rule = FaultRule::new(
        "corrupt packet 2",
        |p| p.bytes[3] == 2,
        FaultAction::Corrupt { bits: 1 },
    );
    world.add_fault(ab, rule).unwrap();
    for i in 0..5 {
        world.wake_node_at(a, Time::from_millis(i * 10), 1).unwrap();
    }
    world.run_until_idle().unwrap();
    let flips: Vec<usize> = world
        .trace()
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Corrupt(bits) => Some(bits.len()),
            _ => None,
        })
        .collect();
    assert_eq!(flips, vec![1; 5], "one corruption of one bit per packet");
    assert_eq!(world.faults(ab)[0].fired_count(), 1);
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    assert_eq!(arrivals.len(), 5);
    for a in arrivals {
        // (A flip in the 4-byte index changes the index, not the payload.)
        let differing: u32 = a.2[4..].iter().map(|&x| (x ^ 0xab).count_ones()).sum();
        assert!(
            differing <= 1,
            "packet {} has {differing} payload flips",
            a.1
        );
    }
}

#[test]
fn a_dumbbell_routes_each_sender_to_its_receiver_through_the_bottleneck() {
    // Two senders, two receivers: every packet must cross the bottleneck
    // exactly once and reach the receiver it was addressed to.
    let mut world = World::new(WorldConfig::new(1));
    let rx = [Addr::new(10, 2, 0, 1), Addr::new(10, 2, 0, 2)];
    let senders = vec![
        Endpoint::new("s1", Addr::new(10, 1, 0, 1), Sender::new(rx[0], 100)),
        Endpoint::new("s2", Addr::new(10, 1, 0, 2), Sender::new(rx[1], 100)),
    ];
    let receivers = vec![
        Endpoint::new("r1", rx[0], Sink::default()),
        Endpoint::new("r2", rx[1], Sink::default()),
    ];
    let bottleneck = LinkConfig::new(10_000_000, Duration::from_millis(10));
    let d = topology::dumbbell(
        &mut world,
        senders,
        receivers,
        LinkConfig::default(),
        bottleneck.clone(),
        bottleneck,
    )
    .unwrap();
    world.wake_node_at(d.senders[0], Time::ZERO, 3).unwrap();
    world.wake_node_at(d.senders[1], Time::ZERO, 5).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(
        world.node::<Sink>(d.receivers[0]).unwrap().arrivals.len(),
        3
    );
    assert_eq!(
        world.node::<Sink>(d.receivers[1]).unwrap().arrivals.len(),
        5
    );
    assert_eq!(world.link_stats(d.bottleneck.0).unwrap().delivered, 8);
}

#[test]
fn a_star_hub_forwards_between_leaves() {
    // Leaf 0 sends to leaf 2 through the hub; leaf 1 sees nothing.
    let mut world = World::new(WorldConfig::new(1));
    let addrs = [
        Addr::new(10, 3, 0, 1),
        Addr::new(10, 3, 0, 2),
        Addr::new(10, 3, 0, 3),
    ];
    let leaves = vec![
        Endpoint::new("l0", addrs[0], Sender::new(addrs[2], 100)),
        Endpoint::new("l1", addrs[1], Sink::default()),
        Endpoint::new("l2", addrs[2], Sink::default()),
    ];
    let star = topology::star(&mut world, leaves, LinkConfig::default()).unwrap();
    world.wake_node_at(star.leaves[0], Time::ZERO, 4).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(
        world.node::<Sink>(star.leaves[2]).unwrap().arrivals.len(),
        4
    );
    assert!(
        world
            .node::<Sink>(star.leaves[1])
            .unwrap()
            .arrivals
            .is_empty()
    );
}

#[test]
fn a_packet_with_no_route_is_dropped_with_that_reason() {
    // A node with no links has nowhere to send: the trace says "no route".
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 10)).unwrap();
    world.wake_node_at(a, Time::ZERO, 1).unwrap();
    world.run_until_idle().unwrap();
    assert!(
        world
            .trace()
            .events()
            .iter()
            .any(|e| e.kind == EventKind::Drop(DropReason::NoRoute))
    );
}
