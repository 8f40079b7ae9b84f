//! Capsules: one failure as a small TOML file that replays it exactly.
//!
//! A capsule holds what a run needs to happen again, and what it found:
//!
//! - the scenario: a catalogue name, a scenario file, or a generated
//!   family with its parameters ([`ScenarioRef`]);
//! - the seed, and the fault profile in full (so a capsule does not depend
//!   on a profile file that may change), and whether the scenario's own
//!   expectations were checked;
//! - the engine's recorded fault decisions ([`sim::decisions`]): every
//!   loss, corruption, duplication, reordering, jitter and fault-rule hit,
//!   by link direction, packet ordinal and kind. Replay applies exactly
//!   these and draws no other, so a shrunk capsule is a run with only the
//!   listed faults;
//! - the trace hash, the oracle that failed and its message.
//!
//! `tcpsim replay CAPSULE` runs it again and compares ([`run::replay`]);
//! `tcpsim shrink CAPSULE` cuts the decisions down by delta debugging
//! ([`shrink::shrink`]); `tcpsim diff A B` shows where two runs part
//! ([`diff`]). `docs/capsules.md` documents the format with an example.
//!
//! What a capsule does not hold as decisions: a host crash a profile drew
//! (it is part of the profile's plan for the seed, kept as is), and a
//! link's configured down windows (deterministic configuration). Both come
//! back from the scenario, seed and profile.

pub mod command;
pub mod diff;
pub mod run;
pub mod shrink;

use crate::catalogue::{Catalogue, Scenario};
use crate::sweep::Profile;
use serde::{Deserialize, Serialize};
use sim::decisions::Decision;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `format` line every capsule starts with.
pub const FORMAT: &str = "tcpsim-capsule/1";

/// Where a capsule's scenario comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScenarioRef {
    /// A catalogue scenario by name (`scenario = { catalogue = "handshake" }`),
    /// built in or added by the program ([`crate::cli::main_with`]).
    Catalogue(String),
    /// A scenario file (`scenario = { file = "examples/x.toml" }`); a
    /// relative path is tried from the working directory, then from the
    /// capsule's folder.
    File(PathBuf),
    /// A generated scenario family and its parameters
    /// (`[scenario.generated] family = "random"` and a `params` table):
    /// built by the family registered under that name in the [`Resolver`]
    /// ([`Resolver::family`]), so a generator's capsules replay and shrink
    /// like any other.
    Generated {
        /// The family's registered name (such as `random`).
        family: String,
        /// The family's parameters, as the family reads them.
        #[serde(default)]
        params: toml::Table,
    },
}

impl fmt::Display for ScenarioRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioRef::Catalogue(name) => f.write_str(name),
            ScenarioRef::File(path) => write!(f, "{}", path.display()),
            ScenarioRef::Generated { family, .. } => write!(f, "{family} (generated)"),
        }
    }
}

/// Builds a generated family's scenario from its parameters.
pub type Family = Arc<dyn Fn(&toml::Table) -> Result<Scenario, String> + Send + Sync>;

/// Finds a capsule's scenario again: the catalogue (with any scenarios a
/// program added), scenario files, and the generated families registered.
#[derive(Clone, Default)]
pub struct Resolver {
    catalogue: Catalogue,
    families: BTreeMap<String, Family>,
}

impl Resolver {
    /// Scenarios from `catalogue`, files, and no generated family yet.
    pub fn new(catalogue: Catalogue) -> Resolver {
        Resolver {
            catalogue,
            families: BTreeMap::new(),
        }
    }

    /// Registers a generated family: capsules naming `name` are built by
    /// `build` from their `params`.
    pub fn family(
        mut self,
        name: impl Into<String>,
        build: impl Fn(&toml::Table) -> Result<Scenario, String> + Send + Sync + 'static,
    ) -> Resolver {
        self.families.insert(name.into(), Arc::new(build));
        self
    }

    /// The scenario `r` names; `base` is the capsule's folder, for a
    /// relative scenario file.
    pub fn scenario(&self, r: &ScenarioRef, base: Option<&Path>) -> Result<Scenario, CapsuleError> {
        match r {
            ScenarioRef::Catalogue(name) => self.catalogue.find(name).cloned().ok_or_else(|| {
                CapsuleError(format!(
                    "the capsule's scenario {name:?} is not in the catalogue (see `tcpsim list`)"
                ))
            }),
            ScenarioRef::File(path) => {
                let found = match base {
                    Some(base) if !path.exists() && path.is_relative() => base.join(path),
                    _ => path.clone(),
                };
                crate::file::load(&found)
                    .map(|plan| plan.scenario())
                    .map_err(|e| CapsuleError(format!("the capsule's scenario file: {e}")))
            }
            ScenarioRef::Generated { family, params } => {
                let build = self.families.get(family).ok_or_else(|| {
                    let known: Vec<&str> = self.families.keys().map(String::as_str).collect();
                    CapsuleError(format!(
                        "the capsule's generated family {family:?} is not known here (known: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?;
                build(params)
                    .map_err(|e| CapsuleError(format!("the capsule's {family} parameters: {e}")))
            }
        }
    }
}

/// A capsule that cannot be read or used: one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapsuleError(pub String);

impl fmt::Display for CapsuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CapsuleError {}

/// One failure, ready to replay. See the module documentation; the file
/// form is [`Capsule::to_toml`] / [`Capsule::parse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Capsule {
    /// The scenario that failed.
    pub scenario: ScenarioRef,
    /// The seed it failed at.
    pub seed: u64,
    /// `--faults` as it was given (`heavy`, a profile file): for people;
    /// the run uses [`Capsule::profile`].
    pub faults: String,
    /// The fault profile the run used.
    pub profile: Profile,
    /// Whether the scenario's own expectations were checked.
    pub expectations: bool,
    /// The faults that happen, and only those.
    pub decisions: Vec<Decision>,
    /// What each decision is in words (a fault rule's name): written as a
    /// comment beside it, never read back (empty after [`Capsule::parse`]).
    pub notes: Vec<String>,
    /// The recorded run's trace hash.
    pub trace_hash: u64,
    /// The oracle that failed (`delivery`, `segments`, `expectation`...).
    pub oracle: String,
    /// What it said.
    pub message: String,
    /// How many decisions the run had before shrinking (`None`: not shrunk).
    pub shrunk_from: Option<usize>,
}

/// The file form: plain data, checked into a [`Capsule`] by [`Capsule::parse`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapsuleFile {
    format: String,
    scenario: ScenarioRef,
    /// A decimal string: TOML integers stop at 2^63 - 1, seeds do not.
    seed: String,
    faults: String,
    expectations: bool,
    /// 16 hex digits.
    trace_hash: String,
    oracle: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shrunk_from: Option<usize>,
    decisions: Vec<String>,
    profile: Profile,
}

impl Capsule {
    /// The capsule as TOML text (what [`Capsule::parse`] reads back).
    pub fn to_toml(&self) -> String {
        let file = CapsuleFile {
            format: FORMAT.to_string(),
            scenario: self.scenario.clone(),
            seed: self.seed.to_string(),
            faults: self.faults.clone(),
            expectations: self.expectations,
            trace_hash: format!("{:016x}", self.trace_hash),
            oracle: self.oracle.clone(),
            message: self.message.clone(),
            shrunk_from: self.shrunk_from,
            decisions: Vec::new(),
            profile: self.profile.clone(),
        };
        let body = toml::to_string(&file).expect("a capsule is plain data");
        // The decisions one per line, each with its note as a comment.
        let mut list = String::from("decisions = [\n");
        for (i, d) in self.decisions.iter().enumerate() {
            let quoted = toml::Value::String(d.to_string()).to_string();
            match self.notes.get(i).filter(|n| !n.is_empty()) {
                Some(note) => {
                    list.push_str(&format!("    {quoted}, # {}\n", note.replace('\n', " ")))
                }
                None => list.push_str(&format!("    {quoted},\n")),
            }
        }
        list.push_str("]\n");
        let body = body.replacen("decisions = []\n", &list, 1);
        format!(
            "# tcpsim capsule: `tcpsim replay THIS_FILE` runs it again (docs/capsules.md).\n{body}"
        )
    }

    /// Reads a capsule from TOML text; every field is checked, and an
    /// error is one line naming the problem.
    pub fn parse(text: &str) -> Result<Capsule, CapsuleError> {
        let file: CapsuleFile = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    CapsuleError(format!("not a valid capsule: line {line}: {msg}"))
                }
                None => CapsuleError(format!("not a valid capsule: {msg}")),
            }
        })?;
        if file.format != FORMAT {
            return Err(CapsuleError(format!(
                "not a valid capsule: format {:?} is not {FORMAT:?}",
                file.format
            )));
        }
        let seed = file.seed.trim().parse::<u64>().map_err(|_| {
            CapsuleError(format!(
                "not a valid capsule: seed {:?} is not an unsigned 64-bit integer",
                file.seed
            ))
        })?;
        let trace_hash = u64::from_str_radix(&file.trace_hash, 16)
            .ok()
            .filter(|_| file.trace_hash.len() == 16)
            .ok_or_else(|| {
                CapsuleError(format!(
                    "not a valid capsule: trace_hash {:?} is not 16 hex digits",
                    file.trace_hash
                ))
            })?;
        let decisions = file
            .decisions
            .iter()
            .map(|d| d.parse::<Decision>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CapsuleError(format!("not a valid capsule: {e}")))?;
        file.profile
            .validate()
            .map_err(|e| CapsuleError(format!("not a valid capsule: profile: {e}")))?;
        if file.oracle.trim().is_empty() {
            return Err(CapsuleError(
                "not a valid capsule: oracle is empty (which oracle failed?)".into(),
            ));
        }
        Ok(Capsule {
            scenario: file.scenario,
            seed,
            faults: file.faults,
            profile: file.profile,
            expectations: file.expectations,
            decisions,
            notes: Vec::new(),
            trace_hash,
            oracle: file.oracle,
            message: file.message,
            shrunk_from: file.shrunk_from,
        })
    }

    /// Reads a capsule file.
    pub fn load(path: &Path) -> Result<Capsule, CapsuleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CapsuleError(format!("cannot read capsule {}: {e}", path.display())))?;
        Capsule::parse(&text).map_err(|e| CapsuleError(format!("{}: {e}", path.display())))
    }

    /// The one command that replays this capsule from `path`.
    pub fn command(path: &Path) -> String {
        format!("tcpsim replay {}", path.display())
    }

    /// A file name for this capsule: scenario, seed, oracle
    /// (`lost-final-ack-seed-7-termination.toml`).
    pub fn file_name(&self) -> String {
        let scenario = match &self.scenario {
            ScenarioRef::Catalogue(name) => name.clone(),
            ScenarioRef::File(path) => path
                .file_stem()
                .map_or("file".into(), |s| s.to_string_lossy().into_owned()),
            ScenarioRef::Generated { family, .. } => family.clone(),
        };
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!(
            "{}-seed-{}-{}.toml",
            clean(&scenario),
            self.seed,
            clean(&self.oracle)
        )
    }
}
