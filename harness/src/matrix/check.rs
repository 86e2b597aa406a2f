//! Checks on a planned matrix that the parser cannot make alone: combinations the runner
//! cannot run (refused at `check`, not discovered as `error` cells), container account names
//! and run settings. Each refusal names the file, the line and column of what it is about (a
//! TOML span of the file as written), and a fix.

use std::ops::Range;

use sshmatrix_servers::ServerKind;

use super::ctx::Ctx;
use super::raw::{RawMatrix, RawTarget};
use super::{Cell, InputError, Plan, Target};

/// The most characters a container account name may have (Debian's useradd).
const MAX_USER: usize = 32;

/// The matrix as written, beside its plan: where each thing is, for messages.
pub(super) struct Written<'a> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) raw: &'a RawMatrix,
}

impl Written<'_> {
    fn err(&self, span: Range<usize>, message: String, hint: &str) -> InputError {
        self.ctx.err(span, message, Some(hint.to_string()))
    }

    /// The raw target of plan target `t` (the plan keeps the file's order).
    fn target(&self, plan: &Plan, t: &Target) -> &RawTarget {
        let i = plan
            .targets
            .iter()
            .position(|x| x.id == t.id)
            .expect("a plan target");
        &self.raw.targets.get_ref()[i]
    }

    /// Where the file names client `id` first (a pair, or the clients list).
    fn client(&self, id: &str) -> Range<usize> {
        let axes = &self.raw.axes;
        let pairs = axes
            .pairs
            .iter()
            .flat_map(|p| p.get_ref())
            .map(|p| &p.client);
        let listed = axes.clients.iter().flat_map(|c| c.get_ref());
        pairs
            .chain(listed)
            .find(|c| c.get_ref() == id)
            .map_or(axes.keys.span(), |c| c.span())
    }
}

/// Runs every check.
pub(super) fn check(w: &Written, plan: &Plan) -> Result<(), InputError> {
    for t in &plan.targets {
        if t.image().is_some() {
            container_users(w, w.target(plan, t), &t.id)?;
        }
        if t.policy.server != ServerKind::Openssh {
            facts_target(w, plan, t)?;
        }
    }
    if plan.cells.is_empty() {
        let forwarded = w
            .raw
            .axes
            .holders
            .iter()
            .flat_map(|h| h.get_ref())
            .find(|h| h.get_ref() == "agent-forwarded")
            .map_or(w.raw.axes.keys.span(), |h| h.span());
        return Err(w.err(
            forwarded,
            "the matrix expands to no cells".into(),
            "`agent-forwarded` cells need a target with `via = \"JUMP-HOST\"`; add one, or another holder",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for cell in &plan.cells {
        let t = &plan.targets[cell.target];
        if seen.insert((cell.client.id.as_str(), cell.holder, cell.target)) {
            runnable(w, plan, cell, &t.id)?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    for cell in plan.cells.iter().filter(|c| c.certificate.is_some()) {
        if seen.insert((cell.client.id.as_str(), cell.holder, cell.target)) {
            certifiable(w, plan, cell)?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    let host_certified = |c: &&Cell| plan.targets[c.target].scenario.host_cert().is_some();
    for cell in plan.cells.iter().filter(host_certified) {
        if seen.insert((cell.client.id.as_str(), cell.target)) {
            host_verifiable(w, plan, cell)?;
        }
    }
    let account = |c: &&Cell| c.holder.uses_account_password();
    for cell in plan.cells.iter().filter(account) {
        account_password(w, plan, cell)?;
    }
    Ok(())
}

/// A problem found in a cell (message, hint) refused at `span`, the axis it is about.
fn refuse(
    w: &Written,
    span: Range<usize>,
    problem: Option<(String, &str)>,
) -> Result<(), InputError> {
    match problem {
        None => Ok(()),
        Some((message, hint)) => Err(w.err(span, message, hint)),
    }
}

/// Whether a cell that gives the account's password (`file+password`, `keyboard-interactive`,
/// `file+keyboard-interactive`) can run: a real client, a key without a passphrase (ssh's
/// askpass answers one secret), against a container OpenSSH target (its accounts get the run's
/// password) reached directly.
fn account_password(w: &Written, plan: &Plan, cell: &Cell) -> Result<(), InputError> {
    let t = &plan.targets[cell.target];
    let client = &cell.client.id;
    let holder = cell.holder;
    let problem = if cell.client.driver.is_none() {
        Some((
            format!("`{holder}` cells run with real clients so far (`{client}` is emulated)"),
            "use real-openssh-*, real-putty-*, real-paramiko-* or real-go-x-crypto-*",
        ))
    } else if cell.passphrase && holder.uses_key() {
        Some((
            format!("`{holder}` cells take keys without a passphrase (one secret per cell)"),
            "list passphrase = [\"no\"] with this holder, or split the matrix",
        ))
    } else if t.policy.server != ServerKind::Openssh || t.image().is_none() || t.via.is_some() {
        Some((
            format!("target `{}`: `{holder}` cells need real accounts with a password: a container OpenSSH target, reached directly", t.id),
            "give the target kind = \"container\" and an image, or split the matrix",
        ))
    } else {
        None
    };
    let axis = w.raw.axes.holders.as_ref();
    refuse(w, axis.map_or(w.client(client), |h| h.span()), problem)
}

/// Whether a certificate cell can run: a client that presents certificates (its profile says
/// so; a real one through a driver that can be given one) from a key file, against an OpenSSH target sshmatrix configures (local or container, no jump host).
fn certifiable(w: &Written, plan: &Plan, cell: &Cell) -> Result<(), InputError> {
    let t = &plan.targets[cell.target];
    let client = &cell.client.id;
    let problem = match cell.client.driver {
        _ if !cell.client.user_certificates => Some((
            format!("`{client}` has no sourced fact that it presents user certificates (its profile's `user_certificates`)"),
            "use a client whose profile says it does (OpenSSH, PuTTY 0.78 and later, paramiko, AsyncSSH, Go x/crypto; see `sshmatrix profiles`), or drop it from the certificate cells",
        )),
        Some(d) if !d.supports_certificates() => Some((
            format!("sshmatrix cannot give the {} driver (`{client}`) a certificate yet", d.name()),
            "use real-openssh-*, real-putty-0.78+, real-paramiko-*, real-asyncssh-* or real-go-x-crypto-* for the certificate cells",
        )),
        // Real ssh also signs with an agent's key and sends the certificate file
        // (CertificateFile with IdentityAgent).
        d if cell.holder != super::Holder::File
            && !(cell.holder == super::Holder::Agent && d == Some(sshmatrix_clients::Driver::Ssh)) =>
        {
            Some((
                format!("certificate cells hold their key in a file (or, for real ssh, in an agent); `{client}` has holder `{}`", cell.holder.as_str()),
                "list holders = [\"file\"] with certificates (or \"agent\" with real-openssh-*), or split the matrix",
            ))
        }
        _ if t.policy.server != ServerKind::Openssh
            || !matches!(t.backend, super::Backend::Local | super::Backend::Container(_))
            || t.via.is_some() =>
        {
            Some((
                format!("target `{}`: certificate cells run against local and container OpenSSH targets without a jump host (sshmatrix makes them trust the run's CA)", t.id),
                "give the certificates another target, or split the matrix",
            ))
        }
        _ => None,
    };
    let axis = w.raw.axes.certificates.as_ref();
    refuse(w, axis.map_or(w.client(client), |c| c.span()), problem)
}

/// Whether a cell can run against a target that presents host certificates: a real client
/// sshmatrix can give a known_hosts file trusting the run's host CA (whether it understands
/// host certificates is its profile's fact), reached directly and not a jump host.
fn host_verifiable(w: &Written, plan: &Plan, cell: &Cell) -> Result<(), InputError> {
    let t = &plan.targets[cell.target];
    let client = &cell.client.id;
    let jump = plan.targets.iter().any(|o| o.via == Some(cell.target));
    let problem = if !cell.client.driver.is_some_and(|d| d.checks_known_hosts()) {
        Some((
            format!("target `{}`: host keys are checked against the run's host CA by real ssh, paramiko, AsyncSSH and Go x/crypto clients so far (`{client}` is not one)", t.id),
            "use real-openssh-*, real-paramiko-*, real-asyncssh-* or real-go-x-crypto-* clients for targets with host_certificate, or split the matrix",
        ))
    } else if cell.client.host_certificates.is_none() {
        Some((
            format!("`{client}` has no sourced fact whether it verifies host certificates (its profile's `host_certificates`)"),
            "use a client whose profile says (OpenSSH, paramiko 3.5.1, AsyncSSH 2.24.1, Go x/crypto 0.0.20201221 and 0.25.0; see `sshmatrix profiles --long`), or split the matrix",
        ))
    } else if t.via.is_some() || jump {
        Some((
            format!("target `{}`: host certificates are made for targets reached directly, not through or as a jump host", t.id),
            "drop via for this target, or split the matrix",
        ))
    } else {
        None
    };
    let span = w.target(plan, t).scenario.as_ref().map(|s| s.span());
    refuse(w, span.unwrap_or_else(|| w.client(client)), problem)
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

/// A problem found in a matrix: where it is, what is wrong, how to fix it.
type Problem = (Range<usize>, String, String);

/// A Dropbear or TinySSH target runs in an image with that release of its server (or is a
/// remote host expected to run it), takes no sshd_config lines and no scenario, and is no jump
/// host; it serves only the host key types its policy lists.
fn facts_target(w: &Written, plan: &Plan, t: &Target) -> Result<(), InputError> {
    let via = plan
        .targets
        .iter()
        .find(|x| x.via.is_some_and(|v| plan.targets[v].id == t.id));
    let name = t.policy.server.name();
    let raw = w.target(plan, t);
    let whole = raw.id.span();
    let or_whole = |s: Option<Range<usize>>| s.unwrap_or(whole.clone());
    let problem = server_release(t, raw).or_else(|| match () {
        _ if !t.sshd.is_empty() => Some((
            raw.sshd[0].span(),
            format!("target `{}`: `sshd` lines are OpenSSH sshd_config directives; this target runs {name}", t.id),
            format!("remove them: a {name} target is configured by its policy's `options`"),
        )),
        // TinySSH serves Ed25519 only, Twisted 20.3 cannot read an Ed25519 key, an emulated
        // release serves what the release did.
        _ if t.host_keys.iter().any(|k| !t.policy.host_keys.contains(k)) => Some((
            or_whole(raw.host_keys.as_ref().map(|h| h.span())),
            format!(
                "target `{}`: {} serves {} host keys only",
                t.id,
                t.policy.server_release(),
                t.policy.host_keys.join(", ")
            ),
            format!(
                "host_keys = [{}] (or leave it out)",
                t.policy
                    .host_keys
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ if t.via.is_some() => Some((
            or_whole(raw.via.as_ref().map(|v| v.span())),
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
                or_whole(raw.scenario.as_ref().map(|s| s.span())),
                format!("target `{}`: troubleshooting scenarios other than `authorized_keys` run on OpenSSH targets only", t.id),
                "use an OpenSSH policy for this target, or keep only `authorized_keys` in the scenario".into(),
            ))
        }
        _ => via.map(|x| {
            let from = &w.target(plan, x).via;
            (
                from.as_ref().map_or(whole.clone(), |v| v.span()),
                format!("target `{}` goes through `{}`, a {name} target; jump hosts run OpenSSH here", x.id, t.id),
                "name an OpenSSH target as the jump host".into(),
            )
        }),
    });
    match problem {
        None => Ok(()),
        Some((span, message, hint)) => Err(w.err(span, message, &hint)),
    }
}

/// The release image whose server is the policy's server release, for a policy whose server
/// runs in a container here (Dropbear, TinySSH); `None` for OpenSSH and AsyncSSH policies.
pub fn release_image(policy: &sshmatrix_servers::Policy) -> Option<&'static str> {
    use sshmatrix_servers::ServerKind;
    let kind = policy.server;
    if kind == ServerKind::Openssh || kind.on_this_host() {
        return None;
    }
    let version = &policy.facts.as_ref()?.version;
    sshmatrix_servers::container::recipes()
        .iter()
        .find(|r| r.server_version(kind) == Some(version.as_str()))
        .map(|r| r.name.as_str())
}

/// Whether `t` runs where its policy's server release is: in a container of an image with
/// that release, or on a remote host (AsyncSSH: on this host).
fn server_release(t: &Target, raw: &RawTarget) -> Option<Problem> {
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
    let image_at = || raw.image.as_ref().map_or(raw.id.span(), |i| i.span());
    match (t.image(), t.remote()) {
        // A library's server runs on this host, from the library's own installation.
        (Some(_), _) if kind.on_this_host() => Some((
            image_at(),
            format!("target `{}`: policy `{policy}` is the {name} server, which runs on this host, not in a container", t.id),
            "drop `kind` and `image` for this target".into(),
        )),
        _ if kind.on_this_host() => None,
        (None, None) => Some((
            raw.policy.span(),
            format!(
                "target `{}`: policy `{policy}` is a {name} server, which runs in a container here",
                t.id
            ),
            format!("add kind = \"container\", image = \"{with_it}\" ({name} {version})"),
        )),
        (Some(img), _) if img.server_version(kind) != Some(version.as_str()) => Some((
            image_at(),
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

fn container_users(w: &Written, raw: &RawTarget, target: &str) -> Result<(), InputError> {
    for spanned in raw.users.get_ref() {
        let u = spanned.get_ref();
        let first_ok = u.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_');
        let rest_ok = u
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "_-".contains(ch));
        if u.len() > MAX_USER || !first_ok || !rest_ok {
            return Err(w.err(
                spanned.span(),
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
fn runnable(w: &Written, plan: &Plan, cell: &Cell, target: &str) -> Result<(), InputError> {
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
    } else if t.remote().is_some() {
        Some(format!(
            "real client `{client}` runs against local and container targets, not the remote target `{target}`"
        ))
    } else if !t.scenario.real_clients_run() {
        Some(format!(
            "real client `{client}` runs against plain targets only; target `{target}` has a troubleshooting or hostile-server scenario"
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(w.err(
            w.client(client),
            p,
            "use an emulated profile of the same client for these cells (see `sshmatrix profiles`), or split the matrix",
        )),
    }
}

/// Checks `[run]` numbers: a timeout of 0 and jobs outside 1..=`max_jobs` are refused.
pub(super) fn run_settings(w: &Written, max_jobs: usize) -> Result<(), InputError> {
    let Some(run) = &w.raw.run else {
        return Ok(());
    };
    if let Some(t) = run.timeout_secs.as_ref().filter(|t| *t.get_ref() == 0) {
        return Err(w.err(
            t.span(),
            "timeout_secs = 0 would time every cell out before it starts".into(),
            "give at least 1 (the default is 20)",
        ));
    }
    if let Some(j) = run
        .jobs
        .as_ref()
        .filter(|j| *j.get_ref() == 0 || *j.get_ref() > max_jobs)
    {
        return Err(w.err(
            j.span(),
            format!("jobs = {} is out of range", j.get_ref()),
            &format!("give 1 to {max_jobs} (the default is 4 per core)"),
        ));
    }
    Ok(())
}
