//! The `tcpsim` command line.
//!
//! - `tcpsim` or `tcpsim all [--seed N] [--jobs N]`: the whole catalogue at
//!   one seed, a table of scenario, verdict, events, simulated time, hash;
//! - `tcpsim list`: the catalogue;
//! - `tcpsim run NAME [--seed N] [--format ladder|json|pcap|ss] [--out FILE] [--absolute]`:
//!   one scenario; the last line reports seed, trace hash and verdict;
//! - `tcpsim script FILE.pkt|DIR... [--seed N] [--strict-end]`: packetdrill scripts against
//!   the stack in virtual time (see [`crate::script`]); a directory runs
//!   every `.pkt` under it, subdirectories included, sorted by path.
//!
//! Bad input (unknown scenario, malformed seed, unwritable path) is a
//! one-line error and exit status 2; a failing scenario exits 1.

use crate::catalogue::{self, Scenario};
use crate::render::{self, Numbering};
use crate::run::Outcome;
use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;
use std::io::Write;
use std::path::PathBuf;

/// The default seed when none is given (printed with every run).
pub const DEFAULT_SEED: u64 = 1;

#[derive(Parser, Debug)]
#[command(
    name = "tcpsim",
    version,
    about = "Deterministic TCP simulation: the classic corner cases, replayed and checked"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the scenario catalogue.
    List,
    /// Run every scenario at one seed and print a table.
    All {
        /// Master seed (unsigned 64-bit integer).
        #[arg(long)]
        seed: Option<String>,
        /// Worker threads (results and hashes do not depend on it).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Run one scenario and render its trace.
    Run {
        /// Scenario name (see `tcpsim list`).
        name: String,
        #[arg(long)]
        seed: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Ladder)]
        format: Format,
        /// Write the rendering to FILE instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Absolute sequence numbers in the ladder (default: relative after the SYN).
        #[arg(long)]
        absolute: bool,
    },
    /// Run packetdrill scripts against the stack in virtual time.
    Script {
        /// Script files (`.pkt`); directories run every `.pkt` inside, at any
        /// depth, sorted by path.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed for the stack's ISN secret (script numbers are relative, so
        /// a correct script passes at every seed).
        #[arg(long)]
        seed: Option<String>,
        /// Fail a script when the stack sends a segment after its last
        /// line (packetdrill, and the default, ignore those).
        #[arg(long)]
        strict_end: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Ladder,
    Json,
    Pcap,
    Ss,
}

/// A user error: printed as one line, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

pub fn parse_seed(text: Option<&str>) -> Result<u64, UsageError> {
    match text {
        None => Ok(DEFAULT_SEED),
        Some(t) => t.trim().parse::<u64>().map_err(|_| {
            UsageError(format!(
                "invalid seed {t:?}: expected an unsigned 64-bit integer"
            ))
        }),
    }
}

/// One row of the catalogue table.
pub struct Row {
    pub name: &'static str,
    pub verdict: String,
    pub events: u64,
    pub simulated: sim::Time,
    pub hash: u64,
}

fn row(scenario: &Scenario, seed: u64) -> Row {
    match scenario.run(seed) {
        Ok(o) => Row {
            name: scenario.name,
            verdict: o.verdict(),
            events: o.stats.processed_count,
            simulated: o.stats.now,
            hash: o.stats.trace_hash,
        },
        Err(e) => Row {
            name: scenario.name,
            verdict: format!("FAIL: {e}"),
            events: 0,
            simulated: sim::Time::ZERO,
            hash: 0,
        },
    }
}

/// Runs the catalogue on `jobs` threads; rows come back in catalogue order.
pub fn run_all(seed: u64, jobs: usize) -> Vec<Row> {
    let scenarios = catalogue::all();
    if jobs <= 1 {
        return scenarios.iter().map(|s| row(s, seed)).collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(|| scenarios.par_iter().map(|s| row(s, seed)).collect()),
        Err(_) => scenarios.iter().map(|s| row(s, seed)).collect(),
    }
}

fn print_table(rows: &[Row], seed: u64, out: &mut impl Write) -> std::io::Result<bool> {
    writeln!(
        out,
        "{:<26} {:<8} {:>10} {:>13}  {:<16}",
        "scenario", "verdict", "events", "simulated", "trace hash"
    )?;
    let mut failed = Vec::new();
    for r in rows {
        let short = if r.verdict == "pass" { "pass" } else { "FAIL" };
        writeln!(
            out,
            "{:<26} {:<8} {:>10} {:>13}  {:016x}",
            r.name,
            short,
            r.events,
            r.simulated.to_string(),
            r.hash
        )?;
        if r.verdict != "pass" {
            failed.push(r);
        }
    }
    for r in &failed {
        writeln!(
            out,
            "{}: {}  (reproduce: tcpsim run {} --seed {seed})",
            r.name, r.verdict, r.name
        )?;
    }
    let passed = rows.len() - failed.len();
    writeln!(out, "seed {seed}: {passed} passed, {} failed", failed.len())?;
    Ok(failed.is_empty())
}

fn render(outcome: &Outcome, format: Format, absolute: bool) -> Result<Vec<u8>, UsageError> {
    let numbering = if absolute {
        Numbering::Absolute
    } else {
        Numbering::Relative
    };
    Ok(match format {
        Format::Ladder => render::ladder(outcome, numbering).into_bytes(),
        Format::Json => render::json_lines(outcome).into_bytes(),
        Format::Ss => render::ss_table(outcome).into_bytes(),
        Format::Pcap => {
            render::pcap(outcome).map_err(|e| UsageError(format!("cannot encode pcap: {e}")))?
        }
    })
}

/// Files as given, with each directory replaced by the `.pkt` files in it
/// and in its subdirectories at any depth, sorted by path (so a suite
/// grouped by state, `scripts/listen/*.pkt`, runs in the same order on
/// every machine). Symbolic links to directories are not followed, so a
/// link loop cannot make the walk endless.
pub fn expand_scripts(paths: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            pkt_files_under(p, &mut found)?;
            found.sort();
            if found.is_empty() {
                return Err(UsageError(format!("no .pkt files in {}", p.display())));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Adds the `.pkt` files in `dir` and its subdirectories to `found`.
fn pkt_files_under(dir: &std::path::Path, found: &mut Vec<PathBuf>) -> Result<(), UsageError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| UsageError(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            pkt_files_under(&path, found)?;
        } else if path.extension().is_some_and(|x| x == "pkt") {
            found.push(path);
        }
    }
    Ok(())
}

/// Runs scripts, one line each, then `N passed, N failed`; true if all passed.
pub fn run_scripts(
    files: &[PathBuf],
    seed: u64,
    options: crate::script::Options,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut failed = 0;
    for f in files {
        match crate::script::run_file_with(f, seed, options) {
            Ok(report) => {
                for w in &report.warnings {
                    writeln!(out, "warning: {w}")?;
                }
                writeln!(
                    out,
                    "ok    {}  ({} events, {} segments in, {} out, {}.{:06}s virtual)",
                    f.display(),
                    report.events,
                    report.segments_in,
                    report.segments_out,
                    report.end / 1_000_000,
                    report.end % 1_000_000
                )?;
            }
            Err(e) => {
                failed += 1;
                writeln!(out, "FAIL  {e}")?;
            }
        }
    }
    writeln!(
        out,
        "seed {seed}: {} passed, {failed} failed",
        files.len() - failed
    )?;
    Ok(failed == 0)
}

/// Runs the command line; returns the process exit status.
pub fn main_with(cli: Cli) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result: Result<bool, UsageError> = (|| match cli.command {
        None => {
            let rows = run_all(DEFAULT_SEED, 1);
            print_table(&rows, DEFAULT_SEED, &mut out).map_err(|e| UsageError(e.to_string()))
        }
        Some(Command::All { seed, jobs }) => {
            let seed = parse_seed(seed.as_deref())?;
            let jobs = jobs.unwrap_or(1);
            if jobs == 0 {
                return Err(UsageError("--jobs must be at least 1".into()));
            }
            let rows = run_all(seed, jobs);
            print_table(&rows, seed, &mut out).map_err(|e| UsageError(e.to_string()))
        }
        Some(Command::List) => {
            for s in catalogue::all() {
                writeln!(out, "{:<26} {}", s.name, s.summary)
                    .map_err(|e| UsageError(e.to_string()))?;
            }
            Ok(true)
        }
        Some(Command::Run {
            name,
            seed,
            format,
            out: path,
            absolute,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let scenario = catalogue::find(&name).ok_or_else(|| {
                UsageError(format!("unknown scenario {name:?} (see `tcpsim list`)"))
            })?;
            // Open the output before running, so a bad path fails fast.
            let mut file = match &path {
                Some(p) => Some(
                    std::fs::File::create(p)
                        .map_err(|e| UsageError(format!("cannot write {}: {e}", p.display())))?,
                ),
                None => None,
            };
            let outcome = scenario.run(seed).map_err(|e| UsageError(e.to_string()))?;
            let bytes = render(&outcome, format, absolute)?;
            match file.as_mut() {
                Some(f) => f
                    .write_all(&bytes)
                    .map_err(|e| UsageError(format!("cannot write: {e}")))?,
                None if format == Format::Pcap => {
                    return Err(UsageError("pcap output is binary: give --out FILE".into()));
                }
                None => out
                    .write_all(&bytes)
                    .map_err(|e| UsageError(e.to_string()))?,
            }
            writeln!(
                out,
                "{}: seed {seed}, {} events, {} simulated, trace hash {:016x}, verdict {}",
                scenario.name,
                outcome.stats.processed_count,
                outcome.stats.now,
                outcome.stats.trace_hash,
                outcome.verdict()
            )
            .map_err(|e| UsageError(e.to_string()))?;
            Ok(outcome.passed())
        }
        Some(Command::Script {
            files,
            seed,
            strict_end,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let files = expand_scripts(&files)?;
            let options = crate::script::Options { strict_end };
            run_scripts(&files, seed, options, &mut out).map_err(|e| UsageError(e.to_string()))
        }
    })();
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(UsageError(msg)) => {
            eprintln!("tcpsim: error: {msg}");
            2
        }
    }
}
