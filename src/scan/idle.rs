//! Work that a scan needs late and that can run while a core would otherwise be idle.
//!
//! The evaluation keeps both cores busy most of the time, not all of it: the rules' tail,
//! the typed model, the line lookup and the reports leave ~0.35 core-seconds idle at 100k
//! users (issue #9, `M365GUARD_PROFILE`). Work needed only at the end (the snapshot's
//! digest, the check of every inbox rule against the model) runs on a thread of the Linux
//! `SCHED_IDLE` class, which the kernel runs only when no normal thread wants the core: it
//! fills those gaps without slowing the threads on the critical path. A thread that waits
//! for its result (`IdleTask::join`) leaves its core to it, so the work is never starved.
//! Elsewhere than Linux the thread has the normal priority: the same result, only sooner
//! or later.

use std::thread::{Scope, ScopedJoinHandle};

/// The result of work started with [`spawn`].
pub struct IdleTask<'scope, T>(ScopedJoinHandle<'scope, T>);

/// Start `work` on a thread of `scope` that only runs on an otherwise idle core; threads
/// it starts itself inherit that class.
pub fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    work: impl FnOnce() -> T + Send + 'scope,
) -> IdleTask<'scope, T> {
    IdleTask(scope.spawn(move || {
        run_only_when_idle();
        work()
    }))
}

impl<T> IdleTask<'_, T> {
    /// The work's result, waiting for it if need be; a panic of its thread is raised again
    /// here.
    pub fn join(self) -> T {
        self.0
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Put the calling thread in the `SCHED_IDLE` class (Linux); elsewhere, or if the kernel
/// refuses, it keeps its priority.
fn run_only_when_idle() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: changes only the calling thread's (pid 0) policy; `param` is a valid
        // sched_param that outlives the call. The result is ignored: only advice.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work's result comes back through `join`, computed on a thread of the idle class
    /// (Linux), and a panic in it is raised again by `join`.
    #[test]
    fn idle_work_gives_its_result_from_an_idle_thread() {
        let (answer, policy) = std::thread::scope(|scope| {
            spawn(scope, || {
                // SAFETY: reads the calling thread's scheduling policy.
                #[cfg(target_os = "linux")]
                let policy = unsafe { libc::sched_getscheduler(0) };
                #[cfg(not(target_os = "linux"))]
                let policy = 0;
                (6 * 7, policy)
            })
            .join()
        });
        assert_eq!(answer, 42);
        #[cfg(target_os = "linux")]
        assert_eq!(policy, libc::SCHED_IDLE);
        let _ = policy;

        let panicked = std::panic::catch_unwind(|| {
            std::thread::scope(|scope| spawn(scope, || panic!("boom")).join())
        });
        assert!(panicked.is_err());
    }
}
