//! `tcpsim script`: the team's packetdrill suite passes, and every kind of
//! mismatch is reported as one message naming the file, the line, what
//! was expected and what the stack did.

use scenarios::script::{Options, Profile, Report, ScriptError, run_text_with};
use std::path::PathBuf;

/// Every script under scenarios/scripts, subdirectories (the
/// state-by-segment matrix, one directory per state) included, sorted: the
/// same walk as `tcpsim script scenarios/scripts`.
fn suite() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    scenarios::cli::expand_scripts(&[dir]).expect("scenarios/scripts holds scripts")
}

/// The team's own scripts are held to the stronger checks: nothing the
/// stack sends after the last line goes unaccounted for, and every time is
/// exact (within only the script's own --tolerance_usecs).
const STRICT: Options = Options {
    strict_end: true,
    exact: true,
    profile: Profile::Rfc,
};

/// The checks in this file are about exact virtual time: `--exact`, as
/// the team's suite runs (the default tolerance is packetdrill's; see
/// tests/script_config.rs).
const EXACT: Options = Options {
    strict_end: false,
    exact: true,
    profile: Profile::Rfc,
};

/// `scenarios::script::run_text` with [`EXACT`].
fn run_text(name: &str, text: &str, seed: u64) -> Result<Report, ScriptError> {
    run_text_with(name, text, seed, EXACT)
}

#[test]
fn the_script_suite_passes_at_every_seed() {
    // Script numbers are relative to the ISNs, so the stack's keyed ISNs
    // (which change with the seed) must not change any verdict; and with
    // --strict-end, no script leaves a segment unaccounted for at its end.
    let files = suite();
    assert!(files.len() >= 40, "only {} scripts", files.len());
    let mut failures = Vec::new();
    for seed in [1, 2, 0xdead_beef] {
        for f in &files {
            if let Err(e) = scenarios::script::run_file_with(f, seed, STRICT) {
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
    fails_with(extra, EXACT)
}

fn fails_with(extra: &str, options: Options) -> String {
    let text = format!("{ACCEPTED}{extra}");
    match run_text_with("t.pkt", &text, 1, options) {
        Ok(_) => panic!("the script passed:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn passes(extra: &str) {
    let text = format!("{ACCEPTED}{extra}");
    if let Err(e) = run_text("t.pkt", &text, 1) {
        panic!("{e}\n{text}");
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
fn a_segment_with_no_flags_is_written_as_a_dash() {
    // packetdrill writes a segment with no flags as `-` (its own
    // validate-established-no-flags.pkt does). The stack drops a segment
    // without ACK silently (RFC 9293 §3.10.7.4, fifth step), so this passes
    // only if the dash parsed and the segment went in with no flags: read
    // as an ACK, its data would be ACKed at 0.2, a segment no line expects.
    run_text(
        "t.pkt",
        &format!(
            "{ACCEPTED}+0.1  < - 1:11(10) win 65535\n\
             +0.1  < P. 1:11(10) ack 1 win 65535\n\
             +0    > . 1:1(0) ack 11\n"
        ),
        1,
    )
    .unwrap();
    // And an expectation of no flags is shown the same way.
    assert_eq!(
        fails("+0.3  close(4) = 0\n+0    > - 1:1(0)\n"),
        "t.pkt:9: expected > - 1:1(0) at 0.400000, got > F. 1:1(0) ack 1 at 0.400000 (flags differ)"
    );
}

#[test]
fn after_the_peers_fin_a_reset_is_left_for_so_error() {
    // Linux's tcp_recvmsg returns end of stream once the peer's FIN is in
    // (SOCK_DONE is checked before sk_err), so after a RST in CLOSING a
    // read gives 0 and SO_ERROR gives ECONNRESET (checked with packetdrill:
    // closing/rst.pkt). Before, the read took the error.
    run_text(
        "t.pkt",
        &format!(
            "{ACCEPTED}+0.1  shutdown(4, SHUT_WR) = 0\n\
             +0    > F. 1:1(0) ack 1\n\
             +0    < F. 1:1(0) ack 1 win 65535\n\
             +0    > . 2:2(0) ack 2\n\
             +0.1  < R 2:2(0) win 65535\n\
             +0    read(4, ..., 100) = 0\n\
             +0    getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n\
             +0    read(4, ..., 100) = 0\n"
        ),
        1,
    )
    .unwrap();
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
}

#[test]
fn segments_after_the_last_line_are_ignored_unless_strict_end() {
    // As packetdrill: the data the last line's write sends is after the
    // end of the script, so it passes; --strict-end (the team's suite)
    // still names it.
    passes("+0    write(4, ..., 10) = 10\n");
    assert_eq!(
        fails_with("+0    write(4, ..., 10) = 10\n", STRICT),
        "t.pkt:8: unexpected > P. 1:11(10) ack 1 win 64240 at 0.100000 (no > line expects it)"
    );
    // A call still blocked at the end runs to its deadline (the poll
    // returns 0 at 2.1); the retransmission the stack sends meanwhile is
    // after the last line too.
    let blocked = "+0    write(4, ..., 10) = 10\n+0    > P. 1:11(10) ack 1\n+0...2 poll([{fd=4, events=POLLIN, revents=0}], 1, 2000) = 0\n";
    passes(blocked);
    assert_eq!(
        fails_with(blocked, STRICT),
        "t.pkt:10: unexpected > P. 1:11(10) ack 1 win 64240 at 0.400000 (no > line expects it)"
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
        "s.pkt:2:36: unsupported TCP option \"bogus\" (supported: nop, eol, mss, wscale, sackOK, sack, TS val ecr, FO, FOEXP)"
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

#[test]
fn tcpsim_script_takes_strict_end() {
    // Why: the CLI must reach the same two verdicts. The data of the last
    // line's write is sent after the end of the script: ignored by
    // default (exit 0), named with --strict-end (exit 1).
    let dir = std::env::temp_dir().join(format!("tcpsim-strict-end-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("last-write.pkt");
    std::fs::write(&file, format!("{ACCEPTED}+0    write(4, ..., 10) = 10\n")).unwrap();
    let tcpsim = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .arg("script")
            .args(extra)
            .arg(&file)
            .output()
            .expect("tcpsim runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = tcpsim(&[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = tcpsim(&["--strict-end"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("last-write.pkt:8: unexpected > P. 1:11(10) ack 1 win 64240 at 0.100000 (no > line expects it)"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ack_without_the_ack_flag_fills_the_field_and_leaves_the_flag_clear() {
    // As packetdrill: `ack N` on a segment without `.` is accepted. The
    // flag stays clear, so the stack drops this data segment (RFC 9293
    // §3.10.7.4, fifth check: "if the ACK bit is off, drop the segment")
    // and the read still blocks; the same data with `.` is then read and
    // acknowledged.
    passes(
        "+0    < P 1:11(10) ack 1 win 65535\n+0.1  < P. 1:11(10) ack 1 win 65535\n+0    read(4, ..., 10) = 10\n+0    > . 1:1(0) ack 11\n",
    );
    // Outbound, the field is compared as it is (absolute, as packetdrill
    // compares it): the stack's RST for a segment to a closed port that
    // carried no ACK (SEQ=0, ACK=SEG.SEQ+SEG.LEN, RFC 9293 §3.10.7.1) has
    // ACK; one that did carry ACK gets <SEQ=SEG.ACK><CTL=RST> with the
    // field zero.
    let closed = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    < . 1:1(0) ack 1000 win 65535
+0    > R 1000:1000(0) ack 0
";
    run_text("t.pkt", closed, 1).unwrap();
    let e = run_text("t.pkt", &closed.replace("ack 0\n", "ack 7\n"), 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.pkt:3: expected > R 1000:1000(0) ack 7 at 0.000000, got > R 1000:1000(0) ack 0 at 0.000000 (ack differs)"
    );
}

#[test]
fn start_dots_end_with_end_equal_to_start_may_return_at_once() {
    // `0.1...0.1` says the call ends when it starts: a write that queues
    // its data at once satisfies it, as in packetdrill (which checks only
    // the return time).
    passes("0.1...0.1 write(4, ..., 10) = 10\n+0    > P. 1:11(10) ack 1\n");
    passes("+0...0 write(4, ..., 10) = 10\n+0    > P. 1:11(10) ack 1\n");
    // An END later than the start still requires the call to block.
    assert_eq!(
        fails("0.1...0.2 write(4, ..., 10) = 10\n"),
        "t.pkt:8: write: expected to block until 0.200000, returned at once at 0.100000"
    );
}

#[test]
fn relative_time_after_a_range_counts_from_when_it_happened() {
    // The data leaves at 0.1, inside the range 0.05~0.15; its
    // retransmission follows one RTO (300 ms) later, at 0.4. Counted from
    // when the segment left, `+0.3` is 0.4 (packetdrill's
    // adjust_relative_event_times); counted from the range's start it
    // would be 0.35.
    passes(
        "+0    write(4, ..., 10) = 10\n0.05~0.15 > P. 1:11(10) ack 1\n+0.3  > P. 1:11(10) ack 1\n+0    < . 1:1(0) ack 11 win 65535\n",
    );
    // Likewise within a tolerance: the first `>` is written for 0.098 and
    // found at 0.1; the retransmission is then +0.3 from 0.1.
    let text = format!(
        "--tolerance_usecs=2000\n{ACCEPTED}+0    write(4, ..., 10) = 10\n0.098 > P. 1:11(10) ack 1\n+0.3  > P. 1:11(10) ack 1\n+0    < . 1:1(0) ack 11 win 65535\n"
    );
    run_text("t.pkt", &text, 1).unwrap();
}

#[test]
fn absolute_times_that_go_backward_are_an_error() {
    // packetdrill (run.c, get_next_event) rejects an absolute time before
    // the absolute time of the event just before it, with this message.
    assert_eq!(
        fails("0.3   write(4, ..., 10) = 10\n0.2   < . 1:1(0) ack 11 win 65535\n"),
        "t.pkt:9: time goes backward in script from 300000 usec to 200000 usec"
    );
    // After a relative event the order is checked as the script runs: the
    // inbound segment written for 0.2 cannot arrive at 0.3 instead.
    assert_eq!(
        fails(
            "0.3   write(4, ..., 10) = 10\n+0    > P. 1:11(10) ack 1\n0.2   < . 1:1(0) ack 11 win 65535\n"
        ),
        "t.pkt:10: timing error: expected inbound packet at 0.200000, but the script is already at 0.300000"
    );
    // Equal absolute times are fine.
    passes("0.3   write(4, ..., 10) = 10\n0.3   > P. 1:11(10) ack 1\n");
}

/// The peer has closed its window with 500 bytes still queued: the stack
/// sends a zero-window probe every time its persist timer fires.
const PERSISTING: &str = "\
+0    write(4, ..., 2000) = 2000
+0    > . 1:1461(1460) ack 1
+0    > P. 1461:2001(540) ack 1
+0.1  < . 1:1(0) ack 2001 win 0
+0    write(4, ..., 500) = 500
";

#[test]
fn a_huge_wait_fails_at_the_first_unexpected_probe() {
    // Why: with a wait of 10^11 s the first probe (at 0.5) is a segment no
    // line expects, so the script fails there and then; before, the
    // runner ran the persist timer for the whole wait, queueing ten
    // million probes (785 MB) and reporting a timer spin.
    assert_eq!(
        fails(&format!(
            "{PERSISTING}+100000000000 < . 1:1(0) ack 2001 win 0\n"
        )),
        "t.pkt:13: unexpected > . 2000:2000(0) ack 1 win 64240 at 0.500000 (no > line expects it before this line)"
    );
}

#[test]
fn huge_and_overflowing_times_are_clear_errors() {
    // With nothing to send, the wait reaches the end of the virtual clock
    // (10^9 s): an error, not a jump to a time the stack cannot hold.
    assert_eq!(
        fails("+100000000000 < . 1:1(0) ack 1 win 65535\n"),
        "t.pkt:8: this wait goes past the end of tcpsim's virtual clock at 1000000000.000000 (about 31.7 years)"
    );
    // Relative times that add up past u64 microseconds saturate into the
    // same error.
    assert_eq!(
        fails("+18446744073709 close(4) = 0\n+18446744073709 close(4) = -1 EBADF\n"),
        "t.pkt:8: this wait goes past the end of tcpsim's virtual clock at 1000000000.000000 (about 31.7 years)"
    );
    // A literal beyond u64 microseconds is a syntax error.
    let e = run_text("t.pkt", "18446744073710 close(3) = 0\n", 1).unwrap_err();
    assert_eq!(e.to_string(), "t.pkt:1:1: time is out of range");
    // A poll timeout of i64::MAX milliseconds blocks (no overflow); the
    // script ends with the call still blocked past its END.
    assert_eq!(
        fails("+0...1 poll([{fd=4, events=POLLIN, revents=0}], 1, 9223372036854775807) = 0\n"),
        "t.pkt:8: poll: expected to return at 1.100000, still blocked when the script ended"
    );
    // A tolerance of u64::MAX microseconds does not overflow either.
    let text = format!(
        "--tolerance_usecs=18446744073709551615\n{ACCEPTED}+0    write(4, ..., 10) = 10\n+1    > P. 1:11(10) ack 1\n"
    );
    run_text("t.pkt", &text, 1).unwrap();
}

#[test]
fn deeply_nested_brackets_are_an_error_with_line_and_column() {
    // Why: 30,000 nested brackets overflowed the recursive parser's stack
    // (exit 134); the depth is bounded and the message points at the
    // first bracket too deep.
    let deep = format!(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0 setsockopt(3, SOL_SOCKET, SO_LINGER, {}{}, 8) = 0\n",
        "[".repeat(30_000),
        "]".repeat(30_000)
    );
    let e = run_text("s.pkt", &deep, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "s.pkt:2:{}: brackets nested more than 100 deep",
            39 + 100 + 1
        )
    );
    // In an event continued over several lines, the line and column are
    // those of the bracket itself.
    let continued = format!(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0 setsockopt(3, SOL_SOCKET,\n  SO_LINGER, {}{}, 8) = 0\n",
        "{a=".repeat(101),
        "}".repeat(101)
    );
    let e = run_text("s.pkt", &continued, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "s.pkt:3:{}: brackets nested more than 100 deep",
            14 + 3 * 100
        )
    );
    // A hundred levels are still a value (the call then rejects it).
    let ok = format!(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0 setsockopt(3, SOL_SOCKET, SO_LINGER, {}{}, 8) = 0\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    let e = run_text("s.pkt", &ok, 1).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("s.pkt:2: setsockopt SO_LINGER: the value must be"),
        "{e}"
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
            Just("+100000000000 < . 1:1(0) ack 1 win 0\n".to_string()),
            Just("0.1...0.1 read(4, ..., 10) = 10\n".to_string()),
            Just("0.05~0.15 > P. 1:11(10) ack 1\n".to_string()),
            Just("+0 < R 1:1(0) ack 4294967295 win 0\n".to_string()),
            Just("* > R 0:0(0) ack 0\n".to_string()),
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

#[test]
fn defines_replace_whole_words_as_packetdrills_dash_d() {
    // `-D TFO_COOKIE=...` (run_all.py's definition for the suite) turns the
    // symbol into its value wherever it stands as a word, and nowhere
    // else: MY_TFO_COOKIE_2 is another word and stays as written.
    let defines = vec![("TFO_COOKIE".to_string(), "3021b9d889017eeb".to_string())];
    assert_eq!(
        scenarios::script::apply_defines(
            "<mss 1460,FOEXP TFO_COOKIE> MY_TFO_COOKIE_2 (TFO_COOKIE)",
            &defines
        ),
        "<mss 1460,FOEXP 3021b9d889017eeb> MY_TFO_COOKIE_2 (3021b9d889017eeb)"
    );
    // Bad definitions are usage errors that say what is wrong.
    assert!(scenarios::script::parse_define("TFO_COOKIE").is_err());
    assert!(scenarios::script::parse_define("9X=1").is_err());
    assert_eq!(
        scenarios::script::parse_define("CODE=host_unreachable"),
        Ok(("CODE".into(), "host_unreachable".into()))
    );
    // An undefined symbol where a cookie goes is a syntax error naming the fix.
    let e = run_text(
        "s.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.1 < S 0:0(0) win 65535 <FO TFO_COOKIE>\n",
        1,
    )
    .unwrap_err();
    assert!(e.to_string().contains("-D TFO_COOKIE=HEX"), "{e}");
}

#[test]
fn minus_one_without_an_errno_matches_any_error_but_not_success() {
    // packetdrill checks the errno only when the script names one: closing
    // a descriptor that is not open fails (EBADF) and `= -1` accepts it;
    // a call that succeeds does not match `= -1`.
    let text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(7) = -1\n";
    run_text("t.pkt", text, 1).unwrap();
    let e = run_text(
        "t.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = -1\n",
        1,
    )
    .unwrap_err();
    assert!(e.to_string().contains("close: expected = -1"), "{e}");
}

#[test]
fn the_script_names_its_descriptors_as_packetdrill_maps_them() {
    // packetdrill maps the fd a script writes to the live one
    // (run_system_call.c's script_fd): a first socket the script calls 4
    // is 4 to every later call, fd 3 does not exist until a later socket
    // line names it.
    let text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n\
                +0 setsockopt(4, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
                +0 bind(4, ..., ...) = 0\n\
                +0 listen(4, 1) = 0\n\
                +0 close(3) = -1 EBADF\n\
                +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                +0 close(3) = 0\n\
                +0 close(4) = 0\n";
    run_text("t.pkt", text, 1).unwrap();
}
