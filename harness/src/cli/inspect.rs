//! `profiles`, `policies`, `check` and `images`: what sshmatrix knows, what a matrix plans, the
//! container images it can make.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::{EXIT_ENVIRONMENT, EXIT_INPUT, EXIT_OK};
use sshmatrix_servers::builtin_policies;

use super::common::{catalog_parts, load_plan};
use super::GrantArgs;

/// How `profiles` and `policies` list what they hold.
#[derive(clap::Args)]
pub struct Listing {
    /// Only entries whose id, name or label contains this (case-insensitive).
    pub filter: Option<String>,
    /// Every fact with its source and every note, instead of one line each.
    #[arg(long)]
    pub long: bool,
    /// `table` (default) or `json` (the entries as sshmatrix reads them, base profiles merged).
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
}

/// Output of `profiles` and `policies`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned text.
    Table,
    /// JSON array.
    Json,
}

impl Listing {
    /// Whether any of `fields` contains the filter (no filter: everything matches).
    fn keeps(&self, fields: &[&str]) -> bool {
        self.filter.as_ref().is_none_or(|f| {
            let f = f.to_lowercase();
            fields.iter().any(|x| x.to_lowercase().contains(&f))
        })
    }
}

impl Listing {
    /// When the filter matched none of `ids`: what the user may have meant — the nearest id,
    /// and the ids sharing the filter's version (`openssh-8.8` → `upstream-8.8`).
    fn no_match_hint(&self, ids: &[&str], kind: &str) {
        let Some(filter) = &self.filter else { return };
        let mut meant: Vec<&str> = sshmatrix::matrix::nearest(filter, ids.iter().copied())
            .into_iter()
            .collect();
        let version = filter
            .rsplit(['-', '_', ' '])
            .next()
            .filter(|v| v.len() < filter.len() && v.starts_with(|c: char| c.is_ascii_digit()));
        if let Some(v) = version {
            meant.extend(ids.iter().filter(|id| id.ends_with(v)));
        }
        meant.dedup();
        match meant.is_empty() {
            true => println!("  no {kind} matches `{filter}`"),
            false => println!(
                "  no {kind} matches `{filter}`; did you mean {}?",
                meant
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

/// Prints `items` as JSON; the exit code says whether serializing worked.
fn print_json<T: serde::Serialize>(items: &[T]) -> ExitCode {
    match serde_json::to_string_pretty(items) {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => {
            crate::cli::common::error(&e);
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        }
    }
}

/// Prints the facts and notes of one entry, indented (`--long`).
fn print_facts(sources: &std::collections::BTreeMap<String, String>, notes: &[String]) {
    for (fact, src) in sources {
        println!("      {fact}: {src}");
    }
    for n in notes {
        println!("      note: {n}");
    }
}

/// How a profile runs: emulated, or the real client through its driver (and image).
fn profile_kind(p: &sshmatrix_clients::Profile) -> String {
    match (p.driver, &p.image) {
        (None, _) => "emulated".into(),
        (Some(d), None) => format!("real ({})", d.name()),
        (Some(d), Some(image)) => format!("real ({}, {image} image)", d.name()),
    }
}

/// `sshmatrix profiles`: client profiles and key tools (compact, `--long` with every fact's
/// source, or JSON).
pub fn profiles(listing: &Listing) -> ExitCode {
    let (profiles, tools, _) = catalog_parts();
    let shown: Vec<_> = profiles
        .iter()
        .filter(|p| listing.keeps(&[&p.id, &p.name, &p.display_name()]))
        .collect();
    if let ListFormat::Json = listing.format {
        return print_json(&shown);
    }
    println!("Client profiles ({} of {}):", shown.len(), profiles.len());
    if shown.is_empty() {
        let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
        listing.no_match_hint(&ids, "profile");
    }
    let header = ["ID", "VERSION", "KIND", "CLIENT"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(shown.iter().map(|p| {
            vec![
                p.id.clone(),
                p.version.clone(),
                profile_kind(p),
                p.display_name(),
            ]
        }))
        .collect();
    let lines = aligned(&rows);
    println!("{}", lines[0]);
    for (p, line) in shown.iter().zip(&lines[1..]) {
        println!("{line}");
        if listing.long {
            println!("      ident: {}", p.ident);
            print_facts(&p.sources, &p.notes);
        }
    }
    let tools: Vec<_> = tools
        .iter()
        .filter(|t| listing.keeps(&[&t.id, &t.name]))
        .collect();
    println!("\nKey tools ({}):", tools.len());
    for t in tools {
        println!(
            "  {:<26} {} {} — writes {}",
            t.id, t.name, t.version, t.format
        );
        if listing.long {
            for (fam, f) in &t.by_family {
                println!("      {fam} keys: {f}");
            }
            println!("      source: {}", t.source);
        }
    }
    if !listing.long {
        println!(
            "\n(--long: every fact with its source; --format json; a FILTER narrows the list)"
        );
    }
    ExitCode::from(EXIT_OK as u8)
}

/// Rows as lines whose columns line up (each but the last padded to its widest cell, in
/// characters), indented by two spaces.
fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| match i + 1 == r.len() {
                    true => c.clone(),
                    false => format!("{c}{}", " ".repeat(widths[i] - c.chars().count())),
                })
                .collect();
            format!("  {}", cells.join(" "))
        })
        .collect()
}

/// `sshmatrix policies`: server policies (compact, `--long` with every fact's source, or JSON).
pub fn policies(listing: &Listing) -> ExitCode {
    let all = builtin_policies();
    let shown: Vec<_> = all
        .iter()
        .filter(|p| listing.keeps(&[&p.id, &p.name, &p.platform]))
        .collect();
    if let ListFormat::Json = listing.format {
        return print_json(&shown);
    }
    println!("Server policies ({} of {}):", shown.len(), all.len());
    if shown.is_empty() {
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        listing.no_match_hint(&ids, "policy");
    }
    let header = ["ID", "SERVER", "HOST KEYS", "POLICY — PLATFORM"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(shown.iter().map(|p| {
            let server = match &p.facts {
                Some(d) => format!("{} {}", p.server.name(), d.version),
                None => format!("OpenSSH {}", p.openssh),
            };
            let what = format!("{} — {}", p.name, p.platform);
            vec![p.id.clone(), server, p.host_keys.join(","), what]
        }))
        .collect();
    let lines = aligned(&rows);
    println!("{}", lines[0]);
    for (p, line) in shown.iter().zip(&lines[1..]) {
        println!("{line}");
        if listing.long {
            print_facts(&p.sources, &p.notes);
        }
    }
    if !listing.long {
        println!(
            "\n(--long: every fact with its source; --format json; a FILTER narrows the list)"
        );
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `sshmatrix check`: validates a matrix and prints its plan.
/// Arguments of `sshmatrix check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The matrix file (TOML; `-` reads it from standard input).
    pub matrix: PathBuf,
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// Arguments of `sshmatrix profiles` and `sshmatrix policies`.
#[derive(clap::Args)]
pub struct ListingArgs {
    #[command(flatten)]
    pub listing: Listing,
}

/// Arguments of `sshmatrix images`.
#[derive(clap::Args)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub action: ImagesAction,
}

pub fn check(a: CheckArgs) -> ExitCode {
    let (matrix, grants) = (a.matrix, &a.grants.grants());
    // Several wrong names are all reported at once (the planner stops at the first error).
    // (Standard input can be read once only: the planner reads it.)
    let from_file = matrix != std::path::Path::new("-");
    if let Some(text) = from_file
        .then(|| sshmatrix::bounded::read_to_string(&matrix, sshmatrix::bounded::MAX_CONFIG).ok())
        .flatten()
    {
        let (profiles, tools, policies) = catalog_parts();
        let catalog = sshmatrix::matrix::Catalog::new(&profiles, &tools, &policies);
        let file = matrix.display().to_string();
        let errs = sshmatrix::matrix::name_errors(&file, &text, &catalog, 20);
        if errs.len() > 1 {
            for e in &errs {
                crate::cli::common::error(e);
            }
            eprintln!(
                "{} errors (at most 20 are listed; fix them and check again)",
                errs.len()
            );
            return ExitCode::from(sshmatrix::EXIT_INPUT as u8);
        }
    }
    match load_plan(&matrix, grants) {
        Err(code) => code,
        Ok((plan, _)) => {
            println!(
                "{}: {} cells, {} targets",
                plan.file,
                plan.cells.len(),
                plan.targets.len()
            );
            for t in &plan.targets {
                println!(
                    "  target {} [{}] policy {} users {}",
                    t.id,
                    t.label.join(" / "),
                    t.policy.id,
                    t.users.join(",")
                );
            }
            ExitCode::from(EXIT_OK as u8)
        }
    }
}

/// `sshmatrix images …`.
#[derive(clap::Subcommand)]
pub enum ImagesAction {
    /// The container images sshmatrix can make, and which are built.
    List {
        #[command(flatten)]
        work: super::WorkDir,
    },
    /// Builds the named images (all Debian releases when none is named), side by side.
    Build {
        /// Image names (`bullseye`, `bookworm`, `trixie`, `al2023`, `rocky9`, …).
        names: Vec<String>,
        /// Rebuild even when the image exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        work: super::WorkDir,
    },
}

/// `sshmatrix images list|build`.
pub fn images_command(action: ImagesAction) -> ExitCode {
    let (name, names, force, work) = match action {
        ImagesAction::List { work } => ("list", Vec::new(), false, work),
        ImagesAction::Build { names, force, work } => ("build", names, force, work),
    };
    images(name, &names, force, work_dir!(work.work_dir))
}

/// The images subcommand's work.
pub fn images(action: &str, names: &[String], force: bool, work_dir: PathBuf) -> ExitCode {
    use sshmatrix_servers::container;
    if action == "list" {
        for r in container::recipes() {
            let state = if container::image_present(r) {
                "built"
            } else {
                "not built"
            };
            println!(
                "{:<16} {:<28} {:<10} {}",
                r.name,
                r.tag(),
                state,
                r.contents
            );
        }
        return ExitCode::SUCCESS;
    }
    let wanted: Vec<String> = if names.is_empty() {
        container::recipes()
            .iter()
            .filter(|r| matches!(r.recipe, container::Recipe::Debootstrap { .. }))
            .map(|r| r.name.to_string())
            .collect()
    } else {
        names.to_vec()
    };
    // Unknown names first, then the builds side by side (debootstrap is mostly download).
    let recipes = match wanted
        .iter()
        .map(|n| container::recipe(n))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(r) => r,
        Err(e) => {
            crate::cli::common::error(&e);
            return ExitCode::from(EXIT_INPUT as u8);
        }
    };
    let scratch = work_dir.join("images");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = recipes
            .iter()
            .map(|r| {
                let scratch = &scratch;
                s.spawn(move || {
                    if force {
                        container::build_image(r, scratch, &mut std::io::stderr()).map(|()| true)
                    } else {
                        container::ensure_image(r, scratch, &mut std::io::stderr())
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("image build thread"))
            .collect()
    });
    let mut failed = false;
    for (r, result) in recipes.iter().zip(results) {
        match result {
            Ok(built) => println!(
                "{} {}",
                r.tag(),
                if built { "built" } else { "present (cached)" }
            ),
            Err(e) => {
                crate::cli::common::error(&e);
                failed = true;
            }
        }
    }
    if failed {
        return ExitCode::from(EXIT_ENVIRONMENT as u8);
    }
    ExitCode::SUCCESS
}
