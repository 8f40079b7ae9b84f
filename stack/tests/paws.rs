//! RFC 7323 timestamps and PAWS (§5) on a connection that wraps its
//! sequence space.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{State, TcpConfig};

const A: Flags = Flags::ACK;
const P: Flags = Flags::PSH;
const S: Flags = Flags::SYN;

/// Timestamps on, no window scaling, no delayed ACK: raw numbers stay readable.
fn timestamped() -> TcpConfig {
    TcpConfig {
        isn: Some(100),
        timestamps: true,
        window_scale: None,
        sack: false,
        delayed_ack: None,
        ..TcpConfig::default()
    }
}

#[test]
fn an_old_duplicate_from_the_previous_trip_around_the_sequence_space_is_rejected() {
    // The peer's ISN is 1000 below 2^32, so its data wraps at once. After
    // 3000 bytes, a segment whose sequence number is inside the window again
    // (it would fit) but whose TSval predates TS.Recent is an old duplicate:
    // PAWS drops it and ACKs (RFC 7323 §5.3 R1-R3); the reader never sees it.
    let peer_isn = u32::MAX - 1000;
    let mut h = Harness::new(timestamped());
    let l = h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, peer_isn).mss(1460).ts(5000, 0));
    let syn_ack = h.expect(S | A, 100, peer_isn.wrapping_add(1));
    let (our_tsval, echoed) = syn_ack.options.timestamps.expect("timestamps negotiated");
    assert_eq!(echoed, 5000, "SYN-ACK echoes the peer's TSval");
    h.inject(
        Seg::new(Flags::NONE, peer_isn.wrapping_add(1))
            .ack(101)
            .ts(5001, our_tsval),
    );
    let c = h.ep.accept(l).unwrap();

    let mut seq = peer_isn.wrapping_add(1);
    for (i, tsval) in [(0u32, 5010u32), (1, 5020)] {
        h.inject(
            Seg::new(P, seq)
                .ack(101)
                .ts(tsval, our_tsval)
                .data(&[i as u8; 1500]),
        );
        seq = seq.wrapping_add(1500);
        let ack = h.expect(A, 101, seq);
        assert_eq!(
            ack.options.timestamps.map(|t| t.1),
            Some(tsval),
            "TSecr echoes TS.Recent"
        );
    }
    assert!(seq < peer_isn, "the stream has wrapped past 2^32");

    // The old duplicate: in window, old timestamp.
    h.inject(Seg::new(P, seq).ack(101).ts(4000, our_tsval).data(b"stale"));
    h.expect(A, 101, seq);
    assert_eq!(
        h.ep.recv_queue_len(c),
        3000,
        "the stale segment was not accepted"
    );
    assert_eq!(h.ep.connection_counters(c).unwrap().dropped_segments, 1);
    assert_eq!(h.ep.connection_counters(c).unwrap().paws_rejected, 1);

    // The same bytes with a current timestamp are accepted.
    h.inject(Seg::new(P, seq).ack(101).ts(5030, our_tsval).data(b"fresh"));
    h.expect(A, 101, seq.wrapping_add(5));
    assert_eq!(h.ep.recv_queue_len(c), 3005);
    assert_eq!(h.ep.state(c), Some(State::Established));
}

#[test]
fn ts_recent_is_not_updated_by_a_segment_with_an_unacceptable_ack() {
    // RFC 7323 §4.3 with RFC 5961 §5: a segment whose ACK acknowledges data
    // we never sent is dropped before TS.Recent is touched, so a later
    // segment with a TSval between the two is still accepted.
    let mut h = Harness::new(timestamped());
    let l = h.ep.listen(LOCAL_PORT, 4).unwrap();
    h.inject(Seg::new(S, 300).mss(1460).ts(100, 0));
    let syn_ack = h.expect(S | A, 100, 301);
    let our_tsval = syn_ack.options.timestamps.unwrap().0;
    h.inject(Seg::new(Flags::NONE, 301).ack(101).ts(101, our_tsval));
    let c = h.ep.accept(l).unwrap();
    // Bad ACK (acks unsent data) with a far-future TSval.
    h.inject(
        Seg::new(P, 301)
            .ack(9999)
            .ts(1_000_000, our_tsval)
            .data(b"bad"),
    );
    h.expect(A, 101, 301);
    // A normal segment with TSval 200 must pass PAWS (TS.Recent is still 101).
    h.inject(Seg::new(P, 301).ack(101).ts(200, our_tsval).data(b"good"));
    h.expect(A, 101, 305);
    assert_eq!(h.ep.recv_queue_len(c), 4);
}
