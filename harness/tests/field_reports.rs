//! The field reports, reproduced against the real sshd: every cell asserted.

mod common;

use sshmatrix::expect;
use sshmatrix_reports::Verdict;

#[tokio::test(flavor = "multi_thread")]
async fn nutanix_lockdown_matches_the_published_table_cell_by_cell() {
    let plan = common::plan(&common::matrices().join("nutanix-cluster-lockdown.toml"));
    assert_eq!(plan.cells.len(), 144);
    let expected = expect::load(plan.expect.as_ref().unwrap()).unwrap();
    assert_eq!(expected.len(), 144);
    let report = common::run(plan).await;
    let misses = expect::compare(&report, &expected);
    assert!(misses.is_empty(), "{}", misses.join("\n"));

    let fails: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.verdict != Verdict::Ok)
        .collect();
    assert_eq!(fails.len(), 16);
    for c in &fails {
        // Only Tera Term 4.106 with RSA keys on AHV, refused at user auth for its SHA-1 signature.
        assert_eq!(c.client, "teraterm-4.106");
        assert_eq!(c.key_type, "rsa");
        assert!(c.target.ends_with("-ahv"), "{}", c.target);
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.stage, "auth");
        assert_eq!(c.code, "auth-signature-rejected");
        assert_eq!(c.signature.as_deref(), Some("ssh-rsa"));
        assert_eq!(
            c.server_reason.as_deref(),
            Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
        );
        assert!(c
            .server_evidence
            .iter()
            .any(|l| l.contains("not in PubkeyAcceptedAlgorithms")));
    }
    for c in report.cells.iter().filter(|c| c.verdict == Verdict::Ok) {
        assert!(
            c.server_evidence
                .iter()
                .any(|l| l.starts_with("Accepted publickey")),
            "{c:?}"
        );
        let want = match (c.client.as_str(), c.key_type.as_str()) {
            ("teraterm-4.106", "rsa") => "ssh-rsa",
            (_, "rsa") => "rsa-sha2-512",
            _ => "ecdsa-sha2-nistp256",
        };
        assert_eq!(
            c.signature.as_deref(),
            Some(want),
            "{} {}",
            c.client,
            c.target
        );
    }
    // Static prediction from profile and policy data agrees with every measured cell.
    assert!(report
        .cells
        .iter()
        .all(|c| c.predicted_verdict.is_some() && !c.disagrees_with_prediction()));
    // Tera Term signs ECDSA keys with ecdh-sha2-nistp256 kex (no curve25519 before 5.5).
    assert!(report
        .cells
        .iter()
        .filter(|c| c.client.starts_with("teraterm"))
        .all(|c| c.kex.as_deref() == Some("ecdh-sha2-nistp256")));
    // Key formats as the tools write them.
    let fmt = |client: &str, tool: &str, key: &str, pass: bool| {
        report
            .cells
            .iter()
            .find(|c| {
                c.client == client
                    && c.key_tool == tool
                    && c.key_type == key
                    && c.passphrase == pass
            })
            .unwrap()
            .key_format
            .clone()
    };
    assert_eq!(
        fmt("teraterm-4.106", "teraterm-4.106", "rsa", true),
        "openssh-v1/aes256-cbc"
    );
    assert_eq!(
        fmt("putty-0.83", "puttygen-0.83", "ecdsa", true),
        "ppk-v3/aes256-cbc"
    );
    assert_eq!(fmt("putty-0.83", "puttygen-0.83", "rsa", false), "ppk-v3");
}

#[tokio::test(flavor = "multi_thread")]
async fn al2023_fails_at_user_auth_and_only_three_of_four_fixes_work() {
    let plan = common::plan(&common::matrices().join("al2023-teraterm.toml"));
    let expected = expect::load(plan.expect.as_ref().unwrap()).unwrap();
    let report = common::run(plan).await;
    let misses = expect::compare(&report, &expected);
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    let cell = |client: &str, key: &str, target: &str| {
        report
            .cells
            .iter()
            .find(|c| c.client == client && c.key_type == key && c.target == target)
            .unwrap()
    };
    // The write-up blamed the host key; the evidence says user authentication.
    let c = cell("teraterm-4.106", "rsa", "al2023-default");
    assert_eq!((c.verdict, c.stage.as_str()), (Verdict::Fail, "auth"));
    assert_eq!(c.code, "auth-signature-rejected");
    assert!(report.cells.iter().all(|c| !c.disagrees_with_prediction()));
    assert_eq!(c.hostkey.as_deref(), Some("ecdsa-sha2-nistp256"));
    // Fix 4 (an RSA host key) changes nothing; fixes 1-3 each turn × into ○.
    assert_eq!(
        cell("teraterm-4.106", "rsa", "al2023-rsa-hostkey").verdict,
        Verdict::Fail
    );
    assert_eq!(
        cell("teraterm-4.108", "rsa", "al2023-default")
            .signature
            .as_deref(),
        Some("rsa-sha2-512")
    );
    assert_eq!(
        cell("teraterm-5.1", "rsa", "al2023-default").verdict,
        Verdict::Ok
    );
    assert_eq!(
        cell("teraterm-4.106", "ed25519", "al2023-default").verdict,
        Verdict::Ok
    );
    assert_eq!(
        cell("teraterm-4.106", "rsa", "al2023-legacy").verdict,
        Verdict::Ok
    );
    // The RHEL 9 / AL2023 OpenSSH client prefers rsa-sha2-256.
    assert_eq!(
        cell("openssh-8.7-crypto-policies", "rsa", "al2023-default")
            .signature
            .as_deref(),
        Some("rsa-sha2-256")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn troubleshooting_causes_each_yield_their_own_code() {
    let plan = common::plan(&common::matrices().join("troubleshooting.toml"));
    let report = common::run(plan).await;
    let code = |target: &str| {
        let c = report.cells.iter().find(|c| c.target == target).unwrap();
        (c.verdict, c.code.as_str(), c.stage.as_str())
    };
    assert_eq!(code("baseline"), (Verdict::Ok, "", "login"));
    assert_eq!(
        code("host-key-changed"),
        (Verdict::Fail, "hostkey-changed", "hostkey")
    );
    assert_eq!(
        code("strictmodes"),
        (Verdict::Fail, "strictmodes-permissions", "auth")
    );
    assert_eq!(
        code("refused"),
        (Verdict::Fail, "connection-refused", "connect")
    );
    assert_eq!(
        code("max-auth-tries"),
        (Verdict::Fail, "too-many-auth-failures", "auth")
    );
    assert_eq!(
        code("password-lockdown"),
        (Verdict::Fail, "auth-method-disabled", "auth")
    );
    assert_eq!(
        code("not-the-pair"),
        (Verdict::Fail, "auth-key-not-authorized", "auth")
    );
    assert_eq!(
        code("wrong-passphrase"),
        (Verdict::Fail, "wrong-passphrase", "key-load")
    );
    // Server-side causes carry the server's own words.
    let server = |target: &str| {
        report
            .cells
            .iter()
            .find(|c| c.target == target)
            .unwrap()
            .server_reason
            .clone()
            .unwrap_or_default()
    };
    assert!(server("strictmodes").contains("bad ownership or modes"));
    assert!(server("max-auth-tries").contains("Too many authentication failures"));
    assert!(server("not-the-pair").starts_with("Failed publickey"));
    assert!(
        report.cells.iter().all(|c| !c.disagrees_with_prediction()),
        "prediction disagrees"
    );
}

/// Tera Term's key generator writes the OpenSSH format by default (the "bcrypt KDF format" box is
/// ticked when the dialog opens): Dropbear's client reads such an unencrypted RSA key, but not
/// the PEM file the unticked box gives.
#[tokio::test(flavor = "multi_thread")]
async fn dropbear_reads_an_unencrypted_tera_term_key_in_its_default_format_only() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix_file(dir.path(), "m.toml", "[axes]\nkeys = [\"rsa-2048\", \"ecdsa-256\"]\npassphrase = [\"no\"]\nclients = [\"dropbear-2022.83\"]\nkey_tools = [\"teraterm-4.106\", \"teraterm-4.106-pem\"]\n[[targets]]\nid = \"t\"\npolicy = \"rhel9-legacy\"\nusers = [\"u\"]\n");
    let report = common::run(common::plan(&m)).await;
    for c in &report.cells {
        let (verdict, code) = match c.key_tool.as_str() {
            "teraterm-4.106" => (Verdict::Ok, ""),
            _ => (Verdict::Fail, "key-load-failed"),
        };
        assert_eq!(
            (c.verdict, c.code.as_str()),
            (verdict, code),
            "{}: {}",
            c.key_tool,
            c.reason
        );
        assert!(!c.disagrees_with_prediction(), "{}", c.key_tool);
    }
    assert_eq!(report.cells[0].key_format, "openssh-v1");
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_prediction_loses_tera_term_4_106_rsa_on_the_el9_cvm_and_al2023() {
    let report = common::run_shipped("nutanix-aos-upgrade.toml").await;
    assert_eq!(report.cells.len(), 80);
    let refused: Vec<(&str, &str, u32)> = report
        .cells
        .iter()
        .filter(|c| c.verdict == sshmatrix_reports::Verdict::Fail)
        .map(|c| (c.client.as_str(), c.target.as_str(), c.key_bits))
        .collect();
    assert_eq!(refused.len(), 6, "{refused:?}");
    for (client, target, _) in &refused {
        assert_eq!(*client, "teraterm-4.106");
        assert!(
            ["aos-7.0-ahv", "aos-7.6-cvm", "al2023"].contains(target),
            "{target}"
        );
    }
    // Today's CVM and Amazon Linux 2 still take its ssh-rsa signatures.
    for c in report
        .cells
        .iter()
        .filter(|c| c.target == "aos-7.0-cvm" || c.target == "al2")
    {
        assert_eq!(
            c.verdict,
            sshmatrix_reports::Verdict::Ok,
            "{} {}: {}",
            c.client,
            c.target,
            c.reason
        );
    }
}
