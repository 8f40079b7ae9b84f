//! Test nodes: a sender that emits numbered packets when woken, and a sink
//! that records what arrives and when.
#![allow(dead_code)]

use sim::{Addr, Ctx, Node, Packet, Time};

pub const A: Addr = Addr::new(10, 0, 0, 1);
pub const B: Addr = Addr::new(10, 0, 0, 2);

/// On wake `token`, sends `token` numbered packets of `size` bytes to `dst`.
/// Packet i carries i as a big-endian u32 in its first 4 bytes.
pub struct Sender {
    pub dst: Addr,
    pub size: usize,
    pub next_index: u32,
}

impl Sender {
    pub fn new(dst: Addr, size: usize) -> Sender {
        Sender {
            dst,
            size,
            next_index: 0,
        }
    }
}

impl Node for Sender {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, count: u64) {
        let src = ctx.addr();
        for _ in 0..count {
            let mut p = ctx.alloc_packet(src, self.dst);
            p.bytes.extend_from_slice(&self.next_index.to_be_bytes());
            p.bytes.resize(self.size.max(4), 0xab);
            self.next_index += 1;
            ctx.send(p);
        }
    }
}

/// Records `(arrival time, packet index, bytes)` for every packet.
#[derive(Default)]
pub struct Sink {
    pub arrivals: Vec<(Time, u32, Vec<u8>)>,
}

impl Node for Sink {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        let index = u32::from_be_bytes(packet.bytes[..4].try_into().unwrap());
        self.arrivals.push((ctx.now(), index, packet.bytes.clone()));
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, _ctx: &mut Ctx<'_>, _token: u64) {}
}
