//! Conventions of the command line: `--version` names the commit, help lists the exit codes,
//! completions and the man page come from the CLI definition.

use std::process::Command;

fn out(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

#[test]
fn version_help_completions_and_man_page() {
    let (code, v) = out(&["--version"]);
    assert_eq!(code, 0);
    assert!(v.starts_with("sshmatrix 0.1.0 (commit "), "{v}");
    let (_, help) = out(&["--help"]);
    assert!(help.contains("Exit codes: 0 done"), "{help}");
    assert!(
        help.contains("sshmatrix explain matrices/nutanix-cluster-lockdown.toml 12"),
        "{help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let (code, script) = out(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains("verify-profiles"), "{shell}: {script}");
    }
    let (code, man) = out(&["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH sshmatrix"), "{man}");
    assert!(man.contains("authorized\\-keys"), "{man}");
}
