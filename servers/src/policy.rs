//! Server policies: an sshd_config fragment per platform and crypto policy, with the host keys
//! the platform generates and a source for each fact. Data files live in `servers/policies/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A server policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Identifier used in matrix files, e.g. `rhel9-default`.
    pub id: String,
    /// Human name, e.g. `crypto-policies DEFAULT`.
    pub name: String,
    /// The platform it describes.
    pub platform: String,
    /// The server implementation (`openssh` unless the file says `server = "dropbear"` or
    /// `"tinyssh"`).
    #[serde(default)]
    pub server: ServerKind,
    /// The OpenSSH version the platform runs (informational; the local sshd is what runs).
    /// Empty for other servers.
    #[serde(default)]
    pub openssh: String,
    /// Host key types the platform generates: `ed25519`, `ecdsa`, `rsa`.
    pub host_keys: Vec<String>,
    /// File name of the key file on the platform (`authorized_keys`, `external_keys`).
    #[serde(default = "default_ak")]
    pub authorized_keys_name: String,
    /// sshd_config directives, verbatim (OpenSSH only).
    #[serde(default)]
    pub directives: String,
    /// What a server other than OpenSSH does (its `[facts]` table): it has no `sshd -T`, so
    /// the settings that decide a login are data, checked against the real server by a test.
    #[serde(default)]
    pub facts: Option<ServerFacts>,
    /// Source of each fact.
    pub sources: BTreeMap<String, String>,
    /// Caveats and inferences.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Other policies an administrator of this platform can switch to, with how and at what cost.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    /// What the policy's server side rests on, in one line every answer shows.
    pub basis: Basis,
    /// Where an sshd_config line must go on this platform to take effect (OpenSSH policies;
    /// its source is `sources.sshd_config_place`); `None`: sshd_config itself.
    #[serde(default)]
    pub sshd_config_place: Option<String>,
    /// Whether the directives come from the user rather than sshmatrix's data (`impact`'s
    /// candidate file): then what `sshd -T` makes of them is checked against a rendering
    /// without them ([`crate::SshdTarget::check_readback`]).
    #[serde(skip)]
    pub untrusted: bool,
}

/// What a policy's description of the server rests on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    /// How it is known.
    pub kind: BasisKind,
    /// What, in one line (for example which report or which generator output).
    pub says: String,
}

/// How a policy's server side is known, from the firmest to the weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BasisKind {
    /// Read off the real server build (its image runs here; a test holds the data to it).
    Measured,
    /// Taken from the platform's published configuration or its generator's output.
    Documented,
    /// Inferred from related documented builds; not seen on the platform itself.
    Inferred,
    /// Rests on a field report alone: what users saw, no public configuration.
    Report,
}

impl BasisKind {
    /// The word answers print.
    pub fn as_str(self) -> &'static str {
        match self {
            BasisKind::Measured => "measured",
            BasisKind::Documented => "documented",
            BasisKind::Inferred => "inferred",
            BasisKind::Report => "field report only",
        }
    }

    /// Its id in message catalogues (`basis-measured`, …).
    fn id(self) -> &'static str {
        match self {
            BasisKind::Measured => "measured",
            BasisKind::Documented => "documented",
            BasisKind::Inferred => "inferred",
            BasisKind::Report => "report",
        }
    }
}

impl Basis {
    /// The one line answers print: `server side: documented — fedora-crypto-policies output`
    /// (its fixed words in the language of [`sshmatrix_core::i18n::current`]).
    pub fn line(&self) -> String {
        let lang = sshmatrix_core::i18n::current();
        let kind = sshmatrix_core::tr!(lang, &format!("basis-{}", self.kind.id()));
        sshmatrix_core::tr!(lang, "basis-line", kind = kind, says = self.says.clone())
    }
}

/// A server implementation a policy describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// OpenSSH `sshd`, configured by sshd_config directives.
    #[default]
    Openssh,
    /// Dropbear `dropbear`, configured by command-line options.
    Dropbear,
    /// TinySSH `tinysshd`: Ed25519 only, nothing to configure.
    Tinyssh,
    /// The server of the Python library AsyncSSH (its defaults).
    Asyncssh,
    /// ProFTPD's `mod_sftp` (SFTP and SCP only, no shell), configured by its own directives.
    Proftpd,
    /// The server of the Python library Twisted (`twisted.conch`), as Debian packages it.
    Twisted,
    /// Another release emulated from its sourced facts (identification string, algorithm
    /// lists, ext-info, what it verifies, its log lines) on AsyncSSH's server engine.
    Emulated,
}

impl ServerKind {
    /// The implementation's name as users know it.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Openssh => "OpenSSH",
            ServerKind::Dropbear => "Dropbear",
            ServerKind::Tinyssh => "TinySSH",
            ServerKind::Asyncssh => "AsyncSSH",
            ServerKind::Proftpd => "ProFTPD mod_sftp",
            ServerKind::Twisted => "Twisted Conch",
            ServerKind::Emulated => "emulated",
        }
    }

    /// Whether the server runs as a program on this host (a library's server), not in a
    /// container or on a remote host.
    pub fn on_this_host(self) -> bool {
        matches!(self, ServerKind::Asyncssh | ServerKind::Emulated)
    }
}

/// A non-OpenSSH build's settings that decide a login (its algorithm lists as its KEXINIT and
/// ext-info send them, read off the real server; a test holds them equal).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFacts {
    /// The release, e.g. `2022.83` (a test holds it equal to what the image runs).
    pub version: String,
    /// Command-line options the platform runs it with (Dropbear: `-s`: no password logins;
    /// `-w`: no root logins; `-T N`: at most N authentication attempts), or for ProFTPD the
    /// configuration directives it adds, one line each (`SFTPAuthMethods publickey`).
    #[serde(default)]
    pub options: Vec<String>,
    /// Key exchange algorithms offered, in order.
    pub kex: Vec<String>,
    /// Host key algorithms it can offer (limited to the target's host keys when served).
    pub hostkey: Vec<String>,
    /// Ciphers offered.
    pub ciphers: Vec<String>,
    /// MACs offered.
    pub macs: Vec<String>,
    /// Compression methods offered.
    pub compression: Vec<String>,
    /// The `server-sig-algs` of its ext-info, in order (empty: it sends no ext-info).
    #[serde(default)]
    pub server_sig_algs: Vec<String>,
    /// Signature algorithms it verifies in public-key authentication.
    pub pubkey_algorithms: Vec<String>,
    /// For a library's server (AsyncSSH): the client profile whose installation (its virtual
    /// environment) runs the server program.
    #[serde(default)]
    pub runs_with: Option<String>,
    /// The smallest RSA user key it accepts, in bits (0: no RSA at all).
    #[serde(default)]
    pub rsa_min_bits: u32,
    /// Whether it verifies only RSA signatures exactly as long as the key's modulus, refusing
    /// one whose leading zero bytes the client left out (PuTTY does: about 1 signature in 256).
    /// OpenSSH pads such a signature before verifying it.
    #[serde(default)]
    pub rsa_signature_exact_length: bool,
    /// An emulated server's identification string after `SSH-2.0-` (`OpenSSH_7.4`,
    /// `dropbear_2017.75`): what clients' compatibility rules key on.
    #[serde(default)]
    pub ident: Option<String>,
    /// Failed authentication requests before an emulated server disconnects (Dropbear's real
    /// servers take `-T N` in `options`).
    #[serde(default)]
    pub auth_tries: Option<u32>,
    /// Whether a key refused before its signature (unknown algorithm, not authorized) counts
    /// toward `auth_tries` (OpenSSH: yes; Dropbear: only bad signatures and passwords count).
    #[serde(default = "yes")]
    pub counts_refused_keys: bool,
    /// An emulated server's log lines, as the release's code writes them: `connection`,
    /// `accepted`, `failed`, `unknown_algorithm`, `rsa_too_small`, `too_many` (and
    /// `too_many_message`, the disconnect text), with `{user}`, `{alg}`, `{addr}`, `{port}`,
    /// `{laddr}`, `{lport}`, `{bits}`, `{fp_md5}`, `{fp_sha256}` filled in.
    #[serde(default)]
    pub log: BTreeMap<String, String>,
    /// What an emulated server does not reproduce, one line each: every answer about it
    /// carries them.
    #[serde(default)]
    pub limits: Vec<String>,
}

impl ServerFacts {
    /// Whether password logins are enabled: no `-s` (Dropbear), no `SFTPAuthMethods` line
    /// without `password` (ProFTPD).
    pub fn password_auth(&self) -> bool {
        !self.options.iter().any(|o| {
            o == "-s"
                || (o.starts_with("SFTPAuthMethods ")
                    && !o.split_whitespace().any(|w| w == "password"))
        })
    }

    /// The authentication attempts allowed (ProFTPD's `MaxLoginAttempts N` line, the facts'
    /// `auth_tries`, Dropbear's `-T N`, else Dropbear's default 10).
    pub fn max_auth_tries(&self) -> u32 {
        let directive = self.options.iter().find_map(|o| {
            o.strip_prefix("MaxLoginAttempts ")
                .and_then(|n| n.trim().parse().ok())
        });
        if let Some(n) = directive.or(self.auth_tries) {
            return n;
        }
        self.options
            .iter()
            .position(|o| o == "-T")
            .and_then(|i| self.options.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(10)
    }
}

/// A policy an administrator can switch to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The other policy's id.
    pub policy: String,
    /// The command or change that switches to it.
    pub how: String,
    /// What it costs in security.
    pub cost: String,
}

fn yes() -> bool {
    true
}

fn default_ak() -> String {
    "authorized_keys".into()
}

/// Host key types sshmatrix can give a target.
pub const HOST_KEY_TYPES: &[&str] = &["ed25519", "ecdsa", "rsa"];

impl Policy {
    /// The server release as answers name it: `Dropbear 2022.83`, `OpenSSH 5.3 (emulated)`
    /// (an emulated release by its identification), `OpenSSH` when the policy says no release.
    pub fn server_release(&self) -> String {
        match (&self.facts, self.server) {
            (Some(f), ServerKind::Emulated) => {
                let ident = f.ident.as_deref().unwrap_or(&f.version);
                format!("{} (emulated)", ident.replacen('_', " ", 1))
            }
            (Some(f), kind) => format!("{} {}", kind.name(), f.version),
            (None, kind) => kind.name().to_string(),
        }
    }

    /// The line every answer about this policy carries: what its server side rests on and, for
    /// an emulated release, what the emulation does not reproduce.
    pub fn basis_line(&self) -> String {
        let limits = self
            .facts
            .as_ref()
            .filter(|_| self.server == ServerKind::Emulated)
            .map(|f| f.limits.join("; "))
            .filter(|l| !l.is_empty());
        match limits {
            Some(l) => {
                let lang = sshmatrix_core::i18n::current();
                let words = sshmatrix_core::tr!(lang, "basis-not-reproduced");
                format!("{}; {words}: {l}", self.basis.line())
            }
            None => self.basis.line(),
        }
    }

    /// Whether the directives set `keyword` (case-insensitive), so harness defaults must not.
    pub fn sets(&self, keyword: &str) -> bool {
        self.directives.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }
}

/// Parses policy files `(file name, text)`.
pub fn parse_policies(files: &[(String, String)]) -> Result<Vec<Policy>, String> {
    let all: Vec<Policy> = files
        .iter()
        .map(|(name, text)| {
            let p: Policy = toml::from_str(text).map_err(|e| format!("policy {name}: {e}"))?;
            if let Some(bad) = p
                .host_keys
                .iter()
                .find(|h| !HOST_KEY_TYPES.contains(&h.as_str()))
            {
                return Err(format!("policy {name}: unknown host key type `{bad}`"));
            }
            check_kind(&p).map_err(|e| format!("policy {name}: {e}"))?;
            Ok(p)
        })
        .collect::<Result<_, String>>()?;
    for p in &all {
        if let Some(a) = p
            .alternatives
            .iter()
            .find(|a| !all.iter().any(|q| q.id == a.policy))
        {
            return Err(format!(
                "policy {}: alternative `{}` does not exist",
                p.id, a.policy
            ));
        }
    }
    Ok(all)
}

/// A policy carries the settings of its own server kind and no other's: OpenSSH an `openssh`
/// release (and directives), the others a `[facts]` table and no directives.
fn check_kind(p: &Policy) -> Result<(), String> {
    match (p.server, &p.facts) {
        (ServerKind::Openssh, None) if p.openssh.is_empty() => {
            Err("`openssh` (the release) is missing".into())
        }
        (ServerKind::Openssh, None) => Ok(()),
        (ServerKind::Openssh, Some(_)) => Err(
            "a `[facts]` table needs `server = \"dropbear\"`, `\"tinyssh\"`, `\"asyncssh\"`, `\"proftpd\"` or `\"twisted\"`"
                .into(),
        ),
        (kind, None) => Err(format!("a {} policy needs a `[facts]` table", kind.name())),
        (ServerKind::Emulated, Some(f)) if f.ident.is_none() || f.runs_with.is_none() => Err(
            "an emulated server needs `ident` (its identification string) and `runs_with` (the AsyncSSH installation that runs it) in `[facts]`".into(),
        ),
        (ServerKind::Emulated, Some(f)) if f.limits.is_empty() => Err(
            "an emulated server lists what it does not reproduce in `[facts] limits`".into(),
        ),
        (kind, Some(_)) if !p.directives.trim().is_empty() || !p.openssh.is_empty() => {
            Err(format!(
                "a {} policy has no sshd_config `directives` and no `openssh` release",
                kind.name()
            ))
        }
        (_, Some(_)) => Ok(()),
    }
}

/// The policies shipped with sshmatrix (embedded from `servers/policies/`).
pub fn builtin_policies() -> Vec<Policy> {
    let files: Vec<(String, String)> = crate::EMBEDDED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    parse_policies(&files).expect("embedded policies are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nutanix_policies_differ_on_ssh_rsa_and_say_why() {
        let all = builtin_policies();
        let get = |id: &str| all.iter().find(|p| p.id == id).unwrap();
        let cvm = get("nutanix-cvm-lockdown");
        let ahv = get("nutanix-ahv-lockdown");
        assert!(cvm.directives.contains("PubkeyAcceptedAlgorithms +ssh-rsa"));
        assert!(ahv.directives.contains("PubkeyAcceptedAlgorithms -ssh-rsa"));
        assert!(ahv.sources["PubkeyAcceptedAlgorithms"].contains("field report"));
        assert!(cvm.sets("passwordauthentication"));
        assert_eq!(get("al2023-default").host_keys, vec!["ed25519", "ecdsa"]);
    }

    #[test]
    fn every_policy_has_sources() {
        for p in builtin_policies() {
            assert!(p.sources.contains_key("directives"), "{}", p.id);
            assert!(p.sources.contains_key("host_keys"), "{}", p.id);
        }
    }
}
