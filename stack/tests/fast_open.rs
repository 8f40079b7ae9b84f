//! TCP Fast Open as a server (RFC 7413 §4.2, as Linux's tcp_try_fastopen):
//! cookie requests, valid and invalid cookies, data in the SYN, the child
//! socket that is accepted and writes before the handshake completes.

mod common;

use common::*;
use stack::wire::{FastOpenCookie, Flags};
use stack::{EndpointConfig, FastOpenConfig, SocketError, State, TcpConfig};

const A: Flags = Flags::ACK;
const S: Flags = Flags::SYN;
const P: Flags = Flags::PSH;
const R: Flags = Flags::RST;

/// packetdrill's suite key and the cookie Linux derives from it for the
/// suite's remote address 192.0.2.1 talking to 192.168.0.1 (run_all.py's
/// `-D TFO_COOKIE=3021b9d889017eeb`).
const KEY: &str = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4";
const LINUX_COOKIE: [u8; 8] = [0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb];

/// A Fast Open server as packetdrill's defaults.sh makes one
/// (`tcp_fastopen=0x70403`: server on, every listener, cookies required).
fn server() -> Harness {
    let mut config = EndpointConfig::new(*b"tcpsim-test-key!");
    config.tcp = TcpConfig {
        isn: Some(100),
        ..TcpConfig::plain()
    };
    config.fast_open = FastOpenConfig {
        key: Some(FastOpenConfig::parse_key(KEY).unwrap()),
        ..FastOpenConfig::from_sysctl(0x70403)
    };
    Harness::with_config(config)
}

fn syn(seq: u32, fo: Option<FastOpenCookie>, data: &[u8]) -> Seg {
    let mut seg = Seg::new(S, seq).mss(1460).data(data);
    seg.options.fast_open = fo;
    seg
}

#[test]
fn the_cookie_is_linuxs_for_the_same_key_and_addresses() {
    // SipHash-2-4 of client then server address under the suite's key:
    // byte for byte the cookie Linux gives 192.0.2.1, so scripts recorded
    // against Linux present a cookie this stack accepts.
    let h = server();
    assert_eq!(h.ep.fast_open_cookie(REMOTE), LINUX_COOKIE);
    assert_ne!(
        h.ep.fast_open_cookie(std::net::Ipv4Addr::new(192, 0, 2, 2)),
        LINUX_COOKIE
    );
}

#[test]
fn a_cookie_request_gets_a_cookie_and_an_ordinary_handshake() {
    // SYN with an empty Fast Open option and 10 bytes: the SYN-ACK
    // acknowledges the SYN only (the data is not taken without a cookie)
    // and carries the cookie; nothing is acceptable before the final ACK.
    let mut h = server();
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(
        1000,
        Some(FastOpenCookie::request(false)),
        b"0123456789",
    ));
    let synack = h.expect(S | A, 100, 1001);
    let fo = synack.options.fast_open.expect("a cookie in the SYN-ACK");
    assert_eq!((fo.cookie(), fo.experimental), (&LINUX_COOKIE[..], false));
    assert_eq!(h.ep.accept(l), Err(SocketError::WouldBlock));
    h.inject(Seg::new(A, 1001).ack(101));
    let c = h.ep.accept(l).unwrap();
    assert_eq!(h.ep.recv_queue_len(c), 0);
}

#[test]
fn a_valid_cookie_takes_the_data_and_the_child_writes_before_the_final_ack() {
    // RFC 7413 §4.2.2: the SYN's 10 bytes are acknowledged by the SYN-ACK
    // (ack 1011) with no Fast Open option; the connection is accepted and
    // read at once, and a write goes out in SYN-RECEIVED (seq 101, ack
    // 1011) before the client's ACK. That ACK then makes it ESTABLISHED
    // without queueing it for accept a second time, and frees the reply.
    let mut h = server();
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(
        1000,
        Some(FastOpenCookie::new(&LINUX_COOKIE, false)),
        b"0123456789",
    ));
    let synack = h.expect(S | A, 100, 1011);
    assert_eq!(synack.options.fast_open, None);
    let c =
        h.ep.accept(l)
            .expect("the child is accepted from the SYN on");
    assert_eq!(h.ep.state(c), Some(State::SynReceived));
    let mut buf = [0u8; 64];
    assert_eq!(h.ep.recv(h.now, c, &mut buf), Ok(10));
    assert_eq!(&buf[..10], b"0123456789");
    assert_eq!(h.ep.send(h.now, c, &[7u8; 100]), Ok(100));
    let data = h.expect(P | A, 101, 1011);
    assert_eq!(data.payload.len(), 100);
    h.inject(Seg::new(A, 1011).ack(201));
    assert_eq!(h.ep.state(c), Some(State::Established));
    // The ACK freed the reply: nothing is left to send again.
    assert_eq!(h.ep.send_queue_len(c), 0);
    h.expect_nothing();
    assert_eq!(h.ep.accept(l), Err(SocketError::WouldBlock));
}

#[test]
fn a_wrong_cookie_is_answered_with_the_right_one_in_the_clients_form() {
    // An experimental-form (kind 254) cookie that is not ours: the data
    // is dropped, the SYN-ACK acknowledges the SYN alone and hands out the
    // valid cookie in the same experimental form.
    let mut h = server();
    h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(1000, Some(FastOpenCookie::new(&[1; 8], true)), b"hi"));
    let synack = h.expect(S | A, 100, 1001);
    let fo = synack.options.fast_open.unwrap();
    assert_eq!((fo.cookie(), fo.experimental), (&LINUX_COOKIE[..], true));
}

#[test]
fn without_fast_open_the_option_changes_nothing() {
    // The default endpoint (Linux's tcp_fastopen=1: no server side): a SYN
    // with a valid cookie and data gets the ordinary SYN-ACK, no option.
    let mut h = Harness::plain(100);
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(
        1000,
        Some(FastOpenCookie::new(&LINUX_COOKIE, false)),
        b"hi",
    ));
    let synack = h.expect(S | A, 100, 1001);
    assert_eq!(synack.options.fast_open, None);
    assert_eq!(h.ep.accept(l), Err(SocketError::WouldBlock));
}

#[test]
fn a_reset_after_accept_is_the_applications_econnreset() {
    // The child is a full socket once accepted: a RST in SYN-RECEIVED
    // closes it with ECONNRESET (Linux's tcp_reset), rather than quietly
    // returning to LISTEN as an embryonic connection would.
    let mut h = server();
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(
        1000,
        Some(FastOpenCookie::new(&LINUX_COOKIE, false)),
        b"x",
    ));
    h.expect(S | A, 100, 1002);
    let c = h.ep.accept(l).unwrap();
    h.events();
    h.inject(Seg::new(R, 1002));
    let events = h.events();
    assert!(
        events.contains(&stack::Event::Error(c, SocketError::ConnectionReset)),
        "{events:?}"
    );
    assert_eq!(h.ep.state(c), None);
}

#[test]
fn a_reset_before_accept_leaves_nothing_to_accept() {
    // A child reset while still in the accept queue leaves it: accept()
    // must not hand out a connection that no longer exists.
    let mut h = server();
    let l = h.ep.listen(LOCAL_PORT, 8).unwrap();
    h.inject(syn(
        1000,
        Some(FastOpenCookie::new(&LINUX_COOKIE, false)),
        b"x",
    ));
    h.expect(S | A, 100, 1002);
    h.inject(Seg::new(R, 1002));
    assert_eq!(h.ep.accept(l), Err(SocketError::WouldBlock));
}
