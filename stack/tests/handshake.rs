//! Opening: the three-way handshake both ways, SYN retransmission and its
//! limit, simultaneous open, and old duplicate SYN recovery (RFC 9293 §3.5,
//! Figures 6-8).

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, Event, SocketError, State, TcpConfig};

const S: Flags = Flags::SYN;
const A: Flags = Flags::ACK;
const R: Flags = Flags::RST;

#[test]
fn active_open_sends_syn_and_acks_the_syn_ack() {
    // Figure 6: SYN-SENT --> <SEQ=100><CTL=SYN>; <SEQ=300><ACK=101><CTL=SYN,ACK>
    // --> ESTABLISHED with <SEQ=101><ACK=301><CTL=ACK>: ack = peer ISN + 1.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    assert_eq!(h.ep.state(c), Some(State::SynSent));
    h.inject(Seg::new(S, 300).ack(101));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.state(c), Some(State::Established));
    let events = h.events();
    assert_eq!(
        Harness::states_of(&events, c),
        vec![State::SynSent, State::Established]
    );
    assert!(events.contains(&Event::Connected(c)));
}

#[test]
fn passive_open_answers_syn_with_syn_ack_then_queues_for_accept() {
    // A listener answers <SEQ=300><CTL=SYN> with <SEQ=ISS><ACK=301><CTL=SYN,ACK>,
    // and only the final ACK makes the connection acceptable.
    let mut h = Harness::plain(7000);
    let l = h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, 300));
    h.expect(S | A, 7000, 301);
    assert_eq!(h.ep.accept(l), Err(SocketError::WouldBlock));
    h.inject(Seg::new(Flags::NONE, 301).ack(7001));
    let c = h.ep.accept(l).unwrap();
    assert_eq!(h.ep.state(c), Some(State::Established));
    assert!(h.events().contains(&Event::Incoming(l)));
}

#[test]
fn random_isns_differ_per_connection_and_are_never_zero() {
    // RFC 6528: ISNs come from a keyed hash of the 4-tuple plus a clock,
    // so two ports (or two instants) give unrelated ISNs.
    let mut h = Harness::new(TcpConfig::plain());
    h.ep.connect_from(h.now, 1111, remote_addr()).unwrap();
    let a = h.poll().unwrap().seq;
    h.ep.connect_from(h.now, 2222, remote_addr()).unwrap();
    let b = h.poll().unwrap().seq;
    assert_ne!(a, b);
    assert_ne!(a, 0);
    assert_ne!(b, 0);
}

#[test]
fn syn_is_retransmitted_with_backoff_then_times_out() {
    // RFC 6298 §5.5: each retransmission doubles the timeout: 1, 2, 4, ... s.
    // After syn_retries (3 here) the connection fails with ETIMEDOUT.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        syn_retries: 3,
        ..TcpConfig::plain()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    let mut fired = Vec::new();
    for _ in 0..3 {
        fired.push(h.fire_next_timer().as_nanos() / 1_000_000);
        h.expect(S, 100, 0);
    }
    assert_eq!(fired, vec![1000, 3000, 7000]);
    h.fire_next_timer();
    h.expect_nothing();
    assert_eq!(h.ep.state(c), None);
    assert!(h.events().contains(&Event::Error(c, SocketError::TimedOut)));
}

#[test]
fn simultaneous_open_goes_through_syn_received_to_established() {
    // Figure 7: both sides send SYN; each answers the other's SYN with
    // SYN,ACK from SYN-RECEIVED and reaches ESTABLISHED on the ACK.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(S, 300));
    h.expect(S | A, 100, 301);
    assert_eq!(h.ep.state(c), Some(State::SynReceived));
    h.inject(Seg::new(S, 300).ack(101));
    assert_eq!(h.ep.state(c), Some(State::Established));
    let events = h.events();
    assert_eq!(
        Harness::states_of(&events, c),
        vec![State::SynSent, State::SynReceived, State::Established]
    );
}

#[test]
fn syn_ack_with_an_unacceptable_ack_draws_a_reset_and_stays_in_syn_sent() {
    // Figure 8: an old duplicate's SYN-ACK acks 91 (not our 101): we send
    // <SEQ=91><CTL=RST> and keep waiting in SYN-SENT; the real SYN-ACK then completes.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(S, 300).ack(91));
    h.expect(R, 91, 0);
    assert_eq!(h.ep.state(c), Some(State::SynSent));
    h.inject(Seg::new(S, 400).ack(101));
    h.expect(A, 101, 401);
    assert_eq!(h.ep.state(c), Some(State::Established));
}

#[test]
fn reset_in_passive_syn_received_returns_to_listen() {
    // Figure 8, the listener's side: an old SYN made a half-open TCB; the
    // peer's RST (SEQ = RCV.NXT) removes it while the listener keeps listening,
    // and the real SYN then completes a connection.
    let mut h = Harness::plain(7000);
    let l = h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, 90));
    h.expect(S | A, 7000, 91);
    h.inject(Seg::new(R, 91));
    h.expect_nothing();
    assert_eq!(h.ep.sockets().len(), 1, "only the listener remains");
    assert_eq!(h.ep.state(l), Some(State::Listen));
    h.inject(Seg::new(S, 300));
    let syn_ack = h.poll().unwrap();
    assert_eq!((syn_ack.flags, syn_ack.ack), (S | A, 301));
    h.inject(Seg::new(Flags::NONE, 301).ack(syn_ack.seq.wrapping_add(1)));
    assert!(h.ep.accept(l).is_ok());
}

#[test]
fn rst_in_syn_sent_with_acceptable_ack_refuses_the_connection() {
    // §3.10.7.3: a RST acking our SYN means "connection refused".
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
fn rst_in_syn_sent_without_acceptable_ack_is_ignored() {
    // A RST whose ACK does not cover our SYN could be forged: drop it.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(R, 0).ack(5000));
    h.expect_nothing();
    assert_eq!(h.ep.state(c), Some(State::SynSent));
}

#[test]
fn linux_default_syn_carries_mss_sack_timestamps_and_window_scale() {
    // The defaults mirror Linux: <mss 1460,sackOK,TS val X ecr 0,nop,wscale 7>
    // and a SYN window of 64240 (65535 rounded down to a multiple of the MSS).
    let mut h = Harness::new(TcpConfig::default());
    h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    let syn = h.poll().unwrap();
    assert_eq!(syn.flags, S);
    assert_eq!(syn.options.mss, Some(1460));
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamps.map(|t| t.1), Some(0));
    assert_eq!(syn.options.window_scale, Some(7));
    assert_eq!(syn.window, 64240);
}

#[test]
fn syn_ack_echoes_only_the_options_the_peer_offered() {
    // RFC 7323 §1.3 / RFC 2018 §2: options are used only if both sides send
    // them; a SYN without options gets a SYN-ACK with only the MSS.
    let mut h = Harness::new(TcpConfig {
        isn: Some(1),
        ..TcpConfig::default()
    });
    h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, 10));
    let syn_ack = h.poll().unwrap();
    assert_eq!(syn_ack.options.mss, Some(1460));
    assert_eq!(syn_ack.options.window_scale, None);
    assert_eq!(syn_ack.options.timestamps, None);
    assert!(!syn_ack.options.sack_permitted);
}

#[test]
fn lost_syn_ack_is_retransmitted_when_the_syn_is() {
    // A retransmitted SYN at SYN-RECEIVED (our SYN-ACK was lost) gets the
    // SYN-ACK again, as Linux does.
    let mut h = Harness::plain(7000);
    h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, 300));
    h.expect(S | A, 7000, 301);
    h.advance(Duration::from_millis(500));
    h.inject(Seg::new(S, 300));
    h.expect(S | A, 7000, 301);
}

#[test]
fn data_queued_in_syn_sent_is_not_consumed_by_the_ack_of_the_syn() {
    // The SYN occupies one sequence number but no buffer byte: after the
    // SYN-ACK, the first data segment must start with the first byte written.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.ep.send(h.now, c, b"first bytes").unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(S, 300).ack(101).mss(1000));
    let data = h.expect(A | Flags::PSH, 101, 301);
    assert_eq!(data.payload, b"first bytes");
}

#[test]
fn the_receive_window_is_open_whatever_the_peers_isn() {
    // The active opener learns RCV.NXT only from the SYN-ACK; its window
    // must then start there. A peer ISN just below 2^31 from our initial
    // RCV.NXT of 0 once made the window look closed and data was dropped.
    for peer_isn in [0x7fe0_0000u32, 0x8000_0100, 5, u32::MAX - 10] {
        let mut h = Harness::plain(100);
        let c = h.open_connection(100, peer_isn);
        h.inject(
            Seg::new(Flags::PSH, peer_isn.wrapping_add(1))
                .ack(101)
                .data(b"data"),
        );
        h.expect(A, 101, peer_isn.wrapping_add(5));
        assert_eq!(h.ep.recv_queue_len(c), 4, "peer ISN {peer_isn:#x}");
    }
}

#[test]
fn syn_ack_with_data_and_fin_from_an_isn_above_two_to_the_31() {
    // SYN-SENT <-- <SEQ=0x9000_0000><ACK=101><CTL=SYN,ACK,FIN> carrying
    // "hi": the peer's ISN is in the upper half of the sequence space.
    // Before any ACK of ours went out, "the last ACK we sent" must already
    // be a number of this connection (RCV.NXT), not 0, or the delayed-ACK
    // decision for the FIN compares numbers 2^31 apart (a debug assertion).
    // The text starts after the SYN, at ISN + 1: the reader must get both
    // octets ("hi", not "i"), and our ACK covers the data and the FIN:
    // ack = ISN + 1 + 2 + 1.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        timestamps: false,
        sack: false,
        window_scale: None,
        ..TcpConfig::default()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    let peer = 0x9000_0000u32;
    h.inject(
        Seg::new(S | Flags::FIN, peer)
            .ack(101)
            .mss(1000)
            .data(b"hi"),
    );
    // The ACK of a FIN after data may wait for the delayed-ACK timer.
    let ack = match h.poll() {
        Some(seg) => seg,
        None => {
            h.fire_next_timer();
            h.poll().expect("the data and FIN are acknowledged")
        }
    };
    assert!(ack.flags.ack());
    assert_eq!(ack.ack, peer.wrapping_add(4), "got {}", ack.summary());
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
    let mut buf = [0u8; 8];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"hi");
}

/// Simultaneous open up to SYN-RECEIVED: our SYN (ISS 100) crossed the
/// peer's SYN (ISN 300); our SYN,ACK is out, the peer's ACK of our SYN not in.
fn simultaneous_open_to_syn_received(h: &mut Harness) -> stack::SocketId {
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.inject(Seg::new(S, 300));
    h.expect(S | A, 100, 301);
    assert_eq!(h.ep.state(c), Some(State::SynReceived));
    c
}

#[test]
fn data_and_shutdown_in_syn_received_wait_for_the_ack_of_our_syn() {
    // RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED with data pending: "queue
    // for processing after entering ESTABLISHED state". The ten octets
    // written before the SYN is acknowledged are the first ten of the
    // stream: they must go out at ISS + 1 = 101 as "0123456789", whole,
    // followed by our FIN at 111. (Counting the unacknowledged SYN as sent
    // data shifted the stream by one octet: the peer read "123456789".)
    let mut h = Harness::plain(100);
    let c = simultaneous_open_to_syn_received(&mut h);
    assert_eq!(h.ep.send(h.now, c, b"0123456789"), Ok(10));
    h.ep.shutdown(h.now, c).unwrap();
    assert_eq!(h.ep.state(c), Some(State::SynReceived));
    h.expect_nothing();
    // The peer's SYN,ACK acknowledges our SYN.
    h.inject(Seg::new(S, 300).ack(101));
    assert_eq!(h.ep.state(c), Some(State::FinWait1));
    let data = h.expect(A | Flags::PSH | Flags::FIN, 101, 301);
    assert_eq!(data.payload, b"0123456789");
    h.inject(Seg::new(Flags::NONE, 301).ack(112));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
}

#[test]
fn shutdown_in_syn_received_holds_the_fin_until_the_syn_is_acknowledged() {
    // RFC 9293 §3.10.4 lets a CLOSE in SYN-RECEIVED send its FIN at once
    // or queue it until ESTABLISHED; Linux queues (checked with packetdrill
    // on Linux 6.18, scripts/simultaneous-open-shutdown.pkt), and so do we.
    // Our SYN,ACK was lost: the RTO resends the SYN,ACK alone (SEQ = ISS),
    // never a FIN in the SYN's place; the peer's ACK of the SYN (ack 101)
    // takes us to FIN-WAIT-1 and releases the FIN at 101; its ACK (102)
    // gives FIN-WAIT-2, and the ACK accounting (SYN, then FIN, no data)
    // must not underflow.
    let mut h = Harness::plain(100);
    let c = simultaneous_open_to_syn_received(&mut h);
    h.ep.shutdown(h.now, c).unwrap();
    assert_eq!(h.ep.state(c), Some(State::SynReceived));
    h.expect_nothing();
    h.fire_next_timer();
    h.expect(S | A, 100, 301);
    h.expect_nothing();
    h.inject(Seg::new(Flags::NONE, 301).ack(101));
    assert_eq!(h.ep.state(c), Some(State::FinWait1));
    assert!(h.events().contains(&Event::Connected(c)));
    h.expect(A | Flags::FIN, 101, 301);
    h.expect_nothing();
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    // The peer's FIN completes the close.
    h.inject(Seg::new(Flags::FIN, 301).ack(102));
    h.expect(A, 102, 302);
    assert_eq!(h.ep.state(c), Some(State::TimeWait));
}

#[test]
fn close_in_syn_received_then_the_peers_syn_ack() {
    // close() rather than shutdown(), and the peer's SYN,ACK (repeating
    // its SYN, Figure 7) is what acknowledges our SYN: FIN-WAIT-1 and the
    // FIN at once; the RTO resends the FIN (not the SYN, acknowledged
    // now) until the peer ACKs it.
    let mut h = Harness::plain(100);
    let c = simultaneous_open_to_syn_received(&mut h);
    h.ep.close(h.now, c).unwrap();
    h.expect_nothing();
    h.inject(Seg::new(S, 300).ack(101));
    assert_eq!(h.ep.state(c), Some(State::FinWait1));
    h.expect(A | Flags::FIN, 101, 301);
    h.expect_nothing();
    h.fire_next_timer();
    h.expect(A | Flags::FIN, 101, 301);
    h.expect_nothing();
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
}

#[test]
fn shutdown_in_syn_sent_deletes_the_tcb_and_its_timers() {
    // RFC 9293 §3.10.4 CLOSE in SYN-SENT: "Delete the TCB" (Linux's
    // shutdown in SYN-SENT disconnects the same way, with no RST). Nothing
    // of the connection may live on: no SYN retransmission, no SYN-ACK
    // taken up later, no ETIMEDOUT reported minutes afterwards by a
    // CLOSED zombie whose retransmission timer still ran.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(S, 100, 0);
    h.ep.shutdown(h.now, c).unwrap();
    assert_eq!(h.ep.state(c), None);
    assert_eq!(h.ep.poll_timeout(), None, "no timer left");
    let events = h.events();
    assert!(events.contains(&Event::Closed(c)));
    assert!(!events.iter().any(|e| matches!(e, Event::Error(..))));
    // A late SYN-ACK finds no connection: the CLOSED-state reset.
    h.inject(Seg::new(S, 300).ack(101));
    h.expect(R, 101, 0);
}

#[test]
fn simultaneous_open_takes_the_syn_ack_window_unscaled() {
    // RFC 7323 §2.2: the window of a <SYN,ACK> is never scaled. In a
    // simultaneous open (Figure 7) the peer's SYN,ACK arrives in
    // SYN-RECEIVED, after both SYNs agreed on a shift of 7; its window of
    // 1000 octets is 1000, not 1000 << 7. Taking it scaled let us send
    // 4096 octets into a 3600-octet window (found by the generated
    // workload `tcpsim run random --seed 1940`). With 5000 octets queued,
    // no more than 1000 may leave before the peer's next ACK.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        timestamps: false,
        sack: false,
        ..TcpConfig::default()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    let syn = h.expect(S, 100, 0);
    assert_eq!(syn.options.window_scale, Some(7));
    h.inject(Seg::new(S, 300).win(1000).mss(1460).wscale(7));
    h.expect(S | A, 100, 301);
    assert_eq!(h.ep.send(h.now, c, &[7u8; 5000]), Ok(5000));
    h.inject(Seg::new(S, 300).ack(101).win(1000).mss(1460).wscale(7));
    assert_eq!(h.ep.state(c), Some(State::Established));
    let mut sent = 0;
    while let Some(seg) = h.poll() {
        sent += seg.payload.len();
    }
    assert_eq!(sent, 1000, "the SYN,ACK offered 1000 octets");
}
