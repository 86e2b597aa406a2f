//! Shared build script: embeds every `*.toml` data file of the crate's `profiles/` and
//! `policies/` folders into the binary, so the tool runs without its source tree.
use std::{env, fs, path::Path};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    let mut entries = Vec::new();
    for dir in ["profiles", "policies"] {
        let dir = Path::new(&manifest).join(dir);
        // A folder the crate does not have is not watched: a missing path counts as changed,
        // and every cargo command would rebuild the crate and all that depends on it.
        let Ok(read) = fs::read_dir(&dir) else {
            continue;
        };
        println!("cargo:rerun-if-changed={}", dir.display());
        for entry in read.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                println!("cargo:rerun-if-changed={}", path.display());
                entries.push(path);
            }
        }
    }
    entries.sort();
    let mut code = String::from("/// Embedded data files: (file name, contents).\npub static EMBEDDED: &[(&str, &str)] = &[\n");
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            p.display().to_string()
        ));
    }
    code.push_str("];\n");
    fs::write(out, code).expect("write embedded.rs");
}
