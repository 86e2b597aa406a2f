//! What an OpenSSH target needs of this host: the sshd binary and its release, cached host
//! keys, the account cells log in to, and the target's directory.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::TargetError;

/// Locates the sshd binary.
pub fn find_sshd() -> Result<PathBuf, TargetError> {
    if let Some(p) = std::env::var_os("SSHMATRIX_SSHD") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(TargetError::NoSshd);
        }
        if sshd_version(&p).is_empty() {
            return Err(TargetError::NotSshd(format!(
                "SSHMATRIX_SSHD={} is not OpenSSH's sshd (`{} -V` prints no OpenSSH version)",
                p.display(),
                p.display()
            )));
        }
        return Ok(p);
    }
    let mut candidates = vec![PathBuf::from("/usr/sbin/sshd")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("sshd")));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or(TargetError::NoSshd)
}

/// The version banner of an sshd binary (`OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL ...`).
pub fn sshd_version(sshd: &Path) -> String {
    std::process::Command::new(sshd)
        .process_group(0)
        .arg("-V")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stderr).to_string();
            text.lines()
                .find(|l| l.starts_with("OpenSSH"))
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Host keys, generated once per type with ssh-keygen and cached.
#[derive(Debug, Clone)]
pub struct HostKeyStore {
    dir: PathBuf,
}

impl HostKeyStore {
    /// A store in `dir` (created 0700).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        sshmatrix_core::fsx::private_entry(&dir).map_err(std::io::Error::other)?;
        Ok(HostKeyStore { dir })
    }

    /// Path of the host key of `kind` (`ed25519`, `ecdsa`, `rsa`), generating it if needed.
    pub fn get(&self, kind: &str) -> Result<PathBuf, TargetError> {
        let path = self.dir.join(format!("ssh_host_{kind}_key"));
        if path.exists() {
            // Another user's key in a shared store would let them impersonate every target.
            sshmatrix_core::fsx::private_entry(&path).map_err(|why| {
                TargetError::HostKeys(format!(
                    "host key refused: {why}; remove it (sshmatrix makes it again)"
                ))
            })?;
            return Ok(path);
        }
        let tmp = self
            .dir
            .join(format!(".ssh_host_{kind}_key.{}", std::process::id()));
        let tmp_pub = PathBuf::from(format!("{}.pub", tmp.display()));
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(&tmp_pub);
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.process_group(0);
        cmd.args(["-q", "-N", "", "-C", "sshmatrix host key", "-t", kind, "-f"])
            .arg(&tmp);
        match kind {
            "rsa" => cmd.args(["-b", "3072"]),
            "ecdsa" => cmd.args(["-b", "256"]),
            _ => &mut cmd,
        };
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TargetError::HostKeys(e.to_string()))?;
        if !out.status.success() {
            return Err(TargetError::HostKeys(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        fs::rename(&tmp_pub, format!("{}.pub", path.display()))?;
        fs::rename(&tmp, &path)?;
        Ok(path)
    }
}

fn current_uid() -> Option<String> {
    fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
    })
}

/// Whether the current process runs as root.
pub fn running_as_root() -> bool {
    current_uid().as_deref() == Some("0")
}

/// The login name of the OS user running sshmatrix: the account every cell of the local
/// backend logs in to (from /etc/passwd by uid, else $USER).
pub fn current_user() -> String {
    let by_uid = current_uid().and_then(|uid| {
        fs::read_to_string("/etc/passwd").ok().and_then(|p| {
            p.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == uid)
                .map(|f| f[0].to_string())
        })
    });
    by_uid
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

/// sshd refuses to start without its privilege separation directory (a tmpfs path that may be
/// missing on a fresh machine); create it when we can.
pub(super) fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        let _ = fs::create_dir_all(dir);
    }
}

/// The OpenSSH release (major, minor) of the sshd `launcher` starts (its binary, or `docker
/// exec … sshd`), from `sshd -V`.
pub fn release_of(launcher: &[String]) -> Option<(u32, u32)> {
    let out = std::process::Command::new(&launcher[0])
        .process_group(0)
        .args(&launcher[1..])
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    parse_release(&String::from_utf8_lossy(&out.stderr))
}

/// `(9, 2)` from a version banner such as `OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0`.
pub fn parse_release(banner: &str) -> Option<(u32, u32)> {
    let v = banner.split("OpenSSH_").nth(1)?;
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}
