//! Explicit Congestion Notification (RFC 3168 §6.1): negotiation in the
//! handshake, ECT(0) on new data only, the receiver's echo until CWR, and
//! the sender's once-per-window reduction.
//!
//! Our ISN is 100 and the peer's 300 (MSS 1000) throughout; the plain
//! configuration (no options, no delayed ACK) keeps the segments short.

mod common;

use common::*;
use stack::wire::{Ecn, Flags};
use stack::{CaState, EcnMode, SocketId, TcpConfig};

const A: Flags = Flags::ACK;
const N: Flags = Flags::NONE;
const P: Flags = Flags::PSH;

fn config(ecn: EcnMode) -> TcpConfig {
    TcpConfig {
        isn: Some(100),
        ecn,
        ..TcpConfig::plain()
    }
}

/// An active open that asks for ECN, answered by an ECN-setup SYN-ACK.
fn open_ecn(h: &mut Harness) -> SocketId {
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN | Flags::ECE | Flags::CWR, 100, 0);
    h.inject(Seg::new(Flags::SYN | Flags::ECE, 300).ack(101).mss(1000));
    h.expect(A, 101, 301);
    c
}

/// A passive open whose peer asks for ECN; the listener agrees.
fn accept_ecn(h: &mut Harness) -> SocketId {
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(Seg::new(Flags::SYN | Flags::ECE | Flags::CWR, 300).mss(1000));
    h.expect(Flags::SYN | A | Flags::ECE, 100, 301);
    h.inject(Seg::new(N, 301).ack(101));
    h.ep.accept(l).unwrap()
}

#[test]
fn an_ecn_setup_syn_gets_ece_in_the_syn_ack_only_from_a_listener_that_agrees() {
    // Why: RFC 3168 §6.1.1: a SYN with ECE and CWR asks; a SYN-ACK with
    // ECE (and not CWR) agrees. Linux's default (tcp_ecn=2, Passive)
    // agrees without asking; Off answers a plain SYN-ACK.
    let mut h = Harness::new(config(EcnMode::Passive));
    let c = accept_ecn(&mut h);
    assert!(h.ep.info(c).unwrap().ecn, "negotiated");

    let mut off = Harness::new(config(EcnMode::Off));
    let l = off.ep.listen(LOCAL_PORT, 8).unwrap();
    off.inject(Seg::new(Flags::SYN | Flags::ECE | Flags::CWR, 300).mss(1000));
    off.expect(Flags::SYN | A, 100, 301);
    off.inject(Seg::new(N, 301).ack(101));
    let c = off.ep.accept(l).unwrap();
    assert!(!off.ep.info(c).unwrap().ecn);
}

#[test]
fn a_syn_that_is_itself_ect_is_not_an_ecn_request() {
    // Why: Linux's tcp_ecn_create_request: a path that sets ECT on SYNs
    // is broken for ECN, so such a SYN is answered without ECE.
    let mut h = Harness::new(config(EcnMode::Passive));
    h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(
        Seg::new(Flags::SYN | Flags::ECE | Flags::CWR, 300)
            .mss(1000)
            .ecn(Ecn::Ect0),
    );
    h.expect(Flags::SYN | A, 100, 301);
}

#[test]
fn the_first_syn_asks_for_ecn_and_its_retransmission_does_not() {
    // Why: RFC 3168 §6.1.1.1 and Linux's tcp_ecn_clear_syn (tcp_ecn_fallback
    // on by default): a lost ECN-setup SYN may be a middlebox dropping it,
    // so the retry is a plain SYN, and a SYN-ACK with ECE then is not
    // taken as agreement.
    let mut h = Harness::new(config(EcnMode::On));
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN | Flags::ECE | Flags::CWR, 100, 0);
    h.fire_next_timer();
    h.expect(Flags::SYN, 100, 0);
    h.inject(Seg::new(Flags::SYN | Flags::ECE, 300).ack(101).mss(1000));
    h.expect(A, 101, 301);
    assert!(!h.ep.info(c).unwrap().ecn);
}

#[test]
fn a_syn_ack_with_both_ece_and_cwr_is_not_agreement() {
    // Why: RFC 3168 §6.1.1: "ECE set and CWR not set" in the SYN-ACK; a
    // reflected SYN (both bits) is a broken middlebox, not a peer.
    let mut h = Harness::new(config(EcnMode::On));
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN | Flags::ECE | Flags::CWR, 100, 0);
    h.inject(
        Seg::new(Flags::SYN | Flags::ECE | Flags::CWR, 300)
            .ack(101)
            .mss(1000),
    );
    h.expect(A, 101, 301);
    assert!(!h.ep.info(c).unwrap().ecn);
    h.ep.send(h.now, c, &[7; 100]).unwrap();
    let data = h.expect(A | P, 101, 301);
    assert_eq!(data.ecn, Ecn::NotEct, "no ECT without ECN");
}

#[test]
fn only_new_data_is_ect0_and_pure_acks_and_retransmissions_are_not() {
    // Why: RFC 3168 §6.1.5 (and Linux's tcp_ecn_send): ECT marks data sent
    // for the first time; a retransmission or a pure ACK is Not-ECT.
    let mut h = Harness::new(config(EcnMode::On));
    let c = open_ecn(&mut h);
    h.ep.send(h.now, c, &[7; 500]).unwrap();
    let data = h.expect(A | P, 101, 301);
    assert_eq!(data.ecn, Ecn::Ect0);
    h.fire_next_timer();
    let again = h.expect(A | P, 101, 301);
    assert_eq!(again.payload.len(), 500);
    assert_eq!(again.ecn, Ecn::NotEct, "a retransmission is Not-ECT");
    h.inject(Seg::new(N, 301).ack(601).data(b"reply").ecn(Ecn::Ect0));
    let ack = h.expect(A, 601, 306);
    assert_eq!(ack.ecn, Ecn::NotEct, "a pure ACK is Not-ECT");
    let info = h.ep.info(c).unwrap();
    assert!(info.ecn && info.ecn_seen, "an ECT segment was seen");
}

#[test]
fn a_ce_mark_is_echoed_on_every_ack_until_the_sender_says_cwr() {
    // Why: RFC 3168 §6.1.3: after a CE-marked data segment the receiver
    // sets ECE on its ACKs until a segment with CWR arrives; the marked
    // segment is ACKed at once (Linux: quick-ACK mode).
    let mut h = Harness::new(config(EcnMode::Passive));
    let c = accept_ecn(&mut h);
    h.inject(Seg::new(N, 301).ack(101).data(&[1; 100]).ecn(Ecn::Ce));
    h.expect(A | Flags::ECE, 101, 401);
    h.inject(Seg::new(N, 401).ack(101).data(&[1; 100]).ecn(Ecn::Ect0));
    h.expect(A | Flags::ECE, 101, 501);
    h.inject(
        Seg::new(Flags::CWR, 501)
            .ack(101)
            .data(&[1; 100])
            .ecn(Ecn::Ect0),
    );
    h.expect(A, 101, 601);
    h.inject(Seg::new(N, 601).ack(101).data(&[1; 100]).ecn(Ecn::Ect0));
    h.expect(A, 101, 701);
    assert_eq!(h.ep.recv(h.now, c, &mut [0; 1000]).unwrap(), 400);
}

#[test]
fn ece_reduces_the_window_once_per_window_and_the_next_new_data_says_cwr() {
    // Why: RFC 3168 §6.1.2: the sender halves cwnd on an ECE, at most once
    // per window of data (Linux's CWR state until SND.UNA passes the
    // highest sequence sent at the reduction), and sets CWR on the first
    // new data segment after it.
    let mut h = Harness::new(config(EcnMode::On));
    let c = open_ecn(&mut h);
    h.ep.send(h.now, c, &[7; 20_000]).unwrap();
    let flight: Vec<Seg> = std::iter::from_fn(|| h.poll()).collect();
    assert_eq!(
        flight.len(),
        10,
        "the initial window: ten 1000-byte segments"
    );
    let cwnd = h.ep.info(c).unwrap().snd_cwnd;
    assert_eq!(cwnd, 10_000);

    h.inject(Seg::new(Flags::ECE, 301).ack(1101));
    let info = h.ep.info(c).unwrap();
    assert_eq!(info.ca_state, CaState::Cwr);
    // RFC 5681 eq. 4 over the nine segments still in flight.
    assert_eq!(info.snd_ssthresh, 4500);
    let reduced = info.snd_cwnd;
    assert!(reduced <= 4500, "cwnd {reduced} halved");
    assert!(
        h.poll().is_none(),
        "nine in flight, over the reduced window"
    );
    // Half the flight is acknowledged: room for new data, which carries CWR
    // on its first segment only, and stays ECT(0).
    h.inject(Seg::new(N, 301).ack(6101));
    let next: Vec<Seg> = std::iter::from_fn(|| h.poll()).collect();
    assert!(!next.is_empty(), "new data went out");
    assert!(next.iter().all(|s| s.ecn == Ecn::Ect0));
    assert!(
        next[0].flags.cwr(),
        "the first new data segment carries CWR"
    );
    assert!(next[1..].iter().all(|s| !s.flags.cwr()), "only the first");

    // A second ECE inside the same window is the same congestion event.
    h.inject(Seg::new(Flags::ECE, 301).ack(7101));
    assert_eq!(h.ep.info(c).unwrap().snd_ssthresh, 4500);
    assert_eq!(h.ep.connection_counters(c).unwrap().ecn_reductions, 1);

    // Everything sent so far acknowledged: past the reduction's window,
    // the sender is open again, and a new ECE is a new congestion event.
    let last = next.last().unwrap();
    let high = last.seq + last.payload.len() as u32;
    h.inject(Seg::new(N, 301).ack(high));
    assert_eq!(h.ep.info(c).unwrap().ca_state, CaState::Open);
    while h.poll().is_some() {}
    h.inject(Seg::new(Flags::ECE, 301).ack(high + 1000));
    assert_eq!(h.ep.info(c).unwrap().ca_state, CaState::Cwr);
    assert_eq!(h.ep.connection_counters(c).unwrap().ecn_reductions, 2);
}

#[test]
fn ece_on_a_connection_without_ecn_changes_nothing() {
    // Why: RFC 3168 §6.1.1: without negotiation the bits mean nothing; a
    // peer (or an attacker) setting ECE must not shrink our window.
    let mut h = Harness::new(config(EcnMode::Off));
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.inject(Seg::new(Flags::SYN | Flags::ECE, 300).ack(101).mss(1000));
    h.expect(A, 101, 301);
    h.ep.send(h.now, c, &[7; 5000]).unwrap();
    while h.poll().is_some() {}
    h.inject(
        Seg::new(Flags::ECE | Flags::CWR, 301)
            .ack(1101)
            .ecn(Ecn::Ce),
    );
    let info = h.ep.info(c).unwrap();
    assert_eq!(info.ca_state, CaState::Open);
    assert_eq!(info.snd_ssthresh, u32::MAX, "no congestion signal");
    assert_eq!(h.ep.connection_counters(c).unwrap().ecn_reductions, 0);
}
