//! Scenario files: every shipped example runs and passes its own
//! expectations and the oracles; a file describing a catalogue case
//! replays it exactly; and each kind of bad file is an error naming the
//! file, line, column and field, before anything runs.

use scenarios::file::{self, FileError};
use std::path::{Path, PathBuf};
use std::process::Command;

fn files_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("files")
}

fn shipped() -> Vec<PathBuf> {
    file::expand(&[files_dir()]).unwrap()
}

fn load(name: &str) -> scenarios::catalogue::Scenario {
    file::load(&files_dir().join(name)).unwrap().scenario()
}

/// The error for `text`, named `bad.toml`.
fn error(text: &str) -> FileError {
    match file::parse(Path::new("bad.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

const GOOD: &str = r#"
[[host]]
name = "client"
addr = "10.0.0.1"
schedule = [
  { at = "0ms", do = "connect", to = "server:80" },
  { at = "100ms", do = "close", conn = 0 },
]

[[host]]
name = "server"
addr = "10.0.0.2"
close_on_eof = true
schedule = [{ at = "0ms", do = "listen", port = 80 }]

[[link]]
a = "client"
b = "server"
"#;

#[test]
fn every_shipped_file_passes_its_expectations_and_the_oracles() {
    // `passed()` is both the four oracles and the file's [[expect]]s; three
    // seeds, so a pass is not one lucky draw of loss or jitter.
    let files = shipped();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let scenario = file::load(&path).unwrap().scenario();
        for seed in 1..=3 {
            let o = scenario.run(seed).unwrap();
            assert!(
                o.passed(),
                "{} seed {seed}: {}",
                path.display(),
                o.verdict()
            );
        }
    }
}

#[test]
fn the_lost_final_ack_file_replays_the_catalogue_case_event_for_event() {
    // Same hosts, addresses, link and named rule as the Rust scenario: an
    // equal trace hash at several seeds means the file format loses nothing
    // the catalogue says (the client's second pure ACK dropped, LAST-ACK's
    // FIN retransmitted, TIME-WAIT's re-ACK).
    let from_file = load("lost-final-ack.toml");
    let builtin = scenarios::catalogue::Catalogue::builtin();
    let builtin = builtin.find("lost-final-ack").unwrap();
    for seed in [1, 7, 99] {
        let a = from_file.run(seed).unwrap();
        let b = builtin.run(seed).unwrap();
        assert_eq!(a.stats.trace_hash, b.stats.trace_hash, "seed {seed}");
        assert!(a.passed(), "{}", a.verdict());
    }
}

#[test]
fn the_half_close_file_replays_the_catalogue_case() {
    // The half-close as a file: the client's SHUT_WR, then 50,000 bytes the
    // other way, exactly as the catalogue's half-close.
    let a = load("half-close.toml").run(1).unwrap();
    let builtin = scenarios::catalogue::Catalogue::builtin();
    let b = builtin.find("half-close").unwrap().run(1).unwrap();
    assert_eq!(a.stats.trace_hash, b.stats.trace_hash);
}

#[test]
fn lost_final_ack_ladder() {
    // Reviewed against RFC 9293 §3.6's close: FIN,ACK each way, the
    // client's final ACK dropped by the rule called by its name, the
    // server's FIN retransmitted from LAST-ACK and re-ACKed from TIME-WAIT.
    let o = load("lost-final-ack.toml").run(1).unwrap();
    let ladder = scenarios::render::ladder(&o, scenarios::render::Numbering::Relative);
    insta::assert_snapshot!("file-lost-final-ack", ladder);
}

#[test]
fn an_expectation_the_run_does_not_meet_fails_it() {
    // The [[expect]] checks bite: the half-close with a wrong byte count
    // fails, naming the host and both numbers.
    let text = std::fs::read_to_string(files_dir().join("half-close.toml"))
        .unwrap()
        .replace("bytes_received = 50000", "bytes_received = 49999");
    let o = file::parse(Path::new("half-close.toml"), &text)
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    assert!(!o.passed());
    assert_eq!(
        o.expectation,
        Err("client: received 50000 bytes, expected 49999".into())
    );
}

#[test]
fn a_network_event_in_a_file_changes_the_run() {
    // The partition in partition-during-bulk.toml is real: without its two
    // [[event]]s the sender retransmits nothing, with them it must.
    let path = files_dir().join("partition-during-bulk.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("[[event]]").unwrap();
    let expect_at = text.find("[[expect]]").unwrap();
    let calm = format!("{}{}", &text[..cut], &text[expect_at..]).replace(
        "retransmissions_at_least = 2",
        "retransmissions_at_most = 0",
    );
    let o = file::parse(&path, &calm)
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    assert!(o.passed(), "{}", o.verdict());
    assert_eq!(o.retransmissions(0), 0);
    let o = load("partition-during-bulk.toml").run(1).unwrap();
    assert!(o.retransmissions(0) >= 2);
}

#[test]
fn a_syntax_error_names_the_line_and_column() {
    // A missing closing quote on line 3: the error says bad.toml:3:COL.
    let e = error("[[host]]\nname = \"client\"\naddr = \"10.0.0.1\n");
    assert_eq!((e.file.as_path(), e.line), (Path::new("bad.toml"), Some(3)));
    assert!(e.to_string().starts_with("bad.toml:3:"), "{e}");
}

#[test]
fn an_unknown_field_is_an_error_naming_it_and_its_table() {
    // `mms` for `mss`: refused, at its line, in [host.tcp], with the
    // names it could have been.
    let text = GOOD.replace(
        "close_on_eof = true",
        "close_on_eof = true\ntcp = { mms = 1000 }",
    );
    let e = error(&text);
    let line = text.lines().position(|l| l.contains("mms")).unwrap() + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains("unknown field `mms`"), "{e}");
    assert!(e.message.contains("`mss`"), "{e}");
    assert!(e.message.contains("tcp"), "{e}");
}

#[test]
fn a_bad_value_names_the_field() {
    // A delay with no unit and a loss above 1: each names its field.
    let text = GOOD.replace("b = \"server\"", "b = \"server\"\nboth = { delay = \"5\" }");
    let e = error(&text);
    assert!(e.to_string().contains("[[link]] both"), "{e}");
    assert!(e.message.contains("has no unit"), "{e}");
    let text = GOOD.replace(
        "b = \"server\"",
        "b = \"server\"\n[link.a_to_b]\nloss = 1.5",
    );
    let e = error(&text);
    assert!(e.message.starts_with("[link.a_to_b] loss:"), "{e}");
    assert!(e.message.contains("not a probability"), "{e}");
    let text = GOOD.replace(
        "close_on_eof = true",
        "close_on_eof = true\ntcp = { window_scale = 15 }",
    );
    assert!(error(&text).message.contains("outside 0..=14"));
    // An MSS of 0 would leave the stack no room for a byte: refused at its field.
    let text = GOOD.replace(
        "close_on_eof = true",
        "close_on_eof = true\ntcp = { mss = 0 }",
    );
    let e = error(&text);
    assert!(
        e.message
            .starts_with("[[host]] tcp: MSS 0 is outside 88..=65495"),
        "{e}"
    );
    // Settings the link model refuses are refused at their [[link]], by direction.
    let text = GOOD.replace(
        "b = \"server\"",
        "b = \"server\"\nboth = { jitter = { kind = \"uniform\", min = \"5ms\", max = \"1ms\" } }",
    );
    let e = error(&text);
    assert!(e.line.is_some(), "{e}");
    assert!(
        e.message.contains("direction client->server: jitter min"),
        "{e}"
    );
}

#[test]
fn a_duplicate_address_names_both_hosts() {
    // Two hosts at 10.0.0.1: the second is refused, at its address, with
    // the line of the first.
    let text = GOOD.replace("10.0.0.2", "10.0.0.1");
    let e = error(&text);
    let second = text.match_indices("10.0.0.1").nth(1).unwrap().0;
    let line = text[..second].matches('\n').count() + 1;
    assert_eq!(e.line, Some(line));
    assert!(
        e.message.contains("duplicate address 10.0.0.1")
            && e.message.contains("\"client\" (line 4)")
            && e.message.contains("\"server\""),
        "{e}"
    );
}

#[test]
fn a_host_with_no_route_to_its_peer_is_refused() {
    // No [[link]] and no [[router]] joins client and server: the connect
    // step is refused before the run, naming both hosts.
    let text = GOOD.replace("[[link]]\na = \"client\"\nb = \"server\"\n", "");
    let e = error(&text);
    assert_eq!(e.line, Some(6), "{e}");
    assert!(
        e.message.contains("no route from \"client\" to \"server\""),
        "{e}"
    );
    // A peer address no host has.
    let text = GOOD.replace("to = \"server:80\"", "to = \"10.9.9.9:80\"");
    assert!(error(&text).message.contains("no host has that address"));
}

#[test]
fn a_step_on_a_connection_never_opened_is_refused() {
    // The client opens one connection (0) and closes connection 1: it
    // never has one, and does not listen.
    let text = GOOD.replace("do = \"close\", conn = 0", "do = \"close\", conn = 1");
    let e = error(&text);
    assert_eq!(e.line, Some(7), "{e}");
    assert!(
        e.message.contains("connection 1, which it never opens")
            && e.message.contains("opened only 1 by then"),
        "{e}"
    );
    // A listener whose only peer opens one connection cannot close a second.
    let text = GOOD.replace(
        "schedule = [{ at = \"0ms\", do = \"listen\", port = 80 }]",
        "schedule = [{ at = \"0ms\", do = \"listen\", port = 80 }, { at = \"1s\", do = \"close\", conn = 1 }]",
    );
    assert!(error(&text).message.contains("peers open at most 1"));
}

#[test]
fn names_that_name_nothing_are_refused() {
    // A fault on a link that does not exist, a direction that is not the
    // link's, an expectation about an unknown host, a step field that
    // belongs to another step.
    let fault = |link: &str, direction: &str| {
        format!(
            "{GOOD}\n[[fault]]\nname = \"x\"\nlink = \"{link}\"\ndirection = \"{direction}\"\naction = \"drop\"\n"
        )
    };
    let e = error(&fault("nowhere", "both"));
    assert!(
        e.message
            .contains("no link called \"nowhere\" (links: client-server)"),
        "{e}"
    );
    let e = error(&fault("client-server", "server->hub"));
    assert!(
        e.message
            .contains("write \"client->server\", \"server->client\" or \"both\""),
        "{e}"
    );
    let e = error(&format!("{GOOD}\n[[expect]]\nhost = \"nobody\"\n"));
    assert!(e.message.contains("no host called \"nobody\""), "{e}");
    let e = error(&GOOD.replace(
        "do = \"close\", conn = 0",
        "do = \"close\", conn = 0, bytes = 5",
    ));
    assert!(e.message.contains("has no field `bytes`"), "{e}");
}

#[test]
fn the_cli_runs_files_and_folders_and_refuses_bad_ones_with_status_2() {
    // `run FILE.toml` and `all DIR` run files; a bad file is one error line
    // per problem, status 2, nothing run, and the file is left as it was.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = files_dir();
    let (code, out, _) = run(&["run", dir.join("lost-final-ack.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("X dropped: fault rule \"drop the final ACK\""),
        "{out}"
    );
    let (code, out, _) = run(&["all", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{} passed, 0 failed", shipped().len())),
        "{out}"
    );

    let scratch = std::env::temp_dir().join(format!("tcpsim-files-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let bad = scratch.join("bad.toml");
    let text = GOOD.replace("10.0.0.2", "10.0.0.1");
    std::fs::write(&bad, &text).unwrap();
    let (code, out, err) = run(&["run", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml:") && err.contains("duplicate address"),
        "{err}"
    );
    let (code, _, err) = run(&["all", scratch.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), text);
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn the_readme_example_runs_and_passes() {
    // The README shows one file: it must load as written and pass, so the
    // README stays true.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let o = file::parse(Path::new("README.md"), &readme[start..end])
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    assert!(o.passed(), "{}", o.verdict());
    assert!(o.visited(1, stack::State::LastAck) && o.retransmissions(1) >= 1);
}

#[test]
fn the_documented_complete_file_is_the_shipped_one() {
    // docs/scenario-files.md's complete example loads and replays the
    // shipped lost-final-ack.toml's trace.
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-files.md"),
    )
    .unwrap();
    let at = doc.find("## A complete file").unwrap();
    let start = at + doc[at..].find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let documented = file::parse(Path::new("doc.toml"), &doc[start..end])
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    let shipped = load("lost-final-ack.toml").run(1).unwrap();
    assert!(documented.passed(), "{}", documented.verdict());
    assert_eq!(documented.stats.trace_hash, shipped.stats.trace_hash);
}

mod mangled {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn a_mangled_file_is_an_error_or_a_plan_never_a_panic(
            which in 0usize..4,
            cut in 0usize..4000,
            len in 0usize..40,
            insert in "[a-z0-9 =\"\\[\\],{}.é\n-]{0,12}",
        ) {
            // Any edit of a shipped file (a span removed, text inserted)
            // loads or is refused with a position inside the file; a panic
            // fails the test.
            let files = shipped();
            let path = &files[which % files.len()];
            let text = std::fs::read_to_string(path).unwrap();
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            let mangled = format!("{}{}{}", &text[..at], insert, &text[end..]);
            if let Err(e) = file::parse(path, &mangled) {
                let lines = mangled.lines().count().max(1) + 1;
                prop_assert!(e.line.is_none_or(|l| l <= lines), "{e}");
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

#[test]
fn hold_and_release_events_delay_the_fin_until_the_release() {
    // The client closes at 100 ms while client->server is held (50 ms to
    // 500 ms): its FIN is kept, not lost, and reaches the server only at
    // the release (a hold keeps what already crossed the link), so the
    // server enters CLOSE-WAIT at exactly 500 ms, and the run still passes.
    let text = format!(
        "{GOOD}both = {{ rate = \"100Mbit\", delay = \"5ms\" }}\n\
         [[event]]\nat = \"50ms\"\nlink = \"client-server\"\ndirection = \"client->server\"\nchange = \"hold\"\n\
         [[event]]\nat = \"500ms\"\nlink = \"client-server\"\ndirection = \"client->server\"\nchange = \"release\"\n\
         [[event]]\nat = \"600ms\"\nlink = \"client-server\"\nchange = \"set-loss\"\nloss = 0.0\n"
    );
    let o = file::parse(Path::new("hold.toml"), &text)
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    assert!(o.passed(), "{}", o.verdict());
    let close_wait = o
        .host(1)
        .log
        .iter()
        .find(|l| {
            matches!(
                l.record,
                scenarios::host::Record::State {
                    to: stack::State::CloseWait,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(close_wait.time, sim::Time::from_millis(500));
}

#[test]
fn router_mistakes_are_refused_at_the_router() {
    // A star whose hub takes a host's name, a host on two routers, and a
    // second star on the default hub address: each refused before the run.
    let hosts = GOOD.split("[[link]]").next().unwrap();
    let star = |name: &str| {
        format!(
            "\n[[router]]\nkind = \"star\"\nname = \"{name}\"\nleaves = [\"client\", \"server\"]\n"
        )
    };
    let e = error(&format!("{hosts}{}", star("server")));
    assert!(
        e.message
            .contains("router \"server\": a host or another router already has that name"),
        "{e}"
    );
    let e = error(&format!("{hosts}{}{}", star("hub"), star("hub2")));
    assert!(e.message.contains("duplicate address 10.254.0.1"), "{e}");
    let two = format!(
        "{hosts}{}\n[[router]]\nkind = \"star\"\nname = \"hub2\"\naddr = \"10.254.0.2\"\nleaves = [\"client\"]\n",
        star("hub")
    );
    let e = error(&two);
    assert!(
        e.message.contains("host \"client\" is already on a router"),
        "{e}"
    );
    // A dumbbell field on a star.
    let e = error(&format!("{hosts}{}senders = [\"client\"]\n", star("hub")));
    assert!(
        e.message.contains("a Star router has no field `senders`"),
        "{e}"
    );
    // And the star itself runs: both hosts reach each other through the hub.
    let o = file::parse(Path::new("star.toml"), &format!("{hosts}{}", star("hub")))
        .unwrap()
        .scenario()
        .run(1)
        .unwrap();
    assert!(o.passed(), "{}", o.verdict());
    assert!(o.visited(0, stack::State::TimeWait));
}
