//! TCP_INFO as packetdrill hands it to a `%{ }%` block: the `tcpi_*`
//! names, with Linux's units, read from the stack's [`stack::TcpInfo`].
//!
//! Before each block packetdrill calls `getsockopt(TCP_INFO)` on the socket
//! under test and writes one `tcpi_x = N` line per field of Linux's
//! `struct tcp_info` (include/uapi/linux/tcp.h), after the constants
//! `TCP_ESTABLISHED`..., `TCP_CA_Open`... and `TCPI_OPT_*` (code.c,
//! write_symbols and write_tcp_info). This module defines the same names.
//!
//! Units are Linux's: `rto`, `ato`, `rtt`, `rttvar` in microseconds;
//! `last_data_recv` in milliseconds; `snd_cwnd`, `snd_ssthresh`,
//! `unacked`, `sacked`, `lost` in segments (our byte counts divided by the
//! send MSS: `snd_cwnd` rounds down as a byte window holds whole segments,
//! the others count each range as ceil(length / MSS), as Linux counts an
//! skb); `snd_ssthresh` is `TCP_INFINITE_SSTHRESH` (0x7fffffff) before the
//! first congestion signal; windows and byte counters in bytes.
//!
//! What it deliberately does not do: invent a number. A field whose state
//! the stack does not keep (RACK's loss marks, D-SACK, delivery-rate
//! sampling, pacing, ECN, receive-buffer auto-tuning...) is defined as
//! unavailable: a block that reads it fails naming the field and why,
//! so a script fails honestly rather than on a made-up 0. Fields Linux
//! itself always reports as a constant (`tcpi_fackets` and
//! `tcpi_last_ack_sent` are 0 since Linux 4.15; `tcpi_max_pacing_rate` is
//! ~0 without SO_MAX_PACING_RATE, which scripts here cannot set) get that
//! constant.

use crate::script::python::{Interpreter, Value};
use stack::{CaState, Instant, State, TcpInfo};

/// Linux's `tcpi_state` numbers (include/net/tcp_states.h).
pub const TCP_STATES: [(&str, i128); 11] = [
    ("TCP_ESTABLISHED", 1),
    ("TCP_SYN_SENT", 2),
    ("TCP_SYN_RECV", 3),
    ("TCP_FIN_WAIT1", 4),
    ("TCP_FIN_WAIT2", 5),
    ("TCP_TIME_WAIT", 6),
    ("TCP_CLOSE", 7),
    ("TCP_CLOSE_WAIT", 8),
    ("TCP_LAST_ACK", 9),
    ("TCP_LISTEN", 10),
    ("TCP_CLOSING", 11),
];

/// Linux's `tcpi_ca_state` numbers (enum tcp_ca_state).
pub const TCP_CA_STATES: [(&str, i128); 5] = [
    ("TCP_CA_Open", 0),
    ("TCP_CA_Disorder", 1),
    ("TCP_CA_CWR", 2),
    ("TCP_CA_Recovery", 3),
    ("TCP_CA_Loss", 4),
];

/// Linux's `tcpi_options` bits.
pub const TCPI_OPTIONS: [(&str, i128); 8] = [
    ("TCPI_OPT_TIMESTAMPS", 1),
    ("TCPI_OPT_SACK", 2),
    ("TCPI_OPT_WSCALE", 4),
    ("TCPI_OPT_ECN", 8),
    ("TCPI_OPT_ECN_SEEN", 16),
    ("TCPI_OPT_SYN_DATA", 32),
    ("TCPI_OPT_USEC_TS", 64),
    ("TCPI_OPT_TFO_CHILD", 128),
];

/// Linux's TCP_INFINITE_SSTHRESH, the `tcpi_snd_ssthresh` of a connection
/// that has seen no congestion signal.
pub const TCP_INFINITE_SSTHRESH: i128 = 0x7fff_ffff;

/// Every name packetdrill defines from TCP_INFO, in its order (code.c,
/// write_tcp_info for Linux).
pub const FIELDS: [&str; 71] = [
    "tcpi_state",
    "tcpi_ca_state",
    "tcpi_retransmits",
    "tcpi_probes",
    "tcpi_backoff",
    "tcpi_options",
    "tcpi_snd_wscale",
    "tcpi_rcv_wscale",
    "tcpi_delivery_rate_app_limited",
    "tcpi_rto",
    "tcpi_ato",
    "tcpi_snd_mss",
    "tcpi_rcv_mss",
    "tcpi_unacked",
    "tcpi_sacked",
    "tcpi_lost",
    "tcpi_retrans",
    "tcpi_fackets",
    "tcpi_last_data_sent",
    "tcpi_last_ack_sent",
    "tcpi_last_data_recv",
    "tcpi_last_ack_recv",
    "tcpi_pmtu",
    "tcpi_rcv_ssthresh",
    "tcpi_rtt",
    "tcpi_rttvar",
    "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd",
    "tcpi_advmss",
    "tcpi_reordering",
    "tcpi_total_retrans",
    "tcpi_pacing_rate",
    "tcpi_max_pacing_rate",
    "tcpi_rcv_rtt",
    "tcpi_rcv_space",
    "tcpi_bytes_acked",
    "tcpi_bytes_received",
    "tcpi_segs_out",
    "tcpi_segs_in",
    "tcpi_notsent_bytes",
    "tcpi_min_rtt",
    "tcpi_data_segs_in",
    "tcpi_data_segs_out",
    "tcpi_delivery_rate",
    "tcpi_busy_time",
    "tcpi_rwnd_limited",
    "tcpi_sndbuf_limited",
    "tcpi_delivered",
    "tcpi_delivered_ce",
    "tcpi_bytes_sent",
    "tcpi_bytes_retrans",
    "tcpi_dsack_dups",
    "tcpi_reord_seen",
    "tcpi_rcv_ooopack",
    "tcpi_snd_wnd",
    "tcpi_rcv_wnd",
    "tcpi_rehash",
    "tcpi_total_rto",
    "tcpi_total_rto_recoveries",
    "tcpi_total_rto_time",
    "tcpi_ecn_mode",
    "tcpi_accecn_opt_seen",
    "tcpi_accecn_fail_mode",
    "tcpi_options2",
    "tcpi_received_ce",
    "tcpi_delivered_e1_bytes",
    "tcpi_delivered_e0_bytes",
    "tcpi_delivered_ce_bytes",
    "tcpi_received_e1_bytes",
    "tcpi_received_e0_bytes",
    "tcpi_received_ce_bytes",
];

/// SO_MEMINFO names packetdrill also defines (code.c, write_so_meminfo).
const MEMINFO: [&str; 9] = [
    "SK_MEMINFO_RMEM_ALLOC",
    "SK_MEMINFO_RCVBUF",
    "SK_MEMINFO_WMEM_ALLOC",
    "SK_MEMINFO_SNDBUF",
    "SK_MEMINFO_FWD_ALLOC",
    "SK_MEMINFO_WMEM_QUEUED",
    "SK_MEMINFO_OPTMEM",
    "SK_MEMINFO_BACKLOG",
    "SK_MEMINFO_DROPS",
];

/// The socket a block reads, as the runner finds it.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A connection the stack still holds.
    Connection(&'a TcpInfo),
    /// A listening socket.
    Listener,
    /// A socket that has not listened or connected yet (Linux: TCP_CLOSE).
    Fresh,
    /// A socket whose connection the stack has released (reset, timed
    /// out, closed): Linux keeps the socket in TCP_CLOSE with its last
    /// values; our stack forgets them.
    Released,
}

/// Defines the constants and every `tcpi_*` name for `subject` at `now`
/// in `interp`, as packetdrill's lines before a block do.
pub fn define(interp: &mut Interpreter, subject: Subject<'_>, now: Instant) {
    for (name, v) in TCP_STATES.iter().chain(&TCP_CA_STATES).chain(&TCPI_OPTIONS) {
        interp.set(name, Value::Int(*v));
    }
    for name in FIELDS.iter() {
        interp.set(name, value(name, subject, now));
    }
    for name in MEMINFO {
        interp.set(
            name,
            Value::Unavailable(format!(
                "{name} is not modelled yet (SO_MEMINFO: tcpsim's stack has no socket memory accounting)"
            )),
        );
    }
}

fn state_number(s: State) -> i128 {
    match s {
        State::Established => 1,
        State::SynSent => 2,
        State::SynReceived => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::Closed => 7,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
    }
}

fn ca_number(c: CaState) -> i128 {
    match c {
        CaState::Open => 0,
        CaState::Disorder => 1,
        CaState::Cwr => 2,
        CaState::Recovery => 3,
        CaState::Loss => 4,
    }
}

fn not_modelled(name: &str, why: &str) -> Value {
    Value::Unavailable(format!("{name} is not modelled yet ({why})"))
}

/// One field's value.
fn value(name: &str, subject: Subject<'_>, now: Instant) -> Value {
    let info = match subject {
        Subject::Connection(i) => i,
        other => {
            let (state, what) = match other {
                Subject::Listener => (10, "a listening socket"),
                Subject::Fresh => (7, "a socket that has not connected or listened yet"),
                _ => (
                    7,
                    "a socket whose connection the stack has released; Linux keeps its last values, tcpsim's stack forgets them",
                ),
            };
            return if name == "tcpi_state" {
                Value::Int(state)
            } else {
                Value::Unavailable(format!(
                    "{name} is not modelled for {what} (only tcpi_state is)"
                ))
            };
        }
    };
    let int = |v: u64| Value::Int(i128::from(v));
    let mss = u64::from(info.snd_mss.max(1));
    match name {
        "tcpi_state" => Value::Int(state_number(info.state)),
        "tcpi_ca_state" => Value::Int(ca_number(info.ca_state)),
        "tcpi_retransmits" => int(info.retransmits.into()),
        "tcpi_probes" => int(info.probes.into()),
        "tcpi_backoff" => int(info.backoff.into()),
        "tcpi_options" => {
            // TCPI_OPT_ECN (8) once ECN is negotiated, TCPI_OPT_ECN_SEEN
            // (16) once an ECT or CE segment arrived, TCPI_OPT_SYN_DATA
            // (32) when a Fast Open server took the SYN's data.
            let bits = u64::from(info.timestamps)
                | (u64::from(info.sack_permitted) << 1)
                | (u64::from(info.window_scaling) << 2)
                | (u64::from(info.ecn) << 3)
                | (u64::from(info.ecn_seen) << 4)
                | (u64::from(info.syn_data_acked) << 5);
            int(bits)
        }
        // Linux fills the shifts only when window scaling was negotiated.
        "tcpi_snd_wscale" => int(if info.window_scaling {
            info.snd_wscale.into()
        } else {
            0
        }),
        "tcpi_rcv_wscale" => int(if info.window_scaling {
            info.rcv_wscale.into()
        } else {
            0
        }),
        "tcpi_rto" => int(info.rto.as_micros()),
        "tcpi_ato" => int(info.ato.as_micros()),
        "tcpi_snd_mss" => int(info.snd_mss.into()),
        "tcpi_rcv_mss" => int(info.rcv_mss.into()),
        "tcpi_unacked" => int(info.unacked.into()),
        "tcpi_sacked" => int(info.sacked.into()),
        "tcpi_lost" => match info.lost {
            Some(v) => int(v.into()),
            None => not_modelled(
                name,
                "NewReno recovery without SACK keeps no per-segment loss marks",
            ),
        },
        "tcpi_retrans" => match info.retrans {
            Some(v) => int(v.into()),
            None => not_modelled(
                name,
                "without RACK the stack does not mark which outstanding segments were retransmitted",
            ),
        },
        "tcpi_fackets" | "tcpi_last_ack_sent" => Value::Int(0),
        "tcpi_last_data_sent" => not_modelled(
            name,
            "the stack keeps when it last sent a segment, not when it last sent data",
        ),
        "tcpi_last_data_recv" => match info.last_data_recv {
            Some(t) => int(now.saturating_since(t).as_millis()),
            None => not_modelled(name, "the stack keeps it only with delayed ACKs on"),
        },
        "tcpi_last_ack_recv" => {
            not_modelled(name, "the stack does not keep when the last ACK came")
        }
        "tcpi_pmtu" => not_modelled(name, "the stack has no path MTU discovery"),
        "tcpi_rcv_ssthresh" => int(info.rcv_ssthresh.into()),
        "tcpi_rtt" => int(info.srtt.map_or(0, |d| d.as_micros())),
        "tcpi_rttvar" => int(info.rttvar.as_micros()),
        "tcpi_snd_ssthresh" => match info.ssthresh_set() {
            None => Value::Int(TCP_INFINITE_SSTHRESH),
            Some(b) => int((u64::from(b) / mss).min(TCP_INFINITE_SSTHRESH as u64)),
        },
        "tcpi_snd_cwnd" => int(u64::from(info.snd_cwnd) / mss),
        "tcpi_advmss" => int(info.advmss.into()),
        "tcpi_reordering" => int(info.reordering.into()),
        "tcpi_total_retrans" => int(info.total_retrans),
        "tcpi_pacing_rate" => not_modelled(name, "the stack does not pace"),
        // ~0: no SO_MAX_PACING_RATE (scripts cannot set it here).
        "tcpi_max_pacing_rate" => int(u64::MAX),
        "tcpi_rcv_rtt" => not_modelled(name, "the stack keeps no receiver-side RTT estimate"),
        "tcpi_rcv_space" => not_modelled(
            name,
            "Linux's receive-buffer auto-tuning estimate; the stack does not auto-tune",
        ),
        "tcpi_bytes_acked" => int(info.bytes_acked),
        "tcpi_bytes_received" => int(info.bytes_received),
        "tcpi_segs_out" => int(info.segs_out),
        "tcpi_segs_in" => int(info.segs_in),
        "tcpi_notsent_bytes" => int(info.notsent_bytes.into()),
        "tcpi_min_rtt" => match info.min_rtt {
            Some(d) => int(d.as_micros()),
            None => not_modelled(name, "no RTT sample yet"),
        },
        "tcpi_data_segs_in" | "tcpi_data_segs_out" => {
            not_modelled(name, "the stack counts segments, not data segments")
        }
        "tcpi_delivery_rate"
        | "tcpi_delivered"
        | "tcpi_delivered_ce"
        | "tcpi_delivery_rate_app_limited" => {
            not_modelled(name, "the stack has no delivery-rate sampling")
        }
        "tcpi_busy_time" | "tcpi_rwnd_limited" | "tcpi_sndbuf_limited" => {
            not_modelled(name, "the stack does not time what limits the sender")
        }
        "tcpi_bytes_sent" => int(info.bytes_sent),
        "tcpi_bytes_retrans" => int(info.bytes_retrans),
        "tcpi_dsack_dups" => int(info.dsack_dups),
        "tcpi_reord_seen" => int(info.reord_seen.into()),
        "tcpi_rcv_ooopack" => not_modelled(
            name,
            "the stack does not count out-of-order packets received",
        ),
        "tcpi_snd_wnd" => int(info.snd_wnd.into()),
        "tcpi_rcv_wnd" => int(info.rcv_wnd.into()),
        "tcpi_rehash" => not_modelled(name, "the stack has no flow-label rehashing"),
        "tcpi_total_rto" => int(info.timeouts),
        "tcpi_total_rto_recoveries" | "tcpi_total_rto_time" => {
            not_modelled(name, "the stack does not time RTO recoveries")
        }
        _ => not_modelled(name, "the stack has no ECN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::{Endpoint, EndpointConfig};

    #[test]
    fn every_field_is_defined_and_the_unmodelled_ones_say_why() {
        // Why: packetdrill defines all of these names; a block that reads
        // one we do not model must fail naming it, never hit NameError or
        // read a silent 0. A fresh endpoint's listener stands in for any
        // socket: only tcpi_state is known there.
        let mut it = Interpreter::new();
        define(&mut it, Subject::Listener, Instant(0));
        assert_eq!(it.get("tcpi_state"), Some(&Value::Int(10)));
        for name in FIELDS.iter() {
            assert!(it.get(name).is_some(), "{name} undefined");
        }
        let e = it
            .exec("x = tcpi_snd_cwnd")
            .expect_err("not known on a listener");
        assert!(e.message.contains("tcpi_snd_cwnd"), "{}", e.message);
        assert_eq!(it.get("TCP_CA_Loss"), Some(&Value::Int(4)));
        assert_eq!(it.get("TCPI_OPT_SYN_DATA"), Some(&Value::Int(32)));
        let e = it.exec("x = SK_MEMINFO_RCVBUF").expect_err("not modelled");
        assert!(e.message.contains("SK_MEMINFO_RCVBUF is not modelled yet"));
    }

    #[test]
    fn a_connection_in_syn_sent_reads_in_linux_units() {
        // Why: straight after connect() the stack's values are known
        // exactly: one SYN outstanding, RTO 1 s (RFC 6298 §2.1) = 10^6 us,
        // cwnd 10 segments, ssthresh infinite; each in Linux's unit.
        let mut ep = Endpoint::new(
            std::net::Ipv4Addr::new(10, 0, 0, 1),
            EndpointConfig::new([7; 16]),
        );
        let id = ep
            .connect(
                Instant(0),
                std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 2), 80),
            )
            .expect("connect");
        let mut buf = Vec::new();
        assert!(ep.poll_transmit(Instant(0), &mut buf), "the SYN");
        let info = ep.info(id).expect("a connection");
        let mut it = Interpreter::new();
        define(&mut it, Subject::Connection(&info), Instant(0));
        it.exec(
            "assert tcpi_state == TCP_SYN_SENT, tcpi_state\n\
             assert tcpi_ca_state == TCP_CA_Open\n\
             assert tcpi_rto == 1000000, tcpi_rto\n\
             assert tcpi_unacked == 1, tcpi_unacked\n\
             assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\n\
             assert tcpi_snd_ssthresh == 0x7fffffff, tcpi_snd_ssthresh\n\
             assert tcpi_rtt == 0 and tcpi_total_retrans == 0\n\
             assert tcpi_max_pacing_rate == 2**64 - 1",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // docs/packetdrill.md says 39 of the 71 fields are modelled (two
        // more, tcpi_min_rtt and tcpi_retrans, once an RTT sample or RACK
        // gives them a value).
        let known = FIELDS
            .iter()
            .filter(|n| !matches!(it.get(n), Some(Value::Unavailable(_))))
            .count();
        assert_eq!(known, 39);
    }
}
