//! The runner emits events; reporters render them (as cargo-nextest does). The JSON Lines
//! result stream and the progress lines on stderr are reporters; a reporter that fails (a full
//! disk) says so, and the runner stops scheduling.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use sshmatrix_core::tr;
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
        let file = sshmatrix_core::fsx::open_for_writing(path, true)?;
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
            r.mark(),
            r.selector(),
            r.stage,
        );
        Ok(())
    }
}

/// A live progress bar on a terminal (stderr): cells done of all, the ○/×/! counts so far,
/// cells per second and the time left; left on screen as one summary line when the run ends.
#[derive(Default)]
pub struct ProgressBar {
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
    counts: Mutex<[usize; 3]>,
}

impl ProgressBar {
    fn bar(&self, total: usize) -> &indicatif::ProgressBar {
        self.bar.get_or_init(|| {
            // indicatif's own `{per_sec}` prints "17.8163/s": the rate is written here.
            let lang = sshmatrix_core::i18n::current();
            let template = format!(
                "{{bar:30}} {{pos}}/{{len}} {}  {{msg}}  {{rate}}  {}",
                tr!(lang, "progress-cells"),
                tr!(lang, "progress-left", eta = "{eta}")
            );
            let style = indicatif::ProgressStyle::with_template(&template)
                .expect("progress template")
                .with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", rate_text(s.per_sec()));
                    },
                );
            indicatif::ProgressBar::new(total as u64).with_style(style)
        })
    }
}

/// Cells per second as the bar shows them: `17.8 cells/s`.
fn rate_text(per_sec: f64) -> String {
    let lang = sshmatrix_core::i18n::current();
    tr!(lang, "progress-rate", rate = format!("{per_sec:.1}"))
}

/// The ○/×/! counts as the bar shows them.
fn counts_text(c: &[usize; 3]) -> String {
    format!("○ {}  × {}  ! {}", c[0], c[1], c[2])
}

impl Reporter for ProgressBar {
    fn event(&self, e: &Event) -> Result<(), String> {
        let Event::CellFinished {
            result,
            done,
            total,
        } = e;
        let bar = self.bar(*total);
        let mut c = self.counts.lock().expect("progress lock");
        match result.verdict {
            Verdict::Ok => c[0] += 1,
            Verdict::Fail => c[1] += 1,
            Verdict::Error => c[2] += 1,
            Verdict::Interrupted => {}
        }
        bar.set_message(counts_text(&c));
        bar.inc(1);
        if done >= total {
            finish(bar, &c);
        }
        Ok(())
    }
}

/// Replaces the bar by its summary line: cells, counts, time, rate.
fn finish(bar: &indicatif::ProgressBar, c: &[usize; 3]) {
    let secs = bar.elapsed().as_secs_f64();
    bar.set_style(indicatif::ProgressStyle::with_template("{msg}").expect("template"));
    let done = bar.position();
    let rate = match secs > 0.0 {
        true => format!("  ({})", rate_text(done as f64 / secs)),
        false => String::new(),
    };
    let lang = sshmatrix_core::i18n::current();
    let summary = tr!(
        lang,
        "progress-summary",
        cells = sshmatrix_reports::lang::cells(lang, done as usize),
        counts = counts_text(c),
        secs = format!("{secs:.1}")
    );
    bar.finish_with_message(format!("{summary}{rate}"));
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        // A run that stopped early: the summary of what finished.
        if let Some(bar) = self.bar.get().filter(|b| !b.is_finished()) {
            let c = self.counts.lock().map(|c| *c).unwrap_or_default();
            finish(bar, &c);
        }
    }
}
