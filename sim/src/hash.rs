//! The trace hash: a fixed, platform-independent 64-bit function.
//!
//! Not `std`'s `DefaultHasher` (its algorithm may change between Rust
//! versions) and not a randomly keyed hasher: the same trace must hash the
//! same on every machine, forever. Words are folded with a multiply-rotate
//! step (the FxHash step) and finished with the SplitMix64 finaliser.

const K: u64 = 0x517c_c1b7_2722_0a95;

/// An incremental hasher over little-endian words.
#[derive(Clone, Copy, Debug)]
pub struct TraceHasher {
    state: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            state: 0x243f_6a88_85a3_08d3,
        }
    }
}

impl TraceHasher {
    /// Folds one 64-bit word into the state.
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.state = (self.state.rotate_left(5) ^ w).wrapping_mul(K);
    }

    /// Folds bytes 8 at a time; the length goes in first so that
    /// `[1] + [2, 3]` and `[1, 2] + [3]` differ.
    pub fn bytes(&mut self, data: &[u8]) {
        self.word(data.len() as u64);
        let mut chunks = data.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// The hash of everything folded so far (SplitMix64 finaliser); the
    /// hasher can keep going afterwards.
    pub fn finish(&self) -> u64 {
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The digest of one packet's bytes as the trace sees them: the length and
/// the first [`DIGEST_PREFIX_BYTES`] bytes (every IPv4 and TCP header with
/// options, and the start of the payload). Payload beyond the prefix is left
/// to the delivery oracles; hashing it would cost more than the rest of a
/// bulk run. Corruption anywhere is still in the hash: the flipped bit
/// positions are part of the corruption event.
pub fn packet_digest(bytes: &[u8]) -> u64 {
    let mut h = TraceHasher::default();
    h.word(bytes.len() as u64);
    h.bytes(&bytes[..bytes.len().min(DIGEST_PREFIX_BYTES)]);
    h.finish()
}

/// How many leading bytes of a packet the trace hash covers.
pub const DIGEST_PREFIX_BYTES: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_pinned() {
        // The trace hash must never change silently between versions or machines:
        // pinning one value catches an accidental change of the function.
        let mut h = TraceHasher::default();
        h.bytes(b"tcpsim");
        assert_eq!(
            h.finish(),
            0x98ed_df9e_6663_c4b8_u64,
            "got {:#x}",
            h.finish()
        );
    }

    #[test]
    fn split_points_matter() {
        // Without the length prefix these two streams would collide.
        let mut a = TraceHasher::default();
        a.bytes(&[1]);
        a.bytes(&[2, 3]);
        let mut b = TraceHasher::default();
        b.bytes(&[1, 2]);
        b.bytes(&[3]);
        assert_ne!(a.finish(), b.finish());
    }
}
