//! The russh-based client emulator: speaks to a server the way a profile says the real client
//! does, and reports the verdict with the stage and the client-side reason.
//!
//! Negotiation is first computed over the profile's *full* lists against the server's KEXINIT;
//! when that outcome needs an algorithm the engine cannot speak, the cell is an emulation limit
//! instead of silently differing. Otherwise the engine proposes the profile's lists minus what it
//! cannot speak (which cannot change the outcome) and runs the real exchange.

pub mod certificate;
mod engine;
mod probe;
mod recorder;
mod rsa;
mod session;

pub use engine::{engine_supports, preferred, preferred_lists, unsupported};
pub use probe::{exec_with_key, handshake, host_key, Handshake};
pub use rsa::{choose_rsa, key_family, rsa_turns, RsaChoice, NOT_OFFERED};
pub use session::{attempt, login, Attempt, Forwarded, Session};

use serde::{Deserialize, Serialize};

use crate::negotiate::{Category, Negotiated};

/// The verdict and stage vocabulary, defined once in the result schema.
pub use sshmatrix_core::vocab::{Code, Stage, Verdict};

/// The stage a negotiation category fails at.
pub fn stage_of(c: Category) -> Stage {
    match c {
        Category::Kex => Stage::Kex,
        Category::Hostkey => Stage::Hostkey,
        Category::Cipher => Stage::Cipher,
        Category::Mac => Stage::Mac,
        Category::Compression => Stage::Compression,
    }
}

/// What the client side saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientOutcome {
    /// ok / fail / error.
    pub verdict: Verdict,
    /// Where it ended.
    pub stage: Stage,
    /// The client-side reason in words.
    pub reason: String,
    /// Negotiated algorithms, when key exchange got that far.
    pub negotiated: Option<Negotiated>,
    /// The public-key algorithm named in the signed request (e.g. `ssh-rsa`, `rsa-sha2-512`).
    pub signature: Option<String>,
    /// Methods the server offered after the `none` request.
    pub methods: Vec<String>,
    /// Notes about how the engine deviated from the real client without changing the outcome.
    pub notes: Vec<String>,
    /// A signal from outside sshmatrix ended the client or its server (a terminal's Ctrl-C
    /// reaching a child being started): the outcome is no measurement.
    pub stopped_from_outside: bool,
    /// The failure code, when whoever produced the outcome knows the cause (a host key that
    /// changed, a method the server does not offer, a budget spent); otherwise the diagnosis
    /// derives one from both sides' evidence.
    pub code: Option<Code>,
}

impl ClientOutcome {
    /// An outcome with nothing negotiated, signed or noted yet.
    pub fn new(verdict: Verdict, stage: Stage, reason: impl Into<String>) -> Self {
        ClientOutcome {
            verdict,
            stage,
            reason: reason.into(),
            negotiated: None,
            signature: None,
            methods: Vec::new(),
            notes: Vec::new(),
            stopped_from_outside: false,
            code: None,
        }
    }

    /// The same outcome with the cause its producer knows.
    pub fn with_code(mut self, code: Code) -> Self {
        self.code = Some(code);
        self
    }
}
