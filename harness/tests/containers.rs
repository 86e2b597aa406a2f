//! Container targets against real releases: Debian 11 / 12 / 13 / testing images (OpenSSH 8.4,
//! 9.2, 10.0, 10.6) built offline by sshmatrix, real accounts, the server log of each cell read back, and
//! every container removed after a run, after Ctrl-C, and (by the next run) after a SIGKILL.
//! Needs a docker daemon; `.ci/run` starts one and builds the images.

mod common;

use std::path::Path;
use std::process::{Child, Command};

use sshmatrix_reports::Verdict;

use common::bin;

fn spawn_run(matrix: &Path, stream: &Path, work: &Path) -> Child {
    let (stream, matrix) = (stream.to_str().unwrap(), matrix.to_str().unwrap());
    common::spawn(&["run", "-q", "-j", "2", "--stream", stream, matrix], work)
}

fn wait_for_lines(path: &Path, n: usize) {
    assert!(
        common::wait_for_lines(path, n) >= n,
        "no {n} cells streamed in time"
    );
}

fn small_matrix(dir: &Path) -> std::path::PathBuf {
    common::matrix_file(dir, "one.toml", "[axes]\nkeys = [\"ed25519\"]\nclients = [\"openssh-8.8\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"t\"\nkind = \"container\"\nimage = \"bookworm\"\npolicy = \"as-shipped\"\nusers = [\"admin\"]\n\
         [layout]\nrows = [\"client\", \"key_tool\", \"key\", \"passphrase\"]\ncolumns = [\"target\", \"user\"]\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn three_openssh_releases_meet_expectations_with_their_own_log_lines_in_containers() {
    let report = common::run_shipped("openssh-versions.toml").await;
    assert_eq!(report.cells.len(), 3 * 9 * 6 * 2 * 2);
    // Each release refuses plink's DSA key in its own words.
    let dsa_refusal = |target: &str| {
        report
            .cells
            .iter()
            .find(|c| c.target == target && c.client == "real-putty-0.78" && c.key_type == "dsa")
            .and_then(|c| c.server_reason.clone())
            .unwrap_or_default()
    };
    assert!(dsa_refusal("openssh-8.4").contains("key type ssh-dss not in PubkeyAcceptedKeyTypes"));
    assert!(dsa_refusal("openssh-9.2")
        .contains("signature algorithm ssh-dss not in PubkeyAcceptedAlgorithms"));
    assert!(dsa_refusal("openssh-10.0").contains("unsupported public key algorithm: ssh-dss"));
    // PuTTY 0.74 (run inside the Debian 11 image) signs RSA with SHA-1: the release of its own
    // image lets it in, the later ones refuse the signature in their words.
    let putty074 = |target: &str| {
        report
            .cells
            .iter()
            .find(|c| c.target == target && c.client == "real-putty-0.74" && c.key_type == "rsa")
            .unwrap()
    };
    assert_eq!(putty074("openssh-8.4").verdict, Verdict::Ok);
    assert_eq!(
        putty074("openssh-10.0").server_reason.as_deref(),
        Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
    );
    // The users are real accounts: sshd names the account it let in.
    for c in report.cells.iter().filter(|c| c.verdict == Verdict::Ok) {
        let needle = format!("Accepted publickey for {} ", c.user);
        assert!(
            c.server_evidence.iter().any(|l| l.starts_with(&needle)),
            "cell {}: {:?}",
            c.index,
            c.server_evidence
        );
    }
}

#[test]
fn containers_are_removed_after_a_run_and_after_ctrl_c_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let work = common::work_dir();
    // A complete run.
    let stream = dir.path().join("done.jsonl");
    let mut child = spawn_run(&small_matrix(dir.path()), &stream, &work);
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        common::containers_owned_by(pid),
        0,
        "containers left after a run"
    );

    // Ctrl-C in the middle of the three-release matrix.
    let stream = dir.path().join("interrupted.jsonl");
    let mut child = spawn_run(
        &common::matrices().join("openssh-versions.toml"),
        &stream,
        &work,
    );
    let pid = child.id();
    wait_for_lines(&stream, 10);
    assert_eq!(
        common::containers_owned_by(pid),
        5,
        "one container per target and per client image"
    );
    assert!(Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        common::containers_owned_by(pid),
        0,
        "containers left after Ctrl-C"
    );
}

#[test]
fn containers_of_a_killed_run_are_swept_by_the_next_run_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let work = common::work_dir();
    let stream = dir.path().join("killed.jsonl");
    let mut child = spawn_run(
        &common::matrices().join("openssh-versions.toml"),
        &stream,
        &work,
    );
    let pid = child.id();
    wait_for_lines(&stream, 5);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert_eq!(
        common::containers_owned_by(pid),
        5,
        "SIGKILL leaves the containers"
    );
    let next = bin()
        .args(["run", "-q"])
        .arg(small_matrix(dir.path()))
        .arg("--work-dir")
        .arg(&work)
        .output()
        .unwrap();
    assert!(next.status.success());
    assert_eq!(
        common::containers_owned_by(pid),
        0,
        "the next run sweeps them"
    );
}

#[test]
fn unknown_image_and_missing_docker_get_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let m = small_matrix(dir.path());
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("bookworm", "bookwrm");
    let typo = common::matrix_file(dir.path(), "typo.toml", &text);
    let out = bin().arg("check").arg(&typo).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("typo.toml:8:"), "{err}");
    assert!(err.contains("unknown image `bookwrm`"), "{err}");
    assert!(err.contains("did you mean `bookworm`?"), "{err}");

    // No docker CLI: an environment error (exit 3) saying what to install.
    let out = bin()
        .args(["run", "-q"])
        .arg(&m)
        .arg("--work-dir")
        .arg(common::work_dir())
        .env("SSHMATRIX_DOCKER", "/nonexistent/docker")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docker is not usable"), "{err}");
    assert!(err.contains("install docker.io"), "{err}");
}

/// OpenSSH before 9.6 lists rsa-sha2-512 in server-sig-algs even when only rsa-sha2-256 is
/// accepted (clients that pick 512 are refused); 10.0 lists only what it accepts.
#[tokio::test(flavor = "multi_thread")]
async fn server_sig_algs_are_filtered_from_openssh_9_6_on_in_containers() {
    let report = common::run_shipped("server-sig-algs.toml").await;
    for c in &report.cells {
        match c.target.as_str() {
            "openssh-9.2" => {
                if let Some(sig) = &c.signature {
                    assert_eq!(sig, "rsa-sha2-512", "{}", c.client);
                }
                assert_eq!(
                    c.server_reason.as_deref(),
                    Some("signature algorithm rsa-sha2-512 not in PubkeyAcceptedAlgorithms"),
                    "{}",
                    c.client
                );
            }
            _ => assert_eq!(c.verdict, sshmatrix_reports::Verdict::Ok, "{}", c.client),
        }
    }
}

/// One policy (RHEL 9 DEFAULT) rendered for four real sshd releases: 8.4 gets the old keyword
/// names and no RequiredRSASize (so the 1024-bit key gets in there, and only there); Debian
/// testing's 10.6 has no GSS-API patch (GSSAPIKexAlgorithms dropped); each change is a note.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_is_rendered_for_each_sshd_release_and_says_what_it_changed_in_containers() {
    let report = common::run_shipped("policy-across-releases.toml").await;
    let notes = report.notes.join("\n");
    for said in [
        "target `openssh-8.4`: `PubkeyAcceptedAlgorithms` written as `PubkeyAcceptedKeyTypes`",
        "target `openssh-8.4`: dropped `RequiredRSASize 2048`: OpenSSH 8.4 does not know it",
        "target `openssh-10.6`: dropped `GSSAPIKexAlgorithms",
    ] {
        assert!(notes.contains(said), "missing `{said}` in:\n{notes}");
    }
    assert_eq!(notes.matches("dropped `").count(), 2, "{notes}");
    for c in report.cells.iter().filter(|c| c.key_bits == 1024) {
        match c.target.as_str() {
            "openssh-8.4" => assert!(
                c.server_evidence
                    .iter()
                    .any(|l| l.contains("Accepted publickey")),
                "{c:?}"
            ),
            _ => assert_eq!(
                c.server_reason.as_deref(),
                Some("refusing RSA key: Invalid key length"),
                "{c:?}"
            ),
        }
    }
}

/// Each Debian image's recipe (servers/images/recipes.toml) names the OpenSSH release its sshd
/// reports, the keywords its binary holds beyond that release (what configurations are rendered
/// for), and the upstream releases of its Dropbear and TinySSH packages.
#[test]
fn image_recipes_name_the_releases_and_keywords_of_their_servers_in_containers() {
    let facts = sshmatrix_servers::dialect::directive_facts();
    let debian = sshmatrix_servers::container::recipes().iter().filter(|r| {
        matches!(
            r.recipe,
            sshmatrix_servers::container::Recipe::Debootstrap { .. }
        )
    });
    for recipe in debian {
        let run = |cmd: &str| {
            let out = Command::new("docker")
                .args([
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    &recipe.tag(),
                    "sh",
                    "-c",
                    cmd,
                ])
                .output()
                .expect("docker CLI");
            assert!(out.status.success(), "{}: {cmd}", recipe.tag());
            out
        };
        let banner =
            String::from_utf8_lossy(&run("/usr/sbin/sshd -V 2>&1 || true").stdout).to_string();
        let release = sshmatrix_servers::sshd::parse_release(&banner);
        assert_eq!(release, Some(recipe.openssh), "{}: {banner}", recipe.name);
        let binary = sshmatrix_servers::dialect::Dialect {
            release: recipe.openssh,
            extras: facts.keywords_in(&run("cat /usr/sbin/sshd").stdout),
        };
        let data = recipe.dialect();
        let keywords = facts.introduced.iter().map(|i| &i.keyword);
        for k in keywords.chain(facts.patched.iter().map(|p| &p.keyword)) {
            assert_eq!(
                data.knows(k, facts),
                binary.knows(k, facts),
                "{}: {k}",
                recipe.name
            );
        }
        // The packages' upstream versions: `2022.83-1+deb12u3` → `2022.83`.
        let upstream = |package: &str| {
            let out = run(&format!("dpkg-query -W -f '${{Version}}' {package}"));
            let version = String::from_utf8_lossy(&out.stdout).to_string();
            version.split('-').next().unwrap_or_default().to_string()
        };
        assert_eq!(
            recipe.dropbear.as_deref(),
            Some(upstream("dropbear-bin").as_str()),
            "{}",
            recipe.name
        );
        assert_eq!(
            recipe.tinyssh.as_deref(),
            Some(upstream("tinysshd").as_str()),
            "{}",
            recipe.name
        );
        let twisted = run("python3 -c 'import twisted; print(twisted.__version__)'");
        assert_eq!(
            recipe.twisted.as_deref(),
            Some(String::from_utf8_lossy(&twisted.stdout).trim()),
            "{}",
            recipe.name
        );
        // ProFTPD as it names itself (Debian writes 1.3.8c as `1.3.8.c+dfsg`).
        let said = String::from_utf8_lossy(&run("/usr/sbin/proftpd -v 2>&1").stdout).to_string();
        assert_eq!(
            recipe.proftpd.as_deref(),
            said.trim().strip_prefix("ProFTPD Version "),
            "{}: {said}",
            recipe.name
        );
    }
}
