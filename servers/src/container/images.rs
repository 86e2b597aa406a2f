//! The images sshmatrix makes: their recipes (data, `servers/images/recipes.toml`), whether one
//! is present, and the builds (`debootstrap` + `docker import`, or a shipped Dockerfile).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Deserialize;

use super::{check_docker, docker, docker_cli, ContainerError};
use crate::sshd::sh_quote;

/// Repository of the images sshmatrix builds.
pub const REPOSITORY: &str = "sshmatrix/sshd";
/// Bumped when the way images are made changes; images of another recipe are rebuilt.
const RECIPE_VERSION: &str = "4";
/// Packages every Debian image carries: the release's sshd and its three clients, and the
/// Dropbear, TinySSH, ProFTPD (`mod_sftp`, in `proftpd-mod-crypto`) and Twisted Conch (in
/// `python3-twisted`) servers. `python3-cffi-backend` is named because debootstrap does not
/// resolve the virtual packages `python3-bcrypt` depends on (measured: "dependency problems
/// prevent configuration of python3-bcrypt", bookworm).
const PACKAGES: &str = "openssh-server,openssh-client,putty-tools,dropbear-bin,tinysshd,\
                        proftpd-core,proftpd-mod-crypto,python3-twisted,python3-cffi-backend";

/// The recipes as shipped.
const RECIPES: &str = include_str!("../../images/recipes.toml");

/// The Dockerfiles shipped in `servers/images/`, by file name (a unit test holds every
/// recipe's file here).
const DOCKERFILES: &[(&str, &str)] = &[
    (
        "al2023.Dockerfile",
        include_str!("../../images/al2023.Dockerfile"),
    ),
    (
        "rocky9.Dockerfile",
        include_str!("../../images/rocky9.Dockerfile"),
    ),
];

/// How an image is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipe {
    /// `debootstrap --variant=minbase SUITE` with the packages sshmatrix needs, then
    /// `docker import`.
    Debootstrap {
        /// Debian suite (a codename).
        suite: String,
        /// The debootstrap script for it, when the host's debootstrap has none of that name
        /// (a testing codename newer than the host's debootstrap: `sid`).
        script: Option<String>,
    },
    /// `docker build` of a shipped Dockerfile (needs a reachable registry for its base image).
    Dockerfile {
        /// File name under `servers/images/`.
        file: String,
        /// The crypto policy set at build time (`--build-arg CRYPTO_POLICY=`).
        crypto_policy: String,
    },
}

/// One image sshmatrix knows how to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecipe {
    /// Short name used in matrix files (`bookworm`, `al2023`).
    pub name: String,
    /// What it contains, for listings.
    pub contents: String,
    /// How it is made.
    pub recipe: Recipe,
    /// The OpenSSH release of its sshd (a test holds it equal to the image's `sshd -V`).
    pub openssh: (u32, u32),
    /// Keywords its sshd knows beyond upstream's `openssh` release ([`crate::dialect::Dialect`];
    /// a test holds them equal to what the image's binaries hold).
    pub extras: Vec<String>,
    /// The Dropbear server release it has, if any (a test holds it equal to the package's).
    pub dropbear: Option<String>,
    /// The TinySSH release it has, if any (its Debian package's upstream version).
    pub tinyssh: Option<String>,
    /// The ProFTPD release it has, if any (as `proftpd -v` says it: `1.3.8c`).
    pub proftpd: Option<String>,
    /// The Twisted release it has, if any (`twisted.__version__`).
    pub twisted: Option<String>,
    /// Where its facts come from.
    pub source: String,
}

/// One `[[image]]` of the recipes file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    name: String,
    contents: String,
    debootstrap: Option<RawDebootstrap>,
    dockerfile: Option<RawDockerfile>,
    openssh: String,
    extras: Vec<String>,
    dropbear: Option<String>,
    tinyssh: Option<String>,
    proftpd: Option<String>,
    twisted: Option<String>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDebootstrap {
    suite: String,
    script: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDockerfile {
    file: String,
    crypto_policy: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipes {
    image: Vec<RawImage>,
}

impl RawImage {
    /// The recipe, or what is wrong with this entry.
    fn build(self) -> Result<ImageRecipe, String> {
        let recipe = match (self.debootstrap, self.dockerfile) {
            (Some(d), None) => Recipe::Debootstrap {
                suite: d.suite,
                script: d.script,
            },
            (None, Some(d)) => {
                if dockerfile(&d.file).is_none() {
                    return Err(format!("{}: no shipped Dockerfile `{}`", self.name, d.file));
                }
                Recipe::Dockerfile {
                    file: d.file,
                    crypto_policy: d.crypto_policy,
                }
            }
            _ => {
                return Err(format!(
                    "{}: give one of debootstrap, dockerfile",
                    self.name
                ))
            }
        };
        let openssh =
            crate::sshd::parse_release(&format!("OpenSSH_{}", self.openssh)).ok_or_else(|| {
                format!(
                    "{}: openssh = {:?} is not MAJOR.MINOR",
                    self.name, self.openssh
                )
            })?;
        Ok(ImageRecipe {
            name: self.name,
            contents: self.contents,
            recipe,
            openssh,
            extras: self.extras,
            dropbear: self.dropbear,
            tinyssh: self.tinyssh,
            proftpd: self.proftpd,
            twisted: self.twisted,
            source: self.source,
        })
    }
}

/// The text of a shipped Dockerfile.
fn dockerfile(file: &str) -> Option<&'static str> {
    DOCKERFILES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, t)| *t)
}

/// Every image sshmatrix can make (read once from the shipped recipes; a unit test holds the
/// file valid).
pub fn recipes() -> &'static [ImageRecipe] {
    static ALL: OnceLock<Vec<ImageRecipe>> = OnceLock::new();
    ALL.get_or_init(|| {
        parse_recipes(RECIPES).unwrap_or_else(|e| panic!("servers/images/recipes.toml: {e}"))
    })
}

/// Parses a recipes file.
fn parse_recipes(text: &str) -> Result<Vec<ImageRecipe>, String> {
    let raw: RawRecipes = toml::from_str(text).map_err(|e| e.to_string())?;
    raw.image.into_iter().map(RawImage::build).collect()
}

/// The recipe called `name`.
pub fn recipe(name: &str) -> Result<ImageRecipe, ContainerError> {
    recipes()
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| ContainerError::UnknownImage {
            name: name.to_string(),
            known: recipes()
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl ImageRecipe {
    /// The image tag (`sshmatrix/sshd:bookworm`).
    pub fn tag(&self) -> String {
        format!("{REPOSITORY}:{}", self.name)
    }

    /// The release of `kind`'s server in this image (OpenSSH: `major.minor`).
    pub fn server_version(&self, kind: crate::policy::ServerKind) -> Option<&str> {
        match kind {
            crate::policy::ServerKind::Openssh => None,
            crate::policy::ServerKind::Dropbear => self.dropbear.as_deref(),
            crate::policy::ServerKind::Tinyssh => self.tinyssh.as_deref(),
            crate::policy::ServerKind::Proftpd => self.proftpd.as_deref(),
            crate::policy::ServerKind::Twisted => self.twisted.as_deref(),
            crate::policy::ServerKind::Asyncssh | crate::policy::ServerKind::Emulated => None,
        }
    }

    /// The sshd its configuration is rendered for.
    pub fn dialect(&self) -> crate::dialect::Dialect {
        crate::dialect::Dialect {
            release: self.openssh,
            extras: self.extras.clone(),
        }
    }
}

/// Whether the image of `r` exists locally with the current recipe version.
pub fn image_present(r: &ImageRecipe) -> bool {
    docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"sshmatrix.recipe\"}}",
        &r.tag(),
    ])
    .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == RECIPE_VERSION)
    .unwrap_or(false)
}

/// Builds the image of `r` unless it is present; `scratch` holds the debootstrap tree while
/// building, `log` receives progress lines. Returns whether a build happened.
pub fn ensure_image(
    r: &ImageRecipe,
    scratch: &Path,
    log: &mut dyn Write,
) -> Result<bool, ContainerError> {
    if image_present(r) {
        return Ok(false);
    }
    // One build per image at a time, across processes (parallel tests, parallel runs).
    sshmatrix_core::fsx::private_dir(scratch).map_err(|e| ContainerError::Build {
        tag: r.tag(),
        message: format!("{}: {e}", scratch.display()),
    })?;
    let lock = std::fs::File::create(scratch.join(format!("{}.lock", r.name)))
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| ContainerError::Build {
            tag: r.tag(),
            message: format!("cannot lock the build: {e}"),
        })?;
    let built = if image_present(r) {
        false
    } else {
        build_image(r, scratch, log)?;
        true
    };
    drop(lock);
    Ok(built)
}

/// Builds the image of `r` (replacing any older one).
pub fn build_image(
    r: &ImageRecipe,
    scratch: &Path,
    log: &mut dyn Write,
) -> Result<(), ContainerError> {
    check_docker()?;
    let tag = r.tag();
    let fail = |message: String| ContainerError::Build {
        tag: tag.clone(),
        message,
    };
    match &r.recipe {
        Recipe::Debootstrap { suite, script } => {
            debootstrap_image(suite, script.as_deref(), &tag, scratch, log, &fail)?
        }
        Recipe::Dockerfile {
            file,
            crypto_policy,
        } => {
            let text = dockerfile(file).ok_or_else(|| fail(format!("no shipped {file}")))?;
            dockerfile_image(file, text, crypto_policy, &tag, log, &fail)?
        }
    }
    let _ = writeln!(log, "built {tag}");
    Ok(())
}

/// Builds an image with debootstrap (minbase and the packages sshmatrix needs) and
/// `docker import`.
fn debootstrap_image(
    suite: &str,
    script: Option<&str>,
    tag: &str,
    scratch: &Path,
    log: &mut dyn Write,
    fail: &dyn Fn(String) -> ContainerError,
) -> Result<(), ContainerError> {
    let mirror = std::env::var("SSHMATRIX_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let _ = writeln!(
        log,
        "building {tag}: debootstrap {suite} from {mirror} (about a minute, once)"
    );
    sshmatrix_core::fsx::private_dir(scratch).map_err(|e| fail(e.to_string()))?;
    let root = tempfile::Builder::new()
        .prefix(&format!("image-{suite}-"))
        .tempdir_in(scratch)
        .map_err(|e| fail(e.to_string()))?;
    let missing = |e: std::io::Error| {
        fail(format!(
            "cannot run debootstrap: {e}; install it (apt-get install debootstrap) and run as root"
        ))
    };
    let out = Command::new("debootstrap")
        .process_group(0)
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), suite])
        .arg(root.path())
        .arg(&mirror)
        .args(script.map(|s| format!("/usr/share/debootstrap/scripts/{s}")))
        .stdin(Stdio::null())
        .output()
        .map_err(missing)?;
    if !out.status.success() {
        // debootstrap says why on stdout (`W: Failure while configuring base packages`, `W: See
        // ROOT/debootstrap/debootstrap.log`), stderr often empty.
        // ROOT/debootstrap/debootstrap.log, removed with the tree, says what dpkg refused.
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        let logged = std::fs::read_to_string(root.path().join("debootstrap/debootstrap.log"))
            .unwrap_or_default();
        let mut why: Vec<&str> = logged
            .lines()
            .filter(|l| l.contains("dependency problems") || l.starts_with("E: "))
            .take(3)
            .collect();
        why.extend(
            text.lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        return Err(fail(format!(
            "debootstrap {suite} failed: {}",
            why.join(" | ")
        )));
    }
    let script = format!(
            "tar -C {} --numeric-owner -c . | {} import -c 'CMD [\"/bin/sh\"]' -c 'LABEL sshmatrix.recipe={RECIPE_VERSION}' - {}",
            sh_quote(&root.path().display().to_string()),
            sh_quote(&docker_cli()),
            sh_quote(tag)
        );
    let out = Command::new("sh")
        .process_group(0)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(format!(
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Builds an image from a shipped Dockerfile (its base image needs a registry).
fn dockerfile_image(
    file: &str,
    text: &str,
    crypto_policy: &str,
    tag: &str,
    log: &mut dyn Write,
    fail: &dyn Fn(String) -> ContainerError,
) -> Result<(), ContainerError> {
    let _ = writeln!(
        log,
        "building {tag} from servers/images/{file} (its base image comes from a registry)"
    );
    let mut child = Command::new(docker_cli())
        .process_group(0)
        .args([
            "build",
            "--build-arg",
            &format!("CRYPTO_POLICY={crypto_policy}"),
            "--label",
            &format!("sshmatrix.recipe={RECIPE_VERSION}"),
            "-t",
            tag,
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ContainerError::NoDocker(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text.lines().rev().find(|l| !l.trim().is_empty());
        return Err(fail(format!(
                "docker build: {} (no registry reachable? build it where one is, then `docker save`/`docker load` it here)",
                last.unwrap_or("failed")
            )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_recipes_are_valid_and_have_distinct_tags() {
        let tags: std::collections::BTreeSet<String> =
            recipes().iter().map(ImageRecipe::tag).collect();
        assert_eq!(tags.len(), recipes().len());
        assert!(recipes().iter().all(|r| !r.source.trim().is_empty()));
        assert_eq!(recipe("bookworm").unwrap().openssh, (9, 2));
        assert!(matches!(
            recipe("buster"),
            Err(ContainerError::UnknownImage { .. })
        ));
    }

    #[test]
    fn a_recipe_names_one_way_to_make_it_and_a_shipped_dockerfile() {
        let entry = |how: &str| {
            format!("[[image]]\nname = \"x\"\ncontents = \"\"\n{how}\nopenssh = \"9.2\"\nextras = []\nsource = \"s\"\n")
        };
        let both = entry("debootstrap = { suite = \"x\" }\ndockerfile = { file = \"rocky9.Dockerfile\", crypto_policy = \"DEFAULT\" }");
        assert!(parse_recipes(&both).unwrap_err().contains("give one of"));
        let missing =
            entry("dockerfile = { file = \"nope.Dockerfile\", crypto_policy = \"DEFAULT\" }");
        assert!(parse_recipes(&missing)
            .unwrap_err()
            .contains("no shipped Dockerfile"));
        let bad = entry("debootstrap = { suite = \"x\" }").replace("9.2", "nine");
        assert!(parse_recipes(&bad).unwrap_err().contains("not MAJOR.MINOR"));
    }
}
