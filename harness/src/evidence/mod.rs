//! Evidence of a support case: the logs a customer sent — a client's debug output, the
//! server's auth log — read into login attempts, paired across the two sides, the
//! implementations identified and the cause named with the same failure codes a matrix run
//! records (`sshmatrix diagnose`). Logs are only ever read: nothing in them is executed, and
//! they decide nothing but the diagnosis.

pub mod asyncssh;
pub mod case;
pub mod cause;
pub mod census;
pub mod client;
pub mod go;
pub mod identify;
pub mod jsch;
pub mod node;
pub mod paramiko;
pub mod prefix;
pub mod putty;
pub mod read;
pub mod redact;
pub mod render;
pub mod reproduce;
pub mod server;
pub mod sources;

use serde::Serialize;
use sshmatrix_reports::{Stage, Verdict};

/// A line of a log quoted as evidence: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cite {
    /// The file as given (`-` for standard input).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The line, without its collector prefix.
    pub text: String,
}

impl std::fmt::Display for Cite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.text)
    }
}

/// The algorithm lists of one side's KEXINIT, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lists {
    /// Key exchange methods (with pseudo-algorithms such as `ext-info-c`).
    pub kex: Vec<String>,
    /// Host key algorithms.
    pub hostkey: Vec<String>,
    /// Ciphers, client to server.
    pub cipher: Vec<String>,
    /// MACs, client to server.
    pub mac: Vec<String>,
}

impl Lists {
    /// Whether no list was read.
    pub fn is_empty(&self) -> bool {
        self.kex.is_empty() && self.hostkey.is_empty() && self.cipher.is_empty()
    }
}

/// What a connection negotiated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    /// Key exchange.
    pub kex: Option<String>,
    /// Host key algorithm.
    pub hostkey: Option<String>,
    /// Cipher (client to server).
    pub cipher: Option<String>,
    /// MAC (client to server; `None` with an AEAD cipher).
    pub mac: Option<String>,
}

/// A user key a client offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OfferedKey {
    /// Key family as logged: `RSA`, `ECDSA`, `ED25519`, `DSA`, or a signature algorithm name.
    pub family: String,
    /// Size in bits, when the log says.
    pub bits: Option<u32>,
    /// `SHA256:…` fingerprint, when logged.
    pub fingerprint: Option<String>,
    /// The key file, when logged.
    pub file: Option<String>,
    /// The signature algorithm it was used with, when logged.
    pub signature: Option<String>,
    /// Whether the server accepted the key (a PK_OK or a login).
    pub accepted: bool,
}

/// A comma-separated name-list as logs print it (`a,b, c`): its names, empty ones left out.
pub fn name_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The key family a signature algorithm signs with, as logs name families (`RSA`, `ECDSA`,
/// `ED25519`; empty for others).
pub fn family_of_signature(alg: &str) -> &'static str {
    match alg {
        a if a.starts_with("rsa-") || a == "ssh-rsa" => "RSA",
        a if a.starts_with("ecdsa") => "ECDSA",
        a if a.contains("ed25519") => "ED25519",
        _ => "",
    }
}

/// How one login attempt ended, from one side's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// Logged in, refused, or undecided (the log stops before an answer).
    pub verdict: Verdict,
    /// Where it stopped.
    pub stage: Stage,
    /// Why, in the log's words (for the failure taxonomy of [`crate::diagnose`]).
    pub reason: String,
}

impl Default for Ending {
    fn default() -> Self {
        Ending {
            verdict: Verdict::Error,
            stage: Stage::Connect,
            reason: "the log ends before the attempt does".into(),
        }
    }
}

/// The stage a "no common algorithm" message fails at, from the words every implementation
/// uses for the category (OpenSSH's "no matching host key type", PuTTY's "Couldn't agree a
/// client-to-server cipher", paramiko's "no acceptable macs", sshd's server-side lines). Only
/// the words before the offer are read: an offer lists algorithm names, not categories.
pub fn negotiation_stage(message: &str) -> Stage {
    // From the words that name the category on (a host name before them could say anything).
    let start = [
        "no matching",
        "No matching",
        "no acceptable",
        "Couldn't agree",
    ]
    .iter()
    .filter_map(|m| message.find(m))
    .min()
    .unwrap_or(0);
    let message = &message[start..];
    let head = message
        .split("Their offer")
        .next()
        .unwrap_or(message)
        .split("available:")
        .next()
        .unwrap_or(message)
        .to_ascii_lowercase();
    let says = |w: &[&str]| w.iter().any(|w| head.contains(w));
    if says(&["host key", "hostkey"]) {
        Stage::Hostkey
    } else if says(&["cipher"]) {
        Stage::Cipher
    } else if says(&["mac"]) {
        Stage::Mac
    } else if says(&["compression"]) {
        Stage::Compression
    } else {
        Stage::Kex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implementations_words_name_the_stage() {
        for (message, stage) in [
            ("Unable to negotiate with macbook port 22: no matching key exchange method found. Their offer: hmac-cipher", Stage::Kex),
            ("no matching host key type found. Their offer: ssh-rsa", Stage::Hostkey),
            ("no matching MAC found. Their offer: hmac-md5", Stage::Mac),
            ("Couldn't agree a client-to-server cipher (available: aes256-ctr)", Stage::Cipher),
            ("Couldn't agree a key exchange algorithm (available: curve25519-sha256)", Stage::Kex),
            ("Incompatible ssh server (no acceptable host key)", Stage::Hostkey),
            ("Incompatible ssh peer (no acceptable macs)", Stage::Mac),
            ("no matching compression method found", Stage::Compression),
        ] {
            assert_eq!(negotiation_stage(message), stage, "{message}");
        }
    }
}
