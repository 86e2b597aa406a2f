//! `sshmatrix`: which SSH clients, holding which keys, can log in to which servers, and why not.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sshmatrix::matrix::{self, Catalog};
use sshmatrix::runner::RunError;
use sshmatrix::{expect, EXIT_ENVIRONMENT, EXIT_INPUT};
use sshmatrix_clients::{builtin_profiles, key_tools};
use sshmatrix_reports::{Format, Report};
use sshmatrix_servers::builtin_policies;

#[derive(Parser)]
#[command(
    name = "sshmatrix",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SSHMATRIX_COMMIT"), ")"),
    about = "Which SSH clients, holding which keys, can log in to which servers — and why not.",
    after_help = "Examples:\n  sshmatrix run matrices/nutanix-cluster-lockdown.toml\n  sshmatrix explain matrices/nutanix-cluster-lockdown.toml 12 --try-fixes\n  sshmatrix run matrices/troubleshooting.toml --format html -o report.html\n\nExit codes: 0 done (expectations met), 1 expectations not met or regressions, 2 bad input, 3 environment problem, 130 interrupted"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour the ○ × ! marks of tables: auto (standard output is a terminal and NO_COLOR is
    /// unset), always, never.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Tables in their full layout even when wider than the terminal (otherwise they are fitted
    /// to its width, or to COLUMNS: single-valued row axes go to the title, labels wrap, and
    /// column groups become tables of their own).
    #[arg(long, global = true)]
    wide: bool,
    /// A directory of your own client profiles (`*.toml`, e.g. from `sshmatrix record`), read
    /// besides the built-in ones. Default: $SSHMATRIX_PROFILES, else
    /// ~/.config/sshmatrix/profiles when it exists.
    #[arg(long, global = true, value_name = "DIR")]
    profiles: Option<PathBuf>,
}

/// The client profiles of this run: the built-in ones and the user's directories' (read and
/// checked once, in `main`).
static PROFILES: std::sync::OnceLock<Vec<sshmatrix_clients::Profile>> = std::sync::OnceLock::new();

/// `--profiles`, else $SSHMATRIX_PROFILES, else the config directory's `sshmatrix/profiles`
/// when it exists.
fn profile_dirs(given: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(d) = given.or_else(|| std::env::var_os("SSHMATRIX_PROFILES").map(PathBuf::from)) {
        return vec![d];
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    config
        .map(|c| c.join("sshmatrix").join("profiles"))
        .filter(|d| d.is_dir())
        .into_iter()
        .collect()
}

/// The width tables are fitted to: COLUMNS, else the terminal's when standard output is one;
/// 0 (no fitting) with `--wide` or when writing to a pipe or file.
fn table_width(wide: bool) -> usize {
    use std::io::IsTerminal;
    if wide {
        return 0;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok());
    let terminal = std::io::stdout()
        .is_terminal()
        .then(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| w as usize)
        })
        .flatten();
    columns.or(terminal).unwrap_or(0)
}

/// `--color`.
#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether tables on standard output are coloured (set once in `main`).
static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A report as standard output shows it: coloured when `--color` says so.
fn for_stdout(text: &str) -> std::borrow::Cow<'_, str> {
    match COLOR.get().copied().unwrap_or(false) {
        true => std::borrow::Cow::Owned(sshmatrix_reports::table::colorize(text)),
        false => std::borrow::Cow::Borrowed(text),
    }
}

/// What `--color` and NO_COLOR say, for standard output.
fn color_wanted(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Table,
    Csv,
    Json,
    Markdown,
    /// A ✓/✗ compatibility sheet (Markdown with an HTML table) for documentation pages.
    Sheet,
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
            OutFormat::Sheet => Format::Sheet,
            OutFormat::Html => Format::Html,
            OutFormat::Junit => Format::Junit,
        }
    }
}

/// The `--work-dir` given, else the default one; returns exit 3 from the enclosing function
/// when there is no home directory to put it in.
macro_rules! work_dir {
    ($given:expr) => {
        match sshmatrix::workdir::resolve($given) {
            Ok(w) => w,
            Err(e) => return $crate::fail_run(e),
        }
    };
}

mod cli;

/// Writes rendered output to a file (never through a symbolic link, never another user's
/// file: [`cli::output::Destination`]), or standard output.
fn emit(text: &str, output: Option<&std::path::Path>) -> Result<(), ExitCode> {
    cli::output::Destination::open(output)
        .and_then(|d| d.write(text))
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        })
}

/// Prints a run error and gives its exit code (2 bad input, 3 environment).
fn fail_run(e: RunError) -> ExitCode {
    match e {
        RunError::Interrupted(_) => eprintln!(
            "{e}; keys made so far stay cached, processes and the run directory were cleaned up"
        ),
        _ => eprintln!("error: {e}"),
    }
    ExitCode::from(e.exit_code() as u8)
}

#[derive(Subcommand)]
enum Command {
    /// Run a matrix file and print the ○/× table (or CSV / JSON).
    Run(Box<cli::run::RunArgs>),
    /// Explain one cell: its verdict, code and evidence, and the fixes that would turn × into ○.
    Explain {
        /// The matrix file (TOML; `-` reads it from standard input).
        matrix: PathBuf,
        /// The cell: its index, or key=value pairs (client, key_tool, key, passphrase, target, user).
        /// Without it, the whole matrix is run and explained: why cells fail, grouped by code,
        /// and the fixes that turn the most × into ○ (verified).
        cell: Option<String>,
        /// Explain the whole matrix (the same as leaving out CELL).
        #[arg(long, conflicts_with_all = ["cell", "try_fixes", "fixes"])]
        whole_matrix: bool,
        /// Rerun the cell with each fix applied and report which really work.
        #[arg(long)]
        try_fixes: bool,
        /// Also try this fix: client=ID, key=SPEC, key_tool=ID, policy=ID, sshd=LINE, host_keys=A,B.
        #[arg(long = "fix")]
        fixes: Vec<String>,
        #[command(flatten)]
        work: cli::WorkDir,
        #[command(flatten)]
        grants: cli::GrantArgs,
    },
    /// Print the authorized_keys lines to install for each target and user (makes the keys).
    AuthorizedKeys {
        /// The matrix file (TOML; `-` reads it from standard input).
        matrix: PathBuf,
        #[command(flatten)]
        work: cli::WorkDir,
        #[command(flatten)]
        grants: cli::GrantArgs,
    },
    /// Run every real-client profile side by side with its emulation profile over all policies,
    /// key types and passphrases; print the agreement rate and every disagreement (exit 1 if any).
    VerifyProfiles {
        /// Check this real client against this profile instead of its base (`real-openssh-9.2=
        /// recorded-openssh-9.2p1`, e.g. a recorded profile in --profiles); repeatable. Only
        /// the given pairs run, and no KEXINIT is captured.
        #[arg(long, value_name = "REAL=PROFILE")]
        pair: Vec<String>,
        /// Only these policies (comma-separated; default: every built-in policy).
        #[arg(long, value_delimiter = ',')]
        policies: Vec<String>,
        #[command(flatten)]
        work: cli::WorkDir,
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
        #[arg(required_unless_present_any = ["synthetic", "render"])]
        matrix: Option<PathBuf>,
        /// Instead: a synthetic matrix of 400 × USERS cells (5 users: 2,000 cells), run cold
        /// (empty key cache) then warm; prints cells/s and peak RSS.
        #[arg(long, value_name = "USERS")]
        synthetic: Option<usize>,
        /// With --synthetic: only plan the matrix (what `check` does) and print the peak RSS
        /// (target: 100,000 cells, `--synthetic 250`, within 100 MB).
        #[arg(long, requires = "synthetic")]
        plan_only: bool,
        /// Instead: the matrix's real-client cells by sshmatrix against a plain parallel loop
        /// of the same client command lines (same servers, same --jobs): wall time, their
        /// ratio, CPU seconds per cell.
        #[arg(long, conflicts_with = "synthetic")]
        real: bool,
        /// Cells run at once by the emulator (default: 4 per core).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Instead: a synthetic report of at least CELLS predicted cells rendered in every
        /// format, each timed (target: 100,000 cells in 3 s or less per format).
        #[arg(long, value_name = "CELLS", conflicts_with_all = ["synthetic", "real", "matrix"])]
        render: Option<usize>,
        #[command(flatten)]
        work: cli::WorkDir,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output: `sshmatrix man | man -l -`.
    Man,
    /// Print the JSON Schema of `--format json` reports (also shipped as
    /// reports/report.schema.json).
    Schema,
    /// What an sshd_config does to every client before it is deployed: checked with `sshd -t`,
    /// run by the local sshd against each client × key type; with `--from OLD`, the cells that
    /// change (exit 1 on regressions).
    Impact(Box<cli::impact::ImpactArgs>),
    /// Which clients × key types would log in to a live server, predicted from what it shows
    /// before login (identification, KEXINIT, host keys, server-sig-algs; nothing
    /// authenticates), or from an ssh-audit JSON report; what cannot be seen without a login is
    /// marked `not-observable`.
    Scan(Box<cli::scan::ScanArgs>),
    /// One client holding one key against one policy, without a matrix file: runs the cell and
    /// explains it (verdict, code, both sides' evidence, fixes; `--try-fixes` verifies them).
    Try(Box<cli::try_cell::TryArgs>),
    /// Serve one OpenSSH policy on a 127.0.0.1 port (sshd -i per connection) until Ctrl-C:
    /// point a real client or `sshmatrix scan` at it. Prints `127.0.0.1:PORT` first.
    Serve(cli::serve::ServeArgs),
    /// Turn a real client into a profile: it logs in to a recording server a few times (every
    /// login fails on purpose; nothing secret is kept), and the profile of what it did is
    /// written, ready for a profiles directory. `--client` records a client sshmatrix runs.
    Record(Box<cli::record::RecordArgs>),
    /// Internal: one recorded connection on stdin/stdout (the server end of `record --client`).
    #[command(hide = true)]
    RecordOne(cli::record::RecordOneArgs),
    /// Predict every cell's verdict from profile and policy data alone, without connecting.
    Predict {
        /// The matrix file (TOML; `-` reads it from standard input).
        matrix: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
        #[command(flatten)]
        work: cli::WorkDir,
        #[command(flatten)]
        grants: cli::GrantArgs,
    },
    /// Validate a matrix file and print its plan, without running anything.
    Check {
        /// The matrix file (TOML; `-` reads it from standard input).
        matrix: PathBuf,
        #[command(flatten)]
        grants: cli::GrantArgs,
    },
    /// List client profiles and key tools: a compact table, every fact with its source
    /// (`--long`), or JSON.
    Profiles {
        #[command(flatten)]
        listing: cli::inspect::Listing,
    },
    /// List server policies: a compact table, every fact with its source (`--long`), or JSON.
    Policies {
        #[command(flatten)]
        listing: cli::inspect::Listing,
    },
    /// Container images: `list` shows what sshmatrix can make and what is built; `build`
    /// makes the named ones (all Debian releases when none is named).
    Images {
        #[command(subcommand)]
        action: cli::inspect::ImagesAction,
    },
    /// Library clients (paramiko, AsyncSSH, libssh2, libssh, Node ssh2, JSch): `list` shows
    /// them and what is installed; `install` installs the named ones (all when none is named).
    Clients {
        #[command(subcommand)]
        action: cli::clients::ClientsAction,
    },
}

fn catalog_parts() -> (
    Vec<sshmatrix_clients::Profile>,
    Vec<sshmatrix_clients::KeyTool>,
    Vec<sshmatrix_servers::Policy>,
) {
    let profiles = PROFILES.get().cloned().unwrap_or_else(builtin_profiles);
    (profiles, key_tools(), builtin_policies())
}

/// Plans generated matrix text (synthetic bench, fidelity check) with the built-in catalog.
fn plan_generated(name: &str, text: &str) -> Result<matrix::Plan, ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog::new(&profiles, &tools, &policies);
    matrix::plan(name, text, None, &catalog).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT as u8)
    })
}

/// Loads and validates a matrix and its expectations file with the user's grants; prints the
/// error and gives exit 2. sshd lines trusted by `--trust-sshd-lines` are shown on stderr
/// before anything uses them.
fn load_plan(
    path: &std::path::Path,
    grants: &sshmatrix::grants::Grants,
) -> Result<(matrix::Plan, Option<Vec<expect::Rule>>), ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog::new(&profiles, &tools, &policies).with_grants(grants.clone());
    let plan = matrix::load(path, &catalog).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT as u8)
    })?;
    if let Some(unknown) = grants
        .targets()
        .find(|g| !plan.targets.iter().any(|t| &t.id == g))
    {
        eprintln!(
            "error: a grant names target `{unknown}`, which {} does not have\n  hint: --password and --deploy-key take TARGET=…, TARGET one of the matrix's target ids",
            plan.file
        );
        return Err(ExitCode::from(EXIT_INPUT as u8));
    }
    if grants.trust_sshd_lines {
        for (target, line) in sshmatrix::matrix::check::unsafe_lines(&plan) {
            eprintln!("note: trusting target `{target}`'s sshd line: {line}");
        }
    }
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
    let text =
        sshmatrix::bounded::read_to_string(path, sshmatrix::bounded::MAX_REPORT).map_err(|e| {
            eprintln!("error: {}: {e}", path.display());
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

/// glibc's allocator tuned for Argon2's 8 MiB per PPK v3 key (measured with `bench --synthetic
/// 5`, 2 cores): one arena, as glibc otherwise gives each thread that frees large buffers its
/// own and keeps the memory (peak RSS doubled, no speed gain); and buffers of 4 MiB or more
/// always mapped and unmapped, as glibc otherwise raises that threshold after the first such
/// free and keeps later ones in the heap (peak 77–101 MiB with keys decrypted ahead of the
/// cells, 45–46 MiB with the fixed threshold, same cells/s; 1 MiB was slower).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    const M_ARENA_MAX: std::ffi::c_int = -8;
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        mallopt(M_ARENA_MAX, 1);
        mallopt(M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// For commands that only print (no child process, container or run to clean up): a closed
/// standard output (`sshmatrix profiles | head`) ends the process quietly, as for any Unix
/// filter, instead of a "failed printing to stdout" panic (Rust ignores SIGPIPE by default).
#[cfg(unix)]
fn quiet_on_closed_stdout() {
    extern "C" {
        fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
    }
    const SIGPIPE: std::ffi::c_int = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: restores the default disposition of one signal before any thread exists.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

/// Whether a command only prints what it reads (see [`quiet_on_closed_stdout`]).
fn only_prints(command: &Command) -> bool {
    use cli::clients::ClientsAction;
    use cli::inspect::ImagesAction;
    matches!(
        command,
        Command::Profiles { .. }
            | Command::Policies { .. }
            | Command::Check { .. }
            | Command::Predict { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Schema
            | Command::Images {
                action: ImagesAction::List { .. }
            }
            | Command::Clients {
                action: ClientsAction::List { .. }
            }
    )
}

/// Secrets live in this process's memory: no core file, and no other process of the same user
/// may read its memory (`PR_SET_DUMPABLE` 0 also closes /proc/PID/mem and ptrace to them).
#[cfg(target_os = "linux")]
fn guard_memory() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on this process, before any other thread exists.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn guard_memory() {}

/// The environment variables the command line names as password sources (`--password
/// T=env:VAR`), read before the arguments are parsed by clap (which needs no environment).
fn password_variables() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .enumerate()
        .filter_map(|(i, a)| match a.strip_prefix("--password=") {
            Some(v) => Some(v.to_string()),
            None => (a == "--password")
                .then(|| args.get(i + 1).cloned())
                .flatten(),
        })
        .filter_map(|g| g.split_once("=env:").map(|(_, v)| v.to_string()))
        .collect()
}

fn main() -> ExitCode {
    tune_malloc();
    guard_memory();
    let vars = password_variables();
    sshmatrix::grants::take_from_environment(vars.iter().map(String::as_str));
    let cli = Cli::parse();
    match sshmatrix_clients::profile::profiles_with(&profile_dirs(cli.profiles.clone())) {
        Ok(p) => {
            let _ = PROFILES.set(p);
        }
        Err(e) => {
            eprintln!("error: {e}\n  hint: fix or remove that file, or point --profiles elsewhere");
            return ExitCode::from(sshmatrix::EXIT_INPUT as u8);
        }
    }
    let _ = COLOR.set(color_wanted(cli.color));
    sshmatrix_reports::table::fit_to(table_width(cli.wide));
    if only_prints(&cli.command) {
        quiet_on_closed_stdout();
    }
    dispatch(cli.command)
}

/// Runs one subcommand.
fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Images { action } => cli::inspect::images_command(action),
        Command::Clients { action } => cli::clients::clients_command(action),
        Command::Profiles { listing } => cli::inspect::profiles(&listing),
        Command::Policies { listing } => cli::inspect::policies(&listing),
        Command::Bench {
            matrix,
            synthetic,
            plan_only,
            real,
            jobs,
            render: Some(cells),
            work: cli::WorkDir { work_dir },
        } => {
            let _ = (matrix, synthetic, plan_only, real, jobs);
            cli::bench::render_bench(cells, work_dir)
        }
        Command::Bench {
            matrix,
            synthetic,
            plan_only,
            real,
            jobs,
            render: None,
            work: cli::WorkDir { work_dir },
        } => cli::bench::command(matrix, synthetic, plan_only, real, jobs, work_dir),
        Command::Predict {
            matrix,
            format,
            work: cli::WorkDir { work_dir },
            grants,
        } => cli::explain::predict(matrix, format, work_dir, &grants.grants()),
        Command::Explain {
            matrix,
            cell,
            try_fixes,
            fixes,
            whole_matrix: _,
            work: cli::WorkDir { work_dir },
            grants,
        } => match cell {
            Some(cell) => {
                cli::explain::explain(matrix, cell, try_fixes, fixes, work_dir, &grants.grants())
            }
            None => cli::explain::explain_matrix(matrix, work_dir, &grants.grants()),
        },
        Command::VerifyProfiles {
            pair,
            policies,
            work: cli::WorkDir { work_dir },
        } => cli::verify::verify_profiles(&pair, &policies, work_dir),
        Command::Impact(a) => cli::impact::command(*a),
        Command::Scan(a) => cli::scan::command(*a),
        Command::Schema => {
            print!("{}", sshmatrix_reports::schema::json_schema());
            ExitCode::from(sshmatrix::EXIT_OK as u8)
        }
        Command::Try(a) => cli::try_cell::command(*a),
        Command::Serve(a) => cli::serve::command(a),
        Command::Record(a) => cli::record::command(*a),
        Command::RecordOne(a) => cli::record::record_one(a),
        Command::CaptureKexinit { out } => cli::verify::capture_kexinit(out),
        Command::AuthorizedKeys {
            matrix,
            work: cli::WorkDir { work_dir },
            grants,
        } => cli::explain::authorized_keys(matrix, work_dir, &grants.grants()),
        Command::Merge {
            reports,
            format,
            output,
            partial,
        } => cli::compare::merge(reports, format, output, partial),
        Command::Diff {
            old,
            new,
            allow_added_removed,
        } => cli::compare::diff(old, new, allow_added_removed),
        Command::Check { matrix, grants } => cli::inspect::check(matrix, &grants.grants()),
        Command::Run(args) => cli::run::command(*args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "sshmatrix", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: standard output: {e}");
                    ExitCode::from(EXIT_ENVIRONMENT as u8)
                }
            }
        }
    }
}
