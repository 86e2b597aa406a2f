//! Naming the implementations of a logged attempt: the client from its identification string and,
//! where logged, its KEXINIT lists compared with every client profile (an identification can be
//! changed or hidden; the ordered lists rarely are); the server from its identification string
//! and, where the client logged the server's KEXINIT, the server releases sshmatrix has as data.

use serde::Serialize;
use sshmatrix_clients::Profile;

use super::client::ClientAttempt;
use super::Lists;

/// A profile that resembles the logged client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Profile id (`openssh-9.2`).
    pub profile: String,
    /// How far its KEXINIT lists are from the logged ones: list entries to insert, delete or
    /// replace, summed over key exchange, host key, cipher and MAC lists (0: equal; `None`:
    /// the log has no lists).
    pub distance: Option<usize>,
    /// Whether the identification strings are equal.
    pub ident_equal: bool,
    /// One line a reader can check.
    pub says: String,
}

/// A match this far or farther is no identification: the client is unknown, this is only the
/// nearest profile.
pub const UNKNOWN_FROM: usize = 8;

/// The profiles nearest the logged client, best first (at most three). Only emulation
/// profiles: a real-client profile is an instrument of this harness, with the same lists.
pub fn client(a: &ClientAttempt, profiles: &[Profile]) -> Vec<Match> {
    let Some(ident) = a.ident.as_deref() else {
        return Vec::new();
    };
    let mut scored: Vec<(usize, Match)> = profiles
        .iter()
        .filter(|p| p.driver.is_none())
        .map(|p| {
            let distance = (!a.kexinit.is_empty()).then(|| lists_distance(&a.kexinit, p));
            let ident_equal = p.ident == ident;
            let same_software = software(&p.ident) == software(ident);
            let rank = distance.unwrap_or(UNKNOWN_FROM) * 4
                + usize::from(!ident_equal)
                + usize::from(!same_software) * 2;
            let says = describe(p, distance, ident_equal, ident);
            let m = Match {
                profile: p.id.clone(),
                distance,
                ident_equal,
                says,
            };
            (rank, m)
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.profile.cmp(&b.1.profile)));
    scored.into_iter().take(3).map(|(_, m)| m).collect()
}

/// The server releases sshmatrix has as data (policies with facts: Dropbear, TinySSH, AsyncSSH
/// builds and the emulated old releases) nearest the server's KEXINIT as the client logged it,
/// best first (at most two; none when the log has no server lists). Host key algorithms are
/// left out of the comparison (a server offers those of the keys it has), and so are the
/// protocol markers (`ext-info-s`, `kex-strict-s-v00@openssh.com`, `kexguess2@…`).
pub fn server(a: &ClientAttempt, policies: &[sshmatrix_servers::Policy]) -> Vec<Match> {
    let logged = &a.server_kexinit;
    if logged.kex.is_empty() && logged.cipher.is_empty() {
        return Vec::new();
    }
    let ident = a.server_ident.as_deref().unwrap_or("");
    let mut scored: Vec<(usize, Match)> = policies
        .iter()
        .filter_map(|p| Some((p, p.facts.as_ref()?)))
        .map(|(p, f)| {
            let distance = edit(&algorithms(&logged.kex), &algorithms(&f.kex))
                + edit(&logged.cipher, &f.ciphers)
                + edit(&logged.mac, &f.macs);
            let release = p.server_release();
            let ident_equal = f
                .ident
                .as_deref()
                .is_some_and(|i| software(ident) == software(i));
            let lists = match distance {
                0 => format!("KEXINIT (key exchange, ciphers, MACs) equals {release}'s"),
                d => format!("KEXINIT {d} entries from {release}'s"),
            };
            let says = match ident_equal {
                true => format!("{lists}; identification equal"),
                false => format!("{lists}; identification says {}", software(ident)),
            };
            let m = Match {
                profile: p.id.clone(),
                distance: Some(distance),
                ident_equal,
                says,
            };
            (distance * 2 + usize::from(!ident_equal), m)
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.profile.cmp(&b.1.profile)));
    // Far ones say nothing: most servers in the field are OpenSSH builds with no such data.
    scored
        .into_iter()
        .filter(|(_, m)| m.distance.is_some_and(|d| d < UNKNOWN_FROM))
        .take(2)
        .map(|(_, m)| m)
        .collect()
}

/// A key exchange list without its protocol markers.
fn algorithms(kex: &[String]) -> Vec<String> {
    let marker = |k: &str| {
        k.starts_with("ext-info-") || k.starts_with("kex-strict-") || k.starts_with("kexguess")
    };
    kex.iter().filter(|k| !marker(k)).cloned().collect()
}

/// Whether the best match identifies the client (rather than only being the nearest).
pub fn identified(m: &Match) -> bool {
    match m.distance {
        Some(d) => d < UNKNOWN_FROM,
        None => m.ident_equal,
    }
}

fn describe(p: &Profile, distance: Option<usize>, ident_equal: bool, ident: &str) -> String {
    let lists = match distance {
        Some(0) => format!("KEXINIT equals {}'s", p.id),
        Some(d) => format!("KEXINIT {d} entries from {}'s", p.id),
        None => "no KEXINIT in the log".to_string(),
    };
    let banner = match ident_equal {
        true => "identification equal".to_string(),
        false => format!("identification says {}", software(ident)),
    };
    format!("{lists}; {banner}")
}

/// The software part of an identification string (`OpenSSH_9.2p1` of
/// `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10`).
pub fn software(ident: &str) -> &str {
    let rest = ident.strip_prefix("SSH-2.0-").unwrap_or(ident);
    rest.split_whitespace().next().unwrap_or(rest)
}

/// The OpenSSH release an identification string names (`OpenSSH_9.2p1` → (9, 2)).
pub fn openssh_release(ident: &str) -> Option<(u32, u32)> {
    let v = software(ident).strip_prefix("OpenSSH_")?;
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn lists_distance(logged: &Lists, p: &Profile) -> usize {
    let k = &p.kexinit;
    edit(&logged.kex, &k.kex)
        + edit(&logged.hostkey, &k.hostkey)
        + edit(&logged.cipher, &k.cipher)
        + edit(&logged.mac, &k.mac)
}

/// Edit distance between two ordered lists (insert, delete, replace one entry).
fn edit(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            let replace = prev[j] + usize::from(x != y);
            cur[j + 1] = replace.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_distance_and_software() {
        let l = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(edit(&l("a,b,c"), &l("a,b,c")), 0);
        assert_eq!(edit(&l("a,b,c"), &l("a,c")), 1);
        assert_eq!(edit(&l("a,b"), &l("b,a")), 2);
        assert_eq!(
            software("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"),
            "OpenSSH_9.2p1"
        );
        assert_eq!(openssh_release("SSH-2.0-OpenSSH_8.0"), Some((8, 0)));
        assert_eq!(openssh_release("SSH-2.0-dropbear_2022.83"), None);
    }
}
