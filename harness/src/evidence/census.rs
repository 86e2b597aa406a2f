//! `sshmatrix census`: who really connects, from servers' logs — per host and overall, the
//! client software (mapped to profiles where the identification matches), user key types,
//! signature algorithms, login methods, accounts, first and last seen, failures by code — and
//! what the log's level could not show.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sshmatrix_clients::Profile;

use super::read::Lines;
use super::server::{ServerConnection, ServerReader};
use super::sources::Classifier;

/// Counts of one host (or of all).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Connections that tried to log in.
    pub attempts: usize,
    /// Of those, logins.
    pub logins: usize,
    /// Client software → logins and attempts (`OpenSSH_9.2p1 …`; DEBUG1 logs only).
    pub clients: BTreeMap<String, Tally>,
    /// User key type → logins (`RSA`, `ED25519`).
    pub key_types: BTreeMap<String, usize>,
    /// Signature algorithm → logins (DEBUG1 logs only).
    pub signatures: BTreeMap<String, usize>,
    /// Login method → logins.
    pub methods: BTreeMap<String, usize>,
    /// Account → logins and attempts.
    pub users: BTreeMap<String, Tally>,
    /// Failure code → attempts (`undecided` when the log gives no reason).
    pub failures: BTreeMap<String, usize>,
    /// Timestamp of the first line counted, as the collector wrote it.
    pub first_seen: Option<String>,
    /// Timestamp of the last.
    pub last_seen: Option<String>,
}

/// Logins and attempts of one client or account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Logins.
    pub logins: usize,
    /// Attempts (logins included).
    pub attempts: usize,
    /// The profile whose identification matches (clients only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// A census of one or more logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Census {
    /// Per host (the collector's host name, else the file).
    pub hosts: BTreeMap<String, Counts>,
    /// All hosts together.
    pub all: Counts,
    /// The most detailed sshd log level the lines show (`INFO`, `VERBOSE`, `DEBUG`).
    pub level: String,
    /// What that level cannot show, and the LogLevel that would.
    pub cannot_show: Vec<String>,
    /// Files that could not be read, with why.
    pub unread: Vec<(String, String)>,
}

impl Counts {
    fn add(&mut self, c: &ServerConnection, code: Option<String>, profile: Option<String>) {
        let login = c.view.accepted;
        self.attempts += 1;
        self.logins += usize::from(login);
        let l = &c.login;
        let bump = |m: &mut BTreeMap<String, usize>, k: &Option<String>| {
            if let (Some(k), true) = (k, login) {
                *m.entry(k.clone()).or_default() += 1;
            }
        };
        bump(&mut self.key_types, &l.key_type);
        bump(&mut self.signatures, &l.signature);
        bump(&mut self.methods, &l.method);
        if let Some(sw) = &l.client_software {
            let t = self.clients.entry(sw.clone()).or_default();
            t.attempts += 1;
            t.logins += usize::from(login);
            t.profile = profile;
        }
        if let Some(u) = &c.user {
            let t = self.users.entry(u.clone()).or_default();
            t.attempts += 1;
            t.logins += usize::from(login);
        }
        if let Some(code) = code {
            *self.failures.entry(code).or_default() += 1;
        }
        // Timestamps as the collector wrote them, compared as text (one format per log).
        if let Some(f) = &l.first_seen {
            if self.first_seen.as_ref().is_none_or(|x| f < x) {
                self.first_seen = Some(f.clone());
            }
        }
        if let Some(t) = &l.last_seen {
            if self.last_seen.as_ref().is_none_or(|x| t > x) {
                self.last_seen = Some(t.clone());
            }
        }
    }
}

/// Which log level a connection's lines show.
fn level_of(c: &ServerConnection) -> u8 {
    let debug =
        c.login.client_software.is_some() || c.evidence.iter().any(|l| l.text.starts_with("debug"));
    let verbose = c
        .evidence
        .iter()
        .any(|l| l.text.starts_with("Connection from "));
    match (debug, verbose) {
        (true, _) => 2,
        (false, true) => 1,
        _ => 0,
    }
}

/// The profile whose identification string names the same software.
fn profile_of(software: &str, profiles: &[Profile]) -> Option<String> {
    let ident = format!("SSH-2.0-{software}");
    profiles
        .iter()
        .filter(|p| p.driver.is_none())
        .find(|p| p.ident == ident)
        .or_else(|| {
            let sw = super::identify::software(&ident);
            profiles
                .iter()
                .filter(|p| p.driver.is_none())
                .find(|p| super::identify::software(&p.ident) == sw)
        })
        .map(|p| p.id.clone())
}

/// Counts every connection of every log.
pub fn take(paths: &[PathBuf], profiles: &[Profile]) -> Census {
    let mut census = Census::default();
    let mut level = 0u8;
    for p in paths {
        let mut each = |c: ServerConnection, census: &mut Census| {
            level = level.max(level_of(&c));
            count(census, &c, p, profiles);
        };
        if let Err(e) = read(p, &mut census, &mut each) {
            census.unread.push((p.display().to_string(), e));
        }
    }
    census.level = ["INFO", "VERBOSE", "DEBUG"][level as usize].to_string();
    census.cannot_show = cannot_show(level);
    census
}

fn count(census: &mut Census, c: &ServerConnection, file: &Path, profiles: &[Profile]) {
    let code = (!c.view.accepted).then(|| {
        let cause = super::cause::of(None, Some(c), false);
        cause
            .code
            .map_or("undecided".to_string(), |k| k.to_string())
    });
    let profile = c
        .login
        .client_software
        .as_deref()
        .and_then(|s| profile_of(s, profiles));
    let host = match &c.host {
        Some(h) => std::borrow::Cow::Borrowed(h.as_str()),
        None => std::borrow::Cow::Owned(file.display().to_string()),
    };
    // Looked up before inserting: a host's name is copied once, not per connection.
    if !census.hosts.contains_key(host.as_ref()) {
        census.hosts.insert(host.to_string(), Counts::default());
    }
    let counts = census.hosts.get_mut(host.as_ref()).expect("inserted");
    counts.add(c, code.clone(), profile.clone());
    census.all.add(c, code, profile);
}

fn cannot_show(level: u8) -> Vec<String> {
    let mut out = Vec::new();
    if level < 2 {
        out.push("client software and signature algorithms: sshd logs them at LogLevel DEBUG1 (`LogLevel DEBUG1` in sshd_config for a short window; it is verbose)".into());
    }
    if level < 1 {
        out.push("why a key was refused: sshd logs it at LogLevel VERBOSE".into());
    }
    out
}

/// Every connection of one server log, handed to `each` as it ends (never all held at once).
fn read(
    path: &Path,
    census: &mut Census,
    each: &mut dyn FnMut(ServerConnection, &mut Census),
) -> Result<(), String> {
    let input: Box<dyn Read> = match path == Path::new("-") {
        true => Box::new(std::io::stdin()),
        false => Box::new(std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?),
    };
    let lines =
        Lines::new(std::io::BufReader::new(input)).map_err(|e| format!("cannot read: {e}"))?;
    if lines.binary {
        return Err("not a log (binary data): expected a server's auth log or journal".into());
    }
    let name = path.display().to_string();
    let mut classifier = Classifier::server_only();
    let mut reader = ServerReader::counting(&name);
    for line in lines {
        let line = line.map_err(|e| format!("cannot read: {e}"))?;
        if let Some(e) = classifier.entry(line.no, &line.text) {
            reader.feed(&e);
        }
        if line.no % 4096 == 0 {
            reader.take_done().into_iter().for_each(|c| each(c, census));
        }
    }
    reader.finish().0.into_iter().for_each(|c| each(c, census));
    Ok(())
}

/// The census as text.
pub fn render(c: &Census) -> String {
    let mut s = format!(
        "census: {} attempts, {} logins on {} hosts (log level seen: {})\n",
        c.all.attempts,
        c.all.logins,
        c.hosts.len(),
        c.level
    );
    for (file, why) in &c.unread {
        s.push_str(&format!("{file}: not read: {why}\n"));
    }
    section(&mut s, "all hosts", &c.all);
    if c.hosts.len() > 1 {
        for (host, counts) in &c.hosts {
            section(&mut s, host, counts);
        }
    }
    for n in &c.cannot_show {
        s.push_str(&format!("cannot show at this level: {n}\n"));
    }
    s
}

fn section(s: &mut String, name: &str, c: &Counts) {
    s.push_str(&format!(
        "\n{name}: {} attempts, {} logins",
        c.attempts, c.logins
    ));
    if let (Some(a), Some(b)) = (&c.first_seen, &c.last_seen) {
        s.push_str(&format!(" ({a} … {b})"));
    }
    s.push('\n');
    for (sw, t) in &c.clients {
        let p = t
            .profile
            .as_deref()
            .map(|p| format!(" = {p}"))
            .unwrap_or_else(|| " (no profile: `sshmatrix record` it)".into());
        s.push_str(&format!(
            "  client {sw}{p}: {} logins of {} attempts\n",
            t.logins, t.attempts
        ));
    }
    let list = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (label, m) in [
        ("key types", &c.key_types),
        ("signatures", &c.signatures),
        ("methods", &c.methods),
        ("failures", &c.failures),
    ] {
        if !m.is_empty() {
            s.push_str(&format!("  {label}: {}\n", list(m)));
        }
    }
    let users: Vec<String> = c
        .users
        .iter()
        .map(|(u, t)| format!("{u} {}/{}", t.logins, t.attempts))
        .collect();
    if !users.is_empty() {
        s.push_str(&format!(
            "  accounts (logins/attempts): {}\n",
            users.join(", ")
        ));
    }
}

/// A change weighed by who really connects.
#[derive(Debug, Clone, Default)]
pub struct Weighed {
    /// Distinct clients the census saw.
    pub distinct: usize,
    /// Logins the census counted (of clients it could name).
    pub logins: usize,
    /// The clients the change locks out: software, profile, logins lost.
    pub broken: Vec<(String, String, usize)>,
    /// Clients seen without a profile: software, logins.
    pub unknown: Vec<(String, usize)>,
}

/// Weighs the clients (profile ids) a change locks out by the census's logins: a real-client
/// profile counts as the emulation profile it is based on.
pub fn weigh(census: &Census, broken_profiles: &[String], profiles: &[Profile]) -> Weighed {
    let base = |id: &str| -> String {
        profiles
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.driver.as_ref().and(p.base.clone()))
            .unwrap_or_else(|| id.to_string())
    };
    let broken: std::collections::BTreeSet<String> =
        broken_profiles.iter().map(|p| base(p)).collect();
    let mut w = Weighed {
        distinct: census.all.clients.len(),
        ..Default::default()
    };
    for (software, t) in &census.all.clients {
        w.logins += t.logins;
        match &t.profile {
            Some(p) if broken.contains(p) => w.broken.push((software.clone(), p.clone(), t.logins)),
            Some(_) => {}
            None => w.unknown.push((software.clone(), t.logins)),
        }
    }
    w.broken.sort_by_key(|b| std::cmp::Reverse(b.2));
    w
}

/// The weighing in words.
pub fn render_weighed(w: &Weighed, from: &str) -> String {
    let lost: usize = w.broken.iter().map(|b| b.2).sum();
    let mut s = format!(
        "weighed by {from}: breaks {} of {} distinct clients seen, {lost} of {} logins\n",
        w.broken.len(),
        w.distinct,
        w.logins
    );
    for (software, profile, logins) in &w.broken {
        s.push_str(&format!("  {software} ({profile}): {logins} logins lost\n"));
    }
    for (software, logins) in &w.unknown {
        s.push_str(&format!("  unknown: {software} ({logins} logins): no profile — `sshmatrix record` it to weigh it\n"));
    }
    if w.distinct == 0 {
        s.push_str(
            "  the census names no client software: its logs need LogLevel DEBUG1 to show it\n",
        );
    }
    s
}
