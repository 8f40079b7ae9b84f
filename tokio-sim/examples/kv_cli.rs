//! A `tcpsim` command line of your own, with your async tests in its
//! catalogue: every subcommand works on them (`run`, `sweep`, `replay`,
//! `shrink`, `list`...).
//!
//! ```text
//! cargo run -p tcpsim-tokio --example kv_cli -- sweep --scenario kv --faults heavy --count 50
//! cargo run -p tcpsim-tokio --example kv_cli -- sweep --scenario kv --faults swarm --count 50 --capsules caps/
//! cargo run -p tcpsim-tokio --example kv_cli -- shrink caps/kv-seed-3.capsule.toml
//! cargo run -p tcpsim-tokio --example kv_cli -- run kv --seed 3 --faults heavy --format ladder
//! ```
//!
//! `kv` is the key-value test of `tests/common/kv.rs`: ten SETs, then ten
//! GETs, each retried on a fresh connection after 60 s without an answer.

#[path = "../tests/common/kv.rs"]
mod kv;

/// The key-value test as a scenario of the catalogue.
fn kv_test() -> scenarios::catalogue::Scenario {
    kv::scenario()
        .summary("ten SETs then ten GETs from a retrying tokio client to a tokio server")
        .doc("The user's own async test (crate tcpsim-tokio) as a catalogue scenario")
}

fn main() {
    std::process::exit(scenarios::cli::main_with(vec![kv_test()]));
}
