//! A support case: every file read (each streamed, its side found line by line), the client's
//! attempts paired with the server's connections, each pair identified and its cause named.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sshmatrix_clients::Profile;
use sshmatrix_reports::Verdict;

use super::asyncssh::AsyncSshReader;
use super::cause::{self, Cause};
use super::client::{ClientAttempt, OpenSshReader};
use super::go::GoReader;
use super::identify::{self, Match};
use super::jsch::JschReader;
use super::node::NodeReader;
use super::paramiko::ParamikoReader;
use super::putty::PuttyReader;
use super::read::Lines;
use super::server::{ServerConnection, ServerReader};
use super::sources::Classifier;

/// One diagnosed attempt: what each side logged, who they are, why it ended.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// 1-based number in the case.
    pub n: usize,
    /// The client's record of it.
    pub client: Option<ClientAttempt>,
    /// The server's record of it.
    pub server: Option<ServerConnection>,
    /// The client profiles nearest the logged client, best first.
    pub client_matches: Vec<Match>,
    /// The server's software, from its identification string.
    pub server_software: Option<String>,
    /// The server releases (policies with facts) nearest the server's logged KEXINIT.
    pub server_matches: Vec<Match>,
    /// Why it ended.
    pub cause: Cause,
}

/// What one file gave.
#[derive(Debug, Clone, Serialize)]
pub struct FileRead {
    /// The file as given.
    pub file: String,
    /// Its encoding.
    pub encoding: String,
    /// Lines read.
    pub lines: usize,
    /// Client attempts found in it.
    pub client_attempts: usize,
    /// Server connections found in it.
    pub server_connections: usize,
    /// Why it was not read, when it was not.
    pub error: Option<String>,
}

/// A whole case.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// The files, in the order given.
    pub files: Vec<FileRead>,
    /// Every attempt, failures and logins.
    pub attempts: Vec<Diagnosis>,
    /// Server connections past the detail limit, counted only.
    pub not_kept: usize,
}

impl Case {
    /// The attempts that did not log in.
    pub fn failures(&self) -> impl Iterator<Item = &Diagnosis> {
        self.attempts
            .iter()
            .filter(|d| d.cause.verdict != Verdict::Ok)
    }
}

/// What the readers of one file found.
#[derive(Default)]
struct Found {
    clients: Vec<ClientAttempt>,
    servers: Vec<ServerConnection>,
    not_kept: usize,
}

/// Reads one file (`-`: standard input).
fn read_file(path: &Path) -> Result<(FileRead, Found), String> {
    let name = path.display().to_string();
    let input: Box<dyn Read> = match path == Path::new("-") {
        true => Box::new(std::io::stdin()),
        false => {
            let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
            if !f.metadata().map_err(|e| e.to_string())?.is_file() {
                return Err("not a regular file (a directory, device or pipe)".into());
            }
            Box::new(f)
        }
    };
    read_stream(name, input)
}

/// Reads one log from a stream.
fn read_stream(name: String, input: Box<dyn Read + '_>) -> Result<(FileRead, Found), String> {
    let mut lines =
        Lines::new(std::io::BufReader::new(input)).map_err(|e| format!("cannot read: {e}"))?;
    let encoding = lines.encoding;
    if lines.binary {
        return Err(
            "not a log (binary data): expected a client's debug output or a server's auth log"
                .into(),
        );
    }
    let mut classifier = Classifier::default();
    let (mut ssh, mut pm, mut srv) = (
        OpenSshReader::new(&name),
        ParamikoReader::new(&name),
        ServerReader::new(&name),
    );
    let mut putty = PuttyReader::new(&name);
    let mut node = NodeReader::new(&name);
    let mut asyncssh = AsyncSshReader::new(&name);
    let mut jsch = JschReader::new(&name);
    let mut go = GoReader::new(&name);
    let mut count = 0;
    for line in lines.by_ref() {
        let line = line.map_err(|e| format!("cannot read: {e}"))?;
        count = line.no;
        if let Some(e) = classifier.entry(line.no, &line.text) {
            ssh.feed(&e);
            pm.feed(&e);
            putty.feed(&e);
            node.feed(&e);
            asyncssh.feed(&e);
            jsch.feed(&e);
            go.feed(&e);
            srv.feed(&e);
        }
    }
    if count == 0 {
        return Err("empty: expected a client's debug output (ssh -vvv, plink -v, paramiko or AsyncSSH DEBUG) or a server's auth log".into());
    }
    let mut clients = ssh.finish();
    clients.extend(pm.finish());
    clients.extend(putty.finish());
    clients.extend(node.finish());
    clients.extend(asyncssh.finish());
    clients.extend(jsch.finish());
    clients.extend(go.finish());
    let (servers, not_kept) = srv.finish();
    let read = FileRead {
        file: name,
        encoding: encoding.name().to_string(),
        lines: count,
        client_attempts: clients.len(),
        server_connections: servers.len(),
        error: None,
    };
    Ok((
        read,
        Found {
            clients,
            servers,
            not_kept,
        },
    ))
}

/// Diagnoses one log held in memory (`name` stands for its file): what the fuzzer and the
/// benchmark feed.
pub fn diagnose_bytes(name: &str, bytes: &[u8], profiles: &[Profile]) -> Case {
    let (files, found) = match read_stream(name.to_string(), Box::new(bytes)) {
        Ok((read, found)) => (vec![read], found),
        Err(e) => (vec![unread(name, e)], Found::default()),
    };
    assemble(files, found, profiles)
}

/// The case of what the files gave: attempts paired, identified and diagnosed.
fn assemble(files: Vec<FileRead>, found: Found, profiles: &[Profile]) -> Case {
    let policies = sshmatrix_servers::builtin_policies();
    let attempts = pair(found.clients, found.servers)
        .into_iter()
        .enumerate()
        .map(|(i, (c, s))| diagnosis(i + 1, c, s, profiles, &policies))
        .collect();
    Case {
        files,
        attempts,
        not_kept: found.not_kept,
    }
}

fn unread(file: &str, error: String) -> FileRead {
    FileRead {
        file: file.to_string(),
        encoding: String::new(),
        lines: 0,
        client_attempts: 0,
        server_connections: 0,
        error: Some(error),
    }
}

/// Reads every file and diagnoses every attempt. A file that cannot be read is named in
/// [`Case::files`] and the rest are still read.
pub fn diagnose(paths: &[PathBuf], profiles: &[Profile]) -> Case {
    let mut files = Vec::new();
    let mut all = Found::default();
    for p in paths {
        match read_file(p) {
            Ok((read, found)) => {
                files.push(read);
                all.clients.extend(found.clients);
                all.servers.extend(found.servers);
                all.not_kept += found.not_kept;
            }
            Err(e) => files.push(unread(&p.display().to_string(), e)),
        }
    }
    assemble(files, all, profiles)
}

/// How well a server connection fits a client attempt (0: not at all).
fn fit(c: &ClientAttempt, s: &ServerConnection) -> usize {
    let fingerprint = c
        .keys
        .iter()
        .filter_map(|k| k.fingerprint.as_ref())
        .any(|f| s.fingerprints.contains(f));
    let user = c.user.is_some() && c.user == s.user;
    let same_end = (c.ending.verdict == Verdict::Ok) == s.view.accepted;
    // A connection the listener dropped (a penalised source) and a client cut off before the
    // server's identification: nothing else names either side.
    let dropped = c.ending.stage == sshmatrix_reports::Stage::Connect
        && s.view
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("penalty: "));
    usize::from(fingerprint) * 4
        + usize::from(user) * 2
        + usize::from(same_end && (user || fingerprint))
        + usize::from(dropped)
}

/// Client attempts with the server connection each most likely was; unpaired connections of
/// the server follow on their own.
fn pair(
    clients: Vec<ClientAttempt>,
    servers: Vec<ServerConnection>,
) -> Vec<(Option<ClientAttempt>, Option<ServerConnection>)> {
    let mut servers: Vec<Option<ServerConnection>> = servers.into_iter().map(Some).collect();
    let mut out = Vec::new();
    let single = clients.len() == 1;
    for c in clients {
        let best = servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, fit(&c, s))))
            .filter(|(_, f)| *f > 0)
            .max_by_key(|(i, f)| (*f, *i))
            .map(|(i, _)| i);
        // One client attempt and one server connection that ended the same way: the same login.
        let alone = || {
            let left: Vec<usize> = (0..servers.len())
                .filter(|&i| servers[i].is_some())
                .collect();
            let same = |i: &usize| {
                servers[*i]
                    .as_ref()
                    .is_some_and(|s| s.view.accepted == (c.ending.verdict == Verdict::Ok))
            };
            (single && left.len() == 1).then(|| left[0]).filter(same)
        };
        let s = best.or_else(alone).and_then(|i| servers[i].take());
        out.push((Some(c), s));
    }
    out.extend(servers.into_iter().flatten().map(|s| (None, Some(s))));
    out
}

fn diagnosis(
    n: usize,
    c: Option<ClientAttempt>,
    s: Option<ServerConnection>,
    profiles: &[Profile],
    policies: &[sshmatrix_servers::Policy],
) -> Diagnosis {
    let client_matches = c
        .as_ref()
        .map(|c| identify::client(c, profiles))
        .unwrap_or_default();
    // A client known to sign RSA keys only with ssh-rsa, or seen doing so.
    let sha1 = client_matches
        .first()
        .filter(|m| identify::identified(m))
        .and_then(|m| profiles.iter().find(|p| p.id == m.profile))
        .is_some_and(|p| {
            p.auth.rsa.mode == sshmatrix_clients::profile::RsaSignatureMode::SshRsaOnly
        })
        || c.as_ref().is_some_and(|c| {
            c.keys
                .iter()
                .any(|k| k.signature.as_deref() == Some("ssh-rsa"))
        });
    let cause = cause::of(c.as_ref(), s.as_ref(), sha1);
    let server_matches = c
        .as_ref()
        .map(|c| identify::server(c, policies))
        .unwrap_or_default();
    let server_software = c
        .as_ref()
        .and_then(|c| c.server_ident.as_deref())
        .map(|i| identify::software(i).to_string());
    Diagnosis {
        n,
        client: c,
        server: s,
        client_matches,
        server_software,
        server_matches,
        cause,
    }
}
