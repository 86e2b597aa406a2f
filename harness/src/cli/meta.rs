//! `completions`, `man` and `schema`: what sshmatrix says about itself.

use std::process::ExitCode;

use sshmatrix::{EXIT_ENVIRONMENT, EXIT_OK};

/// Arguments of `sshmatrix completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `sshmatrix completions SHELL`: the completion script of `cmd`.
pub fn completions(a: &CompletionsArgs, mut cmd: clap::Command) -> ExitCode {
    clap_complete::generate(a.shell, &mut cmd, "sshmatrix", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// `sshmatrix man`: the man page of `cmd` (roff).
pub fn man(cmd: clap::Command) -> ExitCode {
    match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::cli::common::error(format!("standard output: {e}"));
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        }
    }
}

/// `sshmatrix schema`: the JSON Schema of reports.
pub fn schema() -> ExitCode {
    print!("{}", sshmatrix_reports::schema::json_schema());
    ExitCode::from(EXIT_OK as u8)
}
