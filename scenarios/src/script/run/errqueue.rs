//! The socket error queue as Linux keeps it (`recvmsg(..., MSG_ERRQUEUE)`)
//! and the two things scripts put in it: zero-copy completions
//! (SO_ZEROCOPY / MSG_ZEROCOPY, Documentation/networking/msg_zerocopy.rst)
//! and transmit timestamps (SO_TIMESTAMPING, Documentation/networking/
//! timestamping.rst), both in virtual time.
//!
//! Both are driven by the stack's send buffer: after every input, timer
//! and call the runner asks [`stack::Endpoint::send_progress`] how far the
//! stream has been sent and acknowledged, and what crossed a watermark
//! since the last look goes into the queue, in Linux's order (an ACK's
//! timestamps, then the completions of the buffers it freed, then the
//! timestamps of what it let out).
//!
//! Zero-copy: each `send` with MSG_ZEROCOPY on an SO_ZEROCOPY socket that
//! queues data takes the next number of the socket's counter (sk_zckey;
//! a call that fails or queues nothing takes none, as
//! msg_zerocopy_put_abort gives it back); when the peer has acknowledged
//! every byte of that call, the completion `[id, id]` is queued, merged
//! into the queue's last entry when that is a completion ending at id - 1
//! (skb_zerocopy_notify_extend). tcpsim's "device" copies, as the tun
//! device packetdrill runs on does, so every completion carries
//! SO_EE_CODE_ZEROCOPY_COPIED.
//!
//! Timestamps: a write that queued data marks its last byte
//! (tcp_tx_timestamp); SCM_TSTAMP_SCHED and SCM_TSTAMP_SND are queued when
//! the segment carrying that byte first leaves, SCM_TSTAMP_ACK when the
//! peer acknowledges it. With SOF_TIMESTAMPING_OPT_ID the entry's ee_data
//! is the byte's number counted from SND.UNA when the option was set
//! (WRITE_SEQ with OPT_ID_TCP).

use super::Runner;
use super::msg::{Cmsg, MSG_ERRQUEUE, MSG_TRUNC};
use super::sockets::{CallResult, FdKind};
use crate::script::ScriptError;
use stack::Instant;
use std::collections::VecDeque;

/// `SO_TIMESTAMPING` (SO_TIMESTAMPING_OLD), also its cmsg type.
pub(super) const SO_TIMESTAMPING: i64 = 37;
/// `SO_ZEROCOPY`.
pub(super) const SO_ZEROCOPY: i64 = 60;
/// `IP_RECVERR`, the cmsg type of a `sock_extended_err` at level SOL_IP.
pub(super) const IP_RECVERR: i64 = 11;
/// `SOL_SOCKET` and `SOL_IP`.
pub(super) const SOL_SOCKET: i64 = 1;
pub(super) const SOL_IP: i64 = 0;

pub(super) const SO_EE_ORIGIN_LOCAL: i64 = 1;
pub(super) const SO_EE_ORIGIN_ICMP: i64 = 2;
pub(super) const SO_EE_ORIGIN_TIMESTAMPING: i64 = 4;
pub(super) const SO_EE_ORIGIN_ZEROCOPY: i64 = 5;
pub(super) const SO_EE_CODE_ZEROCOPY_COPIED: i64 = 1;
pub(super) const SCM_TSTAMP_SND: i64 = 0;
pub(super) const SCM_TSTAMP_SCHED: i64 = 1;
pub(super) const SCM_TSTAMP_ACK: i64 = 2;

pub(super) const SOF_TIMESTAMPING_TX_HARDWARE: i64 = 1 << 0;
pub(super) const SOF_TIMESTAMPING_TX_SOFTWARE: i64 = 1 << 1;
pub(super) const SOF_TIMESTAMPING_SOFTWARE: i64 = 1 << 4;
pub(super) const SOF_TIMESTAMPING_OPT_ID: i64 = 1 << 7;
pub(super) const SOF_TIMESTAMPING_TX_SCHED: i64 = 1 << 8;
pub(super) const SOF_TIMESTAMPING_TX_ACK: i64 = 1 << 9;
pub(super) const SOF_TIMESTAMPING_OPT_TSONLY: i64 = 1 << 11;
pub(super) const SOF_TIMESTAMPING_OPT_STATS: i64 = 1 << 12;
pub(super) const SOF_TIMESTAMPING_OPT_ID_TCP: i64 = 1 << 16;
/// Every flag Linux 6.x knows (SOF_TIMESTAMPING_MASK, up to OPT_RX_FILTER).
const SOF_TIMESTAMPING_MASK: i64 = (1 << 18) - 1;

/// The names scripts use for these constants.
pub(super) fn constant(name: &str) -> Option<i64> {
    Some(match name {
        "SO_TIMESTAMPING" | "SCM_TIMESTAMPING" => SO_TIMESTAMPING,
        "SO_ZEROCOPY" => SO_ZEROCOPY,
        "IP_RECVERR" => IP_RECVERR,
        "SO_EE_ORIGIN_NONE" => 0,
        "SO_EE_ORIGIN_LOCAL" => SO_EE_ORIGIN_LOCAL,
        "SO_EE_ORIGIN_ICMP" => SO_EE_ORIGIN_ICMP,
        "SO_EE_ORIGIN_ICMP6" => 3,
        "SO_EE_ORIGIN_TIMESTAMPING" | "SO_EE_ORIGIN_TXSTATUS" => SO_EE_ORIGIN_TIMESTAMPING,
        "SO_EE_ORIGIN_ZEROCOPY" => SO_EE_ORIGIN_ZEROCOPY,
        "SO_EE_CODE_ZEROCOPY_COPIED" => SO_EE_CODE_ZEROCOPY_COPIED,
        "SCM_TSTAMP_SND" => SCM_TSTAMP_SND,
        "SCM_TSTAMP_SCHED" => SCM_TSTAMP_SCHED,
        "SCM_TSTAMP_ACK" => SCM_TSTAMP_ACK,
        "SOF_TIMESTAMPING_TX_HARDWARE" => SOF_TIMESTAMPING_TX_HARDWARE,
        "SOF_TIMESTAMPING_TX_SOFTWARE" => SOF_TIMESTAMPING_TX_SOFTWARE,
        "SOF_TIMESTAMPING_RX_HARDWARE" => 1 << 2,
        "SOF_TIMESTAMPING_RX_SOFTWARE" => 1 << 3,
        "SOF_TIMESTAMPING_SOFTWARE" => SOF_TIMESTAMPING_SOFTWARE,
        "SOF_TIMESTAMPING_SYS_HARDWARE" => 1 << 5,
        "SOF_TIMESTAMPING_RAW_HARDWARE" => 1 << 6,
        "SOF_TIMESTAMPING_OPT_ID" => SOF_TIMESTAMPING_OPT_ID,
        "SOF_TIMESTAMPING_TX_SCHED" => SOF_TIMESTAMPING_TX_SCHED,
        "SOF_TIMESTAMPING_TX_ACK" => SOF_TIMESTAMPING_TX_ACK,
        "SOF_TIMESTAMPING_OPT_CMSG" => 1 << 10,
        "SOF_TIMESTAMPING_OPT_TSONLY" => SOF_TIMESTAMPING_OPT_TSONLY,
        "SOF_TIMESTAMPING_OPT_STATS" => SOF_TIMESTAMPING_OPT_STATS,
        "SOF_TIMESTAMPING_OPT_PKTINFO" => 1 << 13,
        "SOF_TIMESTAMPING_OPT_TX_SWHW" => 1 << 14,
        "SOF_TIMESTAMPING_OPT_ID_TCP" => SOF_TIMESTAMPING_OPT_ID_TCP,
        other => return errno_number(other),
    })
}

/// Linux's errno numbers (include/uapi/asm-generic/errno*.h) for the
/// names an extended error's ee_errno is written with.
pub(super) fn errno_number(name: &str) -> Option<i64> {
    Some(match name {
        "EPERM" => 1,
        "ENOENT" => 2,
        "EINTR" => 4,
        "EIO" => 5,
        "EBADF" => 9,
        "EAGAIN" | "EWOULDBLOCK" => 11,
        "ENOMEM" => 12,
        "EFAULT" => 14,
        "EINVAL" => 22,
        "EPIPE" => 32,
        "ENOMSG" => 42,
        "ENONET" => 64,
        "EPROTO" => 71,
        "EMSGSIZE" => 90,
        "ENOPROTOOPT" => 92,
        "EOPNOTSUPP" => 95,
        "EADDRINUSE" => 98,
        "ENETDOWN" => 100,
        "ENETUNREACH" => 101,
        "ECONNABORTED" => 103,
        "ECONNRESET" => 104,
        "EISCONN" => 106,
        "ENOTCONN" => 107,
        "ETIMEDOUT" => 110,
        "ECONNREFUSED" => 111,
        "EHOSTDOWN" => 112,
        "EHOSTUNREACH" => 113,
        "EALREADY" => 114,
        "EINPROGRESS" => 115,
        _ => return None,
    })
}

/// One `struct sock_extended_err`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ExtendedErr {
    pub(super) errno: i64,
    pub(super) origin: i64,
    pub(super) kind: i64,
    pub(super) code: i64,
    pub(super) info: i64,
    pub(super) data: i64,
}

/// One entry of the error queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    ee: ExtendedErr,
    /// The software timestamp an SCM_TIMESTAMPING cmsg reports.
    stamp: Option<Instant>,
    /// The entry carries the packet's bytes (a timestamp without
    /// OPT_TSONLY): a zero-length read of it is truncated.
    payload: bool,
}

/// A write's last byte, waiting for its timestamps.
#[derive(Clone, Copy, Debug)]
struct Mark {
    /// Stream offset just past the byte.
    end: u64,
    /// ee_data: the byte's key.
    key: u32,
    /// SCHED and SND are still to come.
    want_sent: bool,
    /// ACK is still to come.
    want_ack: bool,
    /// The socket's flags when the write was made (SOF_TIMESTAMPING_*).
    flags: i64,
}

/// One socket's error queue and what feeds it.
#[derive(Clone, Debug, Default)]
pub(super) struct ErrQueue {
    /// SO_ZEROCOPY.
    pub(super) zerocopy: bool,
    /// SO_TIMESTAMPING's flags.
    pub(super) tsflags: i64,
    /// sk_tskey: the stream offset OPT_ID counts from.
    tskey: u64,
    /// sk_zckey: the next zero-copy send's number.
    zckey: u32,
    /// Zero-copy sends not yet completed: (number, stream end).
    zc_pending: VecDeque<(u32, u64)>,
    marks: VecDeque<Mark>,
    entries: VecDeque<Entry>,
}

impl ErrQueue {
    /// A socket accept() returns: the options a listener had (sk_flags and
    /// sk_tsflags are copied by sk_clone_lock), nothing queued.
    pub(super) fn inherit(parent: &ErrQueue) -> ErrQueue {
        ErrQueue {
            zerocopy: parent.zerocopy,
            tsflags: parent.tsflags,
            ..ErrQueue::default()
        }
    }

    /// Something is queued (tcp_poll reports EPOLLERR).
    pub(super) fn is_readable(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Sends or writes still waiting for a completion or a timestamp.
    fn waiting(&self) -> bool {
        !self.zc_pending.is_empty() || !self.marks.is_empty()
    }

    fn complete_zerocopy(&mut self, id: u32) {
        // skb_zerocopy_notify_extend: a completion right after the last
        // one queued widens it.
        if let Some(tail) = self.entries.back_mut()
            && tail.ee.origin == SO_EE_ORIGIN_ZEROCOPY
            && (tail.ee.data as u32).wrapping_add(1) == id
            && (tail.ee.data - tail.ee.info) < i64::from(u32::MAX) - 1
        {
            tail.ee.data = i64::from(id);
            return;
        }
        self.entries.push_back(Entry {
            ee: ExtendedErr {
                errno: 0,
                origin: SO_EE_ORIGIN_ZEROCOPY,
                kind: 0,
                code: SO_EE_CODE_ZEROCOPY_COPIED,
                info: i64::from(id),
                data: i64::from(id),
            },
            stamp: None,
            payload: false,
        });
    }

    fn timestamp(&mut self, mark: &Mark, kind: i64, now: Instant) {
        self.entries.push_back(Entry {
            ee: ExtendedErr {
                errno: errno_number("ENOMSG").unwrap_or(42),
                origin: SO_EE_ORIGIN_TIMESTAMPING,
                kind: 0,
                code: 0,
                info: kind,
                data: if mark.flags & SOF_TIMESTAMPING_OPT_ID != 0 {
                    i64::from(mark.key)
                } else {
                    0
                },
            },
            stamp: (mark.flags & SOF_TIMESTAMPING_SOFTWARE != 0).then_some(now),
            payload: mark.flags & SOF_TIMESTAMPING_OPT_TSONLY == 0,
        });
    }

    /// What crossed the watermarks since the last look: `progress` is
    /// `None` once the connection is gone (its buffers were freed).
    /// Returns whether anything was queued or merged into the last entry
    /// (either way Linux calls sk_error_report, a wakeup).
    fn update(&mut self, progress: Option<stack::SendProgress>, now: Instant) -> bool {
        let before = self.entries.len();
        let mut merged = false;
        let (sent, acked) = match progress {
            Some(p) => (p.sent, p.acked),
            None => (u64::MAX, u64::MAX),
        };
        let gone = progress.is_none();
        // The ACK's timestamps first (tcp_ack_tstamp in tcp_clean_rtx_queue)...
        let marks: Vec<Mark> = self.marks.iter().copied().collect();
        for m in &marks {
            if m.want_ack && !gone && acked >= m.end && !m.want_sent {
                self.timestamp(m, SCM_TSTAMP_ACK, now);
            }
        }
        // ...then the completions of the buffers it freed...
        while let Some(&(id, end)) = self.zc_pending.front() {
            if end > acked {
                break;
            }
            self.zc_pending.pop_front();
            self.complete_zerocopy(id);
            merged = true;
        }
        // ...then the timestamps of what went out.
        for m in &marks {
            if m.want_sent && !gone && sent >= m.end {
                if m.flags & SOF_TIMESTAMPING_TX_SCHED != 0 {
                    self.timestamp(m, SCM_TSTAMP_SCHED, now);
                }
                if m.flags & SOF_TIMESTAMPING_TX_SOFTWARE != 0 {
                    self.timestamp(m, SCM_TSTAMP_SND, now);
                }
            }
        }
        for m in self.marks.iter_mut() {
            if m.want_ack && acked >= m.end && !m.want_sent {
                m.want_ack = false;
            }
            if m.want_sent && sent >= m.end {
                m.want_sent = false;
            }
        }
        if gone {
            self.marks.clear();
        }
        self.marks.retain(|m| m.want_sent || m.want_ack);
        merged || self.entries.len() != before
    }
}

/// The TX timestamps a write asks for.
const TX_RECORD: i64 =
    SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK;

impl Runner<'_> {
    /// A write on `fd` queued `queued` bytes (ending at stream offset
    /// `end`) with MSG_* `flags`: number a zero-copy send and mark the
    /// last byte for timestamps (tcp_sendmsg_locked's msg_zerocopy_realloc
    /// and tcp_tx_timestamp).
    pub(super) fn errq_note_write(&mut self, fd: i32, flags: i64, queued: usize) {
        if queued == 0 {
            return;
        }
        let Some(f) = self.fds.get(&fd) else { return };
        let FdKind::Conn(id) = f.kind else { return };
        let Some(end) = self.ep.send_progress(id).map(|p| p.written) else {
            return;
        };
        let Some(f) = self.fds.get_mut(&fd) else {
            return;
        };
        let q = &mut f.errq;
        if flags & super::msg::MSG_ZEROCOPY != 0 && q.zerocopy {
            q.zc_pending.push_back((q.zckey, end));
            q.zckey = q.zckey.wrapping_add(1);
        }
        if q.tsflags & TX_RECORD != 0 {
            let key = (end - 1).wrapping_sub(q.tskey) as u32;
            q.marks.push_back(Mark {
                end,
                key,
                want_sent: q.tsflags & (SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE)
                    != 0,
                want_ack: q.tsflags & SOF_TIMESTAMPING_TX_ACK != 0,
                flags: q.tsflags,
            });
        }
    }

    /// Every socket's queue after the stack moved: completions and
    /// timestamps that are due now; an entry queued wakes epoll with
    /// EPOLLERR (sk_error_report).
    pub(super) fn errq_update(&mut self) {
        let now = self.now;
        let mut woken = Vec::new();
        for (&fd, f) in self.fds.iter_mut() {
            if !f.errq.waiting() {
                continue;
            }
            let FdKind::Conn(id) = f.kind else { continue };
            let progress = if f.gone {
                None
            } else {
                self.ep.send_progress(id)
            };
            if f.errq.update(progress, now) {
                woken.push(fd);
            }
        }
        for fd in woken {
            self.epoll_wakeup(fd, super::blocking::POLLERR);
        }
    }

    /// setsockopt SO_ZEROCOPY (sk_setsockopt: 0 or 1, else EINVAL).
    pub(super) fn set_zerocopy(&mut self, fd: i32, value: Option<i64>) -> CallResult {
        let Some(v) = value.filter(|v| (0..=1).contains(v)) else {
            return Err("EINVAL");
        };
        let Some(f) = self.fds.get_mut(&fd) else {
            return Err("EBADF");
        };
        f.errq.zerocopy = v == 1;
        Ok(0)
    }

    /// setsockopt SO_TIMESTAMPING (sock_set_timestamping): unknown flags
    /// are EINVAL; OPT_ID on a TCP socket that is closed or listening is
    /// EINVAL, else it starts counting at SND.UNA (WRITE_SEQ with
    /// OPT_ID_TCP).
    pub(super) fn set_timestamping(
        &mut self,
        line: usize,
        fd: i32,
        value: Option<i64>,
    ) -> Result<CallResult, ScriptError> {
        let Some(v) = value.filter(|v| *v >= 0 && v & !SOF_TIMESTAMPING_MASK == 0) else {
            return Ok(Err("EINVAL"));
        };
        if v & (SOF_TIMESTAMPING_OPT_STATS | SOF_TIMESTAMPING_TX_HARDWARE) != 0 {
            return Err(self.fail(
                line,
                "setsockopt: not supported: SOF_TIMESTAMPING_OPT_STATS and SOF_TIMESTAMPING_TX_HARDWARE (tcpsim has no network device clock and no SCM_TIMESTAMPING_OPT_STATS)",
            ));
        }
        let Some(f) = self.fds.get(&fd) else {
            return Ok(Err("EBADF"));
        };
        let live = match f.kind {
            FdKind::Conn(id) if !f.gone => self.ep.send_progress(id),
            _ => None,
        };
        let had_id = f.errq.tsflags & SOF_TIMESTAMPING_OPT_ID != 0;
        let mut base = None;
        if v & SOF_TIMESTAMPING_OPT_ID != 0 && !had_id {
            let Some(p) = live else {
                return Ok(Err("EINVAL"));
            };
            base = Some(if v & SOF_TIMESTAMPING_OPT_ID_TCP != 0 {
                p.written
            } else {
                p.acked
            });
        }
        let f = self.fds.get_mut(&fd).expect("looked up above");
        if let Some(b) = base {
            f.errq.tskey = b;
        }
        f.errq.tsflags = v;
        Ok(Ok(0))
    }

    /// recvmsg(fd, ..., MSG_ERRQUEUE) (ip_recv_error): the oldest entry,
    /// or EAGAIN when there is none (it never blocks); `len` is the bytes
    /// the iovecs offer. Gives the result, msg_flags and the control
    /// messages.
    pub(super) fn recv_errqueue(
        &mut self,
        line: usize,
        fd: i32,
        len: usize,
    ) -> Result<(CallResult, i64, Vec<Cmsg>), ScriptError> {
        let Some(f) = self.fds.get_mut(&fd) else {
            return Ok((Err("EBADF"), 0, Vec::new()));
        };
        let Some(entry) = f.errq.entries.front().copied() else {
            return Ok((Err("EAGAIN"), 0, Vec::new()));
        };
        if entry.payload && len > 0 {
            return Err(self.fail(
                line,
                "recvmsg: not supported: reading the packet bytes an error-queue entry carries (give a zero-length iovec, or use SOF_TIMESTAMPING_OPT_TSONLY)",
            ));
        }
        let f = self.fds.get_mut(&fd).expect("looked up above");
        f.errq.entries.pop_front();
        let mut control = Vec::new();
        if let Some(t) = entry.stamp {
            let us = t.0 / 1_000;
            control.push(Cmsg::Timestamping {
                sec: (us / 1_000_000) as i64,
                nsec: ((us % 1_000_000) * 1_000) as i64,
            });
        }
        control.push(Cmsg::RecvErr(entry.ee));
        let flags = MSG_ERRQUEUE | if entry.payload { MSG_TRUNC } else { 0 };
        Ok((Ok(0), flags, control))
    }
}
