//! `sshmatrix serve`: one target — an OpenSSH policy rendered for this host's sshd as a run
//! renders it, or for the sshd of a release image in a container — on a 127.0.0.1 port that
//! serves any number of connections, `sshd -i` per connection (or, with `listen`, one real
//! `sshd -D` daemon for all of them, so its penalties and limits across connections apply):
//! for a scan, for a real client a user points at it, for a quick manual test.

use std::path::{Path, PathBuf};

use sshmatrix_servers::container::{self, Container};
use sshmatrix_servers::relay::{self, Listening};
use sshmatrix_servers::sshd::{find_sshd, Endpoint, HostKeyStore, SshdTarget};
use sshmatrix_servers::ServerKind;

use crate::matrix::Target;
use crate::runner::{dir_name, new_run_dir, target_spec, RunError};

/// A target being served. [`Served::stop`] closes the port, kills every connection's sshd,
/// removes the container and the run directory; dropping it does the same but leaves a
/// container to the next run's sweep.
pub struct Served {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The rendered sshd_config.
    pub config: PathBuf,
    /// The server log: every connection's, appended (Dropbear: its daemon's).
    pub log: PathBuf,
    listening: Option<Listening>,
    daemon: Option<Endpoint>,
    container: Option<Container>,
    _run_dir: tempfile::TempDir,
}

impl Served {
    /// Stops serving and removes everything it made.
    pub async fn stop(mut self) {
        self.listening.take();
        self.daemon.take();
        if let Some(c) = self.container.take() {
            c.remove().await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The listener (and the connections' servers) go before the run directory.
        self.listening.take();
        self.daemon.take();
    }
}

/// The target's server, in a container when it has an image.
async fn start(
    t: &Target,
    work_dir: &Path,
    run_dir: &Path,
    keys: &Trusted<'_>,
) -> Result<(SshdTarget, Option<Container>), RunError> {
    let public_keys = keys.public_keys;
    let sshd = find_sshd()?;
    let host_keys = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    // `serve` takes no sshd lines of its own: whatever a target carries is checked.
    let mut spec = target_spec(t, "VERBOSE", &sshd, false);
    spec.trusted_user_cas = keys.user_cas.to_vec();
    let Some(image) = t.image() else {
        return Ok((
            SshdTarget::create(run_dir, &spec, &host_keys, &sshd, public_keys)?,
            None,
        ));
    };
    let env = |e: container::ContainerError| RunError::Environment(e.to_string());
    container::ensure_image(image, &work_dir.join("images"), &mut std::io::stderr())
        .map_err(env)?;
    let users: Vec<(String, Vec<String>)> = t
        .users
        .iter()
        .map(|u| (u.clone(), public_keys.to_vec()))
        .collect();
    let run = dir_name(run_dir);
    let (c, target) = container::start_target(
        run_dir,
        &spec,
        image,
        &host_keys,
        &users,
        Default::default(),
        &run,
        None,
    )
    .await
    .map_err(env)?;
    Ok((target, Some(c)))
}

/// What a served target trusts: public keys (authorized) and user-certificate authorities
/// (`TrustedUserCAKeys`, OpenSSH), each as OpenSSH public key lines.
pub struct Trusted<'a> {
    /// Keys that may log in.
    pub public_keys: &'a [String],
    /// CAs whose user certificates may log in.
    pub user_cas: &'a [String],
}

/// Serves target `t` of a plan on a free 127.0.0.1 port, trusting `keys`: OpenSSH on this
/// host or in a release image, TinySSH (a server per connection) and Dropbear (its own daemon)
/// in their images. A remote target, AsyncSSH (a process per connection) or a non-OpenSSH
/// server without its image is bad input.
pub async fn serve(
    t: &Target,
    work_dir: &Path,
    keys: &Trusted<'_>,
    log: Option<PathBuf>,
    listen: bool,
) -> Result<Served, RunError> {
    servable(t, listen)?;
    crate::workdir::prepare(work_dir)?;
    let run_dir = new_run_dir(work_dir, "serve-")?;
    if !keys.user_cas.is_empty() && t.policy.server != ServerKind::Openssh {
        return Err(RunError::Input(format!(
            "target `{}`: --trust-ca configures OpenSSH's TrustedUserCAKeys; a {} policy takes none",
            t.id,
            t.policy.server.name()
        )));
    }
    if t.policy.server.on_this_host() {
        return serve_on_this_host(t, work_dir, run_dir, keys, log).await;
    }
    let (target, container) = start(t, work_dir, run_dir.path(), keys).await?;
    if t.policy.server == ServerKind::Openssh {
        // The config must be valid before anyone connects: `sshd -T` says what is wrong.
        target.effective_config()?;
        target.check_readback()?;
    }
    let log = log.unwrap_or_else(|| run_dir.path().join("sshd.log"));
    let listen_error =
        |e: std::io::Error| RunError::Environment(format!("cannot listen on 127.0.0.1: {e}"));
    let wait = std::time::Duration::from_secs(30);
    if listen {
        let d = target.listen(&log, wait).await.expect("an OpenSSH target");
        let d = d.map_err(listen_error)?;
        return Ok(Served {
            port: d.port(),
            config: target.config.clone(),
            log,
            listening: None,
            daemon: Some(d),
            container,
            _run_dir: run_dir,
        });
    }
    let (port, listening, daemon) = match target.inetd_command_appending(&log) {
        Some(command) => {
            let l = relay::serve_each(command).await.map_err(listen_error)?;
            (l.port, Some(l), None)
        }
        // Dropbear listens itself and serves every connection until stopped.
        None => {
            let d = target.serve(&log, wait).await.map_err(listen_error)?;
            (d.port(), None, Some(d))
        }
    };
    Ok(Served {
        port,
        config: target.config.clone(),
        log,
        listening,
        daemon,
        container,
        _run_dir: run_dir,
    })
}

/// Serves an AsyncSSH or emulated release from the AsyncSSH installation its policy names, a
/// server for every connection until stopped; the keys of `keys` log in as this host's user.
async fn serve_on_this_host(
    t: &Target,
    work_dir: &Path,
    run_dir: tempfile::TempDir,
    keys: &Trusted<'_>,
    log: Option<PathBuf>,
) -> Result<Served, RunError> {
    let with = crate::runner::runs_with(t);
    let profiles = sshmatrix_clients::builtin_profiles();
    let profile = profiles.iter().find(|p| p.id == with).ok_or_else(|| {
        RunError::Environment(format!("target `{}`: no client profile `{with}`", t.id))
    })?;
    let installed = crate::libraries::ensure_all(&[profile], work_dir, &mut |m| eprintln!("{m}"))?;
    let store = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let users = [(
        sshmatrix_servers::sshd::current_user(),
        keys.public_keys.to_vec(),
    )];
    let server =
        crate::runner::library_server(run_dir.path(), t, &installed[&with][0], &store, &users)?;
    let log = log.unwrap_or_else(|| run_dir.path().join("server.log"));
    let daemon = server
        .serve_all(log.clone(), std::time::Duration::from_secs(30))
        .await
        .map_err(|e| RunError::Environment(format!("cannot listen on 127.0.0.1: {e}")))?;
    Ok(Served {
        port: daemon.port,
        config: server.emulation.clone().unwrap_or(server.program.clone()),
        log,
        listening: None,
        daemon: Some(Endpoint::Daemon(Box::new(daemon))),
        container: None,
        _run_dir: run_dir,
    })
}

/// Whether `serve` can serve target `t` (with `listen`: OpenSSH's own listening daemon).
fn servable(t: &Target, listen: bool) -> Result<(), RunError> {
    if listen && t.policy.server != ServerKind::Openssh {
        return Err(RunError::Input(format!(
            "target `{}`: --listen runs OpenSSH's own listening daemon; policy `{}` is {}",
            t.id,
            t.policy.id,
            t.policy.server_release()
        )));
    }
    let servable = match t.policy.server {
        ServerKind::Openssh => true,
        ServerKind::Tinyssh | ServerKind::Dropbear | ServerKind::Proftpd | ServerKind::Twisted => {
            t.image().is_some()
        }
        ServerKind::Asyncssh | ServerKind::Emulated => t.image().is_none() && !listen,
    };
    if t.remote().is_some() || !servable {
        return Err(RunError::Input(format!(
            "target `{}`: serve runs OpenSSH policies (on this host or with --image), Dropbear, TinySSH, ProFTPD and Twisted policies with the image of their release, and AsyncSSH and emulated releases on this host (without --image or --listen); not remote targets",
            t.id
        )));
    }
    Ok(())
}
