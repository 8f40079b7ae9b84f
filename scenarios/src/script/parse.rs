//! The packetdrill language, the subset `tcpsim script` runs (see the module
//! docs of [`crate::script`] for the meaning of each construct).
//!
//! Parsing is line-oriented, as packetdrill scripts are written: one event
//! per line, except that a line whose brackets are still open continues on
//! the next. Every error names the line and column.

use super::ScriptError;

/// Microseconds of script time.
pub type Micros = u64;

/// A point in script time as written: `0.100` or `+0.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeExpr {
    Absolute(Micros),
    Relative(Micros),
}

/// When an event happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `0.100` or `+0.1`: at that instant (within the tolerance).
    At(TimeExpr),
    /// `*`: any time.
    Any,
    /// `0.1~0.2`: anywhere in the range (within the tolerance).
    Range(TimeExpr, TimeExpr),
}

/// A TCP option as a script writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionSpec {
    Nop,
    Eol,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Timestamps {
        val: u32,
        ecr: u32,
    },
    /// SACK blocks as `left:right` pairs.
    Sack(Vec<(u32, u32)>),
    /// TCP Fast Open (RFC 7413): `FO` or `FOEXP` (the experimental kind
    /// 254 form), with the cookie's bytes (none: a cookie request).
    FastOpen {
        cookie: Vec<u8>,
        experimental: bool,
    },
}

/// The option list of a packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsSpec {
    /// No `<...>` written: the segment carries no options.
    None,
    /// `<...>`: anything (not checked on `>` lines; none on `<` lines).
    Wildcard,
    List(Vec<OptionSpec>),
}

/// Direction of a packet line: `<` injects into the stack, `>` expects from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// The flags of a packet line in packetdrill's letters.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
/// ECN-Echo (packetdrill's `E`, RFC 3168 §6.1).
pub const ECE: u8 = 0x40;
/// Congestion Window Reduced (packetdrill's `W`).
pub const CWR: u8 = 0x80;

/// What a packet line says about the IP header's TOS byte: packetdrill's
/// `[noecn]`, `[ect0]`, `[ect1]`, `[ce]`, `[ect01]` (ECT(0) or ECT(1),
/// outbound only) and `[tos 0x..]`, in brackets or parentheses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TosSpec {
    /// Nothing written: an inbound datagram is Not-ECT, an outbound one is
    /// not checked (packetdrill's TOS_CHECK_NONE).
    #[default]
    Unchecked,
    /// The two ECN bits (RFC 3168 §5) are exactly these.
    Ecn(u8),
    /// ECT(0) or ECT(1).
    Ect01,
    /// The whole TOS byte.
    Tos(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    pub direction: Direction,
    pub flags: u8,
    pub start: u32,
    pub end: u32,
    pub len: u32,
    pub ack: Option<u32>,
    pub win: Option<u16>,
    pub options: OptionsSpec,
    /// The IP header's TOS byte, when the line says something about it.
    pub tos: TosSpec,
    /// An `icmp` line: the message (then `start`, `end` and `len` are the
    /// quoted segment's, and the TCP fields are unused).
    pub icmp: Option<crate::script::icmp::IcmpSpec>,
}

/// A system call argument or result value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything.
    Ellipsis,
    Int(i64),
    /// A symbolic constant (`SOL_SOCKET`, `O_NONBLOCK`, `ECONNREFUSED`).
    Name(String),
    /// `A | B | C`.
    Or(Vec<Expr>),
    /// `[x]` or `[x, y]`.
    List(Vec<Expr>),
    /// `{onoff=1, linger=0}`: packetdrill's named fields (one of
    /// [`STRUCT_FIELDS`]). A field written with a count, as msghdr's
    /// `msg_iov(2)=[...]`, has a [`Expr::Counted`] value.
    Struct(Vec<(String, Expr)>),
    /// `name(count)=value` inside a struct: msghdr's `msg_name(...)=...`
    /// and `msg_iov(N)=[...]`; the count, then the value.
    Counted(Box<Expr>, Box<Expr>),
    /// `{..., 1000}`: braces around values without names (packetdrill's
    /// iovec and its `{ expression_list }`).
    Tuple(Vec<Expr>),
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSpec {
    pub name: String,
    pub args: Vec<Expr>,
    /// The expected return value.
    pub ret: Expr,
    /// The expected errno name when `ret` is -1.
    pub errno: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Packet(PacketSpec),
    Call(CallSpec),
    /// A backtick block: `` `cmd` ``, one line or several. packetdrill
    /// hands the text to `/bin/sh`; tcpsim reads it as configuration.
    Shell {
        /// The text between the backticks, verbatim (newlines included).
        command: String,
    },
    /// A `%{ ... }%` block of Python (packetdrill runs them, with the
    /// TCP_INFO fields of the time the event ran, at the end of the
    /// script).
    Python {
        /// The text between `%{` and `}%`, verbatim, line structure kept.
        code: String,
        /// The 1-based line where the code starts (the line of `%{`).
        line: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based line of the event's first character.
    pub line: usize,
    pub when: When,
    /// `START...END` on a blocking call: when it must return.
    pub end: Option<TimeExpr>,
    pub kind: EventKind,
    /// The event as written (after the time), for messages.
    pub text: String,
}

/// A parsed script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The name used in error messages (normally the file name).
    pub name: String,
    /// `--tolerance_usecs`: how far from its time an event may happen
    /// (`None`: not given; the runner then uses packetdrill's default,
    /// [`DEFAULT_TOLERANCE_USECS`], or 0 under `--exact`).
    pub tolerance: Option<Micros>,
    /// `--tolerance_percent`, in parts per million of the time since the
    /// previous event (`None`: not given; packetdrill's default is
    /// [`DEFAULT_TOLERANCE_PPM`]).
    pub tolerance_ppm: Option<u64>,
    /// Option lines that were ignored, with their lines.
    pub warnings: Vec<String>,
    /// The script's events, in file order.
    pub events: Vec<Event>,
    /// `--local_ip`: the stack's address (default 192.168.0.1, as
    /// packetdrill's run_all.py gives the suite).
    pub local_ip: std::net::Ipv4Addr,
    /// `--remote_ip`: the script's side (default 192.0.2.1).
    pub remote_ip: std::net::Ipv4Addr,
}

/// packetdrill's default `--tolerance_usecs` (config.c: 4000).
pub const DEFAULT_TOLERANCE_USECS: Micros = 4000;

/// packetdrill's default `--tolerance_percent` (config.c: 12.5), in parts
/// per million: an event may also be off by this share of the time since
/// the previous event, when that is more than the tolerance in
/// microseconds (run.c, verify_time).
pub const DEFAULT_TOLERANCE_PPM: u64 = 125_000;

/// Parses a script; `name` is used in error messages.
pub fn parse(name: &str, text: &str) -> Result<Script, ScriptError> {
    let mut script = Script {
        name: name.to_string(),
        tolerance: None,
        tolerance_ppm: None,
        warnings: Vec::new(),
        events: Vec::new(),
        local_ip: super::run::LOCAL_IP,
        remote_ip: super::run::REMOTE_IP,
    };
    let lines = logical_lines(name, text)?;
    for ll in lines {
        let body = &ll.text;
        let line = ll.line;
        let trimmed = body.trim_start();
        let indent = body.len() - trimmed.len();
        if trimmed.trim_end().is_empty() {
            continue;
        }
        if let Some(opt) = trimmed.strip_prefix("--") {
            if !script.events.is_empty() {
                return Err(ScriptError::at(
                    name,
                    line,
                    indent + 1,
                    "option lines must come before the first event",
                ));
            }
            parse_option_line(&mut script, line, opt.trim_end())?;
            continue;
        }
        let mut p = Parser {
            name,
            line,
            s: body,
            starts: &ll.starts,
            blocks: &ll.blocks,
            pos: indent,
            depth: 0,
        };
        let event = p.event()?;
        check_time_order(name, script.events.last(), &event)?;
        script.events.push(event);
    }
    Ok(script)
}

/// The absolute start of an event's time, if it has one: `0.1` or `0.1~0.2`.
fn absolute_start(when: When) -> Option<Micros> {
    match when {
        When::At(TimeExpr::Absolute(us)) | When::Range(TimeExpr::Absolute(us), _) => Some(us),
        _ => None,
    }
}

/// As packetdrill (run.c, get_next_event): an absolute time earlier than
/// the absolute time of the event just before it is an error, with
/// packetdrill's message. (Times after a relative or `*` event are
/// checked when the script runs: the runner cannot go back in time.)
fn check_time_order(name: &str, prev: Option<&Event>, event: &Event) -> Result<(), ScriptError> {
    if let Some(prev) = prev
        && let (Some(before), Some(now)) = (absolute_start(prev.when), absolute_start(event.when))
        && now < before
    {
        return Err(ScriptError::line(
            name,
            event.line,
            format!("time goes backward in script from {before} usec to {now} usec"),
        ));
    }
    Ok(())
}

/// Stands in a logical line's text for a backtick or `%{ }%` block, whose
/// verbatim text is kept aside in [`LogicalLine::blocks`]. (A control
/// character: it cannot occur in what the parser accepts otherwise.)
const BLOCK_MARK: char = '\u{1}';

/// Which kind of verbatim block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// `` `...` ``
    Shell,
    /// `%{ ... }%`
    Python,
}

impl BlockKind {
    fn close(self) -> &'static str {
        match self {
            BlockKind::Shell => "`",
            BlockKind::Python => "}%",
        }
    }
}

/// A verbatim block, taken out of the text the parser reads.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    kind: BlockKind,
    /// Between the delimiters, verbatim.
    text: String,
    /// Line and column (1-based, characters) of the opening delimiter.
    line: usize,
    col: usize,
}

/// An event's text (one line, or several joined with a space; each block
/// replaced by [`BLOCK_MARK`]), its first line, where each of its physical
/// lines starts in the text, and its blocks in order.
#[derive(Clone, Debug, Default)]
struct LogicalLine {
    line: usize,
    text: String,
    starts: Vec<(usize, usize)>,
    blocks: Vec<Block>,
}

/// Strips comments, takes out backtick and `%{ }%` blocks (verbatim, over
/// as many lines as they take), and joins lines whose brackets are still
/// open.
fn logical_lines(name: &str, text: &str) -> Result<Vec<LogicalLine>, ScriptError> {
    let mut out = Vec::new();
    let mut in_comment: Option<(usize, usize)> = None;
    // A verbatim block still open at the end of the previous line.
    let mut in_block: Option<Block> = None;
    // An event still open: its text so far and its bracket depth.
    let mut pending: Option<(LogicalLine, i32)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let mut clean = String::with_capacity(raw.len());
        let mut blocks = Vec::new();
        let mut j = 0;
        let mut in_string = false;
        // One space per character keeps columns (counted in characters)
        // where they were.
        let blank = |clean: &mut String, s: &str| clean.extend(s.chars().map(|_| ' '));
        while j <= raw.len() {
            if let Some(block) = in_block.as_mut() {
                let close = block.kind.close();
                match raw[j..].find(close) {
                    Some(k) => {
                        block.text.push_str(&raw[j..j + k]);
                        blank(&mut clean, &raw[j..j + k + close.len()]);
                        j += k + close.len();
                        blocks.extend(in_block.take());
                        continue;
                    }
                    None => {
                        block.text.push_str(&raw[j..]);
                        block.text.push('\n');
                        break;
                    }
                }
            }
            if j == raw.len() {
                break;
            }
            if in_comment.is_some() {
                if raw[j..].starts_with("*/") {
                    in_comment = None;
                    j += 2;
                    clean.push_str("  ");
                } else {
                    let n = raw[j..].chars().next().map_or(1, char::len_utf8);
                    blank(&mut clean, &raw[j..j + n]);
                    j += n;
                }
                continue;
            }
            let c = raw.as_bytes()[j];
            if c == b'"' {
                in_string = !in_string;
            }
            if !in_string {
                if raw[j..].starts_with("//") {
                    break;
                }
                if raw[j..].starts_with("/*") {
                    in_comment = Some((line, j + 1));
                    j += 2;
                    clean.push_str("  ");
                    continue;
                }
                let kind = if c == b'`' {
                    Some(BlockKind::Shell)
                } else if raw[j..].starts_with("%{") {
                    Some(BlockKind::Python)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    let open = if kind == BlockKind::Shell { 1 } else { 2 };
                    in_block = Some(Block {
                        kind,
                        text: String::new(),
                        line,
                        col: raw[..j].chars().count() + 1,
                    });
                    clean.push(BLOCK_MARK);
                    blank(&mut clean, &raw[j + 1..j + open]);
                    j += open;
                    continue;
                }
            }
            // Keep column positions: copy the character as is.
            let ch = raw[j..].chars().next().unwrap_or(' ');
            clean.push(ch);
            j += ch.len_utf8();
        }
        let depth: i32 = clean
            .chars()
            .map(|c| match c {
                '(' | '[' | '{' => 1,
                ')' | ']' | '}' => -1,
                _ => 0,
            })
            .sum();
        // A block still open continues the event on the next line.
        let open = in_block.is_some();
        match pending.take() {
            Some((mut acc, d)) => {
                acc.text.push(' ');
                acc.starts.push((acc.text.len(), line));
                acc.text.push_str(&clean);
                acc.blocks.extend(blocks);
                let d = d + depth;
                if d > 0 || open {
                    pending = Some((acc, d));
                } else {
                    out.push(acc);
                }
            }
            None => {
                let acc = LogicalLine {
                    line,
                    text: clean,
                    starts: vec![(0, line)],
                    blocks,
                };
                if depth > 0 || open {
                    pending = Some((acc, depth));
                } else {
                    out.push(acc);
                }
            }
        }
    }
    if let Some(block) = in_block {
        let what = match block.kind {
            BlockKind::Shell => "unterminated ` shell command (no closing backtick)",
            BlockKind::Python => "unterminated %{ code block (no closing }%)",
        };
        return Err(ScriptError::at(name, block.line, block.col, what));
    }
    if let Some((line, col)) = in_comment {
        return Err(ScriptError::at(name, line, col, "unterminated /* comment"));
    }
    if let Some((acc, _)) = pending {
        return Err(ScriptError::at(
            name,
            acc.line,
            1,
            "unbalanced brackets: the event never closes",
        ));
    }
    Ok(out)
}

fn parse_option_line(script: &mut Script, line: usize, opt: &str) -> Result<(), ScriptError> {
    let (key, value) = match opt.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (opt.trim(), None),
    };
    match key {
        "tolerance_usecs" => {
            let v = value.ok_or_else(|| {
                ScriptError::at(&script.name, line, 3, "--tolerance_usecs needs a value")
            })?;
            script.tolerance = Some(v.parse::<u64>().map_err(|_| {
                ScriptError::at(
                    &script.name,
                    line,
                    3,
                    format!("--tolerance_usecs: {v:?} is not a number of microseconds"),
                )
            })?);
        }
        "tolerance_percent" => {
            let v = value.ok_or_else(|| {
                ScriptError::at(&script.name, line, 3, "--tolerance_percent needs a value")
            })?;
            let pct = v
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && (0.0..=1000.0).contains(p))
                .ok_or_else(|| {
                    ScriptError::at(
                        &script.name,
                        line,
                        3,
                        format!(
                            "--tolerance_percent: {v:?} is not a percentage between 0 and 1000"
                        ),
                    )
                })?;
            script.tolerance_ppm = Some((pct * 10_000.0).round() as u64);
        }
        "ip_version" => match value {
            Some("ipv4") => {}
            Some(other) => {
                return Err(ScriptError::at(
                    &script.name,
                    line,
                    3,
                    format!("--ip_version={other}: only ipv4 is supported"),
                ));
            }
            None => {
                return Err(ScriptError::at(
                    &script.name,
                    line,
                    3,
                    "--ip_version needs a value (ipv4)",
                ));
            }
        },
        "local_ip" | "remote_ip" => {
            let v = value.unwrap_or("");
            let addr: std::net::Ipv4Addr = v.parse().map_err(|_| {
                ScriptError::at(
                    &script.name,
                    line,
                    3,
                    format!("--{key}={v}: expected an IPv4 address (tcpsim runs IPv4 only)"),
                )
            })?;
            if key == "local_ip" {
                script.local_ip = addr;
            } else {
                script.remote_ip = addr;
            }
            if script.local_ip == script.remote_ip {
                return Err(ScriptError::at(
                    &script.name,
                    line,
                    3,
                    format!("--{key}={v}: the local and remote addresses must differ"),
                ));
            }
        }
        _ => script.warnings.push(format!(
            "{}:{line}: option --{key} ignored (tcpsim runs in virtual time against its own stack)",
            script.name
        )),
    }
    Ok(())
}

/// "a window" -> "window", for messages that start with the noun.
fn bare(what: &str) -> &str {
    what.strip_prefix("an ")
        .or_else(|| what.strip_prefix("a "))
        .unwrap_or(what)
}

/// The struct field names packetdrill's grammar knows (its lexer.l
/// keywords): sockaddr, msghdr, cmsg, sock_extended_err, scm_timestamping,
/// pollfd, epoll_event and linger fields.
pub const STRUCT_FIELDS: &[&str] = &[
    "sa_family",
    "sin_port",
    "sin_addr",
    "msg_name",
    "msg_iov",
    "msg_flags",
    "msg_control",
    "cmsg_level",
    "cmsg_type",
    "cmsg_data",
    "ee_errno",
    "ee_origin",
    "ee_type",
    "ee_code",
    "ee_info",
    "ee_data",
    "scm_sec",
    "scm_nsec",
    "fd",
    "u32",
    "u64",
    "ptr",
    "events",
    "revents",
    "onoff",
    "linger",
];

/// The fields written with a count: `msg_name(...)=...`, `msg_iov(N)=[...]`.
const COUNTED_FIELDS: &[&str] = &["msg_name", "msg_iov"];

/// How deep `[...]` and `{...}` may nest in a value. Real scripts need
/// three (`[{fd=4, events=POLLIN}]`); the bound keeps the recursive parser
/// far from the end of its stack whatever the input.
pub const MAX_NESTING: usize = 100;

struct Parser<'a> {
    name: &'a str,
    /// The line the event starts on.
    line: usize,
    s: &'a str,
    /// Where each physical line of a continued event starts in `s`:
    /// (byte offset, line number), in order.
    starts: &'a [(usize, usize)],
    /// The verbatim blocks of the event, in order of their [`BLOCK_MARK`]s.
    blocks: &'a [Block],
    pos: usize,
    /// Brackets open around `pos` in the value being parsed.
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> ScriptError {
        let (line, col) = self.line_col();
        ScriptError::at(self.name, line, col, msg)
    }

    /// The physical line and column (in characters) of `pos`.
    fn line_col(&self) -> (usize, usize) {
        let pos = self.pos.min(self.s.len());
        let (offset, line) = self
            .starts
            .iter()
            .rev()
            .find(|&&(offset, _)| offset <= pos)
            .copied()
            .unwrap_or((0, self.line));
        (line, self.s[offset..pos].chars().count() + 1)
    }

    /// Opens a bracket at `pos`, within [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), ScriptError> {
        if self.depth >= MAX_NESTING {
            return Err(self.err(format!("brackets nested more than {MAX_NESTING} deep")));
        }
        self.depth += 1;
        Ok(())
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.rest().chars().next() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str, what: &str) -> Result<(), ScriptError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", self.found())))
        }
    }

    fn found(&self) -> String {
        let r = self.rest().trim_start();
        match r.split_whitespace().next() {
            None => "end of line".to_string(),
            Some(w) if w.starts_with(BLOCK_MARK) => "a ` or %{ block".to_string(),
            Some(w) => format!("{w:?}"),
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        // packetdrill's `-`: a segment with no flags at all, not even ACK
        // (its parser.y: "no TCP flags set in segment").
        let none = self.peek() == Some('-');
        if none {
            self.pos += 1;
        }
        while !none && let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    fn number(&mut self, what: &str) -> Result<u64, ScriptError> {
        self.skip_ws();
        let start = self.pos;
        let (digits, radix) = if self.rest().starts_with("0x") || self.rest().starts_with("0X") {
            self.pos += 2;
            (self.pos, 16)
        } else {
            (self.pos, 10)
        };
        while let Some(c) = self.peek() {
            if c.is_digit(radix) {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == digits {
            self.pos = start;
            return Err(self.err(format!("expected {what}, found {}", self.found())));
        }
        u64::from_str_radix(&self.s[digits..self.pos], radix).map_err(|_| {
            self.pos = start;
            self.err(format!("{what} is out of range"))
        })
    }

    fn u32_value(&mut self, what: &str) -> Result<u32, ScriptError> {
        let at = self.pos;
        let v = self.number(what)?;
        u32::try_from(v).map_err(|_| {
            self.pos = at;
            self.skip_ws();
            self.err(format!("{} {v} does not fit in 32 bits", bare(what)))
        })
    }

    fn u16_value(&mut self, what: &str) -> Result<u16, ScriptError> {
        let at = self.pos;
        let v = self.number(what)?;
        u16::try_from(v).map_err(|_| {
            self.pos = at;
            self.skip_ws();
            self.err(format!("{} {v} does not fit in 16 bits", bare(what)))
        })
    }

    /// Seconds with up to six decimals, as microseconds: `0.1`, `.25`, `3`.
    fn seconds(&mut self) -> Result<Micros, ScriptError> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.pos += 1;
            } else {
                break;
            }
        }
        let whole = &self.s[start..self.pos];
        let mut frac = "";
        if self.peek() == Some('.') && !self.rest().starts_with("...") {
            self.pos += 1;
            let f = self.pos;
            while let Some(c) = self.peek() {
                if c.is_ascii_digit() {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            frac = &self.s[f..self.pos];
        }
        if whole.is_empty() && frac.is_empty() {
            self.pos = start;
            return Err(self.err(format!("expected a time, found {}", self.found())));
        }
        if frac.len() > 6 {
            self.pos = start;
            return Err(self.err("times have at most six decimals (microseconds)"));
        }
        let w: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| {
                self.pos = start;
                self.err("time is out of range")
            })?
        };
        let mut f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().unwrap_or(0)
        };
        for _ in frac.len()..6 {
            f *= 10;
        }
        w.checked_mul(1_000_000)
            .and_then(|x| x.checked_add(f))
            .ok_or_else(|| {
                self.pos = start;
                self.err("time is out of range")
            })
    }

    fn time_expr(&mut self) -> Result<TimeExpr, ScriptError> {
        self.skip_ws();
        if self.eat("+") {
            Ok(TimeExpr::Relative(self.seconds()?))
        } else {
            Ok(TimeExpr::Absolute(self.seconds()?))
        }
    }

    fn event(&mut self) -> Result<Event, ScriptError> {
        self.skip_ws();
        if self.peek() == Some(BLOCK_MARK) {
            // An untimed block (packetdrill's init command before the
            // first event, or its cleanup command after the last): it
            // runs where it stands, as `+0` would.
            return self.block_event(When::At(TimeExpr::Relative(0)));
        }
        let when = if self.eat("*") {
            When::Any
        } else {
            let t = self.time_expr()?;
            if self.eat("~") {
                When::Range(t, self.time_expr()?)
            } else {
                When::At(t)
            }
        };
        let end = if self.eat("...") {
            Some(self.time_expr()?)
        } else {
            None
        };
        self.skip_ws();
        if end.is_none() && self.peek() == Some(BLOCK_MARK) {
            return self.block_event(when);
        }
        let text = self.rest().trim().to_string();
        let kind = match self.peek() {
            Some('<') => {
                self.pos += 1;
                EventKind::Packet(self.packet(Direction::Inbound)?)
            }
            Some('>') => {
                self.pos += 1;
                EventKind::Packet(self.packet(Direction::Outbound)?)
            }
            Some(c) if c.is_ascii_alphabetic() => EventKind::Call(self.call()?),
            Some(BLOCK_MARK) => {
                return Err(self
                    .err("only a system call can have a START...END time (not a ` or %{ block)"));
            }
            _ => {
                return Err(self.err(format!(
                    "expected `<`, `>`, a system call, a `shell command` or %{{ code }}% after the time, found {}",
                    self.found()
                )));
            }
        };
        if end.is_some() && !matches!(kind, EventKind::Call(_)) {
            return Err(ScriptError::at(
                self.name,
                self.line,
                1,
                "only a system call can have a START...END time",
            ));
        }
        self.skip_ws();
        if !self.rest().is_empty() {
            return Err(self.err(format!(
                "unexpected {} at the end of the event",
                self.found()
            )));
        }
        Ok(Event {
            line: self.line,
            when,
            end,
            kind,
            text,
        })
    }

    /// A backtick or `%{ }%` block at `pos` (its [`BLOCK_MARK`]), the
    /// whole event.
    fn block_event(&mut self, when: When) -> Result<Event, ScriptError> {
        let index = self.s[..self.pos].matches(BLOCK_MARK).count();
        let Some(block) = self.blocks.get(index) else {
            return Err(self.err("internal: a block mark without its block"));
        };
        self.pos += BLOCK_MARK.len_utf8();
        self.skip_ws();
        if !self.rest().is_empty() {
            return Err(self.err(format!(
                "unexpected {} after the block (a ` or %{{ block is an event of its own)",
                self.found()
            )));
        }
        let (kind, text) = match block.kind {
            BlockKind::Shell => (
                EventKind::Shell {
                    command: block.text.clone(),
                },
                format!("`{}`", block.text),
            ),
            BlockKind::Python => (
                EventKind::Python {
                    code: block.text.clone(),
                    line: block.line,
                },
                format!("%{{{}}}%", block.text),
            ),
        };
        Ok(Event {
            line: self.line,
            when,
            end: None,
            kind,
            text,
        })
    }

    /// packetdrill's `opt_ip_info` before the flags: `[ect0]`, `(ce)`,
    /// `[tos 0x2]`...
    fn tos_spec(&mut self, direction: Direction) -> Result<TosSpec, ScriptError> {
        let close = match self.peek() {
            Some('[') => ']',
            Some('(') => ')',
            _ => return Ok(TosSpec::Unchecked),
        };
        self.pos += 1;
        self.skip_ws();
        let word: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        self.pos += word.len();
        let spec = match word.as_str() {
            "noecn" => TosSpec::Ecn(0),
            "ect1" => TosSpec::Ecn(1),
            "ect0" => TosSpec::Ecn(2),
            "ce" => TosSpec::Ecn(3),
            "ect01" => {
                if direction == Direction::Inbound {
                    return Err(self.err("[ect01] can only be used with outbound packets"));
                }
                TosSpec::Ect01
            }
            "tos" => {
                self.skip_ws();
                let hex: String = self
                    .rest()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                let value = hex
                    .strip_prefix("0x")
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        self.err(format!("tos {hex:?}: expected a hex byte such as 0x2"))
                    })?;
                self.pos += hex.len();
                TosSpec::Tos(value)
            }
            "" => return Err(self.err(format!("expected an IP field after {:?}", close))),
            other => {
                return Err(self.err(format!(
                    "IP field {other:?} is not supported (expected noecn, ect0, ect1, ce, ect01 or tos 0x..)"
                )));
            }
        };
        self.skip_ws();
        self.expect(&close.to_string(), "the closing bracket of the IP field")?;
        self.skip_ws();
        Ok(spec)
    }

    fn packet(&mut self, direction: Direction) -> Result<PacketSpec, ScriptError> {
        self.skip_ws();
        if self.rest().starts_with("icmp")
            && !self.rest()[4..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            return self.icmp_packet(direction);
        }
        let tos = self.tos_spec(direction)?;
        let mut flags = 0u8;
        let start = self.pos;
        // packetdrill writes a segment with no flags at all as `-`.
        let none = self.peek() == Some('-');
        if none {
            self.pos += 1;
        }
        while let Some(c) = self.peek().filter(|_| !none) {
            let bit = match c {
                'F' => FIN,
                'S' => SYN,
                'R' => RST,
                'P' => PSH,
                '.' => ACK,
                'U' => URG,
                'E' => ECE,
                'W' => CWR,
                _ => break,
            };
            if flags & bit != 0 {
                return Err(self.err(format!("flag {c:?} written twice")));
            }
            flags |= bit;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(format!(
                "expected TCP flags (a combination of S, F, R, P, E, W and ., or - for none), found {}",
                self.found()
            )));
        }
        if let Some(c) = self.peek()
            && !c.is_whitespace()
        {
            return Err(self.err(format!("{c:?} is not a TCP flag")));
        }
        let seq_start = self.u32_value("a sequence number")?;
        self.expect(":", "`:` in start:end(len)")?;
        let seq_end = self.u32_value("an end sequence number")?;
        self.expect("(", "`(len)` after start:end")?;
        let len = self.u32_value("a payload length")?;
        self.expect(")", "`)`")?;
        if seq_end.wrapping_sub(seq_start) != len {
            return Err(self.err(format!(
                "{seq_start}:{seq_end}({len}): end minus start is not the length"
            )));
        }
        if len > 65_000 {
            return Err(self.err(format!("payload length {len} does not fit in a datagram")));
        }
        let mut spec = PacketSpec {
            direction,
            flags,
            start: seq_start,
            end: seq_end,
            len,
            ack: None,
            win: None,
            options: OptionsSpec::None,
            tos,
            icmp: None,
        };
        loop {
            self.skip_ws();
            if self.rest().is_empty() {
                break;
            }
            if self.peek() == Some('<') {
                if spec.options != OptionsSpec::None {
                    return Err(self.err("options written twice"));
                }
                self.pos += 1;
                spec.options = self.options()?;
                continue;
            }
            let at = self.pos;
            match self.word() {
                "ack" => {
                    if spec.ack.is_some() {
                        self.pos = at;
                        return Err(self.err("`ack` written twice"));
                    }
                    spec.ack = Some(self.u32_value("an acknowledgment number")?);
                }
                "win" => {
                    if spec.win.is_some() {
                        self.pos = at;
                        return Err(self.err("`win` written twice"));
                    }
                    spec.win = Some(self.u16_value("a window")?);
                }
                "" => {
                    return Err(self.err(format!(
                        "expected `ack`, `win` or `<options>`, found {}",
                        self.found()
                    )));
                }
                other => {
                    let other = other.to_string();
                    self.pos = at;
                    self.skip_ws();
                    return Err(self.err(format!(
                        "unknown packet field {other:?} (expected `ack`, `win` or `<options>`)"
                    )));
                }
            }
        }
        if direction == Direction::Inbound && spec.win.is_none() {
            return Err(ScriptError::at(
                self.name,
                self.line,
                1,
                "window must be specified for inbound packets (`win N`, as packetdrill requires)",
            ));
        }
        Ok(spec)
    }

    /// `icmp TYPE [CODE] [mtu N] [id N] [[START:END(LEN)] | [udp(N)] |
    /// [raw(N)]]` (see [`crate::script::icmp`]).
    fn icmp_packet(&mut self, direction: Direction) -> Result<PacketSpec, ScriptError> {
        use crate::script::icmp::{IcmpSpec, Quoted, code_by_name, type_by_name};
        self.pos += 4;
        let at = self.pos;
        let word = self.word().to_string();
        if word.is_empty() {
            return Err(self.err(format!(
                "expected an ICMP type (unreachable, time_exceeded...), found {}",
                self.found()
            )));
        }
        let kind = type_by_name(&word).map_err(|e| {
            self.pos = at;
            self.skip_ws();
            self.err(e)
        })?;
        let mut spec = IcmpSpec {
            kind,
            code: 0,
            mtu: None,
            echo_id: 0,
            quoted: Quoted::Tcp,
        };
        let (mut start, mut len) = (0u32, 0u32);
        // packetdrill's order: code, mtu, id, then the quote.
        let mut stage = 0;
        loop {
            self.skip_ws();
            if self.rest().is_empty() {
                break;
            }
            if self.eat("[") {
                self.skip_ws();
                let at = self.pos;
                let w = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    String::new()
                } else {
                    self.word().to_string()
                };
                match w.as_str() {
                    "udp" | "raw" => {
                        self.expect("(", "`(` after udp or raw")?;
                        let n = self.u32_value("a length")?;
                        self.expect(")", "`)`")?;
                        spec.quoted = if w == "udp" {
                            Quoted::Udp(n)
                        } else {
                            Quoted::Raw(n)
                        };
                    }
                    "" => {
                        self.pos = at;
                        start = self.u32_value("a sequence number")?;
                        self.expect(":", "`:` in start:end(len)")?;
                        let end = self.u32_value("an end sequence number")?;
                        self.expect("(", "`(len)` after start:end")?;
                        len = self.u32_value("a payload length")?;
                        self.expect(")", "`)`")?;
                        if end.wrapping_sub(start) != len {
                            return Err(self.err(format!(
                                "{start}:{end}({len}): end minus start is not the length"
                            )));
                        }
                    }
                    other => {
                        let other = other.to_string();
                        self.pos = at;
                        return Err(self.err(format!(
                            "expected START:END(LEN), udp(LEN) or raw(LEN) in the quote, found {other:?}"
                        )));
                    }
                }
                self.expect("]", "`]` closing the quote")?;
                self.skip_ws();
                if !self.rest().is_empty() {
                    return Err(self.err(format!(
                        "unexpected {} after the quoted segment",
                        self.found()
                    )));
                }
                break;
            }
            let at = self.pos;
            let w = self.word().to_string();
            match w.as_str() {
                "mtu" if stage < 2 => {
                    let v = self.u16_value("an MTU")?;
                    if !(kind == 3 && spec.code == 4) {
                        self.pos = at;
                        self.skip_ws();
                        return Err(
                            self.err("ICMPv4 MTU is only valid for unreachable-frag_needed")
                        );
                    }
                    spec.mtu = Some(v);
                    stage = 2;
                }
                "id" if stage < 3 => {
                    spec.echo_id = self.u16_value("an echo id")?;
                    stage = 3;
                }
                "" => {
                    return Err(self.err(format!(
                        "expected an ICMP code, `mtu N`, `id N` or a quoted [segment], found {}",
                        self.found()
                    )));
                }
                code if stage == 0 => {
                    spec.code = code_by_name(kind, code).map_err(|e| {
                        self.pos = at;
                        self.skip_ws();
                        self.err(e)
                    })?;
                    stage = 1;
                }
                other => {
                    let other = other.to_string();
                    self.pos = at;
                    self.skip_ws();
                    return Err(self.err(format!(
                        "unexpected {other:?} in an icmp line (packetdrill's order: TYPE [CODE] [mtu N] [id N] [[START:END(LEN)]])"
                    )));
                }
            }
        }
        if len > 65_000 {
            return Err(self.err(format!("quoted length {len} does not fit in a datagram")));
        }
        Ok(PacketSpec {
            direction,
            flags: 0,
            start,
            end: start.wrapping_add(len),
            len,
            ack: None,
            win: None,
            options: OptionsSpec::None,
            tos: TosSpec::Unchecked,
            icmp: Some(spec),
        })
    }

    fn options(&mut self) -> Result<OptionsSpec, ScriptError> {
        if self.eat("...") {
            self.expect(">", "`>` closing `<...>`")?;
            return Ok(OptionsSpec::Wildcard);
        }
        let mut list = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            let opt = match self.word() {
                "nop" => OptionSpec::Nop,
                "eol" => OptionSpec::Eol,
                "mss" => OptionSpec::Mss(self.u16_value("an MSS")?),
                "wscale" => {
                    let at = self.pos;
                    let v = self.number("a window scale shift")?;
                    if v > 14 {
                        self.pos = at;
                        self.skip_ws();
                        return Err(
                            self.err(format!("wscale {v}: RFC 7323 §2.3 allows shifts up to 14"))
                        );
                    }
                    OptionSpec::WindowScale(v as u8)
                }
                "sackOK" => OptionSpec::SackPermitted,
                "TS" => {
                    self.skip_ws();
                    let kw = self.pos;
                    if self.word() != "val" {
                        self.pos = kw;
                        return Err(self.err("expected `val` after TS"));
                    }
                    let val = self.u32_value("a TS value")?;
                    self.skip_ws();
                    let kw = self.pos;
                    if self.word() != "ecr" {
                        self.pos = kw;
                        return Err(self.err("expected `ecr` after the TS value"));
                    }
                    let ecr = self.u32_value("a TS echo reply")?;
                    OptionSpec::Timestamps { val, ecr }
                }
                "sack" => {
                    let mut blocks = Vec::new();
                    loop {
                        self.skip_ws();
                        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                            break;
                        }
                        let l = self.u32_value("a SACK block's left edge")?;
                        self.expect(":", "`:` in a SACK block")?;
                        let r = self.u32_value("a SACK block's right edge")?;
                        blocks.push((l, r));
                    }
                    if blocks.is_empty() {
                        return Err(self.err("`sack` needs at least one left:right block"));
                    }
                    if blocks.len() > 4 {
                        self.pos = at;
                        return Err(self.err("at most four SACK blocks fit in the option space"));
                    }
                    OptionSpec::Sack(blocks)
                }
                "FO" => self.fast_open_option(false)?,
                "FOEXP" => self.fast_open_option(true)?,
                "" => {
                    return Err(self.err(format!("expected a TCP option, found {}", self.found())));
                }
                other => {
                    let other = other.to_string();
                    self.pos = at;
                    self.skip_ws();
                    return Err(self.err(format!(
                        "unsupported TCP option {other:?} (supported: nop, eol, mss, wscale, sackOK, sack, TS val ecr, FO, FOEXP)"
                    )));
                }
            };
            list.push(opt);
            if self.eat(",") {
                continue;
            }
            self.expect(">", "`,` or `>` in the option list")?;
            break;
        }
        Ok(OptionsSpec::List(list))
    }

    /// The rest of `FO` / `FOEXP`: an optional cookie of hex digits, an
    /// even number of them. As packetdrill, any length the option space
    /// holds (38 bytes, 36 in the experimental form), so a script can
    /// send the malformed cookies RFC 7413 §4.1.1 rules out (above 16
    /// bytes, odd lengths) and see the stack ignore them.
    fn fast_open_option(&mut self, experimental: bool) -> Result<OptionSpec, ScriptError> {
        let name = if experimental { "FOEXP" } else { "FO" };
        let room = if experimental {
            stack::wire::FAST_OPEN_COOKIE_ROOM - 2
        } else {
            stack::wire::FAST_OPEN_COOKIE_ROOM
        };
        self.skip_ws();
        let before = self.pos;
        let text = self.word().to_string();
        let hex = text.len().is_multiple_of(2)
            && text.len() <= 2 * room
            && text.chars().all(|c| c.is_ascii_hexdigit());
        if !hex {
            self.pos = before;
            return Err(self.err(format!(
                "{name} cookie {text:?}: expected an even number of hex digits, at most {} (a name such as TFO_COOKIE needs `-D TFO_COOKIE=HEX`)",
                2 * room
            )));
        }
        let cookie = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0))
            .collect();
        Ok(OptionSpec::FastOpen {
            cookie,
            experimental,
        })
    }

    fn call(&mut self) -> Result<CallSpec, ScriptError> {
        let name = self.word().to_string();
        self.expect("(", &format!("`(` after {name}"))?;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.expr()?);
                if self.eat(",") {
                    continue;
                }
                self.expect(")", "`,` or `)` in the argument list")?;
                break;
            }
        }
        self.expect("=", "`= result` after the call")?;
        let ret = self.expr()?;
        self.skip_ws();
        let mut errno = None;
        if self.peek().is_some_and(|c| c.is_ascii_uppercase()) {
            errno = Some(self.word().to_string());
        }
        // A parenthesised explanation, like `(Connection refused)`, is a comment.
        self.skip_ws();
        if self.peek() == Some('(') {
            let mut depth = 0;
            while let Some(c) = self.peek() {
                self.pos += c.len_utf8();
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        if errno.is_some() && ret != Expr::Int(-1) {
            return Err(self.err("an errno name follows only a result of -1"));
        }
        Ok(CallSpec {
            name,
            args,
            ret,
            errno,
        })
    }

    /// What follows a `{`: named fields (`{fd=4, events=POLLIN}`, with
    /// msghdr's counted `msg_iov(1)=[...]`) or values without names
    /// (`{..., 1000}`), as packetdrill's grammar has them.
    fn braces(&mut self) -> Result<Expr, ScriptError> {
        if self.eat("}") {
            return Ok(Expr::Struct(Vec::new()));
        }
        self.skip_ws();
        // A name directly followed by `=` (not `==`) or `(` opens a field.
        let r = self.rest();
        let name_len = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        let after = r[name_len..].trim_start();
        let named = name_len > 0
            && r.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && ((after.starts_with('=') && !after.starts_with("==")) || after.starts_with('('));
        if !named {
            let mut items = Vec::new();
            loop {
                items.push(self.expr()?);
                if self.eat(",") {
                    continue;
                }
                self.expect("}", "`,` or `}`")?;
                return Ok(Expr::Tuple(items));
            }
        }
        let mut fields: Vec<(String, Expr)> = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            let starts_name = self
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            let f = if starts_name {
                self.word().to_string()
            } else {
                String::new()
            };
            if f.is_empty() {
                return Err(self.err(format!("expected a field name, found {}", self.found())));
            }
            let mut count = None;
            self.skip_ws();
            if self.peek() == Some('(') {
                let count_at = self.pos;
                self.pos += 1;
                count = Some((count_at, self.expr()?));
                self.expect(")", &format!("`)` after {f}'s count"))?;
            }
            self.expect("=", "`=` after a field name")?;
            let value = self.expr()?;
            // Checked once the value is read, so that a value nested too
            // deep reports that first.
            if !STRUCT_FIELDS.contains(&f.as_str()) {
                self.pos = at;
                return Err(self.err(format!(
                    "unknown struct field {f:?} (packetdrill's fields: {})",
                    STRUCT_FIELDS.join(", ")
                )));
            }
            if fields.iter().any(|(n, _)| *n == f) {
                self.pos = at;
                return Err(self.err(format!("field {f} is given twice")));
            }
            let value = match count {
                None if COUNTED_FIELDS.contains(&f.as_str()) => {
                    self.pos = at + f.len();
                    return Err(self.err(format!(
                        "{f} needs a count, as packetdrill writes it: {f}(N)=..."
                    )));
                }
                None => value,
                Some((count_at, _)) if !COUNTED_FIELDS.contains(&f.as_str()) => {
                    self.pos = count_at;
                    return Err(self.err(format!(
                        "only {} take a count in parentheses, not {f}",
                        COUNTED_FIELDS.join(" and ")
                    )));
                }
                Some((count_at, count)) => {
                    // As packetdrill's msghdr_new: "msg_iovlen %d does not
                    // match %d-element iovec array".
                    if let (Expr::Int(n), Expr::List(items)) = (&count, &value)
                        && usize::try_from(*n).ok() != Some(items.len())
                    {
                        self.pos = count_at + 1;
                        return Err(self.err(format!(
                            "{f}({n}) does not match its {}-element array",
                            items.len()
                        )));
                    }
                    Expr::Counted(Box::new(count), Box::new(value))
                }
            };
            fields.push((f, value));
            if self.eat(",") {
                continue;
            }
            self.expect("}", "`,` or `}`")?;
            return Ok(Expr::Struct(fields));
        }
    }

    fn expr(&mut self) -> Result<Expr, ScriptError> {
        let first = self.atom()?;
        if !self.rest().trim_start().starts_with('|') {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat("|") {
            parts.push(self.atom()?);
        }
        Ok(Expr::Or(parts))
    }

    fn atom(&mut self) -> Result<Expr, ScriptError> {
        self.skip_ws();
        if self.eat("...") {
            return Ok(Expr::Ellipsis);
        }
        match self.peek() {
            Some('[') => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat(",") {
                            continue;
                        }
                        self.expect("]", "`,` or `]`")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Expr::List(items))
            }
            Some('{') => {
                self.enter()?;
                self.pos += 1;
                let v = self.braces()?;
                self.depth -= 1;
                Ok(v)
            }
            Some('"') => {
                self.pos += 1;
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c == '"' {
                        let s = self.s[start..self.pos].to_string();
                        self.pos += 1;
                        return Ok(Expr::Str(s));
                    }
                    self.pos += c.len_utf8();
                }
                Err(self.err("unterminated string"))
            }
            Some('-') => {
                self.pos += 1;
                let v = self.number("a number")?;
                let v = i64::try_from(v).map_err(|_| self.err("number is out of range"))?;
                Ok(Expr::Int(-v))
            }
            Some(c) if c.is_ascii_digit() => {
                let v = self.number("a number")?;
                let v = i64::try_from(v).map_err(|_| self.err("number is out of range"))?;
                Ok(Expr::Int(v))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                Ok(Expr::Name(self.word().to_string()))
            }
            _ => Err(self.err(format!("expected a value, found {}", self.found()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Event {
        let s = parse("t.pkt", line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.events.len(), 1);
        s.events.into_iter().next().unwrap()
    }

    #[test]
    fn a_dash_is_a_segment_without_flags() {
        // packetdrill writes a segment with no flags (not even ACK) as `-`;
        // the state-by-segment matrix probes every state with one.
        let e = one("+0.1 < - 1:1(0) win 1000");
        let EventKind::Packet(p) = e.kind else {
            panic!()
        };
        assert_eq!(p.flags, 0);
        assert_eq!((p.start, p.end), (1, 1));
    }

    #[test]
    fn packet_lines_parse_as_packetdrill_writes_them() {
        // The seed script's own lines, including `ack 1<...>` without a space.
        let e = one("0.100 > S. 0:0(0) ack 1<...>");
        assert_eq!(e.when, When::At(TimeExpr::Absolute(100_000)));
        let EventKind::Packet(p) = e.kind else {
            panic!()
        };
        assert_eq!(p.flags, SYN | ACK);
        assert_eq!(p.ack, Some(1));
        assert_eq!(p.options, OptionsSpec::Wildcard);

        let e = one(
            "+.1 < S 4294966295:4294966295(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>",
        );
        assert_eq!(e.when, When::At(TimeExpr::Relative(100_000)));
        let EventKind::Packet(p) = e.kind else {
            panic!()
        };
        assert_eq!(p.start, 4294966295);
        assert_eq!(p.win, Some(32792));
        assert_eq!(
            p.options,
            OptionsSpec::List(vec![
                OptionSpec::Mss(1460),
                OptionSpec::SackPermitted,
                OptionSpec::Nop,
                OptionSpec::Nop,
                OptionSpec::Nop,
                OptionSpec::WindowScale(7),
            ])
        );
        // Data that wraps: 4294967295:9(10) is ten bytes.
        let e = one(
            "0.2~0.3 < P. 4294967295:9(10) ack 1 win 100 <nop,nop,TS val 5 ecr 6,sack 1:2 3:4>",
        );
        assert_eq!(
            e.when,
            When::Range(TimeExpr::Absolute(200_000), TimeExpr::Absolute(300_000))
        );
    }

    #[test]
    fn calls_parse_with_errno_and_comment() {
        let e = one("0.000...0.100 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)");
        assert_eq!(e.end, Some(TimeExpr::Absolute(100_000)));
        let EventKind::Call(c) = e.kind else { panic!() };
        assert_eq!(c.name, "connect");
        assert_eq!(c.args, vec![Expr::Int(3), Expr::Ellipsis, Expr::Ellipsis]);
        assert_eq!(c.errno.as_deref(), Some("ECONNREFUSED"));
        let e = one("* fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
        let EventKind::Call(c) = e.kind else { panic!() };
        assert_eq!(
            c.args[2],
            Expr::Or(vec![
                Expr::Name("O_RDWR".into()),
                Expr::Name("O_NONBLOCK".into())
            ])
        );
        let e = one("0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
        let EventKind::Call(c) = e.kind else { panic!() };
        assert!(matches!(c.args[3], Expr::Struct(_)));
    }

    #[test]
    fn comments_and_continuations() {
        let s = parse(
            "t.pkt",
            "// header\n--tolerance_usecs=4000\n`sysctl -q net.ipv4.tcp_sack=1`\n/* block\n comment */ 0 socket(...,\n SOCK_STREAM, IPPROTO_TCP) = 3 // trailing\n",
        )
        .unwrap();
        assert_eq!(s.tolerance, Some(4000));
        assert!(s.warnings.is_empty());
        assert_eq!(s.events.len(), 2, "the shell line is an event");
        assert_eq!(
            s.events[1].line, 5,
            "the event starts after the block comment"
        );
    }

    fn shell(e: &Event) -> &str {
        match &e.kind {
            EventKind::Shell { command } => command,
            other => panic!("not a shell event: {other:?}"),
        }
    }

    #[test]
    fn backtick_blocks_in_every_form_the_suites_write() {
        // Why: Google's gtests open with a multi-line block whose second
        // line starts with a space, use `+0` and `0` before blocks, and
        // put untimed blocks between and after events; each must come out
        // as one Shell event with its text verbatim, at the right time.
        let text = "--tolerance_usecs=10000\n\
`../common/defaults.sh\n ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_min_tso_segs=10\n`\n\
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
   +0 `sysctl -q net.ipv4.tcp_sack=0`   // trailing comment\n\
`echo 1 > /proc/sys/net/ipv4/tcp_ecn # a // inside stays`\n\
0.2 `tc qdisc add dev tun0 root pfifo\n  ethtool -K tun0 tso off`\n\
   +0 close(3) = 0\n\
`/tmp/sysctl_restore_${PPID}.sh`\n";
        let s = parse("t.pkt", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.events.len(), 7);
        assert_eq!(
            shell(&s.events[0]),
            "../common/defaults.sh\n ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_min_tso_segs=10\n"
        );
        assert_eq!(s.events[0].line, 2);
        assert_eq!(s.events[0].when, When::At(TimeExpr::Relative(0)));
        assert_eq!(s.events[1].line, 5, "the socket call after the block");
        assert_eq!(shell(&s.events[2]), "sysctl -q net.ipv4.tcp_sack=0");
        assert_eq!(s.events[2].when, When::At(TimeExpr::Relative(0)));
        assert_eq!(
            shell(&s.events[3]),
            "echo 1 > /proc/sys/net/ipv4/tcp_ecn # a // inside stays"
        );
        assert_eq!(
            shell(&s.events[4]),
            "tc qdisc add dev tun0 root pfifo\n  ethtool -K tun0 tso off"
        );
        assert_eq!(s.events[4].when, When::At(TimeExpr::Absolute(200_000)));
        assert_eq!(s.events[4].line, 8);
        assert_eq!(s.events[5].line, 10, "the close after a two-line block");
        assert_eq!(shell(&s.events[6]), "/tmp/sysctl_restore_${PPID}.sh");
        assert_eq!(s.events[6].line, 11);
    }

    #[test]
    fn code_blocks_keep_their_text_and_first_line() {
        // Why: the TCP_INFO evaluator needs the Python verbatim (its lines
        // and indentation) and the line it starts on for its messages.
        let text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%  // not cwnd-limited\n\
%{\nassert tcpi_rto == 1000000\nif x:\n    y = 1\n}%\n\
+.1 %{ print(tcpi_rtt) }%\n";
        let s = parse("t.pkt", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.events.len(), 4);
        let code = |e: &Event| match &e.kind {
            EventKind::Python { code, line } => (code.clone(), *line),
            other => panic!("not code: {other:?}"),
        };
        assert_eq!(
            code(&s.events[1]),
            (" assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd ".to_string(), 2)
        );
        assert_eq!(s.events[1].when, When::At(TimeExpr::Relative(0)));
        assert_eq!(
            code(&s.events[2]),
            (
                "\nassert tcpi_rto == 1000000\nif x:\n    y = 1\n".to_string(),
                3
            )
        );
        assert_eq!(s.events[3].when, When::At(TimeExpr::Relative(100_000)));
        assert_eq!(code(&s.events[3]).0, " print(tcpi_rtt) ");
    }

    #[test]
    fn unclosed_blocks_and_stray_text_name_line_and_column() {
        // Why: a missing backtick would otherwise swallow the rest of the
        // script silently; the error points at the opening one.
        let e = parse(
            "x.pkt",
            "0 close(3) = 0\n  +0 `sysctl -q a=1\n0 close(4) = 0\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pkt:2:6: unterminated ` shell command (no closing backtick)"
        );
        let e = parse("x.pkt", "%{ assert 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pkt:1:1: unterminated %{ code block (no closing }%)"
        );
        let e = parse("x.pkt", "+0 `true` close(3) = 0\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.pkt:1:11: unexpected \"close(3)\""),
            "{e}"
        );
        let e = parse("x.pkt", "0...1 `true`\n").unwrap_err();
        assert!(
            e.to_string().starts_with("x.pkt:1:7: only a system call"),
            "{e}"
        );
        let e = parse("x.pkt", "0 close(`x`) = 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pkt:1:9: expected a value, found a ` or %{ block"
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        // Why: a user fixing a script needs the exact spot, not just "syntax error".
        let e = parse(
            "x.pkt",
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.1 < SX 0:0(0)\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "x.pkt:2:8: 'X' is not a TCP flag");
        let e = parse("x.pkt", "0.1 < S 0:5(0)\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pkt:1:15: 0:5(0): end minus start is not the length"
        );
        let e = parse("x.pkt", "0.1 < S 0:0(0) wn 5\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.pkt:1:16: unknown packet field \"wn\""),
            "{e}"
        );
        let e = parse("x.pkt", "0.1 < S 0:0(0)\n").unwrap_err();
        assert!(e.to_string().contains("window must be specified"), "{e}");
        // `= -1` alone is packetdrill's "any errno" (checked at run time).
        assert!(parse("x.pkt", "0.1 close(3) = -1\n").is_ok());
        let e = parse("x.pkt", "abc close(3) = 0\n").unwrap_err();
        assert_eq!(e.to_string(), "x.pkt:1:1: expected a time, found \"abc\"");
        let e = parse("x.pkt", "--ip_version=ipv6\n").unwrap_err();
        assert!(e.to_string().contains("only ipv4"), "{e}");
    }
}
