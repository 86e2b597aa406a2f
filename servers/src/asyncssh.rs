//! AsyncSSH targets: the server of the Python library AsyncSSH, run on this host from the
//! virtual environment of an AsyncSSH client profile (the same PyPI release), one process per
//! cell listening on a free 127.0.0.1 port (`programs/asyncssh_server.py`). Its accounts are
//! the matrix users themselves: each has an authorized-keys file of its own under the target's
//! directory, so no OS account is touched.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::{Daemon, Listen};
use crate::error::{target_dir, TargetError};
use crate::policy::ServerFacts;

/// The server program (embedded; written into each target's directory).
pub const PROGRAM: &str = include_str!("../programs/asyncssh_server.py");

/// The line the program logs once its port is open.
const READY: &str = "sshmatrix-server listening";

/// How the program is started and known to listen.
const LISTEN: Listen<'static> = Listen {
    prefix: &[],
    helper: None,
    ready: READY,
    port_taken: "Address already in use",
    what: "the AsyncSSH server",
    sftp_only: false,
};

/// One AsyncSSH target's per-cell servers.
#[derive(Debug, Clone)]
pub struct AsyncSsh {
    /// The Python of the virtual environment AsyncSSH is installed in.
    pub python: String,
    /// The server program.
    pub program: PathBuf,
    /// Per-user authorized keys (`keys/USER`).
    pub keys: PathBuf,
    /// Host key files (OpenSSH format, read by AsyncSSH as they are).
    pub host_keys: Vec<PathBuf>,
    /// What the release does.
    pub facts: ServerFacts,
    /// For an emulated release: the profile the program reads (`--emulate`), its facts as TOML.
    pub emulation: Option<PathBuf>,
}

impl AsyncSsh {
    /// Writes target `id`'s directory under `run_dir`: the program and one authorized-keys
    /// file (0600) per `(user, lines)`.
    pub fn create(
        run_dir: &Path,
        id: &str,
        python: &str,
        host_keys: Vec<PathBuf>,
        users: &[(String, Vec<String>)],
        facts: ServerFacts,
        emulated: bool,
    ) -> Result<Self, TargetError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = target_dir(run_dir, id)?;
        let program = dir.join("asyncssh_server.py");
        std::fs::write(&program, PROGRAM)?;
        let keys = dir.join("keys");
        sshmatrix_core::fsx::private_dir(&keys)?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))?;
        for (user, lines) in users {
            let file = keys.join(user);
            std::fs::write(&file, lines.join("\n") + "\n")?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
        let emulation = match emulated {
            true => {
                let file = dir.join("emulation.toml");
                let text = toml::to_string(&facts).map_err(|e| {
                    TargetError::Io(io::Error::other(format!("emulation profile: {e}")))
                })?;
                std::fs::write(&file, text)?;
                Some(file)
            }
            false => None,
        };
        Ok(AsyncSsh {
            python: python.to_string(),
            program,
            keys,
            host_keys,
            facts,
            emulation,
        })
    }

    /// The argv of a server listening on 127.0.0.1:`port`.
    pub fn argv(&self, port: u16) -> Vec<String> {
        self.argv_serving(port, false)
    }

    /// [`AsyncSsh::argv`], serving every connection until stopped when `many`.
    fn argv_serving(&self, port: u16, many: bool) -> Vec<String> {
        let mut argv = vec![self.python.clone(), self.program.display().to_string()];
        if many {
            argv.push("--many".into());
        }
        if let Some(profile) = &self.emulation {
            argv.extend(["--emulate".into(), profile.display().to_string()]);
        }
        argv.extend([port.to_string(), self.keys.display().to_string()]);
        argv.extend(self.host_keys.iter().map(|k| k.display().to_string()));
        argv
    }

    /// Starts a server for one connection, ready within `wait`; its log also goes to `log`.
    pub async fn serve(&self, log: Option<PathBuf>, wait: Duration) -> io::Result<Daemon> {
        LISTEN.serve(|port| self.argv(port), log, wait).await
    }

    /// Starts a server for every connection until the daemon is stopped (`sshmatrix serve`);
    /// its log also goes to `log`.
    pub async fn serve_all(&self, log: PathBuf, wait: Duration) -> io::Result<Daemon> {
        LISTEN
            .serve(|port| self.argv_serving(port, true), Some(log), wait)
            .await
    }
}
