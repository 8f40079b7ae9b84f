//! `tcpsim script`: the team's packetdrill suite passes, and every kind of
//! mismatch is reported as one message naming the file, the line, what
//! was expected and what the stack did.

use scenarios::script::run_text;
use std::path::PathBuf;

/// Every script under scenarios/scripts, subdirectories (the
/// state-by-segment matrix, one directory per state) included, sorted: the
/// same walk as `tcpsim script scenarios/scripts`.
fn suite() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    scenarios::cli::expand_scripts(&[dir]).expect("scenarios/scripts holds scripts")
}

#[test]
fn the_script_suite_passes_at_every_seed() {
    // Script numbers are relative to the ISNs, so the stack's keyed ISNs
    // (which change with the seed) must not change any verdict.
    let files = suite();
    assert!(files.len() >= 40, "only {} scripts", files.len());
    let mut failures = Vec::new();
    for seed in [1, 2, 0xdead_beef] {
        for f in &files {
            if let Err(e) = scenarios::script::run_file(f, seed) {
                failures.push(format!("seed {seed}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A listener that has completed a handshake and accepted fd 4.
const ACCEPTED: &str = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 <mss 1460>
+0.1  < . 1:1(0) ack 1 win 65535
+0    accept(3, ..., ...) = 4
";

fn fails(extra: &str) -> String {
    let text = format!("{ACCEPTED}{extra}");
    match run_text("t.pkt", &text, 1) {
        Ok(_) => panic!("the script passed:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_passing_prefix_passes() {
    // The shared prefix must pass on its own, or the mismatch tests below
    // would fail for the wrong reason.
    run_text("t.pkt", ACCEPTED, 1).unwrap();
}

#[test]
fn wrong_flags() {
    // close() sends FIN,ACK; the script claims RST,ACK.
    assert_eq!(
        fails("+0.3  close(4) = 0\n+0    > R. 1:1(0) ack 1\n"),
        "t.pkt:9: expected > R. 1:1(0) ack 1 at 0.400000, got > F. 1:1(0) ack 1 at 0.400000 (flags differ)"
    );
}

#[test]
fn wrong_sequence_number() {
    assert_eq!(
        fails("+0    write(4, ..., 10) = 10\n+0    > P. 2:12(10) ack 1\n"),
        "t.pkt:9: expected > P. 2:12(10) ack 1 at 0.100000, got > P. 1:11(10) ack 1 at 0.100000 (sequence number differs)"
    );
}

#[test]
fn wrong_time() {
    // The data leaves at 0.1, not 0.2; with no tolerance that is a mismatch.
    assert_eq!(
        fails("+0    write(4, ..., 10) = 10\n+0.1  > P. 1:11(10) ack 1\n"),
        "t.pkt:9: expected > P. 1:11(10) ack 1 at 0.200000, got > P. 1:11(10) ack 1 at 0.100000 (wrong time)"
    );
    // Within --tolerance_usecs the same script passes.
    let text = format!(
        "--tolerance_usecs=100000\n{ACCEPTED}+0    write(4, ..., 10) = 10\n+0.1  > P. 1:11(10) ack 1\n"
    );
    run_text("t.pkt", &text, 1).unwrap();
}

#[test]
fn missing_packet() {
    // Nothing is written, so nothing is sent.
    assert_eq!(
        fails("+0.1  > P. 1:11(10) ack 1\n"),
        "t.pkt:8: expected > P. 1:11(10) ack 1 at 0.200000, got nothing (no segment by 0.200000)"
    );
}

#[test]
fn unexpected_packet() {
    // The data segment goes out at 0.1 and no `>` line claims it before
    // the peer's next segment at 0.2.
    assert_eq!(
        fails("+0    write(4, ..., 10) = 10\n+0.1  < . 1:1(0) ack 11 win 65535\n"),
        "t.pkt:9: unexpected > P. 1:11(10) ack 1 win 64240 at 0.100000 (no > line expects it before this line)"
    );
    // ...and at the end of the script.
    assert_eq!(
        fails("+0    write(4, ..., 10) = 10\n"),
        "t.pkt:8: unexpected > P. 1:11(10) ack 1 win 64240 at 0.100000 (no > line expects it)"
    );
}

#[test]
fn wrong_errno() {
    // The peer resets: read reports ECONNRESET, not ETIMEDOUT.
    assert_eq!(
        fails(
            "+0.1  < R. 1:1(0) ack 1 win 0\n+0    read(4, ..., 10) = -1 ETIMEDOUT (Connection timed out)\n"
        ),
        "t.pkt:9: read: expected = -1 ETIMEDOUT, got = -1 ECONNRESET at 0.200000"
    );
    assert_eq!(
        fails("+0    write(4, ..., 10) = 9\n"),
        "t.pkt:8: write: expected = 9, got = 10 at 0.100000"
    );
}

#[test]
fn wrong_options() {
    assert_eq!(
        fails("+0    write(4, ..., 10) = 10\n+0    > P. 1:11(10) ack 1 <nop,nop,TS val 1 ecr 2>\n"),
        "t.pkt:9: expected > P. 1:11(10) ack 1 <nop,nop,TS val 1 ecr 2> at 0.100000, got > P. 1:11(10) ack 1 at 0.100000 (timestamps option differs)"
    );
}

#[test]
fn blocking_call_returns_late_or_never() {
    // A blocking read with no data must name the deadline it missed.
    assert_eq!(
        fails("+0    read(4, ..., 10) = 10\n+0.5  < P. 1:11(10) ack 1 win 65535\n"),
        "t.pkt:8: read: expected to return at 0.100000, still blocked at 0.600000"
    );
    // START...END: the read returns when the data arrives at 0.3, not 0.2.
    assert_eq!(
        fails("0.1...0.2 read(4, ..., 10) = 10\n0.3   < P. 1:11(10) ack 1 win 65535\n"),
        "t.pkt:8: read: expected to return at 0.200000, still blocked at 0.300000"
    );
    // With a relative start, END counts from the same base as START (the
    // previous event at 0.1), as packetdrill reads it: this read ends at 0.3.
    let text = format!(
        "{ACCEPTED}+0...0.2 read(4, ..., 10) = 10\n0.3   < P. 1:11(10) ack 1 win 65535\n+0    > . 1:1(0) ack 11\n"
    );
    run_text("t.pkt", &text, 1).unwrap();
}

#[test]
fn wrong_poll_revents() {
    // No data has arrived, so the connection is writable but not readable.
    assert_eq!(
        fails("+0    poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLIN|POLLOUT}], 1, 0) = 1\n"),
        "t.pkt:8: poll: expected revents POLLIN|POLLOUT for fd 4, got POLLOUT at 0.100000"
    );
    // A poll that times out returns 0 at its deadline, in virtual time.
    let text =
        format!("{ACCEPTED}+0...2 poll([{{fd=4, events=POLLIN, revents=0}}], 1, 2000) = 0\n");
    run_text("t.pkt", &text, 1).unwrap();
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = run_text("s.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.1 < S 0:0(0) win 65535 <mss 1460,bogus 3>\n", 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.pkt:2:36: unsupported TCP option \"bogus\" (supported: nop, eol, mss, wscale, sackOK, sack, TS val ecr)"
    );
    let e = run_text(
        "s.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n  0.1 < S 0:0(0) win 99999\n",
        1,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.pkt:3:22: window 99999 does not fit in 16 bits"
    );
    let e = run_text(
        "s.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0 setsockopt(3, SOL_SOCKET, SO_BOGUS, [1], 4) = 0\n",
        1,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("s.pkt:2: setsockopt: unsupported option SO_BOGUS"),
        "{e}"
    );
    let e = run_text("s.pkt", "0 frobnicate(3) = 0\n", 1).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("s.pkt:1: unsupported system call \"frobnicate\""),
        "{e}"
    );
}

#[test]
fn the_seed_notes_script_runs() {
    // The packetdrill script from the project's source notes
    // (../shared/seeds), written for Linux without `>` lines: every segment
    // our stack sends is unexpected, and the first is named.
    let text = "\
0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0.000 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
0.000 bind(3, ..., ...) = 0
0.000 listen(3, 1) = 0

0.100 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
0.100 > S. 0:0(0) ack 1<...>
0.200 < . 1:1(0) ack 1 win 257
0.200 accept(3, ..., ...) = 4
0.250 write(4, ..., 3000) = 3000
0.300 < . 1:1(0) ack 3001 win 257
";
    let e = run_text("seed.pkt", text, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "seed.pkt:11: unexpected > . 1:1461(1460) ack 1 win 502 at 0.250000 (no > line expects it before this line)"
    );
}

mod never_panics {
    use proptest::prelude::*;
    use scenarios::script::run_text;

    /// Pieces of the language, so random scripts get past the first token
    /// often enough to reach the runner.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n".to_string()),
            Just("+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n".to_string()),
            Just(
                "+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 14>\n"
                    .to_string()
            ),
            Just("+0 > S. 0:0(0) ack 1 <...>\n".to_string()),
            Just("+.1 < . 1:1(0) ack 1 win 0\n".to_string()),
            Just("* > . 1:1(0) ack 1\n".to_string()),
            Just("+0 accept(3, ..., ...) = 4\n".to_string()),
            Just(
                "+0...1 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLIN}], 1, -1) = 1\n"
                    .to_string()
            ),
            Just("+0 poll([{fd=9, events=POLLIN}, 7], 2, 0) = 0\n".to_string()),
            Just("+0...9 read(4, ..., 100) = 0\n".to_string()),
            Just("+0 write(4, ..., 67108864) = 67108864\n".to_string()),
            Just("0.1~0.05 close(4) = 0\n".to_string()),
            Just("+0 < FPRU. 4294967295:4294967294(4294967295) win 1\n".to_string()),
            Just(
                "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n".to_string()
            ),
            Just(
                "+0 < P. 1:65001(65000) ack 4294967295 win 65535 <sack 1:2 3:4 5:6 7:8>\n"
                    .to_string()
            ),
            "[ -~]{0,40}\n",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_text_is_an_error_or_a_pass_never_a_panic(text in "\\PC{0,200}") {
            // Why: a script is user input; the only acceptable outcomes are
            // a verdict or a message, so reaching the end proves the point.
            let _ = run_text("fuzz.pkt", &text, 1);
        }

        #[test]
        fn scripts_assembled_from_real_lines_never_panic(
            parts in proptest::collection::vec(fragment(), 0..12),
        ) {
            let text: String = parts.concat();
            if let Err(e) = run_text("fuzz.pkt", &text, 1) {
                prop_assert!(e.to_string().starts_with("fuzz.pkt:"), "{e}");
            }
        }
    }
}
