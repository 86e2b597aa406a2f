//! The cause of a logged attempt in the failure taxonomy a matrix run uses
//! ([`crate::diagnose::code`]): decided when the logs decide it, else the codes still possible
//! (most likely first), each with what would decide it.

use serde::Serialize;
use sshmatrix_clients::emulator::ClientOutcome;
use sshmatrix_reports::{Code, Stage, Verdict};
use sshmatrix_servers::ServerView;

use super::client::ClientAttempt;
use super::server::ServerConnection;

/// Why an attempt ended.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    /// Logged in, refused, or undecided.
    pub verdict: Verdict,
    /// Where it stopped.
    pub stage: Stage,
    /// The failure code; `None` when it logged in or the logs cannot decide.
    pub code: Option<Code>,
    /// The reason, in the logs' words.
    pub reason: String,
    /// The server's own reason, when its log gives one.
    pub server_reason: Option<String>,
    /// The codes still possible when `code` is `None` (at most three, most likely first).
    pub candidates: Vec<Candidate>,
    /// What the logs given cannot tell.
    pub cannot_tell: Vec<String>,
}

/// A code the logs leave possible.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The code.
    pub code: Code,
    /// Why it is possible.
    pub why: String,
    /// What would decide for it.
    pub decides: String,
}

/// Server lines that decide an authentication refusal by themselves.
const DECISIVE: &[&str] = &[
    "not in PubkeyAccepted",
    "unsupported public key algorithm",
    "Invalid key length",
    "refusing RSA key",
    "bad ownership or modes",
    "Authentication refused",
    "Too many authentication failures",
    "maximum authentication attempts exceeded",
    "Failed publickey",
    "Failed password",
    "Invalid user",
    "not allowed because",
    // ProFTPD logs this only for a key its SFTPAuthorizedUserKeys do not hold (auth-publickey.c:
    // sftp_keystore_verify_user_key failed); an algorithm it does not verify is `unsupported
    // public key algorithm`.
    "public key failed",
    "Incorrect password",
    "Maximum login attempts",
];

/// The cause of one attempt from whichever sides were logged.
pub fn of(
    client: Option<&ClientAttempt>,
    server: Option<&ServerConnection>,
    rsa_sha1_client: bool,
) -> Cause {
    let none = ServerView::default();
    let view = server.map_or(&none, |s| &s.view);
    // A client log that stops before its attempt ends leaves the server's word.
    let outcome = match (client, server) {
        (Some(c), _) if c.ended => outcome(c),
        (_, Some(_)) => from_server(view),
        (Some(c), None) => outcome(c),
        (None, None) => from_server(view),
    };
    let mut code = crate::diagnose::code(&outcome, view);
    let auth =
        matches!(outcome.stage, Stage::Auth | Stage::Login) && outcome.verdict != Verdict::Ok;
    let decisive = view
        .evidence
        .iter()
        .chain(view.reason.iter())
        .any(|l| DECISIVE.iter().any(|p| l.contains(p)));
    let mut candidates = Vec::new();
    let mut cannot_tell = Vec::new();
    if auth && code == Some(Code::AuthKeyNotAuthorized) && !decisive {
        code = None;
        candidates = auth_candidates(client, server, rsa_sha1_client);
        cannot_tell.push(match server {
            None => "the client log alone: a server answers every refused key with the same USERAUTH_FAILURE, whatever the reason".into(),
            Some(_) => "the server log gives no reason: sshd logs why it refused a key at LogLevel VERBOSE (INFO says only that the connection closed)".into(),
        });
    }
    if outcome.verdict == Verdict::Error && server.is_none() {
        cannot_tell.push("how the attempt ended: the log stops before it does".into());
    }
    Cause {
        verdict: outcome.verdict,
        stage: outcome.stage,
        code,
        reason: reason(&outcome, view),
        server_reason: view.reason.clone(),
        candidates,
        cannot_tell,
    }
}

/// The attempt's ending as the runner's client outcome (what [`crate::diagnose::code`] reads).
fn outcome(c: &ClientAttempt) -> ClientOutcome {
    let mut o = ClientOutcome::new(c.ending.verdict, c.ending.stage, c.ending.reason.clone());
    o.signature = c.keys.last().and_then(|k| k.signature.clone());
    o.methods = c.methods.clone();
    o
}

/// A client outcome from the server's words alone.
fn from_server(view: &ServerView) -> ClientOutcome {
    let said = view.reason.clone().unwrap_or_default();
    let (verdict, stage) = if view.accepted {
        (Verdict::Ok, Stage::Login)
    } else if said.contains("Unable to negotiate")
        || said.contains("no matching")
        || said.contains("No matching algo")
    {
        (Verdict::Fail, super::negotiation_stage(&said))
    } else {
        (Verdict::Fail, Stage::Auth)
    };
    let reason = match said.is_empty() {
        true => "the server log gives no reason".to_string(),
        false => format!("server: {said}"),
    };
    ClientOutcome::new(verdict, stage, reason)
}

fn reason(o: &ClientOutcome, view: &ServerView) -> String {
    match (&view.reason, o.verdict) {
        (Some(r), Verdict::Fail) if !o.reason.starts_with("server:") => {
            format!("server: {r} (client: {})", o.reason)
        }
        _ => o.reason.clone(),
    }
}

/// The codes an undecided refusal of a key leaves, most likely first.
fn auth_candidates(
    client: Option<&ClientAttempt>,
    server: Option<&ServerConnection>,
    rsa_sha1_client: bool,
) -> Vec<Candidate> {
    let key = client.and_then(|c| c.keys.last());
    let family = key.map(|k| k.family.to_uppercase()).unwrap_or_default();
    let rsa = family.is_empty() || family.contains("RSA");
    let fp = key
        .and_then(|k| k.fingerprint.clone())
        .unwrap_or_else(|| "SHA256:…".into());
    let user = client
        .and_then(|c| c.user.clone())
        .or_else(|| server.and_then(|s| s.user.clone()))
        .unwrap_or_else(|| "USER".into());
    // The algorithm the client logged signing with, when it did.
    let sig = key
        .and_then(|k| k.signature.clone())
        .unwrap_or_else(|| "ssh-rsa".into());
    let why = match sig.as_str() {
        "ssh-rsa" => "an RSA key signed with ssh-rsa (SHA-1), which OpenSSH 8.8 and later and the RHEL 9 / AL2023 crypto policies refuse by default".to_string(),
        s => format!("the server does not accept the {s} signature the client sent (its PubkeyAcceptedAlgorithms)"),
    };
    let signature = Candidate {
        code: Code::AuthSignatureRejected,
        why,
        decides: format!("the server line `userauth_pubkey: signature algorithm {sig} not in PubkeyAcceptedAlgorithms` (sshd at LogLevel VERBOSE), or `sshmatrix scan HOST --verify USER`"),
    };
    let unregistered = Candidate {
        code: Code::AuthKeyNotAuthorized,
        why: format!("the key {fp} is not in {user}'s authorized_keys on the server"),
        decides: format!("`Failed publickey for {user} … {fp}` in the server log with no other reason, or the key's absence from ~{user}/.ssh/authorized_keys"),
    };
    let small = Candidate {
        code: Code::AuthKeyTooSmall,
        why: "an RSA key smaller than the server's RequiredRSASize (2048 under RHEL 9 policies)".into(),
        decides: "the server line `refusing RSA key: Invalid key length`, or the key's size (`ssh-keygen -l -f KEY`)".into(),
    };
    let mut out = match (rsa, rsa_sha1_client) {
        (true, true) => vec![signature, unregistered, small],
        (true, false) => vec![unregistered, signature, small],
        (false, _) => vec![unregistered],
    };
    if key.and_then(|k| k.bits).is_some_and(|b| b >= 2048) {
        out.retain(|c| c.code != Code::AuthKeyTooSmall);
    }
    out
}
