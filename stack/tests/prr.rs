//! Proportional Rate Reduction (RFC 6937): how much a sender in loss
//! recovery sends per ACK.
//!
//! The example of RFC 6937 §5 (Figures 1-2): twenty 1000-byte segments in
//! flight, the first lost, and the peer SACKing the other nineteen one ACK
//! at a time. NewReno's window halves to ssthresh = 10 segments.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, TcpConfig};

const N: Flags = Flags::NONE;

/// SACK (RFC 6675 recovery unless `rack`), NewReno, PRR when `prr`.
fn config(prr: bool, rack: bool) -> TcpConfig {
    TcpConfig {
        isn: Some(100),
        sack: true,
        prr,
        rack,
        ..TcpConfig::plain()
    }
}

/// Opens, grows cwnd to 20 segments in slow start, puts 20 segments in
/// flight from `first`, then plays RFC 6937's ACK train: the first lost,
/// the others SACKed one per ACK. Returns what the sender sent after
/// each ACK: `R` for a retransmission, `N` for new data, `.` for nothing,
/// a digit for that many segments.
fn ack_train(tcp: TcpConfig) -> String {
    let mut h = Harness::new(tcp);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok());
    h.poll();
    h.ep.send(h.now, c, &vec![1u8; 60_000]).unwrap();
    let drain = |h: &mut Harness| std::iter::from_fn(|| h.poll()).collect::<Vec<_>>();
    assert_eq!(drain(&mut h).len(), 10);
    // Slow start: each of ten ACKs opens one more segment (cwnd 20).
    h.advance(Duration::from_millis(100));
    for i in 1..=10u32 {
        h.inject(Seg::new(N, 301).ack(101 + 1000 * i));
    }
    let flight = drain(&mut h);
    assert_eq!(flight.len(), 20, "twenty segments in flight");
    let first = flight[0].seq;
    h.advance(Duration::from_millis(100));
    let mut pattern = String::new();
    for k in 1..20u32 {
        let sack = (first + 1000, first + 1000 * (k + 1));
        h.inject(Seg::new(N, 301).ack(first).sack(&[sack]));
        let sent = drain(&mut h);
        pattern.push(match sent.as_slice() {
            [] => '.',
            [s] if s.seq == first => 'R',
            [_] => 'N',
            more => char::from_digit(more.len() as u32, 10).unwrap_or('+'),
        });
    }
    pattern
}

#[test]
fn prr_spreads_the_reduction_over_the_round_trip() {
    // RFC 6937 §5's example with PRR: limited transmit sends new data on
    // the first two duplicate ACKs, the third starts recovery with the
    // fast retransmission, and then one segment goes out for every two
    // delivered (ssthresh / RecoverFS = 10/20), evenly across the round
    // trip, until pipe is down to ssthresh (10): the same ten segments
    // as RFC 6675 sends, spread out instead of held back.
    let p = ack_train(config(true, false));
    assert_eq!(p, "NNR.N.N.N.N.N.N.N..", "one segment per two delivered");
}

#[test]
fn without_prr_rfc_6675_waits_then_bursts() {
    // RFC 6937 §5's example without PRR (RFC 6675): after the fast
    // retransmission the sender is silent until pipe falls below cwnd =
    // ssthresh, then sends one segment per ACK: the same total, all in
    // the second half of the round trip.
    let p = ack_train(config(false, false));
    assert_eq!(p, "NNR.........NNNNNNN", "silence, then one per ACK");
}

#[test]
fn prr_paces_rack_recovery_the_same_way() {
    // With RACK (as Linux) the third SACK still starts recovery (the
    // duplicate threshold makes the reordering window zero), and PRR
    // gives the same proportional pattern.
    let p = ack_train(config(true, true));
    assert_eq!(p, "NNR.N.N.N.N.N.N.N..");
}
