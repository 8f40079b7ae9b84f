//! The shell commands of backtick blocks, read as configuration.
//!
//! packetdrill hands a backtick block to `/bin/sh`; the suites use it to
//! configure the Linux host under test: `sysctl` assignments, `echo V >
//! /proc/sys/...`, their `set_sysctls.py` helper, sourcing a shared
//! `defaults.sh`, and commands for the tun device (`ip link`, `tc`,
//! `ethtool`). tcpsim has no host to run them on, so this module reads
//! them instead: a small tokenizer of its own (words, `'...'` and `"..."`
//! quoting, `$((...))` integer arithmetic, `\` line continuation, `#`
//! comments, `;` `&&` `||` `|` and newlines between commands, redirections)
//! and an interpreter that turns each command into an [`Effect`]: a sysctl
//! assignment, an MTU, or a warning naming a command tcpsim does not
//! model. It never runs anything.

use super::ScriptError;
use std::path::{Path, PathBuf};

/// How deep sourced files may nest (a file sourcing itself would
/// otherwise never end).
const MAX_SOURCE_DEPTH: usize = 8;

/// Where an effect comes from: the file (the script, or a file it
/// sourced) and the 1-based line there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The script, or the shell file it sourced, as named in messages.
    pub file: String,
    /// 1-based line in that file.
    pub line: usize,
}

impl Origin {
    /// A script error at this place.
    pub fn error(&self, message: impl Into<String>) -> ScriptError {
        ScriptError::line(&self.file, self.line, message)
    }

    /// A warning at this place, in the form the CLI prints.
    pub fn warning(&self, message: impl std::fmt::Display) -> String {
        format!("{}:{}: {message}", self.file, self.line)
    }
}

/// What one command means for the simulated host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `sysctl name=value`, `echo value > /proc/sys/...`, or the
    /// `set_sysctls.py` helper: `name` in dotted form (`net.ipv4.tcp_sack`),
    /// `value` as the shell would pass it (quotes removed, `$((...))`
    /// expanded).
    Sysctl {
        /// Dotted: `net.ipv4.tcp_sack`.
        name: String,
        /// As the command passes it.
        value: String,
        /// Where the command is.
        origin: Origin,
        /// Written by `set_sysctls.py`, which saves the old value for its
        /// restore file.
        saves: bool,
    },
    /// `ip link set [dev] IF mtu N`.
    Mtu {
        /// Bytes.
        mtu: u32,
        /// Where the command is.
        origin: Origin,
    },
    /// Running `/tmp/sysctl_restore_${PPID}.sh`, the file `set_sysctls.py`
    /// writes: the sysctls it set go back to their earlier values.
    Restore {
        /// Where the command is.
        origin: Origin,
    },
    /// A command with no meaning in the simulator (or one tcpsim does not
    /// model), in one line naming it.
    Warning(String),
    /// `ip tcp_metrics flush`: the host forgets what it learnt about its
    /// peers (the Fast Open cookie cache, the only TCP metric modelled).
    FlushTcpMetrics,
}

/// One simple command: its words (quotes removed, arithmetic expanded),
/// its redirections (`>`, `>>`, `2>&1`, `<`... with their targets) and the
/// line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Command {
    words: Vec<String>,
    redirects: Vec<(String, String)>,
    line: usize,
}

/// Reads the commands of `text`, whose first line is line `first_line` of
/// `file`; `dir` is where relative paths (a sourced `../common/defaults.sh`)
/// are found: the script's directory, as packetdrill runs scripts from
/// there.
pub fn interpret(
    text: &str,
    file: &str,
    first_line: usize,
    dir: &Path,
) -> Result<Vec<Effect>, ScriptError> {
    let mut effects = Vec::new();
    interpret_into(text, file, first_line, dir, 0, &mut effects)?;
    Ok(effects)
}

fn interpret_into(
    text: &str,
    file: &str,
    first_line: usize,
    dir: &Path,
    depth: usize,
    effects: &mut Vec<Effect>,
) -> Result<(), ScriptError> {
    for cmd in tokenize(text, file, first_line)? {
        let origin = Origin {
            file: file.to_string(),
            line: cmd.line,
        };
        command(&cmd, &origin, dir, depth, effects)?;
    }
    Ok(())
}

/// The command as one line, for messages.
fn shown(cmd: &Command) -> String {
    let mut s = cmd.words.join(" ");
    for (op, target) in &cmd.redirects {
        if op.ends_with('&') {
            s.push_str(&format!(" {op}{target}"));
        } else {
            s.push_str(&format!(" {op} {target}"));
        }
    }
    s.trim().to_string()
}

/// `/proc/sys/net/ipv4/tcp_sack` -> `net.ipv4.tcp_sack`.
fn proc_sys_name(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/proc/sys/")?;
    (!rest.is_empty()).then(|| rest.trim_end_matches('/').replace('/', "."))
}

fn command(
    cmd: &Command,
    origin: &Origin,
    dir: &Path,
    depth: usize,
    effects: &mut Vec<Effect>,
) -> Result<(), ScriptError> {
    // Leading `VAR=value` words set the environment of the command.
    let words: Vec<&str> = cmd
        .words
        .iter()
        .map(String::as_str)
        .skip_while(|w| is_env_assignment(w))
        .collect();
    let Some(&program) = words.first() else {
        return Ok(());
    };
    let args = &words[1..];
    let base = program.rsplit('/').next().unwrap_or(program);
    let warn = |effects: &mut Vec<Effect>, why: &str| {
        effects.push(Effect::Warning(
            origin.warning(format_args!("`{}`: {why}", shown(cmd))),
        ));
    };
    match base {
        "sysctl" => {
            let mut any = false;
            for a in args {
                if a.starts_with('-') {
                    match *a {
                        "-q" | "-w" | "-e" | "--quiet" | "--write" => continue,
                        _ => {
                            warn(
                                effects,
                                &format!(
                                    "sysctl option {a} is not modelled (tcpsim reads -q, -w and name=value)"
                                ),
                            );
                            return Ok(());
                        }
                    }
                }
                match a.split_once('=') {
                    Some((name, value)) => {
                        any = true;
                        effects.push(Effect::Sysctl {
                            name: name.trim().replace('/', "."),
                            value: value.to_string(),
                            origin: origin.clone(),
                            saves: false,
                        });
                    }
                    None => warn(
                        effects,
                        &format!("reading {a} is not modelled (tcpsim applies assignments only)"),
                    ),
                }
            }
            if !any && args.iter().all(|a| a.starts_with('-')) {
                warn(effects, "sysctl without an assignment does nothing here");
            }
        }
        "echo" => {
            let target = cmd
                .redirects
                .iter()
                .find(|(op, _)| op == ">" || op == ">>")
                .map(|(_, t)| t.as_str());
            let mut values: Vec<&str> = args.to_vec();
            while values
                .first()
                .is_some_and(|v| matches!(*v, "-n" | "-e" | "-E"))
            {
                values.remove(0);
            }
            match target {
                None => {}
                Some(t) => match proc_sys_name(t) {
                    Some(name) => effects.push(Effect::Sysctl {
                        name,
                        value: values.join(" "),
                        origin: origin.clone(),
                        saves: false,
                    }),
                    None if t == "/dev/null" => {}
                    None => warn(
                        effects,
                        &format!("writing {t} is not modelled (only /proc/sys/ settings are)"),
                    ),
                },
            }
        }
        "set_sysctls.py" => {
            for a in args {
                let parsed = a
                    .split_once('=')
                    .and_then(|(path, value)| Some((proc_sys_name(path)?, value)));
                match parsed {
                    Some((name, value)) => effects.push(Effect::Sysctl {
                        name,
                        value: value.to_string(),
                        origin: origin.clone(),
                        saves: true,
                    }),
                    None => warn(
                        effects,
                        &format!("set_sysctls.py argument {a:?} is not /proc/sys/...=value"),
                    ),
                }
            }
        }
        _ if program.starts_with("/tmp/sysctl_restore_") && program.ends_with(".sh") => {
            effects.push(Effect::Restore {
                origin: origin.clone(),
            });
        }
        "source" | "." => match args.first() {
            Some(path) => source(path, cmd, origin, dir, depth, effects)?,
            None => return Err(origin.error(format!("`{}`: source needs a file", shown(cmd)))),
        },
        _ if program.ends_with(".sh") => source(program, cmd, origin, dir, depth, effects)?,
        "ip" => {
            let words: Vec<&str> = args.to_vec();
            // ip link set [dev] IF mtu N
            if words.first() == Some(&"link")
                && words.get(1) == Some(&"set")
                && let Some(i) = words.iter().position(|w| *w == "mtu")
            {
                let v = words.get(i + 1).copied().unwrap_or("");
                let mtu = v.parse::<u32>().ok().filter(|m| (68..=65535).contains(m));
                match mtu {
                    Some(mtu) => effects.push(Effect::Mtu {
                        mtu,
                        origin: origin.clone(),
                    }),
                    None => {
                        return Err(origin.error(format!(
                            "`{}`: mtu {v:?} is not a number between 68 and 65535",
                            shown(cmd)
                        )));
                    }
                }
            } else if words.first() == Some(&"route") {
                // ip route ... [advmss N] [mtu [lock] N]: the MSS the stack
                // announces (advmss first, else the MTU's). Other route
                // attributes (initcwnd...) are not modelled.
                let after = |key: &str| {
                    let i = words.iter().position(|w| *w == key)?;
                    let v = words.get(i + 1).copied()?;
                    if v == "lock" {
                        words.get(i + 2).copied()
                    } else {
                        Some(v)
                    }
                };
                let number = |key: &str, v: &str, lo: u32| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (lo..=65535).contains(n))
                        .ok_or_else(|| {
                            origin.error(format!(
                                "`{}`: {key} {v:?} is not a number between {lo} and 65535",
                                shown(cmd)
                            ))
                        })
                };
                let mtu = match (after("advmss"), after("mtu")) {
                    (Some(v), _) => Some(number("advmss", v, 48)? + 40),
                    (None, Some(v)) => Some(number("mtu", v, 68)?),
                    (None, None) => None,
                };
                if let Some(mtu) = mtu {
                    effects.push(Effect::Mtu {
                        mtu,
                        origin: origin.clone(),
                    });
                }
                warn(
                    effects,
                    "only the route's advmss / mtu are modelled (as the MSS); its other attributes have no effect",
                );
            } else if words.first() == Some(&"tcp_metrics") {
                if words.contains(&"flush") {
                    effects.push(Effect::FlushTcpMetrics);
                }
                warn(
                    effects,
                    "only the Fast Open cookie cache is modelled (a flush clears it); no other TCP metrics are kept",
                );
            } else {
                warn(
                    effects,
                    "accepted, no effect: tcpsim models no interfaces or routes beyond the MTU",
                );
            }
        }
        "tc" if args.contains(&"fq") => warn(
            effects,
            "not modelled: Linux's fq qdisc paces the flow; tcpsim has no queueing disciplines and does not pace",
        ),
        "tc" => warn(
            effects,
            "accepted, no effect: tcpsim has no queueing disciplines (packets leave when the stack sends them)",
        ),
        "ethtool" => warn(
            effects,
            "accepted, no effect: tcpsim has no offloads (the stack sends MSS-sized segments)",
        ),
        "true" | ":" => {}
        _ => warn(
            effects,
            "not run: tcpsim runs no programs (only sysctl, echo to /proc/sys, set_sysctls.py, ip link mtu and sourced shell files configure it)",
        ),
    }
    Ok(())
}

/// `NAME=value` before a command's name.
fn is_env_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Reads and interprets a shell file the block sources or runs, relative
/// to `dir` (the script's directory).
fn source(
    path: &str,
    cmd: &Command,
    origin: &Origin,
    dir: &Path,
    depth: usize,
    effects: &mut Vec<Effect>,
) -> Result<(), ScriptError> {
    if depth >= MAX_SOURCE_DEPTH {
        return Err(origin.error(format!(
            "`{}`: shell files nest more than {MAX_SOURCE_DEPTH} deep",
            shown(cmd)
        )));
    }
    let full: PathBuf = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        dir.join(path)
    };
    let text = std::fs::read_to_string(&full).map_err(|e| {
        origin.error(format!(
            "`{}`: cannot read {} (paths are relative to the script's directory): {e}",
            shown(cmd),
            full.display()
        ))
    })?;
    let name = full.display().to_string();
    // The file's own relative paths count from the current directory,
    // which stays the script's (as when bash runs or sources it).
    interpret_into(&text, &name, 1, dir, depth + 1, effects)
}

// ----- the tokenizer -----

/// Splits `text` into simple commands. Errors (an unclosed quote, bad
/// arithmetic) name the file and the line.
// (The macros' last expansion leaves `in_word` assigned and unread.)
#[allow(unused_assignments)]
fn tokenize(text: &str, file: &str, first_line: usize) -> Result<Vec<Command>, ScriptError> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = first_line;
    let mut out = Vec::new();
    let mut cur = Command {
        words: Vec::new(),
        redirects: Vec::new(),
        line,
    };
    // The word being built, and whether anything (even "") was quoted in.
    let mut word = String::new();
    let mut in_word = false;
    let mut pending_redirect: Option<String> = None;
    let err = |line: usize, msg: String| ScriptError::line(file, line, msg);

    macro_rules! end_word {
        () => {
            if in_word {
                let w = std::mem::take(&mut word);
                if let Some(op) = pending_redirect.take() {
                    cur.redirects.push((op, w));
                } else {
                    cur.words.push(w);
                }
                in_word = false;
            }
        };
    }
    macro_rules! end_command {
        () => {
            end_word!();
            if let Some(op) = pending_redirect.take() {
                return Err(err(cur.line, format!("redirection {op} without a target")));
            }
            if !cur.words.is_empty() || !cur.redirects.is_empty() {
                out.push(std::mem::replace(
                    &mut cur,
                    Command {
                        words: Vec::new(),
                        redirects: Vec::new(),
                        line,
                    },
                ));
            } else {
                cur.line = line;
            }
        };
    }

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                // Line continuation.
                i += 2;
                line += 1;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                    in_word = true;
                }
                i += 2;
            }
            '\n' => {
                end_command!();
                line += 1;
                cur.line = line;
                i += 1;
            }
            ' ' | '\t' | '\r' => {
                end_word!();
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ';' => {
                end_command!();
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                end_command!();
                i += 2;
            }
            '|' => {
                end_command!();
                i += if chars.get(i + 1) == Some(&'|') { 2 } else { 1 };
            }
            '&' if chars.get(i + 1) == Some(&'>') => {
                end_word!();
                pending_redirect = Some("&>".into());
                i += 2;
            }
            '&' => {
                // A background job: the command runs all the same.
                end_command!();
                i += 1;
            }
            '>' | '<' => {
                // `2>&1`, `2>`, `>`, `>>`, `<`: a word of digits just
                // before is the file descriptor.
                let fd = if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    in_word = false;
                    std::mem::take(&mut word)
                } else {
                    end_word!();
                    String::new()
                };
                let mut op = format!("{fd}{c}");
                i += 1;
                if c == '>' && chars.get(i) == Some(&'>') {
                    op.push('>');
                    i += 1;
                }
                if chars.get(i) == Some(&'&') {
                    // `2>&1`: a duplication, its target is the fd after.
                    op.push('&');
                    i += 1;
                    let start = i;
                    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '-') {
                        i += 1;
                    }
                    let target: String = chars[start..i].iter().collect();
                    cur.redirects.push((op, target));
                    continue;
                }
                pending_redirect = Some(op);
            }
            '\'' => {
                in_word = true;
                i += 1;
                let start_line = line;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(start_line, "unterminated ' quote".to_string()));
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            word.push(ch);
                            i += 1;
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                let start_line = line;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(start_line, "unterminated \" quote".to_string()));
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('\\') if chars.get(i + 1) == Some(&'\n') => {
                            line += 1;
                            i += 2;
                        }
                        Some('$')
                            if chars.get(i + 1) == Some(&'(') && chars.get(i + 2) == Some(&'(') =>
                        {
                            let (v, next) =
                                arithmetic(&chars, i, line).map_err(|m| err(line, m))?;
                            word.push_str(&v.to_string());
                            i = next;
                        }
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            word.push(ch);
                            i += 1;
                        }
                    }
                }
            }
            '$' if chars.get(i + 1) == Some(&'(') && chars.get(i + 2) == Some(&'(') => {
                let (v, next) = arithmetic(&chars, i, line).map_err(|m| err(line, m))?;
                word.push_str(&v.to_string());
                in_word = true;
                i = next;
            }
            _ => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    end_command!();
    Ok(out)
}

/// `$((expr))` starting at `chars[at]` (the `$`): its value and the index
/// after the closing `))`.
fn arithmetic(chars: &[char], at: usize, line: usize) -> Result<(i64, usize), String> {
    let start = at + 3;
    let mut depth = 0i32;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '(' => depth += 1,
            ')' if depth == 0 => {
                if chars.get(i + 1) == Some(&')') {
                    let expr: String = chars[start..i].iter().collect();
                    let v = Arith::eval(&expr).map_err(|m| format!("$(({expr})): {m}"))?;
                    return Ok((v, i + 2));
                }
                return Err(format!("$((...)) on line {line} is not closed by ))"));
            }
            ')' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    Err(format!("$((...)) on line {line} is not closed by ))"))
}

/// The integer arithmetic of `$((...))`: `+ - * / %`, unary minus,
/// parentheses, decimal and `0x` numbers, in 64 bits (overflow and
/// division by zero are errors, as in the shell).
struct Arith<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Arith<'_> {
    fn eval(expr: &str) -> Result<i64, String> {
        let mut a = Arith {
            s: expr.as_bytes(),
            pos: 0,
        };
        let v = a.sum()?;
        a.ws();
        if a.pos != a.s.len() {
            return Err(format!(
                "unexpected {:?}",
                String::from_utf8_lossy(&a.s[a.pos..])
            ));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn sum(&mut self) -> Result<i64, String> {
        let mut v = self.product()?;
        loop {
            self.ws();
            match self.s.get(self.pos) {
                Some(b'+') => {
                    self.pos += 1;
                    v = v.checked_add(self.product()?).ok_or("overflow")?;
                }
                Some(b'-') => {
                    self.pos += 1;
                    v = v.checked_sub(self.product()?).ok_or("overflow")?;
                }
                _ => return Ok(v),
            }
        }
    }

    fn product(&mut self) -> Result<i64, String> {
        let mut v = self.unary()?;
        loop {
            self.ws();
            let op = match self.s.get(self.pos) {
                Some(&c @ (b'*' | b'/' | b'%')) => c,
                _ => return Ok(v),
            };
            self.pos += 1;
            let r = self.unary()?;
            v = match op {
                b'*' => v.checked_mul(r).ok_or("overflow")?,
                _ if r == 0 => return Err("division by zero".into()),
                b'/' => v.checked_div(r).ok_or("overflow")?,
                _ => v.checked_rem(r).ok_or("overflow")?,
            };
        }
    }

    fn unary(&mut self) -> Result<i64, String> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'-') => {
                self.pos += 1;
                self.unary()?.checked_neg().ok_or_else(|| "overflow".into())
            }
            Some(b'+') => {
                self.pos += 1;
                self.unary()
            }
            Some(b'(') => {
                self.pos += 1;
                let v = self.sum()?;
                self.ws();
                if self.s.get(self.pos) != Some(&b')') {
                    return Err("missing )".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                let hex =
                    self.s[self.pos..].starts_with(b"0x") || self.s[self.pos..].starts_with(b"0X");
                if hex {
                    self.pos += 2;
                }
                let digits = self.pos;
                while self.s.get(self.pos).is_some_and(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                }) {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[digits..self.pos]).unwrap_or("");
                i64::from_str_radix(text, if hex { 16 } else { 10 }).map_err(|_| {
                    format!(
                        "{:?} is not a number",
                        String::from_utf8_lossy(&self.s[start..self.pos])
                    )
                })
            }
            Some(_) => Err(format!(
                "unexpected {:?} (only integers, + - * / % and parentheses)",
                String::from_utf8_lossy(&self.s[self.pos..])
            )),
            None => Err("an operand is missing".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(text: &str) -> Vec<Effect> {
        interpret(text, "t.pkt", 10, Path::new("/nonexistent")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sysctls(text: &str) -> Vec<(String, String, usize)> {
        effects(text)
            .into_iter()
            .filter_map(|e| match e {
                Effect::Sysctl {
                    name,
                    value,
                    origin,
                    ..
                } => Some((name, value, origin.line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_assignment_forms_the_suites_write() {
        // Why: every way the gtests set a sysctl must reach the same
        // (name, value), with quotes removed and $((...)) computed, at the
        // line it is written on.
        let got = sysctls(
            "sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\
             sysctl -q -w net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_recovery=1\n\
             echo 0 > /proc/sys/net/ipv4/tcp_timestamps\n\
             ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_min_tso_segs=10 \\\n\
               /proc/sys/net/ipv4/tcp_wmem=\"4096 50000 4194304\"\n\
             sysctl -q net.ipv4.tcp_notsent_lowat=4294967295 > /dev/null 2>&1  # comment\n",
        );
        let want = [
            ("net.ipv4.tcp_rmem", "4096 540000 15728640", 10),
            ("net.ipv4.tcp_early_retrans", "4", 11),
            ("net.ipv4.tcp_recovery", "1", 11),
            ("net.ipv4.tcp_timestamps", "0", 12),
            ("net.ipv4.tcp_min_tso_segs", "10", 13),
            ("net.ipv4.tcp_wmem", "4096 50000 4194304", 13),
            ("net.ipv4.tcp_notsent_lowat", "4294967295", 15),
        ];
        let want: Vec<(String, String, usize)> = want
            .iter()
            .map(|(n, v, l)| (n.to_string(), v.to_string(), *l))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn device_commands_warn_by_name_and_mtu_is_read() {
        // Why: a command with no meaning here must never pass silently,
        // and the warning must say which command it was.
        let got = effects(
            "ip link set dev tun0 mtu 1400\ntc qdisc add dev tun0 root pfifo\n\
             ethtool -K tun0 tso off gso off\nip tcp_metrics flush all > /dev/null 2>&1\n\
             cat /proc/net/netstat; nstat -n\n",
        );
        assert_eq!(
            got[0],
            Effect::Mtu {
                mtu: 1400,
                origin: Origin {
                    file: "t.pkt".into(),
                    line: 10
                }
            }
        );
        let warnings: Vec<&str> = got
            .iter()
            .filter_map(|e| match e {
                Effect::Warning(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        // fq would pace the flow on Linux: the warning says what is lost.
        let got = effects("tc qdisc replace dev tun0 root fq\n");
        assert!(
            matches!(&got[0], Effect::Warning(w) if w.contains("does not pace")),
            "{got:?}"
        );
        // A route's advmss is the MSS (mtu = advmss + 40), before its mtu.
        let got = effects(
            "ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11\n",
        );
        assert!(matches!(got[0], Effect::Mtu { mtu: 640, .. }), "{got:?}");
        assert!(matches!(&got[1], Effect::Warning(w) if w.contains("other attributes")));
        let got = effects("ip route change 192.0.2.1 dev tun0 mtu lock 1000\n");
        assert!(matches!(got[0], Effect::Mtu { mtu: 1000, .. }), "{got:?}");
        assert!(warnings[0].starts_with("t.pkt:11: `tc qdisc add dev tun0 root pfifo`: accepted"));
        assert!(warnings[1].starts_with("t.pkt:12: `ethtool -K tun0 tso off gso off`"));
        assert!(
            warnings[2].starts_with("t.pkt:13: `ip tcp_metrics flush all > /dev/null 2>&1`"),
            "{}",
            warnings[2]
        );
        assert!(warnings[3].starts_with("t.pkt:14: `cat /proc/net/netstat`: not run"));
        assert!(warnings[4].starts_with("t.pkt:14: `nstat -n`: not run"));
    }

    #[test]
    fn sourced_files_are_read_relative_to_the_script() {
        // Why: the suites source `../common/defaults.sh` from wherever
        // they were fetched; the path counts from the script's directory,
        // and messages name the sourced file and its line.
        let dir = std::env::temp_dir().join(format!("tcpsim-shell-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("common")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(
            dir.join("common/defaults.sh"),
            "#!/bin/bash\n# comment\n\nsysctl -q net.ipv4.tcp_sack=1\ntc qdisc add dev tun0 root pfifo\n",
        )
        .unwrap();
        let got = interpret("../common/defaults.sh\n", "x.pkt", 3, &dir.join("tests")).unwrap();
        let name = dir
            .join("tests/../common/defaults.sh")
            .display()
            .to_string();
        assert_eq!(
            got[0],
            Effect::Sysctl {
                name: "net.ipv4.tcp_sack".into(),
                value: "1".into(),
                origin: Origin {
                    file: name.clone(),
                    line: 4
                },
                saves: false,
            }
        );
        assert!(matches!(&got[1], Effect::Warning(w) if w.starts_with(&format!("{name}:5: `tc"))));
        let e = interpret("../missing/defaults.sh\n", "x.pkt", 3, &dir.join("tests")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.pkt:3: `../missing/defaults.sh`: cannot read"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn arithmetic_and_quotes() {
        // Why: $((...)) values feed window sizes; a wrong value would
        // silently change the window scale.
        assert_eq!(Arith::eval("15*1024*1024").unwrap(), 15_728_640);
        assert_eq!(Arith::eval(" (1 + 2) * -3 % 5 ").unwrap(), -4);
        assert_eq!(Arith::eval("0x10 / 3").unwrap(), 5);
        assert!(
            Arith::eval("1 / 0")
                .unwrap_err()
                .contains("division by zero")
        );
        assert!(Arith::eval("2 ** 3").is_err());
        let got = sysctls("sysctl -q 'net.ipv4.tcp_wmem=4096 $((1)) 5' a\\ b=\"x\\\"y\"\n");
        assert_eq!(got[0].1, "4096 $((1)) 5", "single quotes keep $ as is");
        assert_eq!((got[1].0.as_str(), got[1].1.as_str()), ("a b", "x\"y"));
        let e = interpret("sysctl -q a=\"1\n", "t.pkt", 4, Path::new(".")).unwrap_err();
        assert_eq!(e.to_string(), "t.pkt:4: unterminated \" quote");
        let e = interpret("sysctl -q a=$((1+))\n", "t.pkt", 4, Path::new(".")).unwrap_err();
        assert!(e.to_string().starts_with("t.pkt:4: $((1+)): "), "{e}");
    }
}
