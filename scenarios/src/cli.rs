//! The `tcpsim` command line.
//!
//! - `tcpsim` or `tcpsim all [--seed N] [--jobs N]`: the whole catalogue at
//!   one seed, a table of scenario, verdict, events, simulated time, hash;
//! - `tcpsim list [--long]`: the catalogue, each scenario with its RFC
//!   references (`--long`: its whole documentation);
//! - `tcpsim explain NAME`: one scenario's documentation and references;
//! - `tcpsim all FILE.toml|DIR... [--seed N] [--jobs N]`: the scenario files
//!   given (a folder: every `.toml` directly in it, sorted), in the same table;
//! - `tcpsim run NAME|FILE.toml [--seed N] [--format ladder|json|pcap|ss] [--out FILE] [--absolute]
//!   [--at TIME] [--capture-at HOST]`: one scenario, from the catalogue or a
//!   scenario file (see [`crate::file`]); the last line reports seed, trace
//!   hash and verdict (on standard error for JSON, whose standard output is
//!   JSON lines only); `--at` gives the `ss` table at a virtual time;
//!   a misspelled name gets a did-you-mean;
//! - `tcpsim sweep [--seeds A..B|--count N] [--scenario NAME|all|FILE.toml]
//!   [--faults none|light|heavy|swarm|FILE] [--jobs N] [--json FILE]
//!   [--timings FILE] [--stop-on-failure] [--shard I/N]` and `tcpsim merge
//!   REPORT... [--json FILE]`: sweeps and their shards (see [`crate::sweep`]);
//!   `metrics` is every connection's TCP internals over time ([`crate::metrics`]);
//! - `tcpsim plot NAME|FILE.toml [--seed N] [--conn N] [--kind sequence|cwnd|rtt|throughput] [--out FILE.svg]`:
//!   one connection drawn as SVG (see [`crate::plot`]);
//! - `tcpsim script FILE.pkt|DIR... [--seed N] [--strict-end] [--exact] [--profile rfc|linux]`: packetdrill scripts against
//!   the stack in virtual time (see [`crate::script`]); a directory runs
//!   every `.pkt` under it, subdirectories included, sorted by path. Every
//!   script gets `pass FILE` or `FAIL FILE:LINE: reason` (a script that
//!   does not parse fails with its syntax error, and the others still
//!   run), then `seed S: N passed, M failed of T` and a last line with the
//!   same counts as JSON.
//! - `tcpsim fuzz wire|endpoint [--iterations N] [--seed S] [--skip K]`:
//!   the seeded mutation fuzzer (see [`crate::fuzz`]); a finding prints
//!   its one-line reproduction and exits 1.
//!
//! Exit status: 0 when every scenario or script passed; 1 when one failed (a
//! verdict about the stack); 2 for bad input or usage (unknown scenario,
//! malformed seed, `--jobs` outside 1..=[`MAX_JOBS`], a missing argument, a
//! script or scenario file that cannot be read, a scenario file that does
//! not parse or cannot run as written, an unwritable path). A packetdrill
//! script that does not parse is that script's failure (1), reported
//! beside the others' results: suites written for Linux use features
//! tcpsim does not have yet, and one such script must not hide the rest. Bad
//! input is a one-line error on standard error naming what was wrong, and
//! nothing runs. When standard output is closed early (`tcpsim all | head
//! -1`) tcpsim stops writing quietly, as Unix tools do, and the exit status
//! is still the verdict.
//!
//! `--out FILE` never leaves a user's file truncated: the rendering goes to a
//! temporary file in FILE's folder, renamed over FILE once it is complete
//! (see [`OutFile`]).

use crate::catalogue::{Catalogue, Scenario};
use crate::render::{self, Numbering};
use crate::run::Outcome;
use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The default seed when none is given (printed with every run).
pub const DEFAULT_SEED: u64 = 1;

/// What `tcpsim --help` says after the options.
const AFTER_HELP: &str = "\
Exit status (every command):
  0  every scenario or script passed
  1  a check failed: an oracle, an expectation or a script line (a verdict about the stack);
     for `tcpsim script`, also a script that does not parse (the others still run)
  2  bad input or usage: unknown scenario, malformed seed or time, missing argument,
     a file that cannot be read, a scenario file that cannot be parsed, an unwritable
     --out path

RUST_LOG=debug prints the engine's and the stack's log on standard error,
each line stamped with virtual time and the node's name.";

#[derive(Parser, Debug)]
#[command(
    name = "tcpsim",
    version,
    about = "Deterministic TCP simulation: the classic corner cases, replayed and checked",
    after_help = AFTER_HELP
)]
/// The `tcpsim` command line, as clap parses it (see `tcpsim --help`).
pub struct Cli {
    /// The subcommand; `None` runs the whole catalogue at the default seed, as
    /// `tcpsim all` does.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `tcpsim` subcommands, one variant each.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the scenario catalogue: each name, its summary and the RFC
    /// sections it exercises.
    #[command(after_help = AFTER_HELP)]
    List {
        /// Print each scenario's whole documentation under its name.
        #[arg(long)]
        long: bool,
    },
    /// Print a scenario's documentation and the RFC sections it cites.
    #[command(after_help = AFTER_HELP)]
    Explain {
        /// Scenario name (see `tcpsim list`).
        name: String,
    },
    /// Run every scenario at one seed and print a table: the catalogue,
    /// or the scenario files given (folders: every `.toml` in them).
    #[command(after_help = AFTER_HELP)]
    All {
        /// Scenario files (`.toml`) or folders of them [default: the
        /// built-in catalogue].
        paths: Vec<PathBuf>,
        /// Master seed, an unsigned 64-bit integer; the same seed gives the
        /// same run [default: 1].
        #[arg(long, value_name = "N")]
        seed: Option<String>,
        /// Worker threads, 1 to 256; results and hashes do not depend on
        /// it, and no more threads start than there are scenarios
        /// [default: 1].
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
    },
    /// Run one scenario and render its trace.
    #[command(after_help = AFTER_HELP)]
    Run {
        /// Scenario name (see `tcpsim list`), or a scenario file `FILE.toml`.
        name: String,
        /// Master seed, an unsigned 64-bit integer; the same seed gives the
        /// same run [default: 1].
        #[arg(long, value_name = "N")]
        seed: Option<String>,
        /// What to print: the RFC-style ladder, JSON lines
        /// (docs/trace.schema.json; the summary goes to standard error),
        /// a pcapng capture (needs --out), or an `ss -nat`-style table.
        #[arg(long, value_enum, default_value_t = Format::Ladder)]
        format: Format,
        /// Write the rendering to FILE instead of standard output (replaced
        /// whole, never left truncated) [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Absolute sequence numbers in the ladder [default: relative
        /// after the SYN, as Wireshark shows them].
        #[arg(long)]
        absolute: bool,
        /// Run under a sweep's fault profile (none, light, heavy, swarm, or
        /// FILE.toml): the seed's faults, as `tcpsim sweep` draws them.
        #[arg(long)]
        faults: Option<String>,
        /// With --format ss: the sockets at this virtual time (`250ms`,
        /// `1.5s`) instead of at the end; the run stops there [default: the
        /// end of the run].
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// With --format pcap: only this host's interfaces, the capture that
        /// host would take [default: every host's interfaces].
        #[arg(long, value_name = "HOST")]
        capture_at: Option<String>,
    },
    /// Draw one connection as SVG: a time-sequence graph (tcptrace and
    /// Stevens style) over a panel of cwnd, ssthresh, SRTT and RTO, or one
    /// of cwnd, RTT, throughput alone.
    Plot {
        /// Scenario name (see `tcpsim list`), or a scenario file `FILE.toml`.
        name: String,
        /// Master seed (unsigned 64-bit integer; default 1).
        #[arg(long)]
        seed: Option<String>,
        /// Which connection: 0, 1, 2... in the order their first SYN was sent.
        #[arg(long, default_value_t = 0)]
        conn: usize,
        /// What to draw.
        #[arg(long, value_enum, default_value_t = crate::plot::Kind::Sequence)]
        kind: crate::plot::Kind,
        /// Write the SVG to FILE instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run packetdrill scripts against the stack in virtual time: `pass
    /// FILE` or `FAIL FILE:LINE: reason` for each (one that does not parse
    /// fails with its syntax error), then the counts, last as JSON.
    #[command(after_help = AFTER_HELP)]
    Script {
        /// Script files (`.pkt`); directories run every `.pkt` inside, at any
        /// depth, sorted by path.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed for the stack's ISN secret; script numbers are relative, so
        /// a correct script passes at every seed [default: 1].
        #[arg(long, value_name = "N")]
        seed: Option<String>,
        /// Fail a script when the stack sends a segment after its last
        /// line [default: off, as packetdrill ignores those].
        #[arg(long)]
        strict_end: bool,
        /// Define a symbol, as packetdrill's `-D` (e.g. `-D
        /// TFO_COOKIE=3021b9d889017eeb`, as its run_all.py gives the
        /// suite): whole-word occurrences in the scripts become VALUE.
        #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
        define: Vec<String>,
        /// Exact timing: events must happen at their times, within only the
        /// script's own --tolerance_usecs [default: packetdrill's tolerance,
        /// 4000 us or 12.5% of the time since the previous event].
        #[arg(long)]
        exact: bool,
        /// The configuration the stack boots with, before the script's shell
        /// commands: `rfc` (tcpsim's default: NewReno, RFC 1337 on) or `linux`
        /// (Linux 6.x's: CUBIC, RFC 1337 off).
        #[arg(long, value_enum, default_value_t = ScriptProfile::Rfc)]
        profile: ScriptProfile,
    },
    /// Run a canonical performance workload (W1 bulk, W2 lossy bulk, W3
    /// 1,000-flow dumbbell, W4 100,000-connection churn, scale: many
    /// concurrent connections), check its result, print its figures.
    Bench(crate::bench::BenchArgs),
    /// Run scenarios over many seeds under a fault profile, with oracles,
    /// coverage and a deterministic JSON report (see `scenarios::sweep`).
    Sweep(crate::sweep::command::SweepArgs),
    /// Replay a capsule (a failure written by `tcpsim sweep` or `tcpsim
    /// shrink`) with exactly its fault decisions, and compare. Exit status:
    /// 0 the run passes now (the failure is gone), 1 the recorded oracle
    /// fails again (exactly, same trace hash, or not: the output says), 3 it
    /// fails only other oracles, 2 bad input (unreadable or malformed
    /// capsule, unknown scenario).
    Replay {
        /// The capsule file (docs/capsules.md).
        capsule: PathBuf,
        /// Also print the replayed run's trace, as `tcpsim run --format`
        /// does (ladder, json, pcap with --out, ss, metrics, metrics-csv);
        /// the verdict then goes to standard error [default: the verdict
        /// only].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// With --format: write the rendering to FILE (replaced whole).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// With --format ladder: absolute sequence numbers.
        #[arg(long)]
        absolute: bool,
    },
    /// Shrink a capsule's fault decisions by delta debugging to a minimal
    /// set that still fails the same oracle. Exit status: 0 written, 1
    /// written but stopped by --max-runs, 2 bad input or no longer failing.
    Shrink {
        /// The capsule file to shrink.
        capsule: PathBuf,
        /// Write the shrunk capsule to FILE (default: CAPSULE.shrunk.toml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The most candidate runs (default 5000).
        #[arg(long)]
        max_runs: Option<usize>,
        /// Worker threads, 1 to 256 (the result does not depend on it).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Show the first event where two runs diverge, with context. Each run
    /// is a capsule file or SCENARIO@SEED (a name or FILE.toml). Exit
    /// status: 0 identical, 1 they diverge, 2 bad input.
    Diff {
        /// The first run: a capsule file or SCENARIO@SEED.
        a: String,
        /// The second run: a capsule file or SCENARIO@SEED.
        b: String,
        /// Fault profile for the SCENARIO@SEED runs (capsules carry their own).
        #[arg(long, default_value = "none")]
        faults: String,
        /// Events shown before and after the divergence.
        #[arg(long, default_value_t = 5)]
        context: usize,
    },
    /// Merge the shard reports of one sweep into the report one machine
    /// would have written.
    Merge {
        /// Shard reports (`tcpsim sweep --shard I/N --json FILE`).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged report to FILE.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Seeded mutation fuzzing: the wire parser and emitter, or two
    /// endpoints fed random calls and forged segments (see `docs/fuzzing.md`).
    Fuzz {
        /// `wire` or `endpoint`.
        #[arg(value_enum)]
        target: FuzzTarget,
        /// Iterations to run.
        #[arg(long, default_value_t = crate::fuzz::DEFAULT_ITERATIONS)]
        iterations: u64,
        /// Master seed (unsigned 64-bit integer).
        #[arg(long)]
        seed: Option<String>,
        /// Start at this iteration (a finding's reproduction runs it alone).
        #[arg(long, default_value_t = 0)]
        skip: u64,
    },
}

/// What `tcpsim fuzz` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FuzzTarget {
    /// The wire parser and emitter: parse, emit, parse again must agree.
    Wire,
    /// Two endpoints fed random calls and forged segments, checked by invariants.
    Endpoint,
}

/// The `--format` of `tcpsim run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The RFC 9293-style ladder.
    Ladder,
    /// JSON lines (docs/trace.schema.json).
    Json,
    /// A pcapng capture, one interface per host-side link.
    Pcap,
    /// An `ss -nat`-style socket table.
    Ss,
    /// TCP internals over time (cwnd, ssthresh, SRTT, RTO...), JSON lines.
    Metrics,
    /// The same as CSV with a header line.
    MetricsCsv,
}

/// The most worker threads `tcpsim all --jobs` accepts. More would only
/// cost memory: the catalogue has a few dozen scenarios, and no more threads
/// start than there are scenarios to run.
pub const MAX_JOBS: usize = 256;

/// A user error: printed as one line (one per line of the message), exit
/// status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// `--jobs`: 1 when not given, else 1..=[`MAX_JOBS`].
pub fn parse_jobs(jobs: Option<usize>) -> Result<usize, UsageError> {
    match jobs {
        None => Ok(1),
        Some(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        Some(n) => Err(UsageError(format!(
            "invalid --jobs {n}: expected 1 to {MAX_JOBS} worker threads"
        ))),
    }
}

/// The threads to start for `jobs` requested over `items` pieces of work:
/// never more than there is work, never more than [`MAX_JOBS`], at least one.
pub fn worker_count(jobs: usize, items: usize) -> usize {
    jobs.min(items).clamp(1, MAX_JOBS)
}

/// `--seed`: [`DEFAULT_SEED`] when not given, else an unsigned 64-bit integer.
///
/// # Errors
///
/// A usage error naming the text if it is not one.
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
    /// The scenario's name.
    pub name: &'static str,
    /// What to type to rerun it: `tcpsim run NAME` or `tcpsim run FILE.toml`.
    pub run_as: String,
    /// `pass`, or `FAIL: ` and what failed.
    pub verdict: String,
    /// Engine events processed.
    pub events: u64,
    /// Virtual time at the end of the run.
    pub simulated: sim::Time,
    /// The engine's trace hash.
    pub hash: u64,
}

fn row(scenario: &Scenario, seed: u64) -> Row {
    match scenario.run(seed) {
        Ok(o) => Row {
            name: scenario.name,
            run_as: format!("tcpsim run {}", scenario.name),
            verdict: o.verdict(),
            events: o.stats.processed_count,
            simulated: o.stats.now,
            hash: o.stats.trace_hash,
        },
        Err(e) => Row {
            name: scenario.name,
            run_as: format!("tcpsim run {}", scenario.name),
            verdict: format!("FAIL: {e}"),
            events: 0,
            simulated: sim::Time::ZERO,
            hash: 0,
        },
    }
}

/// Runs the built-in catalogue on up to `jobs` threads (see
/// [`worker_count`]); rows come back in catalogue order.
pub fn run_all(seed: u64, jobs: usize) -> Vec<Row> {
    run_catalogue(crate::catalogue::all(), seed, jobs)
}

/// Runs `scenarios` on up to `jobs` threads; rows come back in order.
pub fn run_catalogue(scenarios: &[Scenario], seed: u64, jobs: usize) -> Vec<Row> {
    let threads = worker_count(jobs, scenarios.len());
    if threads <= 1 {
        return scenarios.iter().map(|s| row(s, seed)).collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
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
            "{}: {}  (reproduce: {} --seed {seed})",
            r.name, r.verdict, r.run_as
        )?;
    }
    let passed = rows.len() - failed.len();
    writeln!(out, "seed {seed}: {passed} passed, {} failed", failed.len())?;
    Ok(failed.is_empty())
}

fn render(
    outcome: &Outcome,
    format: Format,
    absolute: bool,
    capture_at: Option<&str>,
) -> Result<Vec<u8>, UsageError> {
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
            let at = capture_at.map_or(render::CaptureAt::AllHosts, |h| {
                render::CaptureAt::Host(h.to_string())
            });
            render::pcapng(outcome, &at).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidInput => UsageError(format!("--capture-at: {e}")),
                _ => UsageError(format!("cannot encode pcapng: {e}")),
            })?
        }
        Format::Metrics => crate::metrics::json_lines(outcome).into_bytes(),
        Format::MetricsCsv => crate::metrics::csv(outcome).into_bytes(),
    })
}

/// `tcpsim script --profile`: see [`crate::script::Profile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScriptProfile {
    /// tcpsim's default configuration (RFC-strict where it chose so).
    Rfc,
    /// What Linux 6.x boots with, as far as the stack models it.
    Linux,
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

/// A script file as loaded: its text parsed, or why it does not parse.
pub type LoadedScript = (
    PathBuf,
    Result<crate::script::Script, crate::script::ScriptError>,
);

/// Reads and parses every script before any runs. A file that cannot be
/// read is bad input (an argument that is not there): the error names
/// each such file (one line each) and nothing runs. A file that does not
/// parse is that script's failure, reported with the others' results.
pub fn load_scripts(files: &[PathBuf]) -> Result<Vec<LoadedScript>, UsageError> {
    load_scripts_with(files, &[])
}

/// [`load_scripts`] with packetdrill's `-D` definitions applied to each
/// script's text before it is parsed ([`crate::script::apply_defines`]).
pub fn load_scripts_with(
    files: &[PathBuf],
    defines: &[(String, String)],
) -> Result<Vec<LoadedScript>, UsageError> {
    let mut scripts = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let name = f.display().to_string();
        match std::fs::read_to_string(f) {
            Err(e) => errors.push(format!("cannot read {name}: {e}")),
            Ok(text) => {
                let text = crate::script::apply_defines(&text, defines);
                scripts.push((f.clone(), crate::script::parse(&name, &text)));
            }
        }
    }
    if errors.is_empty() {
        Ok(scripts)
    } else {
        Err(UsageError(errors.join("\n")))
    }
}

/// Runs scripts, one line each (`pass FILE  (...)` or `FAIL FILE:LINE:
/// reason`; a script that does not parse fails with its syntax error),
/// then `seed S: N passed, M failed of T` and, last, the same counts as
/// one JSON object for machines: `{"passed":N,"failed":M,"total":T,
/// "seed":S}`. Warnings go to `err`, each naming its file and line.
/// True if all passed.
pub fn run_scripts(
    scripts: &[LoadedScript],
    seed: u64,
    options: crate::script::Options,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<bool> {
    let mut failed = 0;
    for (f, script) in scripts {
        let script = match script {
            Ok(script) => script,
            Err(e) => {
                failed += 1;
                writeln!(out, "FAIL {e}")?;
                continue;
            }
        };
        let (result, warnings) = crate::script::run_logged(script, seed, options);
        for w in &warnings {
            // Standard error may be closed too; the verdict still stands.
            let _ = writeln!(err, "warning: {w}");
        }
        match result {
            Ok(report) => {
                for p in &report.printed {
                    writeln!(out, "print: {p}")?;
                }
                writeln!(
                    out,
                    "pass {}  ({} events, {} segments in, {} out, {}.{:06}s virtual)",
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
                writeln!(out, "FAIL {e}")?;
            }
        }
    }
    let total = scripts.len();
    writeln!(
        out,
        "seed {seed}: {} passed, {failed} failed of {total}",
        total - failed
    )?;
    writeln!(
        out,
        "{}",
        serde_json::json!({"passed": total - failed, "failed": failed, "total": total, "seed": seed})
    )?;
    Ok(failed == 0)
}

/// Standard output that goes quiet once its reader has gone. Rust ignores
/// SIGPIPE, so a write into a closed pipe (`tcpsim all | head -1`) returns
/// `BrokenPipe`; this writer then drops the rest of the output without an
/// error, as a Unix tool ended by SIGPIPE does. Other write errors (a full
/// disk) pass through.
pub struct PipeOut<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeOut<W> {
    /// Wraps `inner` (normally standard output).
    pub fn new(inner: W) -> PipeOut<W> {
        PipeOut {
            inner,
            closed: false,
        }
    }

    /// True once a write found the reader gone.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn quiet<T>(&mut self, r: io::Result<T>, done: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            r => r,
        }
    }
}

impl<W: Write> Write for PipeOut<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.quiet(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.quiet(r, ())
    }
}

fn stdout_error(e: io::Error) -> UsageError {
    UsageError(format!("cannot write to standard output: {e}"))
}

/// Where `--out FILE` writes. A regular file (or a new one) is replaced
/// whole: the rendering goes to a temporary file in the same folder, which
/// is renamed over FILE once completely written (a rename within one file
/// system is atomic), and removed if anything fails. So a run that fails or
/// is interrupted never leaves the user's file truncated: it holds either
/// its old contents or the new rendering. A symbolic link is followed (the
/// file it names is replaced, the link stays), and an existing file keeps
/// its permissions. Anything else that exists (a device such as
/// `/dev/null`, a FIFO) is written in place. The temporary file exists only
/// while the finished rendering is written (the folder is probed before the
/// run), so a kill can at worst leave it behind, never a truncated FILE.
#[derive(Debug)]
pub struct OutFile {
    /// The path as the user gave it, for messages.
    given: PathBuf,
    /// The file to replace (symbolic links resolved), or to write in place.
    target: PathBuf,
    in_place: bool,
}

impl OutFile {
    /// Checks that `path` can be written before the run starts, so a bad
    /// path fails fast; the user's file is not touched yet.
    pub fn check(path: &Path) -> Result<OutFile, UsageError> {
        let fail = |why: String| UsageError(format!("cannot write {}: {why}", path.display()));
        let (target, in_place) = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(fail("it is a directory".into())),
            Ok(m) if m.is_file() => (
                std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))?,
                false,
            ),
            Ok(_) => (path.to_path_buf(), true),
            // A dangling symbolic link: write through it, as `>` would.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(path).is_ok() =>
            {
                (path.to_path_buf(), true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (path.to_path_buf(), false),
            Err(e) => return Err(fail(e.to_string())),
        };
        let out = OutFile {
            given: path.to_path_buf(),
            target,
            in_place,
        };
        if !out.in_place {
            // Probe the folder with the temporary file itself.
            let (tmp, _) = out.create_temp()?;
            std::fs::remove_file(&tmp).map_err(|e| out.fail(e))?;
        }
        Ok(out)
    }

    fn fail(&self, e: impl std::fmt::Display) -> UsageError {
        UsageError(format!("cannot write {}: {e}", self.given.display()))
    }

    /// A new temporary file next to the target (never an existing one).
    fn create_temp(&self) -> Result<(PathBuf, std::fs::File), UsageError> {
        let name = self
            .target
            .file_name()
            .ok_or_else(|| self.fail("not a file name"))?
            .to_string_lossy()
            .into_owned();
        let dir = match self.target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let pid = std::process::id();
        let mut last = None;
        for n in 0..16 {
            let tmp = dir.join(format!(".{name}.tcpsim-{pid}-{n}.tmp"));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => return Ok((tmp, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(self.fail(format_args!(
                        "cannot create a temporary file in {}: {e}",
                        dir.display()
                    )));
                }
            }
        }
        Err(self.fail(format_args!(
            "cannot create a temporary file in {}: {}",
            dir.display(),
            last.map_or_else(String::new, |e| e.to_string())
        )))
    }

    /// Writes `bytes` as the file's whole new contents.
    pub fn write(&self, bytes: &[u8]) -> Result<(), UsageError> {
        if self.in_place {
            return std::fs::File::create(&self.target)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(|e| self.fail(e));
        }
        let (tmp, mut file) = self.create_temp()?;
        let written = (|| {
            if let Ok(m) = std::fs::metadata(&self.target) {
                file.set_permissions(m.permissions())?;
            }
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &self.target)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.fail(e)
        })
    }
}

/// The whole `tcpsim` command line over the built-in scenarios plus
/// `scenarios` (a user's own, from their crate's `main`):
///
/// ```no_run
/// // A user crate's `main`:
/// let mine = vec![/* scenarios::catalogue::Scenario::new(...) */];
/// std::process::exit(scenarios::cli::main_with(mine));
/// ```
///
/// Parses the process's arguments and returns its exit status (0 pass, 1 a
/// scenario or script failed, 2 bad input or usage, including two
/// scenarios with one name).
pub fn main_with(scenarios: Vec<Scenario>) -> i32 {
    use clap::Parser as _;
    sim::log::init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, naming the problem (and a missing argument by name).
            let _ = writeln!(io::stderr(), "tcpsim: {}", usage_error_line(&e));
            return 2;
        }
        Err(e) => {
            // --help and --version
            let _ = e.print();
            return 0;
        }
    };
    let mut catalogue = Catalogue::builtin();
    for s in scenarios {
        if let Err(msg) = catalogue.add(s) {
            let _ = writeln!(io::stderr(), "tcpsim: error: {msg}");
            return 2;
        }
    }
    run_cli(cli, &catalogue)
}

/// Runs a parsed command line over `catalogue`; returns the process exit
/// status (0 pass, 1 a scenario or script failed, 2 bad input or usage).
pub fn run_cli(cli: Cli, catalogue: &Catalogue) -> i32 {
    let mut out = PipeOut::new(io::stdout().lock());
    let result = run_command_status(cli, catalogue, &mut out).and_then(|status| {
        out.flush().map_err(stdout_error)?;
        Ok(status)
    });
    match result {
        Ok(status) => status,
        Err(UsageError(msg)) => {
            let mut err = io::stderr().lock();
            for line in msg.lines() {
                // Nothing more to do if standard error is gone too.
                let _ = writeln!(err, "tcpsim: error: {line}");
            }
            2
        }
    }
}

/// Runs a parsed command line over `catalogue`, writing to `out`: the exit
/// status (as [`run_command`], plus `tcpsim replay`'s 3 for "fails
/// differently"), or the usage error.
pub fn run_command_status(
    cli: Cli,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<i32, UsageError> {
    use crate::capsule::command as capsule;
    match cli.command {
        Some(Command::Replay {
            capsule: path,
            format,
            out: target,
            absolute,
        }) => {
            let Some(format) = format else {
                if target.is_some() || absolute {
                    return Err(UsageError(
                        "--out and --absolute are for replay --format (the replayed trace)".into(),
                    ));
                }
                return capsule::replay(&path, catalogue, None, out);
            };
            if target.is_none() && format == Format::Pcap {
                return Err(UsageError(
                    "--format pcap writes binary: give --out FILE.pcapng".into(),
                ));
            }
            let target = target.as_deref().map(OutFile::check).transpose()?;
            let mut rendered = Vec::new();
            let render_trace = |outcome: &Outcome| render(outcome, format, absolute, None);
            let mut verdict = Vec::new();
            let status = capsule::replay(
                &path,
                catalogue,
                Some((&render_trace, &mut rendered)),
                &mut verdict,
            )?;
            match &target {
                Some(t) => t.write(&rendered)?,
                None => out.write_all(&rendered).map_err(stdout_error)?,
            }
            let _ = io::stderr().write_all(&verdict);
            Ok(status)
        }
        Some(Command::Shrink {
            capsule: path,
            out: target,
            max_runs,
            jobs,
        }) => {
            let mut options = crate::capsule::shrink::Options::default();
            if let Some(n) = max_runs {
                options.max_runs = n.max(1);
            }
            options.jobs = parse_jobs(jobs)?;
            capsule::shrink_file(&path, target.as_deref(), options, catalogue, out)
        }
        Some(Command::Diff {
            a,
            b,
            faults,
            context,
        }) => capsule::diff(&a, &b, &faults, context, catalogue, out),
        _ => run_command(cli, catalogue, out).map(|passed| if passed { 0 } else { 1 }),
    }
}

/// Runs a parsed command line over `catalogue`, writing to `out`: whether
/// everything passed, or the usage error.
pub fn run_command(
    cli: Cli,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<bool, UsageError> {
    match cli.command {
        None => {
            let rows = run_catalogue(catalogue.scenarios(), DEFAULT_SEED, 1);
            print_table(&rows, DEFAULT_SEED, out).map_err(stdout_error)
        }
        Some(Command::All { paths, seed, jobs }) => {
            let seed = parse_seed(seed.as_deref())?;
            let jobs = parse_jobs(jobs)?;
            let rows = if paths.is_empty() {
                run_catalogue(catalogue.scenarios(), seed, jobs)
            } else {
                let files = crate::file::load_all(&paths).map_err(file_errors)?;
                let (paths, scenarios): (Vec<_>, Vec<_>) = files.into_iter().unzip();
                let mut rows = run_catalogue(&scenarios, seed, jobs);
                for (row, path) in rows.iter_mut().zip(paths) {
                    row.run_as = format!("tcpsim run {}", path.display());
                }
                rows
            };
            print_table(&rows, seed, out).map_err(stdout_error)
        }
        Some(Command::List { long }) => {
            list(catalogue, long, out).map_err(stdout_error)?;
            Ok(true)
        }
        Some(Command::Explain { name }) => {
            let scenario = find_scenario(catalogue, &name)?;
            out.write_all(crate::explain::explain(scenario).as_bytes())
                .map_err(stdout_error)?;
            Ok(true)
        }
        Some(Command::Run {
            name,
            seed,
            format,
            out: path,
            absolute,
            faults,
            at,
            capture_at,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let at = at
                .map(|t| {
                    if format != Format::Ss {
                        return Err(UsageError(
                            "--at is for --format ss (the sockets at a time)".into(),
                        ));
                    }
                    crate::file::parse_virtual_time(&t)
                        .map_err(|e| UsageError(format!("invalid --at: {e}")))
                })
                .transpose()?;
            if capture_at.is_some() && format != Format::Pcap {
                return Err(UsageError(
                    "--capture-at is for --format pcap (the capture of one host)".into(),
                ));
            }
            let from_file;
            let scenario = if name.ends_with(".toml") {
                let plan =
                    crate::file::load(Path::new(&name)).map_err(|e| UsageError(e.to_string()))?;
                from_file = plan.scenario();
                &from_file
            } else {
                find_scenario(catalogue, &name)?
            };
            if path.is_none() && format == Format::Pcap {
                return Err(UsageError("pcap output is binary: give --out FILE".into()));
            }
            // Check the output before running, so a bad path fails fast.
            let target = path.as_deref().map(OutFile::check).transpose()?;
            let faults = faults
                .as_deref()
                .map(crate::sweep::Profile::resolve)
                .transpose()
                .map_err(|e| UsageError(e.to_string()))?;
            let options = crate::run::RunOptions {
                metrics: matches!(format, Format::Metrics | Format::MetricsCsv),
            };
            let run = match (&faults, at) {
                (Some(_), Some(_)) => {
                    return Err(UsageError(
                        "--at stops a run early; it does not combine with --faults".into(),
                    ));
                }
                (None, Some(at)) => scenario.run_until(seed, at),
                (None, None) => scenario.run_with(seed, &options),
                (Some(profile), None) => crate::sweep::run_under_prepared(
                    scenario,
                    seed,
                    profile,
                    profile.is_none(),
                    |setup| {
                        setup.apply(&options);
                        Ok(())
                    },
                )
                .map(|(outcome, _)| outcome),
            };
            let outcome = match run {
                Ok(o) => o,
                Err(e) => {
                    // The run itself broke (e.g. its event budget): a failed
                    // scenario, reported as `tcpsim all` reports it.
                    writeln!(out, "{}: seed {seed}, verdict FAIL: {e}", scenario.name)
                        .map_err(stdout_error)?;
                    return Ok(false);
                }
            };
            let bytes = render(&outcome, format, absolute, capture_at.as_deref())?;
            match &target {
                Some(t) => t.write(&bytes)?,
                None => out.write_all(&bytes).map_err(stdout_error)?,
            }
            let stopped = if at.is_some() {
                " (stopped at --at)"
            } else {
                ""
            };
            let summary = format!(
                "{}: seed {seed}, {} events, {} simulated{stopped}, trace hash {:016x}, verdict {}",
                scenario.name,
                outcome.stats.processed_count,
                outcome.stats.now,
                outcome.stats.trace_hash,
                outcome.verdict()
            );
            if matches!(format, Format::Json | Format::Metrics | Format::MetricsCsv) {
                // Standard output carries JSON lines (or CSV) only (its `end` line
                // holds the same facts); the summary is for the person.
                let _ = writeln!(io::stderr(), "{summary}");
            } else {
                writeln!(out, "{summary}").map_err(stdout_error)?;
            }
            Ok(outcome.passed())
        }
        Some(Command::Plot {
            name,
            seed,
            conn,
            kind,
            out: path,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let scenario = scenario_named(&name, catalogue)?;
            crate::plot::command(&scenario, seed, conn, kind, path.as_deref(), out)
        }
        Some(Command::Script {
            files,
            seed,
            strict_end,
            define,
            exact,
            profile,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let defines = define
                .iter()
                .map(|d| crate::script::parse_define(d).map_err(UsageError))
                .collect::<Result<Vec<_>, _>>()?;
            let files = expand_scripts(&files)?;
            let profile = match profile {
                ScriptProfile::Rfc => crate::script::Profile::Rfc,
                ScriptProfile::Linux => crate::script::Profile::Linux,
            };
            let options = crate::script::Options {
                strict_end,
                exact,
                profile,
            };
            let scripts = load_scripts_with(&files, &defines)?;
            run_scripts(&scripts, seed, options, out, &mut io::stderr()).map_err(stdout_error)
        }
        Some(Command::Bench(args)) => crate::bench::command(args, out),
        Some(Command::Sweep(args)) => crate::sweep::command::sweep(&args, catalogue, out),
        Some(
            command @ (Command::Replay { .. } | Command::Shrink { .. } | Command::Diff { .. }),
        ) => run_command_status(
            Cli {
                command: Some(command),
            },
            catalogue,
            out,
        )
        .map(|status| status == 0),
        Some(Command::Merge { reports, json }) => {
            crate::sweep::command::merge_reports(&reports, json.as_deref(), out)
        }
        Some(Command::Fuzz {
            target,
            iterations,
            seed,
            skip,
        }) => {
            let seed = parse_seed(seed.as_deref())?;
            let target = match target {
                FuzzTarget::Wire => crate::fuzz::Target::Wire,
                FuzzTarget::Endpoint => crate::fuzz::Target::Endpoint,
            };
            if skip.checked_add(iterations).is_none() {
                return Err(UsageError(format!(
                    "--skip {skip} plus --iterations {iterations} runs past the last iteration number"
                )));
            }
            crate::fuzz::run_cli(target, seed, skip, iterations, out).map_err(stdout_error)
        }
    }
}

/// The scenario `name` names: a scenario file (`.toml`) or one in
/// `catalogue` (`tcpsim plot`; `tcpsim run` looks it up the same way).
pub fn scenario_named(name: &str, catalogue: &Catalogue) -> Result<Scenario, UsageError> {
    if name.ends_with(".toml") {
        let plan = crate::file::load(Path::new(name)).map_err(|e| UsageError(e.to_string()))?;
        Ok(plan.scenario())
    } else {
        catalogue
            .find(name)
            .cloned()
            .ok_or_else(|| UsageError(format!("unknown scenario {name:?} (see `tcpsim list`)")))
    }
}

/// `tcpsim list`: name, summary and RFC references; `--long` adds each
/// scenario's documentation, wrapped and indented.
fn list(catalogue: &Catalogue, long: bool, out: &mut impl Write) -> io::Result<()> {
    for s in catalogue.scenarios() {
        let references = crate::explain::rfc_references(s.doc);
        if references.is_empty() {
            writeln!(out, "{:<26} {}", s.name, s.summary)?;
        } else {
            writeln!(
                out,
                "{:<26} {}  [{}]",
                s.name,
                s.summary,
                references.join(", ")
            )?;
        }
        if long {
            for line in crate::explain::wrap(s.doc, 72) {
                writeln!(out, "{:<27}{line}", "")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The scenario called `name`, or a usage error that suggests the closest
/// name when the given one looks like a misspelling of it.
fn find_scenario<'c>(catalogue: &'c Catalogue, name: &str) -> Result<&'c Scenario, UsageError> {
    catalogue.find(name).ok_or_else(|| {
        let names = catalogue.scenarios().iter().map(|s| s.name);
        match crate::explain::did_you_mean(name, names) {
            Some(close) => UsageError(format!(
                "unknown scenario {name:?}: did you mean {close:?}? (see `tcpsim list`)"
            )),
            None => UsageError(format!("unknown scenario {name:?} (see `tcpsim list`)")),
        }
    })
}

/// Every bad scenario file, one per line.
fn file_errors(errors: Vec<crate::file::FileError>) -> UsageError {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    UsageError(lines.join("\n"))
}

/// The one line `tcpsim` prints for a command line clap rejects. Clap's
/// first line names most problems; for a missing argument it names the
/// argument only on the following lines, so say it here, with the usage.
pub fn usage_error_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::MissingRequiredArgument {
        let missing = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::Strings(args)) if !args.is_empty() => args.join(", "),
            _ => "a required argument".to_string(),
        };
        let mut line = format!("missing argument {missing}");
        if let Some(usage) = e.get(ContextKind::Usage) {
            let usage = usage.to_string();
            let usage = usage.trim().trim_start_matches("Usage:").trim();
            line.push_str(&format!(" (usage: {usage})"));
        }
        if missing.contains("<NAME>") {
            line.push_str("; `tcpsim list` shows the scenario names");
        }
        return line;
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").trim().to_string()
}
