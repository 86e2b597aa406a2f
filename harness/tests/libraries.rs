//! The real automation libraries — paramiko, AsyncSSH, libssh2, libssh, Node ssh2, JSch, Go
//! x/crypto, in the
//! versions of their profiles — installed into the test work directory on first use, logging in
//! to the local OpenSSH 9.2 target for real: each gets in with a key it supports, and each is
//! refused somewhere for the reason its sources give, in the server's own words.

mod common;

use sshmatrix_reports::{CellResult, Report, Verdict};

const CLIENTS: [&str; 17] = [
    "paramiko-2.8.1",
    "paramiko-2.9.5",
    "paramiko-3.5.1",
    "paramiko-5.1.0",
    "asyncssh-2.1.0",
    "asyncssh-2.13.2",
    "asyncssh-2.24.1",
    "libssh2-1.10.0",
    "libssh2-1.11.1",
    "libssh-0.10.4",
    "libssh-0.11.3",
    "node-ssh2-0.8.9",
    "node-ssh2-1.17.0",
    "jsch-0.1.55",
    "go-x-crypto-0.0.20201221",
    "go-x-crypto-0.4.0",
    "go-x-crypto-0.25.0",
];

fn matrix() -> String {
    let mut t = String::from(
        "title = \"library clients on OpenSSH 9.2\"\n[axes]\n\
         keys = [\"ed25519\", \"ecdsa-256\", \"rsa-2048\", \"dsa-1024\"]\n\
         passphrase = [\"no\", \"yes\"]\npairs = [\n",
    );
    for c in CLIENTS {
        // JSch 0.1.55 reads traditional PEM only.
        let tool = if c.starts_with("jsch") {
            "ssh-keygen-pem"
        } else {
            "ssh-keygen"
        };
        t.push_str(&format!(
            "  {{ client = \"real-{c}\", key_tool = \"{tool}\" }},\n"
        ));
    }
    t + "]\n[[targets]]\nid = \"upstream-9.2\"\npolicy = \"upstream-9.2\"\nusers = [\"deploy\"]\n"
}

fn cell<'a>(r: &'a Report, client: &str, key: &str, passphrase: bool) -> &'a CellResult {
    r.cells
        .iter()
        .find(|c| {
            c.client == format!("real-{client}") && c.key_type == key && c.passphrase == passphrase
        })
        .unwrap_or_else(|| panic!("no cell {client} {key} {passphrase}"))
}

async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = common::matrix_file(dir.path(), "libraries.toml", &matrix());
    common::run(common::plan(&path)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_library_logs_in_and_is_refused_for_its_sourced_reason_from_registries() {
    let r = run().await;
    assert_eq!(r.cells.len(), 17 * 4 * 2);
    // Every measured cell agrees with its emulation profile's prediction.
    let off: Vec<_> = r
        .cells
        .iter()
        .filter(|c| c.disagrees_with_prediction())
        .map(|c| {
            (
                &c.client,
                &c.key_type,
                c.passphrase,
                &c.code,
                &c.predicted_code,
            )
        })
        .collect();
    assert!(off.is_empty(), "prediction disagrees: {off:?}");
    for c in CLIENTS {
        // In with Ed25519 (JSch 0.1.55 has none: ECDSA), with and without a passphrase, and
        // the server logged it.
        let key = if c.starts_with("jsch") {
            "ecdsa"
        } else {
            "ed25519"
        };
        for pp in [false, true] {
            let ok = cell(&r, c, key, pp);
            assert_eq!(ok.verdict, Verdict::Ok, "{c} {key} {pp}: {}", ok.reason);
            assert!(
                ok.server_evidence
                    .iter()
                    .any(|l| l.contains("Accepted publickey")),
                "{c}: {:?}",
                ok.server_evidence
            );
        }
    }
    let refused = |c: &str, key: &str, alg: &str| {
        let x = cell(&r, c, key, false);
        assert_eq!(x.verdict, Verdict::Fail, "{c} {key}: {}", x.reason);
        assert_eq!(x.code, "auth-signature-rejected", "{c} {key}: {}", x.reason);
        assert_eq!(
            x.reason,
            format!("server: signature algorithm {alg} not in PubkeyAcceptedAlgorithms"),
            "{c} {key}"
        );
    };
    // RSA signed with ssh-rsa (SHA-1) only: paramiko before 2.9, libssh2 before 1.11, ssh2
    // 0.8, JSch 0.1.55, Go x/crypto of Debian 11. OpenSSH 8.8+ refuses it; the newer versions
    // sign rsa-sha2 and get in.
    for c in [
        "paramiko-2.8.1",
        "libssh2-1.10.0",
        "node-ssh2-0.8.9",
        "jsch-0.1.55",
        "go-x-crypto-0.0.20201221",
    ] {
        refused(c, "rsa", "ssh-rsa");
    }
    for c in [
        "paramiko-2.9.5",
        "paramiko-5.1.0",
        "libssh2-1.11.1",
        "node-ssh2-1.17.0",
        "go-x-crypto-0.4.0",
        "go-x-crypto-0.25.0",
    ] {
        assert_eq!(cell(&r, c, "rsa", true).verdict, Verdict::Ok, "{c}");
    }
    // DSA: signed ssh-dss (refused since OpenSSH 7.0), or not loadable at all where the
    // library dropped it (paramiko 4.0+, this libssh2 1.11 and libssh 0.11 build).
    for c in [
        "paramiko-2.9.5",
        "asyncssh-2.24.1",
        "node-ssh2-1.17.0",
        "jsch-0.1.55",
    ] {
        refused(c, "dsa", "ssh-dss");
    }
    for (c, says) in [
        ("paramiko-5.1.0", "paramiko: SSHException: paramiko 5.1.0 has no dsa key class"),
        ("libssh2-1.11.1", "libssh2: FileError: libssh2 could not read or decrypt the key file (LIBSSH2_ERROR_FILE)"),
        ("libssh-0.11.3", "libssh: KeyImportError: ssh_pki_import_privkey_file refused the key file"),
    ] {
        let x = cell(&r, c, "dsa", false);
        assert_eq!((x.stage.as_str(), x.code.as_str()), ("key-load", "key-load-failed"), "{c}");
        assert_eq!(x.client_reason, says, "{c}");
    }
    // JSch 0.1.55 has no Ed25519.
    let x = cell(&r, "jsch-0.1.55", "ed25519", false);
    assert_eq!(x.client_reason, "jsch: JSchException: invalid privatekey");
    // Negotiated algorithms are reported where the library names them.
    let p = cell(&r, "paramiko-5.1.0", "ed25519", false);
    assert!(p.kex.is_some() && p.cipher.is_some(), "{p:?}");
    // Passphrases reach the programs through 0600 files only: none in the report.
    let json = serde_json::to_string(&r).unwrap();
    let keys = common::work_dir().join("keys");
    for e in std::fs::read_dir(&keys).unwrap().flatten() {
        if let Ok(pp) = std::fs::read_to_string(e.path().join("passphrase")) {
            assert!(!json.contains(pp.trim()), "a passphrase is in the report");
        }
    }
}

#[test]
fn clients_list_and_install_name_what_they_do() {
    let out = common::bin()
        .args(["clients", "install", "real-paramko-2.8.1", "--work-dir"])
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `real-paramiko-2.8.1`?"), "{err}");
    let out = common::bin()
        .args(["clients", "list", "--work-dir"])
        .arg(common::work_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 21, "{text}");
    assert!(text.contains("real-jsch-0.1.55"), "{text}");
}

#[test]
fn a_half_made_install_is_redone_and_a_missing_runtime_is_named_from_registries() {
    std::fs::create_dir_all(common::work_dir()).unwrap();
    let work = tempfile::tempdir_in(common::work_dir()).unwrap();
    let install = |path: Option<&str>| {
        let mut cmd = common::bin();
        cmd.args(["clients", "install", "real-node-ssh2-0.8.9", "--work-dir"])
            .arg(work.path());
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        cmd.output().unwrap()
    };
    // No node on PATH: exit 3, naming the Debian package.
    let out = install(Some("/nonexistent"));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`node` not found") && err.contains("apt-get install nodejs"),
        "{err}"
    );
    // An install interrupted half-way (no marker) is made again from scratch.
    let dir = work.path().join("clients/real-node-ssh2-0.8.9");
    std::fs::create_dir_all(dir.join("node_modules")).unwrap();
    std::fs::write(dir.join("ssh2_login.js"), "half").unwrap();
    let out = install(None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join(".sshmatrix-installed").exists());
    assert!(dir.join("node_modules/ssh2/package.json").exists());
    let program = std::fs::read_to_string(dir.join("ssh2_login.js")).unwrap();
    assert!(program.contains("sshmatrix-result"), "{program}");
    // A second install leaves it as it is.
    let out = install(None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn clients_and_servers_name_the_same_session_subsystem() {
    assert_eq!(
        sshmatrix_clients::driver::SESSION_SUBSYSTEM,
        sshmatrix_servers::sshd::SESSION_SUBSYSTEM
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_automation_matrix_meets_its_expectations_in_containers_from_registries() {
    let report = common::run_shipped("automation-clients.toml").await;
    assert_eq!(report.cells.len(), 22 * 3 * 2 * 6);
    // The SHA-1 signers get into upstream 8.7 and the CVM (+ssh-rsa) and nowhere else.
    let rsa = |client: &str, target: &str| {
        report
            .cells
            .iter()
            .find(|c| c.client == client && c.key_type == "rsa" && c.target == target)
            .map(|c| c.verdict)
            .unwrap()
    };
    for c in [
        "real-paramiko-2.8.1",
        "real-libssh2-1.10.0",
        "real-node-ssh2-0.8.9",
        "real-go-x-crypto-0.0.20201221",
    ] {
        assert_eq!(rsa(c, "upstream-8.7"), Verdict::Ok, "{c}");
        assert_eq!(rsa(c, "nutanix-cvm"), Verdict::Ok, "{c}");
        assert_eq!(rsa(c, "rhel9-default"), Verdict::Fail, "{c}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn libraries_with_an_agent_or_a_password_from_registries() {
    // The libraries whose program takes an agent (paramiko, AsyncSSH, Node ssh2, Go x/crypto),
    // with a real ssh-agent holding the key, and every library with a (wrong) password.
    let agents = [
        "paramiko-2.8.1",
        "paramiko-2.9.5",
        "paramiko-5.1.0",
        "asyncssh-2.1.0",
        "asyncssh-2.24.1",
        "node-ssh2-0.8.9",
        "node-ssh2-1.17.0",
        "go-x-crypto-0.0.20201221",
        "go-x-crypto-0.25.0",
    ];
    let mut t = String::from(
        "title = \"library clients with an agent or a password\"\n[axes]\n\
         keys = [\"rsa-2048\", \"ed25519\"]\npassphrase = [\"no\"]\n\
         holders = [\"agent\", \"password\"]\npairs = [\n",
    );
    for c in agents {
        t.push_str(&format!(
            "  {{ client = \"real-{c}\", key_tool = \"ssh-keygen\" }},\n"
        ));
    }
    t.push_str(
        "]\n[[targets]]\nid = \"upstream-9.2\"\npolicy = \"upstream-9.2\"\nusers = [\"deploy\"]\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = common::matrix_file(dir.path(), "holders.toml", &t);
    let r = common::run(common::plan(&path)).await;
    assert_eq!(r.cells.len(), agents.len() * 2 * 2);
    common::assert_predicted(&r);
    for c in agents {
        let held = |key: &str, holder: &str| {
            r.cells
                .iter()
                .find(|x| {
                    x.client == format!("real-{c}") && x.key_type == key && x.holder == holder
                })
                .unwrap_or_else(|| panic!("{c} {key} {holder}"))
        };
        // The agent signs: in with Ed25519, the server logging the key.
        let ok = held("ed25519", "agent");
        assert_eq!(ok.verdict, Verdict::Ok, "{c}: {}", ok.reason);
        assert!(
            ok.server_evidence
                .iter()
                .any(|l| l.contains("Accepted publickey")),
            "{c}"
        );
        // The wrong password is refused by the server, in its words.
        let pw = held("ed25519", "password");
        assert_eq!(pw.code, "auth-password-rejected", "{c}: {}", pw.reason);
    }
    // SHA-1 signers stay SHA-1 signers through an agent.
    for c in [
        "paramiko-2.8.1",
        "node-ssh2-0.8.9",
        "go-x-crypto-0.0.20201221",
    ] {
        let x = r
            .cells
            .iter()
            .find(|x| x.client == format!("real-{c}") && x.key_type == "rsa" && x.holder == "agent")
            .unwrap();
        assert_eq!(x.code, "auth-signature-rejected", "{c}: {}", x.reason);
    }
}
