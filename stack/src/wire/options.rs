//! TCP options: EOL, NOP, MSS (RFC 9293 §3.2), window scale and timestamps
//! (RFC 7323 §2.2, §3.2), SACK-permitted and SACK blocks (RFC 2018 §2, §3),
//! and the Fast Open cookie (RFC 7413 §4.1.1: kind 34, or the experimental
//! kind 254 with magic 0xF989 of RFC 6994 that Linux also speaks).
//! Unknown options are skipped by their length.

use super::WireError;
use crate::seq::SeqNum;

const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WSCALE: u8 = 3;
const KIND_SACK_PERMITTED: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TIMESTAMPS: u8 = 8;
const KIND_FAST_OPEN: u8 = 34;
const KIND_EXPERIMENTAL: u8 = 254;
/// RFC 6994 ExID of Fast Open in the experimental option (Linux's
/// TCPOPT_FASTOPEN_MAGIC).
const FAST_OPEN_MAGIC: u16 = 0xF989;

/// The longest valid Fast Open cookie (RFC 7413 §4.1.1: 4 to 16 bytes, even).
pub const MAX_FAST_OPEN_COOKIE: usize = 16;

/// The most cookie bytes an option can hold (40 bytes of option space less
/// kind and length): what a test may put on the wire, valid or not.
pub const FAST_OPEN_COOKIE_ROOM: usize = 38;

/// A Fast Open option: a cookie of 0 bytes (a cookie request) or 4 to 16
/// (RFC 7413 §4.1.1), in the option form it came in or goes out in.
/// Parsing only ever yields valid ones; a longer or odd cookie can be
/// built (to send malformed options in tests) and is encoded as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastOpenCookie {
    /// The cookie's bytes; only the first `len` are meaningful.
    pub bytes: [u8; FAST_OPEN_COOKIE_ROOM],
    /// How many bytes the cookie has (0: a request).
    pub len: u8,
    /// Sent or received as the experimental option (kind 254, ExID 0xF989;
    /// packetdrill's `FOEXP`) rather than kind 34.
    pub experimental: bool,
}

impl Default for FastOpenCookie {
    /// A cookie request in the kind-34 form.
    fn default() -> Self {
        FastOpenCookie {
            bytes: [0; FAST_OPEN_COOKIE_ROOM],
            len: 0,
            experimental: false,
        }
    }
}

impl FastOpenCookie {
    /// A cookie request (no cookie bytes), in the given form.
    pub fn request(experimental: bool) -> FastOpenCookie {
        FastOpenCookie {
            experimental,
            ..FastOpenCookie::default()
        }
    }

    /// A cookie of `bytes` (at most [`FAST_OPEN_COOKIE_ROOM`]; longer is
    /// cut), in the given form.
    pub fn new(bytes: &[u8], experimental: bool) -> FastOpenCookie {
        let len = bytes.len().min(FAST_OPEN_COOKIE_ROOM);
        let mut c = FastOpenCookie {
            len: len as u8,
            experimental,
            ..FastOpenCookie::default()
        };
        c.bytes[..len].copy_from_slice(&bytes[..len]);
        c
    }

    /// The cookie's bytes.
    pub fn cookie(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// A Fast Open option as Linux takes it (tcp_parse_fastopen_option):
    /// a request (no bytes) or a cookie of 4 to 16 bytes of even length.
    /// Any other length (odd, 2, or above 16) is ignored as if the option
    /// were absent (Linux's `foc->len = -1`).
    fn parsed(body: &[u8], experimental: bool) -> Option<FastOpenCookie> {
        let n = body.len();
        let valid = n == 0 || (n.is_multiple_of(2) && (4..=MAX_FAST_OPEN_COOKIE).contains(&n));
        valid.then(|| FastOpenCookie::new(body, experimental))
    }
}

/// Most SACK blocks an option can carry (40 bytes of option space: 2 + 4 * 8 = 34).
pub const MAX_SACK_BLOCKS: usize = 4;

/// One SACK block: `[left, right)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// The first sequence number of the block.
    pub left: SeqNum,
    /// The sequence number just past the block.
    pub right: SeqNum,
}

/// The options of one segment, as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size the sender can receive (SYN only, RFC 9293 §3.7.1).
    pub mss: Option<u16>,
    /// Window scale shift count (SYN only, RFC 7323 §2.2), as received; the
    /// connection treats a value above 14 as 14 (§2.3).
    pub window_scale: Option<u8>,
    /// SACK-permitted (SYN only, RFC 2018 §2).
    pub sack_permitted: bool,
    /// `(TSval, TSecr)`.
    pub timestamps: Option<(u32, u32)>,
    /// Storage for up to [`MAX_SACK_BLOCKS`] SACK blocks; only the first
    /// `sack_count` are meaningful ([`TcpOptions::sack`]).
    pub sack_blocks: [SackBlock; MAX_SACK_BLOCKS],
    /// How many of `sack_blocks` the segment carries.
    pub sack_count: u8,
    /// The Fast Open option (RFC 7413), SYN and SYN-ACK only.
    pub fast_open: Option<FastOpenCookie>,
}

impl TcpOptions {
    /// The SACK blocks the segment carries, in option order (RFC 2018 §3).
    pub fn sack(&self) -> &[SackBlock] {
        &self.sack_blocks[..usize::from(self.sack_count)]
    }

    /// Parses the option bytes between the fixed header and the data.
    pub fn parse(mut bytes: &[u8]) -> Result<TcpOptions, WireError> {
        let mut opts = TcpOptions::default();
        while let Some(&kind) = bytes.first() {
            match kind {
                KIND_EOL => break,
                KIND_NOP => {
                    bytes = &bytes[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*bytes.get(1).ok_or(WireError::BadOption)?);
            if len < 2 || len > bytes.len() {
                return Err(WireError::BadOption);
            }
            let body = &bytes[2..len];
            match (kind, body.len()) {
                (KIND_MSS, 2) => opts.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (KIND_WSCALE, 1) => opts.window_scale = Some(body[0]),
                (KIND_SACK_PERMITTED, 0) => opts.sack_permitted = true,
                (KIND_TIMESTAMPS, 8) => {
                    let val = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let ecr = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    opts.timestamps = Some((val, ecr));
                }
                (KIND_SACK, n) if n % 8 == 0 && n / 8 <= MAX_SACK_BLOCKS => {
                    for (i, block) in body.chunks_exact(8).enumerate() {
                        opts.sack_blocks[i] = SackBlock {
                            left: SeqNum(u32::from_be_bytes([
                                block[0], block[1], block[2], block[3],
                            ])),
                            right: SeqNum(u32::from_be_bytes([
                                block[4], block[5], block[6], block[7],
                            ])),
                        };
                    }
                    opts.sack_count = (n / 8) as u8;
                }
                // RFC 7413 §4.1.1: a cookie request (no bytes) or a cookie
                // of 4 to 16 bytes, even; as Linux's
                // tcp_parse_fastopen_option, another length is ignored.
                (KIND_FAST_OPEN, _) => {
                    if let Some(fo) = FastOpenCookie::parsed(body, false) {
                        opts.fast_open = Some(fo);
                    }
                }
                (KIND_EXPERIMENTAL, n)
                    if n >= 2 && u16::from_be_bytes([body[0], body[1]]) == FAST_OPEN_MAGIC =>
                {
                    if let Some(fo) = FastOpenCookie::parsed(&body[2..], true) {
                        opts.fast_open = Some(fo);
                    }
                }
                // A known kind with the wrong length is malformed (RFC 9293
                // §3.2: an implementation must be prepared to handle an
                // illegal option length without crashing).
                (KIND_MSS | KIND_WSCALE | KIND_SACK_PERMITTED | KIND_TIMESTAMPS | KIND_SACK, _) => {
                    return Err(WireError::BadOption);
                }
                // RFC 9293 §3.1: unknown options are skipped by length.
                _ => {}
            }
            bytes = &bytes[len..];
        }
        Ok(opts)
    }

    /// Encoded length, padded to a multiple of 4.
    pub fn len(&self) -> usize {
        self.encode_into(&mut [0u8; 40])
    }

    /// Whether the segment carries no option.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the options in Linux's layout and returns the padded length:
    /// SYN: `mss, sackOK, TS, nop, wscale` (sackOK shares its 4 bytes with
    /// TS's kind/len when both are on); other segments: `nop, nop, TS`, then
    /// `nop, nop, sack`.
    pub fn encode_into(&self, out: &mut [u8; 40]) -> usize {
        let mut n = 0;
        let mut put = |bytes: &[u8], n: &mut usize| {
            out[*n..*n + bytes.len()].copy_from_slice(bytes);
            *n += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[KIND_MSS, 4, m[0], m[1]], &mut n);
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some((val, ecr))) => {
                put(&[KIND_SACK_PERMITTED, 2, KIND_TIMESTAMPS, 10], &mut n);
                put(&val.to_be_bytes(), &mut n);
                put(&ecr.to_be_bytes(), &mut n);
            }
            (true, None) => put(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2], &mut n),
            (false, Some((val, ecr))) => {
                put(&[KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, 10], &mut n);
                put(&val.to_be_bytes(), &mut n);
                put(&ecr.to_be_bytes(), &mut n);
            }
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            put(&[KIND_NOP, KIND_WSCALE, 3, shift], &mut n);
        }
        // Fast Open after window scale, padded with two NOPs to a 4-byte
        // boundary when its length is 2 mod 4 (Linux's tcp_options_write).
        // A cookie that would not fit beside the other options is left out
        // (the caller sizes options for a SYN, where it always fits).
        if let Some(fo) = self.fast_open {
            let len = usize::from(fo.len);
            let total = if fo.experimental { 4 + len } else { 2 + len };
            let padded = total.div_ceil(4) * 4;
            if n + padded <= 40 {
                if fo.experimental {
                    let m = FAST_OPEN_MAGIC.to_be_bytes();
                    put(&[KIND_EXPERIMENTAL, total as u8, m[0], m[1]], &mut n);
                } else {
                    put(&[KIND_FAST_OPEN, total as u8], &mut n);
                }
                put(fo.cookie(), &mut n);
                for _ in total..padded {
                    put(&[KIND_NOP], &mut n);
                }
            }
        }
        let room = (40 - n).saturating_sub(4) / 8;
        let count = usize::from(self.sack_count).min(room);
        if count > 0 {
            put(
                &[KIND_NOP, KIND_NOP, KIND_SACK, 2 + 8 * count as u8],
                &mut n,
            );
            for block in &self.sack_blocks[..count] {
                put(&block.left.0.to_be_bytes(), &mut n);
                put(&block.right.0.to_be_bytes(), &mut n);
            }
        }
        debug_assert!(n % 4 == 0 && n <= 40);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_syn_layout_round_trips() {
        // The SYN options Linux sends (mss, sackOK, TS, nop, wscale) take 20
        // bytes; parsing them back must give every value unchanged.
        let opts = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1000, 0)),
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 40];
        let n = opts.encode_into(&mut buf);
        assert_eq!(n, 20);
        assert_eq!(&buf[..4], &[2, 4, 0x05, 0xb4]);
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), opts);
    }

    #[test]
    fn unknown_options_are_skipped_and_bad_lengths_rejected() {
        // Kind 30 (MPTCP) with length 4 is skipped; an MSS of length 3 and
        // a length running past the end are errors, not panics.
        let skipped = TcpOptions::parse(&[30, 4, 0, 0, 2, 4, 0x02, 0x18]).unwrap();
        assert_eq!(skipped.mss, Some(536));
        assert_eq!(TcpOptions::parse(&[2, 3, 0]), Err(WireError::BadOption));
        assert_eq!(TcpOptions::parse(&[30, 9, 0]), Err(WireError::BadOption));
        assert_eq!(TcpOptions::parse(&[30, 1]), Err(WireError::BadOption));
        assert_eq!(TcpOptions::parse(&[30]), Err(WireError::BadOption));
    }

    #[test]
    fn fast_open_options_round_trip_in_both_forms() {
        // RFC 7413 §4.1.1: kind 34 with an 8-byte cookie is 10 bytes, padded
        // with two NOPs; a request is kind 34 length 2; the experimental
        // form is kind 254, length 12, ExID 0xF989. Each parses back to the
        // same cookie and form, beside Linux's SYN options.
        let cookie = [0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb];
        for fo in [
            FastOpenCookie::new(&cookie, false),
            FastOpenCookie::request(false),
            FastOpenCookie::new(&cookie, true),
            FastOpenCookie::request(true),
        ] {
            let opts = TcpOptions {
                mss: Some(1460),
                window_scale: Some(8),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                fast_open: Some(fo),
                ..TcpOptions::default()
            };
            let mut buf = [0u8; 40];
            let n = opts.encode_into(&mut buf);
            assert_eq!(n % 4, 0);
            assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), opts, "{fo:?}");
        }
        let mut buf = [0u8; 40];
        let n = TcpOptions {
            fast_open: Some(FastOpenCookie::new(&cookie, false)),
            ..TcpOptions::default()
        }
        .encode_into(&mut buf);
        assert_eq!(
            &buf[..n],
            &[34, 10, 0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb, 1, 1]
        );
        // Another experimental option is skipped, not taken for Fast Open;
        // a cookie longer than 16 bytes, an odd one and a 2-byte one are
        // ignored as Linux's tcp_parse_fastopen_option ignores them (the
        // option counts as absent), in either form.
        assert_eq!(
            TcpOptions::parse(&[254, 4, 0x12, 0x34]).unwrap().fast_open,
            None
        );
        let mut long = vec![34, 20];
        long.extend([0u8; 18]);
        assert_eq!(TcpOptions::parse(&long).unwrap().fast_open, None);
        for bad in [
            &[34u8, 5, 1, 2, 3][..],
            &[34, 4, 1, 2],
            &[254, 7, 0xf9, 0x89, 1, 2, 3],
        ] {
            let opts = TcpOptions::parse(bad).unwrap();
            assert_eq!(opts.fast_open, None, "{bad:?}");
        }
        // An over-long cookie built for a test is still encoded whole, so
        // a script can put it on the wire.
        let mut buf = [0u8; 40];
        let n = TcpOptions {
            fast_open: Some(FastOpenCookie::new(&[0xaf; 18], false)),
            ..TcpOptions::default()
        }
        .encode_into(&mut buf);
        assert_eq!(&buf[..2], &[34, 20]);
        assert_eq!(n, 20);
    }

    #[test]
    fn sack_blocks_fit_beside_timestamps() {
        // With timestamps (12 bytes) only 3 SACK blocks fit in 40 bytes (RFC 2018 §3).
        let mut opts = TcpOptions {
            timestamps: Some((1, 2)),
            sack_count: 4,
            ..TcpOptions::default()
        };
        for i in 0..4 {
            opts.sack_blocks[i] = SackBlock {
                left: SeqNum(i as u32 * 100),
                right: SeqNum(i as u32 * 100 + 50),
            };
        }
        let mut buf = [0u8; 40];
        let n = opts.encode_into(&mut buf);
        let back = TcpOptions::parse(&buf[..n]).unwrap();
        assert_eq!(back.sack_count, 3);
        assert_eq!(back.sack(), &opts.sack_blocks[..3]);
    }
}
