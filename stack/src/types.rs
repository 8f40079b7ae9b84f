//! What the application sees: socket ids, states, events, errors, counters.

use std::fmt;

/// A listener or connection handle.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SocketId(pub u32);

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum State {
    /// No connection (the socket is not yet or no longer in use).
    Closed,
    /// Waiting for a SYN (a listener).
    Listen,
    /// SYN sent, waiting for the SYN-ACK.
    SynSent,
    /// SYN received and SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed (FIN sent), waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed (its FIN received); waiting for our application to close.
    CloseWait,
    /// Both sides closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed first, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs acknowledged; waiting 2·MSL before CLOSED (RFC 9293 §3.10.8).
    TimeWait,
}

impl State {
    /// Every state, in declaration order (for tables indexed by state).
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// RFC 9293's spelling: `SYN-SENT`.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// `ss` spelling: `ESTAB`, `SYN-SENT`, `TIME-WAIT`...
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Closed => "UNCONN",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::Established => "ESTAB",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// RFC 9293 §3.3.2: states after the handshake has completed on our side.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// Whether RFC 9293's state diagram (Figure 5) has an arc `self -> to`,
    /// counting the reset and abort arcs of §3.10.7 and §3.10.6 (any
    /// state -> CLOSED) and the passive-open reset arc SYN-RECEIVED -> LISTEN.
    pub fn can_transition_to(self, to: State) -> bool {
        use State::*;
        if to == Closed {
            return true;
        }
        matches!(
            (self, to),
            (Closed, Listen)
                | (Closed, SynSent)
                | (Listen, SynReceived)
                | (Listen, SynSent)
                | (SynSent, SynReceived)
                | (SynSent, Established)
                | (SynReceived, Established)
                | (SynReceived, FinWait1)
                | (SynReceived, Listen)
                | (SynReceived, CloseWait)
                | (Established, FinWait1)
                | (Established, CloseWait)
                | (FinWait1, FinWait2)
                | (FinWait1, Closing)
                | (FinWait1, TimeWait)
                | (FinWait2, TimeWait)
                | (CloseWait, LastAck)
                | (Closing, TimeWait)
                | (TimeWait, SynReceived)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Socket errors, with the errno a BSD socket would report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SocketError {
    /// Nothing to do now (EAGAIN).
    WouldBlock,
    /// The peer refused the connection: RST in SYN-SENT (ECONNREFUSED).
    ConnectionRefused,
    /// The peer reset an established connection (ECONNRESET).
    ConnectionReset,
    /// Retransmissions or keepalive probes ran out (ETIMEDOUT).
    TimedOut,
    /// The application aborted the connection itself (ECONNABORTED, as
    /// Linux reports a read or write after `tcp_abort`).
    ConnectionAborted,
    /// Not connected (ENOTCONN).
    NotConnected,
    /// Writing after shutdown or after the connection closed (EPIPE).
    BrokenPipe,
    /// The port is in use (EADDRINUSE).
    AddressInUse,
    /// No ephemeral port left (EADDRNOTAVAIL).
    AddressNotAvailable,
    /// Connect on a socket that is already connecting/connected (EISCONN / EALREADY).
    AlreadyConnected,
    /// No such socket, or the wrong kind for the call (EBADF / EINVAL).
    InvalidSocket,
    /// EOPNOTSUPP: the endpoint's configuration does not allow the call (a
    /// Fast Open connect with the client side off), or an ICMP "source
    /// route failed" ended the connection.
    NotSupported,
    /// ICMP: network unreachable (ENETUNREACH).
    NetworkUnreachable,
    /// ICMP: host unreachable, or time exceeded (EHOSTUNREACH).
    HostUnreachable,
    /// ICMP: source host isolated (EHOSTDOWN).
    HostDown,
    /// ICMP: protocol unreachable (ENOPROTOOPT).
    ProtocolUnavailable,
    /// ICMP: destination host unknown (ENONET).
    NoNetwork,
    /// ICMP: parameter problem (EPROTO).
    ProtocolError,
}

impl SocketError {
    /// The Linux errno the error stands for (`"EAGAIN"`, `"ECONNRESET"`...).
    pub fn errno_name(self) -> &'static str {
        match self {
            SocketError::WouldBlock => "EAGAIN",
            SocketError::ConnectionRefused => "ECONNREFUSED",
            SocketError::ConnectionReset => "ECONNRESET",
            SocketError::TimedOut => "ETIMEDOUT",
            SocketError::ConnectionAborted => "ECONNABORTED",
            SocketError::NotConnected => "ENOTCONN",
            SocketError::BrokenPipe => "EPIPE",
            SocketError::AddressInUse => "EADDRINUSE",
            SocketError::AddressNotAvailable => "EADDRNOTAVAIL",
            SocketError::AlreadyConnected => "EISCONN",
            SocketError::InvalidSocket => "EBADF",
            SocketError::NotSupported => "EOPNOTSUPP",
            SocketError::NetworkUnreachable => "ENETUNREACH",
            SocketError::HostUnreachable => "EHOSTUNREACH",
            SocketError::HostDown => "EHOSTDOWN",
            SocketError::ProtocolUnavailable => "ENOPROTOOPT",
            SocketError::NoNetwork => "ENONET",
            SocketError::ProtocolError => "EPROTO",
        }
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SocketError::WouldBlock => "operation would block",
            SocketError::ConnectionRefused => "connection refused",
            SocketError::ConnectionReset => "connection reset by peer",
            SocketError::TimedOut => "connection timed out",
            SocketError::ConnectionAborted => "connection aborted",
            SocketError::NotConnected => "socket is not connected",
            SocketError::BrokenPipe => "broken pipe",
            SocketError::AddressInUse => "address already in use",
            SocketError::AddressNotAvailable => "no ephemeral port available",
            SocketError::AlreadyConnected => "socket is already connected",
            SocketError::InvalidSocket => "no such socket",
            SocketError::NotSupported => "operation not supported",
            SocketError::NetworkUnreachable => "network is unreachable",
            SocketError::HostUnreachable => "no route to host",
            SocketError::HostDown => "host is down",
            SocketError::ProtocolUnavailable => "protocol not available",
            SocketError::NoNetwork => "machine is not on the network",
            SocketError::ProtocolError => "protocol error",
        };
        write!(f, "{text} ({})", self.errno_name())
    }
}

impl std::error::Error for SocketError {}

/// What happened, for the application.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// An active open completed.
    Connected(SocketId),
    /// A connection is ready to `accept` on this listener.
    Incoming(SocketId),
    /// New data (or EOF) can be read.
    Readable(SocketId),
    /// Send buffer space freed.
    Writable(SocketId),
    /// The peer's FIN arrived: reads will return EOF after the data.
    PeerClosed(SocketId),
    /// The connection ended with an error (refused, reset, timed out).
    Error(SocketId, SocketError),
    /// The connection reached CLOSED and its id is released.
    Closed(SocketId),
    /// The connection moved from one RFC 9293 state to another.
    StateChanged {
        /// The connection.
        id: SocketId,
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
}

/// Per-connection counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Segments sent, retransmissions and pure ACKs included.
    pub segments_sent: u64,
    /// Segments handed to the connection (in every state but LISTEN and
    /// CLOSED), before any acceptability check.
    pub segments_received: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes of segments that arrived in order (at RCV.NXT) and went
    /// into the receive buffer; out-of-order bytes later joined from the
    /// reassembly queue are not counted here.
    pub bytes_received: u64,
    /// Segments retransmitted (timeouts, fast and SACK retransmits, SYN/SYN-ACK retries).
    pub retransmitted_segments: u64,
    /// Payload bytes retransmitted.
    pub retransmitted_bytes: u64,
    /// Retransmission timer expirations (RFC 6298 §5.4).
    pub timeouts: u64,
    /// Fast retransmits: the segment at SND.UNA resent when loss recovery
    /// starts on duplicate ACKs or SACK information.
    pub fast_retransmits: u64,
    /// Loss recoveries run by RFC 6675 (SACK). Each starts with a fast
    /// retransmit, unless a previous recovery already resent that segment.
    pub sack_recoveries: u64,
    /// RFC 6675 §4 NextSeg rule (4) rescue retransmissions.
    pub rescue_retransmits: u64,
    /// SACK blocks ignored as invalid: not inside (SND.UNA, SND.MAX]
    /// (RFC 2018 §4, RFC 6675 §5).
    pub sack_blocks_ignored: u64,
    /// The peer discarded data it had SACKed (reneging, RFC 2018 §8): the
    /// cumulative ACK stopped inside a SACKed range; the scoreboard was cleared.
    pub sack_reneging: u64,
    /// Challenge ACKs sent (RFC 5961 §3.2, §4.2, §5.2).
    pub challenge_acks: u64,
    /// Segments discarded by the RFC 9293 §3.10.7 checks (unacceptable sequence
    /// number, bad ACK, no ACK bit, PAWS...).
    pub dropped_segments: u64,
    /// Segments dropped by PAWS (RFC 7323 §5.3), also counted in
    /// `dropped_segments` (Linux's PAWSEstabRejected).
    pub paws_rejected: u64,
    /// ACKs to unacceptable segments withheld by the 500 ms rate limit.
    pub oow_acks_suppressed: u64,
    /// Zero-window probes sent by the persist timer (RFC 9293 §3.8.6.1).
    pub zero_window_probes: u64,
    /// Keepalive probes sent (RFC 9293 §3.8.4).
    pub keepalive_probes: u64,
    /// Duplicate ACKs: RFC 5681's definition without SACK, RFC 6675 §2's
    /// (an ACK that SACKs new data) with it.
    pub duplicate_acks: u64,
    /// Congestion-window reductions for an ECN echo (RFC 3168 §6.1.2).
    pub ecn_reductions: u64,
    /// ACKs on which RACK marked segments lost by time (RFC 8985 §6.2).
    pub rack_loss_detections: u64,
    /// Tail loss probes sent (RFC 8985 §7.3; Linux's TCPLossProbes).
    pub tlp_probes: u64,
    /// Tail losses a probe repaired (§7.4; Linux's TCPLossProbeRecovery).
    pub tlp_recoveries: u64,
    /// Duplicate segments the peer reported in D-SACK blocks (RFC 2883;
    /// Linux's tcpi_dsack_dups).
    pub dsack_dups: u64,
    /// Window reductions undone as spurious (RFC 3708; Linux's
    /// TCPFullUndo + TCPDSACKUndo).
    pub undos: u64,
}

/// A connection's send stream in stream offsets (see
/// [`crate::Endpoint::send_progress`]): `acked <= sent <= written`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendProgress {
    /// Bytes `send` has ever queued.
    pub written: u64,
    /// The end of the highest byte ever sent (retransmissions do not move it).
    pub sent: u64,
    /// Bytes the peer has acknowledged (freed from the send buffer).
    pub acked: u64,
}
