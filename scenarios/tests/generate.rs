//! The generated family `random`: every seed's workload runs clean on the
//! stack under every oracle, the family reaches what it promises (every
//! topology, every kind of call, every state), and it runs from the CLI.

use scenarios::generate::{self, Call, Params, Shape};
use stack::State;
use std::collections::BTreeSet;

#[test]
fn a_hundred_generated_workloads_pass_every_oracle() {
    // Each seed is a different random workload; a failure is a stack bug
    // or a generator bug, and its message carries the seed to rerun
    // (`tcpsim run random --seed N`). The long sweep is the
    // `random_sweep` example; this is the bounded count CI runs.
    let s = generate::scenario(Params::default());
    for seed in 0..100 {
        let o = s.run(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            o.passed(),
            "seed {seed}: {}",
            o.violations
                .iter()
                .take(3)
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

#[test]
fn the_family_draws_every_shape_and_every_kind_of_call() {
    // A generator that never draws a simultaneous open or a shutdown in
    // the handshake would sweep nothing of them: over 300 seeds every
    // shape, every call, both in the first 2 ms, and repeated short
    // connections must appear.
    let p = Params::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for seed in 0..300 {
        let w = generate::generate(&p, seed);
        seen.insert(match w.shape {
            Shape::PointToPoint => "p2p".into(),
            Shape::Star => "star".into(),
            Shape::Dumbbell { .. } => "dumbbell".into(),
        });
        seen.insert(format!("{} hosts", w.hosts.len()));
        for s in &w.sessions {
            if s.simultaneous {
                seen.insert("simultaneous".into());
            }
            if s.connections > 1 {
                seen.insert("short connections".into());
            }
            if s.listen_at_ms > s.start_ms {
                seen.insert("listen late".into());
            }
            if s.relisten_ms.is_some() {
                seen.insert("listen on a simultaneous-open port".into());
            }
            if s.reconnect_ms.is_some() {
                seen.insert("reconnect half-open".into());
            }
            if s.client_role.bulk_bytes > 0 && s.server_role.bulk_bytes > 0 {
                seen.insert("bulk both ways".into());
            }
            for r in [&s.client_role, &s.server_role] {
                for st in &r.steps {
                    let name = match st.call {
                        Call::Send { .. } => "send",
                        Call::Shutdown => "shutdown",
                        Call::Close => "close",
                        Call::Abort => "abort",
                        Call::PauseReading => "pause",
                        Call::ResumeReading => "resume",
                        Call::Keepalive { .. } => "keepalive",
                        Call::NoDelay => "nodelay",
                    };
                    seen.insert(name.into());
                    if st.at_ms < 3 && matches!(st.call, Call::Shutdown | Call::Close | Call::Abort)
                    {
                        seen.insert(format!("{name} in the handshake"));
                    }
                }
            }
        }
    }
    for want in [
        "p2p",
        "star",
        "dumbbell",
        "2 hosts",
        "3 hosts",
        "4 hosts",
        "simultaneous",
        "short connections",
        "listen late",
        "listen on a simultaneous-open port",
        "reconnect half-open",
        "bulk both ways",
        "send",
        "shutdown",
        "close",
        "abort",
        "pause",
        "resume",
        "keepalive",
        "nodelay",
        "shutdown in the handshake",
        "close in the handshake",
        "abort in the handshake",
    ] {
        assert!(seen.contains(want), "never drawn: {want}; drawn: {seen:?}");
    }
}

#[test]
fn generated_runs_visit_every_state() {
    // The workloads must reach each of RFC 9293's connection states
    // somewhere (CLOSING needs a simultaneous close, SYN-RECEIVED an
    // accepted or simultaneous open), or sweeping them tests less than the
    // catalogue does.
    let s = generate::scenario(Params::default());
    let mut visited = BTreeSet::new();
    for seed in 0..60 {
        let o = s.run(seed).unwrap();
        for h in 0..o.host_count() {
            visited.extend(o.states(h));
        }
    }
    for state in State::ALL {
        if state != State::Listen {
            assert!(
                visited.contains(&state),
                "no run entered {state}: {visited:?}"
            );
        }
    }
}

#[test]
fn a_seed_replays_to_the_same_trace_hash() {
    // A sweep failure is reproduced by its seed alone: two runs agree.
    let s = generate::scenario(Params::default());
    for seed in [3, 1940] {
        let a = s.run(seed).unwrap();
        let b = s.run(seed).unwrap();
        assert_eq!(a.stats.trace_hash, b.stats.trace_hash, "seed {seed}");
    }
}

#[test]
fn tcpsim_runs_the_family_by_name() {
    // `tcpsim run random --seed N` is the reproduction every sweep prints;
    // `tcpsim list` names the family.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(["run", "random", "--seed", "1940", "--format", "ss"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("random: seed 1940,") && last.ends_with("verdict pass"),
        "{last}"
    );
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .arg("list")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.lines().any(|l| l.starts_with("random ")), "{list}");
}
