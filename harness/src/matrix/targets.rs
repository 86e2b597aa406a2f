//! The targets of a matrix: ids, policies, users, host keys, sshd lines, scenarios, images,
//! remote hosts with what the user granted them, and jump hosts.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use sshmatrix_servers::Policy;

use super::axes::{other_kind, Kind};
use super::ctx::Ctx;
use super::raw::{RawMatrix, RawTarget};
use super::{
    known_hosts_pin, nearest, Catalog, Deploy, InputError, Remote, Scenario, Target, TargetId,
};

pub(super) fn targets(
    ctx: &Ctx,
    raw: &RawMatrix,
    catalog: &Catalog,
    dir: Option<&Path>,
) -> Result<Vec<Target>, InputError> {
    let policy_ids = || catalog.policies.iter().map(|p| p.id.as_str());
    let mut targets: Vec<Target> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for t in raw.targets.get_ref() {
        let id = target_id(ctx, t, &mut ids)?;
        let policy = catalog
            .policies
            .iter()
            .find(|p| &p.id == t.policy.get_ref())
            .cloned()
            .ok_or_else(|| {
                let e = ctx.unknown("policy", &t.policy, policy_ids(), "`sshmatrix policies`");
                e.with_hint(other_kind(catalog, Kind::Policy, t.policy.get_ref()))
            })?;
        let users = users(ctx, t, &id)?;
        let host_keys = host_keys(ctx, t, &policy)?;
        let scenario = t
            .scenario
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        if let (Some(mode), Some(sp)) = (&scenario.authorized_keys_mode, &t.scenario) {
            if u32::from_str_radix(mode, 8).map_or(true, |m| m > 0o777) {
                return Err(ctx.err(
                    sp.span(),
                    format!("authorized_keys_mode `{mode}` is not an octal file mode"),
                    Some("e.g. authorized_keys_mode = \"0666\"".into()),
                ));
            }
        }
        let image = image(ctx, t, &id)?;
        let remote = remote(ctx, t, &id, dir, &catalog.grants)?;
        host_certificate(ctx, t, &id, &scenario, &policy, remote.is_some())?;
        let trust = Trust {
            asked: raw.run.as_ref().is_some_and(|r| r.trust_sshd_lines),
            granted: catalog.grants.trust_sshd_lines,
        };
        sshd_lines(ctx, &id, &t.sshd, trust)?;
        if image.is_none() {
            no_pam(ctx, &id, &t.sshd)?;
        }
        let listen = listening(
            ctx,
            t,
            &id,
            &policy,
            remote.is_some() || !scenario.reachable || scenario.server.is_some(),
        )?;
        targets.push(Target {
            listen,
            backend: super::Backend::of(remote, image, &scenario),
            via: None,
            scenario,
            label: if t.label.is_empty() {
                vec![id.clone()]
            } else {
                t.label.clone()
            },
            id,
            policy,
            users,
            host_keys,
            sshd: t.sshd.iter().map(|l| l.get_ref().clone()).collect(),
        });
    }
    Ok(targets)
}

/// A target's id: a word of its own.
fn target_id(
    ctx: &Ctx<'_>,
    t: &RawTarget,
    ids: &mut std::collections::HashSet<String>,
) -> Result<String, InputError> {
    let id = t.id.get_ref().clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ctx.err(
            t.id.span(),
            format!("target id `{id}` must be letters, digits, '-', '_' or '.'"),
            Some("e.g. id = \"aos-7.0-cvm\"".into()),
        ));
    }
    if !ids.insert(id.clone()) {
        return Err(ctx.err(
            t.id.span(),
            format!("target id `{id}` is used twice"),
            Some("give every target its own id".into()),
        ));
    }
    Ok(id)
}

/// A target's `listen`: only an OpenSSH target sshmatrix starts itself (on this host or in a
/// container) has a listening sshd of its own.
fn listening(
    ctx: &Ctx<'_>,
    t: &RawTarget,
    id: &str,
    policy: &sshmatrix_servers::Policy,
    elsewhere: bool,
) -> Result<bool, InputError> {
    let Some(listen) = &t.listen else {
        return Ok(false);
    };
    let why = match () {
        _ if !*listen.get_ref() => return Ok(false),
        _ if policy.server != sshmatrix_servers::ServerKind::Openssh => format!(
            "target `{id}`: listen = true runs OpenSSH's own listening sshd; policy `{}` is {}",
            policy.id,
            policy.server_release()
        ),
        _ if elsewhere => format!(
            "target `{id}`: listen = true needs a server sshmatrix starts (this host's sshd or a container's), not a remote host or a scenario stub"
        ),
        _ => return Ok(true),
    };
    Err(ctx.err(
        listen.span(),
        why,
        Some("drop `listen` for this target".into()),
    ))
}

/// Whether a matrix's sshd lines may read files or run commands.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Trust {
    /// The matrix sets `[run] trust_sshd_lines = true` (a request, not a grant).
    asked: bool,
    /// The user passed `--trust-sshd-lines`.
    granted: bool,
}

/// Every sshd line is one printable directive, its keyword read as sshd reads it
/// ([`sshmatrix_servers::directive`]); one that reads files or runs commands needs the user's
/// `--trust-sshd-lines`.
pub(super) fn sshd_lines(
    ctx: &Ctx,
    target: &str,
    lines: &[Spanned<String>],
    trust: Trust,
) -> Result<(), InputError> {
    use sshmatrix_servers::directive;
    for l in lines {
        let shown = l.get_ref().escape_debug().to_string();
        let d = directive::check_line(l.get_ref()).map_err(|e| {
            ctx.err(
                l.span(),
                format!("target `{target}`: sshd line \"{shown}\" {e}"),
                Some("write one directive per string: sshd = [\"Ciphers aes128-ctr\", \"MACs hmac-sha2-256\"]".into()),
            )
        })?;
        let Some(d) = d.filter(directive::is_unsafe) else {
            continue;
        };
        if trust.granted {
            continue;
        }
        let hint = match trust.asked {
            true => "this matrix sets trust_sshd_lines, but only you can grant it: read its sshd lines, then pass --trust-sshd-lines",
            false => "drop the line, or pass --trust-sshd-lines if you trust this matrix file (docs/security.md)",
        };
        return Err(ctx.err(
            l.span(),
            format!(
                "target `{target}`: sshd line `{}` reads files or runs commands as the user running sshmatrix; refused",
                d.keyword
            ),
            Some(hint.into()),
        ));
    }
    Ok(())
}

/// A scenario's host certificate: a certificate word, on an OpenSSH target sshmatrix serves
/// (it signs the target's host keys and writes `HostCertificate`).
fn host_certificate(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
    scenario: &super::Scenario,
    policy: &sshmatrix_servers::Policy,
    remote: bool,
) -> Result<(), InputError> {
    let (Some(word), Some(span)) = (&scenario.host_certificate, &t.scenario) else {
        return Ok(());
    };
    let problem = match word.parse::<sshmatrix_clients::CertSpec>() {
        Err(e) => Some((e.to_string(), "e.g. scenario = { host_certificate = \"ed25519\" }")),
        Ok(c) if c.flaw == Some(sshmatrix_clients::certs::CertFlaw::OtherSource) => Some((
            format!("target `{id}`: source-address is a critical option of user certificates; a host certificate has none"),
            "use -expired, -not-yet-valid or -other-principal for host certificates",
        )),
        Ok(_) if remote || policy.server != sshmatrix_servers::ServerKind::Openssh => Some((
            format!("target `{id}`: host certificates are made for OpenSSH targets sshmatrix serves (local or container)"),
            "drop host_certificate here, or use an OpenSSH policy on a local or container target",
        )),
        Ok(_) => None,
    };
    match problem {
        None => Ok(()),
        Some((message, hint)) => Err(ctx.err(span.span(), message, Some(hint.into()))),
    }
}

/// `UsePAM yes` only in container targets: PAM runs the login stack of the machine sshd runs
/// on, which on this host is not sshmatrix's to run (a container runs its image's own).
fn no_pam(ctx: &Ctx, target: &str, lines: &[Spanned<String>]) -> Result<(), InputError> {
    let asks = |l: &&Spanned<String>| sshmatrix_servers::directive::enables_pam(l.get_ref());
    match lines.iter().find(asks) {
        None => Ok(()),
        Some(l) => Err(ctx.err(
            l.span(),
            format!("target `{target}`: `UsePAM yes` would run this machine's PAM stack; sshmatrix runs PAM only inside container targets"),
            Some("give the target kind = \"container\" and an image (keyboard-interactive logins need PAM), or drop the line".into()),
        )),
    }
}

/// The users of a target: safe names, none twice, at least one.
pub(super) fn users(ctx: &Ctx, t: &RawTarget, id: &str) -> Result<Vec<String>, InputError> {
    let mut users: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for u in t.users.get_ref() {
        let name = u.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ctx.err(
                u.span(),
                format!("user name `{name}` must be letters, digits, '.', '_' or '-'"),
                Some("e.g. users = [\"nutanix\", \"admin\"]".into()),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(ctx.err(
                u.span(),
                format!("user `{name}` is listed twice"),
                Some("remove the duplicate".into()),
            ));
        }
        users.push(name.clone());
    }
    if users.is_empty() {
        return Err(ctx.err(
            t.users.span(),
            format!("target `{id}` has no users"),
            Some("e.g. users = [\"nutanix\"]".into()),
        ));
    }
    Ok(users)
}

/// The host key types of a target (the policy's unless given).
pub(super) fn host_keys(
    ctx: &Ctx,
    t: &RawTarget,
    policy: &Policy,
) -> Result<Vec<String>, InputError> {
    let host_keys = match &t.host_keys {
        None => policy.host_keys.clone(),
        Some(list) => {
            let mut out = Vec::new();
            for h in list.get_ref() {
                if !sshmatrix_servers::policy::HOST_KEY_TYPES.contains(&h.get_ref().as_str()) {
                    return Err(ctx.unknown(
                        "host key type",
                        h,
                        sshmatrix_servers::policy::HOST_KEY_TYPES.iter().copied(),
                        "docs/guide.md: ed25519, ecdsa, rsa",
                    ));
                }
                out.push(h.get_ref().clone());
            }
            if out.is_empty() {
                return Err(ctx.err(
                    list.span(),
                    "a target needs at least one host key",
                    Some("e.g. host_keys = [\"ed25519\", \"ecdsa\"]".into()),
                ));
            }
            out
        }
    };
    Ok(host_keys)
}

/// The image of a container target (`kind = "container"`).
pub(super) fn image(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
) -> Result<Option<sshmatrix_servers::container::ImageRecipe>, InputError> {
    let image = match (&t.kind, &t.image) {
        (Some(k), Some(img)) if k.get_ref() == "container" => {
            match sshmatrix_servers::container::recipe(img.get_ref()) {
                Ok(r) => Some(r),
                Err(e) => {
                    let known: Vec<&str> = sshmatrix_servers::container::recipes()
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    let hint = nearest(img.get_ref(), known.iter().copied())
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| format!("known images: {}", known.join(", ")));
                    return Err(ctx.err(img.span(), e.to_string(), Some(hint)));
                }
            }
        }
        (Some(k), None) if k.get_ref() == "container" => {
            return Err(ctx.err(
                k.span(),
                format!("container target `{id}` needs an image"),
                Some("image = \"bookworm\" (see `sshmatrix images list`)".into()),
            ))
        }
        (_, Some(img)) => {
            return Err(ctx.err(
                img.span(),
                format!("`image` needs kind = \"container\" (target `{id}`)"),
                Some("add kind = \"container\"".into()),
            ))
        }
        _ => None,
    };
    Ok(image)
}

/// The password of a remote target: the user's grant; a matrix that asks for one without it is
/// refused with the flag that grants it (a matrix names the host, so it must not choose what
/// is sent there).
pub(super) fn remote_password(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
    grants: &crate::grants::Grants,
    span: Range<usize>,
) -> Result<Option<crate::grants::Secret>, InputError> {
    use crate::grants::Secret;
    if let Some(granted) = grants.password(id) {
        return Ok(Some(granted.clone()));
    }
    let asked = match (&t.password_env, &t.password_file) {
        (Some(v), _) => Secret::Env(v.clone()),
        (None, Some(f)) => Secret::File(f.into()),
        (None, None) => return Ok(None),
    };
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}` asks for a password ({}); sshmatrix sends credentials only where you say",
            asked.describe()
        ),
        Some(format!(
            "pass --password {id}={} to send it to this target",
            asked.describe()
        )),
    ))
}

/// The admin key of a remote target's `deploy`: inside the matrix's folder, or granted by the
/// user (`--deploy-key TARGET=PATH`).
pub(super) fn deploy_key(
    ctx: &Ctx,
    id: &str,
    key: &str,
    dir: Option<&Path>,
    grants: &crate::grants::Grants,
    span: Range<usize>,
) -> Result<std::path::PathBuf, InputError> {
    if let Some(granted) = grants.deploy_key(id) {
        return Ok(granted.to_path_buf());
    }
    let path = dir.unwrap_or(Path::new(".")).join(key);
    if dir.is_some_and(|d| crate::grants::inside(d, &path)) {
        return Ok(path);
    }
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}`: deploy key {} lies outside the matrix's folder; sshmatrix logs in with it only when you say",
            path.display()
        ),
        Some(format!("pass --deploy-key {id}={}", path.display())),
    ))
}

/// The admin account of a `deploy`: a login name (letters, digits, `.`, `_`, `-`).
pub(super) fn deploy_user(
    ctx: &Ctx,
    id: &str,
    user: &str,
    span: Range<usize>,
) -> Result<String, InputError> {
    let ok = !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    match ok {
        true => Ok(user.to_string()),
        false => Err(ctx.err(
            span,
            format!(
                "remote target `{id}`: deploy user `{}` is not a login name",
                user.escape_debug()
            ),
            Some("deploy = { user = \"root\", key = \"admin_ed25519\" }".into()),
        )),
    }
}

/// Where a `deploy` writes the keys: an absolute path or one under `%h`, in plain path
/// characters and `%h` / `%u` (sshd's tokens); never anything a shell would interpret.
pub(super) fn deploy_file(
    ctx: &Ctx,
    id: &str,
    file: Option<&str>,
    span: Range<usize>,
) -> Result<String, InputError> {
    let file = file.unwrap_or("%h/.ssh/authorized_keys");
    let chars_ok = file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-%".contains(c));
    let tokens_ok = file
        .match_indices('%')
        .all(|(i, _)| matches!(file.as_bytes().get(i + 1), Some(b'h' | b'u')));
    let rooted = file.starts_with('/') || file.starts_with("%h/");
    if chars_ok && tokens_ok && rooted && !file.split('/').any(|p| p == "..") {
        return Ok(file.to_string());
    }
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}`: deploy file `{}` must be an absolute path or start with %h/, in letters, digits, / . _ - and the tokens %h and %u",
            file.escape_debug()
        ),
        Some("file = \"%h/.ssh/authorized_keys\" (the default)".into()),
    ))
}

/// The host of a remote target (`kind = "remote"`), its pinned host key and budget.
pub(super) fn remote(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
    dir: Option<&Path>,
    grants: &crate::grants::Grants,
) -> Result<Option<Remote>, InputError> {
    let remote = match t.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("local", _)) | Some(("container", _)) => None,
        Some(("remote", span)) => {
            let Some(host) = &t.host else {
                return Err(ctx.err(
                    span,
                    format!("remote target `{id}` needs a host"),
                    Some("host = \"10.0.0.5\"".into()),
                ));
            };
            let port = t.port.unwrap_or(22);
            let pin = match (&t.host_key, &t.known_hosts) {
                (Some(p), None) => p.clone(),
                (None, Some(kh)) => {
                    let path = dir.unwrap_or(Path::new(".")).join(kh);
                    known_hosts_pin(&path, host, port).map_err(|m| ctx.err(span.clone(), format!("remote target `{id}`: {m}"), Some("pin with host_key = \"SHA256:…\" (ssh-keyscan HOST | ssh-keygen -lf -) or a plain known_hosts entry".into())))?
                }
                _ => {
                    return Err(ctx.err(span, format!("remote target `{id}` needs exactly one of host_key and known_hosts"), Some("host_key is the pinned SHA256 fingerprint: ssh-keyscan HOST | ssh-keygen -lf -".into())))
                }
            };
            let pin = &pin;
            if !pin.split(',').all(|p| p.starts_with("SHA256:")) {
                return Err(ctx.err(
                    span,
                    format!("host_key of `{id}` must be a SHA256:… fingerprint (several: comma-separated, one per host key type)"),
                    Some("ssh-keyscan HOST | ssh-keygen -lf - prints them".into()),
                ));
            }
            let deploy = match &t.deploy {
                None => None,
                Some(d) => Some(Deploy {
                    user: deploy_user(ctx, id, &d.user, span.clone())?,
                    key: deploy_key(ctx, id, &d.key, dir, grants, span.clone())?,
                    file: deploy_file(ctx, id, d.file.as_deref(), span.clone())?,
                }),
            };
            Some(Remote {
                host: host.clone(),
                port,
                host_key: pin.clone(),
                auth_budget: t.auth_budget.unwrap_or(2),
                budget_window_secs: t.budget_window_secs.unwrap_or(900),
                password: remote_password(ctx, t, id, grants, span)?,
                deploy,
            })
        }
        Some((other, span)) => {
            return Err(ctx.err(
                span,
                format!("unknown target kind `{other}`"),
                Some("kind = \"local\" (default), \"container\" or \"remote\"".into()),
            ))
        }
    };
    Ok(remote)
}

pub(super) fn jump_hosts(
    ctx: &Ctx,
    raw: &RawMatrix,
    targets: &mut [Target],
) -> Result<(), InputError> {
    for (ti, t) in raw.targets.get_ref().iter().enumerate() {
        let Some(via) = &t.via else { continue };
        let Some(vi) = targets.iter().position(|x| &x.id == via.get_ref()) else {
            return Err(ctx.unknown(
                "jump host (via)",
                via,
                targets.iter().map(|x| x.id.as_str()),
                "the [[targets]] ids of this file",
            ));
        };
        let problem = if vi == ti {
            Some("a target cannot be its own jump host")
        } else if raw.targets.get_ref()[vi].via.is_some() {
            Some("the jump host is itself reached through a jump host (one hop only)")
        } else if targets[vi].remote().is_some() || targets[ti].remote().is_some() {
            Some("jump hosts work with local and container targets, not remote ones")
        } else if targets[vi].scenario != Scenario::default()
            || targets[ti].scenario != Scenario::default()
        {
            Some("jump-host targets take no troubleshooting scenario")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(ctx.err(
                via.span(),
                p.to_string(),
                Some("name a plain target with no `via` of its own".into()),
            ));
        }
        targets[ti].via = Some(TargetId(vi));
    }
    if targets.is_empty() {
        return Err(ctx.err(
            raw.targets.span(),
            "no targets",
            Some("add a [[targets]] table with id, policy and users".into()),
        ));
    }

    Ok(())
}
