//! W4 (`scenarios::bench`) through the public host API: a churn client keeps at
//! most 1,000 connections open and opens the next when one ends (each
//! writes 100 bytes and closes; a bulk sink reads to EOF and closes), over
//! 1 Gbit/s with 1 ms one way. Reported as connections per second at 10k
//! and 100k total connections; per-event work is proportional to what is
//! active, so the rate must stay flat as the total grows. 1M total takes
//! about thirty seconds per run on a shared 2-core machine (and about a gigabyte for the per-connection
//! records): set `TCPSIM_BENCH_1M=1` to include it. The `churn_slices`
//! example prints the rate slice by slice over one long run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::apps::ChurnClient;
use scenarios::run::execute;
use std::hint::black_box;
use tcpsim_benches::churn;

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
