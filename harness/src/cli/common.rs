//! What every subcommand shares: the catalog (built-in and the user's profiles), loading and
//! planning matrices with the user's grants, reading reports, writing output (coloured for a
//! terminal, fitted to its width), the one error-to-exit-code mapping, the runtime, and the
//! process set-up `main` does first.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use sshmatrix::matrix::{self, Catalog};
use sshmatrix::runner::RunError;
use sshmatrix::{expect, EXIT_ENVIRONMENT, EXIT_INPUT};
use sshmatrix_clients::{builtin_profiles, key_tools};
use sshmatrix_reports::{Format, Report};
use sshmatrix_servers::builtin_policies;

/// The client profiles of this run: the built-in ones and the user's directories' (read and
/// checked once, in `main`).
pub static PROFILES: std::sync::OnceLock<Vec<sshmatrix_clients::Profile>> =
    std::sync::OnceLock::new();

/// `--profiles`, else $SSHMATRIX_PROFILES, else the config directory's `sshmatrix/profiles`
/// when it exists.
pub fn profile_dirs(given: Option<PathBuf>) -> Vec<PathBuf> {
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
pub fn table_width(wide: bool) -> usize {
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
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether tables on standard output are coloured (set once in `main`).
pub static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A report as standard output shows it: coloured when `--color` says so.
pub fn for_stdout(text: &str) -> std::borrow::Cow<'_, str> {
    match COLOR.get().copied().unwrap_or(false) {
        true => std::borrow::Cow::Owned(sshmatrix_reports::table::colorize(text)),
        false => std::borrow::Cow::Borrowed(text),
    }
}

/// What `--color` and NO_COLOR say, for standard output.
pub fn color_wanted(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
    }
}

/// A report's output format (`--format`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutFormat {
    Table,
    Csv,
    Json,
    /// Markdown with a pipe table (every wiki renders it).
    Markdown,
    /// Markdown with an HTML table whose grouped column headers span their columns.
    MarkdownHtml,
    /// A ✓/✗ compatibility sheet (Markdown, footnotes in plain words) for documentation pages.
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
            OutFormat::MarkdownHtml => Format::MarkdownHtml,
            OutFormat::Sheet => Format::Sheet,
            OutFormat::Html => Format::Html,
            OutFormat::Junit => Format::Junit,
        }
    }
}

/// Writes rendered output to a file (never through a symbolic link, never another user's
/// file: [`super::output::Destination`]), or standard output.
pub fn emit(text: &str, output: Option<&std::path::Path>) -> Result<(), ExitCode> {
    super::output::Destination::open(output)
        .and_then(|d| d.write(text))
        .map_err(|e| {
            crate::cli::common::error(&e);
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        })
}

/// Prints a run error and gives its exit code (2 bad input, 3 environment).
pub fn fail_run(e: RunError) -> ExitCode {
    match e {
        RunError::Interrupted(_) => eprintln!(
            "{e}; keys made so far stay cached, processes and the run directory were cleaned up"
        ),
        _ => crate::cli::common::error(&e),
    }
    ExitCode::from(e.exit_code() as u8)
}

/// The catalog of this run: profiles (built-in and the user's), key tools, policies.
pub fn catalog_parts() -> (
    Vec<sshmatrix_clients::Profile>,
    Vec<sshmatrix_clients::KeyTool>,
    Vec<sshmatrix_servers::Policy>,
) {
    let profiles = PROFILES.get().cloned().unwrap_or_else(builtin_profiles);
    (profiles, key_tools(), builtin_policies())
}

/// Plans generated matrix text (synthetic bench, fidelity check) with the built-in catalog.
pub fn plan_generated(name: &str, text: &str) -> Result<matrix::Plan, ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog::new(&profiles, &tools, &policies);
    matrix::plan(name, text, None, &catalog).map_err(|e| {
        crate::cli::common::error(&e);
        ExitCode::from(EXIT_INPUT as u8)
    })
}

/// Loads and validates a matrix and its expectations file with the user's grants; prints the
/// error and gives exit 2. sshd lines trusted by `--trust-sshd-lines` are shown on stderr
/// before anything uses them.
pub fn load_plan(
    path: &std::path::Path,
    grants: &sshmatrix::grants::Grants,
) -> Result<(matrix::Plan, Option<Vec<expect::Rule>>), ExitCode> {
    let (profiles, tools, policies) = catalog_parts();
    let catalog = Catalog::new(&profiles, &tools, &policies).with_grants(grants.clone());
    let plan = matrix::load(path, &catalog).map_err(|e| {
        crate::cli::common::error(&e);
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
pub fn read_report(path: &std::path::Path) -> Result<Report, ExitCode> {
    let text =
        sshmatrix::bounded::read_to_string(path, sshmatrix::bounded::MAX_REPORT).map_err(|e| {
            crate::cli::common::error(format!("{}: {e}", path.display()));
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
pub fn runtime() -> tokio::runtime::Runtime {
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
pub fn tune_malloc() {
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
pub fn tune_malloc() {}

/// For commands that only print (no child process, container or run to clean up): a closed
/// standard output (`sshmatrix profiles | head`) ends the process quietly, as for any Unix
/// filter, instead of a "failed printing to stdout" panic (Rust ignores SIGPIPE by default).
#[cfg(unix)]
pub fn quiet_on_closed_stdout() {
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

/// Secrets live in this process's memory: no core file, and no other process of the same user
/// may read its memory (`PR_SET_DUMPABLE` 0 also closes /proc/PID/mem and ptrace to them).
#[cfg(target_os = "linux")]
pub fn guard_memory() {
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
pub fn guard_memory() {}

/// The environment variables the command line names as password sources (`--password
/// T=env:VAR`), read before the arguments are parsed by clap (which needs no environment).
pub fn password_variables() -> Vec<String> {
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

/// Prints an error on standard error, its fixed words in the reader's language (`error:` and
/// each `hint:`; the message itself as written).
pub fn error(message: impl std::fmt::Display) {
    let lang = sshmatrix_core::i18n::current();
    let hint = format!("\n  {}: ", sshmatrix_core::tr!(lang, "word-hint"));
    let text = message.to_string().replace("\n  hint: ", &hint);
    eprintln!("{}: {text}", sshmatrix_core::tr!(lang, "word-error"));
}

/// Prints an input error and gives exit 2.
pub fn input_error(message: String) -> ExitCode {
    crate::cli::common::error(&message);
    ExitCode::from(EXIT_INPUT as u8)
}

/// Prints an environment error and gives exit 3.
pub fn environment_error(message: String) -> ExitCode {
    crate::cli::common::error(&message);
    ExitCode::from(EXIT_ENVIRONMENT as u8)
}

/// The work directory given, else the default one, checked and prepared; exit 3 when it will
/// not do.
pub fn work_dir(given: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    sshmatrix::workdir::resolve(given).map_err(fail_run)
}

/// The client profiles `ids` names (an unknown one is exit 2 with the nearest id), or the
/// default set of [`sshmatrix::impact::default_clients`] when none are named.
pub fn choose_clients<'a>(
    flag: &str,
    ids: &[String],
    profiles: &'a [sshmatrix_clients::Profile],
) -> Result<Vec<&'a sshmatrix_clients::Profile>, ExitCode> {
    if ids.is_empty() {
        return Ok(sshmatrix::impact::default_clients(profiles));
    }
    let mut v = Vec::new();
    for id in ids {
        match profiles.iter().find(|p| &p.id == id) {
            Some(p) => v.push(p),
            None => {
                let near = matrix::nearest(id, profiles.iter().map(|p| p.id.as_str()));
                let hint = near
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default();
                return Err(input_error(format!(
                    "{flag}: unknown client profile `{id}`\n  hint: {hint}(see `sshmatrix profiles`)"
                )));
            }
        }
    }
    Ok(v)
}
