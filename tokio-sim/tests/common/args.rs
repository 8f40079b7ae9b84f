//! The command line the examples share: `[SEED] [LOSS] [--ladder]`.

#![allow(dead_code)]

/// What an example was asked for.
pub struct Args {
    /// The run's seed (default 1).
    pub seed: u64,
    /// Loss each way on the server's link (default 0.05).
    pub loss: f64,
    /// Print the run's ladder.
    pub ladder: bool,
}

/// Reads `[SEED] [LOSS] [--ladder]` from the process's arguments; a bad
/// value is a one-line error and exit status 2.
pub fn parse() -> Args {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let seed = match numbers.first().map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            eprintln!("error: SEED must be a whole number, got {:?}", numbers[0]);
            std::process::exit(2);
        }
    };
    let loss = match numbers.get(1).map(|s| s.parse::<f64>()) {
        None => 0.05,
        Some(Ok(l)) if (0.0..1.0).contains(&l) => l,
        _ => {
            eprintln!("error: LOSS must be a probability in [0, 1)");
            std::process::exit(2);
        }
    };
    Args {
        seed,
        loss,
        ladder: args.iter().any(|a| a == "--ladder"),
    }
}

/// Runs `sim`, prints its ladder if asked, then one line: the verdict,
/// the end time, `detail()` (read after the run, e.g. the client's
/// retries), TCP's retransmissions and the trace hash. Exits with status 1
/// if the test failed, 2 if the simulation could not be built.
pub fn run_and_report(sim: &mut tcpsim_tokio::Sim, args: &Args, detail: impl Fn() -> String) {
    let run = match sim.execute() {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Written, not printed: a closed pipe (`| head`) ends the output
    // quietly rather than with a panic.
    use std::io::Write as _;
    let status = i32::from(run.result.is_err());
    let mut out = std::io::stdout().lock();
    if args.ladder {
        let ladder =
            scenarios::render::ladder(&run.outcome, scenarios::render::Numbering::Relative);
        if out.write_all(ladder.as_bytes()).is_err() {
            std::process::exit(status);
        }
    }
    let retransmissions: usize = (0..run.outcome.host_count())
        .map(|i| run.outcome.retransmissions(i))
        .sum();
    let line = writeln!(
        out,
        "seed {}, loss {}: {} at {}; {}TCP retransmissions {retransmissions}, trace hash {:016x}",
        args.seed,
        args.loss,
        match &run.result {
            Ok(()) => "pass".to_string(),
            Err(e) => format!("FAIL ({e})"),
        },
        run.outcome.stats.now,
        detail(),
        run.trace_hash()
    );
    if line.is_err() {
        std::process::exit(status);
    }
    if run.result.is_err() {
        std::process::exit(1);
    }
}
