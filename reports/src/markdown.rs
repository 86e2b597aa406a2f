//! Markdown, ready for documentation: a pipe table every wiki renders (a grouped column's
//! labels joined in one header cell), or, as `markdown-html`, an HTML table inside the Markdown
//! where grouped headers span their columns (for GitHub, GitLab and site generators that keep
//! HTML). The legend follows as a list. Also the compatibility sheet: ✓/✗ marks with numbered
//! footnotes in plain words, for documentation pages.

use sshmatrix_core::i18n::Lang;
use sshmatrix_core::tr;

use crate::lang::cells;
use crate::layout::Grid;
use crate::schema::{CellResult, Report};

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders the report in `lang` as a Markdown pipe table with legend; `spans`: an HTML table
/// where column headers are grouped.
pub fn render(report: &Report, spans: bool, lang: Lang) -> String {
    let folded = crate::layout::for_reading(report, lang, true);
    let report = folded.as_ref();
    let g = Grid::in_lang(report, lang);
    let table = match spans && g.depth > 1 {
        true => crate::html::plain_table(&g, report, |c| g.mark(c)),
        false => pipe_table(&g, report, &|c| g.mark(c)),
    };
    let mut out = format!("### {}\n\n{}\n", esc(&report.title), table);
    let tally = crate::lang::tally(lang, report, " · ");
    out.push_str(&format!("{tally} · - {}\n\n", tr!(lang, "mark-none")));
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        let n = cells(lang, count);
        out.push_str(&format!("- **{label}** {} ({n})\n", esc(&text)));
        fix_items(&mut out, lang, "  ", &g.legend_advice(i));
        for (at, count, fixes) in g.legend_variants(i) {
            let said = tr!(lang, "fix-for", at = esc(&at), cells = cells(lang, count));
            out.push_str(&format!("  - {said}\n"));
            fix_items(&mut out, lang, "    ", &fixes);
        }
    }
    let note = tr!(lang, "note");
    for n in &report.notes {
        out.push_str(&format!("- {note}: {}\n", esc(n)));
    }
    out
}

/// The compatibility sheet: ✓ logs in, ✗ refused, ⚠ undecided, each ✗/⚠ with a footnote number
/// whose text says why in plain words (no codes), and the notes a reader needs.
pub fn render_sheet(report: &Report, lang: Lang) -> String {
    let folded = crate::layout::for_reading(report, lang, true);
    let report = folded.as_ref();
    let g = Grid::in_lang(report, lang);
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
    out.push_str(&sheet_tables(report, lang, &mark));
    out.push_str(&format!("\n{}\n\n", tr!(lang, "sheet-marks")));
    for (i, (_, text, count)) in reasons.iter().enumerate() {
        // The legend's words after `[code] stage: ` (or `logs in, weak: `).
        let why = text.split_once(": ").map(|(_, r)| r).unwrap_or(text);
        out.push_str(&format!(
            "{}. {} ({})\n",
            i + 1,
            esc(why),
            cells(lang, *count)
        ));
    }
    out
}

/// The sheet's table: the newest release of each client family first; older releases of a
/// family, when the report has both, folded under "older versions" (an HTML `<details>` block,
/// which GitHub, GitLab and most site generators show collapsed).
fn sheet_tables(
    report: &Report,
    lang: Lang,
    mark: &dyn Fn(Option<&CellResult>) -> String,
) -> String {
    let older = |c: &CellResult| report.older_clients.contains(&c.client);
    let part = |keep_older: bool| {
        let mut r = report.clone();
        r.cells.retain(|c| older(c) == keep_older);
        r
    };
    let (now, old) = (part(false), part(true));
    if now.cells.is_empty() || old.cells.is_empty() {
        return pipe_table(&Grid::in_lang(report, lang), report, mark);
    }
    let names = crate::layout::distinct(old.cells.iter().map(|c| c.client.as_str()));
    let summary = tr!(lang, "sheet-older", clients = names.join(", "));
    format!(
        "{}\n<details><summary>{}</summary>\n\n{}\n</details>\n",
        pipe_table(&Grid::in_lang(&now, lang), &now, mark),
        crate::html::esc(&summary),
        pipe_table(&Grid::in_lang(&old, lang), &old, mark)
    )
}

/// A legend's fixes as list items indented by `pad`.
fn fix_items(out: &mut String, lang: Lang, pad: &str, fixes: &[crate::layout::FixLine]) {
    let (word, cost_word) = (tr!(lang, "fix"), tr!(lang, "fix-cost"));
    for (mark, side, fix, cost) in fixes {
        let cost = cost
            .as_ref()
            .map(|c| format!(" — {cost_word}: {}", esc(c)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{pad}- {word} ({mark}) {side}: {}{cost}\n",
            esc(fix)
        ));
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
fn pipe_table(g: &Grid, report: &Report, mark: &dyn Fn(Option<&CellResult>) -> String) -> String {
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
