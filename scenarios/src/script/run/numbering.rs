//! The segments of a script: numbers relative to the two ISNs, matching
//! the stack's segments against `>` lines, building the datagrams of `<`
//! lines, and printing both the way packetdrill writes them.

use super::{Collect, Runner, fmt_time};
use crate::script::ScriptError;
use crate::script::parse::{
    ACK, CWR, Direction, ECE, Event, FIN, OptionSpec, OptionsSpec, PSH, PacketSpec, RST, SYN,
    TosSpec, URG,
};
use stack::wire::{self, Flags, IpPair, SackBlock, TcpOptions, TcpPacket, TcpRepr};
use stack::{Instant, SeqNum};
use std::fmt::Write as _;

/// A segment the stack sent (or a run of them merged), as the runner
/// compares and prints it: absolute numbers, TCP fields only.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    flags: u8,
    seq: u32,
    ack: u32,
    window: u16,
    len: u32,
    options: TcpOptions,
    /// The option bytes as written, for messages.
    raw_options: Vec<u8>,
    /// The IP header's TOS byte (its low two bits are ECN, RFC 3168 §5).
    tos: u8,
}

pub(super) fn seen(bytes: &[u8]) -> Option<Seen> {
    let (_, seg) = wire::parse_datagram(bytes).ok()?;
    let ip = wire::Ipv4Packet::new_checked(bytes).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload_slice()).ok()?;
    Some(Seen {
        flags: seg.flags.0,
        seq: seg.seq.0,
        ack: seg.ack.0,
        window: seg.window,
        len: seg.payload.len() as u32,
        options: seg.options,
        raw_options: tcp.options().to_vec(),
        tos: bytes[1],
    })
}

impl Runner<'_> {
    /// The stack's SYN or SYN-ACK fixes the ISN its numbers are relative to.
    pub(super) fn learn_from_outbound(&mut self, bytes: &[u8]) {
        if let Ok((_, seg)) = wire::parse_datagram(bytes)
            && seg.flags.syn()
        {
            self.local_isn = Some(seg.seq.0);
            let new = (seg.src_port, seg.dst_port);
            self.tuple = new;
            self.test_fresh = false;
            // A new connection under test: what earlier ones send or left
            // queued is not this test socket's (packetdrill ignores it).
            self.closed_tuples.retain(|t| *t != new);
            if !self.seen_tuples.contains(&new) {
                self.seen_tuples.push(new);
            }
            self.outq
                .retain(|(_, b)| super::tuple_of(b).is_none_or(|t| t == new));
        }
    }

    // ----- packets -----

    pub(super) fn expect_outbound(
        &mut self,
        ev: &Event,
        spec: &PacketSpec,
        lo: Instant,
        hi: Instant,
        nominal: Option<Instant>,
    ) -> Result<(), ScriptError> {
        if self.outq.is_empty() {
            self.advance(hi, Collect::First)?;
        }
        let expected_at = match nominal {
            Some(at) => fmt_time(at),
            None => "*".to_string(),
        };
        let Some((t, bytes)) = self.outq.pop_front() else {
            let by = if hi == Instant(u64::MAX) {
                "the stack has nothing left to send".to_string()
            } else {
                format!("no segment by {}", fmt_time(hi))
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got nothing ({by})",
                    self.render_spec(spec)
                ),
            ));
        };
        let Some(mut got) = seen(&bytes) else {
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got a malformed datagram",
                    self.render_spec(spec)
                ),
            ));
        };
        // As packetdrill does for remote hosts: a line that expects more
        // payload than one segment carries matches the run of consecutive
        // segments that adds up to it, the way a TSO/GSO burst from Linux
        // appears as one large packet on packetdrill's tun device.
        let mut last_at = t;
        if spec.flags & (SYN | RST) == 0 && got.len > 0 && spec.len > got.len {
            while got.len < spec.len {
                if self.outq.is_empty() {
                    self.advance(hi, Collect::First)?;
                }
                let Some(next) = self.outq.front().and_then(|(at, b)| Some((*at, seen(b)?))) else {
                    break;
                };
                let (at, next) = next;
                let same = |f: u8| f & !(PSH | FIN);
                if at > hi
                    || next.len == 0
                    || next.seq != got.seq.wrapping_add(got.len)
                    || next.ack != got.ack
                    || same(next.flags) != same(got.flags)
                    || got.flags & FIN != 0
                {
                    break;
                }
                self.outq.pop_front();
                last_at = at;
                got.len += next.len;
                // packetdrill's aggregate_packets keeps the last packet's
                // header: its PSH, not any earlier one's.
                got.flags = (got.flags & !PSH) | (next.flags & (PSH | FIN));
                got.window = next.window;
            }
        }
        let mismatch = self.compare(spec, &got);
        if mismatch.is_some() || t < lo || t > hi {
            let why = match mismatch {
                Some(m) => m,
                None => "wrong time".to_string(),
            };
            return Err(self.fail(
                ev.line,
                format!(
                    "expected {} at {expected_at}, got {} at {} ({why})",
                    self.render_spec(spec),
                    self.render_actual(&got, Some(spec)),
                    fmt_time(t)
                ),
            ));
        }
        self.learn_ts_offset(spec, &got);
        // As packetdrill's adjust_relative_event_times: the next relative
        // time counts from when this segment actually left (anywhere in a
        // range, within the tolerance, or at any time for `*`); for a run
        // of segments, when the last of them left.
        self.last_time = last_at;
        Ok(())
    }

    /// Absolute value of a remote-side number written in the script.
    fn remote_abs(&self, v: u32, syn: bool) -> u32 {
        if syn {
            v
        } else {
            self.remote_isn.unwrap_or(0).wrapping_add(v)
        }
    }

    /// Absolute value of a stack-side number written in the script.
    fn local_abs(&self, v: u32) -> u32 {
        self.local_isn.unwrap_or(0).wrapping_add(v)
    }

    /// `None` when `bytes` is what `spec` describes; else what differs.
    fn compare(&self, spec: &PacketSpec, seg: &Seen) -> Option<String> {
        if seg.flags != spec.flags {
            return Some("flags differ".into());
        }
        // packetdrill's verify_outbound_live_tos.
        let ecn = seg.tos & 3;
        let tos_ok = match spec.tos {
            TosSpec::Unchecked => true,
            TosSpec::Ecn(bits) => ecn == bits,
            TosSpec::Ect01 => ecn == 1 || ecn == 2,
            TosSpec::Tos(byte) => seg.tos == byte,
        };
        if !tos_ok {
            return Some("the IP ECN field differs".into());
        }
        // A SYN from the stack defines its ISN, whatever number the
        // script writes for it (packetdrill's local_seq_script_to_live_offset:
        // a SYN maps the script's ISN onto the live one, so `> S. 1234:1234(0)`
        // matches any ISN, and later numbers are relative to it).
        let seq_ok = spec.flags & SYN != 0 || seg.seq == self.local_abs(spec.start);
        if !seq_ok {
            return Some("sequence number differs".into());
        }
        if seg.len != spec.len {
            return Some("payload length differs".into());
        }
        // Without the ACK flag the field is compared as it is, absolute
        // (packetdrill maps it only when the flag is set).
        if let Some(a) = spec.ack
            && seg.ack
                != if spec.flags & ACK != 0 {
                    self.remote_abs(a, spec.flags & SYN != 0)
                } else {
                    a
                }
        {
            return Some("ack differs".into());
        }
        if let Some(w) = spec.win
            && seg.window != w
        {
            return Some("window differs".into());
        }
        match &spec.options {
            OptionsSpec::Wildcard => None,
            OptionsSpec::None => {
                if seg.options == TcpOptions::default() {
                    None
                } else {
                    Some("the segment carries options the line does not list".into())
                }
            }
            OptionsSpec::List(list) => self.compare_options(list, &seg.options),
        }
    }

    fn compare_options(&self, list: &[OptionSpec], got: &TcpOptions) -> Option<String> {
        // SACK blocks in a `>` line are the peer's numbers; the TS ecr
        // echoes the script's own TSval as written.
        let want = options_from(list, |v| self.remote_abs(v, false), |ecr| ecr);
        if want.mss != got.mss {
            return Some("MSS option differs".into());
        }
        if want.window_scale != got.window_scale {
            return Some("window scale option differs".into());
        }
        if want.sack_permitted != got.sack_permitted {
            return Some("SACK-permitted option differs".into());
        }
        match (want.timestamps, got.timestamps) {
            (None, None) => {}
            (Some((_, ecr)), Some((_, got_ecr))) => {
                if ecr != got_ecr {
                    return Some("TS ecr differs".into());
                }
            }
            _ => return Some("timestamps option differs".into()),
        }
        if want.sack() != got.sack() {
            return Some("SACK blocks differ".into());
        }
        if want.fast_open != got.fast_open {
            return Some(match (want.fast_open, got.fast_open) {
                (Some(_), None) => "no Fast Open option".into(),
                (None, Some(_)) => "an unexpected Fast Open option".into(),
                (Some(w), Some(g)) if w.experimental != g.experimental => {
                    "Fast Open option in the other form (FO / FOEXP)".into()
                }
                _ => "Fast Open cookie differs".into(),
            });
        }
        None
    }

    fn learn_ts_offset(&mut self, spec: &PacketSpec, seg: &Seen) {
        if self.ts_offset.is_some() {
            return;
        }
        let OptionsSpec::List(list) = &spec.options else {
            return;
        };
        let Some(script_val) = list.iter().find_map(|o| match o {
            OptionSpec::Timestamps { val, .. } => Some(*val),
            _ => None,
        }) else {
            return;
        };
        if let Some((val, _)) = seg.options.timestamps {
            self.ts_offset = Some(val.wrapping_sub(script_val));
        }
    }

    pub(super) fn inject(&mut self, line: usize, spec: &PacketSpec) -> Result<(), ScriptError> {
        if let Some(icmp) = &spec.icmp {
            return self.inject_icmp(line, spec, icmp);
        }
        let syn = spec.flags & SYN != 0;
        // As packetdrill: the remote ISN is the script's first SYN for a
        // listening socket, or the SYN-ACK answering a connect(); a later
        // SYN on the same 4-tuple does not move it, so numbers stay
        // comparable with Linux. A bare SYN crossing our connect's SYN (a
        // simultaneous open) sets nothing (packetdrill learns the ISN only
        // from the SYN-ACK, run_packet.c do_inbound_script_packet), so
        // until a SYN-ACK comes the remote numbers are as written.
        let ack_flag = spec.flags & ACK != 0;
        if syn && self.remote_isn.is_none() && ack_flag == self.active_open {
            self.remote_isn = Some(spec.start);
        }
        let seq = self.remote_abs(spec.start, syn);
        // As packetdrill: `ack N` without the ACK flag fills the field as
        // written (absolute) and leaves the flag clear.
        let ack = match spec.ack {
            None => 0,
            Some(a) if spec.flags & ACK != 0 => self.local_abs(a),
            Some(a) => a,
        };
        let mut options = TcpOptions::default();
        match &spec.options {
            OptionsSpec::None => {}
            OptionsSpec::Wildcard => {
                return Err(self.fail(
                    line,
                    "`<...>` on an inbound segment: write the options it carries",
                ));
            }
            OptionsSpec::List(list) => {
                // SACK blocks in a `<` line are the stack's numbers; a
                // non-zero TS ecr echoes a script TSval, mapped onto the
                // stack's clock.
                let offset = self.ts_offset.unwrap_or(0);
                options = options_from(
                    list,
                    |v| self.local_abs(v),
                    |ecr| {
                        if ecr == 0 {
                            0
                        } else {
                            ecr.wrapping_add(offset)
                        }
                    },
                );
                if options.len() > 40 {
                    return Err(self.fail(line, "the options do not fit in 40 bytes"));
                }
            }
        }
        let payload = vec![b'x'; spec.len as usize];
        let repr = TcpRepr {
            src_port: self.tuple.1,
            dst_port: self.tuple.0,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: Flags(spec.flags),
            window: spec.win.unwrap_or(65_535),
            urgent: 0,
            options,
            payload: &payload,
        };
        wire::emit_datagram_ecn(
            IpPair {
                src: self.script.remote_ip,
                dst: self.script.local_ip,
            },
            &repr,
            match spec.tos {
                TosSpec::Ecn(bits) | TosSpec::Tos(bits) => wire::Ecn::from_bits(bits),
                TosSpec::Unchecked | TosSpec::Ect01 => wire::Ecn::NotEct,
            },
            &mut self.scratch,
        );
        if let TosSpec::Tos(byte) = spec.tos {
            set_tos_byte(&mut self.scratch, byte);
        }
        if spec.flags & ACK == 0 && ack != 0 {
            // The stack's emitter zeroes the field of a segment without
            // ACK, as a sender should; the script's peer need not.
            set_ack_field(&mut self.scratch, ack);
        }
        let bytes = std::mem::take(&mut self.scratch);
        self.snapshot_infos();
        let result = self.ep.handle_packet(self.now, &bytes);
        self.scratch = bytes;
        if let Err(e) = result {
            return Err(self.fail(line, format!("the stack rejected the datagram: {e}")));
        }
        self.segments_in += 1;
        self.flush()
    }

    // ----- rendering -----

    fn render_spec(&self, spec: &PacketSpec) -> String {
        let mut s = String::from(match spec.direction {
            Direction::Inbound => "< ",
            Direction::Outbound => "> ",
        });
        s.push_str(&tos_text(spec.tos));
        s.push_str(&flag_letters(spec.flags));
        let _ = write!(s, " {}:{}({})", spec.start, spec.end, spec.len);
        if let Some(a) = spec.ack {
            let _ = write!(s, " ack {a}");
        }
        if let Some(w) = spec.win {
            let _ = write!(s, " win {w}");
        }
        match &spec.options {
            OptionsSpec::None => {}
            OptionsSpec::Wildcard => s.push_str(" <...>"),
            OptionsSpec::List(list) => {
                let parts: Vec<String> = list.iter().map(option_text).collect();
                let _ = write!(s, " <{}>", parts.join(","));
            }
        }
        s
    }

    pub(super) fn render_bytes(&self, bytes: &[u8]) -> String {
        match seen(bytes) {
            Some(seg) => self.render_actual(&seg, None),
            None => "> (a malformed datagram)".into(),
        }
    }

    /// A segment the stack sent, in script notation and numbering; with
    /// `like`, the same fields the expectation wrote.
    fn render_actual(&self, seg: &Seen, like: Option<&PacketSpec>) -> String {
        let syn = seg.flags & SYN != 0;
        let start = if syn {
            0
        } else {
            seg.seq.wrapping_sub(self.local_isn.unwrap_or(0))
        };
        let tos = match like.map(|l| l.tos) {
            None | Some(TosSpec::Unchecked) => String::new(),
            Some(TosSpec::Tos(_)) => tos_text(TosSpec::Tos(seg.tos)),
            Some(_) => tos_text(TosSpec::Ecn(seg.tos & 3)),
        };
        let mut s = format!(
            "> {tos}{} {}:{}({})",
            flag_letters(seg.flags),
            start,
            start.wrapping_add(seg.len),
            seg.len
        );
        if seg.flags & ACK == 0 && like.is_some_and(|l| l.ack.is_some()) {
            // The line states the field of a segment without ACK: show it
            // as it is.
            let _ = write!(s, " ack {}", seg.ack);
        } else if seg.flags & ACK != 0 {
            let a = if syn {
                seg.ack
            } else {
                seg.ack.wrapping_sub(self.remote_isn.unwrap_or(0))
            };
            let _ = write!(s, " ack {a}");
        }
        if like.is_none_or(|l| l.win.is_some()) {
            let _ = write!(s, " win {}", seg.window);
        }
        let show_opts = match like.map(|l| &l.options) {
            Some(OptionsSpec::Wildcard) => false,
            _ => !seg.raw_options.is_empty(),
        };
        if show_opts {
            let _ = write!(s, " <{}>", self.raw_options(&seg.raw_options));
        }
        s
    }

    /// Options in the order and layout the stack wrote them.
    fn raw_options(&self, mut b: &[u8]) -> String {
        let mut parts = Vec::new();
        while let Some(&kind) = b.first() {
            match kind {
                0 => {
                    parts.push("eol".to_string());
                    break;
                }
                1 => {
                    parts.push("nop".to_string());
                    b = &b[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = b.get(1) else { break };
            let len = usize::from(len);
            if len < 2 || len > b.len() {
                break;
            }
            let body = &b[2..len];
            let be32 =
                |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
            parts.push(match (kind, body.len()) {
                (2, 2) => format!("mss {}", u16::from_be_bytes([body[0], body[1]])),
                (3, 1) => format!("wscale {}", body[0]),
                (4, 0) => "sackOK".to_string(),
                (34, _) => {
                    let hex: String = body.iter().map(|x| format!("{x:02x}")).collect();
                    format!("FO {hex}").trim_end().to_string()
                }
                (254, n) if n >= 2 && body[..2] == [0xf9, 0x89] => {
                    let hex: String = body[2..].iter().map(|x| format!("{x:02x}")).collect();
                    format!("FOEXP {hex}").trim_end().to_string()
                }
                (8, 8) => {
                    let val = be32(0).wrapping_sub(self.ts_offset.unwrap_or(0));
                    format!("TS val {val} ecr {}", be32(4))
                }
                (5, n) if n % 8 == 0 => {
                    let base = self.remote_isn.unwrap_or(0);
                    let blocks: Vec<String> = (0..n / 8)
                        .map(|i| {
                            format!(
                                "{}:{}",
                                be32(i * 8).wrapping_sub(base),
                                be32(i * 8 + 4).wrapping_sub(base)
                            )
                        })
                        .collect();
                    format!("sack {}", blocks.join(" "))
                }
                _ => format!("kind {kind} len {len}"),
            });
            b = &b[len..];
        }
        parts.join(",")
    }
}

/// Writes `ack` into the acknowledgment field of an IPv4 datagram carrying
/// TCP and updates the TCP checksum incrementally (RFC 1624 eqn. 3:
/// HC' = ~(~HC + ~m + m') over each 16-bit word changed).
pub(super) fn set_ack_field(datagram: &mut [u8], ack: u32) {
    let t = usize::from(datagram[0] & 0x0f) * 4;
    let word = |d: &[u8], i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let mut sum = u32::from(!word(datagram, t + 16));
    for i in [t + 8, t + 10] {
        sum += u32::from(!word(datagram, i));
    }
    datagram[t + 8..t + 12].copy_from_slice(&ack.to_be_bytes());
    for i in [t + 8, t + 10] {
        sum += u32::from(word(datagram, i));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    datagram[t + 16..t + 18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// The options a script line lists, by meaning: NOP and EOL are layout
/// only. `seq` maps SACK edges and `ecr` the TS echo to absolute values.
pub(super) fn options_from(
    list: &[OptionSpec],
    seq: impl Fn(u32) -> u32,
    ecr: impl Fn(u32) -> u32,
) -> TcpOptions {
    let mut o = TcpOptions::default();
    for item in list {
        match item {
            OptionSpec::Nop | OptionSpec::Eol => {}
            OptionSpec::Mss(v) => o.mss = Some(*v),
            OptionSpec::WindowScale(v) => o.window_scale = Some(*v),
            OptionSpec::SackPermitted => o.sack_permitted = true,
            OptionSpec::Timestamps { val, ecr: e } => o.timestamps = Some((*val, ecr(*e))),
            OptionSpec::Sack(blocks) => {
                for (i, (l, r)) in blocks.iter().enumerate() {
                    o.sack_blocks[i] = SackBlock {
                        left: SeqNum(seq(*l)),
                        right: SeqNum(seq(*r)),
                    };
                }
                o.sack_count = blocks.len() as u8;
            }
            OptionSpec::FastOpen {
                cookie,
                experimental,
            } => o.fast_open = Some(stack::wire::FastOpenCookie::new(cookie, *experimental)),
        }
    }
    o
}

/// Flags in packetdrill's letters and order: `S.`, `FP.`, `R.`.
/// `[ect0] ` and the like, as packetdrill writes the TOS byte; empty
/// when unchecked.
fn tos_text(tos: TosSpec) -> String {
    match tos {
        TosSpec::Unchecked => String::new(),
        TosSpec::Ecn(bits) => format!(
            "[{}] ",
            ["noecn", "ect1", "ect0", "ce"][usize::from(bits & 3)]
        ),
        TosSpec::Ect01 => "[ect01] ".into(),
        TosSpec::Tos(byte) => format!("[tos {byte:#x}] "),
    }
}

/// Sets the whole TOS byte of an IPv4 datagram and fixes its header
/// checksum (`[tos 0x..]` on an inbound line).
fn set_tos_byte(datagram: &mut [u8], byte: u8) {
    if datagram.len() < wire::IPV4_HEADER_LEN {
        return;
    }
    datagram[1] = byte;
    datagram[10..12].copy_from_slice(&[0, 0]);
    let sum = wire::internet_checksum(&datagram[..wire::IPV4_HEADER_LEN]);
    datagram[10..12].copy_from_slice(&sum.to_be_bytes());
}

pub(super) fn flag_letters(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (FIN, 'F'),
        (SYN, 'S'),
        (RST, 'R'),
        (PSH, 'P'),
        (URG, 'U'),
        (ECE, 'E'),
        (CWR, 'W'),
        (ACK, '.'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

pub(super) fn option_text(o: &OptionSpec) -> String {
    match o {
        OptionSpec::Nop => "nop".into(),
        OptionSpec::Eol => "eol".into(),
        OptionSpec::Mss(v) => format!("mss {v}"),
        OptionSpec::WindowScale(v) => format!("wscale {v}"),
        OptionSpec::SackPermitted => "sackOK".into(),
        OptionSpec::Timestamps { val, ecr } => format!("TS val {val} ecr {ecr}"),
        OptionSpec::FastOpen {
            cookie,
            experimental,
        } => {
            let name = if *experimental { "FOEXP" } else { "FO" };
            let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
            if hex.is_empty() {
                name.to_string()
            } else {
                format!("{name} {hex}")
            }
        }
        OptionSpec::Sack(blocks) => format!(
            "sack {}",
            blocks
                .iter()
                .map(|(l, r)| format!("{l}:{r}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}
