//! The `wire` target: the IPv4/TCP parser and emitter over any bytes.

use super::{below, byte, chance, mutate, repair_checksums, rfc1071, u16_any, u32_any};
use sim::SimRng;
use stack::SeqNum;
use stack::wire::{
    self, Flags, IpPair, MAX_SACK_BLOCKS, SackBlock, TcpOptions, TcpRepr, WireError,
};
use std::net::Ipv4Addr;

/// Checks one input (see the module doc of [`crate::fuzz`]): `Err` says
/// which property failed.
pub fn wire(data: &[u8]) -> Result<(), String> {
    // Our summation against the reference over the raw bytes, odd lengths too.
    let ours = wire::internet_checksum(data);
    let reference = rfc1071::checksum(data);
    if ours != reference {
        return Err(format!(
            "internet_checksum over {} bytes is {ours:#06x}, RFC 1071 says {reference:#06x}",
            data.len()
        ));
    }
    match wire::parse_datagram(data) {
        Ok((pair, repr)) => accepted(data, pair, &repr),
        Err(error) => refused(data, error),
    }
}

fn field(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn field32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// A datagram the parser accepted: its fields are the bytes', its
/// checksums verify by the reference, and it round-trips.
fn accepted(data: &[u8], pair: IpPair, repr: &TcpRepr<'_>) -> Result<(), String> {
    let ihl = usize::from(data[0] & 0x0f) * 4;
    let total = usize::from(field(data, 2));
    if data[0] >> 4 != 4 || ihl < 20 || total < ihl + 20 || total > data.len() {
        return Err(format!(
            "accepted a datagram with version {}, header {ihl}, total length {total} of {} bytes",
            data[0] >> 4,
            data.len()
        ));
    }
    if data[9] != 6 || field(data, 6) & 0x3fff != 0 {
        return Err("accepted a fragment or a datagram that is not TCP".into());
    }
    if !rfc1071::header_verifies(&data[..ihl]) {
        return Err("accepted an IPv4 header whose checksum RFC 1071 refuses".into());
    }
    let segment = &data[ihl..total];
    if !rfc1071::tcp_verifies(pair.src, pair.dst, segment) {
        return Err("accepted a TCP segment whose checksum RFC 1071 refuses".into());
    }
    let offset = usize::from(segment[12] >> 4) * 4;
    if offset < 20 || offset > segment.len() {
        return Err(format!(
            "accepted data offset {offset} in a {}-byte segment",
            segment.len()
        ));
    }
    let expected = (
        Ipv4Addr::new(data[12], data[13], data[14], data[15]),
        Ipv4Addr::new(data[16], data[17], data[18], data[19]),
        field(segment, 0),
        field(segment, 2),
        field32(segment, 4),
        field32(segment, 8),
        segment[13],
        field(segment, 14),
        field(segment, 18),
        &segment[offset..],
    );
    let got = (
        pair.src,
        pair.dst,
        repr.src_port,
        repr.dst_port,
        repr.seq.0,
        repr.ack.0,
        repr.flags.0,
        repr.window,
        repr.urgent,
        repr.payload,
    );
    if expected != got {
        return Err(format!(
            "parsed fields {:?} differ from the bytes' {:?}",
            &got, &expected
        ));
    }
    round_trip(pair, repr)
}

/// Emits a parsed segment and parses it back: the same segment (the ACK
/// field is zero without the ACK flag; SACK blocks that do not fit beside
/// the other options are left out), valid checksums by the reference, and
/// emitting that again gives the same bytes.
fn round_trip(pair: IpPair, repr: &TcpRepr<'_>) -> Result<(), String> {
    let mut out = Vec::new();
    wire::emit_datagram(pair, repr, &mut out);
    if out.len() > usize::from(u16::MAX) {
        // Not an IPv4 datagram any more: a parsed one cannot grow past this.
        return Err(format!("emitted {} bytes", out.len()));
    }
    if !rfc1071::header_verifies(&out[..20])
        || !rfc1071::tcp_verifies(pair.src, pair.dst, &out[20..])
    {
        return Err(format!("emitted {repr:?} with a checksum RFC 1071 refuses"));
    }
    let (pair2, back) = wire::parse_datagram(&out)
        .map_err(|e| format!("emitted {repr:?}, which does not parse back: {e}"))?;
    let mut want = *repr;
    if !want.flags.ack() {
        want.ack = SeqNum(0);
    }
    let kept = usize::from(back.options.sack_count);
    if kept > usize::from(want.options.sack_count)
        || back.options.sack() != &want.options.sack()[..kept]
    {
        return Err(format!(
            "SACK blocks {:?} came back as {:?}",
            want.options.sack(),
            back.options.sack()
        ));
    }
    want.options.sack_count = back.options.sack_count;
    want.options.sack_blocks = back.options.sack_blocks;
    if pair2 != pair || back != want {
        return Err(format!("emitted {want:?}, parsed back {back:?}"));
    }
    let mut again = Vec::new();
    wire::emit_datagram(pair2, &back, &mut again);
    if again != out {
        return Err(format!("emitting {back:?} twice gave different bytes"));
    }
    Ok(())
}

/// A datagram the parser refused for a checksum is one the reference
/// refuses too (the other refusals are length and kind rules, checked by
/// the fields above whenever the parser accepts).
fn refused(data: &[u8], error: WireError) -> Result<(), String> {
    match error {
        WireError::BadIpChecksum => {
            let ihl = usize::from(data[0] & 0x0f) * 4;
            if rfc1071::header_verifies(&data[..ihl]) {
                return Err("refused an IPv4 header whose checksum RFC 1071 accepts".into());
            }
        }
        WireError::BadTcpChecksum => {
            let ihl = usize::from(data[0] & 0x0f) * 4;
            let total = usize::from(field(data, 2));
            let src = Ipv4Addr::new(data[12], data[13], data[14], data[15]);
            let dst = Ipv4Addr::new(data[16], data[17], data[18], data[19]);
            if rfc1071::tcp_verifies(src, dst, &data[ihl..total]) {
                return Err("refused a TCP segment whose checksum RFC 1071 accepts".into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// Random options, every kind the parser knows, any values.
pub(super) fn random_options(rng: &mut SimRng) -> TcpOptions {
    let mut o = TcpOptions {
        mss: chance(rng, 0.4).then(|| u16_any(rng)),
        window_scale: chance(rng, 0.3).then(|| byte(rng)),
        sack_permitted: chance(rng, 0.3),
        timestamps: chance(rng, 0.4).then(|| (u32_any(rng), u32_any(rng))),
        ..TcpOptions::default()
    };
    if chance(rng, 0.3) {
        let count = below(rng, MAX_SACK_BLOCKS as u64 + 1) as usize;
        for block in &mut o.sack_blocks[..count] {
            let left = u32_any(rng);
            *block = SackBlock {
                left: SeqNum(left),
                right: SeqNum(left.wrapping_add(below(rng, 100_000) as u32)),
            };
        }
        o.sack_count = count as u8;
    }
    o
}

/// Iteration input: a valid datagram (random header, options and
/// payload) with a few mutations, checksums repaired half of the time.
pub(super) fn input(rng: &mut SimRng) -> Vec<u8> {
    let payload: Vec<u8> = (0..match below(rng, 4) {
        0 => 0,
        1 => below(rng, 8),
        2 => below(rng, 1500),
        _ => below(rng, 64),
    })
        .map(|_| byte(rng))
        .collect();
    let repr = TcpRepr {
        src_port: u16_any(rng),
        dst_port: u16_any(rng),
        seq: SeqNum(u32_any(rng)),
        ack: SeqNum(u32_any(rng)),
        flags: Flags(byte(rng)),
        window: u16_any(rng),
        urgent: u16_any(rng),
        options: random_options(rng),
        payload: &payload,
    };
    let pair = IpPair {
        src: Ipv4Addr::from(u32_any(rng)),
        dst: Ipv4Addr::from(u32_any(rng)),
    };
    let mut bytes = Vec::new();
    wire::emit_datagram(pair, &repr, &mut bytes);
    if chance(rng, 0.05) {
        // Bytes from nowhere, now and then.
        bytes = (0..below(rng, 80)).map(|_| byte(rng)).collect();
    }
    for _ in 0..below(rng, 5) {
        mutate(rng, &mut bytes);
    }
    if chance(rng, 0.5) {
        repair_checksums(&mut bytes);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_datagram_passes_and_a_lie_about_it_is_caught() {
        // The target must accept what the emitter writes, and its checks
        // must bite: the same bytes with a checksum that only a broken
        // summation would accept, or fields it reads wrongly, must fail.
        let repr = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SeqNum(3),
            ack: SeqNum(4),
            flags: Flags::ACK,
            window: 5,
            urgent: 0,
            options: TcpOptions::default(),
            payload: b"abc",
        };
        let pair = IpPair {
            src: Ipv4Addr::new(192, 168, 1, 1),
            dst: Ipv4Addr::new(63, 87, 254, 244),
        };
        let mut bytes = Vec::new();
        wire::emit_datagram(pair, &repr, &mut bytes);
        assert_eq!(wire(&bytes), Ok(()));
        // Claim the parser accepted a header the reference refuses.
        let mut broken = bytes.clone();
        broken[10] ^= 1;
        assert!(refused(&broken, WireError::BadIpChecksum).is_ok());
        assert!(accepted(&broken, pair, &repr).is_err());
        // A parse that misread the window would be caught against the bytes.
        let misread = TcpRepr { window: 6, ..repr };
        assert!(accepted(&bytes, pair, &misread).is_err());
    }

    #[test]
    fn thousands_of_mutated_datagrams_hold_every_property() {
        // A bounded run in `cargo test` (the CLI runs as many as asked):
        // each mutated input must pass, or the message names the property.
        for index in 0..2_000 {
            let input = super::super::Target::Wire.input(3, index);
            assert_eq!(wire(&input), Ok(()), "iteration {index}: {input:02x?}");
        }
    }
}
