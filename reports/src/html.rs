//! One self-contained HTML file: the grouped table with real row and column spans, each cell
//! showing its code, stage and reason on hover and its full evidence on click.

use crate::layout::Grid;
use crate::schema::{Report, Verdict};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}\
th,td{border:1px solid #999;padding:.25em .6em;text-align:center}th{background:#eee}\
td.ok{background:#e6f4e6}td.fail{background:#fbe3e3;cursor:pointer}td.error{background:#fff3cd;cursor:pointer}\
td.ok{cursor:pointer}#detail{white-space:pre-wrap;font-family:monospace;border:1px solid #999;padding:.8em;margin-top:1em;background:#fafafa}";

const SCRIPT: &str = "document.querySelectorAll('td[data-i]').forEach(function(td){td.addEventListener('click',function(){\
var c=CELLS[td.dataset.i];var t='';for(var k in c){var v=c[k];if(Array.isArray(v))v=v.join('\\n    ');t+=k+': '+v+'\\n';}\
document.getElementById('detail').textContent=t;});});";

/// Renders the report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
    let g = Grid::new(report);
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
    let row_starts: Vec<Vec<(usize, usize)>> = (0..g.width).map(|l| g.row_runs(l)).collect();
    let mut details = Vec::new();
    for (ri, r) in g.rows.iter().enumerate() {
        h.push_str("<tr>");
        for (level, starts) in row_starts.iter().enumerate() {
            if level + 1 == g.width {
                h.push_str(&format!(
                    "<th>{}</th>",
                    esc(r.get(level).map(String::as_str).unwrap_or(""))
                ));
            } else if let Some((_, n)) = starts.iter().find(|(s, _)| *s == ri) {
                h.push_str(&format!(
                    "<th rowspan=\"{n}\">{}</th>",
                    esc(r.get(level).map(String::as_str).unwrap_or(""))
                ));
            }
        }
        for c in &g.cols {
            match g.cell(r, c) {
                None => h.push_str("<td>-</td>"),
                Some(cell) => {
                    let class = match cell.verdict {
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
                    h.push_str(&format!(
                        "<td class=\"{class}\" data-i=\"{}\" title=\"{}\">{}</td>",
                        details.len(),
                        esc(&hover),
                        esc(&g.mark(Some(cell)))
                    ));
                    details.push(serde_json::json!({
                        "cell": format!("{} | {}", cell.row.join(" / "), cell.column.join(" / ")),
                        "verdict": cell.verdict.as_str(),
                        "code": cell.code,
                        "stage": cell.stage,
                        "reason": cell.reason,
                        "client": cell.client_reason,
                        "server": cell.server_reason,
                        "evidence": cell.server_evidence,
                        "key": format!("{}-{} {} {}", cell.key_type, cell.key_bits, cell.key_format, cell.key_fingerprint),
                        "negotiated": format!("{} / {} / {} / {}", cell.kex.as_deref().unwrap_or("-"), cell.hostkey.as_deref().unwrap_or("-"), cell.cipher.as_deref().unwrap_or("-"), cell.mac.as_deref().unwrap_or("-")),
                        "signature": cell.signature,
                        "notes": cell.notes,
                        "advice": cell.advice.iter().map(|a| format!("{} {}: {}{}", match a.works { Some(true) => "○ works", Some(false) => "× no", None => "?" }, a.side, a.text, a.cost.as_ref().map(|c| format!(" (cost: {c})")).unwrap_or_default())).collect::<Vec<_>>(),
                    }));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    let mut legend = String::new();
    for (label, text, count) in g.legend_lines() {
        legend.push_str(&format!(
            "<li><b>{}</b> {} ({count} cells)</li>",
            esc(&label),
            esc(&text)
        ));
    }
    for n in &report.notes {
        legend.push_str(&format!("<li>note: {}</li>", esc(n)));
    }
    let data = serde_json::to_string(&details)
        .expect("json")
        .replace("</", "<\\/");
    let (ok, fail, err) = report.counts();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head>\n\
         <body><h1>{title}</h1>\n<table>\n{h}</table>\n<p>○ ok {ok} · × fail {fail} · ! error {err} — click a cell for its evidence</p>\n\
         <ul>{legend}</ul>\n<div id=\"detail\">Click a cell.</div>\n<script>var CELLS={data};{SCRIPT}</script>\n</body></html>\n",
        title = esc(&report.title)
    )
}
