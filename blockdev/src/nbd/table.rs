//! [`InflightTable`]: the requests an NBD connection has sent and not yet
//! seen answered, keyed by cookie, and the one place where "the connection
//! is gone" is decided. The protocol: [`crate::nbd`]'s module docs.
//!
//! # Field legend
//!
//! ```text
//!   m   under InflightTable::state
//!
//!   ops      m   cookie -> request (the op, its engine ticket)
//!   next     m   the next cookie
//!   closed   m   Some(error) once the connection is gone; set once, never cleared
//! ```
//!
//! No op is completed under `state`: `insert` gives the request back and
//! `close` returns the drained ones, and the caller completes them after
//! unlocking.

use std::collections::HashMap;

use aio_core::Error;
use aio_core::sync::Mutex;

struct State<T> {
    ops: HashMap<u64, T>,
    next: u64,
    closed: Option<Error>,
}

/// Requests in flight on one connection.
pub(crate) struct InflightTable<T> {
    state: Mutex<State<T>>,
}

impl<T> InflightTable<T> {
    pub(crate) fn new() -> Self {
        InflightTable {
            state: Mutex::ranked(
                crate::lock_order::NBD_INFLIGHT,
                State {
                    ops: HashMap::new(),
                    next: 1,
                    closed: None,
                },
            ),
        }
    }

    /// Registers a request and returns its cookie, or gives it back with the
    /// connection's error if the connection is gone. The check and the
    /// insertion are one critical section: a request is either drained by
    /// `close` or refused here, never left behind.
    pub(crate) fn insert(&self, t: T) -> Result<u64, (T, Error)> {
        let mut g = self.state.lock();
        if let Some(e) = g.closed
            && !aio_core::sync::mutant(aio_core::sync::Mutant::NbdInsertAfterClose)
        {
            return Err((t, e));
        }
        let cookie = g.next;
        g.next = g.next.wrapping_add(1).max(1);
        g.ops.insert(cookie, t);
        Ok(cookie)
    }

    /// Removes the request a reply names.
    pub(crate) fn take(&self, cookie: u64) -> Option<T> {
        self.state.lock().ops.remove(&cookie)
    }

    /// Marks the connection gone (the first error sticks) and returns every
    /// request still registered, for the caller to fail.
    pub(crate) fn close(&self, err: Error) -> Vec<T> {
        let mut g = self.state.lock();
        g.closed.get_or_insert(err);
        g.ops.drain().map(|(_, t)| t).collect()
    }

    /// The error the connection was closed with, if it was.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn closed(&self) -> Option<Error> {
        self.state.lock().closed
    }

    /// Requests in flight.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().ops.len()
    }
}
