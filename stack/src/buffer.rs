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
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            bytes: VecDeque::new(),
            capacity,
        }
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
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

/// Out-of-order segments, keyed by stream offset, merged on insert.
#[derive(Debug, Default)]
pub struct Reassembly {
    segments: BTreeMap<u64, Vec<u8>>,
    stored_bytes: usize,
}

/// Most distinct holes tracked; beyond this new out-of-order segments are
/// dropped (they will be retransmitted). Linux bounds its queue by memory.
pub const REASSEMBLY_SEGMENTS_MAX: usize = 1024;

impl Reassembly {
    pub fn stored_bytes(&self) -> usize {
        self.stored_bytes
    }
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Stores `data` at `offset`, trimming overlap with what is stored.
    /// Returns false if it was dropped for lack of room.
    pub fn insert(&mut self, mut offset: u64, mut data: &[u8]) -> bool {
        // Trim against the segment that starts at or before `offset`.
        if let Some((&start, seg)) = self.segments.range(..=offset).next_back() {
            let end = start + seg.len() as u64;
            if end >= offset + data.len() as u64 {
                return true;
            }
            if end > offset {
                data = &data[(end - offset) as usize..];
                offset = end;
            }
        }
        // Insert pieces around the segments that start inside [offset, offset+len).
        while !data.is_empty() {
            let next = self
                .segments
                .range(offset..)
                .next()
                .map(|(&s, v)| (s, v.len()));
            let piece_len = match next {
                Some((start, _)) if start < offset + data.len() as u64 => (start - offset) as usize,
                _ => data.len(),
            };
            if piece_len > 0 {
                if self.segments.len() >= REASSEMBLY_SEGMENTS_MAX {
                    return false;
                }
                self.segments.insert(offset, data[..piece_len].to_vec());
                self.stored_bytes += piece_len;
            }
            // Skip over the overlapping stored segment.
            match next {
                Some((start, len)) if start < offset + data.len() as u64 => {
                    let skip_to = (start + len as u64).min(offset + data.len() as u64);
                    data = &data[(skip_to - offset) as usize..];
                    offset = skip_to;
                }
                _ => break,
            }
        }
        true
    }

    /// Removes and returns the segment starting exactly at `offset` if any,
    /// trimming any segment that starts before it.
    pub fn pop_at(&mut self, offset: u64) -> Option<Vec<u8>> {
        loop {
            let (&start, _) = self.segments.iter().next()?;
            if start > offset {
                return None;
            }
            let seg = self.segments.remove(&start)?;
            self.stored_bytes -= seg.len();
            let end = start + seg.len() as u64;
            if end <= offset {
                continue;
            }
            return Some(seg[(offset - start) as usize..].to_vec());
        }
    }

    /// The stored ranges as `[start, end)` offsets, merged, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (&s, v) in &self.segments {
            let e = s + v.len() as u64;
            match merged.last_mut() {
                Some(last) if last.1 >= s => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged.into_iter()
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
