//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use sshmatrix::matrix::{self, Catalog, Plan};
use sshmatrix::runner::{self, Options};
use sshmatrix_reports::Report;

/// The repository's matrices/ folder.
pub fn matrices() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../matrices")
}

/// A work directory sshd's StrictModes accepts (beside the user's own cache), shared by tests.
pub fn work_dir() -> PathBuf {
    runner::default_work_dir().with_file_name("sshmatrix-tests")
}

/// Plans a matrix file with the built-in catalog.
pub fn plan(path: &Path) -> Plan {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let policies = sshmatrix_servers::builtin_policies();
    let catalog = Catalog {
        profiles: &profiles,
        key_tools: &tools,
        policies: &policies,
    };
    matrix::load(path, &catalog).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a plan against real sshd.
pub async fn run(plan: Plan) -> Report {
    let opts = Options {
        jobs: runner::default_jobs(),
        timeout: Duration::from_secs(30),
        work_dir: work_dir(),
        stream: None,
        progress: false,
        stop: Default::default(),
    };
    runner::run(plan, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
