//! The error queue in scripts: zero-copy completions and TX timestamps
//! read with recvmsg(MSG_ERRQUEUE) and checked field by field as
//! packetdrill checks them, EPOLLERR under EPOLLET, and ICMP lines. The
//! scripts themselves (scenarios/scripts/errqueue/, icmp/) pass on tcpsim
//! and on Linux 6.18; these tests show that a wrong expectation fails
//! with packetdrill's message, so the passes mean something.

use scenarios::script::run_text;
use std::path::PathBuf;

fn script(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(text: &str) -> Result<(), String> {
    run_text("t.pkt", text, 1)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `text` with the first occurrence of `from` replaced by `to`.
fn with(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the script");
    text.replacen(from, to, 1)
}

#[test]
fn zero_copy_completions_are_numbered_and_merged_as_on_linux() {
    // Why: the script reads one completion [0, 1] for two sends acked
    // apart (merged), then [2, 2] after a plain send took no number; each
    // field is compared, so a completion numbered or merged otherwise
    // fails with packetdrill's "Bad data in extended err".
    let text = script("errqueue/zerocopy.pkt");
    run(&text).unwrap();
    let e = run(&with(&text, "ee_data=1}}", "ee_data=0}}")).unwrap_err();
    assert!(
        e.ends_with("recvmsg: Bad data in extended err 0: expected=0 actual=1"),
        "{e}"
    );
    let e = run(&with(&text, "ee_info=2,", "ee_info=3,")).unwrap_err();
    assert!(
        e.ends_with("recvmsg: Bad info in extended err 0: expected=3 actual=2"),
        "{e}"
    );
    // The queue is POLLERR only while something is in it.
    let e = run(&with(&text, "revents=POLLOUT|POLLERR}", "revents=POLLOUT}")).unwrap_err();
    assert!(
        e.contains("expected revents POLLOUT for fd 4, got POLLOUT|POLLERR"),
        "{e}"
    );
}

#[test]
fn tx_timestamps_carry_the_virtual_time_and_the_byte_key() {
    // Why: SCHED/SND are stamped when the segment leaves and ACK when it
    // is acknowledged, in virtual time: a stamp 20 ms off (beyond any
    // tolerance) or a key counted from the wrong origin must fail.
    let text = script("errqueue/tx-timestamps.pkt");
    run(&text).unwrap();
    let e = run(&with(&text, "scm_nsec=30000000}", "scm_nsec=50000000}")).unwrap_err();
    assert!(e.contains("Bad timestamp 0 in scm_timestamping 0"), "{e}");
    let e = run(&with(&text, "ee_data=999}", "ee_data=1099}")).unwrap_err();
    assert!(
        e.ends_with("Bad data in extended err 1: expected=1099 actual=999"),
        "{e}"
    );
    // Without OPT_TSONLY the entry holds the packet: a zero-length read
    // of it is truncated, which the script's msg_flags does not say.
    let e = run(&with(&text, " | SOF_TIMESTAMPING_OPT_TSONLY", "")).unwrap_err();
    assert!(
        e.ends_with("recvmsg: Expected msg_flags 0x00002000 but got 0x00002020"),
        "{e}"
    );
}

/// A server with SO_ZEROCOPY, two zero-copy sends acked, watched by an
/// epoll with `FLAGS` (packetdrill's zerocopy/epoll_edge.pkt, shortened).
const EPOLL: &str = r#"
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_ZEROCOPY, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
   +0 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 epoll_create(1) = 5
   +0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLOUT|FLAGS, fd=4}) = 0
   +0 epoll_wait(5, {events=EPOLLOUT, fd=4}, 1, 0) = 1
   +0 send(4, ..., 1000, MSG_ZEROCOPY) = 1000
   +0 > P. 1:1001(1000) ack 1
   +0 < . 1:1(0) ack 1001 win 257
   +0 send(4, ..., 1000, MSG_ZEROCOPY) = 1000
   +0 > P. 1001:2001(1000) ack 1
   +0 < . 1:1(0) ack 2001 win 257
   +0 epoll_wait(5, {events=EPOLLERR|EPOLLOUT, fd=4}, 1, 0) = 1
   +0 epoll_wait(5, {SECOND}, 1, 0) = COUNT
"#;

#[test]
fn epollerr_fires_once_per_wakeup_under_epollet_and_stays_level_without() {
    // Why: EPOLLET reports an fd once per wakeup (the completions' error
    // report), so the second wait finds nothing; level-triggered, the
    // queued completion keeps the fd ready. Both must hold, or the ready
    // list is not what Linux's is.
    let et = EPOLL
        .replace("FLAGS", "EPOLLET")
        .replace("SECOND", "events=0, ptr=0")
        .replace("COUNT", "0");
    run(&et).unwrap();
    let lt = EPOLL
        .replace("|FLAGS", "")
        .replace("SECOND", "events=EPOLLERR|EPOLLOUT, fd=4")
        .replace("COUNT", "1");
    run(&lt).unwrap();
    let wrong = EPOLL
        .replace("FLAGS", "EPOLLET|EPOLLEXCLUSIVE")
        .replace("SECOND", "events=EPOLLERR|EPOLLOUT, fd=4")
        .replace("COUNT", "1");
    let e = run(&wrong).unwrap_err();
    assert!(e.contains("epoll_wait: expected = 1, got = 0"), "{e}");
    // EPOLLEXCLUSIVE with EPOLLONESHOT is EINVAL, as do_epoll_ctl says.
    let bad = EPOLL.replace(
        "{events=EPOLLOUT|FLAGS, fd=4}) = 0",
        "{events=EPOLLOUT|EPOLLEXCLUSIVE|EPOLLONESHOT, fd=4}) = -1 EINVAL (Invalid argument)",
    );
    let e = run(&bad).unwrap_err();
    assert!(e.contains("epoll_wait") && !e.contains("epoll_ctl"), "{e}");
}

#[test]
fn an_icmp_frag_needed_line_reaches_the_stack() {
    // Why: without the ICMP the stack would wait for an RTO instead of
    // resending at once in 600-byte segments; and an ICMP quoting a
    // sequence number out of flight must change nothing (the script's
    // TCP_MAXSEG check after it would fail).
    let text = script("icmp/frag-needed.pkt");
    run(&text).unwrap();
    let e = run(&with(
        &text,
        "frag_needed mtu 640 [1:1201(1200)]",
        "frag_needed mtu 640 [3000:4200(1200)]",
    ))
    .unwrap_err();
    assert!(e.contains("expected > . 1:601(600) ack 1"), "{e}");
    let e = run(&with(
        &text,
        "frag_needed mtu 640 [5000:6200(1200)]",
        "frag_needed mtu 640 [1:1201(1200)]",
    ))
    .unwrap_err();
    assert!(
        e.contains("Bad getsockopt optval: expected: 1200 actual: 600"),
        "{e}"
    );
}

#[test]
fn icmp_lines_are_parsed_as_packetdrill_writes_them_and_bad_ones_are_clear_errors() {
    // Why: a misspelt type or code, an MTU on a message that has none, or
    // an outbound icmp line (the stack sends no ICMP) must each be a
    // one-line error naming the problem, never a silent default.
    let base = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";
    let cases = [
        ("+0 < icmp unreachabel\n", "bad ICMP type unreachabel"),
        (
            "+0 < icmp unreachable host_unreachabel\n",
            "bad ICMP code host_unreachabel",
        ),
        (
            "+0 < icmp time_exceeded mtu 1000\n",
            "ICMPv4 MTU is only valid for unreachable-frag_needed",
        ),
        (
            "+0 < icmp unreachable [1:2(3)]\n",
            "end minus start is not the length",
        ),
        (
            "+0 > icmp unreachable port_unreachable\n",
            "not supported: an outbound icmp line",
        ),
    ];
    for (line, want) in cases {
        let e = run(&format!("{base}{line}")).unwrap_err();
        assert!(e.contains(want), "{line:?}: {e}");
    }
    // Well-formed lines of every shape run (no connection: ignored).
    for line in [
        "+0 < icmp unreachable port_unreachable\n",
        "+0 < icmp type_11 code_1 [0:10(10)]\n",
        "+0 < icmp source_quench [udp(8)]\n",
        "+0 < icmp echo_request id 7 [raw(64)]\n",
    ] {
        run(&format!("{base}{line}")).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
}
