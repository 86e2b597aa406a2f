//! Every key tool's output, with and without a passphrase, read back by the real tools:
//! `ssh-keygen -y` for OpenSSH / PEM / PKCS#8 files, `puttygen` for PPK files. Passphrases reach
//! them through SSH_ASKPASS or a file, never argv.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rstest::rstest;
use sshmatrix_clients::load::{load_key, LoadError};
use sshmatrix_clients::{key_tools, Container, KeyFactory, KeyFile, KeySpec};

fn work() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".cache").join("sshmatrix-tests")
}

fn askpass(dir: &Path) -> PathBuf {
    let script = dir.join("askpass.sh");
    if !script.exists() {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            &script,
            "#!/bin/sh\nexec cat \"$SSHMATRIX_TEST_PASSFILE\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    script
}

/// The public key (type and base64) a real tool derives from the private key file.
fn real_tool_public(kf: &KeyFile, passfile: Option<&Path>) -> Result<String, String> {
    let out = match kf.format.container {
        Container::PpkV2 | Container::PpkV3 => {
            // The public half of a PPK is clear text: export the private half (which needs the
            // passphrase) and derive the public key from what was decrypted.
            let exported = kf.path.with_file_name("exported.openssh");
            let _ = std::fs::remove_file(&exported);
            let mut cmd = Command::new("puttygen");
            cmd.arg(&kf.path)
                .args(["-O", "private-openssh-new", "-o"])
                .arg(&exported);
            if let Some(p) = passfile {
                let empty = work().join("empty.pass");
                std::fs::write(&empty, "").unwrap();
                cmd.arg("--old-passphrase")
                    .arg(p)
                    .arg("--new-passphrase")
                    .arg(empty);
            }
            let out = cmd.stdin(Stdio::null()).output().unwrap();
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).to_string());
            }
            let derived = Command::new("ssh-keygen")
                .arg("-y")
                .arg("-f")
                .arg(&exported)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let _ = std::fs::remove_file(&exported);
            derived
        }
        _ => {
            let mut cmd = Command::new("ssh-keygen");
            cmd.arg("-y").arg("-f").arg(&kf.path).stdin(Stdio::null());
            if let Some(p) = passfile {
                cmd.env("SSH_ASKPASS", askpass(&work()))
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env("DISPLAY", ":0")
                    .env("SSHMATRIX_TEST_PASSFILE", p);
            }
            cmd.output().unwrap()
        }
    };
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}

fn header_facts(kf: &KeyFile) {
    let text = std::fs::read_to_string(&kf.path).unwrap();
    let mode = std::fs::metadata(&kf.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode");
    let dir_mode = std::fs::metadata(kf.path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700, "key directory mode");
    match (kf.format.container, kf.encrypted) {
        (Container::Pem, true) => {
            let want = kf.format.cipher.to_uppercase();
            assert!(text.contains(&format!("DEK-Info: {want},")), "{text}");
        }
        (Container::Pem, false) => assert!(!text.contains("ENCRYPTED")),
        (Container::Pkcs8, true) => {
            assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        }
        (Container::PpkV3, true) => {
            assert!(text.starts_with("PuTTY-User-Key-File-3:"));
            assert!(text.contains("Encryption: aes256-cbc"));
            assert!(text.contains("Key-Derivation: Argon2id"));
        }
        (Container::PpkV2, true) => {
            assert!(text.starts_with("PuTTY-User-Key-File-2:"));
            assert!(text.contains("Encryption: aes256-cbc"));
        }
        (Container::OpensshV1, true) => {
            let key = russh::keys::ssh_key::PrivateKey::from_openssh(&text).unwrap();
            assert_eq!(key.cipher().as_str(), kf.format.cipher);
            assert!(key.kdf().is_bcrypt());
        }
        _ => {}
    }
}

#[rstest]
fn every_tool_writes_files_the_real_tools_read(
    #[values("rsa-2042", "ecdsa-256", "ecdsa-521", "ed25519", "dsa-1024")] key: &str,
    #[values(false, true)] passphrase: bool,
) {
    let spec: KeySpec = key.parse().unwrap();
    let factory = KeyFactory::new(work().join("keys")).unwrap();
    for tool in key_tools() {
        let format = tool.format_for(&spec);
        // ssh-keygen 9.2 cannot read Ed25519 in PKCS#8; no tool in the catalog writes that pair
        // except the generic openssl-pkcs8 one.
        if format.container == Container::Pkcs8 && spec == KeySpec::Ed25519 {
            continue;
        }
        let kf = factory
            .get(spec, &tool, passphrase)
            .unwrap_or_else(|e| panic!("{} {key}: {e}", tool.id));
        header_facts(&kf);
        let public: String = kf
            .public_line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let got = real_tool_public(&kf, kf.passphrase_file.as_deref()).unwrap_or_else(|e| {
            panic!(
                "{} {key} pass={passphrase}: real tool refused: {e}",
                tool.id
            )
        });
        assert_eq!(got, public, "{} {key} pass={passphrase}", tool.id);

        // Our loader agrees, and a wrong passphrase is told apart.
        let text = std::fs::read_to_string(&kf.path).unwrap();
        let all = Container::ALL;
        let loaded = load_key(&text, &all, kf.passphrase().as_deref()).unwrap();
        assert_eq!(
            loaded
                .public_key()
                .to_openssh()
                .unwrap()
                .split_whitespace()
                .nth(1),
            public.split_whitespace().nth(1)
        );
        if passphrase {
            assert!(matches!(
                load_key(&text, &all, Some("wrong passphrase")),
                Err(LoadError::WrongPassphrase(_))
            ));
            let wrong = work().join("wrong.pass");
            std::fs::write(&wrong, "wrong passphrase").unwrap();
            assert!(
                real_tool_public(&kf, Some(&wrong)).is_err(),
                "{} accepted a wrong passphrase",
                tool.id
            );
        }
    }
}

#[test]
fn keys_are_cached_by_spec() {
    let factory = KeyFactory::new(work().join("keys")).unwrap();
    let tool = key_tools()
        .into_iter()
        .find(|t| t.id == "teraterm-4.106")
        .unwrap();
    let a = factory.get(KeySpec::Rsa(2048), &tool, true).unwrap();
    let before = std::fs::metadata(&a.path).unwrap().modified().unwrap();
    let b = factory.get(KeySpec::Rsa(2048), &tool, true).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(
        before,
        std::fs::metadata(&b.path).unwrap().modified().unwrap()
    );
}

#[test]
fn a_client_that_does_not_read_a_container_says_so() {
    let factory = KeyFactory::new(work().join("keys")).unwrap();
    let tool = key_tools()
        .into_iter()
        .find(|t| t.id == "teraterm-4.106-pem")
        .unwrap();
    let kf = factory.get(KeySpec::Ecdsa(256), &tool, false).unwrap();
    let text = std::fs::read_to_string(&kf.path).unwrap();
    let err = load_key(&text, &[Container::PpkV2, Container::PpkV3], None).unwrap_err();
    assert_eq!(
        err,
        LoadError::UnsupportedFormat {
            container: "pem".into(),
            reads: "ppk-v2, ppk-v3".into()
        }
    );
}
