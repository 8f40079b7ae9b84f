//! The socket API beyond read and write, as the suites call it:
//! sendmsg/recvmsg with packetdrill's msghdr syntax, sendto/recvfrom,
//! MSG_PEEK/MSG_DONTWAIT, TCP_INQ and its control message, ioctl
//! SIOCINQ/SIOCOUTQ, getsockopt of the int options, TCP_MAXSEG, NULL
//! buffers, level-triggered epoll; and what tcpsim cannot honour is a
//! clear error.

use scenarios::script::{parse, run_text};

/// Checked on Linux 6.18 with packetdrill (in `unshare -n`, the suite's
/// addresses): passes there unchanged. A server socket with TCP_MAXSEG
/// and TCP_INQ: peeks, reads through iovecs with TCP_CM_INQ, sends
/// through iovecs and sendto, EFAULT for a NULL buffer, the socket
/// options read back, the FIN counted in TCP_CM_INQ and MSG_CTRUNC.
const SERVER: &str = r#"--tolerance_usecs=10000
`sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 getsockopt(3, SOL_TCP, TCP_MAXSEG, [536], [4]) = 0
   +0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [1100], 4) = 0
   +0 getsockopt(3, SOL_TCP, TCP_MAXSEG, [1100], [4]) = 0
   +0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [50], 4) = -1 EINVAL (Invalid argument)
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1100,nop,wscale 7>
 +.01 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 getsockopt(4, SOL_TCP, TCP_MAXSEG, [1100], [4]) = 0
   +0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0
   +0 getsockopt(4, SOL_TCP, TCP_INQ, [1], [4]) = 0
   +0 setsockopt(4, SOL_TCP, TCP_INQ, [2], 4) = -1 EINVAL (Invalid argument)

// 1000 bytes arrive: peek at them, then read them through iovecs.
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 ioctl(4, SIOCINQ, [1000]) = 0
   +0 recv(4, ..., 400, MSG_PEEK) = 400
   +0 ioctl(4, FIONREAD, [1000]) = 0
   +0 recvmsg(4, {msg_name(...)=...,
                  msg_iov(2)=[{..., 100}, {..., 200}],
                  msg_flags=0,
                  msg_control=[{cmsg_level=SOL_TCP,
                                cmsg_type=TCP_CM_INQ,
                                cmsg_data=700}]}, 0) = 300
   +0 recvfrom(4, ..., 1000, 0, ..., ...) = 700
   +0 recv(4, ..., 1000, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)
   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0},
              MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)

// Sending: iovecs (a zero-length one skipped), sendto, a NULL buffer.
   +0 sendmsg(4, {msg_name(...)=...,
                  msg_iov(3)=[{..., 100}, {..., 0}, {..., 200}],
                  msg_flags=0}, 0) = 300
   +0 > P. 1:301(300) ack 1001
   +0 ioctl(4, 0x5411, [300]) = 0
 +.01 < . 1001:1001(0) ack 301 win 257
   +0 ioctl(4, 0x5411, [0]) = 0
   +0 sendto(4, ..., 100, MSG_NOSIGNAL, ..., ...) = 100
   +0 > P. 301:401(100) ack 1001
 +.01 < . 1001:1001(0) ack 401 win 257
   +0 write(4, NULL, 100) = -1 EFAULT (Bad address)

// Socket options read back as Linux reports them.
   +0 setsockopt(4, SOL_SOCKET, SO_SNDBUF, [10000], 4) = 0
   +0 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [20000], [4]) = 0
   +0 setsockopt(4, SOL_SOCKET, SO_RCVBUF, [100], 4) = 0
   +0 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [2304], [4]) = 0
   +0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0], [4]) = 0
   +0 setsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0xffffffff], 4) = 0
   +0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [-1], [4]) = 0
   +0 getsockopt(4, SOL_TCP, TCP_NODELAY, [0], [4]) = 0

// The peer's FIN: TCP_CM_INQ counts it as one byte; with no room for
// the control message the kernel sets MSG_CTRUNC.
   +0 < F. 1001:1001(0) ack 401 win 257
   +0 ioctl(4, SIOCINQ, [0]) = 0
   +0 recvmsg(4, {msg_name(...)=...,
                  msg_iov(1)=[{..., 10}],
                  msg_flags=0,
                  msg_control=[{cmsg_level=SOL_TCP,
                                cmsg_type=TCP_CM_INQ,
                                cmsg_data=1}]}, 0) = 0
   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}],
                  msg_flags=MSG_CTRUNC}, 0) = 0
// The FIN's ACK is delayed (Linux, not in quick-ack mode any more).
+.03~+.06 > . 401:401(0) ack 1002
   +0 close(4) = 0
   +0 > F. 401:401(0) ack 1002
"#;

/// Checked on Linux 6.18 with packetdrill, as [`SERVER`]: TCP_MAXSEG set
/// before connect is the MSS the SYN announces and getsockopt reports;
/// SIOCOUTQ (0x5411, packetdrill has no name for it) follows the ACK.
const CLIENT: &str = r#"--tolerance_usecs=10000
`sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [1000], 4) = 0
   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
   +0 > S 0:0(0) <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>
   +0 ioctl(3, SIOCINQ, [0]) = 0
   +0 send(3, ..., 10, 0) = -1 EAGAIN (Resource temporarily unavailable)
 +.01 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 7>
   +0 > . 1:1(0) ack 1
   +0 getsockopt(3, SOL_TCP, TCP_MAXSEG, [1000], [4]) = 0
   +0 write(3, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
   +0 ioctl(3, 0x5411, [1000]) = 0
 +.01 < . 1:1(0) ack 1001 win 5792
   +0 ioctl(3, 0x5411, [0]) = 0
   +0 close(3) = 0
   +0 > F. 1001:1001(0) ack 1
"#;

/// Checked on Linux 6.18 with packetdrill, as [`SERVER`]: level-triggered
/// epoll over a listener and a connection, EPOLL_CTL_ADD/MOD/DEL and
/// their errno, epoll_data as fd and u32, EPOLLONESHOT, a blocking wait.
const EPOLL: &str = r#"--tolerance_usecs=10000
`sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 epoll_create(1) = 4
   +0 epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN, fd=3}) = 0
   +0 epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN, fd=3}) = -1 EEXIST (File exists)
   +0 epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN, fd=4}) = -1 EINVAL (Invalid argument)
   +0 epoll_wait(4, {events=0, ptr=0}, 1, 0) = 0

// A connection waiting to be accepted: the listener is readable. The
// wait blocks until the handshake's last ACK arrives.
   +0 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
   +0...0.010 epoll_wait(4, {events=EPOLLIN, fd=3}, 1, 1000) = 1
 +.01 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 5
   +0 epoll_ctl(4, EPOLL_CTL_DEL, 3, {events=0, fd=3}) = 0
   +0 epoll_ctl(4, EPOLL_CTL_MOD, 3, {events=EPOLLIN, fd=3}) = -1 ENOENT (No such file or directory)

// Level-triggered: writable every time; readable while data is queued.
   +0 epoll_ctl(4, EPOLL_CTL_ADD, 5, {events=EPOLLIN|EPOLLOUT, u32=77}) = 0
   +0 epoll_wait(4, {events=EPOLLOUT, u32=77}, 1, 0) = 1
   +0 epoll_wait(4, {events=EPOLLOUT, u32=77}, 1, 0) = 1
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 epoll_wait(4, {events=EPOLLIN|EPOLLOUT, u32=77}, 1, 0) = 1
   +0 epoll_wait(4, {events=EPOLLIN|EPOLLOUT, u32=77}, 1, 0) = 1
   +0 read(5, ..., 1000) = 1000

// EPOLLONESHOT: reported once, then not until EPOLL_CTL_MOD.
   +0 epoll_ctl(4, EPOLL_CTL_MOD, 5, {events=EPOLLOUT|EPOLLONESHOT, fd=5}) = 0
   +0 epoll_wait(4, {events=EPOLLOUT, fd=5}, 1, 0) = 1
   +0 epoll_wait(4, {events=0, ptr=0}, 1, 0) = 0
   +0 epoll_ctl(4, EPOLL_CTL_MOD, 5, {events=EPOLLIN, fd=5}) = 0
   +0 epoll_wait(4, {events=0, ptr=0}, 1, 0) = 0

// The peer's FIN: readable (EOF) and EPOLLRDHUP.
   +0 epoll_ctl(4, EPOLL_CTL_MOD, 5, {events=EPOLLIN|EPOLLRDHUP, fd=5}) = 0
   +0 < F. 1001:1001(0) ack 1 win 257
   +0...0.010 epoll_wait(4, {events=EPOLLIN|EPOLLRDHUP, fd=5}, 1, -1) = 1
   +0 close(4) = 0
   +0 close(5) = 0
   +0 > F. 1:1(0) ack 1002
"#;

fn run(text: &str) -> Result<(), String> {
    run_text("t.pkt", text, 1)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The script with line `n` (1-based) replaced by `with`.
fn with_line(text: &str, n: usize, with: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines[n - 1] = with;
    lines.join("\n") + "\n"
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn server_side_socket_api_runs_as_on_linux() {
    // Why: every call in the script checks its result (and recvmsg its
    // control message) against what Linux returned for the same script;
    // the script passing means each one matched.
    run(SERVER).unwrap();
}

#[test]
fn client_side_tcp_maxseg_sets_the_syn_mss() {
    // Why: the SYN's `<mss 1000,...>` is checked option by option, so
    // the script passes only if TCP_MAXSEG reached the stack's SYN.
    run(CLIENT).unwrap();
    // And without the option the same SYN line fails: the stack would
    // have announced 1460.
    let n = line_of(CLIENT, "TCP_MAXSEG, [1000], 4");
    let e = run(&with_line(
        CLIENT,
        n,
        "   +0 getsockopt(3, SOL_TCP, TCP_MAXSEG, [536], [4]) = 0",
    ))
    .unwrap_err();
    assert!(e.contains("mss 1460"), "{e}");
}

#[test]
fn recvmsg_checks_the_control_message_and_msg_flags() {
    // Why: a wrong TCP_CM_INQ count or msg_flags must fail the call with
    // packetdrill's message, not pass silently.
    let n = line_of(SERVER, "cmsg_data=700");
    let e = run(&with_line(
        SERVER,
        n,
        "                                cmsg_data=699}]}, 0) = 300",
    ))
    .unwrap_err();
    assert!(
        e.ends_with("recvmsg: Bad data in cmsg 0: expected=699 actual=700"),
        "{e}"
    );
    let n = line_of(SERVER, "msg_flags=MSG_CTRUNC");
    let e = run(&with_line(
        SERVER,
        n,
        "                  msg_flags=0}, 0) = 0",
    ))
    .unwrap_err();
    assert!(
        e.ends_with("recvmsg: Expected msg_flags 0x00000000 but got 0x00000008"),
        "{e}"
    );
    // A peek leaves the data: reading 1000 after it still gets 1000.
    let n = line_of(SERVER, "recv(4, ..., 400, MSG_PEEK)");
    let e = run(&with_line(
        SERVER,
        n,
        "   +0 recv(4, ..., 400, MSG_PEEK) = 300",
    ))
    .unwrap_err();
    assert!(e.contains("recv: expected = 300, got = 400"), "{e}");
}

#[test]
fn malformed_msghdrs_name_line_and_column() {
    // Why: a user fixing a script needs the exact spot; each of these is
    // a parse error (packetdrill's grammar rejects them too).
    let cases = [
        (
            "0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 1}], msg_flags=0}, 0) = 1\n",
            "t.pkt:1:42: msg_iov(2) does not match its 1-element array",
        ),
        (
            "0 sendmsg(4, {msg_nam(...)=..., msg_iov(1)=[{..., 1}], msg_flags=0}, 0) = 1\n",
            "t.pkt:1:15: unknown struct field \"msg_nam\"",
        ),
        (
            "0 sendmsg(4, {msg_name(...)=..., msg_iov=[{..., 1}], msg_flags=0}, 0) = 1\n",
            "t.pkt:1:41: msg_iov needs a count, as packetdrill writes it: msg_iov(N)=...",
        ),
        (
            "0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}], msg_flags(0)=0}, 0) = 1\n",
            "t.pkt:1:66: only msg_name and msg_iov take a count in parentheses, not msg_flags",
        ),
        (
            "0 poll([{fd=4, 5}], 1, 0) = 0\n",
            "t.pkt:1:16: expected a field name, found \"5}],\"",
        ),
        (
            "0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}, msg_flags=0}, 0) = 1\n",
            "t.pkt:1:1: unbalanced brackets: the event never closes",
        ),
        (
            "0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}], msg_flags=0 msg_control=[]}, 0) = 1\n",
            "t.pkt:1:69: expected `,` or `}`, found \"msg_control=[]},\"",
        ),
    ];
    for (text, want) in cases {
        let e = parse("t.pkt", text).unwrap_err().to_string();
        assert!(e.starts_with(want), "{text}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn what_the_stack_cannot_honour_is_a_clear_error() {
    // Why: a flag, option or control message the stack has no meaning
    // for must stop the script naming it, never be dropped silently.
    let after_accept = line_of(SERVER, "accept(3, ..., ...) = 4");
    let cases = [
        (
            "   +0 send(4, ..., 40, MSG_OOB) = 40",
            "send: not supported: MSG_OOB",
        ),
        (
            "   +0 send(4, ..., 10, MSG_ERRQUEUE) = 10",
            "send: not supported: MSG_ERRQUEUE on a send",
        ),
        (
            "   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}], msg_flags=0, msg_control=[{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING_OPT_STATS, cmsg_data=0}]}, 0) = 1",
            "recvmsg: not supported: control message SOL_SOCKET/SCM_TIMESTAMPING_OPT_STATS",
        ),
        (
            "   +0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}], msg_flags=1}, 0) = 1",
            "sendmsg: sendmsg ignores msg_flags field in msghdr",
        ),
        (
            "   +0 setsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [1000], 4) = 0",
            "setsockopt: not supported: TCP_USER_TIMEOUT",
        ),
        (
            "   +0 setsockopt(4, SOL_IP, IP_MTU_DISCOVER, [IP_PMTUDISC_DONT], 4) = 0",
            "setsockopt: not supported: IP_MTU_DISCOVER 0",
        ),
        (
            "   +0 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [16384], [4]) = 0",
            "getsockopt: not supported: SO_SNDBUF before setsockopt SO_SNDBUF",
        ),
        (
            "   +0 ioctl(4, SIOCATMARK, [0]) = 0",
            "ioctl: unsupported request SIOCATMARK",
        ),
    ];
    for (call, want) in cases {
        let mut lines: Vec<&str> = SERVER.lines().take(after_accept).collect();
        lines.push(call);
        let text = lines.join("\n") + "\n";
        let e = run(&text).unwrap_err();
        let at = format!("t.pkt:{}: {want}", after_accept + 1);
        assert!(e.starts_with(&at), "{call}\n  {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    // IP_PMTUDISC_DO is what the stack does: accepted.
    let mut lines: Vec<&str> = SERVER.lines().collect();
    let fresh = "   +0 setsockopt(3, SOL_IP, IP_MTU_DISCOVER, [IP_PMTUDISC_DO], 4) = 0";
    lines.insert(line_of(SERVER, "SO_REUSEADDR"), fresh);
    run(&(lines.join("\n") + "\n")).unwrap();
}

#[test]
fn epoll_reports_readiness_level_triggered_as_linux() {
    // Why: each epoll_wait compares its count and first event (mask and
    // data) with what Linux returned for this script.
    run(EPOLL).unwrap();
    // A wrong expectation fails with packetdrill's message: after the
    // read the connection is writable only.
    let n = line_of(EPOLL, "EPOLLONESHOT, fd=5}) = 0");
    let e = run(&with_line(
        EPOLL,
        n - 1,
        "   +0 epoll_wait(4, {events=EPOLLIN|EPOLLOUT, u32=77}, 1, 0) = 1",
    ))
    .unwrap_err();
    assert!(
        e.ends_with(
            "epoll_wait: epoll_event->events does not match script: expected: POLLIN|POLLOUT actual: POLLOUT"
        ),
        "{e}"
    );
    // EPOLLEXCLUSIVE with EPOLLONESHOT is Linux's EINVAL (do_epoll_ctl).
    let n = line_of(EPOLL, "EPOLLIN|EPOLLOUT, u32=77}) = 0");
    let e = run(&with_line(
        EPOLL,
        n,
        "   +0 epoll_ctl(4, EPOLL_CTL_ADD, 5, {events=EPOLLIN|EPOLLEXCLUSIVE|EPOLLONESHOT, fd=5}) = 0",
    ))
    .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "t.pkt:{n}: epoll_ctl: expected = 0, got = -1 EINVAL"
        )),
        "{e}"
    );
}

/// A server that writes 1000 bytes (a write's end: PSH), then 1000 more
/// with MSG_MORE (a full segment, no PSH), then a record with MSG_EOR and
/// a write after it, each its own segment.
const WRITES: &str = r#"--tolerance_usecs=10000
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1000,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
 +.01 < . 1:1(0) ack 1 win 1000
   +0 accept(3, ..., ...) = 4
   +0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0
   +0 write(4, ..., 1000) = 1000
   +0 send(4, ..., 1000, MSG_MORE) = 1000
   +0 > . 1:2001(2000) ack 1
   +0 send(4, ..., 300, MSG_EOR) = 300
   +0 > P. 2001:2301(300) ack 1
   +0 write(4, ..., 300) = 300
   +0 > P. 2301:2601(300) ack 1
"#;

#[test]
fn send_flags_shape_segments_and_a_run_takes_its_last_segments_psh() {
    // Why: the first `>` line spans two segments, P. then . (the second
    // write had MSG_MORE, so no PSH): as packetdrill's aggregate_packets,
    // the run's header is the last segment's, so `.` matches and `P.`
    // does not.
    run(WRITES).unwrap();
    let at = line_of(WRITES, "> . 1:2001");
    let e = run(&with_line(WRITES, at, "   +0 > P. 1:2001(2000) ack 1")).unwrap_err();
    assert!(e.contains("flags differ"), "{e}");
}
