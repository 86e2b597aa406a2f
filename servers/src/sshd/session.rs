//! The server end of one connection: a port for clients that connect a socket, or a stream
//! and the session that yields the server's log when it ends.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Child;
use tokio::task::JoinHandle;

use sshmatrix_core::process::stopped_from_outside;

use super::TargetError;

/// The server end of one connection, for a client that connects a TCP socket: a one-shot port
/// running `sshd -i`, or a Dropbear daemon's port.
pub enum Endpoint {
    /// A one-shot port serving an inetd command.
    OneShot(crate::relay::OneShot),
    /// A per-cell server that listens itself (Dropbear, AsyncSSH).
    Daemon(Box<crate::daemon::Daemon>),
    /// A cell's turn on a target's listening sshd.
    Shared(Turn),
}

/// A cell's turn on a target's listening sshd (one cell at a time): the daemon, where the cell's
/// lines begin in its log, and the file the cell's lines are written to when it finishes.
pub struct Turn {
    pub(crate) daemon: std::sync::Arc<crate::daemon::Daemon>,
    pub(crate) from: usize,
    pub(crate) log: Option<PathBuf>,
}

impl Turn {
    /// The cell's lines, once its connection has ended (within `grace`).
    async fn lines(&self, grace: Duration) -> String {
        let ends = crate::log::CONNECTION_ENDS;
        let lines = self.daemon.lines_from(self.from, ends, grace).await;
        lines.join("\n") + "\n"
    }
}

impl Endpoint {
    /// The 127.0.0.1 port to connect to.
    pub fn port(&self) -> u16 {
        match self {
            Endpoint::OneShot(o) => o.port,
            Endpoint::Daemon(d) => d.port,
            Endpoint::Shared(t) => t.daemon.port,
        }
    }

    /// Connections from other local users turned away so far (one-shot ports only: a per-cell
    /// daemon's are seen in its log, [`crate::log::connections`]).
    pub fn turned_away(&self) -> Vec<String> {
        match self {
            Endpoint::OneShot(o) => o.turned_away(),
            Endpoint::Daemon(_) | Endpoint::Shared(_) => Vec::new(),
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
            Endpoint::Shared(t) => {
                let text = t.lines(grace).await;
                if let Some(log) = &t.log {
                    let _ = fs::write(log, text);
                }
                false
            }
        }
    }
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
    /// A cell's turn on a target's listening sshd.
    Shared(Turn),
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
    /// Whether a signal from outside sshmatrix ended it (see
    /// [`sshmatrix_core::process::stopped_from_outside`]).
    pub stopped_from_outside: bool,
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
            ServerSession::Shared(t) => {
                return Finished {
                    log: t.lines(grace).await,
                    ..Finished::default()
                }
            }
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

/// One connection forked by a container's helper, for a client in this process: the stream is
/// one end of a pipe spliced to the helper's socket, so the session knows when the server has
/// exited (the helper's EOF) and its log file is complete.
pub(super) async fn helped_session(
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
