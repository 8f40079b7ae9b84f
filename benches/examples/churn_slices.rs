//! The W4 churn workload's rate slice by slice over one long run: if the
//! cost per connection grew with the connections already made (a scan of
//! every stream, a map that never shrinks), later slices would be slower.
//!
//!     cargo run --release -p tcpsim-benches --example churn_slices -- 1000000
//!
//! Each line: connections ended so far, and the slice's connections per
//! second of this process's CPU time (read from /proc/self/stat, so other
//! work on a shared machine does not count; wall-clock time where /proc
//! is absent). The simulation itself never reads a clock.

use scenarios::apps::ChurnClient;
use sim::Time;
use tcpsim_benches::churn;

/// Seconds of CPU time this process has used (user + system), if the
/// platform says.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[allow(clippy::disallowed_methods)] // a measuring tool: wall time only as a fallback
fn main() {
    let total: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: churn_slices [TOTAL_CONNECTIONS > 0]");
            std::process::exit(2);
        }
    };
    let wall = std::time::Instant::now();
    let clock = || cpu_seconds().unwrap_or_else(|| wall.elapsed().as_secs_f64());
    let mut setup = churn(total);
    for h in &setup.hosts {
        let first = h.host(&setup.world).and_then(|h| h.first_wake());
        if let Some(first) = first {
            setup
                .world
                .wake_node_at(h.node, first, 0)
                .expect("host node");
        }
    }
    let slice = (total / 10).max(1);
    let (mut last_time, mut last_ended) = (clock(), 0u64);
    let mut sim_ms = 0;
    println!("seed 1, {total} connections, rate per slice (CPU time)");
    loop {
        sim_ms += 50;
        setup
            .world
            .run_until(Time::from_millis(sim_ms))
            .expect("runs");
        let ended = setup.hosts[0]
            .host(&setup.world)
            .and_then(|h| h.application::<ChurnClient>())
            .map_or(0, |c| c.ended);
        if ended >= last_ended + slice || ended == total {
            let now = clock();
            let rate = (ended - last_ended) as f64 / (now - last_time).max(1e-9);
            println!("{ended:>9} ended: {:>6.1}k conn/s", rate / 1000.0);
            (last_time, last_ended) = (now, ended);
        }
        if ended == total {
            break;
        }
    }
}
