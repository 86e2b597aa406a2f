//! Evidence of a support case: the logs a customer sent — a client's debug output, the
//! server's auth log — read into login attempts, paired across the two sides, the
//! implementations identified and the cause named with the same failure codes a matrix run
//! records (`sshmatrix diagnose`). Logs are only ever read: nothing in them is executed, and
//! they decide nothing but the diagnosis.

pub mod case;
pub mod cause;
pub mod census;
pub mod client;
pub mod identify;
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
