//! Subcommands of the `sshmatrix` binary that need more than a few lines, one module each.

pub mod bench;
pub mod clients;
pub mod compare;
pub mod explain;
pub mod impact;
pub mod inspect;
pub mod output;
pub mod record;
pub mod run;
pub mod scan;
pub mod serve;
pub mod try_cell;
pub mod verify;

/// The `--work-dir` flag, declared once and shared by every command that touches the key cache.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct WorkDir {
    /// Work directory: key cache, host keys, run files (default ~/.cache/sshmatrix; it must not
    /// lie below a group- or world-writable directory).
    #[arg(long = "work-dir", value_name = "DIR")]
    pub work_dir: Option<std::path::PathBuf>,
}

/// The clients and key types of a generated matrix (`impact`, `scan`), declared once.
#[derive(clap::Args, Clone, Debug)]
pub struct CellChoice {
    /// Client profiles, comma-separated (default: every emulation profile and the real clients
    /// this host runs without installing anything).
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<String>,
    /// Key types, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rsa-2048,ecdsa-256,ed25519"
    )]
    pub keys: Vec<String>,
}

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
