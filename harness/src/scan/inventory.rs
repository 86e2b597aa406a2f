//! The hosts of an Ansible inventory in INI form: each host line's `ansible_host` and
//! `ansible_port` (or the host name and 22), its groups and their `:children`, selected by
//! group when asked. Variables sections, ranges and anything else are not evaluated.

use std::collections::{BTreeMap, BTreeSet};

use super::targets::{add, parse_port, section, Hosts};

/// One host line: its address and the groups it is listed under.
struct Entry {
    address: (String, u16),
    groups: BTreeSet<String>,
}

/// Reads `text` into `out`: every host, or those of `groups` (and their children).
pub(super) fn read(
    text: &str,
    file: &str,
    groups: &[String],
    out: &mut Hosts,
) -> Result<(), String> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut group, mut kind) = ("ungrouped".to_string(), String::new());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(['#', ';']).next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some((name, k)) = section(line) {
            (group, kind) = (name.to_string(), k.to_string());
            continue;
        }
        match kind.as_str() {
            "vars" => {}
            "children" => children
                .entry(group.clone())
                .or_default()
                .push(line.to_string()),
            _ => host_line(line, &group, &mut entries, (file, i + 1), out),
        }
    }
    let mut known: BTreeSet<String> = entries.iter().flat_map(|e| e.groups.clone()).collect();
    known.extend(
        children
            .iter()
            .flat_map(|(g, c)| c.iter().chain([g]).cloned()),
    );
    known.insert("all".into());
    if let Some(g) = groups.iter().find(|g| !known.contains(*g)) {
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        return Err(format!(
            "{file}: no group `{g}` in this inventory\n  hint: its groups: {}",
            names.join(", ")
        ));
    }
    let wanted = selected(groups, &children);
    for e in entries {
        if wanted
            .as_ref()
            .is_none_or(|w| e.groups.iter().any(|g| w.contains(g)))
        {
            add(out, e.address);
        }
    }
    Ok(())
}

/// One host line (`NAME [key=value]…`) added to `entries`, or a note why not.
fn host_line(
    line: &str,
    group: &str,
    entries: &mut Vec<Entry>,
    at: (&str, usize),
    out: &mut Hosts,
) {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default();
    if name.contains(['[', '*']) {
        out.notes.push(format!(
            "{}:{}: host pattern `{name}` is not expanded; left out",
            at.0, at.1
        ));
        return;
    }
    let vars: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
    let var = |a: &str, b: &str| vars.get(a).or_else(|| vars.get(b)).copied();
    let host = var("ansible_host", "ansible_ssh_host")
        .unwrap_or(name)
        .to_string();
    let port = match var("ansible_port", "ansible_ssh_port") {
        None => 22,
        Some(p) => match parse_port(p) {
            Some(p) => p,
            None => {
                out.notes.push(format!(
                    "{}:{}: `{name}` has port `{p}`; left out",
                    at.0, at.1
                ));
                return;
            }
        },
    };
    match entries
        .iter_mut()
        .find(|e| e.address == (host.clone(), port))
    {
        Some(e) => {
            e.groups.insert(group.to_string());
        }
        None => entries.push(Entry {
            address: (host, port),
            groups: [group.to_string()].into(),
        }),
    }
}

/// The groups `groups` name with all their descendants (`None`: no selection, or `all`).
fn selected(
    groups: &[String],
    children: &BTreeMap<String, Vec<String>>,
) -> Option<BTreeSet<String>> {
    if groups.is_empty() || groups.iter().any(|g| g == "all") {
        return None;
    }
    let mut wanted = BTreeSet::new();
    let mut todo: Vec<String> = groups.to_vec();
    while let Some(g) = todo.pop() {
        if wanted.insert(g.clone()) {
            todo.extend(children.get(&g).cloned().unwrap_or_default());
        }
    }
    Some(wanted)
}

#[cfg(test)]
mod tests {
    use super::super::targets::read_groups;

    const INVENTORY: &str = "\
[ahv]
ahv1 ansible_host=10.0.0.5
ahv2 ansible_host=10.0.0.6 ansible_port=2222
web[01:03].lab

[cvm]
cvm1 ansible_host=10.0.1.5 ansible_user=nutanix

[cluster:children]
ahv
cvm

[all:vars]
ansible_user=admin
";

    #[test]
    fn an_inventory_gives_its_hosts_and_groups_select_them() {
        let all = read_groups(INVENTORY, "inv", &[]).unwrap();
        assert_eq!(all.kind, "ansible");
        assert_eq!(
            all.hosts,
            vec![
                ("10.0.0.5".to_string(), 22),
                ("10.0.0.6".to_string(), 2222),
                ("10.0.1.5".to_string(), 22)
            ]
        );
        assert!(all.notes[0].starts_with("inv:4: host pattern `web[01:03].lab`"));
        let cvm = read_groups(INVENTORY, "inv", &["cvm".into()]).unwrap();
        assert_eq!(cvm.hosts, vec![("10.0.1.5".to_string(), 22)]);
        let cluster = read_groups(INVENTORY, "inv", &["cluster".into()]).unwrap();
        assert_eq!(cluster.hosts.len(), 3);
        let e = read_groups("a\nb\n", "list", &["x".into()]).unwrap_err();
        assert!(
            e.contains("--group selects hosts of an Ansible inventory"),
            "{e}"
        );
        let e = read_groups(INVENTORY, "inv", &["cvms".into()]).unwrap_err();
        assert!(
            e.starts_with("inv: no group `cvms`") && e.contains("cvm"),
            "{e}"
        );
    }
}
