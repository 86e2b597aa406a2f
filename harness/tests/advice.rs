//! Advice is verified: `explain --try-fixes` reruns the cell with each fix against the real sshd.

mod common;

use sshmatrix::advice::{explain, parse_change, select};
use sshmatrix::runner::Options;
use sshmatrix_reports::Verdict;

fn opts() -> Options {
    common::options()
}

#[tokio::test(flavor = "multi_thread")]
async fn field_report_2_four_proposed_fixes_are_judged_correctly() {
    let plan = common::plan(&common::matrices().join("al2023-teraterm.toml"));
    let i = select(
        &plan,
        "client=teraterm-4.106,key=rsa-2048,target=al2023-default",
    )
    .unwrap();
    let proposed: Vec<_> = [
        "client=teraterm-4.108",
        "key=ed25519",
        "policy=al2023-legacy",
        "host_keys=ed25519,ecdsa,rsa",
    ]
    .iter()
    .map(|f| parse_change(f).unwrap())
    .collect();
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    let e = explain(
        &plan,
        i,
        &proposed,
        true,
        &opts(),
        &profiles,
        &tools,
        &policies,
    )
    .await
    .unwrap();
    assert_eq!(e.result.code, "auth-signature-rejected");
    let outcome = |text: &str| {
        let t = e
            .fixes
            .iter()
            .find(|t| t.fix.side == "proposed" && t.fix.text == text)
            .unwrap();
        t.result.as_ref().unwrap().verdict
    };
    assert_eq!(outcome("client=teraterm-4.108"), Verdict::Ok); // (1) upgrade Tera Term
    assert_eq!(outcome("key=ed25519"), Verdict::Ok); // (2) Ed25519 key
    assert_eq!(outcome("policy=al2023-legacy"), Verdict::Ok); // (3) LEGACY policy
    assert_eq!(outcome("host_keys=ed25519,ecdsa,rsa"), Verdict::Fail); // (4) RSA host key: no
                                                                       // Every computed fix was verified, and the computed client upgrades are the first rsa-sha2 versions.
    let computed: Vec<_> = e
        .fixes
        .iter()
        .filter(|t| t.fix.side != "proposed")
        .collect();
    assert!(computed
        .iter()
        .all(|t| t.result.as_ref().unwrap().verdict == Verdict::Ok));
    let upgrades: Vec<&str> = computed
        .iter()
        .filter(|t| t.fix.text.starts_with("upgrade"))
        .map(|t| t.fix.text.as_str())
        .collect();
    assert_eq!(upgrades.len(), 2, "{upgrades:?}");
    assert!(
        upgrades[0].contains("Tera Term 4.107") && upgrades[1].contains("Tera Term 5.0"),
        "{upgrades:?}"
    );
    // The directive says where it must go on AL2023 to take effect (sshd keeps the first value,
    // and the crypto policy is included from 50-redhat.conf).
    assert!(
        computed.iter().any(|t| t
            .fix
            .text
            .starts_with("sshd_config: PubkeyAcceptedAlgorithms +ssh-rsa — where: put the line in a drop-in that sorts before 50-redhat.conf")
            && t.fix.cost.is_some()),
        "{:?}",
        computed.iter().map(|t| &t.fix.text).collect::<Vec<_>>()
    );
    assert_eq!(
        e.basis,
        "server side: inferred — crypto-policies DEFAULT of the version AL2023 ships, without RequiredRSASize (not seen on an AL2023 host)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nutanix_ahv_failure_gets_verified_advice() {
    let plan = common::plan(&common::matrices().join("nutanix-cluster-lockdown.toml"));
    let i = select(&plan, "client=teraterm-4.106,key_tool=teraterm-4.106,key=rsa-3072,passphrase=yes,target=aos-6.10-ahv,user=admin").unwrap();
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    let e = explain(&plan, i, &[], true, &opts(), &profiles, &tools, &policies)
        .await
        .unwrap();
    assert_eq!(e.result.verdict, Verdict::Fail);
    assert!(!e.fixes.is_empty());
    for t in &e.fixes {
        assert_eq!(
            t.result.as_ref().unwrap().verdict,
            Verdict::Ok,
            "{}",
            t.fix.text
        );
    }
    assert!(e.fixes.iter().any(|t| t.fix.text.contains("Tera Term 5.0")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_putty_cannot_read_is_converted_in_puttygen_and_no_harness_profile_is_advised() {
    let dir = common::scratch_dir("advice-putty-key");
    let m = common::matrix_file(
        &dir,
        "putty.toml",
        r#"title = "PuTTY 0.83 given an OpenSSH key"
[axes]
keys = ["ed25519"]
passphrase = ["no"]
clients = ["putty-0.83"]
key_tools = ["ssh-keygen"]

[[targets]]
id = "rhel9"
policy = "rhel9-default"
users = ["u"]
"#,
    );
    let plan = common::plan(&m);
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    let e = explain(&plan, 0, &[], true, &opts(), &profiles, &tools, &policies)
        .await
        .unwrap();
    assert_eq!(e.result.code, "key-load-failed", "{}", e.result.reason);
    let texts: Vec<&str> = e.fixes.iter().map(|t| t.fix.text.as_str()).collect();
    // The first fix is where the user is: PuTTY's own PuTTYgen, in the client's release, in its
    // own menus; and it is verified.
    assert_eq!(
        texts.first().copied(),
        Some("convert the key to ppk-v3: in PuTTYgen: Conversions › Import key, choose the key file (type its passphrase), then Save private key"),
        "{texts:?}"
    );
    assert_eq!(
        e.fixes[0].fix.change,
        sshmatrix::advice::Change::KeyTool("puttygen-0.83".into())
    );
    assert_eq!(e.fixes[0].result.as_ref().unwrap().verdict, Verdict::Ok);
    // A harness instrument (a real binary in a release image) is never a fix a user can take,
    // and a crypto policy does not decide whether a key file can be read.
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("real-") || t.contains("switch to policy")),
        "{texts:?}"
    );
}

#[test]
fn cell_selectors_must_match_exactly_one_cell() {
    let plan = common::plan(&common::matrices().join("nutanix-cluster-lockdown.toml"));
    assert_eq!(select(&plan, "7").unwrap(), 7);
    assert!(select(&plan, "144").is_err());
    assert!(select(&plan, "client=teraterm-4.106")
        .unwrap_err()
        .contains("cells match"));
    assert!(select(&plan, "client=nobody")
        .unwrap_err()
        .contains("no cell matches"));
}

#[test]
fn cell_selector_typos_and_ambiguity_get_hints() {
    let plan = common::plan(&common::matrices().join("nutanix-cluster-lockdown.toml"));
    let e = select(&plan, "target=aos-7.0-ahb").unwrap_err();
    assert!(e.contains("did you mean `target=aos-7.0-ahv`?"), "{e}");
    assert!(
        e.contains("target values: aos-7.0-cvm, aos-7.0-ahv, aos-6.10-cvm, aos-6.10-ahv"),
        "{e}"
    );
    let e = select(&plan, "clinet=putty-0.83").unwrap_err();
    assert!(
        e.contains("unknown cell selector key `clinet`") && e.contains("did you mean `client`?"),
        "{e}"
    );
    // An ambiguous selector lists the cells it matches, each as a selector `explain` takes.
    let e = select(&plan, "client=putty-0.83,target=aos-7.0-ahv").unwrap_err();
    assert!(e.starts_with("12 cells match"), "{e}");
    let listed: Vec<&str> = e.lines().skip(1).filter(|l| !l.contains('…')).collect();
    assert_eq!(listed.len(), 10, "{e}");
    for line in listed {
        let (index, selector) = line.trim().split_once("  ").unwrap();
        assert_eq!(
            select(&plan, selector).unwrap().to_string(),
            index,
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_in_the_field_report_matrices_carries_verified_advice() {
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    for m in ["nutanix-cluster-lockdown.toml", "al2023-teraterm.toml"] {
        let plan = common::plan(&common::matrices().join(m));
        let mut report = common::run(plan.clone()).await;
        sshmatrix::advice::advise(&plan, &mut report, &opts(), &profiles, &tools, &policies)
            .await
            .unwrap();
        let fails: Vec<_> = report
            .cells
            .iter()
            .filter(|c| c.verdict != Verdict::Ok)
            .collect();
        assert!(!fails.is_empty());
        for c in fails {
            assert!(
                !c.code.is_none() && !c.server_evidence.is_empty(),
                "{m} #{}",
                c.index
            );
            assert!(
                c.advice.iter().all(|a| a.works.is_some()),
                "{m} #{}: unverified advice",
                c.index
            );
            assert!(
                c.advice.iter().filter(|a| a.works == Some(true)).count() >= 3,
                "{m} #{}: {:?}",
                c.index,
                c.advice
            );
        }
        assert!(report
            .cells
            .iter()
            .filter(|c| c.verdict == Verdict::Ok)
            .all(|c| c.advice.is_empty()));
        // The whole matrix: one client upgrade (Tera Term 4.107) and one server change fix
        // every failed cell of both field reports.
        let failed = report
            .cells
            .iter()
            .filter(|c| c.verdict != Verdict::Ok)
            .count();
        let whole: Vec<&String> = report
            .notes
            .iter()
            .filter(|n| n.starts_with("whole matrix:"))
            .collect();
        assert_eq!(whole.len(), 2, "{m}: {:?}", report.notes);
        assert!(
            whole[0].contains("the server change")
                && whole[0].contains(&format!("— {failed} of {failed} failed cells")),
            "{m}: {}",
            whole[0]
        );
        assert!(
            whole[1].contains("`upgrade to Tera Term 4.107"),
            "{m}: {}",
            whole[1]
        );
    }
}

/// A matrix whose AHV target sits behind a local bastion, the bastion listed `first` or last.
fn jump_matrix(first: bool) -> sshmatrix::matrix::Plan {
    let bastion = "[[targets]]\nid = \"bastion\"\npolicy = \"rhel9-default\"\nsshd = [\"PubkeyAcceptedAlgorithms +ssh-rsa\"]\nusers = [\"jump\"]\n";
    let ahv = "[[targets]]\nid = \"ahv\"\npolicy = \"nutanix-ahv-lockdown\"\nvia = \"bastion\"\nusers = [\"nutanix\"]\n";
    let text = format!(
        "title = \"jump\"\n[axes]\nkeys = [\"rsa-2048\"]\nclients = [\"teraterm-4.106\"]\nkey_tools = [\"ssh-keygen\"]\n{}{}",
        if first { bastion } else { ahv },
        if first { ahv } else { bastion }
    );
    let dir = tempfile::tempdir().unwrap();
    let path = common::matrix_file(dir.path(), &format!("jump-{first}.toml"), &text);
    common::plan(&path)
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_and_advise_keep_the_jump_host_wherever_it_is_listed() {
    let (profiles, tools, policies) = (
        sshmatrix_clients::builtin_profiles(),
        sshmatrix_clients::key_tools(),
        sshmatrix_servers::builtin_policies(),
    );
    for first in [true, false] {
        let plan = jump_matrix(first);
        let i = select(&plan, "target=ahv").unwrap();
        let e = explain(&plan, i, &[], true, &opts(), &profiles, &tools, &policies)
            .await
            .unwrap();
        assert_eq!(e.route, "client -> jump host `bastion` -> target `ahv`");
        assert_eq!(e.result.target, "ahv");
        assert_eq!(
            (e.result.verdict, e.result.code.as_str()),
            (Verdict::Fail, "auth-signature-rejected"),
            "first={first}: {}",
            e.result.reason
        );
        let works: Vec<&str> = e
            .fixes
            .iter()
            .filter(|t| t.result.as_ref().is_some_and(|r| r.verdict == Verdict::Ok))
            .map(|t| t.fix.text.as_str())
            .collect();
        assert!(!works.is_empty(), "first={first}: no fix verified");
        // run --advise goes through the same code.
        let mut report = common::run(plan.clone()).await;
        sshmatrix::advice::advise(&plan, &mut report, &opts(), &profiles, &tools, &policies)
            .await
            .unwrap();
        let cell = report.cells.iter().find(|c| c.target == "ahv").unwrap();
        assert_eq!(cell.code, "auth-signature-rejected");
        assert!(
            cell.advice.iter().any(|a| a.works == Some(true)),
            "{:?}",
            cell.advice
        );
    }
}

/// One name per cell: the selector in progress lines, `explain` and JUnit picks exactly that
/// cell, holders included, and no two JUnit test cases share a name.
#[test]
fn every_cells_selector_selects_it_and_junit_names_are_unique() {
    let plan = common::plan(&common::matrices().join("multi-hop-agent.toml"));
    let report = sshmatrix::runner::predict_plan(&plan, &common::work_dir()).unwrap();
    assert_eq!(report.cells.len(), 576);
    for c in &report.cells {
        assert_eq!(
            select(&plan, &c.selector()),
            Ok(c.index),
            "{}",
            c.selector()
        );
    }
    assert!(report.cells.iter().any(|c| c.key_spec() == "ed25519"));
    let junit = sshmatrix_reports::render(&report, sshmatrix_reports::Format::Junit);
    let names: std::collections::HashSet<&str> = junit
        .split("<testcase ")
        .skip(1)
        .map(|t| {
            let class = t
                .split("classname=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let name = t
                .split(" name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let _ = class;
            name
        })
        .collect();
    let per_client = report.cells.len() / 6;
    assert!(names.len() >= per_client, "{} distinct names", names.len());
    let full: std::collections::HashSet<String> = junit
        .split("<testcase ")
        .skip(1)
        .map(|t| {
            t.split('>')
                .next()
                .unwrap()
                .split(" time=")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(full.len(), report.cells.len(), "JUnit test cases repeat");
}

#[test]
fn explain_without_a_cell_explains_the_whole_matrix() {
    let m = common::matrices().join("al2023-teraterm.toml");
    let (code, out, err) = common::sshmatrix_work(&["explain", m.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let failed = out
        .lines()
        .next()
        .and_then(|l| l.split("× ").nth(1))
        .and_then(|n| n.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(out.contains("\nWhy cells fail:\n"), "{out}");
    assert!(out.contains("× auth-signature-rejected: "), "{out}");
    assert!(out.contains("\nWhat fixes most:\n"), "{out}");
    assert!(
        out.contains(&format!("— {failed} of {failed} failed cells")),
        "{out}"
    );
    assert!(out.contains("`upgrade to Tera Term 4.107"), "{out}");
    assert!(
        out.contains(&format!("Next: sshmatrix explain {} ", m.display())),
        "{out}"
    );
}
