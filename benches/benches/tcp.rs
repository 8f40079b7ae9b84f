//! Whole-system throughput: our TCP over the engine. W1/W2 (`scenarios::bench`) at
//! 1/10 scale (10 MB over 1 Gbit/s with 5 ms one way, MSS 1448, without and
//! with 1% loss each way), hash-only traces as sweeps and benchmarks run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::host::{Action, Host};
use scenarios::run::{Setup, execute};
use sim::topology::{self, Endpoint};
use sim::{Addr, Duration, LinkConfig, Time, TraceMode, World, WorldConfig};
use stack::TcpConfig;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

const BYTES: u64 = 10_000_000;

fn bulk(loss: f64) -> Setup {
    let mut config = WorldConfig::new(1);
    config.trace = TraceMode::HashOnly;
    let mut world = World::new(config);
    let (client_addr, server_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let server = SocketAddrV4::new(Ipv4Addr::from(server_addr), 80);
    let client = Host::new("client", client_addr, [1; 16], TcpConfig::default())
        .at(
            Time::ZERO,
            Action::Connect {
                remote: server,
                local_port: None,
            },
        )
        .at(
            Time::ZERO,
            Action::Send {
                conn: 0,
                bytes: BYTES,
            },
        )
        .at(Time::ZERO, Action::Close { conn: 0 });
    let server = Host::new("server", server_addr, [2; 16], TcpConfig::default())
        .at(
            Time::ZERO,
            Action::Listen {
                port: 80,
                backlog: 8,
            },
        )
        .close_on_eof();
    let link = LinkConfig::new(1_000_000_000, Duration::from_millis(5))
        .with_loss(loss)
        .with_queue_packets(10_000);
    let p = topology::point_to_point(
        &mut world,
        Endpoint::new("client", client_addr, client),
        Endpoint::new("server", server_addr, server),
        link.clone(),
        link,
    )
    .unwrap();
    Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(600),
        open_at_end: false,
    }
}

fn tcp_bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_bulk_10MB");
    group.throughput(Throughput::Bytes(BYTES));
    group.sample_size(10);
    for (name, loss) in [("w1_lossless", 0.0), ("w2_1pct_loss", 0.01)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = execute(1, bulk(loss)).unwrap();
                assert!(outcome.violations.is_empty(), "{}", outcome.verdict());
                black_box(outcome.stats.trace_hash)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tcp_bulk);
criterion_main!(benches);
