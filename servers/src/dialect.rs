//! The directives one sshd release understands (data: `servers/directives.toml`), and a policy's
//! directives rendered for that release: a renamed keyword in the spelling the release knows, a
//! keyword it does not know yet left out, and each change said (a target note, a config comment).

use serde::Deserialize;

/// A keyword an OpenSSH release renamed (the old name stays an alias).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The current name.
    pub keyword: String,
    /// The name releases before `since` know.
    pub old: String,
    /// The release that introduced the current name (`8.5`).
    pub since: String,
    /// Where the fact comes from.
    pub source: String,
}

/// A keyword an OpenSSH release introduced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Introduced {
    /// The keyword.
    pub keyword: String,
    /// The first release that knows it (`9.1`).
    pub since: String,
    /// What a server without it does instead.
    pub without: String,
    /// Where the fact comes from.
    pub source: String,
}

/// A keyword only some distribution builds know (a patch no upstream release has).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patched {
    /// The keyword.
    pub keyword: String,
    /// Which builds know it.
    pub builds: String,
    /// What a build without it does instead.
    pub without: String,
    /// Where the fact comes from.
    pub source: String,
}

/// Every directive fact.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectiveFacts {
    /// Renamed keywords.
    pub rename: Vec<Rename>,
    /// Introduced keywords.
    pub introduced: Vec<Introduced>,
    /// Keywords of distribution patches.
    pub patched: Vec<Patched>,
}

impl DirectiveFacts {
    /// The introduced and patched keywords whose name (case-insensitive) occurs in `binary`:
    /// sshd's keyword table holds every keyword the build parses, so this is what a build
    /// knows beyond its upstream release.
    pub fn keywords_in(&self, binary: &[u8]) -> Vec<String> {
        let lower = binary.to_ascii_lowercase();
        let names = self.introduced.iter().map(|i| &i.keyword);
        names
            .chain(self.patched.iter().map(|p| &p.keyword))
            .filter(|k| {
                let k = k.to_ascii_lowercase().into_bytes();
                lower.windows(k.len()).any(|w| w == k.as_slice())
            })
            .cloned()
            .collect()
    }
}

/// The shipped directive facts (parsed once).
pub fn directive_facts() -> &'static DirectiveFacts {
    static FACTS: std::sync::OnceLock<DirectiveFacts> = std::sync::OnceLock::new();
    FACTS.get_or_init(|| {
        toml::from_str(include_str!("../directives.toml")).expect("servers/directives.toml parses")
    })
}

/// The sshd a configuration is rendered for: its release and the keywords its build knows
/// beyond that upstream release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// OpenSSH release (major, minor).
    pub release: (u32, u32),
    /// Introduced or patched keywords this build knows whatever its release says: backports
    /// (RHEL's RequiredRSASize on 8.7) and distribution patches (GSSAPIKexAlgorithms).
    pub extras: Vec<String>,
}

/// Directives rendered for one release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adapted {
    /// The directives as that release reads them (a dropped line stays as a comment).
    pub text: String,
    /// What was changed and why, one sentence each.
    pub changes: Vec<String>,
}

fn version(v: &str) -> (u32, u32) {
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
}

impl Dialect {
    /// An upstream build of `release` (no patches, no backports).
    pub fn upstream(release: (u32, u32)) -> Self {
        Dialect {
            release,
            extras: Vec::new(),
        }
    }

    /// The build of the sshd binary at `path` (release `release`), its extras read from the
    /// binary itself ([`DirectiveFacts::keywords_in`]).
    pub fn of_binary(path: &std::path::Path, release: (u32, u32)) -> std::io::Result<Self> {
        Ok(Dialect {
            release,
            extras: directive_facts().keywords_in(&std::fs::read(path)?),
        })
    }

    /// Whether this build parses `keyword`, as far as the facts tell (a keyword they do not
    /// name is taken as known).
    pub fn knows(&self, keyword: &str, facts: &DirectiveFacts) -> bool {
        let is = |k: &str| keyword.eq_ignore_ascii_case(k);
        if self.extras.iter().any(|e| is(e)) {
            return true;
        }
        if let Some(i) = facts.introduced.iter().find(|i| is(&i.keyword)) {
            return self.release >= version(&i.since);
        }
        !facts.patched.iter().any(|p| is(&p.keyword))
    }

    /// `directives` as this release reads them.
    pub fn adapt(&self, directives: &str, facts: &DirectiveFacts) -> Adapted {
        let mut out = Adapted::default();
        for line in directives.lines() {
            let rendered = self.adapt_line(line, facts, &mut out.changes);
            out.text.push_str(&rendered);
            out.text.push('\n');
        }
        out
    }

    fn adapt_line(&self, line: &str, facts: &DirectiveFacts, changes: &mut Vec<String>) -> String {
        let release = self.release;
        let (major, minor) = release;
        // The keyword as sshd reads it: `Keyword=value` and any case name the same directive.
        let Some(d) = crate::directive::parse(line) else {
            return line.to_string();
        };
        let word = d.keyword.as_str();
        let is = |k: &str| word.eq_ignore_ascii_case(k);
        if let Some(r) = facts.rename.iter().find(|r| is(&r.keyword)) {
            if release < version(&r.since) {
                changes.push(format!(
                    "`{}` written as `{}`: OpenSSH {major}.{minor} knows only the old name ({} from {})",
                    r.keyword, r.old, r.keyword, r.since
                ));
                let indent = &line[..line.len() - line.trim_start().len()];
                return format!("{indent}{} {}", r.old, d.value);
            }
        }
        let why = if self.knows(word, facts) {
            None
        } else if let Some(i) = facts.introduced.iter().find(|i| is(&i.keyword)) {
            Some(format!(
                "OpenSSH {major}.{minor} does not know it (added in {}); {}",
                i.since, i.without
            ))
        } else {
            let p = facts.patched.iter().find(|p| is(&p.keyword));
            p.map(|p| {
                format!(
                    "this OpenSSH {major}.{minor} build does not know it (only {}); {}",
                    p.builds, p.without
                )
            })
        };
        match why {
            Some(why) => {
                changes.push(format!("dropped `{}`: {why}", line.trim()));
                format!("# dropped for this OpenSSH {major}.{minor}: {line}")
            }
            None => line.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RHEL9: &str =
        "PubkeyAcceptedAlgorithms rsa-sha2-256\nRequiredRSASize 2048\nCiphers aes128-ctr";

    #[test]
    fn an_8_4_server_gets_the_old_name_and_no_required_rsa_size() {
        let a = Dialect::upstream((8, 4)).adapt(RHEL9, directive_facts());
        assert_eq!(
            a.text,
            "PubkeyAcceptedKeyTypes rsa-sha2-256\n# dropped for this OpenSSH 8.4: RequiredRSASize 2048\nCiphers aes128-ctr\n"
        );
        assert_eq!(a.changes.len(), 2, "{:?}", a.changes);
        assert!(
            a.changes[1].contains("built-in floor of 1024 bits"),
            "{:?}",
            a.changes
        );
    }

    #[test]
    fn upstream_8_7_drops_required_rsa_size_but_a_rhel_build_keeps_it() {
        let facts = directive_facts();
        let upstream = Dialect::upstream((8, 7)).adapt(RHEL9, facts);
        assert!(upstream
            .text
            .contains("# dropped for this OpenSSH 8.7: RequiredRSASize"));
        assert!(upstream.text.starts_with("PubkeyAcceptedAlgorithms "));
        let rhel = Dialect {
            release: (8, 7),
            extras: vec!["RequiredRSASize".into()],
        };
        assert_eq!(rhel.adapt(RHEL9, facts).changes, Vec::<String>::new());
    }

    #[test]
    fn a_9_2_server_reads_the_policy_verbatim() {
        let a = Dialect::upstream((9, 2)).adapt(RHEL9, directive_facts());
        assert_eq!(a.text, format!("{RHEL9}\n"));
        assert!(a.changes.is_empty());
    }

    #[test]
    fn a_patch_keyword_is_kept_only_by_builds_that_have_it() {
        let facts = directive_facts();
        let gss = "GSSAPIKexAlgorithms gss-curve25519-sha256-";
        let plain = Dialect::upstream((10, 6)).adapt(gss, facts);
        assert!(plain.text.starts_with("# dropped"), "{}", plain.text);
        assert!(plain.changes[0].contains("GSS-API"), "{:?}", plain.changes);
        let debian = Dialect {
            release: (9, 2),
            extras: facts.keywords_in(b"..\0GSSAPIKexAlgorithms\0requiredrsasize\0.."),
        };
        assert_eq!(debian.extras, ["RequiredRSASize", "GSSAPIKexAlgorithms"]);
        assert_eq!(debian.adapt(gss, facts).text, format!("{gss}\n"));
    }

    #[test]
    fn every_directive_fact_has_a_source_and_a_release() {
        let facts = directive_facts();
        for r in &facts.rename {
            assert!(!r.source.is_empty() && version(&r.since) > (0, 0), "{r:?}");
        }
        for i in &facts.introduced {
            assert!(!i.source.is_empty() && version(&i.since) > (0, 0), "{i:?}");
        }
        assert!(facts.patched.iter().all(|p| !p.source.is_empty()));
    }
}
