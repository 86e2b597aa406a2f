//! Regression checks end to end: a LEGACY run as the baseline, a DEFAULT run against it.

mod common;

use std::path::Path;

fn matrix(dir: &Path, policy: &str) -> std::path::PathBuf {
    common::matrix_file(
        dir,
        &format!("{policy}.toml"),
        &format!(
            r#"title = "RHEL 9 {policy}"
[axes]
keys = ["rsa-2048", "ecdsa-256"]
pairs = [
  {{ client = "teraterm-4.106", key_tool = "ssh-keygen" }},
  {{ client = "teraterm-5.3", key_tool = "ssh-keygen" }},
  {{ client = "putty-0.70", key_tool = "puttygen-0.74" }},
]
[[targets]]
id = "rhel9"
policy = "{policy}"
users = ["admin"]
"#
        ),
    )
}

#[test]
fn legacy_to_default_lists_exactly_the_regressed_cells_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (legacy, default) = (matrix(d, "rhel9-legacy"), matrix(d, "rhel9-default"));
    let (lj, dj) = (d.join("legacy.json"), d.join("default.json"));
    for (m, j) in [(&legacy, &lj), (&default, &dj)] {
        let (code, _, err) = common::sshmatrix_work(&[
            "run",
            "-q",
            "--format",
            "json",
            "-o",
            j.to_str().unwrap(),
            m.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let out = common::bin()
        .args(["diff"])
        .arg(&lj)
        .arg(&dj)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut regressions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("REGRESSION"))
        .collect();
    regressions.sort();
    assert_eq!(regressions.len(), 2, "{text}");
    assert!(regressions[0].contains("putty-0.70 / puttygen-0.74 / rsa-2048 passphrase=no -> admin@rhel9: ○ => × [auth-signature-rejected]"), "{text}");
    assert!(regressions[1].contains("teraterm-4.106 / ssh-keygen / rsa-2048 passphrase=no -> admin@rhel9: ○ => × [auth-signature-rejected]"), "{text}");
    assert!(
        text.contains("2 changed cells: 2 regressions, 0 fixed"),
        "{text}"
    );

    // The same through run --baseline, then --accept makes the new state the baseline.
    let base = d.join("baseline.json");
    std::fs::copy(&lj, &base).unwrap();
    let (code, _, err) = common::sshmatrix_work(&[
        "run",
        "-q",
        "--format",
        "csv",
        "-o",
        "/dev/null",
        "--baseline",
        base.to_str().unwrap(),
        default.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("2 regressions"), "{err}");
    let (code, _, err) = common::sshmatrix_work(&[
        "run",
        "-q",
        "-o",
        "/dev/null",
        "--baseline",
        base.to_str().unwrap(),
        "--accept",
        default.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = common::sshmatrix_work(&[
        "run",
        "-q",
        "-o",
        "/dev/null",
        "--baseline",
        base.to_str().unwrap(),
        default.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 changed cells"), "{err}");
}

/// One rule held to six cells, two of which differ: the count names differences, cells and
/// rules apart ("2 of 1 expectations not met" said neither).
#[test]
fn unmet_expectations_count_differences_cells_and_rules_apart() {
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(dir.path(), "rhel9-default");
    let text = std::fs::read_to_string(&m).unwrap().replacen(
        "[axes]",
        "expect = [ { verdict = \"ok\" } ]\n[axes]",
        1,
    );
    std::fs::write(&m, text).unwrap();
    let (code, _, err) = common::sshmatrix_work(&["run", "-q", m.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("expectations not met: 2 differences (6 cells held to 1 rule):"),
        "{err}"
    );
}

/// Under LEGACY the ssh-rsa cells log in, but with SHA-1: ◐ on the table, and with
/// `--fail-on weak` the run exits 1 naming them.
#[test]
fn sha1_logins_are_weak_and_fail_a_run_that_asks() {
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(dir.path(), "rhel9-legacy");
    let m = m.to_str().unwrap();
    let (code, out, err) = common::sshmatrix_work(&["run", "-q", "--color", "never", m]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("○ ok 6 (◐ weak 2)"), "{out}");
    assert!(
        out.contains("logs in, weak: RSA user key signed with SHA-1 (ssh-rsa)"),
        "{out}"
    );
    let (code, _, err) = common::sshmatrix_work(&["run", "-q", "--fail-on", "weak", m]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--fail-on weak: 2 cells log in weakly:"),
        "{err}"
    );
    assert!(
        err.contains("teraterm-4.106 / ssh-keygen / rsa-2048"),
        "{err}"
    );
}
