//! A case as text (terminal and ticket) and as Markdown: per failed attempt both sides'
//! identification, what was negotiated and offered, the verdict with its code, the evidence
//! lines with their places, the candidates and what would decide them, what the logs cannot
//! tell. Logins are counted, not listed.

use sshmatrix_core::i18n::{self, Lang};
use sshmatrix_core::tr;

use super::case::{Case, Diagnosis};
use super::Cite;

/// The case as plain text.
pub fn text(case: &Case) -> String {
    let lang = i18n::current();
    let mut out = header(lang, case);
    for d in case.failures() {
        out.push('\n');
        out.push_str(&attempt(lang, d));
    }
    out
}

/// The case as Markdown (a heading per attempt, evidence in code blocks).
pub fn markdown(case: &Case) -> String {
    let lang = i18n::current();
    let mut out = format!(
        "### sshmatrix diagnose\n\n{}",
        header(lang, case).replace('\n', "  \n")
    );
    for d in case.failures() {
        let body = attempt(lang, d);
        let (title, rest) = body.split_once('\n').unwrap_or((&body, ""));
        out.push_str(&format!("\n#### {title}\n\n```text\n{rest}```\n"));
    }
    out
}

fn header(lang: Lang, case: &Case) -> String {
    let failed = case.failures().count();
    let logins = case.attempts.len() - failed;
    let mut out = String::new();
    for f in &case.files {
        match &f.error {
            Some(e) => {
                let said = tr!(lang, "diagnose-not-read", error = e.to_string());
                out.push_str(&format!("{}: {said}\n", f.file));
            }
            None => {
                let said = tr!(
                    lang,
                    "diagnose-file",
                    lines = f.lines,
                    encoding = f.encoding.to_string(),
                    clients = f.client_attempts,
                    servers = f.server_connections
                );
                out.push_str(&format!("{}: {said}\n", f.file));
            }
        }
    }
    let n = case.attempts.len();
    out.push_str(&tr!(
        lang,
        "diagnose-attempts",
        n = n,
        failed = failed,
        logins = logins
    ));
    out.push('\n');
    if case.not_kept > 0 {
        out.push_str(&tr!(lang, "diagnose-not-kept", n = case.not_kept));
        out.push('\n');
    }
    if case.attempts.is_empty() {
        out.push_str(&tr!(lang, "diagnose-none"));
        out.push('\n');
    } else if failed == 0 {
        out.push_str(&tr!(lang, "diagnose-no-failure"));
        out.push('\n');
    }
    out
}

/// One attempt, first line its title.
pub fn attempt(lang: Lang, d: &Diagnosis) -> String {
    let field = |id: &str| tr!(lang, &format!("field-{id}"));
    let attempt = tr!(lang, "diagnose-attempt", n = d.n);
    let mut s = format!("{attempt}: {}\n", places(lang, d));
    if let Some(c) = &d.client {
        let ident = c
            .ident
            .clone()
            .unwrap_or_else(|| tr!(lang, "diagnose-no-ident"));
        s.push_str(&format!("  {}: {ident}\n", field("client")));
        for m in &d.client_matches {
            s.push_str(&format!("    ~ {}: {}\n", m.profile, m.says));
        }
    }
    if let Some(sw) = &d.server_software {
        s.push_str(&format!("  {}: {sw}\n", field("server")));
    }
    for m in &d.server_matches {
        s.push_str(&format!("    ~ {}: {}\n", m.profile, m.says));
    }
    facts(lang, &mut s, d);
    let c = &d.cause;
    let code = c
        .code
        .map(|k| format!(" [{k}]"))
        .unwrap_or_else(|| format!(" [{}]", tr!(lang, "diagnose-undecided")));
    let at = tr!(
        lang,
        "explain-at",
        stage = sshmatrix_reports::lang::stage(lang, c.stage)
    );
    s.push_str(&format!(
        "  {}: {} {}{code} {at}\n",
        field("verdict"),
        c.verdict.mark(),
        sshmatrix_reports::lang::verdict(lang, c.verdict),
    ));
    if let Some(meaning) = c.code.filter(|_| lang != Lang::En) {
        let meaning = i18n::code_meaning(lang, meaning);
        s.push_str(&format!("  {}: {meaning}\n", tr!(lang, "explain-meaning")));
    }
    s.push_str(&format!("  {}: {}\n", field("reason"), c.reason));
    for k in &c.candidates {
        s.push_str(&format!(
            "  {} [{}]: {}\n      {}: {}\n",
            tr!(lang, "diagnose-candidate"),
            k.code,
            k.why,
            tr!(lang, "diagnose-decided-by"),
            k.decides
        ));
    }
    for t in &c.cannot_tell {
        s.push_str(&format!("  {}: {t}\n", tr!(lang, "diagnose-cannot-tell")));
    }
    s.push_str(&format!("  {}:\n", field("evidence")));
    for line in evidence(d) {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

/// Where the attempt is in the files.
fn places(lang: Lang, d: &Diagnosis) -> String {
    let client = d
        .client
        .as_ref()
        .map(|c| format!("{}:{}", c.file, c.first_line));
    let server = d.server.as_ref().and_then(|s| {
        s.evidence
            .first()
            .map(|l| format!("{}:{} ({})", l.file, l.line, s.key.trim()))
    });
    match (client, server) {
        (Some(c), Some(s)) => format!("{c} ↔ {s}"),
        (Some(c), None) => format!("{c} {}", tr!(lang, "diagnose-no-server-log")),
        (None, Some(s)) => format!("{s} {}", tr!(lang, "diagnose-no-client-log")),
        (None, None) => String::new(),
    }
}

fn facts(lang: Lang, s: &mut String, d: &Diagnosis) {
    let field = |id: &str| tr!(lang, &format!("field-{id}"));
    let user = d
        .client
        .as_ref()
        .and_then(|c| c.user.clone())
        .or_else(|| d.server.as_ref().and_then(|x| x.user.clone()));
    if let Some(u) = user {
        s.push_str(&format!("  {}: {u}\n", tr!(lang, "field-user")));
    }
    let Some(c) = &d.client else {
        return;
    };
    let n = &c.negotiated;
    if n.kex.is_some() {
        let o = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "  {}: {} / {} / {} / {}\n",
            field("negotiated"),
            o(&n.kex),
            o(&n.hostkey),
            o(&n.cipher),
            o(&n.mac)
        ));
    }
    for k in &c.keys {
        let fp = k
            .fingerprint
            .as_deref()
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        let file = k
            .file
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        let sig = k
            .signature
            .as_deref()
            .map(|x| tr!(lang, "diagnose-signed", sig = x))
            .unwrap_or_default();
        let answer = match k.accepted {
            true => tr!(lang, "diagnose-accepted"),
            false => String::new(),
        };
        let offered = tr!(lang, "diagnose-key-offered");
        s.push_str(&format!(
            "  {offered}: {}{fp}{file}{sig}{answer}\n",
            k.family
        ));
    }
}

/// The lines that carry the attempt: the client's, then the server's.
fn evidence(d: &Diagnosis) -> Vec<&Cite> {
    let client = d.client.iter().flat_map(|c| c.evidence.iter());
    let server = d.server.iter().flat_map(|s| s.evidence.iter());
    client.chain(server).collect()
}
