//! "Logs in, but weak": the rules of `reports/weak.toml` (each with its public source) applied to
//! what a ○ cell negotiated and used — a SHA-1 signature, a DSA or small RSA key, a SHA-1 key
//! exchange, a CBC cipher, an MD5 MAC — so a cell that the next hardening turns into × is
//! marked ◐ now.

use std::sync::OnceLock;

use serde::Deserialize;
use sshmatrix_core::i18n::{self, Lang};
use sshmatrix_core::tr;

/// What a rule reads of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Property {
    /// The user-key signature algorithm.
    Signature,
    /// The host key algorithm.
    Hostkey,
    /// The key exchange.
    Kex,
    /// The cipher.
    Cipher,
    /// The MAC.
    Mac,
    /// The user key as `family-bits` (`rsa-1024`).
    Key,
}

/// Whether a rule marks the cell or only notes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// ◐: logs in, will break under the rule's hardening.
    Weak,
    /// Listed with the cell, the mark stays ○.
    Notice,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id (`sha1-user-signature`), what JSON and CSV carry.
    pub id: String,
    /// What it reads.
    pub property: Property,
    /// Names it matches; a trailing `*` matches a prefix, a leading `*` a suffix.
    pub names: Vec<String>,
    /// Weak or notice.
    pub severity: Severity,
    /// What it is, in a few words.
    pub says: String,
    /// Which hardening refuses it.
    pub breaks_under: String,
    /// Where the fact comes from.
    pub source: String,
    /// Met only when the key exchange is known not to be strict (the Terrapin countermeasure,
    /// `kex-strict-*-v00@openssh.com`, not agreed by both sides).
    #[serde(default)]
    pub without_strict_kex: bool,
}

impl Rule {
    fn matches(&self, value: &str) -> bool {
        self.names
            .iter()
            .any(|n| match (n.strip_suffix('*'), n.strip_prefix('*')) {
                (Some(prefix), _) => value.starts_with(prefix),
                (_, Some(suffix)) => value.ends_with(suffix),
                _ => value == n,
            })
    }

    /// The legend's words for it.
    pub fn text(&self) -> String {
        self.text_in(Lang::En)
    }

    /// The legend's words for it in `lang` (English from this file, other languages from the
    /// catalogue's `weak-ID-says` and `weak-ID-breaks`).
    pub fn text_in(&self, lang: Lang) -> String {
        let word = |part: &str, en: &str| match lang {
            Lang::En => en.to_string(),
            l => i18n::lookup(l, &format!("weak-{}-{part}", self.id)).unwrap_or(en.to_string()),
        };
        tr!(
            lang,
            "weak-rule",
            says = word("says", &self.says),
            breaks = word("breaks", &self.breaks_under)
        )
    }
}

#[derive(Deserialize)]
struct File {
    rule: Vec<Rule>,
}

/// The rules (`reports/weak.toml`).
pub fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        toml::from_str::<File>(include_str!("../weak.toml"))
            .expect("reports/weak.toml is valid")
            .rule
    })
}

/// Whether rule `id` marks a cell ◐ (a weak rule, not a notice).
pub fn marks(id: &str) -> bool {
    rules()
        .iter()
        .any(|r| r.id == id && r.severity == Severity::Weak)
}

/// What a logged-in cell negotiated and used, as the rules read it.
#[derive(Debug, Clone, Default)]
pub struct Used<'a> {
    /// The user-key signature algorithm.
    pub signature: Option<&'a str>,
    /// The host key algorithm.
    pub hostkey: Option<&'a str>,
    /// The key exchange.
    pub kex: Option<&'a str>,
    /// The cipher.
    pub cipher: Option<&'a str>,
    /// The MAC.
    pub mac: Option<&'a str>,
    /// The user key as `family-bits`.
    pub key: String,
    /// Whether the key exchange was strict, where known.
    pub strict_kex: Option<bool>,
}

/// The rules a login meets.
pub fn met(u: &Used) -> Vec<&'static Rule> {
    rules()
        .iter()
        .filter(|r| {
            let value = match r.property {
                Property::Signature => u.signature,
                Property::Hostkey => u.hostkey,
                Property::Kex => u.kex,
                Property::Cipher => u.cipher,
                Property::Mac => u.mac,
                Property::Key => Some(u.key.as_str()),
            };
            let strictness = !r.without_strict_kex || u.strict_kex == Some(false);
            strictness && value.is_some_and(|v| r.matches(v))
        })
        .collect()
}

/// The legend text of a weak login in `lang`: every weak rule it meets.
pub fn legend_text(lang: Lang, met: &[&Rule]) -> String {
    let texts: Vec<String> = met
        .iter()
        .filter(|r| r.severity == Severity::Weak)
        .map(|r| r.text_in(lang))
        .collect();
    tr!(lang, "legend-weak", rules = texts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_source_and_names_and_every_language() {
        for r in rules() {
            assert!(!r.names.is_empty() && !r.source.is_empty(), "{}", r.id);
            for lang in &Lang::ALL[1..] {
                for part in ["says", "breaks"] {
                    let id = format!("weak-{}-{part}", r.id);
                    assert!(
                        i18n::lookup(*lang, &id).is_some(),
                        "{} lacks {id}",
                        lang.code()
                    );
                }
            }
        }
        let cbc = rules()
            .iter()
            .find(|r| r.id == "cbc-or-rc4-cipher")
            .unwrap();
        assert!(
            cbc.matches("aes256-cbc") && cbc.matches("arcfour128") && !cbc.matches("aes256-ctr")
        );
    }

    #[test]
    fn chacha20_is_weak_only_where_the_key_exchange_is_known_not_strict() {
        let ids = |strict_kex| -> Vec<String> {
            let u = Used {
                cipher: Some("chacha20-poly1305@openssh.com"),
                key: "ed25519-256".into(),
                strict_kex,
                ..Default::default()
            };
            met(&u).iter().map(|r| r.id.clone()).collect()
        };
        assert_eq!(ids(Some(false)), ["terrapin-chacha20"]);
        assert!(ids(Some(true)).is_empty());
        // Unknown is not weak: nothing unmeasured is recorded.
        assert!(ids(None).is_empty());
    }
}
