//! Data transfer: in-order delivery, out-of-order reassembly with immediate
//! ACKs, window limits, PSH, Nagle, zero-window probing, delayed ACKs.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, State, TcpConfig};

const A: Flags = Flags::ACK;
const P: Flags = Flags::PSH;
const F: Flags = Flags::FIN;

#[test]
fn a_send_is_segmented_at_the_mss_with_psh_on_the_last_segment() {
    // The peer's MSS is 1000: 2500 bytes go as 1000 + 1000 + 500, and only
    // the segment carrying the last byte of the send call has PSH.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    assert_eq!(h.ep.send(h.now, c, &[7u8; 2500]), Ok(2500));
    let a = h.expect(A, 101, 301);
    let b = h.expect(A, 1101, 301);
    let last = h.expect(P | A, 2101, 301);
    assert_eq!(
        (a.payload.len(), b.payload.len(), last.payload.len()),
        (1000, 1000, 500)
    );
}

#[test]
fn out_of_order_data_is_acked_at_once_and_delivered_when_the_hole_fills() {
    // RFC 5681 §4.2: an out-of-order segment draws an immediate duplicate
    // ACK; the hole-filling segment draws an ACK covering both.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 306).ack(101).data(b"world"));
    h.expect(A, 101, 301);
    assert_eq!(h.ep.recv_queue_len(c), 0);
    h.inject(Seg::new(Flags::NONE, 301).ack(101).data(b"hello"));
    h.expect(A, 101, 311);
    let mut buf = [0u8; 16];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(10));
    assert_eq!(&buf[..10], b"helloworld");
}

#[test]
fn data_beyond_the_receive_window_is_trimmed_and_acked() {
    // A 1 KiB receive buffer: 1500 bytes arrive; 1024 are kept, the rest
    // dropped, and the ACK says how far we took it.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        recv_buffer: 1024,
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).data(&[1u8; 1500]));
    h.expect(A, 101, 301 + 1024);
    assert_eq!(h.ep.recv_queue_len(c), 1024);
}

#[test]
fn fin_is_accepted_at_a_zero_window() {
    // The receive buffer is full (window 0) but a bare FIN takes no space:
    // it must be accepted and ACKed, not dropped.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        recv_buffer: 1000,
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).data(&[1u8; 1000]));
    let ack = h.expect(A, 101, 1301);
    assert_eq!(ack.window, 0);
    h.inject(Seg::new(F, 1301).ack(101));
    h.expect(A, 101, 1302);
    assert_eq!(h.ep.state(c), Some(State::CloseWait));
}

#[test]
fn nagle_holds_a_small_segment_while_data_is_unacknowledged() {
    // RFC 9293 §3.7.4: the second small write waits for the first's ACK.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"a").unwrap();
    h.expect(P | A, 101, 301);
    h.ep.send(h.now, c, b"b").unwrap();
    h.expect_nothing();
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    let seg = h.expect(P | A, 102, 301);
    assert_eq!(seg.payload, b"b");
}

#[test]
fn zero_window_is_probed_with_backoff_until_it_opens() {
    // The peer advertises window 0: after the persist timeout we send a
    // probe (Linux: SEQ = SND.UNA - 1, no data); probes back off; when the
    // window opens the data flows.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(Flags::NONE, 301).ack(101).win(0));
    h.ep.send(h.now, c, b"waiting").unwrap();
    h.expect_nothing();
    let first = h.fire_next_timer();
    h.expect(A, 100, 301);
    let second = h.fire_next_timer();
    h.expect(A, 100, 301);
    let third = h.fire_next_timer();
    h.expect(A, 100, 301);
    assert!(third - second > second - first, "probes back off");
    h.inject(Seg::new(Flags::NONE, 301).ack(101).win(1000));
    let seg = h.expect(P | A, 101, 301);
    assert_eq!(seg.payload, b"waiting");
    assert_eq!(h.ep.connection_counters(c).unwrap().zero_window_probes, 3);
}

#[test]
fn delayed_ack_waits_for_a_second_segment_or_the_timer() {
    // With delayed ACK (and no quick-ack budget): one segment is ACKed after
    // the 40 ms timer; two full segments are ACKed at once.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        delayed_ack: Some(Duration::from_millis(40)),
        quick_ack_segments: 0,
        ..TcpConfig::plain()
    });
    h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).data(&[0; 100]));
    h.expect_nothing();
    let at = h.fire_next_timer();
    assert_eq!(at.as_nanos(), 40_000_000);
    h.expect(A, 101, 401);
    h.inject(Seg::new(Flags::NONE, 401).ack(101).data(&[0; 1460]));
    h.expect_nothing();
    h.inject(Seg::new(Flags::NONE, 1861).ack(101).data(&[0; 1460]));
    h.expect(A, 101, 3321);
}

#[test]
fn keepalive_probes_a_silent_peer_then_gives_up_with_reset() {
    // Keepalive idle 10 s, interval 1 s, 2 probes: probes at 10 s and 11 s,
    // then at 12 s a RST and ETIMEDOUT.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            probes: 2,
        }),
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    assert_eq!(h.fire_next_timer().as_nanos(), 10_000_000_000);
    h.expect(A, 100, 301);
    h.fire_next_timer();
    h.expect(A, 100, 301);
    h.fire_next_timer();
    h.expect(Flags::RST | A, 101, 301);
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn a_window_too_small_to_use_is_overridden_by_the_persist_timer() {
    // Sender SWS avoidance holds back a 100-byte sliver of window, but not
    // forever: with nothing in flight the persist timer fires and sends
    // what fits (RFC 9293 §3.8.6.2.1's override; Linux's tcp_write_wakeup).
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(Flags::NONE, 301).ack(101).win(100));
    h.ep.send(h.now, c, &[5u8; 3000]).unwrap();
    h.expect_nothing();
    h.fire_next_timer();
    let seg = h.expect(A, 101, 301);
    assert_eq!(seg.payload.len(), 100);
}

#[test]
fn keepalive_finds_a_dead_peer_after_our_half_close() {
    // We shut down our sending side (SHUT_WR, not close): FIN-WAIT-1, the
    // peer ACKs our FIN (FIN-WAIT-2), then the peer vanishes. The socket
    // is still open for reading, so only keepalive can find out: Linux's
    // keepalive timer probes in every state but CLOSE and SYN-SENT
    // (tcp_keepalive_timer), so probes go out at idle (10 s after the last
    // segment) and one interval later, then a RST and ETIMEDOUT.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            probes: 2,
        }),
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    h.ep.shutdown(h.now, c).unwrap();
    h.expect(F | A, 101, 301);
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(Flags::NONE, 301).ack(102));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    assert_eq!(h.fire_next_timer().as_nanos(), 10_100_000_000);
    h.expect(A, 101, 301);
    h.fire_next_timer();
    h.expect(A, 101, 301);
    h.fire_next_timer();
    h.expect(Flags::RST | A, 102, 301);
    assert!(
        h.events()
            .contains(&stack::Event::Error(c, stack::SocketError::TimedOut))
    );
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn an_ack_on_an_old_segment_still_brings_the_window_with_it() {
    // The peer offers 1000 bytes; we fill them. Its next segment is a
    // retransmission of old data (SEQ below SND.WL1, with two new bytes) that acknowledges our
    // 1000 bytes and closes the window (win 0: its buffer is full). RFC
    // 9293's WL1/WL2 test refuses that segment's window, but the old
    // window must not then slide right from the new SND.UNA: that would
    // put 1000 bytes beyond the right edge the peer ever offered (1101).
    // Linux (tcp_may_update_window) takes the window of any ACK that
    // advances SND.UNA, so we send nothing and probe the zero window.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).win(1000).data(b"abcd"));
    h.expect(A, 101, 305);
    h.inject(Seg::new(P, 305).ack(101).win(1000).data(b"efgh"));
    h.expect(A, 101, 309);
    h.ep.send(h.now, c, &[7u8; 3000]).unwrap();
    let first = h.expect(A, 101, 309);
    assert_eq!(first.payload.len(), 1000, "the whole offered window");
    h.expect_nothing();
    // The retransmission repeats "abcdefgh" and adds "ij", so it is
    // acceptable and its ACK field is processed (RFC 9293 §3.10.7.4).
    h.inject(Seg::new(P, 301).ack(1101).win(0).data(b"abcdefghij"));
    let ack = h.expect(A, 1101, 311);
    assert!(ack.payload.is_empty(), "only the ACK of the new data");
    h.expect_nothing();
    // The zero window is probed, never written into.
    h.fire_next_timer();
    let probe = h.poll().expect("a zero-window probe");
    assert!(probe.payload.len() <= 1, "got {}", probe.summary());
}

#[test]
fn zero_window_probes_give_up_on_a_silent_peer_but_not_on_one_that_answers() {
    // A zero window is probed for as long as the peer answers (RFC 9293
    // §3.8.6.1): twenty probes, each answered with "still zero", and the
    // connection lives. Then the peer goes silent: after 15 unanswered
    // probes (tcp_retries2) Linux's tcp_probe_timer gives up with
    // ETIMEDOUT, and so do we, instead of probing for ever.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(Flags::NONE, 301).ack(101).win(0));
    h.ep.send(h.now, c, b"waiting").unwrap();
    h.expect_nothing();
    for _ in 0..20 {
        h.fire_next_timer();
        h.expect(A, 100, 301);
        h.inject(Seg::new(Flags::NONE, 301).ack(101).win(0));
    }
    assert_eq!(h.ep.state(c), Some(State::Established));
    for probe in 0..15 {
        h.fire_next_timer();
        let seg = h.poll().unwrap_or_else(|| panic!("probe {probe} missing"));
        assert_eq!((seg.seq, seg.payload.len()), (100, 0));
    }
    h.fire_next_timer();
    h.expect_nothing();
    assert!(
        h.events()
            .contains(&stack::Event::Error(c, stack::SocketError::TimedOut))
    );
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn an_mss_of_zero_is_raised_to_the_minimum_not_a_panic() {
    // TcpConfig::mss is a plain u16: 0 (or anything below the 12 octets of
    // the timestamp option) once underflowed the delayed-ACK arithmetic.
    // A connection raises it to 88 (Linux's TCP_MIN_MSS) and talks: the
    // SYN announces 88, data is received and acknowledged.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        mss: 0,
        window_scale: None,
        sack: false,
        ..TcpConfig::default()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    let syn = h.expect(Flags::SYN, 100, 0);
    assert_eq!(syn.options.mss, Some(stack::TCP_MIN_MSS));
    h.inject(
        Seg::new(Flags::SYN, 300)
            .ack(101)
            .mss(1460)
            .ts(10, syn.options.timestamps.unwrap().0),
    );
    h.expect(A, 101, 301);
    for i in 0..4u32 {
        h.inject(
            Seg::new(P, 301 + 50 * i)
                .ack(101)
                .ts(11 + i, 1)
                .data(&[b'x'; 50]),
        );
    }
    h.advance(Duration::from_millis(200));
    let mut buf = [0u8; 400];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(200));
}
