//! The readiness waiter (narration: `src/ready/README.md`, "The protocol"): a submitter parking a stream read
//! races the peer making the file readable and the readiness thread
//! handling the event. The epoll set and the pipe are a loom-visible fake
//! with the kernel's one-shot semantics: an arm reports readiness that is
//! already there, and readiness that comes later fires an armed entry
//! once.

use super::{Keep, model, nop};
use crate::ready::{Poller, Readiness, Try, Waiter};
use aio_core::sync::{Arc, Condvar, Mutex, thread};
use aio_core::{Op, OpKind, Result};

const KEY: usize = 0x40;

/// The fake file and epoll entry, under one lock (the kernel's wait-queue
/// lock, which orders the readiness check of an arm against a wake-up).
#[derive(Default)]
struct FState {
    /// One byte can be read.
    data: bool,
    /// The one-shot entry is armed for reading.
    armed: bool,
    /// An event is queued for `wait`.
    event: bool,
    /// The model is over: `wait` returns nothing.
    stop: bool,
}

#[derive(Default)]
struct Fake {
    st: Mutex<FState>,
    cv: Condvar,
}

loom::lazy_static! {
    static ref FAKE: Fake = Fake::default();
}

impl Fake {
    /// The peer writes a byte.
    fn write(&self) {
        let mut g = self.st.lock();
        g.data = true;
        if g.armed {
            g.armed = false;
            g.event = true;
            self.cv.notify_all();
        }
    }

    fn stop(&self) {
        self.st.lock().stop = true;
        self.cv.notify_all();
    }
}

struct FakePoller(&'static Fake);

impl Poller for FakePoller {
    fn watch(&self, fd: i32, _key: usize) -> Result<i32> {
        Ok(fd)
    }
    fn watch_reopen(&self, fd: i32, _key: usize) -> Result<i32> {
        Ok(fd)
    }
    fn arm(&self, _fd: i32, _key: usize, read: bool, _write: bool) -> Result<()> {
        let mut g = self.0.st.lock();
        g.armed = false;
        if read {
            if g.data {
                g.event = true;
                self.0.cv.notify_all();
            } else {
                g.armed = true;
            }
        }
        Ok(())
    }
    fn unwatch(&self, _fd: i32) {
        self.0.st.lock().armed = false;
    }
    fn wait(&self, out: &mut Vec<usize>) {
        let mut g = self.0.st.lock();
        loop {
            if g.event {
                g.event = false;
                out.push(KEY);
                return;
            }
            if g.stop {
                return;
            }
            g = self.0.cv.wait(g);
        }
    }
}

/// The non-blocking read of the fake file.
fn fake_read(_w: &mut Waiter, _fd: i32) -> Try {
    let mut g = FAKE.st.lock();
    if g.data {
        g.data = false;
        Try::Done(Ok(1))
    } else {
        Try::Wait
    }
}

/// A read is submitted while the peer writes and the readiness thread
/// runs. Once everyone is done, the read must have completed with the
/// byte, whichever order the three took.
///
/// Fails with "the read waits forever" if the readiness thread can
/// consume the one-shot event before the op is in its queue (mutant
/// `ready-arm-before-queue`: arm, unlock, then queue).
#[test]
fn loom_ready_submit_vs_event() {
    model(|| {
        let r = Arc::new(Readiness::new(Box::new(FakePoller(&FAKE))));
        let mut op = Op::new(nop(), vec![0u8; 1]);
        op.prepare(OpKind::Read, 0, 1).unwrap();
        let (pending, queued) = op.enqueue();
        let w = Waiter {
            op: queued.start().unwrap(),
            keep: None,
            len: 1,
            done: 0,
            nonblock: false,
            attempt: fake_read,
            plain: false,
            once: false,
            fd: 3,
            key: KEY,
        };
        let r1 = Arc::clone(&r);
        let sub = thread::spawn(move || {
            assert!(r1.submit(w).is_ok(), "a pollable file is parked or done");
        });
        let peer = thread::spawn(|| FAKE.write());
        let r2 = Arc::clone(&r);
        let reactor = thread::spawn(move || while r2.run_once() {});
        sub.join().unwrap();
        peer.join().unwrap();
        FAKE.stop();
        reactor.join().unwrap();
        let r = Keep::new(r);
        assert!(
            pending.is_complete(),
            "the read waits forever with data in the pipe"
        );
        assert_eq!(pending.wait().1, Ok(1));
        r.done();
    });
}
