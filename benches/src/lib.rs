//! Workloads shared by the criterion benchmarks and the measuring examples.
//!
//! ```
//! // A small churn run: every connection opens, carries its 100 bytes and
//! // ends, so the client reports them all ended and none failed.
//! use scenarios::apps::ChurnClient;
//!
//! let outcome = scenarios::run::execute(1, tcpsim_benches::churn(50)).unwrap();
//! assert!(outcome.passed(), "{}", outcome.verdict());
//! let client = outcome.host(0).application::<ChurnClient>().unwrap();
//! assert_eq!((client.ended, client.failed), (50, 0));
//! ```

#![warn(missing_docs)]

use scenarios::apps::{BulkSink, ChurnClient};
use scenarios::host::Host;
use scenarios::run::Setup;
use sim::topology::{self, Endpoint};
use sim::{Addr, Duration, LinkConfig, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::net::{Ipv4Addr, SocketAddrV4};

/// W4's limit on connections open at once.
pub const OPEN_MAX: usize = 1000;

/// W4 ([`scenarios::bench`]) through the public host API: a [`ChurnClient`] keeps at
/// most [`OPEN_MAX`] connections open and opens the next when one ends
/// (each writes 100 bytes and closes; a [`BulkSink`] reads to EOF and
/// closes), `total` in all, over 1 Gbit/s with 1 ms one way, trace hash only.
pub fn churn(total: u64) -> Setup {
    let mut config = WorldConfig::new(1);
    config.trace = TraceMode::HashOnly;
    config.event_budget = u64::MAX;
    let mut world = World::new(config);
    let (client_addr, server_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(server_addr), 80);
    // TIME-WAIT of 2 ms (MSL 1 ms) so the client's 28k ephemeral ports
    // never run out at this rate; nothing else differs from the defaults.
    let tcp = TcpConfig {
        msl: stack::Duration::from_millis(1),
        ..TcpConfig::default()
    };
    let client = Host::new("client", client_addr, [1; 16], tcp.clone())
        .app(ChurnClient::new(server, total, OPEN_MAX, 100));
    let server_host = Host::new("server", server_addr, [2; 16], tcp).app(BulkSink::new(80));
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
    let p = topology::point_to_point(
        &mut world,
        Endpoint::new("client", client_addr, client),
        Endpoint::new("server", server_addr, server_host),
        link.clone(),
        link,
    )
    .unwrap();
    Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(100_000),
        open_at_end: false,
    }
}

/// Two sans-IO [`stack::Endpoint`]s wired back to back with no link in
/// between: every datagram one emits is handed to the other at the same
/// instant. For the hot-path benchmarks that time the stack alone.
pub struct EndpointPair {
    /// The client side, at [`PAIR_A`].
    pub a: stack::Endpoint,
    /// The server side, at [`PAIR_B`].
    pub b: stack::Endpoint,
    /// The virtual time both endpoints are driven at (it never advances by
    /// itself: a benchmark moves it to fire timers).
    pub now: stack::Instant,
    scratch: Vec<u8>,
}

/// The client's address in an [`EndpointPair`].
pub const PAIR_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The server's address in an [`EndpointPair`].
pub const PAIR_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

impl EndpointPair {
    /// Two endpoints with `tcp` on both sides.
    pub fn new(tcp: TcpConfig) -> EndpointPair {
        let config = |secret| stack::EndpointConfig {
            tcp: tcp.clone(),
            ..stack::EndpointConfig::new(secret)
        };
        EndpointPair {
            a: stack::Endpoint::new(PAIR_A, config([1; 16])),
            b: stack::Endpoint::new(PAIR_B, config([2; 16])),
            now: stack::Instant::ZERO,
            scratch: Vec::with_capacity(65536),
        }
    }

    /// Moves datagrams both ways until neither side has anything to send;
    /// returns how many moved. Events are drained and dropped.
    pub fn exchange(&mut self) -> usize {
        let mut moved = 0;
        loop {
            let mut any = false;
            while self.a.poll_transmit(self.now, &mut self.scratch) {
                self.b
                    .handle_packet(self.now, &self.scratch)
                    .expect("a emits valid datagrams");
                (any, moved) = (true, moved + 1);
            }
            while self.b.poll_transmit(self.now, &mut self.scratch) {
                self.a
                    .handle_packet(self.now, &self.scratch)
                    .expect("b emits valid datagrams");
                (any, moved) = (true, moved + 1);
            }
            if !any {
                break;
            }
        }
        while self.a.poll_event().is_some() {}
        while self.b.poll_event().is_some() {}
        moved
    }

    /// Opens one connection from a to b's `listener` on `port`; returns
    /// (a's socket, b's accepted socket).
    pub fn connect(
        &mut self,
        listener: stack::SocketId,
        port: u16,
    ) -> (stack::SocketId, stack::SocketId) {
        let client = self
            .a
            .connect(self.now, SocketAddrV4::new(PAIR_B, port))
            .expect("connect");
        self.exchange();
        let server = self.b.accept(listener).expect("accepted");
        (client, server)
    }
}

/// A server [`stack::Endpoint`] holding `n` established connections, made
/// cheaply: no client endpoint, each handshake is a hand-written SYN and
/// final ACK from a distinct remote address and port, so only the server's
/// TCBs take memory. `acks` holds, for a spread of those connections, a
/// pure ACK datagram that changes nothing when it arrives (no data, the
/// same acknowledgment and window): what a demultiplexing benchmark feeds.
pub struct ServerTable {
    /// The server endpoint holding the connections (listening on
    /// [`TABLE_PORT`]).
    pub server: stack::Endpoint,
    /// The virtual time the table was built at, for feeding it more segments.
    pub now: stack::Instant,
    /// Remote address and port of each sampled connection, with its ACK.
    pub acks: Vec<(SocketAddrV4, Vec<u8>)>,
}

/// The port a [`ServerTable`] listens on.
pub const TABLE_PORT: u16 = 80;

impl ServerTable {
    /// Builds the table with `n` connections and `samples` ACKs for
    /// connections chosen by a fixed pseudo-random sequence.
    pub fn new(n: u32, samples: usize) -> ServerTable {
        use stack::wire::{Flags, IpPair, TcpOptions, TcpRepr, emit_datagram, parse_datagram};
        let tcp = TcpConfig {
            timestamps: false,
            sack: false,
            window_scale: None,
            delayed_ack: None,
            recv_buffer: 64 * 1024,
            send_buffer: 64 * 1024,
            ..TcpConfig::default()
        };
        let config = stack::EndpointConfig {
            tcp,
            ..stack::EndpointConfig::new([3; 16])
        };
        let mut server = stack::Endpoint::new(PAIR_B, config);
        let listener = server.listen(TABLE_PORT, 4096).expect("listen");
        let now = stack::Instant::ZERO;
        // Remote i: address 11.x.y.z (65,536 addresses), port 1024 + i / 65536.
        let remote = |i: u32| {
            let addr = Ipv4Addr::from(0x0b00_0000 | (i & 0xffff));
            SocketAddrV4::new(addr, 1024 + (i >> 16) as u16)
        };
        let segment = |from: SocketAddrV4, seq: u32, ack: u32, flags: Flags, out: &mut Vec<u8>| {
            let repr = TcpRepr {
                src_port: from.port(),
                dst_port: TABLE_PORT,
                seq: stack::SeqNum(seq),
                ack: stack::SeqNum(ack),
                flags,
                window: 65535,
                urgent: 0,
                options: TcpOptions {
                    mss: flags.syn().then_some(1460),
                    ..TcpOptions::default()
                },
                payload: &[],
            };
            let pair = IpPair {
                src: *from.ip(),
                dst: PAIR_B,
            };
            emit_datagram(pair, &repr, out);
        };
        let (mut out, mut reply) = (Vec::with_capacity(128), Vec::with_capacity(128));
        let mut server_isn = Vec::with_capacity(n as usize);
        for i in 0..n {
            let from = remote(i);
            let isn = i.wrapping_mul(2_654_435_761);
            segment(from, isn, 0, Flags::SYN, &mut out);
            server.handle_packet(now, &out).expect("valid SYN");
            assert!(server.poll_transmit(now, &mut reply), "a SYN-ACK");
            let theirs = parse_datagram(&reply).expect("valid SYN-ACK").1.seq.0;
            segment(
                from,
                isn.wrapping_add(1),
                theirs.wrapping_add(1),
                Flags::ACK,
                &mut out,
            );
            server.handle_packet(now, &out).expect("valid ACK");
            server.accept(listener).expect("established");
            while server.poll_event().is_some() {}
            server_isn.push(theirs);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let acks = (0..samples)
            .map(|_| {
                // xorshift64: a fixed spread over the table
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % u64::from(n)) as u32;
                let from = remote(i);
                let isn = i.wrapping_mul(2_654_435_761);
                let mut ack = Vec::with_capacity(64);
                segment(
                    from,
                    isn.wrapping_add(1),
                    server_isn[i as usize].wrapping_add(1),
                    Flags::ACK,
                    &mut ack,
                );
                (from, ack)
            })
            .collect();
        ServerTable { server, now, acks }
    }
}
