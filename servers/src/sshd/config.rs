//! An OpenSSH target's configuration: the spec it is built from, the sshd_config rendered
//! from it, and the paths written into it.

use std::path::Path;

use super::TargetError;
use crate::dialect::Adapted;
use crate::policy::Policy;

/// A file path as an sshd_config value: in double quotes (work directories may hold spaces),
/// and for a `%`-expanded keyword (AuthorizedKeysFile) with `%` written `%%` (Jenkins
/// workspaces hold `%2F`). HostKey is not `%`-expanded by sshd.
pub fn config_path(path: &Path, percent_expanded: bool) -> Result<String, TargetError> {
    let text = path.display().to_string();
    if text.chars().any(|c| c == '"' || c.is_control()) {
        return Err(TargetError::BadPath(text));
    }
    let text = match percent_expanded {
        true => text.replace('%', "%%"),
        false => text,
    };
    Ok(format!("\"{text}\""))
}

/// How to build one target.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Target id.
    pub id: String,
    /// Its policy.
    pub policy: Policy,
    /// Host key types (overrides the policy's when the matrix says so).
    pub host_keys: Vec<String>,
    /// Extra sshd_config lines that take precedence over the policy (sshd keeps the first value).
    pub extra: Vec<String>,
    /// sshd LogLevel (at least VERBOSE: only the server says why a key was refused).
    pub log_level: String,
    /// The sshd release the configuration is rendered for (`None`: unknown, verbatim).
    pub dialect: Option<crate::dialect::Dialect>,
    /// Whether the user trusts the `extra` lines (`--trust-sshd-lines`); untrusted ones are
    /// checked with `sshd -T` against a rendering without them.
    pub trusted_extra: bool,
    /// The public keys of the run's user-certificate authorities (`TrustedUserCAKeys`); empty
    /// when no cell presents a certificate.
    pub trusted_user_cas: Vec<String>,
    /// Host certificates, one line per entry of `host_keys` in its order (`HostCertificate`);
    /// empty when the target presents bare host keys.
    pub host_certificates: Vec<String>,
}

impl TargetSpec {
    /// The matrix overrides and the policy's directives as this spec's sshd reads them.
    pub fn adapted(&self) -> (Adapted, Adapted) {
        let extra = self.extra.join("\n");
        let policy = self.policy.directives.trim();
        match &self.dialect {
            None => (verbatim(&extra), verbatim(policy)),
            Some(d) => {
                let facts = crate::dialect::directive_facts();
                (d.adapt(&extra, facts), d.adapt(policy, facts))
            }
        }
    }

    /// The same spec without what the user did not vouch for (untrusted overrides, a candidate
    /// file's directives), when it has any: the baseline [`SshdTarget::check_readback`]
    /// compares with.
    pub fn baseline(&self) -> Option<TargetSpec> {
        let extra = !self.trusted_extra && !self.extra.is_empty();
        if !extra && !self.policy.untrusted {
            return None;
        }
        let mut b = self.clone();
        if extra {
            b.extra.clear();
        }
        if b.policy.untrusted {
            b.policy.directives.clear();
        }
        Some(b)
    }

    /// Whether the matrix lines ask for PAM (`UsePAM yes`): keyboard-interactive logins need it
    /// on Linux. Only container targets honour it (their image's own PAM stack); the harness
    /// runs every other sshd with `UsePAM no`.
    pub fn asks_pam(&self) -> bool {
        self.extra.iter().any(|l| crate::directive::enables_pam(l))
    }

    /// What rendering for this spec's sshd release changed, one sentence each.
    pub fn changes(&self) -> Vec<String> {
        let (extra, policy) = self.adapted();
        [extra.changes, policy.changes].concat()
    }
}

fn verbatim(text: &str) -> Adapted {
    Adapted {
        text: if text.is_empty() {
            String::new()
        } else {
            format!("{text}\n")
        },
        changes: Vec::new(),
    }
}

/// Where the rendered configuration points sshd.
pub struct ConfigPaths {
    /// `AuthorizedKeysFile` value.
    pub authorized_keys_file: String,
    /// `HostKey` files, one per host key type of the spec.
    pub host_keys: Vec<String>,
    /// Whether root logs in (adds `PermitRootLogin prohibit-password`).
    pub root_login: bool,
    /// Why root logs in, for the comment in the file.
    pub root_reason: &'static str,
    /// `TrustedUserCAKeys` value, when the spec trusts certificate authorities.
    pub trusted_user_ca_keys: Option<String>,
    /// Whether sshd runs PAM (a container target whose matrix lines ask for it, see
    /// [`TargetSpec::asks_pam`]); else the harness line says `UsePAM no`.
    pub pam: bool,
    /// `HostCertificate` files, one per host key (empty: bare host keys).
    pub host_certificates: Vec<String>,
}

/// The subsystem real clients request to end a cell after the session starts: served by sshd
/// itself (`internal-sftp`), so no login shell and none of the user's rc files ever run (the
/// verdict must not depend on the invoking user's dotfiles). Clients name it through
/// `sshmatrix_clients::driver::SESSION_SUBSYSTEM`; a harness test holds the two equal.
pub const SESSION_SUBSYSTEM: &str = "sshmatrix-session";

/// Renders a spec into an sshd_config: harness lines first (sshd keeps the first value of a
/// keyword), then the matrix overrides, then the policy verbatim.
pub fn render_config(spec: &TargetSpec, paths: &ConfigPaths) -> String {
    let mut cfg = format!(
        "# Rendered by sshmatrix for target `{}` from policy `{}` ({}).\n\
         # Harness lines come first: sshd keeps the first value of each keyword.\n\
         LogLevel {}\nPidFile none\nUsePAM {}\nAuthorizedKeysFile {}\n\
         # A session served inside sshd ends each real client's cell: no shell, no rc files.\n\
         Subsystem {SESSION_SUBSYSTEM} internal-sftp\n",
        spec.id,
        spec.policy.id,
        spec.policy.name,
        spec.log_level,
        if paths.pam { "yes" } else { "no" },
        paths.authorized_keys_file
    );
    if paths.root_login {
        cfg.push_str(&format!(
            "# {}\nPermitRootLogin prohibit-password\n",
            paths.root_reason
        ));
    }
    if let Some(file) = &paths.trusted_user_ca_keys {
        cfg.push_str(&format!(
            "# The run's certificate authorities (certificate cells).\nTrustedUserCAKeys {file}\n"
        ));
    }
    if !spec.policy.sets("StrictModes") {
        cfg.push_str("StrictModes yes\n");
    }
    for file in &paths.host_keys {
        cfg.push_str(&format!("HostKey {file}\n"));
    }
    for file in &paths.host_certificates {
        cfg.push_str(&format!("HostCertificate {file}\n"));
    }
    let (extra, policy) = spec.adapted();
    if let Some(d) = &spec.dialect {
        let (major, minor) = d.release;
        cfg.push_str(&format!("# Rendered for OpenSSH {major}.{minor}.\n"));
    }
    if !spec.extra.is_empty() {
        cfg.push_str("# Matrix overrides\n");
        cfg.push_str(&extra.text);
    }
    cfg.push_str(&format!("# Policy {}\n{}", spec.policy.id, policy.text));
    cfg
}

/// sshd's complaints about a configuration, without anything quoted from other files: only
/// lines about the rendered config itself are kept (each at most 300 characters), so a
/// directive pointing at a secret file never echoes its contents.
pub fn scrub_config_errors(stderr: &str, config: &str) -> String {
    let kept: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(config) || !l.contains('/'))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect())
        .take(10)
        .collect();
    match kept.is_empty() {
        true => "sshd refused the configuration (its messages referred to other files and are not shown)".into(),
        false => kept.join("\n"),
    }
}
