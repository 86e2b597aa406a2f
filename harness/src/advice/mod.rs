//! Remediation advice: concrete, ordered fixes for a failed cell, computed from the data —
//! client upgrades and other keys that the static predictor expects to work, policy alternatives
//! from the policy files, sshd directives per failure code — and verified by rerunning the cell
//! with each fix applied against the real sshd.

use std::fmt;

use sshmatrix_clients::{KeySpec, KeyTool, Profile};
use sshmatrix_core::i18n::{self, Lang};
use sshmatrix_core::tr;
use sshmatrix_reports::{CellResult, Code, Stage, Verdict};
use sshmatrix_servers::{Effective, Policy};

use crate::matrix::{Cell, Plan};
use crate::predict::predict;

mod select;
pub use select::select;

mod certs;
mod render;

pub use render::{render, whole_matrix};

/// One change to a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Use another client (profile id).
    Client(String),
    /// Use another key.
    Key(KeySpec),
    /// Make the key with another tool (key tool id).
    KeyTool(String),
    /// Switch the target to another policy (policy id).
    Policy(String),
    /// Add sshd_config lines that take precedence over the policy.
    Sshd(Vec<String>),
    /// Give the target these host key types.
    HostKeys(Vec<String>),
    /// Present this certificate instead (`None`: the bare key).
    Certificate(Option<sshmatrix_clients::CertSpec>),
    /// The target presents this host certificate instead (`None`: bare host keys).
    HostCertificate(Option<sshmatrix_clients::CertSpec>),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Client(c) => write!(f, "client={c}"),
            Change::Key(k) => write!(f, "key={k}"),
            Change::KeyTool(t) => write!(f, "key_tool={t}"),
            Change::Policy(p) => write!(f, "policy={p}"),
            Change::Sshd(l) => write!(f, "sshd={}", l.join("; ")),
            Change::HostKeys(h) => write!(f, "host_keys={}", h.join(",")),
            Change::Certificate(c) => {
                write!(f, "certificate={}", sshmatrix_clients::certs::word_of(*c))
            }
            Change::HostCertificate(c) => {
                write!(
                    f,
                    "host_certificate={}",
                    sshmatrix_clients::certs::word_of(*c)
                )
            }
        }
    }
}

/// A proposed fix.
#[derive(Debug, Clone)]
pub struct Fix {
    /// `client` or `server`: who has to act.
    pub side: &'static str,
    /// What to do, in words.
    pub text: String,
    /// The security cost, when there is one.
    pub cost: Option<String>,
    /// The change, for verification.
    pub change: Change,
}

/// Parses a user-proposed fix: `client=ID`, `key=SPEC`, `key_tool=ID`, `policy=ID`,
/// `sshd=LINE`, `host_keys=T1,T2`, `certificate=WORD` (`none`: the bare key),
/// `host_certificate=WORD` (`none`: bare host keys).
pub fn parse_change(spec: &str) -> Result<Change, String> {
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| format!("fix `{spec}` must look like client=ID, key=SPEC, key_tool=ID, policy=ID, sshd=LINE, host_keys=A,B, certificate=WORD or host_certificate=WORD"))?;
    Ok(match k.trim() {
        "client" => Change::Client(v.trim().into()),
        "key" => Change::Key(v.trim().parse().map_err(|e| format!("fix `{spec}`: {e}"))?),
        "key_tool" => Change::KeyTool(v.trim().into()),
        "policy" => Change::Policy(v.trim().into()),
        "sshd" => {
            // One printable directive; one that reads files or runs commands is the user's own
            // choice here (they typed it), but never a second directive smuggled in.
            sshmatrix_servers::directive::check_line(v)
                .map_err(|e| format!("fix `{}`: the sshd line {e}", spec.escape_debug()))?;
            Change::Sshd(vec![v.trim().into()])
        }
        "host_keys" => Change::HostKeys(v.split(',').map(|s| s.trim().to_string()).collect()),
        "certificate" => Change::Certificate(cert_word(spec, v)?),
        "host_certificate" => Change::HostCertificate(cert_word(spec, v)?),
        other => return Err(format!("fix `{spec}`: unknown kind `{other}`")),
    })
}

/// A fix's certificate word (`none`: no certificate).
fn cert_word(spec: &str, v: &str) -> Result<Option<sshmatrix_clients::CertSpec>, String> {
    match v.trim() {
        "none" => Ok(None),
        w => Some(w.parse().map_err(|e| format!("fix `{spec}`: {e}"))).transpose(),
    }
}

/// Version strings compared numerically component by component (`4.106` < `5.0`).
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-', 'p'])
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// Applies a change to a one-cell plan built from `cell` of `plan`.
pub fn variant(
    plan: &Plan,
    cell: &Cell,
    change: Option<&Change>,
    profiles: &[Profile],
    tools: &[KeyTool],
    policies: &[Policy],
) -> Result<Plan, String> {
    let mut c = cell.clone();
    let mut t = plan.targets[cell.target].clone();
    match change {
        None => {}
        Some(Change::Client(id)) => {
            c.client = profiles
                .iter()
                .find(|p| &p.id == id)
                .cloned()
                .map(std::sync::Arc::new)
                .ok_or_else(|| format!("unknown client profile `{id}`"))?
        }
        Some(Change::Key(k)) => c.key = *k,
        Some(Change::KeyTool(id)) => {
            c.key_tool = tools
                .iter()
                .find(|x| &x.id == id)
                .cloned()
                .map(std::sync::Arc::new)
                .ok_or_else(|| format!("unknown key tool `{id}`"))?
        }
        Some(Change::Policy(id)) => {
            t.policy = policies
                .iter()
                .find(|p| &p.id == id)
                .cloned()
                .ok_or_else(|| format!("unknown policy `{id}`"))?;
            t.host_keys = t.policy.host_keys.clone();
        }
        Some(Change::Sshd(lines)) => {
            let mut all = lines.clone();
            all.extend(t.sshd.iter().cloned());
            t.sshd = all;
        }
        Some(Change::HostKeys(h)) => t.host_keys = h.clone(),
        Some(Change::Certificate(cert)) => c.certificate = *cert,
        Some(Change::HostCertificate(cert)) => {
            t.scenario.host_certificate = cert.map(|c| c.to_string())
        }
    }
    let mut targets = plan.targets.clone();
    targets[cell.target] = t;
    Ok(plan.subset(targets, vec![c]))
}

/// Computes the candidate fixes of a failed cell, most direct first. `eff` is the target's
/// effective configuration; client and key candidates are those the predictor expects to work.
pub fn fixes(
    cell: &Cell,
    target: &crate::matrix::Target,
    result: &CellResult,
    eff: &Effective,
    policy: &Policy,
    profiles: &[Profile],
    tools: &[KeyTool],
) -> Vec<Fix> {
    if result.verdict == Verdict::Ok {
        return Vec::new();
    }
    // A key the client cannot read is fixed where the user is: convert it in the client's
    // own tool, before any upgrade.
    let mut out: Vec<Fix> = match result.code == Code::KeyLoadFailed {
        true => key_tool_fix(cell, tools).into_iter().collect(),
        false => Vec::new(),
    };
    if let Some(cert) = cell.certificate.filter(|_| result.stage != Stage::Hostkey) {
        out.extend(certs::fixes(cert, result.code.code()));
    }
    if let Some(cert) = target
        .scenario
        .host_cert()
        .filter(|_| result.stage == Stage::Hostkey)
    {
        out.extend(certs::host_fixes(cert, result.code.code()));
    }
    out.extend(upgrades(cell, target, eff, profiles));
    out.extend(other_keys(cell, target, eff, result.code.code()));
    // sshd_config directives fix OpenSSH servers only (a Dropbear build's algorithms are
    // compiled in: the fixes there are the client's).
    if policy.facts.is_none() {
        out.extend(server_directive(
            result.code.code(),
            result.signature.as_deref(),
            policy.sshd_config_place.as_deref(),
        ));
    }
    // Policy alternatives from the policy data, for the failures a crypto policy decides (a
    // key file the client cannot read, a wrong passphrase or an unregistered key are not).
    let policy_decides = matches!(
        result.code.code(),
        Some(
            Code::KexNoCommon
                | Code::HostkeyNoCommon
                | Code::CipherNoCommon
                | Code::MacNoCommon
                | Code::CompressionNoCommon
                | Code::WeakCryptoRefused
                | Code::AuthSignatureRejected
                | Code::AuthKeyTooSmall
                | Code::AuthNoSignatureAlgorithm
                | Code::CertCaSignatureRefused
        )
    );
    let alternatives = policy.alternatives.iter().filter(|_| policy_decides);
    out.extend(alternatives.map(|a| Fix {
        side: "server",
        text: tr!(
            lang(),
            "fix-switch-policy",
            policy = a.policy.clone(),
            how = a.how.clone()
        ),
        cost: Some(a.cost.clone()),
        change: Change::Policy(a.policy.clone()),
    }));
    out
}

/// Newer versions of the same client that the predictor expects to log in: the first of each
/// major line. Only profiles of the product itself are offered: a real-client profile is an
/// instrument of this harness (a binary in a release image, keys converted for it), never a
/// fix a user can take.
fn upgrades(
    cell: &Cell,
    target: &crate::matrix::Target,
    eff: &Effective,
    profiles: &[Profile],
) -> Vec<Fix> {
    let mut upgrades: Vec<&Profile> = profiles
        .iter()
        .filter(|p| p.driver.is_none())
        .filter(|p| {
            p.name == cell.client.name
                && version_key(&p.version) > version_key(&cell.client.version)
        })
        .filter(|p| {
            let mut c = cell.clone();
            c.client = std::sync::Arc::new((*p).clone());
            predict(&c, target, eff).verdict == Verdict::Ok
        })
        .collect();
    upgrades.sort_by_key(|p| version_key(&p.version));
    let mut majors = Vec::new();
    let mut out = Vec::new();
    for p in upgrades {
        let major = version_key(&p.version).first().copied();
        if !majors.contains(&major) {
            majors.push(major);
            out.push(Fix {
                side: "client",
                text: tr!(
                    lang(),
                    "fix-upgrade",
                    client = p.display_name(),
                    released = p.released.clone().unwrap_or_else(|| "?".into())
                ),
                cost: None,
                change: Change::Client(p.id.clone()),
            });
        }
    }
    out
}

/// Another key type the client can use and the predictor expects to work.
fn other_keys(
    cell: &Cell,
    target: &crate::matrix::Target,
    eff: &Effective,
    code: Option<Code>,
) -> Vec<Fix> {
    let keys: &[KeySpec] = match code {
        Some(Code::AuthKeyTooSmall) => &[KeySpec::Rsa(3072), KeySpec::Ecdsa(256), KeySpec::Ed25519],
        _ => &[KeySpec::Ed25519, KeySpec::Ecdsa(256)],
    };
    keys.iter()
        .filter(|k| **k != cell.key)
        .filter(|k| {
            let mut c = cell.clone();
            c.key = **k;
            predict(&c, target, eff).verdict == Verdict::Ok
        })
        .map(|k| Fix {
            side: "client",
            text: tr!(
                lang(),
                "fix-other-key",
                key = k.label(),
                instead = cell.key.label()
            ),
            cost: None,
            change: Change::Key(*k),
        })
        .collect()
}

/// A key tool whose format the client reads, the client's own first (PuTTYgen for PuTTY, in
/// the release nearest below the client's), saying how to convert the key in that tool.
fn key_tool_fix(cell: &Cell, tools: &[KeyTool]) -> Option<Fix> {
    let reads = |t: &&KeyTool| {
        cell.client
            .reads
            .contains(&t.format_for(&cell.key).container)
    };
    let native = |t: &&KeyTool| t.native_to.as_deref() == Some(cell.client.name.as_str());
    let mut own: Vec<&KeyTool> = tools.iter().filter(reads).filter(native).collect();
    own.sort_by_key(|t| {
        let newer = version_key(&t.version) > version_key(&cell.client.version);
        (newer, std::cmp::Reverse(version_key(&t.version)))
    });
    let t = own
        .first()
        .copied()
        .or_else(|| tools.iter().filter(reads).find(|t| t.convert.is_some()))
        .or_else(|| tools.iter().find(reads))?;
    let format = t.format_for(&cell.key).container.name();
    let text = match &t.convert {
        Some(how) => tr!(
            lang(),
            "fix-convert-how",
            format = format,
            how = how.clone()
        ),
        None => tr!(
            lang(),
            "fix-convert-tool",
            format = format,
            tool = format!("{} {}", t.name, t.version)
        ),
    };
    Some(Fix {
        side: "client",
        text,
        cost: None,
        change: Change::KeyTool(t.id.clone()),
    })
}

/// The sshd directive that answers a failure code, with its security cost, and where the line
/// must go on the policy's platform to take effect (`place`).
fn server_directive(
    code: Option<Code>,
    signature: Option<&str>,
    place: Option<&str>,
) -> Option<Fix> {
    let fix = directive_for(code?, signature.unwrap_or_default())?;
    Some(match (place, &fix.change) {
        (Some(place), Change::Sshd(_)) => Fix {
            text: tr!(
                lang(),
                "fix-where",
                fix = fix.text.clone(),
                place = place.to_string()
            ),
            ..fix
        },
        _ => fix,
    })
}

/// The sshd directive (or host key change) that answers a failure code.
fn directive_for(code: Code, sig: &str) -> Option<Fix> {
    Some(match code {
        Code::AuthSignatureRejected => Fix {
            side: "server",
            text: format!("sshd_config: PubkeyAcceptedAlgorithms +{sig}"),
            cost: Some(tr!(lang(), "cost-accepts-signature", sig = sig.to_string())),
            change: Change::Sshd(vec![format!("PubkeyAcceptedAlgorithms +{sig}")]),
        },
        Code::AuthKeyTooSmall => Fix {
            side: "server",
            text: "sshd_config: RequiredRSASize 1024".into(),
            cost: Some(tr!(lang(), "cost-small-rsa")),
            change: Change::Sshd(vec!["RequiredRSASize 1024".into()]),
        },
        Code::AuthPartialNotContinued => Fix {
            side: "server",
            text: "sshd_config: AuthenticationMethods any".into(),
            cost: Some(tr!(lang(), "cost-one-method")),
            change: Change::Sshd(vec!["AuthenticationMethods any".into()]),
        },
        Code::HostkeyNoCommon => Fix {
            side: "server",
            text: tr!(lang(), "fix-host-keys"),
            cost: None,
            change: Change::HostKeys(
                ["ed25519", "ecdsa", "rsa"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        },
        _ => return None,
    })
}

/// A fix and what rerunning the cell with it gave.
#[derive(Debug, Clone)]
pub struct Tried {
    /// The fix.
    pub fix: Fix,
    /// The cell's result with the fix applied (None when not tried).
    pub result: Option<CellResult>,
}

/// The explanation of one cell.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The cell as measured.
    pub result: CellResult,
    /// The way the client reached the target (through its jump host, if any).
    pub route: String,
    /// What the verdict rests on that the user should check (e.g. an order a real install may
    /// have changed).
    pub caveats: Vec<String>,
    /// Fixes, computed and user-proposed, with their verification when tried.
    pub fixes: Vec<Tried>,
    /// What the target's server side rests on, in one line.
    pub basis: String,
}

/// Runs one cell, computes its fixes (plus `extra` proposed ones) and, with `try_fixes`, reruns
/// the cell with each fix applied.
#[allow(clippy::too_many_arguments)]
pub async fn explain(
    plan: &Plan,
    index: usize,
    extra: &[Change],
    try_fixes: bool,
    opts: &crate::runner::Options,
    profiles: &[Profile],
    tools: &[KeyTool],
    policies: &[Policy],
) -> Result<Explanation, crate::runner::RunError> {
    use crate::runner::{prepare, run, RunError};
    let cell = &plan.cells[index];
    let base = variant(plan, cell, None, profiles, tools, policies).map_err(RunError::Input)?;
    let prepared = prepare(base, opts).await?;
    let mut result = prepared.execute().await.remove(0);
    result.index = index;
    // The one-cell plan keeps the cell's jump host: the cell's target is not always first.
    let at = prepared.plan().cells[0].target;
    let route = match plan.targets[cell.target].via {
        Some(v) => format!(
            "client -> jump host `{}` -> target `{}`",
            plan.targets[v].id, plan.targets[cell.target].id
        ),
        None => format!("client -> target `{}`", plan.targets[cell.target].id),
    };
    let policy = &plan.targets[cell.target].policy;
    let mut list = fixes(
        cell,
        &plan.targets[cell.target],
        &result,
        prepared.effective(at),
        policy,
        profiles,
        tools,
    );
    for c in extra {
        list.push(Fix {
            side: "proposed",
            text: c.to_string(),
            cost: None,
            change: c.clone(),
        });
    }
    let mut out = Vec::new();
    for fix in list {
        let tried = if try_fixes {
            let p = variant(plan, cell, Some(&fix.change), profiles, tools, policies)
                .map_err(RunError::Input)?;
            Some(run(p, opts).await?.cells.remove(0))
        } else {
            None
        };
        out.push(Tried { fix, result: tried });
    }
    let caveats = order_caveat(cell, &result).into_iter().collect();
    Ok(Explanation {
        result,
        route,
        caveats,
        fixes: out,
        basis: policy.basis_line(),
    })
}

/// The language fixes are written in (the process's: fixes go into reports as text).
pub(super) fn lang() -> Lang {
    i18n::current()
}

/// Where a Tera Term verdict rests on algorithm order (negotiation stages, a known host key of
/// another type), a fresh install's order may not be the user's: an upgraded 4.x keeps its old
/// TERATERM.INI.
fn order_caveat(cell: &Cell, r: &CellResult) -> Option<String> {
    let order_matters = matches!(
        r.stage,
        Stage::Kex | Stage::Hostkey | Stage::Cipher | Stage::Mac | Stage::Compression
    ) || r.code == Code::HostkeyChanged;
    (cell.client.name == "Tera Term" && order_matters).then(|| {
        format!(
            "{} is modelled as a fresh install; an upgraded 4.x install keeps its old TERATERM.INI (installer/teraterm.iss onlyifdoesntexist), whose KexOrder / HostKeyOrder / CipherOrder may differ: check the user's TERATERM.INI",
            cell.client.display_name()
        )
    })
}

/// Attaches verified advice to every failed cell of a report: cells are grouped by client, key,
/// key tool, passphrase, policy, scenario and code; each group's fixes are verified once, on its
/// first cell.
pub async fn advise(
    plan: &Plan,
    report: &mut sshmatrix_reports::Report,
    opts: &crate::runner::Options,
    profiles: &[Profile],
    tools: &[KeyTool],
    policies: &[Policy],
) -> Result<(), crate::runner::RunError> {
    let group = |c: &CellResult| {
        let cell = &plan.cells[c.index];
        let t = &plan.targets[cell.target];
        let via = t.via.map(|v| plan.targets[v].id.as_str()).unwrap_or("");
        format!(
            "{}|{}|{}|{}|{}|{:?}|{}|{}|{via}",
            c.client,
            c.key_tool,
            cell.key,
            c.passphrase,
            t.policy.id,
            t.scenario,
            c.code,
            cell.holder.as_str()
        )
    };
    let mut done: Vec<(String, Vec<sshmatrix_reports::Advice>)> = Vec::new();
    for i in 0..report.cells.len() {
        if opts.stopping() {
            // A stop leaves the rest without advice (the caller drops partial advice).
            break;
        }
        if matches!(report.cells[i].verdict, Verdict::Ok | Verdict::Interrupted) {
            continue;
        }
        let key = group(&report.cells[i]);
        let advice = match done.iter().find(|(k, _)| *k == key) {
            Some((_, a)) => a.clone(),
            None => {
                let e = match explain(
                    plan,
                    report.cells[i].index,
                    &[],
                    true,
                    opts,
                    profiles,
                    tools,
                    policies,
                )
                .await
                {
                    Err(crate::runner::RunError::Interrupted(_)) => break,
                    other => other?,
                };
                let a: Vec<_> = e
                    .fixes
                    .into_iter()
                    .map(|t| sshmatrix_reports::Advice {
                        side: t.fix.side.to_string(),
                        text: t.fix.text,
                        cost: t.fix.cost,
                        works: t.result.map(|r| r.verdict == Verdict::Ok),
                        change: Some(t.fix.change.to_string()),
                    })
                    .collect();
                done.push((key, a.clone()));
                a
            }
        };
        report.cells[i].advice = advice;
    }
    report.notes.extend(matrix_advice(report));
    Ok(())
}

/// Across the whole matrix: the server change and the client upgrade that turn the most failed
/// cells into logins (verified: only fixes a rerun logged in with count), cost-free ones first
/// among equals. One note line each, with the count of cells it fixes.
pub fn matrix_advice(report: &sshmatrix_reports::Report) -> Vec<String> {
    let prefix = tr!(lang(), "advice-whole-matrix");
    most_fixing(report)
        .into_iter()
        .map(|a| format!("{prefix}: {a}"))
        .collect()
}

/// The server change and the client upgrade that turn the most × into ○ (see
/// [`matrix_advice`]), one line each.
pub(super) fn most_fixing(report: &sshmatrix_reports::Report) -> Vec<String> {
    let failed: Vec<&CellResult> = report
        .cells
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .collect();
    let mut out = Vec::new();
    for (side, what) in [
        ("server", "advice-server-change"),
        ("client", "advice-client-upgrade"),
    ] {
        // text -> (cells fixed, cost)
        let mut tally: Vec<(String, usize, Option<String>)> = Vec::new();
        for c in &failed {
            for a in c
                .advice
                .iter()
                .filter(|a| a.side == side && a.works == Some(true))
            {
                let upgrade = a
                    .change
                    .as_deref()
                    .is_some_and(|c| c.starts_with("client="));
                if side == "client" && !upgrade {
                    continue;
                }
                match tally.iter_mut().find(|(t, _, _)| *t == a.text) {
                    Some(entry) => entry.1 += 1,
                    None => tally.push((a.text.clone(), 1, a.cost.clone())),
                }
            }
        }
        // Most cells first; among equals a fix without a security cost.
        let best = tally
            .into_iter()
            .min_by_key(|(_, n, cost)| (std::cmp::Reverse(*n), cost.is_some()));
        if let Some((text, n, cost)) = best {
            let cost = cost
                .map(|c| format!("; {}: {c}", tr!(lang(), "fix-cost")))
                .unwrap_or_default();
            let said = tr!(
                lang(),
                "advice-most",
                what = tr!(lang(), what),
                fix = text,
                n = n,
                failed = failed.len()
            );
            out.push(format!("{said}{cost}"));
        }
    }
    out
}
