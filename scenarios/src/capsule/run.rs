//! Running a case with its fault decisions recorded or replayed, writing a
//! capsule of a failure, and replaying one.

use super::{Capsule, CapsuleError, Resolver, ScenarioRef};
use crate::catalogue::Scenario;
use crate::run::Outcome;
use crate::sweep::{Profile, run_under_prepared};
use sim::SimError;
use sim::decisions::Decision;
use std::path::Path;

/// One run to make: a scenario at a seed under a profile.
#[derive(Clone)]
pub struct Case {
    /// The scenario to run.
    pub scenario: Scenario,
    /// The seed to run it at.
    pub seed: u64,
    /// The fault profile its faults are drawn from.
    pub profile: Profile,
    /// Check the scenario's own expectations (a sweep does only without faults).
    pub expectations: bool,
}

/// How a run makes its fault decisions.
#[derive(Clone, Copy, Debug)]
pub enum Faults<'a> {
    /// Draw them from the seed, as any run, and record them.
    Record,
    /// Apply exactly these, and no other.
    Replay(&'a [Decision]),
}

/// A finished run: what failed, its trace hash, its decisions.
pub struct Ran {
    /// `None` when the run itself broke before it finished (see `failures`).
    pub outcome: Option<Outcome>,
    /// `(oracle, message)` of everything that failed, in oracle order;
    /// `run` when the run broke (its event budget), `panic` if it panicked.
    pub failures: Vec<(String, String)>,
    /// The engine's trace hash of the run.
    pub trace_hash: u64,
    /// The decisions recorded, or the list replayed.
    pub decisions: Vec<Decision>,
    /// For each decision, what it is in words: a fault rule's name
    /// (`heavy: loss`), else its kind.
    pub notes: Vec<String>,
}

/// What `decisions` are in words, in `world`: a fault rule by its name.
pub fn notes(world: &sim::World, decisions: &[Decision]) -> Vec<String> {
    let link_of = |label: &str| {
        (0..)
            .map(sim::LinkId)
            .map_while(|id| world.link_name(id).map(|name| (id, name)))
            .find(|(_, name)| *name == label)
            .map(|(id, _)| id)
    };
    decisions
        .iter()
        .map(|d| match &d.fault {
            sim::decisions::Fault::Rule { index, .. } => link_of(&d.link)
                .and_then(|l| world.faults(l).get(*index as usize))
                .map_or_else(|| "fault rule".to_string(), |r| r.name().to_string()),
            other => other.kind().to_string(),
        })
        .collect()
}

impl Ran {
    /// No oracle failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether `oracle` is among the failures.
    pub fn fails(&self, oracle: &str) -> bool {
        self.failures.iter().any(|(o, _)| o == oracle)
    }

    /// The message of `oracle`'s first failure.
    pub fn message_of(&self, oracle: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|(o, _)| o == oracle)
            .map(|(_, m)| m.as_str())
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// Runs `case`, recording or replaying its fault decisions. A replay list
/// that names a link or rule the scenario's world does not have is an
/// error; anything that fails in the run is in [`Ran::failures`].
pub fn run_case(case: &Case, faults: Faults<'_>) -> Result<Ran, CapsuleError> {
    let mut refused = None;
    let prepare = |setup: &mut crate::run::Setup| match faults {
        Faults::Record => {
            setup.world.record_decisions();
            Ok(())
        }
        Faults::Replay(list) => setup.world.replay_decisions(list).map_err(|e| {
            let line = e.to_string();
            refused = Some(line.clone());
            SimError::InvalidFault {
                rule: "capsule decisions".into(),
                reason: line,
            }
        }),
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_under_prepared(
            &case.scenario,
            case.seed,
            &case.profile,
            case.expectations,
            prepare,
        )
    }));
    if let Some(line) = refused {
        return Err(CapsuleError(line));
    }
    let replayed = match faults {
        Faults::Replay(list) => list.to_vec(),
        Faults::Record => Vec::new(),
    };
    Ok(match run {
        Err(payload) => Ran {
            outcome: None,
            failures: vec![("panic".into(), panic_text(payload.as_ref()))],
            trace_hash: 0,
            notes: vec![String::new(); replayed.len()],
            decisions: replayed,
        },
        Ok(Err(e)) => Ran {
            outcome: None,
            failures: vec![("run".into(), e.to_string())],
            trace_hash: 0,
            notes: vec![String::new(); replayed.len()],
            decisions: replayed,
        },
        Ok(Ok((outcome, _plan))) => {
            let mut failures: Vec<(String, String)> = outcome
                .violations
                .iter()
                .map(|v| (v.oracle.to_string(), v.detail.clone()))
                .collect();
            if let Err(e) = &outcome.expectation {
                failures.push(("expectation".into(), e.clone()));
            }
            let decisions = match faults {
                Faults::Record => outcome.world.recorded_decisions(),
                Faults::Replay(_) => replayed,
            };
            Ran {
                trace_hash: outcome.stats.trace_hash,
                notes: notes(&outcome.world, &decisions),
                outcome: Some(outcome),
                failures,
                decisions,
            }
        }
    })
}

/// Runs `case` with its decisions recorded and, if it fails, returns the
/// capsule of its first failure (`None`: it passed). `scenario` says how
/// to find the scenario again, `faults` how the profile was named.
pub fn capture(
    case: &Case,
    scenario: ScenarioRef,
    faults: &str,
) -> Result<Option<Capsule>, CapsuleError> {
    let ran = run_case(case, Faults::Record)?;
    let Some((oracle, message)) = ran.failures.first().cloned() else {
        return Ok(None);
    };
    Ok(Some(Capsule {
        scenario,
        seed: case.seed,
        faults: faults.to_string(),
        profile: case.profile.clone(),
        expectations: case.expectations,
        decisions: ran.decisions,
        notes: ran.notes,
        trace_hash: ran.trace_hash,
        oracle,
        message,
        shrunk_from: None,
    }))
}

/// The case a capsule describes; `base` is the capsule's folder.
pub fn case_of(
    capsule: &Capsule,
    resolver: &Resolver,
    base: Option<&Path>,
) -> Result<Case, CapsuleError> {
    Ok(Case {
        scenario: resolver.scenario(&capsule.scenario, base)?,
        seed: capsule.seed,
        profile: capsule.profile.clone(),
        expectations: capsule.expectations,
    })
}

/// What a replay found, against what the capsule recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The recorded oracle fails again, with the recorded trace hash: the
    /// failure reproduces exactly.
    Reproduced,
    /// The recorded oracle fails again but the run differs (the stack or
    /// the scenario changed since the capsule was written).
    SameOracleOtherRun,
    /// Something fails, but not the recorded oracle.
    OtherFailure,
    /// Nothing fails any more.
    Passes,
}

impl Verdict {
    /// `tcpsim replay`'s exit status: 1 while the recorded failure is
    /// there (exactly or not), 3 for another failure, 0 once it passes.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Reproduced | Verdict::SameOracleOtherRun => 1,
            Verdict::OtherFailure => 3,
            Verdict::Passes => 0,
        }
    }
}

/// A replay's result.
pub struct Replay {
    /// How the replay compares with the recorded failure.
    pub verdict: Verdict,
    /// The replayed run itself.
    pub ran: Ran,
}

impl Replay {
    /// What the replay found, in a few lines for the terminal.
    pub fn report(&self, capsule: &Capsule) -> String {
        let hash = format!("{:016x}", self.ran.trace_hash);
        let recorded = format!("{:016x}", capsule.trace_hash);
        let head = format!(
            "{} seed {}, faults {}, {} fault decision{}",
            capsule.scenario,
            capsule.seed,
            capsule.faults,
            capsule.decisions.len(),
            if capsule.decisions.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        let what = match self.verdict {
            Verdict::Reproduced => format!(
                "reproduced: trace hash {hash} as recorded, [{}] fails again: {}",
                capsule.oracle,
                self.ran.message_of(&capsule.oracle).unwrap_or("")
            ),
            Verdict::SameOracleOtherRun => format!(
                "same failure, different run: [{}] fails again ({}), but the trace hash is {hash}, recorded {recorded}",
                capsule.oracle,
                self.ran.message_of(&capsule.oracle).unwrap_or("")
            ),
            Verdict::OtherFailure => {
                let parts: Vec<String> = self
                    .ran
                    .failures
                    .iter()
                    .map(|(o, m)| format!("[{o}] {m}"))
                    .collect();
                format!(
                    "fails differently: recorded [{}], now {} (trace hash {hash}, recorded {recorded})",
                    capsule.oracle,
                    parts.join("; ")
                )
            }
            Verdict::Passes => format!(
                "passes now: [{}] no longer fails (trace hash {hash}, recorded {recorded})",
                capsule.oracle
            ),
        };
        format!("{head}\n{what}\n")
    }
}

/// Replays `capsule` with exactly its decisions and compares.
pub fn replay(capsule: &Capsule, case: &Case) -> Result<Replay, CapsuleError> {
    let ran = run_case(case, Faults::Replay(&capsule.decisions))?;
    let verdict = if ran.fails(&capsule.oracle) {
        if ran.trace_hash == capsule.trace_hash {
            Verdict::Reproduced
        } else {
            Verdict::SameOracleOtherRun
        }
    } else if ran.passed() {
        Verdict::Passes
    } else {
        Verdict::OtherFailure
    };
    Ok(Replay { verdict, ran })
}
