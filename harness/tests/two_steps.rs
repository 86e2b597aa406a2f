//! Two-step logins (`AuthenticationMethods publickey,password`): real clients give the key and
//! then the account's password on the server's partial success; the key alone and a password
//! alone fail with their own codes, in sshd's words; the password never reaches a report.

mod common;

use sshmatrix_reports::{Report, Verdict};

/// The shipped two-step matrix: OpenSSH 8.4/9.2/10.0, plink 0.78, paramiko 3.5.1 and Go
/// x/crypto 0.25.0 against a bastion that wants both steps and the same release without it.
#[tokio::test(flavor = "multi_thread")]
async fn the_two_step_matrix_meets_its_expectations_in_containers_from_registries() {
    let report: Report = common::run_shipped("two-step-logins.toml").await;
    assert_eq!(report.cells.len(), 6 * 2 * 3 * 2);
    for c in &report.cells {
        let two = c.holder.as_str() == "file+password" && c.target == "bastion";
        if two {
            // Both steps are the server's: the key a partial success, then the password.
            let partial = c
                .server_evidence
                .iter()
                .any(|l| l.starts_with("Partial publickey"));
            let password = c
                .server_evidence
                .iter()
                .any(|l| l.starts_with("Accepted password"));
            assert!(
                partial && password,
                "{}: {:?}",
                c.selector(),
                c.server_evidence
            );
            assert_eq!(c.verdict, Verdict::Ok);
        }
    }
    // The run's account password (36 hex digits) appears nowhere in the report.
    let json = serde_json::to_string(&report).unwrap();
    let hex_run = json
        .as_bytes()
        .split(|b| !b.is_ascii_hexdigit())
        .any(|w| w.len() == 36);
    assert!(!hex_run, "a 36-hex-digit word in the report");
}

/// `file+password` cells that cannot run are refused at `check`, at the holder, with a fix.
#[test]
fn two_step_cells_that_cannot_run_are_refused_at_check() {
    let dir = common::scratch_dir("two-steps-check");
    let container = "kind = \"container\"\nimage = \"bookworm\"\npolicy = \"as-shipped\"";
    let cases = [
        (
            "real-openssh-9.2",
            "[\"no\"]",
            "policy = \"upstream-9.2\"",
            "need real accounts with a password",
        ),
        (
            "openssh-9.2",
            "[\"no\"]",
            container,
            "run with real clients so far",
        ),
        (
            "real-openssh-9.2",
            "[\"yes\"]",
            container,
            "keys without a passphrase",
        ),
        (
            "real-libssh2-1.11.1",
            "[\"no\"]",
            container,
            "cannot run holder `file+password`",
        ),
    ];
    for (client, passphrase, target, words) in cases {
        let text = format!(
            "[axes]\nkeys = [\"ed25519\"]\nholders = [\"file+password\"]\npassphrase = {passphrase}\nclients = [\"{client}\"]\nkey_tools = [\"ssh-keygen\"]\n[[targets]]\nid = \"t\"\n{target}\nusers = [\"u\"]\n"
        );
        let path = common::matrix_file(&dir, "m.toml", &text);
        let (code, _, err) = common::sshmatrix(&["check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{client}: {err}");
        assert!(err.contains(words), "{client}: {err}");
        assert!(err.contains("hint:"), "{err}");
    }
}
