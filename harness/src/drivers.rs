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

/// A jump host for a real client: its sshd -i on a one-shot port.
pub struct Jump {
    /// The jump host's server end.
    pub server: OneShot,
    /// The name to log in to it as.
    pub login: String,
    /// Where its server log goes.
    pub log: PathBuf,
    /// Forward the agent and run the jump host's own ssh to the target (else ProxyJump).
    pub forward: bool,
    /// The jump host's host key files (for plink's -hostkey pins).
    pub host_key_pubs: Vec<PathBuf>,
}

/// What the jump host's shell prints when no agent was forwarded to it.
pub const NO_FORWARDED_AGENT: &str = "sshmatrix: no forwarded agent on the jump host";

/// The command run on a jump host for a forwarded-agent cell: its own OpenSSH client to the
/// target's one-shot port, with only the forwarded agent's keys (no key file is read there).
pub fn second_hop_command(port: u16, login: &str) -> String {
    format!(
        "[ -n \"$SSH_AUTH_SOCK\" ] || echo '{NO_FORWARDED_AGENT}' >&2; \
         ssh -F none -T -i /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
         -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o LogLevel=ERROR \
         -p {port} {login}@127.0.0.1 true"
    )
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
    /// The ssh-agent holding the key (agent holders; `ssh` and `plink`): the client asks it to
    /// sign.
    pub agent: Option<&'a Path>,
    /// Log in with the password in this file instead of the key (`ssh`: through SSH_ASKPASS
    /// like a passphrase; `plink`: typed at its prompt).
    pub password: Option<&'a Path>,
    /// The jump host, when the target sits behind one (`ssh`, `plink`; `server` is then a port).
    pub jump: Option<Jump>,
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
    // What plink is given at its prompt: the password of a password cell, else the key's
    // passphrase (none when an agent holds the key).
    let typed = match (c.agent, c.password) {
        (Some(_), _) => None,
        (_, Some(pw)) => std::fs::read_to_string(pw)
            .ok()
            .map(|t| t.trim_end().to_string()),
        _ => passphrase.clone(),
    };
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
            // With an agent, the public key selects the agent's key (IdentitiesOnly).
            let identity = match c.agent {
                Some(_) => c.key.path.with_file_name("id.pub"),
                None => key,
            }
            .display()
            .to_string();
            let agent = c
                .agent
                .map_or("none".to_string(), |p| p.display().to_string());
            let mut base: Vec<String> = [
                "-F",
                "none",
                "-T",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "KbdInteractiveAuthentication=no",
                "-o",
                "LogLevel=VERBOSE",
            ]
            .map(String::from)
            .to_vec();
            if c.password.is_some() {
                base.extend(
                    [
                        "-o",
                        "PubkeyAuthentication=no",
                        "-o",
                        "IdentityAgent=none",
                        "-o",
                        "PasswordAuthentication=yes",
                        "-o",
                        "PreferredAuthentications=password",
                        "-o",
                        "NumberOfPasswordPrompts=1",
                    ]
                    .map(String::from),
                );
            } else {
                base.extend([
                    "-o".into(),
                    "PasswordAuthentication=no".into(),
                    "-o".into(),
                    format!("IdentityAgent={agent}"),
                    "-i".into(),
                    identity,
                ]);
            }
            let mut a = vec!["ssh".to_string()];
            a.extend(base.iter().cloned());
            match (&c.jump, &proxy, &port) {
                (Some(j), _, Some(p)) if j.forward => a.extend([
                    "-A".into(),
                    "-p".into(),
                    j.server.port.to_string(),
                    format!("{}@127.0.0.1", j.login),
                    second_hop_command(p.parse().unwrap_or(0), c.login),
                ]),
                (Some(j), _, Some(p)) => {
                    // ProxyJump, spelled out so the hop to the jump host uses the same key.
                    let mut inner = vec!["ssh".to_string()];
                    inner.extend(base.iter().map(|w| sh_quote(w)));
                    inner.extend([
                        "-p".into(),
                        j.server.port.to_string(),
                        "-W".into(),
                        "%h:%p".into(),
                        format!("{}@127.0.0.1", sh_quote(&j.login)),
                    ]);
                    a.extend([
                        "-o".into(),
                        format!("ProxyCommand={}", inner.join(" ")),
                        "-p".into(),
                        p.clone(),
                        format!("{}@127.0.0.1", c.login),
                        "true".into(),
                    ]);
                }
                (_, Some(px), _) => {
                    a.extend(["-o".into(), format!("ProxyCommand={px}")]);
                    a.extend([format!("{}@{host}", c.login), "true".into()]);
                }
                (_, _, Some(p)) => {
                    a.extend(["-p".into(), p.clone()]);
                    a.extend([format!("{}@{host}", c.login), "true".into()]);
                }
                _ => {}
            }
            env.push(("SSH_ASKPASS", c.askpass.display().to_string()));
            env.push(("SSH_ASKPASS_REQUIRE", "force".into()));
            env.push(("DISPLAY", ":0".into()));
            if let Some(sock) = c.agent {
                // -A forwards $SSH_AUTH_SOCK.
                env.push(("SSH_AUTH_SOCK", sock.display().to_string()));
            }
            if let Some(pw) = c.password {
                env.push(("SSHMATRIX_PASSFILE", pw.display().to_string()));
            } else if let Some(pf) = &c.key.passphrase_file {
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
            // An agent cell lets plink use $SSH_AUTH_SOCK; a password cell offers no key.
            let auth = match (c.agent, c.password) {
                (Some(_), _) => String::new(),
                (_, Some(_)) => " -noagent".to_string(),
                _ => match factory.ppk_copy(c.key, version) {
                    Ok(k) => format!(" -noagent -i {}", sh_quote(&k.display().to_string())),
                    Err(e) => {
                        return (
                            refuse(format!("cannot convert the key for plink: {e}")),
                            String::new(),
                        )
                    }
                },
            };
            let pins = |pubs: &[PathBuf]| -> String {
                pubs.iter()
                    .filter_map(|p| fingerprint(p))
                    .map(|fp| format!(" -hostkey {}", sh_quote(&fp)))
                    .collect()
            };
            let batch = if typed.is_none() { " -batch" } else { "" };
            let base = format!("plink -ssh{auth}{batch}");
            let line = match (&c.jump, &proxy, &port) {
                (Some(j), _, Some(_)) if j.forward => format!(
                    "exec {base} -A{} -P {} -l {} 127.0.0.1 {}",
                    pins(&j.host_key_pubs),
                    j.server.port,
                    sh_quote(&j.login),
                    sh_quote(&second_hop_command(
                        port.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0),
                        c.login
                    ))
                ),
                (Some(j), _, Some(p)) => {
                    // ProxyJump: an inner plink to the jump host, -nc to the target's port.
                    let inner = format!(
                        "{base}{} -P {} -l {} -nc 127.0.0.1:{p} 127.0.0.1",
                        pins(&j.host_key_pubs),
                        j.server.port,
                        sh_quote(&j.login)
                    );
                    // PuTTY never proxies connections to localhost: name the target otherwise
                    // (the name only reaches the proxy command, which ignores it).
                    format!(
                        "exec {base}{} -proxycmd {} -l {} sshmatrix-target true",
                        pins(&c.host_key_pubs),
                        sh_quote(&inner),
                        sh_quote(c.login)
                    )
                }
                (_, Some(px), _) => format!(
                    "exec {base}{} -proxycmd {} -l {} {host} true",
                    pins(&c.host_key_pubs),
                    sh_quote(px),
                    sh_quote(c.login)
                ),
                (_, _, Some(p)) => format!(
                    "exec {base}{} -P {p} -l {} {host} true",
                    pins(&c.host_key_pubs),
                    sh_quote(c.login)
                ),
                _ => String::new(),
            };
            if let Some(sock) = c.agent {
                env.push(("SSH_AUTH_SOCK", sock.display().to_string()));
            }
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
            cmd.process_group(0);
            cmd.args(&prefix[1..prefix.len() - 1]);
            for (k, v) in &env {
                cmd.arg("-e").arg(format!("{k}={v}"));
            }
            cmd.arg(&prefix[prefix.len() - 1]).args(&argv);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.process_group(0);
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
        // Through a jump host the inner plink (the proxy) asks first, then the outer one.
        if let Some(p) = &typed {
            let times = if c.jump.as_ref().is_some_and(|j| !j.forward) {
                2
            } else {
                1
            };
            let _ = stdin
                .write_all(format!("{p}\n").repeat(times).as_bytes())
                .await;
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
    let scrub = |t: String| {
        [&passphrase, &typed]
            .into_iter()
            .flatten()
            .fold(t, |t, p| t.replace(p.as_str(), "********"))
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
    let mut log = std::fs::read_to_string(&c.log).unwrap_or_default();
    let _ = std::fs::remove_file(&c.log);
    let mut jump_refused = None;
    if let Some(j) = c.jump {
        j.server.finish(Duration::from_secs(5)).await;
        let jump_log = std::fs::read_to_string(&j.log).unwrap_or_default();
        let _ = std::fs::remove_file(&j.log);
        // The target never heard from anyone: the jump host stopped the client.
        if !jump_log.is_empty()
            && !sshmatrix_servers::analyse(&jump_log).accepted
            && !log.contains("Connection from")
        {
            log = jump_log;
            jump_refused = Some(j.login);
        }
    }
    let view = sshmatrix_servers::analyse(&log);
    let last = client
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.contains("********")
                && !l.starts_with("Passphrase for key")
                && !l.starts_with("Transferred:")
                && !l.starts_with("Bytes per second")
        })
        .unwrap_or("")
        .to_string();
    let outcome = if let Some(login) = jump_refused {
        ClientOutcome::new(
            Verdict::Fail,
            Stage::Jump,
            format!("{driver}: the jump host refused {login}: {last}"),
        )
    } else if !view.accepted && client.contains(NO_FORWARDED_AGENT) {
        ClientOutcome::new(
            Verdict::Fail,
            Stage::Auth,
            format!("{driver}: agent forwarding refused by the jump host (its ssh found no key): {last}"),
        )
    } else if c.password.is_some() && !view.accepted {
        let reason = if log.contains("Failed password") {
            "server refused the password".to_string()
        } else {
            // ssh: "Permission denied (publickey)."; plink: "(server sent: publickey)".
            let offers = ["Permission denied (", "server sent: "]
                .iter()
                .find_map(|m| client.rsplit_once(m))
                .and_then(|(_, t)| t.split(')').next())
                .unwrap_or("?");
            format!("server does not offer password authentication (offers: {offers})")
        };
        ClientOutcome::new(Verdict::Fail, Stage::Auth, format!("{driver}: {reason}"))
    } else if view.accepted {
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
