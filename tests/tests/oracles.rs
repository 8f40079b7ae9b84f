//! Each oracle is shown able to fail: fed a broken record, it reports it.

use scenarios::analysis::SegmentEvent;
use scenarios::host::{Logged, Record, Stream};
use scenarios::oracle;
use sim::{EventKind, NodeId, Time};
use stack::wire::{Flags, TcpOptions};
use stack::{SeqNum, SocketId, SocketInfo, State};
use std::net::{Ipv4Addr, SocketAddrV4};

fn a() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1000)
}
fn b() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80)
}

/// A stream that wrote `written` and read `read` (arbitrary bytes, not the pattern).
fn stream(local: SocketAddrV4, remote: SocketAddrV4, written: &[u8], read: &[u8]) -> Stream {
    let mut s = Stream {
        local: Some(local),
        remote: Some(remote),
        ..Stream::default()
    };
    s.written.update(written);
    s.read.update(read);
    s
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 256) as u8).collect()
}

#[test]
fn delivery_flags_a_byte_the_application_says_is_wrong() {
    // An application that knows its bytes (the pattern) reported a wrong
    // one: the oracle must say where, even when the digests agree.
    let data = bytes(100);
    let mut bad = stream(b(), a(), b"", &data);
    bad.first_mismatch = Some(42);
    let ok = [stream(a(), b(), &data, b"")];
    let bad = [bad];
    let v = oracle::check_delivery(&[("client", &ok), ("server", &bad)]);
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("offset 42"), "{}", v[0]);
}

#[test]
fn delivery_flags_a_corrupted_byte_of_any_application_data() {
    // The host's digests alone, without the application's help, show that
    // the 100 bytes read are not the 100 bytes written.
    let data = bytes(100);
    let mut corrupted = data.clone();
    corrupted[57] ^= 0x04;
    let sender = [stream(a(), b(), &data, b"")];
    let receiver = [stream(b(), a(), b"", &corrupted)];
    let v = oracle::check_delivery(&[("client", &sender), ("server", &receiver)]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("differ"), "{}", v[0]);
    let receiver = [stream(b(), a(), b"", &data)];
    assert!(oracle::check_delivery(&[("client", &sender), ("server", &receiver)]).is_empty());
}

#[test]
fn delivery_flags_more_bytes_read_than_sent() {
    // Reading 150 bytes of a 100-byte stream means something was delivered twice.
    let data = bytes(150);
    let sender = [stream(a(), b(), &data[..100], b"")];
    let receiver = [stream(b(), a(), b"", &data)];
    let v = oracle::check_delivery(&[("client", &sender), ("server", &receiver)]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("only 100"));
    // And the honest version passes.
    let receiver = [stream(b(), a(), b"", &data[..100])];
    assert!(oracle::check_delivery(&[("client", &sender), ("server", &receiver)]).is_empty());
}

fn state(from: State, to: State) -> Logged {
    Logged {
        time: Time::ZERO,
        trace_index: 0,
        record: Record::State {
            conn: SocketId(1),
            from,
            to,
        },
    }
}

#[test]
fn transitions_flag_an_arc_missing_from_the_diagram() {
    // LISTEN -> ESTABLISHED skips SYN-RECEIVED: not an arc of Figure 5.
    let log = [
        state(State::Closed, State::Listen),
        state(State::Listen, State::Established),
    ];
    let v = oracle::check_transitions(&[("server", &log)]);
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("LISTEN -> ESTABLISHED"));
}

#[test]
fn transitions_flag_a_discontinuity() {
    // Leaving FIN-WAIT-2 while the connection was in ESTABLISHED is a gap in the record.
    let log = [
        state(State::SynSent, State::Established),
        state(State::FinWait2, State::TimeWait),
    ];
    let v = oracle::check_transitions(&[("client", &log)]);
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("was in ESTABLISHED"));
}

#[test]
fn termination_flags_a_connection_left_open() {
    // ESTABLISHED at the end of a run means it never ended; TIME-WAIT and LISTEN are fine.
    let info = |state| SocketInfo {
        id: SocketId(1),
        state,
        local: a(),
        remote: b(),
        recv_queue: 0,
        send_queue: 0,
    };
    let v = oracle::check_termination(&[(
        "client",
        &[info(State::Established), info(State::TimeWait)],
    )]);
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("still ESTABLISHED"));
}

fn seg(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    flags: Flags,
    seq: u32,
    ack: u32,
    window: u16,
    len: u32,
) -> SegmentEvent {
    SegmentEvent {
        trace_index: 0,
        time: Time::ZERO,
        kind: EventKind::Send,
        node: NodeId(0),
        src,
        dst,
        flags,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        window,
        options: TcpOptions::default(),
        payload_len: len,
        retransmission: false,
    }
}

#[test]
fn segments_flag_an_ack_of_data_never_sent() {
    // a sent SYN (seq 100) and 10 bytes: anything above 111 acks unsent data.
    let trace = [
        seg(a(), b(), Flags::SYN, 100, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 1000, 0),
        seg(a(), b(), Flags::ACK, 101, 501, 1000, 10),
        seg(b(), a(), Flags::ACK, 501, 200, 1000, 0),
    ];
    let v = oracle::check_segments(&trace);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("never sent"));
}

#[test]
fn segments_flag_data_beyond_the_advertised_window() {
    // b acked 101 with window 100: a may send up to 201 (plus a 1-byte probe), not 301.
    let trace = [
        seg(a(), b(), Flags::SYN, 100, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 1000, 0),
        seg(b(), a(), Flags::ACK, 501, 101, 100, 0),
        seg(a(), b(), Flags::ACK, 101, 501, 1000, 100),
        seg(a(), b(), Flags::ACK, 201, 501, 1000, 100),
    ];
    let v = oracle::check_segments(&trace);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("beyond the peer's window"));
}

#[test]
fn segments_keep_the_window_scale_of_a_syn_crossed_in_a_simultaneous_open() {
    // RFC 9293 Figure 7: a's SYN (shift 7) crosses b's SYN (shift 14); a
    // then reaches ESTABLISHED on b's SYN,ACK alone. b's ACK offers 4 << 14
    // octets, so a's 76 octets are well inside. Forgetting a's shift when
    // b's SYN was seen made the oracle read b's window as 4 (found by
    // `tcpsim fuzz endpoint`); a real overrun must still be caught.
    let mut syn_a = seg(a(), b(), Flags::SYN, 100, 0, 2920, 0);
    syn_a.options.window_scale = Some(7);
    let mut syn_b = seg(b(), a(), Flags::SYN, 500, 0, 65472, 0);
    syn_b.options.window_scale = Some(14);
    let mut syn_ack_b = seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 65472, 0);
    syn_ack_b.options.window_scale = Some(14);
    let trace = [
        syn_a,
        syn_b,
        syn_ack_b,
        seg(a(), b(), Flags::ACK, 101, 501, 23, 76),
        seg(b(), a(), Flags::ACK, 501, 177, 4, 0),
        seg(a(), b(), Flags::ACK, 177, 501, 23, 76),
    ];
    let v = oracle::check_segments(&trace);
    assert!(v.is_empty(), "{v:?}");
    // The same conversation with 70,000 octets past b's edge is an overrun.
    let mut overrun = trace.to_vec();
    overrun.push(seg(a(), b(), Flags::ACK, 253 + 70_000, 501, 23, 76));
    let v = oracle::check_segments(&overrun);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("beyond the peer's window"));
}

#[test]
fn segments_keep_the_window_scale_when_a_crossed_syn_is_retransmitted() {
    // Simultaneous open where b has already answered a's SYN with its
    // SYN,ACK (shift 7) when a's retransmission timer resends the same SYN
    // (same ISN). The retransmission is not a new attempt: b's shift still
    // stands, so a's ACK offering 29 << 7 = 3712 octets lets b send 3216.
    // Starting fresh on the resent SYN made the oracle read a's window as
    // 29 (found by `tcpsim run random --seed 77 --faults heavy`).
    let mut syn_a = seg(a(), b(), Flags::SYN, 100, 0, 3600, 0);
    syn_a.options.window_scale = Some(7);
    let mut syn_b = seg(b(), a(), Flags::SYN, 500, 0, 65392, 0);
    syn_b.options.window_scale = Some(7);
    let mut syn_ack_b = seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 65392, 0);
    syn_ack_b.options.window_scale = Some(7);
    let mut trace = vec![syn_a.clone(), syn_b, syn_ack_b, syn_a];
    trace.push(seg(a(), b(), Flags::ACK, 101, 501, 29, 0));
    trace.extend((0..6).map(|i| seg(b(), a(), Flags::ACK, 501 + 536 * i, 101, 511, 536)));
    let v = oracle::check_segments(&trace);
    assert!(v.is_empty(), "{v:?}");
    // A SYN with a new ISN is a new attempt: b's old shift no longer counts,
    // and the same 3216 octets against an unscaled 29 are an overrun.
    let mut fresh = seg(a(), b(), Flags::SYN, 9000, 0, 3600, 0);
    fresh.options.window_scale = Some(7);
    let mut renewed = trace[..3].to_vec();
    renewed.push(fresh);
    renewed.push(seg(a(), b(), Flags::ACK, 9001, 501, 29, 0));
    renewed.extend((0..6).map(|i| seg(b(), a(), Flags::ACK, 501 + 536 * i, 9001, 511, 536)));
    let v = oracle::check_segments(&renewed);
    assert!(
        !v.is_empty() && v[0].detail.contains("beyond the peer's window"),
        "{v:?}"
    );
}

#[test]
fn segments_let_a_half_open_peer_acknowledge_the_connection_before_a_crash() {
    // a crashes after sending 10 bytes and reconnects on the same 4-tuple
    // with a new ISN. b, still ESTABLISHED, answers the new SYN with a
    // challenge ACK for the old data (RFC 9293 §3.10.7.4, RFC 5961 §4):
    // ACK 111 acknowledges what a's previous incarnation sent, not data
    // never sent (found by `tcpsim run random --seed 535 --faults swarm`).
    let trace = [
        seg(a(), b(), Flags::SYN, 100, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 1000, 0),
        seg(a(), b(), Flags::ACK, 101, 501, 1000, 10),
        // a crashed; its new SYN:
        seg(a(), b(), Flags::SYN, 9000, 0, 1000, 0),
        seg(b(), a(), Flags::ACK, 501, 111, 1000, 0),
        seg(a(), b(), Flags::RST, 111, 0, 0, 0),
    ];
    let v = oracle::check_segments(&trace);
    assert!(v.is_empty(), "{v:?}");
    // Beyond the old incarnation's data it is still an ACK of nothing sent.
    let mut beyond = trace.to_vec();
    beyond.push(seg(b(), a(), Flags::ACK, 501, 200, 1000, 0));
    let v = oracle::check_segments(&beyond);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("never sent"));
}

#[test]
fn segments_forget_the_window_of_an_incarnation_a_new_syn_ack_replaced() {
    // b's SYN,ACK was lost, a crashed and reconnected, b sent a challenge
    // ACK (old ACK 101, window 100), then a's retransmitted SYN reached
    // b's listener afresh: b's SYN,ACK with a new ISN begins a new
    // connection whose window (1000) is the only one a may use. Keeping
    // the challenge ACK's window made the oracle place a's edge in the old
    // sequence space (found by `many-connections` seed 892 under swarm).
    let trace = [
        seg(a(), b(), Flags::SYN, 100, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 1000, 0),
        seg(a(), b(), Flags::SYN, 9000, 0, 1000, 0),
        seg(b(), a(), Flags::ACK, 501, 101, 100, 0),
        seg(a(), b(), Flags::RST, 101, 0, 0, 0),
        seg(a(), b(), Flags::SYN, 9000, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 7000, 9001, 1000, 0),
        seg(a(), b(), Flags::ACK, 9001, 7001, 1000, 0),
        seg(b(), a(), Flags::ACK, 7001, 9001, 1000, 0),
        seg(a(), b(), Flags::ACK, 9001, 7001, 1000, 500),
    ];
    let v = oracle::check_segments(&trace);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn segments_follow_an_earlier_incarnation_that_sends_again() {
    // A listener under SYN flood answers a's SYN with a SYN-cookie SYN,ACK
    // (ISN 500); a's duplicated SYN then finds room in the backlog and gets
    // a real embryonic connection (ISN 7000). That one times out; a's data
    // then reaches the listener, whose cookie check accepts it (RFC 4987
    // §3.6), and the cookie connection (ISN 500) sends its FIN. a's ACK of
    // that FIN acknowledges what b's earlier incarnation sent (found by
    // `many-connections` seed 1996 under swarm).
    let trace = [
        seg(a(), b(), Flags::SYN, 100, 0, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 500, 101, 1000, 0),
        seg(a(), b(), Flags::ACK, 101, 501, 1000, 0),
        seg(b(), a(), Flags::SYN | Flags::ACK, 7000, 101, 1000, 0),
        seg(a(), b(), Flags::ACK | Flags::FIN, 101, 501, 1000, 10),
        seg(b(), a(), Flags::ACK | Flags::FIN, 501, 112, 1000, 0),
        seg(a(), b(), Flags::ACK, 112, 502, 1000, 0),
    ];
    let v = oracle::check_segments(&trace);
    assert!(v.is_empty(), "{v:?}");
    // One past that FIN was never sent by either incarnation.
    let mut beyond = trace.to_vec();
    beyond.push(seg(a(), b(), Flags::ACK, 112, 503, 1000, 0));
    let v = oracle::check_segments(&beyond);
    assert_eq!(v.len(), 1, "{v:?}");
}
