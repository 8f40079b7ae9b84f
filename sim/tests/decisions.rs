//! Recorded fault decisions: recording changes nothing, replaying the full
//! list gives the same run, and leaving one decision out removes exactly
//! that fault and shifts no other.

mod common;

use common::{A, B, Sender, Sink};
use sim::decisions::{Decision, DecisionError, Fault};
use sim::{
    Corruption, Duration, FaultAction, FaultRule, GilbertElliott, Jitter, LinkConfig, Reorder,
    Time, World, WorldConfig,
};

/// Every random impairment at once, plus a rule that corrupts every 7th
/// packet and one that drops the 5th.
fn hostile() -> LinkConfig {
    LinkConfig::new(10_000_000, Duration::from_millis(2))
        .with_loss(0.1)
        .with_gilbert_elliott(GilbertElliott {
            good_to_bad: 0.05,
            bad_to_good: 0.4,
            loss_good: 0.0,
            loss_bad: 0.5,
        })
        .with_duplicate(0.05)
        .with_reorder(Reorder {
            probability: 0.1,
            extra_delay: Duration::from_millis(3),
        })
        .with_jitter(Jitter::Uniform {
            min: Duration::ZERO,
            max: Duration::from_micros(500),
        })
        .with_corruption(Corruption {
            probability: 0.05,
            bits: 2,
        })
}

fn world(seed: u64) -> (World, sim::NodeId, sim::NodeId) {
    let mut world = World::new(WorldConfig::new(seed));
    let a = world.add_node("a", A, Sender::new(B, 200)).unwrap();
    let b = world.add_node("b", B, Sink::default()).unwrap();
    let (ab, _) = world
        .connect("ab", a, b, hostile(), LinkConfig::default())
        .unwrap();
    world
        .add_fault(
            ab,
            FaultRule::new(
                "every 7th",
                |p| u32::from_be_bytes(p.bytes[..4].try_into().unwrap()) % 7 == 6,
                FaultAction::Corrupt { bits: 1 },
            ),
        )
        .unwrap();
    world
        .add_fault(
            ab,
            FaultRule::new("5th", |_| true, FaultAction::Drop).nth(5),
        )
        .unwrap();
    (world, a, b)
}

/// Runs 300 packets from a to b at seed 7, recording or replaying.
fn run(replay: Option<&[Decision]>) -> (World, sim::NodeId) {
    let (mut w, a, b) = world(7);
    match replay {
        Some(list) => w.replay_decisions(list).unwrap(),
        None => w.record_decisions(),
    }
    for i in 0..300 {
        w.wake_node_at(a, Time::from_micros(100 * i), 1).unwrap();
    }
    w.run_until_idle().unwrap();
    (w, b)
}

fn arrivals(w: &World, b: sim::NodeId) -> Vec<(Time, u32, Vec<u8>)> {
    w.node::<Sink>(b).unwrap().arrivals.clone()
}

#[test]
fn recording_draws_exactly_as_an_unrecorded_run() {
    // Recording only writes down what the RNG decided: the trace hash of
    // a recorded run equals that of the same run without recording.
    let (mut plain, a, _) = world(7);
    for i in 0..300 {
        plain
            .wake_node_at(a, Time::from_micros(100 * i), 1)
            .unwrap();
    }
    plain.run_until_idle().unwrap();
    let (recorded, _) = run(None);
    assert_eq!(plain.trace().hash(), recorded.trace().hash());
    let list = recorded.recorded_decisions();
    // Every kind happened at this seed, so each is covered below.
    for kind in [
        "loss",
        "burst-loss",
        "duplicate",
        "reorder",
        "jitter",
        "corrupt",
        "rule",
    ] {
        assert!(
            list.iter().any(|d| d.fault.kind() == kind),
            "no {kind} decision in {} decisions",
            list.len()
        );
    }
    assert!(plain.recorded_decisions().is_empty());
}

#[test]
fn replaying_the_full_list_gives_the_same_run() {
    // The list stands in for the RNG: replayed in full, every event and
    // every captured byte is the same, so the hash is the same.
    let (recorded, b1) = run(None);
    let list = recorded.recorded_decisions();
    let (replayed, b2) = run(Some(&list));
    assert_eq!(recorded.trace().hash(), replayed.trace().hash());
    assert_eq!(arrivals(&recorded, b1), arrivals(&replayed, b2));
}

#[test]
fn replaying_text_forms_gives_the_same_run() {
    // Capsules store decisions as text: parsing what Display wrote must
    // replay the run exactly too.
    let (recorded, _) = run(None);
    let list: Vec<Decision> = recorded
        .recorded_decisions()
        .iter()
        .map(|d| d.to_string().parse().unwrap())
        .collect();
    let (replayed, _) = run(Some(&list));
    assert_eq!(recorded.trace().hash(), replayed.trace().hash());
}

#[test]
fn leaving_one_loss_out_delivers_that_packet_and_changes_nothing_else() {
    // Removing one decision must not shift any other: the packets the
    // sender emits do not depend on what arrives, so with one loss left
    // out the arrivals are the recorded ones plus exactly that packet.
    let (recorded, b) = run(None);
    let list = recorded.recorded_decisions();
    let before = arrivals(&recorded, b);
    let lost = list
        .iter()
        .position(|d| d.fault == Fault::Loss)
        .expect("a loss at this seed");
    let ordinal = list[lost].packet;
    let mut fewer = list.clone();
    fewer.remove(lost);
    let (replayed, b2) = run(Some(&fewer));
    let after = arrivals(&replayed, b2);
    assert_eq!(after.len(), before.len() + 1);
    let new: Vec<_> = after.iter().filter(|x| !before.contains(x)).collect();
    assert_eq!(new.len(), 1, "only the packet no longer lost is new");
    // Packet i is the (i+1)th offered to the direction.
    assert_eq!(u64::from(new[0].1) + 1, ordinal);
}

#[test]
fn an_empty_list_is_a_run_without_faults() {
    // "Only these faults happen": with none listed, all 300 packets
    // arrive, uncorrupted, in order, once.
    let (replayed, b) = run(Some(&[]));
    let got = arrivals(&replayed, b);
    assert_eq!(got.len(), 300);
    assert!(got.iter().enumerate().all(|(i, x)| x.1 == i as u32));
    assert!(
        got.iter()
            .all(|x| x.2[4..].iter().all(|&byte| byte == 0xab))
    );
    assert_eq!(replayed.faults(sim::LinkId(0))[1].fired_count(), 0);
}

#[test]
fn a_list_for_another_world_is_refused() {
    // A capsule for a different topology must be an error naming the
    // decision, not a silent run without faults.
    let (mut w, _, _) = world(1);
    let wrong: Decision = "xy:x->y #1 loss".parse().unwrap();
    let err = w.replay_decisions(&[wrong]).unwrap_err();
    assert!(matches!(err, DecisionError::UnknownLink { .. }));
    assert!(err.to_string().contains("ab:a->b"), "{err}");
    let rule: Decision = "ab:a->b #1 rule 9".parse().unwrap();
    let err = w.replay_decisions(&[rule]).unwrap_err();
    assert!(err.to_string().contains("fault rule"), "{err}");
}
