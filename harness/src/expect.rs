//! Expected verdicts. A matrix's `expect` is either the path of a CSV
//! (`client,key_tool,key_type,key_bits,passphrase,target,user,verdict`, one row per cell) or a
//! list of inline rules, each selecting cells by any of client, key_tool, key, passphrase, target
//! and user and giving the verdict (and optionally the code) the selected cells must have; a
//! cell is held to the last rule that selects it (a broad rule first, then its exceptions).

use std::path::Path;

use serde::Deserialize;
use sshmatrix_reports::{CellCode, CellResult, Code, Report, Verdict};

/// A selector field: one value or a list of alternatives (`key = ["rsa-2048", "rsa-4096"]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Sel {
    /// Exactly this value.
    One(String),
    /// Any of these values.
    Any(Vec<String>),
}

impl Sel {
    /// Whether `v` is selected.
    pub fn matches(&self, v: &str) -> bool {
        match self {
            Sel::One(w) => w == v,
            Sel::Any(ws) => ws.iter().any(|w| w == v),
        }
    }
}

impl std::fmt::Display for Sel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sel::One(w) => f.write_str(w),
            Sel::Any(ws) => write!(f, "{}", ws.join("|")),
        }
    }
}

/// One expectation as a matrix writes it (see [`RawRule::typed`]).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Client profile id.
    #[serde(default)]
    pub client: Option<Sel>,
    /// Key tool id.
    #[serde(default)]
    pub key_tool: Option<Sel>,
    /// Key, e.g. `rsa-2048`.
    #[serde(default)]
    pub key: Option<Sel>,
    /// `yes` / `no`.
    #[serde(default)]
    pub passphrase: Option<Sel>,
    /// How the client holds the key (`file`, `agent`, `agent-forwarded`, `password`).
    #[serde(default)]
    pub holder: Option<Sel>,
    /// The certificate (`none`: the bare key; `rsa-sha1`, `ed25519-expired`, …).
    #[serde(default)]
    pub certificate: Option<Sel>,
    /// Target id.
    #[serde(default)]
    pub target: Option<Sel>,
    /// Login name.
    #[serde(default)]
    pub user: Option<Sel>,
    /// `ok`, `fail` or `error`.
    pub verdict: toml::Spanned<String>,
    /// Failure code the cells must carry.
    #[serde(default)]
    pub code: Option<toml::Spanned<String>>,
}

/// One expectation: a selector and the outcome its cells must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Client profile id.
    pub client: Option<Sel>,
    /// Key tool id.
    pub key_tool: Option<Sel>,
    /// Key, e.g. `rsa-2048`.
    pub key: Option<Sel>,
    /// `yes` / `no`.
    pub passphrase: Option<Sel>,
    /// How the client holds the key.
    pub holder: Option<Sel>,
    /// The certificate (`none`: the bare key).
    pub certificate: Option<Sel>,
    /// Target id.
    pub target: Option<Sel>,
    /// Login name.
    pub user: Option<Sel>,
    /// The verdict the cells must have.
    pub verdict: Verdict,
    /// The failure code they must carry (none: any).
    pub code: Option<CellCode>,
}

/// A verdict as rules spell it; an interruption is never expected.
fn verdict(v: &str) -> Result<Verdict, String> {
    match v {
        "ok" => Ok(Verdict::Ok),
        "fail" => Ok(Verdict::Fail),
        "error" => Ok(Verdict::Error),
        _ => Err(format!("verdict `{v}` is not ok, fail or error")),
    }
}

impl RawRule {
    /// The rule with its verdict and code read; an unknown one is an error at its place in the
    /// file, naming the nearest code.
    pub fn typed(self) -> Result<Rule, (std::ops::Range<usize>, String)> {
        let code = match &self.code {
            None => None,
            Some(c) if c.get_ref().is_empty() => Some(CellCode::NONE),
            Some(c) => {
                let name = c.get_ref();
                let known = Code::ALL.iter().map(|c| c.as_str());
                let code = Code::parse(name).ok_or_else(|| {
                    let hint = crate::hints::nearest(name, known)
                        .map(|n| format!("; did you mean `{n}`?"))
                        .unwrap_or_default();
                    (c.span(), format!("unknown code `{name}`{hint}"))
                })?;
                Some(CellCode::from(code))
            }
        };
        let v = &self.verdict;
        Ok(Rule {
            verdict: verdict(v.get_ref()).map_err(|m| (v.span(), m))?,
            code,
            client: self.client,
            key_tool: self.key_tool,
            key: self.key,
            passphrase: self.passphrase,
            holder: self.holder,
            certificate: self.certificate,
            target: self.target,
            user: self.user,
        })
    }
}

#[derive(Deserialize)]
struct CsvRow {
    client: String,
    key_tool: String,
    key_type: String,
    key_bits: u32,
    passphrase: String,
    target: String,
    user: String,
    verdict: String,
}

impl Rule {
    /// Whether the rule names clients and every one of them is in `clients` (a rule about
    /// clients a cut plan left out: `run --current`).
    pub fn only_about(&self, clients: &[String]) -> bool {
        match &self.client {
            Some(Sel::One(c)) => clients.contains(c),
            Some(Sel::Any(cs)) => cs.iter().all(|c| clients.contains(c)),
            None => false,
        }
    }

    fn selects(&self, c: &CellResult) -> bool {
        let key = if c.key_type == "ed25519" {
            "ed25519".to_string()
        } else {
            format!("{}-{}", c.key_type, c.key_bits)
        };
        let pass = if c.passphrase { "yes" } else { "no" };
        let certificate = match c.certificate.as_str() {
            "" => "none",
            word => word,
        };
        [
            (&self.client, c.client.as_str()),
            (&self.key_tool, c.key_tool.as_str()),
            (&self.key, key.as_str()),
            (&self.passphrase, pass),
            (&self.holder, c.holder.as_str()),
            (&self.certificate, certificate),
            (&self.target, c.target.as_str()),
            (&self.user, c.user.as_str()),
        ]
        .iter()
        .all(|(want, have)| want.as_ref().is_none_or(|w| w.matches(have)))
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("client", &self.client),
            ("key_tool", &self.key_tool),
            ("key", &self.key),
            ("passphrase", &self.passphrase),
            ("holder", &self.holder),
            ("certificate", &self.certificate),
            ("target", &self.target),
            ("user", &self.user),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if parts.is_empty() {
            "every cell".into()
        } else {
            parts.join(",")
        }
    }
}

/// The largest expectations CSV read (16 MiB: some 100,000 rows).
pub const MAX_EXPECT_BYTES: u64 = 16 << 20;

/// Reads an expectations CSV as one rule per row.
pub fn read(path: &Path) -> Result<Vec<Rule>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{}: not a regular file (a directory, device or pipe cannot hold expectations)",
            path.display()
        ));
    }
    if meta.len() > MAX_EXPECT_BYTES {
        return Err(format!(
            "{}: {} bytes, more than the {MAX_EXPECT_BYTES} an expectations file may have",
            path.display(),
            meta.len()
        ));
    }
    let text = crate::bounded::read(path, MAX_EXPECT_BYTES)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut r = csv::Reader::from_reader(text.as_slice());
    r.deserialize::<CsvRow>()
        .map(|row| {
            let row = row.map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Rule {
                key: Some(Sel::One(if row.key_type == "ed25519" {
                    "ed25519".into()
                } else {
                    format!("{}-{}", row.key_type, row.key_bits)
                })),
                client: Some(Sel::One(row.client)),
                key_tool: Some(Sel::One(row.key_tool)),
                passphrase: Some(Sel::One(row.passphrase)),
                target: Some(Sel::One(row.target)),
                user: Some(Sel::One(row.user)),
                holder: None,
                certificate: None,
                verdict: verdict(&row.verdict).map_err(|e| format!("{}: {e}", path.display()))?,
                code: None,
            })
        })
        .collect()
}

/// How many cells of the report some rule selects (the cells the expectations hold).
pub fn held(report: &Report, rules: &[Rule]) -> usize {
    report
        .cells
        .iter()
        .filter(|c| rules.iter().any(|r| r.selects(c)))
        .count()
}

/// Lines describing every expectation the report does not meet (empty when all are met). A
/// cell is held to the last rule that selects it, so a broad rule can be followed by its
/// exceptions.
pub fn compare(report: &Report, rules: &[Rule]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rules {
        if !report.cells.iter().any(|c| r.selects(c)) {
            out.push(format!(
                "{}: expected {}, but the matrix has no such cell",
                r.describe(),
                r.verdict
            ));
        }
    }
    for c in &report.cells {
        let Some(r) = rules.iter().rev().find(|r| r.selects(c)) else {
            continue;
        };
        let code_ok = r.code.is_none_or(|code| c.code == code);
        if c.verdict != r.verdict || !code_ok {
            out.push(format!(
                "{}: expected {}{}, got {} [{}] ({}: {})",
                sshmatrix_reports::diff::identity(c),
                r.verdict,
                r.code.map(|c| format!(" [{c}]")).unwrap_or_default(),
                c.verdict.as_str(),
                c.code,
                c.stage,
                c.reason
            ));
        }
    }
    out
}

/// The rules of a matrix's expectation, reading the CSV when it names one.
pub fn load(e: &Expectation) -> Result<Vec<Rule>, String> {
    match e {
        Expectation::File(p) => read(p),
        Expectation::Rules(r) => Ok(r.clone()),
    }
}

/// Where a matrix's expectations come from.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// A CSV file, resolved against the matrix file.
    File(std::path::PathBuf),
    /// Inline rules.
    Rules(Vec<Rule>),
}
