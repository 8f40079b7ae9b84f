//! `tcpsim sweep` and `tcpsim merge`: argument checking, progress, output.
//! The work itself is [`super::Sweep`] and [`super::merge`].
//!
//! Standard output gets the failing runs as they are found (in seed order),
//! then the summary and the coverage table: deterministic text. Standard
//! error gets the progress (a bar on a terminal, a plain line every tenth
//! otherwise) and the wall-clock figures, which never go into a report.

use super::{Profile, Seeds, Shard, Sweep, SweepReport, merge};
use crate::catalogue::Catalogue;
use crate::cli::{OutFile, UsageError};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

/// `tcpsim sweep`'s arguments, as parsed by clap (the doc comments are the
/// `--help` text).
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long)]
    pub seeds: Option<String>,
    /// Seeds 1 to N (default: 100).
    #[arg(long)]
    pub count: Option<String>,
    /// A scenario name, `all`, or a scenario file `FILE.toml`.
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Fault profile: none, light, heavy, swarm, or a profile file
    /// (docs/fault-profiles.md).
    #[arg(long, default_value = "none")]
    pub faults: String,
    /// Worker threads, 1 to 256 (default: all cores; results do not depend on it).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the report (deterministic JSON) to FILE.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the wall-clock figures (JSON) to FILE.
    #[arg(long)]
    pub timings: Option<PathBuf>,
    /// Stop at the first failure in seed order.
    #[arg(long)]
    pub stop_on_failure: bool,
    /// Run shard I of N (`I/N`), or `N` with I from SLURM_ARRAY_TASK_ID
    /// or JOB_COMPLETION_INDEX.
    #[arg(long)]
    pub shard: Option<String>,
    /// Check the scenarios' own expectations even under faults.
    #[arg(long)]
    pub expectations: bool,
    /// Do not check the scenarios' own expectations, even without faults.
    #[arg(long)]
    pub no_expectations: bool,
    /// Write a capsule for each failure into DIR (default:
    /// tcpsim-capsules), replayable with `tcpsim replay`.
    #[arg(long)]
    pub capsules: Option<PathBuf>,
    /// Keep the capsules' fault decisions as recorded (by default each
    /// is shrunk to the faults that matter, as `tcpsim shrink` does).
    #[arg(long)]
    pub no_shrink: bool,
}

/// The default seed range when neither `--seeds` nor `--count` is given.
pub const DEFAULT_COUNT: u64 = 100;

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Builds the sweep the arguments describe, checking everything before
/// anything runs.
pub fn build(args: &SweepArgs, catalogue: &Catalogue) -> Result<Sweep, UsageError> {
    let seeds = match (&args.seeds, &args.count) {
        (Some(_), Some(_)) => return Err(usage("give --seeds or --count, not both")),
        (Some(s), None) => Seeds::parse(s).map_err(usage)?,
        (None, Some(c)) => {
            let n = c
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    usage(format!(
                        "invalid --count {c:?}: expected a number of seeds, 1 or more"
                    ))
                })?;
            Seeds::new(1, n).expect("n >= 1")
        }
        (None, None) => Seeds::new(1, DEFAULT_COUNT).expect("constant range"),
    };
    let (scenarios, args_for_cli) = if args.scenario == "all" {
        (catalogue.scenarios().to_vec(), None)
    } else if args.scenario.ends_with(".toml") {
        let plan = crate::file::load(std::path::Path::new(&args.scenario))
            .map_err(|e| usage(e.to_string()))?;
        (vec![plan.scenario()], Some(vec![args.scenario.clone()]))
    } else {
        let s = catalogue.find(&args.scenario).ok_or_else(|| {
            usage(format!(
                "unknown scenario {:?} (see `tcpsim list`; or `all`, or a FILE.toml)",
                args.scenario
            ))
        })?;
        (vec![s.clone()], None)
    };
    let profile = Profile::resolve(&args.faults).map_err(|e| usage(e.to_string()))?;
    let jobs = match args.jobs {
        Some(_) => crate::cli::parse_jobs(args.jobs)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let shard = args
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, |v| std::env::var(v).ok()))
        .transpose()
        .map_err(usage)?;
    if args.expectations && args.no_expectations {
        return Err(usage("give --expectations or --no-expectations, not both"));
    }
    let mut sweep = Sweep::new(scenarios, seeds)
        .named(args.scenario.clone(), args_for_cli)
        .faults(args.faults.clone(), profile)
        .jobs(jobs)
        .stop_on_failure(args.stop_on_failure)
        .shard(shard);
    if args.expectations {
        sweep = sweep.expectations(true);
    }
    if args.no_expectations {
        sweep = sweep.expectations(false);
    }
    Ok(sweep)
}

/// Progress on standard error: a bar on a terminal, plain lines otherwise.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines { total: u64, next: u64 },
}

impl Progress {
    fn new(total: u64) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs, {msg} [{elapsed} elapsed, {eta} left]",
            ) {
                bar.set_style(style);
            }
            bar.set_message("0 failed");
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                total,
                next: total.div_ceil(10).max(1),
            }
        }
    }

    fn step(&mut self, done: u64, failed: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{failed} failed"));
            }
            Progress::Lines { total, next } => {
                if done >= *next || done == *total {
                    let _ = writeln!(
                        std::io::stderr(),
                        "sweep: {done}/{total} runs, {failed} failed"
                    );
                    let step = total.div_ceil(10).max(1);
                    while *next <= done {
                        *next += step;
                    }
                }
            }
        }
    }

    /// Runs `f` with the bar out of the way (so a printed line stays).
    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self {
            Progress::Bar(bar) => bar.suspend(f),
            Progress::Lines { .. } => f(),
        }
    }

    fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `tcpsim sweep`: whether every run passed, or the usage error.
pub fn sweep(
    args: &SweepArgs,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<bool, UsageError> {
    let sweep = build(args, catalogue)?;
    let json = args.json.as_deref().map(OutFile::check).transpose()?;
    let timings = args.timings.as_deref().map(OutFile::check).transpose()?;
    let total = sweep.run_count();
    let mut progress = Progress::new(total);
    let started = wall_clock();
    let mut done = 0u64;
    let mut failed = 0u64;
    let mut write_error = None;
    let report = sweep.run_with(|run| {
        done += 1;
        if !run.passed() {
            failed += 1;
            let line = format!(
                "FAIL seed {} {}: {}  (faults {}; trace hash {:016x})\n  reproduce: {}\n",
                run.seed,
                run.scenario,
                run.message(),
                run.faults,
                run.trace_hash,
                run.reproduce
            );
            if let Err(e) = progress.suspend(|| out.write_all(line.as_bytes())) {
                write_error.get_or_insert(e);
            }
        }
        progress.step(done, failed);
    });
    progress.finish();
    let wall = started.elapsed().as_secs_f64();
    if let Some(e) = write_error {
        return Err(usage(format!("cannot write to standard output: {e}")));
    }
    out.write_all(report.summary_text().as_bytes())
        .map_err(|e| usage(format!("cannot write to standard output: {e}")))?;
    let t = Timings::of(&report, wall, sweep_jobs(args));
    let _ = writeln!(std::io::stderr(), "{}", t.line());
    if let Some(f) = &json {
        f.write(report.to_json().as_bytes())?;
    }
    let dir = args
        .capsules
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::capsule::command::CAPSULE_DIR));
    crate::capsule::command::sweep_capsules(
        &report,
        &args.scenario,
        catalogue,
        &dir,
        args.no_shrink,
        out,
    )?;
    if let Some(f) = &timings {
        f.write(t.json().as_bytes())?;
    }
    Ok(report.passed())
}

/// The one wall-clock read of a sweep: its elapsed time, for the figures
/// printed on standard error and written to `--timings`. It never reaches
/// a run, a trace or the report (the project's rule: virtual time only).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}

fn sweep_jobs(args: &SweepArgs) -> usize {
    args.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Wall-clock figures of one sweep (terminal and `--timings` only).
struct Timings {
    wall: f64,
    runs: u64,
    seeds: u64,
    events: u64,
    simulated: f64,
    jobs: usize,
}

impl Timings {
    fn of(report: &SweepReport, wall: f64, jobs: usize) -> Timings {
        let per_seed = report.sweep.scenarios.len().max(1) as u64;
        Timings {
            wall,
            runs: report.summary.runs,
            seeds: report.summary.runs / per_seed,
            events: report.summary.events,
            simulated: report.summary.simulated_ns as f64 / 1e9,
            jobs,
        }
    }
    fn rate(&self, n: f64) -> f64 {
        if self.wall > 0.0 { n / self.wall } else { 0.0 }
    }
    fn line(&self) -> String {
        format!(
            "wall {:.2} s at --jobs {}: {:.1} runs/s, {:.1} seeds/s, {:.0} events/s, {:.0} simulated s per wall s",
            self.wall,
            self.jobs,
            self.rate(self.runs as f64),
            self.rate(self.seeds as f64),
            self.rate(self.events as f64),
            self.rate(self.simulated)
        )
    }
    fn json(&self) -> String {
        let v = serde_json::json!({
            "wall_seconds": self.wall,
            "jobs": self.jobs,
            "runs": self.runs,
            "seeds": self.seeds,
            "runs_per_second": self.rate(self.runs as f64),
            "seeds_per_second": self.rate(self.seeds as f64),
            "events_per_second": self.rate(self.events as f64),
            "simulated_seconds_per_wall_second": self.rate(self.simulated),
        });
        let mut s = serde_json::to_string_pretty(&v).expect("plain numbers serialize");
        s.push('\n');
        s
    }
}

/// `tcpsim merge REPORT... [--json FILE]`: whether the merged sweep
/// passed, or the usage error (unreadable report, reports of different
/// sweeps, a shard missing or given twice).
pub fn merge_reports(
    paths: &[PathBuf],
    json: Option<&std::path::Path>,
    out: &mut impl Write,
) -> Result<bool, UsageError> {
    let target = json.map(OutFile::check).transpose()?;
    let mut reports = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        let r = SweepReport::from_json(&text)
            .map_err(|e| usage(format!("{} is not a sweep report: {e}", p.display())))?;
        reports.push(r);
    }
    let merged = merge(&reports).map_err(|e| usage(format!("cannot merge: {e}")))?;
    for f in &merged.failures {
        writeln!(
            out,
            "FAIL seed {} {}: {}  (faults {}; trace hash {})\n  reproduce: {}",
            f.seed, f.scenario, f.message, f.faults, f.trace_hash, f.reproduce
        )
        .map_err(|e| usage(format!("cannot write to standard output: {e}")))?;
    }
    out.write_all(merged.summary_text().as_bytes())
        .map_err(|e| usage(format!("cannot write to standard output: {e}")))?;
    if let Some(t) = &target {
        t.write(merged.to_json().as_bytes())?;
    }
    Ok(merged.passed())
}
