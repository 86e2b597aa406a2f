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

use sshmatrix_clients::driver::{DriverCell, Invocation, JumpHop, Outcome, Route, Session};
use sshmatrix_clients::emulator::{ClientOutcome, Code, Stage, Verdict};
use sshmatrix_clients::{Driver, KeyFactory, KeyFile, Profile};
use sshmatrix_servers::{Endpoint, SshdTarget};
use tokio::io::AsyncWriteExt;

/// How a real client reaches the server end of its cell.
pub enum ServerEnd {
    /// A proxy command run by the client on this host (see `SshdTarget::inetd_command`).
    Proxy(String),
    /// A port on 127.0.0.1 serving one connection: a one-shot port running the same command
    /// (a client in a container), or a server listening itself (Dropbear).
    Port(Endpoint),
}

impl ServerEnd {
    /// The server end of `target` for one cell, its log going to `log`: the inetd command
    /// itself as a proxy for a host client, else (`port`, or a server without an inetd
    /// mode) a port accepting within `wait` (served by the container's helper when the
    /// target has one).
    pub async fn for_client(
        target: &SshdTarget,
        log: &Path,
        port: bool,
        wait: Duration,
    ) -> std::io::Result<Self> {
        Ok(match target.inetd_command(log).filter(|_| !port) {
            Some(command) => ServerEnd::Proxy(command),
            None => ServerEnd::Port(target.serve(log, wait).await?),
        })
    }

    /// The server end for `command` (a shell command speaking SSH on stdin/stdout): the
    /// command itself as a proxy, or (`port`) a one-shot port serving it within `wait`.
    pub async fn for_command(command: String, port: bool, wait: Duration) -> std::io::Result<Self> {
        Ok(if port {
            ServerEnd::Port(Endpoint::OneShot(
                sshmatrix_servers::relay::serve_once(command, wait).await?,
            ))
        } else {
            ServerEnd::Proxy(command)
        })
    }
}

/// A jump host for a real client: its sshd -i on a one-shot port.
pub struct Jump {
    /// The jump host's server end.
    pub server: Endpoint,
    /// The name to log in to it as.
    pub login: String,
    /// Where its server log goes.
    pub log: PathBuf,
    /// Forward the agent and run the jump host's own ssh to the target (else ProxyJump).
    pub forward: bool,
    /// The jump host's host key files (for plink's -hostkey pins).
    pub host_key_pubs: Vec<PathBuf>,
}

pub use sshmatrix_clients::driver::{second_hop_command, NO_FORWARDED_AGENT};

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
    /// The helper of that container: when given, it starts the client instead of a
    /// `docker exec`.
    pub helper: Option<&'a sshmatrix_servers::helper::Helper>,
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
    /// For a library driver: the argv prefix of its installed client program.
    pub program: Option<&'a [String]>,
    /// The certificate the client presents with the key (certificate cells).
    pub certificate: Option<&'a Path>,
    /// `password` answers a second step after the key (`file+password` cells).
    pub password_after_key: bool,
    /// `password` answers keyboard-interactive prompts (`keyboard-interactive` holders).
    pub keyboard_interactive: bool,
    /// The known_hosts file the client checks the host key against (targets presenting host
    /// certificates).
    pub known_hosts: Option<&'a Path>,
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
    // ssh, plink, paramiko ("Incompatible ssh server (no acceptable ciphers)"), then dbclient
    // ("No matching algo mac c->s", Dropbear's common-kex.c).
    if has("no matching key exchange")
        || has("Couldn't agree a key exchange")
        || has("no acceptable kex")
        || has("No matching algo kex")
        || has("could not settle on kex algorithm")
    {
        Stage::Kex
    } else if has("no matching host key")
        || has(crate::words::HOSTKEY_UNVERIFIED)
        || has("Couldn't agree a host key")
        || has("no acceptable host key")
        || has("No matching algo hostkey")
        || has("could not settle on host_key algorithm")
    {
        Stage::Hostkey
    } else if has("no matching cipher")
        || has("Couldn't agree a client-to-server cipher")
        || has("no acceptable ciphers")
        || has("Cannot confirm a weak crypto primitive")
        || has("No matching algo enc")
        || has("could not settle on encryption_client algorithm")
    {
        Stage::Cipher
    } else if has("no matching MAC")
        || has("Couldn't agree a client-to-server MAC")
        || has("no acceptable macs")
        || has("No matching algo mac")
        || has("could not settle on hmac_client algorithm")
    {
        Stage::Mac
    } else if has("Unable to exchange encryption keys")
        || has("Cannot negotiate, proposals do not match")
    {
        // libssh2 and Trilead say only that the negotiation failed, not which list; a server
        // log naming it (above) comes first.
        Stage::Kex
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

/// The route a real client takes to its cell's server.
fn route(c: &RealCell) -> Route {
    match (&c.jump, &c.server) {
        (Some(j), ServerEnd::Port(one)) => Route::Jump {
            port: one.port(),
            jump: JumpHop {
                port: j.server.port(),
                login: j.login.clone(),
                forward: j.forward,
                pins: j
                    .host_key_pubs
                    .iter()
                    .filter_map(|p| fingerprint(p))
                    .collect(),
            },
        },
        (_, ServerEnd::Proxy(p)) => Route::Proxy(p.clone()),
        (_, ServerEnd::Port(one)) => Route::Port(one.port()),
    }
}

/// The command for an invocation: the client on this host, or inside its image's container
/// (`docker exec -e K=V … ID argv`; environment values are paths, never secrets).
fn command(c: &RealCell, inv: &Invocation) -> tokio::process::Command {
    let mut cmd = match c.inside {
        Some(prefix) => {
            let mut cmd = tokio::process::Command::new(&prefix[0]);
            cmd.args(&prefix[1..prefix.len() - 1]);
            for (k, v) in &inv.env {
                cmd.arg("-e").arg(format!("{k}={v}"));
            }
            cmd.arg(&prefix[prefix.len() - 1]).args(&inv.argv);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(&inv.argv[0]);
            cmd.args(&inv.argv[1..])
                .envs(inv.env.iter().map(|(k, v)| (k, v)));
            cmd
        }
    };
    let stdin = match inv.stdin_piped {
        true => Stdio::piped(),
        false => Stdio::null(),
    };
    cmd.process_group(0)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// `text` with every secret replaced by asterisks.
fn scrub(text: &str, secrets: &[Option<String>]) -> String {
    secrets
        .iter()
        .flatten()
        .fold(text.to_string(), |t, p| t.replace(p.as_str(), "********"))
}

/// The key file the client is given: converted to its own format (the conversion tool of the
/// client's own family refusing a key is the client's verdict), or the cell's file as it is
/// (a password cell's client is given no key; plink asks an agent for its own).
fn client_key(c: &RealCell<'_>, driver: Driver, factory: &KeyFactory) -> Result<PathBuf, String> {
    let keyed = c.password.is_none() || c.password_after_key;
    let needs_key = keyed && (driver != Driver::Plink || c.agent.is_none());
    match needs_key {
        true => driver.prepare_key(factory, c.profile, c.key),
        false => Ok(c.key.path.clone()),
    }
}

/// The driver's command line for the cell.
fn invocation(c: &RealCell<'_>, driver: Driver, key: &Path, typed: bool) -> Invocation {
    let public_key = c.key.path.with_file_name("id.pub");
    driver.invocation(&DriverCell {
        key,
        public_key: &public_key,
        passphrase_file: c.key.passphrase_file.as_deref(),
        agent: c.agent,
        password_file: c.password,
        password_after_key: c.password_after_key,
        keyboard_interactive: c.keyboard_interactive,
        askpass: c.askpass,
        certificate: c.certificate,
        known_hosts: c.known_hosts,
        login: c.login,
        route: route(c),
        pins: c
            .host_key_pubs
            .iter()
            .filter_map(|p| fingerprint(p))
            .collect(),
        typed,
        program: c.program,
        family: c.key.spec.family(),
        timeout_secs: c.timeout.as_secs(),
        session: match &c.server {
            ServerEnd::Port(Endpoint::Daemon(d)) if d.sftp_only => Session::Sftp,
            ServerEnd::Port(Endpoint::Daemon(_)) => Session::Command,
            _ => Session::Subsystem,
        },
    })
}

/// What is typed at a prompt (plink): the password of a password cell, else the key's
/// passphrase (none when an agent holds the key).
fn typed_secret(c: &RealCell<'_>) -> Option<String> {
    match (c.agent, c.password) {
        (Some(_), _) => None,
        (_, Some(pw)) => std::fs::read_to_string(pw)
            .ok()
            .map(|t| t.trim_end().to_string()),
        _ => c.key.passphrase(),
    }
}

/// The same client command line as [`run`], spawned and waited for and nothing more: no
/// outcome classification, no log reading (the server end is only let finish). What a plain
/// loop over the cells does (`bench --real`). Returns the client's exit status (`None`: it
/// could not start or ran out of time).
pub async fn run_plain(c: RealCell<'_>, factory: &KeyFactory) -> Option<i32> {
    let driver = c.profile.driver?;
    let typed = typed_secret(&c);
    let key = client_key(&c, driver, factory).ok()?;
    let inv = invocation(&c, driver, &key, typed.is_some());
    let out = execute(&c, &inv, driver.name(), typed.as_deref())
        .await
        .ok();
    if let ServerEnd::Port(one) = c.server {
        one.finish(Duration::from_secs(5)).await;
    }
    out?.status.code()
}

/// Runs one cell with a real client; returns the client outcome and the server log.
pub async fn run(c: RealCell<'_>, factory: &KeyFactory) -> (ClientOutcome, String) {
    let fail = |stage, reason: String| ClientOutcome::new(Verdict::Error, stage, reason);
    let Some(driver) = c.profile.driver else {
        return (
            fail(
                Stage::Connect,
                format!("profile `{}` has no driver", c.profile.id),
            ),
            String::new(),
        );
    };
    let passphrase = c.key.passphrase();
    let typed = typed_secret(&c);
    let key = match client_key(&c, driver, factory) {
        Ok(k) => k,
        Err(reason) => {
            let o = ClientOutcome::new(Verdict::Fail, Stage::KeyLoad, reason);
            return (o, String::new());
        }
    };
    let inv = invocation(&c, driver, &key, typed.is_some());
    let library = driver.program().is_some();
    let driver = driver.name();
    let out = match execute(&c, &inv, driver, typed.as_deref()).await {
        Ok(o) => o,
        Err(o) => return (o, String::new()),
    };
    let secrets = [passphrase, typed];
    let client_stopped = sshmatrix_servers::stopped_from_outside(&out.status);
    let (mut o, log) = match library {
        true => library_outcome(c, driver, &out, &secrets).await,
        false => binary_outcome(c, driver, &out, &secrets).await,
    };
    o.stopped_from_outside |= client_stopped;
    (o, log)
}

/// The outcome of a binary client's cell: its output and exit status read beside the server
/// log.
async fn binary_outcome(
    c: RealCell<'_>,
    driver: &str,
    out: &std::process::Output,
    secrets: &[Option<String>],
) -> (ClientOutcome, String) {
    let client = scrub(
        &format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        secrets,
    );
    let status = out.status.code().unwrap_or(-1);
    let collected = collect_logs(c.server, c.jump, &c.log).await;
    let log = collected.log;
    let seen = Seen {
        driver,
        client: &client,
        log: &log,
        password: c.password.is_some(),
        keyboard_interactive: c.keyboard_interactive,
        after_key: c.password_after_key,
        family: c.key.spec.family(),
        status,
    };
    let mut o = classify(&seen, collected.jump_refused);
    o.stopped_from_outside = collected.stopped;
    o.notes.extend(collected.turned_away);
    (o, log)
}

/// The outcome of a library client's cell: its own result line gives the stage and the
/// library's error text; the server log still decides ○.
async fn library_outcome(
    c: RealCell<'_>,
    driver: &str,
    out: &std::process::Output,
    secrets: &[Option<String>],
) -> (ClientOutcome, String) {
    let said = Outcome::parse(&scrub(&String::from_utf8_lossy(&out.stdout), secrets));
    if let Some(Some((stage, msg))) = &said.result {
        if stage == "key-load" {
            // The program never connected: its server end is dropped, not waited for.
            let o = ClientOutcome::new(Verdict::Fail, Stage::KeyLoad, format!("{driver}: {msg}"));
            return (o, String::new());
        }
    }
    let collected = collect_logs(c.server, c.jump, &c.log).await;
    let (log, server_stopped) = (collected.log, collected.stopped);
    let view = sshmatrix_servers::analyse(&log);
    let refused = c
        .password
        .and_then(|_| super::refusals::password_refused(&log));
    let mut o = match (&said.result, view.accepted) {
        (_, true) => ClientOutcome::new(Verdict::Ok, Stage::Login, format!("logged in ({driver})")),
        // A password cell the server logged as a refused password: said as the binaries' are.
        (Some(Some(_)), false) if refused.is_some() => {
            let (words, code) = refused.expect("matched");
            let reason = format!("{driver}: {words}");
            ClientOutcome::new(Verdict::Fail, Stage::Auth, reason).with_code(code)
        }
        (Some(Some((stage, msg))), false) => {
            let reason = format!("{driver}: {msg}");
            let stage = match stage.as_str() {
                "connect" => Stage::Connect,
                "auth" => Stage::Auth,
                "hostkey" => Stage::Hostkey,
                _ => stage_of(&reason, &log),
            };
            ClientOutcome::new(Verdict::Fail, stage, reason)
        }
        (Some(None), false) => ClientOutcome::new(
            Verdict::Error,
            Stage::Login,
            format!("{driver} reported a login the server log does not show"),
        ),
        (None, false) => {
            let stderr = scrub(&String::from_utf8_lossy(&out.stderr), secrets);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let status = out.status.code().unwrap_or(-1);
            let reason = format!("{driver} client ended without a result (exit {status}): {last}");
            ClientOutcome::new(Verdict::Error, Stage::Connect, reason)
        }
    };
    o.negotiated = negotiated(&said);
    o.stopped_from_outside = server_stopped;
    o.notes.extend(collected.turned_away);
    (o, log)
}

/// The algorithms a library program saw negotiated (all three of kex, host key and cipher, or
/// nothing).
fn negotiated(said: &Outcome) -> Option<sshmatrix_clients::negotiate::Negotiated> {
    Some(sshmatrix_clients::negotiate::Negotiated {
        kex: said.negotiated("kex")?.to_string(),
        hostkey: said.negotiated("hostkey")?.to_string(),
        cipher: said.negotiated("cipher")?.to_string(),
        mac: said.negotiated("mac").map(str::to_string),
        // Not reported by the programs and not part of a cell's result.
        compression: "none".to_string(),
    })
}

/// The answer the client is given at its prompt (plink): the secret, where and how often.
fn answer(inv: &Invocation, typed: Option<&str>) -> Option<sshmatrix_core::prompt::Answer> {
    let t = inv.typed?;
    Some(sshmatrix_core::prompt::Answer {
        text: typed?.to_string(),
        prompt: t.prompt.to_string(),
        times: t.times,
    })
}

/// Spawns the client, types its secret at its prompt (plink), and waits for it within the
/// cell timeout.
async fn execute(
    c: &RealCell<'_>,
    inv: &Invocation,
    driver: &str,
    typed: Option<&str>,
) -> Result<std::process::Output, ClientOutcome> {
    let fail = |stage, reason: String| ClientOutcome::new(Verdict::Error, stage, reason);
    let answer = answer(inv, typed);
    if let Some(helper) = c.helper {
        return execute_helped(helper, c.timeout, inv, driver, answer).await;
    }
    let mut child = command(c, inv)
        .spawn()
        .map_err(|e| fail(Stage::Connect, format!("cannot start {driver}: {e}")))?;
    let run = async {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let mut err = Vec::new();
        let (out, _) = tokio::join!(
            type_at_prompts(stdout, stdin, answer),
            tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut err)
        );
        let status = child.wait().await?;
        Ok::<_, std::io::Error>(std::process::Output {
            status,
            stdout: out?,
            stderr: err,
        })
    };
    match tokio::time::timeout(c.timeout, run).await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(e)) => Err(fail(Stage::Connect, format!("{driver}: {e}"))),
        Err(_) => Err(timed_out(driver, c.timeout)),
    }
}

/// Reads the client's output to its end, typing `answer` at its prompt
/// ([`sshmatrix_core::prompt::Typist`]); the input is closed once every answer is given, when
/// another secret is asked for, or at once when there is nothing to type (EOF ends any prompt).
async fn type_at_prompts(
    mut stdout: tokio::process::ChildStdout,
    mut stdin: Option<tokio::process::ChildStdin>,
    answer: Option<sshmatrix_core::prompt::Answer>,
) -> std::io::Result<Vec<u8>> {
    use sshmatrix_core::prompt::{Step, Typist};
    use tokio::io::AsyncReadExt;
    let mut typist = answer.map(Typist::new);
    if typist.is_none() {
        stdin = None;
    }
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stdout.read(&mut chunk).await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        let step = typist.as_mut().map_or(Step::Wait, |t| t.step(&out));
        match (step, stdin.as_mut()) {
            (Step::Type(bytes), Some(input)) => {
                let _ = input.write_all(&bytes).await;
                let _ = input.flush().await;
            }
            (Step::Close, _) => stdin = None,
            _ => {}
        }
        if typist.as_ref().is_some_and(|t| t.done()) {
            stdin = None;
        }
    }
}

/// A client that ran out of time.
fn timed_out(driver: &str, timeout: Duration) -> ClientOutcome {
    let reason = format!("{driver} gave no verdict within {} s", timeout.as_secs());
    ClientOutcome::new(Verdict::Error, Stage::Timeout, reason)
}

/// [`execute`] through the client container's helper: the same command line, environment and
/// typed input, without a `docker exec`.
async fn execute_helped(
    helper: &sshmatrix_servers::helper::Helper,
    timeout: Duration,
    inv: &Invocation,
    driver: &str,
    answer: Option<sshmatrix_core::prompt::Answer>,
) -> Result<std::process::Output, ClientOutcome> {
    let input = match (inv.stdin_piped, answer) {
        (false, _) => sshmatrix_servers::helper::Input::Null,
        (true, None) => sshmatrix_servers::helper::Input::Bytes(Vec::new()),
        (true, Some(a)) => sshmatrix_servers::helper::Input::Answer(a),
    };
    let run = helper.exec(&inv.argv, &inv.env, input, timeout);
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(e)) => Err(ClientOutcome::new(
            Verdict::Error,
            Stage::Connect,
            format!("{driver}: {e}"),
        )),
        Err(_) => Err(timed_out(driver, timeout)),
    }
}

/// What a real client's cell left on the server side once its servers have ended.
struct Collected {
    /// The cell's server log (the jump host's when the target never heard from the client).
    log: String,
    /// The jump host login that refused the client, if one did.
    jump_refused: Option<String>,
    /// Whether a signal from outside sshmatrix ended a server.
    stopped: bool,
    /// Connections from other local users turned away from the cell's ports.
    turned_away: Vec<String>,
}

/// Lets the cell's servers end (so their logs are complete) and collects what they left.
async fn collect_logs(server: ServerEnd, jump: Option<Jump>, log_path: &Path) -> Collected {
    let mut c = Collected {
        log: String::new(),
        jump_refused: None,
        stopped: false,
        turned_away: Vec::new(),
    };
    if let ServerEnd::Port(one) = server {
        c.turned_away.extend(one.turned_away());
        // The client has exited; its server process ends at EOF and completes the log.
        c.stopped = one.finish(Duration::from_secs(5)).await;
    }
    c.log = std::fs::read_to_string(log_path).unwrap_or_default();
    let _ = std::fs::remove_file(log_path);
    if let Some(j) = jump {
        c.turned_away.extend(j.server.turned_away());
        c.stopped |= j.server.finish(Duration::from_secs(5)).await;
        let jump_log = std::fs::read_to_string(&j.log).unwrap_or_default();
        let _ = std::fs::remove_file(&j.log);
        // The target never heard from anyone: the jump host stopped the client.
        if !jump_log.is_empty()
            && !sshmatrix_servers::analyse(&jump_log).accepted
            && !c.log.contains("Connection from")
        {
            c.log = jump_log;
            c.jump_refused = Some(j.login);
        }
    }
    c
}

/// What a finished real client left: its output (secrets scrubbed) and the server log.
pub(super) struct Seen<'a> {
    pub(super) driver: &'a str,
    pub(super) client: &'a str,
    pub(super) log: &'a str,
    pub(super) password: bool,
    pub(super) keyboard_interactive: bool,
    pub(super) after_key: bool,
    pub(super) family: &'a str,
    pub(super) status: i32,
}

/// The outcome of a real client's cell from what it and the server said: ○ only when sshd
/// logged the login.
fn classify(s: &Seen, jump_refused: Option<String>) -> ClientOutcome {
    let (driver, client, log) = (s.driver, s.client, s.log);
    let view = sshmatrix_servers::analyse(log);
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
    if let Some(login) = jump_refused {
        ClientOutcome::new(
            Verdict::Fail,
            Stage::Jump,
            format!("{driver}: the jump host refused {login}: {last}"),
        )
        .with_code(Code::JumpHostRefused)
    } else if !view.accepted && client.contains(NO_FORWARDED_AGENT) {
        ClientOutcome::new(
            Verdict::Fail,
            Stage::Auth,
            format!("{driver}: agent forwarding refused by the jump host (its ssh found no key): {last}"),
        )
        .with_code(Code::AgentForwardingRefused)
    } else if !view.accepted && client.contains(crate::words::HOSTKEY_UNVERIFIED) {
        super::refusals::host_key_refusal(s)
    } else if s.password && !view.accepted {
        super::refusals::password_refusal(s)
    } else if view.accepted {
        ClientOutcome::new(
            Verdict::Ok,
            Stage::Login,
            format!("logged in ({} exit {})", driver, s.status),
        )
    } else {
        key_refusal(s, &last)
    }
}

/// Server log text that appears only once a client has shown a public key (OpenSSH auth2-pubkey.c:
/// "Failed publickey", "Accepted publickey", "not in PubkeyAcceptedAlgorithms", "unsupported
/// public key algorithm", "refusing RSA key: Invalid key length" (RequiredRSASize), and the
/// StrictModes refusal of the authorized_keys file read for it).
const SHOWN_KEY: &[&str] = &[
    "publickey",
    "PubkeyAccepted",
    "public key algorithm",
    "refusing RSA key",
    "bad ownership or modes",
    // A certificate refused for its CA's signature algorithm (the only line sshd logs then).
    "certificate signature algorithm",
    // Dropbear (svr-authpubkey.c): `Pubkey auth succeeded`, `… bad signature`, `… attempt
    // with unknown algo`.
    "Pubkey auth ",
];

/// A key cell that did not log in: where it stopped, and — when the client never showed the
/// key — whether the server offered no publickey or the client kept the key.
fn key_refusal(s: &Seen, last: &str) -> ClientOutcome {
    let (driver, client, log) = (s.driver, s.client, s.log);
    let stage = stage_of(client, log);
    // sshd logs every public key it is shown (accepted, failed, refused by type or size, or
    // refused for the modes of the file it was looked up in); a connection that reached
    // authentication without one means the client kept the key.
    let shown = SHOWN_KEY.iter().any(|p| log.contains(p));
    // A password prompt a key cell's client went on to (plink, typing): no publickey either.
    let offers = super::refusals::offered(client);
    let asked_password = client.to_lowercase().contains("password:");
    let no_publickey =
        offers.is_some_and(|o| !o.contains("publickey")) || (asked_password && offers.is_none());
    let unshown = stage == Stage::Auth && !shown;
    let o = |reason: String| ClientOutcome::new(Verdict::Fail, stage, reason);
    if unshown && no_publickey {
        let offers = offers.unwrap_or("password, by the prompt the client showed");
        let reason = format!(
            "{driver}: server does not offer publickey authentication (offers: {offers}): {last}"
        );
        return o(reason).with_code(Code::AuthMethodDisabled);
    }
    // OpenSSH's `Connection from`, a per-cell daemon's line for each connection: the server saw
    // the client.
    let seen = log.contains("Connection from")
        || sshmatrix_servers::log::DAEMON_CONNECTIONS
            .iter()
            .any(|l| log.contains(l));
    if unshown && seen {
        let reason = format!(
            "{driver}: client does not offer the {} key (no publickey attempt in the server log): {last}",
            s.family
        );
        return o(reason).with_code(Code::AuthNoSignatureAlgorithm);
    }
    o(format!("{driver}: {last}"))
}
