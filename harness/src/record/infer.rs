//! From a recording's connections to a client profile: every fact either read from what the
//! client did (its source says which connection showed it) or, when no connection could show it,
//! taken from a named profile or a stated default and listed as not observed.

use sshmatrix_clients::emulator::{choose_rsa, RsaChoice};
use sshmatrix_clients::profile::{
    AuthFlow, AuthRules, KexLists, Profile, RsaFallback, RsaRule, RsaSignatureMode,
};
use sshmatrix_clients::{Container, ServerHello};

use super::{Connection, Holding, Offer};

/// Who the recorded client is, and where facts no connection can show come from.
pub struct Meta<'a> {
    /// The profile id (`--id`).
    pub id: String,
    /// Product name and version (`--name`, `--version`; else read from the identification).
    pub name: Option<String>,
    /// Product version.
    pub version: Option<String>,
    /// The recording date (YYYY-MM-DD), for the sources.
    pub date: String,
    /// A profile to take unobservable facts from (`--base`).
    pub base: Option<&'a Profile>,
    /// The key file containers the client was seen to read (a driven recording), with how.
    pub reads: Option<super::ReadsSeen>,
}

/// A recorded profile, what it could not observe, and what went wrong.
pub struct Recorded {
    /// The profile (None: not even an identification and KEXINIT were seen).
    pub profile: Option<Profile>,
    /// Facts no connection showed, each with what the profile holds instead.
    pub unobserved: Vec<String>,
    /// Connections that ended early, and observations the inferred rules do not explain.
    pub problems: Vec<String>,
}

impl Recorded {
    /// Whether every step was observed and nothing went wrong.
    pub fn complete(&self) -> bool {
        self.profile.is_some() && self.problems.is_empty()
    }
}

/// The choice a connection of `offer` with an RSA key from a file showed: `None` when no such
/// connection was recorded, `Some(None)` when it offered no RSA key.
fn choice(conns: &[Connection], offer: Offer) -> Option<Option<&str>> {
    conns
        .iter()
        .filter(|c| c.step.offer == offer && c.step.holding == Holding::RsaFile)
        .find(|c| c.problem.is_none())
        .map(|c| c.rsa_choice())
}

fn fallback_of(chosen: Option<&str>) -> RsaFallback {
    match chosen {
        None => RsaFallback::SkipKey,
        Some("ssh-rsa") => RsaFallback::SshRsa,
        Some(_) => RsaFallback::FirstPreferred,
    }
}

fn shown(offer: Offer, chosen: Option<Option<&str>>) -> Option<String> {
    let what = match chosen? {
        None => "offered no RSA key".to_string(),
        Some(a) => format!("signed {a}"),
    };
    Some(format!("[{}] {what}", offer.describe()))
}

/// A rule that signs `first` whatever the server lists (ssh-rsa: a pre-RFC 8332 client; else
/// a client that never sees server-sig-algs).
fn fixed_rule(first: &str) -> RsaRule {
    match first {
        "ssh-rsa" => RsaRule {
            mode: RsaSignatureMode::SshRsaOnly,
            order: Vec::new(),
            no_server_sig_algs: RsaFallback::SshRsa,
            no_match: RsaFallback::SshRsa,
        },
        a => RsaRule {
            mode: RsaSignatureMode::ServerSigAlgs,
            order: vec![a.to_string()],
            no_server_sig_algs: RsaFallback::FirstPreferred,
            no_match: RsaFallback::FirstPreferred,
        },
    }
}

/// The RSA rule the connections show, its source, and what it could not show.
fn rsa_rule(
    conns: &[Connection],
    ext_info: bool,
    meta: &Meta,
    unobserved: &mut Vec<String>,
) -> Option<(RsaRule, String)> {
    let c = |o| choice(conns, o);
    let seen: Vec<String> = Offer::ALL
        .into_iter()
        .filter_map(|o| shown(o, c(o)))
        .collect();
    let first = c(Offer::All)??;
    if let Some(rule) = in_turn(conns) {
        let source = format!(
            "recorded: refused, the client signed again on the same connection, every time in the order {} whatever server-sig-algs listed ({})",
            rule.order.join(", "),
            seen.join("; ")
        );
        return Some((rule, source));
    }
    let source = format!(
        "recorded: with server-sig-algs {}{}",
        seen.join("; "),
        if ext_info {
            ""
        } else {
            " (the client sends no ext-info-c, so it never saw server-sig-algs)"
        }
    );
    let sha2 = [Offer::All, Offer::Sha2, Offer::Sha256, Offer::Sha512];
    let always_sha1 = sha2
        .iter()
        .all(|&o| matches!(c(o), None | Some(Some("ssh-rsa"))));
    if !ext_info || always_sha1 {
        return Some((fixed_rule(first), source));
    }
    let no_match = match c(Offer::NoRsa) {
        Some(chosen) => fallback_of(chosen),
        None => {
            unobserved.push(
                "auth.rsa.no_match: no connection listed no RSA algorithm; assumed skip-key".into(),
            );
            RsaFallback::SkipKey
        }
    };
    let signs_sha1 = c(Offer::SshRsa) == Some(Some("ssh-rsa")) || first == "ssh-rsa";
    let rule = RsaRule {
        mode: RsaSignatureMode::ServerSigAlgs,
        order: order(conns, first, no_match),
        no_server_sig_algs: without_server_sig_algs(meta, signs_sha1, unobserved),
        no_match,
    };
    Some((rule, source))
}

/// A client that, refused, signs its RSA key again with the next algorithm on the same
/// connection, in one order under every server-sig-algs answer (Ruby net-ssh: rsa-sha2-256,
/// then ssh-rsa); `None` for a client that signs once, or whose order follows the server.
fn in_turn(conns: &[Connection]) -> Option<RsaRule> {
    let orders: Vec<Vec<&str>> = conns
        .iter()
        .filter(|c| c.step.holding == Holding::RsaFile && c.problem.is_none())
        .map(|c| c.rsa_turns())
        .collect();
    let order = orders.first()?;
    if order.len() < 2 || orders.iter().any(|o| o != order) {
        return None;
    }
    Some(RsaRule {
        mode: RsaSignatureMode::EachInTurn,
        order: order.iter().map(|a| a.to_string()).collect(),
        no_server_sig_algs: RsaFallback::SshRsa,
        no_match: RsaFallback::SshRsa,
    })
}

/// The preference order: the choice between both SHA-2 algorithms first, each SHA-2 algorithm
/// chosen when listed alone, ssh-rsa when it is chosen alone and is not merely the fallback.
fn order(conns: &[Connection], first: &str, no_match: RsaFallback) -> Vec<String> {
    let c = |o| choice(conns, o);
    let mut order: Vec<String> = Vec::new();
    if let Some(Some(a)) = c(Offer::Sha2) {
        order.push(a.to_string());
    }
    for (a, o) in [
        ("rsa-sha2-512", Offer::Sha512),
        ("rsa-sha2-256", Offer::Sha256),
    ] {
        if c(o) == Some(Some(a)) && !order.iter().any(|x| x == a) {
            order.push(a.into());
        }
    }
    if c(Offer::SshRsa) == Some(Some("ssh-rsa")) && no_match != RsaFallback::SshRsa {
        match first {
            "ssh-rsa" => order.insert(0, "ssh-rsa".into()),
            _ => order.push("ssh-rsa".into()),
        }
    }
    order
}

/// What the client does without server-sig-algs: no recording shows it when the client sends
/// ext-info-c (every connection answers it), so it comes from `--base` or is assumed from
/// whether the client signs ssh-rsa at all.
fn without_server_sig_algs(
    meta: &Meta,
    signs_sha1: bool,
    unobserved: &mut Vec<String>,
) -> RsaFallback {
    let why = "auth.rsa.no_server_sig_algs: the client sends ext-info-c and this recorder always answers it";
    if let Some(b) = meta.base {
        unobserved.push(format!("{why}; taken from `{}`", b.id));
        return b.auth.rsa.no_server_sig_algs;
    }
    let (v, what) = match signs_sha1 {
        true => (
            RsaFallback::SshRsa,
            "ssh-rsa, as it signs ssh-rsa when that is all a server lists",
        ),
        false => (RsaFallback::SkipKey, "skip-key, as it never signed ssh-rsa"),
    };
    unobserved.push(format!(
        "{why}; assumed {what} (--base PROFILE takes it from a profile)"
    ));
    v
}

/// Observations the rule does not reproduce (each RSA connection replayed through it).
fn unexplained(profile: &Profile, conns: &[Connection]) -> Vec<String> {
    let mut out = Vec::new();
    for c in conns
        .iter()
        .filter(|c| c.step.holding == Holding::RsaFile && c.problem.is_none())
    {
        let list: Vec<String> = c.step.offer.rsa().iter().map(|s| s.to_string()).collect();
        let predicted = match choose_rsa(profile, Some(&list)) {
            RsaChoice::Sign(a) => Some(a),
            RsaChoice::Skip(_) | RsaChoice::Fail(_) => None,
        };
        if predicted.as_deref() != c.rsa_choice() {
            out.push(format!(
                "with server-sig-algs [{}] the client {} but the recorded rule says {}",
                c.step.offer.describe(),
                c.rsa_choice()
                    .map_or("offered no RSA key".into(), |a| format!("signed {a}")),
                predicted.map_or("no RSA key".into(), |a| format!("sign {a}"))
            ));
        }
    }
    out
}

/// The message flow the signed requests show.
fn flow(conns: &[Connection]) -> Option<(AuthFlow, String)> {
    let keys: Vec<_> = conns.iter().flat_map(|c| &c.keys).collect();
    let signed: Vec<_> = keys.iter().filter(|k| k.signed).collect();
    let first_signers = signed.iter().filter(|k| !k.queried).count();
    if signed.is_empty() {
        return None;
    }
    Some(match first_signers * 2 > signed.len() {
        true => (
            AuthFlow::SignFirst,
            format!(
                "recorded: {first_signers} of {} signed requests came without a query first",
                signed.len()
            ),
        ),
        false => (
            AuthFlow::QueryFirst,
            format!(
                "recorded: {} of {} signed requests followed a query answered with PK_OK",
                signed.len() - first_signers,
                signed.len()
            ),
        ),
    })
}

/// Name and version from an identification string (`SSH-2.0-PuTTY_Release_0.78` →
/// `PuTTY_Release`, `0.78`; `SSH-2.0-OpenSSH_9.2p1 Debian-2` → `OpenSSH`, `9.2p1`).
pub fn name_version(ident: &str) -> (String, String) {
    let software = ident.splitn(3, '-').nth(2).unwrap_or(ident);
    let software = software.split_whitespace().next().unwrap_or(software);
    // The version begins at the first digit run followed by a dot, not preceded by a digit
    // (`JSCH-0.1.54`, `ssh2js0.4.10`, `dropbear_2022.83`).
    let b = software.as_bytes();
    let start = (0..b.len()).find(|&i| {
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && b.get(i + digits) == Some(&b'.') && (i == 0 || !b[i - 1].is_ascii_digit())
    });
    match start {
        Some(i) if i > 0 => (
            software[..i].trim_end_matches(['_', '-', '/']).to_string(),
            software[i..].to_string(),
        ),
        _ => (software.to_string(), "unknown".into()),
    }
}

fn families(conns: &[Connection]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in ["rsa", "ecdsa", "ed25519", "dsa"] {
        if conns.iter().flat_map(|c| &c.keys).any(|k| k.family == f) {
            out.push(f.into());
        }
    }
    out
}

fn lists(h: &ServerHello) -> KexLists {
    KexLists {
        kex: h.kex.clone(),
        hostkey: h.hostkey.clone(),
        cipher: h.cipher_c2s.clone(),
        mac: h.mac_c2s.clone(),
        compression: h.comp_c2s.clone(),
    }
}

/// The profile the connections show.
pub fn infer(conns: &[Connection], meta: &Meta) -> Recorded {
    let mut unobserved = Vec::new();
    let mut problems: Vec<String> = conns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some(format!("connection {}: {}", i + 1, c.problem.as_ref()?)))
        .collect();
    let Some(hello) = conns.iter().find_map(|c| c.hello.clone()) else {
        problems.push("no connection got as far as the client's identification and KEXINIT: there is nothing to write a profile from".into());
        return Recorded {
            profile: None,
            unobserved,
            problems,
        };
    };
    for (i, c) in conns.iter().enumerate() {
        if let Some(h) = &c.hello {
            if *h != hello {
                problems.push(format!("connection {} sent other lists than the first (`{}`): the recording mixes clients or settings", i + 1, h.ident));
            }
        }
    }
    let recorded = format!(
        "recorded from `{}` on {} (sshmatrix record)",
        hello.ident, meta.date
    );
    let mut profile = base_profile(meta, &hello, &recorded);
    auth_facts(&mut profile, conns, meta, &recorded, &mut unobserved);
    reads_facts(&mut profile, meta, &mut unobserved);
    problems.extend(unexplained(&profile, conns));
    // Without ext-info-c, the server-sig-algs steps are moot: they are not missing.
    let moot = |s: &super::Step| {
        !profile.sends_ext_info() && s.holding == Holding::RsaFile && s.offer != Offer::All
    };
    for s in super::steps(false) {
        if !moot(&s) && !conns.iter().any(|c| c.step == s && c.problem.is_none()) {
            unobserved.push(format!("step not recorded: {}", s.instruction()));
        }
    }
    profile.notes = unobserved
        .iter()
        .map(|u| format!("not observed: {u}"))
        .collect();
    Recorded {
        profile: Some(profile),
        unobserved,
        problems,
    }
}

/// The identity and KEXINIT facts.
fn base_profile(meta: &Meta, hello: &ServerHello, recorded: &str) -> Profile {
    let (name, version) = name_version(&hello.ident);
    let mut sources = std::collections::BTreeMap::new();
    sources.insert("ident".to_string(), recorded.to_string());
    sources.insert("kexinit".to_string(), recorded.to_string());
    Profile {
        id: meta.id.clone(),
        base: None,
        name: meta.name.clone().unwrap_or(name),
        version: meta.version.clone().unwrap_or(version),
        label: None,
        released: None,
        ident: hello.ident.clone(),
        kexinit: lists(hello),
        auth: AuthRules {
            rsa: RsaRule {
                mode: RsaSignatureMode::SshRsaOnly,
                order: Vec::new(),
                no_server_sig_algs: RsaFallback::SshRsa,
                no_match: RsaFallback::SshRsa,
            },
            flow: AuthFlow::QueryFirst,
            key_families: Vec::new(),
            not_offered: Vec::new(),
            agent_rsa_sha2: true,
            rsa_cert_ssh_rsa_for: Vec::new(),
            implied_sig_algs: Vec::new(),
        },
        reads: Vec::new(),
        reads_encrypted: true,
        partial_reads: Vec::new(),
        min_rsa_bits: None,
        sources,
        notes: Vec::new(),
        groups: meta.base.map(|b| b.groups.clone()).unwrap_or_default(),
        batch_refuses_terrapin: false,
        // Recording does not present certificates: not measured, so not claimed.
        user_certificates: false,
        host_certificates: None,
        driver: None,
        image: None,
        install: None,
    }
}

/// The user-authentication facts: RSA rule, flow, key families, agent signatures.
fn auth_facts(
    p: &mut Profile,
    conns: &[Connection],
    meta: &Meta,
    recorded: &str,
    unobserved: &mut Vec<String>,
) {
    let from_base = |what: &str| match meta.base {
        Some(b) => format!("taken from `{}`", b.id),
        None => format!("assumed {what}"),
    };
    let ext_info = p.sends_ext_info();
    match rsa_rule(conns, ext_info, meta, unobserved) {
        Some((rule, source)) => {
            p.auth.rsa = rule;
            p.sources
                .insert("auth.rsa".into(), format!("{source}; {recorded}"));
        }
        None => {
            if let Some(b) = meta.base {
                p.auth.rsa = b.auth.rsa.clone();
            }
            unobserved.push(format!(
                "auth.rsa: no RSA key was offered under the full list; {}",
                from_base("ssh-rsa only")
            ));
            p.sources.insert(
                "auth.rsa".into(),
                format!("not observed; {}", from_base("ssh-rsa only")),
            );
        }
    }
    match flow(conns) {
        Some((f, source)) => {
            p.auth.flow = f;
            p.sources
                .insert("auth.flow".into(), format!("{source}; {recorded}"));
        }
        None => {
            p.auth.flow = meta.base.map_or(AuthFlow::QueryFirst, |b| b.auth.flow);
            unobserved.push(format!(
                "auth.flow: no signed request was seen; {}",
                from_base("query-first")
            ));
            p.sources.insert(
                "auth.flow".into(),
                format!("not observed; {}", from_base("query-first")),
            );
        }
    }
    p.auth.key_families = families(conns);
    p.sources.insert(
        "auth.key_families".into(),
        format!("the key types offered during the recording; {recorded}"),
    );
    agent_fact(p, conns, meta, recorded, unobserved);
    if let Some(b) = meta.base {
        p.auth.not_offered = b.auth.not_offered.clone();
        p.min_rsa_bits = b.min_rsa_bits;
        p.batch_refuses_terrapin = b.batch_refuses_terrapin;
    }
}

fn agent_fact(
    p: &mut Profile,
    conns: &[Connection],
    meta: &Meta,
    recorded: &str,
    unobserved: &mut Vec<String>,
) {
    let agent = conns
        .iter()
        .find(|c| c.step.holding == Holding::RsaAgent && c.problem.is_none())
        .and_then(|c| c.rsa_choice());
    match agent {
        Some(a) => {
            // False only when the agent's signature falls back to ssh-rsa where the file key
            // signs SHA-2 (a client that does not ask the agent for rsa-sha2).
            let file = choice(conns, Offer::All).flatten();
            p.auth.agent_rsa_sha2 = !(a == "ssh-rsa" && file.is_some_and(|f| f != "ssh-rsa"));
            p.sources.insert(
                "auth.agent_rsa_sha2".into(),
                format!("recorded: an agent-held RSA key signed {a} with server-sig-algs [{}]; {recorded}", Offer::All.describe()),
            );
        }
        None => {
            p.auth.agent_rsa_sha2 = meta.base.is_none_or(|b| b.auth.agent_rsa_sha2);
            unobserved.push(format!(
                "auth.agent_rsa_sha2: no agent-held RSA key was offered; {}",
                meta.base.map_or(
                    "assumed the agent signs as the file key does".into(),
                    |b| format!("taken from `{}`", b.id)
                )
            ));
        }
    }
}

/// The key file containers: seen (a driven recording), from the base profile, or all.
fn reads_facts(p: &mut Profile, meta: &Meta, unobserved: &mut Vec<String>) {
    let (reads, source) = match (&meta.reads, meta.base) {
        (Some((r, how)), _) => (r.clone(), format!("recorded: {how}")),
        (None, Some(b)) => {
            p.reads_encrypted = b.reads_encrypted;
            p.partial_reads = b.partial_reads.clone();
            (
                b.reads.clone(),
                format!("not observable by a server; taken from `{}`", b.id),
            )
        }
        (None, None) => (
            Container::ALL.to_vec(),
            "not observable by a server; assumed every container (pass --reads)".into(),
        ),
    };
    if !source.starts_with("recorded") {
        unobserved.push(format!(
            "reads: {}",
            source.trim_start_matches("not observable by a server; ")
        ));
    }
    p.reads = reads;
    p.sources.insert("reads".into(), source);
}

/// The profile as a TOML file: a header saying how it was made and what it could not
/// observe, then the data.
pub fn to_toml(r: &Recorded) -> Option<String> {
    let p = r.profile.as_ref()?;
    // A TOML comment cannot hold a control character: what the client sent is shown escaped.
    let comment = |text: String| format!("# {}\n", sshmatrix_core::text::printable(&text));
    let mut out = comment(format!(
        "{} {}: recorded by `sshmatrix record` from `{}`.",
        p.name, p.version, p.ident
    ));
    for u in &r.unobserved {
        out.push_str(&comment(format!("not observed: {u}")));
    }
    for pr in &r.problems {
        out.push_str(&comment(format!("problem: {pr}")));
    }
    out.push_str(&toml::to_string(p).ok()?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::name_version;

    #[test]
    fn names_and_versions_from_identification_strings() {
        let nv = |s: &str| {
            let (n, v) = name_version(s);
            format!("{n} {v}")
        };
        assert_eq!(
            nv("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"),
            "OpenSSH 9.2p1"
        );
        assert_eq!(nv("SSH-2.0-PuTTY_Release_0.78"), "PuTTY_Release 0.78");
        assert_eq!(nv("SSH-2.0-JSCH-0.1.54"), "JSCH 0.1.54");
        assert_eq!(nv("SSH-2.0-ssh2js0.4.10"), "ssh2js 0.4.10");
        assert_eq!(nv("SSH-2.0-TTSSH/1.5.4 Win32"), "TTSSH 1.5.4");
        assert_eq!(nv("SSH-2.0-Go"), "Go unknown");
    }
}
