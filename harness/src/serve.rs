//! `sshmatrix serve`: one local target (an OpenSSH policy, rendered for this host's sshd as a
//! run renders it) on a 127.0.0.1 port that serves any number of connections, `sshd -i` per
//! connection: for a scan, for a real client a user points at it, for a quick manual test.

use std::path::{Path, PathBuf};

use sshmatrix_clients::factory::private_dir;
use sshmatrix_servers::relay::{self, Listening};
use sshmatrix_servers::sshd::{find_sshd, HostKeyStore, SshdTarget};

use crate::matrix::Target;
use crate::runner::{new_run_dir, target_spec, RunError};

/// A target being served. Dropping it closes the port, kills every connection's sshd and
/// removes the run directory.
pub struct Served {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The rendered sshd_config.
    pub config: PathBuf,
    /// The authorized keys file every login is checked against.
    pub authorized_keys: PathBuf,
    /// The sshd log of the latest connection.
    pub log: PathBuf,
    listening: Option<Listening>,
    _run_dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        // The listener (and the connections' sshd processes) go before the run directory.
        self.listening.take();
    }
}

/// Serves target `t` of a plan on a free 127.0.0.1 port, `public_keys` authorized (OpenSSH
/// lines). Only local OpenSSH targets: others are refused as bad input.
pub async fn serve(
    t: &Target,
    work_dir: &Path,
    public_keys: &[String],
) -> Result<Served, RunError> {
    if t.image.is_some() || t.remote.is_some() || t.policy.facts.is_some() {
        return Err(RunError::Input(format!(
            "target `{}`: serve runs OpenSSH policies on this host's sshd only (no image, remote or non-OpenSSH server)",
            t.id
        )));
    }
    let sshd = find_sshd()?;
    private_dir(work_dir).map_err(|e| RunError::Environment(e.to_string()))?;
    let host_keys = HostKeyStore::new(work_dir.join("hostkeys"))
        .map_err(|e| RunError::Environment(format!("host key store: {e}")))?;
    let run_dir = new_run_dir(work_dir, "serve-")?;
    let spec = target_spec(t, "VERBOSE", &sshd);
    let target = SshdTarget::create(run_dir.path(), &spec, &host_keys, &sshd, public_keys)?;
    // The config must be valid before anyone connects: `sshd -T` says what is wrong.
    target.effective_config()?;
    let log = run_dir.path().join("sshd.log");
    let command = target
        .inetd_command(&log)
        .expect("a local sshd target has inetd mode");
    let listening = relay::serve_each(command)
        .await
        .map_err(|e| RunError::Environment(format!("cannot listen on 127.0.0.1: {e}")))?;
    Ok(Served {
        port: listening.port,
        config: target.config.clone(),
        authorized_keys: target.authorized_keys.clone(),
        log,
        listening: Some(listening),
        _run_dir: run_dir,
    })
}
