//! The link model: exact serialization and propagation timing, drop-tail
//! queue limits, statistical loss, bursty loss, partitions, duplication,
//! reordering, jitter and corruption.

mod common;

use common::{A, B, Sender, Sink};
use sim::{
    Corruption, DropReason, Duration, EventKind, GilbertElliott, Jitter, LinkConfig, Reorder,
    SimError, Time, TraceMode, World, WorldConfig,
};

fn pair(
    seed: u64,
    mode: TraceMode,
    a_to_b: LinkConfig,
    size: usize,
) -> (World, sim::NodeId, sim::NodeId) {
    let mut config = WorldConfig::new(seed);
    config.trace = mode;
    let mut world = World::new(config);
    let a = world.add_node("a", A, Sender::new(B, size)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    world
        .connect("ab", a, b, a_to_b, LinkConfig::default())
        .unwrap();
    (world, a, b)
}

#[test]
fn a_1500_byte_packet_over_1_gbit_and_5_ms_arrives_at_5_012_ms() {
    // 1500 bytes * 8 / 1e9 bit/s = 12 us of serialization plus 5 ms of
    // propagation: any rounding or off-by-one in the model shows here.
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(5));
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 1500);
    world.wake_node_at(a, Time::ZERO, 1).unwrap();
    world.run_until_idle().unwrap();
    let arrivals = &world.node::<common::Sink>(b).unwrap().arrivals;
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].0, Time::from_micros(5_012));
    assert_eq!(arrivals[0].0.to_string(), "0.005012s");
}

#[test]
fn back_to_back_packets_queue_behind_each_other() {
    // Three packets sent at once leave one serialization time apart.
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(5));
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 1500);
    world.wake_node_at(a, Time::ZERO, 3).unwrap();
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
            Time::from_micros(5_012),
            Time::from_micros(5_024),
            Time::from_micros(5_036)
        ]
    );
}

#[test]
fn queue_overflow_drops_with_reason() {
    // A 4-packet queue offered 10 packets at once keeps 4 (one in
    // serialization plus three waiting) and drops 6 as "queue full".
    let link = LinkConfig::new(1_000_000, Duration::from_millis(1)).with_queue_packets(4);
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 1000);
    world.wake_node_at(a, Time::ZERO, 10).unwrap();
    world.run_until_idle().unwrap();
    let delivered: Vec<u32> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(delivered, vec![0, 1, 2, 3]);
    let queue_drops = world
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Drop(DropReason::QueueFull))
        .count();
    assert_eq!(queue_drops, 6);
}

#[test]
fn byte_limited_queue_counts_bytes() {
    // 2500 bytes of queue hold two 1000-byte packets, not three.
    let mut link = LinkConfig::new(1_000_000, Duration::from_millis(1)).with_queue_bytes(2500);
    link.queue_packets_max = None;
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 1000);
    world.wake_node_at(a, Time::ZERO, 5).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(world.node::<Sink>(b).unwrap().arrivals.len(), 2);
}

#[test]
fn loss_rate_at_one_percent_is_within_five_sigma() {
    // Binomial(100000, 0.01): mean 1000, sigma = sqrt(n p (1-p)) ~ 31.5. A
    // biased draw (wrong comparison, wrong range) lands far outside 5 sigma.
    let n = 100_000u64;
    let p = 0.01;
    let mut link = LinkConfig::new(100_000_000_000, Duration::from_micros(1)).with_loss(p);
    link.queue_packets_max = None;
    let (mut world, a, _) = pair(11, TraceMode::HashOnly, link, 64);
    world.wake_node_at(a, Time::ZERO, n).unwrap();
    world.run_until_idle().unwrap();
    let lost = world.link_stats(sim::LinkId(0)).unwrap().dropped_loss as f64;
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (lost - mean).abs() < 5.0 * sigma,
        "lost {lost}, expected {mean} +- {}",
        5.0 * sigma
    );
}

#[test]
fn gilbert_elliott_bursts_have_the_configured_mean_length() {
    // With loss only in the bad state (probability 1) and bad->good = 0.25,
    // bursts of consecutive losses are geometric with mean 1/0.25 = 4. The
    // sample mean over ~1000 bursts has a standard error near 0.11, so 3.5..4.5
    // fails an independent-loss model (mean burst ~1.0) by a wide margin.
    let mut link = LinkConfig::new(100_000_000_000, Duration::from_micros(1));
    link.queue_packets_max = None;
    link.gilbert_elliott = Some(GilbertElliott {
        good_to_bad: 0.01,
        bad_to_good: 0.25,
        loss_good: 0.0,
        loss_bad: 1.0,
    });
    let n = 200_000u32;
    let (mut world, a, b) = pair(5, TraceMode::HashOnly, link, 8);
    world.wake_node_at(a, Time::ZERO, u64::from(n)).unwrap();
    world.run_until_idle().unwrap();
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    let mut bursts = Vec::new();
    let mut expected = 0u32;
    for &(_, index, _) in arrivals {
        if index > expected {
            bursts.push(index - expected);
        }
        expected = index + 1;
    }
    let mean = bursts.iter().map(|&x| f64::from(x)).sum::<f64>() / bursts.len() as f64;
    assert!(bursts.len() > 500, "too few bursts: {}", bursts.len());
    assert!((3.5..4.5).contains(&mean), "mean burst {mean}");
}

#[test]
fn a_partition_drops_packets_sent_while_down() {
    // Packets sent inside [10 ms, 20 ms) are dropped as "link down";
    // those before and after get through.
    let mut link = LinkConfig::new(1_000_000_000, Duration::from_micros(100));
    link.down = vec![(Time::from_millis(10), Time::from_millis(20))];
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 100);
    for ms in [5, 12, 19, 25] {
        world.wake_node_at(a, Time::from_millis(ms), 1).unwrap();
    }
    world.run_until_idle().unwrap();
    let delivered: Vec<u32> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(delivered, vec![0, 3]);
    let down_drops = world
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Drop(DropReason::LinkDown))
        .count();
    assert_eq!(down_drops, 2);
}

#[test]
fn duplication_delivers_a_copy_right_after_the_original() {
    // With duplicate = 1 every packet arrives twice, the copy right behind.
    let link = LinkConfig::default().with_duplicate(1.0);
    let (mut world, a, b) = pair(1, TraceMode::default(), link, 100);
    world.wake_node_at(a, Time::ZERO, 3).unwrap();
    world.run_until_idle().unwrap();
    let order: Vec<u32> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(order, vec![0, 0, 1, 1, 2, 2]);
}

#[test]
fn reordering_lets_later_packets_overtake() {
    // Half the packets get 10 ms extra: arrival order must differ from
    // sending order, and nothing may be lost.
    let link = LinkConfig::default().with_reorder(Reorder {
        probability: 0.5,
        extra_delay: Duration::from_millis(10),
    });
    let (mut world, a, b) = pair(3, TraceMode::default(), link, 100);
    world.wake_node_at(a, Time::ZERO, 50).unwrap();
    world.run_until_idle().unwrap();
    let order: Vec<u32> = world
        .node::<Sink>(b)
        .unwrap()
        .arrivals
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(order.len(), 50);
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "no reordering: {order:?}"
    );
}

#[test]
fn uniform_jitter_stays_within_its_bounds() {
    // Every one-way delay must fall in [delay + serialization + min, ... + max].
    let mut link = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
    link.jitter = Some(Jitter::Uniform {
        min: Duration::from_micros(100),
        max: Duration::from_micros(300),
    });
    let (mut world, a, b) = pair(4, TraceMode::default(), link, 125);
    for i in 0..200 {
        world.wake_node_at(a, Time::from_millis(i * 10), 1).unwrap();
    }
    world.run_until_idle().unwrap();
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    assert_eq!(arrivals.len(), 200);
    let mut distinct = std::collections::BTreeSet::new();
    for &(t, index, _) in arrivals {
        let one_way = t.as_nanos() - u64::from(index) * 10_000_000;
        // 125 bytes at 1 Gbit/s = 1 us of serialization.
        assert!(
            (1_101_000..=1_301_000).contains(&one_way),
            "one-way {one_way} ns"
        );
        distinct.insert(one_way);
    }
    assert!(distinct.len() > 100, "jitter must actually vary");
}

#[test]
fn exponential_jitter_is_capped() {
    // The exponential tail is truncated at max: no packet may exceed it.
    let mut link = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
    link.jitter = Some(Jitter::Exponential {
        mean: Duration::from_millis(1),
        max: Duration::from_millis(2),
    });
    let (mut world, a, b) = pair(4, TraceMode::default(), link, 125);
    for i in 0..500 {
        world.wake_node_at(a, Time::from_millis(i * 10), 1).unwrap();
    }
    world.run_until_idle().unwrap();
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    let capped = arrivals
        .iter()
        .filter(|&&(t, i, _)| t.as_nanos() - u64::from(i) * 10_000_000 == 3_001_000)
        .count();
    for &(t, i, _) in arrivals {
        assert!(t.as_nanos() - u64::from(i) * 10_000_000 <= 3_001_000);
    }
    // P(X > 2 mean) = e^-2 ~ 13.5%: about 68 of 500 hit the cap.
    assert!((30..120).contains(&capped), "capped {capped}");
}

#[test]
fn corruption_flips_bits_and_still_delivers() {
    // Every packet arrives, each differing from what was sent in exactly the
    // bit positions the trace's corruption event names.
    let link = LinkConfig::default().with_corruption(Corruption {
        probability: 1.0,
        bits: 1,
    });
    let (mut world, a, b) = pair(8, TraceMode::default(), link, 64);
    world.wake_node_at(a, Time::ZERO, 20).unwrap();
    world.run_until_idle().unwrap();
    let arrivals = &world.node::<Sink>(b).unwrap().arrivals;
    assert_eq!(arrivals.len(), 20);
    let corruptions: Vec<&Vec<u32>> = world
        .trace()
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Corrupt(bits) => Some(bits),
            _ => None,
        })
        .collect();
    assert_eq!(corruptions.len(), 20);
    for (arrival, bits) in arrivals.iter().zip(&corruptions) {
        // Rebuild what was sent: index in the first 4 bytes (possibly the
        // flipped bit is there), 0xab after. Count differing bits.
        let mut sent = arrival.2.clone();
        for &bit in bits.iter() {
            sent[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
        }
        assert!(
            sent[4..].iter().all(|&x| x == 0xab),
            "flipping back the traced bits restores the payload"
        );
    }
}

#[test]
fn invalid_settings_are_errors_not_panics() {
    // A probability above 1 or a zero rate must be rejected with a message
    // that names the field.
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sink::default()).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let err = world
        .connect(
            "ab",
            a,
            b,
            LinkConfig::default().with_loss(1.5),
            LinkConfig::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("loss = 1.5"), "{err}");
    let zero_rate = LinkConfig::new(0, Duration::ZERO);
    let err = world
        .connect("ab2", a, b, zero_rate, LinkConfig::default())
        .unwrap_err();
    assert!(matches!(err, SimError::InvalidLink { .. }), "{err}");
    assert!(matches!(
        world.add_node("a", A, Sink::default()),
        Err(SimError::DuplicateName(_))
    ));
    assert!(matches!(
        world.wake_node_at(sim::NodeId(99), Time::ZERO, 0),
        Err(SimError::UnknownNode(99))
    ));
}

#[test]
fn a_corruption_of_more_bits_than_any_datagram_has_is_refused_not_run() {
    // Flipping u32::MAX bits per packet would stall the run for minutes per
    // packet; the link's and the fault rule's bit counts are both bounded
    // by the bits of the largest IPv4 datagram and refused beyond it.
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sink::default()).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let huge = sim::Corruption {
        probability: 1.0,
        bits: u32::MAX,
    };
    let noisy = LinkConfig::default().with_corruption(huge);
    let err = world
        .connect("ab", a, b, noisy, LinkConfig::default())
        .unwrap_err();
    assert!(err.to_string().contains("corruption.bits"), "{err}");
    let (ab, _) = world
        .connect("ab", a, b, LinkConfig::default(), LinkConfig::default())
        .unwrap();
    let rule = sim::FaultRule::new(
        "flip everything",
        |_| true,
        sim::FaultAction::Corrupt { bits: u32::MAX },
    );
    let err = world.add_fault(ab, rule).unwrap_err();
    assert!(matches!(err, SimError::InvalidFault { .. }), "{err}");
    let most = sim::link::CORRUPTION_BITS_MAX;
    let rule = sim::FaultRule::new(
        "flip a lot",
        |_| true,
        sim::FaultAction::Corrupt { bits: most },
    );
    assert!(world.add_fault(ab, rule).is_ok());
}

#[test]
fn uniform_jitter_over_the_whole_range_draws_instead_of_overflowing() {
    // `min = 0, max = u64::MAX ns` makes the span's "+ 1" overflow: the
    // draw must still happen (and the packet arrive, saturating at the end
    // of time), not panic.
    let mut world = World::new(WorldConfig::new(1));
    let a = world.add_node("a", A, Sender::new(B, 100)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let wild = LinkConfig::default().with_jitter(sim::Jitter::Uniform {
        min: Duration::ZERO,
        max: Duration::from_nanos(u64::MAX),
    });
    world
        .connect("ab", a, b, wild, LinkConfig::default())
        .unwrap();
    world.wake_node_at(a, Time::ZERO, 3).unwrap();
    world.run_until_idle().unwrap();
    assert_eq!(world.node::<Sink>(b).unwrap().arrivals.len(), 3);
}
