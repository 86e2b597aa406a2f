//! The plan's keys: made once each (cached across runs), and loaded as each cell's client holds
//! them — decrypted once per file and passphrase given, a few at a time, ahead of the cells.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::keys::ssh_key::PrivateKey;
use sshmatrix_clients::load::{check_reads, load_key, LoadError};
use sshmatrix_clients::{KeyFactory, KeyFile};
use tokio::sync::Semaphore;

use super::{Shared, Stop};
use crate::error::RunError;
use crate::matrix::{Cell, GivenPassphrase, Plan};

pub use sshmatrix_core::vocab::KeyId;

/// A plan's keys, made once each.
pub type Keys = HashMap<KeyId, KeyFile>;

/// A loaded key, or why it could not be loaded.
type Loaded = Result<Arc<PrivateKey>, LoadError>;

/// One key load shared by every cell that waits for it.
type SharedLoad = Arc<tokio::sync::OnceCell<Loaded>>;

/// Key loads, once per (file, wrong passphrase given): later cells wait for the first; at most
/// [`decryptions`] decrypt at a time.
pub(super) struct KeyLoads {
    memo: Mutex<HashMap<(PathBuf, bool), SharedLoad>>,
    decrypting: Semaphore,
}

impl KeyLoads {
    /// No key loaded yet.
    pub(super) fn new() -> Self {
        KeyLoads {
            memo: Mutex::new(HashMap::new()),
            decrypting: Semaphore::new(decryptions()),
        }
    }
}

/// Most concurrent key decryptions: one per core up to this. PPK v3 (Argon2id) takes 8 MiB each,
/// so the cap bounds the peak memory; bcrypt-pbkdf and Argon2 are pure CPU (about 0.2 s each:
/// a quarter of the Nutanix matrix's CPU time for its 9 passphrase-protected files), and one
/// at a time left a core idle while the first cells waited for their keys.
pub(super) const MAX_DECRYPTIONS: usize = 4;

/// Concurrent key decryptions on this machine.
pub(super) fn decryptions() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_DECRYPTIONS)
}

/// Makes (or reuses) every key file the plan needs.
pub async fn make_keys(
    plan: &Plan,
    factory: &KeyFactory,
    jobs: usize,
    stop: &Arc<Stop>,
) -> Result<Keys, RunError> {
    let mut ids: Vec<KeyId> = Vec::new();
    let mut wanted = Vec::new();
    for c in &plan.cells {
        let id = key_id(c);
        if !ids.contains(&id) {
            wanted.push((c.key, (*c.key_tool).clone(), c.passphrase, id.certified));
            ids.push(id);
        }
    }
    let sem = Arc::new(Semaphore::new(jobs.max(1)));
    let mut tasks = Vec::new();
    for (spec, tool, pass, certified) in wanted {
        let factory = factory.clone();
        let sem = sem.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore");
            stop.check("making keys")?;
            tokio::task::spawn_blocking(move || match certified {
                true => factory.get_certified(spec, &tool, pass),
                false => factory.get(spec, &tool, pass),
            })
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
                    certified: kf.certified,
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

pub(super) fn key_id(c: &Cell) -> KeyId {
    KeyId {
        key: c.key.to_string(),
        tool: c.key_tool.id.clone(),
        passphrase: c.passphrase,
        certified: c.certificate.is_some(),
    }
}

/// Loads the emulated cells' key files ahead of the cells, in plan order, each file once and
/// `decryptions()` at a time: decrypting (bcrypt-pbkdf, Argon2id: about 0.2 s of CPU each) is
/// most of an emulated cell's own work, and a core idled while the first cells waited for the
/// first key. A cell whose key is still being loaded waits for that load; errors are the
/// cells' to report.
pub(super) async fn prefetch_keys(shared: Arc<Shared>) {
    let mut seen = std::collections::HashSet::new();
    let mut loads = tokio::task::JoinSet::new();
    for (i, cell) in shared.plan.cells.iter().enumerate() {
        let file = &shared.keys[&key_id(cell)];
        let keyless = !cell.holder.uses_key();
        if cell.client.driver.is_some() || keyless || !file.encrypted || !seen.insert(&file.path) {
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

impl Shared {
    /// The cell's private key as its client holds it: read by the client (its formats, its
    /// passphrase support), or — agent cells — as the agent got it from `ssh-add` (any format,
    /// the right passphrase). Decrypted once per file and passphrase given.
    pub(super) async fn load(&self, cell: &Cell, file: &KeyFile) -> Loaded {
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
            .memo
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
                let _permit = self.loads.decrypting.acquire().await.expect("semaphore");
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
