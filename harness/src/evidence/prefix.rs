//! The prefixes log collectors put before a program's words: syslog and `journalctl`
//! (`Dec  7 02:10:01 host sshd[1234]: `), RFC 3339 timestamps (`2026-12-07T02:10:01.5+00:00 host
//! sshd-session[1234]: `), a bare `sshd[1234]: `, Dropbear's own `[1234] Dec 07 02:10:01 `,
//! ProFTPD's own `2026-12-07 17:25:20,115 HOST proftpd[361] SERVER (CLIENT[ADDR]): ` and its
//! `mod_sftp/1.1.1[361]: `.

/// What a prefix says: which program logged the line, as which process, on which host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// The program (`sshd`, `sshd-session`, `dropbear`, …).
    pub program: Option<&'a str>,
    /// Its process id: lines of one connection share it.
    pub pid: Option<u32>,
    /// The host that logged it.
    pub host: Option<&'a str>,
    /// The collector's timestamp, as written.
    pub time: Option<&'a str>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Splits a line into its collector prefix and the program's own words.
pub fn split(line: &str) -> (Prefix<'_>, &str) {
    if let Some(r) = dropbear(line) {
        return r;
    }
    if let Some(r) = proftpd(line) {
        return r;
    }
    let rest = timestamp(line);
    let time = rest.map(|r| line[..line.len() - r.len()].trim());
    let Some(rest) = rest else {
        return match program(line) {
            Some((p, msg)) => (p, msg),
            None => (Prefix::default(), line),
        };
    };
    // After a timestamp: a host, then the program; some collectors leave the host out.
    let (mut p, msg) = match program(rest) {
        Some(found) => found,
        None => {
            let (host, after) = rest.split_once(' ').unwrap_or((rest, ""));
            match program(after.trim_start()) {
                Some((mut p, msg)) => {
                    p.host = Some(host);
                    (p, msg)
                }
                None => (Prefix::default(), rest),
            }
        }
    };
    p.time = time;
    (p, msg)
}

/// The text after a leading timestamp (BSD syslog, RFC 3339, or PuTTY's Event Log window's
/// `2026-12-07 02:31:00<TAB>`), if the line starts with one.
fn timestamp(line: &str) -> Option<&str> {
    let mut words = line.split_ascii_whitespace();
    let first = words.next()?;
    if is_rfc3339(first) {
        return Some(line[first.len()..].trim_start());
    }
    if first.len() == 10
        && is_rfc3339(line.get(..19).unwrap_or_default())
        && line[19..].starts_with(['\t', ' '])
    {
        return Some(&line[20..]);
    }
    if !MONTHS.contains(&first) {
        return None;
    }
    let day = words.next()?;
    let time = words.next()?;
    let day_ok = day.len() <= 2 && day.bytes().all(|b| b.is_ascii_digit());
    let time_ok = time.len() >= 8 && time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':';
    if !(day_ok && time_ok) {
        return None;
    }
    // `time` is a slice of `line`: its end is where the rest starts.
    let at = time.as_ptr() as usize - line.as_ptr() as usize + time.len();
    Some(line[at..].trim_start())
}

fn is_rfc3339(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
}

/// `prog[pid]: message` or `prog: message` at the start of `s` (a program name has no spaces).
fn program(s: &str) -> Option<(Prefix<'_>, &str)> {
    let colon = s.find(':')?;
    let (head, msg) = (&s[..colon], s[colon + 1..].strip_prefix(' ')?);
    if head.is_empty() || head.contains(' ') || head.len() > 64 {
        return None;
    }
    let (name, pid) = match head.split_once('[') {
        Some((name, pid)) => (name, pid.strip_suffix(']')?.parse::<u32>().ok()?),
        None => return known_program(head).then(|| (named(head, None), msg)),
    };
    Some((named(name, Some(pid)), msg))
}

/// Programs whose lines appear without a PID (`journalctl -o cat` keeps none; a bare `sshd:`).
fn known_program(name: &str) -> bool {
    matches!(
        name,
        "sshd" | "sshd-session" | "sshd-auth" | "dropbear" | "tinysshd"
    )
}

fn named(name: &str, pid: Option<u32>) -> Prefix<'_> {
    Prefix {
        program: Some(name),
        pid,
        host: None,
        time: None,
    }
}

/// Dropbear logging to its standard error: `[1234] Dec 07 02:10:01 message`.
fn dropbear(line: &str) -> Option<(Prefix<'_>, &str)> {
    let (pid, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let pid: u32 = pid.parse().ok()?;
    let msg = timestamp(rest)?;
    Some((named("dropbear", Some(pid)), msg))
}

/// ProFTPD's own log files (SystemLog, SFTPLog), as [`sshmatrix_servers::log::proftpd_line`]
/// reads them: the program `proftpd` with no host (the SFTPLog names none), so a session's
/// lines of both files share one connection.
fn proftpd(line: &str) -> Option<(Prefix<'_>, &str)> {
    let p = sshmatrix_servers::log::proftpd_line(line)?;
    let mut prefix = named("proftpd", Some(p.pid));
    prefix.time = Some(p.stamp);
    Some((prefix, p.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_prefixes_are_split_off() {
        let (p, m) = split("Dec  7 02:10:01 ahv-1 sshd[1234]: Accepted publickey for root");
        assert_eq!(
            (p.program, p.pid, p.host, m),
            (
                Some("sshd"),
                Some(1234),
                Some("ahv-1"),
                "Accepted publickey for root"
            )
        );
        let (p, m) = split(
            "2026-12-07T02:10:01.123456+09:00 cvm sshd-session[77]: Connection closed by authenticating user root 10.0.0.5 port 5555 [preauth]",
        );
        assert_eq!((p.program, p.pid), (Some("sshd-session"), Some(77)));
        assert!(m.starts_with("Connection closed"));
        let (p, m) = split("[311] Dec 07 02:10:01 Exit before auth from <127.0.0.1:5555>");
        assert_eq!((p.program, p.pid), (Some("dropbear"), Some(311)));
        assert_eq!(m, "Exit before auth from <127.0.0.1:5555>");
        let (p, m) = split("debug1: Offering public key: k RSA SHA256:x explicit");
        assert_eq!(
            (p, m),
            (
                Prefix::default(),
                "debug1: Offering public key: k RSA SHA256:x explicit"
            )
        );
        let (p, _) = split("sshd[9]: Invalid user x from 1.2.3.4 port 1");
        assert_eq!(p.pid, Some(9));
        // The real ProFTPD 1.3.8's two logs (bookworm image, 2026-12-07).
        let (p, m) = split("2026-12-07 17:25:20,115 vm proftpd[361] localhost (localhost[127.0.0.1]): USER alice (Login failed): authentication via 'rsa-sha2-512' public key failed");
        assert_eq!(
            (p.program, p.pid, p.host),
            (Some("proftpd"), Some(361), None)
        );
        assert!(m.starts_with("USER alice (Login failed)"));
        let (p, m) = split("2026-12-07 17:25:20,115 mod_sftp/1.1.1[361]: sending userauth failure; remaining userauth methods: publickey,password");
        assert_eq!((p.program, p.pid), (Some("proftpd"), Some(361)));
        assert!(m.starts_with("sending userauth failure"));
        // A character of several bytes where the milliseconds would be is no ProFTPD stamp.
        assert_eq!(split("2026-12-07 17:25:2é,115 x").0, Prefix::default());
        let (p, m) = split("sshd: userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms [preauth]");
        assert_eq!(p.program, Some("sshd"));
        assert!(m.starts_with("userauth_pubkey"));
    }
}
