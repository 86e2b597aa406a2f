//! Markdown, ready for documentation. A table with one level of column labels is a Markdown
//! table; grouped column headers need spans, which Markdown tables lack, so such a table is
//! written as an HTML table inside the Markdown (GitHub, GitLab and most site generators render
//! it). The legend follows as a list. Also the compatibility sheet: ✓/✗ marks with numbered
//! footnotes in plain words, for documentation pages.

use crate::layout::Grid;
use crate::schema::Report;

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders the report as a Markdown table (an HTML table where headers are grouped) with legend.
pub fn render(report: &Report) -> String {
    let g = Grid::new(report);
    let table = match g.depth > 1 {
        true => crate::html::plain_table(&g, report, |c| g.mark(c)),
        false => markdown_table(&g, report),
    };
    let (ok, fail, err) = report.counts();
    let mut out = format!("### {}\n\n{}\n", esc(&report.title), table);
    out.push_str(&format!(
        "○ ok {ok} · × fail {fail} · ! error {err} · - no such cell\n\n"
    ));
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        let cells = if count == 1 { "cell" } else { "cells" };
        out.push_str(&format!("- **{label}** {} ({count} {cells})\n", esc(&text)));
        for (mark, side, fix, cost) in g.legend_advice(i) {
            let cost = cost
                .map(|c| format!(" — cost: {}", esc(&c)))
                .unwrap_or_default();
            out.push_str(&format!("  - fix ({mark}) {side}: {}{cost}\n", esc(&fix)));
        }
    }
    for n in &report.notes {
        out.push_str(&format!("- note: {}\n", esc(n)));
    }
    out
}

/// The compatibility sheet: ✓ logs in, ✗ refused, ⚠ undecided, each ✗/⚠ with a footnote number
/// whose text says why in plain words (no codes), and the notes a reader needs.
pub fn render_sheet(report: &Report) -> String {
    let g = Grid::new(report);
    let reasons = g.legend_lines();
    let mark = |c: Option<&crate::schema::CellResult>| -> String {
        let Some(c) = c else { return "–".into() };
        let note = match c.verdict {
            crate::schema::Verdict::Ok => String::new(),
            _ => superscript(g.entry_of(c) + 1),
        };
        match c.verdict {
            crate::schema::Verdict::Ok => "✓".into(),
            crate::schema::Verdict::Fail => format!("✗{note}"),
            _ => format!("⚠{note}"),
        }
    };
    let mut out = format!("### {}\n\n", esc(&report.title));
    out.push_str(&crate::html::plain_table(&g, report, mark));
    out.push_str("\n✓ logs in · ✗ refused · ⚠ could not be decided\n\n");
    for (i, (_, text, count)) in reasons.iter().enumerate() {
        let why = text.split_once(": ").map(|(_, r)| r).unwrap_or(text);
        let cells = if *count == 1 { "cell" } else { "cells" };
        out.push_str(&format!("{}. {} ({count} {cells})\n", i + 1, esc(why)));
    }
    out
}

/// A footnote number in superscript digits.
fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|d| DIGITS[d.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

/// A Markdown table (one level of column labels).
fn markdown_table(g: &Grid, report: &Report) -> String {
    let mut lines = Vec::new();
    let header_row = |level: usize| -> Vec<String> {
        let mut cells: Vec<String> = (0..g.width)
            .map(|i| {
                if level + 1 == g.depth {
                    format!(
                        "**{}**",
                        esc(report.row_axes.get(i).map(String::as_str).unwrap_or(""))
                    )
                } else {
                    String::new()
                }
            })
            .collect();
        let mut col_cells = vec![String::new(); g.cols.len()];
        for (start, _) in g.col_runs(level) {
            if let Some(label) = g.cols[start].get(level) {
                col_cells[start] = format!("**{}**", esc(label));
            }
        }
        cells.extend(col_cells);
        cells
    };
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    lines.push(line(&header_row(0)));
    let mut sep: Vec<String> = vec!["---".into(); g.width];
    sep.extend(vec![":-:".to_string(); g.cols.len()]);
    lines.push(line(&sep));
    for level in 1..g.depth {
        lines.push(line(&header_row(level)));
    }
    for (ri, r) in g.rows.iter().enumerate() {
        let mut cells: Vec<String> = (0..g.width)
            .map(|i| {
                let first =
                    ri == 0 || g.rows[ri - 1][..=i.min(r.len() - 1)] != r[..=i.min(r.len() - 1)];
                if first {
                    esc(r.get(i).map(String::as_str).unwrap_or(""))
                } else {
                    String::new()
                }
            })
            .collect();
        cells.extend(g.cols.iter().map(|c| g.mark(g.cell(r, c))));
        lines.push(line(&cells));
    }
    lines.join("\n") + "\n"
}
