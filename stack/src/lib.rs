//! stack: a sans-IO TCP over IPv4 (RFC 9293 and its updates).
//!
//! - [`seq`]: sequence numbers with serial comparison (RFC 9293 §3.4).
//! - [`time`]: `Instant`/`Duration` passed in by the driver; the stack reads no clock.

pub mod seq;
pub mod time;

pub use seq::SeqNum;
pub use time::{Duration, Instant};
pub mod cc;
