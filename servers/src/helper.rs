//! A long-lived helper per container (`programs/cell_helper.pl`, run by the image's own Perl):
//! one `docker exec` when the container starts, then every cell's process — a target's
//! `sshd -i`, an in-image client — is forked by the helper on a request over 127.0.0.1 instead
//! of by a `docker exec` of its own (which costs the Docker daemons far more CPU than the cell).
//! Requests carry a random token only this process knows, so no other local user can run
//! anything through the port. Each cell's server log goes to its own file in a host directory
//! mounted at the same path, and the connection closes only once the server has exited, so the
//! log is complete when the host sees EOF.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};

/// The helper program (embedded).
pub const PROGRAM: &str = include_str!("../programs/cell_helper.pl");

/// A running helper inside one container.
#[derive(Debug)]
pub struct Helper {
    port: u16,
    token: String,
    logs: Option<PathBuf>,
    serial: AtomicU64,
    _stdin: ChildStdin,
    _child: Child,
}

/// 128 random bits, hex.
fn token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `word` can travel in a header field (no tab, no newline).
fn plain(word: &str) -> io::Result<&str> {
    match word.contains(['\t', '\n']) {
        false => Ok(word),
        true => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a helper request field holds a tab or newline: {word:?}"),
        )),
    }
}

impl Helper {
    /// Starts the helper through `exec_prefix` (`docker exec -i ID`), listening within `wait`.
    /// `logs` is a host directory mounted read-write at the same path in the container (the
    /// cells' server logs); `None` for a client container.
    pub async fn start(
        exec_prefix: &[String],
        logs: Option<PathBuf>,
        wait: Duration,
    ) -> io::Result<Helper> {
        let token = token()?;
        let mut child = Command::new(&exec_prefix[0])
            .args(&exec_prefix[1..])
            .args(["perl", "-e", PROGRAM])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(format!("{token}\n").as_bytes()).await?;
        stdin.flush().await?;
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let read = tokio::time::timeout(wait, out.read_line(&mut line)).await;
        let port = line
            .strip_prefix("sshmatrix-helper ")
            .and_then(|p| p.trim().parse().ok());
        let Some(port) = port.filter(|_| matches!(read, Ok(Ok(_)))) else {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = tokio::time::timeout(wait, e.read_to_string(&mut err)).await;
            }
            return Err(io::Error::other(format!(
                "the cell helper did not start: {}",
                format!("{line}{err}").trim()
            )));
        };
        Ok(Helper {
            port,
            token,
            logs,
            serial: AtomicU64::new(0),
            _stdin: stdin,
            _child: child,
        })
    }

    /// A connection carrying one request header.
    async fn open(&self, fields: &[&str]) -> io::Result<TcpStream> {
        let mut header = self.token.clone();
        for f in fields {
            header.push('\t');
            header.push_str(plain(f)?);
        }
        header.push('\n');
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).await?;
        conn.write_all(header.as_bytes()).await?;
        Ok(conn)
    }

    /// Runs `argv` (an inetd-style server) with the returned connection as its stdin and
    /// stdout, its stderr appended to `log` (under the mounted log directory). EOF on the
    /// connection means the server has exited.
    pub async fn inetd(&self, log: &Path, argv: &[String]) -> io::Result<TcpStream> {
        let log = log.display().to_string();
        let mut fields = vec!["inetd", log.as_str()];
        fields.extend(argv.iter().map(String::as_str));
        self.open(&fields).await
    }

    /// Starts `argv` (a server listening itself); the returned connection carries its stderr,
    /// and shutting down our side stops it (the helper's side closes once it has exited).
    pub async fn daemon(&self, argv: &[String]) -> io::Result<TcpStream> {
        let mut fields = vec!["daemon"];
        fields.extend(argv.iter().map(String::as_str));
        self.open(&fields).await
    }

    /// A fresh log file path in the mounted log directory (for a cell that names none).
    pub fn fresh_log(&self) -> Option<PathBuf> {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        self.logs
            .as_ref()
            .map(|d| d.join(format!("helper-{}-{n}.log", self.port)))
    }

    /// Runs `argv` with `env` added and `input`, for at most `timeout`; its exit status and
    /// output, as `std::process::Command::output` gives them.
    pub async fn exec(
        &self,
        argv: &[String],
        env: &[(String, String)],
        input: Input,
        timeout: Duration,
    ) -> io::Result<Output> {
        let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let secs = (timeout.as_secs() + 5).to_string();
        let count = pairs.len().to_string();
        let (mode, prompt, times) = match &input {
            Input::Null => ("0", String::new(), String::new()),
            Input::Bytes(_) => ("1", String::new(), String::new()),
            Input::Answer(a) => ("2", plain(&a.prompt)?.to_string(), a.times.to_string()),
        };
        let mut fields = vec!["exec", mode];
        if mode == "2" {
            fields.extend([prompt.as_str(), times.as_str()]);
        }
        fields.extend([secs.as_str(), count.as_str()]);
        fields.extend(pairs.iter().map(String::as_str));
        fields.extend(argv.iter().map(String::as_str));
        let mut conn = self.open(&fields).await?;
        match &input {
            Input::Null => {}
            Input::Bytes(bytes) => {
                conn.write_all(bytes).await?;
                conn.shutdown().await?;
            }
            // The secret on a line of its own after the header, never in it; typed by the
            // helper only when the prompt appears.
            Input::Answer(a) => {
                conn.write_all(format!("{}\n", plain(&a.text)?).as_bytes())
                    .await?;
                conn.shutdown().await?;
            }
        }
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        parse_answer(&answer)
    }
}

/// What an `exec` request gives the command as its standard input.
#[derive(Debug, Clone)]
pub enum Input {
    /// /dev/null.
    Null,
    /// These bytes, then EOF.
    Bytes(Vec<u8>),
    /// A secret typed only at its prompt ([`sshmatrix_core::prompt`]), then EOF.
    Answer(sshmatrix_core::prompt::Answer),
}

/// `STATUS OUTLEN ERRLEN\n` then stdout and stderr.
fn parse_answer(answer: &[u8]) -> io::Result<Output> {
    let bad = || io::Error::other("the cell helper's answer is cut short");
    let nl = answer.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&answer[..nl]);
    let n: Vec<usize> = head
        .split(' ')
        .map(|w| w.parse().map_err(|_| bad()))
        .collect::<io::Result<_>>()?;
    let [status, out, err] = n[..] else {
        return Err(bad());
    };
    let body = &answer[nl + 1..];
    if body.len() != out + err {
        return Err(bad());
    }
    Ok(Output {
        status: std::process::ExitStatus::from_raw(status as i32),
        stdout: body[..out].to_vec(),
        stderr: body[out..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_split_into_status_and_both_outputs() {
        let o = parse_answer(b"768 4 3\nout\nerr").unwrap();
        assert_eq!(o.status.code(), Some(3));
        assert_eq!((&o.stdout[..], &o.stderr[..]), (&b"out\n"[..], &b"err"[..]));
        assert_eq!(parse_answer(b"9 0 0\n").unwrap().status.signal(), Some(9));
        assert!(parse_answer(b"0 5 0\nabc").is_err());
        assert!(parse_answer(b"").is_err());
    }

    #[test]
    fn fields_with_tabs_or_newlines_are_refused() {
        assert!(plain("a b").is_ok());
        assert!(plain("a\tb").is_err());
        assert!(plain("a\nb").is_err());
    }

    /// The helper program itself, run by this host's Perl (the images run the same program).
    #[tokio::test]
    async fn runs_commands_and_servers_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let h = Helper::start(
            &["env".into()],
            Some(dir.path().into()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let env = [("FOO".to_string(), "bar".to_string())];
        let argv = ["sh", "-c", "echo out $FOO; cat; echo err >&2; exit 3"].map(String::from);
        let o = h
            .exec(
                &argv,
                &env,
                Input::Bytes(b"typed\n".to_vec()),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        assert_eq!(o.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "out bar\ntyped\n");
        assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
        let log = h.fresh_log().unwrap();
        let argv = ["sh", "-c", "read l; echo \"got $l\"; echo logged >&2"].map(String::from);
        let mut conn = h.inetd(&log, &argv).await.unwrap();
        conn.write_all(b"hi\n").await.unwrap();
        let mut out = String::new();
        conn.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "got hi\n");
        // EOF came after the server exited: its log is complete.
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "logged\n");
    }

    /// Processes the helper has forked right now.
    fn children(h: &Helper) -> Vec<String> {
        let pid = h._child.id().unwrap();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn a_flood_of_connections_without_the_token_forks_nothing() {
        let h = Helper::start(&["env".into()], None, Duration::from_secs(10))
            .await
            .unwrap();
        // Another local user opens 400 connections and sends a wrong token or nothing at all.
        let mut flood = Vec::new();
        for i in 0..400 {
            let mut c = TcpStream::connect(("127.0.0.1", h.port)).await.unwrap();
            if i % 2 == 0 {
                let _ = c.write_all(b"0123456789abcdef").await;
            }
            flood.push(c);
        }
        assert_eq!(children(&h), Vec::<String>::new());
        // Every wrong token was closed at once; the silent ones wait their few seconds at most.
        for c in flood.iter_mut().step_by(2) {
            let mut rest = Vec::new();
            let _ = c.read_to_end(&mut rest).await;
            assert!(rest.is_empty());
        }
        // The helper still serves a request that carries the token.
        let argv = ["sh", "-c", "echo alive"].map(String::from);
        let o = h
            .exec(&argv, &[], Input::Null, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), "alive\n");
    }

    #[tokio::test]
    async fn a_secret_is_typed_only_at_its_prompt() {
        let h = Helper::start(&["env".into()], None, Duration::from_secs(10))
            .await
            .unwrap();
        let answer = |times| {
            Input::Answer(sshmatrix_core::prompt::Answer {
                text: "s3cret".into(),
                prompt: "Passphrase for key".into(),
                times,
            })
        };
        let ask = |prompt: &str| {
            let script = format!("printf '{prompt}'; read a; echo; echo \"got:$a\"");
            ["sh".to_string(), "-c".into(), script]
        };
        let run = |argv: [String; 3], input| {
            let h = &h;
            async move {
                let o = h
                    .exec(&argv, &[], input, Duration::from_secs(10))
                    .await
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).to_string()
            }
        };
        let typed = run(ask("Passphrase for key \\\"k\\\": "), answer(1)).await;
        assert!(typed.ends_with("got:s3cret\n"), "{typed}");
        // Asked for a password instead: the passphrase is never given (EOF).
        let refused = run(ask("root@h password: "), answer(1)).await;
        assert!(refused.ends_with("got:\n"), "{refused}");
    }

    #[tokio::test]
    async fn a_request_without_the_token_runs_nothing() {
        let h = Helper::start(&["env".into()], None, Duration::from_secs(10))
            .await
            .unwrap();
        let mut conn = TcpStream::connect(("127.0.0.1", h.port)).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let header = format!("wrong\texec\t0\t5\t0\ttouch\t{}\n", marker.display());
        conn.write_all(header.as_bytes()).await.unwrap();
        // Closed at the first byte that breaks the token (a reset: the rest went unread).
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        assert!(answer.is_empty());
        assert!(!marker.exists());
    }
}
