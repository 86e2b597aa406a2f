//! How a run runs: concurrency, the cell timeout, the work directory, the result stream and how
//! progress shows.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Stop;

/// How a run shows its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (`-q`, and runs inside other commands).
    Off,
    /// One line per finished cell (`-v`, or stderr is not a terminal).
    Lines,
    /// A live bar with the ○/×/! counts so far, cells per second and the time left (a terminal).
    Bar,
}

impl Progress {
    /// The display a command's `-q` / `-v` and stderr ask for.
    pub fn choose(quiet: bool, verbose: bool) -> Progress {
        // A terminal the bar can draw on (not TERM=dumb or unset, where it would stay blank).
        let drawable = || console::Term::stderr().is_term() && !console::is_dumb();
        match (quiet, verbose) {
            (true, _) => Progress::Off,
            (false, true) => Progress::Lines,
            (false, false) if drawable() => Progress::Bar,
            (false, false) => Progress::Lines,
        }
    }
}

/// Seconds a cell may take unless the matrix or `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;

/// Runner options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent cells.
    pub jobs: usize,
    /// Per-cell timeout.
    pub timeout: Duration,
    /// Work directory: key cache, host keys, run directories.
    pub work_dir: PathBuf,
    /// JSON Lines result stream (one cell per line, appended as cells finish).
    pub stream: Option<PathBuf>,
    /// How finished cells are shown on stderr.
    pub progress: Progress,
    /// Stop requests (Ctrl-C): see [`Stop`].
    pub stop: Arc<Stop>,
}

impl Options {
    /// Options with the defaults of `sshmatrix run`.
    pub fn new(work_dir: PathBuf) -> Self {
        Options {
            jobs: default_jobs(),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            work_dir,
            stream: None,
            progress: Progress::Off,
            stop: Arc::default(),
        }
    }

    /// Whether a stop was requested.
    pub fn stopping(&self) -> bool {
        self.stop.requested()
    }
}

/// Default concurrency: four cells per core (each cell is mostly an sshd process and waiting).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        * 4
}
