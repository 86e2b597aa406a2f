//! A server's log read into connections: lines grouped by the process that served each
//! connection (the collector's PID), or by the client's address and port, or — for `sshd -e`
//! output with neither — from one `Connection from` to the next. Each connection is judged by
//! the same reading of sshd, Dropbear and TinySSH lines a matrix run uses
//! ([`sshmatrix_servers::log::analyse`]).

use std::collections::BTreeMap;

use serde::Serialize;
use sshmatrix_servers::ServerView;

use super::sources::{Entry, Side};
use super::Cite;

/// One connection as the server logged it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerConnection {
    /// The program and process that served it (`sshd[1234]`), or the client's address.
    pub key: String,
    /// The host that logged it.
    pub host: Option<String>,
    /// The client's address and port.
    pub peer: Option<String>,
    /// The account the client asked for.
    pub user: Option<String>,
    /// Key fingerprints the server named.
    pub fingerprints: Vec<String>,
    /// The signature algorithm the server refused, when it said.
    pub refused_signature: Option<String>,
    /// The server's reading: reason, acceptance, evidence lines.
    pub view: ServerView,
    /// The lines, quoted.
    pub evidence: Vec<Cite>,
    /// Lines not kept (a connection's lines are capped).
    pub more_lines: usize,
    /// What the connection's lines say of the client and its login (what `census` counts).
    pub login: Login,
}

/// What a server's lines say of a connection's client and login; each field only where the
/// log level shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Login {
    /// The client's software (`OpenSSH_9.2p1 Debian-2+deb12u10`): LogLevel DEBUG1 and up.
    pub client_software: Option<String>,
    /// The method that logged in (`publickey`, `password`, `keyboard-interactive`): INFO.
    pub method: Option<String>,
    /// The user key's type (`RSA`, `ED25519`): INFO, with an accepted public key.
    pub key_type: Option<String>,
    /// The signature algorithm (`rsa-sha2-512`): DEBUG1 and up.
    pub signature: Option<String>,
    /// The collector's timestamp of its first and last line.
    pub first_seen: Option<String>,
    /// See `first_seen`.
    pub last_seen: Option<String>,
}

/// The most lines kept per connection.
const MAX_LINES: usize = 60;

/// Lines that end a connection's log.
const ENDS: &[&str] = &[
    "Disconnected from",
    "Unable to negotiate with",
    "Connection closed by",
    "Exit before auth",
    "Exit (",
    "Connection reset by",
    "Timeout before authentication",
    // ProFTPD.
    "SSH2 session closed",
];

/// Reads server lines into connections.
#[derive(Default)]
pub struct ServerReader {
    file: String,
    open: BTreeMap<String, ServerConnection>,
    /// Open connections' keys, oldest first (a connection whose end was never logged is
    /// closed when [`MAX_OPEN`] newer ones are open).
    order: std::collections::VecDeque<String>,
    /// The connection unkeyed lines belong to (the last one seen).
    current: Option<String>,
    done: Vec<ServerConnection>,
    ordinal: usize,
    /// Connections past [`MAX_CONNECTIONS`], counted only.
    not_kept: usize,
    /// Whether every connection is kept in detail (a counting caller takes them as they end).
    unlimited: bool,
}

/// The most connections open at once; older ones are closed as if they had ended.
const MAX_OPEN: usize = 4096;

/// The most connections kept in detail; more are counted (a busy host's day of refusals).
const MAX_CONNECTIONS: usize = 20_000;

impl ServerReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        ServerReader {
            file: file.into(),
            ..Default::default()
        }
    }

    /// A reader whose caller takes every ended connection with [`ServerReader::take_done`]
    /// (none is only counted).
    pub fn counting(file: &str) -> Self {
        ServerReader {
            file: file.into(),
            unlimited: true,
            ..Default::default()
        }
    }

    /// The connections that have ended since the last call.
    pub fn take_done(&mut self) -> Vec<ServerConnection> {
        std::mem::take(&mut self.done)
    }

    /// Reads one line of the server.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Server || is_listener(&e.text) {
            return;
        }
        let key = self.key_of(e);
        if !self.open.contains_key(&key) {
            self.open_connection(&key, e.prefix.host);
        }
        let full = self.done.len() >= MAX_CONNECTIONS && !self.unlimited;
        let c = self.open.get_mut(&key).expect("opened");
        read_facts(c, &e.text);
        read_login(&mut c.login, &e.text);
        if let Some(t) = e.prefix.time {
            if c.login.first_seen.is_none() {
                c.login.first_seen = Some(t.to_string());
            }
            // Reused, not reallocated, line after line.
            let last = c.login.last_seen.get_or_insert_with(String::new);
            last.clear();
            last.push_str(t);
        }
        // Past the detail limit a connection is only counted: its lines are not kept.
        match c.evidence.len() < MAX_LINES && !full {
            true => c.evidence.push(Cite {
                file: self.file.clone(),
                line: e.no,
                text: e.text.clone(),
            }),
            false => c.more_lines += 1,
        }
        if ENDS.iter().any(|p| e.text.starts_with(p)) {
            self.close(&key);
        }
        if self.current.as_ref() != Some(&key) {
            self.current = Some(key);
        }
    }

    /// Opens connection `key`, closing the oldest open one past [`MAX_OPEN`].
    fn open_connection(&mut self, key: &str, host: Option<&str>) {
        self.order.push_back(key.to_string());
        if self.order.len() > 2 * MAX_OPEN {
            let open = &self.open;
            self.order.retain(|k| open.contains_key(k));
        }
        while self.open.len() >= MAX_OPEN {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.close(&old);
        }
        let c = ServerConnection {
            key: key.to_string(),
            host: host.map(String::from),
            ..Default::default()
        };
        self.open.insert(key.to_string(), c);
    }

    /// Which connection a line belongs to.
    fn key_of(&mut self, e: &Entry) -> String {
        if let (Some(p), Some(pid)) = (e.prefix.program, e.prefix.pid) {
            let host = e.prefix.host.unwrap_or("");
            return format!("{host} {}[{pid}]", program_family(p));
        }
        // A penalised source's connection is dropped by the listener: it is a connection of
        // one line.
        if e.text.starts_with("Connection from ")
            || e.text.starts_with("Child connection from ")
            || e.text.starts_with("drop connection #")
        {
            self.ordinal += 1;
            return format!("connection {}", self.ordinal);
        }
        if let Some(peer) = peer_of(&e.text) {
            if let Some(k) = self
                .open
                .iter()
                .find(|(_, c)| c.peer.as_deref() == Some(&peer))
                .map(|(k, _)| k.clone())
            {
                return k;
            }
        }
        match &self.current {
            Some(k) if self.open.contains_key(k) => k.clone(),
            _ => {
                self.ordinal += 1;
                format!("connection {}", self.ordinal)
            }
        }
    }

    fn close(&mut self, key: &str) {
        let Some(mut c) = self.open.remove(key) else {
            return;
        };
        if self.done.len() >= MAX_CONNECTIONS && !self.unlimited {
            // Past the limit a connection is only counted, not judged.
            self.not_kept += 1;
            return;
        }
        judge(&mut c);
        // Lines after a connection's end (a PAM session closing) are no login attempt.
        let attempt = c.user.is_some() || c.view.accepted || c.view.reason.is_some();
        match (attempt, self.done.len() < MAX_CONNECTIONS) {
            (true, true) => self.done.push(c),
            (true, false) => self.not_kept += 1,
            (false, _) => {}
        }
    }

    /// The connections read, in the order they ended, and how many more were not kept.
    pub fn finish(mut self) -> (Vec<ServerConnection>, usize) {
        for k in std::mem::take(&mut self.order) {
            self.close(&k);
        }
        (self.done, self.not_kept)
    }
}

/// sshd-session and sshd-auth log for the connection their sshd forked: one family.
fn program_family(p: &str) -> &str {
    match p.starts_with("sshd") {
        true => "sshd",
        false => p,
    }
}

/// Lines of the listening daemon itself, not of a connection.
fn is_listener(t: &str) -> bool {
    [
        "Server listening on",
        // ProFTPD's master process.
        "standalone mode STARTUP",
        "standalone mode SHUTDOWN",
        "ProFTPD killed",
        "Received signal",
        "debug1: sshd version",
        "Starting OpenBSD Secure Shell",
        // OpenSSH 9.8+: a source's penalty recorded or activated (the drop says which).
        "srclimit_penalise:",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// `ADDRESS port N` in a line (`from 10.0.0.5 port 5555`, `user root 10.0.0.5 port 5555`,
/// Dropbear's `<10.0.0.5:5555>`).
fn peer_of(t: &str) -> Option<String> {
    if let Some(i) = t.find(" port ") {
        let addr = t[..i].rsplit(' ').next()?;
        let port: String = t[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !port.is_empty() && !addr.is_empty() {
            return Some(format!("{addr}:{port}"));
        }
    }
    let inner = t.split_once('<')?.1.split_once('>')?.0;
    inner.contains(':').then(|| inner.to_string())
}

/// What one line says of its connection: peer, user, fingerprints, a refused signature.
fn read_facts(c: &mut ServerConnection, t: &str) {
    if c.peer.is_none() {
        c.peer = peer_of(t);
    }
    if c.user.is_none() {
        c.user = user_of(t);
    }
    if t.contains("SHA256:") {
        for w in t.split_whitespace() {
            let w = w.trim_end_matches([',', ')', ']']);
            if w.starts_with("SHA256:") && !c.fingerprints.iter().any(|f| f == w) {
                c.fingerprints.push(w.to_string());
            }
        }
    }
    // `signature algorithm X not in PubkeyAcceptedAlgorithms` (8.5 and later), `key type X not
    // in PubkeyAcceptedKeyTypes` (before).
    if t.starts_with("userauth_pubkey: ") && t.contains("not in Pubkey") {
        let rest = ["signature algorithm ", "key type "]
            .iter()
            .find_map(|p| t.split_once(p).map(|(_, r)| r));
        c.refused_signature = rest
            .and_then(|r| r.split_whitespace().next())
            .map(String::from);
    }
}

/// What a line says of the client and its login.
fn read_login(l: &mut Login, t: &str) {
    let word = |s: &str| s.split_whitespace().next().map(String::from);
    let t = t.trim_end_matches(" [preauth]");
    if let Some(v) = t.strip_prefix("debug1: Remote protocol version ") {
        l.client_software = v
            .split_once("remote software version ")
            .map(|(_, s)| s.trim().to_string());
    } else if let Some(v) = t.strip_prefix("debug1: Client protocol version ") {
        l.client_software = v
            .split_once("client software version ")
            .map(|(_, s)| s.trim().to_string());
    } else if let Some(v) = t.strip_prefix("Accepted ") {
        l.method = word(v);
        l.key_type = v.split_once(" ssh2: ").and_then(|(_, k)| word(k));
    } else if let Some(v) = t.strip_prefix("debug1: userauth_pubkey: ") {
        if let Some((_, alg)) = v.split_once("pkalg ") {
            l.signature = word(alg);
        }
    }
}

/// The account a line names.
fn user_of(t: &str) -> Option<String> {
    let after = |pat: &str| {
        t.split_once(pat)
            .and_then(|(_, r)| r.split_whitespace().next())
            .map(String::from)
    };
    // ProFTPD: `USER alice (Login failed): …`, `USER alice: Login successful.`.
    let proftpd = t
        .strip_prefix("USER ")
        .and_then(|r| r.split([' ', ':']).next())
        .filter(|u| !u.is_empty())
        .map(String::from);
    proftpd
        .or_else(|| after("authenticating user "))
        .or_else(|| after("invalid user "))
        .or_else(|| after("Invalid user "))
        .or_else(|| after("Disconnected from user "))
        .or_else(|| after(" for user "))
        .or_else(|| {
            let r = t.split_once(" for ")?.1;
            r.contains(" from ")
                .then(|| r.split_whitespace().next().unwrap_or_default().to_string())
        })
}

/// The server's reading of the connection, with the matrix run's analysis.
fn judge(c: &mut ServerConnection) {
    let text: Vec<&str> = c.evidence.iter().map(|l| l.text.as_str()).collect();
    c.view = sshmatrix_servers::log::analyse(&text.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::sources::Classifier;

    fn read(log: &str) -> Vec<ServerConnection> {
        let mut c = Classifier::default();
        let mut r = ServerReader::new("auth.log");
        for (i, l) in log.lines().enumerate() {
            if let Some(e) = c.entry(i + 1, l) {
                r.feed(&e);
            }
        }
        r.finish().0
    }

    #[test]
    fn connections_are_grouped_by_process_or_by_peer() {
        let log = "Dec  7 02:10:01 ahv sshd[11]: Connection from 10.0.0.5 port 5001 on 10.0.0.1 port 22 rdomain \"\"\n\
Dec  7 02:10:01 ahv sshd[12]: Connection from 10.0.0.6 port 5002 on 10.0.0.1 port 22 rdomain \"\"\n\
Dec  7 02:10:02 ahv sshd[11]: userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]\n\
Dec  7 02:10:02 ahv sshd[12]: Accepted publickey for nutanix from 10.0.0.6 port 5002 ssh2: ECDSA SHA256:abc\n\
Dec  7 02:10:03 ahv sshd[11]: Connection closed by authenticating user admin 10.0.0.5 port 5001 [preauth]\n";
        let mut got = read(log);
        got.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].user.as_deref(), Some("admin"));
        assert_eq!(got[0].refused_signature.as_deref(), Some("ssh-rsa"));
        assert_eq!(
            got[0].view.reason.as_deref(),
            Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
        );
        assert!(got[1].view.accepted);
        assert_eq!(got[1].fingerprints, ["SHA256:abc"]);
        // sshd -e output: no PID, one connection after the other.
        let bare = "Connection from 127.0.0.1 port 1 on 127.0.0.1 port 2 rdomain \"\"\n\
userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]\n\
Connection closed by authenticating user root 127.0.0.1 port 1 [preauth]\n\
Connection from 127.0.0.1 port 3 on 127.0.0.1 port 2 rdomain \"\"\n\
Accepted publickey for root from 127.0.0.1 port 3 ssh2: RSA SHA256:k\n";
        let got = read(bare);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].refused_signature.as_deref(), Some("ssh-rsa"));
        assert!(got[1].view.accepted);
    }
}
