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
//!   with SACK (RFC 2018) and SACK-based loss recovery (RFC 6675).
//! - [`buffer`]: send ring buffer and out-of-order reassembly.
//! - [`rtt`]: RFC 6298 retransmission timeout.
//! - [`cc`]: congestion control trait and NewReno (RFC 5681, RFC 6582).
//! - [`config`]: settings with Linux-like defaults.
//! - [`types`]: states, events, errors, counters.

pub mod buffer;
pub mod cc;

pub mod config;
mod conn;
pub mod endpoint;
pub mod info;
pub mod rtt;
pub mod seq;
pub mod syncookie;
pub mod time;
pub mod types;
pub mod wire;

pub use config::{EndpointConfig, Keepalive, TCP_MIN_MSS, TcpConfig};
pub use endpoint::{Endpoint, EndpointCounters, SocketInfo};
pub use info::{CaState, TcpInfo};
pub use seq::SeqNum;
pub use time::{Duration, Instant};
pub use types::{Counters, Event, SocketError, SocketId, State};
