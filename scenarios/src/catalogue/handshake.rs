//! Opening a connection: the three-way handshake, simultaneous open, an
//! old duplicate SYN, and a SYN to a closed port (RFC 9293 §3.5, §3.10.7).

use super::{
    CLIENT, SERVER, Scenario, Way, check, client, connect_to_server, host, is_syn, lan, ms, pair,
    received, send, server, server_addr,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::{Duration, FaultAction, FaultRule, SimError, Time};
use stack::wire::Flags;
use stack::{SocketError, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

pub(super) fn handshake() -> Scenario {
    Scenario::new("handshake", build_handshake)
        .summary("three-way handshake, a little data, orderly close")
        .doc("RFC 9293 §3.5 Figure 6. SYN-SENT --> <CTL=SYN>, SYN-RECEIVED <-- <CTL=SYN,ACK>, ESTABLISHED on both sides after the third segment; ack = ISN + 1 throughout.")
        .expect(expect_handshake)
}

pub(super) fn simultaneous_open() -> Scenario {
    Scenario::new("simultaneous-open", build_simultaneous_open)
        .summary("both sides send SYN at once")
        .doc("RFC 9293 §3.5 Figure 7. Each SYN-SENT side receives the other's SYN, moves to SYN-RECEIVED and answers SYN,ACK; both reach ESTABLISHED.")
        .expect(expect_simultaneous_open)
}

pub(super) fn old_duplicate_syn() -> Scenario {
    Scenario::new("old-duplicate-syn", build_old_duplicate_syn)
        .summary("a stale SYN reaches the listener during the real handshake")
        .doc("RFC 9293 §3.5 Figure 8. The old SYN makes the server answer with a SYN,ACK the client cannot accept; the client sends <SEQ=SEG.ACK><CTL=RST>, the server returns to LISTEN, and the real connection completes.")
        .expect(expect_old_duplicate_syn)
}

pub(super) fn connection_refused() -> Scenario {
    Scenario::new("connection-refused", build_refused)
        .summary("SYN to a closed port draws RST,ACK: ECONNREFUSED")
        .doc("RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; §3.10.7.3: a RST with an acceptable ACK in SYN-SENT means 'connection refused'.")
        .expect(expect_refused)
}

fn build_handshake(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(50), send(0, 1000))
        .at(ms(100), Action::Close { conn: 0 });
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![],
        Time::from_secs(120),
    )
}

fn expect_handshake(o: &Outcome) -> Result<(), String> {
    check(
        o.states(0)
            .starts_with(&[State::SynSent, State::Established]),
        "client: SYN-SENT then ESTABLISHED",
    )?;
    check(
        o.states(1)
            .starts_with(&[State::SynReceived, State::Established]),
        "server: SYN-RECEIVED then ESTABLISHED",
    )?;
    check(received(o, 1) == 1000, "server read the 1000 bytes")
}

fn build_simultaneous_open(seed: u64) -> Result<Setup, SimError> {
    let a = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), 6000),
                local_port: Some(5000),
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    let b = host(seed, "server", SERVER, TcpConfig::default())
        .at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(CLIENT), 5000),
                local_port: Some(6000),
            },
        )
        .at(ms(100), Action::Close { conn: 0 });
    pair(seed, a, b, lan(), vec![], Time::from_secs(120))
}

fn expect_simultaneous_open(o: &Outcome) -> Result<(), String> {
    for i in 0..2 {
        check(
            o.states(i)
                .starts_with(&[State::SynSent, State::SynReceived, State::Established]),
            "both: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED",
        )?;
    }
    Ok(())
}

fn build_old_duplicate_syn(seed: u64) -> Result<Setup, SimError> {
    // Attempt 1 from port 4000 is abandoned in SYN-SENT (nothing is sent on
    // abort there); its SYN is held in the network for 1 s. Attempt 2 from
    // the same port at 1.002 s has a new ISN. The stale SYN reaches the
    // listener first (RFC 9293 Figure 8).
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(ms(500), Action::Abort { conn: 0 })
        .at(
            ms(1002),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(Time::from_secs(5), Action::Close { conn: 1 });
    let hold_first_syn = FaultRule::new(
        "hold the first SYN",
        is_syn,
        FaultAction::Delay(Duration::from_millis(1000)),
    )
    .nth(1);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, hold_first_syn)],
        Time::from_secs(120),
    )
}

fn expect_old_duplicate_syn(o: &Outcome) -> Result<(), String> {
    let server = o.states(1);
    let back_to_listen = server
        .windows(2)
        .any(|w| w == [State::SynReceived, State::Listen]);
    check(
        back_to_listen,
        "server: the stale SYN's SYN-RECEIVED was reset back to LISTEN",
    )?;
    check(
        o.sent_with(0, Flags::RST) >= 1,
        "client sent <SEQ=SEG.ACK><CTL=RST> for the unacceptable SYN-ACK",
    )?;
    check(
        server.contains(&State::Established),
        "the real connection completed",
    )
}

fn build_refused(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed).at(
        ms(0),
        Action::Connect {
            remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), 9),
            local_port: None,
        },
    );
    pair(seed, c, server(seed), lan(), vec![], Time::from_secs(10))
}

fn expect_refused(o: &Outcome) -> Result<(), String> {
    check(
        o.errors(0) == vec![SocketError::ConnectionRefused],
        "client: ECONNREFUSED",
    )?;
    check(
        o.sent_with(1, Flags::RST | Flags::ACK) == 1,
        "server answered <SEQ=0><ACK=ISS+1><CTL=RST,ACK>",
    )
}
