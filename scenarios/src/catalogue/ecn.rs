//! Explicit Congestion Notification against drop-tail at the same queue
//! (RFC 3168 §5, §6.1): the same 1 MB transfer through a 10 Mbit/s
//! bottleneck whose queue holds 20 packets, once with a drop-tail queue and
//! once with a queue that marks ECN-capable packets CE from 20 packets on.
//! Marking tells the sender of congestion without losing a segment: it
//! halves its window (CWR) and nothing is retransmitted.

use super::{
    CLIENT, PORT, SERVER, Scenario, check, connect_to_server, host, ms, pair, received, send,
};
use crate::host::Action;
use crate::run::{Outcome, Setup};
use sim::{Duration, LinkConfig, SimError, Time};
use stack::wire::Flags;
use stack::{EcnMode, TcpConfig};

const BYTES: u64 = 1_000_000;
/// The bottleneck's queue: the drop-tail limit, and the marking threshold.
const QUEUE: u32 = 20;

pub(super) fn ecn_marking() -> Scenario {
    Scenario::new("ecn-marking", |seed| build(seed, true))
        .summary("a queue marks CE instead of dropping: the sender slows, nothing is lost")
        .doc("RFC 3168: both ends negotiate ECN in the handshake (SYN with ECE and CWR, SYN-ACK with ECE); data goes out ECT(0); a 10 Mbit/s bottleneck marks CE from 20 queued packets on; the receiver echoes ECE until the sender's CWR, and the sender halves its window once per window of data (§6.1.2). Compare with `ecn-drop-tail`: the same transfer and queue, no retransmission at all.")
        .expect(|o| expect(o, true))
}

pub(super) fn ecn_drop_tail() -> Scenario {
    Scenario::new("ecn-drop-tail", |seed| build(seed, false))
        .summary("the same transfer and queue as ecn-marking, drop-tail and no ECN")
        .doc("The baseline for `ecn-marking`: the 20-packet queue of the same 10 Mbit/s bottleneck drops what does not fit; the sender learns of congestion by losing segments and recovers them (RFC 5681, RFC 6675).")
        .expect(|o| expect(o, false))
}

fn tcp(ecn: bool) -> TcpConfig {
    TcpConfig {
        ecn: if ecn { EcnMode::On } else { EcnMode::Off },
        ..TcpConfig::default()
    }
}

fn build(seed: u64, ecn: bool) -> Result<Setup, SimError> {
    let base = LinkConfig::new(10_000_000, Duration::from_millis(10));
    let link = if ecn {
        base.with_ecn_marking(QUEUE)
    } else {
        base.with_queue_packets(QUEUE)
    };
    let c = host(seed, "client", CLIENT, tcp(ecn))
        .at(ms(0), connect_to_server())
        .at(ms(50), send(0, BYTES))
        .at(ms(51), Action::Close { conn: 0 });
    let s = host(seed, "server", SERVER, tcp(ecn))
        .at(
            Time::ZERO,
            Action::Listen {
                port: PORT,
                backlog: 4,
            },
        )
        .close_on_eof();
    pair(seed, c, s, link, vec![], Time::from_secs(60))
}

fn expect(o: &Outcome, ecn: bool) -> Result<(), String> {
    check(received(o, 1) == BYTES, "every byte arrived once, in order")?;
    let marks = o
        .world
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == sim::EventKind::EcnMark)
        .count();
    let cwr = o.sent_with(0, Flags::CWR | Flags::ACK);
    let ece = o.sent_with(1, Flags::ECE | Flags::ACK);
    if ecn {
        check(marks > 0, "the bottleneck marked CE")?;
        check(ece > 0, "the receiver echoed the marks (ECE)")?;
        check(cwr > 0, "the sender answered with CWR")?;
        check(
            o.retransmissions(0) == 0,
            "no segment was lost, so none was retransmitted",
        )
    } else {
        check(
            marks == 0 && ece == 0 && cwr == 0,
            "no ECN without negotiation",
        )?;
        check(
            o.retransmissions(0) > 0,
            "the full queue dropped segments, and they were retransmitted",
        )
    }
}
