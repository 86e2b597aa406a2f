//! Two-step logins (`AuthenticationMethods publickey,password` and
//! `publickey,keyboard-interactive` through PAM in the container): real clients give the key and
//! then the account's password on the server's partial success; the key alone, a password alone
//! and the wrong second method fail with their own codes, in sshd's words; every prediction
//! agrees; the password never reaches a report.

mod common;

use sshmatrix_reports::{Report, Verdict};

/// The shipped two-step matrix: OpenSSH 8.4/9.2/10.0, plink 0.78, paramiko 3.5.1 and Go
/// x/crypto 0.25.0 against two bastions that want both steps (the password method, PAM's
/// keyboard-interactive prompt) and the same release without a chain.
#[tokio::test(flavor = "multi_thread")]
async fn the_two_step_matrix_meets_its_expectations_in_containers_from_registries() {
    let report: Report = common::run_shipped("two-step-logins.toml").await;
    assert_eq!(report.cells.len(), 6 * 2 * 5 * 3);
    common::assert_predicted(&report);
    let said = |c: &sshmatrix_reports::CellResult, start: &str| {
        c.server_evidence.iter().any(|l| l.starts_with(start))
    };
    let steps = [
        ("file+password", "bastion", "Accepted password"),
        (
            "file+keyboard-interactive",
            "bastion-kbd",
            "Accepted keyboard-interactive/pam",
        ),
    ];
    for (holder, target, accepted) in steps {
        let cells: Vec<_> = report
            .cells
            .iter()
            .filter(|c| c.holder.as_str() == holder && c.target == target)
            .collect();
        assert_eq!(cells.len(), 12, "{holder} on {target}");
        for c in cells {
            // Both steps are the server's: the key a partial success, then the password.
            assert!(
                said(c, "Partial publickey") && said(c, accepted),
                "{}: {:?}",
                c.selector(),
                c.server_evidence
            );
            assert_eq!(c.verdict, Verdict::Ok);
        }
    }
    // A wrong password plink typed at PAM's prompt: refused by PAM, in sshd's words.
    let typed: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.code.as_str() == "auth-kbdint-refused")
        .collect();
    assert_eq!(typed.len(), 2);
    for c in typed {
        assert_eq!(
            (c.client.as_str(), c.holder.as_str()),
            ("real-putty-0.78", "password")
        );
        let refused = c.server_reason.as_deref().unwrap_or_default();
        assert!(
            refused.starts_with("Failed keyboard-interactive/pam for u"),
            "{refused}"
        );
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
        // PAM runs only inside containers: never this machine's PAM stack.
        (
            "real-openssh-9.2",
            "[\"no\"]",
            "policy = \"upstream-9.2\"\nsshd = [\"UsePAM yes\"]",
            "`UsePAM yes` would run this machine's PAM stack",
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
