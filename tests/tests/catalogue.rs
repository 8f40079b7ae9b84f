//! One snapshot per catalogue scenario at a fixed seed: the RFC-style ladder
//! and the trace hash. A changed hash means the simulation changed; the
//! ladder diff shows how.

use scenarios::catalogue;
use tcpsim_tests::{SNAPSHOT_SEED, snapshot_text};

fn check(name: &str) {
    // The scenario must pass its oracles and its own expectation, and its
    // trace must match the reviewed snapshot line for line.
    let scenario = catalogue::find(name).expect("scenario exists");
    let outcome = scenario.run(SNAPSHOT_SEED).expect("runs within its budget");
    assert!(outcome.passed(), "{name}: {}", outcome.verdict());
    insta::assert_snapshot!(name, snapshot_text(name, &outcome));
}

#[test]
fn every_scenario_has_a_snapshot_test() {
    // Adding a scenario without a snapshot test below must fail here.
    let tested = [
        "handshake",
        "four-way-close",
        "three-way-close",
        "simultaneous-open",
        "simultaneous-close",
        "lost-final-ack",
        "old-duplicate-syn",
        "delayed-syn-after-close",
        "sequence-wraparound",
        "paws",
        "connection-refused",
        "rst-on-unread-close",
        "abort",
        "close-wait-abort",
        "half-close",
        "half-open",
        "half-open-keepalive",
        "blind-reset-attack",
        "time-wait-assassination",
        "time-wait-reuse",
        "syn-flood",
        "syn-flood-no-cookies",
        "zero-window",
        "lossy-bulk",
        "many-connections",
        "churn",
        "ecn-marking",
        "ecn-drop-tail",
        "fast-open",
        "tail-loss-rto",
        "tail-loss-tlp",
        "reordering-dupack",
        "reordering-rack",
    ];
    let names: Vec<&str> = catalogue::all().iter().map(|s| s.name).collect();
    assert_eq!(names, tested);
}

#[test]
fn handshake() {
    check("handshake");
}
#[test]
fn four_way_close() {
    check("four-way-close");
}
#[test]
fn three_way_close() {
    check("three-way-close");
}
#[test]
fn simultaneous_open() {
    check("simultaneous-open");
}
#[test]
fn simultaneous_close() {
    check("simultaneous-close");
}
#[test]
fn lost_final_ack() {
    check("lost-final-ack");
}
#[test]
fn old_duplicate_syn() {
    check("old-duplicate-syn");
}
#[test]
fn delayed_syn_after_close() {
    check("delayed-syn-after-close");
}
#[test]
fn sequence_wraparound() {
    check("sequence-wraparound");
}
#[test]
fn paws() {
    check("paws");
}
#[test]
fn connection_refused() {
    check("connection-refused");
}
#[test]
fn rst_on_unread_close() {
    check("rst-on-unread-close");
}
#[test]
fn abort() {
    check("abort");
}
#[test]
fn close_wait_abort() {
    check("close-wait-abort");
}
#[test]
fn half_close() {
    check("half-close");
}
#[test]
fn half_open() {
    check("half-open");
}
#[test]
fn half_open_keepalive() {
    check("half-open-keepalive");
}
#[test]
fn blind_reset_attack() {
    check("blind-reset-attack");
}
#[test]
fn time_wait_assassination() {
    check("time-wait-assassination");
}
#[test]
fn time_wait_reuse() {
    check("time-wait-reuse");
}
#[test]
fn syn_flood() {
    check("syn-flood");
}
#[test]
fn syn_flood_no_cookies() {
    check("syn-flood-no-cookies");
}
#[test]
fn zero_window() {
    check("zero-window");
}
#[test]
fn lossy_bulk() {
    check("lossy-bulk");
}

#[test]
fn lossy_bulk_passes_at_seeds_whose_random_draws_corrupt_nothing() {
    // At these seeds the link's 0.5% corruption never fires, so "corrupted
    // segments were caught by the checksum" used to fail with nothing to
    // catch. The scenario's fault rule now corrupts one data segment at
    // every seed, and the expectation counts the corrupted arrivals.
    let scenario = catalogue::find("lossy-bulk").unwrap();
    for seed in [
        530, 850, 1687, 1795, 2077, 2239, 2413, 2430, 2879, 3502, 3689, 3996, 4261, 4384, 4472,
        4530, 4644, 4703, 4723, 4895,
    ] {
        let outcome = scenario.run(seed).unwrap();
        assert!(outcome.passed(), "seed {seed}: {}", outcome.verdict());
        let malformed = outcome.host(0).malformed_count + outcome.host(1).malformed_count;
        assert!(malformed > 0, "seed {seed}: a corrupted segment was caught");
    }
}
#[test]
fn many_connections() {
    check("many-connections");
}
#[test]
fn churn() {
    check("churn");
}
#[test]
fn ecn_marking() {
    check("ecn-marking");
}
#[test]
fn ecn_drop_tail() {
    check("ecn-drop-tail");
}
#[test]
fn fast_open() {
    check("fast-open");
}
#[test]
fn tail_loss_rto() {
    check("tail-loss-rto");
}
#[test]
fn tail_loss_tlp() {
    check("tail-loss-tlp");
}
#[test]
fn reordering_dupack() {
    check("reordering-dupack");
}
#[test]
fn reordering_rack() {
    check("reordering-rack");
}
