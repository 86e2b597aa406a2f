//! Remote targets against a real sshd daemon on 127.0.0.1 standing in for an appliance: the
//! host key is pinned (a mismatch stops the run before any login), keys are installed from
//! `sshmatrix authorized-keys`, failed logins stay within the account's budget, and a password
//! cell reads its password from the environment.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sshmatrix_reports::{Report, Verdict};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `sshd -D` on 127.0.0.1:port with an Ed25519 host key; returns it and the key's pin.
fn daemon(dir: &Path, port: u16, authorized: &Path) -> (Daemon, String) {
    let hk = dir.join("hostkey");
    if !hk.exists() {
        assert!(Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&hk)
            .status()
            .unwrap()
            .success());
    }
    let fp = String::from_utf8(
        Command::new("ssh-keygen")
            .arg("-lf")
            .arg(hk.with_extension("pub"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let pin = fp.split_whitespace().nth(1).unwrap().to_string();
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\nLogLevel VERBOSE\nStrictModes yes\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            hk.display(),
            authorized.display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new(sshmatrix_servers::find_sshd().unwrap())
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Daemon(child), pin)
}

fn matrix(dir: &Path, port: u16, pin: &str, user: &str) -> PathBuf {
    let m = dir.join("remote.toml");
    std::fs::write(
        &m,
        format!(
            r#"title = "remote appliance"
[axes]
keys = ["ed25519", "rsa-2048", "rsa-3072"]
pairs = [{{ client = "teraterm-4.106", key_tool = "teraterm-4.106" }}]
[[targets]]
id = "appliance"
kind = "remote"
host = "127.0.0.1"
port = {port}
host_key = "{pin}"
auth_budget = 1
users = ["{user}"]
policy = "upstream-9.2"
[[targets]]
id = "appliance-password"
kind = "remote"
host = "127.0.0.1"
port = {port}
host_key = "{pin}"
password_env = "SSHMATRIX_TEST_APPLIANCE_PASSWORD"
users = ["{user}"]
policy = "upstream-9.2"
scenario = {{ method = "password" }}
"#
        ),
    )
    .unwrap();
    m
}

/// The user's grant: the password target's password comes from the test's variable.
const GRANT: [&str; 2] = [
    "--password",
    "appliance-password=env:SSHMATRIX_TEST_APPLIANCE_PASSWORD",
];

fn sshmatrix(work: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .args(args)
        .arg("--work-dir")
        .arg(work)
        .env("SSHMATRIX_TEST_APPLIANCE_PASSWORD", "pw-8c1f0e6b2d")
        .output()
        .unwrap()
}

#[test]
fn remote_target_pins_the_host_key_and_respects_the_failed_login_budget() {
    // A fresh work directory: the failed-login ledger persists across runs by design.
    let work = common::work_dir().join(format!("remote-{}", std::process::id()));
    let dir = common::scratch_dir("remote-appliance");
    let port = free_port();
    let authorized = dir.join("authorized_keys");
    let user = sshmatrix_servers::sshd::current_user();
    let (_d, pin) = daemon(&dir, port, &authorized);
    let m = matrix(&dir, port, &pin, &user);

    // Install what `authorized-keys` says, as an administrator would.
    let out = sshmatrix(
        &work,
        &["authorized-keys", GRANT[0], GRANT[1], m.to_str().unwrap()],
    );
    assert!(out.status.success());
    let block = String::from_utf8(out.stdout).unwrap();
    assert!(block.contains(&format!(
        "# target appliance (127.0.0.1:{port}), user {user}"
    )));
    let keys: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
    std::fs::write(&authorized, keys.join("\n") + "\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o600)).unwrap();

    let json = dir.join("r.json");
    let out = sshmatrix(
        &work,
        &[
            "run",
            "-q",
            "-j",
            "1",
            "--format",
            "json",
            "-o",
            json.to_str().unwrap(),
            GRANT[0],
            GRANT[1],
            m.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cell = |target: &str, key: &str| {
        r.cells
            .iter()
            .find(|c| {
                c.target == target
                    && c.key_type == key.split('-').next().unwrap()
                    && (key == "ed25519"
                        || c.key_bits.to_string() == key.split('-').nth(1).unwrap())
            })
            .unwrap()
    };
    // Ed25519 logs in as the real account; Tera Term 4.106's ssh-rsa is refused (one failure,
    // the whole budget); the next RSA cell is deferred instead of risking a lockout.
    assert_eq!(cell("appliance", "ed25519").verdict, Verdict::Ok);
    assert_eq!(cell("appliance", "ed25519").user, user);
    let first = cell("appliance", "rsa-2048");
    assert_eq!(
        (first.verdict, first.code.as_str()),
        (Verdict::Fail, "auth-key-not-authorized")
    );
    let second = cell("appliance", "rsa-3072");
    assert_eq!(
        (second.verdict, second.code.as_str()),
        (Verdict::Error, "auth-budget-exhausted"),
        "{}",
        second.reason
    );
    // Password login under a lockdown-like config: refused as a method; the password never shows.
    for c in r.cells.iter().filter(|c| c.target == "appliance-password") {
        assert_eq!(c.code, "auth-method-disabled");
    }
    let all = std::fs::read_to_string(&json).unwrap() + &stderr;
    assert!(!all.contains("pw-8c1f0e6b2d"));

    // The same pin from a known_hosts file: the run starts (and the budget still defers RSA).
    let kh = dir.join("known_hosts");
    let pubkey = std::fs::read_to_string(dir.join("hostkey.pub")).unwrap();
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{port} {}\n",
            pubkey
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )
    .unwrap();
    let via_file = dir.join("via-known-hosts.toml");
    std::fs::write(
        &via_file,
        std::fs::read_to_string(&m).unwrap().replace(
            &format!("host_key = \"{pin}\""),
            "known_hosts = \"known_hosts\"",
        ),
    )
    .unwrap();
    let out = sshmatrix(
        &work,
        &[
            "run",
            "-q",
            "-o",
            "/dev/null",
            GRANT[0],
            GRANT[1],
            via_file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A wrong pin stops the run before any login (exit 3).
    let wrong = std::fs::read_to_string(&m)
        .unwrap()
        .replace(&pin, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    std::fs::write(&m, wrong).unwrap();
    let out = sshmatrix(
        &work,
        &[
            "run",
            "-q",
            "-o",
            "/dev/null",
            GRANT[0],
            GRANT[1],
            m.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the pinned"));
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_are_deployed_through_an_existing_admin_key() {
    let work = common::work_dir().join(format!("deploy-{}", std::process::id()));
    let dir = common::scratch_dir("deploy-appliance");
    let port = free_port();
    let authorized = dir.join("authorized_keys");
    // The appliance knows only the admin key.
    let admin = dir.join("admin_key");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(&admin)
        .status()
        .unwrap()
        .success());
    std::fs::copy(admin.with_extension("pub"), &authorized).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o600)).unwrap();
    let user = sshmatrix_servers::sshd::current_user();
    let (_d, pin) = daemon(&dir, port, &authorized);
    let m = dir.join("deploy.toml");
    std::fs::write(
        &m,
        format!(
            r#"title = "deploy"
[axes]
keys = ["ed25519", "ecdsa-256"]
clients = ["teraterm-5.3"]
key_tools = ["ssh-keygen"]
[[targets]]
id = "appliance"
kind = "remote"
host = "127.0.0.1"
port = {port}
host_key = "{pin}"
users = ["{user}"]
policy = "upstream-9.2"
deploy = {{ user = "{user}", key = "admin_key", file = "{}" }}
"#,
            authorized.display()
        ),
    )
    .unwrap();
    let json = dir.join("r.json");
    let out = sshmatrix(
        &work,
        &[
            "run",
            "-q",
            "--format",
            "json",
            "-o",
            json.to_str().unwrap(),
            m.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r.cells.len(), 2);
    assert!(
        r.cells.iter().all(|c| c.verdict == Verdict::Ok),
        "{:?}",
        r.cells.iter().map(|c| &c.reason).collect::<Vec<_>>()
    );
    let installed = std::fs::read_to_string(&authorized).unwrap();
    assert_eq!(
        installed.lines().count(),
        3,
        "admin key plus the two matrix keys, once each:\n{installed}"
    );
    assert_eq!(
        std::fs::metadata(&authorized).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Deploying again adds nothing.
    let out = sshmatrix(
        &work,
        &["run", "-q", "-o", "/dev/null", m.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&authorized).unwrap(), installed);
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
}
