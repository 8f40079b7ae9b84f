//! The wire format: no input bytes can panic the parser, and what we emit
//! is read identically by an independent parser (etherparse).

use proptest::prelude::*;
use stack::SeqNum;
use stack::wire::{self, Flags, IpPair, SackBlock, TcpOptions, TcpRepr, WireError};
use std::net::Ipv4Addr;

fn pair() -> IpPair {
    IpPair {
        src: Ipv4Addr::new(192, 168, 0, 1),
        dst: Ipv4Addr::new(192, 0, 2, 1),
    }
}

fn sample(payload: &[u8], options: TcpOptions, flags: Flags) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 5000,
        dst_port: 8080,
        seq: SeqNum(0xffff_fff0),
        ack: SeqNum(12345),
        flags,
        window: 502,
        urgent: 0,
        options,
        payload,
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Whatever arrives off the wire, parsing returns a value or an error.
        let _ = wire::parse_datagram(&bytes);
    }

    #[test]
    fn mutated_valid_datagrams_never_panic(index in 0usize..80, value in any::<u8>()) {
        // Starting from a valid datagram reaches the deep parser paths
        // (options, lengths) that random bytes rarely do.
        let options = TcpOptions { mss: Some(1460), window_scale: Some(7), sack_permitted: true, timestamps: Some((1, 2)), ..TcpOptions::default() };
        let mut bytes = Vec::new();
        wire::emit_datagram(pair(), &sample(b"data", options, Flags::SYN), &mut bytes);
        let i = index % bytes.len();
        bytes[i] = value;
        let _ = wire::parse_datagram(&bytes);
    }

    #[test]
    fn emit_then_parse_round_trips(seq in any::<u32>(), ack in any::<u32>(), window in any::<u16>(),
                                   payload in proptest::collection::vec(any::<u8>(), 0..64), ts in any::<(u32, u32)>()) {
        // Our own parser must read back exactly what our emitter wrote.
        let options = TcpOptions { timestamps: Some(ts), ..TcpOptions::default() };
        let repr = TcpRepr { seq: SeqNum(seq), ack: SeqNum(ack), window, ..sample(&payload, options, Flags::ACK | Flags::PSH) };
        let mut bytes = Vec::new();
        wire::emit_datagram(pair(), &repr, &mut bytes);
        let (p, back) = wire::parse_datagram(&bytes).unwrap();
        prop_assert_eq!(p, pair());
        prop_assert_eq!(back, repr);
    }
}

#[test]
fn etherparse_reads_our_syn_identically() {
    // An independent decoder must agree on every header field, every
    // option and both checksums: otherwise our pcap files would lie.
    let options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((100, 0)),
        ..TcpOptions::default()
    };
    let mut bytes = Vec::new();
    wire::emit_datagram(pair(), &sample(&[], options, Flags::SYN), &mut bytes);
    let parsed = etherparse::SlicedPacket::from_ip(&bytes).expect("etherparse accepts it");
    let Some(etherparse::NetSlice::Ipv4(ip)) = parsed.net else {
        panic!("not IPv4")
    };
    assert_eq!(ip.header().source_addr(), pair().src);
    assert_eq!(ip.header().destination_addr(), pair().dst);
    let header = ip.header().to_header();
    assert_eq!(header.header_checksum, header.calc_header_checksum());
    let Some(etherparse::TransportSlice::Tcp(tcp)) = parsed.transport else {
        panic!("not TCP")
    };
    assert_eq!((tcp.source_port(), tcp.destination_port()), (5000, 8080));
    assert_eq!(tcp.sequence_number(), 0xffff_fff0);
    assert!(tcp.syn() && !tcp.ack());
    assert_eq!(tcp.window_size(), 502);
    let expected = tcp
        .to_header()
        .calc_checksum_ipv4(&ip.header().to_header(), tcp.payload())
        .unwrap();
    assert_eq!(tcp.checksum(), expected);
    use etherparse::TcpOptionElement::*;
    let elements: Vec<_> = tcp.options_iterator().map(|o| o.unwrap()).collect();
    assert!(elements.contains(&MaximumSegmentSize(1460)));
    assert!(elements.contains(&SelectiveAcknowledgementPermitted));
    assert!(elements.contains(&Timestamp(100, 0)));
    assert!(elements.contains(&WindowScale(7)));
}

#[test]
fn etherparse_reads_our_sack_blocks_and_payload() {
    // SACK blocks and data as another parser sees them.
    let mut options = TcpOptions {
        timestamps: Some((5, 6)),
        sack_count: 2,
        ..TcpOptions::default()
    };
    options.sack_blocks[0] = SackBlock {
        left: SeqNum(10),
        right: SeqNum(20),
    };
    options.sack_blocks[1] = SackBlock {
        left: SeqNum(30),
        right: SeqNum(40),
    };
    let mut bytes = Vec::new();
    wire::emit_datagram(pair(), &sample(b"xyz", options, Flags::ACK), &mut bytes);
    let parsed = etherparse::SlicedPacket::from_ip(&bytes).unwrap();
    let Some(etherparse::TransportSlice::Tcp(tcp)) = parsed.transport else {
        panic!("not TCP")
    };
    assert_eq!(tcp.payload(), b"xyz");
    let sack = tcp
        .options_iterator()
        .map(|o| o.unwrap())
        .find_map(|o| match o {
            etherparse::TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                Some((first, rest))
            }
            _ => None,
        })
        .expect("a SACK option");
    assert_eq!(sack.0, (10, 20));
    assert_eq!(sack.1[0], Some((30, 40)));
}

#[test]
fn malformed_datagrams_are_named_errors() {
    // Each class of damage gives its own error value.
    let mut good = Vec::new();
    wire::emit_datagram(
        pair(),
        &sample(b"abc", TcpOptions::default(), Flags::ACK),
        &mut good,
    );
    assert_eq!(
        wire::parse_datagram(&good[..10]).unwrap_err(),
        WireError::Truncated
    );
    let mut bad = good.clone();
    bad[0] = 0x65;
    assert_eq!(
        wire::parse_datagram(&bad).unwrap_err(),
        WireError::BadVersion
    );
    let mut bad = good.clone();
    bad[10] ^= 0xff;
    assert_eq!(
        wire::parse_datagram(&bad).unwrap_err(),
        WireError::BadIpChecksum
    );
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert_eq!(
        wire::parse_datagram(&bad).unwrap_err(),
        WireError::BadTcpChecksum
    );
    let mut bad = good.clone();
    bad[20 + 12] = 0x20; // data offset 2 words
    assert!(matches!(
        wire::parse_datagram(&bad).unwrap_err(),
        WireError::BadDataOffset | WireError::BadTcpChecksum
    ));
}

#[test]
fn a_host_whose_address_words_sum_near_two_to_the_32_talks_tcp() {
    // 63.87.254.244 listening, 192.168.1.1 connecting: the two addresses
    // add up to 0xffff_fff5 as 32-bit words, so the pseudo-header sum
    // carries past 2^32. The SYN must be accepted (its checksum verified
    // correctly, and no debug-build overflow in handle_packet) and the
    // SYN-ACK must carry a checksum an independent parser accepts.
    use stack::{Endpoint, EndpointConfig, Instant};
    let server = Ipv4Addr::new(63, 87, 254, 244);
    let client = Ipv4Addr::new(192, 168, 1, 1);
    let mut ep = Endpoint::new(server, EndpointConfig::new(*b"tcpsim-test-key!"));
    ep.listen(8080, 4).unwrap();
    let syn = TcpRepr {
        src_port: 40000,
        dst_port: 8080,
        seq: SeqNum(1000),
        ack: SeqNum(0),
        flags: Flags::SYN,
        window: 65535,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    let mut bytes = Vec::new();
    wire::emit_datagram(
        IpPair {
            src: client,
            dst: server,
        },
        &syn,
        &mut bytes,
    );
    let parsed = etherparse::SlicedPacket::from_ip(&bytes).expect("etherparse reads our SYN");
    let Some(etherparse::TransportSlice::Tcp(tcp)) = parsed.transport else {
        panic!("not TCP");
    };
    let header = tcp.to_header();
    assert_eq!(
        header
            .calc_checksum_ipv4_raw(client.octets(), server.octets(), tcp.payload())
            .unwrap(),
        tcp.checksum(),
        "our checksum is the one etherparse computes"
    );
    ep.handle_packet(Instant::ZERO, &bytes)
        .expect("a correct checksum is accepted");
    let mut out = Vec::new();
    assert!(ep.poll_transmit(Instant::ZERO, &mut out), "SYN-ACK sent");
    let (_, reply) = wire::parse_datagram(&out).expect("our SYN-ACK verifies");
    assert_eq!(reply.flags, Flags::SYN | Flags::ACK);
    assert_eq!(reply.ack, SeqNum(1001));
}
