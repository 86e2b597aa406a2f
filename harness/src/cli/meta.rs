//! `completions`, `man` and `schema`: what sshmatrix says about itself.

use std::process::ExitCode;

use sshmatrix::{EXIT_ENVIRONMENT, EXIT_OK};

/// Arguments of `sshmatrix completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `sshmatrix completions SHELL`: the completion script of `cmd`, where arguments naming a
/// client profile, a key tool or a policy complete to the ids known when the script is made
/// (the built-in ones and those of --profiles or $SSHMATRIX_PROFILES).
pub fn completions(a: &CompletionsArgs, cmd: clap::Command) -> ExitCode {
    let (profiles, tools, policies) = crate::cli::common::catalog_parts();
    let mut clients: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
    clients.extend(["@current".to_string(), "@current-real".to_string()]);
    let ids = Ids {
        clients,
        tools: tools.iter().map(|t| t.id.clone()).collect(),
        policies: policies.iter().map(|p| p.id.clone()).collect(),
    };
    let mut cmd = with_ids(cmd, &ids);
    clap_complete::generate(a.shell, &mut cmd, "sshmatrix", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// The ids arguments complete to.
struct Ids {
    clients: Vec<String>,
    tools: Vec<String>,
    policies: Vec<String>,
}

/// `cmd` and its commands with every client, key tool and policy argument limited to `ids`
/// (for the completion script only: parsing keeps its own checks and messages).
fn with_ids(mut cmd: clap::Command, ids: &Ids) -> clap::Command {
    let args: Vec<(String, &Vec<String>)> = cmd
        .get_arguments()
        .filter_map(|arg| {
            let list = match arg.get_id().as_str() {
                "client" | "clients" => &ids.clients,
                "key_tool" | "key_tools" => &ids.tools,
                "policy" | "policies" => &ids.policies,
                _ => return None,
            };
            Some((arg.get_id().to_string(), list))
        })
        .collect();
    for (id, list) in args {
        let values = clap::builder::PossibleValuesParser::new(list.iter().map(|v| v.to_string()));
        cmd = cmd.mut_arg(id, |a| a.value_parser(values));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |c| with_ids(c, ids));
    }
    cmd
}

/// Arguments of `sshmatrix man`.
#[derive(clap::Args)]
pub struct ManArgs {
    /// The page of one command (`sshmatrix man run`, the page sshmatrix(1) refers to as
    /// sshmatrix-run(1)); without it, sshmatrix(1).
    pub command: Option<String>,
    /// Write every page (sshmatrix.1 and one sshmatrix-COMMAND.1 per command) into this directory
    /// instead, e.g. a MANPATH directory's man1.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<std::path::PathBuf>,
}

/// `sshmatrix man [COMMAND] [--out-dir DIR]`: the man page of `cmd` or of one of its commands
/// (roff), or every page written into a directory.
pub fn man(a: &ManArgs, cmd: clap::Command) -> ExitCode {
    let failed = |what: String| {
        crate::cli::common::error(what);
        ExitCode::from(EXIT_ENVIRONMENT as u8)
    };
    if let Some(dir) = &a.out_dir {
        return match clap_mangen::generate_to(cmd, dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => failed(format!("{}: {e}", dir.display())),
        };
    }
    let page = match &a.command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                let names: Vec<&str> = cmd
                    .get_subcommands()
                    .filter(|c| !c.is_hide_set())
                    .map(|c| c.get_name())
                    .collect();
                return crate::cli::common::input_error(format!(
                    "no command `{name}`\n  hint: one of {}",
                    names.join(", ")
                ));
            };
            // The page's title as sshmatrix(1) names it.
            let title = format!("sshmatrix-{}", sub.get_name());
            sub.name(title)
        }
    };
    match clap_mangen::Man::new(page).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(format!("standard output: {e}")),
    }
}

/// The commands of `sshmatrix --help` in groups: what each group is for, then its commands.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "Run a matrix",
        &["run", "check", "predict", "explain", "authorized-keys"],
    ),
    ("A support case", &["try", "diagnose", "census"]),
    ("Live servers and fleets", &["scan", "impact", "serve"]),
    ("Reports", &["diff", "render", "merge", "schema"]),
    (
        "Clients and data",
        &[
            "profiles",
            "policies",
            "record",
            "verify-profiles",
            "clients",
            "images",
        ],
    ),
    ("This tool", &["bench", "completions", "man", "help"]),
];

/// The command list of `--help` in [`GROUPS`], each command's one-line summary wrapped to
/// `width` columns; commands no group names are listed last (a test keeps that list empty).
pub fn grouped_commands(cmd: &clap::Command, width: usize) -> String {
    let visible: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    let pad = visible
        .iter()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0)
        + 4;
    let mut out = String::new();
    let grouped: Vec<&str> = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    let rest: Vec<&str> = visible
        .iter()
        .map(|c| c.get_name())
        .filter(|n| !grouped.contains(n))
        .collect();
    let groups = GROUPS
        .iter()
        .copied()
        .chain((!rest.is_empty()).then_some(("Other", &rest[..])));
    for (title, names) in groups {
        out.push_str(&format!("{title}:\n"));
        for name in names {
            let about = match *name {
                "help" => "Print this message or the help of the given command".to_string(),
                n => visible
                    .iter()
                    .find(|c| c.get_name() == n)
                    .and_then(|c| c.get_about())
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            };
            out.push_str(&wrap_entry(name, &about, pad, width));
        }
        out.push('\n');
    }
    out
}

/// `  NAME  about…` with the about text wrapped at `width`, continuation lines under its start.
fn wrap_entry(name: &str, about: &str, pad: usize, width: usize) -> String {
    let mut out = format!("  {name:<w$}", w = pad - 2);
    let mut col = pad;
    for word in about.split_whitespace() {
        if col > pad && col + 1 + word.len() > width {
            out.push_str(&format!("\n{}", " ".repeat(pad)));
            col = pad;
        } else if col > pad {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.chars().count();
    }
    out.push('\n');
    out
}

/// `sshmatrix schema`: the JSON Schema of reports.
pub fn schema() -> ExitCode {
    print!("{}", sshmatrix_reports::schema::json_schema());
    ExitCode::from(EXIT_OK as u8)
}
