//! Which side wrote each line of a log (files often mix them: a ticket pastes the client's
//! `ssh -vvv` above the server's journal): collector prefixes and `[preauth]` mark the server;
//! each side's own opening lines switch a file's mode, and unmarked lines follow the mode.

use super::prefix::{self, Prefix};

/// Who wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The OpenSSH client (`ssh -v`, its one-line errors).
    OpenSsh,
    /// paramiko's DEBUG logging.
    Paramiko,
    /// PuTTY / plink's event log (`plink -v`).
    Putty,
    /// Node ssh2's debug output.
    Node,
    /// AsyncSSH's debug logging.
    AsyncSsh,
    /// JSch's logger output.
    Jsch,
    /// A Go program's x/crypto/ssh error line.
    Go,
    /// A server: OpenSSH sshd, Dropbear, TinySSH.
    Server,
}

/// One line of a log with its side and collector prefix (borrowed from the raw line).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// 1-based line number.
    pub no: usize,
    /// Who wrote it.
    pub side: Side,
    /// The collector prefix (program, PID, host).
    pub prefix: Prefix<'a>,
    /// The program's words.
    pub text: String,
}

/// Lines only a server writes (after any prefix).
const SERVER_STARTS: &[&str] = &[
    "Connection from ",
    "Accepted publickey",
    "Accepted password",
    "Accepted key ",
    "Accepted certificate",
    "Failed publickey",
    "Failed password",
    "Failed none",
    "Postponed publickey",
    "Invalid user",
    "Connection closed by authenticating user",
    "Connection closed by invalid user",
    "Disconnected from user",
    "Disconnected from authenticating user",
    "Disconnected from invalid user",
    "userauth_pubkey:",
    "Starting session:",
    "Server listening on",
    "Exit before auth",
    "Child connection from",
    "Pubkey auth ",
    "Bad password attempt",
    "Max auth tries reached",
    "maximum authentication attempts exceeded",
    "error: maximum authentication attempts",
    "Authentication refused:",
    "ROOT LOGIN REFUSED",
    "User root from",
    "pam_unix(sshd:",
    "tinysshd: ",
];

/// Lines that open a client's log.
const CLIENT_OPENERS: &[&str] = &[
    "debug1: Reading configuration data",
    "debug1: Connecting to",
    "debug1: Authenticating to",
];

/// Lines that open a server's log.
const SERVER_OPENERS: &[&str] = &[
    "debug1: sshd version",
    "Server listening on",
    "Connection from ",
    "debug1: inetd sockets after dupping",
];

/// Classifies lines one after the other, keeping the file's current mode.
pub struct Classifier {
    mode: Side,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            mode: Side::OpenSsh,
        }
    }
}

impl Classifier {
    /// A classifier for a file known to be a server's log (`census`): unmarked lines are the
    /// server's.
    pub fn server_only() -> Self {
        Classifier { mode: Side::Server }
    }

    /// The entry of one raw line, `None` for lines that carry nothing (blank, Markdown fences).
    pub fn entry<'a>(&mut self, no: usize, raw: &'a str) -> Option<Entry<'a>> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            return None;
        }
        let (prefix, text) = prefix::split(trimmed);
        // A PuTTY session log's event lines.
        let text = text.strip_prefix("Event Log: ").unwrap_or(text);
        let text = super::redact::mask_secrets(text.trim()).into_owned();
        let side = self.side(&prefix, &text);
        Some(Entry {
            no,
            side,
            prefix,
            text,
        })
    }

    fn side(&mut self, prefix: &Prefix, text: &str) -> Side {
        let by_program = prefix.program.is_some_and(|p| {
            p.starts_with("sshd") || ["dropbear", "tinysshd", "proftpd"].contains(&p)
        });
        if by_program || text.ends_with("[preauth]") {
            return Side::Server;
        }
        if SERVER_OPENERS.iter().any(|o| text.starts_with(o)) {
            self.mode = Side::Server;
            return Side::Server;
        }
        if let Some(side) = client_opener(text) {
            self.mode = side;
            return side;
        }
        if SERVER_STARTS.iter().any(|s| text.starts_with(s)) {
            return Side::Server;
        }
        if text.contains("paramiko.") {
            return Side::Paramiko;
        }
        if text.contains("asyncssh:") {
            return Side::AsyncSsh;
        }
        if super::go::MARKS.iter().any(|m| text.contains(m)) {
            return Side::Go;
        }
        self.mode
    }
}

/// The client whose log `text` opens, if it opens one.
fn client_opener(text: &str) -> Option<Side> {
    if CLIENT_OPENERS.iter().any(|o| text.starts_with(o))
        || (text.starts_with("OpenSSH_") && text.contains(", "))
    {
        return Some(Side::OpenSsh);
    }
    let putty = ["Looking up host \"", "We claim version: SSH-2.0-PuTTY"];
    if putty.iter().any(|p| text.starts_with(p)) {
        return Some(Side::Putty);
    }
    if text.starts_with("Local ident: 'SSH-2.0-ssh2js") {
        return Some(Side::Node);
    }
    if text.contains("asyncssh:") && text.contains("Opening SSH connection to ") {
        return Some(Side::AsyncSsh);
    }
    if text.contains("INFO: Connecting to ") && text.contains(" port ") {
        return Some(Side::Jsch);
    }
    (text.contains("paramiko.transport") && text.contains("starting thread"))
        .then_some(Side::Paramiko)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_mix_is_split_by_side() {
        let mut c = Classifier::default();
        let sides: Vec<Side> = [
            "```",
            "OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026",
            "debug1: Offering public key: k RSA SHA256:x explicit",
            "root@h: Permission denied (publickey).",
            "Dec  7 02:10:01 ahv sshd[12]: Connection closed by authenticating user root 10.0.0.5 port 5 [preauth]",
            "userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]",
            "debug1: sshd version OpenSSH_9.2p1, OpenSSL 3.0.19",
            "debug1: Forked child 5.",
            "DEBUG:paramiko.transport:starting thread (client mode): 0x1",
        ]
        .iter()
        .enumerate()
        .filter_map(|(i, l)| c.entry(i + 1, l))
        .map(|e| e.side)
        .collect();
        use Side::*;
        assert_eq!(
            sides,
            [OpenSsh, OpenSsh, OpenSsh, Server, Server, Server, Server, Paramiko]
        );
    }
}
