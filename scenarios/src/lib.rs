//! scenarios: joins `sim` and `stack`.
//!
//! - [`host`]: a TCP host on the engine: an endpoint plus an application.
//! - [`app`]: the reactive `Application` trait, its context, and the timed schedule.
//! - [`apps`]: ready applications: bulk, echo, request/response, churn.
//! - [`digest`]: running digests of what each side wrote and read.
//! - [`catalogue`]: the classic TCP cases as named, documented scenarios, by
//!   family (handshake, close, reset, TIME-WAIT, sequence space, attacks,
//!   transfer), and the public `Scenario` builder and `Catalogue`.
//! - [`mod@file`]: scenarios written in TOML (`tcpsim run FILE.toml`).
//! - [`generate`]: random workloads, the generated family `random` for sweeps.
//! - [`fuzz`]: seeded mutation fuzzing of the wire layer and of endpoint pairs (`tcpsim fuzz`).
//! - [`run`]: running a scenario, the outcome, its verdict.
//! - [`oracle`]: the invariants every run must satisfy.
//! - [`analysis`]: decoding TCP segments back out of the engine trace.
//! - [`metrics`]: TCP internals over time (cwnd, SRTT, RTO...) per connection.
//! - [`plot`]: SVG pictures of a connection: time-sequence graph, cwnd, RTT, throughput.
//! - [`render`]: ladder, JSON lines, pcap, `ss`-style table.
//! - [`script`]: packetdrill scripts run against the stack in virtual time.
//! - [`sweep`]: scenarios x seeds x fault profiles, coverage, shards.
//! - [`capsule`]: a failure as a file: replay, shrink (delta debugging over
//!   the recorded fault decisions), diff of two runs.
//! - [`explain`]: RFC references, `tcpsim explain`, did-you-mean for names.
//! - [`cli`]: the `tcpsim` command.
//!
//! Run a catalogue scenario at a seed, check its verdict, and read its
//! trace as an RFC 9293-style ladder or as JSON lines:
//!
//! ```
//! use scenarios::{catalogue, render};
//!
//! let outcome = catalogue::find("lost-final-ack").unwrap().run(1).unwrap();
//! assert!(outcome.passed(), "{}", outcome.verdict());
//! let ladder = render::ladder(&outcome, render::Numbering::Relative);
//! assert!(ladder.contains("LAST-ACK (retransmission)"));
//! let json = render::json_lines(&outcome);
//! assert!(json.lines().next().unwrap().contains("\"schema_version\":1"));
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod apps;
pub mod bench;
pub mod capsule;
pub mod catalogue;
pub mod cli;
pub mod digest;
pub mod explain;
pub mod file;
pub mod fuzz;
pub mod generate;
pub mod host;
pub mod metrics;
pub mod oracle;
pub mod plot;
pub mod recovery_compare;
pub mod render;
pub mod run;
pub mod script;
pub mod sweep;
