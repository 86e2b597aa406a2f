//! Installed client libraries: a real-client profile whose driver is a library (paramiko,
//! AsyncSSH, libssh2, libssh, Node ssh2, JSch) names what to install in its `[install]` table;
//! [`ensure`] prepares it under the work directory's `clients/` folder — a Python virtual
//! environment, an npm prefix or a compiled Java class — once per profile, side by side, never
//! shared between versions. A directory counts as installed only when its marker holds the
//! digest of what was asked for; a half-made one (interrupted, or asked for other packages) is
//! built again from scratch in a `.build-*` folder and renamed into place.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::driver::Program;
use crate::factory::{BuildMarker, BUILD_PREFIX};
use crate::{Driver, Profile};

/// The language runtime a library client runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// CPython (`python3 -m venv`, packages from PyPI).
    Python,
    /// Node.js (packages from the npm registry).
    Node,
    /// A Java runtime (jars from Debian packages, the client compiled with `javac`).
    Java,
    /// Go: the client compiled, statically, inside a Debian release image (`image`) against
    /// that release's Go packages (`debian`), and run on this host.
    Go,
    /// The machine's Ruby with the library from Debian packages (`debian`).
    Ruby,
    /// The machine's Perl with the library from Debian packages (`debian`).
    Perl,
}

impl Runtime {
    /// The programs this runtime needs on PATH, and the Debian packages that provide them.
    fn tools(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Runtime::Python => &[("python3", "python3 python3-venv")],
            Runtime::Node => &[("node", "nodejs"), ("npm", "npm")],
            Runtime::Java => &[
                ("java", "default-jre-headless"),
                ("javac", "default-jdk-headless"),
            ],
            Runtime::Go => &[("docker", "docker.io")],
            Runtime::Ruby => &[("ruby", "ruby")],
            Runtime::Perl => &[("perl", "perl")],
        }
    }
}

/// What a library client needs installed (a profile's `[install]` table).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// The runtime.
    pub runtime: Runtime,
    /// Exact package pins (`paramiko==2.8.1`, `ssh2@1.17.0`), dependencies included, so the
    /// same versions install on every machine.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Jar files from Debian packages (Java), e.g. `/usr/share/java/jsch.jar`.
    #[serde(default)]
    pub jars: Vec<String>,
    /// The Debian packages providing `jars` (Java), or installed in `image` to build the
    /// client (Go).
    #[serde(default)]
    pub debian: Vec<String>,
    /// The sshmatrix release image the client is built in (Go).
    #[serde(default)]
    pub image: Option<String>,
    /// The library version the machine's Debian packages must provide (Ruby, Perl: the
    /// program's `--version` says which it loaded), so a profile never runs another release.
    #[serde(default)]
    pub version: Option<String>,
}

impl Install {
    /// Checks that every name is an exact pin of the runtime's registry, as the registries
    /// spell names: a profile is data, and what reaches pip, npm or apt-get must never be an
    /// option (`-r FILE`) or shell text.
    pub fn check(&self) -> Result<(), String> {
        let word = |s: &str, extra: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        };
        let pinned = |p: &str| match self.runtime {
            Runtime::Python => p
                .split_once("==")
                .is_some_and(|(n, v)| word(n, "._-") && word(v, ".+!_-")),
            Runtime::Node => {
                let (scope, rest) = match p.strip_prefix('@') {
                    Some(r) => r.split_once('/').map_or((None, p), |(s, r)| (Some(s), r)),
                    None => (None, p),
                };
                scope.is_none_or(|s| word(s, "._-"))
                    && rest
                        .split_once('@')
                        .is_some_and(|(n, v)| word(n, "._-") && word(v, ".+_-"))
            }
            Runtime::Java | Runtime::Go | Runtime::Ruby | Runtime::Perl => false,
        };
        if let Some(p) = self.packages.iter().find(|p| !pinned(p)) {
            return Err(format!(
                "[install] package `{}` is not an exact pin (paramiko==3.5.1, ssh2@1.17.0) of the {:?} registry",
                p.escape_debug(),
                self.runtime
            ));
        }
        if let Some(d) = self.debian.iter().find(|d| !word(d, "+.-") || d.len() < 2) {
            return Err(format!(
                "[install] Debian package `{}` is not a package name",
                d.escape_debug()
            ));
        }
        if let Some(j) = self
            .jars
            .iter()
            .find(|j| !j.starts_with("/usr/share/java/") || j.contains(".."))
        {
            return Err(format!(
                "[install] jar `{}` is not a file of /usr/share/java",
                j.escape_debug()
            ));
        }
        Ok(())
    }
}

/// How to run a build in a release image: the docker CLI and the image's tag (the harness
/// makes sure the image exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRun {
    /// The docker CLI.
    pub docker: String,
    /// The image tag (`sshmatrix/sshd:bookworm`).
    pub tag: String,
}

/// Why a client could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A runtime program or a Debian-packaged file is missing on this machine.
    #[error("{client}: {what} not found; install it with `apt-get install {packages}` (or run scripts/deps)")]
    Missing {
        /// The profile.
        client: String,
        /// The missing program or file.
        what: String,
        /// Debian packages that provide it.
        packages: String,
    },
    /// The package manager or compiler failed.
    #[error("{client}: `{step}` failed: {output}")]
    Step {
        /// The profile.
        client: String,
        /// The command that failed.
        step: String,
        /// Its last lines of output.
        output: String,
    },
    /// The machine's Debian packages provide another version of the library than the
    /// profile's.
    #[error("{client}: this machine's Debian packages ({packages}) provide {found}; the profile is {want}: use the profile of {found}, or a machine whose release ships {want}")]
    Version {
        /// The profile.
        client: String,
        /// The version the packages provide.
        found: String,
        /// The profile's version.
        want: String,
        /// The Debian packages.
        packages: String,
    },
    /// A file-system error.
    #[error("{client}: {path}: {source}")]
    Io {
        /// The profile.
        client: String,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// An installed client: the argv prefix that runs its program (the cell's arguments follow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Program and leading arguments.
    pub argv: Vec<String>,
    /// The installation directory.
    pub dir: PathBuf,
}

const MARKER: &str = ".sshmatrix-installed";

/// The digest an installation is recorded under: runtime, pins and jars. (The program is
/// refreshed on its own when this sshmatrix carries another version of it.)
fn digest(install: &Install) -> String {
    let mut h = Sha256::new();
    h.update(format!("{:?}\n", install.runtime));
    for p in install
        .packages
        .iter()
        .chain(&install.jars)
        .chain(&install.debian)
        .chain(&install.image)
        .chain(&install.version)
    {
        h.update(format!("{p}\n"));
    }
    hex::encode(h.finalize())
}

/// Where a profile's client is installed under `root`.
pub fn dir_of(root: &Path, profile: &Profile) -> PathBuf {
    root.join(&profile.id)
}

/// How far a profile's client is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Installed, with this sshmatrix's client program.
    Installed,
    /// The packages are installed; the client program is another version's.
    ProgramOutdated,
    /// Not installed (or half made, or with other pins).
    Missing,
}

/// How far the profile's client is installed (its marker holds the digest of its pins).
pub fn state(root: &Path, profile: &Profile) -> State {
    let (Some(prog), Some(install)) = (profile.driver.and_then(Driver::program), &profile.install)
    else {
        return State::Missing;
    };
    let dir = dir_of(root, profile);
    match (marker_ok(&dir, install), program_current(&dir, prog)) {
        (true, true) => State::Installed,
        (true, false) => State::ProgramOutdated,
        _ => State::Missing,
    }
}

/// Whether the profile's client is installed and current.
pub fn is_installed(root: &Path, profile: &Profile) -> bool {
    state(root, profile) == State::Installed
}

fn marker_ok(dir: &Path, install: &Install) -> bool {
    std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m.trim() == digest(install))
}

/// Whether the installed program (and its helpers) is this sshmatrix's version of it.
fn program_current(dir: &Path, prog: Program) -> bool {
    let same =
        |file: &str, text: &str| std::fs::read_to_string(dir.join(file)).is_ok_and(|t| t == text);
    same(prog.file, prog.text) && prog.helpers.iter().all(|(f, t)| same(f, t))
}

/// The argv prefix that runs an installed program in `dir`.
fn argv(install: &Install, dir: &Path, file: &str) -> Vec<String> {
    let d = |p: &str| dir.join(p).display().to_string();
    match install.runtime {
        // -E -s: no PYTHON* variables, no user site-packages (the script's folder, which holds
        // its helpers, stays on the path).
        Runtime::Python => vec![d("venv/bin/python"), "-E".into(), "-s".into(), d(file)],
        Runtime::Node => vec!["node".into(), d(file)],
        Runtime::Go => vec![d(file.trim_end_matches(".go"))],
        // The version check at install says which library these load.
        Runtime::Ruby => vec!["ruby".into(), d(file)],
        Runtime::Perl => vec!["perl".into(), d(file)],
        Runtime::Java => {
            let mut cp = vec![dir.display().to_string()];
            cp.extend(install.jars.iter().cloned());
            let class = file.trim_end_matches(".java");
            vec!["java".into(), "-cp".into(), cp.join(":"), class.into()]
        }
    }
}

/// Installs the profile's client under `root` unless it is there already, and returns how to
/// run it. Concurrent callers (threads or processes) wait for one another on a lock file.
pub fn ensure(
    root: &Path,
    profile: &Profile,
    marker: Option<BuildMarker>,
    image: Option<&ImageRun>,
) -> Result<Installed, InstallError> {
    let client = profile.id.clone();
    let (Some(prog), Some(install)) = (profile.driver.and_then(Driver::program), &profile.install)
    else {
        return Err(InstallError::Step {
            client,
            step: "install".into(),
            output: "the profile names no library driver and [install] table".into(),
        });
    };
    let io = |path: &Path| {
        let client = client.clone();
        let path = path.to_path_buf();
        move |source| InstallError::Io {
            client,
            path,
            source,
        }
    };
    let dir = dir_of(root, profile);
    let installed = Installed {
        argv: argv(install, &dir, prog.file),
        dir: dir.clone(),
    };
    if marker_ok(&dir, install) && program_current(&dir, prog) {
        return Ok(installed);
    }
    check_tools(&client, install)?;
    sshmatrix_core::fsx::private_dir(root).map_err(io(root))?;
    let lock_path = root.join(format!(".lock-{}", profile.id));
    let lock = File::create(&lock_path).map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    if marker_ok(&dir, install) {
        if !program_current(&dir, prog) {
            write_program(&client, install, &dir, prog, image)?;
        }
        return Ok(installed);
    }
    let build = tempfile::Builder::new()
        .prefix(&format!("{BUILD_PREFIX}{}-", profile.id))
        .tempdir_in(root)
        .map_err(io(root))?;
    if let Some(mark) = marker {
        mark(build.path()).map_err(io(build.path()))?;
    }
    build_into(&client, install, build.path(), prog, image)?;
    let m = build.path().join(MARKER);
    std::fs::write(&m, digest(install)).map_err(io(&m))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(build.keep(), &dir).map_err(io(&dir))?;
    Ok(installed)
}

/// Refuses up front when a runtime program or jar is missing.
fn check_tools(client: &str, install: &Install) -> Result<(), InstallError> {
    for (tool, packages) in install.runtime.tools() {
        if !on_path(tool) {
            return Err(InstallError::Missing {
                client: client.into(),
                what: format!("`{tool}`"),
                packages: packages.to_string(),
            });
        }
    }
    if let Some(jar) = install.jars.iter().find(|j| !Path::new(j).exists()) {
        return Err(InstallError::Missing {
            client: client.into(),
            what: jar.clone(),
            packages: install.debian.join(" "),
        });
    }
    Ok(())
}

/// Whether `tool` is an executable file in a PATH directory.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            std::fs::metadata(d.join(tool)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

/// Writes (Java: and compiles) the program into `dir`; the source goes in last, under a
/// temporary name first, so a half-written program never counts as current.
fn write_program(
    client: &str,
    install: &Install,
    dir: &Path,
    prog: Program,
    image: Option<&ImageRun>,
) -> Result<(), InstallError> {
    let file = dir.join(prog.file);
    // javac wants a public class in a file of its own name: a folder of its own, not a name.
    let scratch = dir.join(".program-new");
    let tmp = scratch.join(prog.file);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io {
            client: client.into(),
            path,
            source,
        }
    };
    sshmatrix_core::fsx::private_dir(&scratch).map_err(io(&scratch))?;
    for (name, text) in prog.helpers {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    std::fs::write(&tmp, prog.text).map_err(io(&tmp))?;
    if install.runtime == Runtime::Java {
        step(
            client,
            &[
                "javac".into(),
                "-nowarn".into(),
                "-cp".into(),
                install.jars.join(":"),
                // The helpers written beside it (SshmatrixCell.java) compile with it.
                "-sourcepath".into(),
                dir.display().to_string(),
                "-d".into(),
                dir.display().to_string(),
                tmp.display().to_string(),
            ],
        )?;
    }
    if install.runtime == Runtime::Go {
        step(client, &go_build(client, install, dir, prog, image)?)?;
    }
    std::fs::rename(&tmp, &file).map_err(io(&file))?;
    std::fs::remove_dir(&scratch).map_err(io(&scratch))
}

/// The command that compiles a Go program in its release image: the release's Go packages
/// installed from its Debian mirror, the program built statically in GOPATH mode against them
/// (`/usr/share/gocode`), the binary left in `dir` (mounted at /build).
fn go_build(
    client: &str,
    install: &Install,
    dir: &Path,
    prog: Program,
    image: Option<&ImageRun>,
) -> Result<Vec<String>, InstallError> {
    let Some(run) = image else {
        return Err(InstallError::Missing {
            client: client.into(),
            what: format!(
                "the release image `{}` to build in",
                install.image.as_deref().unwrap_or("?")
            ),
            packages: "docker.io".into(),
        });
    };
    let out = prog.file.trim_end_matches(".go");
    // The package names and file names are the script's arguments, never part of its text.
    let script = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \"$@\" >/dev/null \
         && cd /build && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache CGO_ENABLED=0 go build -o \"$OUT\" \".program-new/$SRC\"";
    let mut argv = vec![
        run.docker.clone(),
        "run".into(),
        "--rm".into(),
        "--network".into(),
        "host".into(),
        "-v".into(),
        format!("{}:/build", dir.display()),
        "-e".into(),
        format!("OUT={out}"),
        "-e".into(),
        format!("SRC={}", prog.file),
        run.tag.clone(),
        "sh".into(),
        "-c".into(),
        script.into(),
        "sh".into(),
    ];
    argv.extend(install.debian.iter().cloned());
    Ok(argv)
}

/// Makes the runtime environment and the program in `build`.
fn build_into(
    client: &str,
    install: &Install,
    build: &Path,
    prog: Program,
    image: Option<&ImageRun>,
) -> Result<(), InstallError> {
    let b = |p: &str| build.join(p).display().to_string();
    let steps: Vec<Vec<String>> = match install.runtime {
        Runtime::Python => vec![
            vec!["python3".into(), "-m".into(), "venv".into(), b("venv")],
            [
                b("venv/bin/python"),
                "-m".into(),
                "pip".into(),
                "install".into(),
                "--disable-pip-version-check".into(),
                "--no-input".into(),
                "--quiet".into(),
                "--only-binary=:all:".into(),
            ]
            .into_iter()
            .chain(install.packages.iter().cloned())
            .collect(),
        ],
        Runtime::Node => vec![[
            "npm",
            "install",
            "--prefix",
            &build.display().to_string(),
            "--ignore-scripts",
            "--omit=optional",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(install.packages.iter().cloned())
        .collect()],
        Runtime::Java | Runtime::Go | Runtime::Ruby | Runtime::Perl => Vec::new(),
    };
    steps.iter().try_for_each(|s| step(client, s))?;
    write_program(client, install, build, prog, image)?;
    library_version(client, install, build, prog)
}

/// Checks that the machine's Debian packages load and provide the pinned version (Ruby,
/// Perl: the program's `--version`); other runtimes pin their packages when installing.
fn library_version(
    client: &str,
    install: &Install,
    dir: &Path,
    prog: Program,
) -> Result<(), InstallError> {
    let Some(want) = &install.version else {
        return Ok(());
    };
    let mut run = argv(install, dir, prog.file);
    run.push("--version".into());
    let missing = |what: String| InstallError::Missing {
        client: client.into(),
        what,
        packages: install.debian.join(" "),
    };
    let out = Command::new(&run[0])
        .args(&run[1..])
        .env_remove("RUBYLIB")
        .env_remove("RUBYOPT")
        .env_remove("PERL5LIB")
        .env_remove("PERL5OPT")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| missing(format!("`{}` ({e})", run[0])))?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(missing(format!("the library ({last})")));
    }
    if &said != want {
        return Err(InstallError::Version {
            client: client.into(),
            found: said,
            want: want.clone(),
            packages: install.debian.join(" "),
        });
    }
    Ok(())
}

/// Runs one installation command in its own process group; its output is kept for the error.
fn step(client: &str, argv: &[String]) -> Result<(), InstallError> {
    use std::os::unix::process::CommandExt;
    let fail = |output: String| InstallError::Step {
        client: client.into(),
        step: argv.join(" "),
        output,
    };
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    Err(fail(tail.into_iter().rev().collect::<Vec<_>>().join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str) -> Profile {
        crate::builtin_profiles()
            .into_iter()
            .find(|p| p.id == id)
            .unwrap()
    }

    #[test]
    fn state_follows_the_marker_and_the_program() {
        let root = tempfile::tempdir().unwrap();
        let p = profile("real-node-ssh2-0.8.9");
        let install = p.install.clone().unwrap();
        let prog = p.driver.and_then(Driver::program).unwrap();
        let dir = dir_of(root.path(), &p);
        assert_eq!(state(root.path(), &p), State::Missing);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(prog.file), "an older program").unwrap();
        // Half made: a program but no marker.
        assert_eq!(state(root.path(), &p), State::Missing);
        std::fs::write(dir.join(MARKER), digest(&install)).unwrap();
        assert_eq!(state(root.path(), &p), State::ProgramOutdated);
        std::fs::write(dir.join(prog.file), prog.text).unwrap();
        assert_eq!(state(root.path(), &p), State::Installed);
        // Other pins (another sshmatrix's profile): not this install.
        std::fs::write(dir.join(MARKER), "0000").unwrap();
        assert_eq!(state(root.path(), &p), State::Missing);
    }

    #[test]
    fn python_programs_carry_their_helper_and_run_outside_isolated_mode() {
        let p = profile("real-paramiko-2.8.1");
        let prog = p.driver.and_then(Driver::program).unwrap();
        assert_eq!(prog.helpers[0].0, "sshmatrix_cell.py");
        assert!(prog.text.contains("from sshmatrix_cell import"));
        let argv = argv(p.install.as_ref().unwrap(), Path::new("/c/x"), prog.file);
        assert_eq!(
            argv,
            ["/c/x/venv/bin/python", "-E", "-s", "/c/x/paramiko_login.py"]
        );
    }
}
