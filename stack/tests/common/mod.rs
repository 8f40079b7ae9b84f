//! A conversation harness: the stack under test is 192.168.0.1; the test
//! plays the peer 192.0.2.1:8080 (remote) and injects segments by hand,
//! then checks the segments the stack sends back.
#![allow(dead_code)]

use stack::wire::{self, Flags, IpPair, TcpOptions, TcpRepr};
use stack::{
    Duration, Endpoint, EndpointConfig, Event, Instant, SeqNum, SocketId, State, TcpConfig,
};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const REMOTE_PORT: u16 = 8080;
pub const LOCAL_PORT: u16 = 5000;

pub fn remote_addr() -> SocketAddrV4 {
    SocketAddrV4::new(REMOTE, REMOTE_PORT)
}

/// A segment as the test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
    pub src_port: u16,
    pub dst_port: u16,
    /// The IP header's ECN field (RFC 3168 §5).
    pub ecn: wire::Ecn,
}

impl Seg {
    pub fn new(flags: Flags, seq: u32) -> Seg {
        Seg {
            flags,
            seq,
            ack: 0,
            window: 65535,
            options: TcpOptions::default(),
            payload: Vec::new(),
            src_port: REMOTE_PORT,
            dst_port: LOCAL_PORT,
            ecn: wire::Ecn::NotEct,
        }
    }
    /// Sets the IP ECN field (`Ecn::Ce`: a router marked it).
    pub fn ecn(mut self, ecn: wire::Ecn) -> Seg {
        self.ecn = ecn;
        self
    }
    pub fn ack(mut self, ack: u32) -> Seg {
        self.flags |= Flags::ACK;
        self.ack = ack;
        self
    }
    pub fn win(mut self, window: u16) -> Seg {
        self.window = window;
        self
    }
    pub fn data(mut self, bytes: &[u8]) -> Seg {
        self.payload = bytes.to_vec();
        self
    }
    pub fn mss(mut self, mss: u16) -> Seg {
        self.options.mss = Some(mss);
        self
    }
    pub fn ts(mut self, val: u32, ecr: u32) -> Seg {
        self.options.timestamps = Some((val, ecr));
        self
    }
    pub fn sack_ok(mut self) -> Seg {
        self.options.sack_permitted = true;
        self
    }
    /// SACK blocks `[left, right)`, first block first (at most 4 are kept).
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Seg {
        let n = blocks.len().min(wire::MAX_SACK_BLOCKS);
        for (slot, &(left, right)) in self.options.sack_blocks.iter_mut().zip(&blocks[..n]) {
            *slot = wire::SackBlock {
                left: SeqNum(left),
                right: SeqNum(right),
            };
        }
        self.options.sack_count = n as u8;
        self
    }
    /// The SACK blocks as `(left, right)` pairs, first block first.
    pub fn sacks(&self) -> Vec<(u32, u32)> {
        self.options
            .sack()
            .iter()
            .map(|b| (b.left.0, b.right.0))
            .collect()
    }
    pub fn wscale(mut self, shift: u8) -> Seg {
        self.options.window_scale = Some(shift);
        self
    }
    pub fn dst_port(mut self, port: u16) -> Seg {
        self.dst_port = port;
        self
    }
    /// packetdrill-like summary for assertion messages: `S. 100:100(0) ack 1`.
    pub fn summary(&self) -> String {
        let f = if self.flags == Flags::ACK {
            ".".to_string()
        } else {
            self.flags.to_string()
        };
        let len = self.payload.len() as u32;
        let mut s = format!("{f} {}:{}({})", self.seq, self.seq.wrapping_add(len), len);
        if self.flags.ack() {
            s += &format!(" ack {}", self.ack);
        }
        s
    }
}

pub struct Harness {
    pub ep: Endpoint,
    pub now: Instant,
    out: Vec<u8>,
}

impl Harness {
    pub fn new(tcp: TcpConfig) -> Harness {
        let mut config = EndpointConfig::new(*b"tcpsim-test-key!");
        config.tcp = tcp;
        Harness {
            ep: Endpoint::new(LOCAL, config),
            now: Instant::ZERO,
            out: Vec::new(),
        }
    }

    /// A host with this endpoint configuration (its secret as given).
    pub fn with_config(config: EndpointConfig) -> Harness {
        Harness {
            ep: Endpoint::new(LOCAL, config),
            now: Instant::ZERO,
            out: Vec::new(),
        }
    }

    /// A plain RFC 9293 host (no options, no delayed ACK) with its ISN pinned at `isn`.
    pub fn plain(isn: u32) -> Harness {
        Harness::new(TcpConfig {
            isn: Some(isn),
            ..TcpConfig::plain()
        })
    }

    pub fn inject(&mut self, seg: Seg) {
        let repr = TcpRepr {
            src_port: seg.src_port,
            dst_port: seg.dst_port,
            seq: SeqNum(seg.seq),
            ack: SeqNum(seg.ack),
            flags: seg.flags,
            window: seg.window,
            urgent: 0,
            options: seg.options,
            payload: &seg.payload,
        };
        let mut bytes = Vec::new();
        wire::emit_datagram_ecn(
            IpPair {
                src: REMOTE,
                dst: LOCAL,
            },
            &repr,
            seg.ecn,
            &mut bytes,
        );
        self.ep
            .handle_packet(self.now, &bytes)
            .expect("well-formed test segment");
    }

    /// The next segment the stack sends now, if any.
    pub fn poll(&mut self) -> Option<Seg> {
        if !self.ep.poll_transmit(self.now, &mut self.out) {
            return None;
        }
        let (pair, repr) =
            wire::parse_datagram(&self.out).expect("the stack emits valid datagrams");
        assert_eq!((pair.src, pair.dst), (LOCAL, REMOTE));
        Some(Seg {
            flags: repr.flags,
            seq: repr.seq.0,
            ack: if repr.flags.ack() { repr.ack.0 } else { 0 },
            window: repr.window,
            options: repr.options,
            payload: repr.payload.to_vec(),
            src_port: repr.src_port,
            dst_port: repr.dst_port,
            ecn: wire::peek_ecn(&self.out),
        })
    }

    /// Expects a segment with exactly these flags, sequence and ack numbers.
    #[track_caller]
    pub fn expect(&mut self, flags: Flags, seq: u32, ack: u32) -> Seg {
        let got = self
            .poll()
            .unwrap_or_else(|| panic!("expected {flags} {seq} ack {ack}, got nothing"));
        let want_ack = if flags.ack() { ack } else { 0 };
        assert_eq!(
            (got.flags, got.seq, got.ack),
            (flags, seq, want_ack),
            "expected {flags} seq {seq} ack {ack}, got {}",
            got.summary()
        );
        got
    }

    #[track_caller]
    pub fn expect_nothing(&mut self) {
        if let Some(seg) = self.poll() {
            panic!("expected silence, got {}", seg.summary());
        }
    }

    /// Moves virtual time forward by `d`, firing due timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ep.handle_timeout(self.now);
    }

    /// Jumps to the next timer deadline and fires it.
    pub fn fire_next_timer(&mut self) -> Instant {
        let at = self.ep.poll_timeout().expect("a timer is armed");
        self.now = self.now.max(at);
        self.ep.handle_timeout(self.now);
        at
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// The states a socket went through, from its StateChanged events.
    pub fn states_of(events: &[Event], id: SocketId) -> Vec<State> {
        events
            .iter()
            .filter_map(|e| match *e {
                Event::StateChanged { id: i, to, .. } if i == id => Some(to),
                _ => None,
            })
            .collect()
    }

    /// Passive open to ESTABLISHED: peer ISN `peer_isn`, our ISN pinned.
    /// Returns (listener, connection).
    pub fn accept_connection(&mut self, our_isn: u32, peer_isn: u32) -> (SocketId, SocketId) {
        let l = self.ep.listen(LOCAL_PORT, 8).unwrap();
        self.inject(Seg::new(Flags::SYN, peer_isn).mss(1000));
        self.expect(Flags::SYN | Flags::ACK, our_isn, peer_isn.wrapping_add(1));
        self.inject(Seg::new(Flags::NONE, peer_isn.wrapping_add(1)).ack(our_isn.wrapping_add(1)));
        let c = self.ep.accept(l).expect("established connection queued");
        assert_eq!(self.ep.state(c), Some(State::Established));
        (l, c)
    }

    /// Active open to ESTABLISHED from local port LOCAL_PORT.
    pub fn open_connection(&mut self, our_isn: u32, peer_isn: u32) -> SocketId {
        let c = self
            .ep
            .connect_from(self.now, LOCAL_PORT, remote_addr())
            .unwrap();
        self.expect(Flags::SYN, our_isn, 0);
        self.inject(
            Seg::new(Flags::SYN, peer_isn)
                .ack(our_isn.wrapping_add(1))
                .mss(1000),
        );
        self.expect(
            Flags::ACK,
            our_isn.wrapping_add(1),
            peer_isn.wrapping_add(1),
        );
        assert_eq!(self.ep.state(c), Some(State::Established));
        c
    }
}
