//! `sshmatrix diagnose`: a support case from the logs a customer sent — both sides identified,
//! the cause named with its evidence, a reproduction written and run, its fixes verified.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::evidence::case::{self, Case, Diagnosis};
use sshmatrix::evidence::redact::Redactor;
use sshmatrix::evidence::render;
use sshmatrix::evidence::reproduce::{self, Reproduction, Supported};
use sshmatrix::matrix::{self, Catalog};
use sshmatrix::runner::Options;
use sshmatrix::{EXIT_EXPECTATIONS, EXIT_INPUT, EXIT_OK};
use sshmatrix_reports::Verdict;

use super::common::{catalog_parts, emit, fail_run, runtime};

/// How `diagnose` writes its answer.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum DiagnoseFormat {
    /// Plain text, for a terminal or a ticket.
    #[default]
    Table,
    /// Every attempt with its source lines, identification, code and candidates.
    Json,
    /// Markdown, for a ticket or a wiki.
    Markdown,
}

/// Arguments of `sshmatrix diagnose`.
#[derive(clap::Args)]
pub struct DiagnoseArgs {
    /// The logs: a client's debug output (ssh -v…-vvv, paramiko DEBUG), the server's auth
    /// log or journal (any LogLevel); `-` reads standard input. Each file is read on its own;
    /// a pasted mix of both sides is split line by line.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: DiagnoseFormat,
    /// Write the answer here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Replace host names, addresses, account names, key fingerprints and key file names
    /// consistently (host-1, user-1, …) in the answer.
    #[arg(long)]
    redact: bool,
    /// Which attempt `--matrix` and `--reproduce` take (default: the first that failed).
    #[arg(long, value_name = "N")]
    attempt: Option<usize>,
    /// Write a matrix reproducing the attempt (and, next to it, the client profile it needs).
    #[arg(long, value_name = "OUT.toml")]
    matrix: Option<PathBuf>,
    /// Run the reproduction against this host's sshd: exit 0 when it shows the same code and
    /// server reason as the logs, 1 when it differs (saying how).
    #[arg(long)]
    reproduce: bool,
    /// With --reproduce: rerun the reproduction with each computed fix and say which work.
    #[arg(long, requires = "reproduce")]
    try_fixes: bool,
    #[command(flatten)]
    work: super::WorkDir,
}

/// `sshmatrix diagnose`.
pub fn command(a: DiagnoseArgs) -> ExitCode {
    let (profiles, _, _) = catalog_parts();
    let case = case::diagnose(&a.logs, &profiles);
    let unreadable: Vec<_> = case.files.iter().filter(|f| f.error.is_some()).collect();
    if unreadable.len() == case.files.len() {
        for f in &unreadable {
            eprintln!(
                "error: {}: {}",
                f.file,
                f.error.as_deref().unwrap_or_default()
            );
        }
        eprintln!("  hint: diagnose reads logs: `ssh -vvv HOST 2> client.log`, `journalctl -u sshd > server.log` (see docs/guide.md)");
        return ExitCode::from(EXIT_INPUT as u8);
    }
    let text = answer(&case, a.format, a.redact);
    if let Err(code) = emit(&text, a.output.as_deref()) {
        return code;
    }
    if a.matrix.is_none() && !a.reproduce {
        return ExitCode::from(EXIT_OK as u8);
    }
    let Some(d) = chosen(&case, a.attempt) else {
        eprintln!(
            "error: no failed attempt to reproduce{}",
            a.attempt
                .map(|n| format!(" (attempt {n} does not exist or logged in)"))
                .unwrap_or_default()
        );
        return ExitCode::from(EXIT_INPUT as u8);
    };
    let repro = reproduce::build(d, &profiles, &Supported::query());
    if let Some(path) = &a.matrix {
        if let Err(code) = write_matrix(path, &repro) {
            return code;
        }
    }
    match a.reproduce {
        true => run_reproduction(d, &repro, profiles, a.try_fixes, a.work.work_dir),
        false => ExitCode::from(EXIT_OK as u8),
    }
}

/// The case rendered, redacted when asked.
fn answer(case: &Case, format: DiagnoseFormat, redact: bool) -> String {
    let text = match format {
        DiagnoseFormat::Table => render::text(case),
        DiagnoseFormat::Markdown => render::markdown(case),
        DiagnoseFormat::Json => serde_json::to_string_pretty(case).expect("case serializes") + "\n",
    };
    match redact {
        true => Redactor::of(case).apply(&text),
        false => text,
    }
}

/// The attempt to reproduce: the one asked for, else the first that failed.
fn chosen(case: &Case, n: Option<usize>) -> Option<&Diagnosis> {
    match n {
        Some(n) => case
            .attempts
            .iter()
            .find(|d| d.n == n && d.cause.verdict != Verdict::Ok),
        None => case.failures().next(),
    }
}

/// Writes the matrix, and the profile it needs into `OUT.profiles/`.
fn write_matrix(path: &Path, r: &Reproduction) -> Result<(), ExitCode> {
    let mut text = r.matrix.clone();
    if let Some((name, toml, _)) = &r.profile {
        let dir = path.with_extension("profiles");
        std::fs::create_dir_all(&dir).map_err(|e| {
            crate::cli::common::error(format!("{}: {e}", dir.display()));
            ExitCode::from(sshmatrix::EXIT_ENVIRONMENT as u8)
        })?;
        emit(toml, Some(&dir.join(name)))?;
        text = format!(
            "# Run it with its client profile: sshmatrix --profiles {} run {}\n{text}",
            dir.display(),
            path.display()
        );
    }
    for a in &r.assumptions {
        text = format!("# Assumed: {a}\n{text}");
    }
    emit(&text, Some(path))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Runs the reproduction (and its fixes): exit 0 when it shows the logged code and server
/// reason, 1 when not.
fn run_reproduction(
    d: &Diagnosis,
    r: &Reproduction,
    mut profiles: Vec<sshmatrix_clients::Profile>,
    try_fixes: bool,
    work_dir: Option<PathBuf>,
) -> ExitCode {
    if let Some((_, _, p)) = &r.profile {
        profiles.push(p.clone());
    }
    let (_, tools, policies) = catalog_parts();
    let catalog = Catalog::new(&profiles, &tools, &policies);
    let plan = match matrix::plan("reproduction", &r.matrix, None, &catalog) {
        Ok(p) => p,
        Err(e) => {
            crate::cli::common::error(format!("the reproduction does not plan: {e}"));
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let mut opts = Options::new(work_dir!(work_dir));
    opts.jobs = 1;
    opts.timeout = Duration::from_secs(sshmatrix::runner::DEFAULT_TIMEOUT_SECS);
    let e = match runtime().block_on(sshmatrix::advice::explain(
        &plan,
        0,
        &[],
        try_fixes,
        &opts,
        &profiles,
        &tools,
        &policies,
    )) {
        Ok(e) => e,
        Err(e) => return fail_run(e),
    };
    for a in &r.assumptions {
        println!("assumed: {a}");
    }
    print!(
        "reproduction of attempt {}:\n{}",
        d.n,
        sshmatrix::advice::render(&e)
    );
    let (same, how) = sshmatrix::evidence::reproduce::compare(r, &e.result);
    println!("{how}");
    ExitCode::from(match same {
        true => EXIT_OK,
        false => EXIT_EXPECTATIONS,
    } as u8)
}
