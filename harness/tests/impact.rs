//! `sshmatrix impact`: an sshd_config checked by the real sshd and run by it against real and
//! emulated clients; against the configuration in use now, exactly the regressed cells.

mod common;

use std::path::{Path, PathBuf};

use sshmatrix_reports::Report;

fn configs() -> PathBuf {
    common::matrices().join("sshd_config")
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn impact(args: &[&str], work: &Path) -> Out {
    let o = common::bin()
        .arg("impact")
        .args(args)
        .arg("--work-dir")
        .arg(work)
        .arg("--quiet")
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

/// An sshd_config with `text` in a fresh temporary directory.
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sshd_config");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The identities (client key) listed on lines starting with `label`.
fn listed(text: &str, label: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(label))
        .map(|l| {
            let words: Vec<&str> = l[label.len()..].split_whitespace().collect();
            format!("{} {}", words[0], words[4])
        })
        .collect();
    v.sort();
    v
}

#[test]
fn hardening_against_stock_lists_exactly_the_regressed_clients() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("impact.json");
    let (new, old) = (
        configs().join("debian-12-hardened"),
        configs().join("debian-12-stock"),
    );
    let clients = "teraterm-4.106,putty-0.75,paramiko-2.8.1,libssh2-1.10.0,real-openssh-9.2,real-putty-0.78,real-dropbear-2022.83";
    let out = impact(
        &[
            "--sshd-config",
            new.to_str().unwrap(),
            "--from",
            old.to_str().unwrap(),
            "--clients",
            clients,
            "--keys",
            "rsa-2048,ed25519",
            "--format",
            "json",
            "-o",
            json.to_str().unwrap(),
        ],
        &common::work_dir(),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    // RequiredRSASize 3072 stops every RSA 2048 key that got in before; etm-only MACs stop
    // the clients that offer no etm MAC (libssh2 1.10.0, Dropbear 2022.83) whatever the key.
    assert_eq!(
        listed(&out.stderr, "REGRESSION"),
        [
            "libssh2-1.10.0 ed25519",
            "putty-0.75 rsa-2048",
            "real-dropbear-2022.83 ed25519",
            "real-dropbear-2022.83 rsa-2048",
            "real-openssh-9.2 rsa-2048",
            "real-putty-0.78 rsa-2048",
        ],
        "{}",
        out.stderr
    );
    // One line per cause says what the list of cells does.
    assert!(
        out.stderr.contains("regressions by cause:\n  3 cells [auth-key-too-small] refusing RSA key: Invalid key length: putty-0.75, real-openssh-9.2, real-putty-0.78\n"),
        "{}",
        out.stderr
    );
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.cells.len(), 2 * 7 * 2);
    // The placeholder account is no column of the table.
    assert_eq!(report.column_axes, ["Target"]);
    assert!(report.cells.iter().all(|c| c.column.len() == 1));
    let code = |client: &str, key: &str, target: &str| {
        let c = report
            .cells
            .iter()
            .find(|c| c.client == client && c.key_type == key && c.target == target)
            .unwrap();
        c.code
    };
    assert_eq!(code("real-openssh-9.2", "rsa", "new"), "auth-key-too-small");
    assert_eq!(code("real-dropbear-2022.83", "rsa", "new"), "mac-no-common");
    assert_eq!(code("libssh2-1.10.0", "ed25519", "new"), "mac-no-common");
    assert_eq!(code("teraterm-4.106", "ed25519", "new"), "");
    common::assert_predicted(&report);
}

#[test]
fn a_config_sshd_rejects_names_the_line_and_exits_2() {
    let (_dir, bad) = config_file(
        "PasswordAuthentication no\nCiphers aes256-gcm@openssh.com\nMACs hmac-sha2-999\n",
    );
    let out = impact(
        &["--sshd-config", bad.to_str().unwrap()],
        &common::work_dir(),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("sshd rejects this configuration")
            && out.stderr.contains("line 3")
            && out.stderr.contains("hmac-sha2-999"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn directives_a_local_run_cannot_honour_are_reported_and_the_rest_applies() {
    let (_dir, cfg) = config_file("Port 2222\nPubkeyAcceptedAlgorithms ssh-ed25519\nMatch Address 10.0.0.0/8\n  PubkeyAcceptedAlgorithms +rsa-sha2-256\n");
    let out = impact(
        &[
            "--sshd-config",
            cfg.to_str().unwrap(),
            "--clients",
            "real-openssh-9.2",
            "--format",
            "csv",
        ],
        &common::work_dir(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for note in ["line 1: `Port` not applied", "line 3: `Match` not applied"] {
        assert!(out.stderr.contains(note), "{note}: {}", out.stderr);
    }
    let rows: Vec<&str> = out.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    let verdict_of = |key: &str| {
        rows.iter()
            .find(|r| r.contains(&format!(",{key},")))
            .map(|r| r.contains(",ok,"))
            .unwrap()
    };
    assert!(verdict_of("ed25519"), "{}", out.stdout);
    assert!(!verdict_of("rsa"), "{}", out.stdout);
    assert!(!verdict_of("ecdsa"), "{}", out.stdout);
}
