//! RACK-TLP (RFC 8985): losses found by time, tail losses found by a
//! probe, reordering told apart from loss.
//!
//! The sender keeps 1000-byte segments in flight (sequence numbers 101,
//! 1101, ...) over a path with a 100 ms round trip (the handshake's
//! sample), and plays a peer that reports what arrived.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Counters, Duration, SocketId, TcpConfig};

const A: Flags = Flags::ACK;
const N: Flags = Flags::NONE;
const RTT: Duration = Duration::from_millis(100);

/// SACK with RACK-TLP (and PRR, undo) as Linux runs them; no timestamps,
/// window scaling or delayed ACK; our ISN is 100.
fn rack_config() -> TcpConfig {
    TcpConfig {
        isn: Some(100),
        sack: true,
        rack: true,
        tlp: true,
        prr: true,
        undo: true,
        ..TcpConfig::plain()
    }
}

/// Active open to a SACK peer (ISN 300, MSS 1000) one RTT away, then
/// `bytes` written: the initial window (ten segments) goes out.
fn open_and_send(tcp: TcpConfig, bytes: usize) -> (Harness, SocketId) {
    let mut h = Harness::new(tcp);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.advance(RTT);
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok());
    h.expect(A, 101, 301);
    h.ep.send(h.now, c, &vec![7u8; bytes]).unwrap();
    let sent = drain(&mut h);
    assert_eq!(
        seqs(&sent),
        (0..10).map(|i| 101 + 1000 * i).collect::<Vec<_>>()
    );
    (h, c)
}

fn drain(h: &mut Harness) -> Vec<Seg> {
    std::iter::from_fn(|| h.poll()).collect()
}

fn seqs(segs: &[Seg]) -> Vec<u32> {
    segs.iter().map(|s| s.seq).collect()
}

fn sack_ack(ack: u32, blocks: &[(u32, u32)]) -> Seg {
    Seg::new(N, 301).ack(ack).sack(blocks)
}

fn counters(h: &Harness, c: SocketId) -> Counters {
    h.ep.connection_counters(c).unwrap()
}

#[test]
fn a_tail_loss_is_recovered_by_a_probe_instead_of_an_rto() {
    // RFC 8985 §7: the last three segments are lost and nothing comes back
    // for them. Without TLP the sender would sit out the RTO (300 ms
    // here); with it, 2·SRTT + 2 ms after the last ACK the last segment
    // goes again, its SACK lets RACK mark the two before it lost, and
    // they are resent as the ACKs come: no timeout at all.
    let (mut h, c) = open_and_send(rack_config(), 10_000);
    h.advance(RTT);
    h.inject(sack_ack(7101, &[]));
    h.expect_nothing();
    h.fire_next_timer();
    let probe = h.expect(Flags::PSH | A, 9101, 301);
    assert_eq!(
        probe.payload.len(),
        1000,
        "the probe resends the last segment"
    );
    assert_eq!(counters(&h, c).tlp_probes, 1);
    h.advance(RTT);
    h.inject(sack_ack(7101, &[(9101, 10101)]));
    // RACK marks 7101 and 8101 lost; PRR's slow-start bound lets one go
    // per segment delivered.
    assert_eq!(
        seqs(&drain(&mut h)),
        [7101],
        "RACK marks the rest of the tail lost"
    );
    h.advance(RTT);
    h.inject(sack_ack(8101, &[(9101, 10101)]));
    assert_eq!(seqs(&drain(&mut h)), [8101]);
    h.advance(RTT);
    h.inject(sack_ack(10101, &[]));
    let k = counters(&h, c);
    assert_eq!(k.timeouts, 0, "no RTO fired");
    assert_eq!(k.retransmitted_segments, 3);
}

#[test]
fn the_probe_fires_two_round_trips_after_the_last_ack() {
    // RFC 8985 §7.2: PTO = 2·SRTT plus 2 ms (Linux's TCP_TIMEOUT_MIN)
    // with several segments in flight, earlier than the 300 ms RTO.
    let (mut h, _c) = open_and_send(rack_config(), 10_000);
    h.advance(RTT);
    h.inject(sack_ack(7101, &[]));
    let acked_at = h.now;
    let at = h.fire_next_timer();
    assert_eq!(at.saturating_since(acked_at), Duration::from_millis(202));
}

#[test]
fn without_tlp_the_same_tail_loss_waits_for_the_rto() {
    // The control: RACK alone cannot see a tail loss (nothing is
    // delivered after it), so the RTO (SRTT + 4·RTTVAR = 300 ms) fires.
    let (mut h, c) = open_and_send(
        TcpConfig {
            tlp: false,
            ..rack_config()
        },
        10_000,
    );
    h.advance(RTT);
    h.inject(sack_ack(7101, &[]));
    let acked_at = h.now;
    let at = h.fire_next_timer();
    assert_eq!(at.saturating_since(acked_at), Duration::from_millis(300));
    h.expect(A, 7101, 301);
    assert_eq!(counters(&h, c).timeouts, 1);
}

#[test]
fn a_sack_of_part_of_a_segment_starts_nothing() {
    // Linux (tcp_match_skb_to_sack) SACKs whole segments only: a block
    // holding just the last byte leaves the last segment unSACKed, so RACK
    // sees nothing delivered and the probe still comes at the PTO.
    let (mut h, c) = open_and_send(rack_config(), 10_000);
    h.advance(RTT);
    h.inject(sack_ack(101, &[(10100, 10101)]));
    h.expect_nothing();
    h.fire_next_timer();
    h.expect(Flags::PSH | A, 9101, 301);
    assert_eq!(counters(&h, c).tlp_probes, 1);
}

#[test]
fn reordering_within_the_window_is_not_counted_as_loss() {
    // RFC 8985 §6.2: the second segment is SACKed before the first; the
    // first is not lost until RACK.rtt + min_RTT/4 (25 ms) after its
    // transmission has passed. It arrives 20 ms later: nothing is resent,
    // no recovery starts, and the reordering is counted (tcpi_reord_seen).
    let (mut h, c) = open_and_send(rack_config(), 10_000);
    h.advance(RTT);
    h.inject(sack_ack(101, &[(1101, 2101)]));
    h.expect_nothing();
    h.advance(Duration::from_millis(20));
    h.inject(sack_ack(2101, &[]));
    h.expect_nothing();
    let k = counters(&h, c);
    assert_eq!((k.retransmitted_segments, k.fast_retransmits), (0, 0));
    let info = h.ep.info(c).unwrap();
    assert_eq!(info.reord_seen, 1);
    assert_eq!(info.ca_state, stack::CaState::Open);
}

#[test]
fn a_hole_the_reordering_window_outlives_is_resent_by_the_reorder_timer() {
    // The same SACK, but the first segment never comes: the reorder timer
    // (RFC 8985 §6.2 step 5) fires 25 ms + 2 ms after the SACK and RACK
    // marks it lost, long before three duplicate ACKs or the RTO.
    let (mut h, c) = open_and_send(rack_config(), 10_000);
    h.advance(RTT);
    h.inject(sack_ack(101, &[(1101, 2101)]));
    let sacked_at = h.now;
    let at = h.fire_next_timer();
    assert_eq!(at.saturating_since(sacked_at), Duration::from_millis(27));
    h.expect(A, 101, 301);
    assert_eq!(counters(&h, c).timeouts, 0);
}

#[test]
fn a_lost_retransmission_is_detected_by_rack() {
    // RFC 8985 §6 (the case RFC 6675 cannot see without an RTO): the
    // first segment is lost, then its fast retransmission too. Segments
    // sent after that retransmission are SACKed a round trip later, so
    // RACK knows the retransmission should have arrived: it is lost, and
    // goes a third time without waiting for the RTO.
    let (mut h, c) = open_and_send(rack_config(), 20_000);
    h.advance(RTT);
    h.inject(sack_ack(101, &[(1101, 2101)]));
    h.inject(sack_ack(101, &[(1101, 3101)]));
    h.inject(sack_ack(101, &[(1101, 4101)]));
    assert_eq!(seqs(&drain(&mut h)), [101], "the fast retransmission");
    // The rest of the first flight arrives; the retransmission does not.
    // PRR lets new data out as the SACKs deliver it.
    h.advance(Duration::from_millis(5));
    h.inject(sack_ack(101, &[(1101, 10101)]));
    let new = drain(&mut h);
    assert!(
        !new.is_empty() && new.iter().all(|s| s.seq >= 10101),
        "{:?}",
        seqs(&new)
    );
    // A round trip after the retransmission, new data sent after it is SACKed.
    h.advance(RTT);
    let n = new[0].seq;
    h.inject(sack_ack(101, &[(1101, 10101), (n, n + 1000)]));
    let again = drain(&mut h);
    assert_eq!(
        again.first().map(|s| s.seq),
        Some(101),
        "resent again: {:?}",
        seqs(&again)
    );
    let k = counters(&h, c);
    assert_eq!(k.timeouts, 0);
}
