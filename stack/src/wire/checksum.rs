//! The Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1).

use std::net::Ipv4Addr;

/// Adds `data` to a running one's-complement sum (not yet folded). `data`
/// must start at an even offset of the checksummed bytes.
///
/// RFC 1071 §2: one's-complement addition is commutative and associative,
/// carries can be deferred, and the sum is byte-order independent: summing
/// the bytes as little-endian words and swapping the two bytes of the
/// folded result gives the big-endian sum (§2(B)). So the bytes are read
/// as native little-endian 32-bit words (no byte swap per word, which lets
/// the compiler vectorize the loop) into four 64-bit accumulators, which
/// cannot overflow below 2^32 words; the total is folded to 16 bits (2^16 =
/// 1 modulo 0xffff) and swapped once. The result equals summing 16-bit
/// big-endian words one by one.
pub fn sum_words(sum: u32, data: &[u8]) -> u32 {
    let mut lanes = [0u64; 4];
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(4)) {
            *lane += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    let mut acc = lanes.iter().sum::<u64>();
    let mut quads = blocks.remainder().chunks_exact(4);
    for q in &mut quads {
        acc += u64::from(u32::from_le_bytes([q[0], q[1], q[2], q[3]]));
    }
    let mut pairs = quads.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_le_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        // The odd byte is the high byte of a big-endian word padded with
        // zero: the low byte of the little-endian one.
        acc += u64::from(*last);
    }
    let little = fold64(acc);
    // Back to big-endian order, plus the running sum given.
    let total = u64::from(little.swap_bytes()) + u64::from(sum);
    (total as u32) + ((total >> 32) as u32) // at most 2^32 + 2^16: no carry out
}

/// Folds a 64-bit one's-complement sum to 16 bits.
fn fold64(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
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

/// The sum over the TCP pseudo-header: source, destination, zero, protocol 6,
/// TCP length (RFC 9293 §3.1), as a running sum for `finish`.
///
/// The twelve pseudo-header bytes go through `sum_words` like any other
/// data, so every carry is folded back in (RFC 1071 §2 end-around carry):
/// address pairs whose words add up to nearly 2^32 (192.168.1.1 and
/// 63.87.254.244) must not overflow the running sum.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: usize) -> u32 {
    debug_assert!(tcp_len <= 0xffff, "a TCP segment in IPv4 is under 64 KiB");
    if planted!(PseudoHeaderCarry) {
        // The defect as a release build ran it: addresses summed as two
        // 32-bit words, protocol and length added without folding.
        // (Spelled out: the defect depends on the 32-bit running sum the
        // summation of that time kept, which `sum_words` no longer does.)
        let mut acc = u64::from(u32::from(src)) + u64::from(u32::from(dst));
        while acc > 0xffff_ffff {
            acc = (acc & 0xffff_ffff) + (acc >> 32);
        }
        return (acc as u32).wrapping_add(6).wrapping_add(tcp_len as u32);
    }
    let mut header = [0u8; 12];
    header[0..4].copy_from_slice(&src.octets());
    header[4..8].copy_from_slice(&dst.octets());
    header[9] = super::PROTOCOL_TCP;
    header[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
    sum_words(0, &header)
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

    /// RFC 1071's definition over the pseudo-header and the segment, one
    /// 16-bit word at a time, carries folded at every step.
    fn reference_tcp(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&[0, 6]);
        bytes.extend_from_slice(&(segment.len() as u16).to_be_bytes());
        bytes.extend_from_slice(segment);
        reference(&bytes)
    }

    #[test]
    fn pseudo_header_words_near_two_to_the_32_fold_their_carry() {
        // 192.168.1.1 and 63.87.254.244 add up to 0xffff_fff5 as 32-bit
        // words: protocol and length push the sum past 2^32. The running
        // sum must fold that carry (a debug build used to panic here and a
        // release build emitted a checksum off by one).
        let (a, b) = (
            Ipv4Addr::new(192, 168, 1, 1),
            Ipv4Addr::new(63, 87, 254, 244),
        );
        for len in [20usize, 21, 32, 1480] {
            let segment: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            for (src, dst) in [(a, b), (b, a)] {
                assert_eq!(
                    finish(pseudo_header_sum(src, dst, len), &segment),
                    reference_tcp(src, dst, &segment),
                    "{src} -> {dst}, {len} bytes"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn tcp_checksum_equals_rfc_1071_for_any_addresses_and_payload(
            src in proptest::prelude::any::<u32>(),
            dst in proptest::prelude::any::<u32>(),
            segment in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1600),
        ) {
            // Whatever the addresses (including those whose words sum near
            // 2^32) and whatever the length (odd ones too), our checksum is
            // the RFC 1071 one.
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            proptest::prop_assert_eq!(
                finish(pseudo_header_sum(src, dst, segment.len()), &segment),
                reference_tcp(src, dst, &segment)
            );
        }

        #[test]
        fn sums_with_every_word_near_all_ones_never_overflow(
            len in 0usize..200,
            low in 0u8..16,
        ) {
            // Worst cases for the accumulator: addresses and data of 0xff..,
            // so the sum carries at every word.
            let src = Ipv4Addr::from(0xffff_fff0u32 | u32::from(low));
            let dst = Ipv4Addr::new(255, 255, 255, 255);
            let segment = vec![0xffu8; len];
            proptest::prop_assert_eq!(
                finish(pseudo_header_sum(src, dst, len), &segment),
                reference_tcp(src, dst, &segment)
            );
        }
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
