//! Shrinking: delta debugging (Zeller and Hildebrandt's ddmin) over a
//! capsule's fault decisions, down to a set that still fails the same
//! oracle and from which no single decision can be removed.
//!
//! A candidate is a sub-list of the decisions, kept in their recorded
//! order, replayed with exactly those faults (replay draws nothing else, so
//! removing one decision never changes what another does). The candidate
//! "still fails" if the capsule's oracle is among its failures; a candidate
//! that fails otherwise, or passes, is rejected. The empty list is tried
//! first: a failure that needs no fault at all shrinks to none.
//!
//! A capsule of a generated workload (`[scenario.generated] family =
//! "random"`) is shrunk in its workload too, before its decisions (every
//! later run is then cheaper): one edit at a time
//! ([`crate::generate::Workload::simpler`]: a session removed, fewer
//! connections, a bulk transfer removed or halved, a timed call removed, a
//! partition removed), replayed with the decisions kept so far, the first
//! edit in order that still fails taken, until no edit does; then the
//! decisions are shrunk against the smaller workload.
//!
//! The search is deterministic: the same capsule always shrinks to the same
//! result, whatever the thread count (candidates of one round may run in
//! parallel, and the first in order that still fails is taken).

use super::run::{Case, Faults, run_case};
use super::{Capsule, CapsuleError, ScenarioRef};
use crate::generate::{self, Workload};
use rayon::prelude::*;
use sim::decisions::Decision;

/// Limits of one shrink.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The most candidate runs (the result is the smallest found so far
    /// when it is reached).
    pub max_runs: usize,
    /// Threads for the candidates of one round (results do not depend on it).
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_runs: 5_000,
            jobs: 1,
        }
    }
}

/// A shrink's result.
pub struct Shrunk {
    /// The capsule with only the decisions that matter, its trace hash and
    /// message those of the shrunk run.
    pub capsule: Capsule,
    /// Candidate runs made.
    pub runs: usize,
    /// The run limit stopped the search before it was 1-minimal.
    pub truncated: bool,
}

/// What a candidate run found (the outcome itself stays on its thread).
struct Probe {
    failures: Vec<(String, String)>,
    trace_hash: u64,
    notes: Vec<String>,
}

impl Probe {
    fn fails(&self, oracle: &str) -> bool {
        self.failures.iter().any(|(o, _)| o == oracle)
    }
    fn message_of(&self, oracle: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|(o, _)| o == oracle)
            .map(|(_, m)| m.as_str())
    }
}

fn probe(case: &Case, list: &[Decision]) -> Result<Probe, CapsuleError> {
    let ran = run_case(case, Faults::Replay(list))?;
    Ok(Probe {
        failures: ran.failures,
        trace_hash: ran.trace_hash,
        notes: ran.notes,
    })
}

struct Search<'a> {
    case: &'a Case,
    oracle: &'a str,
    runs: usize,
    options: Options,
    pool: Option<rayon::ThreadPool>,
}

impl Search<'_> {
    fn exhausted(&self) -> bool {
        self.runs >= self.options.max_runs
    }

    fn try_one(&self, list: &[Decision]) -> Result<Option<Probe>, CapsuleError> {
        self.try_in(self.case, list)
    }

    fn try_in(&self, case: &Case, list: &[Decision]) -> Result<Option<Probe>, CapsuleError> {
        let p = probe(case, list)?;
        Ok(p.fails(self.oracle).then_some(p))
    }

    /// The first candidate, in order, that still fails (and its run).
    fn first_failing(
        &mut self,
        candidates: Vec<Vec<Decision>>,
    ) -> Result<Option<(Vec<Decision>, Probe)>, CapsuleError> {
        self.first_failing_by(candidates, |search, c| search.try_one(c))
    }

    /// The first of `candidates`, in order, for which `run` still fails.
    fn first_failing_by<T: Sync>(
        &mut self,
        candidates: Vec<T>,
        run: impl Fn(&Self, &T) -> Result<Option<Probe>, CapsuleError> + Sync,
    ) -> Result<Option<(T, Probe)>, CapsuleError> {
        let room = self.options.max_runs.saturating_sub(self.runs);
        let candidates: Vec<T> = candidates.into_iter().take(room).collect();
        let this = &*self;
        let results: Vec<Result<Option<Probe>, CapsuleError>> = match &self.pool {
            Some(pool) => pool.install(|| candidates.par_iter().map(|c| run(this, c)).collect()),
            None => {
                // One at a time, stopping at the first that fails.
                let mut out = Vec::new();
                for c in &candidates {
                    let r = run(this, c);
                    let stop = matches!(r, Ok(Some(_)) | Err(_));
                    out.push(r);
                    if stop {
                        break;
                    }
                }
                out
            }
        };
        self.runs += results.len();
        for (candidate, result) in candidates.into_iter().zip(results) {
            if let Some(ran) = result? {
                return Ok(Some((candidate, ran)));
            }
        }
        Ok(None)
    }
}

fn split(list: &[Decision], n: usize) -> Vec<std::ops::Range<usize>> {
    let len = list.len();
    (0..n)
        .map(|i| (i * len / n)..((i + 1) * len / n))
        .filter(|r| !r.is_empty())
        .collect()
}

/// ddmin over `current`, which still fails in `search`'s case (its run in
/// `best`): on return no chunk (down to single decisions) can be removed.
fn ddmin(
    search: &mut Search<'_>,
    current: &mut Vec<Decision>,
    best: &mut Probe,
) -> Result<(), CapsuleError> {
    // No fault at all?
    if !current.is_empty()
        && let Some((list, ran)) = search.first_failing(vec![Vec::new()])?
    {
        *current = list;
        *best = ran;
    }
    let mut n = 2usize;
    while current.len() >= 2 && !search.exhausted() {
        let chunks = split(current.as_slice(), n);
        // Reduce to a subset...
        let subsets: Vec<Vec<Decision>> =
            chunks.iter().map(|r| current[r.clone()].to_vec()).collect();
        if let Some((list, ran)) = search.first_failing(subsets)? {
            *current = list;
            *best = ran;
            n = 2;
            continue;
        }
        // ...or to a complement.
        if chunks.len() > 2 {
            let complements: Vec<Vec<Decision>> = chunks
                .iter()
                .map(|r| {
                    current[..r.start]
                        .iter()
                        .chain(&current[r.end..])
                        .cloned()
                        .collect()
                })
                .collect();
            if let Some((list, ran)) = search.first_failing(complements)? {
                *current = list;
                *best = ran;
                n = (n - 1).max(2);
                continue;
            }
        }
        if n >= current.len() {
            break;
        }
        n = (2 * n).min(current.len());
    }
    Ok(())
}

/// Cuts a generated workload down one edit at a time (see the module
/// documentation), replaying `decisions`: the smallest workload found, and
/// whether any edit was kept.
fn shrink_workload(
    search: &mut Search<'_>,
    case: &Case,
    mut workload: Workload,
    decisions: &[Decision],
    best: &mut Probe,
) -> Result<(Workload, bool), CapsuleError> {
    let mut edited = false;
    while !search.exhausted() {
        let candidates: Vec<(Workload, Case)> = workload
            .simpler()
            .into_iter()
            .map(|w| {
                let case = Case {
                    scenario: w.clone().scenario(),
                    ..case.clone()
                };
                (w, case)
            })
            .collect();
        let found = search.first_failing_by(candidates, |s, (_, c)| s.try_in(c, decisions))?;
        let Some(((smaller, _), ran)) = found else {
            break;
        };
        workload = smaller;
        *best = ran;
        edited = true;
    }
    Ok((workload, edited))
}

/// Shrinks `capsule`'s decisions (see the module documentation). The
/// capsule must fail its oracle when replayed in full: otherwise there is
/// nothing to shrink and the error says what the replay found.
pub fn shrink(capsule: &Capsule, case: &Case, options: Options) -> Result<Shrunk, CapsuleError> {
    let pool = if options.jobs > 1 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(options.jobs)
            .build()
            .ok()
    } else {
        None
    };
    let mut search = Search {
        case,
        oracle: &capsule.oracle,
        runs: 0,
        options,
        pool,
    };
    let full = probe(case, &capsule.decisions)?;
    search.runs += 1;
    if !full.fails(&capsule.oracle) {
        let now = if full.failures.is_empty() {
            "it passes".to_string()
        } else {
            let oracles: Vec<&str> = full.failures.iter().map(|(o, _)| o.as_str()).collect();
            format!("it fails {}", oracles.join(", "))
        };
        return Err(CapsuleError(format!(
            "nothing to shrink: replayed in full, the capsule no longer fails [{}] ({now})",
            capsule.oracle
        )));
    }
    let mut current = capsule.decisions.clone();
    let mut best = full;
    let mut scenario = capsule.scenario.clone();
    let workload = match &capsule.scenario {
        ScenarioRef::Generated { family, params } if family == generate::FAMILY => {
            Workload::from_table(params).ok()
        }
        _ => None,
    };
    match workload {
        None => ddmin(&mut search, &mut current, &mut best)?,
        Some(workload) => {
            // No fault at all? Then the workload is cut with none.
            if !current.is_empty()
                && let Some((list, ran)) = search.first_failing(vec![Vec::new()])?
            {
                current = list;
                best = ran;
            }
            // The workload first: every later run is then cheaper.
            let (smaller, edited) =
                shrink_workload(&mut search, case, workload, &current, &mut best)?;
            let smaller_case = Case {
                scenario: smaller.clone().scenario(),
                ..case.clone()
            };
            let mut faults = Search {
                case: &smaller_case,
                oracle: search.oracle,
                runs: search.runs,
                options: search.options,
                pool: search.pool.take(),
            };
            ddmin(&mut faults, &mut current, &mut best)?;
            search.runs = faults.runs;
            if edited {
                scenario = ScenarioRef::Generated {
                    family: generate::FAMILY.into(),
                    params: smaller.to_table(),
                };
            }
        }
    }
    // A single decision left: maybe it is not needed either (the empty
    // list was tried first, so it is).
    let truncated = search.exhausted() && current.len() >= 2;
    let message = best
        .message_of(&capsule.oracle)
        .unwrap_or(&capsule.message)
        .to_string();
    Ok(Shrunk {
        capsule: Capsule {
            scenario,
            decisions: current,
            notes: best.notes.clone(),
            trace_hash: best.trace_hash,
            message,
            shrunk_from: Some(capsule.shrunk_from.unwrap_or(capsule.decisions.len())),
            ..capsule.clone()
        },
        runs: search.runs,
        truncated,
    })
}
