//! pcap (libpcap classic format) writer: the files Wireshark and tshark open.
//!
//! Link type 228 (`LINKTYPE_IPV4`): each record is one raw IPv4 datagram, the
//! bytes the engine carried, with no Ethernet header. Timestamps are virtual
//! time in microseconds (the classic format's resolution). Readers treat the
//! file as little-endian because of its magic number; see the pcap file
//! format description published with libpcap (`pcap-savefile(5)`).

use std::io::{self, Write};

/// `LINKTYPE_IPV4`: raw IPv4, no link-layer header.
pub const LINKTYPE_IPV4: u32 = 228;
/// Classic pcap magic for microsecond timestamps.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Largest record we write; longer datagrams are truncated (caplen < len),
/// exactly as a capture with this snap length would be.
pub const SNAPLEN: u32 = 65_535;

/// Writes a pcap stream: call [`PcapWriter::new`] once, then
/// [`PcapWriter::write_packet`] per datagram in time order.
pub struct PcapWriter<W: Write> {
    out: W,
    written_count: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        header[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
        // thiszone (8..12) and sigfigs (12..16) stay zero.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_IPV4.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            written_count: 0,
        })
    }

    /// Appends one record at virtual time `time_ns` (nanoseconds from zero).
    /// `original_len` is the datagram's length on the wire; `bytes` may be a
    /// captured prefix of it (the engine keeps a bounded copy per packet).
    pub fn write_packet(
        &mut self,
        time_ns: u64,
        bytes: &[u8],
        original_len: usize,
    ) -> io::Result<()> {
        let caplen = bytes.len().min(SNAPLEN as usize);
        let seconds = u32::try_from(time_ns / 1_000_000_000).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "virtual time beyond the pcap format's 32-bit seconds field",
            )
        })?;
        let micros = ((time_ns % 1_000_000_000) / 1_000) as u32;
        let original_len = u32::try_from(original_len.max(caplen)).unwrap_or(u32::MAX);
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&seconds.to_le_bytes());
        record[4..8].copy_from_slice(&micros.to_le_bytes());
        record[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        record[12..16].copy_from_slice(&original_len.to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&bytes[..caplen])?;
        self.written_count += 1;
        Ok(())
    }

    /// Records written so far.
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

    #[test]
    fn header_and_record_layout_match_the_savefile_format() {
        // A reader locates every field by fixed offset, so checking the bytes
        // at those offsets proves Wireshark will read time, lengths and data.
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        writer
            .write_packet(5_000_012_345, &[0x45, 0, 0, 20], 20)
            .unwrap();
        let bytes = writer.finish().unwrap();
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 228);
        let record = &bytes[24..];
        assert_eq!(u32::from_le_bytes(record[0..4].try_into().unwrap()), 5);
        assert_eq!(u32::from_le_bytes(record[4..8].try_into().unwrap()), 12);
        assert_eq!(u32::from_le_bytes(record[8..12].try_into().unwrap()), 4);
        assert_eq!(u32::from_le_bytes(record[12..16].try_into().unwrap()), 20);
        assert_eq!(&record[16..], &[0x45, 0, 0, 20]);
    }

    #[test]
    fn time_beyond_the_seconds_field_is_an_error_not_a_wrap() {
        // 2^32 seconds cannot be written; silently wrapping would reorder the capture.
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        let too_late = (u64::from(u32::MAX) + 1) * 1_000_000_000;
        assert!(writer.write_packet(too_late, &[0x45], 1).is_err());
    }
}
