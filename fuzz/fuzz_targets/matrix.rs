//! Fuzz target: the matrix parser and planner must turn any input into a plan or an input error,
//! never a panic, and never plan more cells than the cell limit.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sshmatrix::matrix::{plan, Catalog, DEFAULT_MAX_CELLS};

struct Data {
    profiles: Vec<sshmatrix_clients::Profile>,
    tools: Vec<sshmatrix_clients::KeyTool>,
    policies: Vec<sshmatrix_servers::Policy>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Data {
    profiles: sshmatrix_clients::builtin_profiles(),
    tools: sshmatrix_clients::key_tools(),
    policies: sshmatrix_servers::builtin_policies(),
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = Catalog::new(&DATA.profiles, &DATA.tools, &DATA.policies);
    match plan("fuzz.toml", text, None, &catalog) {
        Ok(p) => assert!(p.cells.len() <= DEFAULT_MAX_CELLS.max(1_000_000)),
        Err(e) => assert!(!e.message.is_empty()),
    }
});
