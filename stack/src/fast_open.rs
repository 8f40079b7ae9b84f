//! The TCP Fast Open client (RFC 7413 §4.1), as Linux does it: the cookie
//! cache keyed by the server's address (tcp_metrics.c's
//! `tcp_fastopen_cache_get` / `tcp_fastopen_cache_set`), what the first
//! SYN carries (tcp_output.c `tcp_send_syn_data`), and what the SYN-ACK
//! teaches (tcp_input.c `tcp_rcv_fastopen_synack`). The server side lives
//! in the endpoint (`on_listen_segment`, `fast_open_decision`).

use crate::conn::Connection;
use crate::wire::{FastOpenCookie, TcpRepr};
use std::net::Ipv4Addr;

/// Linux's MAX_TCP_OPTION_SPACE: `tcp_send_syn_data` keeps this much of
/// the MSS free for options middleboxes may add, so SYN data is at most
/// MSS - 40 bytes.
const SYN_DATA_OPTION_RESERVE: u16 = 40;
/// Linux's tcp_min_snd_mss default: the MSS `__tcp_mtu_to_mss` never goes below.
const MIN_SND_MSS: u16 = 48;

/// What this host remembers about one server for Fast Open (Linux's
/// `tcp_fastopen_metrics` in the TCP metrics cache).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastOpenCacheEntry {
    /// The MSS the server's last Fast Open SYN-ACK announced (0: none yet).
    pub mss: u16,
    /// The server's cookie (RFC 7413 §4.1.2), once one was received.
    pub cookie: Option<FastOpenCookie>,
    /// Linux's `try_exp`: 1 after a cookie request in the kind-34 form got
    /// no cookie (the next request uses the experimental form), 2 after
    /// the experimental form failed too (back to kind 34 for good).
    pub try_exp: u8,
    /// SYNs with a cookie or data that timed out, or whose data the
    /// SYN-ACK did not acknowledge after a timeout (Linux's `syn_loss`);
    /// reset by a Fast Open handshake that went through.
    pub syn_loss: u32,
}

/// One `tcp_fastopen_cache_set` call a connection asks its endpoint for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CacheUpdate {
    /// The server's MSS (0: leave it).
    pub mss: u16,
    /// A cookie to remember.
    pub cookie: Option<FastOpenCookie>,
    /// The SYN (or its data) was lost.
    pub syn_lost: bool,
    /// See [`FastOpenCacheEntry::try_exp`] (0: no change).
    pub try_exp: u8,
}

impl FastOpenCacheEntry {
    /// Linux's `tcp_fastopen_cache_set`.
    pub(crate) fn apply(&mut self, u: CacheUpdate) {
        if u.mss != 0 {
            self.mss = u.mss;
        }
        let have = self.cookie.is_some_and(|c| c.len > 0);
        match u.cookie {
            Some(c) if c.len > 0 => self.cookie = Some(c),
            _ if u.try_exp > self.try_exp && !have => self.try_exp = u.try_exp,
            _ => {}
        }
        if u.syn_lost {
            self.syn_loss = self.syn_loss.saturating_add(1);
        } else {
            self.syn_loss = 0;
        }
    }
}

/// What the first SYN of a Fast Open connect carries (Linux's
/// `tcp_fastopen_cookie_check` and `tcp_send_syn_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SynPlan {
    /// The Fast Open option: a cookie, a cookie request, or none
    /// (TFO_CLIENT_NO_COOKIE).
    pub option: Option<FastOpenCookie>,
    /// How many bytes of data the SYN may carry (0: none).
    pub data_room: usize,
}

/// Whether data may go in the SYN to a server with `entry`: a cookie is
/// cached, or no cookie is needed (Linux's `tcp_fastopen_cookie_check`).
pub(crate) fn cookie_ready(entry: Option<&FastOpenCacheEntry>, no_cookie: bool) -> bool {
    no_cookie || entry.is_some_and(|e| e.cookie.is_some_and(|c| c.len > 0))
}

/// Plans the first SYN for a server with cache `entry`, an MSS of `mss`
/// (the route's, clamped by TCP_MAXSEG) and `no_cookie` (TFO_CLIENT_NO_COOKIE).
pub(crate) fn plan_syn(entry: Option<&FastOpenCacheEntry>, mss: u16, no_cookie: bool) -> SynPlan {
    let cached = entry.and_then(|e| e.cookie).filter(|c| c.len > 0);
    let option = if no_cookie {
        None
    } else {
        match cached {
            Some(c) => Some(c),
            // A request, in the experimental form after the kind-34 form
            // drew no cookie (try_exp 1).
            None => Some(FastOpenCookie::request(
                entry.is_some_and(|e| e.try_exp == 1),
            )),
        }
    };
    if !cookie_ready(entry, no_cookie) {
        return SynPlan {
            option,
            data_room: 0,
        };
    }
    // tcp_send_syn_data: the MSS is the cached server MSS (else ours),
    // bounded by the route and TCP_MAXSEG, never below 48; 40 bytes of it
    // are kept for options.
    let server = entry.map_or(0, |e| e.mss);
    let mss = if server == 0 { mss } else { server.min(mss) };
    SynPlan {
        option,
        data_room: usize::from(mss.max(MIN_SND_MSS) - SYN_DATA_OPTION_RESERVE),
    }
}

impl Connection {
    /// Linux's `tcp_rcv_fastopen_synack`, after the SYN-ACK's ACK was
    /// processed: tell the endpoint what to cache (the server's MSS, a
    /// cookie if our SYN carried the option, a lost SYN, the option form
    /// to try next), and resend at once whatever SYN data the SYN-ACK did
    /// not acknowledge (RFC 7413 §4.1.3: the server may take none or part
    /// of it). Only for a connection whose SYN carried the Fast Open
    /// option or data.
    pub(crate) fn fast_open_synack(&mut self, seg: &TcpRepr<'_>) {
        if !self.syn_fastopen && self.syn_data_len == 0 {
            return;
        }
        // An unsolicited cookie (no option in our SYN) is ignored.
        let cookie = seg
            .options
            .fast_open
            .filter(|c| self.syn_fastopen && c.len > 0);
        let data_end = self.iss + 1 + self.syn_data_len;
        let unacked = self.syn_data_len > 0 && self.snd_una.diff(data_end) < 0;
        let retransmitted = self.counters.retransmitted_segments > 0;
        let mut try_exp = 0;
        let mut syn_lost = false;
        if retransmitted {
            // The SYN timed out and the SYN-ACK neither has a cookie nor
            // acknowledges the data: the server saw only a later SYN.
            syn_lost = cookie.is_none() && unacked;
        } else if cookie.is_none() && self.syn_data_len == 0 {
            try_exp = if self.syn_fastopen_exp { 2 } else { 1 };
        }
        self.fast_open_update = Some(CacheUpdate {
            mss: seg.options.mss.unwrap_or(self.config.mss),
            cookie,
            syn_lost,
            try_exp,
        });
        if unacked {
            // Resend the rest from SND.UNA now, as a loss that is no sign
            // of congestion (tcp_non_congestion_loss_retransmit).
            self.snd_nxt = self.snd_una;
        } else {
            self.syn_data_acked = self.syn_data_len > 0;
        }
    }

    /// A SYN of this connection timed out (Linux's tcp_write_timeout
    /// marks the cache for a SYN that carried the option or data).
    pub(crate) fn fast_open_syn_timeout(&mut self) {
        if self.syn_fastopen || self.syn_data_len > 0 {
            self.fast_open_update = Some(CacheUpdate {
                mss: 0,
                cookie: None,
                syn_lost: true,
                try_exp: 0,
            });
        }
    }
}

/// The per-endpoint cache, keyed by the server's address (never iterated).
pub(crate) type Cache = hashbrown::HashMap<Ipv4Addr, FastOpenCacheEntry, CacheHasher>;
/// A fixed hasher: the cache's contents never depend on hash order.
pub(crate) type CacheHasher =
    std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_syn_carries_mss_minus_40_bytes_from_the_cached_server_mss() {
        // Linux's tcp_send_syn_data: with no server MSS cached the route's
        // 1460 leaves 1420 bytes; a cached 940 leaves 900; TCP_MAXSEG 1040
        // caps a cached 1460 to 1000. Without a cookie there is no room.
        let cookie = FastOpenCookie::new(&[1, 2, 3, 4], false);
        let mut e = FastOpenCacheEntry {
            cookie: Some(cookie),
            ..FastOpenCacheEntry::default()
        };
        assert_eq!(plan_syn(Some(&e), 1460, false).data_room, 1420);
        e.mss = 940;
        assert_eq!(plan_syn(Some(&e), 1460, false).data_room, 900);
        e.mss = 1460;
        assert_eq!(plan_syn(Some(&e), 1040, false).data_room, 1000);
        let none = plan_syn(None, 1460, false);
        assert_eq!(
            (none.option, none.data_room),
            (Some(FastOpenCookie::request(false)), 0)
        );
        // TFO_CLIENT_NO_COOKIE: data, and no option at all.
        let bare = plan_syn(None, 1460, true);
        assert_eq!((bare.option, bare.data_room), (None, 1420));
    }

    #[test]
    fn a_failed_request_switches_the_option_form_once() {
        // Linux's try_exp: kind 34 drew no cookie, so the next request is
        // the experimental form; that failing too goes back to kind 34 for
        // good (try_exp 2 is never lowered to 1).
        let mut e = FastOpenCacheEntry::default();
        let fail = |exp: bool| CacheUpdate {
            mss: 1460,
            cookie: None,
            syn_lost: false,
            try_exp: if exp { 2 } else { 1 },
        };
        e.apply(fail(false));
        assert!(plan_syn(Some(&e), 1460, false).option.unwrap().experimental);
        e.apply(fail(true));
        assert!(!plan_syn(Some(&e), 1460, false).option.unwrap().experimental);
        e.apply(fail(false));
        assert_eq!(e.try_exp, 2);
    }
}
