//! `sshmatrix`: which SSH clients, holding which keys, can log in to which servers, and why not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

mod cli;
use sshmatrix::matrix::{self, Catalog};
use sshmatrix::runner::{self, Options, RunError};
use sshmatrix::{
    advice, expect, scale, EXIT_ENVIRONMENT, EXIT_EXPECTATIONS, EXIT_INPUT, EXIT_INTERRUPTED,
    EXIT_OK,
};
use sshmatrix_clients::{builtin_profiles, key_tools};
use sshmatrix_reports::{diff, render, Format, Report};
use sshmatrix_servers::builtin_policies;

#[derive(Parser)]
#[command(
    name = "sshmatrix",
    version,
    about = "Which SSH clients, holding which keys, can log in to which servers — and why not."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Table,
    Csv,
    Json,
    Markdown,
    Html,
    Junit,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Self {
        match f {
            OutFormat::Table => Format::Table,
            OutFormat::Csv => Format::Csv,
            OutFormat::Json => Format::Json,
            OutFormat::Markdown => Format::Markdown,
            OutFormat::Html => Format::Html,
            OutFormat::Junit => Format::Junit,
        }
    }
}

/// The `--work-dir` given, else the default one; returns exit 3 from the enclosing function
/// when there is no home directory to put it in.
macro_rules! work_dir {
    ($given:expr) => {
        match $given
            .map(Ok)
            .unwrap_or_else(runner::default_work_dir_checked)
        {
            Ok(w) => w,
            Err(e) => return fail_run(e),
        }
    };
}

/// Writes rendered output to a file, or standard output.
fn emit(text: &str, output: Option<&std::path::Path>) -> Result<(), ExitCode> {
    match output {
        Some(p) => std::fs::write(p, text).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", p.display());
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Prints a run error and gives its exit code (2 bad input, 3 environment).
fn fail_run(e: RunError) -> ExitCode {
    if let RunError::Interrupted(_) = e {
        eprintln!(
            "{e}; keys made so far stay cached, processes and the run directory were cleaned up"
        );
        return ExitCode::from(EXIT_INTERRUPTED as u8);
    }
    eprintln!("error: {e}");
    ExitCode::from(match e {
        RunError::Input(_) => EXIT_INPUT,
        RunError::Environment(_) | RunError::Interrupted(_) | RunError::Stream(..) => {
            EXIT_ENVIRONMENT
        }
    } as u8)
}

#[derive(Subcommand)]
enum Command {
    /// Run a matrix file and print the ○/× table (or CSV / JSON).
    Run(Box<cli::run::RunArgs>),
    /// Explain one cell: its verdict, code and evidence, and the fixes that would turn × into ○.
    Explain {
        /// The matrix file (TOML).
        matrix: PathBuf,
        /// The cell: its index, or key=value pairs (client, key_tool, key, passphrase, target, user).
        cell: String,
        /// Rerun the cell with each fix applied and report which really work.
        #[arg(long)]
        try_fixes: bool,
        /// Also try this fix: client=ID, key=SPEC, key_tool=ID, policy=ID, sshd=LINE, host_keys=A,B.
        #[arg(long = "fix")]
        fixes: Vec<String>,
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Print the authorized_keys lines to install for each target and user (makes the keys).
    AuthorizedKeys {
        /// The matrix file (TOML).
        matrix: PathBuf,
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Run every real-client profile side by side with its emulation profile over all policies,
    /// key types and passphrases; print the agreement rate and every disagreement (exit 1 if any).
    VerifyProfiles {
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Internal: act as a server stub on stdin/stdout, record the client's identification and
    /// KEXINIT as JSON in FILE (used by verify-profiles as a real client's proxy command).
    #[command(hide = true)]
    CaptureKexinit {
        /// Where the captured lists go.
        #[arg(long)]
        out: PathBuf,
    },
    /// Merge the JSON reports of shards (or of resumed runs) into one report.
    Merge {
        /// The JSON reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: OutFormat,
        /// Write the merged report here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Accept a merge with cells missing (shards not given); exit 0 anyway.
        #[arg(long)]
        partial: bool,
    },
    /// List the cells that changed between two JSON reports; exit 1 on regressions and on
    /// cells present in one report only.
    Diff {
        /// The earlier report (JSON).
        old: PathBuf,
        /// The later report (JSON).
        new: PathBuf,
        /// Exit 0 when cells were only added or removed (regressions still exit 1).
        #[arg(long)]
        allow_added_removed: bool,
    },
    /// Benchmark: the matrix by the emulator against a sequential OpenSSH client loop over the
    /// same cells (warm key cache), in the same run.
    Bench {
        /// The matrix file (TOML); not needed with --synthetic.
        #[arg(required_unless_present = "synthetic")]
        matrix: Option<PathBuf>,
        /// Instead: a synthetic matrix of 400 × USERS cells (5 users: 2,000 cells), run cold
        /// (empty key cache) then warm; prints cells/s and peak RSS.
        #[arg(long, value_name = "USERS")]
        synthetic: Option<usize>,
        /// With --synthetic: only plan the matrix (what `check` does) and print the peak RSS
        /// (target: 100,000 cells, `--synthetic 250`, within 100 MB).
        #[arg(long, requires = "synthetic")]
        plan_only: bool,
        /// Cells run at once by the emulator (default: 4 per core).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Predict every cell's verdict from profile and policy data alone, without connecting.
    Predict {
        /// The matrix file (TOML).
        matrix: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Validate a matrix file and print its plan, without running anything.
    Check {
        /// The matrix file (TOML).
        matrix: PathBuf,
    },
    /// List client profiles and key tools, with their sources.
    Profiles,
    /// List server policies, with their sources.
    Policies,
    /// Container images: `list` shows what sshmatrix can make and what is built; `build`
    /// makes the named ones (all Debian releases when none is named).
    Images {
        /// `list` or `build`.
        #[arg(value_parser = ["list", "build"])]
        action: String,
        /// Image names (`bullseye`, `bookworm`, `trixie`, `al2023`, `rocky9`, …).
        names: Vec<String>,
        /// Rebuild even when the image exists.
        #[arg(long)]
        force: bool,
        /// Work directory (default ~/.cache/sshmatrix).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

/// `sshmatrix images list|build`.
fn images(action: &str, names: &[String], force: bool, work_dir: PathBuf) -> ExitCode {
    use sshmatrix_servers::container;
    if action == "list" {
        for r in container::recipes() {
            let state = if container::image_present(&r) {
                "built"
            } else {
                "not built"
            };
            println!(
                "{:<16} {:<28} {:<10} {}",
                r.name,
                r.tag(),
                state,
                r.contents
            );
        }
        return ExitCode::SUCCESS;
    }
    let wanted: Vec<String> = if names.is_empty() {
        container::recipes()
            .iter()
            .filter(|r| matches!(r.recipe, container::Recipe::Debootstrap { .. }))
            .map(|r| r.name.to_string())
            .collect()
    } else {
        names.to_vec()
    };
    // Unknown names first, then the builds side by side (debootstrap is mostly download).
    let recipes = match wanted
        .iter()
        .map(|n| container::recipe(n))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let scratch = work_dir.join("images");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = recipes
            .iter()
            .map(|r| {
                let scratch = &scratch;
                s.spawn(move || {
                    if force {
                        container::build_image(r, scratch, &mut std::io::stderr()).map(|()| true)
                    } else {
                        container::ensure_image(r, scratch, &mut std::io::stderr())
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("image build thread"))
            .collect()
    });
    let mut failed = false;
    for (r, result) in recipes.iter().zip(results) {
        match result {
            Ok(built) => println!(
                "{} {}",
                r.tag(),
                if built { "built" } else { "present (cached)" }
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return ExitCode::from(EXIT_ENVIRONMENT as u8);
    }
    ExitCode::SUCCESS
}

fn catalog_parts() -> (
    Vec<sshmatrix_clients::Profile>,
    Vec<sshmatrix_clients::KeyTool>,
    Vec<sshmatrix_servers::Policy>,
) {
    (builtin_profiles(), key_tools(), builtin_policies())
}

/// Plans generated matrix text (synthetic bench, fidelity check) with the built-in catalog.
fn plan_generated(name: &str, text: &str) -> Result<matrix::Plan, ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog {
        profiles: &profiles,
        key_tools: &tools,
        policies: &policies,
    };
    matrix::plan(name, text, None, &catalog).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT as u8)
    })
}

/// Loads and validates a matrix and its expectations file; prints the error and gives exit 2.
fn load_plan(
    path: &std::path::Path,
) -> Result<(matrix::Plan, Option<Vec<expect::Rule>>), ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog {
        profiles: &profiles,
        key_tools: &tools,
        policies: &policies,
    };
    let plan = matrix::load(path, &catalog).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT as u8)
    })?;
    let expected = match &plan.expect {
        None => None,
        Some(p) => Some(expect::load(p).map_err(|e| {
            eprintln!(
                "error: {}: expect: {e}\n  hint: `expect` names a CSV file relative to the matrix file",
                plan.file
            );
            ExitCode::from(EXIT_INPUT as u8)
        })?),
    };
    Ok((plan, expected))
}

/// Reads a JSON report written by `run --format json`.
fn read_report(path: &std::path::Path) -> Result<Report, ExitCode> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: {}: cannot read: {e}", path.display());
        ExitCode::from(EXIT_INPUT as u8)
    })?;
    serde_json::from_str::<Report>(&text).map_err(|e| {
        eprintln!(
            "error: {}:{}:{}: not an sshmatrix JSON report: {e}\n  hint: write one with `sshmatrix run MATRIX --format json -o FILE`",
            path.display(),
            e.line(),
            e.column()
        );
        ExitCode::from(EXIT_INPUT as u8)
    })
}

/// The runtime for every command: worker threads per core, and a small blocking pool — key
/// decryption runs there, and each extra thread would keep its own malloc arena (Argon2 takes
/// 8 MiB per PPK v3 key), inflating peak memory.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .expect("tokio runtime")
}

/// One malloc arena: glibc otherwise gives each thread that frees large buffers (Argon2's 8 MiB
/// per PPK v3 key) its own arena and keeps the memory, which doubles peak RSS on big runs
/// without any speed gain (measured with `bench --synthetic`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    const M_ARENA_MAX: std::ffi::c_int = -8;
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        mallopt(M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    match cli.command {
        Command::Images {
            action,
            names,
            force,
            work_dir,
        } => images(&action, &names, force, work_dir!(work_dir)),
        Command::Profiles => {
            let (profiles, tools, _) = catalog_parts();
            println!("Client profiles ({}):", profiles.len());
            for p in &profiles {
                println!("  {:<30} {} — {}", p.id, p.display_name(), p.ident);
                for (fact, src) in &p.sources {
                    println!("      {fact}: {src}");
                }
                for n in &p.notes {
                    println!("      note: {n}");
                }
            }
            println!("\nKey tools ({}):", tools.len());
            for t in &tools {
                println!(
                    "  {:<30} {} {} — writes {}",
                    t.id, t.name, t.version, t.format
                );
                for (fam, f) in &t.by_family {
                    println!("      {fam} keys: {f}");
                }
                println!("      source: {}", t.source);
            }
            ExitCode::from(EXIT_OK as u8)
        }
        Command::Policies => {
            for p in builtin_policies() {
                println!(
                    "  {:<24} {} — {} (OpenSSH {}), host keys: {}",
                    p.id,
                    p.name,
                    p.platform,
                    p.openssh,
                    p.host_keys.join(",")
                );
                for (fact, src) in &p.sources {
                    println!("      {fact}: {src}");
                }
                for n in &p.notes {
                    println!("      note: {n}");
                }
            }
            ExitCode::from(EXIT_OK as u8)
        }
        Command::Bench {
            matrix,
            synthetic,
            plan_only,
            jobs,
            work_dir,
        } => {
            if let Some(users) = synthetic {
                let t = std::time::Instant::now();
                let plan = match plan_generated(
                    "synthetic.toml",
                    &sshmatrix::bench::synthetic_matrix(users),
                ) {
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
                return match rt.block_on(sshmatrix::bench::synthetic(plan, &opts)) {
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
                };
            }
            let Some(matrix) = matrix else {
                return ExitCode::from(EXIT_INPUT as u8);
            };
            let (plan, _) = match load_plan(&matrix) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let mut opts = Options::new(work_dir!(work_dir));
            opts.jobs = jobs.or(plan.run.jobs).unwrap_or_else(runner::default_jobs);
            opts.timeout = Duration::from_secs(plan.run.timeout_secs.unwrap_or(20));
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
        Command::Predict {
            matrix,
            format,
            work_dir,
        } => {
            let (plan, _) = match load_plan(&matrix) {
                Ok(p) => p,
                Err(code) => return code,
            };
            match runner::predict_plan(&plan, &work_dir!(work_dir)) {
                Ok(report) => {
                    print!("{}", render(&report, format.into()));
                    ExitCode::from(EXIT_OK as u8)
                }
                Err(e) => fail_run(e),
            }
        }
        Command::Explain {
            matrix,
            cell,
            try_fixes,
            fixes,
            work_dir,
        } => {
            let (plan, _) = match load_plan(&matrix) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let bad = |e: String| {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_INPUT as u8)
            };
            let index = match advice::select(&plan, &cell) {
                Ok(i) => i,
                Err(e) => return bad(e),
            };
            let changes: Vec<advice::Change> =
                match fixes.iter().map(|f| advice::parse_change(f)).collect() {
                    Ok(c) => c,
                    Err(e) => return bad(e),
                };
            let (profiles, tools, policies) = catalog_parts();
            let mut opts = Options::new(work_dir!(work_dir));
            opts.jobs = 1;
            opts.timeout = Duration::from_secs(plan.run.timeout_secs.unwrap_or(20));
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
        Command::VerifyProfiles { work_dir } => {
            let (profiles, tools, policies) = catalog_parts();
            let plan = match plan_generated(
                "verify-profiles.toml",
                &sshmatrix::fidelity::matrix(&profiles, &policies),
            ) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let opts = Options::new(work_dir!(work_dir));
            let report = match runtime().block_on(runner::run(plan, &opts)) {
                Ok(r) => r,
                Err(e) => return fail_run(e),
            };
            let pairs = sshmatrix::fidelity::pairs(&report, &profiles);
            print!("{}", sshmatrix::fidelity::render(&pairs));
            let mut bad = pairs.iter().any(|p| !p.beyond_emulation() && !p.agrees());
            // The KEXINIT each real client sends, against its profile's lists.
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sshmatrix"));
            let factory = match runner::key_factory(&opts.work_dir) {
                Ok(f) => f,
                Err(e) => return fail_run(e),
            };
            let tool = tools
                .iter()
                .find(|t| t.id == "ssh-keygen")
                .expect("ssh-keygen key tool");
            let key = match factory.get(sshmatrix_clients::KeySpec::Ed25519, tool, false) {
                Ok(k) => k,
                Err(e) => return fail_run(RunError::Environment(e.to_string())),
            };
            let captured = match runtime().block_on(sshmatrix::fidelity::capture_all(
                &profiles,
                &exe,
                &opts.work_dir,
                &key,
                &factory,
            )) {
                Ok(c) => c,
                Err(e) => return fail_run(RunError::Environment(e)),
            };
            for (id, sent) in captured {
                let p = profiles
                    .iter()
                    .find(|p| p.id == id)
                    .expect("captured profile");
                match sent {
                    Err(e) => {
                        bad = true;
                        println!("{id}: KEXINIT capture failed: {e}");
                    }
                    Ok(sent) => {
                        let diffs = sshmatrix::fidelity::compare_kexinit(p, &sent);
                        if diffs.is_empty() {
                            println!("{id}: captured identification and KEXINIT match the profile");
                        } else {
                            bad = true;
                            println!("{id}: captured KEXINIT differs from the profile:");
                            for d in diffs {
                                println!("    {d}");
                            }
                        }
                    }
                }
            }
            ExitCode::from(if bad { EXIT_EXPECTATIONS } else { EXIT_OK } as u8)
        }
        Command::CaptureKexinit { out } => {
            let captured = runtime().block_on(async {
                let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
                sshmatrix_clients::probe(stream, "SSH-2.0-sshmatrix_capture").await
            });
            match captured {
                Ok(hello) => {
                    let _ =
                        std::fs::write(&out, serde_json::to_string_pretty(&hello).expect("json"));
                    ExitCode::from(EXIT_OK as u8)
                }
                Err(e) => {
                    eprintln!("capture-kexinit: {e}");
                    ExitCode::from(EXIT_ENVIRONMENT as u8)
                }
            }
        }
        Command::AuthorizedKeys { matrix, work_dir } => {
            let (plan, _) = match load_plan(&matrix) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let opts = Options::new(work_dir!(work_dir));
            let factory = match runner::key_factory(&opts.work_dir) {
                Ok(f) => f,
                Err(e) => return fail_run(e),
            };
            let keys = match runtime()
                .block_on(runner::make_keys(&plan, &factory, opts.jobs, &opts.stop))
            {
                Ok(k) => k,
                Err(e) => return fail_run(e),
            };
            for (ti, t) in plan.targets.iter().enumerate() {
                for user in &t.users {
                    let place = match &t.remote {
                        Some(r) => format!("{}:{}", r.host, r.port),
                        None => "local".into(),
                    };
                    println!("# target {} ({place}), user {user}: append to ~{user}/.ssh/authorized_keys", t.id);
                    let mut seen = std::collections::HashSet::new();
                    for c in plan
                        .cells
                        .iter()
                        .filter(|c| c.target == ti && &c.user == user)
                    {
                        let line = &keys[&(c.key.to_string(), c.key_tool.id.clone(), c.passphrase)]
                            .public_line;
                        if seen.insert(line.clone()) {
                            println!("{line}");
                        }
                    }
                }
            }
            ExitCode::from(EXIT_OK as u8)
        }
        Command::Merge {
            reports,
            format,
            output,
            partial,
        } => {
            let mut all = Vec::new();
            for p in &reports {
                match read_report(p) {
                    Ok(r) => all.push(r),
                    Err(code) => return code,
                }
            }
            let merged = match scale::merge(all, partial) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_INPUT as u8);
                }
            };
            let text = render(&merged, format.into());
            if let Err(code) = emit(&text, output.as_deref()) {
                return code;
            }
            ExitCode::from(EXIT_OK as u8)
        }
        Command::Diff {
            old,
            new,
            allow_added_removed,
        } => {
            let (old, new) = match (read_report(&old), read_report(&new)) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(code), _) | (_, Err(code)) => return code,
            };
            let changes = diff::diff(&old, &new);
            print!("{}", diff::render(&changes));
            let fails = match allow_added_removed {
                true => diff::has_regressions(&changes),
                false => diff::fails_gate(&changes),
            };
            ExitCode::from(if fails { EXIT_EXPECTATIONS } else { EXIT_OK } as u8)
        }
        Command::Check { matrix } => match load_plan(&matrix) {
            Err(code) => code,
            Ok((plan, _)) => {
                println!(
                    "{}: {} cells, {} targets",
                    plan.file,
                    plan.cells.len(),
                    plan.targets.len()
                );
                for t in &plan.targets {
                    println!(
                        "  target {} [{}] policy {} users {}",
                        t.id,
                        t.label.join(" / "),
                        t.policy.id,
                        t.users.join(",")
                    );
                }
                ExitCode::from(EXIT_OK as u8)
            }
        },
        Command::Run(args) => cli::run::command(*args),
    }
}
