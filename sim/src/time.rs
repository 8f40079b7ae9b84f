//! Virtual time: integer nanoseconds from the start of a run. Nothing in the
//! engine reads a wall clock (clippy's `disallowed-methods` enforces it).

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// An instant of virtual time, in nanoseconds from zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// The latest representable instant (about 584 years in); used as "never".
    pub const MAX: Time = Time(u64::MAX);
    /// `ns` nanoseconds after the start.
    pub const fn from_nanos(ns: u64) -> Time {
        Time(ns)
    }
    /// `us` microseconds after the start (overflow panics in debug builds).
    pub const fn from_micros(us: u64) -> Time {
        Time(us * 1_000)
    }
    /// `ms` milliseconds after the start (overflow panics in debug builds).
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }
    /// `s` seconds after the start (overflow panics in debug builds).
    pub const fn from_secs(s: u64) -> Time {
        Time(s * 1_000_000_000)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Duration {
        Duration(ns)
    }
    /// `us` microseconds (overflow panics in debug builds).
    pub const fn from_micros(us: u64) -> Duration {
        Duration(us * 1_000)
    }
    /// `ms` milliseconds (overflow panics in debug builds).
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms * 1_000_000)
    }
    /// `s` seconds (overflow panics in debug builds).
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s * 1_000_000_000)
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, for reporting (rounded to the nearest `f64`).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}
impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, earlier: Time) -> Duration {
        self.saturating_since(earlier)
    }
}
impl Add for Duration {
    type Output = Duration;
    fn add(self, o: Duration) -> Duration {
        Duration(self.0.saturating_add(o.0))
    }
}

/// Seconds with microsecond precision: `5.000012s`.
fn write_seconds(f: &mut fmt::Formatter<'_>, ns: u64) -> fmt::Result {
    write!(
        f,
        "{}.{:06}s",
        ns / 1_000_000_000,
        (ns % 1_000_000_000) / 1_000
    )
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_seconds(f, self.0)
    }
}
impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_seconds(f, self.0)
    }
}
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_seconds(f, self.0)
    }
}
impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_seconds(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_in_seconds_with_microseconds() {
        // Logs and ladders print times this way; a wrong pad would misread 5.000012s as 5.12s.
        assert_eq!(Time::from_nanos(5_000_012_000).to_string(), "5.000012s");
        assert_eq!(Duration::from_millis(200).to_string(), "0.200000s");
        assert_eq!(Time::ZERO.to_string(), "0.000000s");
    }
}
