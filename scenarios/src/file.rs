//! Scenario files: a scenario written in TOML instead of Rust, run by
//! `tcpsim run FILE.toml` and `tcpsim all DIR`.
//!
//! The format is documented, section by section with a complete example
//! each, in `docs/scenario-files.md`; the shipped examples are in
//! `scenarios/files/`. In short: `[[host]]` (name, address, `[host.tcp]`
//! settings, and either an `app` or a `[[host.schedule]]` of timed steps),
//! `[[link]]` (point-to-point, settings for both ways with per-direction
//! overrides), `[[router]]` (a star or a dumbbell from the `sim` builders),
//! `[[fault]]` (named rules matched on TCP flags), `[[event]]` (network
//! changes at times) and `[[expect]]` (what each host must have seen).
//!
//! Everything is checked when the file is loaded, before anything runs:
//! TOML syntax, unknown fields, values out of range, names that name
//! nothing, duplicate addresses, a host with no route to the peer it
//! connects to, a schedule step on a connection the host can never have.
//! Each is a [`FileError`] naming the file, the line and column, and the
//! field. A file is only ever read.

use crate::apps::{BulkSender, BulkSink, ChurnClient, EchoServer, RequestClient, RequestServer};
use crate::catalogue::Scenario;
use crate::host::{Action, Host};
use crate::run::{Outcome, Setup};
use rand_core::RngCore;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use sim::link::{Corruption, GilbertElliott, Jitter, LinkChange, Reorder};
use sim::topology::{DumbbellBuilder, Endpoint as Place, Spoke, StarBuilder};
use sim::{
    Addr, Duration, FaultAction, FaultRule, LinkConfig, NodeId, Packet, SimError, Time, World,
    WorldConfig,
};
use stack::wire::{self, Flags};
use stack::{SocketError, State, TcpConfig};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

// ===================================================================
// Errors
// ===================================================================

/// A scenario file that cannot run: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line and column of the offending text, when known.
    pub line: Option<usize>,
    /// 1-based column (with `line`).
    pub column: Option<usize>,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// `offset`, or the start of the character it falls in, within `text`.
fn boundary(text: &str, offset: usize) -> usize {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based (line, column) of byte `offset` in `text` (columns count characters).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The `[table]` header above `offset` and the key on its line, to name
/// the field an error is about: "[host.tcp] mss".
fn field_at(text: &str, offset: usize) -> String {
    let offset = boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_start_matches('{').trim())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.\"".contains(c))
        })
        .map(str::to_string);
    let table = text[..line_end]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.split('#').next().unwrap_or(l).trim().to_string());
    match (table, key) {
        (Some(t), Some(k)) => format!("{t} {k}"),
        (None, Some(k)) => k,
        (Some(t), None) => t,
        (None, None) => "top level".to_string(),
    }
}

struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error_at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> FileError {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_column(self.text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        FileError {
            file: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error about the field at `span`, named by its table and key.
    fn field_error(&self, span: Range<usize>, message: impl fmt::Display) -> FileError {
        let field = field_at(self.text, span.start);
        self.error_at(Some(span), format!("{field}: {message}"))
    }

    fn spanned<T>(&self, value: &Spanned<T>, message: impl fmt::Display) -> FileError {
        self.field_error(value.span(), message)
    }
}

// ===================================================================
// Values with units
// ===================================================================

/// A duration written with a unit: `"250ms"`, `"1.5s"`, `"100us"`, `"2min"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub u64);

/// Parses a number with a unit into an integer count of `scale` units
/// (exact: decimals are digits, not floats).
fn scaled(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut value: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    value = value.checked_mul(u128::from(scale))?;
    let mut unit = u128::from(scale);
    for d in frac.chars() {
        unit /= 10;
        if unit == 0 {
            return None;
        }
        value += u128::from(d.to_digit(10)?) * unit;
    }
    u64::try_from(value).ok()
}

/// A duration written as in scenario files ("250ms", "1.5s", "100us"),
/// for command-line options too.
pub fn parse_duration_text(text: &str) -> Result<Duration, String> {
    parse_duration(text).map(Dur::duration)
}

/// A virtual time written as in scenario files (`"250ms"`, `"1.5s"`), for
/// the CLI's `--at`.
pub fn parse_virtual_time(text: &str) -> Result<Time, String> {
    parse_duration(text).map(Dur::time)
}

fn parse_duration(text: &str) -> Result<Dur, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "" => {
            return Err(format!(
                "{text:?} has no unit: write e.g. \"250ms\" or \"2s\""
            ));
        }
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use ns, us, ms, s or min)"
            ));
        }
    };
    scaled(number, scale)
        .map(Dur)
        .ok_or_else(|| format!("{text:?} is not a duration such as \"250ms\" or \"1.5s\""))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(de::Error::custom)
    }
}

impl Dur {
    fn duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    fn time(self) -> Time {
        Time::from_nanos(self.0)
    }
    fn stack(self) -> stack::Duration {
        stack::Duration::from_nanos(self.0)
    }
}

/// A rate: `"100Mbit"`, `"1.5Gbit"`, `"64kbit"`, `"9600bit"` (bits per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub u64);

fn parse_rate(text: &str) -> Result<Rate, String> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "bit" | "bps" => 1,
        "kbit" | "kbps" => 1_000,
        "Mbit" | "Mbps" => 1_000_000,
        "Gbit" | "Gbps" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{text:?} is not a rate such as \"100Mbit\" (units bit, kbit, Mbit, Gbit)"
            ));
        }
    };
    match scaled(number, scale) {
        Some(0) => Err(format!("rate {text:?} must be above zero")),
        Some(r) => Ok(Rate(r)),
        None => Err(format!("{text:?} is not a rate such as \"100Mbit\"")),
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(d)?;
        parse_rate(&text).map_err(de::Error::custom)
    }
}

/// A probability in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prob(pub f64);

impl<'de> Deserialize<'de> for Prob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Prob, D::Error> {
        let p = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&p) {
            Ok(Prob(p))
        } else {
            Err(de::Error::custom(format!(
                "{p} is not a probability in [0, 1]"
            )))
        }
    }
}

/// A TCP state in RFC 9293's spelling: `"TIME-WAIT"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateName(pub State);

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StateName, D::Error> {
        let text = String::deserialize(d)?;
        State::ALL
            .iter()
            .find(|s| s.name().eq_ignore_ascii_case(&text))
            .map(|&s| StateName(s))
            .ok_or_else(|| {
                let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
                de::Error::custom(format!(
                    "unknown TCP state {text:?} (one of {})",
                    names.join(", ")
                ))
            })
    }
}

const ERRORS: [SocketError; 18] = [
    SocketError::WouldBlock,
    SocketError::ConnectionRefused,
    SocketError::ConnectionReset,
    SocketError::TimedOut,
    SocketError::ConnectionAborted,
    SocketError::NotConnected,
    SocketError::BrokenPipe,
    SocketError::AddressInUse,
    SocketError::AddressNotAvailable,
    SocketError::AlreadyConnected,
    SocketError::InvalidSocket,
    SocketError::NetworkUnreachable,
    SocketError::HostUnreachable,
    SocketError::HostDown,
    SocketError::ProtocolUnavailable,
    SocketError::NoNetwork,
    SocketError::NotSupported,
    SocketError::ProtocolError,
];

/// A socket error by its errno name: `"ECONNRESET"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorName(pub SocketError);

impl<'de> Deserialize<'de> for ErrorName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorName, D::Error> {
        let text = String::deserialize(d)?;
        ERRORS
            .iter()
            .find(|e| e.errno_name().eq_ignore_ascii_case(&text))
            .map(|&e| ErrorName(e))
            .ok_or_else(|| {
                let names: Vec<&str> = ERRORS.iter().map(|e| e.errno_name()).collect();
                de::Error::custom(format!(
                    "unknown error {text:?} (one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// TCP flags written as `"SYN,ACK"` (or `"none"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagSet(pub Flags);

impl<'de> Deserialize<'de> for FlagSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FlagSet, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(FlagSet(Flags::NONE));
        }
        let mut flags = Flags::NONE;
        for part in text.split([',', '|', ' ']).filter(|p| !p.is_empty()) {
            let flag = match part.to_ascii_uppercase().as_str() {
                "FIN" => Flags::FIN,
                "SYN" => Flags::SYN,
                "RST" => Flags::RST,
                "PSH" => Flags::PSH,
                "ACK" => Flags::ACK,
                "URG" => Flags::URG,
                "ECE" => Flags::ECE,
                "CWR" => Flags::CWR,
                _ => {
                    return Err(de::Error::custom(format!(
                        "unknown TCP flag {part:?} in {text:?} (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR)"
                    )));
                }
            };
            flags = Flags(flags.0 | flag.0);
        }
        Ok(FlagSet(flags))
    }
}

/// `window_scale = 7` or `window_scale = false`; `delayed_ack = "40ms"` or `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrOff<T> {
    /// Turned off (`false` in the file).
    Off,
    /// Turned on with this value.
    On(T),
}

struct OrOffVisitor<T>(std::marker::PhantomData<T>);

impl<'de> de::Visitor<'de> for OrOffVisitor<u8> {
    type Value = OrOff<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a shift from 0 to 14, or false")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        if v {
            Err(E::custom(
                "give the shift (0 to 14), or false to turn it off",
            ))
        } else {
            Ok(OrOff::Off)
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if (0..=14).contains(&v) {
            Ok(OrOff::On(v as u8))
        } else {
            Err(E::custom(format!(
                "window scale {v} is outside 0..=14 (RFC 7323 §2.3)"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for OrOff<u8> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrOffVisitor::<u8>(std::marker::PhantomData))
    }
}

impl<'de> de::Visitor<'de> for OrOffVisitor<Dur> {
    type Value = OrOff<Dur>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"40ms\", or false")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        if v {
            Err(E::custom("give the timeout (e.g. \"40ms\"), or false"))
        } else {
            Ok(OrOff::Off)
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_duration(v).map(OrOff::On).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for OrOff<Dur> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrOffVisitor::<Dur>(std::marker::PhantomData))
    }
}

// ===================================================================
// The file's shape
// ===================================================================

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: Option<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    doc: String,
    /// Run until this time (default 120 s: long enough for TIME-WAIT's 2·MSL).
    horizon: Option<Dur>,
    /// Skip the termination oracle (connections may be open at the end).
    #[serde(default)]
    open_at_end: bool,
    #[serde(default)]
    host: Vec<Spanned<HostSpec>>,
    #[serde(default)]
    link: Vec<Spanned<LinkSpec>>,
    #[serde(default)]
    router: Vec<Spanned<RouterSpec>>,
    #[serde(default)]
    fault: Vec<Spanned<FaultSpec>>,
    #[serde(default)]
    event: Vec<Spanned<EventSpec>>,
    #[serde(default)]
    expect: Vec<Spanned<ExpectSpec>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    name: Spanned<String>,
    addr: Spanned<Ipv4Addr>,
    #[serde(default)]
    tcp: TcpSpec,
    app: Option<Spanned<AppSpec>>,
    /// When the application starts (default: time zero).
    start_at: Option<Dur>,
    #[serde(default)]
    schedule: Vec<Spanned<StepSpec>>,
    /// Schedule only: close each connection once the peer's FIN is read.
    #[serde(default)]
    close_on_eof: bool,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct TcpSpec {
    /// Where the other fields start from: `rfc` (TcpConfig::default) or
    /// `linux` (TcpConfig::linux).
    profile: Option<ProfileSpec>,
    mss: Option<Spanned<u16>>,
    recv_buffer: Option<Spanned<usize>>,
    send_buffer: Option<Spanned<usize>>,
    window_scale: Option<OrOff<u8>>,
    timestamps: Option<bool>,
    sack: Option<bool>,
    nagle: Option<bool>,
    delayed_ack: Option<OrOff<Dur>>,
    congestion: Option<Congestion>,
    ecn: Option<EcnSpec>,
    keepalive: Option<Spanned<KeepaliveSpec>>,
    isn: Option<u32>,
    rfc1337: Option<bool>,
    syn_cookies: Option<bool>,
    rto_initial: Option<Spanned<Dur>>,
    rto_min: Option<Spanned<Dur>>,
    msl: Option<Dur>,
    syn_retries: Option<u32>,
    data_retries: Option<u32>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ProfileSpec {
    Rfc,
    Linux,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Congestion {
    Newreno,
    Cubic,
}

/// `ecn = "off" | "on" | "passive"` (RFC 3168; Linux's tcp_ecn 0, 1, 2).
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum EcnSpec {
    Off,
    On,
    Passive,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct KeepaliveSpec {
    idle: Dur,
    interval: Dur,
    probes: u32,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum AppSpec {
    BulkSender {
        to: String,
        bytes: u64,
        #[serde(default)]
        shutdown_only: bool,
    },
    BulkSink {
        port: u16,
    },
    Echo {
        port: u16,
    },
    RequestServer {
        port: u16,
        request: u64,
        response: u64,
    },
    RequestClient {
        to: String,
        request: u64,
        response: u64,
        count: u64,
        #[serde(default = "one")]
        concurrency: usize,
        think: Option<Dur>,
    },
    Churn {
        to: String,
        total: u64,
        open_max: usize,
        bytes_each: u64,
    },
}

fn one() -> usize {
    1
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum StepKind {
    Listen,
    Connect,
    Send,
    Shutdown,
    Close,
    Abort,
    PauseReading,
    ResumeReading,
    CloseListeners,
    Crash,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    at: Dur,
    #[serde(rename = "do")]
    kind: StepKind,
    port: Option<u16>,
    backlog: Option<usize>,
    reuse: Option<bool>,
    to: Option<Spanned<String>>,
    from_port: Option<u16>,
    conn: Option<Spanned<usize>>,
    bytes: Option<u64>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
struct DirSpec {
    rate: Option<Rate>,
    delay: Option<Dur>,
    queue_packets: Option<u32>,
    queue_bytes: Option<u64>,
    loss: Option<Prob>,
    gilbert_elliott: Option<GeSpec>,
    duplicate: Option<Prob>,
    reorder: Option<ReorderSpec>,
    jitter: Option<JitterSpec>,
    corruption: Option<CorruptionSpec>,
    down: Option<Vec<(Dur, Dur)>>,
    ecn_mark_threshold: Option<u32>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct GeSpec {
    good_to_bad: Prob,
    bad_to_good: Prob,
    loss_good: Prob,
    loss_bad: Prob,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct ReorderSpec {
    probability: Prob,
    extra_delay: Dur,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum JitterSpec {
    Uniform { min: Dur, max: Dur },
    Exponential { mean: Dur, max: Dur },
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct CorruptionSpec {
    probability: Prob,
    bits: u32,
}

impl DirSpec {
    /// `self`'s settings over `base`'s.
    fn over(&self, base: &DirSpec) -> DirSpec {
        DirSpec {
            rate: self.rate.or(base.rate),
            delay: self.delay.or(base.delay),
            queue_packets: self.queue_packets.or(base.queue_packets),
            queue_bytes: self.queue_bytes.or(base.queue_bytes),
            loss: self.loss.or(base.loss),
            gilbert_elliott: self.gilbert_elliott.or(base.gilbert_elliott),
            duplicate: self.duplicate.or(base.duplicate),
            reorder: self.reorder.or(base.reorder),
            jitter: self.jitter.or(base.jitter),
            corruption: self.corruption.or(base.corruption),
            down: self.down.clone().or_else(|| base.down.clone()),
            ecn_mark_threshold: self.ecn_mark_threshold.or(base.ecn_mark_threshold),
        }
    }

    fn config(&self) -> LinkConfig {
        let mut c = LinkConfig::default();
        if let Some(Rate(r)) = self.rate {
            c.rate_bps = r;
        }
        if let Some(d) = self.delay {
            c.delay = d.duration();
        }
        if let Some(q) = self.queue_packets {
            c.queue_packets_max = Some(q);
        }
        c.ecn_mark_threshold = self.ecn_mark_threshold;
        c.queue_bytes_max = self.queue_bytes.or(c.queue_bytes_max);
        c.loss = self.loss.map_or(0.0, |p| p.0);
        c.gilbert_elliott = self.gilbert_elliott.map(|g| GilbertElliott {
            good_to_bad: g.good_to_bad.0,
            bad_to_good: g.bad_to_good.0,
            loss_good: g.loss_good.0,
            loss_bad: g.loss_bad.0,
        });
        c.duplicate = self.duplicate.map_or(0.0, |p| p.0);
        c.reorder = self.reorder.map(|r| Reorder {
            probability: r.probability.0,
            extra_delay: r.extra_delay.duration(),
        });
        c.jitter = self.jitter.map(|j| match j {
            JitterSpec::Uniform { min, max } => Jitter::Uniform {
                min: min.duration(),
                max: max.duration(),
            },
            JitterSpec::Exponential { mean, max } => Jitter::Exponential {
                mean: mean.duration(),
                max: max.duration(),
            },
        });
        c.corruption = self.corruption.map(|k| Corruption {
            probability: k.probability.0,
            bits: k.bits,
        });
        c.down = self
            .down
            .iter()
            .flatten()
            .map(|&(a, b)| (a.time(), b.time()))
            .collect();
        c
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    /// Default `A-B`.
    name: Option<String>,
    a: Spanned<String>,
    b: Spanned<String>,
    #[serde(default)]
    both: DirSpec,
    #[serde(default)]
    a_to_b: DirSpec,
    #[serde(default)]
    b_to_a: DirSpec,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
struct SpokeSpec {
    #[serde(default)]
    both: DirSpec,
    #[serde(default)]
    up: DirSpec,
    #[serde(default)]
    down: DirSpec,
}

impl SpokeSpec {
    fn spoke(&self, base: &SpokeSpec) -> Spoke {
        let both = self.both.over(&base.both);
        Spoke {
            up: self.up.over(&base.up).over(&both).config(),
            down: self.down.over(&base.down).over(&both).config(),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RouterKind {
    Star,
    Dumbbell,
}

/// A star (`name`, `addr`, `leaves`, `spoke`, `spokes`) or a dumbbell
/// (`left`, `right`, `senders`, `receivers`, `access`, `accesses`,
/// `bottleneck`, `bottleneck_reverse`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RouterSpec {
    kind: RouterKind,
    name: Option<String>,
    addr: Option<Spanned<Ipv4Addr>>,
    leaves: Option<Vec<Spanned<String>>>,
    spoke: Option<SpokeSpec>,
    /// Per-leaf spoke overrides, by leaf name.
    spokes: Option<BTreeMap<String, Spanned<SpokeSpec>>>,
    left: Option<RouterName>,
    right: Option<RouterName>,
    senders: Option<Vec<Spanned<String>>>,
    receivers: Option<Vec<Spanned<String>>>,
    access: Option<SpokeSpec>,
    /// Per-host access overrides, by host name.
    accesses: Option<BTreeMap<String, Spanned<SpokeSpec>>>,
    bottleneck: Option<DirSpec>,
    /// Right to left (default: as `bottleneck`).
    bottleneck_reverse: Option<DirSpec>,
}

fn hub_name() -> String {
    "hub".into()
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct RouterName {
    name: String,
    addr: Spanned<Ipv4Addr>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ActionKind {
    Drop,
    Delay,
    Duplicate,
    Corrupt,
    Pass,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Payload {
    Empty,
    Data,
    Any,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    name: String,
    /// The link by name (`client-server`, `spoke-phone`, `bottleneck`).
    link: Spanned<String>,
    /// `"A->B"` with the link's two ends, or `"both"`.
    direction: Spanned<String>,
    /// Exactly these flags (`"ACK"` is a segment with ACK alone).
    flags: Option<FlagSet>,
    /// At least these flags.
    has_flags: Option<FlagSet>,
    #[serde(default = "any_payload")]
    payload: Payload,
    nth: Option<u64>,
    active_from: Option<Dur>,
    active_until: Option<Dur>,
    action: ActionKind,
    /// Delay or duplicate: how long.
    by: Option<Dur>,
    /// Corrupt: bits to flip.
    bits: Option<u32>,
    /// Network changes to make when the rule fires.
    #[serde(default)]
    then: Vec<Spanned<ChangeSpec>>,
}

fn any_payload() -> Payload {
    Payload::Any
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum ChangeKind {
    Partition,
    Repair,
    Hold,
    Release,
    SetRate,
    SetDelay,
    SetLoss,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ChangeSpec {
    link: Spanned<String>,
    #[serde(default = "both_ways")]
    direction: Spanned<String>,
    change: ChangeKind,
    rate: Option<Rate>,
    delay: Option<Dur>,
    loss: Option<Prob>,
}

fn both_ways() -> Spanned<String> {
    Spanned::new(0..0, "both".into())
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    at: Dur,
    link: Spanned<String>,
    #[serde(default = "both_ways")]
    direction: Spanned<String>,
    change: ChangeKind,
    rate: Option<Rate>,
    delay: Option<Dur>,
    loss: Option<Prob>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    host: Spanned<String>,
    /// Each state was entered at some point.
    #[serde(default)]
    visits: Vec<StateName>,
    /// These states were entered in this order (others may come between).
    #[serde(default)]
    sequence: Vec<StateName>,
    /// None of these was ever entered.
    #[serde(default)]
    never: Vec<StateName>,
    /// The last state entered.
    ends_in: Option<StateName>,
    /// Bytes the host's applications read, over all connections.
    bytes_received: Option<u64>,
    /// Bytes the host's applications wrote (accepted by TCP).
    bytes_sent: Option<u64>,
    /// Each error was reported on some connection.
    #[serde(default)]
    errors: Vec<ErrorName>,
    /// No connection ended with an error.
    no_errors: Option<bool>,
    retransmissions_at_least: Option<usize>,
    retransmissions_at_most: Option<usize>,
    /// Segments sent with at least these flags, bounded below and above.
    sent_with: Option<FlagSet>,
    sent_at_least: Option<usize>,
    sent_at_most: Option<usize>,
}

// ===================================================================
// Checked form
// ===================================================================

/// Where a host sits and how it is reached.
#[derive(Clone, Debug)]
struct HostPlan {
    name: String,
    addr: Addr,
    tcp: TcpConfig,
    syn_cookies: bool,
    work: Work,
}

#[derive(Clone, Debug)]
enum Work {
    Idle,
    Schedule {
        steps: Vec<(Time, Action)>,
        close_on_eof: bool,
    },
    App {
        app: AppPlan,
        start_at: Time,
    },
}

#[derive(Clone, Debug)]
enum AppPlan {
    BulkSender {
        to: SocketAddrV4,
        bytes: u64,
        shutdown_only: bool,
    },
    BulkSink {
        port: u16,
    },
    Echo {
        port: u16,
    },
    RequestServer {
        port: u16,
        request: u64,
        response: u64,
    },
    RequestClient {
        to: SocketAddrV4,
        request: u64,
        response: u64,
        count: u64,
        concurrency: usize,
        think: Duration,
    },
    Churn {
        to: SocketAddrV4,
        total: u64,
        open_max: usize,
        bytes_each: u64,
    },
}

impl AppPlan {
    fn make(&self, host: Host) -> Host {
        match *self {
            AppPlan::BulkSender {
                to,
                bytes,
                shutdown_only,
            } => {
                let mut app = BulkSender::new(to, bytes);
                app.shutdown_only = shutdown_only;
                host.app(app)
            }
            AppPlan::BulkSink { port } => host.app(BulkSink::new(port)),
            AppPlan::Echo { port } => host.app(EchoServer::new(port)),
            AppPlan::RequestServer {
                port,
                request,
                response,
            } => host.app(RequestServer::new(port, request, response)),
            AppPlan::RequestClient {
                to,
                request,
                response,
                count,
                concurrency,
                think,
            } => host.app(
                RequestClient::new(to, request, response, count)
                    .concurrency(concurrency)
                    .think_time(think),
            ),
            AppPlan::Churn {
                to,
                total,
                open_max,
                bytes_each,
            } => host.app(ChurnClient::new(to, total, open_max, bytes_each)),
        }
    }

    /// Connections it opens to `to`, at most.
    fn opens(&self) -> Option<(SocketAddrV4, u64)> {
        match *self {
            AppPlan::BulkSender { to, .. } => Some((to, 1)),
            AppPlan::RequestClient {
                to,
                count,
                concurrency,
                ..
            } => Some((to, count.min(concurrency as u64))),
            AppPlan::Churn { to, total, .. } => Some((to, total)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct LinkPlan {
    name: String,
    a: usize,
    b: usize,
    a_to_b: LinkConfig,
    b_to_a: LinkConfig,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a handful per file
enum RouterPlan {
    Star {
        name: String,
        addr: Addr,
        leaves: Vec<(usize, Option<Spoke>)>,
        spoke: Spoke,
    },
    Dumbbell {
        routers: [(String, Addr); 2],
        senders: Vec<(usize, Option<Spoke>)>,
        receivers: Vec<(usize, Option<Spoke>)>,
        access: Spoke,
        bottleneck: LinkConfig,
        bottleneck_reverse: LinkConfig,
    },
}

/// One direction or both of a link, by name, resolved once the world exists.
#[derive(Clone, Debug)]
struct LinkRef {
    link: String,
    /// None: both; Some(true): a->b (the first end to the second); Some(false): b->a.
    forward: Option<bool>,
}

#[derive(Clone, Debug)]
struct FaultPlan {
    name: String,
    at: LinkRef,
    flags: Option<Flags>,
    has_flags: Option<Flags>,
    payload: Payload,
    nth: Option<u64>,
    from: Option<Time>,
    until: Option<Time>,
    action: FaultAction,
    then: Vec<(LinkRef, LinkChange)>,
}

#[derive(Clone, Debug)]
struct ExpectPlan {
    host: usize,
    spec: ExpectValues,
}

#[derive(Clone, Debug)]
struct ExpectValues {
    visits: Vec<State>,
    sequence: Vec<State>,
    never: Vec<State>,
    ends_in: Option<State>,
    bytes_received: Option<u64>,
    bytes_sent: Option<u64>,
    errors: Vec<SocketError>,
    no_errors: bool,
    retransmissions_at_least: Option<usize>,
    retransmissions_at_most: Option<usize>,
    sent_with: Option<Flags>,
    sent_at_least: Option<usize>,
    sent_at_most: Option<usize>,
}

/// A scenario file, checked and ready to build a world for any seed.
#[derive(Clone, Debug)]
pub struct FilePlan {
    /// The scenario's name (`name = ...`, else the file's stem).
    pub name: String,
    /// The one-line summary (`summary = ...`, empty if not given).
    pub summary: String,
    /// The documentation (`doc = ...`, empty if not given).
    pub doc: String,
    horizon: Time,
    open_at_end: bool,
    hosts: Vec<HostPlan>,
    links: Vec<LinkPlan>,
    routers: Vec<RouterPlan>,
    faults: Vec<FaultPlan>,
    events: Vec<(Time, LinkRef, LinkChange)>,
    expects: Vec<ExpectPlan>,
}

// ===================================================================
// Loading and checking
// ===================================================================

/// Reads and checks the scenario file at `path` (the file is only read).
pub fn load(path: &Path) -> Result<FilePlan, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Checks scenario-file `text` (named `path` in errors).
pub fn parse(path: &Path, text: &str) -> Result<FilePlan, FileError> {
    let src = Source { path, text };
    let spec: FileSpec = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => src.field_error(span, e.message()),
        None => src.error_at(None, e.message().to_string()),
    })?;
    let plan = check(&src, spec)?;
    // A trial build: anything the engine would refuse is refused now.
    plan.build(0)
        .map_err(|e| src.error_at(None, format!("the world cannot be built: {e}")))?;
    Ok(plan)
}

/// What the loader knows about each name while checking.
struct Names {
    /// Hosts by name: index.
    hosts: BTreeMap<String, usize>,
    /// Every node's address: (owner, span of the address).
    addrs: BTreeMap<Addr, (String, Range<usize>)>,
    /// Links by name: (first end, second end).
    links: BTreeMap<String, (String, String)>,
    /// Groups of hosts that reach each other through a router.
    group_of: BTreeMap<usize, usize>,
    /// Direct point-to-point neighbours.
    neighbours: BTreeMap<usize, Vec<usize>>,
}

impl Names {
    fn reach(&self, a: usize, b: usize) -> bool {
        a == b
            || self.neighbours.get(&a).is_some_and(|n| n.contains(&b))
            || (self.group_of.contains_key(&a) && self.group_of.get(&a) == self.group_of.get(&b))
    }
}

fn check(src: &Source<'_>, spec: FileSpec) -> Result<FilePlan, FileError> {
    let mut names = Names {
        hosts: BTreeMap::new(),
        addrs: BTreeMap::new(),
        links: BTreeMap::new(),
        group_of: BTreeMap::new(),
        neighbours: BTreeMap::new(),
    };
    if spec.host.is_empty() {
        return Err(src.error_at(None, "no [[host]]: a scenario needs at least one host"));
    }
    for (i, h) in spec.host.iter().enumerate() {
        let h = h.get_ref();
        let name = h.name.get_ref();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains("->") {
            return Err(src.spanned(
                &h.name,
                format!("host name {name:?}: give a non-empty name without spaces or \"->\""),
            ));
        }
        if names.hosts.insert(name.clone(), i).is_some() {
            return Err(src.spanned(&h.name, format!("two hosts are called {name:?}")));
        }
        claim_addr(src, &mut names, name, &h.addr, false)?;
    }
    // Routers: each host on at most one; addresses unique across all nodes.
    let mut routers = Vec::new();
    for (g, r) in spec.router.iter().enumerate() {
        routers.push(check_router(src, &mut names, g, r)?);
    }
    let mut links = Vec::new();
    for l in &spec.link {
        links.push(check_link(src, &mut names, l)?);
    }
    let mut hosts = Vec::new();
    for i in 0..spec.host.len() {
        hosts.push(check_host(src, &names, &spec.host, i)?);
    }
    check_connections(src, &spec.host, &hosts)?;
    let mut faults = Vec::new();
    for f in &spec.fault {
        faults.push(check_fault(src, &names, f.get_ref())?);
    }
    let mut events = Vec::new();
    for e in &spec.event {
        let e = e.get_ref();
        let at = link_ref(src, &names, &e.link, &e.direction)?;
        let change = change_of(src, &e.link, e.change, e.rate, e.delay, e.loss)?;
        events.push((e.at.time(), at, change));
    }
    let mut expects = Vec::new();
    for x in &spec.expect {
        expects.push(check_expect(src, &names, x)?);
    }
    let horizon = spec.horizon.map_or(Time::from_secs(120), Dur::time);
    for ((at, _, _), e) in events.iter().zip(&spec.event) {
        if *at >= horizon {
            return Err(src.spanned(
                e,
                format!(
                    "this event at {at} is at or after the horizon {horizon}: it would never happen"
                ),
            ));
        }
    }
    let name = match spec.name {
        Some(n) => n,
        None => src
            .path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned()),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(src.error_at(
            None,
            format!("name {name:?}: give a non-empty name without spaces"),
        ));
    }
    Ok(FilePlan {
        name,
        summary: spec.summary,
        doc: spec.doc,
        horizon,
        open_at_end: spec.open_at_end,
        hosts,
        links,
        routers,
        faults,
        events,
        expects,
    })
}

fn claim_addr(
    src: &Source<'_>,
    names: &mut Names,
    owner: &str,
    addr: &Spanned<Ipv4Addr>,
    router: bool,
) -> Result<Addr, FileError> {
    let a = Addr::from(*addr.get_ref());
    if router && (names.hosts.contains_key(owner) || names.addrs.values().any(|(o, _)| o == owner))
    {
        return Err(src.spanned(
            addr,
            format!("router {owner:?}: a host or another router already has that name"),
        ));
    }
    if let Some((other, span)) = names.addrs.get(&a) {
        let (line, _) = line_column(src.text, span.start);
        return Err(src.spanned(
            addr,
            format!(
                "duplicate address {a}: {other:?} (line {line}) has it already, {owner:?} cannot"
            ),
        ));
    }
    names.addrs.insert(a, (owner.to_string(), addr.span()));
    Ok(a)
}

fn host_index(src: &Source<'_>, names: &Names, name: &Spanned<String>) -> Result<usize, FileError> {
    names.hosts.get(name.get_ref()).copied().ok_or_else(|| {
        let known: Vec<&str> = names.hosts.keys().map(String::as_str).collect();
        src.spanned(
            name,
            format!(
                "no host called {:?} (hosts: {})",
                name.get_ref(),
                known.join(", ")
            ),
        )
    })
}

fn check_router(
    src: &Source<'_>,
    names: &mut Names,
    group: usize,
    r: &Spanned<RouterSpec>,
) -> Result<RouterPlan, FileError> {
    let join = |names: &mut Names, leaf: &Spanned<String>| -> Result<usize, FileError> {
        let i = host_index(src, names, leaf)?;
        if names.group_of.insert(i, group).is_some() {
            return Err(src.spanned(
                leaf,
                format!("host {:?} is already on a router", leaf.get_ref()),
            ));
        }
        Ok(i)
    };
    let overrides = |names: &Names,
                     map: &BTreeMap<String, Spanned<SpokeSpec>>,
                     members: &[Spanned<String>]|
     -> Result<(), FileError> {
        for (host, spoke) in map {
            if !members.iter().any(|m| m.get_ref() == host) || !names.hosts.contains_key(host) {
                return Err(src.spanned(
                    spoke,
                    format!("an override for {host:?}, which is not on this router"),
                ));
            }
        }
        Ok(())
    };
    let spec = r.get_ref();
    let (star_fields, dumbbell_fields) = (
        [
            ("name", spec.name.is_some()),
            ("addr", spec.addr.is_some()),
            ("leaves", spec.leaves.is_some()),
            ("spoke", spec.spoke.is_some()),
            ("spokes", spec.spokes.is_some()),
        ],
        [
            ("left", spec.left.is_some()),
            ("right", spec.right.is_some()),
            ("senders", spec.senders.is_some()),
            ("receivers", spec.receivers.is_some()),
            ("access", spec.access.is_some()),
            ("accesses", spec.accesses.is_some()),
            ("bottleneck", spec.bottleneck.is_some()),
            ("bottleneck_reverse", spec.bottleneck_reverse.is_some()),
        ],
    );
    let foreign = match spec.kind {
        RouterKind::Star => dumbbell_fields.iter().find(|f| f.1),
        RouterKind::Dumbbell => star_fields.iter().find(|f| f.1),
    };
    if let Some((field, _)) = foreign {
        return Err(src.spanned(
            r,
            format!("a {:?} router has no field `{field}`", spec.kind),
        ));
    }
    let empty = Vec::new();
    let no_overrides = BTreeMap::new();
    let default_spoke = SpokeSpec::default();
    match spec.kind {
        RouterKind::Star => {
            let name = &spec.name.clone().unwrap_or_else(hub_name);
            let addr = &spec.addr;
            let leaves = spec.leaves.as_ref().unwrap_or(&empty);
            let spoke = spec.spoke.as_ref().unwrap_or(&default_spoke);
            let spokes = spec.spokes.as_ref().unwrap_or(&no_overrides);
            let addr = match addr {
                Some(a) => claim_addr(src, names, name, a, true)?,
                None => claim_addr(
                    src,
                    names,
                    name,
                    &Spanned::new(r.span(), Ipv4Addr::new(10, 254, 0, 1)),
                    true,
                )?,
            };
            overrides(names, spokes, leaves)?;
            let base = SpokeSpec::default();
            let mut placed = Vec::new();
            for leaf in leaves {
                let i = join(names, leaf)?;
                let over = spokes.get(leaf.get_ref()).map(|s| s.get_ref().spoke(spoke));
                placed.push((i, over));
            }
            for leaf in leaves {
                names.links.insert(
                    format!("spoke-{}", leaf.get_ref()),
                    (leaf.get_ref().clone(), name.clone()),
                );
            }
            let spoke = spoke.spoke(&base);
            for s in placed
                .iter()
                .filter_map(|(_, o)| o.as_ref())
                .chain([&spoke])
            {
                valid(src, r, &s.up, "up (leaf to hub)")?;
                valid(src, r, &s.down, "down (hub to leaf)")?;
            }
            Ok(RouterPlan::Star {
                name: name.clone(),
                addr,
                leaves: placed,
                spoke,
            })
        }
        RouterKind::Dumbbell => {
            let (left, right) = (&spec.left, &spec.right);
            let senders = spec.senders.as_ref().unwrap_or(&empty);
            let receivers = spec.receivers.as_ref().unwrap_or(&empty);
            let access = spec.access.as_ref().unwrap_or(&default_spoke);
            let accesses = spec.accesses.as_ref().unwrap_or(&no_overrides);
            let default_bottleneck = DirSpec::default();
            let bottleneck = spec.bottleneck.as_ref().unwrap_or(&default_bottleneck);
            let bottleneck_reverse = &spec.bottleneck_reverse;
            let mut routers = [
                ("router-left".to_string(), Addr::new(10, 255, 0, 1)),
                ("router-right".to_string(), Addr::new(10, 255, 0, 2)),
            ];
            for (slot, given) in [left, right].into_iter().enumerate() {
                match given {
                    Some(g) => {
                        routers[slot] = (
                            g.name.clone(),
                            claim_addr(src, names, &g.name, &g.addr, true)?,
                        )
                    }
                    None => {
                        let (n, a) = routers[slot].clone();
                        claim_addr(
                            src,
                            names,
                            &n,
                            &Spanned::new(r.span(), Ipv4Addr::from(a)),
                            true,
                        )?;
                    }
                }
            }
            let members: Vec<Spanned<String>> = senders.iter().chain(receivers).cloned().collect();
            overrides(names, accesses, &members)?;
            let base = SpokeSpec::default();
            let mut sides = [Vec::new(), Vec::new()];
            for (side, list) in [senders, receivers].into_iter().enumerate() {
                for h in list {
                    let i = join(names, h)?;
                    let over = accesses.get(h.get_ref()).map(|s| s.get_ref().spoke(access));
                    sides[side].push((i, over));
                    let router = routers[side].0.clone();
                    names.links.insert(
                        format!("access-{}", h.get_ref()),
                        (h.get_ref().clone(), router),
                    );
                }
            }
            names.links.insert(
                "bottleneck".into(),
                (routers[0].0.clone(), routers[1].0.clone()),
            );
            let [senders, receivers] = sides;
            let reverse = bottleneck_reverse.as_ref().unwrap_or(bottleneck);
            let access = access.spoke(&base);
            for s in senders
                .iter()
                .chain(&receivers)
                .filter_map(|(_, o)| o.as_ref())
                .chain([&access])
            {
                valid(src, r, &s.up, "up (host to router)")?;
                valid(src, r, &s.down, "down (router to host)")?;
            }
            let (bottleneck, reverse) = (bottleneck.config(), reverse.config());
            valid(src, r, &bottleneck, "bottleneck")?;
            valid(src, r, &reverse, "bottleneck_reverse")?;
            Ok(RouterPlan::Dumbbell {
                routers,
                senders,
                receivers,
                access,
                bottleneck,
                bottleneck_reverse: reverse,
            })
        }
    }
}

/// A direction's settings the link model refuses, at the table they came from.
fn valid<T>(
    src: &Source<'_>,
    at: &Spanned<T>,
    config: &LinkConfig,
    way: &str,
) -> Result<(), FileError> {
    config
        .validate()
        .map_err(|e| src.spanned(at, format!("direction {way}: {}", e.0)))
}

fn check_link(
    src: &Source<'_>,
    names: &mut Names,
    l: &Spanned<LinkSpec>,
) -> Result<LinkPlan, FileError> {
    let spec = l.get_ref();
    let a = host_index(src, names, &spec.a)?;
    let b = host_index(src, names, &spec.b)?;
    if a == b {
        return Err(src.spanned(&spec.b, "a link joins two different hosts"));
    }
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", spec.a.get_ref(), spec.b.get_ref()));
    if names.links.contains_key(&name) {
        return Err(src.spanned(l, format!("two links are called {name:?}")));
    }
    names.links.insert(
        name.clone(),
        (spec.a.get_ref().clone(), spec.b.get_ref().clone()),
    );
    names.neighbours.entry(a).or_default().push(b);
    names.neighbours.entry(b).or_default().push(a);
    let a_to_b = spec.a_to_b.over(&spec.both).config();
    let b_to_a = spec.b_to_a.over(&spec.both).config();
    for (config, way) in [(&a_to_b, (&spec.a, &spec.b)), (&b_to_a, (&spec.b, &spec.a))] {
        valid(
            src,
            l,
            config,
            &format!("{}->{}", way.0.get_ref(), way.1.get_ref()),
        )?;
    }
    Ok(LinkPlan {
        name,
        a,
        b,
        a_to_b,
        b_to_a,
    })
}

/// The smallest MSS Linux accepts (TCP_MIN_MSS) and the largest an IPv4
/// datagram can carry (65,535 less 40 bytes of headers).
const MSS_MIN: u16 = 88;
const MSS_MAX: u16 = 65_495;
/// Linux's smallest buffers (SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF).
const RECV_BUFFER_MIN: usize = 2_304;
const SEND_BUFFER_MIN: usize = 4_608;

/// TCP settings the stack cannot run with are refused here, at their field.
fn check_tcp(src: &Source<'_>, t: &TcpSpec) -> Result<(), FileError> {
    if let Some(mss) = &t.mss
        && !(MSS_MIN..=MSS_MAX).contains(mss.get_ref())
    {
        return Err(src.spanned(
            mss,
            format!("MSS {} is outside {MSS_MIN}..={MSS_MAX} (Linux's TCP_MIN_MSS to the largest IPv4 payload)", mss.get_ref()),
        ));
    }
    for (value, min, what) in [
        (&t.recv_buffer, RECV_BUFFER_MIN, "SOCK_MIN_RCVBUF"),
        (&t.send_buffer, SEND_BUFFER_MIN, "SOCK_MIN_SNDBUF"),
    ] {
        if let Some(v) = value
            && *v.get_ref() < min
        {
            return Err(src.spanned(
                v,
                format!(
                    "{} bytes is below {min}, the smallest buffer Linux allows ({what})",
                    v.get_ref()
                ),
            ));
        }
    }
    for rto in [&t.rto_initial, &t.rto_min].into_iter().flatten() {
        if rto.get_ref().0 == 0 {
            return Err(src.spanned(rto, "a retransmission timeout must be above zero"));
        }
    }
    if let Some(k) = &t.keepalive {
        let v = k.get_ref();
        if v.idle.0 == 0 || v.interval.0 == 0 || v.probes == 0 {
            return Err(src.spanned(
                k,
                "keepalive needs an idle time and interval above zero and at least one probe",
            ));
        }
    }
    Ok(())
}

fn tcp_config(t: &TcpSpec) -> (TcpConfig, bool) {
    let mut c = match t.profile {
        Some(ProfileSpec::Linux) => TcpConfig::linux(),
        Some(ProfileSpec::Rfc) | None => TcpConfig::default(),
    };
    if let Some(v) = &t.mss {
        c.mss = *v.get_ref();
    }
    if let Some(v) = &t.recv_buffer {
        c.recv_buffer = *v.get_ref();
    }
    if let Some(v) = &t.send_buffer {
        c.send_buffer = *v.get_ref();
    }
    match t.window_scale {
        Some(OrOff::Off) => c.window_scale = None,
        Some(OrOff::On(s)) => c.window_scale = Some(s),
        None => {}
    }
    if let Some(v) = t.timestamps {
        c.timestamps = v;
    }
    if let Some(v) = t.sack {
        c.sack = v;
    }
    if let Some(v) = t.nagle {
        c.nagle = v;
    }
    match t.delayed_ack {
        Some(OrOff::Off) => c.delayed_ack = None,
        Some(OrOff::On(d)) => c.delayed_ack = Some(d.stack()),
        None => {}
    }
    match t.congestion {
        Some(Congestion::Newreno) => c.congestion = stack::cc::CongestionAlgorithm::NewReno,
        Some(Congestion::Cubic) => c.congestion = stack::cc::CongestionAlgorithm::Cubic,
        None => {}
    }
    if let Some(e) = t.ecn {
        c.ecn = match e {
            EcnSpec::Off => stack::EcnMode::Off,
            EcnSpec::On => stack::EcnMode::On,
            EcnSpec::Passive => stack::EcnMode::Passive,
        };
    }
    if let Some(k) = t.keepalive.as_ref().map(|k| *k.get_ref()) {
        c.keepalive = Some(stack::Keepalive {
            idle: k.idle.stack(),
            interval: k.interval.stack(),
            probes: k.probes,
        });
    }
    if let Some(v) = t.isn {
        c.isn = Some(v);
    }
    if let Some(v) = t.rfc1337 {
        c.rfc1337 = v;
    }
    if let Some(v) = &t.rto_initial {
        c.rto_initial = v.get_ref().stack();
    }
    if let Some(v) = &t.rto_min {
        c.rto_min = v.get_ref().stack();
    }
    if let Some(v) = t.msl {
        c.msl = v.stack();
    }
    if let Some(v) = t.syn_retries {
        c.syn_retries = v;
    }
    if let Some(v) = t.data_retries {
        c.data_retries = v;
    }
    (c, t.syn_cookies.unwrap_or(true))
}

/// `"server:80"` (a host by name) or `"10.0.0.2:80"`.
fn remote(
    src: &Source<'_>,
    names: &Names,
    hosts: &[Spanned<HostSpec>],
    to: &Spanned<String>,
) -> Result<SocketAddrV4, FileError> {
    let text = to.get_ref();
    let Some((who, port)) = text.rsplit_once(':') else {
        return Err(src.spanned(to, format!("{text:?}: write HOST:PORT, e.g. \"server:80\"")));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| src.spanned(to, format!("{text:?}: port {port:?} is not 0..=65535")))?;
    let addr = match names.hosts.get(who) {
        Some(&i) => *hosts[i].get_ref().addr.get_ref(),
        None => who
            .parse::<Ipv4Addr>()
            .map_err(|_| src.spanned(to, format!("{text:?}: no host called {who:?}")))?,
    };
    Ok(SocketAddrV4::new(addr, port))
}

fn check_host(
    src: &Source<'_>,
    names: &Names,
    hosts: &[Spanned<HostSpec>],
    me: usize,
) -> Result<HostPlan, FileError> {
    let h = hosts[me].get_ref();
    check_tcp(src, &h.tcp)?;
    let (tcp, syn_cookies) = tcp_config(&h.tcp);
    if let Some(app) = &h.app
        && !h.schedule.is_empty()
    {
        return Err(src.spanned(app, "a host runs an app or a schedule, not both"));
    }
    if h.close_on_eof && h.schedule.is_empty() {
        return Err(src.spanned(
            &h.name,
            "close_on_eof is for a host with a [[host.schedule]]",
        ));
    }
    if h.start_at.is_some() && h.app.is_none() {
        return Err(src.spanned(
            &h.name,
            "start_at is for a host with an app (schedule steps have their own times)",
        ));
    }
    // A peer must exist and be reachable both ways.
    let reachable = |to: &Spanned<String>| -> Result<SocketAddrV4, FileError> {
        let addr = remote(src, names, hosts, to)?;
        let peer = names
            .hosts
            .values()
            .copied()
            .find(|&i| *hosts[i].get_ref().addr.get_ref() == *addr.ip());
        match peer {
            Some(p) if names.reach(me, p) => Ok(addr),
            Some(p) => Err(src.spanned(
                to,
                format!(
                    "no route from {:?} to {:?}: no [[link]] joins them and no [[router]] has both",
                    h.name.get_ref(),
                    hosts[p].get_ref().name.get_ref()
                ),
            )),
            None => Err(src.spanned(
                to,
                format!(
                    "no route from {:?} to {}: no host has that address",
                    h.name.get_ref(),
                    addr.ip()
                ),
            )),
        }
    };
    let work = if let Some(app) = &h.app {
        let plan = match app.get_ref().clone() {
            AppSpec::BulkSender {
                to,
                bytes,
                shutdown_only,
            } => AppPlan::BulkSender {
                to: reachable(&Spanned::new(app.span(), to))?,
                bytes,
                shutdown_only,
            },
            AppSpec::BulkSink { port } => AppPlan::BulkSink { port },
            AppSpec::Echo { port } => AppPlan::Echo { port },
            AppSpec::RequestServer {
                port,
                request,
                response,
            } => {
                if request == 0 {
                    return Err(
                        src.spanned(app, "request-server: `request` must be at least 1 byte")
                    );
                }
                AppPlan::RequestServer {
                    port,
                    request,
                    response,
                }
            }
            AppSpec::RequestClient {
                to,
                request,
                response,
                count,
                concurrency,
                think,
            } => {
                if concurrency == 0 {
                    return Err(
                        src.spanned(app, "request-client: `concurrency` must be at least 1")
                    );
                }
                AppPlan::RequestClient {
                    to: reachable(&Spanned::new(app.span(), to))?,
                    request,
                    response,
                    count,
                    concurrency,
                    think: think.map_or(Duration::ZERO, Dur::duration),
                }
            }
            AppSpec::Churn {
                to,
                total,
                open_max,
                bytes_each,
            } => {
                if open_max == 0 {
                    return Err(src.spanned(app, "churn: `open_max` must be at least 1"));
                }
                AppPlan::Churn {
                    to: reachable(&Spanned::new(app.span(), to))?,
                    total,
                    open_max,
                    bytes_each,
                }
            }
        };
        Work::App {
            app: plan,
            start_at: h.start_at.map_or(Time::ZERO, Dur::time),
        }
    } else if h.schedule.is_empty() {
        Work::Idle
    } else {
        let mut steps = Vec::new();
        for step in &h.schedule {
            let s = step.get_ref();
            let conn = || need(src, step, s.conn.as_ref().map(|c| *c.get_ref()), "conn");
            let allowed: &[&str] = match s.kind {
                StepKind::Listen => &["port", "backlog", "reuse"],
                StepKind::Connect => &["to", "from_port"],
                StepKind::Send => &["conn", "bytes"],
                StepKind::Shutdown | StepKind::Close | StepKind::Abort => &["conn"],
                _ => &[],
            };
            let given = [
                ("port", s.port.is_some()),
                ("backlog", s.backlog.is_some()),
                ("reuse", s.reuse.is_some()),
                ("to", s.to.is_some()),
                ("from_port", s.from_port.is_some()),
                ("conn", s.conn.is_some()),
                ("bytes", s.bytes.is_some()),
            ];
            if let Some((field, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
                return Err(src.spanned(
                    step,
                    format!(
                        "a {:?} step has no field `{field}` (it takes: {})",
                        s.kind,
                        if allowed.is_empty() {
                            "nothing but `at`".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                ));
            }
            let action = match s.kind {
                StepKind::Listen => {
                    let port = need(src, step, s.port, "port")?;
                    let backlog = s.backlog.unwrap_or(128);
                    if s.reuse.unwrap_or(false) {
                        Action::ListenReuse { port, backlog }
                    } else {
                        Action::Listen { port, backlog }
                    }
                }
                StepKind::Connect => {
                    let to =
                        s.to.as_ref()
                            .ok_or_else(|| src.spanned(step, "a Connect step needs `to`"))?;
                    Action::Connect {
                        remote: reachable(to)?,
                        local_port: s.from_port,
                    }
                }
                StepKind::Send => Action::Send {
                    conn: conn()?,
                    bytes: need(src, step, s.bytes, "bytes")?,
                },
                StepKind::Shutdown => Action::Shutdown { conn: conn()? },
                StepKind::Close => Action::Close { conn: conn()? },
                StepKind::Abort => Action::Abort { conn: conn()? },
                StepKind::PauseReading => Action::Reading(false),
                StepKind::ResumeReading => Action::Reading(true),
                StepKind::CloseListeners => Action::CloseListeners,
                StepKind::Crash => Action::Crash,
            };
            steps.push((s.at.time(), action));
        }
        Work::Schedule {
            steps,
            close_on_eof: h.close_on_eof,
        }
    };
    Ok(HostPlan {
        name: h.name.get_ref().clone(),
        addr: Addr::from(*h.addr.get_ref()),
        tcp,
        syn_cookies,
        work,
    })
}

fn need<T: Copy>(
    src: &Source<'_>,
    step: &Spanned<StepSpec>,
    v: Option<T>,
    field: &str,
) -> Result<T, FileError> {
    v.ok_or_else(|| {
        src.spanned(
            step,
            format!("a {:?} step needs `{field}`", step.get_ref().kind),
        )
    })
}

/// Each schedule step must name a connection the host can have: one it
/// opened by then, or, if it listens, one of those its peers can open to it.
/// (A step on any other is an application sending on a descriptor it
/// never opened: refused now, not a failed call at run time.)
fn check_connections(
    src: &Source<'_>,
    hosts: &[Spanned<HostSpec>],
    plans: &[HostPlan],
) -> Result<(), FileError> {
    let mut incoming: BTreeMap<Ipv4Addr, u64> = BTreeMap::new();
    for p in plans {
        match &p.work {
            Work::Schedule { steps, .. } => {
                for (_, a) in steps {
                    if let Action::Connect { remote, .. } = a {
                        *incoming.entry(*remote.ip()).or_default() += 1;
                    }
                }
            }
            Work::App { app, .. } => {
                if let Some((to, n)) = app.opens() {
                    let e = incoming.entry(*to.ip()).or_default();
                    *e = e.saturating_add(n);
                }
            }
            Work::Idle => {}
        }
    }
    for (i, p) in plans.iter().enumerate() {
        let Work::Schedule { steps, .. } = &p.work else {
            continue;
        };
        let listens = steps
            .iter()
            .any(|(_, a)| matches!(a, Action::Listen { .. } | Action::ListenReuse { .. }));
        let total_connects = steps
            .iter()
            .filter(|(_, a)| matches!(a, Action::Connect { .. }))
            .count() as u64;
        let accepts = if listens {
            incoming.get(&Ipv4Addr::from(p.addr)).copied().unwrap_or(0)
        } else {
            0
        };
        // Steps in time order, as the schedule runs them (equal times keep file order).
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by_key(|&k| steps[k].0);
        let mut connects = 0u64;
        for k in order {
            let (_, action) = &steps[k];
            let conn = match action {
                Action::Connect { .. } => {
                    connects += 1;
                    continue;
                }
                Action::Send { conn, .. }
                | Action::Shutdown { conn }
                | Action::Close { conn }
                | Action::Abort { conn } => *conn as u64,
                _ => continue,
            };
            let limit = if listens {
                total_connects.saturating_add(accepts)
            } else {
                connects
            };
            if conn >= limit {
                let step = &hosts[i].get_ref().schedule[k];
                let why = if listens {
                    format!("it opens {total_connects} and its peers open at most {accepts} to it")
                } else if connects == 0 {
                    "it has opened none by then and does not listen".to_string()
                } else {
                    format!(
                        "it has opened only {connects} by then (numbered from 0) and does not listen"
                    )
                };
                return Err(src.spanned(
                    step.get_ref()
                        .conn
                        .as_ref()
                        .unwrap_or(&Spanned::new(step.span(), 0)),
                    format!(
                        "host {:?}: this step is on connection {conn}, which it never opens: {why}",
                        p.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_fault(src: &Source<'_>, names: &Names, f: &FaultSpec) -> Result<FaultPlan, FileError> {
    let at = link_ref(src, names, &f.link, &f.direction)?;
    let action = match f.action {
        ActionKind::Drop => FaultAction::Drop,
        ActionKind::Pass => FaultAction::PASS,
        ActionKind::Delay | ActionKind::Duplicate => {
            let by = f.by.ok_or_else(|| {
                src.spanned(
                    &f.link,
                    format!(
                        "fault {:?}: action {:?} needs `by` (e.g. by = \"100ms\")",
                        f.name, f.action
                    ),
                )
            })?;
            if f.action == ActionKind::Delay {
                FaultAction::Delay(by.duration())
            } else {
                FaultAction::Duplicate(by.duration())
            }
        }
        ActionKind::Corrupt => FaultAction::Corrupt {
            bits: f
                .bits
                .filter(|b| (1..=sim::link::CORRUPTION_BITS_MAX).contains(b))
                .ok_or_else(|| {
                    src.spanned(
                        &f.link,
                        format!(
                            "fault {:?}: action corrupt needs `bits`, 1 to {}",
                            f.name,
                            sim::link::CORRUPTION_BITS_MAX
                        ),
                    )
                })?,
        },
    };
    let mut then = Vec::new();
    for c in &f.then {
        let c = c.get_ref();
        then.push((
            link_ref(src, names, &c.link, &c.direction)?,
            change_of(src, &c.link, c.change, c.rate, c.delay, c.loss)?,
        ));
    }
    Ok(FaultPlan {
        name: f.name.clone(),
        at,
        flags: f.flags.map(|f| f.0),
        has_flags: f.has_flags.map(|f| f.0),
        payload: f.payload,
        nth: f.nth,
        from: f.active_from.map(Dur::time),
        until: f.active_until.map(Dur::time),
        action,
        then,
    })
}

fn link_ref(
    src: &Source<'_>,
    names: &Names,
    link: &Spanned<String>,
    direction: &Spanned<String>,
) -> Result<LinkRef, FileError> {
    let Some((a, b)) = names.links.get(link.get_ref()) else {
        let known: Vec<&str> = names.links.keys().map(String::as_str).collect();
        return Err(src.spanned(
            link,
            format!(
                "no link called {:?} (links: {})",
                link.get_ref(),
                known.join(", ")
            ),
        ));
    };
    let d = direction.get_ref().replace(' ', "");
    let forward = if d == "both" {
        None
    } else if d == format!("{a}->{b}") {
        Some(true)
    } else if d == format!("{b}->{a}") {
        Some(false)
    } else {
        let span = if direction.span().is_empty() {
            link.span()
        } else {
            direction.span()
        };
        return Err(src.field_error(
            span,
            format!(
                "direction {:?}: write \"{a}->{b}\", \"{b}->{a}\" or \"both\"",
                direction.get_ref()
            ),
        ));
    };
    Ok(LinkRef {
        link: link.get_ref().clone(),
        forward,
    })
}

fn change_of(
    src: &Source<'_>,
    at: &Spanned<String>,
    kind: ChangeKind,
    rate: Option<Rate>,
    delay: Option<Dur>,
    loss: Option<Prob>,
) -> Result<LinkChange, FileError> {
    let missing = |field: &str| src.spanned(at, format!("change {kind:?} needs `{field}`"));
    Ok(match kind {
        ChangeKind::Partition => LinkChange::Partition,
        ChangeKind::Repair => LinkChange::Repair,
        ChangeKind::Hold => LinkChange::Hold,
        ChangeKind::Release => LinkChange::Release,
        ChangeKind::SetRate => LinkChange::SetRate {
            rate_bps: rate.ok_or_else(|| missing("rate"))?.0,
        },
        ChangeKind::SetDelay => LinkChange::SetDelay {
            delay: delay.ok_or_else(|| missing("delay"))?.duration(),
        },
        ChangeKind::SetLoss => LinkChange::SetLoss {
            loss: loss.ok_or_else(|| missing("loss"))?.0,
        },
    })
}

fn check_expect(
    src: &Source<'_>,
    names: &Names,
    x: &Spanned<ExpectSpec>,
) -> Result<ExpectPlan, FileError> {
    let s = x.get_ref();
    let host = host_index(src, names, &s.host)?;
    let states = |v: &[StateName]| v.iter().map(|s| s.0).collect::<Vec<_>>();
    if s.sent_with.is_none() && (s.sent_at_least.is_some() || s.sent_at_most.is_some()) {
        return Err(src.spanned(
            x,
            "sent_at_least / sent_at_most need `sent_with` (the flags counted)",
        ));
    }
    Ok(ExpectPlan {
        host,
        spec: ExpectValues {
            visits: states(&s.visits),
            sequence: states(&s.sequence),
            never: states(&s.never),
            ends_in: s.ends_in.map(|s| s.0),
            bytes_received: s.bytes_received,
            bytes_sent: s.bytes_sent,
            errors: s.errors.iter().map(|e| e.0).collect(),
            no_errors: s.no_errors.unwrap_or(false),
            retransmissions_at_least: s.retransmissions_at_least,
            retransmissions_at_most: s.retransmissions_at_most,
            sent_with: s.sent_with.map(|f| f.0),
            sent_at_least: s.sent_at_least,
            sent_at_most: s.sent_at_most,
        },
    })
}

// ===================================================================
// Building and checking a run
// ===================================================================

/// The ISN secret of host `name` for `seed` (the catalogue's derivation,
/// so a file that describes a catalogue case replays it exactly).
fn secret(seed: u64, name: &str) -> [u8; 16] {
    let mut rng = sim::rng::stream(seed, &format!("isn-secret:{name}"));
    let mut key = [0u8; 16];
    rng.fill_bytes(&mut key);
    key
}

impl HostPlan {
    fn make(&self, seed: u64) -> Host {
        let mut host = Host::new(
            &self.name,
            self.addr,
            secret(seed, &self.name),
            self.tcp.clone(),
        );
        if !self.syn_cookies {
            host = host.syn_cookies(false);
        }
        match &self.work {
            Work::Idle => host,
            Work::Schedule {
                steps,
                close_on_eof,
            } => {
                for (at, action) in steps {
                    host = host.at(*at, action.clone());
                }
                if *close_on_eof {
                    host = host.close_on_eof();
                }
                host
            }
            Work::App { app, start_at } => app.make(host).start_at(*start_at),
        }
    }
}

fn target(world: &World, at: &LinkRef) -> Result<sim::link::LinkTarget, SimError> {
    let (ab, ba) = world
        .link_by_name(&at.link)
        .ok_or_else(|| SimError::DuplicateName(format!("no link {}", at.link)))?;
    Ok(match at.forward {
        None => (ab, ba).into(),
        Some(true) => ab.into(),
        Some(false) => ba.into(),
    })
}

fn matcher(f: &FaultPlan) -> impl Fn(&Packet) -> bool + 'static {
    let (flags, has_flags, payload) = (f.flags, f.has_flags, f.payload);
    move |p: &Packet| {
        let Ok((_, repr)) = wire::parse_datagram(&p.bytes) else {
            return false;
        };
        flags.is_none_or(|want| repr.flags == want)
            && has_flags.is_none_or(|want| repr.flags.contains(want))
            && match payload {
                Payload::Any => true,
                Payload::Empty => repr.payload.is_empty(),
                Payload::Data => !repr.payload.is_empty(),
            }
    }
}

impl FilePlan {
    /// The world for `seed`, ready to run.
    pub fn build(&self, seed: u64) -> Result<Setup, SimError> {
        let mut world = World::new(WorldConfig::new(seed));
        let mut made: Vec<Option<Host>> = self.hosts.iter().map(|h| Some(h.make(seed))).collect();
        let mut ids: Vec<Option<NodeId>> = vec![None; self.hosts.len()];
        let mut place = |i: usize| {
            let host = made[i].take().expect("each host is placed once");
            Place::new(self.hosts[i].name.clone(), self.hosts[i].addr, host)
        };
        for r in &self.routers {
            match r {
                RouterPlan::Star {
                    name,
                    addr,
                    leaves,
                    spoke,
                } => {
                    let mut b = StarBuilder::new(spoke.up.clone()).hub(name.clone(), *addr);
                    for (i, over) in leaves {
                        b = b.leaf_with(place(*i), over.clone().unwrap_or_else(|| spoke.clone()));
                    }
                    let star = b.build(&mut world)?;
                    for ((i, _), id) in leaves.iter().zip(star.leaves) {
                        ids[*i] = Some(id);
                    }
                }
                RouterPlan::Dumbbell {
                    routers,
                    senders,
                    receivers,
                    access,
                    bottleneck,
                    bottleneck_reverse,
                } => {
                    let mut b = DumbbellBuilder::new(
                        access.up.clone(),
                        bottleneck.clone(),
                        bottleneck_reverse.clone(),
                    )
                    .routers(routers[0].clone(), routers[1].clone());
                    for (i, over) in senders {
                        b = b
                            .sender_with(place(*i), over.clone().unwrap_or_else(|| access.clone()));
                    }
                    for (i, over) in receivers {
                        b = b.receiver_with(
                            place(*i),
                            over.clone().unwrap_or_else(|| access.clone()),
                        );
                    }
                    let d = b.build(&mut world)?;
                    for ((i, _), id) in senders.iter().zip(d.senders) {
                        ids[*i] = Some(id);
                    }
                    for ((i, _), id) in receivers.iter().zip(d.receivers) {
                        ids[*i] = Some(id);
                    }
                }
            }
        }
        for (i, host) in made.iter_mut().enumerate() {
            if let Some(host) = host.take() {
                let h = &self.hosts[i];
                ids[i] = Some(world.add_node(&h.name, h.addr, host)?);
            }
        }
        let ids: Vec<NodeId> = ids
            .into_iter()
            .map(|i| i.expect("every host placed"))
            .collect();
        for l in &self.links {
            let (ab, ba) = world.connect(
                &l.name,
                ids[l.a],
                ids[l.b],
                l.a_to_b.clone(),
                l.b_to_a.clone(),
            )?;
            // A direct neighbour is reached over its own link, whatever the
            // host's default route (a star's spoke, an earlier link).
            world.add_host_route(ids[l.a], self.hosts[l.b].addr, ab)?;
            world.add_host_route(ids[l.b], self.hosts[l.a].addr, ba)?;
        }
        for f in &self.faults {
            let rule = || {
                let mut rule = FaultRule::named(f.name.clone(), matcher(f), f.action);
                if let Some(n) = f.nth {
                    rule = rule.nth(n);
                }
                if let Some(t) = f.from {
                    rule = rule.active_from(t);
                }
                if let Some(t) = f.until {
                    rule = rule.active_until(t);
                }
                rule
            };
            let mut changes = Vec::new();
            for (at, change) in &f.then {
                changes.push((target(&world, at)?, *change));
            }
            let with_changes = || {
                changes
                    .iter()
                    .fold(rule(), |r, &(t, c)| r.then_change(t, c))
            };
            for link in target(&world, &f.at)?.directions() {
                world.add_fault(link, with_changes())?;
            }
        }
        for (at, link, change) in &self.events {
            let t = target(&world, link)?;
            world.change_link_at(*at, t, *change)?;
        }
        Ok(Setup {
            world,
            hosts: ids.into_iter().map(Into::into).collect(),
            horizon: self.horizon,
            open_at_end: self.open_at_end,
        })
    }

    /// The plan as a catalogue scenario: its build and its expectations.
    pub fn scenario(self) -> Scenario {
        let plan = Arc::new(self);
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        let mut scenario = Scenario::new(leak(&plan.name), {
            let plan = Arc::clone(&plan);
            move |seed| plan.build(seed)
        })
        .summary(leak(&plan.summary))
        .doc(leak(&plan.doc));
        for x in plan.expects.clone() {
            let name = plan.hosts[x.host].name.clone();
            scenario = scenario.expect(move |o| expect(o, x.host, &name, &x.spec));
        }
        scenario
    }
}

fn expect(o: &Outcome, i: usize, name: &str, v: &ExpectValues) -> Result<(), String> {
    let states = o.states(i);
    let fail = |what: String| Err(format!("{name}: {what}"));
    let list = |s: &[State]| s.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
    for s in &v.visits {
        if !states.contains(s) {
            return fail(format!("never in {s} (states: {})", list(&states)));
        }
    }
    let mut rest = states.iter();
    for s in &v.sequence {
        if !rest.any(|x| x == s) {
            return fail(format!(
                "states not in the order {} (states: {})",
                list(&v.sequence),
                list(&states)
            ));
        }
    }
    for s in &v.never {
        if states.contains(s) {
            return fail(format!("was in {s}, which it must never be"));
        }
    }
    if let Some(s) = v.ends_in
        && states.last() != Some(&s)
    {
        return fail(format!(
            "ends in {}, not {s}",
            states.last().map_or("no state", |s| s.name())
        ));
    }
    let streams = o.streams(i);
    if let Some(n) = v.bytes_received {
        let got: u64 = streams.iter().map(|s| s.read.len).sum();
        if got != n {
            return fail(format!("received {got} bytes, expected {n}"));
        }
    }
    if let Some(n) = v.bytes_sent {
        let got: u64 = streams.iter().map(|s| s.written.len).sum();
        if got != n {
            return fail(format!("sent {got} bytes, expected {n}"));
        }
    }
    let mut errors = o.errors(i);
    errors.extend(streams.iter().filter_map(|s| s.error));
    for e in &v.errors {
        if !errors.contains(e) {
            return fail(format!("never saw {} ({e})", e.errno_name()));
        }
    }
    if v.no_errors && !errors.is_empty() {
        return fail(format!("saw {}", errors[0].errno_name()));
    }
    let rtx = o.retransmissions(i);
    if let Some(n) = v.retransmissions_at_least
        && rtx < n
    {
        return fail(format!("{rtx} retransmissions, expected at least {n}"));
    }
    if let Some(n) = v.retransmissions_at_most
        && rtx > n
    {
        return fail(format!("{rtx} retransmissions, expected at most {n}"));
    }
    if let Some(flags) = v.sent_with {
        let sent = o.sent_with(i, flags);
        if v.sent_at_least.is_some_and(|n| sent < n) || v.sent_at_most.is_some_and(|n| sent > n) {
            return fail(format!(
                "sent {sent} segments with {flags:?}, expected {}{}",
                v.sent_at_least
                    .map_or(String::new(), |n| format!("at least {n} ")),
                v.sent_at_most
                    .map_or(String::new(), |n| format!("at most {n}")),
            ));
        }
    }
    Ok(())
}

// ===================================================================
// Files and folders
// ===================================================================

/// The `.toml` files named, each folder replaced by the `.toml` files
/// directly in it, sorted by name.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| FileError {
                file: p.clone(),
                line: None,
                column: None,
                message: format!("cannot read the folder: {e}"),
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(FileError {
                    file: p.clone(),
                    line: None,
                    column: None,
                    message: "no .toml scenario files in this folder".into(),
                });
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Loads every file (folders expanded), each checked; names must be
/// unique among them. All errors are returned, one per bad file.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Scenario)>, Vec<FileError>> {
    let files = expand(paths).map_err(|e| vec![e])?;
    let mut plans: Vec<(PathBuf, FilePlan)> = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load(&f) {
            Ok(plan) => {
                if let Some((other, _)) = plans.iter().find(|(_, p)| p.name == plan.name) {
                    errors.push(FileError {
                        file: f.clone(),
                        line: None,
                        column: None,
                        message: format!(
                            "scenario name {:?} is also {}'s: names must be unique",
                            plan.name,
                            other.display()
                        ),
                    });
                } else {
                    plans.push((f, plan));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(plans.into_iter().map(|(f, p)| (f, p.scenario())).collect())
    } else {
        Err(errors)
    }
}
