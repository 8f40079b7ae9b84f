//! The key-value service of `tests/common/kv.rs` on a lossy, partitioned
//! network, with the ladder of the run printed.
//!
//! `cargo run -p tcpsim-tokio --example kv -- [SEED] [LOSS] [--ladder]`
//! (defaults: seed 1, loss 0.05): 20 SETs and 20 GETs through 5% loss each
//! way and a 2-second partition of the server; prints the result, the
//! client's retries, TCP's retransmissions and the trace hash.

#[path = "../tests/common/args.rs"]
mod args;
#[path = "../tests/common/kv.rs"]
mod kv;

use sim::{LinkConfig, Time};
use std::time::Duration;
use tcpsim_tokio::Sim;

fn main() {
    let args = args::parse();
    let (seed, loss) = (args.seed, args.loss);

    let mut sim = Sim::new(seed);
    sim.host("server", kv::server);
    sim.host_link(
        "server",
        LinkConfig::new(100_000_000, sim::Duration::from_millis(1)).with_loss(loss),
    )
    .partition("server", Time::from_millis(60), Time::from_millis(2_060))
    .duration(Time::from_secs(600));
    let mut client = kv::Client::new("server:6379", Duration::from_secs(60));
    let log = client.log.clone();
    sim.client("client", async move { kv::workload(&mut client, 20).await });
    args::run_and_report(&mut sim, &args, || {
        format!("client retries {}, ", log.borrow().retries)
    });
}
