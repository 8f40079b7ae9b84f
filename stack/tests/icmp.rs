//! ICMP errors (RFC 792) as the stack takes them, Linux's tcp_v4_err:
//! fragmentation needed lowers the path MTU and the MSS and resends what
//! is in flight (RFC 1191); an ICMP quoting a sequence number not in
//! flight is ignored (RFC 5927 §4.1); unreachable aborts a connection
//! attempt (RFC 5461) and is a soft error once synchronized (RFC 1122
//! §4.2.3.9); malformed ICMP is refused without a panic.

mod common;

use common::*;
use stack::wire::{Flags, internet_checksum};
use stack::{Event, SocketError, State, TcpConfig};
use std::net::Ipv4Addr;

const A: Flags = Flags::ACK;
const P: Flags = Flags::PSH;

/// An ICMP error from `from` quoting a TCP segment LOCAL:`local_port` ->
/// REMOTE:REMOTE_PORT with sequence number `seq`.
fn icmp(from: Ipv4Addr, kind: u8, code: u8, mtu: u16, local_port: u16, seq: u32) -> Vec<u8> {
    fn ip(out: &mut Vec<u8>, total: u16, proto: u8, src: Ipv4Addr, dst: Ipv4Addr) {
        let at = out.len();
        out.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0]);
        out[at + 2..at + 4].copy_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&src.octets());
        out.extend_from_slice(&dst.octets());
        let sum = internet_checksum(&out[at..at + 20]);
        out[at + 10..at + 12].copy_from_slice(&sum.to_be_bytes());
    }
    let mut out = Vec::new();
    ip(&mut out, 20 + 8 + 28, 1, from, LOCAL);
    out.extend_from_slice(&[kind, code, 0, 0, 0, 0]);
    out.extend_from_slice(&mtu.to_be_bytes());
    ip(&mut out, 1040, 6, LOCAL, REMOTE);
    out.extend_from_slice(&local_port.to_be_bytes());
    out.extend_from_slice(&REMOTE_PORT.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    let sum = internet_checksum(&out[20..]);
    out[22..24].copy_from_slice(&sum.to_be_bytes());
    out
}

fn frag_needed(mtu: u16, seq: u32) -> Vec<u8> {
    icmp(Ipv4Addr::new(10, 0, 0, 1), 3, 4, mtu, LOCAL_PORT, seq)
}

#[test]
fn frag_needed_lowers_the_mss_and_resends_the_flight_in_smaller_segments() {
    // Why: three 1000-byte segments are in flight when a router says the
    // path carries only 840 bytes; RFC 1191 and Linux's
    // tcp_simple_retransmit resend them at once as 800-byte segments
    // (840 - 40), the same bytes from SND.UNA, with no timeout waited
    // for; later data keeps the new size.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, &[7u8; 3000]).unwrap();
    for seq in [101, 1101, 2101] {
        assert_eq!(
            h.expect(A | if seq == 2101 { P } else { A }, seq, 301)
                .payload
                .len(),
            1000
        );
    }
    h.ep.handle_packet(h.now, &frag_needed(840, 101)).unwrap();
    let mut resent = Vec::new();
    while let Some(seg) = h.poll() {
        resent.push((seg.seq, seg.payload.len()));
    }
    assert_eq!(
        resent,
        [(101, 800), (901, 800), (1701, 800), (2501, 600)],
        "the flight again, in 800-byte segments"
    );
    assert_eq!(h.ep.info(c).unwrap().snd_mss, 800);
    // A report of a larger MTU does not raise it (RFC 1191 §3: only
    // decreases come from ICMP).
    h.ep.handle_packet(h.now, &frag_needed(1400, 101)).unwrap();
    h.expect_nothing();
    assert_eq!(h.ep.info(c).unwrap().snd_mss, 800);
}

#[test]
fn frag_needed_below_the_minimum_pmtu_stops_at_552() {
    // Why: Linux never takes a path MTU below ip_rt_min_pmtu (552), so a
    // forged "MTU 68" cannot shrink segments to a few bytes (RFC 5927
    // §5.2 discusses the attack): the MSS becomes 512.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, &[7u8; 1000]).unwrap();
    h.expect(P | A, 101, 301);
    h.ep.handle_packet(h.now, &frag_needed(68, 101)).unwrap();
    assert_eq!(h.ep.info(c).unwrap().snd_mss, 512);
    assert_eq!(h.poll().map(|s| (s.seq, s.payload.len())), Some((101, 512)));
}

#[test]
fn an_icmp_quoting_a_sequence_number_not_in_flight_is_ignored() {
    // Why: RFC 5927 §4.1: an ICMP error is believed only if the segment it
    // quotes is one in flight (SND.UNA <= seq <= SND.NXT); a blind
    // attacker's guess outside is counted and changes nothing: no
    // retransmission, the MSS kept, no error.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, &[7u8; 1000]).unwrap();
    h.expect(P | A, 101, 301);
    for seq in [50, 100, 1102, 100_000] {
        h.ep.handle_packet(h.now, &frag_needed(840, seq)).unwrap();
        h.ep.handle_packet(h.now, &icmp(REMOTE, 3, 1, 0, LOCAL_PORT, seq))
            .unwrap();
    }
    h.expect_nothing();
    assert_eq!(h.ep.info(c).unwrap().snd_mss, 1000);
    assert_eq!(h.ep.take_soft_error(c), None);
    assert_eq!(h.ep.counters().icmp_out_of_window, 8);
    assert!(!h.events().iter().any(|e| matches!(e, Event::Error(..))));
    // The edges are in: SND.UNA and SND.NXT themselves.
    h.ep.handle_packet(h.now, &icmp(REMOTE, 3, 1, 0, LOCAL_PORT, 1101))
        .unwrap();
    assert_eq!(h.ep.take_soft_error(c), Some(SocketError::HostUnreachable));
}

#[test]
fn host_unreachable_in_syn_sent_fails_the_connect() {
    // Why: RFC 5461 §4 / Linux: a connection attempt that draws a host
    // unreachable for its SYN fails at once with EHOSTUNREACH rather than
    // retrying for a minute.
    let mut h = Harness::plain(100);
    let c = h.ep.connect_from(h.now, LOCAL_PORT, remote_addr()).unwrap();
    h.expect(Flags::SYN, 100, 0);
    h.ep.handle_packet(
        h.now,
        &icmp(Ipv4Addr::new(10, 0, 0, 1), 3, 1, 0, LOCAL_PORT, 100),
    )
    .unwrap();
    let events = h.events();
    assert!(events.contains(&Event::Error(c, SocketError::HostUnreachable)));
    assert_eq!(h.ep.state(c), None, "the TCB is gone");
    h.expect_nothing();
}

#[test]
fn unreachable_once_established_is_a_soft_error_reported_on_timeout() {
    // Why: RFC 1122 §4.2.3.9: net/host unreachable must not abort a
    // synchronized connection; Linux keeps it as sk_err_soft, which is
    // the error the connection reports when its retransmissions time out
    // (EHOSTUNREACH, not ETIMEDOUT); an ACK of new data in between would
    // have cleared it.
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        data_retries: 2,
        ..TcpConfig::plain()
    });
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"hello").unwrap();
    h.expect(P | A, 101, 301);
    h.ep.handle_packet(
        h.now,
        &icmp(Ipv4Addr::new(10, 0, 0, 1), 3, 0, 0, LOCAL_PORT, 101),
    )
    .unwrap();
    assert_eq!(h.ep.state(c), Some(State::Established));
    assert!(!h.events().iter().any(|e| matches!(e, Event::Error(..))));
    for _ in 0..3 {
        h.fire_next_timer();
    }
    assert!(
        h.events()
            .contains(&Event::Error(c, SocketError::NetworkUnreachable))
    );
}

#[test]
fn an_ack_of_new_data_forgets_the_soft_error() {
    // Why: Linux's tcp_ack clears sk_err_soft when data gets through: a
    // path that works again leaves no stale error for SO_ERROR.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, b"hello").unwrap();
    h.expect(P | A, 101, 301);
    h.ep.handle_packet(h.now, &icmp(REMOTE, 3, 1, 0, LOCAL_PORT, 101))
        .unwrap();
    h.inject(Seg::new(Flags::NONE, 301).ack(106));
    assert_eq!(h.ep.take_soft_error(c), None);
}

#[test]
fn host_unreachable_for_a_half_open_passive_connection_drops_it() {
    // Why: Linux's tcp_req_err: a host unreachable quoting the SYN-ACK's
    // ISS drops the request, so the peer's late ACK meets no connection
    // and is answered with a RST; one quoting another number is ignored.
    let mut h = Harness::plain(500);
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(Seg::new(Flags::SYN, 1000).mss(1000));
    h.expect(Flags::SYN | A, 500, 1001);
    h.ep.handle_packet(h.now, &icmp(REMOTE, 3, 1, 0, LOCAL_PORT, 501))
        .unwrap();
    assert_eq!(h.ep.counters().icmp_out_of_window, 1);
    h.ep.handle_packet(h.now, &icmp(REMOTE, 3, 1, 0, LOCAL_PORT, 500))
        .unwrap();
    h.inject(Seg::new(Flags::NONE, 1001).ack(501));
    h.expect(Flags::RST, 501, 0);
    assert!(h.ep.accept(l).is_err());
}

#[test]
fn malformed_or_foreign_icmp_is_refused_without_effect() {
    // Why: an ICMP datagram is untrusted input: truncated at every length,
    // with a bad checksum, quoting another host's or another port's
    // segment, or of a type TCP ignores, it must be refused or ignored
    // (never a panic) and leave the connection as it was.
    let mut h = Harness::plain(100);
    let c = h.open_connection(100, 300);
    h.ep.send(h.now, c, &[7u8; 1000]).unwrap();
    h.expect(P | A, 101, 301);
    let good = frag_needed(840, 101);
    for n in 0..good.len() {
        let _ = h.ep.handle_packet(h.now, &good[..n]);
    }
    let mut bad_sum = good.clone();
    bad_sum[27] ^= 0xff;
    assert!(h.ep.handle_packet(h.now, &bad_sum).is_err());
    let other_port = icmp(REMOTE, 3, 4, 840, LOCAL_PORT + 1, 101);
    h.ep.handle_packet(h.now, &other_port).unwrap();
    let mut other_host = good.clone();
    other_host[40..44].copy_from_slice(&[10, 9, 9, 9]);
    // Re-checksum the quoted header and the ICMP message.
    other_host[38..40].copy_from_slice(&[0, 0]);
    let s = internet_checksum(&other_host[28..48]);
    other_host[38..40].copy_from_slice(&s.to_be_bytes());
    other_host[22..24].copy_from_slice(&[0, 0]);
    let s = internet_checksum(&other_host[20..]);
    other_host[22..24].copy_from_slice(&s.to_be_bytes());
    h.ep.handle_packet(h.now, &other_host).unwrap();
    let echo = icmp(REMOTE, 8, 0, 0, LOCAL_PORT, 101);
    h.ep.handle_packet(h.now, &echo).unwrap();
    h.expect_nothing();
    assert_eq!(h.ep.info(c).unwrap().snd_mss, 1000);
    assert_eq!(h.ep.state(c), Some(State::Established));
}
