//! SYN cookies (RFC 4987 §3.6; the scheme Linux uses): when the SYN queue
//! is full, the listener answers with a SYN-ACK whose ISN encodes what it
//! needs to rebuild the connection from the final ACK, and keeps no state.
//! A half-open connection so answered costs zero bytes.
//!
//! ISN = H1(4-tuple) + client ISN + (count << 24) + ((H2(4-tuple, count) + mss_index) mod 2^24)
//!
//! where `count` is a 64-second clock, H1 and H2 are SipHash-2-4 keyed by
//! the endpoint's secret, and `mss_index` picks from [`MSS_TABLE`]. When
//! timestamps are on, window scale and SACK-permitted ride in the low 5 bits
//! of our TSval (echoed back in the ACK's TSecr), as Linux does.

use crate::seq::SeqNum;
use crate::time::Instant;
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::SocketAddrV4;

/// MSS values a cookie can carry (Linux's msstab).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

/// Cookies older than this many 64-second periods are refused (Linux: 2).
const AGE_MAX: u32 = 2;

/// The window a SYN or SYN-ACK offers: unscaled, and like Linux rounded
/// down to a multiple of the MSS (64240 for MSS 1460).
pub fn syn_window(space: u32, mss: u16) -> u32 {
    let mss = u32::from(mss.max(1));
    // Linux (tcp_select_initial_window): round down to a multiple of the
    // MSS only a space larger than one MSS (a smaller buffer is offered as
    // it is), then cap at 65535, the most an unscaled window holds (so a
    // space of 270000 offers 65535, one of 65536 offers 64240).
    let space = if space > mss {
        space / mss * mss
    } else {
        space
    };
    space.min(65535)
}

/// The 64-second counter cookies are stamped with.
pub fn counter(now: Instant) -> u32 {
    (now.as_nanos() / 64_000_000_000) as u32
}

fn hash(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    count: u32,
    which: u8,
) -> u32 {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(&local.ip().octets());
    h.write(&local.port().to_be_bytes());
    h.write(&remote.ip().octets());
    h.write(&remote.port().to_be_bytes());
    h.write(&count.to_be_bytes());
    h.write_u8(which);
    h.finish() as u32
}

/// The largest table MSS not above the peer's.
pub fn mss_index(peer_mss: u16) -> usize {
    MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0)
}

/// Our ISN for a SYN-ACK answered statelessly.
pub fn encode(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    client_isn: SeqNum,
    now: Instant,
    mss_index: usize,
) -> SeqNum {
    let count = counter(now);
    let h1 = hash(secret, local, remote, 0, 1);
    let h2 = hash(secret, local, remote, count, 2);
    SeqNum(
        h1.wrapping_add(client_isn.0)
            .wrapping_add(count << 24)
            .wrapping_add(h2.wrapping_add(mss_index as u32) & 0x00ff_ffff),
    )
}

/// Checks the final ACK of a cookie handshake; returns the MSS it encoded.
/// `ack` is SEG.ACK (our ISN + 1), `seq` is SEG.SEQ (client ISN + 1).
pub fn decode(
    secret: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: SeqNum,
    ack: SeqNum,
    now: Instant,
) -> Option<u16> {
    let cookie = (ack - 1).0;
    let client_isn = (seq - 1).0;
    let h1 = hash(secret, local, remote, 0, 1);
    let rest = cookie.wrapping_sub(h1).wrapping_sub(client_isn);
    let count_now = counter(now);
    // The top 8 bits carry the counter's low 8 bits.
    let age = (count_now as u8).wrapping_sub((rest >> 24) as u8) as u32;
    if age > AGE_MAX {
        return None;
    }
    let count = count_now - age.min(count_now);
    let h2 = hash(secret, local, remote, count, 2);
    let index = (rest.wrapping_sub(h2) & 0x00ff_ffff) as usize;
    MSS_TABLE.get(index).copied()
}

/// Options remembered in the TSval's low 5 bits: 4 bits window scale
/// (15 = none), 1 bit SACK-permitted.
pub fn options_bits(window_scale: Option<u8>, sack: bool) -> u32 {
    u32::from(window_scale.map_or(15, |w| w.min(14))) | (u32::from(sack) << 4)
}

/// The inverse of [`options_bits`], from an echoed TSecr.
pub fn options_from_bits(tsecr: u32) -> (Option<u8>, bool) {
    let ws = (tsecr & 0x0f) as u8;
    (if ws == 15 { None } else { Some(ws) }, tsecr & 0x10 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const KEY: [u8; 16] = *b"cookie-test-key!";

    fn tuple() -> (SocketAddrV4, SocketAddrV4) {
        (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000),
        )
    }

    #[test]
    fn a_cookie_round_trips_its_mss_across_the_wrap() {
        // Client ISNs on both sides of 2^32 give back the encoded MSS.
        let (l, r) = tuple();
        for client_isn in [5u32, u32::MAX - 3, 0x8000_0000] {
            let now = Instant::from_nanos(100_000_000_000);
            let isn = encode(&KEY, l, r, SeqNum(client_isn), now, 3);
            let mss = decode(
                &KEY,
                l,
                r,
                SeqNum(client_isn) + 1,
                isn + 1,
                now + crate::Duration::from_secs(5),
            );
            assert_eq!(mss, Some(1460), "client ISN {client_isn:#x}");
        }
    }

    #[test]
    fn a_cookie_for_another_tuple_or_too_old_is_refused() {
        // The hash binds the 4-tuple; the counter bounds the age to 2 periods.
        let (l, r) = tuple();
        let now = Instant::from_nanos(1_000_000_000_000);
        let isn = encode(&KEY, l, r, SeqNum(77), now, 2);
        let other = SocketAddrV4::new(*r.ip(), 40001);
        assert_ne!(decode(&KEY, l, other, SeqNum(78), isn + 1, now), Some(1440));
        let later = now + crate::Duration::from_secs(64 * 3);
        assert_eq!(decode(&KEY, l, r, SeqNum(78), isn + 1, later), None);
        assert_eq!(decode(&KEY, l, r, SeqNum(78), isn + 1, now), Some(1440));
    }

    #[test]
    fn forged_acks_are_almost_always_refused() {
        // A blind attacker guessing ACK numbers passes only if the low 24
        // bits land on one of 4 table entries and the age bits on one of 3
        // values: about 4 * 3 / 2^32 per guess. 200,000 guesses should all fail.
        let (l, r) = tuple();
        let now = Instant::from_nanos(500_000_000_000);
        let mut x = 0x1234_5678u32;
        let mut accepted = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if decode(&KEY, l, r, SeqNum(1000), SeqNum(x), now).is_some() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0);
    }

    #[test]
    fn option_bits_round_trip() {
        // What the SYN-ACK's TSval carries comes back from the ACK's TSecr.
        for ws in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                assert_eq!(
                    options_from_bits(0xabcd_ef00 | options_bits(ws, sack)),
                    (ws, sack)
                );
            }
        }
    }
}
