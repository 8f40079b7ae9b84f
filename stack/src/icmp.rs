//! ICMP errors for TCP, as Linux's tcp_v4_err handles them.
//!
//! An ICMPv4 error (RFC 792) quotes the IP header and the first 8 bytes
//! of the datagram that caused it: for TCP, the ports and the sequence
//! number. The endpoint finds the connection by the quoted ports and
//! addresses and, as RFC 5927 §4.1 advises and Linux does, believes the
//! message only if the quoted sequence number lies in SND.UNA..=SND.NXT
//! (a data segment this connection sent and the peer has not
//! acknowledged); anything else is counted and dropped.
//!
//! - Destination unreachable, fragmentation needed (RFC 1191): the path
//!   MTU drops to the reported next-hop MTU (never below Linux's
//!   ip_rt_min_pmtu, 552), the send MSS follows (tcp_sync_mss), and what
//!   is in flight is sent again in segments of the new size without
//!   touching the congestion window (tcp_simple_retransmit).
//! - Other unreachable codes, parameter problem and time exceeded carry
//!   an errno (Linux's icmp_err_convert). RFC 1122 §4.2.3.9 calls net,
//!   host and protocol unreachable soft errors that must not abort a
//!   connection; RFC 5461 records that stacks abort a connection attempt
//!   on them, and Linux does: in SYN-SENT (and in a simultaneous open's
//!   SYN-RECEIVED) the connection fails with that errno. Once
//!   synchronized the error is only remembered (sk_err_soft): SO_ERROR
//!   reports it once, a later timeout reports it instead of ETIMEDOUT,
//!   and an ACK of new data forgets it.
//! - A passive open's half-open connection (Linux's request socket) is
//!   dropped by net or host unreachable, parameter problem or time
//!   exceeded that quote its ISS exactly (tcp_req_err); a later ACK for
//!   it meets no connection.
//! - Source quench (RFC 6633 deprecates it), redirects and all other
//!   types are ignored.
//!
//! Malformed messages (short, bad checksums, not quoting TCP from this
//! host) are refused with [`WireError::BadIcmp`], never a panic.

use crate::conn::{Connection, Disposition, Env};
use crate::seq::SeqNum;
use crate::types::{SocketError, State};
use crate::wire::{WireError, internet_checksum};
use std::net::Ipv4Addr;

/// The IPv4 protocol number of ICMP.
pub const PROTOCOL_ICMP: u8 = 1;
/// ICMP types (RFC 792).
pub const ICMP_DEST_UNREACH: u8 = 3;
/// Source quench (deprecated by RFC 6633, ignored).
pub const ICMP_SOURCE_QUENCH: u8 = 4;
/// Time exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// Parameter problem.
pub const ICMP_PARAMETERPROB: u8 = 12;
/// Destination unreachable's "fragmentation needed and DF set" code.
pub const ICMP_FRAG_NEEDED: u8 = 4;
/// Linux's ip_rt_min_pmtu: a reported MTU below it is raised to it.
pub const MIN_PMTU: u32 = 552;
/// Linux's TCP_MIN_SND_MSS: the send MSS never drops below it.
const MIN_SND_MSS: u32 = 48;

/// An ICMP error message quoting a TCP segment this host sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Who sent the ICMP message (a router or the peer).
    pub from: Ipv4Addr,
    /// ICMP type and code.
    pub kind: u8,
    /// ICMP code.
    pub code: u8,
    /// The next-hop MTU of a fragmentation-needed message (RFC 1191 §4;
    /// 0 from a router that predates it).
    pub mtu: u16,
    /// The quoted datagram's addresses: this host, then the peer.
    pub local: Ipv4Addr,
    /// The peer the quoted segment went to.
    pub remote: Ipv4Addr,
    /// The quoted TCP ports: ours, then the peer's.
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// The quoted sequence number.
    pub seq: SeqNum,
}

/// Whether `bytes` is an IPv4 datagram carrying ICMP (read without
/// checking anything else).
pub fn is_icmp(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b >> 4 == 4) && bytes.get(9) == Some(&PROTOCOL_ICMP)
}

/// Parses an ICMPv4 datagram: `Ok(None)` for a well-formed message of a
/// type TCP ignores (echo, redirect, source quench...) or one quoting
/// something other than TCP; `Err` for a malformed one (lengths, either
/// checksum, a fragment, a quote too short to hold the ports and
/// sequence number).
pub fn parse(bytes: &[u8]) -> Result<Option<IcmpError>, WireError> {
    if bytes.len() < 20 || bytes[0] >> 4 != 4 {
        return Err(WireError::BadIcmp);
    }
    let ihl = usize::from(bytes[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if ihl < 20 || total < ihl || total > bytes.len() {
        return Err(WireError::BadIcmp);
    }
    let frag = u16::from_be_bytes([bytes[6], bytes[7]]);
    if frag & 0x2000 != 0 || frag & 0x1fff != 0 || bytes[9] != PROTOCOL_ICMP {
        return Err(WireError::BadIcmp);
    }
    if internet_checksum(&bytes[..ihl]) != 0 {
        return Err(WireError::BadIcmp);
    }
    let from = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
    let icmp = &bytes[ihl..total];
    if icmp.len() < 8 || internet_checksum(icmp) != 0 {
        return Err(WireError::BadIcmp);
    }
    let (kind, code) = (icmp[0], icmp[1]);
    if !matches!(
        kind,
        ICMP_DEST_UNREACH | ICMP_SOURCE_QUENCH | ICMP_TIME_EXCEEDED | ICMP_PARAMETERPROB
    ) {
        return Ok(None);
    }
    let mtu = u16::from_be_bytes([icmp[6], icmp[7]]);
    // The quoted IP header, then at least 8 bytes of TCP (RFC 792).
    let quote = &icmp[8..];
    if quote.len() < 20 || quote[0] >> 4 != 4 {
        return Err(WireError::BadIcmp);
    }
    let qihl = usize::from(quote[0] & 0x0f) * 4;
    if qihl < 20 || quote.len() < qihl + 8 {
        return Err(WireError::BadIcmp);
    }
    if quote[9] != crate::wire::PROTOCOL_TCP {
        return Ok(None);
    }
    let tcp = &quote[qihl..];
    Ok(Some(IcmpError {
        from,
        kind,
        code,
        mtu,
        local: Ipv4Addr::new(quote[12], quote[13], quote[14], quote[15]),
        remote: Ipv4Addr::new(quote[16], quote[17], quote[18], quote[19]),
        local_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        remote_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: SeqNum(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]])),
    }))
}

impl IcmpError {
    /// The errno Linux gives this message (icmp_err_convert for
    /// unreachable codes, EPROTO for a parameter problem, EHOSTUNREACH for
    /// time exceeded), with whether tcp_req_err drops a request for it;
    /// `None` for what TCP ignores (fragmentation needed is handled apart,
    /// source quench and unknown codes not at all).
    pub fn errno(&self) -> Option<(SocketError, bool)> {
        use SocketError as E;
        Some(match (self.kind, self.code) {
            (ICMP_DEST_UNREACH, 0) => (E::NetworkUnreachable, true),
            (ICMP_DEST_UNREACH, 1) => (E::HostUnreachable, true),
            (ICMP_DEST_UNREACH, 2) => (E::ProtocolUnavailable, false),
            (ICMP_DEST_UNREACH, 3) => (E::ConnectionRefused, false),
            (ICMP_DEST_UNREACH, 5) => (E::NotSupported, false),
            (ICMP_DEST_UNREACH, 6 | 9 | 11) => (E::NetworkUnreachable, false),
            (ICMP_DEST_UNREACH, 7) => (E::HostDown, false),
            (ICMP_DEST_UNREACH, 8) => (E::NoNetwork, false),
            (ICMP_DEST_UNREACH, 10 | 12..=15) => (E::HostUnreachable, false),
            (ICMP_PARAMETERPROB, _) => (E::ProtocolError, true),
            (ICMP_TIME_EXCEEDED, _) => (E::HostUnreachable, true),
            _ => return None,
        })
    }

    /// A fragmentation-needed message.
    pub fn frag_needed(&self) -> bool {
        self.kind == ICMP_DEST_UNREACH && self.code == ICMP_FRAG_NEEDED
    }
}

/// What a connection keeps of the ICMP errors it was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PathState {
    /// The path MTU a fragmentation-needed message lowered (None: the
    /// route's, MSS + 40).
    pub(crate) pmtu: Option<u32>,
    /// Linux's sk_err_soft: the last ICMP error of a synchronized
    /// connection.
    pub(crate) soft_error: Option<SocketError>,
}

impl PathState {
    /// The MSS the path allows, IP and TCP headers taken off (Linux's
    /// __tcp_mtu_to_mss), or u32::MAX with no PMTU learnt.
    pub(crate) fn mss_cap(&self) -> u32 {
        self.pmtu.map_or(u32::MAX, |p| p.saturating_sub(40))
    }
}

impl Connection {
    /// An ICMP error quoting this connection's segment (tcp_v4_err).
    pub(crate) fn on_icmp(&mut self, msg: &IcmpError, env: &mut Env<'_>) -> IcmpOutcome {
        if matches!(self.state, State::TimeWait | State::Closed | State::Listen) {
            return IcmpOutcome::Ignored;
        }
        // A passive open's half-open connection is Linux's request
        // socket: only the exact ISS counts (tcp_req_err).
        if self.passive && self.state == State::SynReceived && !self.fast_open_child {
            if msg.seq != self.iss {
                return IcmpOutcome::OutOfWindow;
            }
            return match msg.errno() {
                Some((_, true)) if !msg.frag_needed() => {
                    self.set_state(State::Listen, env);
                    IcmpOutcome::Done(Disposition::Delete)
                }
                _ => IcmpOutcome::Ignored,
            };
        }
        // RFC 5927 §4.1: the quoted segment must be one in flight (Linux:
        // between(seq, snd_una, snd_nxt)).
        if msg.seq.diff(self.snd_una) < 0 || self.snd_nxt.diff(msg.seq) < 0 {
            return IcmpOutcome::OutOfWindow;
        }
        if msg.frag_needed() {
            self.path_mtu_reduced(u32::from(msg.mtu));
            return IcmpOutcome::Done(Disposition::Keep);
        }
        let Some((errno, _)) = msg.errno() else {
            return IcmpOutcome::Ignored;
        };
        match self.state {
            // RFC 5461 §4 / Linux: a connection attempt fails at once.
            State::SynSent => IcmpOutcome::Done(self.fail(errno, env)),
            State::SynReceived if !self.passive => IcmpOutcome::Done(self.fail(errno, env)),
            _ => {
                // RFC 1122 §4.2.3.9: a soft error, reported on timeout.
                self.icmp.soft_error = Some(errno);
                IcmpOutcome::Done(Disposition::Keep)
            }
        }
    }

    /// RFC 1191 §3 / Linux's tcp_v4_mtu_reduced: a smaller path MTU; the
    /// segments in flight, sent at the old size, go again at the new one.
    fn path_mtu_reduced(&mut self, reported: u32) {
        let route = u32::from(self.config.mss) + 40;
        let current = self.icmp.pmtu.unwrap_or(route);
        // __ip_rt_update_pmtu: never below ip_rt_min_pmtu (unless the
        // path already is), and a PMTU only ever drops here.
        let mtu = if reported < MIN_PMTU {
            current.min(MIN_PMTU)
        } else {
            reported
        };
        if mtu >= current {
            return;
        }
        self.icmp.pmtu = Some(mtu);
        // tcp_sync_mss: the peer's MSS and ours capped by the path, the
        // timestamp option's 12 bytes off each segment.
        let base = u32::from(self.peer_mss.min(self.config.mss))
            .min(mtu - 40)
            .max(MIN_SND_MSS);
        let smss = if self.timestamps { base - 12 } else { base };
        if self.state == State::SynSent || smss >= self.smss {
            self.smss = self.smss.min(smss);
            return;
        }
        self.smss = smss;
        self.cc.set_mss(smss);
        // tcp_simple_retransmit: what is in flight was sent in segments
        // larger than the path now carries; send it again from SND.UNA,
        // the congestion window unchanged ("units changed", not loss).
        if self.flight_size() > 0 {
            self.snd_nxt = self.snd_una;
        }
    }
}

/// What an ICMP error did to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpOutcome {
    /// Believed and acted on.
    Done(Disposition),
    /// The quoted sequence number is not in flight (Linux's
    /// OutOfWindowIcmps).
    OutOfWindow,
    /// Nothing to do for this type, code or state.
    Ignored,
}
