//! A recording driven by sshmatrix itself: a real client it can run (a real-client profile)
//! logs in to the recording server once per step — the server end is this binary's hidden
//! `record-one` command, behind the client's proxy command or a one-shot port exactly as a
//! cell's server would be.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sshmatrix_clients::{Container, KeyFactory, KeyFile, KeySpec, KeyTool, Profile};

use super::{steps, Connection, Holding, HostKeys, Offer, Step};
use crate::runner::drivers::{RealCell, ServerEnd};

/// What a driven recording needs.
pub struct Driven<'a> {
    /// The real client's profile (it has a `driver`).
    pub profile: &'a Profile,
    /// This binary (its `record-one` is the server end).
    pub exe: &'a Path,
    /// The work directory (key cache, client installs, images).
    pub work_dir: &'a Path,
    /// The key factory.
    pub factory: &'a KeyFactory,
    /// The key tool whose files the client reads.
    pub tool: &'a KeyTool,
    /// Per-login timeout.
    pub timeout: Duration,
}

/// The keys one step logs in with.
fn step_keys(step: Step) -> &'static [KeySpec] {
    match step.holding {
        Holding::RsaFile | Holding::RsaAgent => &[KeySpec::Rsa(2048)],
        Holding::OtherKeys => &[KeySpec::Ecdsa(256), KeySpec::Ed25519],
    }
}

/// What a driven recording saw.
pub struct Drove {
    /// The connections.
    pub conns: Vec<Connection>,
    /// The key file containers the client read, and how that was seen.
    pub reads: Option<super::ReadsSeen>,
    /// Logins the client never made (it could not use the key), with its words.
    pub skips: Vec<String>,
}

/// Runs every step with the real client.
pub async fn drive(d: &Driven<'_>) -> Result<Drove, String> {
    let dir = tempfile::Builder::new()
        .prefix("record-")
        .tempdir_in(d.work_dir)
        .map_err(|e| e.to_string())?;
    let host_keys = HostKeys::generate()?;
    let pubs = host_keys.save(dir.path())?;
    let libraries = crate::libraries::library_profiles([d.profile]);
    let programs =
        crate::libraries::ensure_all(&libraries, d.work_dir, &mut |m| eprintln!("sshmatrix: {m}"))
            .map_err(|e| e.to_string())?;
    let container = match &d.profile.image {
        Some(image) => Some(crate::fidelity::client_container(image, d.work_dir, "record").await?),
        None => None,
    };
    let inside = container.as_ref().map(|c| c.exec_prefix());
    let login = Login {
        d,
        dir: dir.path(),
        pubs: &pubs,
        inside: inside.as_deref(),
        program: programs.get(&d.profile.id).map(Vec::as_slice),
    };
    let drove = login.all().await;
    if let Some(c) = container {
        c.remove().await;
    }
    drove
}

/// One login of a driven recording.
struct Login<'a> {
    d: &'a Driven<'a>,
    dir: &'a Path,
    pubs: &'a [PathBuf],
    inside: Option<&'a [String]>,
    program: Option<&'a [String]>,
}

impl Login<'_> {
    /// Every step's logins (an agent step where the driver holds keys in an agent).
    async fn all(&self) -> Result<Drove, String> {
        let d = self.d;
        let agent_ok = d.profile.driver.is_some_and(|x| x.supports_agent());
        let mut drove = Drove {
            conns: Vec::new(),
            reads: None,
            skips: Vec::new(),
        };
        let mut read: Vec<Container> = Vec::new();
        let mut n = 0;
        for step in steps(agent_ok) {
            if step.holding == Holding::RsaFile
                && step.offer != Offer::All
                && !sees_ext_info(&drove.conns)
            {
                // The server-sig-algs a step lists cannot change what such a client does, and
                // the list would take ssh-rsa host keys away from SHA-1-only clients (russh
                // offers host key algorithms and server-sig-algs from one list).
                drove.skips.push(format!(
                    "{}: left out, the client sends no ext-info-c and never sees server-sig-algs",
                    step.instruction()
                ));
                continue;
            }
            for &spec in step_keys(step) {
                n += 1;
                let key = d
                    .factory
                    .get(spec, d.tool, false)
                    .map_err(|e| e.to_string())?;
                match self.run(step, &key, n).await? {
                    Err(skipped) => drove.skips.push(skipped),
                    Ok(c) => {
                        if !c.keys.is_empty() && !read.contains(&key.format.container) {
                            read.push(key.format.container);
                        }
                        drove.conns.push(c)
                    }
                }
            }
        }
        let names: Vec<&str> = read.iter().map(|c| c.name()).collect();
        drove.reads = (!read.is_empty()).then(|| {
            let how = format!(
                "the client loaded and signed with the {} key files {} wrote; other containers were not tried",
                names.join(" and "),
                d.tool.id
            );
            (read.clone(), how)
        });
        Ok(drove)
    }

    /// The connection, or why the client never connected (it cannot use the key); `Err` when
    /// the recording itself failed.
    async fn run(
        &self,
        step: Step,
        key: &KeyFile,
        n: usize,
    ) -> Result<Result<Connection, String>, String> {
        let d = self.d;
        let out = self.dir.join(format!("connection-{n}.json"));
        let command = format!(
            "'{}' record-one --offer {} --holding {} --host-keys '{}' --out '{}' --timeout {}",
            d.exe.display(),
            serde_plain(&step.offer),
            serde_plain(&step.holding),
            self.dir.display(),
            out.display(),
            d.timeout.as_secs().max(1)
        );
        let port = self.inside.is_some() || d.profile.driver.is_some_and(|x| x.needs_port());
        let server = ServerEnd::for_command(command, port, d.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let askpass = self.dir.join("askpass.sh");
        let sock = self.dir.join(format!("agent-{n}.sock"));
        let agent = match step.holding {
            Holding::RsaAgent => {
                Some(crate::runner::agent::start(&sock, key, d.factory, &askpass).await?)
            }
            _ => None,
        };
        let real = RealCell {
            profile: d.profile,
            server,
            host_key_pubs: self.pubs.to_vec(),
            key,
            login: "record",
            log: self.dir.join(format!("connection-{n}.log")),
            askpass: &askpass,
            inside: self.inside,
            helper: None,
            agent: agent.as_ref().map(|_| sock.as_path()),
            password: None,
            jump: None,
            timeout: d.timeout,
            program: self.program,
            certificate: None,
            password_after_key: false,
            keyboard_interactive: false,
            known_hosts: None,
        };
        let (outcome, _) = crate::runner::drivers::run(real, d.factory).await;
        drop(agent);
        let Ok(text) = std::fs::read_to_string(&out) else {
            // The client gave up before connecting: it cannot use this key.
            return Ok(Err(format!(
                "connection {n}: the client did not connect with the {} key: {}",
                key.spec, outcome.reason
            )));
        };
        let mut c: Connection = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if let Some(p) = &mut c.problem {
            p.push_str(&format!("; the client said: {}", outcome.reason));
        }
        Ok(Ok(c))
    }
}

/// Whether the client's first connection announced ext-info-c (true until one is seen).
fn sees_ext_info(conns: &[Connection]) -> bool {
    conns
        .iter()
        .find_map(|c| c.hello.as_ref())
        .is_none_or(|h| h.kex.iter().any(|k| k == "ext-info-c"))
}

/// A unit enum's serde name (`sha2`, `rsa-file`).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}
