//! Real `ssh` and `plink` against their emulation profiles: they must agree on every cell where
//! emulation claims support, and the cells beyond it must be named.

mod common;

use sshmatrix::fidelity;
use sshmatrix::matrix::{plan, Catalog};

#[tokio::test(flavor = "multi_thread")]
async fn real_clients_agree_with_their_profiles() {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let policies: Vec<_> = sshmatrix_servers::builtin_policies()
        .into_iter()
        .filter(|p| {
            [
                "rhel9-default",
                "rhel9-fips",
                "fedora-legacy",
                "nutanix-ahv-lockdown",
                "upstream-9.2",
            ]
            .contains(&p.id.as_str())
        })
        .collect();
    let catalog = Catalog {
        profiles: &profiles,
        key_tools: &tools,
        policies: &policies,
    };
    let p = plan(
        "fidelity.toml",
        &fidelity::matrix(&profiles, &policies),
        None,
        &catalog,
    )
    .unwrap();
    let report = common::run(p).await;
    let pairs = fidelity::pairs(&report, &profiles);
    assert_eq!(
        pairs.len(),
        3 * 3 * 2 * 5,
        "every real cell has its emulated twin"
    );
    let text = fidelity::render(&pairs);
    for pair in &pairs {
        if pair.beyond_emulation() {
            // Only the sntrup761 key exchange of upstream 9.2 is beyond the engine here.
            assert_eq!(pair.real.target, "upstream-9.2", "{text}");
        } else {
            assert!(pair.agrees(), "{text}");
        }
    }
    // The real clients did log in for real, and were refused for real.
    assert!(pairs
        .iter()
        .any(|p| p.real.verdict == sshmatrix_reports::Verdict::Ok));
    assert!(pairs
        .iter()
        .any(|p| p.real.code == "auth-signature-rejected"));
    assert!(text.contains("100.0%"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn captured_kexinit_of_each_real_client_matches_its_profile() {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let factory = sshmatrix_clients::KeyFactory::new(common::work_dir().join("keys")).unwrap();
    let tool = tools.iter().find(|t| t.id == "ssh-keygen").unwrap();
    let key = factory
        .get(sshmatrix_clients::KeySpec::Ed25519, tool, false)
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("capture-")
        .tempdir_in(common::work_dir())
        .unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sshmatrix"));
    let real: Vec<_> = profiles.iter().filter(|p| p.driver.is_some()).collect();
    assert_eq!(real.len(), 3);
    for p in real {
        let sent = fidelity::capture(p, exe, dir.path(), &key, &factory)
            .await
            .unwrap();
        assert!(sent.ident.starts_with("SSH-2.0-"), "{}", sent.ident);
        let diffs = fidelity::compare_kexinit(p, &sent);
        assert!(diffs.is_empty(), "{}: {diffs:?}", p.id);
    }
}
