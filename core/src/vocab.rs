//! The words every sshmatrix crate shares: a cell's [`Verdict`], the [`Stage`] a connection
//! ended at, the failure [`Code`], how the client holds its credential ([`Holder`]) and which
//! key file a cell uses ([`KeyId`]). Their serde names are the report schema's (version 1):
//! renaming one is a schema change.

use serde::{Deserialize, Serialize};

/// The outcome class of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Logged in (○).
    Ok,
    /// Refused (×).
    Fail,
    /// Not decided: timeout, engine limit, broken target (!).
    Error,
    /// Cut short by a stop (Ctrl-C): not measured, never a verdict. Such cells are kept out
    /// of the result stream, so `--resume` runs them again (…).
    Interrupted,
}

impl Verdict {
    /// The lower-case name (`ok`, `fail`, `error`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Interrupted => "interrupted",
        }
    }

    /// Whether this is a measured outcome (ok, fail or error), not an interruption.
    pub fn is_measured(&self) -> bool {
        *self != Verdict::Interrupted
    }

    /// The table mark: ○, ×, ! or … (interrupted). A cell a scan cannot decide without a login
    /// has its own mark, `?` (`CellResult::mark` in the reports crate).
    pub fn mark(&self) -> &'static str {
        match self {
            Verdict::Ok => "○",
            Verdict::Fail => "×",
            Verdict::Error => "!",
            Verdict::Interrupted => "…",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Reading the key file.
    KeyLoad,
    /// Transport connect / identification.
    Connect,
    /// Key exchange algorithm negotiation or computation.
    Kex,
    /// Host key algorithm negotiation or verification.
    Hostkey,
    /// Cipher negotiation.
    Cipher,
    /// MAC negotiation.
    Mac,
    /// Compression negotiation.
    Compression,
    /// User authentication.
    Auth,
    /// The engine cannot speak what the real client would use.
    Emulation,
    /// The cell ran out of time.
    Timeout,
    /// Logged in.
    Login,
    /// Reaching the jump host (its own refusal, before the target is tried).
    Jump,
    /// Cut short by a stop before a verdict (never in the stream).
    Interrupted,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Stage {
    /// The kebab-case name reports carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::KeyLoad => "key-load",
            Stage::Connect => "connect",
            Stage::Kex => "kex",
            Stage::Hostkey => "hostkey",
            Stage::Cipher => "cipher",
            Stage::Mac => "mac",
            Stage::Compression => "compression",
            Stage::Auth => "auth",
            Stage::Emulation => "emulation",
            Stage::Timeout => "timeout",
            Stage::Login => "login",
            Stage::Jump => "jump",
            Stage::Interrupted => "interrupted",
        }
    }

    /// Every stage.
    pub const ALL: &'static [Stage] = &[
        Stage::KeyLoad,
        Stage::Connect,
        Stage::Kex,
        Stage::Hostkey,
        Stage::Cipher,
        Stage::Mac,
        Stage::Compression,
        Stage::Auth,
        Stage::Emulation,
        Stage::Timeout,
        Stage::Login,
        Stage::Jump,
        Stage::Interrupted,
    ];

    /// The stage of a kebab-case name.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|s| s.as_str() == name)
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a cell did not log in: the failure taxonomy, stable across releases. Reports carry its
/// kebab-case name ([`CellResult::code`], empty for a login).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// client and server share no key exchange algorithm
    KexNoCommon,
    /// client and server share no host key algorithm
    HostkeyNoCommon,
    /// client and server share no cipher
    CipherNoCommon,
    /// client and server share no MAC
    MacNoCommon,
    /// client and server share no compression method
    CompressionNoCommon,
    /// the server's host key differs from the one the client knows
    HostkeyChanged,
    /// the client stops at a negotiated algorithm it warns about and cannot confirm non-interactively (plink: chacha20-poly1305 or an EtM MAC without strict key exchange, the Terrapin attack)
    WeakCryptoRefused,
    /// the server refuses the signature algorithm (e.g. ssh-rsa SHA-1 not in PubkeyAcceptedAlgorithms)
    AuthSignatureRejected,
    /// the key is below the server's RequiredRSASize (or the client's own minimum)
    AuthKeyTooSmall,
    /// the server does not accept this public key for the user
    AuthKeyNotAuthorized,
    /// the client finds no signature algorithm it may use for the key and does not offer it
    AuthNoSignatureAlgorithm,
    /// the server refuses the password
    AuthPasswordRejected,
    /// the server does not offer the authentication method (e.g. password under lockdown)
    AuthMethodDisabled,
    /// sshd's StrictModes refuses the key file or its directories (ownership or modes)
    StrictmodesPermissions,
    /// the server disconnects after MaxAuthTries failed attempts
    TooManyAuthFailures,
    /// the client cannot read the key file (format or key type it does not support)
    KeyLoadFailed,
    /// the passphrase does not decrypt the key file
    WrongPassphrase,
    /// nothing accepts the connection
    ConnectionRefused,
    /// the server closed the connection before a verdict
    ConnectionClosed,
    /// the server refuses every connection from this source address for a while: earlier failed logins (or crashes, or connections that never authenticated) earned it a penalty (OpenSSH 9.8+ PerSourcePenalties)
    SourcePenalized,
    /// the peer sent something that is not valid SSH
    ProtocolError,
    /// no verdict within the cell's timeout
    Timeout,
    /// deferred: the account's failed-login budget on a remote target is spent
    AuthBudgetExhausted,
    /// the real client would use an algorithm the emulator cannot speak
    EmulationLimit,
    /// the jump host (`via`) refused the client before the target was tried; the reason is the jump host's
    JumpHostRefused,
    /// predicted by a scan: what decides this cell cannot be seen without a login (whether the server accepts the signature algorithm the client sends, where its release does not say)
    NotObservable,
    /// the jump host refused to forward the agent (AllowAgentForwarding no), so its next-hop client had no key
    AgentForwardingRefused,
    /// no verdict: the server could not use its own configuration (a path it cannot expand, no host key); sshmatrix's environment, not the client
    ServerConfigError,
    /// no verdict: another local process connected to the cell's server port first (a local user racing for it)
    ForeignConnection,
    /// the certificate is refused (a user certificate by the server, a host certificate by the client): its CA signed it with an algorithm not in CASignatureAlgorithms (ssh-rsa SHA-1 under OpenSSH 8.2+ defaults and RHEL 9 DEFAULT)
    CertCaSignatureRefused,
    /// the certificate is refused (a user certificate by the server, a host certificate by the client): its validity has ended
    CertExpired,
    /// the certificate is refused (a user certificate by the server, a host certificate by the client): its validity has not begun (or the clocks disagree)
    CertNotYetValid,
    /// the certificate is refused (a user certificate by the server, a host certificate by the client): the login name, or the host name, is not one of its principals
    CertPrincipalNotAllowed,
    /// the server accepted the key as a first step (partial success) and wants another method next (AuthenticationMethods); the client did not go on to it
    AuthPartialNotContinued,
    /// the server refuses the answers to its keyboard-interactive prompts (PAM said no)
    AuthKbdintRefused,
    /// the client cannot verify the server's host key: no known_hosts line or trusted host CA vouches for it, and it checks strictly
    HostkeyUnverified,
    /// the server refuses the certificate: its source-address critical option does not list the client's address
    CertSourceNotAllowed,
}

impl Code {
    /// Every code, in the order of the table in docs/reference.md.
    pub const ALL: &[Code] = &[
        Code::KexNoCommon,
        Code::HostkeyNoCommon,
        Code::CipherNoCommon,
        Code::MacNoCommon,
        Code::CompressionNoCommon,
        Code::HostkeyChanged,
        Code::WeakCryptoRefused,
        Code::AuthSignatureRejected,
        Code::AuthKeyTooSmall,
        Code::AuthKeyNotAuthorized,
        Code::AuthNoSignatureAlgorithm,
        Code::AuthPasswordRejected,
        Code::AuthMethodDisabled,
        Code::StrictmodesPermissions,
        Code::TooManyAuthFailures,
        Code::KeyLoadFailed,
        Code::WrongPassphrase,
        Code::ConnectionRefused,
        Code::ConnectionClosed,
        Code::SourcePenalized,
        Code::ProtocolError,
        Code::Timeout,
        Code::AuthBudgetExhausted,
        Code::EmulationLimit,
        Code::JumpHostRefused,
        Code::NotObservable,
        Code::AgentForwardingRefused,
        Code::ServerConfigError,
        Code::ForeignConnection,
        Code::CertCaSignatureRefused,
        Code::CertExpired,
        Code::CertNotYetValid,
        Code::CertPrincipalNotAllowed,
        Code::AuthPartialNotContinued,
        Code::AuthKbdintRefused,
        Code::HostkeyUnverified,
        Code::CertSourceNotAllowed,
    ];

    /// The kebab-case name reports carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::KexNoCommon => "kex-no-common",
            Code::HostkeyNoCommon => "hostkey-no-common",
            Code::CipherNoCommon => "cipher-no-common",
            Code::MacNoCommon => "mac-no-common",
            Code::CompressionNoCommon => "compression-no-common",
            Code::HostkeyChanged => "hostkey-changed",
            Code::WeakCryptoRefused => "weak-crypto-refused",
            Code::AuthSignatureRejected => "auth-signature-rejected",
            Code::AuthKeyTooSmall => "auth-key-too-small",
            Code::AuthKeyNotAuthorized => "auth-key-not-authorized",
            Code::AuthNoSignatureAlgorithm => "auth-no-signature-algorithm",
            Code::AuthPasswordRejected => "auth-password-rejected",
            Code::AuthMethodDisabled => "auth-method-disabled",
            Code::StrictmodesPermissions => "strictmodes-permissions",
            Code::TooManyAuthFailures => "too-many-auth-failures",
            Code::KeyLoadFailed => "key-load-failed",
            Code::WrongPassphrase => "wrong-passphrase",
            Code::ConnectionRefused => "connection-refused",
            Code::ConnectionClosed => "connection-closed",
            Code::SourcePenalized => "source-penalized",
            Code::ProtocolError => "protocol-error",
            Code::Timeout => "timeout",
            Code::AuthBudgetExhausted => "auth-budget-exhausted",
            Code::EmulationLimit => "emulation-limit",
            Code::JumpHostRefused => "jump-host-refused",
            Code::NotObservable => "not-observable",
            Code::AgentForwardingRefused => "agent-forwarding-refused",
            Code::ServerConfigError => "server-config-error",
            Code::ForeignConnection => "foreign-connection",
            Code::CertCaSignatureRefused => "cert-ca-signature-refused",
            Code::CertExpired => "cert-expired",
            Code::CertNotYetValid => "cert-not-yet-valid",
            Code::CertPrincipalNotAllowed => "cert-principal-not-allowed",
            Code::AuthPartialNotContinued => "auth-partial-not-continued",
            Code::AuthKbdintRefused => "auth-kbdint-refused",
            Code::HostkeyUnverified => "hostkey-unverified",
            Code::CertSourceNotAllowed => "cert-source-not-allowed",
        }
    }

    /// What the code means.
    pub fn description(self) -> &'static str {
        match self {
            Code::KexNoCommon => "client and server share no key exchange algorithm",
            Code::HostkeyNoCommon => "client and server share no host key algorithm",
            Code::CipherNoCommon => "client and server share no cipher",
            Code::MacNoCommon => "client and server share no MAC",
            Code::CompressionNoCommon => "client and server share no compression method",
            Code::HostkeyChanged => "the server's host key differs from the one the client knows",
            Code::WeakCryptoRefused => "the client stops at a negotiated algorithm it warns about and cannot confirm non-interactively (plink: chacha20-poly1305 or an EtM MAC without strict key exchange, the Terrapin attack)",
            Code::AuthSignatureRejected => "the server refuses the signature algorithm (e.g. ssh-rsa SHA-1 not in PubkeyAcceptedAlgorithms)",
            Code::AuthKeyTooSmall => "the key is below the server's RequiredRSASize (or the client's own minimum)",
            Code::AuthKeyNotAuthorized => "the server does not accept this public key for the user",
            Code::AuthNoSignatureAlgorithm => "the client finds no signature algorithm it may use for the key and does not offer it",
            Code::AuthPasswordRejected => "the server refuses the password",
            Code::AuthMethodDisabled => "the server does not offer the authentication method (e.g. password under lockdown)",
            Code::StrictmodesPermissions => "sshd's StrictModes refuses the key file or its directories (ownership or modes)",
            Code::TooManyAuthFailures => "the server disconnects after MaxAuthTries failed attempts",
            Code::KeyLoadFailed => "the client cannot read the key file (format or key type it does not support)",
            Code::WrongPassphrase => "the passphrase does not decrypt the key file",
            Code::ConnectionRefused => "nothing accepts the connection",
            Code::ConnectionClosed => "the server closed the connection before a verdict",
            Code::SourcePenalized => "the server refuses every connection from this source address for a while: earlier failed logins (or crashes, or connections that never authenticated) earned it a penalty (OpenSSH 9.8+ PerSourcePenalties)",
            Code::ProtocolError => "the peer sent something that is not valid SSH",
            Code::Timeout => "no verdict within the cell's timeout",
            Code::AuthBudgetExhausted => "deferred: the account's failed-login budget on a remote target is spent",
            Code::EmulationLimit => "the real client would use an algorithm the emulator cannot speak",
            Code::JumpHostRefused => "the jump host (`via`) refused the client before the target was tried; the reason is the jump host's",
            Code::NotObservable => "predicted by a scan: what decides this cell cannot be seen without a login (whether the server accepts the signature algorithm the client sends, where its release does not say)",
            Code::AgentForwardingRefused => "the jump host refused to forward the agent (AllowAgentForwarding no), so its next-hop client had no key",
            Code::ServerConfigError => "no verdict: the server could not use its own configuration (a path it cannot expand, no host key); sshmatrix's environment, not the client",
            Code::ForeignConnection => "no verdict: another local process connected to the cell's server port first (a local user racing for it)",
            Code::CertCaSignatureRefused => "the certificate is refused (a user certificate by the server, a host certificate by the client): its CA signed it with an algorithm not in CASignatureAlgorithms (ssh-rsa SHA-1 under OpenSSH 8.2+ defaults and RHEL 9 DEFAULT)",
            Code::CertExpired => "the certificate is refused (a user certificate by the server, a host certificate by the client): its validity has ended",
            Code::CertNotYetValid => "the certificate is refused (a user certificate by the server, a host certificate by the client): its validity has not begun (or the clocks disagree)",
            Code::CertPrincipalNotAllowed => "the certificate is refused (a user certificate by the server, a host certificate by the client): the login name, or the host name, is not one of its principals",
            Code::AuthPartialNotContinued => "the server accepted the key as a first step (partial success) and wants another method next (AuthenticationMethods); the client did not go on to it",
            Code::AuthKbdintRefused => "the server refuses the answers to its keyboard-interactive prompts (PAM said no)",
            Code::HostkeyUnverified => "the client cannot verify the server's host key: no known_hosts line or trusted host CA vouches for it, and it checks strictly",
            Code::CertSourceNotAllowed => "the server refuses the certificate: its source-address critical option does not list the client's address",
        }
    }

    /// The code of a kebab-case name.
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<Code> for String {
    fn eq(&self, other: &Code) -> bool {
        self == other.as_str()
    }
}

/// How the client holds its credential (the `holders` axis; `file` when absent).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Holder {
    /// The key file, read by the client.
    #[default]
    File,
    /// A real ssh-agent holding the key; the client asks it to sign.
    Agent,
    /// The agent, forwarded through the target's jump host (`via`): the jump host's own
    /// OpenSSH client makes the last hop with it.
    AgentForwarded,
    /// A password instead of a key.
    Password,
    /// The key file, then the account's password: two steps (`AuthenticationMethods
    /// publickey,password`), on targets whose accounts have one.
    #[serde(rename = "file+password")]
    FileAndPassword,
    /// The account's password, typed at the server's keyboard-interactive prompt (PAM).
    KeyboardInteractive,
    /// The key file, then the account's password at the keyboard-interactive prompt
    /// (`AuthenticationMethods publickey,keyboard-interactive`).
    #[serde(rename = "file+keyboard-interactive")]
    FileAndKeyboardInteractive,
}

impl Holder {
    /// All values, in matrix-file spelling.
    pub const NAMES: &'static [&'static str] = &[
        "file",
        "agent",
        "agent-forwarded",
        "password",
        "file+password",
        "keyboard-interactive",
        "file+keyboard-interactive",
    ];

    /// The matrix-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Holder::File => "file",
            Holder::Agent => "agent",
            Holder::AgentForwarded => "agent-forwarded",
            Holder::Password => "password",
            Holder::FileAndPassword => "file+password",
            Holder::KeyboardInteractive => "keyboard-interactive",
            Holder::FileAndKeyboardInteractive => "file+keyboard-interactive",
        }
    }

    /// Parses the matrix-file spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "file" => Holder::File,
            "agent" => Holder::Agent,
            "agent-forwarded" => Holder::AgentForwarded,
            "password" => Holder::Password,
            "file+password" => Holder::FileAndPassword,
            "keyboard-interactive" => Holder::KeyboardInteractive,
            "file+keyboard-interactive" => Holder::FileAndKeyboardInteractive,
            _ => return None,
        })
    }

    /// Whether the cell needs the run's ssh-agent.
    pub fn uses_agent(self) -> bool {
        matches!(self, Holder::Agent | Holder::AgentForwarded)
    }

    /// Whether the cell logs in with a key (file or agent), not a password.
    pub fn uses_key(self) -> bool {
        !matches!(self, Holder::Password | Holder::KeyboardInteractive)
    }

    /// Whether the cell answers with the account's real password (set by the run on container
    /// accounts): the two-step holders and keyboard-interactive.
    pub fn uses_account_password(self) -> bool {
        matches!(
            self,
            Holder::FileAndPassword
                | Holder::KeyboardInteractive
                | Holder::FileAndKeyboardInteractive
        )
    }

    /// Whether the password goes to keyboard-interactive prompts rather than the password
    /// method.
    pub fn keyboard_interactive(self) -> bool {
        matches!(
            self,
            Holder::KeyboardInteractive | Holder::FileAndKeyboardInteractive
        )
    }

    /// Whether the key is a first step the password follows (`file+…` holders).
    pub fn two_steps(self) -> bool {
        matches!(
            self,
            Holder::FileAndPassword | Holder::FileAndKeyboardInteractive
        )
    }

    /// The method after the key a two-step holder takes (`password`, `keyboard-interactive`).
    pub fn second_method(self) -> Option<&'static str> {
        match self {
            Holder::FileAndPassword => Some("password"),
            Holder::FileAndKeyboardInteractive => Some("keyboard-interactive"),
            _ => None,
        }
    }

    /// The table label.
    pub fn label(self) -> &'static str {
        match self {
            Holder::File => "key file",
            Holder::Agent => "agent",
            Holder::AgentForwarded => "agent forwarded",
            Holder::Password => "password",
            Holder::FileAndPassword => "key file, then password",
            Holder::KeyboardInteractive => "keyboard-interactive",
            Holder::FileAndKeyboardInteractive => "key file, then keyboard-interactive",
        }
    }
}

impl PartialEq<&str> for Holder {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key of a plan: cells with the same key spec, key tool and passphrase share its file
/// (certificate cells share a pair of their own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    /// The key as matrix files spell it (`rsa-2048`).
    pub key: String,
    /// The key tool's id.
    pub tool: String,
    /// Whether it has a passphrase.
    pub passphrase: bool,
    /// A pair of its own for certificate cells (never registered bare on a target).
    pub certified: bool,
}

/// A cell's failure code as reports carry it: a [`Code`], or none for a login (written `""`).
/// Compares with a code or its name (`c.code == "timeout"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CellCode(pub Option<Code>);

impl CellCode {
    /// No failure.
    pub const NONE: CellCode = CellCode(None);

    /// The code's name, `""` for none.
    pub fn as_str(self) -> &'static str {
        self.0.map_or("", Code::as_str)
    }

    /// The code, if there is one.
    pub fn code(self) -> Option<Code> {
        self.0
    }

    /// Whether there is no code (a login).
    pub fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl std::str::FromStr for CellCode {
    type Err = String;

    /// A code's name, or `""` for none.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "" => Ok(CellCode::NONE),
            n => Code::parse(n)
                .map(CellCode::from)
                .ok_or_else(|| format!("unknown failure code `{n}`")),
        }
    }
}

impl From<Code> for CellCode {
    fn from(c: Code) -> Self {
        CellCode(Some(c))
    }
}

impl From<Option<Code>> for CellCode {
    fn from(c: Option<Code>) -> Self {
        CellCode(c)
    }
}

impl std::fmt::Display for CellCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<Code> for CellCode {
    fn eq(&self, other: &Code) -> bool {
        self.0 == Some(*other)
    }
}

impl PartialEq<&str> for CellCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for CellCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl Serialize for CellCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CellCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name.is_empty() {
            return Ok(CellCode::NONE);
        }
        Code::parse(&name)
            .map(CellCode::from)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown failure code `{name}`")))
    }
}

impl schemars::JsonSchema for CellCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_schema_names() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(*c));
        }
        for s in Stage::ALL {
            assert_eq!(Stage::parse(&s.to_string()), Some(*s));
        }
        for h in Holder::NAMES {
            assert_eq!(Holder::parse(h).map(Holder::as_str), Some(*h));
        }
    }

    #[test]
    fn a_cell_code_is_a_name_or_empty() {
        let c = CellCode::from(Code::Timeout);
        assert!(c == "timeout" && c == Code::Timeout);
        assert_eq!(CellCode::NONE.as_str(), "");
        let json = |c: CellCode| serde_json_like(c.as_str());
        assert_eq!(json(c), "\"timeout\"");
    }

    fn serde_json_like(s: &str) -> String {
        format!("{s:?}")
    }
}
