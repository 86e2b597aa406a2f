//! The RSA rule of a profile (which signature algorithm, if any, an RSA key is offered with)
//! and the facts of a loaded key it needs.

use russh::keys::ssh_key::{Algorithm, HashAlg, PrivateKey};

use crate::profile::{Profile, RsaFallback, RsaSignatureMode};

/// What the RSA rule decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsaChoice {
    /// Sign with this algorithm name.
    Sign(String),
    /// The client does not offer the key.
    Skip(String),
    /// The client fails locally.
    Fail(String),
}

/// Why a client leaves a loadable key out (see `AuthRules::not_offered`).
pub const NOT_OFFERED: &str =
    "its key type is not in the client's default PubkeyAcceptedAlgorithms";

/// Applies a profile's RSA rule to a server-sig-algs list (`None`: the server sent none).
pub fn choose_rsa(profile: &Profile, server_sig_algs: Option<&[String]>) -> RsaChoice {
    let rule = &profile.auth.rsa;
    let fallback = |fb: RsaFallback, why: &str| match fb {
        RsaFallback::SshRsa => RsaChoice::Sign("ssh-rsa".into()),
        RsaFallback::FirstPreferred => RsaChoice::Sign(
            rule.order
                .first()
                .cloned()
                .unwrap_or_else(|| "ssh-rsa".into()),
        ),
        RsaFallback::SkipKey => {
            RsaChoice::Skip(format!("client does not offer the RSA key: {why}"))
        }
        RsaFallback::Fail => RsaChoice::Fail(format!(
            "client found no RSA signature algorithm to use (ssh-unknown): {why}"
        )),
    };
    match rule.mode {
        RsaSignatureMode::SshRsaOnly => RsaChoice::Sign("ssh-rsa".into()),
        // The first of the turns; [`rsa_turns`] has the rest.
        RsaSignatureMode::EachInTurn => match rule.order.first() {
            Some(a) => RsaChoice::Sign(a.clone()),
            None => RsaChoice::Sign("ssh-rsa".into()),
        },
        RsaSignatureMode::ServerSigAlgs => match server_sig_algs {
            None => fallback(
                rule.no_server_sig_algs,
                "the server sent no server-sig-algs",
            ),
            Some(list) => match rule.order.iter().find(|a| list.contains(a)) {
                Some(a) => RsaChoice::Sign(a.clone()),
                None => fallback(
                    rule.no_match,
                    &format!("server-sig-algs lists none of {}", rule.order.join(",")),
                ),
            },
        },
    }
}

/// The RSA signature algorithms a client tries after `first` is refused, on the same
/// connection (only [`RsaSignatureMode::EachInTurn`] has any).
pub fn rsa_turns<'a>(profile: &'a Profile, first: &str) -> &'a [String] {
    let rule = &profile.auth.rsa;
    match rule.mode {
        RsaSignatureMode::EachInTurn => match rule.order.iter().position(|a| a == first) {
            Some(i) => &rule.order[i + 1..],
            None => &[],
        },
        _ => &[],
    }
}

pub(super) fn hash_of(alg: &str) -> Option<HashAlg> {
    match alg {
        "rsa-sha2-256" => Some(HashAlg::Sha256),
        "rsa-sha2-512" => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// The family (`rsa`, `ecdsa`, `ed25519`, `dsa`) of a loaded key.
pub fn key_family(key: &PrivateKey) -> &'static str {
    match key.algorithm() {
        Algorithm::Rsa { .. } => "rsa",
        Algorithm::Ecdsa { .. } => "ecdsa",
        Algorithm::Ed25519 => "ed25519",
        Algorithm::Dsa => "dsa",
        _ => "other",
    }
}

pub(super) fn rsa_bits(key: &PrivateKey) -> u32 {
    key.public_key()
        .key_data()
        .rsa()
        .map(|r| {
            let n = r.n().as_bytes();
            let lead = n.iter().take_while(|b| **b == 0).count();
            let n = &n[lead..];
            n.first()
                .map(|b| (n.len() as u32) * 8 - b.leading_zeros())
                .unwrap_or(0)
        })
        .unwrap_or(0)
}
