//! Logs in virtual time: a `tracing-subscriber` timer that stamps each line
//! with the simulated clock, so `RUST_LOG=debug` output reads in simulated
//! seconds. The clock is per thread (each run owns its thread while it
//! steps), so parallel runs never see each other's time.

use crate::time::Time;
use std::cell::Cell;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

thread_local! {
    static VIRTUAL_NOW: Cell<u64> = const { Cell::new(0) };
}

/// Called by the run loop before each event.
pub(crate) fn set_virtual_now(t: Time) {
    VIRTUAL_NOW.with(|c| c.set(t.as_nanos()));
}

/// The virtual time of the event this thread is running.
pub fn virtual_now() -> Time {
    Time::from_nanos(VIRTUAL_NOW.with(Cell::get))
}

/// Formats log timestamps as virtual time: `  5.000012s`.
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{:>12}", virtual_now().to_string())
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
