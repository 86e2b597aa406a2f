//! `sshmatrix impact`: what an sshd_config does to the clients before anyone deploys it. The
//! file is checked by the real sshd (`sshd -t`), its directives become a policy the local sshd
//! runs (harness lines first, as for every target; what cannot be honoured locally is reported,
//! never silently dropped), and every chosen client × key type logs in against it. With the
//! configuration in use now, both run side by side and the changed cells are listed.

use std::path::Path;
use std::process::{Command, Stdio};

use sshmatrix_clients::Profile;
use sshmatrix_reports::Report;
use sshmatrix_servers::Policy;

/// A line of the file that the local run does not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// 1-based line number in the file.
    pub line: usize,
    /// The directive's keyword as written.
    pub keyword: String,
    /// Why it is not applied.
    pub why: &'static str,
}

/// An sshd_config as a local target applies it.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// The directives kept, verbatim, one per line.
    pub directives: String,
    /// Host key types the `HostKey` lines name (sshd's default three when there are none).
    pub host_keys: Vec<String>,
    /// What is not applied.
    pub dropped: Vec<Dropped>,
    /// Lines whose first word cannot be an sshd keyword (letters and digits only): the file is
    /// not an sshd_config there. Their text is never shown (a wrong path such as /etc/shadow
    /// must not end up on a terminal or in a ticket).
    pub not_directives: Vec<usize>,
}

const LISTEN: &str = "the local target listens on a one-shot 127.0.0.1 port";
const ACCOUNTS: &str =
    "local cells log in as sshmatrix's own test user; the real host's account rules are not tested";

/// Keywords a local run cannot honour, with the reason (besides
/// [`sshmatrix_servers::directive::UNSAFE`]).
const NOT_LOCAL: &[(&str, &str)] = &[
    (
        "include",
        "included files are not read: copy their directives into the file to test them",
    ),
    ("port", LISTEN),
    ("listenaddress", LISTEN),
    ("addressfamily", LISTEN),
    (
        "usepam",
        "the local sshd runs without PAM (UsePAM no): PAM's own rules are not tested",
    ),
    (
        "loglevel",
        "sshmatrix runs sshd at LogLevel VERBOSE or above to read why a key was refused",
    ),
    (
        "syslogfacility",
        "the local sshd logs to its standard error",
    ),
    ("permitrootlogin", ROOT),
    (
        "pidfile",
        "the local sshd serves one connection (sshd -i) and writes no PID file",
    ),
    ("allowusers", ACCOUNTS),
    ("allowgroups", ACCOUNTS),
    ("denyusers", ACCOUNTS),
    ("denygroups", ACCOUNTS),
];

const ROOT: &str = "applies to root alone: impact's cells stand for an ordinary account (they log in as the OS user running sshmatrix, whom the harness lets in when that is root), so root's own access is not tested; check it with `sshd -T -C user=root` on the host";
const UNSAFE: &str =
    "reads files or runs commands of the real host; sshmatrix supplies its own (keys, session)";
const CONTROL: &str = "holds a control character: not applied";
const QUOTED: &str = "its keyword is in quotes: not applied (write it plainly to test it)";
const MATCH: &str = "Match blocks (this line to the end) are not applied: every local connection comes from 127.0.0.1 as the test user; copy the settings inside to the main section of a copy of the file to test them";

/// The host key type a `HostKey` file name stands for (`ssh_host_ed25519_key` → `ed25519`).
fn host_key_type(value: &str) -> Option<&'static str> {
    let name = value.rsplit('/').next().unwrap_or(value);
    ["ed25519", "ecdsa", "rsa"]
        .into_iter()
        .find(|t| name.contains(&format!("_{t}_")) || name.contains(&format!("{t}_key")))
}

/// Splits an sshd_config into what the local target applies and what it does not. Keywords are
/// read as sshd reads them ([`sshmatrix_servers::directive`]): `Keyword=value`, a quoted
/// keyword and any case are the same directive.
pub fn read(text: &str) -> Reading {
    use sshmatrix_servers::directive;
    let mut r = Reading::default();
    for (i, line) in text.lines().enumerate() {
        let Some(d) = directive::parse(line) else {
            continue;
        };
        let drop = |why| Dropped {
            line: i + 1,
            keyword: d
                .keyword
                .chars()
                .take(40)
                .collect::<String>()
                .escape_debug()
                .to_string(),
            why,
        };
        if !d.keyword.chars().all(|c| c.is_ascii_alphanumeric()) && !d.quoted {
            r.not_directives.push(i + 1);
            continue;
        }
        if line
            .chars()
            .any(|c| c.is_control() && c != '\t' && c != '\r')
        {
            r.dropped.push(drop(CONTROL));
            continue;
        }
        if d.lower == "match" {
            r.dropped.push(drop(MATCH));
            break;
        }
        if d.lower == "hostkey" {
            match host_key_type(d.value.trim()) {
                Some(t) if !r.host_keys.iter().any(|k| k == t) => r.host_keys.push(t.into()),
                Some(_) => {}
                None => r.dropped.push(drop(
                    "not a key type sshmatrix makes (ed25519, ecdsa, rsa by file name)",
                )),
            }
            continue;
        }
        if let Some((_, why)) = NOT_LOCAL.iter().find(|(k, _)| *k == d.lower) {
            r.dropped.push(drop(why));
        } else if directive::is_unsafe(&d) {
            r.dropped.push(drop(UNSAFE));
        } else if d.quoted {
            r.dropped.push(drop(QUOTED));
        } else {
            r.directives.push_str(line.trim());
            r.directives.push('\n');
        }
    }
    if r.host_keys.is_empty() {
        r.host_keys = ["rsa", "ecdsa", "ed25519"].map(String::from).to_vec();
    }
    r
}

/// Checks a configuration file with the real sshd (`sshd -t -f FILE -h HOSTKEY`, a throwaway
/// host key so a file naming the real host's keys still tests); `Err` holds sshd's complaints
/// about the file itself.
pub fn check(sshd: &Path, file: &Path, host_key: &Path) -> Result<(), String> {
    let out = Command::new(sshd)
        .arg("-t")
        .arg("-f")
        .arg(file)
        .arg("-h")
        .arg(host_key)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sshd.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = file.display().to_string();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Unable to load host key"))
        .collect();
    Err(sshmatrix_servers::sshd::scrub_config_errors(
        &lines.join("\n"),
        &file,
    ))
}

/// The policy a configuration file stands for, run by the local sshd (`openssh`: its release).
pub fn policy(id: &str, file: &Path, reading: &Reading, openssh: &str) -> Policy {
    let shown = file.display();
    Policy {
        id: id.into(),
        name: format!("sshd_config {shown}"),
        platform: format!("this host's OpenSSH {openssh}"),
        server: Default::default(),
        openssh: openssh.into(),
        host_keys: reading.host_keys.clone(),
        authorized_keys_name: "authorized_keys".into(),
        directives: reading.directives.clone(),
        facts: None,
        sources: [
            (
                "directives".to_string(),
                format!("{shown} (sshmatrix impact)"),
            ),
            (
                "host_keys".to_string(),
                format!("the HostKey lines of {shown}"),
            ),
        ]
        .into(),
        notes: Vec::new(),
        alternatives: Vec::new(),
        basis: sshmatrix_servers::policy::Basis {
            kind: sshmatrix_servers::policy::BasisKind::Measured,
            says: format!("{shown}, run by this host's sshd {openssh}"),
        },
        sshd_config_place: None,
        untrusted: true,
    }
}

/// The clients an impact run uses when none are named: every emulation profile, and the real
/// clients this host runs without installing anything (no image, no package).
pub fn default_clients(profiles: &[Profile]) -> Vec<&Profile> {
    profiles
        .iter()
        .filter(|p| p.driver.is_none() || (p.image.is_none() && p.install.is_none()))
        .collect()
}

/// The target ids of an impact run: the configuration in use now and the new one.
pub const NOW: &str = "now";
/// See [`NOW`].
pub const NEW: &str = "new";

/// Rows and columns of an impact run's table.
pub const IMPACT_LAYOUT: (&[&str], &[&str]) = (
    &["client", "key_tool", "key", "passphrase"],
    &["target", "user"],
);

/// TOML-quotes a string (a basic string: `\\`, `"` and every control character escaped, so a
/// peer's text can never end the string or the line).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The matrix of an impact run (and of a scan's predictions): `targets` are (id, label,
/// policy id) of local targets with one user `u`; each client with the key tool whose files it
/// reads natively.
pub fn matrix(
    targets: &[(&str, String, &str)],
    clients: &[&Profile],
    keys: &[String],
    passphrase: bool,
    layout: (&[&str], &[&str]),
) -> String {
    let blocks: Vec<String> = targets
        .iter()
        .map(|(id, label, policy)| {
            format!(
                "[[targets]]\nid = \"{id}\"\nlabel = [{}]\npolicy = \"{policy}\"\nusers = [\"u\"]\n",
                quote(label)
            )
        })
        .collect();
    matrix_with(&blocks, clients, keys, passphrase, layout)
}

/// As [`matrix`], with the `[[targets]]` tables given as TOML.
pub fn matrix_with(
    targets: &[String],
    clients: &[&Profile],
    keys: &[String],
    passphrase: bool,
    layout: (&[&str], &[&str]),
) -> String {
    let mut t = format!(
        "title = \"Impact of an sshd_config\"\n[run]\nmax_cells = 100000\n[axes]\nkeys = [{}]\npassphrase = [{}]\npairs = [\n",
        keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", "),
        if passphrase { "\"no\", \"yes\"" } else { "\"no\"" }
    );
    for p in clients {
        let tool = crate::fidelity::native_key_tool(p);
        t.push_str(&format!(
            "  {{ client = \"{}\", key_tool = \"{tool}\" }},\n",
            p.id
        ));
    }
    t.push_str("]\n");
    for block in targets {
        t.push_str(block);
    }
    let list = |axes: &[&str]| axes.iter().map(|a| quote(a)).collect::<Vec<_>>().join(", ");
    t.push_str(&format!(
        "[layout]\nrows = [{}]\ncolumns = [{}]\n",
        list(layout.0),
        list(layout.1)
    ));
    t
}

/// The cells of one target, renamed to a common target id so two configurations' cells match
/// in [`sshmatrix_reports::diff`].
pub fn side(report: &Report, target: &str) -> Report {
    let mut r = report.clone();
    r.cells.retain(|c| c.target == target);
    for c in &mut r.cells {
        c.target = "sshd_config".into();
    }
    r
}

/// Changes split into what the run measured and the cells it cannot tell: a cell that logged
/// in before and now meets an emulation limit (the engine cannot speak what that client would
/// negotiate) is no measured regression.
pub fn measured<'a>(
    changes: Vec<sshmatrix_reports::diff::Change<'a>>,
) -> (
    Vec<sshmatrix_reports::diff::Change<'a>>,
    Vec<sshmatrix_reports::diff::Change<'a>>,
) {
    changes.into_iter().partition(|c| {
        c.new
            .is_none_or(|n| n.code != sshmatrix_reports::Code::EmulationLimit.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_keeps_crypto_and_reports_what_is_not_local() {
        let r = read(
            "# comment\nPort 2222\nHostKey /etc/ssh/ssh_host_ed25519_key\nHostKey=/etc/ssh/ssh_host_rsa_key\n\
             Ciphers aes256-gcm@openssh.com\nAuthorizedKeysFile .ssh/ak\nKexAlgorithms=curve25519-sha256\n\
             PermitRootLogin no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n",
        );
        assert_eq!(r.host_keys, ["ed25519", "rsa"]);
        assert_eq!(
            r.directives,
            "Ciphers aes256-gcm@openssh.com\nKexAlgorithms=curve25519-sha256\n"
        );
        let lines: Vec<(usize, &str)> = r
            .dropped
            .iter()
            .map(|d| (d.line, d.keyword.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (2, "Port"),
                (6, "AuthorizedKeysFile"),
                (8, "PermitRootLogin"),
                (9, "Match")
            ]
        );
    }

    #[test]
    fn no_host_key_lines_means_sshds_three_defaults() {
        assert_eq!(
            read("Ciphers aes128-ctr\n").host_keys,
            ["rsa", "ecdsa", "ed25519"]
        );
        let r = read("HostKey /etc/ssh/ssh_host_dsa_key\n");
        assert_eq!(r.dropped.len(), 1);
        assert_eq!(r.dropped[0].line, 1);
    }
}
