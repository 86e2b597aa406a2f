//! Explanations as text, in the reader's language: one cell (verdict, the code's meaning, both
//! sides' evidence, fixes and how they fared) and the whole matrix in a few lines.

use sshmatrix_core::i18n::{self, Lang};
use sshmatrix_core::tr;
use sshmatrix_reports::lang as words;
use sshmatrix_reports::{CellResult, Code, Verdict};

use super::{lang, most_fixing, Explanation};

/// Renders an explanation as text, in the language of [`i18n::current`] (evidence verbatim).
pub fn render(e: &Explanation) -> String {
    let lang = i18n::current();
    let r = &e.result;
    let field = |id: &str| tr!(lang, &format!("field-{id}"));
    let mut s = format!(
        "{} {} | {}\n{}: {}\n{}: {} {}",
        tr!(lang, "explain-cell", index = r.index),
        r.row.join(" / "),
        r.column.join(" / "),
        tr!(lang, "explain-selector"),
        r.selector(),
        field("verdict"),
        r.mark(),
        words::verdict(lang, r.verdict)
    );
    if r.verdict != Verdict::Ok {
        let stage = words::stage(lang, r.stage);
        s.push_str(&format!(
            " [{}] {}",
            r.code,
            tr!(lang, "explain-at", stage = stage)
        ));
        if let Some(code) = r.code.code() {
            let meaning = i18n::code_meaning(lang, code);
            s.push_str(&format!("\n{}: {meaning}", tr!(lang, "explain-meaning")));
        }
    }
    for w in r.weak_rules() {
        let label = match w.severity {
            sshmatrix_reports::weak::Severity::Weak => field("weak"),
            sshmatrix_reports::weak::Severity::Notice => tr!(lang, "explain-notice"),
        };
        s.push_str(&format!("\n  {label}: {} ({})", w.text_in(lang), w.source));
    }
    s.push_str(&format!("\n  {}: {}", tr!(lang, "explain-route"), e.route));
    s.push_str(&format!("\n  {}", e.basis));
    for c in &e.caveats {
        s.push_str(&format!("\n  {}: {c}", tr!(lang, "explain-caveat")));
    }
    s.push_str(&format!("\n  {}: {}", field("client"), r.client_reason));
    if let Some(sr) = &r.server_reason {
        s.push_str(&format!("\n  {}: {sr}", field("server")));
    }
    for l in &r.server_evidence {
        s.push_str(&format!("\n  {}: {l}", field("evidence")));
    }
    let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    s.push_str(&format!(
        "\n  {}: {} / {} / {} / {}; {} {}\n  {}: {}-{} {} {}\n",
        field("negotiated"),
        or_dash(&r.kex),
        or_dash(&r.hostkey),
        or_dash(&r.cipher),
        or_dash(&r.mac),
        field("signature"),
        or_dash(&r.signature),
        field("key"),
        r.key_type,
        r.key_bits,
        r.key_format,
        r.key_fingerprint
    ));
    s.push_str(&render_fixes(lang, e));
    s
}

/// The fixes part of an explanation: each fix, how it fared when tried, its cost.
fn render_fixes(lang: Lang, e: &Explanation) -> String {
    if e.fixes.is_empty() {
        return match e.result.verdict {
            Verdict::Ok => String::new(),
            _ => format!("{}\n", tr!(lang, "explain-no-fix")),
        };
    }
    let verified = e.fixes.iter().any(|t| t.result.is_some());
    let mut s = match verified {
        true => tr!(lang, "explain-fixes-verified"),
        false => tr!(lang, "explain-fixes-unverified"),
    };
    s.push('\n');
    let cost = tr!(lang, "fix-cost");
    for (i, t) in e.fixes.iter().enumerate() {
        let outcome = match &t.result {
            None => "  ".to_string(),
            Some(c) if c.verdict == Verdict::Ok => tr!(lang, "advice-works"),
            Some(c) => tr!(
                lang,
                "explain-still",
                mark = c.mark(),
                code = c.code.as_str()
            ),
        };
        let side = words::side(lang, t.fix.side);
        s.push_str(&format!("  {}. {outcome}  {side}: {}\n", i + 1, t.fix.text));
        if let Some(c) = &t.fix.cost {
            s.push_str(&format!("       {cost}: {c}\n"));
        }
    }
    s
}

/// `explain MATRIX` without a cell: the whole matrix in a few lines — the marks, each failure
/// code with its meaning, how many cells and which clients it hits and one cell to explain, the
/// matrix-wide fixes, and where prediction disagreed.
pub fn whole_matrix(report: &sshmatrix_reports::Report) -> String {
    let lang = lang();
    let count = |v: Verdict| report.cells.iter().filter(|c| c.verdict == v).count();
    let mut out = format!(
        "{}: {}  ○ {}  × {}  ! {}\n",
        report.title,
        words::cells(lang, report.cells.len()),
        count(Verdict::Ok),
        count(Verdict::Fail),
        count(Verdict::Error)
    );
    let mut codes: Vec<(&str, Vec<&CellResult>)> = Vec::new();
    for c in report.cells.iter().filter(|c| c.verdict != Verdict::Ok) {
        match codes.iter_mut().find(|(code, _)| c.code == *code) {
            Some((_, v)) => v.push(c),
            None => codes.push((c.code.as_str(), vec![c])),
        }
    }
    codes.sort_by_key(|(code, v)| (std::cmp::Reverse(v.len()), *code));
    if !codes.is_empty() {
        out.push_str(&format!("\n{}\n", tr!(lang, "explain-why")));
    }
    for (code, cells) in &codes {
        out.push_str(&failure_group(lang, code, cells));
    }
    let advice = most_fixing(report);
    if !advice.is_empty() {
        out.push_str(&format!("\n{}\n", tr!(lang, "explain-what-fixes")));
        for a in advice {
            out.push_str(&format!("  {a}\n"));
        }
    }
    let off: Vec<&CellResult> = report
        .cells
        .iter()
        .filter(|c| c.disagrees_with_prediction())
        .collect();
    if !off.is_empty() {
        let ids: Vec<String> = off
            .iter()
            .take(10)
            .map(|c| format!("#{}", c.index))
            .collect();
        let said = tr!(
            lang,
            "explain-disagreed",
            n = off.len(),
            ids = ids.join(", ")
        );
        out.push_str(&format!("\n{said}\n"));
    }
    if let Some((_, cells)) = codes.first() {
        let command = format!("sshmatrix explain MATRIX {} --try-fixes", cells[0].index);
        out.push_str(&format!(
            "\n{}\n",
            tr!(lang, "explain-next", command = command)
        ));
    }
    out
}

/// One failure code of a whole-matrix explanation: how many cells, what it means, which
/// clients (the first four), and one cell's reason.
fn failure_group(lang: Lang, code: &str, cells: &[&CellResult]) -> String {
    let meaning = Code::parse(code)
        .map(|c| i18n::code_meaning(lang, c))
        .unwrap_or_default();
    let mut clients: Vec<&str> = cells.iter().map(|c| c.client.as_str()).collect();
    clients.sort();
    clients.dedup();
    let shown: Vec<&str> = clients.iter().take(4).copied().collect();
    let more = match clients.len().saturating_sub(shown.len()) {
        0 => String::new(),
        n => format!(" {}", tr!(lang, "explain-more", n = n)),
    };
    format!(
        "  {:>4} × {code}: {meaning}\n       {}: {}{more}\n       {} #{} {}\n",
        cells.len(),
        tr!(lang, "explain-clients"),
        shown.join(", "),
        tr!(lang, "explain-eg"),
        cells[0].index,
        cells[0].reason
    )
}
