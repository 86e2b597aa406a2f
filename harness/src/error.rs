//! Why a command could not complete, and the exit code each reason maps to (docs/reference.md,
//! "Exit codes"): the one error enum of a run and the one exit-code map.

use sshmatrix_clients::factory::FactoryError;
use sshmatrix_reports::Report;
use sshmatrix_servers::TargetError;

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Something missing or broken on this machine (exit code 3).
    #[error("{0}")]
    Environment(String),
    /// Bad input discovered while preparing (exit code 2).
    #[error("{0}")]
    Input(String),
    /// A stop (Ctrl-C, SIGTERM) arrived before any cell ran (exit code 130); says what was
    /// being prepared.
    #[error("interrupted while {0}: nothing was run")]
    Interrupted(String),
    /// The result stream could not be written (exit code 3): the run stopped scheduling; the
    /// report holds every cell measured, for the caller to keep.
    #[error("{0}")]
    Stream(String, Box<Report>),
}

impl RunError {
    /// The documented exit code (docs/reference.md, "Exit codes"): 2 bad input, 3 environment (a stream
    /// that cannot be written included), 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Input(_) => crate::EXIT_INPUT,
            RunError::Environment(_) | RunError::Stream(..) => crate::EXIT_ENVIRONMENT,
            RunError::Interrupted(_) => crate::EXIT_INTERRUPTED,
        }
    }
}

impl From<TargetError> for RunError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::BadConfig { .. }
            | TargetError::NotSshd(_)
            | TargetError::Untrusted { .. } => RunError::Input(e.to_string()),
            other => RunError::Environment(other.to_string()),
        }
    }
}

impl From<FactoryError> for RunError {
    fn from(e: FactoryError) -> Self {
        RunError::Environment(format!("key factory: {e}"))
    }
}
