//! `sshmatrix scan`: what a live server shows before anyone logs in — its identification, its
//! KEXINIT lists, the host keys it proves and the RSA part of its ext-info `server-sig-algs` —
//! and, from that alone, which clients holding which keys would log in. Nothing authenticates,
//! so no failed-login counter on the server moves. What decides a login but cannot be seen
//! before one (PubkeyAcceptedAlgorithms where the server's release does not reveal it,
//! RequiredRSASize, the authorized keys) is stated per cell, never guessed silently.

use std::time::Duration;

use sshmatrix_clients::negotiate::{self, ServerHello};
use sshmatrix_clients::profile::KexLists;
use sshmatrix_reports::{Code, Stage, Verdict};
use sshmatrix_servers::{Effective, Policy, ServerKind};

use crate::matrix::{Cell, Target};
use crate::predict::Prediction;

pub mod fleet;
mod inventory;
pub mod merge;
pub mod sig_algs;
pub mod targets;
pub mod verify;

/// The identification string a scan sends.
pub const IDENT: &str = "SSH-2.0-sshmatrix_scan";

/// What a scan could not reach or read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No TCP connection.
    #[error("cannot connect to {address}: {why}")]
    Unreachable {
        /// HOST:PORT.
        address: String,
        /// The system's reason.
        why: String,
    },
    /// Something answered that is not an SSH server.
    #[error("{address} does not speak SSH: {why}")]
    NotSsh {
        /// HOST:PORT.
        address: String,
        /// What was wrong.
        why: String,
    },
    /// The server did not send its identification and KEXINIT in time.
    #[error("{address} sent no SSH identification and KEXINIT within {secs} s")]
    Stalled {
        /// HOST:PORT.
        address: String,
        /// The timeout.
        secs: u64,
    },
    /// An ssh-audit report that cannot be read.
    #[error("{0}")]
    Report(String),
}

/// The RSA part of the server's `server-sig-algs`, as far as it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigAlgs {
    /// Not seen, and why (an ssh-audit report carries no ext-info; no key exchange completed).
    Unseen(String),
    /// No `server-sig-algs`, or one without an RSA algorithm (the engine cannot tell apart).
    NoRsa,
    /// The best RSA algorithm listed (`rsa-sha2-512`, `rsa-sha2-256` or `ssh-rsa`): all the
    /// engine reads of the list.
    BestRsa(String),
    /// The whole list, as this host's OpenSSH client read it ([`sig_algs::read`]).
    Listed(Vec<String>),
}

/// A host key the server proved (or an ssh-audit report lists), with its SHA256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// Host key algorithm.
    pub algorithm: String,
    /// `SHA256:…`.
    pub fingerprint: String,
}

/// What a scan saw of a server before login.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Where from: `HOST:PORT`, or the ssh-audit report's target.
    pub address: String,
    /// Identification string and KEXINIT lists.
    pub hello: ServerHello,
    /// Host keys, one per key type.
    pub host_keys: Vec<HostKey>,
    /// The RSA part of server-sig-algs.
    pub sig_algs: SigAlgs,
    /// What went wrong on the way without ending the scan.
    pub notes: Vec<String>,
}

/// The server implementation and release its identification string names.
pub fn software(ident: &str) -> (Option<ServerKind>, Option<String>) {
    let soft = ident.splitn(3, '-').nth(2).unwrap_or("");
    let soft = soft.split_whitespace().next().unwrap_or("");
    // ProFTPD says `SSH-2.0-mod_sftp` (`mod_sftp/1.1.1` with ServerIdent on: the module's
    // version, not ProFTPD's release).
    if soft.starts_with("mod_sftp") {
        return (Some(ServerKind::Proftpd), None);
    }
    let (name, version) = soft.split_once('_').unwrap_or((soft, ""));
    let kind = match name.to_ascii_lowercase().as_str() {
        "openssh" => Some(ServerKind::Openssh),
        "dropbear" => Some(ServerKind::Dropbear),
        "tinyssh" => Some(ServerKind::Tinyssh),
        "asyncssh" => Some(ServerKind::Asyncssh),
        "twisted" => Some(ServerKind::Twisted),
        _ => None,
    };
    (kind, (!version.is_empty()).then(|| version.to_string()))
}

/// One host key algorithm per key type of the server's list, the ones the engine can verify:
/// RSA by its best algorithm, each ECDSA curve, Ed25519, DSA.
fn host_key_probes(list: &[String]) -> Vec<String> {
    use sshmatrix_clients::emulator::engine_supports;
    let mut out: Vec<String> = Vec::new();
    let rsa = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    if let Some(r) = rsa.iter().find(|a| list.iter().any(|l| l == *a)) {
        out.push(r.to_string());
    }
    for a in list {
        let plain = !rsa.contains(&a.as_str()) && !a.contains("-cert-");
        if plain && engine_supports(negotiate::Category::Hostkey, a) && !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// Connects and reads the identification and KEXINIT (within `timeout`).
async fn hello(host: &str, port: u16, timeout: Duration) -> Result<ServerHello, ScanError> {
    let address = format!("{host}:{port}");
    let probe = async {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| ScanError::Unreachable {
                address: address.clone(),
                why: e.to_string(),
            })?;
        negotiate::probe(stream, IDENT)
            .await
            .map_err(|e| ScanError::NotSsh {
                address: address.clone(),
                why: e.to_string(),
            })
    };
    tokio::time::timeout(timeout, probe)
        .await
        .map_err(|_| ScanError::Stalled {
            address: address.clone(),
            secs: timeout.as_secs(),
        })?
}

/// Scans `host:port`: one connection for the identification and KEXINIT, then one key
/// exchange per host key type (its key and fingerprint; the first also reads
/// server-sig-algs). No authentication request is ever sent.
pub async fn observe(host: &str, port: u16, timeout: Duration) -> Result<Seen, ScanError> {
    let hello = hello(host, port, timeout).await?;
    let mut seen = Seen {
        address: format!("{host}:{port}"),
        sig_algs: SigAlgs::Unseen("no key exchange with the server completed".into()),
        host_keys: Vec::new(),
        notes: Vec::new(),
        hello,
    };
    for alg in host_key_probes(&seen.hello.hostkey) {
        let lists = KexLists {
            kex: seen.hello.kex.clone(),
            hostkey: vec![alg.clone()],
            cipher: seen.hello.cipher_c2s.clone(),
            mac: seen.hello.mac_c2s.clone(),
            compression: seen.hello.comp_c2s.clone(),
        };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect((host, port))
                .await
                .map_err(|e| e.to_string())?;
            sshmatrix_clients::emulator::handshake(stream, &lists).await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(h)) => {
                if seen.host_keys.is_empty() {
                    seen.sig_algs = h.best_rsa.map_or(SigAlgs::NoRsa, SigAlgs::BestRsa);
                }
                seen.host_keys.push(HostKey {
                    algorithm: alg,
                    fingerprint: h
                        .host_key
                        .fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
                        .to_string(),
                });
            }
            Ok(Err(e)) => seen
                .notes
                .push(format!("key exchange with host key {alg}: {e}")),
            Err(_) => seen.notes.push(format!(
                "key exchange with host key {alg}: no answer within {} s",
                timeout.as_secs()
            )),
        }
    }
    // The server sends a list: read all of it (the engine saw only its best RSA entry).
    if matches!(seen.sig_algs, SigAlgs::BestRsa(_)) {
        match sig_algs::read(host, port, &seen.hello, timeout).await {
            Ok(list) => seen.sig_algs = SigAlgs::Listed(list),
            Err(e) => seen.notes.push(format!(
                "server-sig-algs beyond its best RSA entry not read: {e}"
            )),
        }
    }
    Ok(seen)
}

/// Every signature algorithm a user key may be signed with (what a scan's predictions start
/// from before deciding whether the server accepts the one a client sends).
const EVERY_SIGNATURE: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-dss",
];

/// RSA signature algorithms, strongest first.
const RSA: [&str; 3] = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/// A server as one possible reading of what the scan saw: `sig_algs` is one candidate
/// server-sig-algs list.
fn effective(seen: &Seen, known: Option<&Policy>, sig_algs: Vec<String>) -> Effective {
    let (kind, _) = software(&seen.hello.ident);
    let h = &seen.hello;
    Effective {
        kex: h.kex.clone(),
        hostkey: h.hostkey.clone(),
        ciphers: h.cipher_c2s.clone(),
        macs: h.mac_c2s.clone(),
        compression: h.comp_c2s.clone(),
        pubkey_accepted: EVERY_SIGNATURE.iter().map(|s| s.to_string()).collect(),
        // A scan cannot see what CAs a server accepts.
        ca_signature_algorithms: Vec::new(),
        authentication_methods: Vec::new(),
        required_rsa_size: known
            .and_then(|p| p.facts.as_ref())
            .map_or(1024, |f| f.rsa_min_bits),
        pubkey_auth: true,
        password_auth: true,
        // Methods are seen only after the key exchange (`none` attempt); a scan assumes both.
        kbd_interactive_auth: true,
        agent_forwarding: true,
        max_auth_tries: 6,
        release: sshmatrix_servers::sshd::parse_release(&h.ident),
        server_sig_algs: Some(sig_algs),
        server: kind.unwrap_or_default(),
        kex_as_sent: true,
        ident: h.ident.strip_prefix("SSH-2.0-").map(String::from),
        // A scan sees nothing of what a server does between connections.
        penalties: None,
    }
}

/// The server-sig-algs lists consistent with what was seen (several when it was not seen).
fn sig_alg_worlds(seen: &Seen, known: Option<&Policy>) -> Vec<Vec<String>> {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(f) = known.and_then(|p| p.facts.as_ref()) {
        return vec![f.server_sig_algs.clone()];
    }
    // TinySSH sends no ext-info (every built-in TinySSH policy, read off the real servers).
    if software(&seen.hello.ident).0 == Some(ServerKind::Tinyssh) {
        return vec![Vec::new()];
    }
    let others = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"];
    match &seen.sig_algs {
        SigAlgs::Listed(list) => vec![list.clone()],
        // As the emulator reads a server: the best RSA entry and every weaker one.
        SigAlgs::BestRsa(best) => {
            let from = RSA.iter().position(|r| r == best).unwrap_or(0);
            vec![[v(&others), v(&RSA[from..])].concat()]
        }
        SigAlgs::NoRsa => vec![Vec::new(), v(&others)],
        SigAlgs::Unseen(_) => vec![
            Vec::new(),
            [v(&others), v(&RSA[2..])].concat(),
            [v(&others), v(&RSA[1..])].concat(),
            [v(&others), v(&RSA)].concat(),
            [v(&others), v(&RSA[..2])].concat(),
        ],
    }
}

/// Whether the server accepts signatures of `alg`, when a scan can tell: from a built-in
/// policy of the same build, from what the implementation is (TinySSH), or from
/// server-sig-algs where the release lists only accepted algorithms (OpenSSH 9.6 and later).
/// `Err` says why it cannot.
fn accepts(seen: &Seen, known: Option<&Policy>, alg: &str) -> Result<bool, String> {
    if let Some(f) = known.and_then(|p| p.facts.as_ref()) {
        return Ok(f.pubkey_algorithms.iter().any(|a| a == alg));
    }
    let (kind, version) = software(&seen.hello.ident);
    if kind == Some(ServerKind::Tinyssh) {
        return Ok(alg == "ssh-ed25519");
    }
    let release = sshmatrix_servers::sshd::parse_release(&seen.hello.ident);
    let default = openssh_default(release, alg);
    if kind != Some(ServerKind::Openssh) || release.is_none_or(|r| r < (9, 6)) {
        let server = match (kind, version) {
            (Some(k), Some(v)) => format!("{} {v}", k.name()),
            _ => format!("`{}`", seen.hello.ident),
        };
        return Err(format!(
            "{server}'s server-sig-algs lists every algorithm it implements{default}"
        ));
    }
    let rank = |a: &str| RSA.iter().position(|r| *r == a);
    match (&seen.sig_algs, rank(alg)) {
        (SigAlgs::Listed(list), _) => Ok(list.iter().any(|a| a == alg)),
        (SigAlgs::BestRsa(best), Some(r)) if rank(best).is_some_and(|b| r <= b) => {
            Ok(rank(best) == Some(r))
        }
        (SigAlgs::BestRsa(best), Some(_)) => Err(format!(
            "server-sig-algs lists {best}; whether it lists {alg} too is not visible (the engine reads only its best RSA entry){default}"
        )),
        (SigAlgs::NoRsa, Some(_)) => Ok(false),
        (SigAlgs::Unseen(why), _) => Err(format!("server-sig-algs was not seen: {why}{default}")),
        _ => Err(format!(
            "the engine reads only the RSA entries of server-sig-algs{default}"
        )),
    }
}

/// Whether an OpenSSH release's default PubkeyAcceptedAlgorithms accepts `alg`: ssh-dss left
/// the defaults in 7.0, ssh-rsa in 8.8 (the release notes of each).
fn default_accepts(release: (u32, u32), alg: &str) -> bool {
    !((alg == "ssh-dss" && release >= (7, 0)) || (alg == "ssh-rsa" && release >= (8, 8)))
}

/// What an OpenSSH release's default PubkeyAcceptedAlgorithms says of `alg`, as a clause.
fn openssh_default(release: Option<(u32, u32)>, alg: &str) -> String {
    let Some((major, minor)) = release else {
        return String::new();
    };
    let word = match default_accepts((major, minor), alg) {
        true => "accepts",
        false => "refuses",
    };
    format!("; OpenSSH {major}.{minor}'s default {word} {alg}")
}

/// RSA keys below this size are refused by common server minimums (RHEL 9 crypto policies:
/// 2048), above OpenSSH's own RequiredRSASize default of 1024: a scan cannot see which applies.
const RSA_COMMON_MINIMUM: u32 = 2048;

/// The size of an RSA key whose acceptance a scan cannot tell (for a known build its own
/// minimum decides, in [`effective`]).
fn small_rsa(cell: &Cell, known: Option<&Policy>) -> Option<u32> {
    let bits = cell.key.bits();
    let floor_known = known.is_some_and(|p| p.facts.is_some());
    (cell.key.family() == "rsa" && bits < RSA_COMMON_MINIMUM && !floor_known).then_some(bits)
}

fn not_observable_size(signature: &str, bits: u32) -> Prediction {
    Prediction {
        verdict: Verdict::Error,
        stage: Stage::Auth,
        code: Some(Code::NotObservable),
        reason: format!(
            "not observable without a login: does the server's minimum RSA size allow {bits} bits? (OpenSSH RequiredRSASize defaults to 1024, RHEL 9 crypto policies ask 2048)"
        ),
        signature: Some(signature.to_string()),
    }
}

fn not_observable(signature: &str, why: String) -> Prediction {
    Prediction {
        verdict: Verdict::Error,
        stage: Stage::Auth,
        code: Some(Code::NotObservable),
        reason: format!(
            "not observable without a login: does the server accept {signature}? (PubkeyAcceptedAlgorithms: {why})"
        ),
        signature: Some(signature.to_string()),
    }
}

/// One reading of the server: the prediction with every signature accepted, then whether the
/// server accepts the one the client sends.
fn decide(
    cell: &Cell,
    target: &Target,
    seen: &Seen,
    how: Reading<'_>,
    w: Vec<String>,
) -> Prediction {
    let known = how.known;
    let p = crate::predict::predict_as(cell, target, &effective(seen, known, w), false);
    let Some(sig) = p.signature.clone().filter(|_| p.verdict == Verdict::Ok) else {
        return p;
    };
    if let Some(small) = small_rsa(cell, known).filter(|_| !how.assume_defaults) {
        return not_observable_size(&sig, small);
    }
    match accepts(seen, known, &sig) {
        Ok(true) => p,
        Ok(false) => Prediction {
            verdict: Verdict::Fail,
            code: Some(Code::AuthSignatureRejected),
            stage: Stage::Auth,
            reason: match known {
                Some(k) => format!("{sig} is not among the signature algorithms `{}` verifies", k.id),
                None => format!("{sig} not in the server's server-sig-algs, which lists only accepted algorithms"),
            },
            signature: Some(sig),
        },
        Err(why) => match sshmatrix_servers::sshd::parse_release(&seen.hello.ident) {
            Some(r) if how.assume_defaults => assumed_default(p, r, sig),
            _ => not_observable(&sig, why),
        },
    }
}

/// The prediction when the server is taken to keep its release's default
/// PubkeyAcceptedAlgorithms (`--assume-defaults`), saying so.
fn assumed_default(p: Prediction, release: (u32, u32), sig: String) -> Prediction {
    let (major, minor) = release;
    let assumed = format!("assuming OpenSSH {major}.{minor}'s default PubkeyAcceptedAlgorithms");
    match default_accepts(release, &sig) {
        true => Prediction {
            reason: format!("{} ({assumed})", p.reason),
            ..p
        },
        false => Prediction {
            verdict: Verdict::Fail,
            code: Some(Code::AuthSignatureRejected),
            stage: Stage::Auth,
            reason: format!(
                "signature algorithm {sig} not in PubkeyAcceptedAlgorithms ({assumed})"
            ),
            signature: Some(sig),
        },
    }
}

/// How a scan's facts are read: the built-in policy of the same build, if one matches, and
/// whether settings nobody can see are taken at the release's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading<'a> {
    /// The built-in policy describing this very build ([`known_build`]).
    pub known: Option<&'a Policy>,
    /// Take PubkeyAcceptedAlgorithms at the OpenSSH release's default where it cannot be seen.
    pub assume_defaults: bool,
}

/// Predicts one cell from a scan: every reading of the server consistent with what was seen
/// must agree, or the cell is not observable.
pub fn predict(cell: &Cell, target: &Target, seen: &Seen, how: Reading<'_>) -> Prediction {
    let mut outcomes = sig_alg_worlds(seen, how.known)
        .into_iter()
        .map(|w| decide(cell, target, seen, how, w));
    let first = outcomes.next().expect("at least one reading");
    let differs = outcomes.find(|o| (o.verdict, o.code) != (first.verdict, first.code));
    match differs {
        None => first,
        Some(_) => Prediction {
            verdict: Verdict::Error,
            stage: Stage::Auth,
            code: Some(Code::NotObservable),
            reason: format!(
                "not observable without a login: the RSA signature the client sends depends on server-sig-algs, which was not seen ({})",
                match &seen.sig_algs {
                    SigAlgs::Unseen(why) => why.as_str(),
                    SigAlgs::Listed(_) => "it was read whole; the readings differ elsewhere",
                    _ => "the engine reads only its best RSA entry",
                }
            ),
            signature: None,
        },
    }
}

/// The assumptions behind a predicted login, for the cell's notes.
pub fn assumptions(cell: &Cell, seen: &Seen) -> Vec<String> {
    let mut out = vec!["assumes the key is in the user's authorized keys".to_string()];
    let (kind, _) = software(&seen.hello.ident);
    if cell.key.family() == "rsa" && kind != Some(ServerKind::Tinyssh) {
        out.push(format!(
            "assumes the server's minimum RSA size (OpenSSH RequiredRSASize) allows {} bits: not observable without a login",
            cell.key.bits()
        ));
    }
    out
}

/// The built-in policy that describes this very build, if one does (non-OpenSSH servers whose
/// lists are data: same implementation, same version, same KEXINIT lists).
pub fn known_build<'a>(seen: &Seen, policies: &'a [Policy]) -> Option<&'a Policy> {
    let (kind, version) = software(&seen.hello.ident);
    let (kind, version) = (kind?, version?);
    policies.iter().find(|p| {
        p.server == kind
            && p.facts.as_ref().is_some_and(|f| {
                // A packaging revision may follow the release (`tinyssh_20230101-1`).
                (version == f.version || version.starts_with(&format!("{}-", f.version)))
                    && f.kex == seen.hello.kex
                    && f.ciphers == seen.hello.cipher_c2s
                    && f.macs == seen.hello.mac_c2s
            })
    })
}

/// Reads the server facts of an ssh-audit JSON report (`ssh-audit -j HOST`): identification,
/// KEXINIT lists and SHA256 host key fingerprints. It carries no server-sig-algs.
pub fn from_ssh_audit(text: &str, file: &str) -> Result<Seen, ScanError> {
    let bad = |why: String| {
        ScanError::Report(format!(
            "{file}: not an ssh-audit JSON report ({why})\n  hint: write one with `ssh-audit -j HOST > report.json`"
        ))
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("line {}: {e}", e.line())))?;
    let names = |key: &str| -> Result<Vec<String>, ScanError> {
        let list = v[key]
            .as_array()
            .ok_or_else(|| bad(format!("no `{key}` list")))?;
        Ok(list
            .iter()
            .filter_map(|e| e["algorithm"].as_str().or(e.as_str()))
            .map(str::to_string)
            .collect())
    };
    let ident = v["banner"]["raw"]
        .as_str()
        .ok_or_else(|| bad("no `banner.raw`".into()))?
        .to_string();
    let (cipher, mac, comp) = (names("enc")?, names("mac")?, names("compression")?);
    let hello = ServerHello {
        ident,
        kex: names("kex")?,
        hostkey: names("key")?,
        cipher_c2s: cipher.clone(),
        cipher_s2c: cipher,
        mac_c2s: mac.clone(),
        mac_s2c: mac,
        comp_c2s: comp.clone(),
        comp_s2c: comp,
    };
    let host_keys = v["fingerprints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["hash_alg"] == "SHA256")
        .filter_map(|f| {
            Some(HostKey {
                algorithm: f["hostkey"].as_str()?.to_string(),
                fingerprint: format!("SHA256:{}", f["hash"].as_str()?),
            })
        })
        .collect();
    Ok(Seen {
        address: v["target"].as_str().unwrap_or(file).to_string(),
        hello,
        host_keys,
        sig_algs: SigAlgs::Unseen("an ssh-audit report does not carry it".into()),
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_implementation_and_release() {
        let s = |i: &str| software(i);
        assert_eq!(
            s("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"),
            (Some(ServerKind::Openssh), Some("9.2p1".into()))
        );
        assert_eq!(
            s("SSH-2.0-dropbear_2022.83"),
            (Some(ServerKind::Dropbear), Some("2022.83".into()))
        );
        assert_eq!(
            s("SSH-2.0-AsyncSSH_2.13.2"),
            (Some(ServerKind::Asyncssh), Some("2.13.2".into()))
        );
        assert_eq!(s("SSH-2.0-mod_sftp"), (Some(ServerKind::Proftpd), None));
        assert_eq!(
            s("SSH-2.0-Twisted_22.4.0"),
            (Some(ServerKind::Twisted), Some("22.4.0".into()))
        );
        assert_eq!(s("SSH-2.0-Cisco-1.25"), (None, None));
    }

    #[test]
    fn one_probe_per_host_key_type() {
        let l = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            host_key_probes(&l(&[
                "rsa-sha2-512",
                "rsa-sha2-256",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ssh-ed25519-cert-v01@openssh.com",
            ])),
            l(&["rsa-sha2-512", "ssh-ed25519", "ecdsa-sha2-nistp256"])
        );
    }

    #[test]
    fn openssh_defaults_by_release() {
        assert!(openssh_default(Some((8, 7)), "ssh-rsa").contains("accepts"));
        assert!(!default_accepts((7, 0), "ssh-dss"));
        assert!(openssh_default(Some((8, 8)), "ssh-rsa").contains("refuses"));
        assert!(openssh_default(Some((9, 2)), "ssh-ed25519").contains("accepts"));
        assert_eq!(openssh_default(None, "ssh-rsa"), "");
    }
}
