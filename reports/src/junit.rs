//! JUnit XML: one testcase per cell; × is a failure and ! an error, each with its code and reason,
//! and the server evidence as the body.

use crate::html::esc;
use crate::schema::{Report, Verdict};

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let (_, fail, err) = report.counts();
    let total_ms: u64 = report.cells.iter().map(|c| c.duration_ms).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sshmatrix\" tests=\"{}\" failures=\"{fail}\" errors=\"{err}\">\n\
         <testsuite name=\"{}\" tests=\"{}\" failures=\"{fail}\" errors=\"{err}\" time=\"{:.3}\">\n",
        report.cells.len(),
        esc(&report.title),
        report.cells.len(),
        total_ms as f64 / 1000.0
    );
    for c in &report.cells {
        // The cell's selector without the client (the classname): unique per cell, holder
        // included, and what `explain` accepts.
        let name = c
            .selector()
            .replacen(&format!("client={},", c.client), "", 1);
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            esc(&c.client),
            esc(&name),
            c.duration_ms as f64 / 1000.0
        ));
        let tag = match c.verdict {
            _ if c.needs_login() => "skipped",
            Verdict::Ok => {
                out.push_str("/>\n");
                continue;
            }
            Verdict::Fail => "failure",
            Verdict::Error => "error",
            Verdict::Interrupted => "skipped",
        };
        out.push_str(&format!(
            ">\n    <{tag} type=\"{}\" message=\"{}: {}\">{}</{tag}>\n  </testcase>\n",
            esc(c.code.as_str()),
            esc(&c.stage.to_string()),
            esc(&c.reason),
            esc(&c.server_evidence.join("\n"))
        ));
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}
