//! One self-contained HTML file: the grouped table with real row and column spans, each cell
//! showing its code, stage and reason on hover and its full evidence on click.

use crate::layout::Grid;
use crate::schema::{CellResult, Report, Verdict};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}\
th,td{border:1px solid #999;padding:.25em .6em;text-align:center}th{background:#eee}\
td.ok{background:#e6f4e6}td.fail{background:#fbe3e3;cursor:pointer}td.error{background:#fff3cd;cursor:pointer}td.needs-login{background:#eef0f4;color:#555;cursor:pointer}td.weak{background:#f6f1d5;cursor:pointer}\
td.ok{cursor:pointer}td.selected{outline:3px solid #1a5fb4;outline-offset:-3px}.meta{color:#555}\
#detail{white-space:pre-wrap;font-family:monospace;border:1px solid #999;padding:.8em;margin-top:1em;background:#fafafa;\
position:sticky;bottom:0;max-height:45vh;overflow:auto;box-shadow:0 -2px 6px rgba(0,0,0,.15)}\
@media print{#detail{position:static;box-shadow:none}}";

/// Click a cell: it is outlined, its evidence fills the panel kept in view at the bottom of the
/// window (empty fields left out).
const SCRIPT: &str = "document.querySelectorAll('td[data-i]').forEach(function(td){td.addEventListener('click',function(){\
document.querySelectorAll('td.selected').forEach(function(x){x.classList.remove('selected');});td.classList.add('selected');\
var c=CELLS[td.dataset.i];var t='';for(var j=0;j<c.length;j++){var v=c[j][1];if(Array.isArray(v)){if(!v.length)continue;v=v.join('\\n    ');}\
if(v===''||v==='-')continue;t+=c[j][0]+': '+v+'\\n';}\
document.getElementById('detail').textContent=t;});});";

/// The header rows: the row-axis corner, then the column label levels with their spans.
pub(crate) fn header(g: &Grid, report: &Report) -> String {
    let mut h = String::new();
    for level in 0..g.depth {
        h.push_str("<tr>");
        if level == 0 {
            for i in 0..g.width {
                h.push_str(&format!(
                    "<th rowspan=\"{}\">{}</th>",
                    g.depth,
                    esc(report.row_axes.get(i).map(String::as_str).unwrap_or(""))
                ));
            }
        }
        for (start, n) in g.col_runs(level) {
            let label = g.cols[start].get(level).cloned().unwrap_or_default();
            h.push_str(&format!("<th colspan=\"{n}\">{}</th>", esc(&label)));
        }
        h.push_str("</tr>\n");
    }
    h
}

/// A cell's evidence panel, most important first: verdict, stage, code, reason, then both
/// sides' evidence, the key, what was negotiated, fixes and notes.
fn detail(cell: &CellResult) -> serde_json::Value {
    let opt = |o: &Option<String>| o.as_deref().unwrap_or("-").to_string();
    let advice: Vec<String> = cell
        .advice
        .iter()
        .map(|a| {
            let mark = a.mark();
            let cost = a
                .cost
                .as_ref()
                .map(|c| format!(" (cost: {c})"))
                .unwrap_or_default();
            format!("{mark} {}: {}{cost}", a.side, a.text)
        })
        .collect();
    serde_json::json!([
        ["verdict", cell.verdict.as_str()],
        ["stage", cell.stage],
        ["code", cell.code],
        ["reason", cell.reason],
        ["client", cell.client_reason],
        ["server", opt(&cell.server_reason)],
        ["evidence", cell.server_evidence],
        [
            "cell",
            format!("{} | {}", cell.row.join(" / "), cell.column.join(" / "))
        ],
        ["name", cell.selector()],
        [
            "key",
            format!(
                "{} {} {}",
                cell.key_spec(),
                cell.key_format,
                cell.key_fingerprint
            )
        ],
        [
            "negotiated",
            format!(
                "{} / {} / {} / {}",
                opt(&cell.kex),
                opt(&cell.hostkey),
                opt(&cell.cipher),
                opt(&cell.mac)
            )
        ],
        ["signature", opt(&cell.signature)],
        [
            "weak",
            cell.weak_rules()
                .iter()
                .map(|r| format!("{} ({})", r.text(), r.source))
                .collect::<Vec<_>>()
        ],
        ["fixes", advice],
        ["notes", cell.notes],
    ])
}

/// One `<td>`: the cell's mark, its reason on hover, its panel index.
fn cell_td(g: &Grid, cell: &CellResult, i: usize) -> String {
    let class = match cell.verdict {
        _ if cell.needs_login() => "needs-login",
        _ if cell.mark() == "◐" => "weak",
        Verdict::Ok => "ok",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Interrupted => "interrupted",
    };
    let hover = if cell.verdict == Verdict::Ok {
        cell.reason.clone()
    } else {
        format!("[{}] {}: {}", cell.code, cell.stage, cell.reason)
    };
    format!(
        "<td class=\"{class}\" data-i=\"{i}\" title=\"{}\">{}</td>",
        esc(&hover),
        esc(&g.mark(Some(cell)))
    )
}

/// Where each level's runs of equal row labels start: `spans[level][row]` is the run's length
/// at its first row, `None` elsewhere.
pub(crate) fn row_spans(g: &Grid) -> Vec<Vec<Option<usize>>> {
    (0..g.width)
        .map(|level| {
            let mut at = vec![None; g.rows.len()];
            for (start, n) in g.row_runs(level) {
                at[start] = Some(n);
            }
            at
        })
        .collect()
}

/// The row label cells of row `ri` (spans for outer levels).
pub(crate) fn row_labels(g: &Grid, spans: &[Vec<Option<usize>>], ri: usize) -> String {
    let r = &g.rows[ri];
    let mut h = String::new();
    for (level, at) in spans.iter().enumerate() {
        let label = esc(r.get(level).map(String::as_str).unwrap_or(""));
        if level + 1 == g.width {
            h.push_str(&format!("<th>{label}</th>"));
        } else if let Some(n) = at[ri] {
            h.push_str(&format!("<th rowspan=\"{n}\">{label}</th>"));
        }
    }
    h
}

/// What the report is of: matrix, cells, tool version (a pasted file says where it came from).
fn meta(report: &Report) -> String {
    let shard = report
        .shard
        .as_deref()
        .map(|s| format!(", shard {s}"))
        .unwrap_or_default();
    let made = match (&report.generated, &report.host) {
        (Some(t), Some(h)) => format!(" · made {t} on {h}"),
        (Some(t), None) => format!(" · made {t}"),
        _ => String::new(),
    };
    format!(
        "{} · {} of {} cells{shard} · sshmatrix {} (report schema {}){made}",
        report.matrix,
        report.cells.len(),
        report.plan_cells,
        report.tool_version,
        report.schema_version
    )
}

/// The legend (every symbol used) and the notes.
fn legend(g: &Grid, report: &Report) -> String {
    let mut legend = String::from(
        "<li><b>○</b> logged in</li><li><b>×</b> refused</li><li><b>◐</b> logs in, weak</li><li><b>!</b> no verdict (error)</li><li><b>-</b> no such cell</li>",
    );
    for (label, text, count) in g.legend_lines() {
        let cells = sshmatrix_core::text::count(count, "cell");
        legend.push_str(&format!(
            "<li><b>{}</b> {} ({cells})</li>",
            esc(&label),
            esc(&text)
        ));
    }
    for n in &report.notes {
        legend.push_str(&format!("<li>note: {}</li>", esc(n)));
    }
    legend
}

/// The grouped table alone, with real spans and each cell's mark as `mark` spells it (no
/// script, no style): what Markdown embeds where its own tables cannot span.
pub(crate) fn plain_table(
    g: &Grid,
    report: &Report,
    mark: impl Fn(Option<&CellResult>) -> String,
) -> String {
    let starts = row_spans(g);
    let mut t = format!("<table>\n<thead>\n{}</thead>\n<tbody>\n", header(g, report));
    for (ri, r) in g.rows.iter().enumerate() {
        t.push_str("<tr>");
        t.push_str(&row_labels(g, &starts, ri));
        for c in &g.cols {
            t.push_str(&format!("<td>{}</td>", esc(&mark(g.cell(r, c)))));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody>\n</table>\n");
    t
}

/// Renders the report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
    let folded = crate::layout::fold_constant_rows(report);
    let report = folded.as_ref();
    let g = Grid::new(report);
    let mut h = header(&g, report);
    let starts = row_spans(&g);
    let mut details = Vec::new();
    for (ri, r) in g.rows.iter().enumerate() {
        h.push_str("<tr>");
        h.push_str(&row_labels(&g, &starts, ri));
        for c in &g.cols {
            match g.cell(r, c) {
                None => h.push_str("<td>-</td>"),
                Some(cell) => {
                    h.push_str(&cell_td(&g, cell, details.len()));
                    details.push(detail(cell));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    let data = serde_json::to_string(&details)
        .expect("json")
        .replace("</", "<\\/");
    let tally = esc(&report.tally(" · "));
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head>\n\
         <body><h1>{title}</h1>\n<p class=\"meta\">{meta}</p>\n<table>\n{h}</table>\n<p>{tally} — click a cell for its evidence</p>\n\
         <ul>{legend}</ul>\n<div id=\"detail\">Click a cell.</div>\n<script>var CELLS={data};{SCRIPT}</script>\n</body></html>\n",
        title = esc(&report.title),
        meta = esc(&meta(report)),
        legend = legend(&g, report)
    )
}
