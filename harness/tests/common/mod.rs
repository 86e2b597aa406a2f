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

/// A work directory sshd's StrictModes accepts (beside the user's own cache), shared by tests;
/// prepared (created 0700 and marked) before a test puts anything of its own in it.
pub fn work_dir() -> PathBuf {
    let dir = runner::default_work_dir().with_file_name("sshmatrix-tests");
    sshmatrix::workdir::prepare(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// A private scratch directory for one test's own files (fake appliances, matrices), outside
/// any work directory: `~/.cache/sshmatrix-test-scratch/NAME-PID`, created 0700 and empty. The
/// same test's directories of earlier, ended runs (their process gone) are removed.
pub fn scratch_dir(name: &str) -> PathBuf {
    let root = runner::default_work_dir().with_file_name("sshmatrix-test-scratch");
    let stale = |entry: &std::fs::DirEntry| {
        let file = entry.file_name().to_string_lossy().to_string();
        let pid = file
            .strip_prefix(&format!("{name}-"))?
            .parse::<u32>()
            .ok()?;
        (!Path::new(&format!("/proc/{pid}")).exists()).then(|| entry.path())
    };
    for old in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if let Some(path) = stale(&old) {
            let _ = std::fs::remove_dir_all(path);
        }
    }
    let dir = root.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    sshmatrix_core::fsx::private_dir(&dir).unwrap();
    dir
}

/// Plans a matrix file with the built-in catalog.
pub fn plan(path: &Path) -> Plan {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let policies = sshmatrix_servers::builtin_policies();
    let catalog = Catalog::new(&profiles, &tools, &policies);
    matrix::load(path, &catalog).unwrap_or_else(|e| panic!("{e}"))
}

/// Run options for tests: the default jobs, a 30 s cell timeout, the shared work directory.
pub fn options() -> Options {
    Options {
        jobs: runner::default_jobs(),
        timeout: Duration::from_secs(30),
        work_dir: work_dir(),
        stream: None,
        progress: runner::Progress::Off,
        stop: Default::default(),
    }
}

/// How long one test's run may take before [`Watchdog`] ends the test process.
const WATCHDOG: Duration = Duration::from_secs(600);

/// Runs a plan against real sshd (under a [`Watchdog`]).
pub async fn run(plan: Plan) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("cells.jsonl");
    let _watchdog = Watchdog::start(&plan, stream.clone());
    let opts = Options {
        stream: Some(stream),
        ..options()
    };
    runner::run(plan, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Ends the test process, naming the matrix and the cells that have not finished, when a run
/// outlives [`WATCHDOG`]: a hung run then fails in minutes instead of holding CI to its limit.
/// Dropping it (the run returned) stops the watch.
pub struct Watchdog(std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn start(plan: &Plan, stream: PathBuf) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let file = plan.file.clone();
        let cells: Vec<String> = plan.cells.iter().map(describe).collect();
        std::thread::spawn(move || {
            if rx.recv_timeout(WATCHDOG) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                let done = finished(&stream);
                let open: Vec<&String> = (0..cells.len())
                    .filter(|i| !done.contains(i))
                    .map(|i| &cells[i])
                    .collect();
                eprintln!(
                    "watchdog: {file} still running after {WATCHDOG:?}; {} of {} cells unfinished: {open:#?}",
                    open.len(),
                    cells.len()
                );
                std::process::exit(124);
            }
        });
        Watchdog(tx)
    }
}

fn describe(cell: &sshmatrix::matrix::Cell) -> String {
    format!(
        "#{} {} / {}",
        cell.index,
        cell.row.join(" "),
        cell.column.join(" ")
    )
}

/// Indices of the cells the stream file holds.
fn finished(stream: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(stream).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("index")?.as_u64())
        .map(|i| i as usize)
        .collect()
}

/// The ids of the containers (running or not) started by the sshmatrix process `pid`.
pub fn containers_of(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "-q", "--no-trunc", "--filter"])
        .arg(format!(
            "label={}={pid}",
            sshmatrix_servers::container::LABEL_OWNER
        ))
        .output()
        .expect("docker CLI");
    assert!(out.status.success(), "docker ps failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// How many containers (running or not) the sshmatrix process `pid` started.
pub fn containers_owned_by(pid: u32) -> usize {
    containers_of(pid).len()
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

/// Plans and runs the shipped matrix `name` (under `matrices/`), asserting that it meets its
/// own `expect` rules and that every cell agrees with its prediction; returns the report.
pub async fn run_shipped(name: &str) -> Report {
    let plan = plan(&matrices().join(name));
    let rules = sshmatrix::expect::load(plan.expect.as_ref().unwrap()).unwrap();
    let report = run(plan).await;
    assert_expected_and_predicted(&report, &rules);
    report
}

/// Asserts that the report meets the expectation rules and that every cell agrees with its
/// prediction, listing the offending cells otherwise.
pub fn assert_expected_and_predicted(report: &Report, rules: &[sshmatrix::expect::Rule]) {
    let misses = sshmatrix::expect::compare(report, rules);
    assert!(misses.is_empty(), "{misses:#?}");
    assert_predicted(report);
}

/// Asserts that every cell agrees with its prediction, listing the offending cells otherwise.
pub fn assert_predicted(report: &Report) {
    let off: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.disagrees_with_prediction())
        .map(|c| {
            (
                c.index,
                &c.client,
                &c.key_type,
                &c.target,
                &c.code,
                &c.predicted_code,
            )
        })
        .collect();
    assert!(off.is_empty(), "prediction disagrees: {off:?}");
}

/// Runs the sshmatrix binary with `args` and the shared `--work-dir`: exit code, standard
/// output, standard error.
pub fn sshmatrix_work(args: &[&str]) -> (i32, String, String) {
    let work = work_dir();
    let mut all = args.to_vec();
    all.extend(["--work-dir", work.to_str().unwrap()]);
    sshmatrix(&all)
}

/// Runs the shipped matrix `name` (in the tests' work directory) with `args`, writing its
/// report to `out`; fails the test unless it exits 0.
pub fn run_shipped_to(name: &str, args: &[&str], out: &Path) {
    let matrix = matrices().join(name);
    let mut all = vec!["run", matrix.to_str().unwrap(), "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, _, err) = sshmatrix_work(&all);
    assert_eq!(code, 0, "{err}");
}

/// The path of the sshmatrix binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_sshmatrix")
}

/// The sshmatrix binary under test, as a command to add arguments to: every test runs the
/// binary through this. It speaks English whatever the locale of the machine running the tests
/// (a test of another language says `--lang`).
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(exe());
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    c
}

/// Runs sshmatrix with its standard output on a pseudo-terminal `columns` wide (standard error
/// discarded), as a user's terminal shows it: its exit code and what the terminal received
/// (line ends as `\n`).
pub fn on_terminal(args: &[&str], columns: u16) -> (i32, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the pointers it is given.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = bin()
        .args(args)
        .env_remove("COLUMNS")
        .stdin(std::process::Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(slave);
    // Read while the child writes (a terminal holds little); the read ends with EIO once the
    // child has closed the terminal.
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let out = reader.join().unwrap();
    (code, String::from_utf8_lossy(&out).replace("\r\n", "\n"))
}

/// Writes a matrix file `name` with `text` into `dir` and gives its path: every test that
/// builds a matrix of its own writes it through this.
pub fn matrix_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// Runs the sshmatrix binary: exit code, standard output, standard error.
pub fn sshmatrix(args: &[&str]) -> (i32, String, String) {
    let o = bin().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// An unprivileged local user standing in for an attacker (`sshmatrix-attacker`, created when
/// missing): its uid and gid. `None` when the tests do not run as root (they cannot create it
/// or act as it); CI runs as root, so the attacker tests run there.
pub fn attacker() -> Option<(u32, u32)> {
    if sshmatrix_core::fsx::euid() != 0 {
        eprintln!("attacker tests need root (to act as another local user): not run");
        return None;
    }
    let id = |flag: &str| {
        std::process::Command::new("id")
            .args([flag, "sshmatrix-attacker"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    };
    if id("-u").is_none() {
        let status = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg("sshmatrix-attacker")
            .status()
            .expect("useradd");
        // Another test may have created it in the meantime.
        assert!(status.success() || id("-u").is_some(), "useradd failed");
    }
    Some((id("-u")?, id("-g")?))
}

/// A command run as the attacker user, with no supplementary groups (`setpriv`, util-linux).
pub fn as_attacker(program: &str, (uid, gid): (u32, u32)) -> std::process::Command {
    let mut c = std::process::Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "--"])
        .arg(program)
        .current_dir("/");
    c
}

/// A running `sshmatrix serve` (in the shared work directory or `work`); dropping it stops the
/// server with SIGINT.
pub struct Served {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Served {
    /// `sshmatrix serve --policy POLICY` on this host's sshd.
    pub fn start(policy: &str, work: &Path) -> Served {
        Served::start_in(policy, None, work)
    }

    /// Served by the sshd of a release image (`image`), or this host's.
    pub fn start_in(policy: &str, image: Option<&str>, work: &Path) -> Served {
        let image: Vec<&str> = image.map(|i| vec!["--image", i]).unwrap_or_default();
        Served::start_with(policy, &image, work)
    }

    /// `sshmatrix serve --policy POLICY EXTRA…`.
    pub fn start_with(policy: &str, extra: &[&str], work: &Path) -> Served {
        use std::io::BufRead;
        let mut child = bin()
            .args(["serve", "--policy", policy])
            .args(extra)
            .arg("--work-dir")
            .arg(work)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("127.0.0.1:"),
            "serve {policy} printed {line:?}"
        );
        Served {
            child,
            address: line.trim().to_string(),
        }
    }

    /// The port, as `ssh -p` takes it.
    pub fn port(&self) -> &str {
        self.address.trim_start_matches("127.0.0.1:")
    }

    /// SIGINT, then the exit code.
    pub fn stop(mut self) -> i32 {
        interrupt(&self.child);
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        std::mem::forget(self);
        code
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        interrupt(&self.child);
        let _ = self.child.wait();
    }
}

fn interrupt(child: &std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

/// The real OpenSSH client logging in to 127.0.0.1:`port` as `user` with `keys` only (no
/// config, no known hosts, batch mode), `extra` arguments before the destination, running
/// `true`.
pub fn ssh_login(port: &str, user: &str, keys: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut options = vec!["-o", "BatchMode=yes"];
    options.extend(extra);
    ssh_command(port, user, keys, &options).output().unwrap()
}

/// The real `ssh` logging in to 127.0.0.1:`port` as `user` with `keys` and `options` (first:
/// ssh keeps the first value of an option), no configuration, no host key checks, standard
/// input closed; not yet run.
pub fn ssh_command(
    port: &str,
    user: &str,
    keys: &[&Path],
    options: &[&str],
) -> std::process::Command {
    let mut c = std::process::Command::new("ssh");
    c.args(["-F", "/dev/null"]).args(options).args([
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
    ]);
    for k in keys {
        c.arg("-i").arg(k);
    }
    c.args(["-p", port, &format!("{user}@127.0.0.1"), "true"])
        .stdin(std::process::Stdio::null());
    c
}

/// [`ssh_login`] at -vvv with one key and `options` (`-o` each): its exit code and its log.
pub fn ssh_vvv(key: &Path, port: &str, user: &str, options: &[&str]) -> (i32, String) {
    let mut extra = vec!["-vvv"];
    extra.extend(options.iter().flat_map(|o| ["-o", *o]));
    let o = ssh_login(port, user, &[key], &extra);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}
