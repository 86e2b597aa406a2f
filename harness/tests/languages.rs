//! Reports in Japanese (`--lang ja`, or the locale's language): the Nutanix field report's
//! table as its authors write theirs — SSH接続ツール / 鍵作成ツール / 鍵の種類 / パスフレーズ有無,
//! RSA（ビット数 2048）, あり / なし — aligned on a terminal where every Japanese character takes two
//! columns, and Markdown, sheet and HTML in Japanese; the evidence stays as the server wrote it.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use unicode_width::UnicodeWidthStr;

fn nutanix() -> String {
    common::matrices()
        .join("nutanix-cluster-lockdown.toml")
        .display()
        .to_string()
}

/// The Nutanix matrix run once (real sshd, emulated Tera Term and PuTTY), saved as JSON: every
/// rendering below reads it.
fn report() -> &'static PathBuf {
    static REPORT: OnceLock<PathBuf> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = common::scratch_dir("languages").join("nutanix.json");
        common::run_shipped_to("nutanix-cluster-lockdown.toml", &["--format", "json"], &out);
        out
    })
}

/// `sshmatrix render` of the saved report in `format`, with `extra` arguments and environment.
fn render(format: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let o = common::bin()
        .args(["render", report().to_str().unwrap(), "--format", format])
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The lines of a rendered table drawn with box characters, each one's width in terminal
/// columns.
fn table_widths(out: &str) -> Vec<usize> {
    out.lines()
        .filter(|l| l.starts_with(['┌', '│', '├', '└']))
        .map(UnicodeWidthStr::width)
        .collect()
}

#[test]
fn the_nutanix_table_in_japanese_is_aligned_on_a_terminal() {
    let work = common::work_dir();
    let args = [
        "run",
        &nutanix(),
        "--lang",
        "ja",
        "--color",
        "never",
        "--work-dir",
        work.to_str().unwrap(),
    ];
    // Wide enough for the full layout.
    let (code, out) = common::on_terminal(&args, 200);
    assert_eq!(code, 0, "{out}");
    for word in [
        "SSH接続ツール",
        "鍵作成ツール",
        "鍵の種類",
        "パスフレーズ有無",
    ] {
        assert!(out.contains(word), "{word} missing:\n{out}");
    }
    let widths = table_widths(&out);
    // Top and bottom, five header lines and their rule, 24 rows and the 23 rules between them.
    assert_eq!(widths.len(), 1 + 5 + 1 + 24 + 23 + 1, "{out}");
    assert!(widths.iter().all(|w| *w == widths[0]), "ragged:\n{out}");
    // The row of the field report's × (Tera Term 4.106, RSA 2048 with a passphrase), centred
    // under its header although every label before it is double-width.
    let row = out
        .lines()
        .find(|l| l.contains("あり") && l.contains("×2"))
        .unwrap();
    assert_eq!(
        row.split('│').map(str::trim).collect::<Vec<_>>(),
        ["", "", "", "", "あり", "◐1", "×2", "×2", "◐1", "×2", "×2", ""]
    );
    let label = out
        .lines()
        .find(|l| l.contains("RSA（ビット数 2048）"))
        .unwrap();
    assert_eq!(UnicodeWidthStr::width(label), widths[0], "{label}");
    assert!(
        out.contains("○ 成功 128（うち ◐ 弱い 8）   × 失敗 16   ! エラー 0\n"),
        "{out}"
    );
    // The notes a run writes are in its language; the policy's own words stay as written.
    assert!(
        out.contains("注記: ポリシー `nutanix-ahv-lockdown`: サーバー側の根拠: 現場報告のみ — ssh-rsa refusal"),
        "{out}"
    );
    // A narrow terminal: the table is fitted (the passphrase axis stays, labels wrap, or column
    // groups split), every line of each table as wide as the others and within the terminal.
    let (code, narrow) = common::on_terminal(&args, 100);
    assert_eq!(code, 0, "{narrow}");
    let widths = table_widths(&narrow);
    assert!(
        !widths.is_empty() && widths.iter().all(|w| *w <= 100),
        "{narrow}"
    );
    for table in narrow.split("┌").skip(1) {
        let w = table_widths(&format!("┌{}┘", table.split("┘").next().unwrap()));
        assert!(w.iter().all(|x| *x == w[0]), "ragged:\n{narrow}");
    }
    assert!(narrow.contains("鍵の種類"), "{narrow}");
}

#[test]
fn markdown_and_the_sheet_read_like_the_field_report_with_the_evidence_verbatim() {
    let md = render("markdown", &["--lang", "ja"], &[]);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[2],
        "| **SSH接続ツール** | **鍵作成ツール** | **鍵の種類** | **パスフレーズ有無** | \
         **AOS 7.0 · CVM · nutanix** | **AOS 7.0 · AHV · nutanix** | **AOS 7.0 · AHV · admin** | \
         **AOS 6.10 · CVM · nutanix** | **AOS 6.10 · AHV · nutanix** | **AOS 6.10 · AHV · admin** |"
    );
    assert_eq!(
        lines[4],
        "| Tera Term 4.106 | Tera Term key generator 4.106 | RSA（ビット数 2048） | あり | \
         ◐1 | ×2 | ×2 | ◐1 | ×2 | ×2 |"
    );
    assert!(md.contains("| ECDSA（ビット数 256） | あり |"), "{md}");
    assert!(
        md.contains("○ 成功 128（うち ◐ 弱い 8） · × 失敗 16 · ! エラー 0 · - 該当なし\n"),
        "{md}"
    );
    // The code's meaning in Japanese, then the server's own words.
    assert!(
        md.contains(
            "- **×2** [auth-signature-rejected] 認証: サーバーが署名アルゴリズムを拒否した\
             （例: ssh-rsa（SHA-1）が PubkeyAcceptedAlgorithms にない） — server: signature \
             algorithm ssh-rsa not in PubkeyAcceptedAlgorithms (16 セル)\n"
        ),
        "{md}"
    );
    assert!(md.contains("- **◐1** ログインできるが弱い: RSA ユーザー鍵の SHA-1 署名（ssh-rsa）"));
    assert!(md.contains("- 注記: local backend: OpenSSH_"), "{md}");

    let sheet = render("sheet", &["--lang", "ja"], &[]);
    assert!(sheet.contains("✓ ログイン可 · ◐ ログインできるが弱い · ✗ 拒否 · ⚠ 判定不能"));
    assert!(
        sheet.contains("|  |  | RSA（ビット数 3072） | あり | ◐¹ | ✗² | ✗² | ◐¹ | ✗² | ✗² |"),
        "{sheet}"
    );
    // The newest release of each family first; Tera Term 4.106 (older than 5.3) folded under
    // "older versions", its footnotes numbered as in the whole sheet.
    let (now, older) = sheet.split_once("<details>").unwrap();
    assert!(now.contains(
        "\n| Tera Term 5.3 | Tera Term key generator 5.3 | RSA（ビット数 2048） | あり | ✓ |"
    ));
    assert!(
        !now.contains("Tera Term 4.106 |") && now.contains("| PuTTY 0.83 |"),
        "{now}"
    );
    assert!(
        older.starts_with("<summary>旧バージョン: teraterm-4.106</summary>\n\n"),
        "{older}"
    );
    assert!(older.contains("| Tera Term 4.106 | Tera Term key generator 4.106 | RSA（ビット数 2048） | あり | ◐¹ | ✗² |"));
    assert!(older.contains("</details>\n\n✓ ログイン可"), "{older}");

    let html = render("html", &["--lang", "ja"], &[]);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"),
        "{html}"
    );
    for word in [
        "<th rowspan=\"3\">鍵の種類</th>",
        "<th rowspan=\"2\">RSA（ビット数 2048）</th>",
        "セルをクリック",
        "<li><b>×</b> 拒否</li>",
    ] {
        assert!(html.contains(word), "{word} missing");
    }
}

#[test]
fn the_language_follows_the_locale_unless_lang_says_otherwise() {
    let ja = [("LANG", "ja_JP.UTF-8")];
    let japanese = |out: String| out.contains("SSH接続ツール") && !out.contains(" Client ");
    assert!(japanese(render("table", &[], &ja)));
    assert!(!japanese(render("table", &["--lang", "en"], &ja)));
    // LC_ALL comes first, as POSIX orders them.
    let c = [("LANG", "ja_JP.UTF-8"), ("LC_ALL", "C")];
    assert!(!japanese(render("table", &[], &c)));
    // The data formats are the same in every language.
    assert_eq!(
        render("csv", &["--lang", "ja"], &[]),
        render("csv", &["--lang", "en"], &[])
    );
    let (code, _, err) = common::sshmatrix(&["render", "x.json", "--lang", "fr"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("possible values: en, ja"), "{err}");
}

#[test]
fn explain_and_errors_speak_japanese_with_the_evidence_verbatim() {
    let (code, out, err) = common::sshmatrix_work(&["explain", &nutanix(), "1", "--lang", "ja"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "判定: × 失敗 [auth-signature-rejected] （段階: 認証）",
        "意味: サーバーが署名アルゴリズムを拒否した（例: ssh-rsa（SHA-1）が PubkeyAcceptedAlgorithms にない）",
        "  サーバー側: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms",
        "対処（未検証。--try-fixes で検証します）:",
        "  1.     クライアント: Tera Term 4.107 に更新する（2023-10-15 リリース）",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing:\n{out}");
    }
    // An error's fixed words in Japanese, the message as written.
    let (code, _, err) = common::sshmatrix(&["run", "/no/such/matrix.toml", "--lang", "ja"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("エラー: /no/such/matrix.toml: cannot read"),
        "{err}"
    );
    assert!(err.contains("\n  ヒント: "), "{err}");
}
