//! A listening target (`listen = true`): one real sshd serves every cell, one cell at a time in
//! plan order, so what it does between connections carries from cell to cell. OpenSSH 10.0's
//! PerSourcePenalties, hardened to act on one failed login, refuses every later cell from
//! 127.0.0.1 — good keys included — while the same server run per cell never shows it.

mod common;

use sshmatrix_reports::{Report, Verdict};

#[tokio::test(flavor = "multi_thread")]
async fn one_failed_login_gets_every_later_client_refused_in_containers_from_registries() {
    let report: Report = common::run_shipped("source-penalties.toml").await;
    let listening: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.target == "listening")
        .collect();
    assert_eq!(listening.len(), 6);
    // The first cell (plan order) types a wrong password: the server's own refusal, and the
    // penalty it earns.
    let first = listening[0];
    assert_eq!(first.code.as_str(), "auth-password-rejected");
    assert!(
        first
            .server_evidence
            .iter()
            .any(|l| l.starts_with("Failed password for admin from 127.0.0.1")),
        "{:?}",
        first.server_evidence
    );
    // Every later one, whatever it holds, is dropped by the listener before the identification.
    for c in &listening[1..] {
        assert_eq!(
            (c.verdict, c.code.as_str()),
            (Verdict::Fail, "source-penalized"),
            "{}",
            c.reason
        );
        let reason = c.server_reason.as_deref().unwrap_or("");
        assert!(
            reason.starts_with("drop connection #0 from [127.0.0.1]:")
                && reason.ends_with("penalty: failed authentication"),
            "{reason}"
        );
    }
    let key_cells_ok = report
        .cells
        .iter()
        .filter(|c| c.target == "per-cell" && c.holder.as_str() == "file")
        .all(|c| c.verdict == Verdict::Ok);
    assert!(key_cells_ok);
    assert!(report
        .notes
        .iter()
        .any(|n| n.starts_with("target `listening`: one listening sshd")));
}
