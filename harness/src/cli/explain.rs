//! `explain`, `predict` and `authorized-keys`: one cell in depth, every cell from data, the keys to install.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::grants::Grants;
use sshmatrix::runner::{self, Options};
use sshmatrix::{advice, EXIT_INPUT, EXIT_OK};
use sshmatrix_reports::render;

use super::common::{catalog_parts, fail_run, load_plan, runtime, OutFormat};
use super::{GrantArgs, ReportOut, WorkDir};

/// Arguments of `sshmatrix predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// The matrix file (TOML; `-` reads it from standard input).
    pub matrix: PathBuf,
    #[command(flatten)]
    pub out: ReportOut,
    #[command(flatten)]
    pub work: WorkDir,
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// Arguments of `sshmatrix explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The matrix file (TOML; `-` reads it from standard input).
    pub matrix: PathBuf,
    /// The cell: its index, or key=value pairs (client, key_tool, key, passphrase, target, user).
    /// Without it, the whole matrix is run and explained: why cells fail, grouped by code,
    /// and the fixes that turn the most × into ○ (verified).
    pub cell: Option<String>,
    /// Explain the whole matrix (the same as leaving out CELL).
    #[arg(long, conflicts_with_all = ["cell", "try_fixes", "fixes"])]
    pub whole_matrix: bool,
    /// Rerun the cell with each fix applied and report which really work.
    #[arg(long)]
    pub try_fixes: bool,
    /// Also try this fix: client=ID, key=SPEC, key_tool=ID, policy=ID, sshd=LINE, host_keys=A,B,
    /// certificate=WORD, host_certificate=WORD.
    #[arg(long = "fix")]
    pub fixes: Vec<String>,
    #[command(flatten)]
    pub work: WorkDir,
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// Arguments of `sshmatrix authorized-keys`.
#[derive(clap::Args)]
pub struct AuthorizedKeysArgs {
    /// The matrix file (TOML; `-` reads it from standard input).
    pub matrix: PathBuf,
    #[command(flatten)]
    pub work: WorkDir,
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// `sshmatrix explain`: one cell, or (no cell) the whole matrix.
pub fn command(a: ExplainArgs) -> ExitCode {
    let grants = a.grants.grants();
    match a.cell {
        Some(cell) => explain(
            a.matrix,
            cell,
            a.try_fixes,
            a.fixes,
            a.work.work_dir,
            &grants,
        ),
        None => explain_matrix(a.matrix, a.work.work_dir, &grants),
    }
}

/// `sshmatrix predict`: every cell from profile and policy data alone.
pub fn predict(a: PredictArgs) -> ExitCode {
    let (plan, _) = match load_plan(&a.matrix, &a.grants.grants()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = match runner::predict_plan(&plan, &work_dir!(a.work.work_dir)) {
        Ok(r) => r,
        Err(e) => return fail_run(e),
    };
    let format: OutFormat = a.out.format();
    match super::common::emit(&render(&report, format.into()), a.out.output.as_deref()) {
        Ok(()) => ExitCode::from(EXIT_OK as u8),
        Err(code) => code,
    }
}

/// `sshmatrix explain`: one cell, its evidence and verified fixes.
pub fn explain(
    matrix: PathBuf,
    cell: String,
    try_fixes: bool,
    fixes: Vec<String>,
    work_dir: Option<PathBuf>,
    grants: &Grants,
) -> ExitCode {
    let (plan, _) = match load_plan(&matrix, grants) {
        Ok(p) => p,
        Err(code) => return code,
    };
    explain_plan(&plan, &cell, try_fixes, fixes, work_dir)
}

/// `sshmatrix explain MATRIX` (no cell): runs the matrix with advice and explains it whole.
/// Exit codes as `run`'s.
pub fn explain_matrix(matrix: PathBuf, work_dir: Option<PathBuf>, grants: &Grants) -> ExitCode {
    let (plan, expected) = match load_plan(&matrix, grants) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = Options::new(work_dir!(work_dir));
    let report = match super::run::execute(plan.clone(), &plan, &opts, true) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return fail_run(e),
        None => return ExitCode::from(sshmatrix::EXIT_INTERRUPTED as u8),
    };
    let text = advice::whole_matrix(&report);
    print!("{}", text.replace("MATRIX", &matrix.display().to_string()));
    ExitCode::from(super::run::check_expectations(&report, expected.as_deref()) as u8)
}

/// One cell of a plan, its evidence and (verified) fixes: `explain` and `try`.
pub fn explain_plan(
    plan: &sshmatrix::matrix::Plan,
    cell: &str,
    try_fixes: bool,
    fixes: Vec<String>,
    work_dir: Option<PathBuf>,
) -> ExitCode {
    let plan = plan.clone();
    let bad = |e: String| {
        crate::cli::common::error(&e);
        ExitCode::from(EXIT_INPUT as u8)
    };
    let index = match advice::select(&plan, cell) {
        Ok(i) => i,
        Err(e) => return bad(e),
    };
    let changes: Vec<advice::Change> = match fixes.iter().map(|f| advice::parse_change(f)).collect()
    {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let (profiles, tools, policies) = catalog_parts();
    let mut opts = Options::new(work_dir!(work_dir));
    opts.jobs = 1;
    opts.timeout = Duration::from_secs(
        plan.run
            .timeout_secs
            .unwrap_or(sshmatrix::runner::DEFAULT_TIMEOUT_SECS),
    );
    let rt = runtime();
    match rt.block_on(advice::explain(
        &plan, index, &changes, try_fixes, &opts, &profiles, &tools, &policies,
    )) {
        Ok(e) => {
            print!("{}", super::common::for_stdout(&advice::render(&e)));
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => fail_run(e),
    }
}

/// `sshmatrix authorized-keys`: the lines to install per target and user.
pub fn authorized_keys(a: AuthorizedKeysArgs) -> ExitCode {
    let work_dir = a.work.work_dir;
    let (plan, _) = match load_plan(&a.matrix, &a.grants.grants()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = Options::new(work_dir!(work_dir));
    let factory = match runner::key_factory(&opts.work_dir) {
        Ok(f) => f,
        Err(e) => return fail_run(e),
    };
    let keys = match runtime().block_on(runner::make_keys(&plan, &factory, opts.jobs, &opts.stop)) {
        Ok(k) => k,
        Err(e) => return fail_run(e),
    };
    for (ti, t) in plan.targets.iter().enumerate() {
        for user in &t.users {
            let place = match t.remote() {
                Some(r) => format!("{}:{}", r.host, r.port),
                None => "local".into(),
            };
            println!(
                "# target {} ({place}), user {user}: append to ~{user}/.ssh/authorized_keys",
                t.id
            );
            for line in
                runner::authorized_lines(&plan, &keys, sshmatrix::matrix::TargetId(ti), Some(user))
            {
                println!("{line}");
            }
        }
    }
    ExitCode::from(EXIT_OK as u8)
}
