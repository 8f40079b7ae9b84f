//! `tcpsim plot` and `tcpsim run --format metrics`: what they print, and
//! the one-line errors (exit status 2, nothing written) for bad input.

use std::path::PathBuf;
use std::process::Command;

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

/// A fresh directory under the target directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("plot-cli-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn plot_writes_an_svg_and_says_what_it_drew() {
    // The file is a whole SVG document, and the line on stderr names the
    // connection, the counts a reader will see in the legend, and the file.
    let dir = scratch("writes");
    let path = dir.join("bulk.svg");
    let (code, out, err) = tcpsim(&[
        "plot",
        "lossy-bulk",
        "--seed",
        "3",
        "--out",
        path.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "", "the SVG went to the file");
    let svg = std::fs::read_to_string(&path).expect("written");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(
        err.starts_with("lossy-bulk: seed 3, connection 0 10.0.0.1:")
            && err.contains("retransmissions")
            && err.contains(&format!("wrote {}", path.display())),
        "{err}"
    );
}

#[test]
fn plot_without_out_prints_the_svg_and_reads_scenario_files() {
    // Standard output carries the SVG alone (the summary is on stderr), and
    // a scenario file is plotted like a catalogue scenario.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/files/partition-during-bulk.toml"
    );
    let (code, out, err) = tcpsim(&["plot", file, "--kind", "rtt"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("<svg") && out.trim_end().ends_with("</svg>"));
    assert!(out.contains("round-trip time and RTO"));
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_plot_input_is_one_line_with_status_2_and_leaves_the_file_alone() {
    // A connection that does not exist, an unknown kind, an unknown
    // scenario, an unwritable or directory path: exit status 2, exactly
    // one line on stderr saying what was wrong, and an existing --out
    // file keeps its contents.
    let dir = scratch("bad");
    let kept = dir.join("kept.svg");
    std::fs::write(&kept, "old contents").expect("written");
    let kept_arg = kept.to_str().expect("utf-8").to_string();
    let missing_dir = dir.join("no-such-dir").join("x.svg");
    let dir_arg = dir.to_str().expect("utf-8").to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["plot", "handshake", "--conn", "99", "--out", &kept_arg],
            "handshake: no connection 99: the run has 1 connection (--conn 0)",
        ),
        (
            vec!["plot", "lossy-bulk", "--kind", "sequences"],
            "invalid value 'sequences' for '--kind <KIND>'",
        ),
        (vec!["plot", "no-such-scenario"], "unknown scenario"),
        (
            vec![
                "plot",
                "handshake",
                "--out",
                missing_dir.to_str().expect("utf-8"),
            ],
            "cannot write",
        ),
        (
            vec!["plot", "handshake", "--out", &dir_arg],
            "it is a directory",
        ),
        (
            vec!["plot", "handshake", "--conn", "x1"],
            "invalid value 'x1' for '--conn <CONN>'",
        ),
    ];
    for (args, says) in cases {
        let (code, out, err) = tcpsim(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&kept).expect("still there"),
        "old contents"
    );
}

#[test]
fn run_format_metrics_prints_json_lines_and_csv() {
    // Every JSON line before the summary parses and names its host and
    // connection; the CSV starts with its header, and both have one row
    // per change.
    let (code, out, _) = tcpsim(&["run", "lossy-bulk", "--format", "metrics"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with('{')).collect();
    assert!(rows.len() > 100);
    for row in &rows {
        let v: serde_json::Value = serde_json::from_str(row).expect("JSON");
        assert!(v["host"].is_string() && v["local"].is_string() && v["cwnd"].is_u64());
    }
    let (code, csv, _) = tcpsim(&["run", "lossy-bulk", "--format", "metrics-csv"]);
    assert_eq!(code, 0);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("a header")
            .starts_with("time_ns,host,conn,local,remote,state,ca_state,cc,cwnd,ssthresh")
    );
    let csv_rows = lines.filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()));
    assert_eq!(csv_rows.count(), rows.len());
}
