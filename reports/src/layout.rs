//! The grid behind every tabular renderer: distinct row and column label paths in plan order,
//! runs of equal labels (for spans), the legend of distinct failure reasons and each cell's mark.

use std::collections::HashMap;
use std::hash::Hash;

use sshmatrix_core::i18n::Lang;

use crate::schema::{CellResult, Report, Verdict};

/// Items in first-seen order without repeats (linear: a set remembers what was seen).
pub fn distinct<T: Clone + Eq + Hash>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if seen.insert(i.clone()) {
            out.push(i);
        }
    }
    out
}

/// Runs of equal neighbours: (start, length) for each run.
pub fn runs<K: PartialEq>(keys: &[K]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j] == keys[i] {
            j += 1;
        }
        out.push((i, j - i));
        i = j;
    }
    out
}

/// Row axes with one value across every cell, moved into the title (`Passphrase: no`): what a
/// terminal table does to fit, and what documentation formats always do.
pub(crate) fn fold_constant_rows(report: &Report) -> std::borrow::Cow<'_, Report> {
    let axes = report.row_axes.len();
    let uniform = report.cells.iter().all(|c| c.row.len() == axes);
    let single: Vec<usize> = (0..axes)
        .filter(|&i| {
            let first = report.cells.first().and_then(|c| c.row.get(i));
            uniform && report.cells.iter().all(|c| c.row.get(i) == first)
        })
        .collect();
    if single.is_empty() || single.len() >= axes {
        return std::borrow::Cow::Borrowed(report);
    }
    let mut r = report.clone();
    let said: Vec<String> = single
        .iter()
        .map(|&i| format!("{}: {}", report.row_axes[i], report.cells[0].row[i]))
        .collect();
    r.title = format!("{} — {}", report.title, said.join(", "));
    let keep = |v: &Vec<String>| -> Vec<String> {
        v.iter()
            .enumerate()
            .filter(|(i, _)| !single.contains(i))
            .map(|(_, x)| x.clone())
            .collect()
    };
    r.row_axes = keep(&report.row_axes);
    for c in &mut r.cells {
        c.row = keep(&c.row);
    }
    std::borrow::Cow::Owned(r)
}

/// The report as a reader gets it: in `lang` ([`crate::lang::localize`]), and with its
/// single-valued row axes moved into the title when `fold` ([`fold_constant_rows`]).
pub(crate) fn for_reading(report: &Report, lang: Lang, fold: bool) -> std::borrow::Cow<'_, Report> {
    let localized = crate::lang::localize(report, lang);
    match (fold, localized) {
        (false, r) => r,
        (true, std::borrow::Cow::Borrowed(r)) => fold_constant_rows(r),
        (true, std::borrow::Cow::Owned(r)) => {
            std::borrow::Cow::Owned(fold_constant_rows(&r).into_owned())
        }
    }
}

/// The legend entry of a non-ok cell: failure code, stage and reason, with what differs from
/// connection to connection (a client's port, a key's fingerprint) left out, so the cells one
/// cause refuses share one entry (each cell's own reason keeps them).
pub fn legend_text(c: &CellResult) -> String {
    legend_text_in(Lang::En, c)
}

/// [`legend_text`] in `lang` (what the code means added where the language is not English).
pub fn legend_text_in(lang: Lang, c: &CellResult) -> String {
    crate::lang::failure_text(lang, c, &generic(&c.reason))
}

/// `reason` with the number after `port` (or after `ADDRESS:`, as Dropbear writes it), every
/// `SHA256:` fingerprint and every colon-hex MD5 fingerprint written `…`.
fn generic(reason: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for word in reason.split(' ') {
        let digits = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
        let bare = word.trim_end_matches([':', ',', '.', ')']);
        let port = out.last().is_some_and(|w| w == "port") && digits(bare);
        let addr_port = word.rsplit_once(':').filter(|(addr, p)| {
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            digits(p) && addr.split('.').count() == 4 && addr.split('.').all(digits)
        });
        let md5 = word.len() == 47
            && word
                .split(':')
                .all(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        out.push(match () {
            _ if port => format!("…{}", &word[bare.len()..]),
            _ if word.starts_with("SHA256:") && word.len() > 40 => "SHA256:…".into(),
            _ if md5 => "…".into(),
            _ => match addr_port {
                Some((addr, _)) => format!("{addr}:…"),
                None => word.to_string(),
            },
        });
    }
    out.join(" ")
}

/// One legend entry: a failure text (one mark per reason), and the distinct lists of fixes its
/// cells carry (cells with the same reason can have different fixes: a client's own upgrade).
pub struct LegendEntry {
    /// Code, stage and reason.
    pub text: String,
    variants: Vec<Variant>,
}

/// The cells of a legend entry that carry one list of fixes.
struct Variant {
    advice: Vec<crate::schema::Advice>,
    count: usize,
    /// The report position of its first cell.
    first: usize,
}

/// One fix as a legend shows it: (mark, side, text, cost).
pub type FixLine = (String, String, String, Option<String>);

fn fix_line(lang: Lang, a: &crate::schema::Advice) -> FixLine {
    (
        crate::lang::advice_mark(lang, a),
        crate::lang::side(lang, &a.side),
        a.text.clone(),
        a.cost.clone(),
    )
}

/// The laid-out grid of a report. Every lookup is by index (built once), so laying out and
/// rendering take time linear in the cells.
pub struct Grid<'a> {
    /// The report.
    pub report: &'a Report,
    /// The language of the legend's words.
    pub lang: Lang,
    /// Row label paths, in order.
    pub rows: Vec<Vec<String>>,
    /// Column label paths, in order.
    pub cols: Vec<Vec<String>>,
    /// Number of column header levels.
    pub depth: usize,
    /// Number of row label columns.
    pub width: usize,
    /// Distinct legend entries of non-ok cells (one per failure text), in first-seen order.
    pub legend: Vec<LegendEntry>,
    /// (row, column) → position of the cell in the report.
    at: HashMap<(&'a [String], &'a [String]), usize>,
    /// Each cell's legend entry (`None` for ok cells), by position in the report.
    entry: Vec<Option<usize>>,
    /// How many cells each legend entry has, and the verdict of its first.
    counts: Vec<(usize, &'static str)>,
}

/// The legend of a report's non-ok cells: its entries, each cell's entry (by report position),
/// and each entry's cell count and mark.
type Legend = (
    Vec<LegendEntry>,
    Vec<Option<usize>>,
    Vec<(usize, &'static str)>,
);

fn legend_of(report: &Report, lang: Lang) -> Legend {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut variant: HashMap<(usize, &[crate::schema::Advice]), usize> = HashMap::new();
    let mut legend: Vec<LegendEntry> = Vec::new();
    let mut counts = Vec::new();
    let mut entry = Vec::with_capacity(report.cells.len());
    for (i, c) in report.cells.iter().enumerate() {
        let weak = c.verdict == Verdict::Ok && c.mark() == "◐";
        if c.verdict == Verdict::Ok && !weak {
            entry.push(None);
            continue;
        }
        let text = match weak {
            true => crate::weak::legend_text(lang, &c.weak_rules()),
            false => legend_text_in(lang, c),
        };
        let n = *index.entry(text).or_insert_with_key(|text| {
            legend.push(LegendEntry {
                text: text.clone(),
                variants: Vec::new(),
            });
            counts.push((0, c.mark()));
            legend.len() - 1
        });
        counts[n].0 += 1;
        let variants = &mut legend[n].variants;
        let v = *variant.entry((n, c.advice.as_slice())).or_insert_with(|| {
            variants.push(Variant {
                advice: c.advice.clone(),
                count: 0,
                first: i,
            });
            variants.len() - 1
        });
        variants[v].count += 1;
        entry.push(Some(n));
    }
    (legend, entry, counts)
}

impl<'a> Grid<'a> {
    /// Lays out a report (its legend in English).
    pub fn new(report: &'a Report) -> Self {
        Grid::in_lang(report, Lang::En)
    }

    /// Lays out a report, its legend in `lang`.
    pub fn in_lang(report: &'a Report, lang: Lang) -> Self {
        let rows = distinct(report.cells.iter().map(|c| c.row.clone()));
        let cols = distinct(report.cells.iter().map(|c| c.column.clone()));
        let mut at = HashMap::with_capacity(report.cells.len());
        for (i, c) in report.cells.iter().enumerate() {
            at.entry((c.row.as_slice(), c.column.as_slice()))
                .or_insert(i);
        }
        let (legend, entry, counts) = legend_of(report, lang);
        Grid {
            lang,
            depth: cols.iter().map(Vec::len).max().unwrap_or(1).max(1),
            width: rows.iter().map(Vec::len).max().unwrap_or(1).max(1),
            legend,
            rows,
            cols,
            report,
            at,
            entry,
            counts,
        }
    }

    /// The cell at a row and column path.
    pub fn cell(&self, row: &[String], col: &[String]) -> Option<&'a CellResult> {
        self.at.get(&(row, col)).map(|&i| &self.report.cells[i])
    }

    /// The legend entry of a non-ok cell of the report (0 for an ok one).
    pub fn entry_of(&self, c: &CellResult) -> usize {
        let i = self
            .at
            .get(&(c.row.as_slice(), c.column.as_slice()))
            .copied()
            .unwrap_or(0);
        self.entry.get(i).copied().flatten().unwrap_or(0)
    }

    /// The legend label of a legend entry: the cells' mark, numbered when there are several.
    pub fn label(&self, index: usize, mark: &str) -> String {
        if self.legend.len() > 1 {
            format!("{mark}{}", index + 1)
        } else {
            mark.to_string()
        }
    }

    /// The mark of a cell: ○, or ×/! with its legend number.
    pub fn mark(&self, cell: Option<&CellResult>) -> String {
        match cell {
            None => "-".into(),
            Some(c) if c.mark() == "○" => "○".into(),
            Some(c) => self.label(self.entry_of(c), c.mark()),
        }
    }

    /// Runs of equal column-path prefixes at header `level`.
    pub fn col_runs(&self, level: usize) -> Vec<(usize, usize)> {
        let keys: Vec<&[String]> = self
            .cols
            .iter()
            .map(|c| &c[..(level + 1).min(c.len())])
            .collect();
        runs(&keys)
    }

    /// Runs of equal row-path prefixes at label column `level`.
    pub fn row_runs(&self, level: usize) -> Vec<(usize, usize)> {
        let keys: Vec<&[String]> = self
            .rows
            .iter()
            .map(|r| &r[..(level + 1).min(r.len())])
            .collect();
        runs(&keys)
    }

    /// Legend lines: label, text, number of cells.
    pub fn legend_lines(&self) -> Vec<(String, String, usize)> {
        self.legend
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (count, mark) = self.counts[i];
                (self.label(i, mark), e.text.clone(), count)
            })
            .collect()
    }

    /// The fixes every cell of legend entry `index` carries.
    pub fn legend_advice(&self, index: usize) -> Vec<FixLine> {
        let Some(e) = self.legend.get(index) else {
            return Vec::new();
        };
        let Some(first) = e.variants.first() else {
            return Vec::new();
        };
        first
            .advice
            .iter()
            .filter(|a| e.variants.iter().all(|v| v.advice.contains(a)))
            .map(|a| fix_line(self.lang, a))
            .collect()
    }

    /// The fixes only some cells of legend entry `index` carry, per group of cells: where its
    /// first cell is (`row / … → column / …`), how many cells, and their own fixes. Empty when
    /// every cell carries the same.
    pub fn legend_variants(&self, index: usize) -> Vec<(String, usize, Vec<FixLine>)> {
        let Some(e) = self.legend.get(index).filter(|e| e.variants.len() > 1) else {
            return Vec::new();
        };
        let common: Vec<_> = e.variants[0]
            .advice
            .iter()
            .filter(|a| e.variants.iter().all(|v| v.advice.contains(a)))
            .collect();
        e.variants
            .iter()
            .filter_map(|v| {
                let own: Vec<FixLine> = v
                    .advice
                    .iter()
                    .filter(|a| !common.contains(a))
                    .map(|a| fix_line(self.lang, a))
                    .collect();
                let c = &self.report.cells[v.first];
                let at = format!("{} → {}", c.row.join(" / "), c.column.join(" / "));
                (!own.is_empty()).then_some((at, v.count, own))
            })
            .collect()
    }

    /// Cells whose measurement disagrees with the static prediction.
    pub fn disagreements(&self) -> Vec<&'a CellResult> {
        self.report
            .cells
            .iter()
            .filter(|c| c.disagrees_with_prediction())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::generic;

    #[test]
    fn a_legend_leaves_out_ports_and_fingerprints_as_each_server_writes_them() {
        assert_eq!(
            generic("ssh: Unable to negotiate with 127.0.0.1 port 46799: no matching host key"),
            "ssh: Unable to negotiate with 127.0.0.1 port …: no matching host key"
        );
        assert_eq!(
            generic("Pubkey auth attempt with unknown algo for 'admin' from 127.0.0.1:48613"),
            "Pubkey auth attempt with unknown algo for 'admin' from 127.0.0.1:…"
        );
        assert_eq!(
            generic("drop connection #0 from [127.0.0.1]:38906 on [127.0.0.1]:38055 penalty:"),
            "drop connection #0 from [127.0.0.1]:… on [127.0.0.1]:… penalty:"
        );
        let md5 = "with key md5 2b:3c:4d:5e:6f:70:81:92:a3:b4:c5:d6:e7:f8:09:1a from";
        assert_eq!(generic(md5), "with key md5 … from");
        // A version or a time is not a port.
        assert_eq!(generic("OpenSSH_9.2 at 10:15"), "OpenSSH_9.2 at 10:15");
    }
}
