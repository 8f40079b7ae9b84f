//! The canonical performance workloads (W1 to W4, and a scale test), as
//! `tcpsim bench` runs them: built from the public host API and the ready
//! applications, run with a hash-only trace, and checked (every byte sent
//! was delivered, every connection ended) before any figure is printed.
//!
//! - **W1 bulk:** 2 hosts, 1 Gbit/s each way, 5 ms one way, no loss, MSS
//!   1448 (1460 announced, timestamps on), one connection sends 100,000,000
//!   bytes, 4 MiB socket buffers, NewReno; drop-tail queues of 10,000
//!   packets (as the ns-3 reference programs use).
//! - **W2 lossy bulk:** W1 with 1% independent loss each way.
//! - **W3 many flows:** a dumbbell of 1,000 clients and 1,000 servers,
//!   access links 1 Gbit/s, bottleneck 10 Gbit/s with 10 ms one way;
//!   client i starts at i x 100 us, sends 64 KiB and closes.
//! - **W4 churn:** 100,000 short connections between 2 hosts (1 Gbit/s,
//!   100 us one way), at most 1,000 open; each: handshake, a 100-byte
//!   request, a 100-byte reply once it has arrived with the server's FIN,
//!   then the client closes and the next connection opens. TIME-WAIT 2 ms
//!   (MSL 1 ms), as the ns-3 program uses.
//! - **scale:** `connections` concurrent established connections (1,000
//!   per client host, 1,000 client hosts at most, against one server host
//!   listening on as many ports as needed), each exchanging 100 bytes each
//!   way and then held open; reports memory per connection.
//!
//! SACK is off unless asked for (`sack`), as in the ns-3 programs the
//! figures are compared with.

use crate::apps::{BulkSender, BulkSink, RequestClient, RequestServer};
use crate::host::Host;
use crate::run::{HostNode, Outcome, Setup, execute};
use sim::topology::{self, DumbbellBuilder, Endpoint};
use sim::{Addr, Duration, LinkConfig, SimError, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Which workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Bulk: one 100,000,000-byte transfer on a loss-free 1 Gbit/s, 5 ms link.
    W1,
    /// Lossy bulk: W1 with 1% independent loss each way.
    W2,
    /// Many flows: 1,000 clients sending 64 KiB each across a dumbbell.
    W3,
    /// Churn: 100,000 short request/reply connections, at most 1,000 open.
    W4,
    /// Scale: many concurrent established connections held open (memory per connection).
    Scale,
}

impl Workload {
    /// Parses `W1`..`W4` (any case) or `scale`.
    pub fn parse(text: &str) -> Option<Workload> {
        Some(match text.to_ascii_lowercase().as_str() {
            "w1" => Workload::W1,
            "w2" => Workload::W2,
            "w3" => Workload::W3,
            "w4" => Workload::W4,
            "scale" => Workload::Scale,
            _ => return None,
        })
    }

    /// The name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::Scale => "scale",
        }
    }
}

/// The knobs of a workload; `None` keeps the workload's own value.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The run's seed (every figure is a function of it).
    pub seed: u64,
    /// W1/W2: bytes to send; W3: bytes per flow.
    pub bytes: Option<u64>,
    /// W2 (and W1 if given): loss probability each way.
    pub loss: Option<f64>,
    /// W3: client/server pairs.
    pub flows: Option<usize>,
    /// W4: connections in all.
    pub total: Option<u64>,
    /// scale: concurrent connections.
    pub connections: Option<u64>,
    /// W4: the MSL (TIME-WAIT is twice it).
    pub msl: Option<Duration>,
    /// SACK on every host (default off).
    pub sack: bool,
    /// Loss recovery every host runs (default: the RFC's, as today).
    pub recovery: crate::recovery_compare::Recovery,
}

/// What a workload run measured (all of it a function of the seed).
#[derive(Clone, Debug)]
pub struct Measured {
    /// The workload run.
    pub workload: Workload,
    /// The seed it ran with.
    pub seed: u64,
    /// Simulated time of the workload's end: the last data delivered (W1
    /// to W3, scale), or the client's last connection closed (W4), as the
    /// ns-3 reference programs report it.
    pub simulated: Time,
    /// Datagrams hosts sent, and of them with data.
    pub sent: u64,
    /// Datagrams with data that hosts sent.
    pub data_sent: u64,
    /// Datagrams hosts received, and of them with data.
    pub delivered: u64,
    /// Datagrams with data that hosts received.
    pub data_delivered: u64,
    /// Segments retransmitted by every connection.
    pub retransmissions: u64,
    /// Retransmission timeouts over every connection.
    pub timeouts: u64,
    /// Engine events processed.
    pub events: u64,
    /// Application bytes written and read over every connection.
    pub bytes_written: u64,
    /// Application bytes read over every connection.
    pub bytes_read: u64,
    /// Connections the workload made (scale: held open at the end).
    pub connections: u64,
    /// The engine's trace hash: the same seed gives the same hash.
    pub trace_hash: u64,
}

/// A workload that could not be built or run, or whose result is wrong.
#[derive(Debug)]
pub enum BenchError {
    /// Bad options (a usage error).
    Options(String),
    /// The engine refused the set-up or the run.
    Sim(SimError),
    /// The run finished but its result is wrong: a failure of the stack.
    Check(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Options(e) => write!(f, "{e}"),
            BenchError::Sim(e) => write!(f, "{e}"),
            BenchError::Check(e) => write!(f, "check failed: {e}"),
        }
    }
}

const W1_BYTES: u64 = 100_000_000;
const W3_BYTES: u64 = 64 * 1024;
const W3_FLOWS: usize = 1000;
const W4_TOTAL: u64 = 100_000;
const W4_OPEN_MAX: usize = 1000;
const SCALE_CONNECTIONS: u64 = 100_000;
const SCALE_PER_HOST: u64 = 1000;
const PORT: u16 = 5001;

fn world(seed: u64) -> World {
    let mut config = WorldConfig::new(seed);
    config.trace = TraceMode::HashOnly;
    config.event_budget = u64::MAX;
    World::new(config)
}

fn tcp(options: &Options) -> TcpConfig {
    TcpConfig {
        mss: 1460,
        recv_buffer: 4 * 1024 * 1024,
        send_buffer: 4 * 1024 * 1024,
        sack: options.sack,
        congestion: stack::cc::CongestionAlgorithm::NewReno,
        ..options.recovery.apply(TcpConfig::default())
    }
}

fn secret(name: &str) -> [u8; 16] {
    let mut s = [0u8; 16];
    for (i, b) in name.bytes().enumerate() {
        s[i % 16] ^= b.wrapping_add(i as u8);
    }
    s
}

fn check_probability(p: f64) -> Result<f64, BenchError> {
    if (0.0..1.0).contains(&p) {
        Ok(p)
    } else {
        Err(BenchError::Options(format!(
            "--loss {p}: a probability in [0, 1)"
        )))
    }
}

/// Builds the workload's world (for the criterion benchmarks, which time
/// `execute` on it).
pub fn setup(workload: Workload, options: &Options) -> Result<Setup, BenchError> {
    match workload {
        Workload::W1 | Workload::W2 => {
            let default_loss = if workload == Workload::W2 { 0.01 } else { 0.0 };
            let loss = check_probability(options.loss.unwrap_or(default_loss))?;
            bulk(options, options.bytes.unwrap_or(W1_BYTES), loss)
        }
        Workload::W3 => dumbbell(options),
        Workload::W4 => churn(options),
        Workload::Scale => scale(options),
    }
    .map_err(BenchError::Sim)
    .and_then(|s| s)
}

fn bulk(options: &Options, bytes: u64, loss: f64) -> Result<Result<Setup, BenchError>, SimError> {
    let world = world(options.seed);
    let (a, b) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(b), PORT);
    let sender =
        Host::new("sender", a, secret("sender"), tcp(options)).app(BulkSender::new(server, bytes));
    let sink = Host::new("receiver", b, secret("receiver"), tcp(options)).app(BulkSink::new(PORT));
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(5))
        .with_loss(loss)
        .with_queue_packets(10_000);
    two_hosts(world, [("sender", a, sender), ("receiver", b, sink)], link)
}

/// Two hosts on one link (the same settings both ways), run until both
/// are done.
fn two_hosts(
    mut world: World,
    [(a_name, a, a_host), (b_name, b, b_host)]: [(&str, Addr, Host); 2],
    link: LinkConfig,
) -> Result<Result<Setup, BenchError>, SimError> {
    let p = topology::point_to_point(
        &mut world,
        Endpoint::new(a_name, a, a_host),
        Endpoint::new(b_name, b, b_host),
        link.clone(),
        link,
    )?;
    Ok(Ok(Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(3600),
        open_at_end: false,
    }))
}

fn dumbbell(options: &Options) -> Result<Result<Setup, BenchError>, SimError> {
    let flows = options.flows.unwrap_or(W3_FLOWS);
    if flows == 0 || flows > 60_000 {
        return Ok(Err(BenchError::Options(format!(
            "--flows {flows}: between 1 and 60000"
        ))));
    }
    let bytes = options.bytes.unwrap_or(W3_BYTES);
    let mut world = world(options.seed);
    let access = LinkConfig::new(1_000_000_000, Duration::ZERO).with_queue_packets(10_000);
    let bottleneck =
        LinkConfig::new(10_000_000_000, Duration::from_millis(10)).with_queue_packets(10_000);
    let mut builder = DumbbellBuilder::new(access, bottleneck.clone(), bottleneck);
    let addr = |side: u8, i: usize| Addr::new(10, side, (i / 250) as u8, (i % 250) as u8 + 1);
    for i in 0..flows {
        let name = format!("client{i}");
        let server = SocketAddrV4::new(Ipv4Addr::from(addr(2, i)), PORT);
        let host = Host::new(&name, addr(1, i), secret(&name), tcp(options))
            .app(BulkSender::new(server, bytes))
            .start_at(Time::from_micros(100 * i as u64));
        builder = builder.sender(Endpoint::new(name, addr(1, i), host));
    }
    for i in 0..flows {
        let name = format!("server{i}");
        let host =
            Host::new(&name, addr(2, i), secret(&name), tcp(options)).app(BulkSink::new(PORT));
        builder = builder.receiver(Endpoint::new(name, addr(2, i), host));
    }
    let d = builder.build(&mut world)?;
    let hosts = d
        .senders
        .iter()
        .chain(&d.receivers)
        .map(|&n| HostNode::from(n))
        .collect();
    Ok(Ok(Setup {
        world,
        hosts,
        horizon: Time::from_secs(3600),
        open_at_end: false,
    }))
}

fn churn(options: &Options) -> Result<Result<Setup, BenchError>, SimError> {
    let total = options.total.unwrap_or(W4_TOTAL);
    if total == 0 {
        return Ok(Err(BenchError::Options(
            "--total 0: at least one connection".into(),
        )));
    }
    let msl = options.msl.unwrap_or(Duration::from_millis(1));
    let world = world(options.seed);
    let (a, b) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(b), PORT);
    let config = TcpConfig {
        msl: stack::Duration::from_nanos(msl.as_nanos()),
        recv_buffer: 128 * 1024,
        send_buffer: 128 * 1024,
        ..tcp(options)
    };
    let client = Host::new("client", a, secret("client"), config.clone()).app(
        RequestClient::new(server, 100, 100, total)
            .concurrency(W4_OPEN_MAX)
            .requests_per_connection(1),
    );
    let server_host = Host::new("server", b, secret("server"), config)
        .app(RequestServer::new(PORT, 100, 100).close_after(1));
    let link =
        LinkConfig::new(1_000_000_000, Duration::from_micros(100)).with_queue_packets(10_000);
    two_hosts(
        world,
        [("client", a, client), ("server", b, server_host)],
        link,
    )
}

fn scale(options: &Options) -> Result<Result<Setup, BenchError>, SimError> {
    let connections = options.connections.unwrap_or(SCALE_CONNECTIONS);
    if connections == 0 || connections > 10_000_000 {
        return Ok(Err(BenchError::Options(format!(
            "--connections {connections}: between 1 and 10000000"
        ))));
    }
    let mut world = world(options.seed);
    let config = TcpConfig {
        recv_buffer: 64 * 1024,
        send_buffer: 64 * 1024,
        ..tcp(options)
    };
    let clients = connections.div_ceil(SCALE_PER_HOST);
    let server_addr = Addr::new(10, 255, 255, 1);
    let mut builder = topology::StarBuilder::new(
        LinkConfig::new(10_000_000_000, Duration::from_micros(50)).with_queue_packets(100_000),
    );
    let server = Host::new("server", server_addr, secret("server"), config.clone())
        .app(RequestServer::new(PORT, 100, 100));
    builder = builder.leaf(Endpoint::new("server", server_addr, server));
    let mut left = connections;
    for i in 0..clients {
        let n = left.min(SCALE_PER_HOST);
        left -= n;
        let name = format!("client{i}");
        let addr = Addr::new(
            10,
            1 + (i / 62_500) as u8,
            ((i / 250) % 250) as u8,
            (i % 250) as u8 + 1,
        );
        let remote = SocketAddrV4::new(Ipv4Addr::from(server_addr), PORT);
        let client = Host::new(&name, addr, secret(&name), config.clone())
            .app(HoldingClient::new(remote, n))
            .start_at(Time::from_micros(10 * i));
        builder = builder.leaf(Endpoint::new(name, addr, client));
    }
    let star = builder.build(&mut world)?;
    Ok(Ok(Setup {
        world,
        hosts: star.leaves.iter().map(|&n| HostNode::from(n)).collect(),
        horizon: Time::from_secs(30),
        open_at_end: true,
    }))
}

/// scale's client: opens `n` connections, writes 100 bytes on each, reads
/// the 100-byte reply, and keeps every connection open.
struct HoldingClient {
    remote: SocketAddrV4,
    n: u64,
    replies: u64,
}

impl HoldingClient {
    fn new(remote: SocketAddrV4, n: u64) -> HoldingClient {
        HoldingClient {
            remote,
            n,
            replies: 0,
        }
    }
}

impl crate::app::Application for HoldingClient {
    fn start(&mut self, cx: &mut crate::app::AppCtx<'_, '_>) {
        for _ in 0..self.n {
            if let Err(e) = cx.connect(self.remote) {
                cx.call_failed(format!("scale: connect {}", self.remote), e);
            }
        }
    }
    fn connected(&mut self, cx: &mut crate::app::AppCtx<'_, '_>, conn: crate::app::Conn) {
        let _ = cx.send(conn, &[7; 100]);
    }
    fn received(
        &mut self,
        _cx: &mut crate::app::AppCtx<'_, '_>,
        _conn: crate::app::Conn,
        data: &[u8],
    ) {
        self.replies += data.len() as u64;
    }
}

/// Runs the workload and checks its result.
pub fn run(workload: Workload, options: &Options) -> Result<(Measured, Outcome), BenchError> {
    let setup = setup(workload, options)?;
    let outcome = execute(options.seed, setup).map_err(BenchError::Sim)?;
    let measured = measure(workload, options.seed, &outcome);
    check(workload, options, &outcome, &measured)?;
    Ok((measured, outcome))
}

fn measure(workload: Workload, seed: u64, outcome: &Outcome) -> Measured {
    let mut m = Measured {
        workload,
        seed,
        simulated: Time::ZERO,
        sent: 0,
        data_sent: 0,
        delivered: 0,
        data_delivered: 0,
        retransmissions: 0,
        timeouts: 0,
        events: outcome.stats.processed_count,
        bytes_written: 0,
        bytes_read: 0,
        connections: 0,
        trace_hash: outcome.stats.trace_hash,
    };
    for i in 0..outcome.hosts.len() {
        let host = outcome.host(i);
        m.sent += host.traffic.sent;
        m.data_sent += host.traffic.data_sent;
        m.delivered += host.traffic.received;
        m.data_delivered += host.traffic.data_received;
        for s in &host.streams {
            m.retransmissions += s.counters.retransmitted_segments;
            m.timeouts += s.counters.timeouts;
            m.bytes_written += s.written.len;
            m.bytes_read += s.read.len;
        }
    }
    m.simulated = if workload == Workload::W4 {
        let client = outcome.host(0);
        client
            .log
            .iter()
            .rev()
            .find(|l| {
                matches!(
                    l.record,
                    crate::host::Record::State {
                        to: stack::State::Closed,
                        ..
                    }
                )
            })
            .map_or(Time::ZERO, |l| l.time)
    } else {
        (0..outcome.hosts.len())
            .map(|i| outcome.host(i).traffic.last_data_received)
            .max()
            .unwrap_or(Time::ZERO)
    };
    // Each connection has a stream on both hosts.
    m.connections = (0..outcome.hosts.len())
        .map(|i| outcome.host(i).streams.len() as u64)
        .sum::<u64>()
        / 2;
    m
}

fn check(
    workload: Workload,
    options: &Options,
    outcome: &Outcome,
    m: &Measured,
) -> Result<(), BenchError> {
    if !outcome.violations.is_empty() {
        return Err(BenchError::Check(outcome.verdict()));
    }
    let expect = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(BenchError::Check(what))
        }
    };
    match workload {
        Workload::W1 | Workload::W2 => {
            let bytes = options.bytes.unwrap_or(W1_BYTES);
            expect(
                m.bytes_read == bytes && m.bytes_written == bytes,
                format!(
                    "{bytes} bytes sent, {} written, {} delivered",
                    m.bytes_written, m.bytes_read
                ),
            )
        }
        Workload::W3 => {
            let want = options.bytes.unwrap_or(W3_BYTES) * options.flows.unwrap_or(W3_FLOWS) as u64;
            expect(
                m.bytes_read == want,
                format!("{want} bytes over all flows, {} delivered", m.bytes_read),
            )
        }
        Workload::W4 => {
            let total = options.total.unwrap_or(W4_TOTAL);
            let client = outcome.host(0).application::<RequestClient>();
            let done = client.map_or(0, |c| c.completed);
            let failed = client.map_or(0, |c| c.failed.len());
            expect(
                done == total && failed == 0 && m.connections == total,
                format!(
                    "{total} connections: {done} answered, {failed} failed, {} made",
                    m.connections
                ),
            )
        }
        Workload::Scale => {
            let want = options.connections.unwrap_or(SCALE_CONNECTIONS);
            let established = (0..outcome.hosts.len())
                .flat_map(|i| outcome.host(i).endpoint.sockets())
                .filter(|s| s.state == stack::State::Established)
                .count() as u64;
            expect(
                established == 2 * want && m.bytes_read == 200 * want,
                format!(
                    "{want} connections: {} established ends (want {}), {} bytes read (want {})",
                    established,
                    2 * want,
                    m.bytes_read,
                    200 * want
                ),
            )
        }
    }
}

/// This process's peak resident memory in KiB, where the platform says
/// (Linux: `VmHWM` in /proc/self/status).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// This process's resident memory now in KiB (Linux: `VmRSS`).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `tcpsim bench`'s arguments.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// W1, W2, W3, W4 or scale.
    pub workload: String,
    /// Master seed (default 1).
    #[arg(long)]
    pub seed: Option<String>,
    /// W1/W2: bytes sent (default 100000000); W3: bytes per flow (default 65536).
    #[arg(long)]
    pub bytes: Option<u64>,
    /// Loss probability each way (W2 default 0.01, W1 default 0).
    #[arg(long)]
    pub loss: Option<f64>,
    /// W3: client/server pairs (default 1000).
    #[arg(long)]
    pub flows: Option<usize>,
    /// W4: connections in all (default 100000).
    #[arg(long)]
    pub total: Option<u64>,
    /// scale: concurrent connections (default 100000).
    #[arg(long)]
    pub connections: Option<u64>,
    /// W4: maximum segment lifetime, TIME-WAIT is twice it (default 1ms).
    #[arg(long)]
    pub msl: Option<String>,
    /// SACK on (default off, as in the ns-3 reference programs).
    #[arg(long)]
    pub sack: bool,
    /// Loss recovery: rfc (RFC 6675 with SACK, the default), rack-tlp
    /// (RFC 8985), prr (RFC 6937 on RFC 6675) or linux (RACK-TLP, PRR and
    /// undo). Anything but rfc needs --sack.
    #[arg(long)]
    pub recovery: Option<String>,
    /// Instead of one run: run the workload over this many seeds (from
    /// --seed on) with each loss recovery (SACK on) and print a table of
    /// retransmissions, RTOs and completion time.
    #[arg(long)]
    pub compare_recovery: Option<u64>,
}

/// Runs `tcpsim bench`: figures on `out`, a final `bench-json {...}` line;
/// exit status 1 if the workload's check failed, 2 for bad options.
pub fn command(
    args: BenchArgs,
    out: &mut impl std::io::Write,
) -> Result<bool, crate::cli::UsageError> {
    use crate::cli::UsageError;
    let io = |e: std::io::Error| UsageError(format!("writing the report: {e}"));
    let workload = Workload::parse(&args.workload).ok_or_else(|| {
        UsageError(format!(
            "unknown workload {:?} (W1, W2, W3, W4 or scale)",
            args.workload
        ))
    })?;
    let seed = crate::cli::parse_seed(args.seed.as_deref())?;
    let msl = args
        .msl
        .as_deref()
        .map(crate::file::parse_duration_text)
        .transpose()
        .map_err(|e| UsageError(format!("--msl {e}")))?;
    if msl == Some(Duration::ZERO) {
        return Err(UsageError("--msl 0: TIME-WAIT needs a positive MSL".into()));
    }
    let recovery = match args.recovery.as_deref() {
        None => crate::recovery_compare::Recovery::Rfc,
        Some(name) => crate::recovery_compare::Recovery::parse(name).ok_or_else(|| {
            UsageError(format!(
                "--recovery {name:?}: one of rfc, rack-tlp, prr, linux"
            ))
        })?,
    };
    if recovery != crate::recovery_compare::Recovery::Rfc && !args.sack {
        return Err(UsageError(format!(
            "--recovery {}: needs --sack (RACK and PRR work on SACK information)",
            recovery.name()
        )));
    }
    let options = Options {
        seed,
        bytes: args.bytes,
        loss: args.loss,
        flows: args.flows,
        total: args.total,
        connections: args.connections,
        msl,
        sack: args.sack,
        recovery,
    };
    if let Some(seeds) = args.compare_recovery {
        return crate::recovery_compare::command(workload, &options, seeds, out);
    }
    let rss_before = rss_kib();
    #[allow(clippy::disallowed_methods)] // wall time is printed, never part of a run
    let started = std::time::Instant::now();
    let result = run(workload, &options);
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    let (m, outcome) = match result {
        Ok(r) => r,
        Err(BenchError::Options(e)) => return Err(UsageError(e)),
        Err(BenchError::Sim(e)) => {
            writeln!(out, "{}: seed {seed}, FAIL: {e}", workload.name()).map_err(io)?;
            return Ok(false);
        }
        Err(BenchError::Check(e)) => {
            writeln!(out, "{}: seed {seed}, FAIL: {e}", workload.name()).map_err(io)?;
            return Ok(false);
        }
    };
    let peak = peak_rss_kib();
    let sim_s = m.simulated.as_nanos() as f64 / 1e9;
    writeln!(
        out,
        "{}: seed {seed}, sack {}, recovery {}",
        workload.name(),
        if options.sack { "on" } else { "off" },
        options.recovery.name()
    )
    .map_err(io)?;
    writeln!(out, "  wall           {wall:.3} s").map_err(io)?;
    writeln!(out, "  simulated      {sim_s:.6} s").map_err(io)?;
    writeln!(
        out,
        "  segments       {} sent ({} with data), {} delivered ({} with data)",
        m.sent, m.data_sent, m.delivered, m.data_delivered
    )
    .map_err(io)?;
    writeln!(
        out,
        "  data segments  {:.0} delivered per wall second",
        m.data_delivered as f64 / wall
    )
    .map_err(io)?;
    writeln!(
        out,
        "  retransmitted  {} segments, {} timeouts",
        m.retransmissions, m.timeouts
    )
    .map_err(io)?;
    writeln!(
        out,
        "  events         {} ({:.0} per wall second)",
        m.events,
        m.events as f64 / wall
    )
    .map_err(io)?;
    writeln!(
        out,
        "  bytes          {} written, {} read",
        m.bytes_written, m.bytes_read
    )
    .map_err(io)?;
    writeln!(
        out,
        "  connections    {} ({:.0} per wall second)",
        m.connections,
        m.connections as f64 / wall
    )
    .map_err(io)?;
    let per_conn = match (peak, rss_before) {
        (Some(p), Some(b)) if workload == Workload::Scale && m.connections > 0 => {
            Some(p.saturating_sub(b) * 1024 / m.connections)
        }
        _ => None,
    };
    match peak {
        Some(p) => writeln!(
            out,
            "  peak memory    {:.1} MiB{}",
            p as f64 / 1024.0,
            per_conn.map_or(String::new(), |b| format!(
                " ({b} B per connection above the start)"
            ))
        )
        .map_err(io)?,
        None => writeln!(out, "  peak memory    not known on this platform").map_err(io)?,
    }
    writeln!(out, "  trace hash     {:016x}", m.trace_hash).map_err(io)?;
    let json = serde_json::json!({
        "workload": workload.name(),
        "seed": seed,
        "sack": options.sack,
        "wall_s": wall,
        "simulated_s": sim_s,
        "segments_sent": m.sent,
        "data_segments_sent": m.data_sent,
        "segments_delivered": m.delivered,
        "data_segments_delivered": m.data_delivered,
        "retransmissions": m.retransmissions,
        "events": m.events,
        "bytes_written": m.bytes_written,
        "bytes_read": m.bytes_read,
        "connections": m.connections,
        "peak_rss_kib": peak,
        "bytes_per_connection": per_conn,
        "trace_hash": format!("{:016x}", m.trace_hash),
    });
    writeln!(out, "bench-json {json}").map_err(io)?;
    drop(outcome);
    Ok(true)
}
