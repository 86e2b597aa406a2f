//! Subcommands of the `sshmatrix` binary that need more than a few lines, one module each.

pub mod bench;
pub mod compare;
pub mod explain;
pub mod inspect;
pub mod output;
pub mod run;
pub mod verify;

/// SIGINT and SIGTERM, installed before any work starts (so no early signal kills the process
/// without cleanup).
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    pub fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
        }
    }

    /// The next SIGINT or SIGTERM.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
