//! What sshmatrix writes down is what happened: signals to the whole process group (as a
//! terminal sends Ctrl-C) never produce a verdict, `--resume` reuses a result only for an
//! unchanged cell, merges and diffs refuse what does not add up, and output failures are
//! reported (exit 3) without losing what was measured.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sshmatrix_reports::Report;

use common::bin;

fn nutanix() -> PathBuf {
    common::matrices().join("nutanix-cluster-lockdown.toml")
}

/// A private scratch directory under the test work dir (StrictModes accepts it).
fn scratch(name: &str) -> PathBuf {
    let d = common::work_dir().join(format!("integrity-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_json(args: &[&str], work: &Path, out: &Path) -> Output {
    bin()
        .args(args)
        .args(["--format", "json", "-q", "--work-dir"])
        .arg(work)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn read(p: &Path) -> Report {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Verdict, code and stage of every cell, by plan index.
fn outcomes(r: &Report) -> Vec<(usize, String, String, String)> {
    r.cells
        .iter()
        .map(|c| {
            (
                c.index,
                c.verdict.as_str().to_string(),
                c.code.to_string(),
                c.stage.to_string(),
            )
        })
        .collect()
}

/// Starts a run in a process group of its own, as a shell starts a foreground job.
fn spawn_job(args: &[&str], work: &Path) -> Child {
    bin()
        .args(args)
        .arg("--work-dir")
        .arg(work)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGINT to the whole process group of `child` (what a terminal's Ctrl-C does).
fn ctrl_c(child: &Child) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -INT -{}", child.id()))
        .status()
        .unwrap();
    assert!(st.success());
}

/// Reads stderr lines until one contains `marker`; returns everything read.
fn wait_for_stderr(
    child: &mut Child,
    marker: &str,
) -> (String, BufReader<std::process::ChildStderr>) {
    let mut r = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            panic!("stderr ended before `{marker}`:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains(marker) {
            return (seen, r);
        }
    }
}

fn finish(mut child: Child, rest: Option<BufReader<std::process::ChildStderr>>) -> (i32, String) {
    let mut err = String::new();
    match rest {
        Some(mut r) => {
            std::io::Read::read_to_string(&mut r, &mut err).unwrap();
        }
        None => {
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).unwrap();
            }
        }
    }
    let st = child.wait().unwrap();
    (st.code().unwrap_or(-1), err)
}

/// Interrupts a run of `matrix` with a group SIGINT once its stream holds `after` lines, then
/// resumes it; the resumed report must equal `base` cell for cell.
fn interrupt_and_resume(matrix: &Path, work: &Path, after: usize, base: &Report, name: &str) {
    let dir = scratch(name);
    let stream = dir.join("s.jsonl");
    let m = matrix.to_str().unwrap();
    let s = stream.to_str().unwrap();
    let partial = dir.join("partial.json");
    let p = partial.to_str().unwrap();
    let args = ["run", m, "--stream", s, "-q", "--format", "json", "-o", p];
    let child = spawn_job(&args, work);
    let got = common::wait_for_lines(&stream, after);
    assert!(got >= after, "the stream never reached {after} lines");
    ctrl_c(&child);
    let (code, err) = finish(child, None);
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains(&format!("`--resume {s}` runs only them")),
        "{err}"
    );
    // The partial file says so where a reader looks first.
    let cut = read(&partial);
    let head = format!(
        "PARTIAL ({} of {} cells, interrupted): ",
        cut.cells.len(),
        base.cells.len()
    );
    assert!(cut.title.starts_with(&head), "{}", cut.title);
    assert!(
        cut.notes[0].starts_with("PARTIAL: the run was interrupted; "),
        "{:?}",
        cut.notes
    );
    for line in std::fs::read_to_string(&stream).unwrap().lines() {
        assert!(!line.contains("\"interrupted\""), "{line}");
    }
    let out = run_json(&["run", m, "--resume", s], work, &dir.join("r.json"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        outcomes(&read(&dir.join("r.json"))),
        outcomes(base),
        "after {after} lines"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_group_ctrl_c_at_any_point_never_records_a_verdict() {
    let work = common::work_dir();
    let dir = scratch("base");
    let base_path = dir.join("base.json");
    let out = run_json(&["run", nutanix().to_str().unwrap()], &work, &base_path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = read(&base_path);
    for after in [1, 30, 100] {
        interrupt_and_resume(&nutanix(), &work, after, &base, &format!("nutanix-{after}"));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_group_ctrl_c_on_a_container_matrix_never_records_a_verdict_in_containers() {
    let work = common::work_dir();
    let dir = scratch("ctr");
    let matrix = common::matrix_file(&dir, "m.toml", CONTAINERS);
    let base_path = dir.join("base.json");
    let out = run_json(&["run", matrix.to_str().unwrap()], &work, &base_path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = read(&base_path);
    assert_eq!(base.cells.len(), 18);
    for after in [2, 9] {
        interrupt_and_resume(&matrix, &work, after, &base, &format!("ctr-{after}"));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ctrl_c_while_preparing_exits_130_and_leaves_no_half_built_key() {
    let work = scratch("prep");
    let m = nutanix();
    let mut child = spawn_job(&["run", m.to_str().unwrap()], &work);
    let (_, rest) = wait_for_stderr(&mut child, "preparing");
    ctrl_c(&child);
    let (code, err) = finish(child, Some(rest));
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains("interrupted while making keys: nothing was run"),
        "{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(work.join("keys"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".build-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let runs = std::fs::read_dir(work.join("runs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(runs, 0);
    let _ = std::fs::remove_dir_all(work);
}

#[test]
fn resume_reruns_the_cells_whose_matrix_changed() {
    let work = common::work_dir();
    let dir = scratch("changed");
    let original = std::fs::read_to_string(nutanix()).unwrap().replace(
        "expect = \"expected/nutanix-cluster-lockdown-2024.csv\"",
        "",
    );
    let matrix = common::matrix_file(&dir, "m.toml", &original);
    let (m, stream) = (matrix.to_str().unwrap(), dir.join("s.jsonl"));
    let first = run_json(
        &["run", m, "--stream", stream.to_str().unwrap()],
        &work,
        &dir.join("a.json"),
    );
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(read(&dir.join("a.json")).counts(), (128, 16, 0));
    // AHV gets the CVM's policy: its Tera Term 4.106 RSA cells now log in.
    let changed = original.replace(
        "policy = \"nutanix-ahv-lockdown\"",
        "policy = \"nutanix-cvm-lockdown\"",
    );
    std::fs::write(&matrix, changed).unwrap();
    let out = run_json(
        &["run", m, "--resume", stream.to_str().unwrap()],
        &work,
        &dir.join("b.json"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "resuming: 48 cells already in the stream, 96 rerun because the matrix changed"
        ),
        "{err}"
    );
    let fresh = run_json(&["run", m], &work, &dir.join("c.json"));
    assert_eq!(fresh.status.code(), Some(0));
    let (resumed, fresh) = (read(&dir.join("b.json")), read(&dir.join("c.json")));
    assert_eq!(resumed.counts(), (144, 0, 0));
    assert_eq!(outcomes(&resumed), outcomes(&fresh));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn merge_refuses_other_matrices_and_names_missing_shards_and_diff_fails_on_one_sided_cells() {
    let work = common::work_dir();
    let dir = scratch("merge");
    let m = common::matrices().join("troubleshooting.toml");
    let m = m.to_str().unwrap();
    for k in 0..3 {
        let out = run_json(
            &["run", m, "--shard", &format!("{k}/3")],
            &work,
            &dir.join(format!("s{k}.json")),
        );
        assert_eq!(out.status.code(), Some(0));
    }
    let merge = |files: &[&str], extra: &[&str]| {
        let mut c = bin();
        c.arg("merge");
        for f in files {
            c.arg(dir.join(f));
        }
        c.args(extra).output().unwrap()
    };
    let all = merge(&["s0.json", "s1.json", "s2.json"], &[]);
    assert_eq!(
        all.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let partial = merge(&["s0.json", "s2.json"], &[]);
    let err = String::from_utf8_lossy(&partial.stderr);
    assert_eq!(partial.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cells are missing from the merge (shards 1/3 not given)"),
        "{err}"
    );
    assert_eq!(
        merge(&["s0.json", "s2.json"], &["--partial"]).status.code(),
        Some(0)
    );
    // A shard of another version of the matrix (its digest differs) is refused.
    let mut other = read(&dir.join("s1.json"));
    other.matrix_digest = "0".repeat(32);
    std::fs::write(dir.join("o1.json"), serde_json::to_string(&other).unwrap()).unwrap();
    let mixed = merge(&["s0.json", "o1.json", "s2.json"], &[]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("plan digests differ"));
    // diff: a cell present on one side only fails the gate; --allow-added-removed lets it pass.
    std::fs::write(dir.join("all.json"), &all.stdout).unwrap();
    let diff = |extra: &[&str]| {
        bin()
            .arg("diff")
            .arg(dir.join("all.json"))
            .arg(dir.join("s0.json"))
            .args(extra)
            .output()
            .unwrap()
    };
    let d = diff(&[]);
    assert_eq!(
        d.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&d.stdout)
    );
    assert!(String::from_utf8_lossy(&d.stdout).contains("removed"));
    assert_eq!(diff(&["--allow-added-removed"]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unusable_destinations_are_refused_before_any_cell_runs() {
    let work = common::work_dir();
    let dir = scratch("dest");
    let m = common::matrices().join("troubleshooting.toml");
    let m = m.to_str().unwrap();
    let stream = dir.join("never.jsonl");
    for (flag, path) in [
        ("--output", "/dev/full"),
        ("--output", dir.to_str().unwrap()),
        ("--stream", "/dev/full"),
        ("--output", "/nonexistent-dir/report.json"),
    ] {
        let mut args = vec!["run", m, "-q", flag, path];
        if flag == "--output" {
            args.extend(["--stream", stream.to_str().unwrap()]);
        }
        let out = bin()
            .args(&args)
            .arg("--work-dir")
            .arg(&work)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{flag} {path}: {err}");
        assert!(err.contains(path), "{flag} {path}: {err}");
        assert!(!stream.exists(), "{flag} {path}: a cell ran");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A small tmpfs (root only, as in CI): the stream fills it part-way through the run.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(dir: &Path) -> SmallFs {
        std::fs::create_dir_all(dir).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "mounting a tmpfs needs root");
        SmallFs(dir.to_path_buf())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_run_with_exit_3_and_loses_no_measured_cell() {
    let work = common::work_dir();
    let dir = scratch("full");
    let fs = SmallFs::mount(&dir.join("small"));
    let stream = fs.0.join("s.jsonl");
    let out = bin()
        .args([
            "run",
            nutanix().to_str().unwrap(),
            "-q",
            "--format",
            "json",
            "--stream",
        ])
        .arg(&stream)
        .arg("-o")
        .arg(dir.join("r.json"))
        .arg("--work-dir")
        .arg(&work)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("result stream {}: cannot write", stream.display())),
        "{err}"
    );
    assert!(!err.contains("expectations met"), "{err}");
    let streamed = sshmatrix::scale::read_stream(&stream).unwrap().results;
    let report = read(&dir.join("r.json"));
    assert!(
        streamed.len() < 144 && !report.cells.is_empty(),
        "{}",
        streamed.len()
    );
    assert!(report.cells.len() < 144, "the run did not stop");
    // Every streamed cell is in the report, with the same outcome.
    for s in &streamed {
        let r = report.cells.iter().find(|c| c.index == s.index).unwrap();
        assert_eq!((&r.verdict, &r.code), (&s.verdict, &s.code));
    }
    drop(fs);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_torn_last_line_is_dropped_and_resumes_keep_working() {
    let work = common::work_dir();
    let dir = scratch("torn");
    let m = common::matrices().join("troubleshooting.toml");
    let m = m.to_str().unwrap();
    let stream = dir.join("s.jsonl");
    let s = stream.to_str().unwrap();
    let first = run_json(&["run", m, "--stream", s], &work, &dir.join("a.json"));
    assert_eq!(first.status.code(), Some(0));
    let text = std::fs::read_to_string(&stream).unwrap();
    let last = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&stream, &text[..last + 40]).unwrap();
    for round in 0..3 {
        let out = run_json(&["run", m, "--resume", s], &work, &dir.join("b.json"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "round {round}: {err}");
        assert_eq!(
            err.contains("dropped a last line cut short"),
            round == 0,
            "{err}"
        );
        assert_eq!(
            outcomes(&read(&dir.join("b.json"))),
            outcomes(&read(&dir.join("a.json")))
        );
    }
    assert_eq!(
        sshmatrix::scale::read_stream(&stream)
            .unwrap()
            .results
            .len(),
        8
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Two container targets (Debian 12 under AHV lockdown, Debian 13 as shipped), three emulated
/// clients, 18 cells with ○ and ×.
const CONTAINERS: &str = r#"title = "container interrupt"
[axes]
clients = ["teraterm-4.106", "putty-0.83", "openssh-9.2"]
key_tools = ["ssh-keygen"]
keys = ["rsa-2048", "ed25519"]
passphrase = ["no"]
[[targets]]
id = "bookworm"
kind = "container"
image = "bookworm"
policy = "nutanix-ahv-lockdown"
users = ["nutanix", "admin"]
[[targets]]
id = "trixie"
kind = "container"
image = "trixie"
policy = "as-shipped"
users = ["nutanix"]
"#;

/// A run in another pid namespace (a CI job or a pod sharing the docker daemon) is alive: the
/// sweep of a run started here must not remove its containers or its run directory.
#[test]
fn a_sweep_never_touches_a_live_run_in_another_pid_namespace() {
    let work = common::work_dir();
    let dir = scratch("pidns");
    // Slow enough to be mid-run when the other run sweeps: one cell at a time.
    let victim_m = common::matrix_file(
        &dir,
        "victim.toml",
        &CONTAINERS.replace("[axes]", "[run]\njobs = 1\n[axes]"),
    );
    let stream = dir.join("victim.jsonl");
    // Its pid there (3999991) cannot exist here (beyond this namespace's pid_max): a sweep that
    // judged owners by `/proc/PID` alone would take it for dead.
    let victim = Command::new("unshare")
        .args(["-p", "-f", "--mount-proc", "sh", "-c"])
        .arg("echo 3999990 > /proc/sys/kernel/ns_last_pid; \"$0\" \"$@\"")
        .arg(common::exe())
        .args(["run", "-q", "-o", "/dev/null", "--stream"])
        .arg(&stream)
        .arg(&victim_m)
        .arg("--work-dir")
        .arg(&work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        common::wait_for_lines(&stream, 2) >= 2,
        "the victim never ran"
    );
    // Another run here (it sweeps stale containers and run directories first).
    let other = common::matrix_file(&dir, "other.toml", CONTAINERS);
    let out = bin()
        .args(["run", "-q", "-o", "/dev/null"])
        .arg(&other)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, err) = finish(victim, None);
    assert_eq!(
        code, 0,
        "the victim lost its containers or run directory: {err}"
    );
    let lines = std::fs::read_to_string(&stream).unwrap();
    assert_eq!(lines.lines().count(), 18);
    assert!(
        !lines.contains("connection-closed"),
        "a cell lost its server: {lines}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_full_key_cache_names_its_path() {
    let dir = scratch("fullkeys");
    let fs = SmallFs::mount(&dir.join("w"));
    let m = common::matrices().join("troubleshooting.toml");
    let out = bin()
        .args(["run", "-q"])
        .arg(&m)
        .arg("--work-dir")
        .arg(&fs.0)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("{}", fs.0.display())),
        "no path in: {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("install openssh-client"), "{err}");
    drop(fs);
    let _ = std::fs::remove_dir_all(dir);
}
