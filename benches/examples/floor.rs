//! The floor under W1: how long merely moving W1's 100,000,000 payload
//! bytes takes on this machine, the way tcpsim moves them, with no TCP,
//! no links and no events. tcpsim copies each payload byte six times on W1
//! (application -> send buffer, send buffer -> payload scratch, scratch ->
//! emitted datagram, datagram -> engine packet, packet -> receive buffer,
//! receive buffer -> the host's read buffer), so the floor is six memcpys
//! of 100 MB plus one Internet checksum pass over 100 MB (the one a real
//! receiver must make).
//!
//!     cargo run --release -p tcpsim-benches --example floor [-- BYTES [COPIES]]
//!
//! Prints the median of 5 repetitions (in this thread's CPU seconds, so a
//! shared machine's other work does not count) of: one bulk memcpy of BYTES (cold
//! buffers, so memory bandwidth bound), the same bytes copied 1448 at a
//! time through a 4 MiB ring (as segments move, mostly from cache), and
//! one checksum pass with the stack's own `internet_checksum`; then the
//! floor, COPIES bulk memcpys plus one checksum pass.

use stack::wire::internet_checksum;
use std::hint::black_box;

const REPEATS: usize = 5;
const MSS: usize = 1448;
const RING: usize = 4 * 1024 * 1024;

/// This thread's CPU time in seconds (Linux: the first field of
/// /proc/thread-self/schedstat, in nanoseconds), so that other work on a
/// shared machine does not count; `None` where the platform does not say.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Median of REPEATS timings of `f` in CPU seconds (wall seconds where the
/// CPU time is not known).
#[allow(clippy::disallowed_methods)] // a measuring tool: wall time printed, never simulated
fn seconds(mut f: impl FnMut()) -> f64 {
    let wall = std::time::Instant::now();
    let clock = || cpu_seconds().unwrap_or_else(|| wall.elapsed().as_secs_f64());
    let mut times: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let t = clock();
            f();
            clock() - t
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPEATS / 2]
}

fn arg(n: usize, default: usize) -> usize {
    match std::env::args().nth(n).map(|a| a.parse::<usize>()) {
        None => default,
        Some(Ok(v)) if v > 0 => v,
        Some(_) => {
            eprintln!("usage: floor [BYTES > 0 [COPIES > 0]]");
            std::process::exit(2);
        }
    }
}

fn main() {
    let bytes = arg(1, 100_000_000);
    let copies = arg(2, 6);
    let src: Vec<u8> = (0..bytes).map(|i| (i * 31 + 7) as u8).collect();
    // Written once first, so no timed copy pays for first-touch page faults.
    let mut dst = src.clone();
    let memcpy = seconds(|| {
        dst.copy_from_slice(black_box(&src));
        black_box(&dst);
    });
    let mut ring = src[..RING.min(bytes)].to_vec();
    ring.resize(RING, 0);
    let chunked = seconds(|| {
        let mut at = 0;
        for chunk in src.chunks(MSS) {
            if at + chunk.len() > RING {
                at = 0;
            }
            ring[at..at + chunk.len()].copy_from_slice(black_box(chunk));
            at += chunk.len();
        }
        black_box(&ring);
    });
    let checksum = seconds(|| {
        black_box(internet_checksum(black_box(&src)));
    });
    let mb = bytes as f64 / 1e6;
    println!("floor: {bytes} bytes, median of {REPEATS} (CPU seconds)");
    println!(
        "  memcpy (one bulk copy)        {:.4} s  ({:.1} GB/s)",
        memcpy,
        mb / 1e3 / memcpy
    );
    println!(
        "  memcpy (1448 B into 4 MiB)    {:.4} s  ({:.1} GB/s)",
        chunked,
        mb / 1e3 / chunked
    );
    println!(
        "  checksum (one pass)           {:.4} s  ({:.1} GB/s)",
        checksum,
        mb / 1e3 / checksum
    );
    println!(
        "  floor: {copies} bulk copies + 1 checksum = {:.4} s; {copies} segment-size copies + 1 checksum = {:.4} s",
        copies as f64 * memcpy + checksum,
        copies as f64 * chunked + checksum
    );
}
