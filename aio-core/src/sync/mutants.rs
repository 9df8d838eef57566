//! The loom mutants: each a deliberate weakening of one protocol, switched
//! on in loom builds by `AIO_MUTANT=<kebab-case name>`, and the failure its
//! model must report. Outside `cfg(loom)` [`mutant`](super::mutant) is a
//! `const fn` returning `false`, so production code carries none of it.
//!
//! `scripts/mutants/<crate>.txt` lists the same mutants, one a line
//! (`crate model mutant expect`, the last column as [`Expect::label`]
//! writes it); the unit test below checks that the lists and this enum
//! agree exactly. `scripts/loom.sh --mutants` runs each mutant's model and
//! requires it to fail with the expected kind: a panic inside loom's
//! runtime, a build error or another assertion does not count as caught.

/// How a mutant's model must fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// loom finds every thread blocked (`deadlock; threads = ...`).
    Deadlock,
    /// loom finds an atomic accessed without a happens-before edge
    /// ("Causality violation: Concurrent ..." from loom's atomic model).
    Causality,
    /// loom finds concurrent accesses to an [`UnsafeCell`](super::UnsafeCell)
    /// ("Causality violation: Concurrent read and write accesses" or
    /// "... write accesses to `UnsafeCell`").
    Race,
    /// The model's own assertion fails with a message containing this
    /// text.
    Panic(&'static str),
}

impl Expect {
    /// The kind as the lists and `scripts/loom.sh` spell it: `deadlock`,
    /// `causality`, `race` or `panic:<text>`.
    pub fn label(&self) -> String {
        match self {
            Expect::Deadlock => "deadlock".into(),
            Expect::Causality => "causality".into(),
            Expect::Race => "race".into(),
            Expect::Panic(text) => format!("panic:{text}"),
        }
    }
}

macro_rules! mutants {
    ($($variant:ident = $name:literal, $krate:literal, $model:literal, $expect:expr;)*) => {
        /// Every loom mutant of the workspace. `AIO_MUTANT` takes the
        /// kebab-case [`name`](Mutant::name).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Mutant {
            $(
                #[doc = concat!("`", $name, "`: caught by `", $model, "` in ", $krate, ".")]
                $variant,
            )*
        }

        impl Mutant {
            /// Every mutant, in the lists' order.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$variant),*];

            /// The `AIO_MUTANT` value.
            pub const fn name(self) -> &'static str {
                match self { $(Mutant::$variant => $name,)* }
            }

            /// The crate whose model catches it.
            pub const fn krate(self) -> &'static str {
                match self { $(Mutant::$variant => $krate,)* }
            }

            /// The model (a test-name filter) that catches it.
            pub const fn model(self) -> &'static str {
                match self { $(Mutant::$variant => $model,)* }
            }

            /// How the model must fail.
            pub const fn expect(self) -> Expect {
                match self { $(Mutant::$variant => $expect,)* }
            }
        }
    };
}

mutants! {
DeliveredRelaxed = "delivered-relaxed", "aio-core", "loom_complete_vs_wait", Expect::Race;
DeliveredNoNotify = "delivered-no-notify", "aio-core", "loom_complete_vs_wait", Expect::Deadlock;
CallbackAfterDelivery = "callback-after-delivery", "aio-core", "loom_callback_vs_owner_free", Expect::Race;
CancelNotAtomic = "cancel-not-atomic", "aio-core", "loom_cancel_vs_complete", Expect::Race;
RingPublishRelaxed = "ring-publish-relaxed", "aio-core", "loom_ring_two_producers_vs_reaper", Expect::Race;
RingNoRecheck = "ring-no-recheck", "aio-core", "loom_ring_full_producer_vs_reaper", Expect::Deadlock;
AvailableNoGenCheck = "available-no-gen-check", "aio-core", "loom_wait_available_vs_release", Expect::Deadlock;
DoorbellNoNotify = "doorbell-no-notify", "aio-core", "loom_ticket_vs_engine_wait", Expect::Deadlock;
DoorbellSkipWaker = "doorbell-skip-waker", "aio-core", "loom_ticket_wakes_an_engine_through_its_waker", Expect::Deadlock;
DeliveredUnstamped = "delivered-unstamped", "aio-core", "loom_waited_delivery_then_sync_run_then_resubmit", Expect::Panic("a wait returned an earlier execution's result");
CreditNotReserved = "credit-not-reserved", "aio-core", "loom_ring_op_submitter_vs_completer_and_reaper", Expect::Panic("out of order");
EnginesNoWaker = "engines-no-waker", "aio-core", "loom_added_source_wakes_the_home_sleep", Expect::Deadlock;
PoolNoNotify = "pool-no-notify", "aio-pool", "loom_two_producers_one_sleeping_worker", Expect::Deadlock;
PoolSleepUnlocked = "pool-sleep-unlocked", "aio-pool", "loom_two_producers_one_sleeping_worker", Expect::Deadlock;
GateCheckFirst = "gate-check-first", "aio-pool", "loom_shutdown_vs_submit", Expect::Panic("push to a pool after shutdown");
FsyncCheckUnlocked = "fsync-check-unlocked", "aio-pool", "loom_fsync_barrier_vs_write_completion", Expect::Panic("fsync never dispatched (or twice)");
StealLenUnlocked = "steal-len-unlocked", "aio-pool", "loom_steal_vs_local_pop", Expect::Panic("range end index 1 out of range for slice of length 0");
PoolNoRing = "pool-no-ring", "aio-pool", "loom_new_work_wakes_a_worker_in_engine_wait", Expect::Deadlock;
PoolStartUnlocked = "pool-start-unlocked", "aio-pool", "loom_lazy_start_two_submitters", Expect::Panic("the read worker was started twice");
PoolConfirmOnDrain = "pool-confirm-on-drain", "aio-pool", "loom_ordered_op_waits_for_its_predecessor_only", Expect::Deadlock;
SuspendSkipWake = "suspend-skip-wake", "aio-posix", "loom_suspend_vs_complete", Expect::Deadlock;
SuspendNoRegister = "suspend-no-register", "aio-posix", "loom_suspend_vs_complete", Expect::Deadlock;
SlabDropUndelivered = "slab-drop-undelivered", "aio-posix", "loom_slab_reclaim_vs_delivery", Expect::Panic("a completed op's slot was lost: nothing left to reclaim");
ReapTakeUnclaimed = "reap-take-unclaimed", "aio-posix", "loom_waitcomplete_vs_return", Expect::Panic("a completion was reported twice");
CfdRecheckBeforeClear = "cfd-recheck-before-clear", "aio-posix", "loom_completion_fd_vs_completer", Expect::Panic("an untaken completion behind an unreadable descriptor");
LioSplitDecrement = "lio-split-decrement", "aio-posix", "loom_lio_group_notifies_once", Expect::Panic("the list notification must be sent exactly once");
DispatchNoNotify = "dispatch-no-notify", "aio-posix", "loom_dispatch_push_vs_idle", Expect::Deadlock;
StreamAdmitSplit = "stream-admit-split", "aio-posix", "loom_stream_admit_vs_release", Expect::Panic("the queued op was stranded");
SentBeforeSignal = "sent-before-signal", "aio-posix", "loom_sent_mark_follows_the_signal", Expect::Panic("aio_suspend returned before the op's signal was sent");
PlugCheckThenPush = "plug-check-then-push", "aio-posix", "loom_plug_vs_unplug", Expect::Panic("an entry's notification must be sent exactly once");
ListBypassesPlug = "list-bypasses-plug", "aio-posix", "loom_list_notification_follows_its_entries", Expect::Panic("the list's notification came before an entry's");
ReapsNoRecheck = "reaps-no-recheck", "aio-posix", "loom_reaps_flag_vs_instance_build", Expect::Panic("an instance built as the process began to reap never reaps");
CountReleaseRelaxed = "count-release-relaxed", "aio-posix", "loom_counter_block_handover", Expect::Panic("a count was lost when a block changed hands");
QueuePushNoNotify = "queue-push-no-notify", "blockdev", "loom_queue_push_vs_sleeping_consumer", Expect::Deadlock;
QueueCloseNoNotify = "queue-close-no-notify", "blockdev", "loom_queue_close_vs_sleeping_consumer", Expect::Deadlock;
NbdInsertAfterClose = "nbd-insert-after-close", "blockdev", "loom_nbd_submit_vs_disconnect", Expect::Panic("a request was lost on a dead connection");
TimerNoNotify = "timer-no-notify", "blockdev", "loom_timer_schedule_vs_sleep", Expect::Deadlock;
PoolNoSpawn = "pool-no-spawn", "blockdev", "loom_pool_jobs_from_two_threads_all_run", Expect::Panic("a job was lost");
ReadyArmBeforeQueue = "ready-arm-before-queue", "blockdev", "loom_ready_submit_vs_event", Expect::Panic("the read waits forever with data in the pipe");
ForkGateNoRecheck = "fork-gate-no-recheck", "blockdev", "loom_fork_gate", Expect::Panic("fork while a descriptor is half made");
LaneExitSplit = "lane-exit-split", "blockdev", "loom_lane_submit_vs_exit", Expect::Panic("an op queued on the lane was never run");}

impl Mutant {
    /// The mutant called `name`, if any.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// The mutant's line in `scripts/mutants/<crate>.txt`.
    pub fn list_line(self) -> String {
        format!(
            "{} {} {} {}",
            self.krate(),
            self.model(),
            self.name(),
            self.expect().label()
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Mutant;

    /// `scripts/mutants/*.txt` and [`Mutant::ALL`] agree exactly, line for
    /// line, crate by crate.
    #[test]
    fn lists_match_the_enum() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mutants");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("scripts/mutants")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        let mut got = Vec::new();
        for f in &files {
            let krate = f.file_stem().unwrap().to_str().unwrap().to_string();
            for line in std::fs::read_to_string(f).unwrap().lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                assert!(line.starts_with(&format!("{krate} ")), "{f:?}: {line}");
                got.push(line.to_string());
            }
        }
        let want: Vec<String> = Mutant::ALL.iter().map(|m| m.list_line()).collect();
        assert_eq!(
            got, want,
            "scripts/mutants/*.txt disagree with aio_core::sync::Mutant"
        );
        let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len(), "two mutants share a name");
    }
}
