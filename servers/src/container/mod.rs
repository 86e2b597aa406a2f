//! Container targets and client images. Images are built offline by sshmatrix itself
//! (`debootstrap` + `docker import`, cached by tag) or, where a registry is reachable, from the
//! Dockerfiles shipped in `servers/images/`. Containers are started through testcontainers with
//! host networking; each one carries the labels [`LABEL_OWNER`] (the pid of the sshmatrix
//! process), [`LABEL_IDENTITY`] (its proof-of-life identity) and [`LABEL_RUN`], is removed when
//! the run ends, and containers of a run that was killed are swept by the next one
//! ([`sweep_stale`]) once its owner is provably dead.
//!
//! A target container runs the release's own sshd in inetd mode through `docker exec -i`, one
//! process per connection, exactly like the local backend ([`crate::sshd`]); the matrix users are
//! real accounts in it, each with their own `~/.ssh/authorized_keys`.

mod images;
mod target;

pub use images::REPOSITORY;
pub use images::{build_image, ensure_image, image_present, recipe, recipes, ImageRecipe, Recipe};
pub use target::{start_target, Accounts};

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use testcontainers::core::{AccessMode, ExecCommand, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, CopyTargetOptions, GenericImage, ImageExt};

/// Label holding the pid of the sshmatrix process that owns a container (for filtering; its
/// liveness is judged by [`LABEL_IDENTITY`]).
pub const LABEL_OWNER: &str = "sshmatrix.owner-pid";
/// Label holding the owner's full identity ([`crate::owner::Owner::label`]).
pub const LABEL_IDENTITY: &str = "sshmatrix.owner";
/// Label holding the run directory name of the run that started a container.
pub const LABEL_RUN: &str = "sshmatrix.run";

/// Errors of the container backend (environment problems: exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No docker CLI or no daemon.
    #[error("docker is not usable: {0}; install docker.io and start the daemon (`dockerd &`, or `systemctl start docker`), or drop the container targets")]
    NoDocker(String),
    /// An image name no recipe knows.
    #[error("unknown image `{name}`; known images: {known}")]
    UnknownImage {
        /// The name given.
        name: String,
        /// Known names.
        known: String,
    },
    /// Building an image failed.
    #[error("building image {tag} failed: {message}")]
    Build {
        /// Image tag.
        tag: String,
        /// What went wrong.
        message: String,
    },
    /// Starting or preparing a container failed.
    #[error("container for target `{target}`: {message}")]
    Start {
        /// Target id (or client image).
        target: String,
        /// What went wrong.
        message: String,
    },
}

/// The docker CLI: `$SSHMATRIX_DOCKER`, else `docker` from PATH.
pub fn docker_cli() -> String {
    std::env::var("SSHMATRIX_DOCKER").unwrap_or_else(|_| "docker".into())
}

fn docker(args: &[&str]) -> Result<std::process::Output, ContainerError> {
    Command::new(docker_cli())
        .process_group(0)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ContainerError::NoDocker(format!("cannot run `docker`: {e}")))
}

/// Checks that the docker CLI runs and reaches a daemon.
pub fn check_docker() -> Result<(), ContainerError> {
    let out = docker(&["version", "--format", "{{.Server.Version}}"])?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ContainerError::NoDocker(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Removes containers whose owning sshmatrix process is provably gone (a killed run; see
/// [`crate::owner`]): never those of a live run, whatever pid namespace it runs in. Returns how
/// many were removed.
pub fn sweep_stale() -> usize {
    let Ok(out) = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={LABEL_IDENTITY}"),
        "--format",
        &format!("{{{{.ID}}}} {{{{.Label \"{LABEL_IDENTITY}\"}}}}"),
    ]) else {
        return 0;
    };
    let stale: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, label) = l.split_once(' ')?;
            let dead =
                crate::owner::Owner::parse(label)?.liveness() == crate::owner::Liveness::Dead;
            dead.then(|| id.to_string())
        })
        .collect();
    if stale.is_empty() {
        return 0;
    }
    let mut args = vec!["rm", "-f"];
    args.extend(stale.iter().map(String::as_str));
    let _ = docker(&args);
    stale.len()
}

/// Ids of the running containers started by the run `run` (for tests and diagnostics).
pub fn containers_of_run(run: &str) -> Vec<String> {
    docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label={LABEL_RUN}={run}"),
    ])
    .map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// A running container (host networking), removed by [`Container::remove`] or on drop.
pub struct Container {
    inner: ContainerAsync<GenericImage>,
    /// Its docker id.
    pub id: String,
}

/// A file copied into a container before it starts.
pub struct FileIn {
    /// Path inside the container.
    pub path: String,
    /// Contents.
    pub data: Vec<u8>,
    /// Mode bits.
    pub mode: u32,
}

impl Container {
    /// Starts `image` with host networking, idle (`sleep infinity`), with `files` copied in,
    /// `mounts` (host directories) bound read-only at the same paths and `writable` ones
    /// read-write.
    pub async fn start(
        what: &str,
        image: &ImageRecipe,
        run: &str,
        files: Vec<FileIn>,
        mounts: &[PathBuf],
        writable: &[PathBuf],
    ) -> Result<Self, ContainerError> {
        let fail = |message: String| ContainerError::Start {
            target: what.to_string(),
            message,
        };
        let tag = image.tag();
        let (repo, version) = tag.split_once(':').expect("tag has a version");
        let mut req = GenericImage::new(repo, version)
            .with_entrypoint("/bin/sh")
            .with_wait_for(WaitFor::message_on_stdout("SSHMATRIX-READY"))
            .with_cmd(["-c", "echo SSHMATRIX-READY; exec sleep infinity"])
            .with_network("host")
            .with_label(LABEL_OWNER, std::process::id().to_string())
            .with_label(LABEL_IDENTITY, crate::owner::Owner::current().label())
            .with_label(LABEL_RUN, run)
            .with_startup_timeout(Duration::from_secs(60));
        for f in files {
            req = req.with_copy_to(CopyTargetOptions::new(f.path).with_mode(f.mode), f.data);
        }
        for m in mounts {
            let p = m.display().to_string();
            req = req.with_mount(Mount::bind_mount(&p, &p).with_access_mode(AccessMode::ReadOnly));
        }
        for m in writable {
            let p = m.display().to_string();
            req = req.with_mount(Mount::bind_mount(&p, &p).with_access_mode(AccessMode::ReadWrite));
        }
        let inner = req.start().await.map_err(|e| fail(e.to_string()))?;
        let id = inner.id().to_string();
        Ok(Container { inner, id })
    }

    /// Runs `script` with `sh -c` inside; returns its exit code and combined output.
    pub async fn sh(&self, script: &str) -> Result<(i64, String), ContainerError> {
        let fail = |message: String| ContainerError::Start {
            target: self.id.clone(),
            message,
        };
        let mut r = self
            .inner
            .exec(ExecCommand::new(["/bin/sh", "-c", script]))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let out = r.stdout_to_vec().await.map_err(|e| fail(e.to_string()))?;
        let err = r.stderr_to_vec().await.map_err(|e| fail(e.to_string()))?;
        let code = r
            .exit_code()
            .await
            .map_err(|e| fail(e.to_string()))?
            .unwrap_or(-1);
        Ok((
            code,
            format!(
                "{}{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            ),
        ))
    }

    /// The argv prefix that runs a command inside with stdin attached.
    pub fn exec_prefix(&self) -> Vec<String> {
        vec![docker_cli(), "exec".into(), "-i".into(), self.id.clone()]
    }

    /// Starts the container's cell helper (see [`crate::helper`]); `logs`, mounted read-write
    /// at the same path, receives the servers' logs.
    pub async fn helper(
        &self,
        logs: Option<PathBuf>,
    ) -> Result<std::sync::Arc<crate::helper::Helper>, ContainerError> {
        crate::helper::Helper::start(&self.exec_prefix(), logs, Duration::from_secs(30))
            .await
            .map(std::sync::Arc::new)
            .map_err(|e| ContainerError::Start {
                target: self.id.clone(),
                message: e.to_string(),
            })
    }

    /// Removes the container now.
    pub async fn remove(self) {
        let _ = self.inner.rm().await;
    }
}
