//! OpenSSH `ssh`: keys as openssh-key-v1 copies, passphrases and passwords through SSH_ASKPASS
//! (a file path in the environment, never the secret), agents through IdentityAgent with the
//! public key selecting the agent's key, jump hosts as a spelled-out ProxyJump (the same key on
//! both hops) or `-A` with the jump host's own ssh making the last hop.

use super::{second_hop_command, sh_quote, DriverCell, Invocation, Route};

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The options both hops share: no config, the cell's credential only, and no host key check —
/// unless the target presents host certificates, when the known_hosts file trusting its CA is
/// checked strictly.
fn base_options(c: &DriverCell) -> Vec<String> {
    let mut base = strings(&["-F", "none", "-T", "-o", "IdentitiesOnly=yes"]);
    let (strict, known) = match c.known_hosts {
        Some(file) => ("yes", file.display().to_string()),
        None => ("no", "/dev/null".to_string()),
    };
    base.extend([
        "-o".into(),
        format!("StrictHostKeyChecking={strict}"),
        "-o".into(),
        format!("UserKnownHostsFile={known}"),
    ]);
    base.extend(strings(&[
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=VERBOSE",
    ]));
    if c.password_file.is_some() {
        base.extend(password_options(c));
        return base;
    }
    base.extend(strings(&[
        "-o",
        "KbdInteractiveAuthentication=no",
        "-o",
        "ChallengeResponseAuthentication=no",
    ]));
    let agent = c.agent.map_or("none".into(), |p| p.display().to_string());
    let identity = match c.agent {
        Some(_) => c.public_key,
        None => c.key,
    };
    base.extend([
        "-o".into(),
        "PasswordAuthentication=no".into(),
        "-o".into(),
        format!("IdentityAgent={agent}"),
        "-i".into(),
        identity.display().to_string(),
    ]);
    if let Some(cert) = c.certificate {
        base.extend(["-o".into(), format!("CertificateFile={}", cert.display())]);
    }
    base
}

/// A password cell's options: the password method or keyboard-interactive (every prompt
/// answered through SSH_ASKPASS), after the key file for two-step cells, one attempt.
fn password_options(c: &DriverCell) -> Vec<String> {
    let method = match c.keyboard_interactive {
        true => "keyboard-interactive",
        false => "password",
    };
    let mut o = strings(&[
        "-o",
        "IdentityAgent=none",
        "-o",
        "NumberOfPasswordPrompts=1",
    ]);
    o.extend([
        "-o".into(),
        format!("PasswordAuthentication={}", yes(!c.keyboard_interactive)),
        "-o".into(),
        format!(
            "KbdInteractiveAuthentication={}",
            yes(c.keyboard_interactive)
        ),
        // Before 8.7 ChallengeResponseAuthentication (default yes) turns keyboard-interactive
        // back on (sshconnect2.c); from 8.7 it is an alias of the same option.
        "-o".into(),
        format!(
            "ChallengeResponseAuthentication={}",
            yes(c.keyboard_interactive)
        ),
    ]);
    if c.password_after_key {
        o.extend([
            "-o".into(),
            format!("PreferredAuthentications=publickey,{method}"),
            "-i".into(),
            c.key.display().to_string(),
        ]);
    } else {
        o.extend([
            "-o".into(),
            "PubkeyAuthentication=no".into(),
            "-o".into(),
            format!("PreferredAuthentications={method}"),
        ]);
    }
    o
}

fn yes(on: bool) -> &'static str {
    match on {
        true => "yes",
        false => "no",
    }
}

/// The destination arguments for the route.
fn destination(c: &DriverCell, base: &[String]) -> Vec<String> {
    match &c.route {
        Route::Jump { port, jump } if jump.forward => vec![
            "-A".into(),
            "-p".into(),
            jump.port.to_string(),
            format!("{}@127.0.0.1", jump.login),
            second_hop_command(*port, c.login),
        ],
        Route::Jump { port, jump } => {
            // ProxyJump, spelled out so the hop to the jump host uses the same key.
            let mut inner = vec!["ssh".to_string()];
            inner.extend(base.iter().map(|w| sh_quote(w)));
            inner.extend([
                "-p".into(),
                jump.port.to_string(),
                "-W".into(),
                "%h:%p".into(),
                format!("{}@127.0.0.1", sh_quote(&jump.login)),
            ]);
            let mut v = vec![
                "-o".into(),
                format!("ProxyCommand={}", inner.join(" ")),
                "-p".into(),
                port.to_string(),
            ];
            v.extend(c.session.args(format!("{}@127.0.0.1", c.login)));
            v
        }
        Route::Proxy(px) => {
            let mut v = vec!["-o".into(), format!("ProxyCommand={px}")];
            v.extend(c.session.args(format!("{}@{}", c.login, c.route.host())));
            v
        }
        Route::Port(p) => {
            let mut v = vec!["-p".into(), p.to_string()];
            v.extend(c.session.args(format!("{}@{}", c.login, c.route.host())));
            v
        }
    }
}

pub(super) fn invocation(c: &DriverCell) -> Invocation {
    let base = base_options(c);
    let mut argv = vec!["ssh".to_string()];
    argv.extend(base.iter().cloned());
    argv.extend(destination(c, &base));
    let mut env = vec![
        ("SSH_ASKPASS".to_string(), c.askpass.display().to_string()),
        ("SSH_ASKPASS_REQUIRE".to_string(), "force".to_string()),
        ("DISPLAY".to_string(), ":0".to_string()),
    ];
    if let Some(sock) = c.agent {
        // -A forwards $SSH_AUTH_SOCK.
        env.push(("SSH_AUTH_SOCK".into(), sock.display().to_string()));
    }
    if let Some(pw) = c.password_file.or(c.passphrase_file) {
        env.push(("SSHMATRIX_PASSFILE".into(), pw.display().to_string()));
    }
    Invocation {
        argv,
        env,
        stdin_piped: false,
        typed: None,
    }
}
