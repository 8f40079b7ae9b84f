//! TCP state coverage: which (state, event) pairs a sweep exercised.
//!
//! Gathered from what the hosts already record, without touching the
//! stack:
//!
//! - **sent** segments (`>SYN`, `>SYN-ACK`, `>ACK`, `>DATA`, `>FIN`,
//!   `>RST`, and `>RTX` for a retransmission of any kind) in the state the
//!   sender was in as it sent ([`crate::host::Host::departures`]);
//! - **received** segments (`<SYN` ... `<RST`) in the state the receiver
//!   was in *before* processing them: the host records the state after
//!   ([`crate::host::Host::arrivals`]), and a state change the segment
//!   caused is in the host's log at the next trace index, so walking those
//!   changes back gives the state it arrived in;
//! - **errors** reported to the application (`REFUSED`, `RESET`,
//!   `TIMEOUT`) in the state the connection was in when it ended.
//!
//! A segment's kind is its most telling flag: RST, then SYN-ACK, SYN,
//! FIN, then DATA (any payload), else a pure ACK.

use crate::analysis::SegmentEvent;
use crate::host::Record;
use crate::run::Outcome;
use serde::{Deserialize, Serialize};
use sim::EventKind;
use stack::{SocketError, State};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The event columns, in table order.
pub const EVENTS: [&str; 16] = [
    ">SYN", ">SYN-ACK", ">ACK", ">DATA", ">FIN", ">RST", ">RTX", "<SYN", "<SYN-ACK", "<ACK",
    "<DATA", "<FIN", "<RST", "REFUSED", "RESET", "TIMEOUT",
];

const SENT: usize = 0;
const RTX: usize = 6;
const RECEIVED: usize = 7;
const REFUSED: usize = 13;

/// Counts per (state, event): `counts[state][event]`, states in
/// [`State::ALL`] order, events in [`EVENTS`] order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The row labels: state names, in [`State::ALL`] order.
    pub states: Vec<String>,
    /// The column labels: event names, in [`EVENTS`] order.
    pub events: Vec<String>,
    /// `counts[state][event]`: how often the event was seen in the state.
    pub counts: Vec<Vec<u64>>,
}

impl Default for Coverage {
    fn default() -> Coverage {
        Coverage {
            states: State::ALL.iter().map(|s| s.name().to_string()).collect(),
            events: EVENTS.iter().map(|e| e.to_string()).collect(),
            counts: vec![vec![0; EVENTS.len()]; State::ALL.len()],
        }
    }
}

fn state_index(s: State) -> usize {
    State::ALL.iter().position(|&x| x == s).unwrap_or(0)
}

/// The segment kind's column offset: RST, SYN-ACK, SYN, FIN, DATA, ACK.
fn kind(seg: &SegmentEvent) -> usize {
    let f = seg.flags;
    if f.rst() {
        5
    } else if f.syn() && f.ack() {
        1
    } else if f.syn() {
        0
    } else if f.fin() {
        4
    } else if seg.payload_len > 0 {
        3
    } else {
        2
    }
}

impl Coverage {
    fn bump(&mut self, state: State, event: usize) {
        self.counts[state_index(state)][event] += 1;
    }

    /// Adds another coverage's counts to this one.
    pub fn add(&mut self, other: &Coverage) {
        for (row, other_row) in self.counts.iter_mut().zip(&other.counts) {
            for (c, o) in row.iter_mut().zip(other_row) {
                *c += o;
            }
        }
    }

    /// How many pairs were exercised at least once.
    pub fn exercised(&self) -> usize {
        self.counts.iter().flatten().filter(|&&c| c > 0).count()
    }

    /// The pairs never exercised, as `STATE EVENT`.
    pub fn never(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (s, row) in self.counts.iter().enumerate() {
            for (e, &c) in row.iter().enumerate() {
                if c == 0 {
                    out.push(format!("{} {}", self.states[s], self.events[e]));
                }
            }
        }
        out
    }

    /// The coverage of one run. `segments` is the run's decoded trace
    /// ([`crate::analysis::segments`]).
    pub fn of_run(outcome: &Outcome, segments: &[SegmentEvent]) -> Coverage {
        let mut cov = Coverage::default();
        let by_index: BTreeMap<usize, &SegmentEvent> =
            segments.iter().map(|s| (s.trace_index, s)).collect();
        for i in 0..outcome.host_count() {
            let host = outcome.host(i);
            for d in &host.departures {
                let (Some(state), Some(seg)) = (d.state, by_index.get(&(d.trace_index as usize)))
                else {
                    continue;
                };
                if seg.kind != EventKind::Send {
                    continue;
                }
                cov.bump(state, SENT + kind(seg));
                if seg.retransmission {
                    cov.bump(state, RTX);
                }
            }
            // State changes by the trace index they were recorded at.
            let mut changes: BTreeMap<u64, Vec<(State, State)>> = BTreeMap::new();
            for l in &host.log {
                if let Record::State { from, to, .. } = l.record {
                    changes.entry(l.trace_index).or_default().push((from, to));
                }
            }
            for a in &host.arrivals {
                let (Some(after), Some(seg)) = (a.state, by_index.get(&(a.trace_index as usize)))
                else {
                    continue;
                };
                // Changes made while handling this segment were logged at
                // the next trace index (the Deliver event is the last one
                // before the host runs); walk them back from `after`.
                let mut before = after;
                if let Some(list) = changes.get(&(a.trace_index + 1)) {
                    for &(from, to) in list.iter().rev() {
                        if to == before {
                            before = from;
                        }
                    }
                }
                cov.bump(before, RECEIVED + kind(seg));
            }
            let mut state: BTreeMap<stack::SocketId, (State, u64, State)> = BTreeMap::new();
            for l in &host.log {
                match l.record {
                    Record::State { conn, from, to } => {
                        state.insert(conn, (to, l.trace_index, from));
                    }
                    Record::Crash => state.clear(),
                    Record::Error { conn, error } => {
                        let column = match error {
                            SocketError::ConnectionRefused => REFUSED,
                            SocketError::ConnectionReset => REFUSED + 1,
                            SocketError::TimedOut => REFUSED + 2,
                            _ => continue,
                        };
                        // The state the connection was in as the error
                        // ended it (not the CLOSED it then entered).
                        let at = match state.get(&conn) {
                            Some(&(State::Closed, index, from)) if index + 1 >= l.trace_index => {
                                from
                            }
                            Some(&(to, _, _)) => to,
                            None => State::Closed,
                        };
                        cov.bump(at, column);
                    }
                    _ => {}
                }
            }
        }
        cov
    }

    /// The table: one row per state, one column per event; a count, or
    /// `.` for a pair never exercised. Then how many pairs were hit.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:<13}", "state");
        for e in &self.events {
            let _ = write!(out, "{:>9}", e);
        }
        out.push('\n');
        for (s, row) in self.counts.iter().enumerate() {
            let _ = write!(out, "{:<13}", self.states[s]);
            for &c in row {
                let cell = if c == 0 { ".".to_string() } else { compact(c) };
                let _ = write!(out, "{cell:>9}");
            }
            out.push('\n');
        }
        let total = self.states.len() * self.events.len();
        let _ = writeln!(
            out,
            "coverage: {} of {total} (state, event) pairs exercised, {} never",
            self.exercised(),
            total - self.exercised()
        );
        out
    }
}

/// 999, 12.3k, 4.5M: fits a table cell.
fn compact(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}
