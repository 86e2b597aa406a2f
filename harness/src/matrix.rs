//! The matrix file (TOML): model, validation with file:line:column messages and nearest-name
//! hints, and the planner that expands it into cells.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use sshmatrix_clients::{KeySpec, KeyTool, Profile};
use sshmatrix_servers::Policy;
use toml::Spanned;

/// The axes a layout can place in rows or columns.
pub const AXES: &[&str] = &[
    "client",
    "key_tool",
    "key",
    "passphrase",
    "holder",
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

fn position(text: &str, offset: usize) -> (usize, usize) {
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

/// The nearest known name to `name`, if it is close enough to be a typo.
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_lowercase();
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(&name, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Pass {
    Bool(bool),
    Word(String),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawPair {
    client: Spanned<String>,
    key_tool: Spanned<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawAxes {
    keys: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    passphrase: Option<Spanned<Vec<Spanned<Pass>>>>,
    #[serde(default)]
    clients: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    key_tools: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pairs: Option<Spanned<Vec<RawPair>>>,
    #[serde(default)]
    holders: Option<Spanned<Vec<Spanned<String>>>>,
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
    pub server: Option<crate::hostile::Hostile>,
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

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    id: Spanned<String>,
    #[serde(default)]
    label: Vec<String>,
    policy: Spanned<String>,
    users: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    host_keys: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    sshd: Vec<Spanned<String>>,
    #[serde(default)]
    scenario: Option<Spanned<Scenario>>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    image: Option<Spanned<String>>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    host_key: Option<String>,
    #[serde(default)]
    known_hosts: Option<String>,
    #[serde(default)]
    auth_budget: Option<u32>,
    #[serde(default)]
    budget_window_secs: Option<u64>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<String>,
    #[serde(default)]
    deploy: Option<RawDeploy>,
    #[serde(default)]
    via: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    user: String,
    key: String,
    #[serde(default)]
    file: Option<String>,
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

/// The SHA256 fingerprints of `host`'s keys in a known_hosts file (plain, not hashed, entries:
/// `host` for port 22, `[host]:port` otherwise), comma-separated.
pub fn known_hosts_pin(path: &Path, host: &str, port: u16) -> Result<String, String> {
    let text = crate::bounded::read_to_string(path, crate::bounded::MAX_CONFIG)
        .map_err(|e| format!("known_hosts {}: {e}", path.display()))?;
    let want = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut pins = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut parts = line.split_whitespace();
        let (Some(hosts), Some(kind), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if hosts.split(',').any(|h| h == want) {
            let key = russh::keys::ssh_key::PublicKey::from_openssh(&format!("{kind} {b64}"))
                .map_err(|e| format!("known_hosts {}: bad key for {want}: {e}", path.display()))?;
            pins.push(
                key.fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
                    .to_string(),
            );
        }
    }
    if !pins.is_empty() {
        return Ok(pins.join(","));
    }
    Err(format!(
        "known_hosts {} has no plain entry for {want} (hashed entries cannot be matched)",
        path.display()
    ))
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

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    rows: Spanned<Vec<Spanned<String>>>,
    columns: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawRun {
    #[serde(default)]
    jobs: Option<usize>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    max_cells: Option<usize>,
    #[serde(default)]
    server_log_level: Option<Spanned<String>>,
    /// A request: the matrix's sshd lines use directives that read files or run commands
    /// (granted only by the user's `--trust-sshd-lines`).
    #[serde(default)]
    trust_sshd_lines: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    source: Option<String>,
    axes: RawAxes,
    targets: Spanned<Vec<RawTarget>>,
    #[serde(default)]
    layout: Option<RawLayout>,
    #[serde(default)]
    run: Option<RawRun>,
    #[serde(default)]
    expect: Option<Spanned<RawExpect>>,
}

/// A matrix's `expect`: a CSV file name, or inline rules (each with its place in the file).
#[derive(Debug)]
enum RawExpect {
    File(String),
    Rules(Vec<crate::expect::RawRule>),
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawExpect;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("expect: a CSV file name or a list of rules, e.g. expect = \"expected/x.csv\" or expect = [{ target = \"t\", verdict = \"ok\" }]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawExpect, E> {
                Ok(RawExpect::File(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawExpect, A::Error> {
                let mut rules = Vec::new();
                while let Some(r) = seq.next_element::<crate::expect::RawRule>()? {
                    rules.push(r);
                }
                Ok(RawExpect::Rules(rules))
            }
        }
        d.deserialize_any(V)
    }
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
    /// Set for `kind = "remote"`: the real host to log in to (the policy is then what the
    /// host is expected to run, for prediction).
    pub remote: Option<Remote>,
    /// Set for `kind = "container"`: the image whose sshd serves the target, with the matrix
    /// users as real accounts.
    pub image: Option<sshmatrix_servers::container::ImageRecipe>,
    /// The jump host the client reaches this target through.
    pub via: Option<TargetId>,
}

/// Where a target's server end is: the one place that says how a cell reaches it.
#[derive(Debug, Clone, Copy)]
pub enum Backend<'a> {
    /// A server of this host (`sshd -i` per cell; AsyncSSH's program).
    Local,
    /// A server inside a container of a release image.
    Container(&'a sshmatrix_servers::container::ImageRecipe),
    /// A real host over the network.
    Remote(&'a Remote),
    /// An in-process stub that misbehaves.
    Hostile(crate::hostile::Hostile),
    /// A port nothing listens on.
    Unreachable,
}

impl Target {
    /// Where this target's server end is.
    pub fn backend(&self) -> Backend<'_> {
        if let Some(r) = &self.remote {
            return Backend::Remote(r);
        }
        if !self.scenario.reachable {
            return Backend::Unreachable;
        }
        if let Some(kind) = self.scenario.server {
            return Backend::Hostile(kind);
        }
        match &self.image {
            Some(image) => Backend::Container(image),
            None => Backend::Local,
        }
    }
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
    /// Its target.
    pub target: TargetId,
    /// Login name.
    pub user: String,
    /// Row label path.
    pub row: Vec<String>,
    /// Column label path.
    pub column: Vec<String>,
    /// Digest of everything that decides the cell's verdict (see [`crate::digest`]); a stored
    /// result is reused only for a cell with the same identity and digest.
    pub digest: crate::digest::Digest,
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

impl Plan {
    /// A plan of just `cells` (re-indexed from 0) over `targets` (this plan's, possibly
    /// changed): only the targets the cells use and their jump hosts are kept, renumbered, with
    /// every `via` pointing at its jump host's new position. No expectations.
    pub fn subset(&self, targets: Vec<Target>, mut cells: Vec<Cell>) -> Plan {
        let mut keep: Vec<TargetId> = Vec::new();
        for c in &cells {
            for t in [Some(c.target), targets[c.target].via]
                .into_iter()
                .flatten()
            {
                if !keep.contains(&t) {
                    keep.push(t);
                }
            }
        }
        keep.sort_unstable();
        let new_index = |old: TargetId| keep.iter().position(|k| *k == old).map(TargetId);
        let kept: Vec<Target> = keep
            .iter()
            .map(|&i| {
                let mut t = targets[i].clone();
                t.via = t.via.and_then(new_index);
                t
            })
            .collect();
        for (i, c) in cells.iter_mut().enumerate() {
            c.index = i;
            c.target = new_index(c.target).expect("kept target");
        }
        let mut p = Plan {
            file: self.file.clone(),
            title: self.title.clone(),
            source: self.source.clone(),
            targets: kept,
            cells,
            row_axes: self.row_axes.clone(),
            column_axes: self.column_axes.clone(),
            run: self.run.clone(),
            expect: None,
            client_images: self.client_images.clone(),
            trusted_sshd_lines: self.trusted_sshd_lines,
        };
        crate::digest::stamp(&mut p);
        p
    }
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

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> InputError {
        InputError {
            file: self.file.to_string(),
            position: Some(position(self.text, span.start)),
            message: message.into(),
            hint,
        }
    }

    fn unknown<'k>(
        &self,
        what: &str,
        name: &Spanned<String>,
        known: impl IntoIterator<Item = &'k str> + Clone,
        list_cmd: &str,
    ) -> InputError {
        let all: Vec<&str> = known.clone().into_iter().collect();
        let listing = if all.len() <= 12 {
            format!("one of: {}", all.join(", "))
        } else {
            format!("see {list_cmd}")
        };
        let hint = match nearest(name.get_ref(), known) {
            Some(n) => format!("did you mean `{n}`? ({listing})"),
            None => listing,
        };
        self.err(
            name.span(),
            format!("unknown {what} `{}`", name.get_ref()),
            Some(hint),
        )
    }
}

/// Reads and plans a matrix file.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Plan, InputError> {
    let file = path.display().to_string();
    let io_err = |message: String, hint: &str| InputError {
        file: file.clone(),
        position: None,
        message,
        hint: Some(hint.to_string()),
    };
    if path.is_dir() {
        return Err(io_err(
            "is a directory, not a matrix file".into(),
            "give the path of a .toml matrix file, e.g. matrices/nutanix-cluster-lockdown.toml",
        ));
    }
    // `-` reads the matrix from standard input (relative paths then resolve against the
    // current directory).
    let stdin = path == Path::new("-");
    let bytes = crate::bounded::read(path, crate::bounded::MAX_CONFIG).map_err(|e| {
        io_err(
            e.to_string(),
            "check the path; matrix files live in matrices/",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (l, c) = position(
            &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
            usize::MAX,
        );
        InputError {
            file: file.clone(),
            position: Some((l, c)),
            message: "not valid UTF-8".into(),
            hint: Some("save the matrix file as UTF-8".into()),
        }
    })?;
    let dir = match stdin {
        true => Some(Path::new(".")),
        false => path.parent(),
    };
    plan(&file, &text, dir, catalog)
}

/// Plans a matrix from its text (`dir` resolves relative paths such as `expect`): each part of
/// the raw file is converted on its own (axes, targets, jump hosts, layout, limits, expansion,
/// expectations), then the plan is checked as a whole ([`crate::validate`]) and stamped with
/// cell digests.
pub fn plan(
    file: &str,
    text: &str,
    dir: Option<&Path>,
    catalog: &Catalog,
) -> Result<Plan, InputError> {
    let ctx = Ctx { file, text };
    let raw: RawMatrix = toml::from_str(text).map_err(|e| InputError {
        file: file.to_string(),
        position: e.span().map(|s| position(text, s.start)),
        message: e.message().trim().to_string(),
        hint: Some("see the matrix format in README.md (\"Matrix files\")".into()),
    })?;
    let keys = keys(&ctx, &raw.axes)?;
    let passphrases = passphrases(&ctx, &raw.axes)?;
    let holders = holders(&ctx, &raw.axes)?;
    let pairs = pairs(&ctx, &raw.axes, catalog)?;
    let mut targets = targets(&ctx, &raw, catalog, dir)?;
    jump_hosts(&ctx, &raw, &mut targets)?;
    let (rows, columns) = layout(&ctx, &raw)?;
    let log_level = limits(
        &ctx,
        &raw,
        pairs.len(),
        keys.len(),
        passphrases.len(),
        holders.len(),
        &targets,
    )?;
    let cells = expand(
        pairs,
        &keys,
        &passphrases,
        &holders,
        &targets,
        &rows,
        &columns,
    );
    let expect = expectation(&ctx, &raw, dir)?;
    let run = raw.run.as_ref();
    let axis_title = |a: &str| axis_title(a, &targets);
    let mut plan = Plan {
        file: file.to_string(),
        title: raw.title.clone().unwrap_or_else(|| file.to_string()),
        source: raw.source.clone(),
        row_axes: rows.iter().flat_map(|a| axis_title(a)).collect(),
        column_axes: columns.iter().flat_map(|a| axis_title(a)).collect(),
        client_images: {
            let mut names: Vec<&str> = cells
                .iter()
                .filter_map(|c| c.client.image.as_deref())
                .collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .filter_map(|n| sshmatrix_servers::container::recipe(n).ok())
                .collect()
        },
        targets,
        cells,
        run: RunSettings {
            jobs: run.and_then(|r| r.jobs),
            timeout_secs: run.and_then(|r| r.timeout_secs),
            server_log_level: log_level,
        },
        expect,
        trusted_sshd_lines: catalog.grants.trust_sshd_lines,
    };
    crate::validate::run_settings(
        file,
        text,
        plan.run.jobs,
        plan.run.timeout_secs,
        crate::MAX_JOBS,
    )?;
    crate::validate::check(file, text, &plan)?;
    crate::digest::stamp(&mut plan);
    Ok(plan)
}

/// How to write a key the matrix misspelled: the spelling it most likely meant (`rsa4096`,
/// `RSA_4096` → `rsa-4096`), else the pattern.
fn key_hint(written: &str) -> String {
    let lower = written.to_lowercase().replace(['_', ' '], "-");
    let split = lower.find(|c: char| c.is_ascii_digit());
    let meant = match split {
        Some(i) if !lower[..i].ends_with('-') => format!("{}-{}", &lower[..i], &lower[i..]),
        _ => lower,
    };
    match meant.parse::<KeySpec>() {
        Ok(_) if meant != written => format!("did you mean `{meant}`?"),
        _ => "key names look like rsa-2048, ecdsa-256, ed25519, dsa-1024".into(),
    }
}

fn keys(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<KeySpec>, InputError> {
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for k in axes.keys.get_ref() {
        let spec: KeySpec =
            k.get_ref()
                .parse()
                .map_err(|e: sshmatrix_clients::keyspec::KeySpecError| {
                    ctx.err(k.span(), e.to_string(), Some(key_hint(k.get_ref())))
                })?;
        if !seen.insert(spec.to_string()) {
            return Err(ctx.err(
                k.span(),
                format!("key `{spec}` is listed twice"),
                Some("remove the duplicate".into()),
            ));
        }
        keys.push(spec);
    }
    if keys.is_empty() {
        return Err(ctx.err(
            axes.keys.span(),
            "the keys axis is empty",
            Some("list at least one key, e.g. keys = [\"rsa-2048\"]".into()),
        ));
    }

    Ok(keys)
}

fn passphrases(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<bool>, InputError> {
    let mut passphrases = Vec::new();
    match &axes.passphrase {
        None => passphrases.push(false),
        Some(list) => {
            for p in list.get_ref() {
                let v = match p.get_ref() {
                    Pass::Bool(b) => *b,
                    Pass::Word(w) if w == "yes" => true,
                    Pass::Word(w) if w == "no" => false,
                    Pass::Word(w) => {
                        return Err(ctx.err(
                            p.span(),
                            format!("passphrase value `{w}` is not yes/no"),
                            Some("write \"yes\", \"no\", true or false".into()),
                        ))
                    }
                };
                if passphrases.contains(&v) {
                    return Err(ctx.err(
                        p.span(),
                        "passphrase value listed twice",
                        Some("remove the duplicate".into()),
                    ));
                }
                passphrases.push(v);
            }
            if passphrases.is_empty() {
                return Err(ctx.err(
                    list.span(),
                    "the passphrase axis is empty",
                    Some("write [\"yes\", \"no\"] or leave it out".into()),
                ));
            }
        }
    }

    Ok(passphrases)
}

fn holders(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<Holder>, InputError> {
    let mut holders = Vec::new();
    match &axes.holders {
        None => holders.push(Holder::File),
        Some(list) => {
            for h in list.get_ref() {
                let Some(v) = Holder::parse(h.get_ref()) else {
                    return Err(ctx.unknown(
                        "holder",
                        h,
                        Holder::NAMES.iter().copied(),
                        "README, Matrix files",
                    ));
                };
                if holders.contains(&v) {
                    return Err(ctx.err(
                        h.span(),
                        "holder listed twice",
                        Some("remove the duplicate".into()),
                    ));
                }
                holders.push(v);
            }
            if holders.is_empty() {
                return Err(ctx.err(
                    list.span(),
                    "the holders axis is empty",
                    Some("write [\"file\", \"agent\"] or leave it out".into()),
                ));
            }
        }
    }

    Ok(holders)
}

/// What a matrix field names: a client profile or a server policy.
#[derive(Clone, Copy)]
enum Kind {
    Client,
    Policy,
}

/// A hint for a name of the other kind (a client profile given as a policy, or a policy as a
/// client): what it is, and for a release's client the policy of that release's defaults.
fn other_kind(catalog: &Catalog, wanted: Kind, name: &str) -> Option<String> {
    let is = |id: &String| id.eq_ignore_ascii_case(name);
    match wanted {
        Kind::Policy if catalog.profiles.iter().any(|p| is(&p.id)) => {
            let version = name.rsplit('-').next().unwrap_or(name);
            let same = catalog
                .policies
                .iter()
                .find(|p| p.id.strip_prefix("upstream-") == Some(version));
            Some(match same {
                Some(p) => format!(
                    "`{name}` is a client profile; the server policy of that release's defaults is `{}` (see `sshmatrix policies`)",
                    p.id
                ),
                None => format!("`{name}` is a client profile, not a server policy (see `sshmatrix policies`)"),
            })
        }
        Kind::Client if catalog.policies.iter().any(|p| is(&p.id)) => Some(format!(
            "`{name}` is a server policy (a target's `policy`), not a client profile (see `sshmatrix profiles`)"
        )),
        _ => None,
    }
}

/// The client profile a matrix names (its image must exist).
fn find_client(ctx: &Ctx, catalog: &Catalog, n: &Spanned<String>) -> Result<Profile, InputError> {
    let ids = || catalog.profiles.iter().map(|p| p.id.as_str());
    let p = catalog
        .profiles
        .iter()
        .find(|p| &p.id == n.get_ref())
        .cloned()
        .ok_or_else(|| {
            let e = ctx.unknown("client profile", n, ids(), "`sshmatrix profiles`");
            e.with_hint(other_kind(catalog, Kind::Client, n.get_ref()))
        })?;
    match p.image.as_deref().map(sshmatrix_servers::container::recipe) {
        Some(Err(e)) => Err(ctx.err(
            n.span(),
            format!("client profile `{}`: {e}", p.id),
            Some("fix the profile's `image`".into()),
        )),
        _ => Ok(p),
    }
}

/// The key tool a matrix names.
fn find_tool(ctx: &Ctx, catalog: &Catalog, n: &Spanned<String>) -> Result<KeyTool, InputError> {
    let ids = || catalog.key_tools.iter().map(|t| t.id.as_str());
    catalog
        .key_tools
        .iter()
        .find(|t| &t.id == n.get_ref())
        .cloned()
        .ok_or_else(|| ctx.unknown("key tool", n, ids(), "`sshmatrix profiles`"))
}

/// Every name error of a matrix text at once — keys that do not parse, unknown clients, key
/// tools and policies — in file order, at most `limit` (for `check`; the planner stops at the
/// first error of any kind). Empty when the text does not parse as a matrix at all.
pub fn name_errors(file: &str, text: &str, catalog: &Catalog, limit: usize) -> Vec<InputError> {
    let ctx = Ctx { file, text };
    let Ok(raw) = toml::from_str::<RawMatrix>(text) else {
        return Vec::new();
    };
    let mut errs: Vec<InputError> = Vec::new();
    for k in raw.axes.keys.get_ref() {
        if let Err(e) = k.get_ref().parse::<KeySpec>() {
            errs.push(ctx.err(k.span(), e.to_string(), Some(key_hint(k.get_ref()))));
        }
    }
    let mut clients: Vec<&Spanned<String>> = Vec::new();
    let mut tools: Vec<&Spanned<String>> = Vec::new();
    if let Some(p) = &raw.axes.pairs {
        for pair in p.get_ref() {
            clients.push(&pair.client);
            tools.push(&pair.key_tool);
        }
    }
    clients.extend(raw.axes.clients.iter().flat_map(|c| c.get_ref()));
    tools.extend(raw.axes.key_tools.iter().flat_map(|t| t.get_ref()));
    errs.extend(
        clients
            .into_iter()
            .filter_map(|c| find_client(&ctx, catalog, c).err()),
    );
    errs.extend(
        tools
            .into_iter()
            .filter_map(|t| find_tool(&ctx, catalog, t).err()),
    );
    for t in raw.targets.get_ref() {
        if !catalog.policies.iter().any(|p| &p.id == t.policy.get_ref()) {
            let ids = catalog.policies.iter().map(|p| p.id.as_str());
            let e = ctx.unknown("policy", &t.policy, ids, "`sshmatrix policies`");
            errs.push(e.with_hint(other_kind(catalog, Kind::Policy, t.policy.get_ref())));
        }
    }
    errs.sort_by_key(|e| e.position);
    errs.dedup_by(|a, b| a.position == b.position);
    errs.truncate(limit);
    errs
}

fn pairs(
    ctx: &Ctx,
    axes: &RawAxes,
    catalog: &Catalog,
) -> Result<Vec<(Profile, KeyTool)>, InputError> {
    let find_client = |n: &Spanned<String>| find_client(ctx, catalog, n);
    let find_tool = |n: &Spanned<String>| find_tool(ctx, catalog, n);
    let mut pairs: Vec<(Profile, KeyTool)> = Vec::new();
    let mut taken = std::collections::HashSet::new();
    match (&axes.pairs, &axes.clients, &axes.key_tools) {
        (Some(p), None, None) => {
            for pair in p.get_ref() {
                let c = find_client(&pair.client)?;
                let t = find_tool(&pair.key_tool)?;
                if !taken.insert((c.id.clone(), t.id.clone())) {
                    return Err(ctx.err(pair.client.span(), format!("pair {} / {} is listed twice", c.id, t.id), Some("remove the duplicate".into())));
                }
                pairs.push((c, t));
            }
            if pairs.is_empty() {
                return Err(ctx.err(p.span(), "the pairs axis is empty", Some("list at least one { client = ..., key_tool = ... }".into())));
            }
        }
        (None, Some(cs), Some(ts)) => {
            for (list, what) in [(cs, "clients"), (ts, "key_tools")] {
                if list.get_ref().is_empty() {
                    return Err(ctx.err(list.span(), format!("the {what} axis is empty"), Some(format!("list at least one entry in {what}"))));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for c in cs.get_ref() {
                let c2 = find_client(c)?;
                if !seen.insert(c2.id.clone()) {
                    return Err(ctx.err(c.span(), format!("client `{}` is listed twice", c2.id), Some("remove the duplicate".into())));
                }
                for t in ts.get_ref() {
                    let t2 = find_tool(t)?;
                    if !taken.insert((c2.id.clone(), t2.id.clone())) {
                        return Err(ctx.err(t.span(), format!("key tool `{}` is listed twice", t2.id), Some("remove the duplicate".into())));
                    }
                    pairs.push((c2.clone(), t2));
                }
            }
        }
        (Some(p), _, _) => {
            return Err(ctx.err(p.span(), "give either `pairs` or `clients` with `key_tools`, not both", Some("pairs fixes client/key-tool combinations; clients × key_tools is the full cross product".into())))
        }
        _ => {
            return Err(InputError {
                file: ctx.file.to_string(),
                position: Some(position(ctx.text, axes.keys.span().start)),
                message: "the [axes] table needs `pairs`, or both `clients` and `key_tools`".into(),
                hint: Some("e.g. clients = [\"putty-0.83\"] and key_tools = [\"puttygen-0.83\"]".into()),
            })
        }
    }

    Ok(pairs)
}

fn targets(
    ctx: &Ctx,
    raw: &RawMatrix,
    catalog: &Catalog,
    dir: Option<&Path>,
) -> Result<Vec<Target>, InputError> {
    let policy_ids = || catalog.policies.iter().map(|p| p.id.as_str());
    let mut targets: Vec<Target> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for t in raw.targets.get_ref() {
        let id = t.id.get_ref().clone();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ctx.err(
                t.id.span(),
                format!("target id `{id}` must be letters, digits, '-', '_' or '.'"),
                Some("e.g. id = \"aos-7.0-cvm\"".into()),
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(ctx.err(
                t.id.span(),
                format!("target id `{id}` is used twice"),
                Some("give every target its own id".into()),
            ));
        }
        let policy = catalog
            .policies
            .iter()
            .find(|p| &p.id == t.policy.get_ref())
            .cloned()
            .ok_or_else(|| {
                let e = ctx.unknown("policy", &t.policy, policy_ids(), "`sshmatrix policies`");
                e.with_hint(other_kind(catalog, Kind::Policy, t.policy.get_ref()))
            })?;
        let users = users(ctx, t, &id)?;
        let host_keys = host_keys(ctx, t, &policy)?;
        let scenario = t
            .scenario
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        if let (Some(mode), Some(sp)) = (&scenario.authorized_keys_mode, &t.scenario) {
            if u32::from_str_radix(mode, 8).map_or(true, |m| m > 0o777) {
                return Err(ctx.err(
                    sp.span(),
                    format!("authorized_keys_mode `{mode}` is not an octal file mode"),
                    Some("e.g. authorized_keys_mode = \"0666\"".into()),
                ));
            }
        }
        let image = image(ctx, t, &id)?;
        let remote = remote(ctx, t, &id, dir, &catalog.grants)?;
        let trust = Trust {
            asked: raw.run.as_ref().is_some_and(|r| r.trust_sshd_lines),
            granted: catalog.grants.trust_sshd_lines,
        };
        sshd_lines(ctx, &id, &t.sshd, trust)?;
        targets.push(Target {
            remote,
            image,
            via: None,
            scenario,
            label: if t.label.is_empty() {
                vec![id.clone()]
            } else {
                t.label.clone()
            },
            id,
            policy,
            users,
            host_keys,
            sshd: t.sshd.iter().map(|l| l.get_ref().clone()).collect(),
        });
    }
    Ok(targets)
}

/// Whether a matrix's sshd lines may read files or run commands.
#[derive(Debug, Clone, Copy, Default)]
struct Trust {
    /// The matrix sets `[run] trust_sshd_lines = true` (a request, not a grant).
    asked: bool,
    /// The user passed `--trust-sshd-lines`.
    granted: bool,
}

/// Every sshd line is one printable directive, its keyword read as sshd reads it
/// ([`sshmatrix_servers::directive`]); one that reads files or runs commands needs the user's
/// `--trust-sshd-lines`.
fn sshd_lines(
    ctx: &Ctx,
    target: &str,
    lines: &[Spanned<String>],
    trust: Trust,
) -> Result<(), InputError> {
    use sshmatrix_servers::directive;
    for l in lines {
        let shown = l.get_ref().escape_debug().to_string();
        let d = directive::check_line(l.get_ref()).map_err(|e| {
            ctx.err(
                l.span(),
                format!("target `{target}`: sshd line \"{shown}\" {e}"),
                Some("write one directive per string: sshd = [\"Ciphers aes128-ctr\", \"MACs hmac-sha2-256\"]".into()),
            )
        })?;
        let Some(d) = d.filter(directive::is_unsafe) else {
            continue;
        };
        if trust.granted {
            continue;
        }
        let hint = match trust.asked {
            true => "this matrix sets trust_sshd_lines, but only you can grant it: read its sshd lines, then pass --trust-sshd-lines",
            false => "drop the line, or pass --trust-sshd-lines if you trust this matrix file (README, Security)",
        };
        return Err(ctx.err(
            l.span(),
            format!(
                "target `{target}`: sshd line `{}` reads files or runs commands as the user running sshmatrix; refused",
                d.keyword
            ),
            Some(hint.into()),
        ));
    }
    Ok(())
}

/// The users of a target: safe names, none twice, at least one.
fn users(ctx: &Ctx, t: &RawTarget, id: &str) -> Result<Vec<String>, InputError> {
    let mut users: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for u in t.users.get_ref() {
        let name = u.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ctx.err(
                u.span(),
                format!("user name `{name}` must be letters, digits, '.', '_' or '-'"),
                Some("e.g. users = [\"nutanix\", \"admin\"]".into()),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(ctx.err(
                u.span(),
                format!("user `{name}` is listed twice"),
                Some("remove the duplicate".into()),
            ));
        }
        users.push(name.clone());
    }
    if users.is_empty() {
        return Err(ctx.err(
            t.users.span(),
            format!("target `{id}` has no users"),
            Some("e.g. users = [\"nutanix\"]".into()),
        ));
    }
    Ok(users)
}

/// The host key types of a target (the policy's unless given).
fn host_keys(ctx: &Ctx, t: &RawTarget, policy: &Policy) -> Result<Vec<String>, InputError> {
    let host_keys = match &t.host_keys {
        None => policy.host_keys.clone(),
        Some(list) => {
            let mut out = Vec::new();
            for h in list.get_ref() {
                if !sshmatrix_servers::policy::HOST_KEY_TYPES.contains(&h.get_ref().as_str()) {
                    return Err(ctx.unknown(
                        "host key type",
                        h,
                        sshmatrix_servers::policy::HOST_KEY_TYPES.iter().copied(),
                        "README: ed25519, ecdsa, rsa",
                    ));
                }
                out.push(h.get_ref().clone());
            }
            if out.is_empty() {
                return Err(ctx.err(
                    list.span(),
                    "a target needs at least one host key",
                    Some("e.g. host_keys = [\"ed25519\", \"ecdsa\"]".into()),
                ));
            }
            out
        }
    };
    Ok(host_keys)
}

/// The image of a container target (`kind = "container"`).
fn image(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
) -> Result<Option<sshmatrix_servers::container::ImageRecipe>, InputError> {
    let image = match (&t.kind, &t.image) {
        (Some(k), Some(img)) if k.get_ref() == "container" => {
            match sshmatrix_servers::container::recipe(img.get_ref()) {
                Ok(r) => Some(r),
                Err(e) => {
                    let known: Vec<&str> = sshmatrix_servers::container::recipes()
                        .iter()
                        .map(|r| r.name)
                        .collect();
                    let hint = nearest(img.get_ref(), known.iter().copied())
                        .map(|n| format!("did you mean `{n}`?"))
                        .unwrap_or_else(|| format!("known images: {}", known.join(", ")));
                    return Err(ctx.err(img.span(), e.to_string(), Some(hint)));
                }
            }
        }
        (Some(k), None) if k.get_ref() == "container" => {
            return Err(ctx.err(
                k.span(),
                format!("container target `{id}` needs an image"),
                Some("image = \"bookworm\" (see `sshmatrix images list`)".into()),
            ))
        }
        (_, Some(img)) => {
            return Err(ctx.err(
                img.span(),
                format!("`image` needs kind = \"container\" (target `{id}`)"),
                Some("add kind = \"container\"".into()),
            ))
        }
        _ => None,
    };
    Ok(image)
}

/// The password of a remote target: the user's grant; a matrix that asks for one without it is
/// refused with the flag that grants it (a matrix names the host, so it must not choose what
/// is sent there).
fn remote_password(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
    grants: &crate::grants::Grants,
    span: Range<usize>,
) -> Result<Option<crate::grants::Secret>, InputError> {
    use crate::grants::Secret;
    if let Some(granted) = grants.password(id) {
        return Ok(Some(granted.clone()));
    }
    let asked = match (&t.password_env, &t.password_file) {
        (Some(v), _) => Secret::Env(v.clone()),
        (None, Some(f)) => Secret::File(f.into()),
        (None, None) => return Ok(None),
    };
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}` asks for a password ({}); sshmatrix sends credentials only where you say",
            asked.describe()
        ),
        Some(format!(
            "pass --password {id}={} to send it to this target",
            asked.describe()
        )),
    ))
}

/// The admin key of a remote target's `deploy`: inside the matrix's folder, or granted by the
/// user (`--deploy-key TARGET=PATH`).
fn deploy_key(
    ctx: &Ctx,
    id: &str,
    key: &str,
    dir: Option<&Path>,
    grants: &crate::grants::Grants,
    span: Range<usize>,
) -> Result<std::path::PathBuf, InputError> {
    if let Some(granted) = grants.deploy_key(id) {
        return Ok(granted.to_path_buf());
    }
    let path = dir.unwrap_or(Path::new(".")).join(key);
    if dir.is_some_and(|d| crate::grants::inside(d, &path)) {
        return Ok(path);
    }
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}`: deploy key {} lies outside the matrix's folder; sshmatrix logs in with it only when you say",
            path.display()
        ),
        Some(format!("pass --deploy-key {id}={}", path.display())),
    ))
}

/// The admin account of a `deploy`: a login name (letters, digits, `.`, `_`, `-`).
fn deploy_user(ctx: &Ctx, id: &str, user: &str, span: Range<usize>) -> Result<String, InputError> {
    let ok = !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    match ok {
        true => Ok(user.to_string()),
        false => Err(ctx.err(
            span,
            format!(
                "remote target `{id}`: deploy user `{}` is not a login name",
                user.escape_debug()
            ),
            Some("deploy = { user = \"root\", key = \"admin_ed25519\" }".into()),
        )),
    }
}

/// Where a `deploy` writes the keys: an absolute path or one under `%h`, in plain path
/// characters and `%h` / `%u` (sshd's tokens); never anything a shell would interpret.
fn deploy_file(
    ctx: &Ctx,
    id: &str,
    file: Option<&str>,
    span: Range<usize>,
) -> Result<String, InputError> {
    let file = file.unwrap_or("%h/.ssh/authorized_keys");
    let chars_ok = file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-%".contains(c));
    let tokens_ok = file
        .match_indices('%')
        .all(|(i, _)| matches!(file.as_bytes().get(i + 1), Some(b'h' | b'u')));
    let rooted = file.starts_with('/') || file.starts_with("%h/");
    if chars_ok && tokens_ok && rooted && !file.split('/').any(|p| p == "..") {
        return Ok(file.to_string());
    }
    Err(ctx.err(
        span,
        format!(
            "remote target `{id}`: deploy file `{}` must be an absolute path or start with %h/, in letters, digits, / . _ - and the tokens %h and %u",
            file.escape_debug()
        ),
        Some("file = \"%h/.ssh/authorized_keys\" (the default)".into()),
    ))
}

/// The host of a remote target (`kind = "remote"`), its pinned host key and budget.
fn remote(
    ctx: &Ctx,
    t: &RawTarget,
    id: &str,
    dir: Option<&Path>,
    grants: &crate::grants::Grants,
) -> Result<Option<Remote>, InputError> {
    let remote = match t.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("local", _)) | Some(("container", _)) => None,
        Some(("remote", span)) => {
            let Some(host) = &t.host else {
                return Err(ctx.err(
                    span,
                    format!("remote target `{id}` needs a host"),
                    Some("host = \"10.0.0.5\"".into()),
                ));
            };
            let port = t.port.unwrap_or(22);
            let pin = match (&t.host_key, &t.known_hosts) {
                (Some(p), None) => p.clone(),
                (None, Some(kh)) => {
                    let path = dir.unwrap_or(Path::new(".")).join(kh);
                    known_hosts_pin(&path, host, port).map_err(|m| ctx.err(span.clone(), format!("remote target `{id}`: {m}"), Some("pin with host_key = \"SHA256:…\" (ssh-keyscan HOST | ssh-keygen -lf -) or a plain known_hosts entry".into())))?
                }
                _ => {
                    return Err(ctx.err(span, format!("remote target `{id}` needs exactly one of host_key and known_hosts"), Some("host_key is the pinned SHA256 fingerprint: ssh-keyscan HOST | ssh-keygen -lf -".into())))
                }
            };
            let pin = &pin;
            if !pin.split(',').all(|p| p.starts_with("SHA256:")) {
                return Err(ctx.err(
                    span,
                    format!("host_key of `{id}` must be a SHA256:… fingerprint (several: comma-separated, one per host key type)"),
                    Some("ssh-keyscan HOST | ssh-keygen -lf - prints them".into()),
                ));
            }
            let deploy = match &t.deploy {
                None => None,
                Some(d) => Some(Deploy {
                    user: deploy_user(ctx, id, &d.user, span.clone())?,
                    key: deploy_key(ctx, id, &d.key, dir, grants, span.clone())?,
                    file: deploy_file(ctx, id, d.file.as_deref(), span.clone())?,
                }),
            };
            Some(Remote {
                host: host.clone(),
                port,
                host_key: pin.clone(),
                auth_budget: t.auth_budget.unwrap_or(2),
                budget_window_secs: t.budget_window_secs.unwrap_or(900),
                password: remote_password(ctx, t, id, grants, span)?,
                deploy,
            })
        }
        Some((other, span)) => {
            return Err(ctx.err(
                span,
                format!("unknown target kind `{other}`"),
                Some("kind = \"local\" (default), \"container\" or \"remote\"".into()),
            ))
        }
    };
    Ok(remote)
}

fn jump_hosts(ctx: &Ctx, raw: &RawMatrix, targets: &mut [Target]) -> Result<(), InputError> {
    for (ti, t) in raw.targets.get_ref().iter().enumerate() {
        let Some(via) = &t.via else { continue };
        let Some(vi) = targets.iter().position(|x| &x.id == via.get_ref()) else {
            return Err(ctx.unknown(
                "jump host (via)",
                via,
                targets.iter().map(|x| x.id.as_str()),
                "the [[targets]] ids of this file",
            ));
        };
        let problem = if vi == ti {
            Some("a target cannot be its own jump host")
        } else if raw.targets.get_ref()[vi].via.is_some() {
            Some("the jump host is itself reached through a jump host (one hop only)")
        } else if targets[vi].remote.is_some() || targets[ti].remote.is_some() {
            Some("jump hosts work with local and container targets, not remote ones")
        } else if targets[vi].scenario != Scenario::default()
            || targets[ti].scenario != Scenario::default()
        {
            Some("jump-host targets take no troubleshooting scenario")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(ctx.err(
                via.span(),
                p.to_string(),
                Some("name a plain target with no `via` of its own".into()),
            ));
        }
        targets[ti].via = Some(TargetId(vi));
    }
    if targets.is_empty() {
        return Err(ctx.err(
            raw.targets.span(),
            "no targets",
            Some("add a [[targets]] table with id, policy and users".into()),
        ));
    }

    Ok(())
}

fn layout(ctx: &Ctx, raw: &RawMatrix) -> Result<(Vec<String>, Vec<String>), InputError> {
    let (rows, columns) = match &raw.layout {
        None => {
            let mut rows = vec![
                "client".to_string(),
                "key_tool".into(),
                "key".into(),
                "passphrase".into(),
            ];
            if raw.axes.holders.is_some() {
                rows.push("holder".into());
            }
            (rows, vec!["target".to_string(), "user".into()])
        }
        Some(l) => {
            let mut seen: Vec<String> = Vec::new();
            let mut take =
                |list: &Spanned<Vec<Spanned<String>>>| -> Result<Vec<String>, InputError> {
                    let mut out = Vec::new();
                    for a in list.get_ref() {
                        if !AXES.contains(&a.get_ref().as_str()) {
                            return Err(ctx.unknown(
                                "layout axis",
                                a,
                                AXES.iter().copied(),
                                "README, Matrix files",
                            ));
                        }
                        if seen.contains(a.get_ref()) {
                            return Err(ctx.err(
                                a.span(),
                                format!("axis `{}` appears twice in the layout", a.get_ref()),
                                Some("each axis goes in rows or columns once".into()),
                            ));
                        }
                        seen.push(a.get_ref().clone());
                        out.push(a.get_ref().clone());
                    }
                    Ok(out)
                };
            let rows = take(&l.rows)?;
            let columns = take(&l.columns)?;
            let declared = |a: &&&str| **a != "holder" || raw.axes.holders.is_some();
            if let Some(missing) = AXES
                .iter()
                .filter(declared)
                .find(|a| !seen.iter().any(|s| s == *a))
            {
                return Err(ctx.err(
                    l.rows.span(),
                    format!("layout does not place axis `{missing}`"),
                    Some(format!("add \"{missing}\" to rows or columns")),
                ));
            }
            (rows, columns)
        }
    };

    Ok((rows, columns))
}

/// Refuses a cross product beyond `[run] max_cells`; returns the server log level.
#[allow(clippy::too_many_arguments)]
fn limits(
    ctx: &Ctx,
    raw: &RawMatrix,
    pairs: usize,
    keys: usize,
    passphrases: usize,
    holders: usize,
    targets: &[Target],
) -> Result<Option<String>, InputError> {
    let run = raw.run.as_ref();
    let max_cells = run.and_then(|r| r.max_cells).unwrap_or(DEFAULT_MAX_CELLS);
    let total: usize =
        pairs * keys * passphrases * holders * targets.iter().map(|t| t.users.len()).sum::<usize>();
    if total > max_cells {
        return Err(InputError {
            file: ctx.file.to_string(),
            position: Some(position(ctx.text, raw.axes.keys.span().start)),
            message: format!(
                "the matrix expands to {total} cells, more than the limit of {max_cells}"
            ),
            hint: Some("narrow an axis, or raise [run] max_cells".into()),
        });
    }
    let log_level = match run.and_then(|r| r.server_log_level.as_ref()) {
        None => None,
        Some(l) => {
            const LEVELS: &[&str] = &["VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3"];
            if !LEVELS.contains(&l.get_ref().as_str()) {
                return Err(ctx.unknown("server_log_level", l, LEVELS.iter().copied(), "README"));
            }
            Some(l.get_ref().clone())
        }
    };

    Ok(log_level)
}

/// Expands the axes into cells, in table order (each axis value has an order index:
/// declaration order; pairs keep their order).
fn expand(
    pairs: Vec<(Profile, KeyTool)>,
    keys: &[KeySpec],
    passphrases: &[bool],
    holders: &[Holder],
    targets: &[Target],
    rows: &[String],
    columns: &[String],
) -> Vec<Cell> {
    let pairs: Vec<(std::sync::Arc<Profile>, std::sync::Arc<KeyTool>)> = pairs
        .into_iter()
        .map(|(c, t)| (std::sync::Arc::new(c), std::sync::Arc::new(t)))
        .collect();
    // Each axis value's declaration index, in `AXES` order (pairs keep their order).
    let sort_key = |order: [usize; 7]| -> Vec<usize> {
        rows.iter()
            .chain(columns.iter())
            .map(|a| order[AXES.iter().position(|x| x == a).expect("layout axis")])
            .collect()
    };
    let mut cells = Vec::new();
    for (pi, (client, tool)) in pairs.iter().enumerate() {
        for (ki, key) in keys.iter().enumerate() {
            for (si, pass) in passphrases.iter().enumerate() {
                for (hi, holder) in holders.iter().enumerate() {
                    for (ti, target) in targets.iter().enumerate() {
                        // Forwarding the agent needs a jump host to forward it to.
                        if *holder == Holder::AgentForwarded && target.via.is_none() {
                            continue;
                        }
                        for (ui, user) in target.users.iter().enumerate() {
                            let cell = Cell {
                                index: 0,
                                client: client.clone(),
                                key_tool: tool.clone(),
                                key: *key,
                                passphrase: *pass,
                                holder: *holder,
                                target: TargetId(ti),
                                user: user.clone(),
                                row: Vec::new(),
                                column: Vec::new(),
                                digest: Default::default(),
                            };
                            cells.push((sort_key([pi, pi, ki, si, hi, ti, ui]), cell));
                        }
                    }
                }
            }
        }
    }
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    cells
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut c))| {
            let t = &targets[c.target];
            c.index = i;
            c.row = rows.iter().flat_map(|a| cell_label(&c, t, a)).collect();
            c.column = columns.iter().flat_map(|a| cell_label(&c, t, a)).collect();
            c
        })
        .collect()
}

/// A cell's label(s) on one axis of the table.
fn cell_label(c: &Cell, t: &Target, axis: &str) -> Vec<String> {
    match axis {
        "client" => vec![c.client.display_name()],
        "key_tool" => vec![format!("{} {}", c.key_tool.name, c.key_tool.version)],
        "key" => vec![c.key.label()],
        "passphrase" => vec![if c.passphrase { "yes" } else { "no" }.into()],
        "holder" => vec![c.holder.label().into()],
        "target" => t.label.clone(),
        _ => vec![c.user.clone()],
    }
}

fn expectation(
    ctx: &Ctx,
    raw: &RawMatrix,
    dir: Option<&Path>,
) -> Result<Option<Expectation>, InputError> {
    let expect = match &raw.expect {
        None => None,
        Some(e) => Some(match e.get_ref() {
            RawExpect::File(f) => Expectation::File(dir.unwrap_or(Path::new(".")).join(f)),
            RawExpect::Rules(items) => {
                let mut rules = Vec::new();
                for (i, raw) in items.iter().enumerate() {
                    let rule = raw.clone().typed().map_err(|(span, m)| {
                        ctx.err(
                            span,
                            format!("expect rule {}: {m}", i + 1),
                            Some("verdict = \"ok\", \"fail\" or \"error\"; code one of the failure codes (docs/reference.md)".into()),
                        )
                    })?;
                    rules.push(rule);
                }
                Expectation::Rules(rules)
            }
        }),
    };
    Ok(expect)
}

/// The corner header(s) of an axis.
fn axis_title(a: &str, targets: &[Target]) -> Vec<String> {
    match a {
        "target" => {
            let depth = targets.iter().map(|t| t.label.len()).max().unwrap_or(1);
            (0..depth)
                .map(|i| {
                    if i == 0 {
                        "Target".to_string()
                    } else {
                        String::new()
                    }
                })
                .collect()
        }
        "key_tool" => vec!["Key tool".into()],
        "passphrase" => vec!["Passphrase".into()],
        other => {
            let mut s = other.to_string();
            s[..1].make_ascii_uppercase();
            vec![s]
        }
    }
}
