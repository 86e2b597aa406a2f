//! Markdown, ready for documentation: the grouped column headers become header rows (group
//! labels at the start of each group, bold), row labels are written once per group, and the
//! legend follows as a list.

use crate::layout::Grid;
use crate::schema::Report;

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders the report as a Markdown table with legend.
pub fn render(report: &Report) -> String {
    let g = Grid::new(report);
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
    let (ok, fail, err) = report.counts();
    let mut out = format!("### {}\n\n{}\n\n", esc(&report.title), lines.join("\n"));
    out.push_str(&format!("○ ok {ok} · × fail {fail} · ! error {err}\n\n"));
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        out.push_str(&format!("- **{label}** {} ({count} cells)\n", esc(&text)));
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
