//! Dropbear targets: the real `dropbear` of the Debian 11 / 12 / 13 / testing images, a daemon
//! per cell with its own log, against emulated and real clients. Exact verdicts, codes and the
//! server's own lines; the policy data each target rests on held equal to what the running
//! server sends. Needs a docker daemon; `.ci/run` starts one and builds the images.

mod common;

use sshmatrix_reports::{CellResult, Verdict};

fn cell<'a>(cells: &'a [CellResult], client: &str, key: &str, target: &str) -> &'a CellResult {
    cells
        .iter()
        .find(|c| c.client == client && c.key_type == key && c.target == target)
        .unwrap_or_else(|| panic!("no cell {client} {key} {target}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn appliance_servers_meet_expectations_with_their_own_log_lines_in_containers() {
    let report = common::run_shipped("appliance-servers.toml").await;
    assert_eq!(report.cells.len(), 8 * 3 * 13);
    // A ○ is backed by Dropbear's own success line, for emulated and real clients alike.
    for client in [
        "teraterm-5.3",
        "real-openssh-9.2",
        "real-putty-0.78",
        "real-paramiko-3.5.1",
    ] {
        let c = cell(&report.cells, client, "ed25519", "dropbear-2025.89");
        assert_eq!(c.verdict, Verdict::Ok, "{client}: {}", c.reason);
        assert!(
            c.server_evidence[0]
                .starts_with("Pubkey auth succeeded for 'admin' with ssh-ed25519 key SHA256:"),
            "{client}: {:?}",
            c.server_evidence
        );
    }
    // Dropbear 2020.81 names no key type in its success line.
    let old = cell(&report.cells, "real-putty-0.83", "rsa", "dropbear-2020.81");
    assert_eq!(old.verdict, Verdict::Ok);
    assert!(
        old.server_evidence[0].starts_with("Pubkey auth succeeded for 'admin' with key sha1!! "),
        "{:?}",
        old.server_evidence
    );
    // Tera Term 4.106 signs RSA with ssh-rsa: Dropbear 2022.83 verifies it; 2025.89 does not,
    // and the connection's process aborts on the signature.
    let tt = |target| cell(&report.cells, "teraterm-4.106", "rsa", target);
    assert_eq!(tt("dropbear-2022.83").verdict, Verdict::Ok);
    assert_eq!(tt("dropbear-2022.83").signature.as_deref(), Some("ssh-rsa"));
    let refused = tt("dropbear-2025.89");
    assert_eq!(
        (refused.verdict, refused.code.as_str()),
        (Verdict::Fail, "auth-signature-rejected")
    );
    assert!(
        refused.reason.starts_with(
            "Dropbear 2025.89 does not verify ssh-rsa signatures (it verifies ssh-ed25519,"
        ),
        "{}",
        refused.reason
    );
    assert_eq!(
        refused.server_evidence,
        ["dropbear: src/rsa.c:398: rsa_pad_em: Assertion `0' failed."]
    );
    // OpenSSH refuses the same signature in its own words.
    assert_eq!(
        tt("openssh-9.2").server_reason.as_deref(),
        Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
    );
    // Clients that read server-sig-algs sign RSA with rsa-sha2-256, the one SHA-2 RSA
    // signature Dropbear implements.
    let tt5 = cell(&report.cells, "teraterm-5.3", "rsa", "dropbear-2026.94");
    assert_eq!(
        (tt5.verdict, tt5.signature.as_deref()),
        (Verdict::Ok, Some("rsa-sha2-256"))
    );
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("a Dropbear 2025.89 daemon per cell")));
    // TinySSH: Ed25519 only, its own acceptance line; without strict kex, plink stops.
    let ok = cell(
        &report.cells,
        "real-openssh-9.2",
        "ed25519",
        "tinyssh-20230101",
    );
    assert!(
        ok.server_evidence[0].starts_with("auth: admin: ssh-ed25519 AAAA")
            && ok.server_evidence[0].ends_with(" accepted"),
        "{:?}",
        ok.server_evidence
    );
    let rsa = cell(&report.cells, "real-openssh-9.2", "rsa", "tinyssh-20250501");
    assert_eq!(
        (rsa.code.as_str(), rsa.reason.as_str()),
        (
            "auth-signature-rejected",
            "TinySSH 20250501 does not verify RSA keys (it verifies ssh-ed25519); its log says nothing of it"
        )
    );
    for version in ["0.78", "0.83"] {
        let client = format!("real-putty-{version}");
        let weak = cell(&report.cells, &client, "ed25519", "tinyssh-20230101");
        assert_eq!(
            (weak.verdict, weak.code.as_str()),
            (Verdict::Fail, "weak-crypto-refused")
        );
        assert_eq!(
            weak.reason,
            "plink: FATAL ERROR: Cannot confirm a weak crypto primitive in batch mode"
        );
        let strict = cell(&report.cells, &client, "ed25519", "tinyssh-20250501");
        assert_eq!(strict.verdict, Verdict::Ok, "{client}: {}", strict.reason);
    }
    // ProFTPD verifies ssh-rsa too, and says so in its own log (mod_auth's line); clients
    // asked for its only session, SFTP.
    for target in ["proftpd-1.3.7a", "proftpd-1.3.9d"] {
        let p = cell(&report.cells, "teraterm-4.106", "rsa", target);
        assert_eq!(
            (p.verdict, p.signature.as_deref()),
            (Verdict::Ok, Some("ssh-rsa"))
        );
        assert!(
            p.server_evidence
                .iter()
                .any(|l| l == "USER admin: Login successful."),
            "{target}: {:?}",
            p.server_evidence
        );
    }
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("a ProFTPD 1.3.9d mod_sftp daemon per cell")));
    // Twisted 20.3.0 cannot read an Ed25519 key and verifies RSA only as ssh-rsa: paramiko 3.5.1
    // (no server-sig-algs to read) signs with rsa-sha2-512 and is refused in Twisted's words;
    // OpenSSH 9.2 keeps the key. 26.4.0 takes them all, in its own success line.
    let old = |client, key| cell(&report.cells, client, key, "twisted-20.3.0");
    assert_eq!(
        old("real-openssh-9.2", "ed25519").server_reason.as_deref(),
        Some("Unsupported key type ssh-ed25519 or bad key")
    );
    let pk = old("real-paramiko-3.5.1", "rsa");
    assert_eq!(
        (pk.code.as_str(), pk.server_evidence.as_slice()),
        (
            "auth-signature-rejected",
            [
                "b'admin' failed auth b'publickey'".to_string(),
                "unauthorized login: Key signature invalid.".to_string()
            ]
            .as_slice()
        )
    );
    assert_eq!(
        old("real-openssh-9.2", "rsa").code.as_str(),
        "auth-no-signature-algorithm"
    );
    assert_eq!(
        old("teraterm-5.3", "rsa").signature.as_deref(),
        Some("ssh-rsa")
    );
    let new = cell(
        &report.cells,
        "real-paramiko-3.5.1",
        "ed25519",
        "twisted-26.4.0",
    );
    assert_eq!(
        new.server_evidence,
        ["b'admin' authenticated with b'publickey'"]
    );
    // AsyncSSH verifies ssh-rsa too; its success line is its own.
    for target in ["asyncssh-2.13.2", "asyncssh-2.24.1"] {
        let a = cell(&report.cells, "teraterm-4.106", "rsa", target);
        assert_eq!(
            (a.verdict, a.signature.as_deref()),
            (Verdict::Ok, Some("ssh-rsa"))
        );
        assert_eq!(
            a.server_evidence,
            ["Auth for user admin succeeded"],
            "{target}"
        );
    }
}

/// Starts `p`'s real server as a target (Dropbear and TinySSH in their image's container,
/// AsyncSSH and the releases emulated on it from its client profile's installation) and
/// returns it with its container.
async fn start(
    p: &sshmatrix_servers::Policy,
    dir: &std::path::Path,
    store: &sshmatrix_servers::HostKeyStore,
) -> (
    sshmatrix_servers::SshdTarget,
    Option<sshmatrix_servers::container::Container>,
) {
    use sshmatrix_servers::container::{ensure_image, recipes, start_target};
    let d = p.facts.clone().unwrap();
    if p.server.on_this_host() {
        let with = d.runs_with.clone().unwrap();
        let profile = sshmatrix_clients::builtin_profiles()
            .into_iter()
            .find(|c| c.id == with)
            .unwrap();
        let installed =
            sshmatrix::libraries::ensure_all(&[&profile], &common::work_dir(), &mut |_| {})
                .unwrap();
        let host_keys = p.host_keys.iter().map(|k| store.get(k).unwrap()).collect();
        let users = [("admin".to_string(), Vec::new())];
        let python = &installed[&with][0];
        let emulated = p.server == sshmatrix_servers::ServerKind::Emulated;
        let server = sshmatrix_servers::asyncssh::AsyncSsh::create(
            dir, &p.id, python, host_keys, &users, d, emulated,
        )
        .unwrap();
        return (sshmatrix_servers::SshdTarget::asyncssh(&p.id, server), None);
    }
    let image = recipes()
        .iter()
        .find(|r| r.server_version(p.server) == Some(d.version.as_str()))
        .unwrap_or_else(|| panic!("no image runs {}", p.id));
    let images = common::work_dir().join("images");
    ensure_image(image, &images, &mut std::io::sink()).unwrap();
    let spec = sshmatrix_servers::TargetSpec {
        id: p.id.clone(),
        policy: p.clone(),
        host_keys: p.host_keys.clone(),
        extra: Vec::new(),
        log_level: "VERBOSE".into(),
        dialect: None,
        trusted_extra: false,
        trusted_user_cas: Vec::new(),
        host_certificates: Vec::new(),
    };
    let users = [("admin".to_string(), Vec::new())];
    let (container, target) = start_target(
        dir,
        &spec,
        image,
        store,
        &users,
        Default::default(),
        "appliances-test",
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", p.id));
    (target, Some(container))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_appliance_policy_lists_what_its_real_server_sends_in_containers() {
    use sshmatrix_servers::{builtin_policies, Effective, HostKeyStore, ServerKind};
    use std::time::Duration;
    let work = tempfile::tempdir().unwrap();
    let store = HostKeyStore::new(work.path().join("hostkeys")).unwrap();
    let policies: Vec<_> = builtin_policies()
        .into_iter()
        .filter(|p| p.facts.is_some())
        .collect();
    assert_eq!(policies.len(), 25);
    for p in policies {
        let d = p.facts.clone().unwrap();
        let (target, container) = start(&p, work.path(), &store).await;
        let (stream, session) = target.connect(Duration::from_secs(20)).await.unwrap();
        let hello = sshmatrix_clients::negotiate::probe(stream, "SSH-2.0-sshmatrix_probe").await;
        let log = session.finish(Duration::from_secs(5)).await;
        if let Some(c) = container {
            c.remove().await;
        }
        let hello = hello.unwrap_or_else(|e| panic!("{}: {e}; log: {log}", p.id));
        let want = Effective::from_facts(p.server, &d, &p.host_keys);
        // TinySSH's identification is `tinyssh` and a per-connection word (before 2025 with
        // its Debian version); its release is checked from the package when the target starts.
        let ident = match p.server {
            ServerKind::Dropbear => format!("SSH-2.0-dropbear_{}", d.version),
            ServerKind::Asyncssh => format!("SSH-2.0-AsyncSSH_{}", d.version),
            ServerKind::Emulated => format!("SSH-2.0-{}", d.ident.clone().unwrap_or_default()),
            ServerKind::Proftpd => "SSH-2.0-mod_sftp".to_string(),
            ServerKind::Twisted => format!("SSH-2.0-Twisted_{}", d.version),
            _ => "SSH-2.0-tinyssh".to_string(),
        };
        assert!(hello.ident.starts_with(&ident), "{}: {}", p.id, hello.ident);
        assert_eq!(hello.kex, want.kex, "{}", p.id);
        assert_eq!(hello.hostkey, want.hostkey, "{}", p.id);
        assert_eq!(
            (&hello.cipher_c2s, &hello.mac_c2s),
            (&want.ciphers, &want.macs),
            "{}",
            p.id
        );
        assert_eq!(hello.comp_c2s, want.compression, "{}", p.id);
        // ProFTPD: `SSH2 session opened.`, mod_sftp's `client (…) connected to server (…)`.
        assert!(
            log.contains("onnection") || log.contains("SSH2 session opened"),
            "{}: {log}",
            p.id
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropbear_refusal_gets_verified_client_fixes_and_no_sshd_lines_in_containers() {
    use sshmatrix::advice::{explain, select};
    let plan = common::plan(&common::matrices().join("appliance-servers.toml"));
    let i = select(
        &plan,
        "client=teraterm-4.106,key=rsa-2048,target=dropbear-2025.89",
    )
    .unwrap();
    let opts = common::options();
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    let e = explain(&plan, i, &[], true, &opts, &profiles, &tools, &policies)
        .await
        .unwrap();
    assert_eq!(e.result.code, "auth-signature-rejected");
    let fixes: Vec<(&str, Verdict)> = e
        .fixes
        .iter()
        .map(|t| (t.fix.text.as_str(), t.result.as_ref().unwrap().verdict))
        .collect();
    assert_eq!(
        fixes,
        [
            (
                "upgrade to Tera Term 4.107 (released 2023-10-15)",
                Verdict::Ok
            ),
            (
                "upgrade to Tera Term 5.0 (released 2023-10-15)",
                Verdict::Ok
            ),
            ("use an Ed25519 key instead of RSA 2048", Verdict::Ok),
            ("use an ECDSA 256 key instead of RSA 2048", Verdict::Ok),
        ]
    );
}

/// A matrix of emulated clients against one Dropbear and one TinySSH target (24 cells).
fn small_appliance_matrix(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::from(
        "[axes]\nkeys = [\"rsa-2048\", \"rsa-3072\", \"ecdsa-256\", \"ed25519\"]\nclients = [\"teraterm-4.106\", \"teraterm-5.3\", \"putty-0.74\"]\nkey_tools = [\"ssh-keygen\"]\n",
    );
    for (id, image) in [
        ("dropbear-2025.89", "trixie"),
        ("tinyssh-20230101", "bookworm"),
        ("proftpd-1.3.8", "bookworm"),
        ("twisted-22.4.0", "bookworm"),
    ] {
        text += &format!("[[targets]]\nid = \"{id}\"\npolicy = \"{id}\"\nusers = [\"admin\"]\nkind = \"container\"\nimage = \"{image}\"\n");
    }
    common::matrix_file(dir, "appliances.toml", &text)
}

#[test]
fn daemon_and_inetd_style_targets_leave_nothing_running_after_ctrl_c_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("cells.jsonl");
    let (s, m) = (
        stream.to_str().unwrap().to_string(),
        small_appliance_matrix(dir.path()),
    );
    let args = ["run", "-q", "-j", "1", "--stream", &s, m.to_str().unwrap()];
    let mut child = common::spawn(&args, &common::work_dir());
    let pid = child.id();
    assert!(common::wait_for_lines(&stream, 3) >= 3, "no cells streamed");
    let containers = common::containers_of(pid);
    assert_eq!(containers.len(), 4, "{containers:?}");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(common::containers_owned_by(pid), 0, "containers left");
    // No `docker exec` of a daemon or a tinysshd into them is left either.
    for id in &containers {
        let left = std::process::Command::new("pgrep")
            .args(["-f", id])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "{id}: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_is_not_registered_is_refused_by_every_server_kind_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "[axes]\nkeys = [\"ed25519\"]\npairs = [{ client = \"putty-0.74\", key_tool = \"puttygen-0.74\" }]\n",
    );
    for (id, image) in [
        ("dropbear-2025.89", Some("trixie")),
        ("tinyssh-20250501", Some("trixie")),
        ("proftpd-1.3.9d", Some("forky")),
        ("twisted-24.11.0", Some("trixie")),
        ("asyncssh-2.24.1", None),
    ] {
        text += &format!("[[targets]]\nid = \"{id}\"\npolicy = \"{id}\"\nusers = [\"admin\"]\nscenario = {{ authorized_keys = \"other\" }}\n");
        if let Some(image) = image {
            text += &format!("kind = \"container\"\nimage = \"{image}\"\n");
        }
    }
    let m = common::matrix_file(dir.path(), "unregistered.toml", &text);
    let report = common::run(common::plan(&m)).await;
    assert_eq!(report.cells.len(), 5);
    for c in &report.cells {
        let what = format!("{} @ {}", c.client, c.target);
        assert_eq!(
            (c.verdict, c.code.as_str()),
            (Verdict::Fail, "auth-key-not-authorized"),
            "{what}: {}",
            c.reason
        );
        assert_eq!(
            c.predicted_code.map(|p| p.as_str()),
            Some("auth-key-not-authorized"),
            "{what}"
        );
        let said = match c.target.as_str() {
            "dropbear-2025.89" => "Exit before auth from <",
            "tinyssh-20250501" => "auth: unable to authorize using authorized_keys: key not found",
            "proftpd-1.3.9d" => {
                "USER admin (Login failed): authentication via 'ssh-ed25519' public key failed"
            }
            "twisted-24.11.0" => "b'admin' failed auth b'publickey'",
            _ => "Beginning auth for user admin",
        };
        assert!(
            c.server_evidence.iter().any(|l| l.starts_with(said)),
            "{what}: {:?}",
            c.server_evidence
        );
    }
}

/// A wrong password, given by ssh, plink and paramiko, is named by Dropbear's, ProFTPD's and
/// Twisted's own log lines (before, only sshd's `Failed password` was read, and these cells came out as a
/// method the server does not offer).
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_password_is_read_from_dropbear_proftpd_and_twisted_logs_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "[axes]\nkeys = [\"ed25519\"]\nholders = [\"password\"]\npairs = [\
         { client = \"real-openssh-9.2\", key_tool = \"ssh-keygen\" },\
         { client = \"real-putty-0.78\", key_tool = \"puttygen-0.78\" },\
         { client = \"real-paramiko-3.5.1\", key_tool = \"ssh-keygen\" }]\n",
    );
    for (id, image) in [
        ("dropbear-2025.89", "trixie"),
        ("proftpd-1.3.8", "bookworm"),
        ("twisted-22.4.0", "bookworm"),
    ] {
        text += &format!("[[targets]]\nid = \"{id}\"\npolicy = \"{id}\"\nusers = [\"admin\"]\nkind = \"container\"\nimage = \"{image}\"\n");
    }
    let m = common::matrix_file(dir.path(), "passwords.toml", &text);
    let report = common::run(common::plan(&m)).await;
    assert_eq!(report.cells.len(), 9);
    for c in &report.cells {
        let what = format!("{} @ {}", c.client, c.target);
        assert_eq!(
            (
                c.verdict,
                c.code.as_str(),
                c.predicted_code.map(|p| p.as_str())
            ),
            (
                Verdict::Fail,
                "auth-password-rejected",
                Some("auth-password-rejected")
            ),
            "{what}: {}",
            c.reason
        );
        let said = match c.target.as_str() {
            "dropbear-2025.89" => "Bad password attempt for 'admin' from 127.0.0.1:",
            "twisted-22.4.0" => "b'admin' failed auth b'password'",
            _ => "USER admin (Login failed): Incorrect password",
        };
        assert!(
            c.server_evidence[0].starts_with(said),
            "{what}: {:?}",
            c.server_evidence
        );
    }
}
