//! Node ssh2's debug output (`debug: console.log` in its connect options) read into login
//! attempts: identifications, both KEXINITs, what was agreed, the keys tried with their
//! signature algorithm, the server's answers, how it ended.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};
use super::OfferedKey;

/// Reads Node ssh2 lines into attempts.
#[derive(Default)]
pub struct NodeReader {
    attempts: Attempts,
}

impl NodeReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        NodeReader {
            attempts: Attempts::new("node-ssh2", file),
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Node {
            return;
        }
        let t = e.text.as_str();
        let a = self.attempts.at(t.starts_with("Local ident: "), e.no);
        if handshake(a, t) || auth(a, t) || ending(a, t) {
            a.cite(e.no, t);
        }
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

fn quoted(v: &str) -> Option<String> {
    Some(v.trim().trim_matches('\'').to_string())
}

/// Identification and negotiation lines; false when `t` is none.
fn handshake(a: &mut ClientAttempt, t: &str) -> bool {
    if let Some(v) = t.strip_prefix("Local ident: ") {
        a.ident = quoted(v);
        return true;
    }
    if let Some(v) = t.strip_prefix("Remote ident: ") {
        a.server_ident = quoted(v);
        return true;
    }
    let Some(h) = t.strip_prefix("Handshake: ") else {
        return false;
    };
    let (lists, rest) = match (h.strip_prefix("(local) "), h.strip_prefix("(remote) ")) {
        (Some(r), _) => (Some(&mut a.kexinit), r),
        (_, Some(r)) => (Some(&mut a.server_kexinit), r),
        _ => (None, h),
    };
    let Some((what, value)) = rest.split_once(": ") else {
        return false;
    };
    let negotiated = lists.is_none();
    match lists {
        Some(l) => match what {
            "KEX method" => l.kex = super::name_list(value),
            "Host key format" => l.hostkey = super::name_list(value),
            "C->S cipher" => l.cipher = super::name_list(value),
            "C->S MAC" => l.mac = super::name_list(value),
            _ => {}
        },
        None => {
            let n = &mut a.negotiated;
            let v = Some(value.trim().to_string()).filter(|v| v != "<implicit>");
            match what {
                "KEX algorithm" => n.kex = v,
                "Host key format" => n.hostkey = v,
                "C->S Cipher" => n.cipher = v,
                "C->S MAC" => n.mac = v,
                _ => return false,
            }
        }
    }
    negotiated
}

/// Authentication lines; false when `t` is none.
fn auth(a: &mut ClientAttempt, t: &str) -> bool {
    if let Some(v) = t.strip_prefix("Inbound: Received USERAUTH_FAILURE (") {
        a.methods = super::name_list(v.trim_end_matches(')'));
    } else if let Some(v) = t.strip_prefix("Client: publickey (") {
        // `Client: publickey (rsa-sha256) auth failed`: the key and the algorithm it tried.
        let alg = v.split(')').next().unwrap_or_default().to_string();
        a.keys.push(OfferedKey {
            family: super::family_of_signature(&alg).into(),
            signature: Some(alg),
            ..Default::default()
        });
        a.key_refused |= t.ends_with("auth failed");
    } else {
        return t == "Outbound: Sending USERAUTH_REQUEST (publickey -- check)"
            || t == "Client: publickey auth failed";
    }
    true
}

/// How it ended; false when `t` says nothing of it.
fn ending(a: &mut ClientAttempt, t: &str) -> bool {
    if t == "Inbound: Received USERAUTH_SUCCESS" {
        a.end(
            Verdict::Ok,
            Stage::Login,
            "logged in (USERAUTH_SUCCESS)".into(),
        );
    } else if t.starts_with("Outbound: Sending DISCONNECT") && !a.ended {
        let reason = match (a.methods.iter().any(|m| m == "publickey"), a.keys.last()) {
            (_, Some(k)) if a.key_refused => format!(
                "server refused the {} key (signed {})",
                k.family,
                k.signature.as_deref().unwrap_or("?")
            ),
            (false, _) if !a.methods.is_empty() => format!(
                "server does not offer publickey authentication (offers: {})",
                a.methods.join(",")
            ),
            _ => "connection closed by the client".into(),
        };
        let stage = if a.negotiated.kex.is_some() {
            Stage::Auth
        } else {
            Stage::Connect
        };
        a.end(Verdict::Fail, stage, reason);
    } else if let Some(why) = t.strip_prefix("Handshake failed: ") {
        let stage = super::negotiation_stage(why);
        a.end(
            Verdict::Fail,
            stage,
            format!("no matching algorithm: {why}"),
        );
    } else {
        return false;
    }
    true
}
