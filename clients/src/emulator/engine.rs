//! What the engine (russh) speaks, and the lists it proposes for a profile.

use std::borrow::Cow;
use std::str::FromStr;

use russh::keys::ssh_key::Algorithm;
use russh::{cipher, compression, kex, mac, Preferred};

use crate::negotiate::{self, Category, Negotiated};
use crate::profile::{KexLists, Profile};

/// Whether the engine (russh) can speak an algorithm of a category.
pub fn engine_supports(category: Category, name: &str) -> bool {
    match category {
        Category::Kex => kex_name(name).is_some() && !negotiate::is_marker(name),
        Category::Hostkey => Algorithm::from_str(name).is_ok_and(|a| {
            russh::keys::key::ALL_KEY_TYPES
                .iter()
                .any(|k| k.as_str() == a.as_str())
                || matches!(a, Algorithm::Rsa { .. })
        }),
        Category::Cipher => cipher::ALL_CIPHERS
            .iter()
            .any(|c| c.as_ref() == name && name != "none"),
        Category::Mac => mac::ALL_MAC_ALGORITHMS
            .iter()
            .any(|m| m.as_ref() == name && name != "none"),
        Category::Compression => compression::ALL_COMPRESSION_ALGORITHMS
            .iter()
            .any(|c| c.as_ref() == name),
    }
}

fn kex_name(name: &str) -> Option<kex::Name> {
    match name {
        "ext-info-c" => Some(kex::EXTENSION_SUPPORT_AS_CLIENT),
        "kex-strict-c-v00@openssh.com" => Some(kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT),
        n => kex::Name::try_from(n).ok(),
    }
}

/// The algorithms of a negotiation outcome that the engine cannot speak.
pub fn unsupported(n: &Negotiated) -> Vec<(Category, String)> {
    let mut out = Vec::new();
    for (cat, name) in [
        (Category::Kex, Some(&n.kex)),
        (Category::Hostkey, Some(&n.hostkey)),
        (Category::Cipher, Some(&n.cipher)),
        (Category::Mac, n.mac.as_ref()),
        (Category::Compression, Some(&n.compression)),
    ] {
        if let Some(name) = name {
            if !engine_supports(cat, name) {
                out.push((cat, name.clone()));
            }
        }
    }
    out
}

/// The russh preferences for a profile: its lists minus what the engine cannot speak.
pub fn preferred(profile: &Profile) -> Preferred {
    preferred_lists(&profile.kexinit)
}

/// The russh preferences for a client's lists, minus what the engine cannot speak.
pub fn preferred_lists(l: &KexLists) -> Preferred {
    Preferred {
        kex: Cow::Owned(l.kex.iter().filter_map(|n| kex_name(n)).collect()),
        key: Cow::Owned(
            l.hostkey
                .iter()
                .filter(|n| engine_supports(Category::Hostkey, n))
                .filter_map(|n| Algorithm::from_str(n).ok())
                .collect(),
        ),
        host_key_certificates: Cow::Owned(Vec::new()),
        cipher: Cow::Owned(
            l.cipher
                .iter()
                .filter_map(|n| cipher::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
        mac: Cow::Owned(
            l.mac
                .iter()
                .filter_map(|n| mac::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
        compression: Cow::Owned(
            l.compression
                .iter()
                .filter_map(|n| compression::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
    }
}
