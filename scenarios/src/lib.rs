//! scenarios: joins `sim` and `stack`.
//!
//! - [`host`]: a TCP host on the engine: an endpoint plus an application.
//! - [`app`]: the reactive `Application` trait, its context, and the timed schedule.
//! - [`apps`]: ready applications: bulk, echo, request/response, churn.
//! - [`digest`]: running digests of what each side wrote and read.
//! - [`catalogue`]: the classic TCP cases as named, documented scenarios, by
//!   family (handshake, close, reset, TIME-WAIT, sequence space, attacks,
//!   transfer), and the public `Scenario` builder and `Catalogue`.
//! - [`file`]: scenarios written in TOML (`tcpsim run FILE.toml`).
//! - [`run`]: running a scenario, the outcome, its verdict.
//! - [`oracle`]: the invariants every run must satisfy.
//! - [`analysis`]: decoding TCP segments back out of the engine trace.
//! - [`render`]: ladder, JSON lines, pcap, `ss`-style table.
//! - [`script`]: packetdrill scripts run against the stack in virtual time.
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

pub mod analysis;
pub mod app;
pub mod apps;
pub mod catalogue;
pub mod cli;
pub mod digest;
pub mod explain;
pub mod file;
pub mod host;
pub mod oracle;
pub mod render;
pub mod run;
pub mod script;
