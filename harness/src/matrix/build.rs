//! The planner: a matrix file's text into a [`Plan`] — each part converted on its own, then
//! the plan checked as a whole and stamped with cell digests.

use std::path::Path;

use toml::Spanned;

use sshmatrix_clients::{CertSpec, KeyTool, Profile};

use super::axes::{certificates, holders, keys, pairs, passphrases};
use super::ctx::Ctx;
use super::raw::{RawExpect, RawMatrix};
use super::targets::{jump_hosts, targets};
use super::{
    position, Catalog, Cell, Expectation, Holder, InputError, KeySpec, Plan, RunSettings, Target,
    TargetId, AXES, DEFAULT_MAX_CELLS,
};

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
        super::digest::stamp(&mut p);
        p
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

/// The matrix as TOML gives it, its errors in a matrix writer's words.
fn read_raw(file: &str, text: &str) -> Result<RawMatrix, InputError> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start);
        let (message, hint) = super::plain::words(text, at, e.message().trim());
        InputError {
            file: file.to_string(),
            position: at.map(|a| position(text, a)),
            message,
            hint: Some(hint),
        }
    })
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
    let raw = read_raw(file, text)?;
    let values = AxisValues {
        keys: keys(&ctx, &raw.axes)?,
        passphrases: passphrases(&ctx, &raw.axes)?,
        holders: holders(&ctx, &raw.axes)?,
        certificates: certificates(&ctx, &raw.axes)?,
    };
    let pairs = pairs(&ctx, &raw.axes, catalog)?;
    let mut targets = targets(&ctx, &raw, catalog, dir)?;
    jump_hosts(&ctx, &raw, &mut targets)?;
    let (rows, columns) = layout(&ctx, &raw)?;
    let log_level = limits(&ctx, &raw, pairs.len(), &values, &targets)?;
    let cells = expand(pairs, &values, &targets, &rows, &columns);
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
            jobs: run.and_then(|r| r.jobs.as_ref().map(|j| *j.get_ref())),
            timeout_secs: run.and_then(|r| r.timeout_secs.as_ref().map(|t| *t.get_ref())),
            server_log_level: log_level,
        },
        expect,
        trusted_sshd_lines: catalog.grants.trust_sshd_lines,
    };
    let written = super::check::Written {
        ctx: &ctx,
        raw: &raw,
    };
    super::check::run_settings(&written, crate::MAX_JOBS)?;
    super::check::check(&written, &plan)?;
    super::digest::stamp(&mut plan);
    Ok(plan)
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
            if raw.axes.certificates.is_some() {
                rows.push("certificate".into());
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
                                "docs/guide.md, Matrix files",
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
            let declared = |a: &&&str| match **a {
                "holder" => raw.axes.holders.is_some(),
                "certificate" => raw.axes.certificates.is_some(),
                _ => true,
            };
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

/// The values of the axes a matrix lists (besides pairs and targets), in declaration order.
struct AxisValues {
    keys: Vec<KeySpec>,
    passphrases: Vec<bool>,
    holders: Vec<Holder>,
    /// `None`: the bare key.
    certificates: Vec<Option<CertSpec>>,
}

/// Refuses a cross product beyond `[run] max_cells`; returns the server log level.
fn limits(
    ctx: &Ctx,
    raw: &RawMatrix,
    pairs: usize,
    v: &AxisValues,
    targets: &[Target],
) -> Result<Option<String>, InputError> {
    let run = raw.run.as_ref();
    let max_cells = run.and_then(|r| r.max_cells).unwrap_or(DEFAULT_MAX_CELLS);
    let total: usize = pairs
        * v.keys.len()
        * v.passphrases.len()
        * v.holders.len()
        * v.certificates.len()
        * targets.iter().map(|t| t.users.len()).sum::<usize>();
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
                return Err(ctx.unknown(
                    "server_log_level",
                    l,
                    LEVELS.iter().copied(),
                    "docs/guide.md, Matrix files",
                ));
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
    v: &AxisValues,
    targets: &[Target],
    rows: &[String],
    columns: &[String],
) -> Vec<Cell> {
    let pairs: Vec<(std::sync::Arc<Profile>, std::sync::Arc<KeyTool>)> = pairs
        .into_iter()
        .map(|(c, t)| (std::sync::Arc::new(c), std::sync::Arc::new(t)))
        .collect();
    // Each axis value's declaration index, in `AXES` order (pairs keep their order).
    let sort_key = |order: [usize; 8]| -> Vec<usize> {
        rows.iter()
            .chain(columns.iter())
            .map(|a| order[AXES.iter().position(|x| x == a).expect("layout axis")])
            .collect()
    };
    let mut cells = Vec::new();
    // Every combination of the listed axes (odometer order), then the targets and users.
    let sizes = [
        pairs.len(),
        v.keys.len(),
        v.passphrases.len(),
        v.holders.len(),
        v.certificates.len(),
    ];
    for at in odometer(sizes) {
        let [pi, ki, si, hi, ci] = at;
        let holder = v.holders[hi];
        for (ti, target) in targets.iter().enumerate() {
            // Forwarding the agent needs a jump host to forward it to.
            if holder == Holder::AgentForwarded && target.via.is_none() {
                continue;
            }
            for (ui, user) in target.users.iter().enumerate() {
                let cell = Cell {
                    index: 0,
                    client: pairs[pi].0.clone(),
                    key_tool: pairs[pi].1.clone(),
                    key: v.keys[ki],
                    passphrase: v.passphrases[si],
                    holder,
                    certificate: v.certificates[ci],
                    target: TargetId(ti),
                    user: user.clone(),
                    row: Vec::new(),
                    column: Vec::new(),
                    digest: Default::default(),
                };
                cells.push((sort_key([pi, pi, ki, si, hi, ci, ti, ui]), cell));
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

/// Every index tuple below `sizes`, the last index turning fastest.
fn odometer<const N: usize>(sizes: [usize; N]) -> impl Iterator<Item = [usize; N]> {
    let total: usize = sizes.iter().product();
    (0..total).map(move |mut n| {
        let mut at = [0; N];
        for i in (0..N).rev() {
            at[i] = n % sizes[i];
            n /= sizes[i];
        }
        at
    })
}

/// A cell's label(s) on one axis of the table.
fn cell_label(c: &Cell, t: &Target, axis: &str) -> Vec<String> {
    match axis {
        "client" => vec![c.client.display_name()],
        "key_tool" => vec![format!("{} {}", c.key_tool.name, c.key_tool.version)],
        "key" => vec![c.key.label()],
        "passphrase" => vec![if c.passphrase { "yes" } else { "no" }.into()],
        "holder" => vec![c.holder.label().into()],
        "certificate" => vec![sshmatrix_clients::certs::label_of(c.certificate)],
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
