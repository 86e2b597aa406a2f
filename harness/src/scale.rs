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

/// Keeps the cells of shard `k` of `n` ([`shard_of`]). Indices stay those of the whole plan,
/// so shard reports merge back in order.
pub fn shard(plan: &mut Plan, k: usize, n: usize) {
    let of: Vec<usize> = plan.cells.iter().map(|c| shard_of(plan, c, n)).collect();
    let mut i = 0;
    plan.cells.retain(|_| {
        i += 1;
        of[i - 1] == k
    });
}

/// Keeps the cells of the clients that are the newest release of their family among the
/// plan's clients (`run --current`); returns the clients left out (id, display name).
pub fn keep_current(plan: &mut Plan) -> Vec<(String, String)> {
    let older = older_clients(plan);
    plan.cells
        .retain(|c| !older.iter().any(|(id, _)| *id == c.client.id));
    older
}

/// The plan's clients that are not the newest release of their family among the plan's
/// clients (id, display name), in plan order.
pub fn older_clients(plan: &Plan) -> Vec<(String, String)> {
    let mut clients: Vec<&sshmatrix_clients::Profile> = Vec::new();
    for c in &plan.cells {
        if !clients.iter().any(|p| p.id == c.client.id) {
            clients.push(&c.client);
        }
    }
    let current: Vec<String> = sshmatrix_clients::current::current(clients.iter().copied())
        .iter()
        .map(|p| p.id.clone())
        .collect();
    clients
        .iter()
        .filter(|p| !current.contains(&p.id))
        .map(|p| (p.id.clone(), p.display_name()))
        .collect()
}

/// The shard of `n` a cell runs in: its plan index modulo `n`, except that every cell logging
/// in to one remote host (host and port, whatever the target) runs in the same shard, chosen by
/// a stable hash of the host — the host's accounts have one failed-login budget, and only one
/// machine's ledger can keep it.
pub fn shard_of(plan: &Plan, cell: &crate::matrix::Cell, n: usize) -> usize {
    use sha2::Digest;
    match plan.targets[cell.target].remote() {
        None => cell.index % n,
        Some(r) => {
            let h = sha2::Sha256::digest(format!("{}:{}", r.host, r.port).as_bytes());
            (u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % n as u64) as usize
        }
    }
}

/// A result stream read back.
#[derive(Debug, Default)]
pub struct StreamRead {
    /// The complete result lines (interrupted cells, which are never final, left out).
    pub results: Vec<CellResult>,
    /// Where a last line cut short by a kill begins (the file should be cut back to it before
    /// appending, so the next result is not glued to it).
    pub torn_at: Option<u64>,
}

/// Reads a result stream. A last line cut short by a kill is reported in `torn_at`; any other
/// bad line is an error naming its line number.
pub fn read_stream(path: &Path) -> Result<StreamRead, String> {
    if !path.exists() {
        return Ok(StreamRead::default());
    }
    let text = crate::bounded::read_to_string(path, crate::bounded::MAX_REPORT)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = StreamRead::default();
    let mut offset = 0u64;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len() as u64;
        if line.trim().is_empty() {
            continue;
        }
        // Each result is written as one line with its newline in a single write: a line
        // without one (only ever the last) was cut short by a kill or a full disk.
        if !line.ends_with('\n') {
            out.torn_at = Some(start);
            break;
        }
        match serde_json::from_str::<CellResult>(line) {
            Ok(c) if c.verdict.is_measured() => out.results.push(c),
            Ok(_) => {}
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

/// What `--resume` keeps from a stream.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Results reused as they are, re-indexed to the plan.
    pub kept: Vec<CellResult>,
    /// Stream lines of plan cells whose digest differs (the matrix changed): rerun.
    pub stale: usize,
    /// Stream lines of cells the plan does not have.
    pub foreign: usize,
}

/// Removes from `plan` the cells already in `done` with the same identity and digest, and
/// returns those results re-indexed to the plan. A line whose digest differs from its cell's
/// (profile, key tool, policy, sshd lines, scenario, image … changed) is not reused.
pub fn skip_done(plan: &mut Plan, done: Vec<CellResult>) -> Resumed {
    let ids: Vec<String> = plan.cells.iter().map(|c| cell_identity(plan, c)).collect();
    let index_of: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut out = Resumed::default();
    let mut reused = vec![false; plan.cells.len()];
    for mut r in done {
        let Some(&i) = index_of.get(identity(&r).as_str()) else {
            out.foreign += 1;
            continue;
        };
        if r.digest != plan.cells[i].digest.to_string() {
            out.stale += 1;
            continue;
        }
        if !reused[i] {
            reused[i] = true;
            r.index = plan.cells[i].index;
            out.kept.push(r);
        }
    }
    let mut n = 0;
    plan.cells.retain(|_| {
        n += 1;
        !reused[n - 1]
    });
    out
}

/// Merges shard reports of one matrix into one report, cells in plan order. Reports of
/// different matrices (plan digests) are refused; so is a merge with cells missing (naming the
/// missing shards), unless `partial`.
pub fn merge(mut reports: Vec<Report>, partial: bool) -> Result<Report, String> {
    let mut first = reports.pop().ok_or("nothing to merge")?;
    let mut shards: Vec<Option<String>> = vec![first.shard.clone()];
    // Each cell's identity once, so a merge of many shards stays linear in the cells.
    let mut seen: std::collections::HashMap<String, usize> = first
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| (identity(c), i))
        .collect();
    for r in reports {
        let other_plan = !r.matrix_digest.is_empty()
            && !first.matrix_digest.is_empty()
            && r.matrix_digest != first.matrix_digest;
        if r.matrix != first.matrix || r.title != first.title || other_plan {
            return Err(format!(
                "cannot merge reports of different matrices: `{}` and `{}`{}",
                r.matrix,
                first.matrix,
                if other_plan {
                    " (their plan digests differ: the matrix, a profile or a policy changed between the runs)"
                } else {
                    ""
                }
            ));
        }
        shards.push(r.shard.clone());
        for c in r.cells {
            let id = identity(&c);
            if let Some(&i) = seen.get(&id) {
                let old = &first.cells[i];
                if old.verdict != c.verdict || old.code != c.code {
                    return Err(format!("cell {id} appears twice with different verdicts"));
                }
                continue;
            }
            seen.insert(id, first.cells.len());
            first.cells.push(c);
        }
        for id in r.older_clients {
            if !first.older_clients.contains(&id) {
                first.older_clients.push(id);
            }
        }
        for n in r.notes {
            if !first.notes.contains(&n) {
                first.notes.push(n);
            }
        }
    }
    first.cells.sort_by_key(|c| c.index);
    first.shard = None;
    crate::diagnose::across_cells(&mut first.cells);
    let missing = missing_cells(&first);
    if missing > 0 && !partial {
        return Err(format!(
            "{missing} of {} cells are missing from the merge{}; merge every shard, or pass --partial to accept an incomplete report",
            first.plan_cells,
            missing_shards(&shards)
        ));
    }
    Ok(first)
}

/// How many plan cells a report lacks (0 when the plan size is unknown).
fn missing_cells(r: &Report) -> usize {
    let present: HashSet<usize> = r.cells.iter().map(|c| c.index).collect();
    (0..r.plan_cells).filter(|i| !present.contains(i)).count()
}

/// ` (shards 1/4, 3/4 not given)` when the given reports name their shards.
fn missing_shards(given: &[Option<String>]) -> String {
    let parsed: Vec<(usize, usize)> = given
        .iter()
        .filter_map(|s| s.as_deref().and_then(|s| parse_shard(s).ok()))
        .collect();
    let Some(&(_, n)) = parsed.first() else {
        return String::new();
    };
    let absent: Vec<String> = (0..n)
        .filter(|k| !parsed.contains(&(*k, n)))
        .map(|k| format!("{k}/{n}"))
        .collect();
    match absent.is_empty() {
        true => String::new(),
        false => format!(" (shards {} not given)", absent.join(", ")),
    }
}
