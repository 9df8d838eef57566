#![doc = include_str!("README.md")]

// The module's documentation is `README.md` beside this file: the one
// narration of the op protocol, with the one state diagram and the crate's
// lock-order table. Each file below holds one protocol's code.

// The op's buffer: owned, raw or segmented, with a keep-alive.
mod buf;
// What an op is: kind, observable state, identity (`OpKey`).
mod kind;
// The state word and its named transitions: the only code that writes it.
mod state;
// How a completion is announced: callback, ring, or nobody.
mod notify;
// The shared record (`OpShared`) and its field accessors.
mod record;
// Completing an op and waiting for the delivery (C1–C4, W1–W3).
mod deliver;
// The cancel transition.
mod cancel;
// Waiting for a busy target (A1–A4, R1–R2).
mod available;
// The servicer's started token `InFlight` (what a strategy receives) and
// `OpWatch`.
mod inflight;
// The servicer's claim on a queued op: `Queued`.
mod queued;
// Running an op against its target; it binds the record's target handle.
mod execute;
// The owner's handles: `Op`, `Pending`.
mod owner;

pub use available::Availability;
pub use buf::{IoBuf, Segments, SegmentsMut};
pub use cancel::CancelOutcome;
pub use inflight::{InFlight, OpWatch};
pub use kind::{OpKey, OpKind, OpState};
pub use notify::{Callback, Completion};
pub use owner::{Op, Pending};
pub use queued::Queued;
