//! Every policy renders an sshd_config that the installed sshd accepts (`sshd -T`), with the
//! effective values the policy's sources claim.

use std::path::PathBuf;

use sshmatrix_servers::sshd::find_sshd;
use sshmatrix_servers::{builtin_policies, HostKeyStore, SshdTarget, TargetSpec};

fn work() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".cache").join("sshmatrix-tests")
}

fn effective(policy_id: &str, host_keys: Option<Vec<String>>) -> String {
    let policy = builtin_policies()
        .into_iter()
        .find(|p| p.id == policy_id)
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("cfg-")
        .tempdir_in({
            std::fs::create_dir_all(work()).unwrap();
            work()
        })
        .unwrap();
    let spec = TargetSpec {
        id: policy_id.into(),
        host_keys: host_keys.unwrap_or_else(|| policy.host_keys.clone()),
        policy,
        extra: vec![],
        log_level: "VERBOSE".into(),
        dialect: None,
        trusted_extra: false,
        trusted_user_cas: Vec::new(),
        host_certificates: Vec::new(),
    };
    let store = HostKeyStore::new(work().join("hostkeys")).unwrap();
    let target = SshdTarget::create(
        dir.path(),
        &spec,
        &store,
        &find_sshd().unwrap(),
        &[
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGUx7Ek1WRK0oWq8Ds8iDG2XyUb9Nuhxp6nYwdfDbJ6R test"
                .into(),
        ],
    )
    .unwrap();
    target.effective_config().unwrap_or_else(|e| panic!("{e}"))
}

fn values(cfg: &str, key: &str) -> Vec<String> {
    cfg.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key} ")))
        .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn every_policy_is_accepted_by_the_installed_sshd() {
    for p in builtin_policies() {
        let cfg = effective(&p.id, None);
        assert_eq!(values(&cfg, "hostkey").len(), p.host_keys.len(), "{}", p.id);
        assert_eq!(values(&cfg, "loglevel"), vec!["VERBOSE"], "{}", p.id);
        assert_eq!(values(&cfg, "strictmodes"), vec!["yes"], "{}", p.id);
    }
}

#[test]
fn effective_values_match_the_sources() {
    let cvm = effective("nutanix-cvm-lockdown", None);
    let ahv = effective("nutanix-ahv-lockdown", None);
    assert!(values(&cvm, "pubkeyacceptedalgorithms").contains(&"ssh-rsa".to_string()));
    assert!(!values(&ahv, "pubkeyacceptedalgorithms").contains(&"ssh-rsa".to_string()));
    for cfg in [&cvm, &ahv] {
        assert_eq!(values(cfg, "passwordauthentication"), vec!["no"]);
        assert_eq!(values(cfg, "kbdinteractiveauthentication"), vec!["no"]);
    }
    assert_eq!(values(&ahv, "ciphers"), vec!["aes256-ctr"]);

    let def = effective("rhel9-default", None);
    assert!(!values(&def, "pubkeyacceptedalgorithms").contains(&"ssh-rsa".to_string()));
    assert_eq!(values(&def, "requiredrsasize"), vec!["2048"]);
    let legacy = effective("fedora-legacy", None);
    assert!(values(&legacy, "pubkeyacceptedalgorithms").contains(&"ssh-rsa".to_string()));
    assert!(values(&legacy, "ciphers").contains(&"3des-cbc".to_string()));
    assert_eq!(
        values(&effective("rhel9-future", None), "requiredrsasize"),
        vec!["3072"]
    );
    let sha1 = effective("rhel9-default-sha1", None);
    assert!(values(&sha1, "pubkeyacceptedalgorithms").contains(&"ssh-rsa".to_string()));
    assert!(!values(&sha1, "ciphers").iter().any(|c| c.ends_with("-cbc")));

    // AL2023: Ed25519 and ECDSA host keys only, unless the target adds RSA (cloud-init).
    let al = effective("al2023-default", None);
    assert_eq!(values(&al, "hostkey").len(), 2);
    assert!(values(&al, "hostkey").iter().all(|h| !h.contains("rsa")));
    let al_rsa = effective(
        "al2023-default",
        Some(vec!["ed25519".into(), "ecdsa".into(), "rsa".into()]),
    );
    assert!(values(&al_rsa, "hostkey").iter().any(|h| h.contains("rsa")));
}

#[test]
fn sshd_t_keywords_are_read_whatever_their_case_and_releases_parse() {
    use sshmatrix_servers::sshd::{parse_release, Effective};
    // OpenSSH 10.5 and later print mixed-case keywords; older releases lower case.
    let camel = "PubkeyAcceptedAlgorithms rsa-sha2-256,ssh-ed25519\nRequiredRSASize 3072\nPasswordAuthentication yes\n";
    let lower = camel.to_ascii_lowercase();
    for dump in [camel, lower.as_str()] {
        let e = Effective::parse(dump, &["ed25519".to_string()]);
        assert_eq!(e.pubkey_accepted, ["rsa-sha2-256", "ssh-ed25519"]);
        assert_eq!(e.required_rsa_size, 3072);
        assert!(e.password_auth);
    }
    assert_eq!(
        parse_release("OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.15"),
        Some((9, 2))
    );
    assert_eq!(parse_release("OpenSSH_10.0p2 Debian-7"), Some((10, 0)));
    assert_eq!(parse_release("dropbear"), None);
    let mut e = Effective::parse("", &[]);
    e.release = Some((9, 5));
    assert!(!e.filters_server_sig_algs());
    e.release = Some((9, 6));
    assert!(e.filters_server_sig_algs());
}

#[test]
fn keyboard_interactive_needs_the_method_pam_and_before_8_7_challenge_response() {
    use sshmatrix_servers::sshd::Effective;
    let on = |dump: &str| Effective::parse(dump, &[]).kbd_interactive_auth;
    assert!(on("kbdinteractiveauthentication yes\nusepam yes\n"));
    // OpenSSH 8.4 prints both keywords; challenge-response off leaves no device.
    assert!(on(
        "kbdinteractiveauthentication yes\nchallengeresponseauthentication yes\nusepam yes\n"
    ));
    assert!(!on(
        "kbdinteractiveauthentication yes\nchallengeresponseauthentication no\nusepam yes\n"
    ));
    // Without PAM Linux builds have no keyboard-interactive device.
    assert!(!on("kbdinteractiveauthentication yes\nusepam no\n"));
    assert!(!on("kbdinteractiveauthentication no\nusepam yes\n"));
}

/// `UsePAM yes` among a container target's matrix lines replaces the harness's `UsePAM no`
/// (sshd keeps the first value); a spec without it keeps PAM off.
#[test]
fn pam_is_on_only_when_the_matrix_lines_ask_and_the_paths_allow() {
    use sshmatrix_servers::sshd::{render_config, ConfigPaths, TargetSpec};
    let policy = builtin_policies()
        .into_iter()
        .find(|p| p.id == "upstream-9.2")
        .unwrap();
    let spec = |extra: &[&str]| TargetSpec {
        id: "t".into(),
        policy: policy.clone(),
        host_keys: vec!["ed25519".into()],
        extra: extra.iter().map(|s| s.to_string()).collect(),
        log_level: "VERBOSE".into(),
        dialect: None,
        trusted_extra: false,
        trusted_user_cas: Vec::new(),
        host_certificates: Vec::new(),
    };
    let paths = |pam: bool| ConfigPaths {
        authorized_keys_file: "ak".into(),
        host_keys: vec!["hk".into()],
        root_login: false,
        root_reason: "",
        trusted_user_ca_keys: None,
        pam,
        host_certificates: Vec::new(),
    };
    let asking = spec(&["UsePAM yes", "KbdInteractiveAuthentication yes"]);
    assert!(asking.asks_pam());
    assert!(!spec(&["usepam no"]).asks_pam());
    let first = |cfg: String| {
        cfg.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("usepam"))
            .unwrap()
            .to_string()
    };
    assert_eq!(first(render_config(&asking, &paths(true))), "UsePAM yes");
    assert_eq!(first(render_config(&asking, &paths(false))), "UsePAM no");
}

#[test]
fn offered_host_key_algorithms_are_those_of_the_loaded_keys_without_certificates() {
    let dump = "hostkeyalgorithms ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-512,ssh-rsa-sha256@ssh.com,ssh-rsa,ecdsa-sha2-nistp256\n";
    let e = sshmatrix_servers::Effective::parse(dump, &["ed25519".into(), "rsa".into()]);
    assert_eq!(
        e.hostkey,
        [
            "ssh-ed25519",
            "rsa-sha2-512",
            "ssh-rsa-sha256@ssh.com",
            "ssh-rsa"
        ]
    );
}

/// A target of `upstream-9.2` with `extra` lines, trusted or not.
fn target_with(extra: &[&str], trusted: bool) -> (tempfile::TempDir, SshdTarget) {
    let policy = builtin_policies()
        .into_iter()
        .find(|p| p.id == "upstream-9.2")
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("readback-")
        .tempdir_in(work())
        .unwrap();
    let spec = TargetSpec {
        id: "readback".into(),
        host_keys: policy.host_keys.clone(),
        policy,
        extra: extra.iter().map(|l| l.to_string()).collect(),
        log_level: "VERBOSE".into(),
        dialect: None,
        trusted_extra: trusted,
        trusted_user_cas: Vec::new(),
        host_certificates: Vec::new(),
    };
    let store = HostKeyStore::new(work().join("hostkeys")).unwrap();
    let target = SshdTarget::create(dir.path(), &spec, &store, &find_sshd().unwrap(), &[]).unwrap();
    (dir, target)
}

#[test]
fn untrusted_lines_that_make_sshd_run_or_read_something_are_read_back_and_refused() {
    // Whatever form got past a keyword check, sshd -T says what sshd will do.
    let cases: [(&[&str], &str); 3] = [
        (&["ForceCommand /usr/bin/id"], "forcecommand"),
        (
            &[
                "\"AuthorizedKeysCommand\" /usr/bin/id",
                "AuthorizedKeysCommandUser nobody",
            ],
            "authorizedkeyscommand",
        ),
        (
            &["Match all", "AuthorizedKeysCommandUser=nobody"],
            "authorizedkeyscommanduser",
        ),
    ];
    for (lines, keyword) in cases {
        let (_dir, t) = target_with(lines, false);
        match t.check_readback() {
            Err(sshmatrix_servers::TargetError::Untrusted { keyword: k, .. }) => {
                assert_eq!(k, keyword, "{lines:?}")
            }
            other => panic!("{lines:?}: {other:?}"),
        }
    }
    let (_dir, harmless) = target_with(&["Ciphers aes128-ctr", "MaxAuthTries 3"], false);
    harmless.check_readback().unwrap();
    let (_dir, trusted) = target_with(&["ForceCommand /usr/bin/id"], true);
    trusted.check_readback().unwrap();
}
