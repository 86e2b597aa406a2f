//! The result schema (version [`SCHEMA_VERSION`]): one [`CellResult`] per cell, gathered in a
//! [`Report`]. JSON output is this structure; the JSON Lines result stream holds one
//! `CellResult` per line. Field meanings are documented in docs/reference.md ("Result schema").

use serde::{Deserialize, Serialize};

/// Version of the JSON result schema. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

pub use sshmatrix_core::vocab::{CellCode, Code, Holder, Stage, Verdict};

/// The failure taxonomy: every code's name with its meaning.
pub fn codes() -> impl Iterator<Item = (&'static str, &'static str)> {
    Code::ALL.iter().map(|c| (c.as_str(), c.description()))
}

/// The JSON Schema of a report (`--format json`), generated from these types: shipped as
/// `reports/report.schema.json`, its `$id` naming [`SCHEMA_VERSION`].
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Report);
    schema.insert(
        "$id".into(),
        format!("urn:sshmatrix:report:schema-version:{SCHEMA_VERSION}").into(),
    );
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

/// The description of a failure code's name.
pub fn describe(code: &str) -> Option<&'static str> {
    Code::parse(code).map(Code::description)
}

/// A fix for a failed cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Advice {
    /// Who acts: `client`, `server` or `proposed`.
    pub side: String,
    /// What to do.
    pub text: String,
    /// The security cost, when there is one.
    pub cost: Option<String>,
    /// Whether rerunning the cell with the fix logged in (None: not verified).
    pub works: Option<bool>,
    /// What the fix changes, as `explain --fix` takes it (`client=teraterm-5.3`, `key=ed25519`,
    /// `sshd=PubkeyAcceptedAlgorithms +ssh-rsa`, `policy=…`); absent in reports written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

impl Advice {
    /// How the fix fared when the cell was rerun with it: `○ works`, `× no` or `?` (not tried).
    pub fn mark(&self) -> &'static str {
        match self.works {
            Some(true) => "○ works",
            Some(false) => "× no",
            None => "?",
        }
    }
}

/// The result of one cell: one client holding one key logging in to one target as one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellResult {
    /// Position of the cell in the plan (stable for a given matrix file).
    pub index: usize,
    /// Client profile id, e.g. `teraterm-4.106`.
    pub client: String,
    /// Key tool id, e.g. `puttygen-0.83`.
    pub key_tool: String,
    /// Key family: `rsa`, `ecdsa`, `ed25519`, `dsa`.
    pub key_type: String,
    /// Key size in bits.
    pub key_bits: u32,
    /// Whether the key file has a passphrase.
    pub passphrase: bool,
    /// How the client held the key: `file`, `agent`, `agent-forwarded` or `password` (absent
    /// in results written before the holder axis: `file`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub holder: Holder,
    /// The certificate presented with the key, as the matrix's `certificates` axis names it
    /// (`rsa-sha1`, `ed25519-expired`, …); absent for a bare key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// File format, e.g. `pem/aes-128-cbc`, `ppk-v3/aes256-cbc`, `openssh-v1`.
    pub key_format: String,
    /// SHA256 fingerprint of the user key.
    pub key_fingerprint: String,
    /// Target id.
    pub target: String,
    /// Server policy id of the target.
    pub policy: String,
    /// Login name.
    pub user: String,
    /// ok / fail / error.
    pub verdict: Verdict,
    /// Failure code, a [`Code`]'s name (empty for ok).
    #[serde(default)]
    pub code: CellCode,
    /// Where it ended: key-load, connect, kex, hostkey, cipher, mac, compression, auth,
    /// emulation, timeout, or login for successes.
    #[schemars(with = "String")]
    pub stage: Stage,
    /// The reason in words: the server's when it gave one, else the client's.
    pub reason: String,
    /// What the client saw.
    pub client_reason: String,
    /// What the server log says, when it says something.
    pub server_reason: Option<String>,
    /// Server log lines supporting the verdict.
    pub server_evidence: Vec<String>,
    /// Negotiated key exchange.
    pub kex: Option<String>,
    /// Negotiated host key algorithm.
    pub hostkey: Option<String>,
    /// Negotiated cipher.
    pub cipher: Option<String>,
    /// Negotiated MAC (`implicit` with AEAD ciphers).
    pub mac: Option<String>,
    /// Public-key algorithm of the signature sent (`ssh-rsa`, `rsa-sha2-512`, ...).
    pub signature: Option<String>,
    /// Wall time of the cell in milliseconds.
    pub duration_ms: u64,
    /// Engine notes that do not change the verdict.
    pub notes: Vec<String>,
    /// The static prediction's verdict for this cell (from profile and policy data alone).
    #[serde(default)]
    pub predicted_verdict: Option<Verdict>,
    /// The static prediction's failure code.
    #[serde(default)]
    pub predicted_code: Option<CellCode>,
    /// Fixes for a failed cell (with `run --advise`), verified by rerunning the cell.
    #[serde(default)]
    pub advice: Vec<Advice>,
    /// Digest of everything that decided this cell's verdict (profile and key-tool content,
    /// key, passphrase, holder, user, target policy, sshd lines, scenario, image or remote):
    /// `--resume` and `merge` reuse a result only for a cell with the same digest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Whether the key exchange was strict (both sides offered `kex-strict-*-v00@openssh.com`,
    /// the Terrapin countermeasure); absent where it is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_kex: Option<bool>,
    /// Ids of the rules of `reports/weak.toml` a logged-in cell meets (`sha1-user-signature`,
    /// …): a "weak" one marks it ◐, a notice only lists it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weak: Vec<String>,
    /// Row label path in the table.
    pub row: Vec<String>,
    /// Column label path in the table.
    pub column: Vec<String>,
}

/// Now, in UTC to the second (`2026-12-07T09:20:13Z`).
fn made_at() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| now.to_string())
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// sshmatrix version.
    pub tool_version: String,
    /// Matrix file path as given.
    pub matrix: String,
    /// Matrix title.
    pub title: String,
    /// Digest of the whole plan (of every cell's digest); shards of one matrix share it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub matrix_digest: String,
    /// How many cells the whole plan has (all shards together; 0 in reports written before).
    #[serde(default)]
    pub plan_cells: usize,
    /// When the report was made (UTC, RFC 3339, to the second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// The machine that made it (its host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The shard this report holds (`K/N`), when run with `--shard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Names of the row axes, outermost first (table corner headers).
    pub row_axes: Vec<String>,
    /// Names of the column axes, outermost first.
    pub column_axes: Vec<String>,
    /// Facts about the run a reader must know (backend, server version, user mapping).
    pub notes: Vec<String>,
    /// Client profile ids in the report that are not the newest release of their family in it
    /// (what the compatibility sheet folds under "older versions").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub older_clients: Vec<String>,
    /// Cells in plan order.
    pub cells: Vec<CellResult>,
}

/// What a report says about its run besides the cells.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Matrix file path as given (or what stood in for one: `scan HOST`).
    pub matrix: String,
    /// Title.
    pub title: String,
    /// Digest of the whole plan (empty: none).
    pub matrix_digest: String,
    /// How many cells the whole plan has.
    pub plan_cells: usize,
    /// Names of the row axes.
    pub row_axes: Vec<String>,
    /// Names of the column axes.
    pub column_axes: Vec<String>,
    /// Facts a reader must know.
    pub notes: Vec<String>,
}

impl Report {
    /// The one way a report is made (run, resume, merge, scan, impact, predict): this schema
    /// version, this tool's version, the header and the cells.
    pub fn new(h: Header, mut cells: Vec<CellResult>) -> Report {
        for c in &mut cells {
            c.apply_weak_rules();
        }
        Report {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            matrix: h.matrix,
            title: h.title,
            matrix_digest: h.matrix_digest,
            plan_cells: h.plan_cells,
            generated: Some(made_at()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty()),
            shard: None,
            row_axes: h.row_axes,
            column_axes: h.column_axes,
            notes: h.notes,
            older_clients: Vec::new(),
            cells,
        }
    }
}

/// A key as matrix files and `explain` spell it: `rsa-2048`, `ecdsa-256`, `ed25519`.
pub fn key_spelling(key_type: &str, key_bits: u32) -> String {
    match key_type {
        "ed25519" => "ed25519".into(),
        other => format!("{other}-{key_bits}"),
    }
}

impl CellResult {
    /// The key as matrix files and `explain` spell it.
    pub fn key_spec(&self) -> String {
        key_spelling(&self.key_type, self.key_bits)
    }

    /// The cell as an `explain` selector (`client=…,key_tool=…,key=…,passphrase=…,holder=…,
    /// certificate=…,target=…,user=…`; `holder` only when not `file`, `certificate` only for a
    /// certificate cell): one name for the cell in progress
    /// lines, JUnit and `explain`, which accepts it as it is.
    pub fn selector(&self) -> String {
        let holder = match self.holder {
            Holder::File => String::new(),
            h => format!(",holder={h}"),
        };
        let holder = match self.certificate.as_str() {
            "" => holder,
            cert => format!("{holder},certificate={cert}"),
        };
        format!(
            "client={},key_tool={},key={},passphrase={}{holder},target={},user={}",
            self.client,
            self.key_tool,
            self.key_spec(),
            if self.passphrase { "yes" } else { "no" },
            self.target,
            self.user
        )
    }

    /// The table mark: the verdict's (○, ×, !, …); `◐` for a login that a known hardening
    /// refuses ([`crate::weak`]); `?` for a cell no one can decide without a login
    /// (`not-observable`: a scan's prediction, neither a refusal nor an error).
    pub fn mark(&self) -> &'static str {
        if self.code == Code::NotObservable {
            return "?";
        }
        // The rules were applied once ([`Self::apply_weak_rules`]).
        let weak = self.verdict == Verdict::Ok && self.weak.iter().any(|id| crate::weak::marks(id));
        match weak {
            true => "◐",
            false => self.verdict.mark(),
        }
    }

    /// Records which rules of `reports/weak.toml` this cell meets (`weak`, what [`Self::mark`]
    /// reads): once, when the cell is judged or its report made.
    pub fn apply_weak_rules(&mut self) {
        self.weak = self.weak_rules().iter().map(|r| r.id.clone()).collect();
    }

    /// The rules of `reports/weak.toml` this login meets, weak ones and notices (none for a
    /// cell that did not log in).
    pub fn weak_rules(&self) -> Vec<&'static crate::weak::Rule> {
        if self.verdict != Verdict::Ok {
            return Vec::new();
        }
        crate::weak::met(&crate::weak::Used {
            signature: self.signature.as_deref(),
            hostkey: self.hostkey.as_deref(),
            kex: self.kex.as_deref(),
            cipher: self.cipher.as_deref(),
            mac: self.mac.as_deref(),
            key: format!("{}-{}", self.key_type, self.key_bits),
            strict_kex: self.strict_kex,
        })
    }

    /// Whether this cell needs a login to be decided (see [`CellResult::mark`]).
    pub fn needs_login(&self) -> bool {
        self.code == Code::NotObservable
    }

    /// Whether a prediction exists and the measurement differs from it (verdict or code).
    pub fn disagrees_with_prediction(&self) -> bool {
        if !self.verdict.is_measured() {
            return false;
        }
        match (&self.predicted_verdict, &self.predicted_code) {
            // A scan's undecided prediction cannot disagree with what a login then measured.
            (_, Some(c)) if *c == Code::NotObservable => false,
            (Some(v), Some(c)) => *v != self.verdict || *c != self.code,
            _ => false,
        }
    }
}

impl Report {
    /// How many cells were cut short by a stop (not measured).
    pub fn interrupted(&self) -> usize {
        self.cells
            .iter()
            .filter(|c| !c.verdict.is_measured())
            .count()
    }

    /// Counts of ok / fail / error cells (cells that need a login counted apart: [`Report::needs_login`]).
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |v: Verdict| {
            self.cells
                .iter()
                .filter(|c| c.verdict == v && !c.needs_login())
                .count()
        };
        (n(Verdict::Ok), n(Verdict::Fail), n(Verdict::Error))
    }

    /// How many cells need a login to be decided (a scan's `not-observable` cells).
    pub fn needs_login(&self) -> usize {
        self.cells.iter().filter(|c| c.needs_login()).count()
    }
}
