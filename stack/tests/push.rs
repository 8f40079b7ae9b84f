//! How writes become segments: PSH where Linux puts it, MSG_EOR records,
//! MSG_MORE and TCP_CORK, and Linux's cwnd-limited slow start.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, SendFlags, SocketId, TcpConfig};

const A: Flags = Flags::ACK;
const P: Flags = Flags::PSH;

/// Our ISN 100, the peer's 300; the peer's MSS is 1012 (1000 beside the
/// timestamp option) and it offers
/// `window` bytes. Timestamps are on, so the SYN-ACK, 100 ms after our
/// SYN, gives the RTT sample a real handshake gives Linux.
fn open_with_window(tcp: TcpConfig, window: u16) -> (Harness, SocketId) {
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        ts_offset: Some(0),
        sack: false,
        window_scale: None,
        ..tcp
    });
    h.advance(Duration::from_secs(1));
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.advance(Duration::from_millis(100));
    h.inject(
        Seg::new(Flags::SYN | A, 300)
            .ack(101)
            .mss(1012)
            .win(window)
            .ts(1, 1000),
    );
    h.expect(A, 101, 301);
    (h, c)
}

fn open(tcp: TcpConfig) -> (Harness, SocketId) {
    open_with_window(tcp, 60000)
}

/// The peer's ACK of `ack` offering `window`, echoing the timestamp of
/// data sent 100 ms ago (or at the handshake's end, 1.1 s).
fn ack(h: &mut Harness, ack: u32, window: u16) {
    let now_ms = (h.now.as_nanos() / 1_000_000) as u32;
    let ecr = now_ms.saturating_sub(100).max(1100);
    h.inject(Seg::new(A, 301).ack(ack).win(window).ts(2, ecr));
}

/// The segments the stack sends now, as (flags, seq, payload length).
fn burst(h: &mut Harness) -> Vec<(Flags, u32, usize)> {
    std::iter::from_fn(|| h.poll())
        .map(|s| (s.flags, s.seq, s.payload.len()))
        .collect()
}

#[test]
fn linux_puts_psh_on_each_two_segment_packet_of_a_large_write() {
    // Linux 6.18 (packetdrill, slow_start/slow-start-ack-per-1pkt): a
    // 30000-byte write into a 10-segment window leaves as five TSO packets
    // of two segments, each with PSH on its last segment. The RFC profile
    // sets PSH only where the write ends, which this burst does not reach.
    let (mut h, c) = open(TcpConfig::linux());
    assert_eq!(h.ep.send(h.now, c, &[1u8; 30000]), Ok(30000));
    let got = burst(&mut h);
    assert_eq!(got.len(), 10);
    for (i, &(flags, seq, len)) in got.iter().enumerate() {
        assert_eq!((seq, len), (101 + 1000 * i as u32, 1000));
        let want = if i % 2 == 1 { P | A } else { A };
        assert_eq!(flags, want, "segment {i}");
    }

    let (mut h, c) = open(TcpConfig::default());
    assert_eq!(h.ep.send(h.now, c, &[1u8; 30000]), Ok(30000));
    assert!(burst(&mut h).iter().all(|&(flags, _, _)| flags == A));
}

#[test]
fn a_one_segment_packet_has_psh_only_where_a_write_ended() {
    // 2500 bytes leave as a TSO packet of two segments (PSH on its last)
    // and a one-segment packet of 500, which has PSH because the write
    // ends there; a one-segment packet elsewhere has none (the first
    // segments after an RTO below).
    let (mut h, c) = open(TcpConfig::linux());
    assert_eq!(h.ep.send(h.now, c, &[1u8; 2500]), Ok(2500));
    let got = burst(&mut h);
    assert_eq!(
        got,
        vec![(A, 101, 1000), (P | A, 1101, 1000), (P | A, 2101, 500)]
    );
    // The RTO resends from SND.UNA one segment at a time (cwnd 1): the
    // packet PSH was the first transmission's, not the data's.
    h.fire_next_timer();
    assert_eq!(burst(&mut h), vec![(A, 101, 1000)]);
}

#[test]
fn linux_forces_psh_within_a_long_write_when_the_window_is_small() {
    // forced_push: while a write fills its buffers, each full one is
    // pushed once more than half the largest window the peer offered has
    // been written since the last PSH. A peer that offers 1000 bytes
    // makes every one-segment buffer a PSH point; each segment goes alone.
    let (mut h, c) = open_with_window(TcpConfig::linux(), 1000);
    assert_eq!(h.ep.send(h.now, c, &[1u8; 3000]), Ok(3000));
    for i in 0..3u32 {
        let s = h.expect(P | A, 101 + 1000 * i, 301);
        assert_eq!(s.payload.len(), 1000);
        h.expect_nothing();
        ack(&mut h, 1101 + 1000 * i, 1000);
    }
    // The RFC profile pushes only the write's end.
    let (mut h, c) = open_with_window(TcpConfig::default(), 1000);
    assert_eq!(h.ep.send(h.now, c, &[1u8; 3000]), Ok(3000));
    for (i, flags) in [A, A, P | A].into_iter().enumerate() {
        h.expect(flags, 101 + 1000 * i as u32, 301);
        ack(&mut h, 1101 + 1000 * i as u32, 1000);
    }
}

#[test]
fn msg_eor_records_never_share_a_segment_even_when_resent() {
    // Three 400-byte writes with MSG_EOR queued before the handshake ends
    // leave as three segments, not one of 1000 + one of 200; after an RTO
    // the go-back-N resend keeps them apart too. Without EOR, the same
    // writes share segments. (TCP_NODELAY: Nagle would hold the last
    // small record, on Linux as here.)
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        timestamps: false,
        sack: false,
        window_scale: None,
        nagle: false,
        ..TcpConfig::linux()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    let eor = SendFlags {
        eor: true,
        more: false,
    };
    for _ in 0..3 {
        assert_eq!(h.ep.send_with_flags(h.now, c, &[2u8; 400], eor), Ok(400));
    }
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(Flags::SYN | A, 300).ack(101).mss(1000).win(60000));
    let records = vec![(P | A, 101, 400), (P | A, 501, 400), (P | A, 901, 400)];
    assert_eq!(burst(&mut h), records);
    h.fire_next_timer();
    // After the RTO the resend goes from SND.UNA as cwnd allows (one
    // SMSS, here room for two records), then on the ACK; each record
    // still alone in its segment.
    let mut resent = burst(&mut h);
    assert_eq!(resent, records[..2].to_vec());
    h.inject(Seg::new(A, 301).ack(901).win(60000));
    resent.extend(burst(&mut h));
    assert_eq!(resent, records);

    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        timestamps: false,
        sack: false,
        window_scale: None,
        nagle: false,
        ..TcpConfig::linux()
    });
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    for _ in 0..3 {
        assert_eq!(h.ep.send(h.now, c, &[2u8; 400]), Ok(400));
    }
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(Flags::SYN | A, 300).ack(101).mss(1000).win(60000));
    let lens: Vec<usize> = burst(&mut h).iter().map(|s| s.2).collect();
    assert_eq!(lens, vec![1000, 200]);
}

#[test]
fn tcp_cork_holds_a_partial_segment_until_uncorked() {
    // TCP_CORK: two 40-byte writes wait (Nagle would have sent the first);
    // uncorking sends both in one segment with PSH (nagle/sockopt_cork_nodelay).
    let (mut h, c) = open(TcpConfig::linux());
    h.ep.set_cork(c, true).unwrap();
    assert_eq!(h.ep.send(h.now, c, &[3u8; 40]), Ok(40));
    h.advance(Duration::from_millis(50));
    assert_eq!(h.ep.send(h.now, c, &[3u8; 40]), Ok(40));
    h.expect_nothing();
    h.ep.set_cork(c, false).unwrap();
    assert_eq!(burst(&mut h), vec![(P | A, 101, 80)]);
}

#[test]
fn a_corked_partial_segment_goes_when_the_persist_timer_fires() {
    // Nothing else would send it: Linux's probe timer does, about an RTO
    // later (the "200 ms ceiling"), with PSH (tcp_write_wakeup), as
    // nagle/sendmsg_msg_more shows for MSG_MORE.
    let (mut h, c) = open(TcpConfig::linux());
    let more = SendFlags {
        eor: false,
        more: true,
    };
    h.ep.set_nodelay(c, true).unwrap();
    assert_eq!(h.ep.send_with_flags(h.now, c, &[4u8; 40], more), Ok(40));
    h.expect_nothing();
    let start = h.now;
    let at = h.fire_next_timer();
    assert!(at - start >= Duration::from_millis(200), "{:?}", at - start);
    assert_eq!(burst(&mut h), vec![(P | A, 101, 40)]);
}

#[test]
fn msg_more_writes_go_together_when_a_write_without_it_ends_them() {
    // Writes with MSG_MORE set no PSH and hold their partial segment; the
    // write without it sends all 45 bytes as one segment with PSH.
    let (mut h, c) = open(TcpConfig::linux());
    h.ep.set_nodelay(c, true).unwrap();
    let more = SendFlags {
        eor: false,
        more: true,
    };
    assert_eq!(h.ep.send_with_flags(h.now, c, &[5u8; 20], more), Ok(20));
    assert_eq!(h.ep.send_with_flags(h.now, c, &[5u8; 20], more), Ok(20));
    h.expect_nothing();
    assert_eq!(h.ep.send(h.now, c, &[5u8; 5]), Ok(5));
    assert_eq!(burst(&mut h), vec![(P | A, 101, 45)]);
}

#[test]
fn linux_slow_start_grows_only_while_cwnd_limited() {
    // An application that writes 5 segments into a 10-segment window is
    // not cwnd-limited: Linux leaves cwnd at 10 when they are acked
    // (slow_start/slow-start-app-limited). RFC 5681 grows it by one SMSS
    // per ACK whatever the sender did.
    for (tcp, want) in [(TcpConfig::linux(), 10_000), (TcpConfig::default(), 12_000)] {
        let (mut h, c) = open(tcp);
        assert_eq!(h.ep.send(h.now, c, &[6u8; 5000]), Ok(5000));
        assert_eq!(burst(&mut h).len(), 5);
        h.advance(Duration::from_millis(100));
        ack(&mut h, 2101, 60000);
        ack(&mut h, 4101, 60000);
        assert_eq!(h.ep.info(c).unwrap().snd_cwnd, want);
    }
}

#[test]
fn linux_slow_start_adds_every_segment_an_ack_covers() {
    // Linux's tcp_slow_start adds the segments acknowledged: one ACK for
    // the whole initial window of 10 doubles cwnd to 20 segments, where
    // RFC 3465's limit (L = 1 SMSS per ACK, the RFC profile) adds one.
    for (tcp, want) in [(TcpConfig::linux(), 20_000), (TcpConfig::default(), 11_000)] {
        let (mut h, c) = open(tcp);
        assert_eq!(h.ep.send(h.now, c, &[6u8; 30000]), Ok(30000));
        assert_eq!(burst(&mut h).len(), 10);
        h.advance(Duration::from_millis(100));
        ack(&mut h, 10101, 60000);
        assert_eq!(h.ep.info(c).unwrap().snd_cwnd, want);
    }
}
