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

#[test]
fn listing_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    // `profiles` prints more than a pipe holds (74 KB against 64 KiB), so it is still writing
    // when the reader goes, as with `| head -1`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .arg("profiles")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("Client profiles"), "{first}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}
