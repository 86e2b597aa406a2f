//! Key tools and key file formats, read from the data file `clients/keytools.toml`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::keyspec::KeySpec;

/// The container of a private key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Container {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (openssh-key-v1, bcrypt KDF).
    OpensshV1,
    /// Traditional PEM: PKCS#1 RSA, SEC1 EC or DSA, encrypted with a DEK-Info header.
    Pem,
    /// PKCS#8 `PRIVATE KEY` / `ENCRYPTED PRIVATE KEY`.
    Pkcs8,
    /// PuTTY `PuTTY-User-Key-File-2`.
    PpkV2,
    /// PuTTY `PuTTY-User-Key-File-3` (Argon2).
    PpkV3,
}

impl Container {
    /// Every container, for readers that take them all (converters, admin keys).
    pub const ALL: [Container; 5] = [
        Container::OpensshV1,
        Container::Pem,
        Container::Pkcs8,
        Container::PpkV2,
        Container::PpkV3,
    ];

    /// The name used in data files and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Container::OpensshV1 => "openssh-v1",
            Container::Pem => "pem",
            Container::Pkcs8 => "pkcs8",
            Container::PpkV2 => "ppk-v2",
            Container::PpkV3 => "ppk-v3",
        }
    }
}

impl FromStr for Container {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "openssh-v1" => Container::OpensshV1,
            "pem" => Container::Pem,
            "pkcs8" => Container::Pkcs8,
            "ppk-v2" => Container::PpkV2,
            "ppk-v3" => Container::PpkV3,
            _ => return Err(format!("unknown key container `{s}`")),
        })
    }
}

/// A key file format: a container and the cipher used when a passphrase is set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyFormat {
    /// The container.
    pub container: Container,
    /// The cipher for encrypted files, e.g. `aes256-ctr` or `aes-128-cbc`.
    pub cipher: String,
}

impl KeyFormat {
    /// The format as reported for a file written with or without a passphrase.
    pub fn describe(&self, encrypted: bool) -> String {
        if encrypted {
            format!("{}/{}", self.container.name(), self.cipher)
        } else {
            self.container.name().to_string()
        }
    }
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.container.name(), self.cipher)
    }
}

impl FromStr for KeyFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (c, cipher) = s
            .split_once('/')
            .ok_or_else(|| format!("key format `{s}` must be container/cipher"))?;
        let container: Container = c.parse()?;
        let ok = match container {
            Container::OpensshV1 => matches!(cipher, "aes256-ctr" | "aes256-cbc"),
            Container::Pem => matches!(cipher, "aes-128-cbc" | "des-ede3-cbc"),
            Container::Pkcs8 => cipher == "aes-256-cbc",
            Container::PpkV2 | Container::PpkV3 => cipher == "aes256-cbc",
        };
        if !ok {
            return Err(format!("cipher `{cipher}` is not supported for {c}"));
        }
        Ok(KeyFormat {
            container,
            cipher: cipher.to_string(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    id: String,
    name: String,
    version: String,
    format: String,
    #[serde(default)]
    by_family: std::collections::BTreeMap<String, String>,
    source: String,
    #[serde(default)]
    native_to: Option<String>,
    #[serde(default)]
    convert: Option<String>,
    #[serde(default)]
    convert_source: Option<String>,
}

#[derive(Deserialize)]
struct RawTools {
    tool: Vec<RawTool>,
}

/// A key-generation tool and the formats it writes.
#[derive(Debug, Clone)]
pub struct KeyTool {
    /// Identifier used in matrix files, e.g. `teraterm-4.106`.
    pub id: String,
    /// Human name, e.g. `Tera Term key generator`.
    pub name: String,
    /// Version of the tool.
    pub version: String,
    /// Default format.
    pub format: KeyFormat,
    /// Per key family overrides (`ed25519`, `rsa`, ...).
    pub by_family: Vec<(String, KeyFormat)>,
    /// Where the facts come from.
    pub source: String,
    /// The client (profile name) this is the own key tool of, when it is one: `PuTTY` for
    /// PuTTYgen. Advice offers a client's own tool first.
    pub native_to: Option<String>,
    /// How a user turns an existing key into this tool's format, in the tool's own words and
    /// menus (its source: `convert_source`).
    pub convert: Option<String>,
    /// Where `convert` comes from.
    pub convert_source: Option<String>,
}

impl KeyTool {
    /// The format this tool writes for a key.
    pub fn format_for(&self, key: &KeySpec) -> &KeyFormat {
        self.by_family
            .iter()
            .find(|(f, _)| f == key.family())
            .map(|(_, k)| k)
            .unwrap_or(&self.format)
    }
}

/// Every key tool sshmatrix knows, from the embedded data file.
pub fn key_tools() -> Vec<KeyTool> {
    static DATA: &str = include_str!("../keytools.toml");
    let raw: RawTools = toml::from_str(DATA).expect("clients/keytools.toml is valid");
    raw.tool
        .into_iter()
        .map(|t| {
            let parse = |s: &str| {
                s.parse::<KeyFormat>()
                    .unwrap_or_else(|e| panic!("keytools.toml: tool {}: {e}", t.id))
            };
            KeyTool {
                format: parse(&t.format),
                by_family: t
                    .by_family
                    .iter()
                    .map(|(k, v)| (k.clone(), parse(v)))
                    .collect(),
                id: t.id,
                name: t.name,
                version: t.version,
                source: t.source,
                native_to: t.native_to,
                convert: t.convert,
                convert_source: t.convert_source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_parses_and_teraterm_writes_openssh_by_default_pem_unticked() {
        let tools = key_tools();
        let tt = tools.iter().find(|t| t.id == "teraterm-4.106").unwrap();
        assert_eq!(
            tt.format_for(&KeySpec::Rsa(2048)).container,
            Container::OpensshV1
        );
        let pem = tools.iter().find(|t| t.id == "teraterm-4.106-pem").unwrap();
        assert_eq!(
            pem.format_for(&KeySpec::Rsa(2048)).container,
            Container::Pem
        );
        assert_eq!(
            pem.format_for(&KeySpec::Ed25519).container,
            Container::OpensshV1
        );
    }
}
