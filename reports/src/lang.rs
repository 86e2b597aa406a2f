//! A report in the reader's language: the axis titles and the axis values sshmatrix writes
//! itself (key sizes, passphrase yes/no, holders) in the words of `core/i18n`, verdicts,
//! stages, fix marks and sides. Names (clients, tools, targets, users), codes and every piece of
//! evidence stay as they are.

use std::borrow::Cow;

use sshmatrix_core::i18n::{self, Lang};
use sshmatrix_core::tr;

use crate::schema::{Advice, CellResult, Holder, Report, Stage, Verdict};

/// The axis titles the planner writes, with their message ids.
const AXES: &[(&str, &str)] = &[
    ("Client", "axis-client"),
    ("Key tool", "axis-key-tool"),
    ("Key", "axis-key"),
    ("Passphrase", "axis-passphrase"),
    ("Holder", "axis-holder"),
    ("Certificate", "axis-certificate"),
    ("Target", "axis-target"),
    ("User", "axis-user"),
];

/// What an axis's values are, where sshmatrix wrote them.
#[derive(Clone, Copy, PartialEq)]
enum Values {
    Key,
    Passphrase,
    Holder,
    Other,
}

fn values_of(title: &str) -> Values {
    match title {
        "Key" => Values::Key,
        "Passphrase" => Values::Passphrase,
        "Holder" => Values::Holder,
        _ => Values::Other,
    }
}

/// An axis title in `lang` (a title of the matrix writer's own stays).
fn axis_title(lang: Lang, title: &str) -> String {
    match AXES.iter().find(|(en, _)| *en == title) {
        Some((_, id)) => tr!(lang, id),
        None => title.to_string(),
    }
}

/// The key as the table labels it: `RSA 2048`, `RSA（ビット数 2048）`, `Ed25519`.
pub fn key_label(lang: Lang, key_type: &str, bits: u32) -> String {
    match key_type {
        "ed25519" => "Ed25519".into(),
        family => tr!(
            lang,
            "key-with-bits",
            family = family.to_ascii_uppercase(),
            bits = bits
        ),
    }
}

/// A holder as the table labels it.
pub fn holder_label(lang: Lang, h: Holder) -> String {
    let id = match h {
        Holder::File => "holder-key-file",
        Holder::Agent => "holder-agent",
        Holder::AgentForwarded => "holder-agent-forwarded",
        Holder::Password => "holder-password",
        Holder::FileAndPassword => "holder-key-file-then-password",
        Holder::KeyboardInteractive => "holder-keyboard-interactive",
        Holder::FileAndKeyboardInteractive => "holder-key-file-then-keyboard-interactive",
    };
    tr!(lang, id)
}

/// One cell label of an axis in `lang`, when sshmatrix wrote it (the matrix writer's own
/// words, and any label that is not what sshmatrix writes, stay).
fn value(lang: Lang, values: Values, c: &CellResult, label: &str) -> String {
    let ours = |en: String, local: String| {
        if label == en {
            local
        } else {
            label.to_string()
        }
    };
    match values {
        Values::Key => ours(
            key_label(Lang::En, &c.key_type, c.key_bits),
            key_label(lang, &c.key_type, c.key_bits),
        ),
        Values::Passphrase => match label {
            "yes" => tr!(lang, "value-yes"),
            "no" => tr!(lang, "value-no"),
            _ => label.to_string(),
        },
        Values::Holder => ours(c.holder.label().to_string(), holder_label(lang, c.holder)),
        Values::Other => label.to_string(),
    }
}

/// Labels of one side (rows or columns) of a cell in `lang`, `titles` being that side's axis
/// titles (an axis can span several label levels: the titles after it are empty).
fn labels(lang: Lang, titles: &[String], c: &CellResult, labels: &[String]) -> Vec<String> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let values = titles.get(i).map_or(Values::Other, |t| values_of(t));
            value(lang, values, c, l)
        })
        .collect()
}

/// The report in `lang`: axis titles and sshmatrix's own axis values translated (borrowed as it
/// is in English).
pub fn localize(report: &Report, lang: Lang) -> Cow<'_, Report> {
    if lang == Lang::En {
        return Cow::Borrowed(report);
    }
    let mut r = report.clone();
    for (cell, orig) in r.cells.iter_mut().zip(&report.cells) {
        cell.row = labels(lang, &report.row_axes, orig, &orig.row);
        cell.column = labels(lang, &report.column_axes, orig, &orig.column);
    }
    r.row_axes = report
        .row_axes
        .iter()
        .map(|t| axis_title(lang, t))
        .collect();
    r.column_axes = report
        .column_axes
        .iter()
        .map(|t| axis_title(lang, t))
        .collect();
    Cow::Owned(r)
}

/// A verdict in `lang`.
pub fn verdict(lang: Lang, v: Verdict) -> String {
    tr!(lang, &format!("verdict-{}", v.as_str()))
}

/// A stage in `lang`.
pub fn stage(lang: Lang, s: Stage) -> String {
    tr!(lang, &format!("stage-{}", s.as_str()))
}

/// Who acts on a fix (`client`, `server`, `proposed`), in `lang`.
pub fn side(lang: Lang, side: &str) -> String {
    match side {
        "client" | "server" | "proposed" => tr!(lang, &format!("side-{side}")),
        other => other.to_string(),
    }
}

/// How a fix fared, in `lang` (`○ works`, `× no`, `?`).
pub fn advice_mark(lang: Lang, a: &Advice) -> String {
    match a.works {
        Some(true) => tr!(lang, "advice-works"),
        Some(false) => tr!(lang, "advice-fails"),
        None => tr!(lang, "advice-untried"),
    }
}

/// "N cells" in `lang`.
pub fn cells(lang: Lang, n: usize) -> String {
    tr!(lang, "cells", n = n)
}

/// The counts line every format ends its table with (joined by `sep`): `○ ok 3 · × fail 1 ·
/// ! error 0`, `(◐ weak N)` after the logins when some are weak, `? needs a login N` when a
/// scan left cells undecided.
pub fn tally(lang: Lang, report: &Report, sep: &str) -> String {
    let (ok, fail, err) = report.counts();
    let weak = report.cells.iter().filter(|c| c.mark() == "◐").count();
    let mut parts = vec![
        match weak {
            0 => tr!(lang, "tally-ok", n = ok),
            w => tr!(lang, "tally-ok-weak", n = ok, weak = w),
        },
        tr!(lang, "tally-fail", n = fail),
    ];
    if report.needs_login() > 0 {
        parts.push(tr!(lang, "tally-needs-login", n = report.needs_login()));
    }
    parts.push(tr!(lang, "tally-error", n = err));
    parts.join(sep)
}

/// The legend text of a refused (or undecided) cell: code, stage and reason; in languages other
/// than English also what the code means (the reason is evidence and stays as written).
pub fn failure_text(lang: Lang, c: &CellResult, reason: &str) -> String {
    let meaning = c
        .code
        .code()
        .map(|code| i18n::code_meaning(lang, code))
        .unwrap_or_default();
    tr!(
        lang,
        "legend-failure",
        code = c.code.as_str().to_string(),
        stage = stage(lang, c.stage),
        meaning = meaning,
        reason = reason.to_string()
    )
}
