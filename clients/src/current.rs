//! The current release of each client family (as testssl.sh shows current browsers): a family
//! is one product (`name`), emulated or real apart, among the profiles whose id ends in their
//! version (a variant such as `openssh-8.7-crypto-policies` is a family of its own).

use crate::Profile;

/// The family a profile belongs to: its product and whether it is a real program.
pub fn family(p: &Profile) -> (String, bool) {
    match p.id.ends_with(&format!("-{}", p.version)) {
        true => (p.name.clone(), p.driver.is_some()),
        false => (p.id.clone(), p.driver.is_some()),
    }
}

/// `a` compared with `b` as release numbers (`0.0.20201221` < `0.25.0` < `2.24.1`).
fn newer(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', 'p'])
            .map(|x| x.parse().unwrap_or(0))
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// The profiles of `profiles` that are the newest release of their family among them.
pub fn current<'a>(profiles: impl IntoIterator<Item = &'a Profile>) -> Vec<&'a Profile> {
    let all: Vec<&Profile> = profiles.into_iter().collect();
    all.iter()
        .filter(|p| {
            let f = family(p);
            !all.iter()
                .any(|q| family(q) == f && newer(&q.version, &p.version).is_gt())
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_release_of_each_family() {
        let all = crate::builtin_profiles();
        let ids: Vec<&str> = current(&all).iter().map(|p| p.id.as_str()).collect();
        for id in [
            "putty-0.85",
            "teraterm-5.3",
            "openssh-10.6",
            "real-openssh-10.6",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        for old in [
            "putty-0.83",
            "teraterm-4.106",
            "real-openssh-9.2",
            "go-x-crypto-0.0.20201221",
        ] {
            assert!(!ids.contains(&old), "{old} in {ids:?}");
        }
        // A distribution variant is its own family.
        assert!(ids.contains(&"openssh-8.7-crypto-policies"));
        assert!(newer("0.25.0", "0.0.20201221").is_gt());
    }
}
