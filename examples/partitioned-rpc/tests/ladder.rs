//! The example scenario as its author would test it: it passes its own
//! expectation and oracle at a fixed seed, its ladder is a reviewed
//! snapshot, and the `tcpsim` command line runs it by name.

use clap::Parser;
use scenarios::catalogue::Catalogue;
use scenarios::cli::{Cli, run_command};
use scenarios::render::{self, Numbering};

#[test]
fn the_partition_delays_one_response_and_every_request_is_answered() {
    // Passing means all four answers arrived, one after waiting out the
    // 2 s partition, with the server's retransmissions in the ladder.
    let outcome = partitioned_rpc::scenario().run(1).expect("runs");
    assert!(outcome.passed(), "{}", outcome.verdict());
    let ladder = render::ladder(&outcome, Numbering::Relative);
    assert!(
        ladder.contains("X dropped: link down"),
        "the partition shows"
    );
    insta::assert_snapshot!("partitioned-rpc", ladder);
}

#[test]
fn the_command_line_runs_the_users_scenario_beside_the_built_in_ones() {
    // `tcpsim run partitioned-rpc` over the extended catalogue reports a
    // pass, and a second scenario with the same name is refused.
    let mut catalogue = Catalogue::builtin();
    catalogue.add(partitioned_rpc::scenario()).unwrap();
    assert!(catalogue.find("handshake").is_some());
    let cli = Cli::try_parse_from(["tcpsim", "run", "partitioned-rpc", "--seed", "3"]).unwrap();
    let mut out = Vec::new();
    assert_eq!(run_command(cli, &catalogue, &mut out).ok(), Some(true));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("partitioned-rpc: seed 3"), "{text}");
    assert!(text.trim_end().ends_with("verdict pass"), "{text}");
    let again = catalogue.add(partitioned_rpc::scenario());
    assert!(again.unwrap_err().contains("partitioned-rpc"));
}
