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

fn main() {
    let args = args::parse();
    let mut sim = http::lossy_sim(args.seed, args.loss);
    args::run_and_report(&mut sim, &args, String::new);
}
