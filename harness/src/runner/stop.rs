//! Stop requests from signals, shared by the signal handler and the runner.

use crate::error::RunError;

/// Stop requests, shared by the signal handler and the runner. The first stops scheduling
/// (cells in flight finish with their real verdicts: every child process runs in its own
/// process group, so a terminal's Ctrl-C reaches only sshmatrix); the second abandons the cells
/// in flight, which are then reported as `interrupted` and never written to the stream.
#[derive(Debug, Default)]
pub struct Stop {
    stop: std::sync::atomic::AtomicBool,
    signalled: std::sync::atomic::AtomicBool,
    abandon: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    /// Stops scheduling new cells.
    pub fn request(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops scheduling because of a signal (Ctrl-C, SIGTERM). A signal sent to the whole
    /// process group can reach a child in the instant it is being started, before it has left
    /// the group: cells in flight that did not log in are then reported as interrupted.
    pub fn request_by_signal(&self) {
        self.signalled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.request();
    }

    /// Whether a signal stopped the run.
    pub fn signalled(&self) -> bool {
        self.signalled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Abandons the cells in flight as well.
    pub fn abandon(&self) {
        self.request_by_signal();
        self.abandon
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once the cells in flight are to be abandoned.
    pub async fn abandoned(&self) {
        loop {
            let woken = self.notify.notified();
            if self.abandon.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            woken.await;
        }
    }

    /// `Err(Interrupted)` naming `what` when a stop was requested.
    pub fn check(&self, what: &str) -> Result<(), RunError> {
        match self.requested() {
            true => Err(RunError::Interrupted(what.into())),
            false => Ok(()),
        }
    }
}
