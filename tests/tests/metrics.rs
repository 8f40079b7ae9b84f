//! TCP internals over time (`scenarios::metrics`) and the `tcp_info`-like
//! snapshot they are made of (`stack::Endpoint::info`): what a TCP
//! engineer reads off `ss -ti` at every change, checked against the trace
//! and against RFC 5681 and RFC 6298.

use scenarios::apps::{BulkSender, BulkSink};
use scenarios::catalogue::{self, CLIENT, PORT, SERVER};
use scenarios::host::Host;
use scenarios::metrics::{self, COLUMNS, Series};
use scenarios::run::{Outcome, RunOptions, Setup, execute};
use sim::topology::{self, Endpoint as Place};
use sim::{Duration, EventKind, LinkConfig, Time, World, WorldConfig};
use stack::{CaState, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

const METRICS: RunOptions = RunOptions { metrics: true };

fn client_series(o: &Outcome) -> &Series {
    o.host(0)
        .metrics()
        .expect("recording is on")
        .series()
        .next()
        .expect("the client's connection was sampled")
}

#[test]
fn lossy_bulk_cwnd_falls_at_the_first_fast_retransmit_and_ssthresh_is_set() {
    // RFC 5681 §3.2 / RFC 6582 §3.2: the first loss the sender repairs by
    // fast retransmit halves the window. The row where the retransmission
    // counter first moves must be the time the trace shows the client's
    // first retransmission, and there cwnd has fallen below the row
    // before's, ssthresh has gone from unset to max(FlightSize/2, 2·SMSS),
    // and the sender is in recovery.
    let o = catalogue::find("lossy-bulk")
        .expect("in the catalogue")
        .run_with(1, &METRICS)
        .expect("runs");
    assert!(o.passed(), "{}", o.verdict());
    let rows = &client_series(&o).samples;
    let at = rows
        .iter()
        .position(|r| r.info.total_retrans > 0)
        .expect("lossy-bulk retransmits");
    let (before, after) = (&rows[at - 1].info, &rows[at].info);
    let client = o.host_node(0);
    let first_retransmission = scenarios::analysis::segments(o.world.trace())
        .into_iter()
        .find(|s| s.node == client && s.kind == EventKind::Send && s.retransmission)
        .expect("the trace shows it too");
    assert_eq!(rows[at].time, first_retransmission.time);
    assert_eq!(after.fast_retransmits, 1, "a fast retransmit, not an RTO");
    assert_eq!(after.ca_state, CaState::Recovery);
    assert!(
        after.snd_cwnd < before.snd_cwnd,
        "cwnd {} -> {}",
        before.snd_cwnd,
        after.snd_cwnd
    );
    assert_eq!(before.ssthresh_set(), None, "no congestion signal before");
    // RFC 6675 §5 (4.2) with RFC 5681 eq. 4: limited-transmit segments do
    // not count in FlightSize, so it is capped at cwnd (duplicate ACKs
    // moved neither since the row before).
    let ssthresh = after.ssthresh_set().expect("set by the loss");
    let flight = before.bytes_in_flight.min(before.snd_cwnd);
    assert_eq!(ssthresh, (flight / 2).max(2 * after.snd_mss));
    assert_eq!(
        after.snd_cwnd, ssthresh,
        "NewReno: cwnd = ssthresh (+ inflation)"
    );
}

#[test]
fn the_rto_doubles_at_each_backoff_across_a_partition() {
    // RFC 6298 §5.5: each expiry of the retransmission timer doubles the
    // RTO. Across the 2 s partition of partition-during-bulk the sender
    // backs off several times; in every row the RTO is the row's base RTO
    // times 2^backoff, each expiry adds one to the timeout count, and the
    // first valid RTT sample after the repair ends the backoff (§5.7).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/files/partition-during-bulk.toml"
    );
    let scenario = scenarios::file::load(std::path::Path::new(path))
        .expect("the file loads")
        .scenario();
    let o = scenario.run_with(1, &METRICS).expect("runs");
    assert!(o.passed(), "{}", o.verdict());
    let rows = &client_series(&o).samples;
    let backoffs: Vec<_> = rows
        .windows(2)
        .filter(|w| w[1].info.backoff == w[0].info.backoff + 1)
        .map(|w| (&w[0].info, &w[1].info))
        .collect();
    assert!(backoffs.len() >= 3, "{} backoffs", backoffs.len());
    for (before, after) in &backoffs {
        assert_eq!(
            after.rto,
            before.rto.saturating_mul(2),
            "{before:?} -> {after:?}"
        );
        assert_eq!(after.timeouts, before.timeouts + 1);
        assert_eq!(after.ca_state, CaState::Loss);
        assert_eq!(
            after.snd_cwnd, after.snd_mss,
            "RFC 5681 §3.1: cwnd = 1 SMSS"
        );
    }
    let deepest = rows.iter().map(|r| r.info.backoff).max().unwrap_or(0);
    assert!(deepest >= 3, "backed off {deepest} times");
    assert_eq!(rows.last().map(|r| r.info.backoff), Some(0));
}

#[test]
fn the_library_snapshot_equals_the_last_row_mid_transfer() {
    // The series is the snapshot sampled at each change: stop a bulk
    // transfer in the middle, and `Endpoint::info` on each live connection
    // is exactly the last row recorded for it (no change is missed at the
    // end of a step, and the rows are the stack's own variables).
    let server_addr = SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT);
    let client = Host::new("client", CLIENT, [1; 16], TcpConfig::default())
        .app(BulkSender::new(server_addr, 4 << 20));
    let server =
        Host::new("server", SERVER, [2; 16], TcpConfig::default()).app(BulkSink::new(PORT));
    let link = LinkConfig::new(10_000_000, Duration::from_millis(10)).with_loss(0.01);
    let mut world = World::new(WorldConfig::new(3));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client.record_metrics()),
        Place::new("server", SERVER, server.record_metrics()),
        link.clone(),
        link,
    )
    .expect("topology");
    for node in [p.a, p.b] {
        let host = world.node::<Host>(node).expect("a host");
        let first = host.first_wake().expect("an application");
        world.wake_node_at(node, first, 0).expect("wakes");
    }
    world
        .run_until(Time::from_millis(1500))
        .expect("runs to mid-transfer");
    let mut compared = 0;
    for node in [p.a, p.b] {
        let host = world.node::<Host>(node).expect("a host");
        let recorder = host.metrics().expect("recording is on");
        for series in recorder.series() {
            let id = host.streams[series.conn.0].id.expect("live");
            let info = host.endpoint.info(id).expect("a live connection");
            assert!(info.bytes_acked < 4 << 20 && info.bytes_received < 4 << 20);
            assert_eq!(series.last().map(|s| s.info), Some(info), "{}", host.name);
            compared += 1;
        }
    }
    assert_eq!(compared, 2, "both ends were sampled");
    // And a listener is no connection.
    let server = world.node::<Host>(p.b).expect("a host");
    let listener = server
        .endpoint
        .sockets()
        .into_iter()
        .find(|s| s.state == State::Listen)
        .expect("the sink listens");
    assert_eq!(server.endpoint.info(listener.id), None);
}

#[test]
fn recording_changes_nothing_in_the_run_and_is_off_by_default() {
    // Taking snapshots only reads: lossy-bulk with recording on has the
    // same trace hash as without; without it, no host holds a recorder.
    let scenario = catalogue::find("lossy-bulk").expect("in the catalogue");
    let plain = scenario.run(5).expect("runs");
    let recorded = scenario.run_with(5, &METRICS).expect("runs");
    assert_eq!(plain.stats.trace_hash, recorded.stats.trace_hash);
    assert!((0..plain.host_count()).all(|h| plain.host(h).metrics().is_none()));
    assert!(recorded.host(1).metrics().is_some());
}

#[test]
fn rows_change_at_every_row_and_the_closed_row_ends_the_series() {
    // "A row only when a field changed": no two consecutive rows of a
    // series are equal, rows are in time order, and a connection that the
    // stack released ends on a CLOSED row.
    let o = catalogue::find("lossy-bulk")
        .expect("in the catalogue")
        .run_with(2, &METRICS)
        .expect("runs");
    for h in 0..o.host_count() {
        for series in o.host(h).metrics().expect("on").series() {
            for w in series.samples.windows(2) {
                assert_ne!(w[0].info, w[1].info);
                assert!(w[0].time <= w[1].time);
            }
            assert_eq!(series.last().map(|s| s.info.state), Some(State::Closed));
        }
    }
}

#[test]
fn json_lines_and_csv_carry_the_same_rows_and_columns() {
    // One object per row with every column as a key (jq-ready JSON), and a
    // CSV with the same header and the same number of lines; the cwnd
    // column of both agrees row by row.
    let o = catalogue::find("lossy-bulk")
        .expect("in the catalogue")
        .run_with(1, &METRICS)
        .expect("runs");
    let json = metrics::json_lines(&o);
    let csv = metrics::csv(&o);
    let mut csv_lines = csv.lines();
    let header: Vec<&str> = csv_lines.next().expect("a header").split(',').collect();
    let names: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
    assert_eq!(header, names);
    let cwnd_column = names.iter().position(|&n| n == "cwnd").expect("a column");
    let mut rows = 0;
    for (line, csv_line) in json.lines().zip(csv_lines.by_ref()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        let object = value.as_object().expect("an object");
        assert_eq!(object.keys().count(), names.len());
        let cells: Vec<&str> = csv_line.split(',').collect();
        assert_eq!(cells.len(), names.len());
        assert_eq!(object["cwnd"].to_string(), cells[cwnd_column]);
        rows += 1;
    }
    assert_eq!(csv_lines.next(), None);
    assert_eq!(rows, json.lines().count());
    assert!(rows > 100, "{rows} rows");
}

#[test]
fn a_hand_built_setup_takes_the_options_too() {
    // `Setup::apply` is what `Scenario::run_with` does: after it every host
    // records, and the run's outcome holds the series.
    let server_addr = SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT);
    let client = Host::new("client", CLIENT, [1; 16], TcpConfig::default())
        .app(BulkSender::new(server_addr, 10_000));
    let server =
        Host::new("server", SERVER, [2; 16], TcpConfig::default()).app(BulkSink::new(PORT));
    let lan = LinkConfig::new(100_000_000, Duration::from_millis(5));
    let mut world = World::new(WorldConfig::new(7));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client),
        Place::new("server", SERVER, server),
        lan.clone(),
        lan,
    )
    .expect("topology");
    let mut setup = Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(300),
        open_at_end: false,
    };
    setup.apply(&METRICS);
    let o = execute(7, setup).expect("runs");
    assert!(o.passed(), "{}", o.verdict());
    let series = client_series(&o);
    let acked = series.samples.iter().map(|s| s.info.bytes_acked).max();
    assert_eq!(
        acked,
        Some(10_000),
        "every byte acknowledged, as the series shows"
    );
}
