//! `sshmatrix try`: one client holding one key against one policy, without a matrix file.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::impact;
use sshmatrix::matrix::{self, Catalog};

use super::common::{choose_clients, input_error};

/// Arguments of `sshmatrix try`.
#[derive(clap::Args)]
pub struct TryArgs {
    /// The client profile (`sshmatrix profiles`), e.g. teraterm-4.106 or real-openssh-9.2.
    #[arg(long)]
    client: String,
    /// The key, as matrix files spell it: rsa-2048, ecdsa-256, ed25519, …
    #[arg(long, default_value = "ed25519")]
    key: String,
    /// The server policy (`sshmatrix policies`), e.g. rhel9-default.
    #[arg(long)]
    policy: String,
    /// The key-generation tool (default: one whose files the client reads natively).
    #[arg(long)]
    key_tool: Option<String>,
    /// Protect the key file with a passphrase.
    #[arg(long)]
    passphrase: bool,
    /// Present a user certificate signed by a CA made for the run (the server trusts it), as
    /// matrix files spell it: rsa-sha1, rsa-sha512, ecdsa, ed25519, ed25519-expired, …
    #[arg(long, value_name = "CERTIFICATE")]
    certificate: Option<String>,
    /// Run the server in a container of this release image instead of this host's sshd (needed
    /// for Dropbear and TinySSH policies).
    #[arg(long)]
    image: Option<String>,
    /// The login name (a label for local targets; a real account in a container).
    #[arg(long, default_value = "sshmatrix")]
    user: String,
    /// Rerun the cell with each computed fix and say which really work.
    #[arg(long)]
    try_fixes: bool,
    #[command(flatten)]
    work: super::WorkDir,
}

/// The one-cell matrix of a `try`.
fn matrix_text(a: &TryArgs, tool: &str) -> String {
    let q = impact::quote;
    let certificates = match &a.certificate {
        Some(c) => format!("certificates = [{}]\n", q(c)),
        None => String::new(),
    };
    let mut t = format!(
        "title = \"try\"\n[axes]\nkeys = [{}]\npassphrase = [{}]\n{certificates}pairs = [{{ client = {}, key_tool = {} }}]\n[[targets]]\nid = {}\npolicy = {}\nusers = [{}]\n",
        q(&a.key),
        q(if a.passphrase { "yes" } else { "no" }),
        q(&a.client),
        q(tool),
        q(&a.policy),
        q(&a.policy),
        q(&a.user),
    );
    if let Some(image) = &a.image {
        t.push_str(&format!("kind = \"container\"\nimage = {}\n", q(image)));
    }
    t
}

/// A planning error of the one-cell matrix in the words of `try`'s own flags: the flag whose
/// value the error is about instead of a line of a file the user never wrote, and `--image`
/// where the hint gives matrix syntax.
fn flag_error(e: &matrix::InputError, text: &str) -> String {
    let line = e
        .position
        .and_then(|(l, c)| Some((text.lines().nth(l.checked_sub(1)?)?, c)));
    let flag = match line {
        Some((l, _)) if l.starts_with("keys") => "--key",
        Some((l, _)) if l.starts_with("passphrase") => "--passphrase",
        Some((l, _)) if l.starts_with("certificates") => "--certificate",
        Some((l, c)) if l.starts_with("pairs") => match l.find("key_tool") {
            Some(k) if c > k => "--key-tool",
            _ => "--client",
        },
        Some((l, _)) if l.starts_with("users") => "--user",
        Some((l, _)) if l.starts_with("image") || l.starts_with("kind") => "--image",
        _ => "--policy",
    };
    let hint = e.hint.as_deref().map(|h| match image_in(h) {
        Some(image) => format!("add --image {image}"),
        None => h.to_string(),
    });
    match hint {
        Some(h) => format!("{flag}: {}\n  hint: {h}", e.message),
        None => format!("{flag}: {}", e.message),
    }
}

/// The image a matrix hint names (`image = "bookworm"`).
fn image_in(hint: &str) -> Option<&str> {
    let rest = hint.split_once("image = \"")?.1;
    rest.split_once('"').map(|(image, _)| image)
}

/// `sshmatrix try`: runs the cell and explains it.
pub fn command(a: TryArgs) -> ExitCode {
    let (profiles, tools, policies) = super::common::catalog_parts();
    let client = match choose_clients("--client", std::slice::from_ref(&a.client), &profiles) {
        Ok(c) => c[0],
        Err(code) => return code,
    };
    let tool = a
        .key_tool
        .clone()
        .unwrap_or_else(|| sshmatrix::fidelity::native_key_tool(client).to_string());
    let catalog = Catalog::new(&profiles, &tools, &policies);
    let text = matrix_text(&a, &tool);
    let plan = match matrix::plan("try", &text, None, &catalog) {
        Ok(p) => p,
        Err(e) => return input_error(flag_error(&e, &text)),
    };
    let work_dir: Option<PathBuf> = a.work.work_dir.clone();
    super::explain::explain_plan(&plan, "0", a.try_fixes, Vec::new(), work_dir)
}
