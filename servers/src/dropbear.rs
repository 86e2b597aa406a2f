//! Dropbear targets. Dropbear's inetd mode (`-i`) logs only to syslog, so each cell gets a
//! foreground daemon of its own (`-F -E`: log to stderr) on a free 127.0.0.1 port, serving the
//! cell's one connection and stopped once the client is done: as with `sshd -i`, every cell
//! keeps its own server process and log.
//!
//! The daemon runs under a small `sh` wrapper that kills it when its stdin closes, so a daemon
//! inside a container (`docker exec -i`) stops with the host-side process. The connection's
//! own process is left to finish (the client has closed it), so its last log line — how the
//! connection ended — is always in the log.

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::policy::ServerFacts;

/// The server binary in the Debian images.
pub const DROPBEAR: &str = "/usr/sbin/dropbear";

/// What every session runs (`-c`): whatever a client asks for, only `true` runs (Dropbear
/// serves no subsystem but `sftp`, so real clients run this command instead of
/// `sshmatrix-session`).
pub const FORCED_COMMAND: &str = "true";

/// The line a foreground daemon logs once its port is listening.
const READY: &str = "Not backgrounding";

/// Where a host key of `kind` lives in a Dropbear target's container (Dropbear's own format).
pub fn host_key_path(kind: &str) -> String {
    format!("/etc/sshmatrix/hostkeys/dropbear_{kind}_host_key")
}

/// How to run one Dropbear target's per-cell daemons.
#[derive(Debug, Clone)]
pub struct Dropbear {
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`).
    pub prefix: Vec<String>,
    /// What the build does, with the options the platform runs it with.
    pub facts: ServerFacts,
    /// The target's host key types.
    pub host_key_types: Vec<String>,
}

impl Dropbear {
    /// The dropbear argv of a daemon listening on 127.0.0.1:`port`.
    pub fn argv(&self, port: u16) -> Vec<String> {
        let mut argv: Vec<String> = [DROPBEAR, "-F", "-E", "-p"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.push(format!("127.0.0.1:{port}"));
        argv.extend(["-c".to_string(), FORCED_COMMAND.to_string()]);
        for kind in &self.host_key_types {
            argv.extend(["-r".to_string(), host_key_path(kind)]);
        }
        argv.extend(self.facts.options.iter().cloned());
        argv
    }

    /// Starts a daemon for one connection, ready within `wait`; its log is also written to
    /// `log` when given. A port taken in the meantime by someone else is retried.
    pub async fn serve(&self, log: Option<PathBuf>, wait: Duration) -> io::Result<Daemon> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match Daemon::start(&self.prefix, &self.argv(port), port, log.clone(), wait).await? {
                Ok(d) => return Ok(d),
                Err(text) if text.contains("Failed listening") => last = text,
                Err(text) => {
                    return Err(io::Error::other(format!(
                        "dropbear did not start: {}",
                        text.trim()
                    )))
                }
            }
        }
        Err(io::Error::other(format!(
            "dropbear found no free port: {}",
            last.trim()
        )))
    }
}

/// A free port on 127.0.0.1 (bound and released; the daemon binds it next).
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running per-cell daemon.
pub struct Daemon {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: watch::Receiver<Vec<String>>,
    reader: JoinHandle<()>,
}

/// Kills the daemon when the wrapper's stdin closes (a background job's stdin is /dev/null,
/// so `read` waits on the wrapper's own).
const WRAPPER: &str = "\"$@\" & read _; kill $! 2>/dev/null; wait";

impl Daemon {
    /// Spawns `argv` (under `prefix`) and waits for it to listen: the daemon, or what it
    /// logged before exiting.
    async fn start(
        prefix: &[String],
        argv: &[String],
        port: u16,
        log: Option<PathBuf>,
        wait: Duration,
    ) -> io::Result<Result<Daemon, String>> {
        let mut words: Vec<String> = prefix.to_vec();
        words.extend(["/bin/sh".into(), "-c".into(), WRAPPER.into(), "sh".into()]);
        words.extend(argv.iter().cloned());
        let mut child = Command::new(&words[0])
            .args(&words[1..])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, mut lines) = watch::channel(Vec::new());
        let reader = tokio::spawn(read_log(stderr, tx, log));
        let ready = tokio::time::timeout(
            wait,
            lines.wait_for(|l| l.iter().any(|l| l.contains(READY))),
        )
        .await
        .map(|r| r.is_ok());
        match ready {
            Ok(true) => Ok(Ok(Daemon {
                port,
                child,
                stdin,
                lines,
                reader,
            })),
            Ok(false) => Ok(Err(lines.borrow().join("\n"))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "dropbear did not start listening in time",
            )),
        }
    }

    /// Stops the daemon (the client is done) and returns everything logged: the
    /// connection's own process finishes by itself; after `grace` it is killed.
    pub async fn finish(mut self, grace: Duration) -> String {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.shutdown().await;
        }
        if tokio::time::timeout(grace, &mut self.reader).await.is_err() {
            let _ = self.child.kill().await;
            self.reader.abort();
        }
        let _ = tokio::time::timeout(grace, self.child.wait()).await;
        let text = self.lines.borrow().join("\n");
        text + "\n"
    }
}

/// Collects the daemon's stderr line by line (published on `tx`, appended to `log`).
async fn read_log(
    stderr: tokio::process::ChildStderr,
    tx: watch::Sender<Vec<String>>,
    log: Option<PathBuf>,
) {
    let mut file = match &log {
        Some(p) => tokio::fs::File::create(p).await.ok(),
        None => None,
    };
    let mut reader = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(format!("{line}\n").as_bytes()).await;
        }
        tx.send_modify(|l| l.push(line));
    }
    if let Some(f) = file.as_mut() {
        let _ = f.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_serves_one_port_with_the_targets_host_keys_and_options() {
        let d = Dropbear {
            prefix: vec![],
            facts: ServerFacts {
                version: "2022.83".into(),
                options: vec!["-s".into()],
                kex: vec![],
                hostkey: vec![],
                ciphers: vec![],
                macs: vec![],
                compression: vec![],
                server_sig_algs: vec![],
                pubkey_algorithms: vec![],
                rsa_min_bits: 1024,
            },
            host_key_types: vec!["ed25519".into(), "rsa".into()],
        };
        assert_eq!(
            d.argv(2222).join(" "),
            "/usr/sbin/dropbear -F -E -p 127.0.0.1:2222 -c true \
             -r /etc/sshmatrix/hostkeys/dropbear_ed25519_host_key \
             -r /etc/sshmatrix/hostkeys/dropbear_rsa_host_key -s"
        );
    }
}
