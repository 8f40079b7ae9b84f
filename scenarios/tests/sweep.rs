//! `tcpsim sweep` and `tcpsim merge`, and the `scenarios::sweep` API:
//! deterministic reports at any thread count, shards that merge into the
//! one-machine report, fault profiles as data, reproductions that
//! reproduce, coverage, and one-line errors for bad input.

use scenarios::sweep::{Profile, Seeds, Shard, Sweep, SweepReport, merge};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tcpsim(args: &[&str]) -> (i32, String, String) {
    tcpsim_env(args, &[])
}

fn tcpsim_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tcpsim"));
    cmd.args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpsim-sweep-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn jobs_1_and_jobs_2_write_byte_identical_reports() {
    // The report holds only deterministic content and runs are added in
    // seed order, so the thread count cannot show in its bytes; swarm draws
    // different faults per seed, so the runs differ from one another.
    let one = scratch("jobs1.json");
    let two = scratch("jobs2.json");
    for (jobs, file) in [("1", &one), ("2", &two)] {
        let (code, _, err) = tcpsim(&[
            "sweep",
            "--scenario",
            "all",
            "--count",
            "3",
            "--faults",
            "swarm",
            "--jobs",
            jobs,
            "--json",
            path(file),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let a = std::fs::read(&one).unwrap();
    let b = std::fs::read(&two).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b, "--jobs 1 and --jobs 2 reports differ");
    let report = SweepReport::from_json(&String::from_utf8(a).unwrap()).unwrap();
    assert_eq!(
        report.summary.runs,
        3 * scenarios::catalogue::Catalogue::builtin().scenarios().len() as u64
    );
}

#[test]
fn merged_shards_equal_the_one_machine_report() {
    // Three shards split seeds 1..=7 unevenly (3, 2, 2 seeds); their merge
    // must be byte for byte the report of one machine running all seven.
    let whole = scratch("whole.json");
    let (code, _, err) = tcpsim(&[
        "sweep",
        "--scenario",
        "all",
        "--seeds",
        "1..=7",
        "--faults",
        "heavy",
        "--jobs",
        "2",
        "--json",
        path(&whole),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut parts = Vec::new();
    for i in 0..3 {
        let p = scratch(&format!("shard{i}.json"));
        let shard = format!("{i}/3");
        let (code, _, err) = tcpsim(&[
            "sweep",
            "--scenario",
            "all",
            "--seeds",
            "1..=7",
            "--faults",
            "heavy",
            "--jobs",
            "1",
            "--shard",
            &shard,
            "--json",
            path(&p),
        ]);
        assert_eq!(code, 0, "{err}");
        parts.push(p);
    }
    let merged = scratch("merged.json");
    // Given out of order: the merge does not depend on it.
    let (code, out, err) = tcpsim(&[
        "merge",
        path(&parts[2]),
        path(&parts[0]),
        path(&parts[1]),
        "--json",
        path(&merged),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 failed"), "{out}");
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        std::fs::read(&whole).unwrap(),
        "merge of 3 shards differs from the one-machine report"
    );
}

#[test]
fn the_shard_index_can_come_from_slurm_or_kubernetes() {
    // `--shard N` takes its index from the job array's variable: the same
    // report as `--shard I/N` given by hand.
    let by_hand = scratch("hand.json");
    let slurm = scratch("slurm.json");
    let k8s = scratch("k8s.json");
    let base = [
        "sweep",
        "--scenario",
        "handshake",
        "--count",
        "6",
        "--jobs",
        "1",
    ];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, _, err) = tcpsim_env(&args, env);
        assert_eq!(code, 0, "{err}");
    };
    run(&["--shard", "1/2", "--json", path(&by_hand)], &[]);
    run(
        &["--shard", "2", "--json", path(&slurm)],
        &[("SLURM_ARRAY_TASK_ID", "1")],
    );
    run(
        &["--shard", "2", "--json", path(&k8s)],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    let hand = std::fs::read(&by_hand).unwrap();
    assert_eq!(hand, std::fs::read(&slurm).unwrap());
    assert_eq!(hand, std::fs::read(&k8s).unwrap());
    let r = SweepReport::from_json(&String::from_utf8(hand).unwrap()).unwrap();
    assert_eq!(r.summary.runs, 3, "seeds 2, 4, 6 of 1..=6");
}

#[test]
fn a_failing_run_prints_its_seed_and_a_reproduction_that_reproduces() {
    // lost-final-ack expects exactly one retransmitted FIN; heavy faults
    // break that story, so with --expectations forced on the sweep fails.
    // The failure line must name the seed, and the command it prints must
    // fail the same way with the same trace hash.
    let (code, out, _) = tcpsim(&[
        "sweep",
        "--scenario",
        "lost-final-ack",
        "--count",
        "40",
        "--faults",
        "heavy",
        "--expectations",
        "--stop-on-failure",
        "--jobs",
        "2",
    ]);
    assert_eq!(code, 1, "{out}");
    let fail = out.lines().find(|l| l.starts_with("FAIL seed ")).unwrap();
    let seed: u64 = fail["FAIL seed ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let hash = fail.split("trace hash ").nth(1).unwrap()[..16].to_string();
    let repro = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .unwrap();
    assert!(
        repro.contains(&format!("--seeds {seed}..={seed}")),
        "{repro}"
    );
    assert!(out.contains("(stopped at the first failure)"), "{out}");
    let args: Vec<&str> = repro.split_whitespace().skip(1).collect();
    let (code, again, _) = tcpsim(&args);
    assert_eq!(code, 1, "{again}");
    assert!(
        again.contains(&format!("FAIL seed {seed} lost-final-ack")),
        "{again}"
    );
    assert!(again.contains(&hash), "same trace hash {hash}:\n{again}");
}

#[test]
fn stop_on_failure_stops_at_the_same_run_at_any_thread_count() {
    // The first failure in seed order is the same whatever thread finds a
    // failure first, so the report holds exactly the runs up to it.
    let sweep = |jobs| {
        Sweep::new(
            vec![
                scenarios::catalogue::find("lost-final-ack")
                    .unwrap()
                    .clone(),
            ],
            Seeds::new(1, 60).unwrap(),
        )
        .faults("heavy", Profile::heavy())
        .expectations(true)
        .stop_on_failure(true)
        .jobs(jobs)
        .run()
    };
    let one = sweep(1);
    let two = sweep(2);
    assert!(one.stopped_early);
    assert_eq!(one.summary.failed, 1);
    assert_eq!(
        one.summary.runs, one.failures[0].seed,
        "seeds 1.. up to the first failure"
    );
    assert_eq!(one.to_json(), two.to_json());
}

#[test]
fn the_fixed_stack_sweeps_clean_under_heavy_and_swarm_faults() {
    // Every oracle on every catalogue scenario, under each hostile profile:
    // any failure here is a stack bug or a check that should not apply.
    for (name, profile) in [("heavy", Profile::heavy()), ("swarm", Profile::swarm())] {
        let report = Sweep::new(
            scenarios::catalogue::all().to_vec(),
            Seeds::new(1000, 1004).unwrap(),
        )
        .faults(name, profile)
        .jobs(2)
        .run();
        assert_eq!(
            report.summary.runs,
            5 * scenarios::catalogue::all().len() as u64
        );
        assert!(report.passed(), "{name}: {:#?}", report.failures);
    }
}

#[test]
fn faults_come_from_the_seed_and_swarm_seeds_differ() {
    // The plan is a function of (seed, profile, world) only: drawn twice it
    // is the same; swarm gives different seeds different sets of kinds.
    let s = scenarios::catalogue::find("lossy-bulk").unwrap();
    let swarm = Profile::swarm();
    let plan = |seed| swarm.plan(seed, &s.setup(seed).unwrap());
    assert_eq!(plan(7), plan(7));
    let kinds: std::collections::BTreeSet<String> =
        (1..=20).map(|seed| plan(seed).kinds.describe()).collect();
    assert!(kinds.len() >= 5, "20 swarm seeds drew only {kinds:?}");
    // And heavy uses every kind, each direction its own loss rate.
    let heavy = Profile::heavy().plan(7, &s.setup(7).unwrap());
    assert_eq!(
        heavy.kinds.describe(),
        "loss,bursts,duplicate,reorder,jitter,corrupt,partition"
    );
    let losses: Vec<f64> = heavy.directions.iter().map(|d| d.loss).collect();
    assert!(
        losses.iter().all(|l| (0.10..=0.30).contains(l)),
        "{losses:?}"
    );
    assert_ne!(losses[0], losses[1], "asymmetric directions");
}

#[test]
fn the_documented_profile_file_loads_and_runs() {
    // docs/fault-profiles.md shows this file; it must parse to what it says
    // and drive a sweep (under `--faults FILE`).
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/profiles/flaky-wifi.toml"
    );
    let p = Profile::load(Path::new(file)).unwrap();
    assert_eq!(p.name, "flaky-wifi");
    assert!(p.bursts.is_some() && p.jitter.is_some() && p.partition.is_none());
    let (code, out, err) = tcpsim(&[
        "sweep",
        "--scenario",
        "four-way-close",
        "--count",
        "5",
        "--faults",
        file,
        "--jobs",
        "1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 passed"), "{out}");
}

#[test]
fn coverage_counts_state_and_event_pairs() {
    // A fault-free handshake at one seed: the client sends its SYN in
    // SYN-SENT, the listener receives it in LISTEN, and nobody ever sends a
    // SYN from TIME-WAIT; the table shows counts and dots.
    let report = Sweep::new(
        vec![scenarios::catalogue::find("handshake").unwrap().clone()],
        Seeds::new(1, 1).unwrap(),
    )
    .run();
    let c = &report.coverage;
    let at = |state: &str, event: &str| {
        let s = c.states.iter().position(|x| x == state).unwrap();
        let e = c.events.iter().position(|x| x == event).unwrap();
        c.counts[s][e]
    };
    assert_eq!(at("SYN-SENT", ">SYN"), 1);
    assert_eq!(at("LISTEN", "<SYN"), 1);
    assert_eq!(at("SYN-SENT", "<SYN-ACK"), 1);
    assert_eq!(at("TIME-WAIT", ">SYN"), 0);
    assert!(c.never().contains(&"TIME-WAIT >SYN".to_string()));
    let table = c.table();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("SYN-SENT") && l.contains('1')),
        "{table}"
    );
    assert!(table.contains("pairs exercised"), "{table}");
}

#[test]
fn merge_refuses_reports_of_different_sweeps_and_missing_shards() {
    // Shards of two different sweeps cannot add up to either one.
    let run = |faults: &str, shard: Shard| {
        Sweep::new(
            vec![scenarios::catalogue::find("handshake").unwrap().clone()],
            Seeds::new(1, 4).unwrap(),
        )
        .faults(faults, Profile::resolve(faults).unwrap())
        .shard(Some(shard))
        .run()
    };
    let a0 = run("none", Shard::new(0, 2).unwrap());
    let a1 = run("none", Shard::new(1, 2).unwrap());
    let b1 = run("light", Shard::new(1, 2).unwrap());
    assert!(merge(&[a0.clone(), a1]).is_ok());
    assert!(
        merge(&[a0.clone(), b1])
            .unwrap_err()
            .contains("different sweep")
    );
    assert!(
        merge(std::slice::from_ref(&a0))
            .unwrap_err()
            .contains("missing")
    );
    assert!(merge(&[a0.clone(), a0]).unwrap_err().contains("twice"));
}

fn assert_one_line_usage_error(args: &[&str], mentions: &str) {
    let (code, out, err) = tcpsim(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(mentions), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_sweep_input_is_a_one_line_error_with_status_2() {
    // Each mistake is named in one line and nothing runs.
    let bad_profile = scratch("bad-profile.toml");
    std::fs::write(
        &bad_profile,
        "name = \"bad\"\n[loss]\nprobability = [0.5, 1.5]\n",
    )
    .unwrap();
    let unknown_key = scratch("typo-profile.toml");
    std::fs::write(&unknown_key, "name = \"typo\"\n[los]\nprobability = 0.1\n").unwrap();
    assert_one_line_usage_error(&["sweep", "--faults", "stormy"], "unknown fault profile");
    assert_one_line_usage_error(
        &["sweep", "--faults", path(&bad_profile)],
        "loss.probability = 1.5",
    );
    assert_one_line_usage_error(&["sweep", "--faults", path(&unknown_key)], "los");
    assert_one_line_usage_error(
        &["sweep", "--faults", "/no/such/profile.toml"],
        "cannot read /no/such/profile.toml",
    );
    assert_one_line_usage_error(&["sweep", "--shard", "3/2"], "invalid shard 3/2");
    assert_one_line_usage_error(&["sweep", "--shard", "0/0"], "invalid shard count 0");
    assert_one_line_usage_error(&["sweep", "--shard", "4"], "SLURM_ARRAY_TASK_ID");
    assert_one_line_usage_error(&["sweep", "--seeds", "5..1"], "--seeds \"5..1\"");
    assert_one_line_usage_error(&["sweep", "--seeds", "5..=1"], "empty");
    assert_one_line_usage_error(&["sweep", "--seeds", "x..3"], "invalid --seeds");
    assert_one_line_usage_error(&["sweep", "--count", "0"], "invalid --count");
    assert_one_line_usage_error(&["sweep", "--scenario", "nope"], "unknown scenario");
    assert_one_line_usage_error(&["sweep", "--jobs", "0"], "--jobs");
    assert_one_line_usage_error(&["sweep", "--json", "/no/such/dir/r.json"], "cannot write");
}

#[test]
fn bad_merge_input_is_a_one_line_error_with_status_2() {
    // Reports of different sweeps, a file that is not a report, a missing file.
    let a = scratch("m-a.json");
    let b = scratch("m-b.json");
    for (file, faults, shard) in [(&a, "none", "0/2"), (&b, "light", "1/2")] {
        let (code, _, err) = tcpsim(&[
            "sweep",
            "--scenario",
            "handshake",
            "--count",
            "2",
            "--faults",
            faults,
            "--shard",
            shard,
            "--jobs",
            "1",
            "--json",
            path(file),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    assert_one_line_usage_error(&["merge", path(&a), path(&b)], "different sweep");
    let junk = scratch("junk.json");
    std::fs::write(&junk, "{\"format\": 3}").unwrap();
    assert_one_line_usage_error(&["merge", path(&a), path(&junk)], "is not a sweep report");
    assert_one_line_usage_error(&["merge", "/no/such/report.json"], "cannot read");
}
