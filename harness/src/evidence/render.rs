//! A case as text (terminal and ticket) and as Markdown: per failed attempt both sides'
//! identification, what was negotiated and offered, the verdict with its code, the evidence
//! lines with their places, the candidates and what would decide them, what the logs cannot
//! tell. Logins are counted, not listed.

use sshmatrix_core::text::count;

use super::case::{Case, Diagnosis};
use super::Cite;

/// The case as plain text.
pub fn text(case: &Case) -> String {
    let mut out = header(case);
    for d in case.failures() {
        out.push('\n');
        out.push_str(&attempt(d));
    }
    out
}

/// The case as Markdown (a heading per attempt, evidence in code blocks).
pub fn markdown(case: &Case) -> String {
    let mut out = format!(
        "### sshmatrix diagnose\n\n{}",
        header(case).replace('\n', "  \n")
    );
    for d in case.failures() {
        let body = attempt(d);
        let (title, rest) = body.split_once('\n').unwrap_or((&body, ""));
        out.push_str(&format!("\n#### {title}\n\n```text\n{rest}```\n"));
    }
    out
}

fn header(case: &Case) -> String {
    let failed = case.failures().count();
    let logins = case.attempts.len() - failed;
    let mut out = String::new();
    for f in &case.files {
        match &f.error {
            Some(e) => out.push_str(&format!("{}: not read: {e}\n", f.file)),
            None => out.push_str(&format!(
                "{}: {} ({}): {}, {}\n",
                f.file,
                count(f.lines, "line"),
                f.encoding,
                count(f.client_attempts, "client attempt"),
                count(f.server_connections, "server connection")
            )),
        }
    }
    out.push_str(&format!(
        "{}: {failed} failed, {logins} logged in\n",
        count(case.attempts.len(), "attempt")
    ));
    if case.not_kept > 0 {
        out.push_str(&format!(
            "({} more server connections counted, not kept)\n",
            case.not_kept
        ));
    }
    if case.attempts.is_empty() {
        out.push_str("no login attempt found: give the client's debug output (ssh -vvv, plink -v, paramiko DEBUG) or the server's auth log\n");
    } else if failed == 0 {
        out.push_str("no failed attempt: every attempt in these logs logged in\n");
    }
    out
}

/// One attempt, first line its title.
pub fn attempt(d: &Diagnosis) -> String {
    let mut s = format!("attempt {}: {}\n", d.n, places(d));
    if let Some(c) = &d.client {
        let ident = c.ident.as_deref().unwrap_or("(identification not logged)");
        s.push_str(&format!("  client: {ident}\n"));
        for m in &d.client_matches {
            s.push_str(&format!("    ~ {}: {}\n", m.profile, m.says));
        }
    }
    if let Some(sw) = &d.server_software {
        s.push_str(&format!("  server: {sw}\n"));
    }
    for m in &d.server_matches {
        s.push_str(&format!("    ~ {}: {}\n", m.profile, m.says));
    }
    facts(&mut s, d);
    let c = &d.cause;
    let code = c
        .code
        .map(|k| format!(" [{k}]"))
        .unwrap_or_else(|| " [undecided]".into());
    s.push_str(&format!(
        "  verdict: {} {}{code} at {}\n",
        c.verdict.mark(),
        c.verdict,
        c.stage
    ));
    s.push_str(&format!("  reason: {}\n", c.reason));
    for k in &c.candidates {
        s.push_str(&format!(
            "  candidate [{}]: {}\n      decided by: {}\n",
            k.code, k.why, k.decides
        ));
    }
    for t in &c.cannot_tell {
        s.push_str(&format!("  cannot tell: {t}\n"));
    }
    s.push_str("  evidence:\n");
    for line in evidence(d) {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

/// Where the attempt is in the files.
fn places(d: &Diagnosis) -> String {
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
        (Some(c), None) => format!("{c} (no server log of it)"),
        (None, Some(s)) => format!("{s} (no client log of it)"),
        (None, None) => String::new(),
    }
}

fn facts(s: &mut String, d: &Diagnosis) {
    let user = d
        .client
        .as_ref()
        .and_then(|c| c.user.clone())
        .or_else(|| d.server.as_ref().and_then(|x| x.user.clone()));
    if let Some(u) = user {
        s.push_str(&format!("  user: {u}\n"));
    }
    let Some(c) = &d.client else {
        return;
    };
    let n = &c.negotiated;
    if n.kex.is_some() {
        let o = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "  negotiated: {} / {} / {} / {}\n",
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
            .map(|x| format!(", signed {x}"))
            .unwrap_or_default();
        let answer = if k.accepted { ", accepted" } else { "" };
        s.push_str(&format!(
            "  key offered: {}{fp}{file}{sig}{answer}\n",
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
