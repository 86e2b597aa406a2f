//! `sshmatrix scan` and `sshmatrix serve`: every built-in OpenSSH policy served on a
//! 127.0.0.1 port, scanned without logging in, and the scan's predictions held against the
//! logins the same clients and keys really make against the same policies.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sshmatrix::matrix::{self, Catalog};
use sshmatrix_reports::{CellResult, Code, Report, Verdict};

const CLIENTS: &[&str] = &[
    "teraterm-4.106",
    "teraterm-5.3",
    "putty-0.70",
    "putty-0.74",
    "putty-0.78",
    "winscp-5.19",
    "openssh-7.4",
    "openssh-8.7",
    "paramiko-2.8.1",
    "dropbear-2020.81",
    "node-ssh2-0.8.9",
    "libssh2-1.10.0",
    "jsch-0.1.55",
];
const KEYS: &[&str] = &["rsa-2048", "ecdsa-256", "ed25519"];

use common::Served;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn sshmatrix(args: &[&str]) -> Out {
    let o = common::bin().args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

/// `sshmatrix scan ADDRESS --format json` with the test's clients and keys (plus `extra`).
fn scan(address: &str, extra: &[&str]) -> Report {
    let (clients, keys) = (CLIENTS.join(","), KEYS.join(","));
    let mut args = vec![
        "scan",
        address,
        "--format",
        "json",
        "--clients",
        &clients,
        "--keys",
        &keys,
    ];
    args.extend_from_slice(extra);
    let out = sshmatrix(&args);
    assert_eq!(out.code, 0, "scan {address}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The OpenSSH policies a local target runs (no image, no non-OpenSSH facts).
fn local_policies() -> Vec<String> {
    sshmatrix_servers::builtin_policies()
        .into_iter()
        .filter(|p| p.facts.is_none())
        .map(|p| p.id)
        .collect()
}

/// The measured matrix: the test's clients and keys against one local target per policy.
async fn measure(policies: &[String]) -> Report {
    measure_in(policies, None).await
}

/// As [`measure`], the targets in containers of `image` when one is given.
async fn measure_in(policies: &[String], image: Option<&str>) -> Report {
    let pairs: Vec<(String, Option<&str>)> = policies.iter().map(|p| (p.clone(), image)).collect();
    measure_each(&pairs).await
}

/// As [`measure`], each policy in a container of its own image when it names one.
async fn measure_each(policies: &[(String, Option<&str>)]) -> Report {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let all = sshmatrix_servers::builtin_policies();
    let chosen: Vec<_> = profiles
        .iter()
        .filter(|p| CLIENTS.contains(&p.id.as_str()))
        .collect();
    let targets: Vec<(&str, String, &str)> = policies
        .iter()
        .map(|(p, _)| (p.as_str(), p.clone(), p.as_str()))
        .collect();
    let keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    let text = sshmatrix::impact::matrix(
        &targets,
        &chosen,
        &keys,
        false,
        sshmatrix::impact::IMPACT_LAYOUT,
    );
    let catalog = Catalog::new(&profiles, &tools, &all);
    let text = text.replace("users = [\"u\"]\n", "users = [\"sshmatrix\"]\n");
    let mut text = text;
    for (policy, image) in policies {
        if let Some(i) = image {
            let line = format!("policy = \"{policy}\"\n");
            text = text.replacen(
                &line,
                &format!("{line}kind = \"container\"\nimage = \"{i}\"\n"),
                1,
            );
        }
    }
    common::run(matrix::plan("scan-measured", &text, None, &catalog).unwrap()).await
}

type Key = (String, String);

/// A scan's cell and the real login of the same client and key agree on verdict and code.
fn assert_same(policy: &str, key: &Key, s: &CellResult, m: &CellResult) {
    assert_eq!(
        (s.verdict, s.code.as_str()),
        (m.verdict, m.code.as_str()),
        "{policy} {key:?}: scan says {} / measured {}",
        s.reason,
        m.reason
    );
}

/// Whether a measured cell says nothing about the login: the emulator could not speak what the
/// client would negotiate, or the cell ran out of time (a loaded machine), neither a verdict
/// of the server. Such cells are counted, and few.
fn undecided(m: &CellResult, skipped: &mut usize) -> bool {
    let skip = m.verdict == Verdict::Error;
    if skip && m.code != "emulation-limit" {
        *skipped += 1;
        assert!(
            *skipped <= 5,
            "too many measured errors: {} {}",
            m.code,
            m.reason
        );
    }
    skip
}

fn by_cell<'a>(cells: impl Iterator<Item = &'a CellResult>) -> BTreeMap<Key, &'a CellResult> {
    cells
        .map(|c| ((c.client.clone(), c.key_spec()), c))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_agrees_with_real_logins_on_every_cell_it_claims_to_observe() {
    let work = common::work_dir();
    let policies = local_policies();
    assert!(policies.len() >= 15, "{policies:?}");
    let measured = measure(&policies).await;
    let mut skipped = 0;
    let (mut observed, mut unobservable, mut refusals) = (0, 0, 0);
    for policy in &policies {
        let served = Served::start(policy, &work);
        let report = scan(&served.address, &[]);
        assert_eq!(served.stop(), 130, "serve {policy} ends by SIGINT with 130");
        let real = by_cell(measured.cells.iter().filter(|c| &c.target == policy));
        let seen = by_cell(report.cells.iter());
        assert_eq!(seen.len(), CLIENTS.len() * KEYS.len());
        for (key, s) in &seen {
            if s.code == "not-observable" {
                unobservable += 1;
                assert!(
                    s.reason.contains("not observable without a login"),
                    "{}",
                    s.reason
                );
                continue;
            }
            let m = real[key];
            // What the emulator could not measure says nothing about the prediction.
            if undecided(m, &mut skipped) {
                continue;
            }
            observed += 1;
            refusals += usize::from(s.verdict == Verdict::Fail);
            assert_same(policy, key, s, m);
        }
    }
    // OpenSSH 9.2 lists every algorithm in server-sig-algs, so whether a signature is accepted
    // is never seen here; the transport refusals (no common kex, cipher, MAC, host key) and the
    // client-side ones are.
    eprintln!("{observed} observed cells ({refusals} refusals), {unobservable} not observable");
    assert!(refusals >= 15, "observable refusals: {refusals}");
    assert!(
        observed >= refusals && unobservable >= 300,
        "{observed} observed, {unobservable} not"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn assuming_release_defaults_matches_a_policy_that_keeps_them() {
    let work = common::work_dir();
    // upstream-9.2 is OpenSSH 9.2's defaults: with --assume-defaults every cell is decided,
    // and equals the real logins.
    let policies = vec!["upstream-9.2".to_string()];
    let measured = measure(&policies).await;
    let mut skipped = 0;
    let served = Served::start("upstream-9.2", &work);
    let report = scan(&served.address, &["--assume-defaults"]);
    let real = by_cell(measured.cells.iter());
    let mut ok = 0;
    for (key, s) in by_cell(report.cells.iter()) {
        assert_ne!(s.code, "not-observable", "{key:?}");
        let m = real[&key];
        if undecided(m, &mut skipped) {
            continue;
        }
        ok += usize::from(s.verdict == Verdict::Ok);
        assert_eq!(
            (s.verdict, s.code.as_str()),
            (m.verdict, m.code.as_str()),
            "{key:?}: {}",
            s.reason
        );
        if s.verdict == Verdict::Ok {
            assert!(
                s.reason.contains("assuming OpenSSH 9.2's default"),
                "{}",
                s.reason
            );
            assert!(
                s.notes.iter().any(|n| n.contains("authorized keys")),
                "{:?}",
                s.notes
            );
        }
    }
    assert!(ok >= 20, "{ok} logins");
    // Without --assume-defaults the same scan leaves cells undecided: on the table they have
    // their own mark and count (not "error"), and one line says how to decide them.
    let (clients, keys) = (CLIENTS.join(","), KEYS.join(","));
    let plain = sshmatrix(&[
        "scan",
        &served.address,
        "--clients",
        &clients,
        "--keys",
        &keys,
        "--color",
        "never",
    ]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let undecided = scan(&served.address, &[])
        .cells
        .iter()
        .filter(|c| c.code == "not-observable")
        .count();
    assert!(undecided > 0);
    assert!(
        plain
            .stdout
            .contains(&format!("? needs a login {undecided}   ! error 0")),
        "{}",
        plain.stdout
    );
    assert!(
        plain.stdout.contains("need a login to decide: assume the releases' defaults with --assume-defaults, or log in with --verify USER"),
        "{}",
        plain.stdout
    );
    // Nothing authenticated: the server's log of the last connection has no auth attempt.
    let log = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("sshd.log"))
        .filter(|p| p.exists())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<Vec<_>>();
    assert!(!log.is_empty(), "the served target's log");
    for l in &log {
        for word in ["Failed", "Accepted", "authenticating user", "Invalid user"] {
            assert!(!l.contains(word), "a scan must not authenticate: {l}");
        }
    }
    drop(served);
}

/// A 127.0.0.1 port served by one of the hostile stubs (every connection), for as long as the
/// returned task runs.
async fn hostile(kind: sshmatrix::runner::hostile::Hostile) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let policies = sshmatrix_servers::builtin_policies();
    let facts = policies
        .iter()
        .find(|p| p.id == "dropbear-2022.83")
        .and_then(|p| p.facts.clone())
        .unwrap();
    let hosts = vec!["ed25519".to_string()];
    let eff = sshmatrix_servers::Effective::from_facts(
        sshmatrix_servers::ServerKind::Dropbear,
        &facts,
        &hosts,
    );
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            tokio::spawn(sshmatrix::runner::hostile::serve(kind, theirs, eff.clone()));
            tokio::spawn(async move {
                let mut ours = ours;
                let _ = tokio::io::copy_bidirectional(&mut sock, &mut ours).await;
            });
        }
    });
    (port, task)
}

/// `sshmatrix scan` run off the test's runtime threads.
async fn scan_cli(args: Vec<String>) -> Out {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sshmatrix(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_silent_and_non_ssh_servers_are_environment_errors() {
    use sshmatrix::runner::hostile::Hostile;
    // Nothing listens: a port that was bound and released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = scan_cli(vec!["scan".into(), closed.to_string()]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("cannot connect to {closed}")),
        "{}",
        out.stderr
    );
    for (kind, says) in [
        (
            Hostile::Silent,
            "sent no SSH identification and KEXINIT within 1 s",
        ),
        (Hostile::Garbage, "does not speak SSH"),
    ] {
        let (port, task) = hostile(kind).await;
        let args = vec![
            "scan".into(),
            format!("127.0.0.1:{port}"),
            "--timeout".into(),
            "1".into(),
        ];
        let out = scan_cli(args).await;
        task.abort();
        assert_eq!(out.code, 3, "{kind:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{kind:?}: {}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{kind:?}: no report without a server"
        );
    }
    let out = scan_cli(vec!["scan".into(), "127.0.0.1:ssh".into()]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("the port must be a number"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stalls_the_key_exchange_is_predicted_from_its_kexinit() {
    let (port, task) = hostile(sshmatrix::runner::hostile::Hostile::StallKex).await;
    let args = [
        "scan",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "1",
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    let out = scan_cli(
        [
            args,
            vec!["--clients".into(), "teraterm-4.106,putty-0.70".into()],
        ]
        .concat(),
    )
    .await;
    task.abort();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Report = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("no answer within 1 s")),
        "{:?}",
        report.notes
    );
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("server-sig-algs: not seen")));
    // Its KEXINIT is Dropbear 2022.83's: each client's negotiation is read off it, and with no
    // server-sig-algs seen every login is left undecided.
    let dropbear = sshmatrix_servers::builtin_policies()
        .into_iter()
        .find(|p| p.id == "dropbear-2022.83")
        .and_then(|p| p.facts)
        .unwrap();
    assert_eq!(report.cells.len(), 6);
    for c in &report.cells {
        let kex = c
            .kex
            .as_deref()
            .unwrap_or_else(|| panic!("{} negotiates", c.client));
        assert!(dropbear.kex.iter().any(|k| k == kex), "{kex}");
        assert_eq!(c.code, "not-observable", "{}", c.reason);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_key_pin_is_checked_and_unpinned_keys_are_shown() {
    let work = common::work_dir();
    let served = Served::start("upstream-9.2", &work);
    let clients = ["--clients", "openssh-8.7", "--keys", "ed25519"];
    let out = sshmatrix(&[&["scan", &served.address][..], &clients].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("note: host key ssh-ed25519 "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no Ed25519 host key shown: {}", out.stderr))
        .to_string();
    assert!(shown.starts_with("SHA256:"), "{shown}");
    let pinned = sshmatrix(&[&["scan", &served.address, "--pin", &shown][..], &clients].concat());
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    assert!(!pinned.stderr.contains("not pinned"), "{}", pinned.stderr);
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = sshmatrix(&[&["scan", &served.address, "--pin", wrong][..], &clients].concat());
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no host key matches the pin"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
}

/// ssh-audit 3.9.0 from PyPI in its own virtual environment under the tests' work directory.
fn ssh_audit(work: &Path) -> std::path::PathBuf {
    let venv = work.join("ssh-audit-3.9.0");
    let bin = venv.join("bin/ssh-audit");
    if !bin.exists() {
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "python3 -m venv (scripts/deps installs python3-venv)"
        );
        let pip = venv.join("bin/pip");
        let ok = Command::new(pip)
            .args(["install", "-q", "ssh-audit==3.9.0"])
            .status()
            .unwrap();
        assert!(ok.success(), "pip install ssh-audit==3.9.0");
    }
    bin
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ssh_audit_report_predicts_what_a_live_scan_predicts() {
    let work = common::work_dir();
    let bin = tokio::task::spawn_blocking({
        let work = work.clone();
        move || ssh_audit(&work)
    })
    .await
    .unwrap();
    let served = Served::start("rhel9-default", &work);
    let (host, port) = served.address.split_once(':').unwrap();
    let audit = Command::new(bin)
        .args(["-j", "--skip-rate-test", "-p", port, host])
        .output()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.json");
    std::fs::write(&file, &audit.stdout).unwrap();
    let live = scan(&served.address, &["--assume-defaults"]);
    let file_arg = file.display().to_string();
    let (clients, keys) = (CLIENTS.join(","), KEYS.join(","));
    let out = sshmatrix(&[
        "scan",
        "--from-ssh-audit",
        &file_arg,
        "--format",
        "json",
        "--clients",
        &clients,
        "--keys",
        &keys,
        "--assume-defaults",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let from_report: Report = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        from_report.title.contains("OpenSSH_9.2"),
        "{}",
        from_report.title
    );
    let live = by_cell(live.cells.iter());
    let (mut same, mut unseen) = (0, 0);
    for (key, c) in by_cell(from_report.cells.iter()) {
        if c.code == "not-observable" {
            // Only the RSA choice can hang on the server-sig-algs a report does not carry.
            assert!(
                c.reason.contains("server-sig-algs"),
                "{key:?}: {}",
                c.reason
            );
            assert_eq!(key.1, "rsa-2048", "{key:?}");
            unseen += 1;
            continue;
        }
        same += 1;
        let l = live[&key];
        assert_eq!(
            (c.verdict, c.code.as_str()),
            (l.verdict, l.code.as_str()),
            "{key:?}: {}",
            c.reason
        );
    }
    assert!(same >= 30 && unseen >= 1, "{same} equal, {unseen} unseen");
    // A file that is not such a report: exit 2 naming it.
    std::fs::write(&file, "{\"banner\": 1}").unwrap();
    let bad = sshmatrix(&["scan", "--from-ssh-audit", &file_arg]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("not an ssh-audit JSON report"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn from_openssh_9_6_on_every_login_is_observable_and_agrees_in_containers() {
    // OpenSSH 10.0 (Debian 13) lists in server-sig-algs only what PubkeyAcceptedAlgorithms
    // accepts: with the whole list read, a scan sees which signatures the server takes.
    let work = common::work_dir();
    let policies: Vec<String> = ["rhel9-default", "upstream-9.2", "nutanix-ahv-lockdown"]
        .map(String::from)
        .to_vec();
    let measured = measure_in(&policies, Some("trixie")).await;
    let mut skipped = 0;
    let (mut compared, mut refused) = (0, 0);
    for policy in &policies {
        let served = Served::start_in(policy, Some("trixie"), &work);
        let report = scan(&served.address, &[]);
        assert_eq!(
            served.stop(),
            130,
            "serve {policy} --image trixie ends by SIGINT"
        );
        assert!(report.title.contains("OpenSSH_10.0"), "{}", report.title);
        assert!(
            report.notes.iter().any(
                |n| n.starts_with("server-sig-algs: ") && n.contains("read by this host's ssh")
            ),
            "{:?}",
            report.notes
        );
        let real = by_cell(measured.cells.iter().filter(|c| &c.target == policy));
        for (key, s) in by_cell(report.cells.iter()) {
            let m = real[&key];
            if undecided(m, &mut skipped) {
                continue;
            }
            assert_ne!(s.code, "not-observable", "{policy} {key:?}: {}", s.reason);
            compared += 1;
            refused += usize::from(s.code == "auth-signature-rejected");
            assert_same(policy, &key, s, m);
        }
    }
    eprintln!("{compared} cells compared, {refused} signature refusals");
    assert!(
        refused >= 5 && compared >= 60,
        "{compared} compared, {refused} refused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_logs_in_for_the_undecided_cells_within_the_failed_login_budget() {
    let work = common::work_dir();
    let w = work.display().to_string();
    let user = sshmatrix_servers::sshd::current_user();
    let clients = "teraterm-4.106,putty-0.78,openssh-8.7,real-openssh-9.2";
    let base = ["--clients", clients, "--work-dir", &w];
    // The keys a verify run uses, printed before anything is contacted.
    let keys = sshmatrix(
        &[
            &["scan", "127.0.0.1:1", "--verify", &user, "--print-keys"][..],
            &base,
        ]
        .concat(),
    );
    assert_eq!(keys.code, 0, "{}", keys.stderr);
    let lines = keys.stdout.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        lines, 6,
        "three emulated clients' RSA, ECDSA and Ed25519 keys (two key tools):\n{}",
        keys.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.pub");
    std::fs::write(&file, &keys.stdout).unwrap();
    let file = file.display().to_string();
    let served = Served::start_with("rhel9-default", &["--authorize", &file], &work);
    let verify = |budget: &str| {
        let args = [
            &[
                "scan",
                &served.address,
                "--verify",
                &user,
                "--auth-budget",
                budget,
                "--format",
                "json",
            ][..],
            &base,
        ]
        .concat();
        let out = sshmatrix(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str::<Report>(&out.stdout).unwrap()
    };
    let report = verify("5");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("--verify: 9 cells measured")),
        "{:?}",
        report.notes
    );
    // The title says the report is no longer only a prediction.
    assert!(
        report.title.ends_with(&format!(
            "(predicted before login; 9 cells measured by logging in as {user})"
        )),
        "{}",
        report.title
    );
    for c in &report.cells {
        let real = c.client.starts_with("real-");
        match (real, c.client.as_str(), c.key_spec().as_str()) {
            // A real binary does not log in to a remote target: its cells stay predictions.
            (true, ..) => assert_eq!(c.code, "not-observable", "{}", c.reason),
            (false, "teraterm-4.106", "rsa-2048") => {
                assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
                assert!(c.reason.contains("ssh-rsa"), "{}", c.reason);
            }
            _ => assert_eq!(
                c.verdict,
                Verdict::Ok,
                "{} {}: {}",
                c.client,
                c.key_spec(),
                c.reason
            ),
        }
        if !real {
            assert!(
                c.notes.iter().any(|n| n.contains("--verify")),
                "{:?}",
                c.notes
            );
            assert_eq!(c.predicted_code, Some(Code::NotObservable.into()));
        }
    }
    // The refusal above is on the account's ledger: with a budget of one failed login, the cell
    // that would fail again is deferred instead of tried.
    let again = verify("1");
    let tt = again
        .cells
        .iter()
        .find(|c| c.client == "teraterm-4.106" && c.key_spec() == "rsa-2048")
        .unwrap();
    assert_eq!(tt.code, "auth-budget-exhausted", "{}", tt.reason);
    assert_eq!(served.stop(), 130);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropbear_and_tinyssh_builds_are_read_with_their_policy_facts_in_containers() {
    let work = common::work_dir();
    let servers: Vec<(String, Option<&str>)> = [
        ("dropbear-2020.81", "bullseye"),
        ("dropbear-2022.83", "bookworm"),
        ("dropbear-2025.89", "trixie"),
        ("dropbear-2026.94", "forky"),
        ("tinyssh-20230101", "bookworm"),
        ("tinyssh-20250501", "trixie"),
    ]
    .map(|(p, i)| (p.to_string(), Some(i)))
    .to_vec();
    let measured = measure_each(&servers).await;
    let mut skipped = 0;
    let (mut compared, mut refused) = (0, 0);
    for (policy, image) in &servers {
        let served = Served::start_in(policy, *image, &work);
        let report = scan(&served.address, &[]);
        assert_eq!(served.stop(), 130, "serve {policy}");
        let real = by_cell(measured.cells.iter().filter(|c| &c.target == policy));
        for (key, s) in by_cell(report.cells.iter()) {
            let m = real[&key];
            if undecided(m, &mut skipped) {
                continue;
            }
            assert_ne!(s.code, "not-observable", "{policy} {key:?}: {}", s.reason);
            compared += 1;
            refused += usize::from(s.verdict == Verdict::Fail);
            assert_same(policy, &key, s, m);
        }
    }
    eprintln!("{compared} cells compared, {refused} refusals");
    assert!(
        compared >= 150 && refused >= 40,
        "{compared} compared, {refused} refused"
    );
}

/// `scan --targets FILE` of the test's clients and keys, as JSON (exit 0 asserted).
fn fleet_scan(file: &std::path::Path, extra: &[&str]) -> Report {
    let (clients, keys) = (CLIENTS.join(","), KEYS.join(","));
    let f = file.to_str().unwrap();
    let mut args = vec![
        "scan",
        "--targets",
        f,
        "--clients",
        &clients,
        "--keys",
        &keys,
    ];
    args.extend(["--format", "json"]);
    args.extend(extra);
    let out = sshmatrix(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// `scan --targets`: several served policies and an unreachable address in one file; one
/// report whose cells for each host are exactly a single-host scan's, attributed to that host;
/// the unreachable one named; exit 3 only when no host could be scanned.
#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_scan_equals_single_scans_host_by_host() {
    let work = common::work_dir();
    let served: Vec<Served> = ["rhel9-default", "upstream-7.4", "nutanix-ahv-lockdown"]
        .iter()
        .map(|p| Served::start(p, &work))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::from("# the fleet\n");
    for s in &served {
        list.push_str(&format!("{}\n", s.address));
    }
    list.push_str("127.0.0.1:1   # decommissioned\n");
    let file = dir.path().join("hosts.txt");
    std::fs::write(&file, &list).unwrap();
    let (clients, keys) = (CLIENTS.join(","), KEYS.join(","));
    let f = file.to_str().unwrap();
    let fleet = fleet_scan(&file, &["--jobs", "2"]);
    assert_eq!(
        fleet.title,
        format!("Scan of 3 hosts of {f} (predicted before login)")
    );
    // The title in the language of the run.
    let ja = scan(&served[0].address, &["--lang", "ja"]);
    assert!(
        ja.title
            .starts_with(&format!("{} のスキャン: SSH-2.0-", served[0].address))
            && ja.title.ends_with(" （ログインせずに予測）"),
        "{}",
        ja.title
    );
    assert!(
        fleet
            .notes
            .iter()
            .any(|n| n.starts_with("127.0.0.1:1: not scanned: ")),
        "{:?}",
        fleet.notes
    );
    for s in &served {
        let single = scan(&s.address, &[]);
        let mine: Vec<&CellResult> = fleet
            .cells
            .iter()
            .filter(|c| c.target == s.address)
            .collect();
        assert_eq!(mine.len(), single.cells.len(), "{}", s.address);
        for (f, one) in mine.iter().zip(&single.cells) {
            assert_eq!(
                (
                    f.client.as_str(),
                    f.key_spec(),
                    f.verdict,
                    f.code.as_str(),
                    f.reason.as_str()
                ),
                (
                    one.client.as_str(),
                    one.key_spec(),
                    one.verdict,
                    one.code.as_str(),
                    one.reason.as_str()
                ),
                "{}",
                s.address
            );
        }
    }
    // The summary: each client and key type some host refuses, on how many hosts and why.
    let mut locked: BTreeMap<(String, String), std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for c in fleet.cells.iter().filter(|c| c.verdict == Verdict::Fail) {
        let hosts = locked.entry((c.client.clone(), c.key_spec())).or_default();
        hosts.insert(c.target.clone());
    }
    assert!(!locked.is_empty());
    for ((client, key), hosts) in &locked {
        let line = format!(
            "{client} {key}: locked out on {} of 3 hosts — ",
            hosts.len()
        );
        assert!(
            fleet.notes.iter().any(|n| n.starts_with(&line)),
            "{line}\n{:?}",
            fleet.notes
        );
    }
    // Weighed by who really connects (a census as `sshmatrix census --format json` writes it).
    let census = serde_json::json!({
        "hosts": {},
        "all": {
            "attempts": 60, "logins": 55,
            "clients": {
                "PuTTY_Release_0.70": {"logins": 40, "attempts": 40, "profile": "putty-0.70"},
                "libssh2_1.10.0": {"logins": 10, "attempts": 12, "profile": "libssh2-1.10.0"},
                "SomeAppliance_1.0": {"logins": 5, "attempts": 8}
            },
            "key_types": {}, "signatures": {}, "methods": {}, "users": {}, "failures": {}
        },
        "level": "DEBUG", "cannot_show": [], "unread": []
    });
    let census_file = dir.path().join("census.json");
    std::fs::write(&census_file, census.to_string()).unwrap();
    let weighed = sshmatrix(&[
        "scan",
        "--targets",
        f,
        "--clients",
        &clients,
        "--keys",
        &keys,
        "--population",
        census_file.to_str().unwrap(),
    ]);
    assert_eq!(weighed.code, 0, "{}", weighed.stderr);
    let locked: std::collections::BTreeSet<&str> = fleet
        .cells
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.client.as_str())
        .collect();
    let (n, lost) = [("putty-0.70", 40), ("libssh2-1.10.0", 10)]
        .iter()
        .filter(|(p, _)| locked.contains(p))
        .fold((0, 0), |(n, l), (_, x)| (n + 1, l + x));
    assert!(
        weighed.stdout.contains(&format!(
            "breaks {n} of 3 distinct clients seen, {lost} of 55 logins"
        )),
        "{locked:?}\n{}",
        weighed.stdout
    );
    assert!(
        weighed
            .stdout
            .contains("unknown: SomeAppliance_1.0 (5 logins)"),
        "{}",
        weighed.stdout
    );
    let nowhere = dir.path().join("nowhere.txt");
    std::fs::write(&nowhere, "127.0.0.1:1\n").unwrap();
    let out = sshmatrix(&["scan", "--targets", nowhere.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("no host of"), "{}", out.stderr);
}

/// `scan --targets` reads the files a team already has: an OpenSSH client configuration (its
/// concrete `Host` blocks at their HostName and Port; patterns and jump hosts left out with a
/// note), a known_hosts file (plain entries; hashed ones named) and an Ansible inventory, INI
/// or YAML (all hosts, or a group with its children).
#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_scan_reads_a_client_configuration_and_known_hosts() {
    let work = common::work_dir();
    let served: Vec<Served> = ["rhel9-default", "upstream-7.4"]
        .iter()
        .map(|p| Served::start(p, &work))
        .collect();
    let dir = common::scratch_dir("scan-sources");
    let (p1, p2) = (served[0].port(), served[1].port());
    let config = format!(
        "Host ahv\n  HostName 127.0.0.1\n  Port {p1}\n\nHost legacy old\n  HostName 127.0.0.1\n  Port {p2}\nHost *.lab\n  User admin\nHost inner\n  HostName 10.9.9.9\n  ProxyJump ahv\n"
    );
    // The served hosts' own key (the shared host key store) pins p1; a hashed entry is named.
    let host_key = std::fs::read_to_string(work.join("hostkeys/ssh_host_ed25519_key.pub")).unwrap();
    let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
    let known = format!(
        "[127.0.0.1]:{p1} {}\n|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n",
        host_key.join(" ")
    );
    let inventory = format!(
        "[ahv]\nahv1 ansible_host=127.0.0.1 ansible_port={p1}\n[legacy]\nold1 ansible_host=127.0.0.1 ansible_port={p2}\nweb[01:03]\n[cluster:children]\nahv\n"
    );
    // The same inventory in YAML form.
    let yaml = format!(
        "all:\n  children:\n    cluster:\n      children:\n        ahv:\n          hosts:\n            ahv1:\n              ansible_host: 127.0.0.1\n              ansible_port: {p1}\n    legacy:\n      hosts:\n        old1:\n          ansible_host: 127.0.0.1\n          ansible_port: {p2}\n        web[01:03]:\n"
    );
    for (name, text, hosts, note, extra) in [
        (
            "inventory.yml",
            yaml.as_str(),
            1,
            "(ansible, groups cluster): 1",
            &["--group", "cluster"][..],
        ),
        (
            "inventory.yml",
            yaml.as_str(),
            2,
            "group `legacy`: host pattern `web[01:03]` is not expanded",
            &[],
        ),
        (
            "config",
            config.as_str(),
            2,
            "Host pattern `*.lab` names no one host",
            &[][..],
        ),
        (
            "known_hosts",
            known.as_str(),
            1,
            "1 hashed entries (HashKnownHosts)",
            &[],
        ),
        (
            "inventory",
            inventory.as_str(),
            2,
            "host pattern `web[01:03]` is not expanded",
            &[],
        ),
        (
            "inventory",
            inventory.as_str(),
            1,
            "(ansible, groups cluster): 1",
            &["--group", "cluster"],
        ),
    ] {
        let file = common::matrix_file(&dir, name, text);
        let fleet = fleet_scan(&file, extra);
        let targets: std::collections::BTreeSet<&str> =
            fleet.cells.iter().map(|c| c.target.as_str()).collect();
        assert_eq!(targets.len(), hosts, "{name}: {targets:?}");
        assert!(
            fleet.notes.iter().any(|n| n.contains(note)),
            "{name}: {:?}",
            fleet.notes
        );
        // An inventory's hosts are grouped by the groups they are listed under.
        if name.starts_with("inventory") && extra.is_empty() {
            assert_eq!(fleet.column_axes.first().map(String::as_str), Some("Group"));
            let groups: std::collections::BTreeSet<&str> =
                fleet.cells.iter().map(|c| c.column[0].as_str()).collect();
            assert_eq!(groups, ["ahv", "legacy"].into(), "{name}");
        }
        if name == "config" {
            assert!(
                fleet
                    .notes
                    .iter()
                    .any(|n| n.contains("reached through `ahv`")),
                "{:?}",
                fleet.notes
            );
        }
    }
    // A known_hosts file of targets pins its hosts: another key for p1 and it is not scanned.
    let other = dir.join("other");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let other_key = std::fs::read_to_string(dir.join("other.pub")).unwrap();
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let wrong = format!("[127.0.0.1]:{p1} {}\n", other_key.join(" "));
    let file = common::matrix_file(&dir, "known_hosts_wrong", &wrong);
    let out = sshmatrix(&["scan", "--targets", file.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no host key matches its known_hosts entry"),
        "{}",
        out.stderr
    );
}

/// Scan reports of two sites merge into one fleet report: each host's cells as its own scan gave
/// them; a host in two reports is refused (exit 2, both files named) unless `--newest-wins`,
/// when the later scan gives it; a scan and a matrix run do not merge.
#[tokio::test(flavor = "multi_thread")]
async fn scan_reports_of_several_sites_merge_each_host_once() {
    let work = common::work_dir();
    let dir = common::scratch_dir("scan-merge");
    let (a, b) = (
        Served::start("upstream-9.2", &work),
        Served::start("rhel9-default", &work),
    );
    let save = |served: &Served, name: &str| {
        let report = scan(&served.address, &["--assume-defaults"]);
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
        (path.to_str().unwrap().to_string(), report)
    };
    let (site1, r1) = save(&a, "site1.json");
    let (site2, r2) = save(&b, "site2.json");
    let out = sshmatrix(&["merge", &site1, &site2, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged: Report = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(merged.cells.len(), r1.cells.len() + r2.cells.len());
    for (host, original) in [(&a.address, &r1), (&b.address, &r2)] {
        let mine: Vec<_> = merged.cells.iter().filter(|c| c.target == *host).collect();
        assert_eq!(mine.len(), original.cells.len(), "{host}");
        for (m, o) in mine.iter().zip(&original.cells) {
            let key = |c: &CellResult| {
                (
                    c.client.clone(),
                    c.key_spec(),
                    c.verdict,
                    c.code.as_str().to_string(),
                    c.reason.clone(),
                )
            };
            assert_eq!(key(m), key(o), "{host}");
        }
    }
    // The same host again: refused, then taken from the later scan.
    let (again, _) = save(&a, "site1-again.json");
    let out = sshmatrix(&["merge", &site1, &site2, &again]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!(
            "host {} is in both {site1} and {again}",
            a.address
        )),
        "{}",
        out.stderr
    );
    let out = sshmatrix(&[
        "merge",
        &site1,
        &site2,
        &again,
        "--newest-wins",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged: Report = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(merged.cells.len(), r1.cells.len() + r2.cells.len());
    let note = format!("host {}: from {again}", a.address);
    assert!(
        merged.notes.iter().any(|n| n.starts_with(&note)),
        "{:#?}",
        merged.notes
    );
    // A scan and a run's report do not merge.
    let run = dir.join("run.json");
    common::run_shipped_to("al2023-teraterm.toml", &["--format", "json"], &run);
    let out = sshmatrix(&["merge", &site1, run.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out
        .stderr
        .contains("cannot merge scan reports with reports of matrix runs"));
}
