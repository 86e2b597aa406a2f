//! JSch's logger output (`JSch.setLogger`, one `LEVEL: message` line each, as Jenkins, Ant and
//! most Java tools print it) read into login attempts: identifications, both sides' KEXINIT
//! lists, the ciphers and MACs agreed, the host key type, the methods the server offers, and how
//! authentication ended. JSch 0.1.x logs no key and no signature algorithm: the attempt says
//! only that public-key authentication was tried.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};
use super::Lists;

/// Reads JSch lines into attempts.
#[derive(Default)]
pub struct JschReader {
    attempts: Attempts,
    /// How many `kex: server:` and `kex: client:` lines the attempt has had (JSch logs the ten
    /// KEXINIT name-lists in protocol order, one line each).
    server_lists: usize,
    client_lists: usize,
    /// The methods tried, in order.
    tried: Vec<String>,
}

/// The message of a JSch logger line: after the level word (`INFO: `) and anything before it
/// (a timestamp, a logger name).
fn message(t: &str) -> Option<&str> {
    ["INFO: ", "DEBUG: ", "WARN: ", "ERROR: ", "FATAL: "]
        .iter()
        .find_map(|level| t.find(level).map(|i| &t[i + level.len()..]))
}

impl JschReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        JschReader {
            attempts: Attempts::new("jsch", file),
            ..Default::default()
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Jsch {
            return;
        }
        let Some(m) = message(&e.text) else {
            return;
        };
        let starts = m.starts_with("Connecting to ");
        if starts {
            (self.server_lists, self.client_lists, self.tried) = (0, 0, Vec::new());
        }
        let a = self.attempts.at(starts, e.no);
        let quote = if let Some(v) = m.strip_prefix("kex: server: ") {
            self.server_lists += 1;
            kexinit_list(&mut a.server_kexinit, self.server_lists, v)
        } else if let Some(v) = m.strip_prefix("kex: client: ") {
            self.client_lists += 1;
            kexinit_list(&mut a.kexinit, self.client_lists, v)
        } else if let Some(v) = m.strip_prefix("Next authentication method: ") {
            self.tried.push(v.trim().to_string());
            true
        } else {
            read_line(a, &self.tried, m)
        };
        if quote {
            a.cite(e.no, &e.text);
        }
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

/// The `n`-th KEXINIT name-list (1: key exchange, 2: host key, 3: client-to-server cipher,
/// 5: client-to-server MAC; the others are not kept). Never quoted: the lists are long.
fn kexinit_list(lists: &mut Lists, n: usize, v: &str) -> bool {
    match n {
        1 => lists.kex = super::name_list(v),
        2 => lists.hostkey = super::name_list(v),
        3 => lists.cipher = super::name_list(v),
        5 => lists.mac = super::name_list(v),
        _ => {}
    }
    false
}

/// Reads one message; true when it is evidence worth quoting.
fn read_line(a: &mut ClientAttempt, tried: &[String], m: &str) -> bool {
    let word = |v: &str| Some(v.trim().to_string());
    if let Some(v) = m.strip_prefix("Local version string: ") {
        a.ident = word(v);
    } else if let Some(v) = m.strip_prefix("Remote version string: ") {
        a.server_ident = word(v);
    } else if let Some(v) = m.strip_prefix("Connecting to ") {
        a.host = v.split(' ').next().and_then(word);
    } else if let Some(v) = m.strip_prefix("kex: client->server ") {
        // `kex: client->server aes128-ctr hmac-sha1 none`
        let mut w = v.split_whitespace();
        a.negotiated.cipher = w.next().map(String::from);
        a.negotiated.mac = w.next().map(String::from);
    } else if m.starts_with("kex: server->client ") {
        // The other direction: the same choice in every log seen.
    } else if let Some(v) = m.strip_prefix("Authentications that can continue: ") {
        a.methods = super::name_list(v);
    } else if let Some(v) = m.strip_prefix("Authentication succeeded (") {
        let method = v.trim_end_matches(").");
        a.end(Verdict::Ok, Stage::Login, format!("logged in ({method})"));
    } else if m.starts_with("Disconnecting from ") {
        ended_without_login(a, tried);
    } else if m.starts_with("Permanently added ") {
        // `Permanently added '127.0.0.1' (ECDSA) to the list of known hosts.`: the host key's
        // family, not its algorithm (quoted, not recorded).
    } else {
        return negotiation_failure(a, m);
    }
    true
}

/// A disconnect before a login: refused at authentication when a method was tried, else the
/// connection ended before it.
fn ended_without_login(a: &mut ClientAttempt, tried: &[String]) {
    if tried.is_empty() {
        a.end(
            Verdict::Fail,
            Stage::Connect,
            "the connection ended before authentication".into(),
        );
        return;
    }
    let offers = a.methods.join(",");
    a.key_refused |= tried.iter().any(|m| m == "publickey");
    a.end(
        Verdict::Fail,
        Stage::Auth,
        format!(
            "every method failed (tried: {}; the server offers: {offers}) — JSch's \"Auth fail\"",
            tried.join(", ")
        ),
    );
}

/// JSch's words for a failed negotiation (`Algorithm negotiation fail`); false for others.
fn negotiation_failure(a: &mut ClientAttempt, m: &str) -> bool {
    if !m.contains("negotiation fail") {
        return false;
    }
    a.end(Verdict::Fail, Stage::Kex, m.to_string());
    true
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn a_line_is_read_after_its_level() {
        assert_eq!(
            message("INFO: Local version string: SSH-2.0-JSCH-0.1.54"),
            Some("Local version string: SSH-2.0-JSCH-0.1.54")
        );
        let jenkins = "Dec 07, 2026 11:00:00 AM hudson.Logger log\nINFO: Connecting to h port 22";
        assert_eq!(
            message(jenkins.lines().nth(1).unwrap()),
            Some("Connecting to h port 22")
        );
        assert_eq!(message("plain text"), None);
    }
}
