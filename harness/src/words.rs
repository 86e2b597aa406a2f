//! The words outcomes are said in where more than one part of sshmatrix reads or writes them:
//! the runner's classifiers and the log readers write a reason with them, `diagnose` reads the
//! reason back as a failure code. A leaf module, so that none of them depends on another for
//! a sentence.

/// A password the server refused (`auth-password-rejected`).
pub const PASSWORD_REFUSED: &str = "server refused the password";

/// A server log's words for a refused password: OpenSSH `Failed password for USER`, Dropbear
/// `Bad password attempt for 'USER'` (svr-authpasswd.c), ProFTPD `USER admin (Login failed):
/// Incorrect password` (mod_auth_unix, measured with 1.3.8), Twisted Conch `b'admin' failed
/// auth b'password'` (userauth.py).
pub const PASSWORD_REFUSED_LOG: [&str; 4] = [
    "Failed password",
    "Bad password attempt",
    "(Login failed): Incorrect password",
    "failed auth b'password'",
];

/// Keyboard-interactive answers the server refused (`auth-kbdint-refused`).
pub const KBDINT_REFUSED: &str = "server refused the keyboard-interactive answers";

/// A first step the server took, the next never taken (`auth-partial-not-continued`).
pub const PARTIAL_NOT_CONTINUED: &str = "the server took the key as a first step";

/// OpenSSH's last word when strict host key checking finds nothing that vouches for the key.
pub const HOSTKEY_UNVERIFIED: &str = "Host key verification failed";

/// How clients say nothing they trust vouches for the host key (`hostkey-unverified`): OpenSSH,
/// AsyncSSH's HostKeyNotVerifiable, Go x/crypto's knownhosts and CertChecker, paramiko's
/// RejectPolicy and its InvalidHostKey for a known_hosts line it cannot read.
pub const HOSTKEY_UNVERIFIED_WORDS: [&str; 7] = [
    HOSTKEY_UNVERIFIED,
    "the host key is not verified",
    "HostKeyNotVerifiable",
    "knownhosts: key is unknown",
    "no authorities for hostname",
    "not found in known_hosts",
    "InvalidHostKey",
];

/// How OpenSSH says it refused a host certificate (sshconnect.c `check_host_cert`; 8.4 words a
/// refused CA signature as `certificate signature algorithm …`, 9.x as `Certificate signed
/// with disallowed algorithm`).
pub const HOST_CERT_REFUSALS: [&str; 3] = [
    "Certificate invalid: ",
    "Certificate signed with disallowed algorithm",
    "check_host_cert: certificate signature algorithm",
];
