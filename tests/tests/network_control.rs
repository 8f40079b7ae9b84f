//! TCP conversations over a network that changes while they run: a
//! partition mid-transfer, a hold and release, and a named fault rule, each
//! read back through the ladder a user sees.

use scenarios::catalogue::{CLIENT, PORT, SERVER};
use scenarios::host::{Action, Host};
use scenarios::render::{Numbering, ladder};
use scenarios::run::{Outcome, Setup, execute};
use sim::topology::{self, Endpoint as Place};
use sim::{
    Duration, FaultAction, FaultRule, LinkChange, LinkConfig, Packet, Time, World, WorldConfig,
};
use stack::TcpConfig;
use stack::wire::{self, Flags};
use std::net::{Ipv4Addr, SocketAddrV4};

const BYTES: u64 = 200_000;

/// A client that connects, sends `BYTES`, and closes; a server that reads
/// to the end and closes too; on a 10 Mbit/s, 5 ms link named
/// `client-server`. `shape` adds faults and network changes.
fn transfer(seed: u64, shape: impl FnOnce(&mut World)) -> Outcome {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let tcp = TcpConfig::default();
    let client = Host::new("client", CLIENT, key, tcp.clone())
        .at(
            Time::ZERO,
            Action::Connect {
                remote: SocketAddrV4::new(Ipv4Addr::from(SERVER), PORT),
                local_port: None,
            },
        )
        .at(
            Time::from_millis(20),
            Action::Send {
                conn: 0,
                bytes: BYTES,
            },
        )
        .at(Time::from_millis(25), Action::Shutdown { conn: 0 })
        .close_on_eof();
    key[15] = 1;
    let server = Host::new("server", SERVER, key, tcp)
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 4,
            },
        )
        .close_on_eof();
    let mut world = World::new(WorldConfig::new(seed));
    let link = LinkConfig::new(10_000_000, Duration::from_millis(5));
    let p = topology::point_to_point(
        &mut world,
        Place::new("client", CLIENT, client),
        Place::new("server", SERVER, server),
        link.clone(),
        link,
    )
    .unwrap();
    shape(&mut world);
    let setup = Setup {
        world,
        hosts: vec![p.a.into(), p.b.into()],
        horizon: Time::from_secs(300),
        open_at_end: false,
    };
    execute(seed, setup).unwrap()
}

fn received_by_server(o: &Outcome) -> u64 {
    o.streams(1).iter().map(|s| s.read.len).sum()
}

#[test]
fn a_two_second_partition_mid_transfer_is_survived_and_shown() {
    // The link is cut both ways at 60 ms, in the middle of the 200 kB send
    // (160 ms of serialization at 10 Mbit/s), and repaired at 2.06 s. Data
    // sent into the cut is lost, the client's RTO resends it after the
    // repair, every byte arrives once and in order (the delivery oracle),
    // and both connections close. The ladder shows the cut, the repair,
    // and the segments the cut dropped.
    let o = transfer(1, |world| {
        let both = world.link_by_name("client-server").unwrap();
        world
            .change_link_at(Time::from_millis(60), both, LinkChange::Partition)
            .unwrap();
        world
            .change_link_at(Time::from_millis(2060), both, LinkChange::Repair)
            .unwrap();
    });
    assert!(o.passed(), "{}", o.verdict());
    assert_eq!(received_by_server(&o), BYTES);
    assert!(o.retransmissions(0) >= 1);
    let text = ladder(&o, Numbering::Relative);
    assert!(
        text.contains(";; link client-server:client->server partitioned"),
        "{text}"
    );
    assert!(
        text.contains(";; link client-server:server->client repaired"),
        "{text}"
    );
    assert!(text.contains("X dropped: link down"), "{text}");
}

#[test]
fn a_held_direction_delivers_its_segments_late_and_in_order() {
    // client -> server is held from 40 ms to 340 ms, longer than the
    // client's first RTO (200 ms minimum): the held segments all reach the
    // server at the release, in order, alongside the retransmissions the
    // RTO sent meanwhile (held too). Nothing is lost, so the transfer ends
    // with every byte delivered once, and the ladder marks held segments.
    let o = transfer(2, |world| {
        let (up, _) = world.link_by_name("client-server").unwrap();
        world
            .change_link_at(Time::from_millis(40), up, LinkChange::Hold)
            .unwrap();
        world
            .change_link_at(Time::from_millis(340), up, LinkChange::Release)
            .unwrap();
    });
    assert!(o.passed(), "{}", o.verdict());
    assert_eq!(received_by_server(&o), BYTES);
    let up = o.world.link_by_name("client-server").unwrap().0;
    let stats = o.world.link_stats(up).unwrap();
    assert!(stats.held > 0);
    assert!(o.retransmissions(0) >= 1, "the RTO fired during the hold");
    assert_eq!(
        stats.dropped_down + stats.dropped_loss + stats.dropped_queue,
        0
    );
    let text = ladder(&o, Numbering::Relative);
    assert!(text.contains("(held)"), "{text}");
    assert!(
        text.contains(";; link client-server:client->server released"),
        "{text}"
    );
}

fn is_pure_ack(p: &Packet) -> bool {
    wire::parse_datagram(&p.bytes)
        .is_ok_and(|(_, repr)| repr.flags == Flags::ACK && repr.payload.is_empty())
}

#[test]
fn the_ladder_calls_a_named_rule_by_its_name() {
    // The client's last pure ACK (the one answering the server's FIN) is
    // dropped by a rule built with `FaultRule::named` and active only after
    // 100 ms, so the handshake's ACK is not counted. The server resends its
    // FIN from LAST-ACK, and the ladder's drop line names the rule instead
    // of "#0".
    let o = transfer(3, |world| {
        let (up, _) = world.link_by_name("client-server").unwrap();
        let rule = FaultRule::named("drop the final ACK", is_pure_ack, FaultAction::Drop)
            .active_from(Time::from_millis(100))
            .nth(1);
        world.add_fault(up, rule).unwrap();
    });
    let text = ladder(&o, Numbering::Relative);
    assert!(
        text.contains("X dropped: fault rule \"drop the final ACK\""),
        "{text}"
    );
    assert!(!text.contains("fault rule #0"), "{text}");
}
