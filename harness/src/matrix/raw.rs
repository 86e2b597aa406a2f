//! The matrix file as written: what serde reads, with the spans error messages point at.

use serde::Deserialize;
use toml::Spanned;

use super::Scenario;

#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(super) enum Pass {
    Bool(bool),
    Word(String),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPair {
    pub(super) client: Spanned<String>,
    pub(super) key_tool: Spanned<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAxes {
    pub(super) keys: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) passphrase: Option<Spanned<Vec<Spanned<Pass>>>>,
    #[serde(default)]
    pub(super) clients: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) key_tools: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) pairs: Option<Spanned<Vec<RawPair>>>,
    #[serde(default)]
    pub(super) holders: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) certificates: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) label: Vec<String>,
    pub(super) policy: Spanned<String>,
    pub(super) users: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) host_keys: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) sshd: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) scenario: Option<Spanned<Scenario>>,
    #[serde(default)]
    pub(super) kind: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) image: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) host: Option<String>,
    #[serde(default)]
    pub(super) port: Option<u16>,
    #[serde(default)]
    pub(super) host_key: Option<String>,
    #[serde(default)]
    pub(super) known_hosts: Option<String>,
    #[serde(default)]
    pub(super) auth_budget: Option<u32>,
    #[serde(default)]
    pub(super) budget_window_secs: Option<u64>,
    #[serde(default)]
    pub(super) password_env: Option<String>,
    #[serde(default)]
    pub(super) password_file: Option<String>,
    #[serde(default)]
    pub(super) deploy: Option<RawDeploy>,
    #[serde(default)]
    pub(super) via: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) listen: Option<Spanned<bool>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeploy {
    pub(super) user: String,
    pub(super) key: String,
    #[serde(default)]
    pub(super) file: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayout {
    pub(super) rows: Spanned<Vec<Spanned<String>>>,
    pub(super) columns: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    #[serde(default)]
    pub(super) jobs: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) timeout_secs: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) max_cells: Option<usize>,
    #[serde(default)]
    pub(super) server_log_level: Option<Spanned<String>>,
    /// A request: the matrix's sshd lines use directives that read files or run commands
    /// (granted only by the user's `--trust-sshd-lines`).
    #[serde(default)]
    pub(super) trust_sshd_lines: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatrix {
    #[serde(default)]
    pub(super) title: Option<String>,
    #[serde(default)]
    pub(super) source: Option<String>,
    pub(super) axes: RawAxes,
    pub(super) targets: Spanned<Vec<RawTarget>>,
    #[serde(default)]
    pub(super) layout: Option<RawLayout>,
    #[serde(default)]
    pub(super) run: Option<RawRun>,
    #[serde(default)]
    pub(super) expect: Option<Spanned<RawExpect>>,
}

/// A matrix's `expect`: a CSV file name, or inline rules (each with its place in the file).
#[derive(Debug)]
pub(super) enum RawExpect {
    File(String),
    Rules(Vec<crate::expect::RawRule>),
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawExpect;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("expect: a CSV file name or a list of rules, e.g. expect = \"expected/x.csv\" or expect = [{ target = \"t\", verdict = \"ok\" }]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawExpect, E> {
                Ok(RawExpect::File(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawExpect, A::Error> {
                let mut rules = Vec::new();
                while let Some(r) = seq.next_element::<crate::expect::RawRule>()? {
                    rules.push(r);
                }
                Ok(RawExpect::Rules(rules))
            }
        }
        d.deserialize_any(V)
    }
}
