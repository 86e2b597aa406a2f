//! OpenSSH targets: renders a policy into an sshd_config and runs sshd in inetd mode
//! (`sshd -i`), one process per connection over its stdin/stdout, as OpenSSH's own regress
//! tests do. Each connection's log arrives on its stderr (`-e`) and belongs to exactly one cell.
//! The sshd is the installed one (local backend) or one inside a container
//! ([`crate::container`]), started with `docker exec -i`.
//!
//! With the local backend every matrix user is served by the OS user running sshmatrix: the
//! login name in the report is a label, the account is the current one.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::dialect::Adapted;
use crate::policy::{Policy, ServerKind};

/// Errors of the local backend; all are environment problems (exit code 3) unless noted.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No sshd binary found.
    #[error("no OpenSSH sshd found (looked at $SSHMATRIX_SSHD, /usr/sbin/sshd, PATH): install openssh-server (apt-get install openssh-server)")]
    NoSshd,
    /// ssh-keygen missing or failing while making host keys.
    #[error("cannot make host keys with ssh-keygen: {0}; install openssh-client")]
    HostKeys(String),
    /// `SSHMATRIX_SSHD` names something that is not an OpenSSH sshd.
    #[error("{0}; unset it to use /usr/sbin/sshd, or point it at an OpenSSH sshd binary")]
    NotSshd(String),
    /// An OpenSSH-only operation (`sshd -T`, `sshd -V`) asked of another server.
    #[error("target `{target}` is not served by OpenSSH (no sshd_config to read)")]
    NotOpenssh {
        /// Target id.
        target: String,
    },
    /// The rendered configuration is rejected by sshd.
    #[error("sshd rejects the configuration of target `{target}` ({config}): {message}")]
    BadConfig {
        /// Target id.
        target: String,
        /// Config file path.
        config: String,
        /// What sshd said.
        message: String,
    },
    /// A path sshd could not be told about safely (a quote or control character in it).
    #[error("the path {0:?} holds a quote or control character, which an sshd_config cannot carry; use a work directory without them (--work-dir)")]
    BadPath(String),
    /// Lines the user did not vouch for change what sshd runs or reads (`sshd -T`).
    #[error("target `{target}`: the sshd lines given change `{keyword}` to `{value}` (read back with sshd -T); they read files or run commands as the user running sshmatrix: refused")]
    Untrusted {
        /// Target id.
        target: String,
        /// The setting they change (lower case, as `sshd -T` prints it).
        keyword: String,
        /// Its value then.
        value: String,
    },
    /// Filesystem or process error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A file path as an sshd_config value: in double quotes (work directories may hold spaces),
/// and for a `%`-expanded keyword (AuthorizedKeysFile) with `%` written `%%` (Jenkins
/// workspaces hold `%2F`). HostKey is not `%`-expanded by sshd.
pub fn config_path(path: &Path, percent_expanded: bool) -> Result<String, TargetError> {
    let text = path.display().to_string();
    if text.chars().any(|c| c == '"' || c.is_control()) {
        return Err(TargetError::BadPath(text));
    }
    let text = match percent_expanded {
        true => text.replace('%', "%%"),
        false => text,
    };
    Ok(format!("\"{text}\""))
}

/// Locates the sshd binary.
pub fn find_sshd() -> Result<PathBuf, TargetError> {
    if let Some(p) = std::env::var_os("SSHMATRIX_SSHD") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(TargetError::NoSshd);
        }
        if sshd_version(&p).is_empty() {
            return Err(TargetError::NotSshd(format!(
                "SSHMATRIX_SSHD={} is not OpenSSH's sshd (`{} -V` prints no OpenSSH version)",
                p.display(),
                p.display()
            )));
        }
        return Ok(p);
    }
    let mut candidates = vec![PathBuf::from("/usr/sbin/sshd")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("sshd")));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or(TargetError::NoSshd)
}

/// The version banner of an sshd binary (`OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL ...`).
pub fn sshd_version(sshd: &Path) -> String {
    std::process::Command::new(sshd)
        .process_group(0)
        .arg("-V")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stderr).to_string();
            text.lines()
                .find(|l| l.starts_with("OpenSSH"))
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Host keys, generated once per type with ssh-keygen and cached.
#[derive(Debug, Clone)]
pub struct HostKeyStore {
    dir: PathBuf,
}

impl HostKeyStore {
    /// A store in `dir` (created 0700).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        sshmatrix_core::fsx::private_entry(&dir).map_err(std::io::Error::other)?;
        Ok(HostKeyStore { dir })
    }

    /// Path of the host key of `kind` (`ed25519`, `ecdsa`, `rsa`), generating it if needed.
    pub fn get(&self, kind: &str) -> Result<PathBuf, TargetError> {
        let path = self.dir.join(format!("ssh_host_{kind}_key"));
        if path.exists() {
            // Another user's key in a shared store would let them impersonate every target.
            sshmatrix_core::fsx::private_entry(&path).map_err(|why| {
                TargetError::HostKeys(format!(
                    "host key refused: {why}; remove it (sshmatrix makes it again)"
                ))
            })?;
            return Ok(path);
        }
        let tmp = self
            .dir
            .join(format!(".ssh_host_{kind}_key.{}", std::process::id()));
        let tmp_pub = PathBuf::from(format!("{}.pub", tmp.display()));
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(&tmp_pub);
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.process_group(0);
        cmd.args(["-q", "-N", "", "-C", "sshmatrix host key", "-t", kind, "-f"])
            .arg(&tmp);
        match kind {
            "rsa" => cmd.args(["-b", "3072"]),
            "ecdsa" => cmd.args(["-b", "256"]),
            _ => &mut cmd,
        };
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TargetError::HostKeys(e.to_string()))?;
        if !out.status.success() {
            return Err(TargetError::HostKeys(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        fs::rename(&tmp_pub, format!("{}.pub", path.display()))?;
        fs::rename(&tmp, &path)?;
        Ok(path)
    }
}

/// How to build one target.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Target id.
    pub id: String,
    /// Its policy.
    pub policy: Policy,
    /// Host key types (overrides the policy's when the matrix says so).
    pub host_keys: Vec<String>,
    /// Extra sshd_config lines that take precedence over the policy (sshd keeps the first value).
    pub extra: Vec<String>,
    /// sshd LogLevel (at least VERBOSE: only the server says why a key was refused).
    pub log_level: String,
    /// The sshd release the configuration is rendered for (`None`: unknown, verbatim).
    pub dialect: Option<crate::dialect::Dialect>,
    /// Whether the user trusts the `extra` lines (`--trust-sshd-lines`); untrusted ones are
    /// checked with `sshd -T` against a rendering without them.
    pub trusted_extra: bool,
}

impl TargetSpec {
    /// The matrix overrides and the policy's directives as this spec's sshd reads them.
    pub fn adapted(&self) -> (Adapted, Adapted) {
        let extra = self.extra.join("\n");
        let policy = self.policy.directives.trim();
        match &self.dialect {
            None => (verbatim(&extra), verbatim(policy)),
            Some(d) => {
                let facts = crate::dialect::directive_facts();
                (d.adapt(&extra, facts), d.adapt(policy, facts))
            }
        }
    }

    /// The same spec without what the user did not vouch for (untrusted overrides, a candidate
    /// file's directives), when it has any: the baseline [`SshdTarget::check_readback`]
    /// compares with.
    pub fn baseline(&self) -> Option<TargetSpec> {
        let extra = !self.trusted_extra && !self.extra.is_empty();
        if !extra && !self.policy.untrusted {
            return None;
        }
        let mut b = self.clone();
        if extra {
            b.extra.clear();
        }
        if b.policy.untrusted {
            b.policy.directives.clear();
        }
        Some(b)
    }

    /// What rendering for this spec's sshd release changed, one sentence each.
    pub fn changes(&self) -> Vec<String> {
        let (extra, policy) = self.adapted();
        [extra.changes, policy.changes].concat()
    }
}

fn verbatim(text: &str) -> Adapted {
    Adapted {
        text: if text.is_empty() {
            String::new()
        } else {
            format!("{text}\n")
        },
        changes: Vec::new(),
    }
}

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

/// The server end of one connection, for a client that connects a TCP socket: a one-shot port
/// running `sshd -i`, or a Dropbear daemon's port.
pub enum Endpoint {
    /// A one-shot port serving an inetd command.
    OneShot(crate::relay::OneShot),
    /// A per-cell server that listens itself (Dropbear, AsyncSSH).
    Daemon(Box<crate::daemon::Daemon>),
}

impl Endpoint {
    /// The 127.0.0.1 port to connect to.
    pub fn port(&self) -> u16 {
        match self {
            Endpoint::OneShot(o) => o.port,
            Endpoint::Daemon(d) => d.port,
        }
    }

    /// Connections from other local users turned away so far (one-shot ports only: a per-cell
    /// daemon's are seen in its log, [`crate::log::connections`]).
    pub fn turned_away(&self) -> Vec<String> {
        match self {
            Endpoint::OneShot(o) => o.turned_away(),
            Endpoint::Daemon(_) => Vec::new(),
        }
    }

    /// Waits up to `grace` for the server to finish its connection (so its log is complete),
    /// then stops it. Returns whether a signal from outside sshmatrix ended it.
    pub async fn finish(self, grace: Duration) -> bool {
        match self {
            Endpoint::OneShot(o) => {
                o.finish(grace).await == crate::relay::Ended::StoppedFromOutside
            }
            Endpoint::Daemon(d) => {
                d.finish(grace).await;
                false
            }
        }
    }
}

/// Where the rendered configuration points sshd.
pub struct ConfigPaths {
    /// `AuthorizedKeysFile` value.
    pub authorized_keys_file: String,
    /// `HostKey` files, one per host key type of the spec.
    pub host_keys: Vec<String>,
    /// Whether root logs in (adds `PermitRootLogin prohibit-password`).
    pub root_login: bool,
    /// Why root logs in, for the comment in the file.
    pub root_reason: &'static str,
}

/// The subsystem real clients request to end a cell after the session starts: served by sshd
/// itself (`internal-sftp`), so no login shell and none of the user's rc files ever run (the
/// verdict must not depend on the invoking user's dotfiles). Clients name it through
/// `sshmatrix_clients::driver::SESSION_SUBSYSTEM`; a harness test holds the two equal.
pub const SESSION_SUBSYSTEM: &str = "sshmatrix-session";

/// Renders a spec into an sshd_config: harness lines first (sshd keeps the first value of a
/// keyword), then the matrix overrides, then the policy verbatim.
pub fn render_config(spec: &TargetSpec, paths: &ConfigPaths) -> String {
    let mut cfg = format!(
        "# Rendered by sshmatrix for target `{}` from policy `{}` ({}).\n\
         # Harness lines come first: sshd keeps the first value of each keyword.\n\
         LogLevel {}\nPidFile none\nUsePAM no\nAuthorizedKeysFile {}\n\
         # A session served inside sshd ends each real client's cell: no shell, no rc files.\n\
         Subsystem {SESSION_SUBSYSTEM} internal-sftp\n",
        spec.id, spec.policy.id, spec.policy.name, spec.log_level, paths.authorized_keys_file
    );
    if paths.root_login {
        cfg.push_str(&format!(
            "# {}\nPermitRootLogin prohibit-password\n",
            paths.root_reason
        ));
    }
    if !spec.policy.sets("StrictModes") {
        cfg.push_str("StrictModes yes\n");
    }
    for file in &paths.host_keys {
        cfg.push_str(&format!("HostKey {file}\n"));
    }
    let (extra, policy) = spec.adapted();
    if let Some(d) = &spec.dialect {
        let (major, minor) = d.release;
        cfg.push_str(&format!("# Rendered for OpenSSH {major}.{minor}.\n"));
    }
    if !spec.extra.is_empty() {
        cfg.push_str("# Matrix overrides\n");
        cfg.push_str(&extra.text);
    }
    cfg.push_str(&format!("# Policy {}\n{}", spec.policy.id, policy.text));
    cfg
}

/// A byte stream to a server.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The stream to a server serving one connection (`sshd -i`'s stdio, or a socket).
pub type ServerStream = Box<dyn Io>;

/// A server serving one connection; [`ServerSession::finish`] returns its log.
pub enum ServerSession {
    /// A running `sshd -i`.
    Inetd {
        /// The sshd process.
        child: Child,
        /// Its stderr, read to the end.
        log: JoinHandle<String>,
    },
    /// A per-cell server that listens itself (Dropbear, AsyncSSH).
    Daemon(Box<crate::daemon::Daemon>),
    /// A connection forked by a container's helper: done when the splice ends.
    Helped {
        /// Copies between the client's pipe and the helper's socket.
        splice: JoinHandle<()>,
        /// The server's log file (in the mounted log directory).
        log: PathBuf,
    },
}

/// What a server serving one connection left when it finished.
#[derive(Debug, Default)]
pub struct Finished {
    /// Everything it logged.
    pub log: String,
    /// Whether a signal from outside sshmatrix ended it (see [`stopped_from_outside`]).
    pub stopped_from_outside: bool,
}

/// Whether a child process was ended by SIGHUP, SIGINT or SIGTERM. sshmatrix ends its children
/// only with SIGKILL, so such a signal came from outside: a terminal's Ctrl-C (or a job
/// controller) signalling sshmatrix's process group while the child was being started, before
/// it had left that group. Whatever the cell then saw was the signal's doing, not the server's.
pub fn stopped_from_outside(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(status.signal(), Some(1 | 2 | 15))
}

impl ServerSession {
    /// Waits up to `grace` for the server to finish (the client has closed the stream), kills
    /// it otherwise, and returns everything it logged.
    pub async fn finish(self, grace: Duration) -> String {
        self.finish_checked(grace).await.log
    }

    /// [`ServerSession::finish`], saying also whether a signal from outside ended the server
    /// (`sshd -i` on this host; the other servers are not in sshmatrix's process group).
    pub async fn finish_checked(self, grace: Duration) -> Finished {
        let (mut child, mut log) = match self {
            ServerSession::Daemon(d) => {
                let log = d.finish(grace).await;
                return Finished {
                    log,
                    ..Finished::default()
                };
            }
            ServerSession::Helped { mut splice, log } => {
                if tokio::time::timeout(grace, &mut splice).await.is_err() {
                    splice.abort();
                }
                let text = fs::read_to_string(&log).unwrap_or_default();
                let _ = fs::remove_file(&log);
                return Finished {
                    log: text,
                    ..Finished::default()
                };
            }
            ServerSession::Inetd { child, log } => (child, log),
        };
        let stopped_from_outside = match tokio::time::timeout(grace, child.wait()).await {
            Ok(status) => status.is_ok_and(|s| stopped_from_outside(&s)),
            Err(_) => {
                let _ = child.kill().await;
                false
            }
        };
        let log = match tokio::time::timeout(grace, &mut log).await {
            Ok(Ok(text)) => text,
            _ => {
                log.abort();
                String::new()
            }
        };
        Finished {
            log,
            stopped_from_outside,
        }
    }
}

fn current_uid() -> Option<String> {
    fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
    })
}

/// Whether the current process runs as root.
pub fn running_as_root() -> bool {
    current_uid().as_deref() == Some("0")
}

/// The login name of the OS user running sshmatrix: the account every cell of the local
/// backend logs in to (from /etc/passwd by uid, else $USER).
pub fn current_user() -> String {
    let by_uid = current_uid().and_then(|uid| {
        fs::read_to_string("/etc/passwd").ok().and_then(|p| {
            p.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == uid)
                .map(|f| f[0].to_string())
        })
    });
    by_uid
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

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
        }
    }

    /// A server process listening on a free port for one connection (Dropbear, AsyncSSH).
    async fn listening(
        &self,
        log: Option<PathBuf>,
        wait: Duration,
    ) -> Option<std::io::Result<crate::daemon::Daemon>> {
        match &self.server {
            Server::Dropbear(d) => Some(d.serve(log, wait, self.helper.as_deref()).await),
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
            Server::Dropbear(_) | Server::AsyncSsh(_) => None,
        }
    }

    /// The shell command that runs one inetd-style connection of this target, its log going
    /// to `log` (a client's ProxyCommand); `None` for a server that has no such mode here
    /// (Dropbear, AsyncSSH: [`SshdTarget::serve`] gives a port instead).
    pub fn inetd_command(&self, log: &Path) -> Option<String> {
        let (launcher, args) = self.inetd_parts()?;
        let mut words: Vec<String> = launcher.iter().chain(&args).map(|w| sh_quote(w)).collect();
        words.push(format!("2>{}", sh_quote(&log.display().to_string())));
        Some(words.join(" "))
    }

    /// A port serving one connection of this target within `wait`, its server log going to
    /// `log`.
    pub async fn serve(&self, log: &Path, wait: Duration) -> std::io::Result<Endpoint> {
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

    /// The sshd launcher and the configuration path it reads (OpenSSH targets).
    fn sshd_parts(&self) -> Result<(&[String], &str), TargetError> {
        match &self.server {
            Server::Sshd {
                launcher,
                config_seen,
                ..
            } => Ok((launcher, config_seen)),
            _ => Err(TargetError::NotOpenssh {
                target: self.id.clone(),
            }),
        }
    }

    /// `sshd -T` on the rendered config: the effective settings, or the error sshd gives.
    pub fn effective_config(&self) -> Result<String, TargetError> {
        let (_, config_seen) = self.sshd_parts()?;
        self.dump(config_seen)
    }

    /// Checks what untrusted lines (matrix overrides without `--trust-sshd-lines`, a candidate
    /// file's directives) make sshd do: every setting that reads files or runs commands must
    /// read back (`sshd -T`) as it does without them. A no-op for targets without such lines.
    pub fn check_readback(&self) -> Result<(), TargetError> {
        let Server::Sshd {
            baseline_seen: Some(baseline),
            config_seen,
            ..
        } = &self.server
        else {
            return Ok(());
        };
        let (with, without) = (self.dump(config_seen)?, self.dump(baseline)?);
        let guarded = crate::directive::UNSAFE
            .iter()
            .copied()
            .chain(["subsystem"]);
        for keyword in guarded {
            let mut a = crate::directive::dumped(&with, keyword);
            let mut b = crate::directive::dumped(&without, keyword);
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                let value = a
                    .iter()
                    .find(|v| !b.contains(v))
                    .copied()
                    .unwrap_or("(unset)");
                return Err(TargetError::Untrusted {
                    target: self.id.clone(),
                    keyword: keyword.to_string(),
                    value: value.to_string(),
                });
            }
        }
        Ok(())
    }

    /// `sshd -T` of a configuration this target's sshd reads at `config_seen`.
    fn dump(&self, config_seen: &str) -> Result<String, TargetError> {
        ensure_privsep_dir();
        let (launcher, _) = self.sshd_parts()?;
        let out = std::process::Command::new(&launcher[0])
            .process_group(0)
            .args(&launcher[1..])
            .arg("-T")
            .arg("-f")
            .arg(config_seen)
            .args(["-C", "user=sshmatrix,host=localhost,addr=127.0.0.1"])
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(TargetError::BadConfig {
                target: self.id.clone(),
                config: self.config.display().to_string(),
                message: scrub_config_errors(
                    &String::from_utf8_lossy(&out.stderr),
                    &self.config.display().to_string(),
                ),
            })
        }
    }

    /// The effective settings ([`Effective::parse`] of `sshd -T`) with what depends on the
    /// server's release (from `sshd -V`) filled in.
    pub fn effective(&self, host_key_types: &[String]) -> Result<Effective, TargetError> {
        match &self.server {
            Server::Dropbear(d) => {
                let kind = ServerKind::Dropbear;
                return Ok(Effective::from_facts(kind, &d.facts, host_key_types));
            }
            Server::Tinyssh { facts, .. } => {
                let kind = ServerKind::Tinyssh;
                return Ok(Effective::from_facts(kind, facts, host_key_types));
            }
            Server::AsyncSsh(a) => {
                let kind = ServerKind::Asyncssh;
                return Ok(Effective::from_facts(kind, &a.facts, host_key_types));
            }
            Server::Sshd { .. } => {}
        }
        let mut e = Effective::parse(&self.effective_config()?, host_key_types);
        e.release = self.release();
        Ok(e)
    }

    /// The OpenSSH release (major, minor) of this target's sshd, from `sshd -V`.
    pub fn release(&self) -> Option<(u32, u32)> {
        self.sshd_parts().ok().and_then(|(l, _)| release_of(l))
    }

    /// Starts serving one connection (within `wait`): the stream to the server and the session
    /// that yields its log.
    pub async fn connect(
        &self,
        wait: Duration,
    ) -> Result<(ServerStream, ServerSession), TargetError> {
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

/// One connection forked by a container's helper, for a client in this process: the stream is
/// one end of a pipe spliced to the helper's socket, so the session knows when the server has
/// exited (the helper's EOF) and its log file is complete.
async fn helped_session(
    helper: &crate::helper::Helper,
    argv: &[String],
) -> Result<(ServerStream, ServerSession), TargetError> {
    let log = helper
        .fresh_log()
        .ok_or_else(|| std::io::Error::other("the container's helper has no log directory"))?;
    let mut socket = helper.inetd(&log, argv).await?;
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let splice = tokio::spawn(async move {
        crate::relay::splice(&mut theirs, &mut socket).await;
    });
    Ok((Box::new(ours), ServerSession::Helped { splice, log }))
}

/// The directory of target `id` under `run_dir` (0700), created.
pub fn target_dir(run_dir: &Path, id: &str) -> Result<PathBuf, TargetError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = run_dir.join("targets").join(id);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

pub use sshmatrix_core::text::sh_quote;

/// sshd refuses to start without its privilege separation directory (a tmpfs path that may be
/// missing on a fresh machine); create it when we can.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        let _ = fs::create_dir_all(dir);
    }
}

/// The effective settings of a target that decide a login, read from `sshd -T`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective {
    /// KexAlgorithms.
    pub kex: Vec<String>,
    /// Host key algorithms offered: HostKeyAlgorithms limited to the loaded host keys.
    pub hostkey: Vec<String>,
    /// Ciphers.
    pub ciphers: Vec<String>,
    /// MACs.
    pub macs: Vec<String>,
    /// Compression methods offered.
    pub compression: Vec<String>,
    /// PubkeyAcceptedAlgorithms.
    pub pubkey_accepted: Vec<String>,
    /// RequiredRSASize (at least sshd's hard floor of 1024).
    pub required_rsa_size: u32,
    /// PubkeyAuthentication.
    pub pubkey_auth: bool,
    /// PasswordAuthentication.
    pub password_auth: bool,
    /// AllowAgentForwarding.
    pub agent_forwarding: bool,
    /// MaxAuthTries.
    pub max_auth_tries: u32,
    /// The OpenSSH release, when known (`sshd -V`).
    pub release: Option<(u32, u32)>,
    /// The ext-info `server-sig-algs` as the server sends it, where that is data (Dropbear,
    /// TinySSH: `Some(empty)` when it sends none);
    /// `None` for OpenSSH, whose list follows from its release (see
    /// [`Effective::filters_server_sig_algs`]).
    pub server_sig_algs: Option<Vec<String>>,
    /// Which server these settings are of (OpenSSH unless they come from policy facts).
    pub server: crate::policy::ServerKind,
    /// Whether `kex` is the list as the server sends it, protocol markers included (a scan of
    /// a live server); `false` for `sshd -T` output, which prints no markers.
    pub kex_as_sent: bool,
}

/// Whether a loaded host key of one of `host_key_types` backs host key algorithm `alg`.
fn backed(host_key_types: &[String], alg: &str) -> bool {
    host_key_types.iter().any(|t| match t.as_str() {
        // ssh.com's ssh-rsa-sha256@ssh.com family included (AsyncSSH offers it); certificate
        // algorithms need a host certificate, which no target has.
        "rsa" => {
            (alg.starts_with("rsa-sha2-") || alg.starts_with("ssh-rsa")) && !alg.contains("-cert-")
        }
        "ecdsa" => alg == "ecdsa-sha2-nistp256",
        "ed25519" => alg == "ssh-ed25519",
        _ => false,
    })
}

/// The OpenSSH release (major, minor) of the sshd `launcher` starts (its binary, or `docker
/// exec … sshd`), from `sshd -V`.
pub fn release_of(launcher: &[String]) -> Option<(u32, u32)> {
    let out = std::process::Command::new(&launcher[0])
        .process_group(0)
        .args(&launcher[1..])
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    parse_release(&String::from_utf8_lossy(&out.stderr))
}

/// `(9, 2)` from a version banner such as `OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0`.
pub fn parse_release(banner: &str) -> Option<(u32, u32)> {
    let v = banner.split("OpenSSH_").nth(1)?;
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl Effective {
    /// Whether the server's ext-info `server-sig-algs` lists only the algorithms
    /// PubkeyAcceptedAlgorithms allows: OpenSSH 9.6 and later (kex.c); before, it lists every
    /// algorithm it implements, so a client may pick one the server then refuses.
    pub fn filters_server_sig_algs(&self) -> bool {
        self.release.is_some_and(|r| r >= (9, 6))
    }
}

impl Effective {
    /// Parses `sshd -T` output for a target with host keys of `host_key_types`.
    pub fn parse(dump: &str, host_key_types: &[String]) -> Self {
        // Keywords are matched case-insensitively: `sshd -T` prints them in mixed case from 10.5
        // on (upstream changes listed under Debian openssh 1:10.5p1-1; seen in the forky image).
        let get = |k: &str| -> Vec<String> {
            dump.lines()
                .filter_map(|l| {
                    let (key, value) = l.split_once(' ')?;
                    key.eq_ignore_ascii_case(k).then_some(value)
                })
                .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let one = |k: &str| get(k).into_iter().next().unwrap_or_default();
        Effective {
            kex: get("kexalgorithms"),
            hostkey: get("hostkeyalgorithms")
                .into_iter()
                .filter(|a| backed(host_key_types, a))
                .collect(),
            ciphers: get("ciphers"),
            macs: get("macs"),
            compression: if one("compression") == "no" {
                vec!["none".into()]
            } else {
                vec!["none".into(), "zlib@openssh.com".into()]
            },
            // OpenSSH before 8.5 calls it PubkeyAcceptedKeyTypes.
            pubkey_accepted: [
                get("pubkeyacceptedalgorithms"),
                get("pubkeyacceptedkeytypes"),
            ]
            .concat(),
            required_rsa_size: one("requiredrsasize")
                .parse::<u32>()
                .unwrap_or(1024)
                .max(1024),
            pubkey_auth: one("pubkeyauthentication") != "no",
            password_auth: one("passwordauthentication") == "yes",
            agent_forwarding: one("allowagentforwarding") == "yes",
            max_auth_tries: one("maxauthtries").parse().unwrap_or(6),
            release: None,
            server_sig_algs: None,
            server: crate::policy::ServerKind::Openssh,
            kex_as_sent: false,
        }
    }

    /// The settings of a non-OpenSSH build (policy data) serving host keys of
    /// `host_key_types`.
    pub fn from_facts(
        server: crate::policy::ServerKind,
        d: &crate::policy::ServerFacts,
        host_key_types: &[String],
    ) -> Self {
        Effective {
            kex: d.kex.clone(),
            hostkey: d
                .hostkey
                .iter()
                .filter(|a| backed(host_key_types, a))
                .cloned()
                .collect(),
            ciphers: d.ciphers.clone(),
            macs: d.macs.clone(),
            compression: d.compression.clone(),
            pubkey_accepted: d.pubkey_algorithms.clone(),
            required_rsa_size: d.rsa_min_bits,
            pubkey_auth: true,
            password_auth: d.password_auth(),
            agent_forwarding: true,
            max_auth_tries: d.max_auth_tries(),
            release: None,
            server_sig_algs: Some(d.server_sig_algs.clone()),
            server,
            kex_as_sent: true,
        }
    }
}

/// sshd's complaints about a configuration, without anything quoted from other files: only
/// lines about the rendered config itself are kept (each at most 300 characters), so a
/// directive pointing at a secret file never echoes its contents.
pub fn scrub_config_errors(stderr: &str, config: &str) -> String {
    let kept: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(config) || !l.contains('/'))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect())
        .take(10)
        .collect();
    match kept.is_empty() {
        true => "sshd refused the configuration (its messages referred to other files and are not shown)".into(),
        false => kept.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::stopped_from_outside;

    /// The exit status of a shell that sends itself `signal`.
    fn ended_by(signal: &str) -> std::process::ExitStatus {
        std::process::Command::new("sh")
            .args(["-c", &format!("kill -{signal} $$")])
            .status()
            .unwrap()
    }

    #[test]
    fn only_a_terminal_or_job_controller_signal_counts_as_from_outside() {
        for s in ["HUP", "INT", "TERM"] {
            assert!(stopped_from_outside(&ended_by(s)), "{s}");
        }
        // sshmatrix's own kill, and a server that crashed or exited.
        assert!(!stopped_from_outside(&ended_by("KILL")));
        assert!(!stopped_from_outside(&ended_by("SEGV")));
        let exited = std::process::Command::new("false").status().unwrap();
        assert!(!stopped_from_outside(&exited));
    }
}
