//! The hosts of an Ansible inventory, in INI or YAML form: each host's `ansible_host` and
//! `ansible_port` (or the host name and 22), its groups and their children, selected by group
//! when asked. Variables of groups, ranges and anything else are not evaluated.

use std::collections::{BTreeMap, BTreeSet};

use super::targets::{add_in, parse_port, section, Hosts};

/// One host: its address and the groups it is listed under.
struct Entry {
    address: (String, u16),
    groups: BTreeSet<String>,
}

/// An inventory read: its hosts and each group's child groups.
#[derive(Default)]
struct Inventory {
    entries: Vec<Entry>,
    children: BTreeMap<String, Vec<String>>,
}

/// Reads an INI inventory `text` into `out`: every host, or those of `groups` (and their
/// children).
pub(super) fn read(
    text: &str,
    file: &str,
    groups: &[String],
    out: &mut Hosts,
) -> Result<(), String> {
    let mut inv = Inventory::default();
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
            "children" => inv
                .children
                .entry(group.clone())
                .or_default()
                .push(line.to_string()),
            _ => {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap_or_default();
                let vars = words.filter_map(|w| w.split_once('=')).collect();
                host(name, &vars, &group, &mut inv, (file, i + 1), out)
            }
        }
    }
    choose(inv, file, groups, out)
}

/// Reads a YAML inventory (`all:` with `hosts:` and `children:`, nested) into `out`, as
/// [`read`]. A host's position is the line of its group's `hosts:` key.
pub(super) fn read_yaml(
    text: &str,
    file: &str,
    groups: &[String],
    out: &mut Hosts,
) -> Result<(), String> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| format!("{file}: not a YAML inventory: {e}\n  hint: an Ansible YAML inventory starts with `all:` and lists `hosts:` and `children:` under each group"))?;
    let mut inv = Inventory::default();
    let Some(Yaml::Hash(top)) = docs.first() else {
        return Err(format!(
            "{file}: a YAML inventory is a mapping of groups (`all:`, …)\n  hint: see Ansible's inventory documentation for the YAML form"
        ));
    };
    for (name, body) in top {
        if let Some(name) = name.as_str() {
            yaml_group(name, body, &mut inv, file, out, 0);
        }
    }
    choose(inv, file, groups, out)
}

/// One YAML group: its hosts and, recursively, its children (at most 32 levels deep).
fn yaml_group(
    name: &str,
    body: &yaml_rust2::Yaml,
    inv: &mut Inventory,
    file: &str,
    out: &mut Hosts,
    depth: usize,
) {
    use yaml_rust2::Yaml;
    if depth > 32 {
        return;
    }
    if let Yaml::Hash(hosts) = &body["hosts"] {
        for (h, vars) in hosts {
            let Some(h) = h.as_str() else { continue };
            let value = |k: &str| match &vars[k] {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Integer(n) => Some(n.to_string()),
                _ => None,
            };
            let owned: Vec<(&str, String)> = [
                "ansible_host",
                "ansible_ssh_host",
                "ansible_port",
                "ansible_ssh_port",
            ]
            .into_iter()
            .filter_map(|k| value(k).map(|v| (k, v)))
            .collect();
            let vars = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            host(h, &vars, name, inv, (file, 0), out);
        }
    }
    if let Yaml::Hash(children) = &body["children"] {
        for (child, child_body) in children {
            let Some(child) = child.as_str() else {
                continue;
            };
            inv.children
                .entry(name.to_string())
                .or_default()
                .push(child.to_string());
            yaml_group(child, child_body, inv, file, out, depth + 1);
        }
    }
}

/// The hosts of `inv` that `groups` select (all when none), added to `out`.
fn choose(inv: Inventory, file: &str, groups: &[String], out: &mut Hosts) -> Result<(), String> {
    let mut known: BTreeSet<String> = inv.entries.iter().flat_map(|e| e.groups.clone()).collect();
    known.extend(
        inv.children
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
    let wanted = selected(groups, &inv.children);
    for e in inv.entries {
        if wanted
            .as_ref()
            .is_none_or(|w| e.groups.iter().any(|g| w.contains(g)))
        {
            let groups: Vec<&str> = e.groups.iter().map(String::as_str).collect();
            add_in(out, e.address, groups.join(","));
        }
    }
    Ok(())
}

/// One host (`NAME` with its variables) added to the inventory, or a note why not (`at`: the
/// file and line; line 0 for a YAML inventory, whose hosts are named instead).
fn host(
    name: &str,
    vars: &BTreeMap<&str, &str>,
    group: &str,
    inv: &mut Inventory,
    at: (&str, usize),
    out: &mut Hosts,
) {
    let place = match at.1 {
        0 => format!("{}: group `{group}`", at.0),
        n => format!("{}:{n}", at.0),
    };
    if name.contains(['[', '*']) {
        out.notes.push(format!(
            "{place}: host pattern `{name}` is not expanded; left out"
        ));
        return;
    }
    let var = |a: &str, b: &str| vars.get(a).or_else(|| vars.get(b)).copied();
    let host = var("ansible_host", "ansible_ssh_host")
        .unwrap_or(name)
        .to_string();
    let port = match var("ansible_port", "ansible_ssh_port") {
        None => 22,
        Some(p) => match parse_port(p) {
            Some(p) => p,
            None => {
                out.notes
                    .push(format!("{place}: `{name}` has port `{p}`; left out"));
                return;
            }
        },
    };
    match inv
        .entries
        .iter_mut()
        .find(|e| e.address == (host.clone(), port))
    {
        Some(e) => {
            e.groups.insert(group.to_string());
        }
        None => inv.entries.push(Entry {
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
        assert_eq!(all.groups, ["ahv", "ahv", "cvm"]);
        // A group whose name is all hex digits is still a group.
        let db = read_groups("[db]\nd1 ansible_host=10.0.2.1\n", "inv", &["db".into()]).unwrap();
        assert_eq!((db.hosts.len(), db.groups[0].as_str()), (1, "db"));
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

    /// The same inventory in Ansible's YAML form (as `ansible-inventory -i INI --list --yaml`
    /// writes it, with ports as numbers).
    const YAML: &str = "\
all:
  children:
    cluster:
      children:
        ahv:
          hosts:
            ahv1:
              ansible_host: 10.0.0.5
            ahv2:
              ansible_host: 10.0.0.6
              ansible_port: 2222
            web[01:03].lab:
        cvm:
          hosts:
            cvm1:
              ansible_host: 10.0.1.5
              ansible_user: nutanix
  vars:
    ansible_user: admin
";

    #[test]
    fn a_yaml_inventory_reads_as_its_ini_twin() {
        let all = read_groups(YAML, "inv.yml", &[]).unwrap();
        assert_eq!(all.kind, "ansible");
        let ini = read_groups(INVENTORY, "inv", &[]).unwrap();
        assert_eq!(all.hosts, ini.hosts);
        assert_eq!(
            all.notes,
            ["inv.yml: group `ahv`: host pattern `web[01:03].lab` is not expanded; left out"]
        );
        for g in ["cvm", "cluster", "ahv"] {
            let yaml = read_groups(YAML, "inv.yml", &[g.into()]).unwrap();
            let ini = read_groups(INVENTORY, "inv", &[g.into()]).unwrap();
            assert_eq!(yaml.hosts, ini.hosts, "{g}");
        }
        let e = read_groups("all:\n  hosts:\n    a: [1\n", "bad.yml", &[]).unwrap_err();
        assert!(e.starts_with("bad.yml: not a YAML inventory:"), "{e}");
    }
}
