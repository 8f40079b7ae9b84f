//! Shared helpers for tcpsim's integration tests.
//!
//! ```
//! // A snapshot ends with the run's verdict and trace hash, so a changed
//! // trace shows up in the snapshot's diff even when the ladder is cut.
//! let outcome = scenarios::catalogue::find("lost-final-ack")
//!     .unwrap()
//!     .run(tcpsim_tests::SNAPSHOT_SEED)
//!     .unwrap();
//! let text = tcpsim_tests::snapshot_text("lost-final-ack", &outcome);
//! assert!(text.contains("verdict: pass"));
//! assert!(text.contains(&format!("trace hash: {:016x}", outcome.stats.trace_hash)));
//! ```

#![warn(missing_docs)]

use scenarios::render::{self, Numbering};
use scenarios::run::Outcome;

/// The seed every snapshot is taken at.
pub const SNAPSHOT_SEED: u64 = 1;

/// Lines of a long ladder kept at each end of a snapshot.
const HEAD_LINES: usize = 80;
const TAIL_LINES: usize = 30;

/// What a snapshot holds: the ladder (long transfers keep their first and
/// last lines, the middle is counted), the oracle verdict and the trace hash.
pub fn snapshot_text(name: &str, outcome: &Outcome) -> String {
    let ladder = render::ladder(outcome, Numbering::Relative);
    let lines: Vec<&str> = ladder.lines().collect();
    let mut out = String::new();
    if lines.len() <= HEAD_LINES + TAIL_LINES + 10 {
        out.push_str(&ladder);
    } else {
        for l in &lines[..HEAD_LINES] {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!(
            "    ... {} lines omitted ...\n",
            lines.len() - HEAD_LINES - TAIL_LINES
        ));
        for l in &lines[lines.len() - TAIL_LINES..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\n{name}: seed {}, {} events, {} simulated\nverdict: {}\ntrace hash: {:016x}\n",
        outcome.seed,
        outcome.stats.processed_count,
        outcome.stats.now,
        outcome.verdict(),
        outcome.stats.trace_hash
    ));
    out
}
