//! Reliability and safety, end to end through the binary: no lost results (SIGKILL, then
//! --resume), a clean stop on SIGINT, shards that merge into the single-machine report, and
//! passphrases absent from every output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sshmatrix_reports::Report;

use common::bin;

fn run(args: &[&str]) -> Output {
    let out = bin()
        .args(args)
        .arg("--work-dir")
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0),
        "sshmatrix {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// sshd processes started from a work directory.
fn sshd_processes(work: &Path) -> usize {
    let needle = work.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("sshd") && c.contains(" -i ") && c.contains(&needle))
        .count()
}

fn outcomes(r: &Report) -> Vec<(usize, String, String, String)> {
    let mut v: Vec<_> = r
        .cells
        .iter()
        .map(|c| {
            (
                c.index,
                sshmatrix_reports::diff::identity(c),
                c.verdict.as_str().to_string(),
                c.code.to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn matrix() -> String {
    common::matrices()
        .join("nutanix-cluster-lockdown.toml")
        .display()
        .to_string()
}

#[test]
fn a_killed_run_resumes_to_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.json");
    run(&[
        "run",
        "-q",
        "--format",
        "json",
        "-o",
        full.to_str().unwrap(),
        &matrix(),
    ]);
    let full: Report = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();

    let stream = dir.path().join("stream.jsonl");
    let mut child = common::spawn(
        &[
            "run",
            "-q",
            "-j",
            "2",
            "--stream",
            stream.to_str().unwrap(),
            "-o",
            "/dev/null",
            &matrix(),
        ],
        &common::work_dir(),
    );
    let at_kill = common::wait_for_lines(&stream, 30);
    child.kill().unwrap(); // SIGKILL: no chance to clean up or flush anything
    child.wait().unwrap();
    let before = std::fs::read_to_string(&stream)
        .unwrap()
        .matches('\n')
        .count();
    assert!(at_kill >= 30 && before < 144, "killed after {before} cells");

    let resumed = dir.path().join("resumed.json");
    let out = run(&[
        "run",
        "-q",
        "--resume",
        stream.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        resumed.to_str().unwrap(),
        &matrix(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("resuming: {before} cells already in the stream")));
    let resumed: Report =
        serde_json::from_str(&std::fs::read_to_string(&resumed).unwrap()).unwrap();
    assert_eq!(outcomes(&resumed), outcomes(&full));
    // The stream now holds every cell exactly once.
    let lines = sshmatrix::scale::read_stream(&stream).unwrap().results;
    assert_eq!(lines.len(), 144);
}

#[test]
fn sigint_stops_scheduling_writes_the_partial_report_and_leaves_nothing_behind() {
    // Its own work directory: sibling tests run sshd from the shared one at the same time.
    let work = common::work_dir().join("sigint");
    assert_eq!(sshd_processes(&work), 0);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("stream.jsonl");
    let partial = dir.path().join("partial.json");
    let mut child = common::spawn(
        &[
            "run",
            "-q",
            "-j",
            "2",
            "--stream",
            stream.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            partial.to_str().unwrap(),
            &matrix(),
        ],
        &work,
    );
    common::wait_for_lines(&stream, 20);
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&partial).unwrap()).unwrap();
    let streamed = sshmatrix::scale::read_stream(&stream).unwrap().results;
    assert!(
        report.cells.len() >= 20 && report.cells.len() < 144,
        "{}",
        report.cells.len()
    );
    assert_eq!(report.cells.len(), streamed.len());
    assert_eq!(sshd_processes(&work), 0, "sshd processes left behind");
    let runs: Vec<PathBuf> = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| std::fs::read_to_string(p.join("pid")).is_ok_and(|s| s.trim() == pid))
        .collect();
    assert!(runs.is_empty(), "run directory left behind: {runs:?}");
}

#[test]
fn shards_merge_into_the_single_machine_report() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrices()
        .join("al2023-teraterm.toml")
        .display()
        .to_string();
    let single = dir.path().join("single.json");
    run(&[
        "run",
        "-q",
        "--format",
        "json",
        "-o",
        single.to_str().unwrap(),
        &m,
    ]);
    let mut parts = Vec::new();
    for k in 0..3 {
        let p = dir.path().join(format!("shard{k}.json"));
        run(&[
            "run",
            "-q",
            "--shard",
            &format!("{k}/3"),
            "--format",
            "json",
            "-o",
            p.to_str().unwrap(),
            &m,
        ]);
        parts.push(p.display().to_string());
    }
    let mut args = vec!["merge".to_string(), "--format".into(), "table".into()];
    args.extend(parts.iter().cloned());
    let merged_table = common::bin().args(&args).output().unwrap();
    assert!(merged_table.status.success());
    let single_table = common::bin()
        .args(["merge", "--format", "table", single.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&merged_table.stdout),
        String::from_utf8_lossy(&single_table.stdout)
    );
    let mut args = vec!["merge".to_string()];
    args.extend(parts);
    let merged: Report =
        serde_json::from_slice(&common::bin().args(&args).output().unwrap().stdout).unwrap();
    let single: Report = serde_json::from_str(&std::fs::read_to_string(&single).unwrap()).unwrap();
    assert_eq!(outcomes(&merged), outcomes(&single));
}

#[test]
fn passphrases_never_appear_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix_file(
        dir.path(),
        "secrets.toml",
        r#"title = "secrets"
[axes]
keys = ["rsa-2048", "ed25519"]
passphrase = ["yes"]
pairs = [
  { client = "teraterm-4.106", key_tool = "teraterm-4.106" },
  { client = "putty-0.83", key_tool = "puttygen-0.83" },
  { client = "openssh-9.2", key_tool = "ssh-keygen" },
]
[[targets]]
id = "t"
policy = "rhel9-default"
users = ["u"]
[[targets]]
id = "wrong"
policy = "rhel9-default"
users = ["u"]
scenario = { passphrase = "wrong" }
"#,
    );
    let stream = dir.path().join("s.jsonl");
    let json = dir.path().join("r.json");
    let run_out = bin()
        .args([
            "run",
            "--stream",
            stream.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            json.to_str().unwrap(),
            "--advise",
            m.to_str().unwrap(),
            "--work-dir",
        ])
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert!(
        run_out.status.success(),
        "{}",
        String::from_utf8_lossy(&run_out.stderr)
    );
    let mut texts = vec![
        String::from_utf8_lossy(&run_out.stdout).to_string(),
        String::from_utf8_lossy(&run_out.stderr).to_string(),
        std::fs::read_to_string(&stream).unwrap(),
        std::fs::read_to_string(&json).unwrap(),
    ];
    for f in ["table", "csv", "markdown", "html", "junit"] {
        let o = bin()
            .args(["merge", "--format", f, json.to_str().unwrap()])
            .output()
            .unwrap();
        texts.push(String::from_utf8_lossy(&o.stdout).to_string());
    }
    let report: Report = serde_json::from_str(&texts[3]).unwrap();
    assert_eq!(report.cells.len(), 12);
    let mut secrets = Vec::new();
    for entry in std::fs::read_dir(common::work_dir().join("keys"))
        .unwrap()
        .flatten()
    {
        if let Ok(p) = std::fs::read_to_string(entry.path().join("passphrase")) {
            secrets.push(p.trim().to_string());
        }
    }
    assert!(secrets.len() >= 6, "the test keys have passphrases");
    for s in &secrets {
        assert!(s.len() >= 16);
        for t in &texts {
            assert!(
                !t.contains(s.as_str()),
                "a passphrase leaked into an output"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_servers_get_a_verdict_within_the_timeout() {
    let plan = common::plan(&common::matrices().join("hostile-targets.toml"));
    let rules = sshmatrix::expect::load(plan.expect.as_ref().unwrap()).unwrap();
    let mut opts = sshmatrix::runner::Options::new(common::work_dir());
    opts.timeout = Duration::from_secs(3);
    let report = sshmatrix::runner::run(plan, &opts).await.unwrap();
    assert_eq!(report.cells.len(), 12);
    let misses = sshmatrix::expect::compare(&report, &rules);
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    for c in &report.cells {
        // Bounded by the cell timeout (3 s) plus teardown, never hanging.
        assert!(
            c.duration_ms < 8_000,
            "{} took {} ms",
            c.target,
            c.duration_ms
        );
        assert!(
            !c.disagrees_with_prediction(),
            "{}: {} vs {:?}",
            c.target,
            c.code,
            c.predicted_code
        );
    }
}

/// ssh-agent processes serving sockets under `work`.
fn agents_under(work: &Path) -> usize {
    let out = Command::new("pgrep")
        .args(["-f", &format!("ssh-agent -D -a {}", work.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn no_ssh_agent_outlives_its_run_even_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let work = common::work_dir().join(format!("agents-{}", std::process::id()));
    // One quick target, one that never answers (its cells stay in flight until killed).
    let matrix = common::matrix_file(
        dir.path(),
        "agents.toml",
        "[axes]\nkeys = [\"ed25519\", \"rsa-2048\"]\nholders = [\"agent\"]\n\
         clients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"quick\"\npolicy = \"rhel9-default\"\nusers = [\"u\"]\n\
         [[targets]]\nid = \"silent\"\npolicy = \"rhel9-default\"\nusers = [\"u\"]\n\
         scenario = { server = \"silent\" }\n\
         [layout]\nrows = [\"client\", \"key_tool\", \"key\", \"passphrase\", \"holder\"]\n\
         columns = [\"target\", \"user\"]\n",
    );
    let stream = dir.path().join("s.jsonl");
    let mut child = common::spawn(
        &[
            "run",
            "-q",
            "--jobs",
            "4",
            "--timeout",
            "60",
            "--stream",
            stream.to_str().unwrap(),
            matrix.to_str().unwrap(),
        ],
        &work,
    );
    assert!(
        common::wait_for_lines(&stream, 2) >= 2,
        "the quick cells finish"
    );
    assert_eq!(
        agents_under(&work),
        2,
        "one agent per key while the run is on"
    );
    child.kill().unwrap(); // SIGKILL: sshmatrix gets no chance to clean up
    child.wait().unwrap();
    // The agents' guard shells see their pipe from sshmatrix close and stop them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while agents_under(&work) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(agents_under(&work), 0, "agents left after SIGKILL");
    // The killed run could not remove its run directory: the test's own work directory goes.
    std::fs::remove_dir_all(&work).unwrap();
}
