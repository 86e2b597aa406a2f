//! The matrix file (TOML) as a plan: the model (this module), the file as written (`raw`),
//! the planner that checks and expands it (`build`, with `axes` and `targets`), whole-plan
//! checks ([`check`]) and cell digests ([`digest`]). Every error names the file, a line and
//! column from the TOML spans, and a fix.

mod axes;
mod build;
pub mod check;
mod ctx;
pub mod digest;
mod known_hosts;
mod plain;
mod raw;
mod targets;

use serde::Deserialize;
use sshmatrix_clients::{KeySpec, KeyTool, Profile};
use sshmatrix_servers::Policy;

pub use crate::hints::nearest;
pub use axes::name_errors;
pub use build::{load, plan};
pub use known_hosts::known_hosts_pin;

/// The axes a layout can place in rows or columns.
pub const AXES: &[&str] = &[
    "client",
    "key_tool",
    "key",
    "passphrase",
    "holder",
    "certificate",
    "target",
    "user",
];

pub use sshmatrix_core::vocab::Holder;

/// Default upper bound on the number of cells a matrix may expand to.
pub const DEFAULT_MAX_CELLS: usize = 100_000;

/// A bad-input error: one message naming file, line and column, with a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file.
    pub file: String,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl InputError {
    /// The error with `hint` instead of its own, when there is one.
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Which public keys a target has registered.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Registered {
    /// The matrix keys (normal).
    #[default]
    Matrix,
    /// Only a key that is not the pair of any matrix key.
    Other,
    /// None at all.
    None,
}

/// Troubleshooting knobs of a target (field report §3): what is wrong around the login.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `"other"`: the client's known_hosts holds a different host key for this target.
    #[serde(default)]
    pub known_host_key: Option<KnownHostKey>,
    /// Which keys the target has registered.
    #[serde(default)]
    pub authorized_keys: Registered,
    /// Octal mode of the authorized keys file, e.g. `"0666"` (StrictModes refuses it).
    #[serde(default)]
    pub authorized_keys_mode: Option<String>,
    /// `false`: nothing listens; the client's TCP connect to 127.0.0.1 is refused.
    #[serde(default = "yes")]
    pub reachable: bool,
    /// The client offers this many other keys before its own (an agent full of keys).
    #[serde(default)]
    pub other_keys_first: usize,
    /// `"password"`: the client logs in with a password instead of its key.
    #[serde(default)]
    pub method: Method,
    /// `"wrong"`: the client is given a wrong passphrase for its encrypted key.
    #[serde(default)]
    pub passphrase: GivenPassphrase,
    /// A hostile or broken server in place of sshd: silent, stall-kex, garbage, dies.
    #[serde(default)]
    pub server: Option<Hostile>,
    /// The target presents its host keys as certificates of the run's host CA, made as this
    /// certificate word says (`ed25519`, `rsa-sha1`, `ed25519-expired`, …), and clients trust
    /// only that CA (`@cert-authority` in their known_hosts, strict checking).
    #[serde(default)]
    pub host_certificate: Option<String>,
}

impl Scenario {
    /// Whether real clients run against a target of this scenario: none, or host certificates
    /// (the real server presents them, the real client checks them).
    pub fn real_clients_run(&self) -> bool {
        let without = Scenario {
            host_certificate: None,
            ..self.clone()
        };
        without == Scenario::default()
    }

    /// The host certificate the target presents (checked when the matrix is read).
    pub fn host_cert(&self) -> Option<sshmatrix_clients::CertSpec> {
        self.host_certificate
            .as_deref()
            .and_then(|w| w.parse().ok())
    }
}

fn yes() -> bool {
    true
}

impl Default for Scenario {
    /// Nothing wrong: matrix keys registered, reachable, the key's own method and passphrase.
    fn default() -> Self {
        Scenario {
            known_host_key: None,
            authorized_keys: Registered::Matrix,
            authorized_keys_mode: None,
            reachable: true,
            other_keys_first: 0,
            method: Method::Publickey,
            passphrase: GivenPassphrase::Right,
            server: None,
            host_certificate: None,
        }
    }
}

/// The known host key knob.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KnownHostKey {
    /// A key that differs from the target's.
    Other,
}

/// The client's authentication method.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Its key (normal).
    #[default]
    Publickey,
    /// A password.
    Password,
}

/// The passphrase the client is given.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GivenPassphrase {
    /// The right one (normal).
    #[default]
    Right,
    /// A wrong one.
    Wrong,
}

/// Installing the matrix keys through an existing admin key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    /// The admin account (root, or each matrix user itself).
    pub user: String,
    /// The admin's private key file (unencrypted, or encrypted with SSHMATRIX_DEPLOY_PASSPHRASE).
    pub key: std::path::PathBuf,
    /// Where the keys go, with `%h` (home) and `%u` (user) as in sshd (default
    /// `%h/.ssh/authorized_keys`).
    pub file: String,
}

/// A real appliance or VM reached over the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Host name or address.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Pinned host key fingerprints, `SHA256:…` (comma-separated when the host has several key
    /// types: each client negotiates the type it prefers); a key outside them stops the run.
    pub host_key: String,
    /// Failed logins allowed per account per window (default 2).
    pub auth_budget: u32,
    /// The window in seconds (default 900, faillock's unlock time).
    pub budget_window_secs: u64,
    /// Where the password of password cells comes from: only ever what the user granted on
    /// the command line (`--password TARGET=…`).
    pub password: Option<crate::grants::Secret>,
    /// Install the keys through this admin key before the run.
    pub deploy: Option<Deploy>,
}

pub use crate::expect::Expectation;

/// A validated target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Id.
    pub id: String,
    /// Column label path (defaults to `[id]`).
    pub label: Vec<String>,
    /// Policy.
    pub policy: Policy,
    /// Login names.
    pub users: Vec<String>,
    /// Host key types.
    pub host_keys: Vec<String>,
    /// Extra sshd_config lines that take precedence over the policy.
    pub sshd: Vec<String>,
    /// Troubleshooting knobs (defaults: nothing wrong).
    pub scenario: Scenario,
    /// Where the target's server end is, decided when the plan is made.
    pub backend: Backend,
    /// The jump host the client reaches this target through.
    pub via: Option<TargetId>,
    /// Served by one listening sshd (`sshd -D`) for all its cells, one cell at a time, instead
    /// of an `sshd -i` per cell: what sshd does between connections carries from cell to cell.
    pub listen: bool,
}

/// Where a target's server end is: the one place that says how a cell reaches it.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A server of this host (`sshd -i` per cell; AsyncSSH's program).
    Local,
    /// A server inside a container of a release image, the matrix users real accounts there
    /// (`kind = "container"`).
    Container(sshmatrix_servers::container::ImageRecipe),
    /// A real host over the network (`kind = "remote"`; the policy is what it is expected to
    /// run, for prediction).
    Remote(Remote),
    /// An in-process stub that misbehaves (`scenario.server`).
    Hostile(Hostile),
    /// A port nothing listens on (`scenario.reachable = false`).
    Unreachable,
}

impl Backend {
    /// The backend of a target of these parts: a remote host, else a scenario's stand-in (no
    /// listener, a hostile stub), else a container's image, else this host.
    pub fn of(
        remote: Option<Remote>,
        image: Option<sshmatrix_servers::container::ImageRecipe>,
        scenario: &Scenario,
    ) -> Backend {
        match (remote, image) {
            (Some(r), _) => Backend::Remote(r),
            _ if !scenario.reachable => Backend::Unreachable,
            _ if scenario.server.is_some() => Backend::Hostile(scenario.server.expect("set")),
            (None, Some(image)) => Backend::Container(image),
            (None, None) => Backend::Local,
        }
    }
}

impl Target {
    /// The real host of a remote target.
    pub fn remote(&self) -> Option<&Remote> {
        match &self.backend {
            Backend::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// The image of a container target.
    pub fn image(&self) -> Option<&sshmatrix_servers::container::ImageRecipe> {
        match &self.backend {
            Backend::Container(i) => Some(i),
            _ => None,
        }
    }
}

/// How a hostile stub misbehaves (`scenario.server`; the stubs are [`crate::runner`]'s).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Hostile {
    /// Accepts the connection and never sends a byte.
    Silent,
    /// Sends its identification and a valid KEXINIT, then never answers the key exchange.
    StallKex,
    /// Floods random bytes (at most 8 MiB), then holds the connection open.
    Garbage,
    /// Sends its identification and KEXINIT, then closes the connection (dies mid-handshake).
    Dies,
}

/// A target's position in its plan's [`Plan::targets`]; plan-wide per-target tables are
/// indexed by it too (`effective[cell.target]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub usize);

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<T> std::ops::Index<TargetId> for [T] {
    type Output = T;
    fn index(&self, i: TargetId) -> &T {
        &self[i.0]
    }
}

impl<T> std::ops::Index<TargetId> for Vec<T> {
    type Output = T;
    fn index(&self, i: TargetId) -> &T {
        &self[i.0]
    }
}

impl<T> std::ops::IndexMut<TargetId> for Vec<T> {
    fn index_mut(&mut self, i: TargetId) -> &mut T {
        &mut self[i.0]
    }
}

/// One cell of the plan.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Plan position.
    pub index: usize,
    /// Client profile (shared by every cell of that client).
    pub client: std::sync::Arc<Profile>,
    /// Key tool (shared by every cell of that tool).
    pub key_tool: std::sync::Arc<KeyTool>,
    /// Key.
    pub key: KeySpec,
    /// Passphrase set.
    pub passphrase: bool,
    /// How the client holds the key.
    pub holder: Holder,
    /// The certificate the client presents with the key (`None`: the bare key).
    pub certificate: Option<sshmatrix_clients::CertSpec>,
    /// Its target.
    pub target: TargetId,
    /// Login name.
    pub user: String,
    /// Row label path.
    pub row: Vec<String>,
    /// Column label path.
    pub column: Vec<String>,
    /// Digest of everything that decides the cell's verdict (see [`crate::matrix::digest`]); a stored
    /// result is reused only for a cell with the same identity and digest.
    pub digest: crate::matrix::digest::Digest,
}

/// Run settings from the matrix's `[run]` table.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// Concurrent cells.
    pub jobs: Option<usize>,
    /// Per-cell timeout in seconds.
    pub timeout_secs: Option<u64>,
    /// sshd LogLevel.
    pub server_log_level: Option<String>,
}

/// A validated, expanded matrix.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Matrix file path as given.
    pub file: String,
    /// Title.
    pub title: String,
    /// Where the matrix comes from.
    pub source: Option<String>,
    /// Targets.
    pub targets: Vec<Target>,
    /// Cells in table order.
    pub cells: Vec<Cell>,
    /// Names of the row axes (corner headers).
    pub row_axes: Vec<String>,
    /// Names of the column axes.
    pub column_axes: Vec<String>,
    /// Run settings.
    pub run: RunSettings,
    /// Expected verdicts.
    pub expect: Option<Expectation>,
    /// Images the plan's in-image real clients run in (one client container each).
    pub client_images: Vec<sshmatrix_servers::container::ImageRecipe>,
    /// Whether the user trusted the sshd lines (`--trust-sshd-lines`); otherwise what they
    /// make sshd do is read back and checked before any cell runs.
    pub trusted_sshd_lines: bool,
}

/// What the planner validates names against, and what the user granted on the command line.
pub struct Catalog<'a> {
    /// Client profiles.
    pub profiles: &'a [Profile],
    /// Key tools.
    pub key_tools: &'a [KeyTool],
    /// Server policies.
    pub policies: &'a [Policy],
    /// The user's grants (trusted sshd lines, credentials): none unless given.
    pub grants: crate::grants::Grants,
}

impl<'a> Catalog<'a> {
    /// A catalog of these names, with no grants.
    pub fn new(profiles: &'a [Profile], key_tools: &'a [KeyTool], policies: &'a [Policy]) -> Self {
        Catalog {
            profiles,
            key_tools,
            policies,
            grants: Default::default(),
        }
    }

    /// The same catalog with the user's grants.
    pub fn with_grants(mut self, grants: crate::grants::Grants) -> Self {
        self.grants = grants;
        self
    }
}
