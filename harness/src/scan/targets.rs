//! The hosts of a fleet scan, from the file a team already has: a list (`HOST[:PORT]` per
//! line), an OpenSSH client configuration (`Host` blocks with `HostName` and `Port`), a
//! known_hosts file (plain entries) or an Ansible inventory in INI or YAML form (`ansible_host`,
//! `ansible_port`, groups and their children). Only names and ports are read; nothing in the
//! file is run, included or resolved, and what cannot be scanned as written is named in a note.

/// The hosts of a targets file, in file order without repeats, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// What the file is: `list`, `ssh_config`, `known_hosts` or `ansible`.
    pub kind: &'static str,
    /// `(host, port)` pairs.
    pub hosts: Vec<(String, u16)>,
    /// For each host, the inventory groups it is listed under (comma-separated; empty outside
    /// an inventory): a fleet report groups its columns by them.
    pub groups: Vec<String>,
    /// Entries not scanned, each with why (`file:line: …`).
    pub notes: Vec<String>,
}

/// `HOST`, `HOST:PORT` or `[HOST]:PORT` (IPv6 in brackets): the host and port (22 by default).
pub fn split_address(a: &str) -> Result<(String, u16), String> {
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (a, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = match port {
        None => 22,
        Some(p) => parse_port(p)
            .ok_or_else(|| format!("`{a}`: the port must be a number from 1 to 65535"))?,
    };
    if host.is_empty() {
        return Err(format!("`{a}`: no host"));
    }
    Ok((host.to_string(), port))
}

pub(super) fn parse_port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0)
}

/// The first word of a config line and the rest (`Key value`, `Key=value`, any case).
fn keyword(line: &str) -> Option<(String, &str)> {
    let line = line.trim();
    let end = line.find(|c: char| c.is_whitespace() || c == '=')?;
    let rest = line[end..].trim_start_matches(|c: char| c.is_whitespace() || c == '=');
    Some((line[..end].to_ascii_lowercase(), rest.trim()))
}

/// Which kind of file `text` is: a client configuration has `Host` or `Match` lines, a
/// known_hosts file lines of `NAMES KEYTYPE BASE64` (or hashed `|1|` names), a list neither.
fn kind_of(text: &str) -> &'static str {
    let lines = || {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    };
    let config = lines().any(|l| keyword(l).is_some_and(|(k, _)| k == "host" || k == "match"));
    let known = lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        l.starts_with("|1|")
            || l.starts_with('@')
            || (w.len() >= 3 && (w[1].starts_with("ssh-") || w[1].starts_with("ecdsa-")))
    });
    let inventory = lines().any(|l| section(l).is_some() || l.contains("ansible_host="))
        || yaml_inventory(text);
    match (config, known, inventory) {
        (true, _, _) => "ssh_config",
        (false, true, _) => "known_hosts",
        (false, false, true) => "ansible",
        _ => "list",
    }
}

/// Whether `text` is an Ansible inventory in YAML form: a group's `hosts:` or `children:` key
/// on a line of its own.
fn yaml_inventory(text: &str) -> bool {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .any(|l| l == "hosts:" || l == "children:")
}

/// An INI section header of an Ansible inventory: `[group]`, `[group:children]`,
/// `[group:vars]` (a bracketed IPv6 address is none).
pub(super) fn section(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let (name, kind) = inner.split_once(':').unwrap_or((inner, ""));
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    // `[db]` and `[cafe]` are groups: a bracketed IPv6 address has a colon in it, and what
    // follows it is no `children` or `vars`.
    (word(name) && (kind.is_empty() || kind == "children" || kind == "vars"))
        .then_some((name, kind))
}

/// Reads a targets file's text (`file` names it in messages): a list, an OpenSSH client
/// configuration or a known_hosts file, told apart by their lines. An error names the line.
pub fn read(text: &str, file: &str) -> Result<Hosts, String> {
    read_groups(text, file, &[])
}

/// As [`read`], an Ansible inventory's hosts limited to `groups` (and their child groups) when
/// any are given; `groups` with another kind of file is an error.
pub fn read_groups(text: &str, file: &str, groups: &[String]) -> Result<Hosts, String> {
    let kind = kind_of(text);
    if !groups.is_empty() && kind != "ansible" {
        return Err(format!(
            "{file}: --group selects hosts of an Ansible inventory; this file is a {kind}"
        ));
    }
    let mut out = Hosts {
        kind,
        hosts: Vec::new(),
        groups: Vec::new(),
        notes: Vec::new(),
    };
    match kind {
        "ssh_config" => ssh_config(text, file, &mut out),
        "known_hosts" => known_hosts(text, file, &mut out),
        "ansible" if yaml_inventory(text) => {
            super::inventory::read_yaml(text, file, groups, &mut out)?
        }
        "ansible" => super::inventory::read(text, file, groups, &mut out)?,
        _ => list(text, file, &mut out)?,
    }
    Ok(out)
}

/// Adds a host once; a name with white space or control characters in it (a YAML or
/// client-configuration value can hold anything) is no host name: named in a note, left out.
pub(super) fn add(out: &mut Hosts, host: (String, u16)) {
    add_in(out, host, String::new());
}

/// [`add`], the host listed under `groups` (an inventory's).
pub(super) fn add_in(out: &mut Hosts, host: (String, u16), groups: String) {
    let bad = |c: char| c.is_whitespace() || c.is_control();
    if host.0.is_empty() || host.0.contains(bad) {
        let note = format!("{:?} is not a host name; left out", host.0);
        out.notes.push(note);
        return;
    }
    if !out.hosts.contains(&host) {
        out.hosts.push(host);
        out.groups.push(groups);
    }
}

fn list(text: &str, file: &str, out: &mut Hosts) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let hint = "\n  hint: one HOST or HOST:PORT per line";
        if line.contains(char::is_whitespace) {
            return Err(format!(
                "{file}:{}: `{line}` is not one host{hint} (a client configuration needs its `Host` lines)",
                i + 1
            ));
        }
        let host = split_address(line).map_err(|e| format!("{file}:{}: {e}{hint}", i + 1))?;
        add(out, host);
    }
    Ok(())
}

/// One `Host` block of a client configuration, being read.
struct Block {
    line: usize,
    names: Vec<String>,
    hostname: Option<String>,
    port: Option<u16>,
    jump: Option<String>,
}

fn ssh_config(text: &str, file: &str, out: &mut Hosts) {
    let mut block: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = keyword(line.split('#').next().unwrap_or_default()) else {
            continue;
        };
        let b = block.as_mut();
        match (key.as_str(), b) {
            ("host", _) | ("match", _) => {
                if let Some(done) = block.take() {
                    finish(done, file, out);
                }
                if key == "match" {
                    out.notes.push(format!("{file}:{}: a Match block is not read (its conditions decide at connect time)", i + 1));
                    continue;
                }
                let names = value.split_whitespace().map(str::to_string).collect();
                block = Some(Block {
                    line: i + 1,
                    names,
                    hostname: None,
                    port: None,
                    jump: None,
                });
            }
            ("include", _) => out.notes.push(format!(
                "{file}:{}: Include `{value}` is not followed (only this file is read)",
                i + 1
            )),
            ("hostname", Some(b)) => b.hostname = Some(value.to_string()),
            ("port", Some(b)) => b.port = parse_port(value),
            ("proxyjump", Some(b)) | ("proxycommand", Some(b)) => b.jump = Some(value.to_string()),
            _ => {}
        }
    }
    if let Some(done) = block {
        finish(done, file, out);
    }
}

/// The hosts of a finished `Host` block: each name without wildcards, at its HostName and Port.
fn finish(b: Block, file: &str, out: &mut Hosts) {
    let at = format!("{file}:{}", b.line);
    if let Some(jump) = &b.jump {
        out.notes.push(format!(
            "{at}: Host {} is reached through `{jump}`; scanned directly it would not be what its clients see, so it is left out",
            b.names.join(" ")
        ));
        return;
    }
    for name in &b.names {
        if name.contains(['*', '?', '!']) {
            out.notes.push(format!(
                "{at}: Host pattern `{name}` names no one host; left out"
            ));
            continue;
        }
        let host = b.hostname.clone().unwrap_or_else(|| name.clone());
        if host.contains('%') {
            out.notes
                .push(format!("{at}: HostName `{host}` has % tokens; left out"));
            continue;
        }
        add(out, (host, b.port.unwrap_or(22)));
    }
}

fn known_hosts(text: &str, file: &str, out: &mut Hosts) {
    let mut hashed = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('@') {
            out.notes.push(format!(
                "{file}:{}: a marked entry ({}) names no host to scan; left out",
                i + 1,
                line.split_whitespace().next().unwrap_or_default()
            ));
            continue;
        }
        let names = line.split_whitespace().next().unwrap_or_default();
        if names.starts_with("|1|") {
            hashed += 1;
            continue;
        }
        for name in names.split(',') {
            match split_address(name) {
                Ok(host) if !name.contains(['*', '?', '!']) => add(out, host),
                _ => out.notes.push(format!(
                    "{file}:{}: `{name}` names no one host; left out",
                    i + 1
                )),
            }
        }
    }
    if hashed > 0 {
        out.notes.push(format!(
            "{file}: {hashed} hashed entries (HashKnownHosts) cannot be read back into host names; left out"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_configuration_gives_its_concrete_hosts() {
        let text = "Include ~/.ssh/more\nHost ahv1 ahv2\n  HostName 10.0.0.5\n  Port 2222\nHost cvm\n  User nutanix\nHost *.lab\n  Port 22\nHost inner\n  ProxyJump bastion\nMatch host x\n  Port 1\n";
        let h = read(text, "cfg").unwrap();
        assert_eq!(h.kind, "ssh_config");
        assert_eq!(
            h.hosts,
            vec![("10.0.0.5".to_string(), 2222), ("cvm".to_string(), 22)]
        );
        assert_eq!(h.notes.len(), 4, "{:?}", h.notes);
        assert!(h.notes[0].starts_with("cfg:1: Include"));
        assert!(h.notes[1].contains("`*.lab` names no one host"));
        assert!(h.notes[2].contains("reached through `bastion`"));
        assert!(h.notes[3].starts_with("cfg:11: a Match block"));
    }

    #[test]
    fn a_known_hosts_file_gives_its_plain_entries() {
        let text = "ahv1,10.0.0.5 ssh-ed25519 AAAA\n[10.0.0.6]:2222 ecdsa-sha2-nistp256 AAAA\n|1|abc=|def= ssh-rsa AAAA\n@cert-authority *.lab ssh-ed25519 AAAA\n";
        let h = read(text, "kh").unwrap();
        assert_eq!(h.kind, "known_hosts");
        assert_eq!(
            h.hosts,
            vec![
                ("ahv1".to_string(), 22),
                ("10.0.0.5".to_string(), 22),
                ("10.0.0.6".to_string(), 2222)
            ]
        );
        assert!(h.notes.iter().any(|n| n.contains("1 hashed entries")));
        assert!(h.notes.iter().any(|n| n.contains("@cert-authority")));
    }

    #[test]
    fn a_host_name_with_white_space_in_it_is_no_host() {
        // Found by fuzzing: a misspelt `Host` line made the file a list of `HostName …` hosts.
        let e = read("Hosta \n  HostName 10.0.0.1\n  Port 2222\n", "f").unwrap_err();
        assert!(
            e.starts_with("f:2: `HostName 10.0.0.1` is not one host"),
            "{e}"
        );
        let yaml = "all:\n  hosts:\n    a:\n      ansible_host: \"10.0.0.1 evil\"\n";
        let h = read(yaml, "inv.yml").unwrap();
        assert!(h.hosts.is_empty());
        assert_eq!(h.notes, ["\"10.0.0.1 evil\" is not a host name; left out"]);
    }

    #[test]
    fn a_list_names_the_bad_line() {
        let h = read("# fleet\nahv1\n10.0.0.6:2222 # cvm\n", "l").unwrap();
        assert_eq!(h.kind, "list");
        assert_eq!(h.hosts.len(), 2);
        let e = read("ahv1\nhost:99999\n", "l").unwrap_err();
        assert!(e.starts_with("l:2: `host:99999`"), "{e}");
    }
}
