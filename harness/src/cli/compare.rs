//! `merge` and `diff`: joining shard reports and comparing runs.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::{scale, EXIT_EXPECTATIONS, EXIT_INPUT, EXIT_OK};
use sshmatrix_reports::{diff, render};

use crate::{emit, read_report, OutFormat};

/// `sshmatrix merge`: shard reports joined into one.
pub fn merge(
    reports: Vec<PathBuf>,
    format: OutFormat,
    output: Option<PathBuf>,
    partial: bool,
) -> ExitCode {
    let mut all = Vec::new();
    for p in &reports {
        match read_report(p) {
            Ok(r) => all.push(r),
            Err(code) => return code,
        }
    }
    let merged = match scale::merge(all, partial) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let text = render(&merged, format.into());
    if let Err(code) = emit(&text, output.as_deref()) {
        return code;
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `sshmatrix diff`: the cells that changed between two reports.
pub fn diff(old: PathBuf, new: PathBuf, allow_added_removed: bool) -> ExitCode {
    let (old, new) = match (read_report(&old), read_report(&new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let changes = diff::diff(&old, &new);
    print!("{}", diff::render(&changes));
    let fails = match allow_added_removed {
        true => diff::has_regressions(&changes),
        false => diff::fails_gate(&changes),
    };
    ExitCode::from(if fails { EXIT_EXPECTATIONS } else { EXIT_OK } as u8)
}
