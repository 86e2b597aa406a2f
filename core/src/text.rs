//! Text that crosses a shell or a terminal.

/// Quotes a word for `sh`: single quotes, each `'` written `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Text from a peer or a log as a terminal may show it: control characters (an escape
/// sequence, a carriage return, a bell) are written as `\u{..}` escapes, everything else is
/// kept. Nothing a server or a log says can move the cursor, recolour or retitle a terminal.
pub fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\t' => "\\t".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A count with its noun, singular for one: `count(1, "cell")` is `1 cell`, `count(3, "cell")`
/// is `3 cells` (nouns whose plural adds `s`).
pub fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("SSH-2.0-x"), "SSH-2.0-x");
        assert_eq!(printable("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("a\rb\u{7}"), "a\\u{d}b\\u{7}");
    }
}
