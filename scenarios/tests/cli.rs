//! The `tcpsim` command: the catalogue table, one scenario's rendering, and
//! one-line errors (never a panic) for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
    // Binary output never goes to a terminal; with --out it is a pcapng
    // file (it opens with the Section Header Block's type).
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
    assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    std::fs::remove_file(&path).ok();
}

#[test]
fn json_lines_parse_and_ss_counts_states() {
    // Every JSON line is an object with the stable fields; the ss table ends
    // with per-state counts.
    let (code, out, _) = tcpsim(&["run", "four-way-close", "--format", "json"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "header" || v["event"] == "end" {
            continue;
        }
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
    // Closing a descriptor that was never opened fails with EBADF.
    std::fs::write(&bad, "0 close(3) = 0\n").unwrap();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/close-active.pkt");

    let (code, out, _) = tcpsim(&["script", good.to_str().unwrap(), suite]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with(
            "seed 1: 2 passed, 0 failed of 2\n{\"failed\":0,\"passed\":2,\"seed\":1,\"total\":2}\n"
        ),
        "{out}"
    );

    let (code, out, _) = tcpsim(&["script", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL {}:1: close: expected = 0, got = -1 EBADF at 0.000000",
            bad.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("pass {}  (", good.display())),
        "{out}"
    );
    assert!(
        out.ends_with(
            "seed 1: 1 passed, 1 failed of 2\n{\"failed\":1,\"passed\":1,\"seed\":1,\"total\":2}\n"
        ),
        "{out}"
    );

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
        .filter_map(|l| l.strip_prefix("pass "))
        .map(|l| l.split("  (").next().unwrap())
        .collect();
    let want: Vec<String> = ["a-state/z.pkt", "b-state/a.pkt", "b-state/deeper/x.pkt"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    assert_eq!(ran, want, "{out}");
    assert!(out.contains("seed 1: 3 passed, 0 failed of 3\n"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs tcpsim, killing it (and failing) if it has not ended within `secs`.
fn tcpsim_within(args: &[&str], secs: u64) -> (i32, String, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Polls every 20 ms (no wall clock: the workspace bans `Instant::now`).
    let mut polls = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        polls += 1;
        if polls > secs * 50 {
            child.kill().ok();
            child.wait().ok();
            panic!("tcpsim {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

/// A fresh, empty directory for one test.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpsim-cli-{test}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn absurd_jobs_are_refused_at_once_and_the_maximum_is_bounded_by_the_work() {
    // `--jobs 100000` used to start 100,000 threads and print nothing for
    // minutes; it must now be refused within seconds, naming the limit, as
    // must 0 and one past the maximum.
    for jobs in ["100000", "0", "257"] {
        let (code, out, err) = tcpsim_within(&["all", "--jobs", jobs], 30);
        assert_eq!(code, 2, "--jobs {jobs}: stdout {out} stderr {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("--jobs {jobs}")) && err.contains("1 to 256"),
            "{err}"
        );
        assert!(out.is_empty(), "nothing ran: {out}");
    }
    // The largest accepted value runs no more threads than there are
    // scenarios, and the table is the one a single thread prints.
    use scenarios::cli::{MAX_JOBS, worker_count};
    let scenarios = scenarios::catalogue::Catalogue::builtin().scenarios().len();
    assert_eq!(worker_count(MAX_JOBS, scenarios), scenarios);
    assert_eq!(worker_count(2, scenarios), 2);
    assert_eq!(worker_count(1_000_000, 3), 3);
    let (code, out, err) = tcpsim_within(&["all", "--jobs", "256"], 120);
    assert!(code == 0 || code == 1, "{err}");
    let rows = out
        .lines()
        .filter(|l| l.contains(" pass ") || l.contains(" FAIL "))
        .count();
    assert_eq!(rows, scenarios, "{out}");
}

#[test]
fn an_interrupted_out_leaves_the_users_file_as_it_was() {
    // The write dies part-way (a 1-block file size limit, so the write
    // fails with EFBIG after the first block): the old code had already
    // truncated the user's file and left it holding a fragment. Now the
    // fragment went to a temporary file, which is removed, and the user's
    // file still holds its old contents.
    let dir = scratch_dir("out-interrupted");
    let target = dir.join("bulk.json");
    let previous = "the previous, good rendering\n";
    std::fs::write(&target, previous).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 1; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_tcpsim"))
        .args(["run", "lossy-bulk", "--format", "json", "--out"])
        .arg(&target)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(target.to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), previous);
    assert_eq!(entries(&dir), ["bulk.json"], "no temporary file left");

    // A run that succeeds replaces the file whole, and leaves nothing else.
    let (code, _, err) = tcpsim(&["run", "handshake", "--out", target.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.starts_with("       time  client"), "{written}");
    assert!(!written.contains(previous));
    assert_eq!(entries(&dir), ["bulk.json"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreadable_scripts_are_bad_input_and_broken_ones_fail_alone() {
    // Exit 2 means "the arguments are wrong": a file that is not there
    // says nothing about the stack, so nothing runs and stderr names it.
    // A script that does not parse is that script's failure: suites
    // written for Linux use features tcpsim lacks, and one such script
    // must not hide the verdicts on the rest, so the good script still
    // runs and the summary counts the broken one as failed (exit 1).
    let dir = scratch_dir("script-input");
    let good = dir.join("good.pkt");
    let broken = dir.join("broken.pkt");
    let missing = dir.join("missing.pkt");
    std::fs::write(
        &good,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n",
    )
    .unwrap();
    std::fs::write(&broken, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = \n").unwrap();
    let (good, broken, missing) = (
        good.to_str().unwrap(),
        broken.to_str().unwrap(),
        missing.to_str().unwrap(),
    );

    let (code, out, err) = tcpsim(&["script", missing]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("tcpsim: error: cannot read {missing}: ")),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");

    let (code, out, err) = tcpsim(&["script", good, broken, missing]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(missing), "{err}");
    assert!(out.is_empty(), "nothing ran: {out}");

    let (code, out, err) = tcpsim(&["script", good, broken]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with(&format!("pass {good}  (")), "{out}");
    assert_eq!(
        lines[1],
        format!("FAIL {broken}:1:43: expected a value, found end of line")
    );
    assert_eq!(lines[2], "seed 1: 1 passed, 1 failed of 2");
    let counts: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(counts["failed"], 1);
    assert_eq!(counts["total"], 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn write_errors_name_the_file() {
    // /dev/full accepts the open and fails the write (ENOSPC); /proc
    // refuses new files. Either way the message says which path failed.
    for path in ["/dev/full", "/proc/version"] {
        let (code, _, err) = tcpsim(&["run", "handshake", "--out", path]);
        assert_eq!(code, 2, "{path}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("tcpsim: error: cannot write {path}: ")),
            "{err}"
        );
    }
}

#[test]
fn a_missing_argument_is_named() {
    // `tcpsim run` alone must say that the scenario name is missing and
    // where the names are; `tcpsim script` alone, that files are.
    let (code, _, err) = tcpsim(&["run"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("missing argument <NAME>"), "{err}");
    assert!(err.contains("tcpsim list"), "{err}");
    let (code, _, err) = tcpsim(&["script"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing argument <FILES>"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_verdict() {
    // `tcpsim ... | head -1`: the reader is gone before tcpsim writes (and
    // the big outputs overflow any pipe buffer). Like a Unix tool, tcpsim
    // stops without a word on stderr, and its exit status is the verdict it
    // gives when someone reads everything.
    let dir = scratch_dir("pipe");
    let script = dir.join("s.pkt");
    std::fs::write(
        &script,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n",
    )
    .unwrap();
    for args in [
        vec!["run", "handshake"],
        vec!["run", "lossy-bulk", "--format", "json"],
        vec!["list"],
        vec!["script", script.to_str().unwrap()],
    ] {
        let read_all = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // JSON's summary line goes to standard error by design; nothing
        // else may appear there.
        let err: Vec<&str> = err
            .lines()
            .filter(|l| !(args.contains(&"json") && l.contains("trace hash")))
            .collect();
        assert!(err.is_empty(), "{args:?}: {err:?}");
        assert_eq!(out.status.code(), read_all.code(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn json_stdout_is_json_lines_only_and_the_summary_goes_to_stderr() {
    // `tcpsim run X --format json | jq` must work on every line: standard
    // output holds nothing but JSON objects (header, events, end), and the
    // person's summary line is on standard error.
    let (code, out, err) = tcpsim(&["run", "lossy-bulk", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.is_object(), "{line}");
    }
    assert!(out.lines().last().unwrap().contains("\"event\":\"end\""));
    assert!(
        err.contains("lossy-bulk: seed 1") && err.contains("verdict pass"),
        "{err}"
    );
}

#[test]
fn explain_prints_the_documentation_and_its_rfc_references() {
    // `tcpsim explain` is how a reader learns what a scenario checks: the
    // scenario's own doc text and the RFC sections it cites.
    let (code, out, _) = tcpsim(&["explain", "lost-final-ack"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("lost-final-ack: "), "{out}");
    assert!(out.contains("TIME-WAIT"), "{out}");
    assert!(out.contains("RFC references:\n  RFC 9293 §3.6\n"), "{out}");
}

#[test]
fn a_misspelled_scenario_name_gets_a_suggestion_and_status_2() {
    // A typo is bad input (exit 2, one line), and the line names the
    // scenario the user most likely meant; nonsense gets no suggestion.
    for command in ["run", "explain"] {
        let (code, _, err) = tcpsim(&[command, "lost-fnal-ack"]);
        assert_eq!(code, 2);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("did you mean \"lost-final-ack\"?"), "{err}");
    }
    let (code, _, err) = tcpsim(&["run", "qqqqqqqq"]);
    assert_eq!(code, 2);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn ss_at_a_time_shows_the_sockets_mid_run() {
    // zero-window's reader pauses until 5 s: at 2 s the server's socket is
    // ESTABLISHED with a full receive queue and the client still has data
    // queued, which the end-of-run table (everything closed) cannot show.
    let (code, out, err) = tcpsim(&["run", "zero-window", "--format", "ss", "--at", "2s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ESTAB         16384"), "{out}");
    assert!(out.contains("stopped at --at"), "{out}");
    let (_, end, _) = tcpsim(&["run", "zero-window", "--format", "ss"]);
    assert!(!end.contains("ESTAB"), "{end}");
    for bad in [
        vec!["run", "zero-window", "--format", "ss", "--at", "soon"],
        vec!["run", "zero-window", "--at", "2s"],
    ] {
        let (code, _, err) = tcpsim(&bad);
        assert_eq!(code, 2, "{bad:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn help_states_defaults_and_exit_codes_and_list_shows_rfcs() {
    // A user reads the defaults and the exit statuses from --help, and the
    // RFC sections of each scenario from `list`.
    let (code, out, _) = tcpsim(&["run", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("[default: 1]"),
        "--seed states its default: {out}"
    );
    assert!(out.contains("[default: ladder]"), "{out}");
    assert!(out.contains("0  every scenario or script passed"), "{out}");
    assert!(out.contains("2  bad input or usage"), "{out}");
    let (_, top, _) = tcpsim(&["--help"]);
    assert!(top.contains("1  a check failed"), "{top}");
    let (code, list, _) = tcpsim(&["list"]);
    assert_eq!(code, 0);
    let line = list
        .lines()
        .find(|l| l.starts_with("lost-final-ack "))
        .unwrap();
    assert!(line.ends_with("[RFC 9293 §3.6]"), "{line}");
    let (_, long, _) = tcpsim(&["list", "--long"]);
    assert!(long.contains("§3.10.7.4"), "{long}");
}
