//! The listen backlog: a bounded SYN queue, SYN cookies when it is full
//! (RFC 4987 §3.6, Linux's scheme), and dropping SYNs when cookies are off.

mod common;

use common::*;
use stack::wire::Flags;
use stack::{EndpointConfig, State, TcpConfig};

const A: Flags = Flags::ACK;
const S: Flags = Flags::SYN;
const P: Flags = Flags::PSH;

fn from_port(seg: Seg, port: u16) -> Seg {
    Seg {
        src_port: port,
        ..seg
    }
}

#[test]
fn a_full_syn_queue_answers_with_a_cookie_and_the_final_ack_builds_the_connection() {
    // Backlog 1: the first SYN takes the only SYN-queue slot; the second
    // (another client port) is answered statelessly. Its final ACK carries
    // the cookie back and becomes an ESTABLISHED, acceptable connection
    // that then moves data.
    let mut h = Harness::plain(100);
    let l = h.ep.listen(LOCAL_PORT, 1).unwrap();
    h.inject(from_port(Seg::new(S, 1000).mss(1460), 7001));
    h.expect(S | A, 100, 1001);
    h.inject(from_port(Seg::new(S, 5000).mss(1460), 7002));
    let cookie = h.poll().expect("a cookie SYN-ACK");
    assert_eq!(
        (cookie.flags, cookie.ack, cookie.dst_port),
        (S | A, 5001, 7002)
    );
    assert_eq!(
        h.ep.sockets().len(),
        2,
        "listener + one half-open: the cookie kept no state"
    );
    assert_eq!(h.ep.counters().syn_cookies_sent, 1);

    h.inject(from_port(
        Seg::new(P, 5001)
            .ack(cookie.seq.wrapping_add(1))
            .data(b"hello"),
        7002,
    ));
    h.expect(A, cookie.seq.wrapping_add(1), 5006);
    let c =
        h.ep.accept(l)
            .expect("the cookie connection is queued for accept");
    assert_eq!(h.ep.state(c), Some(State::Established));
    assert_eq!(h.ep.recv_queue_len(c), 5);
    assert_eq!(h.ep.counters().syn_cookies_accepted, 1);
}

#[test]
fn cookies_carry_window_scale_and_sack_in_the_timestamp() {
    // With timestamps, the SYN-ACK's TSval carries the peer's window scale;
    // the rebuilt connection must scale the peer's window by it (here 7:
    // a window field of 10 means 1280 bytes, enough for one 1000-byte send).
    let mut h = Harness::new(TcpConfig {
        isn: Some(100),
        delayed_ack: None,
        ..TcpConfig::default()
    });
    let l = h.ep.listen(LOCAL_PORT, 1).unwrap();
    h.inject(from_port(Seg::new(S, 1000).mss(1460), 7001));
    h.poll().unwrap();
    h.inject(from_port(
        Seg::new(S, 5000).mss(1460).wscale(7).ts(42, 0),
        7002,
    ));
    let cookie = h.poll().unwrap();
    assert_eq!(cookie.options.window_scale, Some(7));
    let (tsval, tsecr) = cookie.options.timestamps.unwrap();
    assert_eq!(tsecr, 42);
    h.inject(from_port(
        Seg::new(Flags::NONE, 5001)
            .ack(cookie.seq.wrapping_add(1))
            .win(10)
            .ts(43, tsval),
        7002,
    ));
    let c = h.ep.accept(l).unwrap();
    h.ep.send(h.now, c, &[7u8; 1000]).unwrap();
    let seg = h.poll().expect("the scaled window (1280) allows the send");
    assert_eq!(seg.payload.len(), 1000);
}

#[test]
fn a_forged_ack_at_the_listener_is_reset_not_accepted() {
    // An ACK whose number is not a valid cookie is just an ACK at LISTEN:
    // <SEQ=SEG.ACK><CTL=RST>, and nothing to accept.
    let mut h = Harness::plain(100);
    let l = h.ep.listen(LOCAL_PORT, 1).unwrap();
    h.inject(Seg::new(Flags::NONE, 5001).ack(123_456));
    h.expect(Flags::RST, 123_456, 0);
    assert!(h.ep.accept(l).is_err());
}

#[test]
fn without_cookies_a_full_syn_queue_drops_new_syns() {
    // Cookies off: the second SYN gets no answer at all.
    let mut config = EndpointConfig::new(*b"tcpsim-test-key!");
    config.tcp = TcpConfig {
        isn: Some(100),
        ..TcpConfig::plain()
    };
    config.syn_cookies = false;
    let mut h = Harness::new(config.tcp.clone());
    h.ep = stack::Endpoint::new(LOCAL, config);
    h.ep.listen(LOCAL_PORT, 1).unwrap();
    h.inject(from_port(Seg::new(S, 1000), 7001));
    h.expect(S | A, 100, 1001);
    h.inject(from_port(Seg::new(S, 5000), 7002));
    h.expect_nothing();
    assert_eq!(h.ep.counters().syns_dropped_queue_full, 1);
}
