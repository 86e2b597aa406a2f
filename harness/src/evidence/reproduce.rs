//! A matrix that reproduces a diagnosed attempt: the identified client (a profile derived from
//! it when the logs show it behaving otherwise, as `record` derives one), the key as logged, and
//! a target whose sshd runs the release policy nearest the logged server plus what the logs say
//! of it (its KEXINIT lists, the signature algorithm it refused). Every guess is said.

use sshmatrix_clients::profile::RsaSignatureMode;
use sshmatrix_clients::Profile;
use sshmatrix_reports::Code;

use super::case::Diagnosis;
use super::identify;
use crate::impact::quote;

/// A reproduction of one attempt.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The matrix file's text.
    pub matrix: String,
    /// A client profile the matrix needs besides the built-in ones: (file name, TOML), and
    /// the profile itself.
    pub profile: Option<(String, String, Profile)>,
    /// What the reproduction assumes where the logs are silent.
    pub assumptions: Vec<String>,
    /// The code the reproduction must show (the diagnosed one, or the first candidate).
    pub expected: Option<Code>,
    /// The server reason it must show, when the logs give one.
    pub server_reason: Option<String>,
}

/// The release policies a logged OpenSSH server maps to, oldest first.
const RELEASES: &[((u32, u32), &str)] = &[
    ((7, 4), "upstream-7.4"),
    ((8, 7), "upstream-8.7"),
    ((8, 8), "upstream-8.8"),
    ((9, 2), "upstream-9.2"),
];

/// The id of the derived client profile a reproduction writes.
pub const CASE_CLIENT: &str = "case-client";

/// Builds the reproduction of attempt `d`.
pub fn build(d: &Diagnosis, profiles: &[Profile], supported: &Supported) -> Reproduction {
    let mut assumptions = Vec::new();
    let expected = d
        .cause
        .code
        .or_else(|| d.cause.candidates.first().map(|c| c.code));
    if d.cause.code.is_none() {
        if let Some(c) = d.cause.candidates.first() {
            assumptions.push(format!(
                "the logs leave the cause open: this reproduces the most likely, {} ({})",
                c.code, c.why
            ));
        }
    }
    let base = client_profile(d, profiles, &mut assumptions);
    let refused = refused_signature(d, expected);
    let (client_id, profile) = match needs_sha1(&base, refused.as_deref()) {
        true => (CASE_CLIENT.to_string(), Some(derived(&base, d))),
        false => (base.id.clone(), None),
    };
    let key = key_spec(d, &mut assumptions);
    let tool = crate::fidelity::native_key_tool(&base);
    let (policy, lines) = match emulated_release(d) {
        Some(p) => {
            assumptions.push(format!(
                "the server is taken to be the emulated release `{p}`: its identification and KEXINIT equal the logged server's"
            ));
            (p, Vec::new())
        }
        None => (
            release_policy(d, &mut assumptions),
            sshd_lines(d, refused.as_deref(), supported),
        ),
    };
    let user = d
        .client
        .as_ref()
        .and_then(|c| c.user.clone())
        .or_else(|| d.server.as_ref().and_then(|s| s.user.clone()))
        .unwrap_or_else(|| "user".into());
    let matrix = matrix_text(d, &client_id, tool, &key, &policy, &lines, &user, expected);
    Reproduction {
        matrix,
        profile,
        assumptions,
        expected,
        server_reason: d.cause.server_reason.clone(),
    }
}

/// The signature algorithm the server refused (logged, or the candidate's ssh-rsa).
fn refused_signature(d: &Diagnosis, expected: Option<Code>) -> Option<String> {
    let logged = d.server.as_ref().and_then(|s| s.refused_signature.clone());
    let assumed = (expected == Some(Code::AuthSignatureRejected)).then(|| "ssh-rsa".to_string());
    logged.or(assumed)
}

/// Whether the reproduction's client must sign RSA keys with ssh-rsa where its profile does not.
fn needs_sha1(p: &Profile, refused: Option<&str>) -> bool {
    refused == Some("ssh-rsa") && p.auth.rsa.mode != RsaSignatureMode::SshRsaOnly
}

/// The identified client's profile, or the nearest, or OpenSSH 9.2 when nothing is known.
fn client_profile(d: &Diagnosis, profiles: &[Profile], assumptions: &mut Vec<String>) -> Profile {
    let find = |id: &str| profiles.iter().find(|p| p.id == id).cloned();
    if let Some(m) = d.client_matches.first() {
        if !identify::identified(m) {
            assumptions.push(format!(
                "the client is unknown; the nearest profile is {} ({})",
                m.profile, m.says
            ));
        }
        if let Some(p) = find(&m.profile) {
            return p;
        }
    }
    assumptions.push("no client log: the client is taken to be OpenSSH 9.2".into());
    find("openssh-9.2")
        .or_else(|| profiles.first().cloned())
        .expect("built-in profiles")
}

/// A profile of the logged client behaving as logged: signing RSA keys with ssh-rsa.
fn derived(base: &Profile, d: &Diagnosis) -> (String, String, Profile) {
    let source = d
        .server
        .as_ref()
        .and_then(|s| s.evidence.iter().find(|l| l.text.contains("not in Pubkey")))
        .map(|l| format!("{}:{}", l.file, l.line))
        .unwrap_or_else(|| "the diagnosis's most likely cause".into());
    let toml = format!(
        "# Written by sshmatrix diagnose: {base_id} as the logs show it behaving.\n\
         id = \"{CASE_CLIENT}\"\nbase = \"{base_id}\"\nlabel = {label}\n\n\
         [auth]\nrsa = {{ mode = \"ssh-rsa-only\" }}\n\n\
         [sources]\n\"auth.rsa\" = {source}\n",
        base_id = base.id,
        label = quote(&format!("{} {} (as logged)", base.name, base.version)),
        source = quote(&format!("signs RSA keys with ssh-rsa (SHA-1): {source}")),
    );
    let mut p = base.clone();
    p.id = CASE_CLIENT.into();
    p.base = Some(base.id.clone());
    p.label = Some(format!("{} {} (as logged)", base.name, base.version));
    p.auth.rsa.mode = RsaSignatureMode::SshRsaOnly;
    p.sources.insert(
        "auth.rsa".into(),
        format!("signs RSA keys with ssh-rsa (SHA-1): {source}"),
    );
    (format!("{CASE_CLIENT}.toml"), toml, p)
}

/// The key as logged: family, and size where said (else the usual default, said).
fn key_spec(d: &Diagnosis, assumptions: &mut Vec<String>) -> String {
    let key = d.client.as_ref().and_then(|c| c.keys.last());
    let logged = key.map(|k| k.family.to_uppercase()).or_else(|| {
        let s = d.server.as_ref()?;
        let fam = s.evidence.iter().find_map(|l| {
            ["RSA", "ECDSA", "ED25519", "DSA"]
                .into_iter()
                .find(|f| l.text.contains(&format!(" {f} SHA256:")))
        })?;
        Some(fam.to_string())
    });
    let family = logged.unwrap_or_else(|| match d.cause.code {
        Some(Code::AuthSignatureRejected) | None => "RSA".into(),
        _ => "ED25519".into(),
    });
    let bits = key.and_then(|k| k.bits);
    match family.as_str() {
        f if f.contains("ED25519") => "ed25519".into(),
        f if f.contains("ECDSA") => "ecdsa-256".into(),
        f if f.contains("DSA") || f.contains("DSS") => "dsa-1024".into(),
        _ => {
            let bits = bits.unwrap_or_else(|| {
                assumptions.push("the logs do not give the RSA key's size: 3072 bits (ssh-keygen's default since OpenSSH 8.0)".into());
                3072
            });
            format!("rsa-{bits}")
        }
    }
}

/// An emulated release that the logged server is exactly (identification and KEXINIT equal):
/// the reproduction's target then runs it as it is.
fn emulated_release(d: &Diagnosis) -> Option<String> {
    let m = d.server_matches.first()?;
    let emulated = m.profile.starts_with("emulated-");
    (emulated && m.distance == Some(0) && m.ident_equal).then(|| m.profile.clone())
}

/// The release policy nearest below the logged server's OpenSSH release.
fn release_policy(d: &Diagnosis, assumptions: &mut Vec<String>) -> String {
    let ident = d.client.as_ref().and_then(|c| c.server_ident.as_deref());
    let release = ident.and_then(identify::openssh_release);
    match release {
        Some(r) => RELEASES
            .iter()
            .rev()
            .find(|(v, _)| *v <= r)
            .map_or(RELEASES[0].1, |(_, p)| p)
            .to_string(),
        None => {
            assumptions
                .push("the server's release is not in the logs: OpenSSH 9.2's defaults".into());
            "upstream-9.2".into()
        }
    }
}

/// Algorithms this host's OpenSSH knows (`ssh -Q`), so a reproduction never names one its
/// sshd would refuse to start with.
#[derive(Debug, Clone, Default)]
pub struct Supported {
    /// Key exchange methods.
    pub kex: Vec<String>,
    /// Ciphers.
    pub cipher: Vec<String>,
    /// MACs.
    pub mac: Vec<String>,
    /// Host key and signature algorithms.
    pub key: Vec<String>,
}

impl Supported {
    /// Asks this host's `ssh -Q` (empty lists when it cannot: then nothing is filtered).
    pub fn query() -> Supported {
        let q = |what: &str| -> Vec<String> {
            std::process::Command::new("ssh")
                .args(["-Q", what])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        Supported {
            kex: q("kex"),
            cipher: q("cipher"),
            mac: q("mac"),
            key: q("key-sig"),
        }
    }
}

/// sshd lines from the server's logged KEXINIT and refusals.
fn sshd_lines(d: &Diagnosis, refused: Option<&str>, supported: &Supported) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(l) = d
        .client
        .as_ref()
        .map(|c| &c.server_kexinit)
        .filter(|l| !l.is_empty())
    {
        let keep = |list: &[String], known: &[String]| -> Vec<String> {
            list.iter()
                .filter(|a| known.is_empty() || known.contains(a))
                .cloned()
                .collect()
        };
        for (keyword, list, known) in [
            ("KexAlgorithms", &l.kex, &supported.kex),
            ("Ciphers", &l.cipher, &supported.cipher),
            ("MACs", &l.mac, &supported.mac),
            ("HostKeyAlgorithms", &l.hostkey, &supported.key),
        ] {
            let kept = keep(list, known);
            if !kept.is_empty() {
                lines.push(format!("{keyword} {}", kept.join(",")));
            }
        }
    }
    if let Some(sig) = refused {
        lines.push(format!("PubkeyAcceptedAlgorithms -{sig}"));
    }
    lines
}

#[allow(clippy::too_many_arguments)]
fn matrix_text(
    d: &Diagnosis,
    client: &str,
    tool: &str,
    key: &str,
    policy: &str,
    lines: &[String],
    user: &str,
    expected: Option<Code>,
) -> String {
    let sources: Vec<String> = d
        .client
        .iter()
        .map(|c| format!("{}:{}", c.file, c.first_line))
        .chain(
            d.server
                .iter()
                .filter_map(|s| s.evidence.first().map(|l| format!("{}:{}", l.file, l.line))),
        )
        .collect();
    let expect = match expected {
        Some(code) => format!("expect = [ {{ verdict = \"fail\", code = \"{code}\" }} ]\n"),
        None => "expect = [ { verdict = \"ok\" } ]\n".into(),
    };
    let sshd = lines
        .iter()
        .map(|l| format!("  {},\n", quote(l)))
        .collect::<String>();
    format!(
        "# Written by sshmatrix diagnose: attempt {n} of the case ({from}).\n\
         title = {title}\nsource = {source}\n{expect}\n[axes]\nkeys = [\"{key}\"]\npassphrase = [\"no\"]\n\
         pairs = [ {{ client = \"{client}\", key_tool = \"{tool}\" }} ]\n\n\
         [[targets]]\nid = \"case-server\"\npolicy = \"{policy}\"\nusers = [{user}]\nsshd = [\n{sshd}]\n",
        n = d.n,
        from = sources.join(", "),
        title = quote(&format!("Reproduction of attempt {} ({})", d.n, sources.join(", "))),
        source = quote("sshmatrix diagnose"),
        user = quote(user),
    )
}

/// Whether a reproduced cell shows what the logs showed (the code, and the server's reason
/// when the logs give one), and a sentence saying so.
pub fn compare(r: &Reproduction, got: &sshmatrix_reports::CellResult) -> (bool, String) {
    let code_same = match r.expected {
        Some(c) => got.code == c,
        None => got.verdict == sshmatrix_reports::Verdict::Ok,
    };
    let want_reason = r
        .server_reason
        .as_deref()
        .map(|s| s.trim_end_matches("[preauth]").trim());
    let got_reason = got
        .server_reason
        .as_deref()
        .map(|s| s.trim_end_matches("[preauth]").trim());
    let reason_same = match want_reason {
        Some(w) => got_reason == Some(w),
        None => true,
    };
    let want = r
        .expected
        .map_or("a login".to_string(), |c| format!("[{c}]"));
    let server = want_reason
        .map(|w| format!(" with the server saying \"{w}\""))
        .unwrap_or_default();
    match (code_same, reason_same) {
        (true, true) => (true, format!("reproduced: {want}{server}, as in the logs")),
        (false, _) => (
            false,
            format!(
                "not reproduced: the logs show {want}, the reproduction [{}] ({})",
                got.code, got.reason
            ),
        ),
        (true, false) => (
            false,
            format!(
                "not reproduced: the same code, but the server said \"{}\" instead of \"{}\"",
                got_reason.unwrap_or("nothing"),
                want_reason.unwrap_or_default()
            ),
        ),
    }
}
