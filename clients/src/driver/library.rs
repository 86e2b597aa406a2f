//! Library clients (paramiko, AsyncSSH, libssh2, libssh, Node ssh2, JSch, Go x/crypto, Trilead, Ruby net-ssh, Perl Net::SSH2, Twisted Conch): a small client
//! program per library in `clients/programs/`, embedded here and installed beside the library
//! ([`crate::install`]). Every program takes the same arguments — `HOST PORT USER KEY
//! TIMEOUT_SECS FAMILY`, an empty word for none — and finds secrets in 0600 files named by
//! `SSHMATRIX_PASSFILE` (the key's passphrase) or `SSHMATRIX_PASSWORD_FILE` (a password cell),
//! never on its command line, an agent cell's ssh-agent in `SSHMATRIX_AGENT_SOCK`, and a
//! certificate cell's certificate in `SSHMATRIX_CERT` (programs of
//! [`super::Driver::supports_certificates`]), `SSHMATRIX_METHOD=keyboard-interactive` when the
//! password answers keyboard-interactive prompts (programs of
//! [`super::Driver::supports_keyboard_interactive`]), `SSHMATRIX_KNOWN_HOSTS` when the host key
//! is checked against a known_hosts file (paramiko, AsyncSSH, Go x/crypto; a target presenting
//! host certificates); it logs in once (authentication and a session
//! channel, no shell or command) and prints `sshmatrix-negotiated k=v …` when the transport is up and one
//! `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line. A program reads its key
//! file before connecting (even where the library itself would only at authentication): a key
//! it cannot use is a `key-load` failure whatever the server offers, as in the emulation.

use super::{DriverCell, Invocation, Route};
use crate::Driver;

/// A client program for a library driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Its file name (the Java class name for JSch).
    pub file: &'static str,
    /// Its text.
    pub text: &'static str,
    /// Modules it imports from beside it: (file name, text).
    pub helpers: &'static [(&'static str, &'static str)],
}

/// What every Python program imports: the cell's arguments and secrets, the result line.
const PYTHON_HELPERS: &[(&str, &str)] = &[(
    "sshmatrix_cell.py",
    include_str!("../../programs/sshmatrix_cell.py"),
)];

/// What every Java program extends: the result line, the environment, secrets (compiled with
/// it at install).
const JAVA_HELPERS: &[(&str, &str)] = &[(
    "SshmatrixCell.java",
    include_str!("../../programs/SshmatrixCell.java"),
)];

/// The line prefix of a program's outcome.
pub const RESULT: &str = "sshmatrix-result ";
/// The line prefix of the algorithms a program saw negotiated.
pub const NEGOTIATED: &str = "sshmatrix-negotiated ";

pub(super) fn program(driver: Driver) -> Option<Program> {
    let (file, text) = match driver {
        Driver::Paramiko => (
            "paramiko_login.py",
            include_str!("../../programs/paramiko_login.py"),
        ),
        Driver::Asyncssh => (
            "asyncssh_login.py",
            include_str!("../../programs/asyncssh_login.py"),
        ),
        Driver::Libssh2 => (
            "libssh2_login.py",
            include_str!("../../programs/libssh2_login.py"),
        ),
        Driver::Libssh => (
            "libssh_login.py",
            include_str!("../../programs/libssh_login.py"),
        ),
        Driver::NodeSsh2 => (
            "ssh2_login.js",
            include_str!("../../programs/ssh2_login.js"),
        ),
        Driver::Jsch => (
            "JschLogin.java",
            include_str!("../../programs/JschLogin.java"),
        ),
        Driver::GoXCrypto => ("go_login.go", include_str!("../../programs/go_login.go")),
        Driver::Trilead => (
            "TrileadLogin.java",
            include_str!("../../programs/TrileadLogin.java"),
        ),
        Driver::NetSsh => (
            "net_ssh_login.rb",
            include_str!("../../programs/net_ssh_login.rb"),
        ),
        Driver::NetSsh2 => (
            "net_ssh2_login.pl",
            include_str!("../../programs/net_ssh2_login.pl"),
        ),
        Driver::Conch => (
            "conch_login.py",
            include_str!("../../programs/conch_login.py"),
        ),
        Driver::Ssh | Driver::Plink | Driver::Dbclient => return None,
    };
    let helpers = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("py") => PYTHON_HELPERS,
        Some("java") => JAVA_HELPERS,
        _ => &[],
    };
    Some(Program {
        file,
        text,
        helpers,
    })
}

pub(super) fn invocation(c: &DriverCell) -> Invocation {
    let port = match &c.route {
        Route::Port(p) | Route::Jump { port: p, .. } => p.to_string(),
        // Library drivers are always given a port (`Driver::needs_port`).
        Route::Proxy(_) => String::new(),
    };
    let mut argv: Vec<String> = c.program.map(<[String]>::to_vec).unwrap_or_default();
    argv.extend([
        c.route.host().to_string(),
        port,
        c.login.to_string(),
        // A password cell gives no key; a two-step cell gives both.
        match c.password_file {
            Some(_) if !c.password_after_key => String::new(),
            _ => c.key.display().to_string(),
        },
        c.timeout_secs.to_string(),
        c.family.to_string(),
    ]);
    let mut env = Vec::new();
    if let Some(p) = c.password_file {
        env.push(("SSHMATRIX_PASSWORD_FILE".into(), p.display().to_string()));
    } else if let Some(sock) = c.agent {
        env.push(("SSHMATRIX_AGENT_SOCK".into(), sock.display().to_string()));
    } else if let Some(p) = c.passphrase_file {
        env.push(("SSHMATRIX_PASSFILE".into(), p.display().to_string()));
    }
    if let Some(cert) = c.certificate {
        env.push(("SSHMATRIX_CERT".into(), cert.display().to_string()));
    }
    if c.keyboard_interactive {
        env.push(("SSHMATRIX_METHOD".into(), "keyboard-interactive".into()));
    }
    if let Some(file) = c.known_hosts {
        env.push(("SSHMATRIX_KNOWN_HOSTS".into(), file.display().to_string()));
    }
    Invocation {
        argv,
        env,
        stdin_piped: false,
        typed: None,
    }
}

/// What a library program reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// `Some(None)`: success; `Some(Some((stage, message)))`: failure; `None`: no result line
    /// (the program crashed or was killed).
    pub result: Option<Option<(String, String)>>,
    /// `kex`, `hostkey`, `cipher`, `mac` as the program saw them negotiated.
    pub negotiated: Vec<(String, String)>,
}

impl Outcome {
    /// Parses a program's standard output.
    pub fn parse(stdout: &str) -> Outcome {
        let mut o = Outcome::default();
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix(NEGOTIATED) {
                o.negotiated = rest
                    .split_whitespace()
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            } else if let Some(rest) = line.strip_prefix(RESULT) {
                o.result = Some(match rest.trim_end().split_once(' ') {
                    _ if rest.trim_end() == "ok" => None,
                    Some(("fail", what)) => {
                        let (stage, msg) = what.split_once(' ').unwrap_or((what, ""));
                        Some((stage.to_string(), msg.to_string()))
                    }
                    _ => Some(("unknown".into(), rest.to_string())),
                });
            }
        }
        o
    }

    /// The negotiated value of `what` (`kex`, `hostkey`, `cipher`, `mac`).
    pub fn negotiated(&self, what: &str) -> Option<&str> {
        self.negotiated
            .iter()
            .find(|(k, _)| k == what)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_and_negotiated_lines() {
        let o = Outcome::parse(
            "noise\nsshmatrix-negotiated kex=curve25519-sha256 cipher=aes128-ctr\nsshmatrix-result fail auth AuthenticationException: Authentication failed.\n",
        );
        assert_eq!(
            o.result,
            Some(Some((
                "auth".into(),
                "AuthenticationException: Authentication failed.".into()
            )))
        );
        assert_eq!(o.negotiated("kex"), Some("curve25519-sha256"));
        assert_eq!(o.negotiated("mac"), None);
        assert_eq!(Outcome::parse("sshmatrix-result ok\n").result, Some(None));
        assert_eq!(Outcome::parse("Traceback ...\n").result, None);
    }
}
