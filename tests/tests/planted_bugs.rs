//! Proof that sweeps find real bugs: each defect fixed in the correctness
//! work is planted back (stack feature `planted-bugs`, enabled for this
//! test crate only), a sweep over at most [`SEED_BUDGET`] seeds of a
//! general scenario family under the `heavy` fault profile must find it,
//! and the failure must shrink to a capsule of at most 3 faults that names
//! the oracle that caught it and still fails when replayed.
//!
//! The family, `conversation`, is not one scenario per bug: every seed
//! draws a two-host conversation (client/server or simultaneous open),
//! addresses (a quarter of the seeds take a pair whose 32-bit words sum
//! just below 2^32, the edge case of the pseudo-header sum), link rate and
//! delay, per-host TCP settings (receive buffer, keepalive, MSL), data each
//! way, a reader that pauses, shutdown at any moment (during the handshake
//! too), then close or abort. Everything ends on its own once the faults
//! stop, so on the fixed stack every seed passes (checked below over the
//! same budget for each bug's seeds).

use scenarios::app::Action;
use scenarios::capsule::run::{Case, capture};
use scenarios::capsule::shrink::{Options, shrink};
use scenarios::capsule::{Capsule, Resolver, ScenarioRef};
use scenarios::catalogue::{Catalogue, Scenario};
use scenarios::host::Host;
use scenarios::run::Setup;
use scenarios::sweep::{Profile, Seeds, Sweep};
use sim::topology::{self, Endpoint as Place};
use sim::{Addr, Duration, LinkConfig, Time, World, WorldConfig};
use stack::planted::{Bug, plant};
use stack::{Keepalive, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The most seeds any planted bug may take to be found.
const SEED_BUDGET: u64 = 2_000;

/// The most faults a shrunk capsule may hold.
const MAX_FAULTS: usize = 3;

const FAMILY: &str = "conversation";

/// A uniform draw in `lo..=hi`.
fn between(rng: &mut sim::SimRng, lo: u64, hi: u64) -> u64 {
    lo + sim::rng::below(rng, hi - lo + 1)
}

fn ms(n: u64) -> Time {
    Time::from_millis(n)
}

/// Two addresses: the usual LAN pair, any pair, or (a quarter of the
/// seeds) a pair whose words sum to 2^32 - 1 - k for a small k.
fn addresses(rng: &mut sim::SimRng) -> (u32, u32) {
    match sim::rng::below(rng, 4) {
        0 => {
            let a = between(rng, 0x0100_0001, 0xdfff_fffe) as u32;
            let k = between(rng, 0, 1_400) as u32;
            let b = 0xffff_ffff - a - k;
            if a == b { (a, b ^ 1) } else { (a, b) }
        }
        1 => {
            let a = between(rng, 0x0100_0001, 0xdfff_fffe) as u32;
            let b = between(rng, 0x0100_0001, 0xdfff_fffe) as u32;
            if a == b { (a, b ^ 1) } else { (a, b) }
        }
        _ => (0x0a00_0001, 0x0a00_0002),
    }
}

fn tcp(rng: &mut sim::SimRng) -> TcpConfig {
    let mut c = TcpConfig::default();
    c.recv_buffer = [4_096, 16_384, 65_536, c.recv_buffer][sim::rng::below(rng, 4) as usize];
    if sim::rng::chance(rng, 0.5) {
        c.keepalive = Some(Keepalive {
            idle: stack::Duration::from_secs(between(rng, 5, 30)),
            interval: stack::Duration::from_secs(between(rng, 1, 5)),
            probes: between(rng, 2, 5) as u32,
        });
    }
    // A long MSL keeps TIME-WAIT past the end of the run.
    if sim::rng::chance(rng, 0.5) {
        c.msl = stack::Duration::from_secs(900);
    }
    c
}

/// One side's calls on its connection 0: data, a reader that pauses, a
/// shutdown at any moment, then close or abort (or, with keepalive on,
/// possibly neither: keepalive must find out if the peer is gone).
fn conversation(rng: &mut sim::SimRng, mut host: Host, keepalive: bool, server: bool) -> Host {
    let send_at = between(rng, 0, 40);
    host = host.at(
        ms(send_at),
        Action::Send {
            conn: 0,
            bytes: between(rng, 0, 60_000),
        },
    );
    if sim::rng::chance(rng, 0.3) {
        let pause = between(rng, 0, 200);
        host = host
            .at(ms(pause), Action::Reading(false))
            .at(ms(pause + between(rng, 100, 3_000)), Action::Reading(true));
    }
    let shutdown_at = send_at + between(rng, 0, 60);
    let end_at = shutdown_at + between(rng, 50, 5_000);
    match sim::rng::below(rng, 4) {
        0 if server => host.at(ms(end_at), Action::Abort { conn: 0 }),
        1 if keepalive && !server => host.at(ms(shutdown_at), Action::Shutdown { conn: 0 }),
        _ => host
            .at(ms(shutdown_at), Action::Shutdown { conn: 0 })
            .at(ms(end_at), Action::Close { conn: 0 }),
    }
}

fn build(seed: u64) -> Result<Setup, sim::SimError> {
    let mut rng = sim::rng::stream(seed, "conversation");
    let (a, b) = addresses(&mut rng);
    let (a, b) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
    let secret = |name: &str| {
        let mut key = [0u8; 16];
        rand_core::RngCore::fill_bytes(
            &mut sim::rng::stream(seed, &format!("secret:{name}")),
            &mut key,
        );
        key
    };
    let (client_tcp, server_tcp) = (tcp(&mut rng), tcp(&mut rng));
    let (cka, ska) = (
        client_tcp.keepalive.is_some(),
        server_tcp.keepalive.is_some(),
    );
    let mut client = Host::new(
        "client",
        Addr::from(a),
        secret("client"),
        client_tcp.clone(),
    );
    let mut server = Host::new(
        "server",
        Addr::from(b),
        secret("server"),
        server_tcp.clone(),
    );
    if sim::rng::chance(&mut rng, 0.25) {
        // Simultaneous open: both connect, port to port.
        let start = between(&mut rng, 0, 3);
        client = client.at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(b, 5001),
                local_port: Some(5000),
            },
        );
        server = server.at(
            ms(start),
            Action::Connect {
                remote: SocketAddrV4::new(a, 5000),
                local_port: Some(5001),
            },
        );
        client = conversation(&mut rng, client, false, false);
        server = conversation(&mut rng, server, false, false);
    } else {
        server = server.at(
            Time::ZERO,
            Action::Listen {
                port: 80,
                backlog: 8,
            },
        );
        client = client.at(
            ms(0),
            Action::Connect {
                remote: SocketAddrV4::new(b, 80),
                local_port: None,
            },
        );
        client = conversation(&mut rng, client, cka, false);
        server = conversation(&mut rng, server, ska, true);
    }
    let link = LinkConfig::new(
        between(&mut rng, 10, 100) * 1_000_000,
        Duration::from_millis(between(&mut rng, 1, 20)),
    );
    let mut world = World::new(WorldConfig::new(seed));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", Addr::from(a), client),
        Place::new("server", Addr::from(b), server),
        link.clone(),
        link,
    )?;
    Ok(Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn family() -> Scenario {
    Scenario::new(FAMILY, build).summary("a random two-host conversation drawn from the seed")
}

fn resolver() -> Resolver {
    Resolver::new(Catalogue::builtin()).family(FAMILY, |params| {
        if params.is_empty() {
            Ok(family())
        } else {
            Err("the conversation family takes no parameters (the seed draws everything)".into())
        }
    })
}

/// Sweeps seeds `first..=last` of the family under `heavy` on this thread
/// (the bug is planted on it) up to the first failure: its seed and oracle.
fn first_failure(first: u64, last: u64) -> Option<(u64, String)> {
    let report = Sweep::new(vec![family()], Seeds::new(first, last).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(1)
        .stop_on_failure(true)
        .run();
    report
        .failures
        .first()
        .map(|f| (f.seed, f.oracles.first().cloned().unwrap_or_default()))
}

/// Plants `bug` and sweeps seeds 1 to [`SEED_BUDGET`] in order; each
/// failure is captured and shrunk until one shrinks to at most
/// [`MAX_FAULTS`] faults (a failure can be 1-minimal with more: another
/// seed then shows the bug with fewer). Checks the oracle, and that the
/// shrunk capsule's file replays exactly.
fn hunt(bug: Bug, oracle: &str) -> Capsule {
    let planted = plant(bug);
    let generated = ScenarioRef::Generated {
        family: FAMILY.into(),
        params: Default::default(),
    };
    let mut next = 1;
    let mut tried = Vec::new();
    let (seed, capsule, shrunk) = loop {
        let (seed, found) = first_failure(next, SEED_BUDGET).unwrap_or_else(|| {
            panic!(
                "{}: no failure shrinking to {MAX_FAULTS} faults in {SEED_BUDGET} seeds (tried {tried:?})",
                bug.name()
            )
        });
        assert_eq!(
            found,
            oracle,
            "{}: seed {seed} failed another oracle",
            bug.name()
        );
        let case = Case {
            scenario: family(),
            seed,
            profile: Profile::heavy(),
            expectations: false,
        };
        let capsule = capture(&case, generated.clone(), "heavy")
            .unwrap()
            .expect("the failure happens again when recorded");
        let shrunk = shrink(&capsule, &case, Options::default()).unwrap().capsule;
        assert_eq!(shrunk.oracle, oracle);
        if shrunk.decisions.len() <= MAX_FAULTS {
            break (seed, capsule, shrunk);
        }
        tried.push((seed, shrunk.decisions.len()));
        next = seed + 1;
        assert!(
            next <= SEED_BUDGET,
            "{}: budget spent (tried {tried:?})",
            bug.name()
        );
    };
    // The file form replays: the same oracle fails with the shrunk trace hash.
    let back = Capsule::parse(&shrunk.to_toml()).unwrap();
    let case = scenarios::capsule::run::case_of(&back, &resolver(), None).unwrap();
    let replay = scenarios::capsule::run::replay(&back, &case).unwrap();
    assert_eq!(
        replay.verdict,
        scenarios::capsule::run::Verdict::Reproduced,
        "{}",
        replay.report(&back)
    );
    eprintln!(
        "{}: found at seed {seed} (budget {SEED_BUDGET}; seeds that shrank to more faults first: {tried:?}), [{oracle}], shrunk {} -> {} faults: {:?}",
        bug.name(),
        capsule.decisions.len(),
        shrunk.decisions.len(),
        shrunk
            .decisions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    // Without the bug, the same seed passes: the bug, not the family, failed.
    drop(planted);
    let clean = scenarios::sweep::run_under(&family(), seed, &Profile::heavy(), false).unwrap();
    assert!(
        clean.0.passed(),
        "the fixed stack fails seed {seed}: {}",
        clean.0.verdict()
    );
    shrunk
}

#[test]
fn the_shift_after_shutdown_in_syn_received_is_found_and_shrunk() {
    // The stream goes out one octet shifted: the delivery oracle sees the
    // wrong byte at its offset.
    hunt(Bug::SynReceivedShutdownShift, "delivery");
}

#[test]
fn sending_past_the_offered_right_edge_is_found_and_shrunk() {
    // Data beyond the edge the peer offered: the segment oracle.
    hunt(Bug::PastRightEdge, "segments");
}

#[test]
fn keepalive_ignoring_fin_wait_2_is_found_and_shrunk() {
    // A half-closed client whose peer vanished never ends: termination.
    hunt(Bug::KeepaliveIgnoresFinWait2, "termination");
}

#[test]
fn the_pseudo_header_carry_is_found_and_shrunk() {
    // Both ends agree on the wrong sum; the independent checksum oracle
    // does not. No fault is needed at all.
    let shrunk = hunt(Bug::PseudoHeaderCarry, "checksum");
    assert!(shrunk.decisions.is_empty());
}

#[test]
fn time_wait_ignoring_a_retransmitted_fin_is_found_and_shrunk() {
    // The peer whose final ACK was lost stays in LAST-ACK: termination.
    hunt(Bug::TimeWaitIgnoresFin, "termination");
}

#[test]
fn the_family_passes_on_the_fixed_stack() {
    // The family itself must be sound: with no bug planted, a sweep of
    // its first seeds under the same faults finds nothing, so each
    // failure above is the planted bug's.
    let report = Sweep::new(vec![family()], Seeds::new(1, 200).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(1)
        .run();
    let lines: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("seed {}: {}", f.seed, f.message))
        .collect();
    assert!(report.passed(), "{}", lines.join("\n"));
}

#[test]
fn a_generated_workload_is_shrunk_in_its_workload_too() {
    // The generator draws up to 6 sessions of many connections; the bug
    // needs only a few. A capsule of the `random` family stores the drawn
    // workload itself, and shrinking cuts it down (sessions, connections,
    // bulk, calls) as well as the faults, while the planted bug still
    // fails the same oracle and the shrunk capsule replays exactly.
    use scenarios::generate::{self, Workload};
    let planted = plant(Bug::PastRightEdge);
    let random = generate::scenario(Default::default());
    let report = Sweep::new(vec![random.clone()], Seeds::new(1, SEED_BUDGET).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(1)
        .stop_on_failure(true)
        .run();
    let failure = report
        .failures
        .first()
        .expect("the generated family finds the planted bug");
    let seed = failure.seed;
    let drawn = generate::generate(&Default::default(), seed);
    let case = Case {
        scenario: drawn.clone().scenario(),
        seed,
        profile: Profile::heavy(),
        expectations: false,
    };
    // The workload as data runs exactly as the catalogue entry did.
    let (catalogue_run, _) =
        scenarios::sweep::run_under(&random, seed, &Profile::heavy(), false).unwrap();
    let generated = ScenarioRef::Generated {
        family: generate::FAMILY.into(),
        params: drawn.to_table(),
    };
    let capsule = capture(&case, generated, "heavy").unwrap().unwrap();
    assert_eq!(capsule.trace_hash, catalogue_run.stats.trace_hash);
    // A bounded search (each generated run is long): enough to show the
    // workload cut, and what it reaches is still a failing capsule. One
    // thread: the bug is planted on this one.
    let options = Options {
        max_runs: 300,
        jobs: 1,
    };
    let shrunk = shrink(&capsule, &case, options).unwrap().capsule;
    assert_eq!(shrunk.oracle, capsule.oracle);
    let ScenarioRef::Generated { params, .. } = &shrunk.scenario else {
        panic!("the shrunk capsule keeps its workload");
    };
    let smaller = Workload::from_table(params).unwrap();
    let connections = |w: &Workload| w.sessions.iter().map(|s| s.connections).sum::<u32>();
    assert!(
        smaller != drawn && connections(&smaller) <= connections(&drawn),
        "the workload was not cut down: {} sessions, {} connections",
        smaller.sessions.len(),
        connections(&smaller)
    );
    let back = Capsule::parse(&shrunk.to_toml()).unwrap();
    let resolver = scenarios::capsule::command::resolver(&Catalogue::builtin());
    let case = scenarios::capsule::run::case_of(&back, &resolver, None).unwrap();
    let replay = scenarios::capsule::run::replay(&back, &case).unwrap();
    assert_eq!(
        replay.verdict,
        scenarios::capsule::run::Verdict::Reproduced,
        "{}",
        replay.report(&back)
    );
    eprintln!(
        "random seed {seed}: [{}] shrunk from {} sessions / {} connections / {} faults to {} / {} / {}",
        shrunk.oracle,
        drawn.sessions.len(),
        connections(&drawn),
        capsule.decisions.len(),
        smaller.sessions.len(),
        connections(&smaller),
        shrunk.decisions.len()
    );
    drop(planted);
}
