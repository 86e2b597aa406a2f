//! A target container: its accounts and keys installed, its server prepared, and the
//! [`SshdTarget`] that serves it.

use std::path::{Path, PathBuf};

use crate::policy::ServerKind;
use crate::sshd::{render_config, target_dir, ConfigPaths, SshdTarget, TargetSpec};
use crate::HostKeyStore;

use super::{Container, ContainerError, FileIn, ImageRecipe};

/// Where a target's files live inside its container.
const CONFIG_IN: &str = "/etc/sshmatrix/sshd_config";
/// The same configuration without untrusted lines, when it has any (see
/// [`crate::SshdTarget::check_readback`]).
const BASELINE_IN: &str = "/etc/sshmatrix/sshd_config.baseline";

/// Starts a target container from `image`: installs each `(user, authorized key lines)` as a
/// real account with `~/.ssh/<policy's file name>` (0600 in a 0700 directory, owned by the
/// user; `accounts.mode` overrides the file's mode; `accounts.password` is set on every
/// account), and prepares the policy's server: an sshd_config
/// checked with that sshd, or Dropbear's host keys in its own format. With `logs` (a host
/// directory, mounted read-write) the target's connections are forked by a helper in the
/// container, their logs written there; without, each is a `docker exec`. Returns the
/// container and the target.
#[allow(clippy::too_many_arguments)]
pub async fn start_target(
    run_dir: &Path,
    spec: &TargetSpec,
    image: &ImageRecipe,
    host_keys: &HostKeyStore,
    users: &[(String, Vec<String>)],
    accounts: Accounts<'_>,
    run: &str,
    logs: Option<&Path>,
) -> Result<(Container, SshdTarget), ContainerError> {
    let fail = |message: String| ContainerError::Start {
        target: spec.id.clone(),
        message,
    };
    let mut files = Vec::new();
    for kind in &spec.host_keys {
        let path = host_keys.get(kind).map_err(|e| fail(e.to_string()))?;
        files.push(FileIn {
            path: host_key_file(kind),
            data: std::fs::read(&path).map_err(|e| fail(e.to_string()))?,
            mode: 0o600,
        });
    }
    let ak_name = &spec.policy.authorized_keys_name;
    let mut script = accounts_script(users, &accounts, ak_name, &mut files).map_err(fail)?;
    let config =
        prepare_server(run_dir, spec, host_keys, users, &mut files, &mut script).map_err(fail)?;
    let writable: Vec<PathBuf> = logs.map(Path::to_path_buf).into_iter().collect();
    let container = Container::start(&spec.id, image, run, files, &[], &writable).await?;
    let (code, out) = container.sh(&script).await?;
    if code != 0 {
        let id = spec.id.clone();
        container.remove().await;
        return Err(ContainerError::Start {
            target: id,
            message: format!(
                "preparing accounts and the server in {} failed: {}",
                image.tag(),
                out.trim()
            ),
        });
    }
    let target = container_server(spec, container.exec_prefix(), config);
    // Every server kind here (OpenSSH, TinySSH, Dropbear) runs through the container's helper.
    let target = match logs {
        None => target,
        Some(dir) => match container.helper(Some(dir.to_path_buf())).await {
            Ok(h) => target.with_helper(h),
            Err(e) => {
                container.remove().await;
                return Err(e);
            }
        },
    };
    Ok((container, target))
}

/// Adds the files and script lines the policy's server needs: an sshd_config checked with the
/// image's sshd (returned: its copy under `run_dir`), or Dropbear's, TinySSH's or ProFTPD's
/// host keys and configuration, the image checked to run the policy's release.
fn prepare_server(
    run_dir: &Path,
    spec: &TargetSpec,
    host_keys: &HostKeyStore,
    users: &[(String, Vec<String>)],
    files: &mut Vec<FileIn>,
    script: &mut String,
) -> Result<Option<PathBuf>, String> {
    let facts = spec.policy.facts.as_ref();
    match (spec.policy.server, facts) {
        (ServerKind::Dropbear, Some(f)) => {
            script.push_str(&dropbear_script(&spec.host_keys, &f.version));
        }
        (ServerKind::Tinyssh, Some(f)) => {
            files.extend(tinyssh_keys(host_keys)?);
            let asked = "dpkg-query -W -f='${Version}' tinysshd";
            script.push_str(&release_check("TinySSH", &f.version, asked, "{v}*"));
        }
        (ServerKind::Proftpd, Some(f)) => {
            files.extend(proftpd_files(spec, users, f));
            script.push_str(&proftpd_script(&f.version));
        }
        (ServerKind::Twisted, Some(f)) => {
            files.extend(conch_files(users));
            let asked = "python3 -c 'import twisted; print(twisted.__version__)'";
            script.push_str(&release_check("Twisted", &f.version, asked, "{v}"));
        }
        _ => {
            let config = sshd_config(run_dir, spec, users, files)?;
            script.push_str(&format!("/usr/sbin/sshd -t -f {CONFIG_IN}\n"));
            return Ok(Some(config));
        }
    }
    Ok(None)
}

/// The target of a prepared container: its sshd (reading `config`), tinysshd or Dropbear,
/// started by `launcher` (`docker exec -i ID`).
fn container_server(
    spec: &TargetSpec,
    mut launcher: Vec<String>,
    config: Option<PathBuf>,
) -> SshdTarget {
    match (config, spec.policy.facts.clone()) {
        (Some(config), _) => {
            launcher.push("/usr/sbin/sshd".into());
            let baseline = spec.baseline().map(|_| BASELINE_IN);
            SshdTarget::in_container(&spec.id, launcher, config, CONFIG_IN, baseline)
        }
        (None, Some(facts)) if spec.policy.server == ServerKind::Tinyssh => {
            launcher.push("/usr/sbin/tinysshd".into());
            SshdTarget::tinyssh(&spec.id, launcher, facts)
        }
        (None, Some(facts)) if spec.policy.server == ServerKind::Twisted => SshdTarget::conch(
            &spec.id,
            crate::conch::Conch {
                prefix: launcher,
                facts,
                host_keys: host_key_files(&spec.host_keys),
            },
        ),
        (None, Some(facts)) if spec.policy.server == ServerKind::Proftpd => SshdTarget::proftpd(
            &spec.id,
            crate::proftpd::Proftpd {
                prefix: launcher,
                facts,
            },
        ),
        (None, facts) => SshdTarget::dropbear(
            &spec.id,
            crate::dropbear::Dropbear {
                prefix: launcher,
                facts: facts.expect("a Dropbear policy has facts"),
                host_key_types: spec.host_keys.clone(),
            },
        ),
    }
}

/// How a target container's accounts are made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accounts<'a> {
    /// The authorized keys file's mode (default 0600).
    pub mode: Option<&'a str>,
    /// A password set on every account (else none: `*`, key logins only).
    pub password: Option<&'a str>,
}

/// Where the accounts' passwords wait for chpasswd in a container (removed by the script).
const PASSWORDS_IN: &str = "/etc/sshmatrix/passwords";

/// Where a target's trusted user-certificate authorities are copied in a container.
const TRUSTED_CAS_IN: &str = "/etc/sshmatrix/trusted-user-ca-keys";

/// Where a target's host keys (OpenSSH format) are copied in a container.
const HOST_KEYS_IN: &str = "/etc/sshmatrix/hostkeys";

/// Renders `spec` for a container's sshd (a copy kept under `run_dir`), added to `files`.
fn sshd_config(
    run_dir: &Path,
    spec: &TargetSpec,
    users: &[(String, Vec<String>)],
    files: &mut Vec<FileIn>,
) -> Result<PathBuf, String> {
    let mut paths = ConfigPaths {
        authorized_keys_file: format!(".ssh/{}", spec.policy.authorized_keys_name),
        host_keys: host_key_files(&spec.host_keys),
        root_login: users.iter().any(|(u, _)| u == "root"),
        root_reason: "root is one of the matrix users of this target.",
        trusted_user_ca_keys: None,
        // The image's own PAM stack (keyboard-interactive logins), when the matrix asks.
        pam: spec.asks_pam(),
        host_certificates: Vec::new(),
    };
    for (kind, line) in spec.host_keys.iter().zip(&spec.host_certificates) {
        let path = format!("{}-cert.pub", host_key_file(kind));
        files.push(FileIn {
            path: path.clone(),
            data: format!("{line}\n").into_bytes(),
            mode: 0o644,
        });
        paths.host_certificates.push(path);
    }
    if !spec.trusted_user_cas.is_empty() {
        files.push(FileIn {
            path: TRUSTED_CAS_IN.into(),
            data: (spec.trusted_user_cas.join("\n") + "\n").into_bytes(),
            mode: 0o644,
        });
        paths.trusted_user_ca_keys = Some(TRUSTED_CAS_IN.into());
    }
    let config_text = render_config(spec, &paths);
    let dir = target_dir(run_dir, &spec.id).map_err(|e| e.to_string())?;
    let config = dir.join("sshd_config");
    std::fs::write(&config, &config_text).map_err(|e| e.to_string())?;
    files.push(FileIn {
        path: CONFIG_IN.into(),
        data: config_text.into_bytes(),
        mode: 0o644,
    });
    if let Some(b) = spec.baseline() {
        files.push(FileIn {
            path: BASELINE_IN.into(),
            data: render_config(&b, &paths).into_bytes(),
            mode: 0o644,
        });
    }
    Ok(config)
}

/// The target's Ed25519 host key in TinySSH's key directory: `ed25519.pk` (the 32-byte public
/// key) and `.ed25519.sk` (the 64-byte secret key, seed then public key, as NaCl keeps it), so
/// the key clients see is the one sshmatrix pins for every other server kind.
fn tinyssh_keys(host_keys: &HostKeyStore) -> Result<Vec<FileIn>, String> {
    let path = host_keys.get("ed25519").map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = ssh_key::PrivateKey::from_openssh(&text).map_err(|e| e.to_string())?;
    let pair = key
        .key_data()
        .ed25519()
        .ok_or("the ed25519 host key is not an Ed25519 key")?;
    Ok(vec![
        FileIn {
            path: format!("{}/ed25519.pk", crate::sshd::TINYSSH_KEYS),
            data: pair.public.0.to_vec(),
            mode: 0o644,
        },
        FileIn {
            path: format!("{}/.ed25519.sk", crate::sshd::TINYSSH_KEYS),
            data: pair.to_bytes().to_vec(),
            mode: 0o600,
        },
    ])
}

/// A ProFTPD target's configuration and each user's authorized keys in RFC 4716 form.
fn proftpd_files(
    spec: &TargetSpec,
    users: &[(String, Vec<String>)],
    facts: &crate::policy::ServerFacts,
) -> Vec<FileIn> {
    use crate::proftpd::{config, rfc4716, CONFIG_IN, KEYS_IN};
    let host_keys = host_key_files(&spec.host_keys);
    let mut files = vec![FileIn {
        path: CONFIG_IN.into(),
        data: config(&spec.id, &host_keys, facts).into_bytes(),
        mode: 0o644,
    }];
    for (user, lines) in users {
        let blocks: String = lines.iter().filter_map(|l| rfc4716(l)).collect();
        files.push(FileIn {
            path: format!("{KEYS_IN}/{user}"),
            data: blocks.into_bytes(),
            mode: 0o600,
        });
    }
    files
}

/// Where the target's host keys of `kinds` are in its container (OpenSSH format).
fn host_key_files(kinds: &[String]) -> Vec<String> {
    kinds.iter().map(|kind| host_key_file(kind)).collect()
}

/// Where the target's host key of `kind` is in its container (OpenSSH format).
fn host_key_file(kind: &str) -> String {
    format!("{HOST_KEYS_IN}/ssh_host_{kind}_key")
}

/// A Twisted target's server program and each user's authorized keys (OpenSSH lines).
fn conch_files(users: &[(String, Vec<String>)]) -> Vec<FileIn> {
    use crate::conch::{KEYS_IN, PROGRAM, PROGRAM_IN};
    let mut files = vec![FileIn {
        path: PROGRAM_IN.into(),
        data: PROGRAM.as_bytes().to_vec(),
        mode: 0o644,
    }];
    for (user, lines) in users {
        files.push(FileIn {
            path: format!("{KEYS_IN}/{user}"),
            data: (lines.join("\n") + "\n").into_bytes(),
            mode: 0o600,
        });
    }
    files
}

/// The script lines that check the image runs ProFTPD `version` and that it takes the
/// target's configuration (`proftpd -t`).
fn proftpd_script(version: &str) -> String {
    use crate::proftpd::{CONFIG_IN, PROFTPD};
    release_check("ProFTPD", version, &format!("{PROFTPD} -v"), "*\"Version {v}\"")
        + &format!(
            "SSHMATRIX_PORT=2222 {PROFTPD} -t -c {CONFIG_IN} >/dev/null 2>/tmp/proftpd-t.log || {{ cat /tmp/proftpd-t.log >&2; exit 1; }}\n"
        )
}

/// The script lines that check the image runs `server` release `version`: what `command` says
/// (stdout and stderr) matches the shell `case` pattern `pattern` with `{v}` the version.
fn release_check(server: &str, version: &str, command: &str, pattern: &str) -> String {
    let pattern = pattern.replace("{v}", version);
    format!(
        "v=$({command} 2>&1 || true)\n\
         case \"$v\" in {pattern}) ;; *) echo \"this image runs $v, not {server} {version}\" >&2; exit 1;; esac\n"
    )
}

/// The script lines that give Dropbear the target's host keys in its own format (converted by
/// the image's own dropbearconvert) and check the image runs Dropbear `version`. Before 2022.82
/// dropbearconvert reads RSA and ECDSA keys only in PEM (measured on 2020.81: "Unsupported
/// OpenSSH key type"), so those are rewritten as PEM first by the image's ssh-keygen.
fn dropbear_script(host_keys: &[String], version: &str) -> String {
    let mut script = String::new();
    for kind in host_keys {
        let (src, out) = (host_key_file(kind), crate::dropbear::host_key_path(kind));
        let from = if kind == "ed25519" {
            src
        } else {
            script.push_str(&format!(
                "cp {src} {src}.pem && ssh-keygen -q -p -m PEM -P '' -N '' -f {src}.pem >/dev/null\n"
            ));
            format!("{src}.pem")
        };
        script.push_str(&format!(
            "dropbearconvert openssh dropbear {from} {out} >/dev/null\n"
        ));
    }
    let asked = format!("{} -V", crate::dropbear::DROPBEAR);
    script.push_str(&release_check("Dropbear", version, &asked, "*v{v}*"));
    script
}

/// The script that makes each matrix user a real account with its authorized keys (files are
/// added for each user's keys).
fn accounts_script(
    users: &[(String, Vec<String>)],
    accounts: &Accounts,
    ak_name: &str,
    files: &mut Vec<FileIn>,
) -> Result<String, String> {
    let mut script = String::from("set -e\nmkdir -p /run/sshd\n");
    for (user, lines) in users {
        if !valid_user(user) {
            return Err(format!(
                "`{user}` is not a valid account name (letters, digits, _ and -, starting with a letter or _)"
            ));
        }
        files.push(FileIn {
            path: format!("/etc/sshmatrix/keys/{user}"),
            data: (lines.join("\n") + "\n").into_bytes(),
            mode: 0o600,
        });
        script.push_str(&format!(
            "id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/sh {user}\n\
             [ {user} = root ] || usermod -p '*' {user}\n\
             h=$(getent passwd {user} | cut -d: -f6); g=$(id -gn {user})\n\
             install -d -m 0700 -o {user} -g \"$g\" \"$h/.ssh\"\n\
             install -m {mode} -o {user} -g \"$g\" /etc/sshmatrix/keys/{user} \"$h/.ssh/{ak}\"\n",
            mode = accounts.mode.unwrap_or("0600"),
            ak = ak_name,
        ));
    }
    // The password reaches chpasswd through a root-only file, removed at once (never argv).
    if let Some(password) = accounts.password {
        let lines: String = users
            .iter()
            .map(|(u, _)| format!("{u}:{password}\n"))
            .collect();
        files.push(FileIn {
            path: PASSWORDS_IN.into(),
            data: lines.into_bytes(),
            mode: 0o600,
        });
        script.push_str(&format!(
            "chpasswd < {PASSWORDS_IN}\nrm -f {PASSWORDS_IN}\n"
        ));
    }
    Ok(script)
}

fn valid_user(u: &str) -> bool {
    let mut chars = u.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && u.len() <= 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_checked_before_reaching_a_shell() {
        assert!(valid_user("nutanix"));
        assert!(valid_user("_svc-1"));
        assert!(!valid_user("Admin"));
        assert!(!valid_user("a;rm -rf /"));
        assert!(!valid_user(""));
    }
}
