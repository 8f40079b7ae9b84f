//! The sequence space: transfers across the 2^32 wrap, and PAWS rejecting
//! a segment from the previous trip around it (RFC 9293 §3.4, RFC 7323 §5).

use super::{
    ATTACKER, CLIENT, Injector, PORT, SERVER, Scenario, check, connect_to_server, host, lan, ms,
    pair, received, send, server, server_addr,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::topology::{self, Endpoint as Place};
use sim::{SimError, Time, World, WorldConfig};
use stack::wire::{self, Flags, IpPair, TcpOptions, TcpRepr};
use stack::{SeqNum, TcpConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

pub(super) fn sequence_wraparound() -> Scenario {
    Scenario::new("sequence-wraparound", build_wraparound)
        .summary("ISNs a few KB below 2^32, megabytes across the wrap under 1% loss")
        .doc("RFC 9293 §3.4 (modulo 2^32 arithmetic). Pinned ISNs put the wrap inside the first few segments; 4 MB one way and 100 KB back cross it with losses repaired, byte-exact.")
        .expect(expect_wraparound)
}

pub(super) fn paws() -> Scenario {
    Scenario::new("paws", build_paws)
        .summary("an in-window segment with an old timestamp is dropped (PAWS)")
        .doc("RFC 7323 §5: after the stream crosses 2^32, a copy of a segment from the previous trip around the sequence space arrives with an in-window sequence number but a TSval older than TS.Recent; it is dropped and answered with an ACK, and the reader never sees it.")
        .expect(expect_paws)
}

fn build_wraparound(seed: u64) -> Result<Setup, SimError> {
    let near_wrap = |isn: u32| TcpConfig {
        isn: Some(isn),
        ..TcpConfig::default()
    };
    let c = host(seed, "client", CLIENT, near_wrap(u32::MAX - 3000))
        .at(ms(0), connect_to_server())
        .at(ms(20), send(0, 4_000_000))
        .at(ms(25), Action::Shutdown { conn: 0 })
        .close_on_eof();
    let s = host(seed, "server", SERVER, near_wrap(u32::MAX - 5000))
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 16,
            },
        )
        .at(ms(30), send(0, 100_000))
        .close_on_eof();
    pair(
        seed,
        c,
        s,
        lan().with_loss(0.01),
        vec![],
        Time::from_secs(200),
    )
}

fn expect_wraparound(o: &Outcome) -> Result<(), String> {
    check(
        received(o, 1) == 4_000_000,
        "server read all 4,000,000 bytes across the 2^32 wrap",
    )?;
    check(
        received(o, 0) == 100_000,
        "client read all 100,000 bytes across the wrap",
    )?;
    check(
        o.retransmissions(0) > 0,
        "losses were repaired by retransmission",
    )
}

fn build_paws(seed: u64) -> Result<Setup, SimError> {
    // The client's ISN is pinned 5,000 below 2^32 and it sends 20,000
    // bytes, so the server's RCV.NXT ends just past the wrap at a known
    // value. A copy of a segment "from the previous trip around the
    // sequence space" then arrives: its sequence number sits exactly at
    // RCV.NXT (in window), but its TSval is ancient. PAWS must drop it.
    let client_isn = u32::MAX - 5000;
    let bytes = 20_000u32;
    let client_port = 40_000;
    // The client's timestamp clock is pinned too (TSval = ms since start),
    // so the stale copy can carry a TSval 2^30 ms (12 days) in the past:
    // older than TS.Recent by serial comparison, yet within the 24 days
    // for which RFC 7323 §5.5 keeps TS.Recent valid.
    let pinned = TcpConfig {
        isn: Some(client_isn),
        ts_offset: Some(0),
        ..TcpConfig::default()
    };
    let stale_tsval = 1000u32.wrapping_sub(1 << 30);
    let c = host(seed, "client", CLIENT, pinned)
        .at(
            ms(0),
            Action::Connect {
                remote: server_addr(),
                local_port: Some(client_port),
            },
        )
        .at(ms(50), send(0, u64::from(bytes)))
        .at(ms(2000), Action::Close { conn: 0 });
    let s = server(seed).close_on_eof();
    let rcv_nxt = client_isn.wrapping_add(1).wrapping_add(bytes);
    let from = SocketAddrV4::new(Ipv4Addr::from(CLIENT), client_port);
    let stale = {
        let repr = TcpRepr {
            src_port: client_port,
            dst_port: PORT,
            seq: SeqNum(rcv_nxt),
            ack: SeqNum(0),
            flags: Flags::ACK | Flags::PSH,
            window: 1000,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some((stale_tsval, 0)),
                ..TcpOptions::default()
            },
            payload: b"a stale segment from 2^32 bytes ago",
        };
        let mut out = Vec::new();
        wire::emit_datagram(
            IpPair {
                src: *from.ip(),
                dst: *server_addr().ip(),
            },
            &repr,
            &mut out,
        );
        out
    };
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        vec![
            Place::new("client", CLIENT, c),
            Place::new("server", SERVER, s),
            Place::new(
                "old-duplicate",
                ATTACKER,
                Injector {
                    script: vec![(ms(1000), stale)],
                },
            ),
        ],
        lan(),
    )?;
    world.wake_node_at(star.leaves[2], ms(1000), 0)?;
    Ok(Setup {
        world,
        hosts: vec![star.leaves[0].into(), star.leaves[1].into()],
        horizon: Time::from_secs(120),
        open_at_end: false,
    })
}

fn expect_paws(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(1)[0].counters.paws_rejected == 1,
        "the server's PAWS check dropped the stale segment",
    )?;
    check(
        received(o, 1) == 20_000,
        "the reader saw exactly the real 20,000 bytes, nothing stale",
    )
}
