//! `tcpsim replay`, `tcpsim shrink`, `tcpsim diff`, and the capsules a
//! sweep writes for its failures.
//!
//! Exit status of `tcpsim replay CAPSULE` (meant for scripts: "is it still
//! broken?", `git bisect run`):
//!
//! - 0: the run passes now: the recorded failure is gone;
//! - 1: the recorded oracle fails again (the output says whether the trace
//!   hash is the recorded one, an exact reproduction, or not);
//! - 3: the run fails, but only other oracles than the recorded one;
//! - 2: bad input: the capsule cannot be read or is malformed, its
//!   scenario is unknown, its decisions name links the scenario lacks.
//!
//! `tcpsim shrink` exits 0 once the shrunk capsule is written (1 if the run
//! limit stopped it early, the capsule still written), 2 for bad input or a
//! capsule that no longer fails. `tcpsim diff` exits 0 when the two runs
//! are identical and 1 when they diverge.

use super::run::{self, Case, Faults, capture, case_of};
use super::shrink::{self, Options};
use super::{Capsule, Resolver, ScenarioRef};
use crate::catalogue::Catalogue;
use crate::cli::{OutFile, UsageError};
use crate::sweep::{Profile, SweepReport};
use std::io::Write;
use std::path::{Path, PathBuf};

fn usage(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
}

fn out_error(e: std::io::Error) -> UsageError {
    UsageError(format!("cannot write to standard output: {e}"))
}

/// The resolver the CLI uses: the program's catalogue and the generated
/// families known to this build.
pub fn resolver(catalogue: &Catalogue) -> Resolver {
    Resolver::new(catalogue.clone()).family(crate::generate::FAMILY, |params| {
        crate::generate::Workload::from_table(params).map(crate::generate::Workload::scenario)
    })
}

fn load(path: &Path, resolver: &Resolver) -> Result<(Capsule, Case), UsageError> {
    let capsule = Capsule::load(path).map_err(usage)?;
    let case = case_of(&capsule, resolver, path.parent()).map_err(usage)?;
    Ok((capsule, case))
}

/// How `tcpsim replay --format` renders the replayed run, and where to.
pub type Rendering<'a> = (
    &'a dyn Fn(&crate::run::Outcome) -> Result<Vec<u8>, UsageError>,
    &'a mut Vec<u8>,
);

/// `tcpsim replay CAPSULE`: the exit status (see the module documentation).
/// With `trace`, the replayed run is also rendered into its buffer (left
/// empty when the run broke before it finished).
pub fn replay(
    path: &Path,
    catalogue: &Catalogue,
    trace: Option<Rendering<'_>>,
    out: &mut impl Write,
) -> Result<i32, UsageError> {
    let resolver = resolver(catalogue);
    let (capsule, case) = load(path, &resolver)?;
    let replay = run::replay(&capsule, &case).map_err(usage)?;
    if let Some((render, into)) = trace
        && let Some(outcome) = &replay.ran.outcome
    {
        *into = render(outcome)?;
    }
    out.write_all(replay.report(&capsule).as_bytes())
        .map_err(out_error)?;
    Ok(replay.verdict.exit_code())
}

/// `tcpsim shrink CAPSULE [--out FILE]`: writes the shrunk capsule (to
/// `CAPSULE` with `.shrunk.toml` for `.toml` when no `--out`).
pub fn shrink_file(
    path: &Path,
    out_path: Option<&Path>,
    options: Options,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<i32, UsageError> {
    let target = match out_path {
        Some(p) => p.to_path_buf(),
        None => shrunk_path(path),
    };
    let file = OutFile::check(&target)?;
    let resolver = resolver(catalogue);
    let (capsule, case) = load(path, &resolver)?;
    let shrunk = shrink::shrink(&capsule, &case, options).map_err(usage)?;
    file.write(shrunk.capsule.to_toml().as_bytes())?;
    writeln!(
        out,
        "shrunk {} to {} fault decision{} in {} runs{}: [{}] {}\n  {}",
        capsule.decisions.len(),
        shrunk.capsule.decisions.len(),
        if shrunk.capsule.decisions.len() == 1 {
            ""
        } else {
            "s"
        },
        shrunk.runs,
        if shrunk.truncated {
            " (stopped by --max-runs before the end)"
        } else {
            ""
        },
        shrunk.capsule.oracle,
        shrunk.capsule.message,
        Capsule::command(&target)
    )
    .map_err(out_error)?;
    for (i, d) in shrunk.capsule.decisions.iter().enumerate() {
        match shrunk.capsule.notes.get(i).filter(|n| !n.is_empty()) {
            Some(note) => writeln!(out, "  fault: {d} ({note})"),
            None => writeln!(out, "  fault: {d}"),
        }
        .map_err(out_error)?;
    }
    Ok(i32::from(shrunk.truncated))
}

/// `x.toml` -> `x.shrunk.toml`.
pub fn shrunk_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or("capsule".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.shrunk.toml"))
}

/// One side of `tcpsim diff`: a capsule file, or `SCENARIO@SEED`
/// (`SCENARIO` a catalogue name or a scenario file) under `--faults`.
fn side(
    arg: &str,
    profile: &Profile,
    resolver: &Resolver,
) -> Result<(Case, Option<Capsule>), UsageError> {
    let path = Path::new(arg);
    if path.is_file() && !looks_like_pair(arg) {
        let (capsule, case) = load(path, resolver)?;
        return Ok((case, Some(capsule)));
    }
    let Some((name, seed)) = arg.rsplit_once('@') else {
        return Err(usage(format!(
            "{arg:?} is neither a capsule file nor SCENARIO@SEED"
        )));
    };
    let seed = crate::cli::parse_seed(Some(seed))?;
    let r = if name.ends_with(".toml") {
        ScenarioRef::File(name.into())
    } else {
        ScenarioRef::Catalogue(name.into())
    };
    let scenario = resolver.scenario(&r, None).map_err(usage)?;
    Ok((
        Case {
            scenario,
            seed,
            profile: profile.clone(),
            expectations: profile.is_none(),
        },
        None,
    ))
}

fn looks_like_pair(arg: &str) -> bool {
    arg.rsplit_once('@')
        .is_some_and(|(_, s)| s.trim().parse::<u64>().is_ok())
}

/// `tcpsim diff A B [--faults P] [--context N]`: 0 identical, 1 diverging.
pub fn diff(
    a: &str,
    b: &str,
    faults: &str,
    context: usize,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<i32, UsageError> {
    let profile = Profile::resolve(faults).map_err(usage)?;
    let resolver = resolver(catalogue);
    let mut outcomes = Vec::new();
    for arg in [a, b] {
        let (case, capsule) = side(arg, &profile, &resolver)?;
        let ran = match &capsule {
            Some(c) => run::run_case(&case, Faults::Replay(&c.decisions)),
            None => run::run_case(&case, Faults::Record),
        }
        .map_err(usage)?;
        let Some(outcome) = ran.outcome else {
            let why = ran.failures.first().map_or("", |(_, m)| m.as_str());
            return Err(usage(format!("{arg}: the run did not finish: {why}")));
        };
        outcomes.push(outcome);
    }
    let text = super::diff::render(&outcomes[0], &outcomes[1], (a, b), context);
    out.write_all(text.as_bytes()).map_err(out_error)?;
    let same = outcomes[0].stats.trace_hash == outcomes[1].stats.trace_hash
        && outcomes[0].world.trace().events() == outcomes[1].world.trace().events();
    Ok(if same { 0 } else { 1 })
}

/// How a sweep's failure is found again: a scenario file as given to
/// `--scenario`; for the generated family `random`, the workload the seed
/// drew, in full (so the capsule replays without the generator, and
/// shrinking can cut the workload itself); else the catalogue name.
pub fn scenario_ref(sweep_scenario_arg: &str, failed_scenario: &str, seed: u64) -> ScenarioRef {
    if sweep_scenario_arg.ends_with(".toml") {
        ScenarioRef::File(sweep_scenario_arg.into())
    } else if failed_scenario == crate::generate::NAME {
        let workload = crate::generate::generate(&Default::default(), seed);
        ScenarioRef::Generated {
            family: crate::generate::FAMILY.into(),
            params: workload.to_table(),
        }
    } else {
        ScenarioRef::Catalogue(failed_scenario.into())
    }
}

/// Where `tcpsim sweep` writes capsules unless `--capsules DIR`.
pub const CAPSULE_DIR: &str = "tcpsim-capsules";

/// Writes a capsule for every failure of a sweep into `dir` (shrunk unless
/// `no_shrink`) and prints one `tcpsim replay` line per capsule.
/// `scenario_arg` is `--scenario` as given (a file's path is kept).
pub fn sweep_capsules(
    report: &SweepReport,
    scenario_arg: &str,
    catalogue: &Catalogue,
    dir: &Path,
    no_shrink: bool,
    out: &mut impl Write,
) -> Result<(), UsageError> {
    if report.failures.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| usage(format!("cannot create {}: {e}", dir.display())))?;
    let resolver = resolver(catalogue);
    for failure in &report.failures {
        let r = scenario_ref(scenario_arg, &failure.scenario, failure.seed);
        let scenario = resolver.scenario(&r, None).map_err(usage)?;
        let case = Case {
            scenario,
            seed: failure.seed,
            profile: report.sweep.profile.clone(),
            expectations: report.sweep.expectations,
        };
        let Some(mut capsule) = capture(&case, r, &report.sweep.faults).map_err(usage)? else {
            continue;
        };
        if !no_shrink && let Ok(shrunk) = shrink::shrink(&capsule, &case, Options::default()) {
            capsule = shrunk.capsule;
        }
        let path = dir.join(capsule.file_name());
        OutFile::check(&path)?.write(capsule.to_toml().as_bytes())?;
        writeln!(
            out,
            "capsule: {}  ({} fault decision{}, [{}])",
            Capsule::command(&path),
            capsule.decisions.len(),
            if capsule.decisions.len() == 1 {
                ""
            } else {
                "s"
            },
            capsule.oracle
        )
        .map_err(out_error)?;
    }
    Ok(())
}
