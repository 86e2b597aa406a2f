//! Malformed matrix files: each gives exit code 2 and one clear message naming file, line and
//! column (where there is one) and a fix — never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_matrices")
        .join(name)
}

fn check(path: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .arg("check")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[rstest]
#[case("syntax-unclosed-array.toml", "3:", "")]
#[case(
    "unknown-client.toml",
    "3:12: unknown client profile `putty-083`",
    "did you mean `putty-0.83`"
)]
#[case(
    "unknown-key-tool.toml",
    "4:14: unknown key tool `puttygen-083`",
    "did you mean `puttygen-0.83`"
)]
#[case(
    "unknown-policy.toml",
    "8:10: unknown policy `rhel9-defualt`",
    "did you mean `rhel9-default`"
)]
#[case(
    "impossible-ecdsa-size.toml",
    "2:9: impossible key size `ecdsa-2048`",
    "ecdsa-256"
)]
#[case(
    "impossible-dsa-size.toml",
    "2:9: impossible key size `dsa-2048`",
    "dsa-1024"
)]
#[case("impossible-rsa-size.toml", "2:9: impossible key size `rsa-99999`", "")]
#[case("unknown-key-type.toml", "2:9: unknown key type `ecc-256`", "")]
#[case("empty-keys.toml", "2:8: the keys axis is empty", "")]
#[case("unknown-field.toml", "3:1: unknown field `clinets`", "")]
#[case("empty-users.toml", "9:9: target `t` has no users", "")]
#[case("duplicate-target-id.toml", "12:6: target id `t` is used twice", "")]
#[case(
    "unknown-layout-axis.toml",
    "13:22: unknown layout axis `usr`",
    "did you mean `user`"
)]
#[case("layout-missing-axis.toml", "does not place axis `passphrase`", "")]
#[case("too-many-cells.toml", "more than the limit of 0", "max_cells")]
#[case(
    "pairs-and-cross-product.toml",
    "give either `pairs` or `clients` with `key_tools`",
    ""
)]
#[case("duplicate-key.toml", "2:21: key `rsa-2048` is listed twice", "")]
#[case("unknown-host-key.toml", "unknown host key type `dsa`", "")]
#[case(
    "bad-passphrase-value.toml",
    "passphrase value `maybe` is not yes/no",
    ""
)]
#[case("bad-target-id.toml", "must be letters, digits", "")]
#[case("no-targets.toml", "missing field `targets`", "")]
#[case(
    "clients-without-key-tools.toml",
    "needs `pairs`, or both `clients` and `key_tools`",
    ""
)]
#[case("invalid-utf8.toml", "1:1: not valid UTF-8", "UTF-8")]
#[case("missing-expect-file.toml", "expect:", "relative to the matrix file")]
#[case("unknown-hostile-server.toml", "10:23: unknown variant `angry`", "")]
#[case(
    "bad-authorized-keys-mode.toml",
    "authorized_keys_mode `0999` is not an octal file mode",
    "0666"
)]
#[case(
    "unknown-scenario-field.toml",
    "10:14: unknown field `knwon_host_key`",
    ""
)]
#[case(
    "bad-server-log-level.toml",
    "11:20: unknown server_log_level `LOUD`",
    "VERBOSE"
)]
#[case(
    "bad-expect-rule.toml",
    "1:10: expect rule 1: unknown field `clinet`",
    ""
)]
#[case("duplicate-user.toml", "9:15: user `u` is listed twice", "")]
#[case(
    "overflowing-rsa-size.toml",
    "2:9: impossible key size `rsa-99999999999999`",
    ""
)]
#[case("keys-not-an-array.toml", "2:8: invalid type: string", "")]
#[case(
    "duplicate-client.toml",
    "3:26: client `putty-0.83` is listed twice",
    ""
)]
#[case("no-axes.toml", "missing field `axes`", "")]
#[case(
    "unknown-holder.toml",
    "3:20: unknown holder `agnet`",
    "did you mean `agent`"
)]
#[case(
    "unknown-jump-host.toml",
    "14:7: unknown jump host (via) `bastoin`",
    "did you mean `bastion`"
)]
#[case(
    "chained-jump-hosts.toml",
    "20:7: the jump host is itself reached through a jump host",
    "no `via` of its own"
)]
#[case(
    "layout-missing-holder.toml",
    "layout does not place axis `holder`",
    "add \"holder\""
)]
fn malformed_matrix_exits_2_with_place_and_fix(
    #[case] file: &str,
    #[case] message: &str,
    #[case] hint: &str,
) {
    let path = corpus(file);
    let (code, stderr) = check(&path);
    assert_eq!(code, 2, "{file}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {}:", path.display())),
        "{file}: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "{file}: want `{message}` in: {stderr}"
    );
    assert!(stderr.contains("hint:"), "{file}: no fix offered: {stderr}");
    assert!(stderr.contains(hint), "{file}: want `{hint}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "{file}: one message only: {stderr}"
    );
}

#[test]
fn a_directory_or_missing_file_is_bad_input() {
    let (code, stderr) = check(&corpus(""));
    assert_eq!(code, 2);
    assert!(stderr.contains("is a directory"), "{stderr}");
    let (code, stderr) = check(&corpus("does-not-exist.toml"));
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn the_shipped_matrices_are_valid() {
    for m in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices")).unwrap() {
        let p = m.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let (code, stderr) = check(&p);
            assert_eq!(code, 0, "{}: {stderr}", p.display());
        }
    }
}

#[test]
fn missing_sshd_is_an_environment_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .args(["run", "-q"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices/al2023-teraterm.toml"))
        .env("SSHMATRIX_SSHD", "/nonexistent/sshd")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("install openssh-server"), "{stderr}");
}
