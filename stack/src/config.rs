//! Configuration, with defaults close to Linux's (documented per field).

use crate::cc::CongestionAlgorithm;
use crate::time::Duration;

/// The smallest MSS a connection uses (Linux's TCP_MIN_MSS: 88 octets).
pub const TCP_MIN_MSS: u16 = 88;

/// Per-connection settings.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// MSS we announce: 1460 for a 1500-byte IPv4 path (RFC 9293 §3.7.1, RFC 6691).
    /// A connection raises a smaller value to [`TCP_MIN_MSS`], as Linux
    /// refuses a TCP_MAXSEG below it.
    pub mss: u16,
    /// Receive buffer in bytes (Linux's tcp_rmem maximum: 6 MiB).
    pub recv_buffer: usize,
    /// The receive buffer a socket starts with (Linux's tcp_rmem default:
    /// 128 KiB). Half of it is the space the SYN's window is offered from,
    /// as Linux's tcp_full_space at the handshake (its default scaling
    /// ratio keeps half of the buffer for the window).
    pub recv_buffer_initial: usize,
    /// Send buffer in bytes (Linux's tcp_wmem maximum: 4 MiB).
    pub send_buffer: usize,
    /// RFC 7323 window scaling; our shift when on (Linux with default buffers: 7).
    pub window_scale: Option<u8>,
    /// RFC 7323 timestamps.
    pub timestamps: bool,
    /// RFC 2883 D-SACK: report a duplicate segment in the first SACK block
    /// (Linux tcp_dsack: on). Takes effect with SACK.
    pub dsack: bool,
    /// RFC 2018 SACK-permitted. When both ends permit it we report SACK
    /// blocks as a receiver and recover losses per RFC 6675 as a sender;
    /// otherwise loss recovery is RFC 6582 NewReno.
    pub sack: bool,
    /// RFC 8985 RACK: loss detection by time (the reordering window, the
    /// reorder timer) in place of RFC 6675's duplicate threshold, and
    /// Linux's recovery around it (lost segments first, then new data).
    /// Takes effect with SACK. Off by default (RFC 6675); on in
    /// [`TcpConfig::linux`] (tcp_recovery=1).
    pub rack: bool,
    /// RFC 8985 §7 tail loss probe (needs `rack`): a probe after 2·SRTT
    /// instead of waiting for the RTO. On in [`TcpConfig::linux`]
    /// (tcp_early_retrans=3).
    pub tlp: bool,
    /// RFC 6937 proportional rate reduction in SACK and RACK recovery,
    /// with the slow-start reduction bound, as Linux's tcp_cwnd_reduction.
    /// Off by default (RFC 6675's cwnd = ssthresh); on in [`TcpConfig::linux`].
    pub prr: bool,
    /// Undo a window reduction that D-SACKs or timestamps show spurious
    /// (RFC 3708, RFC 3522; Linux's tcp_try_undo_*), in RACK recovery.
    /// On in [`TcpConfig::linux`].
    pub undo: bool,
    /// Nagle's algorithm (RFC 9293 §3.7.4); `false` is TCP_NODELAY.
    pub nagle: bool,
    /// Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): `None` ACKs every
    /// segment at once. Linux's minimum ATO is 40 ms.
    pub delayed_ack: Option<Duration>,
    /// Segments ACKed at once at the start of a connection before delaying
    /// (Linux's quick-ack mode: up to 16).
    pub quick_ack_segments: u32,
    /// The RTO before any RTT sample (RFC 6298 §2.1: 1 s); also the SYN's.
    pub rto_initial: Duration,
    /// Linux's TCP_RTO_MIN (200 ms); RFC 6298 §2.4 suggests 1 s.
    pub rto_min: Duration,
    /// Linux's TCP_RTO_MAX (120 s).
    pub rto_max: Duration,
    /// SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions (Linux tcp_synack_retries: 5).
    pub synack_retries: u32,
    /// Data retransmissions before ETIMEDOUT (Linux tcp_retries2: 15).
    pub data_retries: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts 2·MSL (Linux: 60 s total).
    pub msl: Duration,
    /// How long an orphaned FIN-WAIT-2 waits (Linux tcp_fin_timeout: 60 s).
    pub fin_wait_2_timeout: Duration,
    /// Keepalive (RFC 9293 §3.8.4); off by default.
    pub keepalive: Option<Keepalive>,
    /// RFC 1337: ignore RST in TIME-WAIT. On by default (Linux's is off).
    pub rfc1337: bool,
    /// RFC 5961 §7: challenge ACKs per second per connection.
    pub challenge_ack_limit: u32,
    /// Linux's net.ipv4.tcp_invalid_ratelimit: at most one ACK per interval
    /// in reply to unacceptable segments (challenge ACKs, dup ACKs).
    pub invalid_ack_ratelimit: Duration,
    /// The congestion controller new connections run (default NewReno).
    pub congestion: CongestionAlgorithm,
    /// Explicit Congestion Notification (RFC 3168): whether a connection
    /// asks for it in its SYN, agrees to it in its SYN-ACK, or neither.
    /// Off by default; the Linux profile has Linux's `tcp_ecn=2`, `Passive`.
    pub ecn: EcnMode,
    /// Linux's PSH and burst rules (`conn/push.rs`): besides the end of
    /// each write, PSH on every TSO packet of two segments or more, on the
    /// buffers forced_push marks within a long write, and on what the
    /// persist timer sends (tcp_write_wakeup). Off: PSH only where a write
    /// ended (RFC 9293 §3.9.1). On in [`TcpConfig::linux`].
    pub linux_push: bool,
    /// Linux's slow start (tcp_slow_start, tcp_is_cwnd_limited): cwnd
    /// grows by the segments acknowledged, only while the sender was
    /// limited by cwnd (RFC 7661 §4.3 style). Off: RFC 5681 §3.1 byte
    /// counting whatever the sender was limited by. On in [`TcpConfig::linux`].
    pub linux_slow_start: bool,
    /// RFC 3042 limited transmit for a connection without SACK: each of
    /// the first two duplicate ACKs lets one new segment out beyond cwnd
    /// (RFC 5681 §3.2 SHOULD; Linux does it through Reno's `sacked_out`).
    /// Off in the default profile, which keeps the catalogue's
    /// NewReno-without-SACK traces as they were; on in [`TcpConfig::linux`].
    pub limited_transmit: bool,
    /// Linux's tcp_min_tso_segs (2): the fewest segments the TSO autosize
    /// goal allows, which sizes the packets [`TcpConfig::linux_push`] marks.
    pub min_tso_segs: u32,
    /// Pin the ISN (wraparound tests); `None` uses RFC 6528.
    pub isn: Option<u32>,
    /// Pin the timestamp clock's offset (RFC 7323 §5.4: TSval = ms since
    /// start + offset); `None` keys it per 4-tuple, as Linux does.
    pub ts_offset: Option<u32>,
}

/// When a connection uses ECN (RFC 3168 §6.1.1), as Linux's `tcp_ecn`
/// sysctl: 0 `Off`, 1 `On`, 2 `Passive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EcnMode {
    /// Never: no ECE/CWR in the SYN, and a SYN asking for ECN gets a
    /// SYN-ACK without ECE.
    #[default]
    Off,
    /// Ask for ECN when opening (SYN with ECE and CWR) and agree to it
    /// when a peer asks.
    On,
    /// Agree to ECN when a peer asks, never ask (Linux's default).
    Passive,
}

impl EcnMode {
    /// Whether an active open asks for ECN.
    pub fn initiates(self) -> bool {
        self == EcnMode::On
    }
    /// Whether a passive open agrees to a peer's request.
    pub fn accepts(self) -> bool {
        self != EcnMode::Off
    }
}

/// Keepalive: idle time before the first probe, interval, probes before giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time with nothing received before the first probe (Linux tcp_keepalive_time).
    pub idle: Duration,
    /// Time between unanswered probes (Linux tcp_keepalive_intvl).
    pub interval: Duration,
    /// Unanswered probes before the connection fails with `ETIMEDOUT` (Linux tcp_keepalive_probes).
    pub probes: u32,
}

impl Default for Keepalive {
    /// Linux: 7200 s idle, 75 s interval, 9 probes.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            recv_buffer: 6 * 1024 * 1024,
            recv_buffer_initial: 128 * 1024,
            send_buffer: 4 * 1024 * 1024,
            window_scale: Some(7),
            timestamps: true,
            sack: true,
            dsack: true,
            rack: false,
            tlp: false,
            prr: false,
            undo: false,
            nagle: true,
            delayed_ack: Some(Duration::from_millis(40)),
            quick_ack_segments: 16,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            msl: Duration::from_secs(30),
            fin_wait_2_timeout: Duration::from_secs(60),
            keepalive: None,
            rfc1337: true,
            challenge_ack_limit: 1000,
            invalid_ack_ratelimit: Duration::from_millis(500),
            congestion: CongestionAlgorithm::NewReno,
            ecn: EcnMode::Off,
            linux_push: false,
            linux_slow_start: false,
            limited_transmit: false,
            min_tso_segs: 2,
            isn: None,
            ts_offset: None,
        }
    }
}

impl TcpConfig {
    /// What Linux 6.x boots with, as far as the stack models it: the
    /// default's buffers and timers (tcp_rmem max 6 MiB, so window scale
    /// 7 as tcp_select_initial_window derives it; initial buffer 128 KiB;
    /// tcp_syn_retries 6, tcp_synack_retries 5, tcp_retries2 15; RTO
    /// 1 s / 200 ms / 120 s; delayed ACK 40 ms after quick ACKs; SACK,
    /// D-SACK, timestamps), with CUBIC (tcp_congestion_control), RFC 1337
    /// off (tcp_rfc1337=0) and no global challenge-ACK budget to speak of
    /// (tcp_challenge_ack_limit is INT_MAX on Linux 6.18; the per-socket
    /// tcp_invalid_ratelimit still applies), and Linux's loss recovery:
    /// RACK-TLP (RFC 8985), PRR (RFC 6937) and the D-SACK/timestamp undo.
    /// Linux behaviour the stack does not model yet (F-RTO, slow start
    /// after idle, linear early SYN timeouts, pacing) is absent here too;
    /// docs/packetdrill.md lists it.
    pub fn linux() -> TcpConfig {
        TcpConfig {
            window_scale: Some(linux_window_scale(6 * 1024 * 1024)),
            congestion: CongestionAlgorithm::Cubic,
            ecn: EcnMode::Passive,
            rfc1337: false,
            challenge_ack_limit: i32::MAX as u32,
            rack: true,
            tlp: true,
            prr: true,
            undo: true,
            linux_push: true,
            linux_slow_start: true,
            limited_transmit: true,
            ..TcpConfig::default()
        }
    }

    /// A plain RFC 9293 connection: no window scaling, timestamps or SACK,
    /// no delayed ACK. Handy for tests that read raw sequence numbers.
    pub fn plain() -> TcpConfig {
        TcpConfig {
            window_scale: None,
            timestamps: false,
            sack: false,
            delayed_ack: None,
            ..TcpConfig::default()
        }
    }
}

/// The window scale Linux announces for a socket whose window may grow to
/// `space` bytes: the smallest shift that makes `space` fit in the 16-bit
/// window field, at most 14 (RFC 7323 §2.3). Linux's
/// tcp_select_initial_window (net/ipv4/tcp_output.c) takes `space` as
/// `max(tcp_rmem[2], net.core.rmem_max)` and computes `ilog2(space) - 15`:
/// 6 MiB gives 7, 15 MiB gives 8.
pub fn linux_window_scale(space: u64) -> u8 {
    let space = space.min(u64::from(u16::MAX) << 14);
    if space == 0 {
        return 0;
    }
    let log2 = 63 - space.leading_zeros() as i64;
    (log2 - 15).clamp(0, 14) as u8
}

/// Per-endpoint settings.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The RFC 6528 secret (from the run's seed).
    pub secret: [u8; 16],
    /// Settings each new connection starts with.
    pub tcp: TcpConfig,
    /// Ephemeral port range (Linux: 32768..=60999).
    pub ephemeral_ports: (u16, u16),
    /// Answer SYNs statelessly with SYN cookies when a listener's SYN queue
    /// is full (RFC 4987 §3.6; Linux's tcp_syncookies=1). Off: drop them.
    pub syn_cookies: bool,
    /// TCP Fast Open as a server (RFC 7413); off by default, as Linux's
    /// `tcp_fastopen=1` enables only the client side.
    pub fast_open: FastOpenConfig,
}

/// TCP Fast Open (RFC 7413), as Linux's `tcp_fastopen` bits and
/// `tcp_fastopen_key` configure it: the client side (§4.1, used by
/// [`crate::Endpoint::connect_fast_open`]) and the server side (§4.2).
/// The default is all off; Linux boots with `tcp_fastopen=1` (the client
/// only), which [`FastOpenConfig::from_sysctl`] gives for 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastOpenConfig {
    /// Send data in the SYN with a cached cookie, and ask for a cookie
    /// when none is cached (`tcp_fastopen` bit 0x1, TFO_CLIENT_ENABLE).
    pub client: bool,
    /// Send data in the SYN without a cookie and without the Fast Open
    /// option (bit 0x4, TFO_CLIENT_NO_COOKIE).
    pub client_no_cookie: bool,
    /// Accept data in SYNs with a valid cookie (`tcp_fastopen` bit 0x2,
    /// TFO_SERVER_ENABLE), on listeners that asked for it
    /// ([`crate::Endpoint::set_fast_open`], TCP_FASTOPEN) or on every
    /// listener if `without_sockopt`.
    pub server: bool,
    /// Every listener does Fast Open without TCP_FASTOPEN, its queue as
    /// long as its backlog (bit 0x400, TFO_SERVER_WO_SOCKOPT1).
    pub without_sockopt: bool,
    /// Accept data in a SYN without a cookie (bit 0x200,
    /// TFO_SERVER_COOKIE_NOT_REQD).
    pub no_cookie: bool,
    /// The cookie key (`tcp_fastopen_key`: four 32-bit words, each stored
    /// little-endian, as Linux keeps it); `None`: derived from the
    /// endpoint's RFC 6528 secret, so the seed decides it.
    pub key: Option<[u8; 16]>,
}

impl FastOpenConfig {
    /// The bits of Linux's `net.ipv4.tcp_fastopen` value the stack
    /// models: 0x1 and 0x4 (client), 0x2, 0x200 and 0x400 (server).
    pub fn from_sysctl(value: u32) -> FastOpenConfig {
        FastOpenConfig {
            client: value & 0x1 != 0,
            client_no_cookie: value & 0x4 != 0,
            server: value & 0x2 != 0,
            without_sockopt: value & 0x400 != 0,
            no_cookie: value & 0x200 != 0,
            key: None,
        }
    }

    /// Parses `tcp_fastopen_key`'s text, `a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4`
    /// (four hex words; a backup key after a comma is accepted and not
    /// used), into the 16 bytes Linux's `proc_tcp_fastopen_key` stores.
    pub fn parse_key(text: &str) -> Result<[u8; 16], String> {
        let primary = text.trim().split(',').next().unwrap_or("");
        let words: Vec<&str> = primary.split('-').collect();
        if words.len() != 4 {
            return Err(format!(
                "tcp_fastopen_key {text:?}: expected four hex words joined by '-'"
            ));
        }
        let mut key = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            let v = u32::from_str_radix(w, 16).map_err(|_| {
                format!("tcp_fastopen_key {text:?}: {w:?} is not a 32-bit hex word")
            })?;
            key[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        Ok(key)
    }
}

impl EndpointConfig {
    /// [`TcpConfig::default`] settings, ephemeral ports 32768–60999 and SYN
    /// cookies on (as Linux), with the RFC 6528 ISN secret `secret`.
    pub fn new(secret: [u8; 16]) -> EndpointConfig {
        EndpointConfig {
            secret,
            tcp: TcpConfig::default(),
            ephemeral_ports: (32768, 60999),
            syn_cookies: true,
            fast_open: FastOpenConfig::default(),
        }
    }
}
