//! Seeded mutation fuzzing on stable Rust: `tcpsim fuzz wire|endpoint`.
//!
//! Two targets, each a plain function over bytes that returns what it
//! found, so the same functions are the `cargo fuzz` targets in `fuzz/`
//! (libFuzzer, nightly) and run here without a nightly toolchain:
//!
//! - [`wire`]: any bytes through the IPv4/TCP parser and emitter of
//!   [`stack::wire`]: no panic; a datagram the parser accepts has the
//!   fields the bytes hold, checksums that an independent RFC 1071
//!   implementation ([`rfc1071`]) verifies, and emits back to bytes that
//!   parse to the same segment and emit again to the same bytes; a
//!   datagram it refuses for a checksum is one the reference refuses too.
//! - [`endpoint`]: the bytes as a program for two [`stack::Endpoint`]s
//!   joined by a wire the program controls: socket calls in any state,
//!   datagrams delivered, dropped, duplicated, reordered or corrupted, time
//!   advanced, and (in hostile programs) crafted segments and mutated
//!   copies of real ones aimed at either side with numbers near its own.
//!   Every emitted segment must parse, carry checksums the reference
//!   verifies and a legal flag combination; in programs with no forged
//!   segment the segment oracle ([`crate::oracle::check_segments`]) runs
//!   over all of them; every byte a reader gets is the byte the writer
//!   wrote at that offset (unless forged data reached that reader); no
//!   transmit loop runs away. Debug assertions and overflow checks in the
//!   stack are part of the check (a panic is a finding).
//!
//! The driver ([`run`]) makes iteration `i` of seed `S` from its own
//! stream (`fuzz-TARGET:S` keyed by `i`): a valid input built at random,
//! then mutated a few times (bit flips, interesting bytes, truncation,
//! extension, length fields, option bytes, with checksums repaired half of
//! the time so mutations get past them). An iteration depends only on
//! `(S, i)`, so a finding is reproduced alone with
//! `tcpsim fuzz TARGET --seed S --skip i --iterations 1`.
//!
//! What this fuzzer deliberately does not do: keep a corpus or follow
//! coverage (libFuzzer through `cargo fuzz` does, over the same functions).

mod endpoint;
pub mod rfc1071;
mod wire;

pub use endpoint::endpoint;
pub use wire::wire;

use sim::SimRng;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// What a fuzz target checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The wire parser and emitter.
    Wire,
    /// Two endpoints fed random calls and forged segments.
    Endpoint,
}

impl Target {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Wire => "wire",
            Target::Endpoint => "endpoint",
        }
    }

    /// The target function over one input.
    pub fn check(self, input: &[u8]) -> Result<(), String> {
        match self {
            Target::Wire => wire(input),
            Target::Endpoint => endpoint(input),
        }
    }

    /// Iteration `index` of `seed`'s input, built and mutated from its own stream.
    pub fn input(self, seed: u64, index: u64) -> Vec<u8> {
        let mut rng = iteration_stream(self, seed, index);
        match self {
            Target::Wire => wire::input(&mut rng),
            Target::Endpoint => endpoint::input(&mut rng),
        }
    }
}

/// The stream of iteration `index`: the seed's labelled stream for the
/// target, with `index` as ChaCha's stream number, so iterations are
/// independent and any one can be made alone.
fn iteration_stream(target: Target, seed: u64, index: u64) -> SimRng {
    let mut rng = sim::rng::stream(seed, &format!("fuzz-{}", target.name()));
    rng.set_stream(index);
    rng
}

/// A finding: the iteration, what failed, and how to reproduce it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The target that failed.
    pub target: Target,
    /// The master seed of the fuzz run.
    pub seed: u64,
    /// The failing iteration (`--skip INDEX --iterations 1` runs it alone).
    pub index: u64,
    /// What failed.
    pub message: String,
    /// The input, for a regression test.
    pub input: Vec<u8>,
}

impl Finding {
    /// The one-line command that runs this iteration alone.
    pub fn reproduce(&self) -> String {
        format!(
            "tcpsim fuzz {} --seed {} --skip {} --iterations 1",
            self.target.name(),
            self.seed,
            self.index
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz {} seed {} iteration {}: {}  (reproduce: {})",
            self.target.name(),
            self.seed,
            self.index,
            self.message,
            self.reproduce()
        )
    }
}

/// Runs one input, turning a panic (a debug assertion, an overflow, an
/// index out of range) into a finding's message.
pub fn check_caught(target: Target, input: &[u8]) -> Result<(), String> {
    match panic::catch_unwind(AssertUnwindSafe(|| target.check(input))) {
        Ok(result) => result,
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string());
            Err(format!("panic: {text}"))
        }
    }
}

/// Runs iterations `skip .. skip + iterations` of `target` at `seed`, in
/// order, and stops at the first finding. `progress` is called every
/// `progress_every` iterations with the count done (for a terminal line).
pub fn run(
    target: Target,
    seed: u64,
    skip: u64,
    iterations: u64,
    mut progress: impl FnMut(u64),
    progress_every: u64,
) -> Result<u64, Box<Finding>> {
    for done in 0..iterations {
        let index = skip + done;
        let input = target.input(seed, index);
        if let Err(message) = check_caught(target, &input) {
            return Err(Box::new(Finding {
                target,
                seed,
                index,
                message,
                input,
            }));
        }
        if progress_every > 0 && (done + 1) % progress_every == 0 {
            progress(done + 1);
        }
    }
    Ok(iterations)
}

/// Iterations `tcpsim fuzz` runs when `--iterations` is not given.
pub const DEFAULT_ITERATIONS: u64 = 10_000;

/// `tcpsim fuzz`: prints the seed and range first, a progress line every
/// so often, then either the finding with its reproduction (returns false)
/// or the count and the rate (wall-clock, for the terminal only).
pub fn run_cli(
    target: Target,
    seed: u64,
    skip: u64,
    iterations: u64,
    out: &mut impl std::io::Write,
) -> std::io::Result<bool> {
    writeln!(
        out,
        "fuzz {}: seed {seed}, iterations {skip}..{}",
        target.name(),
        skip + iterations
    )?;
    out.flush()?;
    // Wall time is reported to the terminal, never into a result.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let every = match target {
        Target::Wire => 1_000_000,
        Target::Endpoint => 10_000,
    };
    let mut progress_error = Ok(());
    let result = run(
        target,
        seed,
        skip,
        iterations,
        |done| {
            if progress_error.is_ok() {
                progress_error =
                    writeln!(out, "  {done} iterations, no finding yet").and_then(|()| out.flush());
            }
        },
        every,
    );
    progress_error?;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(done) => {
            writeln!(
                out,
                "fuzz {}: seed {seed}, {done} iterations, no finding ({:.0} per second wall)",
                target.name(),
                done as f64 / seconds.max(1e-9)
            )?;
            Ok(true)
        }
        Err(finding) => {
            writeln!(out, "{finding}")?;
            writeln!(out, "input: {}", hex(&finding.input))?;
            Ok(false)
        }
    }
}

/// Lower-case hex, for an input to paste into a regression test.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ----- mutation helpers shared by the targets -----

fn below(rng: &mut SimRng, n: u64) -> u64 {
    if n == 0 { 0 } else { sim::rng::below(rng, n) }
}

fn chance(rng: &mut SimRng, p: f64) -> bool {
    sim::rng::chance(rng, p)
}

fn byte(rng: &mut SimRng) -> u8 {
    below(rng, 256) as u8
}

fn u16_any(rng: &mut SimRng) -> u16 {
    below(rng, 1 << 16) as u16
}

fn u32_any(rng: &mut SimRng) -> u32 {
    rand_core::RngCore::next_u32(rng)
}

/// Values that break parsers: the edges of every field width.
const INTERESTING: [u8; 10] = [0, 1, 2, 4, 5, 0x0f, 0x7f, 0x80, 0xf0, 0xff];

/// One random mutation of `bytes` in place.
fn mutate(rng: &mut SimRng, bytes: &mut Vec<u8>) {
    match below(rng, 9) {
        0 | 1 => {
            if !bytes.is_empty() {
                let i = below(rng, bytes.len() as u64) as usize;
                bytes[i] ^= 1 << below(rng, 8);
            }
        }
        2 => {
            if !bytes.is_empty() {
                let i = below(rng, bytes.len() as u64) as usize;
                bytes[i] = INTERESTING[below(rng, INTERESTING.len() as u64) as usize];
            }
        }
        3 => {
            if !bytes.is_empty() {
                let i = below(rng, bytes.len() as u64) as usize;
                bytes[i] = byte(rng);
            }
        }
        4 => {
            let keep = below(rng, bytes.len() as u64 + 1) as usize;
            bytes.truncate(keep);
        }
        5 => {
            for _ in 0..below(rng, 64) {
                bytes.push(byte(rng));
            }
        }
        6 => {
            // Insert or delete a run inside (shifts every later field).
            let i = below(rng, bytes.len() as u64 + 1) as usize;
            if chance(rng, 0.5) {
                let run: Vec<u8> = (0..1 + below(rng, 8)).map(|_| byte(rng)).collect();
                bytes.splice(i..i, run);
            } else {
                let end = (i + 1 + below(rng, 8) as usize).min(bytes.len());
                bytes.drain(i..end);
            }
        }
        7 => {
            // The length-bearing header bytes: IHL, total length, data offset.
            let spots = [0usize, 2, 3, 32];
            let i = spots[below(rng, spots.len() as u64) as usize];
            if i < bytes.len() {
                bytes[i] = INTERESTING[below(rng, INTERESTING.len() as u64) as usize]
                    ^ (bytes[i] & if chance(rng, 0.5) { 0xf0 } else { 0 });
            }
        }
        _ => {
            // Option bytes: a random kind and length right after the TCP header.
            if bytes.len() > 42 {
                let i = 40 + below(rng, (bytes.len() - 41).min(40) as u64) as usize;
                bytes[i] = [0u8, 1, 2, 3, 4, 5, 8, 30, 0xff][below(rng, 9) as usize];
                if i + 1 < bytes.len() {
                    bytes[i + 1] = INTERESTING[below(rng, INTERESTING.len() as u64) as usize];
                }
            }
        }
    }
}

/// Rewrites both checksums of an IPv4/TCP datagram so a mutated header
/// gets past them (when its lengths still hold together).
fn repair_checksums(bytes: &mut [u8]) {
    if bytes.len() < 20 {
        return;
    }
    let ihl = usize::from(bytes[0] & 0x0f) * 4;
    if ihl < 20 || ihl > bytes.len() {
        return;
    }
    bytes[10] = 0;
    bytes[11] = 0;
    let sum = rfc1071::checksum(&bytes[..ihl]);
    bytes[10..12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if total < ihl + 20 || total > bytes.len() {
        return;
    }
    let segment = &mut bytes[ihl..total];
    segment[16] = 0;
    segment[17] = 0;
    let (src, dst) = {
        let b = &bytes[..ihl];
        (
            std::net::Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            std::net::Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        )
    };
    let sum = rfc1071::tcp_checksum(src, dst, &bytes[ihl..total]);
    bytes[ihl + 16..ihl + 18].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iteration_is_the_same_alone_as_in_a_run() {
        // The reproduction line runs one iteration alone: its input must be
        // the one the full run made at that index, or it reproduces nothing.
        for target in [Target::Wire, Target::Endpoint] {
            let alone = target.input(9, 37);
            let mut again = None;
            for i in 0..40 {
                let input = target.input(9, i);
                if i == 37 {
                    again = Some(input);
                }
            }
            assert_eq!(Some(alone), again, "{target:?}");
            assert_ne!(target.input(9, 1), target.input(9, 2), "{target:?}");
        }
    }
}
