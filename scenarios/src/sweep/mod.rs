//! Sweeps: scenarios x seeds x a fault profile, checked by the oracles,
//! with state coverage, in seed order at any thread count.
//!
//! ```
//! use scenarios::sweep::{Profile, Seeds, Sweep};
//!
//! // Seeds 1 to 3 of the three-way handshake under heavy faults, on 2 threads.
//! let handshake = scenarios::catalogue::find("handshake").unwrap().clone();
//! let report = Sweep::new(vec![handshake], Seeds::new(1, 3).unwrap())
//!     .faults("heavy", Profile::heavy())
//!     .jobs(2)
//!     .run();
//! assert_eq!(report.summary.runs, 3);
//! assert!(report.passed(), "{:?}", report.failures);
//! ```
//!
//! What is checked ([`Sweep::expectations`]): the built-in oracles
//! (delivery, transitions, termination, segments) and a scenario's own
//! [`crate::catalogue::Scenario::oracle`]s on every run; a scenario's
//! [`crate::catalogue::Scenario::expect`]ations only without faults, since
//! they tell the fault-free story ("exactly one retransmission") that
//! faults legitimately change. After a host crash, a connection whose peer
//! crashed may stay open for ever (a half-open connection that only
//! learns of the crash when it sends, RFC 9293 §3.5.2), and so may an
//! idle connection whose peer's RST was lost (an RST is never
//! retransmitted): under faults the termination oracle excuses those two
//! kinds of half-open connection and no other (see
//! [`check_termination_under_faults`]).
//!
//! - [`profile`]: fault profiles as data, and the per-seed plan.
//! - [`coverage`]: (TCP state, event) coverage.
//! - [`report`]: the deterministic report and the merge of shards.
//! - [`command`]: `tcpsim sweep` and `tcpsim merge`.

pub mod command;
pub mod coverage;
pub mod profile;
pub mod report;

pub use coverage::Coverage;
pub use profile::{FaultPlan, Profile, ProfileError};
pub use report::{Failure, SweepReport, SweepSpec, merge};

use crate::catalogue::Scenario;
use crate::oracle;
use crate::run::{Outcome, Setup, execute_driven};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sim::SimError;
use stack::SocketInfo;
use std::fmt;

/// An inclusive range of seeds, `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seeds {
    /// The first seed.
    pub first: u64,
    /// The last seed (included).
    pub last: u64,
}

impl Seeds {
    /// `first..=last`; `None` if `last < first`.
    pub fn new(first: u64, last: u64) -> Option<Seeds> {
        (first <= last).then_some(Seeds { first, last })
    }

    /// How many seeds.
    pub fn len(&self) -> u64 {
        (self.last - self.first).saturating_add(1)
    }

    /// Never empty; here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `--seeds`: `A..B` (B excluded, as in Rust), `A..=B`, or one seed `A`.
    pub fn parse(text: &str) -> Result<Seeds, String> {
        let bad = || {
            format!(
                "invalid --seeds {text:?}: expected A..B (B excluded), A..=B or one seed, unsigned 64-bit integers"
            )
        };
        let num = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
        let (first, last) = if let Some((a, b)) = text.split_once("..=") {
            (num(a)?, num(b)?)
        } else if let Some((a, b)) = text.split_once("..") {
            let (a, b) = (num(a)?, num(b)?);
            if b <= a {
                return Err(format!(
                    "invalid --seeds {text:?}: the range is empty ({b} is not above {a})"
                ));
            }
            (a, b - 1)
        } else {
            let a = num(text)?;
            (a, a)
        };
        Seeds::new(first, last).ok_or_else(|| {
            format!("invalid --seeds {text:?}: the range is empty ({last} is below {first})")
        })
    }
}

/// Shard `index` of `count`: the seeds whose position in the range is
/// `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard's index, `0..count`.
    pub index: u64,
    /// How many shards the sweep is split into (at least 1).
    pub count: u64,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The most shards `--shard` accepts.
pub const MAX_SHARDS: u64 = 1 << 20;

impl Shard {
    /// `index/count`, with `index < count` and `1 <= count <= MAX_SHARDS`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "invalid shard count {count}: expected 1 to {MAX_SHARDS}"
            ));
        }
        if index >= count {
            return Err(format!(
                "invalid shard {index}/{count}: the index must be below the count (0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `--shard I/N`, or `--shard N` with `I` from `env` (a lookup of
    /// `SLURM_ARRAY_TASK_ID`, then `JOB_COMPLETION_INDEX`).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |t: &str, what: &str| {
            t.trim().parse::<u64>().map_err(|_| {
                format!("invalid --shard {text:?}: {what} {t:?} is not an unsigned integer (expected I/N, or N with I from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)")
            })
        };
        match text.split_once('/') {
            Some((i, n)) => Shard::new(num(i, "index")?, num(n, "count")?),
            None => {
                let count = num(text, "count")?;
                let (var, value) = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
                    .iter()
                    .find_map(|v| env(v).map(|x| (*v, x)))
                    .ok_or_else(|| {
                        format!("--shard {text}: no shard index: give --shard I/{count}, or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX")
                    })?;
                let index = value.trim().parse::<u64>().map_err(|_| {
                    format!("--shard {text}: {var}={value:?} is not an unsigned integer")
                })?;
                Shard::new(index, count)
            }
        }
    }

    /// Whether the seed at `position` in the range (0-based) is this shard's.
    pub fn owns(&self, position: u64) -> bool {
        position % self.count == self.index
    }
}

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The scenario's position in the sweep's list.
    pub scenario_index: usize,
    /// The scenario's name.
    pub scenario: String,
    /// (oracle, message) of everything that failed; empty: passed.
    pub failures: Vec<(String, String)>,
    /// Engine events processed.
    pub events: u64,
    /// Virtual time at the end, in nanoseconds.
    pub simulated_ns: u64,
    /// The engine's trace hash.
    pub trace_hash: u64,
    /// The seed's faults in one line.
    pub faults: String,
    /// One command that reproduces the run.
    pub reproduce: String,
    /// Which (state, event) pairs the run visited.
    pub coverage: Coverage,
}

impl RunResult {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// What failed, one line: `[oracle] message; ...`.
    pub fn message(&self) -> String {
        let parts: Vec<String> = self
            .failures
            .iter()
            .map(|(o, m)| format!("[{o}] {m}"))
            .collect();
        parts.join("; ")
    }
}

/// A sweep: scenarios x seeds under a fault profile. Build with
/// [`Sweep::new`] and the builder methods, run with [`Sweep::run`].
#[derive(Clone)]
pub struct Sweep {
    /// Each scenario with how to name it on a command line (`handshake`,
    /// or a scenario file's path).
    scenarios: Vec<(Scenario, String)>,
    /// `--scenario` as given, for the report.
    scenario_label: String,
    seeds: Seeds,
    profile: Profile,
    /// `--faults` as given.
    faults_label: String,
    jobs: usize,
    stop_on_failure: bool,
    shard: Option<Shard>,
    expectations: bool,
}

impl Sweep {
    /// `scenarios` at every seed of `seeds`, without faults, on one thread.
    pub fn new(scenarios: Vec<Scenario>, seeds: Seeds) -> Sweep {
        let label = if scenarios.len() == 1 {
            scenarios[0].name.to_string()
        } else {
            "all".to_string()
        };
        Sweep {
            scenarios: scenarios
                .into_iter()
                .map(|s| {
                    let name = s.name.to_string();
                    (s, name)
                })
                .collect(),
            scenario_label: label,
            seeds,
            profile: Profile::none(),
            faults_label: "none".into(),
            jobs: 1,
            stop_on_failure: false,
            shard: None,
            expectations: true,
        }
    }

    /// How `--scenario` was given (for the report and reproductions), and
    /// how each scenario is named on a command line (a file's path).
    pub fn named(mut self, label: impl Into<String>, args: Option<Vec<String>>) -> Sweep {
        self.scenario_label = label.into();
        if let Some(args) = args {
            for ((_, arg), a) in self.scenarios.iter_mut().zip(args) {
                *arg = a;
            }
        }
        self
    }

    /// The fault profile, and how it is named on a command line (a built-in
    /// name or a file). Expectations are checked only under `none`.
    pub fn faults(mut self, label: impl Into<String>, profile: Profile) -> Sweep {
        self.expectations = profile.is_none();
        self.profile = profile;
        self.faults_label = label.into();
        self
    }

    /// Check (or not) the scenarios' own expectations, whatever the faults.
    pub fn expectations(mut self, on: bool) -> Sweep {
        self.expectations = on;
        self
    }

    /// Worker threads (at least 1); results do not depend on it.
    pub fn jobs(mut self, jobs: usize) -> Sweep {
        self.jobs = jobs.max(1);
        self
    }

    /// Stop at the first failure in seed order (deterministically: the
    /// report holds exactly the runs up to it, at any thread count).
    pub fn stop_on_failure(mut self, on: bool) -> Sweep {
        self.stop_on_failure = on;
        self
    }

    /// Run only this shard's seeds.
    pub fn shard(mut self, shard: Option<Shard>) -> Sweep {
        self.shard = shard;
        self
    }

    /// What the report says was swept.
    pub fn spec(&self) -> SweepSpec {
        SweepSpec {
            scenario: self.scenario_label.clone(),
            scenarios: self
                .scenarios
                .iter()
                .map(|(s, _)| s.name.to_string())
                .collect(),
            faults: self.faults_label.clone(),
            profile: self.profile.clone(),
            seeds: self.seeds,
            expectations: self.expectations,
            stop_on_failure: self.stop_on_failure,
        }
    }

    /// How many runs this sweep (this shard) makes.
    pub fn run_count(&self) -> u64 {
        let n = self.seeds.len();
        let seeds = match self.shard {
            None => n,
            Some(s) => n / s.count + u64::from(n % s.count > s.index),
        };
        seeds.saturating_mul(self.scenarios.len() as u64)
    }

    /// The command that reproduces `scenario` (by position) at `seed`.
    pub fn reproduce(&self, scenario: usize, seed: u64) -> String {
        let arg = &self.scenarios[scenario].1;
        if self.profile.is_none() && self.expectations {
            format!("tcpsim run {arg} --seed {seed}")
        } else {
            let mut cmd = format!(
                "tcpsim run {arg} --seed {seed} --faults {}",
                self.faults_label
            );
            if self.expectations != self.profile.is_none() {
                // `tcpsim run` decides expectations by the profile; say so.
                cmd = format!(
                    "tcpsim sweep --scenario {arg} --seeds {seed}..={seed} --faults {} {}",
                    self.faults_label,
                    if self.expectations {
                        "--expectations"
                    } else {
                        "--no-expectations"
                    }
                );
            }
            cmd
        }
    }

    /// Runs the sweep; see [`Sweep::run_with`].
    pub fn run(&self) -> SweepReport {
        self.run_with(|_| {})
    }

    /// Runs the sweep, calling `each` with every run in seed order, then
    /// scenario order, whatever the thread count.
    pub fn run_with(&self, mut each: impl FnMut(&RunResult)) -> SweepReport {
        let mut report = SweepReport::new(self.spec(), self.shard);
        let seeds = self.seeds;
        let shard = self.shard;
        // This shard's seeds, lazily: a million-seed range is not materialised.
        let mut positions = (0..seeds.len()).filter(|&p| shard.is_none_or(|s| s.owns(p)));
        let width = self.scenarios.len().max(1);
        let threads = self.jobs.clamp(1, crate::cli::MAX_JOBS);
        let pool = if threads > 1 {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .ok()
        } else {
            None
        };
        // Work in ordered batches: a batch runs in parallel, its results are
        // collected in order, then reported in order.
        let batch_seeds = (threads * 16).div_ceil(width).max(1);
        loop {
            let batch: Vec<(u64, usize)> = positions
                .by_ref()
                .take(batch_seeds)
                .flat_map(|p| (0..self.scenarios.len()).map(move |i| (seeds.first + p, i)))
                .collect();
            if batch.is_empty() {
                break;
            }
            let results: Vec<RunResult> = match &pool {
                Some(pool) => pool.install(|| {
                    batch
                        .par_iter()
                        .map(|&(seed, i)| self.run_one(i, seed))
                        .collect()
                }),
                None => batch
                    .iter()
                    .map(|&(seed, i)| self.run_one(i, seed))
                    .collect(),
            };
            for r in &results {
                report.add(r);
                each(r);
                if self.stop_on_failure && !r.passed() {
                    report.stopped_early = true;
                    return report;
                }
            }
        }
        report
    }

    /// Runs scenario `index` at `seed` under the sweep's profile.
    pub fn run_one(&self, index: usize, seed: u64) -> RunResult {
        let (scenario, _) = &self.scenarios[index];
        let mut result = RunResult {
            seed,
            scenario_index: index,
            scenario: scenario.name.to_string(),
            failures: Vec::new(),
            events: 0,
            simulated_ns: 0,
            trace_hash: 0,
            faults: self.profile.name.clone(),
            reproduce: self.reproduce(index, seed),
            coverage: Coverage::default(),
        };
        match run_under(scenario, seed, &self.profile, self.expectations) {
            Err(e) => result.failures.push(("run".into(), e.to_string())),
            Ok((outcome, plan)) => {
                result.faults = plan.describe();
                result.events = outcome.stats.processed_count;
                result.simulated_ns = outcome.stats.now.as_nanos();
                result.trace_hash = outcome.stats.trace_hash;
                for v in &outcome.violations {
                    result
                        .failures
                        .push((v.oracle.to_string(), v.detail.clone()));
                }
                if let Err(e) = &outcome.expectation {
                    result.failures.push(("expectation".into(), e.clone()));
                }
                let segments = crate::analysis::segments(outcome.world.trace());
                result.coverage = Coverage::of_run(&outcome, &segments);
            }
        }
        result
    }
}

/// The termination oracle under faults. Every connection must be gone or
/// in TIME-WAIT at the end, except two kinds of half-open connection
/// (RFC 9293 §3.5.2: a half-open connection is only discovered when it
/// sends), which faults make legitimate and which TCP without keepalive
/// keeps for ever:
///
/// - a connection to a host that crashed (its state went with the crash);
/// - an idle connection (ESTABLISHED or FIN-WAIT-2, nothing queued to send)
///   whose peer no longer has it: the peer's RST, which is never
///   retransmitted, was lost on the way.
///
/// A connection with data or a FIN still to deliver is never excused: it
/// retransmits, meets the peer's RST and must end. Nor is one with
/// keepalive on (RFC 9293 §3.8.4): its probes are there to find exactly
/// this peer, so it must end too.
pub fn check_termination_under_faults(
    outcome: &Outcome,
    crashed: Option<sim::Addr>,
) -> Vec<oracle::Violation> {
    let by_host = outcome.sockets_by_host();
    let addrs: Vec<std::net::Ipv4Addr> = (0..outcome.host_count())
        .map(|i| outcome.host(i).addr())
        .collect();
    let peer_has = |s: &SocketInfo| -> bool {
        let Some(peer) = addrs.iter().position(|a| a == s.remote.ip()) else {
            // Not one of the scenario's hosts: nobody to ask, no excuse.
            return true;
        };
        by_host[peer].1.iter().any(|p| {
            p.local == s.remote
                && p.remote == s.local
                && !matches!(p.state, stack::State::Closed | stack::State::TimeWait)
        })
    };
    let kept: Vec<(String, Vec<SocketInfo>)> = by_host
        .iter()
        .enumerate()
        .map(|(host, (name, sockets))| {
            let endpoint = &outcome.host(host).endpoint;
            let kept = sockets
                .iter()
                .filter(|s| {
                    let to_crashed = crashed == Some(sim::Addr::from(*s.remote.ip()));
                    let idle =
                        matches!(s.state, stack::State::Established | stack::State::FinWait2)
                            && s.send_queue == 0
                            && endpoint.keepalive(s.id).is_none();
                    !(to_crashed || idle && !peer_has(s))
                })
                .copied()
                .collect();
            (name.clone(), kept)
        })
        .collect();
    let view: Vec<(&str, &[SocketInfo])> = kept
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    oracle::check_termination(&view)
}

/// The segments oracle under faults, leaving out the 4-tuples an off-path
/// node (neither a host nor a router: an attacker) forged segments on.
/// The oracle follows one sender per direction of a tuple; a forged SYN
/// the listener accepts after the real client's SYN was lost (the
/// blind-reset attack under loss) makes two, and the server's correct
/// SYN-ACK to the forgery would read as ACKing data the client never sent.
/// Without faults nothing changes: the attack scenarios' expectations
/// check those exchanges exactly.
fn recheck_segments_without_forged(outcome: &mut Outcome) {
    let segments = crate::analysis::segments(outcome.world.trace());
    let forger = |node: sim::NodeId| {
        !outcome.is_host(node) && outcome.world.node::<sim::Router>(node).is_none()
    };
    let forged: std::collections::BTreeSet<_> = segments
        .iter()
        .filter(|s| s.kind == sim::EventKind::Send && forger(s.node))
        .flat_map(|s| [(s.src, s.dst), (s.dst, s.src)])
        .collect();
    if forged.is_empty() {
        return;
    }
    let kept: Vec<_> = segments
        .into_iter()
        .filter(|s| outcome.is_host(s.node) && !forged.contains(&(s.src, s.dst)))
        .collect();
    outcome.violations.retain(|v| v.oracle != "segments");
    let found = oracle::check_segments(&kept);
    outcome.violations.extend(found);
}

/// Runs `scenario` at `seed` under `profile`: its world with the seed's
/// faults added, every oracle, and its expectations if `expectations`.
/// The outcome can be rendered like any other (ladder, pcap...).
pub fn run_under(
    scenario: &Scenario,
    seed: u64,
    profile: &Profile,
    expectations: bool,
) -> Result<(Outcome, FaultPlan), SimError> {
    run_under_prepared(scenario, seed, profile, expectations, |_| Ok(()))
}

/// [`run_under`], with `prepare` called on the set-up once the plan's
/// faults are in and before it runs (capsules record or replay the fault
/// decisions there, see [`crate::capsule`]; `tcpsim run --faults` turns
/// metrics recording on there).
pub fn run_under_prepared(
    scenario: &Scenario,
    seed: u64,
    profile: &Profile,
    expectations: bool,
    prepare: impl FnOnce(&mut Setup) -> Result<(), SimError>,
) -> Result<(Outcome, FaultPlan), SimError> {
    if scenario.is_program() {
        return run_program_under(scenario, seed, profile, expectations, prepare);
    }
    let mut setup = scenario.setup(seed)?;
    let plan = profile.plan(seed, &setup);
    plan.apply(seed, &mut setup)?;
    prepare(&mut setup)?;
    let own_termination = !setup.open_at_end;
    let faulted = !plan.is_empty();
    if faulted {
        // Checked below, with the two excuses faults make legitimate.
        setup.open_at_end = true;
    }
    let mut outcome = execute_driven(seed, setup, |world, horizon| plan.drive(world, horizon))?;
    if faulted && own_termination {
        let crashed = plan
            .crash
            .as_ref()
            .and_then(|c| outcome.world.node_addr(c.node));
        let found = check_termination_under_faults(&outcome, crashed);
        outcome.violations.extend(found);
    }
    if faulted {
        recheck_segments_without_forged(&mut outcome);
    }
    scenario.judge(&mut outcome, expectations);
    Ok((outcome, plan))
}

/// [`run_under_prepared`] for a [program scenario](Scenario::program): the
/// plan is drawn from the world the program built and applied there, and a
/// crash drawn for a host that may not crash (the test body's) is not made.
/// The termination oracle is the program's business (its servers keep
/// their listeners when the test ends), so no excuse is needed for it.
fn run_program_under(
    scenario: &Scenario,
    seed: u64,
    profile: &Profile,
    expectations: bool,
    prepare: impl FnOnce(&mut Setup) -> Result<(), SimError>,
) -> Result<(Outcome, FaultPlan), SimError> {
    let mut prepare = Some(prepare);
    let mut drawn = None;
    let ran = scenario.run_program(seed, &mut |setup, crashable| {
        let mut plan = profile.plan(seed, setup);
        if plan
            .crash
            .as_ref()
            .is_some_and(|c| !crashable.contains(&c.node))
        {
            plan.crash = None;
            plan.kinds.crash = false;
        }
        plan.apply(seed, setup)?;
        if let Some(prepare) = prepare.take() {
            prepare(setup)?;
        }
        let crash = plan.crash.clone();
        drawn = Some(plan);
        Ok(crash)
    });
    let mut outcome = ran.unwrap_or_else(|| {
        Err(SimError::Scenario(format!(
            "scenario {} is not a program",
            scenario.name
        )))
    })?;
    let plan = drawn.ok_or_else(|| {
        SimError::Scenario(format!(
            "scenario {} ran without arranging its world: its program must call the hook once before it runs",
            scenario.name
        ))
    })?;
    scenario.judge(&mut outcome, expectations);
    Ok((outcome, plan))
}
