//! W4 of DESIGN.md through the public host API: a churn client keeps at
//! most 1,000 connections open and opens the next when one ends (each
//! writes 100 bytes and closes; a bulk sink reads to EOF and closes), over
//! 1 Gbit/s with 1 ms one way. Reported as connections per second at 10k
//! and 100k total connections; per-event work is proportional to what is
//! active, so the rate must stay flat as the total grows. 1M total takes
//! about thirty seconds per run on a shared 2-core machine (and about a gigabyte for the per-connection
//! records): set `TCPSIM_BENCH_1M=1` to include it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::apps::{BulkSink, ChurnClient};
use scenarios::host::Host;
use scenarios::run::{Setup, execute};
use sim::topology::{self, Endpoint};
use sim::{Addr, Duration, LinkConfig, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

const OPEN_MAX: usize = 1000;

fn churn(total: u64) -> Setup {
    let mut config = WorldConfig::new(1);
    config.trace = TraceMode::HashOnly;
    config.event_budget = u64::MAX;
    let mut world = World::new(config);
    let (client_addr, server_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(server_addr), 80);
    // TIME-WAIT of 2 ms (MSL 1 ms) so the client's 28k ephemeral ports
    // never run out at this rate; nothing else differs from the defaults.
    let tcp = TcpConfig {
        msl: stack::Duration::from_millis(1),
        ..TcpConfig::default()
    };
    let client = Host::new("client", client_addr, [1; 16], tcp.clone())
        .app(ChurnClient::new(server, total, OPEN_MAX, 100));
    let server_host = Host::new("server", server_addr, [2; 16], tcp).app(BulkSink::new(80));
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
    let p = topology::point_to_point(
        &mut world,
        Endpoint::new("client", client_addr, client),
        Endpoint::new("server", server_addr, server_host),
        link.clone(),
        link,
    )
    .unwrap();
    Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(100_000),
        open_at_end: false,
    }
}

fn run(total: u64) -> u64 {
    let outcome = execute(1, churn(total)).unwrap();
    assert!(outcome.passed(), "{}", outcome.verdict());
    let client = outcome.host(0).application::<ChurnClient>().unwrap();
    assert_eq!((client.ended, client.failed), (total, 0));
    black_box(outcome.stats.trace_hash)
}

fn w4_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_churn_1000_open");
    group.sample_size(10);
    let mut totals = vec![10_000u64, 100_000];
    if std::env::var_os("TCPSIM_BENCH_1M").is_some() {
        totals.push(1_000_000);
    }
    for total in totals {
        group.throughput(Throughput::Elements(total));
        group.bench_function(format!("{total}_connections"), |b| b.iter(|| run(total)));
    }
    group.finish();
}

criterion_group!(benches, w4_churn);
criterion_main!(benches);
