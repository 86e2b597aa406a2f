//! The key factory: generates user keys and writes them in the format of a key tool, with or
//! without a passphrase, into a cache keyed by (key, tool, passphrase) so reruns reuse them.
//!
//! Private keys are written 0600 in 0700 directories. Passphrases are random, stored 0600 next to
//! the key, and handed to other programs only through files or environment, never argv.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use openssl::dsa::Dsa;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher as SslCipher;
use russh::keys::ssh_key::private::PrivateKey;
use russh::keys::ssh_key::{Cipher, Kdf, LineEnding};

use crate::keyspec::KeySpec;
use crate::keytool::{Container, KeyFormat, KeyTool};

pub use crate::error::FactoryError;
pub use crate::material::to_ssh_key;

/// A tool's spawn error: missing (not installed) or another failure with its cause.
fn spawn_error(program: &str, package: &str, e: std::io::Error) -> FactoryError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FactoryError::MissingTool {
            program: program.into(),
            fix: format!("install {package} (apt-get install {package})"),
        },
        _ => FactoryError::Unsupported(format!("cannot run {program}: {e}")),
    }
}

/// A generated key file in the cache.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The key.
    pub spec: KeySpec,
    /// The tool that "made" it.
    pub tool_id: String,
    /// The file format written.
    pub format: KeyFormat,
    /// Whether the file is encrypted.
    pub encrypted: bool,
    /// Path of the private key file.
    pub path: PathBuf,
    /// Path of the passphrase file (0600), when encrypted.
    pub passphrase_file: Option<PathBuf>,
    /// The public key in authorized_keys form (`ssh-rsa AAAA... comment`).
    pub public_line: String,
    /// SHA256 fingerprint of the public key.
    pub fingerprint: String,
    /// A pair of its own for certificate cells ([`KeyFactory::get_certified`]).
    pub certified: bool,
}

impl KeyFile {
    /// Reads the passphrase from its 0600 file.
    pub fn passphrase(&self) -> Option<String> {
        self.passphrase_file
            .as_ref()
            .and_then(|p| fs::read_to_string(p).ok())
            .map(|s| s.trim_end().to_string())
    }

    /// The format name as reported (`pem/aes-128-cbc`, `ppk-v3`, ...).
    pub fn format_name(&self) -> String {
        self.format.describe(self.encrypted)
    }
}

/// A temporary sibling name unique to this process and call (concurrent cells convert the same
/// key at once).
fn temp_sibling(path: &Path, stem: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    path.with_file_name(format!(".{stem}.{}.{n}", std::process::id()))
}

pub use sshmatrix_core::fsx::private_dir;

/// Writes a 0600 file, replacing any previous one.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

/// Writes an owner mark into a fresh build directory (so that a sweep can tell whether the
/// build's process is still alive when it finds the directory).
pub type BuildMarker = fn(&Path) -> std::io::Result<()>;

/// The key cache: one directory per (key, tool, passphrase) under `root`.
#[derive(Debug, Clone)]
pub struct KeyFactory {
    root: PathBuf,
    marker: Option<BuildMarker>,
}

/// The prefix of the scratch directories keys are built in (`root/.build-*`).
pub const BUILD_PREFIX: &str = ".build-";

impl KeyFactory {
    /// A factory caching under `root` (created 0700).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        private_dir(&root)?;
        Ok(KeyFactory { root, marker: None })
    }

    /// Marks every build directory with `marker` before anything secret is written into it.
    pub fn with_build_marker(mut self, marker: BuildMarker) -> Self {
        self.marker = Some(marker);
        self
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the cached key file for (spec, tool, passphrase), generating it on first use.
    /// File-system errors name the key cache.
    pub fn get(
        &self,
        spec: KeySpec,
        tool: &KeyTool,
        passphrase: bool,
    ) -> Result<KeyFile, FactoryError> {
        self.get_or_build(spec, tool, passphrase, false)
            .map_err(|e| e.at(&self.root))
    }

    /// Like [`KeyFactory::get`], but a pair of its own for certificate cells: a certificate
    /// cell must not log in with its bare key when its certificate is refused, so its public
    /// key is never one the targets register.
    pub fn get_certified(
        &self,
        spec: KeySpec,
        tool: &KeyTool,
        passphrase: bool,
    ) -> Result<KeyFile, FactoryError> {
        self.get_or_build(spec, tool, passphrase, true)
            .map_err(|e| e.at(&self.root))
    }

    fn get_or_build(
        &self,
        spec: KeySpec,
        tool: &KeyTool,
        passphrase: bool,
        certified: bool,
    ) -> Result<KeyFile, FactoryError> {
        let format = tool.format_for(&spec).clone();
        let dir = self.root.join(format!(
            "{spec}_{}_{}{}",
            tool.id,
            if passphrase { "pp" } else { "nopp" },
            if certified { "_certified" } else { "" }
        ));
        let file = |dir: &Path| KeyFile {
            spec,
            tool_id: tool.id.clone(),
            format: format.clone(),
            encrypted: passphrase,
            path: dir.join("id"),
            passphrase_file: passphrase.then(|| dir.join("passphrase")),
            public_line: String::new(),
            fingerprint: String::new(),
            certified,
        };
        if dir.exists() {
            trusted_entry(&dir)?;
        }
        if let Some(done) = read_cached(&dir, file(&dir)) {
            return Ok(done);
        }
        // A cache entry of another format (the tool's data changed): made again.
        if dir.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
        // Build in a private scratch directory, then rename into place (atomic for concurrent
        // runs sharing the cache).
        let scratch = tempfile::Builder::new()
            .prefix(BUILD_PREFIX)
            .tempdir_in(&self.root)?;
        private_dir(scratch.path())?;
        if let Some(mark) = self.marker {
            mark(scratch.path())?;
        }
        let material = generate(spec)?;
        let pass = passphrase.then(random_passphrase);
        if let Some(p) = &pass {
            write_private(&scratch.path().join("passphrase"), p.as_bytes())?;
        }
        let comment = match certified {
            true => format!("sshmatrix {spec} {} certified", tool.id),
            false => format!("sshmatrix {spec} {}", tool.id),
        };
        let ssh = to_ssh_key(&material, &comment)?;
        let bytes = write_format(&material, &ssh, &format, pass.as_deref(), scratch.path())?;
        write_private(&scratch.path().join("id"), &bytes)?;
        let public = ssh
            .public_key()
            .to_openssh()
            .map_err(|e| FactoryError::SshKey(e.to_string()))?;
        fs::write(scratch.path().join("id.pub"), format!("{public}\n"))?;
        fs::write(scratch.path().join("format"), format.to_string())?;
        let scratch = scratch.keep();
        match fs::rename(&scratch, &dir) {
            Ok(()) => {}
            // Another run finished the same key first: use theirs.
            Err(_) if dir.join("id.pub").exists() => {
                let _ = fs::remove_dir_all(&scratch);
            }
            Err(e) => return Err(e.into()),
        }
        read_cached(&dir, file(&dir))
            .ok_or_else(|| FactoryError::Unsupported(format!("cache entry {dir:?} unreadable")))
    }
}

impl KeyFactory {
    /// An openssh-key-v1 copy of a key file (same key, same passphrase), for clients that read
    /// only that format such as the OpenSSH client. Cached next to the original.
    pub fn openssh_copy(&self, kf: &KeyFile) -> Result<PathBuf, FactoryError> {
        let copy = kf.path.with_file_name("id.openssh");
        if copy.exists() {
            return Ok(copy);
        }
        let text = fs::read_to_string(&kf.path)?;
        let pass = kf.passphrase();
        let key = crate::load::load_key(&text, &Container::ALL, pass.as_deref())
            .map_err(|e| FactoryError::Unsupported(e.to_string()))?;
        let tmp = temp_sibling(&kf.path, "id.openssh");
        write_private(
            &tmp,
            openssh_v1(&key, "aes256-ctr", pass.as_deref())?.as_bytes(),
        )?;
        fs::rename(&tmp, &copy)?;
        Ok(copy)
    }
}

impl KeyFactory {
    /// A PPK copy of a key file (same key, same passphrase) in `version` 2 or 3 for PuTTY's
    /// plink (PuTTY before 0.75 reads only v2), written by the installed puttygen from the file
    /// itself (PEM, openssh-key-v1, PPK) or its OpenSSH copy.
    pub fn ppk_copy(&self, kf: &KeyFile, version: u8) -> Result<PathBuf, FactoryError> {
        match (kf.format.container, version) {
            (Container::PpkV3, 3) | (Container::PpkV2, 2) => return Ok(kf.path.clone()),
            _ => {}
        }
        let name = if version == 2 { "id.ppk2" } else { "id.ppk" };
        let copy = kf.path.with_file_name(name);
        if copy.exists() {
            return Ok(copy);
        }
        let source = match kf.format.container {
            Container::Pem | Container::OpensshV1 | Container::PpkV2 | Container::PpkV3 => {
                kf.path.clone()
            }
            _ => self.openssh_copy(kf)?,
        };
        let tmp = temp_sibling(&kf.path, name);
        let mut cmd = Command::new("puttygen");
        cmd.process_group(0);
        cmd.arg(&source)
            .args(["-O", "private", "-o"])
            .arg(&tmp)
            .arg("--ppk-param")
            .arg(format!("version={version}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(pf) = &kf.passphrase_file {
            cmd.arg("--old-passphrase")
                .arg(pf)
                .arg("--new-passphrase")
                .arg(pf);
        }
        let out = cmd
            .output()
            .map_err(|e| spawn_error("puttygen", "putty-tools", e))?;
        if !out.status.success() {
            return Err(FactoryError::Unsupported(format!(
                "puttygen failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        fs::rename(&tmp, &copy)?;
        Ok(copy)
    }
}

impl KeyFactory {
    /// A Dropbear-format copy of an unencrypted key file for dbclient, written by the installed
    /// dropbearconvert from the key's OpenSSH copy.
    pub fn dropbear_copy(&self, kf: &KeyFile) -> Result<PathBuf, FactoryError> {
        let copy = kf.path.with_file_name("id.dropbear");
        if copy.exists() {
            return Ok(copy);
        }
        let source = self.openssh_copy(kf)?;
        let tmp = temp_sibling(&kf.path, "id.dropbear");
        let out = Command::new("dropbearconvert")
            .process_group(0)
            .args(["openssh", "dropbear"])
            .arg(&source)
            .arg(&tmp)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error("dropbearconvert", "dropbear-bin", e))?;
        if !out.status.success() {
            return Err(FactoryError::Unsupported(format!(
                "dropbearconvert failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        fs::rename(&tmp, &copy)?;
        Ok(copy)
    }
}

/// A cache entry must be this user's and private (its directory, key and passphrase); one made
/// by another user (a shared or pre-created work directory) is refused, never handed out.
fn trusted_entry(dir: &Path) -> Result<(), FactoryError> {
    use sshmatrix_core::fsx::private_entry;
    let refuse = |why: String| {
        FactoryError::Untrusted(format!(
            "key cache entry refused: {why}; remove {} (sshmatrix makes it again)",
            dir.display()
        ))
    };
    private_entry(dir).map_err(refuse)?;
    for name in ["id", "passphrase"] {
        let f = dir.join(name);
        if f.exists() {
            private_entry(&f).map_err(refuse)?;
        }
    }
    for name in ["id.pub", "format"] {
        let f = dir.join(name);
        let meta = match fs::symlink_metadata(&f) {
            Ok(m) => m,
            Err(_) => continue,
        };
        use std::os::unix::fs::MetadataExt;
        if meta.file_type().is_symlink() || meta.uid() != sshmatrix_core::fsx::euid() {
            return Err(refuse(format!(
                "{} is a link or another user's",
                f.display()
            )));
        }
    }
    Ok(())
}

fn read_cached(dir: &Path, mut file: KeyFile) -> Option<KeyFile> {
    let public = fs::read_to_string(dir.join("id.pub")).ok()?;
    if !file.path.exists() || file.passphrase_file.as_ref().is_some_and(|p| !p.exists()) {
        return None;
    }
    // The entry records the format it was written in; another one is stale.
    if fs::read_to_string(dir.join("format")).ok()? != file.format.to_string() {
        return None;
    }
    let key = russh::keys::ssh_key::PublicKey::from_openssh(public.trim()).ok()?;
    file.fingerprint = key
        .fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
        .to_string();
    file.public_line = public.trim().to_string();
    Some(file)
}

/// A fresh random secret (36 hex digits): key passphrases, account passwords.
pub fn random_passphrase() -> String {
    let mut buf = [0u8; 18];
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL RNG");
    hex::encode(buf)
}

/// Generates fresh key material with OpenSSL.
pub fn generate(spec: KeySpec) -> Result<PKey<Private>, FactoryError> {
    Ok(match spec {
        KeySpec::Rsa(bits) => PKey::from_rsa(Rsa::generate(bits)?)?,
        KeySpec::Ecdsa(bits) => {
            let group = EcGroup::from_curve_name(curve_nid(bits))?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        KeySpec::Ed25519 => PKey::generate_ed25519()?,
        KeySpec::Dsa(bits) => PKey::from_dsa(Dsa::generate(bits)?)?,
    })
}

fn curve_nid(bits: u32) -> Nid {
    match bits {
        256 => Nid::X9_62_PRIME256V1,
        384 => Nid::SECP384R1,
        _ => Nid::SECP521R1,
    }
}

/// Writes the key in `format`, encrypted with `pass` when given.
fn write_format(
    material: &PKey<Private>,
    ssh: &PrivateKey,
    format: &KeyFormat,
    pass: Option<&str>,
    scratch: &Path,
) -> Result<Vec<u8>, FactoryError> {
    match format.container {
        Container::OpensshV1 => Ok(openssh_v1(ssh, &format.cipher, pass)?.into_bytes()),
        Container::Pem => {
            let cipher = match format.cipher.as_str() {
                "des-ede3-cbc" => SslCipher::des_ede3_cbc(),
                _ => SslCipher::aes_128_cbc(),
            };
            Ok(match (material.id(), pass) {
                (Id::RSA, Some(p)) => material
                    .rsa()?
                    .private_key_to_pem_passphrase(cipher, p.as_bytes())?,
                (Id::RSA, None) => material.rsa()?.private_key_to_pem()?,
                (Id::EC, Some(p)) => material
                    .ec_key()?
                    .private_key_to_pem_passphrase(cipher, p.as_bytes())?,
                (Id::EC, None) => material.ec_key()?.private_key_to_pem()?,
                (Id::DSA, Some(p)) => material
                    .dsa()?
                    .private_key_to_pem_passphrase(cipher, p.as_bytes())?,
                (Id::DSA, None) => material.dsa()?.private_key_to_pem()?,
                _ => {
                    return Err(FactoryError::Unsupported(
                        "Ed25519 keys have no traditional PEM form".into(),
                    ))
                }
            })
        }
        Container::Pkcs8 => Ok(match pass {
            Some(p) => material
                .private_key_to_pem_pkcs8_passphrase(SslCipher::aes_256_cbc(), p.as_bytes())?,
            None => material.private_key_to_pem_pkcs8()?,
        }),
        Container::PpkV2 | Container::PpkV3 => {
            let version = if format.container == Container::PpkV2 {
                "2"
            } else {
                "3"
            };
            puttygen_convert(material, ssh, version, pass, scratch)
        }
    }
}

/// Encodes an openssh-key-v1 file (bcrypt KDF, 16 rounds) with the given cipher.
pub fn openssh_v1(
    key: &PrivateKey,
    cipher: &str,
    pass: Option<&str>,
) -> Result<String, FactoryError> {
    let err = |e: russh::keys::ssh_key::Error| FactoryError::SshKey(e.to_string());
    let key = match pass {
        None => key.clone(),
        Some(p) => {
            let cipher = match cipher {
                "aes256-cbc" => Cipher::Aes256Cbc,
                _ => Cipher::Aes256Ctr,
            };
            let mut salt = vec![0u8; 16];
            let mut check = [0u8; 4];
            openssl::rand::rand_bytes(&mut salt)?;
            openssl::rand::rand_bytes(&mut check)?;
            key.encrypt_with(
                cipher,
                Kdf::Bcrypt { salt, rounds: 16 },
                u32::from_be_bytes(check),
                p,
            )
            .map_err(err)?
        }
    };
    Ok(key.to_openssh(LineEnding::LF).map_err(err)?.to_string())
}

/// Converts a key to PPK with the installed `puttygen` (the passphrase goes through files).
/// The source is traditional PEM, which puttygen imports natively; Ed25519, which has no such
/// form, goes through openssh-key-v1.
fn puttygen_convert(
    material: &PKey<Private>,
    ssh: &PrivateKey,
    version: &str,
    pass: Option<&str>,
    scratch: &Path,
) -> Result<Vec<u8>, FactoryError> {
    let src = scratch.join("src.openssh");
    let out = scratch.join("out.ppk");
    let passfile = scratch.join("puttygen.pass");
    let source = if material.id() == Id::ED25519 {
        openssh_v1(ssh, "aes256-ctr", pass)?.into_bytes()
    } else {
        let pem = KeyFormat {
            container: Container::Pem,
            cipher: "aes-128-cbc".into(),
        };
        write_format(material, ssh, &pem, pass, scratch)?
    };
    write_private(&src, &source)?;
    let mut cmd = Command::new("puttygen");
    cmd.process_group(0);
    cmd.arg(&src)
        .args(["-O", "private", "-o"])
        .arg(&out)
        .args(["--ppk-param", &format!("version={version}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = pass {
        write_private(&passfile, format!("{p}\n").as_bytes())?;
        cmd.arg("--old-passphrase")
            .arg(&passfile)
            .arg("--new-passphrase")
            .arg(&passfile);
    }
    let output = cmd
        .output()
        .map_err(|e| spawn_error("puttygen", "putty-tools", e))?;
    let _ = fs::remove_file(&src);
    let _ = fs::remove_file(&passfile);
    if !output.status.success() {
        return Err(FactoryError::Unsupported(format!(
            "puttygen failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let bytes = fs::read(&out)?;
    let _ = fs::remove_file(&out);
    Ok(bytes)
}
