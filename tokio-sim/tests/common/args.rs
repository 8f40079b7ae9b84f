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
