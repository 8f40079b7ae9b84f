//! The wire: IPv4 (RFC 791) carrying TCP (RFC 9293 §3.1) with real checksums.
//!
//! Parsing is separate from meaning, as in smoltcp: [`Ipv4Packet`] and
//! [`TcpPacket`] are checked zero-copy views over bytes (once `new_checked`
//! succeeds no accessor can panic), and [`TcpRepr`] is the plain value the
//! state machine reads and writes. [`parse_datagram`] and [`emit_datagram`]
//! go between a whole IPv4 datagram and a `(addresses, TcpRepr)` pair.
//! Malformed input of any kind is a [`WireError`], never a panic.

mod checksum;
mod ipv4;
mod options;
mod tcp;

pub use checksum::{internet_checksum, pseudo_header_sum};
pub use ipv4::{Ecn, IPV4_HEADER_LEN, Ipv4Packet, PROTOCOL_TCP, set_ecn};
pub use options::{
    FAST_OPEN_COOKIE_ROOM, FastOpenCookie, MAX_FAST_OPEN_COOKIE, MAX_SACK_BLOCKS, SackBlock,
    TcpOptions,
};
pub use tcp::{Flags, TCP_HEADER_LEN, TcpPacket, TcpRepr};

use std::fmt;
use std::net::Ipv4Addr;

/// Why bytes are not a valid IPv4/TCP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than a header needs.
    Truncated,
    /// Not IPv4.
    BadVersion,
    /// IHL below 5 or beyond the buffer.
    BadHeaderLength,
    /// Total length field smaller than the header or larger than the buffer.
    BadTotalLength,
    /// A fragment: we do not reassemble IP fragments.
    Fragmented,
    /// Not TCP.
    NotTcp,
    /// The IPv4 header checksum does not verify (RFC 791 §3.1).
    BadIpChecksum,
    /// TCP data offset below 5 or beyond the segment.
    BadDataOffset,
    /// The TCP checksum over the pseudo-header and segment does not verify (RFC 9293 §3.1).
    BadTcpChecksum,
    /// An option's length is below 2 or runs past the header.
    BadOption,
    /// An ICMP message that is short, fails a checksum or quotes too
    /// little of the datagram it is about.
    BadIcmp,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            WireError::Truncated => "datagram truncated",
            WireError::BadVersion => "not an IPv4 datagram",
            WireError::BadHeaderLength => "bad IPv4 header length",
            WireError::BadTotalLength => "bad IPv4 total length",
            WireError::Fragmented => "IPv4 fragments are not supported",
            WireError::NotTcp => "not a TCP segment",
            WireError::BadIpChecksum => "bad IPv4 header checksum",
            WireError::BadDataOffset => "bad TCP data offset",
            WireError::BadTcpChecksum => "bad TCP checksum",
            WireError::BadOption => "malformed TCP option",
            WireError::BadIcmp => "malformed ICMP message",
        };
        f.write_str(text)
    }
}

impl std::error::Error for WireError {}

/// The IPv4 addresses of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPair {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
}

/// Parses and verifies one IPv4 datagram carrying TCP: IP header checksum,
/// TCP checksum over the pseudo-header, option syntax.
pub fn parse_datagram(bytes: &[u8]) -> Result<(IpPair, TcpRepr<'_>), WireError> {
    let ip = Ipv4Packet::new_checked(bytes)?;
    let pair = IpPair {
        src: ip.src(),
        dst: ip.dst(),
    };
    let segment = ip.payload_slice();
    let tcp = TcpPacket::new_checked(segment)?;
    if !tcp.verify_checksum(pair.src, pair.dst) {
        return Err(WireError::BadTcpChecksum);
    }
    let repr = TcpRepr::parse(&tcp)?;
    Ok((pair, repr))
}

/// The addresses and ports of an IPv4/TCP datagram, read without
/// checking anything (no checksum, no length beyond what is read): for a
/// demultiplexer that only needs to find the connection before
/// [`parse_datagram`] checks the datagram. `None` if it is too short.
pub fn peek_tuple(datagram: &[u8]) -> Option<(IpPair, u16, u16)> {
    let ihl = usize::from(*datagram.first()? & 0x0f) * 4;
    let ports = datagram.get(ihl..ihl + 4)?;
    let ip = |at: usize| -> Option<Ipv4Addr> {
        let b = datagram.get(at..at + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let pair = IpPair {
        src: ip(12)?,
        dst: ip(16)?,
    };
    let src_port = u16::from_be_bytes([ports[0], ports[1]]);
    let dst_port = u16::from_be_bytes([ports[2], ports[3]]);
    Some((pair, src_port, dst_port))
}

/// The ECN field of a datagram's IP header (RFC 3168 §5), read without
/// checking anything; Not-ECT for anything too short to say.
pub fn peek_ecn(datagram: &[u8]) -> Ecn {
    datagram
        .get(1)
        .map_or(Ecn::NotEct, |&tos| Ecn::from_bits(tos))
}

/// Whether an IPv4/TCP datagram carries TCP payload (its total length
/// beyond both headers), read without checking it; false for anything
/// too short to say.
pub fn peek_carries_data(datagram: &[u8]) -> bool {
    let (Some(&vihl), Some(total)) = (datagram.first(), datagram.get(2..4)) else {
        return false;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    let Some(&offset) = datagram.get(ihl + 12) else {
        return false;
    };
    let total = usize::from(u16::from_be_bytes([total[0], total[1]]));
    total > ihl + usize::from(offset >> 4) * 4
}

/// Writes one complete IPv4 datagram (TTL 64, DF set as Linux does, both
/// checksums filled in, Not-ECT) into `out`, replacing its contents.
pub fn emit_datagram(pair: IpPair, repr: &TcpRepr<'_>, out: &mut Vec<u8>) {
    emit_datagram_ecn(pair, repr, Ecn::NotEct, out);
}

/// [`emit_datagram`] with the IP header's ECN field set to `ecn`.
pub fn emit_datagram_ecn(pair: IpPair, repr: &TcpRepr<'_>, ecn: Ecn, out: &mut Vec<u8>) {
    let tcp_len = repr.header_len() + repr.payload.len();
    let total = IPV4_HEADER_LEN + tcp_len;
    out.clear();
    out.resize(total, 0);
    ipv4::emit_header(&mut out[..IPV4_HEADER_LEN], pair, total as u16, ecn);
    repr.emit(&mut out[IPV4_HEADER_LEN..], pair.src, pair.dst);
}
