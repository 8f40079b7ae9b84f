//! IPv4 header (RFC 791 §3.1): the 20-byte form; options are skipped.

use super::{IpPair, WireError, checksum};
use std::net::Ipv4Addr;

/// The IPv4 header without options, in bytes (the only form this stack sends).
pub const IPV4_HEADER_LEN: usize = 20;
/// The IPv4 protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;

/// A checked view over an IPv4 datagram.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
    total_len: usize,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks version, lengths, fragmenting, protocol and header checksum.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < IPV4_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::BadVersion);
        }
        let header_len = usize::from(b[0] & 0x0f) * 4;
        if header_len < IPV4_HEADER_LEN || header_len > b.len() {
            return Err(WireError::BadHeaderLength);
        }
        let total_len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total_len < header_len || total_len > b.len() {
            return Err(WireError::BadTotalLength);
        }
        let flags_fragment = u16::from_be_bytes([b[6], b[7]]);
        // More-fragments set, or a non-zero fragment offset.
        if flags_fragment & 0x2000 != 0 || flags_fragment & 0x1fff != 0 {
            return Err(WireError::Fragmented);
        }
        if b[9] != PROTOCOL_TCP {
            return Err(WireError::NotTcp);
        }
        if checksum::internet_checksum(&b[..header_len]) != 0 {
            return Err(WireError::BadIpChecksum);
        }
        Ok(Ipv4Packet {
            buffer,
            header_len,
            total_len,
        })
    }

    /// The source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }
    /// The destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }
    /// The ECN field: the two low bits of the old TOS byte (RFC 3168 §5).
    pub fn ecn(&self) -> Ecn {
        Ecn::from_bits(self.buffer.as_ref()[1])
    }
    /// The time-to-live field.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }
    /// The bytes after the header, up to the total length (link padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len..self.total_len]
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// The payload, borrowed for as long as the underlying bytes.
    pub fn payload_slice(&self) -> &'a [u8] {
        &self.buffer[self.header_len..self.total_len]
    }
}

/// The ECN field of the IP header (RFC 3168 §5): whether the transport
/// is ECN-capable (ECT(0), ECT(1)) and whether a router marked congestion
/// (CE). Packetdrill writes them `[noecn]`, `[ect0]`, `[ect1]`, `[ce]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Ecn {
    /// 00: Not-ECT, the transport does not do ECN.
    #[default]
    NotEct,
    /// 01: ECT(1).
    Ect1,
    /// 10: ECT(0), what an RFC 3168 sender sets (Linux uses ECT(0)).
    Ect0,
    /// 11: Congestion Experienced, set by a router instead of dropping.
    Ce,
}

impl Ecn {
    /// The codepoint in the two low bits of `tos`.
    pub fn from_bits(tos: u8) -> Ecn {
        match tos & 3 {
            0 => Ecn::NotEct,
            1 => Ecn::Ect1,
            2 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }
    /// The two-bit codepoint.
    pub fn bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0,
            Ecn::Ect1 => 1,
            Ecn::Ect0 => 2,
            Ecn::Ce => 3,
        }
    }
    /// ECT(0), ECT(1) or CE: the sender said it is ECN-capable.
    pub fn is_ect(self) -> bool {
        self != Ecn::NotEct
    }
}

/// Writes a 20-byte header: TTL 64, DF, identification 0 (as Linux does
/// for DF datagrams), protocol TCP, the ECN field, checksum filled in.
pub(crate) fn emit_header(out: &mut [u8], pair: IpPair, total_len: u16, ecn: Ecn) {
    out[0] = 0x45;
    out[1] = ecn.bits();
    out[2..4].copy_from_slice(&total_len.to_be_bytes());
    out[4..6].copy_from_slice(&0u16.to_be_bytes());
    out[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    out[8] = 64;
    out[9] = PROTOCOL_TCP;
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(&pair.src.octets());
    out[16..20].copy_from_slice(&pair.dst.octets());
    let sum = checksum::internet_checksum(&out[..IPV4_HEADER_LEN]);
    out[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// Rewrites the ECN field of an IPv4 datagram in place and fixes the
/// header checksum (RFC 1624 incremental update), as a router marking CE
/// does (RFC 3168 §5). False, and nothing changed, if `datagram` is too
/// short to hold an IPv4 header.
pub fn set_ecn(datagram: &mut [u8], ecn: Ecn) -> bool {
    if datagram.len() < IPV4_HEADER_LEN || datagram[0] >> 4 != 4 {
        return false;
    }
    let old = u16::from_be_bytes([datagram[0], datagram[1]]);
    datagram[1] = (datagram[1] & !3) | ecn.bits();
    let new = u16::from_be_bytes([datagram[0], datagram[1]]);
    let sum = u16::from_be_bytes([datagram[10], datagram[11]]);
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
    let mut acc = u32::from(!sum) + u32::from(!old) + u32::from(new);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    datagram[10..12].copy_from_slice(&(!(acc as u16)).to_be_bytes());
    true
}
