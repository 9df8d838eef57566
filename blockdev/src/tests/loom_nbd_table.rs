//! The NBD in-flight table: a submitter registering a request races the
//! reader thread noticing the connection is gone. Narration: the `nbd`
//! module docs (`src/nbd/README.md`).

use super::{model, nop};
use crate::nbd::table::InflightTable;
use aio_core::sync::{Arc, thread};
use aio_core::{Error, InFlight, Op};

/// The submitter inserts (or, if refused, fails the op itself) while the
/// reader closes the table with `EIO` and fails what it drained.
///
/// Fails with an assertion if the op can end up neither refused nor
/// drained: left in the table of a dead connection, never completed
/// (mutant `nbd-insert-after-close`).
#[test]
fn loom_nbd_submit_vs_disconnect() {
    model(|| {
        let table: Arc<InflightTable<InFlight>> = Arc::new(InflightTable::new());
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let f = queued.start().unwrap();

        let t1 = Arc::clone(&table);
        let submitter = thread::spawn(move || {
            if let Err((f, e)) = t1.insert(f) {
                f.complete(Err(e));
            }
        });
        let t2 = Arc::clone(&table);
        let reader = thread::spawn(move || {
            for f in t2.close(Error::EIO) {
                f.complete(Err(Error::EIO));
            }
        });
        submitter.join().unwrap();
        reader.join().unwrap();
        // Checked while the table is alive: dropping it would complete a
        // leftover op with EIO through InFlight's Drop and hide the bug.
        assert!(
            pending.is_complete(),
            "a request was lost on a dead connection"
        );
        assert_eq!(table.len(), 0);
        drop(table);
        assert_eq!(pending.wait().1, Err(Error::EIO));
    });
}

/// A reply takes the request while the disconnect drains: the op is
/// completed exactly once, by one of them.
#[test]
fn loom_nbd_reply_vs_disconnect() {
    model(|| {
        let table: Arc<InflightTable<InFlight>> = Arc::new(InflightTable::new());
        let op = Op::new(nop(), vec![0u8; 1]);
        let (pending, queued) = op.enqueue();
        let cookie = table.insert(queued.start().unwrap()).ok().unwrap();
        let t1 = Arc::clone(&table);
        let reply = thread::spawn(move || {
            if let Some(f) = t1.take(cookie) {
                f.complete(Ok(1));
            }
        });
        for f in table.close(Error::EIO) {
            f.complete(Err(Error::EIO));
        }
        reply.join().unwrap();
        assert!(pending.is_complete());
        let r = pending.wait().1;
        assert!(r == Ok(1) || r == Err(Error::EIO));
    });
}
