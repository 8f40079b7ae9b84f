//! Two nodes exchange numbered packets over a lossy, jittery link; prints
//! the trace, the seed and the trace hash. Run with a seed:
//! `cargo run -p sim --example lossy_link -- 42`.

use sim::{Addr, Ctx, Duration, Jitter, LinkConfig, Node, Packet, Time, World, WorldConfig};

/// Sends a ping on every wake and answers every ping with a pong.
struct Peer {
    peer: Addr,
}

impl Node for Peer {
    fn on_packet(&mut self, ctx: &mut Ctx<'_>, packet: Packet) {
        if packet.bytes.first() == Some(&b'?') {
            let mut reply = ctx.alloc_packet(ctx.addr(), self.peer);
            reply.bytes.push(b'!');
            reply.bytes.extend_from_slice(&packet.bytes[1..]);
            ctx.send(reply);
        }
        ctx.recycle(packet);
    }
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        let mut ping = ctx.alloc_packet(ctx.addr(), self.peer);
        ping.bytes.push(b'?');
        ping.bytes.extend_from_slice(&token.to_be_bytes());
        ctx.send(ping);
    }
}

fn main() {
    let seed = match std::env::args().nth(1).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(seed)) => seed,
        Some(Err(e)) => {
            eprintln!("error: the seed must be an unsigned integer: {e}");
            std::process::exit(2);
        }
    };
    sim::log::init_logging();
    let (a_addr, b_addr) = (Addr::new(10, 0, 0, 1), Addr::new(10, 0, 0, 2));
    let mut world = World::new(WorldConfig::new(seed));
    let a = world
        .add_node("a", a_addr, Peer { peer: b_addr })
        .expect("fresh name");
    let b = world
        .add_node("b", b_addr, Peer { peer: a_addr })
        .expect("fresh name");
    let link = LinkConfig::new(10_000_000, Duration::from_millis(5))
        .with_loss(0.2)
        .with_jitter(Jitter::Uniform {
            min: Duration::ZERO,
            max: Duration::from_millis(1),
        });
    world
        .connect("a-b", a, b, link.clone(), link)
        .expect("valid link");
    for i in 0..10 {
        world
            .wake_node_at(a, Time::from_millis(i * 20), i)
            .expect("node exists");
    }
    match world.run_until_idle() {
        Ok(stats) => {
            for event in world.trace().events() {
                println!("{event}");
            }
            println!(
                "seed {seed}: {} events, ended at {}, trace hash {:016x}",
                stats.processed_count, stats.now, stats.trace_hash
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
