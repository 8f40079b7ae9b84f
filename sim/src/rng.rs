//! Seeded randomness: one master `u64` seed, one ChaCha stream per component.
//!
//! A stream is keyed by `(seed, label)` where the label is stable (a link
//! direction's name, a node's name), never by creation order, so adding a
//! component never changes what another one draws.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The RNG every component draws from. ChaCha8: fast and fully specified,
/// so the same key gives the same stream on every platform.
pub type SimRng = ChaCha8Rng;

/// SplitMix64 finaliser: spreads a 64-bit value over all bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Derives the stream for `label` under `seed`. Stable across platforms and
/// Rust versions: FNV-1a over the label's bytes, then SplitMix64 to expand
/// `(seed, label hash)` into a 256-bit ChaCha key.
pub fn stream(seed: u64, label: &str) -> SimRng {
    let mut label_hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in label.as_bytes() {
        label_hash ^= u64::from(b);
        label_hash = label_hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut key = [0u8; 32];
    let mut state = seed ^ mix64(label_hash);
    for chunk in key.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&mix64(state).to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// A uniform draw in [0, 1) with 53 bits of precision.
pub fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The natural logarithm of `x`, computed with IEEE 754 addition,
/// subtraction, multiplication and division only, so every platform gets
/// the same bits (the platform's `f64::ln` comes from its maths library,
/// whose last-bit rounding may differ between systems). Within 2 ulp of
/// the true value for positive normal and subnormal `x`; `ln(0)` is
/// negative infinity, and a negative or NaN `x` gives NaN.
///
/// Method: `x = m * 2^k` with `m` in `[sqrt(1/2), sqrt(2))`, then
/// `ln m = 2 atanh(s)` with `s = (m - 1) / (m + 1)`, `|s| < 0.172`, summed
/// as the odd series to `s^27` (the next term is below 2^-70 of the sum).
pub fn ln(x: f64) -> f64 {
    // ln 2 split in two: its leading 32 bits (so k * LN2_HI is exact for
    // every exponent k) and the rest.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut bits, mut k) = (x.to_bits(), 0i64);
    if bits >> 52 == 0 {
        // Subnormal: scale into the normal range first (exact).
        bits = (x * (1u64 << 54) as f64).to_bits();
        k -= 54;
    }
    k += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // Horner form of 1 + s^2/3 + s^4/5 + ... + s^26/27.
    let mut series = 0.0;
    for n in (1..=13).rev() {
        series = series * s2 + 1.0 / (2 * n + 1) as f64;
    }
    let series = 1.0 + s2 * series;
    let k = k as f64;
    k * LN2_HI + (2.0 * s * series + k * LN2_LO)
}

/// True with probability `p` (p outside [0, 1] is clamped by the caller's validation).
pub fn chance(rng: &mut SimRng, p: f64) -> bool {
    p > 0.0 && unit(rng) < p
}

/// A uniform integer in [0, n) for n > 0 (Lemire's multiply-shift; the tiny
/// bias for huge n does not matter for bit positions and delays).
pub fn below(rng: &mut SimRng, n: u64) -> u64 {
    debug_assert!(n > 0);
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_label_only() {
        // The same (seed, label) must replay; a different label or seed must not.
        let a1: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "a->b");
                move |_| r.next_u64()
            })
            .collect();
        let a2: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "a->b");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = stream(7, "b->a");
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = stream(8, "a->b");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn ln_matches_the_true_logarithm_within_two_ulp() {
        // The engine's own ln must agree with the platform's (itself within
        // an ulp of the truth on this machine) to 2 ulp over the whole
        // range jitter draws use (1 - u for u in [0, 1): (2^-53, 1]) and
        // beyond, subnormals included; and its edge cases are IEEE's.
        let ulps = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs();
        let mut r = stream(3, "ln");
        let mut worst = 0;
        for _ in 0..200_000 {
            let x = 1.0 - unit(&mut r);
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        for x in [
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0,
            5e-324,
            1e-300,
            0.5,
            std::f64::consts::FRAC_1_SQRT_2,
            1.0 - f64::EPSILON,
            1.0 + f64::EPSILON,
            std::f64::consts::E,
            1e300,
            f64::MAX,
        ] {
            let d = if x.ln() == 0.0 {
                0
            } else {
                ulps(ln(x), x.ln())
            };
            assert!(d <= 2, "ln({x:e}) = {:e}, std says {:e}", ln(x), x.ln());
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn ln_gives_the_same_bits_everywhere() {
        // Pinned outputs: only +, -, *, / of IEEE doubles are used, which
        // every conforming platform rounds alike, so these bits hold on
        // every machine; a change here changes every jittered trace.
        // (glibc's ln(0.999999) is one ulp away, ...230: the kind of
        // difference the engine must not inherit.)
        let pinned = [
            (0.5, 0xbfe6_2e42_fefa_39ef_u64),
            (0.1, 0xc002_6bb1_bbb5_5515),
            (1e-9, 0xc034_b927_f32b_ffb8),
            (0.999_999, 0xbeb0_c6f8_2d74_d22f),
            (0.731_058_578_630_004_9, 0xbfd4_0c7a_bfbe_c124),
            (5e-324, 0xc087_4385_446d_71c3),
        ];
        for (x, bits) in pinned {
            assert_eq!(ln(x).to_bits(), bits, "ln({x:e})");
        }
    }

    #[test]
    fn unit_draws_stay_in_range() {
        // chance() relies on unit() being strictly below 1.
        let mut r = stream(1, "x");
        for _ in 0..10_000 {
            let u = unit(&mut r);
            assert!((0.0..1.0).contains(&u));
        }
    }
}
