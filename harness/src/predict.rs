//! Static prediction: a cell's expected verdict, stage and code from profile and policy data
//! alone (the policy's effective settings come from `sshd -T`; nothing connects). Where a run's
//! measurement disagrees with the prediction, a profile, a policy or the engine is wrong.

use sshmatrix_clients::emulator::{choose_rsa, rsa_turns, unsupported, RsaChoice};
use sshmatrix_clients::CertSpec;
use sshmatrix_clients::{negotiate, ServerHello};
use sshmatrix_reports::{Code, Stage, Verdict};
use sshmatrix_servers::{Effective, ServerKind};

use crate::matrix::{Backend, Cell, GivenPassphrase, Holder, Method, Plan, Registered, Target};

/// A predicted outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// ok / fail / error.
    pub verdict: Verdict,
    /// Where it ends.
    pub stage: Stage,
    /// Failure code (`None` for a login).
    pub code: Option<Code>,
    /// Why, in words.
    pub reason: String,
    /// The signature algorithm the client would send.
    pub signature: Option<String>,
}

/// The KEXINIT the local sshd sends for these settings.
pub fn server_hello(eff: &Effective) -> ServerHello {
    let mut kex = eff.kex.clone();
    // `sshd -T` does not print the marker; every sshd sshmatrix runs offers strict kex (9.6
    // and later, or Debian's backport). Other servers' lists, and scanned ones, are as sent.
    let strict = "kex-strict-s-v00@openssh.com";
    if eff.server == ServerKind::Openssh && !eff.kex_as_sent && !kex.iter().any(|k| k == strict) {
        kex.push(strict.into());
    }
    ServerHello {
        ident: "SSH-2.0-OpenSSH (predicted)".into(),
        kex,
        hostkey: eff.hostkey.clone(),
        cipher_c2s: eff.ciphers.clone(),
        cipher_s2c: eff.ciphers.clone(),
        mac_c2s: eff.macs.clone(),
        mac_s2c: eff.macs.clone(),
        comp_c2s: eff.compression.clone(),
        comp_s2c: eff.compression.clone(),
    }
}

/// The RSA entries of OpenSSH's server-sig-algs (7.5 to 9.5 list every algorithm they
/// implement, whatever PubkeyAcceptedAlgorithms says; 9.6 and later only the accepted ones).
const SERVER_SIG_ALGS: &[&str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

impl Prediction {
    /// The code's name as reports carry it (empty for a login).
    pub fn code_name(&self) -> &'static str {
        self.code.map_or("", Code::as_str)
    }
}

fn fail(stage: Stage, code: Code, reason: String) -> Prediction {
    Prediction {
        verdict: Verdict::Fail,
        stage,
        code: Some(code),
        reason,
        signature: None,
    }
}

/// A client that cannot confirm a Terrapin-prone connection (see
/// `Profile::batch_refuses_terrapin`) stops after negotiating one.
fn terrapin_refusal(
    p: &sshmatrix_clients::Profile,
    hello: &ServerHello,
    n: &negotiate::Negotiated,
) -> Option<Prediction> {
    let strict = hello
        .kex
        .iter()
        .any(|k| k == "kex-strict-s-v00@openssh.com");
    let prone = n.cipher == "chacha20-poly1305@openssh.com"
        || n.mac
            .as_deref()
            .is_some_and(|m| m.ends_with("-etm@openssh.com"));
    (p.batch_refuses_terrapin && prone && !strict).then(|| {
        fail(
            Stage::Cipher,
            Code::WeakCryptoRefused,
            format!(
                "{} negotiated without strict key exchange (Terrapin): the client asks to confirm and cannot",
                n.cipher
            ),
        )
    })
}

/// The effective settings of a plan's targets, by target.
pub trait Effectives {
    /// The settings of target `t`.
    fn of(&self, t: crate::matrix::TargetId) -> &Effective;
}

impl Effectives for [Effective] {
    fn of(&self, t: crate::matrix::TargetId) -> &Effective {
        &self[t]
    }
}

/// Predicts one cell of a plan (`effective`: every target's settings), jump hosts included: the
/// jump host is predicted first; with a forwarded agent the last hop is the jump host's own
/// OpenSSH client.
pub fn predict_in_plan<E: Effectives + ?Sized>(
    plan: &Plan,
    cell: &Cell,
    effective: &E,
) -> Prediction {
    let target = &plan.targets[cell.target];
    if let Some(p) = penalised(plan, cell, effective) {
        return p;
    }
    let Some(vi) = target.via else {
        return predict(cell, target, effective.of(cell.target));
    };
    let jump = &plan.targets[vi];
    let mut b = predict(cell, jump, effective.of(vi));
    if b.verdict != Verdict::Ok {
        b.reason = format!("jump host `{}`: {}", jump.id, b.reason);
        if !matches!(b.code, Some(Code::EmulationLimit | Code::Timeout)) {
            b.verdict = Verdict::Fail;
            b.stage = Stage::Jump;
            b.code = Some(Code::JumpHostRefused);
        }
        return b;
    }
    if cell.holder != Holder::AgentForwarded {
        return predict(cell, target, effective.of(cell.target));
    }
    if !effective.of(vi).agent_forwarding {
        return fail(
            Stage::Auth,
            Code::AgentForwardingRefused,
            format!("jump host `{}` has AllowAgentForwarding no", jump.id),
        );
    }
    // The jump host's ssh: the release of its image's OpenSSH, or this host's (Debian 12's
    // 9.2, which the local backend runs).
    let id = match jump.image().map(|i| i.openssh) {
        Some((major, minor)) => format!("real-openssh-{major}.{minor}"),
        None => "real-openssh-9.2".to_string(),
    };
    static PROFILES: std::sync::OnceLock<Vec<sshmatrix_clients::Profile>> =
        std::sync::OnceLock::new();
    let Some(ssh) = PROFILES
        .get_or_init(sshmatrix_clients::builtin_profiles)
        .iter()
        .find(|p| p.id == id)
    else {
        return predict(cell, target, effective.of(cell.target));
    };
    let mut hop = cell.clone();
    hop.client = std::sync::Arc::new(ssh.clone());
    predict(&hop, target, effective.of(cell.target))
}

/// Predicts one cell against a target's effective settings and troubleshooting scenario: the
/// first stage that stops the client decides (client side, transport, password, public key).
pub fn predict(cell: &Cell, target: &Target, eff: &Effective) -> Prediction {
    predict_as(cell, target, eff, true)
}

/// As [`predict`], for the real client a profile describes rather than the emulator running
/// it (`engine_limits: false`: no `emulation-limit`, as for a real client's driver).
pub fn predict_as(
    cell: &Cell,
    target: &Target,
    eff: &Effective,
    engine_limits: bool,
) -> Prediction {
    client_side(cell, target)
        .or_else(|| transport(cell, target, eff, engine_limits))
        .or_else(|| password(cell, target, eff))
        .unwrap_or_else(|| further_steps(cell, eff, public_key(cell, target, eff)))
}

/// What `AuthenticationMethods` makes of a key that logs in by itself: a login when a chain
/// is the key alone, or the key then the method a two-step client gives next (`password`,
/// `keyboard-interactive`) where the server enables it; otherwise the key is a first step the
/// client cannot follow up.
fn further_steps(cell: &Cell, eff: &Effective, key: Prediction) -> Prediction {
    if key.verdict != Verdict::Ok || eff.authentication_methods.is_empty() {
        return key;
    }
    let either = cell
        .client
        .driver
        .is_some_and(|d| d.password_to_either_method());
    let next: Vec<&str> = match cell.holder.second_method() {
        Some(_) if either => vec!["password", "keyboard-interactive"],
        Some(m) => vec![m],
        None => Vec::new(),
    };
    let next: Vec<&str> = next.into_iter().filter(|m| enabled(eff, m)).collect();
    let chains = &eff.authentication_methods;
    let done = |c: &Vec<String>| match c.as_slice() {
        [first] => first == "publickey",
        [first, second] => first == "publickey" && next.contains(&second.as_str()),
        _ => false,
    };
    if chains.iter().any(done) {
        return key;
    }
    let listed = chains
        .iter()
        .map(|c| c.join(","))
        .collect::<Vec<_>>()
        .join(" ");
    let mut f = match chains.iter().any(|c| c[0] == "publickey") {
        true => fail(
            Stage::Auth,
            Code::AuthPartialNotContinued,
            format!("AuthenticationMethods {listed}: the key is a first step, and the client has no next"),
        ),
        false => fail(
            Stage::Auth,
            Code::AuthMethodDisabled,
            format!("AuthenticationMethods {listed}: no chain begins with publickey"),
        ),
    };
    f.signature = key.signature;
    f
}

/// What a hostile stub does to every client.
fn hostile(kind: crate::matrix::Hostile) -> Prediction {
    use crate::matrix::Hostile;
    let (stage, code) = match kind {
        Hostile::Silent | Hostile::StallKex => (Stage::Timeout, Code::Timeout),
        Hostile::Garbage => (Stage::Connect, Code::ProtocolError),
        Hostile::Dies => (Stage::Connect, Code::ConnectionClosed),
    };
    Prediction {
        verdict: Verdict::Error,
        stage,
        code: Some(code),
        reason: format!("hostile server: {kind:?}"),
        signature: None,
    }
}

/// Before any packet: a refused port, a hostile server, a key file the client cannot read.
fn client_side(cell: &Cell, target: &Target) -> Option<Prediction> {
    let p = &cell.client;
    // An agent holds the key, or no key is used (a password): the client's own key-file
    // reading does not matter.
    let no_file = cell.holder.uses_agent() || !cell.holder.uses_key();
    let sc = &target.scenario;
    match &target.backend {
        Backend::Unreachable => {
            return Some(fail(
                Stage::Connect,
                Code::ConnectionRefused,
                "nothing listens".into(),
            ))
        }
        Backend::Hostile(kind) => return Some(hostile(*kind)),
        Backend::Local | Backend::Container(_) | Backend::Remote(_) => {}
    }
    let format = cell.key_tool.format_for(&cell.key);
    // A real binary's driver converts the key to the client's own format first; a library
    // reads the file as it is.
    let reads_as_is = p.reads_key_file_as_is();
    if !no_file && reads_as_is && !p.reads.contains(&format.container) {
        return Some(fail(
            Stage::KeyLoad,
            Code::KeyLoadFailed,
            format!(
                "{} does not read {} key files",
                p.display_name(),
                format.container.name()
            ),
        ));
    }
    let partial = p.partial_refusal(format.container, cell.key.family(), cell.passphrase);
    if let Some(why) = partial.filter(|_| !no_file && reads_as_is) {
        return Some(fail(
            Stage::KeyLoad,
            Code::KeyLoadFailed,
            format!("{} {why}", p.display_name()),
        ));
    }
    if !no_file && cell.passphrase && !p.reads_encrypted {
        return Some(fail(
            Stage::KeyLoad,
            Code::KeyLoadFailed,
            format!("{} cannot use encrypted key files", p.display_name()),
        ));
    }
    if cell.passphrase && sc.passphrase == GivenPassphrase::Wrong {
        return Some(fail(
            Stage::KeyLoad,
            Code::WrongPassphrase,
            "the client is given a wrong passphrase".into(),
        ));
    }
    None
}

/// Key exchange: algorithms in common, and a host key the client knows otherwise.
fn transport(
    cell: &Cell,
    target: &Target,
    eff: &Effective,
    engine_limits: bool,
) -> Option<Prediction> {
    let p = &cell.client;
    let sc = &target.scenario;
    let hello = server_hello(eff);
    match negotiate(&p.kexinit, &hello) {
        Err(nc) => {
            let (stage, code) = match nc.category {
                negotiate::Category::Kex => (Stage::Kex, Code::KexNoCommon),
                negotiate::Category::Hostkey => (Stage::Hostkey, Code::HostkeyNoCommon),
                negotiate::Category::Cipher => (Stage::Cipher, Code::CipherNoCommon),
                negotiate::Category::Mac => (Stage::Mac, Code::MacNoCommon),
                negotiate::Category::Compression => (Stage::Compression, Code::CompressionNoCommon),
            };
            return Some(fail(stage, code, nc.to_string()));
        }
        Ok(n) => {
            let missing = unsupported(&n);
            // Only the emulator has limits; a real client speaks what it negotiates.
            if !missing.is_empty() && p.driver.is_none() && engine_limits {
                return Some(Prediction {
                    verdict: Verdict::Error,
                    stage: Stage::Emulation,
                    code: Some(Code::EmulationLimit),
                    reason: format!(
                        "would negotiate {}",
                        missing
                            .iter()
                            .map(|(c, a)| format!("{c} {a}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    signature: None,
                });
            }
            if let Some(weak) = terrapin_refusal(p, &hello, &n) {
                return Some(weak);
            }
        }
    }
    if sc.known_host_key.is_some() {
        return Some(fail(
            Stage::Hostkey,
            Code::HostkeyChanged,
            "the client knows a different host key".into(),
        ));
    }
    sc.host_cert().and_then(|cert| host_certificate(p, cert))
}

/// Whether the server enables a password-giving method (`password`, `keyboard-interactive`).
fn enabled(eff: &Effective, method: &str) -> bool {
    match method {
        "password" => eff.password_auth,
        _ => eff.kbd_interactive_auth,
    }
}

/// Keyboard-interactive alone: the method enabled and first in a chain, the account's password
/// answering the prompt.
fn keyboard_interactive(eff: &Effective) -> Prediction {
    let chains = &eff.authentication_methods;
    let first = |c: &Vec<String>| c[0] == "keyboard-interactive" && c.len() == 1;
    if !eff.kbd_interactive_auth {
        return fail(
            Stage::Auth,
            Code::AuthMethodDisabled,
            "keyboard-interactive is off (KbdInteractiveAuthentication no, or UsePAM no)".into(),
        );
    }
    if !chains.is_empty() && !chains.iter().any(first) {
        return fail(
            Stage::Auth,
            Code::AuthMethodDisabled,
            "AuthenticationMethods: no chain is keyboard-interactive alone".into(),
        );
    }
    Prediction {
        verdict: Verdict::Ok,
        stage: Stage::Login,
        code: None,
        reason: "logs in with the account's password at the keyboard-interactive prompt".into(),
        signature: None,
    }
}

/// A host certificate the client checks against the run's host CA alone: refused for its CA's
/// signature algorithm (the client's CASignatureAlgorithms, profile fact `host_certificates`)
/// or its flaw; a client with no such fact sees only a key nothing vouches for.
fn host_certificate(p: &sshmatrix_clients::Profile, cert: CertSpec) -> Option<Prediction> {
    use sshmatrix_clients::certs::CertFlaw;
    let accepted = p.host_certificates.as_ref().filter(|a| !a.is_empty());
    let Some(accepted) = accepted else {
        return Some(fail(
            Stage::Hostkey,
            Code::HostkeyUnverified,
            "the client does not verify host certificates".into(),
        ));
    };
    let sig = cert.ca.signature();
    let (code, why) = match cert.flaw {
        _ if !accepted.iter().any(|a| a == sig) => (
            Code::CertCaSignatureRefused,
            format!("the host certificate's CA signed with {sig}, not in the client's CASignatureAlgorithms"),
        ),
        Some(CertFlaw::Expired) => (Code::CertExpired, "the host certificate has expired".into()),
        Some(CertFlaw::NotYetValid) => (
            Code::CertNotYetValid,
            "the host certificate is not valid yet".into(),
        ),
        Some(CertFlaw::OtherPrincipal) => (
            Code::CertPrincipalNotAllowed,
            "the host certificate does not name the host".into(),
        ),
        // Refused when the matrix is read: source-address is a user certificate's option.
        Some(CertFlaw::OtherSource) | None => return None,
    };
    Some(fail(Stage::Hostkey, code, why))
}

/// Password cells: the method offered or not, and the (wrong) password refused.
fn password(cell: &Cell, target: &Target, eff: &Effective) -> Option<Prediction> {
    if cell.holder == Holder::KeyboardInteractive {
        return Some(keyboard_interactive(eff));
    }
    let sc = &target.scenario;
    if sc.method == Method::Password || cell.holder == Holder::Password {
        let first = |c: &Vec<String>| c[0] == "password";
        let chains = &eff.authentication_methods;
        let kbd_first = |c: &Vec<String>| c[0] == "keyboard-interactive";
        let typed_at_kbdint = eff.kbd_interactive_auth
            && cell
                .client
                .driver
                .is_some_and(|d| d.password_at_keyboard_interactive(eff.password_auth))
            && (chains.is_empty() || chains.iter().any(kbd_first));
        if typed_at_kbdint {
            return Some(fail(
                Stage::Auth,
                Code::AuthKbdintRefused,
                "the password is wrong (typed at the keyboard-interactive prompt)".into(),
            ));
        }
        return Some(match eff.password_auth {
            false => fail(
                Stage::Auth,
                Code::AuthMethodDisabled,
                "PasswordAuthentication no".into(),
            ),
            true if !chains.is_empty() && !chains.iter().any(first) => fail(
                Stage::Auth,
                Code::AuthMethodDisabled,
                "AuthenticationMethods: no chain begins with password".into(),
            ),
            true => fail(
                Stage::Auth,
                Code::AuthPasswordRejected,
                "the password is wrong".into(),
            ),
        });
    }
    None
}

/// Refusals that count as failed authentication for PerSourcePenalties: the server checked
/// the key or password itself (its monitor's MON_AUTH requests set `auth_attempted`, openssh
/// V_10_0_P1 monitor.c l.307-309, sshd-session.c l.1420); a signature algorithm or RSA size
/// refused before that check, or no key offered, is no attempt (inferred from the source; the
/// refused key and password are measured by harness/tests/penalties.rs).
const AUTH_ATTEMPTS: &[Code] = &[
    Code::AuthKeyNotAuthorized,
    Code::AuthPasswordRejected,
    Code::TooManyAuthFailures,
    Code::StrictmodesPermissions,
    Code::CertExpired,
    Code::CertNotYetValid,
    Code::CertPrincipalNotAllowed,
];

/// A listening target's PerSourcePenalties: its cells run one at a time in plan order, all from
/// 127.0.0.1, so the failed logins before a cell add up; once they reach the penalty's
/// minimum, the source is refused (the run is taken to be shorter than the penalty).
fn penalised<E: Effectives + ?Sized>(
    plan: &Plan,
    cell: &Cell,
    effective: &E,
) -> Option<Prediction> {
    let target = &plan.targets[cell.target];
    let eff = effective.of(cell.target);
    let need = eff
        .penalties
        .filter(|_| target.listen)?
        .failures_to_enforce()?;
    let mut failed = 0;
    for c in plan.cells.iter().filter(|c| c.target == cell.target) {
        if failed >= need {
            return Some(fail(
                Stage::Connect,
                Code::SourcePenalized,
                format!(
                    "PerSourcePenalties: {failed} failed login(s) from 127.0.0.1 before this cell reach its minimum"
                ),
            ));
        }
        if c.index == cell.index {
            return None;
        }
        let p = predict(c, target, eff);
        failed += u32::from(p.code.is_some_and(|code| AUTH_ATTEMPTS.contains(&code)));
    }
    None
}

/// The signature algorithm the client signs the key with (RSA: chosen from the server's
/// server-sig-algs as that server release sends them), or why it signs none.
fn signature(cell: &Cell, eff: &Effective, agent: bool) -> Result<String, Prediction> {
    let p = &cell.client;
    if cell.key.family() != "rsa" {
        return Ok(cell.key.ssh_key_type());
    }
    if let Some(min) = p.min_rsa_bits.filter(|m| cell.key.bits() < *m) {
        return Err(fail(
            Stage::Auth,
            Code::AuthKeyTooSmall,
            format!("client RequiredRSASize {min}"),
        ));
    }
    let ident = server_software(eff);
    if cell.certificate.is_some()
        && ident
            .as_ref()
            .is_some_and(|i| p.auth.rsa_cert_forced_ssh_rsa(i))
    {
        return Ok("ssh-rsa".to_string());
    }
    // A server's list as data (an empty one: it sends no ext-info), else OpenSSH's.
    let list: Option<Vec<String>> = match &eff.server_sig_algs {
        Some(sent) => (!sent.is_empty()).then(|| sent.clone()),
        None => Some(
            SERVER_SIG_ALGS
                .iter()
                .filter(|a| {
                    !eff.filters_server_sig_algs() || eff.pubkey_accepted.iter().any(|p| p == *a)
                })
                .map(|s| s.to_string())
                .collect(),
        ),
    };
    let list = list.filter(|_| p.sends_ext_info());
    let list = match &ident {
        Some(i) => p.auth.believed_sig_algs(i, list),
        None => list,
    };
    match choose_rsa(p, list.as_deref()) {
        RsaChoice::Sign(_) if agent && !p.auth.agent_rsa_sha2 => Ok("ssh-rsa".to_string()),
        RsaChoice::Sign(a) if cell.certificate.is_some() => Ok(a),
        // A client trying its algorithms in turn lands on the first the server accepts (or
        // is refused with its last).
        RsaChoice::Sign(a) => {
            let turns = std::iter::once(&a).chain(rsa_turns(p, &a));
            let accepted = turns.clone().find(|s| eff.pubkey_accepted.contains(*s));
            Ok(accepted.or(turns.last()).cloned().unwrap_or(a.clone()))
        }
        RsaChoice::Skip(why) | RsaChoice::Fail(why) => {
            Err(fail(Stage::Auth, Code::AuthNoSignatureAlgorithm, why))
        }
    }
}

/// The software part of an OpenSSH target's identification as its release names it
/// (`OpenSSH_10.0`), for the clients' rules keyed on it.
fn server_software(eff: &Effective) -> Option<String> {
    if let Some(ident) = &eff.ident {
        return Some(ident.clone());
    }
    let (major, minor) = eff.release?;
    (eff.server == ServerKind::Openssh).then(|| format!("OpenSSH_{major}.{minor}"))
}

/// Why the server refuses a signed key, if it does: the signature algorithm, the RSA size,
/// the key not registered, or StrictModes.
fn server_refusal(
    cell: &Cell,
    target: &Target,
    eff: &Effective,
    signature: &str,
) -> Option<(Code, String)> {
    let sc = &target.scenario;
    // A certificate is offered under its certificate algorithm (OpenSSH auth2-pubkey.c checks
    // it against PubkeyAcceptedAlgorithms before anything else).
    let offered = match cell.certificate {
        Some(_) => format!("{signature}-cert-v01@openssh.com"),
        None => signature.to_string(),
    };
    if !eff.pubkey_accepted.contains(&offered) {
        return Some((
            Code::AuthSignatureRejected,
            format!("signature algorithm {offered} not in PubkeyAcceptedAlgorithms"),
        ));
    }
    if cell.key.family() == "rsa" && cell.key.bits() < eff.required_rsa_size {
        return Some((
            Code::AuthKeyTooSmall,
            format!(
                "{}-bit RSA key below RequiredRSASize {}",
                cell.key.bits(),
                eff.required_rsa_size
            ),
        ));
    }
    if let Some(cert) = cell.certificate {
        return certificate_refusal(cert, eff);
    }
    if sc.authorized_keys != Registered::Matrix {
        return Some((
            Code::AuthKeyNotAuthorized,
            "the key is not registered".into(),
        ));
    }
    let mode = sc
        .authorized_keys_mode
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok());
    mode.is_some_and(|m| m & 0o022 != 0).then(|| {
        (
            Code::StrictmodesPermissions,
            "authorized keys file is group/world-writable".to_string(),
        )
    })
}

/// Why an OpenSSH server refuses a user certificate signed by the run's CA (which it trusts):
/// the CA's signature algorithm outside CASignatureAlgorithms, then the certificate's own
/// validity and principals (OpenSSH auth2-pubkey.c, sshkey_cert_check_authority).
fn certificate_refusal(cert: CertSpec, eff: &Effective) -> Option<(Code, String)> {
    use sshmatrix_clients::certs::CertFlaw;
    let ca = cert.ca.signature();
    if !eff.ca_signature_algorithms.iter().any(|a| a == ca) {
        return Some((
            Code::CertCaSignatureRefused,
            format!("certificate signature algorithm {ca} not in CASignatureAlgorithms"),
        ));
    }
    cert.flaw.map(|flaw| match flaw {
        CertFlaw::Expired => (Code::CertExpired, "certificate expired".to_string()),
        CertFlaw::NotYetValid => (Code::CertNotYetValid, "certificate not yet valid".into()),
        CertFlaw::OtherPrincipal => (
            Code::CertPrincipalNotAllowed,
            "the login name is not a principal of the certificate".into(),
        ),
        CertFlaw::OtherSource => (
            Code::CertSourceNotAllowed,
            "the client's address is not in the certificate's source-address".into(),
        ),
    })
}

/// The signature algorithms of a key family (`ecdsa`: the curve its size names).
pub fn family_algorithms(family: &str, bits: u32) -> Vec<String> {
    match family {
        "rsa" => vec![
            "rsa-sha2-512".into(),
            "rsa-sha2-256".into(),
            "ssh-rsa".into(),
        ],
        "ecdsa" => vec![format!("ecdsa-sha2-nistp{bits}")],
        "ed25519" => vec!["ssh-ed25519".into()],
        "dsa" => vec!["ssh-dss".into()],
        other => vec![other.to_string()],
    }
}

/// A server other than OpenSSH that verifies no signature algorithm of the key's family
/// refuses the key whatever the client does (it logs nothing of it, so the server's lack is
/// the explanation, as the runner's diagnosis says too).
fn unverified_family(cell: &Cell, eff: &Effective) -> Option<Prediction> {
    let family = family_algorithms(cell.key.family(), cell.key.bits());
    let verified = family.iter().any(|a| eff.pubkey_accepted.contains(a));
    (eff.server != ServerKind::Openssh && !verified).then(|| {
        fail(
            Stage::Auth,
            Code::AuthSignatureRejected,
            format!(
                "{} verifies no {} signature ({})",
                eff.server.name(),
                cell.key.family(),
                eff.pubkey_accepted.join(",")
            ),
        )
    })
}

/// Public-key authentication: MaxAuthTries, key family and signature algorithm, RSA size,
/// registered keys and StrictModes.
fn public_key(cell: &Cell, target: &Target, eff: &Effective) -> Prediction {
    let p = &cell.client;
    let agent = cell.holder.uses_agent();
    let sc = &target.scenario;
    if sc.other_keys_first >= eff.max_auth_tries as usize {
        return fail(
            Stage::Auth,
            Code::TooManyAuthFailures,
            format!(
                "{} other keys first, MaxAuthTries {}",
                sc.other_keys_first, eff.max_auth_tries
            ),
        );
    }
    if !eff.pubkey_auth {
        return fail(
            Stage::Auth,
            Code::AuthMethodDisabled,
            "PubkeyAuthentication no".into(),
        );
    }
    let family = cell.key.family();
    if !p.auth.key_families.iter().any(|f| f == family) {
        return fail(
            Stage::KeyLoad,
            Code::KeyLoadFailed,
            format!("{} cannot use {family} keys", p.display_name()),
        );
    }
    if p.auth.not_offered.iter().any(|f| f == family) {
        return fail(
            Stage::Auth,
            Code::AuthNoSignatureAlgorithm,
            format!(
                "client does not offer the {family} key: {}",
                sshmatrix_clients::emulator::NOT_OFFERED
            ),
        );
    }
    if let Some(refused) = unverified_family(cell, eff) {
        return refused;
    }
    let signature = match signature(cell, eff, agent) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    if let Some((code, reason)) = server_refusal(cell, target, eff, &signature) {
        let mut f = fail(Stage::Auth, code, reason);
        f.signature = Some(signature);
        return f;
    }
    Prediction {
        verdict: Verdict::Ok,
        stage: Stage::Login,
        code: None,
        reason: format!("logs in with {signature}"),
        signature: Some(signature),
    }
}
