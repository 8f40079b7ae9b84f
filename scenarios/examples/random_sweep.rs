//! Runs the generated family `random` over a range of seeds and prints
//! every failure with its reproduction; a small driver until `tcpsim
//! sweep` covers it.
//!
//!     cargo run --release -p scenarios --example random_sweep -- 0 5000

use scenarios::generate::{Params, scenario};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("seeds: FROM TO (unsigned integers)"))
        .collect();
    let (from, to) = match args.as_slice() {
        [from, to] if from < to => (*from, *to),
        _ => {
            eprintln!("usage: random_sweep FROM TO");
            std::process::exit(2);
        }
    };
    let s = scenario(Params::default());
    // Wall time for the terminal only.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let (mut failed, mut events) = (0u64, 0u64);
    for seed in from..to {
        match s.run(seed) {
            Ok(o) => {
                events += o.stats.processed_count;
                if !o.passed() {
                    failed += 1;
                    println!(
                        "seed {seed}: {}  (reproduce: tcpsim run random --seed {seed})",
                        o.verdict()
                    );
                }
            }
            Err(e) => {
                failed += 1;
                println!("seed {seed}: FAIL: {e}  (reproduce: tcpsim run random --seed {seed})");
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "seeds {from}..{to}: {} runs, {failed} failed, {events} events, {:.1} seeds/s wall",
        to - from,
        (to - from) as f64 / wall
    );
    std::process::exit(i32::from(failed > 0));
}
