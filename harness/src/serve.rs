//! `sshmatrix serve`: one target — an OpenSSH policy rendered for this host's sshd as a run
//! renders it, or for the sshd of a release image in a container — on a 127.0.0.1 port that
//! serves any number of connections, `sshd -i` per connection: for a scan, for a real client a
//! user points at it, for a quick manual test.

use std::path::{Path, PathBuf};

use sshmatrix_clients::factory::private_dir;
use sshmatrix_servers::container::{self, Container};
use sshmatrix_servers::relay::{self, Listening};
use sshmatrix_servers::sshd::{find_sshd, HostKeyStore, SshdTarget};
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
    /// The sshd log of the latest connection.
    pub log: PathBuf,
    listening: Option<Listening>,
    container: Option<Container>,
    _run_dir: tempfile::TempDir,
}

impl Served {
    /// Stops serving and removes everything it made.
    pub async fn stop(mut self) {
        self.listening.take();
        if let Some(c) = self.container.take() {
            c.remove().await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The listener (and the connections' sshd processes) go before the run directory.
        self.listening.take();
    }
}

/// The target's server, in a container when it has an image.
async fn start(
    t: &Target,
    work_dir: &Path,
    run_dir: &Path,
    public_keys: &[String],
) -> Result<(SshdTarget, Option<Container>), RunError> {
    let sshd = find_sshd()?;
    let host_keys = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let spec = target_spec(t, "VERBOSE", &sshd);
    let Some(image) = &t.image else {
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
    let (c, target) =
        container::start_target(run_dir, &spec, image, &host_keys, &users, None, &run)
            .await
            .map_err(env)?;
    Ok((target, Some(c)))
}

/// Serves target `t` of a plan on a free 127.0.0.1 port, `public_keys` authorized (OpenSSH
/// lines). OpenSSH targets on this host or in a release image, and TinySSH in its image; a
/// remote target or a server without an inetd mode (Dropbear, AsyncSSH) is bad input.
pub async fn serve(
    t: &Target,
    work_dir: &Path,
    public_keys: &[String],
) -> Result<Served, RunError> {
    let inetd = match t.policy.server {
        ServerKind::Openssh => true,
        ServerKind::Tinyssh => t.image.is_some(),
        ServerKind::Dropbear | ServerKind::Asyncssh => false,
    };
    if t.remote.is_some() || !inetd {
        return Err(RunError::Input(format!(
            "target `{}`: serve runs OpenSSH policies (on this host or with --image) and TinySSH (with its --image) only",
            t.id
        )));
    }
    private_dir(work_dir).map_err(|e| RunError::Environment(e.to_string()))?;
    let run_dir = new_run_dir(work_dir, "serve-")?;
    let (target, container) = start(t, work_dir, run_dir.path(), public_keys).await?;
    if t.policy.server == ServerKind::Openssh {
        // The config must be valid before anyone connects: `sshd -T` says what is wrong.
        target.effective_config()?;
    }
    let log = run_dir.path().join("sshd.log");
    let command = target
        .inetd_command(&log)
        .expect("an OpenSSH or TinySSH target has inetd mode");
    let listening = relay::serve_each(command)
        .await
        .map_err(|e| RunError::Environment(format!("cannot listen on 127.0.0.1: {e}")))?;
    Ok(Served {
        port: listening.port,
        config: target.config.clone(),
        log,
        listening: Some(listening),
        container,
        _run_dir: run_dir,
    })
}
