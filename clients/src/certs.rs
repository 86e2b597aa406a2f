//! User certificates: the `certificates` axis of a matrix (`rsa-sha1`, `ed25519-expired`, …)
//! and the per-run certificate authority that signs the cells' keys with the real
//! `ssh-keygen -s`.
//!
//! A certificate word is a CA (`rsa-sha1`, `rsa-sha256`, `rsa-sha512`, `ecdsa`, `ed25519`),
//! optionally followed by what is wrong with the certificate (`-expired`, `-not-yet-valid`,
//! `-other-principal`, `-other-source`); `none` is the bare key.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The certificate authority's key and the signature algorithm it signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaKind {
    /// RSA 3072, signing with `ssh-rsa` (SHA-1): refused by OpenSSH 8.2+ defaults.
    RsaSha1,
    /// RSA 3072, signing with `rsa-sha2-256`.
    RsaSha256,
    /// RSA 3072, signing with `rsa-sha2-512`.
    RsaSha512,
    /// ECDSA on NIST P-256.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// What is wrong with a certificate, when something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertFlaw {
    /// Its validity ended (2020-01-01 to 2020-01-02).
    Expired,
    /// Its validity starts a year from now.
    NotYetValid,
    /// It names a principal that is not the login user.
    OtherPrincipal,
    /// Its `source-address` critical option allows only another address (a user
    /// certificate's; [`OTHER_SOURCE`]).
    OtherSource,
}

/// The address a certificate with [`CertFlaw::OtherSource`] is limited to: TEST-NET-1 (RFC
/// 5737), never a real client's.
pub const OTHER_SOURCE: &str = "192.0.2.1/32";

/// A user certificate as a matrix names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertSpec {
    /// The CA that signs it.
    pub ca: CaKind,
    /// What is wrong with it.
    pub flaw: Option<CertFlaw>,
}

/// The principal a certificate with [`CertFlaw::OtherPrincipal`] names (no matrix user).
pub const OTHER_PRINCIPAL: &str = "sshmatrix-nobody";

impl CaKind {
    /// Every CA kind, in the order matrix words list them.
    pub const ALL: [CaKind; 5] = [
        CaKind::RsaSha1,
        CaKind::RsaSha256,
        CaKind::RsaSha512,
        CaKind::Ecdsa,
        CaKind::Ed25519,
    ];

    /// The matrix word.
    pub fn as_str(self) -> &'static str {
        match self {
            CaKind::RsaSha1 => "rsa-sha1",
            CaKind::RsaSha256 => "rsa-sha256",
            CaKind::RsaSha512 => "rsa-sha512",
            CaKind::Ecdsa => "ecdsa",
            CaKind::Ed25519 => "ed25519",
        }
    }

    /// The signature algorithm the CA signs with, as `CASignatureAlgorithms` names it.
    pub fn signature(self) -> &'static str {
        match self {
            CaKind::RsaSha1 => "ssh-rsa",
            CaKind::RsaSha256 => "rsa-sha2-256",
            CaKind::RsaSha512 => "rsa-sha2-512",
            CaKind::Ecdsa => "ecdsa-sha2-nistp256",
            CaKind::Ed25519 => "ssh-ed25519",
        }
    }

    /// `ssh-keygen -t`/`-b` of the CA key.
    fn keygen(self) -> (&'static str, &'static str) {
        match self {
            CaKind::RsaSha1 | CaKind::RsaSha256 | CaKind::RsaSha512 => ("rsa", "3072"),
            CaKind::Ecdsa => ("ecdsa", "256"),
            CaKind::Ed25519 => ("ed25519", "256"),
        }
    }

    /// The CA key's file name: the three RSA kinds share one RSA key.
    fn key_name(self) -> &'static str {
        match self.keygen().0 {
            "rsa" => "ca-rsa",
            "ecdsa" => "ca-ecdsa",
            _ => "ca-ed25519",
        }
    }
}

impl CertFlaw {
    /// The matrix suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            CertFlaw::Expired => "expired",
            CertFlaw::NotYetValid => "not-yet-valid",
            CertFlaw::OtherPrincipal => "other-principal",
            CertFlaw::OtherSource => "other-source",
        }
    }
}

impl CertSpec {
    /// Every certificate word a matrix may write (`none` aside).
    pub fn words() -> Vec<String> {
        let flaws = [
            None,
            Some(CertFlaw::Expired),
            Some(CertFlaw::NotYetValid),
            Some(CertFlaw::OtherPrincipal),
            Some(CertFlaw::OtherSource),
        ];
        CaKind::ALL
            .iter()
            .flat_map(|&ca| flaws.map(|flaw| CertSpec { ca, flaw }.to_string()))
            .collect()
    }

    /// A short label for tables: `cert (CA RSA, ssh-rsa)`, `cert (CA Ed25519, expired)`.
    pub fn label(&self) -> String {
        let ca = match self.ca {
            CaKind::RsaSha1 | CaKind::RsaSha256 | CaKind::RsaSha512 => {
                format!("CA RSA, {}", self.ca.signature())
            }
            CaKind::Ecdsa => "CA ECDSA".into(),
            CaKind::Ed25519 => "CA Ed25519".into(),
        };
        match self.flaw {
            Some(f) => format!("cert ({ca}, {})", f.as_str()),
            None => format!("cert ({ca})"),
        }
    }
}

/// The table label of a cell's certificate: `bare key` when it has none.
pub fn label_of(cert: Option<CertSpec>) -> String {
    cert.map_or_else(|| "bare key".into(), |c| c.label())
}

/// The matrix word of a cell's certificate: `none` when it has none.
pub fn word_of(cert: Option<CertSpec>) -> String {
    cert.map_or_else(|| "none".into(), |c| c.to_string())
}

impl fmt::Display for CertSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ca.as_str())?;
        if let Some(flaw) = self.flaw {
            write!(f, "-{}", flaw.as_str())?;
        }
        Ok(())
    }
}

/// Why a certificate word names no certificate sshmatrix can make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown certificate `{0}`: write none, or a CA (rsa-sha1, rsa-sha256, rsa-sha512, ecdsa, ed25519) optionally followed by -expired, -not-yet-valid, -other-principal or -other-source, e.g. ed25519-expired")]
pub struct CertSpecError(pub String);

impl FromStr for CertSpec {
    type Err = CertSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        for ca in CaKind::ALL {
            let Some(rest) = lower.strip_prefix(ca.as_str()) else {
                continue;
            };
            let flaw = match rest {
                "" => None,
                "-expired" => Some(CertFlaw::Expired),
                "-not-yet-valid" => Some(CertFlaw::NotYetValid),
                "-other-principal" => Some(CertFlaw::OtherPrincipal),
                "-other-source" => Some(CertFlaw::OtherSource),
                _ => continue,
            };
            return Ok(CertSpec { ca, flaw });
        }
        Err(CertSpecError(s.to_string()))
    }
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// `ssh-keygen` could not be run.
    #[error("cannot run ssh-keygen to make certificates: {0} (install openssh-client)")]
    Spawn(std::io::Error),
    /// `ssh-keygen` refused.
    #[error("ssh-keygen refused to {what}: {stderr}")]
    Refused {
        /// What it was asked to do.
        what: String,
        /// What it said.
        stderr: String,
    },
    /// A file could not be written or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A run's certificate authority: its CA keys (made on first use, 0600 in the run's private
/// directory) and the certificates it signed.
pub struct Authority {
    dir: PathBuf,
    ssh_keygen: PathBuf,
}

impl Authority {
    /// An authority keeping its keys in `dir` (created 0700), signing with `ssh_keygen`.
    pub fn new(dir: &Path, ssh_keygen: &Path) -> Result<Self, CertError> {
        sshmatrix_core::fsx::private_dir(dir)?;
        Ok(Authority {
            dir: dir.to_path_buf(),
            ssh_keygen: ssh_keygen.to_path_buf(),
        })
    }

    /// The CA's private key file, made with `ssh-keygen` (no passphrase) on first use.
    fn ca_key(&self, ca: CaKind) -> Result<PathBuf, CertError> {
        let path = self.dir.join(ca.key_name());
        if path.exists() {
            return Ok(path);
        }
        let (t, b) = ca.keygen();
        let comment = format!("sshmatrix CA {}", ca.key_name());
        let args = ["-q", "-t", t, "-b", b, "-N", "", "-C", &comment, "-f"];
        self.keygen(&args, &path, "make a CA key")?;
        Ok(path)
    }

    /// The public key lines of every CA kind in `cas`, for `TrustedUserCAKeys`.
    pub fn trusted_lines(&self, cas: &[CaKind]) -> Result<Vec<String>, CertError> {
        let mut lines = Vec::new();
        for ca in cas {
            let public = std::fs::read_to_string(self.ca_key(*ca)?.with_extension("pub"))?;
            let line = public.trim().to_string();
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        Ok(lines)
    }

    /// The `@cert-authority * KEY` known_hosts line that trusts `ca`'s host certificates.
    pub fn known_hosts_line(&self, ca: CaKind) -> Result<String, CertError> {
        let public = std::fs::read_to_string(self.ca_key(ca)?.with_extension("pub"))?;
        Ok(format!("@cert-authority * {}", public.trim()))
    }

    /// Signs the public key `public_line` as `spec` says, for `principals` (a host
    /// certificate's, `ssh-keygen -h`, name the host as clients reach it); returns the
    /// certificate file (`NAME-cert.pub` in the authority's directory).
    pub fn sign(
        &self,
        public_line: &str,
        spec: CertSpec,
        name: &str,
        principals: &[String],
        host: bool,
    ) -> Result<PathBuf, CertError> {
        let ca = self.ca_key(spec.ca)?;
        let public = self.dir.join(format!("{name}.pub"));
        std::fs::write(&public, format!("{public_line}\n"))?;
        let principals = match spec.flaw {
            Some(CertFlaw::OtherPrincipal) => OTHER_PRINCIPAL.to_string(),
            _ => principals.join(","),
        };
        let validity = match spec.flaw {
            Some(CertFlaw::Expired) => "20200101:20200102",
            Some(CertFlaw::NotYetValid) => "+52w:+53w",
            _ => "-5m:+1d",
        };
        let id = format!("sshmatrix {name}");
        let ca = ca.display().to_string();
        let kind = if host { "-h" } else { "-q" };
        let source = format!("source-address={OTHER_SOURCE}");
        let options: &[&str] = match spec.flaw {
            Some(CertFlaw::OtherSource) => &["-O", &source],
            _ => &[],
        };
        let args = [
            kind,
            "-q",
            "-s",
            &ca,
            "-t",
            spec.ca.signature(),
            "-I",
            &id,
            "-n",
            &principals,
            "-V",
            validity,
        ];
        let args: Vec<&str> = args.iter().chain(options).copied().collect();
        self.keygen(&args, &public, "sign a certificate")?;
        Ok(self.dir.join(format!("{name}-cert.pub")))
    }

    fn keygen(&self, args: &[&str], file: &Path, what: &str) -> Result<(), CertError> {
        let out = std::process::Command::new(&self.ssh_keygen)
            .args(args)
            .arg(file)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(CertError::Spawn)?;
        match out.status.success() {
            true => Ok(()),
            false => Err(CertError::Refused {
                what: what.into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_misspellings_are_refused() {
        for w in ["rsa-sha1", "rsa-sha512", "ecdsa", "ed25519-expired"] {
            assert_eq!(w.parse::<CertSpec>().unwrap().to_string(), w);
        }
        let s: CertSpec = "ed25519-other-principal".parse().unwrap();
        assert_eq!(s.flaw, Some(CertFlaw::OtherPrincipal));
        assert_eq!(s.label(), "cert (CA Ed25519, other-principal)");
        assert!("rsa".parse::<CertSpec>().is_err());
        assert!("ed25519-old".parse::<CertSpec>().is_err());
        assert_eq!(
            "rsa-sha1".parse::<CertSpec>().unwrap().ca.signature(),
            "ssh-rsa"
        );
    }
}
