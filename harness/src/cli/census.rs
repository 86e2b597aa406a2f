//! `sshmatrix census`: who really connects, from servers' logs.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::evidence::census;
use sshmatrix::evidence::redact::Redactor;
use sshmatrix::{EXIT_INPUT, EXIT_OK};

use super::common::{catalog_parts, emit};

/// How `census` writes its counts.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum CensusFormat {
    /// Plain text.
    #[default]
    Table,
    /// JSON (what `--population` will read).
    Json,
}

/// Arguments of `sshmatrix census`.
#[derive(clap::Args)]
pub struct CensusArgs {
    /// Servers' logs: auth.log, secure, `journalctl -u sshd` output, `sshd -e` output, of one
    /// host or many (`-` reads standard input).
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: CensusFormat,
    /// Write the census here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Replace host and account names consistently (host-1, user-1).
    #[arg(long)]
    redact: bool,
}

/// `sshmatrix census`.
pub fn command(a: CensusArgs) -> ExitCode {
    let (profiles, _, _) = catalog_parts();
    let c = census::take(&a.logs, &profiles);
    if c.unread.len() == a.logs.len() {
        for (file, why) in &c.unread {
            crate::cli::common::error(format!("{file}: {why}"));
        }
        eprintln!("  hint: census reads servers' logs: `journalctl -u sshd > server.log`, /var/log/secure, /var/log/auth.log");
        return ExitCode::from(EXIT_INPUT as u8);
    }
    let text = match a.format {
        CensusFormat::Table => census::render(&c),
        CensusFormat::Json => serde_json::to_string_pretty(&c).expect("census serializes") + "\n",
    };
    let text = match a.redact {
        true => Redactor::of_census(&c).apply(&text),
        false => text,
    };
    match emit(&text, a.output.as_deref()) {
        Ok(()) => ExitCode::from(EXIT_OK as u8),
        Err(code) => code,
    }
}

/// The clients (profile ids) a change or a scan locks out, weighed by the census at `path`
/// (`impact --population`, `scan --population`), in words.
pub fn weigh_by(path: &std::path::Path, broken: &[String]) -> Result<String, ExitCode> {
    let text = sshmatrix::bounded::read_to_string(path, sshmatrix::bounded::MAX_REPORT)
        .map_err(|e| super::common::input_error(format!("{}: {e}", path.display())))?;
    let census: census::Census = serde_json::from_str(&text).map_err(|e| {
        super::common::input_error(format!(
            "{}: not a census ({e})\n  hint: make one with `sshmatrix census LOG… --format json -o {}`",
            path.display(),
            path.display()
        ))
    })?;
    let (profiles, _, _) = catalog_parts();
    let w = census::weigh(&census, broken, &profiles);
    Ok(census::render_weighed(&w, &path.display().to_string()))
}
