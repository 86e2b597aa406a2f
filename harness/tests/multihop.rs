//! Agents, agent forwarding and jump hosts (`matrices/multi-hop-agent.toml`): real sshd on both
//! hops (Debian 12 containers as the jump hosts), real ssh-agents, emulated Tera Term, the real
//! OpenSSH ssh 9.2 / PuTTY plink 0.78 (here) and ssh 10.0 / plink 0.74 (in their images), the jump
//! host's real ssh for forwarded cells; exact codes and evidence, and no private key ever written
//! on a jump host.

mod common;

use std::time::Duration;

use sshmatrix::runner::{self, Options};
use sshmatrix_reports::Verdict;

#[tokio::test(flavor = "multi_thread")]
async fn multi_hop_meets_expectations_and_leaves_no_key_on_jump_hosts_in_containers() {
    let plan = common::plan(&common::matrices().join("multi-hop-agent.toml"));
    let rules = sshmatrix::expect::load(plan.expect.as_ref().unwrap()).unwrap();
    let opts = Options {
        jobs: runner::default_jobs(),
        timeout: Duration::from_secs(30),
        work_dir: common::work_dir(),
        stream: None,
        progress: sshmatrix::runner::Progress::Off,
        stop: Default::default(),
    };
    let prepared = runner::prepare(plan, &opts).await.unwrap();
    let cells = prepared.execute().await;
    let report = prepared.report(cells);

    // No private key on the jump hosts: only the host keys sshmatrix gave their sshd (and the
    // test keys and key code the image's python3-twisted and python3-cryptography ship).
    for id in ["bastion", "bastion-noforward", "bastion-future"] {
        let c = prepared.target_container(id).expect("jump host container");
        let (_, found) = c
            .sh("grep -rlsIE 'PRIVATE KEY|PuTTY-User-Key-File' / --exclude-dir=proc --exclude-dir=sys \
                 --exclude-dir=dev | grep -v -e '^/etc/ssh/ssh_host_' -e '^/etc/sshmatrix/hostkeys/' \
                 -e '^/usr/lib/python3/dist-packages/' || true")
            .await
            .unwrap();
        assert_eq!(found.trim(), "", "private key files on jump host {id}");
    }
    let agents = || {
        let out = std::process::Command::new("pgrep")
            .args([
                "-f",
                &format!("ssh-agent -D -a {}", common::work_dir().display()),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(
        agents(),
        12,
        "one real ssh-agent per key file (2 keys × passphrase × 3 key tools)"
    );
    prepared.close().await;
    assert_eq!(agents(), 0, "agents left after the run");

    assert_eq!(report.cells.len(), 6 * 2 * 2 * 24);
    common::assert_expected_and_predicted(&report, &rules);

    let find = |client: &str, key: &str, holder: &str, target: &str| {
        report
            .cells
            .iter()
            .find(|c| {
                c.client == client
                    && c.key_type == key
                    && !c.passphrase
                    && c.holder == holder
                    && c.target == target
            })
            .unwrap_or_else(|| panic!("{client} {key} {holder} {target}"))
    };
    // Tera Term 4.106 through an agent: ssh-rsa, passes the +ssh-rsa bastion, refused by AHV
    // in AHV's own words.
    let c = find("teraterm-4.106", "rsa", "agent", "ahv-via-bastion");
    assert_eq!(c.signature.as_deref(), Some("ssh-rsa"));
    assert_eq!(
        c.server_reason.as_deref(),
        Some("signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms")
    );
    // Forwarded, the bastion's OpenSSH asks the agent for SHA-2 and AHV lets it in.
    let c = find(
        "teraterm-4.106",
        "rsa",
        "agent-forwarded",
        "ahv-via-bastion",
    );
    assert_eq!(c.verdict, Verdict::Ok, "{}", c.reason);
    assert!(c
        .server_evidence
        .iter()
        .any(|l| l.starts_with("Accepted publickey for ") && l.contains("RSA")));
    // AllowAgentForwarding no: its own code; the target saw no key at all.
    let c = find(
        "teraterm-5.3",
        "ed25519",
        "agent-forwarded",
        "ahv-via-noforward",
    );
    assert_eq!(c.code, "agent-forwarding-refused");
    assert!(c.reason.contains("bastion-noforward"), "{}", c.reason);
    // The jump host itself refusing the key: its code, and the jump host's log line.
    let c = find("teraterm-5.3", "rsa", "file", "cvm-via-future");
    assert_eq!(c.code, "jump-host-refused");
    assert_eq!(c.stage, "jump");
    assert!(c
        .server_evidence
        .iter()
        .any(|l| l.contains("refusing RSA key: Invalid key length")));
    // Password login: refused by the bastion before the lockdown target is tried; lockdown
    // itself does not offer it.
    let c = find("teraterm-5.3", "ed25519", "password", "ahv-via-bastion");
    assert_eq!(c.code, "jump-host-refused");
    assert!(
        c.reason.contains("Failed password for jump"),
        "{}",
        c.reason
    );
    let c = find("real-openssh-9.2", "ed25519", "password", "ahv-direct");
    assert_eq!(c.code, "auth-method-disabled", "{}", c.reason);
    // The real ssh: ProxyJump stopped at the FUTURE bastion, in the bastion's words; the agent
    // forwarded by the real ssh 10.0 (run in its image) through the bastion to AHV.
    let c = find("real-openssh-9.2", "rsa", "file", "cvm-via-future");
    assert_eq!(c.code, "jump-host-refused");
    assert!(c
        .server_evidence
        .iter()
        .any(|l| l.contains("refusing RSA key: Invalid key length")));
    let c = find(
        "real-openssh-10.0",
        "rsa",
        "agent-forwarded",
        "ahv-via-bastion",
    );
    assert_eq!(c.verdict, Verdict::Ok, "{}", c.reason);
    let c = find(
        "real-openssh-10.0",
        "ed25519",
        "agent-forwarded",
        "ahv-via-noforward",
    );
    assert_eq!(c.code, "agent-forwarding-refused", "{}", c.reason);
}
