//! Diagnosis: derives a cell's failure code (see `sshmatrix_reports::Code`) from the
//! evidence of both sides — the client's stage and reason, and the server's log lines.

use sshmatrix_clients::emulator::{ClientOutcome, Stage, Verdict};
use sshmatrix_reports::Code;
use sshmatrix_servers::ServerView;

/// The failure code of a cell (`None` for a login).
pub fn code(client: &ClientOutcome, server: &ServerView) -> Option<Code> {
    if client.verdict == Verdict::Ok {
        return None;
    }
    // Whoever produced the outcome and knew the cause said it; else the evidence decides.
    Some(client.code.unwrap_or_else(|| failure(client, server)))
}

/// The failure code of a cell that did not log in.
fn failure(client: &ClientOutcome, server: &ServerView) -> Code {
    let srv = |pat: &str| {
        server.reason.as_deref().is_some_and(|r| r.contains(pat))
            || server.evidence.iter().any(|l| l.contains(pat))
    };
    let cli = |pat: &str| client.reason.contains(pat);
    match client.stage {
        Stage::Emulation => Code::EmulationLimit,
        Stage::Interrupted => Code::ConnectionClosed,
        Stage::Jump => Code::JumpHostRefused,
        Stage::Timeout => Code::Timeout,
        Stage::KeyLoad if cli("wrong passphrase") => Code::WrongPassphrase,
        Stage::KeyLoad => Code::KeyLoadFailed,
        Stage::Kex => Code::KexNoCommon,
        Stage::Hostkey if cli("host key changed") => Code::HostkeyChanged,
        Stage::Hostkey => host_key_failure(&client.reason),
        Stage::Cipher if cli("weak crypto primitive") => Code::WeakCryptoRefused,
        Stage::Cipher => Code::CipherNoCommon,
        Stage::Mac => Code::MacNoCommon,
        Stage::Compression => Code::CompressionNoCommon,
        Stage::Connect if cli("Connection refused") => Code::ConnectionRefused,
        // OpenSSH 9.8+: `drop connection #0 from [ADDR]:PORT on [ADDR]:PORT penalty: REASON`.
        Stage::Connect if srv("drop connection #") => Code::SourcePenalized,
        Stage::Connect if cli("protocol error") => Code::ProtocolError,
        Stage::Connect if cli("closed") || cli("Disconnect") => Code::ConnectionClosed,
        Stage::Connect if cli("protocol") || cli("Version") || cli("version") => {
            Code::ProtocolError
        }
        Stage::Connect => Code::ConnectionClosed,
        Stage::Auth | Stage::Login if cli("deferred:") => Code::AuthBudgetExhausted,
        Stage::Auth | Stage::Login if cli("agent forwarding refused") => {
            Code::AgentForwardingRefused
        }
        Stage::Auth | Stage::Login => auth_failure(client, &srv),
    }
}

/// The failure code of a cell refused during authentication: the server's words first, then
/// the client's.
fn auth_failure(client: &ClientOutcome, srv: &dyn Fn(&str) -> bool) -> Code {
    let cli = |pat: &str| client.reason.contains(pat);
    if let Some(code) = certificate_refusal(srv) {
        code
    } else if srv("not in PubkeyAccepted")
        || srv("unsupported public key algorithm")
        || srv("Pubkey auth attempt with unknown algo")
        || srv("No verifier located for algorithm")
        // Twisted Conch: a key type the release cannot read at all, or a registered key whose
        // signature it could not verify (an RSA signature algorithm it does not implement:
        // rsa-sha2-512 on 20.3.0, measured with paramiko 3.5.1).
        || srv("Unsupported key type")
        || srv("unauthorized login: Key signature invalid")
    {
        Code::AuthSignatureRejected
    } else if srv("Invalid key length") || srv("refusing RSA key") || cli("RequiredRSASize") {
        Code::AuthKeyTooSmall
    } else if srv("bad ownership or modes") {
        Code::StrictmodesPermissions
    } else if srv("Too many authentication failures")
        || srv("maximum authentication attempts exceeded")
        || srv("Maximum login attempts")
        || cli("Too many authentication failures")
    {
        Code::TooManyAuthFailures
    } else if cli(crate::words::KBDINT_REFUSED) || srv("Failed keyboard-interactive/pam") {
        Code::AuthKbdintRefused
    } else if cli(crate::words::PASSWORD_REFUSED)
        || crate::words::PASSWORD_REFUSED_LOG.iter().any(|w| srv(w))
    {
        Code::AuthPasswordRejected
    } else if srv("Partial publickey") || cli(crate::words::PARTIAL_NOT_CONTINUED) {
        Code::AuthPartialNotContinued
    } else if cli("does not offer publickey")
        || cli("does not offer password")
        || cli("does not offer keyboard-interactive")
        // paramiko: the method is not among the server's; Go x/crypto: nothing but
        // `none` was tried, for the server offered none of the client's methods.
        || cli("BadAuthenticationType")
        || cli("attempted methods [none],")
    {
        Code::AuthMethodDisabled
    } else if cli("does not offer the")
        || cli("no RSA signature algorithm")
        // libssh 0.10+: its own PUBLICKEY_ACCEPTED_TYPES leave it no algorithm.
        || cli("not allowed to be used by PUBLICKEY_ACCEPTED_TYPES")
    {
        Code::AuthNoSignatureAlgorithm
    } else if client.verdict == Verdict::Error {
        Code::ConnectionClosed
    } else {
        Code::AuthKeyNotAuthorized
    }
}

/// The failure code of a cell stopped at the host key: a host certificate refused, nothing
/// that vouches for the key, else no common host key algorithm.
fn host_key_failure(reason: &str) -> Code {
    let unverified = crate::words::HOSTKEY_UNVERIFIED_WORDS;
    host_certificate_refusal(reason).unwrap_or(
        match unverified.iter().any(|w| reason.contains(w)) {
            true => Code::HostkeyUnverified,
            false => Code::HostkeyNoCommon,
        },
    )
}

/// Why the server refused a user certificate, in its words (OpenSSH: `certificate signature
/// algorithm ssh-rsa: signature algorithm not supported`, `Certificate invalid: expired`, `…:
/// not yet valid`, `…: name is not a listed principal`; measured with OpenSSH 9.2 by
/// harness/tests/certificates.rs).
fn certificate_refusal(srv: &dyn Fn(&str) -> bool) -> Option<Code> {
    if srv("certificate signature algorithm") {
        Some(Code::CertCaSignatureRefused)
    } else if srv("Certificate invalid: expired") {
        Some(Code::CertExpired)
    } else if srv("Certificate invalid: not yet valid") {
        Some(Code::CertNotYetValid)
    } else if srv("Certificate invalid: name is not a listed principal") {
        Some(Code::CertPrincipalNotAllowed)
    } else if srv("not from a permitted source address") {
        Some(Code::CertSourceNotAllowed)
    } else {
        None
    }
}

/// Why a client refused a host certificate, in OpenSSH's words (sshconnect.c
/// `check_host_cert`: `Certificate invalid: expired`, `…: not yet valid`, `…: name is not a
/// listed principal`; a CA signature not in the client's CASignatureAlgorithms is `Certificate
/// signed with disallowed algorithm` from 9.x, `check_host_cert: certificate signature
/// algorithm ssh-rsa: signature algorithm not supported` in 8.4; measured with OpenSSH 8.4,
/// 9.2 and 10.0 by harness/tests/certificates.rs).
/// AsyncSSH (`HostKeyNotVerifiable: Certificate expired for host …`) and Go x/crypto's
/// CertChecker (`ssh: cert has expired`) word the same refusals their own way (measured by
/// harness/tests/certificates.rs).
pub fn host_certificate_refusal(said: &str) -> Option<Code> {
    const WORDS: [(&str, Code); 7] = [
        (
            "Certificate signed with disallowed algorithm",
            Code::CertCaSignatureRefused,
        ),
        ("Certificate expired for host", Code::CertExpired),
        ("Certificate not yet valid for host", Code::CertNotYetValid),
        (
            "Certificate principal mismatch",
            Code::CertPrincipalNotAllowed,
        ),
        ("ssh: cert has expired", Code::CertExpired),
        ("ssh: cert is not yet valid", Code::CertNotYetValid),
        (
            "not in the set of valid principals",
            Code::CertPrincipalNotAllowed,
        ),
    ];
    WORDS
        .iter()
        .find(|(w, _)| said.contains(w))
        .map(|(_, c)| *c)
        .or_else(|| certificate_refusal(&|p: &str| said.contains(p)))
}

/// Refines, across the cells of one report, what no server log could say: a remote cell (no
/// server evidence) refused as `auth-key-not-authorized` after signing with algorithm S, whose
/// key logged in in another cell of the same run signing with another algorithm, was refused
/// for S, not for the key (the key is registered: the other login proves it). Returns how many
/// cells changed.
pub fn across_cells(cells: &mut [sshmatrix_reports::CellResult]) -> usize {
    use sshmatrix_reports::Verdict as V;
    let logins: Vec<(String, String, String)> = cells
        .iter()
        .filter(|c| c.verdict == V::Ok && !c.key_fingerprint.is_empty())
        .filter_map(|c| {
            let sig = c.signature.clone()?;
            Some((c.key_fingerprint.clone(), sig, c.client.clone()))
        })
        .collect();
    let mut changed = 0;
    for c in cells.iter_mut() {
        if c.code != Code::AuthKeyNotAuthorized || !c.server_evidence.is_empty() {
            continue;
        }
        let Some(sig) = c.signature.clone() else {
            continue;
        };
        let proof = logins
            .iter()
            .find(|(fp, other, _)| *fp == c.key_fingerprint && *other != sig);
        if let Some((_, other, client)) = proof {
            c.code = Code::AuthSignatureRejected.into();
            c.reason = format!(
                "the server refused the {sig} signature: the same key logged in signed with {other} ({client}, this run), so the key is registered and {sig} is what it does not accept"
            );
            c.notes
                .push("code from evidence across cells (no server log on a remote target)".into());
            changed += 1;
        }
    }
    changed
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
            stopped_from_outside: false,
            code: None,
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
            Some(Code::AuthSignatureRejected)
        );
        assert_eq!(
            code(&o, &view("refusing RSA key: Invalid key length")),
            Some(Code::AuthKeyTooSmall)
        );
        assert_eq!(
            code(
                &o,
                &view("Authentication refused: bad ownership or modes for file /x")
            ),
            Some(Code::StrictmodesPermissions)
        );
        assert_eq!(
            code(
                &o,
                &view("Failed publickey for root from UNKNOWN port 65535 ssh2")
            ),
            Some(Code::AuthKeyNotAuthorized)
        );
        assert_eq!(
            code(&o, &ServerView::default()),
            Some(Code::AuthKeyNotAuthorized)
        );
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
            Some(Code::WrongPassphrase)
        );
        assert_eq!(
            code(&outcome(Stage::KeyLoad, "cannot read pem key files"), &none),
            Some(Code::KeyLoadFailed)
        );
        assert_eq!(
            code(&outcome(Stage::Hostkey, "no matching hostkey"), &none),
            Some(Code::HostkeyNoCommon)
        );
        assert_eq!(
            code(
                &outcome(
                    Stage::Auth,
                    "server does not offer publickey authentication (offers: password)"
                ),
                &none
            ),
            Some(Code::AuthMethodDisabled)
        );
        assert_eq!(
            code(&outcome(Stage::Emulation, "emulation limit"), &none),
            Some(Code::EmulationLimit)
        );
    }

    /// Cells of a two-client plan against one remote-like target, as results.
    fn two_cells() -> Vec<sshmatrix_reports::CellResult> {
        let text = r#"title = "t"
[axes]
keys = ["rsa-2048"]
passphrase = ["no"]
clients = ["openssh-9.2", "putty-0.74"]
key_tools = ["ssh-keygen"]
[[targets]]
id = "t"
policy = "rhel9-default"
users = ["u"]
"#;
        let (profiles, tools, policies) = (
            sshmatrix_clients::builtin_profiles(),
            sshmatrix_clients::key_tools(),
            sshmatrix_servers::builtin_policies(),
        );
        let catalog = crate::matrix::Catalog::new(&profiles, &tools, &policies);
        let plan = crate::matrix::plan("t.toml", text, None, &catalog).unwrap();
        let mut cells: Vec<_> = plan
            .cells
            .iter()
            .map(|c| crate::runner::blank_result(&plan, c))
            .collect();
        for c in cells.iter_mut() {
            c.key_fingerprint = "SHA256:same".into();
        }
        cells[0].verdict = Verdict::Ok;
        cells[0].signature = Some("rsa-sha2-512".into());
        cells[1].verdict = Verdict::Fail;
        cells[1].code = Code::AuthKeyNotAuthorized.into();
        cells[1].signature = Some("ssh-rsa".into());
        cells
    }

    #[test]
    fn a_key_that_logged_in_elsewhere_was_refused_for_its_signature_not_itself() {
        let mut cells = two_cells();
        assert_eq!(across_cells(&mut cells), 1);
        assert_eq!(cells[1].code, Code::AuthSignatureRejected);
        assert!(cells[1].reason.starts_with(
            "the server refused the ssh-rsa signature: the same key logged in signed with rsa-sha2-512 (openssh-9.2, this run)"
        ), "{}", cells[1].reason);
        // Server evidence, another key, or no other login: the code stands.
        for spoil in 0..3 {
            let mut cells = two_cells();
            match spoil {
                0 => cells[1].server_evidence = vec!["Failed publickey".into()],
                1 => cells[1].key_fingerprint = "SHA256:other".into(),
                _ => cells[0].verdict = Verdict::Fail,
            }
            assert_eq!(across_cells(&mut cells), 0, "case {spoil}");
            assert_eq!(cells[1].code, Code::AuthKeyNotAuthorized);
        }
    }
}
