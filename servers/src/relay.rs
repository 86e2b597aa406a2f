//! One-shot endpoints on 127.0.0.1: accept a single TCP connection and hand the socket to a
//! shell command as its stdin and stdout, the way inetd does. A client that cannot run this
//! host's proxy command (one running inside a client container) reaches a cell's `sshd -i` — or
//! the KEXINIT capture stub — through one of these; each cell keeps its own server process and
//! log.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use tokio::task::JoinHandle;

/// A listening one-shot endpoint. Dropping it closes the port and kills the command.
pub struct OneShot {
    /// The port on 127.0.0.1.
    pub port: u16,
    task: Option<JoinHandle<io::Result<Ended>>>,
    turned_away: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Binds a free port on 127.0.0.1; the first connection accepted within `wait` runs `command`
/// (`sh -c`) with the socket as stdin and stdout. Later connections are never accepted.
pub async fn serve_once(command: String, wait: Duration) -> io::Result<OneShot> {
    one_shot(
        wait,
        move |sock| async move { run_on(sock, &command).await },
    )
    .await
}

/// Binds a free port on 127.0.0.1; the first connection accepted within `wait` is spliced to
/// the stream `upstream` opens (a container helper's connection), until both ends are done.
pub async fn serve_once_to<F>(wait: Duration, upstream: F) -> io::Result<OneShot>
where
    F: std::future::Future<Output = io::Result<tokio::net::TcpStream>> + Send + 'static,
{
    one_shot(wait, move |mut sock| async move {
        let mut up = upstream.await?;
        splice(&mut sock, &mut up).await;
        Ok(Ended::Exited)
    })
    .await
}

/// Binds a free port on 127.0.0.1 and hands the first connection accepted within `wait` from
/// this user (or root) to `serve`; the listener closes once it is taken. A connection from
/// another local user is closed unserved and said in [`OneShot::turned_away`]: no other user can
/// take a cell's server (a root `sshd -i`) or stand in for it.
async fn one_shot<F, Fut>(wait: Duration, serve: F) -> io::Result<OneShot>
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = io::Result<Ended>> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let local = listener.local_addr()?;
    let turned_away = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let away = turned_away.clone();
    let task = tokio::spawn(async move {
        let accepted = tokio::time::timeout(wait, async {
            loop {
                let (sock, peer) = listener.accept().await?;
                match crate::peer::trusted(local, peer) {
                    Ok(()) => return Ok::<_, io::Error>(sock),
                    Err(why) => away.lock().expect("lock").push(why),
                }
            }
        });
        let sock = accepted
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no client connected"))??;
        drop(listener);
        serve(sock).await
    });
    Ok(OneShot {
        port: local.port(),
        task: Some(task),
        turned_away,
    })
}

/// Copies both ways between a client and a server stream until the server has closed its
/// side: if the client's side fails first, the server is told EOF and read to its end, so
/// whatever the server does last (its log) is done when this returns.
pub async fn splice<C, S>(client: &mut C, server: &mut S)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    if tokio::io::copy_bidirectional(client, server).await.is_err() {
        let _ = server.shutdown().await;
        let _ = tokio::io::copy(server, &mut tokio::io::sink()).await;
    }
}

/// Runs `command` (`sh -c`) with `sock` as its stdin and stdout until it exits. The Command
/// (and its copies of the socket) is dropped once spawned, so the socket closes when the
/// command exits.
async fn run_on(sock: tokio::net::TcpStream, command: &str) -> io::Result<Ended> {
    let sock = sock.into_std()?;
    sock.set_nonblocking(false)?;
    let fd: OwnedFd = sock.into();
    let out = fd.try_clone()?;
    let mut child = tokio::process::Command::new("/bin/sh")
        .process_group(0)
        .arg("-c")
        .arg(command)
        .stdin(Stdio::from(fd))
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let status = child.wait().await?;
    Ok(
        match sshmatrix_core::process::stopped_from_outside(&status) {
            true => Ended::StoppedFromOutside,
            false => Ended::Exited,
        },
    )
}

/// A port on 127.0.0.1 that runs a command for every connection, inetd-style, until dropped
/// (then the port closes and every command still running is killed): a target a scanner or a
/// user's own client can connect to any number of times.
pub struct Listening {
    /// The port on 127.0.0.1.
    pub port: u16,
    task: JoinHandle<()>,
}

/// The most connections a [`Listening`] port serves at once: every one is a server process,
/// and any local user can connect; more are closed at once.
pub const MAX_SERVED: usize = 16;

/// How long one connection of a [`Listening`] port may last (a login, a scan, a session).
pub const SERVED_SECS: u64 = 120;

/// Binds a free port on 127.0.0.1 and runs `command` (`sh -c`) for each connection, the socket
/// as its stdin and stdout: at most [`MAX_SERVED`] at once, each for at most [`SERVED_SECS`].
pub async fn serve_each(command: String) -> io::Result<Listening> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let mut running = tokio::task::JoinSet::new();
        while let Ok((sock, _)) = listener.accept().await {
            while running.try_join_next().is_some() {}
            if running.len() >= MAX_SERVED {
                drop(sock);
                continue;
            }
            let command = command.clone();
            running.spawn(async move {
                let limit = Duration::from_secs(SERVED_SECS);
                tokio::time::timeout(limit, run_on(sock, &command)).await
            });
        }
    });
    Ok(Listening { port, task })
}

impl Drop for Listening {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts each connection's task and
        // with it kills its command (kill_on_drop).
        self.task.abort();
    }
}

impl OneShot {
    /// The connections from other local users turned away so far, one sentence each.
    pub fn turned_away(&self) -> Vec<String> {
        self.turned_away.lock().expect("lock").clone()
    }

    /// Waits up to `grace` for the command to exit (so its log is complete), then stops it.
    /// Returns how it ended.
    pub async fn finish(mut self, grace: Duration) -> Ended {
        let Some(mut task) = self.task.take() else {
            return Ended::Stopped;
        };
        match tokio::time::timeout(grace, &mut task).await {
            Ok(Ok(Ok(ended))) => ended,
            Ok(_) => Ended::Stopped,
            Err(_) => {
                task.abort();
                Ended::Stopped
            }
        }
    }
}

/// How a one-shot command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It ended by itself: an exit, or a signal that is not an outside stop (a crash).
    Exited,
    /// A signal from outside sshmatrix ended it ([`crate::stopped_from_outside`]).
    StoppedFromOutside,
    /// It failed to start, or was stopped after the grace time.
    Stopped,
}

impl Drop for OneShot {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_exactly_one_connection_to_the_command() {
        let one = serve_once(
            "read line; echo \"got $line\"".into(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", one.port))
            .await
            .unwrap();
        c.write_all(b"hello\n").await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "got hello\n");
        assert_eq!(one.finish(Duration::from_secs(5)).await, Ended::Exited);
    }

    #[tokio::test]
    async fn serve_each_runs_the_command_for_every_connection() {
        let each = serve_each("read line; echo \"got $line\"".into())
            .await
            .unwrap();
        for word in ["one", "two", "three"] {
            let mut c = tokio::net::TcpStream::connect(("127.0.0.1", each.port))
                .await
                .unwrap();
            c.write_all(format!("{word}\n").as_bytes()).await.unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).await.unwrap();
            assert_eq!(out, format!("got {word}\n"));
        }
        let port = each.port;
        drop(each);
        tokio::task::yield_now().await;
        // The listener is gone once the accept loop's task has been aborted and dropped.
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                refused = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(refused, "port {port} still accepts after the drop");
    }

    #[tokio::test]
    async fn serve_each_serves_a_bounded_number_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let started = dir.path().join("started");
        let each = serve_each(format!("echo x >> {}; exec sleep 60", started.display()))
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..MAX_SERVED {
            held.push(
                tokio::net::TcpStream::connect(("127.0.0.1", each.port))
                    .await
                    .unwrap(),
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&started).map_or(0, |t| t.lines().count()) < MAX_SERVED {
            assert!(
                std::time::Instant::now() < deadline,
                "servers did not start"
            );
            tokio::task::yield_now().await;
        }
        // One more is closed at once instead of starting another server.
        let mut extra = tokio::net::TcpStream::connect(("127.0.0.1", each.port))
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), extra.read_to_end(&mut out))
            .await
            .expect("closed at once");
        assert!(out.is_empty());
        assert_eq!(
            std::fs::read_to_string(&started).unwrap().lines().count(),
            MAX_SERVED
        );
        drop(held);
    }

    /// Connects to a one-shot port running `command`, reads until it closes, and says how the
    /// command ended.
    async fn ended(command: &str) -> Ended {
        let one = serve_once(command.into(), Duration::from_secs(10))
            .await
            .unwrap();
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", one.port))
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out).await;
        one.finish(Duration::from_secs(5)).await
    }

    #[tokio::test]
    async fn a_command_ended_by_an_outside_signal_is_told_from_an_exit() {
        assert_eq!(ended("exit 3").await, Ended::Exited);
        assert_eq!(ended("kill -INT $$").await, Ended::StoppedFromOutside);
        assert_eq!(ended("kill -TERM $$").await, Ended::StoppedFromOutside);
        // Another signal (a crash; SIGKILL, the only one sshmatrix sends) is no outside stop.
        assert_eq!(ended("kill -KILL $$").await, Ended::Exited);
    }

    #[tokio::test]
    async fn a_second_connection_is_refused() {
        let one = serve_once("cat".into(), Duration::from_secs(10))
            .await
            .unwrap();
        let port = one.port;
        let first = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // The listener is closed once the first connection is taken; wait until cat runs by
        // round-tripping a byte.
        let (mut r, mut w) = first.into_split();
        w.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        r.read_exact(&mut b).await.unwrap();
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err());
        drop(w);
        assert_eq!(one.finish(Duration::from_secs(5)).await, Ended::Exited);
    }
}
