//! The ○/× table laid out like the field reports: grouped column headers (one header row per
//! column axis, spans over equal neighbours), grouped row labels (spans down), and a legend
//! giving each distinct failure reason once.

use tabled::builder::Builder;
use tabled::settings::object::Segment;
use tabled::settings::themes::BorderCorrection;
use tabled::settings::{Alignment, Modify, Span, Style};

use crate::layout::Grid;
use crate::schema::Report;

/// The grouped table itself: header rows, row labels and marks, with their spans.
fn grid_table(g: &Grid, report: &Report) -> tabled::Table {
    let mut b = Builder::default();
    for level in 0..g.depth {
        let mut rec: Vec<String> = (0..g.width)
            .map(|i| match level {
                0 => report.row_axes.get(i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        rec.extend(
            g.cols
                .iter()
                .map(|c| c.get(level).cloned().unwrap_or_default()),
        );
        b.push_record(rec);
    }
    for r in &g.rows {
        let mut rec: Vec<String> = (0..g.width)
            .map(|i| r.get(i).cloned().unwrap_or_default())
            .collect();
        rec.extend(g.cols.iter().map(|c| g.mark(g.cell(r, c))));
        b.push_record(rec);
    }
    let mut t = b.build();
    t.with(Style::modern());
    spans(&mut t, g);
    t.with(Modify::new(Segment::all()).with(Alignment::center()));
    t.with(Modify::new(Segment::all()).with(Alignment::center_vertical()));
    t.with(BorderCorrection::span());
    t
}

/// Spans: the corner over the header rows, equal column labels across, equal row labels down.
fn spans(t: &mut tabled::Table, g: &Grid) {
    if g.depth > 1 {
        for i in 0..g.width {
            t.modify((0, i), Span::row(g.depth as isize));
        }
    }
    for level in 0..g.depth {
        for (start, n) in g.col_runs(level) {
            if n > 1 {
                t.modify((level, g.width + start), Span::column(n as isize));
            }
        }
    }
    for level in 0..g.width.saturating_sub(1) {
        for (start, n) in g.row_runs(level) {
            if n > 1 {
                t.modify((g.depth + start, level), Span::row(n as isize));
            }
        }
    }
}

/// Renders the grouped ○/× table and its legend.
pub fn render(report: &Report) -> String {
    let g = Grid::new(report);
    let t = grid_table(&g, report);
    let (ok, fail, err) = report.counts();
    let mut out = format!("{}\n{}\n", report.title, t);
    out.push_str(&format!("○ ok {ok}   × fail {fail}   ! error {err}"));
    match report.interrupted() {
        0 => out.push('\n'),
        n => out.push_str(&format!(
            "   ? interrupted {n} (not measured; --resume runs them)\n"
        )),
    }
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        out.push_str(&format!("{label}  {text}  ({count} cells)\n"));
        for (mark, side, fix, cost) in g.legend_advice(i) {
            out.push_str(&format!("      fix {mark:<8} {side}: {fix}\n"));
            if let Some(c) = cost {
                out.push_str(&format!("               cost: {c}\n"));
            }
        }
    }
    let disagree = g.disagreements();
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

/// ANSI colours of a rendered table for a terminal: ○ green, × red, ! yellow in the table's
/// cells, the counts line and the legend labels; `note:` lines dim. Other lines (and any text
/// that is not a table: CSV, JSON, Markdown, HTML) pass unchanged.
pub fn colorize(text: &str) -> String {
    const GREEN: &str = "\x1b[32m";
    const RED: &str = "\x1b[31m";
    const YELLOW: &str = "\x1b[33m";
    const DIM: &str = "\x1b[2m";
    const RESET: &str = "\x1b[0m";
    let paint = |line: &str| -> String {
        let mut out = String::with_capacity(line.len() + 16);
        for ch in line.chars() {
            match ch {
                '○' => out.push_str(&format!("{GREEN}○{RESET}")),
                '×' => out.push_str(&format!("{RED}×{RESET}")),
                '!' => out.push_str(&format!("{YELLOW}!{RESET}")),
                c => out.push(c),
            }
        }
        out
    };
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let legend = line.starts_with('×') || line.starts_with('!');
        if line.starts_with('│') || line.starts_with("○ ok") {
            out.push_str(&paint(line));
        } else if legend {
            let (label, rest) = line.split_once(' ').unwrap_or((line, ""));
            out.push_str(&paint(label));
            out.push(' ');
            out.push_str(rest);
        } else if line.starts_with("note: ") {
            out.push_str(&format!(
                "{DIM}{}{RESET}{}",
                line.trim_end_matches('\n'),
                if line.ends_with('\n') { "\n" } else { "" }
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}
