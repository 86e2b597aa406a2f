//! `sshmatrix impact`: an sshd_config run against every chosen client before it is deployed,
//! and (with `--from`) what changes against the configuration in use now.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sshmatrix::impact::{self, NEW, NOW};
use sshmatrix::matrix::{self, Catalog, Plan};
use sshmatrix::runner::{self, Options, RunError};
use sshmatrix::{EXIT_ENVIRONMENT, EXIT_EXPECTATIONS, EXIT_INTERRUPTED, EXIT_OK};
use sshmatrix_reports::{diff, render, Format, Report};
use sshmatrix_servers::sshd::{find_sshd, parse_release, sshd_version, HostKeyStore};
use sshmatrix_servers::Policy;

use super::common::{choose_clients, input_error};

/// Arguments of `sshmatrix impact`.
#[derive(clap::Args)]
pub struct ImpactArgs {
    /// The sshd_config to assess (checked with `sshd -t` first).
    #[arg(long = "sshd-config", value_name = "NEW")]
    new: PathBuf,
    /// With --from: weigh the regressions by who really connects, from a `sshmatrix census
    /// --format json` of the servers' logs ("breaks 1 of 3 distinct clients, 212 of 5380 logins").
    #[arg(long, value_name = "CENSUS.json", requires = "from")]
    population: Option<PathBuf>,
    /// The sshd_config in use now: both run, and the cells that change are listed (regressions
    /// first; exit 1 on any regression).
    #[arg(long, value_name = "OLD")]
    from: Option<PathBuf>,
    #[command(flatten)]
    cells: super::CellChoice,
    /// Also run every cell with a passphrase-protected key.
    #[arg(long)]
    passphrase: bool,
    #[command(flatten)]
    out: super::ReportOut,
    #[command(flatten)]
    work: super::WorkDir,
    /// No per-cell progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// One configuration file, checked by sshd and read: its policy and what it does not apply.
fn assess(sshd: &Path, file: &Path, id: &str, host_key: &Path) -> Result<Policy, ExitCode> {
    let text =
        sshmatrix::bounded::read_to_string(file, sshmatrix::bounded::MAX_CONFIG).map_err(|e| {
            input_error(format!(
                "{}: {e}\n  hint: give the path of an sshd_config file",
                file.display()
            ))
        })?;
    let reading = impact::read(&text);
    if !reading.not_directives.is_empty() {
        let lines: Vec<String> = reading
            .not_directives
            .iter()
            .take(10)
            .map(usize::to_string)
            .collect();
        return Err(input_error(format!(
            "{}: line {}: not an sshd_config directive (lines are not shown: the file may not be an sshd_config and could hold secrets)\n  hint: give the path of an sshd_config file",
            file.display(),
            lines.join(", ")
        )));
    }
    impact::check(sshd, file, host_key).map_err(|e| {
        input_error(format!(
            "{}: sshd rejects this configuration:\n  {}\n  hint: fix the line sshd names (`sshd -t -f {}` shows the same)",
            file.display(),
            e.replace('\n', "\n  "),
            file.display()
        ))
    })?;
    for d in &reading.dropped {
        eprintln!(
            "note: {} line {}: `{}` not applied: {}",
            file.display(),
            d.line,
            d.keyword,
            d.why
        );
    }
    let version = sshd_version(sshd);
    let release = parse_release(&version)
        .map(|(a, b)| format!("{a}.{b}"))
        .unwrap_or_default();
    Ok(impact::policy(
        &format!("impact-{id}"),
        file,
        &reading,
        &release,
    ))
}

/// The plan: both configurations (or the new one alone) against the chosen clients.
fn plan(a: &ImpactArgs, policies: Vec<Policy>) -> Result<Plan, ExitCode> {
    let (profiles, tools, mut all) = super::common::catalog_parts();
    let mut targets = Vec::new();
    if let Some(old) = &a.from {
        targets.push((NOW, format!("now: {}", old.display()), "impact-now"));
    }
    targets.push((NEW, format!("new: {}", a.new.display()), "impact-new"));
    all.extend(policies);
    let chosen = choose_clients("--clients", &a.cells.clients, &profiles)?;
    let text = impact::matrix(
        &targets,
        &chosen,
        &a.cells.keys,
        a.passphrase,
        impact::IMPACT_LAYOUT,
    );
    let catalog = Catalog::new(&profiles, &tools, &all);
    matrix::plan("impact", &text, None, &catalog).map_err(|e| input_error(e.to_string()))
}

/// `sshmatrix impact`.
pub fn command(a: ImpactArgs) -> ExitCode {
    let sshd = match find_sshd() {
        Ok(s) => s,
        Err(e) => return super::common::fail_run(RunError::from(e)),
    };
    let work_dir = match sshmatrix::workdir::resolve(a.work.work_dir.clone()) {
        Ok(w) => w,
        Err(e) => return super::common::fail_run(e),
    };
    let host_key = match HostKeyStore::new(work_dir.join("hostkeys")).map(|s| s.get("ed25519")) {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => return super::common::fail_run(RunError::from(e)),
        Err(e) => {
            crate::cli::common::error(format!("{}: {e}", work_dir.display()));
            return ExitCode::from(EXIT_ENVIRONMENT as u8);
        }
    };
    let mut policies = Vec::new();
    let files = a.from.iter().map(|f| (f, NOW)).chain([(&a.new, NEW)]);
    for (file, id) in files {
        match assess(&sshd, file, id, &host_key) {
            Ok(p) => policies.push(p),
            Err(code) => return code,
        }
    }
    let plan = match plan(&a, policies) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut opts = Options::new(work_dir);
    opts.progress = runner::Progress::choose(a.quiet, false);
    let mut report = match super::run::execute(plan.clone(), &plan, &opts, false) {
        None => return ExitCode::from(EXIT_INTERRUPTED as u8),
        Some(Err(e)) => return super::common::fail_run(e),
        Some(Ok(r)) => r,
    };
    drop_user_column(&mut report);
    if let Err(code) = super::common::emit(
        &render(&report, a.out.format().into()),
        a.out.output.as_deref(),
    ) {
        return code;
    }
    if opts.stopping() {
        return ExitCode::from(EXIT_INTERRUPTED as u8);
    }
    changes(&a, &report)
}

/// The regressions grouped by what the new configuration says of them, largest group first:
/// one line says what a long list of cells would (`4 cells [auth-key-too-small] …: clients`).
fn by_cause(changes: &[diff::Change]) -> String {
    let mut groups: std::collections::BTreeMap<String, (usize, Vec<&str>)> = Default::default();
    let regressed = changes
        .iter()
        .filter(|c| c.kind == diff::ChangeKind::Regression)
        .filter_map(|c| c.new);
    for n in regressed {
        let why = n.server_reason.as_deref().unwrap_or(&n.reason);
        let (cells, clients) = groups.entry(format!("[{}] {why}", n.code)).or_default();
        *cells += 1;
        if !clients.contains(&n.client.as_str()) {
            clients.push(n.client.as_str());
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let mut lines: Vec<(usize, String, Vec<&str>)> = groups
        .into_iter()
        .map(|(why, (n, c))| (n, why, c))
        .collect();
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let body: String = lines
        .iter()
        .map(|(n, why, clients)| {
            let cells = sshmatrix_core::text::count(*n, "cell");
            format!("  {cells} {why}: {}\n", clients.join(", "))
        })
        .collect();
    format!("regressions by cause:\n{body}")
}

/// The regressions weighed by the census at `path`.
fn population(path: &std::path::Path, changes: &[diff::Change]) -> Result<String, ExitCode> {
    let broken: Vec<String> = changes
        .iter()
        .filter(|c| c.kind == diff::ChangeKind::Regression)
        .filter_map(|c| c.new.map(|n| n.client.clone()))
        .collect();
    super::census::weigh_by(path, &broken)
}

/// The one account of an impact run stands for any account: no column of its own (a
/// placeholder name on the table says nothing).
fn drop_user_column(report: &mut Report) {
    let Some(i) = report
        .column_axes
        .iter()
        .position(|a| a.eq_ignore_ascii_case("user"))
    else {
        return;
    };
    report.column_axes.remove(i);
    for c in &mut report.cells {
        if i < c.column.len() {
            c.column.remove(i);
        }
    }
}

/// With `--from`: the cells that change, regressions first; exit 1 on any regression.
fn changes(a: &ImpactArgs, report: &Report) -> ExitCode {
    if a.from.is_none() {
        return ExitCode::from(EXIT_OK as u8);
    }
    let (now, new) = (impact::side(report, NOW), impact::side(report, NEW));
    let (changes, unknown) = impact::measured(diff::diff(&now, &new));
    let mut text = format!(
        "changes from {} to {}:\n{}{}",
        a.from
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        a.new.display(),
        by_cause(&changes),
        diff::render(&changes)
    );
    if !unknown.is_empty() {
        text.push_str(&format!(
            "cannot tell ({} cells: the new configuration makes these clients negotiate what the emulator cannot speak; name their real clients with --clients to measure them):\n{}",
            unknown.len(),
            unknown
                .iter()
                .filter_map(|c| c.new)
                .map(|n| format!("  {}: {}\n", diff::identity(n), n.reason))
                .collect::<String>()
        ));
    }
    if let Some(path) = &a.population {
        match population(path, &changes) {
            Ok(w) => text.push_str(&w),
            Err(code) => return code,
        }
    }
    // The change list follows a table on standard output; beside other formats or a file it
    // goes to standard error, so the report stays machine-readable.
    match a.out.output.is_none() && Format::from(a.out.format()) == Format::Table {
        true => print!("{text}"),
        false => eprint!("{text}"),
    }
    let code = match diff::has_regressions(&changes) {
        true => EXIT_EXPECTATIONS,
        false => EXIT_OK,
    };
    ExitCode::from(code as u8)
}
