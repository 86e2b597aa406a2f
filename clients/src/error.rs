//! The key factory's error type (its own module, so that key material conversion and key
//! loading can share it without depending on the factory).

use std::path::{Path, PathBuf};

/// Errors of the key factory.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// A filesystem or process error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// OpenSSL refused to generate or write the key.
    #[error("openssl: {0}")]
    Ssl(#[from] openssl::error::ErrorStack),
    /// ssh-key refused to encode the key.
    #[error("ssh-key: {0}")]
    SshKey(String),
    /// A required external program is missing.
    #[error("`{program}` is not installed: {fix}")]
    MissingTool {
        /// The program name.
        program: String,
        /// How to get it.
        fix: String,
    },
    /// The requested format cannot hold this key type.
    #[error("{0}")]
    Unsupported(String),
    /// A cache entry that is not this user's private file.
    #[error("{0}")]
    Untrusted(String),
    /// A filesystem error under a known path (the key cache).
    #[error("{path}: {source}")]
    IoAt {
        /// Where it happened.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl FactoryError {
    /// Names `path` in a bare I/O error (other errors name their own cause).
    pub fn at(self, path: &Path) -> Self {
        match self {
            FactoryError::Io(source) => FactoryError::IoAt {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}
