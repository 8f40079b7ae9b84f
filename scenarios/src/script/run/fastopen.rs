//! TCP Fast Open's client side in the socket layer, as Linux's
//! `tcp_sendmsg_fastopen`, `tcp_fastopen_defer_connect` and
//! `__inet_stream_connect` give it: `sendto`/`sendmsg` with MSG_FASTOPEN,
//! the TCP_FASTOPEN_CONNECT socket option (a `connect` that returns 0 at
//! once and leaves the SYN to the first write), and their errno values.
//! The stack decides what the SYN carries ([`stack::Endpoint::connect_fast_open`]).

use super::msg::{DataArgs, MSG_DONTWAIT, MSG_FASTOPEN};
use super::sockets::{CallResult, Fd, FdKind};
use super::{DEFAULT_PORT, Runner};
use crate::script::ScriptError;
use crate::script::parse::{CallSpec, Expr};
use stack::State;
use std::net::SocketAddrV4;

impl Runner<'_> {
    fn fast_open_client_enabled(&self) -> bool {
        self.ep.config().fast_open.client
    }

    /// setsockopt(TCP_FASTOPEN_CONNECT): 0 or 1 (else EINVAL), only with
    /// the client side on (else EOPNOTSUPP), only on a closed socket
    /// (else EINVAL) (Linux's do_tcp_setsockopt).
    pub(super) fn set_fastopen_connect(&mut self, fd: i32, value: Option<i64>) -> CallResult {
        let Some(v) = value.filter(|v| (0..=1).contains(v)) else {
            return Err("EINVAL");
        };
        if !self.fast_open_client_enabled() {
            return Err("EOPNOTSUPP");
        }
        let Some(f) = self.fds.get_mut(&fd) else {
            return Err("EBADF");
        };
        if f.kind != FdKind::Fresh || f.defer_connect {
            return Err("EINVAL");
        }
        f.fastopen_connect = v == 1;
        Ok(0)
    }

    /// setsockopt(TCP_FASTOPEN_KEY, "\x..", len): the socket's own server
    /// key, 16 bytes (a primary key) or 32 (and a backup, not used), else
    /// EINVAL (Linux's do_tcp_setsockopt). The bytes are the key as Linux
    /// copies it in (`tcp_fastopen_reset_cipher`).
    pub(super) fn set_fastopen_key(
        &mut self,
        fd: i32,
        value: &Expr,
        len: Option<i64>,
    ) -> CallResult {
        let Expr::Str(text) = value else {
            return Err("EINVAL");
        };
        let bytes = unescape(text);
        let Some(len) = len.filter(|&l| l == 16 || l == 32) else {
            return Err("EINVAL");
        };
        if bytes.len() < len as usize {
            return Err("EFAULT");
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        let Some(f) = self.fds.get_mut(&fd) else {
            return Err("EBADF");
        };
        f.fast_open_key = Some(key);
        if let FdKind::Listener(id) = f.kind {
            let _ = self.ep.set_fast_open_key(id, key);
        }
        Ok(0)
    }

    /// connect() on a socket with TCP_FASTOPEN_CONNECT, or on one whose
    /// connect was deferred: `None` leaves the call to the ordinary
    /// connect. With a cookie cached (or none needed) the connect is
    /// deferred and returns 0 at once (tcp_fastopen_defer_connect); a
    /// second connect then says EISCONN. Without one it is an ordinary
    /// connect whose SYN asks for a cookie ("bypass").
    pub(super) fn fastopen_connect(
        &mut self,
        fd: i32,
        f: &Fd,
    ) -> Result<Option<Option<CallResult>>, ScriptError> {
        if f.kind != FdKind::Fresh {
            return Ok(None);
        }
        if f.defer_connect {
            return Ok(Some(Some(Err("EISCONN"))));
        }
        if !f.fastopen_connect {
            return Ok(None);
        }
        if self.ep.fast_open_cookie_ready(self.script.remote_ip) {
            if let Some(f) = self.fds.get_mut(&fd) {
                f.defer_connect = true;
            }
            return Ok(Some(Some(Ok(0))));
        }
        if let Err(e) = self.open_fast_open(fd, f, 0)? {
            return Ok(Some(Some(Err(e))));
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            // The request Linux allocated stays until the socket goes: a
            // later MSG_FASTOPEN send finds it and says EALREADY.
            f.fastopen_req = true;
        }
        if f.nonblock {
            return Ok(Some(Some(Err("EINPROGRESS"))));
        }
        Ok(Some(self.connect_status(fd)?))
    }

    /// A send that goes through Linux's tcp_sendmsg_fastopen (MSG_FASTOPEN,
    /// or any write on a deferred connect): `None` leaves the call to the
    /// ordinary send path (a connection already up); `Some(None)` blocks.
    pub(super) fn fastopen_send(
        &mut self,
        c: &CallSpec,
        fd: i32,
        f: &Fd,
        io: &DataArgs,
    ) -> Result<Option<Option<CallResult>>, ScriptError> {
        let deferred = f.kind == FdKind::Fresh && f.defer_connect;
        if io.flags & MSG_FASTOPEN == 0 && !deferred {
            return Ok(None);
        }
        let unspec =
            c.name == "sendto" && matches!(c.args.get(4), Some(Expr::Name(n)) if n == "AF_UNSPEC");
        if !self.fast_open_client_enabled() || unspec {
            return Ok(Some(Some(Err("EOPNOTSUPP"))));
        }
        if f.fastopen_req {
            return Ok(Some(Some(Err("EALREADY"))));
        }
        let nonblock = f.nonblock || io.flags & MSG_DONTWAIT != 0;
        match f.kind {
            FdKind::Fresh => {
                let total = io.len;
                // A buffer that cannot be copied: the SYN goes without data.
                let data = if io.null_buf { 0 } else { total };
                let n = match self.open_fast_open(fd, f, data)? {
                    Ok(n) => n,
                    Err(e) => return Ok(Some(Some(Err(e)))),
                };
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.defer_connect = false;
                }
                if nonblock {
                    return Ok(Some(Some(if n > 0 {
                        Ok(n as i64)
                    } else {
                        Err("EINPROGRESS")
                    })));
                }
                if io.null_buf && total > 0 {
                    return Ok(Some(Some(Err("EFAULT"))));
                }
                // Blocking: wait for the handshake (__inet_stream_connect),
                // then send the rest; the socket is then SS_CONNECTED.
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.connect_reported = true;
                    // Data left for after the handshake: a writer waits
                    // (Linux's writebias in inet_wait_for_connect).
                    if let FdKind::Conn(id) = f.kind
                        && n < total
                    {
                        self.ep.set_write_pending(id);
                    }
                }
                self.write_left = total - n;
                Ok(Some(None))
            }
            FdKind::Conn(id) => {
                // __inet_stream_connect on a socket past its connect.
                if f.connect_reported {
                    return Ok(Some(Some(Err("EISCONN"))));
                }
                let gone = f.gone || self.ep.state(id).is_none();
                match self.ep.state(id) {
                    Some(State::SynSent | State::SynReceived) if nonblock => {
                        Ok(Some(Some(Err("EALREADY"))))
                    }
                    _ => {
                        if !gone && let Some(f) = self.fds.get_mut(&fd) {
                            f.connect_reported = true;
                        }
                        Ok(None)
                    }
                }
            }
            FdKind::Listener(_) => Ok(None),
        }
    }

    /// Opens `fd`'s connection with Fast Open, `data` bytes offered for
    /// the SYN: the connect the socket layer does for sendto(MSG_FASTOPEN).
    /// Returns how many bytes the SYN took.
    fn open_fast_open(
        &mut self,
        fd: i32,
        f: &Fd,
        data: usize,
    ) -> Result<Result<usize, &'static str>, ScriptError> {
        let remote = SocketAddrV4::new(self.script.remote_ip, DEFAULT_PORT);
        self.remote_isn = None;
        self.active_open = true;
        // TCP_MAXSEG caps the MSS the SYN announces and the SYN data's room.
        let route_mss = self.ep.config().tcp.mss;
        if f.user_mss != 0 {
            self.ep.tcp_config_mut().mss = route_mss.min(f.user_mss);
        }
        let bytes = vec![b'y'; data];
        let now = self.now;
        let r = self.ep.connect_fast_open(now, f.port, remote, &bytes);
        self.ep.tcp_config_mut().mss = route_mss;
        let (id, n) = match r {
            Ok(x) => x,
            Err(e) => return Ok(Err(e.errno_name())),
        };
        let fdm = self.fds.get_mut(&fd).expect("the caller looked it up");
        fdm.kind = FdKind::Conn(id);
        let snapshot = fdm.clone();
        self.by_socket.insert(id, fd);
        self.apply_options(now, id, &snapshot);
        if let Some((local, remote)) = self.ep.addresses(id) {
            self.tuple = (local.port(), remote.port());
        }
        self.flush()?;
        Ok(Ok(n))
    }
}

/// A script string's bytes, with C's `\xHH` (and `\\`, `\"`, `\0`) escapes.
fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let hex = |i: usize| {
        b.get(i..i + 2)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| u8::from_str_radix(s, 16).ok())
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'x')) if hex(i + 2).is_some() => {
                out.extend(hex(i + 2));
                i += 4;
            }
            (b'\\', Some(b'0')) => {
                out.push(0);
                i += 2;
            }
            (b'\\', Some(&c)) => {
                out.push(c);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_strings_decode_c_escapes() {
        // The suite writes TCP_FASTOPEN_KEY as "\xf7\x63...": each escape is one byte.
        assert_eq!(
            super::unescape("\\xf7\\x63a\\\\"),
            vec![0xf7, 0x63, b'a', b'\\']
        );
        assert_eq!(super::unescape(""), Vec::<u8>::new());
    }
}
