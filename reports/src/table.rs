//! The ○/× table laid out like the field reports: grouped column headers (one header row per
//! column axis, spans over equal neighbours), grouped row labels (spans down), and a legend
//! giving each distinct failure reason once.

use tabled::builder::Builder;
use tabled::settings::object::Segment;
use tabled::settings::themes::BorderCorrection;
use tabled::settings::{Alignment, Modify, Span, Style};

use crate::schema::{CellResult, Report, Verdict};

fn distinct<T: Clone + PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The legend entry of a non-ok cell: failure code, stage and reason.
pub fn legend_text(c: &CellResult) -> String {
    format!("[{}] {}: {}", c.code, c.stage, c.reason)
}

/// Runs of equal prefixes: for each start index, how many following items share `key`.
fn spans<K: PartialEq>(keys: &[K]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j] == keys[i] {
            j += 1;
        }
        out.push((i, j - i));
        i = j;
    }
    out
}

/// Renders the grouped ○/× table and its legend.
pub fn render(report: &Report) -> String {
    let rows: Vec<Vec<String>> = distinct(report.cells.iter().map(|c| c.row.clone()));
    let cols: Vec<Vec<String>> = distinct(report.cells.iter().map(|c| c.column.clone()));
    let depth = cols.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let reasons: Vec<String> = distinct(
        report
            .cells
            .iter()
            .filter(|c| c.verdict != Verdict::Ok)
            .map(legend_text),
    );
    let numbered = reasons.len() > 1;

    let mut b = Builder::default();
    for level in 0..depth {
        let mut rec: Vec<String> = (0..width)
            .map(|i| {
                if level == 0 {
                    report.row_axes.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .collect();
        rec.extend(
            cols.iter()
                .map(|c| c.get(level).cloned().unwrap_or_default()),
        );
        b.push_record(rec);
    }
    for r in &rows {
        let mut rec: Vec<String> = (0..width)
            .map(|i| r.get(i).cloned().unwrap_or_default())
            .collect();
        for c in &cols {
            let cell = report.cells.iter().find(|x| &x.row == r && &x.column == c);
            rec.push(match cell {
                None => "-".into(),
                Some(x) if x.verdict == Verdict::Ok => "○".into(),
                Some(x) => {
                    let n = reasons
                        .iter()
                        .position(|t| *t == legend_text(x))
                        .unwrap_or(0)
                        + 1;
                    if numbered {
                        format!("{}{n}", x.verdict.mark())
                    } else {
                        x.verdict.mark().to_string()
                    }
                }
            });
        }
        b.push_record(rec);
    }
    let mut t = b.build();
    t.with(Style::modern());
    // Corner: each row-axis name spans all header rows.
    if depth > 1 {
        for i in 0..width {
            t.modify((0, i), Span::row(depth as isize));
        }
    }
    // Column header groups.
    for level in 0..depth {
        let keys: Vec<Vec<String>> = cols
            .iter()
            .map(|c| c[..(level + 1).min(c.len())].to_vec())
            .collect();
        for (start, n) in spans(&keys) {
            if n > 1 {
                t.modify((level, width + start), Span::column(n as isize));
            }
        }
    }
    // Row label groups (all but the innermost axis).
    for level in 0..width.saturating_sub(1) {
        let keys: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r[..(level + 1).min(r.len())].to_vec())
            .collect();
        for (start, n) in spans(&keys) {
            if n > 1 {
                t.modify((depth + start, level), Span::row(n as isize));
            }
        }
    }
    t.with(Modify::new(Segment::all()).with(Alignment::center()));
    t.with(Modify::new(Segment::all()).with(Alignment::center_vertical()));
    t.with(BorderCorrection::span());

    let (ok, fail, err) = report.counts();
    let mut out = format!("{}\n{}\n", report.title, t);
    out.push_str(&format!("○ ok {ok}   × fail {fail}   ! error {err}\n"));
    for (i, text) in reasons.iter().enumerate() {
        let count = report
            .cells
            .iter()
            .filter(|c| c.verdict != Verdict::Ok && legend_text(c) == *text)
            .count();
        let mark = report
            .cells
            .iter()
            .find(|c| c.verdict != Verdict::Ok && legend_text(c) == *text)
            .map(|c| c.verdict.mark())
            .unwrap_or("×");
        let label = if numbered {
            format!("{mark}{}", i + 1)
        } else {
            mark.to_string()
        };
        out.push_str(&format!("{label}  {text}  ({count} cells)\n"));
    }
    let disagree: Vec<&CellResult> = report
        .cells
        .iter()
        .filter(|c| c.disagrees_with_prediction())
        .collect();
    if !disagree.is_empty() {
        out.push_str(&format!(
            "measurement and prediction disagree in {} cells (a profile, policy or engine bug):\n",
            disagree.len()
        ));
        for c in disagree.iter().take(10) {
            out.push_str(&format!(
                "  #{} {} {}: measured {} [{}], predicted {} [{}]\n",
                c.index,
                c.row.join(" / "),
                c.column.join(" / "),
                c.verdict.as_str(),
                c.code,
                c.predicted_verdict.map(|v| v.as_str()).unwrap_or("-"),
                c.predicted_code.as_deref().unwrap_or("")
            ));
        }
    }
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
