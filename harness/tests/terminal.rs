//! On a terminal (a pseudo-terminal from util-linux's `script`): a live progress bar that ends
//! in one summary line, coloured marks, NO_COLOR and `--color never` honoured, `-v` for a line
//! per cell; off a terminal, plain progress lines and no colour.

mod common;

use std::process::Command;

/// Runs `sshmatrix ARGS` inside a pseudo-terminal; everything it wrote (stdout and stderr).
fn on_terminal(args: &str, env: &[(&str, &str)]) -> String {
    let work = common::work_dir();
    let command = format!("{} {args} --work-dir {}", common::exe(), work.display());
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into()
}

fn matrix() -> String {
    common::matrices()
        .join("al2023-teraterm.toml")
        .display()
        .to_string()
}

/// The bar and its summary speak the reader's language.
#[test]
fn the_progress_bar_speaks_japanese() {
    let out = on_terminal(&format!("run {} --lang ja", matrix()), &[]);
    assert!(out.contains("24 セル  ○ 22  × 2  ! 0  "), "{out}");
    assert!(out.contains(" 秒  (") && out.contains(" セル/秒)"), "{out}");
    assert!(out.contains("24 セルを準備しています（接続先 "), "{out}");
}

#[test]
fn a_terminal_gets_a_progress_bar_and_coloured_marks() {
    let out = on_terminal(&format!("run {}", matrix()), &[]);
    assert!(out.contains("24 cells  ○ 22  × 2  ! 0  in "), "{out}");
    // The rate is a number of cells per second, once ("17.8 cells/s", not "17.8163/s cells/s").
    let summary = out.rsplit("24 cells  ○").next().unwrap_or_default();
    let summary = summary.lines().next().unwrap_or_default();
    let rate = summary
        .split("  (")
        .nth(1)
        .and_then(|r| r.split(" cells/s)").next())
        .unwrap_or_default();
    assert!(
        rate.parse::<f64>().is_ok_and(|r| r > 0.0)
            && rate.split('.').nth(1).map(str::len) == Some(1),
        "{out}"
    );
    assert!(!out.contains("/s cells/s"), "{out}");
    assert!(
        !out.contains("[24/24]"),
        "no per-cell lines under the bar: {out}"
    );
    assert!(out.contains("\x1b[32m○\x1b[0m"), "green ○: {out}");
    assert!(out.contains("\x1b[31m×\x1b[0m"), "red ×: {out}");
    let verbose = on_terminal(&format!("run {} -v", matrix()), &[]);
    assert!(verbose.contains("[24/24] #"), "{verbose}");
    // A terminal the bar cannot draw on (TERM=dumb) gets the lines instead of nothing.
    let dumb = on_terminal(&format!("run {}", matrix()), &[("TERM", "dumb")]);
    assert!(dumb.contains("[24/24] #"), "{dumb}");
    for (args, env) in [
        (format!("run {} -q", matrix()), vec![("NO_COLOR", "1")]),
        (format!("run {} -q --color never", matrix()), vec![]),
    ] {
        let plain = on_terminal(&args, &env);
        assert!(!plain.contains("\x1b[3"), "{args} {env:?}: {plain}");
        assert!(plain.contains("○ ok 22 (◐ weak 1)   × fail 2"), "{plain}");
    }
}

#[test]
fn off_a_terminal_progress_is_one_line_per_cell_and_uncoloured() {
    let o = common::bin()
        .args(["run", &matrix(), "--color", "auto", "--work-dir"])
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(err.contains("[24/24] #"), "{err}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'), "{out}{err}");
    let forced = common::bin()
        .args(["run", &matrix(), "-q", "--color", "always", "--work-dir"])
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&forced.stdout).contains("\x1b[32m○"));
}

/// The widest table line of a rendered report (box-drawing lines only), in characters.
fn table_width(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(['┌', '│', '├', '└']))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

fn run_table(matrix: &str, columns: &str, extra: &[&str]) -> String {
    let o = common::bin()
        .args(["run", matrix, "-q"])
        .args(extra)
        .arg("--work-dir")
        .arg(common::work_dir())
        .env("COLUMNS", columns)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into()
}

#[test]
fn tables_fit_the_terminal_width_unless_wide() {
    let nutanix = common::matrices().join("nutanix-cluster-lockdown.toml");
    let nutanix = nutanix.to_str().unwrap();
    let wide = run_table(nutanix, "100", &["--wide"]);
    assert!(table_width(&wide) > 100, "the full layout: {wide}");
    for columns in [100, 80] {
        let fitted = run_table(nutanix, &columns.to_string(), &[]);
        assert!(table_width(&fitted) <= columns, "{columns}: {fitted}");
        // Split by release, each cell still there: 144 marks, the same counts and legend.
        assert!(
            fitted.contains("(1/2) AOS 7.0") && fitted.contains("(2/2) AOS 6.10"),
            "{fitted}"
        );
        assert_eq!(fitted.matches('○').count(), wide.matches('○').count());
        assert!(
            fitted.contains("○ ok 128 (◐ weak 8)   × fail 16   ! error 0"),
            "{fitted}"
        );
    }
    // A typical matrix fits 80 in one table; its single-valued axes move to the title.
    let al2023 = run_table(&matrix(), "80", &[]);
    assert!(table_width(&al2023) <= 80, "{al2023}");
    assert!(
        al2023.lines().next().unwrap().ends_with("Passphrase: no"),
        "{al2023}"
    );
}
