//! Topologies a user shapes: star and dumbbell builders with per-spoke
//! overrides, links and nodes found by name, set-up linear in the number of
//! links, and bad topologies refused with an error.

mod common;

use common::{A, B, Sender, Sink};
use sim::topology::{self, DumbbellBuilder, Endpoint, Spoke, StarBuilder};
use sim::{Addr, Duration, LinkConfig, NodeId, Router, SimError, Time, World, WorldConfig};

/// When the packets `node` received arrived.
fn arrival_times(world: &World, node: NodeId) -> Vec<Time> {
    world
        .node::<Sink>(node)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.0)
        .collect()
}

#[test]
fn a_star_spoke_with_its_own_settings_carries_them() {
    // Every spoke is 1 Gbit/s with 1 ms delay, except the phone's: 40 ms
    // toward the phone. A 100-byte packet from the server crosses its own
    // spoke (1 ms + 800 ns) and the phone's (40 ms + 800 ns), so it arrives
    // at 41.0016 ms; had the override been ignored, at 2.0016 ms.
    let mut world = World::new(WorldConfig::new(1));
    let lan = LinkConfig::default();
    let phone_down = LinkConfig::new(1_000_000_000, Duration::from_millis(40));
    let star = StarBuilder::new(lan.clone())
        .hub("switch", Addr::new(10, 0, 0, 254))
        .leaf(Endpoint::new("server", A, Sender::new(B, 100)))
        .leaf_with(
            Endpoint::new("phone", B, Sink::default()),
            Spoke {
                up: lan,
                down: phone_down,
            },
        )
        .build(&mut world)
        .unwrap();
    world.wake_node_at(star.leaves[0], Time::ZERO, 1).unwrap();
    world.run_until_idle().unwrap();
    let expected = Time::from_millis(41) + Duration::from_nanos(1600);
    assert_eq!(arrival_times(&world, star.leaves[1]), vec![expected]);
    assert_eq!(world.node_by_name("switch"), Some(star.hub));
    assert_eq!(world.node_by_addr(B), Some(star.leaves[1]));
    assert_eq!(world.link_by_name("spoke-phone"), Some(star.spokes[1]));
    assert_eq!(world.link_by_name("spoke-nobody"), None);
}

#[test]
fn a_dumbbell_access_link_with_its_own_settings_carries_them() {
    // Two senders to one receiver over a 10 ms bottleneck; s2's access link
    // is 50 ms each way. s1's packet takes 1 + 10 + 1 ms (plus three
    // serializations), s2's 50 + 10 + 1 ms: the override adds exactly 49 ms.
    let mut world = World::new(WorldConfig::new(1));
    let rx = Addr::new(10, 2, 0, 1);
    let bottleneck = LinkConfig::new(1_000_000_000, Duration::from_millis(10));
    let slow_access = LinkConfig::new(1_000_000_000, Duration::from_millis(50));
    let d = DumbbellBuilder::new(LinkConfig::default(), bottleneck.clone(), bottleneck)
        .routers(
            ("left", Addr::new(10, 9, 0, 1)),
            ("right", Addr::new(10, 9, 0, 2)),
        )
        .sender(Endpoint::new(
            "s1",
            Addr::new(10, 1, 0, 1),
            Sender::new(rx, 100),
        ))
        .sender_with(
            Endpoint::new("s2", Addr::new(10, 1, 0, 2), Sender::new(rx, 100)),
            Spoke::symmetric(slow_access),
        )
        .receiver(Endpoint::new("r", rx, Sink::default()))
        .build(&mut world)
        .unwrap();
    world.wake_node_at(d.senders[0], Time::ZERO, 1).unwrap();
    world.wake_node_at(d.senders[1], Time::ZERO, 1).unwrap();
    world.run_until_idle().unwrap();
    let times = arrival_times(&world, d.receivers[0]);
    assert_eq!(times.len(), 2);
    assert_eq!(
        times[1].saturating_since(times[0]),
        Duration::from_millis(49)
    );
    assert_eq!(world.node_by_name("left"), Some(d.left));
    assert_eq!(world.link_by_name("access-s2"), Some(d.sender_access[1]));
    assert_eq!(world.link_by_name("access-r"), Some(d.receiver_access[0]));
    assert_eq!(world.link_by_name("bottleneck"), Some(d.bottleneck));
}

#[test]
fn the_plain_builders_still_place_everything_as_before() {
    // `topology::star` is the builder with every spoke alike: same hub
    // name and address, same link names, same ids.
    let mut world = World::new(WorldConfig::new(1));
    let star = topology::star(
        &mut world,
        vec![Endpoint::new("x", A, Router), Endpoint::new("y", B, Router)],
        LinkConfig::default(),
    )
    .unwrap();
    assert_eq!(world.node_name(star.hub), Some("hub"));
    assert_eq!(world.node_addr(star.hub), Some(Addr::new(10, 254, 0, 1)));
    assert_eq!(star.spokes[0], (sim::LinkId(0), sim::LinkId(1)));
    assert_eq!(world.link_name(star.spokes[1].1), Some("spoke-y:hub->y"));
}

#[test]
fn a_star_of_ten_thousand_spokes_builds_and_routes_end_to_end() {
    // 10,000 leaves around one hub. With name and address indexes each
    // node and link costs O(1) to add; the old scan of every link name made
    // this quadratic (3.6 s in the test profile, against 0.1 s now). The
    // first leaf's packet reaches the last leaf through the hub, and a
    // spoke in the middle is found by name.
    let count = 10_000u32;
    let mut world = World::new(WorldConfig::new(7));
    let first = Addr(u32::from_be_bytes([10, 1, 0, 0]) + 1);
    let last = Addr(first.0 + count - 1);
    let mut builder = StarBuilder::new(LinkConfig::default()).leaf(Endpoint::new(
        "leaf0",
        first,
        Sender::new(last, 100),
    ));
    for i in 1..count - 1 {
        builder = builder.leaf(Endpoint::new(format!("leaf{i}"), Addr(first.0 + i), Router));
    }
    let name_last = format!("leaf{}", count - 1);
    builder = builder.leaf(Endpoint::new(name_last, last, Sink::default()));
    let star = builder.build(&mut world).unwrap();
    assert_eq!(star.spokes.len(), count as usize);
    assert_eq!(
        world.link_by_name("spoke-leaf5000"),
        Some(star.spokes[5000])
    );
    world.wake_node_at(star.leaves[0], Time::ZERO, 1).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(
        arrival_times(&world, star.leaves[count as usize - 1]).len(),
        1
    );
}

#[test]
fn two_nodes_with_one_address_are_refused_naming_both() {
    // Routing by address cannot tell two such nodes apart.
    let mut world = World::new(WorldConfig::new(1));
    world.add_node("first", A, Router).unwrap();
    let err = world.add_node("second", A, Router).unwrap_err();
    assert_eq!(
        err,
        SimError::DuplicateAddress {
            addr: A,
            node: "second".into(),
            existing: "first".into(),
        }
    );
    assert!(err.to_string().contains("10.0.0.1"), "{err}");
    assert_eq!(world.node_count(), 1);
    // A builder hits the same check and returns it, never panics.
    let err = StarBuilder::new(LinkConfig::default())
        .hub("hub2", Addr::new(10, 254, 0, 2))
        .leaf(Endpoint::new("third", A, Router))
        .build(&mut world)
        .unwrap_err();
    assert!(matches!(err, SimError::DuplicateAddress { .. }), "{err}");
}

#[test]
fn a_link_to_a_missing_node_is_refused_naming_the_link() {
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Router).unwrap();
    let cfg = LinkConfig::default;
    let err = world
        .connect("nowhere", a, NodeId(7), cfg(), cfg())
        .unwrap_err();
    assert_eq!(
        err,
        SimError::LinkToUnknownNode {
            link: "nowhere".into(),
            node: 7
        }
    );
    assert_eq!(world.link_by_name("nowhere"), None);
}

#[test]
fn a_link_with_one_bad_direction_is_refused_whole() {
    // The reverse direction's loss is 1.5: the error names that direction,
    // and nothing was added, so the name is still free for a good link.
    // (Before, the forward direction stayed behind and the retry failed
    // with "already used".)
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Router).unwrap();
    let b = world.add_node("b", B, Router).unwrap();
    let bad = LinkConfig::default().with_loss(1.5);
    let err = world
        .connect("ab", a, b, LinkConfig::default(), bad)
        .unwrap_err();
    assert!(
        matches!(&err, SimError::InvalidLink { link, .. } if link == "ab:b->a"),
        "{err}"
    );
    assert!(err.to_string().contains("1.5"), "{err}");
    let zero_rate = LinkConfig::new(0, Duration::from_millis(1));
    assert!(
        world
            .connect("ab", a, b, zero_rate, LinkConfig::default())
            .is_err()
    );
    let good = LinkConfig::default;
    let ids = world.connect("ab", a, b, good(), good()).unwrap();
    assert_eq!(ids, (sim::LinkId(0), sim::LinkId(1)));
    let again = world.connect("ab", a, b, good(), good()).unwrap_err();
    assert_eq!(again, SimError::DuplicateName("ab".into()));
}
