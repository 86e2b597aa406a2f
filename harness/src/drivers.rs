//! Drivers for real client binaries — OpenSSH `ssh`, PuTTY `plink` and Dropbear `dbclient` —
//! installed on this host or inside a release image (run through `docker exec` in a client
//! container). A host client reaches the cell's `sshd -i` as its proxy command; a client in a
//! container connects to a one-shot 127.0.0.1 port serving that command. The verdict comes from
//! the server's log (a login is ○ only when sshd logged it); the client's own output gives the
//! stage. Passphrases reach `ssh` through SSH_ASKPASS and `plink` at its prompt on a
//! pseudo-terminal (`script`), never argv; the pty's echo is scrubbed from everything kept.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sshmatrix_clients::emulator::{ClientOutcome, Stage, Verdict};
use sshmatrix_clients::{Container, KeyFactory, KeyFile, Profile};
use sshmatrix_servers::relay::OneShot;
use sshmatrix_servers::sshd::sh_quote;
use tokio::io::AsyncWriteExt;

/// How a real client reaches the server end of its cell.
pub enum ServerEnd {
    /// A proxy command run by the client on this host (see `SshdTarget::inetd_command`).
    Proxy(String),
    /// A one-shot port on 127.0.0.1 serving the same command, for a client in a container.
    Port(OneShot),
}

impl ServerEnd {
    /// The server end for `command` (a shell command speaking SSH on stdin/stdout): the
    /// command itself as a proxy for a host client, a one-shot port serving it for a client
    /// in a container (`in_container`), accepting within `wait`.
    pub async fn for_client(
        command: String,
        in_container: bool,
        wait: Duration,
    ) -> std::io::Result<Self> {
        Ok(if in_container {
            ServerEnd::Port(sshmatrix_servers::relay::serve_once(command, wait).await?)
        } else {
            ServerEnd::Proxy(command)
        })
    }
}

/// What a driver needs for one cell.
pub struct RealCell<'a> {
    /// The real client's profile (its `driver`, and what key files it reads).
    pub profile: &'a Profile,
    /// The server end.
    pub server: ServerEnd,
    /// Host key files of the target (for plink's -hostkey pins).
    pub host_key_pubs: Vec<PathBuf>,
    /// The key file of the cell.
    pub key: &'a KeyFile,
    /// Login name.
    pub login: &'a str,
    /// Where the server log of this cell goes.
    pub log: PathBuf,
    /// A script printing $SSHMATRIX_PASSFILE (for SSH_ASKPASS).
    pub askpass: &'a Path,
    /// The argv prefix that runs the client inside its image's container (`docker exec -i ID`);
    /// `None` runs the binary installed on this host.
    pub inside: Option<&'a [String]>,
    /// Cell timeout.
    pub timeout: Duration,
}

/// plink pins host keys by MD5 fingerprint: every PuTTY release since 0.58 accepts that form
/// (SHA-256 pins need 0.75).
fn fingerprint(pub_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(pub_file).ok()?;
    let blob = russh::keys::ssh_key::PublicKey::from_openssh(text.trim())
        .ok()?
        .to_bytes()
        .ok()?;
    let md5 = openssl::hash::hash(openssl::hash::MessageDigest::md5(), &blob).ok()?;
    Some(
        md5.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Classifies a failed real login from the client's output and the server log.
fn stage_of(client: &str, server_log: &str) -> Stage {
    let both = format!("{client}\n{server_log}");
    let has = |p: &str| both.contains(p);
    if has("no matching key exchange") || has("Couldn't agree a key exchange") {
        Stage::Kex
    } else if has("no matching host key") || has("Couldn't agree a host key") {
        Stage::Hostkey
    } else if has("no matching cipher") || has("Couldn't agree a client-to-server cipher") {
        Stage::Cipher
    } else if has("no matching MAC") || has("Couldn't agree a client-to-server MAC") {
        Stage::Mac
    } else if has("Load key")
        || has("incorrect passphrase")
        || has("Unable to use key file")
        || has("Wrong passphrase")
        || has("Unable to load key")
    {
        Stage::KeyLoad
    } else {
        Stage::Auth
    }
}

/// Runs one cell with a real client; returns the client outcome and the server log.
pub async fn run(c: RealCell<'_>, factory: &KeyFactory) -> (ClientOutcome, String) {
    let fail = |stage, reason: String| ClientOutcome::new(Verdict::Error, stage, reason);
    // The conversion tool of the client's own family refusing a key is the client's verdict.
    let refuse = |reason: String| ClientOutcome::new(Verdict::Fail, Stage::KeyLoad, reason);
    let driver = c.profile.driver.as_deref().unwrap_or("");
    let passphrase = c.key.passphrase();
    // Where the client connects: its proxy command, or the one-shot port.
    let (proxy, port) = match &c.server {
        ServerEnd::Proxy(p) => (Some(p.clone()), None),
        ServerEnd::Port(one) => (None, Some(one.port.to_string())),
    };
    let host = if port.is_some() {
        "127.0.0.1"
    } else {
        "sshmatrix-target"
    };
    let mut env: Vec<(&str, String)> = Vec::new();
    let argv: Vec<String> = match driver {
        "ssh" => {
            let key = match factory.openssh_copy(c.key) {
                Ok(k) => k,
                Err(e) => {
                    return (
                        refuse(format!("cannot convert the key for ssh: {e}")),
                        String::new(),
                    )
                }
            };
            let mut a: Vec<String> = [
                "ssh",
                "-F",
                "none",
                "-T",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "PasswordAuthentication=no",
                "-o",
                "KbdInteractiveAuthentication=no",
                "-o",
                "LogLevel=VERBOSE",
            ]
            .map(String::from)
            .to_vec();
            match (&proxy, &port) {
                (Some(p), _) => a.extend(["-o".into(), format!("ProxyCommand={p}")]),
                (_, Some(p)) => a.extend(["-p".into(), p.clone()]),
                _ => {}
            }
            a.extend([
                "-i".into(),
                key.display().to_string(),
                format!("{}@{host}", c.login),
                "true".into(),
            ]);
            env.push(("SSH_ASKPASS", c.askpass.display().to_string()));
            env.push(("SSH_ASKPASS_REQUIRE", "force".into()));
            env.push(("DISPLAY", ":0".into()));
            if let Some(pf) = &c.key.passphrase_file {
                env.push(("SSHMATRIX_PASSFILE", pf.display().to_string()));
            }
            a
        }
        "plink" => {
            let version = if c.profile.reads.contains(&Container::PpkV3) {
                3
            } else {
                2
            };
            let key = match factory.ppk_copy(c.key, version) {
                Ok(k) => k,
                Err(e) => {
                    return (
                        refuse(format!("cannot convert the key for plink: {e}")),
                        String::new(),
                    )
                }
            };
            let mut line = format!(
                "exec plink -ssh -noagent -i {}",
                sh_quote(&key.display().to_string())
            );
            for fp in c.host_key_pubs.iter().filter_map(|p| fingerprint(p)) {
                line.push_str(&format!(" -hostkey {}", sh_quote(&fp)));
            }
            if passphrase.is_none() {
                line.push_str(" -batch");
            }
            match (&proxy, &port) {
                (Some(p), _) => line.push_str(&format!(" -proxycmd {}", sh_quote(p))),
                (_, Some(p)) => line.push_str(&format!(" -P {p}")),
                _ => {}
            }
            line.push_str(&format!(" -l {} {host} true", sh_quote(c.login)));
            ["script", "-qec", &line, "/dev/null"]
                .map(String::from)
                .to_vec()
        }
        "dbclient" => {
            if c.key.encrypted {
                let mut o = fail(
                    Stage::KeyLoad,
                    "dbclient cannot use encrypted key files (Dropbear has no passphrase support)"
                        .into(),
                );
                o.verdict = Verdict::Fail;
                return (o, String::new());
            }
            let key = match factory.dropbear_copy(c.key) {
                Ok(k) => k,
                Err(e) => {
                    return (
                        refuse(format!("cannot convert the key for dbclient: {e}")),
                        String::new(),
                    )
                }
            };
            let mut a: Vec<String> = vec![
                "dbclient".into(),
                "-y".into(),
                "-y".into(),
                "-i".into(),
                key.display().to_string(),
            ];
            match (&proxy, &port) {
                (Some(p), _) => a.extend(["-J".into(), p.clone()]),
                (_, Some(p)) => a.extend(["-p".into(), p.clone()]),
                _ => {}
            }
            a.extend([format!("{}@{host}", c.login), "true".into()]);
            a
        }
        other => {
            return (
                fail(Stage::Connect, format!("unknown driver `{other}`")),
                String::new(),
            )
        }
    };
    // Environment values are paths (never secrets), so they may appear in docker's argv.
    let mut cmd = match c.inside {
        Some(prefix) => {
            let mut cmd = tokio::process::Command::new(&prefix[0]);
            cmd.args(&prefix[1..prefix.len() - 1]);
            for (k, v) in &env {
                cmd.arg("-e").arg(format!("{k}={v}"));
            }
            cmd.arg(&prefix[prefix.len() - 1]).args(&argv);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.args(&argv[1..]).envs(env.iter().map(|(k, v)| (k, v)));
            cmd
        }
    };
    let stdin = if driver == "plink" {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            return (
                fail(Stage::Connect, format!("cannot start {driver}: {e}")),
                String::new(),
            )
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // plink reads the passphrase from the pty (type-ahead); EOF ends any further prompt.
        if let Some(p) = &passphrase {
            let _ = stdin.write_all(format!("{p}\n").as_bytes()).await;
        }
        drop(stdin);
    }
    let out = match tokio::time::timeout(c.timeout, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return (
                fail(Stage::Connect, format!("{}: {e}", driver)),
                String::new(),
            )
        }
        Err(_) => {
            return (
                fail(
                    Stage::Timeout,
                    format!(
                        "{} gave no verdict within {} s",
                        driver,
                        c.timeout.as_secs()
                    ),
                ),
                String::new(),
            )
        }
    };
    let scrub = |t: String| match &passphrase {
        Some(p) => t.replace(p.as_str(), "********"),
        None => t,
    };
    let client = scrub(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    if let ServerEnd::Port(one) = c.server {
        // The client has exited; its server process ends at EOF and completes the log.
        one.finish(Duration::from_secs(5)).await;
    }
    let log = std::fs::read_to_string(&c.log).unwrap_or_default();
    let _ = std::fs::remove_file(&c.log);
    let view = sshmatrix_servers::analyse(&log);
    let last = client
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("********") && !l.starts_with("Passphrase for key"))
        .unwrap_or("")
        .to_string();
    let outcome = if view.accepted {
        ClientOutcome::new(
            Verdict::Ok,
            Stage::Login,
            format!(
                "logged in ({} exit {})",
                driver,
                out.status.code().unwrap_or(-1)
            ),
        )
    } else {
        let stage = stage_of(&client, &log);
        // sshd logs every public key it is shown (accepted, failed or refused by type); a
        // connection that reached authentication without one means the client kept the key.
        let shown = ["publickey", "PubkeyAccepted", "public key algorithm"]
            .iter()
            .any(|p| log.contains(p));
        let reason = if stage == Stage::Auth && !shown && log.contains("Connection from") {
            format!(
                "{}: client does not offer the {} key (no publickey attempt in the server log): {last}",
                driver,
                c.key.spec.family()
            )
        } else {
            format!("{}: {last}", driver)
        };
        ClientOutcome::new(Verdict::Fail, stage, reason)
    };
    (outcome, log)
}
