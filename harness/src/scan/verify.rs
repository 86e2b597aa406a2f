//! `scan --verify USER`: the cells a scan cannot decide, logged in for real as a remote target
//! (host key pinned, failed logins within the account's budget), their measurements taking the
//! place of the predictions.

use sshmatrix_reports::{CellResult, Report};

use crate::impact::quote;
use crate::matrix::{Cell, Plan};

/// Where and as whom a verify run logs in.
#[derive(Debug, Clone)]
pub struct Verify {
    /// Host as given to the scan.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The SHA256 host key fingerprint every login must see.
    pub pin: String,
    /// The account.
    pub user: String,
    /// Failed logins allowed for the account per window.
    pub auth_budget: u32,
    /// An admin key (and its account) that installs the keys first.
    pub deploy: Option<(String, std::path::PathBuf)>,
}

/// The `[[targets]]` table of the remote target a verify run logs in to.
pub fn target_block(v: &Verify, label: &str) -> String {
    let mut t = format!(
        "[[targets]]\nid = \"server\"\nlabel = [{}]\nkind = \"remote\"\nhost = {}\nport = {}\nhost_key = {}\nauth_budget = {}\nusers = [{}]\npolicy = \"upstream-9.2\"\n",
        quote(label),
        quote(&v.host),
        v.port,
        quote(&v.pin),
        v.auth_budget,
        quote(&v.user),
    );
    if let Some((user, key)) = &v.deploy {
        t.push_str(&format!(
            "deploy = {{ user = {}, key = {} }}\n",
            quote(user),
            quote(&key.display().to_string())
        ));
    }
    t
}

/// The cells of `plan` (emulated clients against the remote target) to log in for: those the
/// scan left `not-observable`.
pub fn cells_to_verify(plan: &Plan, scanned: &Report) -> Vec<Cell> {
    plan.cells
        .iter()
        .filter(|c| {
            scanned.cells.iter().any(|s| {
                s.code == sshmatrix_reports::Code::NotObservable
                    && s.client == c.client.id
                    && s.key_spec()
                        == sshmatrix_reports::schema::key_spelling(c.key.family(), c.key.bits())
            })
        })
        .cloned()
        .collect()
}

/// Puts each measured cell in place of the scan's prediction of the same client and key; the
/// prediction stays in `predicted_verdict` / `predicted_code`. Returns how many were replaced.
pub fn merge(scanned: &mut Report, measured: &Report) -> usize {
    let mut n = 0;
    for m in &measured.cells {
        let same = |s: &&mut CellResult| s.client == m.client && s.key_spec() == m.key_spec();
        if let Some(s) = scanned.cells.iter_mut().find(same) {
            let kept = (
                s.index,
                s.row.clone(),
                s.column.clone(),
                s.target.clone(),
                s.policy.clone(),
            );
            let (predicted, code) = (s.predicted_verdict, s.predicted_code);
            *s = m.clone();
            (s.index, s.row, s.column, s.target, s.policy) = kept;
            (s.predicted_verdict, s.predicted_code) = (predicted, code);
            s.notes.push("measured by logging in (--verify)".into());
            n += 1;
        }
    }
    n
}
