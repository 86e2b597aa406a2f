//! Twisted Conch targets: the SSH server of the Python library Twisted (`twisted.conch`), as a
//! Debian image's `python3-twisted` has it, run by `programs/conch_server.py` with the
//! library's own algorithms. As with Dropbear and ProFTPD, each cell gets a daemon of its own
//! on a free 127.0.0.1 port, serving the cell's connection and stopped once the client is done.
//!
//! The accounts are the matrix users, each with an authorized-keys file of its own (OpenSSH
//! lines, read with Twisted's own key parser: a key type the release cannot read is left out,
//! as its authorized_keys reader does); passwords are checked against a random one (so a
//! password given is refused in Twisted's words). Everything Twisted logs, its debug level
//! included, reaches the cell's log after the prefix `conch: `.

use crate::daemon::{Listen, PerCell};
use crate::policy::ServerFacts;

/// The server program (embedded; copied into each target's container).
pub const PROGRAM: &str = include_str!("../programs/conch_server.py");

/// Where the program lives inside the container.
pub const PROGRAM_IN: &str = "/etc/sshmatrix/conch_server.py";

/// Where each user's authorized keys live inside the container (one file per user).
pub const KEYS_IN: &str = "/etc/sshmatrix/conch-keys";

/// The line the program logs once `listenTCP` has returned (the port is listening).
const READY: &str = "sshmatrix-server listening";

/// How to run one Twisted target's per-cell daemons.
#[derive(Debug, Clone)]
pub struct Conch {
    /// The argv prefix that runs a command where the server lives (`docker exec -i ID`).
    pub prefix: Vec<String>,
    /// What the release does.
    pub facts: ServerFacts,
    /// The host key files inside the container (OpenSSH format).
    pub host_keys: Vec<String>,
}

impl PerCell for Conch {
    const LISTEN: Listen<'static> = Listen {
        prefix: &[],
        helper: None,
        ready: READY,
        // Twisted's CannotListenError: "Couldn't listen on 127.0.0.1:N: [Errno 98] Address
        // already in use."
        port_taken: "Address already in use",
        what: "the Twisted Conch server",
        sftp_only: false,
    };

    fn prefix(&self) -> &[String] {
        &self.prefix
    }

    fn argv(&self, port: u16) -> Vec<String> {
        let mut argv = vec![
            "/usr/bin/python3".into(),
            PROGRAM_IN.into(),
            port.to_string(),
            KEYS_IN.into(),
        ];
        argv.extend(self.host_keys.iter().cloned());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_gets_its_port_key_directory_and_host_keys() {
        let text = "version = \"22.4.0\"\nkex = []\nhostkey = []\nciphers = []\nmacs = []\n\
                    compression = []\npubkey_algorithms = []";
        let c = Conch {
            prefix: vec![],
            facts: toml::from_str(text).unwrap(),
            host_keys: vec!["/k/rsa".into()],
        };
        assert_eq!(
            c.argv(2222).join(" "),
            "/usr/bin/python3 /etc/sshmatrix/conch_server.py 2222 /etc/sshmatrix/conch-keys /k/rsa"
        );
    }
}
