//! sim: a deterministic discrete-event network engine. It knows nothing of TCP.
//!
//! - [`time`]: virtual `Time`/`Duration` in integer nanoseconds.
//! - [`addr`]: the IPv4-style addresses the engine routes on.
//! - [`packet`]: byte buffers with addresses, and their reuse pool.
//! - [`rng`]: one ChaCha stream per component, derived from seed and label.
//! - [`link`]: rate, delay, drop-tail queue and impairments, per direction;
//!   [`LinkChange`], what can change while the world runs.
//! - [`decisions`]: every random impairment and fault-rule hit recorded as a
//!   list, and replayed in place of the RNG (capsules, shrinking).
//! - [`fault`]: targeted `(match, action)` rules ("delay the first SYN by 3 s"),
//!   optionally in a time window, named, and making network changes.
//! - [`world`]: nodes, routes, the `(time, sequence)` event queue, the run loop,
//!   runtime network control, lookups by name.
//! - [`topology`]: point-to-point, dumbbell and star, with per-spoke overrides.
//! - [`trace`]: every event in order, a 64-bit hash, the first divergence.
//! - [`hash`]: the fixed hash function the trace uses.
//! - [`log`]: `tracing` output stamped with virtual time.
//!
//! What it deliberately does not do: parse the bytes it carries, read a
//! wall clock, or draw randomness from anywhere but its seed.
//!
//! # Controlling the network while it runs
//!
//! A link can be partitioned and repaired, held and released, or given a
//! new rate, delay or loss: at a time ([`World::change_link_at`]), at once
//! ([`World::change_link`]), from a node's callback ([`Ctx::change_link`],
//! [`Ctx::change_link_at`]), or when a fault rule fires
//! ([`FaultRule::then_change`]). Each change is a trace event, so the same
//! seed gives the same run, and runs without changes keep their hashes.
//!
//! ```
//! use sim::topology::{self, Endpoint};
//! use sim::{Addr, FaultAction, FaultRule, LinkChange, LinkConfig, Router, Time, World, WorldConfig};
//!
//! let mut world = World::new(WorldConfig::new(42));
//! let a = Endpoint::new("a", Addr::new(10, 0, 0, 1), Router);
//! let b = Endpoint::new("b", Addr::new(10, 0, 0, 2), Router);
//! let link = LinkConfig::default();
//! topology::point_to_point(&mut world, a, b, link.clone(), link).unwrap();
//! let (a_to_b, b_to_a) = world.link_by_name("a-b").unwrap();
//!
//! // A 2-second partition of both directions, starting at 1 s.
//! let both = (a_to_b, b_to_a);
//! world.change_link_at(Time::from_secs(1), both, LinkChange::Partition).unwrap();
//! world.change_link_at(Time::from_secs(3), both, LinkChange::Repair).unwrap();
//!
//! // From 5 s on, the first packet a -> b holds that direction (it and all
//! // later ones wait), until the release at 6 s.
//! let hold = FaultRule::named("hold after 5 s", |_| true, FaultAction::PASS)
//!     .active_from(Time::from_secs(5))
//!     .nth(1)
//!     .then_change(a_to_b, LinkChange::Hold);
//! world.add_fault(a_to_b, hold).unwrap();
//! world.change_link_at(Time::from_secs(6), a_to_b, LinkChange::Release).unwrap();
//!
//! // Impossible values are errors, not panics.
//! assert!(world.change_link(a_to_b, LinkChange::SetLoss { loss: 2.0 }).is_err());
//! world.run_until_idle().unwrap();
//! ```

#![warn(missing_docs)]

pub mod addr;
pub mod decisions;
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
pub use decisions::{Decision, DecisionError, Fault};
pub use fault::{FaultAction, FaultRule};
pub use link::{
    Corruption, GilbertElliott, Jitter, LinkChange, LinkConfig, LinkId, LinkStats, LinkTarget,
    Reorder,
};
pub use packet::Packet;
pub use rng::SimRng;
pub use time::{Duration, Time};
pub use trace::{DropReason, EventKind, Trace, TraceEvent, TraceMode, first_divergence};
pub use world::{Ctx, Node, NodeId, Router, RunStats, SimError, TimerId, World, WorldConfig};
