//! `sshmatrix scan` and `sshmatrix serve`: every built-in OpenSSH policy served on a
//! 127.0.0.1 port, scanned without logging in, and the scan's predictions held against the
//! logins the same clients and keys really make against the same policies.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sshmatrix::matrix::{self, Catalog};
use sshmatrix_reports::{CellResult, Report, Verdict};

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

/// A running `sshmatrix serve`; dropping it stops the server with SIGINT.
struct Served {
    child: Child,
    address: String,
}

impl Served {
    fn start(policy: &str, work: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
            .args(["serve", "--policy", policy, "--work-dir"])
            .arg(work)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
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

    /// SIGINT, then the exit code.
    fn stop(mut self) -> i32 {
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

fn interrupt(child: &Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn sshmatrix(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_sshmatrix"))
        .args(args)
        .output()
        .unwrap();
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
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let all = sshmatrix_servers::builtin_policies();
    let chosen: Vec<_> = profiles
        .iter()
        .filter(|p| CLIENTS.contains(&p.id.as_str()))
        .collect();
    let targets: Vec<(&str, String, &str)> = policies
        .iter()
        .map(|p| (p.as_str(), p.clone(), p.as_str()))
        .collect();
    let keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    let text = sshmatrix::impact::matrix(
        &targets,
        &chosen,
        &keys,
        false,
        sshmatrix::impact::IMPACT_LAYOUT,
    );
    let catalog = Catalog {
        profiles: &profiles,
        key_tools: &tools,
        policies: &all,
    };
    common::run(matrix::plan("scan-measured", &text, None, &catalog).unwrap()).await
}

type Key = (String, String);

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
            if m.code == "emulation-limit" {
                continue;
            }
            observed += 1;
            refusals += usize::from(s.verdict == Verdict::Fail);
            assert_eq!(
                (s.verdict, s.code.as_str()),
                (m.verdict, m.code.as_str()),
                "{policy} {key:?}: scan says {} / measured {}",
                s.reason,
                m.reason
            );
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
    let served = Served::start("upstream-9.2", &work);
    let report = scan(&served.address, &["--assume-defaults"]);
    let real = by_cell(measured.cells.iter());
    let mut ok = 0;
    for (key, s) in by_cell(report.cells.iter()) {
        assert_ne!(s.code, "not-observable", "{key:?}");
        let m = real[&key];
        if m.code == "emulation-limit" {
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
