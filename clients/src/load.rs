//! Reading a private key file the way a client does: detect its container, refuse containers the
//! client cannot read, decrypt with the passphrase.

use openssl::pkey::PKey;
use russh::keys::ssh_key::PrivateKey;

use crate::keytool::Container;
use crate::material::to_ssh_key;

/// Why a client could not load a key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The client does not read this container at all.
    #[error("cannot read {container} key files (it reads: {reads})")]
    UnsupportedFormat {
        /// The container found.
        container: String,
        /// What the client reads.
        reads: String,
    },
    /// The file is encrypted and the passphrase does not decrypt it.
    #[error("wrong passphrase for {0} key file")]
    WrongPassphrase(String),
    /// The file is encrypted but no passphrase was given.
    #[error("{0} key file is encrypted and no passphrase was given")]
    NeedPassphrase(String),
    /// The client reads the container, but not for this key (a profile's `partial_reads`).
    #[error("{0}")]
    Partial(String),
    /// The file is not a key file sshmatrix recognises.
    #[error("unrecognised key file: {0}")]
    Unrecognised(String),
}

/// Detects the container of a key file from its first line.
pub fn detect(text: &str) -> Option<Container> {
    let first = text.lines().next().unwrap_or("").trim();
    Some(match first {
        "-----BEGIN OPENSSH PRIVATE KEY-----" => Container::OpensshV1,
        "-----BEGIN PRIVATE KEY-----" | "-----BEGIN ENCRYPTED PRIVATE KEY-----" => Container::Pkcs8,
        "-----BEGIN RSA PRIVATE KEY-----"
        | "-----BEGIN EC PRIVATE KEY-----"
        | "-----BEGIN DSA PRIVATE KEY-----" => Container::Pem,
        f if f.starts_with("PuTTY-User-Key-File-2:") => Container::PpkV2,
        f if f.starts_with("PuTTY-User-Key-File-3:") => Container::PpkV3,
        _ => return None,
    })
}

/// Whether a key file's text is encrypted.
pub fn is_encrypted(text: &str, container: Container) -> bool {
    match container {
        Container::OpensshV1 => PrivateKey::from_openssh(text).is_ok_and(|k| k.is_encrypted()),
        Container::Pkcs8 => text.starts_with("-----BEGIN ENCRYPTED"),
        Container::Pem => text.contains("Proc-Type: 4,ENCRYPTED"),
        Container::PpkV2 | Container::PpkV3 => !text.contains("Encryption: none"),
    }
}

/// The container of a key file's `text`, if a client that reads `reads` can read it (decrypting
/// is not tried).
pub fn check_reads(text: &str, reads: &[Container]) -> Result<Container, LoadError> {
    let container = detect(text).ok_or_else(|| LoadError::Unrecognised("unknown header".into()))?;
    if !reads.contains(&container) {
        return Err(LoadError::UnsupportedFormat {
            container: container.name().to_string(),
            reads: reads
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(container)
}

/// Loads `text` as a client that reads `reads` would, decrypting with `passphrase`.
pub fn load_key(
    text: &str,
    reads: &[Container],
    passphrase: Option<&str>,
) -> Result<PrivateKey, LoadError> {
    let container = check_reads(text, reads)?;
    let name = container.name().to_string();
    let encrypted = is_encrypted(text, container);
    if encrypted && passphrase.is_none() {
        return Err(LoadError::NeedPassphrase(name));
    }
    let pass = if encrypted { passphrase } else { None };
    match container {
        Container::OpensshV1 => {
            let key = PrivateKey::from_openssh(text)
                .map_err(|e| LoadError::Unrecognised(e.to_string()))?;
            match pass {
                Some(p) => key.decrypt(p).map_err(|_| LoadError::WrongPassphrase(name)),
                None => Ok(key),
            }
        }
        Container::PpkV2 | Container::PpkV3 => {
            russh::keys::decode_secret_key(text, pass).map_err(|e| {
                if encrypted {
                    LoadError::WrongPassphrase(name)
                } else {
                    LoadError::Unrecognised(e.to_string())
                }
            })
        }
        Container::Pem | Container::Pkcs8 => {
            let pkey = match pass {
                Some(p) => PKey::private_key_from_pem_passphrase(text.as_bytes(), p.as_bytes())
                    .map_err(|_| LoadError::WrongPassphrase(name))?,
                None => PKey::private_key_from_pem(text.as_bytes())
                    .map_err(|e| LoadError::Unrecognised(e.to_string()))?,
            };
            to_ssh_key(&pkey, "").map_err(|e| LoadError::Unrecognised(e.to_string()))
        }
    }
}
