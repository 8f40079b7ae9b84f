//! Linux's `net.ipv4` sysctls onto the stack's configuration.
//!
//! A script's shell commands (see [`super::shell`]) set sysctls; [`Host`]
//! records every value and maps each onto [`TcpConfig`] (and the
//! endpoint's SYN-cookie switch) as Linux derives its per-connection
//! settings from it. Three kinds:
//!
//! - modelled: the value sets a field (`tcp_sack`, `tcp_timestamps`,
//!   `tcp_rmem` with the window scale derived as Linux's
//!   `tcp_select_initial_window` does, `tcp_syn_retries`, ...);
//! - not modelled: the stack lacks the behaviour (RACK, TLP, TFO, ECN,
//!   pacing, TSO...). The value is recorded, and when it asks for more
//!   than the stack does (a value other than "off" or Linux's default
//!   where that changes nothing here) one warning names the sysctl and
//!   says so;
//! - unknown: a warning naming it.
//!
//! A malformed value (not a number, too many fields, out of Linux's
//! range) is a script error naming the line and the value.

use super::ScriptError;
use super::shell::Origin;
use stack::cc::CongestionAlgorithm;
use stack::{Duration, EcnMode, Keepalive, TcpConfig};
use std::collections::{BTreeMap, BTreeSet};

/// Linux's net.core.rmem_max at boot (SK_RMEM_MAX: 212992 bytes).
pub const LINUX_RMEM_MAX: u64 = 212_992;

/// Linux's default net.ipv4.tcp_rmem (min, default, max).
pub const LINUX_TCP_RMEM: [u64; 3] = [4096, 131_072, 6_291_456];

/// The simulated host's sysctls: what the script set, and what it means
/// for the connections created afterwards.
#[derive(Clone, Debug)]
pub struct Host {
    /// Every sysctl set, by dotted name, with its last value as written.
    pub values: BTreeMap<String, String>,
    /// The values `set_sysctls.py` replaced, first write first: what
    /// running its restore file puts back.
    saved: Vec<(String, Option<String>)>,
    rmem: [u64; 3],
    rmem_max: u64,
    window_scaling: bool,
    /// Keepalive timing a socket starts with (SO_KEEPALIVE turns it on).
    pub keepalive: Keepalive,
    /// Sysctls already warned about (one warning each per script).
    warned: BTreeSet<String>,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

/// What setting one sysctl means.
enum Meaning {
    /// Applied to the configuration.
    Modelled,
    /// Recorded; this warning says what is missing.
    NotModelled(String),
}

impl Host {
    /// A host as Linux boots, before any command.
    pub fn new() -> Host {
        Host {
            values: BTreeMap::new(),
            saved: Vec::new(),
            rmem: LINUX_TCP_RMEM,
            rmem_max: LINUX_RMEM_MAX,
            window_scaling: true,
            keepalive: Keepalive::default(),
            warned: BTreeSet::new(),
        }
    }

    /// Sets `name` to `value` (as a command wrote it) and applies it to
    /// `tcp` and `syn_cookies`. `saves` (set_sysctls.py) remembers the
    /// previous value for [`Host::restore`]. Warnings go to `warnings`.
    #[allow(clippy::too_many_arguments)]
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        origin: &Origin,
        saves: bool,
        tcp: &mut TcpConfig,
        syn_cookies: &mut bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), ScriptError> {
        let value = value.trim();
        let meaning = self
            .apply(name, value, tcp, syn_cookies)
            .map_err(|why| origin.error(format!("sysctl {name}={value:?}: {why}")))?;
        if saves {
            let before = self.values.get(name).cloned();
            self.saved.push((name.to_string(), before));
        }
        self.values.insert(name.to_string(), value.to_string());
        if let Meaning::NotModelled(why) = meaning
            && self.warned.insert(name.to_string())
        {
            warnings.push(origin.warning(format_args!("sysctl {name}={value}: {why}")));
        }
        Ok(())
    }

    /// Runs `set_sysctls.py`'s restore file: every value it replaced goes
    /// back (a sysctl it set for the first time goes back to Linux's
    /// default).
    pub fn restore(
        &mut self,
        origin: &Origin,
        tcp: &mut TcpConfig,
        syn_cookies: &mut bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), ScriptError> {
        let saved = std::mem::take(&mut self.saved);
        for (name, before) in saved.into_iter().rev() {
            match before {
                Some(v) => self.set(&name, &v, origin, false, tcp, syn_cookies, warnings)?,
                None => match linux_default(&name) {
                    Some(v) => self.set(&name, v, origin, false, tcp, syn_cookies, warnings)?,
                    None => {
                        self.values.remove(&name);
                    }
                },
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        name: &str,
        value: &str,
        tcp: &mut TcpConfig,
        syn_cookies: &mut bool,
    ) -> Result<Meaning, String> {
        let Some(short) = name.strip_prefix("net.ipv4.") else {
            if name == "net.core.rmem_max" {
                self.rmem_max = int_in(value, 0, i32::MAX as i64)? as u64;
                self.derive_window(tcp);
                return Ok(Meaning::Modelled);
            }
            return Ok(Meaning::NotModelled(format!(
                "unknown sysctl {name}: tcpsim does not model it"
            )));
        };
        let not = |what: &str| Ok(Meaning::NotModelled(format!("not modelled yet: {what}")));
        let modelled = Ok(Meaning::Modelled);
        // A sysctl whose only modelled value is `off` (the stack lacks the
        // behaviour the others ask for), read in [lo, hi].
        let modelled_only_at = |lo: i64, hi: i64, off: i64, what: &str| {
            if int_in(value, lo, hi)? == off {
                Ok(Meaning::Modelled)
            } else {
                not(what)
            }
        };
        match short {
            "tcp_rmem" => {
                self.rmem = triple(value, self.rmem)?;
                tcp.recv_buffer = self.rmem[2] as usize;
                tcp.recv_buffer_initial = self.rmem[1] as usize;
                self.derive_window(tcp);
                modelled
            }
            "tcp_wmem" => {
                let w = triple(value, [4096, 16_384, 4_194_304])?;
                tcp.send_buffer = w[2] as usize;
                if w[1] == w[2] {
                    modelled
                } else {
                    Ok(Meaning::NotModelled(format!(
                        "not modelled yet: send buffer autotuning (the buffer is its maximum, {} bytes, from the start; Linux's starts at {} and grows)",
                        w[2], w[1]
                    )))
                }
            }
            "tcp_window_scaling" => {
                self.window_scaling = int_in(value, 0, 1)? != 0;
                self.derive_window(tcp);
                modelled
            }
            "tcp_timestamps" => {
                // 1: on with a per-connection offset; 2: on without one
                // (the runner pins the clock's offset either way).
                tcp.timestamps = int_in(value, 0, 2)? != 0;
                modelled
            }
            "tcp_sack" => {
                tcp.sack = int_in(value, 0, 1)? != 0;
                modelled
            }
            "tcp_dsack" => {
                tcp.dsack = int_in(value, 0, 1)? != 0;
                modelled
            }
            "tcp_syn_retries" => {
                tcp.syn_retries = int_in(value, 1, 127)? as u32;
                modelled
            }
            "tcp_synack_retries" => {
                tcp.synack_retries = int_in(value, 0, 255)? as u32;
                modelled
            }
            "tcp_retries2" => {
                tcp.data_retries = int_in(value, 0, 255)? as u32;
                modelled
            }
            "tcp_congestion_control" => match value {
                "cubic" => {
                    tcp.congestion = CongestionAlgorithm::Cubic;
                    modelled
                }
                "reno" => {
                    tcp.congestion = CongestionAlgorithm::NewReno;
                    modelled
                }
                v if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    Ok(Meaning::NotModelled(format!(
                        "{v} is not modelled (tcpsim has cubic and reno); connections keep {}",
                        match tcp.congestion {
                            CongestionAlgorithm::Cubic => "cubic",
                            CongestionAlgorithm::NewReno => "reno",
                        }
                    )))
                }
                _ => Err("not a congestion control name".into()),
            },
            "tcp_rfc1337" => {
                tcp.rfc1337 = int_in(value, 0, 1)? != 0;
                modelled
            }
            "tcp_invalid_ratelimit" => {
                tcp.invalid_ack_ratelimit =
                    Duration::from_millis(int_in(value, 0, i32::MAX as i64)? as u64);
                modelled
            }
            "tcp_challenge_ack_limit" => {
                tcp.challenge_ack_limit = int_in(value, 0, i32::MAX as i64)? as u32;
                modelled
            }
            "tcp_syncookies" => match int_in(value, 0, 2)? {
                0 => {
                    *syn_cookies = false;
                    modelled
                }
                1 => {
                    *syn_cookies = true;
                    modelled
                }
                _ => {
                    *syn_cookies = true;
                    not("2 (cookies for every SYN, not only when the queue is full)")
                }
            },
            "tcp_fin_timeout" => {
                tcp.fin_wait_2_timeout =
                    Duration::from_secs(int_in(value, 0, i32::MAX as i64)? as u64);
                modelled
            }
            "tcp_keepalive_time" => {
                self.keepalive.idle = Duration::from_secs(int_in(value, 1, 32_767)? as u64);
                modelled
            }
            "tcp_keepalive_intvl" => {
                self.keepalive.interval = Duration::from_secs(int_in(value, 1, 32_767)? as u64);
                modelled
            }
            "tcp_keepalive_probes" => {
                self.keepalive.probes = int_in(value, 1, 127)? as u32;
                modelled
            }
            // The stack's DupThresh is RFC 6675's 3.
            "tcp_reordering" => modelled_only_at(1, 300, 3, "a DupThresh other than 3"),
            // The stack never restarts slow start after idle (RFC 5681 §4.1).
            "tcp_slow_start_after_idle" => {
                modelled_only_at(0, 1, 0, "restarting slow start after idle (RFC 5681 §4.1)")
            }
            "tcp_frto" => modelled_only_at(0, 2, 0, "F-RTO (RFC 5682)"),
            // Linux removed FACK in 4.15: the sysctl is accepted and does
            // nothing there either.
            "tcp_fack" => {
                int_in(value, 0, 1)?;
                modelled
            }
            // 3 and 4 enable the tail loss probe (RFC 8985 §7); 0-2
            // only the early retransmit Linux no longer has.
            "tcp_early_retrans" => {
                let v = int_in(value, 0, 4)?;
                tcp.tlp = v >= 3;
                modelled
            }
            // Bit 0x1: RACK loss detection (RFC 8985). Bits 0x2 (static
            // reordering window) and 0x4 (no duplicate threshold) are not
            // modelled.
            "tcp_recovery" => {
                let v = int_in(value, 0, 255)?;
                tcp.rack = v & 1 != 0;
                if v & 6 == 0 {
                    modelled
                } else {
                    not(
                        "RACK's static reordering window and disabled DupThresh (tcp_recovery bits 0x2, 0x4)",
                    )
                }
            }
            // 0 off, 1 ask and agree, 2 agree only (Linux's default);
            // 3-5 involve Accurate ECN, which the stack does not have.
            "tcp_ecn" => match int_in(value, 0, 5)? {
                0 => {
                    tcp.ecn = EcnMode::Off;
                    modelled
                }
                1 => {
                    tcp.ecn = EcnMode::On;
                    modelled
                }
                2 => {
                    tcp.ecn = EcnMode::Passive;
                    modelled
                }
                _ => not("Accurate ECN (AccECN)"),
            },
            // Fallback (1, the default) is what the stack does: a
            // retransmitted SYN no longer asks for ECN.
            "tcp_ecn_fallback" => {
                modelled_only_at(0, 1, 1, "sending ECN-setup SYNs again after a timeout")
            }
            "tcp_ecn_option" | "tcp_ecn_option_beacon" => {
                int_in(value, 0, i32::MAX as i64)?;
                not("Accurate ECN (AccECN) options")
            }
            // Modelled bits (see `Host::fast_open`): 0x1 and 0x4 (client),
            // 0x2, 0x200 and 0x400 (server); the others (0x10000 and up:
            // the key's sources, per-route settings) change nothing here.
            "tcp_fastopen" => {
                int_in(value, 0, i32::MAX as i64)?;
                modelled
            }
            "tcp_fastopen_key" => {
                fastopen_key(value)?;
                modelled
            }
            "tcp_fastopen_blackhole_timeout_sec" => {
                int_in(value, 0, i32::MAX as i64)?;
                not("TCP Fast Open (RFC 7413)")
            }
            "tcp_pacing_ss_ratio" | "tcp_pacing_ca_ratio" => {
                let v = int_in(value, 0, 1000)?;
                // With Linux's defaults (200 and 120) and no fq qdisc,
                // Linux does not pace either: the ratios only shape the
                // pacing rate it reports.
                if v == if short == "tcp_pacing_ss_ratio" {
                    200
                } else {
                    120
                } {
                    modelled
                } else {
                    not("pacing")
                }
            }
            "tcp_notsent_lowat" => {
                if int_in(value, 0, u32::MAX as i64)? == u32::MAX as i64 {
                    modelled
                } else {
                    not("a limit on unsent bytes (TCP_NOTSENT_LOWAT)")
                }
            }
            "tcp_min_tso_segs" => {
                // Linux: 1..=S32_MAX; the floor of a TSO packet's size,
                // which is where Linux's PSH goes (stack/src/conn/push.rs).
                tcp.min_tso_segs = int_in(value, 1, i32::MAX as i64)? as u32;
                modelled
            }
            "tcp_tso_win_divisor" | "tcp_tso_rtt_log" => {
                int_in(value, 0, i32::MAX as i64)?;
                not("TSO (tcpsim sends MSS-sized segments)")
            }
            "tcp_autocorking" | "tcp_limit_output_bytes" => {
                int_in(value, 0, i32::MAX as i64)?;
                not("TCP small queues and autocorking")
            }
            "tcp_min_rtt_wlen" => modelled_only_at(
                0,
                86_400,
                300,
                "a windowed min-RTT filter (used by RACK and BBR)",
            ),
            "tcp_mtu_probing" => {
                modelled_only_at(0, 2, 0, "packetization-layer PMTU discovery (RFC 4821)")
            }
            "tcp_base_mss"
            | "tcp_mtu_probe_floor"
            | "tcp_probe_threshold"
            | "tcp_probe_interval" => {
                int_in(value, 0, i32::MAX as i64)?;
                not("packetization-layer PMTU discovery (RFC 4821)")
            }
            "tcp_syn_linear_timeouts" => {
                modelled_only_at(0, 10, 0, "linear SYN retransmission timeouts")
            }
            "tcp_moderate_rcvbuf"
            | "tcp_adv_win_scale"
            | "tcp_app_win"
            | "tcp_workaround_signed_windows"
            | "tcp_no_metrics_save"
            | "tcp_thin_linear_timeouts"
            | "tcp_max_syn_backlog"
            | "tcp_abort_on_overflow"
            | "tcp_retries1"
            | "tcp_orphan_retries"
            | "tcp_tw_reuse"
            | "tcp_comp_sack_nr"
            | "tcp_comp_sack_delay_ns"
            | "tcp_comp_sack_slack_ns"
            | "tcp_shrink_window"
            | "tcp_backlog_ack_defer"
            | "tcp_rto_min_us"
            | "tcp_stdurg"
            | "tcp_max_reordering"
            | "tcp_thin_dupack"
            | "tcp_rfc1337_strict" => {
                int_in(value, i32::MIN as i64, u32::MAX as i64)?;
                not("this setting")
            }
            _ => Ok(Meaning::NotModelled(format!(
                "unknown sysctl {name}: tcpsim does not model it"
            ))),
        }
    }

    /// The window scale as Linux's tcp_select_initial_window derives it
    /// (net/ipv4/tcp_output.c): the shift that makes the largest window
    /// the socket may ever offer, max(tcp_rmem[2], net.core.rmem_max),
    /// fit in 16 bits, at most 14 (RFC 7323 §2.3).
    fn derive_window(&self, tcp: &mut TcpConfig) {
        tcp.window_scale = self
            .window_scaling
            .then(|| stack::linux_window_scale(self.rmem[2].max(self.rmem_max)));
    }
}

/// Linux's boot value of the sysctls the restore file may put back.
fn linux_default(name: &str) -> Option<&'static str> {
    Some(match name.strip_prefix("net.ipv4.")? {
        "tcp_timestamps" | "tcp_sack" | "tcp_window_scaling" | "tcp_dsack" => "1",
        "tcp_rmem" => "4096 131072 6291456",
        "tcp_wmem" => "4096 16384 4194304",
        "tcp_syn_retries" => "6",
        "tcp_synack_retries" => "5",
        "tcp_retries2" => "15",
        "tcp_congestion_control" => "cubic",
        "tcp_rfc1337" => "0",
        "tcp_invalid_ratelimit" => "500",
        "tcp_challenge_ack_limit" => "2147483647",
        "tcp_syncookies" => "1",
        "tcp_fin_timeout" => "60",
        "tcp_keepalive_time" => "7200",
        "tcp_keepalive_intvl" => "75",
        "tcp_keepalive_probes" => "9",
        "tcp_reordering" => "3",
        "tcp_slow_start_after_idle" => "1",
        "tcp_frto" => "2",
        "tcp_early_retrans" => "3",
        "tcp_recovery" => "1",
        "tcp_ecn" => "2",
        "tcp_fastopen" => "1",
        "tcp_notsent_lowat" => "4294967295",
        "tcp_min_tso_segs" => "2",
        "tcp_tso_win_divisor" => "3",
        "tcp_min_rtt_wlen" => "300",
        "tcp_pacing_ss_ratio" => "200",
        "tcp_pacing_ca_ratio" => "120",
        "tcp_mtu_probing" => "0",
        _ => return None,
    })
}

/// An integer as the kernel's proc handlers read it (decimal, `0x` hex, a
/// leading `-`), within `lo..=hi`.
fn int_in(value: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let v = value.trim();
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let parsed = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => i64::from_str_radix(h, 16),
        None => digits.parse::<i64>(),
    }
    .map_err(|_| "not an integer".to_string())?;
    let n = if neg { -parsed } else { parsed };
    if !(lo..=hi).contains(&n) {
        return Err(format!("{n} is outside {lo}..={hi}"));
    }
    Ok(n)
}

/// `tcp_rmem` / `tcp_wmem`: up to three integers separated by blanks;
/// fields not given keep `current`'s, as the kernel's vector handler does.
fn triple(value: &str, current: [u64; 3]) -> Result<[u64; 3], String> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    if fields.is_empty() || fields.len() > 3 {
        return Err("expected min, default and max: three integers".into());
    }
    let mut out = current;
    for (i, f) in fields.iter().enumerate() {
        out[i] = int_in(f, 1, i32::MAX as i64)? as u64;
    }
    Ok(out)
}

impl Host {
    /// The server-side Fast Open settings the script's `tcp_fastopen` and
    /// `tcp_fastopen_key` ask for (Linux's default `tcp_fastopen=1` has no
    /// server side; without a key, the endpoint derives one from its seed,
    /// as Linux draws one at boot).
    pub fn fast_open(&self) -> stack::FastOpenConfig {
        let bits = self
            .values
            .get("net.ipv4.tcp_fastopen")
            .and_then(|v| int_in(v, 0, i32::MAX as i64).ok())
            .unwrap_or(1);
        stack::FastOpenConfig {
            key: self
                .values
                .get("net.ipv4.tcp_fastopen_key")
                .and_then(|k| stack::FastOpenConfig::parse_key(k).ok()),
            ..stack::FastOpenConfig::from_sysctl(bits as u32)
        }
    }
}

/// `a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4` (a primary key, optionally a
/// comma and a backup key): four groups of up to 8 hex digits each.
fn fastopen_key(value: &str) -> Result<(), String> {
    for key in value.split(',') {
        let groups: Vec<&str> = key.trim().split('-').collect();
        let ok = groups.len() == 4
            && groups
                .iter()
                .all(|g| !g.is_empty() && g.len() <= 8 && g.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err("expected a key of four dash-separated groups of hex digits".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(host: &mut Host, tcp: &mut TcpConfig, name: &str, value: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut cookies = true;
        let origin = Origin {
            file: "t.pkt".into(),
            line: 7,
        };
        host.set(
            name,
            value,
            &origin,
            false,
            tcp,
            &mut cookies,
            &mut warnings,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        warnings
    }

    #[test]
    fn the_window_scale_is_derived_as_linux_does() {
        // Why: measured with packetdrill on Linux 6.18 (SYN-ACK `wscale`):
        // tcp_rmem max 15 MiB gives 8, 6 MiB gives 7, 8 MiB - 1 gives 7
        // and 8 MiB gives 8; a max below net.core.rmem_max uses that.
        let mut host = Host::new();
        let mut tcp = TcpConfig::default();
        for (rmem, ws) in [
            ("4096 540000 15728640", 8),
            ("4096 131072 6291456", 7),
            ("4096 87380 8388607", 7),
            ("4096 87380 8388608", 8),
            ("4096 87380 100000", 2),
        ] {
            assert!(set(&mut host, &mut tcp, "net.ipv4.tcp_rmem", rmem).is_empty());
            assert_eq!(tcp.window_scale, Some(ws), "{rmem}");
        }
        set(&mut host, &mut tcp, "net.core.rmem_max", "4194304");
        assert_eq!(tcp.window_scale, Some(7), "rmem_max counts too");
        set(&mut host, &mut tcp, "net.ipv4.tcp_window_scaling", "0");
        assert_eq!(tcp.window_scale, None);
    }

    #[test]
    fn the_linux_profile_is_what_linux_boot_sysctls_derive() {
        // Why: TcpConfig::linux() claims to be Linux 6.x's boot
        // configuration; setting Linux's boot values of the sysctls the
        // stack models, over the RFC profile, must arrive at it.
        let mut host = Host::new();
        // Linux's PSH marking, cwnd-limited slow start and limited
        // transmit are its code, not a sysctl: no value selects them, so
        // they start set.
        let mut tcp = TcpConfig {
            linux_push: true,
            linux_slow_start: true,
            limited_transmit: true,
            ..TcpConfig::default()
        };
        for (name, value) in [
            ("net.ipv4.tcp_rmem", "4096 131072 6291456"),
            ("net.ipv4.tcp_congestion_control", "cubic"),
            ("net.ipv4.tcp_rfc1337", "0"),
            ("net.ipv4.tcp_syn_retries", "6"),
            ("net.ipv4.tcp_synack_retries", "5"),
            ("net.ipv4.tcp_retries2", "15"),
            ("net.ipv4.tcp_timestamps", "1"),
            ("net.ipv4.tcp_sack", "1"),
            ("net.ipv4.tcp_dsack", "1"),
            ("net.ipv4.tcp_fin_timeout", "60"),
            ("net.ipv4.tcp_invalid_ratelimit", "500"),
            ("net.ipv4.tcp_challenge_ack_limit", "2147483647"),
            ("net.ipv4.tcp_ecn", "2"),
            ("net.ipv4.tcp_recovery", "1"),
            ("net.ipv4.tcp_early_retrans", "3"),
        ] {
            assert_eq!(linux_default(name), Some(value), "{name}");
            assert!(set(&mut host, &mut tcp, name, value).is_empty(), "{name}");
        }
        // PRR and the undo have no sysctl: Linux always runs them.
        tcp.prr = true;
        tcp.undo = true;
        let linux = TcpConfig::linux();
        assert_eq!(format!("{tcp:?}"), format!("{linux:?}"));
    }

    #[test]
    fn unmodelled_and_unknown_sysctls_warn_once_by_name() {
        // Why: a setting the stack cannot honour must never pass silently.
        let mut host = Host::new();
        let mut tcp = TcpConfig::default();
        let w = set(&mut host, &mut tcp, "net.ipv4.tcp_recovery", "3");
        assert_eq!(
            w,
            [
                "t.pkt:7: sysctl net.ipv4.tcp_recovery=3: not modelled yet: RACK's static reordering window and disabled DupThresh (tcp_recovery bits 0x2, 0x4)"
            ]
        );
        assert!(set(&mut host, &mut tcp, "net.ipv4.tcp_recovery", "3").is_empty());
        assert_eq!(host.values["net.ipv4.tcp_recovery"], "3", "recorded");
        assert!(
            set(&mut host, &mut tcp, "net.ipv4.tcp_ecn", "0").is_empty(),
            "off is what we do"
        );
        let w = set(&mut host, &mut tcp, "net.ipv4.tcp_frobnicate", "1");
        assert_eq!(
            w,
            [
                "t.pkt:7: sysctl net.ipv4.tcp_frobnicate=1: unknown sysctl net.ipv4.tcp_frobnicate: tcpsim does not model it"
            ]
        );
    }

    #[test]
    fn malformed_values_name_line_and_value() {
        // Why: a typo in a value must stop the script where it is written.
        let mut host = Host::new();
        let mut tcp = TcpConfig::default();
        let mut cookies = true;
        let origin = Origin {
            file: "t.pkt".into(),
            line: 4,
        };
        for (name, value, why) in [
            ("net.ipv4.tcp_sack", "yes", "not an integer"),
            ("net.ipv4.tcp_sack", "2", "2 is outside 0..=1"),
            ("net.ipv4.tcp_rmem", "1 2 3 4", "three integers"),
            ("net.ipv4.tcp_fastopen_key", "a1-b2", "four dash-separated"),
        ] {
            let e = host
                .set(
                    name,
                    value,
                    &origin,
                    false,
                    &mut tcp,
                    &mut cookies,
                    &mut Vec::new(),
                )
                .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("t.pkt:4: sysctl {name}={value:?}: ")),
                "{e}"
            );
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn the_restore_file_puts_back_what_set_sysctls_replaced() {
        // Why: gtests set a sysctl with set_sysctls.py and run
        // /tmp/sysctl_restore_${PPID}.sh later: the old value returns.
        let mut host = Host::new();
        let mut tcp = TcpConfig::default();
        let mut cookies = true;
        let o = Origin {
            file: "t.pkt".into(),
            line: 1,
        };
        let mut w = Vec::new();
        host.set(
            "net.ipv4.tcp_timestamps",
            "1",
            &o,
            false,
            &mut tcp,
            &mut cookies,
            &mut w,
        )
        .unwrap();
        host.set(
            "net.ipv4.tcp_timestamps",
            "0",
            &o,
            true,
            &mut tcp,
            &mut cookies,
            &mut w,
        )
        .unwrap();
        host.set(
            "net.ipv4.tcp_sack",
            "0",
            &o,
            true,
            &mut tcp,
            &mut cookies,
            &mut w,
        )
        .unwrap();
        assert!(!tcp.timestamps && !tcp.sack);
        host.restore(&o, &mut tcp, &mut cookies, &mut w).unwrap();
        assert!(tcp.timestamps && tcp.sack);
    }
}
