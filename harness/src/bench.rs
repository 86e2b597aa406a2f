//! The benchmark: a matrix run by the emulator (concurrent) against a sequential loop of the
//! real OpenSSH client over the same cells, same targets, same keys, in the same run.

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
    // Key conversions happen before timing, as the keys themselves do.
    for cell in &prepared.plan().cells {
        factory.openssh_copy(prepared.key_file(cell))?;
    }

    let t = Instant::now();
    let cells = prepared.execute().await;
    let emulator = t.elapsed();
    let count = |v: Verdict| cells.iter().filter(|c| c.verdict == v).count();

    // The same cells, one after the other, with the real OpenSSH client (the `ssh` driver).
    let (login, logs, askpass) = prepared.real_client_env();
    let ssh = sshmatrix_clients::builtin_profiles()
        .into_iter()
        .find(|p| p.driver == Some(sshmatrix_clients::Driver::Ssh) && p.image.is_none())
        .ok_or_else(|| RunError::Environment("no profile for the installed ssh".into()))?;
    let t = Instant::now();
    let (mut ok, mut fail) = (0, 0);
    for cell in &prepared.plan().cells {
        let log = logs.join(format!("bench-{}.log", cell.index));
        let real = crate::runner::drivers::RealCell {
            profile: &ssh,
            server: crate::runner::drivers::ServerEnd::for_client(
                prepared.target(cell.target),
                &log,
                false,
                opts.timeout,
            )
            .await
            .map_err(|e| RunError::Environment(format!("cannot serve the bench cell: {e}")))?,
            host_key_pubs: Vec::new(),
            key: prepared.key_file(cell),
            login,
            log,
            askpass,
            inside: None,
            helper: None,
            agent: None,
            password: None,
            jump: None,
            timeout: opts.timeout,
            program: None,
            certificate: None,
            password_after_key: false,
            keyboard_interactive: false,
            known_hosts: None,
        };
        match crate::runner::drivers::run(real, &factory).await.0.verdict {
            sshmatrix_clients::Verdict::Ok => ok += 1,
            _ => fail += 1,
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

/// Figures of the synthetic benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyntheticResult {
    /// Cells in the synthetic matrix.
    pub cells: usize,
    /// Concurrent cells.
    pub jobs: usize,
    /// Wall time with an empty key cache (keys generated, PPK via puttygen).
    pub cold: Duration,
    /// Wall time of the same matrix again, keys cached.
    pub warm: Duration,
    /// Cells per second, warm.
    pub cells_per_sec: f64,
    /// Peak resident memory of the sshmatrix process (VmHWM), in MiB.
    pub peak_rss_mib: f64,
}

/// A synthetic matrix of 10 client/key-tool pairs × 4 keys × 2 passphrase settings × 5 targets
/// × `users` users (2,000 cells with 5 users).
pub fn synthetic_matrix(users: usize) -> String {
    let users: Vec<String> = (1..=users).map(|u| format!("\"u{u}\"")).collect();
    let mut t = String::from(
        "title = \"synthetic benchmark matrix\"\n[run]\nmax_cells = 1000000\n[axes]\n\
         keys = [\"rsa-2048\", \"rsa-3072\", \"ecdsa-256\", \"ed25519\"]\npassphrase = [\"yes\", \"no\"]\npairs = [\n",
    );
    for (c, k) in [
        ("teraterm-4.106", "teraterm-4.106"),
        ("teraterm-5.3", "teraterm-5.3"),
        ("teraterm-4.108", "teraterm-4.106-bcrypt"),
        ("putty-0.70", "puttygen-0.74"),
        ("putty-0.83", "puttygen-0.83"),
        ("winscp-5.21", "puttygen-0.78"),
        ("openssh-7.4", "ssh-keygen-pem"),
        ("openssh-9.2", "ssh-keygen"),
        ("openssh-8.7-crypto-policies", "ssh-keygen"),
        ("dropbear-2022.83", "ssh-keygen"),
    ] {
        t.push_str(&format!("  {{ client = \"{c}\", key_tool = \"{k}\" }},\n"));
    }
    t.push_str("]\n");
    for p in [
        "rhel9-default",
        "rhel9-legacy",
        "al2023-default",
        "nutanix-ahv-lockdown",
        "upstream-8.8",
    ] {
        t.push_str(&format!(
            "[[targets]]\nid = \"{p}\"\npolicy = \"{p}\"\nusers = [{}]\n",
            users.join(", ")
        ));
    }
    t
}

/// Peak resident set size of this process, in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Runs a plan twice in a fresh work directory under `opts.work_dir`: cold (keys made), warm.
pub async fn synthetic(plan: Plan, opts: &Options) -> Result<SyntheticResult, RunError> {
    let fresh = opts
        .work_dir
        .join(format!("bench-cold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    let mut o = opts.clone();
    o.work_dir = fresh.clone();
    let cells = plan.cells.len();
    let t = Instant::now();
    crate::runner::run(plan.clone(), &o).await?;
    let cold = t.elapsed();
    let t = Instant::now();
    crate::runner::run(plan, &o).await?;
    let warm = t.elapsed();
    let _ = std::fs::remove_dir_all(&fresh);
    Ok(SyntheticResult {
        cells,
        jobs: opts.jobs,
        cold,
        warm,
        cells_per_sec: cells as f64 / warm.as_secs_f64().max(1e-9),
        peak_rss_mib: peak_rss_mib(),
    })
}

/// CPU seconds so far: this process's own (user + system), and its waited-for children's (the
/// clients, the `sshd -i` processes on this host and `docker exec`; a server inside a container
/// is no child of this process and is not counted). From /proc/self/stat, in clock ticks of
/// 1/100 s.
pub fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let at = |n: usize| f.get(n - 3).copied().unwrap_or(0.0) / 100.0;
    (at(14) + at(15), at(16) + at(17))
}

/// The prepared cells as a plain parallel loop, `jobs` at a time: each client's exit status.
async fn plain_loop(prepared: &crate::runner::Prepared, jobs: usize) -> Vec<Option<i32>> {
    use futures::StreamExt;
    futures::stream::iter(&prepared.plan().cells)
        .map(|cell| prepared.run_plain(cell))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await
}

/// Figures of `bench --real`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RealBench {
    /// Real-client cells timed.
    pub cells: usize,
    /// Cells at once, in both runs.
    pub jobs: usize,
    /// Wall time of sshmatrix's run of the cells.
    pub sshmatrix: Duration,
    /// Wall time of the plain parallel loop over the same cells.
    pub plain: Duration,
    /// plain / sshmatrix (≥ 1.0: sshmatrix at least as fast as the loop).
    pub ratio: f64,
    /// sshmatrix's own CPU seconds per cell during its run and during the loop.
    pub own_cpu_per_cell: (f64, f64),
    /// Clients' and servers' CPU seconds per cell during sshmatrix's run and during the loop.
    pub children_cpu_per_cell: (f64, f64),
    /// sshmatrix's verdicts ok / fail / error.
    pub verdicts: (usize, usize, usize),
    /// Loop cells whose client exited 0 / otherwise.
    pub plain_exits: (usize, usize),
    /// When the matrix has both: sshmatrix's cells on this host's targets and on container
    /// targets, each group run and timed on its own.
    pub backends: Option<BackendSplit>,
}

/// sshmatrix's real-client cells on host targets against the same kind of cells on container
/// targets (what a container costs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendSplit {
    /// Cells on this host's targets and their wall time.
    pub host: (usize, Duration),
    /// Cells on container targets and their wall time.
    pub container: (usize, Duration),
    /// Time per container cell over time per host cell (the target: ≤ 1.3).
    pub ratio: f64,
}

/// The matrix's cells on local and on container targets, each group prepared, run and timed
/// on its own; `None` unless it has both.
async fn by_backend(plan: &Plan, opts: &Options) -> Result<Option<BackendSplit>, RunError> {
    use crate::matrix::Backend;
    let on = |want: fn(&Backend) -> bool| -> Vec<_> {
        let cells = plan.cells.iter();
        cells
            .filter(|c| want(&plan.targets[c.target].backend))
            .cloned()
            .collect()
    };
    let host = on(|b| matches!(b, Backend::Local));
    let container = on(|b| matches!(b, Backend::Container(_)));
    if host.is_empty() || container.is_empty() {
        return Ok(None);
    }
    let host = timed(plan.subset(plan.targets.clone(), host), opts).await?;
    let container = timed(plan.subset(plan.targets.clone(), container), opts).await?;
    let per_cell = |(n, d): (usize, Duration)| d.as_secs_f64() / n.max(1) as f64;
    Ok(Some(BackendSplit {
        ratio: per_cell(container) / per_cell(host).max(1e-9),
        host,
        container,
    }))
}

/// A plan prepared (untimed), then run: its cell count and wall time.
async fn timed(plan: Plan, opts: &Options) -> Result<(usize, Duration), RunError> {
    let prepared = prepare(plan, opts).await?;
    let t = Instant::now();
    let cells = prepared.execute().await;
    let wall = t.elapsed();
    prepared.close().await;
    Ok((cells.len(), wall))
}

/// `bench --real`: the matrix's real-client cells by sshmatrix, then the same cells as a plain
/// parallel loop of the same client command lines (same server ends, same `jobs`), in one run.
pub async fn bench_real(plan: Plan, opts: &Options) -> Result<RealBench, RunError> {
    let real: Vec<_> = plan
        .cells
        .iter()
        .filter(|c| c.client.driver.is_some())
        .cloned()
        .collect();
    if real.is_empty() {
        return Err(RunError::Input(format!(
            "{}: no real-client cell (profiles `real-…`) to benchmark",
            plan.file
        )));
    }
    let plan = plan.subset(plan.targets.clone(), real);
    let backends = by_backend(&plan, opts).await?;
    let n = plan.cells.len() as f64;
    let prepared = prepare(plan, opts).await?;
    // An untimed pass first, so both timed runs find the converted key copies, the clients'
    // binaries and the servers' files warm (whichever ran first paid for them before).
    plain_loop(&prepared, opts.jobs).await;
    let (s0, c0) = cpu_seconds();
    let t = Instant::now();
    let cells = prepared.execute().await;
    let sshmatrix = t.elapsed();
    let (s1, c1) = cpu_seconds();
    let count = |v: Verdict| cells.iter().filter(|c| c.verdict == v).count();
    let t = Instant::now();
    let exits = plain_loop(&prepared, opts.jobs).await;
    let plain = t.elapsed();
    let (s2, c2) = cpu_seconds();
    let ok = exits.iter().filter(|e| **e == Some(0)).count();
    prepared.close().await;
    Ok(RealBench {
        cells: cells.len(),
        jobs: opts.jobs,
        sshmatrix,
        plain,
        ratio: plain.as_secs_f64() / sshmatrix.as_secs_f64().max(1e-9),
        own_cpu_per_cell: ((s1 - s0) / n, (s2 - s1) / n),
        children_cpu_per_cell: ((c1 - c0) / n, (c2 - c1) / n),
        verdicts: (
            count(Verdict::Ok),
            count(Verdict::Fail),
            count(Verdict::Error),
        ),
        plain_exits: (ok, exits.len() - ok),
        backends,
    })
}

/// How long each renderer takes over `report` (the same report, every format): format name,
/// time and output size in bytes. Rendering is linear in the cells (`reports::layout`); this is
/// where that is measured.
pub fn render_times(
    report: &sshmatrix_reports::Report,
) -> Vec<(&'static str, std::time::Duration, usize)> {
    use sshmatrix_reports::Format;
    [
        ("table", Format::Table),
        ("csv", Format::Csv),
        ("json", Format::Json),
        ("markdown", Format::Markdown),
        ("sheet", Format::Sheet),
        ("html", Format::Html),
        ("junit", Format::Junit),
    ]
    .into_iter()
    .map(|(name, f)| {
        let t = std::time::Instant::now();
        let text = sshmatrix_reports::render(report, f);
        (name, t.elapsed(), text.len())
    })
    .collect()
}

/// A real sshd log (VERBOSE: refusals for key exchange, host key, cipher, MAC and a small RSA
/// key; harness/tests/logs/README.md says how it was made), the unit a synthetic log repeats.
const SSHD_LOG: &str = include_str!("../tests/logs/sshd-9.2-verbose-mixed.log");

/// Writes a syslog-style sshd log of at least `mib` MiB to `path`: the real log's connections
/// over and over, each under its own PID and client port as a busy host's journal has them.
/// Returns the bytes written.
pub fn synthetic_server_log(path: &std::path::Path, mib: u64) -> std::io::Result<u64> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let (mut written, mut pid) = (0u64, 1000u32);
    while written < mib << 20 {
        for line in SSHD_LOG.lines() {
            if line.starts_with("Connection from") {
                pid += 1;
            }
            let port = 10000 + pid % 50000;
            let line = line.replace("port 5", &format!("port {port}5"));
            let l = format!("Dec  7 02:10:01 host-a sshd[{pid}]: {line}\n");
            out.write_all(l.as_bytes())?;
            written += l.len() as u64;
        }
    }
    out.flush()?;
    Ok(written)
}
