//! `tcpsim fuzz`: the bounded count CI runs over both targets, the
//! reproduction of one iteration alone, and one-line errors for bad input.

use scenarios::fuzz::{self, Finding, Target};
use std::process::Command;

fn tcpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn twenty_thousand_wire_iterations_find_nothing() {
    // Every mutated datagram must parse or be refused without a panic,
    // with fields, checksums and round trip as the module doc states.
    let r = fuzz::run(Target::Wire, 1, 0, 20_000, |_| {}, 0);
    assert_eq!(r.map_err(|f| f.to_string()), Ok(20_000));
}

#[test]
fn five_thousand_endpoint_programs_find_nothing() {
    // Random calls, faults and forged segments in every state: no panic,
    // no runaway, every emitted segment legal, streams whole.
    let r = fuzz::run(Target::Endpoint, 1, 0, 5_000, |_| {}, 0);
    assert_eq!(r.map_err(|f| f.to_string()), Ok(5_000));
}

#[test]
fn a_finding_prints_the_command_that_runs_it_alone() {
    // The reproduction names target, seed and iteration, and running that
    // iteration alone makes the very input the run made.
    let f = Finding {
        target: Target::Endpoint,
        seed: 42,
        index: 1234,
        message: "side 0 emitted a datagram that does not parse".into(),
        input: Target::Endpoint.input(42, 1234),
    };
    assert_eq!(
        f.reproduce(),
        "tcpsim fuzz endpoint --seed 42 --skip 1234 --iterations 1"
    );
    assert!(
        f.to_string()
            .contains("(reproduce: tcpsim fuzz endpoint --seed 42 --skip 1234")
    );
    assert_eq!(Target::Endpoint.input(42, 1234), f.input);
}

#[test]
fn the_cli_prints_its_seed_and_runs_one_iteration_alone() {
    // Every run names its seed first; --skip K --iterations 1 runs K only.
    let (code, out, err) = tcpsim(&[
        "fuzz",
        "wire",
        "--seed",
        "7",
        "--skip",
        "99",
        "--iterations",
        "1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("fuzz wire: seed 7, iterations 99..100\n"),
        "{out}"
    );
    assert!(out.contains("1 iterations, no finding"), "{out}");
    let (code, out, _) = tcpsim(&["fuzz", "endpoint", "--iterations", "20"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("fuzz endpoint: seed 1, iterations 0..20\n"),
        "{out}"
    );
}

#[test]
fn bad_fuzz_arguments_are_one_line_errors_with_status_2() {
    // A malformed count, an unknown target, a bad seed, a range past the
    // last iteration number: one line on stderr, exit 2, nothing runs.
    for args in [
        vec!["fuzz", "wire", "--iterations", "abc"],
        vec!["fuzz", "wire", "--iterations", "-5"],
        vec!["fuzz", "parser"],
        vec!["fuzz"],
        vec!["fuzz", "endpoint", "--seed", "x1"],
        vec![
            "fuzz",
            "wire",
            "--skip",
            "18446744073709551615",
            "--iterations",
            "2",
        ],
    ] {
        let (code, out, err) = tcpsim(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: nothing runs: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("tcpsim: ") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}
