//! OpenSSH targets: renders a policy into an sshd_config and runs sshd in inetd mode
//! (`sshd -i`), one process per connection over its stdin/stdout, as OpenSSH's own regress
//! tests do. Each connection's log arrives on its stderr (`-e`) and belongs to exactly one cell.
//! The sshd is the installed one (local backend) or one inside a container
//! ([`crate::container`]), started with `docker exec -i`.
//!
//! With the local backend every matrix user is served by the OS user running sshmatrix: the
//! login name in the report is a label, the account is the current one.

mod config;
mod host;
mod session;
mod settings;

pub use crate::error::{target_dir, TargetError};
pub use config::SESSION_SUBSYSTEM;
pub use config::{config_path, render_config, scrub_config_errors, ConfigPaths, TargetSpec};
pub use host::{current_user, find_sshd, parse_release, release_of, running_as_root};
pub use host::{sshd_version, HostKeyStore};
pub use session::{Endpoint, Finished, Io, ServerSession, ServerStream};
pub use settings::Effective;
pub use sshmatrix_core::process::stopped_from_outside;
pub use sshmatrix_core::text::sh_quote;

use host::ensure_privsep_dir;
use session::helped_session;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// A prepared target's server: an OpenSSH sshd run once per connection (`sshd -i`, the
/// installed one or one inside a container through `docker exec -i`), or a Dropbear daemon
/// per connection inside a container.
#[derive(Debug, Clone)]
pub struct SshdTarget {
    /// Target id.
    pub id: String,
    /// The rendered sshd_config on this host (OpenSSH).
    pub config: PathBuf,
    /// The authorized keys file on this host (local backend; in a container each user has
    /// their own under their home directory).
    pub authorized_keys: PathBuf,
    server: Server,
    /// The container's helper, when it has one: inetd-style connections are forked by it
    /// instead of a `docker exec` each.
    helper: Option<std::sync::Arc<crate::helper::Helper>>,
    /// The target's listening sshd, once started ([`SshdTarget::start_listening`]): every
    /// connection goes to it instead of an `sshd -i` of its own.
    listener: Listener,
}

/// A target's listening sshd, shared by its cells (one at a time).
#[derive(Clone, Default)]
struct Listener(Option<std::sync::Arc<crate::daemon::Daemon>>);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(d) => write!(f, "listening on 127.0.0.1:{}", d.port),
            None => write!(f, "not listening"),
        }
    }
}

/// How a target's connections are served.
#[derive(Debug, Clone)]
enum Server {
    /// `sshd -i` started by `launcher` (its binary, or `docker exec -i CONTAINER
    /// /usr/sbin/sshd`), reading its configuration at `config_seen`; `baseline_seen` is the
    /// same configuration without untrusted lines, when there were any.
    Sshd {
        launcher: Vec<String>,
        config_seen: String,
        baseline_seen: Option<String>,
    },
    /// A Dropbear daemon per connection.
    Dropbear(Box<crate::dropbear::Dropbear>),
    /// A ProFTPD (`mod_sftp`) daemon per connection.
    Proftpd(Box<crate::proftpd::Proftpd>),
    /// A Twisted Conch server per connection.
    Conch(Box<crate::conch::Conch>),
    /// An AsyncSSH server process per connection, on this host.
    AsyncSsh(Box<crate::asyncssh::AsyncSsh>),
    /// `tinysshd` run once per connection by `launcher` (`docker exec -i CONTAINER
    /// /usr/sbin/tinysshd`), its host key in [`TINYSSH_KEYS`].
    Tinyssh {
        launcher: Vec<String>,
        facts: Box<crate::policy::ServerFacts>,
    },
}

/// The key directory of a TinySSH target inside its container.
pub const TINYSSH_KEYS: &str = "/etc/sshmatrix/tinyssh";

impl SshdTarget {
    /// Writes a local target's directory under `run_dir`: sshd_config and authorized keys.
    pub fn create(
        run_dir: &Path,
        spec: &TargetSpec,
        host_keys: &HostKeyStore,
        sshd: &Path,
        public_keys: &[String],
    ) -> Result<Self, TargetError> {
        let dir = target_dir(run_dir, &spec.id)?;
        let ak = dir.join(&spec.policy.authorized_keys_name);
        use std::os::unix::fs::PermissionsExt;
        fs::write(&ak, public_keys.join("\n") + "\n")?;
        fs::set_permissions(&ak, fs::Permissions::from_mode(0o600))?;
        let paths = ConfigPaths {
            authorized_keys_file: config_path(&ak, true)?,
            host_keys: spec
                .host_keys
                .iter()
                .map(|k| config_path(&host_keys.get(k)?, false))
                .collect::<Result<_, _>>()?,
            root_login: running_as_root(),
            root_reason: "The local backend logs in as the OS user running sshmatrix (root here).",
            trusted_user_ca_keys: match spec.trusted_user_cas.is_empty() {
                true => None,
                false => {
                    let cas = dir.join("trusted-user-ca-keys");
                    fs::write(&cas, spec.trusted_user_cas.join("\n") + "\n")?;
                    Some(config_path(&cas, true)?)
                }
            },
            // Never PAM on this host: its PAM stack is not sshmatrix's to run.
            pam: false,
            host_certificates: spec
                .host_certificates
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    let file = dir.join(format!("host-certificate-{i}.pub"));
                    fs::write(&file, format!("{line}\n"))?;
                    config_path(&file, false)
                })
                .collect::<Result<_, _>>()?,
        };
        let config = dir.join("sshd_config");
        fs::write(&config, render_config(spec, &paths))?;
        let baseline_seen = match spec.baseline() {
            None => None,
            Some(b) => {
                let path = dir.join("sshd_config.baseline");
                fs::write(&path, render_config(&b, &paths))?;
                Some(path.display().to_string())
            }
        };
        Ok(SshdTarget {
            id: spec.id.clone(),
            server: Server::Sshd {
                config_seen: config.display().to_string(),
                launcher: vec![sshd.display().to_string()],
                baseline_seen,
            },
            config,
            authorized_keys: ak,
            helper: None,
            listener: Listener::default(),
        })
    }

    /// A target whose sshd is started by `launcher` (`docker exec -i CONTAINER
    /// /usr/sbin/sshd`) and reads its configuration at `config_seen` (a copy of `config` on
    /// this host).
    pub fn in_container(
        id: &str,
        launcher: Vec<String>,
        config: PathBuf,
        config_seen: &str,
        baseline_seen: Option<&str>,
    ) -> Self {
        SshdTarget {
            id: id.to_string(),
            authorized_keys: PathBuf::new(),
            config,
            server: Server::Sshd {
                launcher,
                config_seen: config_seen.to_string(),
                baseline_seen: baseline_seen.map(str::to_string),
            },
            helper: None,
            listener: Listener::default(),
        }
    }

    /// A Dropbear target: a daemon per connection, run where `dropbear.prefix` says.
    pub fn dropbear(id: &str, dropbear: crate::dropbear::Dropbear) -> Self {
        SshdTarget {
            id: id.to_string(),
            config: PathBuf::new(),
            authorized_keys: PathBuf::new(),
            server: Server::Dropbear(Box::new(dropbear)),
            helper: None,
            listener: Listener::default(),
        }
    }

    /// A ProFTPD target: a `mod_sftp` daemon per connection, run where `proftpd.prefix` says.
    pub fn proftpd(id: &str, proftpd: crate::proftpd::Proftpd) -> Self {
        SshdTarget {
            id: id.to_string(),
            config: PathBuf::new(),
            authorized_keys: PathBuf::new(),
            server: Server::Proftpd(Box::new(proftpd)),
            helper: None,
            listener: Listener::default(),
        }
    }

    /// A Twisted Conch target: a server per connection, run where `conch.prefix` says.
    pub fn conch(id: &str, conch: crate::conch::Conch) -> Self {
        SshdTarget {
            id: id.to_string(),
            config: PathBuf::new(),
            authorized_keys: PathBuf::new(),
            server: Server::Conch(Box::new(conch)),
            helper: None,
            listener: Listener::default(),
        }
    }

    /// An AsyncSSH target: a server process per connection on this host.
    pub fn asyncssh(id: &str, server: crate::asyncssh::AsyncSsh) -> Self {
        SshdTarget {
            id: id.to_string(),
            config: PathBuf::new(),
            authorized_keys: PathBuf::new(),
            server: Server::AsyncSsh(Box::new(server)),
            helper: None,
            listener: Listener::default(),
        }
    }

    /// A server process listening on a free port for one connection (Dropbear, ProFTPD,
    /// Twisted, AsyncSSH).
    async fn listening(
        &self,
        log: Option<PathBuf>,
        wait: Duration,
    ) -> Option<std::io::Result<crate::daemon::Daemon>> {
        use crate::daemon::serve_per_cell;
        let helper = self.helper.as_deref();
        match &self.server {
            Server::Dropbear(d) => Some(serve_per_cell(d.as_ref(), log, wait, helper).await),
            Server::Proftpd(p) => Some(serve_per_cell(p.as_ref(), log, wait, helper).await),
            Server::Conch(c) => Some(serve_per_cell(c.as_ref(), log, wait, helper).await),
            Server::AsyncSsh(a) => Some(a.serve(log, wait).await),
            _ => None,
        }
    }

    /// A TinySSH target: `tinysshd` per connection, started by `launcher`.
    pub fn tinyssh(id: &str, launcher: Vec<String>, facts: crate::policy::ServerFacts) -> Self {
        SshdTarget {
            id: id.to_string(),
            config: PathBuf::new(),
            authorized_keys: PathBuf::new(),
            server: Server::Tinyssh {
                launcher,
                facts: Box::new(facts),
            },
            helper: None,
            listener: Listener::default(),
        }
    }

    /// This target with its connections served by the container's `helper` (OpenSSH and
    /// TinySSH per connection; Dropbear's per-cell daemon).
    pub fn with_helper(mut self, helper: std::sync::Arc<crate::helper::Helper>) -> Self {
        self.helper = Some(helper);
        self
    }

    /// The same target served the way a plain script would: a `docker exec` per connection.
    pub fn without_helper(&self) -> Self {
        SshdTarget {
            helper: None,
            ..self.clone()
        }
    }

    /// The helper and the argv it runs for one inetd-style connection (the launcher's program
    /// inside the container, without the `docker exec` prefix).
    fn helped(&self) -> Option<(std::sync::Arc<crate::helper::Helper>, Vec<String>)> {
        let helper = self.helper.clone()?;
        let (launcher, args) = self.inetd_parts()?;
        let program = launcher.last()?.clone();
        Some((helper, std::iter::once(program).chain(args).collect()))
    }

    /// The launcher and arguments of one inetd-style connection (stdin/stdout, log on
    /// stderr): `sshd -i -e -f CONFIG`, or `tinysshd -v -x SUBSYSTEM=/bin/true KEYDIR` (TinySSH
    /// serves the session subsystem by running `true`); `None` for Dropbear.
    fn inetd_parts(&self) -> Option<(&[String], Vec<String>)> {
        match &self.server {
            Server::Sshd {
                launcher,
                config_seen,
                ..
            } => Some((
                launcher,
                vec!["-i".into(), "-e".into(), "-f".into(), config_seen.clone()],
            )),
            Server::Tinyssh { launcher, .. } => Some((
                launcher,
                vec![
                    "-v".into(),
                    "-x".into(),
                    format!("{SESSION_SUBSYSTEM}=/bin/true"),
                    TINYSSH_KEYS.into(),
                ],
            )),
            Server::Dropbear(_) | Server::Proftpd(_) | Server::Conch(_) | Server::AsyncSsh(_) => {
                None
            }
        }
    }

    /// The shell command that runs one inetd-style connection of this target, its log going
    /// to `log` (a client's ProxyCommand); `None` for a server that has no such mode here
    /// (Dropbear, AsyncSSH: [`SshdTarget::serve`] gives a port instead).
    pub fn inetd_command(&self, log: &Path) -> Option<String> {
        if self.listener.0.is_some() {
            return None;
        }
        self.inetd_redirected(log, "2>")
    }

    /// As [`SshdTarget::inetd_command`], each connection's log appended to `log` (`serve`
    /// keeps every connection's).
    pub fn inetd_command_appending(&self, log: &Path) -> Option<String> {
        self.inetd_redirected(log, "2>>")
    }

    fn inetd_redirected(&self, log: &Path, redirect: &str) -> Option<String> {
        let (launcher, args) = self.inetd_parts()?;
        let mut words: Vec<String> = launcher.iter().chain(&args).map(|w| sh_quote(w)).collect();
        words.push(format!(
            "{redirect}{}",
            sh_quote(&log.display().to_string())
        ));
        Some(words.join(" "))
    }

    /// A port serving one connection of this target within `wait`, its server log going to
    /// `log`.
    pub async fn serve(&self, log: &Path, wait: Duration) -> std::io::Result<Endpoint> {
        if let Some(turn) = self.turn(Some(log)) {
            return Ok(Endpoint::Shared(turn));
        }
        if let Some(daemon) = self.listening(Some(log.to_path_buf()), wait).await {
            return Ok(Endpoint::Daemon(Box::new(daemon?)));
        }
        if let Some((helper, argv)) = self.helped() {
            let log = log.to_path_buf();
            let one =
                crate::relay::serve_once_to(wait, async move { helper.inetd(&log, &argv).await });
            return Ok(Endpoint::OneShot(one.await?));
        }
        let command = self
            .inetd_command(log)
            .expect("a server without a port has inetd mode");
        Ok(Endpoint::OneShot(
            crate::relay::serve_once(command, wait).await?,
        ))
    }

    /// This OpenSSH target as a listening daemon (`sshd -D -e` on a free 127.0.0.1 port),
    /// serving every connection until the endpoint is dropped: what sshd does between
    /// connections (PerSourcePenalties, MaxStartups, penalties for failed logins) applies. Its
    /// log goes to `log`. `None` for a server other than OpenSSH.
    pub async fn listen(&self, log: &Path, wait: Duration) -> Option<std::io::Result<Endpoint>> {
        let Server::Sshd {
            launcher,
            config_seen,
            ..
        } = &self.server
        else {
            return None;
        };
        ensure_privsep_dir();
        let (program, prefix) = launcher.split_last().expect("a launcher names sshd");
        let listen = crate::daemon::Listen {
            prefix,
            helper: self.helper.as_deref(),
            ready: "Server listening on 127.0.0.1 port",
            port_taken: "Address already in use",
            what: "the listening sshd",
            sftp_only: false,
        };
        let argv = |port: u16| -> Vec<String> {
            let words = [
                "-D",
                "-e",
                "-f",
                config_seen,
                "-o",
                "ListenAddress=127.0.0.1",
                "-p",
            ];
            std::iter::once(program.clone())
                .chain(words.iter().map(|w| w.to_string()))
                .chain([port.to_string()])
                .collect()
        };
        let daemon = listen.serve(argv, Some(log.to_path_buf()), wait).await;
        Some(daemon.map(|d| Endpoint::Daemon(Box::new(d))))
    }

    /// Starts this OpenSSH target's listening sshd (see [`SshdTarget::listen`]), its whole log
    /// going to `log`: from then on every connection goes to it, each cell's lines cut from its
    /// log (cells must then take turns).
    pub async fn start_listening(&mut self, log: &Path, wait: Duration) -> std::io::Result<()> {
        let Some(started) = self.listen(log, wait).await else {
            return Err(std::io::Error::other(
                "only OpenSSH targets listen themselves",
            ));
        };
        let Endpoint::Daemon(d) = started? else {
            unreachable!("listen starts a daemon")
        };
        self.listener = Listener(Some(std::sync::Arc::new(*d)));
        Ok(())
    }

    /// A cell's turn on the listening sshd, if the target has one; its lines go to `log`.
    fn turn(&self, log: Option<&Path>) -> Option<session::Turn> {
        let daemon = self.listener.0.clone()?;
        Some(session::Turn {
            from: daemon.logged(),
            daemon,
            log: log.map(Path::to_path_buf),
        })
    }

    /// Starts serving one connection (within `wait`): the stream to the server and the session
    /// that yields its log.
    pub async fn connect(
        &self,
        wait: Duration,
    ) -> Result<(ServerStream, ServerSession), TargetError> {
        if let Some(turn) = self.turn(None) {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", turn.daemon.port)).await?;
            return Ok((Box::new(stream), ServerSession::Shared(turn)));
        }
        if let Some(daemon) = self.listening(None, wait).await {
            let daemon = daemon?;
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", daemon.port)).await?;
            return Ok((Box::new(stream), ServerSession::Daemon(Box::new(daemon))));
        }
        if let Some((helper, argv)) = self.helped() {
            return helped_session(&helper, &argv).await;
        }
        let (launcher, args) = self
            .inetd_parts()
            .expect("a server without a port has inetd mode");
        ensure_privsep_dir();
        let mut child = Command::new(&launcher[0])
            .process_group(0)
            .args(&launcher[1..])
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let log = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).to_string()
        });
        Ok((
            Box::new(tokio::io::join(stdout, stdin)),
            ServerSession::Inetd { child, log },
        ))
    }
}
