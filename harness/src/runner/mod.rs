//! The runner, laid along a cell's way: the machine and the plan's keys made ready ([`keys`]),
//! every target prepared ([`targets`], [`remote`]), the shared client side set up
//! ([`client_side`]), then the cells run `jobs` at a time — emulated ([`emulated`]), real
//! ([`real`]), through jump hosts ([`jump`]) — each turned into a result ([`result`]) and
//! streamed the moment it finishes; finally the report.

pub mod agent;
pub mod budget;
mod certs;
mod client_side;
pub mod drivers;
mod emulated;
mod files;
pub mod hostile;
mod jump;
mod keys;
mod options;
mod predicting;
mod real;
mod refusals;
mod remote;
mod result;
mod stop;
mod targets;
mod turns;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sshmatrix_clients::{KeyFactory, KeyFile};
use sshmatrix_reports::{CellResult, Report, Verdict};
use sshmatrix_servers::sshd::current_user;
use sshmatrix_servers::{find_sshd, Effective, HostKeyStore, SshdTarget};

use crate::matrix::{Cell, Plan, TargetId};
use client_side::{install_libraries, ClientSide};
use emulated::{no_verdict, run_emulated};
use keys::{key_id, prefetch_keys, KeyLoads};
use real::{real_cell, run_real_once_more, Served};
use result::{interrupted, judge, timed_out, ABANDONED, CUT_SHORT};
use targets::{prepare_images, prepare_targets, PreparedTarget, TargetEnv, Targets};

pub use crate::error::RunError;
pub use crate::workdir::{check_work_dir, default_work_dir, default_work_dir_checked};
pub use files::{dir_name, key_factory, new_run_dir, take_lease};
pub use keys::{make_keys, KeyId, Keys};
pub use options::{default_jobs, Options, Progress, DEFAULT_TIMEOUT_SECS};
pub use predicting::predict_plan;
pub use result::blank_result;
pub use stop::Stop;
pub use targets::{authorized_lines, library_server, runs_with, target_spec};

/// What every cell of a run shares, read-only once the run starts (but the budget, the key
/// loads and the counters).
struct Shared {
    plan: Plan,
    /// Every target prepared, by [`TargetId`].
    targets: Vec<PreparedTarget>,
    keys: Keys,
    /// The certificates certificate cells present.
    certs: certs::Certificates,
    /// The file holding the container accounts' password (`file+password` cells).
    account_password: Option<PathBuf>,
    /// Key files as clients hold them, decrypted once each.
    loads: KeyLoads,
    budget: budget::Budget,
    /// Woken whenever a remote attempt settles its reservation.
    budget_settled: tokio::sync::Notify,
    /// The OS user running sshmatrix (the account of local targets).
    login: String,
    /// What real clients and agent cells need.
    client: ClientSide,
    timeout: Duration,
    /// The stream and progress reporters (see [`crate::events`]).
    reporters: Vec<Box<dyn crate::events::Reporter>>,
    /// The first reporter error (the run stops scheduling on it).
    stream_error: Mutex<Option<String>>,
    stop: Arc<Stop>,
    done: Mutex<usize>,
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
    let login = current_user();
    let mut certs = certs::make(&plan, &keys, run_dir.path(), &login)?;
    certs::make_hosts(&plan, &host_keys, run_dir.path(), &mut certs)?;
    let account_password = client_side::account_password(&plan, run_dir.path())?;
    let logs = files::private_subdir(run_dir.path(), "logs")?;
    let env = TargetEnv {
        plan: &plan,
        keys: &keys,
        opts,
        run_dir: run_dir.path(),
        run_name: &run_name,
        host_keys: &host_keys,
        sshd: &sshd,
        log_level: plan
            .run
            .server_log_level
            .as_deref()
            .unwrap_or("VERBOSE")
            .into(),
        programs: &programs,
        logs: &logs,
        certs: &certs,
        account_password: account_password.as_ref().map(|(_, s)| s.as_str()),
    };
    let Targets {
        mut notes,
        targets,
        mut containers,
        target_containers,
    } = prepare_targets(&env).await?;
    notes.splice(0..0, targets::local_notes(&plan, &sshd, &login));
    notes.extend(targets::basis_notes(&plan));
    let client = ClientSide::prepare(&plan, &keys, factory, programs, logs, run_dir.path(), opts);
    let (client, agent_procs, more) = client.await?;
    notes.extend(client_side::hop_notes(&plan, client.agents.len()));
    notes.extend(client.notes.iter().cloned());
    containers.extend(more);
    opts.stop.check("preparing the run")?;
    let shared = Arc::new(Shared {
        plan,
        targets,
        keys,
        certs,
        account_password: account_password.map(|(path, _)| path),
        loads: KeyLoads::new(),
        budget: budget::Budget::new(opts.work_dir.join("auth-budget.json")),
        budget_settled: tokio::sync::Notify::new(),
        login,
        client,
        timeout: opts.timeout,
        reporters: client_side::reporters(opts)?,
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
            agent::stop(a).await;
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
        &self.shared.targets[i].server
    }

    /// The login name, the log directory and the askpass script, for real-client loops.
    pub fn real_client_env(&self) -> (&str, &std::path::Path, &std::path::Path) {
        (
            &self.shared.login,
            &self.shared.client.logs,
            &self.shared.client.askpass,
        )
    }

    /// The key file of a cell.
    pub fn key_file(&self, cell: &Cell) -> &KeyFile {
        &self.shared.keys[&key_id(cell)]
    }

    /// The effective settings of plan target `i` (from `sshd -T`).
    pub fn effective(&self, i: TargetId) -> &Effective {
        &self.shared.targets[i].effective
    }

    /// Runs a real client's cell as a plain loop would: the same server end and client command
    /// line, no classification (`bench --real`); the client's exit status.
    pub async fn run_plain(&self, cell: &Cell) -> Option<i32> {
        let driver = cell.client.driver?;
        let real = real_cell(&self.shared, cell, driver, Served::Plain)
            .await
            .ok()?;
        drivers::run_plain(real, &self.shared.client.factory).await
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
        result::report(plan, plan.title.clone(), notes, cells)
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
        if t.image().is_some() || t.policy.server.on_this_host() {
            &cell.user
        } else {
            &self.login
        }
    }
}

/// Whether a cell's key exchange was strict (the Terrapin countermeasure): both the client's
/// profile and the target's KEXINIT as read offer it. Known only for a cell that got past the
/// key exchange (and not through a jump host, whose own exchange comes first).
fn strict_kex(shared: &Shared, cell: &Cell, result: &CellResult) -> Option<bool> {
    if result.kex.is_none() && result.verdict != sshmatrix_reports::Verdict::Ok {
        return None;
    }
    let client = cell
        .client
        .kexinit
        .kex
        .iter()
        .any(|k| k == "kex-strict-c-v00@openssh.com");
    let server = &shared.targets[cell.target].hello.kex;
    Some(client && server.iter().any(|k| k == "kex-strict-s-v00@openssh.com"))
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
    let target = &shared.plan.targets[cell.target];
    // A listening target's cells take turns on its one sshd, in plan order.
    let _turn = match &shared.targets[cell.target].turns {
        Some(turns) => turns.wait(i).await,
        None => None,
    };
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
        Ok(Err(panic)) => judge(
            &mut result,
            target,
            &cell.client,
            no_verdict(format!("the cell's task failed: {panic}")),
            None,
        ),
        Ok(Ok(done)) => {
            if done.0.stopped_from_outside {
                // The signal reached sshmatrix too, but its handler may not have run yet: the
                // cell is reported as cut short (see `execute`), not with the signal's doing.
                shared.stop.request_by_signal();
            }
            judge(&mut result, target, &cell.client, done.0, done.1);
        }
        Err(_) => timed_out(&shared, cell, &mut result),
    }
    result.strict_kex = strict_kex(&shared, cell, &result);
    let predicted = crate::predict::predict_in_plan(&shared.plan, cell, shared.targets.as_slice());
    result.predicted_verdict = Some(predicted.verdict);
    result.predicted_code = Some(predicted.code.into());
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}
