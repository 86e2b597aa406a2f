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
    /// The OpenSSH version the platform runs (informational; the local sshd is what runs).
    pub openssh: String,
    /// Host key types the platform generates: `ed25519`, `ecdsa`, `rsa`.
    pub host_keys: Vec<String>,
    /// File name of the key file on the platform (`authorized_keys`, `external_keys`).
    #[serde(default = "default_ak")]
    pub authorized_keys_name: String,
    /// sshd_config directives, verbatim.
    pub directives: String,
    /// Source of each fact.
    pub sources: BTreeMap<String, String>,
    /// Caveats and inferences.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Other policies an administrator of this platform can switch to, with how and at what cost.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
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

fn default_ak() -> String {
    "authorized_keys".into()
}

/// Host key types sshmatrix can give a target.
pub const HOST_KEY_TYPES: &[&str] = &["ed25519", "ecdsa", "rsa"];

impl Policy {
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
