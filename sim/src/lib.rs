//! sim: a deterministic discrete-event network engine. It knows nothing of TCP.
//!
//! - [`time`]: virtual `Time`/`Duration` in integer nanoseconds.
//! - [`addr`]: the IPv4-style addresses the engine routes on.
//! - [`packet`]: byte buffers with addresses, and their reuse pool.
//! - [`rng`]: one ChaCha stream per component, derived from seed and label.
//! - [`link`]: rate, delay, drop-tail queue and impairments, per direction.
//! - [`fault`]: targeted `(match, action)` rules ("delay the first SYN by 3 s").
//! - [`world`]: nodes, routes, the `(time, sequence)` event queue, the run loop.
//! - [`topology`]: point-to-point, dumbbell and star builders.
//! - [`trace`]: every event in order, a 64-bit hash, the first divergence.
//! - [`hash`]: the fixed hash function the trace uses.
//! - [`log`]: `tracing` output stamped with virtual time.
//!
//! What it deliberately does not do: parse the bytes it carries, read a
//! wall clock, or draw randomness from anywhere but its seed.

pub mod addr;
pub mod fault;
pub mod hash;
pub mod link;
pub mod log;
pub mod packet;
pub mod rng;
pub mod time;
pub mod topology;
pub mod trace;
pub mod world;

pub use addr::{Addr, Prefix};
pub use fault::{FaultAction, FaultRule};
pub use link::{Corruption, GilbertElliott, Jitter, LinkConfig, LinkId, LinkStats, Reorder};
pub use packet::Packet;
pub use rng::SimRng;
pub use time::{Duration, Time};
pub use trace::{DropReason, EventKind, Trace, TraceEvent, TraceMode, first_divergence};
pub use world::{Ctx, Node, NodeId, Router, RunStats, SimError, TimerId, World, WorldConfig};
