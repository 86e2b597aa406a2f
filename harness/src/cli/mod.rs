//! The subcommands of the `sshmatrix` binary, one module each with its arguments; what they
//! share is declared once here (work directory, grants, clients and keys, report output) and in
//! [`common`] (catalog, planning, output, errors, runtime).

/// The `--work-dir` given, else the default one; returns exit 3 from the enclosing function
/// when it will not do.
macro_rules! work_dir {
    ($given:expr) => {
        match $crate::cli::common::work_dir($given) {
            Ok(w) => w,
            Err(code) => return code,
        }
    };
}

pub mod bench;
pub mod census;
pub mod clients;
pub mod common;
pub mod compare;
pub mod diagnose;
pub mod explain;
pub mod fleet;
pub mod impact;
pub mod inspect;
pub mod meta;
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

/// What the user grants a matrix file on the command line (a matrix may ask, never take):
/// declared once, flattened into every command that runs or plans a user's matrix.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct GrantArgs {
    /// Let the matrix's sshd lines read files or run commands (Include, ForceCommand, Banner,
    /// AuthorizedKeysCommand, …) as the user running sshmatrix: read them first. They are
    /// printed on stderr before use.
    #[arg(long)]
    pub trust_sshd_lines: bool,
    /// Send remote target TARGET the password of its password cells, read from an environment
    /// variable or a file (never argv); repeatable.
    #[arg(long, value_name = "TARGET=env:VAR|file:PATH", value_parser = sshmatrix::grants::parse_password)]
    pub password: Vec<(String, sshmatrix::grants::Secret)>,
    /// Let remote target TARGET's `deploy` log in with this admin key (a key inside the
    /// matrix's folder needs no grant); repeatable.
    #[arg(long = "deploy-key", value_name = "TARGET=PATH", value_parser = sshmatrix::grants::parse_deploy_key)]
    pub deploy_keys: Vec<(String, std::path::PathBuf)>,
}

impl GrantArgs {
    /// The grants these flags make.
    pub fn grants(&self) -> sshmatrix::grants::Grants {
        sshmatrix::grants::Grants {
            trust_sshd_lines: self.trust_sshd_lines,
            passwords: self.password.clone(),
            deploy_keys: self.deploy_keys.clone(),
        }
    }
}

/// Where and how a command writes its report, declared once for every command that writes
/// one (`run`, `predict`, `scan`, `impact`, `merge`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ReportOut {
    /// Output format (default: table; `merge`: json).
    #[arg(long, value_enum)]
    pub format: Option<common::OutFormat>,
    /// Write the report here instead of standard output (never through a symbolic link, never
    /// over another user's file).
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
}

impl ReportOut {
    /// The format asked for, else `default`.
    pub fn format_or(&self, default: common::OutFormat) -> common::OutFormat {
        self.format.unwrap_or(default)
    }

    /// The format asked for, else the table.
    pub fn format(&self) -> common::OutFormat {
        self.format_or(common::OutFormat::Table)
    }
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
