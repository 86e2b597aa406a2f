//! The grid behind every tabular renderer: distinct row and column label paths in plan order,
//! runs of equal labels (for spans), the legend of distinct failure reasons and each cell's mark.

use std::collections::HashMap;
use std::hash::Hash;

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

/// The legend entry of a non-ok cell: failure code, stage and reason.
pub fn legend_text(c: &CellResult) -> String {
    format!("[{}] {}: {}", c.code, c.stage, c.reason)
}

/// What puts two non-ok cells under one legend entry: the same text and the same advice (cells
/// with the same reason but different fixes get entries of their own, so every cell shows its
/// own fixes).
fn legend_key(c: &CellResult) -> (String, Vec<crate::schema::Advice>) {
    (legend_text(c), c.advice.clone())
}

/// A legend entry's key: its text and its advice.
type LegendKey = (String, Vec<crate::schema::Advice>);

/// The laid-out grid of a report. Every lookup is by index (built once), so laying out and
/// rendering take time linear in the cells.
pub struct Grid<'a> {
    /// The report.
    pub report: &'a Report,
    /// Row label paths, in order.
    pub rows: Vec<Vec<String>>,
    /// Column label paths, in order.
    pub cols: Vec<Vec<String>>,
    /// Number of column header levels.
    pub depth: usize,
    /// Number of row label columns.
    pub width: usize,
    /// Distinct legend entries of non-ok cells (text and advice), in first-seen order.
    pub legend: Vec<LegendKey>,
    /// (row, column) → position of the cell in the report.
    at: HashMap<(&'a [String], &'a [String]), usize>,
    /// Each cell's legend entry (`None` for ok cells), by position in the report.
    entry: Vec<Option<usize>>,
    /// How many cells each legend entry has, and the verdict of its first.
    counts: Vec<(usize, Verdict)>,
}

impl<'a> Grid<'a> {
    /// Lays out a report.
    pub fn new(report: &'a Report) -> Self {
        let rows = distinct(report.cells.iter().map(|c| c.row.clone()));
        let cols = distinct(report.cells.iter().map(|c| c.column.clone()));
        let mut at = HashMap::with_capacity(report.cells.len());
        for (i, c) in report.cells.iter().enumerate() {
            at.entry((c.row.as_slice(), c.column.as_slice()))
                .or_insert(i);
        }
        let mut index: HashMap<LegendKey, usize> = HashMap::new();
        let mut legend = Vec::new();
        let mut counts = Vec::new();
        let entry = report
            .cells
            .iter()
            .map(|c| {
                (c.verdict != Verdict::Ok).then(|| {
                    let n = *index.entry(legend_key(c)).or_insert_with_key(|k| {
                        legend.push(k.clone());
                        counts.push((0, c.verdict));
                        legend.len() - 1
                    });
                    counts[n].0 += 1;
                    n
                })
            })
            .collect();
        Grid {
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

    /// The legend label of a legend entry: the verdict mark, numbered when there are several.
    pub fn label(&self, index: usize, verdict: Verdict) -> String {
        if self.legend.len() > 1 {
            format!("{}{}", verdict.mark(), index + 1)
        } else {
            verdict.mark().to_string()
        }
    }

    /// The mark of a cell: ○, or ×/! with its legend number.
    pub fn mark(&self, cell: Option<&CellResult>) -> String {
        match cell {
            None => "-".into(),
            Some(c) if c.verdict == Verdict::Ok => "○".into(),
            Some(c) => self.label(self.entry_of(c), c.verdict),
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
            .map(|(i, key)| {
                let (count, verdict) = self.counts[i];
                (self.label(i, verdict), key.0.clone(), count)
            })
            .collect()
    }

    /// The advice of legend entry `index` (every cell of an entry has the same): (mark, side,
    /// text, cost).
    pub fn legend_advice(&self, index: usize) -> Vec<(String, String, String, Option<String>)> {
        self.legend
            .get(index)
            .map(|(_, advice)| {
                advice
                    .iter()
                    .map(|a| {
                        (
                            a.mark().to_string(),
                            a.side.clone(),
                            a.text.clone(),
                            a.cost.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
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
