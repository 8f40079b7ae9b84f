//! Simultaneous open with a write and a shutdown in SYN-RECEIVED, both
//! sides, over clean and lossy links. The outside heavy-fault harness
//! found the stream shifted by one octet here (the unacknowledged SYN was
//! counted as sent data) and, with the SYN,ACK lost, a FIN sent in the
//! SYN's place and a connection that never closed.

use scenarios::catalogue::{CLIENT, SERVER};
use scenarios::host::{Action, Host};
use scenarios::run::{Setup, execute};
use sim::topology::{self, Endpoint as Place};
use sim::{Duration, LinkConfig, Reorder, Time, World, WorldConfig};
use stack::{State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

const BYTES: u64 = 10;

/// Both hosts connect to each other at 0 (the SYNs cross at 5 ms) and at
/// 7 ms, in SYN-RECEIVED on a clean link, write ten octets and shut down.
/// Returns the octets each side read and the first host's states.
fn run(seed: u64, link: &LinkConfig, tcp: &TcpConfig) -> Result<(Vec<u64>, Vec<State>), String> {
    let host = |name: &str, addr, peer, local: u16, remote: u16, key: u8| {
        Host::new(name, addr, [key; 16], tcp.clone())
            .at(
                Time::ZERO,
                Action::Connect {
                    remote: SocketAddrV4::new(Ipv4Addr::from(peer), remote),
                    local_port: Some(local),
                },
            )
            .at(
                Time::from_millis(7),
                Action::Send {
                    conn: 0,
                    bytes: BYTES,
                },
            )
            .at(Time::from_millis(7), Action::Shutdown { conn: 0 })
            .close_on_eof()
    };
    let a = host("a", CLIENT, SERVER, 5000, 6000, 1);
    let b = host("b", SERVER, CLIENT, 6000, 5000, 2);
    let mut world = World::new(WorldConfig::new(seed));
    let p = topology::point_to_point(
        &mut world,
        Place::new("a", CLIENT, a),
        Place::new("b", SERVER, b),
        link.clone(),
        link.clone(),
    )
    .map_err(|e| e.to_string())?;
    let setup = Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(600),
        open_at_end: false,
    };
    let o = execute(seed, setup).map_err(|e| e.to_string())?;
    let got: Vec<u64> = (0..2)
        .map(|h| o.streams(h).iter().map(|s| s.read.len).sum())
        .collect();
    // A side still in SYN-SENT at 7 ms (its SYN or the peer's was lost)
    // deletes the TCB on shutdown (§3.10.4), so the other reads nothing;
    // otherwise all ten octets arrive.
    if !o.passed() || got.iter().any(|&n| n != 0 && n != BYTES) {
        return Err(format!("{} (read {got:?})", o.verdict()));
    }
    Ok((got, o.states(0)))
}

#[test]
fn a_shutdown_in_syn_received_delivers_every_octet_and_closes() {
    // The delivery oracle checks every octet read against the pattern at
    // its offset, so a stream shifted by one ("123456789" for
    // "0123456789") fails it; the termination oracle fails a connection
    // left open (the side whose FIN went out in the SYN's place). On a
    // clean link the path is the RFC's: SYN-RECEIVED holds the close until
    // our SYN is acknowledged, then FIN-WAIT-1.
    let lan = || LinkConfig::new(100_000_000, Duration::from_millis(5));
    let (read, clean) = run(1, &lan(), &TcpConfig::default()).expect("clean link");
    assert_eq!(read, [BYTES, BYTES]);
    assert!(
        clean.starts_with(&[State::SynSent, State::SynReceived, State::FinWait1]),
        "{clean:?}"
    );
    let links = [
        ("clean", lan()),
        ("20% loss", lan().with_loss(0.2)),
        (
            "10% loss, 10% duplicated, 20% reordered",
            lan()
                .with_loss(0.1)
                .with_duplicate(0.1)
                .with_reorder(Reorder {
                    probability: 0.2,
                    extra_delay: Duration::from_millis(3),
                }),
        ),
    ];
    let configs = [
        ("default", TcpConfig::default()),
        ("plain", TcpConfig::plain()),
    ];
    let mut failures = Vec::new();
    let mut delivered = 0;
    for (link_name, link) in &links {
        for (config_name, tcp) in &configs {
            for seed in 1..=40 {
                match run(seed, link, tcp) {
                    Ok((read, _)) => delivered += read.iter().filter(|&&n| n == BYTES).count(),
                    Err(e) => {
                        failures.push(format!("{link_name} / {config_name} / seed {seed}: {e}"))
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Most runs do reach SYN-RECEIVED before the shutdown: the case is
    // exercised, not skipped.
    println!("{delivered} of 480 streams delivered");
    assert!(
        delivered >= 240,
        "only {delivered} of 480 streams delivered"
    );
}

#[test]
fn a_close_alone_in_syn_received_closes_both_sides_over_loss() {
    // No data: the FIN waits in SYN-RECEIVED for the ACK of our SYN (as on
    // Linux), however many SYN,ACKs and FINs the link loses; both sides
    // end closed (the termination oracle) and the ACK accounting of SYN
    // and FIN never underflows (the old stack panicked here).
    let lan = LinkConfig::new(100_000_000, Duration::from_millis(5)).with_loss(0.25);
    let mut failures = Vec::new();
    for seed in 1..=60 {
        let host = |name: &str, addr, peer, local: u16, remote: u16, key: u8| {
            Host::new(name, addr, [key; 16], TcpConfig::default())
                .at(
                    Time::ZERO,
                    Action::Connect {
                        remote: SocketAddrV4::new(Ipv4Addr::from(peer), remote),
                        local_port: Some(local),
                    },
                )
                .at(Time::from_millis(7), Action::Close { conn: 0 })
        };
        let mut world = World::new(WorldConfig::new(seed));
        let p = topology::point_to_point(
            &mut world,
            Place::new("a", CLIENT, host("a", CLIENT, SERVER, 5000, 6000, 1)),
            Place::new("b", SERVER, host("b", SERVER, CLIENT, 6000, 5000, 2)),
            lan.clone(),
            lan.clone(),
        )
        .unwrap();
        let setup = Setup {
            world,
            hosts: vec![p.a.into(), p.b.into()],
            horizon: Time::from_secs(600),
            open_at_end: false,
        };
        let o = execute(seed, setup).unwrap();
        if !o.passed() {
            failures.push(format!("seed {seed}: {}", o.verdict()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
