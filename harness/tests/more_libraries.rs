//! The automation libraries from this machine's Debian packages — Ruby net-ssh 7.0.1 (Vagrant,
//! Chef, Capistrano), Perl Net::SSH2 0.73 over libssh2 1.10.0, and Trilead SSH-2 build 213 (the
//! library Jenkins' SSH agents grew from) — and Twisted Conch's client (PyPI), logging in for real to OpenSSH 9.2 as shipped, to
//! one that accepts only ssh-rsa for RSA keys, and to 8.7 with SHA-1 key exchange re-enabled:
//! each gets in where its sources say, is refused for the reason they give, and agrees with its
//! emulation profile's prediction on every cell.

mod common;

use sshmatrix_reports::{CellResult, Report, Verdict};

const MATRIX: &str = r#"
title = "Debian-packaged libraries"
[axes]
keys = ["rsa-2048", "ecdsa-256", "ed25519", "dsa-1024"]
passphrase = ["no", "yes"]
pairs = [
  { client = "real-net-ssh-7.0.1", key_tool = "ssh-keygen" },
  { client = "real-net-ssh-7.0.1", key_tool = "ssh-keygen-pem" },
  { client = "real-net-ssh2-0.73", key_tool = "ssh-keygen" },
  { client = "real-trilead-build213", key_tool = "ssh-keygen-pem" },
  { client = "net-ssh-7.0.1", key_tool = "ssh-keygen-pem" },
  { client = "real-conch-24.11.0", key_tool = "ssh-keygen" },
]
[[targets]]
id = "upstream-9.2"
policy = "upstream-9.2"
users = ["deploy"]
[[targets]]
id = "ssh-rsa-only"
policy = "upstream-9.2"
sshd = ["PubkeyAcceptedAlgorithms ssh-rsa,ssh-ed25519,ecdsa-sha2-nistp256"]
users = ["deploy"]
[[targets]]
id = "sha1-kex"
policy = "upstream-8.7"
sshd = ["KexAlgorithms +diffie-hellman-group14-sha1", "HostKeyAlgorithms +ssh-rsa", "PubkeyAcceptedAlgorithms +ssh-rsa,ssh-dss"]
users = ["deploy"]
"#;

fn cell<'a>(r: &'a Report, client: &str, tool: &str, key: &str, target: &str) -> &'a CellResult {
    r.cells
        .iter()
        .find(|c| {
            c.client == format!("real-{client}")
                && c.key_tool == tool
                && c.key_type == key
                && c.target == target
                && !c.passphrase
        })
        .unwrap_or_else(|| panic!("no cell {client} {tool} {key} {target}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn debian_packaged_libraries_log_in_and_are_refused_for_their_sourced_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::matrix_file(dir.path(), "debian-libraries.toml", MATRIX);
    let r = common::run(common::plan(&path)).await;
    assert_eq!(r.cells.len(), 6 * 4 * 2 * 3);
    common::assert_predicted(&r);
    let said = |c: &CellResult| format!("{} [{}] {}", c.verdict, c.code, c.reason);
    // net-ssh: with OpenSSL 3 its openssh-key-v1 loader builds Ed25519 keys only.
    let x = cell(&r, "net-ssh-7.0.1", "ssh-keygen", "rsa", "upstream-9.2");
    assert_eq!(x.code, "key-load-failed", "{}", said(x));
    assert_eq!(
        x.client_reason,
        "net-ssh: PKeyError: rsa#set_key= is incompatible with OpenSSL 3.0"
    );
    let x = cell(&r, "net-ssh-7.0.1", "ssh-keygen", "ecdsa", "upstream-9.2");
    assert_eq!(x.code, "key-load-failed", "{}", said(x));
    for (tool, key) in [
        ("ssh-keygen", "ed25519"),
        ("ssh-keygen-pem", "rsa"),
        ("ssh-keygen-pem", "ecdsa"),
    ] {
        let x = cell(&r, "net-ssh-7.0.1", tool, key, "upstream-9.2");
        assert_eq!(x.verdict, Verdict::Ok, "{tool} {key}: {}", said(x));
    }
    // ...and tries rsa-sha2-256, then ssh-rsa on the same connection: in where only ssh-rsa is
    // accepted, after the server's refusal of the first.
    let x = cell(&r, "net-ssh-7.0.1", "ssh-keygen-pem", "rsa", "ssh-rsa-only");
    assert_eq!(x.verdict, Verdict::Ok, "{}", said(x));
    let log = x.server_evidence.join("\n");
    assert!(
        log.contains("signature algorithm rsa-sha2-256 not in PubkeyAcceptedAlgorithms")
            && log.contains("Accepted publickey"),
        "{log}"
    );
    // The emulation does the same: refused, then in, and says so.
    let e = r
        .cells
        .iter()
        .find(|c| {
            c.client == "net-ssh-7.0.1"
                && c.key_type == "rsa"
                && c.target == "ssh-rsa-only"
                && !c.passphrase
        })
        .unwrap();
    assert_eq!(e.verdict, Verdict::Ok, "{}", said(e));
    assert!(
        e.notes.iter().any(|n| n.ends_with(
            "tried its RSA signature algorithms in turn on one connection; refused: rsa-sha2-256"
        )),
        "{:?}",
        e.notes
    );
    // Net::SSH2 is its libssh2 1.10: RSA signs ssh-rsa only.
    let x = cell(&r, "net-ssh2-0.73", "ssh-keygen", "rsa", "upstream-9.2");
    assert_eq!(x.code, "auth-signature-rejected", "{}", said(x));
    assert_eq!(
        x.reason,
        "server: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms"
    );
    let x = cell(&r, "net-ssh2-0.73", "ssh-keygen", "rsa", "ssh-rsa-only");
    assert_eq!(x.verdict, Verdict::Ok, "{}", said(x));
    for key in ["ecdsa", "ed25519"] {
        let x = cell(&r, "net-ssh2-0.73", "ssh-keygen", key, "upstream-9.2");
        assert_eq!(x.verdict, Verdict::Ok, "{key}: {}", said(x));
    }
    // Trilead: SHA-1 key exchange only, so no OpenSSH 9.2 as shipped; with it re-enabled, in
    // with RSA (an ssh-rsa signature: works, but weak) and DSA. No ECDSA, no Ed25519 keys.
    let x = cell(
        &r,
        "trilead-build213",
        "ssh-keygen-pem",
        "rsa",
        "upstream-9.2",
    );
    assert_eq!(x.code, "kex-no-common", "{}", said(x));
    for key in ["rsa", "dsa"] {
        let x = cell(&r, "trilead-build213", "ssh-keygen-pem", key, "sha1-kex");
        assert_eq!(x.verdict, Verdict::Ok, "{key}: {}", said(x));
        assert!(
            !x.weak.is_empty(),
            "{key}: an ssh-rsa / ssh-dss login is weak"
        );
    }
    let x = cell(
        &r,
        "trilead-build213",
        "ssh-keygen-pem",
        "ecdsa",
        "sha1-kex",
    );
    assert_eq!(x.code, "key-load-failed", "{}", said(x));
    assert_eq!(
        x.client_reason,
        "trilead: IOException: Invalid PEM structure, '-----BEGIN...' missing"
    );
    // Twisted Conch's client announces ext-info-c, yet signs RSA with ssh-rsa only.
    let x = cell(&r, "conch-24.11.0", "ssh-keygen", "rsa", "upstream-9.2");
    assert_eq!(
        x.reason,
        "server: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms",
        "{}",
        said(x)
    );
    for (key, target) in [
        ("rsa", "ssh-rsa-only"),
        ("ecdsa", "upstream-9.2"),
        ("ed25519", "upstream-9.2"),
    ] {
        let x = cell(&r, "conch-24.11.0", "ssh-keygen", key, target);
        assert_eq!(x.verdict, Verdict::Ok, "{key} {target}: {}", said(x));
    }
    // Passphrase-protected files are read as well.
    let pp = r.cells.iter().find(|c| {
        c.client == "real-trilead-build213"
            && c.key_type == "rsa"
            && c.passphrase
            && c.target == "sha1-kex"
    });
    assert_eq!(pp.map(|c| c.verdict), Some(Verdict::Ok));
}

#[tokio::test(flavor = "multi_thread")]
async fn debian_packaged_libraries_with_an_agent_or_a_password() {
    let t = r#"
title = "Debian-packaged libraries with an agent or a password"
[axes]
keys = ["rsa-2048", "ed25519"]
passphrase = ["no"]
holders = ["agent", "password"]
pairs = [
  { client = "real-net-ssh-7.0.1", key_tool = "ssh-keygen" },
  { client = "real-net-ssh2-0.73", key_tool = "ssh-keygen" },
]
[[targets]]
id = "upstream-9.2"
policy = "upstream-9.2"
users = ["deploy"]
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = common::matrix_file(dir.path(), "holders.toml", t);
    let r = common::run(common::plan(&path)).await;
    assert_eq!(r.cells.len(), 2 * 2 * 2);
    common::assert_predicted(&r);
    let held = |client: &str, key: &str, holder: &str| {
        r.cells
            .iter()
            .find(|x| x.client == client && x.key_type == key && x.holder == holder)
            .unwrap_or_else(|| panic!("{client} {key} {holder}"))
    };
    for c in ["real-net-ssh-7.0.1", "real-net-ssh2-0.73"] {
        let ok = held(c, "ed25519", "agent");
        assert_eq!(ok.verdict, Verdict::Ok, "{c}: {}", ok.reason);
        let pw = held(c, "ed25519", "password");
        assert_eq!(pw.code, "auth-password-rejected", "{c}: {}", pw.reason);
    }
    // The agent signs net-ssh's RSA key with rsa-sha2-256 (the SSH_AGENT_RSA_SHA2_256 flag),
    // libssh2 1.10's with ssh-rsa.
    assert_eq!(
        held("real-net-ssh-7.0.1", "rsa", "agent").verdict,
        Verdict::Ok
    );
    let x = held("real-net-ssh2-0.73", "rsa", "agent");
    assert_eq!(x.code, "auth-signature-rejected", "{}", x.reason);
}

#[test]
fn a_debian_library_of_another_version_is_named_at_install() {
    // A profile pinning a net-ssh release this machine's Debian does not ship.
    let dir = tempfile::tempdir().unwrap();
    let profile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../clients/profiles/real-net-ssh-7.0.1.toml"),
    )
    .unwrap()
    .replace("id = \"real-net-ssh-7.0.1\"", "id = \"real-net-ssh-6.1.0\"")
    .replace("version = \"7.0.1\"", "version = \"6.1.0\"");
    std::fs::write(dir.path().join("real-net-ssh-6.1.0.toml"), profile).unwrap();
    std::fs::create_dir_all(common::work_dir()).unwrap();
    let work = tempfile::tempdir_in(common::work_dir()).unwrap();
    let out = common::bin()
        .arg("--profiles")
        .arg(dir.path())
        .args(["clients", "install", "real-net-ssh-6.1.0", "--work-dir"])
        .arg(work.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("provide 7.0.1; the profile is 6.1.0"), "{err}");
    assert!(!work.path().join("clients/real-net-ssh-6.1.0").exists());
}
