//! Pictures of one connection, as SVG drawn with `plotters`:
//! `tcpsim plot NAME|FILE.toml [--seed S] [--conn N] [--kind K] [--out FILE.svg]`.
//!
//! - [`Kind::Sequence`] (the default): a time-sequence graph in the style of
//!   tcptrace and Stevens (Wireshark's "Stevens" graph), seen at the data
//!   sender: each data segment a vertical bar from its first to its last
//!   sequence number at the time it left, retransmissions in red; the ACK
//!   line (the cumulative ACK as it arrived) and the receive-window line
//!   above it (ACK + the scaled window: how far the sender may go); SACK
//!   blocks as purple bars at the time their ACK arrived; segments dropped
//!   on a link marked with an X at the time and place they were lost (black
//!   for loss, queue overflow and link down, orange for a fault rule) and
//!   corrupted ones with a magenta triangle. Below it, a second panel of
//!   cwnd and ssthresh (bytes, left axis) and SRTT and RTO (milliseconds,
//!   right axis) over the same time, from [`crate::metrics`].
//! - [`Kind::Cwnd`]: cwnd, ssthresh and bytes in flight over time.
//! - [`Kind::Rtt`]: SRTT, RTTVAR and RTO over time, and the RTT samples the
//!   trace gives (a segment sent once and the first ACK that covers it:
//!   Karn's rule, RFC 6298 §3).
//! - [`Kind::Throughput`]: bytes sent (retransmissions included) and bytes
//!   newly acknowledged, per bin of 1/100 of the connection's lifetime, in
//!   Mbit/s.
//!
//! Sequence numbers are relative to the sender's ISN (the SYN is 0, the
//! first data byte 1), as Wireshark and the ladder show them. Connections
//! are numbered 0, 1, 2... in the order their first SYN left a host; a
//! 4-tuple reused with a new ISN is a new connection. The data sender is
//! the side that sent more payload (the side that opened, if neither did).
//!
//! Marks have stable colours ([`Mark`]): each data segment, retransmission,
//! SACK block, drop and corruption is one `<polyline>` of its colour, and
//! legend swatches are `<rect>`s, so a test (or a script) can count them.
//!
//! What it leaves out: no zooming (plot the whole connection); the window
//! line is not drawn above the top of the graph when the receive buffer is
//! far larger than what was sent (the caption says so).

use crate::analysis::{SegmentEvent, segments};
use crate::catalogue::Scenario;
use crate::cli::{OutFile, UsageError};
use crate::metrics::{Sample, Series};
use crate::run::Outcome;
use plotters::coord::Shift;
use plotters::prelude::*;
use sim::{DropReason, EventKind, NodeId};
use stack::SeqNum;
use std::io::Write;
use std::net::SocketAddrV4;
use std::path::Path;

/// What to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Kind {
    /// Time-sequence graph with a panel of cwnd, ssthresh, SRTT and RTO.
    #[default]
    Sequence,
    /// cwnd, ssthresh and bytes in flight.
    Cwnd,
    /// SRTT, RTTVAR, RTO and the trace's RTT samples.
    Rtt,
    /// Sent and acknowledged rate, Mbit/s.
    Throughput,
}

/// A kind of mark in the time-sequence graph and its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A data segment (or SYN, FIN) the first time its sequence space was sent.
    Data,
    /// A segment resending sequence space already sent.
    Retransmission,
    /// The cumulative ACK line.
    Ack,
    /// The receive-window line: ACK + scaled window.
    Window,
    /// A SACK block reported by an arriving ACK.
    Sack,
    /// A segment dropped by the network: random loss, a full queue, a link down.
    Drop,
    /// A segment dropped by a fault rule.
    FaultDrop,
    /// A segment whose bits a link or a fault rule flipped.
    Corruption,
}

impl Mark {
    /// Every kind of mark.
    pub const ALL: [Mark; 8] = [
        Mark::Data,
        Mark::Retransmission,
        Mark::Ack,
        Mark::Window,
        Mark::Sack,
        Mark::Drop,
        Mark::FaultDrop,
        Mark::Corruption,
    ];

    /// The mark's colour.
    pub fn color(self) -> RGBColor {
        match self {
            Mark::Data => RGBColor(0x1F, 0x3F, 0xBF),
            Mark::Retransmission => RGBColor(0xD6, 0x27, 0x28),
            Mark::Ack => RGBColor(0x2C, 0xA0, 0x2C),
            Mark::Window => RGBColor(0xC8, 0xA2, 0x00),
            Mark::Sack => RGBColor(0x94, 0x67, 0xBD),
            Mark::Drop => RGBColor(0x33, 0x33, 0x33),
            Mark::FaultDrop => RGBColor(0xFF, 0x7F, 0x0E),
            Mark::Corruption => RGBColor(0xE3, 0x37, 0xC2),
        }
    }

    /// The colour as the SVG writes it (`#1F3FBF`).
    pub fn svg_color(self) -> String {
        let RGBColor(r, g, b) = self.color();
        format!("#{r:02X}{g:02X}{b:02X}")
    }
}

/// A bad `--conn` (or a scenario with nothing to draw): one line for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

/// A connection as the trace shows it: its two ends and where its first SYN came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionKey {
    /// The end that sent the first SYN.
    pub opener: SocketAddrV4,
    /// The other end.
    pub peer: SocketAddrV4,
    /// The opener's ISN.
    pub opener_isn: SeqNum,
}

/// Every connection in the run, in the order its first SYN left a host.
pub fn connections(outcome: &Outcome) -> Vec<ConnectionKey> {
    assign(outcome, &segments(outcome.world.trace())).0
}

/// The connections, and for each segment the connection it belongs to.
fn assign(outcome: &Outcome, segs: &[SegmentEvent]) -> (Vec<ConnectionKey>, Vec<Option<usize>>) {
    let mut keys: Vec<ConnectionKey> = Vec::new();
    // Latest connection per unordered 4-tuple.
    let mut current: std::collections::BTreeMap<(SocketAddrV4, SocketAddrV4), usize> =
        Default::default();
    let mut owner = Vec::with_capacity(segs.len());
    for s in segs {
        let pair = if s.src < s.dst {
            (s.src, s.dst)
        } else {
            (s.dst, s.src)
        };
        let opening =
            s.kind == EventKind::Send && outcome.is_host(s.node) && s.flags.syn() && !s.flags.ack();
        if opening {
            let same = current
                .get(&pair)
                .is_some_and(|&i| keys[i].opener == s.src && keys[i].opener_isn == s.seq);
            if !same {
                current.insert(pair, keys.len());
                keys.push(ConnectionKey {
                    opener: s.src,
                    peer: s.dst,
                    opener_isn: s.seq,
                });
            }
        }
        owner.push(current.get(&pair).copied());
    }
    (keys, owner)
}

/// One data segment (or SYN, FIN) as it left the sender.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataMark {
    /// Seconds of virtual time.
    pub time: f64,
    /// Relative sequence numbers: the first and one past the last.
    pub from: u64,
    /// One past the last relative sequence number.
    pub to: u64,
    /// Whether the segment repeats sequence space already sent.
    pub retransmission: bool,
}

/// An ACK as it reached the sender.
#[derive(Clone, Debug, PartialEq)]
pub struct AckMark {
    /// Seconds of virtual time.
    pub time: f64,
    /// Relative ACK number.
    pub ack: u64,
    /// ACK + the window, scaled (RFC 7323 §2.3).
    pub window_edge: u64,
    /// SACK blocks, relative `[left, right)`.
    pub sacks: Vec<(u64, u64)>,
}

/// A segment of this connection lost or damaged on a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossMark {
    /// Seconds of virtual time.
    pub time: f64,
    /// Where in sequence space: a data segment's last sequence number, an
    /// ACK's ACK number.
    pub at: u64,
    /// What happened to it.
    pub mark: Mark,
}

/// What the pictures of one connection are made of.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// The connection's position in [`connections`] (`--conn N`).
    pub index: usize,
    /// The connection's two ends.
    pub key: ConnectionKey,
    /// The end that sent the data, and the host it is on.
    pub sender: SocketAddrV4,
    /// The end that received the data.
    pub receiver: SocketAddrV4,
    /// The sender's host node.
    pub sender_node: NodeId,
    /// The sender's host name.
    pub sender_name: String,
    /// The receiver's host name.
    pub receiver_name: String,
    /// Data segments as they left the sender, in time order.
    pub data: Vec<DataMark>,
    /// ACKs as they reached the sender, in time order.
    pub acks: Vec<AckMark>,
    /// This connection's segments lost or damaged on a link, in time order.
    pub losses: Vec<LossMark>,
    /// The sender's metrics rows (empty if recording was off).
    pub series: Vec<Sample>,
    /// RTT samples from the trace (Karn's rule), seconds at the ACK, milliseconds.
    pub rtt_samples: Vec<(f64, f64)>,
    /// First and last time anything of the connection was seen.
    pub span: (f64, f64),
}

fn seconds(t: sim::Time) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// The packet a Corrupt event damaged, as it was before: the event
/// records the bytes after the flips and the flipped bit positions
/// (`0x80 >> (bit % 8)` of byte `bit / 8`), so flipping them back gives
/// the original, which parses.
fn uncorrupted(bytes: &[u8], bits: &[u32]) -> Option<(SocketAddrV4, SocketAddrV4, SeqNum, u32)> {
    let mut original = bytes.to_vec();
    for &bit in bits {
        *original.get_mut((bit / 8) as usize)? ^= 0x80 >> (bit % 8);
    }
    let (pair, repr) = stack::wire::parse_datagram(&original).ok()?;
    Some((
        SocketAddrV4::new(pair.src, repr.src_port),
        SocketAddrV4::new(pair.dst, repr.dst_port),
        repr.seq,
        repr.payload.len() as u32,
    ))
}

/// Gathers connection `index` of the run (see [`connections`]).
pub fn conversation(outcome: &Outcome, index: usize) -> Result<Conversation, PlotError> {
    let segs = segments(outcome.world.trace());
    let (keys, owner) = assign(outcome, &segs);
    let key = match keys.get(index) {
        Some(&k) => k,
        None if keys.is_empty() => {
            return Err(PlotError("the run has no TCP connection to plot".into()));
        }
        None => {
            let n = keys.len();
            let range = if n == 1 {
                "--conn 0".to_string()
            } else {
                format!("--conn 0 to {}", n - 1)
            };
            return Err(PlotError(format!(
                "no connection {index}: the run has {n} connection{} ({range})",
                if n == 1 { "" } else { "s" }
            )));
        }
    };
    let mine: Vec<&SegmentEvent> = segs
        .iter()
        .zip(&owner)
        .filter(|(_, o)| **o == Some(index))
        .map(|(s, _)| s)
        .collect();
    // The data sender: more payload sent by a host.
    let payload_from = |from: SocketAddrV4| -> u64 {
        mine.iter()
            .filter(|s| s.kind == EventKind::Send && outcome.is_host(s.node) && s.src == from)
            .map(|s| u64::from(s.payload_len))
            .sum()
    };
    let (sender, receiver) = if payload_from(key.peer) > payload_from(key.opener) {
        (key.peer, key.opener)
    } else {
        (key.opener, key.peer)
    };
    let sender_node = outcome
        .node_of_addr(*sender.ip())
        .ok_or_else(|| PlotError(format!("no host has the sender's address {sender}")))?;
    let receiver_name = outcome
        .node_of_addr(*receiver.ip())
        .map_or_else(|| receiver.ip().to_string(), |n| outcome.node_name(n));
    // ISNs and window scaling from the SYNs each side sent.
    let syn_of = |from: SocketAddrV4| {
        mine.iter()
            .find(|s| s.kind == EventKind::Send && s.src == from && s.flags.syn())
            .copied()
    };
    let sender_syn = syn_of(sender);
    let receiver_syn = syn_of(receiver);
    let isn = sender_syn.map_or(key.opener_isn, |s| s.seq);
    // RFC 7323 §2.2: scaling applies only if both SYNs carried the option;
    // the receiver's windows are shifted by the count it sent.
    let receiver_shift = match (
        sender_syn.and_then(|s| s.options.window_scale),
        receiver_syn.and_then(|s| s.options.window_scale),
    ) {
        (Some(_), Some(shift)) => shift.min(14),
        _ => 0,
    };
    let relative = |seq: SeqNum| u64::from(seq.since(isn));
    let mut data = Vec::new();
    let mut acks = Vec::new();
    let mut losses = Vec::new();
    let mut first = f64::INFINITY;
    let mut last: f64 = 0.0;
    for s in &mine {
        let time = seconds(s.time);
        first = first.min(time);
        last = last.max(time);
        let forward = s.src == sender;
        match &s.kind {
            EventKind::Send if forward && s.node == sender_node && s.seq_len() > 0 => {
                data.push(DataMark {
                    time,
                    from: relative(s.seq),
                    to: relative(s.seq) + u64::from(s.seq_len()),
                    retransmission: s.retransmission,
                });
            }
            EventKind::Deliver if !forward && s.node == sender_node && s.flags.ack() => {
                let ack = relative(s.ack);
                let window = if s.flags.syn() {
                    u64::from(s.window)
                } else {
                    u64::from(s.window) << receiver_shift
                };
                let sacks = s
                    .options
                    .sack()
                    .iter()
                    .map(|b| (relative(b.left), relative(b.right)))
                    .filter(|(l, r)| l < r)
                    .collect();
                acks.push(AckMark {
                    time,
                    ack,
                    window_edge: ack + window,
                    sacks,
                });
            }
            EventKind::Drop(reason) => {
                let at = if forward {
                    relative(s.seq) + u64::from(s.seq_len())
                } else {
                    relative(s.ack)
                };
                let mark = match reason {
                    DropReason::FaultRule(_) => Mark::FaultDrop,
                    _ => Mark::Drop,
                };
                losses.push(LossMark { time, at, mark });
            }
            _ => {}
        }
    }
    // Corrupted packets no longer parse, so `segments` skips them: undo
    // the flips to see which segment it was.
    for e in outcome.world.trace().events() {
        let EventKind::Corrupt(bits) = &e.kind else {
            continue;
        };
        let Some((src, dst, seq, payload)) = uncorrupted(&e.bytes, bits) else {
            continue;
        };
        let ours = (src, dst) == (sender, receiver) || (src, dst) == (receiver, sender);
        let time = seconds(e.time);
        if ours && time >= first && time <= last {
            let at = if src == sender {
                relative(seq) + u64::from(payload)
            } else {
                mine.iter()
                    .rev()
                    .find(|s| s.src == receiver && seconds(s.time) <= time)
                    .map_or(0, |s| relative(s.ack))
            };
            losses.push(LossMark {
                time,
                at,
                mark: Mark::Corruption,
            });
        }
    }
    let series = outcome
        .hosts
        .iter()
        .find(|h| h.node == sender_node)
        .and_then(|h| h.host(&outcome.world))
        .and_then(|h| h.metrics())
        .and_then(|m| {
            m.series()
                .find(|s| s.local == sender && s.remote == receiver && first_iss(s) == Some(isn))
        })
        .map(|s| s.samples.clone())
        .unwrap_or_default();
    let rtt_samples = karn_samples(&data, &acks);
    if !first.is_finite() {
        first = 0.0;
    }
    Ok(Conversation {
        index,
        key,
        sender,
        receiver,
        sender_node,
        sender_name: outcome.node_name(sender_node),
        receiver_name,
        data,
        acks,
        losses,
        series,
        rtt_samples,
        span: (first, last.max(first)),
    })
}

fn first_iss(series: &Series) -> Option<SeqNum> {
    series.samples.first().map(|s| s.info.iss)
}

/// RFC 6298 §3 (Karn): a segment sent once, and the first ACK that covers
/// its end, give one RTT sample. Returns (ACK time in s, RTT in ms).
fn karn_samples(data: &[DataMark], acks: &[AckMark]) -> Vec<(f64, f64)> {
    let mut sent: std::collections::BTreeMap<u64, (f64, bool)> = Default::default();
    for d in data {
        sent.entry(d.to)
            .and_modify(|e| e.1 = true)
            .or_insert((d.time, d.retransmission));
    }
    // A range resent at all taints every segment inside it.
    for d in data.iter().filter(|d| d.retransmission) {
        for (_, e) in sent.range_mut(d.from + 1..=d.to) {
            e.1 = true;
        }
    }
    let mut out = Vec::new();
    let mut highest = 0;
    for a in acks {
        if a.ack <= highest {
            continue;
        }
        // The newest segment this ACK covers that was not resent.
        if let Some((_, &(at, tainted))) = sent.range(highest + 1..=a.ack).next_back()
            && !tainted
            && a.time >= at
        {
            out.push((a.time, (a.time - at) * 1e3));
        }
        highest = a.ack;
    }
    out
}

/// `1448`, `64 kB`, `1.2 MB`: sizes on an axis.
fn bytes_label(v: f64) -> String {
    let v = v.max(0.0);
    if v >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0} kB", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// How many labels a byte axis up to `top` gets: ten, fewer when the
/// range is a few bytes (a tick between two whole bytes says nothing).
fn byte_ticks(top: f64) -> usize {
    (top.floor() as usize + 1).clamp(2, 10)
}

fn seconds_label(v: f64) -> String {
    format!("{v:.3}")
}

/// The step line of `value` over the rows, from the first row to `end`.
fn steps(
    rows: &[Sample],
    end: f64,
    value: impl Fn(&Sample) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let t = seconds(row.time);
        if t > end {
            break;
        }
        let next = rows.get(i + 1).map_or(end, |r| seconds(r.time).min(end));
        match value(row) {
            Some(v) => {
                if let Some(&(_, prev)) = run.last()
                    && prev != v
                {
                    run.push((t, v));
                }
                if run.is_empty() {
                    run.push((t, v));
                }
                run.push((next, v));
            }
            None => {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

type DrawResult<T> = Result<T, PlotError>;

fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError(format!("cannot draw: {e}"))
}

/// Width and height of the SVG, in pixels.
pub const SIZE: (u32, u32) = (1200, 820);

/// The SVG of `kind` for `conversation`; `title` heads it.
pub fn svg(conversation: &Conversation, kind: Kind, title: &str) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let root = root
            .titled(title, ("sans-serif", 20).into_font().color(&BLACK))
            .map_err(drawing)?;
        match kind {
            Kind::Sequence => {
                let (top, bottom) = root.split_vertically(SIZE.1 * 62 / 100);
                sequence_panel(&top, conversation)?;
                internals_panel(&bottom, conversation)?;
            }
            Kind::Cwnd => cwnd_panel(&root, conversation)?,
            Kind::Rtt => rtt_panel(&root, conversation)?,
            Kind::Throughput => throughput_panel(&root, conversation)?,
        }
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

fn x_range(c: &Conversation) -> std::ops::Range<f64> {
    let (a, b) = c.span;
    let pad = ((b - a) * 0.02).max(1e-4);
    (a - pad).max(0.0)..b + pad
}

fn swatch(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
}

/// The colours of the lines in the panels of TCP internals (none is a [`Mark`]'s).
mod line {
    use plotters::style::RGBColor;
    pub const CWND: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    pub const SSTHRESH: RGBColor = RGBColor(0x8C, 0x56, 0x4B);
    pub const IN_FLIGHT: RGBColor = RGBColor(0x99, 0x99, 0x99);
    pub const SRTT: RGBColor = RGBColor(0x00, 0x9E, 0x73);
    pub const RTTVAR: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
    pub const RTO: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
    pub const RTT_SAMPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
    pub const SENT: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
    pub const ACKED: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    pub const PIPE: RGBColor = RGBColor(0x6A, 0x3D, 0x9A);
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A line in pieces (it is not drawn where its value is unknown).
type Runs = Vec<Vec<(f64, f64)>>;

/// One line of a panel: its pieces, colour and legend label.
struct Line {
    runs: Runs,
    color: RGBColor,
    label: String,
}

impl Line {
    fn new(runs: Runs, color: RGBColor, label: &str) -> Line {
        Line {
            runs,
            color,
            label: label.to_string(),
        }
    }
}

/// Room for the right-hand axis (milliseconds) of the lower panel.
const RIGHT_AXIS: u32 = 60;

/// The span of milliseconds the runs cover, widened to whole decades for a
/// log axis (at least 0.1 ms, so a zero never reaches the logarithm).
fn ms_range(runs: &[&Vec<Vec<(f64, f64)>>]) -> (f64, f64) {
    let values = || runs.iter().flat_map(|r| r.iter().flatten()).map(|p| p.1);
    let low = values().fold(f64::INFINITY, f64::min).max(0.1);
    let high = values().fold(0.0, f64::max).max(low * 10.0);
    // Half the lowest value, so a line at a decade's foot (a 10 ms SRTT)
    // stays clear of the axis.
    let low = 10f64.powf((low / 2.0).log10().floor());
    let high = 10f64.powf(high.log10().ceil());
    (low, high)
}

fn ms_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Splits a line where it goes above `top` (the part above is not drawn).
fn below(points: &[(f64, f64)], top: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for &p in points {
        if p.1 <= top {
            run.push(p);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn legend_box<'a>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
) -> DrawResult<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(drawing)
}

fn sequence_panel(area: &Area<'_>, c: &Conversation) -> DrawResult<()> {
    let data_top = c
        .data
        .iter()
        .map(|d| d.to)
        .chain(c.acks.iter().map(|a| a.ack))
        .chain(c.acks.iter().flat_map(|a| a.sacks.iter().map(|s| s.1)))
        .max()
        .unwrap_or(1) as f64;
    let window_top = c.acks.iter().map(|a| a.window_edge).max().unwrap_or(0) as f64;
    // A receive buffer far larger than the data would squash the graph:
    // then the window line stops at the top.
    let window_clipped = window_top > data_top * 1.6;
    let top = if window_clipped {
        data_top * 1.05
    } else {
        window_top.max(data_top) * 1.03
    }
    .max(1.0);
    // No axis on the right, but the same room, so the time axis lines up
    // with the panel below.
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(12 + RIGHT_AXIS)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(c), 0f64..top)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("relative sequence number (bytes)")
        .x_label_formatter(&|x| seconds_label(*x))
        .y_label_formatter(&|y| bytes_label(*y))
        .y_labels(byte_ticks(top))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(drawing)?;

    // The window line, then the ACK line: step lines, as the sender saw them.
    let mut window = Vec::new();
    let mut ack_line = Vec::new();
    for a in &c.acks {
        if let Some(&(_, w)) = window.last() {
            window.push((a.time, w));
        }
        window.push((a.time, a.window_edge as f64));
        if let Some(&(_, k)) = ack_line.last() {
            ack_line.push((a.time, k));
        }
        ack_line.push((a.time, a.ack as f64));
    }
    let end = c.span.1;
    if let Some(&(_, w)) = window.last() {
        window.push((end, w));
    }
    if let Some(&(_, k)) = ack_line.last() {
        ack_line.push((end, k));
    }
    let window_runs = below(&window, top);
    if !window_runs.is_empty() {
        chart
            .draw_series(
                window_runs
                    .into_iter()
                    .map(|r| PathElement::new(r, Mark::Window.color().stroke_width(1))),
            )
            .map_err(drawing)?
            .label(if window_clipped {
                format!(
                    "receive window (ACK + window; above the top, up to {})",
                    bytes_label(window_top)
                )
            } else {
                "receive window (ACK + window)".to_string()
            })
            .legend(swatch(Mark::Window.color()));
    }
    if !ack_line.is_empty() {
        chart
            .draw_series(std::iter::once(PathElement::new(
                ack_line,
                Mark::Ack.color().stroke_width(1),
            )))
            .map_err(drawing)?
            .label("ACK (cumulative, at the sender)")
            .legend(swatch(Mark::Ack.color()));
    }
    let sacks: Vec<(f64, u64, u64)> = c
        .acks
        .iter()
        .flat_map(|a| a.sacks.iter().map(move |&(l, r)| (a.time, l, r)))
        .collect();
    if !sacks.is_empty() {
        let n = sacks.len();
        chart
            .draw_series(sacks.into_iter().map(|(t, l, r)| {
                PathElement::new(
                    vec![(t, l as f64), (t, r as f64)],
                    Mark::Sack.color().stroke_width(1),
                )
            }))
            .map_err(drawing)?
            .label(format!("SACK block ({n})"))
            .legend(swatch(Mark::Sack.color()));
    }
    for (mark, label) in [
        (Mark::Data, "data segment"),
        (Mark::Retransmission, "retransmission"),
    ] {
        let bars: Vec<&DataMark> = c
            .data
            .iter()
            .filter(|d| d.retransmission == (mark == Mark::Retransmission))
            .collect();
        if bars.is_empty() {
            continue;
        }
        let n = bars.len();
        let width = if mark == Mark::Retransmission { 3 } else { 2 };
        chart
            .draw_series(bars.iter().map(|d| {
                PathElement::new(
                    vec![(d.time, d.from as f64), (d.time, d.to as f64)],
                    mark.color().stroke_width(width),
                )
            }))
            .map_err(drawing)?
            .label(format!("{label} ({n})"))
            .legend(swatch(mark.color()));
        if mark == Mark::Retransmission {
            // A ring around each, so a single one shows at any zoom (a
            // `<circle>`, not counted as a bar).
            chart
                .draw_series(
                    bars.iter().map(|d| {
                        Circle::new((d.time, d.to as f64), 5, mark.color().stroke_width(1))
                    }),
                )
                .map_err(drawing)?;
        }
    }
    for (mark, label) in [
        (Mark::Drop, "dropped: loss, queue full, link down"),
        (Mark::FaultDrop, "dropped by a fault rule"),
        (Mark::Corruption, "corrupted"),
    ] {
        let marks: Vec<&LossMark> = c.losses.iter().filter(|l| l.mark == mark).collect();
        if marks.is_empty() {
            continue;
        }
        let n = marks.len();
        let shape: Vec<(i32, i32)> = if mark == Mark::Corruption {
            vec![(0, -7), (6, 4), (-6, 4), (0, -7)]
        } else {
            vec![(-5, -5), (5, 5), (0, 0), (-5, 5), (5, -5)]
        };
        chart
            .draw_series(marks.into_iter().map(|l| {
                EmptyElement::at((l.time, l.at as f64))
                    + PathElement::new(shape.clone(), mark.color().stroke_width(2))
            }))
            .map_err(drawing)?
            .label(format!("{label} ({n})"))
            .legend(swatch(mark.color()));
    }
    legend_box(&mut chart)
}

fn ms(d: stack::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

fn no_metrics(area: &Area<'_>) -> DrawResult<()> {
    area.draw(&Text::new(
        "no TCP internals recorded for this connection",
        (80, 40),
        ("sans-serif", 16),
    ))
    .map_err(drawing)
}

/// cwnd and ssthresh (bytes, left) with SRTT and RTO (ms, right).
fn internals_panel(area: &Area<'_>, c: &Conversation) -> DrawResult<()> {
    if c.series.is_empty() {
        return no_metrics(area);
    }
    let end = c.span.1;
    let rows = &c.series;
    let cwnd = steps(rows, end, |r| Some(f64::from(r.info.snd_cwnd)));
    let ssthresh = steps(rows, end, |r| r.info.ssthresh_set().map(f64::from));
    let srtt = steps(rows, end, |r| r.info.srtt.map(ms));
    let rto = steps(rows, end, |r| Some(ms(r.info.rto)));
    let top = |runs: &[Vec<(f64, f64)>]| runs.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    let bytes_top = top(&cwnd).max(top(&ssthresh)).max(1.0) * 1.1;
    // Milliseconds on a log scale: a 10 ms SRTT stays readable beside a
    // 200 ms-floored RTO and a backed-off one of seconds.
    let (ms_bottom, ms_top) = ms_range(&[&srtt, &rto]);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .right_y_label_area_size(RIGHT_AXIS)
        .build_cartesian_2d(x_range(c), 0f64..bytes_top)
        .map_err(drawing)?
        .set_secondary_coord(x_range(c), (ms_bottom..ms_top).log_scale());
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("cwnd, ssthresh (bytes)")
        .x_label_formatter(&|x| seconds_label(*x))
        .y_label_formatter(&|y| bytes_label(*y))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(drawing)?;
    chart
        .configure_secondary_axes()
        .y_desc("SRTT, RTO (ms, log scale)")
        .y_label_formatter(&|y| ms_label(*y))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(drawing)?;
    for (runs, color, label) in [
        (cwnd, line::CWND, "cwnd"),
        (ssthresh, line::SSTHRESH, "ssthresh"),
    ] {
        if runs.is_empty() {
            continue;
        }
        chart
            .draw_series(
                runs.into_iter()
                    .map(|r| PathElement::new(r, color.stroke_width(2))),
            )
            .map_err(drawing)?
            .label(format!("{label} (bytes, left)"))
            .legend(swatch(color));
    }
    for (runs, color, label) in [(srtt, line::SRTT, "SRTT"), (rto, line::RTO, "RTO")] {
        if runs.is_empty() {
            continue;
        }
        chart
            .draw_secondary_series(
                runs.into_iter()
                    .map(|r| PathElement::new(r, color.stroke_width(2))),
            )
            .map_err(drawing)?
            .label(format!("{label} (ms, right)"))
            .legend(swatch(color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(drawing)
}

/// One panel of lines over the connection's time, `unit` on the y axis.
fn lines_panel(
    area: &Area<'_>,
    c: &Conversation,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
    lines: Vec<Line>,
) -> DrawResult<()> {
    let top = lines
        .iter()
        .flat_map(|l| l.runs.iter().flatten())
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(c), 0f64..top)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .x_label_formatter(&|x| seconds_label(*x))
        .y_label_formatter(y_label)
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(drawing)?;
    for Line { runs, color, label } in lines {
        if runs.is_empty() {
            continue;
        }
        chart
            .draw_series(
                runs.into_iter()
                    .map(|r| PathElement::new(r, color.stroke_width(2))),
            )
            .map_err(drawing)?
            .label(label)
            .legend(swatch(color));
    }
    legend_box(&mut chart)
}

fn cwnd_panel(area: &Area<'_>, c: &Conversation) -> DrawResult<()> {
    if c.series.is_empty() {
        return no_metrics(area);
    }
    let end = c.span.1;
    let rows = &c.series;
    lines_panel(
        area,
        c,
        "bytes",
        &|y| bytes_label(*y),
        vec![
            Line::new(
                steps(rows, end, |r| Some(f64::from(r.info.bytes_in_flight))),
                line::IN_FLIGHT,
                "bytes in flight (FlightSize)",
            ),
            Line::new(
                steps(rows, end, |r| Some(f64::from(r.info.snd_cwnd))),
                line::CWND,
                "cwnd",
            ),
            Line::new(
                steps(rows, end, |r| r.info.ssthresh_set().map(f64::from)),
                line::SSTHRESH,
                "ssthresh",
            ),
            Line::new(
                steps(rows, end, |r| r.info.pipe.map(f64::from)),
                line::PIPE,
                "pipe (RFC 6675, during SACK recovery)",
            ),
        ],
    )
}

fn rtt_panel(area: &Area<'_>, c: &Conversation) -> DrawResult<()> {
    if c.series.is_empty() {
        return no_metrics(area);
    }
    let end = c.span.1;
    let rows = &c.series;
    let lines = [
        (steps(rows, end, |r| Some(ms(r.info.rto))), line::RTO, "RTO"),
        (
            steps(rows, end, |r| r.info.srtt.map(ms)),
            line::SRTT,
            "SRTT",
        ),
        (
            steps(rows, end, |r| r.info.srtt.map(|_| ms(r.info.rttvar))),
            line::RTTVAR,
            "RTTVAR",
        ),
    ];
    let samples = vec![c.rtt_samples.clone()];
    let (bottom, top) = ms_range(&[&lines[0].0, &lines[1].0, &lines[2].0, &samples]);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(c), (bottom..top).log_scale())
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("milliseconds (log scale)")
        .x_label_formatter(&|x| seconds_label(*x))
        .y_label_formatter(&|y| ms_label(*y))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(drawing)?;
    for (runs, color, label) in lines {
        if runs.is_empty() {
            continue;
        }
        chart
            .draw_series(
                runs.into_iter()
                    .map(|r| PathElement::new(r, color.stroke_width(2))),
            )
            .map_err(drawing)?
            .label(label)
            .legend(swatch(color));
    }
    if !c.rtt_samples.is_empty() {
        chart
            .draw_series(
                c.rtt_samples
                    .iter()
                    .map(|&at| Circle::new((at.0, at.1.max(bottom)), 2, line::RTT_SAMPLE.filled())),
            )
            .map_err(drawing)?
            .label(format!(
                "RTT sample from the trace, Karn's rule ({})",
                c.rtt_samples.len()
            ))
            .legend(swatch(line::RTT_SAMPLE));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(drawing)
}

fn throughput_panel(area: &Area<'_>, c: &Conversation) -> DrawResult<()> {
    const BINS: usize = 100;
    let (start, end) = c.span;
    let width = ((end - start) / BINS as f64).max(1e-6);
    let bin = |t: f64| (((t - start) / width) as usize).min(BINS - 1);
    let mut sent = [0u64; BINS];
    let mut acked = [0u64; BINS];
    for d in &c.data {
        sent[bin(d.time)] += d.to - d.from;
    }
    let mut highest = c.acks.first().map_or(0, |a| a.ack);
    for a in &c.acks {
        if a.ack > highest {
            acked[bin(a.time)] += a.ack - highest;
            highest = a.ack;
        }
    }
    let rate = |bytes: &[u64; BINS]| -> Vec<Vec<(f64, f64)>> {
        let mut line = Vec::with_capacity(2 * BINS);
        for (i, &b) in bytes.iter().enumerate() {
            let mbit = b as f64 * 8.0 / width / 1e6;
            let t = start + i as f64 * width;
            line.push((t, mbit));
            line.push((t + width, mbit));
        }
        vec![line]
    };
    lines_panel(
        area,
        c,
        &format!("Mbit/s (bins of {:.1} ms)", width * 1e3),
        &|y| format!("{y:.1}"),
        vec![
            Line::new(rate(&sent), line::SENT, "sent, retransmissions included"),
            Line::new(rate(&acked), line::ACKED, "newly acknowledged (goodput)"),
        ],
    )
}

/// `tcpsim plot`: runs `scenario` at `seed` with metrics recording on, draws
/// connection `conn` as `kind`, and writes the SVG to `path` (through
/// [`OutFile`], so an existing file is never left truncated) or to `out`.
/// A line on standard error says what was drawn. Returns whether the run
/// passed; a connection that does not exist is a usage error.
pub fn command(
    scenario: &Scenario,
    seed: u64,
    conn: usize,
    kind: Kind,
    path: Option<&Path>,
    out: &mut impl Write,
) -> Result<bool, UsageError> {
    let target = path.map(OutFile::check).transpose()?;
    let options = crate::run::RunOptions { metrics: true };
    let outcome = match scenario.run_with(seed, &options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: seed {seed}, verdict FAIL: {e}", scenario.name);
            return Ok(false);
        }
    };
    let c =
        conversation(&outcome, conn).map_err(|e| UsageError(format!("{}: {e}", scenario.name)))?;
    let what = match kind {
        Kind::Sequence => "time-sequence graph",
        Kind::Cwnd => "congestion window",
        Kind::Rtt => "round-trip time and RTO",
        Kind::Throughput => "throughput",
    };
    let title = format!(
        "{}, seed {seed}, connection {conn}: {what}, data {} ({}) -> {} ({})",
        scenario.name, c.sender, c.sender_name, c.receiver, c.receiver_name
    );
    let svg = svg(&c, kind, &title).map_err(|e| UsageError(e.to_string()))?;
    match &target {
        Some(t) => t.write(svg.as_bytes())?,
        None => out
            .write_all(svg.as_bytes())
            .map_err(|e| UsageError(format!("cannot write to standard output: {e}")))?,
    }
    let count = |mark: Mark| c.losses.iter().filter(|l| l.mark == mark).count();
    let retransmissions = c.data.iter().filter(|d| d.retransmission).count();
    eprintln!(
        "{}: seed {seed}, connection {conn} {} -> {}: {} segments sent ({retransmissions} retransmissions), {} ACKs, {} dropped ({} by fault rules), {} corrupted; {} metrics rows; verdict {}{}",
        scenario.name,
        c.sender,
        c.receiver,
        c.data.len(),
        c.acks.len(),
        count(Mark::Drop) + count(Mark::FaultDrop),
        count(Mark::FaultDrop),
        count(Mark::Corruption),
        c.series.len(),
        outcome.verdict(),
        path.map_or(String::new(), |p| format!("; wrote {}", p.display())),
    );
    Ok(outcome.passed())
}
