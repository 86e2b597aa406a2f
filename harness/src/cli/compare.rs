//! `merge` and `diff`: joining shard reports and comparing runs.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::{scale, EXIT_EXPECTATIONS, EXIT_INPUT, EXIT_OK};
use sshmatrix_reports::{diff, render};

use super::common::{emit, read_report, OutFormat};
use super::ReportOut;

/// Arguments of `sshmatrix merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The JSON reports.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub out: ReportOut,
    /// Accept a merge with cells missing (shards not given); exit 0 anyway.
    #[arg(long)]
    pub partial: bool,
    /// Scan reports of several sites: where a host is in two of them, take the later scan's
    /// cells (by the reports' `generated` time) instead of refusing the merge.
    #[arg(long)]
    pub newest_wins: bool,
}

/// Arguments of `sshmatrix render`.
#[derive(clap::Args)]
pub struct RenderArgs {
    /// A JSON report (`run … --format json -o FILE`, a scan, an impact, a merge).
    pub report: PathBuf,
    #[command(flatten)]
    pub out: ReportOut,
}

/// `sshmatrix render`: a saved JSON report in another format, without running anything.
pub fn render_saved(a: RenderArgs) -> ExitCode {
    let report = match read_report(&a.report) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Re-made through the one constructor, so what is derived (weak logins) is current.
    let (shard, older) = (report.shard.clone(), report.older_clients.clone());
    let mut report = sshmatrix_reports::Report::new(
        sshmatrix_reports::Header {
            matrix: report.matrix.clone(),
            title: report.title.clone(),
            matrix_digest: report.matrix_digest.clone(),
            plan_cells: report.plan_cells,
            row_axes: report.row_axes.clone(),
            column_axes: report.column_axes.clone(),
            notes: report.notes.clone(),
        },
        report.cells,
    );
    report.shard = shard;
    report.older_clients = older;
    let text = render(&report, a.out.format_or(OutFormat::Table).into());
    match emit(&text, a.out.output.as_deref()) {
        Ok(()) => ExitCode::from(EXIT_OK as u8),
        Err(code) => code,
    }
}

/// Arguments of `sshmatrix diff`.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// The earlier report (JSON).
    pub old: PathBuf,
    /// The later report (JSON).
    pub new: PathBuf,
    /// Exit 0 when cells were only added or removed (regressions still exit 1).
    #[arg(long)]
    pub allow_added_removed: bool,
}

/// `sshmatrix merge`: shard reports joined into one.
pub fn merge(a: MergeArgs) -> ExitCode {
    let (partial, format, output) = (a.partial, a.out.format_or(OutFormat::Json), a.out.output);
    let mut all = Vec::new();
    for p in &a.reports {
        match read_report(p) {
            Ok(r) => all.push(r),
            Err(code) => return code,
        }
    }
    let scans = all
        .iter()
        .filter(|r| sshmatrix::scan::merge::is_scan(r))
        .count();
    let merged = match scans {
        0 => scale::merge(all, partial),
        n if n == all.len() => {
            let scanned = a
                .reports
                .iter()
                .zip(all)
                .map(|(p, report)| sshmatrix::scan::merge::Scanned {
                    file: p.display().to_string(),
                    report,
                })
                .collect();
            sshmatrix::scan::merge::merge(scanned, a.newest_wins)
        }
        _ => Err("cannot merge scan reports with reports of matrix runs: merge the scans, and the runs, apart".into()),
    };
    let merged = match merged {
        Ok(m) => m,
        Err(e) => {
            crate::cli::common::error(&e);
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
pub fn diff(a: DiffArgs) -> ExitCode {
    let (old, new, allow_added_removed) = (a.old, a.new, a.allow_added_removed);
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
