//! Emulated servers (issue 37): old releases run on AsyncSSH's server engine from their sourced
//! facts, met by real clients. The release's identification makes the clients' compatibility
//! rules fire, what it sends (or leaves out) of ext-info decides the RSA signature, and its
//! refusals are its own log lines.

mod common;

use sshmatrix_reports::{CellResult, Report, Verdict};

fn cell<'a>(cells: &'a [CellResult], client: &str, key: &str, target: &str) -> &'a CellResult {
    cells
        .iter()
        .find(|c| c.client == client && c.key_type == key && c.target == target)
        .unwrap_or_else(|| panic!("no cell {client} {key} {target}"))
}

/// A matrix of host clients (real ssh 9.2, paramiko 2.9.5 and 3.5.1, Node ssh2 1.17.0) against
/// the emulated OpenSSH 7.4, 6.6 and Dropbear 2017.75.
fn matrix(dir: &std::path::Path) -> std::path::PathBuf {
    let target = |id: &str, policy: &str| {
        format!("[[targets]]\nid = \"{id}\"\npolicy = \"{policy}\"\nusers = [\"admin\"]\n")
    };
    let text = format!(
        "title = \"emulated servers\"\n[axes]\nkeys = [\"rsa-2048\", \"ed25519\"]\npassphrase = [\"no\"]\n\
         pairs = [{{ client = \"real-openssh-9.2\", key_tool = \"ssh-keygen\" }}, \
         {{ client = \"real-paramiko-2.9.5\", key_tool = \"ssh-keygen\" }}, \
         {{ client = \"real-paramiko-3.5.1\", key_tool = \"ssh-keygen\" }}, \
         {{ client = \"real-node-ssh2-1.17.0\", key_tool = \"ssh-keygen\" }}]\n{}{}{}",
        target("c7", "emulated-openssh-7.4p1"),
        target("u14", "emulated-openssh-6.6.1p1"),
        target("db17", "emulated-dropbear-2017.75"),
    );
    common::matrix_file(dir, "emulated.toml", &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn old_servers_answer_real_clients_as_their_sources_say_from_registries() {
    let dir = common::scratch_dir("emulated-servers");
    let report: Report = common::run(common::plan(&matrix(&dir))).await;
    let cells = &report.cells;
    assert_eq!(cells.len(), 4 * 2 * 3);
    common::assert_predicted(&report);
    // OpenSSH 7.4's server-sig-algs has no rsa-sha2: ssh 9.2 (SSH_BUG_SIGTYPE74) and Node ssh2
    // (IMPLY_RSA_SHA2_SIGALGS) sign rsa-sha2 anyway, paramiko takes the list and signs ssh-rsa.
    let signed = |client: &str| cell(cells, client, "rsa", "c7").signature.clone();
    assert_eq!(signed("real-openssh-9.2").as_deref(), Some("rsa-sha2-512"));
    assert_eq!(
        signed("real-node-ssh2-1.17.0").as_deref(),
        Some("rsa-sha2-256")
    );
    assert_eq!(signed("real-paramiko-3.5.1").as_deref(), Some("ssh-rsa"));
    let weak = &cell(cells, "real-paramiko-3.5.1", "rsa", "c7").weak;
    assert!(weak.iter().any(|w| w == "sha1-user-signature"), "{weak:?}");
    let c7 = cell(cells, "real-openssh-9.2", "rsa", "c7");
    assert_eq!(c7.verdict, Verdict::Ok);
    assert!(
        c7.server_evidence[0].starts_with("Accepted publickey for admin from 127.0.0.1 port "),
        "{:?}",
        c7.server_evidence
    );
    // No ext-info: paramiko 2.9+ signs rsa-sha2-512 and 6.6 does not know it (paramiko #1961);
    // ssh 9.2 has no signature algorithm left for the RSA key.
    for paramiko in ["real-paramiko-2.9.5", "real-paramiko-3.5.1"] {
        let c = cell(cells, paramiko, "rsa", "u14");
        assert_eq!(
            (c.verdict, c.code.as_str()),
            (Verdict::Fail, "auth-signature-rejected")
        );
        assert_eq!(
            c.server_reason.as_deref(),
            Some("unsupported public key algorithm: rsa-sha2-512")
        );
    }
    let c = cell(cells, "real-openssh-9.2", "rsa", "db17");
    assert_eq!(
        c.code.as_str(),
        "auth-no-signature-algorithm",
        "{}",
        c.reason
    );
    // Dropbear 2017.75 knows no Ed25519 and says so in its own words; ssh-rsa it verifies.
    let c = cell(cells, "real-node-ssh2-1.17.0", "ed25519", "db17");
    assert_eq!(c.code.as_str(), "auth-signature-rejected");
    let reason = c.server_reason.as_deref().unwrap_or("");
    assert!(
        reason.starts_with("Pubkey auth attempt with unknown algo for 'admin' from 127.0.0.1:"),
        "{reason}"
    );
    let c = cell(cells, "real-node-ssh2-1.17.0", "rsa", "db17");
    assert_eq!(
        (c.verdict, c.signature.as_deref()),
        (Verdict::Ok, Some("ssh-rsa"))
    );
    assert!(c.server_evidence[0].starts_with("Pubkey auth succeeded for 'admin' with key md5 "));
    // Every answer says what the emulation leaves out.
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("emulated on AsyncSSH's server engine; not reproduced: "),
        "{notes}"
    );
}

/// The shipped legacy-servers matrix: today's real clients (OpenSSH 8.4/9.2/10.0 from the
/// Debian images, PuTTY, paramiko, JSch, Go, Node ssh2, libssh2) against the four emulated
/// releases, its expectations (from the sources its header names) met and every cell as
/// predicted.
#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_servers_matrix_meets_its_expectations_in_containers_from_registries() {
    let report: Report = common::run_shipped("legacy-servers.toml").await;
    assert_eq!(report.cells.len(), 12 * 3 * 7);
    // OpenSSH 8.4 predates SSH_BUG_SIGTYPE74 (8.7): it signs ssh-rsa for 7.4; 10.0 does not.
    let sig = |client: &str| {
        cell(&report.cells, client, "rsa", "openssh-7.4")
            .signature
            .clone()
    };
    assert_eq!(sig("real-openssh-8.4").as_deref(), Some("ssh-rsa"));
    assert_eq!(sig("real-openssh-10.0").as_deref(), Some("rsa-sha2-512"));
}

/// Windows' own OpenSSH in its three shipped releases (emulated from PowerShell/openssh-portable)
/// against the real sshd under hardened policies and the emulated old releases: the matrix's
/// expectations (9.5 cannot offer RSA to servers without server-sig-algs), and how each release
/// signs and negotiates.
#[tokio::test(flavor = "multi_thread")]
async fn windows_openssh_releases_meet_their_sources_from_registries() {
    let report: Report = common::run_shipped("windows-openssh.toml").await;
    assert_eq!(report.cells.len(), 3 * 3 * 5);
    let sig =
        |client: &str, target: &str| cell(&report.cells, client, "rsa", target).signature.clone();
    // 7.4's server-sig-algs lists no rsa-sha2: 7.7 and 8.1 sign ssh-rsa, 9.5 knows better.
    assert_eq!(
        sig("windows-openssh-7.7", "openssh-7.4").as_deref(),
        Some("ssh-rsa")
    );
    assert_eq!(
        sig("windows-openssh-8.1", "openssh-7.4").as_deref(),
        Some("ssh-rsa")
    );
    assert_eq!(
        sig("windows-openssh-9.5", "openssh-7.4").as_deref(),
        Some("rsa-sha2-512")
    );
    // No server-sig-algs at all: 7.7 and 8.1 fall back to ssh-rsa.
    assert_eq!(
        sig("windows-openssh-8.1", "openssh-6.6").as_deref(),
        Some("ssh-rsa")
    );
    for c in report.cells.iter().filter(|c| c.verdict == Verdict::Ok) {
        // 9.5's Windows MAC list has no hmac-sha1.
        if c.client == "windows-openssh-9.5" {
            assert!(!c.mac.as_deref().unwrap_or("").contains("sha1"), "{c:?}");
        }
        // Against RHEL 9 (which has strict key exchange) only 7.7 and 8.1 are exposed to
        // Terrapin; the old servers have no countermeasure, so every release is there.
        let terrapin = c.weak.iter().any(|w| w == "terrapin-chacha20");
        if c.target == "rhel9" {
            let strict = c.client == "windows-openssh-9.5";
            assert_eq!((terrapin, c.strict_kex), (!strict, Some(strict)), "{c:?}");
        }
    }
}

/// `diagnose` names an old server from the KEXINIT a real client logged: `ssh -vvv` against the
/// emulated OpenSSH 7.4 (its identification and lists as the release sends them) is matched to
/// that release, and the reproduction runs against it.
#[tokio::test(flavor = "multi_thread")]
async fn diagnose_names_an_old_server_by_its_kexinit_from_registries() {
    let dir = common::scratch_dir("emulated-diagnose");
    let p = sshmatrix_servers::builtin_policies()
        .into_iter()
        .find(|p| p.id == "emulated-openssh-7.4p1")
        .unwrap();
    let facts = p.facts.clone().unwrap();
    let with = facts.runs_with.clone().unwrap();
    let profile = sshmatrix_clients::builtin_profiles()
        .into_iter()
        .find(|c| c.id == with)
        .unwrap();
    let installed =
        sshmatrix::libraries::ensure_all(&[&profile], &common::work_dir(), &mut |_| {}).unwrap();
    let store = sshmatrix_servers::HostKeyStore::new(dir.join("hostkeys")).unwrap();
    let host_keys = p.host_keys.iter().map(|k| store.get(k).unwrap()).collect();
    let users = [("admin".to_string(), Vec::new())];
    let server = sshmatrix_servers::asyncssh::AsyncSsh::create(
        &dir,
        &p.id,
        &installed[&with][0],
        host_keys,
        &users,
        facts,
        true,
    )
    .unwrap();
    let daemon = server
        .serve(None, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let key = dir.join("key");
    let _ = std::fs::remove_file(&key);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let port = daemon.port.to_string();
    let (_, client_log) = common::ssh_vvv(&key, &port, "admin", &[]);
    daemon.finish(std::time::Duration::from_secs(5)).await;
    let log = dir.join("client.log");
    std::fs::write(&log, client_log).unwrap();
    let o = common::bin()
        .args(["diagnose", "--format", "json"])
        .arg(&log)
        .output()
        .unwrap();
    let case: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &case["attempts"][0]["server_matches"][0];
    assert_eq!(m["profile"], "emulated-openssh-7.4p1", "{case:#}");
    assert_eq!(
        (m["distance"].as_u64(), m["ident_equal"].as_bool()),
        (Some(0), Some(true))
    );
}

/// `serve` runs an emulated release for any number of connections (its own log lines, every
/// connection's), so a real client or `scan` can be pointed at an old server by hand.
#[test]
fn an_emulated_release_is_served_for_a_real_client_and_a_scan_from_registries() {
    let dir = common::scratch_dir("emulated-serve");
    let key = dir.join("key");
    let _ = std::fs::remove_file(&key);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(&log);
    let public = dir.join("key.pub");
    let served = common::Served::start_with(
        "emulated-dropbear-2017.75",
        &[
            "--authorize",
            public.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
        &common::work_dir(),
    );
    let user = sshmatrix_servers::sshd::current_user();
    for _ in 0..2 {
        let (code, out) = common::ssh_vvv(&key, served.port(), &user, &[]);
        assert_eq!(code, 0, "{out}");
    }
    let (code, scan, err) = common::sshmatrix(&["scan", &served.address, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(scan.contains("SSH-2.0-dropbear_2017.75"), "{scan}");
    assert_eq!(served.stop(), 130);
    let text = std::fs::read_to_string(&log).unwrap();
    let logins = text
        .lines()
        .filter(|l| l.starts_with(&format!("Pubkey auth succeeded for '{user}' with key md5 ")))
        .count();
    assert_eq!(logins, 2, "{text}");
}
