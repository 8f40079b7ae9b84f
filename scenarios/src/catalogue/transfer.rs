//! Moving data: a closed window and persist probes, bulk transfer under
//! heavy impairment, and many connections at once (RFC 9293 §3.8.6,
//! RFC 6298, RFC 5681, RFC 2018, RFC 6675).

use super::{
    SERVER, Scenario, Way, check, client, connect_to_server, has_data, host, lan, ms, pair,
    received, send, server,
};
use crate::apps::{BulkSink, ChurnClient};
use crate::host::Action;
use crate::run::{HostNode, Outcome, Setup};
use sim::topology::{self, Endpoint as Place};
use sim::{Addr, Duration, FaultAction, FaultRule, LinkConfig, SimError, Time, World, WorldConfig};
use stack::TcpConfig;

pub(super) fn zero_window() -> Scenario {
    Scenario::new("zero-window", build_zero_window)
        .summary("persist probes until the reader drains")
        .doc("RFC 9293 §3.8.6.1: the receiver stops reading, its window closes; the sender probes with backoff (Linux-style probes: SEQ = SND.UNA - 1) until the reader resumes.")
        .expect(expect_zero_window)
}

pub(super) fn lossy_bulk() -> Scenario {
    Scenario::new("lossy-bulk", build_lossy_bulk)
        .summary("1 MB under loss, duplication, reordering and corruption")
        .doc("RFC 6298, RFC 5681, RFC 2018 and RFC 6675 (SACK-based recovery fills the holes the receiver reports): 2% loss, 1% duplication, 2% reordering and 0.5% bit corruption, plus a fault rule that flips a bit in the 100th data segment so every seed sees a corruption; every corrupted segment that arrives is caught by the checksum, and every byte arrives once, in order.")
        .expect(expect_lossy_bulk)
}

pub(super) fn many_connections() -> Scenario {
    Scenario::new("many-connections", build_many_connections)
        .summary("1,000 clients' connections against one server")
        .doc("Ten client hosts each open 100 short connections to one listener through a hub; every connection completes and closes.")
        .expect(expect_many_connections)
}

pub(super) fn churn() -> Scenario {
    Scenario::new("churn", build_churn)
        .summary("keep 20 open, open the next when one ends, 200 in all, under loss")
        .doc("A reactive client (the W4 churn workload, `apps::ChurnClient`): it keeps at most 20 connections open and opens the next one when one ends; each writes 1,000 bytes and closes, and the server (`apps::BulkSink`) reads to EOF and closes. 2% loss each way costs SYNs, data and FINs (RFC 6298 retransmission, RFC 9293 §3.8.1), yet every connection ends cleanly and every byte arrives once.")
        .expect(expect_churn)
}

fn build_churn(seed: u64) -> Result<Setup, SimError> {
    let server_addr = std::net::SocketAddrV4::new(SERVER.into(), DISCARD_PORT);
    let c = client(seed).app(ChurnClient::new(server_addr, 200, 20, 1000));
    let s = host(seed, "server", SERVER, TcpConfig::default()).app(BulkSink::new(DISCARD_PORT));
    pair(
        seed,
        c,
        s,
        lan().with_loss(0.02),
        vec![],
        Time::from_secs(120),
    )
}

fn expect_churn(o: &Outcome) -> Result<(), String> {
    let client = o
        .host(0)
        .application::<ChurnClient>()
        .ok_or("the client runs the churn application")?;
    check(
        client.ended == 200 && client.failed == 0,
        "all 200 connections ended, none with an error",
    )?;
    check(
        client.open_peak == 20,
        "the client kept 20 open at its peak and never more",
    )?;
    check(
        o.streams(1).len() == 200 && received(o, 1) == 200_000,
        "the server accepted 200 connections and read 1,000 bytes from each",
    )
}

/// The port of the one-way bulk transfers: the discard service (RFC 863),
/// which is what their servers do with the data. No Wireshark dissector
/// claims it, so captures of the pattern bytes decode as plain TCP payload
/// (on port 80 they were taken for broken HTTP).
pub(crate) const DISCARD_PORT: u16 = 9;

/// The client's active open to the server's discard port.
fn connect_to_discard() -> Action {
    Action::Connect {
        remote: std::net::SocketAddrV4::new(std::net::Ipv4Addr::from(SERVER), DISCARD_PORT),
        local_port: None,
    }
}

fn build_zero_window(seed: u64) -> Result<Setup, SimError> {
    let small = TcpConfig {
        recv_buffer: 16_384,
        ..TcpConfig::default()
    };
    let c = client(seed)
        .at(ms(0), connect_to_discard())
        .at(ms(50), send(0, 100_000))
        .at(ms(100), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, small)
        .at(
            Time::ZERO,
            Action::Listen {
                port: DISCARD_PORT,
                backlog: 4,
            },
        )
        .at(Time::ZERO, Action::Reading(false))
        .at(Time::from_secs(5), Action::Reading(true))
        .close_on_eof();
    pair(seed, c, s, lan(), vec![], Time::from_secs(120))
}

fn expect_zero_window(o: &Outcome) -> Result<(), String> {
    check(
        o.streams(0)[0].counters.zero_window_probes >= 2,
        "client probed the zero window (with backoff)",
    )?;
    check(
        received(o, 1) == 100_000,
        "once the reader drained, everything arrived",
    )
}

fn build_lossy_bulk(seed: u64) -> Result<Setup, SimError> {
    let link = lan()
        .with_loss(0.02)
        .with_duplicate(0.01)
        .with_reorder(sim::Reorder {
            probability: 0.02,
            extra_delay: Duration::from_millis(3),
        })
        .with_corruption(sim::Corruption {
            probability: 0.005,
            bits: 1,
        });
    let c = client(seed)
        .at(ms(0), connect_to_discard())
        .at(ms(20), send(0, 1_000_000))
        .at(ms(25), Action::Close { conn: 0 });
    // At 0.5% about one seed in 250 draws no corruption at all over the
    // ~700 data segments; this rule makes sure every seed corrupts one.
    let corrupt_one = FaultRule::new(
        "corrupt the 100th data segment",
        has_data,
        FaultAction::Corrupt { bits: 1 },
    )
    .nth(100);
    pair(
        seed,
        c,
        host(seed, "server", SERVER, TcpConfig::default())
            .at(
                Time::ZERO,
                Action::Listen {
                    port: DISCARD_PORT,
                    backlog: 4,
                },
            )
            .close_on_eof(),
        link,
        vec![(Way::ClientToServer, corrupt_one)],
        Time::from_secs(300),
    )
}

fn expect_lossy_bulk(o: &Outcome) -> Result<(), String> {
    check(
        received(o, 1) == 1_000_000,
        "every byte arrived exactly once, in order, uncorrupted",
    )?;
    check(o.retransmissions(0) > 0, "losses were repaired")?;
    // The rule always fires (every run sends far more than 100 data
    // segments), and it flips exactly one bit (the link does not add a
    // second, which could cancel the first in the checksum).
    let events = o.world.trace().events();
    let corrupted: Vec<(u32, &[u8])> = events
        .iter()
        .filter(|e| matches!(e.kind, sim::EventKind::Corrupt(_)))
        .map(|e| (e.len, e.bytes.as_slice()))
        .collect();
    check(!corrupted.is_empty(), "the run corrupted a segment")?;
    // A corrupted packet arrives with the bytes its Corrupt event captured
    // (twice if duplicated; the trace keeps whole 1500-byte packets). One
    // flipped bit always breaks the IPv4 or the TCP checksum (RFC 1071), so
    // each such arrival must be one malformed datagram, and nothing else
    // is. The link may still lose the corrupted segment (2% loss): then
    // nothing corrupted arrives and there is nothing to catch.
    let arrived = events
        .iter()
        .filter(|e| {
            e.kind == sim::EventKind::Deliver && corrupted.contains(&(e.len, e.bytes.as_slice()))
        })
        .count() as u64;
    check(
        o.host(1).malformed_count + o.host(0).malformed_count == arrived,
        "every corrupted segment that arrived was caught by the checksum",
    )
}

fn build_many_connections(seed: u64) -> Result<Setup, SimError> {
    let clients_count = 10;
    let per_client = 100;
    let mut leaves = Vec::new();
    for i in 0..clients_count {
        let addr = Addr::new(10, 1, 0, 10 + i as u8);
        let name = format!("client{i}");
        let mut h = host(seed, &name, addr, TcpConfig::default());
        for j in 0..per_client {
            let at = Time::from_micros((j * clients_count + i) as u64 * 500);
            h = h
                .at(at, connect_to_server())
                .at(at + Duration::from_millis(30), send(j, 1000))
                .at(at + Duration::from_millis(31), Action::Close { conn: j });
        }
        leaves.push(Place::new(name, addr, h));
    }
    let srv = server(seed).close_on_eof();
    leaves.push(Place::new("server", SERVER, srv));
    let mut world = World::new(WorldConfig::new(seed));
    let star = topology::star(
        &mut world,
        leaves,
        LinkConfig::new(1_000_000_000, Duration::from_millis(1)),
    )?;
    let mut hosts = vec![star.leaves[clients_count].into()];
    hosts.extend(
        star.leaves[..clients_count]
            .iter()
            .map(|&n| HostNode::from(n)),
    );
    Ok(Setup {
        world,
        hosts,
        horizon: Time::from_secs(200),
        open_at_end: false,
    })
}

fn expect_many_connections(o: &Outcome) -> Result<(), String> {
    let accepted = o
        .host(0)
        .log
        .iter()
        .filter(|l| matches!(l.record, crate::host::Record::Accepted { .. }))
        .count();
    check(
        accepted == 1000,
        "the server accepted all 1,000 connections",
    )?;
    check(
        received(o, 0) == 1_000_000,
        "the server read 1,000 bytes from each",
    )
}
