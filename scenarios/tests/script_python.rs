//! `%{ }%` blocks in scripts: Python assertions on the stack's TCP_INFO,
//! in Linux's units, evaluated against the values at the block's time,
//! failing as packetdrill fails (file:line, `AssertionError: ...`).

use scenarios::script::{Report, run_text};

/// A listener that has completed a handshake (MSS 1460, no options, so
/// SMSS is 1460 and the handshake's RTT sample is exactly 100 ms) and
/// accepted fd 4.
const ACCEPTED: &str = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 <mss 1460>
+0.1  < . 1:1(0) ack 1 win 65535
+0    accept(3, ..., ...) = 4
";

fn passes(extra: &str) -> Report {
    let text = format!("{ACCEPTED}{extra}");
    run_text("t.pkt", &text, 1).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn fails(extra: &str) -> String {
    let text = format!("{ACCEPTED}{extra}");
    match run_text("t.pkt", &text, 1) {
        Ok(_) => panic!("the script passed:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn cwnd_is_ten_segments_after_the_handshake_and_grows_with_acks() {
    // Why: the values are the stack's own, in Linux's units: IW10 (RFC
    // 6928) is 10 segments, not 14600 bytes; one ACK of two segments grows
    // cwnd by one SMSS (RFC 5681 slow start with RFC 3465 L = 1), so 11;
    // SRTT 100 ms is 100000 us and RTO = SRTT + max(4 RTTVAR, 200 ms) =
    // 300 ms = 300000 us (RFC 6298). A mapping in bytes or milliseconds,
    // or one that read a stale snapshot, fails one of these.
    passes(
        "\
+0    %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
+0    %{ assert tcpi_state == TCP_ESTABLISHED and tcpi_ca_state == TCP_CA_Open, tcpi_state }%
+0    %{ assert tcpi_rtt == 100000 and tcpi_rttvar == 50000, (tcpi_rtt, tcpi_rttvar) }%
+0    %{ assert tcpi_rto == 300000, tcpi_rto }%
+0    %{ assert tcpi_snd_ssthresh == 0x7fffffff and tcpi_snd_mss == 1460 }%
+0    write(4, ..., 29200) = 29200
+0    > . 1:14601(14600) ack 1
+0    %{ assert tcpi_unacked == 10 and tcpi_notsent_bytes == 14600, (tcpi_unacked, tcpi_notsent_bytes) }%
+0.1  < . 1:1(0) ack 2921 win 65535
+0    > . 14601:18981(4380) ack 1
+0    %{ assert tcpi_snd_cwnd == 11, tcpi_snd_cwnd }%
+0    %{ assert tcpi_unacked == 11, tcpi_unacked }%
+0    %{ assert tcpi_bytes_acked == 2920 and tcpi_total_retrans == 0, (tcpi_bytes_acked, tcpi_total_retrans) }%
",
    );
}

#[test]
fn the_values_are_those_of_the_blocks_time() {
    // Why: packetdrill runs the Python at the end but with each block's
    // own TCP_INFO: the first block must see cwnd 10 even though cwnd is
    // 11 by the time the script ends, and a name assigned in one block is
    // seen by the next (one Python file).
    passes(
        "\
+0    %{ before = tcpi_snd_cwnd }%
+0    write(4, ..., 29200) = 29200
+0    > . 1:14601(14600) ack 1
+0.1  < . 1:1(0) ack 2921 win 65535
+0    > . 14601:18981(4380) ack 1
+0    %{ assert (before, tcpi_snd_cwnd) == (10, 11), (before, tcpi_snd_cwnd) }%
",
    );
}

#[test]
fn a_failing_assertion_reports_file_line_and_the_message_value() {
    // Why: the message must say where (the block's line, 8) and what
    // Python said: the assertion as written and `AssertionError:` with the
    // message's value (cwnd=10), as packetdrill's traceback does.
    assert_eq!(
        fails("+0    %{ assert tcpi_snd_cwnd == 11, 'cwnd=%d' % tcpi_snd_cwnd }%\n"),
        "t.pkt:8: error in Python code: assert tcpi_snd_cwnd == 11, 'cwnd=%d' % tcpi_snd_cwnd: AssertionError: cwnd=10"
    );
}

#[test]
fn a_failed_block_is_reported_at_the_end_unless_something_fails_later() {
    // Why: packetdrill's Python runs after the last event, so the events
    // after a failing block still run: a later mismatch is the verdict
    // (with the block's failure noted), and with none, the block's is.
    let e = fails(
        "\
+0    %{ assert tcpi_snd_cwnd == 1, tcpi_snd_cwnd }%
+0.1  close(4) = 0
+0    > R. 1:1(0) ack 1
",
    );
    assert!(e.starts_with("t.pkt:10: expected > R. 1:1(0) ack 1"), "{e}");
    assert!(
        e.ends_with(
            "(an earlier %{ }% block failed too: t.pkt:8: error in Python code: assert tcpi_snd_cwnd == 1, tcpi_snd_cwnd: AssertionError: 10)"
        ),
        "{e}"
    );
    let e = fails(
        "\
+0    %{ assert tcpi_snd_cwnd == 1, tcpi_snd_cwnd }%
+0.1  close(4) = 0
+0    > F. 1:1(0) ack 1
",
    );
    assert_eq!(
        e,
        "t.pkt:8: error in Python code: assert tcpi_snd_cwnd == 1, tcpi_snd_cwnd: AssertionError: 10"
    );
}

#[test]
fn a_construct_outside_the_subset_is_named_with_its_line() {
    // Why: a script using Python we do not evaluate must fail saying so,
    // not pass by skipping the block or fail with a misleading verdict.
    assert_eq!(
        fails("+0    %{ if tcpi_snd_cwnd > 5: print(1) }%\n"),
        "t.pkt:8: error in Python code: if tcpi_snd_cwnd > 5: print(1): an if statement is outside tcpsim's Python subset"
    );
}

#[test]
fn a_field_the_stack_does_not_model_fails_by_name() {
    // Why: the stack has no delivery-rate sampling; the script must fail
    // naming the field rather than compare against an invented 0.
    let e = fails("+0    %{ assert tcpi_delivered == 0, tcpi_delivered }%\n");
    assert!(
        e.starts_with(
            "t.pkt:8: error in Python code: assert tcpi_delivered == 0, tcpi_delivered: tcpi_delivered is not modelled yet ("
        ),
        "{e}"
    );
}

#[test]
fn a_multi_line_block_with_comments_and_assignment() {
    // Why: the suite's multi-line blocks mix comments, assignments and
    // assertions; the error of the third statement must point at its own
    // line (12), three lines below the `%{` on line 9.
    let block = "\
+0    %{
# Linux's initial window, in segments
iw = 10
assert tcpi_snd_cwnd == iw, tcpi_snd_cwnd  # IW10
assert tcpi_rtt >= 100000 - 1 \\
    and tcpi_rtt <= 100000 + 1, tcpi_rtt
}%
";
    passes(block);
    let e = fails(&format!(
        "+0    %{{ print('cwnd', tcpi_snd_cwnd) }}%\n{}",
        block.replace(
            "iw = 10",
            "iw = 10\nassert tcpi_snd_cwnd == iw + 1, 'iw=%d' % iw"
        )
    ));
    assert_eq!(
        e,
        "t.pkt:12: error in Python code: assert tcpi_snd_cwnd == iw + 1, 'iw=%d' % iw: AssertionError: iw=10"
    );
}

#[test]
fn print_output_is_reported_with_the_blocks_line() {
    // Why: packetdrill's Python prints to standard output; ours comes back
    // in the report, placed by file and line, in order.
    let report = passes("+0    %{ print(tcpi_snd_cwnd); print('rto', tcpi_rto) }%\n");
    assert_eq!(report.printed, vec!["t.pkt:8: 10", "t.pkt:8: rto 300000"]);
}

#[test]
fn a_block_reads_the_socket_under_test_as_packetdrill_picks_it() {
    // Why: packetdrill reads the socket of the latest socket() call,
    // replaced by the connection a SYN creates at the listener once
    // accept returns it; between the SYN and accept it has no fd and the
    // block dies at once, as does a block with no socket at all.
    let e = run_text("t.pkt", "0 %{ assert True }%\n", 1).expect_err("no socket");
    assert_eq!(
        e.to_string(),
        "t.pkt:1: runtime error in code: no socket to use for code (no socket() call before this block)"
    );
    let listening = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    %{ assert tcpi_state == TCP_LISTEN, tcpi_state }%
+0    < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 <mss 1460>
";
    run_text("t.pkt", listening, 1).unwrap_or_else(|e| panic!("{e}"));
    let e = run_text("t.pkt", &format!("{listening}+0 %{{ assert True }}%\n"), 1)
        .expect_err("between SYN and accept");
    assert!(
        e.to_string()
            .starts_with("t.pkt:7: runtime error in code: can't find getsockopt to get TCP info"),
        "{e}"
    );
    // After the peer's RST the socket stays, in TCP_CLOSE (Linux's
    // numbering: 7), though the stack has released the connection.
    passes(
        "+0.1  < R. 1:1(0) ack 1 win 0\n+0    %{ assert tcpi_state == TCP_CLOSE, tcpi_state }%\n",
    );
}

#[test]
fn sacked_and_lost_count_the_scoreboard_in_segments() {
    // Why: one SACKed segment above a hole is Disorder; three make the
    // hole lost by RFC 6675 IsLost (DupThresh 3) and start recovery,
    // with ssthresh = FlightSize / 2 = 7300 bytes = 5 segments (RFC 5681
    // eq. 4). Counting bytes instead of segments, or reading the values
    // before the SACK was processed, fails these.
    let text = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1460,sackOK>
+0    > S. 0:0(0) ack 1 <mss 1460,sackOK>
+0.1  < . 1:1(0) ack 1 win 65535
+0    accept(3, ..., ...) = 4
+0    write(4, ..., 14600) = 14600
+0    > P. 1:14601(14600) ack 1
+0.1  < . 1:1(0) ack 1 win 65535 <sack 1461:2921,nop,nop>
+0    %{ assert (tcpi_ca_state, tcpi_sacked, tcpi_lost) == (TCP_CA_Disorder, 1, 0), (tcpi_ca_state, tcpi_sacked, tcpi_lost) }%
+0    < . 1:1(0) ack 1 win 65535 <sack 1461:5841,nop,nop>
+0    > . 1:1461(1460) ack 1
+0    %{
assert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state
assert (tcpi_sacked, tcpi_lost, tcpi_unacked) == (3, 1, 10), (tcpi_sacked, tcpi_lost, tcpi_unacked)
assert tcpi_snd_ssthresh == 5 and tcpi_snd_cwnd == 5, (tcpi_snd_ssthresh, tcpi_snd_cwnd)
assert tcpi_total_retrans == 1 and tcpi_bytes_retrans == 1460
}%
+0.1  < . 1:1(0) ack 14601 win 65535
+0    %{ assert (tcpi_ca_state, tcpi_sacked, tcpi_lost, tcpi_unacked) == (TCP_CA_Open, 0, 0, 0) }%
";
    run_text("t.pkt", text, 1).unwrap_or_else(|e| panic!("{e}"));
}
