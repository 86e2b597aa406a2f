//! sshd_config lines read the way sshd reads them, so that a check on a line's keyword sees the
//! keyword sshd will act on. sshd (servconf.c, `process_server_config_line_depth`) strips
//! trailing white space, then takes the keyword with `strdelim` (misc.c): a token ends at white
//! space, at a double quote or at one `=`; a token that starts with `"` runs to the next `"`;
//! one leading run of white space or `=` is skipped; keywords match case-insensitively. So
//! `ForceCommand=x`, `"ForceCommand" x` and `  forcecommand x` are all `ForceCommand`.
//!
//! Also here: the directives that read files or run commands ([`UNSAFE`]), which a matrix's or a
//! candidate file's lines may not set unless the user trusts them, and the settings `sshd -T`
//! must show for them when nothing untrusted set them ([`guarded_defaults`]).

/// sshd's white space for `strdelim` (misc.c `WHITESPACE`).
const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// What is wrong with a line that must not reach sshd as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A control character (a newline would start a second directive inside one line).
    #[error("holds a control character ({0:?}); one directive per line, printable text only")]
    Control(char),
    /// A `"` with no closing `"`: sshd silently ignores such a line.
    #[error("has an opening \" without its closing \" (sshd would ignore the line)")]
    UnbalancedQuote,
    /// The keyword is written in quotes or contains a quote.
    #[error("writes its keyword in quotes; write it plainly (`Keyword value`)")]
    QuotedKeyword,
}

/// One directive: its keyword as sshd reads it and the rest of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The keyword as sshd reads it (quotes removed), as written.
    pub keyword: String,
    /// The keyword in lower case, for matching (sshd matches case-insensitively).
    pub lower: String,
    /// What follows the keyword and its delimiter.
    pub value: &'a str,
    /// Whether the keyword was quoted or contained a quote.
    pub quoted: bool,
}

/// `strdelim` with `=` splitting (misc.c `strdelim_internal(s, 1)`): the next token and the rest.
/// `None` when a quote is not closed (sshd then ignores the whole line).
fn strdelim(s: &str) -> Option<(String, &str, bool)> {
    let Some(at) = s.find(|c: char| WHITESPACE.contains(&c) || c == '"' || c == '=') else {
        return Some((s.to_string(), "", false));
    };
    let (before, from) = s.split_at(at);
    if let Some(inner) = from.strip_prefix('"') {
        let close = inner.find('"')?;
        let token = format!("{before}{}", &inner[..close]);
        let rest = inner[close + 1..].trim_start_matches(WHITESPACE);
        return Some((token, rest, true));
    }
    let equals = from.starts_with('=');
    let mut rest = from[1..].trim_start_matches(WHITESPACE);
    if !equals {
        if let Some(r) = rest.strip_prefix('=') {
            rest = r.trim_start_matches(WHITESPACE);
        }
    }
    Some((before.to_string(), rest, false))
}

/// The directive a line holds as sshd reads it; `None` for a blank or comment line (and for a
/// line sshd would ignore, which [`check_line`] refuses instead).
pub fn parse(line: &str) -> Option<Directive<'_>> {
    let line = line.trim_end_matches(|c: char| WHITESPACE.contains(&c) || c == '\x0c');
    let (mut keyword, mut rest, mut quoted) = strdelim(line)?;
    if keyword.is_empty() {
        // sshd skips one empty leading token (white space, `=`, or an empty `""`): a quote
        // there still counts as a quoted keyword.
        let (k, r, q) = strdelim(rest)?;
        (keyword, rest, quoted) = (k, r, quoted || q);
    }
    if keyword.is_empty() || keyword.starts_with('#') {
        return None;
    }
    quoted |= keyword.contains('"');
    Some(Directive {
        lower: keyword.to_ascii_lowercase(),
        keyword,
        value: rest,
        quoted,
    })
}

/// Checks a line that will be written into an sshd_config as one directive: no control
/// characters (tab aside), quotes balanced, the keyword unquoted. Returns its directive, if it
/// holds one.
pub fn check_line(line: &str) -> Result<Option<Directive<'_>>, LineError> {
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(LineError::Control(c));
    }
    let trimmed = line.trim_start_matches(WHITESPACE);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if line.matches('"').count() % 2 == 1 {
        return Err(LineError::UnbalancedQuote);
    }
    match parse(line) {
        Some(d) if d.quoted => Err(LineError::QuotedKeyword),
        Some(d) => Ok(Some(d)),
        None => Err(LineError::UnbalancedQuote),
    }
}

/// sshd directives that read files, write files or run commands (sshd_config(5)). A matrix's
/// `sshd` lines and a candidate file for `impact` run in a real sshd as the invoking user (often
/// root), so these are refused or left out unless the user trusts the lines.
pub const UNSAFE: &[&str] = &[
    "include",
    "authorizedkeyscommand",
    "authorizedkeyscommanduser",
    "authorizedprincipalscommand",
    "authorizedprincipalscommanduser",
    "authorizedkeysfile",
    "authorizedkeysfile2",
    "authorizedprincipalsfile",
    "forcecommand",
    "subsystem",
    "chrootdirectory",
    "pidfile",
    "banner",
    "hostkey",
    "hostcertificate",
    "hostkeyagent",
    "revokedkeys",
    "trustedusercakeys",
    "securitykeyprovider",
    "modulifile",
    "xauthlocation",
    "sshdsessionpath",
    "sshdauthpath",
    "permituserenvironment",
    "setenv",
    "acceptenv",
];

/// Whether a line turns PAM on (`UsePAM yes`): keyboard-interactive logins need it on Linux.
pub fn enables_pam(line: &str) -> bool {
    parse(line).is_some_and(|d| d.lower == "usepam" && d.value.trim().eq_ignore_ascii_case("yes"))
}

/// Whether a directive's keyword is one of [`UNSAFE`].
pub fn is_unsafe(d: &Directive) -> bool {
    UNSAFE.contains(&d.lower.as_str())
}

/// What `sshd -T` prints for the command- and file-reading settings when nothing sets them
/// (sshd_config(5) defaults, and Debian's build paths for ModuliFile and XAuthLocation, the
/// builds sshmatrix runs). The harness's own AuthorizedKeysFile, HostKey, PidFile and
/// Subsystem lines are compared by the caller.
pub fn guarded_defaults() -> &'static [(&'static str, &'static str)] {
    &[
        ("authorizedkeyscommand", "none"),
        ("authorizedkeyscommanduser", "none"),
        ("authorizedprincipalscommand", "none"),
        ("authorizedprincipalscommanduser", "none"),
        ("authorizedprincipalsfile", "none"),
        ("forcecommand", "none"),
        ("chrootdirectory", "none"),
        ("banner", "none"),
        ("trustedusercakeys", "none"),
        ("revokedkeys", "none"),
        ("hostkeyagent", "none"),
        ("permituserenvironment", "no"),
        ("securitykeyprovider", "internal"),
        ("modulifile", "/etc/ssh/moduli"),
        ("xauthlocation", "/usr/bin/xauth"),
    ]
}

/// The `sshd -T` lines of `dump` whose keyword is `keyword` (lower case), values only.
pub fn dumped<'a>(dump: &'a str, keyword: &str) -> Vec<&'a str> {
    dump.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == keyword)
        .map(|(_, v)| v.trim())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyword(line: &str) -> Option<String> {
        parse(line).map(|d| d.lower)
    }

    #[test]
    fn reads_keywords_as_sshd_does() {
        assert_eq!(keyword("ForceCommand /bin/id"), Some("forcecommand".into()));
        assert_eq!(keyword("ForceCommand=/bin/id"), Some("forcecommand".into()));
        assert_eq!(
            keyword("ForceCommand = /bin/id"),
            Some("forcecommand".into())
        );
        assert_eq!(
            keyword("\"ForceCommand\" /bin/id"),
            Some("forcecommand".into())
        );
        assert_eq!(
            keyword("  \tforcecommand /bin/id"),
            Some("forcecommand".into())
        );
        assert_eq!(
            keyword("=ForceCommand /bin/id"),
            Some("forcecommand".into())
        );
        assert_eq!(keyword("For\"ce\"Command x"), Some("force".into()));
        assert_eq!(keyword("# ForceCommand x"), None);
        assert_eq!(keyword("   "), None);
        assert_eq!(keyword("\"ForceCommand /bin/id"), None);
        // An empty quoted token first: sshd skips it and reads the keyword after it.
        assert_eq!(
            keyword("\"\"ForceCommand /bin/id"),
            Some("forcecommand".into())
        );
        assert!(parse("\"\"Ciphers x").unwrap().quoted);
    }

    #[test]
    fn values_follow_one_delimiter() {
        let d = parse("PubkeyAcceptedAlgorithms=+ssh-rsa").unwrap();
        assert_eq!(d.value, "+ssh-rsa");
        let d = parse("PubkeyAcceptedAlgorithms  =  +ssh-rsa").unwrap();
        assert_eq!(d.value, "+ssh-rsa");
        let d = parse("LogLevel VERBOSE  ").unwrap();
        assert_eq!(d.value, "VERBOSE");
    }

    #[test]
    fn refuses_what_could_smuggle_a_directive() {
        assert_eq!(
            check_line("Ciphers aes128-ctr\nForceCommand /bin/id"),
            Err(LineError::Control('\n'))
        );
        assert_eq!(check_line("Ciphers x\r"), Err(LineError::Control('\r')));
        assert_eq!(check_line("Ciphers\0x"), Err(LineError::Control('\0')));
        assert_eq!(
            check_line("\"ForceCommand\" /bin/id"),
            Err(LineError::QuotedKeyword)
        );
        assert_eq!(
            check_line("Banner \"/etc/x"),
            Err(LineError::UnbalancedQuote)
        );
        let d = check_line("ForceCommand=/bin/id").unwrap().unwrap();
        assert!(is_unsafe(&d));
        assert!(check_line("# a comment").unwrap().is_none());
    }
}
