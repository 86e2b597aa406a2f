//! `verify-profiles` and the hidden `capture-kexinit` it uses.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::runner::{self, Options, RunError};
use sshmatrix::{EXIT_ENVIRONMENT, EXIT_EXPECTATIONS, EXIT_OK};

use sshmatrix_clients::Profile;
use sshmatrix_servers::Policy;

use super::common::{catalog_parts, fail_run, input_error, plan_generated, runtime};
use super::WorkDir;

/// Arguments of `sshmatrix verify-profiles`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Check this real client against this profile instead of its base (`real-openssh-9.2=
    /// recorded-openssh-9.2p1`, e.g. a recorded profile in --profiles); repeatable. Only
    /// the given pairs run, and no KEXINIT is captured.
    #[arg(long, value_name = "REAL=PROFILE")]
    pub pair: Vec<String>,
    /// Only these policies (comma-separated; default: every built-in policy).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub work: WorkDir,
}

/// Arguments of the hidden `sshmatrix capture-kexinit`.
#[derive(clap::Args)]
pub struct CaptureArgs {
    /// Where the captured lists go.
    #[arg(long)]
    pub out: PathBuf,
}

/// The `--pair REAL=PROFILE` pairs (default: every real client with its base).
fn chosen_pairs<'a>(
    given: &[String],
    profiles: &'a [Profile],
) -> Result<Vec<(&'a Profile, String)>, ExitCode> {
    if given.is_empty() {
        return Ok(sshmatrix::fidelity::base_pairs(profiles));
    }
    let mut out = Vec::new();
    for g in given {
        let bad = |why: String| {
            input_error(format!(
                "--pair {g}: {why}\n  hint: REAL=PROFILE, e.g. real-openssh-9.2=openssh-9.2 (`sshmatrix profiles` lists them)"
            ))
        };
        let (real, twin) = g.split_once('=').ok_or_else(|| bad("no `=`".into()))?;
        let p = profiles
            .iter()
            .find(|p| p.id == real && p.driver.is_some())
            .ok_or_else(|| bad(format!("`{real}` is not a real client")))?;
        if !profiles.iter().any(|p| p.id == twin) {
            return Err(bad(format!("no profile `{twin}`")));
        }
        out.push((p, twin.to_string()));
    }
    Ok(out)
}

/// `--policies` (default: all).
fn chosen_policies(only: &[String], mut all: Vec<Policy>) -> Result<Vec<Policy>, ExitCode> {
    if let Some(unknown) = only.iter().find(|id| !all.iter().any(|p| &p.id == *id)) {
        return Err(input_error(format!(
            "--policies: no policy `{unknown}`\n  hint: `sshmatrix policies` lists them"
        )));
    }
    if !only.is_empty() {
        all.retain(|p| only.contains(&p.id));
    }
    Ok(all)
}

/// `sshmatrix verify-profiles`: real clients against their emulation profiles.
pub fn verify_profiles(a: VerifyArgs) -> ExitCode {
    let (given, only, work_dir) = (&a.pair[..], &a.policies[..], a.work.work_dir);
    let (profiles, tools, policies) = catalog_parts();
    let policies = match chosen_policies(only, policies) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let twins = match chosen_pairs(given, &profiles) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let plan = match plan_generated(
        "verify-profiles.toml",
        &sshmatrix::fidelity::matrix(&twins, &policies),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = Options::new(work_dir!(work_dir));
    let report = match runtime().block_on(runner::run(plan, &opts)) {
        Ok(r) => r,
        Err(e) => return fail_run(e),
    };
    let pairs = sshmatrix::fidelity::pairs(&report, &twins);
    print!("{}", sshmatrix::fidelity::render(&pairs));
    let bad = pairs.iter().any(|p| !p.beyond_emulation() && !p.agrees());
    if !given.is_empty() {
        return ExitCode::from(if bad { EXIT_EXPECTATIONS } else { EXIT_OK } as u8);
    }
    let mut bad = bad;
    // The KEXINIT each real client sends, against its profile's lists.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sshmatrix"));
    let factory = match runner::key_factory(&opts.work_dir) {
        Ok(f) => f,
        Err(e) => return fail_run(e),
    };
    let keys = match sshmatrix::fidelity::capture_keys(&factory, &tools) {
        Ok(k) => k,
        Err(e) => return fail_run(RunError::Environment(e)),
    };
    let captured = match runtime().block_on(sshmatrix::fidelity::capture_all(
        &profiles,
        &exe,
        &opts.work_dir,
        &keys,
        &factory,
    )) {
        Ok(c) => c,
        Err(e) => return fail_run(RunError::Environment(e)),
    };
    for (id, sent) in captured {
        let p = profiles
            .iter()
            .find(|p| p.id == id)
            .expect("captured profile");
        match sent {
            Err(e) => {
                bad = true;
                println!("{id}: KEXINIT capture failed: {e}");
            }
            Ok(sent) => {
                let diffs = sshmatrix::fidelity::compare_kexinit(p, &sent);
                if diffs.is_empty() {
                    println!("{id}: captured identification and KEXINIT match the profile");
                } else {
                    bad = true;
                    println!("{id}: captured KEXINIT differs from the profile:");
                    for d in diffs {
                        println!("    {d}");
                    }
                }
            }
        }
    }
    ExitCode::from(if bad { EXIT_EXPECTATIONS } else { EXIT_OK } as u8)
}

/// `sshmatrix capture-kexinit` (hidden): records a client's identification and KEXINIT.
pub fn capture_kexinit(a: CaptureArgs) -> ExitCode {
    let out = a.out;
    let captured = runtime().block_on(async {
        let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        sshmatrix_clients::probe(stream, "SSH-2.0-sshmatrix_capture").await
    });
    match captured {
        Ok(hello) => {
            let _ = std::fs::write(&out, serde_json::to_string_pretty(&hello).expect("json"));
            ExitCode::from(EXIT_OK as u8)
        }
        Err(e) => {
            eprintln!("capture-kexinit: {e}");
            ExitCode::from(EXIT_ENVIRONMENT as u8)
        }
    }
}
