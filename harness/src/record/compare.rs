//! A recorded profile against a profile written by hand: the lists, and the behaviour of the
//! authentication rules (what each would sign under every server-sig-algs answer), so that
//! two rules written differently but acting alike are not reported.

use sshmatrix_clients::emulator::{choose_rsa, rsa_turns, RsaChoice};
use sshmatrix_clients::Profile;

/// One difference between a recorded profile and a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The fact (`kexinit.kex`, `auth.rsa [ssh-rsa]`, …).
    pub fact: String,
    /// What the recording shows, then what the known profile says.
    pub recorded: String,
    /// What the known profile says.
    pub known: String,
    /// Whether the recording could observe this fact at all (false: an assumption differs).
    pub observable: bool,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: recorded {} | known {}{}",
            self.fact,
            self.recorded,
            self.known,
            if self.observable {
                ""
            } else {
                " (not observable by a server: the recording assumed it)"
            }
        )
    }
}

fn sign_text(c: RsaChoice) -> String {
    match c {
        RsaChoice::Sign(a) => format!("signs {a}"),
        RsaChoice::Skip(_) | RsaChoice::Fail(_) => "no RSA signature".into(),
    }
}

/// Every difference between `rec` and `known`.
pub fn compare(rec: &Profile, known: &Profile) -> Vec<Difference> {
    let mut out = rsa_differences(rec, known).unwrap_or_default();
    let mut diff = |fact: &str, r: String, k: String, observable: bool| {
        if r != k {
            out.push(Difference {
                fact: fact.into(),
                recorded: r,
                known: k,
                observable,
            });
        }
    };
    diff("ident", rec.ident.clone(), known.ident.clone(), true);
    let (a, b) = (&rec.kexinit, &known.kexinit);
    for (name, r, k) in [
        ("kexinit.kex", &a.kex, &b.kex),
        ("kexinit.hostkey", &a.hostkey, &b.hostkey),
        ("kexinit.cipher", &a.cipher, &b.cipher),
        ("kexinit.mac", &a.mac, &b.mac),
        ("kexinit.compression", &a.compression, &b.compression),
    ] {
        diff(name, r.join(","), k.join(","), true);
    }
    diff(
        "auth.flow",
        format!("{:?}", rec.auth.flow),
        format!("{:?}", known.auth.flow),
        true,
    );
    let offered = |p: &Profile| {
        p.auth
            .key_families
            .iter()
            .filter(|f| !p.auth.not_offered.contains(f) && *f != "dsa")
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    };
    diff(
        "auth.key_families (offered, DSA aside)",
        offered(rec),
        offered(known),
        true,
    );
    diff(
        "auth.rsa through an agent",
        agent_signs(rec),
        agent_signs(known),
        rec.sources.contains_key("auth.agent_rsa_sha2"),
    );
    out
}

/// What each profile signs under every server-sig-algs answer (and none), where they differ;
/// `None` when either does not use RSA keys.
fn rsa_differences(rec: &Profile, known: &Profile) -> Option<Vec<Difference>> {
    let rsa = |p: &Profile| p.auth.key_families.iter().any(|f| f == "rsa");
    if !rsa(rec) || !rsa(known) {
        return None;
    }
    let mut out = Vec::new();
    let mut lists: Vec<(String, Option<Vec<String>>, bool)> = super::Offer::ALL
        .iter()
        .map(|o| {
            let list = o.rsa().iter().map(|s| s.to_string()).collect();
            (format!("auth.rsa [{}]", o.describe()), Some(list), true)
        })
        .collect();
    lists.push((
        "auth.rsa [no server-sig-algs]".into(),
        None,
        !rec.sends_ext_info(),
    ));
    // A client trying its algorithms in turn: the whole order, not only the first (under
    // the fullest server-sig-algs; the first is compared below under every answer).
    let all: Vec<String> = super::Offer::All
        .rsa()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let turns = |p: &Profile| match choose_rsa(p, Some(&all)) {
        RsaChoice::Sign(a) => std::iter::once(&a)
            .chain(rsa_turns(p, &a))
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        RsaChoice::Skip(_) | RsaChoice::Fail(_) => String::new(),
    };
    if turns(rec) != turns(known) {
        out.push(Difference {
            fact: "auth.rsa [refused: signs again with]".into(),
            recorded: turns(rec),
            known: turns(known),
            observable: true,
        });
    }
    for (fact, list, observable) in lists {
        let r = sign_text(choose_rsa(rec, list.as_deref()));
        let k = sign_text(choose_rsa(known, list.as_deref()));
        if r != k {
            out.push(Difference {
                fact,
                recorded: r,
                known: k,
                observable,
            });
        }
    }
    Some(out)
}

/// What an agent-held RSA key signs with against a server listing every RSA algorithm.
fn agent_signs(p: &Profile) -> String {
    let list: Vec<String> = super::Offer::All
        .rsa()
        .iter()
        .map(|s| s.to_string())
        .collect();
    match (choose_rsa(p, Some(&list)), p.auth.agent_rsa_sha2) {
        (RsaChoice::Sign(a), false) if a != "ssh-rsa" => "signs ssh-rsa".into(),
        (c, _) => sign_text(c),
    }
}
