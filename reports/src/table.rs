//! The ○/× table laid out like the field reports: grouped column headers (one header row per
//! column axis, spans over equal neighbours), grouped row labels (spans down), and a legend
//! giving each distinct failure reason once.

use tabled::builder::Builder;
use tabled::settings::object::Segment;
use tabled::settings::themes::BorderCorrection;
use tabled::settings::{Alignment, Modify, Span, Style};

use sshmatrix_core::i18n::Lang;
use sshmatrix_core::tr;

use crate::layout::Grid;
use crate::schema::Report;

/// The grouped table itself: header rows, row labels and marks, with their spans.
fn grid_table(g: &Grid, report: &Report) -> tabled::Table {
    grid_table_of(g, report, 0..g.cols.len(), None)
}

/// The table of columns `cols` of the grid (a top-level column group, or all), row label
/// columns wrapped at `wrap` characters when given.
fn grid_table_of(
    g: &Grid,
    report: &Report,
    cols: std::ops::Range<usize>,
    wrap: Option<usize>,
) -> tabled::Table {
    let mut b = Builder::default();
    for level in 0..g.depth {
        let mut rec: Vec<String> = (0..g.width)
            .map(|i| match level {
                0 => report.row_axes.get(i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        rec.extend(
            g.cols[cols.clone()]
                .iter()
                .map(|c| c.get(level).cloned().unwrap_or_default()),
        );
        b.push_record(rec);
    }
    for r in &g.rows {
        let mut rec: Vec<String> = (0..g.width)
            .map(|i| r.get(i).cloned().unwrap_or_default())
            .collect();
        rec.extend(g.cols[cols.clone()].iter().map(|c| g.mark(g.cell(r, c))));
        b.push_record(rec);
    }
    let mut t = b.build();
    t.with(Style::modern());
    if let Some(n) = wrap {
        use tabled::settings::object::Columns;
        use tabled::settings::Width;
        t.with(Modify::new(Columns::new(0..g.width)).with(Width::wrap(n).keep_words(true)));
    }
    spans(&mut t, g, cols);
    t.with(Modify::new(Segment::all()).with(Alignment::center()));
    t.with(Modify::new(Segment::all()).with(Alignment::center_vertical()));
    t.with(BorderCorrection::span());
    t
}

/// Spans: the corner over the header rows, equal column labels across, equal row labels down
/// (columns `cols` of the grid).
fn spans(t: &mut tabled::Table, g: &Grid, cols: std::ops::Range<usize>) {
    if g.depth > 1 {
        for i in 0..g.width {
            t.modify((0, i), Span::row(g.depth as isize));
        }
    }
    for level in 0..g.depth {
        for (start, n) in g.col_runs(level) {
            // Runs inside the chosen columns, clipped to them.
            let (a, b) = (start.max(cols.start), (start + n).min(cols.end));
            if b > a + 1 {
                t.modify(
                    (level, g.width + a - cols.start),
                    Span::column((b - a) as isize),
                );
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

/// Terminal width tables are fitted to (0: none, the full layout).
static FIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Fit every table rendered from now on into `width` columns (0: keep the full layout).
pub fn fit_to(width: usize) {
    FIT.store(width, std::sync::atomic::Ordering::Relaxed);
}

/// The widest line of a rendered table, in terminal columns.
fn width_of(text: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// The table part of the report as it fits `fit` columns: the full layout; else row labels
/// wrapped; else one table per top-level column group (the same marks and one legend).
fn tables(g: &Grid, report: &Report, fit: usize) -> String {
    let full = grid_table(g, report).to_string();
    if fit == 0 || width_of(&full) <= fit {
        return format!("{full}\n");
    }
    let wrapped = grid_table_of(g, report, 0..g.cols.len(), Some(14)).to_string();
    if width_of(&wrapped) <= fit || g.depth < 2 {
        return format!("{wrapped}\n");
    }
    // One table per top-level column group; labels wrapped narrower if that is not enough.
    let groups = g.col_runs(0);
    let split = |wrap: usize| -> String {
        let mut out = String::new();
        for (i, (start, n)) in groups.iter().enumerate() {
            let name = g.cols[*start].first().cloned().unwrap_or_default();
            out.push_str(&format!("({}/{}) {name}\n", i + 1, groups.len()));
            let t = grid_table_of(g, report, *start..start + n, Some(wrap));
            out.push_str(&format!("{t}\n"));
        }
        out
    };
    let wide = split(14);
    match width_of(&wide) <= fit {
        true => wide,
        false => split(10),
    }
}

/// A legend's fixes, each on its own line with its cost under it, indented by `pad`.
fn fix_lines(out: &mut String, lang: Lang, pad: &str, fixes: &[crate::layout::FixLine]) {
    let (fix, cost) = (tr!(lang, "fix"), tr!(lang, "fix-cost"));
    for (mark, side, text, c) in fixes {
        out.push_str(&format!("{pad}{fix} {} {side}: {text}\n", pad_to(mark, 8)));
        if let Some(c) = c {
            let indent = " ".repeat(width_of(&fix) + 1 + 8);
            out.push_str(&format!("{pad}{indent}{cost}: {c}\n"));
        }
    }
}

/// `text` padded with spaces to `width` terminal columns.
fn pad_to(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(width_of(text))))
}

/// Renders the grouped ○/× table and its legend (fitted to the width of [`fit_to`]) in `lang`.
pub fn render(report: &Report, lang: Lang) -> String {
    render_fitted(report, FIT.load(std::sync::atomic::Ordering::Relaxed), lang)
}

/// Renders the grouped ○/× table and its legend fitted to `fit` columns where it can (0: the
/// full layout), in `lang`.
pub fn render_fitted(report: &Report, fit: usize, lang: Lang) -> String {
    let report = crate::layout::for_reading(report, lang, fit != 0);
    let report = report.as_ref();
    let g = Grid::in_lang(report, lang);
    let mut out = format!("{}\n{}", report.title, tables(&g, report, fit));
    out.push_str(&crate::lang::tally(lang, report, "   "));
    match report.interrupted() {
        0 => out.push('\n'),
        n => out.push_str(&format!("   {}\n", tr!(lang, "tally-interrupted", n = n))),
    }
    if report.needs_login() > 0 {
        out.push_str(&tr!(lang, "needs-login-hint", n = report.needs_login()));
        out.push('\n');
    }
    for (i, (label, text, count)) in g.legend_lines().into_iter().enumerate() {
        let cells = crate::lang::cells(lang, count);
        out.push_str(&format!("{label}  {text}  ({cells})\n"));
        fix_lines(&mut out, lang, "      ", &g.legend_advice(i));
        for (at, n, fixes) in g.legend_variants(i) {
            let cells = crate::lang::cells(lang, n);
            out.push_str(&format!(
                "      {}\n",
                tr!(lang, "fix-for", at = at, cells = cells)
            ));
            fix_lines(&mut out, lang, "        ", &fixes);
        }
    }
    disagreements(&mut out, &g, lang);
    let note = tr!(lang, "note");
    for n in &report.notes {
        out.push_str(&format!("{note}: {n}\n"));
    }
    out
}

/// The cells whose measurement and prediction disagree (the first ten).
fn disagreements(out: &mut String, g: &Grid, lang: Lang) {
    let disagree = g.disagreements();
    if disagree.is_empty() {
        return;
    }
    out.push_str(&tr!(lang, "disagree-head", n = disagree.len()));
    out.push('\n');
    for c in disagree.iter().take(10) {
        let said = tr!(
            lang,
            "disagree-cell",
            measured = crate::lang::verdict(lang, c.verdict),
            mcode = c.code.as_str(),
            predicted = c
                .predicted_verdict
                .map_or("-".to_string(), |v| crate::lang::verdict(lang, v)),
            pcode = c.predicted_code.map_or("", |p| p.as_str())
        );
        out.push_str(&format!(
            "  #{} {} {}: {said}\n",
            c.index,
            c.row.join(" / "),
            c.column.join(" / "),
        ));
    }
}

/// ANSI colours of a rendered table for a terminal: ○ green, × red, ! yellow in the table's
/// cells, the counts line and the legend labels, and the mark of an explanation's `verdict:`
/// line (`explain`, `try`); `note:` lines dim. Other lines (and any text that is not a table:
/// CSV, JSON, Markdown, HTML) pass unchanged.
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
                '◐' => out.push_str(&format!("{YELLOW}◐{RESET}")),
                c => out.push(c),
            }
        }
        out
    };
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let legend = line.starts_with('×') || line.starts_with('!') || line.starts_with('◐');
        let verdict =
            line.trim_start().starts_with("verdict: ") || line.trim_start().starts_with("判定: ");
        if line.starts_with('│') || line.starts_with("○ ") || verdict {
            out.push_str(&paint(line));
        } else if legend {
            let (label, rest) = line.split_once(' ').unwrap_or((line, ""));
            out.push_str(&paint(label));
            out.push(' ');
            out.push_str(rest);
        } else if line.starts_with("note: ") || line.starts_with("注記: ") {
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
