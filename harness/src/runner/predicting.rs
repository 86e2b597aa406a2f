//! Every cell of a plan predicted without connecting: targets rendered and read back with
//! `sshd -T`, no key made.

use sshmatrix_reports::Report;
use sshmatrix_servers::{find_sshd, HostKeyStore, SshdTarget};

use super::files::new_run_dir;
use super::result::blank_result;
use super::targets::{effective_of, target_spec};
use crate::error::RunError;
use crate::matrix::Plan;

/// Predicts every cell of a plan without connecting: targets are rendered and read back with
/// `sshd -T`, no key is made.
pub fn predict_plan(plan: &Plan, work_dir: &std::path::Path) -> Result<Report, RunError> {
    let sshd = find_sshd()?;
    crate::workdir::prepare(work_dir)?;
    let host_keys = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let run_dir = new_run_dir(work_dir, "predict-")?;
    let mut effective = Vec::new();
    for t in &plan.targets {
        let spec = target_spec(t, "VERBOSE", &sshd, plan.trusted_sshd_lines);
        effective.push(effective_of(t, || {
            let target = SshdTarget::create(run_dir.path(), &spec, &host_keys, &sshd, &[])?;
            let mut e = target.effective(&t.host_keys)?;
            // Read back by this host's sshd; what depends on the release is the target's own.
            if let Some(d) = &spec.dialect {
                e.release = Some(d.release);
            }
            Ok(e)
        })?);
    }
    let cells = plan
        .cells
        .iter()
        .map(|cell| {
            let p = crate::predict::predict_in_plan(plan, cell, effective.as_slice());
            let mut r = blank_result(plan, cell);
            r.verdict = p.verdict;
            r.code = p.code.into();
            r.stage = p.stage;
            r.reason = format!("predicted: {}", p.reason);
            r.signature = p.signature.clone();
            r.predicted_verdict = Some(p.verdict);
            r.predicted_code = Some(p.code.into());
            r
        })
        .collect();
    let mut notes = vec![
        "static prediction from profile and policy data (sshd -T); no connection was made".into(),
    ];
    notes.extend(super::targets::basis_notes(plan));
    let title = format!("{} (predicted)", plan.title);
    Ok(super::result::report(plan, title, notes, cells))
}
