//! The benchmark: a matrix run by the emulator (concurrent) against a sequential loop of the
//! real OpenSSH client over the same cells, same targets, same keys, in the same run.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sshmatrix_clients::KeyFactory;
use sshmatrix_reports::Verdict;

use crate::matrix::Plan;
use crate::runner::{prepare, Options, RunError};

/// Figures of one benchmark run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    /// Cells in the matrix.
    pub cells: usize,
    /// Concurrent cells used by the emulator run.
    pub jobs: usize,
    /// Wall time of the emulator run (warm key cache).
    pub emulator: Duration,
    /// Wall time of the sequential OpenSSH client loop.
    pub openssh_loop: Duration,
    /// openssh_loop / emulator.
    pub speedup: f64,
    /// Emulator cells per second.
    pub cells_per_sec: f64,
    /// Cells the emulator decided ok / fail / error.
    pub emulator_verdicts: (usize, usize, usize),
    /// Logins the OpenSSH loop completed / refused.
    pub openssh_verdicts: (usize, usize),
}

/// Runs the benchmark. Keys are made (or reused) before any timing starts.
pub async fn bench(plan: Plan, opts: &Options) -> Result<BenchResult, RunError> {
    let prepared = prepare(plan, opts).await?;
    let factory = KeyFactory::new(opts.work_dir.join("keys"))
        .map_err(|e| RunError::Environment(e.to_string()))?;
    let askpass = opts.work_dir.join("bench-askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\nexec cat \"$SSHMATRIX_PASSFILE\"\n")
        .map_err(|e| RunError::Environment(e.to_string()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| RunError::Environment(e.to_string()))?;
    let sshd = sshmatrix_servers::find_sshd().map_err(|e| RunError::Environment(e.to_string()))?;
    let mut loop_cells: Vec<(PathBuf, Option<PathBuf>, PathBuf)> = Vec::new();
    for cell in &prepared.plan().cells {
        let kf = prepared.key_file(cell);
        let copy = factory.openssh_copy(kf)?;
        loop_cells.push((
            copy,
            kf.passphrase_file.clone(),
            prepared.target(cell.target).config.clone(),
        ));
    }

    let t = Instant::now();
    let cells = prepared.execute().await;
    let emulator = t.elapsed();
    let count = |v: Verdict| cells.iter().filter(|c| c.verdict == v).count();

    let t = Instant::now();
    let (mut ok, mut fail) = (0, 0);
    for (key, passfile, config) in &loop_cells {
        let proxy = format!(
            "{} -i -e -f {} 2>/dev/null",
            sshd.display(),
            config.display()
        );
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.args([
            "-F",
            "none",
            "-T",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
        ])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=error"])
        .args([
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "KbdInteractiveAuthentication=no",
        ])
        .arg("-o")
        .arg(format!("ProxyCommand={proxy}"))
        .arg("-i")
        .arg(key)
        .arg(format!("{}@sshmatrix-bench", prepared.login()))
        .arg("true")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
        if let Some(p) = passfile {
            cmd.env("SSHMATRIX_PASSFILE", p);
        }
        let status = cmd.status().await.map_err(|e| {
            RunError::Environment(format!("cannot run ssh: {e}; install openssh-client"))
        })?;
        if status.success() {
            ok += 1;
        } else {
            fail += 1;
        }
    }
    let openssh_loop = t.elapsed();
    Ok(BenchResult {
        cells: cells.len(),
        jobs: opts.jobs,
        emulator,
        openssh_loop,
        speedup: openssh_loop.as_secs_f64() / emulator.as_secs_f64().max(1e-9),
        cells_per_sec: cells.len() as f64 / emulator.as_secs_f64().max(1e-9),
        emulator_verdicts: (
            count(Verdict::Ok),
            count(Verdict::Fail),
            count(Verdict::Error),
        ),
        openssh_verdicts: (ok, fail),
    })
}
