//! The `endpoint` target: two endpoints run by a program of bytes.
//!
//! The program's first byte picks each side's TCP settings and whether it
//! is hostile (may forge segments); each following op is one byte and its
//! arguments (the ops are [`Op`]'s variants, in order). Bytes past the end
//! read as zero, so every byte string is a program.

use super::{below, byte, chance, mutate, rfc1071, u16_any, u32_any};
use crate::analysis::SegmentEvent;
use crate::oracle;
use sim::{EventKind, NodeId, SimRng};
use stack::wire::{self, Flags, IpPair, SackBlock, TcpOptions, TcpRepr};
use stack::{Duration, Endpoint, EndpointConfig, Instant, SeqNum, SocketId, TcpConfig};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The two sides' addresses: a pair whose pseudo-header words add up to
/// nearly 2^32 (a checksum carry that once overflowed).
const ADDR: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 1, 1),
    Ipv4Addr::new(63, 87, 254, 244),
];
const PORT: [u16; 2] = [5000, 8080];

/// Most ops one program runs (longer inputs are cut here).
pub const OPS_MAX: usize = 400;
/// Most datagrams one side may emit in one `poll_transmit` loop: more is a runaway.
const TRANSMIT_MAX: usize = 5_000;
/// Most datagrams waiting on the wire each way (the rest are dropped, as a full queue would).
const WIRE_MAX: usize = 2_000;
/// Rounds of the final drain: deliver all, read all, fire the next timer.
const DRAIN_ROUNDS: usize = 200;

/// The ops, in the order of their byte value (modulo the count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Op {
    Listen,
    Connect,
    Accept,
    Send,
    Recv,
    Shutdown,
    Close,
    Abort,
    Deliver,
    DeliverAll,
    Drop,
    Duplicate,
    Reorder,
    Corrupt,
    Advance,
    FireTimer,
    Keepalive,
    NoDelay,
    /// A segment made up with numbers near the target's own (hostile only).
    Craft,
    /// A real datagram with one field changed, checksums redone (hostile only).
    Mutate,
    /// An ICMP error quoting (near) the target's own last segment, of any
    /// type and code, sometimes truncated or with a bit flipped (hostile
    /// only).
    Icmp,
}

const OPS: [Op; 21] = [
    Op::Listen,
    Op::Connect,
    Op::Accept,
    Op::Send,
    Op::Recv,
    Op::Shutdown,
    Op::Close,
    Op::Abort,
    Op::Deliver,
    Op::DeliverAll,
    Op::Drop,
    Op::Duplicate,
    Op::Reorder,
    Op::Corrupt,
    Op::Advance,
    Op::FireTimer,
    Op::Keepalive,
    Op::NoDelay,
    Op::Craft,
    Op::Mutate,
    Op::Icmp,
];

/// Reads a program: bytes past the end are zero.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

fn config(variant: u8) -> TcpConfig {
    let keepalive = stack::Keepalive {
        idle: Duration::from_secs(5),
        interval: Duration::from_secs(1),
        probes: 3,
    };
    let base = TcpConfig {
        keepalive: (variant & 8 != 0).then_some(keepalive),
        ..TcpConfig::default()
    };
    match variant % 8 {
        0 => base,
        1 => TcpConfig {
            sack: false,
            timestamps: false,
            ..base
        },
        2 => TcpConfig {
            // ISNs near 2^32.
            isn: Some(u32::MAX - 300),
            ..TcpConfig::plain()
        },
        3 => TcpConfig {
            isn: Some(0x7fff_ff00),
            recv_buffer: 3000,
            // ECN (RFC 3168) asked for and agreed to: crafted segments
            // carry ECE, CWR and every IP ECN codepoint.
            ecn: stack::EcnMode::On,
            ..base
        },
        4 => TcpConfig {
            mss: 88,
            send_buffer: 2048,
            window_scale: Some(14),
            ecn: stack::EcnMode::Passive,
            // Linux's loss recovery (RACK-TLP, PRR, undo) on tiny segments.
            rack: true,
            tlp: true,
            prr: true,
            undo: true,
            ..base
        },
        5 => TcpConfig {
            nagle: false,
            delayed_ack: None,
            window_scale: None,
            recv_buffer: 70_000,
            ..base
        },
        6 => TcpConfig {
            congestion: stack::cc::CongestionAlgorithm::Cubic,
            // TcpConfig::linux()'s loss recovery.
            rack: true,
            tlp: true,
            prr: true,
            undo: true,
            rto_min: Duration::from_millis(10),
            data_retries: 3,
            syn_retries: 2,
            ..base
        },
        _ => TcpConfig {
            msl: Duration::from_millis(500),
            fin_wait_2_timeout: Duration::from_secs(1),
            rfc1337: false,
            ..TcpConfig::plain()
        },
    }
}

/// The stream octet `i` written by `side`.
fn pattern(side: usize, i: u64) -> u8 {
    (i.wrapping_mul(31) as u8) ^ (side as u8 * 0x55) ^ ((i >> 8) as u8)
}

struct Pair {
    ep: [Endpoint; 2],
    now: Instant,
    /// Datagrams in flight from each side, and whether one bit was flipped.
    wire: [VecDeque<(Vec<u8>, bool)>; 2],
    conn: [Option<SocketId>; 2],
    listener: [Option<SocketId>; 2],
    written: [u64; 2],
    read: [u64; 2],
    /// Forged data or a forged SYN reached this side: its stream is no
    /// longer the peer's alone, so its bytes are not checked.
    tainted: [bool; 2],
    /// A forged segment was delivered: the segment oracle's view of the
    /// conversation ends there (the per-segment checks go on).
    forged: bool,
    /// The last segment each side sent: SEQ, ACK, TSval.
    last: [Option<(SeqNum, SeqNum, Option<u32>)>; 2],
    /// Every segment emitted while nothing was forged, for the segment oracle.
    segments: Vec<SegmentEvent>,
}

impl Pair {
    fn new(variant: u8) -> Pair {
        let make = |i: usize| {
            let mut c = EndpointConfig::new([i as u8 + 1; 16]);
            let v = if i == 0 { variant } else { variant >> 4 };
            c.tcp = config(v);
            if v % 8 == 7 {
                // Fast Open both ways without cookies (RFC 7413; Linux's
                // tcp_fastopen=0x607): this side's connect puts data in
                // its SYN (no option), and as a server it takes a SYN's
                // data into a Fast Open child.
                c.fast_open = stack::FastOpenConfig {
                    client: true,
                    client_no_cookie: true,
                    server: true,
                    without_sockopt: true,
                    no_cookie: true,
                    key: None,
                };
            }
            Endpoint::new(ADDR[i], c)
        };
        Pair {
            ep: [make(0), make(1)],
            now: Instant::ZERO,
            wire: [VecDeque::new(), VecDeque::new()],
            conn: [None, None],
            listener: [None, None],
            written: [0; 2],
            read: [0; 2],
            tainted: [false; 2],
            forged: false,
            last: [None, None],
            segments: Vec::new(),
        }
    }

    /// Checks one emitted datagram on its own and records it.
    fn emitted(&mut self, side: usize, bytes: &[u8]) -> Result<(), String> {
        let (pair, repr) = wire::parse_datagram(bytes)
            .map_err(|e| format!("side {side} emitted a datagram that does not parse: {e}"))?;
        if !rfc1071::header_verifies(&bytes[..20])
            || !rfc1071::tcp_verifies(pair.src, pair.dst, &bytes[20..])
        {
            return Err(format!(
                "side {side} emitted {repr} with a checksum RFC 1071 refuses"
            ));
        }
        if pair.src != ADDR[side] || pair.dst != ADDR[1 - side] {
            return Err(format!("side {side} emitted {} -> {}", pair.src, pair.dst));
        }
        let f = repr.flags;
        // RFC 9293 §3.1: SYN with RST or FIN is no segment a TCP sends;
        // everything but a first SYN and a RST answering a segment without
        // ACK carries an ACK (§3.10.7.1, §3.8); a RST or SYN-ACK carries no
        // data here, a SYN only with Fast Open (RFC 7413 §4.1).
        let fast_open = self.ep[side].config().fast_open.client;
        let illegal = (f.syn() && (f.rst() || f.fin()))
            || (!f.syn() && !f.rst() && !f.ack())
            || ((f.rst() || (f.syn() && (f.ack() || !fast_open))) && !repr.payload.is_empty());
        if illegal {
            return Err(format!("side {side} emitted {repr} ({f})"));
        }
        self.last[side] = Some((repr.seq, repr.ack, repr.options.timestamps.map(|t| t.0)));
        if !self.forged {
            self.segments.push(SegmentEvent {
                trace_index: self.segments.len(),
                time: sim::Time::from_nanos(self.now.as_nanos()),
                kind: EventKind::Send,
                node: NodeId(side as u32),
                src: SocketAddrV4::new(pair.src, repr.src_port),
                dst: SocketAddrV4::new(pair.dst, repr.dst_port),
                flags: repr.flags,
                seq: repr.seq,
                ack: repr.ack,
                window: repr.window,
                options: repr.options,
                payload_len: repr.payload.len() as u32,
                retransmission: false,
            });
        }
        Ok(())
    }

    /// Moves everything each side wants to send onto the wire.
    fn transmit(&mut self) -> Result<(), String> {
        for side in 0..2 {
            let mut count = 0;
            loop {
                let mut out = Vec::new();
                if !self.ep[side].poll_transmit(self.now, &mut out) {
                    break;
                }
                count += 1;
                if count > TRANSMIT_MAX {
                    return Err(format!(
                        "side {side} transmits without end ({TRANSMIT_MAX} datagrams at once)"
                    ));
                }
                self.emitted(side, &out)?;
                if self.wire[side].len() < WIRE_MAX {
                    self.wire[side].push_back((out, false));
                }
            }
        }
        Ok(())
    }

    fn events(&mut self) {
        for side in 0..2 {
            while let Some(e) = self.ep[side].poll_event() {
                if let stack::Event::Incoming(listener) = e
                    && self.conn[side].is_none()
                    && let Ok(c) = self.ep[side].accept(listener)
                {
                    self.conn[side] = Some(c);
                }
            }
        }
    }

    fn read(&mut self, side: usize, max: usize) -> Result<(), String> {
        let Some(c) = self.conn[side] else {
            return Ok(());
        };
        let mut buf = vec![0u8; max.clamp(1, 8192)];
        for _ in 0..64 {
            match self.ep[side].recv(self.now, c, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let from = 1 - side;
                    if !self.tainted[side] {
                        for (k, &b) in buf[..n].iter().enumerate() {
                            let offset = self.read[side] + k as u64;
                            if b != pattern(from, offset) {
                                return Err(format!(
                                    "side {side} read a wrong octet at stream offset {offset}"
                                ));
                            }
                        }
                        if self.read[side] + n as u64 > self.written[from] {
                            return Err(format!(
                                "side {side} read {} octets, the peer wrote {}",
                                self.read[side] + n as u64,
                                self.written[from]
                            ));
                        }
                    }
                    self.read[side] += n as u64;
                }
            }
        }
        Ok(())
    }

    fn deliver(&mut self, from: usize) {
        if let Some((p, _)) = self.wire[from].pop_front() {
            let _ = self.ep[1 - from].handle_packet(self.now, &p);
        }
    }

    /// Hands a forged datagram to `target`.
    fn forge(&mut self, target: usize, bytes: &[u8]) {
        if let Ok((_, repr)) = wire::parse_datagram(bytes)
            && (repr.flags.syn() || !repr.payload.is_empty())
        {
            self.tainted[target] = true;
        }
        self.forged = true;
        let _ = self.ep[target].handle_packet(self.now, bytes);
    }

    fn fire_timer(&mut self) {
        let next = (0..2).filter_map(|s| self.ep[s].poll_timeout()).min();
        if let Some(at) = next {
            self.now = self.now.max(at);
            for s in 0..2 {
                self.ep[s].handle_timeout(self.now);
            }
        }
    }

    fn step(&mut self, op: Op, p: &mut Cursor<'_>, hostile: bool) -> Result<(), String> {
        let side = usize::from(p.u8() & 1);
        let now = self.now;
        match op {
            Op::Listen => {
                if self.listener[side].is_none() {
                    self.listener[side] = self.ep[side].listen(PORT[side], 4).ok();
                }
            }
            Op::Connect => {
                if self.conn[side].is_none() {
                    let remote = SocketAddrV4::new(ADDR[1 - side], PORT[1 - side]);
                    self.conn[side] = if self.ep[side].config().fast_open.client {
                        // sendto(MSG_FASTOPEN): the SYN takes what fits.
                        let data: Vec<u8> = (0..u64::from(p.u16() % 3000))
                            .map(|i| pattern(side, self.written[side] + i))
                            .collect();
                        match self.ep[side].connect_fast_open(now, Some(PORT[side]), remote, &data)
                        {
                            Ok((id, taken)) => {
                                self.written[side] += taken as u64;
                                Some(id)
                            }
                            Err(_) => None,
                        }
                    } else {
                        self.ep[side].connect_from(now, PORT[side], remote).ok()
                    };
                }
            }
            Op::Accept => {
                if self.conn[side].is_none()
                    && let Some(l) = self.listener[side]
                {
                    self.conn[side] = self.ep[side].accept(l).ok();
                }
            }
            Op::Send => {
                let len = u64::from(p.u16() % 6000);
                if let Some(c) = self.conn[side] {
                    let data: Vec<u8> = (0..len)
                        .map(|i| pattern(side, self.written[side] + i))
                        .collect();
                    if let Ok(k) = self.ep[side].send(now, c, &data) {
                        self.written[side] += k as u64;
                    }
                }
            }
            Op::Recv => {
                let max = usize::from(p.u16());
                self.read(side, max)?;
            }
            Op::Shutdown => {
                if let Some(c) = self.conn[side] {
                    let _ = self.ep[side].shutdown(now, c);
                }
            }
            Op::Close => {
                if let Some(c) = self.conn[side] {
                    let _ = self.ep[side].close(now, c);
                }
            }
            Op::Abort => {
                if let Some(c) = self.conn[side] {
                    let _ = self.ep[side].abort(now, c);
                }
            }
            Op::Deliver => self.deliver(side),
            Op::DeliverAll => {
                for _ in 0..64 {
                    if self.wire.iter().all(VecDeque::is_empty) {
                        break;
                    }
                    self.deliver(0);
                    self.deliver(1);
                    self.events();
                    self.transmit()?;
                }
            }
            Op::Drop => {
                self.wire[side].pop_front();
            }
            Op::Duplicate => {
                if let Some(d) = self.wire[side].front().cloned() {
                    self.wire[side].push_back(d);
                }
            }
            Op::Reorder => {
                if self.wire[side].len() >= 2 {
                    let k = 1 + usize::from(p.u8()) % (self.wire[side].len() - 1);
                    self.wire[side].swap(0, k);
                }
            }
            Op::Corrupt => {
                let at = usize::from(p.u16());
                let bit = p.u8() % 8;
                // One bit per datagram: the Internet checksum catches every
                // single-bit error, but two flips can cancel (RFC 1071),
                // which no TCP can detect.
                if let Some((d, flipped)) = self.wire[side].front_mut()
                    && !d.is_empty()
                    && !*flipped
                {
                    let k = at % d.len();
                    d[k] ^= 1 << bit;
                    *flipped = true;
                }
            }
            Op::Advance => {
                let scale = p.u8() % 4;
                let amount = u64::from(p.u16());
                let micros = amount * [1, 100, 10_000, 1_000_000][usize::from(scale)];
                self.now += Duration::from_micros(micros);
                for s in 0..2 {
                    self.ep[s].handle_timeout(self.now);
                }
            }
            Op::FireTimer => self.fire_timer(),
            Op::Keepalive => {
                let idle = u64::from(p.u8()) + 1;
                if let Some(c) = self.conn[side] {
                    let k = stack::Keepalive {
                        idle: Duration::from_millis(idle * 100),
                        interval: Duration::from_millis(500),
                        probes: 2,
                    };
                    let _ = self.ep[side].set_keepalive(now, c, Some(k));
                }
            }
            Op::NoDelay => {
                if let Some(c) = self.conn[side] {
                    let _ = self.ep[side].set_nodelay(c, p.u8() & 1 == 0);
                }
            }
            Op::Craft => {
                // All eight control bits, ECE and CWR included.
                let flags = Flags(p.u8());
                let dseq = p.u32() as i32 >> (p.u8() % 32);
                let dack = p.u32() as i32 >> (p.u8() % 32);
                let window = p.u16();
                let len = usize::from(p.u8() % 64);
                let opts = p.u8();
                let extra = p.u32();
                if hostile {
                    let bytes = self.craft(side, flags, dseq, dack, window, len, opts, extra);
                    self.forge(side, &bytes);
                }
            }
            Op::Mutate => {
                let kind = p.u8();
                let value = p.u32();
                if hostile && let Some((mut d, _)) = self.wire[1 - side].pop_front() {
                    let bytes = mutated(&mut d, kind, value);
                    self.forge(side, &bytes);
                }
            }
            Op::Icmp => {
                let kind = [3u8, 3, 3, 11, 12, 4, 5, 8][usize::from(p.u8() % 8)];
                let code = p.u8() % 17;
                let mtu = p.u16();
                let dseq = p.u32() as i32 >> (p.u8() % 32);
                let damage = p.u16();
                if hostile {
                    let bytes = self.icmp(side, kind, code, mtu, dseq, damage);
                    self.forged = true;
                    let _ = self.ep[side].handle_packet(self.now, &bytes);
                }
            }
        }
        self.events();
        self.transmit()
    }

    /// An ICMP error into `target` from its peer quoting a segment of the
    /// connection with SEQ near the one `target` last sent; `damage`
    /// sometimes cuts the datagram short or flips one bit.
    fn icmp(&self, target: usize, kind: u8, code: u8, mtu: u16, dseq: i32, damage: u16) -> Vec<u8> {
        use crate::script::icmp::{IcmpSpec, Quote, Quoted, datagram};
        let (seq, _, _) = self.last[target].unwrap_or((SeqNum(0), SeqNum(0), None));
        let spec = IcmpSpec {
            kind,
            code,
            mtu: Some(mtu),
            echo_id: 0,
            quoted: Quoted::Tcp,
        };
        let quote = Quote {
            remote: ADDR[1 - target],
            local: ADDR[target],
            local_port: PORT[target],
            remote_port: PORT[1 - target],
            seq: seq.0.wrapping_add(dseq as u32),
            len: u32::from(damage % 1460),
        };
        let mut out = Vec::new();
        datagram(&spec, &quote, &mut out);
        match damage % 8 {
            0 => out.truncate(usize::from(damage >> 3) % out.len()),
            1 => {
                let at = usize::from(damage >> 3) % out.len();
                out[at] ^= 1 << (damage % 7);
            }
            _ => {}
        }
        out
    }

    /// A segment into `target` from the peer's address and ports, its
    /// numbers offset from those `target` last used: SEQ near the ACK it
    /// sent (its RCV.NXT), ACK near the SEQ it sent.
    #[allow(clippy::too_many_arguments)]
    fn craft(
        &self,
        target: usize,
        flags: Flags,
        dseq: i32,
        dack: i32,
        window: u16,
        len: usize,
        opts: u8,
        extra: u32,
    ) -> Vec<u8> {
        let (seq, ack, tsval) = self.last[target].unwrap_or((SeqNum(0), SeqNum(0), None));
        let base_seq = ack;
        let base_ack = seq;
        let mut options = TcpOptions::default();
        if opts & 1 != 0 {
            options.mss = Some([0u16, 1, 88, 536, 1460, u16::MAX][usize::from(opts >> 5) % 6]);
        }
        if opts & 2 != 0 {
            options.window_scale = Some([0u8, 7, 14, 15, 255][(extra % 5) as usize]);
        }
        if opts & 4 != 0 {
            options.sack_permitted = true;
        }
        if opts & 8 != 0 {
            // TSecr echoes (near) what the target sent; TSval near or far.
            let echo = tsval.unwrap_or(0);
            options.timestamps = Some((extra, echo.wrapping_add(extra & 0xf)));
        }
        if opts & 16 != 0 {
            let left = base_ack.0.wrapping_add(extra % 70_000);
            options.sack_blocks[0] = SackBlock {
                left: SeqNum(left),
                right: SeqNum(left.wrapping_add(1 + extra % 3000)),
            };
            options.sack_count = 1;
        }
        let payload = vec![0xeeu8; len];
        let repr = TcpRepr {
            src_port: PORT[1 - target],
            dst_port: PORT[target],
            seq: SeqNum(base_seq.0.wrapping_add(dseq as u32)),
            ack: SeqNum(base_ack.0.wrapping_add(dack as u32)),
            flags,
            window,
            urgent: 0,
            options,
            payload: &payload,
        };
        let mut out = Vec::new();
        wire::emit_datagram_ecn(
            IpPair {
                src: ADDR[1 - target],
                dst: ADDR[target],
            },
            &repr,
            // Any IP ECN codepoint, CE included (RFC 3168 §5).
            wire::Ecn::from_bits((extra >> 24) as u8),
            &mut out,
        );
        out
    }
}

/// A real datagram with one field changed by `kind`, re-emitted with
/// valid checksums (so the receiver's state machine, not its checksum
/// check, meets the change).
fn mutated(d: &mut [u8], kind: u8, value: u32) -> Vec<u8> {
    let Ok((pair, repr)) = wire::parse_datagram(d) else {
        return d.to_vec();
    };
    let mut repr = repr;
    let small = (value as i32) >> 20;
    match kind % 8 {
        0 => repr.seq = SeqNum(repr.seq.0.wrapping_add(small as u32)),
        1 => repr.ack = SeqNum(repr.ack.0.wrapping_add(small as u32)),
        2 => repr.flags = Flags(repr.flags.0 ^ (1 << (value % 8))),
        3 => repr.window = value as u16,
        4 => repr.options.timestamps = repr.options.timestamps.map(|(v, e)| (v ^ value, e)),
        5 => repr.payload = &repr.payload[..repr.payload.len().min(value as usize % 1500)],
        6 => repr.options.window_scale = Some(value as u8),
        _ => repr.urgent = value as u16,
    }
    let mut out = Vec::new();
    wire::emit_datagram(pair, &repr, &mut out);
    out
}

/// Checks one program (see the module doc of [`crate::fuzz`]).
pub fn endpoint(data: &[u8]) -> Result<(), String> {
    let mut p = Cursor { data, at: 0 };
    let variant = p.u8();
    let hostile = p.u8() & 1 == 1;
    let mut pair = Pair::new(variant);
    let mut ops = 0;
    while !p.done() && ops < OPS_MAX {
        let op = OPS[usize::from(p.u8()) % OPS.len()];
        pair.step(op, &mut p, hostile)?;
        ops += 1;
    }
    // Let the wire drain: whatever is in flight is delivered, timers run,
    // readers read.
    for _ in 0..DRAIN_ROUNDS {
        for side in 0..2 {
            pair.deliver(side);
            pair.events();
            pair.transmit()?;
            pair.read(side, 8192)?;
        }
        if pair.wire.iter().all(VecDeque::is_empty) {
            pair.fire_timer();
            pair.events();
            pair.transmit()?;
        }
    }
    if let Some(v) = oracle::check_segments(&pair.segments).into_iter().next() {
        return Err(v.to_string());
    }
    Ok(())
}

/// Iteration input: a program of random ops (half of them hostile), half
/// of them starting from an established connection, then mutated a few
/// times as bytes.
pub(super) fn input(rng: &mut SimRng) -> Vec<u8> {
    let mut program = vec![byte(rng), u8::from(chance(rng, 0.5))];
    if chance(rng, 0.5) {
        // Listen on side 1, connect from side 0, three deliveries: ESTABLISHED.
        program.extend([0, 1, 1, 0, 8, 0, 8, 1, 8, 0]);
    }
    let count = 1 + below(rng, 160);
    for _ in 0..count {
        // Deliveries and time weigh more, so conversations make progress.
        let op = match below(rng, 29) {
            n @ 0..=20 => n as u8,
            21..=24 => Op::Deliver as u8,
            25 | 26 => Op::DeliverAll as u8,
            _ => Op::Advance as u8,
        };
        program.push(op);
        program.push(byte(rng));
        let args = match OPS[usize::from(op)] {
            Op::Send | Op::Recv => 2,
            Op::Reorder | Op::Keepalive | Op::NoDelay => 1,
            Op::Corrupt => 3,
            Op::Advance => {
                program.push(below(rng, 4) as u8);
                program.extend(u16_any(rng).to_be_bytes());
                0
            }
            Op::Craft => {
                program.push(byte(rng));
                for _ in 0..2 {
                    program.extend(u32_any(rng).to_be_bytes());
                    program.push(if chance(rng, 0.7) {
                        16 + below(rng, 16) as u8
                    } else {
                        0
                    });
                }
                program.extend(u16_any(rng).to_be_bytes());
                program.push(byte(rng));
                program.push(byte(rng));
                program.extend(u32_any(rng).to_be_bytes());
                0
            }
            Op::Mutate => 5,
            Op::Icmp => 10,
            _ => 0,
        };
        for _ in 0..args {
            program.push(byte(rng));
        }
    }
    // A few byte mutations of the program itself (ops change, arguments shift).
    if chance(rng, 0.3) {
        for _ in 0..1 + below(rng, 3) {
            mutate(rng, &mut program);
        }
    }
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_honest_conversation_runs_clean_and_a_wrong_octet_is_caught() {
        // Establish, send 3000 octets each way, close both: the target must
        // pass (else its checks are wrong), and the same conversation read
        // against the wrong writer's pattern must fail (else they are blind).
        let program = [
            0u8, 0, // default settings, honest
            0, 1, // listen on side 1
            1, 0, // connect from side 0
            9, 0, // deliver all
            3, 0, 0x0b, 0xb8, // side 0 sends 3000
            3, 1, 0x0b, 0xb8, // side 1 sends 3000
            9, 0, 4, 0, 0x20, 0, 4, 1, 0x20, 0, // deliver, read both
            6, 0, 6, 1, 9, 0, // close both, deliver
        ];
        assert_eq!(endpoint(&program), Ok(()));
        let mut pair = Pair::new(0);
        let mut p = Cursor {
            data: &program[2..],
            at: 0,
        };
        while !p.done() {
            let op = OPS[usize::from(p.u8()) % OPS.len()];
            if op == Op::Recv {
                break;
            }
            pair.step(op, &mut p, false).unwrap();
        }
        // As if one octet had been delivered twice: every later octet is
        // read one offset late, and the check must say so.
        pair.read[1] = 1;
        let err = pair.read(1, 8192).unwrap_err();
        assert!(err.contains("wrong octet at stream offset 1"), "{err}");
    }

    #[test]
    fn thousands_of_random_programs_hold_every_property() {
        // A bounded run in `cargo test`: each program must pass, or the
        // message names the property and the iteration.
        for index in 0..300 {
            let input = super::super::Target::Endpoint.input(5, index);
            assert_eq!(endpoint(&input), Ok(()), "iteration {index}");
        }
    }
}
