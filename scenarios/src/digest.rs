//! A running digest of a byte stream, so the delivery oracle can compare
//! what one side wrote with what the other read without keeping a copy.
//!
//! The digest does not depend on how the stream was cut into writes or
//! reads: four 64-bit lanes take the stream's 8-byte words in turn (word
//! `i` goes to lane `i % 4`), each step `lane = rotl((lane ^ word) * K, 29)`
//! with `K` odd, so a step is a bijection of the lane for a fixed word and a
//! single differing word always changes the final value. Leftover bytes
//! wait in a 32-byte tail. A [`Flow`] adds the length and a checkpoint
//! every [`MARK_INTERVAL`] bytes, so a reader that stopped early (a reset
//! mid-transfer) is still checked up to its last whole interval.
//!
//! Not cryptographic: it finds corruption, loss, duplication and
//! reordering by accident, not an adversary forging a collision.

const LANE_MULTIPLIERS: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x85eb_ca77_c2b2_ae63,
];
const STRIPE_SIZE: usize = 32;

/// Checkpoint spacing of a [`Flow`], in bytes.
pub const MARK_INTERVAL: u64 = 1 << 16;

/// The digest state of a stream prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    lanes: [u64; 4],
    tail: [u8; STRIPE_SIZE],
    tail_len: u8,
}

impl Default for Digest {
    fn default() -> Digest {
        Digest {
            lanes: [1, 2, 3, 4],
            tail: [0; STRIPE_SIZE],
            tail_len: 0,
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Digest {
    fn stripe(&mut self, stripe: &[u8]) {
        debug_assert_eq!(stripe.len(), STRIPE_SIZE);
        for (lane, (word, k)) in self
            .lanes
            .iter_mut()
            .zip(stripe.chunks_exact(8).zip(LANE_MULTIPLIERS))
        {
            let w = u64::from_le_bytes(word.try_into().expect("8-byte chunk"));
            *lane = (*lane ^ w).wrapping_mul(k).rotate_left(29);
        }
    }

    /// Takes in the next bytes of the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.tail_len > 0 {
            let have = self.tail_len as usize;
            let take = (STRIPE_SIZE - have).min(data.len());
            self.tail[have..have + take].copy_from_slice(&data[..take]);
            self.tail_len += take as u8;
            data = &data[take..];
            if (self.tail_len as usize) < STRIPE_SIZE {
                return;
            }
            let tail = self.tail;
            self.stripe(&tail);
            self.tail_len = 0;
        }
        let mut stripes = data.chunks_exact(STRIPE_SIZE);
        for s in &mut stripes {
            self.stripe(s);
        }
        let rest = stripes.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len() as u8;
    }

    /// The digest of everything taken in so far (`len` bytes).
    pub fn value(&self, len: u64) -> u64 {
        let mut h = splitmix(len);
        for (i, lane) in self.lanes.iter().enumerate() {
            h = splitmix(h ^ lane.rotate_left(i as u32 * 16));
        }
        for &b in &self.tail[..self.tail_len as usize] {
            h = splitmix(h ^ u64::from(b));
        }
        h
    }
}

/// One direction of a connection as one side saw it: how many bytes, their
/// digest, and a checkpoint every [`MARK_INTERVAL`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// Bytes in the direction.
    pub len: u64,
    digest: Digest,
    /// `marks[i]` is the digest of the first `(i + 1) * MARK_INTERVAL` bytes.
    pub marks: Vec<u64>,
}

impl Flow {
    /// Takes in the next bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let to_mark = MARK_INTERVAL - self.len % MARK_INTERVAL;
            let take = (data.len() as u64).min(to_mark) as usize;
            self.digest.update(&data[..take]);
            self.len += take as u64;
            data = &data[take..];
            if self.len.is_multiple_of(MARK_INTERVAL) {
                self.marks.push(self.digest.value(self.len));
            }
        }
    }

    /// The digest of all `len` bytes.
    pub fn value(&self) -> u64 {
        self.digest.value(self.len)
    }

    /// Whether `read` could be a prefix of this flow: no longer, the same at
    /// every checkpoint both have, and the same digest if equally long.
    /// `Err` gives the offset from which they are known to differ.
    pub fn explains(&self, read: &Flow) -> Result<(), u64> {
        if read.len > self.len {
            return Err(self.len);
        }
        if let Some(i) = self.marks.iter().zip(&read.marks).position(|(a, b)| a != b) {
            return Err(i as u64 * MARK_INTERVAL);
        }
        if read.len == self.len && read.value() != self.value() {
            return Err(read.marks.len() as u64 * MARK_INTERVAL);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow_of(chunks: &[&[u8]]) -> Flow {
        let mut f = Flow::default();
        for c in chunks {
            f.update(c);
        }
        f
    }

    #[test]
    fn the_digest_ignores_how_the_stream_was_cut() {
        // A writer's 7 + 100 + 3 bytes and a reader's 50 + 60 must agree,
        // or the oracle would flag every differently segmented delivery.
        let data: Vec<u8> = (0..110u32).map(|i| (i * 7 + 3) as u8).collect();
        let a = flow_of(&[&data[..7], &data[7..107], &data[107..]]);
        let b = flow_of(&[&data[..50], &data[50..]]);
        assert_eq!(a.value(), b.value());
        assert_eq!(a.explains(&b), Ok(()));
    }

    #[test]
    fn one_flipped_byte_swapped_bytes_and_a_short_read_are_caught() {
        // Each is a delivery bug the pattern check could not see in
        // arbitrary application bytes; the digest must.
        let data: Vec<u8> = (0..(3 * MARK_INTERVAL as usize + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        let sent = flow_of(&[&data]);
        let mut flipped = data.clone();
        flipped[70_000] ^= 0x10;
        assert_eq!(sent.explains(&flow_of(&[&flipped])), Err(MARK_INTERVAL));
        let mut swapped = data.clone();
        swapped.swap(5, 6);
        assert_eq!(sent.explains(&flow_of(&[&swapped])), Err(0));
        // A reader that stopped after two whole intervals is a prefix.
        let prefix = flow_of(&[&data[..2 * MARK_INTERVAL as usize + 5]]);
        assert_eq!(sent.explains(&prefix), Ok(()));
        // Reading more than was written is never explained.
        assert_eq!(prefix.explains(&sent), Err(prefix.len));
        // Same length, last bytes differ: the final digest catches it.
        let mut last = data.clone();
        *last.last_mut().unwrap() ^= 1;
        assert!(sent.explains(&flow_of(&[&last])).is_err());
    }
}
