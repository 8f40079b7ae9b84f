//! `tcpsim`: see `scenarios::cli`.

use clap::Parser;

fn main() {
    sim::log::init_logging();
    let cli = match scenarios::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line: clap's first line names the problem.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("tcpsim: {}", first.trim_start_matches("error: ").trim());
            std::process::exit(2);
        }
        Err(e) => {
            // --help and --version
            let _ = e.print();
            std::process::exit(0);
        }
    };
    std::process::exit(scenarios::cli::main_with(cli));
}
