//! The data calls' arguments as packetdrill writes them: read/recv/
//! recvfrom/recvmsg and write/send/sendto/sendmsg, reduced to one length,
//! the MSG_* flags, a NULL buffer, and for recvmsg the msghdr's expected
//! msg_flags and control messages (packetdrill's run_system_call.c:
//! msghdr_new, iovec_new, cmsg_new, cmsg_expect_eq).

use super::Runner;
use super::errqueue::{ExtendedErr, IP_RECVERR, SO_TIMESTAMPING, SOL_IP, SOL_SOCKET};
use super::sockets::{eval, expr_text};
use crate::script::ScriptError;
use crate::script::parse::{CallSpec, Expr};

/// Linux's MSG_* values (include/linux/socket.h).
pub(super) const MSG_OOB: i64 = 0x1;
pub(super) const MSG_PEEK: i64 = 0x2;
pub(super) const MSG_CTRUNC: i64 = 0x8;
pub(super) const MSG_TRUNC: i64 = 0x20;
pub(super) const MSG_DONTWAIT: i64 = 0x40;
pub(super) const MSG_EOR: i64 = 0x80;
pub(super) const MSG_WAITALL: i64 = 0x100;
pub(super) const MSG_ERRQUEUE: i64 = 0x2000;
pub(super) const MSG_NOSIGNAL: i64 = 0x4000;
pub(super) const MSG_MORE: i64 = 0x8000;
pub(super) const MSG_ZEROCOPY: i64 = 0x400_0000;
pub(super) const MSG_FASTOPEN: i64 = 0x2000_0000;

/// `TCP_INQ` (and its cmsg type `TCP_CM_INQ`): 36.
pub(super) const TCP_INQ: i64 = 36;

/// The flags by name, for constants and messages.
pub(super) const MSG_FLAGS: &[(&str, i64)] = &[
    ("MSG_OOB", MSG_OOB),
    ("MSG_PEEK", MSG_PEEK),
    ("MSG_CTRUNC", MSG_CTRUNC),
    ("MSG_TRUNC", MSG_TRUNC),
    ("MSG_DONTWAIT", MSG_DONTWAIT),
    ("MSG_EOR", MSG_EOR),
    ("MSG_WAITALL", MSG_WAITALL),
    ("MSG_ERRQUEUE", MSG_ERRQUEUE),
    ("MSG_NOSIGNAL", MSG_NOSIGNAL),
    ("MSG_MORE", MSG_MORE),
    ("MSG_ZEROCOPY", MSG_ZEROCOPY),
    ("MSG_FASTOPEN", MSG_FASTOPEN),
];

/// Why a flag the stack cannot honour is refused (a clear error, never a
/// flag silently dropped).
fn unsupported_flag(flag: i64, sending: bool) -> Option<&'static str> {
    Some(match flag {
        MSG_OOB => "MSG_OOB (urgent data is not modelled)",
        MSG_EOR if !sending => "MSG_EOR on a receive",
        MSG_MORE if !sending => "MSG_MORE on a receive",
        MSG_FASTOPEN if !sending => "MSG_FASTOPEN on a receive",
        MSG_ERRQUEUE if sending => "MSG_ERRQUEUE on a send",
        MSG_WAITALL => "MSG_WAITALL",
        MSG_TRUNC if !sending => "MSG_TRUNC on a TCP receive (discarding data)",
        MSG_PEEK if sending => "MSG_PEEK on a send",
        _ => return None,
    })
}

/// One data call's arguments.
#[derive(Clone, Debug)]
pub(super) struct DataArgs {
    /// The bytes asked for: the length argument, or the iovecs' sum.
    pub(super) len: usize,
    /// The MSG_* flags (0 for read and write).
    pub(super) flags: i64,
    /// The buffer is NULL (the call then fails with EFAULT where Linux
    /// would copy).
    pub(super) null_buf: bool,
    /// recvmsg: what the returned msghdr must hold.
    pub(super) expect: Option<MsgExpect>,
}

/// What a recvmsg's msghdr must hold once the call returns.
#[derive(Clone, Debug)]
pub(super) struct MsgExpect {
    /// The expected `msg_flags`.
    pub(super) flags: i64,
    /// The expected control messages.
    pub(super) control: Vec<Cmsg>,
}

/// One control message, as a script writes it and as a call returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmsg {
    /// SOL_TCP / TCP_CM_INQ: bytes left to read.
    Inq(i64),
    /// SOL_IP / IP_RECVERR: an error-queue entry's `sock_extended_err`.
    RecvErr(ExtendedErr),
    /// SOL_SOCKET / SCM_TIMESTAMPING: the software timestamp (ts[0]).
    Timestamping { sec: i64, nsec: i64 },
}

impl Cmsg {
    /// cmsg_level and cmsg_type.
    fn level_type(&self) -> (i64, i64) {
        match self {
            Cmsg::Inq(_) => (6, TCP_INQ),
            Cmsg::RecvErr(_) => (SOL_IP, IP_RECVERR),
            Cmsg::Timestamping { .. } => (SOL_SOCKET, SO_TIMESTAMPING),
        }
    }
}

impl Runner<'_> {
    /// Reads the arguments of read, recv, recvfrom, recvmsg, write, send,
    /// sendto or sendmsg; a flag the stack cannot honour is an error.
    pub(super) fn data_args(&self, line: usize, c: &CallSpec) -> Result<DataArgs, ScriptError> {
        let name = c.name.as_str();
        let want_args = match name {
            "read" | "write" => 3,
            "recv" | "send" => 4,
            "recvfrom" | "sendto" => 6,
            _ => 3,
        };
        if c.args.len() != want_args {
            return Err(self.fail(
                line,
                format!(
                    "{name} takes {want_args} arguments, the script gives {}",
                    c.args.len()
                ),
            ));
        }
        let sending = matches!(name, "write" | "send" | "sendto" | "sendmsg");
        let flags = match name {
            "read" | "write" => 0,
            "recv" | "send" | "recvfrom" | "sendto" => self.flags_arg(line, c, 3)?,
            _ => self.flags_arg(line, c, 2)?,
        };
        let mut bits = flags;
        while bits != 0 {
            let bit = bits & bits.wrapping_neg();
            bits &= !bit;
            if let Some(why) = unsupported_flag(bit, sending) {
                return Err(self.fail(line, format!("{name}: not supported: {why}")));
            }
            let known = MSG_FLAGS.iter().any(|&(_, v)| v == bit);
            if !known {
                return Err(self.fail(
                    line,
                    format!("{name}: not supported: flag {bit:#x} in {flags:#x}"),
                ));
            }
        }
        if name == "recvmsg" || name == "sendmsg" {
            let (len, expect) = self.msghdr(line, c, sending)?;
            return Ok(DataArgs {
                len,
                flags,
                null_buf: false,
                expect,
            });
        }
        let null_buf = match self.arg(line, c, 1)? {
            Expr::Ellipsis => false,
            Expr::Int(0) => true,
            Expr::Name(n) if n == "NULL" => true,
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "{name}: expected ... or NULL for the buffer, found {}",
                        expr_text(other)
                    ),
                ));
            }
        };
        Ok(DataArgs {
            len: self.length_arg(line, c)?,
            flags,
            null_buf,
            expect: None,
        })
    }

    fn flags_arg(&self, line: usize, c: &CallSpec, i: usize) -> Result<i64, ScriptError> {
        let v = self.int_arg(line, c, i)?;
        if !(0..=i64::from(u32::MAX)).contains(&v) {
            return Err(self.fail(line, format!("{}: flags {v} are out of range", c.name)));
        }
        Ok(v)
    }

    /// A msghdr: `{msg_name(...)=..., msg_iov(N)=[{..., LEN}, ...],
    /// msg_flags=F[, msg_control=[{cmsg_level=L, cmsg_type=T,
    /// cmsg_data=D}, ...]]}` (packetdrill's grammar, in that order).
    fn msghdr(
        &self,
        line: usize,
        c: &CallSpec,
        sending: bool,
    ) -> Result<(usize, Option<MsgExpect>), ScriptError> {
        let name = c.name.as_str();
        let bad = |what: String| self.fail(line, format!("{name}: {what}"));
        let Expr::Struct(fields) = self.arg(line, c, 1)? else {
            return Err(bad(format!(
                "the second argument must be a msghdr like {{msg_name(...)=..., msg_iov(1)=[{{..., 1000}}], msg_flags=0}}, found {}",
                expr_text(&c.args[1])
            )));
        };
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let order_ok = names.len() >= 3
            && names[..3] == ["msg_name", "msg_iov", "msg_flags"]
            && (names.len() == 3 || (names.len() == 4 && names[3] == "msg_control"));
        if !order_ok {
            return Err(bad(format!(
                "a msghdr has the fields msg_name(...)=..., msg_iov(N)=[...], msg_flags=..., then optionally msg_control=[...], in that order; found {}",
                names.join(", ")
            )));
        }
        let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, e)| e);
        match field("msg_name") {
            Some(Expr::Counted(count, value))
                if **count == Expr::Ellipsis && **value == Expr::Ellipsis => {}
            _ => return Err(bad("msg_name must be written msg_name(...)=...".into())),
        }
        let Some(Expr::Counted(_, iov)) = field("msg_iov") else {
            return Err(bad("msg_iov must be written msg_iov(N)=[...]".into()));
        };
        let Expr::List(iovs) = &**iov else {
            return Err(bad(format!(
                "msg_iov must be a list of iovecs like [{{..., 1000}}], found {}",
                expr_text(iov)
            )));
        };
        let mut len = 0usize;
        for v in iovs {
            let n = match v {
                Expr::Tuple(parts) if parts.len() == 2 && parts[0] == Expr::Ellipsis => {
                    match &parts[1] {
                        Expr::Int(n) => usize::try_from(*n).ok(),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(n) = n else {
                return Err(bad(format!(
                    "an iovec is {{..., LENGTH}} with a non-negative length, found {}",
                    expr_text(v)
                )));
            };
            len = len.saturating_add(n);
        }
        if len > 64 * 1024 * 1024 {
            return Err(bad(format!(
                "the iovecs' total length {len} is out of range (0..=64 MiB)"
            )));
        }
        let msg_flags = field("msg_flags").and_then(eval).ok_or_else(|| {
            bad(format!(
                "cannot evaluate msg_flags {}",
                field("msg_flags").map(expr_text).unwrap_or_default()
            ))
        })?;
        let control = match field("msg_control") {
            None => Vec::new(),
            Some(Expr::List(items)) => items
                .iter()
                .map(|item| self.cmsg(line, name, item))
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(bad(format!(
                    "msg_control must be a list of {{cmsg_level=..., cmsg_type=..., cmsg_data=...}}, found {}",
                    expr_text(other)
                )));
            }
        };
        if sending {
            // As packetdrill's syscall_sendmsg.
            if msg_flags != 0 {
                return Err(bad("sendmsg ignores msg_flags field in msghdr".into()));
            }
            if !control.is_empty() {
                return Err(bad(
                    "not supported: control messages on a send (SCM_TIMESTAMPING and the like are not modelled)".into(),
                ));
            }
            return Ok((len, None));
        }
        Ok((
            len,
            Some(MsgExpect {
                flags: msg_flags,
                control,
            }),
        ))
    }

    /// One expected control message: SOL_TCP/TCP_CM_INQ with a number,
    /// SOL_IP/IP_RECVERR with `{ee_errno=..., ee_origin=..., ee_type=...,
    /// ee_code=..., ee_info=..., ee_data=...}`, or SOL_SOCKET/
    /// SCM_TIMESTAMPING with `{scm_sec=S, scm_nsec=N}` (packetdrill's
    /// grammar, fields in that order).
    fn cmsg(&self, line: usize, name: &str, item: &Expr) -> Result<Cmsg, ScriptError> {
        let bad = |what: String| self.fail(line, format!("{name}: {what}"));
        let Expr::Struct(fields) = item else {
            return Err(bad(format!(
                "a control message is {{cmsg_level=..., cmsg_type=..., cmsg_data=...}}, found {}",
                expr_text(item)
            )));
        };
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        if names != ["cmsg_level", "cmsg_type", "cmsg_data"] {
            return Err(bad(format!(
                "a control message has the fields cmsg_level, cmsg_type, cmsg_data in that order; found {}",
                names.join(", ")
            )));
        }
        let level = eval(&fields[0].1);
        let kind = eval(&fields[1].1);
        let data = &fields[2].1;
        // A struct's fields, by the names packetdrill's grammar requires.
        let fields_of = |want: &[&str]| -> Option<Vec<i64>> {
            let Expr::Struct(f) = data else { return None };
            if f.len() != want.len() || f.iter().zip(want).any(|((n, _), w)| n != w) {
                return None;
            }
            f.iter().map(|(_, e)| eval(e)).collect()
        };
        match (level, kind) {
            (Some(6), Some(TCP_INQ)) => {
                let v = eval(data).ok_or_else(|| {
                    bad(format!(
                        "TCP_CM_INQ's cmsg_data must be a number, found {}",
                        expr_text(data)
                    ))
                })?;
                Ok(Cmsg::Inq(v))
            }
            (Some(SOL_IP), Some(IP_RECVERR)) => {
                let names = [
                    "ee_errno",
                    "ee_origin",
                    "ee_type",
                    "ee_code",
                    "ee_info",
                    "ee_data",
                ];
                let v = fields_of(&names).ok_or_else(|| {
                    bad(format!(
                        "IP_RECVERR's cmsg_data must be {{{}}} with numbers, found {}",
                        names.map(|n| format!("{n}=...")).join(", "),
                        expr_text(data)
                    ))
                })?;
                Ok(Cmsg::RecvErr(ExtendedErr {
                    errno: v[0],
                    origin: v[1],
                    kind: v[2],
                    code: v[3],
                    info: v[4],
                    data: v[5],
                }))
            }
            (Some(SOL_SOCKET), Some(SO_TIMESTAMPING)) => {
                let v = fields_of(&["scm_sec", "scm_nsec"]).ok_or_else(|| {
                    bad(format!(
                        "SCM_TIMESTAMPING's cmsg_data must be {{scm_sec=S, scm_nsec=N}}, found {}",
                        expr_text(data)
                    ))
                })?;
                Ok(Cmsg::Timestamping {
                    sec: v[0],
                    nsec: v[1],
                })
            }
            _ => Err(bad(format!(
                "not supported: control message {}/{} (tcpsim gives SOL_TCP/TCP_CM_INQ, SOL_IP/IP_RECVERR and SOL_SOCKET/SCM_TIMESTAMPING)",
                expr_text(&fields[0].1),
                expr_text(&fields[1].1)
            ))),
        }
    }

    /// Checks a returned recvmsg's msghdr as packetdrill does (msg_flags,
    /// then each control message, then their count), with its messages.
    pub(super) fn check_msghdr(
        &self,
        line: usize,
        want: &MsgExpect,
        got_flags: i64,
        got_control: &[Cmsg],
    ) -> Result<(), ScriptError> {
        if got_flags != want.flags {
            return Err(self.fail(
                line,
                format!(
                    "recvmsg: Expected msg_flags 0x{:08X} but got 0x{got_flags:08X}",
                    want.flags
                ),
            ));
        }
        for (i, (w, g)) in want.control.iter().zip(got_control).enumerate() {
            let ((wl, wt), (gl, gt)) = (w.level_type(), g.level_type());
            if wl != gl {
                return Err(self.fail(
                    line,
                    format!("recvmsg: Bad level in cmsg {i}: expected={wl} actual={gl}"),
                ));
            }
            if wt != gt {
                return Err(self.fail(
                    line,
                    format!("recvmsg: Bad type in cmsg {i}: expected={wt} actual={gt}"),
                ));
            }
            if let Some(why) = self.cmsg_differs(i, w, g) {
                return Err(self.fail(line, format!("recvmsg: {why}")));
            }
        }
        let (nw, ng) = (want.control.len(), got_control.len());
        if ng > nw {
            return Err(self.fail(line, format!("recvmsg: received more than {nw} cmsgs")));
        }
        if ng < nw {
            return Err(self.fail(line, format!("recvmsg: received only {ng} cmsgs")));
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// How a returned control message differs from the script's, in
    /// packetdrill's words (sock_ee_expect_eq, scm_timestamping_expect_eq:
    /// a timestamp written 0 is not checked, others within the tolerance).
    fn cmsg_differs(&self, i: usize, want: &Cmsg, got: &Cmsg) -> Option<String> {
        match (want, got) {
            (Cmsg::Inq(w), Cmsg::Inq(g)) if w != g => {
                Some(format!("Bad data in cmsg {i}: expected={w} actual={g}"))
            }
            (Cmsg::RecvErr(w), Cmsg::RecvErr(g)) => {
                let fields = [
                    ("errno", w.errno, g.errno),
                    ("origin", w.origin, g.origin),
                    ("type", w.kind, g.kind),
                    ("code", w.code, g.code),
                    ("info", w.info, g.info),
                    ("data", w.data, g.data),
                ];
                fields.iter().find(|(_, w, g)| w != g).map(|(n, w, g)| {
                    format!("Bad {n} in extended err {i}: expected={w} actual={g}")
                })
            }
            (Cmsg::Timestamping { sec, nsec }, Cmsg::Timestamping { sec: gs, nsec: gn }) => {
                if *sec == 0 && *nsec == 0 {
                    return None;
                }
                let w = sec.saturating_mul(1_000_000).saturating_add(nsec / 1_000);
                let g = gs * 1_000_000 + gn / 1_000;
                (w.abs_diff(g) > self.tolerance).then(|| {
                    format!(
                        "Bad timestamp 0 in scm_timestamping {i}: expected={w} actual={g} (microseconds of virtual time)"
                    )
                })
            }
            _ => None,
        }
    }
}
