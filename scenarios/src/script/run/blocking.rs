//! The system calls that may block in virtual time (accept, connect,
//! read/recv, write/send, poll) and the poll mask as Linux's tcp_poll
//! reports it.

use super::msg::{Cmsg, DataArgs, MSG_CTRUNC, MSG_DONTWAIT, MSG_ERRQUEUE, MSG_PEEK, MsgExpect};
use super::sockets::{CallResult, Fd, FdKind, eval, expr_text};
use super::{DEFAULT_PORT, Runner, fmt_time};
use crate::script::ScriptError;
use crate::script::parse::{CallSpec, Expr};
use stack::{SocketError, State};
use std::net::SocketAddrV4;

impl Runner<'_> {
    /// accept, connect, read/recv, write/send: `Some(result)` when the
    /// call returns now, `None` when it blocks. `resume` is set when a
    /// blocked call is retried (with the bytes a write still has to queue).
    pub(super) fn try_blocking(
        &mut self,
        line: usize,
        c: &CallSpec,
        resume: Option<usize>,
    ) -> Result<Option<CallResult>, ScriptError> {
        if c.name == "poll" {
            return self.sys_poll(line, c, resume.is_some());
        }
        if c.name == "epoll_wait" {
            return self.sys_epoll_wait(line, c, resume.is_some());
        }
        let fd = self.fd_arg(line, c)?;
        let Some(f) = self.fds.get(&fd).cloned() else {
            return Ok(Some(Err("EBADF")));
        };
        let now = self.now;
        self.write_left = 0;
        match c.name.as_str() {
            "accept" => {
                let FdKind::Listener(lid) = f.kind else {
                    return Ok(Some(Err("EINVAL")));
                };
                match self.ep.accept(lid) {
                    Ok(id) => {
                        let newfd = self.new_fd(c);
                        let mut child = Fd::new(f.congestion, f.keepalive_timing);
                        child.kind = FdKind::Conn(id);
                        child.connected = true;
                        child.nodelay = f.nodelay;
                        child.keepalive = f.keepalive;
                        child.keepalive_timing = f.keepalive_timing;
                        child.congestion = f.congestion;
                        child.linger_zero = f.linger_zero;
                        // sk_clone_lock copies these from the listener.
                        child.inq = f.inq;
                        child.notsent_lowat = f.notsent_lowat;
                        child.user_mss = f.user_mss;
                        child.sndbuf = f.sndbuf;
                        child.rcvbuf = f.rcvbuf;
                        child.pmtudisc = f.pmtudisc;
                        child.errq = super::errqueue::ErrQueue::inherit(&f.errq);
                        // A child reset in the accept queue is still handed
                        // out, closed, with its data and its error (Linux).
                        child.gone = matches!(self.ep.state(id), None | Some(State::Closed));
                        if child.gone {
                            child.error = self.ep.socket_error(id).map(|e| e.errno_name());
                        }
                        self.apply_options(now, id, &child);
                        if let Some((local, remote)) = self.ep.addresses(id) {
                            self.tuple = (local.port(), remote.port());
                        }
                        self.install_fd(newfd, child);
                        self.by_socket.insert(id, newfd);
                        // The connection code blocks read from now on.
                        self.under_test = super::UnderTest::Fd(newfd);
                        Ok(Some(Ok(i64::from(newfd))))
                    }
                    Err(SocketError::WouldBlock) if f.nonblock => Ok(Some(Err("EAGAIN"))),
                    Err(SocketError::WouldBlock) => Ok(None),
                    Err(e) => Ok(Some(Err(e.errno_name()))),
                }
            }
            "connect"
                if resume.is_none()
                    && let Some(r) = self.fastopen_connect(fd, &f)? =>
            {
                Ok(r)
            }
            "connect" => match f.kind {
                FdKind::Listener(_) => Ok(Some(Err("EINVAL"))),
                FdKind::Fresh => {
                    if resume.is_some() {
                        return Ok(Some(Err("EBADF")));
                    }
                    let remote = SocketAddrV4::new(self.script.remote_ip, DEFAULT_PORT);
                    // A new active connection: its peer's ISN comes from
                    // the SYN-ACK the script will send.
                    self.remote_isn = None;
                    self.active_open = true;
                    // TCP_MAXSEG caps the MSS the SYN announces and the
                    // connection uses (tcp_connect_init: user_mss clamps
                    // mss_clamp and advmss).
                    let route_mss = self.ep.config().tcp.mss;
                    if f.user_mss != 0 {
                        self.ep.tcp_config_mut().mss = route_mss.min(f.user_mss);
                    }
                    let r = match f.port {
                        Some(p) => self.ep.connect_from(now, p, remote),
                        None => self.ep.connect(now, remote),
                    };
                    self.ep.tcp_config_mut().mss = route_mss;
                    let id = match r {
                        Ok(id) => id,
                        Err(e) => return Ok(Some(Err(e.errno_name()))),
                    };
                    let fdm = self.fds.get_mut(&fd).expect("looked up above");
                    fdm.kind = FdKind::Conn(id);
                    let snapshot = fdm.clone();
                    self.by_socket.insert(id, fd);
                    self.apply_options(now, id, &snapshot);
                    if let Some((local, remote)) = self.ep.addresses(id) {
                        self.tuple = (local.port(), remote.port());
                    }
                    self.flush()?;
                    if f.nonblock {
                        return Ok(Some(Err("EINPROGRESS")));
                    }
                    self.connect_status(fd)
                }
                FdKind::Conn(_) if resume.is_some() => self.connect_status(fd),
                FdKind::Conn(id) => {
                    // connect again (__inet_stream_connect): EALREADY while
                    // the handshake runs; once it is done, the first call
                    // returns 0 and later ones EISCONN; after a failure the
                    // pending error (else ECONNABORTED).
                    if f.connect_reported {
                        return Ok(Some(Err("EISCONN")));
                    }
                    match self.ep.state(id) {
                        Some(State::SynSent | State::SynReceived) => Ok(Some(Err("EALREADY"))),
                        Some(_) if f.connected && !f.gone => self.connect_status(fd),
                        _ => Ok(Some(Err(self
                            .fds
                            .get_mut(&fd)
                            .and_then(|f| f.error.take())
                            .unwrap_or("ECONNABORTED")))),
                    }
                }
            },
            "read" | "recv" | "recvfrom" | "recvmsg" => {
                let io = self.data_args(line, c)?;
                if io.flags & MSG_ERRQUEUE != 0 {
                    // tcp_recvmsg hands MSG_ERRQUEUE to inet_recv_error
                    // first, in any state; it never blocks.
                    let (result, flags, control) = self.recv_errqueue(line, fd, io.len)?;
                    if let (Some(want), r @ Ok(_)) = (&io.expect, result)
                        && self.result_matches(c, r)
                    {
                        self.check_msghdr(line, want, flags, &control)?;
                    }
                    return Ok(Some(result));
                }
                let result = self.try_recv(fd, &f, &io)?;
                // As packetdrill: the msghdr is checked once the call
                // returned what the script expects. (After an error the
                // kernel writes nothing back: msg_flags stays as given.)
                if let (Some(want), Some(r @ Ok(_))) = (&io.expect, result)
                    && self.result_matches(c, r)
                {
                    let (flags, control) = self.recvmsg_outputs(fd, want);
                    self.check_msghdr(line, want, flags, &control)?;
                }
                Ok(result)
            }
            "write" | "send" | "sendto" | "sendmsg" => {
                let io = self.data_args(line, c)?;
                if resume.is_none()
                    && let Some(r) = self.fastopen_send(c, fd, &f, &io)?
                {
                    return Ok(r);
                }
                let f = self.fds.get(&fd).cloned().unwrap_or(f);
                let nonblock = f.nonblock || io.flags & MSG_DONTWAIT != 0;
                let total = io.len;
                let mut left = resume.unwrap_or(total);
                let FdKind::Conn(id) = f.kind else {
                    return Ok(Some(Err(if f.kind == FdKind::Fresh {
                        "EPIPE"
                    } else {
                        "ENOTCONN"
                    })));
                };
                if f.gone || self.ep.state(id).is_none() {
                    return Ok(Some(
                        match self.fds.get_mut(&fd).and_then(|f| f.error.take()) {
                            Some(e) => Err(e),
                            None => Err("EPIPE"),
                        },
                    ));
                }
                // Linux: writing before the handshake completes blocks (or
                // EAGAIN), except on a Fast Open child (tcp_sendmsg_locked's
                // tcp_passive_fastopen), which may answer the SYN's data.
                if matches!(self.ep.state(id), Some(State::SynSent | State::SynReceived))
                    && !self.ep.passive_fast_open(id)
                {
                    if nonblock {
                        return Ok(Some(Err("EAGAIN")));
                    }
                    // A writer with data waits (Linux's sk_write_pending;
                    // not a Fast Open sendto whose data all went in the SYN).
                    if left > 0 {
                        self.ep.set_write_pending(id);
                    }
                    self.write_left = left;
                    return Ok(None);
                }
                // A NULL buffer: tcp_sendmsg_locked fails the copy into a
                // free send buffer with EFAULT, nothing queued.
                if io.null_buf && left > 0 && self.ep.send_capacity(id) > 0 {
                    return Ok(Some(Err("EFAULT")));
                }
                // TCP_NOTSENT_LOWAT (the socket's or the sysctl's) cuts
                // the write short in the stack, as in tcp_sendmsg_locked.
                let lowat = self.lowat_of(&f);
                let _ = self.ep.set_notsent_lowat(id, lowat);
                let data = vec![b'y'; left.min(1 << 20)];
                while left > 0 {
                    let chunk = &data[..left.min(data.len())];
                    // MSG_EOR / MSG_MORE belong to the write's last byte.
                    let last = chunk.len() == left;
                    let flags = stack::SendFlags {
                        eor: last && io.flags & super::msg::MSG_EOR != 0,
                        more: io.flags & super::msg::MSG_MORE != 0,
                    };
                    match self.ep.send_with_flags(now, id, chunk, flags) {
                        Ok(0) | Err(SocketError::WouldBlock) => break,
                        Ok(k) => left -= k,
                        Err(e) => return Ok(Some(Err(e.errno_name()))),
                    }
                }
                self.flush_transmit();
                let done = left == 0 || nonblock;
                if done {
                    // The call returns: what it queued may take a
                    // zero-copy number and a timestamp mark.
                    self.errq_note_write(fd, io.flags, total - left);
                }
                if left == 0 {
                    Ok(Some(Ok(total as i64)))
                } else if nonblock {
                    if left == total {
                        Ok(Some(Err("EAGAIN")))
                    } else {
                        Ok(Some(Ok((total - left) as i64)))
                    }
                } else {
                    self.write_left = left;
                    Ok(None)
                }
            }
            _ => unreachable!("only blocking calls come here"),
        }
    }

    /// poll(2) over the script's fds: `[{fd=N, events=..., revents=...}]`,
    /// nfds, timeout in ms (0: return at once; -1: no limit). Each fd's
    /// revents must be what the script expects; the result counts the fds
    /// with any. With nothing ready and a timeout, the call blocks.
    fn sys_poll(
        &mut self,
        line: usize,
        c: &CallSpec,
        resumed: bool,
    ) -> Result<Option<CallResult>, ScriptError> {
        let Expr::List(items) = self.arg(line, c, 0)? else {
            return Err(self.fail(
                line,
                "poll: the first argument must be a list like [{fd=4, events=POLLIN, revents=POLLIN}]",
            ));
        };
        let timeout = self.int_arg(line, c, 2)?;
        let mut wanted = Vec::new();
        for item in items {
            let Expr::Struct(fields) = item else {
                return Err(self.fail(
                    line,
                    "poll: each entry must be {fd=..., events=..., revents=...}",
                ));
            };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, e)| e);
            let fd = get("fd").and_then(eval).and_then(|v| i32::try_from(v).ok());
            let events = get("events").and_then(eval);
            let (Some(fd), Some(events)) = (fd, events) else {
                return Err(self.fail(line, "poll: each entry needs fd=N and events=FLAGS"));
            };
            let revents = match get("revents") {
                None | Some(Expr::Ellipsis) => None,
                Some(e) => Some(eval(e).ok_or_else(|| {
                    self.fail(
                        line,
                        format!("poll: cannot evaluate revents {}", expr_text(e)),
                    )
                })?),
            };
            wanted.push((fd, events, revents));
        }
        let got: Vec<i64> = wanted
            .iter()
            .map(|&(fd, events, _)| self.poll_mask(fd) & (events | POLLERR | POLLHUP | POLLNVAL))
            .collect();
        let ready = got.iter().filter(|&&r| r != 0).count() as i64;
        if self.keep_waiting(ready == 0, timeout, resumed) {
            return Ok(None);
        }
        for (&(fd, _, want), &have) in wanted.iter().zip(&got) {
            if let Some(want) = want
                && want != have
            {
                return Err(self.fail(
                    line,
                    format!(
                        "poll: expected revents {} for fd {fd}, got {} at {}",
                        poll_text(want),
                        poll_text(have),
                        fmt_time(self.now)
                    ),
                ));
            }
        }
        Ok(Some(Ok(ready)))
    }

    /// What Linux's tcp_poll would report for an fd.
    /// The timeout rule poll and epoll_wait share: with nothing ready and a
    /// nonzero timeout (negative: for ever) the call blocks, its deadline
    /// set when it first blocks (not when it is `resumed`); it returns once
    /// something is ready or the deadline has passed, which clears it.
    pub(super) fn keep_waiting(
        &mut self,
        nothing_ready: bool,
        timeout: i64,
        resumed: bool,
    ) -> bool {
        let timed_out = self.poll_deadline.is_some_and(|d| self.now >= d);
        if nothing_ready && timeout != 0 && !timed_out {
            if !resumed {
                self.poll_deadline = u64::try_from(timeout)
                    .ok()
                    .map(|ms| self.now + stack::Duration(ms.saturating_mul(1_000_000)));
            }
            return true;
        }
        self.poll_deadline = None;
        false
    }

    pub(super) fn poll_mask(&self, fd: i32) -> i64 {
        let Some(f) = self.fds.get(&fd) else {
            return POLLNVAL;
        };
        match f.kind {
            // A deferred Fast Open connect (SYN-SENT, DEFER_CONNECT):
            // writable, so the application writes the SYN's data (tcp_poll).
            FdKind::Fresh if f.defer_connect => POLLOUT | POLLWRNORM,
            // An unconnected socket: TCP_CLOSE.
            FdKind::Fresh => POLLOUT | POLLWRNORM | POLLHUP,
            FdKind::Listener(id) => {
                let waiting = self
                    .ep
                    .sockets()
                    .iter()
                    .any(|s| s.id == id && s.recv_queue > 0);
                if waiting { POLLIN | POLLRDNORM } else { 0 }
            }
            FdKind::Conn(id) => {
                let state = if f.gone { None } else { self.ep.state(id) };
                let closed = matches!(state, None | Some(State::Closed));
                let rcv_shut = f.peer_fin || f.shut_rd || closed;
                let snd_shut = f.shut_wr || closed;
                let mut mask = 0;
                if closed || (rcv_shut && snd_shut) {
                    mask |= POLLHUP;
                }
                if rcv_shut {
                    mask |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                if !matches!(state, Some(State::SynSent | State::SynReceived)) {
                    if self.ep.recv_queue_len(id) > 0 {
                        mask |= POLLIN | POLLRDNORM;
                    }
                    if snd_shut || (self.ep.send_capacity(id) > 0 && self.below_lowat(f, id)) {
                        mask |= POLLOUT | POLLWRNORM;
                    }
                }
                if f.error.is_some() || f.errq.is_readable() {
                    mask |= POLLERR;
                }
                mask
            }
        }
    }

    /// read, recv, recvfrom, recvmsg on `fd`: `None` when it blocks.
    fn try_recv(
        &mut self,
        fd: i32,
        f: &Fd,
        io: &DataArgs,
    ) -> Result<Option<CallResult>, ScriptError> {
        let n = io.len;
        let nonblock = f.nonblock || io.flags & MSG_DONTWAIT != 0;
        let FdKind::Conn(id) = f.kind else {
            // A deferred Fast Open connect is in SYN-SENT: nothing to read yet.
            if f.defer_connect {
                return Ok(if nonblock { Some(Err("EAGAIN")) } else { None });
            }
            return Ok(Some(Err("ENOTCONN")));
        };
        let gone = f.gone || self.ep.state(id).is_none();
        // Linux's tcp_recvmsg: data the reset left queued is read first,
        // then the error.
        if gone && n > 0 && self.ep.recv_queue_len(id) > 0 && io.flags & MSG_PEEK == 0 {
            let now = self.now;
            let mut buf = vec![0u8; n];
            if let Ok(k) = self.ep.recv(now, id, &mut buf) {
                return Ok(Some(Ok(k as i64)));
            }
        }
        if gone {
            // Linux: a pending error is reported once, then EOF;
            // but once the peer's FIN was in, tcp_recvmsg reports
            // EOF first (SOCK_DONE before sk_err) and the error is
            // left for SO_ERROR (a RST in CLOSING or LAST-ACK).
            if f.peer_fin {
                return Ok(Some(Ok(0)));
            }
            return Ok(Some(
                match self.fds.get_mut(&fd).and_then(|f| f.error.take()) {
                    Some(e) => Err(e),
                    None => Ok(0),
                },
            ));
        }
        let queued = self.ep.recv_queue_len(id);
        // A NULL buffer: the copy of the first byte fails, nothing is
        // consumed (tcp_recvmsg_locked: "if (!copied) copied = -EFAULT").
        if io.null_buf && n > 0 && queued > 0 {
            return Ok(Some(Err("EFAULT")));
        }
        // MSG_PEEK: what a read would return, left in the queue.
        if io.flags & MSG_PEEK != 0 && queued > 0 {
            return Ok(Some(Ok(n.min(queued) as i64)));
        }
        let now = self.now;
        let mut buf = vec![0u8; n];
        match self.ep.recv(now, id, &mut buf) {
            Ok(k) => Ok(Some(Ok(k as i64))),
            Err(SocketError::WouldBlock) if f.shut_rd => Ok(Some(Ok(0))),
            Err(SocketError::WouldBlock) if nonblock => Ok(Some(Err("EAGAIN"))),
            Err(SocketError::WouldBlock) => Ok(None),
            Err(e) => {
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.error = None;
                }
                Ok(Some(Err(e.errno_name())))
            }
        }
    }

    /// What a returned recvmsg's msghdr holds: msg_flags and the control
    /// messages. With TCP_INQ on, tcp_recvmsg adds TCP_CM_INQ, the bytes
    /// left to read (tcp_inq_hint: rcv_nxt - copied_seq, so the peer's
    /// FIN counts one, and 1 once the socket is done); without room for
    /// it (no msg_control) the kernel sets MSG_CTRUNC instead.
    fn recvmsg_outputs(&self, fd: i32, want: &MsgExpect) -> (i64, Vec<Cmsg>) {
        let Some(f) = self.fds.get(&fd) else {
            return (0, Vec::new());
        };
        if !f.inq {
            return (0, Vec::new());
        }
        if want.control.is_empty() {
            return (MSG_CTRUNC, Vec::new());
        }
        let (queued, done) = match f.kind {
            FdKind::Conn(id) if !f.gone && self.ep.state(id).is_some() => (
                self.ep.recv_queue_len(id),
                matches!(self.ep.state(id), Some(State::Closed)),
            ),
            _ => (0, true),
        };
        let mut inq = queued as i64 + i64::from(f.peer_fin);
        if inq == 0 && done {
            inq = 1;
        }
        (0, vec![Cmsg::Inq(inq)])
    }

    /// The socket's TCP_NOTSENT_LOWAT, else the tcp_notsent_lowat
    /// sysctl's; `None` for Linux's default, UINT_MAX (no limit).
    fn lowat_of(&self, f: &Fd) -> Option<u32> {
        let lowat = if f.notsent_lowat != 0 {
            u64::from(f.notsent_lowat)
        } else {
            self.host
                .values
                .iter()
                .find(|(k, _)| k.ends_with("tcp_notsent_lowat"))
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .unwrap_or(u64::from(u32::MAX))
        };
        (lowat < u64::from(u32::MAX)).then_some(lowat as u32)
    }

    /// TCP_NOTSENT_LOWAT's part of writability (tcp_stream_memory_free
    /// with wake=1, as tcp_poll asks): twice the bytes not yet sent are
    /// below the socket's limit, else the tcp_notsent_lowat sysctl's
    /// (default UINT_MAX, no limit).
    fn below_lowat(&self, f: &Fd, id: stack::SocketId) -> bool {
        let lowat = self.lowat_of(f).map_or(u64::from(u32::MAX), u64::from);
        let notsent = self.ep.info(id).map_or(0, |i| u64::from(i.notsent_bytes));
        (notsent << 1) < lowat
    }

    pub(super) fn connect_status(&mut self, fd: i32) -> Result<Option<CallResult>, ScriptError> {
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok(Some(Err("EBADF")));
        };
        if f.connected {
            f.connect_reported = true;
            return Ok(Some(Ok(0)));
        }
        if let Some(e) = f.error.take() {
            return Ok(Some(Err(e)));
        }
        Ok(None)
    }
}

pub(super) const POLLIN: i64 = 0x1;
pub(super) const POLLOUT: i64 = 0x4;
pub(super) const POLLERR: i64 = 0x8;
pub(super) const POLLHUP: i64 = 0x10;
pub(super) const POLLNVAL: i64 = 0x20;
pub(super) const POLLRDNORM: i64 = 0x40;
pub(super) const POLLWRNORM: i64 = 0x100;
pub(super) const POLLRDHUP: i64 = 0x2000;

/// Poll flags by name, as a script would write them.
pub(super) fn poll_text(mask: i64) -> String {
    let names = [
        (POLLIN, "POLLIN"),
        (POLLOUT, "POLLOUT"),
        (POLLERR, "POLLERR"),
        (POLLHUP, "POLLHUP"),
        (POLLNVAL, "POLLNVAL"),
        (POLLRDNORM, "POLLRDNORM"),
        (POLLWRNORM, "POLLWRNORM"),
        (POLLRDHUP, "POLLRDHUP"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|&(_, n)| n)
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}
