//! What the TOML reader says about a matrix, in a matrix writer's words: serde's "invalid
//! type: string, expected a sequence" becomes "`users` must be a list: users = [\"ec2-user\"]",
//! an unknown field gets the nearest field name.

/// The message and hint for a TOML reader error `message` at byte `at` of `text`.
pub(super) fn words(text: &str, at: Option<usize>, message: &str) -> (String, String) {
    let key = at.and_then(|at| key_at(text, at));
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return unknown_field(rest);
    }
    if let (Some(key), Some(value)) = (&key, string_for_list(message)) {
        return (
            format!("`{key}` must be a list: {key} = [\"{value}\"]"),
            format!("write the value in brackets, even a single one: {key} = [\"{value}\"]"),
        );
    }
    if let (Some(key), true) = (&key, message.starts_with("invalid type: sequence")) {
        return (
            format!("`{key}` takes one value, not a list"),
            format!("remove the brackets: {key} = \"…\""),
        );
    }
    (message.to_string(), MATRIX_FORMAT.into())
}

const MATRIX_FORMAT: &str = "see the matrix format in docs/guide.md (\"Matrix files\")";

/// `unknown field `client`, expected one of `keys`, `clients`` → the nearest known field.
fn unknown_field(rest: &str) -> (String, String) {
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((written, known)) = names.split_first() else {
        return (format!("unknown field {rest}"), MATRIX_FORMAT.into());
    };
    let message = match known.is_empty() {
        true => format!("unknown field `{written}`"),
        false => format!(
            "unknown field `{written}` (fields here: {})",
            known.join(", ")
        ),
    };
    let hint = match crate::hints::nearest(written, known.iter().copied()) {
        Some(n) => format!("did you mean `{n}`?"),
        None => MATRIX_FORMAT.into(),
    };
    (message, hint)
}

/// The string value of `invalid type: string "ec2-user", expected a sequence`.
fn string_for_list(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("invalid type: string \"")?;
    let (value, tail) = rest.split_once('"')?;
    (tail.trim() == ", expected a sequence").then_some(value)
}

/// The key of the `key = value` line holding byte `at` (the key a value error is about).
fn key_at(text: &str, at: usize) -> Option<String> {
    let start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_start_matches('{').trim();
    let key = key.rsplit([',', '{']).next()?.trim();
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_matrix_words() {
        let text = "[[targets]]\nid = \"t\"\nusers = \"ec2-user\"\n";
        let at = text.find("\"ec2").unwrap();
        let (m, h) = words(
            text,
            Some(at),
            "invalid type: string \"ec2-user\", expected a sequence",
        );
        assert_eq!(m, "`users` must be a list: users = [\"ec2-user\"]");
        assert!(h.contains("users = [\"ec2-user\"]"), "{h}");
        let (m, h) = words(
            text,
            None,
            "unknown field `client`, expected one of `keys`, `passphrase`, `clients`",
        );
        assert_eq!(
            m,
            "unknown field `client` (fields here: keys, passphrase, clients)"
        );
        assert_eq!(h, "did you mean `clients`?");
        let text = "keys = [\"rsa-2048\"]\n";
        let (m, _) = words(text, Some(8), "invalid type: sequence, expected a string");
        assert_eq!(m, "`keys` takes one value, not a list");
        let (m, h) = words(text, Some(0), "missing field `axes`");
        assert_eq!(
            (m.as_str(), h.as_str()),
            ("missing field `axes`", MATRIX_FORMAT)
        );
    }
}
