//! Cell selectors: a plan index, or `key=value` pairs over the matrix axes that name exactly
//! one cell (the names progress lines, reports and JUnit give cells).

use crate::matrix::{Cell, Plan};

/// Selects one cell: a plan index, or `key=value` pairs separated by commas over `client`,
/// `key_tool`, `key`, `passphrase`, `holder`, `certificate`, `target`, `user` that match
/// exactly one cell.
pub fn select(plan: &Plan, spec: &str) -> Result<usize, String> {
    if let Ok(i) = spec.trim().parse::<usize>() {
        return if i < plan.cells.len() {
            Ok(i)
        } else {
            Err(format!(
                "cell {i} does not exist (the matrix has {} cells)",
                plan.cells.len()
            ))
        };
    }
    let mut pairs = Vec::new();
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("cell selector part `{part}` must be key=value"))?;
        let k = k.trim();
        if !SELECTOR_KEYS.contains(&k) {
            let near = crate::matrix::nearest(k, SELECTOR_KEYS.iter().copied())
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown cell selector key `{k}`\n  hint: {near}(keys: {})",
                SELECTOR_KEYS.join(", ")
            ));
        }
        pairs.push((k.to_string(), v.trim().to_string()));
    }
    // No holder named: the key file (as in cell names, which name only other holders).
    if !pairs.iter().any(|(k, _)| k == "holder") {
        pairs.push(("holder".into(), "file".into()));
    }
    // No certificate named: the bare key (cell names name only certificates).
    if !pairs.iter().any(|(k, _)| k == "certificate") {
        pairs.push(("certificate".into(), "none".into()));
    }
    for (k, v) in &pairs {
        let values = selector_values(plan, k);
        if !values.contains(v) {
            let near = crate::matrix::nearest(v, values.iter().map(String::as_str))
                .map(|n| format!("did you mean `{k}={n}`? "))
                .unwrap_or_default();
            return Err(format!(
                "no cell matches `{spec}`: no cell of this matrix has {k}={v}\n  hint: {near}({k} values: {})",
                values.join(", ")
            ));
        }
    }
    let matches: Vec<usize> = plan
        .cells
        .iter()
        .filter(|c| pairs.iter().all(|(k, v)| selector_value(plan, c, k) == *v))
        .map(|c| c.index)
        .collect();
    match matches.len() {
        1 => Ok(matches[0]),
        0 => Err(format!(
            "no cell matches `{spec}` (each value exists, but not together)"
        )),
        n => Err(format!(
            "{n} cells match `{spec}`: add key=value pairs to pick one, or give one of:\n{}",
            matches
                .iter()
                .take(10)
                .map(|&i| format!("  {i}  {}", cell_selector(plan, &plan.cells[i])))
                .chain((n > 10).then(|| format!("  … and {} more", n - 10)))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// The keys a cell selector takes: the matrix axes.
const SELECTOR_KEYS: &[&str] = crate::matrix::AXES;

/// A cell's value for a selector key, as selectors spell it.
fn selector_value(plan: &Plan, c: &Cell, key: &str) -> String {
    match key {
        "client" => c.client.id.clone(),
        "key_tool" => c.key_tool.id.clone(),
        "key" => c.key.to_string(),
        "passphrase" => (if c.passphrase { "yes" } else { "no" }).into(),
        "target" => plan.targets[c.target].id.clone(),
        "user" => c.user.clone(),
        "holder" => c.holder.as_str().into(),
        "certificate" => sshmatrix_clients::certs::word_of(c.certificate),
        _ => String::new(),
    }
}

/// The distinct values a selector key has across the plan's cells.
fn selector_values(plan: &Plan, key: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for c in &plan.cells {
        let x = selector_value(plan, c, key);
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// A plan cell's selector (the name progress lines and reports give it).
fn cell_selector(plan: &Plan, c: &Cell) -> String {
    let holder = match c.holder.as_str() {
        "file" => String::new(),
        h => format!(",holder={h}"),
    };
    let holder = match c.certificate {
        Some(cert) => format!("{holder},certificate={cert}"),
        None => holder,
    };
    let v = |k| selector_value(plan, c, k);
    format!(
        "client={},key_tool={},key={},passphrase={}{holder},target={},user={}",
        v("client"),
        v("key_tool"),
        v("key"),
        v("passphrase"),
        v("target"),
        v("user")
    )
}
