//! `sshmatrix scan`: a live server (or an ssh-audit report of one), and every chosen client ×
//! key type predicted from what the server shows before login.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::impact;
use sshmatrix::matrix::{self, Catalog, Plan};
use sshmatrix::runner;
use sshmatrix::runner::blank_result;
use sshmatrix::scan::verify::{self, Verify};
use sshmatrix::scan::{self, ScanError, Seen, SigAlgs};
use sshmatrix::EXIT_OK;
use sshmatrix_reports::{render, Report};

use super::common::{choose_clients, environment_error, input_error};

/// Arguments of `sshmatrix scan`.
#[derive(clap::Args)]
pub struct ScanArgs {
    /// The server, HOST or HOST:PORT (port 22 by default). Only this address is contacted, and
    /// nothing authenticates: the scan ends each connection after the key exchange.
    #[arg(required_unless_present_any = ["from_ssh_audit", "targets"])]
    address: Option<String>,
    /// Instead: every host of FILE, in one report — a list (`HOST[:PORT]` per line, `#`
    /// comments), an OpenSSH client configuration (`Host` blocks with HostName and Port;
    /// patterns, Match, Include and jump hosts left out with a note), a known_hosts file
    /// (plain entries; hashed ones named) or an Ansible inventory in INI or YAML form (ansible_host,
    /// ansible_port; --group); a host that cannot be scanned is named, exit 3 only
    /// when none could be (pins from --known-hosts per host).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["address", "from_ssh_audit", "verify", "pin"])]
    targets: Option<PathBuf>,
    /// Weigh the clients the scan predicts locked out (×) by who really connects, from a
    /// `sshmatrix census --format json` of the servers' logs.
    #[arg(long, value_name = "CENSUS.json")]
    pub(super) population: Option<PathBuf>,
    /// With --targets of an Ansible inventory: only the hosts of this group (and its child
    /// groups); repeatable.
    #[arg(long, requires = "targets", value_name = "GROUP")]
    pub(super) group: Vec<String>,
    /// With --targets: hosts scanned at once (each host gets one connection at a time).
    #[arg(long, short, requires = "targets", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    jobs: u64,
    /// Take the server's facts from an ssh-audit JSON report (`ssh-audit -j HOST`) instead of
    /// connecting.
    #[arg(long, value_name = "REPORT.json", conflicts_with = "address")]
    from_ssh_audit: Option<PathBuf>,
    /// SHA256 fingerprints of host keys (comma-separated: one per key type) of which the server
    /// must prove at least one (exit 3 otherwise); `--verify` logs in only where the negotiated
    /// host key is among them.
    #[arg(
        long,
        value_name = "SHA256:…",
        value_delimiter = ',',
        conflicts_with = "known_hosts"
    )]
    pin: Vec<String>,
    /// Pin the host key of the address's plain entry in this known_hosts file (with
    /// --targets: each host's; a known_hosts file of targets pins its hosts itself).
    #[arg(long, value_name = "FILE")]
    pub(super) known_hosts: Option<PathBuf>,
    #[command(flatten)]
    cells: super::CellChoice,
    /// Where the server's PubkeyAcceptedAlgorithms cannot be seen (OpenSSH before 9.6), take
    /// its release's default instead of marking the cell `not-observable`; each such cell
    /// says so.
    #[arg(long)]
    assume_defaults: bool,
    /// Seconds to wait for each connection's identification, KEXINIT and key exchange.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(super) timeout: u64,
    /// Log in as USER for every cell the scan cannot decide, turning those predictions into
    /// measurements: with sshmatrix's keys (authorize them first: `--print-keys`, or
    /// `--deploy-key`), the host key pinned (`--pin`, else the key this scan saw), within
    /// `--auth-budget` failed logins.
    #[arg(long, value_name = "USER", conflicts_with = "from_ssh_audit")]
    verify: Option<String>,
    /// With --verify: print the authorized_keys lines of the keys a verify run uses, and stop
    /// (nothing is contacted).
    #[arg(long, requires = "verify")]
    print_keys: bool,
    /// With --verify: failed logins the account may spend per 900 s (faillock's default window),
    /// across runs; cells beyond it are deferred (`auth-budget-exhausted`).
    #[arg(long, requires = "verify", default_value_t = 2)]
    auth_budget: u32,
    /// With --verify: an admin private key that installs the keys for USER first.
    #[arg(long, requires = "verify", value_name = "FILE")]
    deploy_key: Option<PathBuf>,
    /// The account of --deploy-key (root, or USER itself).
    #[arg(long, requires = "deploy_key", default_value = "root")]
    deploy_user: String,
    #[command(flatten)]
    pub(super) out: super::ReportOut,
    #[command(flatten)]
    work: super::WorkDir,
}

impl ScanArgs {
    /// Hosts scanned at once with --targets.
    pub(super) fn jobs(&self) -> usize {
        self.jobs as usize
    }
}

/// Rows and columns of a scan's table: clients down, key types across.
const LAYOUT: (&[&str], &[&str]) = (
    &["client", "key_tool"],
    &["target", "user", "passphrase", "key"],
);

pub(super) use sshmatrix::scan::targets::split_address;

/// The server's facts: read from a report, or seen over the network.
fn observe(a: &ScanArgs) -> Result<Seen, ExitCode> {
    if let Some(file) = &a.from_ssh_audit {
        let text = sshmatrix::bounded::read_to_string(file, sshmatrix::bounded::MAX_REPORT)
            .map_err(|e| input_error(format!("{}: {e}", file.display())))?;
        return scan::from_ssh_audit(&text, &file.display().to_string())
            .map_err(|e| input_error(e.to_string()));
    }
    let given = a.address.as_deref().unwrap_or_default();
    let (host, port) = split_address(given).map_err(input_error)?;
    let timeout = Duration::from_secs(a.timeout);
    super::common::runtime()
        .block_on(scan::observe(&host, port, timeout))
        .map_err(|e| match e {
            ScanError::Report(m) => input_error(m),
            other => environment_error(format!(
                "{other}\n  hint: check the address and port (only that address is contacted; --timeout gives a slow server more time)"
            )),
        })
}

/// The pinned fingerprint, if any (`--pin`, or the address's known_hosts entry).
fn pin(a: &ScanArgs) -> Result<Option<String>, ExitCode> {
    if !a.pin.is_empty() {
        return Ok(Some(a.pin.join(",")));
    }
    let (Some(file), Some(address)) = (&a.known_hosts, &a.address) else {
        return Ok(None);
    };
    let (host, port) = split_address(address).map_err(input_error)?;
    matrix::known_hosts_pin(file, &host, port)
        .map(Some)
        .map_err(input_error)
}

/// Checks the host keys against a pin, or shows them for the user to pin.
fn check_pin(seen: &Seen, pin: Option<&str>) -> Result<(), ExitCode> {
    let shown: Vec<String> = seen
        .host_keys
        .iter()
        .map(|k| format!("{} {}", k.algorithm, k.fingerprint))
        .collect();
    match pin {
        Some(p) if seen.host_keys.iter().any(|k| p.split(',').any(|x| x == k.fingerprint)) => Ok(()),
        Some(p) => Err(environment_error(format!(
            "{}: no host key matches the pin {p} (the server proves: {}); a changed host key is how a man in the middle or a reinstalled server looks\n  hint: confirm the new key out of band before pinning it",
            seen.address,
            if shown.is_empty() { "none".into() } else { shown.join(", ") }
        ))),
        None => {
            for k in &shown {
                eprintln!("note: host key {k} (not pinned: pass --pin with it to notice a changed server next time)");
            }
            Ok(())
        }
    }
}

/// The plan of the prediction: the chosen clients × key types against one target standing
/// for the scanned server.
fn plan(
    a: &ScanArgs,
    seen: &Seen,
    profiles: &[sshmatrix_clients::Profile],
) -> Result<Plan, ExitCode> {
    let (_, tools, policies) = super::common::catalog_parts();
    let chosen = choose_clients("--clients", &a.cells.clients, profiles)?;
    let label = format!("{} ({})", seen.address, seen.hello.ident);
    let text = impact::matrix(
        &[("server", label, "upstream-9.2")],
        &chosen,
        &a.cells.keys,
        false,
        LAYOUT,
    );
    let catalog = Catalog::new(profiles, &tools, &policies);
    matrix::plan("scan", &text, None, &catalog).map_err(|e| {
        input_error(format!(
            "{e}\n  hint: --keys takes key specs such as rsa-2048, ecdsa-256, ed25519"
        ))
    })
}

/// What the report says of the scan as a whole.
fn notes(seen: &Seen, how: scan::Reading<'_>, source: &str) -> Vec<String> {
    let h = &seen.hello;
    let mut n = vec![
        format!("predicted from what the server shows before login ({source}); nothing authenticated"),
        format!("server: {}", h.ident),
        format!("kex: {}", h.kex.join(",")),
        format!("host keys: {}", h.hostkey.join(",")),
        format!("ciphers: {}", h.cipher_c2s.join(",")),
        format!("MACs: {}", h.mac_c2s.join(",")),
        format!("server-sig-algs: {}", match &seen.sig_algs {
            SigAlgs::BestRsa(b) => format!("lists {b} as its best RSA algorithm (the engine reads no more of the list)"),
            SigAlgs::NoRsa => "none, or no RSA algorithm in it".into(),
            SigAlgs::Listed(l) => format!("{} (read by this host's ssh through a relay that stops at NEWKEYS)", l.join(",")),
            SigAlgs::Unseen(why) => format!("not seen: {why}"),
        }),
        "every predicted login assumes the key is in the user's authorized keys, and for RSA keys that the server's minimum RSA size allows it: neither is observable without a login".into(),
    ];
    if how.assume_defaults {
        n.push("--assume-defaults: where PubkeyAcceptedAlgorithms cannot be seen, the OpenSSH release's default is assumed (each such cell says so)".into());
    }
    if let Some(p) = how.known {
        n.push(format!("identified as the build of policy `{}` ({}): what it verifies is taken from that policy", p.id, p.name));
    }
    n.extend(seen.notes.iter().cloned());
    n
}

/// Every cell predicted from the scan.
fn report(plan: &Plan, seen: &Seen, how: scan::Reading<'_>, source: &str) -> Report {
    let target = &plan.targets[0];
    let cells: Vec<_> = plan
        .cells
        .iter()
        .map(|cell| {
            let p = scan::predict(cell, target, seen, how);
            let mut r = blank_result(plan, cell);
            r.policy = how.known.map_or("scanned".into(), |k| k.id.clone());
            if let Ok(n) = sshmatrix_clients::negotiate(&cell.client.kexinit, &seen.hello) {
                (r.kex, r.hostkey, r.cipher) = (Some(n.kex), Some(n.hostkey), Some(n.cipher));
                r.mac = Some(n.mac.unwrap_or_else(|| "implicit".into()));
            }
            (r.verdict, r.code, r.stage) = (p.verdict, p.code.into(), p.stage);
            r.reason = format!("predicted: {}", p.reason);
            r.signature = p.signature.clone();
            (r.predicted_verdict, r.predicted_code) = (Some(p.verdict), Some(p.code.into()));
            if p.verdict == sshmatrix_reports::Verdict::Ok {
                r.notes = scan::assumptions(cell, seen);
            }
            r
        })
        .collect();
    // The server and the key types head the columns; the one user and passphrase setting of a
    // scan are no columns of their own.
    let keep: Vec<bool> = LAYOUT
        .1
        .iter()
        .map(|a| *a == "target" || *a == "key")
        .collect();
    let trim = |labels: &[String]| -> Vec<String> {
        labels
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| l.clone())
            .collect()
    };
    let mut cells = cells;
    for c in &mut cells {
        c.column = trim(&c.column);
    }
    let header = sshmatrix_reports::Header {
        matrix: format!("scan {}", seen.address),
        title: sshmatrix_core::tr!(
            sshmatrix_core::i18n::current(),
            "scan-title",
            address = seen.address.clone(),
            ident = seen.hello.ident.clone()
        ),
        matrix_digest: String::new(),
        plan_cells: plan.cells.len(),
        row_axes: plan.row_axes.clone(),
        column_axes: trim(&plan.column_axes),
        notes: notes(seen, how, source),
    };
    Report::new(header, cells)
}

/// The plan of a verify run: the scan's clients and keys against the server as a remote
/// target.
fn verify_plan(a: &ScanArgs, v: &Verify, label: &str) -> Result<Plan, ExitCode> {
    let (profiles, tools, policies) = super::common::catalog_parts();
    // A real client's driver does not run against remote targets: emulated clients only.
    let chosen: Vec<_> = choose_clients("--clients", &a.cells.clients, &profiles)?
        .into_iter()
        .filter(|p| p.driver.is_none())
        .collect();
    let block = verify::target_block(v, label);
    let text = impact::matrix_with(&[block], &chosen, &a.cells.keys, false, LAYOUT);
    // The admin key is the user's own --deploy-key: granted for this target.
    let grants = sshmatrix::grants::Grants {
        deploy_keys: v
            .deploy
            .iter()
            .map(|(_, k)| ("server".into(), k.clone()))
            .collect(),
        ..Default::default()
    };
    let catalog = Catalog::new(&profiles, &tools, &policies).with_grants(grants);
    matrix::plan("scan-verify", &text, None, &catalog).map_err(|e| input_error(e.to_string()))
}

/// The verify run's account and target as given (`pin`: the pinned fingerprint, if any).
fn verify_target(a: &ScanArgs, user: &str, pin: String) -> Result<Verify, ExitCode> {
    let (host, port) =
        split_address(a.address.as_deref().unwrap_or_default()).map_err(input_error)?;
    Ok(Verify {
        host,
        port,
        pin,
        user: user.to_string(),
        auth_budget: a.auth_budget,
        deploy: a.deploy_key.clone().map(|k| (a.deploy_user.clone(), k)),
    })
}

/// `--print-keys`: the authorized_keys lines of a verify run's keys (makes them).
fn print_keys(a: &ScanArgs, user: &str) -> ExitCode {
    let v = match verify_target(a, user, "SHA256:unknown".into()) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let plan = match verify_plan(a, &v, "keys") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let work_dir = work_dir!(a.work.work_dir.clone());
    let factory = match runner::key_factory(&work_dir) {
        Ok(f) => f,
        Err(e) => return super::common::fail_run(e),
    };
    let stop = Default::default();
    let keys = match super::common::runtime().block_on(runner::make_keys(&plan, &factory, 4, &stop))
    {
        Ok(k) => k,
        Err(e) => return super::common::fail_run(e),
    };
    println!(
        "# append to ~{user}/.ssh/authorized_keys on {}:{} (sshmatrix scan --verify {user})",
        v.host, v.port
    );
    for line in runner::authorized_lines(&plan, &keys, matrix::TargetId(0), Some(user)) {
        println!("{line}");
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `--verify`: logs in for the cells the scan left undecided and merges the measurements.
fn verify_cells(
    a: &ScanArgs,
    user: &str,
    seen: &Seen,
    pinned: Option<String>,
    report: &mut Report,
) -> Result<(), ExitCode> {
    // Without --pin, the host keys this scan saw are pinned (trust on first use, said in the
    // report's notes).
    let seen_keys: Vec<&str> = seen
        .host_keys
        .iter()
        .map(|k| k.fingerprint.as_str())
        .collect();
    let pin = pinned
        .or_else(|| (!seen_keys.is_empty()).then(|| seen_keys.join(",")))
        .ok_or_else(|| {
            environment_error(format!(
                "{}: no host key was seen, so none can be pinned for --verify",
                seen.address
            ))
        })?;
    let v = verify_target(a, user, pin.clone())?;
    let plan = verify_plan(a, &v, &format!("{} ({})", seen.address, seen.hello.ident))?;
    let cells = verify::cells_to_verify(&plan, report);
    if cells.is_empty() {
        eprintln!("note: --verify: the scan decided every cell it could log in for; no login made");
        return Ok(());
    }
    let subset = plan.subset(plan.targets.clone(), cells);
    let work_dir =
        sshmatrix::workdir::resolve(a.work.work_dir.clone()).map_err(super::common::fail_run)?;
    let mut opts = runner::Options::new(work_dir);
    opts.progress = runner::Progress::Off;
    let measured = match super::run::execute(subset.clone(), &subset, &opts, false) {
        None => return Err(ExitCode::from(sshmatrix::EXIT_INTERRUPTED as u8)),
        Some(Err(e)) => return Err(super::common::fail_run(e)),
        Some(Ok(r)) => r,
    };
    let n = verify::merge(report, &measured);
    // The report no longer only predicts: say so where a reader looks first.
    let lang = sshmatrix_core::i18n::current();
    report.title = report.title.replace(
        &sshmatrix_core::tr!(lang, "scan-predicted"),
        &sshmatrix_core::tr!(lang, "scan-predicted-measured", n = n, user = user),
    );
    for note in report.notes.iter_mut() {
        *note = note.replace("; nothing authenticated", "; --verify then logged in");
    }
    report.notes.push(format!(
        "--verify: {n} cells measured by logging in as {user} (host key {pin}; at most {} failed logins per account per window)",
        a.auth_budget
    ));
    Ok(())
}

/// One host's known_hosts pin checked (none given: nothing to check), as a reason when it fails.
pub(super) fn check_pin_quietly(
    known_hosts: Option<&std::path::Path>,
    host: &str,
    port: u16,
    seen: &Seen,
) -> Result<(), String> {
    let Some(file) = known_hosts else {
        return Ok(());
    };
    // No entry: unpinned. An entry whose key cannot be read pins nothing: not scanned.
    let pin = match matrix::known_hosts_pin(file, host, port) {
        Ok(pin) => pin,
        Err(e) if e.contains("bad key") => return Err(e),
        Err(_) => return Ok(()),
    };
    match seen
        .host_keys
        .iter()
        .any(|k| pin.split(',').any(|x| x == k.fingerprint))
    {
        true => Ok(()),
        false => Err(format!(
            "no host key matches its known_hosts entry ({pin}): confirm the new key out of band"
        )),
    }
}

/// One host's report: its plan and every cell predicted from what it showed.
pub(super) fn host_report(a: &ScanArgs, seen: &Seen) -> Result<Report, ExitCode> {
    let (profiles, _, policies) = super::common::catalog_parts();
    let plan = plan(a, seen, &profiles)?;
    let how = scan::Reading {
        known: scan::known_build(seen, &policies),
        assume_defaults: a.assume_defaults,
    };
    Ok(report(&plan, seen, how, "a key exchange per host key type"))
}

/// `sshmatrix scan`.
pub fn command(a: ScanArgs) -> ExitCode {
    if let Some(file) = a.targets.clone() {
        return super::fleet::command(&a, &file);
    }
    let pinned = match pin(&a) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let (Some(user), true) = (&a.verify, a.print_keys) {
        return print_keys(&a, user);
    }
    let seen = match observe(&a) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if a.from_ssh_audit.is_none() {
        if let Err(code) = check_pin(&seen, pinned.as_deref()) {
            return code;
        }
    }
    let (profiles, _, policies) = super::common::catalog_parts();
    let plan = match plan(&a, &seen, &profiles) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let how = scan::Reading {
        known: scan::known_build(&seen, &policies),
        assume_defaults: a.assume_defaults,
    };
    let source = match &a.from_ssh_audit {
        Some(f) => format!("the ssh-audit report {}", f.display()),
        None => "a key exchange per host key type".into(),
    };
    let mut report = report(&plan, &seen, how, &source);
    if let Some(user) = &a.verify {
        if let Err(code) = verify_cells(&a, user, &seen, pinned, &mut report) {
            return code;
        }
    }
    super::scan::emit_weighed(&a, &report)
}

/// Writes the report, then (with --population) the locked-out clients weighed by the census:
/// after a table on standard output, else on standard error.
pub(super) fn emit_weighed(a: &ScanArgs, report: &Report) -> ExitCode {
    let format = a.out.format().into();
    if let Err(code) = super::common::emit(&render(report, format), a.out.output.as_deref()) {
        return code;
    }
    let Some(path) = &a.population else {
        return ExitCode::from(EXIT_OK as u8);
    };
    let mut broken: Vec<String> = report
        .cells
        .iter()
        .filter(|c| c.verdict == sshmatrix_reports::Verdict::Fail)
        .map(|c| c.client.clone())
        .collect();
    broken.dedup();
    match super::census::weigh_by(path, &broken) {
        Ok(text) if a.out.output.is_none() && format == sshmatrix_reports::Format::Table => {
            print!("{text}");
            ExitCode::from(EXIT_OK as u8)
        }
        Ok(text) => {
            eprint!("{text}");
            ExitCode::from(EXIT_OK as u8)
        }
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::split_address;

    #[test]
    fn addresses_split_with_port_22_by_default() {
        assert_eq!(split_address("host").unwrap(), ("host".into(), 22));
        assert_eq!(
            split_address("10.1.2.3:2222").unwrap(),
            ("10.1.2.3".into(), 2222)
        );
        assert_eq!(split_address("[::1]:2222").unwrap(), ("::1".into(), 2222));
        assert_eq!(split_address("::1").unwrap(), ("::1".into(), 22));
        assert!(split_address("host:0").is_err());
        assert!(split_address("host:ssh").is_err());
    }
}
