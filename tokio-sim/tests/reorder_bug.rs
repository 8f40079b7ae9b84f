//! An application bug that only reordering plus a reset exposes, found by
//! a loop over seeds, then by a sweep of the test as a scenario, whose
//! capsule shrinks to the one reordering that matters.
//!
//! The client stores a value with a fire-and-forget write: it sends `SET`
//! and drops the connection 10 ms later without reading anything, then asks
//! for the value on a new connection. In order, the server reads the SET
//! long before the close and all is well. When the link holds the SET
//! segment back behind what follows it, the connection is torn down by a
//! RST before the server reads the SET: the client's answer to the
//! server's greeting reaching a socket it has closed (RFC 9293 §3.10.7),
//! or its own close with the greeting unread (RFC 2525 §2.17, as Linux
//! does). The late SET then meets no connection, and the GET finds
//! nothing. The fix is to wait for the server's `OK` before closing.

use scenarios::capsule::ScenarioRef;
use scenarios::capsule::run::{Case, Verdict, capture, replay};
use scenarios::capsule::shrink::{Options, shrink};
use scenarios::sweep::{Profile, Seeds, Sweep};
use sim::{LinkConfig, Reorder};
use std::time::Duration;
use tcpsim_tokio::Sim;
use tcpsim_tokio::net::{TcpListener, TcpStream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A server that greets each connection, then answers SET/GET lines.
async fn server() -> tcpsim_tokio::Result {
    let listener = TcpListener::bind("0.0.0.0:7000").await?;
    let store = std::rc::Rc::new(std::cell::RefCell::new(std::collections::BTreeMap::new()));
    loop {
        let (stream, _) = listener.accept().await?;
        let store = store.clone();
        tokio::task::spawn_local(async move {
            let (r, mut w) = stream.into_split();
            if w.write_all(b"HELLO\n").await.is_err() {
                return;
            }
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let words: Vec<&str> = line.split(' ').collect();
                let reply = match words.as_slice() {
                    ["SET", k, v] => {
                        store.borrow_mut().insert(k.to_string(), v.to_string());
                        "OK".to_string()
                    }
                    ["GET", k] => store
                        .borrow()
                        .get(*k)
                        .map_or("NONE".to_string(), |v| format!("VALUE {v}")),
                    _ => "ERR".to_string(),
                };
                if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn client(wait_for_ok: bool) -> tcpsim_tokio::Result {
    let stream = TcpStream::connect("server:7000").await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    w.write_all(b"SET colour blue\n").await?;
    if wait_for_ok {
        let mut lines = BufReader::new(r).lines();
        assert_eq!(lines.next_line().await?.as_deref(), Some("HELLO"));
        assert_eq!(lines.next_line().await?.as_deref(), Some("OK"));
    } else {
        // The bug: "the write returned, so the server has it".
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop((r, w));
    }
    let stream = TcpStream::connect("server:7000").await?;
    let (r, mut w) = stream.into_split();
    w.write_all(b"GET colour\n").await?;
    let mut lines = BufReader::new(r).lines();
    assert_eq!(lines.next_line().await?.as_deref(), Some("HELLO"));
    let answer = lines.next_line().await?.unwrap_or_default();
    if answer != "VALUE blue" {
        return Err(format!("GET colour answered {answer:?} after the SET").into());
    }
    Ok(())
}

fn run(seed: u64, reorder: bool, wait_for_ok: bool) -> Result<(), String> {
    let mut sim = Sim::new(seed);
    let mut link = LinkConfig::new(100_000_000, sim::Duration::from_millis(1));
    if reorder {
        link = link.with_reorder(Reorder {
            probability: 0.25,
            extra_delay: sim::Duration::from_millis(40),
        });
    }
    sim.link(link);
    sim.host("server", server);
    sim.client("client", client(wait_for_ok));
    sim.execute().unwrap().result
}

#[test]
fn a_seed_loop_finds_the_lost_write_and_the_fix_survives_every_seed() {
    // Over 40 seeds with reordering, some lose the SET (the GET answers
    // NONE); the same seeds without reordering never do, and the fixed
    // client (which reads the OK before closing) passes on every seed,
    // reordered or not. So the failure is the application's, and only
    // reordering plus the RST of its close brings it out.
    let failing: Vec<u64> = (0..40).filter(|&s| run(s, true, false).is_err()).collect();
    assert!(!failing.is_empty(), "no seed exposed the bug");
    assert!(
        failing.len() < 40,
        "every seed failed: not a reordering effect"
    );
    for &seed in &failing {
        let e = run(seed, true, false).unwrap_err();
        assert!(
            e.contains("GET colour answered \"NONE\""),
            "seed {seed}: {e}"
        );
        assert_eq!(run(seed, false, false), Ok(()), "seed {seed} in order");
        assert_eq!(run(seed, true, true), Ok(()), "seed {seed} fixed");
    }
    eprintln!("seeds that expose the bug: {failing:?}");
}

/// The test as a sweepable scenario: the buggy client or the fixed one.
fn scenario(wait_for_ok: bool) -> scenarios::catalogue::Scenario {
    let name = if wait_for_ok {
        "set-then-wait-for-ok"
    } else {
        "fire-and-forget-set"
    };
    tcpsim_tokio::sweep::scenario(name, move |sim| {
        sim.host("server", server);
        sim.client("client", client(wait_for_ok));
    })
}

/// Reordering only: each direction of every link holds a quarter of its
/// packets back 40 ms while the faults are active.
fn reordering() -> Profile {
    Profile::parse(
        r#"
name = "reorder"
[reorder]
probability = 0.25
delay_ms = 40
"#,
    )
    .unwrap()
}

#[test]
fn a_sweep_finds_the_lost_write_and_its_capsule_shrinks_to_the_held_back_set() {
    // The sweep runs the user's own async test at 40 seeds under a
    // reordering profile and names the seeds whose GET found nothing
    // (oracle `test`, the test body's error); the same seeds pass without
    // faults, and the fixed client passes all of them under the same
    // faults. The failure's capsule, shrunk by delta debugging over its
    // fault decisions, keeps two held-back packets (the handshake's last
    // ACK on the client's uplink, then the SET on the server's downlink),
    // so the client's FIN overtakes both, the greeting reaches a closed
    // client, and its RST resets the server's connection before the SET
    // arrives; replayed, it reproduces exactly, and removing either hold
    // makes the run pass (ddmin's result is 1-minimal among the recorded
    // decisions). That reordering plus the RST is the whole story.
    let buggy = scenario(false);
    let seeds = Seeds::new(1, 40).unwrap();
    let report = Sweep::new(vec![buggy.clone()], seeds)
        .faults("reorder", reordering())
        .jobs(2)
        .run();
    assert!(!report.failures.is_empty(), "no seed exposed the bug");
    assert!(
        report.failures.len() < 40,
        "every seed failed: not a reordering effect"
    );
    for f in &report.failures {
        assert_eq!(f.oracles, ["test"], "seed {}: {}", f.seed, f.message);
        assert!(
            f.message.contains("GET colour answered \"NONE\""),
            "seed {}: {}",
            f.seed,
            f.message
        );
    }
    // The same sweep on one thread reports the same seeds, runs and hashes.
    let again = Sweep::new(vec![buggy.clone()], seeds)
        .faults("reorder", reordering())
        .jobs(1)
        .run();
    assert_eq!(again, report);
    let calm = Sweep::new(vec![buggy.clone()], seeds).jobs(2).run();
    assert!(calm.passed(), "{:?}", calm.failures);
    let fixed = Sweep::new(vec![scenario(true)], seeds)
        .faults("reorder", reordering())
        .jobs(2)
        .run();
    assert!(fixed.passed(), "{:?}", fixed.failures);

    let seed = report.failures[0].seed;
    let case = Case {
        scenario: buggy,
        seed,
        profile: reordering(),
        expectations: false,
    };
    let capsule = capture(
        &case,
        ScenarioRef::Catalogue("fire-and-forget-set".into()),
        "reorder",
    )
    .unwrap()
    .expect("the failure happens again when recorded");
    assert_eq!(capsule.oracle, "test");
    let shrunk = shrink(
        &capsule,
        &case,
        Options {
            max_runs: 400,
            jobs: 2,
        },
    )
    .unwrap();
    assert!(!shrunk.truncated, "{} runs", shrunk.runs);
    let held: Vec<&str> = shrunk
        .capsule
        .decisions
        .iter()
        .map(|d| d.link.as_str())
        .collect();
    assert_eq!(
        held,
        ["spoke-client:client->hub", "spoke-server:hub->server"],
        "from {} decisions: {:?}",
        capsule.decisions.len(),
        shrunk.capsule.notes
    );
    assert_eq!(shrunk.capsule.notes, ["reorder: reorder"; 2]);
    let back = scenarios::capsule::Capsule::parse(&shrunk.capsule.to_toml()).unwrap();
    let replayed = replay(&back, &case).unwrap();
    assert_eq!(
        replayed.verdict,
        Verdict::Reproduced,
        "{}",
        replayed.report(&back)
    );
    // The ladder of the shrunk run, for a reader: the ACK and the SET
    // (16 bytes) held back, the FIN completing the server's handshake
    // instead, the greeting (6 bytes) met by the closed client's RST, the
    // server's ECONNRESET, then the GET (11 bytes) answered NONE (5
    // bytes). The held segments are still in flight when the test ends.
    let outcome = replayed.ran.outcome.as_ref().expect("the replay ran");
    insta::assert_snapshot!(
        "held_back_set",
        scenarios::render::ladder(outcome, scenarios::render::Numbering::Relative)
    );
    eprintln!(
        "seed {seed}: {} fault decisions shrunk to {} in {} runs",
        capsule.decisions.len(),
        shrunk.capsule.decisions.len(),
        shrunk.runs
    );
}
