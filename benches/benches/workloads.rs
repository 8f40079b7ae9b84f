//! The canonical workloads exactly as `tcpsim bench` builds them
//! (`scenarios::bench::setup`: same links, queues, TCP settings, hash-only
//! trace, every oracle), scaled down so one sample takes a fraction of a
//! second: W1 and W2 with 10 MB instead of 100 MB, W3 with 100 flows
//! instead of 1,000, W4 with 2,000 connections instead of 100,000.
//! Each sample also runs the workload's own check (bytes delivered equal
//! bytes sent, every connection closed).
//!
//!     cargo bench -p tcpsim-benches --bench workloads -- --quick

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::bench::{Options, Workload, run};
use std::hint::black_box;

fn workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("workload");
    group.sample_size(10);
    let cases: [(&str, Workload, Options, Throughput); 4] = [
        (
            "w1_10MB",
            Workload::W1,
            Options {
                bytes: Some(10_000_000),
                ..Options::default()
            },
            Throughput::Bytes(10_000_000),
        ),
        (
            "w2_10MB_1pct_loss",
            Workload::W2,
            Options {
                bytes: Some(10_000_000),
                ..Options::default()
            },
            Throughput::Bytes(10_000_000),
        ),
        (
            "w3_100_flows",
            Workload::W3,
            Options {
                flows: Some(100),
                ..Options::default()
            },
            Throughput::Bytes(100 * 65_536),
        ),
        (
            "w4_2000_connections",
            Workload::W4,
            Options {
                total: Some(2_000),
                ..Options::default()
            },
            Throughput::Elements(2_000),
        ),
    ];
    for (name, workload, options, throughput) in cases {
        let options = Options { seed: 1, ..options };
        group.throughput(throughput);
        group.bench_function(name, |b| {
            b.iter(|| {
                let (measured, _) = run(workload, &options).unwrap_or_else(|e| panic!("{e}"));
                black_box(measured.trace_hash)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
