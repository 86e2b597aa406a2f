//! `sshmatrix serve`: one OpenSSH policy on a 127.0.0.1 port until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::impact;
use sshmatrix::matrix::{self, Catalog};
use sshmatrix::EXIT_INTERRUPTED;

use super::common::input_error;

/// Arguments of `sshmatrix serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The server policy to serve (`sshmatrix policies` lists them): OpenSSH, Dropbear and
    /// TinySSH with the --image of their release, AsyncSSH and emulated old releases on this
    /// host.
    #[arg(long)]
    policy: String,
    /// Run it in a container of this release image (`sshmatrix images list`) instead of this
    /// host's sshd; logins then go to the account `sshmatrix` inside.
    #[arg(long)]
    image: Option<String>,
    /// A public key file (OpenSSH `.pub` format) whose keys may log in; repeatable.
    #[arg(long, value_name = "FILE.pub")]
    authorize: Vec<PathBuf>,
    /// A certificate authority's public key file whose user certificates may log in
    /// (OpenSSH's TrustedUserCAKeys; principals must name the login); repeatable.
    #[arg(long, value_name = "CA.pub")]
    trust_ca: Vec<PathBuf>,
    /// Append every connection's server log to FILE (made 0600 when new; kept after the
    /// server stops), e.g. for `sshmatrix diagnose`. Default: a file in the run directory,
    /// removed when the server stops.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Run OpenSSH as its own listening daemon (`sshd -D`) serving every connection, instead of
    /// `sshd -i` per connection: PerSourcePenalties (OpenSSH 9.8+), MaxStartups and the like
    /// then act across connections. Other local users' connections are not turned away.
    #[arg(long)]
    listen: bool,
    /// An sshd_config line added to the policy's (e.g. "PerSourcePenalties authfail:30s");
    /// repeatable; checked like a matrix target's `sshd` lines.
    #[arg(long = "sshd", value_name = "LINE")]
    sshd: Vec<String>,
    #[command(flatten)]
    work: super::WorkDir,
}

/// The authorized key lines of the given files.
fn public_keys(files: &[PathBuf]) -> Result<Vec<String>, ExitCode> {
    let mut lines = Vec::new();
    for f in files {
        let text = sshmatrix::bounded::read_to_string(f, sshmatrix::bounded::MAX_CONFIG)
            .map_err(|e| input_error(format!("{}: {e}", f.display())))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            russh::keys::ssh_key::PublicKey::from_openssh(line).map_err(|e| {
                input_error(format!(
                    "{}: not an OpenSSH public key line ({e})\n  hint: give the .pub file, not the private key",
                    f.display()
                ))
            })?;
            lines.push(line.to_string());
        }
    }
    Ok(lines)
}

/// Makes the log file a private regular file this user owns (never through a symbolic link).
fn private_log(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    match f.metadata()?.is_file() {
        true => Ok(()),
        false => Err(std::io::Error::other("not a regular file")),
    }
}

/// `sshmatrix serve`: prints `127.0.0.1:PORT` on standard output, then serves until SIGINT or
/// SIGTERM.
pub fn command(a: ServeArgs) -> ExitCode {
    let (keys, cas) = match (public_keys(&a.authorize), public_keys(&a.trust_ca)) {
        (Ok(k), Ok(c)) => (k, c),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let (profiles, tools, policies) = super::common::catalog_parts();
    let client: Vec<&sshmatrix_clients::Profile> = profiles.iter().take(1).collect();
    let q = impact::quote;
    let mut block = format!(
        "[[targets]]\nid = \"served\"\nlabel = [{}]\npolicy = {}\n",
        q(&format!("policy {}", a.policy)),
        q(&a.policy)
    );
    if !a.sshd.is_empty() {
        let lines: Vec<String> = a.sshd.iter().map(|l| q(l)).collect();
        block.push_str(&format!("sshd = [{}]\n", lines.join(", ")));
    }
    match &a.image {
        Some(image) => block.push_str(&format!(
            "kind = \"container\"\nimage = {}\nusers = [\"sshmatrix\"]\n",
            q(image)
        )),
        None => block.push_str("users = [\"u\"]\n"),
    }
    let specs = ["ed25519".to_string()];
    let layout = impact::IMPACT_LAYOUT;
    let text = impact::matrix_with(&[block], &client, &specs, false, layout);
    let catalog = Catalog::new(&profiles, &tools, &policies);
    let plan = match matrix::plan("serve", &text, None, &catalog) {
        Ok(p) => p,
        Err(e) => return input_error(format!("--policy / --image / --sshd: {e}")),
    };
    let work_dir = work_dir!(a.work.work_dir);
    let rt = super::common::runtime();
    rt.block_on(async {
        let mut signals = super::Signals::install();
        if let Some(log) = &a.log {
            if let Err(e) = private_log(log) {
                return super::common::environment_error(format!("--log {}: {e}", log.display()));
            }
        }
        let trusted = sshmatrix::serve::Trusted {
            public_keys: &keys,
            user_cas: &cas,
        };
        let served = match sshmatrix::serve::serve(&plan.targets[0], &work_dir, &trusted, a.log.clone(), a.listen).await {
            Ok(s) => s,
            Err(e) => return super::common::fail_run(e),
        };
        println!("127.0.0.1:{}", served.port);
        let t = &plan.targets[0];
        let user = match t.image() {
            Some(_) => "sshmatrix".to_string(),
            None => sshmatrix_servers::sshd::current_user(),
        };
        eprintln!(
            "serving policy `{}` ({}) on 127.0.0.1:{}: {}; logins as `{user}` with the keys of --authorize ({}) and certificates of --trust-ca ({}); config {}; server log (every connection's, appended) {}; Ctrl-C stops",
            t.policy.id,
            t.policy.name,
            served.port,
            match a.listen {
                true => "one listening sshd for every connection",
                false => "a server per connection",
            },
            keys.len(),
            cas.len(),
            served.config.display(),
            served.log.display()
        );
        signals.next().await;
        served.stop().await;
        eprintln!("stopped: the port is closed, the run directory and any container removed");
        ExitCode::from(EXIT_INTERRUPTED as u8)
    })
}
