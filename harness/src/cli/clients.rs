//! `sshmatrix clients list|install`: the library clients (paramiko, AsyncSSH, libssh2, libssh,
//! Node ssh2, JSch) and their installations under `WORK_DIR/clients/`.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::{EXIT_ENVIRONMENT, EXIT_INPUT, EXIT_OK};
use sshmatrix_clients::install;

/// `sshmatrix clients …`.
#[derive(clap::Subcommand)]
pub enum ClientsAction {
    /// The library clients sshmatrix can install, and which are installed.
    List {
        #[command(flatten)]
        work: super::WorkDir,
    },
    /// Installs the named library clients (all when none is named); already installed ones
    /// are left as they are.
    Install {
        /// Profile ids (`real-paramiko-2.8.1`, `real-jsch-0.1.55`, …).
        names: Vec<String>,
        #[command(flatten)]
        work: super::WorkDir,
    },
}

/// `sshmatrix clients list|install`.
/// Arguments of `sshmatrix clients`.
#[derive(clap::Args)]
pub struct ClientsArgs {
    #[command(subcommand)]
    pub action: ClientsAction,
}

pub fn clients_command(action: ClientsAction) -> ExitCode {
    match action {
        ClientsAction::List { work } => list(work_dir!(work.work_dir)),
        ClientsAction::Install { names, work } => install_named(&names, work_dir!(work.work_dir)),
    }
}

fn list(work_dir: PathBuf) -> ExitCode {
    let profiles = super::common::catalog_parts().0;
    let root = sshmatrix::libraries::root(&work_dir);
    for p in sshmatrix::libraries::library_profiles(&profiles) {
        let state = match install::is_installed(&root, p) {
            true => "installed",
            false => "not installed",
        };
        let driver = p.driver.map(|d| d.name()).unwrap_or_default();
        println!(
            "{:<32} {:<10} {:<14} {}",
            p.id,
            driver,
            state,
            p.display_name()
        );
    }
    ExitCode::from(EXIT_OK as u8)
}

fn install_named(names: &[String], work_dir: PathBuf) -> ExitCode {
    let profiles = super::common::catalog_parts().0;
    let known = sshmatrix::libraries::library_profiles(&profiles);
    let mut wanted = Vec::new();
    for n in names {
        match known.iter().find(|p| &p.id == n) {
            Some(p) => wanted.push(*p),
            None => {
                let hint = sshmatrix::matrix::nearest(n, known.iter().map(|p| p.id.as_str()))
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                eprintln!(
                    "error: `{n}` is not a library client{hint}; `sshmatrix clients list` shows them"
                );
                return ExitCode::from(EXIT_INPUT as u8);
            }
        }
    }
    if names.is_empty() {
        wanted = known;
    }
    match sshmatrix::libraries::ensure_all(&wanted, &work_dir, &mut |m| eprintln!("sshmatrix: {m}"))
    {
        Ok(done) => {
            println!(
                "{} library clients installed under {}",
                done.len(),
                sshmatrix::libraries::root(&work_dir).display()
            );
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => {
            crate::cli::common::error(&e);
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        }
    }
}
