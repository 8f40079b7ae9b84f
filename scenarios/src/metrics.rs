//! TCP internals over time: per connection, a time series of the stack's
//! [`TcpInfo`] (cwnd, ssthresh, SRTT, RTTVAR, RTO, bytes in flight,
//! windows, state...), one row each time any field changed.
//!
//! How it samples: a host with recording on ([`crate::host::Host::record_metrics`],
//! or [`crate::run::RunOptions::metrics`] for a whole run) takes a snapshot,
//! after each step, of every connection the step touched (the host's
//! per-step `dirty` set: a packet for it arrived, it sent, the application
//! read or wrote), and keeps it only if it differs from that connection's
//! previous row. Every change a step makes is seen at the end of that step;
//! two changes inside one step (an ACK that ends recovery and grows cwnd)
//! show as one row. When the stack releases a connection (CLOSED) no
//! snapshot exists any more: its last row repeats the previous one with
//! state CLOSED, at the time it closed.
//!
//! What it costs: nothing when off. The host checks one `Option` per
//! touched connection per step; the snapshot is taken only when on.
//!
//! Output: [`json_lines`] (`tcpsim run NAME --format metrics`, one object
//! per row) and [`csv`] (`--format metrics-csv`, a header line then one
//! line per row) carry the same columns, in the order of [`COLUMNS`].

use crate::app::Conn;
use crate::run::Outcome;
use sim::Time;
use stack::{State, TcpInfo};
use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// One snapshot and when it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When the snapshot was taken (when a value changed).
    pub time: Time,
    /// The connection's `tcp_info`-like snapshot.
    pub info: TcpInfo,
}

/// One connection's series, as one host saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The host's connection number.
    pub conn: Conn,
    /// The host's address and port.
    pub local: SocketAddrV4,
    /// The peer's address and port.
    pub remote: SocketAddrV4,
    /// Rows in time order; consecutive rows always differ.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The last row, if any.
    pub fn last(&self) -> Option<&Sample> {
        self.samples.last()
    }
}

/// A host's recorder: one series per connection, by connection number.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Index: the connection number; `None` for a connection never sampled.
    series: Vec<Option<Series>>,
}

impl Recorder {
    /// Keeps `info` as `conn`'s next row at `time` if anything changed.
    pub(crate) fn sample(
        &mut self,
        time: Time,
        conn: Conn,
        addresses: (SocketAddrV4, SocketAddrV4),
        info: TcpInfo,
    ) {
        if self.series.len() <= conn.0 {
            self.series.resize(conn.0 + 1, None);
        }
        let series = self.series[conn.0].get_or_insert_with(|| Series {
            conn,
            local: addresses.0,
            remote: addresses.1,
            samples: Vec::new(),
        });
        if series.samples.last().is_some_and(|s| s.info == info) {
            return;
        }
        series.samples.push(Sample { time, info });
    }

    /// `conn` reached CLOSED and is gone from the stack: its last row again,
    /// with state CLOSED (see the module docs).
    pub(crate) fn closed(&mut self, time: Time, conn: Conn) {
        let Some(Some(series)) = self.series.get_mut(conn.0) else {
            return;
        };
        let Some(&last) = series.samples.last() else {
            return;
        };
        if last.info.state == State::Closed {
            return;
        }
        let mut info = last.info;
        info.state = State::Closed;
        series.samples.push(Sample { time, info });
    }

    /// Every connection's series, by connection number.
    pub fn series(&self) -> impl Iterator<Item = &Series> {
        self.series.iter().flatten()
    }

    /// The series of connection `conn`, if it was ever sampled.
    pub fn of(&self, conn: Conn) -> Option<&Series> {
        self.series.get(conn.0).and_then(Option::as_ref)
    }
}

/// One cell of a row: a number, a string, or nothing (JSON `null`, an
/// empty CSV field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// An unsigned number.
    Int(u64),
    /// A string (a host name, an address, a state name...).
    Text(String),
    /// No value (JSON `null`, an empty CSV field).
    None,
}

/// The columns of every row, in order, with what each holds. Times are
/// microseconds (as Linux's `tcp_info`), sizes bytes; sequence numbers are
/// relative to the ISN of their direction (as the ladder and Wireshark
/// show them), with `iss`/`irs` absolute so the raw numbers can be had.
pub const COLUMNS: &[(&str, &str)] = &[
    ("time_ns", "virtual time of the row, nanoseconds"),
    ("host", "the host whose connection this is"),
    ("conn", "the host's connection number"),
    ("local", "local address:port"),
    ("remote", "remote address:port"),
    ("state", "RFC 9293 state"),
    (
        "ca_state",
        "open, disorder, recovery or loss (Linux tcpi_ca_state)",
    ),
    ("cc", "congestion controller"),
    ("cwnd", "congestion window, bytes"),
    (
        "ssthresh",
        "slow-start threshold, bytes (empty until first set)",
    ),
    ("bytes_in_flight", "RFC 5681 FlightSize, bytes"),
    ("sacked_bytes", "bytes SACKed above SND.UNA"),
    ("pipe", "RFC 6675 pipe during SACK recovery, bytes"),
    (
        "srtt_us",
        "smoothed RTT, microseconds (empty before a sample)",
    ),
    ("rttvar_us", "RTT variation, microseconds"),
    (
        "rto_us",
        "retransmission timeout with backoff, microseconds",
    ),
    ("backoff", "RTO doublings in force"),
    ("retransmits", "RTO expiries in a row without progress"),
    ("ato_us", "delayed-ACK timeout, microseconds"),
    ("snd_mss", "send MSS, bytes"),
    ("rcv_mss", "peer's segment size as seen, bytes"),
    ("snd_wnd", "peer's offered window, bytes"),
    ("rcv_wnd", "window we advertised, bytes"),
    ("rcv_space", "free receive buffer, bytes"),
    ("probes", "unanswered zero-window probes"),
    ("iss", "initial send sequence number, absolute"),
    ("irs", "initial receive sequence number, absolute"),
    ("snd_una", "SND.UNA, relative"),
    ("snd_nxt", "SND.NXT, relative"),
    ("snd_max", "SND.MAX, relative"),
    ("rcv_nxt", "RCV.NXT, relative"),
    ("total_retrans", "segments retransmitted"),
    ("bytes_retrans", "payload bytes retransmitted"),
    ("timeouts", "retransmission timer expiries"),
    ("fast_retransmits", "fast retransmits"),
    ("duplicate_acks", "duplicate ACKs received"),
    ("segs_out", "segments sent"),
    ("segs_in", "segments received"),
    ("bytes_sent", "payload bytes sent, retransmissions included"),
    ("bytes_acked", "payload bytes acknowledged by the peer"),
    ("bytes_received", "payload bytes received in order"),
];

/// The cells of one row, in the order of [`COLUMNS`].
pub fn row(host: &str, series: &Series, sample: &Sample) -> Vec<Cell> {
    let i = &sample.info;
    let int = |v: u64| Cell::Int(v);
    let us = |d: stack::Duration| Cell::Int(d.as_micros());
    let relative_send = |s: stack::SeqNum| Cell::Int(u64::from(s.since(i.iss)));
    let relative_receive = |s: stack::SeqNum| {
        if i.irs == stack::SeqNum(0) && i.rcv_nxt == stack::SeqNum(0) {
            Cell::None // no SYN from the peer yet
        } else {
            Cell::Int(u64::from(s.since(i.irs)))
        }
    };
    vec![
        int(sample.time.as_nanos()),
        Cell::Text(host.to_string()),
        int(series.conn.0 as u64),
        Cell::Text(series.local.to_string()),
        Cell::Text(series.remote.to_string()),
        Cell::Text(i.state.name().to_string()),
        Cell::Text(i.ca_state.name().to_string()),
        Cell::Text(i.congestion_control.to_string()),
        int(u64::from(i.snd_cwnd)),
        i.ssthresh_set().map_or(Cell::None, |v| int(u64::from(v))),
        int(u64::from(i.bytes_in_flight)),
        int(u64::from(i.sacked_bytes)),
        i.pipe.map_or(Cell::None, |v| int(u64::from(v))),
        i.srtt.map_or(Cell::None, us),
        us(i.rttvar),
        us(i.rto),
        int(u64::from(i.backoff)),
        int(u64::from(i.retransmits)),
        us(i.ato),
        int(u64::from(i.snd_mss)),
        int(u64::from(i.rcv_mss)),
        int(u64::from(i.snd_wnd)),
        int(u64::from(i.rcv_wnd)),
        int(u64::from(i.rcv_space)),
        int(u64::from(i.probes)),
        int(u64::from(i.iss.0)),
        int(u64::from(i.irs.0)),
        relative_send(i.snd_una),
        relative_send(i.snd_nxt),
        relative_send(i.snd_max),
        relative_receive(i.rcv_nxt),
        int(i.total_retrans),
        int(i.bytes_retrans),
        int(i.timeouts),
        int(i.fast_retransmits),
        int(i.duplicate_acks),
        int(i.segs_out),
        int(i.segs_in),
        int(i.bytes_sent),
        int(i.bytes_acked),
        int(i.bytes_received),
    ]
}

/// Every row of every host with recording on, in time order (rows at one
/// time in host order, then connection order).
fn rows(outcome: &Outcome) -> Vec<(Time, usize, Conn, &Series, &Sample)> {
    let mut rows = Vec::new();
    for h in 0..outcome.host_count() {
        let Some(recorder) = outcome.host(h).metrics() else {
            continue;
        };
        for series in recorder.series() {
            for sample in &series.samples {
                rows.push((sample.time, h, series.conn, series, sample));
            }
        }
    }
    rows.sort_by_key(|&(time, host, conn, _, _)| (time, host, conn));
    rows
}

/// One JSON object per row; keys are [`COLUMNS`], values numbers, strings
/// or `null`.
pub fn json_lines(outcome: &Outcome) -> String {
    let mut out = String::new();
    for (_, h, _, series, sample) in rows(outcome) {
        let cells = row(&outcome.host(h).name, series, sample);
        out.push('{');
        for (k, ((name, _), cell)) in COLUMNS.iter().zip(&cells).enumerate() {
            if k > 0 {
                out.push(',');
            }
            write!(out, "\"{name}\":").ok();
            match cell {
                Cell::Int(v) => write!(out, "{v}").ok(),
                Cell::Text(t) => write!(out, "{}", serde_json::Value::from(t.as_str())).ok(),
                Cell::None => write!(out, "null").ok(),
            };
        }
        out.push_str("}\n");
    }
    out
}

/// CSV (RFC 4180): a header of [`COLUMNS`], then one line per row.
pub fn csv(outcome: &Outcome) -> String {
    let mut out = String::new();
    let header: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    writeln!(out, "{}", header.join(",")).ok();
    for (_, h, _, series, sample) in rows(outcome) {
        let cells = row(&outcome.host(h).name, series, sample);
        let fields: Vec<String> = cells
            .iter()
            .map(|cell| match cell {
                Cell::Int(v) => v.to_string(),
                Cell::Text(t) if t.contains([',', '"', '\n']) => {
                    format!("\"{}\"", t.replace('"', "\"\""))
                }
                Cell::Text(t) => t.clone(),
                Cell::None => String::new(),
            })
            .collect();
        writeln!(out, "{}", fields.join(",")).ok();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_cell() {
        // The JSON keys and CSV header come from COLUMNS and the values from
        // `row`: the two must stay the same length or every column after a
        // mismatch would be mislabelled.
        let info = stack::Endpoint::new(
            std::net::Ipv4Addr::new(10, 0, 0, 1),
            stack::EndpointConfig::new([0; 16]),
        );
        let mut endpoint = info;
        let id = endpoint
            .connect(
                stack::Instant::ZERO,
                "10.0.0.2:80".parse().expect("an address"),
            )
            .expect("connect");
        let info = endpoint.info(id).expect("a connection");
        let series = Series {
            conn: Conn(0),
            local: "10.0.0.1:1".parse().expect("an address"),
            remote: "10.0.0.2:80".parse().expect("an address"),
            samples: vec![],
        };
        let sample = Sample {
            time: Time::ZERO,
            info,
        };
        assert_eq!(row("h", &series, &sample).len(), COLUMNS.len());
    }
}
