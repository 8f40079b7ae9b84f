//! `tcpsim`: see `scenarios::cli`.

fn main() {
    std::process::exit(scenarios::cli::main_with(Vec::new()));
}
