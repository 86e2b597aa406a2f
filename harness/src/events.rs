//! The runner emits events; reporters render them (as cargo-nextest does). The JSON Lines
//! result stream and the progress lines on stderr are reporters; a reporter that fails (a full
//! disk) says so, and the runner stops scheduling.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use sshmatrix_reports::{CellResult, Verdict};

/// Something the runner reports while it runs.
pub enum Event<'a> {
    /// A cell finished (or was abandoned: `result.verdict` is then `Interrupted`). `done` cells
    /// of `total` have finished so far.
    CellFinished {
        /// The cell's result.
        result: &'a CellResult,
        /// Cells finished so far, this one included.
        done: usize,
        /// Cells in the run.
        total: usize,
    },
}

/// Renders events. An error stops the run from scheduling more cells.
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn event(&self, e: &Event) -> Result<(), String>;
}

/// The result stream: every measured cell as one JSON line, written with its newline in a
/// single write (a reader never sees half a result followed by the next one). Interrupted
/// cells are never written: `--resume` runs them again.
pub struct StreamReporter {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl StreamReporter {
    /// Opens `path` for appending.
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(StreamReporter {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }
}

impl Reporter for StreamReporter {
    fn event(&self, e: &Event) -> Result<(), String> {
        let Event::CellFinished { result, .. } = e;
        if !result.verdict.is_measured() {
            return Ok(());
        }
        let mut line = serde_json::to_vec(result).expect("cell serializes");
        line.push(b'\n');
        self.file
            .lock()
            .expect("stream lock")
            .write_all(&line)
            .map_err(|err| {
                format!(
                    "result stream {}: cannot write: {err}; the run stopped scheduling cells (results of the cells measured are in the report)",
                    self.path.display()
                )
            })
    }
}

/// One line per finished cell on stderr: `[done/total] #INDEX MARK SELECTOR: stage (reason)` —
/// `#INDEX` is the plan index and the selector the cell's name, both of which `explain` takes.
pub struct ProgressLines;

impl Reporter for ProgressLines {
    fn event(&self, e: &Event) -> Result<(), String> {
        let Event::CellFinished {
            result: r,
            done,
            total,
        } = e;
        let why = match r.verdict {
            Verdict::Ok => String::new(),
            _ => format!(" ({})", r.reason),
        };
        eprintln!(
            "[{done}/{total}] #{} {} {}: {}{why}",
            r.index,
            r.verdict.mark(),
            r.selector(),
            r.stage,
        );
        Ok(())
    }
}
