//! `sshmatrix diagnose` on logs written by real programs: the real OpenSSH client at `-vvv` and
//! the real sshd (`sshmatrix serve --log`) under the shipped policies, paramiko's DEBUG logging;
//! the same logs damaged the way tickets damage them; files that are no logs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// A served policy whose server log (every connection's) goes to a file: `sshmatrix serve --log`.
struct Served {
    inner: common::Served,
    log: PathBuf,
}

impl Served {
    fn start(policy: &str, authorize: &Path, dir: &Path) -> Served {
        Served::start_trusting(policy, &["--authorize", authorize.to_str().unwrap()], dir)
    }

    /// Serves `policy` trusting what `trust` names (`--authorize FILE`, `--trust-ca FILE`).
    fn start_trusting(policy: &str, trust: &[&str], dir: &Path) -> Served {
        let log = dir.join(format!("{policy}.server.log"));
        let _ = std::fs::remove_file(&log);
        let mut extra = trust.to_vec();
        extra.extend(["--log", log.to_str().unwrap()]);
        let inner = common::Served::start_with(policy, &extra, &common::work_dir());
        Served { inner, log }
    }

    /// The port, as `ssh -p` takes it.
    fn port(&self) -> &str {
        self.inner.port()
    }

    /// The real OpenSSH client at -vvv with `options`: its exit code and its log.
    fn ssh(&self, key: &Path, options: &[&str]) -> (i32, String) {
        self.ssh_as(&sshmatrix_servers::sshd::current_user(), key, options)
    }

    /// As [`Served::ssh`], logging in as `user` (`sshmatrix` in a release image).
    fn ssh_as(&self, user: &str, key: &Path, options: &[&str]) -> (i32, String) {
        common::ssh_vvv(key, self.port(), user, options)
    }

    /// The server log so far (every connection's).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's log of the connections since byte `from`, once the last of them has ended
    /// (the client may exit before its server has written its last line): waits, bounded, for
    /// a line that ends a connection.
    fn log_after(&self, from: usize) -> String {
        const ENDS: [&str; 5] = [
            "Unable to negotiate",
            "Connection closed by",
            "Disconnected from",
            "Received disconnect",
            "Closing connection to",
        ];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let log = self.log();
            let new = log.get(from..).unwrap_or_default().to_string();
            let ended = new
                .lines()
                .last()
                .is_some_and(|l| ENDS.iter().any(|e| l.starts_with(e)));
            if ended || std::time::Instant::now() > deadline {
                return new;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A key made by the real ssh-keygen.
fn keygen(dir: &Path, name: &str, kind: &[&str]) -> PathBuf {
    let key = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "", "-f"])
        .arg(&key)
        .args(kind)
        .status()
        .unwrap();
    assert!(st.success());
    key
}

/// `sshmatrix diagnose ARGS --format json`: exit code and the case.
fn diagnose(files: &[&Path], extra: &[&str]) -> (i32, Value, String) {
    let o = common::bin()
        .arg("diagnose")
        .args(files)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v, err)
}

/// The failed attempts of a case.
fn failures(case: &Value) -> Vec<&Value> {
    case["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["cause"]["verdict"] != "ok")
        .collect()
}

fn candidates(a: &Value) -> Vec<&str> {
    a["cause"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Tera Term 4.106's case (field report §1) reproduced by the real OpenSSH client configured
/// to sign RSA keys with ssh-rsa only, against the Nutanix AHV policy: named from both logs and
/// from the server's alone, left to its candidates by the client's alone; the written matrix
/// reproduces it and its fixes are verified.
#[test]
fn the_ahv_ssh_rsa_case_is_named_from_real_logs_and_reproduced() {
    let dir = common::scratch_dir("diagnose-ahv");
    let key = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048"]);
    let served = Served::start("nutanix-ahv-lockdown", &dir.join("rsa.pub"), &dir);
    let (code, client) = served.ssh(&key, &["PubkeyAcceptedAlgorithms=ssh-rsa"]);
    assert_eq!(code, 255, "{client}");
    let client_log = write(&dir, "client.log", &client);
    let server_log = write(&dir, "server.log", served.log_after(0));
    let (code, both, err) = diagnose(&[&client_log, &server_log], &[]);
    assert_eq!(code, 0, "{err}");
    let f = failures(&both);
    assert_eq!(f.len(), 1, "{both:#}");
    let a = f[0];
    assert_eq!(a["cause"]["code"], "auth-signature-rejected", "{a:#}");
    assert_eq!(
        a["cause"]["server_reason"],
        "signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms"
    );
    assert_eq!(a["client_matches"][0]["profile"], "openssh-9.2");
    assert_eq!(a["client_matches"][0]["distance"], 0);
    assert_eq!(a["server_software"], "OpenSSH_9.2p1");
    // The client's log alone cannot tell a refused algorithm from an unregistered key.
    let (_, alone, _) = diagnose(&[&client_log], &[]);
    let a = failures(&alone)[0];
    assert_eq!(a["cause"]["code"], Value::Null);
    let c = candidates(a);
    assert!(
        c.contains(&"auth-signature-rejected") && c.contains(&"auth-key-not-authorized"),
        "{c:?}"
    );
    // The server's alone names it.
    let (_, server_only, _) = diagnose(&[&server_log], &[]);
    assert_eq!(
        failures(&server_only)[0]["cause"]["code"],
        "auth-signature-rejected"
    );
    // The reproduction: written, run, its fixes verified.
    let out = dir.join("case.toml");
    let o = common::bin()
        .arg("diagnose")
        .args([&client_log, &server_log])
        .arg("--matrix")
        .arg(&out)
        .args(["--reproduce", "--try-fixes", "--work-dir"])
        .arg(common::work_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("reproduced: [auth-signature-rejected] with the server saying \"signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms\", as in the logs"), "{text}");
    assert!(
        text.contains("○ works  client: use an Ed25519 key"),
        "{text}"
    );
    assert!(
        text.contains("○ works  server: sshd_config: PubkeyAcceptedAlgorithms +ssh-rsa"),
        "{text}"
    );
    let matrix = std::fs::read_to_string(&out).unwrap();
    assert!(
        matrix.contains("keys = [\"rsa-3072\"]")
            && matrix.contains("\"PubkeyAcceptedAlgorithms -ssh-rsa\""),
        "{matrix}"
    );
    let profile = std::fs::read_to_string(dir.join("case.profiles/case-client.toml")).unwrap();
    assert!(
        profile.contains("base = \"openssh-9.2\"") && profile.contains("ssh-rsa-only"),
        "{profile}"
    );
    // The written matrix runs on its own with its profile and meets its expectation.
    let run = common::bin()
        .arg("--profiles")
        .arg(dir.join("case.profiles"))
        .args(["run", "-q"])
        .arg(&out)
        .arg("--work-dir")
        .arg(common::work_dir())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    damaged_copies_read_the_same(&dir, &client, &served.log_after(0));
}

/// The same logs as a ticket delivers them: CRLF, UTF-16 from PowerShell, Shift_JIS with
/// Japanese lines, Markdown fences, syslog prefixes among another connection's lines, a mix of
/// both sides pasted in one file, a client log cut short.
fn damaged_copies_read_the_same(dir: &Path, client: &str, server: &str) {
    let code_of = |files: &[&Path]| {
        let (code, case, err) = diagnose(files, &[]);
        assert_eq!(code, 0, "{err}");
        failures(&case)
            .first()
            .map(|a| a["cause"]["code"].as_str().unwrap_or("null").to_string())
            .unwrap_or_default()
    };
    let crlf = write(dir, "crlf.log", client.replace('\n', "\r\n"));
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(server.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16 = write(dir, "utf16.log", utf16);
    assert_eq!(code_of(&[&crlf, &utf16]), "auth-signature-rejected");
    let japanese = format!("接続ログ（お客様提供）\n{server}");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&japanese);
    let sjis = write(dir, "sjis.log", sjis);
    assert_eq!(code_of(&[&crlf, &sjis]), "auth-signature-rejected");
    // Syslog prefixes, and another client's accepted login interleaved under another PID.
    let mut syslog = String::new();
    for (i, line) in server.lines().enumerate() {
        syslog.push_str(&format!(
            "Dec  7 02:10:0{} ahv-1 sshd[4242]: {line}\n",
            i % 10
        ));
        syslog.push_str(&format!("Dec  7 02:10:0{} ahv-1 sshd[4343]: Accepted publickey for nutanix from 10.0.0.9 port 6000{i} ssh2: ECDSA SHA256:other\n", i % 10));
    }
    let syslog = write(dir, "syslog.log", &syslog);
    let (_, case, _) = diagnose(&[&crlf, &syslog], &[]);
    assert_eq!(failures(&case).len(), 1, "{case:#}");
    assert_eq!(
        failures(&case)[0]["cause"]["code"],
        "auth-signature-rejected"
    );
    let pasted = write(
        dir,
        "ticket.md",
        format!("Customer says:\n```\n{client}```\nand the server:\n```\n{server}```\n"),
    );
    assert_eq!(code_of(&[&pasted]), "auth-signature-rejected");
    // Cut short before the refusal: the server's word stands.
    let cut: String = client.lines().take(60).map(|l| format!("{l}\n")).collect();
    let cut = write(dir, "cut.log", cut);
    assert_eq!(code_of(&[&cut, &utf16]), "auth-signature-rejected");
    // --redact: no address, user or fingerprint survives.
    let (_, red, _) = diagnose(&[&crlf, &syslog], &["--redact"]);
    let text = red.to_string();
    let user = sshmatrix_servers::sshd::current_user();
    assert!(
        !text.contains("10.0.0.9") && !text.contains(&format!("\"{user}\"")),
        "{text}"
    );
    assert!(text.contains("addr-") && text.contains("user-"), "{text}");
}

/// A key the server does not know, and a login that works: both sides agree.
#[test]
fn an_unregistered_key_and_a_login_are_told_apart() {
    let dir = common::scratch_dir("diagnose-unknown");
    let known = keygen(&dir, "known", &["-t", "ed25519"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    let served = Served::start("rhel9-default", &dir.join("known.pub"), &dir);
    let (code, refused) = served.ssh(&stranger, &[]);
    assert_eq!(code, 255);
    let refused_log = write(&dir, "refused.log", &refused);
    let server_log = write(&dir, "server.log", served.log_after(0));
    let (_, case, _) = diagnose(&[&refused_log, &server_log], &[]);
    let f = failures(&case);
    assert_eq!(f.len(), 1, "{case:#}");
    assert_eq!(f[0]["cause"]["code"], "auth-key-not-authorized", "{case:#}");
    let (code, ok) = served.ssh(&known, &[]);
    assert_eq!(code, 0, "{ok}");
    let ok_log = write(&dir, "ok.log", &ok);
    let o = common::bin()
        .args(["diagnose"])
        .arg(&ok_log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("no failed attempt: every attempt in these logs logged in"));
}

/// A real listening sshd (OpenSSH 10.0 in the Debian 13 image, `serve --listen`) with its
/// default PerSourcePenalties: a client whose logins keep failing is cut off after a few
/// attempts, and so is the next client from the same address with a good key; diagnose names
/// the penalty from the client's and the server's logs.
#[test]
fn a_listening_sshd_cuts_off_a_source_after_failed_logins_in_containers() {
    let dir = common::scratch_dir("diagnose-penalty");
    let good = keygen(&dir, "good", &["-t", "ed25519"]);
    let bad = keygen(&dir, "bad", &["-t", "ed25519"]);
    let good_pub = dir.join("good.pub");
    let trust = [
        "--authorize",
        good_pub.to_str().unwrap(),
        "--image",
        "trixie",
        "--listen",
    ];
    let served = Served::start_trusting("as-shipped", &trust, &dir);
    // Refused logins, until the daemon stops answering (defaults: authfail 5s, min 15s).
    let mut refused = 0;
    let cut_off = loop {
        let (code, log) = served.ssh_as("sshmatrix", &bad, &[]);
        assert_eq!(code, 255, "{log}");
        if !log.contains("Permission denied") {
            break log;
        }
        refused += 1;
        assert!(refused < 8, "never cut off: {}", served.log());
    };
    assert!(refused >= 3, "cut off after {refused} refusals");
    assert!(
        cut_off.contains("banner line 0: Not allowed at this time"),
        "{cut_off}"
    );
    // The source is penalised, not the key: the authorized key is turned away too.
    let (code, log) = served.ssh_as("sshmatrix", &good, &[]);
    assert_eq!(code, 255, "{log}");
    let server = served.log();
    assert!(
        server.contains("penalty: failed authentication"),
        "{server}"
    );
    let client_log = write(&dir, "cut-off.log", &cut_off);
    let server_log = write(&dir, "server.log", &server);
    let (_, case, _) = diagnose(&[&client_log, &server_log], &[]);
    let paired = case["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client"].is_object() && a["server"].is_object())
        .unwrap_or_else(|| panic!("no attempt paired: {case:#}"));
    assert_eq!(paired["cause"]["code"], "source-penalized", "{case:#}");
}

/// User certificates refused for their CA's SHA-1 signature, for their validity and for their
/// principals by a served RHEL 9 DEFAULT that trusts the CA (`serve --trust-ca`): each named
/// from the real `ssh -vvv` and sshd logs, and from the server's alone.
#[test]
fn refused_certificates_are_named_from_real_logs() {
    let dir = common::scratch_dir("diagnose-certificates");
    let ca = keygen(&dir, "ca", &["-t", "rsa", "-b", "3072"]);
    let user = keygen(&dir, "user", &["-t", "ed25519"]);
    let login = sshmatrix_servers::sshd::current_user();
    let served = Served::start_trusting(
        "rhel9-default",
        &["--trust-ca", dir.join("ca.pub").to_str().unwrap()],
        &dir,
    );
    let cases: [(&[&str], &str); 4] = [
        (
            &["-t", "ssh-rsa", "-V", "-5m:+1d", "-n", &login],
            "cert-ca-signature-refused",
        ),
        (
            &[
                "-t",
                "rsa-sha2-512",
                "-V",
                "20200101:20200102",
                "-n",
                &login,
            ],
            "cert-expired",
        ),
        (
            &["-t", "rsa-sha2-512", "-V", "+52w:+53w", "-n", &login],
            "cert-not-yet-valid",
        ),
        (
            &["-t", "rsa-sha2-512", "-V", "-5m:+1d", "-n", "someone-else"],
            "cert-principal-not-allowed",
        ),
    ];
    for (n, (sign, code)) in cases.iter().enumerate() {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(&ca)
            .args(["-I", "case"])
            .args(*sign)
            .arg(dir.join("user.pub"))
            .status()
            .unwrap();
        assert!(st.success());
        let from = served.log().len();
        // ssh offers user-cert.pub with the key it was given, then the bare key (unknown).
        let (exit, client) = served.ssh(&user, &[]);
        assert_eq!(exit, 255, "{client}");
        assert!(client.contains("ED25519-CERT"), "{client}");
        let client_log = write(&dir, &format!("client-{n}.log"), &client);
        let server_log = write(&dir, &format!("server-{n}.log"), served.log_after(from));
        for files in [vec![&client_log, &server_log], vec![&server_log]] {
            let files: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
            let (_, case, err) = diagnose(&files, &[]);
            let f = failures(&case);
            assert_eq!(f.len(), 1, "{err}{case:#}");
            assert_eq!(f[0]["cause"]["code"], *code, "{case:#}");
        }
    }
    // A valid certificate logs in.
    let st = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "ok", "-V", "-5m:+1d", "-n", &login])
        .arg(dir.join("user.pub"))
        .status()
        .unwrap();
    assert!(st.success());
    let (exit, client) = served.ssh(&user, &[]);
    assert_eq!(exit, 0, "{client}");
}

/// A bastion that wants the key and then PAM's keyboard-interactive prompt, served in a
/// container (`serve --image --sshd "UsePAM yes"`): ssh in batch mode stops after the key's
/// partial success (auth-partial-not-continued), and ssh answering the prompt through
/// SSH_ASKPASS with a wrong password (the account has none) is refused by PAM
/// (auth-kbdint-refused) — each named from both real logs and from either alone.
#[test]
fn two_step_keyboard_interactive_refusals_are_named_in_containers() {
    let dir = common::scratch_dir("diagnose-kbdint");
    let key = keygen(&dir, "key", &["-t", "ed25519"]);
    let authorized = dir.join("key.pub");
    let trust = [
        "--authorize",
        authorized.to_str().unwrap(),
        "--image",
        "bookworm",
    ];
    let lines = [
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "AuthenticationMethods publickey,keyboard-interactive",
    ];
    let mut args = trust.to_vec();
    args.extend(lines.iter().flat_map(|l| ["--sshd", *l]));
    let served = Served::start_trusting("as-shipped", &args, &dir);
    // The wrong answer comes from a 0600 file through an askpass script, never argv.
    let answer = write(&dir, "answer", "not-the-password\n");
    std::fs::set_permissions(&answer, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let askpass = write(
        &dir,
        "askpass.sh",
        format!("#!/bin/sh\ncat '{}'\n", answer.display()),
    );
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let cases: [(&[&str], &str); 2] = [
        (&["BatchMode=yes"], "auth-partial-not-continued"),
        (
            &["BatchMode=no", "NumberOfPasswordPrompts=1"],
            "auth-kbdint-refused",
        ),
    ];
    for (n, (options, code)) in cases.iter().enumerate() {
        let from = served.log().len();
        let mut args = vec!["-vvv"];
        args.extend(options.iter().flat_map(|o| ["-o", *o]));
        let out = common::ssh_command(served.port(), "sshmatrix", &[&key], &args)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .output()
            .unwrap();
        let client = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(255), "{client}");
        assert!(client.contains("with partial success"), "{client}");
        let client_log = write(&dir, &format!("client-{n}.log"), &client);
        let server_log = write(&dir, &format!("server-{n}.log"), served.log_after(from));
        let both = [client_log.as_path(), server_log.as_path()];
        for files in [&both[..], &both[..1], &both[1..]] {
            let (_, case, err) = diagnose(files, &[]);
            let f = failures(&case);
            assert_eq!(f.len(), 1, "{err}{case:#}");
            assert_eq!(f[0]["cause"]["code"], *code, "{files:?}: {case:#}");
        }
    }
}

/// Host certificates the real ssh refuses (the real sshd presents certificates the real
/// ssh-keygen signed: expired, for another host, by an ssh-rsa CA; the client trusts only the
/// CA): each named from the `ssh -v` log alone, at the hostkey stage.
#[test]
fn refused_host_certificates_are_named_from_real_client_logs() {
    let dir = common::scratch_dir("diagnose-host-certificates");
    let host = keygen(&dir, "host", &["-t", "ed25519"]);
    let user = keygen(&dir, "user", &["-t", "ed25519"]);
    keygen(&dir, "ca", &["-t", "ed25519"]);
    keygen(&dir, "ca-rsa", &["-t", "rsa", "-b", "3072"]);
    let sshd = sshmatrix_servers::sshd::find_sshd().unwrap();
    let cases = [
        (
            "ca",
            "ssh-ed25519",
            "20200101:20200102",
            "sshmatrix-target",
            "cert-expired",
        ),
        (
            "ca",
            "ssh-ed25519",
            "-5m:+1d",
            "elsewhere",
            "cert-principal-not-allowed",
        ),
        (
            "ca-rsa",
            "ssh-rsa",
            "-5m:+1d",
            "sshmatrix-target",
            "cert-ca-signature-refused",
        ),
    ];
    for (n, (ca, sig, validity, principal, code)) in cases.iter().enumerate() {
        let public = dir.join(format!("host-{n}.pub"));
        std::fs::copy(dir.join("host.pub"), &public).unwrap();
        let st = Command::new("ssh-keygen")
            .args(["-q", "-h", "-s"])
            .arg(dir.join(ca))
            .args(["-t", sig, "-I", "h", "-n", principal, "-V", validity])
            .arg(&public)
            .status()
            .unwrap();
        assert!(st.success());
        let config = write(
            &dir,
            &format!("sshd-{n}.conf"),
            format!(
                "HostKey {}\nHostCertificate {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\nStrictModes no\n",
                host.display(),
                dir.join(format!("host-{n}-cert.pub")).display(),
                dir.join("user.pub").display()
            ),
        );
        let ca_line = std::fs::read_to_string(dir.join(format!("{ca}.pub"))).unwrap();
        let known = write(
            &dir,
            &format!("known-{n}"),
            format!("@cert-authority * {ca_line}"),
        );
        let out = Command::new("ssh")
            .args([
                "-v",
                "-F",
                "none",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg("-o")
            .arg(format!(
                "ProxyCommand={} -i -f {}",
                sshd.display(),
                config.display()
            ))
            .arg("-i")
            .arg(&user)
            .args(["sshmatrix-target", "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let client = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(client.contains("Host key verification failed"), "{client}");
        let log = write(&dir, &format!("client-{n}.log"), &client);
        let (_, case, err) = diagnose(&[&log], &[]);
        let f = failures(&case);
        assert_eq!(f.len(), 1, "{err}{case:#}");
        assert_eq!(f[0]["cause"]["code"], *code, "{case:#}");
        assert_eq!(f[0]["cause"]["stage"], "hostkey", "{case:#}");
    }
}

/// paramiko at DEBUG, refused for ssh-rsa: named from both logs.
#[test]
fn a_paramiko_debug_log_is_read_from_registries() {
    let installed = installed("real-paramiko-3.5.1");
    let python = installed.join("venv/bin/python");
    let dir = common::scratch_dir("diagnose-paramiko");
    let key = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048"]);
    let served = Served::start("rhel9-default", &dir.join("rsa.pub"), &dir);
    let script = "import logging, sys, paramiko\n\
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n\
c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n\
try:\n    c.connect('127.0.0.1', port=int(sys.argv[1]), username=sys.argv[3], key_filename=sys.argv[2], look_for_keys=False, allow_agent=False, disabled_algorithms={'pubkeys': ['rsa-sha2-512', 'rsa-sha2-256']})\n\
except Exception as e:\n    print('refused', e)\n";
    let o = Command::new(&python)
        .args(["-c", script, served.port()])
        .arg(&key)
        .arg(sshmatrix_servers::sshd::current_user())
        .output()
        .unwrap();
    let client = write(&dir, "paramiko.log", &o.stderr);
    let server = write(&dir, "server.log", served.log_after(0));
    let (code, case, err) = diagnose(&[&client, &server], &[]);
    assert_eq!(code, 0, "{err}");
    let f = failures(&case);
    assert_eq!(f.len(), 1, "{case:#}");
    let a = f[0];
    assert_eq!(a["client"]["program"], "paramiko");
    assert_eq!(a["client"]["ident"], "SSH-2.0-paramiko_3.5.1");
    assert_eq!(a["client"]["keys"][0]["signature"], "ssh-rsa");
    assert_eq!(a["cause"]["code"], "auth-signature-rejected", "{a:#}");
    // Alone, the client's log says it signed ssh-rsa: that candidate comes first.
    let (_, alone, _) = diagnose(&[&client], &[]);
    assert_eq!(
        candidates(failures(&alone)[0])[0],
        "auth-signature-rejected"
    );
}

/// AsyncSSH at DEBUG (debug level 2), made to sign RSA as ssh-rsa against the AHV policy: its
/// log alone names the client (AsyncSSH 2.24.1, its KEXINIT equal to the profile's), the key's
/// signature algorithm and the cause's candidates; with the server's log, the cause. A login
/// with rsa-sha2-256 reads as a login.
#[test]
fn an_asyncssh_debug_log_is_read_from_registries() {
    let installed = installed("real-asyncssh-2.24.1");
    let python = installed.join("venv/bin/python");
    let dir = common::scratch_dir("diagnose-asyncssh");
    let key = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048"]);
    let served = Served::start("nutanix-ahv-lockdown", &dir.join("rsa.pub"), &dir);
    let script = r#"import asyncio, logging, sys, asyncssh
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                    format='%(asctime)s %(levelname)s:%(name)s:%(message)s')
asyncssh.set_debug_level(2)
async def main():
    sigs = sys.argv[4].split(',') if sys.argv[4] else ()
    try:
        c = await asyncssh.connect('127.0.0.1', int(sys.argv[1]), username=sys.argv[3],
                                   client_keys=[sys.argv[2]], known_hosts=None, config=None,
                                   agent_path=None, signature_algs=sigs)
        c.close()
    except Exception as e:
        print('refused', e)
asyncio.run(main())
"#;
    let login = |sigs: &str| {
        let before = served.log().len();
        let o = Command::new(&python)
            .args(["-c", script, served.port()])
            .arg(&key)
            .arg(sshmatrix_servers::sshd::current_user())
            .arg(sigs)
            .output()
            .unwrap();
        (o.stderr, served.log_after(before))
    };
    let (client, server) = login("ssh-rsa");
    let client = write(&dir, "asyncssh.log", &client);
    let server = write(&dir, "server.log", server);
    let (code, alone, err) = diagnose(&[&client], &[]);
    assert_eq!(code, 0, "{err}");
    let f = failures(&alone);
    assert_eq!(f.len(), 1, "{alone:#}");
    let a = f[0];
    assert_eq!(a["client"]["program"], "asyncssh");
    assert_eq!(a["client"]["ident"], "SSH-2.0-AsyncSSH_2.24.1");
    assert_eq!(a["client"]["keys"][0]["signature"], "ssh-rsa", "{a:#}");
    assert_eq!(
        a["client_matches"][0]["profile"], "asyncssh-2.24.1",
        "{a:#}"
    );
    assert_eq!(a["client_matches"][0]["distance"], 0, "{a:#}");
    assert_eq!(
        a["client"]["negotiated"]["kex"], "curve25519-sha256",
        "{a:#}"
    );
    assert_eq!(candidates(a)[0], "auth-signature-rejected", "{a:#}");
    let (_, both, _) = diagnose(&[&client, &server], &[]);
    let f = failures(&both);
    assert_eq!(f.len(), 1, "{both:#}");
    assert_eq!(f[0]["cause"]["code"], "auth-signature-rejected", "{both:#}");
    // In Japanese: sshmatrix's words translated, the code's meaning added, the lines verbatim.
    let (code, text, _) = common::sshmatrix(&[
        "diagnose",
        client.to_str().unwrap(),
        server.to_str().unwrap(),
        "--lang",
        "ja",
    ]);
    assert_eq!(code, 0, "{text}");
    for line in [
        "試行 1 件: 失敗 1 件、ログイン成功 0 件",
        "  クライアント側: SSH-2.0-AsyncSSH_2.24.1",
        "  提示した鍵: RSA、署名 ssh-rsa",
        "  判定: × 失敗 [auth-signature-rejected] （段階: 認証）",
        "  意味: サーバーが署名アルゴリズムを拒否した（例: ssh-rsa（SHA-1）が PubkeyAcceptedAlgorithms にない）",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(text
        .contains("userauth_pubkey: signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms"));
    let (ok, _) = login("");
    let ok = write(&dir, "ok.log", ok);
    let (_, case, _) = diagnose(&[&ok], &[]);
    assert!(failures(&case).is_empty(), "{case:#}");
    assert_eq!(case["attempts"][0]["cause"]["verdict"], "ok");
    assert_eq!(
        case["attempts"][0]["client"]["keys"][0]["signature"],
        "rsa-sha2-256"
    );
}

/// JSch from Debian (libjsch-java 0.1.55, the library under Jenkins and many Java tools) with its
/// logger on: an RSA key (JSch 0.1.x signs only ssh-rsa) refused by the RHEL 9 policy. Its log
/// alone names JSch by its KEXINIT and puts the SHA-1 signature first among the candidates;
/// with the server's log, the cause. An ECDSA key logs in.
#[test]
fn a_jsch_log_is_read_from_registries() {
    let dir = common::scratch_dir("diagnose-jsch");
    let rsa = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"]);
    let ecdsa = keygen(&dir, "ecdsa", &["-t", "ecdsa", "-b", "256", "-m", "PEM"]);
    let keys = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("rsa.pub")).unwrap(),
        std::fs::read_to_string(dir.join("ecdsa.pub")).unwrap()
    );
    let served = Served::start("rhel9-default", &write(&dir, "keys.pub", keys), &dir);
    let program = write(
        &dir,
        "JschLog.java",
        r#"import com.jcraft.jsch.*;
public class JschLog {
    public static void main(String[] a) throws Exception {
        JSch.setLogger(new Logger() {
            public boolean isEnabled(int level) { return true; }
            public void log(int level, String message) {
                String[] names = {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
                System.err.println(names[level] + ": " + message);
            }
        });
        JSch j = new JSch();
        j.addIdentity(a[1]);
        Session s = j.getSession(a[2], "127.0.0.1", Integer.parseInt(a[0]));
        s.setConfig("StrictHostKeyChecking", "no");
        try { s.connect(20000); s.disconnect(); } catch (JSchException e) { System.out.println(e.getMessage()); }
    }
}
"#,
    );
    let login = |key: &Path| {
        let before = served.log().len();
        let o = Command::new("java")
            .args(["-cp", "/usr/share/java/jsch.jar"])
            .arg(&program)
            .arg(served.port())
            .arg(key)
            .arg(sshmatrix_servers::sshd::current_user())
            .output()
            .unwrap();
        (o.stderr, served.log_after(before))
    };
    let (client, server) = login(&rsa);
    let client = write(&dir, "jsch.log", client);
    let server = write(&dir, "server.log", server);
    let (code, alone, err) = diagnose(&[&client], &[]);
    assert_eq!(code, 0, "{err}");
    let f = failures(&alone);
    assert_eq!(f.len(), 1, "{alone:#}");
    assert_eq!(f[0]["client"]["program"], "jsch");
    // Debian's 0.1.55 still says 0.1.54; its KEXINIT is the profile's.
    assert_eq!(f[0]["client"]["ident"], "SSH-2.0-JSCH-0.1.54");
    assert_eq!(
        f[0]["client_matches"][0]["profile"], "jsch-0.1.55",
        "{alone:#}"
    );
    assert_eq!(f[0]["client_matches"][0]["distance"], 0, "{alone:#}");
    assert_eq!(
        f[0]["client"]["negotiated"]["cipher"], "aes128-ctr",
        "{alone:#}"
    );
    assert_eq!(candidates(f[0])[0], "auth-signature-rejected", "{alone:#}");
    let (_, both, _) = diagnose(&[&client, &server], &[]);
    let f = failures(&both);
    assert_eq!(f.len(), 1, "{both:#}");
    assert_eq!(f[0]["cause"]["code"], "auth-signature-rejected", "{both:#}");
    let (ok, _) = login(&ecdsa);
    let ok = write(&dir, "ok.log", ok);
    let (_, case, _) = diagnose(&[&ok], &[]);
    assert!(failures(&case).is_empty(), "{case:#}");
    assert_eq!(case["attempts"][0]["cause"]["verdict"], "ok", "{case:#}");
}

/// Go's x/crypto/ssh (0.25.0, the Debian 13 package compiled in its image) as a program built on
/// it reports a failure: the error line its `err.Error()` gives. An unregistered key is named from
/// the line and the server's log; the line alone leaves the auth candidates; a cipher the server
/// does not share is `cipher-no-common` from the line alone.
#[test]
fn a_go_error_line_is_read_in_containers() {
    let go = installed("real-go-x-crypto-0.25.0").join("go_login");
    let dir = common::scratch_dir("diagnose-go");
    let known = keygen(&dir, "known", &["-t", "ed25519"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    // The error Go gives, without the driver's `sshmatrix-result fail STAGE` framing.
    let error_line = |port: &str, key: &Path| {
        let o = Command::new(&go)
            .args(["127.0.0.1", port, &sshmatrix_servers::sshd::current_user()])
            .arg(key)
            .args(["20", ""])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("sshmatrix-result fail "))
            .unwrap_or_else(|| panic!("no failure: {out}"));
        line.split_once(' ').unwrap().1.to_string()
    };
    let served = Served::start("rhel9-default", &dir.join("known.pub"), &dir);
    let line = error_line(served.port(), &stranger);
    assert!(
        line.starts_with("ssh: handshake failed: ssh: unable to authenticate"),
        "{line}"
    );
    let client = write(&dir, "go.log", format!("{line}\n"));
    let server = write(&dir, "server.log", served.log_after(0));
    let (code, both, err) = diagnose(&[&client, &server], &[]);
    assert_eq!(code, 0, "{err}");
    let f = failures(&both);
    assert_eq!(f.len(), 1, "{both:#}");
    assert_eq!(f[0]["client"]["program"], "go-x-crypto");
    assert_eq!(f[0]["cause"]["code"], "auth-key-not-authorized", "{both:#}");
    let (_, alone, _) = diagnose(&[&client], &[]);
    assert!(
        candidates(failures(&alone)[0]).contains(&"auth-key-not-authorized"),
        "{alone:#}"
    );
    drop(served);
    let known_pub = dir.join("known.pub");
    let args = [
        "--authorize",
        known_pub.to_str().unwrap(),
        "--sshd",
        "Ciphers aes256-cbc",
    ];
    let cbc = Served::start_trusting("rhel9-default", &args, &dir);
    let line = error_line(cbc.port(), &known);
    let client = write(&dir, "go-cipher.log", format!("{line}\n"));
    let (_, case, _) = diagnose(&[&client], &[]);
    let f = failures(&case);
    assert_eq!(f[0]["cause"]["code"], "cipher-no-common", "{case:#}");
    assert!(f[0]["cause"]["reason"]
        .as_str()
        .unwrap()
        .contains("server offered: [aes256-cbc]"));
}

/// The library client `name` installed from its registry into the tests' work directory: its
/// directory.
fn installed(name: &str) -> PathBuf {
    let work = common::work_dir();
    let st = common::bin()
        .args(["clients", "install", name, "--work-dir"])
        .arg(&work)
        .status()
        .unwrap();
    assert!(st.success());
    work.join("clients").join(name)
}

/// Files that are no logs: named, exit 2 when nothing was read; read among good ones.
#[test]
fn files_that_are_no_logs_are_named() {
    let dir = common::scratch_dir("diagnose-bad");
    let empty = write(&dir, "empty.log", "");
    let binary = write(
        &dir,
        "image.png",
        [
            0x89u8, b'P', b'N', b'G', 0, 0, 0, 13, 0, 0, 1, 2, 3, 0, 0, 0,
        ]
        .repeat(64),
    );
    for (file, says) in [
        (&empty, "empty"),
        (&binary, "not a log (binary data)"),
        (&dir, "not a regular file"),
    ] {
        let (code, _, err) = diagnose(&[file], &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says) && err.contains("hint: "), "{err}");
    }
    let good = write(
        &dir,
        "ok.log",
        "ssh: connect to host 10.0.0.1 port 22: Connection refused\n",
    );
    let (code, case, _) = diagnose(&[&empty, &good], &[]);
    assert_eq!(code, 0);
    assert!(case["files"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("empty"));
    assert_eq!(failures(&case)[0]["cause"]["code"], "connection-refused");
}

/// One failure of every kind the real OpenSSH client reaches against the RHEL 9 DEFAULT policy,
/// each diagnosed from both logs, the client's alone and the server's alone: from both the code
/// must be the one the failure is; alone, the code or, where one side cannot tell, among the
/// candidates. The agreement per log kind is printed (docs/testing.md quotes it).
#[test]
fn every_failure_the_real_client_reaches_is_named_from_each_log_kind() {
    let dir = common::scratch_dir("diagnose-corpus");
    let ed = keygen(&dir, "ed", &["-t", "ed25519"]);
    let rsa = keygen(&dir, "rsa", &["-t", "rsa", "-b", "2048"]);
    let small = keygen(&dir, "small", &["-t", "rsa", "-b", "1024"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    let authorized: String = ["ed", "rsa", "small"]
        .iter()
        .map(|k| std::fs::read_to_string(dir.join(format!("{k}.pub"))).unwrap())
        .collect();
    let keys = write(&dir, "authorized.pub", authorized);
    let served = Served::start("rhel9-default", &keys, &dir);
    let cases: [(&str, &Path, &[&str], Option<&str>); 8] = [
        (
            "kex",
            &ed,
            &["KexAlgorithms=diffie-hellman-group1-sha1"],
            Some("kex-no-common"),
        ),
        (
            "hostkey",
            &ed,
            &["HostKeyAlgorithms=ssh-dss"],
            Some("hostkey-no-common"),
        ),
        (
            "cipher",
            &ed,
            &["Ciphers=3des-cbc"],
            Some("cipher-no-common"),
        ),
        (
            "mac",
            &ed,
            &["Ciphers=aes128-ctr", "MACs=hmac-md5"],
            Some("mac-no-common"),
        ),
        (
            "ssh-rsa",
            &rsa,
            &["PubkeyAcceptedAlgorithms=ssh-rsa"],
            Some("auth-signature-rejected"),
        ),
        ("small", &small, &[], Some("auth-key-too-small")),
        ("stranger", &stranger, &[], Some("auth-key-not-authorized")),
        ("login", &ed, &[], None),
    ];
    let mut agree = [(0, 0); 3];
    for (name, key, options, want) in cases {
        let before = served.log().len();
        let (_, client) = served.ssh(key, options);
        let server = served.log_after(before);
        let c = write(&dir, &format!("{name}.client.log"), &client);
        let s = write(&dir, &format!("{name}.server.log"), &server);
        for (i, files) in [vec![&c, &s], vec![&c], vec![&s]].iter().enumerate() {
            let files: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
            let (code, case, err) = diagnose(&files, &[]);
            assert_eq!(code, 0, "{err}");
            let f = failures(&case);
            let ok = match (want, f.first()) {
                (None, None) => true,
                (Some(w), Some(a)) => {
                    a["cause"]["code"] == w
                        || (i > 0 && a["cause"]["code"].is_null() && candidates(a).contains(&w))
                }
                _ => false,
            };
            assert!(ok, "{name} ({}): {case:#}", ["both", "client", "server"][i]);
            agree[i].0 += usize::from(ok);
            agree[i].1 += 1;
        }
    }
    for (i, (n, of)) in agree.iter().enumerate() {
        eprintln!(
            "diagnose agreement, {} logs: {n} of {of}",
            ["both", "client", "server"][i]
        );
    }
}

/// Debian's plink (putty-tools) at -v: a key the server does not know, and a login; the same
/// event log copied from PuTTY's Event Log window (a timestamp and a tab before each line).
#[test]
fn a_plink_event_log_is_read() {
    let dir = common::scratch_dir("diagnose-plink");
    let known = keygen(&dir, "known", &["-t", "ed25519"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    let ppk = |key: &Path| {
        let out = key.with_extension("ppk");
        let st = Command::new("puttygen")
            .arg(key)
            .args(["-O", "private", "-o"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success());
        out
    };
    let (known, stranger) = (ppk(&known), ppk(&stranger));
    let served = Served::start("rhel9-default", &dir.join("known.pub"), &dir);
    // The host key's fingerprint, as plink -batch wants it pinned.
    let scan = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ssh-keyscan -p {} -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -lf -",
            served.port()
        ))
        .output()
        .unwrap();
    let pin = String::from_utf8_lossy(&scan.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let plink = |key: &Path| {
        let before = served.log().len();
        let o = Command::new("plink")
            .args(["-batch", "-v", "-hostkey", &pin, "-i"])
            .arg(key)
            .args(["-P", served.port()])
            .arg(format!(
                "{}@127.0.0.1",
                sshmatrix_servers::sshd::current_user()
            ))
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&o.stderr).to_string(),
            served.log_after(before),
        )
    };
    let (client, server) = plink(&stranger);
    let c = write(&dir, "plink.log", &client);
    let s = write(&dir, "server.log", &server);
    let (_, case, _) = diagnose(&[&c, &s], &[]);
    let f = failures(&case);
    assert_eq!(f.len(), 1, "{case:#}");
    assert_eq!(f[0]["client"]["program"], "putty");
    assert_eq!(
        f[0]["client_matches"][0]["profile"], "putty-0.78",
        "{case:#}"
    );
    assert_eq!(f[0]["cause"]["code"], "auth-key-not-authorized", "{case:#}");
    // Alone: the candidates, with an unregistered key among them.
    let (_, alone, _) = diagnose(&[&c], &[]);
    assert!(candidates(failures(&alone)[0]).contains(&"auth-key-not-authorized"));
    // Copied from the Event Log window.
    let window: String = client
        .lines()
        .map(|l| format!("2026-12-07 02:31:00\t{l}\n"))
        .collect();
    let w = write(&dir, "window.log", window);
    let (_, copied, _) = diagnose(&[&w, &s], &[]);
    assert_eq!(
        failures(&copied)[0]["cause"]["code"],
        "auth-key-not-authorized"
    );
    let (client, _) = plink(&known);
    let ok = write(&dir, "ok.log", &client);
    let (_, case, _) = diagnose(&[&ok], &[]);
    assert!(failures(&case).is_empty(), "{case:#}");
    assert_eq!(case["attempts"][0]["cause"]["verdict"], "ok");
}

/// `census` of real sshd logs: VERBOSE (`serve --log`) counts logins, key types, accounts and
/// failures by code, and says client software needs DEBUG1; at DEBUG1 (the real sshd run with
/// `LogLevel DEBUG1`) the client software is counted and mapped to its profile; syslog copies
/// from two hosts are counted per host.
#[test]
fn a_census_counts_who_really_connects() {
    let dir = common::scratch_dir("census");
    let ed = keygen(&dir, "ed", &["-t", "ed25519"]);
    let rsa = keygen(&dir, "rsa", &["-t", "rsa", "-b", "3072"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    let authorized: String = ["ed", "rsa"]
        .iter()
        .map(|k| std::fs::read_to_string(dir.join(format!("{k}.pub"))).unwrap())
        .collect();
    let keys = write(&dir, "authorized.pub", authorized);
    let served = Served::start("rhel9-default", &keys, &dir);
    for key in [&ed, &rsa, &stranger] {
        let before = served.log().len();
        served.ssh(key, &[]);
        served.log_after(before);
    }
    let verbose = write(&dir, "verbose.log", served.log());
    let census = |files: &[&Path]| {
        let o = common::bin()
            .arg("census")
            .args(files)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let c = census(&[&verbose]);
    let all = &c["all"];
    assert_eq!(
        (all["attempts"].as_u64(), all["logins"].as_u64()),
        (Some(3), Some(2)),
        "{c:#}"
    );
    assert_eq!(all["key_types"]["ED25519"], 1);
    assert_eq!(all["key_types"]["RSA"], 1);
    assert_eq!(all["failures"]["auth-key-not-authorized"], 1, "{c:#}");
    assert_eq!(c["level"], "VERBOSE");
    assert!(c["cannot_show"][0]
        .as_str()
        .unwrap()
        .contains("LogLevel DEBUG1"));
    // Two hosts' journals.
    // Each connection under its own PID, as a journal has it.
    let journal = |host: &str| -> String {
        let mut pid = 100;
        let mut out = String::new();
        for (i, l) in served.log().lines().enumerate() {
            pid += usize::from(l.starts_with("Connection from"));
            out.push_str(&format!(
                "Dec  7 02:10:{:02} {host} sshd[{pid}]: {l}\n",
                i % 60
            ));
        }
        out
    };
    let a = write(&dir, "a.log", journal("ahv-1"));
    let b = write(&dir, "b.log", journal("cvm-1"));
    let c = census(&[&a, &b]);
    assert_eq!(c["hosts"].as_object().unwrap().len(), 2, "{c:#}");
    assert_eq!(c["hosts"]["ahv-1"]["first_seen"], "Dec  7 02:10:00");
    // DEBUG1: the real sshd, its configuration written here.
    let hk = keygen(&dir, "hk", &["-t", "ed25519"]);
    let debug = dir.join("debug.log");
    let cfg = write(&dir, "sshd_config", format!(
        "HostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\nStrictModes no\nLogLevel DEBUG1\n",
        hk.display(),
        keys.display()
    ));
    let sshd = sshmatrix_servers::sshd::find_sshd().unwrap();
    let user = sshmatrix_servers::sshd::current_user();
    let st = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-i",
        ])
        .arg(&ed)
        .arg("-o")
        .arg(format!(
            "ProxyCommand={} -i -f {} -E {}",
            sshd.display(),
            cfg.display(),
            debug.display()
        ))
        .args([&format!("{user}@127.0.0.1"), "true"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let c = census(&[&debug]);
    let clients = c["all"]["clients"].as_object().unwrap();
    let (software, t) = clients.iter().next().unwrap();
    assert!(software.starts_with("OpenSSH_9.2p1"), "{c:#}");
    assert_eq!(t["profile"], "openssh-9.2");
    assert_eq!(c["all"]["signatures"]["ssh-ed25519"], 1, "{c:#}");
    assert_eq!(c["level"], "DEBUG");
    // impact weighed by that census: the hardened config locks out OpenSSH 9.2's RSA 2048 key,
    // and the census saw OpenSSH 9.2 log in once.
    let census_json = write(&dir, "census.json", c.to_string());
    let configs = common::matrices().join("sshd_config");
    let o = common::bin()
        .arg("impact")
        .arg("--sshd-config")
        .arg(configs.join("debian-12-hardened"))
        .arg("--from")
        .arg(configs.join("debian-12-stock"))
        .args([
            "--clients",
            "real-openssh-9.2",
            "--keys",
            "rsa-2048",
            "--quiet",
            "--population",
        ])
        .arg(&census_json)
        .arg("--work-dir")
        .arg(common::work_dir())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("breaks 1 of 1 distinct clients seen, 1 of 1 logins"),
        "{out}"
    );
    assert!(
        out.contains("OpenSSH_9.2p1 Debian-2+deb12u10 (openssh-9.2): 1 logins lost"),
        "{out}"
    );
}

/// Node ssh2 1.17.0 (from npm) with `debug` logging: a key the server does not know, named from
/// both logs, the client identified by its KEXINIT; its login read as a login.
#[test]
fn a_node_ssh2_debug_log_is_read_from_registries() {
    let installed = installed("real-node-ssh2-1.17.0");
    let modules = installed.join("node_modules");
    let dir = common::scratch_dir("diagnose-node");
    let known = keygen(&dir, "known", &["-t", "ed25519"]);
    let stranger = keygen(&dir, "stranger", &["-t", "ed25519"]);
    let served = Served::start("rhel9-default", &dir.join("known.pub"), &dir);
    let script = write(
        &dir,
        "login.js",
        "const { Client } = require('ssh2');\n\
         const c = new Client();\n\
         c.on('ready', () => c.end());\n\
         c.on('error', () => {});\n\
         c.connect({ host: '127.0.0.1', port: Number(process.argv[2]), username: process.argv[4],\n\
           privateKey: require('fs').readFileSync(process.argv[3]), debug: (s) => console.error(s) });\n",
    );
    let node = |key: &Path| {
        let before = served.log().len();
        let o = Command::new("node")
            .arg(&script)
            .arg(served.port())
            .arg(key)
            .arg(sshmatrix_servers::sshd::current_user())
            .env("NODE_PATH", &modules)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&o.stderr).to_string(),
            served.log_after(before),
        )
    };
    let (client, server) = node(&stranger);
    let c = write(&dir, "node.log", &client);
    let s = write(&dir, "server.log", &server);
    let (_, case, _) = diagnose(&[&c, &s], &[]);
    let f = failures(&case);
    assert_eq!(f.len(), 1, "{case:#}");
    assert_eq!(f[0]["client"]["program"], "node-ssh2");
    assert_eq!(
        f[0]["client_matches"][0]["profile"], "node-ssh2-1.17.0",
        "{case:#}"
    );
    assert_eq!(f[0]["client_matches"][0]["distance"], 0, "{case:#}");
    assert_eq!(f[0]["cause"]["code"], "auth-key-not-authorized", "{case:#}");
    let (client, _) = node(&known);
    let ok = write(&dir, "ok.log", &client);
    let (_, case, _) = diagnose(&[&ok], &[]);
    assert!(failures(&case).is_empty(), "{case:#}");
    assert_eq!(case["attempts"][0]["cause"]["verdict"], "ok");
}

/// The real ProFTPD 1.3.8 (`serve --image bookworm`): a key it does not hold, a login, and six
/// strangers in one connection, read from its own log alone (main log and SFTPLog interleaved,
/// grouped by process): each connection its attempt, each cause in ProFTPD's words.
#[test]
fn a_proftpd_log_names_its_refusals_in_containers() {
    let dir = common::scratch_dir("diagnose-proftpd");
    let known = keygen(&dir, "known", &["-t", "ed25519"]);
    let strangers: Vec<PathBuf> = (0..6)
        .map(|i| keygen(&dir, &format!("stranger{i}"), &["-t", "ed25519"]))
        .collect();
    let authorized = dir.join("known.pub");
    let trust = [
        "--authorize",
        authorized.to_str().unwrap(),
        "--image",
        "bookworm",
    ];
    let served = Served::start_trusting("proftpd-1.3.8", &trust, &dir);
    // mod_sftp serves SFTP only: the client asks for it instead of running a command.
    let sftp = |keys: &[&Path]| {
        let mut c = Command::new("ssh");
        c.args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
        ])
        .args([
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ]);
        for k in keys {
            c.arg("-i").arg(k);
        }
        c.args(["-p", served.port(), "-s", "sshmatrix@127.0.0.1", "sftp"]);
        c.stdin(std::process::Stdio::null());
        c.output().unwrap().status.code()
    };
    assert_eq!(sftp(&[&strangers[0]]), Some(255));
    assert_eq!(sftp(&[&known]), Some(0));
    let all: Vec<&Path> = strangers.iter().map(PathBuf::as_path).collect();
    assert_eq!(sftp(&all), Some(255));
    // Each connection's process logs `SSH2 session closed.` last: wait, bounded, for the third.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while served.log().matches("SSH2 session closed").count() < 3
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = write(&dir, "proftpd.log", served.log());
    let (code, case, err) = diagnose(&[&log], &[]);
    assert_eq!(code, 0, "{err}");
    let attempts = case["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{case:#}");
    let f = failures(&case);
    assert_eq!(f.len(), 2, "{case:#}");
    assert_eq!(f[0]["cause"]["code"], "auth-key-not-authorized", "{case:#}");
    assert!(f[0]["cause"]["server_reason"]
        .as_str()
        .unwrap()
        .starts_with(
            "USER sshmatrix (Login failed): authentication via 'ssh-ed25519' public key failed"
        ));
    assert_eq!(f[1]["cause"]["code"], "too-many-auth-failures", "{case:#}");
    assert_eq!(
        f[1]["cause"]["server_reason"],
        "Maximum login attempts (6) exceeded, connection refused"
    );
}
