//! Checks on a planned matrix that the parser cannot make alone: combinations the runner
//! cannot run (refused at `check`, not discovered as `error` cells), sshd lines that would read
//! files or run commands as the invoking user, container account names, run settings and the
//! codes expectation rules name. Each refusal names the file, a line and column, and a fix.

use sshmatrix_servers::ServerKind;

use crate::matrix::{Cell, InputError, Plan, Target};

/// The most characters a container account name may have (Debian's useradd).
const MAX_USER: usize = 32;

/// Where `needle` first appears in `text` (1-based line and column), for messages.
fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    let at = text.find(needle)?;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, needle: &str, message: String, hint: &str) -> InputError {
        InputError {
            file: self.file.to_string(),
            position: locate(self.text, needle),
            message,
            hint: Some(hint.to_string()),
        }
    }
}

/// Runs every check.
pub fn check(file: &str, text: &str, plan: &Plan) -> Result<(), InputError> {
    let c = Checker { file, text };
    for t in &plan.targets {
        if t.image.is_some() {
            container_users(&c, &t.id, &t.users)?;
        }
        if t.policy.server != ServerKind::Openssh {
            facts_target(&c, plan, t)?;
        }
    }
    if plan.cells.is_empty() {
        return Err(c.err(
            "agent-forwarded",
            "the matrix expands to no cells".into(),
            "`agent-forwarded` cells need a target with `via = \"JUMP-HOST\"`; add one, or another holder",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for cell in &plan.cells {
        let t = &plan.targets[cell.target];
        if seen.insert((cell.client.id.as_str(), cell.holder, cell.target)) {
            runnable(&c, plan, cell, &t.id)?;
        }
    }
    Ok(())
}

/// The sshd lines of a plan that read files or run commands: (target id, line).
pub fn unsafe_lines(plan: &Plan) -> Vec<(&str, &str)> {
    use sshmatrix_servers::directive;
    plan.targets
        .iter()
        .flat_map(|t| t.sshd.iter().map(move |l| (t.id.as_str(), l.as_str())))
        .filter(|(_, l)| directive::parse(l).is_some_and(|d| directive::is_unsafe(&d)))
        .collect()
}

/// A problem found in a matrix: where to point, what is wrong, how to fix it.
type Problem = (String, String, String);

/// A Dropbear or TinySSH target runs in an image with that release of its server (or is a
/// remote host expected to run it), takes no sshd_config lines and no scenario, and is no jump
/// host; TinySSH serves Ed25519 host keys only.
fn facts_target(c: &Checker, plan: &Plan, t: &Target) -> Result<(), InputError> {
    let via = plan
        .targets
        .iter()
        .find(|x| x.via.is_some_and(|v| plan.targets[v].id == t.id));
    let name = t.policy.server.name();
    let problem = server_release(t).or_else(|| match () {
        _ if !t.sshd.is_empty() => Some((
            t.sshd[0].clone(),
            format!("target `{}`: `sshd` lines are OpenSSH sshd_config directives; this target runs {name}", t.id),
            format!("remove them: a {name} target is configured by its policy's `options`"),
        )),
        _ if t.policy.server == ServerKind::Tinyssh && t.host_keys != ["ed25519"] => Some((
            "host_keys".into(),
            format!("target `{}`: TinySSH serves an Ed25519 host key only", t.id),
            "host_keys = [\"ed25519\"] (or leave it out)".into(),
        )),
        _ if t.via.is_some() => Some((
            "via".into(),
            format!("target `{}`: a {name} target behind a jump host is not supported yet", t.id),
            "drop `via` for this target".into(),
        )),
        // Which keys are registered works for every server; the other knobs are OpenSSH's.
        _ if crate::matrix::Scenario {
            authorized_keys: crate::matrix::Registered::Matrix,
            ..t.scenario.clone()
        } != crate::matrix::Scenario::default() =>
        {
            Some((
                "scenario".into(),
                format!("target `{}`: troubleshooting scenarios other than `authorized_keys` run on OpenSSH targets only", t.id),
                "use an OpenSSH policy for this target, or keep only `authorized_keys` in the scenario".into(),
            ))
        }
        _ => via.map(|x| {
            (
                "via".into(),
                format!("target `{}` goes through `{}`, a {name} target; jump hosts run OpenSSH here", x.id, t.id),
                "name an OpenSSH target as the jump host".into(),
            )
        }),
    });
    match problem {
        None => Ok(()),
        Some((needle, message, hint)) => Err(c.err(&needle, message, &hint)),
    }
}

/// The release image whose server is the policy's server release, for a policy whose server
/// runs in a container here (Dropbear, TinySSH); `None` for OpenSSH and AsyncSSH policies.
pub fn release_image(policy: &sshmatrix_servers::Policy) -> Option<&'static str> {
    use sshmatrix_servers::ServerKind;
    let kind = policy.server;
    if matches!(kind, ServerKind::Openssh | ServerKind::Asyncssh) {
        return None;
    }
    let version = &policy.facts.as_ref()?.version;
    sshmatrix_servers::container::recipes()
        .iter()
        .find(|r| r.server_version(kind) == Some(version.as_str()))
        .map(|r| r.name)
}

/// Whether `t` runs where its policy's server release is: in a container of an image with
/// that release, or on a remote host (AsyncSSH: on this host).
fn server_release(t: &Target) -> Option<Problem> {
    let kind = t.policy.server;
    let name = kind.name();
    let version = &t
        .policy
        .facts
        .as_ref()
        .expect("the policy has facts")
        .version;
    let policy = &t.policy.id;
    let with_it = release_image(&t.policy).unwrap_or("bookworm");
    match (&t.image, &t.remote) {
        // A library's server runs on this host, from the library's own installation.
        (Some(img), _) if kind == ServerKind::Asyncssh => Some((
            format!("\"{}\"", img.name),
            format!("target `{}`: policy `{policy}` is the {name} server, which runs on this host, not in a container", t.id),
            "drop `kind` and `image` for this target".into(),
        )),
        _ if kind == ServerKind::Asyncssh => None,
        (None, None) => Some((
            format!("\"{policy}\""),
            format!(
                "target `{}`: policy `{policy}` is a {name} server, which runs in a container here",
                t.id
            ),
            format!("add kind = \"container\", image = \"{with_it}\" ({name} {version})"),
        )),
        (Some(img), _) if img.server_version(kind) != Some(version.as_str()) => Some((
            format!("\"{}\"", img.name),
            format!(
                "target `{}`: image `{}` has {}, not {name} {version} (policy `{policy}`)",
                t.id,
                img.name,
                img.server_version(kind)
                    .map_or(format!("no {name}"), |v| format!("{name} {v}")),
            ),
            format!("use image = \"{with_it}\", or the policy of that image's {name}"),
        )),
        _ => None,
    }
}

fn container_users(c: &Checker, target: &str, users: &[String]) -> Result<(), InputError> {
    for u in users {
        let first_ok = u.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_');
        let rest_ok = u
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "_-".contains(ch));
        if u.len() > MAX_USER || !first_ok || !rest_ok {
            return Err(c.err(
                &format!("\"{u}\""),
                format!(
                    "container target `{target}`: user `{u}` cannot be an account there (at most {MAX_USER} characters: lower-case letters, digits, '_' and '-', starting with a letter or '_')"
                ),
                "e.g. users = [\"nutanix\", \"admin\"]",
            ));
        }
    }
    Ok(())
}

/// Whether the runner can run this client with this holder against this target.
fn runnable(c: &Checker, plan: &Plan, cell: &Cell, target: &str) -> Result<(), InputError> {
    let t = &plan.targets[cell.target];
    let client = &cell.client.id;
    let Some(driver) = cell.client.driver else {
        return Ok(());
    };
    let problem = if !driver.runs(cell.holder, t.via.is_some()) {
        Some(format!(
            "the {} driver (`{client}`) cannot run holder `{}`{}",
            driver.name(),
            cell.holder.as_str(),
            if t.via.is_some() {
                " through a jump host (`via`)"
            } else {
                ""
            }
        ))
    } else if t.remote.is_some() {
        Some(format!(
            "real client `{client}` runs against local and container targets, not the remote target `{target}`"
        ))
    } else if t.scenario != crate::matrix::Scenario::default() {
        Some(format!(
            "real client `{client}` runs against plain targets only; target `{target}` has a troubleshooting or hostile-server scenario"
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(c.err(
            &format!("\"{client}\""),
            p,
            "use an emulated profile of the same client for these cells (see `sshmatrix profiles`), or split the matrix",
        )),
    }
}

/// Checks `[run]` numbers: a timeout of 0 and jobs outside 1..=`max_jobs` are refused.
pub fn run_settings(
    file: &str,
    text: &str,
    jobs: Option<usize>,
    timeout: Option<u64>,
    max_jobs: usize,
) -> Result<(), InputError> {
    let c = Checker { file, text };
    if timeout == Some(0) {
        return Err(c.err(
            "timeout_secs",
            "timeout_secs = 0 would time every cell out before it starts".into(),
            "give at least 1 (the default is 20)",
        ));
    }
    if let Some(j) = jobs.filter(|j| *j == 0 || *j > max_jobs) {
        return Err(c.err(
            "jobs",
            format!("jobs = {j} is out of range"),
            &format!("give 1 to {max_jobs} (the default is 4 per core)"),
        ));
    }
    Ok(())
}
