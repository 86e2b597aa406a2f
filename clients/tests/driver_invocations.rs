//! Snapshot of every real client's exact command line, environment and typed input for each
//! holder and network route it supports. The snapshot is `tests/snapshots/driver_invocations.txt`;
//! after an intended change, regenerate it with `UPDATE_SNAPSHOTS=1 cargo test -p
//! sshmatrix-clients --test driver_invocations` and review the diff.

use std::fmt::Write as _;
use std::path::Path;

use sshmatrix_clients::driver::{DriverCell, JumpHop, Route, Session};
use sshmatrix_clients::{builtin_profiles, Driver};

const HOLDERS: &[&str] = &[
    "file",
    "agent",
    "password",
    "file+password",
    "keyboard-interactive",
    "file+keyboard-interactive",
];

fn routes() -> Vec<(&'static str, Route)> {
    let jump = |forward| JumpHop {
        port: 40001,
        login: "jump".into(),
        forward,
        pins: vec!["aa:bb:cc".into()],
    };
    vec![
        (
            "proxy",
            Route::Proxy("exec sshd -i -f /run/t/sshd_config".into()),
        ),
        ("port", Route::Port(40000)),
        // A Dropbear target: its daemon's port, and a command instead of the subsystem.
        ("dropbear-port", Route::Port(40000)),
        (
            "jump",
            Route::Jump {
                port: 40000,
                jump: jump(false),
            },
        ),
        (
            "jump-forwarded",
            Route::Jump {
                port: 40000,
                jump: jump(true),
            },
        ),
    ]
}

fn render() -> String {
    let mut out = String::new();
    let program = ["/w/clients/x/python".to_string(), "login.py".to_string()];
    for p in builtin_profiles() {
        let Some(driver) = p.driver else { continue };
        for holder in HOLDERS {
            for (name, route) in routes() {
                let jumps = matches!(route, Route::Jump { .. });
                let forwarded = matches!(&route, Route::Jump { jump, .. } if jump.forward);
                let held = match *holder {
                    "agent" => driver.supports_agent(),
                    "password" => driver.supports_password(),
                    "file+password" => driver.supports_two_steps() && !jumps,
                    "keyboard-interactive" => driver.supports_keyboard_interactive() && !jumps,
                    "file+keyboard-interactive" => {
                        driver.supports_two_steps()
                            && driver.supports_keyboard_interactive()
                            && !jumps
                    }
                    _ => true,
                };
                if !held || (jumps && !driver.supports_jumps()) {
                    continue;
                }
                if forwarded && *holder != "agent" {
                    continue;
                }
                // Libraries connect a socket themselves: a port, never a proxy command.
                if driver.needs_port() && name != "port" {
                    continue;
                }
                let session = match name {
                    "dropbear-port" => Session::Command,
                    _ => Session::Subsystem,
                };
                let cell = DriverCell {
                    key: Path::new("/w/keys/rsa-2048_ssh-keygen_pp/id.client"),
                    public_key: Path::new("/w/keys/rsa-2048_ssh-keygen_pp/id.pub"),
                    passphrase_file: Some(Path::new("/w/keys/rsa-2048_ssh-keygen_pp/passphrase")),
                    agent: (*holder == "agent").then_some(Path::new("/w/runs/r/agent-0.sock")),
                    password_file: (*holder != "file" && *holder != "agent")
                        .then_some(Path::new("/w/runs/r/password")),
                    password_after_key: holder.starts_with("file+"),
                    keyboard_interactive: holder.ends_with("keyboard-interactive"),
                    askpass: Path::new("/w/runs/r/askpass.sh"),
                    certificate: None,
                    known_hosts: None,
                    login: "nutanix",
                    route,
                    pins: vec!["11:22:33".into()],
                    typed: *holder != "agent",
                    program: driver.needs_port().then_some(&program[..]),
                    family: "rsa",
                    timeout_secs: 20,
                    session,
                };
                let inv = driver.invocation(&cell);
                let _ = writeln!(out, "== {} holder={holder} route={name}", p.id);
                let _ = writeln!(out, "argv: {:?}", inv.argv);
                let _ = writeln!(out, "env: {:?}", inv.env);
                let typed = match inv.typed {
                    Some(t) => format!("typed x{} at {:?}", t.times, t.prompt),
                    None => "typed x0".into(),
                };
                let stdin = if inv.stdin_piped { "pipe" } else { "null" };
                let _ = writeln!(out, "stdin: {stdin} {typed}");
            }
        }
    }
    out
}

#[test]
fn every_real_client_invocation_matches_its_snapshot() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/driver_invocations.txt");
    let now = render();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &now).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != now {
        let first = want
            .lines()
            .zip(now.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(now.lines().count()));
        panic!(
            "driver invocations differ from {} at line {}:\n  snapshot: {}\n  now:      {}\n(regenerate with UPDATE_SNAPSHOTS=1 after reviewing)",
            path.display(),
            first + 1,
            want.lines().nth(first).unwrap_or("<end>"),
            now.lines().nth(first).unwrap_or("<end>")
        );
    }
    // Twelve real binaries, each with at least its key-file cells, and 21 library clients.
    assert_eq!(now.matches(" holder=file route=proxy").count(), 12, "{now}");
    assert_eq!(
        now.matches(" holder=file route=port").count(),
        12 + 21,
        "{now}"
    );
    // Secrets reach clients through files named in the environment or typed at a prompt, never
    // in argv (not even the passphrase file's path).
    for argv in now.lines().filter(|l| l.starts_with("argv:")) {
        assert!(
            !argv.contains("/passphrase") && !argv.contains("/password"),
            "{argv}"
        );
    }
}

#[test]
fn an_unknown_driver_is_a_load_error_of_its_profile() {
    let bad: Result<Driver, _> =
        toml::from_str::<std::collections::BTreeMap<String, Driver>>("driver = \"sssh\"")
            .map(|m| m["driver"]);
    let e = bad.unwrap_err().to_string();
    assert!(e.contains("unknown variant `sssh`"), "{e}");
    assert!(e.contains("line 1"), "{e}");
}

/// A certificate cell's certificate reaches every driver that presents certificates, as the
/// option that driver reads: ssh's CertificateFile, plink's -cert, the library's
/// SSHMATRIX_CERT (never mixed into another driver's command line).
#[test]
fn a_certificate_reaches_each_driver_that_presents_one() {
    let program = ["/w/venv/bin/python".to_string(), "login.py".to_string()];
    let cert = Path::new("/w/runs/r/certs/k-cert.pub");
    for driver in Driver::ALL {
        let cell = DriverCell {
            key: Path::new("/w/keys/k/id"),
            public_key: Path::new("/w/keys/k/id.pub"),
            passphrase_file: None,
            agent: None,
            password_file: None,
            password_after_key: false,
            keyboard_interactive: false,
            askpass: Path::new("/w/runs/r/askpass.sh"),
            certificate: Some(cert),
            known_hosts: None,
            login: "u",
            route: Route::Port(2222),
            pins: vec![],
            typed: false,
            program: driver.needs_port().then_some(&program[..]),
            family: "ed25519",
            timeout_secs: 20,
            session: Session::Subsystem,
        };
        let inv = driver.invocation(&cell);
        let words = format!("{:?} {:?}", inv.argv, inv.env);
        let expected = match driver {
            Driver::Ssh => Some("CertificateFile=/w/runs/r/certs/k-cert.pub"),
            Driver::Plink => Some("-cert '/w/runs/r/certs/k-cert.pub'"),
            d if d.supports_certificates() => {
                Some("(\"SSHMATRIX_CERT\", \"/w/runs/r/certs/k-cert.pub\")")
            }
            _ => None,
        };
        match expected {
            Some(e) => assert!(words.contains(e), "{}: {words}", driver.name()),
            None => assert!(!driver.supports_certificates(), "{}", driver.name()),
        }
    }
}
