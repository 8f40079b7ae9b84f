//! Closing a connection: four-way and three-way close, simultaneous close,
//! a lost final ACK, and a half-close (RFC 9293 §3.6).

use super::{
    Scenario, Way, check, client, connect_to_server, is_pure_ack, lan, ms, pair, received, send,
    server,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::{FaultAction, FaultRule, SimError, Time};
use stack::State;
use stack::wire::Flags;

pub(super) fn four_way_close() -> Scenario {
    Scenario::new("four-way-close", build_four_way)
        .summary("active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT; passive: CLOSE-WAIT, LAST-ACK")
        .doc("RFC 9293 §3.6 Figure 12, case 1. The server's ACK of the client's FIN and its own FIN leave 200 ms apart, so all four segments are visible.")
        .expect(expect_four_way)
}

pub(super) fn three_way_close() -> Scenario {
    Scenario::new("three-way-close", build_three_way)
        .summary("the server's FIN rides on its ACK of the client's FIN")
        .doc("RFC 9293 §3.6; the server closes as soon as it reads EOF, so its FIN is piggybacked on the ACK and the client goes FIN-WAIT-1 -> TIME-WAIT directly (Figure 5's 'rcv FIN,ACK').")
        .expect(expect_three_way)
}

pub(super) fn simultaneous_close() -> Scenario {
    Scenario::new("simultaneous-close", build_simultaneous_close)
        .summary("both sides close at once: CLOSING on both")
        .doc("RFC 9293 §3.6 Figure 13. The FINs cross; each side in FIN-WAIT-1 receives a FIN (CLOSING), then the ACK of its own FIN (TIME-WAIT).")
        .expect(expect_simultaneous_close)
}

pub(super) fn lost_final_ack() -> Scenario {
    Scenario::new("lost-final-ack", build_lost_final_ack)
        .summary("the last ACK is lost: LAST-ACK retransmits FIN, TIME-WAIT re-ACKs")
        .doc("RFC 9293 §3.6 and §3.10.7.4 (TIME-WAIT: 'acknowledge it, and restart the 2 MSL timeout'). The client's final ACK is dropped; the server's FIN is retransmitted on RTO and re-ACKed.")
        .expect(expect_lost_final_ack)
}

pub(super) fn half_close() -> Scenario {
    Scenario::new("half-close", build_half_close)
        .summary("after SHUT_WR the client still receives until the server's FIN")
        .doc("RFC 9293 §3.6 and §3.10.4: a half-closed connection keeps delivering data in the open direction.")
        .expect(expect_half_close)
}

fn build_four_way(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(50), send(0, 5000))
        .at(ms(100), Action::Close { conn: 0 });
    let s = server(seed).at(ms(300), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_four_way(o: &Outcome) -> Result<(), String> {
    check(
        o.states(0).ends_with(&[
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed,
        ]),
        "client: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT, CLOSED",
    )?;
    check(
        o.states(1)
            .ends_with(&[State::CloseWait, State::LastAck, State::Closed]),
        "server: CLOSE-WAIT, LAST-ACK, CLOSED",
    )?;
    check(received(o, 1) == 5000, "server read all 5000 bytes")
}

fn build_three_way(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
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

fn expect_three_way(o: &Outcome) -> Result<(), String> {
    check(
        !o.visited(0, State::FinWait2),
        "client never in FIN-WAIT-2: the server's FIN rode on its ACK",
    )?;
    check(
        o.states(0)
            .ends_with(&[State::FinWait1, State::TimeWait, State::Closed]),
        "client: FIN-WAIT-1 -> TIME-WAIT",
    )?;
    check(
        o.sent_with(1, Flags::FIN | Flags::ACK) == 1,
        "server sent exactly one FIN,ACK",
    )
}

fn build_simultaneous_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(200), Action::Close { conn: 0 });
    let s = server(seed).at(ms(200), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_simultaneous_close(o: &Outcome) -> Result<(), String> {
    for i in 0..2 {
        check(
            o.states(i).ends_with(&[
                State::FinWait1,
                State::Closing,
                State::TimeWait,
                State::Closed,
            ]),
            "both: FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED",
        )?;
    }
    Ok(())
}

fn build_lost_final_ack(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(100), Action::Close { conn: 0 });
    // The client's pure ACKs: #1 completes the handshake, #2 answers the
    // server's FIN. Drop #2: the final ACK is lost.
    let drop_final_ack =
        FaultRule::named("drop the final ACK", is_pure_ack, FaultAction::Drop).nth(2);
    pair(
        seed,
        c,
        server(seed).close_on_eof(),
        lan(),
        vec![(Way::ClientToServer, drop_final_ack)],
        Time::from_secs(120),
    )
}

fn expect_lost_final_ack(o: &Outcome) -> Result<(), String> {
    check(o.visited(1, State::LastAck), "server in LAST-ACK")?;
    check(
        o.retransmissions(1) >= 1,
        "server retransmitted its FIN from LAST-ACK",
    )?;
    check(
        o.sent_with(0, Flags::ACK) >= 3,
        "client in TIME-WAIT ACKed the retransmitted FIN again",
    )?;
    check(
        o.states(1).last() == Some(&State::Closed),
        "server reached CLOSED once the re-ACK arrived",
    )
}

fn build_half_close(seed: u64) -> Result<Setup, SimError> {
    let c = client(seed)
        .at(ms(0), connect_to_server())
        .at(ms(50), send(0, 10_000))
        .at(ms(60), Action::Shutdown { conn: 0 });
    let s = server(seed)
        .at(ms(300), send(0, 50_000))
        .at(ms(310), Action::Close { conn: 0 });
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_half_close(o: &Outcome) -> Result<(), String> {
    check(
        o.visited(0, State::FinWait2),
        "client half-closed: FIN-WAIT-2",
    )?;
    check(
        received(o, 0) == 50_000,
        "client still read all 50,000 bytes after its FIN",
    )?;
    check(
        received(o, 1) == 10_000,
        "server read the client's 10,000 bytes then EOF",
    )?;
    check(o.visited(1, State::LastAck), "server closed last: LAST-ACK")
}
