//! D-SACK (RFC 2883): the receiver reports a duplicate segment in the
//! first SACK block; the sender recognises such blocks and undoes a
//! window reduction its retransmissions turned out not to need (RFC 3708,
//! as Linux's tcp_try_undo_dsack).

mod common;

use common::*;
use stack::wire::Flags;
use stack::{Duration, TcpConfig};

const A: Flags = Flags::ACK;
const N: Flags = Flags::NONE;

fn config() -> TcpConfig {
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

#[test]
fn a_duplicate_segment_is_reported_as_the_first_sack_block() {
    // RFC 2883 §4: the ACK answering a duplicate carries its range first,
    // below the cumulative ACK, then the ordinary SACK blocks. Without the
    // D-SACK block the second ACK would be identical to the first.
    let mut h = Harness::new(config());
    h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok());
    h.expect(A, 101, 301);
    h.inject(Seg::new(N, 301).ack(101).data(&[1u8; 100]));
    h.expect(A, 101, 401);
    h.inject(Seg::new(N, 501).ack(101).data(&[2u8; 100]));
    assert_eq!(h.expect(A, 101, 401).sacks(), [(501, 601)]);
    h.inject(Seg::new(N, 301).ack(101).data(&[1u8; 100]));
    assert_eq!(h.expect(A, 101, 401).sacks(), [(301, 401), (501, 601)]);
    // Reported once: the next ACK has the ordinary block only.
    h.inject(Seg::new(N, 701).ack(101).data(&[3u8; 100]));
    assert_eq!(h.expect(A, 101, 401).sacks(), [(701, 801), (501, 601)]);
}

#[test]
fn a_spurious_fast_retransmission_is_undone() {
    // Three segments SACKed above the first: RACK (with no reordering seen
    // yet, a zero window) marks it lost, retransmits it and halves the
    // window. It was only late: the cumulative ACK covers it, and then the
    // peer reports the retransmission as a duplicate (D-SACK below
    // SND.UNA). Every retransmission of the episode was a duplicate, so
    // the reduction is undone: cwnd and ssthresh return to what they were.
    let mut h = Harness::new(config());
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok());
    h.expect(A, 101, 301);
    h.ep.send(h.now, c, &[7u8; 10_000]).unwrap();
    while h.poll().is_some() {}
    let before = h.ep.info(c).unwrap();
    h.advance(Duration::from_millis(100));
    h.inject(Seg::new(N, 301).ack(101).sack(&[(1101, 4101)]));
    let rtx = h.expect(A, 101, 301);
    assert_eq!(rtx.payload.len(), 1000);
    let reduced = h.ep.info(c).unwrap();
    assert!(reduced.snd_ssthresh < before.snd_cwnd, "the window was cut");
    h.advance(Duration::from_millis(10));
    h.inject(Seg::new(N, 301).ack(4101));
    h.advance(Duration::from_millis(10));
    h.inject(Seg::new(N, 301).ack(4101).sack(&[(101, 1101)]));
    let k = h.ep.connection_counters(c).unwrap();
    assert_eq!((k.dsack_dups, k.undos), (1, 1));
    let undone = h.ep.info(c).unwrap();
    assert_eq!(undone.ca_state, stack::CaState::Open);
    assert!(
        undone.snd_cwnd >= before.snd_cwnd,
        "{} < {}",
        undone.snd_cwnd,
        before.snd_cwnd
    );
    assert_eq!(undone.dsack_dups, 1, "tcpi_dsack_dups");
}

#[test]
fn a_dsack_for_data_never_retransmitted_undoes_nothing() {
    // Linux's tcp_dsack_seen: a D-SACK for more duplicates than we ever
    // retransmitted was made by the network (duplication), not by us;
    // it is ignored, and nothing is undone.
    let mut h = Harness::new(config());
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.inject(Seg::new(Flags::SYN, 300).ack(101).mss(1000).sack_ok());
    h.expect(A, 101, 301);
    h.ep.send(h.now, c, &[7u8; 3000]).unwrap();
    while h.poll().is_some() {}
    h.inject(Seg::new(N, 301).ack(2101).sack(&[(101, 1101)]));
    let k = h.ep.connection_counters(c).unwrap();
    assert_eq!((k.dsack_dups, k.undos), (1, 0));
}
