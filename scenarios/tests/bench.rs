//! `tcpsim bench`: each workload checks its own result before it prints a
//! figure, the figures that are functions of the seed repeat exactly, and
//! bad options are one-line errors with status 2.

use std::process::Command;

fn tcpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .output()
        .expect("tcpsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `bench-json` line's value for `key`, as text.
fn field(out: &str, key: &str) -> String {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("bench-json "))
        .expect("a bench-json line");
    let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    v[key].to_string()
}

#[test]
fn a_small_churn_answers_every_request_and_repeats_its_hash() {
    // W4 passes only if every one of the 300 connections got its 100-byte
    // reply and closed; a second run of the seed must be the same run.
    let (code, out, err) = tcpsim(&["bench", "W4", "--total", "300", "--seed", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(field(&out, "connections"), "300");
    assert_eq!(field(&out, "bytes_read"), "60000");
    // Handshake (3), request, reply with the server's FIN, the client's
    // FIN, its ACK: seven datagrams per connection, two with data.
    assert_eq!(field(&out, "segments_sent"), (7 * 300).to_string());
    assert_eq!(field(&out, "data_segments_sent"), (2 * 300).to_string());
    let (_, again, _) = tcpsim(&["bench", "W4", "--total", "300", "--seed", "5"]);
    assert_eq!(field(&out, "trace_hash"), field(&again, "trace_hash"));
}

#[test]
fn lossy_bulk_delivers_every_byte_through_retransmissions() {
    // W2 at 1% loss: the check (bytes read = bytes sent) passed, and the
    // loss cost retransmissions.
    let (code, out, err) = tcpsim(&["bench", "W2", "--bytes", "2000000"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(field(&out, "bytes_read"), "2000000");
    let retransmissions: u64 = field(&out, "retransmissions").parse().unwrap();
    assert!(retransmissions > 0, "{out}");
}

#[test]
fn bad_bench_options_are_one_line_errors_with_status_2() {
    // Each is refused before anything runs, with a line naming the option.
    for (args, says) in [
        (vec!["bench", "W9"], "unknown workload"),
        (vec!["bench", "W2", "--loss", "1.5"], "--loss"),
        (vec!["bench", "W4", "--total", "0"], "--total"),
        (vec!["bench", "W4", "--msl", "0ms"], "--msl"),
        (vec!["bench", "W4", "--msl", "5"], "--msl"),
        (vec!["bench", "W3", "--flows", "0"], "--flows"),
        (
            vec!["bench", "scale", "--connections", "0"],
            "--connections",
        ),
    ] {
        let (code, out, err) = tcpsim(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}
