//! Fixes of refused user certificates: what the certificate authority re-issues (verified by
//! rerunning the cell with that certificate), and the sshd line that accepts it as it is.

use sshmatrix_clients::certs::{CaKind, CertSpec};
use sshmatrix_core::i18n;
use sshmatrix_core::tr;
use sshmatrix_reports::Code;

use super::{Change, Fix};

/// The fixes of a certificate cell refused with `code`, CA side first.
pub(super) fn fixes(cert: CertSpec, code: Option<Code>) -> Vec<Fix> {
    // `how` and `cost` are message ids.
    let reissue = |ca: CaKind, how: &str, cost: Option<&str>| Fix {
        side: "CA",
        text: tr!(
            i18n::current(),
            "fix-reissue",
            how = tr!(i18n::current(), how)
        ),
        cost: cost.map(|c| tr!(i18n::current(), c)),
        change: Change::Certificate(Some(CertSpec { ca, flaw: None })),
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
        _ => Vec::new(),
    }
}
