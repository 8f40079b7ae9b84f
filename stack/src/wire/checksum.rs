//! The Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1).

use std::net::Ipv4Addr;

/// Adds `data` to a running one's-complement sum (not yet folded). `data`
/// must start at an even offset of the checksummed bytes.
///
/// RFC 1071 §2: one's-complement addition is commutative and associative
/// and carries can be deferred, so 32-bit big-endian words are summed into a
/// 64-bit accumulator and folded at the end (2^16 = 1 and 2^32 = 1 modulo
/// 0xffff). The result is the same as summing 16-bit words one by one.
pub fn sum_words(sum: u32, data: &[u8]) -> u32 {
    let mut acc = u64::from(sum);
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        acc += u64::from(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
    }
    let mut pairs = quads.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071's definition, one 16-bit word at a time.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for c in data.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn wide_summation_equals_the_word_by_word_definition() {
        // Deterministic pseudo-random buffers of every length up to 1600,
        // plus all-ones (sums that wrap many times) and all-zero.
        let mut x: u32 = 0x1234_5678;
        let mut data = Vec::new();
        for len in 0..1600usize {
            data.clear();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                data.push(x as u8);
            }
            assert_eq!(internet_checksum(&data), reference(&data), "len {len}");
        }
        let ones = vec![0xffu8; 1501];
        assert_eq!(internet_checksum(&ones), reference(&ones));
        let zeros = vec![0u8; 64];
        assert_eq!(internet_checksum(&zeros), reference(&zeros));
    }
}
