//! CSV: one row per cell. Columns are only ever appended (`holder`, `weak`, `certificate`), so scripts
//! that read columns by position keep working.

use crate::schema::Report;

/// The CSV header, in column order.
pub const COLUMNS: &[&str] = &[
    "client",
    "key_tool",
    "key_type",
    "key_bits",
    "passphrase",
    "key_format",
    "target",
    "policy",
    "user",
    "verdict",
    "code",
    "stage",
    "reason",
    "client_reason",
    "server_reason",
    "kex",
    "hostkey",
    "cipher",
    "mac",
    "signature",
    "duration_ms",
    "holder",
    "weak",
    "certificate",
];

/// Renders the report as CSV.
pub fn render(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).expect("in-memory write");
    for c in &report.cells {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        w.write_record([
            c.client.clone(),
            c.key_tool.clone(),
            c.key_type.clone(),
            c.key_bits.to_string(),
            if c.passphrase { "yes" } else { "no" }.to_string(),
            c.key_format.clone(),
            c.target.clone(),
            c.policy.clone(),
            c.user.clone(),
            c.verdict.as_str().to_string(),
            c.code.to_string(),
            c.stage.to_string(),
            c.reason.clone(),
            c.client_reason.clone(),
            opt(&c.server_reason),
            opt(&c.kex),
            opt(&c.hostkey),
            opt(&c.cipher),
            opt(&c.mac),
            opt(&c.signature),
            c.duration_ms.to_string(),
            c.holder.to_string(),
            c.weak.join(";"),
            c.certificate.clone(),
        ])
        .expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}
