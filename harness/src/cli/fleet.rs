//! `sshmatrix scan --targets FILE`: every host of a list scanned (at most `--jobs` hosts at once,
//! one connection at a time to each host), one report of hosts × clients × key types, each host's
//! cells exactly what a scan of that host alone gives; a host that cannot be scanned is named
//! with why, and only when no host could be is the exit 3.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::scan::{self, ScanError, Seen};
use sshmatrix_reports::Report;

use super::common::{environment_error, input_error};
use super::scan::{check_pin_quietly, host_report, ScanArgs};

/// The hosts of a targets file (a list, an OpenSSH client configuration, a known_hosts file or
/// an Ansible inventory, limited to `groups`), with the notes of what was left out.
pub fn read_targets(
    file: &Path,
    groups: &[String],
) -> Result<sshmatrix::scan::targets::Hosts, ExitCode> {
    let text = sshmatrix::bounded::read_to_string(file, sshmatrix::bounded::MAX_CONFIG)
        .map_err(|e| input_error(format!("{}: {e}", file.display())))?;
    let name = file.display().to_string();
    let hosts = sshmatrix::scan::targets::read_groups(&text, &name, groups).map_err(input_error)?;
    if hosts.hosts.is_empty() {
        return Err(input_error(format!(
            "{}: no host in it{}\n  hint: one HOST or HOST:PORT per line, `Host` blocks of an OpenSSH client configuration, a known_hosts file, or an Ansible inventory (INI or YAML)",
            file.display(),
            match hosts.notes.is_empty() {
                true => String::new(),
                false => format!(" ({})", hosts.notes.join("; ")),
            }
        )));
    }
    Ok(hosts)
}

/// Observes every host, `jobs` at a time.
async fn observe_all(
    hosts: &[(String, u16)],
    jobs: usize,
    timeout: Duration,
) -> Vec<Result<Seen, ScanError>> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let tasks: Vec<_> = hosts
        .iter()
        .map(|(h, p)| {
            let (h, p, gate) = (h.clone(), *p, gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                scan::observe(&h, p, timeout).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(
            t.await
                .unwrap_or_else(|e| Err(ScanError::Report(e.to_string()))),
        );
    }
    out
}

/// `scan --targets FILE`.
pub fn command(a: &ScanArgs, file: &Path) -> ExitCode {
    let listed = match read_targets(file, &a.group) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let hosts = listed.hosts;
    let timeout = Duration::from_secs(a.timeout);
    let rt = super::common::runtime();
    let seen = rt.block_on(observe_all(&hosts, a.jobs(), timeout));
    // A known_hosts file of targets pins each host by its own entry unless --known-hosts says
    // otherwise.
    let from_known_hosts = (listed.kind == "known_hosts").then_some(file);
    let pins = a.known_hosts.as_deref().or(from_known_hosts);
    let mut reports = Vec::new();
    let mut notes = listed.notes;
    if listed.kind != "list" {
        let groups = match a.group.is_empty() {
            true => String::new(),
            false => format!(", groups {}", a.group.join(", ")),
        };
        let from = format!("{} ({}{groups})", file.display(), listed.kind);
        notes.insert(0, format!("hosts from {from}: {}", hosts.len()));
    }
    let mut groups = Vec::new();
    for (((host, port), s), group) in hosts.iter().zip(seen).zip(&listed.groups) {
        let address = format!("{host}:{port}");
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                notes.push(format!("{address}: not scanned: {e}"));
                continue;
            }
        };
        if let Err(why) = check_pin_quietly(pins, host, *port, &s) {
            notes.push(format!("{address}: not scanned: {why}"));
            continue;
        }
        match host_report(a, &s) {
            Ok(r) => {
                reports.push(r);
                groups.push(group.clone());
            }
            Err(code) => return code,
        }
    }
    if reports.is_empty() {
        return environment_error(format!(
            "no host of {} could be scanned:\n  {}",
            file.display(),
            notes.join("\n  ")
        ));
    }
    let fleet = join(reports, &groups, notes, hosts.len(), file);
    super::scan::emit_weighed(a, &fleet)
}

/// One report of every host's cells: each host its own target (its address), its notes
/// prefixed with it, the hosts not scanned named; the columns grouped by the inventory groups
/// the hosts are listed under (`groups`, one per report), when they come from an inventory.
fn join(
    reports: Vec<Report>,
    groups: &[String],
    mut notes: Vec<String>,
    listed: usize,
    file: &Path,
) -> Report {
    let scanned = reports.len();
    let first = reports.first().cloned().expect("at least one host");
    let grouped = groups.iter().any(|g| !g.is_empty());
    let mut cells = Vec::new();
    for (r, group) in reports.into_iter().zip(groups) {
        let address = r.matrix.trim_start_matches("scan ").to_string();
        for n in &r.notes {
            notes.push(format!("{address}: {n}"));
        }
        for mut c in r.cells {
            c.target = address.clone();
            c.index = cells.len();
            if grouped {
                c.column.insert(0, group.clone());
            }
            cells.push(c);
        }
    }
    let mut column_axes = first.column_axes.clone();
    if grouped {
        column_axes.insert(0, "Group".into());
    }
    notes.insert(
        0,
        format!("{scanned} of {listed} hosts scanned, one connection at a time to each; nothing authenticated"),
    );
    let lockouts = sshmatrix::scan::fleet::lockouts(&cells, scanned);
    let undecided = cells.iter().filter(|c| c.mark() == "?").count();
    let lang = sshmatrix_core::i18n::current();
    let summary = match (lockouts.is_empty(), undecided) {
        (true, 0) => vec![sshmatrix_core::tr!(
            lang,
            "fleet-no-lockout",
            hosts = scanned
        )],
        (true, n) => vec![sshmatrix_core::tr!(
            lang,
            "fleet-no-lockout-undecided",
            hosts = scanned,
            n = n
        )],
        (false, _) => lockouts,
    };
    notes.splice(1..1, summary);
    let header = sshmatrix_reports::Header {
        matrix: format!("scan --targets {}", file.display()),
        title: sshmatrix_core::tr!(
            lang,
            "scan-title-fleet",
            hosts = scanned,
            file = file.display().to_string()
        ),
        matrix_digest: String::new(),
        plan_cells: cells.len(),
        row_axes: first.row_axes.clone(),
        column_axes,
        notes,
    };
    Report::new(header, cells)
}
