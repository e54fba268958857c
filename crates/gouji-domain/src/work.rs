//! Bounded work: the explicit caps of one parse (lines, cells per line, facts, figures, unplaced
//! entries, text quoted into the report) and cooperative cancellation of a parse or a validation
//! that has already started (a caller's deadline passed, or the call was cancelled).
//!
//! The parser charges what it adds to the report to a meter of the current thread as it goes;
//! the first cap reached stops it (it adds nothing more and returns
//! [`crate::ParseError::TooMuch`]), so memory never grows past the caps. A caller that may give
//! up runs the work inside [`with_cancel`]; the parser and the rules poll the token every few
//! thousand steps ([`POLL_EVERY`]) and stop early: the parse answers
//! [`crate::ParseError::Cancelled`] / [`crate::ParseError::DeadlineExceeded`], a validation
//! returns what it has, which the caller discards after [`Cancel::stop`] says why.
//!
//! The caps are far above real disclosures (a 300 KB report: ≈ 3,000 lines, ≤ 13 cells per line,
//! ≈ 40,000 cells, ≈ 2,000 facts, ≈ 300 figures) and keep a maximal 16 MiB document within the CPU and memory
//! bounds of docs/hardening.md.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Most lines one document may have.
pub const MAX_LINES: usize = 1_000_000;
/// Most tab-separated cells on one line.
pub const MAX_CELLS_PER_LINE: usize = 512;
/// Most tab-separated cells in one document (every line has one more cell than tabs). Each
/// costs 16 bytes while the parse runs, even when empty.
pub const MAX_CELLS: usize = 2_000_000;
/// Most table cells (facts) one report may hold.
pub const MAX_FACTS: usize = 200_000;
/// Most narrative figures one report may hold.
pub const MAX_FIGURES: usize = 50_000;
/// Most related reports (prior year, 预算, 汇总 or its units) one validation may be given: a
/// department with more units is checked against the first ones only (XR-05 then bounds, never
/// asserts equality).
pub const MAX_RELATED: usize = 64;
/// Most unplaced entries one report may hold.
pub const MAX_UNPLACED: usize = 50_000;
/// Most bytes of source text quoted into one report's facts, figures and unplaced entries (each
/// quotes its whole source line), per byte of the document: real reports quote 1–4.3× their
/// text. The report's copy of the document lines comes on top.
pub const MAX_QUOTED_PER_INPUT_BYTE: usize = 16;
/// Quoting is allowed at least this much, whatever the document's size.
pub const MIN_QUOTED_BYTES: usize = 1024 * 1024;
/// Most bytes of source text quoted into one report, whatever the document's size: with the
/// document (≤ 16 MiB), its lines (≤ 16 MiB) and the facts' keys (≤ 200,000 × ≈ 40 bytes) a
/// stored revision stays within the 64 MiB a response may carry.
pub const MAX_QUOTED_BYTES: usize = 16 * 1024 * 1024;

/// Most findings of one rule listed for one report; the rest are counted in one G-10 finding.
/// Real reports have at most a few dozen per rule; a hostile one (200,000 facts, each off by a
/// cent) would otherwise carry one finding per fact into every response and stored revision.
pub const MAX_FINDINGS_PER_RULE: usize = 500;
/// Most findings listed for one report, over all rules (the errors first).
pub const MAX_FINDINGS: usize = 10_000;

/// Most characters of its source line one finding's location quotes (a real table row or
/// narrative sentence is far shorter; a hostile document can have a line of megabytes).
pub const MAX_LOCATION_TEXT_CHARS: usize = 1_000;
/// Most bytes of source text the findings of one report quote in all; past it each further
/// location quotes at most [`MIN_LOCATION_TEXT_CHARS`].
pub const MAX_FINDINGS_TEXT_BYTES: usize = 8 * 1024 * 1024;
/// What a location still quotes once [`MAX_FINDINGS_TEXT_BYTES`] is spent.
pub const MIN_LOCATION_TEXT_CHARS: usize = 64;

/// Steps between two looks at the cancellation token.
pub const POLL_EVERY: u32 = 4096;

/// Why work stopped before it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The caller cancelled.
    Cancelled,
    /// The caller's deadline passed.
    DeadlineExceeded,
    /// A cap was reached: `what` (e.g. "facts") and its limit.
    Limit { what: &'static str, limit: usize },
}

/// A cancellation token: a flag the caller sets, and an optional deadline. Cheap to clone; all
/// clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Cancel {
    /// A token that only stops when [`Cancel::cancel`] is called.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// The same token, also stopping at `deadline`.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Why the work must stop now, if it must.
    pub fn stop(&self) -> Option<Stop> {
        if self.flag.load(Ordering::Relaxed) {
            Some(Stop::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Stop::DeadlineExceeded)
        } else {
            None
        }
    }
}

#[derive(Default)]
struct Meter {
    cancel: Option<Cancel>,
    steps: u32,
    facts: usize,
    figures: usize,
    unplaced: usize,
    quoted: usize,
    quoted_limit: usize,
    stop: Option<Stop>,
}

thread_local! {
    static METER: RefCell<Meter> = RefCell::new(Meter::default());
}

/// Runs `f` with `cancel` as the token the parser and the rules poll on this thread.
pub fn with_cancel<T>(cancel: Cancel, f: impl FnOnce() -> T) -> T {
    let previous = METER.with(|m| m.borrow_mut().cancel.replace(cancel));
    struct Restore(Option<Cancel>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            METER.with(|m| m.borrow_mut().cancel = previous);
        }
    }
    let _restore = Restore(previous);
    f()
}

/// Why the current thread's work must stop, if the caller cancelled or its deadline passed.
pub fn cancelled() -> Option<Stop> {
    METER.with(|m| m.borrow().cancel.as_ref().and_then(Cancel::stop))
}

/// The quoting limit of a document of `input_bytes`.
pub fn quoted_limit(input_bytes: usize) -> usize {
    input_bytes
        .saturating_mul(MAX_QUOTED_PER_INPUT_BYTE)
        .clamp(MIN_QUOTED_BYTES, MAX_QUOTED_BYTES)
}

/// Starts a fresh count for one parse of a document of `input_bytes` (the token stays).
pub(crate) fn begin(input_bytes: usize) {
    METER.with(|m| {
        let mut m = m.borrow_mut();
        let cancel = m.cancel.take();
        *m = Meter {
            cancel,
            quoted_limit: quoted_limit(input_bytes),
            ..Meter::default()
        };
    });
}

/// Why the current parse stopped, if it did (a cap or the token).
pub(crate) fn stopped() -> Option<Stop> {
    METER.with(|m| m.borrow().stop)
}

/// Counts `n` steps of work; every [`POLL_EVERY`] steps looks at the token. True when the work
/// must stop.
pub(crate) fn step(n: u32) -> bool {
    METER.with(|m| {
        let mut m = m.borrow_mut();
        if m.stop.is_some() {
            return true;
        }
        m.steps = m.steps.saturating_add(n);
        if m.steps >= POLL_EVERY {
            m.steps = 0;
            m.stop = m.cancel.as_ref().and_then(Cancel::stop);
        }
        m.stop.is_some()
    })
}

/// What a parse adds to its report.
#[derive(Clone, Copy)]
pub(crate) enum Item {
    Fact,
    Figure,
    Unplaced,
}

/// Charges one `item` quoting `quoted` bytes of source text. False (and the parse stops) when
/// a cap would be passed: the caller must not add the item.
pub(crate) fn charge(item: Item, quoted: usize) -> bool {
    METER.with(|m| {
        let mut m = m.borrow_mut();
        if m.stop.is_some() {
            return false;
        }
        let (count, what, limit) = match item {
            Item::Fact => (&mut m.facts, "facts", MAX_FACTS),
            Item::Figure => (&mut m.figures, "narrative figures", MAX_FIGURES),
            Item::Unplaced => (&mut m.unplaced, "unplaced entries", MAX_UNPLACED),
        };
        if *count >= limit {
            m.stop = Some(Stop::Limit { what, limit });
            return false;
        }
        *count += 1;
        if m.quoted + quoted > m.quoted_limit {
            m.stop = Some(Stop::Limit {
                what: "bytes of source text quoted by facts, figures and unplaced entries",
                limit: m.quoted_limit,
            });
            return false;
        }
        m.quoted += quoted;
        drop(m);
        !step(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_stop_the_count_and_say_which() {
        begin(MAX_QUOTED_BYTES);
        for _ in 0..MAX_FIGURES {
            assert!(charge(Item::Figure, 10));
        }
        assert!(!charge(Item::Figure, 10));
        assert_eq!(
            stopped(),
            Some(Stop::Limit {
                what: "narrative figures",
                limit: MAX_FIGURES
            })
        );
        begin(0);
        assert_eq!(stopped(), None);
        assert!(charge(Item::Fact, MIN_QUOTED_BYTES));
        assert!(
            !charge(Item::Fact, 1),
            "a small document may quote MIN_QUOTED_BYTES"
        );
        assert_eq!(quoted_limit(usize::MAX), MAX_QUOTED_BYTES);
        assert!(matches!(stopped(), Some(Stop::Limit { .. })));
        assert_eq!(quoted_limit(usize::MAX), MAX_QUOTED_BYTES);
        assert_eq!(quoted_limit(512 << 10), 8 << 20);
    }

    #[test]
    fn a_cancelled_token_is_seen_within_a_poll_interval() {
        let token = Cancel::new();
        with_cancel(token.clone(), || {
            begin(0);
            assert!(!step(1));
            token.cancel();
            let steps = (0..2 * POLL_EVERY).take_while(|_| !step(1)).count();
            assert!(steps < POLL_EVERY as usize, "{steps} steps after cancel");
            assert_eq!(stopped(), Some(Stop::Cancelled));
            assert_eq!(cancelled(), Some(Stop::Cancelled));
        });
        assert_eq!(
            cancelled(),
            None,
            "the token is only set inside with_cancel"
        );
        let past = Cancel::new().with_deadline(Some(Instant::now()));
        assert_eq!(past.stop(), Some(Stop::DeadlineExceeded));
    }
}
