//! Reading a server log (OpenSSH sshd, Dropbear): the server's own reason for refusing a cell,
//! with the evidence lines.

use serde::{Deserialize, Serialize};

/// What the server log says about one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    /// The server's reason for a refusal, in its words (without `[preauth]`).
    pub reason: Option<String>,
    /// Whether sshd logged an accepted authentication.
    pub accepted: bool,
    /// The log lines that support the reason (or the acceptance).
    pub evidence: Vec<String>,
}

/// Patterns that carry a refusal reason, most specific first.
const REASONS: &[&str] = &[
    // A user certificate refused (OpenSSH auth2-pubkey.c, auth2-pubkeyfile.c).
    "certificate signature algorithm",
    "Certificate invalid:",
    // A user certificate's source-address critical option (auth-options.c, auth2-pubkeyfile.c).
    "not from a permitted source address",
    "not in PubkeyAcceptedAlgorithms",
    // OpenSSH before 8.5 names the setting PubkeyAcceptedKeyTypes.
    "not in PubkeyAcceptedKeyTypes",
    // OpenSSH 10.0 and later, built without DSA.
    "unsupported public key algorithm",
    "Unable to negotiate",
    "no matching",
    "refusing RSA key",
    "Invalid key length",
    "Authentication refused",
    "not allowed because",
    "Invalid user",
    // OpenSSH 9.8+ PerSourcePenalties: the listener drops a penalised source's connection
    // (`drop connection #0 from [ADDR]:PORT on [ADDR]:PORT penalty: failed authentication`).
    "drop connection #",
    "Too many authentication failures",
    "maximum authentication attempts exceeded",
    "Disconnecting",
    "Failed publickey",
    "Failed password",
    // PAM refused the keyboard-interactive answers (OpenSSH auth2-chall.c with UsePAM).
    "Failed keyboard-interactive/pam",
    // A first step accepted (AuthenticationMethods), the next never taken.
    "Partial publickey",
    // Dropbear: the connection's process aborting (2025.89 and later assert in rsa_pad_em
    // when asked to verify an ssh-rsa signature), no common algorithm (`No matching algo
    // kex`), too many attempts, a bad password; it says nothing of a key it does not know,
    // only how the connection ended.
    "Assertion `",
    "No matching algo",
    "Max auth tries reached",
    "Bad password attempt",
    "Pubkey auth attempt with unknown algo",
    // ProFTPD mod_sftp (1.3.7a-1.3.9d): no common algorithm (its SFTPLog: `no shared key
    // exchange algorithm found (client sent '…', server sent '…')`), the attempts exhausted
    // (`Maximum login attempts (6) exceeded`), a key refused (`USER alice (Login failed):
    // authentication via 'rsa-sha2-512' public key failed`; an algorithm it does not verify
    // is `unsupported public key algorithm`, above).
    "no shared ",
    "Maximum login attempts",
    "(Login failed)",
    // Twisted Conch (userauth.py, 20.3-26.4): a key type the release cannot read (`Unsupported
    // key type ssh-ed25519 or bad key`), any refusal (`b'admin' failed auth b'publickey'`,
    // followed by `unauthorized login: Key not authorized`, kept as evidence).
    "Unsupported key type",
    "unauthorized login: Key",
    "failed auth b'",
    // Apache MINA SSHD: a signature algorithm it has no verifier for (DEBUG).
    "No verifier located for algorithm",
    "Exit before auth",
    // TinySSH.
    "unable to authorize",
    "too many authentication tries",
    // Not "Connection closed by authenticating user": that is the client giving up, and the
    // client says why.
    "fatal:",
    "error:",
];

/// What sshd logs when it cannot use its own configuration: the connection it served says
/// nothing about the client (a `%` it could not expand in AuthorizedKeysFile, no host key).
const CONFIG_FAILURES: &[&str] = &[
    "percent_expand: failed",
    "percent_expand: unknown key",
    "no hostkeys available",
    "Bad configuration option",
    "Missing privilege separation directory",
    "Could not load host key",
];

/// The log line that says the server could not use its own configuration, if any: such a
/// connection has no verdict.
pub fn config_failure(log: &str) -> Option<String> {
    log.lines()
        .find(|l| CONFIG_FAILURES.iter().any(|p| l.contains(p)))
        .map(clean)
}

/// The line a per-cell daemon logs for each connection: Dropbear's `Child connection from
/// HOST:PORT`, ProFTPD's `SSH2 session opened.`, sshmatrix's Twisted program's `sshmatrix:
/// connection from HOST:PORT`.
pub const DAEMON_CONNECTIONS: [&str; 3] = [
    "Child connection from",
    "SSH2 session opened",
    "sshmatrix: connection from",
];

/// The connections a per-cell daemon's log says it served beyond the cell's one (Dropbear logs
/// `Child connection from HOST:PORT` for each, ProFTPD `SSH2 session opened.`): a connection another local user made to the
/// cell's port, which makes the log (and so the verdict) no longer the cell's alone.
pub fn foreign_connections(log: &str) -> usize {
    log.lines()
        .filter(|l| DAEMON_CONNECTIONS.iter().any(|e| l.contains(e)))
        .count()
        .saturating_sub(1)
}

/// The lines in which a server sshmatrix runs says it turned a foreign connection away.
pub fn turned_away(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("sshmatrix: turned away"))
        .map(|l| l.trim().trim_start_matches("sshmatrix: ").to_string())
        .collect()
}

/// The signature algorithm of the public-key request an emulated server verified (its own
/// line, `emulated server: signature algorithm ALG (valid)`), if it logged one.
pub fn emulated_signature(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let rest = l
            .trim()
            .strip_prefix("emulated server: signature algorithm ")?;
        rest.split_whitespace().next().map(String::from)
    })
}

/// The sshd lines that end a connection (the last a connection logs): how a listening daemon's
/// log is cut into its connections.
pub const CONNECTION_ENDS: &[&str] = &[
    "Disconnected from",
    "Connection closed by",
    "Connection reset by",
    "Disconnecting",
    "drop connection #",
    "Unable to negotiate",
    "Timeout before authentication",
];

/// Lines kept as evidence though they explain nothing themselves (an emulated server's engine
/// ending the connection is not the release's reason: the client says what failed).
const CONTEXT: &[&str] = &[
    "Connection closed by authenticating user",
    "emulated server: connection lost",
    // A listening sshd's penalty for the connection that just ended.
    "srclimit_penalise:",
    // Twisted Conch: the checker's words after `failed auth` (empty for a password).
    "unauthorized login: ",
];

/// A log line without sshd's `[preauth]` suffix, Dropbear's `[PID] Mon DD HH:MM:SS ` prefix,
/// TinySSH's `tinysshd: SESSION: info: ` prefix and ` {file.c:LINE}` suffix, or ProFTPD's
/// `YYYY-MM-DD HH:MM:SS,mmm HOST proftpd[PID] SERVER (CLIENT): ` and `… mod_sftp/V[PID]: `.
fn clean(line: &str) -> String {
    let line = line.trim();
    if let Some(p) = proftpd_line(line) {
        return p.text.to_string();
    }
    // Twisted Conch's lines as sshmatrix's program writes them.
    if let Some(rest) = line.strip_prefix("conch: ") {
        return rest.trim().to_string();
    }
    // AsyncSSH: `[conn=0] Auth for user admin succeeded`, `[conn=0, chan=0] …`.
    if let Some(rest) = line.strip_prefix("[conn=").and_then(|r| r.split_once("] ")) {
        return rest.1.trim().to_string();
    }
    if let Some(rest) = line.strip_prefix("tinysshd: ") {
        let rest = rest.split_once(": ").map_or(rest, |(_, r)| r);
        let rest = ["info: ", "warning: ", "fatal: "]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .unwrap_or(rest);
        return rest
            .rsplit_once('{')
            .filter(|(_, at)| at.ends_with('}'))
            .map_or(rest, |(text, _)| text)
            .trim_end()
            .to_string();
    }
    let line = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        // `Dec 02 16:21:43 ` is 16 characters.
        Some((pid, rest)) if pid.bytes().all(|b| b.is_ascii_digit()) && rest.len() > 16 => {
            &rest[16..]
        }
        _ => line,
    };
    line.trim_end_matches("[preauth]").trim().to_string()
}

/// A line of ProFTPD's own log files, split: the main log's `YYYY-MM-DD HH:MM:SS,mmm HOST
/// proftpd[PID] SERVER (CLIENT[ADDR]): TEXT` and mod_sftp's SFTPLog `YYYY-MM-DD HH:MM:SS,mmm
/// mod_sftp/VERSION[PID]: TEXT`. Both name the session's process, so the two files' lines of
/// one connection share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProftpdLine<'a> {
    /// The timestamp, as written.
    pub stamp: &'a str,
    /// The process that logged it.
    pub pid: u32,
    /// The words after the source.
    pub text: &'a str,
}

/// `line` split as ProFTPD writes it, or `None` when it is not ProFTPD's.
pub fn proftpd_line(line: &str) -> Option<ProftpdLine<'_>> {
    // `2026-12-07 17:25:20,115 ` is 24 bytes: digits and separators at fixed places.
    let shape = b"dddd-dd-dd dd:dd:dd,ddd ";
    let dated = line.get(..24)?.bytes().zip(shape).all(|(c, s)| match s {
        b'd' => c.is_ascii_digit(),
        _ => c == *s,
    });
    if !dated {
        return None;
    }
    let rest = &line[24..];
    let (pid, text) = match rest.strip_prefix("mod_sftp/") {
        Some(r) => {
            let (head, text) = r.split_once("]: ")?;
            (head.split_once('[')?.1, text)
        }
        None => {
            let (pid, r) = rest.split_once(" proftpd[")?.1.split_once("] ")?;
            (pid, r.split_once(": ")?.1)
        }
    };
    Some(ProftpdLine {
        stamp: &line[..23],
        pid: pid.parse().ok()?,
        text,
    })
}

/// Whether a (cleaned) line records a successful authentication.
fn is_acceptance(line: &str) -> bool {
    // OpenSSH names PAM's keyboard-interactive login `Accepted keyboard-interactive/pam`.
    ["Accepted publickey", "Accepted password", "Accepted keyboard-interactive"]
        .iter()
        .any(|p| line.starts_with(p))
        || ["Pubkey auth succeeded for", "Password auth succeeded for"]
            .iter()
            .any(|p| line.starts_with(p))
        || (line.starts_with("auth: ") && line.ends_with(" accepted"))
        || (line.starts_with("Auth for user ") && line.ends_with(" succeeded"))
        // Twisted Conch: `b'admin' authenticated with b'publickey'`.
        || line.contains("' authenticated with b'")
        // ProFTPD: `USER alice: Login successful.` (mod_auth's log of the accepted login).
        || (line.starts_with("USER ") && line.contains(": Login successful"))
        // Apache MINA SSHD (ServerUserAuthService, INFO).
        || (line.starts_with("Session ") && line.ends_with(" authenticated"))
}

/// Analyses the log of one connection (`sshd -i`, or a per-cell Dropbear daemon).
pub fn analyse(log: &str) -> ServerView {
    let cleaned: Vec<String> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(clean)
        .collect();
    let lines: Vec<&str> = cleaned.iter().map(String::as_str).collect();
    if lines.iter().any(|l| is_acceptance(l)) {
        // A login's steps: the first ones of a chain (AuthenticationMethods) and the last;
        // then what the server refused on the way (a client trying another signature
        // algorithm or key on the same connection).
        let refused = lines
            .iter()
            .filter(|l| !is_acceptance(l) && REASONS.iter().any(|p| l.contains(p)));
        let steps = lines
            .iter()
            .filter(|l| is_acceptance(l) || l.starts_with("Partial "))
            .chain(refused)
            .map(|l| l.to_string())
            .collect();
        return ServerView {
            reason: None,
            accepted: true,
            evidence: steps,
        };
    }
    for pat in REASONS {
        if let Some(line) = lines.iter().find(|l| l.contains(pat)) {
            let reason = line.trim_start_matches("userauth_pubkey: ").to_string();
            let evidence = lines
                .iter()
                .filter(|l| REASONS.iter().chain(CONTEXT).any(|p| l.contains(p)))
                .map(|l| l.to_string())
                .collect();
            return ServerView {
                reason: Some(reason),
                accepted: false,
                evidence,
            };
        }
    }
    ServerView {
        reason: None,
        accepted: false,
        evidence: lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|l| l.to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real sshd serving a real `ssh` once (`sshd -i` as its ProxyCommand) with an
    /// AuthorizedKeysFile holding an unescaped `%2F`, as a Jenkins workspace path would: its log.
    fn log_of_unexpandable_path() -> String {
        let base = std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap();
        let dir = base.join(format!(
            ".cache/sshmatrix-log-test-{}/job%2Fmain",
            std::process::id()
        ));
        sshmatrix_core::fsx::private_dir(&dir).unwrap();
        let keygen = |name: &str| {
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-t", "ed25519", "-f"])
                .arg(dir.join(name))
                .status()
                .unwrap()
                .success();
            assert!(ok);
        };
        keygen("hk");
        keygen("ck");
        std::fs::copy(dir.join("ck.pub"), dir.join("ak")).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("sshd_config"),
            format!("HostKey {d}/hk\nPidFile none\nUsePAM no\nLogLevel VERBOSE\nAuthorizedKeysFile {d}/ak\nPermitRootLogin yes\n"),
        )
        .unwrap();
        // A script outside the directory, so that ssh has no `%` of its own to expand.
        let proxy = dir.parent().unwrap().join("proxy.sh");
        std::fs::write(
            &proxy,
            format!("#!/bin/sh\nexec /usr/sbin/sshd -i -e -f '{d}/sshd_config' 2>>'{d}/log'\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&proxy, std::fs::Permissions::from_mode(0o700)).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        // ssh expands `%` in its own IdentityFile too: the client's key sits outside.
        let key = dir.parent().unwrap().join("ck");
        std::fs::copy(dir.join("ck"), &key).unwrap();
        let _ = std::process::Command::new("ssh")
            .args([
                "-F",
                "none",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
            ])
            .args([
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-i",
            ])
            .arg(&key)
            .arg("-o")
            .arg(format!("ProxyCommand={}", proxy.display()))
            .args(["root@sshmatrix-test", "true"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
        log
    }

    #[test]
    fn a_server_that_cannot_expand_its_own_paths_is_no_verdict() {
        if !std::path::Path::new("/usr/sbin/sshd").exists() {
            return;
        }
        let log = log_of_unexpandable_path();
        let line = config_failure(&log).unwrap_or_else(|| panic!("not recognised: {log}"));
        assert!(line.contains("percent_expand"), "{line}");
        assert_eq!(
            config_failure("Accepted publickey for root from UNKNOWN"),
            None
        );
    }

    #[test]
    fn signature_algorithm_refusal_is_the_reason() {
        let log = "Connection from UNKNOWN port 65535 on UNKNOWN port 65535\n\
                   userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]\n\
                   Connection closed by authenticating user root UNKNOWN port 65535 [preauth]\n";
        let v = analyse(log);
        assert_eq!(
            v.reason.as_deref(),
            Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
        );
        assert!(!v.accepted);
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn a_client_giving_up_is_not_a_server_reason() {
        let log = "Connection from 127.0.0.1 port 40000 on 127.0.0.1 port 40001 rdomain \"\"\n\
                   Connection closed by authenticating user root 127.0.0.1 port 40000 [preauth]\n";
        let v = analyse(log);
        assert_eq!(v.reason, None);
        assert_eq!(
            v.evidence.last().map(String::as_str),
            Some("Connection closed by authenticating user root 127.0.0.1 port 40000")
        );
    }

    #[test]
    fn dropbear_lines_lose_their_pid_and_time() {
        let log = "[5202] Dec 02 16:21:42 Not backgrounding\n\
                   [5220] Dec 02 16:21:43 Child connection from 127.0.0.1:34586\n\
                   [5220] Dec 02 16:21:43 Pubkey auth succeeded for 'root' with ssh-ed25519 key SHA256:i4nA from 127.0.0.1:34586\n\
                   [5220] Dec 02 16:21:43 Exit (root) from <127.0.0.1:34586>: Disconnect received\n";
        let v = analyse(log);
        assert!(v.accepted);
        assert_eq!(
            v.evidence,
            ["Pubkey auth succeeded for 'root' with ssh-ed25519 key SHA256:i4nA from 127.0.0.1:34586"]
        );
        let v = analyse(
            "[7] Dec 02 16:21:43 Exit before auth from <127.0.0.1:1>: No matching algo kex\n",
        );
        assert_eq!(
            v.reason.as_deref(),
            Some("Exit before auth from <127.0.0.1:1>: No matching algo kex")
        );
    }

    /// Lines of the real ProFTPD 1.3.8 in the bookworm image (2026-12-07), main log and
    /// SFTPLog both on its stderr.
    #[test]
    fn proftpd_lines_lose_their_stamp_and_source() {
        let v = analyse(
            "2026-12-07 17:25:20,101 vm proftpd[361] localhost (localhost[127.0.0.1]): SSH2 session opened.\n\
             2026-12-07 17:25:20,115 vm proftpd[361] localhost (localhost[127.0.0.1]): USER alice (Login failed): authentication via 'rsa-sha2-512' public key failed\n\
             2026-12-07 17:25:20,115 mod_sftp/1.1.1[361]: sending userauth failure; remaining userauth methods: publickey,password\n",
        );
        assert_eq!(
            v.reason.as_deref(),
            Some("USER alice (Login failed): authentication via 'rsa-sha2-512' public key failed")
        );
        let v = analyse("2026-12-07 17:25:19,694 vm proftpd[359] localhost (localhost[127.0.0.1]): USER alice: Login successful.\n");
        assert!(v.accepted);
        assert_eq!(v.evidence, ["USER alice: Login successful."]);
        let v = analyse("2026-12-07 17:25:20,523 mod_sftp/1.1.1[363]: no shared key exchange algorithm found (client sent 'diffie-hellman-group1-sha1', server sent 'curve25519-sha256')\n");
        assert!(v
            .reason
            .unwrap()
            .starts_with("no shared key exchange algorithm found"));
        assert_eq!(proftpd_line("2026-12-07 17:25 not proftpd"), None);
    }

    #[test]
    fn tinyssh_lines_lose_their_session_and_source_position() {
        let v = analyse(
            "tinysshd: Kgth8vKG: info: connection from unknown:0 {main_tinysshd.c:124}\n\
             tinysshd: Kgth8vKG: info: auth: root: ssh-ed25519 AAAAC3Nza accepted {packet_auth.c:170}\n",
        );
        assert!(v.accepted);
        assert_eq!(v.evidence, ["auth: root: ssh-ed25519 AAAAC3Nza accepted"]);
        let v = analyse("tinysshd: OXcsQWY5: warning: auth: unable to authorize using authorized_keys: key not found {subprocess_auth.c:102}\n");
        assert_eq!(
            v.reason.as_deref(),
            Some("auth: unable to authorize using authorized_keys: key not found")
        );
    }

    #[test]
    fn accepted_login_has_no_reason() {
        let v =
            analyse("Accepted publickey for root from UNKNOWN port 65535 ssh2: ECDSA SHA256:x\n");
        assert!(v.accepted);
        assert_eq!(v.reason, None);
    }
}
