//! A matrix, a profile or a peer never acts as code; secrets go only where the user sends them;
//! a local user cannot poison or steal cells. Each test reproduces one finding of the security
//! review (issue 30) against the real binary, real sshd and, where the attacker is another
//! local user, a real unprivileged account.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::sshmatrix;

/// A matrix with one emulated client, one key and one local target whose `sshd` lines are
/// `sshd` (TOML strings as written), plus `extra` TOML for the target.
fn matrix(dir: &Path, name: &str, sshd: &[&str], extra: &str) -> PathBuf {
    let lines: Vec<String> = sshd.iter().map(|l| format!("'''{l}'''")).collect();
    let m = dir.join(name);
    std::fs::write(
        &m,
        format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
             [[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\nsshd = [{}]\n{extra}",
            lines.join(", ")
        ),
    )
    .unwrap();
    m
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sshd_lines_cannot_smuggle_a_command_past_the_check() {
    let dir = common::scratch_dir("sshd-lines");
    let marker = dir.join("ran");
    let command = format!("/usr/bin/touch {}", marker.display());
    let forms = [
        format!("ForceCommand={command}"),
        format!("\"ForceCommand\" {command}"),
        format!("  forcecommand {command}"),
        format!("Ciphers aes128-ctr\nForceCommand {command}"),
        format!("AuthorizedKeysCommand={command}"),
        format!("AuthorizedKeysCommand = {command}"),
    ];
    for (i, form) in forms.iter().enumerate() {
        let m = matrix(&dir, &format!("m{i}.toml"), &[form], "");
        let (code, _, err) = sshmatrix(&["check", path(&m)]);
        assert_eq!(code, 2, "{form:?} passed check: {err}");
        assert!(err.contains(&format!("{}:9:", m.display())), "{err}");
        // Running it is refused the same way before any sshd starts.
        let (code, _, err) = common::sshmatrix_work(&["run", "-q", path(&m)]);
        assert_eq!(code, 2, "{form:?} ran: {err}");
    }
    assert!(!marker.exists(), "a matrix's sshd line ran a command");

    // The matrix may ask; only the user grants, and then sees the lines before use.
    let m = matrix(
        &dir,
        "asks.toml",
        &["Banner /etc/issue.net"],
        "[run]\ntrust_sshd_lines = true\n",
    );
    let (code, _, err) = sshmatrix(&["check", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only you can grant it"), "{err}");
    let (code, _, err) = sshmatrix(&["check", "--trust-sshd-lines", path(&m)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("trusting target `t`'s sshd line: Banner /etc/issue.net"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_impact_candidate_cannot_run_a_quoted_force_command() {
    let dir = common::scratch_dir("impact-quoted");
    let marker = dir.join("ran");
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "\"ForceCommand\" /usr/bin/touch {}\nForceCommand=/usr/bin/touch {}\nCiphers aes128-ctr,aes256-gcm@openssh.com\n",
            marker.display(),
            marker.display()
        ),
    )
    .unwrap();
    let (code, _, err) = common::sshmatrix_work(&[
        "impact",
        "-q",
        "--sshd-config",
        path(&cfg),
        "--clients",
        "real-openssh-9.2",
        "--keys",
        "ed25519",
    ]);
    assert_eq!(code, 0, "{err}");
    for line in [1, 2] {
        assert!(
            err.contains(&format!(
                "line {line}: `ForceCommand` not applied: reads files or runs commands"
            )),
            "{err}"
        );
    }
    assert!(!marker.exists(), "impact ran the candidate's ForceCommand");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn impact_never_shows_the_lines_of_a_file_that_is_not_an_sshd_config() {
    let dir = common::scratch_dir("impact-shadow");
    let f = dir.join("shadow");
    let secret = "root:$y$j9T$Zq0uW3secretsalt$hashhashhashhash:19700:0:99999:7:::";
    std::fs::write(&f, format!("{secret}\ndaemon:*:19700:0:99999:7:::\n")).unwrap();
    let (code, out, err) =
        common::sshmatrix_work(&["impact", "--sshd-config", path(&f), "--keys", "ed25519"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 1, 2: not an sshd_config directive"),
        "{err}"
    );
    assert!(
        !err.contains("secretsalt") && !out.contains("secretsalt"),
        "{err}"
    );
    // A device is no sshd_config either, and is not read until memory runs out.
    let (code, _, err) = common::sshmatrix_work(&["impact", "--sshd-config", "/dev/zero"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A remote target's TOML with `extra` lines.
fn remote_matrix(dir: &Path, name: &str, port: u16, extra: &str) -> PathBuf {
    let m = dir.join(name);
    std::fs::write(
        &m,
        format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
             [[targets]]\nid = \"lab\"\nkind = \"remote\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\npolicy = \"upstream-9.2\"\n\
             users = [\"root\"]\nscenario = {{ method = \"password\" }}\n{extra}"
        ),
    )
    .unwrap();
    m
}

/// A listener on 127.0.0.1 standing in for a hostile server: counts the connections it got.
struct Listener {
    port: u16,
    socket: std::net::TcpListener,
}

impl Listener {
    fn new() -> Self {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Listener {
            port: socket.local_addr().unwrap().port(),
            socket,
        }
    }

    /// What every connection this user made so far sent (nothing blocks: the run has ended;
    /// another test's racing attacker is not counted).
    fn received(&self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        let local = self.socket.local_addr().unwrap();
        while let Ok((mut s, peer)) = self.socket.accept() {
            if sshmatrix_servers::peer::peer_uid(local, peer) != Some(sshmatrix_core::fsx::euid()) {
                continue;
            }
            s.set_nonblocking(true).unwrap();
            let mut b = Vec::new();
            let _ = s.read_to_end(&mut b);
            all.push(b);
        }
        all
    }
}

#[test]
fn a_matrix_cannot_send_a_file_or_variable_to_a_host_it_names() {
    let dir = common::scratch_dir("credentials");
    let secret = dir.join("secret");
    std::fs::write(&secret, "s3cr3t-0f-the-user\n").unwrap();
    let host = Listener::new();
    let asks = [
        format!("password_file = \"{}\"\n", secret.display()),
        "password_env = \"SSHMATRIX_DEPLOY_PASSPHRASE\"\n".to_string(),
    ];
    for (i, ask) in asks.iter().enumerate() {
        let m = remote_matrix(&dir, &format!("m{i}.toml"), host.port, ask);
        let (code, _, err) = common::sshmatrix_work(&["run", "-q", path(&m)]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("asks for a password") && err.contains("pass --password lab="),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    assert!(
        host.received().is_empty(),
        "sshmatrix connected to the host"
    );

    // A deploy key outside the matrix's folder is the user's to grant too.
    let m = remote_matrix(
        &dir,
        "deploy.toml",
        host.port,
        "deploy = { user = \"root\", key = \"/root/.ssh/id_ed25519\" }\n",
    );
    let (code, _, err) = sshmatrix(&["check", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("pass --deploy-key lab=/root/.ssh/id_ed25519"),
        "{err}"
    );
    // A grant for a target the matrix does not have is a mistake, said at once.
    let m = remote_matrix(&dir, "plain.toml", host.port, "");
    let (code, _, err) = sshmatrix(&["check", "--password", "nope=env:X", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("names target `nope`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_values_never_reach_a_shell() {
    let dir = common::scratch_dir("deploy-file");
    std::fs::write(dir.join("admin"), "not a key").unwrap();
    let bad = [
        "deploy = { user = \"root\", key = \"admin\", file = \"%h/.ssh/ak$(id>/tmp/x)\" }\n",
        "deploy = { user = \"root\", key = \"admin\", file = \"relative/ak\" }\n",
        "deploy = { user = \"root\", key = \"admin\", file = \"%h/../../etc/ak\" }\n",
        "deploy = { user = \"root;id\", key = \"admin\" }\n",
    ];
    for (i, d) in bad.iter().enumerate() {
        let m = remote_matrix(&dir, &format!("m{i}.toml"), 22, d);
        let (code, _, err) = sshmatrix(&["check", path(&m)]);
        assert_eq!(code, 2, "{d}: {err}");
        assert!(err.contains("deploy"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_command_refuses_a_work_directory_others_can_reach() {
    let dir = common::scratch_dir("work-dirs");
    let m = matrix(&dir, "m.toml", &[], "");
    let open = "/tmp/sshmatrix-shared-work";
    let commands: Vec<Vec<&str>> = vec![
        vec!["authorized-keys", path(&m)],
        vec!["predict", path(&m)],
        vec!["run", "-q", path(&m)],
        vec!["clients", "list"],
        vec!["serve", "--policy", "upstream-9.2"],
        vec!["record", "--out", "/dev/null"],
        vec![
            "scan",
            "127.0.0.1:1",
            "--verify",
            "root",
            "--print-keys",
            "--keys",
            "ed25519",
        ],
    ];
    for c in &commands {
        let mut args = c.clone();
        args.extend(["--work-dir", open]);
        let (code, _, err) = sshmatrix(&args);
        assert_eq!(code, 3, "{c:?}: {err}");
        assert!(err.contains("group/world-writable"), "{c:?}: {err}");
    }
    // `/` and a directory holding other files are never taken over (nor chmod'ed).
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), "mine").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
    let root_mode = std::fs::metadata("/").unwrap().permissions().mode();
    for (work, why) in [("/", "is the root directory"), (path(&shared), "notes.txt")] {
        let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", work]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(
        std::fs::metadata("/").unwrap().permissions().mode(),
        root_mode
    );
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
        0o750
    );
    // A new work directory is created private and marked.
    let fresh = dir.join("fresh");
    let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&fresh)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(fresh.join(".sshmatrix-work-dir").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_cache_entry_planted_by_another_user_is_refused() {
    let Some(attacker) = common::attacker() else {
        return;
    };
    let dir = common::scratch_dir("planted");
    let m = matrix(&dir, "m.toml", &[], "");
    let work = dir.join("work");
    let (code, _, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&work)]);
    assert_eq!(code, 0, "{err}");
    // The attacker's own key in place of the cached one (as if it had planted the entry in a
    // shared work directory).
    let entry = work.join("keys").join("ed25519_ssh-keygen_nopp");
    let theirs = dir.join("theirs");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-C", "attacker", "-f"])
        .arg(&theirs)
        .status()
        .unwrap()
        .success());
    std::fs::copy(theirs.with_extension("pub"), entry.join("id.pub")).unwrap();
    let chown = |p: &Path| {
        std::os::unix::fs::chown(p, Some(attacker.0), Some(attacker.1)).unwrap();
    };
    chown(&entry);
    chown(&entry.join("id.pub"));
    let (code, out, err) = sshmatrix(&["authorized-keys", path(&m), "--work-dir", path(&work)]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("key cache entry refused"), "{err}");
    assert!(
        !out.contains("attacker"),
        "printed the attacker's key: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_percent_in_the_work_directory_path_is_no_refusal() {
    // Jenkins multibranch workspaces hold `%2F`; sshd expands `%` in AuthorizedKeysFile.
    let dir = common::scratch_dir("percent");
    let m = matrix(&dir, "m.toml", &[], "");
    let work = dir.join("job%2Fmain work");
    let json = dir.join("r.json");
    let (code, _, err) = sshmatrix(&[
        "run",
        "-q",
        "--format",
        "json",
        "-o",
        path(&json),
        path(&m),
        "--work-dir",
        path(&work),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: sshmatrix_reports::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r.cells.len(), 1);
    assert_eq!(
        r.cells[0].verdict,
        sshmatrix_reports::Verdict::Ok,
        "{}",
        r.cells[0].reason
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A local user racing for every port that starts listening on 127.0.0.1: it connects to each
/// new one and holds the connection, until its standard input closes.
const RACER: &str = r#"
use strict; use IO::Socket::INET; use IO::Select;
my (%seen, @held); my $in = IO::Select->new(\*STDIN); my $end = time + 300;
while (time < $end) {
    last if $in->can_read(0) && !sysread(STDIN, my $b, 1);
    open(my $t, '<', '/proc/net/tcp') or next; <$t>;
    while (<$t>) {
        my @f = split;
        next unless $f[3] eq '0A' && $f[1] =~ /^0100007F:([0-9A-F]+)$/;
        my $port = hex $1;
        next if $seen{$port}++;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
        push @held, $s if $s;
    }
    close $t;
    select(undef, undef, undef, 0.001);
}
print scalar(keys %seen), "\n";
"#;

#[test]
fn a_local_user_racing_for_one_shot_ports_changes_no_verdict_in_containers() {
    let Some(attacker) = common::attacker() else {
        return;
    };
    let dir = common::scratch_dir("racer");
    // Emulated cells through a jump host (the target's one-shot port is open while the client
    // logs in to the jump host) and against an AsyncSSH daemon; a library client on a one-shot
    // port of its own.
    let jumps = common::matrix_file(&dir, "jumps.toml", "[axes]\nkeys = [\"ed25519\", \"ecdsa-256\"]\nclients = [\"teraterm-5.3\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"bastion\"\npolicy = \"upstream-9.2\"\nusers = [\"jump\"]\n\
         [[targets]]\nid = \"behind\"\npolicy = \"upstream-9.2\"\nvia = \"bastion\"\nusers = [\"a\", \"b\", \"c\", \"d\"]\n\
         [[targets]]\nid = \"library\"\npolicy = \"asyncssh-2.24.1\"\nusers = [\"a\", \"b\"]\n\
         [[targets]]\nid = \"appliance\"\nkind = \"container\"\nimage = \"bookworm\"\npolicy = \"dropbear-2022.83\"\nusers = [\"a\", \"b\"]\n");
    let ports = common::matrix_file(&dir, "ports.toml", "[axes]\nkeys = [\"ed25519\", \"ecdsa-256\"]\nclients = [\"real-paramiko-3.5.1\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"local\"\npolicy = \"upstream-9.2\"\nusers = [\"a\", \"b\", \"c\", \"d\"]\n");
    let mut racer = common::as_attacker("/usr/bin/perl", attacker)
        .args(["-e", RACER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut cells = Vec::new();
    for m in [&jumps, &ports] {
        let json = dir.join("r.json");
        let (code, _, err) =
            common::sshmatrix_work(&["run", "-q", "--format", "json", "-o", path(&json), path(m)]);
        assert_eq!(code, 0, "{err}");
        let r: sshmatrix_reports::Report =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        cells.extend(r.cells);
    }
    drop(racer.stdin.take());
    let mut seen = String::new();
    let mut out = racer.stdout.take().unwrap();
    out.read_to_string(&mut seen).unwrap();
    racer.wait().unwrap();
    let ports_seen: usize = seen.trim().parse().unwrap();
    assert!(ports_seen > 0, "the racer saw no port");
    // Every cell has its real verdict: the racer took no server and stood in for none. A
    // Dropbear daemon serves whoever connects: a connection of the racer's there makes the
    // cell no verdict at all, never a refusal.
    let foreign = |c: &&sshmatrix_reports::CellResult| {
        c.target == "appliance" && c.code == "foreign-connection"
    };
    let off: Vec<_> = cells
        .iter()
        .filter(|c| c.verdict != sshmatrix_reports::Verdict::Ok && !foreign(c))
        .map(|c| (&c.client, &c.target, &c.code, &c.reason))
        .collect();
    assert!(off.is_empty(), "{off:#?}");
    let turned: usize = cells
        .iter()
        .flat_map(|c| &c.notes)
        .filter(|n| n.contains("turned away") && n.contains("another local user"))
        .count();
    assert!(turned > 0, "no connection of the racer was turned away");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server on 127.0.0.1 that answers every connection with `greeting` (written in a loop
/// until the peer goes when `endless`), for hostile-peer tests.
fn hostile_server(greeting: Vec<u8>, endless: bool) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(8) {
            let Ok(mut c) = conn else { continue };
            let greeting = greeting.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = c.write_all(&greeting);
                let chunk = vec![b'A'; 1 << 16];
                while endless && c.write_all(&chunk).is_ok() {}
            });
        }
    });
    port
}

#[test]
fn a_peer_cannot_make_scan_read_without_end() {
    // An identification line that never ends: RFC 4253 caps it at 255 bytes.
    let port = hostile_server(b"SSH-2.0-".to_vec(), true);
    let (code, _, err) = sshmatrix(&["scan", &format!("127.0.0.1:{port}"), "--timeout", "30"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("longer than 255 bytes"), "{err}");
    // Lines before the identification are bounded too.
    let port = hostile_server(b"hello\r\n".to_vec(), true);
    let (code, _, err) = sshmatrix(&["scan", &format!("127.0.0.1:{port}"), "--timeout", "30"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("more than 1024 bytes"), "{err}");
}

#[test]
fn control_characters_from_a_server_never_reach_the_terminal_raw() {
    let dir = common::scratch_dir("evil-banner");
    let hk = dir.join("hk");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(&hk)
        .status()
        .unwrap()
        .success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nPidFile none\nUsePAM no\nVersionAddendum Evil\x1b]0;pwned\x07\x1b[2J\n",
            hk.display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut sshd = std::process::Command::new(sshmatrix_servers::find_sshd().unwrap())
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Listening once it says so.
    let mut line = String::new();
    let mut err = std::io::BufReader::new(sshd.stderr.take().unwrap());
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("Server listening"), "{line}");
    let (code, out, err) = sshmatrix(&[
        "scan",
        &format!("127.0.0.1:{port}"),
        "--keys",
        "ed25519",
        "--clients",
        "teraterm-5.3",
    ]);
    let _ = sshd.kill();
    let _ = sshd.wait();
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'), "{out:?}");
    assert!(out.contains("Evil\\u{1b}]0;pwned"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plink_never_types_a_passphrase_at_a_password_prompt_in_containers() {
    let dir = common::scratch_dir("plink-prompt");
    let m = common::matrix_file(&dir, "m.toml", "[axes]\nkeys = [\"ed25519\"]\npassphrase = [\"yes\"]\nclients = [\"real-putty-0.78\", \"real-putty-0.83\"]\n\
         key_tools = [\"ssh-keygen\"]\n[[targets]]\nid = \"password-only\"\npolicy = \"upstream-9.2\"\nusers = [\"u\"]\n\
         sshd = [\"PubkeyAuthentication no\", \"PasswordAuthentication yes\"]\n");
    let json = dir.join("r.json");
    let (code, _, err) =
        common::sshmatrix_work(&["run", "-q", "--format", "json", "-o", path(&json), path(&m)]);
    assert_eq!(code, 0, "{err}");
    let r: sshmatrix_reports::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r.cells.len(), 2);
    for c in &r.cells {
        // Typed ahead, the passphrase was sent as the password ("Failed password").
        assert!(
            !c.server_evidence
                .iter()
                .any(|l| l.contains("Failed password")),
            "{}: {:?}",
            c.client,
            c.server_evidence
        );
        assert_eq!(c.code, "auth-method-disabled", "{}: {}", c.client, c.reason);
        assert!(!c.disagrees_with_prediction(), "{}", c.client);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_and_streams_are_never_written_through_another_users_link_or_file() {
    let Some(attacker) = common::attacker() else {
        return;
    };
    let scratch = common::scratch_dir("outputs");
    let m = matrix(&scratch, "m.toml", &[], "");
    // A directory anyone may write to (but not sticky: the kernel's own protection for /tmp
    // does not apply), where the attacker has left a link and a file of its own.
    let dir =
        std::path::PathBuf::from(format!("/var/tmp/sshmatrix-outputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = shared.join("report.json");
    let theirs = shared.join("stream.jsonl");
    let made = common::as_attacker("/bin/sh", attacker)
        .arg("-c")
        .arg(format!(
            "ln -s {} {} && touch {}",
            victim.display(),
            link.display(),
            theirs.display()
        ))
        .status()
        .unwrap();
    assert!(made.success());
    let (code, _, err) = common::sshmatrix_work(&["run", "-q", "-o", path(&link), path(&m)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    let (code, _, err) =
        common::sshmatrix_work(&["run", "-q", "--stream", path(&theirs), path(&m)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("another user"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn unbounded_inputs_are_refused_not_read() {
    let dir = common::scratch_dir("bounded");
    let m = matrix(&dir, "m.toml", &[], "");
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", "/dev/zero"],
        vec!["merge", "/dev/zero"],
        vec!["diff", "/dev/zero", "/dev/zero"],
        vec!["scan", "--from-ssh-audit", "/dev/zero"],
    ];
    let (code, _, err) = common::sshmatrix_work(&["run", "-q", "--resume", "/dev/zero", path(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    for c in cases {
        let (code, _, err) = sshmatrix(&c);
        assert_eq!(code, 2, "{c:?}: {err}");
        assert!(err.contains("not a regular file"), "{c:?}: {err}");
    }
    // Duplicate checks are linear: 200,000 users with one repeated are refused at the repeat.
    let users: Vec<String> = (0..200_000).map(|i| format!("\"u{i}\"")).collect();
    let big = common::matrix_file(&dir, "big.toml", &format!(
            "[axes]\nkeys = [\"ed25519\"]\nclients = [\"putty-0.83\"]\nkey_tools = [\"ssh-keygen\"]\n\
             [[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [{}, \"u7\"]\n",
            users.join(",")
        ));
    let (code, _, err) = sshmatrix(&["check", path(&big)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("user `u7` is listed twice"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_profile_cannot_hand_pip_an_option_or_a_shell_word() {
    let dir = common::scratch_dir("profiles");
    for (i, packages) in [
        "[\"-r\", \"/etc/shadow\"]",
        "[\"paramiko==3.5.1; id\"]",
        "[\"paramiko\"]",
    ]
    .iter()
    .enumerate()
    {
        let pdir = dir.join(format!("p{i}"));
        std::fs::create_dir(&pdir).unwrap();
        std::fs::write(
            pdir.join("evil.toml"),
            format!(
                "id = \"evil-paramiko\"\nbase = \"real-paramiko-3.5.1\"\n[install]\nruntime = \"python\"\npackages = {packages}\n"
            ),
        )
        .unwrap();
        let (code, _, err) = sshmatrix(&["profiles", "--profiles", path(&pdir)]);
        assert_eq!(code, 2, "{packages}: {err}");
        assert!(err.contains("is not an exact pin"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_leave_the_environment_and_no_core_file_holds_them() {
    let dir = common::scratch_dir("environment");
    let m = common::matrix_file(&dir, "m.toml", "[axes]\nkeys = [\"ed25519\", \"ecdsa-256\", \"rsa-2048\"]\npassphrase = [\"yes\", \"no\"]\n\
         clients = [\"real-openssh-9.2\", \"real-putty-0.78\"]\nkey_tools = [\"ssh-keygen\"]\n\
         [[targets]]\nid = \"t\"\npolicy = \"upstream-9.2\"\nusers = [\"a\", \"b\"]\n");
    let secret = "deploy-passphrase-5e1f0c";
    let mut child = common::bin()
        .args(["run", "-q", "-j", "2", "-o", "/dev/null"])
        .arg(&m)
        .arg("--work-dir")
        .arg(common::work_dir())
        .env("SSHMATRIX_DEPLOY_PASSPHRASE", secret)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = child.id();
    // Once sshmatrix runs (its first child started), its own block is wiped.
    let own_environment = loop {
        if !descendants(me).is_empty() {
            break std::fs::read(format!("/proc/{me}/environ")).unwrap_or_default();
        }
        std::thread::yield_now();
    };
    // Every process sshmatrix starts while it runs, looked at as it runs.
    let mut looked = std::collections::HashSet::new();
    let mut leaked = Vec::new();
    let mut core_limit = None;
    let exe = std::fs::canonicalize(common::exe()).unwrap();
    while child.try_wait().unwrap().is_none() {
        for pid in descendants(me) {
            // A child between fork and exec is still a copy of sshmatrix: looked at once it
            // runs its own program.
            if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&exe) {
                continue;
            }
            if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
                looked.insert(pid);
                if String::from_utf8_lossy(&env).contains(secret) {
                    leaked.push(pid);
                }
            }
        }
        if core_limit.is_none() {
            core_limit = std::fs::read_to_string(format!("/proc/{me}/limits"))
                .ok()
                .and_then(|l| {
                    l.lines()
                        .find(|l| l.starts_with("Max core file size"))
                        .map(str::to_string)
                });
        }
        std::thread::yield_now();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{err}");
    assert!(leaked.is_empty(), "children holding the secret: {leaked:?}");
    // Not even sshmatrix's own environment block holds it.
    assert!(!String::from_utf8_lossy(&own_environment).contains(secret));
    assert!(
        looked.len() >= 10,
        "looked at {} processes only",
        looked.len()
    );
    let limit = core_limit.unwrap();
    assert!(limit.split_whitespace().nth(4) == Some("0"), "{limit}");
    // Private directories all the way.
    for sub in ["runs", "keys", "hostkeys", "leases"] {
        let mode = std::fs::metadata(common::work_dir().join(sub)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o700, "{sub}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every process below `pid` (children of children too).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}
