//! Expected verdicts: a CSV (`client,key_tool,key_type,key_bits,passphrase,target,user,verdict`)
//! named by the matrix's `expect` key, compared cell by cell with a run.

use std::path::Path;

use serde::Deserialize;
use sshmatrix_reports::Report;

/// One expected verdict.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Client profile id.
    pub client: String,
    /// Key tool id.
    pub key_tool: String,
    /// Key family.
    pub key_type: String,
    /// Key bits.
    pub key_bits: u32,
    /// `yes` / `no`.
    pub passphrase: String,
    /// Target id.
    pub target: String,
    /// Login name.
    pub user: String,
    /// `ok`, `fail` or `error`.
    pub verdict: String,
}

/// Reads an expectations CSV.
pub fn read(path: &Path) -> Result<Vec<Expected>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    r.deserialize()
        .map(|row| row.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// Lines describing every expectation the report does not meet (empty when all are met).
pub fn compare(report: &Report, expected: &[Expected]) -> Vec<String> {
    let mut out = Vec::new();
    for e in expected {
        let cell = report.cells.iter().find(|c| {
            c.client == e.client
                && c.key_tool == e.key_tool
                && c.key_type == e.key_type
                && c.key_bits == e.key_bits
                && (if c.passphrase { "yes" } else { "no" }) == e.passphrase
                && c.target == e.target
                && c.user == e.user
        });
        let what = format!(
            "{} / {} / {}-{} passphrase={} -> {}@{}",
            e.client, e.key_tool, e.key_type, e.key_bits, e.passphrase, e.user, e.target
        );
        match cell {
            None => out.push(format!(
                "{what}: expected {}, but the matrix has no such cell",
                e.verdict
            )),
            Some(c) if c.verdict.as_str() != e.verdict => out.push(format!(
                "{what}: expected {}, got {} ({}: {})",
                e.verdict,
                c.verdict.as_str(),
                c.stage,
                c.reason
            )),
            Some(_) => {}
        }
    }
    out
}
