//! Regression diffs between two reports: cells are matched by identity (client, key tool, key,
//! passphrase, target, user) and classified as regressions (○ → ×/!), fixes (×/! → ○), reason
//! changes (same outcome class, different code or stage), added and removed cells.

use crate::schema::{CellResult, Report, Verdict};

/// What changed for one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// It logged in before and does not now.
    Regression,
    /// It did not log in before and does now.
    Fix,
    /// Still not logging in, for another reason.
    ReasonChange,
    /// Only in the new report.
    Added,
    /// Only in the old report.
    Removed,
}

impl ChangeKind {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            ChangeKind::Regression => "REGRESSION",
            ChangeKind::Fix => "fixed",
            ChangeKind::ReasonChange => "reason changed",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One changed cell.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// The kind of change.
    pub kind: ChangeKind,
    /// The cell in the old report.
    pub old: Option<&'a CellResult>,
    /// The cell in the new report.
    pub new: Option<&'a CellResult>,
}

/// The identity of a cell across runs.
pub fn identity(c: &CellResult) -> String {
    let id = with_holder(
        identity_of(
            &c.client,
            &c.key_tool,
            &c.key_type,
            c.key_bits,
            c.passphrase,
            &c.user,
            &c.target,
        ),
        c.holder.as_str(),
    );
    match c.certificate.is_empty() {
        true => id,
        false => format!("{id} certificate={}", c.certificate),
    }
}

/// An identity with the cell's key holder added (key-file cells keep the plain identity, so
/// results written before the holder axis existed still match).
pub fn with_holder(identity: String, holder: &str) -> String {
    if holder.is_empty() || holder == "file" {
        identity
    } else {
        format!("{identity} holder={holder}")
    }
}

/// The identity of a cell from its parts (what [`identity`] computes from a result).
pub fn identity_of(
    client: &str,
    key_tool: &str,
    key_type: &str,
    key_bits: u32,
    passphrase: bool,
    user: &str,
    target: &str,
) -> String {
    format!(
        "{client} / {key_tool} / {} passphrase={} -> {user}@{target}",
        crate::schema::key_spelling(key_type, key_bits),
        if passphrase { "yes" } else { "no" }
    )
}

/// The changed cells between two reports, in the new report's order (removed cells last).
pub fn diff<'a>(old: &'a Report, new: &'a Report) -> Vec<Change<'a>> {
    let find = |r: &'a Report, id: &str| r.cells.iter().find(|c| identity(c) == id);
    let mut out = Vec::new();
    for n in &new.cells {
        let kind = match find(old, &identity(n)) {
            None => Some(ChangeKind::Added),
            Some(o) => match (o.verdict == Verdict::Ok, n.verdict == Verdict::Ok) {
                (true, false) => Some(ChangeKind::Regression),
                (false, true) => Some(ChangeKind::Fix),
                (false, false)
                    if o.code != n.code || o.stage != n.stage || o.verdict != n.verdict =>
                {
                    Some(ChangeKind::ReasonChange)
                }
                _ => None,
            },
        };
        if let Some(kind) = kind {
            out.push(Change {
                kind,
                old: find(old, &identity(n)),
                new: Some(n),
            });
        }
    }
    for o in &old.cells {
        if find(new, &identity(o)).is_none() {
            out.push(Change {
                kind: ChangeKind::Removed,
                old: Some(o),
                new: None,
            });
        }
    }
    out
}

fn state(c: Option<&CellResult>) -> String {
    match c {
        None => "-".into(),
        Some(c) if c.verdict == Verdict::Ok => "○".into(),
        Some(c) => format!("{} [{}] {}", c.mark(), c.code, c.reason),
    }
}

/// Renders changes as text, one line per cell, with a summary line.
pub fn render(changes: &[Change]) -> String {
    let mut out = String::new();
    for ch in changes {
        let id = ch.new.or(ch.old).map(identity).unwrap_or_default();
        out.push_str(&format!(
            "{:<15} {id}: {} => {}\n",
            ch.kind.label(),
            state(ch.old),
            state(ch.new)
        ));
    }
    let count = |k: ChangeKind| changes.iter().filter(|c| c.kind == k).count();
    out.push_str(&format!(
        "{} changed cells: {} regressions, {} fixed, {} reason changes, {} added, {} removed\n",
        changes.len(),
        count(ChangeKind::Regression),
        count(ChangeKind::Fix),
        count(ChangeKind::ReasonChange),
        count(ChangeKind::Added),
        count(ChangeKind::Removed)
    ));
    out
}

/// Whether a CI gate should fail: a regression, or a cell present on one side only (a cell
/// that vanished is as unknown as one that regressed).
pub fn fails_gate(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c.kind,
            ChangeKind::Regression | ChangeKind::Added | ChangeKind::Removed
        )
    })
}

/// Whether any change is a regression.
pub fn has_regressions(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.kind == ChangeKind::Regression)
}
