//! `sshmatrix run`: every destination checked before any cell runs, results streamed as cells
//! finish, `--resume` reusing only results whose cell digest still matches, and a report that
//! is never lost (a failing destination leaves it in the work directory's `rescued/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::matrix::Plan;
use sshmatrix::runner::{self, Options, RunError};
use sshmatrix::{advice, expect, scale, EXIT_ENVIRONMENT, EXIT_EXPECTATIONS};
use sshmatrix::{EXIT_INTERRUPTED, EXIT_OK, MAX_JOBS};
use sshmatrix_reports::{diff, render, Format, Report};

use super::common::{environment_error, input_error};
use super::output::{check_stream, cut_stream, rescue, Destination};
use super::Signals;

/// Arguments of `sshmatrix run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The matrix file (TOML; `-` reads it from standard input).
    matrix: PathBuf,
    #[command(flatten)]
    out: super::ReportOut,
    /// Cells run at once (default: 4 per core, or the matrix's [run] jobs; at most 1024).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Seconds a cell may take (default 20, or the matrix's [run] timeout_secs; at least 1).
    #[arg(long)]
    timeout: Option<u64>,
    #[command(flatten)]
    work: super::WorkDir,
    /// Append each finished cell as a JSON line to this file.
    #[arg(long)]
    stream: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// One progress line per finished cell (the default when stderr is not a terminal; on a
    /// terminal a live bar shows the counts instead).
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// Resume an interrupted run from its result stream: run only the cells missing from it, or
    /// whose digest no longer matches the matrix (the stream keeps growing).
    #[arg(long, conflicts_with = "stream")]
    resume: Option<PathBuf>,
    /// Run only shard K of N (0 <= K < N): cells whose index % N == K, and every cell of a remote
    /// host in one shard (its accounts have one failed-login budget), e.g. 0/4.
    #[arg(long)]
    shard: Option<String>,
    /// Only the newest release of each client family in the matrix (as testssl.sh shows current
    /// browsers); the older ones are named in a note. In a matrix, `clients = ["@current"]`
    /// (or "@current-real") lists the newest of every family sshmatrix knows.
    #[arg(long)]
    current: bool,
    /// Attach verified advice to every failed cell (reruns one cell per failure group per fix).
    #[arg(long)]
    advise: bool,
    /// Compare with this earlier JSON report; exit 1 on regressions or cells on one side only.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write this run's JSON report to the --baseline path (accept the new state).
    #[arg(long, requires = "baseline")]
    accept: bool,
    /// Exit 1 also when a cell logs in weakly (◐: a SHA-1 signature, a DSA or small RSA key, a
    /// CBC cipher… that a known hardening refuses; rules in reports/weak.toml), for CI.
    #[arg(long, value_enum, value_name = "WHAT")]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    grants: super::GrantArgs,
}

/// The runner options from flags, the matrix's `[run]` table and defaults; bad values are
/// input errors.
fn options(a: &RunArgs, plan: &Plan, work_dir: PathBuf) -> Result<Options, String> {
    let jobs = a
        .jobs
        .or(plan.run.jobs)
        .unwrap_or_else(runner::default_jobs);
    if jobs == 0 || jobs > MAX_JOBS {
        return Err(format!(
            "--jobs {jobs} is out of range: give 1 to {MAX_JOBS} (the default is 4 per core: {})",
            runner::default_jobs()
        ));
    }
    let timeout = a
        .timeout
        .or(plan.run.timeout_secs)
        .unwrap_or(sshmatrix::runner::DEFAULT_TIMEOUT_SECS);
    if timeout == 0 {
        return Err(
            "--timeout 0 would give every cell a timeout before it starts: give at least 1 second (default 20)"
                .into(),
        );
    }
    let mut opts = Options::new(work_dir);
    opts.jobs = jobs;
    opts.timeout = Duration::from_secs(timeout);
    opts.stream = a.stream.clone().or(a.resume.clone());
    opts.progress = runner::Progress::choose(a.quiet, a.verbose);
    Ok(opts)
}

/// Reads the stream to resume from (cutting back a torn last line) and removes the cells it
/// already holds from `todo`; returns the results kept.
fn resume(path: &Path, todo: &mut Plan) -> Result<Vec<sshmatrix_reports::CellResult>, ExitCode> {
    let read = scale::read_stream(path).map_err(|e| {
        input_error(format!(
            "{e}\n  hint: --resume takes the file given to --stream"
        ))
    })?;
    if let Some(at) = read.torn_at {
        cut_stream(path, at).map_err(environment_error)?;
        eprintln!(
            "note: {}: dropped a last line cut short (byte {at} on); that cell runs again",
            path.display()
        );
    }
    let r = scale::skip_done(todo, read.results);
    eprintln!(
        "resuming: {} cells already in the stream, {} rerun because the matrix changed since (digest differs), {} to run",
        r.kept.len(),
        r.stale,
        todo.cells.len()
    );
    if r.foreign > 0 {
        eprintln!(
            "note: {} stream lines name cells this matrix does not have (ignored)",
            r.foreign
        );
    }
    Ok(r.kept)
}

/// Runs the plan (with advice), handling stop signals: see [`runner::Stop`].
pub(crate) fn execute(
    plan: Plan,
    full: &Plan,
    opts: &Options,
    advise: bool,
) -> Option<Result<Report, RunError>> {
    let rt = super::common::runtime();
    let (profiles, tools, policies) = super::common::catalog_parts();
    let outcome = rt.block_on(async {
        let mut sig = Signals::install();
        if opts.progress != runner::Progress::Off {
            let lang = sshmatrix_core::i18n::current();
            let cells = sshmatrix_reports::lang::cells(lang, plan.cells.len());
            let targets = plan.targets.len();
            eprintln!(
                "{}",
                sshmatrix_core::tr!(lang, "progress-preparing", cells = cells, targets = targets)
            );
        }
        let work = async {
            let mut report = runner::run(plan, opts).await?;
            if advise && !opts.stopping() {
                let quiet = Options {
                    progress: runner::Progress::Off,
                    stream: None,
                    ..opts.clone()
                };
                advice::advise(full, &mut report, &quiet, &profiles, &tools, &policies).await?;
                if opts.stopping() {
                    // Advice cut short rests on unmeasured reruns: drop it all.
                    report.cells.iter_mut().for_each(|c| c.advice.clear());
                }
            }
            Ok::<_, RunError>(report)
        };
        // First signal: stop scheduling; cells in flight finish (their processes are in
        // process groups of their own, so a terminal's Ctrl-C did not reach them). Second:
        // abandon them (reported as interrupted, kept out of the stream). Third: leave.
        let stop = opts.stop.clone();
        let signals = async move {
            sig.next().await;
            stop.request_by_signal();
            eprintln!("interrupted: finishing the cells in flight (signal again to abandon them)");
            sig.next().await;
            stop.abandon();
            eprintln!("abandoning the cells in flight: they are not recorded (no verdict)");
            sig.next().await;
        };
        tokio::select! {
            r = work => Some(r),
            _ = signals => None,
        }
    });
    // Dropping the runtime kills every sshd child (kill_on_drop) and removes the run dir.
    drop(rt);
    outcome
}

/// Writes the report; when the destination fails, keeps it under the work directory.
fn write_report(report: &Report, format: Format, dest: Destination, work_dir: &Path) -> bool {
    match dest.write(&render(report, format)) {
        Ok(()) => true,
        Err(e) => {
            crate::cli::common::error(&e);
            match rescue(work_dir, &render(report, Format::Json)) {
                Ok(p) => eprintln!("  the report (JSON) was saved to {} instead", p.display()),
                Err(e2) => eprintln!("  and it could not be saved elsewhere either: {e2}"),
            }
            false
        }
    }
}

/// A run's plan (its shard), expectations, whole-plan size and digest, and options.
struct Planned {
    plan: Plan,
    expected: Option<Vec<expect::Rule>>,
    plan_cells: usize,
    matrix_digest: String,
    opts: Options,
    /// Notes the report gets from how the plan was cut (`--current`).
    notes: Vec<String>,
}

/// Loads and validates the matrix, cuts the shard, and settles the options.
fn planned(a: &RunArgs) -> Result<Planned, ExitCode> {
    let (mut plan, mut expected) = super::common::load_plan(&a.matrix, &a.grants.grants())?;
    let mut notes = Vec::new();
    if a.current {
        let older = scale::keep_current(&mut plan);
        if !older.is_empty() {
            let names: Vec<&str> = older.iter().map(|(_, n)| n.as_str()).collect();
            notes.push(format!(
                "--current: the newest release of each client family only; older releases not run: {}",
                names.join(", ")
            ));
        }
        // Rules about the clients left out have no cells to hold.
        let ids: Vec<String> = older.into_iter().map(|(id, _)| id).collect();
        expected =
            expected.map(|rules| rules.into_iter().filter(|r| !r.only_about(&ids)).collect());
    }
    let (plan_cells, matrix_digest) = (
        plan.cells.len(),
        sshmatrix::matrix::digest::plan_digest(&plan),
    );
    if let Some(s) = &a.shard {
        let (k, n) = scale::parse_shard(s).map_err(input_error)?;
        scale::shard(&mut plan, k, n);
        // Expectations are checked on the merged report, not on a shard.
        expected = None;
    }
    let work_dir =
        sshmatrix::workdir::resolve(a.work.work_dir.clone()).map_err(super::common::fail_run)?;
    let opts = options(a, &plan, work_dir).map_err(input_error)?;
    Ok(Planned {
        plan,
        expected,
        plan_cells,
        matrix_digest,
        opts,
        notes,
    })
}

/// What else makes `run` exit 1.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FailOn {
    /// Logins a known hardening refuses (◐).
    Weak,
}

/// With `--fail-on weak`: the weak logins, listed; the exit code they give.
fn check_weak(report: &Report, fail_on: Option<FailOn>) -> i32 {
    let Some(FailOn::Weak) = fail_on else {
        return EXIT_OK;
    };
    let weak: Vec<_> = report.cells.iter().filter(|c| c.mark() == "◐").collect();
    if weak.is_empty() {
        return EXIT_OK;
    }
    eprintln!(
        "--fail-on weak: {} log in weakly:",
        sshmatrix_core::text::count(weak.len(), "cell")
    );
    for c in weak {
        eprintln!(
            "  {}: {}",
            diff::identity(c),
            sshmatrix_reports::weak::legend_text(sshmatrix_core::i18n::current(), &c.weak_rules())
        );
    }
    EXIT_EXPECTATIONS
}

/// `sshmatrix run`.
pub fn command(a: RunArgs) -> ExitCode {
    let Planned {
        plan,
        expected,
        plan_cells,
        matrix_digest,
        opts,
        notes,
    } = match planned(&a) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dest = match Destination::open(a.out.output.as_deref()) {
        Ok(d) => d,
        Err(e) => return environment_error(e),
    };
    if let Some(e) = opts.stream.as_deref().and_then(|p| check_stream(p).err()) {
        dest.discard();
        return environment_error(e);
    }
    let mut todo = plan.clone();
    let kept = match &a.resume {
        None => Vec::new(),
        Some(p) => match resume(p, &mut todo) {
            Ok(k) => k,
            Err(code) => {
                dest.discard();
                return code;
            }
        },
    };
    let (mut report, stream_error) = match execute(todo, &plan, &opts, a.advise) {
        None => {
            dest.discard();
            eprintln!("abandoned: finished cells are in the result stream (--stream); processes and the run directory were cleaned up");
            return ExitCode::from(EXIT_INTERRUPTED as u8);
        }
        Some(Err(RunError::Stream(e, report))) => (*report, Some(e)),
        Some(Err(e)) => {
            dest.discard();
            return super::common::fail_run(e);
        }
        Some(Ok(r)) => (r, None),
    };
    report.cells.extend(kept);
    report.cells.sort_by_key(|c| c.index);
    report.matrix_digest = matrix_digest;
    report.plan_cells = plan_cells;
    report.notes.extend(notes);
    report.shard = a.shard.clone();
    if opts.stopping() {
        mark_partial(&mut report);
    }
    let written = write_report(&report, a.out.format().into(), dest, &opts.work_dir);
    if let Some(e) = stream_error {
        crate::cli::common::error(&e);
        return ExitCode::from(EXIT_ENVIRONMENT as u8);
    }
    if !written {
        return ExitCode::from(EXIT_ENVIRONMENT as u8);
    }
    if opts.stopping() {
        return interrupted(&report, opts.stream.as_deref());
    }
    let mut code = check_expectations(&report, expected.as_deref());
    code = code.max(check_weak(&report, a.fail_on));
    match check_baseline(&report, a.baseline.as_deref(), a.accept) {
        Ok(c) => code = code.max(c),
        Err(exit) => return exit,
    }
    ExitCode::from(code as u8)
}

/// Says what an interrupted run wrote and how to finish it; exit 130.
fn interrupted(report: &Report, stream: Option<&Path>) -> ExitCode {
    let rest = match stream {
        Some(s) => format!("`--resume {}` runs only them", s.display()),
        None => {
            "run again; with --stream FILE a later --resume FILE runs only the missing ones".into()
        }
    };
    eprintln!(
        "interrupted: partial report of {} measured cells written (cells cut short are not recorded: {rest}); processes and the run directory were cleaned up",
        report.cells.len()
    );
    ExitCode::from(EXIT_INTERRUPTED as u8)
}

/// Marks a report cut short by a stop, where every reader looks first: the title, and a note
/// of how many cells are missing (a written file must never look complete).
fn mark_partial(report: &mut Report) {
    let measured = report.cells.len();
    report.title = format!(
        "PARTIAL ({measured} of {} cells, interrupted): {}",
        report.plan_cells, report.title
    );
    report.notes.insert(
        0,
        format!(
            "PARTIAL: the run was interrupted; {} of the plan are not in this report",
            sshmatrix_core::text::count(report.plan_cells.saturating_sub(measured), "cell")
        ),
    );
}

/// Compares the report with the matrix's expectations; returns the exit code they give.
pub(crate) fn check_expectations(report: &Report, expected: Option<&[expect::Rule]>) -> i32 {
    let Some(exp) = expected else {
        return EXIT_OK;
    };
    let misses = expect::compare(report, exp);
    let held = expect::held(report, exp);
    let (cells, rules) = (
        sshmatrix_core::text::count(held, "cell"),
        sshmatrix_core::text::count(exp.len(), "rule"),
    );
    if misses.is_empty() {
        eprintln!("expectations met: {cells} held to {rules}, none differs");
        return EXIT_OK;
    }
    eprintln!(
        "expectations not met: {} ({cells} held to {rules}):",
        sshmatrix_core::text::count(misses.len(), "difference")
    );
    for m in &misses {
        eprintln!("  {m}");
    }
    EXIT_EXPECTATIONS
}

/// Compares the report with a baseline (and accepts it when asked); returns the exit code.
fn check_baseline(report: &Report, path: Option<&Path>, accept: bool) -> Result<i32, ExitCode> {
    let Some(path) = path else {
        return Ok(EXIT_OK);
    };
    let mut code = EXIT_OK;
    if path.exists() {
        let old = super::common::read_report(path)?;
        let changes = diff::diff(&old, report);
        eprint!(
            "against baseline {}:\n{}",
            path.display(),
            diff::render(&changes)
        );
        if diff::fails_gate(&changes) && !accept {
            code = EXIT_EXPECTATIONS;
        }
    } else if !accept {
        return Err(input_error(format!(
            "baseline {} does not exist\n  hint: create it with --accept",
            path.display()
        )));
    }
    if accept {
        let json = render(report, Format::Json);
        if let Err(e) = std::fs::write(path, json) {
            return Err(environment_error(format!(
                "cannot write {}: {e}",
                path.display()
            )));
        }
        eprintln!("baseline {} updated", path.display());
    }
    Ok(code)
}
