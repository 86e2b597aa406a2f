//! Reading an sshd log: the server's own reason for refusing a cell, with the evidence lines.

use serde::{Deserialize, Serialize};

/// What the server log says about one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    /// The server's reason for a refusal, in its words (without `[preauth]`).
    pub reason: Option<String>,
    /// Whether sshd logged an accepted authentication.
    pub accepted: bool,
    /// The log lines that support the reason (or the acceptance).
    pub evidence: Vec<String>,
}

/// Patterns that carry a refusal reason, most specific first.
const REASONS: &[&str] = &[
    "not in PubkeyAcceptedAlgorithms",
    // OpenSSH before 8.5 names the setting PubkeyAcceptedKeyTypes.
    "not in PubkeyAcceptedKeyTypes",
    // OpenSSH 10.0 and later, built without DSA.
    "unsupported public key algorithm",
    "Unable to negotiate",
    "no matching",
    "refusing RSA key",
    "Invalid key length",
    "Authentication refused",
    "not allowed because",
    "Invalid user",
    "Too many authentication failures",
    "maximum authentication attempts exceeded",
    "Disconnecting",
    "Failed publickey",
    "Failed password",
    // Not "Connection closed by authenticating user": that is the client giving up, and the
    // client says why.
    "fatal:",
    "error:",
];

/// Lines kept as evidence though they explain nothing themselves.
const CONTEXT: &[&str] = &["Connection closed by authenticating user"];

fn clean(line: &str) -> String {
    line.trim().trim_end_matches("[preauth]").trim().to_string()
}

/// Analyses the log of one `sshd -i` connection.
pub fn analyse(log: &str) -> ServerView {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let accepted: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("Accepted publickey") || l.starts_with("Accepted password"))
        .map(|l| clean(l))
        .collect();
    if !accepted.is_empty() {
        return ServerView {
            reason: None,
            accepted: true,
            evidence: accepted,
        };
    }
    for pat in REASONS {
        if let Some(line) = lines.iter().find(|l| l.contains(pat)) {
            let reason = clean(line)
                .trim_start_matches("userauth_pubkey: ")
                .to_string();
            let evidence = lines
                .iter()
                .filter(|l| REASONS.iter().chain(CONTEXT).any(|p| l.contains(p)))
                .map(|l| clean(l))
                .collect();
            return ServerView {
                reason: Some(reason),
                accepted: false,
                evidence,
            };
        }
    }
    ServerView {
        reason: None,
        accepted: false,
        evidence: lines.iter().rev().take(3).rev().map(|l| clean(l)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_algorithm_refusal_is_the_reason() {
        let log = "Connection from UNKNOWN port 65535 on UNKNOWN port 65535\n\
                   userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]\n\
                   Connection closed by authenticating user root UNKNOWN port 65535 [preauth]\n";
        let v = analyse(log);
        assert_eq!(
            v.reason.as_deref(),
            Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
        );
        assert!(!v.accepted);
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn a_client_giving_up_is_not_a_server_reason() {
        let log = "Connection from 127.0.0.1 port 40000 on 127.0.0.1 port 40001 rdomain \"\"\n\
                   Connection closed by authenticating user root 127.0.0.1 port 40000 [preauth]\n";
        let v = analyse(log);
        assert_eq!(v.reason, None);
        assert_eq!(
            v.evidence.last().map(String::as_str),
            Some("Connection closed by authenticating user root 127.0.0.1 port 40000")
        );
    }

    #[test]
    fn accepted_login_has_no_reason() {
        let v =
            analyse("Accepted publickey for root from UNKNOWN port 65535 ssh2: ECDSA SHA256:x\n");
        assert!(v.accepted);
        assert_eq!(v.reason, None);
    }
}
