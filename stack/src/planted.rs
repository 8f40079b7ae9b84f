//! Planted bugs: **test-only**. Compiled only with the `planted-bugs`
//! feature, which no default build, release binary or published crate
//! enables (`tests/tests/planted_bugs.rs` turns it on for its own test
//! target, and `tests/tests/release_has_no_planted_bugs.rs` checks the
//! `tcpsim` binary does not carry it).
//!
//! Each [`Bug`] brings back one defect fixed in the correctness work, so
//! the project can prove its sweeps find that class of bug by themselves
//! and shrink it to the faults that matter. A bug is active only on the
//! thread that planted it ([`plant`], undone when the guard drops), so
//! tests running in parallel do not see each other's bugs; a sweep that
//! hunts one must run on that thread (`jobs(1)`). The environment variable
//! `TCPSIM_PLANTED_BUG` (one of [`Bug::NAME`]s) plants one on every thread
//! of a process built with the feature, for trying a bug from the CLI.
//!
//! The bugs, each with the fix it undoes:
//!
//! - [`Bug::SynReceivedShutdownShift`]: CLOSE (shutdown) in SYN-RECEIVED
//!   moves to FIN-WAIT-1 at once and data offsets count the unacknowledged
//!   SYN, so the stream goes out shifted by one octet (fix: the FIN waits
//!   for the ACK of our SYN, RFC 9293 §3.10.4; `syn_unacked`, `data_offset`).
//! - [`Bug::PastRightEdge`]: the window is not taken from an ACK that
//!   advances SND.UNA with an old SEQ, and the right edge is counted from
//!   SND.UNA, so data goes past the edge the peer offered (fix: right edge =
//!   SND.WL2 + SND.WND, `snd_wnd_edge`, `snd_max_edge`).
//! - [`Bug::KeepaliveIgnoresFinWait2`]: keepalive runs in ESTABLISHED and
//!   CLOSE-WAIT only, so a half-closed socket never finds a dead peer (fix:
//!   `keepalive_applies`, as Linux's tcp_keepalive_timer).
//! - [`Bug::PseudoHeaderCarry`]: the pseudo-header sum adds protocol and
//!   length without folding the carry, so address pairs whose words sum near
//!   2^32 get a checksum off by one (fix: RFC 1071 §2 end-around carry,
//!   `pseudo_header_sum`). Planted as a release build behaved (wrapping), so
//!   it is silent: both ends agree, only an independent check sees it.
//! - [`Bug::TimeWaitIgnoresFin`]: TIME-WAIT drops a retransmitted FIN
//!   without ACKing it again, so a peer whose final ACK was lost stays in
//!   LAST-ACK (fix: RFC 9293 §3.10.7.4, `on_segment_time_wait`).

use std::cell::Cell;

/// One planted defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// CLOSE in SYN-RECEIVED sends the FIN at once and shifts the stream by one
    /// octet (undoes RFC 9293 §3.10.4's wait for the ACK of our SYN).
    SynReceivedShutdownShift,
    /// Data goes past the right edge the peer offered (undoes right edge =
    /// SND.WL2 + SND.WND).
    PastRightEdge,
    /// Keepalive runs only in ESTABLISHED and CLOSE-WAIT, so a half-closed
    /// socket never finds a dead peer (undoes `keepalive_applies`, as Linux's
    /// tcp_keepalive_timer).
    KeepaliveIgnoresFinWait2,
    /// The pseudo-header sum drops the end-around carry (undoes RFC 1071 §2).
    PseudoHeaderCarry,
    /// TIME-WAIT drops a retransmitted FIN without ACKing it (undoes RFC 9293
    /// §3.10.7.4).
    TimeWaitIgnoresFin,
}

impl Bug {
    /// Every bug, in the order of the list above.
    pub const ALL: [Bug; 5] = [
        Bug::SynReceivedShutdownShift,
        Bug::PastRightEdge,
        Bug::KeepaliveIgnoresFinWait2,
        Bug::PseudoHeaderCarry,
        Bug::TimeWaitIgnoresFin,
    ];

    /// The names `TCPSIM_PLANTED_BUG` takes, in [`Bug::ALL`] order.
    pub const NAME: [&'static str; 5] = [
        "syn-received-shutdown-shift",
        "past-right-edge",
        "keepalive-ignores-fin-wait-2",
        "pseudo-header-carry",
        "time-wait-ignores-fin",
    ];

    /// The bug's name.
    pub fn name(self) -> &'static str {
        Bug::NAME[Bug::ALL.iter().position(|&b| b == self).unwrap_or(0)]
    }

    /// The bug called `name`.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::NAME
            .iter()
            .position(|&n| n == name)
            .map(|i| Bug::ALL[i])
    }
}

fn from_env() -> Option<Bug> {
    std::env::var("TCPSIM_PLANTED_BUG")
        .ok()
        .and_then(|name| Bug::from_name(name.trim()))
}

thread_local! {
    static ACTIVE: Cell<Option<Bug>> = Cell::new(from_env());
}

/// Whether `bug` is planted on this thread.
pub fn active(bug: Bug) -> bool {
    ACTIVE.with(|a| a.get() == Some(bug))
}

/// Undoes a [`plant`] when dropped (the thread's previous bug comes back).
#[must_use = "the bug is planted only while the guard lives"]
pub struct Planted {
    previous: Option<Bug>,
}

impl Drop for Planted {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.previous));
    }
}

/// Plants `bug` on this thread until the guard drops.
pub fn plant(bug: Bug) -> Planted {
    let previous = ACTIVE.with(|a| a.replace(Some(bug)));
    Planted { previous }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bug_lives_as_long_as_its_guard_and_on_its_thread_only() {
        // Parallel tests must not see each other's bugs.
        {
            let _g = plant(Bug::PastRightEdge);
            assert!(active(Bug::PastRightEdge));
            let elsewhere = std::thread::spawn(|| active(Bug::PastRightEdge))
                .join()
                .unwrap();
            assert!(!elsewhere || from_env() == Some(Bug::PastRightEdge));
        }
        assert_eq!(
            active(Bug::PastRightEdge),
            from_env() == Some(Bug::PastRightEdge)
        );
        for bug in Bug::ALL {
            assert_eq!(Bug::from_name(bug.name()), Some(bug));
        }
    }
}
