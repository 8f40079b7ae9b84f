//! Targeted faults: `(match, action)` rules that fire deterministically.
//!
//! A rule matches with a predicate over the packet (its bytes and
//! addresses); optionally it fires only on the Nth packet that matches
//! ("drop the third ACK"), or on every match. Actions: drop, delay by `d`,
//! duplicate and deliver the copy `d` after the original (how a delayed old
//! duplicate SYN is made), or corrupt N bits. Rules on a link direction run in
//! the order added, before the queue; the first rule that fires decides.
//! Rules draw no randomness except the bit positions of `Corrupt`, which come
//! from the link direction's stream. A packet a `Corrupt` rule fired on is
//! not corrupted again by the link's random corruption: it carries exactly
//! the rule's bits.
//!
//! A rule may also be limited to a time window ([`FaultRule::active_from`],
//! [`FaultRule::active_until`]): outside it a packet does not match at all,
//! so it does not count toward the Nth match either. A rule may carry
//! network changes to make when it fires ([`FaultRule::then_change`]):
//! "when the first FIN passes, partition the link". A rule built with
//! [`FaultRule::named`] is shown by its name in renderings ("drop the final
//! ACK"); one built with [`FaultRule::new`] keeps its label for debugging
//! only and is shown by its position (`#0`), as it always was.

use crate::link::{LinkChange, LinkTarget};
use crate::packet::Packet;
use crate::time::{Duration, Time};

/// What a rule does to the packet it fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Drop the packet (counted in `LinkStats::dropped_fault`, traced as
    /// `DropReason::FaultRule`).
    Drop,
    /// Deliver the packet this much later than the link alone would.
    Delay(Duration),
    /// Deliver the original normally and a copy `Duration` later.
    Duplicate(Duration),
    /// Flip `bits` random bits (drawn from the direction's RNG stream); the
    /// packet is still delivered.
    Corrupt {
        /// How many bits to flip, `1..=`[`crate::link::CORRUPTION_BITS_MAX`].
        bits: u32,
    },
}

impl FaultAction {
    /// Lets the packet through untouched: for a rule that is there only to
    /// make network changes ([`FaultRule::then_change`]).
    pub const PASS: FaultAction = FaultAction::Delay(Duration::ZERO);
}

type Matcher = Box<dyn Fn(&Packet) -> bool>;

/// One rule. Build with [`FaultRule::new`] or [`FaultRule::named`], narrow
/// with [`FaultRule::nth`] and the time window.
pub struct FaultRule {
    pub(crate) name: String,
    /// Whether renderings show `name` instead of the rule's position.
    shown_by_name: bool,
    matcher: Matcher,
    action: FaultAction,
    nth: Option<u64>,
    /// Active during `[active_from, active_until)`.
    active_from: Time,
    active_until: Time,
    pub(crate) changes: Vec<(LinkTarget, LinkChange)>,
    matched_count: u64,
    pub(crate) fired_count: u64,
}

impl std::fmt::Debug for FaultRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultRule")
            .field("name", &self.name)
            .field("action", &self.action)
            .field("nth", &self.nth)
            .field("active_from", &self.active_from)
            .field("active_until", &self.active_until)
            .field("changes", &self.changes)
            .field("matched_count", &self.matched_count)
            .finish()
    }
}

impl FaultRule {
    /// A rule that fires on every packet `matcher` accepts. `label` is for
    /// debugging; renderings call the rule by its position (`#0`).
    pub fn new(
        label: impl Into<String>,
        matcher: impl Fn(&Packet) -> bool + 'static,
        action: FaultAction,
    ) -> FaultRule {
        FaultRule {
            name: label.into(),
            shown_by_name: false,
            matcher: Box::new(matcher),
            action,
            nth: None,
            active_from: Time::ZERO,
            active_until: Time::MAX,
            changes: Vec::new(),
            matched_count: 0,
            fired_count: 0,
        }
    }

    /// Like [`FaultRule::new`], but renderings call the rule by `name`
    /// ("X dropped: fault rule \"drop the final ACK\"").
    pub fn named(
        name: impl Into<String>,
        matcher: impl Fn(&Packet) -> bool + 'static,
        action: FaultAction,
    ) -> FaultRule {
        FaultRule {
            shown_by_name: true,
            ..FaultRule::new(name, matcher, action)
        }
    }

    /// Active only from `time` on (packets sent earlier do not match).
    pub fn active_from(mut self, time: Time) -> FaultRule {
        self.active_from = time;
        self
    }

    /// Active only before `time` (packets sent at or after it do not match).
    pub fn active_until(mut self, time: Time) -> FaultRule {
        self.active_until = time;
        self
    }

    /// The window `[from, until)` the rule is active in.
    pub fn active_window(&self) -> (Time, Time) {
        (self.active_from, self.active_until)
    }

    /// When the rule fires, also make `change` to `links`, right after the
    /// rule's action has decided its packet's fate (so a hold keeps that
    /// very packet, a partition loses it in flight, and a new rate applies
    /// from the next one). Several changes run in the order added.
    pub fn then_change(mut self, links: impl Into<LinkTarget>, change: LinkChange) -> FaultRule {
        self.changes.push((links.into(), change));
        self
    }

    /// The network changes the rule makes when it fires.
    pub fn changes(&self) -> &[(LinkTarget, LinkChange)] {
        &self.changes
    }

    /// The name renderings show, if the rule was built with [`FaultRule::named`].
    pub fn shown_name(&self) -> Option<&str> {
        self.shown_by_name.then_some(self.name.as_str())
    }

    /// What the rule does when it fires.
    pub fn action(&self) -> FaultAction {
        self.action
    }

    /// Fire only on the `n`th matching packet (1-based); `n = 0` never fires.
    pub fn nth(mut self, n: u64) -> FaultRule {
        self.nth = Some(n);
        self
    }

    /// The rule's label (its name if built with [`FaultRule::named`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times this rule has fired so far.
    pub fn fired_count(&self) -> u64 {
        self.fired_count
    }

    /// Offers a packet sent at `now`; returns the action if the rule fires.
    pub(crate) fn offer(&mut self, now: Time, packet: &Packet) -> Option<FaultAction> {
        if now < self.active_from || now >= self.active_until || !(self.matcher)(packet) {
            return None;
        }
        self.matched_count += 1;
        let fires = match self.nth {
            None => true,
            Some(n) => self.matched_count == n,
        };
        if fires {
            self.fired_count += 1;
            Some(self.action)
        } else {
            None
        }
    }
}
