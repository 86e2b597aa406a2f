//! What a case's report may not carry out of the building: host names, addresses, account
//! names, key fingerprints and key file paths, replaced consistently (`host-1`, `user-1`,
//! `addr-1`, `SHA256:key-1`, `file-1`) in every output; and anything that looks like a password,
//! masked whether or not `--redact` is given.

use std::collections::BTreeMap;

use super::case::Case;

/// Consistent replacements for a case's names.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Original → replacement, applied longest first.
    map: BTreeMap<String, String>,
}

impl Redactor {
    /// The replacements for everything identifying in `case`.
    pub fn of(case: &Case) -> Redactor {
        let mut r = Redactor::default();
        for d in &case.attempts {
            if let Some(c) = &d.client {
                r.add(c.user.as_deref(), "user");
                r.add(c.host.as_deref(), "host");
                for k in &c.keys {
                    r.add(k.fingerprint.as_deref(), "SHA256:key");
                    r.add(k.file.as_deref(), "file");
                }
                for e in &c.evidence {
                    r.addresses(&e.text);
                }
            }
            if let Some(s) = &d.server {
                r.add(s.user.as_deref(), "user");
                r.add(s.host.as_deref(), "host");
                for f in &s.fingerprints {
                    r.add(Some(f), "SHA256:key");
                }
                for e in &s.evidence {
                    r.addresses(&e.text);
                }
            }
        }
        r
    }

    /// The replacements for a census: its hosts and accounts.
    pub fn of_census(c: &super::census::Census) -> Redactor {
        let mut r = Redactor::default();
        for (host, counts) in &c.hosts {
            r.add(Some(host), "host");
            for user in counts.users.keys() {
                r.add(Some(user), "user");
            }
        }
        r
    }

    fn add(&mut self, value: Option<&str>, kind: &str) {
        let Some(v) = value.filter(|v| v.len() >= 2) else {
            return;
        };
        if self.map.contains_key(v) {
            return;
        }
        let n = self
            .map
            .values()
            .filter(|x| x.starts_with(&format!("{kind}-")))
            .count()
            + 1;
        self.map.insert(v.to_string(), format!("{kind}-{n}"));
    }

    /// Every IPv4 address and bracketed or colon-rich IPv6 address in `text`.
    fn addresses(&mut self, text: &str) {
        for word in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
            let word = word.trim_matches(|c| c == '.' || c == ':');
            if is_ipv4(word) || is_ipv6(word) {
                self.add(Some(word), "addr");
            }
        }
    }

    /// `text` with every name replaced (longest names first, so a name inside another is not
    /// half replaced).
    pub fn apply(&self, text: &str) -> String {
        let mut names: Vec<(&String, &String)> = self.map.iter().collect();
        names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let mut out = text.to_string();
        for (from, to) in names {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

fn is_ipv4(w: &str) -> bool {
    let parts: Vec<&str> = w.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}

fn is_ipv6(w: &str) -> bool {
    w.matches(':').count() >= 2 && w.parse::<std::net::Ipv6Addr>().is_ok()
}

/// `text` with anything that looks like a password masked: the value after `password=`,
/// `password:`, `passwd=`, `pass=` (any case).
pub fn mask_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    // Cheap first: a `p` followed by `as` or `wd` (any case) somewhere.
    let b = text.as_bytes();
    let lower = |i: usize| b.get(i).map_or(0, |c| c | 0x20);
    let maybe = (0..b.len()).any(|i| {
        lower(i) == b'p' && matches!((lower(i + 1), lower(i + 2)), (b'a', b's') | (b'w', b'd'))
    });
    if !maybe {
        return std::borrow::Cow::Borrowed(text);
    }
    let lower = text.to_ascii_lowercase();
    let marks = ["password=", "password: ", "passwd=", "pass=", "pwd="];
    if !marks.iter().any(|m| lower.contains(m)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut rest_lower = lower.as_str();
    while let Some((at, m)) = marks
        .iter()
        .filter_map(|m| rest_lower.find(m).map(|i| (i, m)))
        .min()
    {
        let start = at + m.len();
        let end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| start + e);
        out.push_str(&rest[..start]);
        out.push_str("********");
        rest = &rest[end..];
        rest_lower = &rest_lower[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_secrets() {
        let mut r = Redactor::default();
        r.addresses("Connection closed by 10.20.30.40 port 5555 and fe80::1 and 1.2.3");
        r.add(Some("admin"), "user");
        assert_eq!(
            r.apply("admin from 10.20.30.40 port 5555 (fe80::1)"),
            "user-1 from addr-1 port 5555 (addr-2)"
        );
        assert_eq!(
            mask_secrets("sshpass password=hunter2 -p x; PASSWORD: s3cret!"),
            "sshpass password=******** -p x; PASSWORD: ********"
        );
        assert_eq!(mask_secrets("no secret here"), "no secret here");
    }
}
