//! Key specifications: the `key` axis of a matrix (`rsa-2048`, `ecdsa-256`, `ed25519`, `dsa-1024`).

use std::fmt;
use std::str::FromStr;

/// The smallest and largest RSA modulus sshmatrix will generate. OpenSSH refuses keys under 1024
/// bits at parse time; 512 is allowed so that "too small" cells can be demonstrated.
pub const RSA_BITS: std::ops::RangeInclusive<u32> = 512..=16384;

/// A user key: its algorithm family and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeySpec {
    /// RSA with any modulus size in [`RSA_BITS`] (e.g. the field report's odd 2042).
    Rsa(u32),
    /// ECDSA on NIST P-256, P-384 or P-521.
    Ecdsa(u32),
    /// Ed25519 (always 256 bits).
    Ed25519,
    /// DSA, which SSH only defines for 1024 bits.
    Dsa(u32),
}

/// Why a key name does not denote a key sshmatrix can make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySpecError {
    /// The family is not one of rsa, ecdsa, ed25519, dsa.
    #[error("unknown key type `{0}`: use rsa-BITS, ecdsa-256|384|521, ed25519 or dsa-1024")]
    UnknownType(String),
    /// The family is known but the size is impossible for it.
    #[error("impossible key size `{name}`: {why}")]
    ImpossibleSize {
        /// The key name as written.
        name: String,
        /// What sizes the family allows.
        why: String,
    },
}

impl KeySpec {
    /// The family name used in reports and CSV (`rsa`, `ecdsa`, `ed25519`, `dsa`).
    pub fn family(&self) -> &'static str {
        match self {
            KeySpec::Rsa(_) => "rsa",
            KeySpec::Ecdsa(_) => "ecdsa",
            KeySpec::Ed25519 => "ed25519",
            KeySpec::Dsa(_) => "dsa",
        }
    }

    /// The key size in bits.
    pub fn bits(&self) -> u32 {
        match *self {
            KeySpec::Rsa(b) | KeySpec::Ecdsa(b) | KeySpec::Dsa(b) => b,
            KeySpec::Ed25519 => 256,
        }
    }

    /// The SSH public-key algorithm name of this key (`ssh-rsa` for RSA keys).
    pub fn ssh_key_type(&self) -> String {
        match self {
            KeySpec::Rsa(_) => "ssh-rsa".into(),
            KeySpec::Ecdsa(b) => format!("ecdsa-sha2-nistp{b}"),
            KeySpec::Ed25519 => "ssh-ed25519".into(),
            KeySpec::Dsa(_) => "ssh-dss".into(),
        }
    }

    /// A short label for table rows, e.g. `RSA 2048`, `ECDSA 256`, `Ed25519`.
    pub fn label(&self) -> String {
        match self {
            KeySpec::Rsa(b) => format!("RSA {b}"),
            KeySpec::Ecdsa(b) => format!("ECDSA {b}"),
            KeySpec::Ed25519 => "Ed25519".into(),
            KeySpec::Dsa(b) => format!("DSA {b}"),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Ed25519 => f.write_str("ed25519"),
            k => write!(f, "{}-{}", k.family(), k.bits()),
        }
    }
}

impl FromStr for KeySpec {
    type Err = KeySpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "ed25519" || lower == "ed25519-256" {
            return Ok(KeySpec::Ed25519);
        }
        let (family, size) = lower
            .split_once('-')
            .ok_or_else(|| KeySpecError::UnknownType(s.to_string()))?;
        let size = size.trim_start_matches("p");
        let bits: u32 = size.parse().map_err(|_| KeySpecError::ImpossibleSize {
            name: s.to_string(),
            why: format!("`{size}` is not a number of bits"),
        })?;
        let impossible = |why: &str| KeySpecError::ImpossibleSize {
            name: s.to_string(),
            why: why.to_string(),
        };
        match family {
            "rsa" if RSA_BITS.contains(&bits) => Ok(KeySpec::Rsa(bits)),
            "rsa" => Err(impossible("RSA sizes run from 512 to 16384 bits")),
            "ecdsa" if matches!(bits, 256 | 384 | 521) => Ok(KeySpec::Ecdsa(bits)),
            "ecdsa" => Err(impossible(
                "ECDSA keys are 256, 384 or 521 bits (NIST P curves)",
            )),
            "dsa" if bits == 1024 => Ok(KeySpec::Dsa(1024)),
            "dsa" => Err(impossible(
                "SSH defines DSA (ssh-dss) only for 1024-bit keys",
            )),
            "ed25519" => Err(impossible(
                "Ed25519 keys are always 256 bits; write `ed25519`",
            )),
            _ => Err(KeySpecError::UnknownType(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_field_report_names() {
        assert_eq!("rsa-2042".parse(), Ok(KeySpec::Rsa(2042)));
        assert_eq!("ecdsa-256".parse(), Ok(KeySpec::Ecdsa(256)));
        assert_eq!("ecdsa-p384".parse(), Ok(KeySpec::Ecdsa(384)));
        assert_eq!("ed25519".parse(), Ok(KeySpec::Ed25519));
        assert_eq!("dsa-1024".parse(), Ok(KeySpec::Dsa(1024)));
        assert_eq!(KeySpec::Rsa(3072).to_string(), "rsa-3072");
    }

    #[test]
    fn rejects_impossible_sizes() {
        assert!(matches!(
            "ecdsa-2048".parse::<KeySpec>(),
            Err(KeySpecError::ImpossibleSize { .. })
        ));
        assert!(matches!(
            "dsa-2048".parse::<KeySpec>(),
            Err(KeySpecError::ImpossibleSize { .. })
        ));
        assert!(matches!(
            "rsa-100".parse::<KeySpec>(),
            Err(KeySpecError::ImpossibleSize { .. })
        ));
        assert!(matches!(
            "ecc-256".parse::<KeySpec>(),
            Err(KeySpecError::UnknownType(_))
        ));
    }
}
