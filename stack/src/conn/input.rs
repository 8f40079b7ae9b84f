//! SEGMENT ARRIVES (RFC 9293 §3.10.7.3 and §3.10.7.4), in the RFC's order.

use super::{Connection, Disposition, Env, SYN_SENT_QUICK_RETRY, Timer};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::types::{Event, SocketError, State};
use crate::wire::{TcpOptions, TcpRepr};

impl Connection {
    /// Records the peer's SYN options (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2
    /// and §3.2, RFC 2018 §2): each feature is on only if both SYNs carry it.
    pub(crate) fn take_syn_options(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        let o = &seg.options;
        // RFC 9293 §3.7.1: 536 when the MSS option is absent.
        self.peer_mss = o.mss.unwrap_or(536);
        match (self.config.window_scale, o.window_scale) {
            (Some(ours), Some(theirs)) => {
                self.window_scaling = true;
                self.rcv_wscale = ours.min(14);
                // RFC 7323 §2.3: a shift above 14 is used as 14.
                self.snd_wscale = theirs.min(14);
            }
            _ => {
                self.window_scaling = false;
                self.rcv_wscale = 0;
                self.snd_wscale = 0;
            }
        }
        self.timestamps = self.config.timestamps && o.timestamps.is_some();
        if let (true, Some((val, _))) = (self.timestamps, o.timestamps) {
            self.ts_recent = val;
            self.ts_recent_stamp = now;
        }
        self.sack_permitted = self.config.sack && o.sack_permitted;
        // Effective send MSS: RFC 6691 — the MSS counts no options, so the
        // timestamp option's 12 bytes come out of each segment (Linux: 1448).
        // A path MTU learnt in SYN-SENT (RFC 1191) caps it too.
        let mss = u32::from(self.peer_mss.min(self.config.mss))
            .min(self.icmp.mss_cap())
            .max(64);
        self.smss = if self.timestamps { mss - 12 } else { mss };
        self.cc.set_mss(self.smss);
    }

    /// A SYN arrived at a listener (§3.10.7.2, third check): this new TCB
    /// takes it and enters SYN-RECEIVED.
    pub(crate) fn accept_syn(&mut self, seg: &TcpRepr<'_>, now: Instant, env: &mut Env<'_>) {
        self.passive = true;
        self.state = State::Listen;
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.last_ack_sent = self.rcv_nxt;
        self.take_syn_options(seg, now);
        self.take_syn_window(seg, self.iss);
        self.ecn_on_syn(seg);
        self.set_state(State::SynReceived, env);
        self.syn_pending = true;
        self.restart_rto(now);
    }

    /// RFC 7413 §4.2.2: a SYN at a listener with a valid Fast Open cookie
    /// (or none needed): after [`Connection::accept_syn`], its data goes
    /// to the receive buffer at once, the SYN-ACK acknowledges it, and the
    /// connection is a Fast Open child (Linux's tcp_fastopen_create_child
    /// and tcp_fastopen_add_skb). The data is at most what the receive
    /// buffer holds; any rest is left for the client to send again.
    pub(crate) fn accept_fast_open(&mut self, data: &[u8], now: Instant, env: &mut Env<'_>) {
        self.fast_open_child = true;
        let n = data.len().min(self.recv_space() as usize);
        if n == 0 {
            return;
        }
        // Linux's tcp_fastopen_add_skb queues the data without
        // tcp_event_data_recv: the delayed-ACK engine starts with the
        // first data after the SYN (so a FIN that comes first is ACKed at
        // once, fastopen/server/fin-close-socket.pkt).
        self.measure_rcv_mss(n);
        self.lrcvtime = now;
        self.recv_buffer.extend(&data[..n]);
        self.advance_rcv(n as u32);
        self.last_ack_sent = self.rcv_nxt;
        self.counters.bytes_received += n as u64;
        self.syn_data_acked = true;
        env.events.push_back(Event::Readable(env.id));
    }

    /// RFC 6191 §2: in TIME-WAIT, a SYN (no ACK, no RST) may start a new
    /// incarnation of the connection if it cannot be confused with the old
    /// one: with timestamps, its TSval is newer than TS.Recent; without, its
    /// sequence number is beyond the old connection's final RCV.NXT (RFC
    /// 9293 §3.6.1's exception, as Linux does). Otherwise TIME-WAIT answers
    /// it as usual.
    pub(crate) fn time_wait_accepts_new_syn(&self, seg: &TcpRepr<'_>) -> bool {
        if self.state != State::TimeWait || !seg.flags.syn() || seg.flags.ack() || seg.flags.rst() {
            return false;
        }
        match (self.timestamps, seg.options.timestamps) {
            (true, Some((tsval, _))) => crate::seq::ts_diff(tsval, self.ts_recent) > 0,
            (true, None) => false,
            (false, _) => seg.seq.diff(self.rcv_nxt) > 0,
        }
    }

    /// The final ACK of a SYN-cookie handshake (`crate::syncookie`): build
    /// the connection the SYN would have made, straight into ESTABLISHED
    /// (passing through SYN-RECEIVED, which existed only in the cookie).
    pub(crate) fn accept_cookie(
        &mut self,
        seg: &TcpRepr<'_>,
        mss: u16,
        now: Instant,
        env: &mut Env<'_>,
    ) {
        self.passive = true;
        self.state = State::Listen;
        self.irs = seg.seq - 1;
        self.rcv_nxt = seg.seq;
        self.snd_una = seg.ack;
        self.snd_nxt = seg.ack;
        self.snd_max = seg.ack;
        self.peer_mss = mss;
        let (window_scale, sack) = match (self.config.timestamps, seg.options.timestamps) {
            (true, Some((tsval, tsecr))) => {
                self.timestamps = true;
                self.ts_recent = tsval;
                self.ts_recent_stamp = now;
                crate::syncookie::options_from_bits(tsecr)
            }
            _ => (None, false),
        };
        if let (Some(ours), Some(theirs)) = (self.config.window_scale, window_scale) {
            self.window_scaling = true;
            self.rcv_wscale = ours.min(14);
            self.snd_wscale = theirs.min(14);
        }
        self.sack_permitted = self.config.sack && sack;
        let mss = u32::from(mss.min(self.config.mss)).max(64);
        self.smss = if self.timestamps { mss - 12 } else { mss };
        self.cc.set_mss(self.smss);
        let offered = crate::syncookie::syn_window(self.syn_space(), self.config.mss);
        self.syn_window = offered;
        self.rcv_ssthresh = offered;
        self.rcv_adv = self.rcv_nxt + offered;
        self.last_ack_sent = self.rcv_nxt;
        self.update_send_window(seg);
        self.snd_max_edge = self.snd_wnd_edge();
        self.set_state(State::SynReceived, env);
        self.set_state(State::Established, env);
        self.touch_keepalive(now);
        self.note_established_rcv_time(now);
        let _ = self.process_text_and_fin(seg, now, env);
    }

    /// SEGMENT ARRIVES for every state but LISTEN and CLOSED.
    pub(crate) fn on_segment(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        self.counters.segments_received += 1;
        // MSG_MORE holds a partial segment only for its own write: the
        // output an arriving segment prompts runs without the cork
        // (Linux's tcp_data_snd_check uses the socket's nonagle).
        self.write_queue.more = false;
        if self.state == State::SynSent {
            return self.on_segment_syn_sent(seg, now, env);
        }
        if self.state == State::Closed {
            return Disposition::Keep;
        }
        self.on_segment_synchronized(seg, now, env)
    }

    /// §3.10.7.3 SYN-SENT STATE.
    fn on_segment_syn_sent(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        // First, check the ACK bit: unacceptable if SEG.ACK =< ISS or > SND.NXT.
        let mut ack_acceptable = false;
        if seg.flags.ack() {
            if seg.ack.diff(self.iss) <= 0 || seg.ack.diff(self.snd_nxt) > 0 {
                // "send a reset (unless the RST bit is set) <SEQ=SEG.ACK><CTL=RST>
                // and discard" — Figure 8's old duplicate SYN recovery. The
                // connection stays in SYN-SENT.
                self.counters.dropped_segments += 1;
                if !seg.flags.rst() {
                    self.reply_rst = Some(seg.ack);
                }
                // Linux (tcp_rcv_synsent_state_process, "previous
                // FIN/ACK or RST/ACK might be ignored"): for any segment
                // with an unacceptable ACK, a RST,ACK included, and before
                // any retransmission, resend the SYN almost at once
                // (TCP_TIMEOUT_MIN, 2 jiffies: 2 ms at HZ=1000) rather than
                // after a whole initial RTO.
                if self.retries == 0 {
                    self.set_timer(Timer::Retransmit, now + SYN_SENT_QUICK_RETRY);
                }
                return Disposition::Keep;
            }
            ack_acceptable = true;
        }
        // Second, the RST bit: RFC 5961 §3.2 / RFC 9293: accepted only with
        // an acceptable ACK; then "connection reset", ECONNREFUSED.
        if seg.flags.rst() {
            if ack_acceptable {
                return self.fail(SocketError::ConnectionRefused, env);
            }
            self.counters.dropped_segments += 1;
            return Disposition::Keep;
        }
        // Fourth, the SYN bit.
        if !seg.flags.syn() {
            self.counters.dropped_segments += 1;
            return Disposition::Keep;
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        // RFC 7323 Last.ACK.sent starts at the first ACK we will send: a
        // number of this connection, so comparisons with it stay within
        // 2^31 whatever the peer's ISN.
        self.last_ack_sent = self.rcv_nxt;
        // Our SYN offered `syn_window` before we knew where the peer's
        // sequence space starts; the right edge is relative to RCV.NXT.
        self.rcv_adv = self.rcv_nxt + self.syn_window;
        self.take_syn_options(seg, now);
        self.take_syn_window(seg, if ack_acceptable { seg.ack } else { self.iss });
        if ack_acceptable {
            self.ecn_on_syn_ack(seg);
        } else {
            // Simultaneous open: the peer's SYN must ask for ECN too
            // (Linux's tcp_ecn_rcv_syn).
            self.ecn.ok = self.ecn.ok && seg.flags.ece() && seg.flags.cwr();
        }
        if ack_acceptable {
            // The ACK covers our SYN only: SND.UNA moves past it; no data
            // (which may already be queued) is acknowledged by it.
            self.snd_una = seg.ack;
            self.on_bytes_acked(self.iss, now, seg);
        }
        if self.snd_una.diff(self.iss) > 0 {
            // Our SYN is acknowledged: ESTABLISHED, send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
            self.clear_timer(Timer::Retransmit);
            self.retries = 0;
            self.set_state(State::Established, env);
            env.events.push_back(Event::Connected(env.id));
            self.touch_keepalive(now);
            self.note_established_rcv_time(now);
            // RFC 7413 §4.1.3: what the SYN-ACK says about Fast Open.
            self.fast_open_synack(seg);
            if std::mem::take(&mut self.write_pending) && seg.payload.is_empty() && !seg.flags.fin()
            {
                // Linux (tcp_rcv_synsent_state_process): with a writer
                // waiting for the connection, the ACK waits (up to
                // TCP_DELACK_MAX) to ride on its data; quick-ACK mode
                // starts with the minimum ato (tcp_enter_quickack_mode), so
                // data sent at once makes the exchange interactive.
                self.set_timer(Timer::DelayedAck, now + Duration::from_millis(200));
                self.ato = self.config.delayed_ack.unwrap_or(Duration::ZERO);
                self.lrcvtime = now;
            } else {
                self.ack_now = true;
                // "form an ACK segment ... and send it": at once, even when the
                // SYN,ACK also brings a FIN (no delayed ACK of that FIN).
                self.ack_forced = true;
            }
            if !seg.payload.is_empty() || seg.flags.fin() {
                // Data or FIN on a SYN-ACK: continue with the sixth step and
                // after. The SYN occupies SEG.SEQ, so the text starts at
                // SEG.SEQ + 1 (= RCV.NXT): take the SYN off before the text
                // step, or its first octet would be trimmed as a duplicate.
                let text = TcpRepr {
                    flags: crate::wire::Flags(seg.flags.0 & !crate::wire::Flags::SYN.0),
                    seq: seg.seq + 1,
                    ..*seg
                };
                return self.process_text_and_fin(&text, now, env);
            }
        } else {
            // Simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
            // The SYN's retransmission timer keeps running (Linux: the
            // SYN,ACK goes again when the SYN's RTO expires, checked with
            // packetdrill, scripts/simultaneous-open-shutdown.pkt).
            self.set_state(State::SynReceived, env);
            self.syn_pending = true;
        }
        Disposition::Keep
    }

    /// RFC 9293 §3.10.7.4 first check: the acceptability test, with the
    /// zero-window rule relaxed for a bare FIN (Linux accepts a FIN at a zero
    /// window: it takes no buffer space).
    fn acceptable(&self, seg: &TcpRepr<'_>) -> bool {
        let rcv_wnd = self.rcv_wnd();
        let data_len = seg.payload.len() as u32;
        let seg_len = seg.seq_len();
        let start_ok = seg.seq.in_window(self.rcv_nxt, rcv_wnd);
        match (seg_len, rcv_wnd) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => start_ok,
            (_, 0) => data_len == 0 && seg.seq == self.rcv_nxt,
            (_, _) => start_ok || (seg.seq + (seg_len - 1)).in_window(self.rcv_nxt, rcv_wnd),
        }
    }

    /// RFC 5961 §7: challenge ACKs are rate limited per second.
    /// Linux's out-of-window ACK rate limit (tcp_oow_rate_limited,
    /// net.ipv4.tcp_invalid_ratelimit = 500 ms): ACKs sent in reply to
    /// unacceptable segments (dup ACKs, PAWS rejections, challenge ACKs)
    /// go out at most once per interval per connection, so two stacks
    /// that disagree cannot ACK each other in a loop (RFC 5961 §7 leaves
    /// the throttle to the implementation). A segment that occupies
    /// sequence space (data or FIN) and has no SYN is exempt unless
    /// `strict`: it cannot be part of an ACK loop (Linux's rule too).
    fn oow_ack_allowed(&mut self, now: Instant, seg: &TcpRepr<'_>, strict: bool) -> bool {
        if !strict && seg.seq_len() > 0 && !seg.flags.syn() {
            return true;
        }
        if let Some(last) = self.last_oow_ack
            && now.saturating_since(last) < self.config.invalid_ack_ratelimit
        {
            self.counters.oow_acks_suppressed += 1;
            return false;
        }
        self.last_oow_ack = Some(now);
        true
    }

    fn challenge_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if !self.oow_ack_allowed(now, seg, true) {
            return;
        }
        if now.saturating_since(self.challenge_window_start) >= Duration::from_secs(1) {
            self.challenge_window_start = now;
            self.challenge_count = 0;
        }
        if self.challenge_count < self.config.challenge_ack_limit {
            self.challenge_count += 1;
            tracing::debug!(seq = seg.seq.0, ack = seg.ack.0, flags = %seg.flags, "challenge ACK (RFC 5961)");
            self.counters.challenge_acks += 1;
            self.ack_now = true;
        }
    }

    fn on_segment_synchronized(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        // Simultaneous open (Figure 7): in SYN-RECEIVED from SYN-SENT, the
        // peer's SYN,ACK repeats its SYN and acknowledges ours. Its SYN is
        // the one already counted in RCV.NXT, so process it as the bare ACK
        // it is (the RFC 5961 §4 exception Linux also makes).
        let stripped;
        self.window_unscaled = false;
        let seg = if self.state == State::SynReceived
            && !self.passive
            && seg.flags.syn()
            && seg.flags.ack()
            && !seg.flags.rst()
            && seg.seq + 1 == self.rcv_nxt
            && seg.ack == self.snd_max
        {
            stripped = TcpRepr {
                flags: crate::wire::Flags(seg.flags.0 & !crate::wire::Flags::SYN.0),
                seq: seg.seq + 1,
                ..*seg
            };
            self.window_unscaled = true;
            // Its SYN is a duplicate: like Linux (tcp_data_queue, "a
            // retransmit ... force an immediate ack"), acknowledge it at
            // once, with a D-SACK block for the SYN (RFC 2883).
            self.ack_now = true;
            // (Linux's tcp_dsack gates every D-SACK block.)
            if self.sack_permitted && self.config.dsack {
                self.dsack = Some((seg.seq, seg.seq + 1));
            }
            &stripped
        } else {
            seg
        };
        if self.state == State::TimeWait {
            return self.on_segment_time_wait(seg, now, env);
        }
        // SYN-RECEIVED: the peer retransmitted its SYN (our SYN-ACK was
        // lost): retransmit the SYN-ACK, as Linux does.
        if self.state == State::SynReceived
            && seg.flags.syn()
            && !seg.flags.ack()
            && seg.seq == self.irs
        {
            self.syn_pending = true;
            return Disposition::Keep;
        }

        // RFC 7323 §5.3 R1-R3: PAWS before the sequence check.
        if self.timestamps
            && !seg.flags.rst()
            && let Some((tsval, _)) = seg.options.timestamps
            && crate::seq::ts_diff(tsval, self.ts_recent) < 0
            && self.paws_recent_valid(now)
        {
            self.counters.dropped_segments += 1;
            self.counters.paws_rejected += 1;
            if self.oow_ack_allowed(now, seg, false) {
                self.ack_now = true;
            }
            return Disposition::Keep;
        }

        // First: sequence number acceptability.
        if !self.acceptable(seg) {
            self.counters.dropped_segments += 1;
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set)".
            if !seg.flags.rst() && self.oow_ack_allowed(now, seg, false) {
                self.ack_now = true;
                // RFC 2883: an old duplicate is reported as a D-SACK block
                // (Linux tcp_send_dupack), up to RCV.NXT.
                if self.sack_permitted
                    && self.config.dsack
                    && seg.seq_len() > 0
                    && seg.seq.diff(self.rcv_nxt) < 0
                {
                    let end = seg.seq + seg.seq_len();
                    let end = if end.diff(self.rcv_nxt) > 0 {
                        self.rcv_nxt
                    } else {
                        end
                    };
                    self.dsack = Some((seg.seq, end));
                }
            }
            return Disposition::Keep;
        }

        // Second: RST (RFC 5961 §3.2): exact match resets, otherwise challenge.
        if seg.flags.rst() {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(now, seg);
                return Disposition::Keep;
            }
            return match self.state {
                // Passive open: "return this connection to LISTEN": the
                // listener is untouched; this TCB goes away quietly.
                // A Fast Open child is a full socket the application may
                // hold: Linux's tcp_reset gives it ECONNRESET.
                State::SynReceived if self.passive && self.fast_open_child => {
                    self.fail(SocketError::ConnectionReset, env)
                }
                State::SynReceived if self.passive => {
                    self.set_state(State::Listen, env);
                    Disposition::Delete
                }
                State::SynReceived => self.fail(SocketError::ConnectionRefused, env),
                State::Established | State::FinWait1 | State::FinWait2 => {
                    self.fail(SocketError::ConnectionReset, env)
                }
                // The application already saw EOF; Linux (tcp_reset)
                // reports EPIPE rather than ECONNRESET in CLOSE-WAIT.
                State::CloseWait => self.fail(SocketError::BrokenPipe, env),
                // The application may still hold the socket (a shutdown,
                // not a close): Linux's tcp_reset reports ECONNRESET in
                // every state but SYN-SENT and CLOSE-WAIT.
                State::LastAck | State::Closing => self.fail(SocketError::ConnectionReset, env),
                // TIME-WAIT is handled apart (on_segment_time_wait).
                _ => self.finish(env),
            };
        }

        // Fourth: SYN. In SYN-RECEIVED from a passive OPEN, "return this
        // connection to the LISTEN state and return" (RFC 9293 §3.10.7.4);
        // Linux (tcp_check_req, embryonic_reset) also answers the SYN with
        // a RST. (The retransmitted SYN at IRS was handled above.)
        if seg.flags.syn()
            && self.state == State::SynReceived
            && self.passive
            && !self.fast_open_child
        {
            self.counters.dropped_segments += 1;
            self.set_state(State::Listen, env);
            return Disposition::DeleteAndReset;
        }
        // In a synchronized state: challenge ACK (RFC 5961 §4.2).
        if seg.flags.syn() {
            self.challenge_ack(now, seg);
            return Disposition::Keep;
        }

        // Fifth: the ACK field. No ACK: drop.
        if !seg.flags.ack() {
            self.counters.dropped_segments += 1;
            return Disposition::Keep;
        }
        // RFC 5961 §5.2: acceptable only in [SND.UNA - MAX.SND.WND, SND.NXT].
        // Like Linux (tcp_ack: "do not accept ACK for bytes we never
        // sent"), the span below SND.UNA is also no more than the octets
        // acknowledged so far (data and FIN, not the SYN), so an ACK at or
        // below the ISS is never a harmless duplicate. Not in SYN-RECEIVED,
        // where an unacceptable ACK draws a RST (RFC 9293 §3.10.7.4 fifth
        // step, below; Linux tcp_check_req hands it to the listener, which
        // resets it).
        if self.state != State::SynReceived {
            let fin_acked = self.fin_seq.is_some_and(|fin| self.snd_una.diff(fin) > 0);
            let acked = self.snd_consumed + u64::from(fin_acked);
            let below = self.max_snd_wnd.min(acked.min(u64::from(u32::MAX)) as u32);
            let ack_floor = self.snd_una - below;
            if seg.ack.diff(self.snd_max) > 0 || seg.ack.diff(ack_floor) < 0 {
                self.counters.dropped_segments += 1;
                self.challenge_ack(now, seg);
                return Disposition::Keep;
            }
        }

        // RFC 7323 §4.3: update TS.Recent only after the ACK check passed.
        if self.timestamps
            && let Some((tsval, _)) = seg.options.timestamps
            && seg.seq.diff(self.last_ack_sent) <= 0
            && crate::seq::ts_diff(tsval, self.ts_recent) >= 0
        {
            self.ts_recent = tsval;
            self.ts_recent_stamp = now;
        }

        if self.state == State::SynReceived {
            // SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED; otherwise RST <SEQ=SEG.ACK>.
            if seg.ack.diff(self.snd_una) > 0 && seg.ack.diff(self.snd_max) <= 0 {
                // The ACK covers our SYN; anything beyond it is data a Fast
                // Open child sent in SYN-RECEIVED (RFC 7413 §4.2.2), which
                // the ACK processing below acknowledges and frees.
                self.snd_una = self.iss + 1;
                self.update_send_window(seg);
                self.retries = 0;
                self.syn_pending = false;
                self.take_rtt_sample_from_handshake(seg, now);
                // RFC 6298 §5.2-5.3: the SYN's timer stops, unless a Fast
                // Open child's data (or FIN) sent in SYN-RECEIVED is still
                // outstanding beyond it: then the timer runs on for that
                // data (Linux's tcp_rcv_synrecv_state_fastopen re-arms it).
                // An ACK of the SYN alone moves nothing in the ACK
                // processing below, which would otherwise leave that data
                // with no timer at all.
                if self.snd_max.diff(self.iss + 1) > 0 {
                    self.restart_rto(now);
                } else {
                    self.clear_timer(Timer::Retransmit);
                }
                let next = if self.fin_queued {
                    State::FinWait1
                } else {
                    State::Established
                };
                self.set_state(next, env);
                self.touch_keepalive(now);
                self.note_established_rcv_time(now);
                let r = self.process_ack_and_rest(seg, now, env);
                if r == Disposition::Keep && self.passive {
                    return Disposition::Established;
                }
                if r == Disposition::Keep {
                    env.events.push_back(Event::Connected(env.id));
                }
                return r;
            }
            // "If the segment acknowledgment is not acceptable, form a reset
            // segment <SEQ=SEG.ACK><CTL=RST> and send it."
            self.counters.dropped_segments += 1;
            self.reply_rst = Some(seg.ack);
            return Disposition::Keep;
        }
        self.touch_keepalive(now);
        self.process_ack_and_rest(seg, now, env)
    }

    /// The window of the peer's SYN or SYN-ACK, never scaled (RFC 7323
    /// §2.2), counted from `wl2`: the first send window.
    fn take_syn_window(&mut self, seg: &TcpRepr<'_>, wl2: SeqNum) {
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = wl2;
        self.snd_max_edge = self.snd_wnd_edge();
    }

    /// Takes the window of `seg` (scaled) as SND.WND, from SND.WL2 =
    /// SEG.ACK, and remembers the highest right edge the peer has offered.
    fn update_send_window(&mut self, seg: &TcpRepr<'_>) {
        // RFC 7323 §2.2: "The window field in a segment where the SYN bit
        // is set (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled." The
        // SYN,ACK of a simultaneous open reaches us in SYN-RECEIVED, after
        // scaling was agreed, and is processed without its SYN bit; its
        // window is still unscaled.
        let shift = if seg.flags.syn() || self.window_unscaled {
            0
        } else {
            self.snd_wscale
        };
        let window = u32::from(seg.window) << shift;
        if self.snd_wnd != window {
            tracing::debug!(from = self.snd_wnd, to = window, "window update (SND.WND)");
        }
        self.snd_wnd = window;
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        let edge = self.snd_wnd_edge();
        if edge.diff(self.snd_max_edge) > 0 {
            self.snd_max_edge = edge;
        }
    }

    /// SEGMENT ARRIVES in TIME-WAIT (a new SYN that may reopen the
    /// connection was taken out before, RFC 6191). RFC 9293 §3.10.7.4
    /// answers the peer's retransmitted FIN with an ACK and restarts
    /// 2·MSL (the lost-final-ACK case); RFC 1337 ignores a RST. Every
    /// other case is left to the implementation, and we do what Linux's
    /// TIME-WAIT socket does (tcp_timewait_state_process):
    /// - a bare segment exactly at RCV.NXT (no data, SYN or FIN) restarts
    ///   2·MSL and draws no reply;
    /// - a RST exactly at RCV.NXT is ignored with RFC 1337, otherwise it
    ///   ends TIME-WAIT; any other RST is dropped;
    /// - everything else (the FIN again, a FIN or data past RCV.NXT, an old
    ///   segment, a PAWS-rejected one, a SYN not taken as new) is ACKed,
    ///   with the out-of-window rate limit, and restarts 2·MSL if it
    ///   carries an ACK or failed PAWS.
    fn on_segment_time_wait(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        if planted!(TimeWaitIgnoresFin)
            && seg.flags.fin()
            && !seg.flags.rst()
            && seg.seq + seg.seq_len() == self.rcv_nxt
        {
            self.counters.dropped_segments += 1;
            return Disposition::Keep;
        }
        let two_msl = now + self.config.msl.saturating_mul(2);
        // RFC 7323 §5.3 (PAWS), which does not apply to a RST.
        let paws_reject = self.timestamps
            && !seg.flags.rst()
            && seg
                .options
                .timestamps
                .is_some_and(|(tsval, _)| crate::seq::ts_diff(tsval, self.ts_recent) < 0)
            && self.paws_recent_valid(now);
        if paws_reject {
            self.counters.paws_rejected += 1;
        }
        if !paws_reject && seg.seq == self.rcv_nxt && (seg.seq_len() == 0 || seg.flags.rst()) {
            if seg.flags.rst() {
                if !self.config.rfc1337 {
                    return self.finish(env);
                }
                // RFC 1337: no TIME-WAIT assassination.
                self.counters.dropped_segments += 1;
            } else {
                self.set_timer(Timer::TimeWait, two_msl);
            }
            if let Some((tsval, _)) = seg.options.timestamps
                && self.timestamps
            {
                self.ts_recent = tsval;
                self.ts_recent_stamp = now;
            }
            return Disposition::Keep;
        }
        self.counters.dropped_segments += 1;
        if seg.flags.rst() {
            return Disposition::Keep;
        }
        if paws_reject || seg.flags.ack() {
            self.set_timer(Timer::TimeWait, two_msl);
        }
        if self.oow_ack_allowed(now, seg, false) {
            self.ack_now = true;
        }
        Disposition::Keep
    }

    fn take_rtt_sample_from_handshake(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        if self.retries == 0 && !self.timestamps {
            let r = now.saturating_since(self.last_send_time);
            self.rtt.sample(r);
            self.rack_note_rtt(r);
        } else if let (true, Some((_, ecr))) = (self.timestamps, seg.options.timestamps)
            && ecr != 0
        {
            let ms = self.ts_now(now).wrapping_sub(ecr);
            if ms < 1 << 30 {
                let r = Duration::from_millis(u64::from(ms));
                self.rtt.sample(r);
                self.rack_note_rtt(r);
            }
        }
    }

    /// Fifth step continued (ESTABLISHED and later), then text and FIN.
    fn process_ack_and_rest(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        // The peer is alive: its ACK answers any zero-window probe (Linux's
        // tcp_ack clears icsk_probes_out).
        self.probes_unanswered = 0;
        let acked = seg.ack.diff(self.snd_una);
        let previous_una = self.snd_una;
        if acked > 0 {
            self.snd_una = seg.ack;
            if self.snd_nxt.diff(self.snd_una) < 0 {
                self.snd_nxt = self.snd_una;
            }
            self.on_bytes_acked(previous_una, now, seg);
        } else if self.rack_enabled() {
            // RFC 8985: every ACK may deliver SACKed segments and mark losses.
            self.rack_on_ack(seg, previous_una, now, None);
        } else if self.sack_permitted {
            // RFC 6675 §5: every ACK's SACK blocks update the scoreboard; a
            // duplicate ACK is one that SACKs new data (§2).
            self.sack_on_ack_without_progress(seg, now);
        } else if acked == 0
            && seg.payload.is_empty()
            && !seg.flags.fin()
            && self.snd_max != self.snd_una
            && (u32::from(seg.window) << self.snd_wscale) == self.snd_wnd
        {
            self.on_duplicate_ack(now);
        }
        self.ecn_on_ack(seg, now);
        // Window update (§3.10.7.4): "If SND.UNA =< SEG.ACK =< SND.NXT, the
        // send window should be updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 =
        // SEG.SEQ and SND.WL2 =< SEG.ACK))". Linux (tcp_may_update_window)
        // also takes the window of any ACK that advances SND.UNA, whatever
        // its SEQ (typically the peer's retransmission): the window belongs
        // to that ACK, and keeping the old one would slide it right from
        // the new SND.UNA, past any edge the peer offered.
        if seg.ack.diff(previous_una) >= 0
            && ((acked > 0 && !planted!(PastRightEdge))
                || self.snd_wl1.diff(seg.seq) < 0
                || (self.snd_wl1 == seg.seq && self.snd_wl2.diff(seg.ack) <= 0))
        {
            self.update_send_window(seg);
            if self.snd_wnd > 0 {
                self.clear_timer(Timer::Persist);
                self.persist_backoff = 0;
            }
        }

        // Our FIN acknowledged?
        let fin_acked = self.fin_seq.is_some_and(|fin| seg.ack.diff(fin) > 0);
        match self.state {
            // FIN-WAIT-1 with the peer's in-order FIN in the same segment goes
            // straight to TIME-WAIT in the FIN step (Figure 5's "rcv FIN, ACK").
            State::FinWait1 if fin_acked && !(seg.flags.fin() && seg.seq == self.rcv_nxt) => {
                self.set_state(State::FinWait2, env)
            }
            State::Closing if fin_acked => {
                self.enter_time_wait(now, env);
                return Disposition::Keep;
            }
            State::LastAck if fin_acked => return self.finish(env),
            _ => {}
        }
        if self.state == State::FinWait2 && self.orphaned && self.timer(Timer::FinWait2).is_none() {
            self.set_timer(Timer::FinWait2, now + self.config.fin_wait_2_timeout);
        }
        self.process_text_and_fin(seg, now, env)
    }

    /// SND.UNA advanced from `previous_una` to its current value.
    fn on_bytes_acked(&mut self, previous_una: SeqNum, now: Instant, seg: &TcpRepr<'_>) {
        // SYN and FIN occupy sequence space but not the send buffer: only
        // the data octets in (previous_una, SND.UNA] leave the buffer.
        let mut data_acked = self.snd_una.since(previous_una);
        // snd_consumed has not moved yet: this ACK is the SYN's if the SYN
        // was unacknowledged before it.
        if previous_una == self.iss && self.snd_consumed == 0 {
            data_acked -= 1;
        }
        if let Some(fin) = self.fin_seq
            && fin.diff(previous_una) >= 0
            && self.snd_una.diff(fin) > 0
        {
            data_acked -= 1;
        }
        let data_acked = data_acked.min(self.send_buffer.len() as u32);
        let flight_before = self.flight_size();
        self.send_buffer.consume(data_acked as usize);
        self.snd_consumed += u64::from(data_acked);
        // tcp_ack: data got through, so an ICMP soft error is forgotten.
        if data_acked > 0 {
            self.icmp.soft_error = None;
        }
        self.release_marks();
        if data_acked > 0 && self.writable_blocked {
            self.writable_blocked = false;
        }
        // RTT sample: from timestamps (RFC 7323 §4.1, valid even for
        // retransmissions) or from the timed segment (Karn's algorithm).
        let mut rtt = None;
        if self.timestamps {
            if let Some((_, ecr)) = seg.options.timestamps
                && ecr != 0
            {
                let ms = self.ts_now(now).wrapping_sub(ecr);
                if ms < 1 << 30 {
                    rtt = Some(Duration::from_millis(u64::from(ms)));
                }
            }
        } else if let Some((timed_seq, sent_at)) = self.rtt_timing
            && seg.ack.diff(timed_seq) > 0
        {
            rtt = Some(now.saturating_since(sent_at));
            self.rtt_timing = None;
        }
        if let Some(r) = rtt {
            self.rtt.sample(r);
            self.rack_note_rtt(r);
        }
        self.retries = 0;
        self.persist_backoff = 0;

        if self.rack_enabled() {
            let sample = self.ack_sample(previous_una, data_acked, flight_before, rtt);
            // RACK sets the retransmission timer slot itself (RTO, PTO or
            // reorder timer, RFC 8985 §6-7).
            self.rack_on_ack(seg, previous_una, now, Some(sample));
            return;
        } else if self.sack_permitted {
            let sample = self.ack_sample(previous_una, data_acked, flight_before, rtt);
            self.sack_on_cumulative_ack(seg, now, sample);
        } else if !self.newreno_on_cumulative_ack(seg.ack, data_acked, now) {
            // The sample first: the duplicate ACKs counted so far stood for
            // segments delivered then (Linux's Reno sacked_out).
            let sample = self.ack_sample(previous_una, data_acked, flight_before, rtt);
            self.newreno_on_ack(now, sample);
        }
        // RFC 6298 §5.2-5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_max {
            self.clear_timer(Timer::Retransmit);
        } else if !self.rec.in_recovery() {
            self.restart_rto(now);
        }
    }

    /// Sixth to eighth steps: URG ignored, segment text, FIN.
    fn process_text_and_fin(
        &mut self,
        seg: &TcpRepr<'_>,
        now: Instant,
        env: &mut Env<'_>,
    ) -> Disposition {
        self.ecn_on_receive(seg);
        // Seventh: text, in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2 only.
        if !seg.payload.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.orphaned {
                        // Linux: data for a socket the application closed
                        // draws a RST (tcp_rcv_state_process, RFC 9293
                        // §3.10.4's "no more data will be received"), in
                        // the form of a reply to an unwanted segment
                        // (§3.10.7.1): <SEQ=SEG.ACK><CTL=RST>, as Linux's
                        // tcp_v4_send_reset answers it (this segment
                        // passed the ACK check, so SEG.ACK is set).
                        self.reply_rst = Some(seg.ack);
                        self.error = Some(SocketError::ConnectionReset);
                        self.set_state(State::Closed, env);
                        env.events.push_back(Event::Closed(env.id));
                        return Disposition::Keep;
                    }
                    self.receive_text(seg, now, env);
                }
                _ => {}
            }
        }
        // Eighth: FIN.
        if seg.flags.fin() {
            let fin_offset = self.rcv_offset
                + u64::from(seg.seq.diff(self.rcv_nxt).max(0) as u32)
                + seg.payload.len() as u64;
            let in_order_end = seg.seq + seg.payload.len() as u32;
            if in_order_end == self.rcv_nxt || (seg.payload.is_empty() && seg.seq == self.rcv_nxt) {
                return self.receive_fin(now, env);
            }
            if !self.fin_received
                && in_order_end.diff(self.rcv_nxt) > 0
                && in_order_end.diff(self.rcv_adv) <= 0
            {
                // A FIN beyond a hole: remember it until the hole fills.
                self.pending_fin = Some(fin_offset);
                // It is an out-of-order segment even without data: a
                // duplicate ACK at once (RFC 5681 §4.2), as Linux queues
                // it out of order and ACKs (tcp_data_queue_ofo).
                self.ack_now = true;
            }
        }
        Disposition::Keep
    }

    fn receive_text(&mut self, seg: &TcpRepr<'_>, now: Instant, env: &mut Env<'_>) {
        // Trim to [RCV.NXT, RCV.NXT + RCV.WND): data beyond the window is
        // dropped and ACKed (§3.10.7.4 first check, "trimmed").
        let mut seq = seg.seq;
        let mut data = seg.payload;
        let before = self.rcv_nxt.diff(seq);
        if before > 0 {
            // RFC 2883: the old part is reported as a D-SACK block (Linux
            // tcp_data_queue, "partial packet").
            if self.sack_permitted && self.config.dsack {
                self.dsack = Some((seq, self.rcv_nxt));
            }
            let cut = (before as usize).min(data.len());
            data = &data[cut..];
            seq += cut as u32;
        }
        let window = self.rcv_wnd().min(self.recv_space()) as i64;
        let offset_in_window = i64::from(seq.diff(self.rcv_nxt));
        let room = (window - offset_in_window).max(0) as usize;
        if data.len() > room {
            data = &data[..room];
            self.ack_now = true;
            self.ack_forced = true;
            self.counters.dropped_segments += 1;
        }
        if data.is_empty() {
            self.ack_now = true;
            return;
        }
        if seq == self.rcv_nxt {
            self.grow_window(data.len());
            self.on_data_received(data.len(), now);
            let filled_hole = !self.reassembly.is_empty();
            self.recv_buffer.extend(data);
            self.advance_rcv(data.len() as u32);
            while let Some(chunk) = self.reassembly.pop_at(self.rcv_offset) {
                self.recv_buffer.extend(&chunk);
                self.advance_rcv(chunk.len() as u32);
            }
            if filled_hole {
                self.sack_report.delivered(self.rcv_offset);
            }
            self.counters.bytes_received += data.len() as u64;
            env.events.push_back(Event::Readable(env.id));
            if filled_hole {
                // RFC 5681 §4.2: ACK at once when a segment fills a hole.
                self.ack_now = true;
                self.ack_forced = true;
            }
            self.schedule_ack(seg, now);
            if let Some(fin) = self.pending_fin
                && fin == self.rcv_offset
            {
                self.pending_fin = None;
                let _ = self.receive_fin(now, env);
            }
        } else {
            // Out of order: keep it, ACK at once (a duplicate ACK, RFC 5681 §4.2).
            let offset = self.rcv_offset + u64::from(seq.since(self.rcv_nxt));
            if self.reassembly.insert(offset, data)
                && let Some(block) = self.reassembly.block_containing(offset)
            {
                // RFC 2018 §4: this ACK's first SACK block is the one
                // holding the segment that triggered it.
                self.sack_report.record(block);
            }
            self.ack_now = true;
        }
    }

    /// Linux's tcp_grow_window: an in-order segment whose payload is at
    /// least half the memory it occupies raises rcv_ssthresh by two MSS.
    /// A received segment sits in a 2 KB buffer plus sk_buff overhead
    /// (about 2368 bytes), so segments of 1184 bytes and more count (on
    /// Linux a 1460-byte segment moves `win` from 502 to 525, a 1000-byte
    /// one does not).
    fn grow_window(&mut self, len: usize) {
        const SEGMENT_TRUESIZE: usize = 2368;
        let clamp = (self.config.recv_buffer as u32).min(65535u32 << self.rcv_wscale);
        if 2 * len >= SEGMENT_TRUESIZE && self.rcv_ssthresh < clamp {
            self.rcv_ssthresh = (self.rcv_ssthresh + 2 * u32::from(self.config.mss)).min(clamp);
        }
    }

    fn advance_rcv(&mut self, n: u32) {
        self.rcv_nxt += n;
        self.rcv_offset += u64::from(n);
    }

    /// RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full
    /// segment, else within the delayed-ACK time; at the start of a
    /// connection ACK every segment (Linux quick-ack).
    fn schedule_ack(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        if self.quick_acks_left > 0 && !self.pingpong {
            self.quick_acks_left -= 1;
            self.ack_now = true;
            return;
        }
        if self.config.delayed_ack.is_none() {
            self.ack_now = true;
            return;
        }
        let delay = self.delack_timeout();
        // Count received bytes against two full-sized segments (Linux compares
        // with its receive MSS estimate; ours is the MSS we announced, less
        // the timestamp option when it is in use).
        let rcv_mss = u32::from(self.config.mss) - if self.timestamps { 12 } else { 0 };
        self.ack_pending_segments += seg.payload.len() as u32;
        if self.ack_pending_segments >= 2 * rcv_mss {
            self.ack_now = true;
        } else if self.timer(Timer::DelayedAck).is_none() {
            self.set_timer(Timer::DelayedAck, now + delay);
        }
    }

    /// Linux's tcp_event_data_recv, for in-order data: the first data
    /// starts the engine (ato = the minimum delay, 40 ms); a segment that
    /// follows the last within half of it pulls ato down, one within ato
    /// sets it to about the gap, and one after more than an RTO of silence
    /// returns to quick-ACK mode (the sender is restarting its window).
    fn on_data_received(&mut self, len: usize, now: Instant) {
        let Some(ato_min) = self.config.delayed_ack else {
            return;
        };
        self.measure_rcv_mss(len);
        if self.ato == Duration::ZERO {
            // The first data: quick-ACK mode for as many segments as half
            // the window holds (tcp_incr_quickack), then ato = 40 ms.
            self.incr_quick_acks();
            self.ato = ato_min;
        } else {
            let gap = now.saturating_since(self.lrcvtime);
            let rto = self.rtt.rto();
            let half = Duration::from_nanos(self.ato.as_nanos() / 2);
            if gap.as_nanos() <= ato_min.as_nanos() / 2 {
                self.ato = half + Duration::from_nanos(ato_min.as_nanos() / 2);
            } else if gap < self.ato {
                self.ato = (half + gap).min(rto);
            } else if gap > rto {
                self.incr_quick_acks();
            }
        }
        self.lrcvtime = now;
    }

    /// Linux's tcp_initialize_rcv_mss and tcp_measure_rcv_mss: start from
    /// min(advertised MSS, send MSS, half the window, 536) (at least 88)
    /// and follow the largest segment seen, up to the advertised MSS.
    fn measure_rcv_mss(&mut self, len: usize) {
        let advmss = u32::from(self.config.mss);
        if self.rcv_mss == 0 {
            self.rcv_mss = advmss.min(self.smss).min(self.rcv_wnd() / 2).clamp(88, 536);
        }
        let len = len.min(u32::MAX as usize) as u32;
        if len >= self.rcv_mss {
            self.rcv_mss = len.min(advmss);
        }
    }

    /// tcp_incr_quickack: window / (2 * rcv_mss) quick ACKs (2 if that is
    /// none), at most the configured number; never fewer than are left.
    /// (Checked with packetdrill on Linux 6.18: with a 1460-byte window
    /// and 500-byte segments only the first is ACKed at once.)
    fn incr_quick_acks(&mut self) {
        let quick = match self.rcv_wnd() / (2 * self.rcv_mss.max(1)) {
            0 => 2,
            q => q,
        }
        .min(self.config.quick_ack_segments);
        self.quick_acks_left = self.quick_acks_left.max(quick);
    }

    /// How long an ACK may wait (Linux's tcp_send_delayed_ack): ato, but
    /// beyond the 40 ms minimum no longer than the smoothed RTT, nor than
    /// 200 ms in pingpong mode or 500 ms otherwise.
    pub(crate) fn delack_timeout(&self) -> Duration {
        let ato_min = self.config.delayed_ack.unwrap_or(Duration::ZERO);
        let ato = self.ato;
        if ato <= ato_min {
            return ato;
        }
        let mut max_ato = if self.pingpong {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(500)
        };
        if let Some(srtt) = self.rtt.srtt() {
            max_ato = max_ato.min(srtt.max(ato_min));
        }
        ato.min(max_ato)
    }

    /// Linux (tcp_fin enters "pingpong" mode): once data has flowed, the
    /// ACK of the peer's FIN waits for the delayed-ACK timer, expecting the
    /// application's own FIN to carry it: the three-way close. RFC 1122
    /// 4.2.3.2 allows the delay. Linux ACKs at once when nothing was ever
    /// received (its delayed-ACK engine is not yet started), when more than
    /// one full segment is unacknowledged, and when the segment filled a hole.
    fn delay_fin_ack(&mut self, now: Instant) {
        if self.config.delayed_ack.is_none() {
            return;
        }
        self.pingpong = true;
        let delay = self.delack_timeout();
        let rcv_mss = u32::from(self.config.mss) - if self.timestamps { 12 } else { 0 };
        if self.counters.bytes_received == 0
            || self.ato == Duration::ZERO
            || self.ack_forced
            || self.rcv_nxt.since(self.last_ack_sent) > rcv_mss
        {
            return;
        }
        self.ack_now = false;
        if self.timer(Timer::DelayedAck).is_none() {
            self.set_timer(Timer::DelayedAck, now + delay);
        }
    }

    /// The FIN is in order: RCV.NXT advances over it, ACK it, signal EOF.
    fn receive_fin(&mut self, now: Instant, env: &mut Env<'_>) -> Disposition {
        if self.fin_received {
            // A second FIN past the first. In CLOSE-WAIT, CLOSING and
            // LAST-ACK it is ignored without a reply, as Linux ignores any
            // segment text at or past RCV.NXT there (tcp_rcv_state_process);
            // RFC 9293 §3.10.7.4 only says to remain in the state.
            if self.state == State::TimeWait {
                self.ack_now = true;
            }
            return Disposition::Keep;
        }
        self.fin_received = true;
        self.advance_rcv(1);
        self.ack_now = true;
        env.events.push_back(Event::PeerClosed(env.id));
        env.events.push_back(Event::Readable(env.id));
        match self.state {
            State::SynReceived | State::Established => {
                self.set_state(State::CloseWait, env);
                self.delay_fin_ack(now);
            }
            State::FinWait1 => {
                let fin_acked = self.fin_seq.is_some_and(|fin| self.snd_una.diff(fin) > 0);
                if fin_acked {
                    self.enter_time_wait(now, env);
                } else {
                    self.set_state(State::Closing, env);
                }
            }
            State::FinWait2 => {
                self.clear_timer(Timer::FinWait2);
                self.enter_time_wait(now, env);
            }
            _ => {}
        }
        Disposition::Keep
    }

    /// Options for our SYN or SYN-ACK (Linux's order; §3.7.1, RFC 7323, RFC 2018).
    pub(crate) fn syn_options(&self, now: Instant, syn_ack: bool) -> TcpOptions {
        let mut o = TcpOptions {
            mss: Some(self.config.mss),
            ..TcpOptions::default()
        };
        let ts_on = if syn_ack {
            self.timestamps
        } else {
            self.config.timestamps
        };
        let sack_on = if syn_ack {
            self.sack_permitted
        } else {
            self.config.sack
        };
        let ws_on = if syn_ack {
            self.window_scaling
        } else {
            self.config.window_scale.is_some()
        };
        if ts_on {
            let ecr = if syn_ack { self.ts_recent } else { 0 };
            o.timestamps = Some((self.ts_now(now), ecr));
        }
        o.sack_permitted = sack_on;
        if ws_on {
            o.window_scale = Some(self.config.window_scale.unwrap_or(0).min(14));
        }
        if syn_ack {
            o.fast_open = self.fast_open_reply;
        }
        o
    }
}
