//! Conventions of the command line and its documentation: `--version` names the commit, help
//! lists the exit codes, completions and the man page come from the CLI definition; README's
//! two commands are CI's, and the documentation's links and failure-code table hold.

mod common;

fn out(args: &[&str]) -> (i32, String) {
    let o = common::bin().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

#[test]
fn version_help_completions_and_man_page() {
    let (code, v) = out(&["--version"]);
    assert_eq!(code, 0);
    assert!(v.starts_with("sshmatrix 0.1.0 (commit "), "{v}");
    let (_, help) = out(&["--help"]);
    assert!(help.contains("Exit codes: 0 done"), "{help}");
    assert!(
        help.contains("sshmatrix explain matrices/nutanix-cluster-lockdown.toml 1 "),
        "{help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let (code, script) = out(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains("verify-profiles"), "{shell}: {script}");
    }
    let (code, man) = out(&["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH sshmatrix"), "{man}");
    assert!(man.contains("authorized\\-keys"), "{man}");
}

/// `--help` lists the commands in groups, every command once, wrapped to the terminal's width;
/// every page sshmatrix(1) refers to exists (`man COMMAND`, `man --out-dir`).
#[test]
fn help_is_grouped_and_wrapped_and_every_man_page_exists() {
    let o = common::bin()
        .arg("--help")
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let help = String::from_utf8(o.stdout).unwrap();
    let long: Vec<&str> = help
        .lines()
        .filter(|l| unicode_width::UnicodeWidthStr::width(*l) > 80)
        .collect();
    assert!(long.is_empty(), "wider than 80 columns: {long:#?}");
    let groups = [
        "Run a matrix:",
        "A support case:",
        "Live servers and fleets:",
        "Reports:",
        "Clients and data:",
        "This tool:",
    ];
    for g in groups {
        assert_eq!(help.lines().filter(|l| *l == g).count(), 1, "{g}\n{help}");
    }
    assert!(!help.contains("Other:"), "a command in no group:\n{help}");
    let (_, completions) = out(&["completions", "bash"]);
    let commands = [
        "run",
        "diagnose",
        "scan",
        "verify-profiles",
        "authorized-keys",
        "man",
    ];
    for c in commands {
        let listed = help
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(c) && l.starts_with("  "))
            .count();
        assert_eq!(listed, 1, "{c}\n{help}");
        assert!(completions.contains(c));
    }
    // Profile, key tool and policy arguments complete to their ids.
    let (_, fish) = out(&["completions", "fish"]);
    // One entry per option (its values may run over several lines).
    let line = |sub: &str, flag: &str| {
        fish.split("\ncomplete ")
            .find(|e| {
                e.contains(&format!("using_subcommand {sub}\""))
                    && e.contains(&format!("-l {flag} "))
            })
            .unwrap_or_else(|| panic!("no {sub} --{flag}:\n{fish}"))
            .to_string()
    };
    assert!(line("try", "client").contains("teraterm-4.106"));
    assert!(line("try", "policy").contains("nutanix-ahv-lockdown"));
    assert!(line("scan", "clients").contains("@current"));
    // Hidden commands stay out.
    assert!(!help.contains("capture-kexinit") && !help.contains("record-one"));

    let (code, page) = out(&["man", "run"]);
    assert_eq!(code, 0);
    assert!(page.contains(".TH sshmatrix-run 1"), "{page}");
    let dir = common::scratch_dir("man-pages");
    let (code, _) = out(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let main = std::fs::read_to_string(dir.join("sshmatrix.1")).unwrap();
    let referred: Vec<String> = main
        .split("sshmatrix\\-")
        .skip(1)
        .filter_map(|r| {
            r.split_once("(1)")
                .map(|(name, _)| name.replace("\\-", "-"))
        })
        .collect();
    assert!(referred.iter().any(|r| r == "run"), "{main}");
    for r in &referred {
        assert!(
            dir.join(format!("sshmatrix-{r}.1")).exists(),
            "sshmatrix-{r}(1) missing"
        );
    }
    let (code, _) = out(&["man", "no-such-command"]);
    assert_eq!(code, 2);
}

#[test]
fn listing_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    // `profiles --long` prints more than a pipe holds (over 74 KB against 64 KiB), so it is
    // still writing when the reader goes, as with `| head -1`.
    let mut child = common::bin()
        .args(["profiles", "--long"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("Client profiles"), "{first}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}

fn listing(args: &[&str]) -> String {
    let out = common::bin().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn profiles_are_one_line_each_narrowed_by_a_filter_and_complete_with_long() {
    let short = listing(&["profiles", "10.6"]);
    let rows: Vec<&str> = short.lines().filter(|l| l.contains("10.6")).collect();
    assert_eq!(rows.len(), 2, "{short}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("  openssh-10.6 ") && r.contains(" emulated ")),
        "{short}"
    );
    assert!(rows.iter().any(|r| r.starts_with("  real-openssh-10.6 ") && r.contains("real (ssh, forky image)")), "{short}");
    assert!(short.starts_with("Client profiles (2 of "), "{short}");
    assert!(!short.contains("kexinit:"), "{short}");
    let long = listing(&["profiles", "--long", "10.6"]);
    assert!(
        long.contains("      kexinit: Wire capture of Debian testing's ssh 10.6p1"),
        "{long}"
    );
    assert!(
        long.contains("      ident: SSH-2.0-OpenSSH_10.6p1 Debian-1"),
        "{long}"
    );
    let all = listing(&["profiles"]);
    let total = all
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("  ID "))
        .count();
    assert!(
        total < 150,
        "one line per profile and key tool, not {total}"
    );
    // Columns line up whatever the longest value (Go's version 0.0.20201221 is 12 characters).
    let lines: Vec<&str> = all.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("  ID ")).unwrap();
    let kind = lines[header].find("KIND").unwrap();
    for row in lines[header + 1..].iter().take_while(|l| !l.is_empty()) {
        let at = row.char_indices().nth(kind).map(|(i, _)| i).unwrap();
        assert!(
            row[at..].starts_with("emulated") || row[at..].starts_with("real"),
            "{row}"
        );
    }
    let policies = listing(&["policies"]);
    let header = policies.lines().find(|l| l.starts_with("  ID ")).unwrap();
    let keys = header.find("HOST KEYS").unwrap();
    let shipped = policies
        .lines()
        .find(|l| l.starts_with("  as-shipped "))
        .unwrap();
    assert!(
        shipped[keys..].starts_with("ecdsa,ed25519,rsa"),
        "{policies}"
    );
}

#[test]
fn a_filter_that_matches_nothing_says_what_was_meant() {
    // The user's name for a release (`openssh-8.8`) is not a policy id; the version finds it.
    let out = listing(&["policies", "openssh-8.8"]);
    assert!(out.starts_with("Server policies (0 of "), "{out}");
    assert!(
        out.contains("no policy matches `openssh-8.8`; did you mean `upstream-8.8`?"),
        "{out}"
    );
    let out = listing(&["profiles", "puty-0.83"]);
    assert!(
        out.contains(
            "no profile matches `puty-0.83`; did you mean `putty-0.83` or `real-putty-0.83`?"
        ),
        "{out}"
    );
    let out = listing(&["policies", "zzzz"]);
    assert!(out.contains("no policy matches `zzzz`\n"), "{out}");
}

#[test]
fn policies_list_as_json_with_their_sources() {
    let json = listing(&["policies", "--format", "json", "RHEL9"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "rhel9-default",
            "rhel9-default-sha1",
            "rhel9-fips",
            "rhel9-future",
            "rhel9-legacy"
        ]
    );
    let default = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "rhel9-default")
        .unwrap();
    let source = default["sources"]["directives"].as_str().unwrap();
    assert!(source.contains("fedora-crypto-policies"), "{source}");
    let table = listing(&["policies", "nutanix"]);
    assert!(table.starts_with("Server policies (3 of "), "{table}");
}

/// Every source a profile, key tool or policy cites can be followed by a user: no research
/// notes outside the repository, and each `docs/sources/X.md §N` names a section that exists.
#[test]
fn every_cited_source_section_exists_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut data = Vec::new();
    for dir in ["clients/profiles", "servers/policies"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            data.push(e.unwrap().path());
        }
    }
    data.push(root.join("clients/keytools.toml"));
    data.push(root.join("servers/directives.toml"));
    data.push(root.join("servers/images/recipes.toml"));
    let mut cited = 0;
    for path in &data {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            !text.contains("shared/"),
            "{}: cites notes outside the repository",
            path.display()
        );
        for (at, _) in text.match_indices("docs/sources/") {
            let rest = &text[at..];
            let file = rest.split(".md").next().unwrap().to_string() + ".md";
            let doc = std::fs::read_to_string(root.join(&file))
                .unwrap_or_else(|_| panic!("{}: {file} does not exist", path.display()));
            let Some(section) = rest
                .split_once(" §")
                .map(|(_, s)| {
                    s.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .next()
                        .unwrap()
                })
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let section = section.trim_end_matches('.');
            // `§0.4` is point 4 of section 0.
            let heading = match section.split_once('.') {
                Some(("0", _)) => "0".to_string(),
                _ => section.to_string(),
            };
            assert!(
                doc.contains(&format!("## §{heading} ")),
                "{}: {file} has no section §{section}",
                path.display()
            );
            cited += 1;
        }
    }
    assert!(cited >= 90, "{cited} citations checked");
}

/// The repository root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README stays short and shows exactly two set-up commands, the main job and the test suite;
/// `.ci/run` runs that same test command.
#[test]
fn readme_shows_the_two_commands_ci_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() < 300,
        "README.md is {} lines",
        readme.lines().count()
    );
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a set-up block");
    let commands: Vec<&str> = block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        commands,
        [
            "scripts/deps && cargo run --release -- run matrices/nutanix-cluster-lockdown.toml",
            "scripts/deps && cargo test --workspace --release",
        ]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci
        .lines()
        .any(|l| l.trim() == "cargo test --workspace --release"));
    assert_eq!(readme.matches("```sh").count(), 1, "one set-up block");
}

/// A heading's anchor as GitHub makes it: lower case, punctuation but `-` and `_` dropped,
/// spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every relative link of README.md and docs/ names a file that exists, and every `#anchor` a
/// heading of that file.
#[test]
fn documentation_links_resolve() {
    let mut pages = vec![root().join("README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            pages.push(path);
        }
    }
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (at, _) in text.match_indices("](") {
            let target = text[at + 2..].split(')').next().unwrap();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let linked = match file {
                "" => page.clone(),
                f => page.parent().unwrap().join(f),
            };
            let linked_text = std::fs::read_to_string(&linked)
                .unwrap_or_else(|_| panic!("{}: link to missing {target}", page.display()));
            if !fragment.is_empty() {
                let found = linked_text
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| anchor(h.trim_start_matches('#')) == fragment);
                assert!(
                    found,
                    "{}: no heading for #{fragment} in {file}",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} links checked");
}

/// The reference's failure-code table lists every code with its description, in order.
#[test]
fn the_reference_lists_every_failure_code() {
    let reference = std::fs::read_to_string(root().join("docs/reference.md")).unwrap();
    let rows: Vec<&str> = reference
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("` | "))
        .collect();
    let expected: Vec<String> = sshmatrix_core::vocab::Code::ALL
        .iter()
        .map(|c| format!("| `{}` | {} |", c.as_str(), c.description()))
        .collect();
    let listed: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| {
            expected
                .iter()
                .any(|e| e.split(" | ").next() == r.split(" | ").next())
        })
        .collect();
    assert_eq!(listed, expected);
}

/// Every command that writes a report takes the same `--format` and `--output` (one
/// declaration); `predict -o` writes the report to the file (it had no `-o`).
#[test]
fn every_report_command_takes_format_and_output() {
    for command in ["run", "predict", "scan", "impact", "merge", "render"] {
        let (code, help, _) = common::sshmatrix(&[command, "--help"]);
        assert_eq!(code, 0, "{command}");
        assert!(help.contains("--format <FORMAT>"), "{command}: {help}");
        assert!(help.contains("-o, --output <OUTPUT>"), "{command}: {help}");
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("predicted.json");
    let m = common::matrices().join("nutanix-cluster-lockdown.toml");
    let (code, stdout, err) = common::sshmatrix(&[
        "predict",
        m.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    let report: sshmatrix_reports::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.cells.len(), 144);
    let failing = report
        .cells
        .iter()
        .filter(|c| c.predicted_verdict == Some(sshmatrix_reports::Verdict::Fail))
        .count();
    assert_eq!(failing, 16);
    // A saved report renders in any format without running anything, as the run would.
    let (code, direct, _) =
        common::sshmatrix(&["predict", m.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0);
    let (code, rendered, err) =
        common::sshmatrix(&["render", json.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rendered, direct);
    // Every answer says what its server side rests on: the AHV refusal on a field report alone.
    assert!(
        report.notes.iter().any(|n| n
            == "policy `nutanix-ahv-lockdown`: server side: field report only — ssh-rsa refusal rests on field report §1 alone; ciphers and MACs from the DISA Nutanix STIG"),
        "{:?}",
        report.notes
    );
}

/// `run … --format json | head`: the reader closing the pipe early is no error (no "Broken
/// pipe", no exit 3, no rescued file). `run` keeps SIGPIPE ignored (it has processes and a run
/// directory to clean up), so the write itself must take it quietly.
#[test]
fn a_reader_that_stops_early_ends_a_runs_output_quietly() {
    use std::io::Read;
    let work = common::scratch_dir("epipe");
    let m = common::matrices().join("nutanix-cluster-lockdown.toml");
    let mut child = common::bin()
        .args([
            "run",
            m.to_str().unwrap(),
            "-q",
            "--format",
            "json",
            "--work-dir",
        ])
        .arg(&work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The JSON (144 cells) is larger than a pipe holds: the writer is still writing when the
    // reader goes away after its first bytes.
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("error") && !err.contains("rescued"), "{err}");
    assert!(!work.join("rescued").exists());
}

/// `run --current` keeps the newest release of each client family of the matrix (the field
/// report's Tera Term 4.106 gives way to 5.3) and names the ones left out; the expectations
/// about them are set aside, the others still hold. `clients = ["@current"]` lists the newest
/// of every family sshmatrix knows.
#[test]
fn current_clients_only() {
    let m = common::matrices().join("nutanix-cluster-lockdown.toml");
    let (code, json, err) = common::sshmatrix_work(&[
        "run",
        "-q",
        "--current",
        "--format",
        "json",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: sshmatrix_reports::Report = serde_json::from_str(&json).unwrap();
    assert!(!report.cells.is_empty());
    assert!(report.cells.iter().all(|c| c.client != "teraterm-4.106"));
    assert!(report
        .notes
        .iter()
        .any(|n| n.ends_with("older releases not run: Tera Term 4.106")));
    let dir = common::scratch_dir("current-clients");
    let file = common::matrix_file(
        &dir,
        "current.toml",
        "[axes]\nkeys = [\"ed25519\"]\nclients = [\"@current\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\n",
    );
    let plan = common::plan(&file);
    let ids: Vec<&str> = plan.cells.iter().map(|c| c.client.id.as_str()).collect();
    let want = sshmatrix_clients::current::current(&sshmatrix_clients::builtin_profiles())
        .iter()
        .filter(|p| p.driver.is_none())
        .count();
    assert_eq!(ids.len(), want);
    assert!(
        ids.contains(&"putty-0.85") && ids.contains(&"teraterm-5.3"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"putty-0.83"), "{ids:?}");
}

/// `clients = ["@windows", "@automation-real"]` lists the profiles of those groups (the
/// emulated Windows desk clients, the real libraries); a group no profile names is exit 2 with
/// the groups there are.
#[test]
fn client_groups_in_a_matrix() {
    let dir = common::scratch_dir("client-groups");
    let targets = "[[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\n";
    let file = common::matrix_file(
        &dir,
        "groups.toml",
        &format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"@windows\", \"@automation-real\"]\n\
             key_tools = [\"ssh-keygen\"]\n{targets}"
        ),
    );
    let plan = common::plan(&file);
    let ids: Vec<&str> = plan.cells.iter().map(|c| c.client.id.as_str()).collect();
    for id in [
        "teraterm-4.106",
        "winscp-5.21",
        "windows-openssh-8.1",
        "putty-0.83",
        "real-paramiko-3.5.1",
        "real-net-ssh-7.0.1",
        "real-trilead-build213",
    ] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    // Neither the real plink (a Windows program, but real) nor an emulated library.
    assert!(!ids.contains(&"real-putty-0.78") && !ids.contains(&"paramiko-3.5.1"));
    assert!(!ids.iter().any(|i| i.starts_with("openssh-")), "{ids:?}");
    let bad = common::matrix_file(
        &dir,
        "typo.toml",
        &format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"@windws\"]\nkey_tools = [\"ssh-keygen\"]\n{targets}"
        ),
    );
    let out = common::bin().arg("check").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("typo.toml:3") && err.contains("client group") && err.contains("windows"),
        "{err}"
    );
}

/// `try` and `explain` colour the verdict's mark as tables do (`--color always`, or a terminal),
/// and print it plain into a pipe.
#[test]
fn try_colours_its_verdict_on_request() {
    let args = [
        "try",
        "--client",
        "teraterm-4.106",
        "--key",
        "rsa-2048",
        "--policy",
        "rhel9-default",
    ];
    let (code, plain, _) = common::sshmatrix_work(&args);
    assert_eq!(code, 0);
    assert!(
        plain.contains("verdict: × fail [auth-signature-rejected] at auth"),
        "{plain}"
    );
    let mut coloured = vec!["--color", "always"];
    coloured.extend(args);
    let (code, out, _) = common::sshmatrix_work(&coloured);
    assert_eq!(code, 0);
    assert!(
        out.contains("verdict: \u{1b}[31m×\u{1b}[0m fail [auth-signature-rejected]"),
        "{out}"
    );
}
