//! The op's state word and its named transitions.
//!
//! Every write of the word is one of the methods of [`StateWord`]:
//! [`enqueue`](StateWord::enqueue), [`start`](StateWord::start),
//! [`cancel`](StateWord::cancel), [`deliver`](StateWord::deliver),
//! [`finish_sync`](StateWord::finish_sync) and
//! [`register_waiter`](StateWord::register_waiter). The atomic is private to
//! this module, so no other code can write the word outside the protocol
//! (`README.md` beside this file: "States" and "Proof sketch").
//!
//! ```text
//!   | generation (60) | WAITERS (1) | phase (3) |
//! ```
//!
//! The generation counts executions of the op: [`enqueue`](StateWord::enqueue)
//! and [`finish_sync`](StateWord::finish_sync) each start a new one, and only
//! they clear `WAITERS`, by writing the whole word. Anything else that is
//! per-execution (the `delivered` stamp under the op's mutex, the identity
//! [`OpKey`](super::OpKey)) names its generation instead of being reset, so
//! no path can forget a reset. 60 bits do not wrap in any real run (at one
//! execution per nanosecond, 36 years).

use crate::op::OpState;
use crate::sync::atomic::{AtomicU64, Ordering};

const PHASE_MASK: u64 = 0b111;
const IDLE: u64 = 0;
const QUEUED: u64 = 1;
const INFLIGHT: u64 = 2;
const DONE: u64 = 3;
const CANCELLED: u64 = 4;
/// A waiter registered under the op's mutex before the op was delivered;
/// the completer must stamp `signals.delivered` and notify.
const WAITERS: u64 = 1 << 3;
const GEN_SHIFT: u32 = 4;
const GEN_MASK: u64 = u64::MAX >> GEN_SHIFT;

/// One reading of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snap(u64);

impl Snap {
    #[inline]
    fn phase(self) -> u64 {
        self.0 & PHASE_MASK
    }

    /// DONE or CANCELLED: delivered (and the result readable, if this
    /// snapshot was taken with Acquire).
    #[inline]
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self.phase(), DONE | CANCELLED)
    }

    /// QUEUED.
    #[inline]
    pub(crate) fn is_queued(self) -> bool {
        self.phase() == QUEUED
    }

    /// A waiter registered for this generation.
    #[inline]
    pub(crate) fn has_waiters(self) -> bool {
        self.0 & WAITERS != 0
    }

    /// The execution this state belongs to (0: never run).
    #[inline]
    pub(crate) fn generation(self) -> u64 {
        self.0 >> GEN_SHIFT
    }

    /// The public view.
    pub(crate) fn state(self) -> OpState {
        match self.phase() {
            IDLE => OpState::Idle,
            QUEUED => OpState::Queued,
            INFLIGHT => OpState::InFlight,
            DONE => OpState::Done,
            _ => OpState::Cancelled,
        }
    }
}

/// What [`StateWord::cancel`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelTry {
    /// This caller's CAS took the op out of QUEUED: it holds the in-flight
    /// right and must complete the op (with `ECANCELED`).
    Won,
    /// In flight: only its servicer can finish it.
    InFlight,
    /// Delivered, or (for a token) a later generation.
    AlreadyDone,
}

/// The state word of one op record. See the module docs.
pub(crate) struct StateWord(AtomicU64);

impl StateWord {
    /// IDLE, generation 0.
    pub(crate) fn new() -> StateWord {
        StateWord(AtomicU64::new(IDLE))
    }

    /// Reads the word with Acquire: a terminal phase seen here makes the
    /// completer's `result` visible (it pairs with `deliver`'s Release).
    #[inline]
    pub(crate) fn load(&self) -> Snap {
        Snap(self.0.load(Ordering::Acquire))
    }

    /// **enqueue** (the owner: IDLE/DONE/CANCELLED → QUEUED, next
    /// generation, no `WAITERS`). Returns the new generation.
    ///
    /// Release: the descriptor the owner wrote is published to the servicer
    /// (its Acquire in `start`), whichever way the `Queued` reaches it. The
    /// caller is the unique owner (`Op` by value), so nothing else writes
    /// the word until this store and the Relaxed load sees the last write.
    pub(crate) fn enqueue(&self) -> u64 {
        let s = Snap(self.0.load(Ordering::Relaxed));
        debug_assert!(
            matches!(s.phase(), IDLE | DONE | CANCELLED),
            "enqueue of a submitted op"
        );
        let generation = (s.generation() + 1) & GEN_MASK;
        self.0
            .store((generation << GEN_SHIFT) | QUEUED, Ordering::Release);
        generation
    }

    /// **finish-sync** (the owner, in synchronous mode: IDLE/DONE/CANCELLED
    /// → DONE/CANCELLED, next generation, no `WAITERS`). A synchronous run
    /// is an execution of its own, so a waiter's stamp from the last
    /// asynchronous delivery names an older generation and can never be
    /// taken for a later delivery.
    ///
    /// Relaxed: no other party can act on the op now. A stale `Queued`
    /// token may read the word, but it names an older generation (or sees a
    /// terminal phase), so it is inert whichever value it reads; the result
    /// written by the owner is read only by the owner, or by whoever the
    /// next `enqueue` (Release) publishes the op to.
    #[inline]
    pub(crate) fn finish_sync(&self, cancelled: bool) {
        let s = Snap(self.0.load(Ordering::Relaxed));
        debug_assert!(
            matches!(s.phase(), IDLE | DONE | CANCELLED),
            "run_sync of a submitted op"
        );
        let generation = (s.generation() + 1) & GEN_MASK;
        let to = if cancelled { CANCELLED } else { DONE };
        self.0
            .store((generation << GEN_SHIFT) | to, Ordering::Relaxed);
    }

    /// **start** (a servicer: QUEUED of `generation` → IN FLIGHT). Whether
    /// this caller won the in-flight right.
    ///
    /// AcqRel: Acquire pairs with `enqueue`'s Release (the descriptor), and
    /// the CAS is the single winner against a canceller's CAS. Only
    /// `WAITERS` may change under us: retry then.
    pub(crate) fn start(&self, generation: u64) -> bool {
        let mut s = self.0.load(Ordering::Acquire);
        loop {
            if Snap(s).generation() != generation || Snap(s).phase() != QUEUED {
                return false;
            }
            match self.0.compare_exchange_weak(
                s,
                (s & !PHASE_MASK) | INFLIGHT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// **cancel** (anyone: QUEUED → IN FLIGHT held by the canceller). With
    /// `Some(g)`, only generation `g` may be cancelled (a `Queued` token);
    /// with `None`, the current one (the owner's `Pending`, whose generation
    /// cannot change while it exists).
    ///
    /// The CAS out of QUEUED is what makes "cancel racing start" have one
    /// winner: exactly one of this and `start` succeeds.
    pub(crate) fn cancel(&self, generation: Option<u64>) -> CancelTry {
        loop {
            let s = self.0.load(Ordering::Acquire);
            if generation.is_some_and(|g| g != Snap(s).generation()) {
                return CancelTry::AlreadyDone;
            }
            match Snap(s).phase() {
                QUEUED => {
                    let won = if crate::sync::mutant(crate::sync::Mutant::CancelNotAtomic) {
                        // Check-then-act: the race the CAS exists to close.
                        self.0
                            .store((s & !PHASE_MASK) | INFLIGHT, Ordering::Release);
                        true
                    } else {
                        self.0
                            .compare_exchange(
                                s,
                                (s & !PHASE_MASK) | INFLIGHT,
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            )
                            .is_ok()
                    };
                    if won {
                        return CancelTry::Won;
                    }
                }
                INFLIGHT => return CancelTry::InFlight,
                _ => return CancelTry::AlreadyDone,
            }
        }
    }

    /// **deliver** (the holder of the in-flight right: IN FLIGHT →
    /// DONE/CANCELLED, `WAITERS` kept). Returns the word before: whether a
    /// waiter registered, and the generation to stamp.
    ///
    /// Release publishes `result` (and everything the notification did) to
    /// whoever observes the terminal phase with Acquire; Acquire makes a
    /// waiter's registration visible so the completer knows to take the
    /// lock. Only `WAITERS` can change under us and the phase is IN FLIGHT,
    /// so XOR flips it to the terminal phase in one step.
    pub(crate) fn deliver(&self, cancelled: bool) -> Snap {
        let to = if cancelled { CANCELLED } else { DONE };
        let ord = if crate::sync::mutant(crate::sync::Mutant::DeliveredRelaxed) {
            Ordering::Relaxed
        } else {
            Ordering::AcqRel
        };
        let prev = Snap(self.0.fetch_xor(INFLIGHT ^ to, ord));
        debug_assert_eq!(prev.phase(), INFLIGHT, "op completed twice");
        prev
    }

    /// Whether the execution `generation` has been delivered: the word is
    /// terminal in that generation, or a later one has begun (which only
    /// the owner can start, after taking the op back from a delivery). A
    /// read, not a transition: the [`OpWatch`](super::OpWatch) test.
    ///
    /// Acquire, as [`load`](StateWord::load): a `true` seen here follows
    /// the completer's `deliver` (Release), so everything the completer did
    /// before delivering (the I/O, the result, the notification) happens
    /// before whatever the watcher does next (aio-pool releases the ops
    /// that depended on this one).
    #[inline]
    pub(crate) fn delivered_since(&self, generation: u64) -> bool {
        let s = Snap(self.0.load(Ordering::Acquire));
        s.generation() != generation || s.is_terminal()
    }

    /// **register** (a waiter, under the op's mutex: sets `WAITERS` on the
    /// non-terminal state `seen`). A CAS, not `fetch_or`: `WAITERS` must
    /// only ever be set on a non-terminal state, or a later waiter could
    /// wait for a stamp that no completer will write. Whether it succeeded.
    pub(crate) fn register_waiter(&self, seen: Snap) -> bool {
        debug_assert!(!seen.is_terminal() && !seen.has_waiters());
        self.0
            .compare_exchange(
                seen.0,
                seen.0 | WAITERS,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}
