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
    daemon_with(dir, port, authorized, "PasswordAuthentication no\n")
}

/// [`daemon`] with `extra` sshd_config lines (first, so they win), its log in `dir/sshd.log`.
fn daemon_with(dir: &Path, port: u16, authorized: &Path, extra: &str) -> (Daemon, String) {
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
            "{extra}ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\nLogLevel VERBOSE\nStrictModes yes\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
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
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
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
    common::matrix_file(
        dir,
        "remote.toml",
        &format!(
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
}

/// The user's grant: the password target's password comes from the test's variable.
const GRANT: [&str; 2] = [
    "--password",
    "appliance-password=env:SSHMATRIX_TEST_APPLIANCE_PASSWORD",
];

fn sshmatrix(work: &Path, args: &[&str]) -> std::process::Output {
    common::bin()
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
    let via_file = common::matrix_file(
        &dir,
        "via-known-hosts.toml",
        &std::fs::read_to_string(&m).unwrap().replace(
            &format!("host_key = \"{pin}\""),
            "known_hosts = \"known_hosts\"",
        ),
    );
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
    let m = common::matrix_file(
        &dir,
        "deploy.toml",
        &format!(
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
    );
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

/// A local account with a known password, for password cells against the test daemon (made as
/// root; `None` otherwise).
fn password_account() -> Option<(String, String)> {
    if sshmatrix_core::fsx::euid() != 0 {
        eprintln!("password-account tests need root: not run");
        return None;
    }
    let name = "sshmatrix-pw";
    // The tests of this file run at once: one of them makes the account (two concurrent
    // `useradd`s left a home owned by the uid of the one that lost, and sshd then refuses the
    // account's keys: "bad ownership or modes for directory").
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let made = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", name])
            .status()
            .unwrap();
        assert!(made.success() || Command::new("id").arg(name).status().unwrap().success());
    }
    // A home left by an earlier account of that name (another uid) is made the account's.
    let home = format!("/home/{name}");
    std::fs::create_dir_all(&home).unwrap();
    let owned = Command::new("chown")
        .args([&format!("{name}:"), home.as_str()])
        .status()
        .unwrap();
    assert!(owned.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let password = "pw-remote-7d2c1a";
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let stdin = chpasswd.stdin.as_mut().unwrap();
    writeln!(stdin, "{name}:{password}").unwrap();
    assert!(chpasswd.wait().unwrap().success());
    Some((name.into(), password.into()))
}

/// A remote target block for the test daemon on `port` pinned to `pin`, as `user`.
fn remote_block(id: &str, port: u16, pin: &str, user: &str, extra: &str) -> String {
    format!(
        "[[targets]]\nid = \"{id}\"\nkind = \"remote\"\nhost = \"127.0.0.1\"\nport = {port}\nhost_key = \"{pin}\"\nusers = [\"{user}\"]\npolicy = \"upstream-9.2\"\n{extra}"
    )
}

/// Runs sshmatrix with `args` and the environment variable the password grant names; the
/// JSON report it wrote to `json`.
fn run_json(work: &Path, json: &Path, args: &[&str], password: &str) -> (i32, Report, String) {
    let out = common::bin()
        .args(args)
        .args(["--format", "json", "-o"])
        .arg(json)
        .arg("--work-dir")
        .arg(work)
        .env("SSHMATRIX_TEST_REMOTE_PASSWORD", password)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let text = std::fs::read_to_string(json).unwrap_or_else(|e| panic!("{e}: {err}"));
    let r: Report = serde_json::from_str(&text).unwrap();
    (out.status.code().unwrap_or(-1), r, err)
}

#[test]
fn every_holder_does_what_it_says_on_a_remote_target() {
    let Some((user, password)) = password_account() else {
        return;
    };
    let work = common::work_dir().join(format!("remote-holders-{}", std::process::id()));
    let dir = common::scratch_dir("remote-holders");
    let port = free_port();
    // In the account's own home, as StrictModes wants it for a user other than root.
    let ssh_dir = PathBuf::from(format!("/home/{user}/.ssh"));
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let authorized = ssh_dir.join("authorized_keys");
    let (_d, pin) = daemon_with(&dir, port, &authorized, "PasswordAuthentication yes\n");
    let m = common::matrix_file(
        &dir,
        "holders.toml",
        &format!(
            "[axes]\nkeys = [\"ed25519\"]\nholders = [\"file\", \"agent\", \"password\"]\n\
             clients = [\"teraterm-5.3\", \"putty-0.74\"]\nkey_tools = [\"ssh-keygen\"]\n{}",
            remote_block("lab", port, &pin, &user, "")
        ),
    );
    let grant = ["--password", "lab=env:SSHMATRIX_TEST_REMOTE_PASSWORD"];
    let keys = sshmatrix(
        &work,
        &["authorized-keys", grant[0], grant[1], m.to_str().unwrap()],
    );
    let block = String::from_utf8(keys.stdout).unwrap();
    let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
    std::fs::write(&authorized, lines.join("\n") + "\n").unwrap();
    let owner = Command::new("chown")
        .args(["-R", &format!("{user}:"), ssh_dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(owner.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ssh_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o600)).unwrap();
    let json = dir.join("r.json");
    let args = ["run", "-q", grant[0], grant[1], m.to_str().unwrap()];
    let (code, r, err) = run_json(&work, &json, &args, &password);
    assert_eq!(code, 0, "{err}");
    let cell = |client: &str, holder: &str| {
        r.cells
            .iter()
            .find(|c| c.client == client && c.holder == holder)
            .unwrap()
    };
    for client in ["teraterm-5.3", "putty-0.74"] {
        // A password cell logs in with the password, whatever the client makes of the key file.
        let pw = cell(client, "password");
        assert_eq!(
            (pw.verdict, pw.signature.as_deref()),
            (Verdict::Ok, Some("password")),
            "{client}: {}",
            pw.reason
        );
        let agent = cell(client, "agent");
        assert_eq!(agent.verdict, Verdict::Ok, "{client}: {}", agent.reason);
    }
    assert_eq!(cell("teraterm-5.3", "file").verdict, Verdict::Ok);
    // PuTTY reads no OpenSSH key file: its key-file cell (only) cannot load the key.
    assert_eq!(cell("putty-0.74", "file").code, "key-load-failed");
    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap();
    assert_eq!(log.matches("Accepted password for").count(), 2, "{log}");
    assert_eq!(log.matches("Accepted publickey for").count(), 3, "{log}");
    assert!(!log.contains("Failed publickey"), "{log}");
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A matrix of 12 password cells against one remote account (and, with `local`, a local
/// target too), its budget 2.
fn budget_matrix(dir: &Path, port: u16, pin: &str, user: &str, local: bool) -> PathBuf {
    let local = match local {
        true => "[[targets]]\nid = \"here\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\n",
        false => "",
    };
    common::matrix_file(dir, "budget.toml", &format!(
            "[axes]\nkeys = [\"rsa-2048\", \"rsa-3072\", \"ecdsa-256\", \"ecdsa-384\", \"ecdsa-521\", \"ed25519\"]\n\
             holders = [\"password\"]\nclients = [\"teraterm-5.3\", \"putty-0.83\"]\nkey_tools = [\"ssh-keygen\"]\n{}{local}",
            remote_block("lab", port, pin, user, "auth_budget = 2\n")
        ))
}

#[test]
fn concurrent_cells_of_one_account_never_spend_more_than_its_budget() {
    let Some((user, _)) = password_account() else {
        return;
    };
    let work = common::work_dir().join(format!("remote-budget-{}", std::process::id()));
    let dir = common::scratch_dir("remote-budget");
    let port = free_port();
    let (_d, pin) = daemon_with(
        &dir,
        port,
        &dir.join("none"),
        "PasswordAuthentication yes\n",
    );
    let m = budget_matrix(&dir, port, &pin, &user, false);
    let json = dir.join("r.json");
    let args = [
        "run",
        "-q",
        "-j",
        "12",
        "--password",
        "lab=env:SSHMATRIX_TEST_REMOTE_PASSWORD",
        m.to_str().unwrap(),
    ];
    // A wrong password: every attempt the server sees is a failed login.
    let (code, r, err) = run_json(&work, &json, &args, "wrong-password");
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap();
    assert_eq!(log.matches("Failed password for").count(), 2, "{log}");
    let codes = |code: &str| r.cells.iter().filter(|c| c.code == code).count();
    assert_eq!(codes("auth-password-rejected"), 2);
    assert_eq!(codes("auth-budget-exhausted"), 10);
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_keep_a_remote_hosts_cells_together_and_its_budget_held() {
    let Some((user, _)) = password_account() else {
        return;
    };
    let dir = common::scratch_dir("remote-shards");
    let port = free_port();
    let (_d, pin) = daemon_with(
        &dir,
        port,
        &dir.join("none"),
        "PasswordAuthentication yes\n",
    );
    let m = budget_matrix(&dir, port, &pin, &user, true);
    let mut remote_cells = Vec::new();
    for k in 0..2 {
        // Two machines: a work directory (and failed-login ledger) each.
        let work = common::work_dir().join(format!("remote-shard-{k}-{}", std::process::id()));
        let json = dir.join(format!("shard-{k}.json"));
        let shard = format!("{k}/2");
        let args = [
            "run",
            "-q",
            "--shard",
            &shard,
            "--password",
            "lab=env:SSHMATRIX_TEST_REMOTE_PASSWORD",
            m.to_str().unwrap(),
        ];
        let (code, r, err) = run_json(&work, &json, &args, "wrong-password");
        assert_eq!(code, 0, "{err}");
        remote_cells.push(r.cells.iter().filter(|c| c.target == "lab").count());
        let _ = std::fs::remove_dir_all(&work);
    }
    remote_cells.sort();
    assert_eq!(
        remote_cells,
        [0, 12],
        "one shard holds every cell of the remote host"
    );
    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap();
    assert_eq!(log.matches("Failed password for").count(), 2, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
