//! Whole transfers, both directions at once, over links far worse than the
//! catalogue's: 10% loss; 5% loss with heavy reordering; duplication with
//! reordering; loss in bursts on a long path; a small drop-tail queue. Each runs with SACK (timestamps on
//! and off, NewReno and CUBIC) and without, over several seeds, and must
//! finish: every byte delivered in order, every connection closed.

use scenarios::catalogue::{CLIENT, PORT, SERVER};
use scenarios::host::{Action, Host};
use scenarios::run::{Setup, execute};
use sim::topology::{self, Endpoint as Place};
use sim::{Duration, GilbertElliott, LinkConfig, Reorder, Time, World, WorldConfig};
use stack::TcpConfig;
use stack::cc::CongestionAlgorithm;
use std::net::{Ipv4Addr, SocketAddrV4};

const UP: u64 = 500_000;
const DOWN: u64 = 125_000;

/// The run's verdict, or what went wrong.
fn transfer(seed: u64, link: &LinkConfig, tcp: &TcpConfig) -> Result<(), String> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let client = Host::new("client", CLIENT, key, tcp.clone())
        .at(
            Time::ZERO,
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT),
                local_port: None,
            },
        )
        .at(Time::from_millis(20), Action::Send { conn: 0, bytes: UP })
        .at(Time::from_millis(25), Action::Shutdown { conn: 0 })
        .close_on_eof();
    key[15] = 1;
    let server = Host::new("server", SERVER, key, tcp.clone())
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 4,
            },
        )
        .at(
            Time::from_millis(30),
            Action::Send {
                conn: 0,
                bytes: DOWN,
            },
        )
        .close_on_eof();
    let mut world = World::new(WorldConfig::new(seed));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client),
        Place::new("server", SERVER, server),
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
    let up: u64 = o.streams(1).iter().map(|s| s.read.len).sum();
    let down: u64 = o.streams(0).iter().map(|s| s.read.len).sum();
    if !o.passed() || up != UP || down != DOWN {
        return Err(format!("{} (read {up} up, {down} down)", o.verdict()));
    }
    Ok(())
}

#[test]
fn transfers_over_hard_links_complete_with_and_without_sack() {
    // A stall (a livelock, a lost retransmission never repaired, an ACK
    // ignored forever) shows as a connection still open at the horizon or
    // bytes missing. One such bug hid here: after both sides timed out,
    // each sent pure ACKs with its rewound SND.NXT, which the other found
    // unacceptable and answered with another ACK, for ever (NewReno at 10%
    // loss, seeds 10 and 12).
    let lan = || LinkConfig::new(100_000_000, Duration::from_millis(5));
    let links = [
        ("10% loss", lan().with_loss(0.10)),
        (
            "5% loss, 10% reordered",
            lan().with_loss(0.05).with_reorder(Reorder {
                probability: 0.1,
                extra_delay: Duration::from_millis(4),
            }),
        ),
        (
            "2% loss, 5% duplicated, 20% reordered",
            lan()
                .with_loss(0.02)
                .with_duplicate(0.05)
                .with_reorder(Reorder {
                    probability: 0.2,
                    extra_delay: Duration::from_millis(2),
                }),
        ),
        (
            "bursts of loss (Gilbert-Elliott), 50 ms one way",
            LinkConfig::new(100_000_000, Duration::from_millis(50)).with_gilbert_elliott(
                GilbertElliott {
                    good_to_bad: 0.01,
                    bad_to_good: 0.3,
                    loss_good: 0.001,
                    loss_bad: 0.5,
                },
            ),
        ),
        (
            "10 Mbit/s, 20-packet queue, 1% loss",
            LinkConfig::new(10_000_000, Duration::from_millis(20))
                .with_queue_packets(20)
                .with_loss(0.01),
        ),
    ];
    let configs = [
        ("sack", TcpConfig::default()),
        (
            "sack, no timestamps",
            TcpConfig {
                timestamps: false,
                ..TcpConfig::default()
            },
        ),
        (
            "sack, cubic",
            TcpConfig {
                congestion: CongestionAlgorithm::Cubic,
                ..TcpConfig::default()
            },
        ),
        (
            "newreno",
            TcpConfig {
                sack: false,
                ..TcpConfig::default()
            },
        ),
    ];
    let mut failures = Vec::new();
    for (link_name, link) in &links {
        for (config_name, tcp) in &configs {
            for seed in 1..=15 {
                if let Err(e) = transfer(seed, link, tcp) {
                    failures.push(format!("{link_name} / {config_name} / seed {seed}: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
