//! Selective acknowledgment: the receiver's SACK blocks (RFC 2018 §3-4)
//! and SACK-based loss recovery at the sender (RFC 6675).
//!
//! The sender tests keep ten 1000-byte segments in flight (sequence numbers
//! 101, 1101, ..., 9101) and play a peer that reports which arrived.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Counters, SocketId, State, TcpConfig};

const A: Flags = Flags::ACK;
const N: Flags = Flags::NONE;

/// SACK on; no timestamps, window scaling or delayed ACK; our ISN is 100.
fn sack_config() -> TcpConfig {
    TcpConfig {
        isn: Some(100),
        sack: true,
        ..TcpConfig::plain()
    }
}

/// Active open to a peer (ISN 300, MSS 1000) whose SYN-ACK permits SACK
/// when `peer_sack`.
fn open_with(h: &mut Harness, peer_sack: bool) -> SocketId {
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    let syn = h.expect(Flags::SYN, 100, 0);
    assert!(syn.options.sack_permitted, "our SYN offers SACK");
    let mut syn_ack = Seg::new(Flags::SYN, 300).ack(101).mss(1000);
    if peer_sack {
        syn_ack = syn_ack.sack_ok();
    }
    h.inject(syn_ack);
    h.expect(A, 101, 301);
    c
}

fn open(h: &mut Harness) -> SocketId {
    open_with(h, true)
}

/// Everything the stack sends now.
fn drain(h: &mut Harness) -> Vec<Seg> {
    std::iter::from_fn(|| h.poll()).collect()
}

fn seqs(segs: &[Seg]) -> Vec<u32> {
    segs.iter().map(|s| s.seq).collect()
}

/// `n` segments of 1000 bytes from 101 on.
fn segment_seqs(n: u32) -> Vec<u32> {
    (0..n).map(|i| 101 + 1000 * i).collect()
}

/// A connection with ten 1000-byte segments in flight (the initial window).
fn ten_in_flight(peer_sack: bool) -> (Harness, SocketId) {
    let mut h = Harness::new(sack_config());
    let c = open_with(&mut h, peer_sack);
    h.ep.send(h.now, c, &[7u8; 10_000]).unwrap();
    assert_eq!(seqs(&drain(&mut h)), segment_seqs(10));
    (h, c)
}

/// The peer's ACK of `ack` carrying SACK blocks.
fn sack_ack(ack: u32, blocks: &[(u32, u32)]) -> Seg {
    Seg::new(N, 301).ack(ack).sack(blocks)
}

fn counters(h: &Harness, c: SocketId) -> Counters {
    h.ep.connection_counters(c).unwrap()
}

// ----- receiver -----

#[test]
fn the_first_sack_block_holds_the_latest_out_of_order_segment() {
    // RFC 2018 §4: the first block is the one holding the segment that
    // triggered the ACK; the others follow, most recently reported first.
    // A list in sequence order would start with the block at 401 every
    // time; here it leads only right after a segment landed in it.
    let mut h = Harness::new(sack_config());
    let c = open(&mut h);
    let send = |h: &mut Harness, seq: u32| {
        h.inject(Seg::new(N, seq).ack(101).data(&[1u8; 100]));
        h.expect(A, 101, 301).sacks()
    };
    assert_eq!(send(&mut h, 401), [(401, 501)]);
    assert_eq!(send(&mut h, 601), [(601, 701), (401, 501)]);
    assert_eq!(send(&mut h, 801), [(801, 901), (601, 701), (401, 501)]);
    // 501 joins the blocks at 401 and 601 into one, which now leads.
    assert_eq!(send(&mut h, 501), [(401, 701), (801, 901)]);
    assert_eq!(send(&mut h, 1001), [(1001, 1101), (401, 701), (801, 901)]);
    // The hole at 301 fills: [301, 701) is delivered, the rest stays reported.
    h.inject(Seg::new(N, 301).ack(101).data(&[1u8; 100]));
    let ack = h.expect(A, 101, 701);
    assert_eq!(ack.sacks(), [(1001, 1101), (801, 901)]);
    assert_eq!(h.ep.recv_queue_len(c), 400);
}

type Blocks = Vec<(u32, u32)>;

/// Five out-of-order 100-byte segments with holes between them, at 401,
/// 601, 801, 1001, 1201, then one extending the first block (to 551).
/// Returns the SACK blocks of the last two ACKs.
fn five_blocks_then_touch_the_first(timestamps: bool) -> (Blocks, Blocks) {
    let mut h = Harness::new(TcpConfig {
        timestamps,
        ..sack_config()
    });
    h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    let syn = h.expect(Flags::SYN, 100, 0);
    let ours = syn.options.timestamps.map_or(0, |t| t.0);
    let with_ts = |seg: Seg, val: u32| if timestamps { seg.ts(val, ours) } else { seg };
    h.inject(with_ts(
        Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok(),
        5000,
    ));
    h.expect(A, 101, 301);
    let mut blocks = Vec::new();
    for (i, seq) in [401, 601, 801, 1001, 1201, 451].into_iter().enumerate() {
        let seg = Seg::new(N, seq).ack(101).data(&[1u8; 100]);
        h.inject(with_ts(seg, 5001 + i as u32));
        blocks.push(h.expect(A, 101, 301).sacks());
    }
    let touched = blocks.pop().unwrap();
    (blocks.pop().unwrap(), touched)
}

#[test]
fn sack_blocks_fill_the_option_space_with_the_most_recent_first() {
    // RFC 2018 §3: 40 option bytes hold four blocks, only three beside the
    // timestamp option. With five holes open, the ACK carries the blocks
    // touched most recently, not the lowest in sequence; when an old block
    // grows again it returns to the front, pushing out the stalest.
    let (five, touched) = five_blocks_then_touch_the_first(false);
    assert_eq!(five, [(1201, 1301), (1001, 1101), (801, 901), (601, 701)]);
    assert_eq!(
        touched,
        [(401, 551), (1201, 1301), (1001, 1101), (801, 901)]
    );
    let (five, touched) = five_blocks_then_touch_the_first(true);
    assert_eq!(five, [(1201, 1301), (1001, 1101), (801, 901)]);
    assert_eq!(touched, [(401, 551), (1201, 1301), (1001, 1101)]);
}

// ----- sender: scoreboard and recovery -----

#[test]
fn sacked_segments_are_skipped_when_resending_after_a_timeout() {
    // The scoreboard keeps blocks reported in separate ACKs (RFC 6675 §4
    // Update). Two duplicate ACKs do not start recovery, so the RTO fires:
    // slow start from SND.UNA, but the SACK information is kept (RFC 6675
    // §5.1's allowance, as Linux does) and what the peer holds, 2101 and
    // 5101, is never sent again.
    let (mut h, c) = ten_in_flight(true);
    h.inject(sack_ack(101, &[(2101, 3101)]));
    h.inject(sack_ack(101, &[(5101, 6101), (2101, 3101)]));
    assert!(
        drain(&mut h).is_empty(),
        "two duplicate ACKs: no retransmission"
    );
    h.fire_next_timer();
    assert_eq!(seqs(&drain(&mut h)), [101], "RTO: one segment, at SND.UNA");
    h.inject(sack_ack(1101, &[(5101, 6101), (2101, 3101)]));
    assert_eq!(seqs(&drain(&mut h)), [1101, 3101], "2101 skipped");
    h.inject(sack_ack(3101, &[(5101, 6101)]));
    assert_eq!(seqs(&drain(&mut h)), [4101, 6101], "5101 skipped");
    let k = counters(&h, c);
    assert_eq!(
        (k.timeouts, k.fast_retransmits, k.duplicate_acks),
        (1, 0, 2)
    );
}

#[test]
fn a_receiver_that_reneges_on_its_sacks_gets_the_data_again() {
    // RFC 2018 §8: a receiver may discard data it SACKed. A cumulative ACK
    // that stops where a SACKed range starts shows it did: the sender drops
    // its SACK information (Linux's reneging check), so after the timeout
    // it resends 2101 and 3101 rather than skipping them.
    let (mut h, c) = ten_in_flight(true);
    h.inject(sack_ack(101, &[(2101, 4101)]));
    h.inject(sack_ack(2101, &[]));
    assert_eq!(counters(&h, c).sack_reneging, 1);
    h.fire_next_timer();
    assert_eq!(seqs(&drain(&mut h)), [2101]);
    h.inject(sack_ack(3101, &[]));
    assert_eq!(seqs(&drain(&mut h)), [3101, 4101]);
}

#[test]
fn recovery_starts_on_the_third_ack_that_sacks_new_data() {
    // RFC 6675 §2: a duplicate ACK is one that SACKs data not SACKed
    // before; repeating an old block, however often, is not one. The third
    // duplicate ACK (§5 step 1) starts recovery with a retransmission of
    // the segment at SND.UNA.
    let (mut h, c) = ten_in_flight(true);
    for _ in 0..3 {
        h.inject(sack_ack(101, &[(1101, 2101)]));
    }
    h.inject(sack_ack(101, &[(1101, 3101)]));
    assert!(drain(&mut h).is_empty(), "only two duplicate ACKs so far");
    assert_eq!(counters(&h, c).duplicate_acks, 2);
    h.inject(sack_ack(101, &[(1101, 4101)]));
    let out = drain(&mut h);
    assert_eq!(seqs(&out), [101]);
    assert_eq!(out[0].payload.len(), 1000);
    let k = counters(&h, c);
    assert_eq!((k.fast_retransmits, k.sack_recoveries), (1, 1));
}

#[test]
fn three_small_sacks_start_recovery_even_below_islost() {
    // §5 step (1): DupAcks >= DupThresh starts recovery even when the SACKed
    // bytes (here 300, a few small pieces) are too few for IsLost -- the
    // case the RFC's note under step (1) is about.
    let (mut h, _) = ten_in_flight(true);
    h.inject(sack_ack(101, &[(1101, 1201)]));
    h.inject(sack_ack(101, &[(1101, 1301)]));
    assert!(drain(&mut h).is_empty());
    h.inject(sack_ack(101, &[(1101, 1401)]));
    assert_eq!(seqs(&drain(&mut h)), [101]);
}

#[test]
fn one_ack_sacking_three_segments_starts_recovery_at_once() {
    // §5 step (2): IsLost(HighACK + 1) -- more than (DupThresh - 1) * SMSS
    // SACKed above SND.UNA -- starts recovery on the first duplicate ACK.
    let (mut h, c) = ten_in_flight(true);
    h.inject(sack_ack(101, &[(1101, 4101)]));
    assert_eq!(seqs(&drain(&mut h)), [101]);
    assert_eq!(counters(&h, c).duplicate_acks, 1);
}

#[test]
fn recovery_resends_only_the_holes() {
    // 101, 3101 and 6101 are lost; the peer SACKs everything else. NextSeg
    // (RFC 6675 §4 rule 1) fills exactly the three holes within one round
    // trip and never resends SACKed data; the transfer completes without a
    // timeout. (NewReno needs a round trip per hole: see the next test.)
    let (mut h, c) = ten_in_flight(true);
    h.inject(sack_ack(101, &[(1101, 3101)]));
    assert!(drain(&mut h).is_empty());
    h.inject(sack_ack(101, &[(4101, 6101), (1101, 3101)]));
    assert_eq!(
        seqs(&drain(&mut h)),
        [101],
        "IsLost(SND.UNA): fast retransmit"
    );
    h.inject(sack_ack(101, &[(7101, 10_101), (4101, 6101), (1101, 3101)]));
    assert_eq!(
        seqs(&drain(&mut h)),
        [3101, 6101],
        "the other two holes at once"
    );
    // Partial ACKs as the retransmissions arrive: nothing is resent twice
    // (the rescue of rule 4 is for data not yet retransmitted).
    for (ack, blocks) in [
        (3101, &[(7101, 10_101), (4101, 6101)][..]),
        (6101, &[(7101, 10_101)][..]),
        (10_101, &[][..]),
    ] {
        h.inject(sack_ack(ack, blocks));
        assert!(drain(&mut h).is_empty(), "after ACK {ack}");
    }
    let k = counters(&h, c);
    assert_eq!(
        (k.retransmitted_segments, k.fast_retransmits, k.timeouts),
        (3, 1, 0)
    );
    assert_eq!(h.ep.send_queue_len(c), 0);
}

#[test]
fn without_sack_negotiated_the_same_losses_take_newreno_a_round_trip_each() {
    // The peer's SYN-ACK does not permit SACK, so SACK blocks it sends
    // anyway are ignored and RFC 6582 NewReno runs unchanged: the three
    // holes are resent one per partial ACK.
    let (mut h, c) = ten_in_flight(false);
    for _ in 0..3 {
        h.inject(sack_ack(101, &[(7101, 10_101), (4101, 6101), (1101, 3101)]));
    }
    assert_eq!(seqs(&drain(&mut h)), [101]);
    h.inject(sack_ack(3101, &[(7101, 10_101), (4101, 6101)]));
    assert_eq!(seqs(&drain(&mut h)), [3101]);
    h.inject(sack_ack(6101, &[(7101, 10_101)]));
    assert_eq!(seqs(&drain(&mut h)), [6101]);
    let k = counters(&h, c);
    assert_eq!((k.fast_retransmits, k.sack_recoveries), (1, 0));
}

#[test]
fn the_rescue_retransmission_resends_the_lost_tail() {
    // The last two segments (8101, 9101) are lost with the first: nothing
    // is SACKed above them, so rules (1) and (3) cannot reach them. After
    // the partial ACK of 8101, NextSeg rule (4) sends one rescue segment
    // holding the highest unSACKed octet: 9101, not 8101 as NewReno's
    // partial-ACK retransmission would. Its SACK then exposes the hole at
    // 8101 (rule 3), all without a timeout, and only once per recovery.
    let (mut h, c) = ten_in_flight(true);
    for k in 2..=8 {
        h.inject(sack_ack(101, &[(1101, 101 + 1000 * k)]));
    }
    assert_eq!(seqs(&drain(&mut h)), [101]);
    h.inject(sack_ack(8101, &[]));
    assert_eq!(
        seqs(&drain(&mut h)),
        [9101],
        "rescue: the tail's last segment"
    );
    assert_eq!(counters(&h, c).rescue_retransmits, 1);
    h.inject(sack_ack(8101, &[(9101, 10_101)]));
    assert_eq!(seqs(&drain(&mut h)), [8101]);
    h.inject(sack_ack(10_101, &[]));
    let k = counters(&h, c);
    assert_eq!((k.rescue_retransmits, k.timeouts), (1, 0));
    assert_eq!(h.ep.send_queue_len(c), 0);
}

#[test]
fn a_rescued_tail_carries_the_fin() {
    // As above with the FIN on the last segment: the highest unSACKed
    // octet is the FIN itself, so the rescue segment carries it, and the
    // close completes without a timeout.
    let mut h = Harness::new(sack_config());
    let c = open(&mut h);
    h.ep.send(h.now, c, &[7u8; 10_000]).unwrap();
    h.ep.shutdown(h.now, c).unwrap();
    let sent = drain(&mut h);
    assert_eq!(seqs(&sent), segment_seqs(10));
    assert!(sent[9].flags.fin(), "the FIN rides on the last segment");
    for k in 2..=8 {
        h.inject(sack_ack(101, &[(1101, 101 + 1000 * k)]));
    }
    assert_eq!(seqs(&drain(&mut h)), [101]);
    h.inject(sack_ack(8101, &[]));
    let rescue = drain(&mut h);
    assert_eq!(seqs(&rescue), [9101]);
    assert!(rescue[0].flags.fin() && rescue[0].payload.len() == 1000);
    // The receiver SACKs the data of the rescued segment (never the FIN).
    h.inject(sack_ack(8101, &[(9101, 10_101)]));
    assert_eq!(seqs(&drain(&mut h)), [8101]);
    h.inject(sack_ack(10_102, &[]));
    assert_eq!(h.ep.state(c), Some(State::FinWait2));
    assert_eq!(counters(&h, c).timeouts, 0);
}

/// 25 segments to send. 101 is lost: recovery with RecoveryPoint 12101.
/// New data sent during it includes 12101, lost too, which NextSeg resends
/// inside the same recovery. Returns with that retransmission in flight
/// and the peer holding everything else up to 16101 but 101.
fn recovery_repairing_a_loss_among_new_data() -> (Harness, SocketId) {
    let mut h = Harness::new(sack_config());
    let c = open(&mut h);
    h.ep.send(h.now, c, &[7u8; 25_000]).unwrap();
    assert_eq!(seqs(&drain(&mut h)), segment_seqs(10));
    // Limited transmit (§5 step 3): each of the first two duplicate ACKs
    // lets one new segment out.
    h.inject(sack_ack(101, &[(1101, 2101)]));
    assert_eq!(seqs(&drain(&mut h)), [10_101]);
    h.inject(sack_ack(101, &[(1101, 3101)]));
    assert_eq!(seqs(&drain(&mut h)), [11_101]);
    h.inject(sack_ack(101, &[(1101, 4101)]));
    assert_eq!(seqs(&drain(&mut h)), [101], "recovery; RecoveryPoint 12101");
    // The rest of the old window is SACKed; as pipe drains, new data goes
    // out (NextSeg rule 2) within cwnd = 5000.
    let mut out = Vec::new();
    for k in 5..=12 {
        h.inject(sack_ack(101, &[(1101, 101 + 1000 * k)]));
        out.extend(seqs(&drain(&mut h)));
    }
    assert_eq!(out, [12_101, 13_101, 14_101, 15_101]);
    // 12101 is lost. Until IsLost(12101) new data goes first (rule 2); the
    // third SACK above it marks it lost and rule (1) resends it.
    let mut out = Vec::new();
    for top in [14_101, 15_101, 16_101] {
        h.inject(sack_ack(101, &[(13_101, top), (1101, 12_101)]));
        out.extend(seqs(&drain(&mut h)));
    }
    assert_eq!(out, [16_101, 17_101, 12_101, 18_101]);
    let k = counters(&h, c);
    assert_eq!((k.fast_retransmits, k.sack_recoveries), (1, 1));
    (h, c)
}

#[test]
fn recovery_lasts_until_the_recovery_point_is_acknowledged() {
    // RFC 6675 §5 (A): recovery ends when the cumulative ACK covers
    // RecoveryPoint (HighData when it began), not at the first ACK that
    // advances. While it lasted, the loss of 12101 (sent after
    // RecoveryPoint) was repaired without a second fast retransmit and a
    // second window reduction (the helper checks the counters); once it
    // is over, three duplicate ACKs start a second recovery.
    let (mut h, c) = recovery_repairing_a_loss_among_new_data();
    // 101 arrives: the cumulative ACK reaches RecoveryPoint 12101.
    h.inject(sack_ack(12_101, &[(13_101, 16_101)]));
    drain(&mut h);
    // 12101's retransmission arrives (16101 too), then 17101 is lost: now
    // three duplicate ACKs start a second recovery.
    h.inject(sack_ack(17_101, &[]));
    drain(&mut h);
    for top in [19_101, 20_101] {
        h.inject(sack_ack(17_101, &[(18_101, top)]));
        assert!(!seqs(&drain(&mut h)).contains(&17_101));
    }
    h.inject(sack_ack(17_101, &[(18_101, 21_101)]));
    assert_eq!(seqs(&drain(&mut h)).first(), Some(&17_101));
    let k = counters(&h, c);
    assert_eq!((k.fast_retransmits, k.sack_recoveries), (2, 2));
}

#[test]
fn a_recovery_starting_as_one_ends_does_not_resend_what_is_in_flight() {
    // The ACK that reaches RecoveryPoint also SACKs new data above the
    // hole at 12101, so IsLost(SND.UNA) starts a new recovery at once. Its
    // step (4.3) would resend 12101, whose retransmission from the last
    // recovery is still in flight; HighRxt is kept across recoveries so it
    // is not sent a third time. The transfer completes without a timeout.
    let (mut h, c) = recovery_repairing_a_loss_among_new_data();
    h.inject(sack_ack(12_101, &[(13_101, 17_101)]));
    let out = seqs(&drain(&mut h));
    assert!(!out.contains(&12_101), "sent {out:?}");
    let k = counters(&h, c);
    assert_eq!((k.fast_retransmits, k.sack_recoveries), (1, 2));
    // The retransmission lands, then 17101 and 18101, then everything the
    // sender sends from here on.
    h.inject(sack_ack(17_101, &[]));
    let mut out = seqs(&drain(&mut h));
    let mut ack = 19_101;
    for _ in 0..10 {
        h.inject(sack_ack(ack, &[]));
        let sent = drain(&mut h);
        out.extend(seqs(&sent));
        ack = sent
            .iter()
            .map(|s| s.seq + s.payload.len() as u32)
            .fold(ack, u32::max);
    }
    assert!(out.iter().all(|&s| s >= 17_101), "no resends: {out:?}");
    assert_eq!(h.ep.send_queue_len(c), 0);
    assert_eq!(counters(&h, c).timeouts, 0);
}

#[test]
fn garbage_sack_blocks_are_ignored() {
    // Blocks above SND.MAX, below SND.UNA, starting at SND.UNA, reversed,
    // or running past SND.MAX describe nothing we sent (RFC 2018 §4, RFC
    // 6675 §5): each is ignored and counted, none is a duplicate ACK, so
    // no number of them starts recovery. Valid SACKs still work after.
    let (mut h, c) = ten_in_flight(true);
    for _ in 0..3 {
        h.inject(sack_ack(
            101,
            &[(20_101, 21_101), (1, 51), (101, 1101), (3101, 2101)],
        ));
        h.inject(sack_ack(101, &[(9101, 10_201)]));
    }
    assert!(drain(&mut h).is_empty());
    let k = counters(&h, c);
    assert_eq!(
        (k.sack_blocks_ignored, k.duplicate_acks, k.fast_retransmits),
        (15, 0, 0)
    );
    h.inject(sack_ack(101, &[(1101, 4101)]));
    assert_eq!(seqs(&drain(&mut h)), [101]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_acks_and_sack_blocks_never_panic_or_send_unwritten_data(
        acks in proptest::collection::vec(
            (0u32..=10_000, proptest::collection::vec((0u32..12_000, 0u32..12_000), 0..5), proptest::bool::ANY),
            1..25,
        )
    ) {
        // Whatever the peer claims -- wrong, overlapping, reversed, stale
        // or reneging blocks, with timeouts in between -- the sender does
        // not panic and only ever sends the 10,000 bytes it was given.
        let (mut h, _) = ten_in_flight(true);
        for (ack, blocks, timeout) in acks {
            let blocks: Vec<(u32, u32)> = blocks.iter().map(|&(l, r)| (l + 101, r + 101)).collect();
            h.inject(sack_ack(101 + ack, &blocks));
            if timeout && h.ep.poll_timeout().is_some() {
                h.fire_next_timer();
            }
            for seg in drain(&mut h) {
                if !seg.payload.is_empty() {
                    proptest::prop_assert!(seg.seq >= 101 && seg.seq + seg.payload.len() as u32 <= 10_101,
                        "sent {}", seg.summary());
                }
            }
        }
    }
}
