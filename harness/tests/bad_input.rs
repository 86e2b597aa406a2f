//! Malformed matrix files: each gives exit code 2 and one clear message naming file, line and
//! column (where there is one) and a fix — never a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_matrices")
        .join(name)
}

fn check(path: &Path) -> (i32, String) {
    sshmatrix(&["check", path.to_str().unwrap()])
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
#[case(
    "key-without-dash.toml",
    "2:9: unknown key type `rsa4096`",
    "did you mean `rsa-4096`"
)]
#[case(
    "client-in-capitals.toml",
    "3:12: unknown client profile `PuTTY-0.83`",
    "did you mean `putty-0.83`"
)]
#[case(
    "client-as-policy.toml",
    "8:10: unknown policy `openssh-8.8`",
    "`openssh-8.8` is a client profile; the server policy of that release's defaults is `upstream-8.8`"
)]
#[case(
    "policy-as-client.toml",
    "3:12: unknown client profile `rhel9-default`",
    "`rhel9-default` is a server policy (a target's `policy`), not a client profile"
)]
#[case("unknown-key-type.toml", "2:9: unknown key type `ecc-256`", "")]
#[case("empty-keys.toml", "2:8: the keys axis is empty", "")]
#[case(
    "unknown-field.toml",
    "3:1: unknown field `clinets` (fields here: keys, passphrase, clients,",
    "did you mean `clients`?"
)]
#[case(
    "users-not-a-list.toml",
    "9:9: `users` must be a list: users = [\"ec2-user\"]",
    "users = [\"ec2-user\"]"
)]
#[case(
    "key-with-colon.toml",
    "2:9: unknown key type `rsa:2048`",
    "did you mean `rsa-2048`?"
)]
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
#[case("bad-expect-rule.toml", "1:13: unknown field `clinet`", "")]
#[case("duplicate-user.toml", "9:15: user `u` is listed twice", "")]
#[case(
    "overflowing-rsa-size.toml",
    "2:9: impossible key size `rsa-99999999999999`",
    ""
)]
#[case(
    "keys-not-an-array.toml",
    "2:8: `keys` must be a list: keys = [\"rsa-2048\"]",
    ""
)]
#[case(
    "duplicate-client.toml",
    "3:26: client `putty-0.83` is listed twice",
    ""
)]
#[case("no-axes.toml", "missing field `axes`", "")]
#[case(
    "unknown-certificate.toml",
    "3:25: unknown certificate `rsa-sha3`",
    "did you mean `rsa-sha1`?"
)]
#[case(
    "certificate-unsourced.toml",
    "3:16: `teraterm-5.3` has no sourced fact that it presents user certificates",
    "use a client whose profile says it does"
)]
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
#[case("timeout-zero.toml", "11:16: timeout_secs = 0", "at least 1")]
#[case(
    "jobs-too-many.toml",
    "11:8: jobs = 400000 is out of range",
    "1 to 1024"
)]
#[case(
    "container-user-upper.toml",
    "9:10: container target `t`: user `Admin` cannot be an account there",
    "users ="
)]
#[case(
    "container-user-long.toml",
    "user `abcdefghijklmnopqrstuvwxyz0123456789` cannot be an account there (at most 32",
    ""
)]
#[case(
    "dbclient-agent.toml",
    "3:12: the dbclient driver (`real-dropbear-2022.83`) cannot run holder `agent`",
    "emulated profile"
)]
#[case(
    "real-client-hostile.toml",
    "3:12: real client `real-openssh-9.2` runs against plain targets only",
    "emulated profile"
)]
#[case(
    "agent-forwarded-no-via.toml",
    "5:12: the matrix expands to no cells",
    "via = \"JUMP-HOST\""
)]
#[case(
    "sshd-include.toml",
    "10:46: target `t`: sshd line `Include` reads files or runs commands",
    "--trust-sshd-lines"
)]
#[case(
    "unknown-expect-code.toml",
    "1:38: expect rule 1: unknown code `auth-signature-rejectd`",
    "did you mean `auth-signature-rejected`"
)]
#[case(
    "dropbear-without-container.toml",
    "8:10: target `ups-card`: policy `dropbear-2022.83` is a Dropbear server, which runs in a container here",
    "image = \"bookworm\" (Dropbear 2022.83)"
)]
#[case(
    "dropbear-wrong-image.toml",
    "11:9: target `ups-card`: image `bullseye` has Dropbear 2020.81, not Dropbear 2022.83",
    "use image = \"bookworm\""
)]
#[case(
    "dropbear-sshd-lines.toml",
    "12:9: target `ups-card`: `sshd` lines are OpenSSH sshd_config directives; this target runs Dropbear",
    "configured by its policy's `options`"
)]
#[case(
    "tinyssh-rsa-host-key.toml",
    "12:13: target `rescue`: TinySSH 20250501 serves ed25519 host keys only",
    "host_keys = [\"ed25519\"]"
)]
#[case(
    "asyncssh-in-container.toml",
    "11:9: target `service`: policy `asyncssh-2.24.1` is the AsyncSSH server, which runs on this host, not in a container",
    "drop `kind` and `image`"
)]
#[case(
    "listen-not-openssh.toml",
    "10:10: target `ups`: listen = true runs OpenSSH's own listening sshd; policy `emulated-dropbear-2017.75` is dropbear 2017.75 (emulated)",
    "drop `listen` for this target"
)]
#[case("expect-directory.toml", "not a regular file", "CSV file")]
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
fn check_lists_every_wrong_name_of_a_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices/nutanix-cluster-lockdown.toml"),
    )
    .unwrap();
    let bad = good
        .replace("\"rsa-3072\"", "\"rsa3072\"")
        .replacen(
            "client = \"teraterm-4.106\"",
            "client = \"teraterm-4.16\"",
            1,
        )
        .replace("\"puttygen-0.83\"", "\"putygen-0.83\"")
        .replacen(
            "policy = \"nutanix-ahv-lockdown\"",
            "policy = \"nutanix-ahv-lockdwn\"",
            1,
        );
    let path = common::matrix_file(dir.path(), "typos.toml", &bad);
    let (code, stderr) = check(&path);
    assert_eq!(code, 2, "{stderr}");
    for (place, hint) in [
        (
            "9:21: unknown key type `rsa3072`",
            "did you mean `rsa-3072`?",
        ),
        (
            "13:14: unknown client profile `teraterm-4.16`",
            "did you mean `teraterm-4.106`?",
        ),
        (
            "16:43: unknown key tool `putygen-0.83`",
            "did you mean `puttygen-0.83`?",
        ),
        (
            "28:10: unknown policy `nutanix-ahv-lockdwn`",
            "did you mean `nutanix-ahv-lockdown`?",
        ),
    ] {
        assert!(
            stderr.contains(&format!("error: {}:{place}", path.display())),
            "{place}: {stderr}"
        );
        assert!(stderr.contains(hint), "{hint}: {stderr}");
    }
    assert_eq!(stderr.matches("error:").count(), 4, "{stderr}");
    assert!(stderr.contains("4 errors"), "{stderr}");
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
    let out = common::bin()
        .args(["run", "-q"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices/al2023-teraterm.toml"))
        .env("SSHMATRIX_SSHD", "/nonexistent/sshd")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("install openssh-server"), "{stderr}");
}

/// The shipped troubleshooting matrix (8 quick local cells).
fn troubleshooting() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices/troubleshooting.toml")
}

fn sshmatrix(args: &[&str]) -> (i32, String) {
    sshmatrix_env(args, &[])
}

/// Runs sshmatrix with `args` and extra environment; gives the exit code and stderr.
fn sshmatrix_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = common::bin()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A matrix in a scratch directory whose `expect` names `expect`.
fn matrix_expecting(dir: &Path, expect: &str) -> PathBuf {
    common::matrix_file(dir, "m.toml", &format!(
            "expect = \"{expect}\"\n[axes]\nkeys = [\"ed25519\"]\nclients = [\"putty-0.83\"]\nkey_tools = [\"ssh-keygen\"]\n[[targets]]\nid = \"t\"\npolicy = \"rhel9-default\"\nusers = [\"u\"]\n"
        ))
}

#[test]
fn an_expect_file_must_be_a_regular_file_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.csv");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (expect, message) in [
        (fifo.to_str().unwrap(), "not a regular file"),
        ("/dev/zero", "not a regular file"),
    ] {
        let m = matrix_expecting(dir.path(), expect);
        let (code, err) = sshmatrix(&["check", m.to_str().unwrap()]);
        assert_eq!(code, 2, "{expect}: {err}");
        assert!(err.contains(message), "{expect}: {err}");
    }
    let big = dir.path().join("big.csv");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(sshmatrix::expect::MAX_EXPECT_BYTES + 1).unwrap();
    let m = matrix_expecting(dir.path(), big.to_str().unwrap());
    let (code, err) = sshmatrix(&["check", m.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("more than the 16777216 an expectations file may have"),
        "{err}"
    );
}

#[test]
fn run_flags_out_of_range_are_bad_input() {
    let m = troubleshooting();
    let m = m.to_str().unwrap();
    for (flags, message) in [
        (
            &["--timeout", "0"][..],
            "--timeout 0 would give every cell a timeout",
        ),
        (
            &["--jobs", "400000"][..],
            "--jobs 400000 is out of range: give 1 to 1024",
        ),
        (&["--jobs", "0"][..], "--jobs 0 is out of range"),
    ] {
        let mut args = vec!["run", m, "-q"];
        args.extend(flags);
        let (code, err) = sshmatrix(&args);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(message), "{flags:?}: {err}");
    }
}

#[test]
fn sshmatrix_sshd_that_is_not_sshd_is_named() {
    let m = troubleshooting();
    let (code, err) = sshmatrix_env(
        &["run", "-q", m.to_str().unwrap()],
        &[("SSHMATRIX_SSHD", "/bin/true")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("SSHMATRIX_SSHD=/bin/true is not OpenSSH's sshd"),
        "{err}"
    );
}

#[test]
fn a_work_dir_symlink_into_a_world_writable_directory_is_refused_up_front() {
    let home = sshmatrix::runner::default_work_dir().with_file_name("sshmatrix-tests");
    std::fs::create_dir_all(&home).unwrap();
    let link = home.join(format!("link-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    let target = tempfile::tempdir_in("/tmp").unwrap();
    std::os::unix::fs::symlink(target.path(), &link).unwrap();
    let m = troubleshooting();
    let (code, err) = sshmatrix(&[
        "run",
        "-q",
        m.to_str().unwrap(),
        "--work-dir",
        link.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&link);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("lies below /tmp, which is group/world-writable"),
        "{err}"
    );
}

#[test]
fn without_home_the_work_dir_comes_from_passwd_never_the_current_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let m = troubleshooting();
    for home in [None, Some("")] {
        let mut c = common::bin();
        c.args(["run", "-q"]).arg(&m).current_dir(cwd.path());
        c.env_remove("SSHMATRIX_HOME").env_remove("XDG_CACHE_HOME");
        match home {
            None => c.env_remove("HOME"),
            Some(h) => c.env("HOME", h),
        };
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{home:?}: {err}");
        assert!(
            !cwd.path().join(".cache").exists(),
            "{home:?}: used the current directory"
        );
    }
}

#[test]
fn sshd_errors_never_echo_the_contents_of_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "root:$6$SECRET-HASH-LINE:19000:0:99999:7:::\n").unwrap();
    let m = common::matrix_file(dir.path(), "m.toml", &format!(
            "[run]\ntrust_sshd_lines = true\n[axes]\nkeys = [\"ed25519\"]\nclients = [\"putty-0.83\"]\nkey_tools = [\"ssh-keygen\"]\n[[targets]]\nid = \"t\"\npolicy = \"rhel9-default\"\nusers = [\"u\"]\nsshd = [\"Include {}\"]\n",
            secret.display()
        ));
    let (code, err) = sshmatrix(&["predict", "--trust-sshd-lines", m.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("sshd rejects the configuration of target `t`"),
        "{err}"
    );
    assert!(!err.contains("SECRET-HASH-LINE"), "{err}");
}

/// `sshmatrix check -` fed `text` on standard input.
fn check_stdin(text: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = common::bin()
        .args(["check", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn a_matrix_can_come_from_standard_input() {
    let out = check_stdin(&std::fs::read_to_string(corpus("unknown-client.toml")).unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: -:3:12: unknown client profile `putty-083`"),
        "{err}"
    );
    let out = check_stdin(&std::fs::read_to_string(troubleshooting()).unwrap());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("-: 8 cells, 8 targets"));
}
