//! Every target of a plan, prepared before any cell runs: its server (this host's sshd, a
//! release image's in a container, AsyncSSH, a remote host checked against its pin), the
//! settings that decide a login, its KEXINIT, scenario material and notes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::ssh_key::PrivateKey;
use sshmatrix_clients::{negotiate, ServerHello};
use sshmatrix_servers::container::{Container, ImageRecipe};
use sshmatrix_servers::dialect::Dialect;
use sshmatrix_servers::sshd::sshd_version;
use sshmatrix_servers::ServerKind;
use sshmatrix_servers::{Effective, HostKeyStore, SshdTarget, TargetError, TargetSpec};

use super::keys::{key_id, Keys};
use super::Options;
use crate::error::RunError;
use crate::matrix::{Backend, Plan, Registered, TargetId};

/// Per-target material of a troubleshooting scenario.
#[derive(Default)]
pub(super) struct Extras {
    /// The host key the client "knows" (a different one than the target's).
    pub(super) known_host_key: Option<russh::keys::ssh_key::PublicKey>,
    /// Keys the client offers before its own.
    pub(super) decoys: Vec<Arc<PrivateKey>>,
}

/// A fresh in-memory Ed25519 key that is the pair of nothing in the matrix.
pub(super) fn decoy_key() -> Result<PrivateKey, RunError> {
    let material = sshmatrix_clients::factory::generate(sshmatrix_clients::KeySpec::Ed25519)?;
    Ok(sshmatrix_clients::factory::to_ssh_key(
        &material,
        "sshmatrix decoy",
    )?)
}

/// Makes the images of the plan's container targets that are missing (built once, cached by
/// tag) and sweeps containers left by killed runs.
pub(super) fn prepare_images(plan: &Plan, work_dir: &std::path::Path) -> Result<(), RunError> {
    use sshmatrix_servers::container;
    let mut images: Vec<&container::ImageRecipe> =
        plan.targets.iter().filter_map(|t| t.image()).collect();
    images.extend(plan.client_images.iter());
    if images.is_empty() {
        return Ok(());
    }
    container::check_docker().map_err(|e| RunError::Environment(e.to_string()))?;
    container::sweep_stale();
    let mut done = std::collections::BTreeSet::new();
    for image in images {
        if done.insert(&image.name) {
            container::ensure_image(image, &work_dir.join("images"), &mut std::io::stderr())
                .map_err(|e| RunError::Environment(e.to_string()))?;
        }
    }
    Ok(())
}

/// What a reader must know about local targets: the sshd serving them, and who the users are.
pub(super) fn local_notes(plan: &Plan, sshd: &std::path::Path, login: &str) -> Vec<String> {
    if !plan
        .targets
        .iter()
        .any(|t| t.remote().is_none() && t.image().is_none())
    {
        return Vec::new();
    }
    let lang = sshmatrix_core::i18n::current();
    vec![
        sshmatrix_core::tr!(lang, "note-local-backend", sshd = sshd_version(sshd)),
        sshmatrix_core::tr!(lang, "note-local-users", login = login.to_string()),
    ]
}

/// What each policy of the plan rests on, one note per policy (every answer says whether its
/// server side is measured, documented, inferred or a field report's).
pub(super) fn basis_notes(plan: &Plan) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    plan.targets
        .iter()
        .filter(|t| seen.insert(t.policy.id.clone()))
        .map(|t| {
            let lang = sshmatrix_core::i18n::current();
            let id = t.policy.id.clone();
            sshmatrix_core::tr!(
                lang,
                "note-policy",
                policy = id,
                basis = t.policy.basis_line()
            )
        })
        .collect()
}

/// Every target of a plan, prepared (in plan order), and what preparing them left to clean up.
pub(super) struct Targets {
    pub(super) notes: Vec<String>,
    pub(super) targets: Vec<PreparedTarget>,
    pub(super) containers: Vec<sshmatrix_servers::container::Container>,
    /// The target id of each container in `containers`.
    pub(super) target_containers: Vec<String>,
}

/// Prepares every target in plan order (a stop request ends it between targets).
pub(super) async fn prepare_targets(env: &TargetEnv<'_>) -> Result<Targets, RunError> {
    let mut all = Targets {
        notes: Vec::new(),
        targets: Vec::new(),
        containers: Vec::new(),
        target_containers: Vec::new(),
    };
    for ti in 0..env.plan.targets.len() {
        let id = &env.plan.targets[ti].id;
        env.opts.stop.check(&format!("starting target `{id}`"))?;
        let (t, container, notes) = prepare_target(env, ti).await?;
        if let Some(c) = container {
            all.target_containers.push(id.clone());
            all.containers.push(c);
        }
        all.notes.extend(notes);
        all.targets.push(t);
    }
    Ok(all)
}

/// What preparing one target needs.
pub(super) struct TargetEnv<'a> {
    pub(super) plan: &'a Plan,
    pub(super) keys: &'a Keys,
    pub(super) opts: &'a Options,
    pub(super) run_dir: &'a std::path::Path,
    pub(super) run_name: &'a str,
    pub(super) host_keys: &'a HostKeyStore,
    pub(super) sshd: &'a std::path::Path,
    pub(super) log_level: String,
    /// Installed library programs (profile id → argv prefix): AsyncSSH targets run in one.
    pub(super) programs: &'a HashMap<String, Vec<String>>,
    /// The cells' server logs (mounted read-write in target containers, whose helper writes
    /// them).
    pub(super) logs: &'a std::path::Path,
    /// The run's user-certificate authorities every OpenSSH target trusts, and the host
    /// certificates of targets that present them.
    pub(super) certs: &'a super::certs::Certificates,
    /// The password of every container account (`file+password` cells).
    pub(super) account_password: Option<&'a str>,
}

/// One prepared target, as every cell on it uses it: its server end (local, in a container, on
/// a remote host), the settings that decide a login, its KEXINIT, scenario material and the
/// host key files real clients pin.
pub(super) struct PreparedTarget {
    /// Starts its server end for a cell.
    pub(super) server: SshdTarget,
    /// What decides a login (`sshd -T`, or the policy's facts).
    pub(super) effective: Effective,
    /// Its KEXINIT, probed once.
    pub(super) hello: ServerHello,
    /// Scenario material (a different known host key, decoy keys).
    pub(super) extras: Extras,
    /// Its host key public files (plink pins them).
    pub(super) host_key_pubs: Vec<PathBuf>,
    /// A listening target's cells take turns (its one sshd's log is cut cell by cell).
    pub(super) turns: Option<super::turns::Turns>,
}

impl crate::predict::Effectives for [PreparedTarget] {
    fn of(&self, t: TargetId) -> &Effective {
        &self[t].effective
    }
}

/// The authorized_keys lines of target `ti` (for `user`, or all its users): the public keys of
/// its own cells, and — for its first user, as whom a jump host is entered — those of the cells
/// that go through it. The one answer to "which keys go where", for every backend.
pub fn authorized_lines(plan: &Plan, keys: &Keys, ti: TargetId, user: Option<&str>) -> Vec<String> {
    let first = plan.targets[ti].users.first().map(String::as_str);
    let mut lines: Vec<String> = plan
        .cells
        .iter()
        .filter(|c| {
            (c.target == ti && user.is_none_or(|u| c.user == u))
                || (plan.targets[c.target].via == Some(ti) && user.is_none_or(|u| Some(u) == first))
        })
        // A certificate cell's key is trusted through its CA only: were it registered, a
        // refused certificate would log in with the bare key.
        .filter(|c| c.certificate.is_none())
        .map(|c| keys[&key_id(c)].public_line.clone())
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The keys a target registers under its scenario: the matrix's, another key, or none.
pub(super) fn registered(
    env: &TargetEnv,
    ti: usize,
    user: Option<&str>,
) -> Result<Vec<String>, RunError> {
    Ok(match env.plan.targets[ti].scenario.authorized_keys {
        Registered::Matrix => authorized_lines(env.plan, env.keys, TargetId(ti), user),
        Registered::Other => vec![decoy_key()?
            .public_key()
            .to_openssh()
            .map_err(|e| RunError::Environment(e.to_string()))?],
        Registered::None => Vec::new(),
    })
}

/// The scenario material of a target: a different "known" host key, decoy keys offered first.
pub(super) fn extras(t: &crate::matrix::Target) -> Result<Extras, RunError> {
    let mut extra = Extras::default();
    if t.scenario.known_host_key.is_some() {
        extra.known_host_key = Some(decoy_key()?.public_key().clone());
    }
    for _ in 0..t.scenario.other_keys_first {
        extra.decoys.push(Arc::new(decoy_key()?));
    }
    Ok(extra)
}

/// The spec of target `t`, rendered for the sshd that reads it: its image's, or `local_sshd`.
pub fn target_spec(
    t: &crate::matrix::Target,
    log_level: &str,
    local_sshd: &std::path::Path,
    trusted_extra: bool,
) -> TargetSpec {
    let dialect = match t.image() {
        Some(image) => Some(image.dialect()),
        None => sshmatrix_servers::sshd::release_of(&[local_sshd.display().to_string()])
            .and_then(|r| Dialect::of_binary(local_sshd, r).ok()),
    };
    TargetSpec {
        id: t.id.clone(),
        policy: t.policy.clone(),
        host_keys: t.host_keys.clone(),
        extra: t.sshd.clone(),
        log_level: log_level.to_string(),
        dialect,
        trusted_extra,
        trusted_user_cas: Vec::new(),
        host_certificates: Vec::new(),
    }
}

/// What rendering target `t` for its sshd release changed, as report notes.
pub(super) fn dialect_notes(spec: &TargetSpec) -> Vec<String> {
    spec.changes()
        .into_iter()
        .map(|c| format!("target `{}`: {c}", spec.id))
        .collect()
}

/// Starts target `ti`'s server: a container with real accounts, or a local sshd.
pub(super) async fn start_backend(
    env: &TargetEnv<'_>,
    ti: usize,
    spec: &TargetSpec,
) -> Result<(SshdTarget, Option<sshmatrix_servers::container::Container>), RunError> {
    let t = &env.plan.targets[ti];
    if t.policy.server.on_this_host() {
        return Ok((asyncssh_target(env, ti)?, None));
    }
    let Some(image) = t.image() else {
        let public = registered(env, ti, None)?;
        let target = SshdTarget::create(env.run_dir, spec, env.host_keys, env.sshd, &public)?;
        if let Some(mode) = &t.scenario.authorized_keys_mode {
            use std::os::unix::fs::PermissionsExt;
            let mode = u32::from_str_radix(mode, 8).unwrap_or(0o600);
            std::fs::set_permissions(
                &target.authorized_keys,
                std::fs::Permissions::from_mode(mode),
            )
            .map_err(|e| {
                RunError::Environment(format!("{}: {e}", target.authorized_keys.display()))
            })?;
        }
        return Ok((target, None));
    };
    let users = t
        .users
        .iter()
        .map(|u| Ok((u.clone(), registered(env, ti, Some(u))?)))
        .collect::<Result<Vec<_>, RunError>>()?;
    let (container, target) = sshmatrix_servers::container::start_target(
        env.run_dir,
        spec,
        image,
        env.host_keys,
        &users,
        sshmatrix_servers::container::Accounts {
            mode: t.scenario.authorized_keys_mode.as_deref(),
            password: env.account_password,
        },
        env.run_name,
        Some(env.logs),
    )
    .await
    .map_err(|e| RunError::Environment(e.to_string()))?;
    Ok((target, Some(container)))
}

/// The settings that decide a login on `t`: a Dropbear policy's data (Dropbear has no
/// `sshd -T`), else what `sshd_t` reads from the rendered sshd_config.
pub(super) fn effective_of(
    t: &crate::matrix::Target,
    sshd_t: impl FnOnce() -> Result<Effective, TargetError>,
) -> Result<Effective, RunError> {
    match &t.policy.facts {
        Some(d) => Ok(Effective::from_facts(t.policy.server, d, &t.host_keys)),
        None => Ok(sshd_t()?),
    }
}

/// An AsyncSSH target: its server program in the virtual environment of the AsyncSSH client
/// profile of the same release, each matrix user with an authorized-keys file of its own. An
/// emulated release runs the same way, the program reading its profile.
pub(super) fn asyncssh_target(env: &TargetEnv<'_>, ti: usize) -> Result<SshdTarget, RunError> {
    let t = &env.plan.targets[ti];
    let with = runs_with(t);
    let python = env.programs.get(&with).and_then(|argv| argv.first()).ok_or_else(|| {
        RunError::Environment(format!(
            "target `{}`: AsyncSSH from profile `{with}` is not installed (`sshmatrix clients install {with}`)",
            t.id
        ))
    })?;
    let users = t
        .users
        .iter()
        .map(|u| Ok((u.clone(), registered(env, ti, Some(u))?)))
        .collect::<Result<Vec<_>, RunError>>()?;
    let server = library_server(env.run_dir, t, python, env.host_keys, &users)?;
    Ok(SshdTarget::asyncssh(&t.id, server))
}

/// The client profile whose AsyncSSH installation runs target `t`'s server.
pub fn runs_with(t: &crate::matrix::Target) -> String {
    t.policy
        .facts
        .as_ref()
        .and_then(|f| f.runs_with.clone())
        .unwrap_or_default()
}

/// The server program of target `t`'s AsyncSSH or emulated release under `run_dir`, run by
/// `python` (its AsyncSSH installation), with the target's host keys and each `(user, authorized
/// key lines)` of `users`. What a run and `serve` both start.
pub fn library_server(
    run_dir: &std::path::Path,
    t: &crate::matrix::Target,
    python: &str,
    store: &HostKeyStore,
    users: &[(String, Vec<String>)],
) -> Result<sshmatrix_servers::asyncssh::AsyncSsh, RunError> {
    let facts = t
        .policy
        .facts
        .clone()
        .expect("an AsyncSSH or emulated policy has facts");
    let host_keys = t
        .host_keys
        .iter()
        .map(|k| store.get(k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sshmatrix_servers::asyncssh::AsyncSsh::create(
        run_dir,
        &t.id,
        python,
        host_keys,
        users,
        facts,
        t.policy.server == ServerKind::Emulated,
    )?)
}

/// Reads a target's KEXINIT once (with the cell timeout).
pub(super) async fn probe_target(
    target: &SshdTarget,
    id: &str,
    timeout: Duration,
) -> Result<ServerHello, RunError> {
    let (stream, session) = target.connect(timeout).await?;
    let hello = tokio::time::timeout(timeout, negotiate::probe(stream, "SSH-2.0-sshmatrix_probe"))
        .await
        .map_err(|_| {
            RunError::Environment(format!(
                "target `{id}`: sshd did not send its KEXINIT in time"
            ))
        })?
        .map_err(|e| RunError::Environment(format!("target `{id}`: probing sshd failed: {e}")))?;
    let _ = session.finish(Duration::from_secs(2)).await;
    Ok(hello)
}

/// Prepares target `ti`: its server, effective settings, scenario material and KEXINIT (a
/// remote target's after its host key pin is checked and, if asked, the keys are deployed);
/// also the container it started, if any, and the notes a reader needs.
pub(super) async fn prepare_target(
    env: &TargetEnv<'_>,
    ti: usize,
) -> Result<(PreparedTarget, Option<Container>, Vec<String>), RunError> {
    let t = &env.plan.targets[ti];
    let extras = extras(t)?;
    let mut spec = target_spec(t, &env.log_level, env.sshd, env.plan.trusted_sshd_lines);
    spec.trusted_user_cas = env.certs.trusted.clone();
    if let Some(h) = env.certs.host(ti) {
        spec.host_certificates = h.lines.clone();
    }
    let (server, container) = start_backend(env, ti, &spec).await?;
    // Lines the user did not vouch for must not change what sshd runs or reads.
    if let Err(e) = server.check_readback() {
        if let Some(c) = container {
            c.remove().await;
        }
        return Err(e.into());
    }
    let mut notes = dialect_notes(&spec);
    if let (Some(c), Some(image)) = (&container, t.image()) {
        notes.push(container_note(t, c, image));
    }
    let effective = effective_of(t, || server.effective(&t.host_keys))?;
    let hello = match &t.backend {
        Backend::Remote(r) => {
            let remote = super::remote::RemoteEnv {
                plan: env.plan,
                keys: env.keys,
                timeout: env.opts.timeout,
            };
            let (hello, note) = remote.prepare(TargetId(ti), r).await?;
            notes.push(note);
            hello
        }
        Backend::Unreachable | Backend::Hostile(_) => ServerHello::default(),
        Backend::Local | Backend::Container(_) => {
            probe_target(&server, &t.id, env.opts.timeout).await?
        }
    };
    let mut server = server;
    if t.listen {
        match start_listening(env, t, &mut server).await {
            Ok(note) => notes.push(note),
            Err(e) => {
                if let Some(c) = container {
                    c.remove().await;
                }
                return Err(e);
            }
        }
    }
    let prepared = PreparedTarget {
        server,
        effective,
        hello,
        extras,
        host_key_pubs: host_key_pubs(t, env.host_keys),
        turns: t.listen.then(|| {
            let cells = env.plan.cells.iter().filter(|c| c.target.0 == ti);
            super::turns::Turns::new(cells.map(|c| c.index))
        }),
    };
    Ok((prepared, container, notes))
}

/// Starts a listening target's sshd (after its KEXINIT was probed with an `sshd -i` of its
/// own, so the probe is not one of the daemon's connections): the note a reader needs.
async fn start_listening(
    env: &TargetEnv<'_>,
    t: &crate::matrix::Target,
    server: &mut SshdTarget,
) -> Result<String, RunError> {
    let log = env.run_dir.join(format!("listening-{}.log", t.id));
    server
        .start_listening(&log, env.opts.timeout)
        .await
        .map_err(|e| {
            RunError::Environment(format!("target `{}`: the listening sshd: {e}", t.id))
        })?;
    Ok(format!(
        "target `{}`: one listening sshd (sshd -D on a 127.0.0.1 port) serves every cell, one cell at a time, each cell's lines cut from its log: what sshd does between connections (PerSourcePenalties, MaxStartups) carries from cell to cell",
        t.id
    ))
}

/// What a reader must know about a container target: its image and which server serves a cell.
pub(super) fn container_note(
    t: &crate::matrix::Target,
    c: &Container,
    image: &ImageRecipe,
) -> String {
    let server = match (t.policy.server, &t.policy.facts) {
        (ServerKind::Dropbear, Some(d)) => format!("a Dropbear {} daemon per cell (dropbear -F -E on a free 127.0.0.1 port, started by the container's helper; its inetd mode logs only to syslog)", d.version),
        (ServerKind::Proftpd, Some(d)) => format!("a ProFTPD {} mod_sftp daemon per cell (proftpd -n on a free 127.0.0.1 port, started by the container's helper; clients request the sftp subsystem, the only session it serves)", d.version),
        (ServerKind::Twisted, Some(d)) => format!("a Twisted {} Conch server per cell (servers/programs/conch_server.py on a free 127.0.0.1 port, started by the container's helper)", d.version),
        (ServerKind::Tinyssh, Some(d)) => format!("TinySSH {} per cell (tinysshd -v, inetd-style) started by the container's helper", d.version),
        (ServerKind::Asyncssh, Some(d)) => format!("an AsyncSSH {} server per cell", d.version),
        _ if t.listen => "one listening sshd for every cell (sshd -D, started by the container's helper)".into(),
        _ => "sshd -i per cell started by the container's helper (no docker exec per cell)".into(),
    };
    format!(
        "container target `{}`: {} ({}), container {}, {server}; the matrix users are real accounts",
        t.id,
        image.tag(),
        image.contents,
        &c.id[..12.min(c.id.len())]
    )
}

/// A target's host key public files (plink pins them).
pub(super) fn host_key_pubs(t: &crate::matrix::Target, host_keys: &HostKeyStore) -> Vec<PathBuf> {
    t.host_keys
        .iter()
        .filter_map(|k| host_keys.get(k).ok())
        .map(|p| PathBuf::from(format!("{}.pub", p.display())))
        .collect()
}
