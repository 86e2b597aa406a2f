//! AsyncSSH's debug logging (`logging.DEBUG` with `asyncssh.set_debug_level(2)`, the format of
//! AsyncSSH 2.x: `asyncssh:[conn=N] …`) read into login attempts: identifications, both
//! sides' KEXINIT lists, what was agreed, `server-sig-algs`, the signature algorithm each key
//! was tried with, how authentication or the connection ended.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};
use super::{Lists, OfferedKey};

/// Which KEXINIT the indented list lines that follow belong to.
#[derive(Default, Clone, Copy, PartialEq)]
enum Section {
    #[default]
    None,
    /// After "Requesting key exchange": the client's own lists.
    Ours,
    /// After "Received key exchange request": the server's.
    Theirs,
    /// After "Beginning key exchange": what was agreed.
    Agreed,
}

/// Reads AsyncSSH lines into attempts.
#[derive(Default)]
pub struct AsyncSshReader {
    attempts: Attempts,
    section: Section,
}

/// The message of an AsyncSSH log line: after `asyncssh:` and the `[conn=N]` (or
/// `[conn=N, chan=M]`) tag, with the indentation that nests lists under their heading.
fn message(t: &str) -> Option<&str> {
    let i = t.find("asyncssh:")?;
    let rest = &t[i + "asyncssh:".len()..];
    let rest = match rest.strip_prefix("[conn=") {
        Some(r) => r.split_once(']').map_or(r, |(_, m)| m),
        None => rest,
    };
    Some(rest.trim())
}

impl AsyncSshReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        AsyncSshReader {
            attempts: Attempts::new("asyncssh", file),
            section: Section::None,
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::AsyncSsh {
            return;
        }
        let Some(m) = message(&e.text) else {
            return;
        };
        self.section = match m {
            "Requesting key exchange" => Section::Ours,
            "Received key exchange request" => Section::Theirs,
            "Beginning key exchange" => Section::Agreed,
            "Completed key exchange" => Section::None,
            _ => self.section,
        };
        let starts = m.starts_with("Opening SSH connection to ");
        let a = self.attempts.at(starts, e.no);
        if read_line(a, self.section, m) {
            a.cite(e.no, &e.text);
        }
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

/// Reads one message; true when it is evidence worth quoting.
fn read_line(a: &mut ClientAttempt, section: Section, m: &str) -> bool {
    let word = |v: &str| Some(v.trim().to_string());
    if let Some(v) = m.strip_prefix("Sending version ") {
        a.ident = word(v);
    } else if let Some(v) = m.strip_prefix("Received version ") {
        a.server_ident = word(v);
    } else if let Some(v) = m.strip_prefix("Beginning auth for user ") {
        a.user = word(v);
    } else if let Some(v) = m.strip_prefix("Opening SSH connection to ") {
        a.host = v.split(',').next().and_then(word);
    } else if kexinit_line(a, section, m) {
        return section == Section::Agreed;
    } else if let Some(v) = m.strip_prefix("server-sig-algs: ") {
        a.server_sig_algs = Some(super::name_list(v));
    } else if !auth_line(a, m) && !ending(a, m) {
        return false;
    }
    true
}

/// A list line under a KEXINIT heading, or an agreed algorithm seen first; false otherwise.
/// (The server's lists are logged per direction; the client-to-server ones are kept.)
fn kexinit_line(a: &mut ClientAttempt, section: Section, m: &str) -> bool {
    let lists: &mut Lists = match section {
        Section::Ours => &mut a.kexinit,
        Section::Theirs => &mut a.server_kexinit,
        Section::Agreed => {
            let n = &mut a.negotiated;
            let slot = match m.split_once(": ") {
                Some(("Key exchange alg", _)) => &mut n.kex,
                Some(("Encryption alg", _)) => &mut n.cipher,
                Some(("MAC alg", _)) => &mut n.mac,
                _ => return false,
            };
            // The client-to-server choice comes first; the server-to-client one repeats it.
            if slot.is_some() {
                return false;
            }
            *slot = m.split_once(": ").map(|(_, v)| v.trim().to_string());
            return true;
        }
        Section::None => return false,
    };
    let Some((name, v)) = m.split_once(": ") else {
        return false;
    };
    let slot = match name {
        "Key exchange algs" => &mut lists.kex,
        "Host key algs" => &mut lists.hostkey,
        "Encryption algs" => &mut lists.cipher,
        "MAC algs" => &mut lists.mac,
        "Compression algs" => return true,
        _ => return false,
    };
    if slot.is_empty() {
        *slot = super::name_list(v);
    }
    true
}

/// Key and method lines; false when `m` is none.
fn auth_line(a: &mut ClientAttempt, m: &str) -> bool {
    if let Some(v) = m.strip_prefix("Trying public key auth with ") {
        // `Trying public key auth with rsa-sha2-256 key`: the signature algorithm it signs with.
        let alg = v.trim_end_matches(" key").trim().to_string();
        a.keys.push(OfferedKey {
            family: super::family_of_signature(&alg).into(),
            signature: Some(alg),
            ..Default::default()
        });
    } else if let Some(v) = m.strip_prefix("Remaining auth methods: ") {
        a.methods = super::name_list(v);
    } else {
        return false;
    }
    true
}

/// How authentication or the connection ended; false when `m` says neither.
fn ending(a: &mut ClientAttempt, m: &str) -> bool {
    if m.starts_with("Auth for user ") && m.ends_with(" succeeded") {
        if let Some(k) = a.keys.last_mut() {
            k.accepted = true;
        }
        a.end(Verdict::Ok, Stage::Login, m.to_string());
    } else if m.starts_with("Auth failed for user ") {
        let tried = a.keys.last().and_then(|k| k.signature.clone());
        let reason = match tried {
            Some(sig) => format!("server refused the key signed {sig}"),
            None => format!(
                "no key was tried; the server offers: {}",
                a.methods.join(",")
            ),
        };
        a.key_refused |= !a.keys.is_empty();
        a.end(Verdict::Fail, Stage::Auth, reason);
    } else if let Some(why) = m.strip_prefix("Connection failure: ") {
        let stage = match why.contains("No matching") {
            true => super::negotiation_stage(why),
            false => Stage::Connect,
        };
        a.end(Verdict::Fail, stage, why.to_string());
    } else {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn a_line_is_read_after_its_logger_and_connection_tag() {
        let l = "2026-12-07 11:38:31,763 DEBUG:asyncssh:[conn=0] Trying public key auth with ssh-rsa key";
        assert_eq!(message(l), Some("Trying public key auth with ssh-rsa key"));
        let l = "DEBUG:asyncssh:[conn=3, chan=0]   Key exchange algs: a,b";
        assert_eq!(message(l), Some("Key exchange algs: a,b"));
        assert_eq!(message("INFO:root:other"), None);
    }
}
