//! User certificates: real clients present certificates signed by the run's CA to real sshd
//! targets that trust it; each refusal carries sshd's own words and its cert-* code, each
//! prediction agrees, and a refused certificate never logs in with its bare key.

mod common;

use sshmatrix_reports::{CellResult, Code, Report, Verdict};

/// The cell of `client`, `key`, certificate word `cert` (`none`: the bare key) and `target`.
fn cell<'a>(r: &'a Report, client: &str, key: &str, cert: &str, target: &str) -> &'a CellResult {
    let word = if cert == "none" { "" } else { cert };
    r.cells
        .iter()
        .find(|c| {
            c.client == client && c.key_spec() == key && c.certificate == word && c.target == target
        })
        .unwrap_or_else(|| panic!("no cell {client} {key} {cert} {target}"))
}

const LOCAL: &str = r#"
title = "certificates on this host"
[axes]
keys = ["ed25519", "rsa-3072"]
certificates = ["none", "rsa-sha1", "rsa-sha512", "ecdsa", "ed25519-expired", "ed25519-not-yet-valid", "ed25519-other-principal"]
pairs = [
  { client = "real-openssh-9.2", key_tool = "ssh-keygen" },
  { client = "real-putty-0.78", key_tool = "puttygen-0.78" },
  { client = "openssh-9.2", key_tool = "ssh-keygen" },
  { client = "putty-0.78", key_tool = "puttygen-0.78" },
]
"#;

/// RHEL 9 DEFAULT and LEGACY on this host's sshd, as the local certificate matrices' targets.
const RHEL9_TARGETS: &str = r#"
[[targets]]
id = "default"
policy = "rhel9-default"
users = ["u"]
[[targets]]
id = "legacy"
policy = "rhel9-legacy"
users = ["u"]
"#;

/// The host's real ssh 9.2 and plink 0.78, and their emulations, against RHEL 9 DEFAULT and
/// LEGACY on the host's sshd: every verdict and code exact, the server's words as the reason,
/// each emulated cell as its real client's.
#[tokio::test(flavor = "multi_thread")]
async fn real_clients_present_certificates_and_sshd_says_why_it_refuses() {
    let dir = common::scratch_dir("certificates-local");
    let path = common::matrix_file(&dir, "m.toml", &format!("{LOCAL}{RHEL9_TARGETS}"));
    let report = common::run(common::plan(&path)).await;
    assert_eq!(report.cells.len(), 4 * 2 * 7 * 2);
    common::assert_predicted(&report);
    for (emulated, real) in [
        ("openssh-9.2", "real-openssh-9.2"),
        ("putty-0.78", "real-putty-0.78"),
    ] {
        for e in report.cells.iter().filter(|c| c.client == emulated) {
            let word = if e.certificate.is_empty() {
                "none"
            } else {
                &e.certificate
            };
            let r = cell(&report, real, &e.key_spec(), word, &e.target);
            assert_eq!((e.verdict, e.code), (r.verdict, r.code), "{}", e.selector());
        }
    }
    for c in &report.cells {
        let expected = match (c.certificate.as_str(), c.target.as_str()) {
            ("", _) => None,
            ("rsa-sha1", "default") => Some(Code::CertCaSignatureRefused),
            ("ed25519-expired", _) => Some(Code::CertExpired),
            ("ed25519-not-yet-valid", _) => Some(Code::CertNotYetValid),
            ("ed25519-other-principal", _) => Some(Code::CertPrincipalNotAllowed),
            _ => None,
        };
        let name = c.selector();
        match expected {
            None => assert_eq!(c.verdict, Verdict::Ok, "{name}: {}", c.reason),
            Some(code) => {
                assert_eq!(c.verdict, Verdict::Fail, "{name}");
                assert_eq!(c.code, code, "{name}: {}", c.reason);
            }
        }
    }
    for client in ["real-openssh-9.2", "real-putty-0.78"] {
        let sha1 = cell(&report, client, "rsa-3072", "rsa-sha1", "default");
        assert_eq!(
            sha1.server_reason.as_deref(),
            Some("certificate signature algorithm ssh-rsa: signature algorithm not supported"),
            "{client}"
        );
        let principal = cell(
            &report,
            client,
            "ed25519",
            "ed25519-other-principal",
            "legacy",
        );
        assert_eq!(
            principal.server_reason.as_deref(),
            Some("Certificate invalid: name is not a listed principal")
        );
        // The login is the certificate's, never the bare key's.
        let ok = cell(&report, client, "ed25519", "ecdsa", "default");
        assert!(
            ok.server_evidence
                .iter()
                .any(|l| l.starts_with("Accepted publickey") && l.contains("ED25519-CERT")),
            "{client}: {:?}",
            ok.server_evidence
        );
        let bare = cell(&report, client, "ed25519", "none", "default");
        assert!(bare.server_evidence.iter().all(|l| !l.contains("-CERT")));
    }
    // A refused certificate does not fall back to the bare key, which ssh offers next: the
    // certified pair is registered nowhere, so sshd refuses that too.
    let expired = cell(
        &report,
        "real-openssh-9.2",
        "ed25519",
        "ed25519-expired",
        "legacy",
    );
    assert!(
        expired
            .server_evidence
            .iter()
            .any(|l| l.starts_with("Failed publickey") && l.contains(": ED25519 SHA256:")),
        "{:?}",
        expired.server_evidence
    );
    assert_ne!(
        cell(&report, "real-openssh-9.2", "ed25519", "none", "default").key_fingerprint,
        expired.key_fingerprint,
        "a certificate cell has a key pair of its own"
    );
}

/// `explain --try-fixes` on a certificate refused for its CA's SHA-1 signature: re-issuing it
/// with rsa-sha2-512 works (the CA's fix, first), and so does the sshd line (with its cost).
#[test]
fn the_ca_side_fix_of_a_sha1_certificate_is_verified() {
    let dir = common::scratch_dir("certificates-explain");
    let path = common::matrix_file(&dir, "m.toml", &format!("{LOCAL}{RHEL9_TARGETS}"));
    let (code, out, err) = common::sshmatrix_work(&[
        "explain",
        path.to_str().unwrap(),
        "client=real-openssh-9.2,key=ed25519,certificate=rsa-sha1,target=default",
        "--try-fixes",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[cert-ca-signature-refused]"), "{out}");
    let fixes: Vec<&str> = out.lines().filter(|l| l.contains(". ○ works")).collect();
    assert!(
        fixes[0].contains("CA: re-issue the certificate: sign it with SHA-2"),
        "{out}"
    );
    assert!(
        fixes[1].contains("server: sshd_config: CASignatureAlgorithms +ssh-rsa"),
        "{out}"
    );
}

/// Combinations sshmatrix cannot run are refused before anything runs, at the place in the
/// file, with a fix: clients whose profiles do not say they present certificates (emulated or
/// real), an agent holder other than real ssh, a Dropbear target.
#[test]
fn certificate_cells_that_cannot_run_are_refused_at_check() {
    let dir = common::scratch_dir("certificates-check");
    let cases = [
        (
            "teraterm-5.3",
            "ssh-keygen",
            "",
            "",
            "no sourced fact that it presents",
        ),
        (
            "real-putty-0.74",
            "puttygen-0.78",
            "",
            "",
            "no sourced fact that it presents",
        ),
        (
            "real-paramiko-3.5.1",
            "ssh-keygen",
            "holders = [\"agent\"]",
            "",
            "hold their key in a file",
        ),
        (
            "real-openssh-9.2",
            "ssh-keygen",
            "",
            "kind = \"container\"\nimage = \"bookworm\"\npolicy = \"dropbear-2022.83\"",
            "local and container OpenSSH targets",
        ),
    ];
    for (client, tool, axes, target, words) in cases {
        let target = match target {
            "" => "policy = \"upstream-9.2\"",
            t => t,
        };
        let text = format!(
            "[axes]\nkeys = [\"ed25519\"]\ncertificates = [\"ed25519\"]\n{axes}\npairs = [{{ client = \"{client}\", key_tool = \"{tool}\" }}]\n[[targets]]\nid = \"t\"\n{target}\nusers = [\"u\"]\n"
        );
        let path = common::matrix_file(&dir, "m.toml", &text);
        let (code, _, err) = common::sshmatrix(&["check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{client}: {err}");
        assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
        assert!(err.contains(words), "{client}: {err}");
        assert!(err.contains("hint:"), "{err}");
    }
    let text = "[axes]\nkeys = [\"ed25519\"]\ncertificates = [\"ed25519-old\"]\nclients = [\"real-openssh-9.2\"]\n[[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\n";
    let path = common::matrix_file(&dir, "m.toml", text);
    let (code, _, err) = common::sshmatrix(&["check", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown certificate `ed25519-old`"), "{err}");
}

/// The shipped certificate matrix: OpenSSH 8.4/9.2/10.0, PuTTY 0.78/0.83, paramiko
/// 2.8.1/3.5.1/5.1.0, AsyncSSH 2.1.0/2.24.1 and Go x/crypto 0.0.20201221/0.25.0 against RHEL 9
/// DEFAULT, LEGACY and Debian 13's OpenSSH 10.0, every expectation met and every prediction
/// agreeing.
#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_matrix_meets_its_expectations_in_containers_from_registries() {
    let report = common::run_shipped("certificates.toml").await;
    assert_eq!(report.cells.len(), 12 * 2 * 9 * 3);
    // A certificate limited to another source address, refused in sshd's words.
    let elsewhere: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.code.as_str() == "cert-source-not-allowed")
        .collect();
    assert!(elsewhere.len() >= 12 * 3, "{}", elsewhere.len());
    for c in elsewhere {
        assert_eq!(c.certificate, "ed25519-other-source");
        let said = c.server_reason.as_deref().unwrap_or_default();
        assert!(
            said.contains("not from a permitted source address"),
            "{said}"
        );
    }
    // paramiko 3.5.1's pattern for OpenSSH <= 7.7 takes OpenSSH_10.0: its RSA certificate is
    // offered as ssh-rsa-cert-v01, which 10.0 refuses; 5.1.0 signs it with rsa-sha2-512.
    let old = cell(
        &report,
        "real-paramiko-3.5.1",
        "rsa-3072",
        "ed25519",
        "debian13",
    );
    assert_eq!(
        old.server_reason.as_deref(),
        Some("signature algorithm ssh-rsa-cert-v01@openssh.com not in PubkeyAcceptedAlgorithms")
    );
    let new = cell(
        &report,
        "real-paramiko-5.1.0",
        "rsa-3072",
        "ed25519",
        "debian13",
    );
    assert_eq!(new.verdict, Verdict::Ok, "{}", new.reason);
    let same = cell(
        &report,
        "real-paramiko-3.5.1",
        "rsa-3072",
        "ed25519",
        "rhel9-default",
    );
    assert_eq!(same.verdict, Verdict::Ok, "{}", same.reason);
}

/// `try --certificate`: one client, one certificate, one policy, without a matrix file; a
/// misspelt certificate is named by its flag.
#[test]
fn try_presents_a_certificate() {
    let try_cert = |word: &str| {
        common::sshmatrix_work(&[
            "try",
            "--client",
            "real-openssh-9.2",
            "--policy",
            "rhel9-legacy",
            "--certificate",
            word,
        ])
    };
    let (code, out, err) = try_cert("ed25519-expired");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("verdict: × fail [cert-expired] at auth"),
        "{out}"
    );
    assert!(out.contains("certificate=ed25519-expired"), "{out}");
    let (code, _, err) = try_cert("rsa-sha3");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--certificate: unknown certificate `rsa-sha3`"),
        "{err}"
    );
}

/// Host certificates (`scenario.host_certificate`): the shipped matrix's targets present their
/// host keys as certificates of the run's host CA to the real OpenSSH 8.4 / 9.2 / 10.0,
/// paramiko 3.5.1, AsyncSSH 2.24.1 and two Go x/crypto releases, which trust only that CA;
/// every expectation met, every prediction agreeing, each OpenSSH refusal in its own words.
#[tokio::test(flavor = "multi_thread")]
async fn host_certificates_are_verified_by_real_clients() {
    let report: Report = common::run_shipped("host-certificates.toml").await;
    assert_eq!(report.cells.len(), 7 * 7);
    common::assert_predicted(&report);
    let words = [
        ("expired", "Certificate invalid: expired"),
        ("not-yet-valid", "Certificate invalid: not yet valid"),
        (
            "other-principal",
            "Certificate invalid: name is not a listed principal",
        ),
    ];
    for c in report.cells.iter().filter(|c| c.client.contains("openssh")) {
        if let Some((_, said)) = words.iter().find(|(t, _)| c.target == *t) {
            assert!(c.reason.contains(said), "{}: {}", c.selector(), c.reason);
            assert_eq!(c.stage.as_str(), "hostkey", "{}", c.selector());
        }
        if c.target == "rsa-sha1" {
            // 8.4 and 9.2+ word the refused SHA-1 CA signature differently.
            let said = match c.client.as_str() {
                "real-openssh-8.4" => "certificate signature algorithm ssh-rsa",
                _ => "Certificate signed with disallowed algorithm",
            };
            assert!(c.reason.contains(said), "{}: {}", c.selector(), c.reason);
        }
    }
}

/// Host certificates run only where sshmatrix can make and check them: an emulated client or
/// a Dropbear target is refused at `check`, with a hint.
#[test]
fn host_certificates_that_cannot_run_are_refused_at_check() {
    let dir = common::scratch_dir("host-certificates-check");
    let cases = [
        (
            "openssh-9.2",
            "upstream-9.2",
            "ed25519",
            "by real ssh, paramiko, AsyncSSH and Go x/crypto clients so far",
        ),
        (
            "real-openssh-9.2",
            "upstream-9.2",
            "ed25519-old",
            "unknown certificate `ed25519-old`",
        ),
        (
            "real-openssh-9.2",
            "dropbear-2022.83\"\nkind = \"container\"\nimage = \"bookworm",
            "ed25519",
            "host certificates are made for OpenSSH targets",
        ),
    ];
    for (client, policy, cert, words) in cases {
        let text = format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"{client}\"]\nkey_tools = [\"ssh-keygen\"]\n[[targets]]\nid = \"t\"\npolicy = \"{policy}\"\nscenario = {{ host_certificate = \"{cert}\" }}\nusers = [\"u\"]\n"
        );
        let path = common::matrix_file(&dir, "m.toml", &text);
        let (code, _, err) = common::sshmatrix(&["check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{client}: {err}");
        assert!(err.contains(words), "{client}: {err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

/// A refused host certificate's fix is the CA's: `explain --try-fixes` re-issues it (SHA-2, a
/// validity covering now, the host's name) and reruns the cell with the real ssh; each works.
#[test]
fn the_ca_side_fix_of_a_refused_host_certificate_is_verified() {
    let matrix = common::matrices().join("host-certificates.toml");
    let cases = [
        (
            "rsa-sha1",
            "cert-ca-signature-refused",
            "sign it with SHA-2",
        ),
        ("expired", "cert-expired", "with a validity that covers now"),
        (
            "other-principal",
            "cert-principal-not-allowed",
            "naming the host",
        ),
    ];
    for (target, code, how) in cases {
        let cell = format!("client=real-openssh-9.2,target={target}");
        let (exit, out, err) =
            common::sshmatrix_work(&["explain", matrix.to_str().unwrap(), &cell, "--try-fixes"]);
        assert_eq!(exit, 0, "{err}");
        assert!(
            out.contains(&format!("× fail [{code}] at hostkey")),
            "{out}"
        );
        let fix = out
            .lines()
            .find(|l| l.contains("re-issue the host certificate"))
            .unwrap_or_else(|| panic!("no host certificate fix: {out}"));
        assert!(fix.contains("○ works") && fix.contains(how), "{fix}");
    }
}

/// A key held by a real ssh-agent with its certificate in a file (`IdentityAgent` with
/// `CertificateFile`): real ssh 9.2 and 10.0 present the certificate, signed by the agent; every
/// agent cell ends as its key-file twin does, the accepted ones as `…-CERT` in sshd's words.
#[test]
fn agent_held_keys_present_their_certificate_files() {
    let dir = common::scratch_dir("agent-certificates");
    let text = r#"
title = "agent-held keys with certificate files"
expect = [
  { verdict = "ok" },
  { certificate = "rsa-sha1", target = "default", verdict = "fail", code = "cert-ca-signature-refused" },
  { certificate = "ed25519-expired", verdict = "fail", code = "cert-expired" },
]
[axes]
keys = ["ed25519", "rsa-3072"]
holders = ["file", "agent"]
certificates = ["rsa-sha1", "ed25519", "ed25519-expired"]
clients = ["real-openssh-9.2", "real-openssh-10.0"]
key_tools = ["ssh-keygen"]
"#;
    let text = format!("{text}{RHEL9_TARGETS}");
    let path = common::matrix_file(&dir, "agent-certs.toml", &text);
    let (code, out, err) =
        common::sshmatrix_work(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(report.cells.len(), 2 * 2 * 2 * 3 * 2);
    common::assert_predicted(&report);
    for a in report.cells.iter().filter(|c| c.holder.as_str() == "agent") {
        let twin = report
            .cells
            .iter()
            .find(|f| {
                f.holder.as_str() == "file"
                    && (&f.client, &f.key_type, &f.certificate, &f.target)
                        == (&a.client, &a.key_type, &a.certificate, &a.target)
            })
            .unwrap();
        assert_eq!(
            (a.verdict, a.code),
            (twin.verdict, twin.code),
            "{}",
            a.selector()
        );
        if a.verdict == Verdict::Ok {
            let cert = a
                .server_evidence
                .iter()
                .any(|l| l.contains("-CERT SHA256:"));
            assert!(cert, "{}: {:?}", a.selector(), a.server_evidence);
        }
    }
}
