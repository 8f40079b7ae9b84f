//! Send and receive buffers.
//!
//! [`SendBuffer`] holds the bytes from SND.UNA on: sent-but-unacknowledged,
//! then not yet sent. [`Reassembly`] holds out-of-order data keyed by stream
//! offset (bytes since the peer's ISN + 1, as u64, so it never wraps) and is
//! bounded by the receive window it was accepted into.

use std::collections::{BTreeMap, VecDeque};

/// Bytes from SND.UNA onward. Ring buffer: the in-order path allocates
/// nothing once the buffer has grown to its working size.
#[derive(Debug)]
pub struct SendBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    /// An empty buffer that holds at most `capacity` bytes (the socket's send
    /// buffer size).
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            bytes: VecDeque::new(),
            capacity,
        }
    }
    /// Bytes held: sent but unacknowledged, then not yet sent.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether no byte is held (everything written has been acknowledged).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// Room left for the application to write, in bytes.
    pub fn free(&self) -> usize {
        self.capacity - self.bytes.len()
    }
    /// Appends as much of `data` as fits; returns how much.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.bytes.extend(&data[..n]);
        n
    }
    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
    }
    /// Copies `len` bytes starting `offset` bytes past SND.UNA into `out`.
    pub fn copy_to(&self, offset: usize, len: usize, out: &mut Vec<u8>) {
        let (a, b) = self.bytes.as_slices();
        let end = offset + len;
        if offset < a.len() {
            out.extend_from_slice(&a[offset..end.min(a.len())]);
        }
        if end > a.len() {
            let from = offset.saturating_sub(a.len());
            out.extend_from_slice(&b[from..end - a.len()]);
        }
    }
}

/// Out-of-order data, keyed by stream offset. Each entry is a maximal
/// contiguous block: an insert merges with the blocks it touches or abuts,
/// so the entries are exactly the blocks a SACK option reports (RFC 2018 §3)
/// and finding the block around an offset is one map lookup.
#[derive(Debug, Default)]
pub struct Reassembly {
    blocks: BTreeMap<u64, Vec<u8>>,
    stored_bytes: usize,
}

/// Most distinct blocks (holes) tracked; beyond this, data that would open
/// a new block is dropped (it will be retransmitted). Linux bounds its queue
/// by memory.
pub const REASSEMBLY_SEGMENTS_MAX: usize = 1024;

impl Reassembly {
    /// Bytes held across all blocks.
    pub fn stored_bytes(&self) -> usize {
        self.stored_bytes
    }
    /// Whether nothing is held out of order (no hole to fill).
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Stores `data` at `offset`, keeping bytes already stored and merging
    /// with neighbouring blocks. Returns false if it was dropped for lack of room.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> bool {
        if data.is_empty() {
            return true;
        }
        let end = offset + data.len() as u64;
        // The block starting at or before `offset`, if it reaches `offset`.
        let left = self
            .blocks
            .range(..=offset)
            .next_back()
            .map(|(&s, v)| (s, s + v.len() as u64))
            .filter(|&(_, e)| e >= offset);
        if left.is_some_and(|(_, e)| e >= end) {
            return true;
        }
        let touches_right = self.blocks.range(offset..=end).next().is_some();
        if left.is_none() && !touches_right && self.blocks.len() >= REASSEMBLY_SEGMENTS_MAX {
            return false;
        }
        let (start, mut block) = match left {
            Some((s, _)) => (s, self.blocks.remove(&s).unwrap_or_default()),
            None => (offset, Vec::with_capacity(data.len())),
        };
        // Walk right from the end of what is assembled so far: new bytes fill
        // the gaps, stored blocks that start within reach are absorbed whole.
        let mut cursor = start + block.len() as u64;
        while cursor <= end {
            let next = self.blocks.range(cursor..=end).next().map(|(&s, _)| s);
            let gap_end = next.unwrap_or(end);
            if gap_end > cursor {
                let from = (cursor - offset) as usize;
                let to = (gap_end - offset) as usize;
                block.extend_from_slice(&data[from..to]);
                self.stored_bytes += to - from;
            }
            let Some(s) = next else { break };
            let absorbed = self.blocks.remove(&s).unwrap_or_default();
            block.extend_from_slice(&absorbed);
            cursor = s + absorbed.len() as u64;
        }
        self.blocks.insert(start, block);
        true
    }

    /// Removes and returns the data from `offset` on if a block covers
    /// `offset`, discarding anything stored before it.
    pub fn pop_at(&mut self, offset: u64) -> Option<Vec<u8>> {
        loop {
            let (&start, _) = self.blocks.iter().next()?;
            if start > offset {
                return None;
            }
            let block = self.blocks.remove(&start)?;
            self.stored_bytes -= block.len();
            let end = start + block.len() as u64;
            if end <= offset {
                continue;
            }
            if start == offset {
                return Some(block);
            }
            return Some(block[(offset - start) as usize..].to_vec());
        }
    }

    /// The stored blocks as `[start, end)` offsets, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks.iter().map(|(&s, v)| (s, s + v.len() as u64))
    }

    /// The block holding the byte at `offset`, as `[start, end)`.
    pub fn block_containing(&self, offset: u64) -> Option<(u64, u64)> {
        self.blocks
            .range(..=offset)
            .next_back()
            .map(|(&s, v)| (s, s + v.len() as u64))
            .filter(|&(_, e)| e > offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_segments_reassemble_to_the_original_stream() {
        // Pieces arriving out of order and overlapping must give each byte once.
        let stream: Vec<u8> = (0..100u8).collect();
        let mut r = Reassembly::default();
        assert!(r.insert(50, &stream[50..80]));
        assert!(r.insert(10, &stream[10..60]));
        assert!(r.insert(70, &stream[70..100]));
        assert!(r.insert(5, &stream[5..8]));
        let mut out = Vec::new();
        let mut offset = 10;
        while let Some(seg) = r.pop_at(offset) {
            offset += seg.len() as u64;
            out.extend(seg);
        }
        assert_eq!(out, &stream[10..100]);
        // The piece at 5..8 lies before the delivery point: it was discarded, not kept.
        assert!(r.is_empty());
        assert_eq!(r.stored_bytes(), 0);
    }

    #[test]
    fn blocks_merge_when_a_segment_bridges_or_abuts_them() {
        // Entries are maximal blocks (what a SACK option reports): a piece
        // filling the gap between two blocks leaves one block, and a piece
        // that only touches a block's edge extends it.
        let stream: Vec<u8> = (0..100u8).collect();
        let mut r = Reassembly::default();
        assert!(r.insert(10, &stream[10..20]));
        assert!(r.insert(30, &stream[30..40]));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(10, 20), (30, 40)]);
        assert!(r.insert(40, &stream[40..45]));
        assert_eq!(r.block_containing(44), Some((30, 45)));
        assert_eq!(r.block_containing(45), None);
        assert!(r.insert(15, &stream[15..35]));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(10, 45)]);
        assert_eq!(r.stored_bytes(), 35);
        assert_eq!(r.pop_at(10).unwrap(), &stream[10..45]);
    }

    proptest::proptest! {
        #[test]
        fn reassembly_matches_a_byte_map(pieces in proptest::collection::vec((0u64..200, 1usize..40), 1..30)) {
            // Whatever order and overlap pieces arrive in, the stored blocks
            // are exactly the maximal runs of bytes received, each byte once.
            let stream: Vec<u8> = (0..255u8).collect();
            let mut r = Reassembly::default();
            let mut have = [false; 240];
            for &(offset, len) in &pieces {
                let o = offset as usize;
                proptest::prop_assert!(r.insert(offset, &stream[o..o + len]));
                have[o..o + len].iter_mut().for_each(|b| *b = true);
            }
            let mut runs = Vec::new();
            let mut i = 0;
            while i < have.len() {
                if have[i] {
                    let s = i;
                    while i < have.len() && have[i] { i += 1; }
                    runs.push((s as u64, i as u64));
                } else {
                    i += 1;
                }
            }
            proptest::prop_assert_eq!(r.ranges().collect::<Vec<_>>(), runs.clone());
            proptest::prop_assert_eq!(r.stored_bytes(), have.iter().filter(|&&b| b).count());
            for (s, e) in runs {
                proptest::prop_assert_eq!(r.block_containing(s), Some((s, e)));
                proptest::prop_assert_eq!(r.pop_at(s).unwrap(), &stream[s as usize..e as usize]);
            }
        }
    }

    #[test]
    fn send_buffer_copies_across_the_ring_seam() {
        // After consuming from the front the ring wraps; copies must still be exact.
        let mut b = SendBuffer::new(8);
        assert_eq!(b.push(&[1, 2, 3, 4, 5, 6]), 6);
        b.consume(4);
        assert_eq!(b.push(&[7, 8, 9, 10, 11, 12]), 6);
        let mut out = Vec::new();
        b.copy_to(1, 6, &mut out);
        assert_eq!(out, vec![6, 7, 8, 9, 10, 11]);
    }
}
