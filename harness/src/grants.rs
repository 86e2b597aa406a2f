//! What the user allows on the command line, never the matrix file: a matrix is input, not
//! code, and it names hosts itself, so anything that would run commands as the user or send a
//! secret somewhere needs the user's word. A matrix may *ask* (`[run] trust_sshd_lines`, a
//! remote target's `password_env` / `password_file`, a `deploy.key` outside its folder); the
//! planner refuses the request with the flag that grants it, and the grant names exactly what
//! is allowed.

use std::path::{Path, PathBuf};

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable of sshmatrix's own environment.
    Env(String),
    /// A file (its first line; a trailing newline is not part of the secret).
    File(PathBuf),
}

/// Secrets taken out of the environment at start-up ([`take_from_environment`]): no child
/// process sshmatrix starts inherits them.
static TAKEN: std::sync::OnceLock<std::collections::HashMap<String, String>> =
    std::sync::OnceLock::new();

/// The variable that holds an encrypted deploy key's passphrase.
pub const DEPLOY_PASSPHRASE: &str = "SSHMATRIX_DEPLOY_PASSPHRASE";

/// Takes `names` (and [`DEPLOY_PASSPHRASE`]) out of the process environment, keeping their
/// values for [`Secret::read`]. Call once, first thing in `main`, before any thread starts:
/// every child (sshd, clients, agents, containers) then starts without them.
pub fn take_from_environment<'a>(names: impl IntoIterator<Item = &'a str>) {
    let mut taken = std::collections::HashMap::new();
    for name in names.into_iter().chain([DEPLOY_PASSPHRASE]) {
        if let Ok(v) = std::env::var(name) {
            taken.insert(name.to_string(), v);
            wipe(name);
            std::env::remove_var(name);
        }
    }
    let _ = TAKEN.set(taken);
}

/// Overwrites the value of `name` where the process's environment block holds it (the block
/// `/proc/PID/environ` shows, and a forked child's copy of it before it runs its program).
fn wipe(name: &str) {
    let prefix = format!("{name}=");
    // SAFETY: walks the C environment array before any other thread exists (see
    // `take_from_environment`); each entry is a NUL-terminated string owned by the process,
    // and only the bytes after `NAME=` and before the NUL are overwritten.
    unsafe {
        let mut entry = libc_environ();
        while !(*entry).is_null() {
            let text = std::ffi::CStr::from_ptr(*entry).to_bytes();
            if text.starts_with(prefix.as_bytes()) {
                let value = (*entry).add(prefix.len()) as *mut u8;
                std::ptr::write_bytes(value, b'x', text.len() - prefix.len());
            }
            entry = entry.add(1);
        }
    }
}

/// The C environment array.
unsafe fn libc_environ() -> *const *mut libc::c_char {
    extern "C" {
        static environ: *const *mut libc::c_char;
    }
    environ
}

/// A variable's value: as taken at start-up, else (a library caller that took nothing) from the
/// environment.
pub fn env_secret(name: &str) -> Option<String> {
    match TAKEN.get() {
        Some(t) => t.get(name).cloned(),
        None => std::env::var(name).ok(),
    }
}

impl Secret {
    /// Reads the secret (`None` when the variable is unset or the file unreadable).
    pub fn read(&self) -> Option<String> {
        match self {
            Secret::Env(var) => env_secret(var),
            Secret::File(path) => crate::bounded::read_to_string(path, MAX_SECRET)
                .ok()
                .map(|p| p.trim_end_matches(['\n', '\r']).to_string()),
        }
    }

    /// How the user writes it: `env:VAR` or `file:PATH`.
    pub fn describe(&self) -> String {
        match self {
            Secret::Env(v) => format!("env:{v}"),
            Secret::File(p) => format!("file:{}", p.display()),
        }
    }
}

/// The largest password file read (a password is a line, not a document).
const MAX_SECRET: u64 = 4096;

/// The user's grants for one command.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// `--trust-sshd-lines`: the matrix's sshd lines may read files or run commands.
    pub trust_sshd_lines: bool,
    /// `--password TARGET=env:VAR|file:PATH`: where a remote target's password comes from.
    pub passwords: Vec<(String, Secret)>,
    /// `--deploy-key TARGET=PATH`: an admin key a remote target's `deploy` may use.
    pub deploy_keys: Vec<(String, PathBuf)>,
}

impl Grants {
    /// The password source granted for target `id`.
    pub fn password(&self, id: &str) -> Option<&Secret> {
        self.passwords.iter().find(|(t, _)| t == id).map(|(_, s)| s)
    }

    /// The deploy key granted for target `id`.
    pub fn deploy_key(&self, id: &str) -> Option<&Path> {
        self.deploy_keys
            .iter()
            .find(|(t, _)| t == id)
            .map(|(_, p)| p.as_path())
    }

    /// The target ids the grants name (each must be a target of the matrix).
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.passwords
            .iter()
            .map(|(t, _)| t.as_str())
            .chain(self.deploy_keys.iter().map(|(t, _)| t.as_str()))
    }
}

/// Parses `--password TARGET=env:VAR` / `TARGET=file:PATH`.
pub fn parse_password(arg: &str) -> Result<(String, Secret), String> {
    let hint = "write --password TARGET=env:VARIABLE or --password TARGET=file:PATH";
    let (target, source) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}`: {hint}"))?;
    let secret = match source.split_once(':') {
        Some(("env", v)) if !v.is_empty() => Secret::Env(v.to_string()),
        Some(("file", p)) if !p.is_empty() => Secret::File(PathBuf::from(p)),
        _ => return Err(format!("`{arg}`: {hint}")),
    };
    Ok((target.to_string(), secret))
}

/// Parses `--deploy-key TARGET=PATH`.
pub fn parse_deploy_key(arg: &str) -> Result<(String, PathBuf), String> {
    match arg.split_once('=') {
        Some((t, p)) if !t.is_empty() && !p.is_empty() => Ok((t.to_string(), PathBuf::from(p))),
        _ => Err(format!("`{arg}`: write --deploy-key TARGET=PATH")),
    }
}

/// Whether `file` lies inside `dir` once both are resolved (symlinks followed): a matrix's own
/// folder may hold its deploy key; anything else needs a grant.
pub fn inside(dir: &Path, file: &Path) -> bool {
    match (dir.canonicalize(), file.canonicalize()) {
        (Ok(d), Ok(f)) => f.starts_with(d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grants_as_written() {
        assert_eq!(
            parse_password("ahv=env:AHV_PASSWORD").unwrap(),
            ("ahv".into(), Secret::Env("AHV_PASSWORD".into()))
        );
        assert_eq!(
            parse_password("ahv=file:/run/pw").unwrap(),
            ("ahv".into(), Secret::File("/run/pw".into()))
        );
        assert!(parse_password("ahv=AHV_PASSWORD").is_err());
        assert!(parse_password("ahv=env:").is_err());
        assert_eq!(
            parse_deploy_key("ahv=/root/.ssh/id").unwrap(),
            ("ahv".into(), PathBuf::from("/root/.ssh/id"))
        );
        assert!(parse_deploy_key("=x").is_err());
    }
}
