//! Go's golang.org/x/crypto/ssh errors, as programs built on it print them (Terraform, Packer,
//! Gitea, the Docker CLI's ssh:// contexts): one line per failed attempt, `ssh: handshake
//! failed: …`. A line says where it stopped (for a failed negotiation, with both sides' lists
//! of that kind); Go logs nothing before it, so there is no identification to name the client by.

use sshmatrix_reports::{Stage, Verdict};

use super::client::{Attempts, ClientAttempt};
use super::sources::{Entry, Side};

/// The words that make a line Go's (after any prefix).
pub const MARKS: &[&str] = &[
    "ssh: handshake failed: ",
    "ssh: unable to authenticate, attempted methods",
    "ssh: no common algorithm for ",
];

/// Reads Go error lines into attempts, one each.
#[derive(Default)]
pub struct GoReader {
    attempts: Attempts,
}

impl GoReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        GoReader {
            attempts: Attempts::new("go-x-crypto", file),
        }
    }

    /// Reads one line.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::Go {
            return;
        }
        let Some(at) = MARKS.iter().filter_map(|m| e.text.find(m)).min() else {
            return;
        };
        let m = &e.text[at..];
        let a = self.attempts.at(true, e.no);
        if read(a, m) {
            a.cite(e.no, &e.text);
        }
    }

    /// The attempts read.
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }
}

/// A bracketed Go list (`[a b c]`) after `label`.
fn bracketed(m: &str, label: &str) -> Vec<String> {
    m.split(label)
        .nth(1)
        .and_then(|r| r.strip_prefix('['))
        .and_then(|r| r.split(']').next())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Reads the error; false when it is none Go writes at login.
fn read(a: &mut ClientAttempt, m: &str) -> bool {
    let m = m.trim_start_matches("ssh: handshake failed: ");
    if m.starts_with("ssh: unable to authenticate") {
        // `attempted methods [none publickey], no supported methods remain`
        let tried = bracketed(m, "attempted methods ");
        a.key_refused |= tried.iter().any(|t| t == "publickey");
        let reason = format!(
            "the server refused every method tried ({})",
            tried.join(", ")
        );
        a.end(Verdict::Fail, Stage::Auth, reason);
    } else if let Some(what) = m.strip_prefix("ssh: no common algorithm for ") {
        let what = what.split(';').next().unwrap_or_default();
        negotiation(a, what, m);
    } else if m.starts_with("knownhosts: key mismatch") {
        a.end(Verdict::Fail, Stage::Hostkey, m.to_string());
    } else if m == "EOF" || m.contains("connection reset by peer") {
        let reason = format!("the server closed the connection: {m}");
        a.end(Verdict::Fail, Stage::Connect, reason);
    } else {
        return false;
    }
    true
}

/// `no common algorithm for WHAT; client offered: [..], server offered: [..]`: the stage. The
/// two lists stay in the reason as Go wrote them: one list of each side's KEXINIT is too little
/// to name a client or a server release by.
fn negotiation(a: &mut ClientAttempt, what: &str, m: &str) {
    let stage = match what {
        "key exchange" => Stage::Kex,
        "host key" => Stage::Hostkey,
        w if w.ends_with("cipher") => Stage::Cipher,
        w if w.ends_with("MAC") => Stage::Mac,
        _ => Stage::Compression,
    };
    a.end(Verdict::Fail, stage, format!("no matching algorithm: {m}"));
}

#[cfg(test)]
mod tests {
    use super::bracketed;

    #[test]
    fn a_go_list_is_read_from_its_brackets() {
        let m = "ssh: no common algorithm for client to server cipher; client offered: [aes128-ctr aes256-ctr], server offered: [3des-cbc]";
        assert_eq!(
            bracketed(m, "client offered: "),
            ["aes128-ctr", "aes256-ctr"]
        );
        assert_eq!(bracketed(m, "server offered: "), ["3des-cbc"]);
        assert!(bracketed("no list", "client offered: ").is_empty());
    }
}
