//! Client profiles: what an SSH client proposes and how it authenticates, as data files in
//! `clients/profiles/*.toml`, every fact with its source. A profile may name a `base` profile and
//! override only what differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keytool::Container;

/// The five KEXINIT name-lists a client sends (the same list is used in both directions).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KexLists {
    /// Key exchange, including markers such as `ext-info-c` and `kex-strict-c-v00@openssh.com`.
    pub kex: Vec<String>,
    /// Server host key algorithms.
    pub hostkey: Vec<String>,
    /// Ciphers.
    pub cipher: Vec<String>,
    /// MACs.
    pub mac: Vec<String>,
    /// Compression.
    pub compression: Vec<String>,
}

/// How a client picks the signature algorithm for an RSA user key.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RsaSignatureMode {
    /// Always `ssh-rsa` (SHA-1), whatever the server says (pre-RFC 8332 clients).
    SshRsaOnly,
    /// The first of `order` that the server's `server-sig-algs` lists.
    ServerSigAlgs,
    /// Each of `order` in turn on one connection, the next when the server refuses one,
    /// whatever `server-sig-algs` says (Ruby net-ssh 7.0: rsa-sha2-256, then ssh-rsa).
    EachInTurn,
}

/// What a client does when its RSA rule yields no algorithm.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RsaFallback {
    /// Sign with `ssh-rsa` anyway.
    SshRsa,
    /// Do not offer the RSA key at all (OpenSSH >= 8.8).
    SkipKey,
    /// Attempt and fail locally ("ssh-unknown", Tera Term 5.x).
    Fail,
    /// Sign with the first algorithm of `order` anyway (paramiko 2.9+ with no
    /// server-sig-algs).
    FirstPreferred,
}

/// The RSA signature rule of a profile.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RsaRule {
    /// The rule.
    pub mode: RsaSignatureMode,
    /// Preference order for [`RsaSignatureMode::ServerSigAlgs`] and
    /// [`RsaSignatureMode::EachInTurn`].
    #[serde(default)]
    pub order: Vec<String>,
    /// What happens when the server sent no `server-sig-algs`.
    #[serde(default = "default_fallback")]
    pub no_server_sig_algs: RsaFallback,
    /// What happens when `server-sig-algs` lists none of `order`.
    #[serde(default = "default_fallback")]
    pub no_match: RsaFallback,
}

fn yes() -> bool {
    true
}

fn default_fallback() -> RsaFallback {
    RsaFallback::SshRsa
}

/// The shape of the public-key user-auth exchange.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthFlow {
    /// `none`, then one signed `publickey` request straight away (Tera Term).
    SignFirst,
    /// `none`, a `publickey` query, PK_OK, then the signed request (PuTTY, OpenSSH).
    QueryFirst,
}

/// User-authentication behaviour.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthRules {
    /// RSA signature choice.
    pub rsa: RsaRule,
    /// Message flow.
    pub flow: AuthFlow,
    /// User key families the client can use (`rsa`, `ecdsa`, `ed25519`, `dsa`).
    pub key_families: Vec<String>,
    /// Key families the client loads but does not offer by default (OpenSSH 7.0+ leaves
    /// ssh-dss out of its PubkeyAcceptedAlgorithms).
    #[serde(default)]
    pub not_offered: Vec<String>,
    /// Whether the client asks an agent (ssh-agent, Pageant) for rsa-sha2-256/512 signatures
    /// (the SSH_AGENT_RSA_SHA2_* flags); `false`: an agent-held RSA key signs ssh-rsa.
    #[serde(default = "yes")]
    pub agent_rsa_sha2: bool,
    /// Server identifications (after `SSH-2.0-`, as prefixes; `""`: every server) to which the
    /// client offers an RSA certificate only as `ssh-rsa-cert-v01@openssh.com`, whatever
    /// server-sig-algs says (paramiko 2.9–3.x aim this at OpenSSH 7.7 and older, and their
    /// pattern also takes `OpenSSH_10`; AsyncSSH 2.1 knows no other RSA certificate algorithm).
    #[serde(default)]
    pub rsa_cert_ssh_rsa_for: Vec<String>,
    /// Servers whose server-sig-algs the client does not take as sent (OpenSSH 8.7+ and Node
    /// ssh2 1.x for `OpenSSH_7.4`, whose list leaves out the rsa-sha2 algorithms it verifies).
    #[serde(default)]
    pub implied_sig_algs: Vec<ImpliedSigAlgs>,
}

/// What a client assumes of a server's signature algorithms, keyed on its identification.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImpliedSigAlgs {
    /// The identification's prefix after `SSH-2.0-` (`OpenSSH_7.4`).
    pub server: String,
    /// The algorithms assumed.
    pub algs: Vec<String>,
    /// Put before the list sent (`true`, Node ssh2) or instead of it (`false`, OpenSSH).
    #[serde(default)]
    pub prepend: bool,
    /// Also when the server sent no server-sig-algs (Node ssh2); OpenSSH only overrides a
    /// list it was sent.
    #[serde(default)]
    pub when_absent: bool,
}

impl AuthRules {
    /// The server-sig-algs the client acts on, from what a server identifying as `ident` sent
    /// (`None`: nothing).
    pub fn believed_sig_algs(&self, ident: &str, sent: Option<Vec<String>>) -> Option<Vec<String>> {
        let software = ident.strip_prefix("SSH-2.0-").unwrap_or(ident);
        let Some(rule) = self
            .implied_sig_algs
            .iter()
            .find(|r| software.starts_with(r.server.as_str()))
        else {
            return sent;
        };
        match sent {
            None if !rule.when_absent => None,
            Some(list) if rule.prepend => Some(rule.algs.iter().cloned().chain(list).collect()),
            _ => Some(rule.algs.clone()),
        }
    }

    /// Whether the client offers an RSA certificate as `ssh-rsa-cert-v01@openssh.com` to a
    /// server identifying as `ident` (`SSH-2.0-OpenSSH_10.0p2`, or without the prefix).
    pub fn rsa_cert_forced_ssh_rsa(&self, ident: &str) -> bool {
        let software = ident.strip_prefix("SSH-2.0-").unwrap_or(ident);
        self.rsa_cert_ssh_rsa_for
            .iter()
            .any(|p| software.starts_with(p.as_str()))
    }
}

/// A key file container a client reads only for some keys (`[[partial_reads]]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartialRead {
    /// The container (also listed in `reads`).
    pub container: Container,
    /// The key families read in it (empty: all).
    #[serde(default)]
    pub families: Vec<String>,
    /// Only unencrypted files of it are read.
    #[serde(default)]
    pub plain_only: bool,
}

/// A client profile.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Identifier used in matrix files, e.g. `teraterm-4.106`.
    pub id: String,
    /// Base profile this one was derived from (already merged in).
    #[serde(default)]
    pub base: Option<String>,
    /// Product name, e.g. `Tera Term`.
    pub name: String,
    /// Product version, e.g. `4.106`.
    pub version: String,
    /// Row label when `name version` is not enough (e.g. a distribution build).
    #[serde(default)]
    pub label: Option<String>,
    /// Release date, when known.
    #[serde(default)]
    pub released: Option<String>,
    /// The identification string sent, without CR LF.
    pub ident: String,
    /// KEXINIT lists.
    pub kexinit: KexLists,
    /// User-auth behaviour.
    pub auth: AuthRules,
    /// Key file containers the client reads.
    pub reads: Vec<Container>,
    /// Whether the client can decrypt passphrase-protected key files.
    #[serde(default = "yes")]
    pub reads_encrypted: bool,
    /// Containers of `reads` the client reads only for some keys.
    #[serde(default)]
    pub partial_reads: Vec<PartialRead>,
    /// The client refuses RSA user keys smaller than this (its own RequiredRSASize).
    #[serde(default)]
    pub min_rsa_bits: Option<u32>,
    /// Source of each fact: keys are `ident`, `kexinit`, `auth.rsa`, `auth.flow`, `reads`, ...
    pub sources: BTreeMap<String, String>,
    /// Free-form notes (inferences, caveats).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The client groups a matrix names as `@GROUP` / `@GROUP-real` (`windows`: what people run
    /// on a Windows desk; `automation`: libraries programs log in with).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether the client, run non-interactively, gives up when the connection is open to the
    /// Terrapin attack (chacha20-poly1305 or an EtM MAC negotiated, and no strict key exchange
    /// from the server): PuTTY asks the user to confirm the "weak crypto primitive", and plink
    /// in batch mode cannot.
    #[serde(default)]
    pub batch_refuses_terrapin: bool,
    /// Whether the client presents OpenSSH user certificates (a fact with a source:
    /// `user_certificates`).
    #[serde(default)]
    pub user_certificates: bool,
    /// The CA signature algorithms the client accepts on a host certificate it verifies
    /// against a `@cert-authority` known_hosts line (its CASignatureAlgorithms default; a fact
    /// with a source: `host_certificates`); `None`: no sourced fact that it verifies host
    /// certificates. An empty list: a sourced fact that it verifies none.
    #[serde(default)]
    pub host_certificates: Option<Vec<String>>,
    /// Set for a real client binary run by a driver (`ssh`, `plink`) instead of the emulator;
    /// the rest of the profile (from its `base`) describes what that binary does.
    #[serde(default)]
    pub driver: Option<crate::Driver>,
    /// For a real client: the sshmatrix image it runs in (`bullseye`, `trixie`), when it is not
    /// the binary installed on this host.
    #[serde(default)]
    pub image: Option<String>,
    /// For a library driver (paramiko, JSch, …): what to install to run it.
    #[serde(default)]
    pub install: Option<crate::install::Install>,
}

impl Profile {
    /// `Tera Term 4.106`.
    pub fn display_name(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.name, self.version))
    }

    /// Whether the client reads the cell's key file as the key tool wrote it: the emulator
    /// and library drivers do; a real binary is given a copy converted to its own format.
    pub fn reads_key_file_as_is(&self) -> bool {
        self.driver.is_none_or(|d| d.reads_key_as_is())
    }

    /// Why the client cannot read a key file of a container it lists in `reads` (a
    /// `partial_reads` limit), or `None` when it can.
    pub fn partial_refusal(
        &self,
        container: Container,
        family: &str,
        encrypted: bool,
    ) -> Option<String> {
        let p = self
            .partial_reads
            .iter()
            .find(|p| p.container == container)?;
        let name = container.name();
        if !p.families.is_empty() && !p.families.iter().any(|f| f == family) {
            return Some(format!(
                "reads {name} key files only for {} keys",
                p.families.join(", ")
            ));
        }
        (p.plain_only && encrypted).then(|| format!("reads only unencrypted {name} key files"))
    }

    /// Whether the client sends `ext-info-c` (so the server will send `server-sig-algs`).
    pub fn sends_ext_info(&self) -> bool {
        self.kexinit.kex.iter().any(|k| k == "ext-info-c")
    }
}

/// A problem in a profile data file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("profile {file}: {message}")]
pub struct ProfileError {
    /// The data file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Parses a set of profile files `(file name, text)`, resolving `base` references.
pub fn parse_profiles(files: &[(String, String)]) -> Result<Vec<Profile>, ProfileError> {
    let mut raw: BTreeMap<String, (String, toml::Value)> = BTreeMap::new();
    for (file, text) in files {
        let value: toml::Value = toml::from_str(text).map_err(|e| ProfileError {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let id = value
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ProfileError {
                file: file.clone(),
                message: "missing `id`".into(),
            })?
            .to_string();
        if let Some((first, _)) = raw.get(&id) {
            return Err(ProfileError {
                file: file.clone(),
                message: format!(
                    "profile id `{id}` is already defined by {first}: give one of them another id"
                ),
            });
        }
        raw.insert(id, (file.clone(), value));
    }
    let mut out = Vec::new();
    for (id, (file, _)) in &raw {
        let mut chain = vec![id.clone()];
        let mut cur = id.clone();
        while let Some(b) = raw[&cur].1.get("base").and_then(|v| v.as_str()) {
            if !raw.contains_key(b) || chain.contains(&b.to_string()) {
                return Err(ProfileError {
                    file: file.clone(),
                    message: format!("base `{b}` is unknown or circular"),
                });
            }
            chain.push(b.to_string());
            cur = b.to_string();
        }
        let mut merged = toml::Value::Table(Default::default());
        for link in chain.iter().rev() {
            merge(&mut merged, raw[link].1.clone());
        }
        if let Some(t) = merged.as_table_mut() {
            if chain.len() == 1 {
                t.remove("base");
            }
            for own in ["notes", "driver", "install"] {
                t.remove(own);
                if let Some(n) = raw[id].1.get(own) {
                    t.insert(own.into(), n.clone());
                }
            }
        }
        let p: Profile = merged
            .try_into()
            .map_err(|e: toml::de::Error| ProfileError {
                file: file.clone(),
                message: e.to_string(),
            })?;
        if let Some(install) = &p.install {
            install.check().map_err(|message| ProfileError {
                file: file.clone(),
                message,
            })?;
        }
        out.push(p);
    }
    Ok(out)
}

/// The built-in profiles and every `*.toml` file of `dirs` (a user's recorded or written
/// profiles; they may name a built-in `base`). An id defined twice is an error naming both files.
pub fn profiles_with(dirs: &[std::path::PathBuf]) -> Result<Vec<Profile>, ProfileError> {
    let mut files: Vec<(String, String)> = crate::EMBEDDED
        .iter()
        .map(|(n, t)| (format!("built-in clients/profiles/{n}"), t.to_string()))
        .collect();
    for dir in dirs {
        let entries = std::fs::read_dir(dir).map_err(|e| ProfileError {
            file: dir.display().to_string(),
            message: format!("cannot read the profiles directory: {e}"),
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let limit = sshmatrix_core::bounded::MAX_CONFIG;
            let text = sshmatrix_core::bounded::read_to_string(&path, limit).map_err(|e| {
                ProfileError {
                    file: path.display().to_string(),
                    message: e.to_string(),
                }
            })?;
            files.push((path.display().to_string(), text));
        }
    }
    parse_profiles(&files)
}

/// The profiles shipped with sshmatrix (embedded from `clients/profiles/`).
pub fn builtin_profiles() -> Vec<Profile> {
    let files: Vec<(String, String)> = crate::EMBEDDED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    parse_profiles(&files).expect("embedded profiles are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_sources_for_its_facts() {
        let profiles = builtin_profiles();
        assert!(profiles.len() >= 19, "{} profiles", profiles.len());
        for p in &profiles {
            for fact in ["ident", "kexinit", "auth.rsa", "auth.flow", "reads"] {
                assert!(
                    p.sources.contains_key(fact),
                    "profile {} lacks a source for {fact}",
                    p.id
                );
            }
        }
    }

    #[test]
    fn teraterm_4_106_signs_ssh_rsa_and_5_3_reads_server_sig_algs() {
        let profiles = builtin_profiles();
        let get = |id: &str| profiles.iter().find(|p| p.id == id).unwrap();
        assert_eq!(
            get("teraterm-4.106").auth.rsa.mode,
            RsaSignatureMode::SshRsaOnly
        );
        assert!(!get("teraterm-4.106").sends_ext_info());
        assert_eq!(
            get("teraterm-5.3").auth.rsa.mode,
            RsaSignatureMode::ServerSigAlgs
        );
        assert!(get("teraterm-5.3").sends_ext_info());
        assert_eq!(get("teraterm-5.3").ident, "SSH-2.0-TTSSH/3.3 Win32");
    }
}
