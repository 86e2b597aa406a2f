//! Real `ssh`, `plink` and `dbclient` — installed here, and inside the Debian 11 / 13 / testing images —
//! against their emulation profiles: they must agree on every cell where emulation claims
//! support, and the cells beyond it must be named.

mod common;

use sshmatrix::fidelity;
use sshmatrix::matrix::{plan, Catalog};

#[tokio::test(flavor = "multi_thread")]
async fn real_clients_agree_with_their_profiles_in_containers() {
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
    let catalog = Catalog::new(&profiles, &tools, &policies);
    let p = plan(
        "fidelity.toml",
        &fidelity::matrix(&fidelity::base_pairs(&profiles), &policies),
        None,
        &catalog,
    )
    .unwrap();
    let report = common::run(p).await;
    let pairs = fidelity::pairs(&report, &fidelity::base_pairs(&profiles));
    assert_eq!(
        pairs.len(),
        (12 + 21) * 3 * 2 * 5,
        "every real cell has its emulated twin"
    );
    let text = fidelity::render(&pairs);
    for pair in &pairs {
        if pair.beyond_emulation() {
            // Only the sntrup761 key exchange of upstream 9.2 is beyond the engine here.
            assert!(pair.emulated.reason.contains("sntrup761"), "{text}");
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
    // Twelve real binaries and twenty-one libraries, each at 100% where emulation claims support.
    assert_eq!(text.matches("(100.0%)").count(), 12 + 21, "{text}");
    // PuTTY 0.74 signs RSA with ssh-rsa only: refused by 9.2's defaults, as its profile says.
    assert!(pairs.iter().any(|p| p.real.client == "real-putty-0.74"
        && p.real.key_type == "rsa"
        && p.real.target == "upstream-9.2"
        && p.real.code == "auth-signature-rejected"
        && p.agrees()));
}

#[tokio::test(flavor = "multi_thread")]
async fn captured_kexinit_of_each_real_client_matches_its_profile_in_containers() {
    let profiles = sshmatrix_clients::builtin_profiles();
    let tools = sshmatrix_clients::key_tools();
    let factory = sshmatrix_clients::KeyFactory::new(common::work_dir().join("keys")).unwrap();
    let keys = fidelity::capture_keys(&factory, &tools).unwrap();
    let exe = std::path::Path::new(common::exe());
    let captured = fidelity::capture_all(&profiles, exe, &common::work_dir(), &keys, &factory)
        .await
        .unwrap();
    let ids: Vec<&str> = captured.iter().map(|(id, _)| id.as_str()).collect();
    // Twelve real binaries and twenty-one library clients.
    assert_eq!(ids.len(), 12 + 21, "{ids:?}");
    for (id, sent) in captured {
        let sent = sent.unwrap();
        let p = profiles.iter().find(|p| p.id == id).unwrap();
        let diffs = fidelity::compare_kexinit(p, &sent);
        assert!(diffs.is_empty(), "{id}: {diffs:?}");
    }
    // The in-image binaries are the releases' own, not this host's.
    let ident = |id: &str| {
        profiles
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.ident.clone())
            .unwrap()
    };
    assert!(ident("real-openssh-8.4").starts_with("SSH-2.0-OpenSSH_8.4p1"));
    assert!(ident("real-openssh-10.0").starts_with("SSH-2.0-OpenSSH_10.0p2"));
    assert_eq!(ident("real-putty-0.74"), "SSH-2.0-PuTTY_Release_0.74");
    assert_eq!(ident("real-dropbear-2025.89"), "SSH-2.0-dropbear_2025.89");
    assert_eq!(
        ident("real-openssh-10.6"),
        "SSH-2.0-OpenSSH_10.6p1 Debian-1"
    );
    assert_eq!(ident("real-putty-0.85"), "SSH-2.0-PuTTY_Release_0.85");
    assert_eq!(ident("real-dropbear-2026.94"), "SSH-2.0-dropbear_2026.94");
    // The libraries are the installed versions (JSch 0.1.55 still says 0.1.54).
    assert_eq!(ident("real-paramiko-2.8.1"), "SSH-2.0-paramiko_2.8.1");
    assert_eq!(ident("real-libssh2-1.10.0"), "SSH-2.0-libssh2_1.10.0");
    assert_eq!(ident("real-node-ssh2-0.8.9"), "SSH-2.0-ssh2js0.4.10");
    assert_eq!(ident("real-jsch-0.1.55"), "SSH-2.0-JSCH-0.1.54");
    assert_eq!(ident("real-go-x-crypto-0.25.0"), "SSH-2.0-Go");
}
