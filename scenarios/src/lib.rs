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
