//! paramiko's DEBUG logging (`logging.basicConfig(level=logging.DEBUG)`, Ansible's paramiko
//! connection) read into login attempts: identifications, the server's KEXINIT, what was
//! agreed, the key tried and the signature algorithm agreed for it, how authentication ended.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};
use super::OfferedKey;

/// Reads paramiko lines into attempts.
#[derive(Default)]
pub struct ParamikoReader {
    attempts: Attempts,
}

/// The message of a paramiko log line (after `DEBUG:paramiko.transport:` or a formatter's
/// `paramiko.transport: `).
fn message(t: &str) -> Option<&str> {
    let i = t.find("paramiko.transport")?;
    let rest = &t[i + "paramiko.transport".len()..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_alphanumeric());
    Some(rest.trim_start_matches(':').trim_start())
}

impl ParamikoReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        ParamikoReader {
            attempts: Attempts::new("paramiko", file),
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Paramiko {
            return;
        }
        let Some(m) = message(&e.text) else {
            return;
        };
        let a = self
            .attempts
            .at(m.starts_with("starting thread (client mode)"), e.no);
        read_line(a, e.no, m, &e.text);
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| {
            s.trim()
                .trim_matches(|c| c == '\'' || c == '[' || c == ']')
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn read_line(a: &mut ClientAttempt, no: usize, m: &str, line: &str) {
    let word = |v: &str| Some(v.trim().to_string());
    if let Some(v) = m.strip_prefix("Local version/idstring: ") {
        a.ident = word(v);
    } else if let Some(v) = m.strip_prefix("Remote version/idstring: ") {
        a.server_ident = word(v);
    } else if let Some(v) = m.strip_prefix("kex algos: ") {
        a.server_kexinit.kex = list(v);
        return;
    } else if let Some(v) = m.strip_prefix("server key: ") {
        a.server_kexinit.hostkey = list(v);
        return;
    } else if let Some(v) = m.strip_prefix("client encrypt: ") {
        a.server_kexinit.cipher = list(v);
        return;
    } else if let Some(v) = m.strip_prefix("client mac: ") {
        a.server_kexinit.mac = list(v);
        return;
    } else if let Some(v) = m.strip_prefix("Kex: ") {
        a.negotiated.kex = word(v);
    } else if let Some(v) = m.strip_prefix("HostKey: ") {
        a.negotiated.hostkey = word(v);
    } else if let Some(v) = m.strip_prefix("Cipher: ") {
        a.negotiated.cipher = word(v);
    } else if let Some(v) = m.strip_prefix("MAC: ") {
        a.negotiated.mac = word(v);
    } else if !auth_line(a, m) && !ending(a, m) {
        return;
    }
    a.cite(no, line);
}

/// Key and signature lines; false when `m` is none.
fn auth_line(a: &mut ClientAttempt, m: &str) -> bool {
    if m.starts_with("Trying discovered key ")
        || m.starts_with("Trying key ")
        || m.starts_with("Trying SSH key ")
    {
        let fp = m.split('\'').nth(1).map(|h| format!("MD5:{h}"));
        let file = m
            .rsplit_once(" in ")
            .or_else(|| m.rsplit_once(" from "))
            .map(|(_, f)| f.to_string());
        a.keys.push(OfferedKey {
            fingerprint: fp,
            file,
            ..Default::default()
        });
    } else if let Some(v) = m.strip_prefix("Finalizing pubkey algorithm for key of type ") {
        if let Some(k) = a.keys.last_mut() {
            k.family = v.trim_matches('\'').to_string();
        }
    } else if let Some(v) = m.strip_prefix("Agreed upon ") {
        if let Some(k) = a.keys.last_mut() {
            k.signature = v.split('\'').nth(1).map(String::from);
        }
    } else if let Some(v) = m.strip_prefix("Got EXT_INFO: ") {
        let sigs = v
            .split("server-sig-algs': b'")
            .nth(1)
            .and_then(|r| r.split('\'').next());
        a.server_sig_algs = sigs.map(list);
    } else if let Some(v) = m.strip_prefix("Allowed methods: ") {
        a.methods = list(v);
    } else {
        return false;
    }
    true
}

/// How authentication or the connection ended; false when `m` says neither.
fn ending(a: &mut ClientAttempt, m: &str) -> bool {
    if m.starts_with("Authentication (") && m.contains("successful") {
        a.end(Verdict::Ok, Stage::Login, m.to_string());
    } else if m.starts_with("Authentication (publickey) failed") {
        let family = a.keys.last().map(|k| k.family.clone()).unwrap_or_default();
        a.end(
            Verdict::Fail,
            Stage::Auth,
            format!("server refused the {family} key"),
        );
    } else if m.starts_with("Authentication type (publickey) not permitted") {
        let offers = a.methods.join(",");
        a.end(
            Verdict::Fail,
            Stage::Auth,
            format!("server does not offer publickey authentication (offers: {offers})"),
        );
    } else if let Some(what) = m.strip_prefix("Incompatible ssh ") {
        let stage = super::negotiation_stage(what);
        a.end(Verdict::Fail, stage, format!("no matching algorithm: {m}"));
    } else {
        return false;
    }
    true
}
