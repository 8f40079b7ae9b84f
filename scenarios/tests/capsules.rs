//! Capsules end to end through the `tcpsim` binary: a sweep writes one per
//! failure, `replay` reproduces it with the sweep's trace hash, `shrink`
//! cuts it to the fault that matters, `diff` shows where two runs part,
//! and a bad capsule is one line on standard error with status 2.
//!
//! The failing scenario is `tests/capsules/no-retransmission.toml`: a
//! transfer that expects no retransmission, so one lost segment fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/capsules/no-retransmission.toml"
);

fn tcpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .output()
        .expect("tcpsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tcpsim-capsules-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Sweeps seed 1 under heavy faults with expectations, capsules unshrunk
/// into `dir`: the capsule's path and the sweep's reported trace hash.
fn sweep_one(dir: &Path) -> (PathBuf, String) {
    let caps = dir.join("caps");
    let (code, out, err) = tcpsim(&[
        "sweep",
        "--scenario",
        SCENARIO,
        "--faults",
        "heavy",
        "--expectations",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--no-shrink",
        "--capsules",
        caps.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let hash = out
        .split("trace hash ")
        .nth(1)
        .map(|s| s[..16].to_string())
        .expect("the FAIL line names the trace hash");
    let line = out
        .lines()
        .find(|l| l.starts_with("capsule: tcpsim replay "))
        .expect("a capsule line");
    let path = line["capsule: tcpsim replay ".len()..]
        .split("  (")
        .next()
        .unwrap();
    (PathBuf::from(path), hash)
}

#[test]
fn a_sweep_failure_replays_with_the_sweeps_trace_hash() {
    // The capsule records the decisions of the very run the sweep made:
    // replaying them gives the hash the sweep printed, and status 1 says
    // the recorded failure is still there.
    let d = dir("replay");
    let (capsule, hash) = sweep_one(&d);
    let text = std::fs::read_to_string(&capsule).unwrap();
    assert!(text.contains(&format!("trace_hash = \"{hash}\"")), "{text}");
    let (code, out, err) = tcpsim(&["replay", capsule.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("reproduced: trace hash {hash} as recorded")),
        "{out}"
    );
    assert!(out.contains("[expectation] fails again"), "{out}");
}

#[test]
fn shrinking_keeps_only_the_fault_that_matters() {
    // One lost or delayed segment is enough to retransmit: the shrunk
    // capsule holds a single decision, still fails the expectation, and
    // replays exactly; with no decision at all it passes (status 0).
    let d = dir("shrink");
    let (capsule, _) = sweep_one(&d);
    let shrunk = d.join("shrunk.toml");
    let (code, out, err) = tcpsim(&[
        "shrink",
        capsule.to_str().unwrap(),
        "--out",
        shrunk.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("to 1 fault decision"), "{out}");
    let (code, out, _) = tcpsim(&["replay", shrunk.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reproduced"), "{out}");

    let text = std::fs::read_to_string(&shrunk).unwrap();
    let start = text.find("decisions = [").unwrap();
    let end = start + text[start..].find("]\n").unwrap() + 2;
    let none = format!("{}decisions = []\n{}", &text[..start], &text[end..]);
    let no_faults = d.join("none.toml");
    std::fs::write(&no_faults, none).unwrap();
    let (code, out, _) = tcpsim(&["replay", no_faults.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("passes now"), "{out}");
    // Nothing left to shrink: an error, status 2.
    let (code, _, err) = tcpsim(&["shrink", no_faults.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to shrink"), "{err}");
}

#[test]
fn another_oracle_failing_is_status_3() {
    // A capsule says which oracle failed; if the run fails, but not that
    // oracle, a script must be able to tell.
    let d = dir("other");
    let (capsule, _) = sweep_one(&d);
    let text = std::fs::read_to_string(&capsule)
        .unwrap()
        .replace("oracle = \"expectation\"", "oracle = \"delivery\"");
    let other = d.join("other.toml");
    std::fs::write(&other, text).unwrap();
    let (code, out, _) = tcpsim(&["replay", other.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("fails differently"), "{out}");
}

#[test]
fn malformed_or_truncated_capsules_are_one_line_and_status_2() {
    // Every cut of a good capsule, and a few hand-made mistakes, must be
    // refused before anything runs, on one line of standard error.
    let d = dir("bad");
    let (capsule, _) = sweep_one(&d);
    let good = std::fs::read_to_string(&capsule).unwrap();
    let mut cases: Vec<(String, String)> = (1..8)
        .map(|k| (format!("cut {k}/8"), good[..good.len() * k / 8].to_string()))
        .collect();
    cases.push((
        "format".into(),
        good.replace("tcpsim-capsule/1", "tcpsim-capsule/9"),
    ));
    cases.push(("seed".into(), good.replace("seed = \"1\"", "seed = \"-1\"")));
    cases.push((
        "hash".into(),
        good.replacen("trace_hash = \"", "trace_hash = \"zz", 1),
    ));
    cases.push(("decision".into(), good.replacen(" rule ", " rules ", 1)));
    cases.push(("unknown field".into(), format!("colour = \"red\"\n{good}")));
    cases.push((
        "scenario".into(),
        good.replace(SCENARIO, "/nonexistent/x.toml"),
    ));
    cases.push(("binary".into(), "\u{0}\u{1}\u{2}".into()));
    for (what, text) in cases {
        let path = d.join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let (code, out, err) = tcpsim(&["replay", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("tcpsim: error: "), "{what}: {err}");
        assert!(out.is_empty(), "{what}: nothing runs: {out}");
    }
    let (code, _, err) = tcpsim(&["replay", d.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read capsule"), "{err}");
}

#[test]
fn diff_shows_the_first_divergence_readably() {
    // Two seeds of one scenario differ from their ISNs on: the diff names
    // the first differing event and shows both sides as segments; the
    // same run twice is identical (status 0).
    let (code, out, err) = tcpsim(&["diff", "handshake@1", "handshake@2", "--context", "2"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("first divergence at event #0"), "{out}");
    assert!(out.contains("<CTL=SYN>"), "{out}");
    assert!(
        out.contains("handshake@1:") && out.contains("handshake@2:"),
        "{out}"
    );
    let (code, out, _) = tcpsim(&["diff", "handshake@1", "handshake@1"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the traces are identical"), "{out}");
    let (code, _, err) = tcpsim(&["diff", "handshake@1", "nonsense"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn diff_of_a_capsule_and_its_shrunk_form_parts_where_a_fault_was_removed() {
    // The first decision dropped by shrinking is where the runs part.
    let d = dir("diff");
    let (capsule, _) = sweep_one(&d);
    let shrunk = d.join("s.toml");
    let (code, _, _) = tcpsim(&[
        "shrink",
        capsule.to_str().unwrap(),
        "--out",
        shrunk.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let (code, out, _) = tcpsim(&["diff", capsule.to_str().unwrap(), shrunk.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first divergence at event #"), "{out}");
    assert!(out.contains("  both:"), "{out}");
}

#[test]
fn replay_shows_the_replayed_trace_as_run_does() {
    // A capsule is only useful if one can read what happened: `replay
    // --format ladder` prints the replayed conversation with a
    // retransmission in it (the expectation that failed), the verdict goes
    // to standard error, and the status is still replay's own (1).
    let d = dir("replay-format");
    let (capsule, hash) = sweep_one(&d);
    let (code, out, err) = tcpsim(&["replay", capsule.to_str().unwrap(), "--format", "ladder"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("<CTL=SYN>"), "{out}");
    assert!(out.contains("(retransmission)"), "{out}");
    assert!(
        err.contains(&format!("reproduced: trace hash {hash}")),
        "{err}"
    );
    // JSON lines into a file: every line parses as a JSON object.
    let json = d.join("trace.jsonl");
    let (code, out, _) = tcpsim(&[
        "replay",
        capsule.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.lines().count() > 10);
    assert!(text.lines().all(|l| l.starts_with('{') && l.ends_with('}')));
    // --out without --format is a usage error, not silently ignored.
    let (code, _, err) = tcpsim(&["replay", capsule.to_str().unwrap(), "--out", "x.jsonl"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--format"), "{err}");
}
