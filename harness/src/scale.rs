//! Scale-out and recovery: deterministic shards of a plan, the JSON Lines result stream read back
//! for `--resume`, and merging shard reports into the report of a single-machine run.

use std::collections::HashSet;
use std::path::Path;

use sshmatrix_reports::diff::{identity, identity_of, with_holder};
use sshmatrix_reports::{CellResult, Report};

use crate::matrix::{Cell, Plan};

/// The identity of a plan cell (the same string [`identity`] gives for its result).
pub fn cell_identity(plan: &Plan, c: &Cell) -> String {
    with_holder(
        identity_of(
            &c.client.id,
            &c.key_tool.id,
            c.key.family(),
            c.key.bits(),
            c.passphrase,
            &c.user,
            &plan.targets[c.target].id,
        ),
        c.holder.as_str(),
    )
}

/// Parses `K/N` (0 <= K < N; K is 0-based, as Kubernetes' JOB_COMPLETION_INDEX).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard `{s}` must be K/N with 0 <= K < N, e.g. 0/4 (K is 0-based)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Keeps the cells of shard `k` of `n`: every plan index with `index % n == k`. Indices stay
/// those of the whole plan, so shard reports merge back in order.
pub fn shard(plan: &mut Plan, k: usize, n: usize) {
    plan.cells.retain(|c| c.index % n == k);
}

/// Reads a result stream. A last line cut short by a kill is ignored; any other bad line is an
/// error naming its line number.
pub fn read_stream(path: &Path) -> Result<Vec<CellResult>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    let complete = text.ends_with('\n');
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<CellResult>(line) {
            Ok(c) => out.push(c),
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => {
                return Err(format!(
                    "{}:{}: not a result line: {e}",
                    path.display(),
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

/// Removes from `plan` the cells already in `done`, returning the done results re-indexed to the
/// plan (results of cells the plan does not have, and repeats, are dropped).
pub fn skip_done(plan: &mut Plan, done: Vec<CellResult>) -> Vec<CellResult> {
    let index_of: std::collections::HashMap<String, usize> = plan
        .cells
        .iter()
        .map(|c| (cell_identity(plan, c), c.index))
        .collect();
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for mut r in done {
        let id = identity(&r);
        if let Some(i) = index_of.get(&id) {
            if seen.insert(id) {
                r.index = *i;
                kept.push(r);
            }
        }
    }
    let ids: Vec<String> = plan.cells.iter().map(|c| cell_identity(plan, c)).collect();
    let mut n = 0;
    plan.cells.retain(|_| {
        n += 1;
        !seen.contains(&ids[n - 1])
    });
    kept
}

/// Merges shard reports of one matrix into one report, cells in plan order.
pub fn merge(mut reports: Vec<Report>) -> Result<Report, String> {
    let mut first = reports.pop().ok_or("nothing to merge")?;
    for r in reports {
        if r.matrix != first.matrix || r.title != first.title {
            return Err(format!(
                "cannot merge reports of different matrices: `{}` and `{}`",
                r.matrix, first.matrix
            ));
        }
        for c in r.cells {
            if let Some(old) = first.cells.iter().find(|o| identity(o) == identity(&c)) {
                if old.verdict != c.verdict || old.code != c.code {
                    return Err(format!(
                        "cell {} appears twice with different verdicts",
                        identity(&c)
                    ));
                }
                continue;
            }
            first.cells.push(c);
        }
        for n in r.notes {
            if !first.notes.contains(&n) {
                first.notes.push(n);
            }
        }
    }
    first.cells.sort_by_key(|c| c.index);
    Ok(first)
}
