//! Packetdrill scripts in virtual time: `tcpsim script FILE.pkt...`.
//!
//! A script plays the remote host (192.0.2.1) against our stack, the local
//! host (192.168.0.1). `<` lines inject a segment into the stack, `>` lines
//! expect one from it, and system-call lines drive the stack's socket API
//! and check what each call returns. Time is virtual, so a script that
//! waits ten minutes for a keepalive runs in microseconds. Times are
//! judged as packetdrill judges them on a real host (an event may be off
//! by `--tolerance_usecs`, default 4000 µs, or by `--tolerance_percent`,
//! default 12.5%, of the time since the previous event when that is more:
//! packetdrill's config.c and run.c `verify_time`), so unchanged scripts
//! recorded on Linux pass; [`Options::exact`] (`tcpsim script --exact`)
//! makes every check exact but for the script's own `--tolerance_usecs`.
//! The team's own suite (`scenarios/scripts`) runs exact.
//!
//! # The language (packetdrill's meaning)
//!
//! - Comments `//` and `/* */`. Option lines before the first event:
//!   `--tolerance_usecs=N` (default 4000, or 0 under `--exact`),
//!   `--tolerance_percent=P` (default 12.5; none under `--exact`),
//!   `--ip_version=ipv4`, `--local_ip=A` and `--remote_ip=A` (the stack's
//!   and the script's IPv4 addresses, default 192.168.0.1 and 192.0.2.1 as
//!   packetdrill's run_all.py sets them); any other `--option` is ignored
//!   with a warning (they tune packetdrill's harness, not TCP). `tcpsim
//!   script -D NAME=VALUE` defines a symbol as packetdrill's `-D` does
//!   (run_all.py gives the suite `-D TFO_COOKIE=3021b9d889017eeb`):
//!   whole-word occurrences become VALUE before parsing.
//! - Shell commands: `` `cmd` `` blocks, on one line or several, with a
//!   time (`+0 `, `0 `) or without one (before the first event, between
//!   events, after the last: they run where they stand, as `+0`), become
//!   `EventKind::Shell` events holding the text between the backticks
//!   verbatim. tcpsim runs no programs: it reads the commands as the
//!   host's configuration ([`shell`], [`sysctl`]), for the connections
//!   created afterwards:
//!   - `sysctl [-q] [-w] net.ipv4.X=V ...`, `echo V > /proc/sys/net/ipv4/X`
//!     and the suites' `set_sysctls.py /proc/sys/net/ipv4/X=V ...` (and
//!     its restore file `/tmp/sysctl_restore_${PPID}.sh`) set sysctls;
//!     values may be quoted and use `$((...))` integer arithmetic;
//!   - a shell file run or sourced (`../common/defaults.sh`, `source F`,
//!     `. F`) is read, relative to the script's directory as packetdrill
//!     runs scripts from there, and its commands are interpreted the same
//!     way (comments, `\` continuations, `;` `&&` `|`, redirections such
//!     as `> /dev/null 2>&1`);
//!   - `ip link set dev tun0 mtu N` and `ip route ... advmss N | mtu [lock]
//!     N` set the MSS the stack announces (MTU minus 40);
//!   - `tc`, `ethtool`, `ip tcp_metrics` and other `ip` commands are
//!     accepted with a warning naming the command; any other program
//!     (`cat`, `nstat`, a helper script) is a warning naming it, not a
//!     failure.
//!
//!   Modelled sysctls set the stack's configuration as Linux derives it:
//!   `tcp_rmem` (the buffer; the window scale as tcp_select_initial_window
//!   computes it from max(tcp_rmem\[2\], net.core.rmem_max), so the
//!   suites' 15 MiB gives `wscale 8`; the SYN's window from half of
//!   tcp_rmem\[1\], rounded down to the MSS and capped at 65535),
//!   `net.core.rmem_max`, `tcp_window_scaling`, `tcp_wmem` (the send
//!   buffer, its maximum), `tcp_timestamps`, `tcp_sack`, `tcp_dsack`,
//!   `tcp_syn_retries`, `tcp_synack_retries`, `tcp_retries2`,
//!   `tcp_congestion_control` (cubic, reno), `tcp_rfc1337`,
//!   `tcp_invalid_ratelimit`, `tcp_challenge_ack_limit`, `tcp_syncookies`,
//!   `tcp_fin_timeout`, `tcp_keepalive_time` / `_intvl` / `_probes`, and
//!   the values that ask for what the stack already does (`tcp_reordering=3`,
//!   `tcp_slow_start_after_idle=0`, `tcp_frto=0`, `tcp_early_retrans=0`,
//!   `tcp_recovery=0`, `tcp_ecn=0`, `tcp_fastopen` (client 0x1, 0x4;
//!   server 0x2, 0x200, 0x400), `tcp_mtu_probing=0`,
//!   `tcp_notsent_lowat=4294967295`, `tcp_min_rtt_wlen=300`, Linux's
//!   default pacing ratios; `tcp_fack`, a no-op since Linux 4.15). A value
//!   that asks for behaviour the stack lacks (RACK, TLP, F-RTO, TFO, ECN,
//!   AccECN, pacing, TSO, PLPMTUD, slow start after idle, a DupThresh
//!   other than 3, send-buffer autotuning...) is recorded and warned about
//!   once, naming the sysctl; an unknown sysctl is warned about by name.
//!   A malformed value (not a number, out of Linux's range, too many
//!   fields) fails the script naming the line and the value.
//! - Code blocks: `%{ ... }%`, on one line or several, with or without a
//!   time, become `EventKind::Python` events holding the text between the
//!   delimiters verbatim (packetdrill strips the spaces and tabs at either
//!   end before Python sees it) and the line where they start. They run
//!   as packetdrill runs them (see Code blocks below).
//! - Times: `0.100` (absolute seconds), `+0.1` / `+.1` (after the previous
//!   event), `*` (any time), `0.1~0.2` (a range). A relative time counts
//!   from when the previous event actually happened, as packetdrill's
//!   `adjust_relative_event_times`: after a `>` line, from when its segment
//!   left (anywhere in a range, within the tolerance, or at any time for
//!   `*`; for a run of segments, when the last left). An absolute time
//!   earlier than the absolute time just before it is an error, with
//!   packetdrill's message (`time goes backward in script from 300000 usec
//!   to 200000 usec`); a `<` line or a call written for a time the script
//!   has already passed (beyond the tolerance) is a timing error. A
//!   system call may give `START...END`: it must return at END, blocking
//!   until then (when START is relative, END counts from the same base, as
//!   in packetdrill; `...+D` means D after START); one whose END is START
//!   (within the tolerance) may return at once. A call given one time must
//!   return at once (within the tolerance). Events after a blocking call
//!   are timed from its start. The virtual clock ends at 10^9 s (about 31.7
//!   years): a script may write later times, and fails when it would have
//!   to reach one (after the stack's own output up to there has been
//!   judged: a wait of 10^11 s with a probe due fails at the probe).
//! - Packets: `FLAGS start:end(len) [ack N] [win N] [<options>]` with flags
//!   from `S F R P .` (`.` is ACK). As in packetdrill, `ack N` on a segment
//!   without `.` fills the acknowledgment field with N as written
//!   (absolute) and leaves the flag clear; on a `>` line that field is
//!   compared as it is. An omitted `ack` is not checked. Numbering as
//!   packetdrill and tcpdump (for segments with `.`): in
//!   a segment with SYN, the remote side's sequence number and the stack's
//!   ACK of it are absolute; otherwise the remote side's numbers (the seq of
//!   `<` lines, the ack of `>` lines) are relative to the remote ISN, which
//!   the runner learns from the script's first inbound SYN or SYN-ACK (a
//!   new `connect` starts afresh), as packetdrill does; a later SYN on the
//!   same 4-tuple does not move it. The stack's numbers
//!   (the seq of `>` lines, the ack of `<` lines, SACK blocks in `<` lines)
//!   are relative to the ISN the stack chose, learned from its SYN or
//!   SYN-ACK; before it has chosen one they are absolute.
//! - Options: `nop`, `eol`, `mss N`, `wscale N`, `sackOK`, `sack L:R ...`,
//!   `TS val N ecr N`, `FO [HEX]` and `FOEXP [HEX]` (TCP Fast Open, RFC
//!   7413, kind 34 and the experimental kind 254; no cookie is a cookie
//!   request), or `<...>`. Outbound options are compared by meaning
//!   (kind and value; NOP padding and order do not matter). An outbound
//!   TSval is not compared (it is the stack's clock): the first one a `>`
//!   line states fixes the offset between the script's clock and the
//!   stack's, and the TS ecr of later `<` lines is translated by it, as
//!   packetdrill does. `<...>` or an omitted `win` on a `>` line is not
//!   checked; a `>` line without options expects a segment without options.
//!   An inbound line must give `win` (packetdrill requires it too).
//! - System calls: `socket`, `setsockopt`/`getsockopt` (SO_REUSEADDR,
//!   SO_KEEPALIVE, SO_LINGER, SO_RCVBUF, SO_SNDBUF, SO_ERROR, TCP_NODELAY,
//!   TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_CONGESTION, TCP_FASTOPEN
//!   and TCP_FASTOPEN_KEY for a Fast Open server, TCP_FASTOPEN_CONNECT for
//!   a client, TCP_SYNCNT, TCP_INQ, TCP_NOTSENT_LOWAT, TCP_MAXSEG,
//!   IP_MTU_DISCOVER WANT/DO; getsockopt of the int ones reads them back
//!   as Linux reports them), `fcntl`
//!   (F_GETFL, F_SETFL with O_NONBLOCK), `ioctl` (SIOCINQ/FIONREAD,
//!   SIOCOUTQ, SIOCOUTQNSD), `bind`, `listen`, `accept`,
//!   `connect`, `write`/`send`/`sendto`/`sendmsg` (MSG_FASTOPEN: a Fast
//!   Open connect, see `run/fastopen.rs`),
//!   `read`/`recv`/`recvfrom`/`recvmsg` (msghdr as packetdrill writes it,
//!   `{msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0,
//!   msg_control=[...]}`; MSG_PEEK, MSG_DONTWAIT, MSG_NOSIGNAL; TCP_CM_INQ
//!   control messages; MSG_ERRQUEUE reads the error queue: zero-copy
//!   completions (SO_ZEROCOPY, MSG_ZEROCOPY) and TX timestamps
//!   (SO_TIMESTAMPING) with their IP_RECVERR and SCM_TIMESTAMPING control
//!   messages; a NULL buffer gives EFAULT; MSG_EOR ends a record, MSG_MORE
//!   corks; control messages the stack cannot give
//!   are clear errors), `poll` (POLLIN, POLLOUT,
//!   POLLERR, POLLHUP, POLLRDHUP, ... as Linux's tcp_poll reports them, with
//!   a timeout that blocks in virtual time), `shutdown` (SHUT_RD,
//!   SHUT_WR, SHUT_RDWR), `close`. Results are `= N`, `= -1 ERRNO` or
//!   `= -1` (any errno); a parenthesised explanation after the errno is a
//!   comment. The number a `socket`, `accept` or `epoll_create` line
//!   expects names the new descriptor, as packetdrill maps script fds to
//!   live ones (`socket(...) = 4` as the first socket); otherwise it is the
//!   lowest free one from 3 up, as Linux hands them out. SO_RCVBUF and
//!   SO_SNDBUF follow Linux's arithmetic (the value is doubled, at least
//!   2304 / 4608 bytes, and half is usable: a 1000-byte SO_RCVBUF offers
//!   a 1152-byte window) and apply to connections created afterwards.
//! - A `>` line whose payload is longer than one segment matches the run of
//!   consecutive segments that adds up to it (packetdrill does the same for
//!   remote hosts), so scripts recorded against Linux with TSO/GSO bursts
//!   such as `> P. 1:2001(2000)` still apply to a stack that sends MSS-sized
//!   segments.
//! - Values (`[...]`, `{...}`) nest at most 100 deep; deeper is a syntax
//!   error naming the line and column of the first bracket too many.
//!   Braces hold packetdrill's named fields (`{fd=4, events=POLLIN}`;
//!   msghdr's `msg_iov(N)=[...]` with its count) or unnamed values
//!   (`{..., 1000}`); an unknown field name is a syntax error.
//!
//! # Checking
//!
//! Each `>` line must find the stack's next segment at its time; a segment
//! that no `>` line expects is an error, as is a call whose result or errno
//! differs. A segment the stack sends after the last line (or while a call
//! blocked on the last line waits for its END) is not checked, as in
//! packetdrill, unless the script runs with `--strict-end`
//! ([`Options::strict_end`]; the team's own suite does). The first
//! mismatch stops the script, at the time it happened, with one message
//! naming the file, the line, what was expected and what the stack did:
//!
//! ```text
//! close.pkt:14: expected > F. 1001:1001(0) ack 2 at 0.400000, got > R. 1001:1001(0) ack 2 at 0.400000
//! ```
//!
//! # Code blocks (`%{ }%`)
//!
//! A block is Python run against the TCP_INFO of the socket under test,
//! as packetdrill's code.c does it: before each block the names
//! `tcpi_state`, `tcpi_snd_cwnd`, ... (every field of Linux's `struct
//! tcp_info`) and the constants `TCP_ESTABLISHED`..., `TCP_CA_Open`...,
//! `TCPI_OPT_*` are defined from the stack's state at the block's time,
//! in Linux's units ([`tcpinfo`]): microseconds for `tcpi_rto`,
//! `tcpi_rtt`, `tcpi_rttvar`, `tcpi_ato`; milliseconds for
//! `tcpi_last_data_recv`; segments for `tcpi_snd_cwnd`,
//! `tcpi_snd_ssthresh` (`0x7fffffff` before any congestion signal),
//! `tcpi_unacked`, `tcpi_sacked`, `tcpi_lost`. A field the stack does not
//! model (`tcpi_delivered`, `tcpi_retrans`, `tcpi_dsack_dups`,
//! `tcpi_busy_time`, ...) fails the block naming it, rather than read as
//! an invented 0.
//!
//! The Python is the subset the suites use ([`python`]): `assert EXPR[,
//! MSG]`, `name = EXPR`, `name += EXPR`, `print(...)`, `;`, `\`
//! continuations and `#` comments, with Python's arithmetic (`//` and `%`
//! round toward negative infinity, `/` is true division), chained
//! comparisons (`5000 <= tcpi_rtt <= 20000`), `and`/`or`/`not`, `&`/`|` and
//! `'%d' % x` formatting. A construct outside it (`if`, `for`, lists,
//! attributes, ...) is an error naming the construct and the line.
//!
//! The socket under test is packetdrill's: the latest `socket()`'s,
//! replaced by the connection a SYN creates at that listener once
//! `accept` returns it. A block with no socket, or between that SYN and
//! the accept, or after the socket was closed, fails at once (packetdrill
//! dies there too). Names persist from block to block (packetdrill writes
//! all blocks into one Python file). That file runs after the last
//! event, so a failing block does not stop the script: the events after
//! it still run, and its failure is the verdict only if nothing else
//! fails; a later mismatch is reported instead, noting the block's
//! failure. Later blocks do not run after a failure (Python stopped).
//! What `print` writes comes back in [`Report::printed`]:
//!
//! ```text
//! cwnd.pkt:22: error in Python code: assert tcpi_snd_cwnd == 20, tcpi_snd_cwnd: AssertionError: 11
//! ```
//!
//! `getsockopt(TCP_INFO)` as a system call is not supported: no suite
//! script calls it.
//!
//! # The stack under test
//!
//! [`Options::profile`] (`tcpsim script --profile rfc|linux`) picks where
//! the configuration starts, before the script's shell commands change it.
//! The default, `rfc`, is [`TcpConfig::default`](stack::TcpConfig): close
//! to Linux's defaults: MSS 1460 (1500-byte path), window scale 7, SACK,
//! D-SACK and timestamps on, initial RTO 1 s (RFC 6298), minimum RTO
//! 200 ms, delayed ACK 40 ms after a quick-ACK start, NewReno, RFC 1337 on
//! (unlike Linux). `linux` is [`TcpConfig::linux`](stack::TcpConfig::linux):
//! the same with CUBIC and RFC 1337 off, as Linux 6.x boots
//! (docs/packetdrill.md lists what Linux does that neither models). The
//! simulated host's sysctls start at Linux's boot values either way
//! (tcp_rmem `4096 131072 6291456`, net.core.rmem_max 212992). The stack binds
//! to port 8080 unless told otherwise; the script's side uses port 40000
//! when it connects, and 8080 when the stack connects to it. The stack's
//! timestamp clock counts virtual milliseconds from the start of the
//! script.

pub mod icmp;
mod parse;
pub mod python;
mod run;
pub mod shell;
pub mod sysctl;
pub mod tcpinfo;

pub use parse::{DEFAULT_TOLERANCE_PPM, DEFAULT_TOLERANCE_USECS, Script, parse};
pub use run::{Report, run, run_logged, run_with};

use std::fmt;
use std::path::Path;

/// Why a script failed: a syntax error, or the first mismatch between the
/// script and what the stack did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The script file.
    pub file: String,
    /// 1-based line of the offending text or event.
    pub line: usize,
    /// Set for syntax errors.
    pub column: Option<usize>,
    /// What is wrong, in one line.
    pub message: String,
}

impl ScriptError {
    pub(crate) fn at(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        ScriptError {
            file: file.to_string(),
            line,
            column: Some(column),
            message: message.into(),
        }
    }

    pub(crate) fn line(file: &str, line: usize, message: impl Into<String>) -> Self {
        ScriptError {
            file: file.to_string(),
            line,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            _ if self.line == 0 => write!(f, "{}: {}", self.file, self.message),
            Some(c) => write!(f, "{}:{}:{}: {}", self.file, self.line, c, self.message),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// How a script is judged, beyond what the script itself says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--strict-end`: a segment the stack sends after the last line (or
    /// during a call still blocked there) fails the script. packetdrill
    /// ignores them, and so does the default.
    pub strict_end: bool,
    /// `--exact`: events must happen at their times exactly, within only
    /// the script's own `--tolerance_usecs` (0 when it gives none) and
    /// without packetdrill's percentage. By default a script gets
    /// packetdrill's tolerance: 4000 µs unless it says otherwise, or
    /// 12.5% of the time since the previous event when that is more
    /// ([`parse::DEFAULT_TOLERANCE_USECS`], [`parse::DEFAULT_TOLERANCE_PPM`]).
    pub exact: bool,
    /// The configuration the stack starts from, before the script's own
    /// shell commands change it.
    pub profile: Profile,
}

/// The configuration a script's stack boots with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// [`stack::TcpConfig::default`]: close to Linux's defaults, but RFC-
    /// strict where tcpsim chose so (NewReno, RFC 1337 on, window scale 7
    /// from a 6 MiB buffer).
    #[default]
    Rfc,
    /// [`stack::TcpConfig::linux`]: what Linux 6.x boots with, as far as the
    /// stack models it (CUBIC, RFC 1337 off, ...).
    Linux,
}

/// packetdrill's `-D NAME=VALUE` definitions (its `run_all.py` passes
/// `-D TFO_COOKIE=3021b9d889017eeb` and others to the suite): every
/// whole-word occurrence of a defined name in the script's text becomes its
/// value before parsing, as packetdrill's lexer substitutes a defined
/// symbol. A name is letters, digits and `_`, not starting with a digit.
pub fn apply_defines(text: &str, defines: &[(String, String)]) -> String {
    if defines.is_empty() {
        return text.to_string();
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| word(c)) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail.find(|c: char| !word(c)).unwrap_or(tail.len());
        let token = &tail[..len];
        match defines.iter().rev().find(|(n, _)| n == token) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(token),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Parses `NAME=VALUE` for `-D`: the error says what is wrong.
pub fn parse_define(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("-D {text:?}: expected NAME=VALUE"));
    };
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "-D {text:?}: the name must be letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Parses and runs one script from text. `name` appears in messages.
pub fn run_text(name: &str, text: &str, seed: u64) -> Result<Report, ScriptError> {
    run_text_with(name, text, seed, Options::default())
}

/// [`run_text`] with [`Options`].
pub fn run_text_with(
    name: &str,
    text: &str,
    seed: u64,
    options: Options,
) -> Result<Report, ScriptError> {
    let script = parse(name, text)?;
    run_with(&script, seed, options)
}

/// Reads, parses and runs one script file. Messages name the file as given.
pub fn run_file(path: &Path, seed: u64) -> Result<Report, ScriptError> {
    run_file_with(path, seed, Options::default())
}

/// [`run_file`] with [`Options`].
pub fn run_file_with(path: &Path, seed: u64, options: Options) -> Result<Report, ScriptError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScriptError {
        file: name.clone(),
        line: 0,
        column: None,
        message: format!("cannot read the script: {e}"),
    })?;
    run_text_with(&name, &text, seed, options)
}
