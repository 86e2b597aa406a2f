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

/// Starts the sshmatrix binary with `args` and `--work-dir work` (stdout discarded).
pub fn spawn(args: &[&str], work: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .args(args)
        .arg("--work-dir")
        .arg(work)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded, 120 s) until the stream file holds at least `n` complete lines; returns
/// how many it holds.
pub fn wait_for_lines(path: &Path, n: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let lines = std::fs::read_to_string(path)
            .map(|t| t.matches('\n').count())
            .unwrap_or(0);
        if lines >= n || std::time::Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that the report meets the expectation rules and that every cell agrees with its
/// prediction, listing the offending cells otherwise.
pub fn assert_expected_and_predicted(report: &Report, rules: &[sshmatrix::expect::Rule]) {
    let misses = sshmatrix::expect::compare(report, rules);
    assert!(misses.is_empty(), "{misses:#?}");
    let off: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.disagrees_with_prediction())
        .map(|c| (c.index, &c.code, &c.predicted_code))
        .collect();
    assert!(off.is_empty(), "prediction disagrees: {off:?}");
}
