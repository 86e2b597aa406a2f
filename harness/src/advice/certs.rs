//! Fixes of refused user certificates: what the certificate authority re-issues (verified by
//! rerunning the cell with that certificate), and the sshd line that accepts it as it is.

use sshmatrix_clients::certs::{CaKind, CertSpec};
use sshmatrix_reports::Code;

use super::{Change, Fix};

/// The fixes of a certificate cell refused with `code`, CA side first.
pub(super) fn fixes(cert: CertSpec, code: Option<Code>) -> Vec<Fix> {
    let reissue = |ca: CaKind, how: &str, cost: Option<&str>| Fix {
        side: "CA",
        text: format!("re-issue the certificate: {how}"),
        cost: cost.map(str::to_string),
        change: Change::Certificate(Some(CertSpec { ca, flaw: None })),
    };
    match code {
        Some(Code::CertCaSignatureRefused) => vec![
            reissue(
                CaKind::RsaSha512,
                "sign it with SHA-2, `ssh-keygen -s CA_KEY -t rsa-sha2-512 -I ID -n LOGIN KEY.pub` (OpenSSH 8.2+ signs RSA certificates with rsa-sha2-512 by default)",
                None,
            ),
            Fix {
                side: "server",
                text: format!("sshd_config: CASignatureAlgorithms +{}", cert.ca.signature()),
                cost: Some("the server trusts certificates signed with SHA-1 (ssh-rsa), which OpenSSH refuses by default since 8.2".into()),
                change: Change::Sshd(vec![format!("CASignatureAlgorithms +{}", cert.ca.signature())]),
            },
        ],
        Some(Code::CertExpired) => vec![reissue(
            cert.ca,
            "with a validity that covers now, `ssh-keygen -s CA_KEY -V -5m:+52w …`",
            Some("a longer validity keeps a leaked key usable longer"),
        )],
        Some(Code::CertNotYetValid) => vec![reissue(
            cert.ca,
            "with a validity starting before now, `ssh-keygen -s CA_KEY -V -5m:+52w …` (or set the clock of the host that signed it or of the server right)",
            None,
        )],
        Some(Code::CertPrincipalNotAllowed) => vec![reissue(
            cert.ca,
            "with the login name as a principal, `ssh-keygen -s CA_KEY -n LOGIN …` (or list the certificate's principal in the server's AuthorizedPrincipalsFile)",
            None,
        )],
        _ => Vec::new(),
    }
}
