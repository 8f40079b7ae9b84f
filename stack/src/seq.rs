//! Sequence numbers: 32-bit serial arithmetic (RFC 9293 §3.4, RFC 1982).
//!
//! `SeqNum` implements `PartialOrd`, not `Ord`: two numbers exactly 2^31 apart
//! are not comparable, and the state machine must never compare raw `u32`s.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// The signed distance from timestamp `earlier` to `later`, positive when
/// `later` is newer: RFC 7323 §5.3 compares TSvals "as 32-bit unsigned
/// integers in a modular 32-bit space" (serial arithmetic, RFC 1982), as
/// sequence numbers are. Every TSval comparison (PAWS, TS.Recent updates,
/// RFC 6191's TIME-WAIT test) goes through here.
#[inline]
pub fn ts_diff(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

/// A TCP sequence number. Arithmetic wraps modulo 2^32; comparison is serial
/// (RFC 9293 §3.4: "the comparison ... must use modulo 2**32 arithmetic").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The signed distance from `other` to `self`: positive when `self` is after.
    #[inline]
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Bytes from `earlier` up to `self`, assuming `earlier <= self`.
    #[inline]
    pub fn since(self, earlier: SeqNum) -> u32 {
        debug_assert!(earlier <= self, "{earlier:?} is not <= {self:?}");
        self.0.wrapping_sub(earlier.0)
    }

    /// `start <= self < end`, in serial arithmetic (RFC 9293 §3.4 acceptability test form).
    #[inline]
    pub fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// The later of the two in serial arithmetic (RFC 1982); only meaningful
    /// within 2^31 of each other.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.diff(other) >= 0 { self } else { other }
    }

    /// The earlier of the two in serial arithmetic (RFC 1982); only meaningful
    /// within 2^31 of each other.
    #[inline]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.diff(other) <= 0 { self } else { other }
    }
}

impl PartialOrd for SeqNum {
    #[inline]
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        let d = self.0.wrapping_sub(other.0);
        if d == 0 {
            Some(Ordering::Equal)
        } else if d == 0x8000_0000 {
            None
        } else if (d as i32) > 0 {
            Some(Ordering::Greater)
        } else {
            Some(Ordering::Less)
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNum {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_across_the_wrap() {
        // A TSval just past 2^32 is newer than one just before it (RFC 7323
        // §5.3): a raw u32 comparison would call it 4 billion ms older and
        // PAWS would drop every segment after the TS clock wraps.
        assert_eq!(ts_diff(5, u32::MAX - 5), 11);
        assert!(ts_diff(u32::MAX - 5, 5) < 0);
        assert!(
            ts_diff(0x8000_0001, 1) < 0,
            "more than 2^31 ahead reads as older"
        );
    }

    #[test]
    fn comparison_holds_across_the_wrap() {
        // 10 bytes past 2^32 - 5 is 5: serial order must still call it later.
        let before_wrap = SeqNum(u32::MAX - 4);
        let after_wrap = before_wrap + 10;
        assert_eq!(after_wrap, SeqNum(5));
        assert!(after_wrap > before_wrap);
        assert!(before_wrap < after_wrap);
        assert_eq!(after_wrap.since(before_wrap), 10);
        assert_eq!(after_wrap.diff(before_wrap), 10);
        assert_eq!(before_wrap.diff(after_wrap), -10);
    }

    #[test]
    fn numbers_half_the_space_apart_are_incomparable() {
        // RFC 1982 §3.2: the comparison is undefined at exactly 2^31 distance.
        let a = SeqNum(7);
        let b = a + 0x8000_0000;
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        // One less than half the space is still "after".
        assert!(a + 0x7fff_ffff > a);
    }

    #[test]
    fn window_membership_wraps() {
        // A 100-byte window starting 50 bytes before the wrap covers 0..50 after it.
        let start = SeqNum(u32::MAX - 49);
        assert!(start.in_window(start, 100));
        assert!(SeqNum(0).in_window(start, 100));
        assert!(SeqNum(49).in_window(start, 100));
        assert!(!SeqNum(50).in_window(start, 100));
        assert!(!(start - 1).in_window(start, 100));
        assert!(!start.in_window(start, 0));
    }

    #[test]
    fn min_and_max_follow_serial_order() {
        let a = SeqNum(u32::MAX);
        let b = SeqNum(3);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
