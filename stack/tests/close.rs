//! Closing: four-way close from either side, FIN piggybacked on the ACK
//! (three-way close), FIN on data, simultaneous close through CLOSING,
//! FIN-WAIT-1 straight to TIME-WAIT, half-close, close with unread data.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Event, SocketError, State};

const A: Flags = Flags::ACK;
const F: Flags = Flags::FIN;
const R: Flags = Flags::RST;
const P: Flags = Flags::PSH;

#[test]
fn active_close_walks_fin_wait_1_fin_wait_2_time_wait() {
    // Four-way close, we close first: FIN; its ACK -> FIN-WAIT-2; the peer's
    // FIN -> ACK and TIME-WAIT.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    assert_eq!(h.ep.state(c), Some(State::FinWait1));
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    h.inject(Seg::new(F, 301).ack(102));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
}

#[test]
fn passive_close_walks_close_wait_last_ack_closed() {
    // The peer closes first: its FIN is ACKed (CLOSE-WAIT, EOF to the
    // reader); our close sends FIN (LAST-ACK); its ACK ends the connection.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
    assert_eq!(h.ep.recv(h.now, c, &mut [0; 8]), Ok(0));
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 302);
    assert_eq!(h.ep.state(c), Some(State::LastAck));
    h.inject(Seg::new(Flags::NONE, 302).ack(102));
    assert_eq!(h.ep.state(c), None);
    assert!(h.events().contains(&Event::Closed(c)));
}

#[test]
fn fin_and_ack_together_take_fin_wait_1_straight_to_time_wait() {
    // Three-way close from the active side: the peer's FIN arrives with the
    // ACK of our FIN in one segment, so FIN-WAIT-2 is never visited.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(F, 301).ack(102));
    h.expect(A, 102, 302);
    let states = Harness::states_of(&h.events(), c);
    assert_eq!(
        states,
        vec![
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::TimeWait
        ]
    );
}

#[test]
fn simultaneous_close_passes_through_closing() {
    // Both FINs cross: FIN-WAIT-1 receives a FIN -> CLOSING; the ACK of our
    // FIN -> TIME-WAIT.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::Closing));
    h.inject(Seg::new(Flags::NONE, 302).ack(102));
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
}

#[test]
fn fin_carried_on_data_is_delivered_after_the_data() {
    // A segment with data and FIN: the reader gets the bytes, then EOF,
    // and the ACK covers data and FIN (ack = 301 + 5 + 1).
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F | P, 301).ack(101).data(b"hello"));
    h.expect(A, 101, 307);
    let mut buf = [0u8; 16];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(0));
}

#[test]
fn our_fin_rides_on_the_last_data_segment() {
    // send() then close(): the FIN is piggybacked on the data segment
    // (FP. 101:106(5)), as Linux does when both are queued together.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"bye!!").unwrap();
    h.ep.close(h.now, c).unwrap();
    let seg = h.expect(F | P | A, 101, 301);
    assert_eq!(seg.payload, b"bye!!");
}

#[test]
fn half_close_still_delivers_the_peers_data() {
    // After our shutdown (SHUT_WR) the peer may keep sending; we ACK and
    // deliver it until its FIN.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.shutdown(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    h.inject(Seg::new(P, 301).ack(102).data(b"more data"));
    h.expect(A, 102, 310);
    let mut buf = [0u8; 32];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(9));
    assert_eq!(h.ep.send(h.now, c, b"x"), Err(SocketError::BrokenPipe));
}

#[test]
fn close_with_unread_data_sends_rst_not_fin() {
    // RFC 2525 §2.17: closing with unread data aborts with
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> so the peer knows data was lost.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).data(b"unread"));
    h.expect(A, 101, 307);
    h.ep.close(h.now, c).unwrap();
    h.expect(R | A, 101, 307);
    h.expect_nothing();
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn abort_sends_rst_ack_from_a_synchronized_state() {
    // ABORT in ESTABLISHED: `R.` with SEQ = SND.NXT and ACK = RCV.NXT.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.abort(h.now, c).unwrap();
    h.expect(R | A, 101, 301);
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn data_after_close_is_answered_with_a_rst_at_its_ack() {
    // The application closed (FIN-WAIT-2, orphaned), so new data cannot be
    // delivered: the reply is <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1's
    // form, what Linux sends), not a RST,ACK at SND.NXT. The peer's segment
    // acknowledges less than SND.NXT so the two forms differ in SEQ too.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"hello").unwrap();
    h.expect(P | A, 101, 301);
    h.ep.close(h.now, c).unwrap();
    h.expect(F | A, 106, 301);
    h.inject(Seg::new(P, 301).ack(103).data(b"late"));
    h.expect(R, 103, 0);
    h.expect_nothing();
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn a_fin_beyond_a_hole_draws_a_duplicate_ack_at_once() {
    // FIN-WAIT-2 after shutdown: a bare FIN at RCV.NXT+5 is out of order
    // (RFC 5681 §4.2: ACK out-of-order segments at once); it is held, not
    // taken, so the ACK still says RCV.NXT and the state stays FIN-WAIT-2
    // until the hole is filled.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.shutdown(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    h.inject(Seg::new(F, 306).ack(102));
    h.expect(A, 102, 301);
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    h.inject(Seg::new(P, 301).ack(102).data(b"12345"));
    h.expect(A, 102, 307);
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
}

#[test]
fn every_retransmission_of_the_peers_fin_is_acked_in_close_wait() {
    // Our ACK of the peer's FIN was lost and the FIN comes again, twice
    // within 500 ms: each copy is a duplicate (SEQ below RCV.NXT) and is
    // ACKed. The 500 ms limit on ACKs to unacceptable segments spares a
    // segment that occupies sequence space (Linux tcp_oow_rate_limited), so
    // the second ACK is not suppressed.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    h.advance(stack::Duration::from_millis(100));
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
}

#[test]
fn a_second_fin_past_the_first_is_ignored_in_close_wait() {
    // After the peer's FIN (RCV.NXT = 302) a FIN at 302, or further on,
    // would end a stream that has already ended: it is ignored without a
    // reply, as Linux ignores anything at or past RCV.NXT in CLOSE-WAIT.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    h.inject(Seg::new(F, 302).ack(101));
    h.expect_nothing();
    h.inject(Seg::new(F, 310).ack(101));
    h.expect_nothing();
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
    h.ep.send(h.now, c, b"still").unwrap();
    h.expect(P | A, 101, 302);
}

#[test]
fn a_read_after_a_local_abort_fails_rather_than_reading_end_of_stream() {
    // The peer's FIN is in (CLOSE-WAIT), then we ABORT: the RST is still
    // to go out, so the TCB exists. A read must report the abort
    // (ECONNABORTED, as Linux after tcp_abort), not Ok(0): end of stream
    // would tell the application the peer closed cleanly and all data
    // arrived, when we threw the connection away ourselves.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(F, 301).ack(101));
    h.expect(A, 101, 302);
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
    h.ep.abort(h.now, c).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        h.ep.recv(h.now, c, &mut buf),
        Err(SocketError::ConnectionAborted)
    );
    assert_eq!(
        h.ep.send(h.now, c, b"late"),
        Err(SocketError::ConnectionAborted)
    );
    h.expect(R | A, 101, 302);
    h.expect_nothing();
}
