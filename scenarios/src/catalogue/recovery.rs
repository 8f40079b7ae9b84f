//! Loss recovery as RFC 6675 and as Linux run it: a tail loss repaired by
//! the retransmission timeout or by RACK-TLP's probe (RFC 8985 §7), and a
//! reordering path read as loss by duplicate-ACK counting or waited out
//! by RACK's reordering window (RFC 8985 §6.2).

use super::{SERVER, Scenario, check, client, has_data, host, lan, ms, pair, received, send};
use crate::apps::BulkSink;
use crate::host::{Action, Host};
use crate::run::{Outcome, Setup};
use sim::{Duration, FaultAction, FaultRule, SimError, Time};
use stack::TcpConfig;

const PORT: u16 = super::transfer::DISCARD_PORT;
/// 14 segments of 1448 bytes (the last one shorter).
const TAIL_BYTES: u64 = 20_000;
const REORDER_BYTES: u64 = 1_000_000;

/// The client's recovery: the RFC default, or Linux's (RACK-TLP, PRR,
/// undo: what `TcpConfig::linux()` turns on).
fn sender(seed: u64, linux: bool) -> Host {
    let base = client(seed);
    if !linux {
        return base;
    }
    let tcp = TcpConfig {
        rack: true,
        tlp: true,
        prr: true,
        undo: true,
        ..TcpConfig::default()
    };
    host(seed, "client", super::CLIENT, tcp)
}

fn connect() -> Action {
    Action::Connect {
        remote: std::net::SocketAddrV4::new(std::net::Ipv4Addr::from(SERVER), PORT),
        local_port: None,
    }
}

pub(super) fn tail_loss_rto() -> Scenario {
    Scenario::new("tail-loss-rto", |seed| build_tail_loss(seed, false))
        .summary("the last two segments are lost: RFC 6675 waits for the RTO")
        .doc("RFC 6298 §5 and RFC 6675: the last two data segments of a 20 KB write are dropped. Nothing arrives after them, so no duplicate ACK or SACK can signal the loss: the sender sits out the retransmission timeout (at least 200 ms) and resends from SND.UNA. Compare tail-loss-tlp.")
        .expect(|o| expect_tail_loss(o, false))
}

pub(super) fn tail_loss_tlp() -> Scenario {
    Scenario::new("tail-loss-tlp", |seed| build_tail_loss(seed, true))
        .summary("the same tail loss: RACK-TLP's probe repairs it in two RTTs")
        .doc("RFC 8985 §7: the same two lost segments, with Linux's loss recovery. Two round trips after the last ACK the probe timeout resends the last segment; its SACK lets RACK (§6.2) mark the one before it lost, and it is resent at once. No retransmission timeout fires. Compare tail-loss-rto.")
        .expect(|o| expect_tail_loss(o, true))
}

fn build_tail_loss(seed: u64, linux: bool) -> Result<Setup, SimError> {
    let c = sender(seed, linux)
        .at(ms(0), connect())
        .at(ms(20), send(0, TAIL_BYTES))
        .at(ms(2_000), Action::Close { conn: 0 });
    let drop = |n: u64| {
        (
            super::Way::ClientToServer,
            FaultRule::named("drop a tail segment", has_data, FaultAction::Drop).nth(n),
        )
    };
    pair(
        seed,
        c,
        host(seed, "server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT)),
        lan(),
        // The first rule takes the 13th data segment; the second, which
        // never saw that one, takes the next (its 13th).
        vec![drop(13), drop(13)],
        Time::from_secs(60),
    )
}

fn expect_tail_loss(o: &Outcome, linux: bool) -> Result<(), String> {
    check(received(o, 1) == TAIL_BYTES, "every byte arrived")?;
    let k = o.streams(0)[0].counters;
    if linux {
        check(k.tlp_probes >= 1, "a tail loss probe went out")?;
        check(k.timeouts == 0, "no retransmission timeout fired")
    } else {
        check(k.tlp_probes == 0, "no probe without TLP")?;
        check(
            k.timeouts >= 1,
            "the retransmission timeout repaired the tail",
        )
    }
}

pub(super) fn reordering_dupack() -> Scenario {
    Scenario::new("reordering-dupack", |seed| build_reordering(seed, false))
        .summary("a reordering path, no loss: duplicate ACKs trigger spurious retransmissions")
        .doc("RFC 5681 §3.2 and RFC 6675: 2% of segments are held 2 ms, so the segments behind them arrive first and draw SACKs. Three SACKed segments above a hole count as a loss: the sender retransmits data that was only late, and halves its window each time. No packet is lost on this path, so every retransmission is spurious. Compare reordering-rack.")
        .expect(expect_reordering)
}

pub(super) fn reordering_rack() -> Scenario {
    Scenario::new("reordering-rack", |seed| build_reordering(seed, true))
        .summary("the same reordering: RACK learns it and waits it out")
        .doc("RFC 8985 §6.2: the same path with Linux's recovery. The first reordering RACK sees makes it keep a reordering window of min_RTT/4 (2.5 ms here, above the 2 ms the held segments lag), so later reorderings are not taken for loss; D-SACKs of the retransmissions it did make widen the window and undo the window reductions (RFC 3708). Compare reordering-dupack.")
        .expect(expect_reordering)
}

fn build_reordering(seed: u64, linux: bool) -> Result<Setup, SimError> {
    let link = lan().with_reorder(sim::Reorder {
        probability: 0.02,
        extra_delay: Duration::from_millis(2),
    });
    let c = sender(seed, linux)
        .at(ms(0), connect())
        .at(ms(20), send(0, REORDER_BYTES))
        .at(ms(25), Action::Close { conn: 0 });
    pair(
        seed,
        c,
        host(seed, "server", SERVER, TcpConfig::default()).app(BulkSink::new(PORT)),
        link,
        vec![],
        Time::from_secs(120),
    )
}

fn expect_reordering(o: &Outcome) -> Result<(), String> {
    check(
        received(o, 1) == REORDER_BYTES,
        "every byte arrived once, in order",
    )?;
    check(
        o.streams(0)[0].counters.timeouts == 0,
        "reordering alone never needs an RTO",
    )
}
