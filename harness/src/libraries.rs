//! Library clients on this machine: installing what a plan's library-driver profiles need
//! (`sshmatrix clients install`, or on a run's first use) into `WORK_DIR/clients/`, and the
//! argv prefix each cell runs. See `sshmatrix_clients::install`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sshmatrix_clients::install::{self, InstallError};
use sshmatrix_clients::Profile;

use crate::error::RunError;

/// Where library clients are installed under a work directory.
pub fn root(work_dir: &Path) -> PathBuf {
    work_dir.join("clients")
}

/// Profiles that run a library driver, in the order given, each once.
pub fn library_profiles<'a>(profiles: impl IntoIterator<Item = &'a Profile>) -> Vec<&'a Profile> {
    let mut seen = std::collections::BTreeSet::new();
    profiles
        .into_iter()
        .filter(|p| p.driver.and_then(|d| d.program()).is_some())
        .filter(|p| seen.insert(p.id.clone()))
        .collect()
}

/// The release image a client is built in (Go), made first when missing.
fn build_image(p: &Profile, work_dir: &Path) -> Result<Option<install::ImageRun>, RunError> {
    let Some(name) = p.install.as_ref().and_then(|i| i.image.as_deref()) else {
        return Ok(None);
    };
    if install::is_installed(&root(work_dir), p) {
        return Ok(None);
    }
    let env =
        |e: sshmatrix_servers::container::ContainerError| RunError::Environment(e.to_string());
    let recipe = sshmatrix_servers::container::recipe(name).map_err(env)?;
    sshmatrix_servers::container::ensure_image(
        &recipe,
        &work_dir.join("images"),
        &mut std::io::stderr(),
    )
    .map_err(env)?;
    Ok(Some(install::ImageRun {
        docker: sshmatrix_servers::container::docker_cli(),
        tag: recipe.tag(),
    }))
}

/// Installs (unless installed) each profile's client and returns profile id → argv prefix.
/// Progress goes to `say` ("installing paramiko 2.8.1 …"); a missing runtime is an
/// environment error naming what to install.
pub fn ensure_all(
    profiles: &[&Profile],
    work_dir: &Path,
    say: &mut dyn FnMut(String),
) -> Result<HashMap<String, Vec<String>>, RunError> {
    let root = root(work_dir);
    sshmatrix_servers::owner::sweep_dirs(&root, sshmatrix_clients::factory::BUILD_PREFIX);
    let mut out = HashMap::new();
    for p in profiles {
        let dir = install::dir_of(&root, p);
        match install::state(&root, p) {
            install::State::Installed => {}
            install::State::ProgramOutdated => say(format!(
                "updating the client program of {} in {}",
                p.display_name(),
                dir.display()
            )),
            install::State::Missing => say(format!(
                "installing {} into {}",
                p.display_name(),
                dir.display()
            )),
        }
        let image = build_image(p, work_dir)?;
        let installed = install::ensure(
            &root,
            p,
            Some(sshmatrix_servers::owner::mark),
            image.as_ref(),
        )
            .map_err(|e| match e {
                InstallError::Missing { .. }
                | InstallError::Io { .. }
                | InstallError::Version { .. } => {
                    RunError::Environment(e.to_string())
                }
                InstallError::Step { .. } => RunError::Environment(format!(
                    "{e}\n(packages come from PyPI, the npm registry or the Debian mirror: check the network, or run `sshmatrix clients install {}` again)",
                    p.id
                )),
            })?;
        out.insert(p.id.clone(), installed.argv);
    }
    Ok(out)
}
