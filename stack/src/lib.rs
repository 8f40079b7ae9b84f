//! stack: a sans-IO TCP over IPv4 (RFC 9293 and its updates). No clock, no
//! randomness, no I/O: every entry point takes `now`, and the ISN secret
//! comes from the caller.
//!
//! - [`seq`]: sequence numbers with serial comparison (RFC 9293 §3.4).
//! - [`time`]: `Instant`/`Duration` passed in by the driver.
//! - [`wire`]: IPv4 + TCP parse/emit, options, checksums; malformed bytes are errors.
//! - [`info`]: a `tcp_info`-like snapshot of a connection (cwnd, SRTT, RTO...).
//! - [`endpoint`]: one host's TCP: socket API, demultiplexing, listeners, RSTs, ISNs.
//! - `conn`: a connection's TCB and RFC 9293 §3.10 event processing,
//!   with SACK (RFC 2018) and SACK-based loss recovery (RFC 6675); the
//!   loss-recovery state and where to add a recovery algorithm:
//!   `conn/recovery.rs`; `conn/ecn.rs` is ECN (RFC 3168 §6.1: negotiation,
//!   ECT on new data, the receiver's echo, the sender's once-per-window
//!   reduction).
//! - [`buffer`]: send ring buffer and out-of-order reassembly.
//! - [`rtt`]: RFC 6298 retransmission timeout.
//! - [`cc`]: congestion control trait and NewReno (RFC 5681, RFC 6582).
//! - [`config`]: settings with Linux-like defaults.
//! - [`types`]: states, events, errors, counters.
//! - `planted` (test-only, feature `planted-bugs`): fixed defects brought
//!   back on purpose, to prove the sweeps find them.
//!
//! Two endpoints driven by hand, with no network in between: the driver
//! moves each datagram `poll_transmit` produces into the other side's
//! `handle_packet`, and the three-way handshake completes (RFC 9293 §3.5).
//!
//! ```
//! use stack::{Endpoint, EndpointConfig, Instant, State};
//! use std::net::{Ipv4Addr, SocketAddrV4};
//!
//! let (a_ip, b_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
//! let mut a = Endpoint::new(a_ip, EndpointConfig::new([1; 16]));
//! let mut b = Endpoint::new(b_ip, EndpointConfig::new([2; 16]));
//! let listener = b.listen(80, 8).unwrap();
//! let now = Instant::ZERO;
//! let client = a.connect(now, SocketAddrV4::new(b_ip, 80)).unwrap();
//! // Moves what `from` has to send into `to`.
//! fn carry(from: &mut Endpoint, to: &mut Endpoint, now: Instant) {
//!     let mut datagram = Vec::new();
//!     while from.poll_transmit(now, &mut datagram) {
//!         to.handle_packet(now, &datagram).unwrap();
//!         datagram.clear();
//!     }
//! }
//! carry(&mut a, &mut b, now); // SYN
//! carry(&mut b, &mut a, now); // SYN-ACK
//! carry(&mut a, &mut b, now); // ACK
//! assert_eq!(a.state(client), Some(State::Established));
//! let server = b.accept(listener).unwrap();
//! assert_eq!(b.state(server), Some(State::Established));
//! ```

#![warn(missing_docs)]

/// Whether planted bug `$bug` ([`planted::Bug`]) is active on this thread:
/// always `false` (and compiled away) without the test-only `planted-bugs`
/// feature.
macro_rules! planted {
    ($bug:ident) => {{
        #[cfg(feature = "planted-bugs")]
        let active = crate::planted::active(crate::planted::Bug::$bug);
        #[cfg(not(feature = "planted-bugs"))]
        let active = false;
        active
    }};
}

pub mod buffer;
pub mod cc;

pub mod config;
mod conn;
pub mod endpoint;
pub mod fast_open;
pub mod icmp;
pub mod info;
#[cfg(feature = "planted-bugs")]
pub mod planted;
pub mod rtt;
pub mod seq;
pub mod syncookie;
pub mod time;
pub mod types;
pub mod wire;

/// Whether this build carries the test-only planted bugs (feature
/// `planted-bugs`, see `stack::planted`). Always `false` in a normal build
/// (checked by `tests/tests/release_has_no_planted_bugs.rs`); `true` in
/// `cargo test --workspace`, where Cargo unifies the tests crate's
/// dev-dependency feature into every crate it builds (the bugs are then
/// compiled but inactive unless planted).
pub const PLANTED_BUGS_COMPILED: bool = cfg!(feature = "planted-bugs");

pub use config::{
    EcnMode, EndpointConfig, FastOpenConfig, Keepalive, TCP_MIN_MSS, TcpConfig, linux_window_scale,
};
pub use conn::push::SendFlags;
pub use endpoint::{Endpoint, EndpointCounters, SocketInfo};
pub use fast_open::FastOpenCacheEntry;
pub use info::{CaState, TcpInfo};
pub use seq::SeqNum;
pub use time::{Duration, Instant};
pub use types::{Counters, Event, SendProgress, SocketError, SocketId, State};
