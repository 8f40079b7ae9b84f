//! Resets and blind attacks (RFC 5961), RSTs for segments that match
//! nothing (RFC 9293 §3.10.7.1), and the other synchronized-state checks.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, Event, SocketError, State, TcpConfig};

const A: Flags = Flags::ACK;
const S: Flags = Flags::SYN;
const R: Flags = Flags::RST;
const P: Flags = Flags::PSH;

#[test]
fn exact_rst_resets_an_established_connection() {
    // RFC 5961 §3.2: SEG.SEQ == RCV.NXT is the only RST that resets.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(R, 301));
    assert_eq!(h.ep.state(c), None);
    assert!(
        h.events()
            .contains(&Event::Error(c, SocketError::ConnectionReset))
    );
}

#[test]
fn in_window_inexact_rst_draws_a_challenge_ack() {
    // A RST 100 bytes into the window could be blind: answer with
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and stay ESTABLISHED.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(R, 401));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.state(c), Some(State::Established));
}

#[test]
fn out_of_window_rst_is_dropped_silently() {
    // §3.10.7.4 first check: an unacceptable RST gets no reply at all.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(R, 300u32.wrapping_add(1 << 30)));
    h.expect_nothing();
    assert_eq!(h.ep.state(c), Some(State::Established));
}

#[test]
fn syn_in_a_synchronized_state_draws_a_challenge_ack() {
    // RFC 5961 §4.2: any SYN in ESTABLISHED is answered with a challenge ACK.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(S, 5000));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.state(c), Some(State::Established));
}

#[test]
fn challenge_acks_are_rate_limited() {
    // With the 500 ms out-of-window limit off and a cap of 2 per second, a
    // burst of 5 blind RSTs draws exactly 2 ACKs (RFC 5961 §7's throttle).
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        challenge_ack_limit: 2,
        invalid_ack_ratelimit: Duration::ZERO,
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    let mut replies = 0;
    for i in 0..5 {
        h.inject(Seg::new(R, 400 + i));
        while h.poll().is_some() {
            replies += 1;
        }
    }
    assert_eq!(replies, 2);
    assert_eq!(h.ep.connection_counters(c).unwrap().challenge_acks, 2);
}

#[test]
fn acks_to_unacceptable_segments_wait_500_ms_as_on_linux() {
    // Linux's tcp_invalid_ratelimit: one ACK per 500 ms in reply to
    // unacceptable segments, so a burst of blind RSTs draws one challenge
    // ACK, and the next one only after half a second.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    for i in 0..5 {
        h.inject(Seg::new(R, 400 + i));
    }
    h.expect(A, 101, 301);
    h.expect_nothing();
    h.advance(Duration::from_millis(499));
    h.inject(Seg::new(R, 410));
    h.expect_nothing();
    h.advance(Duration::from_millis(1));
    h.inject(Seg::new(R, 411));
    h.expect(A, 101, 301);
    let counters = h.ep.connection_counters(c).unwrap();
    assert_eq!(counters.challenge_acks, 2);
    assert_eq!(counters.oow_acks_suppressed, 5);
    // Data is exempt: an old data segment is always answered.
    h.inject(Seg::new(A, 250).ack(101).data(b"old"));
    h.expect(A, 101, 301);
}

#[test]
fn ack_of_unsent_data_is_dropped_and_acked() {
    // RFC 5961 §5.2: SEG.ACK > SND.NXT is not acceptable: send an ACK, drop
    // the segment (its data is not delivered).
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(9999).data(b"evil"));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.recv_queue_len(c), 0);
}

#[test]
fn an_ack_below_the_octets_ever_acknowledged_is_too_old() {
    // RFC 5961 §5.2 with Linux's bound (tcp_ack: "do not accept ACK for
    // bytes we never sent"): SND.UNA - SEG.ACK may not exceed the octets
    // acknowledged so far. Nothing is acknowledged yet, so ACK = ISS (one
    // below SND.UNA, well within the peer's 65535-byte window) is too old:
    // a challenge ACK, the data dropped. Once 5 octets are acknowledged, an
    // ACK 5 below SND.UNA is a harmless duplicate and its data is taken.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(100).data(b"early"));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.recv_queue_len(c), 0);
    h.ep.send(h.now, c, b"hello").unwrap();
    h.expect(P | A, 101, 301);
    h.inject(Seg::new(A, 301).ack(106));
    h.inject(Seg::new(P, 301).ack(101).data(b"late!"));
    h.expect(A, 106, 306);
    assert_eq!(h.ep.recv_queue_len(c), 5);
}

#[test]
fn segment_without_ack_is_dropped_in_a_synchronized_state() {
    // §3.10.7.4 fifth check: "if the ACK bit is off, drop the segment".
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).data(b"noack"));
    h.expect_nothing();
    assert_eq!(h.ep.recv_queue_len(c), 0);
}

#[test]
fn ack_at_a_listener_draws_a_reset() {
    // §3.10.7.2: "any acknowledgment is bad if it arrives on a connection
    // still in the LISTEN state": <SEQ=SEG.ACK><CTL=RST>.
    let mut h = Harness::plain(100);
    h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(Flags::NONE, 500).ack(4242));
    h.expect(R, 4242, 0);
}

#[test]
fn segment_for_no_connection_gets_the_closed_state_reset() {
    // §3.10.7.1: with ACK: <SEQ=SEG.ACK><CTL=RST>; without:
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; a RST gets nothing.
    let mut h = Harness::plain(100);
    h.inject(Seg::new(S, 1000));
    h.expect(R | A, 0, 1001);
    h.inject(Seg::new(P, 50).ack(77).data(b"abc"));
    h.expect(R, 77, 0);
    h.inject(Seg::new(P, 50).data(b"abcd"));
    h.expect(R | A, 0, 54);
    h.inject(Seg::new(R, 5));
    h.expect_nothing();
}

#[test]
fn connection_refused_by_a_closed_port() {
    // Our SYN to a port nobody listens on is answered <SEQ=0><ACK=ISS+1><CTL=RST,ACK>
    // by the peer; here we play that peer and check ECONNREFUSED reaches the app.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(R, 0).ack(101));
    assert_eq!(h.ep.state(c), None);
    assert!(
        h.events()
            .contains(&Event::Error(c, SocketError::ConnectionRefused))
    );
}

#[test]
fn exact_rst_in_last_ack_reports_connection_reset() {
    // The peer closed, we shut down our side (LAST-ACK), and the peer
    // resets instead of ACKing our FIN. The socket is still the
    // application's (a shutdown, not a close), so it must learn the
    // connection died: ECONNRESET, as Linux's tcp_reset reports in every
    // state but SYN-SENT (ECONNREFUSED) and CLOSE-WAIT (EPIPE).
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(Flags::FIN, 301).ack(101));
    h.expect(A, 101, 302);
    h.ep.shutdown(h.now, c).unwrap();
    h.expect(Flags::FIN | A, 101, 302);
    assert_eq!(h.ep.state(c), Some(State::LastAck));
    h.inject(Seg::new(R, 302));
    assert!(
        h.events()
            .contains(&Event::Error(c, SocketError::ConnectionReset))
    );
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn exact_rst_in_closing_reports_connection_reset() {
    // Simultaneous close (CLOSING: both FINs crossed, ours not yet ACKed),
    // then the peer resets: ECONNRESET, as on Linux.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.shutdown(h.now, c).unwrap();
    h.expect(Flags::FIN | A, 101, 301);
    h.inject(Seg::new(Flags::FIN, 301).ack(101));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::Closing));
    h.inject(Seg::new(R, 302));
    assert!(
        h.events()
            .contains(&Event::Error(c, SocketError::ConnectionReset))
    );
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn a_syn_with_fin_at_a_listener_is_dropped() {
    // SYN+FIN is no way to open a connection; RFC 9293 leaves it open and
    // Linux's LISTEN drops it ("if (th->fin) goto discard"): no SYN,ACK, no
    // RST, no half-open entry. A plain SYN afterwards opens as usual.
    let mut h = Harness::plain(100);
    let l = h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(Flags::SYN | Flags::FIN, 300));
    h.expect_nothing();
    h.inject(Seg::new(Flags::SYN, 300));
    h.expect(Flags::SYN | A, 100, 301);
    let _ = l;
}

#[test]
fn our_rst_carries_a_timestamp_when_the_connection_uses_them() {
    // RFC 7323 §3.2: "TSopt SHOULD be sent in an <RST> segment" once
    // timestamps are negotiated; Linux's RST on abort carries TSval and
    // TS.Recent as TSecr, so a peer's PAWS-checking middlebox sees it.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        window_scale: None,
        sack: false,
        ..TcpConfig::default()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1460).ts(7000, 1));
    h.expect(A, 101, 301);
    h.ep.abort(h.now, c).unwrap();
    let rst = h.expect(R | A, 101, 301);
    let (_, ecr) = rst.options.timestamps.expect("TSopt on the RST");
    assert_eq!(ecr, 7000, "TSecr echoes TS.Recent");
}
