//! epoll_create, epoll_ctl and epoll_wait over the same readiness
//! [`Runner::poll_mask`] gives poll (Linux's ep_item_poll asks tcp_poll
//! too). EPOLLONESHOT disables an fd once reported, until EPOLL_CTL_MOD.
//! EPOLLET follows Linux's ready list: an fd is on it when its mask
//! matched at ADD or MOD, or a wakeup whose key meets its events came
//! since it was last reported (ep_poll_callback); reporting takes it off.
//! The wakeups are the stack's events for the socket (data, EOF, state,
//! error, write space) and an error-queue entry (sk_error_report, with
//! EPOLLERR, which is why EPOLLERR fires once per completion batch under
//! EPOLLET). EPOLLEXCLUSIVE only spreads wakeups over several epoll
//! instances: with the one the script waits on it changes nothing, and
//! Linux's EINVAL rules for it are kept.
//!
//! packetdrill's epoll_wait takes one expected event,
//! `{events=MASK, fd=N}` (or `u32=`, `u64=`, `ptr=`), and compares it with
//! the first event returned (all zero when none is).

use super::Runner;
use super::blocking::{POLLERR, POLLHUP};
use super::sockets::{CallResult, eval, expr_text};
use crate::script::ScriptError;
use crate::script::parse::{CallSpec, Expr};

pub(super) const EPOLLIN: i64 = 0x1;
pub(super) const EPOLLOUT: i64 = 0x4;
pub(super) const EPOLLEXCLUSIVE: i64 = 1 << 28;
pub(super) const EPOLLONESHOT: i64 = 1 << 30;
pub(super) const EPOLLET: i64 = 1 << 31;
pub(super) const EPOLL_CTL_ADD: i64 = 1;
pub(super) const EPOLL_CTL_DEL: i64 = 2;
pub(super) const EPOLL_CTL_MOD: i64 = 3;

/// One fd an epoll instance watches.
#[derive(Clone, Debug)]
pub(super) struct Interest {
    pub(super) fd: i32,
    pub(super) events: i64,
    /// epoll_data as the script gave it (fd, u32, u64 or ptr: one number).
    pub(super) data: u64,
    /// EPOLLONESHOT fired: reported no more until EPOLL_CTL_MOD.
    pub(super) disabled: bool,
    /// On the ready list (what EPOLLET reports).
    pub(super) ready: bool,
}

impl Runner<'_> {
    /// `{events=MASK, fd=N | u32=N | u64=N | ptr=N}`: the mask and the data.
    fn epoll_event(&self, line: usize, c: &CallSpec, i: usize) -> Result<(i64, u64), ScriptError> {
        let e = self.arg(line, c, i)?;
        let bad = || {
            self.fail(
                line,
                format!(
                    "{}: expected an event like {{events=EPOLLIN, fd=4}}, found {}",
                    c.name,
                    expr_text(e)
                ),
            )
        };
        let Expr::Struct(fields) = e else {
            return Err(bad());
        };
        let [(k0, events), (k1, data)] = &fields[..] else {
            return Err(bad());
        };
        if k0 != "events" || !["fd", "u32", "u64", "ptr"].contains(&k1.as_str()) {
            return Err(bad());
        }
        let events = eval(events).ok_or_else(bad)?;
        let data = eval(data)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(bad)?;
        Ok((events, data))
    }

    pub(super) fn sys_epoll_create(
        &mut self,
        line: usize,
        c: &CallSpec,
    ) -> Result<CallResult, ScriptError> {
        if self.int_arg(line, c, 0)? <= 0 {
            return Ok(Err("EINVAL"));
        }
        let fd = self.new_fd(c);
        self.epolls.insert(fd, Vec::new());
        Ok(Ok(i64::from(fd)))
    }

    pub(super) fn sys_epoll_ctl(
        &mut self,
        line: usize,
        c: &CallSpec,
    ) -> Result<CallResult, ScriptError> {
        let epfd = self.fd_arg(line, c)?;
        let op = self.int_arg(line, c, 1)?;
        let fd = i32::try_from(self.int_arg(line, c, 2)?)
            .map_err(|_| self.fail(line, "epoll_ctl: bad file descriptor"))?;
        let (events, data) = if op == EPOLL_CTL_DEL {
            (0, 0)
        } else {
            self.epoll_event(line, c, 3)?
        };
        // do_epoll_ctl: EPOLLEXCLUSIVE only on ADD, with the in/out/err
        // bits and EPOLLET (not EPOLLONESHOT).
        const EXCLUSIVE_OK: i64 =
            0xff | 0x300 | POLLERR | POLLHUP | (1 << 29) | EPOLLET | EPOLLEXCLUSIVE;
        if events & EPOLLEXCLUSIVE != 0 && (op == EPOLL_CTL_MOD || events & !EXCLUSIVE_OK != 0) {
            return Ok(Err("EINVAL"));
        }
        let mask = self.poll_mask(fd);
        let target_open = self.fds.contains_key(&fd) || self.epolls.contains_key(&fd);
        let Some(list) = self.epolls.get_mut(&epfd) else {
            return Ok(Err(if self.fds.contains_key(&epfd) {
                "EINVAL"
            } else {
                "EBADF"
            }));
        };
        if !target_open {
            return Ok(Err("EBADF"));
        }
        if fd == epfd {
            return Ok(Err("EINVAL"));
        }
        let at = list.iter().position(|i| i.fd == fd);
        match (op, at) {
            (EPOLL_CTL_ADD, Some(_)) => Ok(Err("EEXIST")),
            (EPOLL_CTL_ADD, None) => {
                // ep_insert: on the ready list if it is ready now.
                list.push(Interest {
                    fd,
                    events,
                    data,
                    disabled: false,
                    ready: mask & (events | POLLERR | POLLHUP) != 0,
                });
                Ok(Ok(0))
            }
            (EPOLL_CTL_MOD | EPOLL_CTL_DEL, None) => Ok(Err("ENOENT")),
            (EPOLL_CTL_MOD, Some(i)) if list[i].events & EPOLLEXCLUSIVE != 0 => Ok(Err("EINVAL")),
            (EPOLL_CTL_MOD, Some(i)) => {
                list[i] = Interest {
                    fd,
                    events,
                    data,
                    disabled: false,
                    ready: list[i].ready || mask & (events | POLLERR | POLLHUP) != 0,
                };
                Ok(Ok(0))
            }
            (EPOLL_CTL_DEL, Some(i)) => {
                list.remove(i);
                Ok(Ok(0))
            }
            _ => Ok(Err("EINVAL")),
        }
    }

    /// epoll_wait: `Some(result)` when it returns now, `None` when it
    /// blocks (timeout != 0 and nothing ready).
    pub(super) fn sys_epoll_wait(
        &mut self,
        line: usize,
        c: &CallSpec,
        resumed: bool,
    ) -> Result<Option<CallResult>, ScriptError> {
        let epfd = self.fd_arg(line, c)?;
        let (want_events, want_data) = self.epoll_event(line, c, 1)?;
        let maxevents = self.int_arg(line, c, 2)?;
        let timeout = self.int_arg(line, c, 3)?;
        let Some(list) = self.epolls.get(&epfd).cloned() else {
            return Ok(Some(Err(if self.fds.contains_key(&epfd) {
                "EINVAL"
            } else {
                "EBADF"
            })));
        };
        if maxevents <= 0 {
            return Ok(Some(Err("EINVAL")));
        }
        // A closed fd leaves its epoll set (its last reference is gone).
        let ready: Vec<(usize, i64, u64)> = list
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                !i.disabled && self.fds.contains_key(&i.fd) && (i.events & EPOLLET == 0 || i.ready)
            })
            .map(|(n, i)| {
                let mask = self.poll_mask(i.fd) & (i.events | POLLERR | POLLHUP) & 0xffff;
                (n, mask, i.data)
            })
            .filter(|&(_, mask, _)| mask != 0)
            .take(maxevents as usize)
            .collect();
        if self.keep_waiting(ready.is_empty(), timeout, resumed) {
            return Ok(None);
        }
        // ep_send_events: an edge-triggered fd found not ready leaves the
        // ready list too.
        let idle: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.events & EPOLLET != 0
                    && self.poll_mask(i.fd) & (i.events | POLLERR | POLLHUP) & 0xffff == 0
            })
            .map(|(n, _)| n)
            .collect();
        if let Some(list) = self.epolls.get_mut(&epfd) {
            for n in idle {
                list[n].ready = false;
            }
            for &(n, _, _) in &ready {
                if list[n].events & EPOLLONESHOT != 0 {
                    list[n].disabled = true;
                }
                list[n].ready = false;
            }
        }
        // As packetdrill: the event is compared once the count matched.
        let count = ready.len() as i64;
        if !self.result_matches(c, Ok(count)) {
            return Ok(Some(Ok(count)));
        }
        let (got_events, got_data) = ready.first().map_or((0, 0), |&(_, m, d)| (m, d));
        if got_events != want_events {
            return Err(self.fail(
                line,
                format!(
                    "epoll_wait: epoll_event->events does not match script: expected: {} actual: {}",
                    super::blocking::poll_text(want_events),
                    super::blocking::poll_text(got_events)
                ),
            ));
        }
        if got_data != want_data {
            return Err(self.fail(
                line,
                format!(
                    "epoll_wait: epoll_event->data does not match script: expected: {want_data} actual: {got_data}"
                ),
            ));
        }
        Ok(Some(Ok(count)))
    }
}

impl Runner<'_> {
    /// A wakeup on `fd` with poll key `key` (0: every event): each epoll
    /// interest in it whose events meet the key goes on the ready list
    /// (ep_poll_callback; a disabled EPOLLONESHOT interest ignores it).
    pub(super) fn epoll_wakeup(&mut self, fd: i32, key: i64) {
        for list in self.epolls.values_mut() {
            for i in list.iter_mut().filter(|i| i.fd == fd && !i.disabled) {
                if key == 0 || key & (i.events | POLLERR | POLLHUP) != 0 {
                    i.ready = true;
                }
            }
        }
    }

    /// The wakeup a stack event makes on its socket's fd: sk_data_ready
    /// (EPOLLIN), sk_write_space (EPOLLOUT), sk_state_change and
    /// sk_error_report (every event).
    pub(super) fn epoll_wakeup_for(&mut self, e: &stack::Event) {
        use stack::Event as E;
        let (id, key) = match *e {
            E::Readable(id) | E::Incoming(id) => (id, EPOLLIN | 0x40),
            E::Writable(id) => (id, EPOLLOUT | 0x100),
            E::PeerClosed(id)
            | E::Connected(id)
            | E::Error(id, _)
            | E::Closed(id)
            | E::StateChanged { id, .. } => (id, 0),
        };
        if self.epolls.is_empty() {
            return;
        }
        if let Some(&fd) = self.by_socket.get(&id) {
            self.epoll_wakeup(fd, key);
        }
    }
}
