//! Packets: byte buffers with a source and destination address. The engine
//! routes on the addresses and never parses the bytes.

use crate::addr::Addr;

/// One datagram in flight. `bytes` is a reusable buffer: take one from
/// [`crate::Ctx::alloc_packet`] and hand it back with [`crate::Ctx::recycle`]
/// when done, so the steady state allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The sender's address.
    pub src: Addr,
    /// The address the engine routes the packet to.
    pub dst: Addr,
    /// The datagram as the nodes see it (for tcpsim hosts: an IPv4 header and a
    /// TCP segment); the engine never parses it.
    pub bytes: Vec<u8>,
}

impl Packet {
    /// A packet from `src` to `dst` carrying `bytes`.
    pub fn new(src: Addr, dst: Addr, bytes: Vec<u8>) -> Packet {
        Packet { src, dst, bytes }
    }
    /// The datagram's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether the datagram has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A free list of byte buffers, bounded so a burst cannot pin memory forever.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Vec<Vec<u8>>,
}

/// Buffers kept for reuse; beyond this, returned buffers are freed.
const POOL_BUFFERS_MAX: usize = 4096;

impl BufferPool {
    pub(crate) fn take(&mut self) -> Vec<u8> {
        match self.free.pop() {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(2048),
        }
    }
    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        if self.free.len() < POOL_BUFFERS_MAX && buf.capacity() > 0 {
            self.free.push(buf);
        }
    }
}
