//! The whole `tcpsim` command line, over the built-in scenarios plus ours.

fn main() {
    std::process::exit(scenarios::cli::main_with(vec![partitioned_rpc::scenario()]));
}
