//! One host's TCP: the socket API, demultiplexing by 4-tuple, listeners,
//! the RST for segments that match nothing (RFC 9293 §3.10.7.1), ISNs
//! (RFC 6528), and the driver loop (`handle_*`, `poll_*`).
//!
//! Driver order, per wake-up: `handle_packet` for each arriving datagram
//! and/or `handle_timeout(now)`; then `poll_transmit` until it returns
//! false; then `poll_timeout` for the next deadline; `poll_event` any time.
//! Work per call is O(1) amortised (hash lookups, a ready queue, a timer
//! heap); nothing scans all connections.
//!
//! Memory under a SYN flood (RFC 4987): each listener keeps at most
//! `backlog` half-open connections. One costs a boxed TCB (1552 bytes on
//! x86-64 today, with the RACK, PRR, Fast Open, ECN, ICMP and send-record
//! state; `conn::size_tests` bounds it at 1.625 KB), a 16-byte
//! congestion-controller box and three table entries (about 100 bytes);
//! its send, receive and reassembly buffers allocate nothing until data
//! arrives. Beyond the SYN queue, SYN cookies (on by default) answer with
//! no state at all, so a flood costs no memory per SYN.

use crate::config::{EndpointConfig, TcpConfig};
use crate::conn::{Connection, Disposition, Env};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::types::{Counters, Event, SocketError, SocketId, State};
use crate::wire::{self, FastOpenCookie, Flags, IpPair, TcpOptions, TcpRepr, WireError};
use siphasher::sip::SipHasher24;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A fixed hasher for the demultiplexing tables (never iterated for results).
#[derive(Default)]
struct FxHasher(u64);
impl Hasher for FxHasher {
    /// The state rotated so its well-mixed high bits become the low bits:
    /// hashbrown picks the bucket from the low bits, and a multiply only
    /// carries upward, so unrotated the low bits of a 4-tuple's hash depend
    /// on little but the last word (the remote port). With 100,000
    /// connections from a few remote ports, lookups then probed ~1 us
    /// instead of ~40 ns; at 1,000,000, ~26 us (`benches/hot_path`, demux).
    /// rustc-hash 2 finishes the same way.
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}
type FixedState = BuildHasherDefault<FxHasher>;
type Map<K, V> = hashbrown::HashMap<K, V, FixedState>;

/// Local port and remote address: the key a connection is found by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct TupleKey {
    local_port: u16,
    remote: SocketAddrV4,
}

#[derive(Debug)]
struct Listener {
    port: u16,
    backlog: usize,
    accept_queue: VecDeque<SocketId>,
    /// Half-open connections (SYN-RECEIVED) belonging to this listener.
    syn_queue_len: usize,
    /// TCP_FASTOPEN_KEY: the listener's own cookie key (else the endpoint's).
    fast_open_key: Option<[u8; 16]>,
    /// TCP_FASTOPEN's queue length: Fast Open is on for this listener when
    /// it is above 0 (or every listener has it, see
    /// [`crate::FastOpenConfig::without_sockopt`]).
    fast_open_qlen: usize,
}

#[derive(Debug)]
enum Socket {
    Listener(Listener),
    Connection(Box<Connection>),
}

/// What a SYN at a listener gets from Fast Open (RFC 7413 §4.2).
enum FastOpenDecision {
    /// No Fast Open: an ordinary handshake; SYN data is not taken.
    None,
    /// An ordinary handshake whose SYN-ACK carries this cookie.
    Reply(FastOpenCookie),
    /// A Fast Open child: the SYN's data is taken and acknowledged.
    Child,
}

/// Linux's IPv4 Fast Open cookie (see [`Endpoint::fast_open_cookie`]).
fn fast_open_cookie(key: &[u8; 16], client: Ipv4Addr, server: Ipv4Addr) -> [u8; 8] {
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&key[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let mut h = SipHasher24::new_with_keys(word(0), word(8));
    h.write(&client.octets());
    h.write(&server.octets());
    h.finish().to_le_bytes()
}

/// A segment sent without a connection: a RST for a segment that matched
/// nothing, or a SYN-cookie SYN-ACK.
#[derive(Clone, Copy, Debug)]
struct Reset {
    pair: IpPair,
    src_port: u16,
    dst_port: u16,
    seq: SeqNum,
    ack: Option<SeqNum>,
    /// SYN-ACK fields for a cookie reply; `None` for a RST.
    syn_ack: Option<(u16, TcpOptions)>,
}

/// Endpoint-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointCounters {
    /// IPv4 datagrams handed to [`Endpoint::handle_packet`].
    pub datagrams_received: u64,
    /// Datagrams that failed to parse or verify (bad checksum, truncated, not TCP...).
    pub malformed_dropped: u64,
    /// Datagrams addressed to another IPv4 address than the endpoint's.
    pub wrong_address_dropped: u64,
    /// RST segments sent, by connections and by the endpoint itself (replies to
    /// segments for no connection, RFC 9293 §3.10.7.1).
    pub resets_sent: u64,
    /// SYNs dropped because a listener's accept queue was full, or its SYN queue
    /// was full with SYN cookies off.
    pub syns_dropped_queue_full: u64,
    /// SYNs answered with a SYN cookie (no state kept).
    pub syn_cookies_sent: u64,
    /// Final ACKs whose cookie checked out and became connections.
    pub syn_cookies_accepted: u64,
    /// ICMP datagrams handed to [`Endpoint::handle_packet`].
    pub icmp_received: u64,
    /// ICMP messages TCP ignores: other types, no such connection, a
    /// state or code with nothing to do.
    pub icmp_ignored: u64,
    /// ICMP errors quoting a sequence number not in flight (Linux's
    /// TcpExtOutOfWindowIcmps; RFC 5927 §4.1).
    pub icmp_out_of_window: u64,
}

/// One row of an `ss -nat`-style listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket's handle.
    pub id: SocketId,
    /// Its RFC 9293 state.
    pub state: State,
    /// Local address and port.
    pub local: SocketAddrV4,
    /// Unspecified (0.0.0.0:0) for listeners.
    pub remote: SocketAddrV4,
    /// Bytes received and not read (connections) or connections awaiting accept (listeners).
    pub recv_queue: usize,
    /// Bytes not yet acknowledged by the peer (connections) or backlog (listeners).
    pub send_queue: usize,
}

/// A host's TCP.
pub struct Endpoint {
    local: Ipv4Addr,
    config: EndpointConfig,
    sockets: Map<SocketId, Socket>,
    next_id: u32,
    connections: Map<TupleKey, SocketId>,
    /// How many connections use each local port (for bind conflicts).
    port_use: Map<u16, u32>,
    listeners: Map<u16, SocketId>,
    ready: VecDeque<SocketId>,
    /// Earliest deadline per socket as queued in `timers` (lazy heap).
    timers: BinaryHeap<Reverse<(Instant, SocketId)>>,
    timer_queued: Map<SocketId, Instant>,
    events: VecDeque<Event>,
    resets: VecDeque<Reset>,
    next_ephemeral: u16,
    payload_scratch: Vec<u8>,
    /// The IP ECN field of the datagram being handled (RFC 3168 §5).
    arrival_ecn: wire::Ecn,
    counters: EndpointCounters,
    /// The Fast Open client's cache, by server address (RFC 7413 §4.1.1).
    fast_open_cache: crate::fast_open::Cache,
}

impl Endpoint {
    /// A TCP at IPv4 address `local` with no sockets yet.
    pub fn new(local: Ipv4Addr, config: EndpointConfig) -> Endpoint {
        let next_ephemeral = config.ephemeral_ports.0;
        Endpoint {
            local,
            config,
            sockets: Map::default(),
            next_id: 1,
            connections: Map::default(),
            port_use: Map::default(),
            listeners: Map::default(),
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            timer_queued: Map::default(),
            events: VecDeque::new(),
            resets: VecDeque::new(),
            next_ephemeral,
            payload_scratch: Vec::with_capacity(65536),
            arrival_ecn: wire::Ecn::NotEct,
            counters: EndpointCounters::default(),
            fast_open_cache: crate::fast_open::Cache::default(),
        }
    }

    /// The endpoint's IPv4 address.
    pub fn local_addr(&self) -> Ipv4Addr {
        self.local
    }
    /// The settings the endpoint was built with (and any later `tcp_config_mut` changes).
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }
    /// Changes the TCP settings new connections get.
    pub fn tcp_config_mut(&mut self) -> &mut TcpConfig {
        &mut self.config.tcp
    }
    /// Turns SYN cookies on or off for SYNs that arrive from now on
    /// ([`EndpointConfig::syn_cookies`]; Linux's tcp_syncookies).
    pub fn set_syn_cookies(&mut self, on: bool) {
        self.config.syn_cookies = on;
    }
    /// Endpoint-wide counters (per-connection ones: [`Endpoint::connection_counters`]).
    pub fn counters(&self) -> EndpointCounters {
        self.counters
    }

    fn allocate_id(&mut self) -> SocketId {
        let id = SocketId(self.next_id);
        self.next_id += 1;
        id
    }

    // ----- the socket API -----

    /// Passive OPEN (§3.10.1): listen on `port` with `backlog` for both the
    /// SYN queue and the accept queue. Like a BSD bind without SO_REUSEADDR,
    /// it fails with EADDRINUSE while any connection (TIME-WAIT included)
    /// still uses the port.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<SocketId, SocketError> {
        self.listen_with(port, backlog, false)
    }

    /// Passive OPEN with address reuse (SO_REUSEADDR): succeeds while old
    /// connections on the port linger (a restarted server whose previous
    /// connections sit in TIME-WAIT); only another listener conflicts.
    pub fn listen_reuse(&mut self, port: u16, backlog: usize) -> Result<SocketId, SocketError> {
        self.listen_with(port, backlog, true)
    }

    fn listen_with(
        &mut self,
        port: u16,
        backlog: usize,
        reuse: bool,
    ) -> Result<SocketId, SocketError> {
        if self.listeners.contains_key(&port) {
            return Err(SocketError::AddressInUse);
        }
        if !reuse && self.port_use.get(&port).is_some_and(|&n| n > 0) {
            return Err(SocketError::AddressInUse);
        }
        let id = self.allocate_id();
        self.listeners.insert(port, id);
        self.sockets.insert(
            id,
            Socket::Listener(Listener {
                port,
                backlog: backlog.max(1),
                accept_queue: VecDeque::new(),
                syn_queue_len: 0,
                fast_open_qlen: 0,
                fast_open_key: None,
            }),
        );
        Ok(id)
    }

    /// Replaces the endpoint's Fast Open settings (Linux's `tcp_fastopen`
    /// and `tcp_fastopen_key` sysctls, which take effect at once).
    pub fn set_fast_open_config(&mut self, config: crate::FastOpenConfig) {
        self.config.fast_open = config;
    }

    /// Linux's `tcp_passive_fastopen`: `id` is a Fast Open child still in
    /// SYN-RECEIVED, which may already be written to and read from.
    pub fn passive_fast_open(&self, id: SocketId) -> bool {
        self.conn(id)
            .is_some_and(|c| c.fast_open_child && c.state == State::SynReceived)
    }

    /// Whether the SYN's data of `id` was accepted (Fast Open; Linux's
    /// `syn_data_acked`, reported in TCP_INFO as TCPI_OPT_SYN_DATA).
    pub fn syn_data_acked(&self, id: SocketId) -> bool {
        self.conn(id).is_some_and(|c| c.syn_data_acked)
    }

    /// TCP_FASTOPEN on a listener (RFC 7413 §4.2): up to `qlen` Fast Open
    /// children may wait in its accept queue (0 turns it off unless
    /// [`crate::FastOpenConfig::without_sockopt`]). Needs
    /// [`crate::FastOpenConfig::server`] to take effect, as Linux needs
    /// `tcp_fastopen & 2`. Not a listener: `InvalidSocket`.
    pub fn set_fast_open(&mut self, listener: SocketId, qlen: usize) -> Result<(), SocketError> {
        match self.sockets.get_mut(&listener) {
            Some(Socket::Listener(l)) => {
                l.fast_open_qlen = qlen;
                Ok(())
            }
            _ => Err(SocketError::InvalidSocket),
        }
    }

    /// TCP_FASTOPEN_KEY on a listener: its own 16-byte cookie key, in the
    /// order Linux's `tcp_fastopen_reset_cipher` takes the bytes (two
    /// little-endian 64-bit SipHash keys). Not a listener: `InvalidSocket`.
    pub fn set_fast_open_key(
        &mut self,
        listener: SocketId,
        key: [u8; 16],
    ) -> Result<(), SocketError> {
        match self.sockets.get_mut(&listener) {
            Some(Socket::Listener(l)) => {
                l.fast_open_key = Some(key);
                Ok(())
            }
            _ => Err(SocketError::InvalidSocket),
        }
    }

    /// The Fast Open cookie this endpoint gives `client` (RFC 7413 §4.1.2),
    /// computed as Linux's `__tcp_fastopen_cookie_gen_cipher` does for
    /// IPv4: SipHash-2-4 keyed by the 16-byte key, over the client's then
    /// the server's address, its 64-bit result in little-endian order. With
    /// Linux's key and addresses the cookie is Linux's own (packetdrill's
    /// suite: 3021b9d889017eeb for 192.0.2.1 to 192.168.0.1 with key
    /// a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4).
    pub fn fast_open_cookie(&self, client: Ipv4Addr) -> [u8; 8] {
        let key = self.config.fast_open.key.unwrap_or_else(|| {
            // No key set: one derived from the ISN secret, so the seed
            // decides it (Linux draws a random key at boot).
            let mut k = self.config.secret;
            k.reverse();
            k[0] ^= 0x70;
            k
        });
        fast_open_cookie(&key, client, self.local)
    }

    /// Active OPEN with TCP Fast Open (RFC 7413 §4.1), as Linux's
    /// `sendto(MSG_FASTOPEN)`: from `local_port` (an ephemeral one if
    /// `None`) to `remote`, with up to all of `data`. With a cookie cached
    /// for the server (or [`crate::FastOpenConfig::client_no_cookie`]) the
    /// SYN carries the cookie and the first MSS - 40 bytes of `data` (the
    /// server's cached MSS, else ours); without one it carries a cookie
    /// request and no data. Returns the connection and how many bytes of
    /// `data` went into the SYN (queued in the send buffer; the rest is
    /// the caller's to `send` once connected). The SYN-ACK then fills the
    /// cache (its cookie and MSS) and any data it did not acknowledge is
    /// sent again at once; a retransmitted SYN carries no option or data.
    ///
    /// # Errors
    ///
    /// `NotSupported` when [`crate::FastOpenConfig::client`] is off (Linux:
    /// EOPNOTSUPP), and the errors of [`Endpoint::connect`].
    pub fn connect_fast_open(
        &mut self,
        now: Instant,
        local_port: Option<u16>,
        remote: SocketAddrV4,
        data: &[u8],
    ) -> Result<(SocketId, usize), SocketError> {
        let tfo = self.config.fast_open;
        if !tfo.client {
            return Err(SocketError::NotSupported);
        }
        let id = match local_port {
            Some(port) => self.connect_from(now, port, remote)?,
            None => self.connect(now, remote)?,
        };
        let entry = self.fast_open_cache.get(remote.ip()).copied();
        let conn = self.conn_mut(id)?;
        let plan =
            crate::fast_open::plan_syn(entry.as_ref(), conn.config.mss, tfo.client_no_cookie);
        conn.fast_open_syn = plan.option;
        conn.syn_fastopen = plan.option.is_some();
        conn.syn_fastopen_exp = plan.option.is_some_and(|o| o.experimental);
        let n = data.len().min(plan.data_room);
        let taken = if n > 0 { conn.send(&data[..n])? } else { 0 };
        conn.syn_data_len = taken as u32;
        self.after_change(id);
        Ok((id, taken))
    }

    /// Whether a Fast Open connect to `server` would put data in its SYN
    /// now: the client side is on and a cookie is cached, or no cookie is
    /// needed (Linux's `tcp_fastopen_cookie_check`, which decides whether
    /// TCP_FASTOPEN_CONNECT defers the connect to the first write).
    pub fn fast_open_cookie_ready(&self, server: Ipv4Addr) -> bool {
        let tfo = self.config.fast_open;
        tfo.client
            && crate::fast_open::cookie_ready(
                self.fast_open_cache.get(&server),
                tfo.client_no_cookie,
            )
    }

    /// Marks that the application waits to write on `id` until its
    /// handshake completes (Linux's sk_write_pending, set by a blocking
    /// write or sendto(MSG_FASTOPEN) in SYN-SENT): the ACK of the SYN-ACK
    /// is then delayed so the data carries it. Cleared by the SYN-ACK.
    pub fn set_write_pending(&mut self, id: SocketId) {
        if let Ok(c) = self.conn_mut(id)
            && c.state == State::SynSent
        {
            c.write_pending = true;
        }
    }

    /// What the Fast Open cache holds for `server`, if anything.
    pub fn fast_open_cache_entry(&self, server: Ipv4Addr) -> Option<crate::FastOpenCacheEntry> {
        self.fast_open_cache.get(&server).copied()
    }

    /// Forgets every cached cookie and MSS (`ip tcp_metrics flush all`).
    pub fn flush_fast_open_cache(&mut self) {
        self.fast_open_cache.clear();
    }

    /// Takes the connection's pending Fast Open cache change, if any.
    fn take_fast_open_update(&mut self, id: SocketId) {
        let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id) else {
            return;
        };
        if let Some(update) = conn.fast_open_update.take() {
            self.fast_open_cache
                .entry(*conn.remote.ip())
                .or_default()
                .apply(update);
        }
    }

    /// Active OPEN (§3.10.1) from an ephemeral port.
    pub fn connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<SocketId, SocketError> {
        let (low, high) = self.config.ephemeral_ports;
        let span = u32::from(high.saturating_sub(low)) + 1;
        for _ in 0..span {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port >= high { low } else { port + 1 };
            let key = TupleKey {
                local_port: port,
                remote,
            };
            if !self.connections.contains_key(&key) && !self.listeners.contains_key(&port) {
                return self.connect_from(now, port, remote);
            }
        }
        Err(SocketError::AddressNotAvailable)
    }

    /// Active OPEN from a chosen local port.
    pub fn connect_from(
        &mut self,
        now: Instant,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<SocketId, SocketError> {
        let key = TupleKey { local_port, remote };
        if self.connections.contains_key(&key) {
            return Err(SocketError::AddressInUse);
        }
        let local = SocketAddrV4::new(self.local, local_port);
        let id = self.allocate_id();
        let mut conn = self.new_connection(local, remote, now);
        let mut env = Env {
            id,
            events: &mut self.events,
        };
        conn.set_state(State::SynSent, &mut env);
        conn.syn_pending = true;
        self.register(id, conn);
        self.after_change(id);
        Ok(id)
    }

    fn new_connection(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        now: Instant,
    ) -> Connection {
        let tcp = self.config.tcp.clone();
        let iss = match tcp.isn {
            Some(isn) => SeqNum(isn),
            None => SeqNum(self.isn(local, remote, now)),
        };
        let ts_offset = tcp
            .ts_offset
            .unwrap_or_else(|| self.keyed_hash(local, remote, 0x7473));
        Connection::new(local, remote, iss, ts_offset, tcp, now)
    }

    fn keyed_hash(&self, local: SocketAddrV4, remote: SocketAddrV4, domain: u32) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.config.secret);
        h.write(&local.ip().octets());
        h.write(&local.port().to_be_bytes());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        h.write(&domain.to_be_bytes());
        h.finish() as u32
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
    /// secretkey), M a 4-microsecond timer, F SipHash-2-4 keyed by the
    /// caller's secret (so by the run's seed).
    fn isn(&self, local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> u32 {
        let m = (now.as_nanos() / 4_000) as u32;
        m.wrapping_add(self.keyed_hash(local, remote, 0x6973_6e00))
    }

    /// Takes the next established connection from a listener's accept queue.
    pub fn accept(&mut self, listener: SocketId) -> Result<SocketId, SocketError> {
        match self.sockets.get_mut(&listener) {
            Some(Socket::Listener(l)) => l.accept_queue.pop_front().ok_or(SocketError::WouldBlock),
            _ => Err(SocketError::InvalidSocket),
        }
    }

    fn conn_mut(&mut self, id: SocketId) -> Result<&mut Connection, SocketError> {
        match self.sockets.get_mut(&id) {
            Some(Socket::Connection(c)) => Ok(c),
            _ => Err(SocketError::InvalidSocket),
        }
    }

    fn conn(&self, id: SocketId) -> Option<&Connection> {
        match self.sockets.get(&id) {
            Some(Socket::Connection(c)) => Some(c),
            _ => None,
        }
    }

    /// Queues as much of `data` as the send buffer has room for and returns how
    /// many bytes it took; they go out on later [`Endpoint::poll_transmit`] calls.
    /// Allowed from SYN-SENT/SYN-RECEIVED (sent once established), ESTABLISHED
    /// and CLOSE-WAIT.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the buffer is full ([`Event::Writable`] follows when room
    /// frees), `BrokenPipe` after `shutdown`/`close` or in a closing state,
    /// `NotConnected` for a closed socket, the connection's error once it
    /// failed, and `InvalidSocket` for an id that is not a connection.
    pub fn send(&mut self, _now: Instant, id: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        let n = self.conn_mut(id)?.send(data)?;
        self.after_change(id);
        Ok(n)
    }

    /// [`Endpoint::send`] with MSG_EOR / MSG_MORE ([`crate::SendFlags`]):
    /// an EOR write ends a record no later segment joins; a MORE write
    /// sets no PSH and holds its partial segment (Linux's tcp_sendmsg).
    ///
    /// # Errors
    ///
    /// As [`Endpoint::send`].
    pub fn send_with_flags(
        &mut self,
        _now: Instant,
        id: SocketId,
        data: &[u8],
        flags: crate::SendFlags,
    ) -> Result<usize, SocketError> {
        let n = self.conn_mut(id)?.send_with(data, flags)?;
        self.after_change(id);
        Ok(n)
    }

    /// TCP_NOTSENT_LOWAT (or the tcp_notsent_lowat sysctl): a write stops
    /// taking data once this many bytes wait unsent, returning what it
    /// took (Linux's tcp_stream_memory_free); `None`: no limit.
    pub fn set_notsent_lowat(
        &mut self,
        id: SocketId,
        lowat: Option<u32>,
    ) -> Result<(), SocketError> {
        self.conn_mut(id)?.write_queue.notsent_lowat = lowat;
        Ok(())
    }

    /// TCP_CORK: while on, a partial segment waits for more data (or the
    /// persist timer, Linux's 200 ms ceiling); turning it off sends it.
    pub fn set_cork(&mut self, id: SocketId, on: bool) -> Result<(), SocketError> {
        self.conn_mut(id)?.set_cork(on);
        self.after_change(id);
        Ok(())
    }

    /// Reads in-order data; `Ok(0)` after the peer's FIN.
    pub fn recv(
        &mut self,
        now: Instant,
        id: SocketId,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        let n = self.conn_mut(id)?.recv(buf, now)?;
        self.after_change(id);
        Ok(n)
    }

    /// Shuts down the write side (SHUT_WR): FIN after the queued data.
    pub fn shutdown(&mut self, _now: Instant, id: SocketId) -> Result<(), SocketError> {
        let events = &mut self.events;
        let conn = match self.sockets.get_mut(&id) {
            Some(Socket::Connection(c)) => c,
            _ => return Err(SocketError::InvalidSocket),
        };
        conn.shutdown(&mut Env { id, events })?;
        if conn.state == State::Closed {
            // CLOSE in SYN-SENT: the TCB goes.
            self.apply(id, Disposition::Delete);
        } else {
            self.after_change(id);
        }
        Ok(())
    }

    /// Closes a connection or a listener (a listener's unaccepted
    /// connections are reset, as Linux does).
    pub fn close(&mut self, now: Instant, id: SocketId) -> Result<(), SocketError> {
        if let Some(Socket::Listener(l)) = self.sockets.get(&id) {
            let port = l.port;
            let pending: Vec<SocketId> = l.accept_queue.iter().copied().collect();
            self.listeners.remove(&port);
            self.sockets.remove(&id);
            for child in pending {
                let _ = self.abort(now, child);
            }
            return Ok(());
        }
        let events = &mut self.events;
        let conn = match self.sockets.get_mut(&id) {
            Some(Socket::Connection(c)) => c,
            _ => return Err(SocketError::InvalidSocket),
        };
        let d = conn.close(now, &mut Env { id, events });
        self.apply(id, d);
        Ok(())
    }

    /// ABORT (§3.10.5): RST if synchronized, then gone.
    pub fn abort(&mut self, _now: Instant, id: SocketId) -> Result<(), SocketError> {
        let events = &mut self.events;
        let conn = match self.sockets.get_mut(&id) {
            Some(Socket::Connection(c)) => c,
            _ => return Err(SocketError::InvalidSocket),
        };
        conn.orphaned = true;
        let d = conn.abort(&mut Env { id, events });
        self.apply(id, d);
        Ok(())
    }

    /// TCP_SYNCNT: SYN retransmissions before the connect fails with
    /// ETIMEDOUT (Linux's icsk_syn_retries; the endpoint default is
    /// [`TcpConfig::syn_retries`]).
    pub fn set_syn_retries(&mut self, id: SocketId, retries: u32) -> Result<(), SocketError> {
        self.conn_mut(id)?.config.syn_retries = retries;
        Ok(())
    }

    /// Whether TCP_NODELAY is set on connection `id`.
    pub fn nodelay(&self, id: SocketId) -> Option<bool> {
        self.conn(id).map(|c| !c.config.nagle)
    }

    /// TCP_NODELAY. Setting it (even again) sends what waits at once.
    pub fn set_nodelay(&mut self, id: SocketId, nodelay: bool) -> Result<(), SocketError> {
        let conn = self.conn_mut(id)?;
        conn.config.nagle = !nodelay;
        if nodelay {
            // Linux (__tcp_sock_set_nodelay): TCP_NAGLE_PUSH sends what
            // waits at once, a corked partial segment included.
            conn.write_queue.push_once = true;
        }
        self.after_change(id);
        Ok(())
    }

    /// SO_KEEPALIVE with the given timing (None turns it off).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        id: SocketId,
        keepalive: Option<crate::config::Keepalive>,
    ) -> Result<(), SocketError> {
        let conn = self.conn_mut(id)?;
        conn.config.keepalive = keepalive;
        if keepalive.is_none() {
            conn.clear_timer(crate::conn::Timer::Keepalive);
        }
        conn.touch_keepalive(now);
        self.after_change(id);
        Ok(())
    }

    /// The socket's keepalive (SO_KEEPALIVE and its timing), `None` when
    /// off or the socket is no connection.
    pub fn keepalive(&self, id: SocketId) -> Option<crate::config::Keepalive> {
        self.conn(id).and_then(|c| c.config.keepalive)
    }

    /// The state of a socket; `None` once it is gone (CLOSED and released).
    pub fn state(&self, id: SocketId) -> Option<State> {
        match self.sockets.get(&id)? {
            Socket::Listener(_) => Some(State::Listen),
            Socket::Connection(c) => Some(c.state),
        }
    }

    /// The connection for a 4-tuple (local port on this host, remote address).
    pub fn lookup(&self, local_port: u16, remote: SocketAddrV4) -> Option<SocketId> {
        self.connections
            .get(&TupleKey { local_port, remote })
            .copied()
    }

    /// The pending error of a connection (SO_ERROR), if any.
    pub fn socket_error(&self, id: SocketId) -> Option<SocketError> {
        self.conn(id).and_then(|c| c.error)
    }

    /// The congestion controller a connection runs ("newreno", "cubic").
    pub fn congestion_control(&self, id: SocketId) -> Option<&'static str> {
        self.conn(id).map(|c| c.cc.name())
    }

    /// Selects the congestion controller for one connection (before it carries data).
    pub fn set_congestion_control(
        &mut self,
        id: SocketId,
        algorithm: crate::cc::CongestionAlgorithm,
    ) -> Result<(), SocketError> {
        let conn = self.conn_mut(id)?;
        let smss = conn.smss;
        conn.config.congestion = algorithm;
        conn.cc = match algorithm {
            crate::cc::CongestionAlgorithm::NewReno => {
                Box::new(crate::cc::newreno::NewReno::new(smss))
            }
            crate::cc::CongestionAlgorithm::Cubic => Box::new(crate::cc::cubic::Cubic::new(smss)),
        };
        Ok(())
    }

    /// A `tcp_info`-like snapshot of a connection's internals (cwnd,
    /// ssthresh, SRTT, RTO, windows...; see [`crate::info`]); `None` for a
    /// listener or a socket that is gone. Reads only.
    pub fn info(&self, id: SocketId) -> Option<crate::info::TcpInfo> {
        self.conn(id).map(|c| c.info())
    }

    /// The connection's counters (segments, bytes, retransmissions...); `None`
    /// for a listener or a socket that is gone.
    pub fn connection_counters(&self, id: SocketId) -> Option<Counters> {
        self.conn(id).map(|c| c.counters)
    }

    /// Local and remote address of a connection.
    pub fn addresses(&self, id: SocketId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.conn(id).map(|c| (c.local, c.remote))
    }

    /// Bytes that can be read now.
    pub fn recv_queue_len(&self, id: SocketId) -> usize {
        self.conn(id).map_or(0, |c| c.recv_buffer.len())
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_queue_len(&self, id: SocketId) -> usize {
        self.conn(id).map_or(0, |c| c.send_buffer.len())
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self, id: SocketId) -> usize {
        self.conn(id).map_or(0, |c| c.send_buffer.free())
    }

    /// Where a connection's send stream stands, in stream offsets (bytes
    /// since the start of the stream, SYN and FIN not counted): what
    /// `send` has queued, the highest byte sent, and the bytes the peer
    /// has acknowledged, which the send buffer has freed. A socket layer
    /// asks after each input and timer to learn which byte ranges went
    /// out or were freed (Linux's tx timestamps and zero-copy completions
    /// fire there); `None` for a listener or a socket that is gone.
    pub fn send_progress(&self, id: SocketId) -> Option<crate::types::SendProgress> {
        self.conn(id).map(|c| crate::types::SendProgress {
            written: c.snd_written,
            sent: c.snd_consumed + u64::from(c.flight_size()),
            acked: c.snd_consumed,
        })
    }

    /// Every socket, sorted by id (deterministic), for `ss`-style tables.
    pub fn sockets(&self) -> Vec<SocketInfo> {
        let mut rows: Vec<SocketInfo> = self
            .sockets
            .iter()
            .map(|(&id, s)| match s {
                Socket::Listener(l) => SocketInfo {
                    id,
                    state: State::Listen,
                    local: SocketAddrV4::new(self.local, l.port),
                    remote: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
                    recv_queue: l.accept_queue.len(),
                    send_queue: l.backlog,
                },
                Socket::Connection(c) => SocketInfo {
                    id,
                    state: c.state,
                    local: c.local,
                    remote: c.remote,
                    recv_queue: c.recv_buffer.len(),
                    send_queue: c.send_buffer.len(),
                },
            })
            .collect();
        rows.sort_by_key(|r| r.id);
        rows
    }

    /// The next event for the application, oldest first; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- the driver loop -----

    /// One arriving IPv4 datagram. Malformed or misaddressed datagrams are
    /// counted and dropped (the error says why).
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), WireError> {
        self.counters.datagrams_received += 1;
        if crate::icmp::is_icmp(bytes) {
            return self.handle_icmp(bytes);
        }
        self.arrival_ecn = wire::peek_ecn(bytes);
        let (pair, seg) = match wire::parse_datagram(bytes) {
            Ok(x) => x,
            Err(e) => {
                self.counters.malformed_dropped += 1;
                return Err(e);
            }
        };
        if pair.dst != self.local {
            self.counters.wrong_address_dropped += 1;
            return Ok(());
        }
        let remote = SocketAddrV4::new(pair.src, seg.src_port);
        let key = TupleKey {
            local_port: seg.dst_port,
            remote,
        };
        if let Some(&id) = self.connections.get(&key)
            && self.listeners.contains_key(&seg.dst_port)
            && let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id)
            && conn.time_wait_accepts_new_syn(&seg)
        {
            // RFC 6191: a new SYN may reopen a 4-tuple in TIME-WAIT; the old
            // TCB goes and the listener takes the SYN.
            let events = &mut self.events;
            let env = &mut Env { id, events };
            conn.set_state(State::Closed, env);
            env.events.push_back(Event::Closed(id));
            self.remove(id);
        }
        if let Some(&id) = self.connections.get(&key) {
            let events = &mut self.events;
            if let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id) {
                conn.ecn.arrival = self.arrival_ecn;
                let d = conn.on_segment(&seg, now, &mut Env { id, events });
                self.take_fast_open_update(id);
                self.apply(id, d);
                if d == Disposition::DeleteAndReset {
                    self.reset_for(pair, &seg);
                }
                return Ok(());
            }
        }
        if let Some(&listener) = self.listeners.get(&seg.dst_port) {
            self.on_listen_segment(listener, pair, &seg, now);
            return Ok(());
        }
        // §3.10.7.1 CLOSED: no connection.
        self.reset_for(pair, &seg);
        Ok(())
    }

    /// An ICMP datagram (see [`crate::icmp`]): an error quoting one of our
    /// connections' segments goes to it; anything else is counted and
    /// dropped.
    fn handle_icmp(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.counters.icmp_received += 1;
        let msg = match crate::icmp::parse(bytes) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.counters.icmp_ignored += 1;
                return Ok(());
            }
            Err(e) => {
                self.counters.malformed_dropped += 1;
                return Err(e);
            }
        };
        let key = TupleKey {
            local_port: msg.local_port,
            remote: SocketAddrV4::new(msg.remote, msg.remote_port),
        };
        let id = self.connections.get(&key).copied();
        let conn = match id.and_then(|id| self.sockets.get_mut(&id)) {
            Some(Socket::Connection(c)) if msg.local == self.local => c,
            _ => {
                self.counters.icmp_ignored += 1;
                return Ok(());
            }
        };
        let id = id.expect("found above");
        let events = &mut self.events;
        match conn.on_icmp(&msg, &mut Env { id, events }) {
            crate::icmp::IcmpOutcome::Done(d) => self.apply(id, d),
            crate::icmp::IcmpOutcome::OutOfWindow => {
                self.counters.icmp_out_of_window += 1;
            }
            crate::icmp::IcmpOutcome::Ignored => self.counters.icmp_ignored += 1,
        }
        Ok(())
    }

    /// Takes a connection's ICMP soft error (Linux's sk_err_soft, which
    /// getsockopt SO_ERROR reports and clears when there is no hard error).
    pub fn take_soft_error(&mut self, id: SocketId) -> Option<SocketError> {
        match self.sockets.get_mut(&id) {
            Some(Socket::Connection(c)) => c.icmp.soft_error.take(),
            _ => None,
        }
    }

    /// RFC 9293 §3.10.7.1: "If the ACK bit is off, sequence number zero is
    /// used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if the ACK bit is
    /// on, <SEQ=SEG.ACK><CTL=RST>". An incoming RST is discarded.
    fn reset_for(&mut self, pair: IpPair, seg: &TcpRepr<'_>) {
        if seg.flags.rst() {
            return;
        }
        let reply = IpPair {
            src: pair.dst,
            dst: pair.src,
        };
        let (seq, ack) = if seg.flags.ack() {
            (seg.ack, None)
        } else {
            (SeqNum(0), Some(seg.seq + seg.seq_len()))
        };
        self.resets.push_back(Reset {
            pair: reply,
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            seq,
            ack,
            syn_ack: None,
        });
    }

    /// §3.10.7.2 LISTEN STATE.
    fn on_listen_segment(
        &mut self,
        listener: SocketId,
        pair: IpPair,
        seg: &TcpRepr<'_>,
        now: Instant,
    ) {
        // First, check for a RST: ignore it.
        if seg.flags.rst() {
            return;
        }
        // Second, an ACK at a listener: <SEQ=SEG.ACK><CTL=RST> — unless it
        // completes a SYN-cookie handshake.
        if seg.flags.ack() {
            if self.config.syn_cookies
                && !seg.flags.syn()
                && self.accept_cookie(listener, pair, seg, now)
            {
                return;
            }
            self.reset_for(pair, seg);
            return;
        }
        // Third, a SYN. A SYN that also carries FIN is dropped, as Linux
        // does (tcp_rcv_state_process: LISTEN, "if (th->fin) goto
        // discard"): no sane opener sends it, and RFC 9293 leaves it open.
        if !seg.flags.syn() || seg.flags.fin() {
            return;
        }
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) else {
            return;
        };
        // A bounded SYN queue and accept queue. A full accept queue drops
        // the SYN (the client retransmits it), as Linux does. A full SYN queue
        // is answered with a SYN cookie when cookies are on, else dropped.
        if l.accept_queue.len() >= l.backlog {
            self.counters.syns_dropped_queue_full += 1;
            return;
        }
        if l.syn_queue_len >= l.backlog {
            if self.config.syn_cookies {
                self.send_cookie(pair, seg, now);
            } else {
                self.counters.syns_dropped_queue_full += 1;
            }
            return;
        }
        let fast_open = self.fast_open_decision(listener, pair, seg);
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) else {
            return;
        };
        let child = matches!(fast_open, FastOpenDecision::Child);
        let id = SocketId(self.next_id);
        if child {
            // In the accept queue from the SYN on (Linux's
            // inet_csk_reqsk_queue_add of the Fast Open child).
            l.accept_queue.push_back(id);
        } else {
            l.syn_queue_len += 1;
        }
        let local = SocketAddrV4::new(pair.dst, seg.dst_port);
        let remote = SocketAddrV4::new(pair.src, seg.src_port);
        let allocated = self.allocate_id();
        debug_assert_eq!(allocated, id);
        let mut conn = self.new_connection(local, remote, now);
        let mut env = Env {
            id,
            events: &mut self.events,
        };
        conn.ecn.arrival = self.arrival_ecn;
        conn.accept_syn(seg, now, &mut env);
        match fast_open {
            FastOpenDecision::None => {}
            FastOpenDecision::Reply(cookie) => conn.fast_open_reply = Some(cookie),
            FastOpenDecision::Child => {
                env.events.push_back(Event::Incoming(listener));
                conn.accept_fast_open(seg.payload, now, &mut env);
            }
        }
        self.register(id, conn);
        self.after_change(id);
    }

    /// What RFC 7413 §4.2 (as Linux's tcp_try_fastopen) makes of a SYN at
    /// `listener`: nothing (no Fast Open: no option, no data taken), a
    /// cookie in the SYN-ACK (the client asked for one, or presented a
    /// wrong one: its data is not taken), or a Fast Open child (a valid
    /// cookie, or data when no cookie is required).
    fn fast_open_decision(
        &self,
        listener: SocketId,
        pair: IpPair,
        seg: &TcpRepr<'_>,
    ) -> FastOpenDecision {
        let tfo = self.config.fast_open;
        let syn_data = !seg.payload.is_empty();
        let asked = seg.options.fast_open;
        // Most SYNs stop here, before the queue is counted.
        if !tfo.server || !(syn_data || asked.is_some()) {
            return FastOpenDecision::None;
        }
        let Some(Socket::Listener(l)) = self.sockets.get(&listener) else {
            return FastOpenDecision::None;
        };
        let qlen = if l.fast_open_qlen > 0 {
            l.fast_open_qlen
        } else if tfo.without_sockopt {
            l.backlog
        } else {
            0
        };
        // tcp_fastopen_queue_check: room for another child.
        let waiting = l
            .accept_queue
            .iter()
            .filter(|id| {
                matches!(self.sockets.get(*id), Some(Socket::Connection(c))
                    if c.fast_open_child && c.state == State::SynReceived)
            })
            .count();
        if waiting >= qlen {
            return FastOpenDecision::None;
        }
        if tfo.no_cookie {
            return FastOpenDecision::Child;
        }
        let Some(asked) = asked else {
            return FastOpenDecision::None;
        };
        let valid = match l.fast_open_key {
            Some(key) => fast_open_cookie(&key, pair.src, self.local),
            None => self.fast_open_cookie(pair.src),
        };
        if asked.len > 0 && asked.cookie() == valid {
            return FastOpenDecision::Child;
        }
        // A request, or a wrong cookie: the valid one, in the client's form.
        FastOpenDecision::Reply(FastOpenCookie::new(&valid, asked.experimental))
    }

    /// Answers a SYN with a SYN-ACK whose ISN is a cookie; keeps no state.
    fn send_cookie(&mut self, pair: IpPair, seg: &TcpRepr<'_>, now: Instant) {
        let local = SocketAddrV4::new(pair.dst, seg.dst_port);
        let remote = SocketAddrV4::new(pair.src, seg.src_port);
        let peer_mss = seg.options.mss.unwrap_or(536);
        let index = crate::syncookie::mss_index(peer_mss);
        let iss = crate::syncookie::encode(&self.config.secret, local, remote, seg.seq, now, index);
        let tcp = &self.config.tcp;
        let mut options = TcpOptions {
            mss: Some(tcp.mss),
            ..TcpOptions::default()
        };
        // Window scale and SACK survive only inside the timestamp (Linux).
        if let (true, Some((tsval, _))) = (tcp.timestamps, seg.options.timestamps) {
            let window_scale = match (tcp.window_scale, seg.options.window_scale) {
                (Some(ours), Some(_)) => Some(ours.min(14)),
                _ => None,
            };
            let sack = tcp.sack && seg.options.sack_permitted;
            let offset = self.keyed_hash(local, remote, 0x7473);
            let clock = ((now.as_nanos() / 1_000_000) as u32).wrapping_add(offset);
            let peer_ws = seg.options.window_scale.filter(|_| window_scale.is_some());
            options.timestamps = Some((
                (clock & !0x1f) | crate::syncookie::options_bits(peer_ws, sack),
                tsval,
            ));
            options.window_scale = window_scale;
            options.sack_permitted = sack;
        }
        let tcp = &self.config.tcp;
        let space = tcp.recv_buffer.min(tcp.recv_buffer_initial / 2);
        let window =
            crate::syncookie::syn_window(space.min(u32::MAX as usize) as u32, tcp.mss) as u16;
        self.resets.push_back(Reset {
            pair: IpPair {
                src: pair.dst,
                dst: pair.src,
            },
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            seq: iss,
            ack: Some(seg.seq + 1),
            syn_ack: Some((window, options)),
        });
        self.counters.syn_cookies_sent += 1;
    }

    /// A final ACK at a listener: if it carries a valid cookie, the
    /// connection is rebuilt from it and queued for accept.
    fn accept_cookie(
        &mut self,
        listener: SocketId,
        pair: IpPair,
        seg: &TcpRepr<'_>,
        now: Instant,
    ) -> bool {
        let local = SocketAddrV4::new(pair.dst, seg.dst_port);
        let remote = SocketAddrV4::new(pair.src, seg.src_port);
        let Some(mss) =
            crate::syncookie::decode(&self.config.secret, local, remote, seg.seq, seg.ack, now)
        else {
            return false;
        };
        let Some(Socket::Listener(l)) = self.sockets.get(&listener) else {
            return false;
        };
        if l.accept_queue.len() >= l.backlog {
            // Linux drops the ACK when the accept queue is full.
            return true;
        }
        let id = self.allocate_id();
        let mut conn = self.new_connection(local, remote, now);
        conn.iss = seg.ack - 1;
        conn.accept_cookie(
            seg,
            mss,
            now,
            &mut Env {
                id,
                events: &mut self.events,
            },
        );
        self.register(id, conn);
        self.counters.syn_cookies_accepted += 1;
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) {
            l.accept_queue.push_back(id);
            self.events.push_back(Event::Incoming(listener));
        }
        self.after_change(id);
        true
    }

    fn listener_of(&self, conn: &Connection) -> Option<SocketId> {
        self.listeners.get(&conn.local.port()).copied()
    }

    /// Carries out what a connection asked for after an event.
    fn apply(&mut self, id: SocketId, d: Disposition) {
        match d {
            Disposition::Keep => self.after_change(id),
            Disposition::Established => {
                // A Fast Open child is in the accept queue since its SYN.
                let listener = self
                    .conn(id)
                    .filter(|c| !c.fast_open_child)
                    .and_then(|c| self.listener_of(c));
                if let Some(lid) = listener
                    && let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid)
                {
                    l.syn_queue_len = l.syn_queue_len.saturating_sub(1);
                    l.accept_queue.push_back(id);
                    self.events.push_back(Event::Incoming(lid));
                }
                self.after_change(id);
            }
            Disposition::Delete | Disposition::DeleteAndReset => self.remove(id),
        }
    }

    /// Files a new connection under its id and 4-tuple (the inverse of `remove`).
    fn register(&mut self, id: SocketId, conn: Connection) {
        let local_port = conn.local.port();
        self.connections.insert(
            TupleKey {
                local_port,
                remote: conn.remote,
            },
            id,
        );
        *self.port_use.entry(local_port).or_default() += 1;
        self.sockets.insert(id, Socket::Connection(Box::new(conn)));
    }

    /// Whether `id` waits in its listener's accept queue.
    fn awaiting_accept(&self, conn: &Connection, id: SocketId) -> bool {
        matches!(self.listener_of(conn).and_then(|l| self.sockets.get(&l)),
            Some(Socket::Listener(l)) if l.accept_queue.contains(&id))
    }

    fn remove(&mut self, id: SocketId) {
        // A connection that failed while the application still holds it
        // (unread data) or may still accept it keeps its socket, as
        // Linux's does: reads return the data, then the error. It leaves
        // the tables now (its 4-tuple and port are free) and goes for good
        // when the application closes it.
        if let Some(Socket::Connection(conn)) = self.sockets.get(&id)
            && conn.state == State::Closed
            && !conn.orphaned
            && (conn.detached || !conn.recv_buffer.is_empty() || self.awaiting_accept(conn, id))
        {
            if conn.detached {
                return;
            }
            let (local, remote) = (conn.local, conn.remote);
            self.release_tuple(id, local, remote);
            if let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id) {
                conn.detached = true;
                conn.timers = Default::default();
            }
            return;
        }
        let Some(Socket::Connection(conn)) = self.sockets.remove(&id) else {
            return;
        };
        if !conn.detached {
            self.release_tuple(id, conn.local, conn.remote);
        }
        // A passive half-open connection leaves its listener's SYN queue.
        // (A Fast Open child waits in the accept queue, not the SYN queue.)
        if conn.passive
            && matches!(conn.state, State::Listen | State::Closed)
            && let Some(lid) = self.listeners.get(&conn.local.port()).copied()
            && let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid)
        {
            if let Some(pos) = l.accept_queue.iter().position(|&x| x == id) {
                l.accept_queue.remove(pos);
            } else if !conn.fast_open_child {
                l.syn_queue_len = l.syn_queue_len.saturating_sub(1);
            }
        }
    }

    /// Frees a connection's 4-tuple, port use and timer.
    fn release_tuple(&mut self, id: SocketId, local: SocketAddrV4, remote: SocketAddrV4) {
        let key = TupleKey {
            local_port: local.port(),
            remote,
        };
        if self.connections.get(&key) == Some(&id) {
            self.connections.remove(&key);
        }
        if let Some(n) = self.port_use.get_mut(&local.port()) {
            *n -= 1;
            if *n == 0 {
                self.port_use.remove(&local.port());
            }
        }
        self.timer_queued.remove(&id);
    }

    /// After any change: queue for output, reschedule its timer.
    fn after_change(&mut self, id: SocketId) {
        let Some(conn) = self.conn(id) else { return };
        let wants = conn.wants_output();
        let deadline = conn.deadline();
        if wants {
            self.ready.push_back(id);
        }
        if let Some(at) = deadline {
            let queued = self.timer_queued.get(&id).copied();
            if queued.is_none_or(|q| at < q) {
                self.timer_queued.insert(id, at);
                self.timers.push(Reverse((at, id)));
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.timer_queued.get(&id) != Some(&at) {
                continue; // stale entry
            }
            self.timer_queued.remove(&id);
            let events = &mut self.events;
            let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id) else {
                continue;
            };
            let d = conn.on_timeout(now, &mut Env { id, events });
            self.take_fast_open_update(id);
            self.apply(id, d);
            // Re-queue the connection's next deadline even if unchanged.
            if let Some(conn) = self.conn(id)
                && let Some(next) = conn.deadline()
                && !self.timer_queued.contains_key(&id)
            {
                self.timer_queued.insert(id, next);
                self.timers.push(Reverse((next, id)));
            }
        }
    }

    /// The next instant `handle_timeout` has work. Stale heap entries (a
    /// timer that was cancelled or moved later) are settled here first, so
    /// a driver is never woken for nothing.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if self.timer_queued.get(&id) != Some(&at) {
                self.timers.pop();
                continue;
            }
            let actual = self.conn(id).and_then(|c| c.deadline());
            if actual == Some(at) {
                return Some(at);
            }
            self.timers.pop();
            self.timer_queued.remove(&id);
            if let Some(next) = actual {
                self.timer_queued.insert(id, next);
                self.timers.push(Reverse((next, id)));
            }
        }
        None
    }

    /// Writes the next datagram to send into `out`; false when none.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if let Some(r) = self.resets.pop_front() {
            let (flags, window, options) = match (r.syn_ack, r.ack) {
                (Some((window, options)), _) => (Flags::SYN | Flags::ACK, window, options),
                (None, Some(_)) => (Flags::RST | Flags::ACK, 0, TcpOptions::default()),
                (None, None) => (Flags::RST, 0, TcpOptions::default()),
            };
            let repr = TcpRepr {
                src_port: r.src_port,
                dst_port: r.dst_port,
                seq: r.seq,
                ack: r.ack.unwrap_or(SeqNum(0)),
                flags,
                window,
                urgent: 0,
                options,
                payload: &[],
            };
            wire::emit_datagram(r.pair, &repr, out);
            if r.syn_ack.is_none() {
                self.counters.resets_sent += 1;
            }
            return true;
        }
        while let Some(id) = self.ready.pop_front() {
            let Some(Socket::Connection(conn)) = self.sockets.get_mut(&id) else {
                continue;
            };
            let mut scratch = std::mem::take(&mut self.payload_scratch);
            let max_before = conn.snd_max;
            let produced = conn.poll_segment(now, &mut scratch);
            let dead = conn.is_dead();
            let more = conn.wants_output();
            if let Some(mut seg) = produced {
                let pair = IpPair {
                    src: *conn.local.ip(),
                    dst: *conn.remote.ip(),
                };
                // RFC 3168 §6.1.5: ECT only on data never sent before.
                let first = seg.seq.diff(max_before) >= 0;
                let ecn = conn.ecn_on_transmit(&mut seg.flags, first, !scratch.is_empty());
                let repr = TcpRepr {
                    src_port: conn.local.port(),
                    dst_port: conn.remote.port(),
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    window: seg.window,
                    urgent: 0,
                    options: seg.options,
                    payload: &scratch,
                };
                wire::emit_datagram_ecn(pair, &repr, ecn, out);
                if seg.flags.rst() {
                    self.counters.resets_sent += 1;
                }
                self.payload_scratch = scratch;
                if dead {
                    self.remove(id);
                } else {
                    if more {
                        self.ready.push_front(id);
                    }
                    self.reschedule(id);
                }
                return true;
            }
            self.payload_scratch = scratch;
            if dead {
                self.remove(id);
            } else {
                self.reschedule(id);
            }
        }
        false
    }

    fn reschedule(&mut self, id: SocketId) {
        if let Some(conn) = self.conn(id)
            && let Some(at) = conn.deadline()
        {
            let queued = self.timer_queued.get(&id).copied();
            if queued.is_none_or(|q| at < q) {
                self.timer_queued.insert(id, at);
                self.timers.push(Reverse((at, id)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn demux_hashes_spread_over_the_buckets_hashbrown_picks_by_low_bits() {
        // 100,000 connections to one port from 65,536 addresses and two
        // remote ports (the shape `benches/hot_path` demux and the scale
        // workload build). hashbrown picks a bucket from the hash's low
        // bits; for this table (2^17 buckets) a uniform hash puts 100,000
        // keys in about 70,000 distinct buckets. Before the rotation in
        // `finish` the low bits depended on little but the remote port and
        // lookups probed long chains; this fails if they collapse again.
        let state = FixedState::default();
        let mut buckets: Vec<u32> = (0..100_000u32)
            .map(|i| {
                let key = TupleKey {
                    local_port: 80,
                    remote: SocketAddrV4::new(
                        Ipv4Addr::from(0x0b00_0000 | (i & 0xffff)),
                        1024 + (i >> 16) as u16,
                    ),
                };
                (state.hash_one(key) & 0x1_ffff) as u32
            })
            .collect();
        buckets.sort_unstable();
        buckets.dedup();
        assert!(
            buckets.len() > 60_000,
            "{} distinct buckets of 131,072 for 100,000 keys",
            buckets.len()
        );
    }
}
