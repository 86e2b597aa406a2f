//! Markdown, ready for documentation: a pipe table every wiki renders (a grouped column's
//! labels joined in one header cell), or, as `markdown-html`, an HTML table inside the Markdown
//! where grouped headers span their columns (for GitHub, GitLab and site generators that keep
//! HTML). The legend follows as a list. Also the compatibility sheet: ✓/✗ marks with numbered
//! footnotes in plain words, for documentation pages.

use crate::layout::Grid;
use crate::schema::Report;

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders the report as a Markdown pipe table with legend; `spans`: an HTML table where
/// column headers are grouped.
pub fn render(report: &Report, spans: bool) -> String {
    let folded = crate::layout::fold_constant_rows(report);
    let report = folded.as_ref();
    let g = Grid::new(report);
    let table = match spans && g.depth > 1 {
        true => crate::html::plain_table(&g, report, |c| g.mark(c)),
        false => pipe_table(&g, report, |c| g.mark(c)),
    };
    let mut out = format!("### {}\n\n{}\n", esc(&report.title), table);
    out.push_str(&format!("{} · - no such cell\n\n", report.tally(" · ")));
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        let cells = sshmatrix_core::text::count(count, "cell");
        out.push_str(&format!("- **{label}** {} ({cells})\n", esc(&text)));
        fix_items(&mut out, "  ", &g.legend_advice(i));
        for (at, n, fixes) in g.legend_variants(i) {
            let cells = sshmatrix_core::text::count(n, "cell");
            out.push_str(&format!("  - for {} ({cells}):\n", esc(&at)));
            fix_items(&mut out, "    ", &fixes);
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
    let folded = crate::layout::fold_constant_rows(report);
    let report = folded.as_ref();
    let g = Grid::new(report);
    let reasons = g.legend_lines();
    let mark = |c: Option<&crate::schema::CellResult>| -> String {
        let Some(c) = c else { return "–".into() };
        let note = match c.mark() {
            "○" => String::new(),
            _ => superscript(g.entry_of(c) + 1),
        };
        match (c.verdict, c.mark()) {
            (_, "◐") => format!("◐{note}"),
            (crate::schema::Verdict::Ok, _) => "✓".into(),
            (crate::schema::Verdict::Fail, _) => format!("✗{note}"),
            _ => format!("⚠{note}"),
        }
    };
    let mut out = format!("### {}\n\n", esc(&report.title));
    out.push_str(&pipe_table(&g, report, mark));
    out.push_str("\n✓ logs in · ◐ logs in, weak · ✗ refused · ⚠ could not be decided\n\n");
    for (i, (_, text, count)) in reasons.iter().enumerate() {
        let why = text.split_once(": ").map(|(_, r)| r).unwrap_or(text);
        let cells = sshmatrix_core::text::count(*count, "cell");
        out.push_str(&format!("{}. {} ({cells})\n", i + 1, esc(why)));
    }
    out
}

/// A legend's fixes as list items indented by `pad`.
fn fix_items(out: &mut String, pad: &str, fixes: &[crate::layout::FixLine]) {
    for (mark, side, fix, cost) in fixes {
        let cost = cost
            .as_ref()
            .map(|c| format!(" — cost: {}", esc(c)))
            .unwrap_or_default();
        out.push_str(&format!("{pad}- fix ({mark}) {side}: {}{cost}\n", esc(fix)));
    }
}

/// A footnote number in superscript digits.
fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|d| DIGITS[d.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

/// A Markdown pipe table, which every wiki renders: row labels on the first row of each run,
/// a grouped column's labels joined with ` · ` in one header cell.
fn pipe_table(
    g: &Grid,
    report: &Report,
    mark: impl Fn(Option<&crate::schema::CellResult>) -> String,
) -> String {
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    let mut header: Vec<String> = (0..g.width)
        .map(|i| {
            let axis = report.row_axes.get(i).map(String::as_str).unwrap_or("");
            format!("**{}**", esc(axis))
        })
        .collect();
    header.extend(
        g.cols
            .iter()
            .map(|c| format!("**{}**", esc(&c.join(" · ")))),
    );
    let mut sep: Vec<String> = vec!["---".into(); g.width];
    sep.extend(vec![":-:".to_string(); g.cols.len()]);
    let mut lines = vec![line(&header), line(&sep)];
    for (ri, r) in g.rows.iter().enumerate() {
        let mut cells: Vec<String> = (0..g.width)
            .map(|i| {
                let upto = i.min(r.len().saturating_sub(1));
                let first = ri == 0 || g.rows[ri - 1][..=upto] != r[..=upto];
                match first {
                    true => esc(r.get(i).map(String::as_str).unwrap_or("")),
                    false => String::new(),
                }
            })
            .collect();
        cells.extend(g.cols.iter().map(|c| mark(g.cell(r, c))));
        lines.push(line(&cells));
    }
    lines.join("\n") + "\n"
}
