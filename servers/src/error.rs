//! The errors of target backends, and the per-target directory they write in.

use std::fs;
use std::path::{Path, PathBuf};

/// Errors of the local backend; all are environment problems (exit code 3) unless noted.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No sshd binary found.
    #[error("no OpenSSH sshd found (looked at $SSHMATRIX_SSHD, /usr/sbin/sshd, PATH): install openssh-server (apt-get install openssh-server)")]
    NoSshd,
    /// ssh-keygen missing or failing while making host keys.
    #[error("cannot make host keys with ssh-keygen: {0}; install openssh-client")]
    HostKeys(String),
    /// `SSHMATRIX_SSHD` names something that is not an OpenSSH sshd.
    #[error("{0}; unset it to use /usr/sbin/sshd, or point it at an OpenSSH sshd binary")]
    NotSshd(String),
    /// An OpenSSH-only operation (`sshd -T`, `sshd -V`) asked of another server.
    #[error("target `{target}` is not served by OpenSSH (no sshd_config to read)")]
    NotOpenssh {
        /// Target id.
        target: String,
    },
    /// The rendered configuration is rejected by sshd.
    #[error("sshd rejects the configuration of target `{target}` ({config}): {message}")]
    BadConfig {
        /// Target id.
        target: String,
        /// Config file path.
        config: String,
        /// What sshd said.
        message: String,
    },
    /// A path sshd could not be told about safely (a quote or control character in it).
    #[error("the path {0:?} holds a quote or control character, which an sshd_config cannot carry; use a work directory without them (--work-dir)")]
    BadPath(String),
    /// Lines the user did not vouch for change what sshd runs or reads (`sshd -T`).
    #[error("target `{target}`: the sshd lines given change `{keyword}` to `{value}` (read back with sshd -T); they read files or run commands as the user running sshmatrix: refused")]
    Untrusted {
        /// Target id.
        target: String,
        /// The setting they change (lower case, as `sshd -T` prints it).
        keyword: String,
        /// Its value then.
        value: String,
    },
    /// Filesystem or process error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The directory of target `id` under `run_dir` (0700), created.
pub fn target_dir(run_dir: &Path, id: &str) -> Result<PathBuf, TargetError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = run_dir.join("targets").join(id);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}
