//! Drivers for real client binaries on this host: OpenSSH `ssh`, PuTTY `plink` and Dropbear
//! `dbclient`, connected to
//! the cell's target through the target's `sshd -i` as a proxy command. The verdict comes from
//! the server's log (a login is ○ only when sshd logged it); the client's own output gives the
//! stage. Passphrases reach `ssh` through SSH_ASKPASS and `plink` at its prompt on a
//! pseudo-terminal (`script`), never argv; the pty's echo is scrubbed from everything kept.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sshmatrix_clients::emulator::{ClientOutcome, Stage, Verdict};
use sshmatrix_clients::{KeyFactory, KeyFile};
use sshmatrix_servers::sshd::sh_quote;
use tokio::io::AsyncWriteExt;

/// What a driver needs for one cell.
pub struct RealCell<'a> {
    /// `ssh` or `plink`.
    pub driver: &'a str,
    /// The proxy command that is the server end (see `SshdTarget::inetd_command`).
    pub proxy: String,
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
    /// Cell timeout.
    pub timeout: Duration,
}

fn fingerprint(pub_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(pub_file).ok()?;
    let key = russh::keys::ssh_key::PublicKey::from_openssh(text.trim()).ok()?;
    Some(
        key.fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
            .to_string(),
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
    let proxy = c.proxy.clone();
    let passphrase = c.key.passphrase();
    let mut cmd = match c.driver {
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
            let mut cmd = tokio::process::Command::new("ssh");
            cmd.args([
                "-F",
                "none",
                "-T",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
            ])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ])
            .args([
                "-o",
                "PasswordAuthentication=no",
                "-o",
                "KbdInteractiveAuthentication=no",
                "-o",
                "LogLevel=VERBOSE",
            ])
            .arg("-o")
            .arg(format!("ProxyCommand={proxy}"))
            .arg("-i")
            .arg(&key)
            .arg(format!("{}@sshmatrix-target", c.login))
            .arg("true")
            .env("SSH_ASKPASS", c.askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null());
            if let Some(pf) = &c.key.passphrase_file {
                cmd.env("SSHMATRIX_PASSFILE", pf);
            }
            cmd
        }
        "plink" => {
            let key = match factory.ppk_copy(c.key) {
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
            line.push_str(&format!(
                " -proxycmd {} -l {} sshmatrix-target true",
                sh_quote(&proxy),
                sh_quote(c.login)
            ));
            let mut cmd = tokio::process::Command::new("script");
            cmd.args(["-qec", &line, "/dev/null"]).stdin(Stdio::piped());
            cmd
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
            let mut cmd = tokio::process::Command::new("dbclient");
            cmd.args(["-y", "-y", "-i"])
                .arg(&key)
                .arg("-J")
                .arg(&proxy)
                .arg(format!("{}@sshmatrix-target", c.login))
                .arg("true")
                .stdin(Stdio::null());
            cmd
        }
        other => {
            return (
                fail(Stage::Connect, format!("unknown driver `{other}`")),
                String::new(),
            )
        }
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            return (
                fail(Stage::Connect, format!("cannot start {}: {e}", c.driver)),
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
                fail(Stage::Connect, format!("{}: {e}", c.driver)),
                String::new(),
            )
        }
        Err(_) => {
            return (
                fail(
                    Stage::Timeout,
                    format!(
                        "{} gave no verdict within {} s",
                        c.driver,
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
                c.driver,
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
                c.driver,
                c.key.spec.family()
            )
        } else {
            format!("{}: {last}", c.driver)
        };
        ClientOutcome::new(Verdict::Fail, stage, reason)
    };
    (outcome, log)
}
