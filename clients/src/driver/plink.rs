//! PuTTY `plink`: keys as PPK copies (v3 where the release reads it, else v2), the passphrase or
//! password typed at its prompt on a pseudo-terminal (`script`), host keys pinned by MD5
//! fingerprint (the form every release since 0.58 accepts), agents through `$SSH_AUTH_SOCK`,
//! jump hosts as an inner `plink -nc` proxy or `-A` with the jump host's own ssh.

use std::path::PathBuf;

use super::{second_hop_command, sh_quote, DriverCell, Invocation, Route};
use crate::{Container, KeyFactory, KeyFile, Profile};

pub(super) fn prepare_key(
    factory: &KeyFactory,
    profile: &Profile,
    key: &KeyFile,
) -> Result<PathBuf, String> {
    let version = if profile.reads.contains(&Container::PpkV3) {
        3
    } else {
        2
    };
    factory
        .ppk_copy(key, version)
        .map_err(|e| format!("cannot convert the key for plink: {e}"))
}

fn pins(fingerprints: &[String]) -> String {
    fingerprints
        .iter()
        .map(|fp| format!(" -hostkey {}", sh_quote(fp)))
        .collect()
}

/// The shell line `script` runs.
fn line(c: &DriverCell) -> String {
    // An agent cell lets plink use $SSH_AUTH_SOCK; a password cell offers no key.
    let auth = match (c.agent, c.password_file) {
        (Some(_), _) => String::new(),
        (_, Some(_)) if !c.password_after_key => " -noagent".to_string(),
        _ => format!(" -noagent -i {}", sh_quote(&c.key.display().to_string())),
    };
    let auth = match c.certificate {
        Some(cert) => format!("{auth} -cert {}", sh_quote(&cert.display().to_string())),
        None => auth,
    };
    let batch = if c.typed { "" } else { " -batch" };
    let base = format!("plink -ssh{auth}{batch}");
    let login = sh_quote(c.login);
    match &c.route {
        Route::Jump { port, jump } if jump.forward => format!(
            "exec {base} -A{} -P {} -l {} 127.0.0.1 {}",
            pins(&jump.pins),
            jump.port,
            sh_quote(&jump.login),
            sh_quote(&second_hop_command(*port, c.login))
        ),
        Route::Jump { port, jump } => {
            // ProxyJump: an inner plink to the jump host, -nc to the target's port.
            let inner = format!(
                "{base}{} -P {} -l {} -nc 127.0.0.1:{port} 127.0.0.1",
                pins(&jump.pins),
                jump.port,
                sh_quote(&jump.login)
            );
            // PuTTY never proxies connections to localhost: name the target otherwise (the
            // name only reaches the proxy command, which ignores it).
            format!(
                "exec {base}{} -proxycmd {} -l {login} {} </dev/null",
                pins(&c.pins),
                sh_quote(&inner),
                c.session.words("sshmatrix-target")
            )
        }
        Route::Proxy(px) => format!(
            "exec {base}{} -proxycmd {} -l {login} {} </dev/null",
            pins(&c.pins),
            sh_quote(px),
            c.session.words(c.route.host())
        ),
        Route::Port(p) => format!(
            "exec {base}{} -P {p} -l {login} {} </dev/null",
            pins(&c.pins),
            c.session.words(c.route.host())
        ),
    }
}

pub(super) fn invocation(c: &DriverCell) -> Invocation {
    let mut env = Vec::new();
    if let Some(sock) = c.agent {
        env.push(("SSH_AUTH_SOCK".to_string(), sock.display().to_string()));
    }
    // Through a jump host (ProxyJump) the inner plink asks first, then the outer one.
    let times = match &c.route {
        Route::Jump { jump, .. } if !jump.forward => 2,
        _ => 1,
    };
    // A password cell's password at plink's `user@host's password:`, else the key's
    // passphrase at `Passphrase for key "…":`.
    let prompt = match c.password_file {
        Some(_) => "password:",
        None => "Passphrase for key",
    };
    Invocation {
        argv: ["script", "-qec", &line(c), "/dev/null"]
            .map(String::from)
            .to_vec(),
        env,
        stdin_piped: true,
        typed: c.typed.then_some(super::Typed { prompt, times }),
    }
}
