//! ICMP packets in scripts, as packetdrill writes them (its parser.y
//! `icmp_packet_spec` and icmp_packet.c):
//!
//! ```text
//! < icmp TYPE [CODE] [mtu N] [id N] [[START:END(LEN)] | [udp(LEN)] | [raw(LEN)]]
//! ```
//!
//! TYPE and CODE are packetdrill's names (`unreachable`, `frag_needed`,
//! `host_unreachable`...) or `type_N` / `code_N`; a missing code is 0.
//! `mtu` is only for unreachable/frag_needed. The bracket says what the
//! message quotes: by default (or with `[START:END(LEN)]`) the IPv4 header
//! and first 8 bytes of a TCP segment the stack sent, whose sequence number
//! is START counted from the stack's ISN (packetdrill's
//! map_inbound_icmp_tcp_packet), its quoted IP length 40 + LEN. tcpsim
//! injects inbound ICMP only; the stack never sends any.

use std::net::Ipv4Addr;

/// An ICMP line's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpSpec {
    /// ICMP type and code.
    pub kind: u8,
    /// ICMP code.
    pub code: u8,
    /// `mtu N`: the next-hop MTU of a fragmentation-needed message.
    pub mtu: Option<u16>,
    /// `id N`: an echo identifier.
    pub echo_id: u16,
    /// What the message quotes.
    pub quoted: Quoted,
}

/// What an ICMP message quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoted {
    /// A TCP segment: IP header and 8 bytes (ports and sequence number);
    /// the sequence numbers are the packet line's start and length.
    Tcp,
    /// `[udp(LEN)]`: a UDP datagram's header.
    Udp(u32),
    /// `[raw(LEN)]`: LEN zero bytes and no quote.
    Raw(u32),
}

/// packetdrill's ICMPv4 type names (icmpv4_types).
const TYPES: &[(&str, u8)] = &[
    ("echo_reply", 0),
    ("unreachable", 3),
    ("source_quench", 4),
    ("redirect", 5),
    ("echo_request", 8),
    ("time_exceeded", 11),
    ("parameter_problem", 12),
    ("timestamp_request", 13),
    ("timestamp_reply", 14),
    ("information_request", 15),
    ("information_reply", 16),
    ("address_mask_request", 17),
    ("address_mask_reply", 18),
];

/// packetdrill's destination-unreachable code names (RFC 1700).
const UNREACHABLE_CODES: &[(&str, u8)] = &[
    ("net_unreachable", 0),
    ("host_unreachable", 1),
    ("protocol_unreachable", 2),
    ("port_unreachable", 3),
    ("frag_needed", 4),
    ("source_route_failed", 5),
    ("net_unknown", 6),
    ("host_unknown", 7),
    ("source_host_isolated", 8),
    ("net_prohibited", 9),
    ("host_prohibited", 10),
    ("net_unreachable_for_tos", 11),
    ("host_unreachable_for_tos", 12),
    ("packet_filtered", 13),
    ("precedence_violation", 14),
    ("precedence_cutoff", 15),
];

fn numbered(word: &str, prefix: &str) -> Option<u8> {
    word.strip_prefix(prefix)?.parse::<u8>().ok()
}

/// A type by name, as packetdrill's parse_icmp_type_and_code.
pub fn type_by_name(word: &str) -> Result<u8, String> {
    numbered(word, "type_")
        .or_else(|| TYPES.iter().find(|(n, _)| *n == word).map(|&(_, v)| v))
        .ok_or_else(|| {
            format!(
                "bad ICMP type {word} (one of {}, or type_N)",
                TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        })
}

/// A code by name for `kind` (only unreachable has named codes).
pub fn code_by_name(kind: u8, word: &str) -> Result<u8, String> {
    if let Some(v) = numbered(word, "code_") {
        return Ok(v);
    }
    if kind == 3
        && let Some(&(_, v)) = UNREACHABLE_CODES.iter().find(|(n, _)| *n == word)
    {
        return Ok(v);
    }
    Err(format!(
        "bad ICMP code {word} (unreachable's: {}; others: code_N)",
        UNREACHABLE_CODES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The addresses and TCP fields an injected ICMP message needs.
#[derive(Clone, Copy, Debug)]
pub struct Quote {
    /// The script's host (the ICMP message's source and the quoted
    /// datagram's destination).
    pub remote: Ipv4Addr,
    /// The stack's address.
    pub local: Ipv4Addr,
    /// The quoted segment's ports: the stack's, then the script's.
    pub local_port: u16,
    /// The script's port.
    pub remote_port: u16,
    /// The quoted sequence number, absolute.
    pub seq: u32,
    /// The quoted segment's payload length.
    pub len: u32,
}

fn ip_header(out: &mut Vec<u8>, total: usize, proto: u8, src: Ipv4Addr, dst: Ipv4Addr) {
    let start = out.len();
    out.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0]);
    out[start + 2..start + 4].copy_from_slice(&(total.min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let sum = stack::wire::internet_checksum(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
}

/// The whole IPv4 datagram for `spec`, as packetdrill's new_icmp_packet
/// builds it (quoted header plus 8 bytes, checksums filled in), into `out`.
pub fn datagram(spec: &IcmpSpec, q: &Quote, out: &mut Vec<u8>) {
    out.clear();
    let (proto, l4_len, icmp_len) = match spec.quoted {
        Quoted::Tcp => (6u8, 20u32, 8 + 28),
        Quoted::Udp(_) => (17u8, 8u32, 8 + 28),
        Quoted::Raw(n) => (0u8, 0u32, (n as usize).max(8)),
    };
    ip_header(out, 20 + icmp_len, 1, q.remote, q.local);
    let icmp_at = out.len();
    out.extend_from_slice(&[spec.kind, spec.code, 0, 0]);
    out.extend_from_slice(&spec.echo_id.to_be_bytes());
    out.extend_from_slice(&spec.mtu.unwrap_or(0).to_be_bytes());
    match spec.quoted {
        Quoted::Raw(_) => out.resize(icmp_at + icmp_len, 0),
        Quoted::Tcp | Quoted::Udp(_) => {
            let payload = match spec.quoted {
                Quoted::Udp(n) => n,
                _ => q.len,
            };
            let quoted_len = (20 + l4_len + payload) as usize;
            ip_header(out, quoted_len, proto, q.local, q.remote);
            out.extend_from_slice(&q.local_port.to_be_bytes());
            out.extend_from_slice(&q.remote_port.to_be_bytes());
            if proto == 6 {
                out.extend_from_slice(&q.seq.to_be_bytes());
            } else {
                out.extend_from_slice(&((8 + payload).min(0xffff) as u16).to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
        }
    }
    let sum = stack::wire::internet_checksum(&out[icmp_at..]);
    out[icmp_at + 2..icmp_at + 4].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frag_needed_line_builds_what_the_stack_parses() {
        // Why: the bytes the runner injects must be an ICMP error the
        // stack's own parser reads back field for field (type, code, MTU,
        // the quoted ports and sequence number); a mismatch would make
        // every ICMP script test nothing.
        let spec = IcmpSpec {
            kind: 3,
            code: code_by_name(3, "frag_needed").unwrap(),
            mtu: Some(1200),
            echo_id: 0,
            quoted: Quoted::Tcp,
        };
        let q = Quote {
            remote: Ipv4Addr::new(192, 0, 2, 1),
            local: Ipv4Addr::new(192, 168, 0, 1),
            local_port: 8080,
            remote_port: 40000,
            seq: 0xffff_fff0,
            len: 1000,
        };
        let mut out = Vec::new();
        datagram(&spec, &q, &mut out);
        let m = stack::icmp::parse(&out).unwrap().unwrap();
        assert_eq!((m.kind, m.code, m.mtu), (3, 4, 1200));
        assert_eq!((m.local_port, m.remote_port), (8080, 40000));
        assert_eq!(m.seq.0, 0xffff_fff0);
        assert_eq!((m.local, m.remote, m.from), (q.local, q.remote, q.remote));
        // One flipped bit anywhere in the ICMP part fails its checksum.
        out[30] ^= 1;
        assert!(stack::icmp::parse(&out).is_err());
    }

    #[test]
    fn names_are_packetdrills() {
        // Why: scripts name types and codes as packetdrill's tables do; an
        // unknown name is an error naming the choices, never a silent 0.
        assert_eq!(type_by_name("unreachable"), Ok(3));
        assert_eq!(type_by_name("type_42"), Ok(42));
        assert_eq!(code_by_name(3, "host_unreachable"), Ok(1));
        assert_eq!(code_by_name(11, "code_1"), Ok(1));
        assert!(
            type_by_name("unreachabel")
                .unwrap_err()
                .contains("unreachable")
        );
        assert!(code_by_name(11, "frag_needed").is_err());
    }
}
