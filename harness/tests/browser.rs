//! The interactive HTML report in a real browser: Debian's headless Chromium, driven through
//! Debian's ChromeDriver (W3C WebDriver over HTTP on 127.0.0.1), loads the Nutanix report, a
//! filter and the search box are used as a user uses them, a cell is clicked and its evidence
//! panel read, and the laid-out table is measured (every mark under its column header, the
//! page within the window). A screenshot is kept in the scratch directory for a look.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// A ChromeDriver and one headless Chromium session; both end when it is dropped.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/deps installs it)");
        // ChromeDriver names the port it chose once it listens.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|p| p.trim_end_matches('.').parse().ok())
            })
            .expect("chromedriver did not start");
        std::thread::spawn(move || lines.for_each(drop));
        let profile = tempfile::tempdir().unwrap();
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        // The flags the machine's notes give for a closed network: no background connections.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", b._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().expect("a session").to_string();
        b
    }

    /// One WebDriver request; the response's `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        // ChromeDriver says `Connection: close` but keeps the connection open: the body is as
        // long as its Content-Length.
        let mut reader = BufReader::new(s);
        let (mut head, mut length) = (String::new(), 0);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {v}");
        v["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The elements a CSS selector finds.
    fn all(&self, css: &str) -> Vec<String> {
        let v = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e.as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    fn one(&self, css: &str) -> String {
        self.all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("nothing matches {css}"))
    }

    fn click(&self, element: &str) {
        self.session_call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    fn text(&self, element: &str) -> String {
        let v = self.session_call("GET", &format!("/element/{element}/text"), None);
        v.as_str().unwrap().to_string()
    }

    fn type_in(&self, element: &str, text: &str) {
        let body = json!({ "text": text });
        self.session_call("POST", &format!("/element/{element}/value"), Some(body));
    }

    /// Chooses the option `label` of the list `select` by clicking the list, then the option.
    fn choose(&self, select: &str, label: &str) {
        self.click(&self.one(select));
        let options = self.all(&format!("{select} option"));
        let option = options
            .iter()
            .find(|o| self.text(o) == label)
            .unwrap_or_else(|| panic!("{select} has no {label}"));
        self.click(option);
    }

    /// Reads the page's layout (a script that only measures).
    fn measure(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = std::panic::catch_unwind(|| self.call("DELETE", &path, None));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The Nutanix report as HTML in `lang`, written into the scratch directory.
fn report(lang: &str) -> PathBuf {
    let out = common::scratch_dir(&format!("browser-{lang}")).join("report.html");
    let args = ["--lang", lang, "--format", "html"];
    common::run_shipped_to("nutanix-cluster-lockdown.toml", &args, &out);
    out
}

/// Every mark's left edge and width against its column's header (the last header row), row by
/// row, and the page's width against the window's: the layout of the table.
const LAYOUT: &str = "var trs=[].slice.call(document.querySelectorAll('table tr'));\
var heads=trs.filter(function(tr){return !tr.querySelector('td');});\
var cols=[].slice.call(heads[heads.length-1].querySelectorAll('th')).map(function(th){\
var r=th.getBoundingClientRect();return [Math.round(r.left),Math.round(r.width)];});\
var bad=[];trs.forEach(function(tr,i){tr.querySelectorAll('td').forEach(function(td,j){\
var r=td.getBoundingClientRect();var c=cols[j];\
if(!c||Math.abs(Math.round(r.left)-c[0])>1||Math.abs(Math.round(r.width)-c[1])>1)bad.push(i+':'+j);});});\
return {cols:cols.length,bad:bad,rows:trs.length-heads.length,\
page:document.documentElement.scrollWidth,window:window.innerWidth};";

#[test]
fn filters_search_and_a_clicked_cell_work_in_headless_chromium() {
    let file = report("en");
    let b = Browser::start();
    b.open(&file);
    let shown = b.one("#shown");
    assert_eq!(b.text(&shown), "144 of 144 cells shown");

    // A verdict filter: the 16 × stay, the others fade.
    b.choose("#f-verdict", "× refused");
    assert_eq!(b.text(&shown), "16 of 144 cells shown");
    let kept = b.all("td[data-i]:not(.out)");
    assert_eq!(kept.len(), 16);
    assert_eq!(b.all("td.fail:not(.out)").len(), 16);
    // With a target filter on top: the 8 × on AOS 7.0's AHV host.
    b.choose("#f-target", "aos-7.0-ahv");
    assert_eq!(b.text(&shown), "8 of 144 cells shown");

    // A click on a × fills the panel with its evidence and the commands to rerun it.
    let cell = b.one("td.fail:not(.out)");
    b.click(&cell);
    assert_eq!(b.all("td.selected").len(), 1);
    let detail = b.text(&b.one("#detail"));
    let matrix = common::matrices().join("nutanix-cluster-lockdown.toml");
    let lines: Vec<&str> = detail.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "verdict: fail",
            "stage: auth",
            "code: auth-signature-rejected"
        ]
    );
    assert!(
        detail.contains("server: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "explain: sshmatrix explain '{}' 'client=teraterm-4.106,key_tool=teraterm-4.106,key=rsa-2048,passphrase=yes,target=aos-7.0-ahv,user=nutanix' --try-fixes",
            matrix.display()
        )),
        "{detail}"
    );

    // Filters back to all, then the search box: the 36 cells of PuTTYgen's keys.
    b.choose("#f-verdict", "all");
    b.choose("#f-target", "all");
    b.type_in(&b.one("#f-search"), "puttygen");
    assert_eq!(b.text(&shown), "36 of 144 cells shown");

    // The layout: 6 columns under the header, every mark under its own, nothing wider than the
    // window.
    let layout = b.measure(LAYOUT);
    assert_eq!(
        (&layout["cols"], &layout["rows"]),
        (&json!(6), &json!(24)),
        "{layout}"
    );
    assert_eq!(layout["bad"], json!([]), "{layout}");
    assert!(
        layout["page"].as_u64() <= layout["window"].as_u64(),
        "{layout}"
    );
    let png = b.session_call("GET", "/screenshot", None);
    let png = decode_base64(png.as_str().unwrap());
    assert_eq!(&png[1..4], b"PNG");
    // IHDR: the window's size.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1400);
    std::fs::write(file.with_file_name("screenshot.png"), &png).unwrap();
}

#[test]
fn the_japanese_report_filters_and_explains_in_japanese() {
    let file = report("ja");
    let b = Browser::start();
    b.open(&file);
    let shown = b.one("#shown");
    assert_eq!(b.text(&shown), "144 セル中 144 セルを表示");
    b.choose("#f-verdict", "◐ ログインできるが弱い");
    assert_eq!(b.text(&shown), "144 セル中 8 セルを表示");
    b.click(&b.one("td.weak:not(.out)"));
    let detail = b.text(&b.one("#detail"));
    assert!(
        detail.starts_with("判定: 成功\n段階: ログイン\n"),
        "{detail}"
    );
    assert!(
        detail.contains("弱い点: RSA ユーザー鍵の SHA-1 署名（ssh-rsa）"),
        "{detail}"
    );
    let layout = b.measure(LAYOUT);
    assert_eq!(layout["bad"], json!([]), "{layout}");
}

/// Standard base64 (the screenshot WebDriver sends).
fn decode_base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
