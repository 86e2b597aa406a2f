//! A matrix, a profile or a peer never acts as code; secrets go only where the user sends them;
//! a local user cannot poison or steal cells. Each test reproduces one finding of the security
//! review (issue 30) against the real binary, real sshd and, where the attacker is another
//! local user, a real unprivileged account.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::sshmatrix;

/// A matrix with one emulated client, one key and one local target whose `sshd` lines are
/// `sshd` (TOML strings as written), plus `extra` TOML for the target.
fn matrix(dir: &Path, name: &str, sshd: &[&str], extra: &str) -> PathBuf {
    let lines: Vec<String> = sshd.iter().map(|l| format!("'''{l}'''")).collect();
    let m = dir.join(name);
    std::fs::write(
        &m,
        format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
             [[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\nsshd = [{}]\n{extra}",
            lines.join(", ")
        ),
    )
    .unwrap();
    m
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sshd_lines_cannot_smuggle_a_command_past_the_check() {
    let dir = common::scratch_dir("sshd-lines");
    let marker = dir.join("ran");
    let command = format!("/usr/bin/touch {}", marker.display());
    let forms = [
        format!("ForceCommand={command}"),
        format!("\"ForceCommand\" {command}"),
        format!("  forcecommand {command}"),
        format!("Ciphers aes128-ctr\nForceCommand {command}"),
        format!("AuthorizedKeysCommand={command}"),
        format!("AuthorizedKeysCommand = {command}"),
    ];
    for (i, form) in forms.iter().enumerate() {
        let m = matrix(&dir, &format!("m{i}.toml"), &[form], "");
        let (code, _, err) = sshmatrix(&["check", path(&m)]);
        assert_eq!(code, 2, "{form:?} passed check: {err}");
        assert!(err.contains(&format!("{}:9:", m.display())), "{err}");
        // Running it is refused the same way before any sshd starts.
        let (code, _, err) = common::sshmatrix_work(&["run", "-q", path(&m)]);
        assert_eq!(code, 2, "{form:?} ran: {err}");
    }
    assert!(!marker.exists(), "a matrix's sshd line ran a command");

    // The matrix may ask; only the user grants, and then sees the lines before use.
    let m = matrix(
        &dir,
        "asks.toml",
        &["Banner /etc/issue.net"],
        "[run]\ntrust_sshd_lines = true\n",
    );
    let (code, _, err) = sshmatrix(&["check", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only you can grant it"), "{err}");
    let (code, _, err) = sshmatrix(&["check", "--trust-sshd-lines", path(&m)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("trusting target `t`'s sshd line: Banner /etc/issue.net"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_impact_candidate_cannot_run_a_quoted_force_command() {
    let dir = common::scratch_dir("impact-quoted");
    let marker = dir.join("ran");
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "\"ForceCommand\" /usr/bin/touch {}\nForceCommand=/usr/bin/touch {}\nCiphers aes128-ctr,aes256-gcm@openssh.com\n",
            marker.display(),
            marker.display()
        ),
    )
    .unwrap();
    let (code, _, err) = common::sshmatrix_work(&[
        "impact",
        "-q",
        "--sshd-config",
        path(&cfg),
        "--clients",
        "real-openssh-9.2",
        "--keys",
        "ed25519",
    ]);
    assert_eq!(code, 0, "{err}");
    for line in [1, 2] {
        assert!(
            err.contains(&format!(
                "line {line}: `ForceCommand` not applied: reads files or runs commands"
            )),
            "{err}"
        );
    }
    assert!(!marker.exists(), "impact ran the candidate's ForceCommand");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn impact_never_shows_the_lines_of_a_file_that_is_not_an_sshd_config() {
    let dir = common::scratch_dir("impact-shadow");
    let f = dir.join("shadow");
    let secret = "root:$y$j9T$Zq0uW3secretsalt$hashhashhashhash:19700:0:99999:7:::";
    std::fs::write(&f, format!("{secret}\ndaemon:*:19700:0:99999:7:::\n")).unwrap();
    let (code, out, err) =
        common::sshmatrix_work(&["impact", "--sshd-config", path(&f), "--keys", "ed25519"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 1, 2: not an sshd_config directive"),
        "{err}"
    );
    assert!(
        !err.contains("secretsalt") && !out.contains("secretsalt"),
        "{err}"
    );
    // A device is no sshd_config either, and is not read until memory runs out.
    let (code, _, err) = common::sshmatrix_work(&["impact", "--sshd-config", "/dev/zero"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A remote target's TOML with `extra` lines.
fn remote_matrix(dir: &Path, name: &str, port: u16, extra: &str) -> PathBuf {
    let m = dir.join(name);
    std::fs::write(
        &m,
        format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
             [[targets]]\nid = \"lab\"\nkind = \"remote\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\npolicy = \"upstream-9.2\"\n\
             users = [\"root\"]\nscenario = {{ method = \"password\" }}\n{extra}"
        ),
    )
    .unwrap();
    m
}

/// A listener on 127.0.0.1 standing in for a hostile server: counts the connections it got.
struct Listener {
    port: u16,
    socket: std::net::TcpListener,
}

impl Listener {
    fn new() -> Self {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Listener {
            port: socket.local_addr().unwrap().port(),
            socket,
        }
    }

    /// What every connection made so far sent (nothing blocks: the run has ended).
    fn received(&self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        while let Ok((mut s, _)) = self.socket.accept() {
            s.set_nonblocking(true).unwrap();
            let mut b = Vec::new();
            let _ = s.read_to_end(&mut b);
            all.push(b);
        }
        all
    }
}

#[test]
fn a_matrix_cannot_send_a_file_or_variable_to_a_host_it_names() {
    let dir = common::scratch_dir("credentials");
    let secret = dir.join("secret");
    std::fs::write(&secret, "s3cr3t-0f-the-user\n").unwrap();
    let host = Listener::new();
    let asks = [
        format!("password_file = \"{}\"\n", secret.display()),
        "password_env = \"SSHMATRIX_DEPLOY_PASSPHRASE\"\n".to_string(),
    ];
    for (i, ask) in asks.iter().enumerate() {
        let m = remote_matrix(&dir, &format!("m{i}.toml"), host.port, ask);
        let (code, _, err) = common::sshmatrix_work(&["run", "-q", path(&m)]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("asks for a password") && err.contains("pass --password lab="),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    assert!(
        host.received().is_empty(),
        "sshmatrix connected to the host"
    );

    // A deploy key outside the matrix's folder is the user's to grant too.
    let m = remote_matrix(
        &dir,
        "deploy.toml",
        host.port,
        "deploy = { user = \"root\", key = \"/root/.ssh/id_ed25519\" }\n",
    );
    let (code, _, err) = sshmatrix(&["check", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("pass --deploy-key lab=/root/.ssh/id_ed25519"),
        "{err}"
    );
    // A grant for a target the matrix does not have is a mistake, said at once.
    let m = remote_matrix(&dir, "plain.toml", host.port, "");
    let (code, _, err) = sshmatrix(&["check", "--password", "nope=env:X", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("names target `nope`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_values_never_reach_a_shell() {
    let dir = common::scratch_dir("deploy-file");
    std::fs::write(dir.join("admin"), "not a key").unwrap();
    let bad = [
        "deploy = { user = \"root\", key = \"admin\", file = \"%h/.ssh/ak$(id>/tmp/x)\" }\n",
        "deploy = { user = \"root\", key = \"admin\", file = \"relative/ak\" }\n",
        "deploy = { user = \"root\", key = \"admin\", file = \"%h/../../etc/ak\" }\n",
        "deploy = { user = \"root;id\", key = \"admin\" }\n",
    ];
    for (i, d) in bad.iter().enumerate() {
        let m = remote_matrix(&dir, &format!("m{i}.toml"), 22, d);
        let (code, _, err) = sshmatrix(&["check", path(&m)]);
        assert_eq!(code, 2, "{d}: {err}");
        assert!(err.contains("deploy"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_command_refuses_a_work_directory_others_can_reach() {
    let dir = common::scratch_dir("work-dirs");
    let m = matrix(&dir, "m.toml", &[], "");
    let open = "/tmp/sshmatrix-shared-work";
    let commands: Vec<Vec<&str>> = vec![
        vec!["authorized-keys", path(&m)],
        vec!["predict", path(&m)],
        vec!["run", "-q", path(&m)],
        vec!["clients", "list"],
        vec!["serve", "--policy", "upstream-9.2"],
        vec!["record", "--out", "/dev/null"],
        vec![
            "scan",
            "127.0.0.1:1",
            "--verify",
            "root",
            "--print-keys",
            "--keys",
            "ed25519",
        ],
    ];
    for c in &commands {
        let mut args = c.clone();
        args.extend(["--work-dir", open]);
        let (code, _, err) = sshmatrix(&args);
        assert_eq!(code, 3, "{c:?}: {err}");
        assert!(err.contains("group/world-writable"), "{c:?}: {err}");
    }
    // `/` and a directory holding other files are never taken over (nor chmod'ed).
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), "mine").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
    let root_mode = std::fs::metadata("/").unwrap().permissions().mode();
    for (work, why) in [("/", "is the root directory"), (path(&shared), "notes.txt")] {
        let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", work]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(
        std::fs::metadata("/").unwrap().permissions().mode(),
        root_mode
    );
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
        0o750
    );
    // A new work directory is created private and marked.
    let fresh = dir.join("fresh");
    let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&fresh)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(fresh.join(".sshmatrix-work-dir").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_cache_entry_planted_by_another_user_is_refused() {
    let Some(attacker) = common::attacker() else {
        return;
    };
    let dir = common::scratch_dir("planted");
    let m = matrix(&dir, "m.toml", &[], "");
    let work = dir.join("work");
    let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&work)]);
    assert_eq!(code, 0, "{err}");
    // The attacker's own key in place of the cached one (as if it had planted the entry in a
    // shared work directory).
    let entry = work.join("keys").join("ed25519_ssh-keygen_nopp");
    let theirs = dir.join("theirs");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-C", "attacker", "-f"])
        .arg(&theirs)
        .status()
        .unwrap()
        .success());
    std::fs::copy(theirs.with_extension("pub"), entry.join("id.pub")).unwrap();
    let chown = |p: &Path| {
        std::os::unix::fs::chown(p, Some(attacker.0), Some(attacker.1)).unwrap();
    };
    chown(&entry);
    chown(&entry.join("id.pub"));
    let (code, out, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&work)]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("key cache entry refused"), "{err}");
    assert!(
        !out.contains("attacker"),
        "printed the attacker's key: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_percent_in_the_work_directory_path_is_no_refusal() {
    // Jenkins multibranch workspaces hold `%2F`; sshd expands `%` in AuthorizedKeysFile.
    let dir = common::scratch_dir("percent");
    let m = matrix(&dir, "m.toml", &[], "");
    let work = dir.join("job%2Fmain work");
    let json = dir.join("r.json");
    let (code, _, err) = sshmatrix(&[
        "run",
        "-q",
        "--format",
        "json",
        "-o",
        path(&json),
        path(&m),
        "--work-dir",
        path(&work),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: sshmatrix_reports::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r.cells.len(), 1);
    assert_eq!(
        r.cells[0].verdict,
        sshmatrix_reports::Verdict::Ok,
        "{}",
        r.cells[0].reason
    );
    let _ = std::fs::remove_dir_all(&dir);
}
