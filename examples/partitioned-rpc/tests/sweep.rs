//! A user's own oracle runs in a sweep under faults, not only in the
//! scenario's own conditions. `latency_oracle` says no request may take
//! longer than 10 s; with the scenario's 2 s partition alone every seed
//! meets it, but the `heavy` profile adds 10-30% loss, bursts and
//! partitions of seconds on every link, and RTO back-off (RFC 6298 §5.5)
//! then stretches some request past 10 s. The sweep must report that
//! failure under the user's oracle name, with a capsule that replays it.

use partitioned_rpc::scenario;
use scenarios::capsule::run::{Case, Verdict, capture, replay};
use scenarios::capsule::{Capsule, ScenarioRef};
use scenarios::sweep::{Profile, Seeds, Sweep};

#[test]
fn the_latency_oracle_fails_under_heavy_faults_and_the_capsule_replays_it() {
    // Without faults the user's scenario passes its oracle on every seed.
    let calm = Sweep::new(vec![scenario()], Seeds::new(1, 20).unwrap())
        .jobs(2)
        .run();
    assert!(calm.failures.is_empty(), "{:?}", calm.failures);
    // Under heavy faults some request waits longer than 10 s.
    let stormy = Sweep::new(vec![scenario()], Seeds::new(1, 60).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(2)
        .run();
    let slow = stormy
        .failures
        .iter()
        .find(|f| f.oracles.iter().any(|o| o == "latency"))
        .unwrap_or_else(|| {
            panic!(
                "no seed of 60 broke the latency oracle: {:?}",
                stormy.failures
            )
        });
    assert!(slow.message.contains("took"), "{}", slow.message);
    // Captured and replayed, the same user oracle fails again, exactly.
    let case = Case {
        scenario: scenario(),
        seed: slow.seed,
        profile: Profile::heavy(),
        expectations: false,
    };
    let capsule = capture(
        &case,
        ScenarioRef::Catalogue("partitioned-rpc".into()),
        "heavy",
    )
    .unwrap()
    .expect("the failure happens again when recorded");
    let back = Capsule::parse(&capsule.to_toml()).unwrap();
    let again = replay(&back, &case).unwrap();
    assert_eq!(
        again.verdict,
        Verdict::Reproduced,
        "{}",
        again.report(&back)
    );
    assert!(again.ran.fails("latency"), "{:?}", again.ran.failures);
}
