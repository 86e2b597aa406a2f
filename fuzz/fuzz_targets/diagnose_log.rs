//! Fuzz target: reading any bytes as a support case's log (`sshmatrix diagnose`) never panics —
//! any encoding, line length, NUL bytes or broken syntax — and every attempt it finds quotes
//! only lines that exist in the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn profiles() -> &'static [sshmatrix_clients::Profile] {
    static P: OnceLock<Vec<sshmatrix_clients::Profile>> = OnceLock::new();
    P.get_or_init(sshmatrix_clients::builtin_profiles)
}

fuzz_target!(|data: &[u8]| {
    let case = sshmatrix::evidence::case::diagnose_bytes("fuzz.log", data, profiles());
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for d in &case.attempts {
        let client = d.client.iter().flat_map(|c| c.evidence.iter());
        let server = d.server.iter().flat_map(|s| s.evidence.iter());
        for cite in client.chain(server) {
            assert!(cite.line >= 1 && cite.line <= lines, "line {} of {lines}", cite.line);
        }
    }
});
