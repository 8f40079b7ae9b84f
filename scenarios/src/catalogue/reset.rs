//! Resets and dead peers: close with unread data, ABORT, an abort from
//! CLOSE-WAIT, a rebooted peer, and keepalive finding a silent one
//! (RFC 9293 §3.5.1, §3.8.4, §3.10.5, §3.10.7; RFC 2525 §2.17).

use super::{
    CLIENT, IntoStack, Scenario, check, client, connect_to_server, host, lan, ms, pair, send,
    server,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::{Duration, SimError, Time};
use stack::wire::Flags;
use stack::{SocketError, State, TcpConfig};

pub(super) fn rst_on_unread_close() -> Scenario {
    Scenario::new("rst-on-unread-close", build_rst_on_unread_close)
        .summary("close with unread data sends RST instead of FIN")
        .doc("RFC 2525 §2.17, RFC 1122 4.2.2.13: the server never reads, then closes; it aborts with RST,ACK and the client sees ECONNRESET.")
        .expect(expect_rst_on_unread_close)
}

pub(super) fn abort() -> Scenario {
    Scenario::new("abort", build_abort)
        .summary("ABORT sends RST,ACK; the peer sees ECONNRESET")
        .doc("RFC 9293 §3.10.5: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (Linux's R.), accepted by the peer because SEQ = RCV.NXT (RFC 5961 §3.2).")
        .expect(expect_abort)
}

pub(super) fn close_wait_abort() -> Scenario {
    Scenario::new("close-wait-abort", build_close_wait_abort)
        .summary("the peer never closes, then its process exits: RST")
        .doc("RFC 9293 §3.6: the server sits in CLOSE-WAIT while the client waits in FIN-WAIT-2; when the server's process exits its connection is aborted with RST.")
        .expect(expect_close_wait_abort)
}

pub(super) fn half_open() -> Scenario {
    Scenario::new("half-open", build_half_open)
        .summary("the server crashes and reboots; the client's next segment draws RST")
        .doc("RFC 9293 §3.5.1 (half-open connections) and §3.10.7.1: the rebooted server has no TCB, answers the client's data with <SEQ=SEG.ACK><CTL=RST>, and the client resets.")
        .expect(expect_half_open)
}

pub(super) fn half_open_keepalive() -> Scenario {
    Scenario::new("half-open-keepalive", build_half_open_keepalive)
        .summary("keepalive detects a silent dead peer")
        .doc("RFC 9293 §3.8.4 (RFC 1122 4.2.3.6). The server dies and the path goes dark; the idle client's keepalive probes go unanswered and it gives up with ETIMEDOUT (and a RST, as Linux).")
        .expect(expect_half_open_keepalive)
}

fn build_rst_on_unread_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(50), send(0, 3000));
    let s = server(seed)
        .at(Time::ZERO, Action::Reading(false))
        .at(ms(200), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(10))
}

fn expect_rst_on_unread_close(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(1, Flags::RST | Flags::ACK) == 1,
        "server closed with unread data: RST,ACK, not FIN",
    )?;
    check(o.sent_with(1, Flags::FIN) == 0, "no FIN from the server")?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client: ECONNRESET",
    )
}

fn build_abort(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(100), Action::Abort { conn: 0 });
    pair(seed, c, server(seed), lan(), vec![], Time::from_secs(10))
}

fn expect_abort(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(0, Flags::RST | Flags::ACK) == 1,
        "client aborted with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>",
    )?;
    check(
        o.errors(1) == vec![SocketError::ConnectionReset],
        "server: ECONNRESET",
    )
}

fn build_close_wait_abort(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(100), Action::Close { conn: 0 });
    // The server application never closes; at 5 s its process exits.
    let s = server(seed).at(Time::from_secs(5), Action::Abort { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(30))
}

fn expect_close_wait_abort(o: &Outcome) -> Result<(), String> {
    check(o.visited(1, State::CloseWait), "server sat in CLOSE-WAIT")?;
    check(o.visited(0, State::FinWait2), "client waited in FIN-WAIT-2")?;
    check(
        o.sent_with(1, Flags::RST) == 1,
        "the exiting process's connection sent RST",
    )?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client: ECONNRESET",
    )
}

fn build_half_open(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(2000), send(0, 100));
    let s = server(seed).at(ms(1000), Action::Crash);
    pair(seed, c, s, lan(), vec![], Time::from_secs(30))
}

fn expect_half_open(o: &Outcome) -> Result<(), String> {
    check(
        o.host(1)
            .log
            .iter()
            .any(|l| l.record == crate::host::Record::Crash),
        "server crashed",
    )?;
    check(
        o.sent_with(1, Flags::RST) == 1,
        "the rebooted server answered the client's data with RST",
    )?;
    check(
        o.errors(0) == vec![SocketError::ConnectionReset],
        "client learned of the half-open connection: ECONNRESET",
    )
}

fn build_half_open_keepalive(seed: u64) -> Result<Setup, SimError> {
    let keepalive = TcpConfig {
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10).into_stack(),
            interval: Duration::from_secs(1).into_stack(),
            probes: 3,
        }),
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, keepalive).at(ms(0), connect_to_server());
    // The server dies silently: it loses its state and the path goes dark.
    let s = server(seed).at(ms(1000), Action::Crash);
    let link = lan().with_down(Time::from_secs(1), Time::from_secs(1000));
    pair(seed, c, s, link, vec![], Time::from_secs(60))
}

fn expect_half_open_keepalive(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(0)[0].counters.keepalive_probes == 3,
        "client sent three keepalive probes",
    )?;
    check(
        o.errors(0) == vec![SocketError::TimedOut],
        "client gave up on the silent peer: ETIMEDOUT",
    )
}
