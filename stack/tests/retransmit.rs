//! Loss recovery: RFC 6298 RTO with backoff and a retry limit, RFC 5681
//! fast retransmit and RFC 6582 NewReno partial ACKs.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Event, SocketError, TcpConfig};

const A: Flags = Flags::ACK;
const P: Flags = Flags::PSH;

#[test]
fn rto_retransmits_the_same_bytes_with_doubling_timeouts_then_times_out() {
    // Retransmitted data keeps its sequence numbers; the gaps double
    // (RFC 6298 §5.5); after data_retries the connection fails.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        data_retries: 3,
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"payload").unwrap();
    let sent_at = h.now;
    h.expect(P | A, 101, 301);
    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(h.fire_next_timer() - sent_at);
        let seg = h.expect(P | A, 101, 301);
        assert_eq!(seg.payload, b"payload");
    }
    assert_eq!(
        times[1].as_nanos(),
        times[0].as_nanos() * 3,
        "second RTO = 2x first"
    );
    h.fire_next_timer();
    assert!(h.events().contains(&Event::Error(c, SocketError::TimedOut)));
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit_and_partial_acks_continue_recovery() {
    // Ten segments in flight, the 1st and 5th lost. Three duplicate ACKs
    // resend segment 1 at once (no RTO wait); the partial ACK up to the 5th
    // resends the 5th (RFC 6582 §3.2 step 4); the full ACK ends recovery.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, &[9u8; 10_000]).unwrap();
    let mut seqs = Vec::new();
    while let Some(seg) = h.poll() {
        seqs.push(seg.seq);
    }
    assert_eq!(seqs.len(), 10, "initial window of 10 segments");
    for _ in 0..3 {
        h.inject(Seg::new(Flags::NONE, 301).ack(101));
    }
    let retransmitted = h.poll().expect("fast retransmit");
    assert_eq!(retransmitted.seq, 101);
    while h.poll().is_some() {}
    h.inject(Seg::new(Flags::NONE, 301).ack(4101));
    let partial = h.poll().expect("partial ACK retransmission");
    assert_eq!(partial.seq, 4101);
    while h.poll().is_some() {}
    h.inject(Seg::new(Flags::NONE, 301).ack(10_101));
    let counters = h.ep.connection_counters(c).unwrap();
    assert_eq!(counters.fast_retransmits, 1);
    assert_eq!(counters.timeouts, 0);
    assert_eq!(h.ep.send_queue_len(c), 0);
}

#[test]
fn congestion_control_is_selectable_per_connection() {
    // Two connections on one endpoint: the default runs NewReno, the other
    // is switched to CUBIC (RFC 9438) and both still recover from a loss.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    assert_eq!(h.ep.congestion_control(c), Some("newreno"));
    h.ep.set_congestion_control(c, stack::cc::CongestionAlgorithm::Cubic)
        .unwrap();
    assert_eq!(h.ep.congestion_control(c), Some("cubic"));
    h.ep.send(h.now, c, &[1u8; 5000]).unwrap();
    let mut sent = 0;
    while h.poll().is_some() {
        sent += 1;
    }
    assert_eq!(
        sent, 5,
        "initial window of 10 segments covers 5 KB at MSS 1000"
    );
    for _ in 0..3 {
        h.inject(Seg::new(Flags::NONE, 301).ack(101));
    }
    assert_eq!(
        h.poll().map(|s| s.seq),
        Some(101),
        "fast retransmit under CUBIC too"
    );
}

#[test]
fn an_ack_sent_after_a_timeout_carries_the_highest_sequence_sent() {
    // After an RTO, go-back-N rewinds SND.NXT to SND.UNA, but the peer may
    // already hold everything up to SND.MAX (here only its ACK was lost).
    // A pure ACK must carry SEQ = 3101, the highest sent: with the rewound
    // 1101 it would be below the peer's RCV.NXT, unacceptable (RFC 9293
    // §3.10.7.4), its ACK field ignored and answered by an ACK -- a loop
    // if the peer has rewound too. Linux never moves snd_nxt back.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.inject(Seg::new(P, 301).ack(101).data(&[2u8; 100]));
    h.expect(A, 101, 401);
    h.ep.send(h.now, c, &[1u8; 3000]).unwrap();
    h.expect(A, 101, 401);
    h.expect(A, 1101, 401);
    h.expect(P | A, 2101, 401);
    h.fire_next_timer();
    h.expect(A, 101, 401);
    // The peer resends its old segment; we answer with a duplicate ACK.
    h.inject(Seg::new(P, 301).ack(101).data(&[2u8; 100]));
    h.expect(A, 3101, 401);
}
