//! Dropbear targets. Dropbear's inetd mode (`-i`) logs only to syslog, so each cell gets a
//! foreground daemon of its own (`-F -E`: log to stderr) on a free 127.0.0.1 port, serving the
//! cell's one connection and stopped once the client is done: as with `sshd -i`, every cell
//! keeps its own server process and log.
//!
//! The daemon runs under [`crate::daemon`]'s wrapper, which kills it when its stdin closes; the
//! connection's own process is left to finish (the client has closed it), so its last log
//! line — how the connection ended — is always in the log.

use crate::daemon::{Listen, PerCell};
use crate::policy::ServerFacts;

/// The server binary in the Debian images.
pub const DROPBEAR: &str = "/usr/sbin/dropbear";

/// What every session runs (`-c`): whatever a client asks for, only `true` runs (Dropbear
/// serves no subsystem but `sftp`, so real clients run this command instead of
/// `sshmatrix-session`).
pub const FORCED_COMMAND: &str = "true";

/// The line a foreground daemon logs once its port is listening.
const READY: &str = "Not backgrounding";

/// Where a host key of `kind` lives in a Dropbear target's container (Dropbear's own format).
pub fn host_key_path(kind: &str) -> String {
    format!("/etc/sshmatrix/hostkeys/dropbear_{kind}_host_key")
}

/// How to run one Dropbear target's per-cell daemons.
#[derive(Debug, Clone)]
pub struct Dropbear {
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`).
    pub prefix: Vec<String>,
    /// What the build does, with the options the platform runs it with.
    pub facts: ServerFacts,
    /// The target's host key types.
    pub host_key_types: Vec<String>,
}

impl PerCell for Dropbear {
    const LISTEN: Listen<'static> = Listen {
        prefix: &[],
        helper: None,
        ready: READY,
        port_taken: "Failed listening",
        what: "dropbear",
        sftp_only: false,
    };

    fn prefix(&self) -> &[String] {
        &self.prefix
    }

    /// The dropbear argv of a daemon listening on 127.0.0.1:`port`.
    fn argv(&self, port: u16) -> Vec<String> {
        let mut argv: Vec<String> = [DROPBEAR, "-F", "-E", "-p"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.push(format!("127.0.0.1:{port}"));
        argv.extend(["-c".to_string(), FORCED_COMMAND.to_string()]);
        for kind in &self.host_key_types {
            argv.extend(["-r".to_string(), host_key_path(kind)]);
        }
        argv.extend(self.facts.options.iter().cloned());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_serves_one_port_with_the_targets_host_keys_and_options() {
        let facts = "version = \"2022.83\"\noptions = [\"-s\"]\nkex = []\nhostkey = []\n\
                     ciphers = []\nmacs = []\ncompression = []\npubkey_algorithms = []";
        let d = Dropbear {
            prefix: vec![],
            facts: toml::from_str::<ServerFacts>(facts).unwrap(),
            host_key_types: vec!["ed25519".into(), "rsa".into()],
        };
        assert_eq!(
            d.argv(2222).join(" "),
            "/usr/sbin/dropbear -F -E -p 127.0.0.1:2222 -c true \
             -r /etc/sshmatrix/hostkeys/dropbear_ed25519_host_key \
             -r /etc/sshmatrix/hostkeys/dropbear_rsa_host_key -s"
        );
    }
}
