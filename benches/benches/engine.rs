//! Engine throughput: event queue schedule+pop at 1k, 100k and 1M pending
//! events, and packets per second through one impaired link.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim::{
    Addr, Ctx, Duration, Jitter, LinkConfig, Node, Packet, Reorder, Time, TraceMode, World,
    WorldConfig,
};
use std::hint::black_box;

/// Re-arms one wake per fire, keeping the queue at its initial depth.
struct Rearm {
    spacing: Duration,
}

impl Node for Rearm {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        let next = ctx.now() + self.spacing;
        ctx.wake_at(next, token);
    }
}

fn event_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue");
    const OPS: u64 = 100_000;
    for pending in [1_000u64, 100_000, 1_000_000] {
        group.throughput(Throughput::Elements(OPS));
        group.bench_with_input(
            BenchmarkId::new("schedule_pop", pending),
            &pending,
            |bench, &pending| {
                let mut config = WorldConfig::new(1);
                config.trace = TraceMode::HashOnly;
                config.event_budget = u64::MAX;
                let mut world = World::new(config);
                let node = world
                    .add_node(
                        "n",
                        Addr::new(10, 0, 0, 1),
                        Rearm {
                            spacing: Duration::from_nanos(pending),
                        },
                    )
                    .unwrap();
                for i in 0..pending {
                    world.wake_node_at(node, Time::from_nanos(i), i).unwrap();
                }
                bench.iter(|| {
                    // Each step pops one wake and schedules its successor.
                    for _ in 0..OPS {
                        black_box(world.step().unwrap());
                    }
                });
            },
        );
    }
    group.finish();
}

/// Sends `burst` packets per wake, wakes itself again 1 ms later.
struct Blaster {
    dst: Addr,
    burst: u32,
}

impl Node for Blaster {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, _token: u64) {
        let src = ctx.addr();
        for _ in 0..self.burst {
            let mut p = ctx.alloc_packet(src, self.dst);
            p.bytes.resize(1500, 0x5a);
            ctx.send(p);
        }
    }
}

struct Drain;
impl Node for Drain {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, _ctx: &mut Ctx<'_>, _token: u64) {}
}

fn impaired_link(c: &mut Criterion) {
    const PACKETS: u64 = 100_000;
    let mut group = c.benchmark_group("impaired_link");
    group.throughput(Throughput::Elements(PACKETS));
    group.sample_size(20);
    group.bench_function("1500B_packets", |bench| {
        bench.iter(|| {
            let mut config = WorldConfig::new(7);
            config.trace = TraceMode::HashOnly;
            let mut world = World::new(config);
            let (a_addr, b_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
            let a = world
                .add_node(
                    "a",
                    a_addr,
                    Blaster {
                        dst: b_addr,
                        burst: 100,
                    },
                )
                .unwrap();
            let b = world.add_node("b", b_addr, Drain).unwrap();
            let link = LinkConfig::new(10_000_000_000, Duration::from_millis(5))
                .with_loss(0.01)
                .with_duplicate(0.001)
                .with_reorder(Reorder {
                    probability: 0.01,
                    extra_delay: Duration::from_micros(200),
                })
                .with_jitter(Jitter::Uniform {
                    min: Duration::ZERO,
                    max: Duration::from_micros(50),
                });
            world.connect("a-b", a, b, link.clone(), link).unwrap();
            for i in 0..PACKETS / 100 {
                world
                    .wake_node_at(a, Time::from_micros(i * 200), i)
                    .unwrap();
            }
            black_box(world.run_until_idle().unwrap())
        });
    });
    group.finish();
}

criterion_group!(benches, event_queue, impaired_link);
criterion_main!(benches);
