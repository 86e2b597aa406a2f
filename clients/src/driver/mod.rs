//! Real client drivers: which program a real-client profile runs (`driver = "ssh"` in its data;
//! an unknown name is a load error of that profile), how its key is made ready, and — for one
//! cell and network route — the exact command line, environment and typed input, computed
//! without side effects (snapshot-tested). Spawning, log collection and classification live in
//! the harness. One file per driver: adding a client means a file here, its profiles, its tests.

mod dbclient;
mod library;
mod plink;
mod ssh;

pub use library::{Outcome, Program, NEGOTIATED, RESULT};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{KeyFactory, KeyFile, Profile};

/// A real client program: a binary, or a library run by a small client program of this
/// repository (`clients/programs/`) installed with the profile's `[install]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// OpenSSH `ssh`.
    Ssh,
    /// PuTTY `plink`.
    Plink,
    /// Dropbear `dbclient`.
    Dbclient,
    /// Python paramiko (Ansible's default, Fabric, many Python tools).
    Paramiko,
    /// Python AsyncSSH.
    Asyncssh,
    /// libssh2, through the ssh2-python binding that bundles it.
    Libssh2,
    /// libssh, through ansible-pylibssh (Ansible's libssh connection) that bundles it.
    Libssh,
    /// Node.js `ssh2`.
    #[serde(rename = "node-ssh2")]
    NodeSsh2,
    /// Java JSch (Jenkins-era tooling, Eclipse).
    Jsch,
    /// Go golang.org/x/crypto/ssh (Terraform, Packer, Go tooling), compiled against a Debian
    /// release's golang-golang-x-crypto-dev.
    #[serde(rename = "go-x-crypto")]
    GoXCrypto,
    /// Trilead SSH-2 for Java (Debian's `libtrilead-ssh2-java`), the library Jenkins' SSH
    /// agents grew from.
    Trilead,
    /// Ruby net-ssh (Debian's `ruby-net-ssh`): Vagrant, Chef, Capistrano, Puppet Bolt.
    #[serde(rename = "net-ssh")]
    NetSsh,
    /// Perl Net::SSH2 (Debian's `libnet-ssh2-perl`) over the machine's libssh2.
    #[serde(rename = "net-ssh2")]
    NetSsh2,
    /// Twisted Conch's client (PyPI `Twisted`).
    Conch,
}

/// A jump host hop: the jump host's one-shot port, the name to log in as, whether the agent is
/// forwarded (the jump host's own ssh then makes the last hop) and its host key pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHop {
    /// The jump host's one-shot 127.0.0.1 port.
    pub port: u16,
    /// The account on the jump host.
    pub login: String,
    /// Forward the agent and run the jump host's ssh to the target (else ProxyJump).
    pub forward: bool,
    /// The jump host's host key fingerprints (plink pins them).
    pub pins: Vec<String>,
}

/// How the client reaches the cell's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A proxy command the client runs (a client on this host).
    Proxy(String),
    /// A one-shot 127.0.0.1 port (a client in a container).
    Port(u16),
    /// Through a jump host to the target's one-shot port.
    Jump {
        /// The target's one-shot port.
        port: u16,
        /// The hop to the jump host.
        jump: JumpHop,
    },
}

impl Route {
    /// The host name the client is given.
    fn host(&self) -> &'static str {
        match self {
            Route::Proxy(_) => "sshmatrix-target",
            _ => "127.0.0.1",
        }
    }
}

/// What a driver needs for one cell: paths and names only, never a secret.
#[derive(Debug, Clone)]
pub struct DriverCell<'a> {
    /// The key file in the client's own format (from [`Driver::prepare_key`]).
    pub key: &'a Path,
    /// The public key (selects the agent's key with IdentitiesOnly).
    pub public_key: &'a Path,
    /// The file holding the key's passphrase.
    pub passphrase_file: Option<&'a Path>,
    /// The ssh-agent socket, for agent holders.
    pub agent: Option<&'a Path>,
    /// The file holding the password, for password holders.
    pub password_file: Option<&'a Path>,
    /// The password answers a second step after the key file's (holder `file+password`:
    /// `AuthenticationMethods publickey,password`), instead of replacing the key.
    pub password_after_key: bool,
    /// The password answers the server's keyboard-interactive prompts (holders
    /// `keyboard-interactive`, `file+keyboard-interactive`), not the password method.
    pub keyboard_interactive: bool,
    /// A script printing `$SSHMATRIX_PASSFILE` (SSH_ASKPASS).
    pub askpass: &'a Path,
    /// The OpenSSH certificate presented with the key (certificate cells).
    pub certificate: Option<&'a Path>,
    /// A known_hosts file the client checks the host key against, strictly (a target that
    /// presents host certificates: `@cert-authority` for its CA); `None`: no host key check.
    pub known_hosts: Option<&'a Path>,
    /// The account to log in to.
    pub login: &'a str,
    /// How the server is reached.
    pub route: Route,
    /// The target's host key fingerprints (plink pins them).
    pub pins: Vec<String>,
    /// Whether a secret is typed at the client's prompt (plink: passphrase or password).
    pub typed: bool,
    /// For a library driver: the argv prefix of its installed program ([`crate::install`]).
    pub program: Option<&'a [String]>,
    /// The key's family (`rsa`, `ecdsa`, `ed25519`, `dsa`): library programs pick the key
    /// class with it.
    pub family: &'a str,
    /// The cell timeout in seconds.
    pub timeout_secs: u64,
    /// How the client ends the cell once logged in.
    pub session: Session,
}

/// How a binary client ends its cell once logged in, without running a login shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Request [`SESSION_SUBSYSTEM`], which the rendered sshd_config serves inside sshd.
    Subsystem,
    /// Run [`SESSION_COMMAND`]: Dropbear serves no subsystem but `sftp`, and its targets force
    /// that command (`-c`) whatever is asked.
    Command,
    /// Request the `sftp` subsystem and close it at once: ProFTPD's `mod_sftp` serves SFTP and
    /// SCP only, refusing any command ("unsupported exec command").
    Sftp,
}

/// The command a client runs where its server serves no [`SESSION_SUBSYSTEM`].
pub const SESSION_COMMAND: &str = "true";

impl Session {
    /// The trailing arguments of an `ssh`/`dbclient` command line: `-s DEST SUBSYSTEM`,
    /// `DEST true` or `-s DEST sftp`.
    pub fn args(self, destination: String) -> Vec<String> {
        match self {
            Session::Subsystem => vec!["-s".into(), destination, SESSION_SUBSYSTEM.into()],
            Session::Command => vec![destination, SESSION_COMMAND.into()],
            Session::Sftp => vec!["-s".into(), destination, "sftp".into()],
        }
    }

    /// The same for plink, as shell words (`-s HOST SUBSYSTEM` or `HOST true`).
    pub fn words(self, host: &str) -> String {
        match self {
            Session::Subsystem => format!("-s {host} {SESSION_SUBSYSTEM}"),
            Session::Command => format!("{host} {SESSION_COMMAND}"),
            Session::Sftp => format!("-s {host} sftp"),
        }
    }
}

/// A command to run for a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Environment variables added (paths only).
    pub env: Vec<(String, String)>,
    /// Whether stdin is a pipe (else /dev/null).
    pub stdin_piped: bool,
    /// Where the client asks for the typed secret, if it is typed at all.
    pub typed: Option<Typed>,
}

/// A secret the client asks for at a prompt: typed only when that prompt appears
/// ([`sshmatrix_core::prompt`]), never ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed {
    /// The prompt text (case-insensitive), e.g. `Passphrase for key`.
    pub prompt: &'static str,
    /// How many times it is asked (a jump host's inner client asks first).
    pub times: usize,
}

/// The subsystem every binary client requests once logged in (sshd serves it internally, so
/// no login shell runs): the same name as `sshmatrix_servers::sshd::SESSION_SUBSYSTEM`.
pub const SESSION_SUBSYSTEM: &str = "sshmatrix-session";

/// What the jump host's shell prints when no agent was forwarded to it.
pub const NO_FORWARDED_AGENT: &str = "sshmatrix: no forwarded agent on the jump host";

/// The command run on a jump host for a forwarded-agent cell: its own OpenSSH client to the
/// target's one-shot port, with only the forwarded agent's keys (no key file is read there).
pub fn second_hop_command(port: u16, login: &str) -> String {
    format!(
        "[ -n \"$SSH_AUTH_SOCK\" ] || echo '{NO_FORWARDED_AGENT}' >&2; \
         ssh -F none -T -i /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
         -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o LogLevel=ERROR \
         -p {port} -s {login}@127.0.0.1 {SESSION_SUBSYSTEM} </dev/null"
    )
}

pub use sshmatrix_core::text::sh_quote;

impl Driver {
    /// Every driver, in documentation order.
    pub const ALL: [Driver; 14] = [
        Driver::Ssh,
        Driver::Plink,
        Driver::Dbclient,
        Driver::Paramiko,
        Driver::Asyncssh,
        Driver::Libssh2,
        Driver::Libssh,
        Driver::NodeSsh2,
        Driver::Jsch,
        Driver::GoXCrypto,
        Driver::Trilead,
        Driver::NetSsh,
        Driver::NetSsh2,
        Driver::Conch,
    ];

    /// The program or library name.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Ssh => "ssh",
            Driver::Plink => "plink",
            Driver::Dbclient => "dbclient",
            Driver::Paramiko => "paramiko",
            Driver::Asyncssh => "asyncssh",
            Driver::Libssh2 => "libssh2",
            Driver::Libssh => "libssh",
            Driver::NodeSsh2 => "node-ssh2",
            Driver::Jsch => "jsch",
            Driver::GoXCrypto => "go-x-crypto",
            Driver::Trilead => "trilead",
            Driver::NetSsh => "net-ssh",
            Driver::NetSsh2 => "net-ssh2",
            Driver::Conch => "conch",
        }
    }

    /// Whether the driver runs cells through jump hosts (ProxyJump, or the jump host's own
    /// client with a forwarded agent).
    pub fn supports_jumps(self) -> bool {
        matches!(self, Driver::Ssh | Driver::Plink)
    }

    /// Whether the driver runs cells whose key an ssh-agent holds (the binaries that ask an
    /// agent, and the libraries whose program takes `SSHMATRIX_AGENT_SOCK`).
    pub fn supports_agent(self) -> bool {
        matches!(
            self,
            Driver::Ssh
                | Driver::Plink
                | Driver::Paramiko
                | Driver::Asyncssh
                | Driver::NodeSsh2
                | Driver::GoXCrypto
                | Driver::NetSsh
                | Driver::NetSsh2
        )
    }

    /// Whether sshmatrix can give the driver a user certificate to present with its key
    /// file: `ssh` (`CertificateFile`), `plink` (`-cert`, PuTTY 0.78 and later) and the
    /// library programs that load one (`SSHMATRIX_CERT`).
    pub fn supports_certificates(self) -> bool {
        matches!(
            self,
            Driver::Ssh | Driver::Plink | Driver::Paramiko | Driver::Asyncssh | Driver::GoXCrypto
        )
    }

    /// Whether the driver runs `file+password` cells: the key file, then the password on the
    /// server's partial success — `ssh` and `plink` themselves, and the library programs whose
    /// library is given both (Go x/crypto tries its auth methods in turn; paramiko's program
    /// continues as paramiko's SSHClient does).
    pub fn supports_two_steps(self) -> bool {
        matches!(
            self,
            Driver::Ssh | Driver::Plink | Driver::Paramiko | Driver::GoXCrypto
        )
    }

    /// Whether the driver answers keyboard-interactive prompts with a password it is given,
    /// without a person: `ssh` (SSH_ASKPASS for every prompt, KbdInteractiveAuthentication),
    /// `plink` (typed at the prompt it shows), paramiko (`Transport.auth_password` falls back to
    /// keyboard-interactive when the server offers only that, answering its one prompt — as
    /// SSHClient does) and Go x/crypto (`ssh.KeyboardInteractive`, answering echo-off prompts).
    pub fn supports_keyboard_interactive(self) -> bool {
        matches!(
            self,
            Driver::Ssh | Driver::Plink | Driver::Paramiko | Driver::GoXCrypto
        )
    }

    /// Whether a password cell's client types its password at the server's keyboard-interactive
    /// prompt (where the server runs it: KbdInteractiveAuthentication with PAM): plink always,
    /// for PuTTY tries keyboard-interactive before the password method (PuTTY manual,
    /// "Attempt keyboard-interactive authentication", on by default); paramiko when the server
    /// offers no password method (`Transport.auth_password`'s fallback). `ssh` is told to use
    /// the password method only; Go x/crypto's `ssh.Password` is that method alone.
    pub fn password_at_keyboard_interactive(self, password_offered: bool) -> bool {
        match self {
            Driver::Plink => true,
            Driver::Paramiko => !password_offered,
            _ => false,
        }
    }

    /// Whether a two-step cell's client gives its password to whichever second method the
    /// server asks for — password or keyboard-interactive — rather than the one it is set to:
    /// plink (it tries keyboard-interactive, then password, typing the same password at
    /// either prompt) and paramiko (`auth_password` falls back to keyboard-interactive).
    /// `ssh` follows its PreferredAuthentications; Go x/crypto the AuthMethod it is given.
    pub fn password_to_either_method(self) -> bool {
        matches!(self, Driver::Plink | Driver::Paramiko)
    }

    /// Whether sshmatrix can make the driver check the host key against a known_hosts file
    /// (`ssh`: UserKnownHostsFile with strict checking; the paramiko, AsyncSSH and Go x/crypto
    /// programs: `SSHMATRIX_KNOWN_HOSTS`, read by `HostKeys` with SSHClient's RejectPolicy, by
    /// `known_hosts=`, by `knownhosts.New`).
    pub fn checks_known_hosts(self) -> bool {
        matches!(
            self,
            Driver::Ssh | Driver::Paramiko | Driver::Asyncssh | Driver::GoXCrypto
        )
    }

    /// Whether the driver runs password cells (every library program reads
    /// `SSHMATRIX_PASSWORD_FILE`; dbclient has no way to be given one).
    pub fn supports_password(self) -> bool {
        self != Driver::Dbclient
    }

    /// Whether the driver runs cells of this holder (with `via`: through a jump host).
    pub fn runs(self, holder: sshmatrix_core::vocab::Holder, via: bool) -> bool {
        use sshmatrix_core::vocab::Holder;
        let held = match holder {
            Holder::File => true,
            Holder::Agent => self.supports_agent(),
            Holder::AgentForwarded => self.supports_jumps(),
            Holder::Password => self.supports_password(),
            Holder::FileAndPassword => self.supports_two_steps(),
            Holder::KeyboardInteractive => self.supports_keyboard_interactive(),
            Holder::FileAndKeyboardInteractive => {
                self.supports_two_steps() && self.supports_keyboard_interactive()
            }
        };
        held && (!via || self.supports_jumps())
    }

    /// Whether the client leaves out the leading zero bytes of an RSA signature, so about 1
    /// signature in 256 is shorter than the key's modulus: PuTTY pads only for the servers its
    /// bug-compatibility list names (manual, "Requires padding on SSH-2 RSA signatures"); a
    /// server verifying only exact-length signatures then refuses such a login now and then
    /// (github.com/paramiko/paramiko pull 1933).
    pub fn unpadded_rsa_signatures(self) -> bool {
        self == Driver::Plink
    }

    /// The client program a library driver runs (None for the binaries).
    pub fn program(self) -> Option<Program> {
        library::program(self)
    }

    /// Whether the client reads the cell's key file as the key tool wrote it (a library);
    /// the binaries get a copy converted to their own format first.
    pub fn reads_key_as_is(self) -> bool {
        self.program().is_some()
    }

    /// Whether the client must be given a TCP port (a library connects a socket itself; the
    /// binaries can run a proxy command instead).
    pub fn needs_port(self) -> bool {
        self.program().is_some()
    }

    /// The key file in the client's own format (a converted copy in the key cache), or the
    /// reason the client cannot use the key at all (its own tool refuses it).
    pub fn prepare_key(
        self,
        factory: &KeyFactory,
        profile: &Profile,
        key: &KeyFile,
    ) -> Result<PathBuf, String> {
        match self {
            Driver::Ssh => factory
                .openssh_copy(key)
                .map_err(|e| format!("cannot convert the key for ssh: {e}")),
            Driver::Plink => plink::prepare_key(factory, profile, key),
            Driver::Dbclient => dbclient::prepare_key(factory, key),
            // A library reads the key file as the key tool wrote it (or fails to: its verdict).
            _ => Ok(key.path.clone()),
        }
    }

    /// The command line, environment and typed input for one cell.
    pub fn invocation(self, cell: &DriverCell) -> Invocation {
        match self {
            Driver::Ssh => ssh::invocation(cell),
            Driver::Plink => plink::invocation(cell),
            Driver::Dbclient => dbclient::invocation(cell),
            _ => library::invocation(cell),
        }
    }
}
