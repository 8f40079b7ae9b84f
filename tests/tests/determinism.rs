//! The same seed gives the same trace: run to run, and at any thread count.

use scenarios::catalogue;
use scenarios::cli::run_all;

#[test]
fn every_scenario_replays_identically() {
    // Two runs of each scenario must agree on every trace event: the
    // first-divergence report is empty and the hashes match.
    for scenario in catalogue::all() {
        let a = scenario.run(7).unwrap();
        let b = scenario.run(7).unwrap();
        if let Some(d) = sim::first_divergence(a.world.trace().events(), b.world.trace().events()) {
            panic!(
                "{} diverges between two runs at seed 7:\n{d}",
                scenario.name
            );
        }
        assert_eq!(a.stats.trace_hash, b.stats.trace_hash, "{}", scenario.name);
    }
}

#[test]
fn thread_count_does_not_change_any_hash() {
    // The catalogue run on one thread and on two must produce the same rows:
    // nothing a scenario computes may depend on scheduling.
    let one: Vec<(String, u64)> = run_all(11, 1)
        .into_iter()
        .map(|r| (r.name.to_string(), r.hash))
        .collect();
    let two: Vec<(String, u64)> = run_all(11, 2)
        .into_iter()
        .map(|r| (r.name.to_string(), r.hash))
        .collect();
    assert_eq!(one, two);
}

#[test]
fn different_seeds_give_different_traces() {
    // Random ISNs (RFC 6528, keyed by the seed) alone make every trace
    // seed-specific.
    let s = catalogue::find("handshake").unwrap();
    assert_ne!(
        s.run(1).unwrap().stats.trace_hash,
        s.run(2).unwrap().stats.trace_hash
    );
}
