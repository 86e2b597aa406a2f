//! `sshmatrix try`: one cell without a matrix file, run against the real sshd and explained.

mod common;

fn try_cell(args: &[&str]) -> (i32, String, String) {
    common::sshmatrix_work(&[&["try"][..], args].concat())
}

#[test]
fn one_cell_is_run_and_explained_with_its_fixes() {
    let (code, out, err) = try_cell(&[
        "--client",
        "teraterm-4.106",
        "--key",
        "rsa-2048",
        "--policy",
        "rhel9-default",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("verdict: × fail [auth-signature-rejected] at auth"),
        "{out}"
    );
    assert!(
        out.contains("server: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms"),
        "{out}"
    );
    assert!(out.contains("client: upgrade to Tera Term 4.107"), "{out}");
    let (code, out, err) = try_cell(&[
        "--client",
        "teraterm-4.106",
        "--key",
        "ed25519",
        "--policy",
        "rhel9-default",
        "--passphrase",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("verdict: ○ ok"), "{out}");
    assert!(out.contains("Accepted publickey"), "{out}");
}

#[test]
fn a_misspelt_client_or_policy_is_bad_input_with_the_nearest_name() {
    let (code, _, err) = try_cell(&["--client", "PuTTY-0.78", "--policy", "rhel9-default"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--client: unknown client profile `PuTTY-0.78`"),
        "{err}"
    );
    assert!(err.contains("did you mean `putty-0.78`?"), "{err}");
    // Errors name the flag, never a line of the one-cell matrix `try` writes for itself.
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &["--policy", "rhel9-defualt"],
            "error: --policy: unknown policy `rhel9-defualt`",
            "did you mean `rhel9-default`?",
        ),
        (
            &["--policy", "dropbear-2022.83"],
            "error: --policy: target `dropbear-2022.83`: policy `dropbear-2022.83` is a Dropbear server",
            "hint: add --image bookworm",
        ),
        (
            &["--policy", "rhel9-default", "--key", "rsa:2048"],
            "error: --key: unknown key type `rsa:2048`",
            "did you mean `rsa-2048`?",
        ),
    ];
    for (args, message, hint) in cases {
        let (code, _, err) = try_cell(&[&["--client", "putty-0.78"][..], args].concat());
        assert_eq!(code, 2, "{err}");
        assert!(err.starts_with(message), "{err}");
        assert!(err.contains(hint), "{err}");
        assert!(!err.contains("try:"), "{err}");
    }
}
