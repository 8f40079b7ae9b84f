//! Off-path attackers: blind in-window RST and SYN (RFC 5961), and a SYN
//! flood with and without SYN cookies (RFC 4987).

use super::{
    ATTACKER, CLIENT, Injector, PORT, SERVER, Scenario, check, connect_to_server, forged, host,
    lan, ms, received, send, server_addr,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::topology::{self, Endpoint as Place};
use sim::{SimError, Time, World, WorldConfig};
use stack::wire::Flags;
use stack::{SocketError, State, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

pub(super) fn blind_reset_attack() -> Scenario {
    Scenario::new("blind-reset-attack", build_blind_reset)
        .summary("in-window RST and SYN from an off-path attacker draw challenge ACKs")
        .doc("RFC 5961 §3 and §4: the forged RST is in the window but not exact and the forged SYN is in a synchronized state; both get challenge ACKs and the transfer continues. A third forgery 50 ms after the second challenge ACK draws nothing: like Linux (net.ipv4.tcp_invalid_ratelimit), ACKs to unacceptable segments go out at most once per 500 ms (the throttle RFC 5961 §7 asks for).")
        .expect(expect_blind_reset)
}

pub(super) fn syn_flood() -> Scenario {
    Scenario::new("syn-flood", build_syn_flood_cookies)
        .summary("spoofed SYNs fill the SYN queue; with SYN cookies a client still connects")
        .doc("RFC 4987 §3.6 (SYN cookies, Linux's scheme). 200 spoofed SYNs per second fill a 16-entry SYN queue; further SYNs, the legitimate client's included, are answered statelessly with a cookie ISN, and the client's final ACK rebuilds its connection.")
        .expect(expect_syn_flood_cookies)
}

pub(super) fn syn_flood_no_cookies() -> Scenario {
    Scenario::new("syn-flood-no-cookies", build_syn_flood_no_cookies)
        .summary("the same flood with SYN cookies off: the client cannot connect")
        .doc("RFC 4987 §2.2: with cookies off, a full SYN queue drops every new SYN; the legitimate client retransmits its SYN with backoff and gives up with ETIMEDOUT.")
        .expect(expect_syn_flood_no_cookies)
}

fn build_blind_reset(seed: u64) -> Result<Setup, SimError> {
    // ISNs pinned so the attacker's guesses land inside the server's window
    // (in-window but not exact: RFC 5961's threat model).
    let pinned = |isn| TcpConfig {
        isn: Some(isn),
        ..TcpConfig::default()
    };
    let client_port = 40_000;
    let c = host(seed, "client", CLIENT, pinned(1_000_000))
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(client_port),
            },
        )
        .at(ms(50), send(0, 200_000))
        .at(ms(2000), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, pinned(5_000_000))
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    let spoofed = SocketAddrV4::new(Ipv4Addr::from(CLIENT), client_port);
    // In window but never exact: 30 KB ahead of RCV.NXT while the 200 KB
    // transfer runs, then 1 KB past its end once it is done.
    let during = 1_000_000 + 1 + 30_000;
    let after = 1_000_000 + 1 + 200_000 + 1_000;
    let attacks = [
        (ms(60), Flags::RST, during),
        (ms(600), Flags::SYN, after),
        // 50 ms after the last challenge ACK: inside Linux's 500 ms
        // out-of-window rate limit, so it draws nothing.
        (ms(650), Flags::RST, after),
    ];
    let attacker = Injector {
        script: attacks
            .iter()
            .map(|&(at, flags, seq)| (at, forged(spoofed, server_addr(), flags, seq)))
            .collect(),
    };
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new("attacker", ATTACKER, attacker),
        ],
        lan(),
    )?;
    for (i, &(at, _, _)) in attacks.iter().enumerate() {
        world.wake_node_at(star.leaves[2], at, i as u64)?;
    }
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn expect_blind_reset(o: &Outcome) -> Result<(), String> {
    let server = o.streams(1)[0].counters;
    check(
        server.challenge_acks == 2,
        "server answered the forged RST and SYN with challenge ACKs",
    )?;
    check(
        server.oow_acks_suppressed == 1,
        "the third forgery, 50 ms after a challenge ACK, drew none (rate limit)",
    )?;
    check(
        o.errors(1).is_empty() && o.errors(0).is_empty(),
        "nobody was reset",
    )?;
    check(received(o, 1) == 200_000, "the transfer survived intact")
}

/// SYNs per 100 ms from the flooder, and how long it floods.
const FLOOD_PER_TICK: u32 = 20;

const FLOOD_UNTIL_MS: u64 = 20_000;

fn build_syn_flood(seed: u64, cookies: bool) -> Result<Setup, SimError> {
    // The legitimate client gives up after 3 SYN retransmissions (16 s).
    let patient = TcpConfig {
        syn_retries: 3,
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, patient)
        .at(ms(1000), connect_to_server())
        .at(ms(1100), send(0, 1000))
        .at(Time::from_secs(20), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, TcpConfig::default())
        .syn_cookies(cookies)
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .close_on_eof();
    // Spoofed SYNs from addresses nobody routes back to: their SYN-ACKs die
    // at the hub, so each SYN would pin a SYN-RECEIVED entry for ~63 s.
    let mut script = Vec::new();
    let mut n = 0u32;
    for tick in 0..FLOOD_UNTIL_MS / 100 {
        for _ in 0..FLOOD_PER_TICK {
            let spoofed = SocketAddrV4::new(
                Ipv4Addr::new(10, 9, (n >> 8) as u8, n as u8),
                1024 + (n % 60000) as u16,
            );
            let isn = n.wrapping_mul(2_654_435_761);
            script.push((
                ms(10 + tick * 100),
                forged(spoofed, server_addr(), Flags::SYN, isn),
            ));
            n += 1;
        }
    }
    let times: Vec<Time> = script.iter().map(|(t, _)| *t).collect();
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new("attacker", ATTACKER, Injector { script }),
        ],
        lan(),
    )?;
    for (i, t) in times.into_iter().enumerate() {
        world.wake_node_at(star.leaves[2], t, i as u64)?;
    }
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn build_syn_flood_cookies(seed: u64) -> Result<Setup, SimError> {
    build_syn_flood(seed, true)
}

fn build_syn_flood_no_cookies(seed: u64) -> Result<Setup, SimError> {
    build_syn_flood(seed, false)
}

fn expect_syn_flood_cookies(o: &Outcome) -> Result<(), String> {
    let counters = o.host(1).endpoint.counters();
    check(
        counters.syn_cookies_sent > 1000,
        "the flood overflowed the SYN queue and was answered with cookies",
    )?;
    check(
        counters.syn_cookies_accepted == 1,
        "exactly one cookie came back: the legitimate client's",
    )?;
    check(
        o.visited(0, State::Established),
        "the legitimate client connected during the flood",
    )?;
    check(received(o, 1) == 1000, "and its data arrived")
}

fn expect_syn_flood_no_cookies(o: &Outcome) -> Result<(), String> {
    check(
        o.host(1).endpoint.counters().syns_dropped_queue_full > 1000,
        "the full SYN queue dropped the flood's SYNs",
    )?;
    check(
        o.errors(0) == vec![SocketError::TimedOut],
        "the legitimate client's SYNs were dropped too: ETIMEDOUT",
    )?;
    check(!o.visited(0, State::Established), "it never connected")
}
