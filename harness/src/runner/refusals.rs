//! Why a real client's password, keyboard-interactive or host key step failed, from what the
//! client and the server said (the key refusals stay with the drivers' classifier).

use sshmatrix_clients::emulator::{ClientOutcome, Stage, Verdict};
use sshmatrix_reports::Code;

use super::drivers::Seen;

/// The refusal the server log shows of a password the client gave: at the password method
/// (`Failed password`) or at PAM's keyboard-interactive prompt (`Failed
/// keyboard-interactive/pam`; a client may type its password there, as plink and paramiko's
/// fallback do). Without `/pam` sshd had no device to ask, which says nothing of the answer.
/// Dropbear and ProFTPD have their own words ([`crate::words::PASSWORD_REFUSED_LOG`]).
pub(super) fn password_refused(log: &str) -> Option<(&'static str, Code)> {
    if log.contains("Failed keyboard-interactive/pam") {
        Some((crate::words::KBDINT_REFUSED, Code::AuthKbdintRefused))
    } else if crate::words::PASSWORD_REFUSED_LOG
        .iter()
        .any(|w| log.contains(w))
    {
        Some((crate::words::PASSWORD_REFUSED, Code::AuthPasswordRejected))
    } else {
        None
    }
}

/// A client that would not trust the server's host key: why its host certificate was
/// refused (OpenSSH's `Certificate invalid: …`, `Certificate signed with disallowed
/// algorithm`), else that nothing vouched for the key.
pub(super) fn host_key_refusal(s: &Seen) -> ClientOutcome {
    let said = |p: &str| s.client.lines().find(|l| l.contains(p)).map(str::trim);
    let cert = crate::words::HOST_CERT_REFUSALS
        .iter()
        .find_map(|w| said(w));
    let code = cert
        .and_then(crate::diagnose::host_certificate_refusal)
        .unwrap_or(Code::HostkeyUnverified);
    let reason = match cert {
        Some(l) => format!("{}: host certificate refused: {l}", s.driver),
        None => {
            let why = said("host key is known").unwrap_or(crate::words::HOSTKEY_UNVERIFIED);
            format!("{}: the host key is not verified: {why}", s.driver)
        }
    };
    ClientOutcome::new(Verdict::Fail, Stage::Hostkey, reason).with_code(code)
}

/// The methods the server offers, as the client reports them: ssh's "Permission denied
/// (publickey).", plink's "(server sent: publickey)".
pub(super) fn offered(client: &str) -> Option<&str> {
    ["Permission denied (", "server sent: "]
        .iter()
        .find_map(|m| client.rsplit_once(m))
        .and_then(|(_, t)| t.split(')').next())
}

/// A password cell that did not log in: the password refused, the method not offered, or —
/// after a key the server took as a first step — not the method it wanted next.
pub(super) fn password_refusal(s: &Seen) -> ClientOutcome {
    let method = match s.keyboard_interactive {
        true => "keyboard-interactive",
        false => "password",
    };
    let offers = offered(s.client).unwrap_or("?");
    let (reason, code) = match password_refused(s.log) {
        Some((refused, code)) => (refused.to_string(), code),
        None if s.after_key && s.log.contains("Partial publickey") => (
            format!(
                "{} and wants {offers} next, not {method}",
                crate::words::PARTIAL_NOT_CONTINUED
            ),
            Code::AuthPartialNotContinued,
        ),
        None => (
            format!("server does not offer {method} authentication (offers: {offers})"),
            Code::AuthMethodDisabled,
        ),
    };
    let reason = format!("{}: {reason}", s.driver);
    ClientOutcome::new(Verdict::Fail, Stage::Auth, reason).with_code(code)
}
