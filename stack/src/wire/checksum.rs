//! The Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1).

use std::net::Ipv4Addr;

/// Adds `data` to a running one's-complement sum (not yet folded).
pub fn sum_words(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum of `data`: the one's complement of the one's-complement sum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(0, data))
}

/// The sum over the TCP pseudo-header: source, destination, zero, protocol 6, TCP length.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: usize) -> u32 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum += 6;
    sum += tcp_len as u32;
    sum
}

/// Folds a running sum plus `data` into a final checksum value.
pub fn finish(sum: u32, data: &[u8]) -> u16 {
    !fold(sum_words(sum, data))
}
