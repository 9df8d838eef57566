//! What an op is: its [`OpKind`], its observable [`OpState`], and the
//! identity of one submission, [`OpKey`].

/// What an op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpKind {
    /// Read `length` bytes at `offset` into the buffer.
    Read,
    /// Write `length` bytes of the buffer at `offset`.
    Write,
    /// Flush data and metadata (`fsync`); buffer and length are ignored.
    Fsync,
    /// Flush data (`fdatasync`); buffer and length are ignored.
    Fdatasync,
}

impl OpKind {
    /// Whether the op moves data (read or write) rather than flushing.
    pub fn is_transfer(self) -> bool {
        matches!(self, OpKind::Read | OpKind::Write)
    }
}

/// The observable life-cycle state of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    /// Not submitted; the owner may change it.
    Idle,
    /// Handed to a servicer, not started; can still be cancelled.
    Queued,
    /// Being serviced; only its servicer can finish it.
    InFlight,
    /// Finished and delivered; the result is readable.
    Done,
    /// Finished with `ECANCELED` and delivered.
    Cancelled,
}

/// The identity of one execution of one op: which record, and which of its
/// generations (see [the op module's docs](super#states), "States", and
/// "Identity: `OpKey`").
///
/// The protocol owns it: the record half is a serial fixed when the record
/// is made, the generation is the state word's, and neither can be set by a
/// user or a wrapper. Cancellation and every servicer's bookkeeping key on
/// it; the op's [`id`](crate::Op::id) is the user's data (a wrapper's shadow op
/// may copy it, two ops may share it) and identifies nothing. Get it from
/// [`Pending::key`](crate::Pending::key), [`Queued::key`](crate::Queued::key)
/// or [`InFlight::key`](crate::InFlight::key): the three
/// handles of one submission give the same key, and a later submission of
/// the same record gives another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpKey {
    pub(super) record: u64,
    pub(super) generation: u64,
}

impl OpKey {
    /// The record's serial (unique in the process).
    pub fn record(self) -> u64 {
        self.record
    }

    /// The submission's generation on that record.
    pub fn generation(self) -> u64 {
        self.generation
    }
}
