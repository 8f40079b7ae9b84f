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

use crate::packet::Packet;
use crate::time::Duration;

/// What a rule does to the packet it fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    Drop,
    Delay(Duration),
    /// Deliver the original normally and a copy `Duration` later.
    Duplicate(Duration),
    Corrupt {
        bits: u32,
    },
}

type Matcher = Box<dyn Fn(&Packet) -> bool>;

/// One rule. Build with [`FaultRule::new`], narrow with [`FaultRule::nth`].
pub struct FaultRule {
    pub(crate) name: String,
    matcher: Matcher,
    action: FaultAction,
    nth: Option<u64>,
    matched_count: u64,
    pub(crate) fired_count: u64,
}

impl std::fmt::Debug for FaultRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultRule")
            .field("name", &self.name)
            .field("action", &self.action)
            .field("nth", &self.nth)
            .field("matched_count", &self.matched_count)
            .finish()
    }
}

impl FaultRule {
    /// A rule that fires on every packet `matcher` accepts.
    pub fn new(
        name: impl Into<String>,
        matcher: impl Fn(&Packet) -> bool + 'static,
        action: FaultAction,
    ) -> FaultRule {
        FaultRule {
            name: name.into(),
            matcher: Box::new(matcher),
            action,
            nth: None,
            matched_count: 0,
            fired_count: 0,
        }
    }

    /// Fire only on the `n`th matching packet (1-based); `n = 0` never fires.
    pub fn nth(mut self, n: u64) -> FaultRule {
        self.nth = Some(n);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times this rule has fired so far.
    pub fn fired_count(&self) -> u64 {
        self.fired_count
    }

    /// Offers a packet; returns the action if the rule fires.
    pub(crate) fn offer(&mut self, packet: &Packet) -> Option<FaultAction> {
        if !(self.matcher)(packet) {
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
