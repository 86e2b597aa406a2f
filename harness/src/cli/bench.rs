//! `bench`: the emulator against a real-client loop, and the synthetic memory/speed runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::runner::{self, Options};
use sshmatrix::{EXIT_INPUT, EXIT_OK};

use super::common::{fail_run, load_plan, plan_generated, runtime};
use super::WorkDir;

/// Arguments of `sshmatrix bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The matrix file (TOML); not needed with --synthetic, --render or --diagnose.
    #[arg(required_unless_present_any = ["synthetic", "render", "diagnose"])]
    pub matrix: Option<PathBuf>,
    /// Instead: a synthetic matrix of 400 × USERS cells (5 users: 2,000 cells), run cold
    /// (empty key cache) then warm; prints cells/s and peak RSS.
    #[arg(long, value_name = "USERS")]
    pub synthetic: Option<usize>,
    /// With --synthetic: only plan the matrix (what `check` does) and print the peak RSS
    /// (target: 100,000 cells, `--synthetic 250`, within 100 MB).
    #[arg(long, requires = "synthetic")]
    pub plan_only: bool,
    /// Instead: the matrix's real-client cells by sshmatrix against a plain parallel loop
    /// of the same client command lines (same servers, same --jobs): wall time, their
    /// ratio, CPU seconds per cell.
    #[arg(long, conflicts_with = "synthetic")]
    pub real: bool,
    /// Cells run at once by the emulator (default: 4 per core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Instead: a synthetic report of at least CELLS predicted cells rendered in every
    /// format, each timed (target: 100,000 cells in 3 s or less per format).
    #[arg(long, value_name = "CELLS", conflicts_with_all = ["synthetic", "real", "matrix"])]
    pub render: Option<usize>,
    /// Instead: a syslog-style sshd log of MIB MiB (a real log's connections repeated) read by
    /// `diagnose`: MiB/s on one core and peak RSS (target: 1 GiB at 100 MB/s or more within
    /// 100 MB).
    #[arg(long, value_name = "MIB", conflicts_with_all = ["synthetic", "real", "matrix", "render"])]
    pub diagnose: Option<u64>,
    #[command(flatten)]
    pub work: WorkDir,
}

/// `sshmatrix bench`.
pub fn command(a: BenchArgs) -> ExitCode {
    let (jobs, work_dir) = (a.jobs, a.work.work_dir);
    if let Some(cells) = a.render {
        return render_bench(cells, work_dir);
    }
    if let Some(mib) = a.diagnose {
        return diagnose_bench(mib, work_dir);
    }
    match (a.synthetic, a.matrix) {
        (Some(users), _) => synthetic_bench(users, a.plan_only, jobs, work_dir),
        (None, Some(m)) if a.real => real_bench(&m, jobs, work_dir),
        (None, Some(m)) => matrix_bench(&m, jobs, work_dir),
        (None, None) => ExitCode::from(EXIT_INPUT as u8),
    }
}

/// `bench --render CELLS`: a synthetic matrix of at least CELLS cells predicted (no
/// connection), its report rendered in every format, each timed.
pub fn render_bench(cells: usize, work_dir: Option<PathBuf>) -> ExitCode {
    let users = cells.div_ceil(400).max(1);
    let plan = match plan_generated("synthetic.toml", &sshmatrix::bench::synthetic_matrix(users)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = match runner::predict_plan(&plan, &work_dir!(work_dir)) {
        Ok(r) => r,
        Err(e) => return fail_run(e),
    };
    println!("cells rendered:      {}", report.cells.len());
    for (name, took, bytes) in sshmatrix::bench::render_times(&report) {
        println!(
            "{name:<20} {:.2} s  ({:.1} MiB)",
            took.as_secs_f64(),
            bytes as f64 / (1 << 20) as f64
        );
    }
    println!(
        "peak RSS:            {:.1} MiB",
        sshmatrix::bench::peak_rss_mib()
    );
    ExitCode::from(EXIT_OK as u8)
}

/// `bench --diagnose MIB`: a synthetic sshd log streamed through `diagnose`.
fn diagnose_bench(mib: u64, work_dir: Option<PathBuf>) -> ExitCode {
    let work = work_dir!(work_dir);
    let run = match runner::new_run_dir(&work, "bench-diagnose-") {
        Ok(r) => r,
        Err(e) => return fail_run(e),
    };
    let log = run.path().join("auth.log");
    let bytes = match sshmatrix::bench::synthetic_server_log(&log, mib) {
        Ok(b) => b,
        Err(e) => return super::common::environment_error(format!("{}: {e}", log.display())),
    };
    let profiles = sshmatrix_clients::builtin_profiles();
    let t = std::time::Instant::now();
    let case = sshmatrix::evidence::case::diagnose(std::slice::from_ref(&log), &profiles);
    let secs = t.elapsed().as_secs_f64();
    let mb = bytes as f64 / (1 << 20) as f64;
    println!(
        "log read:            {mb:.0} MiB, {} lines",
        case.files[0].lines
    );
    println!(
        "attempts:            {} kept, {} counted",
        case.attempts.len(),
        case.not_kept
    );
    println!(
        "took:                {secs:.2} s  ({:.0} MiB/s)",
        mb / secs.max(1e-9)
    );
    println!(
        "peak RSS:            {:.1} MiB",
        sshmatrix::bench::peak_rss_mib()
    );
    // The same log counted by `census` (every connection judged, none kept).
    let t = std::time::Instant::now();
    let census = sshmatrix::evidence::census::take(&[log], &profiles);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "census:              {secs:.2} s  ({:.0} MiB/s), {} attempts counted",
        mb / secs.max(1e-9),
        census.all.attempts
    );
    println!(
        "peak RSS (both):     {:.1} MiB",
        sshmatrix::bench::peak_rss_mib()
    );
    ExitCode::from(EXIT_OK as u8)
}

/// `bench --synthetic USERS`: 400 × USERS cells cold then warm, or planning alone.
fn synthetic_bench(
    users: usize,
    plan_only: bool,
    jobs: Option<usize>,
    work_dir: Option<PathBuf>,
) -> ExitCode {
    let t = std::time::Instant::now();
    let plan = match plan_generated("synthetic.toml", &sshmatrix::bench::synthetic_matrix(users)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if plan_only {
        println!("synthetic cells:     {}", plan.cells.len());
        println!("planned in:          {:.2} s", t.elapsed().as_secs_f64());
        println!(
            "peak RSS:            {:.1} MiB",
            sshmatrix::bench::peak_rss_mib()
        );
        return ExitCode::from(EXIT_OK as u8);
    }
    let mut opts = Options::new(work_dir!(work_dir));
    if let Some(j) = jobs {
        opts.jobs = j;
    }
    let rt = runtime();
    match rt.block_on(sshmatrix::bench::synthetic(plan, &opts)) {
        Err(e) => fail_run(e),
        Ok(b) => {
            println!("synthetic cells:     {}", b.cells);
            println!("cold key cache:      {:.2} s", b.cold.as_secs_f64());
            println!(
                "warm key cache:      {:.2} s  ({:.1} cells/s, {} jobs)",
                b.warm.as_secs_f64(),
                b.cells_per_sec,
                b.jobs
            );
            println!("peak RSS:            {:.1} MiB", b.peak_rss_mib);
            ExitCode::from(EXIT_OK as u8)
        }
    }
}

/// Run options of a matrix benchmark: the matrix's jobs and timeout unless given.
fn bench_options(
    plan: &sshmatrix::matrix::Plan,
    jobs: Option<usize>,
    work_dir: PathBuf,
) -> Options {
    let mut opts = Options::new(work_dir);
    opts.jobs = jobs.or(plan.run.jobs).unwrap_or_else(runner::default_jobs);
    opts.timeout = Duration::from_secs(
        plan.run
            .timeout_secs
            .unwrap_or(sshmatrix::runner::DEFAULT_TIMEOUT_SECS),
    );
    opts
}

/// The matrix's plan and the benchmark's run options.
fn planned(
    matrix: &std::path::Path,
    jobs: Option<usize>,
    work_dir: Option<PathBuf>,
) -> Result<(sshmatrix::matrix::Plan, Options), ExitCode> {
    let (plan, _) = load_plan(matrix, &Default::default())?;
    let work_dir = sshmatrix::workdir::resolve(work_dir).map_err(fail_run)?;
    let opts = bench_options(&plan, jobs, work_dir);
    Ok((plan, opts))
}

/// `bench --real MATRIX`: sshmatrix's real-client cells against a plain parallel loop.
fn real_bench(
    matrix: &std::path::Path,
    jobs: Option<usize>,
    work_dir: Option<PathBuf>,
) -> ExitCode {
    let (plan, opts) = match planned(matrix, jobs, work_dir) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let b = match runtime().block_on(sshmatrix::bench::bench_real(plan, &opts)) {
        Ok(b) => b,
        Err(e) => return fail_run(e),
    };
    let per_s = |d: Duration| b.cells as f64 / d.as_secs_f64().max(1e-9);
    let ms = |s: f64| s * 1000.0;
    println!("real-client cells:    {} ({} at once)", b.cells, b.jobs);
    println!(
        "sshmatrix:            {:.2} s  ({:.1} cells/s; ok {} fail {} error {})",
        b.sshmatrix.as_secs_f64(),
        per_s(b.sshmatrix),
        b.verdicts.0,
        b.verdicts.1,
        b.verdicts.2
    );
    println!(
        "plain parallel loop:  {:.2} s  ({:.1} cells/s; client exit 0: {}, other: {})",
        b.plain.as_secs_f64(),
        per_s(b.plain),
        b.plain_exits.0,
        b.plain_exits.1
    );
    println!(
        "ratio loop/sshmatrix: {:.2}  (1.0 or more: sshmatrix as fast as the loop)",
        b.ratio
    );
    println!(
        "CPU per cell:         sshmatrix itself {:.1} ms (loop: {:.1} ms); clients and this host's servers {:.1} ms (loop: {:.1} ms)",
        ms(b.own_cpu_per_cell.0),
        ms(b.own_cpu_per_cell.1),
        ms(b.children_cpu_per_cell.0),
        ms(b.children_cpu_per_cell.1)
    );
    if let Some(split) = &b.backends {
        let each = |(n, d): (usize, Duration)| {
            format!(
                "{n} cells in {:.2} s ({:.1} ms per cell)",
                d.as_secs_f64(),
                d.as_secs_f64() * 1000.0 / n.max(1) as f64
            )
        };
        println!("host targets:         {}", each(split.host));
        println!("container targets:    {}", each(split.container));
        println!(
            "container/host:       {:.2}  (time per cell; the target is 1.3 or less)",
            split.ratio
        );
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `bench MATRIX`: the emulator against a sequential loop of the real OpenSSH client.
fn matrix_bench(
    matrix: &std::path::Path,
    jobs: Option<usize>,
    work_dir: Option<PathBuf>,
) -> ExitCode {
    let (plan, opts) = match planned(matrix, jobs, work_dir) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let rt = runtime();
    match rt.block_on(sshmatrix::bench::bench(plan, &opts)) {
        Err(e) => fail_run(e),
        Ok(b) => {
            println!("cells:               {}", b.cells);
            println!(
                "emulator ({} jobs):   {:.2} s  ({:.1} cells/s; ok {} fail {} error {})",
                b.jobs,
                b.emulator.as_secs_f64(),
                b.cells_per_sec,
                b.emulator_verdicts.0,
                b.emulator_verdicts.1,
                b.emulator_verdicts.2
            );
            println!(
                "OpenSSH client loop: {:.2} s  (sequential; logged in {} refused {})",
                b.openssh_loop.as_secs_f64(),
                b.openssh_verdicts.0,
                b.openssh_verdicts.1
            );
            println!("speed-up:            {:.1}x", b.speedup);
            ExitCode::from(EXIT_OK as u8)
        }
    }
}
