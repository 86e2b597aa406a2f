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

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use testcontainers::core::{AccessMode, ExecCommand, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, CopyTargetOptions, GenericImage, ImageExt};

use crate::policy::ServerKind;
use crate::sshd::{render_config, sh_quote, target_dir, ConfigPaths, SshdTarget, TargetSpec};
use crate::HostKeyStore;

/// Label holding the pid of the sshmatrix process that owns a container (for filtering; its
/// liveness is judged by [`LABEL_IDENTITY`]).
pub const LABEL_OWNER: &str = "sshmatrix.owner-pid";
/// Label holding the owner's full identity ([`crate::owner::Owner::label`]).
pub const LABEL_IDENTITY: &str = "sshmatrix.owner";
/// Label holding the run directory name of the run that started a container.
pub const LABEL_RUN: &str = "sshmatrix.run";
/// Repository of the images sshmatrix builds.
pub const REPOSITORY: &str = "sshmatrix/sshd";
/// Bumped when the image recipe changes; images of another recipe are rebuilt.
const RECIPE_VERSION: &str = "2";
/// Packages every image carries: the release's sshd and its three clients, and the Dropbear and
/// TinySSH servers.
const PACKAGES: &str = "openssh-server,openssh-client,putty-tools,dropbear-bin,tinysshd";

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

/// How an image is made.
#[derive(Debug, Clone)]
pub enum Recipe {
    /// `debootstrap --variant=minbase SUITE` with [`PACKAGES`], then `docker import`.
    Debootstrap {
        /// Debian suite (a codename).
        suite: &'static str,
        /// The debootstrap script for it, when the host's debootstrap has none of that name
        /// (a testing codename newer than the host's debootstrap: `sid`).
        script: Option<&'static str>,
    },
    /// `docker build` of a shipped Dockerfile (needs a reachable registry for its base image).
    Dockerfile {
        /// File name under `servers/images/`.
        file: &'static str,
        /// The Dockerfile's text (embedded).
        text: &'static str,
        /// The crypto policy set at build time (`--build-arg CRYPTO_POLICY=`).
        crypto_policy: &'static str,
    },
}

/// One image sshmatrix knows how to make.
#[derive(Debug, Clone)]
pub struct ImageRecipe {
    /// Short name used in matrix files (`bookworm`, `al2023`).
    pub name: &'static str,
    /// What it contains, for listings.
    pub contents: &'static str,
    /// How it is made.
    pub recipe: Recipe,
    /// The OpenSSH release of its sshd (a test holds it equal to the image's `sshd -V`).
    pub openssh: (u32, u32),
    /// Keywords its sshd knows beyond upstream's `openssh` release ([`crate::dialect::Dialect`];
    /// a test holds them equal to what the image's binaries hold).
    pub extras: &'static [&'static str],
    /// The Dropbear server release it has, if any (a test holds it equal to `dropbear -V`).
    pub dropbear: Option<&'static str>,
    /// The TinySSH release it has, if any (its Debian package's upstream version).
    pub tinyssh: Option<&'static str>,
}

impl ImageRecipe {
    /// The image tag (`sshmatrix/sshd:bookworm`).
    pub fn tag(&self) -> String {
        format!("{REPOSITORY}:{}", self.name)
    }

    /// The release of `kind`'s server in this image (OpenSSH: `major.minor`).
    pub fn server_version(&self, kind: crate::policy::ServerKind) -> Option<&'static str> {
        match kind {
            crate::policy::ServerKind::Openssh => None,
            crate::policy::ServerKind::Dropbear => self.dropbear,
            crate::policy::ServerKind::Tinyssh => self.tinyssh,
            crate::policy::ServerKind::Asyncssh => None,
        }
    }

    /// The sshd its configuration is rendered for.
    pub fn dialect(&self) -> crate::dialect::Dialect {
        crate::dialect::Dialect {
            release: self.openssh,
            extras: self.extras.iter().map(|k| k.to_string()).collect(),
        }
    }
}

/// Keywords RHEL-family 8.7p1 builds know beyond upstream 8.7: RequiredRSASize (backport, RHEL
/// 9.1 release notes, BZ#2066882) and GSSAPIKexAlgorithms (patch); a RHEL 9 `sshd -T` dump
/// prints both (github.com/wazuh/wazuh-qa issue 3822).
const RHEL_EXTRAS: &[&str] = &["RequiredRSASize", "GSSAPIKexAlgorithms"];

/// Debian's GSS-API key exchange patch, in its sshd until 1:10.4p1-5 (`servers/directives.toml`).
const DEBIAN_GSSAPI: &[&str] = &["GSSAPIKexAlgorithms"];

/// A Debian image: debootstrap of `suite` (with `script` when the host's debootstrap lacks one).
fn debian(
    suite: &'static str,
    script: Option<&'static str>,
    contents: &'static str,
    openssh: (u32, u32),
    extras: &'static [&'static str],
    (dropbear, tinyssh): (&'static str, &'static str),
) -> ImageRecipe {
    ImageRecipe {
        name: suite,
        contents,
        recipe: Recipe::Debootstrap { suite, script },
        openssh,
        extras,
        dropbear: Some(dropbear),
        tinyssh: Some(tinyssh),
    }
}

/// Every image sshmatrix can make.
pub fn recipes() -> Vec<ImageRecipe> {
    vec![
        debian("bullseye", None, "Debian 11: OpenSSH 8.4p1, PuTTY 0.74, Dropbear 2020.81, TinySSH 20190101", (8, 4), DEBIAN_GSSAPI, ("2020.81", "20190101")),
        debian("bookworm", None, "Debian 12: OpenSSH 9.2p1, PuTTY 0.78, Dropbear 2022.83, TinySSH 20230101", (9, 2), DEBIAN_GSSAPI, ("2022.83", "20230101")),
        debian("trixie", None, "Debian 13: OpenSSH 10.0p2, PuTTY 0.83, Dropbear 2025.89, TinySSH 20250501", (10, 0), DEBIAN_GSSAPI, ("2025.89", "20250501")),
        debian(
            "forky",
            Some("sid"),
            "Debian 14 (testing, forky): OpenSSH 10.6p1, PuTTY 0.85, Dropbear 2026.94, TinySSH 20261001 (a moving suite: versions as of 2026-10-30)",
            (10, 6),
            &[],
            ("2026.94", "20261001"),
        ),
        ImageRecipe {
            name: "al2023",
            contents:
                "Amazon Linux 2023: OpenSSH 8.7p1, crypto-policies DEFAULT (needs a registry)",
            recipe: Recipe::Dockerfile {
                file: "al2023.Dockerfile",
                text: include_str!("../images/al2023.Dockerfile"),
                crypto_policy: "DEFAULT",
            },
            openssh: (8, 7),
            extras: RHEL_EXTRAS,
            dropbear: None,
            tinyssh: None,
        },
        ImageRecipe {
            name: "al2023-legacy",
            contents: "Amazon Linux 2023: OpenSSH 8.7p1, crypto-policies LEGACY (needs a registry)",
            recipe: Recipe::Dockerfile {
                file: "al2023.Dockerfile",
                text: include_str!("../images/al2023.Dockerfile"),
                crypto_policy: "LEGACY",
            },
            openssh: (8, 7),
            extras: RHEL_EXTRAS,
            dropbear: None,
            tinyssh: None,
        },
        ImageRecipe {
            name: "rocky9",
            contents: "Rocky Linux 9: OpenSSH 8.7p1, crypto-policies DEFAULT (needs a registry)",
            recipe: Recipe::Dockerfile {
                file: "rocky9.Dockerfile",
                text: include_str!("../images/rocky9.Dockerfile"),
                crypto_policy: "DEFAULT",
            },
            openssh: (8, 7),
            extras: RHEL_EXTRAS,
            dropbear: None,
            tinyssh: None,
        },
        ImageRecipe {
            name: "rocky9-legacy",
            contents: "Rocky Linux 9: OpenSSH 8.7p1, crypto-policies LEGACY (needs a registry)",
            recipe: Recipe::Dockerfile {
                file: "rocky9.Dockerfile",
                text: include_str!("../images/rocky9.Dockerfile"),
                crypto_policy: "LEGACY",
            },
            openssh: (8, 7),
            extras: RHEL_EXTRAS,
            dropbear: None,
            tinyssh: None,
        },
    ]
}

/// The recipe called `name`.
pub fn recipe(name: &str) -> Result<ImageRecipe, ContainerError> {
    recipes()
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ContainerError::UnknownImage {
            name: name.to_string(),
            known: recipes()
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
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

/// Whether the image of `r` exists locally with the current recipe version.
pub fn image_present(r: &ImageRecipe) -> bool {
    docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"sshmatrix.recipe\"}}",
        &r.tag(),
    ])
    .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == RECIPE_VERSION)
    .unwrap_or(false)
}

/// Builds the image of `r` unless it is present; `scratch` holds the debootstrap tree while
/// building, `log` receives progress lines. Returns whether a build happened.
pub fn ensure_image(
    r: &ImageRecipe,
    scratch: &Path,
    log: &mut dyn Write,
) -> Result<bool, ContainerError> {
    if image_present(r) {
        return Ok(false);
    }
    // One build per image at a time, across processes (parallel tests, parallel runs).
    sshmatrix_core::fsx::private_dir(scratch).map_err(|e| ContainerError::Build {
        tag: r.tag(),
        message: format!("{}: {e}", scratch.display()),
    })?;
    let lock = std::fs::File::create(scratch.join(format!("{}.lock", r.name)))
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| ContainerError::Build {
            tag: r.tag(),
            message: format!("cannot lock the build: {e}"),
        })?;
    let built = if image_present(r) {
        false
    } else {
        build_image(r, scratch, log)?;
        true
    };
    drop(lock);
    Ok(built)
}

/// Builds the image of `r` (replacing any older one).
pub fn build_image(
    r: &ImageRecipe,
    scratch: &Path,
    log: &mut dyn Write,
) -> Result<(), ContainerError> {
    check_docker()?;
    let tag = r.tag();
    let fail = |message: String| ContainerError::Build {
        tag: tag.clone(),
        message,
    };
    match &r.recipe {
        Recipe::Debootstrap { suite, script } => {
            debootstrap_image(suite, *script, &tag, scratch, log, &fail)?
        }
        Recipe::Dockerfile {
            file,
            text,
            crypto_policy,
        } => dockerfile_image(file, text, crypto_policy, &tag, log, &fail)?,
    }
    let _ = writeln!(log, "built {tag}");
    Ok(())
}

/// Builds an image with debootstrap (minbase and the packages sshmatrix needs) and
/// `docker import`.
fn debootstrap_image(
    suite: &str,
    script: Option<&str>,
    tag: &str,
    scratch: &Path,
    log: &mut dyn Write,
    fail: &dyn Fn(String) -> ContainerError,
) -> Result<(), ContainerError> {
    let mirror = std::env::var("SSHMATRIX_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let _ = writeln!(
        log,
        "building {tag}: debootstrap {suite} from {mirror} (about a minute, once)"
    );
    sshmatrix_core::fsx::private_dir(scratch).map_err(|e| fail(e.to_string()))?;
    let root = tempfile::Builder::new()
        .prefix(&format!("image-{suite}-"))
        .tempdir_in(scratch)
        .map_err(|e| fail(e.to_string()))?;
    let missing = |e: std::io::Error| {
        fail(format!(
            "cannot run debootstrap: {e}; install it (apt-get install debootstrap) and run as root"
        ))
    };
    let out = Command::new("debootstrap")
        .process_group(0)
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), suite])
        .arg(root.path())
        .arg(&mirror)
        .args(script.map(|s| format!("/usr/share/debootstrap/scripts/{s}")))
        .stdin(Stdio::null())
        .output()
        .map_err(missing)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        return Err(fail(format!(
            "debootstrap {suite} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let script = format!(
            "tar -C {} --numeric-owner -c . | {} import -c 'CMD [\"/bin/sh\"]' -c 'LABEL sshmatrix.recipe={RECIPE_VERSION}' - {}",
            sh_quote(&root.path().display().to_string()),
            sh_quote(&docker_cli()),
            sh_quote(tag)
        );
    let out = Command::new("sh")
        .process_group(0)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(format!(
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Builds an image from a shipped Dockerfile (its base image needs a registry).
fn dockerfile_image(
    file: &str,
    text: &str,
    crypto_policy: &str,
    tag: &str,
    log: &mut dyn Write,
    fail: &dyn Fn(String) -> ContainerError,
) -> Result<(), ContainerError> {
    let _ = writeln!(
        log,
        "building {tag} from servers/images/{file} (its base image comes from a registry)"
    );
    let mut child = Command::new(docker_cli())
        .process_group(0)
        .args([
            "build",
            "--build-arg",
            &format!("CRYPTO_POLICY={crypto_policy}"),
            "--label",
            &format!("sshmatrix.recipe={RECIPE_VERSION}"),
            "-t",
            tag,
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ContainerError::NoDocker(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text.lines().rev().find(|l| !l.trim().is_empty());
        return Err(fail(format!(
                "docker build: {} (no registry reachable? build it where one is, then `docker save`/`docker load` it here)",
                last.unwrap_or("failed")
            )));
    }
    Ok(())
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

/// Where a target's files live inside its container.
const CONFIG_IN: &str = "/etc/sshmatrix/sshd_config";
/// The same configuration without untrusted lines, when it has any (see
/// [`crate::SshdTarget::check_readback`]).
const BASELINE_IN: &str = "/etc/sshmatrix/sshd_config.baseline";

/// Starts a target container from `image`: installs each `(user, authorized key lines)` as a
/// real account with `~/.ssh/<policy's file name>` (0600 in a 0700 directory, owned by the
/// user; `mode` overrides the file's mode), and prepares the policy's server: an sshd_config
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
    mode: Option<&str>,
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
            path: format!("{HOST_KEYS_IN}/ssh_host_{kind}_key"),
            data: std::fs::read(&path).map_err(|e| fail(e.to_string()))?,
            mode: 0o600,
        });
    }
    let ak_name = &spec.policy.authorized_keys_name;
    let mut script = accounts_script(users, mode, ak_name, &mut files).map_err(fail)?;
    let version = spec.policy.facts.as_ref().map(|f| f.version.as_str());
    let config = match (spec.policy.server, version) {
        (ServerKind::Dropbear, Some(v)) => {
            script.push_str(&dropbear_script(&spec.host_keys, v));
            None
        }
        (ServerKind::Tinyssh, Some(v)) => {
            files.extend(tinyssh_keys(host_keys).map_err(fail)?);
            script.push_str(&format!(
                "case \"$(dpkg-query -W -f='${{Version}}' tinysshd)\" in {v}*) ;; *) echo 'this image has no TinySSH {v}' >&2; exit 1;; esac\n"
            ));
            None
        }
        _ => {
            let config = sshd_config(run_dir, spec, users, &mut files).map_err(fail)?;
            script.push_str(&format!("/usr/sbin/sshd -t -f {CONFIG_IN}\n"));
            Some(config)
        }
    };
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

/// Where a target's host keys (OpenSSH format) are copied in a container.
const HOST_KEYS_IN: &str = "/etc/sshmatrix/hostkeys";

/// Renders `spec` for a container's sshd (a copy kept under `run_dir`), added to `files`.
fn sshd_config(
    run_dir: &Path,
    spec: &TargetSpec,
    users: &[(String, Vec<String>)],
    files: &mut Vec<FileIn>,
) -> Result<PathBuf, String> {
    let paths = ConfigPaths {
        authorized_keys_file: format!(".ssh/{}", spec.policy.authorized_keys_name),
        host_keys: spec
            .host_keys
            .iter()
            .map(|kind| format!("{HOST_KEYS_IN}/ssh_host_{kind}_key"))
            .collect(),
        root_login: users.iter().any(|(u, _)| u == "root"),
        root_reason: "root is one of the matrix users of this target.",
    };
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

/// The script lines that give Dropbear the target's host keys in its own format (converted by
/// the image's own dropbearconvert) and check the image runs Dropbear `version`. Before 2022.82
/// dropbearconvert reads RSA and ECDSA keys only in PEM (measured on 2020.81: "Unsupported
/// OpenSSH key type"), so those are rewritten as PEM first by the image's ssh-keygen.
fn dropbear_script(host_keys: &[String], version: &str) -> String {
    let mut script = String::new();
    for kind in host_keys {
        let (src, out) = (
            format!("{HOST_KEYS_IN}/ssh_host_{kind}_key"),
            crate::dropbear::host_key_path(kind),
        );
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
    script.push_str(&format!(
        "v=$({} -V 2>&1 || true)\n\
         case \"$v\" in *v{version}*) ;; *) echo \"this image runs $v, not Dropbear {version}\" >&2; exit 1;; esac\n",
        crate::dropbear::DROPBEAR
    ));
    script
}

/// The script that makes each matrix user a real account with its authorized keys (files are
/// added for each user's keys).
fn accounts_script(
    users: &[(String, Vec<String>)],
    mode: Option<&str>,
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
            mode = mode.unwrap_or("0600"),
            ak = ak_name,
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

    #[test]
    fn every_recipe_has_a_distinct_tag() {
        let tags: std::collections::BTreeSet<String> =
            recipes().iter().map(ImageRecipe::tag).collect();
        assert_eq!(tags.len(), recipes().len());
        assert!(recipe("bookworm").is_ok());
        assert!(matches!(
            recipe("buster"),
            Err(ContainerError::UnknownImage { .. })
        ));
    }
}
