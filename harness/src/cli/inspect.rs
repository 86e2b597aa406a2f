//! `profiles`, `policies`, `check` and `images`: what sshmatrix knows, what a matrix plans, the
//! container images it can make.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::{EXIT_ENVIRONMENT, EXIT_INPUT, EXIT_OK};
use sshmatrix_servers::builtin_policies;

use crate::{catalog_parts, load_plan};

/// `sshmatrix profiles`: client profiles and key tools with the source of every fact.
pub fn profiles() -> ExitCode {
    let (profiles, tools, _) = catalog_parts();
    println!("Client profiles ({}):", profiles.len());
    for p in &profiles {
        println!("  {:<30} {} — {}", p.id, p.display_name(), p.ident);
        for (fact, src) in &p.sources {
            println!("      {fact}: {src}");
        }
        for n in &p.notes {
            println!("      note: {n}");
        }
    }
    println!("\nKey tools ({}):", tools.len());
    for t in &tools {
        println!(
            "  {:<30} {} {} — writes {}",
            t.id, t.name, t.version, t.format
        );
        for (fam, f) in &t.by_family {
            println!("      {fam} keys: {f}");
        }
        println!("      source: {}", t.source);
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `sshmatrix policies`: server policies with their sources and notes.
pub fn policies() -> ExitCode {
    for p in builtin_policies() {
        println!(
            "  {:<24} {} — {} (OpenSSH {}), host keys: {}",
            p.id,
            p.name,
            p.platform,
            p.openssh,
            p.host_keys.join(",")
        );
        for (fact, src) in &p.sources {
            println!("      {fact}: {src}");
        }
        for n in &p.notes {
            println!("      note: {n}");
        }
    }
    ExitCode::from(EXIT_OK as u8)
}

/// `sshmatrix check`: validates a matrix and prints its plan.
pub fn check(matrix: PathBuf) -> ExitCode {
    match load_plan(&matrix) {
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
            let state = if container::image_present(&r) {
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
            eprintln!("error: {e}");
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
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return ExitCode::from(EXIT_ENVIRONMENT as u8);
    }
    ExitCode::SUCCESS
}
