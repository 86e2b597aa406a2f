//! The settings of a target that decide a login, read back from the server (`sshd -T`,
//! `sshd -V`) or from policy facts, and the check that untrusted lines change nothing that
//! reads files or runs commands.

use std::os::unix::process::CommandExt;
use std::process::Stdio;

use super::host::{ensure_privsep_dir, release_of};
use super::{scrub_config_errors, Server, SshdTarget, TargetError};
use crate::policy::ServerKind;

impl SshdTarget {
    /// The sshd launcher and the configuration path it reads (OpenSSH targets).
    fn sshd_parts(&self) -> Result<(&[String], &str), TargetError> {
        match &self.server {
            Server::Sshd {
                launcher,
                config_seen,
                ..
            } => Ok((launcher, config_seen)),
            _ => Err(TargetError::NotOpenssh {
                target: self.id.clone(),
            }),
        }
    }

    /// `sshd -T` on the rendered config: the effective settings, or the error sshd gives.
    pub fn effective_config(&self) -> Result<String, TargetError> {
        let (_, config_seen) = self.sshd_parts()?;
        self.dump(config_seen)
    }

    /// Checks what untrusted lines (matrix overrides without `--trust-sshd-lines`, a candidate
    /// file's directives) make sshd do: every setting that reads files or runs commands must
    /// read back (`sshd -T`) as it does without them. A no-op for targets without such lines.
    pub fn check_readback(&self) -> Result<(), TargetError> {
        let Server::Sshd {
            baseline_seen: Some(baseline),
            config_seen,
            ..
        } = &self.server
        else {
            return Ok(());
        };
        let (with, without) = (self.dump(config_seen)?, self.dump(baseline)?);
        let guarded = crate::directive::UNSAFE
            .iter()
            .copied()
            .chain(["subsystem"]);
        for keyword in guarded {
            let mut a = crate::directive::dumped(&with, keyword);
            let mut b = crate::directive::dumped(&without, keyword);
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                let value = a
                    .iter()
                    .find(|v| !b.contains(v))
                    .copied()
                    .unwrap_or("(unset)");
                return Err(TargetError::Untrusted {
                    target: self.id.clone(),
                    keyword: keyword.to_string(),
                    value: value.to_string(),
                });
            }
        }
        Ok(())
    }

    /// `sshd -T` of a configuration this target's sshd reads at `config_seen`.
    fn dump(&self, config_seen: &str) -> Result<String, TargetError> {
        ensure_privsep_dir();
        let (launcher, _) = self.sshd_parts()?;
        let out = std::process::Command::new(&launcher[0])
            .process_group(0)
            .args(&launcher[1..])
            .arg("-T")
            .arg("-f")
            .arg(config_seen)
            .args(["-C", "user=sshmatrix,host=localhost,addr=127.0.0.1"])
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(TargetError::BadConfig {
                target: self.id.clone(),
                config: self.config.display().to_string(),
                message: scrub_config_errors(
                    &String::from_utf8_lossy(&out.stderr),
                    &self.config.display().to_string(),
                ),
            })
        }
    }

    /// The effective settings ([`Effective::parse`] of `sshd -T`) with what depends on the
    /// server's release (from `sshd -V`) filled in.
    pub fn effective(&self, host_key_types: &[String]) -> Result<Effective, TargetError> {
        match &self.server {
            Server::Dropbear(d) => {
                let kind = ServerKind::Dropbear;
                return Ok(Effective::from_facts(kind, &d.facts, host_key_types));
            }
            Server::Tinyssh { facts, .. } => {
                let kind = ServerKind::Tinyssh;
                return Ok(Effective::from_facts(kind, facts, host_key_types));
            }
            Server::Proftpd(p) => {
                let kind = ServerKind::Proftpd;
                return Ok(Effective::from_facts(kind, &p.facts, host_key_types));
            }
            Server::Conch(c) => {
                let kind = ServerKind::Twisted;
                return Ok(Effective::from_facts(kind, &c.facts, host_key_types));
            }
            Server::AsyncSsh(a) => {
                let kind = ServerKind::Asyncssh;
                return Ok(Effective::from_facts(kind, &a.facts, host_key_types));
            }
            Server::Sshd { .. } => {}
        }
        let mut e = Effective::parse(&self.effective_config()?, host_key_types);
        e.release = self.release();
        Ok(e)
    }

    /// The OpenSSH release (major, minor) of this target's sshd, from `sshd -V`.
    pub fn release(&self) -> Option<(u32, u32)> {
        self.sshd_parts().ok().and_then(|(l, _)| release_of(l))
    }
}

/// The effective settings of a target that decide a login, read from `sshd -T`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective {
    /// KexAlgorithms.
    pub kex: Vec<String>,
    /// Host key algorithms offered: HostKeyAlgorithms limited to the loaded host keys.
    pub hostkey: Vec<String>,
    /// Ciphers.
    pub ciphers: Vec<String>,
    /// MACs.
    pub macs: Vec<String>,
    /// Compression methods offered.
    pub compression: Vec<String>,
    /// PubkeyAcceptedAlgorithms.
    pub pubkey_accepted: Vec<String>,
    /// CASignatureAlgorithms: what a user certificate's CA may have signed it with (empty
    /// when unknown: a server other than OpenSSH, or a scan).
    pub ca_signature_algorithms: Vec<String>,
    /// AuthenticationMethods: the method chains a login must complete, one of them in order
    /// (empty: `any`, one method suffices).
    pub authentication_methods: Vec<Vec<String>>,
    /// RequiredRSASize (at least sshd's hard floor of 1024).
    pub required_rsa_size: u32,
    /// PubkeyAuthentication.
    pub pubkey_auth: bool,
    /// PasswordAuthentication.
    pub password_auth: bool,
    /// Whether keyboard-interactive logins can succeed: KbdInteractiveAuthentication (and,
    /// before OpenSSH 8.7, ChallengeResponseAuthentication) with UsePAM — on Linux PAM is
    /// sshd's only keyboard-interactive device (auth2-chall.c: `pam` beside BSD auth and
    /// S/Key, which Debian's builds lack).
    pub kbd_interactive_auth: bool,
    /// AllowAgentForwarding.
    pub agent_forwarding: bool,
    /// MaxAuthTries.
    pub max_auth_tries: u32,
    /// The OpenSSH release, when known (`sshd -V`).
    pub release: Option<(u32, u32)>,
    /// The ext-info `server-sig-algs` as the server sends it, where that is data (Dropbear,
    /// TinySSH: `Some(empty)` when it sends none);
    /// `None` for OpenSSH, whose list follows from its release (see
    /// [`Effective::filters_server_sig_algs`]).
    pub server_sig_algs: Option<Vec<String>>,
    /// Which server these settings are of (OpenSSH unless they come from policy facts).
    pub server: crate::policy::ServerKind,
    /// Whether `kex` is the list as the server sends it, protocol markers included (a scan of
    /// a live server); `false` for `sshd -T` output, which prints no markers.
    pub kex_as_sent: bool,
    /// The server's identification after `SSH-2.0-` where it is known without running it (an
    /// emulated release, a scanned server): clients' compatibility rules key on it.
    pub ident: Option<String>,
    /// PerSourcePenalties (OpenSSH 9.8+, `sshd -T`), when enabled.
    pub penalties: Option<Penalties>,
}

/// What PerSourcePenalties does with failed logins: each adds `authfail_secs` to its source's
/// penalty, enforced (every connection from the source refused) once `min_secs` have accrued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Penalties {
    /// `authfail:`: the penalty of a connection that made failed authentication attempts.
    pub authfail_secs: u32,
    /// `min:`: the penalty that must accrue before enforcement begins.
    pub min_secs: u32,
}

impl Penalties {
    /// Reads `sshd -T`'s `persourcepenalties` value (`crash:90 authfail:5 … min:15 …`; `no`:
    /// none).
    pub fn parse(value: &str) -> Option<Penalties> {
        let field = |name: &str| {
            value
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix(':')?.parse().ok())
        };
        Some(Penalties {
            authfail_secs: field("authfail")?,
            min_secs: field("min")?,
        })
    }

    /// How many failed logins in a row, within the penalty's time, get a source refused.
    pub fn failures_to_enforce(&self) -> Option<u32> {
        (self.authfail_secs > 0).then(|| self.min_secs.div_ceil(self.authfail_secs).max(1))
    }
}

/// Whether a loaded host key of one of `host_key_types` backs host key algorithm `alg`.
fn backed(host_key_types: &[String], alg: &str) -> bool {
    host_key_types.iter().any(|t| match t.as_str() {
        // ssh.com's ssh-rsa-sha256@ssh.com family included (AsyncSSH offers it); certificate
        // algorithms need a host certificate, which no target has.
        "rsa" => {
            (alg.starts_with("rsa-sha2-") || alg.starts_with("ssh-rsa")) && !alg.contains("-cert-")
        }
        "ecdsa" => alg == "ecdsa-sha2-nistp256",
        "ed25519" => alg == "ssh-ed25519",
        _ => false,
    })
}

impl Effective {
    /// Whether the server's ext-info `server-sig-algs` lists only the algorithms
    /// PubkeyAcceptedAlgorithms allows: OpenSSH 9.6 and later (kex.c); before, it lists every
    /// algorithm it implements, so a client may pick one the server then refuses.
    pub fn filters_server_sig_algs(&self) -> bool {
        self.release.is_some_and(|r| r >= (9, 6))
    }
}

/// The `authenticationmethods` chains of `sshd -T` output: lists separated by spaces, methods
/// by commas (`any`: none).
fn chains(dump: &str) -> Vec<Vec<String>> {
    let value = dump.lines().find_map(|l| {
        let (key, value) = l.split_once(' ')?;
        key.eq_ignore_ascii_case("authenticationmethods")
            .then_some(value)
    });
    match value.map(str::trim) {
        None | Some("any") => Vec::new(),
        Some(v) => v
            .split_whitespace()
            .map(|chain| chain.split(',').map(str::to_string).collect())
            .collect(),
    }
}

impl Effective {
    /// Parses `sshd -T` output for a target with host keys of `host_key_types`.
    pub fn parse(dump: &str, host_key_types: &[String]) -> Self {
        // Keywords are matched case-insensitively: `sshd -T` prints them in mixed case from 10.5
        // on (upstream changes listed under Debian openssh 1:10.5p1-1; seen in the forky image).
        let get = |k: &str| -> Vec<String> {
            dump.lines()
                .filter_map(|l| {
                    let (key, value) = l.split_once(' ')?;
                    key.eq_ignore_ascii_case(k).then_some(value)
                })
                .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let one = |k: &str| get(k).into_iter().next().unwrap_or_default();
        Effective {
            kex: get("kexalgorithms"),
            hostkey: get("hostkeyalgorithms")
                .into_iter()
                .filter(|a| backed(host_key_types, a))
                .collect(),
            ciphers: get("ciphers"),
            macs: get("macs"),
            compression: if one("compression") == "no" {
                vec!["none".into()]
            } else {
                vec!["none".into(), "zlib@openssh.com".into()]
            },
            // OpenSSH before 8.5 calls it PubkeyAcceptedKeyTypes.
            pubkey_accepted: [
                get("pubkeyacceptedalgorithms"),
                get("pubkeyacceptedkeytypes"),
            ]
            .concat(),
            ca_signature_algorithms: get("casignaturealgorithms"),
            authentication_methods: chains(dump),
            required_rsa_size: one("requiredrsasize")
                .parse::<u32>()
                .unwrap_or(1024)
                .max(1024),
            pubkey_auth: one("pubkeyauthentication") != "no",
            password_auth: one("passwordauthentication") == "yes",
            kbd_interactive_auth: one("kbdinteractiveauthentication") == "yes"
                && one("challengeresponseauthentication") != "no"
                && one("usepam") == "yes",
            agent_forwarding: one("allowagentforwarding") == "yes",
            max_auth_tries: one("maxauthtries").parse().unwrap_or(6),
            release: None,
            server_sig_algs: None,
            server: crate::policy::ServerKind::Openssh,
            kex_as_sent: false,
            ident: None,
            penalties: Penalties::parse(&one("persourcepenalties")),
        }
    }

    /// The settings of a non-OpenSSH build (policy data) serving host keys of
    /// `host_key_types`.
    pub fn from_facts(
        server: crate::policy::ServerKind,
        d: &crate::policy::ServerFacts,
        host_key_types: &[String],
    ) -> Self {
        Effective {
            kex: d.kex.clone(),
            hostkey: d
                .hostkey
                .iter()
                .filter(|a| backed(host_key_types, a))
                .cloned()
                .collect(),
            ciphers: d.ciphers.clone(),
            macs: d.macs.clone(),
            compression: d.compression.clone(),
            pubkey_accepted: d.pubkey_algorithms.clone(),
            ca_signature_algorithms: Vec::new(),
            authentication_methods: Vec::new(),
            required_rsa_size: d.rsa_min_bits,
            pubkey_auth: true,
            password_auth: d.password_auth() && !server.on_this_host(),
            kbd_interactive_auth: false,
            agent_forwarding: true,
            max_auth_tries: d.max_auth_tries(),
            release: None,
            server_sig_algs: Some(d.server_sig_algs.clone()),
            server,
            kex_as_sent: true,
            ident: d.ident.clone(),
            penalties: None,
        }
    }
}
