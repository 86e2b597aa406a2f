//! `verify-profiles` and the hidden `capture-kexinit` it uses.

use std::path::PathBuf;
use std::process::ExitCode;

use sshmatrix::runner::{self, Options, RunError};
use sshmatrix::{EXIT_ENVIRONMENT, EXIT_EXPECTATIONS, EXIT_OK};

use crate::{catalog_parts, fail_run, plan_generated, runtime};

/// `sshmatrix verify-profiles`: real clients against their emulation profiles.
pub fn verify_profiles(work_dir: Option<PathBuf>) -> ExitCode {
    let (profiles, tools, policies) = catalog_parts();
    let plan = match plan_generated(
        "verify-profiles.toml",
        &sshmatrix::fidelity::matrix(&profiles, &policies),
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = Options::new(work_dir!(work_dir));
    let report = match runtime().block_on(runner::run(plan, &opts)) {
        Ok(r) => r,
        Err(e) => return fail_run(e),
    };
    let pairs = sshmatrix::fidelity::pairs(&report, &profiles);
    print!("{}", sshmatrix::fidelity::render(&pairs));
    let mut bad = pairs.iter().any(|p| !p.beyond_emulation() && !p.agrees());
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
pub fn capture_kexinit(out: PathBuf) -> ExitCode {
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
