//! Logs in virtual time: a `tracing-subscriber` timer that stamps each line
//! with the simulated clock and the name of the node whose event is
//! running, so `RUST_LOG=debug` output reads in simulated seconds, per host:
//!
//! ```text
//!    0.110008s client   DEBUG sim::world: drop link="client-server:client->server" reason=fault rule #0 bytes=52
//! ```
//!
//! The clock and the node are per thread (each run owns its thread while it
//! steps), so parallel runs never see each other's. With no subscriber
//! installed, or none enabled at any level, the engine skips recording the
//! node's name, and every `tracing` call in `sim` and `stack` is one
//! disabled-callsite check.

use crate::time::Time;
use std::cell::{Cell, RefCell};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

thread_local! {
    static VIRTUAL_NOW: Cell<u64> = const { Cell::new(0) };
    static NODE_NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Called by the run loop before each node's event: the name the log
/// lines of that event carry. Copies it only while some subscriber could
/// print a line (the buffer is reused, so it allocates only when a name is
/// longer than any before).
pub(crate) fn set_node(name: &str) {
    if tracing::level_filters::LevelFilter::current() == tracing::level_filters::LevelFilter::OFF {
        return;
    }
    NODE_NAME.with(|n| {
        let mut n = n.borrow_mut();
        n.clear();
        n.push_str(name);
    });
}

/// The name of the node whose event this thread is running (empty before
/// the first, or while no subscriber is enabled).
pub fn current_node() -> String {
    NODE_NAME.with(|n| n.borrow().clone())
}

/// Called by the run loop before each event.
pub(crate) fn set_virtual_now(t: Time) {
    VIRTUAL_NOW.with(|c| c.set(t.as_nanos()));
}

/// The virtual time of the event this thread is running.
pub fn virtual_now() -> Time {
    Time::from_nanos(VIRTUAL_NOW.with(Cell::get))
}

/// Formats log timestamps as virtual time and node: `   5.000012s client  `.
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let time = virtual_now().to_string();
        NODE_NAME.with(|n| write!(w, "{time:>12} {:<8}", n.borrow()))
    }
}

/// Installs a global subscriber that reads `RUST_LOG` (default `warn`) and
/// stamps lines with virtual time. Safe to call more than once.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(VirtualTime)
        .with_writer(std::io::stderr)
        .try_init();
}
