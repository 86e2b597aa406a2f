//! The runner: makes the keys, prepares the targets, probes each target's KEXINIT once, runs the
//! cells concurrently with a timeout each, and streams every finished cell as a JSON line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::keys::ssh_key::PrivateKey;
use sshmatrix_clients::emulator::{self, Attempt, ClientOutcome};
use sshmatrix_clients::factory::{private_dir, FactoryError};
use sshmatrix_clients::load::{check_reads, load_key, LoadError};
use sshmatrix_clients::{negotiate, KeyFactory, KeyFile, Profile, ServerHello};
use sshmatrix_reports::{CellResult, Report, Verdict, SCHEMA_VERSION};
use sshmatrix_servers::dialect::Dialect;
use sshmatrix_servers::sshd::{current_user, sshd_version};
use sshmatrix_servers::ServerKind;
use sshmatrix_servers::{
    analyse, find_sshd, Effective, HostKeyStore, SshdTarget, TargetError, TargetSpec,
};
use tokio::sync::Semaphore;

use crate::matrix::{Backend, Cell, GivenPassphrase, Method, Plan, Registered, TargetId};

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Something missing or broken on this machine (exit code 3).
    #[error("{0}")]
    Environment(String),
    /// Bad input discovered while preparing (exit code 2).
    #[error("{0}")]
    Input(String),
    /// A stop (Ctrl-C, SIGTERM) arrived before any cell ran (exit code 130); says what was
    /// being prepared.
    #[error("interrupted while {0}: nothing was run")]
    Interrupted(String),
    /// The result stream could not be written (exit code 3): the run stopped scheduling; the
    /// report holds every cell measured, for the caller to keep.
    #[error("{0}")]
    Stream(String, Box<Report>),
}

/// How a run shows its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (`-q`, and runs inside other commands).
    Off,
    /// One line per finished cell (`-v`, or stderr is not a terminal).
    Lines,
    /// A live bar with the ○/×/! counts so far, cells per second and the time left (a terminal).
    Bar,
}

impl Progress {
    /// The display a command's `-q` / `-v` and stderr ask for.
    pub fn choose(quiet: bool, verbose: bool) -> Progress {
        // A terminal the bar can draw on (not TERM=dumb or unset, where it would stay blank).
        let drawable = || console::Term::stderr().is_term() && !console::is_dumb();
        match (quiet, verbose) {
            (true, _) => Progress::Off,
            (false, true) => Progress::Lines,
            (false, false) if drawable() => Progress::Bar,
            (false, false) => Progress::Lines,
        }
    }
}

/// Stop requests, shared by the signal handler and the runner. The first stops scheduling
/// (cells in flight finish with their real verdicts: every child process runs in its own
/// process group, so a terminal's Ctrl-C reaches only sshmatrix); the second abandons the cells
/// in flight, which are then reported as `interrupted` and never written to the stream.
#[derive(Debug, Default)]
pub struct Stop {
    stop: std::sync::atomic::AtomicBool,
    signalled: std::sync::atomic::AtomicBool,
    abandon: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    /// Stops scheduling new cells.
    pub fn request(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops scheduling because of a signal (Ctrl-C, SIGTERM). A signal sent to the whole
    /// process group can reach a child in the instant it is being started, before it has left
    /// the group: cells in flight that did not log in are then reported as interrupted.
    pub fn request_by_signal(&self) {
        self.signalled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.request();
    }

    /// Whether a signal stopped the run.
    pub fn signalled(&self) -> bool {
        self.signalled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Abandons the cells in flight as well.
    pub fn abandon(&self) {
        self.request_by_signal();
        self.abandon
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once the cells in flight are to be abandoned.
    pub async fn abandoned(&self) {
        loop {
            let woken = self.notify.notified();
            if self.abandon.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            woken.await;
        }
    }

    /// `Err(Interrupted)` naming `what` when a stop was requested.
    pub fn check(&self, what: &str) -> Result<(), RunError> {
        match self.requested() {
            true => Err(RunError::Interrupted(what.into())),
            false => Ok(()),
        }
    }
}

impl RunError {
    /// The documented exit code (README, "Exit codes"): 2 bad input, 3 environment (a stream
    /// that cannot be written included), 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Input(_) => crate::EXIT_INPUT,
            RunError::Environment(_) | RunError::Stream(..) => crate::EXIT_ENVIRONMENT,
            RunError::Interrupted(_) => crate::EXIT_INTERRUPTED,
        }
    }
}

impl From<TargetError> for RunError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::BadConfig { .. }
            | TargetError::NotSshd(_)
            | TargetError::Untrusted { .. } => RunError::Input(e.to_string()),
            other => RunError::Environment(other.to_string()),
        }
    }
}

impl From<FactoryError> for RunError {
    fn from(e: FactoryError) -> Self {
        RunError::Environment(format!("key factory: {e}"))
    }
}

/// Seconds a cell may take unless the matrix or `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;

pub use sshmatrix_core::vocab::KeyId;

/// A plan's keys, made once each.
pub type Keys = HashMap<KeyId, KeyFile>;

/// Runner options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent cells.
    pub jobs: usize,
    /// Per-cell timeout.
    pub timeout: Duration,
    /// Work directory: key cache, host keys, run directories.
    pub work_dir: PathBuf,
    /// JSON Lines result stream (one cell per line, appended as cells finish).
    pub stream: Option<PathBuf>,
    /// How finished cells are shown on stderr.
    pub progress: Progress,
    /// Stop requests (Ctrl-C): see [`Stop`].
    pub stop: Arc<Stop>,
}

impl Options {
    /// Options with the defaults of `sshmatrix run`.
    pub fn new(work_dir: PathBuf) -> Self {
        Options {
            jobs: default_jobs(),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            work_dir,
            stream: None,
            progress: Progress::Off,
            stop: Arc::default(),
        }
    }

    /// Whether a stop was requested.
    pub fn stopping(&self) -> bool {
        self.stop.requested()
    }
}

/// A private run directory under `work_dir/runs` (0700, removed on drop, Ctrl-C included via the
/// caller's drop), marked with this process's owner identity so later runs can sweep it once
/// this process is provably gone (never while it lives, whatever its pid namespace).
pub(crate) fn new_run_dir(
    work_dir: &std::path::Path,
    prefix: &str,
) -> Result<tempfile::TempDir, RunError> {
    let runs = work_dir.join("runs");
    let env =
        |e: std::io::Error| RunError::Environment(format!("run directory {}: {e}", runs.display()));
    take_lease(work_dir)?;
    private_dir(&runs).map_err(env)?;
    sshmatrix_servers::owner::sweep_dirs(&runs, "");
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&runs)
        .map_err(env)?;
    sshmatrix_servers::owner::mark(dir.path()).map_err(env)?;
    Ok(dir)
}

/// Takes this process's lease (the lock that proves it alive to sweeps) under `work_dir`.
pub fn take_lease(work_dir: &std::path::Path) -> Result<(), RunError> {
    let leases = work_dir.join("leases");
    sshmatrix_servers::owner::take_lease(&leases)
        .map_err(|e| RunError::Environment(format!("lease file under {}: {e}", leases.display())))
}

/// The key factory of a work directory: builds marked with this process's identity, and the
/// builds left by dead processes (a passphrase file and an encrypted key each) removed.
pub fn key_factory(work_dir: &std::path::Path) -> Result<KeyFactory, RunError> {
    crate::workdir::prepare(work_dir)?;
    take_lease(work_dir)?;
    let root = work_dir.join("keys");
    let factory = KeyFactory::new(&root)
        .map_err(|e| RunError::Environment(format!("key cache {}: {e}", root.display())))?
        .with_build_marker(sshmatrix_servers::owner::mark);
    sshmatrix_servers::owner::sweep_dirs(&root, sshmatrix_clients::factory::BUILD_PREFIX);
    Ok(factory)
}

pub use crate::workdir::{check_work_dir, default_work_dir, default_work_dir_checked};

/// Default concurrency: four cells per core (each cell is mostly an sshd process and waiting).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        * 4
}

/// Key loads, once per (file, wrong passphrase given): later cells wait for the first.
type LoadMemo =
    Mutex<HashMap<(PathBuf, bool), Arc<tokio::sync::OnceCell<Result<Arc<PrivateKey>, LoadError>>>>>;

/// Most concurrent key decryptions: one per core up to this. PPK v3 (Argon2id) takes 8 MiB each,
/// so the cap bounds the peak memory; bcrypt-pbkdf and Argon2 are pure CPU (about 0.2 s each:
/// a quarter of the Nutanix matrix's CPU time for its 9 passphrase-protected files), and one
/// at a time left a core idle while the first cells waited for their keys.
const MAX_DECRYPTIONS: usize = 4;

/// Concurrent key decryptions on this machine.
fn decryptions() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_DECRYPTIONS)
}

/// Per-target material of a troubleshooting scenario.
#[derive(Default)]
struct Extras {
    /// The host key the client "knows" (a different one than the target's).
    known_host_key: Option<russh::keys::ssh_key::PublicKey>,
    /// Keys the client offers before its own.
    decoys: Vec<Arc<PrivateKey>>,
}

/// A fresh in-memory Ed25519 key that is the pair of nothing in the matrix.
fn decoy_key() -> Result<PrivateKey, RunError> {
    let material = sshmatrix_clients::factory::generate(sshmatrix_clients::KeySpec::Ed25519)?;
    Ok(sshmatrix_clients::factory::to_ssh_key(
        &material,
        "sshmatrix decoy",
    )?)
}

struct Shared {
    plan: Plan,
    extras: Vec<Extras>,
    targets: Vec<SshdTarget>,
    effective: Vec<Effective>,
    hellos: Vec<ServerHello>,
    keys: Keys,
    loads: LoadMemo,
    decrypting: Semaphore,
    budget: Mutex<crate::budget::Budget>,
    login: String,
    /// For real-client drivers: the sshd binary, key conversions, askpass script, log dir and
    /// host key files per target.
    factory: KeyFactory,
    askpass: PathBuf,
    logs: PathBuf,
    host_key_pubs: Vec<Vec<PathBuf>>,
    /// Image name → that image's client container.
    client_containers: HashMap<String, ClientContainer>,
    /// Library-driver profile id → argv prefix of its installed client program.
    programs: HashMap<String, Vec<String>>,
    /// A file holding the (wrong) password real clients are given in password cells.
    wrong_password: PathBuf,
    /// Key → socket of the ssh-agent holding (only) that key, for agent-holder cells.
    agents: HashMap<KeyId, PathBuf>,
    timeout: Duration,
    /// The stream and progress reporters (see [`crate::events`]).
    reporters: Vec<Box<dyn crate::events::Reporter>>,
    /// The first reporter error (the run stops scheduling on it).
    stream_error: Mutex<Option<String>>,
    stop: Arc<Stop>,
    done: Mutex<usize>,
}

/// Makes (or reuses) every key file the plan needs.
pub async fn make_keys(
    plan: &Plan,
    factory: &KeyFactory,
    jobs: usize,
    stop: &Arc<Stop>,
) -> Result<Keys, RunError> {
    let mut wanted: Vec<(sshmatrix_clients::KeySpec, sshmatrix_clients::KeyTool, bool)> =
        Vec::new();
    for c in &plan.cells {
        if !wanted
            .iter()
            .any(|(k, t, p)| *k == c.key && t.id == c.key_tool.id && *p == c.passphrase)
        {
            wanted.push((c.key, (*c.key_tool).clone(), c.passphrase));
        }
    }
    let sem = Arc::new(Semaphore::new(jobs.max(1)));
    let mut tasks = Vec::new();
    for (spec, tool, pass) in wanted {
        let factory = factory.clone();
        let sem = sem.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore");
            stop.check("making keys")?;
            tokio::task::spawn_blocking(move || factory.get(spec, &tool, pass))
                .await
                .expect("key task")
                .map_err(RunError::from)
        }));
    }
    // Every build is awaited (a stop lets the ones under way finish, so no half-built key
    // directory is left behind), then the first error is returned.
    let mut out = HashMap::new();
    let mut first_error = None;
    for t in tasks {
        match t.await.expect("key task") {
            Ok(kf) => {
                let id = KeyId {
                    key: kf.spec.to_string(),
                    tool: kf.tool_id.clone(),
                    passphrase: kf.encrypted,
                };
                out.insert(id, kf);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A prepared run: keys made, targets written and probed, nothing run yet. Dropping it removes
/// the run directory.
pub struct Prepared {
    shared: Arc<Shared>,
    notes: Vec<String>,
    jobs: usize,
    stop: Arc<Stop>,
    containers: Vec<sshmatrix_servers::container::Container>,
    /// The target id of each of the first containers (target containers come first).
    target_containers: Vec<String>,
    /// The ssh-agent processes (they end when dropped; `close` waits for that).
    agents: Vec<tokio::process::Child>,
    _run_dir: tempfile::TempDir,
}

/// Runs a plan and returns the report (cells in plan order).
pub async fn run(plan: Plan, opts: &Options) -> Result<Report, RunError> {
    let prepared = prepare(plan, opts).await?;
    let cells = prepared.execute().await;
    let report = prepared.report(cells);
    let stream_error = prepared.shared.stream_error.lock().expect("lock").take();
    prepared.close().await;
    match stream_error {
        Some(e) => Err(RunError::Stream(e, Box::new(report))),
        None => Ok(report),
    }
}

/// Makes the images of the plan's container targets that are missing (built once, cached by
/// tag) and sweeps containers left by killed runs.
fn prepare_images(plan: &Plan, work_dir: &std::path::Path) -> Result<(), RunError> {
    use sshmatrix_servers::container;
    let mut images: Vec<&container::ImageRecipe> = plan
        .targets
        .iter()
        .filter_map(|t| t.image())
        .collect();
    images.extend(plan.client_images.iter());
    if images.is_empty() {
        return Ok(());
    }
    container::check_docker().map_err(|e| RunError::Environment(e.to_string()))?;
    container::sweep_stale();
    let mut done = std::collections::BTreeSet::new();
    for image in images {
        if done.insert(image.name) {
            container::ensure_image(image, &work_dir.join("images"), &mut std::io::stderr())
                .map_err(|e| RunError::Environment(e.to_string()))?;
        }
    }
    Ok(())
}

/// The 0600 file holding the (wrong) password real clients are given in password cells.
fn wrong_password_file(run_dir: &std::path::Path) -> Result<PathBuf, RunError> {
    write_private_file(run_dir, "password", &format!("{WRONG_PASSWORD}\n"), 0o600)
}

/// Installs the library clients the plan's cells run (off the async threads: pip and npm
/// take seconds).
async fn install_libraries(
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

/// A 0700 directory `name` under `dir`.
fn private_subdir(dir: &std::path::Path, name: &str) -> Result<PathBuf, RunError> {
    let p = dir.join(name);
    private_dir(&p).map_err(|e| RunError::Environment(format!("{}: {e}", p.display())))?;
    Ok(p)
}

/// The last component of a path (the run directory's name labels its containers).
pub(crate) fn dir_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// What every run needs from this machine: the sshd binary, a usable work directory, the key
/// factory and host key store, every key of the plan, and the container images.
async fn prepare_machine(
    plan: &Plan,
    opts: &Options,
) -> Result<(PathBuf, KeyFactory, HostKeyStore, Keys), RunError> {
    let sshd = find_sshd()?;
    crate::workdir::prepare(&opts.work_dir)?;
    let factory = key_factory(&opts.work_dir)?;
    let host_keys = HostKeyStore::new(opts.work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let keys = make_keys(plan, &factory, opts.jobs, &opts.stop).await?;
    opts.stop.check("making keys")?;
    prepare_images(plan, &opts.work_dir)?;
    opts.stop.check("preparing container images")?;

    Ok((sshd, factory, host_keys, keys))
}

/// Makes the keys, writes and validates every target, and probes each target's KEXINIT.
pub async fn prepare(plan: Plan, opts: &Options) -> Result<Prepared, RunError> {
    let (sshd, factory, host_keys, keys) = prepare_machine(&plan, opts).await?;
    let programs = install_libraries(&plan, &opts.work_dir, &opts.stop).await?;
    let run_dir = new_run_dir(&opts.work_dir, "run-")?;
    let run_name = dir_name(run_dir.path());
    let log_level = plan.run.server_log_level.as_deref().unwrap_or("VERBOSE");
    let logs = private_subdir(run_dir.path(), "logs")?;
    let env = TargetEnv {
        plan: &plan,
        keys: &keys,
        opts,
        run_dir: run_dir.path(),
        run_name: &run_name,
        host_keys: &host_keys,
        sshd: &sshd,
        log_level: log_level.to_string(),
        programs: &programs,
        logs: &logs,
    };
    let Targets {
        mut notes,
        targets,
        effective,
        hellos,
        extras,
        mut containers,
        target_containers,
    } = prepare_targets(&env).await?;
    let login = current_user();
    let askpass = write_private_file(run_dir.path(), "askpass.sh", ASKPASS, 0o700)?;
    let host_key_pubs = host_key_pubs(&plan, &host_keys);
    notes.splice(0..0, local_notes(&plan, &sshd, &login));
    let wrong_password = wrong_password_file(run_dir.path())?;
    let (agents, agent_procs) =
        start_agents(&plan, &keys, &factory, &askpass, run_dir.path(), opts).await?;
    notes.extend(hop_notes(&plan, agents.len()));
    let (client_containers, more) =
        start_client_containers(&plan, &run_name, opts, &mut notes).await?;
    containers.extend(more);
    opts.stop.check("preparing the run")?;
    let shared = Arc::new(Shared {
        plan,
        extras,
        targets,
        effective,
        hellos,
        keys,
        loads: Mutex::new(HashMap::new()),
        decrypting: Semaphore::new(decryptions()),
        budget: Mutex::new(crate::budget::Budget::load(
            opts.work_dir.join("auth-budget.json"),
        )),
        login,
        factory: factory.clone(),
        askpass,
        logs,
        host_key_pubs,
        client_containers,
        programs,
        agents,
        wrong_password,
        timeout: opts.timeout,
        reporters: reporters(opts)?,
        stream_error: Mutex::new(None),
        stop: opts.stop.clone(),
        done: Mutex::new(0),
    });

    Ok(Prepared {
        shared,
        notes,
        jobs: opts.jobs,
        stop: opts.stop.clone(),
        containers,
        target_containers,
        agents: agent_procs,
        _run_dir: run_dir,
    })
}

/// What a reader must know about local targets: the sshd serving them, and who the users are.
fn local_notes(plan: &Plan, sshd: &std::path::Path, login: &str) -> Vec<String> {
    if !plan
        .targets
        .iter()
        .any(|t| t.remote().is_none() && t.image().is_none())
    {
        return Vec::new();
    }
    vec![
        format!(
            "local backend: {} in inetd mode (sshd -i), one process per cell, server log captured per cell",
            sshd_version(sshd)
        ),
        format!(
            "on local targets every matrix user is served by the OS user running sshmatrix ({login}); user names are labels (real per-user accounts come with container targets)"
        ),
    ]
}

/// What a reader must know about agents and jump hosts.
fn hop_notes(plan: &Plan, agents: usize) -> Vec<String> {
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

/// Every target of a plan, prepared (in plan order).
struct Targets {
    notes: Vec<String>,
    targets: Vec<SshdTarget>,
    effective: Vec<Effective>,
    hellos: Vec<ServerHello>,
    extras: Vec<Extras>,
    containers: Vec<sshmatrix_servers::container::Container>,
    /// The target id of each container in `containers`.
    target_containers: Vec<String>,
}

/// Prepares every target in plan order (a stop request ends it between targets).
async fn prepare_targets(env: &TargetEnv<'_>) -> Result<Targets, RunError> {
    let mut all = Targets {
        notes: Vec::new(),
        targets: Vec::new(),
        effective: Vec::new(),
        hellos: Vec::new(),
        extras: Vec::new(),
        containers: Vec::new(),
        target_containers: Vec::new(),
    };
    for ti in 0..env.plan.targets.len() {
        let id = &env.plan.targets[ti].id;
        env.opts.stop.check(&format!("starting target `{id}`"))?;
        let t = prepare_target(env, ti).await?;
        if let Some(c) = t.container {
            all.target_containers.push(id.clone());
            all.containers.push(c);
        }
        all.notes.extend(t.notes);
        all.targets.push(t.target);
        all.effective.push(t.effective);
        all.hellos.push(t.hello);
        all.extras.push(t.extras);
    }
    Ok(all)
}

/// What preparing one target needs.
struct TargetEnv<'a> {
    plan: &'a Plan,
    keys: &'a Keys,
    opts: &'a Options,
    run_dir: &'a std::path::Path,
    run_name: &'a str,
    host_keys: &'a HostKeyStore,
    sshd: &'a std::path::Path,
    log_level: String,
    /// Installed library programs (profile id → argv prefix): AsyncSSH targets run in one.
    programs: &'a HashMap<String, Vec<String>>,
    /// The cells' server logs (mounted read-write in target containers, whose helper writes
    /// them).
    logs: &'a std::path::Path,
}

/// One prepared target: its sshd (local or in a container), effective settings, KEXINIT,
/// scenario material and notes.
struct PreparedTarget {
    target: SshdTarget,
    effective: Effective,
    hello: ServerHello,
    extras: Extras,
    container: Option<sshmatrix_servers::container::Container>,
    notes: Vec<String>,
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
        .map(|c| keys[&key_id(c)].public_line.clone())
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The keys a target registers under its scenario: the matrix's, another key, or none.
fn registered(env: &TargetEnv, ti: usize, user: Option<&str>) -> Result<Vec<String>, RunError> {
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
fn extras(t: &crate::matrix::Target) -> Result<Extras, RunError> {
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
pub(crate) fn target_spec(
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
    }
}

/// What rendering target `t` for its sshd release changed, as report notes.
fn dialect_notes(spec: &TargetSpec) -> Vec<String> {
    spec.changes()
        .into_iter()
        .map(|c| format!("target `{}`: {c}", spec.id))
        .collect()
}

/// Starts target `ti`'s server: a container with real accounts, or a local sshd.
async fn start_backend(
    env: &TargetEnv<'_>,
    ti: usize,
    spec: &TargetSpec,
) -> Result<(SshdTarget, Option<sshmatrix_servers::container::Container>), RunError> {
    let t = &env.plan.targets[ti];
    if t.policy.server == ServerKind::Asyncssh {
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
        t.scenario.authorized_keys_mode.as_deref(),
        env.run_name,
        Some(env.logs),
    )
    .await
    .map_err(|e| RunError::Environment(e.to_string()))?;
    Ok((target, Some(container)))
}

/// The settings that decide a login on `t`: a Dropbear policy's data (Dropbear has no
/// `sshd -T`), else what `sshd_t` reads from the rendered sshd_config.
fn effective_of(
    t: &crate::matrix::Target,
    sshd_t: impl FnOnce() -> Result<Effective, TargetError>,
) -> Result<Effective, RunError> {
    match &t.policy.facts {
        Some(d) => Ok(Effective::from_facts(t.policy.server, d, &t.host_keys)),
        None => Ok(sshd_t()?),
    }
}

/// An AsyncSSH target: its server program in the virtual environment of the AsyncSSH client
/// profile of the same release, each matrix user with an authorized-keys file of its own.
fn asyncssh_target(env: &TargetEnv<'_>, ti: usize) -> Result<SshdTarget, RunError> {
    let t = &env.plan.targets[ti];
    let facts = t
        .policy
        .facts
        .clone()
        .expect("an AsyncSSH policy has facts");
    let with = facts.runs_with.clone().unwrap_or_default();
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
    let host_keys = t
        .host_keys
        .iter()
        .map(|k| env.host_keys.get(k))
        .collect::<Result<Vec<_>, _>>()?;
    let server = sshmatrix_servers::asyncssh::AsyncSsh::create(
        env.run_dir,
        &t.id,
        python,
        host_keys,
        &users,
        facts,
    )?;
    Ok(SshdTarget::asyncssh(&t.id, server))
}

/// Reads a target's KEXINIT once (with the cell timeout).
async fn probe_target(
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
/// remote target's after its host key pin is checked and, if asked, the keys are deployed).
async fn prepare_target(env: &TargetEnv<'_>, ti: usize) -> Result<PreparedTarget, RunError> {
    let t = &env.plan.targets[ti];
    let extras = extras(t)?;
    let spec = target_spec(t, &env.log_level, env.sshd, env.plan.trusted_sshd_lines);
    let (target, container) = start_backend(env, ti, &spec).await?;
    // Lines the user did not vouch for must not change what sshd runs or reads.
    if let Err(e) = target.check_readback() {
        if let Some(c) = container {
            c.remove().await;
        }
        return Err(e.into());
    }
    let mut notes = dialect_notes(&spec);
    if let (Some(c), Some(image)) = (&container, t.image()) {
        let server = match (t.policy.server, &t.policy.facts) {
            (ServerKind::Dropbear, Some(d)) => format!("a Dropbear {} daemon per cell (dropbear -F -E on a free 127.0.0.1 port, started by the container's helper; its inetd mode logs only to syslog)", d.version),
            (ServerKind::Tinyssh, Some(d)) => format!("TinySSH {} per cell (tinysshd -v, inetd-style) started by the container's helper", d.version),
            (ServerKind::Asyncssh, Some(d)) => format!("an AsyncSSH {} server per cell", d.version),
            _ => "sshd -i per cell started by the container's helper (no docker exec per cell)".into(),
        };
        notes.push(format!(
            "container target `{}`: {} ({}), container {}, {server}; the matrix users are real accounts",
            t.id,
            image.tag(),
            image.contents,
            &c.id[..12.min(c.id.len())]
        ));
    }
    let effective = effective_of(t, || target.effective(&t.host_keys))?;
    let hello = if let Backend::Remote(r) = &t.backend {
        let hello = preflight(&t.id, r, env.opts.timeout).await?;
        if let Some(d) = &r.deploy {
            deploy_keys(
                &t.id,
                r,
                d,
                &t.users,
                env.plan,
                ti,
                env.keys,
                env.opts.timeout,
            )
            .await?;
        }
        notes.push(format!(
            "remote target `{}` ({}:{}): host key pinned; logs in as the matrix users; the server log is not available, reasons are the client's; at most {} failed logins per account per {} s",
            t.id, r.host, r.port, r.auth_budget, r.budget_window_secs
        ));
        hello
    } else if let Backend::Unreachable | Backend::Hostile(_) = t.backend {
        ServerHello::default()
    } else {
        probe_target(&target, &t.id, env.opts.timeout).await?
    };
    Ok(PreparedTarget {
        target,
        effective,
        hello,
        extras,
        container,
        notes,
    })
}

/// The script real clients run as SSH_ASKPASS: prints the file `$SSHMATRIX_PASSFILE` names.
const ASKPASS: &str = "#!/bin/sh\nexec cat \"$SSHMATRIX_PASSFILE\"\n";

/// Writes `name` in the run directory with `mode`; returns its path.
fn write_private_file(
    dir: &std::path::Path,
    name: &str,
    text: &str,
    mode: u32,
) -> Result<PathBuf, RunError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text)
        .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| RunError::Environment(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// The run's reporters: the result stream (when asked for) and progress lines (unless quiet).
fn reporters(opts: &Options) -> Result<Vec<Box<dyn crate::events::Reporter>>, RunError> {
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

/// Each target's host key public files (plink pins them).
fn host_key_pubs(plan: &Plan, host_keys: &HostKeyStore) -> Vec<Vec<PathBuf>> {
    plan.targets
        .iter()
        .map(|t| {
            t.host_keys
                .iter()
                .filter_map(|k| host_keys.get(k).ok())
                .map(|p| PathBuf::from(format!("{}.pub", p.display())))
                .collect()
        })
        .collect()
}

/// Agent sockets by key, and the agent processes.
type Agents = (HashMap<KeyId, PathBuf>, Vec<tokio::process::Child>);

/// One real ssh-agent per key that agent-holder cells use (one key each, so a next-hop client
/// that offers every agent key still offers only the cell's key).
async fn start_agents(
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
        let proc = crate::agent::start(&sock, &keys[&id], factory, askpass)
            .await
            .map_err(RunError::Environment)?;
        procs.push(proc);
        agents.insert(id, sock);
    }
    Ok((agents, procs))
}

/// A client container: how a command runs in it, by `docker exec` (a plain script's way) or
/// by its helper (sshmatrix's).
struct ClientContainer {
    /// The argv prefix `docker exec -i ID`.
    prefix: Vec<String>,
    /// Its helper.
    helper: Arc<sshmatrix_servers::helper::Helper>,
}

/// Client containers by image name, and the containers themselves.
type ClientContainers = (
    HashMap<String, ClientContainer>,
    Vec<sshmatrix_servers::container::Container>,
);

/// One idle container per image the plan's in-image clients run in, with the work directory
/// (keys, askpass script, passphrase files) mounted read-only at the same path and a helper
/// that runs each cell's client.
async fn start_client_containers(
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

impl Prepared {
    /// Runs every cell, `jobs` at a time; each finished cell is streamed at once. Once a stop
    /// is requested no new cell starts; the returned cells are those that finished.
    pub async fn execute(&self) -> Vec<CellResult> {
        // `jobs` workers pull cell indices from a counter: only `jobs` cell futures exist at a
        // time, whatever the size of the matrix.
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let _prefetch =
            AbortOnDrop(tokio::spawn(prefetch_keys(self.shared.clone())).abort_handle());
        let mut workers = Vec::new();
        for _ in 0..self.jobs.max(1) {
            let shared = self.shared.clone();
            let stop = self.stop.clone();
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    if stop.requested() {
                        break;
                    }
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= shared.plan.cells.len() {
                        break;
                    }
                    let mut result = tokio::select! {
                        r = run_cell(shared.clone(), i) => r,
                        () = stop.abandoned() => interrupted(&shared, i, ABANDONED),
                    };
                    // In flight when a signal came: only a login the server logged is
                    // certain; anything else may be the signal's doing.
                    if stop.signalled() && result.verdict != Verdict::Ok {
                        result = interrupted(&shared, i, CUT_SHORT);
                    }
                    shared.record(&result);
                    done.push(result);
                }
                done
            }));
        }
        let mut cells = Vec::new();
        for w in workers {
            cells.extend(w.await.expect("cell worker"));
        }
        cells.sort_by_key(|c| c.index);
        cells
    }

    /// Removes the run's containers (dropping a `Prepared` removes them too, blocking).
    pub async fn close(mut self) {
        for c in std::mem::take(&mut self.containers) {
            c.remove().await;
        }
        for a in std::mem::take(&mut self.agents) {
            crate::agent::stop(a).await;
        }
    }

    /// The container serving target `id` (container targets), while the run is open.
    pub fn target_container(&self, id: &str) -> Option<&sshmatrix_servers::container::Container> {
        let i = self.target_containers.iter().position(|t| t == id)?;
        self.containers.get(i)
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        &self.shared.plan
    }

    /// The prepared local target of plan target `i`.
    pub fn target(&self, i: TargetId) -> &SshdTarget {
        &self.shared.targets[i]
    }

    /// The login name, the log directory and the askpass script, for real-client loops.
    pub fn real_client_env(&self) -> (&str, &std::path::Path, &std::path::Path) {
        (&self.shared.login, &self.shared.logs, &self.shared.askpass)
    }

    /// The key file of a cell.
    pub fn key_file(&self, cell: &Cell) -> &KeyFile {
        &self.shared.keys[&key_id(cell)]
    }

    /// The effective settings of plan target `i` (from `sshd -T`).
    pub fn effective(&self, i: TargetId) -> &Effective {
        &self.shared.effective[i]
    }

    /// Runs a real client's cell as a plain loop would: the same server end and client command
    /// line, no classification (`bench --real`); the client's exit status.
    pub async fn run_plain(&self, cell: &Cell) -> Option<i32> {
        let driver = cell.client.driver?;
        let real = real_cell(&self.shared, cell, driver, Served::Plain)
            .await
            .ok()?;
        crate::drivers::run_plain(real, &self.shared.factory).await
    }

    /// The login name every cell uses.
    pub fn login(&self) -> &str {
        &self.shared.login
    }

    /// Wraps finished cells into a report.
    /// Cells cut short by a stop have no verdict: they are left out (and counted in a note),
    /// so the report holds exactly what the stream holds.
    pub fn report(&self, cells: Vec<CellResult>) -> Report {
        let plan = &self.shared.plan;
        let (cells, cut): (Vec<CellResult>, Vec<CellResult>) =
            cells.into_iter().partition(|c| c.verdict.is_measured());
        let mut notes = self.notes.clone();
        if !cut.is_empty() {
            notes.push(format!(
                "{} cells in flight when the run was stopped are not recorded (no verdict); --resume runs them",
                cut.len()
            ));
        }
        Report {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            matrix: plan.file.clone(),
            title: plan.title.clone(),
            matrix_digest: crate::matrix::digest::plan_digest(plan),
            plan_cells: plan.cells.len(),
            shard: None,
            row_axes: plan.row_axes.clone(),
            column_axes: plan.column_axes.clone(),
            notes,
            cells,
        }
    }
}

/// The name a jump host is entered as: its first matrix user in a container, else the OS user.
fn jump_login(shared: &Shared, vi: TargetId) -> &str {
    let t = &shared.plan.targets[vi];
    match (t.image(), t.users.first()) {
        (Some(_), Some(u)) => u,
        _ => &shared.login,
    }
}

/// The outcome of a forwarded-agent cell: the jump host's own ssh logged in to the target
/// (the target's log says so), was refused forwarding, or was refused by the target.
fn forwarded_outcome(jump: &str, f: &emulator::Forwarded, log_c: &str) -> ClientOutcome {
    let last = f
        .output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.contains("/dev/null"))
        .unwrap_or("")
        .trim()
        .to_string();
    let accepted = sshmatrix_servers::analyse(log_c).accepted;
    if accepted && f.exit_status == Some(0) {
        ClientOutcome::new(
            emulator::Verdict::Ok,
            emulator::Stage::Login,
            format!(
                "logged in from jump host `{}` by its ssh with the forwarded agent ({} agent channel(s))",
                jump, f.agent_channels
            ),
        )
    } else if !f.forwarding_accepted {
        ClientOutcome::new(
            emulator::Verdict::Fail,
            emulator::Stage::Auth,
            format!(
                "agent forwarding refused by jump host `{}` (its ssh found no key): {last}",
                jump
            ),
        )
    } else {
        ClientOutcome::new(
            emulator::Verdict::Fail,
            emulator::Stage::Auth,
            format!(
                "jump host `{}`'s ssh with the forwarded agent ({} agent channel(s)): {last}",
                jump, f.agent_channels
            ),
        )
    }
}

/// Logs in to jump host `vi` with the cell's credential; the refusal (stage `jump`, unless it
/// is a timeout or an emulation limit) when the jump host does not let the client in.
async fn login_to_jump(
    shared: &Shared,
    attempt: &Attempt<'_>,
    vi: TargetId,
    stream: sshmatrix_servers::ServerStream,
) -> Result<emulator::Session, ClientOutcome> {
    let to_b = Attempt {
        profile: attempt.profile,
        server: &shared.hellos[vi],
        key: attempt.key.clone(),
        user: jump_login(shared, vi),
        timeout: attempt.timeout,
        known_host_key: None,
        host_key_pin: None,
        other_keys_first: Vec::new(),
        password: attempt.password.clone(),
        agent: attempt.agent.clone(),
    };
    let (out_b, sess) = emulator::login(to_b, stream).await;
    match sess {
        Some(s) if out_b.verdict == emulator::Verdict::Ok => Ok(s),
        other => {
            if let Some(s) = other {
                s.close().await;
            }
            let mut o = out_b;
            o.reason = format!("jump host `{}`: {}", shared.plan.targets[vi].id, o.reason);
            if !matches!(
                o.stage,
                emulator::Stage::Emulation | emulator::Stage::Timeout
            ) {
                o.verdict = emulator::Verdict::Fail;
                o.stage = emulator::Stage::Jump;
            }
            Err(o)
        }
    }
}

/// A cell whose target sits behind a jump host: log in to the jump host B with the cell's
/// credential, then either tunnel to the target C (direct-tcpip, as ProxyJump) and log in
/// there through the tunnel, or — agent forwarded — run B's own `ssh` to C with the forwarded
/// agent. C's sshd -i is served on a one-shot 127.0.0.1 port; both servers' logs are kept.
async fn run_via(
    shared: &Shared,
    cell: &Cell,
    attempt: Attempt<'_>,
    vi: TargetId,
) -> (ClientOutcome, Option<String>) {
    let error = |stage, reason: String| {
        (
            ClientOutcome::new(emulator::Verdict::Error, stage, reason),
            None,
        )
    };
    let jump = &shared.plan.targets[vi];
    let log_c = shared.logs.join(format!("cell-{}.log", cell.index));
    let relay = match shared.targets[cell.target]
        .serve(&log_c, shared.timeout)
        .await
    {
        Ok(r) => r,
        Err(e) => return error(emulator::Stage::Connect, format!("cannot open a port: {e}")),
    };
    let (stream_b, session_b) = match shared.targets[vi].connect(shared.timeout).await {
        Ok(x) => x,
        Err(e) => return error(emulator::Stage::Connect, format!("cannot start sshd: {e}")),
    };
    let sess = match login_to_jump(shared, &attempt, vi, stream_b).await {
        Ok(s) => s,
        Err(refused) => {
            let log_b = session_b.finish(Duration::from_secs(3)).await;
            return (refused, Some(log_b));
        }
    };
    let outcome = if cell.holder == crate::matrix::Holder::AgentForwarded {
        let command = crate::drivers::second_hop_command(relay.port(), shared.login_for(cell));
        let f = sess.forward_agent_and_exec(&command).await;
        sess.close().await;
        let away = relay.turned_away();
        relay.finish(Duration::from_secs(5)).await;
        let log_c = std::fs::read_to_string(&log_c).unwrap_or_default();
        let _ = session_b.finish(Duration::from_secs(3)).await;
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                return error(
                    emulator::Stage::Auth,
                    format!("on jump host `{}`: {e}", jump.id),
                )
            }
        };
        let mut o = forwarded_outcome(&jump.id, &f, &log_c);
        o.notes.extend(away);
        return (o, Some(log_c));
    } else {
        match sess.tunnel(relay.port()).await {
            Ok(ch) => emulator::attempt(attempt, ch).await,
            Err(e) => ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, e),
        }
    };
    sess.close().await;
    let mut outcome = outcome;
    outcome.notes.extend(relay.turned_away());
    relay.finish(Duration::from_secs(5)).await;
    let _ = session_b.finish(Duration::from_secs(3)).await;
    let log_c = std::fs::read_to_string(&log_c).unwrap_or_default();
    (outcome, Some(log_c))
}

/// The password of password cells on local and container targets: never the account's (their
/// accounts have none), so the best it can do is be refused.
const WRONG_PASSWORD: &str = "not-the-password";

fn key_id(c: &Cell) -> KeyId {
    KeyId {
        key: c.key.to_string(),
        tool: c.key_tool.id.clone(),
        passphrase: c.passphrase,
    }
}

impl Shared {
    fn record(&self, r: &CellResult) {
        let done = {
            let mut done = self.done.lock().expect("lock");
            *done += 1;
            *done
        };
        let e = crate::events::Event::CellFinished {
            result: r,
            done,
            total: self.plan.cells.len(),
        };
        for rep in &self.reporters {
            if let Err(msg) = rep.event(&e) {
                self.stream_error.lock().expect("lock").get_or_insert(msg);
                self.stop.request();
            }
        }
    }

    /// The account a cell logs in to: the matrix user on container targets (real accounts),
    /// the OS user running sshmatrix on local ones.
    fn login_for<'a>(&'a self, cell: &'a Cell) -> &'a str {
        let t = &self.plan.targets[cell.target];
        if t.image().is_some() || t.policy.server == ServerKind::Asyncssh {
            &cell.user
        } else {
            &self.login
        }
    }

    /// The cell's private key as its client holds it: read by the client (its formats, its
    /// passphrase support), or — agent cells — as the agent got it from `ssh-add` (any format,
    /// the right passphrase). Decrypted once per file and passphrase given.
    async fn load(&self, cell: &Cell, file: &KeyFile) -> Result<Arc<PrivateKey>, LoadError> {
        let p = &cell.client;
        let agent = cell.holder.uses_agent();
        let wrong =
            !agent && self.plan.targets[cell.target].scenario.passphrase == GivenPassphrase::Wrong;
        let (reads, reads_encrypted) = match agent {
            true => (sshmatrix_clients::Container::ALL.to_vec(), true),
            false => (p.reads.clone(), p.reads_encrypted),
        };
        let partial = p.partial_refusal(file.format.container, file.spec.family(), file.encrypted);
        if let Some(why) = partial.filter(|_| !agent) {
            return Err(LoadError::Partial(why));
        }
        // What the client can read is checked per cell (cheap); decrypting, once per file and
        // passphrase given, whichever client asked first.
        let text = std::fs::read_to_string(&file.path)
            .map_err(|e| LoadError::Unrecognised(e.to_string()))?;
        if file.encrypted && !reads_encrypted {
            return Err(LoadError::UnsupportedFormat {
                container: format!("encrypted {}", file.format.container.name()),
                reads: "unencrypted key files only".into(),
            });
        }
        check_reads(&text, &reads)?;
        let cell_once = self
            .loads
            .lock()
            .expect("lock")
            .entry((file.path.clone(), wrong))
            .or_default()
            .clone();
        let pass = match wrong {
            true => Some("not the passphrase".to_string()),
            false => file.passphrase(),
        };
        cell_once
            .get_or_init(|| async {
                let _permit = self.decrypting.acquire().await.expect("semaphore");
                tokio::task::spawn_blocking(move || {
                    load_key(&text, &sshmatrix_clients::Container::ALL, pass.as_deref())
                        .map(Arc::new)
                })
                .await
                .expect("load task")
            })
            .await
            .clone()
    }
}

/// Connects to a remote target, with the cell timeout.
async fn connect_remote(
    r: &crate::matrix::Remote,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, String> {
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((r.host.as_str(), r.port)),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("connect to {}:{}: {e}", r.host, r.port)),
        Err(_) => Err(format!("connect to {}:{}: timed out", r.host, r.port)),
    }
}

/// Before any login: the remote host must present the pinned host key (a mismatch stops the
/// run), and its KEXINIT is read for negotiation.
async fn preflight(
    id: &str,
    r: &crate::matrix::Remote,
    timeout: Duration,
) -> Result<ServerHello, RunError> {
    let env = |m: String| RunError::Environment(format!("remote target `{id}`: {m}"));
    let stream = connect_remote(r, timeout).await.map_err(env)?;
    let key = tokio::time::timeout(timeout, emulator::host_key(stream))
        .await
        .map_err(|_| env("no key exchange within the timeout".into()))?
        .map_err(env)?;
    let fp = key
        .fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
        .to_string();
    if !r.host_key.split(',').any(|p| p == fp) {
        return Err(env(format!(
            "host key {} {fp} does not match the pinned {}; refusing to log in (if the change is expected, update host_key)",
            key.algorithm().as_str(),
            r.host_key
        )));
    }
    let stream = connect_remote(r, timeout).await.map_err(env)?;
    tokio::time::timeout(timeout, negotiate::probe(stream, "SSH-2.0-sshmatrix_probe"))
        .await
        .map_err(|_| env("no KEXINIT within the timeout".into()))?
        .map_err(|e| env(format!("probe: {e}")))
}

/// The shell script that installs a user's keys: it reads the user, the key file's path and
/// then the key lines from standard input — no value from the matrix is ever part of the
/// command — appends each line once, and sets the ownership and mode StrictModes wants. The
/// path's `%h` and `%u` (validated by the planner) are expanded by the script itself.
const INSTALL_SCRIPT: &str = r#"set -e
IFS= read -r u; IFS= read -r f
h=$(getent passwd "$u" | cut -d: -f6); [ -n "$h" ] || { echo "no such user $u" >&2; exit 3; }
f=$(printf '%s\n' "$f" | sed -e "s|%h|$h|g" -e "s|%u|$u|g")
d=$(dirname -- "$f"); umask 077; mkdir -p -- "$d"; touch -- "$f"
while IFS= read -r l; do [ -z "$l" ] || grep -qxF -- "$l" "$f" || printf '%s\n' "$l" >> "$f"; done
if [ "$(id -u)" = 0 ]; then chown -- "$u": "$f"; [ "$d" != "$h/.ssh" ] || chown -- "$u": "$d"; fi
chmod 600 -- "$f""#;

/// What [`INSTALL_SCRIPT`] reads: the user, the file, then the key lines.
fn install_input(user: &str, file: &str, lines: &[String]) -> String {
    let mut input = format!("{user}\n{file}\n");
    for l in lines {
        input.push_str(l);
        input.push('\n');
    }
    input
}

/// Installs the matrix keys of each user of a remote target through the admin key.
#[allow(clippy::too_many_arguments)]
async fn deploy_keys(
    id: &str,
    r: &crate::matrix::Remote,
    d: &crate::matrix::Deploy,
    users: &[String],
    plan: &Plan,
    ti: usize,
    keys: &Keys,
    timeout: Duration,
) -> Result<(), RunError> {
    let env =
        |m: String| RunError::Environment(format!("remote target `{id}`: deploying keys: {m}"));
    let text = std::fs::read_to_string(&d.key)
        .map_err(|e| env(format!("admin key {}: {e}", d.key.display())))?;
    let pass = crate::grants::env_secret(crate::grants::DEPLOY_PASSPHRASE);
    let admin = Arc::new(
        load_key(&text, &sshmatrix_clients::Container::ALL, pass.as_deref())
            .map_err(|e| env(format!("admin key {}: {e}", d.key.display())))?,
    );
    for user in users {
        let lines = authorized_lines(plan, keys, TargetId(ti), Some(user));
        let stream = connect_remote(r, timeout).await.map_err(env)?;
        let input = install_input(user, &d.file, &lines);
        let (status, out) = tokio::time::timeout(
            timeout,
            emulator::exec_with_key(
                stream,
                &d.user,
                admin.clone(),
                &r.host_key,
                &format!(
                    "sh -c {}",
                    sshmatrix_clients::driver::sh_quote(INSTALL_SCRIPT)
                ),
                input.as_bytes(),
            ),
        )
        .await
        .map_err(|_| env("timed out".into()))?
        .map_err(env)?;
        if status != 0 {
            return Err(env(format!(
                "installing for {user} exited {status}: {}",
                out.trim()
            )));
        }
    }
    Ok(())
}

/// One cell against a remote target, within its account's failed-login budget.
async fn run_remote(
    shared: &Shared,
    cell: &Cell,
    r: &crate::matrix::Remote,
    key: Arc<PrivateKey>,
) -> ClientOutcome {
    let spent = shared.budget.lock().expect("lock").spent(
        &r.host,
        r.port,
        &cell.user,
        r.budget_window_secs,
    );
    if spent >= r.auth_budget as usize {
        return ClientOutcome::new(
            emulator::Verdict::Error,
            emulator::Stage::Auth,
            format!(
                "deferred: {spent} failed logins for {}@{}:{} in the last {} s spend its budget of {} (faillock); rerun later or raise auth_budget",
                cell.user, r.host, r.port, r.budget_window_secs, r.auth_budget
            ),
        );
    }
    let target = &shared.plan.targets[cell.target];
    let password = match target.scenario.method {
        Method::Publickey => None,
        Method::Password => match r.password.as_ref().and_then(crate::grants::Secret::read) {
            Some(p) => Some(p),
            None => {
                return ClientOutcome::new(
                    emulator::Verdict::Error,
                    emulator::Stage::Auth,
                    format!(
                        "no password: pass --password {}=env:VARIABLE (or file:PATH), and set it",
                        target.id
                    ),
                )
            }
        },
    };
    let stream = match connect_remote(r, shared.timeout).await {
        Ok(s) => s,
        Err(e) => return ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, e),
    };
    let attempt = Attempt {
        profile: &cell.client,
        server: &shared.hellos[cell.target],
        key,
        user: &cell.user,
        timeout: shared.timeout,
        known_host_key: None,
        host_key_pin: Some(r.host_key.clone()),
        other_keys_first: Vec::new(),
        password,
        agent: None,
    };
    let o = emulator::attempt(attempt, stream).await;
    // Only a credential the server saw and refused counts against the account (a method it did
    // not offer, or a key the client did not send, is no failed login).
    if o.verdict == emulator::Verdict::Fail
        && o.stage == emulator::Stage::Auth
        && o.signature.is_some()
    {
        shared
            .budget
            .lock()
            .expect("lock")
            .record(&r.host, r.port, &cell.user);
    }
    o
}

/// A TCP connect to a port on 127.0.0.1 where nothing listens: the kernel's real refusal.
async fn refused_connect() -> ClientOutcome {
    // A socket bound but never listening holds the port for the whole attempt: nothing else
    // can take it between choosing the port and connecting, so the kernel answers RST.
    let held = tokio::net::TcpSocket::new_v4().and_then(|s| {
        s.bind("127.0.0.1:0".parse().expect("literal address"))
            .map(|()| s)
    });
    let reason = match held.and_then(|s| s.local_addr().map(|a| (s, a.port()))) {
        Err(e) => format!("cannot reserve a closed port on 127.0.0.1: {e}"),
        Ok((_held, port)) => match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => "a listener appeared on the closed port".to_string(),
            Err(e) => format!("connect to 127.0.0.1:{port}: {e}"),
        },
    };
    ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, reason)
}

/// A cell that could not be set up (no port, no sshd): no verdict, at the connect stage.
fn no_verdict(reason: String) -> ClientOutcome {
    ClientOutcome::new(emulator::Verdict::Error, emulator::Stage::Connect, reason)
}

/// Why a cell abandoned by a second signal has no verdict.
const ABANDONED: &str =
    "abandoned in flight by a second stop signal; not measured (--resume runs it)";
/// Why a cell in flight at a stop signal that did not log in has no verdict.
const CUT_SHORT: &str = "in flight when a signal stopped the run and not logged in: not recorded as a verdict (--resume runs it)";

/// A cell cut short by a stop: not measured, so no verdict (and never in the stream).
fn interrupted(shared: &Shared, i: usize, why: &str) -> CellResult {
    let mut r = blank_result(&shared.plan, &shared.plan.cells[i]);
    r.verdict = Verdict::Interrupted;
    r.stage = sshmatrix_reports::Stage::Interrupted;
    r.reason = why.into();
    r
}

/// A cell's result before anything is known: identity, key file format and labels.
pub fn blank_result(plan: &Plan, cell: &Cell) -> CellResult {
    let target = &plan.targets[cell.target];
    CellResult {
        index: cell.index,
        client: cell.client.id.clone(),
        key_tool: cell.key_tool.id.clone(),
        key_type: cell.key.family().to_string(),
        key_bits: cell.key.bits(),
        passphrase: cell.passphrase,
        holder: cell.holder,
        key_format: cell
            .key_tool
            .format_for(&cell.key)
            .describe(cell.passphrase),
        key_fingerprint: String::new(),
        target: target.id.clone(),
        policy: target.policy.id.clone(),
        user: cell.user.clone(),
        verdict: Verdict::Error,
        code: Default::default(),
        stage: sshmatrix_reports::Stage::Connect,
        reason: String::new(),
        client_reason: String::new(),
        server_reason: None,
        server_evidence: Vec::new(),
        kex: None,
        hostkey: None,
        cipher: None,
        mac: None,
        signature: None,
        duration_ms: 0,
        notes: Vec::new(),
        predicted_verdict: None,
        predicted_code: None,
        advice: Vec::new(),
        digest: cell.digest.to_string(),
        row: cell.row.clone(),
        column: cell.column.clone(),
    }
}

/// The jump host of a real-client cell: its sshd -i on a one-shot port, its log, the login.
async fn real_jump(
    shared: &Shared,
    cell: &Cell,
    vi: TargetId,
) -> Result<crate::drivers::Jump, ClientOutcome> {
    let jlog = shared.logs.join(format!("cell-{}-jump.log", cell.index));
    let server = shared.targets[vi]
        .serve(&jlog, shared.timeout)
        .await
        .map_err(|e| {
            ClientOutcome::new(
                emulator::Verdict::Error,
                emulator::Stage::Connect,
                format!("cannot open a port for the jump host: {e}"),
            )
        })?;
    Ok(crate::drivers::Jump {
        server,
        login: jump_login(shared, vi).to_string(),
        log: jlog,
        forward: cell.holder == crate::matrix::Holder::AgentForwarded,
        host_key_pubs: shared.host_key_pubs[vi].clone(),
    })
}

/// A cell of a real client (a driver): its server end (and jump host) on this host or a
/// one-shot port, then the driver; the verdict comes from the server's log.
async fn run_real(
    shared: &Shared,
    cell: &Cell,
    driver: sshmatrix_clients::Driver,
) -> (ClientOutcome, Option<String>) {
    match real_cell(shared, cell, driver, Served::Helped).await {
        Ok(real) => {
            let (o, log) = crate::drivers::run(real, &shared.factory).await;
            (o, Some(log))
        }
        Err(o) => (o, None),
    }
}

/// How a real client's cell starts its processes in containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// Through each container's helper (sshmatrix's runs).
    Helped,
    /// A `docker exec` per process, as a plain script would (`bench --real`'s loop).
    Plain,
}

/// A real client's cell, run a second time when its refusal may be the client's unpadded RSA
/// signature meeting a server that verifies only exact-length ones (1 signature in 256): a
/// login on the second run is the verdict, with a note of the refusal; otherwise the first
/// refusal stands. The same key refused twice is a refusal.
async fn run_real_once_more(
    shared: &Shared,
    cell: &Cell,
    driver: sshmatrix_clients::Driver,
) -> (ClientOutcome, Option<String>) {
    let first = run_real(shared, cell, driver).await;
    let target = &shared.plan.targets[cell.target];
    let strict = target
        .policy
        .facts
        .as_ref()
        .is_some_and(|f| f.rsa_signature_exact_length);
    let maybe_short = driver.unpadded_rsa_signatures()
        && strict
        && shared.keys[&key_id(cell)].spec.family() == "rsa"
        && first.0.verdict == emulator::Verdict::Fail
        && first.0.stage == emulator::Stage::Auth;
    if !maybe_short {
        return first;
    }
    let mut second = run_real(shared, cell, driver).await;
    if second.0.verdict != emulator::Verdict::Ok {
        return first;
    }
    second.0.notes.push(format!(
        "the first attempt was refused ({}) and this one logged in: {} leaves the leading zero bytes out of an RSA signature (about 1 in 256 is a byte short) and {} verifies only signatures as long as the key's modulus, so about 1 login in 256 fails",
        first.0.reason,
        cell.client.display_name(),
        target.policy.server.name(),
    ));
    second
}

/// What a real client's cell needs: its server end (and jump host), key, login and helpers.
async fn real_cell<'a>(
    shared: &'a Shared,
    cell: &'a Cell,
    driver: sshmatrix_clients::Driver,
    served: Served,
) -> Result<crate::drivers::RealCell<'a>, ClientOutcome> {
    let target = &shared.plan.targets[cell.target];
    let file = &shared.keys[&key_id(cell)];
    // `check` refuses these; plans derived by `explain --fix` are not checked again.
    let unplain = target.remote().is_some() || target.scenario != crate::matrix::Scenario::default();
    if !driver.runs(cell.holder, target.via.is_some()) || unplain {
        return Err(ClientOutcome::new(
            emulator::Verdict::Error,
            emulator::Stage::Connect,
            format!(
                "the {} driver cannot run this cell (see `sshmatrix check`)",
                driver.name()
            ),
        ));
    }
    let log = shared.logs.join(format!("cell-{}.log", cell.index));
    let container = cell
        .client
        .image
        .as_ref()
        .and_then(|i| shared.client_containers.get(i));
    let inside = container.map(|c| c.prefix.as_slice());
    let jump = match target.via {
        None => None,
        Some(vi) => Some(real_jump(shared, cell, vi).await?),
    };
    let plain;
    let server_target = match served {
        Served::Helped => &shared.targets[cell.target],
        Served::Plain => {
            plain = shared.targets[cell.target].without_helper();
            &plain
        }
    };
    let server = crate::drivers::ServerEnd::for_client(
        server_target,
        &log,
        // A container target's server is reached through a one-shot port that lets the run
        // wait for it (the helper's connection, or a plain `docker exec`), so its log is
        // complete when it is read. Libraries connect a socket themselves.
        inside.is_some() || jump.is_some() || target.image().is_some() || driver.needs_port(),
        shared.timeout,
    )
    .await
    .map_err(|e| no_verdict(format!("cannot open a port for the client container: {e}")))?;
    Ok(crate::drivers::RealCell {
        profile: &cell.client,
        server,
        host_key_pubs: shared.host_key_pubs[cell.target].clone(),
        key: file,
        login: shared.login_for(cell),
        log,
        askpass: &shared.askpass,
        inside,
        helper: container
            .filter(|_| served == Served::Helped)
            .map(|c| c.helper.as_ref()),
        agent: cell
            .holder
            .uses_agent()
            .then(|| shared.agents.get(&key_id(cell)).map(PathBuf::as_path))
            .flatten(),
        jump,
        password: (cell.holder == crate::matrix::Holder::Password)
            .then_some(shared.wrong_password.as_path()),
        timeout: shared.timeout,
        program: shared.programs.get(&cell.client.id).map(Vec::as_slice),
    })
}

/// A cell of an emulated client: the key as the client reads it, then the server end its
/// target has (remote host, refused port, jump host, hostile stub or a local/container sshd).
async fn run_emulated(shared: &Shared, cell: &Cell) -> (ClientOutcome, Option<String>) {
    let target = &shared.plan.targets[cell.target];
    let file = &shared.keys[&key_id(cell)];
    let key = match shared.load(cell, file).await {
        Ok(k) => k,
        Err(e) => {
            let o = ClientOutcome::new(
                emulator::Verdict::Fail,
                emulator::Stage::KeyLoad,
                format!("{} {e}", cell.client.display_name()),
            );
            return (o, None);
        }
    };
    match &target.backend {
        Backend::Remote(r) => return (run_remote(shared, cell, r, key).await, None),
        Backend::Unreachable => return (refused_connect().await, None),
        Backend::Local | Backend::Container(_) | Backend::Hostile(_) => {}
    }
    // The cell's client side, whatever the server end is.
    let attempt = Attempt {
        profile: &cell.client,
        server: &shared.hellos[cell.target],
        key,
        user: shared.login_for(cell),
        timeout: shared.timeout,
        known_host_key: shared.extras[cell.target].known_host_key.clone(),
        host_key_pin: None,
        other_keys_first: shared.extras[cell.target].decoys.clone(),
        password: (target.scenario.method == Method::Password
            || cell.holder == crate::matrix::Holder::Password)
            .then(|| WRONG_PASSWORD.to_string()),
        agent: cell
            .holder
            .uses_agent()
            .then(|| shared.agents.get(&key_id(cell)).cloned())
            .flatten(),
    };
    if let Some(vi) = target.via {
        return run_via(shared, cell, attempt, vi).await;
    }
    if let Backend::Hostile(kind) = target.backend {
        let (client_end, server_end) = tokio::io::duplex(64 * 1024);
        let eff = shared.effective[cell.target].clone();
        let stub = tokio::spawn(crate::hostile::serve(kind, server_end, eff));
        let outcome = emulator::attempt(attempt, client_end).await;
        stub.abort();
        return (outcome, None);
    }
    let (stream, session) = match shared.targets[cell.target].connect(shared.timeout).await {
        Ok(x) => x,
        Err(e) => {
            return (no_verdict(format!("cannot start sshd: {e}")), None);
        }
    };
    let mut outcome = emulator::attempt(attempt, stream).await;
    let done = session.finish_checked(Duration::from_secs(3)).await;
    outcome.stopped_from_outside |= done.stopped_from_outside;
    (outcome, Some(done.log))
}

/// The one signature a client makes with an RSA key whatever a server lists (its profile's
/// `ssh-rsa-only` rule, measured for every real client by `verify-profiles` and `record`),
/// for a real client that does not say how it signed.
fn fixed_rsa_signature(client: &Profile, result: &CellResult) -> Option<&'static str> {
    use sshmatrix_clients::profile::RsaSignatureMode;
    (result.key_type == "rsa" && client.auth.rsa.mode == RsaSignatureMode::SshRsaOnly)
        .then_some("ssh-rsa")
}

/// Dropbear and TinySSH refuse a signature algorithm they do not verify without logging why
/// (Dropbear: only how the connection ended; TinySSH: nothing). When the client's own record
/// shows it signed with one the policy data lists as unverified — or, for a real client that
/// does not say how it signed, when the server verifies no algorithm of the key's family at
/// all — the refusal is `auth-signature-rejected`, saying so. The data is held equal to the
/// real servers by a test.
fn unlisted_signature(t: &crate::matrix::Target, result: &mut CellResult, fixed: Option<&str>) {
    let Some(d) = &t.policy.facts else { return };
    let accepted = &d.pubkey_algorithms;
    let unverified = match result.signature.as_deref().or(fixed) {
        Some(sig) => (!accepted.iter().any(|a| a == sig)).then(|| format!("{sig} signatures")),
        None => {
            let family = crate::predict::family_algorithms(&result.key_type, result.key_bits);
            (!family.iter().any(|a| accepted.iter().any(|x| x == a)))
                .then(|| format!("{} keys", result.key_type.to_uppercase()))
        }
    };
    let Some(what) =
        unverified.filter(|_| result.code == sshmatrix_reports::Code::AuthKeyNotAuthorized)
    else {
        return;
    };
    let server = match &result.server_reason {
        Some(r) => format!("server: {r}"),
        None => "its log says nothing of it".into(),
    };
    result.code = sshmatrix_reports::Code::AuthSignatureRejected.into();
    result.reason = format!(
        "{} {} does not verify {what} (it verifies {}); {server}",
        t.policy.server.name(),
        d.version,
        accepted.join(","),
    );
}

/// Fills a result from the client's outcome and the server log: verdict, stage, code (both
/// sides' evidence), reasons, negotiated algorithms and notes.
fn fill_result(result: &mut CellResult, outcome: ClientOutcome, log: Option<String>) {
    let view = log.as_deref().map(analyse).unwrap_or_default();
    result.verdict = outcome.verdict;
    result.stage = outcome.stage;
    result.code = crate::diagnose::code(&outcome, &view).into();
    result.client_reason = outcome.reason.clone();
    result.server_reason = view.reason.clone();
    result.server_evidence = view.evidence;
    result.reason = match (&result.verdict, &view.reason) {
        (Verdict::Ok, _) | (_, None) => outcome.reason.clone(),
        // The engine stopped itself: the server only saw the client leave.
        (_, Some(_)) if outcome.stage == emulator::Stage::Emulation => outcome.reason.clone(),
        (_, Some(s)) if outcome.stage == emulator::Stage::Jump => {
            format!("jump host's server: {s}")
        }
        (_, Some(s)) => format!("server: {s}"),
    };
    if let Some(n) = &outcome.negotiated {
        result.kex = Some(n.kex.clone());
        result.hostkey = Some(n.hostkey.clone());
        result.cipher = Some(n.cipher.clone());
        result.mac = Some(n.mac.clone().unwrap_or_else(|| "implicit".into()));
    }
    result.signature = outcome.signature.clone();
    result.notes = outcome.notes.clone();
    if outcome.verdict == emulator::Verdict::Ok && !view.accepted && log.is_some() {
        result
            .notes
            .push("client saw success but the server log has no Accepted line".into());
    }
    if let Some(text) = log.as_deref() {
        result
            .notes
            .extend(sshmatrix_servers::log::turned_away(text));
        // Another local user reached the cell's own server: the log is no longer the cell's.
        let foreign = sshmatrix_servers::log::foreign_connections(text);
        if foreign > 0 {
            result.verdict = Verdict::Error;
            result.code = sshmatrix_reports::Code::ForeignConnection.into();
            result.reason = format!(
                "no verdict: the cell's server logged {foreign} connection(s) besides the cell's own (another local user connected to its port)"
            );
        }
    }
    // A server that could not use its own configuration says nothing about the client.
    if let Some(line) = log
        .as_deref()
        .and_then(sshmatrix_servers::log::config_failure)
    {
        if result.verdict != Verdict::Ok {
            result.verdict = Verdict::Error;
            result.code = sshmatrix_reports::Code::ServerConfigError.into();
            result.reason = format!("the server could not use its own configuration: {line}");
        }
    }
}

/// A cell without a verdict in time: what its server had logged by then is kept as evidence
/// (a real client's cell writes its server log to a file as it goes).
fn timed_out(shared: &Shared, cell: &Cell, result: &mut CellResult) {
    result.stage = sshmatrix_reports::Stage::Timeout;
    result.code = sshmatrix_reports::Code::Timeout.into();
    result.reason = format!("no verdict within {} s", shared.timeout.as_secs());
    result.client_reason = result.reason.clone();
    let log = shared.logs.join(format!("cell-{}.log", cell.index));
    let Ok(text) = std::fs::read_to_string(&log) else {
        return;
    };
    let _ = std::fs::remove_file(&log);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    result.server_evidence = analyse(&text).evidence;
    let last = lines.last().copied().unwrap_or("nothing");
    result.notes.push(format!(
        "the server had logged {} line(s) when the cell ran out of time; the last: {last}",
        lines.len()
    ));
}

/// Loads the emulated cells' key files ahead of the cells, in plan order, each file once and
/// `decryptions()` at a time: decrypting (bcrypt-pbkdf, Argon2id: about 0.2 s of CPU each) is
/// most of an emulated cell's own work, and a core idled while the first cells waited for the
/// first key. A cell whose key is still being loaded waits for that load; errors are the
/// cells' to report.
async fn prefetch_keys(shared: Arc<Shared>) {
    let mut seen = std::collections::HashSet::new();
    let mut loads = tokio::task::JoinSet::new();
    for (i, cell) in shared.plan.cells.iter().enumerate() {
        let file = &shared.keys[&key_id(cell)];
        if cell.client.driver.is_some() || !file.encrypted || !seen.insert(&file.path) {
            continue;
        }
        let shared = shared.clone();
        loads.spawn(async move {
            let cell = &shared.plan.cells[i];
            let _ = shared.load(cell, &shared.keys[&key_id(cell)]).await;
        });
    }
    while loads.join_next().await.is_some() {}
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs cell `i` within its timeout and attaches its static prediction. The cell's work is a
/// task of its own, so the timeout fires (and the task is aborted) even if that work holds
/// its thread instead of yielding.
async fn run_cell(shared: Arc<Shared>, i: usize) -> CellResult {
    let cell = &shared.plan.cells[i];
    let started = Instant::now();
    let mut result = blank_result(&shared.plan, cell);
    result.key_fingerprint = shared.keys[&key_id(cell)].fingerprint.clone();
    let inner = shared.clone();
    let mut work = tokio::spawn(async move {
        let cell = &inner.plan.cells[i];
        match cell.client.driver {
            Some(driver) => run_real_once_more(&inner, cell, driver).await,
            None => run_emulated(&inner, cell).await,
        }
    });
    // Aborted however this future ends: timeout, or dropped when a stop abandons the cell.
    let _abort = AbortOnDrop(work.abort_handle());
    let joined = tokio::time::timeout(shared.timeout, &mut work).await;
    match joined.map(|j| j.map_err(|e| e.to_string())) {
        Ok(Err(panic)) => fill_result(
            &mut result,
            no_verdict(format!("the cell's task failed: {panic}")),
            None,
        ),
        Ok(Ok(done)) => {
            if done.0.stopped_from_outside {
                // The signal reached sshmatrix too, but its handler may not have run yet: the
                // cell is reported as cut short (see `execute`), not with the signal's doing.
                shared.stop.request_by_signal();
            }
            fill_result(&mut result, done.0, done.1);
            let fixed = fixed_rsa_signature(&cell.client, &result);
            unlisted_signature(&shared.plan.targets[cell.target], &mut result, fixed);
        }
        Err(_) => timed_out(&shared, cell, &mut result),
    }
    let predicted = crate::predict::predict_in_plan(&shared.plan, cell, &shared.effective);
    result.predicted_verdict = Some(predicted.verdict);
    result.predicted_code = Some(predicted.code.into());
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Predicts every cell of a plan without connecting: targets are rendered and read back with
/// `sshd -T`, no key is made.
pub fn predict_plan(plan: &Plan, work_dir: &std::path::Path) -> Result<Report, RunError> {
    let sshd = find_sshd()?;
    crate::workdir::prepare(work_dir)?;
    let host_keys = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let run_dir = new_run_dir(work_dir, "predict-")?;
    let mut effective = Vec::new();
    for t in &plan.targets {
        let spec = target_spec(t, "VERBOSE", &sshd, plan.trusted_sshd_lines);
        effective.push(effective_of(t, || {
            let target = SshdTarget::create(run_dir.path(), &spec, &host_keys, &sshd, &[])?;
            let mut e = target.effective(&t.host_keys)?;
            // Read back by this host's sshd; what depends on the release is the target's own.
            if let Some(d) = &spec.dialect {
                e.release = Some(d.release);
            }
            Ok(e)
        })?);
    }
    let cells = plan
        .cells
        .iter()
        .map(|cell| {
            let p = crate::predict::predict_in_plan(plan, cell, &effective);
            let mut r = blank_result(plan, cell);
            r.verdict = p.verdict;
            r.code = p.code.into();
            r.stage = p.stage;
            r.reason = format!("predicted: {}", p.reason);
            r.signature = p.signature.clone();
            r.predicted_verdict = Some(p.verdict);
            r.predicted_code = Some(p.code.into());
            r
        })
        .collect();
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        matrix: plan.file.clone(),
        title: format!("{} (predicted)", plan.title),
        matrix_digest: crate::matrix::digest::plan_digest(plan),
        plan_cells: plan.cells.len(),
        shard: None,
        row_axes: plan.row_axes.clone(),
        column_axes: plan.column_axes.clone(),
        notes: vec![
            "static prediction from profile and policy data (sshd -T); no connection was made"
                .into(),
        ],
        cells,
    })
}
