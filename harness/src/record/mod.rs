//! `sshmatrix record`: a recording server that a real client logs in to a few times, and the
//! client profile written from what it did. Each connection answers with another
//! `server-sig-algs` list ([`Offer`]) so the client's RSA signature choice shows under every
//! list that matters; the server accepts every public key query (so the client goes on to
//! sign), rejects every signed request and every other method, and keeps no key, password or
//! signature — only algorithm names, key families and the order of the messages.

mod compare;
mod drive;
mod infer;
mod server;

pub use compare::{compare, Difference};
pub use drive::{drive, Driven, Drove};
pub use infer::{infer, name_version, to_toml, Meta, Recorded};
pub use server::{record_connection, save, HostKeys};

use serde::{Deserialize, Serialize};
use sshmatrix_clients::ServerHello;

/// The key file containers a client was seen (or said) to read, and how that is known.
pub type ReadsSeen = (Vec<sshmatrix_clients::Container>, String);

/// The RSA part of the `server-sig-algs` list one connection is answered with (the non-RSA
/// algorithms are always listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Offer {
    /// rsa-sha2-512, rsa-sha2-256 and ssh-rsa (what OpenSSH 7.2–9.5 lists).
    All,
    /// rsa-sha2-512 and rsa-sha2-256, no ssh-rsa (OpenSSH 9.6+ refusing SHA-1).
    Sha2,
    /// rsa-sha2-256 only (RHEL-style policies, Dropbear 2020–2022).
    Sha256,
    /// rsa-sha2-512 only.
    Sha512,
    /// ssh-rsa only (servers before RFC 8332 that still send the extension).
    SshRsa,
    /// No RSA algorithm at all (a server accepting no RSA key).
    NoRsa,
}

impl Offer {
    /// Every answer a recording gives, in the order of its steps.
    pub const ALL: [Offer; 6] = [
        Offer::All,
        Offer::Sha2,
        Offer::Sha256,
        Offer::Sha512,
        Offer::SshRsa,
        Offer::NoRsa,
    ];

    /// The RSA signature algorithms listed.
    pub fn rsa(self) -> &'static [&'static str] {
        match self {
            Offer::All => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            Offer::Sha2 => &["rsa-sha2-512", "rsa-sha2-256"],
            Offer::Sha256 => &["rsa-sha2-256"],
            Offer::Sha512 => &["rsa-sha2-512"],
            Offer::SshRsa => &["ssh-rsa"],
            Offer::NoRsa => &[],
        }
    }

    /// The list in words, for instructions.
    pub fn describe(self) -> String {
        match self.rsa() {
            [] => "no RSA algorithm".into(),
            l => l.join(", "),
        }
    }
}

/// What a step asks the user to log in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Holding {
    /// An RSA key from a file.
    RsaFile,
    /// Every other key the client has (ECDSA, Ed25519, DSA), from files.
    OtherKeys,
    /// An RSA key held by an agent (ssh-agent, Pageant).
    RsaAgent,
}

/// One connection of a recording: how the server answers and what the user logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The server-sig-algs answer.
    pub offer: Offer,
    /// What to log in with.
    pub holding: Holding,
}

impl Step {
    /// The instruction shown to the user.
    pub fn instruction(self) -> String {
        match self.holding {
            Holding::RsaFile => format!(
                "log in with an RSA key from a file (the server lists {})",
                self.offer.describe()
            ),
            Holding::OtherKeys => {
                "log in with each other key type the client can use (ECDSA, Ed25519), one after another or all in one go".into()
            }
            Holding::RsaAgent => {
                "log in with an RSA key held by an agent (ssh-agent, Pageant)".into()
            }
        }
    }
}

/// The steps of a recording: the six RSA answers, the other key types, then the agent (when
/// `agent`).
pub fn steps(agent: bool) -> Vec<Step> {
    let rsa = |offer| Step {
        offer,
        holding: Holding::RsaFile,
    };
    let mut s: Vec<Step> = Offer::ALL.into_iter().map(rsa).collect();
    s.push(Step {
        offer: Offer::All,
        holding: Holding::OtherKeys,
    });
    if agent {
        s.push(Step {
            offer: Offer::All,
            holding: Holding::RsaAgent,
        });
    }
    s
}

/// One public key the client offered in a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttempt {
    /// `rsa`, `ecdsa`, `ed25519`, `dsa`, or the algorithm for anything else.
    pub family: String,
    /// The algorithm named in the request (for RSA: the signature algorithm).
    pub algorithm: String,
    /// The client asked whether the key would do before signing (a query).
    pub queried: bool,
    /// The client sent a signature (verified by the recorder, then refused).
    pub signed: bool,
}

/// What one connection showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The step it answered.
    pub step: Step,
    /// The client's identification string and KEXINIT, when it got that far.
    pub hello: Option<ServerHello>,
    /// The authentication methods tried, in order (`none`, `publickey`, `password`, …).
    pub methods: Vec<String>,
    /// The public keys offered, in order.
    pub keys: Vec<KeyAttempt>,
    /// Why the connection ended before a public key was offered, when it did.
    pub problem: Option<String>,
}

impl Connection {
    /// The RSA signature algorithm the client used (signed or queried with), `None` when it
    /// offered no RSA key.
    pub fn rsa_choice(&self) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.family == "rsa")
            .map(|k| k.algorithm.as_str())
    }

    /// The RSA signature algorithms the client signed with on this connection, in order, each
    /// once (more than one: it tried the next after a refusal).
    pub fn rsa_turns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for k in self.keys.iter().filter(|k| k.family == "rsa" && k.signed) {
            if !out.contains(&k.algorithm.as_str()) {
                out.push(&k.algorithm);
            }
        }
        out
    }
}
