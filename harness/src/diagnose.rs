//! Diagnosis: derives a cell's failure code (see `sshmatrix_reports::Code`) from the
//! evidence of both sides — the client's stage and reason, and the server's log lines.

use sshmatrix_clients::emulator::{ClientOutcome, Stage, Verdict};
use sshmatrix_servers::ServerView;

/// The failure code of a cell (empty for ok).
pub fn code(client: &ClientOutcome, server: &ServerView) -> &'static str {
    if client.verdict == Verdict::Ok {
        return "";
    }
    let srv = |pat: &str| {
        server.reason.as_deref().is_some_and(|r| r.contains(pat))
            || server.evidence.iter().any(|l| l.contains(pat))
    };
    let cli = |pat: &str| client.reason.contains(pat);
    match client.stage {
        Stage::Emulation => "emulation-limit",
        Stage::Jump => "jump-host-refused",
        Stage::Timeout => "timeout",
        Stage::KeyLoad if cli("wrong passphrase") => "wrong-passphrase",
        Stage::KeyLoad => "key-load-failed",
        Stage::Kex => "kex-no-common",
        Stage::Hostkey if cli("host key changed") => "hostkey-changed",
        Stage::Hostkey => "hostkey-no-common",
        Stage::Cipher if cli("weak crypto primitive") => "weak-crypto-refused",
        Stage::Cipher => "cipher-no-common",
        Stage::Mac => "mac-no-common",
        Stage::Compression => "compression-no-common",
        Stage::Connect if cli("Connection refused") => "connection-refused",
        Stage::Connect if cli("protocol error") => "protocol-error",
        Stage::Connect if cli("closed") || cli("Disconnect") => "connection-closed",
        Stage::Connect if cli("protocol") || cli("Version") || cli("version") => "protocol-error",
        Stage::Connect => "connection-closed",
        Stage::Auth | Stage::Login if cli("deferred:") => "auth-budget-exhausted",
        Stage::Auth | Stage::Login if cli("agent forwarding refused") => "agent-forwarding-refused",
        Stage::Auth | Stage::Login => {
            if srv("not in PubkeyAccepted") || srv("unsupported public key algorithm") {
                "auth-signature-rejected"
            } else if srv("Invalid key length") || srv("refusing RSA key") || cli("RequiredRSASize")
            {
                "auth-key-too-small"
            } else if srv("bad ownership or modes") {
                "strictmodes-permissions"
            } else if srv("Too many authentication failures")
                || srv("maximum authentication attempts exceeded")
                || cli("Too many authentication failures")
            {
                "too-many-auth-failures"
            } else if cli("server refused the password") {
                "auth-password-rejected"
            } else if cli("does not offer publickey") || cli("does not offer password") {
                "auth-method-disabled"
            } else if cli("does not offer the") || cli("no RSA signature algorithm") {
                "auth-no-signature-algorithm"
            } else if client.verdict == Verdict::Error {
                "connection-closed"
            } else {
                "auth-key-not-authorized"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(stage: Stage, reason: &str) -> ClientOutcome {
        ClientOutcome {
            verdict: Verdict::Fail,
            stage,
            reason: reason.into(),
            negotiated: None,
            signature: None,
            methods: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn server_evidence_decides_between_auth_codes() {
        let view = |line: &str| ServerView {
            reason: Some(line.into()),
            accepted: false,
            evidence: vec![line.into()],
        };
        let o = outcome(Stage::Auth, "server refused publickey with ssh-rsa");
        assert_eq!(
            code(
                &o,
                &view("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
            ),
            "auth-signature-rejected"
        );
        assert_eq!(
            code(&o, &view("refusing RSA key: Invalid key length")),
            "auth-key-too-small"
        );
        assert_eq!(
            code(
                &o,
                &view("Authentication refused: bad ownership or modes for file /x")
            ),
            "strictmodes-permissions"
        );
        assert_eq!(
            code(
                &o,
                &view("Failed publickey for root from UNKNOWN port 65535 ssh2")
            ),
            "auth-key-not-authorized"
        );
        assert_eq!(code(&o, &ServerView::default()), "auth-key-not-authorized");
    }

    #[test]
    fn client_stages_map_to_codes() {
        let none = ServerView::default();
        assert_eq!(
            code(
                &outcome(
                    Stage::KeyLoad,
                    "PuTTY 0.83 wrong passphrase for ppk-v3 key file"
                ),
                &none
            ),
            "wrong-passphrase"
        );
        assert_eq!(
            code(&outcome(Stage::KeyLoad, "cannot read pem key files"), &none),
            "key-load-failed"
        );
        assert_eq!(
            code(&outcome(Stage::Hostkey, "no matching hostkey"), &none),
            "hostkey-no-common"
        );
        assert_eq!(
            code(
                &outcome(
                    Stage::Auth,
                    "server does not offer publickey authentication (offers: password)"
                ),
                &none
            ),
            "auth-method-disabled"
        );
        assert_eq!(
            code(&outcome(Stage::Emulation, "emulation limit"), &none),
            "emulation-limit"
        );
    }
}
