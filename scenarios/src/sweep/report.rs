//! The sweep report: only deterministic content (no wall clock), so the
//! same sweep gives the same bytes at any thread count, and shards merge
//! into the report one machine would have written ([`merge`]).

use super::coverage::Coverage;
use super::profile::Profile;
use super::{RunResult, Seeds, Shard};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report's format tag; a report with another is refused by [`merge`].
pub const FORMAT: &str = "tcpsim-sweep/1";

/// What was swept: equal in every shard of one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// `--scenario` as given: a name, `all`, or a file.
    pub scenario: String,
    /// The scenarios run for each seed, in order.
    pub scenarios: Vec<String>,
    /// `--faults` as given: a built-in name or a file.
    pub faults: String,
    /// The profile itself, as used.
    pub profile: Profile,
    /// The seed range.
    pub seeds: Seeds,
    /// Whether the scenarios' own expectations were checked.
    pub expectations: bool,
    /// Whether `--stop-on-failure` was given.
    pub stop_on_failure: bool,
}

/// Totals over the runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Runs made (seeds × scenarios, fewer if stopped early).
    pub runs: u64,
    /// Runs that passed.
    pub passed: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Failed runs per oracle (a run that failed two oracles counts in both).
    pub failures_by_oracle: BTreeMap<String, u64>,
    /// Engine events processed over all runs.
    pub events: u64,
    /// Virtual time simulated over all runs, in nanoseconds.
    pub simulated_ns: u64,
    /// Order-independent digest of every run's (seed, scenario, trace
    /// hash): two sweeps with the same digest ran the same traces.
    pub digest: String,
}

/// Totals for one scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSummary {
    /// The scenario's name.
    pub name: String,
    /// Runs made.
    pub runs: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Engine events processed.
    pub events: u64,
    /// Virtual time simulated, in nanoseconds.
    pub simulated_ns: u64,
}

/// One failed run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The oracles that failed (`expectation` for the scenario's own,
    /// `run` when the run itself broke, e.g. its event budget).
    pub oracles: Vec<String>,
    /// Every failure as `[oracle] message`, joined by `; `.
    pub message: String,
    /// The run's trace hash, as 16 hex digits.
    pub trace_hash: String,
    /// The seed's faults: profile, kinds drawn, crash.
    pub faults: String,
    /// One command that reproduces it.
    pub reproduce: String,
}

/// A whole sweep's (or one shard's) report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepReport {
    /// The report format's name and version, [`FORMAT`].
    pub format: String,
    /// What was swept.
    pub sweep: SweepSpec,
    /// This report's shard, or none for a whole sweep (or a merge).
    pub shard: Option<Shard>,
    /// `--stop-on-failure` stopped the sweep at its first failure.
    pub stopped_early: bool,
    /// Totals over every run.
    pub summary: Summary,
    /// Totals per scenario, in sweep order.
    pub scenarios: Vec<ScenarioSummary>,
    /// Failed runs in seed order, then scenario order.
    pub failures: Vec<Failure>,
    /// State × event coverage summed over every run.
    pub coverage: Coverage,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn parse_digest(text: &str) -> Result<u64, String> {
    u64::from_str_radix(text, 16).map_err(|_| format!("bad digest {text:?}"))
}

impl SweepReport {
    /// An empty report for `sweep`.
    pub fn new(sweep: SweepSpec, shard: Option<Shard>) -> SweepReport {
        let scenarios = sweep
            .scenarios
            .iter()
            .map(|name| ScenarioSummary {
                name: name.clone(),
                ..ScenarioSummary::default()
            })
            .collect();
        SweepReport {
            format: FORMAT.to_string(),
            sweep,
            shard,
            stopped_early: false,
            summary: Summary {
                digest: format!("{:016x}", 0),
                ..Summary::default()
            },
            scenarios,
            failures: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    /// Adds one run (runs are added in seed order, then scenario order).
    pub fn add(&mut self, run: &RunResult) {
        let s = &mut self.summary;
        s.runs += 1;
        s.events += run.events;
        s.simulated_ns += run.simulated_ns;
        let name_hash = run.scenario.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let digest = parse_digest(&s.digest)
            .unwrap_or(0)
            .wrapping_add(mix(mix(run.seed ^ name_hash).wrapping_add(run.trace_hash)));
        s.digest = format!("{digest:016x}");
        if let Some(sc) = self.scenarios.get_mut(run.scenario_index) {
            sc.runs += 1;
            sc.events += run.events;
            sc.simulated_ns += run.simulated_ns;
            if !run.passed() {
                sc.failed += 1;
            }
        }
        if run.passed() {
            s.passed += 1;
        } else {
            s.failed += 1;
            let mut oracles: Vec<String> = Vec::new();
            for (o, _) in &run.failures {
                if !oracles.contains(o) {
                    oracles.push(o.clone());
                }
            }
            for o in &oracles {
                *s.failures_by_oracle.entry(o.clone()).or_default() += 1;
            }
            self.failures.push(Failure {
                seed: run.seed,
                scenario: run.scenario.clone(),
                oracles,
                message: run.message(),
                trace_hash: format!("{:016x}", run.trace_hash),
                faults: run.faults.clone(),
                reproduce: run.reproduce.clone(),
            });
        }
        self.coverage.add(&run.coverage);
    }

    /// The report as pretty JSON with a final newline: the bytes `--json`
    /// writes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report always serializes");
        text.push('\n');
        text
    }

    /// Reads a report written by [`SweepReport::to_json`].
    pub fn from_json(text: &str) -> Result<SweepReport, String> {
        let r: SweepReport = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if r.format != FORMAT {
            return Err(format!(
                "format {:?} is not {FORMAT:?} (a report of another version)",
                r.format
            ));
        }
        parse_digest(&r.summary.digest)?;
        Ok(r)
    }

    /// Whether every run passed.
    pub fn passed(&self) -> bool {
        self.summary.failed == 0
    }

    /// The human summary: runs, failures by oracle, totals, then the
    /// coverage table. Deterministic (wall-clock figures are printed apart).
    pub fn summary_text(&self) -> String {
        let s = &self.summary;
        let seeds = self.sweep.seeds;
        let mut out = format!(
            "sweep {} x seeds {}..={} ({}), faults {}: {} runs, {} passed, {} failed{}\n",
            self.sweep.scenario,
            seeds.first,
            seeds.last,
            match self.shard {
                Some(sh) => format!("shard {}/{}", sh.index, sh.count),
                None => "all shards".to_string(),
            },
            self.sweep.faults,
            s.runs,
            s.passed,
            s.failed,
            if self.stopped_early {
                " (stopped at the first failure)"
            } else {
                ""
            }
        );
        if !s.failures_by_oracle.is_empty() {
            let parts: Vec<String> = s
                .failures_by_oracle
                .iter()
                .map(|(o, n)| format!("{o} {n}"))
                .collect();
            out.push_str(&format!("failures by oracle: {}\n", parts.join(", ")));
        }
        out.push_str(&format!(
            "{} events, {:.3} s simulated, digest {}\n",
            s.events,
            s.simulated_ns as f64 / 1e9,
            s.digest
        ));
        out.push_str(&self.coverage.table());
        out
    }
}

/// Merges the shard reports of one sweep into the report one machine would
/// have written: every shard `0..N` exactly once, all of the same sweep,
/// none stopped early. Anything else is an error naming the problem.
pub fn merge(reports: &[SweepReport]) -> Result<SweepReport, String> {
    let first = reports.first().ok_or("no reports to merge")?;
    let count = match first.shard {
        Some(s) => s.count,
        None => {
            return Err("the first report is a whole sweep, not a shard: nothing to merge".into());
        }
    };
    let mut seen = vec![false; count as usize];
    for (i, r) in reports.iter().enumerate() {
        let n = i + 1;
        if r.sweep != first.sweep {
            return Err(format!(
                "report {n} is from a different sweep than report 1 (scenario, faults, seeds or options differ)"
            ));
        }
        let Some(shard) = r.shard else {
            return Err(format!("report {n} is a whole sweep, not a shard"));
        };
        if shard.count != count {
            return Err(format!(
                "report {n} is shard {}/{} but report 1 is of {count} shards",
                shard.index, shard.count
            ));
        }
        if shard.index >= count {
            return Err(format!(
                "report {n} names shard {}/{count}, which does not exist",
                shard.index
            ));
        }
        if std::mem::replace(&mut seen[shard.index as usize], true) {
            return Err(format!("shard {}/{count} is given twice", shard.index));
        }
        if r.stopped_early {
            return Err(format!(
                "report {n} stopped at its first failure (--stop-on-failure): shards that stopped cannot add up to a whole sweep"
            ));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!(
            "shard {missing}/{count} is missing ({} of {count} given)",
            reports.len()
        ));
    }
    let mut out = SweepReport::new(first.sweep.clone(), None);
    let mut digest = 0u64;
    let mut failures = Vec::new();
    for r in reports {
        let s = &mut out.summary;
        s.runs += r.summary.runs;
        s.passed += r.summary.passed;
        s.failed += r.summary.failed;
        s.events += r.summary.events;
        s.simulated_ns += r.summary.simulated_ns;
        for (o, n) in &r.summary.failures_by_oracle {
            *s.failures_by_oracle.entry(o.clone()).or_default() += n;
        }
        digest = digest.wrapping_add(parse_digest(&r.summary.digest)?);
        if r.scenarios.len() != out.scenarios.len() {
            return Err("a report's scenario totals do not match its sweep".into());
        }
        for (a, b) in out.scenarios.iter_mut().zip(&r.scenarios) {
            a.runs += b.runs;
            a.failed += b.failed;
            a.events += b.events;
            a.simulated_ns += b.simulated_ns;
        }
        failures.extend(r.failures.iter().cloned());
        if r.coverage.counts.len() != out.coverage.counts.len()
            || r.coverage.events != out.coverage.events
        {
            return Err("a report's coverage table has another shape".into());
        }
        out.coverage.add(&r.coverage);
    }
    out.summary.digest = format!("{digest:016x}");
    let order = |name: &str| first.sweep.scenarios.iter().position(|s| s == name);
    failures.sort_by_key(|f| (f.seed, order(&f.scenario)));
    out.failures = failures;
    Ok(out)
}
