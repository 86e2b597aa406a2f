//! Servers that listen themselves, one per cell (Dropbear, whose inetd mode logs only to syslog;
//! the AsyncSSH server program): started on a free 127.0.0.1 port, ready when they log so,
//! their log collected from stderr, stopped when the cell is done. Each runs under a small `sh`
//! wrapper that kills it when its stdin closes, so one inside a container (`docker exec -i`)
//! stops with the host-side process.

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A free port on 127.0.0.1 (bound and released; the daemon binds it next).
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// How to start one kind of listening server: where it runs, the log line that says its port
/// is open, and the one that says someone else took the port (retried with another).
pub struct Listen<'a> {
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`; empty:
    /// this host).
    pub prefix: &'a [String],
    /// The helper of that container: when given, it starts the server instead of a
    /// `docker exec`.
    pub helper: Option<&'a crate::helper::Helper>,
    /// The log line once listening.
    pub ready: &'a str,
    /// The log text of a port already taken.
    pub port_taken: &'a str,
    /// The server's name, for messages.
    pub what: &'a str,
    /// Whether the server serves SFTP and nothing else (ProFTPD's `mod_sftp`): clients request
    /// the `sftp` subsystem once logged in.
    pub sftp_only: bool,
}

impl Listen<'_> {
    /// Starts `argv(port)` on a free port for one connection, ready within `wait`; its log is
    /// also written to `log` when given.
    pub async fn serve(
        &self,
        argv: impl Fn(u16) -> Vec<String>,
        log: Option<PathBuf>,
        wait: Duration,
    ) -> io::Result<Daemon> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let words = argv(port);
            let spawned = match self.helper {
                Some(h) => Spawned::helped(h, &words).await?,
                None => Spawned::wrapped(self.prefix, &words)?,
            };
            let started = Daemon::start(spawned, port, self, log.clone(), wait);
            match started.await? {
                Ok(d) => return Ok(d),
                // Python's asyncio says "address already in use" in lower case.
                Err(text)
                    if text
                        .to_lowercase()
                        .contains(&self.port_taken.to_lowercase()) =>
                {
                    last = text
                }
                Err(text) => {
                    return Err(io::Error::other(format!(
                        "{} did not start: {}",
                        self.what,
                        text.trim()
                    )))
                }
            }
        }
        Err(io::Error::other(format!(
            "{} found no free port: {}",
            self.what,
            last.trim()
        )))
    }
}

/// A server that listens itself, one daemon per cell where its `prefix` says (a container:
/// Dropbear, ProFTPD, Twisted Conch), started by the container's helper when there is one.
pub trait PerCell {
    /// How it is known to listen (its `prefix` and `helper` are filled in per start).
    const LISTEN: Listen<'static>;
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`).
    fn prefix(&self) -> &[String];
    /// Its argv listening on 127.0.0.1:`port`.
    fn argv(&self, port: u16) -> Vec<String>;
}

/// Starts `server` for one connection, ready within `wait`; its log is also written to `log`
/// when given.
pub async fn serve_per_cell<S: PerCell>(
    server: &S,
    log: Option<PathBuf>,
    wait: Duration,
    helper: Option<&crate::helper::Helper>,
) -> io::Result<Daemon> {
    let listen = Listen {
        prefix: server.prefix(),
        helper,
        ..S::LISTEN
    };
    listen.serve(|port| server.argv(port), log, wait).await
}

/// A running per-cell daemon.
pub struct Daemon {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Whether it serves SFTP and nothing else ([`Listen::sftp_only`]).
    pub sftp_only: bool,
    /// The wrapper process (`None`: a container's helper runs the daemon).
    child: Option<Child>,
    /// Closing it stops the daemon.
    stdin: Option<Box<dyn AsyncWrite + Send + Sync + Unpin>>,
    lines: watch::Receiver<Vec<String>>,
    reader: JoinHandle<()>,
}

/// A daemon just started: what stops it and where its log comes from.
struct Spawned {
    child: Option<Child>,
    stdin: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    log: Box<dyn AsyncRead + Send + Sync + Unpin>,
}

impl Spawned {
    /// `argv` under `prefix` in the [`WRAPPER`]: its stdin stops it, its stderr is the log.
    fn wrapped(prefix: &[String], argv: &[String]) -> io::Result<Spawned> {
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
        let stdin = child.stdin.take().expect("piped stdin");
        let log = child.stderr.take().expect("piped stderr");
        Ok(Spawned {
            child: Some(child),
            stdin: Box::new(stdin),
            log: Box::new(log),
        })
    }

    /// `argv` started by a container's helper: the connection carries its stderr, and closing
    /// our side stops it.
    async fn helped(helper: &crate::helper::Helper, argv: &[String]) -> io::Result<Spawned> {
        let (read, write) = helper.daemon(argv).await?.into_split();
        Ok(Spawned {
            child: None,
            stdin: Box::new(write),
            log: Box::new(read),
        })
    }
}

/// Kills the daemon when the wrapper's stdin closes, and ends with the daemon: a daemon that
/// exits at once (its port taken meanwhile) closes the log pipe, so its words are read and the
/// start retried instead of waited on. The watcher reads the wrapper's own stdin (fd 3: a
/// background job's stdin is /dev/null) and holds no copy of the log pipe.
const WRAPPER: &str =
    "exec 3<&0; \"$@\" & d=$!; { read _ <&3; kill $d; } >/dev/null 2>&1 & wait $d";

impl Daemon {
    /// Waits for a spawned daemon to listen as `how` says: the daemon, or what it logged before
    /// exiting.
    async fn start(
        spawned: Spawned,
        port: u16,
        how: &Listen<'_>,
        log: Option<PathBuf>,
        wait: Duration,
    ) -> io::Result<Result<Daemon, String>> {
        let Spawned {
            child,
            stdin,
            log: stderr,
        } = spawned;
        let stdin = Some(stdin);
        let (tx, mut lines) = watch::channel(Vec::new());
        let reader = tokio::spawn(read_log(stderr, tx, log));
        let ready = tokio::time::timeout(
            wait,
            lines.wait_for(|l| l.iter().any(|l| l.contains(how.ready))),
        )
        .await
        .map(|r| r.is_ok());
        if ready == Ok(true) && !accepts(port, wait).await {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server said it was ready but did not listen in time",
            ));
        }
        match ready {
            Ok(true) => Ok(Ok(Daemon {
                port,
                sftp_only: how.sftp_only,
                child,
                stdin,
                lines,
                reader,
            })),
            Ok(false) => Ok(Err(lines.borrow().join("\n"))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server did not start listening in time",
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
            if let Some(child) = self.child.as_mut() {
                let _ = child.kill().await;
            }
            // Aborting the reader drops a helper's connection, which stops the daemon.
            self.reader.abort();
        }
        if let Some(child) = self.child.as_mut() {
            let _ = tokio::time::timeout(grace, child.wait()).await;
        }
        let text = self.lines.borrow().join("\n");
        text + "\n"
    }

    /// How many lines it has logged so far.
    pub fn logged(&self) -> usize {
        self.lines.borrow().len()
    }

    /// The lines logged from line `from` on, once one of them ends a connection (`ends`) or
    /// `grace` has passed: one connection's lines of a daemon serving one at a time.
    pub async fn lines_from(&self, from: usize, ends: &[&str], grace: Duration) -> Vec<String> {
        let mut rx = self.lines.clone();
        let ended = |l: &Vec<String>| {
            l.iter()
                .skip(from)
                .any(|x| ends.iter().any(|e| x.contains(e)))
        };
        let _ = tokio::time::timeout(grace, rx.wait_for(ended)).await;
        let all = rx.borrow();
        all.iter().skip(from).cloned().collect()
    }
}

/// Waits, within `wait`, for 127.0.0.1:`port` to listen, polling the kernel's table
/// ([`crate::peer::listening`]): a connection would count as a client of the daemon. True at
/// once where the table cannot be read. ProFTPD logs `standalone mode STARTUP` before it calls
/// `listen()` (src/main.c: `server_loop` → `pr_ipbind_listen`), so its ready line alone let a
/// client in too early (measured: "Connection refused" now and then).
async fn accepts(port: u16, wait: Duration) -> bool {
    let local = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match crate::peer::listening(local) {
            Some(false) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            Some(false) => return false,
            _ => return true,
        }
    }
}

/// Collects the daemon's stderr line by line (published on `tx`, appended to `log`).
async fn read_log(
    stderr: Box<dyn AsyncRead + Send + Sync + Unpin>,
    tx: watch::Sender<Vec<String>>,
    log: Option<PathBuf>,
) {
    // Appended to: a served daemon's log may be the user's file (`serve --log`).
    let mut file = match &log {
        Some(p) => tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(p)
            .await
            .ok(),
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
