//! `explain`, `predict` and `authorized-keys`: one cell in depth, every cell from data, the keys to install.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::grants::Grants;
use sshmatrix::runner::{self, Options};
use sshmatrix::{advice, EXIT_INPUT, EXIT_OK};
use sshmatrix_reports::render;

use crate::{catalog_parts, fail_run, load_plan, runtime, OutFormat};

/// `sshmatrix predict`: every cell from profile and policy data alone.
pub fn predict(
    matrix: PathBuf,
    format: OutFormat,
    work_dir: Option<PathBuf>,
    grants: &Grants,
) -> ExitCode {
    let (plan, _) = match load_plan(&matrix, grants) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match runner::predict_plan(&plan, &work_dir!(work_dir)) {
        Ok(report) => {
            print!("{}", crate::for_stdout(&render(&report, format.into())));
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => fail_run(e),
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
        eprintln!("error: {e}");
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
            print!("{}", advice::render(&e));
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => fail_run(e),
    }
}

/// `sshmatrix authorized-keys`: the lines to install per target and user.
pub fn authorized_keys(matrix: PathBuf, work_dir: Option<PathBuf>, grants: &Grants) -> ExitCode {
    let (plan, _) = match load_plan(&matrix, grants) {
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
