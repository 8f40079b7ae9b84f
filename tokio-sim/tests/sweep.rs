//! The key-value test of `common/kv.rs` as a sweepable scenario: a sweep
//! over seeds and fault profiles of a user's async test, with capsules.

mod common;

use common::kv;
use scenarios::capsule::ScenarioRef;
use scenarios::capsule::run::{Case, Verdict, capture, replay};
use scenarios::capsule::shrink::{Options, shrink};
use scenarios::catalogue::Scenario;
use scenarios::sweep::{Profile, Seeds, Sweep};

fn kv_test() -> Scenario {
    kv::scenario()
}

#[test]
fn the_kv_test_passes_every_seed_of_a_heavy_sweep_because_tcp_retransmits() {
    // 10-30% loss with bursts, duplication, reordering, jitter, corruption
    // and partitions of 1 to 5 s on every direction of both hosts' links,
    // for the first 60 s: every seed still gets all twenty answers right,
    // and no oracle finds a protocol fault. The runs are not trivially
    // short: the sweep's simulated time shows TCP waiting out the faults.
    let report = Sweep::new(vec![kv_test()], Seeds::new(1, 12).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(2)
        .run();
    assert!(report.passed(), "{:?}", report.failures);
    assert_eq!(report.summary.runs, 12);
    let mean = report.summary.simulated_ns as f64 / 12e9;
    assert!(
        mean > 1.0,
        "mean simulated time {mean} s: the faults did not bite"
    );
}

#[test]
fn a_swarm_sweep_finds_that_a_server_crash_loses_the_store() {
    // The swarm profile crashes one host in a third of its seeds. A crash
    // is never made on the client's host (its test body cannot restart),
    // so every crash the sweep reports is the server's; the in-memory
    // store goes with it, and a GET after it answers NONE. That is the
    // application's design (no durability), found by the sweep: every
    // failing seed had a server crash, and seeds without a crash pass.
    let report = Sweep::new(vec![kv_test()], Seeds::new(1, 30).unwrap())
        .faults("swarm", Profile::swarm())
        .jobs(2)
        .run();
    assert!(!report.failures.is_empty(), "no seed lost the store");
    for f in &report.failures {
        assert!(
            f.faults.contains("server crashes at"),
            "seed {} failed without a crash: {} ({})",
            f.seed,
            f.message,
            f.faults
        );
        assert_eq!(f.oracles, ["test"], "seed {}: {}", f.seed, f.message);
        assert!(f.message.contains("NONE"), "seed {}: {}", f.seed, f.message);
    }
    // Its capsule shrinks, and the crash (part of the seed's plan, not a
    // decision) is not enough alone: without packet faults the twenty
    // requests finish in milliseconds, long before the crash. What stays
    // is the few faults that stretch the workload past it; the shrunk
    // capsule still reproduces the lost store exactly.
    let failure = &report.failures[0];
    let case = Case {
        scenario: kv_test(),
        seed: failure.seed,
        profile: Profile::swarm(),
        expectations: false,
    };
    let capsule = capture(&case, ScenarioRef::Catalogue("kv".into()), "swarm")
        .unwrap()
        .expect("the failure happens again when recorded");
    let shrunk = shrink(
        &capsule,
        &case,
        Options {
            max_runs: 2_000,
            jobs: 2,
        },
    )
    .unwrap();
    assert!(!shrunk.truncated, "{} runs", shrunk.runs);
    assert!(
        !shrunk.capsule.decisions.is_empty()
            && shrunk.capsule.decisions.len() < capsule.decisions.len(),
        "{} decisions shrunk to {:?}",
        capsule.decisions.len(),
        shrunk.capsule.notes
    );
    eprintln!(
        "seed {}: {} decisions shrunk to {} ({:?}) in {} runs",
        failure.seed,
        capsule.decisions.len(),
        shrunk.capsule.decisions.len(),
        shrunk.capsule.notes,
        shrunk.runs
    );
    let replayed = replay(&shrunk.capsule, &case).unwrap();
    assert_eq!(
        replayed.verdict,
        Verdict::Reproduced,
        "{}",
        replayed.report(&shrunk.capsule)
    );
}

#[test]
fn a_simulation_without_a_client_is_each_seeds_run_failure() {
    // Bad input: a simulation without a client cannot run. The sweep
    // reports it as the run's failure (oracle `run`, with the reason),
    // for every seed, rather than panicking or passing.
    let empty = tcpsim_tokio::sweep::scenario("no-client", |sim| {
        sim.host("server", kv::server);
    });
    let report = Sweep::new(vec![empty], Seeds::new(1, 2).unwrap()).run();
    assert_eq!(report.failures.len(), 2);
    for f in &report.failures {
        assert_eq!(f.oracles, ["run"]);
        assert!(f.message.contains("client"), "{}", f.message);
    }
}

#[test]
fn the_users_own_command_line_sweeps_and_runs_the_async_test() {
    // A user's binary calls `scenarios::cli::main_with` with the test in
    // its catalogue (examples/kv_cli.rs); here the same command lines run
    // in-process. `sweep` over three heavy seeds passes (exit 0), and
    // `run` of one seed too; `--at`, which a test that ends when its body
    // returns cannot honour, is a clear failure rather than a wrong table.
    use clap::Parser as _;
    let mut catalogue = scenarios::catalogue::Catalogue::builtin();
    catalogue.add(kv_test()).unwrap();
    let run = |args: &[&str]| {
        let cli = scenarios::cli::Cli::try_parse_from(args).unwrap();
        scenarios::cli::run_cli(cli, &catalogue)
    };
    let sweep = [
        "tcpsim",
        "sweep",
        "--scenario",
        "kv",
        "--faults",
        "heavy",
        "--count",
        "3",
        "--jobs",
        "2",
    ];
    assert_eq!(run(&sweep), 0);
    assert_eq!(run(&["tcpsim", "run", "kv", "--seed", "5"]), 0);
    assert_ne!(
        run(&["tcpsim", "run", "kv", "--format", "ss", "--at", "1s"]),
        0
    );
}
