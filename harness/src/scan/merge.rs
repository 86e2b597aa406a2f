//! Scan reports from several sites joined into one fleet report (`sshmatrix merge A.json
//! B.json`): each host once, a host in two reports refused unless the newer scan is told to win,
//! the clients and keys the same in every report.

use std::collections::HashMap;

use sshmatrix_reports::{Header, Report};

/// Whether a report is a scan's (`scan HOST`, or `scan --targets FILE`, or an earlier merge).
pub fn is_scan(r: &Report) -> bool {
    r.matrix.starts_with("scan ")
}

/// The host a single-host scan report is of (`scan 127.0.0.1:22` → `127.0.0.1:22`); None for a
/// fleet report, whose cells name their hosts.
fn single_host(r: &Report) -> Option<String> {
    let rest = r.matrix.strip_prefix("scan ")?;
    (!rest.starts_with("--")).then(|| rest.to_string())
}

/// One report read for a merge: where it came from and what it holds.
pub struct Scanned {
    /// Its file, as the user named it.
    pub file: String,
    /// The report.
    pub report: Report,
}

/// Joins scan reports into one: every host's cells from the report that scanned it. A host in
/// two reports is an error naming both, unless `newest_wins`, when the report made later (its
/// `generated` time; in the same second, the one listed later) gives the host's cells and a
/// note says which report lost it.
pub fn merge(reports: Vec<Scanned>, newest_wins: bool) -> Result<Report, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    let (rows, columns) = (
        first.report.row_axes.clone(),
        first.report.column_axes.clone(),
    );
    if let Some(other) = reports
        .iter()
        .find(|s| s.report.row_axes != rows || s.report.column_axes != columns)
    {
        return Err(format!(
            "{} and {} were scanned with different axes ({} × {} against {} × {}): scan every site with the same --clients and --keys, and with or without inventory groups in all",
            first.file,
            other.file,
            rows.join("/"),
            columns.join("/"),
            other.report.row_axes.join("/"),
            other.report.column_axes.join("/")
        ));
    }
    // host -> (index of the report that gives its cells)
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut notes = Vec::new();
    for (i, s) in reports.iter().enumerate() {
        for host in hosts(&s.report) {
            let Some(&j) = owner.get(&host) else {
                owner.insert(host, i);
                continue;
            };
            let (a, b) = (&reports[j], s);
            if !newest_wins {
                return Err(format!(
                    "host {host} is in both {} and {}\n  hint: keep one of them, or pass --newest-wins to take the later scan",
                    a.file, b.file
                ));
            }
            // Made in the same second: the one listed later.
            let newer = match b.report.generated >= a.report.generated {
                true => i,
                false => j,
            };
            let older = if newer == i { j } else { i };
            notes.push(format!(
                "host {host}: from {} (made {}), newer than {}",
                reports[newer].file,
                reports[newer].report.generated.as_deref().unwrap_or("?"),
                reports[older].file
            ));
            owner.insert(host, newer);
        }
    }
    Ok(joined(reports, &owner, notes))
}

/// The hosts of a scan report, in order.
fn hosts(r: &Report) -> Vec<String> {
    if let Some(h) = single_host(r) {
        return vec![h];
    }
    sshmatrix_reports::layout::distinct(r.cells.iter().map(|c| c.target.clone()))
}

/// The merged report: each host's cells from its owner, the reports' notes prefixed with their
/// file, the merge's own notes first.
fn joined(reports: Vec<Scanned>, owner: &HashMap<String, usize>, mut notes: Vec<String>) -> Report {
    let files: Vec<String> = reports.iter().map(|s| s.file.clone()).collect();
    let first = &reports[0].report;
    let (row_axes, column_axes) = (first.row_axes.clone(), first.column_axes.clone());
    let mut cells = Vec::new();
    for (i, s) in reports.into_iter().enumerate() {
        let single = single_host(&s.report);
        for n in s.report.notes {
            notes.push(format!("{}: {n}", s.file));
        }
        for mut c in s.report.cells {
            if let Some(h) = &single {
                c.target = h.clone();
            }
            if owner.get(&c.target) == Some(&i) {
                c.index = cells.len();
                cells.push(c);
            }
        }
    }
    let hosts = owner.len();
    notes.insert(0, format!("merged from {}", files.join(", ")));
    let header = Header {
        matrix: "scan --merge".into(),
        title: sshmatrix_core::tr!(
            sshmatrix_core::i18n::current(),
            "scan-title-merged",
            hosts = hosts,
            reports = files.len()
        ),
        matrix_digest: String::new(),
        plan_cells: cells.len(),
        row_axes,
        column_axes,
        notes,
    };
    Report::new(header, cells)
}
