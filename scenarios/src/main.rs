//! `tcpsim`: see `scenarios::cli`.

use clap::Parser;
use std::io::Write;

fn main() {
    sim::log::init_logging();
    let cli = match scenarios::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, naming the problem (and a missing argument by name).
            let _ = writeln!(
                std::io::stderr(),
                "tcpsim: {}",
                scenarios::cli::usage_error_line(&e)
            );
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
