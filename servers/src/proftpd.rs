//! ProFTPD targets: the `mod_sftp` module of the ProFTPD release a Debian image ships
//! (`proftpd-core` + `proftpd-mod-crypto`). Its inetd mode needs a socket on stdin (it asks the
//! connection for its addresses), so, as with Dropbear, each cell gets a standalone daemon of
//! its own (`-n`: foreground, its log on stderr) on a free 127.0.0.1 port, serving the cell's
//! one connection and stopped once the client is done.
//!
//! `mod_sftp` writes its own log (`SFTPLog`: algorithms, keys, refusals) beside the server's
//! (`Login failed` lines); both go to the daemon's stderr (`SFTPLog /dev/stderr`, which needs
//! `AllowLogSymlinks on` and a pipe, not a socket, behind fd 2 — the container helper gives its
//! daemons one). Its accounts are the container's real ones (`mod_auth_unix`: `/etc/shadow` for
//! passwords); their authorized keys are kept in RFC 4716 form, the only one `mod_sftp` reads
//! (`SFTPAuthorizedUserKeys`, doc/contrib/mod_sftp.html, every release since 1.3.2).

use crate::daemon::{Listen, PerCell};
use crate::policy::ServerFacts;

/// The server binary in the Debian images.
pub const PROFTPD: &str = "/usr/sbin/proftpd";

/// The configuration file inside a ProFTPD target's container.
pub const CONFIG_IN: &str = "/etc/sshmatrix/proftpd.conf";

/// Where each user's authorized keys (RFC 4716) live inside the container (`%u`: the user).
pub const KEYS_IN: &str = "/etc/sshmatrix/proftpd-keys";

/// The line the daemon logs once its port is bound (`standalone mode STARTUP`, src/main.c:
/// after `init_bindings()`, before `server_loop` listens; [`crate::daemon`] also waits for the
/// LISTEN state).
const READY: &str = "standalone mode STARTUP";

/// How to run one ProFTPD target's per-cell daemons.
#[derive(Debug, Clone)]
pub struct Proftpd {
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`).
    pub prefix: Vec<String>,
    /// What the release does, with the directives the platform adds (`options`).
    pub facts: ServerFacts,
}

impl PerCell for Proftpd {
    const LISTEN: Listen<'static> = Listen {
        prefix: &[],
        helper: None,
        ready: READY,
        port_taken: "Address already in use",
        what: "proftpd",
        sftp_only: true,
    };

    fn prefix(&self) -> &[String] {
        &self.prefix
    }

    /// A daemon listening on 127.0.0.1:`port` (the configuration reads the port from the
    /// environment: `%{env:SSHMATRIX_PORT}`).
    fn argv(&self, port: u16) -> Vec<String> {
        vec![
            "/usr/bin/env".into(),
            format!("SSHMATRIX_PORT={port}"),
            PROFTPD.into(),
            "-n".into(),
            "-c".into(),
            CONFIG_IN.into(),
        ]
    }
}

/// The configuration of a target with its host key files (in the container) and the platform's
/// extra directives (`facts.options`, one directive each). Only `mod_sftp` is loaded: no FTP is
/// served.
pub fn config(id: &str, host_keys: &[String], facts: &ServerFacts) -> String {
    let mut text = format!(
        "# sshmatrix: ProFTPD {version} mod_sftp for target {id}\n\
         ServerType standalone\n\
         ServerName \"sshmatrix\"\n\
         DefaultAddress 127.0.0.1\n\
         SocketBindTight on\n\
         UseIPv6 off\n\
         Port %{{env:SSHMATRIX_PORT}}\n\
         UseReverseDNS off\n\
         User nobody\n\
         Group nogroup\n\
         ScoreboardFile /run/sshmatrix-proftpd-%{{env:SSHMATRIX_PORT}}.scoreboard\n\
         PidFile /run/sshmatrix-proftpd-%{{env:SSHMATRIX_PORT}}.pid\n\
         <IfModule mod_delay.c>\n\
         DelayEngine off\n\
         </IfModule>\n\
         WtmpLog off\n\
         TransferLog none\n\
         RequireValidShell off\n\
         AuthOrder mod_auth_unix.c\n\
         AllowLogSymlinks on\n\
         ModulePath /usr/lib/proftpd\n\
         LoadModule mod_sftp.c\n\
         SFTPEngine on\n\
         SFTPLog /dev/stderr\n\
         SFTPAuthorizedUserKeys file:{KEYS_IN}/%u\n",
        version = facts.version
    );
    for path in host_keys {
        text.push_str(&format!("SFTPHostKey {path}\n"));
    }
    for line in &facts.options {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// An OpenSSH authorized-keys line as RFC 4716 text (`ssh-keygen -e -m RFC4716` writes the
/// same): the key blob base64-encoded in lines of 70 characters between the markers. Options
/// and comments are not carried (the format has no options); `None` for a line that holds no
/// key.
pub fn rfc4716(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))?;
    let blob = words.get(at + 1)?;
    let mut text = String::from("---- BEGIN SSH2 PUBLIC KEY ----\n");
    for chunk in blob.as_bytes().chunks(70) {
        text.push_str(std::str::from_utf8(chunk).ok()?);
        text.push('\n');
    }
    text.push_str("---- END SSH2 PUBLIC KEY ----\n");
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(options: &[&str]) -> ServerFacts {
        let text = "version = \"1.3.8\"\nkex = []\nhostkey = []\nciphers = []\nmacs = []\n\
                    compression = []\npubkey_algorithms = []";
        let mut f: ServerFacts = toml::from_str(text).unwrap();
        f.options = options.iter().map(|s| s.to_string()).collect();
        f
    }

    #[test]
    fn a_daemon_reads_its_port_from_the_environment() {
        let p = Proftpd {
            prefix: vec![],
            facts: facts(&[]),
        };
        assert_eq!(
            p.argv(2222).join(" "),
            "/usr/bin/env SSHMATRIX_PORT=2222 /usr/sbin/proftpd -n -c /etc/sshmatrix/proftpd.conf"
        );
    }

    #[test]
    fn the_configuration_names_each_host_key_and_the_platforms_directives() {
        let c = config(
            "pf",
            &["/k/ed25519".into(), "/k/rsa".into()],
            &facts(&["SFTPAuthMethods publickey"]),
        );
        assert!(c.contains("SFTPHostKey /k/ed25519\nSFTPHostKey /k/rsa\n"));
        assert!(c.ends_with("SFTPAuthMethods publickey\n"));
        assert!(c.contains("Port %{env:SSHMATRIX_PORT}\n"));
    }

    #[test]
    fn authorized_keys_lines_become_rfc4716_blocks_without_options() {
        let blob = "A".repeat(75);
        let line = format!("from=\"10.0.0.1\" ssh-ed25519 {blob} alice@host");
        assert_eq!(
            rfc4716(&line).unwrap(),
            format!(
                "---- BEGIN SSH2 PUBLIC KEY ----\n{}\n{}\n---- END SSH2 PUBLIC KEY ----\n",
                &blob[..70],
                &blob[70..]
            )
        );
        assert_eq!(rfc4716("# a comment"), None);
    }
}
