//! One self-contained HTML file: the grouped table with real row and column spans, each cell
//! showing its code, stage and reason on hover and its full evidence on click.

use sshmatrix_core::i18n::Lang;
use sshmatrix_core::text::sh_quote;
use sshmatrix_core::tr;

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
td.ok{background:#e6f4e6}td.fail{background:#fbe3e3}td.error{background:#fff3cd}td.needs-login{background:#eef0f4;color:#555}td.weak{background:#f6f1d5}\
td[data-i]{cursor:pointer}td.selected{outline:3px solid #1a5fb4;outline-offset:-3px}td.out{background:#fff;color:#ccc}.meta{color:#555}\
#filters{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center;margin:.6em 0}#filters label{white-space:nowrap}\
#detail{white-space:pre-wrap;font-family:monospace;border:1px solid #999;padding:.8em;margin-top:1em;background:#fafafa;\
position:sticky;bottom:0;max-height:45vh;overflow:auto;box-shadow:0 -2px 6px rgba(0,0,0,.15)}\
@media print{#filters{display:none}#detail{position:static;box-shadow:none;max-height:none}td.selected{outline:none}td.out{color:inherit}}";

/// Filters and the evidence panel. A filter or the search box fades the cells that do not
/// match (the layout stays the table's) and counts those shown; a click (or Enter) on a cell
/// outlines it and fills the panel, kept in view at the bottom of the window, with its fields
/// (empty ones left out) and the commands that rerun and explain it. Every text goes in as
/// text, never as markup: evidence is what a peer sent.
const SCRIPT: &str = "var F=['client','key','target','verdict','code'];\
function apply(){var q=document.getElementById('f-search').value.toLowerCase();var n=0;\
var want=F.map(function(f){return document.getElementById('f-'+f).value;});\
document.querySelectorAll('td[data-i]').forEach(function(td){var c=CELLS[td.dataset.i];\
var ok=F.every(function(f,j){return !want[j]||c.f[f]===want[j];})&&(!q||c.s.indexOf(q)>=0);\
td.classList.toggle('out',!ok);if(ok)n++;});\
document.getElementById('shown').textContent=SHOWN.replace('{shown}',n).replace('{total}',CELLS.length);}\
F.forEach(function(f){document.getElementById('f-'+f).addEventListener('change',apply);});\
document.getElementById('f-search').addEventListener('input',apply);\
function show(td){document.querySelectorAll('td.selected').forEach(function(x){x.classList.remove('selected');});\
td.classList.add('selected');var c=CELLS[td.dataset.i];var t='';\
for(var j=0;j<c.d.length;j++){var v=c.d[j][1];if(Array.isArray(v)){if(!v.length)continue;v=v.join('\\n    ');}\
if(v===''||v==='-')continue;t+=c.d[j][0]+': '+v+'\\n';}\
document.getElementById('detail').textContent=t;}\
document.querySelectorAll('td[data-i]').forEach(function(td){td.addEventListener('click',function(){show(td);});\
td.addEventListener('keydown',function(e){if(e.key==='Enter')show(td);});});apply();";

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
/// sides' evidence, the key, what was negotiated, fixes, notes, and the commands that rerun it.
fn detail(lang: Lang, report: &Report, cell: &CellResult) -> serde_json::Value {
    use crate::lang::{advice_mark, side, stage, verdict};
    let opt = |o: &Option<String>| o.as_deref().unwrap_or("-").to_string();
    let advice: Vec<String> = cell
        .advice
        .iter()
        .map(|a| {
            let cost = a
                .cost
                .as_ref()
                .map(|c| format!(" ({}: {c})", tr!(lang, "fix-cost")))
                .unwrap_or_default();
            let mark = advice_mark(lang, a);
            format!("{mark} {}: {}{cost}", side(lang, &a.side), a.text)
        })
        .collect();
    let weak: Vec<String> = cell
        .weak_rules()
        .iter()
        .map(|r| format!("{} ({})", r.text_in(lang), r.source))
        .collect();
    let negotiated = [&cell.kex, &cell.hostkey, &cell.cipher, &cell.mac].map(opt);
    let key = format!(
        "{} {} {}",
        cell.key_spec(),
        cell.key_format,
        cell.key_fingerprint
    );
    let field = |id: &str| tr!(lang, &format!("field-{id}"));
    serde_json::json!([
        [field("verdict"), verdict(lang, cell.verdict)],
        [field("stage"), stage(lang, cell.stage)],
        [field("code"), cell.code],
        [field("reason"), cell.reason],
        [field("client"), cell.client_reason],
        [field("server"), opt(&cell.server_reason)],
        [field("evidence"), cell.server_evidence],
        [
            field("cell"),
            format!("{} | {}", cell.row.join(" / "), cell.column.join(" / "))
        ],
        [field("name"), cell.selector()],
        [field("key"), key],
        [field("negotiated"), negotiated.join(" / ")],
        [field("signature"), opt(&cell.signature)],
        [field("weak"), weak],
        [field("fixes"), advice],
        [field("notes"), cell.notes],
        [tr!(lang, "html-explain"), commands(report, cell)],
    ])
}

/// The commands that rerun a cell and explain it, then verify its fixes (none for a report
/// that is not of a matrix file: a scan's, a fleet's).
fn commands(report: &Report, cell: &CellResult) -> Vec<String> {
    if !report.matrix.ends_with(".toml") {
        return Vec::new();
    }
    let run = format!(
        "sshmatrix explain {} {}",
        sh_quote(&report.matrix),
        sh_quote(&cell.selector())
    );
    match cell.verdict {
        Verdict::Ok => vec![run],
        _ => vec![format!("{run} --try-fixes"), run],
    }
}

/// What the filters read of a cell, and the text the search box looks in.
fn filter_fields(cell: &CellResult, detail: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "f": {
            "client": cell.client,
            "key": cell.key_spec(),
            "target": cell.target,
            "verdict": verdict_class(cell),
            "code": cell.code,
        },
        "s": format!("{} {} {}", cell.row.join(" "), cell.column.join(" "), detail)
            .to_lowercase(),
        "d": detail,
    })
}

/// The class (and verdict filter value) of a cell: ok, weak, fail, error, needs-login.
fn verdict_class(cell: &CellResult) -> &'static str {
    match cell.verdict {
        _ if cell.needs_login() => "needs-login",
        _ if cell.mark() == "◐" => "weak",
        Verdict::Ok => "ok",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Interrupted => "interrupted",
    }
}

/// A verdict filter's choice as a reader reads it: its mark and its word.
fn verdict_word(lang: Lang, class: &str) -> String {
    let (mark, id) = match class {
        "ok" => ("○", "mark-ok"),
        "weak" => ("◐", "mark-weak"),
        "fail" => ("×", "mark-fail"),
        "error" => ("!", "mark-error"),
        "needs-login" => ("?", "mark-needs-login"),
        _ => ("…", "verdict-interrupted"),
    };
    format!("{mark} {}", tr!(lang, id))
}

/// One `<td>`: the cell's mark, its reason on hover, its panel index.
fn cell_td(g: &Grid, cell: &CellResult, i: usize) -> String {
    let hover = match cell.verdict {
        Verdict::Ok => cell.reason.clone(),
        _ => format!("[{}] {}: {}", cell.code, cell.stage, cell.reason),
    };
    format!(
        "<td class=\"{}\" data-i=\"{i}\" tabindex=\"0\" title=\"{}\">{}</td>",
        verdict_class(cell),
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
fn meta(lang: Lang, report: &Report) -> String {
    let mut parts = vec![
        report.matrix.clone(),
        tr!(
            lang,
            "meta-cells",
            shown = report.cells.len(),
            planned = report.plan_cells
        ),
    ];
    if let Some(s) = &report.shard {
        parts.push(tr!(lang, "meta-shard", shard = s.clone()));
    }
    parts.push(tr!(
        lang,
        "meta-tool",
        version = report.tool_version.clone(),
        schema = report.schema_version
    ));
    match (&report.generated, &report.host) {
        (Some(t), Some(h)) => parts.push(tr!(
            lang,
            "meta-made-on",
            time = t.clone(),
            host = h.clone()
        )),
        (Some(t), None) => parts.push(tr!(lang, "meta-made", time = t.clone())),
        _ => {}
    }
    parts.join(" · ")
}

/// The legend (every symbol used) and the notes.
fn legend(g: &Grid, report: &Report) -> String {
    let lang = g.lang;
    let mut legend = String::new();
    for (mark, id) in [
        ("○", "mark-ok"),
        ("×", "mark-fail"),
        ("◐", "mark-weak"),
        ("!", "mark-error"),
        ("-", "mark-none"),
    ] {
        legend.push_str(&format!("<li><b>{mark}</b> {}</li>", esc(&tr!(lang, id))));
    }
    for (label, text, count) in g.legend_lines() {
        let cells = crate::lang::cells(lang, count);
        legend.push_str(&format!(
            "<li><b>{}</b> {} ({cells})</li>",
            esc(&label),
            esc(&text)
        ));
    }
    let note = tr!(lang, "note");
    for n in &report.notes {
        legend.push_str(&format!("<li>{note}: {}</li>", esc(n)));
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

/// The filter bar: one list per filter (its values in first-seen order, "all" first) and the
/// search box.
fn filters(lang: Lang, report: &Report) -> String {
    use crate::layout::distinct;
    let all = esc(&tr!(lang, "html-filter-all"));
    let lists: [(&str, String, Vec<String>); 5] = [
        (
            "client",
            tr!(lang, "axis-client"),
            distinct(report.cells.iter().map(|c| c.client.clone())),
        ),
        (
            "key",
            tr!(lang, "axis-key"),
            distinct(report.cells.iter().map(|c| c.key_spec())),
        ),
        (
            "target",
            tr!(lang, "axis-target"),
            distinct(report.cells.iter().map(|c| c.target.clone())),
        ),
        (
            "verdict",
            tr!(lang, "html-filter-verdict"),
            distinct(report.cells.iter().map(|c| verdict_class(c).to_string())),
        ),
        (
            "code",
            tr!(lang, "html-filter-code"),
            distinct(
                report
                    .cells
                    .iter()
                    .filter(|c| !c.code.is_none())
                    .map(|c| c.code.as_str().to_string()),
            ),
        ),
    ];
    let mut h = String::from("<div id=\"filters\">");
    for (id, name, values) in lists {
        h.push_str(&format!(
            "<label>{} <select id=\"f-{id}\"><option value=\"\">{all}</option>",
            esc(&name)
        ));
        for v in values {
            let shown = match id {
                "verdict" => verdict_word(lang, &v),
                _ => v.clone(),
            };
            h.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                esc(&v),
                esc(&shown)
            ));
        }
        h.push_str("</select></label>");
    }
    h.push_str(&format!(
        "<label>{} <input id=\"f-search\" type=\"search\"></label><span id=\"shown\"></span></div>\n",
        esc(&tr!(lang, "html-filter-search"))
    ));
    h
}

/// Renders the report as a self-contained HTML page in `lang`.
pub fn render(report: &Report, lang: Lang) -> String {
    let folded = crate::layout::for_reading(report, lang, true);
    let report = folded.as_ref();
    let g = Grid::in_lang(report, lang);
    let mut h = header(&g, report);
    let starts = row_spans(&g);
    let mut cells = Vec::new();
    for (ri, r) in g.rows.iter().enumerate() {
        h.push_str("<tr>");
        h.push_str(&row_labels(&g, &starts, ri));
        for c in &g.cols {
            match g.cell(r, c) {
                None => h.push_str("<td>-</td>"),
                Some(cell) => {
                    h.push_str(&cell_td(&g, cell, cells.len()));
                    cells.push(filter_fields(cell, &detail(lang, report, cell)));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    let data = serde_json::to_string(&cells)
        .expect("json")
        .replace("</", "<\\/");
    let shown = serde_json::to_string(&tr!(
        lang,
        "html-filter-shown",
        shown = "{shown}",
        total = "{total}"
    ))
    .expect("json")
    .replace("</", "<\\/");
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head>\n\
         <body><h1>{title}</h1>\n<p class=\"meta\">{meta}</p>\n{filters}<table>\n{h}</table>\n<p>{tally} — {hint}</p>\n\
         <ul>{legend}</ul>\n<div id=\"detail\">{click}</div>\n<script>var CELLS={data};var SHOWN={shown};{SCRIPT}</script>\n</body></html>\n",
        code = lang.code(),
        title = esc(&report.title),
        meta = esc(&meta(lang, report)),
        filters = filters(lang, report),
        tally = esc(&crate::lang::tally(lang, report, " · ")),
        hint = esc(&tr!(lang, "html-click-hint")),
        click = esc(&tr!(lang, "html-click")),
        legend = legend(&g, report)
    )
}
