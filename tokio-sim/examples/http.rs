//! hyper's HTTP/1.1 server and client on simulated hosts, through loss and
//! a partition (the code is `tests/common/http.rs`).
//!
//! `cargo run -p tcpsim-tokio --example http -- [SEED] [LOSS] [--ladder]`
//! (defaults: seed 1, loss 0.05): `/hello`, a 256 KiB `/big` checked byte
//! by byte, a POST echoed back and a 404 on one keep-alive connection,
//! with LOSS each way on the server's link and a 2-second partition at
//! 30 ms; prints the result, TCP's retransmissions and the trace hash.

#[path = "../tests/common/args.rs"]
mod args;
#[path = "../tests/common/http.rs"]
mod http;

use sim::{LinkConfig, Time};
use tcpsim_tokio::Sim;

fn main() {
    let args = args::parse();
    let (seed, loss) = (args.seed, args.loss);

    let mut sim = Sim::new(seed);
    sim.host("web", http::server);
    sim.host_link(
        "web",
        LinkConfig::new(100_000_000, sim::Duration::from_millis(1)).with_loss(loss),
    )
    .partition("web", Time::from_millis(30), Time::from_millis(2_030))
    .duration(Time::from_secs(600));
    sim.client("browser", http::workload("web"));
    args::run_and_report(&mut sim, &args, String::new);
}
