//! Every renderer on a small report with grouped columns and rows.

use sshmatrix_reports::diff::{diff, has_regressions, ChangeKind};
use sshmatrix_reports::{
    render, CellCode, CellResult, Code, Format, Holder, Report, Stage, Verdict, SCHEMA_VERSION,
};

fn cell(
    index: usize,
    client: &str,
    key: &str,
    target: &str,
    user: &str,
    verdict: Verdict,
    code: &str,
) -> CellResult {
    let (family, bits) = key.split_once('-').unwrap();
    CellResult {
        index,
        client: client.into(),
        key_tool: "tool".into(),
        key_type: family.into(),
        key_bits: bits.parse().unwrap(),
        passphrase: false,
        holder: Holder::File,
        certificate: String::new(),
        key_format: "pem".into(),
        key_fingerprint: "SHA256:x".into(),
        target: target.into(),
        policy: "p".into(),
        user: user.into(),
        verdict,
        code: code.parse().unwrap(),
        stage: if verdict == Verdict::Ok {
            Stage::Login
        } else {
            Stage::Auth
        },
        reason: if verdict == Verdict::Ok {
            "logged in".into()
        } else {
            format!("server: {code} <&>")
        },
        client_reason: String::new(),
        server_reason: None,
        server_evidence: vec![
            "userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms".into(),
        ],
        kex: None,
        hostkey: None,
        cipher: None,
        mac: None,
        signature: None,
        duration_ms: 5,
        notes: vec![],
        predicted_verdict: Some(verdict),
        predicted_code: Some(code.parse().unwrap()),
        advice: vec![],
        digest: String::new(),
        weak: vec![],
        strict_kex: None,
        row: vec![client.into(), key.into()],
        column: vec!["AOS 7.0".into(), target.into(), user.into()],
    }
}

fn report() -> Report {
    let mut cells = Vec::new();
    for (client, key) in [
        ("TT", "rsa-2048"),
        ("TT", "ecdsa-256"),
        ("PuTTY", "rsa-2048"),
    ] {
        for (target, user) in [("CVM", "nutanix"), ("AHV", "nutanix"), ("AHV", "admin")] {
            let bad = client == "TT" && key == "rsa-2048" && target == "AHV";
            let (v, code) = if bad {
                (Verdict::Fail, "auth-signature-rejected")
            } else {
                (Verdict::Ok, "")
            };
            cells.push(cell(cells.len(), client, key, target, user, v, code));
        }
    }
    Report {
        schema_version: SCHEMA_VERSION,
        tool_version: "test".into(),
        matrix: "m.toml".into(),
        title: "T".into(),
        matrix_digest: String::new(),
        plan_cells: 9,
        generated: Some("2026-12-07T09:20:13Z".into()),
        host: Some("support-laptop".into()),
        shard: None,
        row_axes: vec!["Client".into(), "Key".into()],
        column_axes: vec!["Target".into(), String::new(), "User".into()],
        notes: vec!["a note".into()],
        older_clients: Vec::new(),
        cells,
    }
}

#[test]
fn table_groups_headers_and_rows_and_gives_the_legend_once() {
    let t = render(&report(), Format::Table);
    assert_eq!(t.matches("AOS 7.0").count(), 1, "{t}");
    assert_eq!(t.matches("AHV").count(), 1, "{t}");
    assert_eq!(t.matches(" TT ").count(), 1, "{t}");
    assert!(
        t.contains(
            "×  [auth-signature-rejected] auth: server: auth-signature-rejected <&>  (2 cells)"
        ),
        "{t}"
    );
    assert!(t.contains("○ ok 7   × fail 2"), "{t}");
}

#[test]
fn markdown_is_a_pipe_table_every_wiki_renders_and_markdown_html_keeps_spans() {
    // Grouped column headers (AOS 7.0 over CVM / AHV over users) in one header cell each: a
    // wiki that strips HTML still shows the table.
    let m = render(&report(), Format::Markdown);
    assert!(!m.contains("<table"), "{m}");
    let lines: Vec<&str> = m.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(
        lines[0],
        "| **Client** | **Key** | **AOS 7.0 · CVM · nutanix** | **AOS 7.0 · AHV · nutanix** | **AOS 7.0 · AHV · admin** |",
        "{m}"
    );
    assert!(lines[1].starts_with("| --- | --- | :-: |"), "{m}");
    assert_eq!(
        lines.len(),
        2 + 3,
        "one header, one separator, three rows: {m}"
    );
    assert!(
        lines[3].starts_with("|  | ecdsa-256 |"),
        "row label written once: {m}"
    );
    assert!(m.contains("- no such cell"), "{m}");
    // markdown-html: HTML inside the Markdown, grouped headers spanning their columns.
    let h = render(&report(), Format::MarkdownHtml);
    assert!(h.starts_with("### T\n\n<table>"), "{h}");
    assert!(h.contains("<th colspan=\"3\">AOS 7.0</th>"), "{h}");
    assert!(h.contains("<th colspan=\"2\">AHV</th>"), "{h}");
    assert!(h.contains("<th rowspan=\"2\">TT</th>"), "{h}");
    // One level of column labels: the same pipe table either way.
    let mut flat = report();
    for c in &mut flat.cells {
        c.column = vec![c.column.last().unwrap().clone()];
    }
    flat.cells
        .dedup_by(|a, b| a.row == b.row && a.column == b.column);
    assert_eq!(
        render(&flat, Format::Markdown),
        render(&flat, Format::MarkdownHtml)
    );
}

#[test]
fn cells_that_need_a_login_have_their_own_mark_and_count_in_every_format() {
    let mut r = report();
    r.cells[0].verdict = Verdict::Error;
    r.cells[0].code = Code::NotObservable.into();
    r.cells[0].reason = "not observable without a login".into();
    let t = render(&r, Format::Table);
    assert!(
        t.contains("○ ok 6   × fail 2   ? needs a login 1   ! error 0"),
        "{t}"
    );
    assert!(t.contains("? 1 cell needs a login to decide: "), "{t}");
    assert!(t.contains("?1  [not-observable]"), "{t}");
    let m = render(&r, Format::Markdown);
    assert!(
        m.contains("○ ok 6 · × fail 2 · ? needs a login 1 · ! error 0"),
        "{m}"
    );
    let h = render(&r, Format::Html);
    assert!(h.contains("class=\"needs-login\""), "{h}");
    let j = render(&r, Format::Junit);
    assert!(j.contains("errors=\"0\""), "{j}");
    assert!(j.contains("<skipped type=\"not-observable\""), "{j}");
}

#[test]
fn the_compatibility_sheet_has_ticks_crosses_and_footnotes_in_words() {
    let s = render(&report(), Format::Sheet);
    assert!(s.contains("| ✓ |"), "{s}");
    assert!(s.contains("| ✗ |") || s.contains("| ✗¹ |"), "{s}");
    assert!(!s.contains("<table"), "{s}");
    assert!(
        s.contains("✓ logs in · ◐ logs in, weak · ✗ refused · ⚠ could not be decided"),
        "{s}"
    );
    // Footnotes say why without the failure code.
    let notes: Vec<&str> = s.lines().filter(|l| l.starts_with("1. ")).collect();
    assert_eq!(notes.len(), 1, "{s}");
    assert!(!notes[0].contains("[auth-signature-rejected]"), "{s}");
    assert!(notes[0].ends_with("(2 cells)"), "{s}");
}

#[test]
fn html_spans_escapes_and_embeds_evidence() {
    let h = render(&report(), Format::Html);
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains("<th colspan=\"3\">AOS 7.0</th>"), "{h}");
    assert!(h.contains("<th colspan=\"2\">AHV</th>"));
    assert!(h.contains("<th rowspan=\"2\">TT</th>"));
    assert!(h.contains("title=\"[auth-signature-rejected] auth: server: auth-signature-rejected &lt;&amp;&gt;\""), "{h}");
    assert!(h.contains("not in PubkeyAcceptedAlgorithms"));
    assert_eq!(h.matches("data-i=").count(), 9);
    // Where it came from, and a detail panel kept in view with the clicked cell outlined.
    assert!(
        h.contains(
            "<p class=\"meta\">m.toml · 9 of 9 cells · sshmatrix test (report schema 1) · made 2026-12-07T09:20:13Z on support-laptop</p>"
        ),
        "{h}"
    );
    assert!(
        h.contains("position:sticky") && h.contains("classList.add('selected')"),
        "{h}"
    );
}

#[test]
fn junit_has_a_testcase_per_cell_and_failures_with_codes() {
    let j = render(&report(), Format::Junit);
    assert_eq!(j.matches("<testcase ").count(), 9);
    assert_eq!(
        j.matches("<failure type=\"auth-signature-rejected\"")
            .count(),
        2
    );
    assert!(j.contains("tests=\"9\" failures=\"2\" errors=\"0\""));
}

#[test]
fn csv_and_json_round_trip() {
    let r = report();
    let back: Report = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert_eq!(back, r);
    let csv = render(&r, Format::Csv);
    assert_eq!(csv.lines().count(), 10);
    assert!(csv.lines().next().unwrap().starts_with("client,key_tool,key_type,key_bits,passphrase,key_format,target,policy,user,verdict,code,stage,reason"));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",duration_ms,holder,weak,certificate"),
        "{csv}"
    );
    assert!(csv.lines().nth(1).unwrap().ends_with(",file,,"), "{csv}");
}

#[test]
fn diff_classifies_regressions_fixes_and_reason_changes() {
    let old = report();
    let mut new = report();
    new.cells[0].verdict = Verdict::Fail; // regression
    new.cells[0].code = Code::AuthKeyNotAuthorized.into();
    new.cells[1].verdict = Verdict::Ok; // fix
    new.cells[1].code = CellCode::NONE;
    new.cells[2].code = Code::AuthKeyTooSmall.into(); // reason change
    new.cells.pop(); // removed
    let changes = diff(&old, &new);
    let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ChangeKind::Regression,
            ChangeKind::Fix,
            ChangeKind::ReasonChange,
            ChangeKind::Removed
        ]
    );
    assert!(has_regressions(&changes));
    assert!(diff(&old, &old).is_empty());
}

/// Cells with the same reason but different fixes each show their own fixes (run --advise).
#[test]
fn every_renderer_shows_each_cells_own_fixes() {
    let mut r = report();
    let advice = |text: &str| sshmatrix_reports::Advice {
        side: "client".into(),
        text: text.into(),
        cost: None,
        works: Some(true),
        change: None,
    };
    let failing: Vec<usize> = r
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.verdict == Verdict::Fail)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failing.len(), 2);
    r.cells[failing[0]].advice = vec![advice("upgrade to Tera Term 4.107")];
    r.cells[failing[1]].advice = vec![advice("use an Ed25519 key")];
    r.cells[failing[0]]
        .advice
        .push(advice("switch to policy LEGACY"));
    r.cells[failing[1]]
        .advice
        .push(advice("switch to policy LEGACY"));
    for format in [Format::Table, Format::Markdown] {
        let text = render(&r, format);
        for fix in [
            "upgrade to Tera Term 4.107",
            "use an Ed25519 key",
            "switch to policy LEGACY",
        ] {
            assert_eq!(text.matches(fix).count(), 1, "{format:?}: {text}");
        }
        // One mark per reason (no ×1/×2 with the same text); the fix both cells share once,
        // each cell's own under where that cell is.
        assert!(
            !text.contains("×1") && !text.contains("×2"),
            "{format:?}: {text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        let legend = lines
            .iter()
            .position(|l| l.starts_with("×  [") || l.starts_with("- **×**"))
            .unwrap_or_else(|| panic!("{format:?}: no legend line: {text}"));
        assert!(
            lines[legend + 1].contains("switch to policy LEGACY"),
            "{format:?}: {text}"
        );
        for (at, fix) in [
            (
                "TT / rsa-2048 → AOS 7.0 / AHV / nutanix (1 cell):",
                "Tera Term 4.107",
            ),
            (
                "TT / rsa-2048 → AOS 7.0 / AHV / admin (1 cell):",
                "Ed25519 key",
            ),
        ] {
            let i = lines
                .iter()
                .position(|l| l.trim_start().trim_start_matches("- ") == format!("for {at}"))
                .unwrap_or_else(|| panic!("{format:?}: no `for {at}`: {text}"));
            assert!(lines[i + 1].contains(fix), "{format:?}: {text}");
        }
    }
}

#[test]
fn the_shipped_json_schema_is_the_one_the_types_generate() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/report.schema.json"))
            .unwrap_or_default();
    let generated = sshmatrix_reports::schema::json_schema();
    assert!(
        shipped == generated,
        "reports/report.schema.json is stale: regenerate it with `sshmatrix schema > reports/report.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(v["$id"], "urn:sshmatrix:report:schema-version:1");
    let cell = &v["$defs"]["CellResult"]["properties"];
    for field in [
        "verdict",
        "code",
        "stage",
        "reason",
        "server_evidence",
        "predicted_code",
    ] {
        assert!(cell.get(field).is_some(), "{field} in {cell}");
    }
}

#[test]
fn documentation_formats_move_a_row_axis_with_one_value_to_the_title() {
    let mut r = report();
    r.row_axes.push("Passphrase".into());
    for c in &mut r.cells {
        c.row.push("no".into());
    }
    for format in [
        Format::Markdown,
        Format::MarkdownHtml,
        Format::Sheet,
        Format::Html,
    ] {
        let text = render(&r, format);
        assert!(text.contains("T — Passphrase: no"), "{format:?}: {text}");
        assert!(
            !text.contains("**Passphrase**") && !text.contains(">Passphrase<"),
            "{format:?}: {text}"
        );
    }
}

/// A login with an ssh-rsa (SHA-1) signature is ◐ in every format, with the rule's words in the
/// legend and its id in JSON and CSV; a notice alone (a non-post-quantum key exchange) keeps ○.
#[test]
fn a_login_a_known_hardening_refuses_is_marked_weak() {
    let mut r = report();
    let ok: Vec<usize> = (0..r.cells.len())
        .filter(|&i| r.cells[i].verdict == Verdict::Ok)
        .collect();
    r.cells[ok[0]].signature = Some("ssh-rsa".into());
    r.cells[ok[1]].kex = Some("curve25519-sha256".into());
    let r = Report::new(
        sshmatrix_reports::Header {
            matrix: r.matrix.clone(),
            title: r.title.clone(),
            plan_cells: r.plan_cells,
            row_axes: r.row_axes.clone(),
            column_axes: r.column_axes.clone(),
            notes: r.notes.clone(),
            ..Default::default()
        },
        r.cells,
    );
    assert_eq!(r.cells[ok[0]].weak, ["sha1-user-signature"]);
    assert_eq!(r.cells[ok[1]].weak, ["not-post-quantum"]);
    assert_eq!(r.cells[ok[1]].mark(), "○");
    let t = render(&r, Format::Table);
    assert!(t.contains("○ ok 7 (◐ weak 1)   × fail 2"), "{t}");
    assert!(
        t.contains("◐1  logs in, weak: RSA user key signed with SHA-1 (ssh-rsa) — breaks under OpenSSH 8.8 and later defaults"),
        "{t}"
    );
    let m = render(&r, Format::Markdown);
    assert!(m.contains("| ◐1 |") && m.contains("(◐ weak 1)"), "{m}");
    let h = render(&r, Format::Html);
    assert!(
        h.contains("class=\"weak\"") && h.contains("OpenSSH 8.8 release notes"),
        "{h}"
    );
    let c = render(&r, Format::Csv);
    assert!(
        c.lines()
            .next()
            .unwrap()
            .ends_with(",holder,weak,certificate"),
        "{c}"
    );
    assert!(c.contains(",sha1-user-signature,"), "{c}");
    assert!(render(&r, Format::Sheet).contains("◐¹"));
}
