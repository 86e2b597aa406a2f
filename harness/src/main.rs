//! `sshmatrix`: which SSH clients, holding which keys, can log in to which servers, and why not.
//! This file parses the command line and dispatches; every subcommand lives in `cli/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cli;

use cli::common::{self, ColorChoice};
use sshmatrix_core::i18n::{self, Lang};

#[derive(Parser)]
#[command(
    name = "sshmatrix",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SSHMATRIX_COMMIT"), ")"),
    about = "Which SSH clients, holding which keys, can log in to which servers — and why not.",
    after_help = "Examples:\n  sshmatrix run matrices/nutanix-cluster-lockdown.toml\n  sshmatrix explain matrices/nutanix-cluster-lockdown.toml 1 --try-fixes\n  sshmatrix try --client teraterm-4.106 --key rsa-2048 --policy rhel9-default --try-fixes\n  sshmatrix diagnose client.log server.log --reproduce\n  sshmatrix run matrices/troubleshooting.toml --format html -o report.html\n\nExit codes: 0 done (expectations met), 1 expectations not met or regressions, 2 bad input, 3 environment problem, 130 interrupted"
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
    /// The language of tables, reports (table, Markdown, sheet, HTML) and explanations: en or
    /// ja. Default: the locale's (LC_ALL, LC_MESSAGES, LANG), English when it is another.
    /// Evidence (what clients and servers said) is never translated; CSV, JSON and JUnit carry
    /// ids and codes, the same in every language.
    #[arg(long, global = true, value_parser = ["en", "ja"])]
    lang: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a matrix file and print the ○/× table (or CSV / JSON).
    Run(Box<cli::run::RunArgs>),
    /// Validate a matrix file and print its plan, without running anything.
    Check(cli::inspect::CheckArgs),
    /// Predict every cell's verdict from profile and policy data alone, without connecting.
    Predict(cli::explain::PredictArgs),
    /// Explain one cell: its verdict, code and evidence, and the fixes that would turn × into ○.
    Explain(cli::explain::ExplainArgs),
    /// A support case from its logs: a client's debug output (ssh -vvv, paramiko), the server's
    /// auth log or journal → each attempt's client and server identified, its cause named with
    /// the evidence lines; `--matrix` writes a reproduction, `--reproduce` runs it.
    Diagnose(Box<cli::diagnose::DiagnoseArgs>),
    /// Who really connects, from servers' logs: per host and overall the client software
    /// (mapped to profiles), key types, signature algorithms, methods, accounts, failures by
    /// code, and what the log level cannot show.
    Census(cli::census::CensusArgs),
    /// One client holding one key against one policy, without a matrix file: runs the cell and
    /// explains it (verdict, code, both sides' evidence, fixes; `--try-fixes` verifies them).
    Try(Box<cli::try_cell::TryArgs>),
    /// Which clients × key types would log in to a live server, predicted from what it shows
    /// before login (identification, KEXINIT, host keys, server-sig-algs; nothing
    /// authenticates), or from an ssh-audit JSON report; what cannot be seen without a login is
    /// marked `not-observable`.
    Scan(Box<cli::scan::ScanArgs>),
    /// What an sshd_config does to every client before it is deployed: checked with `sshd -t`,
    /// run by the local sshd against each client × key type; with `--from OLD`, the cells that
    /// change (exit 1 on regressions).
    Impact(Box<cli::impact::ImpactArgs>),
    /// List the cells that changed between two JSON reports; exit 1 on regressions and on
    /// cells present in one report only.
    Diff(cli::compare::DiffArgs),
    /// Render a saved JSON report in any format (table, CSV, Markdown, sheet, HTML, JUnit)
    /// without running anything.
    Render(cli::compare::RenderArgs),
    /// Merge the JSON reports of shards (or of resumed runs) into one report.
    Merge(cli::compare::MergeArgs),
    /// Print the authorized_keys lines to install for each target and user (makes the keys).
    AuthorizedKeys(cli::explain::AuthorizedKeysArgs),
    /// Serve one OpenSSH policy on a 127.0.0.1 port (sshd -i per connection) until Ctrl-C:
    /// point a real client or `sshmatrix scan` at it. Prints `127.0.0.1:PORT` first.
    Serve(cli::serve::ServeArgs),
    /// Turn a real client into a profile: it logs in to a recording server a few times (every
    /// login fails on purpose; nothing secret is kept), and the profile of what it did is
    /// written, ready for a profiles directory. `--client` records a client sshmatrix runs.
    Record(Box<cli::record::RecordArgs>),
    /// Run every real-client profile side by side with its emulation profile over all policies,
    /// key types and passphrases; print the agreement rate and every disagreement (exit 1 if any).
    VerifyProfiles(cli::verify::VerifyArgs),
    /// Benchmark: the matrix by the emulator against a sequential OpenSSH client loop over the
    /// same cells (warm key cache), in the same run.
    Bench(cli::bench::BenchArgs),
    /// List client profiles and key tools: a compact table, every fact with its source
    /// (`--long`), or JSON.
    Profiles(cli::inspect::ListingArgs),
    /// List server policies: a compact table, every fact with its source (`--long`), or JSON.
    Policies(cli::inspect::ListingArgs),
    /// Container images: `list` shows what sshmatrix can make and what is built; `build`
    /// makes the named ones (all Debian releases when none is named).
    Images(cli::inspect::ImagesArgs),
    /// Library clients (paramiko, AsyncSSH, libssh2, libssh, Node ssh2, JSch): `list` shows
    /// them and what is installed; `install` installs the named ones (all when none is named).
    Clients(cli::clients::ClientsArgs),
    /// Print the JSON Schema of `--format json` reports (also shipped as
    /// reports/report.schema.json).
    Schema,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on standard output.
    Completions(cli::meta::CompletionsArgs),
    /// Print the man page (roff) on standard output: `sshmatrix man | man -l -`, one command's
    /// page (`sshmatrix man run`), or every page into a directory (`--out-dir`).
    Man(cli::meta::ManArgs),
    /// Internal: act as a server stub on stdin/stdout, record the client's identification and
    /// KEXINIT as JSON in FILE (used by verify-profiles as a real client's proxy command).
    #[command(hide = true)]
    CaptureKexinit(cli::verify::CaptureArgs),
    /// Internal: one recorded connection on stdin/stdout (the server end of `record --client`).
    #[command(hide = true)]
    RecordOne(cli::record::RecordOneArgs),
}

/// The command line, its `--help` listing the commands in groups ([`cli::meta::GROUPS`]) wrapped
/// to the terminal (COLUMNS, else the terminal's width, at most 100 columns).
fn command() -> clap::Command {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .or_else(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| w as usize)
        })
        .unwrap_or(100)
        .clamp(40, 100);
    let cmd = Cli::command();
    let listing = cli::meta::grouped_commands(&cmd, width);
    cmd.help_template(format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{listing}Options:\n{{options}}{{after-help}}"
    ))
}

/// Whether a command only prints what it reads (a closed standard output then ends it
/// quietly: [`common::quiet_on_closed_stdout`]).
fn only_prints(command: &Command) -> bool {
    use cli::clients::ClientsAction;
    use cli::inspect::ImagesAction;
    match command {
        Command::Images(a) => matches!(a.action, ImagesAction::List { .. }),
        Command::Clients(a) => matches!(a.action, ClientsAction::List { .. }),
        c => matches!(
            c,
            Command::Profiles(_)
                | Command::Policies(_)
                | Command::Check(_)
                | Command::Predict(_)
                | Command::Render(_)
                | Command::Completions(_)
                | Command::Man(_)
                | Command::Schema
        ),
    }
}

fn main() -> ExitCode {
    common::tune_malloc();
    common::guard_memory();
    let vars = common::password_variables();
    sshmatrix::grants::take_from_environment(vars.iter().map(String::as_str));
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match sshmatrix_clients::profile::profiles_with(&common::profile_dirs(cli.profiles.clone())) {
        Ok(p) => {
            let _ = common::PROFILES.set(p);
        }
        Err(e) => {
            crate::cli::common::error(format!(
                "{e}\n  hint: fix or remove that file, or point --profiles elsewhere"
            ));
            return ExitCode::from(sshmatrix::EXIT_INPUT as u8);
        }
    }
    let _ = common::COLOR.set(common::color_wanted(cli.color));
    let lang = cli.lang.as_deref().and_then(Lang::parse);
    i18n::set(lang.unwrap_or_else(Lang::from_env));
    sshmatrix_reports::table::fit_to(common::table_width(cli.wide));
    if only_prints(&cli.command) {
        common::quiet_on_closed_stdout();
    }
    dispatch(cli.command)
}

/// Runs one subcommand.
fn dispatch(command: Command) -> ExitCode {
    use cli::*;
    match command {
        Command::Run(a) => run::command(*a),
        Command::Explain(a) => explain::command(a),
        Command::Diagnose(a) => diagnose::command(*a),
        Command::Census(a) => census::command(a),
        Command::AuthorizedKeys(a) => explain::authorized_keys(a),
        Command::Predict(a) => explain::predict(a),
        Command::VerifyProfiles(a) => verify::verify_profiles(a),
        Command::CaptureKexinit(a) => verify::capture_kexinit(a),
        Command::Merge(a) => compare::merge(a),
        Command::Render(a) => compare::render_saved(a),
        Command::Diff(a) => compare::diff(a),
        Command::Bench(a) => bench::command(a),
        Command::Completions(a) => meta::completions(&a, Cli::command()),
        Command::Man(a) => meta::man(&a, Cli::command()),
        Command::Schema => meta::schema(),
        Command::Impact(a) => impact::command(*a),
        Command::Scan(a) => scan::command(*a),
        Command::Try(a) => try_cell::command(*a),
        Command::Serve(a) => serve::command(a),
        Command::Record(a) => record::command(*a),
        Command::RecordOne(a) => record::record_one(a),
        Command::Check(a) => inspect::check(a),
        Command::Profiles(a) => inspect::profiles(&a.listing),
        Command::Policies(a) => inspect::policies(&a.listing),
        Command::Images(a) => inspect::images_command(a.action),
        Command::Clients(a) => clients::clients_command(a.action),
    }
}
