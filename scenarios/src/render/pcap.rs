//! pcapng writer: the capture files Wireshark and tshark open.
//!
//! The layout follows the pcapng specification (IETF draft
//! `draft-ietf-opsawg-pcapng`), little-endian:
//!
//! - one Section Header Block, naming the writer (`shb_userappl`) and, in
//!   its comment, the epoch below;
//! - one Interface Description Block per capture point, with link type 228
//!   (`LINKTYPE_IPV4`: each packet is a raw IPv4 datagram, no link-layer
//!   header), nanosecond resolution (`if_tsresol` = 9), a name and a
//!   description;
//! - one Enhanced Packet Block per packet seen at a capture point, with its
//!   direction in `epb_flags` (inbound or outbound) and, where there is
//!   something to say, a comment (`opt_comment`): why the network dropped
//!   it, that it is a copy the link made, that its bits were flipped.
//!
//! **Timestamps** are virtual time in nanoseconds from the fixed epoch
//! [`EPOCH_UNIX_SECONDS`], 2000-01-01 00:00:00 UTC: a run's first packet
//! at virtual time 0 shows as `2000-01-01 00:00:00.000000000`, and the
//! seconds since the epoch are the simulated seconds. (Not 1970, which
//! readers show as "no time set"; not the wall clock, which would make two
//! runs of one seed differ.)

use std::io::{self, Write};

/// `LINKTYPE_IPV4`: raw IPv4, no link-layer header.
pub const LINKTYPE_IPV4: u16 = 228;
/// Largest packet data we write; longer datagrams are truncated (captured
/// length below the original length), as a capture with this snap length
/// would be.
pub const SNAPLEN: u32 = 65_535;
/// The capture epoch: 2000-01-01 00:00:00 UTC, in seconds since
/// 1970-01-01 00:00:00 UTC. Virtual time zero is this instant.
pub const EPOCH_UNIX_SECONDS: u64 = 946_684_800;

const BLOCK_SECTION_HEADER: u32 = 0x0A0D_0D0A;
const BLOCK_INTERFACE: u32 = 0x0000_0001;
const BLOCK_ENHANCED_PACKET: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
/// `epb_flags` bits 0-1: the packet's direction at its interface.
const EPB_INBOUND: u32 = 0b01;
const EPB_OUTBOUND: u32 = 0b10;

/// Which way a packet crossed its capture point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Arriving at the host.
    Inbound,
    /// Leaving the host.
    Outbound,
}

/// Writes a pcapng stream: [`PcapngWriter::new`] (the section header), then
/// [`PcapngWriter::add_interface`] for each capture point, then
/// [`PcapngWriter::write_packet`] per packet in time order.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces_count: u32,
    written_count: u64,
}

/// Appends an option (code, length, value padded to 32 bits).
fn option(block: &mut Vec<u8>, code: u16, value: &[u8]) {
    // Option values are at most a comment's length; longer is cut so the
    // 16-bit length field stays true.
    let value = &value[..value.len().min(usize::from(u16::MAX) - 3)];
    block.extend_from_slice(&code.to_le_bytes());
    block.extend_from_slice(&(value.len() as u16).to_le_bytes());
    block.extend_from_slice(value);
    pad(block);
}

fn pad(block: &mut Vec<u8>) {
    while !block.len().is_multiple_of(4) {
        block.push(0);
    }
}

/// Frames a block body: type, total length, body, total length again.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let total = (body.len() + 12) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // major version
        body.extend_from_slice(&0u16.to_le_bytes()); // minor version
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        option(
            &mut body,
            OPT_COMMENT,
            b"tcpsim virtual time: timestamps count nanoseconds of simulated time from 2000-01-01 00:00:00 UTC (virtual time zero)",
        );
        option(&mut body, SHB_USERAPPL, b"tcpsim");
        option(&mut body, OPT_END, &[]);
        out.write_all(&block(BLOCK_SECTION_HEADER, &body))?;
        Ok(PcapngWriter {
            out,
            interfaces_count: 0,
            written_count: 0,
        })
    }

    /// Describes the next capture point; returns its interface id (0, 1, ...).
    pub fn add_interface(&mut self, name: &str, description: &str) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&LINKTYPE_IPV4.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes()); // reserved
        body.extend_from_slice(&SNAPLEN.to_le_bytes());
        option(&mut body, IF_NAME, name.as_bytes());
        option(&mut body, IF_DESCRIPTION, description.as_bytes());
        option(&mut body, IF_TSRESOL, &[9]); // 10^-9 s: nanoseconds
        option(&mut body, OPT_END, &[]);
        self.out.write_all(&block(BLOCK_INTERFACE, &body))?;
        self.interfaces_count += 1;
        Ok(self.interfaces_count - 1)
    }

    /// Appends one packet seen on `interface` at virtual time `time_ns`.
    /// `original_len` is the datagram's length on the wire; `bytes` may be
    /// a captured prefix of it (the engine keeps a bounded copy per
    /// packet). `comment`, when not empty, is shown with the packet.
    pub fn write_packet(
        &mut self,
        interface: u32,
        time_ns: u64,
        bytes: &[u8],
        original_len: usize,
        direction: Direction,
        comment: &str,
    ) -> io::Result<()> {
        if interface >= self.interfaces_count {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no interface {interface} was described"),
            ));
        }
        let stamp = EPOCH_UNIX_SECONDS
            .checked_mul(1_000_000_000)
            .and_then(|epoch| epoch.checked_add(time_ns))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "virtual time beyond the 64-bit pcapng timestamp",
                )
            })?;
        let caplen = bytes.len().min(SNAPLEN as usize);
        let original_len = u32::try_from(original_len.max(caplen)).unwrap_or(u32::MAX);
        let mut body = Vec::with_capacity(32 + caplen + comment.len());
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((stamp >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(stamp as u32).to_le_bytes());
        body.extend_from_slice(&(caplen as u32).to_le_bytes());
        body.extend_from_slice(&original_len.to_le_bytes());
        body.extend_from_slice(&bytes[..caplen]);
        pad(&mut body);
        let flags = match direction {
            Direction::Inbound => EPB_INBOUND,
            Direction::Outbound => EPB_OUTBOUND,
        };
        option(&mut body, EPB_FLAGS, &flags.to_le_bytes());
        if !comment.is_empty() {
            option(&mut body, OPT_COMMENT, comment.as_bytes());
        }
        option(&mut body, OPT_END, &[]);
        self.out.write_all(&block(BLOCK_ENHANCED_PACKET, &body))?;
        self.written_count += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn written_count(&self) -> u64 {
        self.written_count
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn blocks_have_the_layout_the_specification_gives() {
        // A reader walks blocks by their total length and finds each field
        // at a fixed offset; checking those offsets (and that every block
        // repeats its length at its end, 32-bit aligned) proves Wireshark
        // reads the time, the lengths, the interface and the data.
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        assert_eq!(w.add_interface("client@client-server", "test").unwrap(), 0);
        w.write_packet(
            0,
            5_000_012_345,
            &[0x45, 0, 0, 20],
            20,
            Direction::Outbound,
            "dropped: loss",
        )
        .unwrap();
        let bytes = w.finish().unwrap();
        let mut blocks = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (kind, len) = (u32_at(&bytes, at), u32_at(&bytes, at + 4) as usize);
            assert!(len.is_multiple_of(4));
            assert_eq!(
                u32_at(&bytes, at + len - 4) as usize,
                len,
                "trailing length"
            );
            blocks.push((kind, at));
            at += len;
        }
        assert_eq!(at, bytes.len());
        let kinds: Vec<u32> = blocks.iter().map(|b| b.0).collect();
        assert_eq!(
            kinds,
            [BLOCK_SECTION_HEADER, BLOCK_INTERFACE, BLOCK_ENHANCED_PACKET]
        );
        assert_eq!(u32_at(&bytes, 8), BYTE_ORDER_MAGIC);
        let idb = blocks[1].1;
        assert_eq!(u16::from_le_bytes([bytes[idb + 8], bytes[idb + 9]]), 228);
        let epb = blocks[2].1;
        assert_eq!(u32_at(&bytes, epb + 8), 0, "interface id");
        let stamp =
            (u64::from(u32_at(&bytes, epb + 12)) << 32) | u64::from(u32_at(&bytes, epb + 16));
        assert_eq!(stamp, 946_684_800 * 1_000_000_000 + 5_000_012_345);
        assert_eq!(u32_at(&bytes, epb + 20), 4, "captured length");
        assert_eq!(u32_at(&bytes, epb + 24), 20, "original length");
        assert_eq!(&bytes[epb + 28..epb + 32], &[0x45, 0, 0, 20]);
        let text = String::from_utf8_lossy(&bytes[epb..]);
        assert!(text.contains("dropped: loss"));
    }

    #[test]
    fn a_packet_on_an_undescribed_interface_is_an_error() {
        // Readers reject a packet whose interface id has no description;
        // writing one must fail here instead of making such a file.
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        assert!(
            w.write_packet(0, 0, &[0x45], 1, Direction::Inbound, "")
                .is_err()
        );
    }
}
