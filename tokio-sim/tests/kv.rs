//! The key-value service of `common/kv.rs` on simulated hosts: a clean
//! network, 5% loss plus a 2-second partition, and the ladder of a lost
//! request that TCP retransmits.

mod common;

use common::kv;
use sim::{FaultAction, FaultRule, LinkConfig, Packet, Time};
use std::time::Duration;
use tcpsim_tokio::{Direction, Sim};

/// Whether a datagram carries TCP payload.
fn carries_data(p: &Packet) -> bool {
    let b = &p.bytes;
    let ihl = usize::from(b[0] & 0x0f) * 4;
    b.len() > ihl + 12 && b.len() > ihl + usize::from(b[ihl + 12] >> 4) * 4
}

fn kv_sim(seed: u64, deadline: Duration) -> (Sim, std::rc::Rc<std::cell::RefCell<kv::ClientLog>>) {
    let mut sim = Sim::new(seed);
    sim.host("server", kv::server);
    let mut client = kv::Client::new(&format!("server:{}", kv::PORT), deadline);
    let log = client.log.clone();
    sim.client("client", async move { kv::workload(&mut client, 20).await });
    (sim, log)
}

#[test]
fn kv_round_trips_on_a_clean_network() {
    // Forty requests answered right, none retried: the sockets, the
    // server's tasks and the client's line protocol work end to end, and
    // every oracle (delivery, transitions, segments) passed.
    let (mut sim, log) = kv_sim(1, Duration::from_secs(1));
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    assert_eq!(log.borrow().retries, 0);
    assert!(run.outcome.violations.is_empty());
    // 40 requests at a 4 ms round trip, plus the handshake: well under a second.
    assert!(
        run.outcome.stats.now < Time::from_millis(400),
        "{}",
        run.outcome.stats.now
    );
}

#[test]
fn kv_passes_under_loss_and_a_partition_because_tcp_retransmits() {
    // 5% loss each way on the server's link and a 2-second partition in
    // the middle of the workload. The client's deadline (60 s) is longer
    // than the outage and TCP's backed-off retransmissions after it (one
    // request of this seed waits for the retransmission at 12.8 s: 3 s and
    // 6 s tries were lost too), so it never resends a request itself:
    // every lost segment is TCP's to recover, and the retransmission count
    // shows it did. (A message-level simulator drops the request for good
    // and the client can only time out and retry.)
    let (mut sim, log) = kv_sim(2, Duration::from_secs(60));
    sim.duration(Time::from_secs(300));
    sim.host_link(
        "server",
        LinkConfig::new(100_000_000, sim::Duration::from_millis(1)).with_loss(0.05),
    )
    .partition("server", Time::from_millis(60), Time::from_millis(2_060));
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    assert_eq!(log.borrow().retries, 0, "{:?}", log.borrow().reasons);
    let retransmitted: usize = (0..run.outcome.host_count())
        .map(|i| run.outcome.retransmissions(i))
        .sum();
    assert!(
        retransmitted > 0,
        "TCP retransmitted what the loss and partition took"
    );
    assert!(
        run.outcome.stats.now > Time::from_millis(2_060),
        "the workload outlasted the partition"
    );
}

#[test]
fn kv_with_a_short_deadline_retries_and_still_passes() {
    // The same outage with a 500 ms deadline per request: the client gives
    // up on a request, reconnects and resends it, and the test still
    // passes (SET is idempotent here). The retry reasons show the deadline.
    let (mut sim, log) = kv_sim(3, Duration::from_millis(500));
    sim.partition("server", Time::from_millis(60), Time::from_millis(2_060));
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    let log = log.borrow();
    assert!(log.retries >= 2, "{:?}", log.reasons);
    assert!(
        log.reasons.iter().any(|r| r.contains("no answer within")),
        "{:?}",
        log.reasons
    );
}

#[test]
fn the_ladder_shows_tcp_retransmitting_a_lost_request() {
    // One SET whose first data segment is dropped on its way to the server:
    // the ladder must show the drop and TCP's retransmission of the same
    // bytes, then the answer. The snapshot is that conversation.
    let mut sim = Sim::new(4);
    sim.host("server", kv::server);
    sim.client("client", async {
        let mut client = kv::Client::new(&format!("server:{}", kv::PORT), Duration::from_secs(5));
        let answer = client.call("SET colour blue", 1).await?;
        assert_eq!(answer, "OK");
        Ok(())
    });
    sim.fault(
        "client",
        Direction::FromHost,
        FaultRule::named("drop the request", carries_data, FaultAction::Drop).nth(1),
    );
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    // Host 0 is the server (added first), host 1 the client.
    assert_eq!(
        run.outcome.retransmissions(1),
        1,
        "the client resent its request once"
    );
    let ladder = scenarios::render::ladder(&run.outcome, scenarios::render::Numbering::Relative);
    insta::assert_snapshot!(ladder);
}

#[test]
fn the_run_feeds_pcap_json_and_ss_like_any_scenario() {
    // The renderers read the Outcome as they read a catalogue scenario's:
    // the capture is pcapng (a section header block, type 0x0a0d0d0a, with
    // the byte-order magic 0x1a2b3c4d) and holds a block per packet beyond
    // its headers, the JSON lines have a line per trace event, and the ss
    // table lists the server's listener.
    let (mut sim, _) = kv_sim(8, Duration::from_secs(1));
    let run = sim.execute().unwrap();
    assert_eq!(run.result, Ok(()));
    let pcap = scenarios::render::pcap(&run.outcome).unwrap();
    assert_eq!(&pcap[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    assert_eq!(&pcap[8..12], &0x1a2b_3c4du32.to_le_bytes());
    assert!(pcap.len() > 24 + 40 * 16, "{} bytes", pcap.len());
    let json = scenarios::render::json_lines(&run.outcome);
    assert!(json.lines().count() >= run.outcome.world.trace().events().len());
    let ss = scenarios::render::ss_table(&run.outcome);
    assert!(ss.contains("LISTEN") && ss.contains(":6379"), "{ss}");
}
