//! PuTTY's event log (`plink -v` on standard error, the Event Log window copied, or a session
//! log's `Event Log:` lines) read into login attempts: identifications, the key file and whether
//! the server took the key, how it ended.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};
use super::OfferedKey;

/// Reads PuTTY lines into attempts.
#[derive(Default)]
pub struct PuttyReader {
    attempts: Attempts,
    /// The next line is the host key's fingerprint.
    fingerprint_next: bool,
}

impl PuttyReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        PuttyReader {
            attempts: Attempts::new("putty", file),
            ..Default::default()
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Putty {
            return;
        }
        let t = e.text.as_str();
        let a = self.attempts.at(t.starts_with("Looking up host "), e.no);
        if std::mem::take(&mut self.fingerprint_next) {
            a.negotiated.hostkey = t.split_whitespace().next().map(String::from);
            a.cite(e.no, t);
            return;
        }
        self.fingerprint_next = t == "Host key fingerprint is:";
        if facts(a, t) || auth(a, t) || ending(a, t) {
            a.cite(e.no, t);
        }
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

/// Identification and negotiation lines; false when `t` is none.
fn facts(a: &mut ClientAttempt, t: &str) -> bool {
    let word = |v: &str| Some(v.trim().to_string());
    if let Some(v) = t.strip_prefix("We claim version: ") {
        a.ident = word(v);
    } else if let Some(v) = t.strip_prefix("Remote version: ") {
        a.server_ident = word(v);
    } else if let Some(v) = t.strip_prefix("Using username \"") {
        a.user = word(v.trim_end_matches("\".").trim_end_matches('"'));
    } else if let Some(v) = t.strip_prefix("Doing ") {
        a.negotiated.kex = word(v);
    } else if let Some(v) = t
        .strip_prefix("Initialised ")
        .filter(|v| v.ends_with("outbound encryption"))
    {
        a.negotiated.cipher = word(v.trim_end_matches("outbound encryption"));
    } else if let Some(v) = t
        .strip_prefix("Initialised ")
        .filter(|v| v.ends_with("outbound MAC algorithm"))
    {
        a.negotiated.mac = word(v.trim_end_matches("outbound MAC algorithm"));
    } else {
        return false;
    }
    true
}

/// Key lines; false when `t` is none.
fn auth(a: &mut ClientAttempt, t: &str) -> bool {
    if let Some(v) = t.strip_prefix("Reading key file \"") {
        a.keys.push(OfferedKey {
            file: Some(v.trim_end_matches('"').to_string()),
            ..Default::default()
        });
    } else if t == "Offered public key" || t.starts_with("Trying Pageant key") {
        if a.keys.is_empty() {
            a.keys.push(OfferedKey::default());
        }
    } else if t == "Offer of public key accepted" {
        if let Some(k) = a.keys.last_mut() {
            k.accepted = true;
        }
    } else if t.starts_with("Server refused our key")
        || t.starts_with("Server refused public-key signature")
    {
        a.key_refused = true;
    } else {
        return false;
    }
    true
}

/// How it ended; false when `t` says nothing of it.
fn ending(a: &mut ClientAttempt, t: &str) -> bool {
    let fatal = t
        .strip_prefix("FATAL ERROR: ")
        .or_else(|| t.strip_prefix("Disconnected: "));
    if t == "Access granted" {
        a.end(
            Verdict::Ok,
            Stage::Login,
            "logged in (Access granted)".into(),
        );
    } else if t.starts_with("Wrong passphrase") {
        a.end(
            Verdict::Fail,
            Stage::KeyLoad,
            format!("wrong passphrase: {t}"),
        );
    } else if t.starts_with("Unable to use key file") || t.starts_with("Unable to load key file") {
        a.end(
            Verdict::Fail,
            Stage::KeyLoad,
            format!("cannot read the key file: {t}"),
        );
    } else if let Some(f) = fatal {
        let (stage, reason) = fatal_reason(a, f);
        a.end(Verdict::Fail, stage, reason);
    } else {
        return false;
    }
    true
}

/// The stage and reason of a fatal error, in the words of the failure taxonomy.
fn fatal_reason(a: &ClientAttempt, f: &str) -> (Stage, String) {
    if f.starts_with("Couldn't agree a ") {
        (super::negotiation_stage(f), f.to_string())
    } else if f.contains("No supported authentication methods") {
        let methods = f
            .split_once("server sent: ")
            .map_or("", |(_, m)| m.trim_end_matches(')'));
        let reason = match (methods.contains("publickey"), a.keys.last()) {
            (false, _) => format!("server does not offer publickey authentication (offers: {methods})"),
            (true, Some(k)) if k.accepted => "server refused the key's signature (Server refused public-key signature despite accepting key)".into(),
            (true, _) => format!("server refused the key ({f})"),
        };
        (Stage::Auth, reason)
    } else if a.key_refused && f.contains("interactive prompts") {
        // The key refused, the server went on to a password prompt batch mode cannot answer.
        (Stage::Auth, format!("server refused the key ({f})"))
    } else if f.contains("Connection refused") {
        (Stage::Connect, format!("Connection refused: {f}"))
    } else if f.contains("timed out") {
        (Stage::Timeout, f.to_string())
    } else {
        (Stage::Connect, format!("connection closed: {f}"))
    }
}
