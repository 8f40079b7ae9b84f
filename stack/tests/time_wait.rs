//! TIME-WAIT and the lost final ACK: 2·MSL, re-ACK of a retransmitted FIN
//! with a restarted timer, LAST-ACK retransmitting its FIN, RFC 1337.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, State, TcpConfig};

const A: Flags = Flags::ACK;
const F: Flags = Flags::FIN;
const R: Flags = Flags::RST;

fn into_time_wait(h: &mut Harness) -> stack::SocketId {
    let c = h.open_connection(100, 300);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(F, 301).ack(102));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
    c
}

#[test]
fn time_wait_lasts_two_msl() {
    // MSL = 30 s by default: the TCB is still there just before 60 s and gone at 60 s.
    let mut h = Harness::plain(100);
    let c = into_time_wait(&mut h);
    h.advance(Duration::from_millis(59_999));
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
    h.advance(Duration::from_millis(1));
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn retransmitted_fin_in_time_wait_is_reacked_and_restarts_the_timer() {
    // The lost-final-ACK case: our ACK of the peer's FIN was lost, the peer
    // resends FIN; we ACK again and wait a fresh 2·MSL from now.
    let mut h = Harness::plain(100);
    let c = into_time_wait(&mut h);
    h.advance(Duration::from_secs(40));
    h.inject(Seg::new(F, 301).ack(102));
    h.expect(A, 102, 302);
    h.advance(Duration::from_secs(59));
    assert_eq!(
        h.ep.state(c),
        Some(State::TimeWait),
        "restarted at 40 s, so alive at 99 s"
    );
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn last_ack_retransmits_its_fin_on_timeout() {
    // Our FIN from LAST-ACK is lost: the RTO resends it with the same
    // sequence number until it is ACKed.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 302);
    h.fire_next_timer();
    h.expect(F | A, 101, 302);
    h.inject(Seg::new(Flags::NONE, 302).ack(102));
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn rst_in_time_wait_is_ignored_by_default() {
    // RFC 1337 (on by default): a RST must not assassinate TIME-WAIT.
    let mut h = Harness::plain(100);
    let c = into_time_wait(&mut h);
    h.inject(Seg::new(R, 302));
    h.expect_nothing();
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
}

#[test]
fn rst_in_time_wait_closes_when_rfc1337_is_off() {
    // With the RFC 1337 guard off, an exact RST ends TIME-WAIT early (Linux's default).
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        rfc1337: false,
        ..TcpConfig::plain()
    });
    let c = into_time_wait(&mut h);
    h.inject(Seg::new(R, 302));
    assert_eq!(h.ep.state(c), None);
}

/// The server closes first, so the server side of the tuple is in TIME-WAIT.
fn server_in_time_wait(h: &mut Harness) -> (stack::SocketId, stack::SocketId) {
    let (l, c) = h.accept_connection(100, 300);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(F, 301).ack(102));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
    (l, c)
}

#[test]
fn a_listener_cannot_rebind_over_time_wait_without_reuse() {
    // A restarted server: its old connection lingers in TIME-WAIT. A plain
    // listen fails with EADDRINUSE; with address reuse (SO_REUSEADDR) it works.
    let mut h = Harness::plain(100);
    let (l, _) = server_in_time_wait(&mut h);
    h.ep.close(h.now, l).unwrap();
    assert_eq!(
        h.ep.listen(LOCAL_PORT, 8),
        Err(stack::SocketError::AddressInUse)
    );
    assert!(h.ep.listen_reuse(LOCAL_PORT, 8).is_ok());
}

#[test]
fn a_new_syn_with_a_higher_sequence_number_reopens_time_wait() {
    // RFC 6191 without timestamps: the new incarnation's ISN (5000) is
    // beyond the old connection's final sequence (302), so the listener
    // answers with a SYN-ACK and the old TIME-WAIT TCB is gone.
    let mut h = Harness::plain(100);
    let (_, old) = server_in_time_wait(&mut h);
    h.inject(Seg::new(Flags::SYN, 5000));
    let syn_ack = h.poll().expect("SYN-ACK for the new incarnation");
    assert_eq!((syn_ack.flags, syn_ack.ack), (Flags::SYN | A, 5001));
    assert_eq!(h.ep.state(old), None);
}

#[test]
fn a_new_syn_with_an_old_sequence_number_is_answered_as_time_wait_answers() {
    // A SYN at or below the old RCV.NXT could be an old duplicate: TIME-WAIT
    // stays and answers with an ACK (RFC 5961 challenge), no SYN-ACK.
    let mut h = Harness::plain(100);
    let (_, old) = server_in_time_wait(&mut h);
    h.inject(Seg::new(Flags::SYN, 200));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(old), Some(State::TimeWait));
}

#[test]
fn time_wait_acks_a_fin_beyond_rcv_nxt_and_restarts_the_timer() {
    // In TIME-WAIT at RCV.NXT = 302, a FIN at 302 (one past the FIN we
    // already took) is acceptable but not the retransmission RFC 9293
    // names. Linux's TIME-WAIT socket (tcp_timewait_state_process) ACKs
    // every segment that is not a bare one exactly at RCV.NXT and, since it
    // carries an ACK, restarts 2·MSL; so do we. (We used to stay silent.)
    let mut h = Harness::plain(100);
    let c = into_time_wait(&mut h);
    h.advance(Duration::from_secs(40));
    h.inject(Seg::new(F, 302).ack(102));
    h.expect(A, 102, 302);
    h.advance(Duration::from_secs(59));
    assert_eq!(h.ep.state(c), Some(State::TimeWait), "restarted at 40 s");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn time_wait_acks_an_old_ack_rate_limited() {
    // An old ACK (SEQ below RCV.NXT) is out of window: ACKed, but at most
    // once per 500 ms (Linux's tcp_timewait_check_oow_rate_limit), so two
    // stacks cannot ACK each other in a loop.
    let mut h = Harness::plain(100);
    let _c = into_time_wait(&mut h);
    h.advance(Duration::from_secs(1));
    h.inject(Seg::new(Flags::NONE, 250).ack(102));
    h.expect(A, 102, 302);
    h.inject(Seg::new(Flags::NONE, 250).ack(102));
    h.expect_nothing();
    h.advance(Duration::from_millis(500));
    h.inject(Seg::new(Flags::NONE, 250).ack(102));
    h.expect(A, 102, 302);
}

#[test]
fn time_wait_restarts_quietly_on_a_bare_ack_at_rcv_nxt() {
    // A bare ACK exactly at RCV.NXT is the one in-window segment TIME-WAIT
    // takes without a reply: Linux restarts 2·MSL and sends nothing (an ACK
    // would answer an ACK).
    let mut h = Harness::plain(100);
    let c = into_time_wait(&mut h);
    h.advance(Duration::from_secs(30));
    h.inject(Seg::new(Flags::NONE, 302).ack(102));
    h.expect_nothing();
    h.advance(Duration::from_secs(59));
    assert_eq!(h.ep.state(c), Some(State::TimeWait), "restarted at 30 s");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ep.state(c), None);
}
