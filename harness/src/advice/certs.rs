//! Fixes of refused certificates: what the certificate authority re-issues (verified by
//! rerunning the cell with that certificate), and for a user certificate the sshd line that
//! accepts it as it is.

use sshmatrix_clients::certs::{CaKind, CertSpec};
use sshmatrix_core::i18n;
use sshmatrix_core::tr;
use sshmatrix_reports::Code;

use super::{Change, Fix};

/// The CA's fix: re-issue the certificate as `change` says (`text`, `how` and `cost` are
/// message ids).
fn reissued(text: &str, how: &str, cost: Option<&str>, change: Change) -> Fix {
    Fix {
        side: "CA",
        text: tr!(i18n::current(), text, how = tr!(i18n::current(), how)),
        cost: cost.map(|c| tr!(i18n::current(), c)),
        change,
    }
}

/// The fixes of a certificate cell refused with `code`, CA side first.
pub(super) fn fixes(cert: CertSpec, code: Option<Code>) -> Vec<Fix> {
    let reissue = |ca: CaKind, how: &str, cost: Option<&str>| {
        let change = Change::Certificate(Some(CertSpec { ca, flaw: None }));
        reissued("fix-reissue", how, cost, change)
    };
    match code {
        Some(Code::CertCaSignatureRefused) => vec![
            reissue(CaKind::RsaSha512, "cert-sign-sha2", None),
            Fix {
                side: "server",
                text: format!(
                    "sshd_config: CASignatureAlgorithms +{}",
                    cert.ca.signature()
                ),
                cost: Some(tr!(i18n::current(), "cost-ca-sha1")),
                change: Change::Sshd(vec![format!(
                    "CASignatureAlgorithms +{}",
                    cert.ca.signature()
                )]),
            },
        ],
        Some(Code::CertExpired) => vec![reissue(
            cert.ca,
            "cert-validity-now",
            Some("cost-longer-validity"),
        )],
        Some(Code::CertNotYetValid) => vec![reissue(cert.ca, "cert-validity-started", None)],
        Some(Code::CertPrincipalNotAllowed) => vec![reissue(cert.ca, "cert-principal", None)],
        Some(Code::CertSourceNotAllowed) => vec![reissue(cert.ca, "cert-source", None)],
        _ => Vec::new(),
    }
}

/// The fixes of a host certificate a client refused with `code`: the CA re-issues it.
pub(super) fn host_fixes(cert: CertSpec, code: Option<Code>) -> Vec<Fix> {
    let reissue = |ca: CaKind, how: &str, cost: Option<&str>| {
        let change = Change::HostCertificate(Some(CertSpec { ca, flaw: None }));
        reissued("fix-reissue-host", how, cost, change)
    };
    match code {
        Some(Code::CertCaSignatureRefused) => {
            vec![reissue(CaKind::RsaSha512, "host-cert-sign-sha2", None)]
        }
        Some(Code::CertExpired) => vec![reissue(
            cert.ca,
            "host-cert-validity-now",
            Some("cost-longer-validity"),
        )],
        Some(Code::CertNotYetValid) => vec![reissue(cert.ca, "host-cert-validity-started", None)],
        Some(Code::CertPrincipalNotAllowed) => {
            vec![reissue(cert.ca, "host-cert-principal", None)]
        }
        _ => Vec::new(),
    }
}
