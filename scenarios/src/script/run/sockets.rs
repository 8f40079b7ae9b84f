//! The BSD socket layer over the stack's socket API: a file-descriptor
//! table (fds from 3, O_NONBLOCK, SO_ERROR, socket options), the calls
//! that return at once, and the arguments and results scripts write.

use super::blocking::{
    POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
};
use super::{DEFAULT_PORT, Pending, REMOTE_PORT, Runner, fmt_time, later};
use crate::script::ScriptError;
use crate::script::parse::{CallSpec, Expr};
use stack::cc::CongestionAlgorithm;
use stack::{Instant, Keepalive, SocketError, SocketId, State};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FdKind {
    /// `socket()` done; not yet listening or connecting.
    Fresh,
    Listener(SocketId),
    Conn(SocketId),
}

#[derive(Clone, Debug)]
pub(super) struct Fd {
    pub(super) kind: FdKind,
    pub(super) port: Option<u16>,
    pub(super) reuse: bool,
    pub(super) nodelay: bool,
    /// TCP_CORK.
    pub(super) cork: bool,
    pub(super) keepalive: bool,
    pub(super) keepalive_timing: Keepalive,
    pub(super) congestion: CongestionAlgorithm,
    pub(super) nonblock: bool,
    pub(super) linger_zero: bool,
    /// TCP_FASTOPEN's queue length, applied when the socket listens.
    pub(super) fast_open_qlen: usize,
    /// The connection's TCP_INFO as last seen while the stack held it:
    /// Linux keeps a released socket's values (in TCP_CLOSE).
    pub(super) last_info: Option<stack::TcpInfo>,
    /// TCP_SYNCNT: SYN retransmissions before the connect fails.
    pub(super) syn_count: Option<u32>,
    /// TCP_FASTOPEN_KEY: this socket's own Fast Open key, for when it listens.
    pub(super) fast_open_key: Option<[u8; 16]>,
    /// TCP_FASTOPEN_CONNECT is set.
    pub(super) fastopen_connect: bool,
    /// A TCP_FASTOPEN_CONNECT connect returned 0 and waits for the first
    /// write to send the SYN (Linux's DEFER_CONNECT).
    pub(super) defer_connect: bool,
    /// Linux's `fastopen_req` outlived the connect (a TCP_FASTOPEN_CONNECT
    /// connect that asked for a cookie): MSG_FASTOPEN sends say EALREADY.
    pub(super) fastopen_req: bool,
    /// TCP_INQ: recvmsg adds a TCP_CM_INQ control message.
    pub(super) inq: bool,
    /// TCP_NOTSENT_LOWAT (0: not set; the sysctl applies).
    pub(super) notsent_lowat: u32,
    /// TCP_MAXSEG (Linux's user_mss; 0: not set).
    pub(super) user_mss: u16,
    /// SO_SNDBUF / SO_RCVBUF as getsockopt reports them (doubled), once set.
    pub(super) sndbuf: Option<usize>,
    pub(super) rcvbuf: Option<usize>,
    /// IP_MTU_DISCOVER (IP_PMTUDISC_WANT by default).
    pub(super) pmtudisc: i64,
    /// A pending error (SO_ERROR), reported once.
    pub(super) error: Option<&'static str>,
    /// The connection reached ESTABLISHED at some point.
    pub(super) connected: bool,
    /// A connect call has returned 0 (Linux's SS_CONNECTED): a further
    /// connect reports EISCONN.
    pub(super) connect_reported: bool,
    /// The stack released the connection (reset, timed out, closed).
    pub(super) gone: bool,
    pub(super) shut_rd: bool,
    /// shutdown(SHUT_WR) or SHUT_RDWR was called.
    pub(super) shut_wr: bool,
    /// The peer's FIN arrived (Linux's RCV_SHUTDOWN).
    pub(super) peer_fin: bool,
    /// The error queue, SO_ZEROCOPY and SO_TIMESTAMPING.
    pub(super) errq: super::errqueue::ErrQueue,
}

impl Fd {
    /// A fresh socket: `congestion` and `keepalive_timing` as the host
    /// gives new sockets (tcp_congestion_control, tcp_keepalive_*).
    pub(super) fn new(congestion: CongestionAlgorithm, keepalive_timing: Keepalive) -> Fd {
        Fd {
            kind: FdKind::Fresh,
            port: None,
            reuse: false,
            nodelay: false,
            cork: false,
            keepalive: false,
            keepalive_timing,
            congestion,
            nonblock: false,
            linger_zero: false,
            fast_open_qlen: 0,
            last_info: None,
            syn_count: None,
            fast_open_key: None,
            fastopen_connect: false,
            defer_connect: false,
            fastopen_req: false,
            inq: false,
            notsent_lowat: 0,
            user_mss: 0,
            sndbuf: None,
            rcvbuf: None,
            pmtudisc: IP_PMTUDISC_WANT,
            error: None,
            connected: false,
            connect_reported: false,
            gone: false,
            shut_rd: false,
            shut_wr: false,
            peer_fin: false,
            errq: super::errqueue::ErrQueue::default(),
        }
    }
}

pub(super) type CallResult = Result<i64, &'static str>;

impl Runner<'_> {
    pub(super) fn fd_of(&mut self, id: SocketId) -> Option<&mut Fd> {
        let fd = *self.by_socket.get(&id)?;
        self.fds.get_mut(&fd)
    }

    // ----- system calls -----

    pub(super) fn call(
        &mut self,
        line: usize,
        c: &CallSpec,
        start: Instant,
        end: Option<Instant>,
    ) -> Result<(), ScriptError> {
        let name = c.name.as_str();
        let result = match name {
            "socket" => self.sys_socket(line, c)?,
            "setsockopt" => self.sys_setsockopt(line, c)?,
            "getsockopt" => self.sys_getsockopt(line, c)?,
            "fcntl" => self.sys_fcntl(line, c)?,
            "ioctl" => self.sys_ioctl(line, c)?,
            "epoll_create" => self.sys_epoll_create(line, c)?,
            "epoll_ctl" => self.sys_epoll_ctl(line, c)?,
            "bind" => self.sys_bind(line, c)?,
            "listen" => self.sys_listen(line, c)?,
            "close" => self.sys_close(line, c)?,
            "shutdown" => self.sys_shutdown(line, c)?,
            "accept" | "connect" | "read" | "recv" | "recvfrom" | "recvmsg" | "write" | "send"
            | "sendto" | "sendmsg" | "poll" | "epoll_wait" => {
                match self.try_blocking(line, c, None)? {
                    Some(r) => r,
                    None => {
                        // It blocks: it must return at END (or at once, if
                        // the line gave a single time).
                        let end = end.unwrap_or(start);
                        let tol = self.tolerance_at(end);
                        let remaining = self.write_left;
                        self.pending = Some(Pending {
                            line,
                            call: c.clone(),
                            lo: Instant(end.0.saturating_sub(tol)),
                            hi: later(end, tol),
                            end,
                            remaining,
                        });
                        return self.try_complete();
                    }
                }
            }
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "unsupported system call {other:?} (supported: socket, setsockopt, getsockopt, fcntl, ioctl, bind, listen, accept, connect, write, send, sendto, sendmsg, read, recv, recvfrom, recvmsg, poll, epoll_create, epoll_ctl, epoll_wait, shutdown, close)"
                    ),
                ));
            }
        };
        // As packetdrill, which checks only when the call returned: one
        // given `START...END` may return at once if END is now (within the
        // tolerance), as `0.1...0.1` says.
        if let Some(end) = end
            && self.now.0.saturating_add(self.tolerance_at(end)) < end.0
        {
            return Err(self.fail(
                line,
                format!(
                    "{name}: expected to block until {}, returned at once at {}",
                    fmt_time(end),
                    fmt_time(self.now)
                ),
            ));
        }
        self.check_result(line, c, result)?;
        self.flush()
    }

    /// Completes the blocked call if it can return now.
    pub(super) fn try_complete(&mut self) -> Result<(), ScriptError> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        match self.try_blocking(p.line, &p.call, Some(p.remaining))? {
            None => {
                let mut p = p;
                p.remaining = self.write_left;
                self.pending = Some(p);
                Ok(())
            }
            Some(result) => {
                if self.now < p.lo || self.now > p.hi {
                    return Err(self.fail(
                        p.line,
                        format!(
                            "{}: expected to return at {}, returned at {}",
                            p.call.name,
                            fmt_time(p.end),
                            fmt_time(self.now)
                        ),
                    ));
                }
                self.check_result(p.line, &p.call, result)?;
                // Its return may have queued output (a read opening the window).
                self.flush_transmit();
                Ok(())
            }
        }
    }

    /// The call returned what the script expects (as [`Self::check_result`]
    /// judges it, without the message).
    pub(super) fn result_matches(&self, c: &CallSpec, got: CallResult) -> bool {
        match (&c.errno, got) {
            (Some(want), Err(e)) => want == e,
            (Some(_), Ok(_)) => false,
            (None, Err(_)) => c.ret == Expr::Int(-1),
            (None, Ok(v)) => match &c.ret {
                Expr::Ellipsis => true,
                e => eval(e) == Some(v),
            },
        }
    }

    fn check_result(&self, line: usize, c: &CallSpec, got: CallResult) -> Result<(), ScriptError> {
        let want_text = match &c.errno {
            Some(e) => format!("-1 {e}"),
            None => expr_text(&c.ret),
        };
        let got_text = match got {
            Ok(v) => v.to_string(),
            Err(e) => format!("-1 {e}"),
        };
        let ok = match (&c.errno, got) {
            (Some(want), Err(e)) => want == e,
            (Some(_), Ok(_)) => false,
            // `= -1` with no errno name: any error will do (packetdrill
            // checks the errno only when the script names one).
            (None, Err(_)) => c.ret == Expr::Int(-1),
            (None, Ok(v)) => match &c.ret {
                Expr::Ellipsis => true,
                e => match eval(e) {
                    Some(want) => want == v,
                    None => {
                        return Err(self.fail(
                            line,
                            format!(
                                "{}: cannot evaluate the expected result {want_text}",
                                c.name
                            ),
                        ));
                    }
                },
            },
        };
        if ok {
            Ok(())
        } else {
            Err(self.fail(
                line,
                format!(
                    "{}: expected = {want_text}, got = {got_text} at {}",
                    c.name,
                    fmt_time(self.now)
                ),
            ))
        }
    }

    pub(super) fn arg<'c>(
        &self,
        line: usize,
        c: &'c CallSpec,
        i: usize,
    ) -> Result<&'c Expr, ScriptError> {
        c.args
            .get(i)
            .ok_or_else(|| self.fail(line, format!("{}: missing argument {}", c.name, i + 1)))
    }

    pub(super) fn int_arg(&self, line: usize, c: &CallSpec, i: usize) -> Result<i64, ScriptError> {
        let e = self.arg(line, c, i)?;
        eval(e).ok_or_else(|| {
            self.fail(
                line,
                format!(
                    "{}: argument {} ({}) is not a number",
                    c.name,
                    i + 1,
                    expr_text(e)
                ),
            )
        })
    }

    pub(super) fn length_arg(&self, line: usize, c: &CallSpec) -> Result<usize, ScriptError> {
        let n = self.int_arg(line, c, 2)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= 64 * 1024 * 1024)
            .ok_or_else(|| {
                self.fail(
                    line,
                    format!("{}: length {n} is out of range (0..=64 MiB)", c.name),
                )
            })
    }

    pub(super) fn fd_arg(&self, line: usize, c: &CallSpec) -> Result<i32, ScriptError> {
        let v = self.int_arg(line, c, 0)?;
        i32::try_from(v)
            .map_err(|_| self.fail(line, format!("{}: bad file descriptor {v}", c.name)))
    }

    fn sys_socket(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let want = [
            (0, &["AF_INET", "PF_INET"][..]),
            (1, &["SOCK_STREAM"][..]),
            (2, &["IPPROTO_TCP", "0"][..]),
        ];
        for (i, names) in want {
            match self.arg(line, c, i)? {
                Expr::Ellipsis => {}
                Expr::Int(0) if i == 2 => {}
                Expr::Name(n) if names.contains(&n.as_str()) => {}
                other => {
                    return Err(self.fail(
                        line,
                        format!(
                            "socket: argument {} is {}; tcpsim runs IPv4 TCP sockets ({})",
                            i + 1,
                            expr_text(other),
                            names.join(" or ")
                        ),
                    ));
                }
            }
        }
        let fd = self.new_fd(c);
        let fresh = Fd::new(self.ep.config().tcp.congestion, self.host.keepalive);
        self.install_fd(fd, fresh);
        // As packetdrill: later code blocks read this socket.
        self.under_test = super::UnderTest::Fd(fd);
        Ok(Ok(i64::from(fd)))
    }

    /// The descriptor a new socket gets. packetdrill lets the script name
    /// it: the number a `socket`, `accept` or `epoll_create` line expects
    /// (`socket(...) = 4`) becomes that descriptor's number, as
    /// packetdrill maps script fds to live ones (run_system_call.c's
    /// `script_fd`). When the line expects no plain number, or one already
    /// open, it is the lowest free one from 3 up, as Linux hands them out,
    /// and a differing expectation fails as a wrong result.
    /// Names `f` by `fd`. A socket the name belonged to stays open in the
    /// stack but the script can no longer reach it, as in packetdrill.
    pub(super) fn install_fd(&mut self, fd: i32, f: Fd) {
        if self.fds.insert(fd, f).is_some() {
            self.by_socket.retain(|_, named| *named != fd);
        }
    }

    pub(super) fn new_fd(&self, c: &CallSpec) -> i32 {
        // The number the script gives a new descriptor is its name for it
        // (packetdrill maps script fds to live ones), even when an older
        // socket has the name: packetdrill then finds the newer one by it
        // (run_syscall_accept), and so does `install_fd`.
        if let Expr::Int(n) = c.ret
            && let Ok(n) = i32::try_from(n)
            && n >= 0
            && !self.epolls.contains_key(&n)
        {
            return n;
        }
        (3..)
            .find(|fd| !self.fds.contains_key(fd) && !self.epolls.contains_key(fd))
            .expect("fewer than 2^31 descriptors are open")
    }

    fn sys_setsockopt(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let level = expr_text(self.arg(line, c, 1)?);
        let opt = expr_text(self.arg(line, c, 2)?);
        let value = self.arg(line, c, 3)?.clone();
        if !self.fds.contains_key(&fd) {
            return Ok(Err("EBADF"));
        }
        let int_value = |e: &Expr| -> Option<i64> {
            match e {
                Expr::List(v) if v.len() == 1 => eval(&v[0]),
                other => eval(other),
            }
        };
        let file = self.script.name.clone();
        let bad = |what: &str| ScriptError::line(&file, line, format!("setsockopt {opt}: {what}"));
        let now = self.now;
        if let Some(why) = unsupported_option(&opt, &value) {
            return Err(self.fail(line, format!("setsockopt: not supported: {why}")));
        }
        let level_ok = match opt.as_str() {
            "SO_REUSEADDR" | "SO_KEEPALIVE" | "SO_LINGER" | "SO_RCVBUF" | "SO_SNDBUF"
            | "SO_ZEROCOPY" | "SO_TIMESTAMPING" | "SO_MARK" => level == "SOL_SOCKET",
            "TCP_NODELAY" | "TCP_CORK" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT"
            | "TCP_CONGESTION" | "TCP_FASTOPEN" | "TCP_INQ" | "TCP_NOTSENT_LOWAT"
            | "TCP_MAXSEG" => level == "IPPROTO_TCP" || level == "SOL_TCP",
            "TCP_SYNCNT" if level == "IPPROTO_TCP" || level == "SOL_TCP" => {
                // do_tcp_setsockopt: 1..=MAX_TCP_SYNCNT (127), else EINVAL.
                let Some(v) = int_value(&value).filter(|v| (1..=127).contains(v)) else {
                    return Ok(Err("EINVAL"));
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.syn_count = Some(v as u32);
                if let FdKind::Conn(id) = f.kind {
                    let _ = self.ep.set_syn_retries(id, v as u32);
                }
                return Ok(Ok(0));
            }
            "TCP_FASTOPEN_KEY" if level == "IPPROTO_TCP" || level == "SOL_TCP" => {
                let len = c.args.get(4).and_then(eval);
                return Ok(self.set_fastopen_key(fd, &value, len));
            }
            "TCP_FASTOPEN_CONNECT" if level == "IPPROTO_TCP" || level == "SOL_TCP" => {
                return Ok(self.set_fastopen_connect(fd, int_value(&value)));
            }
            "IP_MTU_DISCOVER" => level == "SOL_IP" || level == "IPPROTO_IP",
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "setsockopt: unsupported option {other} (supported: SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF, SO_SNDBUF, SO_ZEROCOPY, SO_TIMESTAMPING, SO_MARK, TCP_NODELAY, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_CONGESTION, TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_FASTOPEN_KEY, TCP_SYNCNT, TCP_INQ, TCP_NOTSENT_LOWAT, TCP_MAXSEG, IP_MTU_DISCOVER)"
                    ),
                ));
            }
        };
        if !level_ok {
            return Ok(Err("ENOPROTOOPT"));
        }
        match opt.as_str() {
            "SO_ZEROCOPY" => return Ok(self.set_zerocopy(fd, int_value(&value))),
            "SO_MARK" => {
                // sk_setsockopt: any int (root may set it). Marks select
                // routes and filter rules, which tcpsim does not have.
                if int_value(&value).is_none() {
                    return Err(bad("the value must be [N]"));
                }
                self.warnings.push(format!(
                    "{}:{line}: setsockopt SO_MARK: accepted, no effect: tcpsim has no policy routing or packet filter to read the mark",
                    self.script.name
                ));
            }
            "SO_TIMESTAMPING" => return self.set_timestamping(line, fd, int_value(&value)),
            "SO_REUSEADDR" | "SO_KEEPALIVE" | "TCP_NODELAY" | "TCP_CORK" => {
                let v = int_value(&value).ok_or_else(|| bad("the value must be [0] or [1]"))? != 0;
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                match opt.as_str() {
                    "SO_REUSEADDR" => f.reuse = v,
                    "SO_KEEPALIVE" => f.keepalive = v,
                    "TCP_CORK" => f.cork = v,
                    _ => f.nodelay = v,
                }
            }
            "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" => {
                let v = int_value(&value)
                    .filter(|&v| (1..=32_767).contains(&v))
                    .ok_or_else(|| bad("the value must be [1..32767]"))?;
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                match opt.as_str() {
                    "TCP_KEEPIDLE" => {
                        f.keepalive_timing.idle = stack::Duration::from_secs(v as u64)
                    }
                    "TCP_KEEPINTVL" => {
                        f.keepalive_timing.interval = stack::Duration::from_secs(v as u64)
                    }
                    _ => f.keepalive_timing.probes = v as u32,
                }
            }
            "SO_LINGER" => {
                let Expr::Struct(fields) = &value else {
                    return Err(bad("the value must be {onoff=N, linger=N}"));
                };
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .and_then(|(_, e)| eval(e))
                };
                let (Some(onoff), Some(secs)) = (get("onoff"), get("linger")) else {
                    return Err(bad("the value must be {onoff=N, linger=N}"));
                };
                if onoff != 0 && secs != 0 {
                    return Err(bad("only linger 0 (close sends RST) is supported"));
                }
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.linger_zero = onoff != 0;
            }
            "SO_RCVBUF" | "SO_SNDBUF" => {
                let v = int_value(&value)
                    .filter(|&v| (1..=1 << 30).contains(&v))
                    .ok_or_else(|| bad("the value must be [bytes] between 1 and 2^30"))?;
                // As Linux (sock_setsockopt): the value is capped at
                // net.core.rmem_max / wmem_max, then doubled (with a floor
                // of SOCK_MIN_RCVBUF 2304 / SOCK_MIN_SNDBUF 4608; that is
                // what getsockopt reports) and half of it is kept for
                // bookkeeping, so the window a receive buffer offers is
                // max(v, 1152). Endpoint-wide: applies to connections
                // created after this call.
                let receive = opt == "SO_RCVBUF";
                let cap = self.core_mem_max(if receive { "rmem_max" } else { "wmem_max" });
                let v = (v as usize).min(cap);
                let doubled = (2 * v).max(if receive { 2304 } else { 4608 });
                let cfg = self.ep.tcp_config_mut();
                if receive {
                    cfg.recv_buffer = doubled / 2;
                    // It is also the buffer the SYN's window is offered
                    // from (sk_rcvbuf; tcp_full_space keeps half).
                    cfg.recv_buffer_initial = doubled;
                } else {
                    cfg.send_buffer = doubled / 2;
                }
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                if receive {
                    f.rcvbuf = Some(doubled);
                } else {
                    f.sndbuf = Some(doubled);
                }
            }
            "TCP_INQ" => {
                // do_tcp_setsockopt: 0 or 1, else EINVAL.
                let Some(v) = int_value(&value).filter(|v| (0..=1).contains(v)) else {
                    return Ok(Err("EINVAL"));
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.inq = v == 1;
            }
            "TCP_NOTSENT_LOWAT" => {
                // Any int, kept as Linux's u32 (so -1 and 0xffffffff are
                // the same); 0 means the tcp_notsent_lowat sysctl applies.
                let v = int_value(&value)
                    .filter(|&v| (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v))
                    .ok_or_else(|| bad("the value must be [N], a 32-bit number"))?;
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.notsent_lowat = v as u32;
            }
            "TCP_MAXSEG" => {
                // do_tcp_setsockopt: 0 (none) or TCP_MIN_MSS..=MAX_TCP_WINDOW.
                let Some(v) = int_value(&value)
                    .filter(|&v| v == 0 || (i64::from(stack::TCP_MIN_MSS)..=32_767).contains(&v))
                else {
                    return Ok(Err("EINVAL"));
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.user_mss = v as u16;
                // On a listener it takes effect for the connections it
                // creates from now on (the stack's listeners share the
                // endpoint's configuration).
                if let FdKind::Listener(_) = f.kind {
                    self.apply_listener_mss(fd);
                }
            }
            "IP_MTU_DISCOVER" => {
                // Checked by unsupported_option: IP_PMTUDISC_WANT or _DO,
                // which is what the stack does (DF on every segment); it
                // never receives an ICMP to act on.
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.pmtudisc = int_value(&value).unwrap_or(IP_PMTUDISC_WANT);
            }
            "TCP_CONGESTION" => {
                let alg = match &value {
                    Expr::Str(s) if s == "reno" || s == "newreno" => CongestionAlgorithm::NewReno,
                    Expr::Str(s) if s == "cubic" => CongestionAlgorithm::Cubic,
                    _ => return Ok(Err("ENOENT")),
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                f.congestion = alg;
            }
            "TCP_FASTOPEN" => {
                // Linux's do_tcp_setsockopt: a queue length >= 0, on a
                // socket that is closed or listening; EINVAL otherwise.
                let Some(v) = int_value(&value).filter(|&v| (0..=i64::from(i32::MAX)).contains(&v))
                else {
                    return Ok(Err("EINVAL"));
                };
                let f = self.fds.get_mut(&fd).ok_or_else(|| bad("no such fd"))?;
                match f.kind {
                    FdKind::Conn(_) => return Ok(Err("EINVAL")),
                    FdKind::Fresh => f.fast_open_qlen = v as usize,
                    FdKind::Listener(id) => {
                        f.fast_open_qlen = v as usize;
                        let _ = self.ep.set_fast_open(id, v as usize);
                    }
                }
            }
            _ => unreachable!("checked above"),
        }
        // Options on a live connection apply now.
        if let Some(f) = self.fds.get(&fd).cloned()
            && let FdKind::Conn(id) = f.kind
        {
            self.apply_options(now, id, &f);
            match opt.as_str() {
                // Linux pushes what waits whenever TCP_NODELAY is set to 1.
                "TCP_NODELAY" if f.nodelay => {
                    let _ = self.ep.set_nodelay(id, true);
                }
                "TCP_CORK" => {
                    let _ = self.ep.set_cork(id, f.cork);
                }
                _ => {}
            }
            self.flush_transmit();
        }
        Ok(Ok(0))
    }

    /// net.core.rmem_max or wmem_max as the script set it (Linux's
    /// default, 212992, otherwise).
    fn core_mem_max(&self, which: &str) -> usize {
        self.host
            .values
            .iter()
            .find(|(k, _)| {
                k.ends_with(&format!("core.{which}")) || k.ends_with(&format!("core/{which}"))
            })
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(crate::script::sysctl::LINUX_RMEM_MAX as usize)
    }

    /// TCP_MAXSEG on a listening fd: the MSS the endpoint announces and
    /// uses is capped at it (Linux: tcp_advertise_mss and the mss_clamp
    /// take min(route MSS, user_mss)) until the listener closes.
    pub(super) fn apply_listener_mss(&mut self, fd: i32) {
        let Some(f) = self.fds.get(&fd) else { return };
        let user = f.user_mss;
        let base = *self.base_mss.get_or_insert(self.ep.config().tcp.mss);
        self.ep.tcp_config_mut().mss = if user == 0 { base } else { base.min(user) };
    }

    /// Keeps each live connection's TCP_INFO, for after the stack lets
    /// it go (called before the stack processes anything).
    pub(super) fn snapshot_infos(&mut self) {
        for f in self.fds.values_mut() {
            if let FdKind::Conn(id) = f.kind
                && !f.gone
                && let Some(i) = self.ep.info(id)
            {
                f.last_info = Some(i);
            }
        }
    }

    pub(super) fn apply_options(&mut self, now: Instant, id: SocketId, f: &Fd) {
        if self.ep.nodelay(id) != Some(f.nodelay) {
            let _ = self.ep.set_nodelay(id, f.nodelay);
        }
        if let Some(n) = f.syn_count {
            let _ = self.ep.set_syn_retries(id, n);
        }
        let ka = f.keepalive.then_some(f.keepalive_timing);
        let _ = self.ep.set_keepalive(now, id, ka);
        if self.ep.congestion_control(id)
            != Some(match f.congestion {
                CongestionAlgorithm::NewReno => "newreno",
                CongestionAlgorithm::Cubic => "cubic",
            })
        {
            let _ = self.ep.set_congestion_control(id, f.congestion);
        }
    }

    fn sys_getsockopt(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let opt = expr_text(self.arg(line, c, 2)?);
        if opt == "SO_ERROR" {
            return self.get_so_error(line, c, fd);
        }
        const SUPPORTED: &str = "SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_INQ, TCP_FASTOPEN_CONNECT, TCP_SYNCNT, TCP_NOTSENT_LOWAT, TCP_MAXSEG";
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let secs = |d: stack::Duration| (d.0 / 1_000_000_000) as i64;
        let got: i64 = match opt.as_str() {
            "SO_SNDBUF" | "SO_RCVBUF" => {
                let set = if opt == "SO_SNDBUF" {
                    f.sndbuf
                } else {
                    f.rcvbuf
                };
                match set {
                    Some(v) => v as i64,
                    None => {
                        return Err(self.fail(
                            line,
                            format!(
                                "getsockopt: not supported: {opt} before setsockopt {opt} (Linux's buffer autotuning, which sets it otherwise, is not modelled)"
                            ),
                        ));
                    }
                }
            }
            "SO_REUSEADDR" => i64::from(f.reuse),
            "SO_KEEPALIVE" => i64::from(f.keepalive),
            "TCP_NODELAY" => i64::from(f.nodelay),
            "TCP_KEEPIDLE" => secs(f.keepalive_timing.idle),
            "TCP_KEEPINTVL" => secs(f.keepalive_timing.interval),
            "TCP_KEEPCNT" => i64::from(f.keepalive_timing.probes),
            "TCP_INQ" => i64::from(f.inq),
            "TCP_FASTOPEN_CONNECT" => i64::from(f.fastopen_connect),
            "TCP_SYNCNT" => i64::from(f.syn_count.unwrap_or(self.ep.config().tcp.syn_retries)),
            "TCP_NOTSENT_LOWAT" => i64::from(f.notsent_lowat),
            "TCP_MAXSEG" => {
                // do_tcp_getsockopt: mss_cache (the MSS segments carry now,
                // TCP_MSS_DEFAULT 536 before there is one), or user_mss on
                // a closed or listening socket that set it.
                let live = match f.kind {
                    FdKind::Conn(id) if !f.gone => self.ep.info(id).map(|i| i64::from(i.snd_mss)),
                    _ => None,
                };
                match live {
                    Some(mss) => mss,
                    None if f.user_mss != 0 => i64::from(f.user_mss),
                    None => 536,
                }
            }
            other => {
                return Err(self.fail(
                    line,
                    format!("getsockopt: unsupported option {other} (supported: {SUPPORTED})"),
                ));
            }
        };
        // packetdrill: the value as `[N]`, the length as `[N]`; an int
        // option's length comes back as sizeof(int).
        let want_val = match self.arg(line, c, 3)? {
            Expr::Ellipsis => None,
            e => Some(eval(e).ok_or_else(|| {
                self.fail(
                    line,
                    format!(
                        "getsockopt {opt}: expected a value like [1], found {}",
                        expr_text(e)
                    ),
                )
            })?),
        };
        let want_len = match self.arg(line, c, 4)? {
            Expr::Ellipsis => None,
            e => Some(eval(e).ok_or_else(|| {
                self.fail(
                    line,
                    format!(
                        "getsockopt {opt}: expected a length like [4], found {}",
                        expr_text(e)
                    ),
                )
            })?),
        };
        if let Some(len) = want_len
            && len < 4
        {
            return Err(self.fail(
                line,
                format!("getsockopt {opt}: not supported: an option length below 4 ({len})"),
            ));
        }
        if let Some(len) = want_len
            && len != 4
        {
            return Err(self.fail(
                line,
                format!("getsockopt: Bad getsockopt optlen: expected: {len} actual: 4"),
            ));
        }
        // Compared as the 32-bit int the kernel writes (so [0xffffffff]
        // and [-1] are the same).
        if let Some(want) = want_val
            && want as u32 != got as u32
        {
            return Err(self.fail(
                line,
                format!(
                    "getsockopt {opt}: Bad getsockopt optval: expected: {} actual: {}",
                    want as i32, got as i32
                ),
            ));
        }
        Ok(Ok(0))
    }

    fn get_so_error(
        &mut self,
        line: usize,
        c: &CallSpec,
        fd: i32,
    ) -> Result<CallResult, ScriptError> {
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        let mut got = f.error.take();
        // sk_getsockopt SO_ERROR: with no hard error, the ICMP soft error
        // (sk_err_soft), taken.
        if got.is_none()
            && let FdKind::Conn(id) = f.kind
        {
            got = self.ep.take_soft_error(id).map(|e| e.errno_name());
        }
        let want = match self.arg(line, c, 3)? {
            Expr::List(v) if v.len() == 1 => v[0].clone(),
            Expr::Ellipsis => Expr::Ellipsis,
            other => {
                return Err(self.fail(
                    line,
                    format!(
                        "getsockopt SO_ERROR: expected a value like [0] or [ECONNREFUSED], found {}",
                        expr_text(other)
                    ),
                ));
            }
        };
        let ok = match (&want, got) {
            (Expr::Ellipsis, _) => true,
            (Expr::Int(0), None) => true,
            (Expr::Name(n), Some(e)) => n == e,
            _ => false,
        };
        if !ok {
            return Err(self.fail(
                line,
                format!(
                    "getsockopt: expected SO_ERROR [{}], got [{}]",
                    expr_text(&want),
                    got.unwrap_or("0")
                ),
            ));
        }
        Ok(Ok(0))
    }

    /// ioctl(fd, SIOCINQ | FIONREAD | SIOCOUTQ | SIOCOUTQNSD, [N]), as
    /// Linux's tcp_ioctl: bytes to read (the peer's FIN not counted),
    /// bytes sent and not acknowledged plus bytes not sent, bytes not sent;
    /// EINVAL on a listener, 0 during the handshake.
    fn sys_ioctl(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        if c.args.len() != 3 {
            return Err(self.fail(
                line,
                format!(
                    "ioctl: not supported: {} arguments (tcpsim runs ioctl(fd, SIOCINQ | FIONREAD | SIOCOUTQ | SIOCOUTQNSD, [N]))",
                    c.args.len()
                ),
            ));
        }
        let cmd = self.arg(line, c, 1)?;
        let cmd_name = expr_text(cmd);
        let cmd = eval(cmd).filter(|v| [SIOCINQ, SIOCOUTQ, SIOCOUTQNSD].contains(v));
        let Some(cmd) = cmd else {
            return Err(self.fail(
                line,
                format!(
                    "ioctl: unsupported request {cmd_name} (supported: SIOCINQ, FIONREAD, SIOCOUTQ, SIOCOUTQNSD)"
                ),
            ));
        };
        let want = match self.arg(line, c, 2)? {
            Expr::Ellipsis => None,
            e => Some(eval(e).ok_or_else(|| {
                self.fail(
                    line,
                    format!("ioctl: expected a value like [0], found {}", expr_text(e)),
                )
            })?),
        };
        let Some(f) = self.fds.get(&fd) else {
            return Ok(Err("EBADF"));
        };
        let got = match f.kind {
            FdKind::Listener(_) => return Ok(Err("EINVAL")),
            FdKind::Fresh => 0,
            FdKind::Conn(id) => {
                let state = if f.gone { None } else { self.ep.state(id) };
                match state {
                    None | Some(State::SynSent | State::SynReceived) => 0,
                    Some(_) if cmd == SIOCINQ => self.ep.recv_queue_len(id) as i64,
                    Some(_) if cmd == SIOCOUTQ => self.ep.send_queue_len(id) as i64,
                    Some(_) => self.ep.info(id).map_or(0, |i| i64::from(i.notsent_bytes)),
                }
            }
        };
        if let Some(want) = want
            && want != got
        {
            return Err(self.fail(
                line,
                format!("ioctl {cmd_name}: Bad ioctl optval: expected: {want} actual: {got}"),
            ));
        }
        Ok(Ok(0))
    }

    fn sys_fcntl(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let cmd = expr_text(self.arg(line, c, 1)?);
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        match cmd.as_str() {
            "F_GETFL" => Ok(Ok(O_RDWR | if f.nonblock { O_NONBLOCK } else { 0 })),
            "F_SETFL" => {
                let e = c
                    .args
                    .get(2)
                    .ok_or_else(|| self.fail(line, "fcntl F_SETFL: missing flags"))?;
                let flags = eval(e).ok_or_else(|| {
                    self.fail(
                        line,
                        format!("fcntl F_SETFL: cannot evaluate {}", expr_text(e)),
                    )
                })?;
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.nonblock = flags & O_NONBLOCK != 0;
                }
                Ok(Ok(0))
            }
            other => Err(self.fail(
                line,
                format!("fcntl: unsupported command {other} (supported: F_GETFL, F_SETFL)"),
            )),
        }
    }

    fn port_in_use(&self, port: u16, reuse: bool) -> bool {
        self.ep.sockets().iter().any(|s| {
            s.local.port() == port
                && s.state != State::Closed
                && (s.state == State::Listen || !reuse)
                && !(reuse && s.state == State::TimeWait)
        })
    }

    fn sys_bind(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let Some(f) = self.fds.get(&fd) else {
            return Ok(Err("EBADF"));
        };
        if f.kind != FdKind::Fresh || f.port.is_some() {
            return Ok(Err("EINVAL"));
        }
        if self.port_in_use(DEFAULT_PORT, f.reuse) {
            return Ok(Err("EADDRINUSE"));
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            f.port = Some(DEFAULT_PORT);
        }
        Ok(Ok(0))
    }

    fn sys_listen(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let backlog = self.int_arg(line, c, 1)?.clamp(1, 65_535) as usize;
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        match f.kind {
            FdKind::Listener(_) => return Ok(Ok(0)),
            FdKind::Conn(_) => return Ok(Err("EINVAL")),
            FdKind::Fresh => {}
        }
        let port = f.port.unwrap_or(DEFAULT_PORT);
        let r = if f.reuse {
            self.ep.listen_reuse(port, backlog)
        } else {
            self.ep.listen(port, backlog)
        };
        match r {
            Ok(id) => {
                if let Some(key) = f.fast_open_key {
                    let _ = self.ep.set_fast_open_key(id, key);
                }
                if f.fast_open_qlen > 0 {
                    let _ = self.ep.set_fast_open(id, f.fast_open_qlen);
                }
                if f.user_mss != 0 {
                    self.apply_listener_mss(fd);
                }
                let f = self.fds.get_mut(&fd).expect("checked above");
                f.kind = FdKind::Listener(id);
                f.port = Some(port);
                self.by_socket.insert(id, fd);
                // The script's peer connects from a port no earlier
                // connection used, as packetdrill takes a fresh ephemeral
                // port for each new passive socket (run_packet.c).
                let mut remote = REMOTE_PORT;
                while self.seen_tuples.contains(&(port, remote)) {
                    remote = remote.wrapping_add(1);
                }
                self.tuple = (port, remote);
                Ok(Ok(0))
            }
            Err(e) => Ok(Err(e.errno_name())),
        }
    }

    fn sys_close(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        if self.epolls.remove(&fd).is_some() {
            return Ok(Ok(0));
        }
        let Some(f) = self.fds.remove(&fd) else {
            return Ok(Err("EBADF"));
        };
        match f.kind {
            FdKind::Fresh => {}
            FdKind::Listener(id) | FdKind::Conn(id) => {
                if matches!(f.kind, FdKind::Listener(_))
                    && f.user_mss != 0
                    && let Some(base) = self.base_mss.take()
                {
                    self.ep.tcp_config_mut().mss = base;
                }
                self.by_socket.remove(&id);
                if matches!(f.kind, FdKind::Conn(_))
                    && let Some((local, remote)) = self.ep.addresses(id)
                {
                    self.closed_tuples.push((local.port(), remote.port()));
                }
                // (A gone connection still there is a reset one the stack
                // kept for its unread data or its accept: close frees it.)
                if self.ep.state(id).is_some() {
                    let r = if f.linger_zero && matches!(f.kind, FdKind::Conn(_)) {
                        self.ep.abort(self.now, id)
                    } else {
                        self.ep.close(self.now, id)
                    };
                    if let Err(e) = r {
                        return Ok(Err(e.errno_name()));
                    }
                }
            }
        }
        Ok(Ok(0))
    }

    fn sys_shutdown(&mut self, line: usize, c: &CallSpec) -> Result<CallResult, ScriptError> {
        let fd = self.fd_arg(line, c)?;
        let how = expr_text(self.arg(line, c, 1)?);
        let (rd, wr) = match how.as_str() {
            "SHUT_RD" | "0" => (true, false),
            "SHUT_WR" | "1" => (false, true),
            "SHUT_RDWR" | "2" => (true, true),
            other => {
                return Err(self.fail(
                    line,
                    format!("shutdown: unknown mode {other} (SHUT_RD, SHUT_WR or SHUT_RDWR)"),
                ));
            }
        };
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let FdKind::Conn(id) = f.kind else {
            return Ok(Err("ENOTCONN"));
        };
        if f.gone || self.ep.state(id).is_none() {
            return Ok(Err("ENOTCONN"));
        }
        if wr {
            match self.ep.shutdown(self.now, id) {
                Ok(()) | Err(SocketError::BrokenPipe) => {}
                Err(e) => return Ok(Err(e.errno_name())),
            }
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            f.shut_rd |= rd;
            f.shut_wr |= wr;
        }
        Ok(Ok(0))
    }
}

/// The options whose meaning the stack does not have: a clear error
/// rather than a setting silently without effect.
fn unsupported_option(opt: &str, value: &Expr) -> Option<String> {
    let v = match value {
        Expr::List(v) if v.len() == 1 => eval(&v[0]),
        other => eval(other),
    };
    Some(match opt {
        "TCP_USER_TIMEOUT" => {
            "TCP_USER_TIMEOUT (the stack has no user timeout: it gives up after tcp_retries2 retransmissions)".into()
        }
        "IP_MTU_DISCOVER" if !matches!(v, Some(IP_PMTUDISC_WANT | IP_PMTUDISC_DO)) => format!(
            "IP_MTU_DISCOVER {} (the stack sets DF on every segment: only IP_PMTUDISC_WANT and IP_PMTUDISC_DO mean that)",
            v.map_or_else(|| expr_text(value), |v| v.to_string())
        ),
        _ => return None,
    })
}

/// IP_MTU_DISCOVER's values (include/uapi/linux/in.h).
pub(super) const IP_PMTUDISC_DONT: i64 = 0;
pub(super) const IP_PMTUDISC_WANT: i64 = 1;
pub(super) const IP_PMTUDISC_DO: i64 = 2;
pub(super) const IP_PMTUDISC_PROBE: i64 = 3;

/// ioctl requests (SIOCINQ is FIONREAD, SIOCOUTQ is TIOCOUTQ).
pub(super) const SIOCINQ: i64 = 0x541B;
pub(super) const SIOCOUTQ: i64 = 0x5411;
pub(super) const SIOCOUTQNSD: i64 = 0x894B;

pub(super) const O_RDWR: i64 = 0x2;
pub(super) const O_NONBLOCK: i64 = 0x800;

/// Linux's values for the symbolic constants scripts use.
pub(super) fn constant(name: &str) -> Option<i64> {
    Some(match name {
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => O_RDWR,
        "O_NONBLOCK" => O_NONBLOCK,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "SOL_SOCKET" => 1,
        "IPPROTO_TCP" | "SOL_TCP" => 6,
        "AF_INET" | "PF_INET" => 2,
        "SOCK_STREAM" => 1,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "NULL" => 0,
        "POLLIN" => POLLIN,
        "POLLPRI" => 0x2,
        "POLLOUT" => POLLOUT,
        "POLLERR" => POLLERR,
        "POLLHUP" => POLLHUP,
        "POLLNVAL" => POLLNVAL,
        "POLLRDNORM" => POLLRDNORM,
        "POLLRDBAND" => 0x80,
        "POLLWRNORM" => POLLWRNORM,
        "POLLWRBAND" => 0x200,
        "POLLRDHUP" => POLLRDHUP,
        "TCP_CM_INQ" => super::msg::TCP_INQ,
        "EPOLLIN" => super::epoll::EPOLLIN,
        "EPOLLOUT" => super::epoll::EPOLLOUT,
        "EPOLLPRI" => 0x2,
        "EPOLLERR" => POLLERR,
        "EPOLLHUP" => POLLHUP,
        "EPOLLRDNORM" => POLLRDNORM,
        "EPOLLRDBAND" => 0x80,
        "EPOLLWRNORM" => POLLWRNORM,
        "EPOLLWRBAND" => 0x200,
        "EPOLLRDHUP" => POLLRDHUP,
        "EPOLLET" => super::epoll::EPOLLET,
        "EPOLLONESHOT" => super::epoll::EPOLLONESHOT,
        "EPOLLEXCLUSIVE" => super::epoll::EPOLLEXCLUSIVE,
        "EPOLL_CTL_ADD" => super::epoll::EPOLL_CTL_ADD,
        "EPOLL_CTL_DEL" => super::epoll::EPOLL_CTL_DEL,
        "EPOLL_CTL_MOD" => super::epoll::EPOLL_CTL_MOD,
        "SOL_IP" | "IPPROTO_IP" => 0,
        "IP_PMTUDISC_DONT" => IP_PMTUDISC_DONT,
        "IP_PMTUDISC_WANT" => IP_PMTUDISC_WANT,
        "IP_PMTUDISC_DO" => IP_PMTUDISC_DO,
        "IP_PMTUDISC_PROBE" => IP_PMTUDISC_PROBE,
        "SIOCINQ" | "FIONREAD" => SIOCINQ,
        "SIOCOUTQ" | "TIOCOUTQ" => SIOCOUTQ,
        "SIOCOUTQNSD" => SIOCOUTQNSD,
        other => {
            return super::msg::MSG_FLAGS
                .iter()
                .find(|&&(n, _)| n == other)
                .map(|&(_, v)| v)
                .or_else(|| super::errqueue::constant(other));
        }
    })
}

pub(super) fn eval(e: &Expr) -> Option<i64> {
    match e {
        Expr::Int(v) => Some(*v),
        Expr::Name(n) => constant(n),
        Expr::Or(parts) => parts.iter().try_fold(0i64, |acc, p| Some(acc | eval(p)?)),
        Expr::List(v) if v.len() == 1 => eval(&v[0]),
        _ => None,
    }
}

pub(super) fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Ellipsis => "...".into(),
        Expr::Int(v) => v.to_string(),
        Expr::Name(n) => n.clone(),
        Expr::Or(parts) => parts.iter().map(expr_text).collect::<Vec<_>>().join("|"),
        Expr::List(v) => format!(
            "[{}]",
            v.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
        Expr::Struct(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| match v {
                    Expr::Counted(..) => format!("{k}{}", expr_text(v)),
                    _ => format!("{k}={}", expr_text(v)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Counted(count, value) => format!("({})={}", expr_text(count), expr_text(value)),
        Expr::Tuple(items) => format!(
            "{{{}}}",
            items.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
        Expr::Str(s) => format!("{s:?}"),
    }
}
