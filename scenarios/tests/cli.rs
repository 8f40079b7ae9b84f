//! The `tcpsim` command: the catalogue table, one scenario's rendering, and
//! one-line errors (never a panic) for bad input.

use std::process::Command;

fn tcpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_ends_with_seed_hash_and_verdict() {
    // The last line is what a user pastes into a bug report: it must name
    // the seed, the trace hash and the verdict.
    let (code, out, _) = tcpsim(&["run", "handshake", "--seed", "42"]);
    assert_eq!(code, 0);
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("seed 42") && last.contains("trace hash") && last.contains("verdict pass"),
        "{last}"
    );
    assert!(
        out.contains("SYN-SENT     --> <SEQ="),
        "the ladder is printed:\n{out}"
    );
}

#[test]
fn list_names_every_scenario() {
    // `list` is how users discover names; each catalogue entry appears once.
    let (code, out, _) = tcpsim(&["list"]);
    assert_eq!(code, 0);
    for s in scenarios::catalogue::all() {
        assert_eq!(
            out.lines()
                .filter(|l| l.split_whitespace().next() == Some(s.name))
                .count(),
            1,
            "{}",
            s.name
        );
    }
}

#[test]
fn bad_input_is_a_one_line_error_with_status_2() {
    // Unknown scenario, malformed seed, unwritable path, unknown flag: each
    // gets exactly one line on stderr and exit status 2, never a panic.
    for args in [
        vec!["run", "no-such-scenario"],
        vec!["run", "handshake", "--seed", "12x"],
        vec!["run", "handshake", "--seed", "-1"],
        vec!["run", "handshake", "--out", "/nonexistent-dir/x.txt"],
        vec!["run", "handshake", "--format", "xml"],
        vec!["all", "--jobs", "0"],
        vec!["frobnicate"],
    ] {
        let (code, out, err) = tcpsim(&args);
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("tcpsim: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn pcap_needs_an_output_file_and_writes_one() {
    // Binary output never goes to a terminal; with --out it is a pcap file.
    let (code, _, err) = tcpsim(&["run", "abort", "--format", "pcap"]);
    assert_eq!(code, 2, "{err}");
    let path = std::env::temp_dir().join(format!("tcpsim-cli-{}.pcap", std::process::id()));
    let (code, _, _) = tcpsim(&[
        "run",
        "abort",
        "--format",
        "pcap",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    std::fs::remove_file(&path).ok();
}

#[test]
fn json_lines_parse_and_ss_counts_states() {
    // Every JSON line is an object with the stable fields; the ss table ends
    // with per-state counts.
    let (code, out, _) = tcpsim(&["run", "four-way-close", "--format", "json"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines[..lines.len() - 1] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v.get("index").is_some() && v.get("time_ns").is_some() && v.get("event").is_some(),
            "{line}"
        );
    }
    let (code, out, _) = tcpsim(&["run", "four-way-close", "--format", "ss"]);
    assert_eq!(code, 0);
    assert!(out.contains("# state counts"));
    assert!(out.contains("LISTEN"), "{out}");
}

#[test]
fn script_exit_status_and_summary() {
    // `tcpsim script` is used in CI pipelines: exit 0 only when every
    // script passed, 1 when one failed (with its one-line message), and
    // the summary line counts both.
    let dir = std::env::temp_dir().join(format!("tcpsim-cli-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.pkt");
    let bad = dir.join("bad.pkt");
    std::fs::write(
        &good,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n",
    )
    .unwrap();
    std::fs::write(&bad, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n").unwrap();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/close-active.pkt");

    let (code, out, _) = tcpsim(&["script", good.to_str().unwrap(), suite]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("seed 1: 2 passed, 0 failed\n"), "{out}");

    let (code, out, _) = tcpsim(&["script", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("bad.pkt:1: socket: expected = 4, got = 3 at 0.000000"),
        "{out}"
    );
    assert!(out.ends_with("seed 1: 1 passed, 1 failed\n"), "{out}");

    let (code, _, err) = tcpsim(&["script"]);
    assert_eq!(code, 2, "no files is a usage error: {err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn script_directories_are_walked_at_any_depth_in_path_order() {
    // The suite is grouped by state in subdirectories: `tcpsim script DIR`
    // must find the scripts two levels down (a directory holding only
    // subdirectories used to be "no .pkt files"), skip other files, and
    // run them sorted by path so every machine runs them in one order.
    let dir = std::env::temp_dir().join(format!("tcpsim-cli-tree-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b-state/deeper")).unwrap();
    std::fs::create_dir_all(dir.join("a-state")).unwrap();
    let ok = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n";
    for f in ["b-state/deeper/x.pkt", "b-state/a.pkt", "a-state/z.pkt"] {
        std::fs::write(dir.join(f), ok).unwrap();
    }
    std::fs::write(dir.join("a-state/notes.txt"), "not a script").unwrap();

    let (code, out, err) = tcpsim(&["script", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let ran: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ok    "))
        .map(|l| l.split("  (").next().unwrap())
        .collect();
    let want: Vec<String> = ["a-state/z.pkt", "b-state/a.pkt", "b-state/deeper/x.pkt"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    assert_eq!(ran, want, "{out}");
    assert!(out.ends_with("seed 1: 3 passed, 0 failed\n"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
