//! The client side every cell of a run shares: library clients installed, the askpass script
//! and password file real clients read, one ssh-agent per agent-held key, one container per
//! image the in-image clients run in (with its helper), and the run's reporters.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use sshmatrix_clients::{KeyFactory, Profile};

use super::files::write_private_file;
use super::keys::{key_id, KeyId, Keys};
use super::{Options, Progress, Stop};
use crate::error::RunError;
use crate::matrix::Plan;

/// The 0600 file holding the (wrong) password real clients are given in password cells.
pub(super) fn wrong_password_file(run_dir: &std::path::Path) -> Result<PathBuf, RunError> {
    write_private_file(run_dir, "password", &format!("{WRONG_PASSWORD}\n"), 0o600)
}

/// The run's account password (holders `file+password`, `keyboard-interactive`,
/// `file+keyboard-interactive`): random, in a 0600 file of the run
/// directory, set on every account of the container targets. `None` when no cell needs it.
pub(super) fn account_password(
    plan: &Plan,
    run_dir: &std::path::Path,
) -> Result<Option<(PathBuf, String)>, RunError> {
    let wanted = plan.cells.iter().any(|c| c.holder.uses_account_password());
    if !wanted {
        return Ok(None);
    }
    let secret = sshmatrix_clients::factory::random_passphrase();
    let path = write_private_file(run_dir, "account-password", &format!("{secret}\n"), 0o600)?;
    Ok(Some((path, secret)))
}

/// Installs the library clients the plan's cells run (off the async threads: pip and npm
/// take seconds).
pub(super) async fn install_libraries(
    plan: &Plan,
    work_dir: &std::path::Path,
    stop: &Stop,
) -> Result<HashMap<String, Vec<String>>, RunError> {
    // Library clients, and the AsyncSSH client profiles whose environments run servers.
    let builtin = sshmatrix_clients::builtin_profiles();
    let servers = plan
        .targets
        .iter()
        .filter_map(|t| t.policy.facts.as_ref()?.runs_with.as_deref())
        .filter_map(|id| builtin.iter().find(|p| p.id == id));
    let clients = plan.cells.iter().map(|c| &*c.client);
    let profiles: Vec<Profile> = crate::libraries::library_profiles(clients.chain(servers))
        .into_iter()
        .cloned()
        .collect();
    if profiles.is_empty() {
        return Ok(HashMap::new());
    }
    let work_dir = work_dir.to_path_buf();
    let installed = tokio::task::spawn_blocking(move || {
        let refs: Vec<&Profile> = profiles.iter().collect();
        crate::libraries::ensure_all(&refs, &work_dir, &mut |m| eprintln!("sshmatrix: {m}"))
    })
    .await
    .map_err(|e| RunError::Environment(format!("installing library clients: {e}")))?;
    stop.check("installing library clients")?;
    installed
}

/// What a reader must know about agents and jump hosts.
pub(super) fn hop_notes(plan: &Plan, agents: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if agents > 0 {
        notes.push(format!(
            "agent cells: {agents} real ssh-agent process(es), one per key, sockets in the run's private directory; keys added with ssh-add through SSH_ASKPASS"
        ));
    }
    if plan.targets.iter().any(|t| t.via.is_some()) {
        notes.push("jump hosts: the client logs in to the jump host (as its first user), then reaches the target through a direct-tcpip channel (ProxyJump); with a forwarded agent, the jump host's own ssh makes the last hop; each target's sshd -i is served on a one-shot 127.0.0.1 port".into());
    }
    notes
}

/// The script real clients run as SSH_ASKPASS: prints the file `$SSHMATRIX_PASSFILE` names.
pub(super) const ASKPASS: &str = "#!/bin/sh\nexec cat \"$SSHMATRIX_PASSFILE\"\n";

/// The run's reporters: the result stream (when asked for) and progress lines (unless quiet).
pub(super) fn reporters(opts: &Options) -> Result<Vec<Box<dyn crate::events::Reporter>>, RunError> {
    let mut out: Vec<Box<dyn crate::events::Reporter>> = Vec::new();
    if let Some(p) = &opts.stream {
        let s = crate::events::StreamReporter::open(p)
            .map_err(|e| RunError::Environment(format!("result stream {}: {e}", p.display())))?;
        out.push(Box::new(s));
    }
    match opts.progress {
        Progress::Off => {}
        Progress::Lines => out.push(Box::new(crate::events::ProgressLines)),
        Progress::Bar => out.push(Box::new(crate::events::ProgressBar::default())),
    }
    Ok(out)
}

/// Agent sockets by key, and the agent processes.
type Agents = (HashMap<KeyId, PathBuf>, Vec<tokio::process::Child>);

/// One real ssh-agent per key that agent-holder cells use (one key each, so a next-hop client
/// that offers every agent key still offers only the cell's key).
pub(super) async fn start_agents(
    plan: &Plan,
    keys: &Keys,
    factory: &KeyFactory,
    askpass: &std::path::Path,
    run_dir: &std::path::Path,
    opts: &Options,
) -> Result<Agents, RunError> {
    let mut agents = HashMap::new();
    let mut procs = Vec::new();
    for c in plan.cells.iter().filter(|c| c.holder.uses_agent()) {
        opts.stop.check("starting ssh-agents")?;
        let id = key_id(c);
        if agents.contains_key(&id) {
            continue;
        }
        let sock = run_dir.join(format!("agent-{}.sock", agents.len()));
        let proc = super::agent::start(&sock, &keys[&id], factory, askpass)
            .await
            .map_err(RunError::Environment)?;
        procs.push(proc);
        agents.insert(id, sock);
    }
    Ok((agents, procs))
}

/// A client container: how a command runs in it, by `docker exec` (a plain script's way) or
/// by its helper (sshmatrix's).
pub(super) struct ClientContainer {
    /// The argv prefix `docker exec -i ID`.
    pub(super) prefix: Vec<String>,
    /// Its helper.
    pub(super) helper: Arc<sshmatrix_servers::helper::Helper>,
}

/// Client containers by image name, and the containers themselves.
type ClientContainers = (
    HashMap<String, ClientContainer>,
    Vec<sshmatrix_servers::container::Container>,
);

/// One idle container per image the plan's in-image clients run in, with the work directory
/// (keys, askpass script, passphrase files) mounted read-only at the same path and a helper
/// that runs each cell's client.
pub(super) async fn start_client_containers(
    plan: &Plan,
    run_name: &str,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<ClientContainers, RunError> {
    let mut started = HashMap::new();
    let mut containers = Vec::new();
    for image in &plan.client_images {
        opts.stop.check("starting client containers")?;
        let c = sshmatrix_servers::container::Container::start(
            &format!("client image {}", image.name),
            image,
            run_name,
            Vec::new(),
            std::slice::from_ref(&opts.work_dir),
            &[],
        )
        .await
        .map_err(|e| RunError::Environment(e.to_string()))?;
        let helper = c.helper(None).await;
        let helper = match helper {
            Ok(h) => h,
            Err(e) => {
                c.remove().await;
                return Err(RunError::Environment(e.to_string()));
            }
        };
        notes.push(format!(
            "in-image clients: {} ({}), container {}, each client started by the container's helper and connecting to a one-shot 127.0.0.1 port serving the cell's server",
            image.tag(),
            image.contents,
            &c.id[..12.min(c.id.len())]
        ));
        let prefix = c.exec_prefix();
        started.insert(image.name.to_string(), ClientContainer { prefix, helper });
        containers.push(c);
    }
    Ok((started, containers))
}

/// The password of password cells on local and container targets: never the account's (their
/// accounts have none), so the best it can do is be refused.
pub(super) const WRONG_PASSWORD: &str = "not-the-password";

/// What real clients and agent cells of a run share.
pub(super) struct ClientSide {
    /// Key conversions for real clients.
    pub(super) factory: KeyFactory,
    /// The script real clients run as SSH_ASKPASS.
    pub(super) askpass: PathBuf,
    /// Where the cells' server logs go.
    pub(super) logs: PathBuf,
    /// Image name → that image's client container.
    pub(super) containers: HashMap<String, ClientContainer>,
    /// Library-driver profile id → argv prefix of its installed client program.
    pub(super) programs: HashMap<String, Vec<String>>,
    /// A file holding the (wrong) password real clients are given in password cells.
    pub(super) wrong_password: PathBuf,
    /// Key → socket of the ssh-agent holding (only) that key, for agent-holder cells.
    pub(super) agents: HashMap<KeyId, PathBuf>,
    /// What a reader must know about them.
    pub(super) notes: Vec<String>,
}

/// The client side, the agent processes and the client containers it started.
type Started = (
    ClientSide,
    Vec<tokio::process::Child>,
    Vec<sshmatrix_servers::container::Container>,
);

impl ClientSide {
    /// Writes the askpass script and password file, starts the agents and client containers.
    pub(super) async fn prepare(
        plan: &Plan,
        keys: &Keys,
        factory: KeyFactory,
        programs: HashMap<String, Vec<String>>,
        logs: PathBuf,
        run_dir: &std::path::Path,
        opts: &Options,
    ) -> Result<Started, RunError> {
        let askpass = write_private_file(run_dir, "askpass.sh", ASKPASS, 0o700)?;
        let wrong_password = wrong_password_file(run_dir)?;
        let (agents, procs) = start_agents(plan, keys, &factory, &askpass, run_dir, opts).await?;
        let run_name = super::dir_name(run_dir);
        let mut notes = Vec::new();
        let (containers, started) =
            start_client_containers(plan, &run_name, opts, &mut notes).await?;
        let side = ClientSide {
            factory,
            askpass,
            logs,
            containers,
            programs,
            wrong_password,
            agents,
            notes,
        };
        Ok((side, procs, started))
    }
}
