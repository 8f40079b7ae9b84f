//! TIME-WAIT: a delayed SYN after the close, a RST that must not cut it
//! short, and a new SYN that reopens it (RFC 9293 §3.6.1, RFC 1337, RFC 6191).

use super::{
    PORT, Scenario, Way, check, client, connect_to_server, has_data, is_syn, lan, ms, pair,
    received, send, server, server_addr,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::{Duration, FaultAction, FaultRule, SimError, Time};
use stack::wire::Flags;
use stack::{SocketError, State};

pub(super) fn delayed_syn_after_close() -> Scenario {
    Scenario::new("delayed-syn-after-close", build_delayed_syn_after_close)
        .summary("a duplicate SYN arrives after the connection ended")
        .doc("RFC 9293 §3.10.7.2 and §3.10.7.4. The late SYN opens a half-open SYN-RECEIVED at the listener; the client, in TIME-WAIT, answers the SYN,ACK with an ACK that the server rejects with RST (ignored under RFC 1337); the half-open entry times out. No phantom connection is accepted.")
        .expect(expect_delayed_syn_after_close)
}

pub(super) fn time_wait_assassination() -> Scenario {
    Scenario::new("time-wait-assassination", build_time_wait_assassination)
        .summary("a RST in TIME-WAIT is ignored (RFC 1337)")
        .doc("RFC 1337: an old duplicate makes the client ACK into a closed server, whose RST reaches the client in TIME-WAIT; TIME-WAIT is not cut short.")
        .expect(expect_time_wait_assassination)
}

pub(super) fn time_wait_reuse() -> Scenario {
    Scenario::new("time-wait-reuse", build_time_wait_reuse)
        .summary("a restarted server rebinds with address reuse; a new SYN reopens TIME-WAIT")
        .doc("RFC 6191 and RFC 9293 §3.6.1: the server closed first, so its side of the 4-tuple is in TIME-WAIT when it restarts. A plain listen fails with EADDRINUSE; with address reuse (SO_REUSEADDR) it succeeds, and the client's new SYN, whose timestamp is newer than TS.Recent, reopens the 4-tuple.")
        .expect(expect_time_wait_reuse)
}

fn build_delayed_syn_after_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(ms(100), send(0, 100))
        .at(ms(200), Action::Close { conn: 0 });
    // A copy of the first SYN arrives 3 s later, long after the connection closed.
    let late_copy = FaultRule::new(
        "late copy of the SYN",
        is_syn,
        FaultAction::Duplicate(Duration::from_secs(3)),
    )
    .nth(1);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, late_copy)],
        Time::from_secs(200),
    )
}

fn expect_delayed_syn_after_close(o: &Outcome) -> Result<(), String> {
    let accepted = o
        .host(1)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 1,
        "the stale SYN never became an accepted connection",
    )?;
    let syn_received = o
        .states(1)
        .iter()
        .filter(|&&s| s == State::SynReceived)
        .count();
    check(
        syn_received == 2,
        "the stale SYN opened a half-open SYN-RECEIVED that later timed out",
    )?;
    check(
        o.errors(0).is_empty(),
        "the client (in TIME-WAIT) was not disturbed",
    )
}

fn build_time_wait_assassination(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(300), Action::Close { conn: 0 });
    let s = server(seed).at(ms(50), send(0, 500)).close_on_eof();
    // An old duplicate of the server's data wanders in during TIME-WAIT.
    let old_data = FaultRule::new(
        "old duplicate data",
        has_data,
        FaultAction::Duplicate(Duration::from_secs(5)),
    )
    .nth(1);
    pair(
        seed,
        c,
        s,
        lan(),
        vec![(Way::ServerToClient, old_data)],
        Time::from_secs(120),
    )
}

fn expect_time_wait_assassination(o: &Outcome) -> Result<(), String> {
    check(
        o.sent_with(1, Flags::RST) >= 1,
        "the closed server answered the client's ACK with RST",
    )?;
    // The client's TIME-WAIT began around 0.31 s and must last the full 60 s.
    let log = &o.host(0).log;
    let entered = log.iter().find(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                to: State::TimeWait,
                ..
            }
        )
    });
    let left = log.iter().find(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                from: State::TimeWait,
                ..
            }
        )
    });
    match (entered, left) {
        (Some(a), Some(b)) => check(
            b.time.saturating_since(a.time) >= Duration::from_secs(60),
            "RFC 1337: the RST did not cut TIME-WAIT short",
        ),
        _ => Err("client must pass through TIME-WAIT".into()),
    }
}

fn build_time_wait_reuse(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(
            ms(500),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(4000),
            },
        )
        .at(ms(550), send(1, 1000))
        .at(ms(600), Action::Close { conn: 1 })
        .close_on_eof();
    // The server closes first (its side goes to TIME-WAIT), then restarts:
    // a plain listen is refused, a listen with address reuse succeeds, and
    // the client's new SYN on the same 4-tuple reopens TIME-WAIT (RFC 6191).
    let s = server(seed)
        .at(ms(100), Action::Close { conn: 0 })
        .at(ms(200), Action::CloseListeners)
        .at(
            ms(300),
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .at(
            ms(400),
            Action::ListenReuse {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_time_wait_reuse(o: &Outcome) -> Result<(), String> {
    let refused = o
        .host(1)
        .log
        .iter()
        .filter(|l| {
            matches!(
                l.record,
                crate::host::Record::CallFailed {
                    error: SocketError::AddressInUse,
                    ..
                }
            )
        })
        .count();
    check(
        refused == 1,
        "the plain listen was refused with EADDRINUSE while TIME-WAIT lingered",
    )?;
    let accepted = o
        .host(1)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 2,
        "the restarted server accepted the new connection on the same 4-tuple",
    )?;
    let tw_cut = o.host(1).log.iter().any(|l| {
        matches!(
            l.record,
            crate::host::Record::State {
                from: State::TimeWait,
                to: State::Closed,
                ..
            }
        ) && l.time < Time::from_secs(1)
    });
    check(
        tw_cut,
        "the new SYN ended the old TIME-WAIT early (RFC 6191)",
    )?;
    check(
        received(o, 1) == 1000,
        "the new incarnation carried its data",
    )
}
