//! The TCP header (RFC 9293 §3.1): a checked view and a plain value.

use super::options::TcpOptions;
use super::{WireError, checksum};
use crate::seq::SeqNum;
use std::fmt;
use std::net::Ipv4Addr;

/// The TCP header without options, in bytes.
pub const TCP_HEADER_LEN: usize = 20;

/// Control bits.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// No more data from the sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// The urgent pointer is significant (never sent by this stack).
    pub const URG: Flags = Flags(0x20);
    /// ECN-Echo (RFC 3168 §6.1): in a SYN, "I am ECN-capable"; after the
    /// handshake, "a segment of yours arrived marked CE".
    pub const ECE: Flags = Flags(0x40);
    /// Congestion Window Reduced (RFC 3168 §6.1.2): the sender has
    /// reduced its congestion window in answer to an ECE.
    pub const CWR: Flags = Flags(0x80);
    /// No flag.
    pub const NONE: Flags = Flags(0);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether FIN is set.
    pub fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    /// Whether SYN is set.
    pub fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    /// Whether RST is set.
    pub fn rst(self) -> bool {
        self.contains(Flags::RST)
    }
    /// Whether PSH is set.
    pub fn psh(self) -> bool {
        self.contains(Flags::PSH)
    }
    /// Whether ACK is set.
    pub fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    /// Whether ECN-Echo is set.
    pub fn ece(self) -> bool {
        self.contains(Flags::ECE)
    }
    /// Whether Congestion Window Reduced is set.
    pub fn cwr(self) -> bool {
        self.contains(Flags::CWR)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, o: Flags) {
        self.0 |= o.0;
    }
}

/// packetdrill/tcpdump notation: `S`, `S.`, `P.`, `F.`, `R.`, `.`, and
/// packetdrill's `E` and `W` for ECE and CWR (`SEW`, `SE.`).
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, c) in [
            (Flags::SYN, 'S'),
            (Flags::FIN, 'F'),
            (Flags::PSH, 'P'),
            (Flags::RST, 'R'),
            (Flags::URG, 'U'),
            (Flags::ECE, 'E'),
            (Flags::CWR, 'W'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        if self.ack() {
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A checked view over a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Checks the buffer holds the fixed header and the data offset fits.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < TCP_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = usize::from(b[12] >> 4) * 4;
        if header_len < TCP_HEADER_LEN || header_len > b.len() {
            return Err(WireError::BadDataOffset);
        }
        Ok(TcpPacket { buffer, header_len })
    }

    fn u16_at(&self, i: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[i], b[i + 1]])
    }
    fn u32_at(&self, i: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }
    /// The source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    /// The sequence number.
    pub fn seq(&self) -> SeqNum {
        SeqNum(self.u32_at(4))
    }
    /// The acknowledgment number (meaningful only when ACK is set).
    pub fn ack_number(&self) -> SeqNum {
        SeqNum(self.u32_at(8))
    }
    /// The eight control bits (CWR to FIN; RFC 9293 §3.1, RFC 3168 §6.1).
    /// The four reserved bits of byte 12 are ignored on receipt, as
    /// RFC 9293 §3.1 requires ("must be zero in generated segments and
    /// must be ignored in received segments").
    pub fn flags(&self) -> Flags {
        Flags(self.buffer.as_ref()[13])
    }
    /// The window field as sent, unscaled.
    pub fn window(&self) -> u16 {
        self.u16_at(14)
    }
    /// The checksum field as sent.
    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }
    /// The urgent pointer field.
    pub fn urgent(&self) -> u16 {
        self.u16_at(18)
    }
    /// The header length (data offset × 4), options included, in bytes.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The option bytes between the fixed header and the data.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[TCP_HEADER_LEN..self.header_len]
    }
    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len..]
    }
    /// Verifies the checksum over the pseudo-header and the whole segment.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.buffer.as_ref();
        checksum::finish(checksum::pseudo_header_sum(src, dst, b.len()), b) == 0
    }
}

/// A TCP segment as values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// The source port.
    pub src_port: u16,
    /// The destination port.
    pub dst_port: u16,
    /// The sequence number of the first octet (of the SYN if set).
    pub seq: SeqNum,
    /// Meaningful only when `flags.ack()`.
    pub ack: SeqNum,
    /// The control bits.
    pub flags: Flags,
    /// The window field as sent (unscaled).
    pub window: u16,
    /// The urgent pointer (this stack sends 0).
    pub urgent: u16,
    /// The options, as values.
    pub options: TcpOptions,
    /// The data, borrowed from the packet.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Reads the header fields and parses the options of a checked packet.
    ///
    /// # Errors
    ///
    /// `BadOption` if an option is malformed.
    pub fn parse(packet: &TcpPacket<&'a [u8]>) -> Result<TcpRepr<'a>, WireError> {
        let options = TcpOptions::parse(packet.options())?;
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent(),
            options,
            payload: &packet.buffer[packet.header_len..],
        })
    }

    /// Sequence space the segment occupies: data plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// The header length this value emits, options (padded) included, in bytes.
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + self.options.len()
    }

    /// Writes header, options and payload into `out` (exactly
    /// `header_len() + payload.len()` bytes) with the checksum filled in.
    pub fn emit(&self, out: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        let mut opts = [0u8; 40];
        let opts_len = self.options.encode_into(&mut opts);
        let header_len = TCP_HEADER_LEN + opts_len;
        out[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        out[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        let ack = if self.flags.ack() { self.ack.0 } else { 0 };
        out[8..12].copy_from_slice(&ack.to_be_bytes());
        out[12] = ((header_len / 4) as u8) << 4;
        out[13] = self.flags.0;
        out[14..16].copy_from_slice(&self.window.to_be_bytes());
        out[16..18].copy_from_slice(&[0, 0]);
        out[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        out[TCP_HEADER_LEN..header_len].copy_from_slice(&opts[..opts_len]);
        let end = header_len + self.payload.len();
        out[header_len..end].copy_from_slice(self.payload);
        let sum = checksum::finish(checksum::pseudo_header_sum(src, dst, end), &out[..end]);
        out[16..18].copy_from_slice(&sum.to_be_bytes());
    }
}

/// `S. 100:100(0) ack 1 win 65535`, the packetdrill/tcpdump shape, absolute numbers.
impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = if self.flags == Flags::ACK {
            ".".to_string()
        } else {
            self.flags.to_string()
        };
        let len = self.payload.len() as u32;
        write!(
            f,
            "{} {}:{}({})",
            flags,
            self.seq.0,
            self.seq.0.wrapping_add(len),
            len
        )?;
        if self.flags.ack() {
            write!(f, " ack {}", self.ack.0)?;
        }
        write!(f, " win {}", self.window)
    }
}

impl fmt::Debug for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}->{} {:?}",
            self, self.src_port, self.dst_port, self.options
        )
    }
}
